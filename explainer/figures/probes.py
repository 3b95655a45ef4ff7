"""Figures for linear probes: the features marked on a text, accuracy by stage against shuffled labels, the angles
between the probes' directions."""

from __future__ import annotations

import html

import plotly.graph_objects as go

from explainer import probes
from explainer.figures.common import base_layout
from explainer.figures.table import Table
from explainer.gpt.checkpoint import LanguageModel
from explainer.style import display_token

FEATURE_COLORS = {probes.NAME: "#f59e0b", probes.FIRST_LINE: "#3b82f6", probes.LINE_START: "#16a34a"}


def labelled_html(lm: LanguageModel, text: str) -> str:
    """The text's tokens, each underlined in the colour of every feature it has, with a key."""
    tokens = lm.tokens(lm.encode(text))
    labels, _ = probes.token_labels(tokens)
    spans = []
    for i, token in enumerate(tokens):
        marks = [color for feature, color in FEATURE_COLORS.items() if bool(labels[feature][i])]
        shadow = ", ".join(f"0 {3 * (k + 1)}px 0 {color}" for k, color in enumerate(marks))
        style = f"box-shadow:{shadow};" if marks else ""
        spans.append(f"<span style='{style}background:#f3f4f6;margin:0 1px 10px 1px;padding:0 2px'>"
                     f"{html.escape(display_token(token))}</span>" + ("<br>" if "\n" in token else ""))
    key = " ".join(f"<span style='border-bottom:3px solid {color};padding:0 2px'>{html.escape(feature)}</span>"
                   for feature, color in FEATURE_COLORS.items())
    return f"<div style='font-family:monospace;line-height:2.2'>{''.join(spans)}</div><p>{key}</p>"


def probe_figure(results: list[probes.ProbeResult]) -> go.Figure:
    """Balanced accuracy on held-out text at each stage, one line per feature; dashed, the same probes fitted on
    shuffled labels."""
    figure = go.Figure()
    for result in results:
        color = FEATURE_COLORS.get(result.feature, "#6b7280")
        figure.add_trace(go.Scatter(x=result.stages, y=result.accuracy, name=result.feature, mode="lines+markers",
                                    line=dict(color=color), hovertemplate="%{x}: %{y:.1%}<extra>%{fullData.name}</extra>"))
        figure.add_trace(go.Scatter(x=result.stages, y=result.shuffled, name=f"{result.feature}, shuffled labels",
                                    mode="lines", line=dict(color=color, dash="dot"), showlegend=False,
                                    hovertemplate="shuffled labels, %{x}: %{y:.1%}<extra></extra>"))
    return base_layout(figure, "linear probes on the residual stream: held-out balanced accuracy (dotted: shuffled labels)",
                       height=420, yaxis=dict(title="balanced accuracy", range=[0.3, 1.02], tickformat=".0%"),
                       xaxis=dict(title="stage", type="category"), legend=dict(orientation="h", y=-0.3))


def angles_table(found: probes.DirectionCosines) -> Table:
    """The angle between every two features' probe directions, in degrees."""
    return Table.from_matrix(found.cosines.clamp(-1, 1).acos().rad2deg().tolist(), found.features, found.features, "{:.0f}°")
