"""Plotly figures built from the plain arrays that the concept modules compute."""

from __future__ import annotations

import math
from contextlib import nullcontext
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


MASKED_COLOR = "#d1d5db"
DOT_COLOR = "#2563eb"
MAX_DOT_SIZE = 34  # pixels across for weight 1


def dot_sizes(weights, max_size: float = MAX_DOT_SIZE) -> list[float]:
    """Marker diameters with area proportional to weight: diameter = max_size · √weight."""
    return [max_size * math.sqrt(max(0.0, float(w))) for w in weights]


def dot_grid(
    pattern, tokens: Sequence[str], transpose: bool = False, title: str = "",
    masked=None, max_size: float | None = None, size_px: int = 520, query_tokens: Sequence[str] | None = None,
) -> go.Figure:
    """Attention as a grid of dots (area ∝ weight). Rows = queries, columns = keys; `transpose` gives the
    3Blue1Brown layout (queries as columns). `masked` ([n, n] booleans) marks cells drawn as grey crosses."""
    grid = [[float(w) for w in row] for row in pattern.tolist()]
    n_query, n_key = len(grid), len(grid[0])
    if max_size is None:  # a weight-1 dot fills its cell
        max_size = min(MAX_DOT_SIZE, 0.95 * size_px / max(n_query, n_key))
    keys = [f"{i}:{display_token(t)}" for i, t in enumerate(tokens)][-n_key:]
    queries = [f"{i}:{display_token(t)}" for i, t in enumerate(query_tokens or tokens)][-n_query:]
    masked = [[bool(m) for m in row] for row in masked.tolist()] if masked is not None else [[False] * n_key for _ in grid]
    cells = [(q, k) for q in range(n_query) for k in range(n_key)]
    shown = [(q, k) for q, k in cells if not masked[q][k]]
    hidden = [(q, k) for q, k in cells if masked[q][k]]

    def axes(points):
        qs = [queries[q] for q, _ in points]
        ks = [keys[k] for _, k in points]
        return (qs, ks) if transpose else (ks, qs)  # (x, y)

    x, y = axes(shown)
    figure = go.Figure(go.Scatter(
        x=x, y=y, mode="markers", name="weight",
        marker=dict(size=dot_sizes([grid[q][k] for q, k in shown], max_size), color=DOT_COLOR, line=dict(width=0)),
        customdata=[[grid[q][k], queries[q], keys[k]] for q, k in shown], meta=max_size,
        hovertemplate="query %{customdata[1]} → key %{customdata[2]}<br>weight %{customdata[0]:.4f}<extra></extra>",
    ))
    if hidden:
        hx, hy = axes(hidden)
        figure.add_trace(go.Scatter(
            x=hx, y=hy, mode="markers", name="masked", marker=dict(symbol="x-thin", size=5, color=MASKED_COLOR, line=dict(width=1, color=MASKED_COLOR)),
            customdata=[[queries[q], keys[k]] for q, k in hidden],
            hovertemplate="query %{customdata[0]} → key %{customdata[1]}<br>masked (future)<extra></extra>",
        ))
    query_axis = dict(title="query (the token being updated)", categoryorder="array", categoryarray=queries)
    key_axis = dict(title="key (the token read)", categoryorder="array", categoryarray=keys)
    x_axis, y_axis = (query_axis, key_axis) if transpose else (key_axis, query_axis)
    figure.update_layout(
        title=dict(text=title, y=0.99, yanchor="top"), template="plotly_white", showlegend=False,
        width=size_px + 160, height=size_px + 190,
        xaxis=dict(**x_axis, type="category", side="top", tickangle=-60, scaleanchor="y"),
        yaxis=dict(**y_axis, type="category", autorange="reversed"),
        margin=dict(l=130, r=20, t=190, b=20),
    )
    return figure


def update_dot_grid(figure: go.Figure, pattern, masked, title: str = "") -> None:
    """Re-size the dots of a figure made by `dot_grid` for a new pattern of the same shape (fast: no relayout)."""
    grid = pattern.tolist()
    weights = [w for row, mask_row in zip(grid, masked.tolist()) for w, m in zip(row, mask_row) if not m]
    dots = figure.data[0]
    customdata = [[w, *old[1:]] for w, old in zip(weights, dots.customdata)]
    with figure.batch_update() if hasattr(figure, "batch_update") else nullcontext():
        dots.marker.size = dot_sizes(weights, dots.meta)
        dots.customdata = customdata
        figure.layout.title.text = title


def row_bars(weights, tokens: Sequence[str], query: int, title: str = "") -> go.Figure:
    """One query's attention weights over the keys as bars."""
    figure = next_token_bars([f"{i}:{t}" for i, t in enumerate(tokens)][: len(weights)], [float(w) for w in weights], title)
    figure.update_layout(xaxis_title=f"key (read by query {query}: {display_token(tokens[query])})", yaxis_title="weight")
    return figure


def heatmap(values, x_labels: Sequence[str], y_labels: Sequence[str], title: str = "", colorscale: str = "RdBu",
            zmid: float | None = 0.0, x_title: str = "", y_title: str = "") -> go.Figure:
    """A labelled heatmap of a 2-D array (scores, embeddings, similarities)."""
    figure = go.Figure(go.Heatmap(
        z=[[None if not math.isfinite(float(v)) else float(v) for v in row] for row in values.tolist()],
        x=list(x_labels), y=list(y_labels), colorscale=colorscale, zmid=zmid,
        hovertemplate="%{y} · %{x}: %{z:.3f}<extra></extra>",
    ))
    figure.update_layout(title=title, template="plotly_white", xaxis=dict(title=x_title, type="category", side="top", tickangle=-60),
                         yaxis=dict(title=y_title, type="category", autorange="reversed"), margin=dict(l=120, r=20, t=120, b=20))
    return figure
