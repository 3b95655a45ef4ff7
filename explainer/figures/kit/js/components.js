// The kit's components: a dot grid (or small ones side by side), a value grid, bars, curves, text, rows of tokens,
// panels, and the controls the page answers itself.
// Each is made once for its labels and then given new numbers with update(): only what changed is touched.

const QUERY_TITLE = "query (the token being updated)", KEY_TITLE = "key (the token read)";
const AXIS_TITLE_PX = 18, SLANT = Math.PI / 3;  // slanted labels rise at 60°
const SERIES = ["bar", "highlight", "positive", "negative", "dot"];  // curves' colours, in order (--kit-<name>)

/** A titled panel: what a stack puts one above the other. */
function panel(parent, title) {
  const node = html("div", "kit-panel", parent);
  if (title) html("div", "kit-title", node, title);
  return {node, body: html("div", "kit-body", node)};
}

/** The frame of a grid of square cells: row labels on the left, column labels slanted on top, axis titles, a canvas
 * for the cells (cell (row r, column c) is the square at (c·cell, r·cell)), and over it an SVG group `cells` in the
 * same coordinates, with the lines between cells. Thousands of cells are drawn on the canvas in a few milliseconds;
 * as SVG elements the browser took 50-100 ms to paint 64 × 64 of them. A `plain` frame (a small grid among others) has
 * no labels and no titles, and cells as small as 2 px to stay within `size`. */
function gridFrame(parent, {rowLabels, columnLabels, rowTitle, columnTitle, size, kind, plain = false}) {
  const rows = rowLabels.length, columns = columnLabels.length;
  const most = Math.max(rows, columns, 1);  // cells of 9 px or more while the grid fits the output (620 px)
  const cell = plain ? Math.max(2, Math.min(34, Math.floor(size / most)))
    : Math.max(Math.min(9, Math.floor(620 / most)), Math.min(34, Math.floor(size / most)));
  const font = Math.max(7, Math.min(12, cell - 1));
  const slanted = plain ? 0 : widest(columnLabels, font);
  const left = plain ? 1 : AXIS_TITLE_PX + 8 + Math.ceil(widest(rowLabels, font));
  const top = plain ? 1 : AXIS_TITLE_PX + 8 + Math.ceil(slanted * Math.sin(SLANT) + font / 2);
  const width = left + columns * cell + (plain ? 1 : Math.max(8, Math.ceil(slanted * Math.cos(SLANT) - cell / 2 + 4)));
  const height = top + rows * cell + (plain ? 1 : 6);
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
  if (!plain) {
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
  }
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
    paintDots(frame, {weights, masked, transposed, keys: keys.length, colours});
  }
  return {node, update};
}

/** A grid frame's cells painted as dots: weights [query · key] in rows, dot area ∝ weight, masked cells grey. */
function paintDots(frame, {weights, masked, transposed, keys, colours}) {
  const {context, cell} = frame, largest = 0.95 * cell / 2;  // the radius of weight 1: a dot that fills its cell
  context.clearRect(0, 0, frame.columns * cell, frame.rows * cell);
  const place = i => {  // [x, y] of cell i's corner
    const q = Math.floor(i / keys), k = i % keys;
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

/** Several dot grids side by side, each named above it (every head of a layer), wrapping when the output is narrow:
 * small grids with no labels, their tokens named on hover, `size` px each at most. update({weights, masked,
 * transposed}): weights [tile · query · key], masked [query · key] for every tile. */
function dotTiles(parent, {queries, keys, tiles, title, hover, colours, size = 140}) {
  const {node, body} = panel(parent, title);
  const row = html("div", "kit-tiles", body), cells = queries.length * keys.length;
  let frames = [], flipped = null, shown = null, hidden = null;
  function layout(transposed) {
    row.textContent = "";
    frames = tiles.map((name, t) => {
      const tile = html("div", "kit-tile", row);
      html("div", "kit-tile-title", tile, name);
      const frame = gridFrame(tile, {rowLabels: transposed ? keys : queries, columnLabels: transposed ? queries : keys,
                                     size, kind: "dots", plain: true});
      hoverCells(frame, hover, (r, c) => {
        const [q, k] = flipped ? [c, r] : [r, c], i = q * keys.length + k;
        return [`${name}: query ${queries[q]} → key ${keys[k]}`,
                hidden && hidden[i] ? "masked" : `weight ${fixed(shown[t * cells + i], 4)}`];
      });
      return frame;
    });
  }
  function update({weights, masked = null, transposed = false}) {
    if (transposed !== flipped) layout(transposed);
    flipped = transposed;
    shown = weights;
    hidden = masked;
    frames.forEach((frame, t) => paintDots(frame, {weights: weights.subarray(t * cells, (t + 1) * cells), masked,
                                                   transposed, keys: keys.length, colours}));
  }
  return {node, update};
}

/** A square grid of numbers as squares coloured by value (blue > 0 > red, on a scale symmetric about 0 whose deepest
 * colours are ±`extent`, by default the largest |number| shown), each number written in its square when there is
 * room; −∞ cells (masked) hatched grey, unlike any number's colour. `name`: what a number is, on hover. */
function valueGrid(parent, {queries, keys, title, hover, size = 420, digits = 1, extent: fixedExtent = null,
                            rowTitle = QUERY_TITLE, columnTitle = KEY_TITLE, name = "score"}) {
  const {node, body} = panel(parent, title);
  const frame = gridFrame(body, {rowLabels: queries, columnLabels: keys, rowTitle, columnTitle, size, kind: "values"});
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
    const where = rowTitle === QUERY_TITLE ? `query ${queries[q]} → key ${keys[k]}` : `${queries[q]} and ${keys[k]}`;
    return [where, Number.isFinite(value) ? `${name} ${fixed(value, 3)}` : "−∞ (masked)"];
  });
  function update({values}) {  // each square's colour as a pixel, the pixels scaled up to squares, −∞ hatched over
    shown = values;
    let extent = fixedExtent || 0;
    if (!fixedExtent) for (const value of values) if (Number.isFinite(value)) extent = Math.max(extent, Math.abs(value));
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

/** Bars from `minimum` (0, or below it for negative values) to `maximum`, each labelled below the axis (slanted) and
 * its value written at its end where it fits (a negative bar's above the zero line): no bar crosses a label; NaN: no
 * bar. `sizing`: every label the bars may be given (the room below the axis fits the longest). update({values,
 * highlight, labels}): highlight is a bar's index (the highlight colour) or -1; labels, when each choice has its own.
 * `signed`: bars below 0 in the negative colour. */
function bars(parent, {labels, sizing = labels, title, hover, yTitle = "", maximum = 1, minimum = 0, percent = true,
                       signed = false, digits = 2, width = 640, height = 200}) {
  const {node, body} = panel(parent, title);
  const count = labels.length, font = 11;
  const slanted = widest(sizing, font);
  const slot = Math.max(4, Math.min(48, Math.floor((width - 60) / Math.max(count, 1))));
  const left = Math.max(56, Math.ceil(slanted * Math.cos(SLANT) - slot / 2 + 8)), top = 18;
  const bottom = Math.ceil(slanted * Math.sin(SLANT) + 14);
  const chart = svg("svg", {width: left + count * slot + 10, height: top + height + bottom, class: "kit-bars"}, body);
  const format = value => !Number.isFinite(value) ? ""
    : percent ? `${fixed(100 * value, slot >= 34 ? 1 : 0)}%` : fixed(value, digits);
  const y = value => top + height * (maximum - Math.max(minimum, Math.min(value, maximum))) / (maximum - minimum);
  const zero = y(0);
  for (const tick of niceTicks(minimum, maximum, 4)) {
    svg("line", {x1: left, x2: left + count * slot, y1: y(tick), y2: y(tick), class: tick === 0 ? "kit-zeroline" : "kit-gridline"},
        chart);
    svg("text", {x: left - 6, y: y(tick), "text-anchor": "end", "dominant-baseline": "central", class: "kit-tick"}, chart)
      .textContent = percent ? `${Math.round(100 * tick)}%` : String(tick);
  }
  const middle = top + height / 2;
  svg("text", {x: 12, y: middle, transform: `rotate(-90 12 ${middle})`, "text-anchor": "middle", class: "kit-axis-title"},
      chart).textContent = yTitle;
  const rects = [], values = [], names = [];
  let current = labels;
  labels.forEach((label, i) => {
    const x = left + (i + 0.5) * slot, base = top + height + 6;
    rects.push(svg("rect", {x: left + i * slot + 0.1 * slot, width: 0.8 * slot, y: zero, height: 0, class: "kit-bar"}, chart));
    names.push(svg("text", {x, y: base, transform: `rotate(-60 ${x} ${base})`, "text-anchor": "end",
                            "dominant-baseline": "central", "font-size": font, class: "kit-bar-label"}, chart));
    names[i].textContent = label;
    values.push(svg("text", {x, "text-anchor": "middle", "font-size": 10, class: "kit-bar-value"}, chart));
  });
  let shown = null;
  chart.addEventListener("pointermove", event => {
    const i = Math.floor((event.clientX - chart.getBoundingClientRect().left - left) / slot);
    if (i < 0 || i >= count || !shown || !Number.isFinite(shown[i])) return hover.hide();
    hover.show([current[i], format(shown[i])], event);
  });
  chart.addEventListener("pointerleave", () => hover.hide());
  function update({values: heights, highlight = -1, labels: now = null}) {
    shown = heights;
    if (now) current = now;
    for (let i = 0; i < count; i++) {
      const value = heights[i], end = Number.isFinite(value) ? y(value) : zero, text = format(value);
      setIfChanged(rects[i], "y", Math.min(end, zero).toFixed(2));
      setIfChanged(rects[i], "height", Math.abs(zero - end).toFixed(2));
      setIfChanged(rects[i], "class", i === highlight ? "kit-bar kit-highlight"
        : signed && value < 0 ? "kit-bar kit-negative" : "kit-bar");
      setIfChanged(values[i], "y", (Math.min(end, zero) - 4).toFixed(2));
      const written = textWidth(text, 10) <= slot ? text : "";
      if (values[i].textContent !== written) values[i].textContent = written;
      if (now && names[i].textContent !== now[i]) names[i].textContent = now[i];
    }
  }
  return {node, update};
}

/** y against x as a line with a dot at each point, and a marker that moves along it (the point chosen by a control).
 * With `names`, one line per name in its own colour, a legend above, and the marker a vertical line across them.
 * `xLabels` name the points along the x axis (slanted) instead of numbers. The axes are fixed by `low` and `high`,
 * so that every curve the controls choose keeps the same frame. update({y, marker}): y [curve · point]. */
function curve(parent, {x, title, hover, low, high, xTitle = "", yTitle = "", names = null, xLabels = null, width = 640,
                        height = 240}) {
  const {node, body} = panel(parent, title);
  const series = names || [yTitle], count = x.length, font = 11;
  const slanted = xLabels ? widest(xLabels, font) : 0;
  const left = 64, top = names ? 34 : 14, right = xLabels ? Math.max(16, Math.ceil(slanted * Math.cos(SLANT))) : 16;
  const bottom = xLabels ? Math.ceil(slanted * Math.sin(SLANT) + 32) : 44;
  const chart = svg("svg", {width, height: top + height + bottom, class: "kit-curve"}, body);
  const pad = xLabels ? 0.5 : 0;  // named points sit in the middle of their slots, as bars do
  const [first, last] = [Math.min(...x) - pad, Math.max(...x) + pad];
  const px = v => left + (width - left - right) * (last > first ? (v - first) / (last - first) : 0.5);
  const py = v => top + height * (high > low ? 1 - (v - low) / (high - low) : 0.5);
  for (const tick of niceTicks(low, high, 4)) {
    svg("line", {x1: left, x2: width - right, y1: py(tick), y2: py(tick), class: "kit-gridline"}, chart);
    svg("text", {x: left - 6, y: py(tick), "text-anchor": "end", "dominant-baseline": "central", class: "kit-tick"}, chart)
      .textContent = String(tick);
  }
  if (xLabels) {
    xLabels.forEach((label, i) => {
      const at = px(x[i]), base = top + height + 8;
      svg("text", {x: at, y: base, transform: `rotate(-60 ${at} ${base})`, "text-anchor": "end",
                   "dominant-baseline": "central", class: "kit-tick"}, chart).textContent = label;
    });
  } else {
    for (const tick of niceTicks(first, last, 6)) {
      svg("text", {x: px(tick), y: top + height + 16, "text-anchor": "middle", class: "kit-tick"}, chart).textContent = String(tick);
    }
  }
  svg("text", {x: left + (width - left - right) / 2, y: top + height + bottom - 6, "text-anchor": "middle",
               class: "kit-axis-title"}, chart).textContent = xTitle;
  const middle = top + height / 2;
  svg("text", {x: 12, y: middle, transform: `rotate(-90 12 ${middle})`, "text-anchor": "middle", class: "kit-axis-title"},
      chart).textContent = yTitle;
  const colour = s => `var(--kit-${SERIES[s % SERIES.length]})`;
  if (names) {
    let at = left;
    names.forEach((name, s) => {
      svg("line", {x1: at, x2: at + 20, y1: 12, y2: 12, class: "kit-line", style: `stroke: ${colour(s)}`}, chart);
      svg("text", {x: at + 26, y: 12, "dominant-baseline": "central", class: "kit-legend"}, chart).textContent = name;
      at += 26 + textWidth(name, 12) + 22;
    });
  }
  const guide = svg("line", {y1: top, y2: top + height, class: "kit-guide"}, chart);
  const lines = series.map((_, s) => svg("path", {class: "kit-line", style: names ? `stroke: ${colour(s)}` : ""}, chart));
  const points = series.map((_, s) => Array.from(x, v => svg("circle", {cx: px(v), r: 3, class: "kit-point",
                                                                         style: names ? `fill: ${colour(s)}` : ""}, chart)));
  const marker = svg("circle", {r: 7, class: "kit-marker"}, chart);
  const label = svg("text", {class: "kit-marker-label", "text-anchor": "middle"}, chart);
  let shown = null;
  chart.addEventListener("pointermove", event => {
    const pointer = event.clientX - chart.getBoundingClientRect().left;
    let nearest = 0;
    x.forEach((v, i) => { if (Math.abs(px(v) - pointer) < Math.abs(px(x[nearest]) - pointer)) nearest = i; });
    if (!shown) return;
    const where = xLabels ? xLabels[nearest] : `${xTitle} ${x[nearest]}`;
    hover.show([where, ...series.map((name, s) => `${name} ${fixed(shown[s * count + nearest], 3)}`)], event);
  });
  chart.addEventListener("pointerleave", () => hover.hide());
  function update({y, marker: index = -1}) {
    shown = y;
    series.forEach((_, s) => {
      const at = i => py(y[s * count + i]).toFixed(2);
      lines[s].setAttribute("d", Array.from(x, (v, i) => `${i ? "L" : "M"}${px(v).toFixed(2)},${at(i)}`).join(""));
      points[s].forEach((point, i) => point.setAttribute("cy", at(i)));
    });
    const visible = index >= 0 && index < count;
    guide.style.display = visible && names ? "" : "none";
    marker.style.display = label.style.display = visible && !names ? "" : "none";
    if (!visible) return;
    const cx = px(x[index]).toFixed(2);
    if (names) {
      guide.setAttribute("x1", cx);
      guide.setAttribute("x2", cx);
      return;
    }
    marker.setAttribute("cx", cx);
    marker.setAttribute("cy", py(y[index]).toFixed(2));
    label.setAttribute("x", cx);
    label.setAttribute("y", (py(y[index]) - 12).toFixed(2));
    label.textContent = fixed(y[index], 3);
  }
  return {node, update};
}

/** HTML that Python wrote, one piece for each choice: update({markup}) shows the chosen one (written only when it
 * changed). */
function textPanel(parent, {title}) {
  const {node, body} = panel(parent, title);
  body.classList.add("kit-text");
  let shown = null;
  return {node, update({markup}) {
    if (markup !== shown) body.innerHTML = shown = markup;
  }};
}

/** Rows of tokens, each boxed, the last of each row marked (`marked`); before each row its label (`rowLabels`) and a
 * number, after each token its score (signed: +0.52). update({ids, numbers, scores}): ids [row · slot] into `vocabulary` (−1: empty),
 * numbers [row], scores [row · slot]. */
function tokenRows(parent, {vocabulary, slots, rowLabels = null, marked = true, digits = 2, title}) {
  const {node, body} = panel(parent, title);
  const table = html("table", "kit-token-rows", body);
  let shown = null;
  function update({ids, numbers = null, scores = null}) {
    const rows = [];
    for (let r = 0; r < ids.length / slots; r++) {
      const cells = [];
      let last = -1;
      for (let t = 0; t < slots; t++) if (ids[r * slots + t] >= 0) last = t;
      for (let t = 0; t <= last; t++) {
        const id = ids[r * slots + t];
        if (id < 0) continue;
        const value = scores && scores[r * slots + t];
        const score = scores ? `<span class="kit-token-score">${value > 0 ? "+" : ""}${fixed(value, digits)}</span>` : "";
        cells.push(`<span class="kit-token${marked && t === last ? " kit-marked" : ""}">${escapeHtml(vocabulary[id])}</span>${score}`);
      }
      rows.push("<tr>" + (rowLabels ? `<th>${escapeHtml(rowLabels[r])}</th>` : "")
        + (numbers ? `<td class="kit-token-number">${fixed(numbers[r], digits)}</td>` : "")
        + `<td>${cells.join(scores ? " · " : "")}</td></tr>`);
    }
    const markup = rows.join("");
    if (markup !== shown) table.innerHTML = shown = markup;
  }
  return {node, update};
}

/** A row of controls, wrapping when the output is narrow. */
function controlRow(parent) {
  return html("div", "kit-controls", parent);
}

/** A slider from `min` to `max`; onMove(value) on every step, in the page. Its readout is the value, or with `labels`
 * the label of the index chosen (a stage's name, a training step). */
function slider(parent, {label, min, max, step = 1, value, digits = 0, labels = null}, onMove) {
  const node = html("label", "kit-control kit-slider", parent);
  html("span", "kit-label", node, label);
  const input = html("input", "", node);
  Object.assign(input, {type: "range", min: String(min), max: String(max), step: String(step)});
  const readout = html("output", "kit-readout", node);
  const written = v => labels ? labels[Number(v)] : Number(v).toFixed(digits);
  const show = v => {
    input.value = String(v);
    readout.textContent = written(v);
  };
  input.addEventListener("input", () => {
    readout.textContent = written(input.value);
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
