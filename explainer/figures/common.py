"""Pieces every concept's figures use: bars, heatmaps, the attention dot grid, sliders, and widgets that show their
own errors. Figures are sized to fit a 1280-px JupyterLab window with the file browser open (about 800 px of output
width): wide ones take the container's width, square ones stay under MAX_WIDTH."""

from __future__ import annotations

import html
import math
import os
import sys
import threading
import warnings
from contextlib import nullcontext
from typing import Callable, Iterable, Sequence

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import qualitative

from explainer.errors import ExplainerError
from explainer.figures.kit import Control, Stack
from explainer.style import BAR_COLOR, DOT_COLOR, HIGHLIGHT_COLOR, display_token, quoted

MAX_WIDTH = 760  # pixels: the widest a fixed-size figure may be
MAX_DOT_SIZE = 34  # pixels across for weight 1
MASKED_FILL = "rgba(209, 213, 219, 0.45)"  # masked (future) cells: a light grey
ERROR_STYLE = "color:#b91c1c"
NOTE_STYLE = "color:#b45309"


# ---------- the look of static figures, and how a notebook shows them ----------

GRID = "#EBF0F8"
AXIS = dict(gridcolor=GRID, linecolor=GRID, zerolinecolor=GRID, zerolinewidth=2, ticks="", automargin=True,
            title_standoff=15)
COLORBAR = dict(colorbar=dict(outlinewidth=0, ticks=""))
# Every figure is white: plotly_white's look for the traces we draw. plotly_white itself also styles 3-D scenes,
# maps and two dozen trace types; validating it took 0.25 s of every notebook's first cell. Set once here: a template
# named in a figure's layout is checked property by property each time, the default one is taken as it is.
pio.templates["explainer"] = go.layout.Template(
    layout=dict(autotypenumbers="strict", colorway=qualitative.Plotly, font_color="#2a3f5f",
                hovermode="closest", hoverlabel_align="left", paper_bgcolor="white", plot_bgcolor="white",
                xaxis=AXIS, yaxis=AXIS, title_x=0.05, shapedefaults_line_color="#2a3f5f",
                annotationdefaults=dict(arrowcolor="#2a3f5f", arrowhead=0, arrowwidth=1)),
    data=dict(heatmap=[COLORBAR], contour=[COLORBAR], bar=[dict(marker_line=dict(color="white", width=0.5))]))
pio.templates.default = "explainer"
# Static figures go to the page as plotly's JSON, which JupyterLab's plotly renderer (the jupyterlab-plotly extension
# installed with plotly) draws; a choice made outside (PLOTLY_RENDERER) wins.
if "PLOTLY_RENDERER" not in os.environ:
    pio.renderers.default = "plotly_mimetype"

# ---------- widgets that report their own errors ----------

class Explorer:
    """A widget with a status line of its own. Callbacks wired through `watch`, `on_click` or `safely` never fail
    silently: an exception becomes one line in the status (what was wrong, what to do), and warnings (e.g. a prompt
    cropped to the context window) become notes. `self.widget` is what a notebook displays."""

    widget: widgets.Widget

    def __init__(self) -> None:
        self.status = widgets.HTML()
        self.status.add_class("explainer-status")

    def safely(self, callback: Callable[[], object]) -> bool:
        """Run `callback`; show its error or warnings in the status line. True if it succeeded. On the kernel's main
        thread (a control moved) torch runs on one thread: see `torch_on_one_thread`."""
        on_main_thread = threading.current_thread() is threading.main_thread()
        try:
            with torch_on_one_thread() if on_main_thread else nullcontext(), warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                callback()
        except ExplainerError as error:
            self.show_error(str(error))
            return False
        except Exception as error:  # a bug, but the learner must still see it here, not only in the log console
            self.show_error(f"{type(error).__name__}: {error} (an unexpected error in explainer; the other controls still work)")
            return False
        notes = list(dict.fromkeys(str(w.message) for w in caught))
        self.status.value = "".join(f"<div style='{NOTE_STYLE}'>{html.escape(n)}</div>" for n in notes)
        return True

    def show_error(self, message: str) -> None:
        line = message.strip().splitlines()[0] if message.strip() else "something went wrong"
        self.status.value = f"<div style='{ERROR_STYLE}'>⚠ {html.escape(line)}</div>"

    def watch(self, controls: Iterable[widgets.Widget], callback: Callable[[], object]) -> None:
        """Call `callback` (through `safely`) whenever one of the controls' values changes."""
        for control in controls:
            control.observe(lambda change: moved(change) and self.safely(callback), names="value")

    def on_click(self, button: widgets.Button, callback: Callable[[], object]) -> None:
        button.on_click(lambda _button: self.safely(callback))


def moved(change: dict) -> bool:
    """False for a float that changed by rounding only: a slider drawn in the page snaps its value to its step grid
    (a temperature of 1.0 from 0.05 in steps of 0.05 becomes 1.0000000000000002) and sends it back, which would
    compute and redraw everything it drives once more for nothing."""
    old, new = change["old"], change["new"]
    return not (isinstance(old, float) and isinstance(new, float) and math.isclose(old, new, rel_tol=1e-12))


def torch_on_one_thread():
    """`explainer.gpt.device.one_thread` if torch is loaded. Figures do not load it themselves: notebook 04 (GloVe and
    plain numpy) never needs it, and torch takes about 2 s to import."""
    if "torch" not in sys.modules:
        return nullcontext()
    from explainer.gpt.device import one_thread  # torch is loaded already: this costs nothing

    return one_thread()


def int_slider(description: str, maximum: int, value: int = 0, minimum: int = 0, **options) -> widgets.IntSlider:
    return widgets.IntSlider(value=value, min=minimum, max=maximum, description=description, continuous_update=True,
                             style={"description_width": "initial"}, **options)


def prompt_box(prompt: str, rows: int = 2) -> widgets.Textarea:
    """A prompt editor that applies on Tab or a click outside (not on every key)."""
    return widgets.Textarea(value=prompt, description="prompt", continuous_update=False,
                            layout=widgets.Layout(width="100%", max_width="640px", height=f"{30 * rows + 10}px"))


def nearest(values: Sequence[float], value: float) -> int:
    """The index of the value nearest `value` (a slider's position for a value between its steps)."""
    return min(range(len(values)), key=lambda i: abs(values[i] - value))


def row(*children: widgets.Widget) -> widgets.HBox:
    """Controls side by side, wrapping onto the next line when the window is narrow."""
    return widgets.HBox(list(children), layout=widgets.Layout(flex_flow="row wrap"))


def html_tokens(tokens: Sequence[str], highlight: int | None = None) -> str:
    """Tokens as boxed spans, one highlighted."""
    spans = []
    for i, token in enumerate(tokens):
        style = "background:#fde68a;font-weight:bold;" if i == highlight else "background:#eef2ff;"
        spans.append(f"<span style='{style}border-radius:3px;padding:0 2px;margin:0 1px'>{html.escape(display_token(token))}</span>")
    return "<code style='white-space:pre-wrap'>" + "".join(spans) + "</code>"


# ---------- figures ----------

def base_layout(figure: go.Figure, title: str = "", height: int = 420, **layout) -> go.Figure:
    """The title kept inside the figure, the width left to the container (the white template is the default)."""
    figure.update_layout(title=title_above(title), height=height,
                         margin=dict(l=60, r=20, t=40, b=60), autosize=True, **layout)
    return figure


def title_above(text: str) -> dict:
    """A title pinned to the top of the figure that pushes the plot down to make room. One line only: plotly places
    a second line, or a subtitle, by measuring text, and a figure drawn before it is on screen measures zero."""
    return dict(text=text, x=0, xanchor="left", xref="container", y=1, yanchor="top", yref="container",
                pad=dict(t=12, l=12), automargin=True)


def bar_colors(count: int, highlight: int) -> list[str]:
    """One colour per bar, bar `highlight` (-1: none) in the highlight colour."""
    return [HIGHLIGHT_COLOR if i == highlight else BAR_COLOR for i in range(count)]


def next_token_bars(tokens: Sequence[str], probs: Sequence[float], title: str = "") -> go.Figure:
    """Bar chart of next-token probabilities, the most likely token highlighted."""
    probs = [float(p) for p in probs]
    best = max(range(len(probs)), key=probs.__getitem__)
    figure = go.Figure(go.Bar(
        x=[display_token(t) for t in tokens], y=probs, text=[f"{p:.1%}" for p in probs], textposition="outside",
        marker_color=bar_colors(len(probs), best),
        cliponaxis=False, hovertemplate="%{x}: %{y:.4f}<extra></extra>",
    ))
    base_layout(figure, title, yaxis=dict(title="probability", range=[0, 1.12], tickformat=".0%"),
                xaxis=dict(title="next token", type="category", automargin=True))
    return figure


def heatmap(values, x_labels: Sequence[str], y_labels: Sequence[str], title: str = "", colorscale: str = "RdBu",
            zmid: float | None = 0.0, x_title: str = "", y_title: str = "", height: int = 460) -> go.Figure:
    """A labelled heatmap of a 2-D array (scores, embeddings, similarities); non-finite cells are left blank."""
    figure = go.Figure(go.Heatmap(
        z=[[None if not math.isfinite(float(v)) else float(v) for v in row] for row in values.tolist()],
        x=list(x_labels), y=list(y_labels), colorscale=colorscale, zmid=zmid,
        hovertemplate="%{y} · %{x}: %{z:.3f}<extra></extra>",
    ))
    return base_layout(figure, title, height=height, xaxis=dict(title=x_title, type="category", tickangle=-60,
                                                               automargin=True),
                       yaxis=dict(title=y_title, type="category", autorange="reversed", automargin=True))


LABEL_PLACES = {"top center": (0, 1), "bottom center": (0, -1), "middle right": (1, 0), "middle left": (-1, 0)}


def label_places(x, y, labels: Sequence[str], plot_px: tuple[int, int] = (640, 420), font_px: int = 11) -> list[str]:
    """A textposition for each point's label, chosen greedily so labels do not cover one another or other points:
    the first of top, bottom, right, left that is free, else the least covered. Sizes are estimated in pixels for a
    plot area of `plot_px` (a character is about 0.6 of the font size wide)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    scale = np.array(plot_px) / np.maximum([np.ptp(x), np.ptp(y)], 1e-9)  # data units -> pixels
    points = np.stack([x, y], axis=1) * scale
    boxes: list[tuple[float, float, float, float]] = [(px - 4, py - 4, px + 4, py + 4) for px, py in points]

    def covered(box) -> float:
        return sum(max(0.0, min(box[2], b[2]) - max(box[0], b[0])) * max(0.0, min(box[3], b[3]) - max(box[1], b[1]))
                   for b in boxes)

    places = []
    for (px, py), label in zip(points, labels):
        half_w, half_h = 0.3 * font_px * len(label), 0.6 * font_px
        candidates = []
        for place, (dx, dy) in LABEL_PLACES.items():
            cx, cy = px + dx * (half_w + 5), py + dy * (half_h + 5)
            candidates.append((place, (cx - half_w, cy - half_h, cx + half_w, cy + half_h)))
        place, box = min(candidates, key=lambda c: covered(c[1]))  # ties keep the earlier place
        places.append(place)
        boxes.append(box)
    return places


def scored_tokens(pairs: Iterable[tuple[str, float]], number: str = "{:.2f}") -> str:
    """Tokens with a number each, quoted so that punctuation reads as a token: “:” 0.99 · “,” 0.01."""
    return " · ".join(f"{quoted(token)} {number.format(value)}" for token, value in pairs)


def token_labels(tokens: Sequence[str], first_position: int = 0) -> list[str]:
    """Each token with its position, "3:␣soft": the labels of a grid's rows and columns."""
    return [f"{first_position + i}:{display_token(t)}" for i, t in enumerate(tokens)]


def dot_grid(
    pattern, tokens: Sequence[str], transpose: bool = False, title: str = "",
    masked=None, max_size: float | None = None, size_px: int = 480, query_tokens: Sequence[str] | None = None,
    first_position: int = 0,
) -> go.Figure:
    """Attention as a grid of dots (area ∝ weight). Rows = queries, columns = keys; `transpose` gives the
    3Blue1Brown layout (queries as columns). `masked` ([n, n] booleans) marks cells drawn as grey crosses.
    `first_position` numbers the labels when the grid shows a window of a longer text."""
    grid = np.asarray(pattern, dtype=float)
    n_query, n_key = grid.shape
    size_px = min(size_px, MAX_WIDTH - 170)
    if max_size is None:  # a weight-1 dot fills its cell
        max_size = min(MAX_DOT_SIZE, 0.95 * size_px / max(n_query, n_key))
    keys = token_labels(tokens, first_position)[-n_key:]
    queries = token_labels(query_tokens or tokens, first_position)[-n_query:]
    masked = np.asarray(masked, dtype=bool) if masked is not None else np.zeros((n_query, n_key), dtype=bool)
    shown = np.argwhere(~masked)  # (query, key) pairs, row by row
    x, y = (shown[:, 0], shown[:, 1]) if transpose else (shown[:, 1], shown[:, 0])  # numeric places: fast to redraw
    weights = np.where(masked, 0.0, grid)[shown[:, 0], shown[:, 1]]
    figure = go.Figure(go.Scatter(
        x=x, y=y, mode="markers", name="weight", text=[f"query {queries[q]} → key {keys[k]}" for q, k in shown],
        marker=dict(size=max_size * np.sqrt(np.clip(weights, 0, None)), color=DOT_COLOR, line=dict(width=0)),
        customdata=weights, meta=max_size, hovertemplate="%{text}<br>weight %{customdata:.4f}<extra></extra>",
    ))
    if masked.any():  # one grey shape over all masked cells: drawn distinctly
        add_masked_shape(figure, masked, transpose)
    return grid_layout(figure, queries, keys, transpose, title, size_px)


def grid_block(patterns, names: Sequence[Sequence[str]], labels: Sequence[str], dot_size: float) -> list[go.Scatter]:
    """Causal attention patterns [rows, columns, query, key] as small grids side by side in one subplot (queries down,
    keys across; a grid's cell is one axis unit, grids `grid_step` units apart): one grey shape over every masked cell
    and one trace of dots (area ∝ weight; `dot_size` px for a weight of 1) for all the grids, so that a figure of
    many grids draws, and redraws, like one. Hover: "names[row][column]: query labels[q] → key labels[k]"."""
    patterns = np.asarray(patterns, dtype=float)
    rows, columns, n = patterns.shape[0], patterns.shape[1], patterns.shape[-1]
    x, y, text = grid_block_cells(rows, columns, n, names, labels)
    weights = grid_block_weights(patterns)
    return [grid_block_mask(rows, columns, n),
            go.Scatter(x=x, y=y, mode="markers", text=text, customdata=weights, meta=dot_size,
                       marker=dict(size=dot_size * np.sqrt(weights), color=DOT_COLOR, line=dict(width=0)),
                       hovertemplate="%{text}<br>weight %{customdata:.3f}<extra></extra>")]


def grid_block_heatmap(patterns, names: Sequence[Sequence[str]], labels: Sequence[str]) -> list[go.BaseTraceType]:
    """Causal attention patterns [rows, columns, query, key] laid out like `grid_block`, coloured by weight (white 0,
    blue 1) instead of dotted: one heatmap for all the grids, which the browser draws as one image. For a block that
    no control moves: thousands of dots are thousands of elements that the page sorts into layers again whenever
    anything near them is redrawn (15-20 ms a frame for 2,275 dots)."""
    patterns = np.asarray(patterns, dtype=float)
    rows, columns, n = patterns.shape[0], patterns.shape[1], patterns.shape[-1]
    step = grid_step(n)
    x, y, text = grid_block_cells(rows, columns, n, names, labels)
    weights = np.full((rows * step - 2, columns * step - 2), np.nan)  # [y, x]: gaps and masked cells stay empty
    hover = np.full(weights.shape, "", dtype=object)
    weights[y, x], hover[y, x] = grid_block_weights(patterns), text
    return [go.Heatmap(z=weights, text=hover, zmin=0, zmax=1, colorscale=[[0, "white"], [1, DOT_COLOR]], hoverongaps=False,
                       colorbar=dict(title=dict(text="weight", side="right"), thickness=12, len=0.6, outlinewidth=0),
                       hovertemplate="%{text}<br>weight %{z:.3f}<extra></extra>"),
            grid_block_mask(rows, columns, n)]


def grid_block_cells(rows: int, columns: int, n: int, names: Sequence[Sequence[str]], labels: Sequence[str]):
    """Each cell up to the diagonal of a block of causal n × n grids, in `grid_block_weights`' order: its x and y in
    axis units, and its hover text."""
    step = grid_step(n)
    query, key = np.tril_indices(n)
    row, column = np.divmod(np.arange(rows * columns), columns)
    text = [f"{names[r][c]}: query {labels[q]} → key {labels[k]}" for r, c in zip(row, column) for q, k in zip(query, key)]
    return (key + column[:, None] * step).ravel(), (query + row[:, None] * step).ravel(), text


def grid_block_mask(rows: int, columns: int, n: int) -> go.Scatter:
    """One grey shape over the masked (future) cells of every grid of a block of causal n × n grids."""
    step = grid_step(n)
    outline = masked_outline(np.triu(np.ones((n, n), dtype=bool), 1))  # (key, query)
    gap = np.array([[np.nan, np.nan]])
    shape = np.concatenate([np.concatenate([outline + [c * step, r * step], gap])
                            for r in range(rows) for c in range(columns)])
    return go.Scatter(x=shape[:, 0], y=shape[:, 1], mode="lines", fill="toself", line=dict(width=0),
                      fillcolor=MASKED_FILL, hoverinfo="skip")


def grid_step(n: int) -> int:
    """Axis units from one grid of `grid_block` to the next: its n cells and a gap of two."""
    return n + 2


def grid_block_weights(patterns) -> np.ndarray:
    """The weights of a block's cells up to the diagonal (`grid_block`'s dots), grid by grid, row by row."""
    patterns = np.asarray(patterns, dtype=float)
    query, key = np.tril_indices(patterns.shape[-1])
    return np.clip(patterns[..., query, key], 0, None).ravel()


def value_grid(values, tokens: Sequence[str], title: str = "", size_px: int = 420) -> go.Figure:
    """A square [n, n] array (attention scores) as a grid of squares coloured by value, blue above 0 and red below,
    laid out like `dot_grid` (rows = queries, columns = keys); non-finite cells (−∞) are masked, grey."""
    grid = np.asarray(values, dtype=float)
    n = grid.shape[0]
    size_px = min(size_px, MAX_WIDTH - 170)
    labels = token_labels(tokens)
    query, key = np.divmod(np.arange(n * n), n)  # every cell, row by row
    masked = ~np.isfinite(grid)
    figure = go.Figure(go.Scatter(
        x=key, y=query, mode="markers", name="score",
        text=[f"query {labels[q]} → key {labels[k]}" for q, k in zip(query, key)],
        marker=dict(symbol="square", size=0.95 * size_px / n, line=dict(width=0), colorscale="RdBu", showscale=True,
                    **square_colors(grid)),
        customdata=score_texts(grid),
        hovertemplate="%{text}<br>score %{customdata}<extra></extra>",
    ))
    add_masked_shape(figure, masked, transpose=False)
    return grid_layout(figure, labels, labels, False, title, size_px)


def score_texts(grid: np.ndarray) -> list[str]:
    """Each cell's score as hover text, a masked (non-finite) one as −∞."""
    return [f"{v:.3f}" if np.isfinite(v) else "−∞" for v in grid.ravel()]


def square_colors(grid: np.ndarray) -> dict:
    """A value grid's marker colours: the values, on a scale symmetric about 0 (masked cells at 0, under the grey)."""
    finite = np.isfinite(grid)
    extent = float(np.abs(grid[finite]).max()) if finite.any() else 1.0
    return dict(color=np.where(finite, grid, 0.0).ravel(), cmin=-extent, cmax=extent)


def add_masked_shape(figure: go.Figure, masked: np.ndarray, transpose: bool) -> None:
    """One grey shape over a grid's masked cells (trace 1): drawn distinctly, and cheap to redraw."""
    x_line, y_line = outline_xy(masked, transpose)
    figure.add_trace(go.Scatter(x=x_line, y=y_line, mode="lines", fill="toself", name="masked", meta=transpose,
                                fillcolor=MASKED_FILL, line=dict(width=0), hoverinfo="skip"))


def grid_layout(figure: go.Figure, queries: Sequence[str], keys: Sequence[str], transpose: bool, title: str,
                size_px: int) -> go.Figure:
    """The axes of a grid of cells at integer places: token labels on top and left, the first token at the top."""
    query_axis = dict(title="query (the token being updated)", tickvals=list(range(len(queries))), ticktext=list(queries),
                      range=[-0.5, len(queries) - 0.5])
    key_axis = dict(title="key (the token read)", tickvals=list(range(len(keys))), ticktext=list(keys),
                    range=[-0.5, len(keys) - 0.5])
    x_axis, y_axis = (query_axis, key_axis) if transpose else (key_axis, query_axis)
    y_axis["range"] = y_axis["range"][::-1]  # the first token at the top
    figure.update_layout(
        title=title_above(title), showlegend=False,
        width=size_px + 170, height=size_px + 190, autosize=False,
        xaxis=dict(**x_axis, side="top", tickangle=-60, scaleanchor="y", zeroline=False, showgrid=True),
        yaxis=dict(**y_axis, zeroline=False, showgrid=True),
        margin=dict(l=140, r=20, t=190, b=20),
    )
    return figure


def outline_xy(masked: np.ndarray, transpose: bool) -> tuple[np.ndarray, np.ndarray]:
    """The masked cells' outline as the (x, y) of a dot grid's shape trace."""
    outline = masked_outline(masked)
    return (outline[:, 1], outline[:, 0]) if transpose else (outline[:, 0], outline[:, 1])


def masked_outline(masked: np.ndarray) -> np.ndarray:
    """The outline (key, query) of the masked cells as one polygon, when every row's masked cells are a run to the
    row's end (a causal mask); else one square per cell, separated by gaps."""
    n_query, n_key = masked.shape
    starts = [int(np.argmax(row)) if row.any() else n_key for row in masked]
    if all(row[start:].all() and not row[:start].any() for row, start in zip(masked, starts)):
        left = [(s - 0.5, y) for q, s in enumerate(starts) for y in (q - 0.5, q + 0.5)]
        return np.array(left + [(n_key - 0.5, n_query - 0.5), (n_key - 0.5, -0.5), left[0]])
    corners = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5], [-0.5, -0.5], [np.nan, np.nan]])
    cells = np.argwhere(masked)[:, ::-1]  # (key, query)
    return (cells[:, None, :] + corners[None]).reshape(-1, 2)


class LayerTokenExplorer(Explorer):
    """A prompt's panels for every layer and token (from `panels(lm, prompt)`), sent to the page once (a kit Stack);
    the layer and the token are chosen there."""

    panels: Callable  # (lm, prompt) -> the Stack's panels, over layer and token

    def __init__(self, lm, prompt: str, layer: int = 0, position: int = -1):
        super().__init__()
        self.lm, self.prompt = lm, prompt
        self.view = Stack([])
        self.widget = widgets.VBox([self.status, self.view])
        self.safely(lambda: self.show(layer, position))

    def show(self, layer: int, position: int) -> None:
        tokens = self.lm.tokens(self.lm.encode(self.prompt))
        self.view.show(type(self).panels(self.lm, self.prompt), [Control("token", token_labels(tokens))])
        self.view.select(layer=layer, token=position % len(tokens))

    @property
    def layer(self) -> int:
        return self.view.choice["layer"]

    @property
    def position(self) -> int:
        return self.view.choice["token"]
