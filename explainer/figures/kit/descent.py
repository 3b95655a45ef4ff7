"""Gradient descent on the kit: a two-weight model's cost surface sent once as a heat map, and the path descent takes
from a start, a learning rate and a number of steps chosen in the page (sliders, or a click on the map), computed there
in float64 (js/descent.js redoes explainer.learning.gradient_descent on the model y = w2·tanh(w1·x)).

    view = DescentView(model.x, model.y, log_cost, extent=3, start=(-0.3, 2.5), learning_rate=0.2, steps=150)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import traitlets

from explainer.errors import FigureDataError
from explainer.figures.kit.arrays import ARRAY_SYNC, Array, as_float32
from explainer.figures.kit.widget import KitWidget

RATE_STEP, WEIGHT_STEP = 0.01, 0.05  # the sliders' steps (a click on the map snaps to the weight step too)


class DescentView(KitWidget):
    """The cost of y = w2·tanh(w1·x), fitted by least squares to the points (`x`, `y`), over w1, w2 ∈ [−extent, extent]:
    `surface` [w2, w1] (what the heat map colours: log₁₀ of the cost on an even grid, w2 upwards), with the path of
    plain gradient descent (w ← w − rate · ∇cost) from the chosen start. Start, rate (0.01 … `max_rate`) and steps
    (0 … `max_steps`) are chosen in the page."""

    view = traitlets.Unicode("descent").tag(sync=True)
    x = traitlets.List(traitlets.Float()).tag(sync=True)  # as JSON numbers: the page's float64 sums start from the same
    y = traitlets.List(traitlets.Float()).tag(sync=True)
    surface = Array(allow_none=True).tag(**ARRAY_SYNC)
    extent = traitlets.Float(3.0).tag(sync=True)
    colour_title = traitlets.Unicode("log₁₀ cost").tag(sync=True)
    title = traitlets.Unicode().tag(sync=True)
    max_rate = traitlets.Float(1.0).tag(sync=True)
    max_steps = traitlets.Int(300).tag(sync=True)
    start_w1 = traitlets.Float(0.0).tag(sync=True)
    start_w2 = traitlets.Float(0.0).tag(sync=True)
    learning_rate = traitlets.Float(0.1).tag(sync=True)
    steps = traitlets.Int(60).tag(sync=True)

    def __init__(self, x: Sequence[float], y: Sequence[float], surface, extent: float = 3.0,
                 start: tuple[float, float] = (0.0, 0.0), learning_rate: float = 0.1, steps: int = 60,
                 max_rate: float = 1.0, max_steps: int = 300, title: str = "", colour_title: str = "log₁₀ cost"):
        super().__init__()
        x, y, surface = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64), as_float32(surface, "surface")
        if x.ndim != 1 or x.shape != y.shape or not len(x):
            raise FigureDataError(f"x and y must be two lists of one length, got shapes {x.shape} and {y.shape}")
        if surface.ndim != 2 or min(surface.shape) < 2:
            raise FigureDataError(f"surface must be a grid [w2, w1] of at least 2 × 2, got shape {surface.shape}")
        if not (extent > 0 and max_rate >= RATE_STEP and max_steps >= 1):
            raise FigureDataError(f"extent, max_rate and max_steps must be above 0, got {extent}, {max_rate}, {max_steps}")
        with self.hold_sync():
            self.x, self.y, self.surface, self.extent = x.tolist(), y.tolist(), surface, float(extent)
            self.max_rate, self.max_steps, self.title, self.colour_title = float(max_rate), int(max_steps), title, colour_title
            self.select(start, learning_rate, steps)

    def select(self, start: tuple[float, float] | None = None, learning_rate: float | None = None,
               steps: int | None = None) -> None:
        """Choose from Python, as the page's sliders and a click on the map do."""
        with self.hold_sync():
            if start is not None:
                if not all(abs(float(w)) <= self.extent for w in start) or len(start) != 2:
                    raise FigureDataError(f"the start must be two weights within ±{self.extent:g}, got {start}")
                self.start_w1, self.start_w2 = float(start[0]), float(start[1])
            if learning_rate is not None:
                if not RATE_STEP <= float(learning_rate) <= self.max_rate:
                    raise FigureDataError(f"the learning rate must be {RATE_STEP} … {self.max_rate:g}, got {learning_rate}")
                self.learning_rate = float(learning_rate)
            if steps is not None:
                if not 0 <= int(steps) <= self.max_steps:
                    raise FigureDataError(f"steps must be 0 … {self.max_steps}, got {steps}")
                self.steps = int(steps)
