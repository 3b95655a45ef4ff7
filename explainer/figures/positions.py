"""Figures for positions: learned and sinusoidal encodings as heatmaps, and a RoPE explorer."""

from __future__ import annotations

import ipywidgets as widgets
import plotly.graph_objects as go
import torch

from explainer import positions
from explainer.figures.common import Explorer, base_layout, heatmap, int_slider
from explainer.figures.table import Table


def similarity_heatmap(similarity: torch.Tensor) -> go.Figure:
    labels = [str(i) for i in range(similarity.shape[0])]
    figure = heatmap(similarity, labels, labels, "cosine similarity between learned position embeddings",
                     x_title="position", y_title="position", height=620)
    figure.update_layout(width=640, autosize=False)
    return figure


def encoding_heatmap(encoding: torch.Tensor) -> go.Figure:
    return heatmap(encoding, [str(i) for i in range(encoding.shape[1])], [str(i) for i in range(encoding.shape[0])],
                   "sinusoidal encoding: position × dimension", x_title="dimension", y_title="position", height=500)


class RopeExplorer(Explorer):
    """Two positions and a shift: a RoPE score depends only on the offset between query and key."""

    def __init__(self, q: torch.Tensor, k: torch.Tensor, query_position: int = 10, key_position: int = 3, shift: int = 100):
        super().__init__()
        self.q, self.k = q, k
        self.query_position = int_slider("query position", 200, query_position)
        self.key_position = int_slider("key position", 200, key_position)
        self.shift = int_slider("shift both by", 1000, shift)
        self.readout = widgets.HTML()
        self.watch([self.query_position, self.key_position, self.shift], self.update)
        self.widget = widgets.VBox([self.query_position, self.key_position, self.shift, self.status, self.readout])
        self.safely(self.update)

    def update(self) -> None:
        m, n, s = self.query_position.value, self.key_position.value, self.shift.value
        before, after = positions.rope_score(self.q, self.k, m, n), positions.rope_score(self.q, self.k, m + s, n + s)
        self.readout.value = (f"score at ({m}, {n}) = <b>{before:.6f}</b>; both shifted by {s}: <b>{after:.6f}</b> "
                              f"(offset {m - n} in both cases)")


def rope_offset_figure(offsets: list[int], scores: list[float]) -> go.Figure:
    figure = go.Figure(go.Scatter(x=offsets, y=scores, mode="lines"))
    return base_layout(figure, "RoPE score q·k as a function of the offset m − n only", height=320,
                       xaxis_title="m − n", yaxis_title="score")


def shift_errors_table(errors: dict[int, float]) -> Table:
    """positions.shift_errors as a table: one row per shift k."""
    return Table({"shift k": list(errors), "largest error of PE(p) M_k against PE(p + k)": list(errors.values())},
                 formats={"largest error of PE(p) M_k against PE(p + k)": "{:.1e}"})


def model_positions_figure(lm) -> go.Figure:
    """The model's own positions: its learned table's cosine similarities, or (rotary positions) a score against the
    distance between query and key, with the model's θ."""
    similarity = positions.position_similarity(lm)
    if similarity is not None:
        return similarity_heatmap(similarity)
    offsets = list(range(min(lm.block_size, 121)))
    return rope_offset_figure(offsets, positions.model_rope_scores(lm, offsets))
