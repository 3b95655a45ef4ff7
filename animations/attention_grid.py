"""A real attention pattern of the trained model as a dot grid: dots grow to their weights, one query column is
highlighted with its softmax weights. Layout as in the 3Blue1Brown talk: queries are columns, keys are rows."""

import math

from manim import (DOWN, LEFT, RIGHT, UP, Circle, FadeIn, GrowFromCenter, LaggedStart, Rectangle, Scene, Text,
                   VGroup, Write)

from explainer.video.pieces import FONT, grid_point, token_label
from explainer import attention
from explainer.gpt import checkpoint
from explainer.settings import FLUFFY_PROMPT
from explainer.style import DOT_COLOR, HIGHLIGHT_COLOR, MASKED_COLOR

LAYER, HEAD = 0, 3
CELL = 0.3
CENTER = (0.6, -0.55)


def pattern_data():
    """Tokens, the head's pattern [query, key] and the highlighted query (shared with the tests)."""
    lm = checkpoint.load()
    found = attention.prompt_attention(lm, FLUFFY_PROMPT)
    pattern = found.pattern(LAYER, HEAD)
    return found.tokens, pattern, len(found.tokens) - 1


def dot_radius(weight: float) -> float:
    """Area ∝ weight: a weight-1 dot fills 90% of the cell's width."""
    return 0.45 * CELL * math.sqrt(weight)


class AttentionGrid(Scene):
    def construct(self):
        tokens, pattern, query = pattern_data()
        n = len(tokens)
        title = Text(f"layer {LAYER}, head {HEAD} of our Shakespeare GPT: who reads whom", font=FONT, font_size=26).to_edge(UP, buff=0.2)
        top = Text("queries (the token being updated)", font=FONT, font_size=16).next_to(title, DOWN, buff=0.1)
        self.play(FadeIn(title), FadeIn(top))
        # Layout: row = key, column = query (the transpose of our notebooks' convention).
        point = lambda key, q: grid_point(key, q, n, n, CELL, CENTER)
        labels = VGroup()
        for i, token in enumerate(tokens):
            labels.add(token_label(token, 12, max_width=1.1).next_to(point(i, 0), LEFT, buff=0.25))
            labels.add(token_label(token, 12, max_width=1.1).rotate(math.pi / 2).next_to(point(0, i), UP, buff=0.2))
        left = Text("keys (the tokens read)", font=FONT, font_size=16).rotate(math.pi / 2).next_to(labels, LEFT, buff=0.2)
        self.play(FadeIn(labels), FadeIn(left))
        masked = VGroup(*[Text("×", font=FONT, font_size=10, color=MASKED_COLOR).move_to(point(k, q))
                          for q in range(n) for k in range(n) if k > q])
        dots = VGroup(*[Circle(radius=dot_radius(float(pattern[q, k])), stroke_width=0, fill_color=DOT_COLOR,
                               fill_opacity=1).move_to(point(k, q)) for q in range(n) for k in range(q + 1)])
        self.play(FadeIn(masked), LaggedStart(*[GrowFromCenter(d) for d in dots], lag_ratio=0.004, run_time=2.5))
        box = Rectangle(width=CELL * 1.05, height=CELL * n + 0.1, stroke_color=HIGHLIGHT_COLOR, stroke_width=3)
        box.move_to([point(0, query)[0], CENTER[1], 0])
        weights = VGroup(*[Text(f"{float(pattern[query, k]):.2f}", font=FONT, font_size=11, color=HIGHLIGHT_COLOR)
                           .move_to(point(k, query)).shift(RIGHT * 0.5) for k in range(n)])
        caption = Text(f"softmax of column “{tokens[query].strip()}”: the weights add up to {float(pattern[query].sum()):.2f}",
                       font=FONT, font_size=16, color=HIGHLIGHT_COLOR).to_edge(DOWN, buff=0.1)
        self.play(Write(box), FadeIn(weights), FadeIn(caption))
        self.wait(1)
