"""Panels one above the other and the controls that choose what they show, drawn and answered in the page: dot grids,
value grids, bars, curves, text and rows of tokens. A panel's arrays may have leading axes named in `over` (a layer, a
head, a training step); the control of that name, a slider or a drop-down of labels, chooses the index along it in the
page, with no kernel message. A curve's `marker` names a control too: the point it marks, and a `switch` shows other
panels for each choice of its control (a word, each with its own lines). DotGrid, ValueGrid, Bars and Curve are
stacks of one panel.

    grid = DotGrid(patterns, token_labels(tokens), over=("layer", "head"), masked=future)   # patterns [L, H, n, n]
    grid.select(layer=2, head=1)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import traitlets

from explainer.errors import FigureDataError
from explainer.figures.kit.arrays import as_float32, packed
from explainer.figures.kit.widget import KitWidget


@dataclass(eq=False)
class Panel:
    """One panel: its kind (dots, values, bars, curve, text, tokens or switch), its arrays (the first is the one `over`
    indexes), the names of the controls that choose along its leading axes, and the labels, titles and sizes its view
    reads. A panel with no array (text) gives its axes' sizes in `counts`; a switch holds a list of panels per choice."""

    kind: str
    arrays: dict[str, np.ndarray | None]
    over: tuple[str, ...] = ()
    options: dict = field(default_factory=dict)
    counts: tuple[int, ...] | None = None
    groups: list[list["Panel"]] = field(default_factory=list)

    def axes(self) -> dict[str, int]:
        """The controls this panel needs, each with the number of choices it has."""
        counts = self.counts if self.counts is not None else next(iter(self.arrays.values())).shape
        axes = dict(zip(self.over, counts))
        marker = self.options.get("marker")
        if marker is not None:
            axes[marker] = counts[-1]  # a curve's marker: one choice per point
        inner = axes_of([panel for group in self.groups for panel in group])
        if any(name in inner for name in axes):
            raise FigureDataError(f"a switch's panels cannot be chosen by its own control {', '.join(axes)}")
        return {**axes, **inner}

    def spec(self) -> dict:
        """What the page receives: the options, the arrays packed as bytes (a switch: its groups' specs)."""
        groups = {"groups": [[panel.spec() for panel in group] for group in self.groups]} if self.groups else {}
        return {"kind": self.kind, "over": list(self.over), **self.options, **groups,
                **{name: packed(array) for name, array in self.arrays.items()}}


def axes_of(panels: Sequence[Panel]) -> dict[str, int]:
    """Every control the panels need, with its number of choices; refused where two panels disagree on one."""
    sizes: dict[str, int] = {}
    for panel in panels:
        for name, count in panel.axes().items():
            if sizes.setdefault(name, count) != count:
                raise FigureDataError(f"the panels disagree on how many choices {name!r} has: {sizes[name]} and {count}")
    return sizes


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


def per_choice(items, leading: tuple[int, ...], trailing: tuple[int, ...], what: str) -> tuple[list, int]:
    """`items` (nested lists or an array) that vary along the first k of a panel's leading axes (k = 0: the same for
    every choice), each holding `trailing`-shaped items: flattened, with k. The page picks the chosen slice."""
    try:
        found = np.asarray(items, dtype=object)
    except ValueError:  # ragged lists
        raise FigureDataError(f"{what}: lists of unequal lengths; give {trailing[-1] if trailing else 1} for each choice") from None
    k = found.ndim - len(trailing)
    if k < 0 or k > len(leading) or found.shape != (*leading[:k], *trailing):
        shapes = " or ".join(str((*leading[:i], *trailing)) for i in range(len(leading) + 1))
        raise FigureDataError(f"{what}: expected the shape {shapes}, got {found.shape}")
    return found.ravel().tolist(), k


def dots(weights, labels: Sequence[str], over: Sequence[str] = (), masked=None, transposed: bool = False,
         title: str = "", size: int | None = None, key_labels: Sequence[str] | None = None,
         tiles: Sequence[str] | None = None) -> Panel:
    """Attention weights [*over, query, key] as dots (area ∝ weight), rows = queries (`transposed`: columns); `masked`
    [query, key] flags cells drawn as masked (grey, no dot). `labels` name the queries, `key_labels` (default: the same)
    the keys; the grid is `size` px at most (default 460). With `tiles` (a name each: every head of a layer), weights
    [*over, tile, query, key] as small grids side by side, `size` px each at most (default 140), their tokens named on
    hover."""
    weights = checked(weights, "weights", over, 2 if tiles is None else 3)
    queries, keys = weights.shape[-2:]
    mask = None if masked is None else as_float32(np.asarray(masked, dtype=bool), "masked")
    if mask is not None and mask.shape != (queries, keys):
        raise FigureDataError(f"masked must be [query, key] = {(queries, keys)}, got {tuple(mask.shape)}")
    tiled = {} if tiles is None else {"tiles": check_labels(tiles, weights.shape[-3], "a name per tile")}
    return Panel("dots", {"weights": weights, "masked": mask}, tuple(over), {
        "queries": check_labels(labels, queries, "a label per query"),
        "keys": check_labels(key_labels if key_labels is not None else labels, keys, "a label per key"),
        "transposed": bool(transposed), "title": title, "size": size or (460 if tiles is None else 140), **tiled})


def values(grid, labels: Sequence[str], over: Sequence[str] = (), title: str = "", size: int = 420, digits: int = 1,
           extent: float | None = None, row_title: str | None = None, column_title: str | None = None,
           name: str = "score") -> Panel:
    """A square grid of numbers [*over, row, column] (attention scores: rows = queries) as coloured squares, blue > 0 >
    red, each number written with `digits` decimals where it fits; −∞ cells (masked) hatched. The deepest colours are
    ±`extent` (default: the largest |number| shown), so that a fixed extent keeps colours comparable between choices.
    The axes are titled query and key unless `row_title`, `column_title` say otherwise; `name` is the number's on
    hover."""
    grid = checked(grid, "values", over, 2)
    if extent is not None and not extent > 0:
        raise FigureDataError(f"extent must be above 0, got {extent}")
    titles = {key: text for key, text in (("row_title", row_title), ("column_title", column_title)) if text is not None}
    return Panel("values", {"values": grid}, tuple(over), {
        "queries": check_labels(labels, grid.shape[-2], "a label per row"),
        "keys": check_labels(labels, grid.shape[-1], "a label per column"), "title": title, "size": size, "digits": digits,
        "extent": None if extent is None else float(extent), "name": name, **titles})


def bars(heights, labels, over: Sequence[str] = (), title: str = "", maximum: float | None = None,
         percent: bool = True, highlight="max", y_title: str = "", minimum: float | None = None, signed: bool = False,
         digits: int = 2) -> Panel:
    """Bars [*over, bar] from 0 up to `maximum` (default: the tallest of every choice, so the axis stays) and down to
    `minimum` (default: 0, or the lowest of every choice if one is below 0), each labelled below the axis and its value
    (`percent`, or with `digits` decimals) written beside it where it fits; NaN: no bar. `labels`: one per bar, or one
    per bar for each choice of the first k controls in `over` ([*over[:k], bar]: the candidates of each step).
    `highlight`: "max" (the tallest of the choice shown), a bar's index, -1 for none, or an index per choice of the
    first k controls. `signed`: bars below 0 in the negative colour."""
    heights = checked(heights, "heights", over, 1)
    leading, count = heights.shape[:-1], heights.shape[-1]
    finite = heights[np.isfinite(heights)]
    if maximum is None:
        maximum = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    if minimum is None:
        minimum = min(0.0, float(finite.min())) if finite.size else 0.0
    if not minimum <= 0 < maximum:
        raise FigureDataError(f"bars need minimum ≤ 0 < maximum, got {minimum} and {maximum}")
    names, label_axes = per_choice(labels, leading, (count,), "bar labels")
    chosen = {"highlight": highlight}
    if not isinstance(highlight, (int, str)):
        marks, axes = per_choice(highlight, leading, (), "highlight")
        chosen = {"highlight": "chosen", "highlights": [int(i) for i in marks], "highlight_axes": axes}
    return Panel("bars", {"values": heights}, tuple(over), {
        "labels": [str(name) for name in names], "label_axes": label_axes, "title": title, "maximum": float(maximum),
        "minimum": float(minimum), "percent": percent, "y_title": y_title, "signed": bool(signed), "digits": digits,
        **chosen})


def curve(x, y, over: Sequence[str] = (), marker: str | None = None, title: str = "", x_title: str = "",
          y_title: str = "", names: Sequence[str] | None = None, x_labels: Sequence[str] | None = None,
          low: float | None = None, high: float | None = None) -> Panel:
    """y [*over, point] against x [point], a dot at each point; `marker` names a control whose choice is the point
    marked (a training step on a loss curve). With `names`, several curves y [*over, curve, point] in their own colours
    and a legend, the marked point a vertical line across them. `x_labels` name the points on the x axis (stages)
    instead of numbers. The axes hold every choice's curve, from `low` to `high` if given."""
    y = checked(y, "y", over, 1 if names is None else 2)
    x = checked(x, "x", (), 1)
    if x.shape[0] != y.shape[-1]:
        raise FigureDataError(f"x has {x.shape[0]} points and y {y.shape[-1]}: give one x per point")
    finite = y[np.isfinite(y)]
    lowest, highest = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    pad = 0.05 * (highest - lowest or 1.0)
    series = {} if names is None else {"names": check_labels(names, y.shape[-2], "a name per curve")}
    ticks = {} if x_labels is None else {"x_labels": check_labels(x_labels, x.shape[0], "a label per point")}
    return Panel("curve", {"y": y, "x": x}, tuple(over), {
        "marker": marker, "title": title, "x_title": x_title, "y_title": y_title,
        "low": lowest - pad if low is None else float(low), "high": highest + pad if high is None else float(high),
        **series, **ticks})


def text(pieces, over: Sequence[str] = (), title: str = "") -> Panel:
    """HTML, one piece for each choice of the controls in `over` (nested as they are: pieces[layer][token]); the page
    shows the chosen one. Python writes the markup: escape what is not markup (html.escape)."""
    try:
        found = np.asarray(pieces, dtype=object)
    except ValueError:  # ragged lists
        found = np.empty(0, dtype=object)
    if found.ndim != len(over) or not all(isinstance(piece, str) for piece in found.ravel()):
        raise FigureDataError(f"text must be one string for each choice of {', '.join(over) or 'nothing'}, "
                              f"nested {len(over)} deep; got shape {found.shape}")
    return Panel("text", {}, tuple(over), {"pieces": found.ravel().tolist(), "counts": list(found.shape), "title": title},
                 counts=found.shape)


def tokens(ids, vocabulary: Callable[[list[int]], list[str]] | Sequence[str], over: Sequence[str] = (), numbers=None,
           scores=None, row_labels: Sequence[str] | None = None, marked: bool = True, title: str = "",
           digits: int = 2) -> Panel:
    """Rows of tokens [*over, row, slot] (ids; −1: an empty slot), each token boxed, the last of each row marked
    (`marked`); `numbers` [*over, row] before each row (how strongly it fired), `scores` [*over, row, slot] after each
    token, `row_labels` before each row. `vocabulary` gives the tokens' texts: a list by id, or a function from the ids
    used to their texts; only the tokens used travel."""
    found = np.asarray(ids)
    if found.ndim != len(over) + 2 or not np.issubdtype(found.dtype, np.integer) or (found.size and found.min() < -1):
        raise FigureDataError(f"token ids must be whole numbers ≥ −1 with one leading axis for each of "
                              f"{', '.join(over) or 'nothing'} and 2 axes more (row, slot), got shape {found.shape}")
    used = np.unique(found[found >= 0])
    words = vocabulary(used.tolist()) if callable(vocabulary) else [vocabulary[i] for i in used.tolist()]
    local = np.where(found >= 0, np.searchsorted(used, found), -1)  # each id's place among the tokens used
    arrays = {"ids": as_float32(local, "token ids"),
              "numbers": None if numbers is None else checked(numbers, "numbers", over, 1),
              "scores": None if scores is None else checked(scores, "scores", over, 2)}
    for name, shape in (("numbers", found.shape[:-1]), ("scores", found.shape)):
        if arrays[name] is not None and arrays[name].shape != shape:
            raise FigureDataError(f"{name} must have the shape {shape}, got {arrays[name].shape}")
    labels = {} if row_labels is None else {"row_labels": check_labels(row_labels, found.shape[-2], "a label per row")}
    return Panel("tokens", arrays, tuple(over), {"vocabulary": [str(word) for word in words], "marked": bool(marked),
                                                 "title": title, "digits": digits, **labels})


def switch(name: str, groups: Sequence[Sequence[Panel]]) -> Panel:
    """Other panels for each choice of the control `name` (a word, each with its own lines and labels): the page shows
    the chosen group, and its panels follow the other controls."""
    if not groups:
        raise FigureDataError(f"switch {name!r} needs at least one group of panels")
    return Panel("switch", {}, (name,), counts=(len(groups),), groups=[list(group) for group in groups])


@dataclass(frozen=True)
class Control:
    """How the page offers the choice `name`: a slider over its indices, or, with `labels`, a drop-down of them (with
    `slider` too: a slider whose readout is the chosen label, for choices in order such as training steps)."""

    name: str
    labels: Sequence[str] | None = None
    label: str | None = None  # the text beside it (default: its name)
    slider: bool = False

    def spec(self, count: int) -> dict:
        shown = self.label or self.name
        if self.labels is None:
            return {"kind": "slider", "name": self.name, "label": shown, "min": 0, "max": count - 1}
        labels = check_labels(self.labels, count, f"the control {self.name!r}: a label per choice")
        if self.slider:
            return {"kind": "slider", "name": self.name, "label": shown, "min": 0, "max": count - 1, "labels": labels}
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
        sizes = axes_of(panels)
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
