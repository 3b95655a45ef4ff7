"""Figures for learning: gradient descent on a two-weight cost surface you can click on, and our model's snapshots."""

from __future__ import annotations

import html

import ipywidgets as widgets
import plotly.graph_objects as go
import torch

from explainer import learning
from explainer.figures.common import (Explorer, base_layout, float_slider, int_slider, ranked_bars, redraw, row,
                                      update_ranked_bars)
from explainer.figures.live import FigureWidget
from explainer.settings import DESCENT
from explainer.style import HIGHLIGHT_COLOR


DESCENT_TITLE = "the cost over (w1, w2), and the path gradient descent takes"


def descent_outcome(descent: learning.Descent) -> str:
    end = descent.path[-1]
    return (f"cost <b>{float(descent.costs[0]):.3f} → {float(descent.costs[-1]):.4f}</b> after {len(descent.path) - 1} "
            f"steps, ending at w1 = {float(end[0]):.2f}, w2 = {float(end[1]):.2f}")


DOT = 0.03  # half the width of a step's dot, in units of w (2 to 3 px on the 6-unit axes)
START = 6.5  # the start marker's radius in pixels


def path_shapes(path: torch.Tensor) -> list[dict]:
    """The descent's path [steps + 1, 2] as layout shapes: its line, a dot at each step, and the start. Shapes, not
    traces: plotly.js redraws shapes alone, where a changed trace makes it recompute every trace, the contours included
    (a move took 56-124 ms that way against 12-17 ms, in Chromium here)."""
    points = path.tolist()
    line = "M" + "L".join(f"{x:.4f},{y:.4f}" for x, y in points)
    dots = "".join(f"M{x - DOT:.4f},{y:.4f}L{x:.4f},{y + DOT:.4f}L{x + DOT:.4f},{y:.4f}L{x:.4f},{y - DOT:.4f}Z"
                   for x, y in points)  # a small diamond
    x, y = points[0]
    return [dict(type="path", path=line, line=dict(color="white", width=2)),
            dict(type="path", path=dots, fillcolor="white", line=dict(width=0)),
            dict(type="circle", xsizemode="pixel", ysizemode="pixel", xanchor=x, yanchor=y, x0=-START, x1=START,
                 y0=-START, y1=START, fillcolor=HIGHLIGHT_COLOR, line=dict(color="black", width=1))]


def surface_figure(model: learning.Toy, descent: learning.Descent) -> go.Figure:
    """The cost over (w1, w2) as contours, and the path gradient descent takes from its start."""
    w1, w2, cost = learning.surface(model)
    figure = go.Figure(go.Contour(x=w1.tolist(), y=w2.tolist(), z=cost.log10().tolist(), colorscale="Viridis",
                                  ncontours=30, colorbar=dict(title="log₁₀ cost"),
                                  hovertemplate="w1 %{x:.2f}, w2 %{y:.2f}<extra></extra>"))
    base_layout(figure, DESCENT_TITLE, height=520, showlegend=False, shapes=path_shapes(descent.path),
                xaxis=dict(title="w1", range=[float(w1[0]), float(w1[-1])]),
                yaxis=dict(title="w2", range=[float(w2[0]), float(w2[-1])]))
    return figure


class DescentExplorer(Explorer):
    """Sliders (or a click on the surface) for the starting point, and the learning rate and number of steps."""

    def __init__(self, start: tuple[float, float] = DESCENT.start, learning_rate: float = DESCENT.learning_rate,
                 steps: int = DESCENT.steps):
        super().__init__()
        self.model = learning.toy()
        self.w1 = float_slider("start w1", start[0], -3, 3, 0.05)
        self.w2 = float_slider("start w2", start[1], -3, 3, 0.05)
        self.rate = float_slider("learning rate", learning_rate, 0.01, 1.0, 0.01)
        self.steps = int_slider("steps", 300, steps)
        self.outcome = widgets.HTML()  # not the figure's title: a new title lays the contours out again
        self.figure = FigureWidget()
        self.watch([self.w1, self.w2, self.rate, self.steps], self.update)
        self.widget = widgets.VBox([row(self.w1, self.w2), row(self.rate, self.steps), self.status, self.outcome,
                                    self.figure])
        self.safely(self.update)
        self.figure.data[0].on_click(lambda trace, points, state: self.safely(lambda: self.start_at(points)))

    def start_at(self, points) -> None:
        """A click on the surface moves the starting point there."""
        if points.xs:
            with self.w1.hold_trait_notifications(), self.w2.hold_trait_notifications():
                self.w1.value, self.w2.value = points.xs[0], points.ys[0]

    def update(self) -> None:
        """Descend again; on a redraw only the path's shapes travel (the surface stays)."""
        descent = learning.gradient_descent(self.model, (self.w1.value, self.w2.value), self.rate.value, self.steps.value)
        if not self.figure.data:
            redraw(self.figure, surface_figure(self.model, descent))
        else:
            self.figure.layout.shapes = path_shapes(descent.path)
        self.outcome.value = descent_outcome(descent)


class SnapshotExplorer(Explorer):
    """A slider over our model's saved training steps: its next-token guess and a sampled continuation at each."""

    def __init__(self, predictions: list[learning.SnapshotPrediction], prompt: str):
        super().__init__()
        self.predictions = {p.step: p for p in predictions}
        self.prompt = prompt
        steps = list(self.predictions)
        self.step = widgets.SelectionSlider(options=steps, value=steps[-1], description="training step",
                                            style={"description_width": "initial"},
                                            layout=widgets.Layout(width="100%", max_width="480px"))
        self.sample = widgets.HTML()
        top = len(predictions[0].top_tokens)
        self.figure = FigureWidget(ranked_bars(top, "what comes next, at the step chosen: its most likely tokens",
                                               tallest=max(p.top_probs[0] for p in predictions)))
        self.watch([self.step], self.update)
        self.widget = widgets.VBox([self.step, self.status, self.sample, self.figure])
        self.safely(self.update)

    def update(self) -> None:
        """The step's guesses into bars at fixed places (their tokens written above them): only numbers travel, and
        the figure keeps its layout (new token labels on its axis would lay it out again)."""
        found = self.predictions[self.step.value]
        loss = f" (training loss ≈ {found.loss:.2f})" if found.loss is not None else ""
        update_ranked_bars(self.figure, found.top_tokens, found.top_probs, highlight=0)
        self.sample.value = (f"<b>step {found.step}</b>{loss}: a sample"
                             f"<div style='white-space:pre-wrap;font-family:monospace'><span style='color:#6b7280'>"
                             f"{html.escape(self.prompt)}</span>{html.escape(found.sample)}</div>")
