"""Panels one above the other and the controls that choose what they show, drawn and answered in the page: dot grids,
value grids, bars and curves. A panel's arrays may have leading axes named in `over` (a layer, a head, a training
step); the control of that name, a slider or a drop-down of labels, chooses the index along it in the page, with no
kernel message. A curve's `marker` names a control too: the point it marks. DotGrid, ValueGrid, Bars and Curve are
stacks of one panel.

    grid = DotGrid(patterns, token_labels(tokens), over=("layer", "head"), masked=future)   # patterns [L, H, n, n]
    grid.select(layer=2, head=1)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import traitlets

from explainer.errors import FigureDataError
from explainer.figures.kit.arrays import as_float32, packed
from explainer.figures.kit.widget import KitWidget


@dataclass(eq=False)
class Panel:
    """One panel: its kind (dots, values, bars or curve), its arrays (the first is the one `over` indexes), the names
    of the controls that choose along its leading axes, and the labels, titles and sizes its view reads."""

    kind: str
    arrays: dict[str, np.ndarray | None]
    over: tuple[str, ...] = ()
    options: dict = field(default_factory=dict)

    def axes(self) -> dict[str, int]:
        """The controls this panel needs, each with the number of choices it has."""
        main = next(iter(self.arrays.values()))
        axes = dict(zip(self.over, main.shape))
        marker = self.options.get("marker")
        if marker is not None:
            axes[marker] = main.shape[-1]  # a curve's marker: one choice per point
        return axes

    def spec(self) -> dict:
        """What the page receives: the options, the arrays packed as bytes."""
        return {"kind": self.kind, "over": list(self.over), **self.options,
                **{name: packed(array) for name, array in self.arrays.items()}}


def checked(values, name: str, over: Sequence[str], trailing: int) -> np.ndarray:
    """`values` as float32 with one leading axis per name in `over` and `trailing` axes more."""
    array = as_float32(values, name)
    if array.ndim != len(over) + trailing:
        axes = f"one leading axis for each of {', '.join(over)} and " if over else ""
        raise FigureDataError(f"{name} must have {axes}{trailing} axes more, got shape {tuple(array.shape)}")
    return array


def check_labels(labels: Sequence[str], count: int, what: str) -> list[str]:
    if len(labels) != count:
        raise FigureDataError(f"{what}: {count} needed, got {len(labels)} labels")
    return [str(label) for label in labels]


def dots(weights, labels: Sequence[str], over: Sequence[str] = (), masked=None, transposed: bool = False,
         title: str = "", size: int = 460, key_labels: Sequence[str] | None = None) -> Panel:
    """Attention weights [*over, query, key] as dots (area ∝ weight), rows = queries (`transposed`: columns); `masked`
    [query, key] flags cells drawn as masked (grey, no dot). `labels` name the queries, `key_labels` (default: the same)
    the keys."""
    weights = checked(weights, "weights", over, 2)
    queries, keys = weights.shape[-2:]
    mask = None if masked is None else as_float32(np.asarray(masked, dtype=bool), "masked")
    if mask is not None and mask.shape != (queries, keys):
        raise FigureDataError(f"masked must be [query, key] = {(queries, keys)}, got {tuple(mask.shape)}")
    return Panel("dots", {"weights": weights, "masked": mask}, tuple(over), {
        "queries": check_labels(labels, queries, "a label per query"),
        "keys": check_labels(key_labels if key_labels is not None else labels, keys, "a label per key"),
        "transposed": bool(transposed), "title": title, "size": size})


def values(grid, labels: Sequence[str], over: Sequence[str] = (), title: str = "", size: int = 420, digits: int = 1) -> Panel:
    """A square grid of numbers [*over, row, column] (attention scores: rows = queries) as coloured squares, blue > 0 >
    red, each number written with `digits` decimals where it fits; −∞ cells (masked) hatched."""
    grid = checked(grid, "values", over, 2)
    return Panel("values", {"values": grid}, tuple(over), {
        "queries": check_labels(labels, grid.shape[-2], "a label per row"),
        "keys": check_labels(labels, grid.shape[-1], "a label per column"), "title": title, "size": size, "digits": digits})


def bars(heights, labels: Sequence[str], over: Sequence[str] = (), title: str = "", maximum: float | None = None,
         percent: bool = True, highlight: int | str = "max", y_title: str = "") -> Panel:
    """Bars [*over, bar] from 0 up to `maximum` (default: the tallest of every choice, so the axis stays), each labelled
    below the axis; `highlight`: "max" (the tallest of the choice shown), a bar's index, or -1 for none."""
    heights = checked(heights, "heights", over, 1)
    if maximum is None:
        maximum = float(np.nanmax(heights)) if heights.size and np.nanmax(heights) > 0 else 1.0
    return Panel("bars", {"values": heights}, tuple(over), {
        "labels": check_labels(labels, heights.shape[-1], "a label per bar"), "title": title, "maximum": float(maximum),
        "percent": percent, "highlight": highlight, "y_title": y_title})


def curve(x, y, over: Sequence[str] = (), marker: str | None = None, title: str = "", x_title: str = "",
          y_title: str = "") -> Panel:
    """y [*over, point] against x [point], a dot at each point; `marker` names a control whose choice is the point
    marked (a training step on a loss curve). The axes hold every choice's curve."""
    y = checked(y, "y", over, 1)
    x = checked(x, "x", (), 1)
    if x.shape[0] != y.shape[-1]:
        raise FigureDataError(f"x has {x.shape[0]} points and y {y.shape[-1]}: give one x per point")
    finite = y[np.isfinite(y)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    pad = 0.05 * (high - low or 1.0)
    return Panel("curve", {"y": y, "x": x}, tuple(over), {
        "marker": marker, "title": title, "x_title": x_title, "y_title": y_title, "low": low - pad, "high": high + pad})


@dataclass(frozen=True)
class Control:
    """How the page offers the choice `name`: a slider over its indices, or, with `labels`, a drop-down of them."""

    name: str
    labels: Sequence[str] | None = None
    label: str | None = None  # the text beside it (default: its name)

    def spec(self, count: int) -> dict:
        shown = self.label or self.name
        if self.labels is None:
            return {"kind": "slider", "name": self.name, "label": shown, "min": 0, "max": count - 1}
        labels = check_labels(self.labels, count, f"the drop-down {self.name!r}: a label per choice")
        return {"kind": "dropdown", "name": self.name, "label": shown, "options": [[i, text] for i, text in enumerate(labels)]}


class Stack(KitWidget):
    """Panels one above the other (see `dots`, `values`, `bars`, `curve`) and a control per name in their `over` (or
    `marker`): `controls` say how each is offered, a slider by default."""

    view = traitlets.Unicode("stack").tag(sync=True)
    panels = traitlets.List().tag(sync=True, to_json=lambda panels, widget: [panel.spec() for panel in panels])
    controls = traitlets.List(traitlets.Dict()).tag(sync=True)
    choice = traitlets.Dict().tag(sync=True)  # each control's index

    def __init__(self, panels: Sequence[Panel], controls: Sequence[Control] = (), **choice: int):
        super().__init__()
        self.sizes: dict[str, int] = {}
        self.show(panels, controls)
        self.select(**choice)

    def show(self, panels: Sequence[Panel], controls: Sequence[Control] = ()) -> None:
        """New panels (a new prompt, a new sample), sent in one message; each choice is kept where it still fits."""
        sizes: dict[str, int] = {}
        for panel in panels:
            for name, count in panel.axes().items():
                if sizes.setdefault(name, count) != count:
                    raise FigureDataError(f"the panels disagree on how many choices {name!r} has: {sizes[name]} and {count}")
        offered = {control.name: control for control in controls}
        unused = sorted(set(offered) - set(sizes))
        if unused:
            raise FigureDataError(f"no panel is chosen by {', '.join(unused)}: name them in a panel's `over`")
        specs = [offered.get(name, Control(name)).spec(count) for name, count in sizes.items()]
        with self.hold_sync():
            self.panels, self.controls = list(panels), specs
            self.choice = {name: min(self.choice.get(name, 0), count - 1) for name, count in sizes.items()}
        self.sizes = sizes

    def select(self, **choice: int) -> None:
        """Choose from Python, as the page's controls do: select(layer=2, head=1)."""
        for name, index in choice.items():
            if name not in self.sizes:
                raise FigureDataError(f"no control named {name!r}; this figure has {', '.join(self.sizes) or 'none'}")
            if not 0 <= int(index) < self.sizes[name]:
                raise FigureDataError(f"{name} must be 0 … {self.sizes[name] - 1}, got {index}")
        self.choice = {**self.choice, **{name: int(index) for name, index in choice.items()}}


class DotGrid(Stack):
    """One dot grid (see `dots`) and a slider for each axis in `over`."""

    def __init__(self, weights, labels: Sequence[str], over: Sequence[str] = (), controls: Sequence[Control] = (), **options):
        super().__init__([dots(weights, labels, over, **options)], controls)


class ValueGrid(Stack):
    """One grid of numbers (see `values`)."""

    def __init__(self, grid, labels: Sequence[str], over: Sequence[str] = (), controls: Sequence[Control] = (), **options):
        super().__init__([values(grid, labels, over, **options)], controls)


class Bars(Stack):
    """One bar chart (see `bars`)."""

    def __init__(self, heights, labels: Sequence[str], over: Sequence[str] = (), controls: Sequence[Control] = (), **options):
        super().__init__([bars(heights, labels, over, **options)], controls)


class Curve(Stack):
    """One curve (see `curve`), its marker moved by a slider when `marker` names one."""

    def __init__(self, x, y, over: Sequence[str] = (), controls: Sequence[Control] = (), **options):
        super().__init__([curve(x, y, over, **options)], controls)
