"""Figures for scale: where the weights live, the n² cost of attention, the KV cache, why ÷√d_k."""

from __future__ import annotations

import math
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from explainer import scale
from explainer.figures.common import Explorer, base_layout, nearest
from explainer.figures.kit import Control, plot
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


def cost_width(exponent: float) -> int:
    """The width for a slider position: 2^exponent, a whole number of heads of 64."""
    return max(64, int(2**exponent) // 64 * 64)


WIDTHS = sorted({cost_width(7 + i / 2) for i in range(15)})  # log₂ d_model from 7 to 14 in halves: 128 … 16,384
CONTEXT_EXPONENTS = list(range(8, 21))  # log₂ of the longest context, 256 to 1,048,576
MARGIN = 10**0.2  # the y axis a little beyond the lowest and highest curve, and fixed: a slider moves curves, not axes


class CostExplorer(Explorer):
    """Sliders for the model width and the longest context: where does attention's n² overtake the MLP? The curves of
    every width and context go to the page once (a kit Plot), which answers both sliders."""

    def __init__(self, d_model_exponent: float = 10, context_exponent: int = 17):
        super().__init__()
        curves = [cost_curves(d, 2 ** CONTEXT_EXPONENTS[-1]) for d in WIDTHS]
        lengths = curves[0].lengths  # 16 … 2^20: every context's points
        flops = np.array([c.flops for c in curves], dtype=float)  # [width, curve, point]
        shown = np.array([[np.where(np.array(lengths) <= 2**e, f, np.nan) for f in flops] for e in CONTEXT_EXPONENTS])
        layers = [plot.lines(lengths, shown.transpose(1, 0, 2, 3), names=COST_CURVES, over=("width", "context"),
                             x_name="n ="),
                  plot.vline([c.crossover for c in curves], [c.note for c in curves], over=("width",))]
        self.view = plot.Plot(layers, [Control("width", [f"{d:,}" for d in WIDTHS], "d_model", slider=True),
                                       Control("context", [f"{2**e:,}" for e in CONTEXT_EXPONENTS], "longest n", slider=True)],
                              x_title="context length n", y_title="FLOPs per layer (forward)", x_log=True, y_log=True,
                              x_range=[lengths[0], lengths[-1]], y_range=[np.nanmin(flops) / MARGIN, np.nanmax(flops) * MARGIN],
                              titles=[c.title for c in curves], title_over=("width",),
                              width=nearest([math.log2(d) for d in WIDTHS], d_model_exponent),
                              context=nearest(CONTEXT_EXPONENTS, context_exponent))
        self.widget = widgets.VBox([self.status, self.view])

    @property
    def d_model(self) -> int:
        """The width the page shows."""
        return WIDTHS[self.view.choice["width"]]

    @property
    def max_context(self) -> int:
        """The longest context the page shows."""
        return 2 ** CONTEXT_EXPONENTS[self.view.choice["context"]]


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


def spread_histograms(spread: scale.DotProductSpread) -> np.ndarray:
    """The two histograms, q·k and q·k/√d_k, as shares of pairs over fixed bins [2, bin] (counted here, so only 120
    numbers each travel)."""
    return np.array([np.histogram(values.numpy(), SPREAD_BINS)[0] / len(values) for values in (spread.raw, spread.scaled)])


def spread_names(spread: scale.DotProductSpread) -> list[str]:
    return [f"q·k: variance {float(spread.raw.var()):.1f}", f"q·k/√d_k: variance {float(spread.scaled.var()):.2f}"]


def spread_title(spread: scale.DotProductSpread) -> str:
    return (f"d_k = {spread.d_k}: largest softmax weight over 16 keys: {spread.top_weight_raw:.2f} unscaled, "
            f"{spread.top_weight_scaled:.2f} scaled")


HEAD_SIZES = [2**e for e in range(10)]  # the d_k slider's values, 1 to 512


class ScalingExplorer(Explorer):
    """A d_k slider: the spread of q·k with and without ÷√d_k. The histograms for every d_k on the slider go to the
    page once (a kit Plot), which answers it."""

    def __init__(self, d_k: int = 64):
        super().__init__()
        spreads = [scale.dot_product_spread(d) for d in HEAD_SIZES]
        histograms = np.array([spread_histograms(s) for s in spreads])  # [d_k, raw | scaled, bin]
        layers = [plot.steps(SPREAD_BINS, histograms, [spread_names(s) for s in spreads], over=("d_k",), x_name="score")]
        self.view = plot.Plot(layers, [Control("d_k", [str(d) for d in HEAD_SIZES], slider=True)], x_title="score",
                              y_title="share of pairs", titles=[spread_title(s) for s in spreads], title_over=("d_k",),
                              y_highs=(1.08 * histograms.max(axis=(1, 2))).tolist(), y_over=("d_k",),
                              d_k=nearest(HEAD_SIZES, d_k))
        self.widget = widgets.VBox([self.status, self.view])

    @property
    def d_k(self) -> int:
        """The head size the page shows."""
        return HEAD_SIZES[self.view.choice["d_k"]]
