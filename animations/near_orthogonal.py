"""Near-orthogonal directions: the angles between random directions pile up at 90° as the dimension grows;
the talk's 88°–92° quiz answered both ways; and an optimiser pushing vectors apart."""

import numpy as np
from manim import DOWN, RIGHT, UP, Arrow, FadeIn, Line, ReplacementTransform, Rectangle, VGroup

from explainer import geometry as g
from explainer.settings import NEAR_ORTHOGONAL
from explainer.style import BAR_COLOR, HIGHLIGHT_COLOR, POSITIVE_COLOR
from explainer.video.pieces import GREY, Change, fit, typeset
from explainer.video.scene import Chapter

RANDOM_VECTORS = 300
BIN = 2  # degrees
WIDTH, HEIGHT, BASELINE = 11.0, 3.6, -1.6


def shares(vectors, low: float = 0, high: float = 180) -> np.ndarray:
    """The share of pairs in each BIN-degree bin of angle from low to high."""
    stats = g.angle_stats(vectors, bins=int(180 / BIN))
    share = stats.histogram / stats.histogram.sum()
    return share[int(low / BIN):int(high / BIN)]


def histogram_data() -> dict[int, np.ndarray]:
    """Random unit vectors in each dimension of the chapter: shares of pairs per angle bin (shared with the tests)."""
    return {d: shares(g.random_unit_vectors(RANDOM_VECTORS, d, seed=0)) for d in NEAR_ORTHOGONAL.histogram_dimensions}


def packing_data(low: float = 60, high: float = 120) -> tuple[list[np.ndarray], list[float]]:
    """Our optimiser on the notebook's vectors: shares per bin between low and high degrees at each recorded step,
    and the worst |cos| there (shared with the tests)."""
    s = NEAR_ORTHOGONAL
    result = g.spread_vectors(s.explorer_vectors, s.d, steps=s.optimise_steps, seed=0, device="cpu", record_every=10, progress=False)
    return [shares(v, low, high) for v in result.snapshots], [g.max_abs_cos(v) for v in result.snapshots]


def bars(share: np.ndarray, top: float, color=BAR_COLOR) -> VGroup:
    slot = WIDTH / len(share)
    group = VGroup()
    for i, value in enumerate(share):
        height = max(1e-3, HEIGHT * float(value) / top)
        group.add(Rectangle(width=slot * 0.85, height=height, stroke_width=0, fill_color=color, fill_opacity=1)
                  .move_to([-WIDTH / 2 + slot * (i + 0.5), BASELINE + height / 2, 0]))
    return group


def axis(low: float, high: float, step: float) -> VGroup:
    x = lambda degrees: -WIDTH / 2 + WIDTH * (degrees - low) / (high - low)
    ticks = VGroup(*[typeset(f"{t:g}°", font_size=18, color=GREY).move_to([x(t), BASELINE - 0.3, 0])
                     for t in np.arange(low, high + 1e-9, step)])
    return VGroup(Line([-WIDTH / 2, BASELINE, 0], [WIDTH / 2, BASELINE, 0], color=GREY, stroke_width=2), ticks)


class NearOrthogonal(Chapter):
    def chapter(self):
        self.title_card("why 12,288 dimensions hold far more than 12,288 ideas")
        self.caption("Quiz 1, from the talk: in n dimensions, how many directions can be exactly perpendicular to each "
                     "other? Exactly n. That is what a dimension is.")
        square = VGroup(Arrow([0, 0, 0], [2, 0, 0], buff=0, color=BAR_COLOR), Arrow([0, 0, 0], [0, 2, 0], buff=0, color=BAR_COLOR))
        self.play(FadeIn(square.shift(UP * 0.3)))
        self.pause(1)
        self.clear()
        self.caption("But how are random directions arranged? Here are the angles between every pair of "
                     f"{RANDOM_VECTORS} random directions, for a growing number of dimensions.")
        data = histogram_data()
        top = max(float(s.max()) for s in data.values())
        chart = axis(0, 180, 30)
        band = Rectangle(width=WIDTH * 2 * NEAR_ORTHOGONAL.tolerance_degrees / 180, height=HEIGHT + 0.2, stroke_width=0,
                         fill_color=POSITIVE_COLOR, fill_opacity=0.25).move_to([0, BASELINE + (HEIGHT + 0.2) / 2, 0])
        self.play(FadeIn(chart), FadeIn(band))
        shown, label = None, None
        for d, share in data.items():
            new, new_label = bars(share, top), typeset(f"d = {d:,}", font_size=32, color=HIGHLIGHT_COLOR).to_edge(UP, buff=0.5)
            if shown is None:
                self.play(FadeIn(new), FadeIn(new_label))
            else:
                self.play(ReplacementTransform(shown, new), Change(label, new_label), run_time=1.5)
            shown, label = new, new_label
            self.hold(f"d = {d}", 2.5, d=d, shares=share.tolist(), top=top)
        self.caption("As the dimension grows, almost every pair lands near 90°: the spread is about 57°/√d. In high "
                     "dimensions, random directions are already almost perpendicular.")
        self.clear()

        eps = g.cos_from_degrees(NEAR_ORTHOGONAL.tolerance_degrees)
        d = NEAR_ORTHOGONAL.d
        self.caption("Quiz 2: how many vectors fit if every pair only has to be within “88 degrees and 92 degrees”? "
                     "The talk: “exponential in the number of dimensions”. It depends on what “every” means.")
        every = VGroup(typeset("every pair in the band", font_size=30, color=HIGHLIGHT_COLOR),
                       typeset(f"in {d} dimensions: at most {g.max_vectors(eps, d):,} vectors", font_size=26),
                       typeset("(Welch's bound: no arrangement does better)", font_size=20, color=GREY)).arrange(DOWN, buff=0.2)
        most = VGroup(typeset("most pairs in the band", font_size=30, color=POSITIVE_COLOR),
                      typeset(f"random pairs in {d} dims: {g.random_pair_within(eps, d):.0%}", font_size=26),
                      typeset(f"in 12,288 dims: {g.random_pair_within(eps, 12_288):.2%}", font_size=26)).arrange(DOWN, buff=0.2)
        fit(VGroup(every, most).arrange(RIGHT, buff=1.0), 12.6).shift(UP * 0.6)
        self.play(FadeIn(every))
        self.hold("every pair", 3, allowed=g.max_vectors(eps, d))
        self.play(FadeIn(most))
        self.hold("most pairs", 3, random_pair=g.random_pair_within(eps, d))
        self.caption("So a wide model cannot keep every pair of its many features that close to perpendicular, but it "
                     "can keep almost every pair so, for far more features than dimensions: room for many ideas.")
        self.clear()

        s = NEAR_ORTHOGONAL
        self.caption(f"What an optimiser can do: {s.explorer_vectors} vectors in {s.d} dimensions, pushed apart step "
                     "by step. Watch the worst pair, not the crowd.")
        frames, worst = packing_data()
        top = max(float(f.max()) for f in frames)
        chart = axis(60, 120, 10)
        shown = bars(frames[0], top)
        readout = typeset(f"step 0: worst pair |cos| = {worst[0]:.3f}", font_size=26, color=HIGHLIGHT_COLOR).to_edge(UP, buff=0.5)
        self.play(FadeIn(chart), FadeIn(shown), FadeIn(readout))
        self.hold("packing 0", 1, shares=frames[0].tolist(), top=top, worst=worst[0])
        for index in range(1, len(frames)):
            new = bars(frames[index], top)
            new_readout = typeset(f"step {index * 10}: worst pair |cos| = {worst[index]:.3f}", font_size=26,
                               color=HIGHLIGHT_COLOR).move_to(readout)
            self.play(ReplacementTransform(shown, new), Change(readout, new_readout), run_time=0.5)
            shown, readout = new, new_readout
        self.hold("packing done", 2, shares=frames[-1].tolist(), top=top, worst=worst[-1])
        self.caption(f"The tails are cut: the worst pair went from |cos| {worst[0]:.3f} to {worst[-1]:.3f}, while no "
                     f"arrangement can go below {g.lower_bound(s.explorer_vectors, s.d):.3f}. Notebook 05 has the details.")
        self.pause(2)
