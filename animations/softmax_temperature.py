"""Bars of next-token probabilities morph as the temperature T sweeps from 0.1 to 5."""

from manim import DOWN, UP, Create, FadeIn, MarkupText, Scene, Text, ValueTracker, always_redraw, linear

from _pieces import FONT, redrawn_bars
from explainer.examples import CLEVEREST_LOGITS, CLEVEREST_PROMPT, CLEVEREST_TOKENS
from explainer.sampling import softmax

T_START, T_END = 0.1, 5.0


class SoftmaxTemperature(Scene):
    def construct(self):
        temperature = ValueTracker(T_START)
        title = Text("softmax with temperature", font=FONT, font_size=38).to_edge(UP, buff=0.3)
        formula = MarkupText(
            "p<sub>i</sub> = e<sup>z<sub>i</sub>/T</sup> / Σ<sub>j</sub> e<sup>z<sub>j</sub>/T</sup>", font=FONT, font_size=32
        ).next_to(title, DOWN, buff=0.25)
        prompt = Text(f"“{CLEVEREST_PROMPT} …”  (illustrative logits)", font=FONT, font_size=20).next_to(formula, DOWN, buff=0.25)
        readout = always_redraw(
            lambda: Text(f"T = {temperature.get_value():.2f}", font=FONT, font_size=28).next_to(prompt, DOWN, buff=0.2)
        )
        bars = always_redraw(
            redrawn_bars(CLEVEREST_TOKENS, lambda: softmax(CLEVEREST_LOGITS, temperature.get_value()).tolist())
        )
        self.play(FadeIn(title), FadeIn(formula), FadeIn(prompt))
        self.play(Create(bars), FadeIn(readout))
        self.wait(0.5)
        self.play(temperature.animate.set_value(1.0), run_time=3, rate_func=linear)
        self.wait(0.5)
        self.play(temperature.animate.set_value(T_END), run_time=4, rate_func=linear)
        self.wait(1)
