"""Figures for positions: learned and sinusoidal encodings as heatmaps, and a RoPE explorer."""

from __future__ import annotations

import ipywidgets as widgets
import plotly.graph_objects as go
import torch

from explainer import positions
from explainer.figures.common import Explorer, base_layout, heatmap
from explainer.figures.kit import RopeView
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
    """Two positions and a shift: a RoPE score depends only on the offset between query and key. The query and key go
    to the page once (kit.RopeView), which rotates them to the positions its sliders choose."""

    def __init__(self, q: torch.Tensor, k: torch.Tensor, query_position: int = 10, key_position: int = 3, shift: int = 100):
        super().__init__()
        self.q, self.k = q, k
        self.view = RopeView(q, k, query_position, key_position, shift)
        self.widget = widgets.VBox([self.status, self.view])

    @property
    def query_position(self) -> int:
        return self.view.query_position

    @property
    def key_position(self) -> int:
        return self.view.key_position

    @property
    def shift(self) -> int:
        return self.view.shift


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
