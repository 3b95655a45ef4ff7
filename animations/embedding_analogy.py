"""king − man + woman on real GloVe vectors: the arrow woman − man slides onto king and lands near queen.
Drawn in the plane that holds man, king, woman and the sum exactly (queen is projected onto it)."""

import numpy as np
from manim import (DOWN, UP, Arrow, Create, DashedLine, Dot, FadeIn, GrowArrow, Scene, Star, Text, Write)

from explainer.video.pieces import FONT
from explainer import embeddings as E
from explainer.style import BAR_COLOR, HIGHLIGHT_COLOR

A, B, C, EXPECTED = "man", "king", "woman", "queen"
SCALE = 6.0
OFFSET = np.array([-3.2, -2.0])
DIFFERENCE_COLOR = "#16a34a"
GREY = "#9ca3af"


def analogy_data():
    """The analogy result and the 2-D points of man, king, woman, queen and the sum (shared with the tests)."""
    kv = E.load_glove()
    result = E.analogy(kv, A, B, C, EXPECTED)
    points = E.analogy_plane(kv, result, extra=[EXPECTED])
    return result, {word: np.array([*(OFFSET + SCALE * xy), 0.0]) for word, xy in points.items()}


class EmbeddingAnalogy(Scene):
    def construct(self):
        result, at = analogy_data()
        title = Text("king − man + woman ≈ queen?  (GloVe, 50 dimensions)", font=FONT, font_size=30).to_edge(UP, buff=0.25)
        self.play(FadeIn(title))
        dots = {}
        for word in (A, B, C, EXPECTED):
            dots[word] = Dot(at[word], radius=0.09, color=BAR_COLOR)
            label = Text(word + (" (projected)" if word == EXPECTED else ""), font=FONT, font_size=22)
            self.play(FadeIn(dots[word]), FadeIn(label.next_to(dots[word], UP if word == C else DOWN, buff=0.12)), run_time=0.4)
        king_minus_man = Arrow(at[A], at[B], buff=0.1, color=GREY, stroke_width=4)
        difference = Arrow(at[A], at[C], buff=0.1, color=DIFFERENCE_COLOR, stroke_width=5)
        self.play(GrowArrow(king_minus_man), GrowArrow(difference))
        label = Text("woman − man", font=FONT, font_size=20, color=DIFFERENCE_COLOR).next_to(difference, DOWN, buff=0.05).shift([-0.9, 0.4, 0])
        self.play(Write(label))
        moved = difference.copy()
        self.play(moved.animate.shift(at[B] - at[A]), run_time=1.5)
        star = Star(outer_radius=0.16, color=HIGHLIGHT_COLOR, fill_opacity=1).move_to(at["target"])
        self.play(FadeIn(star))
        gap = DashedLine(at["target"], at[EXPECTED], color=HIGHLIGHT_COLOR)
        self.play(Create(gap))
        facts = Text(
            f"cosine(king − man + woman, queen) = {result.expected_cosine:.3f}\n"
            f"nearest word overall: {result.with_inputs[0][0]} ({result.with_inputs[0][1]:.3f}); "
            f"queen is #{result.expected_rank_with_inputs}, #1 once the inputs are excluded",
            font=FONT, font_size=18, line_spacing=0.8,
        ).to_edge(DOWN, buff=0.2)
        self.play(FadeIn(facts))
        self.wait(1)
