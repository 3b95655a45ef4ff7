"""A plot on x and y axes, linear or log, made of layers drawn in the page (js/plot.js): lines, filled step histograms,
labelled points, arrows, a shaded band and vertical lines. As a stack's panels do, a layer's arrays may have leading
axes named in `over`, chosen by the page's controls with no kernel message; the plot's legend names, its title and
a band's share of each histogram follow the choice. Stack panels (`text`) may sit above it.

    Plot([lines(lengths, flops, ["attention", "MLP"], over=("width",)), vline(crossovers, notes, over=("width",))],
         [Control("width", labels)], x_title="n", y_title="FLOPs", x_log=True, y_log=True)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import traitlets

from explainer.errors import FigureDataError
from explainer.figures.kit.stack import Control, Panel, Stack, axes_of, checked, per_choice

KINDS = ("lines", "steps", "points", "arrows", "band", "vline")  # the layers (js/plot.js: LAYERS)


def texts_per_choice(items, leading: tuple[int, ...], count: int, what: str) -> dict:
    """`count` texts for each choice of a layer's first k controls: {flat list, k}, as the page slices them."""
    flat, k = per_choice(items, leading, (count,), what)
    return {"flat": [str(item) for item in flat], "axes": k}


def lines(x, y, names: Sequence | None = None, over: Sequence[str] = (), colours: Sequence[str] | None = None,
          dashed: bool = False, x_name: str = "x") -> Panel:
    """Lines y [*over, series, point] against x [point]; NaN leaves a gap (a curve that stops). `names`: one per
    series (the legend; per choice: [*over[:k], series]); `colours`: kit colour names ("bar", "highlight", ...) or CSS
    colours, one per series; `x_name` says what x is on hover."""
    y, x = checked(y, "y", over, 2), checked(x, "x", (), 1)
    if x.shape[0] != y.shape[-1]:
        raise FigureDataError(f"x has {x.shape[0]} points and y {y.shape[-1]}: give one x per point")
    named = {} if names is None else texts_per_choice(names, y.shape[:-2], y.shape[-2], "line names")
    return Panel("lines", {"y": y, "x": x}, tuple(over), {
        "names": named.get("flat"), "name_axes": named.get("axes", 0), "colours": list(colours) if colours else None,
        "dashed": bool(dashed), "x_name": x_name})


def steps(edges, shares, names: Sequence, over: Sequence[str] = (), colours: Sequence[str] | None = None,
          x_name: str = "") -> Panel:
    """Histograms shares [*over, series, bin] over bin `edges` [bin + 1], as filled step lines, one over another.
    `names` (one per series, or per choice: [*over[:k], series]) may hold "{share}": the page writes there the share of
    that histogram inside the plot's band (the bins between the band's edges)."""
    shares, edges = checked(shares, "shares", over, 2), checked(edges, "edges", (), 1)
    if edges.shape[0] != shares.shape[-1] + 1 or not (np.diff(edges) > 0).all():
        raise FigureDataError(f"a histogram of {shares.shape[-1]} bins needs {shares.shape[-1] + 1} increasing edges, "
                              f"got {edges.shape[0]}")
    named = texts_per_choice(names, shares.shape[:-2], shares.shape[-2], "histogram names")
    return Panel("steps", {"shares": shares, "edges": edges}, tuple(over), {
        "names": named["flat"], "name_axes": named["axes"], "colours": list(colours) if colours else None, "x_name": x_name})


def points(xy, labels: Sequence, over: Sequence[str] = (), colour: str = "bar", anchor: str = "above",
           star: bool = False) -> Panel:
    """Points xy [*over, point, 2], each labelled (`anchor`: above, below, left or right of it; labels per choice:
    [*over[:k], point]), in one colour; `star`: drawn as stars."""
    xy = checked(xy, "xy", over, 2)
    if xy.shape[-1] != 2:
        raise FigureDataError(f"xy must end in (x, y) pairs, got shape {tuple(xy.shape)}")
    if anchor not in ("above", "below", "left", "right"):
        raise FigureDataError(f"anchor must be above, below, left or right, got {anchor!r}")
    named = texts_per_choice(labels, xy.shape[:-2], xy.shape[-2], "point labels")
    return Panel("points", {"xy": xy}, tuple(over), {"labels": named["flat"], "label_axes": named["axes"],
                                                     "colour": colour, "anchor": anchor, "star": bool(star)})


def arrows(starts, ends, labels: Sequence, colours: Sequence[str], over: Sequence[str] = ()) -> Panel:
    """Arrows from `starts` to `ends` [*over, arrow, 2], each labelled at its middle (per choice: [*over[:k],
    arrow]), coloured in turn by `colours`."""
    starts, ends = checked(starts, "starts", over, 2), checked(ends, "ends", over, 2)
    if starts.shape != ends.shape or starts.shape[-1] != 2:
        raise FigureDataError(f"starts and ends must be alike, ending in (x, y) pairs: {starts.shape} and {ends.shape}")
    if not colours:
        raise FigureDataError("arrows need at least one colour")
    named = texts_per_choice(labels, starts.shape[:-2], starts.shape[-2], "arrow labels")
    return Panel("arrows", {"starts": starts, "ends": ends}, tuple(over), {
        "labels": named["flat"], "label_axes": named["axes"], "colours": list(colours)})


def band(low, high, over: Sequence[str] = ()) -> Panel:
    """A shaded band across the plot from x = low to x = high [*over] (a tolerance chosen in the page)."""
    low, high = checked(low, "low", over, 0), checked(high, "high", over, 0)
    if low.shape != high.shape or not (low <= high).all():
        raise FigureDataError("a band needs low ≤ high for every choice")
    return Panel("band", {"low": low, "high": high}, tuple(over))


def vline(x, notes, over: Sequence[str] = ()) -> Panel:
    """A dotted vertical line at x [*over] across the plot, its note (one per choice, nested as `over`) at the top."""
    x = checked(x, "x", over, 0)
    found, _ = per_choice(notes, x.shape, (), "vertical line notes")
    if len(found) != x.size:
        raise FigureDataError(f"a note for each of the {x.size} choices, got {len(found)}")
    return Panel("vline", {"x": x}, tuple(over), {"notes": [str(note) for note in found]})


def extent(layers: Sequence[Panel], axis: int) -> np.ndarray:
    """Every finite value the layers place along x (axis 0) or y (axis 1), for the range that holds them all."""
    found = []
    for layer in layers:
        a = layer.arrays
        if layer.kind == "lines":
            found += [a["x"]] if axis == 0 else [a["y"]]
        elif layer.kind == "steps":
            found += [a["edges"]] if axis == 0 else [a["shares"], np.zeros(1)]
        elif layer.kind == "points":
            found.append(a["xy"][..., axis])
        elif layer.kind == "arrows":
            found += [a["starts"][..., axis], a["ends"][..., axis]]
        elif layer.kind == "vline" and axis == 0:
            found.append(a["x"])
    values = np.concatenate([np.ravel(v) for v in found]) if found else np.zeros(0)
    return values[np.isfinite(values)]


def axis_range(values: np.ndarray, log: bool, given: tuple[float, float] | None, name: str) -> dict:
    """An axis's ends: `given`, or the values' extent padded (5 %; on a log axis, a tenth of a decade)."""
    if given is not None:
        low, high = map(float, given)
    elif log:
        if (values <= 0).any():
            raise FigureDataError(f"a log {name} axis needs values above 0, got {float(values.min())}")
        low, high = (float(values.min()), float(values.max())) if values.size else (1.0, 10.0)
        low, high = low / 10**0.1, high * 10**0.1
    else:
        low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
        pad = 0.05 * (high - low or 1.0)
        low, high = low - pad, high + pad
    if not low < high or (log and low <= 0):
        raise FigureDataError(f"the {name} axis needs low < high{' and low > 0 (a log axis)' if log else ''}, "
                              f"got {low} and {high}")
    return {"low": low, "high": high, "log": bool(log)}


class Plot(Stack):
    """Layers of one plot (see `lines`, `steps`, `points`, `arrows`, `band`, `vline`) and stack panels above it, with a
    control per name in their `over`. The axes hold every choice's values unless `x_range`, `y_range` say otherwise;
    `equal`: a unit as long across as up (a drawing to scale); `titles`: one per choice of the controls `title_over`
    (nested as they are); `y_highs`: the y axis's top for each choice of the controls `y_over` (histograms that
    sharpen with the choice), from the y range's bottom."""

    view = traitlets.Unicode("plot").tag(sync=True)
    frame = traitlets.Dict().tag(sync=True)  # the axes, their titles, the titles per choice (js/plot.js: plot)

    def __init__(self, layers: Sequence[Panel], controls: Sequence[Control] = (), **options):
        choice = {name: options.pop(name) for name in list(options) if name not in FRAME_OPTIONS}
        self.frame_options = options
        super().__init__(layers, controls, **choice)

    def show(self, layers: Sequence[Panel], controls: Sequence[Control] = (), **options) -> None:
        """New layers (new numbers from the kernel: new words, a new sample), and the frame for them, in one message."""
        options = {**self.frame_options, **options}
        plotted = [layer for layer in layers if layer.kind in KINDS]
        if not plotted:
            raise FigureDataError("a plot needs at least one layer (lines, steps, points, arrows, band or vline)")
        frame = plot_frame(plotted, axes_of(layers), **options)
        with self.hold_sync():
            self.frame = frame
            super().show(layers, controls)
        self.frame_options = options


FRAME_OPTIONS = ("x_title", "y_title", "x_log", "y_log", "x_range", "y_range", "equal", "titles", "title_over", "y_highs",
                 "y_over", "height")


def plot_frame(layers: Sequence[Panel], sizes: dict[str, int], x_title: str = "", y_title: str = "", x_log: bool = False,
               y_log: bool = False, x_range: tuple[float, float] | None = None, y_range: tuple[float, float] | None = None,
               equal: bool = False, titles=None, title_over: Sequence[str] = (), y_highs=None, y_over: Sequence[str] = (),
               height: int = 340) -> dict:
    """What the page needs to draw the axes and the titles."""
    unknown = [name for name in (*title_over, *y_over) if name not in sizes]
    if unknown:
        raise FigureDataError(f"titles or y axes chosen by {', '.join(unknown)}, which no layer names in its `over`")
    counts = tuple(sizes[name] for name in title_over)
    found = np.asarray(titles if titles is not None else "", dtype=object)
    if found.shape != counts:
        raise FigureDataError(f"a title for each choice of {', '.join(title_over) or 'nothing'}: shape {counts}, "
                              f"got {found.shape}")
    highs = np.asarray(y_highs if y_highs is not None else [], dtype=float)
    if y_over and (highs.shape != tuple(sizes[name] for name in y_over) or y_log or equal):
        raise FigureDataError(f"a linear y axis's top for each choice of {', '.join(y_over)}: shape "
                              f"{tuple(sizes[name] for name in y_over)}, got {highs.shape}")
    heights = extent(layers, 1)
    y = axis_range(heights, y_log, y_range, "y")
    if y_range is None and any(layer.kind == "steps" for layer in layers) and heights.min() >= 0:
        y["low"] = 0.0  # histograms stand on the x axis
    if equal and (x_log or y_log):
        raise FigureDataError("a drawing to scale (equal) needs linear axes")
    return {"x_title": x_title, "y_title": y_title, "equal": bool(equal), "height": int(height),
            "x": axis_range(extent(layers, 0), x_log, x_range, "x"), "y": y,
            "titles": [str(t) for t in found.ravel().tolist()], "title_over": list(title_over), "title_counts": list(counts),
            "y_highs": highs.ravel().tolist() if y_over else None, "y_over": list(y_over),
            "y_counts": [sizes[name] for name in y_over]}
