"""Softmax with a temperature on the kit: logits sent once (a whole vocabulary), the temperature chosen by a slider in
the page, which redoes softmax(logits / T) and draws it as bars (js/softmax.js).

    view = TemperatureBars(logits, labels=["␣the", "␣a"], shown=[17, 4], others="(other 8,190)",
                           caption="entropy {entropy} bits")
    view.select(temperature=0.5)
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import traitlets

from explainer.errors import FigureDataError
from explainer.figures.kit.arrays import ARRAY_SYNC, Array, as_float32
from explainer.figures.kit.widget import KitWidget

TEMPERATURES = (0.0, 5.0, 0.05)  # the slider: lowest, highest, step (0: all the mass on the largest logit)
CAPTION_FIELDS = ("temperature", "top", "top_probability", "entropy", "sum")


class TemperatureBars(KitWidget):
    """softmax(logits / T) as bars: one per token `shown` (indices into the logits, in order, each with its label), and
    with `others` (its label) one bar more for every token not shown, so that the bars add up to 100%. T is chosen by
    a slider in the page. `caption`: HTML under the slider with fields the page fills for the T chosen (see
    CAPTION_FIELDS: {top} is the label of the tallest bar of a token, {entropy} in bits, {sum} of every probability)."""

    view = traitlets.Unicode("softmax").tag(sync=True)
    logits = Array(allow_none=True).tag(**ARRAY_SYNC)  # [vocabulary]; −∞ allowed (probability 0)
    shown = traitlets.List(traitlets.Int()).tag(sync=True)
    labels = traitlets.List(traitlets.Unicode()).tag(sync=True)  # one per token shown
    others = traitlets.Unicode("").tag(sync=True)  # the last bar's label ("": no such bar)
    caption = traitlets.Unicode("").tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    temperature = traitlets.Float(1.0).tag(sync=True)
    temperature_range = traitlets.Tuple(default_value=TEMPERATURES).tag(sync=True)

    def __init__(self, logits=None, labels: Sequence[str] = (), shown: Sequence[int] | None = None, others: str = "",
                 caption: str = "", title: str = "", temperature: float = 1.0,
                 temperature_range: tuple[float, float, float] = TEMPERATURES):
        super().__init__()
        low, high, step = (float(v) for v in temperature_range)
        if not 0 <= low < high or step <= 0:
            raise FigureDataError(f"temperature_range must be (lowest ≥ 0, highest above it, step > 0), got {temperature_range}")
        with self.hold_sync():
            self.title, self.caption, self.temperature_range = title, caption, (low, high, step)
            if logits is not None:
                self.show(logits, labels, shown, others)
        self.select(temperature)

    def show(self, logits, labels: Sequence[str], shown: Sequence[int] | None = None, others: str = "",
             caption: str | None = None) -> None:
        """New logits (a new prompt, new scores), sent in one message; `shown` defaults to every token. The temperature
        chosen stays."""
        logits = as_float32(logits, "logits")
        if logits.ndim != 1 or not logits.size:
            raise FigureDataError(f"logits must be a non-empty vector, got shape {tuple(logits.shape)}")
        if np.isnan(logits).any() or np.isposinf(logits).any() or np.isneginf(logits).all():
            raise FigureDataError("logits must be numbers of float32's range (|x| < 3.4e38) or −∞, at least one finite; "
                                  "no NaN, no +∞")
        shown = list(range(logits.size)) if shown is None else [int(i) for i in shown]
        if not shown or not all(0 <= i < logits.size for i in shown):
            raise FigureDataError(f"shown must be indices of the logits, 0 … {logits.size - 1}, at least one, got {shown}")
        if len(labels) != len(shown):
            raise FigureDataError(f"labels: one per token shown ({len(shown)}), got {len(labels)}")
        with self.hold_sync():
            self.logits, self.shown, self.labels, self.others = logits, shown, [str(l) for l in labels], others
            if caption is not None:
                self.caption = caption

    def select(self, temperature: float) -> None:
        """Choose the temperature from Python, as the page's slider does."""
        low, high, _ = self.temperature_range
        if not (math.isfinite(float(temperature)) and low <= float(temperature) <= high):
            raise FigureDataError(f"the temperature must be {low:g} … {high:g}, got {temperature}")
        self.temperature = float(temperature)
