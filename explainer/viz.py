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


def analogy_figure(points: dict, a: str, b: str, c: str, answer: str, cosine: float, distance: float) -> go.Figure:
    """The arithmetic b − a + c drawn as arrows in the plane of a, b, c (see embeddings.analogy_plane)."""
    figure = go.Figure()

    def arrow(start, end, color, text, dash=None):
        figure.add_annotation(x=end[0], y=end[1], ax=start[0], ay=start[1], xref="x", yref="y", axref="x", ayref="y",
                              showarrow=True, arrowhead=3, arrowwidth=2.5, arrowcolor=color, text="")
        middle = (start + end) / 2
        figure.add_annotation(x=middle[0], y=middle[1], text=text, showarrow=False, font=dict(color=color, size=13),
                              bgcolor="rgba(255,255,255,0.7)")

    arrow(points[a], points[b], "#6b7280", f"{b} − {a}")
    arrow(points[a], points[c], "#16a34a", f"{c} − {a}")
    arrow(points[b], points["target"], "#16a34a", f"+ ({c} − {a})")
    words = [w for w in points if w != "target"]
    figure.add_trace(go.Scatter(x=[points[w][0] for w in words], y=[points[w][1] for w in words], mode="markers+text",
                                text=words, textposition="top center", marker=dict(size=11, color=BAR_COLOR),
                                hovertemplate="%{text}<extra></extra>"))
    figure.add_trace(go.Scatter(x=[points["target"][0]], y=[points["target"][1]], mode="markers+text",
                                text=[f"{b} − {a} + {c}"], textposition="bottom center",
                                marker=dict(size=14, color=HIGHLIGHT_COLOR, symbol="star"), hoverinfo="skip"))
    if answer in points:
        figure.add_trace(go.Scatter(x=[points["target"][0], points[answer][0]], y=[points["target"][1], points[answer][1]],
                                    mode="lines", line=dict(color=HIGHLIGHT_COLOR, dash="dot"), hoverinfo="skip"))
    figure.update_layout(
        title=(f"{b} − {a} + {c} lands at cosine {cosine:.3f} from {answer!r} (distance {distance:.3f} between unit vectors)"
               f"<br><sup>the plane holds {a}, {b}, {c} and the sum exactly; {answer!r} is projected onto it</sup>"),
        template="plotly_white", showlegend=False, height=520, width=760,
        xaxis=dict(title=f"along {b} − {a}", zeroline=False), yaxis=dict(title="the rest of the plane", scaleanchor="x", zeroline=False),
    )
    return figure


def scatter_3d(coordinates, words: Sequence[str], axis_titles: Sequence[str], title: str = "", groups: Sequence[str] | None = None) -> go.Figure:
    """A rotatable 3-D scatter of labelled points."""
    figure = go.Figure(go.Scatter3d(
        x=coordinates[:, 0], y=coordinates[:, 1], z=coordinates[:, 2], mode="markers+text", text=list(words),
        textfont=dict(size=9), marker=dict(size=3, color=list(range(len(words))) if groups is None else None),
        hovertemplate="%{text}<extra></extra>",
    ))
    figure.update_layout(title=title, height=650, template="plotly_white", margin=dict(l=0, r=0, t=50, b=0),
                         scene=dict(xaxis_title=axis_titles[0], yaxis_title=axis_titles[1], zaxis_title=axis_titles[2]))
    return figure


def angle_histogram(stats_by_name: dict, tolerance_degrees: float, density=None, title: str = "") -> go.Figure:
    """Histograms (as shares of pairs) of pairwise angles, with the 90° ± tolerance band shaded."""
    figure = go.Figure()
    colors = [BAR_COLOR, HIGHLIGHT_COLOR, "#16a34a"]
    for (name, stats), color in zip(stats_by_name.items(), colors):
        centres = (stats.bin_edges[:-1] + stats.bin_edges[1:]) / 2
        share = stats.histogram / stats.histogram.sum()
        figure.add_trace(go.Bar(x=centres, y=share, name=f"{name}: max |cos| {stats.max_abs_cos:.3f}, "
                                f"{stats.fraction_within:.1%} of pairs in band", marker_color=color, opacity=0.65))
    if density is not None:
        figure.add_trace(go.Scatter(x=density[0], y=density[1], name="random vectors, exact density", mode="lines",
                                    line=dict(color="black", dash="dot")))
    figure.add_vrect(x0=90 - tolerance_degrees, x1=90 + tolerance_degrees, fillcolor="#16a34a", opacity=0.15, line_width=0)
    figure.update_layout(title=title, barmode="overlay", template="plotly_white", height=420,
                         xaxis_title="angle between a pair (degrees)", yaxis_title="share of pairs",
                         legend=dict(orientation="h", y=-0.25))
    return figure
