"""The next token: the model reads a prompt and scores every token of its vocabulary; softmax turns the scores into
probabilities (e to each score, divided by the sum over the whole vocabulary); a token is drawn, appended, and the
model runs again, turn after turn. Then temperature: the gaps between the scores divided by T before the softmax,
the top tokens' probabilities and the whole sorted distribution (log scales) reshaping as T goes from 0 to 5; and the
same seed writing three continuations at three temperatures."""

from dataclasses import dataclass

import numpy as np
import torch
from manim import (DOWN, LEFT, RIGHT, UP, AddTextLetterByLetter, AnimationGroup, Arrow, DashedLine, FadeIn, FadeOut,
                   Indicate, LaggedStart, Rectangle, RoundedRectangle, Succession, VGroup)

from explainer import sampling, settings
from explainer.style import BAR_COLOR, HIGHLIGHT_COLOR, NEGATIVE_COLOR, display_token, quoted
from explainer.video.pieces import (GREY, SMALLEST_FONT, Change, PlotAxes, VectorColumn, fit, line_height, percent,
                                    token_box, token_row, typeset, wrap)
from explainer.video.scene import Chapter

STEPS = 12  # turns of the sampling loop
TEMPERATURE, SEED = 1.0, 0  # the loop draws from the distribution the softmax scene shows
SWEEP = (1.0, 0.5, 0.0, 2.0, 5.0)
TOP = 6  # tokens in the table
CONTINUATIONS = (0.0, 0.8, 1.5)  # temperatures of the three texts written at the end (notebook 01's)
CONTINUATION_TOKENS = 40
TEXT_Y = 3.45
TEXT_LEFT, TEXT_RIGHT = -6.6, 6.6
ROW = line_height(SMALLEST_FONT) + 0.14  # a table row: the height of a VectorColumn's entry
FIRST_ROW_Y = 1.7
# (where the bars start, how long a bar of probability 1 is) in each part of the chapter
SOFTMAX_BARS, LOOP_BARS, SWEEP_BARS = (0.5, 5.2), (-1.6, 6.0), (-2.5, 3.6)
SOFTMAX_LABELS = -3.3  # the right edge of the token labels while softmax is worked out
PLOT_FLOOR = -8  # the sorted-distribution plot's lowest probability, as a power of ten (lower ones sit on the floor)
PLOT_POINTS = 90  # ranks sampled along the sorted distribution
SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


@dataclass
class Softmax:
    tokens: list[str]  # the TOP tokens with the highest scores, best first
    logits: list[float]  # their scores
    exps: list[float]  # e to each score
    total: float  # Σ e^score over the whole vocabulary
    probs: list[float]  # exps / total


def softmax_data(lm, prompt: str) -> Softmax:
    """The scene where softmax is worked out on the prompt's real scores (shared with the tests)."""
    logits = lm.next_token_logits(prompt).double()
    top = torch.topk(logits, TOP)
    exps = torch.exp(logits)
    total = float(exps.sum())
    return Softmax(lm.tokens(top.indices.tolist()), top.values.tolist(), exps[top.indices].tolist(), total,
                   [float(e) / total for e in exps[top.indices]])


def loop_data(lm, prompt: str) -> list[sampling.SamplingStep]:
    """The turns of the sampling loop the chapter shows (shared with the tests)."""
    return sampling.sampling_steps(lm, prompt, STEPS, TEMPERATURE, SEED, TOP)


@dataclass
class Sweep:
    tokens: list[str]  # the TOP most likely tokens (an order no temperature changes)
    gaps: list[float]  # their scores minus the top score
    probs: dict[float, list[float]]  # at each temperature of SWEEP: their probabilities
    rest: dict[float, float]  # ... and the other tokens' total
    entropy: dict[float, float]  # ... and the entropy of the whole distribution, in bits
    sorted_probs: dict[float, np.ndarray]  # ... and every token's probability, sorted, largest first


def sweep_data(lm, prompt: str) -> Sweep:
    """The prompt's distribution at every temperature of the sweep (shared with the tests)."""
    logits = lm.next_token_logits(prompt)
    shown, _, _ = sampling.top_with_rest(logits, 1.0, TOP)
    probs, rest, entropy, ranked = {}, {}, {}, {}
    for t in SWEEP:
        _, probs[t], rest[t] = sampling.top_with_rest(logits, t, TOP)
        distribution = sampling.softmax(logits, t)
        entropy[t] = float(sampling.entropy(distribution))
        ranked[t] = torch.sort(distribution, descending=True).values.double().numpy()
    gaps = (logits[shown] - logits.max()).tolist()
    return Sweep(lm.tokens(shown), gaps, probs, rest, entropy, ranked)


def share(p: float) -> str:
    """A percentage that never rounds a share short of 1 up to 100%."""
    return f"{p:.1%}" if percent(p) == "100%" and p < 1 else percent(p)


def gap_text(gap: float) -> str:
    return "−∞" if gap == -np.inf else f"{gap:+.2f}".replace("-", "−")


class ProbabilityRows(VGroup):
    """A table read across: each row a token, then its probability as a horizontal bar (1 = `length`) with the
    percentage past the bar's end. Row i sits at FIRST_ROW_Y − i · ROW; `highlight` (−1: none) is drawn in the
    highlight colour. Parts: self[i] = VGroup(label, bar, value). `Change` between two tables grows the bars."""

    def __init__(self, labels, probs, left: float, length: float, label_right: float, highlight: int = -1):
        super().__init__()
        for i, (label, p) in enumerate(zip(labels, probs)):
            y = FIRST_ROW_Y - i * ROW
            width = max(float(p) * length, 1e-3)
            bar = Rectangle(width=width, height=ROW * 0.72, stroke_width=0, fill_opacity=1,
                            fill_color=HIGHLIGHT_COLOR if i == highlight else BAR_COLOR).move_to([left + width / 2, y, 0])
            text = typeset(display_token(label), font_size=SMALLEST_FONT).move_to([0, y, 0]).align_to([label_right, 0, 0], RIGHT)
            value = typeset(percent(float(p)), font_size=SMALLEST_FONT, color=GREY).move_to([0, y, 0])
            value.align_to([left + width + 0.12, 0, 0], LEFT)
            self.add(VGroup(text, bar, value))


class NextToken(Chapter):
    def chapter(self):
        prompt = self.options.get("prompt") or settings.NEXT_TOKEN_PROMPT
        self.title_card("what a language model computes, and how text comes out of it")
        self.sampling_loop(prompt, *self.scores_and_softmax(prompt))
        self.temperature(prompt)
        self.continuations(prompt)

    # ---- scores, then softmax ----
    def scores_and_softmax(self, prompt: str) -> tuple[VGroup, VGroup, ProbabilityRows]:
        lm, found = self.lm, softmax_data(self.lm, prompt)
        ids = lm.encode(prompt)
        text = self.place(token_row(lm.tokens(ids), 20))
        words = typeset(f"the model: {lm.model.config.n_layer} layers, {lm.model.num_parameters():,} weights",
                        font_size=SMALLEST_FONT)
        box = RoundedRectangle(width=words.width + 0.4, height=0.48, corner_radius=0.1, stroke_color=GREY,
                               fill_color="#1f2937", fill_opacity=1)
        model = VGroup(box, words).move_to([0, 2.55, 0]).align_to([TEXT_LEFT, 0, 0], LEFT)
        x = min(text.get_x(), model.get_x())
        into = Arrow([x, text.get_bottom()[1] - 0.02, 0], [x, model.get_top()[1] + 0.02, 0], buff=0, color=GREY,
                     stroke_width=3, max_tip_length_to_length_ratio=0.3)
        rows = ProbabilityRows(found.tokens, found.probs, *SOFTMAX_BARS, label_right=SOFTMAX_LABELS)
        scores = VectorColumn(found.logits + [0.0], shown=TOP, fmt="{:+.2f}").move_to([-2.6, 0, 0])
        scores.shift(UP * (FIRST_ROW_Y - scores.entries[0].get_y()))
        scores_name = typeset("score z", font_size=SMALLEST_FONT, color=GREY).next_to(scores, UP, buff=0.12)
        vocabulary = lm.vocab_size
        self.narrate(f"The model reads the prompt, {len(ids)} tokens, and gives each of the {vocabulary:,} tokens of its "
                     f"vocabulary a score. The {TOP} highest: {quoted(found.tokens[0])} {found.logits[0]:.2f}, "
                     f"{quoted(found.tokens[1])} {found.logits[1]:.2f}.",
                     Indicate(model, color=HIGHLIGHT_COLOR, scale_factor=1.05),
                     LaggedStart(FadeIn(scores.brackets), *[AnimationGroup(FadeIn(row[0]), FadeIn(e)) for row, e in zip(rows, scores.entries)],
                                 FadeIn(scores.more), FadeIn(scores_name), lag_ratio=0.25),
                     enter=[FadeIn(text), FadeIn(model), FadeIn(into)], run_time=3.0)
        self.hold("scores", tokens=found.tokens, logits=found.logits)

        decimals = max(0, 1 - int(np.floor(np.log10(min(found.exps)))))
        exps = VectorColumn(found.exps + [0.0], shown=TOP, fmt=f"{{:,.{decimals}f}}").move_to([-0.8, 0, 0])
        exps.align_to(scores, UP)
        exps_name = typeset("exp(z)", font_size=SMALLEST_FONT, color=GREY).next_to(exps, UP, buff=0.12)
        flows = [Succession(cell.animate(run_time=1.0).move_to(target), FadeOut(cell, run_time=0.2))
                 for cell, target in zip(scores.cells(), exps.entries)]
        self.narrate("Softmax turns scores into probabilities. First, e to the power of each score, exp(z): every "
                     "number becomes positive, and the larger ones pull far ahead.",
                     LaggedStart(*flows, lag_ratio=0.15), LaggedStart(FadeIn(exps.brackets), FadeIn(exps_name),
                                                                      *[FadeIn(e) for e in exps.entries], FadeIn(exps.more),
                                                                      lag_ratio=0.2), run_time=3.0)
        total = typeset(f"sum over all {vocabulary:,}: {found.total:,.{decimals}f}", font_size=SMALLEST_FONT,
                        color=HIGHLIGHT_COLOR).next_to(exps, DOWN, buff=0.25)
        bars_name = typeset("p = exp(z) ÷ sum", font_size=SMALLEST_FONT, color=GREY)
        bars_name.next_to([SOFTMAX_BARS[0], scores_name.get_y(), 0], RIGHT, buff=0)
        self.narrate(f"Then divide each by their sum over the whole vocabulary, {found.total:,.{decimals}f}, so that "
                     f"all {vocabulary:,} add up to 1. {quoted(found.tokens[0])} gets {percent(found.probs[0])}.",
                     FadeIn(total, shift=UP * 0.2), LaggedStart(*[AnimationGroup(FadeIn(row[1], shift=RIGHT * 0.3), FadeIn(row[2]))
                                                                  for row in rows], lag_ratio=0.2), FadeIn(bars_name),
                     run_time=3.0)
        self.hold("softmax", tokens=found.tokens, exps=found.exps, total=found.total, probs=found.probs)
        self.scaffold = VGroup(scores, scores_name, exps, exps_name, total, bars_name)
        return text, VGroup(model, into), rows

    # ---- draw, append, run again ----
    def sampling_loop(self, prompt: str, text: VGroup, model: VGroup, rows: ProbabilityRows) -> None:
        steps = loop_data(self.lm, prompt)
        first = steps[0]
        compact = self.loop_rows(first)
        self.narrate(f"To write, the program draws one token at random with these probabilities, appends it and runs "
                     f"the model again. This draw: {quoted(first.drawn)}, which had {percent(first.probs[first.chosen])}.",
                     FadeOut(self.scaffold), Change(rows, compact), run_time=1.5)
        rows = compact
        text = self.draw(rows, first, text, 0)
        second = steps[1]
        later = self.loop_rows(second)
        self.narrate(f"The model runs again on the longer text: new scores, new probabilities. This draw: "
                     f"{quoted(second.drawn)}, which had only {percent(second.probs[second.chosen])}: unlikely tokens "
                     "get drawn too, now and then.", Indicate(model[0], color=HIGHLIGHT_COLOR, scale_factor=1.05),
                     Change(rows, later), run_time=2.0)
        rows = later
        text = self.draw(rows, second, text, 1)
        for index in range(2, STEPS):
            step = steps[index]
            new = self.loop_rows(step)
            run = [Indicate(model[0], color=HIGHLIGHT_COLOR, scale_factor=1.05), Change(rows, new)]
            if index == 2:
                self.narrate("Draw, append, run again: the text grows one token at a time, and every run is the whole "
                             "model over everything written so far.", *run, run_time=1.5)
            elif index == STEPS // 2 + 1:
                self.narrate(f"{STEPS} turns of the loop, {STEPS} runs of the model, each one's text a token longer "
                             "than the last one's.", *run, run_time=1.5)
            else:
                self.play(*run, run_time=1.0)
            rows = new
            text = self.draw(rows, step, text, index)
        self.mark("loop done", text="".join(s.drawn for s in steps))

    @staticmethod
    def loop_rows(step: sampling.SamplingStep) -> ProbabilityRows:
        return ProbabilityRows(step.tokens, step.probs, *LOOP_BARS, label_right=LOOP_BARS[0] - 0.3)

    def draw(self, rows: ProbabilityRows, step: sampling.SamplingStep, text: VGroup, index: int) -> VGroup:
        """The drawn token's row turns orange, then the token flies to the end of the text."""
        self.play(rows[step.chosen][1].animate.set_fill(HIGHLIGHT_COLOR), rows[step.chosen][0].animate.set_color(HIGHLIGHT_COLOR),
                  run_time=0.6)
        self.hold(f"step {index}", 0.6, tokens=step.tokens, probs=step.probs, chosen=step.chosen, drawn=step.drawn)
        appended = token_box(step.drawn, 20, fill="#78350f").scale(text[0].height / token_box("x", 20).height)
        appended.move_to(rows[step.chosen][0])
        end = text.get_right() + RIGHT * (0.08 + appended.width / 2)
        self.play(FadeIn(appended, scale=0.8), run_time=0.3)
        self.play(appended.animate.move_to([end[0], text.get_y(), 0]), run_time=0.7)
        text = VGroup(*text, appended)
        if text.get_right()[0] > TEXT_RIGHT:
            self.play(text.animate.become(self.place(text.copy())), run_time=0.4)
        return text

    # ---- temperature ----
    def temperature(self, prompt: str) -> None:
        sweep = sweep_data(self.lm, prompt)
        vocabulary = self.lm.vocab_size
        formula = typeset("p = exp((z − z top) ÷ T) ÷ sum", font_size=28).move_to([-2.6, 3.3, 0])
        labels = VGroup(*[typeset(display_token(t), font_size=SMALLEST_FONT) for t in sweep.tokens])
        gaps = VectorColumn(sweep.gaps + [0.0], shown=TOP, fmt="{:+.2f}").move_to([-4.6, 0, 0])
        gaps.shift(UP * (FIRST_ROW_Y - gaps.entries[0].get_y()))
        for label, entry in zip(labels, gaps.entries):
            label.move_to([0, entry.get_y(), 0]).align_to([-5.3, 0, 0], RIGHT)
        gaps_name = typeset("z − z top", font_size=SMALLEST_FONT, color=GREY).next_to(gaps, UP, buff=0.12)
        axes, ticks = self.sorted_axes(vocabulary)
        even = DashedLine(axes.point(0, np.log10(1 / vocabulary)), axes.point(np.log10(vocabulary), np.log10(1 / vocabulary)),
                          color=GREY, stroke_width=2, dash_length=0.08)
        t = SWEEP[0]
        state = self.sweep_state(sweep, t, gaps, axes)
        self.narrate(f"Temperature: divide the scores by T before the softmax. Measured from the top score (which "
                     "changes no probability), the gaps grow when T < 1 and shrink when T > 1. At T = 1, the model's own.",
                     LaggedStart(*[FadeIn(part) for part in state], lag_ratio=0.3),
                     enter=[FadeIn(formula), FadeIn(labels), FadeIn(gaps), FadeIn(gaps_name), FadeIn(axes),
                            FadeIn(ticks), FadeIn(even)], clear=True, run_time=3.0)
        self.hold(f"T = {t:g}", temperature=t, probs=sweep.probs[t], rest=sweep.rest[t], entropy=sweep.entropy[t])
        for t in SWEEP[1:]:
            new = self.sweep_state(sweep, t, gaps, axes)
            top, top_p = quoted(sweep.tokens[0]), sweep.probs[t][0]
            if t == 0:
                words = (f"T = 0: every gap becomes −∞ and e^−∞ = 0, so the top token gets {percent(top_p)}. Greedy "
                         "decoding, the talk's “very stilted” choice: the same text every time.")
            elif t < 1:
                words = (f"T = {t:g}: every gap times {1 / t:g}, and {top} rises to {percent(top_p)}; the entropy, the "
                         f"spread of the distribution, falls to {sweep.entropy[t]:.2f} bits.")
            elif t == SWEEP[-1]:
                words = (f"T = {t:g}: every gap times {1 / t:g}. {top} falls to {percent(top_p)}, the other "
                         f"{vocabulary - TOP:,} hold {share(sweep.rest[t])}, and the sorted curve nears the dashed "
                         f"line, where every token would get 1/{vocabulary:,}.")
            else:
                words = (f"T = {t:g}: every gap times {1 / t:g}, {top} falls to {percent(top_p)}, and the entropy rises "
                         f"to {sweep.entropy[t]:.2f} bits, of at most {np.log2(vocabulary):.2f} for an even spread.")
            self.narrate(words, *[Change(old, part) for old, part in zip(state, new)], run_time=2.5)
            state = new
            self.hold(f"T = {t:g}", temperature=t, probs=sweep.probs[t], rest=sweep.rest[t], entropy=sweep.entropy[t])

    def sweep_state(self, sweep: Sweep, t: float, gaps: VectorColumn, axes: PlotAxes) -> list:
        """What changes with T: the T readout, the scaled gaps, the bars, the rest and the entropy, the sorted curve."""
        scaled = [0.0 if g == 0 else (-np.inf if t == 0 else g / t) for g in sweep.gaps]
        column = VGroup()
        for value, entry in zip(scaled, gaps.entries):
            color = NEGATIVE_COLOR if value == -np.inf else "#ffffff"
            column.add(typeset(gap_text(value), font_size=SMALLEST_FONT, color=color).move_to([-3.15, entry.get_y(), 0]))
        column.add(typeset("÷ T", font_size=SMALLEST_FONT, color=GREY).move_to([-3.15, gaps.get_top()[1] + 0.24, 0]))
        readout = typeset(f"T = {t:g}", font_size=30, color=HIGHLIGHT_COLOR).move_to([1.3, 3.3, 0])
        bars = ProbabilityRows(sweep.tokens, sweep.probs[t], *SWEEP_BARS, label_right=-5.3, highlight=0)
        bars = VGroup(*[VGroup(row[1], row[2]) for row in bars])
        notes = VGroup(typeset(f"the other {self.lm.vocab_size - TOP:,}: {share(sweep.rest[t])}", font_size=SMALLEST_FONT),
                       typeset(f"entropy {sweep.entropy[t]:.2f} bits", font_size=SMALLEST_FONT, color=GREY))
        notes.arrange(DOWN, aligned_edge=LEFT, buff=0.15).move_to([-4.0, -1.2, 0], aligned_edge=LEFT).align_to([-6.6, 0, 0], LEFT)
        ranks = np.unique(np.geomspace(1, len(sweep.sorted_probs[t]), PLOT_POINTS).round().astype(int))
        levels = np.log10(np.maximum(sweep.sorted_probs[t][ranks - 1], 10.0 ** PLOT_FLOOR))
        curve = axes.line(np.log10(ranks), levels, color=HIGHLIGHT_COLOR, stroke_width=4)
        return [readout, column, bars, notes, curve]

    def sorted_axes(self, vocabulary: int) -> tuple[PlotAxes, VGroup]:
        """Log–log axes for every token's probability against its rank, ticks written as plain numbers (and the
        even spread's level, 1/vocabulary, where the dashed line runs)."""
        axes = PlotAxes((0, np.log10(vocabulary)), (PLOT_FLOOR, 0), 3.5, 3.1, corner=(3.1, -1.0),
                        x_label="tokens, most likely first", y_label=f"probability of all {vocabulary:,}")
        ticks = VGroup()
        for rank in [r for r in (1, 10, 100, 1000, 10_000) if r <= vocabulary]:
            ticks.add(typeset(f"{rank:,}", font_size=SMALLEST_FONT, color=GREY).next_to(axes.point(np.log10(rank), PLOT_FLOOR), DOWN, buff=0.1))
        levels = {0: "1", PLOT_FLOOR: "10" + str(PLOT_FLOOR).translate(SUPERSCRIPT), np.log10(1 / vocabulary): f"1/{vocabulary:,}"}
        for level, words in levels.items():
            ticks.add(typeset(words, font_size=SMALLEST_FONT, color=GREY).next_to(axes.point(0, level), LEFT, buff=0.1))
        axes[-2].next_to(ticks, DOWN, buff=0.08).set_x(axes.point(np.log10(vocabulary) / 2, 0)[0])  # the x name under the ticks
        return axes, ticks

    # ---- three temperatures, many tokens ----
    def continuations(self, prompt: str) -> None:
        texts = sampling.continuations(self.lm, prompt, CONTINUATIONS, CONTINUATION_TOKENS, seed=SEED)
        heading = typeset(f"after {quoted(prompt)}: {CONTINUATION_TOKENS} tokens, seed {SEED}", font_size=22, color=GREY)
        heading = fit(heading, 12.6).move_to([0, 3.5, 0])
        blocks, lines = VGroup(), []
        for t, written in texts.items():
            name = typeset(f"T = {t:g}", font_size=22, color=HIGHLIGHT_COLOR)
            body = fit(typeset(wrap(written.replace("\n", " ↵ "), 66), font_size=21, line_spacing=0.8), 11.6)
            blocks.add(VGroup(name, body).arrange(RIGHT, buff=0.3, aligned_edge=UP))
            lines.append(body)
        blocks.arrange(DOWN, aligned_edge=LEFT, buff=0.35).next_to(heading, DOWN, buff=0.35).set_x(0)
        fit(blocks, 13.4)
        self.narrate(f"Temperature matters most over many tokens, because each draw is fed back in. The same seed, "
                     f"{CONTINUATION_TOKENS} tokens at T = {', '.join(f'{t:g}' for t in CONTINUATIONS[:-1])} and "
                     f"{CONTINUATIONS[-1]:g}:",
                     LaggedStart(*[AddTextLetterByLetter(body, run_time=5.0) for body in lines], lag_ratio=0.6),
                     enter=[FadeIn(heading), *[FadeIn(block[0]) for block in blocks]], clear=True)
        self.hold("continuations", texts={f"{t:g}": words for t, words in texts.items()})
        self.narrate(f"At T = 0 the top token every time; at T = {CONTINUATIONS[1]:g} the model's own choices; at "
                     f"T = {CONTINUATIONS[2]:g} more and more of its unlikely tokens. Each is the same loop: scores, "
                     "softmax, one draw, append, again.", LaggedStart(*[Indicate(block[0], color=HIGHLIGHT_COLOR)
                                                                        for block in blocks], lag_ratio=0.6), run_time=3.0)

    @staticmethod
    def place(row: VGroup) -> VGroup:
        """The text, left-aligned at the top, shrunk if it no longer fits the frame."""
        if row.width > TEXT_RIGHT - TEXT_LEFT:
            row.scale_to_fit_width(TEXT_RIGHT - TEXT_LEFT)
        return row.move_to([0, TEXT_Y, 0]).align_to([TEXT_LEFT, 0, 0], LEFT)
