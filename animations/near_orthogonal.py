"""Near-orthogonal directions: exactly perpendicular, n fit in n dimensions; the angles between random directions
pile up at 90° as the dimension grows (histograms of 300 random directions); how many directions keep every pair
within the talk's 88°–92° as a plot against the dimension (what random directions reach, and the bounds on any
arrangement); and the "most pairs" reading, from geometry.most_pairs_verdict, on the share of random pairs in the band."""

from dataclasses import dataclass

import numpy as np
from manim import (DOWN, LEFT, RIGHT, UP, Arrow, Create, DashedLine, Dot, FadeIn, GrowArrow, GrowFromEdge, LaggedStart, Line,
                   Rectangle, ReplacementTransform, VGroup)

from explainer import geometry as g
from explainer.settings import NEAR_ORTHOGONAL
from explainer.style import BAR_COLOR, HIGHLIGHT_COLOR, POSITIVE_COLOR
from explainer.video.pieces import GREY, SMALLEST_FONT, Change, PlotAxes, typeset
from explainer.video.scene import Chapter, caption_parts

RANDOM_VECTORS = 300
BIN = 2  # degrees
WIDTH, HEIGHT, BASELINE = 11.0, 3.6, -1.6  # the histograms' box, scene units
MOTION = 0.5  # seconds each caption's animation lasts on its own (at normal speed it spans the caption's reading time)
BAND = NEAR_ORTHOGONAL.tolerance_degrees  # the talk's 88°–92°: 90° ± BAND
GPT3_D = 12_288
COUNT_AXES = dict(x_range=(1.0, 5.0), y_range=(0.0, 14.0), width=10.0, height=3.9, corner=(-4.6, -1.0))  # log10 d, log10 n
COUNT_READOUTS = (100, GPT3_D, 50_000, 100_000)  # dimensions whose random count a caption names
COUNT_DIMENSIONS = np.unique([*np.round(np.logspace(1, 5, 81)).astype(int), *COUNT_READOUTS])  # the count plot's d
SHARE_AXES = dict(x_range=(1.0, 4.5), y_range=(0.0, 1.0), width=10.0, height=3.9, corner=(-4.6, -1.0))  # log10 d, share


@dataclass
class Histogram:
    d: int
    shares: np.ndarray  # [180 / BIN] share of pairs per bin of angle, 0° … 180°
    within: float  # share of pairs within 90° ± BAND
    spread: float  # standard deviation of the angles, degrees


def histogram_data() -> dict[int, Histogram]:
    """RANDOM_VECTORS random unit vectors in each dimension of the chapter, their pairs' angles (shared with the tests)."""
    found = {}
    for d in NEAR_ORTHOGONAL.histogram_dimensions:
        stats = g.angle_stats(g.random_unit_vectors(RANDOM_VECTORS, d, seed=0), g.cos_from_degrees(BAND), bins=int(180 / BIN))
        found[d] = Histogram(d, stats.histogram / stats.histogram.sum(), stats.fraction_within, stats.std_angle)
    return found


def count_data() -> dict[str, dict[int, float]]:
    """Against the dimension: how many random directions keep every pair within the band (half the time), and the most
    the bounds allow any arrangement (math.inf once they stop limiting it); shared with the tests."""
    eps = g.cos_from_degrees(BAND)
    return {"random": {int(d): g.random_vectors_all_within(eps, int(d)) for d in COUNT_DIMENSIONS},
            "bound": {int(d): g.max_vectors(eps, int(d)) for d in COUNT_DIMENSIONS}}


def bounds_stop(eps: float) -> int:
    """The first dimension from which the bounds no longer limit how many vectors keep every pair within eps."""
    d = 2
    while g.max_vectors(eps, d) != float("inf"):
        d += 1
    return d


def bars(share: np.ndarray, top: float) -> VGroup:
    slot = WIDTH / len(share)
    group = VGroup()
    for i, value in enumerate(share):
        height = max(1e-3, HEIGHT * float(value) / top)
        group.add(Rectangle(width=slot * 0.85, height=height, stroke_width=0, fill_color=BAR_COLOR, fill_opacity=1)
                  .move_to([-WIDTH / 2 + slot * (i + 0.5), BASELINE + height / 2, 0]))
    return group


def angle_axis() -> VGroup:
    x = lambda degrees: -WIDTH / 2 + WIDTH * degrees / 180
    ticks = VGroup(*[typeset(f"{t}°", font_size=SMALLEST_FONT, color=GREY).move_to([x(t), BASELINE - 0.3, 0])
                     for t in range(0, 181, 30)])
    return VGroup(Line([-WIDTH / 2, BASELINE, 0], [WIDTH / 2, BASELINE, 0], color=GREY, stroke_width=2), ticks)


def log_ticks(axes: PlotAxes, xs=(), ys=(), x_label: str = "dimensions d") -> VGroup:
    """Tick labels of a plot whose axes hold log10 of the values: 10, 100, 1,000 … along x (`x_label` under them);
    1, 10⁴, 10⁸ … up y."""
    powers = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
    labels = VGroup(*[typeset(f"{10 ** x:,}", font_size=SMALLEST_FONT, color=GREY)
                      .next_to(axes.point(x, axes.y_range[0]), DOWN, buff=0.12) for x in xs])
    labels.add(*[typeset("1" if y == 0 else f"10{str(y).translate(powers)}", font_size=SMALLEST_FONT, color=GREY)
                 .next_to(axes.point(axes.x_range[0], y), LEFT, buff=0.12) for y in ys])
    middle = (axes.x_range[0] + axes.x_range[1]) / 2
    labels.add(typeset(x_label, font_size=SMALLEST_FONT, color=GREY).next_to(labels[:len(xs)], DOWN, buff=0.1)
               .set_x(axes.point(middle, 0)[0]))
    return labels


class NearOrthogonal(Chapter):
    def chapter(self):
        self.title_card(f"why {GPT3_D:,} dimensions hold far more than {GPT3_D:,} ideas")
        self.perpendicular()
        self.histograms()
        self.counts()
        self.most_pairs()

    def perpendicular(self) -> None:
        origin = np.array([-1.0, -1.2, 0])
        arrows = VGroup(*[Arrow(origin, origin + 2.6 * direction, buff=0, color=BAR_COLOR, stroke_width=5)
                          for direction in (RIGHT, UP)])
        corner = VGroup(Line(origin + 0.3 * RIGHT, origin + 0.3 * (RIGHT + UP), color=GREY, stroke_width=2),
                        Line(origin + 0.3 * UP, origin + 0.3 * (RIGHT + UP), color=GREY, stroke_width=2))
        right_angle = typeset("90°", font_size=SMALLEST_FONT, color=GREY).next_to(origin + 0.3 * (RIGHT + UP), UP + RIGHT, buff=0.1)
        self.narrate("Quiz 1, from the talk: in n dimensions, how many directions can be exactly perpendicular to each "
                     "other? Exactly n. In this plane, 2 dimensions: 2 of them.",
                     LaggedStart(*[GrowArrow(a) for a in arrows], FadeIn(VGroup(corner, right_angle)), lag_ratio=0.5),
                     run_time=MOTION)
        self.hold("perpendicular", dimensions=2, arrows=len(arrows))

    def histograms(self) -> None:
        data = histogram_data()
        top = max(float(h.shares.max()) for h in data.values())
        band_height = HEIGHT + 0.2
        band = Rectangle(width=WIDTH * 2 * BAND / 180, height=band_height, stroke_width=0, fill_color=POSITIVE_COLOR,
                         fill_opacity=0.4).move_to([0, BASELINE + band_height / 2, 0])
        band_name = typeset(f"{90 - BAND:g}°–{90 + BAND:g}°", font_size=SMALLEST_FONT, color=POSITIVE_COLOR)
        band_name.next_to(band, UP, buff=0.1)
        pairs = RANDOM_VECTORS * (RANDOM_VECTORS - 1) // 2
        shown, label = None, None
        for index, (d, found) in enumerate(data.items()):
            new, new_label = bars(found.shares, top), typeset(f"d = {d:,}", font_size=30, color=HIGHLIGHT_COLOR)
            new_label.move_to([-4.3, 2.9, 0])
            within = f"{found.within:.0%} of pairs in the green band, {90 - BAND:g}°–{90 + BAND:g}°"
            if shown is None:
                self.narrate(f"But how do random directions lie? The angles between all {pairs:,} pairs of "
                             f"{RANDOM_VECTORS} random directions in d = {d} dimensions: spread from 0° to 180°, {within}.",
                             LaggedStart(*[GrowFromEdge(bar, DOWN) for bar in new], lag_ratio=0.01), FadeIn(new_label),
                             enter=[FadeIn(angle_axis()), FadeIn(band), FadeIn(band_name)], clear=True, run_time=MOTION)
            else:
                text = f"d = {d:,}: {within}."
                if index == len(data) - 1:
                    text = (f"d = {d:,}: {found.within:.0%} in the band. The angles' spread (standard deviation) is now "
                            f"{found.spread:.1f}°, about 57°/√d: random directions in many dimensions are almost perpendicular.")
                self.narrate(text, ReplacementTransform(shown, new), Change(label, new_label), run_time=MOTION)
            shown, label = new, new_label
            self.hold(f"d = {d}", d=d, shares=found.shares.tolist(), top=top, within=found.within, spread=found.spread)

    def counts(self) -> None:
        eps = g.cos_from_degrees(BAND)
        found = count_data()
        axes = PlotAxes(**COUNT_AXES, y_label="how many directions, every pair in the band")
        ticks = log_ticks(axes, xs=range(1, 6), ys=range(0, 15, 4))
        dims = list(found["random"])
        readouts = {d: self.readout(axes, d, g.random_vectors_all_within(eps, d)) for d in COUNT_READOUTS}
        n = {d: int(g.random_vectors_all_within(eps, d)) for d in COUNT_READOUTS}
        split = dims.index(GPT3_D)
        first_part = axes.line([np.log10(d) for d in dims[:split + 1]], [np.log10(found["random"][d]) for d in dims[:split + 1]],
                               color=HIGHLIGHT_COLOR)
        self.narrate(f"Quiz 2: how many directions fit if every pair need only lie within {90 - BAND:g}°–{90 + BAND:g}°? "
                     f"Drawn at random, this many keep every pair in the band half the time: {n[100]} at d = 100, "
                     f"{n[GPT3_D]} at d = {GPT3_D:,}.",
                     Create(first_part), FadeIn(readouts[100]), FadeIn(readouts[GPT3_D]),
                     enter=[FadeIn(axes), FadeIn(ticks)], clear=True, run_time=MOTION)
        self.hold("random count", counts={d: n[d] for d in (100, GPT3_D)})
        free = bounds_stop(eps)
        bounded = [d for d in dims if found["bound"][d] != float("inf")]
        bound_curve = axes.line([np.log10(d) for d in bounded], [np.log10(found["bound"][d]) for d in bounded], color=GREY)
        wall = DashedLine(axes.point(np.log10(free), np.log10(found["bound"][bounded[-1]])),
                          axes.point(np.log10(free), COUNT_AXES["y_range"][1]), color=GREY, dash_length=0.1)
        wall_name = typeset(f"from d = {free:,}: no limit", font_size=SMALLEST_FONT, color=GREY)
        wall_name.next_to(axes.point(np.log10(free), COUNT_AXES["y_range"][1]), RIGHT, buff=0.15).shift(DOWN * 0.15)
        most = int(g.max_vectors(eps, 100))
        bound_name = typeset(f"the bounds: at most {most} at d = 100", font_size=SMALLEST_FONT, color=GREY)
        bound_name.move_to(axes.point(1.05, 6.0), aligned_edge=LEFT)  # well above the grey curve
        self.narrate(f"Random is not the best arrangement. The bounds on every arrangement (grey): at most {most} at "
                     f"d = 100; from d = {free:,} on they no longer limit the count (the true limit is unknown).",
                     Create(bound_curve), Create(wall), FadeIn(wall_name), FadeIn(bound_name), run_time=MOTION)
        self.hold("bounds", most=most, free=free)
        rest = axes.line([np.log10(d) for d in dims[split:]], [np.log10(found["random"][d]) for d in dims[split:]],
                         color=HIGHLIGHT_COLOR)
        self.narrate(f"Past that the random count grows exponentially with d: {n[50_000]:,} at d = 50,000, "
                     f"{n[100_000]:,} at d = 100,000.",
                     Create(rest), FadeIn(readouts[50_000]), FadeIn(readouts[100_000]), run_time=MOTION)
        self.hold("exponential", counts={d: n[d] for d in (50_000, 100_000)},
                  dots={d: readouts[d][0].get_center()[:2].tolist() for d in COUNT_READOUTS})

    @staticmethod
    def readout(axes: PlotAxes, d: int, count: float) -> VGroup:
        """A dot on the random curve at d, with d written beside it."""
        dot = Dot(axes.point(np.log10(d), np.log10(count)), radius=0.08, color=HIGHLIGHT_COLOR)
        name = typeset(f"d = {d:,}", font_size=SMALLEST_FONT, color=HIGHLIGHT_COLOR).next_to(dot, UP + LEFT, buff=0.08)
        return VGroup(dot, name)

    def most_pairs(self) -> None:
        eps = g.cos_from_degrees(BAND)
        found = g.most_pairs(GPT3_D, eps)
        axes = PlotAxes(**SHARE_AXES, y_ticks=(0, 0.5, 0.9, 1.0), y_format="{:.0%}",
                        y_label=f"share of random pairs within {90 - BAND:g}°–{90 + BAND:g}°")
        ticks = log_ticks(axes, xs=range(1, 5))
        dims = np.logspace(*SHARE_AXES["x_range"], 80)
        curve = axes.line(np.log10(dims), [g.random_pair_within(eps, max(2, int(round(d)))) for d in dims], color=POSITIVE_COLOR)
        marks = {d: self.share_mark(axes, d, g.random_pair_within(eps, d)) for d in (found.half_d, found.ninety_d, GPT3_D)}
        parts = caption_parts(g.most_pairs_verdict(found).plain)
        floor = typeset(f"every arrangement of many vectors:\nrms at least {found.rms_degrees:.1f}° from 90°", font_size=SMALLEST_FONT,
                        color=GREY).next_to(axes.point(SHARE_AXES["x_range"][0], 1.0), DOWN + RIGHT, buff=0.2)
        shows = [[Create(curve), FadeIn(marks[GPT3_D])], [FadeIn(floor, shift=DOWN * 0.2)],
                 [FadeIn(marks[found.half_d]), FadeIn(marks[found.ninety_d])]]
        for index, sentence in enumerate(parts):
            self.narrate(sentence, *shows[min(index, len(shows) - 1)], run_time=MOTION,
                         **({"enter": [FadeIn(axes), FadeIn(ticks)], "clear": True} if index == 0 else {}))
            self.mark(f"most pairs {index}", d=GPT3_D, share=found.random_share, rms=found.rms_degrees,
                      half_d=found.half_d, ninety_d=found.ninety_d)
        self.pause(1)

    @staticmethod
    def share_mark(axes: PlotAxes, d: int, share: float) -> VGroup:
        dot = Dot(axes.point(np.log10(d), share), radius=0.08, color=HIGHLIGHT_COLOR)
        name = typeset(f"d = {d:,}: {share:.0%}", font_size=SMALLEST_FONT, color=HIGHLIGHT_COLOR).next_to(dot, DOWN + RIGHT, buff=0.1)
        return VGroup(dot, name)
