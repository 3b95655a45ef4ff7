"""The next token: the model's distribution as bars, one token drawn and appended, again and again; then
the same distribution under a temperature sweep, T = 0 as greedy."""

from manim import DOWN, LEFT, RIGHT, UP, FadeIn, Indicate, MarkupText, VGroup

from explainer import sampling, settings
from explainer.style import FONT, HIGHLIGHT_COLOR, display_token
from explainer.video.pieces import Change, ProbabilityBars, token_box, token_row, typeset
from explainer.video.scene import Chapter

STEPS = 12  # turns of the sampling loop
TEMPERATURE, SEED = 0.8, 0
SWEEP = (1.0, 0.5, 0.0, 1.0, 2.0, 5.0)
TOP = 6
TEXT_Y = 2.4
TEXT_LEFT, TEXT_RIGHT = -6.4, 6.4


def loop_data(lm, prompt: str) -> list[sampling.SamplingStep]:
    """The steps the chapter shows (shared with the tests)."""
    return sampling.sampling_steps(lm, prompt, STEPS, TEMPERATURE, SEED, TOP)


def sweep_data(lm, prompt: str) -> tuple[list[str], dict[float, list[float]]]:
    """The prompt's top tokens, then one bar for all the others, and their probabilities at each temperature of the
    sweep (shared with the tests)."""
    logits = lm.next_token_logits(prompt)
    shown, _, _ = sampling.top_with_rest(logits, 1.0, TOP)
    probs = {}
    for t in SWEEP:
        _, heights, rest = sampling.top_with_rest(logits, t, TOP)
        probs[t] = heights + [rest]
    return [display_token(t) for t in lm.tokens(shown)] + [f"{lm.vocab_size - TOP:,} others"], probs


def labels(step: sampling.SamplingStep) -> list[str]:
    return [display_token(t) for t in step.tokens]


class NextToken(Chapter):
    def chapter(self):
        prompt = self.options.get("prompt") or settings.NEXT_TOKEN_PROMPT
        self.title_card("what a language model computes, and how text comes out of it")
        self.clear()
        steps = loop_data(self.lm, prompt)

        text = self.place(token_row(self.lm.tokens(self.lm.encode(prompt))))
        self.play(FadeIn(text))
        self.caption("A language model reads a text and, for every token of its vocabulary, gives a probability "
                     "that it comes next. Here is our Shakespeare model reading this prompt.")
        first = steps[0]
        bars = ProbabilityBars(labels(first), first.probs, highlight=-1)
        self.play(FadeIn(bars, shift=UP * 0.2))
        self.caption(f"Its {TOP} most likely next tokens. Generating text means drawing one of them at random, "
                     "weighted by these probabilities.")

        for index, step in enumerate(steps):
            new_bars = ProbabilityBars(labels(step), step.probs, highlight=-1)
            if index:
                self.play(Change(bars, new_bars), run_time=0.8)
                bars = new_bars
            chosen = ProbabilityBars(labels(step), step.probs, highlight=step.chosen)
            self.play(Change(bars, chosen), run_time=0.4)
            bars = chosen
            self.play(Indicate(bars[1 + step.chosen], color=HIGHLIGHT_COLOR), run_time=0.6)
            self.hold(f"step {index}", 0.8, tokens=step.tokens, probs=step.probs, chosen=step.chosen, drawn=step.drawn)
            appended = token_box(step.drawn, 22, fill="#78350f").scale(text[0].height / token_box("x").height)
            appended.next_to(text, RIGHT, buff=0.08)
            self.play(FadeIn(appended, shift=UP * 0.3), run_time=0.5)
            text = VGroup(*text, appended)
            if text.get_right()[0] > TEXT_RIGHT:
                self.play(text.animate.become(self.place(text.copy())), run_time=0.4)
            if index == 0:
                self.caption(f"The draw gave “{step.drawn.strip() or step.drawn}”. Tack it on to the text, and run the whole "
                             "model again on the longer text.")
            elif index == 2:
                self.caption("Draw, append, run again: the text grows one token at a time. Every run is the full "
                             "computation over everything so far.", read=False)
        self.mark("loop done", text="".join(s.drawn for s in steps))
        self.pause(3)

        self.clear()
        self.caption("Why not always take the most likely token? Divide every score by a temperature T before the "
                     "softmax: the order stays, the shape changes.")
        tokens, by_temperature = sweep_data(self.lm, prompt)
        formula = MarkupText("p<sub>i</sub> = e<sup>z<sub>i</sub> / T</sup> / Σ<sub>j</sub> e<sup>z<sub>j</sub> / T</sup>",
                             font=FONT, font_size=36).move_to([0, TEXT_Y, 0])
        self.play(FadeIn(formula))
        readout = typeset(f"T = {SWEEP[0]:g}", font_size=30, color=HIGHLIGHT_COLOR).next_to(formula, DOWN, buff=0.3)
        bars = ProbabilityBars(tokens, by_temperature[SWEEP[0]], highlight=0)
        self.play(FadeIn(bars), FadeIn(readout))
        self.hold(f"T = {SWEEP[0]:g}", 1.5, temperature=SWEEP[0], probs=by_temperature[SWEEP[0]])
        notes = {0.0: "T = 0: all the probability on the top token. This is greedy decoding: the talk calls its "
                      "text “very stilted”, “kind of trite”.",
                 5.0: "A high temperature flattens the distribution: unlikely tokens get drawn more often, "
                      "“a little bit more creativity”, then nonsense."}
        for t in SWEEP[1:]:
            new_bars = ProbabilityBars(tokens, by_temperature[t], highlight=0)
            new_readout = typeset(f"T = {t:g}", font_size=30, color=HIGHLIGHT_COLOR).move_to(readout)
            self.play(Change(bars, new_bars), Change(readout, new_readout), run_time=1.2)
            bars, readout = new_bars, new_readout
            self.hold(f"T = {t:g}", 1.0, temperature=t, probs=by_temperature[t])
            if t in notes:
                self.caption(notes[t])
        self.caption("That is all a model produces: a distribution over the next token. Everything else in this "
                     "series is about how it computes one.")
        self.pause(2)

    @staticmethod
    def place(row: VGroup) -> VGroup:
        """The text, left-aligned at the top, shrunk if it no longer fits the frame."""
        if row.width > TEXT_RIGHT - TEXT_LEFT:
            row.scale_to_fit_width(TEXT_RIGHT - TEXT_LEFT)
        return row.move_to([0, TEXT_Y, 0]).align_to([TEXT_LEFT, 0, 0], LEFT)
