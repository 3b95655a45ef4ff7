"""The histogram of pairwise angles tightening around 90° while our optimiser pushes 300 vectors in 20 dimensions
apart, step by step, from the optimiser's recorded trajectory."""


from manim import DOWN, UP, FadeIn, Line, Rectangle, Scene, Text, ValueTracker, VGroup, always_redraw, linear

from explainer.video.pieces import FONT
from explainer import geometry as g
from explainer.style import BAR_COLOR

N, D, STEPS = 300, 20, 200
LOW, HIGH, BIN = 30, 150, 4  # degrees shown, bin width
BAND = 20  # shade 90° ± 20°
BASELINE, HEIGHT, WIDTH = -2.8, 4.2, 11.0


def trajectory():
    """Histograms (shares of pairs per bin) and max |cos| at each recorded step (shared with the tests)."""
    result = g.spread_vectors(N, D, steps=STEPS, seed=0, device="cpu", record_every=10, progress=False)
    frames = []
    for vectors in result.snapshots:
        stats = g.angle_stats(vectors, bins=180 // BIN)
        share = stats.histogram / stats.histogram.sum()
        frames.append((share[LOW // BIN: HIGH // BIN], stats.max_abs_cos))
    return frames


def bars(share, top: float) -> VGroup:
    group = VGroup()
    slot = WIDTH / len(share)
    for i, value in enumerate(share):
        height = max(1e-3, HEIGHT * float(value) / top)
        bar = Rectangle(width=slot * 0.85, height=height, stroke_width=0, fill_color=BAR_COLOR, fill_opacity=1)
        group.add(bar.move_to([-WIDTH / 2 + slot * (i + 0.5), BASELINE + height / 2, 0]))
    return group


class NearOrthogonal(Scene):
    def construct(self):
        frames = trajectory()
        top = max(float(share.max()) for share, _ in frames)
        frame = ValueTracker(0)
        title = Text(f"{N} vectors in {D} dimensions, pushed apart", font=FONT, font_size=32).to_edge(UP, buff=0.25)
        x = lambda degrees: -WIDTH / 2 + WIDTH * (degrees - LOW) / (HIGH - LOW)
        band = Rectangle(width=x(90 + BAND) - x(90 - BAND), height=HEIGHT + 0.3, stroke_width=0, fill_color="#16a34a",
                         fill_opacity=0.25).move_to([x(90), BASELINE + (HEIGHT + 0.3) / 2, 0])
        axis = Line([-WIDTH / 2, BASELINE, 0], [WIDTH / 2, BASELINE, 0], stroke_width=2)
        ticks = VGroup(*[Text(f"{t}°", font=FONT, font_size=18).move_to([x(t), BASELINE - 0.3, 0]) for t in range(LOW, HIGH + 1, 30)])
        histogram = always_redraw(lambda: bars(frames[int(frame.get_value())][0], top))
        readout = always_redraw(lambda: Text(
            f"step {int(frame.get_value()) * 10}: worst pair at {90 - g.degrees_from_cos(frames[int(frame.get_value())][1]):.1f}° "
            f"(|cos| = {frames[int(frame.get_value())][1]:.3f})", font=FONT, font_size=22).next_to(title, DOWN, buff=0.2))
        bound = Text(f"no arrangement can do better than |cos| = {g.lower_bound(N, D):.3f} "
                     f"({90 - g.degrees_from_cos(g.lower_bound(N, D)):.1f}°)", font=FONT, font_size=18).to_edge(DOWN, buff=0.15)
        self.play(FadeIn(title), FadeIn(band), FadeIn(axis), FadeIn(ticks), FadeIn(histogram), FadeIn(readout), FadeIn(bound))
        self.play(frame.animate.set_value(len(frames) - 1), run_time=6, rate_func=linear)
        self.wait(1)
