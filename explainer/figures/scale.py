"""Figures for scale: where the weights live, the n² cost of attention, the KV cache, why ÷√d_k."""

from __future__ import annotations

import math
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from explainer import scale
from explainer.figures.common import Explorer, base_layout, float_slider, int_slider, redraw
from explainer.figures.live import FigureWidget
from explainer.figures.table import Table

GROUPS = {"embedding": "embeddings", "unembedding": "embeddings", "position embedding": "embeddings",
          "query": "attention", "key": "attention", "value": "attention", "output": "attention",
          "MLP up": "MLP", "MLP down": "MLP", "biases and LayerNorms": "biases and norms"}


def tally_table(shapes: list[scale.Shape]) -> Table:
    """Weights by kind for each shape, with a total row; a kind a shape's tally leaves out is blank (not 0)."""
    tallies = [scale.tally(s) for s in shapes]
    kinds = list(dict.fromkeys(kind for tally in tallies for kind in tally))
    return Table({s.name: [tally.get(kind, math.nan) for kind in kinds] + [sum(tally.values())] for s, tally in zip(shapes, tallies)},
                 index=kinds + ["total"])


def tally_sunburst(shape: scale.Shape) -> go.Figure:
    """A shape's weights by kind, grouped into attention, MLP and embeddings."""
    counts = scale.tally(shape)
    total = sum(counts.values())
    groups = list(dict.fromkeys(GROUPS[k] for k in counts))
    figure = go.Figure(go.Sunburst(
        labels=[shape.name] + groups + list(counts), parents=[""] + [shape.name] * len(groups) + [GROUPS[k] for k in counts],
        values=[0] * (1 + len(groups)) + list(counts.values()), branchvalues="remainder",
        hovertemplate="%{label}: %{value:,} weights (%{percentRoot:.1%})<extra></extra>",
    ))
    return base_layout(figure, f"{shape.name}: {total:,} weights by kind", height=520)


def cost_shape(d_model: int) -> tuple[int, int, int]:
    """Heads, their width and the MLP's width for a model `d_model` wide: heads of 64, MLP 4·d."""
    return max(1, d_model // 64), 64, 4 * d_model


COST_CURVES = ("attention scores + weighted sum (n²)", "MLP (n)", "Q, K, V, output projections (n)")


@dataclass(frozen=True)
class CostCurves:
    lengths: list[int]  # context lengths n, powers of two
    flops: list[list[int]]  # one list per name in COST_CURVES
    crossover: int  # the n from which attention costs more than the MLP
    title: str
    note: str  # says where the crossover is


def cost_curves(d_model: int, max_context: int) -> CostCurves:
    """FLOPs per layer against the context length for a model `d_model` wide, up to `max_context`."""
    heads, d_head, d_mlp = cost_shape(d_model)
    lengths = [2**e for e in range(4, max_context.bit_length())]
    costs = scale.layer_costs(lengths, d_model, heads, d_head, d_mlp)
    crossover = scale.crossover_context(d_model, heads, d_head, d_mlp)
    return CostCurves(lengths, [[c.attention_flops for c in costs], [c.mlp_flops for c in costs],
                                [c.projection_flops for c in costs]], crossover,
                      f"FLOPs per layer, d_model = {d_model:,} ({heads} heads of 64, MLP 4·d)",
                      f"n = {crossover:,}: attention overtakes the MLP")


def cost_figure(d_model: int, max_context: int, axes: tuple[list[float], list[float]] | None = None) -> go.Figure:
    """FLOPs per layer against the context length: attention's n² against the projections' and MLP's n. `axes` fixes
    the log axes' (x, y) ranges (see `cost_axes`); by default they fit the curves."""
    curves = cost_curves(d_model, max_context)
    figure = go.Figure([go.Scatter(x=curves.lengths, y=flops, name=name) for name, flops in zip(COST_CURVES, curves.flops)])
    x_range, y_range = axes or (None, None)
    y_range = y_range or [math.log10(min(min(f) for f in curves.flops)), math.log10(max(max(f) for f in curves.flops))]
    figure.add_trace(go.Scatter(mode="lines+text", line=dict(dash="dot", color="#374151", width=1.5), showlegend=False,
                                hoverinfo="skip", cliponaxis=False, **crossover_line(curves, x_range, y_range)))
    return base_layout(figure, curves.title, height=420, xaxis=dict(type="log", title="context length n", range=x_range),
                       yaxis=dict(type="log", title="FLOPs per layer (forward)", range=y_range),
                       legend=dict(orientation="h", y=-0.25))


def crossover_line(curves: CostCurves, x_range: list[float] | None, y_range: list[float]) -> dict:
    """The crossover as a dotted line from the bottom of the y axis to its top (a trace, so that a new width moves it
    without laying the figure out again), its note at the top: right of the line in the left half of the axis, left
    of it in the right half, so that the note stays inside the figure."""
    low, high = x_range or (math.log10(curves.lengths[0]), math.log10(curves.lengths[-1]))
    side = "right" if math.log10(curves.crossover) < (low + high) / 2 else "left"
    gap = "\u2003"  # an em space between the line and its note
    note = gap + curves.note if side == "right" else curves.note + gap
    return dict(x=[curves.crossover] * 2, y=[10 ** y_range[0], 10 ** y_range[1]], text=["", note],
                textposition=f"bottom {side}")


def cost_axes(narrowest: int, widest: int, max_context: int) -> tuple[list[float], list[float]]:
    """Log-axis ranges (powers of ten) that hold every curve of models from `narrowest` to `widest` wide with
    contexts from 16 to `max_context`: fixed axes, so that moving a slider moves the curves and not the axes."""
    def flops(d_model: int, n: int) -> list[int]:
        cost = scale.layer_cost(n, d_model, *cost_shape(d_model))
        return [cost.attention_flops, cost.mlp_flops, cost.projection_flops]

    low, high = min(flops(narrowest, 16)), max(flops(widest, max_context))
    return [math.log10(16), math.log10(max_context)], [math.log10(low) - 0.2, math.log10(high) + 0.2]


class CostExplorer(Explorer):
    """Sliders for the model width and the longest context: where does attention's n² overtake the MLP?"""

    def __init__(self, d_model_exponent: float = 10, context_exponent: int = 17):
        super().__init__()
        self.width = float_slider("log₂ d_model", d_model_exponent, 7, 14, 0.5)
        self.context = int_slider("log₂ max n", 20, context_exponent, minimum=8)
        self.axes = cost_axes(self.d_model(self.width.min), self.d_model(self.width.max), 2**self.context.max)
        self.figure = FigureWidget()
        self.watch([self.width, self.context], self.update)
        self.widget = widgets.VBox([self.width, self.context, self.status, self.figure])
        self.safely(self.update)

    def d_model(self, exponent: float | None = None) -> int:
        """The width for a slider position (by default the slider's): 2^exponent, a whole number of heads of 64."""
        return max(64, int(2 ** (self.width.value if exponent is None else exponent)) // 64 * 64)

    def update(self) -> None:
        """New sizes: the three curves, the crossover line and the title (the axes stay)."""
        if not self.figure.data:
            redraw(self.figure, cost_figure(self.d_model(), 2**self.context.value, self.axes))
            return
        curves = cost_curves(self.d_model(), 2**self.context.value)
        with self.figure.batch_traces():
            for shown, flops in zip(self.figure.data, curves.flops):
                shown.update(x=curves.lengths, y=flops)
            self.figure.data[-1].update(crossover_line(curves, *self.axes))
            self.figure.layout.title.text = curves.title


def kv_cache_memory_table(shape: scale.Shape, tokens: int) -> Table:
    """KV cache per sequence for full multi-head, the shape's own key/value heads, grouped-query (8 groups, or another
    divisor of the heads) and multi-query attention."""
    heads, own = shape.n_heads, shape.kv_heads or shape.n_heads
    groups = next((g for g in (8, 4, 2) if g < heads and heads % g == 0 and g != own), None)
    rows = [("multi-head", heads)] + ([(f"{shape.name}'s own: {own} key/value heads", own)] if own != heads else [])
    rows += ([(f"grouped-query, {groups} groups", groups)] if groups else []) + ([("multi-query", 1)] if heads > 1 else [])
    return Table.from_rows([{"attention": name, "kv heads": kv, "KV cache per sequence (GiB)": scale.kv_cache_bytes(shape, tokens, kv) / 2**30}
                            for name, kv in rows])


SPREAD_BINS = np.linspace(-60, 60, 121)  # q·k values, one bin per unit


def spread_traces(spread: scale.DotProductSpread) -> list[dict]:
    """The two histograms as bar heights over fixed bins (counted here, so only 120 numbers each travel)."""
    centres = (SPREAD_BINS[:-1] + SPREAD_BINS[1:]) / 2
    return [dict(x=centres, y=np.histogram(values.numpy(), SPREAD_BINS)[0] / len(values), name=name)
            for values, name in ((spread.raw, f"q·k: variance {float(spread.raw.var()):.1f}"),
                                 (spread.scaled, f"q·k/√d_k: variance {float(spread.scaled.var()):.2f}"))]


def spread_title(spread: scale.DotProductSpread) -> str:
    return (f"d_k = {spread.d_k}: largest softmax weight over 16 keys: {spread.top_weight_raw:.2f} unscaled, "
            f"{spread.top_weight_scaled:.2f} scaled")


def spread_figure(spread: scale.DotProductSpread) -> go.Figure:
    figure = go.Figure([go.Bar(**trace, opacity=0.6) for trace in spread_traces(spread)])
    return base_layout(figure, spread_title(spread), height=380, barmode="overlay", bargap=0,
                       xaxis_title="score", yaxis_title="share of pairs", legend=dict(orientation="h", y=-0.25))


class ScalingExplorer(Explorer):
    """A d_k slider: the spread of q·k with and without ÷√d_k."""

    def __init__(self, d_k: int = 64):
        super().__init__()
        self.d_k = int_slider("d_k", 512, d_k, minimum=1)
        self.figure = FigureWidget()
        self.watch([self.d_k], self.update)
        self.widget = widgets.VBox([self.d_k, self.status, self.figure])
        self.safely(self.update)

    def update(self) -> None:
        spread = scale.dot_product_spread(self.d_k.value)
        if not self.figure.data:
            redraw(self.figure, spread_figure(spread))
            return
        with self.figure.batch_update():
            for shown, trace in zip(self.figure.data, spread_traces(spread)):
                shown.update(y=trace["y"], name=trace["name"])
            self.figure.layout.title.text = spread_title(spread)
