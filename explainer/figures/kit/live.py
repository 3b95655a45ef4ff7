"""A run watched as it trains, on the kit: Python sends what changed with each progress report (the counters, the loss
curves, the moments; the attention patterns and samples at the kept steps and the latest when a measurement adds
them), and the page chooses among them (a step to look back at, a layer, a head) with no kernel message.

    view = LiveView(grid_title="where each position looks")
    view.new_run(tokens, title="the loss as it trains", y_top=4.6, reference=(3.3, "characters alone: 3.30"))
    view.show_curves(batch=(steps, losses), validation=(steps, losses), x_range=(0, 800))
    view.show_patterns(kept_steps=[0, 100], kept=patterns, kept_samples=[...], latest=pattern, latest_sample="...")
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import traitlets

from explainer.errors import FigureDataError
from explainer.figures.kit.arrays import ARRAY_SYNC, Array, as_float32
from explainer.figures.kit.attention import select_head
from explainer.figures.kit.widget import KitWidget

NOW = -1  # the look-back choice that follows the training


class LiveView(KitWidget):
    """Counters (HTML), the loss as it trains (a thin line of training batches, the validation losses with dots, a
    dashed reference line, and marks: a star on the validation curve at each moment's step, labelled on a row of its
    own), a list of moments (HTML), and, for the step looked back at (or the latest), its sample (HTML) and the chosen
    layer and head's attention on a fixed line as dots, the future masked. `tokens`: the line's labels."""

    view = traitlets.Unicode("live").tag(sync=True)
    counters = traitlets.Unicode().tag(sync=True)
    moments = traitlets.Unicode().tag(sync=True)
    title = traitlets.Unicode().tag(sync=True)  # the loss chart's
    grid_title = traitlets.Unicode().tag(sync=True)
    colours_of = traitlets.Dict().tag(sync=True)  # batch, validation, reference, mark: each a CSS colour
    batch_steps = Array(allow_none=True).tag(**ARRAY_SYNC)  # [points]
    batch_losses = Array(allow_none=True).tag(**ARRAY_SYNC)
    validation_steps = Array(allow_none=True).tag(**ARRAY_SYNC)
    validation_losses = Array(allow_none=True).tag(**ARRAY_SYNC)
    marks = traitlets.List(traitlets.Dict()).tag(sync=True)  # {step, loss, label, text}
    x_range = traitlets.List(traitlets.Float()).tag(sync=True)
    y_top = traitlets.Float(1.0).tag(sync=True)
    reference = traitlets.Dict().tag(sync=True)  # {y, label}: a dashed line across the chart
    tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    kept_steps = traitlets.List(traitlets.Int()).tag(sync=True)
    kept_patterns = Array(allow_none=True).tag(**ARRAY_SYNC)  # [kept, layer, head, query, key]
    kept_samples = traitlets.List(traitlets.Unicode()).tag(sync=True)  # HTML, one per kept step
    latest_pattern = Array(allow_none=True).tag(**ARRAY_SYNC)  # [layer, head, query, key]
    latest_sample = traitlets.Unicode().tag(sync=True)
    look_back = traitlets.Int(NOW).tag(sync=True)  # a kept step, or NOW
    layer = traitlets.Int(0).tag(sync=True)
    head = traitlets.Int(0).tag(sync=True)

    def __init__(self, grid_title: str = "", colours: dict[str, str] | None = None):
        super().__init__()
        with self.hold_sync():
            self.grid_title, self.colours_of = grid_title, colours or {}

    def new_run(self, tokens: Sequence[str], title: str, y_top: float, reference: tuple[float, str] | None = None) -> None:
        """A new run: the line's token labels, the loss chart's title, top and reference line; nothing kept yet, the
        first layer and head, following the training."""
        with self.hold_sync():
            self.tokens, self.title, self.y_top = [str(t) for t in tokens], title, float(y_top)
            self.reference = {} if reference is None else {"y": float(reference[0]), "label": reference[1]}
            self.kept_steps, self.kept_patterns, self.latest_pattern, self.kept_samples = [], None, None, []
            self.marks, self.look_back, self.layer, self.head = [], NOW, 0, 0

    def show_curves(self, batch: tuple[Sequence[float], Sequence[float]], validation: tuple[Sequence[float], Sequence[float]],
                    x_range: tuple[float, float]) -> None:
        """The loss curves so far (steps, losses) and the x axis; each array travels only when it changed."""
        with self.hold_sync():
            for name, (steps, losses) in (("batch", batch), ("validation", validation)):
                steps, losses = as_float32(steps, f"{name} steps"), as_float32(losses, f"{name} losses")
                if steps.shape != losses.shape or steps.ndim != 1:
                    raise FigureDataError(f"{name}: one loss per step, got {steps.shape} steps and {losses.shape} losses")
                for trait, array in ((f"{name}_steps", steps), (f"{name}_losses", losses)):
                    if getattr(self, trait) is None or not np.array_equal(getattr(self, trait), array):
                        setattr(self, trait, array)
            self.x_range = [float(x_range[0]), float(x_range[1])]

    def show_patterns(self, kept_steps: Sequence[int], kept, kept_samples: Sequence[str], latest,
                      latest_sample: str) -> None:
        """The patterns [layer, head, query, key] and samples at the kept steps and the latest; a look-back at a step
        no longer kept follows the training again."""
        kept, latest = as_float32(kept, "kept patterns"), as_float32(latest, "the latest pattern")
        n = len(self.tokens)
        if latest.ndim != 4 or latest.shape[2:] != (n, n) or kept.shape[1:] != latest.shape or len(kept) != len(kept_steps):
            raise FigureDataError(f"patterns must be [layer, head, {n}, {n}], one for each of {len(kept_steps)} kept steps "
                                  f"and the latest; got {kept.shape} and {latest.shape}")
        if len(kept_samples) != len(kept_steps):
            raise FigureDataError(f"a sample per kept step: {len(kept_steps)} steps, {len(kept_samples)} samples")
        with self.hold_sync():
            if self.kept_patterns is None or list(kept_steps) != self.kept_steps or not np.array_equal(kept, self.kept_patterns):
                self.kept_steps, self.kept_patterns, self.kept_samples = [int(s) for s in kept_steps], kept, list(kept_samples)
            if self.latest_pattern is None or not np.array_equal(latest, self.latest_pattern):
                self.latest_pattern = latest
            self.latest_sample = latest_sample
            if self.look_back not in self.kept_steps:
                self.look_back = NOW
            layers, heads = latest.shape[:2]
            self.layer, self.head = min(self.layer, layers - 1), min(self.head, heads - 1)

    def select(self, layer: int | None = None, head: int | None = None, look_back: int | None = None) -> None:
        """Choose from Python, as the page's controls do: a layer, a head, a kept step to look back at (NOW: the
        latest)."""
        layers, heads = self.latest_pattern.shape[:2] if self.latest_pattern is not None else (1, 1)
        with self.hold_sync():
            select_head(self, layer, head, layers, heads)
            if look_back is not None:
                if look_back != NOW and look_back not in self.kept_steps:
                    raise FigureDataError(f"look back at one of the kept steps {self.kept_steps} or NOW, got {look_back}")
                self.look_back = int(look_back)
