"""Rotary positions on the kit: a query and a key sent once; the page rotates them to the positions its sliders choose
and writes their dot product (js/positions.js redoes explainer.positions.rope).

    view = RopeView(q, k, query_position=10, key_position=3, shift=100)
"""

from __future__ import annotations

import traitlets

from explainer.errors import FigureDataError
from explainer.figures.kit.arrays import ARRAY_SYNC, Array, as_float32
from explainer.figures.kit.attention import check_choice
from explainer.figures.kit.widget import KitWidget


class RopeView(KitWidget):
    """A query and a key [d] rotated to two positions (0 … `positions`) and both moved by a shift (0 … `shifts`),
    chosen in the page: the score q·k at (m, n) and at (m + s, n + s), computed there in float64."""

    view = traitlets.Unicode("rope").tag(sync=True)
    q = Array(allow_none=True).tag(**ARRAY_SYNC)
    k = Array(allow_none=True).tag(**ARRAY_SYNC)
    base = traitlets.Float(10_000.0).tag(sync=True)
    positions = traitlets.Int(200).tag(sync=True)  # the position sliders' last value
    shifts = traitlets.Int(1000).tag(sync=True)  # the shift slider's last value
    query_position = traitlets.Int(0).tag(sync=True)
    key_position = traitlets.Int(0).tag(sync=True)
    shift = traitlets.Int(0).tag(sync=True)

    def __init__(self, q, k, query_position: int = 0, key_position: int = 0, shift: int = 0, positions: int = 200,
                 shifts: int = 1000, base: float = 10_000.0):
        super().__init__()
        q, k = as_float32(q, "q"), as_float32(k, "k")
        if q.ndim != 1 or q.shape != k.shape or q.shape[0] % 2:
            raise FigureDataError(f"q and k must be vectors of one even size (RoPE rotates pairs), got {q.shape} and {k.shape}")
        with self.hold_sync():
            self.q, self.k, self.base, self.positions, self.shifts = q, k, float(base), int(positions), int(shifts)
        self.select(query_position, key_position, shift)

    def select(self, query_position: int | None = None, key_position: int | None = None, shift: int | None = None) -> None:
        """Choose from Python, as the page's sliders do."""
        with self.hold_sync():
            if query_position is not None:
                self.query_position = check_choice("query position", query_position, self.positions + 1)
            if key_position is not None:
                self.key_position = check_choice("key position", key_position, self.positions + 1)
            if shift is not None:
                self.shift = check_choice("shift", shift, self.shifts + 1)
