// Rotary positions in the page: a query and a key sent once, each rotated to the position its slider chooses, and their
// dot product at (m, n) and with both moved by a shift. The maths is explainer.positions.rope's, redone here in float64;
// the kit's tests hold the two together.

/** explainer.positions.rope: each pair of coordinates (2i, 2i+1) of x rotated by position · base^(−2i/d). */
function rotated(x, position, base) {
  const d = x.length, out = new Float64Array(d);
  for (let i = 0; i < d; i += 2) {
    const angle = position * Math.pow(base, -i / d), cos = Math.cos(angle), sin = Math.sin(angle);
    out[i] = x[i] * cos - x[i + 1] * sin;
    out[i + 1] = x[i] * sin + x[i + 1] * cos;
  }
  return out;
}

/** explainer.positions.rope_score: q rotated to its position, k to its, then q · k. */
function ropeScore(q, k, queryPosition, keyPosition, base) {
  const a = rotated(q, queryPosition, base), b = rotated(k, keyPosition, base);
  let score = 0;
  for (let i = 0; i < a.length; i++) score += a[i] * b[i];
  return score;
}

/** Two positions and a shift, chosen in the page: the score at (m, n) and at (m + s, n + s), and their offset. */
function ropeView(model, root) {
  const bound = binding(model, root);
  const rows = [controlRow(root), controlRow(root), controlRow(root)], readout = html("div", "kit-caption", root);
  let controls = {}, vectors = null;

  function load() {
    for (const row of rows) row.textContent = "";
    const q = decoded(model.get("q")), k = decoded(model.get("k"));
    vectors = q && k ? {q: Float64Array.from(q.values), k: Float64Array.from(k.values)} : null;
    const [positions, shifts] = [model.get("positions"), model.get("shifts")];
    controls = {
      query_position: slider(rows[0], {label: "query position", min: 0, max: positions, value: model.get("query_position")},
                             value => bound.choose("query_position", value)),
      key_position: slider(rows[1], {label: "key position", min: 0, max: positions, value: model.get("key_position")},
                           value => bound.choose("key_position", value)),
      shift: slider(rows[2], {label: "shift both by", min: 0, max: shifts, value: model.get("shift")},
                    value => bound.choose("shift", value)),
    };
    draw();
  }

  function draw() {
    for (const name in controls) controls[name].set(model.get(name));
    if (!vectors) return;
    const [m, n, s, base] = ["query_position", "key_position", "shift", "base"].map(name => model.get(name));
    const before = ropeScore(vectors.q, vectors.k, m, n, base), after = ropeScore(vectors.q, vectors.k, m + s, n + s, base);
    readout.innerHTML = `score at (${m}, ${n}) = <b>${fixed(before, 6)}</b>; both shifted by ${s}: `
      + `<b>${fixed(after, 6)}</b> (offset ${m - n} in both cases)`;
  }

  bound.watch(["q", "k", "positions", "shifts"], load);
  bound.watch(["query_position", "key_position", "shift", "base"], draw);
  load();
  return () => bound.close();
}
