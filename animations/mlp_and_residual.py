"""The MLP and the residual stream: a token's vector is a running sum that every block adds to; before its MLP a block
reads it through a LayerNorm; the MLP multiplies it up to its neurons (W_in), bends each neuron's input through the
GELU, multiplies back down (W_out) and adds the result to the vector. A neuron is a question (where it fires) and an
answer (what it adds). Last, where set phrases live, by mean-ablation with ordinary text as the control."""

import re
from dataclasses import dataclass

import numpy as np
import torch
from manim import (BLACK, DOWN, LEFT, RIGHT, UP, AnimationGroup, Create, Dot, FadeIn, FadeOut, GrowFromEdge, Indicate, LaggedStart,
                   Line, Rectangle, ReplacementTransform, SurroundingRectangle, VGroup)

from explainer import mlp, residual, settings
from explainer.style import BAR_COLOR, HIGHLIGHT_COLOR, NEGATIVE_COLOR, POSITIVE_COLOR, display_token, quoted
from explainer.video.pieces import (GREY, SMALLEST_FONT, InTurn, LabelledArrow, MatrixGrid, PlotAxes, ProbabilityBars,
                                    VectorColumn, fit, token_box, token_row, typeset)
from explainer.video.scene import Chapter, caption_parts

SHOWN = 5  # numbers of a vector written out
NEURONS = 6  # neurons drawn through the MLP
FIRINGS = 4  # the followed neuron's strongest firings shown
ANSWERS = 6  # tokens its answer raises, shown
CONTEXT = 8  # tokens of context before each firing
BAR_ROW = 11.0  # scene units: the width of a row of bars
LOOKUP_HEIGHT = 1.25  # scene units: a full lookup bar
COLUMNS = 14  # tokens of the prompt drawn at most (the last ones)


@dataclass
class MlpData:
    step: mlp.MLPPass  # the prompt's last token through the MLP of the chosen layer
    norm: residual.LayerNormSteps  # the LayerNorm that MLP reads the vector through
    neurons: list[int]  # the neurons drawn, in order, from the lowest input to the highest
    flow: residual.Stream  # the prompt's residual stream
    neuron: int  # the neuron that fires most here
    firings: list[mlp.Firing]  # where it fires most in the validation text
    answer: list[tuple[str, float]]  # the tokens its output direction raises most, with the logit each gains
    phrases: list[mlp.Phrase]  # set phrases of the corpus
    found: mlp.AblationResult | mlp.NotMeasured  # where the lookups of those phrases live


def drawn_neurons(pre: torch.Tensor) -> list[int]:
    """NEURONS neurons whose inputs span the range: the lowest, a quarter and half way up, and the three highest."""
    order = torch.argsort(pre).tolist()
    count = len(order)
    ranks = [0, count // 4, count // 2, count - 3, count - 2, count - 1]
    return list(dict.fromkeys(order[r] for r in ranks))


def chapter_data(lm, options: dict) -> MlpData:
    """Everything the chapter shows (shared with the tests)."""
    prompt, _ = lm.fit(options.get("prompt") or settings.ROMEO_LINE)
    layer = options.get("layer", lm.layout.n_layer - 1)
    step = mlp.mlp_pass(lm, prompt, layer, -1)
    neuron = int(step.post.argmax())
    raised, _ = mlp.promoted_tokens(lm, mlp.neuron_answer(lm, layer, neuron), ANSWERS)
    return MlpData(step, residual.layer_norm_steps(lm, step.before, layer, "ln_2"), drawn_neurons(step.pre),
                   residual.stream(lm, prompt), neuron, mlp.top_contexts(lm, layer, neuron, before=CONTEXT)[:FIRINGS],
                   list(raised), mlp.set_phrases(), mlp.lookups(lm))


def settle(scene, *groups: VGroup) -> None:
    """Make each group one mobject of `scene` again. Animating a group's parts one by one (a FadeIn each, a matrix's
    `multiply`) adds the parts to the scene separately; a later FadeOut or move of the whole group would leave them
    behind."""
    for group in groups:
        scene.remove(*group.get_family())
        scene.add(group)


def stage_label(stage: str) -> str:
    """'+ attention 0' → 'attn 0', '+ MLP 0' → 'MLP 0', the first stage → 'embed'."""
    if not stage.startswith("+"):
        return "embed"
    return stage[2:].replace("attention", "attn")


def column_title(words: str, column: VGroup, color=GREY) -> VGroup:
    return typeset(words, font_size=SMALLEST_FONT, color=color).next_to(column, UP, buff=0.18)


def pour(source: VectorColumn, target: VectorColumn):
    """The source's cells flow into the target's, then the target's numbers appear."""
    ghost, landing = source.cells(), target.cells()
    return InTurn(ReplacementTransform(ghost, landing), AnimationGroup(FadeOut(landing), FadeIn(target)))


def grow_bars(groups, lag_ratio: float = 0.25):
    """Each of ProbabilityBars' (bar, label, value) groups grows from the baseline, its label and value fading in."""
    return LaggedStart(*[AnimationGroup(GrowFromEdge(group[0], DOWN), FadeIn(group[1]), FadeIn(group[2]))
                         for group in groups], lag_ratio=lag_ratio)


def lookup_bars(found: mlp.AblationResult) -> tuple[VGroup, dict[str, VGroup], float]:
    """Two rows of paired bars, MLPs above and attention below: for each part, what mean-ablating it costs the
    lookups (orange) and ordinary text (blue), in nats. Bars are drawn to a scale set by the parts that do not break
    the model; taller ones stop at the top, cut by a gap, their value written above. Returns (rows, each part's pair,
    the cap)."""
    broken = {(part, layer) for part in ("mlp", "attn") for layer, o in enumerate(found.ordinary_change[part])
              if o >= mlp.BREAKS}
    kept = [max(found.lookup_change[p][l], found.ordinary_change[p][l]) for p in ("mlp", "attn")
            for l in range(len(found.lookup_change[p])) if (p, l) not in broken]
    cap = max(kept + [mlp.MIN_EFFECT]) * 1.15
    rows, pairs = VGroup(), {}
    for row, (part, baseline) in enumerate((("mlp", 0.75), ("attn", -1.35))):
        layers = len(found.lookup_change[part])
        slot = BAR_ROW / layers
        axis = Line([-BAR_ROW / 2, baseline, 0], [BAR_ROW / 2, baseline, 0], color=GREY, stroke_width=2)
        group = VGroup(axis)
        for layer in range(layers):
            x = -BAR_ROW / 2 + slot * (layer + 0.5)
            pair = VGroup()
            for side, (change, color) in enumerate(((found.lookup_change[part][layer], HIGHLIGHT_COLOR),
                                                    (found.ordinary_change[part][layer], BAR_COLOR))):
                height = max(min(max(change, 0.0), cap) / cap * LOOKUP_HEIGHT, 1e-3)
                bar = Rectangle(width=min(0.45, slot * 0.25), height=height, stroke_width=0, fill_color=color, fill_opacity=1)
                bar.move_to([x + (side - 0.5) * min(0.9, slot * 0.42), baseline + height / 2, 0])
                value = typeset(f"{change:+.2f}", font_size=SMALLEST_FONT, color=color).next_to(bar, UP, buff=0.06)
                drawn = VGroup(bar, value)
                if change > cap:  # cut short: a gap across the bar says so
                    drawn.add(Rectangle(width=bar.width + 0.1, height=0.07, stroke_width=0, fill_color=BLACK,
                                        fill_opacity=1).move_to(bar).shift(UP * height * 0.25))
                pair.add(drawn)
            name = f"{mlp.PART_NAMES[part]} {layer}"
            label = typeset(name, font_size=SMALLEST_FONT).next_to([x, baseline, 0], DOWN, buff=0.12)
            pair.add(label)
            if (part, layer) in broken:
                pair.add(typeset("breaks all text", font_size=SMALLEST_FONT, color=NEGATIVE_COLOR)
                         .next_to(VGroup(pair[0], pair[1]), UP, buff=0.08))
            pairs[name] = pair
            group.add(pair)
        rows.add(group)
    return rows, pairs, cap


class MlpAndResidual(Chapter):
    def chapter(self):
        data = chapter_data(self.lm, self.options)
        step = data.step
        self.title_card("the running vector every block adds to, and the MLP, where most weights live")
        row = token_row(step.tokens[-COLUMNS:], 20).to_edge(UP, buff=0.3)
        header = VGroup(row, SurroundingRectangle(row[-1], color=HIGHLIGHT_COLOR, buff=0.04, stroke_width=3))
        self.stream(data, header)
        read = self.layer_norm(data, header)
        self.through_the_mlp(data, read, header)
        self.neuron(data)
        self.lookups(data)

    # ---- the residual stream ----
    def stream(self, data: MlpData, row: VGroup) -> None:
        flow, position = data.flow, data.step.position
        norms, added = data.flow.norms(position).tolist(), data.flow.added_norms(position).tolist()
        token = quoted(flow.tokens[position])
        labels = [stage_label(s) for s in flow.stages]
        bars = ProbabilityBars(labels, [v / max(norms) for v in norms], width=BAR_ROW, height=3.0, baseline=-1.5,
                               highlight=-1, values=[f"{v:.1f}" for v in norms])
        title = typeset(f"the length of the vector of {token} after each stage", font_size=SMALLEST_FONT, color=GREY)
        title.move_to([0, 2.75, 0])
        first = flow.stages[0]
        self.narrate(f"Follow {token}: its vector starts as its {first}, then every attention and every MLP adds to "
                     f"it, never replaces it. This running sum is the residual stream; its length after each stage:",
                     grow_bars(bars[1:], lag_ratio=0.3), enter=[FadeIn(row), FadeIn(title), FadeIn(bars[0])], run_time=2)
        jump = 1 + int(np.argmax(np.diff(norms)))
        self.narrate(f"The biggest jump: {stage_label(flow.stages[jump])}, from {norms[jump - 1]:.1f} to "
                     f"{norms[jump]:.1f}. After the last block: {norms[-1]:.1f}.",
                     Indicate(bars[1 + jump], color=HIGHLIGHT_COLOR), run_time=1)
        self.hold("stream", norms=norms, added=added, jump=jump, labels=labels)

    # ---- the LayerNorm the MLP reads through ----
    def layer_norm(self, data: MlpData, row: VGroup) -> VectorColumn:
        step, norm = data.step, data.norm
        layout = self.lm.layout
        size = len(step.before)
        before = VectorColumn(step.before, shown=SHOWN).move_to([-5.0, 0.2, 0])
        normalised = VectorColumn(norm.normalised, shown=SHOWN).move_to([-0.1, 0.2, 0])
        read = VectorColumn(step.read, shown=SHOWN).move_to([4.8, 0.2, 0])
        layernorm = layout.norm == "layernorm"
        first_step = f"− mean {norm.mean:+.2f}, ÷ {norm.std:.2f}" if layernorm else f"÷ {norm.std:.2f} (root mean square)"
        to_normalised = LabelledArrow([-4.2, 0.2, 0], [-0.9, 0.2, 0], first_step, color=POSITIVE_COLOR, side=UP)
        to_read = LabelledArrow([0.7, 0.2, 0], [4.0, 0.2, 0], "× gain + bias" if layernorm else "× gain",
                                color=POSITIVE_COLOR, side=UP)
        titles = VGroup(column_title(f"{size} numbers at MLP {step.layer}", before),
                        column_title("mean 0, spread 1" if layernorm else "root mean square 1", normalised),
                        column_title(f"what MLP {step.layer} reads", read, HIGHLIGHT_COLOR))
        self.narrate(f"Zoom into one addition: MLP {step.layer}. It reads the vector through a "
                     f"{'LayerNorm' if layernorm else 'RMSNorm'}: here are the first {SHOWN} of its {size} numbers.",
                     FadeIn(before), FadeIn(titles[0]), clear=True, keep=[row])
        how = (f"subtracts their mean ({norm.mean:+.2f}), divides by their spread ({norm.std:.2f})" if layernorm else
               f"divides by their root mean square ({norm.std:.2f})")
        self.narrate(f"It {how}, then multiplies by a learned gain{' and adds a bias' if layernorm else ''}: what "
                     f"the MLP reads, the same size whatever the stream's length.",
                     InTurn(AnimationGroup(to_normalised.grow(), pour(before, normalised), FadeIn(titles[1])),
                            AnimationGroup(to_read.grow(), pour(normalised, read), FadeIn(titles[2]))), run_time=3)
        self.mark("normalised", mean=norm.mean, std=norm.std)
        self.hold("read", mean=norm.mean, std=norm.std, normalised=norm.normalised[:SHOWN].tolist(),
                  read=step.read[:SHOWN].tolist())
        settle(self, to_normalised, to_read)
        self.play(FadeOut(before), FadeOut(normalised), FadeOut(to_normalised), FadeOut(to_read), FadeOut(titles),
                  read.animate.move_to([0.9, 0.0, 0]), run_time=1.0)
        return read

    # ---- up, the nonlinearity, down, added ----
    def through_the_mlp(self, data: MlpData, read: VectorColumn, row: VGroup) -> None:
        step, neurons = data.step, data.neurons
        layout = self.lm.layout
        up_matrix = layout.W_in[step.layer] if layout.W_gate[step.layer] is None else layout.W_gate[step.layer]  # [C, M]
        width, size = len(step.pre), len(step.read)
        W_in = MatrixGrid(up_matrix[:SHOWN, neurons].T.cpu().numpy(), shape=(width, size), name="W_in",
                          row_labels=[f"neuron {n}" for n in neurons], fmt="{:+.2f}")
        W_in.next_to(read, LEFT, buff=0.35).align_to(read, UP).shift(DOWN * 0.1)
        equals = typeset("=", font_size=30).next_to(read, RIGHT, buff=0.3)
        pre = VectorColumn(step.pre[neurons].tolist() + [0.0], shown=len(neurons)).next_to(equals, RIGHT, buff=0.3)
        pre.align_to(W_in.rows, UP).shift(UP * 0.08)
        pre_title = column_title("inputs", pre)
        gated = layout.W_gate[step.layer] is not None
        self.narrate(f"Up: W_in ({width} × {size}) gives each of {width} neurons a weighted sum of the {size} numbers. "
                     f"{len(neurons)} drawn, from neuron {neurons[-1]} ({float(step.pre[neurons[-1]]):+.2f}) to neuron "
                     f"{neurons[0]} ({float(step.pre[neurons[0]]):+.2f}).",
                     W_in.multiply(read, pre), FadeIn(equals), FadeIn(pre_title), enter=[FadeIn(W_in)], run_time=2.5)
        self.hold("up", neurons=neurons, pre=step.pre[neurons].tolist(), weights=up_matrix[:SHOWN, neurons].T.tolist())
        settle(self, pre)

        # the nonlinearity: every input through the curve
        self.play(FadeOut(W_in), FadeOut(read), FadeOut(equals), VGroup(pre, pre_title).animate.move_to([-6.1, 0.3, 0]),
                  run_time=1.0)
        inputs = step.pre[neurons]
        curve_of = lambda x: layout.mlp_activation(x, torch.ones_like(x) if gated else None)
        low, high = min(-1.0, float(np.floor(inputs.min()))), max(1.0, float(np.ceil(inputs.max())))
        outputs = curve_of(inputs)
        axes = PlotAxes((low, high), (-0.5, max(1.0, float(np.ceil(outputs.max())))), 6.4, 3.4, corner=(-4.6, -1.3),
                        x_ticks=[t for t in range(int(low), int(high) + 1) if t % 2 == 0],
                        y_ticks=range(0, int(max(1.0, np.ceil(outputs.max()))) + 1),
                        x_label="a neuron's input", y_label="SiLU (the gate)" if gated else "GELU: its output")
        xs = torch.linspace(low, high, 200)
        curve = axes.line(xs.tolist(), curve_of(xs).tolist(), color=BAR_COLOR, stroke_width=4)
        zero = Line(axes.point(low, 0), axes.point(high, 0), color=GREY, stroke_width=1, stroke_opacity=0.6)
        post = VectorColumn(step.post[neurons].tolist() + [0.0], shown=len(neurons)).move_to([4.3, 0.3, 0])
        post.align_to(pre, UP)
        post_title = column_title("outputs", post)
        on_curve = [axes.point(float(x), float(y)) for x, y in zip(inputs, outputs)]
        dots = VGroup(*[Dot(point, radius=0.08, color=HIGHLIGHT_COLOR) for point in on_curve])
        moves = [ReplacementTransform(entry[0].copy(), dot) for dot, entry in zip(dots, pre.entries)]
        fired = f"{step.firing} of {width} neurons above {mlp.FIRES:g}"
        tally = typeset(f"this token: {fired}", font_size=SMALLEST_FONT, color=HIGHLIGHT_COLOR).move_to([-1.4, 3.0, 0])
        gate_words = " Each then gets multiplied by its gate." if gated else ""
        self.narrate(f"Each input goes onto the {'SiLU' if gated else 'GELU'} curve, the one step that is not a matrix: "
                     f"below 0 it gives about 0, above 0 it passes. Here {fired} fire.{gate_words}",
                     InTurn(AnimationGroup(Create(curve), FadeIn(zero)),
                            AnimationGroup(LaggedStart(*moves, lag_ratio=0.3),
                                           LaggedStart(*[FadeIn(e) for e in [*post.entries, post.brackets,
                                                                             *([post.more] if post.more else [])]],
                                                       lag_ratio=0.1), FadeIn(post_title), FadeIn(tally))),
                     enter=[FadeIn(axes)], run_time=3)
        self.hold("nonlinearity", post=step.post[neurons].tolist(), pre=inputs.tolist(), firing=step.firing,
                  points=[[float(p[0]), float(p[1])] for p in on_curve])
        settle(self, dots, post)

        # down: W_out back to the vector's size
        W_out = MatrixGrid(layout.W_out[step.layer][neurons, :SHOWN].T.cpu().numpy(), shape=(size, width), name="W_out",
                           fmt="{:+.2f}")
        self.play(FadeOut(axes), FadeOut(curve), FadeOut(zero), FadeOut(dots), FadeOut(pre), FadeOut(pre_title),
                  FadeOut(tally), FadeOut(post_title), post.animate.move_to([1.0, 0.1, 0]), run_time=1.0)
        W_out.next_to(post, LEFT, buff=0.35).align_to(post, UP).shift(DOWN * 0.08)
        down_equals = typeset("=", font_size=30).next_to(post, RIGHT, buff=0.3)
        added = VectorColumn(step.added, shown=SHOWN).next_to(down_equals, RIGHT, buff=0.3).align_to(W_out.rows, UP)
        added_title = column_title("what the MLP adds", added, POSITIVE_COLOR)
        self.narrate(f"Down: W_out ({size} × {width}) weighs all {width} outputs into {size} numbers: what the MLP adds. "
                     f"Drawn: the columns of the {len(neurons)} neurons above.",
                     W_out.multiply(post, added), FadeIn(down_equals), FadeIn(added_title), enter=[FadeIn(W_out)],
                     run_time=2.5)
        self.hold("down", added=step.added[:SHOWN].tolist(), weights=layout.W_out[step.layer][neurons, :SHOWN].T.tolist())
        settle(self, added)
        self.add_to_stream(data, added, added_title, [W_out, post, down_equals], row)

    def add_to_stream(self, data: MlpData, added: VectorColumn, added_title, leaving: list, row: VGroup) -> None:
        step = data.step
        after = step.before + step.added
        before = VectorColumn(step.before, shown=SHOWN).move_to([-4.6, 0.1, 0])
        plus = typeset("+", font_size=30).move_to([-2.6, 0.1, 0])
        equals = typeset("=", font_size=30).move_to([1.6, 0.1, 0])
        total = VectorColumn(after, shown=SHOWN).move_to([3.6, 0.1, 0])
        lengths = [float(step.before.norm()), float(step.added.norm()), float(after.norm())]
        self.play(*[FadeOut(m) for m in leaving], VGroup(added, added_title).animate.move_to([-0.5, 0.35, 0]), run_time=1.0)
        columns = (before, added, total)
        under = VGroup(*[typeset(f"length {v:.2f}", font_size=SMALLEST_FONT, color=GREY).next_to(c, DOWN, buff=0.2)
                         for v, c in zip(lengths, columns)])
        for label in under:
            label.set_y(min(m.get_y() for m in under))
        titles = VGroup(column_title(f"the vector at MLP {step.layer}", before),
                        column_title("the vector passed on", total))
        landings = total.cells(), total.cells()
        self.narrate(f"Added, not replaced: the vector ({lengths[0]:.2f} long) plus the MLP's output ({lengths[1]:.2f}) is "
                     f"the vector passed on, {lengths[2]:.2f} long.",
                     InTurn(AnimationGroup(ReplacementTransform(before.cells(), landings[0]),
                                           ReplacementTransform(added.cells(), landings[1])),
                            AnimationGroup(FadeOut(landings[0]), FadeOut(landings[1]), FadeIn(total), FadeIn(equals),
                                           FadeIn(titles[1]), FadeIn(under))),
                     enter=[FadeIn(before), FadeIn(plus), FadeIn(titles[0])], run_time=2.5)
        self.hold("added", lengths=lengths, after=after[:SHOWN].tolist())

    # ---- one neuron: a question and an answer ----
    def neuron(self, data: MlpData) -> None:
        step, neuron = data.step, data.neuron
        heading = typeset(f"neuron {neuron} of MLP {step.layer} ({float(step.post[neuron]):.2f} here): where it fires most "
                          "in the validation text",
                          font_size=22, color=HIGHLIGHT_COLOR).move_to([0, 3.55, 0])
        strongest = max(f.activation for f in data.firings)
        lines = VGroup()
        for index, firing in enumerate(data.firings):
            y = 2.85 - 0.55 * index
            length = max(firing.activation, 0.0) / strongest * 1.6
            bar = Rectangle(width=max(length, 1e-3), height=0.3, stroke_width=0, fill_color=HIGHLIGHT_COLOR, fill_opacity=1)
            bar.move_to([-6.8 + length / 2, y, 0])
            value = typeset(f"{firing.activation:.2f}", font_size=SMALLEST_FONT).move_to([-4.7, y, 0])
            context = typeset("".join(firing.context[:-1]).replace("\n", " ↵ ").strip() or " ", font_size=SMALLEST_FONT)
            token = token_box(firing.context[-1], SMALLEST_FONT, fill="#78350f")
            text = fit(VGroup(context, token).arrange(RIGHT, buff=0.1), 9.4)
            lines.add(VGroup(bar, value, text.move_to([-4.1, y, 0], aligned_edge=LEFT)))
        activations = [f.activation for f in data.firings]
        self.narrate(f"A neuron is a question and an answer. Neuron {neuron} fires most here ({float(step.post[neuron]):.2f}); "
                     f"where does it fire hardest? Its top {len(activations)}: {activations[0]:.2f} to {activations[-1]:.2f}.",
                     LaggedStart(*[FadeIn(line, shift=RIGHT * 0.2) for line in lines], lag_ratio=0.3),
                     enter=[FadeIn(heading)], clear=True, run_time=1.5)
        self.hold("neuron", neuron=neuron, activations=activations, output=float(step.post[neuron]))
        tokens, gains = [t for t, _ in data.answer], [g for _, g in data.answer]
        bars = ProbabilityBars([display_token(t) for t in tokens], [max(g, 0.0) / max(gains) for g in gains], width=9.0,
                               height=1.3, baseline=-1.5, highlight=-1, values=[f"{g:+.2f}" for g in gains])
        answer_title = typeset(f"its answer, row {neuron} of W_out, read through W_U: the tokens it raises most",
                               font_size=SMALLEST_FONT, color=GREY).move_to([0, 0.35, 0])
        self.narrate(f"Its answer: its row of W_out, read through the unembedding, raises these tokens most: "
                     f"{quoted(tokens[0])} by {gains[0]:+.2f}, {quoted(tokens[1])} by {gains[1]:+.2f}.", FadeIn(answer_title), FadeIn(bars[0]), grow_bars(bars[1:], 0.15), run_time=1.5)
        self.hold("answer", tokens=tokens, gains=gains)

    # ---- where lookups live ----
    def lookups(self, data: MlpData) -> None:
        found = data.found
        phrases = VGroup()
        for phrase in data.phrases[:3]:
            words = VGroup(token_box(phrase.first, 22), token_box(phrase.second, 22), typeset("→", font_size=22, color=GREY),
                           token_box(phrase.answer, 22, color=HIGHLIGHT_COLOR)).arrange(RIGHT, buff=0.15)
            shares = typeset(f"{phrase.share:.0%} of the time after “{phrase.first} {phrase.second}”; after "
                             f"“{phrase.second}” alone: {phrase.bigram_share:.0%}", font_size=SMALLEST_FONT, color=GREY)
            phrases.add(VGroup(words, shares).arrange(DOWN, aligned_edge=LEFT, buff=0.12))
        phrases.arrange(DOWN, aligned_edge=LEFT, buff=0.35).move_to([0, 1.2, 0])
        example = data.phrases[0]
        self.narrate(f"The talk's MLPs store facts this model never read. It can store set phrases: “{example.first} "
                     f"{example.second}” is followed by “{example.answer}” {example.share:.0%} of the time in its text.",
                     LaggedStart(*[FadeIn(p, shift=UP * 0.2) for p in phrases], lag_ratio=0.4), clear=True, run_time=1.5)
        self.hold("phrases", phrases=[[p.first, p.second, p.answer, p.share, p.bigram_share] for p in data.phrases[:3]])
        if isinstance(found, mlp.NotMeasured):
            for sentence in caption_parts(mlp.lookup_verdict(found).plain):
                self.narrate(sentence, Indicate(phrases, color=GREY))
            return
        rows, pairs, cap = lookup_bars(found)
        summary = typeset(f"{found.occurrences} occurrences of {len(found.phrases)} phrases; intact, the model gives the "
                          f"answer {found.recall:.0%} (geometric mean)", font_size=SMALLEST_FONT).move_to([0, 3.6, 0])
        legend = VGroup(typeset("orange: cost to the lookups", font_size=SMALLEST_FONT, color=HIGHLIGHT_COLOR),
                        typeset("blue: cost to ordinary text (the control), nats", font_size=SMALLEST_FONT, color=BAR_COLOR))
        legend.arrange(RIGHT, buff=0.5).move_to([0, 3.15, 0])
        self.narrate("Where do they live? Replace one part's output by its average (mean-ablation): how much worse do "
                     "the answers get, and ordinary text?",
                     LaggedStart(*[FadeIn(pair, shift=UP * 0.15) for pair in pairs.values()], lag_ratio=0.12),
                     FadeIn(rows[0][0]), FadeIn(rows[1][0]), enter=[FadeIn(summary), FadeIn(legend)], clear=True, run_time=2)
        changes = {"lookups": found.lookup_change["mlp"] + found.lookup_change["attn"],
                   "ordinary": found.ordinary_change["mlp"] + found.ordinary_change["attn"]}
        self.hold("lookups", **changes, cap=cap, occurrences=found.occurrences, phrases=len(found.phrases),
                  recall=found.recall)
        for index, sentence in enumerate(caption_parts(mlp.lookup_verdict(found).plain)):
            named = [pair for name, pair in pairs.items() if re.search(rf"\b{re.escape(name)}\b", sentence)]
            pointing = [Indicate(pair, color=HIGHLIGHT_COLOR) for pair in named] or [Indicate(summary, color=HIGHLIGHT_COLOR)]
            self.narrate(sentence, *pointing, run_time=1)
            self.mark(f"verdict {index}", named=[name for name in pairs if re.search(rf"\b{re.escape(name)}\b", sentence)])
