"""Causal masking on real scores: the future's scores become −∞, and the softmax turns them into exactly 0.
Layout as in the talk: queries are columns, keys are rows, so the softmax runs down each column."""

from manim import DOWN, LEFT, UP, FadeIn, FadeOut, ReplacementTransform, Scene, Square, Text, VGroup

from explainer.video.pieces import FONT, grid_point, token_label
from explainer import attention
from explainer.gpt import checkpoint
from explainer.settings import FLUFFY_PROMPT
from explainer.style import DOT_COLOR

N_TOKENS = 6  # the first six tokens keep every number readable
LAYER, HEAD = 0, 3
CELL = 0.78
CENTER = (0.5, -0.95)
MASK_COLOR = "#dc2626"


def mask_data():
    """Tokens, scaled scores [query, key] and the masked softmax of the first N_TOKENS tokens (shared with tests)."""
    lm = checkpoint.load()
    steps = attention.attention_steps(lm, FLUFFY_PROMPT, LAYER, HEAD)
    scores = steps.scaled[:N_TOKENS, :N_TOKENS]
    return steps.tokens[:N_TOKENS], scores, attention.masked_softmax(scores, "minus_inf")


class CausalMask(Scene):
    def construct(self):
        tokens, scores, pattern = mask_data()
        n = len(tokens)
        point = lambda key, query: grid_point(key, query, n, n, CELL, CENTER)
        title = Text("causal mask: no token may read the future", font=FONT, font_size=30).to_edge(UP, buff=0.2)
        step = Text("1. scores ÷ √d_k (layer 0, head 3)", font=FONT, font_size=20).next_to(title, DOWN, buff=0.15)
        labels = VGroup(*[token_label(t, 18).next_to(point(i, 0), LEFT, buff=0.5) for i, t in enumerate(tokens)],
                        *[token_label(t, 18).next_to(point(0, i), UP, buff=0.45) for i, t in enumerate(tokens)])
        numbers = VGroup(*[Text(f"{float(scores[q, k]):.2f}", font=FONT, font_size=18).move_to(point(k, q))
                           for q in range(n) for k in range(n)])
        self.play(FadeIn(title), FadeIn(step), FadeIn(labels), FadeIn(numbers))
        self.wait(0.5)
        future = [(q, k) for q in range(n) for k in range(n) if k > q]
        minus_inf = VGroup(*[Text("−∞", font=FONT, font_size=20, color=MASK_COLOR).move_to(point(k, q)) for q, k in future])
        old = VGroup(*[numbers[q * n + k] for q, k in future])
        step2 = Text("2. keys after the query: −∞", font=FONT, font_size=20, color=MASK_COLOR).move_to(step)
        self.play(ReplacementTransform(old, minus_inf), ReplacementTransform(step, step2))
        self.wait(0.5)
        cells = VGroup()
        for q in range(n):
            for k in range(n):
                weight = float(pattern[q, k])
                color, opacity = (MASK_COLOR, 0.35) if k > q else (DOT_COLOR, 0.15 + 0.85 * weight)
                cells.add(Square(side_length=CELL * 0.92, stroke_width=0, fill_color=color, fill_opacity=opacity).move_to(point(k, q)))
        weights = VGroup(*[Text(f"{float(pattern[q, k]):.2f}", font=FONT, font_size=18).move_to(point(k, q))
                           for q in range(n) for k in range(n)])
        step3 = Text("3. softmax down each column: e^−∞ = 0, every column sums to 1", font=FONT, font_size=20).move_to(step2)
        keep = VGroup(*[numbers[q * n + k] for q in range(n) for k in range(n) if k <= q])
        self.play(FadeIn(cells), FadeOut(keep), FadeOut(minus_inf), FadeIn(weights), ReplacementTransform(step2, step3))
        self.wait(1)
