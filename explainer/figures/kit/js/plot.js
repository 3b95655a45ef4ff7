// A plot on x and y axes (linear or log) made of layers Python sends once: lines, filled step histograms, labelled
// points, arrows, a shaded band and vertical lines. Each layer's arrays may have leading axes chosen by the page's
// controls, as a stack's panels do (see views.js); the plot's other panels (text) are a stack's.

const PLOT_WIDTH = 640, PLOT_HEIGHT = 340, PLOT_LEFT = 72, PLOT_RIGHT = 24, PLOT_TOP = 16, PLOT_BOTTOM = 48;
const SUPERSCRIPT = {"-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹"};

/** A stack whose panels may be layers of one plot (drawn together, in the place of the first) beside stack panels. */
function plotView(model, root) {
  return stackView(model, root, {more: ["frame"], makePanels(body, hover) {
    const specs = model.get("panels"), layers = specs.filter(spec => spec.kind in LAYERS);
    return specs.filter(spec => !(spec.kind in LAYERS) || spec === layers[0]).map(spec => spec.kind in LAYERS
      ? plot(body, {...model.get("frame"), layers, hover}) : stackPanel(body, spec, hover, model.get("colours")));
  }});
}

/** An axis from `low` to `high` (on a log axis: their logarithms' ends, the values themselves > 0) onto [from, to] px. */
function plotAxis({low, high, log = false}, from, to) {
  const f = v => log ? Math.log10(v) : v, [a, b] = [f(low), f(high)];
  const place = v => from + (to - from) * (b > a ? (f(v) - a) / (b - a) : 0.5);
  const ticks = log
    ? Array.from({length: Math.floor(b) - Math.ceil(a) + 1}, (_, i) => Math.pow(10, Math.ceil(a) + i))
    : niceTicks(low, high, 5);
  const label = v => log ? "10" + String(Math.round(Math.log10(v))).replace(/./g, c => SUPERSCRIPT[c]) : String(v);
  return {place, ticks, label};
}

/** A kit colour (its name: "bar", "highlight", ...) or any CSS colour. */
function paint(colour) {
  return /^[a-z]+$/.test(colour) && SERIES.concat(["masked", "ink"]).includes(colour) ? `var(--kit-${colour})` : colour;
}

// Each layer kind: make(chart, spec, place) once, then draw(choice) with the chosen slices.
const LAYERS = {lines: linesLayer, steps: stepsLayer, points: pointsLayer, arrows: arrowsLayer, band: bandLayer,
                vline: vlineLayer};

/** The plot: axes, gridlines, titles, a legend above it, and its layers, back to front in the order given. */
function plot(parent, {layers, hover, x_title = "", y_title = "", x, y, equal = false, titles = [""], title_over = [],
                       title_counts = [], y_highs = null, y_over = [], y_counts = [], height = PLOT_HEIGHT}) {
  const {node, body} = panel(parent, "");
  const title = html("div", "kit-title", node);
  node.insertBefore(title, body);
  const legend = html("div", "kit-plot-legend", body);
  let legendMarkup = "";  // the last written: the DOM gives back quotes unescaped
  let width = PLOT_WIDTH, [xa, ya] = [x, y];
  if (equal) {  // one unit as many px across as up: the wider range decides, the other grows about its middle
    const across = (x.high - x.low) / (width - PLOT_LEFT - PLOT_RIGHT), up = (y.high - y.low) / height;
    const unit = Math.max(across, up), grow = (r, px) => ({...r, low: (r.low + r.high - unit * px) / 2, high: (r.low + r.high + unit * px) / 2});
    [xa, ya] = [grow(x, width - PLOT_LEFT - PLOT_RIGHT), grow(y, height)];
  }
  const chart = svg("svg", {width, height: PLOT_TOP + height + PLOT_BOTTOM, class: "kit-plot"}, body);
  const px = plotAxis(xa, PLOT_LEFT, width - PLOT_RIGHT);
  const place = {x: px.place, y: null, top: PLOT_TOP, bottom: PLOT_TOP + height, left: PLOT_LEFT, right: width - PLOT_RIGHT};
  const yTicks = svg("g", {class: "kit-y-ticks"}, chart);
  let yHigh = null;
  function yAxis(high) {  // the y axis up to `high`: its ticks and gridlines, and place.y, which the layers read
    if (high === yHigh) return;
    yHigh = high;
    const py = plotAxis({...ya, high}, PLOT_TOP + height, PLOT_TOP);
    place.y = py.place;
    yTicks.textContent = "";
    for (const tick of py.ticks) {
      svg("line", {x1: place.left, x2: place.right, y1: py.place(tick), y2: py.place(tick), class: "kit-gridline"}, yTicks);
      svg("text", {x: place.left - 6, y: py.place(tick), "text-anchor": "end", "dominant-baseline": "central", class: "kit-tick"},
          yTicks).textContent = py.label(tick);
    }
  }
  yAxis(ya.high);
  for (const tick of px.ticks) {
    svg("line", {x1: px.place(tick), x2: px.place(tick), y1: place.top, y2: place.bottom, class: "kit-gridline"}, chart);
    svg("text", {x: px.place(tick), y: place.bottom + 16, "text-anchor": "middle", class: "kit-tick"}, chart)
      .textContent = px.label(tick);
  }
  svg("rect", {x: place.left, y: place.top, width: place.right - place.left, height, class: "kit-plot-frame"}, chart);
  svg("text", {x: (place.left + place.right) / 2, y: place.bottom + PLOT_BOTTOM - 8, "text-anchor": "middle",
               class: "kit-axis-title"}, chart).textContent = x_title;
  const middle = PLOT_TOP + height / 2;
  svg("text", {x: 14, y: middle, transform: `rotate(-90 14 ${middle})`, "text-anchor": "middle", class: "kit-axis-title"},
      chart).textContent = y_title;
  const drawn = layers.map(spec => LAYERS[spec.kind](svg("g", {class: `kit-layer kit-layer-${spec.kind}`}, chart), spec, place));
  chart.addEventListener("pointermove", event => {
    const frame = chart.getBoundingClientRect(), at = [event.clientX - frame.left, event.clientY - frame.top];
    const lines = drawn.flatMap(layer => layer.describe ? layer.describe(at) : []);
    if (lines.length) hover.show(lines, event);
    else hover.hide();
  });
  chart.addEventListener("pointerleave", () => hover.hide());
  return {draw(choice) {
    if (y_highs) yAxis(y_highs[flatIndex(y_counts, y_over.map(name => choice[name]))]);
    const band = drawn.map(layer => layer.band && layer.band(choice)).find(Boolean) || null;
    const entries = [];
    drawn.forEach(layer => entries.push(...layer.draw(choice, band)));
    const shownTitle = titles[flatIndex(title_counts, title_over.map(name => choice[name]))];
    if (title.textContent !== shownTitle) title.textContent = shownTitle;
    const markup = entries.map(({name, colour, dashed, filled}) =>
      `<span class="kit-plot-key"><svg width="22" height="10">${filled
        ? `<rect x="1" y="1" width="20" height="8" style="fill: ${colour}; opacity: 0.6"></rect>`
        : `<line x1="1" x2="21" y1="5" y2="5" class="kit-line" style="stroke: ${colour}${dashed ? "; stroke-dasharray: 4 3" : ""}"></line>`
      }</svg>${escapeHtml(name)}</span>`).join("");
    if (markup !== legendMarkup) legend.innerHTML = legendMarkup = markup;
  }};
}

function seriesColour(spec, s) {
  return paint(spec.colours ? spec.colours[s % spec.colours.length] : SERIES[s % SERIES.length]);
}

/** Lines y [*over, series, point] against x [point]; NaN leaves a gap. Named series with a point to draw go in the
 * legend. */
function linesLayer(group, spec, place) {
  const x = decoded(spec.x).values, y = decoded(spec.y), count = x.length, series = y.shape[y.shape.length - 2];
  const paths = Array.from({length: series}, (_, s) => svg("path", {class: "kit-line", style: `stroke: ${seriesColour(spec, s)}${
    spec.dashed ? "; stroke-dasharray: 4 3" : ""}`}, group));
  let shown = null, names = [];
  return {
    draw(choice) {
      shown = layerSlice(spec, y, choice);
      names = spec.names ? layerTexts(spec, spec.names, spec.name_axes, y.shape, series, choice) : [];
      const entries = [];
      paths.forEach((path, s) => {
        let d = "", open = false;
        for (let i = 0; i < count; i++) {
          const value = shown[s * count + i];
          if (!Number.isFinite(value)) { open = false; continue; }
          d += `${open ? "L" : "M"}${place.x(x[i]).toFixed(2)},${place.y(value).toFixed(2)}`;
          open = true;
        }
        setIfChanged(path, "d", d);
        if (d && names[s]) entries.push({name: names[s], colour: seriesColour(spec, s), dashed: spec.dashed});
      });
      return entries;
    },
    describe([left]) {  // the values at the point nearest the pointer along x
      if (!shown || !spec.names) return [];
      let nearest = 0;
      x.forEach((v, i) => { if (Math.abs(place.x(v) - left) < Math.abs(place.x(x[nearest]) - left)) nearest = i; });
      const values = names.map((name, s) => [name, shown[s * count + nearest]]).filter(([, v]) => Number.isFinite(v));
      return values.length ? [`${spec.x_name} ${x[nearest].toLocaleString("en-US")}`,
                              ...values.map(([name, v]) => `${name}: ${v.toPrecision(3)}`)] : [];
    },
  };
}

/** Histograms [*over, series, bin] over bin edges [bin + 1] as filled step lines (a series of NaN: not drawn for that
 * choice). A name's "{share}" is written as the share of that histogram inside the plot's band (the bins between its
 * edges), computed here. */
function stepsLayer(group, spec, place) {
  const edges = decoded(spec.edges).values, shares = decoded(spec.shares), bins = edges.length - 1;
  const series = shares.shape[shares.shape.length - 2];
  const areas = Array.from({length: series}, (_, s) => svg("path", {class: "kit-steps", style: `fill: ${seriesColour(spec, s)}; stroke: ${
    seriesColour(spec, s)}`}, group));
  let shown = null, names = [];
  return {
    draw(choice, band) {
      shown = layerSlice(spec, shares, choice);
      names = layerTexts(spec, spec.names, spec.name_axes, shares.shape, series, choice);
      return areas.flatMap((area, s) => {
        if (!Number.isFinite(shown[s * bins])) {  // a series with no numbers for this choice: not drawn
          setIfChanged(area, "d", "");
          return [];
        }
        const zero = place.y(0), base = (Number.isFinite(zero) ? Math.min(place.bottom, zero) : place.bottom).toFixed(2);
        let d = `M${place.x(edges[0]).toFixed(2)},${base}`;
        for (let b = 0; b < bins; b++) {
          const top = place.y(shown[s * bins + b]).toFixed(2);
          d += `V${top}H${place.x(edges[b + 1]).toFixed(2)}`;
        }
        setIfChanged(area, "d", d + `V${base}Z`);
        let inside = 0, total = 0;
        for (let b = 0; b < bins; b++) {
          total += shown[s * bins + b];
          if (band && edges[b] >= band[0] - 1e-9 && edges[b + 1] <= band[1] + 1e-9) inside += shown[s * bins + b];
        }
        return [{name: names[s].replace("{share}", percent(total > 0 ? inside / total : 0)), colour: seriesColour(spec, s),
                 filled: true}];
      });
    },
    describe([left]) {
      if (!shown) return [];
      const b = edges.findIndex((edge, i) => i < bins && place.x(edge) <= left && left < place.x(edges[i + 1]));
      if (b < 0) return [];
      return [`${spec.x_name} ${edges[b]}–${edges[b + 1]}`, ...names.flatMap((name, s) =>
        Number.isFinite(shown[s * bins + b]) ? [`${name.split(":")[0]}: ${percent(shown[s * bins + b])}`] : [])];
    },
  };
}

/** Points xy [*over, point, 2], each labelled (labels per choice of the first `label_axes` controls). */
function pointsLayer(group, spec, place) {
  const xy = decoded(spec.xy), count = xy.shape[xy.shape.length - 2];
  const colour = paint(spec.colour), radius = spec.star ? 9 : 5;
  const marks = Array.from({length: count}, () => svg(spec.star ? "path" : "circle", {class: "kit-plot-point",
    style: `fill: ${colour}`, ...(spec.star ? {} : {r: radius})}, group));
  const texts = Array.from({length: count}, () => svg("text", {class: "kit-plot-label", "font-size": 12,
    style: `fill: ${colour}`}, group));
  let shown = null, labels = [];
  const anchors = {above: ["middle", 0, -radius - 5], below: ["middle", 0, radius + 14], left: ["end", -radius - 4, 4],
                   right: ["start", radius + 4, 4]};
  return {
    draw(choice) {
      shown = layerSlice(spec, xy, choice);
      labels = layerTexts(spec, spec.labels, spec.label_axes, xy.shape, count, choice);
      for (let i = 0; i < count; i++) {
        const cx = place.x(shown[2 * i]), cy = place.y(shown[2 * i + 1]);
        if (spec.star) setIfChanged(marks[i], "d", starPath(cx, cy, radius));
        else { setIfChanged(marks[i], "cx", cx.toFixed(2)); setIfChanged(marks[i], "cy", cy.toFixed(2)); }
        const [anchor, dx, dy] = anchors[spec.anchor];
        setIfChanged(texts[i], "x", (cx + dx).toFixed(2));
        setIfChanged(texts[i], "y", (cy + dy).toFixed(2));
        setIfChanged(texts[i], "text-anchor", anchor);
        if (texts[i].textContent !== labels[i]) texts[i].textContent = labels[i];
      }
      return [];
    },
    describe([left, top]) {
      if (!shown) return [];
      for (let i = 0; i < count; i++) {
        if (Math.hypot(place.x(shown[2 * i]) - left, place.y(shown[2 * i + 1]) - top) <= radius + 3)
          return [labels[i], `(${fixed(shown[2 * i], 3)}, ${fixed(shown[2 * i + 1], 3)})`];
      }
      return [];
    },
  };
}

/** Arrows from starts to ends [*over, arrow, 2], each in its colour, its label beside its middle. */
function arrowsLayer(group, spec, place) {
  const starts = decoded(spec.starts), ends = decoded(spec.ends), count = starts.shape[starts.shape.length - 2];
  const colour = i => paint(spec.colours[i % spec.colours.length]);
  const shafts = Array.from({length: count}, (_, i) => svg("path", {class: "kit-arrow", style: `stroke: ${colour(i)}`}, group));
  const heads = Array.from({length: count}, (_, i) => svg("path", {class: "kit-arrow-head", style: `fill: ${colour(i)}`}, group));
  const texts = Array.from({length: count}, (_, i) => svg("text", {class: "kit-plot-label kit-arrow-label", "font-size": 13,
    "text-anchor": "middle", "dominant-baseline": "central", style: `fill: ${colour(i)}`}, group));
  return {draw(choice) {
    const from = layerSlice(spec, starts, choice), to = layerSlice(spec, ends, choice);
    const labels = layerTexts(spec, spec.labels, spec.label_axes, starts.shape, count, choice);
    for (let i = 0; i < count; i++) {
      const [x0, y0, x1, y1] = [place.x(from[2 * i]), place.y(from[2 * i + 1]), place.x(to[2 * i]), place.y(to[2 * i + 1])];
      const length = Math.hypot(x1 - x0, y1 - y0) || 1, [ux, uy] = [(x1 - x0) / length, (y1 - y0) / length], head = 12;
      const [bx, by] = [x1 - ux * head, y1 - uy * head];  // where the head begins: the shaft stops there
      setIfChanged(shafts[i], "d", `M${x0.toFixed(2)},${y0.toFixed(2)}L${bx.toFixed(2)},${by.toFixed(2)}`);
      setIfChanged(heads[i], "d", `M${x1.toFixed(2)},${y1.toFixed(2)}L${(bx - uy * 5).toFixed(2)},${(by + ux * 5).toFixed(2)}` +
                   `L${(bx + uy * 5).toFixed(2)},${(by - ux * 5).toFixed(2)}Z`);
      const [mx, my] = [(x0 + x1) / 2, (y0 + y1) / 2];
      const inward = uy * ((place.left + place.right) / 2 - mx) - ux * ((place.top + place.bottom) / 2 - my) >= 0 ? 1 : -1;
      const [nx, ny] = [inward * uy, -inward * ux];  // beside the shaft, on the side of the plot's middle (more room)
      setIfChanged(texts[i], "x", (mx + 8 * nx).toFixed(2));
      setIfChanged(texts[i], "y", (my + 10 * ny).toFixed(2));
      setIfChanged(texts[i], "text-anchor", nx < -0.5 ? "end" : nx > 0.5 ? "start" : "middle");
      if (texts[i].textContent !== labels[i]) texts[i].textContent = labels[i];
    }
    return [];
  }};
}

/** A band across the plot from x = low to high [*over], shaded: the steps layers count their share inside it. */
function bandLayer(group, spec, place) {
  const low = decoded(spec.low), high = decoded(spec.high);
  const rect = svg("rect", {class: "kit-band", y: place.top, height: place.bottom - place.top}, group);
  const edges = choice => [layerSlice(spec, low, choice)[0], layerSlice(spec, high, choice)[0]];
  return {
    band: edges,
    draw(choice) {
      const [a, b] = edges(choice), [left, right] = [place.x(a), place.x(b)];
      setIfChanged(rect, "x", Math.max(place.left, left).toFixed(2));
      setIfChanged(rect, "width", Math.max(0, Math.min(place.right, right) - Math.max(place.left, left)).toFixed(2));
      return [];
    },
  };
}

/** A dotted vertical line at x [*over] from the bottom of the plot to its top, its note at the top: right of the line
 * in the left half of the plot, left of it in the right half, so that the note stays inside. */
function vlineLayer(group, spec, place) {
  const x = decoded(spec.x);
  const line = svg("line", {class: "kit-guide", y1: place.top, y2: place.bottom}, group);
  const note = svg("text", {class: "kit-plot-label", y: place.top + 14, "font-size": 12}, group);
  return {draw(choice) {
    const at = place.x(layerSlice(spec, x, choice)[0]), right = at < (place.left + place.right) / 2;
    for (const key of ["x1", "x2"]) setIfChanged(line, key, at.toFixed(2));
    setIfChanged(note, "x", (at + (right ? 6 : -6)).toFixed(2));
    setIfChanged(note, "text-anchor", right ? "start" : "end");
    const text = layerTexts(spec, spec.notes, spec.over.length, x.shape, 1, choice)[0];
    if (note.textContent !== text) note.textContent = text;
    return [];
  }};
}
