// The kit's components: a dot grid, a value grid, bars, a curve, panels, and the controls the page answers itself.
// Each is made once for its labels and then given new numbers with update(): only what changed is touched.

const QUERY_TITLE = "query (the token being updated)", KEY_TITLE = "key (the token read)";
const AXIS_TITLE_PX = 18, SLANT = Math.PI / 3;  // slanted labels rise at 60°

/** A titled panel: what a stack puts one above the other. */
function panel(parent, title) {
  const node = html("div", "kit-panel", parent);
  if (title) html("div", "kit-title", node, title);
  return {node, body: html("div", "kit-body", node)};
}

/** The frame of a grid of square cells: row labels on the left, column labels slanted on top, axis titles, a canvas
 * for the cells (cell (row r, column c) is the square at (c·cell, r·cell)), and over it an SVG group `cells` in the
 * same coordinates, with the lines between cells. Thousands of cells are drawn on the canvas in a few milliseconds;
 * as SVG elements the browser took 50-100 ms to paint 64 × 64 of them. */
function gridFrame(parent, {rowLabels, columnLabels, rowTitle, columnTitle, size, kind}) {
  const rows = rowLabels.length, columns = columnLabels.length;
  const most = Math.max(rows, columns, 1);  // cells of 9 px or more while the grid fits the output (620 px)
  const cell = Math.max(Math.min(9, Math.floor(620 / most)), Math.min(34, Math.floor(size / most)));
  const font = Math.max(7, Math.min(12, cell - 1));
  const slanted = widest(columnLabels, font);
  const left = AXIS_TITLE_PX + 8 + Math.ceil(widest(rowLabels, font));
  const top = AXIS_TITLE_PX + 8 + Math.ceil(slanted * Math.sin(SLANT) + font / 2);
  const width = left + columns * cell + Math.max(8, Math.ceil(slanted * Math.cos(SLANT) - cell / 2 + 4));
  const height = top + rows * cell + 6;
  const node = html("div", "kit-grid-box", parent);
  Object.assign(node.style, {width: `${width}px`, height: `${height}px`});
  const canvas = html("canvas", `kit-cells kit-${kind}`, node);
  const scale = window.devicePixelRatio || 1;
  Object.assign(canvas, {width: Math.round(columns * cell * scale), height: Math.round(rows * cell * scale)});
  Object.assign(canvas.style, {left: `${left}px`, top: `${top}px`, width: `${columns * cell}px`, height: `${rows * cell}px`});
  Object.assign(canvas.dataset, {rows, columns});
  const context = canvas.getContext("2d");
  context.scale(scale, scale);
  const chart = svg("svg", {width, height, class: `kit-grid kit-${kind}`}, node);
  const labels = svg("g", {"font-size": font, class: "kit-labels"}, chart);
  rowLabels.forEach((label, r) => {
    svg("text", {x: left - 5, y: top + (r + 0.5) * cell, "text-anchor": "end", "dominant-baseline": "central"}, labels)
      .textContent = label;
  });
  columnLabels.forEach((label, c) => {
    const x = left + (c + 0.5) * cell, y = top - 5;
    svg("text", {x, y, transform: `rotate(-60 ${x} ${y})`, "dominant-baseline": "central"}, labels).textContent = label;
  });
  svg("text", {x: left + columns * cell / 2, y: 13, "text-anchor": "middle", class: "kit-axis-title"}, chart)
    .textContent = columnTitle;
  const middle = top + rows * cell / 2;
  svg("text", {x: 13, y: middle, transform: `rotate(-90 13 ${middle})`, "text-anchor": "middle", class: "kit-axis-title"},
      chart).textContent = rowTitle;
  const cells = svg("g", {transform: `translate(${left} ${top})`}, chart);
  const lines = [];
  for (let r = 0; r <= rows; r++) lines.push(`M0,${r * cell}H${columns * cell}`);
  for (let c = 0; c <= columns; c++) lines.push(`M${c * cell},0V${rows * cell}`);
  svg("path", {d: lines.join(""), class: "kit-cell-lines"}, cells);
  return {
    node, cells, context, cell, rows, columns,
    cellAt(event) {  // [row, column] under the pointer, or null
      const box = node.getBoundingClientRect();
      const r = Math.floor((event.clientY - box.top - top) / cell), c = Math.floor((event.clientX - box.left - left) / cell);
      return r >= 0 && r < rows && c >= 0 && c < columns ? [r, c] : null;
    },
  };
}

/** Hover texts for a grid: `describe(row, column)` gives the lines for the cell under the pointer. */
function hoverCells(frame, hover, describe) {
  frame.node.addEventListener("pointermove", event => {
    const found = frame.cellAt(event);
    if (!found) return hover.hide();
    hover.show(describe(...found), event);
  });
  frame.node.addEventListener("pointerleave", () => hover.hide());
}

/** Attention as dots, one per (query, key) cell, dot area ∝ weight; masked cells grey. Rows are queries, or, with
 * `transposed`, columns (the talk's layout). update({weights, masked, transposed}): weights [query · key] in rows. */
function dotGrid(parent, {queries, keys, title, hover, colours, size = 460}) {
  const {node, body} = panel(parent, title);
  let frame = null, flipped = null, shown = null, hidden = null;
  function layout(transposed) {  // rows: queries, or keys when transposed
    body.textContent = "";
    frame = gridFrame(body, {rowLabels: transposed ? keys : queries, columnLabels: transposed ? queries : keys,
                             rowTitle: transposed ? KEY_TITLE : QUERY_TITLE, columnTitle: transposed ? QUERY_TITLE : KEY_TITLE,
                             size, kind: "dots"});
    hoverCells(frame, hover, (r, c) => {
      const [q, k] = flipped ? [c, r] : [r, c], i = q * keys.length + k;
      return [`query ${queries[q]} → key ${keys[k]}`, hidden && hidden[i] ? "masked" : `weight ${fixed(shown[i], 4)}`];
    });
  }
  function update({weights, masked = null, transposed = false}) {
    if (transposed !== flipped) layout(transposed);
    flipped = transposed;
    shown = weights;
    hidden = masked;
    const {context, cell} = frame, largest = 0.95 * cell / 2;  // the radius of weight 1: a dot that fills its cell
    context.clearRect(0, 0, frame.columns * cell, frame.rows * cell);
    const place = i => {  // [x, y] of cell i's corner
      const q = Math.floor(i / keys.length), k = i % keys.length;
      return transposed ? [q * cell, k * cell] : [k * cell, q * cell];
    };
    context.fillStyle = colours.masked;
    context.globalAlpha = MASKED_ALPHA;
    if (masked) for (let i = 0; i < masked.length; i++) if (masked[i]) context.fillRect(...place(i), cell, cell);
    context.globalAlpha = 1;
    context.fillStyle = colours.dot;
    context.beginPath();
    for (let i = 0; i < weights.length; i++) {
      const radius = masked && masked[i] ? 0 : largest * Math.sqrt(Math.max(0, weights[i]));
      if (radius <= 0) continue;
      const [x, y] = place(i);
      context.moveTo(x + cell / 2 + radius, y + cell / 2);
      context.arc(x + cell / 2, y + cell / 2, radius, 0, 2 * Math.PI);
    }
    context.fill();
  }
  return {node, update};
}

/** A square grid of numbers as squares coloured by value (blue > 0 > red, on a scale symmetric about 0), each number
 * written in its square when there is room; −∞ cells (masked) hatched grey, unlike any number's colour. */
function valueGrid(parent, {queries, keys, title, hover, size = 420, digits = 1}) {
  const {node, body} = panel(parent, title);
  const frame = gridFrame(body, {rowLabels: queries, columnLabels: keys, rowTitle: QUERY_TITLE, columnTitle: KEY_TITLE,
                                 size, kind: "values"});
  const {context, cell} = frame;
  const hatch = context.createPattern(hatchTile(), "repeat");
  const pixels = new ImageData(keys.length, queries.length), small = document.createElement("canvas");  // a pixel a cell
  Object.assign(small, {width: keys.length, height: queries.length});
  const font = Math.max(8, Math.min(11, Math.floor(cell / 3)));
  const numbers = cell < 20 ? [] : queries.flatMap((_, q) => keys.map((_, k) =>  // a number only where it fits
    svg("text", {x: (k + 0.5) * cell, y: (q + 0.5) * cell, "font-size": font, class: "kit-number", "text-anchor": "middle",
                 "dominant-baseline": "central"}, frame.cells)));
  let shown = null;
  hoverCells(frame, hover, (q, k) => {
    const value = shown[q * keys.length + k];
    return [`query ${queries[q]} → key ${keys[k]}`, Number.isFinite(value) ? `score ${fixed(value, 3)}` : "−∞ (masked)"];
  });
  function update({values}) {  // each square's colour as a pixel, the pixels scaled up to squares, −∞ hatched over
    shown = values;
    let extent = 0;
    for (const value of values) if (Number.isFinite(value)) extent = Math.max(extent, Math.abs(value));
    const hatched = new Path2D();
    for (let i = 0; i < values.length; i++) {
      const value = values[i], finite = Number.isFinite(value);
      pixels.data.set(finite ? [...divergingColour(value, extent), 255] : [0, 0, 0, 0], 4 * i);
      if (!finite) hatched.rect((i % keys.length) * cell, Math.floor(i / keys.length) * cell, cell, cell);
    }
    small.getContext("2d").putImageData(pixels, 0, 0);
    context.clearRect(0, 0, keys.length * cell, queries.length * cell);
    context.imageSmoothingEnabled = false;
    context.drawImage(small, 0, 0, keys.length * cell, queries.length * cell);
    context.fillStyle = hatch;
    context.fill(hatched);
    numbers.forEach((number, i) => {
      const text = fixed(values[i], digits), written = textWidth(text, font) <= cell - 2 ? text : "";
      if (number.textContent !== written) number.textContent = written;
      number.style.fill = Number.isFinite(values[i]) ? inkOn(values[i], extent) : "#111827";
    });
  }
  return {node, update};
}

/** The −∞ squares' fill: grey hatching, 6 px a repeat. */
function hatchTile() {
  const tile = document.createElement("canvas");
  tile.width = tile.height = 6;
  const context = tile.getContext("2d");
  context.fillStyle = "#f3f4f6";
  context.fillRect(0, 0, 6, 6);
  context.strokeStyle = HATCH;
  context.lineWidth = 1.5;
  context.beginPath();
  for (const shift of [-6, 0, 6]) {
    context.moveTo(shift, 6);
    context.lineTo(shift + 6, 0);
  }
  context.stroke();
  return tile;
}

/** Bars from 0 to `maximum`, each labelled below the axis (slanted) and its value written above it where it fits: no
 * bar crosses a label. update({values, highlight}): highlight is a bar's index (the highlight colour) or -1. */
function bars(parent, {labels, title, hover, yTitle = "", maximum = 1, percent = true, width = 640, height = 200}) {
  const {node, body} = panel(parent, title);
  const count = labels.length, font = 11;
  const slanted = widest(labels, font);
  const slot = Math.max(4, Math.min(48, Math.floor((width - 60) / Math.max(count, 1))));
  const left = Math.max(56, Math.ceil(slanted * Math.cos(SLANT) - slot / 2 + 8)), top = 18;
  const bottom = Math.ceil(slanted * Math.sin(SLANT) + 14);
  const chart = svg("svg", {width: left + count * slot + 10, height: top + height + bottom, class: "kit-bars"}, body);
  const format = value => percent ? `${fixed(100 * value, slot >= 34 ? 1 : 0)}%` : fixed(value, 2);
  const y = value => top + height * (1 - Math.max(0, Math.min(value, maximum)) / maximum);
  for (const tick of niceTicks(0, maximum, 4)) {
    svg("line", {x1: left, x2: left + count * slot, y1: y(tick), y2: y(tick), class: "kit-gridline"}, chart);
    svg("text", {x: left - 6, y: y(tick), "text-anchor": "end", "dominant-baseline": "central", class: "kit-tick"}, chart)
      .textContent = percent ? `${Math.round(100 * tick)}%` : String(tick);
  }
  const middle = top + height / 2;
  svg("text", {x: 12, y: middle, transform: `rotate(-90 12 ${middle})`, "text-anchor": "middle", class: "kit-axis-title"},
      chart).textContent = yTitle;
  const rects = [], values = [];
  labels.forEach((label, i) => {
    const x = left + (i + 0.5) * slot, base = top + height + 6;
    rects.push(svg("rect", {x: left + i * slot + 0.1 * slot, width: 0.8 * slot, y: top + height, height: 0, class: "kit-bar"}, chart));
    svg("text", {x, y: base, transform: `rotate(-60 ${x} ${base})`, "text-anchor": "end", "dominant-baseline": "central",
                 "font-size": font, class: "kit-bar-label"}, chart).textContent = label;
    values.push(svg("text", {x, "text-anchor": "middle", "font-size": 10, class: "kit-bar-value"}, chart));
  });
  let shown = null;
  chart.addEventListener("pointermove", event => {
    const i = Math.floor((event.clientX - chart.getBoundingClientRect().left - left) / slot);
    if (i < 0 || i >= count || !shown) return hover.hide();
    hover.show([labels[i], format(shown[i])], event);
  });
  chart.addEventListener("pointerleave", () => hover.hide());
  function update({values: heights, highlight = -1}) {
    shown = heights;
    for (let i = 0; i < count; i++) {
      const barTop = y(heights[i]), text = format(heights[i]);
      setIfChanged(rects[i], "y", barTop.toFixed(2));
      setIfChanged(rects[i], "height", (top + height - barTop).toFixed(2));
      setIfChanged(rects[i], "class", i === highlight ? "kit-bar kit-highlight" : "kit-bar");
      setIfChanged(values[i], "y", (barTop - 4).toFixed(2));
      const shown = textWidth(text, 10) <= slot ? text : "";
      if (values[i].textContent !== shown) values[i].textContent = shown;
    }
  }
  return {node, update};
}

/** y against x as a line with a dot at each point, and a marker that moves along it (the point chosen by a control).
 * The axes are fixed by `low` and `high`, so that every curve the controls choose keeps the same frame. */
function curve(parent, {x, title, hover, low, high, xTitle = "", yTitle = "", width = 640, height = 240}) {
  const {node, body} = panel(parent, title);
  const left = 64, top = 14, bottom = 44, right = 16;
  const chart = svg("svg", {width, height: top + height + bottom, class: "kit-curve"}, body);
  const [first, last] = [Math.min(...x), Math.max(...x)];
  const px = v => left + (width - left - right) * (last > first ? (v - first) / (last - first) : 0.5);
  const py = v => top + height * (high > low ? 1 - (v - low) / (high - low) : 0.5);
  for (const tick of niceTicks(low, high, 4)) {
    svg("line", {x1: left, x2: width - right, y1: py(tick), y2: py(tick), class: "kit-gridline"}, chart);
    svg("text", {x: left - 6, y: py(tick), "text-anchor": "end", "dominant-baseline": "central", class: "kit-tick"}, chart)
      .textContent = String(tick);
  }
  for (const tick of niceTicks(first, last, 6)) {
    svg("text", {x: px(tick), y: top + height + 16, "text-anchor": "middle", class: "kit-tick"}, chart).textContent = String(tick);
  }
  svg("text", {x: left + (width - left - right) / 2, y: top + height + 38, "text-anchor": "middle", class: "kit-axis-title"},
      chart).textContent = xTitle;
  const middle = top + height / 2;
  svg("text", {x: 12, y: middle, transform: `rotate(-90 12 ${middle})`, "text-anchor": "middle", class: "kit-axis-title"},
      chart).textContent = yTitle;
  const line = svg("path", {class: "kit-line"}, chart);
  const points = Array.from(x, v => svg("circle", {cx: px(v), r: 3, class: "kit-point"}, chart));
  const marker = svg("circle", {r: 7, class: "kit-marker"}, chart);
  const label = svg("text", {class: "kit-marker-label", "text-anchor": "middle"}, chart);
  let shown = null;
  chart.addEventListener("pointermove", event => {
    const pointer = event.clientX - chart.getBoundingClientRect().left;
    let nearest = 0;
    x.forEach((v, i) => { if (Math.abs(px(v) - pointer) < Math.abs(px(x[nearest]) - pointer)) nearest = i; });
    if (shown) hover.show([`${xTitle} ${x[nearest]}`, `${yTitle} ${fixed(shown[nearest], 3)}`], event);
  });
  chart.addEventListener("pointerleave", () => hover.hide());
  function update({y, marker: index = -1}) {
    shown = y;
    line.setAttribute("d", Array.from(y, (v, i) => `${i ? "L" : "M"}${px(x[i]).toFixed(2)},${py(v).toFixed(2)}`).join(""));
    points.forEach((point, i) => point.setAttribute("cy", py(y[i]).toFixed(2)));
    const visible = index >= 0 && index < y.length;
    marker.style.display = label.style.display = visible ? "" : "none";
    if (visible) {
      marker.setAttribute("cx", px(x[index]).toFixed(2));
      marker.setAttribute("cy", py(y[index]).toFixed(2));
      label.setAttribute("x", px(x[index]).toFixed(2));
      label.setAttribute("y", (py(y[index]) - 12).toFixed(2));
      label.textContent = fixed(y[index], 3);
    }
  }
  return {node, update};
}

/** A row of controls, wrapping when the output is narrow. */
function controlRow(parent) {
  return html("div", "kit-controls", parent);
}

/** A slider from `min` to `max`; onMove(value) on every step, in the page. */
function slider(parent, {label, min, max, step = 1, value, digits = 0}, onMove) {
  const node = html("label", "kit-control kit-slider", parent);
  html("span", "kit-label", node, label);
  const input = html("input", "", node);
  Object.assign(input, {type: "range", min: String(min), max: String(max), step: String(step)});
  const readout = html("output", "kit-readout", node);
  const show = v => {
    input.value = String(v);
    readout.textContent = Number(v).toFixed(digits);
  };
  input.addEventListener("input", () => {
    readout.textContent = Number(input.value).toFixed(digits);
    onMove(Number(input.value));
  });
  show(value);
  return {node, input, set(v) { if (Number(input.value) !== v) show(v); }};
}

/** A drop-down of [value, text] options; onMove(value) when one is chosen, in the page. */
function dropdown(parent, {label, options, value}, onMove) {
  const node = html("label", "kit-control kit-dropdown", parent);
  html("span", "kit-label", node, label);
  const select = html("select", "", node);
  options.forEach(([, text], i) => { html("option", "", select, text).value = String(i); });
  const index = v => options.findIndex(([option]) => option === v);
  select.addEventListener("input", () => onMove(options[select.selectedIndex][0]));
  select.selectedIndex = index(value);
  return {node, input: select, set(v) { if (select.selectedIndex !== index(v)) select.selectedIndex = index(v); }};
}

/** A check box; onMove(true or false) when it is ticked or cleared, in the page. */
function toggle(parent, {label, value}, onMove) {
  const node = html("label", "kit-control kit-toggle", parent);
  const input = html("input", "", node);
  input.type = "checkbox";
  input.checked = Boolean(value);
  html("span", "kit-label", node, label);
  input.addEventListener("change", () => onMove(input.checked));
  return {node, input, set(v) { input.checked = Boolean(v); }};
}
