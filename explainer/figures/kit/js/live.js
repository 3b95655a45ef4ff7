// A run watched as it trains: the kernel sends what changed with each progress report (counters, loss curves, moments,
// the patterns and samples of the kept steps and the latest), and the page chooses among them: the step to look back
// at, the layer and the head. A chart of lines (each with its own x), marks and a reference line is the general part.

const MARK_ROWS = 3;  // marks' labels sit on rows of their own near the top, so that they never overlap one another

/** Lines over a fixed frame: update({series, marks, reference, xRange, yRange}) draws each series [{x, y, colour,
 * width, dots, name}] (a legend below names them), a dashed reference line {y, label, colour}, and marks [{x, y, label,
 * text, colour}]: a star at (x, y) and its label on a row of its own near the top (left of the star in the right part
 * of the axis, so that it stays inside), a dotted line between them; `text` on hover. */
function lineChart(parent, {title, hover, xTitle = "", yTitle = "", width = 700, height = 240}) {
  const {node, body} = panel(parent, title);
  const left = 56, right = 16, top = 10, bottom = 40, legend = 24;
  const chart = svg("svg", {width, height: top + height + bottom + legend, class: "kit-lines"}, body);
  const axes = svg("g", {}, chart), drawn = svg("g", {}, chart), keys = svg("g", {}, chart);
  const middle = top + height / 2;
  svg("text", {x: left + (width - left - right) / 2, y: top + height + 34, "text-anchor": "middle", class: "kit-axis-title"},
      chart).textContent = xTitle;
  svg("text", {x: 12, y: middle, transform: `rotate(-90 12 ${middle})`, "text-anchor": "middle", class: "kit-axis-title"},
      chart).textContent = yTitle;
  let frame = null, shownMarks = [];
  chart.addEventListener("pointermove", event => {
    const box = chart.getBoundingClientRect();
    const near = shownMarks.find(([px, py]) => Math.hypot(event.clientX - box.left - px, event.clientY - box.top - py) < 9);
    if (near) hover.show([near[2]], event);
    else hover.hide();
  });
  chart.addEventListener("pointerleave", () => hover.hide());

  function update({series, marks = [], reference = null, xRange, yRange}) {
    const [x0, x1] = xRange, [y0, y1] = yRange;
    const px = v => left + (width - left - right) * (x1 > x0 ? (v - x0) / (x1 - x0) : 0);
    const py = v => top + height * (y1 > y0 ? 1 - (Math.max(y0, Math.min(y1, v)) - y0) / (y1 - y0) : 0.5);
    const key = `${x0} ${x1} ${y0} ${y1}`;
    if (frame !== key) {  // the axes change only when the x axis doubles
      frame = key;
      axes.textContent = "";
      for (const tick of niceTicks(y0, y1, 4)) {
        svg("line", {x1: left, x2: width - right, y1: py(tick), y2: py(tick), class: "kit-gridline"}, axes);
        svg("text", {x: left - 6, y: py(tick), "text-anchor": "end", "dominant-baseline": "central", class: "kit-tick"}, axes)
          .textContent = String(tick);
      }
      for (const tick of niceTicks(x0, x1, 6)) {
        svg("text", {x: px(tick), y: top + height + 16, "text-anchor": "middle", class: "kit-tick"}, axes)
          .textContent = tick.toLocaleString("en-US");
      }
    }
    drawn.textContent = "";
    keys.textContent = "";
    if (reference) {
      svg("line", {x1: left, x2: width - right, y1: py(reference.y), y2: py(reference.y), stroke: reference.colour,
                   "stroke-width": 1.5, "stroke-dasharray": "6 4", class: "kit-reference"}, drawn);
      svg("text", {x: width - right, y: py(reference.y) - 4, "text-anchor": "end", style: `fill: ${reference.colour}`,
                   class: "kit-tick"}, drawn).textContent = reference.label;
    }
    let at = left;
    for (const line of series) {
      const points = Array.from(line.x, (v, i) => `${i ? "L" : "M"}${px(v).toFixed(1)},${py(line.y[i]).toFixed(1)}`).join("");
      svg("path", {d: points, fill: "none", stroke: line.colour, "stroke-width": line.width || 2, class: "kit-series"}, drawn);
      if (line.dots) {
        const dots = Array.from(line.x, (v, i) => `M${(px(v) + 3).toFixed(1)},${py(line.y[i]).toFixed(1)}a3,3 0 1,0 -6,0a3,3 0 1,0 6,0`);
        svg("path", {d: dots.join(""), fill: line.colour, class: "kit-series-dots"}, drawn);
      }
      const y = top + height + bottom + legend / 2;
      svg("line", {x1: at, x2: at + 22, y1: y, y2: y, stroke: line.colour, "stroke-width": 2}, keys);
      svg("text", {x: at + 28, y, "dominant-baseline": "central", class: "kit-legend"}, keys).textContent = line.name;
      at += 28 + textWidth(line.name, 12) + 24;
    }
    shownMarks = marks.map((mark, i) => {
      const sx = px(mark.x), sy = py(mark.y), row = py(y1 * (0.95 - 0.08 * (i % MARK_ROWS)));
      const style = `fill: ${mark.colour}`;
      svg("line", {x1: sx, x2: sx, y1: sy, y2: row, stroke: mark.colour, "stroke-dasharray": "2 3", class: "kit-mark-line"}, drawn);
      svg("path", {d: starPath(sx, sy, 7), style, class: "kit-mark"}, drawn);
      const leftward = sx > left + 0.6 * (width - left - right);
      svg("text", {x: sx + (leftward ? -6 : 6), y: row, "text-anchor": leftward ? "end" : "start", "dominant-baseline": "central",
                   style, class: "kit-mark-label"}, drawn).textContent = mark.label;
      return [sx, sy, mark.text];
    });
  }
  return {node, update};
}

/** The live view: counters, the loss chart, the moments, then the look-back slider (once two steps are kept), the
 * sample and the chosen head's pattern at the step chosen, with layer and head drop-downs. */
function liveView(model, root) {
  const bound = binding(model, root), hover = hoverBox(root);
  const counters = html("div", "kit-text kit-counters", root);
  const loss = lineChart(root, {title: model.get("title") || " ", hover, xTitle: "step", yTitle: "loss"});
  const lossTitle = loss.node.querySelector(".kit-title");
  const moments = html("div", "kit-text kit-moments", root);
  const lookRow = controlRow(root), sample = html("div", "kit-text kit-sample", root), headRow = controlRow(root);
  const gridBox = html("div", "", root);
  let lookBack = null, lookIndex = null, layer = null, head = null, grid = null, gridFor = null, future = null, shape = null;

  const colour = name => (model.get("colours_of") || {})[name] || "#6b7280";
  function drawCurves() {
    const array = name => (decoded(model.get(name)) || {values: new Float32Array(0)}).values;
    const reference = model.get("reference");
    loss.update({
      series: [{x: array("batch_steps"), y: array("batch_losses"), colour: colour("batch"), width: 1, name: "one training batch"},
               {x: array("validation_steps"), y: array("validation_losses"), colour: colour("validation"), dots: true,
                name: "validation"}],
      marks: model.get("marks").map(mark => ({x: mark.step, y: mark.loss, label: mark.label, text: mark.text,
                                              colour: colour("mark")})),
      reference: reference && reference.label ? {...reference, colour: colour("reference")} : null,
      xRange: model.get("x_range"), yRange: [0, model.get("y_top")],
    });
  }

  function buildControls() {  // the look-back slider over the kept steps and "now"; layer and head drop-downs
    lookRow.textContent = headRow.textContent = "";
    const steps = model.get("kept_steps"), latest = decoded(model.get("latest_pattern"));
    const labels = [...steps.map(s => s.toLocaleString("en-US")), "now"];
    lookIndex = () => { const i = steps.indexOf(model.get("look_back")); return i < 0 ? steps.length : i; };
    lookBack = steps.length > 1 ? slider(lookRow, {label: "look back at step", min: 0, max: steps.length, value: lookIndex(), labels},
                                         i => bound.choose("look_back", i < steps.length ? steps[i] : -1)) : null;
    const [layers, heads] = latest ? latest.shape : [1, 1];
    shape = `${layers} ${heads}`;
    const options = count => Array.from({length: count}, (_, i) => [i, String(i)]);
    layer = dropdown(headRow, {label: "layer", options: options(layers), value: model.get("layer")}, v => bound.choose("layer", v));
    head = dropdown(headRow, {label: "head", options: options(heads), value: model.get("head")}, v => bound.choose("head", v));
    drawView();
  }

  function drawView() {  // the sample and the pattern at the chosen step (or the latest), for the chosen head
    const steps = model.get("kept_steps"), chosen = steps.indexOf(model.get("look_back"));
    if (lookBack) lookBack.set(lookIndex());
    layer.set(model.get("layer"));
    head.set(model.get("head"));
    sample.innerHTML = chosen < 0 ? model.get("latest_sample") : model.get("kept_samples")[chosen];
    const patterns = chosen < 0 ? decoded(model.get("latest_pattern")) : decoded(model.get("kept_patterns"));
    if (!patterns) return;
    const tokens = model.get("tokens"), n = tokens.length;
    if (gridFor !== tokens) {
      gridBox.textContent = "";
      grid = dotGrid(gridBox, {queries: tokens, keys: tokens, title: model.get("grid_title"), hover,
                               colours: model.get("colours"), size: 400});
      gridFor = tokens;
      future = causalFuture(n);
    }
    const indices = chosen < 0 ? [model.get("layer"), model.get("head")] : [chosen, model.get("layer"), model.get("head")];
    grid.update({weights: at(patterns, ...indices), masked: future});
  }

  bound.watch(["counters"], () => { counters.innerHTML = model.get("counters"); });
  bound.watch(["moments"], () => { moments.innerHTML = model.get("moments"); });
  bound.watch(["batch_steps", "batch_losses", "validation_steps", "validation_losses", "marks", "x_range", "y_top",
               "reference", "colours_of"], drawCurves);
  bound.watch(["title"], () => { lossTitle.textContent = model.get("title"); });
  bound.watch(["kept_steps", "tokens"], buildControls);
  bound.watch(["look_back", "layer", "head", "kept_patterns", "kept_samples", "latest_pattern", "latest_sample"], () => {
    const latest = decoded(model.get("latest_pattern"));  // another size of model: other layers and heads to choose
    if (latest && `${latest.shape[0]} ${latest.shape[1]}` !== shape) buildControls();
    else drawView();
  });
  counters.innerHTML = model.get("counters");
  moments.innerHTML = model.get("moments");
  drawCurves();
  buildControls();
  return () => bound.close();
}
