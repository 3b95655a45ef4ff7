// Gradient descent in the page: a cost surface over two weights, sent once, drawn as a heat map (a general component:
// any grid of values over a square of (x, y), with a colour bar and an SVG layer for what is drawn on it), and the path
// of plain gradient descent on the two-weight model y = w2·tanh(w1·x), recomputed here in float64 at every move. The
// maths is explainer.learning's (Toy.cost_and_gradient, gradient_descent); the kit's tests hold the two together.

const VIRIDIS = ["#440154", "#472c7a", "#3b518b", "#2c718e", "#21908d", "#27ad81", "#5cc863", "#aadc32", "#fde725"]
  .map(rgbOf);
const BANDS = 30;  // the heat map's colours come in bands, as filled contours do

/** Viridis at t in [0, 1], as [r, g, b]. */
function viridis(t) {
  const x = Math.max(0, Math.min(1, t)) * (VIRIDIS.length - 1), low = Math.min(Math.floor(x), VIRIDIS.length - 2), f = x - low;
  return VIRIDIS[low].map((v, k) => Math.round(v + f * (VIRIDIS[low + 1][k] - v)));
}

/** explainer.learning.Toy.cost_and_gradient: the mean squared error of y = w2·tanh(w1·x) on the points, and its
 * gradient by the chain rule (t = tanh(w1·x), r = w2·t − y: ∂/∂w1 = mean(2r·w2·(1 − t²)·x), ∂/∂w2 = mean(2r·t)). */
function toyCostAndGradient(x, y, w1, w2) {
  let cost = 0, g1 = 0, g2 = 0;
  for (let i = 0; i < x.length; i++) {
    const t = Math.tanh(w1 * x[i]), r = w2 * t - y[i];
    cost += r * r;
    g1 += 2 * r * w2 * (1 - t * t) * x[i];
    g2 += 2 * r * t;
  }
  return [cost / x.length, g1 / x.length, g2 / x.length];
}

/** explainer.learning.gradient_descent: w ← w − rate · ∇cost(w), `steps` times; the path [steps + 1] of [w1, w2]
 * and the cost at each point. */
function gradientDescent(x, y, start, rate, steps) {
  let [w1, w2] = start;
  const path = [[w1, w2]], costs = [];
  for (let s = 0; s < steps; s++) {
    const [cost, g1, g2] = toyCostAndGradient(x, y, w1, w2);
    costs.push(cost);
    [w1, w2] = [w1 - rate * g1, w2 - rate * g2];
    path.push([w1, w2]);
  }
  costs.push(toyCostAndGradient(x, y, w1, w2)[0]);
  return {path, costs};
}

/** A grid of values [row · column] over x, y ∈ [low, high] (row 0 at y = low, drawn at the bottom) as a heat map in
 * bands of viridis, `size` px square, with axes, a colour bar titled `colourTitle`, and `layer`, an SVG group for what
 * is drawn over it; x(v), y(v) give a value's pixel, at(event) the (x, y) under the pointer (or null). */
function heatMap(parent, {values, rows, columns, low, high, xTitle, yTitle, colourTitle, size = 400}) {
  const left = 54, top = 10, bottom = 44, bar = 14, gap = 18;
  const finite = Array.from(values).filter(Number.isFinite);
  const least = Math.min(...finite), most = Math.max(...finite), span = most - least || 1;
  const colourTicks = niceTicks(least, most, 5).filter(t => t >= least && t <= most);
  const tickWidth = widest(colourTicks.map(String), 11);
  const width = left + size + gap + bar + 8 + Math.ceil(tickWidth) + 24, height = top + size + bottom;
  const node = html("div", "kit-grid-box", parent);
  Object.assign(node.style, {width: `${width}px`, height: `${height}px`});
  const canvas = html("canvas", "kit-cells kit-heat", node), scale = window.devicePixelRatio || 1;
  const pixels = Math.round(size * scale);
  Object.assign(canvas, {width: pixels, height: pixels});
  Object.assign(canvas.style, {left: `${left}px`, top: `${top}px`, width: `${size}px`, height: `${size}px`});
  const image = new ImageData(pixels, pixels);
  for (let py = 0; py < pixels; py++) {  // bilinear between the grid's values, then the band's colour
    const fy = (1 - (py + 0.5) / pixels) * (rows - 1), r = Math.min(Math.floor(fy), rows - 2), dy = fy - r;
    for (let px = 0; px < pixels; px++) {
      const fx = (px + 0.5) / pixels * (columns - 1), c = Math.min(Math.floor(fx), columns - 2), dx = fx - c;
      const v = (1 - dy) * ((1 - dx) * values[r * columns + c] + dx * values[r * columns + c + 1])
        + dy * ((1 - dx) * values[(r + 1) * columns + c] + dx * values[(r + 1) * columns + c + 1]);
      const band = Math.min(BANDS - 1, Math.floor((v - least) / span * BANDS));
      image.data.set([...viridis((band + 0.5) / BANDS), 255], 4 * (py * pixels + px));
    }
  }
  canvas.getContext("2d").putImageData(image, 0, 0);
  const chart = svg("svg", {width, height, class: "kit-heatmap"}, node);
  const x = v => left + (v - low) / (high - low) * size, y = v => top + (high - v) / (high - low) * size;
  for (const tick of niceTicks(low, high, 6)) {
    svg("text", {x: x(tick), y: top + size + 14, "text-anchor": "middle", class: "kit-tick"}, chart).textContent = String(tick);
    svg("text", {x: left - 6, y: y(tick), "text-anchor": "end", "dominant-baseline": "central", class: "kit-tick"}, chart)
      .textContent = String(tick);
  }
  svg("text", {x: left + size / 2, y: top + size + 36, "text-anchor": "middle", class: "kit-axis-title"}, chart)
    .textContent = xTitle;
  const middle = top + size / 2;
  svg("text", {x: 14, y: middle, transform: `rotate(-90 14 ${middle})`, "text-anchor": "middle", class: "kit-axis-title"},
      chart).textContent = yTitle;
  const barLeft = left + size + gap, barY = v => top + (most - v) / span * size;
  for (let band = 0; band < BANDS; band++) {
    const [r, g, b] = viridis((band + 0.5) / BANDS);
    svg("rect", {x: barLeft, width: bar, y: barY(least + (band + 1) / BANDS * span), height: size / BANDS + 0.5,
                 fill: `rgb(${r},${g},${b})`}, chart);
  }
  for (const tick of colourTicks) {
    svg("text", {x: barLeft + bar + 5, y: barY(tick), "dominant-baseline": "central", class: "kit-tick"}, chart)
      .textContent = String(tick);
  }
  const titleX = width - 8;
  svg("text", {x: titleX, y: middle, transform: `rotate(-90 ${titleX} ${middle})`, "text-anchor": "middle",
               class: "kit-axis-title"}, chart).textContent = colourTitle;
  const clip = `kit-clip-${Math.random().toString(36).slice(2)}`;
  svg("rect", {x: left, y: top, width: size, height: size}, svg("clipPath", {id: clip}, svg("defs", {}, chart)));
  const layer = svg("g", {"clip-path": `url(#${clip})`}, chart);
  return {
    node, chart, layer, x, y,
    at(event) {
      const box = chart.getBoundingClientRect();
      const px = event.clientX - box.left - left, py = event.clientY - box.top - top;
      if (px < 0 || px > size || py < 0 || py > size) return null;
      return [low + px / size * (high - low), high - py / size * (high - low)];
    },
  };
}

/** The descent view: sliders for the start (w1, w2), the learning rate and the number of steps, a line saying where
 * descent ends, and the cost surface with the path on it. A click on the map moves the start there. */
function descentView(model, root) {
  const bound = binding(model, root), hover = hoverBox(root);
  const rows = [controlRow(root), controlRow(root)], outcome = html("div", "kit-caption", root);
  let controls = {}, map = null, line = null, dots = null, start = null, points = null;
  const pixel = (value, place) => Math.max(-1e4, Math.min(1e4, place(value)));  // a diverging path stays drawable

  function load() {
    for (const row of rows) row.textContent = "";
    root.querySelectorAll(".kit-panel").forEach(node => node.remove());
    points = {x: Float64Array.from(model.get("x")), y: Float64Array.from(model.get("y"))};
    const extent = model.get("extent"), weight = {min: -extent, max: extent, step: 0.05, digits: 2};
    const move = name => value => bound.choose(name, value);
    controls = {
      start_w1: slider(rows[0], {label: "start w1", ...weight, value: model.get("start_w1")}, move("start_w1")),
      start_w2: slider(rows[0], {label: "start w2", ...weight, value: model.get("start_w2")}, move("start_w2")),
      learning_rate: slider(rows[1], {label: "learning rate", min: 0.01, max: model.get("max_rate"), step: 0.01, digits: 2,
                                      value: model.get("learning_rate")}, move("learning_rate")),
      steps: slider(rows[1], {label: "steps", min: 0, max: model.get("max_steps"), value: model.get("steps")}, move("steps")),
    };
    const surface = decoded(model.get("surface"));
    if (!surface) return;
    const {body} = panel(root, model.get("title"));
    map = heatMap(body, {values: surface.values, rows: surface.shape[0], columns: surface.shape[1], low: -extent,
                         high: extent, xTitle: "w1", yTitle: "w2", colourTitle: model.get("colour_title")});
    line = svg("path", {class: "kit-descent-line", fill: "none", stroke: "#ffffff", "stroke-width": 2}, map.layer);
    dots = svg("path", {class: "kit-descent-dots", fill: "#ffffff"}, map.layer);
    start = svg("circle", {r: 6.5, class: "kit-marker kit-descent-start"}, map.layer);
    map.chart.setAttribute("tabindex", "0");  // a click gives it the focus: leaving it tells the kernel the new start
    Object.assign(map.chart.style, {cursor: "crosshair", outline: "none"});
    map.chart.addEventListener("click", event => {
      const found = map.at(event);
      if (!found) return;
      map.chart.focus();
      const snapped = found.map(w => Math.max(-extent, Math.min(extent, Math.round(w / 0.05) * 0.05)));
      bound.choose("start_w1", +snapped[0].toFixed(2));
      bound.choose("start_w2", +snapped[1].toFixed(2));
    });
    map.chart.addEventListener("pointermove", event => {
      const found = map.at(event);
      if (!found) return hover.hide();
      const [cost] = toyCostAndGradient(points.x, points.y, ...found);
      hover.show([`w1 ${fixed(found[0], 2)}, w2 ${fixed(found[1], 2)}`, `cost ${fixed(cost, 4)}`], event);
    });
    map.chart.addEventListener("pointerleave", () => hover.hide());
    draw();
  }

  function draw() {
    for (const name in controls) controls[name].set(model.get(name));
    const begin = [model.get("start_w1"), model.get("start_w2")];
    const {path, costs} = gradientDescent(points.x, points.y, begin, model.get("learning_rate"), model.get("steps"));
    const end = path[path.length - 1];
    outcome.innerHTML = `cost <b>${fixed(costs[0], 3)} → ${fixed(costs[costs.length - 1], 4)}</b> after ${path.length - 1} `
      + `steps, ending at w1 = ${fixed(end[0], 2)}, w2 = ${fixed(end[1], 2)}`;
    if (!map) return;
    const drawn = path.filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b))
      .map(([a, b]) => [pixel(a, map.x), pixel(b, map.y)]);
    line.setAttribute("d", drawn.map(([px, py], i) => `${i ? "L" : "M"}${px.toFixed(2)},${py.toFixed(2)}`).join(""));
    dots.setAttribute("d", drawn.map(([px, py]) => `M${(px - 2).toFixed(2)},${py.toFixed(2)}l2,-2l2,2l-2,2z`).join(""));
    start.setAttribute("cx", map.x(begin[0]).toFixed(2));
    start.setAttribute("cy", map.y(begin[1]).toFixed(2));
  }

  bound.watch(["x", "y", "surface", "extent", "max_rate", "max_steps", "title", "colour_title"], load);
  bound.watch(["start_w1", "start_w2", "learning_rate", "steps"], draw);
  load();
  return () => bound.close();
}
