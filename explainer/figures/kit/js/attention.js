// Attention views: every head of one prompt sent once; the layer, head, query, temperature, scaling and mask are
// chosen in the page, which redoes the cheap steps (scale, mask, softmax, the facts below the controls) itself. The
// maths is explainer.attention's (masked_softmax, MASK_VARIANTS), redone here; the kit's tests hold the two together.

/** [n · n] flags, 1 where key > query: the cells a causal mask hides. */
function causalFuture(n) {
  const future = new Uint8Array(n * n);
  for (let q = 0; q < n; q++) for (let k = q + 1; k < n; k++) future[q * n + k] = 1;
  return future;
}

/** explainer.attention.masked_softmax, row by row, into `out`: softmax(scores / temperature) along each query's row,
 * with the future masked as `variant` says ("minus_inf", "zero_after", "renormalise" or "none"). */
function maskedSoftmax(scores, n, variant, temperature, out) {
  for (let q = 0; q < n; q++) {
    const row = q * n, seen = variant === "minus_inf" ? q : n - 1;  // the last key the softmax sees
    let most = -Infinity, total = 0;
    for (let k = 0; k <= seen; k++) most = Math.max(most, scores[row + k]);
    for (let k = 0; k < n; k++) {
      out[row + k] = k <= seen ? Math.exp((scores[row + k] - most) / temperature) : 0;
      total += out[row + k];
    }
    let kept = 0;
    for (let k = 0; k < n; k++) {
      out[row + k] = variant !== "none" && k > q ? 0 : out[row + k] / total;
      kept += out[row + k];
    }
    if (variant === "renormalise") for (let k = 0; k <= q; k++) out[row + k] /= kept;
  }
  return out;
}

function largestAt(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

function temperatureSlider(parent, model, bound) {
  const [min, max, step] = model.get("temperature_range");
  return slider(parent, {label: "temperature", min, max, step, value: model.get("temperature"), digits: 2},
                value => bound.choose("temperature", value));
}

function intSlider(parent, model, bound, name, count) {
  return slider(parent, {label: name, min: 0, max: count - 1, value: model.get(name)}, value => bound.choose(name, value));
}

/** Every head's pattern as a dot grid: layer, head, temperature (re-applied to the scores) and the talk's layout
 * (queries as columns) chosen in the page; under the controls, the head's caption sent with the numbers. */
function attentionView(model, root) {
  const bound = binding(model, root), hover = hoverBox(root);
  const row = controlRow(root), caption = html("div", "kit-caption", root), body = html("div", "kit-stack", root);
  let data = null, grid = null, controls = {};

  function load() {
    row.textContent = body.textContent = caption.textContent = "";
    const patterns = decoded(model.get("patterns"));
    data = null;
    if (!patterns || !patterns.values.length) return;
    const [layers, heads, n] = patterns.shape;
    const labels = model.get("tokens").map((token, i) => `${i}:${token}`);
    data = {patterns, scores: decoded(model.get("scores")), n, heads, future: causalFuture(n), work: new Float64Array(n * n)};
    controls = {layer: intSlider(row, model, bound, "layer", layers), head: intSlider(row, model, bound, "head", heads)};
    if (data.scores) controls.temperature = temperatureSlider(row, model, bound);
    controls.transposed = toggle(row, {label: "3Blue1Brown layout (queries as columns)", value: model.get("transposed")},
                                 value => bound.choose("transposed", value));
    grid = dotGrid(body, {queries: labels, keys: labels, title: "attention pattern (dot area ∝ weight)", hover,
                          colours: model.get("colours")});
    draw();
  }

  function draw() {
    if (!data) return;
    for (const name in controls) controls[name].set(model.get(name));
    const layer = model.get("layer"), head = model.get("head"), temperature = data.scores ? model.get("temperature") : 1;
    const weights = temperature === 1 ? at(data.patterns, layer, head)
      : maskedSoftmax(at(data.scores, layer, head), data.n, "minus_inf", temperature, data.work);
    grid.update({weights, masked: data.future, transposed: model.get("transposed")});
    caption.innerHTML = `<b>layer ${layer}, head ${head}</b> at T = ${fixed(temperature, 2)}. `
      + escapeHtml(model.get("captions")[layer * data.heads + head] || "");
  }

  bound.watch(["patterns", "scores", "tokens"], load);
  bound.watch(["layer", "head", "temperature", "transposed", "captions"], draw);
  load();
  return () => bound.close();
}

/** One head step by step, every head's raw scores sent once: layer, head, query, temperature, ÷√d_k and the mask
 * chosen in the page. The pattern's dots, the query's row as bars and the scores the softmax got, one above the
 * other; above them the facts, Δe's included (from the dot products PromptSteps sends). */
function stepsView(model, root) {
  const bound = binding(model, root), hover = hoverBox(root);
  const rows = [controlRow(root), controlRow(root), controlRow(root)];
  const facts = html("div", "kit-caption", root), body = html("div", "kit-stack", root);
  let data = null, parts = null, controls = {};

  function load() {
    for (const node of [...rows, facts, body]) node.textContent = "";
    const scores = decoded(model.get("scores"));
    data = null;
    if (!scores || !scores.values.length) return;
    const [layers, heads, n] = scores.shape;
    const tokens = model.get("tokens"), labels = tokens.map((token, i) => `${i}:${token}`);
    data = {scores, norms: decoded(model.get("residual_norms")), gram: decoded(model.get("value_gram")),
            reads: decoded(model.get("reads")), n, tokens, future: causalFuture(n),
            scaled: new Float64Array(n * n), pattern: new Float64Array(n * n), fed: new Float64Array(n * n)};
    controls = {
      layer: intSlider(rows[0], model, bound, "layer", layers),
      head: intSlider(rows[0], model, bound, "head", heads),
      query: dropdown(rows[0], {label: "query", options: labels.map((label, i) => [i, label]), value: model.get("query")},
                      value => bound.choose("query", value)),
      temperature: temperatureSlider(rows[1], model, bound),
      scaled: toggle(rows[1], {label: "divide by √d_k", value: model.get("scaled")}, value => bound.choose("scaled", value)),
      mask: dropdown(rows[2], {label: "mask", options: model.get("mask_variants").map(([name, text]) => [name, `${name}: ${text}`]),
                               value: model.get("mask")}, value => bound.choose("mask", value)),
    };
    parts = {
      pattern: dotGrid(body, {queries: labels, keys: labels, title: "attention pattern (dot area ∝ weight)", hover,
                               colours: model.get("colours"), size: 420}),
      row: bars(body, {labels, title: "what the query reads: its row of the pattern", hover, yTitle: "weight"}),
      scores: valueGrid(body, {queries: labels, keys: labels, title: "scores into the softmax: blue > 0 > red, hatched −∞",
                               hover, size: 420}),
    };
    draw();
  }

  function draw() {
    if (!data) return;
    for (const name in controls) controls[name].set(model.get(name));
    const chosen = {layer: model.get("layer"), head: model.get("head"), query: model.get("query"), mask: model.get("mask"),
                    scaled: model.get("scaled"), temperature: model.get("temperature"), d_k: model.get("d_k")};
    const {n, scaled, pattern, fed, future} = data;
    const raw = at(data.scores, chosen.layer, chosen.head), divisor = chosen.scaled ? Math.sqrt(chosen.d_k) : 1;
    for (let i = 0; i < n * n; i++) {
      scaled[i] = raw[i] / divisor;
      fed[i] = chosen.mask === "minus_inf" && future[i] ? -Infinity : scaled[i];
    }
    maskedSoftmax(scaled, n, chosen.mask, chosen.temperature, pattern);
    parts.pattern.update({weights: pattern, masked: chosen.mask === "none" ? null : future});
    const read = pattern.subarray(chosen.query * n, (chosen.query + 1) * n);
    parts.row.update({values: read, highlight: largestAt(read)});
    parts.scores.update({values: fed});
    const text = stepFacts(data, chosen);
    if (text !== data.facts) facts.innerHTML = data.facts = text;
  }

  bound.watch(["scores", "tokens", "residual_norms", "value_gram", "reads", "mask_variants"], load);
  bound.watch(["layer", "head", "query", "temperature", "scaled", "mask", "d_k"], draw);
  load();
  return () => bound.close();
}

/** The line above the step-by-step figure: the scores' range and the rows' sums for the head, and for the query what
 * the head adds to its vector: |e|, |Δe| and cos(e, e + Δe), from |Δe|² = p·G·p and e·Δe = p·reads. */
function stepFacts(data, {layer, head, query, mask, scaled, d_k}) {
  const {n, pattern, tokens} = data;
  let low = Infinity, high = -Infinity, fewest = Infinity, most = -Infinity;
  for (const value of data.scaled) {
    low = Math.min(low, value);
    high = Math.max(high, value);
  }
  for (let q = 0; q < n; q++) {
    let sum = 0;
    for (let k = 0; k < n; k++) sum += pattern[q * n + k];
    fewest = Math.min(fewest, sum);
    most = Math.max(most, sum);
  }
  const normalised = Math.max(Math.abs(fewest - 1), Math.abs(most - 1)) <= 1e-4;
  const read = pattern.subarray(query * n, (query + 1) * n);
  const gram = at(data.gram, layer, head), reads = at(data.reads, layer, head).subarray(query * n, (query + 1) * n);
  let added = 0, along = 0;  // |Δe|², e · Δe
  for (let i = 0; i < n; i++) {
    along += read[i] * reads[i];
    for (let j = 0; j < n; j++) added += read[i] * gram[i * n + j] * read[j];
  }
  const e = at(data.norms, layer)[query], updated = Math.sqrt(Math.max(0, e * e + 2 * along + added));
  return `<b>layer ${layer}, head ${head}</b>: d_k = ${d_k}; scores ${scaled ? "÷ √d_k" : "not divided by √d_k"}`
    + (mask === "minus_inf" ? ", the future set to −∞" : "")
    + `, from ${fixed(low, 2)} to ${fixed(high, 2)}; row sums: min ${fixed(fewest, 3)}, max ${fixed(most, 3)}`
    + (normalised ? "" : " <b class='kit-warning'>(not normalised!)</b>")
    + `<br><b>query ${query} (${escapeHtml(tokens[query])})</b>, the bars: |e| = ${fixed(e, 2)}, `
    + `|Δe| = ${fixed(Math.sqrt(Math.max(0, added)), 2)}, cos(e, e + Δe) = ${fixed((e * e + along) / (e * updated), 3)}`;
}
