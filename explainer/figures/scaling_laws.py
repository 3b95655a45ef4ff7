"""Figures for why it works: loss against size on log–log axes, and an image cut into patches that become tokens."""

from __future__ import annotations

import math

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from explainer import patches, scaling_laws
from explainer.figures.common import base_layout
from explainer.figures.table import Table
from explainer.style import BAR_COLOR, HIGHLIGHT_COLOR


def scaling_figure(found: scaling_laws.Scaling) -> go.Figure:
    """Validation loss against non-embedding weights, log–log: the runs, the fitted power law, and a line of Kaplan et
    al.'s slope through the middle of ours."""
    sizes = [r.non_embedding for r in found.runs]
    losses = [r.val_loss for r in found.runs]
    span = [min(sizes) / 1.5, max(sizes) * 1.5]
    middle = math.sqrt(span[0] * span[1])
    kaplan = [found.law.loss(middle) * (middle / n) ** scaling_laws.KAPLAN_ALPHA_N for n in span]
    figure = go.Figure([
        go.Scatter(x=sizes, y=losses, mode="markers", name="our runs", marker=dict(size=11, color=HIGHLIGHT_COLOR),
                   text=[f"{r.n_layer} layers × {r.n_embd} wide, {r.n_head} heads" for r in found.runs],
                   hovertemplate="%{text}<br>%{x:,} weights: %{y:.3f} nats per character<extra></extra>"),
        go.Scatter(x=span, y=[found.law.loss(n) for n in span], mode="lines", line=dict(color=BAR_COLOR),
                   name=f"fitted: L ∝ N^−{found.law.exponent:.3f}"),
        go.Scatter(x=span, y=kaplan, mode="lines", line=dict(color="#6b7280", dash="dash"),
                   name=f"Kaplan et al.'s slope, N^−{scaling_laws.KAPLAN_ALPHA_N}"),
    ])
    return base_layout(figure, f"validation loss against size, every model trained on {found.tokens:,} characters",
                       height=440, xaxis=dict(type="log", title="non-embedding weights N"),
                       yaxis=dict(type="log", title="validation loss (nats per character)"),
                       legend=dict(orientation="h", y=-0.25))


def runs_table(found: scaling_laws.Scaling) -> Table:
    return Table.from_rows([{"layers": r.n_layer, "heads": r.n_head, "width": r.n_embd, "weights": r.parameters,
                             "non-embedding N": r.non_embedding, "validation loss": r.val_loss,
                             "power law": found.law.loss(r.non_embedding)} for r in found.runs])


def to_pixels(image: torch.Tensor) -> list:
    """[H, W, 3] in 0 … 1 → nested lists of 0 … 255, as go.Image draws them."""
    return (image.clamp(0, 1) * 255).round().to(torch.uint8).tolist()


def patches_figure(found: patches.PatchTokens, shown: int = 48) -> go.Figure:
    """The image with its patch grid; the patches in reading order, as a sequence of tokens; and each patch's vector
    (its first `shown` numbers), one row per patch."""
    size, patch = found.image.shape[0], found.patch
    count = found.pixels.shape[0]
    gap = 2
    strip = torch.ones(patch, count * (patch + gap) - gap, 3)
    for i, pixels in enumerate(found.pixels.reshape(count, patch, patch, 3)):
        strip[:, i * (patch + gap):i * (patch + gap) + patch] = pixels
    figure = make_subplots(rows=2, cols=2, column_widths=[0.3, 0.7], row_heights=[0.45, 0.55], vertical_spacing=0.16,
                           horizontal_spacing=0.06, specs=[[{}, {}], [{"colspan": 2}, None]],
                           subplot_titles=["the image, cut into patches", "the patches in reading order: a sequence",
                                           f"each patch × one matrix → a vector of {found.vectors.shape[1]} numbers "
                                           f"(first {min(shown, found.vectors.shape[1])} shown)"])
    figure.add_trace(go.Image(z=to_pixels(found.image), hoverinfo="skip"), row=1, col=1)
    white = dict(type="line", line=dict(color="white", width=2), xref="x", yref="y")
    for k in range(patch, size, patch):  # the grid: one vertical and one horizontal line between patches
        figure.add_shape(white, x0=k - 0.5, x1=k - 0.5, y0=-0.5, y1=size - 0.5)
        figure.add_shape(white, x0=-0.5, x1=size - 0.5, y0=k - 0.5, y1=k - 0.5)
    figure.add_trace(go.Image(z=to_pixels(strip), hoverinfo="skip"), row=1, col=2)
    figure.add_trace(go.Heatmap(z=found.vectors[:, :shown].tolist(), colorscale="RdBu", zmid=0, showscale=False,
                                y=[f"patch {i}" for i in range(count)],
                                hovertemplate="%{y}, number %{x}: %{z:.2f}<extra></extra>"), row=2, col=1)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False, row=1)
    figure.update_yaxes(autorange="reversed", tickfont=dict(size=9), row=2, col=1)
    for annotation in figure.layout.annotations:
        annotation.update(font=dict(size=13))
    base_layout(figure, "", height=560)
    figure.update_layout(margin=dict(l=60, r=20, t=40, b=20))
    return figure
