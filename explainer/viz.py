"""Plotly figures built from the plain arrays that the concept modules compute."""

from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go

BAR_COLOR = "#3b82f6"
HIGHLIGHT_COLOR = "#f59e0b"


def display_token(token: str) -> str:
    """A token made visible: spaces as '␣', newlines as '↵'."""
    return token.replace("\n", "↵").replace(" ", "␣")


def next_token_bars(tokens: Sequence[str], probs: Sequence[float], title: str = "") -> go.Figure:
    """Bar chart of next-token probabilities, most likely token highlighted."""
    probs = [float(p) for p in probs]
    best = max(range(len(probs)), key=probs.__getitem__)
    colors = [HIGHLIGHT_COLOR if i == best else BAR_COLOR for i in range(len(probs))]
    figure = go.Figure(
        go.Bar(
            x=[display_token(t) for t in tokens],
            y=probs,
            marker_color=colors,
            text=[f"{p:.1%}" for p in probs],
            textposition="outside",
            hovertemplate="%{x}: %{y:.4f}<extra></extra>",
        )
    )
    figure.update_layout(
        title=title,
        yaxis=dict(title="probability", range=[0, 1.08], tickformat=".0%"),
        xaxis=dict(title="next token", type="category"),
        margin=dict(l=60, r=20, t=60, b=60),
        height=420,
        template="plotly_white",
    )
    return figure
