// Softmax with a temperature in the page: logits sent once (a whole vocabulary is fine), softmax(logits / T) redone
// here in float64 for the temperature a slider chooses, drawn as bars for the tokens shown (and one bar for all the
// others together, so that the bars add up to 100%), with a caption whose fields the page fills. The maths is
// explainer.sampling.softmax's and entropy's; the kit's tests hold the two together.

/** explainer.sampling.softmax: softmax(logits / T) in float64, the largest logit subtracted first; T = 0 is the limit,
 * all the mass on the largest logit (shared equally between exact ties); −∞ gets exactly 0. */
function softmaxAt(logits, temperature) {
  let best = -Infinity;
  for (const value of logits) if (value > best) best = value;
  const probs = new Float64Array(logits.length);
  let total = 0;
  for (let i = 0; i < logits.length; i++) {
    probs[i] = temperature === 0 ? (logits[i] === best ? 1 : 0) : Math.exp((logits[i] - best) / temperature);
    total += probs[i];
  }
  for (let i = 0; i < probs.length; i++) probs[i] /= total;
  return probs;
}

/** explainer.sampling.entropy: −Σ p log₂ p, zero probabilities adding nothing. */
function entropyBits(probs) {
  let bits = 0;
  for (const p of probs) if (p > 0) bits -= p * Math.log2(p);
  return bits;
}

/** A caption written by Python with fields the page fills for the temperature chosen: {temperature}, {top} (the
 * label of the tallest bar of a token), {top_probability}, {entropy} (bits) and {sum} (of every probability). */
function fillCaption(template, fields) {
  return template.replace(/\{(\w+)\}/g, (field, name) => (name in fields ? fields[name] : field));
}

/** Bars of softmax(logits / T) for the tokens `shown` (indices into the logits, each with its label), and with
 * `others` (a label) one more bar for all the tokens not shown; a slider for T, a caption under it. */
function softmaxView(model, root) {
  const bound = binding(model, root), hover = hoverBox(root);
  const row = controlRow(root), caption = html("div", "kit-caption", root), holder = html("div", "", root);
  let control = null, chart = null, logits = null;

  function load() {
    row.textContent = "";
    holder.textContent = "";
    control = temperatureSlider(row, model, bound);
    const found = decoded(model.get("logits"));
    logits = found && found.values;
    const labels = [...model.get("labels"), ...(model.get("others") ? [model.get("others")] : [])];
    chart = bars(holder, {labels, title: model.get("title"), hover, yTitle: "probability", maximum: 1, percent: true});
    draw();
  }

  function draw() {
    const temperature = model.get("temperature"), shown = model.get("shown"), labels = model.get("labels");
    control.set(temperature);
    if (!logits) return;
    const probs = softmaxAt(logits, temperature);
    const heights = shown.map(i => probs[i]);
    const top = largestAt(heights);
    if (model.get("others")) heights.push(Math.max(0, 1 - heights.reduce((sum, p) => sum + p, 0)));
    chart.update({values: heights, highlight: top});
    caption.innerHTML = fillCaption(model.get("caption"), {
      temperature: temperature.toFixed(2), top: escapeHtml(labels[top]), top_probability: percent(heights[top]),
      entropy: fixed(entropyBits(probs), 2), sum: fixed(probs.reduce((sum, p) => sum + p, 0), 6)});
  }

  bound.watch(["logits", "shown", "labels", "others", "title", "temperature_range"], load);
  bound.watch(["temperature", "caption"], draw);
  load();
  return () => bound.close();
}
