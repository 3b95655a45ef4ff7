"""Bars of the trained model's next-token probabilities morph as the temperature T sweeps from 0.1 to 5."""

from manim import DOWN, UP, Create, FadeIn, MarkupText, Scene, Text, ValueTracker, always_redraw, linear

from explainer.video.pieces import FONT, redrawn_bars
from explainer.gpt import checkpoint
from explainer.settings import NEXT_TOKEN_PROMPT
from explainer.sampling import next_token_distribution, top_with_rest

T_START, T_END = 0.1, 5.0
TOP_K = 8  # sample among the 8 most likely tokens (top-k), renormalised: the bars always add up to 100%


def next_token_bars_data() -> tuple[list[str], object]:
    """Tokens and a function T -> their probabilities, from the shipped model (shared with the tests)."""
    lm = checkpoint.load()
    logits = lm.next_token_logits(NEXT_TOKEN_PROMPT)
    shown, _, _ = top_with_rest(logits, 1.0, TOP_K)
    return lm.tokens(shown), lambda t: next_token_distribution(logits, t, top_k=TOP_K)[shown].tolist()


class SoftmaxTemperature(Scene):
    def construct(self):
        tokens, probs_at = next_token_bars_data()
        temperature = ValueTracker(T_START)
        title = Text("softmax with temperature", font=FONT, font_size=38).to_edge(UP, buff=0.3)
        formula = MarkupText(
            "p<sub>i</sub> = e<sup>z<sub>i</sub>/T</sup> / Σ<sub>j</sub> e<sup>z<sub>j</sub>/T</sup>", font=FONT, font_size=32
        ).next_to(title, DOWN, buff=0.25)
        prompt = Text(
            f"next token after “{NEXT_TOKEN_PROMPT.replace(chr(10), ' ⏎ ')}”: our trained model, top-k = {TOP_K}",
            font=FONT, font_size=20,
        ).next_to(formula, DOWN, buff=0.25)
        readout = always_redraw(
            lambda: Text(f"T = {temperature.get_value():.2f}", font=FONT, font_size=28).next_to(prompt, DOWN, buff=0.2)
        )
        bars = always_redraw(redrawn_bars(tokens, lambda: probs_at(temperature.get_value())))
        self.play(FadeIn(title), FadeIn(formula), FadeIn(prompt))
        self.play(Create(bars), FadeIn(readout))
        self.wait(0.5)
        self.play(temperature.animate.set_value(1.0), run_time=3, rate_func=linear)
        self.wait(0.5)
        self.play(temperature.animate.set_value(T_END), run_time=4, rate_func=linear)
        self.wait(1)
