// Views: what draws one widget from its model (its numbers, sent once, and the choices of its controls). The model is
// anywidget's in JupyterLab and a plain stand-in in the offline gallery (page.js): get, set, on, off, save_changes.

const VIEWS = {stack: stackView, attention: attentionView, steps: stepsView, rope: ropeView, softmax: softmaxView, plot: plotView, descent: descentView, live: liveView};

/** Draw the widget `model` into `el`; returns what removes it. */
function kitRender(model, el) {
  const root = html("div", "explainer-kit", el);
  // keys pressed on the figure's controls are theirs: the notebook's shortcuts (ArrowRight opens the next heading in
  // JupyterLab's command mode) must not take them
  root.addEventListener("keydown", event => event.stopPropagation());
  for (const [name, colour] of Object.entries(model.get("colours") || {})) root.style.setProperty(`--kit-${name}`, colour);
  const view = VIEWS[model.get("view")];
  if (!view) {
    root.textContent = `explainer's figure kit has no view named ${model.get("view")}: update the explainer package`;
    return () => root.remove();
  }
  const close = view(model, root);
  return () => { close(); root.remove(); };
}

/** What every view shares with its model. watch(names, draw): draw once per burst of changes (a selection made in
 * Python changes several values in one message). choose(name, value): a control moved; the view redraws from the
 * model at once, in the page. The kernel hears of the choices in one message when the learner leaves the view's
 * controls (for what Python reads of them), never on each move: nothing waits for it. */
function binding(model, root) {
  const listeners = [];
  let unsaved = false;
  root.addEventListener("focusout", event => {
    if (unsaved && !root.contains(event.relatedTarget)) {
      unsaved = false;
      model.save_changes();
    }
  });
  return {
    choose(name, value) {
      model.set(name, value);
      unsaved = true;
    },
    watch(names, draw) {
      let pending = false;
      const schedule = () => {
        if (pending) return;
        pending = true;
        queueMicrotask(() => { pending = false; draw(); });
      };
      for (const name of names) {
        model.on(`change:${name}`, schedule);
        listeners.push([`change:${name}`, schedule]);
      }
    },
    close() { for (const [event, callback] of listeners) model.off(event, callback); },
  };
}

/** Panels one above the other and the controls that choose what they show: each control indexes a leading axis of the
 * panels' arrays that name it in `over` (a layer, a head, a training step), or moves a curve's marker. A view built on
 * it (plotView) may make its panels otherwise (`makePanels(body, hover)`: each with draw(choice)) and redraw on more of
 * the model's values (`more`). */
function stackView(model, root, {makePanels = null, more = []} = {}) {
  const bound = binding(model, root), hover = hoverBox(root);
  const row = controlRow(root), body = html("div", "kit-stack", root);
  let controls = {}, panels = [];

  function build() {
    row.textContent = "";
    body.textContent = "";
    const choice = model.get("choice");
    controls = {};
    for (const spec of model.get("controls")) {
      const move = value => bound.choose("choice", {...model.get("choice"), [spec.name]: value});
      controls[spec.name] = spec.kind === "dropdown"
        ? dropdown(row, {label: spec.label, options: spec.options, value: choice[spec.name]}, move)
        : slider(row, {label: spec.label, min: spec.min, max: spec.max, value: choice[spec.name], labels: spec.labels}, move);
    }
    panels = makePanels ? makePanels(body, hover)
      : model.get("panels").map(spec => stackPanel(body, spec, hover, model.get("colours")));
    draw();
  }

  function draw() {
    const choice = model.get("choice");
    for (const [name, control] of Object.entries(controls)) control.set(choice[name]);
    for (const panel of panels) panel.draw(choice);
  }

  bound.watch(["panels", "controls", ...more], build);
  bound.watch(["choice"], draw);
  build();
  return () => bound.close();
}

/** The flat index of `indices` along axes of sizes `counts` (row-major): where a choice's slice of a flattened list
 * begins, in units of the slice. */
function flatIndex(counts, indices) {
  return indices.reduce((index, i, axis) => index * counts[axis] + i, 0);
}

/** The slice of a panel's (or a plot layer's) array at the choice of its `over` controls. */
function layerSlice(spec, array, choice) {
  return at(array, ...spec.over.map(name => choice[name]));
}

/** A panel's (or a plot layer's) texts (names, labels) for the choice: `count` per choice of its first `axes` controls. */
function layerTexts(spec, texts, axes, counts, count, choice) {
  const index = flatIndex(counts, spec.over.slice(0, axes).map(name => choice[name]));
  return texts.slice(index * count, (index + 1) * count);
}

/** One panel of a stack, from its spec: draw(choice) shows the arrays at the chosen indices. */
function stackPanel(parent, spec, hover, colours) {
  const chosen = (array, choice) => layerSlice(spec, array, choice);
  if (spec.kind === "dots") {
    const weights = decoded(spec.weights), masked = decoded(spec.masked);
    const options = {queries: spec.queries, keys: spec.keys, title: spec.title, hover, colours, size: spec.size};
    const grid = spec.tiles ? dotTiles(parent, {...options, tiles: spec.tiles}) : dotGrid(parent, options);
    return {draw: choice => grid.update({weights: chosen(weights, choice), masked: masked && masked.values,
                                         transposed: spec.transposed})};
  }
  if (spec.kind === "values") {
    const values = decoded(spec.values);
    const grid = valueGrid(parent, {queries: spec.queries, keys: spec.keys, title: spec.title, hover, size: spec.size,
                                    digits: spec.digits, extent: spec.extent, name: spec.name,
                                    rowTitle: spec.row_title, columnTitle: spec.column_title});
    return {draw: choice => grid.update({values: chosen(values, choice)})};
  }
  if (spec.kind === "bars") {
    const values = decoded(spec.values), count = values.shape[values.shape.length - 1];
    const labels = choice => layerTexts(spec, spec.labels, spec.label_axes, values.shape, count, choice);
    const chart = bars(parent, {labels: spec.labels.slice(0, count), sizing: spec.labels, title: spec.title, hover,
                                yTitle: spec.y_title, maximum: spec.maximum, minimum: spec.minimum, percent: spec.percent,
                                signed: spec.signed, digits: spec.digits});
    return {draw: choice => {
      const heights = chosen(values, choice);
      const highlight = spec.highlight === "max" ? largestAt(heights)
        : spec.highlight === "chosen" ? layerTexts(spec, spec.highlights, spec.highlight_axes, values.shape, 1, choice)[0]
        : spec.highlight;
      chart.update({values: heights, highlight, labels: spec.label_axes ? labels(choice) : null});
    }};
  }
  if (spec.kind === "curve") {
    const x = decoded(spec.x).values, y = decoded(spec.y);
    const chart = curve(parent, {x, title: spec.title, hover, low: spec.low, high: spec.high, xTitle: spec.x_title,
                                 yTitle: spec.y_title, names: spec.names, xLabels: spec.x_labels});
    return {draw: choice => chart.update({y: chosen(y, choice), marker: spec.marker === null ? -1 : choice[spec.marker]})};
  }
  if (spec.kind === "text") {
    const shown = textPanel(parent, {title: spec.title});
    return {draw: choice => shown.update({markup: layerTexts(spec, spec.pieces, spec.over.length, spec.counts, 1, choice)[0]})};
  }
  if (spec.kind === "tokens") {
    const ids = decoded(spec.ids), numbers = decoded(spec.numbers), scores = decoded(spec.scores);
    const rows = tokenRows(parent, {vocabulary: spec.vocabulary, slots: ids.shape[ids.shape.length - 1], title: spec.title,
                                    rowLabels: spec.row_labels, marked: spec.marked, digits: spec.digits});
    return {draw: choice => rows.update({ids: chosen(ids, choice), numbers: numbers && chosen(numbers, choice),
                                         scores: scores && chosen(scores, choice)})};
  }
  if (spec.kind === "switch") {  // a group of panels per choice, each made the first time it is shown
    const box = html("div", "kit-switch", parent), groups = [];
    return {draw: choice => {
      const index = choice[spec.over[0]];
      if (!groups[index]) {
        const holder = html("div", "kit-group", box);
        groups[index] = {holder, panels: spec.groups[index].map(group => stackPanel(holder, group, hover, colours))};
      }
      groups.forEach((group, i) => { if (group) group.holder.style.display = i === index ? "" : "none"; });
      for (const shown of groups[index].panels) shown.draw(choice);
    }};
  }
  html("div", "kit-error", parent, `a panel of unknown kind ${spec.kind}`);
  return {draw() {}};
}
