// The kit's drawing helpers: SVG and HTML elements, colours, numbers, text widths, the hover box, and the arrays
// Python sends. The kit's files are joined into one module (JupyterLab) or one script (the offline gallery), so
// their top-level names are shared between the files and stay inside that module or script.

const SVG_NS = "http://www.w3.org/2000/svg";
const FONT = '"DejaVu Sans", Verdana, sans-serif';  // kit.css sets the same
const HATCH = "#9ca3af";  // the lines of the −∞ squares' hatching
const MASKED_ALPHA = 0.6;  // masked cells: the masked colour, lightened
const DIVERGING = ["#67001f", "#b2182b", "#d6604d", "#f4a582", "#fddbc7", "#f7f7f7",
                   "#d1e5f0", "#92c5de", "#4393c3", "#2166ac", "#053061"].map(rgbOf);  // red < 0 < blue

function svg(name, attributes, parent) {
  const node = document.createElementNS(SVG_NS, name);
  for (const key in attributes) node.setAttribute(key, attributes[key]);
  if (parent) parent.appendChild(node);
  return node;
}

function html(name, className, parent, text) {
  const node = document.createElement(name);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

/** Set an attribute only if it changed: fewer mutations, less for the browser to redo. */
function setIfChanged(node, name, value) {
  if (node.getAttribute(name) !== value) node.setAttribute(name, value);
}

function rgbOf(hex) {
  return [1, 3, 5].map(i => parseInt(hex.slice(i, i + 2), 16));
}

/** A score's colour as [r, g, b]: blue above 0, red below, white at 0; `extent` (the largest |value| shown) is the
 * deepest. One of 201 shades, made once. */
function divergingColour(value, extent) {
  const t = extent > 0 ? Math.max(-1, Math.min(1, value / extent)) : 0;
  return SHADES[Math.round((t + 1) * 100)];
}

const SHADES = Array.from({length: 201}, (_, i) => {
  const x = i / 200 * (DIVERGING.length - 1), low = Math.min(Math.floor(x), DIVERGING.length - 2), f = x - low;
  const [a, b] = [DIVERGING[low], DIVERGING[low + 1]];
  return a.map((v, k) => Math.round(v + f * (b[k] - v)));
});

/** Ink that reads on a diverging colour: white on the deep ends. */
function inkOn(value, extent) {
  return extent > 0 && Math.abs(value / extent) > 0.6 ? "#ffffff" : "#1f2937";
}

const measuring = document.createElement("canvas").getContext("2d");
const widths = new Map();

function textWidth(text, px) {
  const key = `${px}|${text}`;
  if (!widths.has(key)) {
    measuring.font = `${px}px ${FONT}`;
    widths.set(key, measuring.measureText(text).width);
  }
  return widths.get(key);
}

function widest(texts, px) {
  return texts.reduce((most, text) => Math.max(most, textWidth(text, px)), 0);
}

/** Python's f"{x:.Nf}" for the numbers we show (−∞ written out). */
function fixed(value, digits) {
  return Number.isFinite(value) ? value.toFixed(digits) : (value < 0 ? "−∞" : "∞");
}

/** Python's f"{x:.1%}" (another number of digits if given). */
function percent(value, digits = 1) {
  return `${fixed(100 * value, digits)}%`;
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})[c]);
}

/** About `count` round steps covering [low, high]: the ticks of an axis. */
function niceTicks(low, high, count = 5) {
  const span = high - low || Math.abs(high) || 1;
  const raw = span / count, power = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map(m => m * power).find(s => s >= raw);
  const ticks = [];
  for (let v = Math.ceil(low / step) * step; v <= high + step * 1e-9; v += step) ticks.push(+v.toPrecision(12));
  return ticks;
}

/** One hover box for a view: shown beside the pointer over a figure, with lines of text. */
function hoverBox(root) {
  const box = html("div", "kit-hover", root);
  return {
    show(lines, event) {
      box.textContent = "";
      for (const line of lines) html("div", "", box, line);
      const frame = root.getBoundingClientRect();
      box.style.left = `${event.clientX - frame.left + 14}px`;
      box.style.top = `${event.clientY - frame.top + 10}px`;
      box.style.display = "block";
    },
    hide() { box.style.display = "none"; },
  };
}

/** An array as Python sent it ({shape, dtype, data}: its bytes as a DataView) as {shape, values: Float32Array}. */
function decoded(packed) {
  if (!packed || !packed.data) return null;
  const view = packed.data;
  const bytes = view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength);  // own copy, aligned
  return {shape: packed.shape, values: new Float32Array(bytes)};
}

/** The sub-array at the leading indices (no copy): at(patterns, layer, head) is one head's [query, key] grid. */
function at(array, ...indices) {
  let offset = 0, size = array.values.length;
  indices.forEach((index, axis) => {
    size /= array.shape[axis];
    offset += index * size;
  });
  return array.values.subarray(offset, offset + size);
}

/** A five-pointed star's path centred at (cx, cy), `r` px to its points. */
function starPath(cx, cy, r) {
  return Array.from({length: 10}, (_, i) => {
    const angle = Math.PI / 5 * i - Math.PI / 2, reach = i % 2 ? r * 0.45 : r;
    return `${i ? "L" : "M"}${(cx + reach * Math.cos(angle)).toFixed(2)},${(cy + reach * Math.sin(angle)).toFixed(2)}`;
  }).join("") + "Z";
}
