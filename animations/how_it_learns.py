"""How it learns: the cost of one prediction, −log p, with our model's real p for the tokens of a real line; every
position scored in one pass; gradient descent stepping downhill on a cost you can see (the two-weight toy of
explainer.learning), into one valley or the other; and our model's saved training snapshots: its guesses after a
prompt, and the previous-token head's attention pattern, forming step by step; then the whole training curve."""

from dataclasses import dataclass

import numpy as np
import torch
from manim import (DOWN, LEFT, UP, Create, Dot, FadeIn, FadeOut, Indicate, LaggedStart, ManimColor, MoveAlongPath,
                   Square, SurroundingRectangle, TracedPath, VGroup, VMobject, interpolate_color, linear)

from explainer import attention, forward, heads, learning, settings
from explainer.gpt import checkpoint
from explainer.style import BAR_COLOR, HIGHLIGHT_COLOR, POSITIVE_COLOR, display_token, quoted
from explainer.video.pieces import (GREY, SMALLEST_FONT, Change, DotGrid, LabelledArrow, PlotAxes, ProbabilityBars,
                                    fit, fixed, percent, token_row, typeset, wrap)
from explainer.video.scene import Chapter, caption_parts

TOP = 6  # tokens shown per snapshot
WHITE_TEXT = "#f9fafb"
MAX_COST = 11.0  # the cost axis: −log p from 0 to this (p down to e^−11)
SURFACE_SIZE = 4.4  # scene units of the toy's cost picture
SURFACE_CELLS = 30  # squares along each side of it
FIRST_STEPS = 3  # descent steps shown one at a time


@dataclass
class Costs:
    tokens: list[str]
    losses: list[float]  # −log p of the actual next token at each position (len(tokens) − 1)
    examples: list[int]  # positions (indices into losses) shown on the curve: the best, a middling and the worst


def cost_data(lm) -> Costs:
    """Our model's cost at every position of the line (shared with the tests)."""
    tokens, losses = forward.token_losses(lm, settings.ROMEO_LINE)
    order = torch.argsort(losses).tolist()
    return Costs(tokens, losses.tolist(), [order[0], order[len(order) // 2], order[-1]])


def descent_data() -> tuple[learning.Toy, learning.Descent, learning.Descent]:
    """The toy, its descent from the notebook's start, and from the mirror image of that start (shared with tests)."""
    toy = learning.toy()
    s = settings.DESCENT
    mirrored = (-s.start[0], -s.start[1])
    return (toy, learning.gradient_descent(toy, s.start, s.learning_rate, s.steps),
            learning.gradient_descent(toy, mirrored, s.learning_rate, s.steps))


def snapshot_data(lm) -> tuple[list[learning.SnapshotPrediction], tuple[int, int], dict[int, attention.PromptAttention]]:
    """The snapshots' guesses after the prompt, the strongest previous-token head, and every snapshot's attention on
    the line (shared with the tests)."""
    source = checkpoint.snapshot_source(lm)
    predictions = learning.snapshot_predictions(source, settings.SNAPSHOT_PROMPT, top=TOP)
    head = heads.strongest_previous_token_head(lm)
    patterns = {step: attention.prompt_attention(checkpoint.load(source, step=step), settings.ROMEO_LINE)
                for step in checkpoint.snapshot_steps(source)}
    return predictions, head, patterns


def surface_cells(toy: learning.Toy, weights: PlotAxes) -> VGroup:
    """The toy's cost over (w1, w2) ∈ [−3, 3]² as a grid of squares, darker where lower (a log scale). They are the
    picture's backdrop: labels may sit on them."""
    w1s, w2s, cost = learning.surface(toy, extent=3.0, resolution=SURFACE_CELLS)
    level = torch.log(cost)
    level = ((level - level.min()) / (level.max() - level.min())).numpy()  # 0 lowest … 1 highest
    side = weights.point(float(w1s[1]), 0)[0] - weights.point(float(w1s[0]), 0)[0]
    cells = VGroup()
    for row, w2 in enumerate(w2s.tolist()):
        for column, w1 in enumerate(w1s.tolist()):
            tone = interpolate_color(ManimColor("#070a1c"), ManimColor("#46557f"), float(level[row, column]) ** 0.8)
            cell = Square(side * 1.06, stroke_width=0, fill_color=tone, fill_opacity=1).move_to(weights.point(w1, w2))
            cell.role = "backdrop"
            cells.add(cell)
    return cells


class HowItLearns(Chapter):
    def chapter(self):
        self.title_card("a cost, little steps downhill, and our model's snapshots as it trained")
        self.cost_curve(cost_data(self.lm))
        self.descent(*descent_data())
        predictions, head, patterns = snapshot_data(self.lm)
        self.guesses(predictions)
        self.attention_forming(head, patterns)
        self.training_curve(predictions)

    # ---- the cost of a prediction ----
    def cost_curve(self, costs: Costs) -> None:
        row = token_row(costs.tokens, 20).to_edge(UP, buff=0.3)
        axes = PlotAxes((0, 1), (0, MAX_COST), 5.2, 3.9, corner=(-6.0, -1.15), x_ticks=(0, 0.5, 1), y_ticks=(0, 5, 10),
                        x_label="p, the probability given to the token that came next", y_label="cost = −log p")
        ps = np.exp(-np.linspace(0, MAX_COST, 200))
        curve = axes.line(ps, -np.log(ps), color=BAR_COLOR)
        self.narrate("Training asks, at every position, what probability p the model gave the token that really came "
                     "next. The cost is −log p: near 0 when p is near 1, steep as p falls to 0.",
                     Create(curve), enter=[FadeIn(row), FadeIn(axes)], clear=True)
        dot, readout, marks = None, None, VGroup()
        for position in costs.examples:
            loss = costs.losses[position]
            p = float(np.exp(-loss))
            before, after = costs.tokens[position], costs.tokens[position + 1]
            target = axes.point(p, loss)
            new_marks = VGroup(SurroundingRectangle(row[position], color=GREY, buff=0.03, stroke_width=2),
                               SurroundingRectangle(row[position + 1], color=HIGHLIGHT_COLOR, buff=0.03, stroke_width=3))
            new_readout = VGroup(typeset(f"after {quoted(before)} came {quoted(after)}", font_size=22),
                                 typeset(f"the model gave it p = {percent(p)}", font_size=22, color=HIGHLIGHT_COLOR),
                                 typeset(f"cost −log p = {fixed(loss, 3)}", font_size=22, color=HIGHLIGHT_COLOR))
            new_readout.arrange(DOWN, aligned_edge=LEFT, buff=0.2).move_to([3.6, 0.6, 0])
            if dot is None:
                dot = Dot(target, radius=0.1, color=HIGHLIGHT_COLOR)
                moves = [FadeIn(dot, scale=0.5), FadeIn(new_readout), FadeIn(new_marks)]
            else:
                moves = [dot.animate.move_to(target), Change(readout, new_readout), Change(marks, new_marks)]
            self.narrate(f"After {quoted(before)} it gave {quoted(after)} p = {percent(p)}: a cost of {fixed(loss, 3)}.",
                         *moves, run_time=2.0)
            self.hold(f"cost {position}", p=p, loss=loss, point=[float(v) for v in target[:2]])
            readout, marks = new_readout, new_marks
        mean = float(np.mean(costs.losses))
        losses = costs.losses + [mean]
        bars = ProbabilityBars([display_token(t) for t in costs.tokens[1:]] + ["mean"], [v / max(losses) for v in losses],
                               width=12.4, height=2.5, baseline=-0.55, highlight=len(losses) - 1,
                               values=[f"{v:.1f}" for v in losses])
        self.narrate(f"One pass scores all {len(costs.losses)} positions at once, each a training example. The line's "
                     f"cost is their mean, {mean:.2f}; training lowers it over millions of positions.",
                     LaggedStart(*[FadeIn(b, shift=UP * 0.2) for b in bars], lag_ratio=0.1), clear=True, keep=[row])
        self.hold("every position", losses=costs.losses, mean=mean)

    # ---- gradient descent on a surface you can see ----
    def descent(self, toy: learning.Toy, path: learning.Descent, other: learning.Descent) -> None:
        s = settings.DESCENT
        reach = 3.0 * SURFACE_CELLS / (SURFACE_CELLS - 1)  # the outer cells' edges
        weights = PlotAxes((-reach, reach), (-reach, reach), SURFACE_SIZE, SURFACE_SIZE, corner=(-6.3, -1.2),
                           x_ticks=(-3, 0, 3), y_ticks=(-3, 0, 3), x_label="w1", y_label="w2")
        image = surface_cells(toy, weights)
        fit_axes = PlotAxes((-2, 2), (-2.5, 2.5), 5.0, 3.6, corner=(1.3, -1.2), x_ticks=(-2, 0, 2), y_ticks=(-2, 0, 2),
                            x_label="x", y_label=f"y = w2 · tanh(w1 · x), {len(toy.x)} points")
        points = VGroup(*[Dot(fit_axes.point(float(x), float(y)), radius=0.05, color=GREY) for x, y in zip(toy.x, toy.y)])
        xs = np.linspace(-2, 2, 60)
        dot = Dot(weights.point(*s.start), radius=0.09, color=HIGHLIGHT_COLOR)

        def fitted(w1: float, w2: float):
            return fit_axes.line(xs, w2 * np.tanh(w1 * xs), color=HIGHLIGHT_COLOR, stroke_width=4)

        curve = fitted(*s.start)
        self.narrate(f"A model small enough to draw: y = w2 · tanh(w1 · x), two weights, {len(toy.x)} points. Left, "
                     "its cost (the mean squared error) for every pair of weights: darker is lower.",
                     LaggedStart(*[FadeIn(p) for p in points], lag_ratio=0.05),
                     enter=[FadeIn(image), FadeIn(weights), FadeIn(fit_axes)], clear=True)
        cost0, gradient = toy.cost_and_gradient(*s.start)
        downhill = -gradient / np.linalg.norm(gradient)
        arrow = LabelledArrow(dot.get_center(), dot.get_center() + np.array([*downhill, 0]) * 1.1, "−gradient",
                              color=POSITIVE_COLOR, side=DOWN, stroke_width=4)
        readout = self.weights_readout(0, path)
        self.narrate(f"Start at w1 = {s.start[0]:.2f}, w2 = {s.start[1]:.2f}: cost {cost0:.2f}. The gradient points "
                     f"uphill; each step goes the other way, {s.learning_rate:g} times the gradient.", FadeIn(dot),
                     FadeIn(curve), arrow.grow(), FadeIn(readout))
        self.hold("start", start=list(s.start), cost=cost0)
        curve.add_updater(lambda line: line.become(fitted(*weights.value(dot.get_center()))))
        trace = TracedPath(dot.get_center, stroke_color=HIGHLIGHT_COLOR, stroke_width=3)
        self.add(trace)
        for step in range(1, FIRST_STEPS + 1):
            new_readout = self.weights_readout(step, path)
            moves = [dot.animate.move_to(weights.point(*path.path[step].tolist())), Change(readout, new_readout)]
            if step == 1:
                self.narrate(f"One step: both weights move at once, the cost falls from {float(path.costs[0]):.2f} to "
                             f"{float(path.costs[1]):.2f}, and the curve bends toward the points.",
                             *moves, FadeOut(arrow), run_time=2.0)
            else:
                self.play(*moves, run_time=1.2)
            readout = new_readout
        steps = len(path.path) - 1
        end = path.path[-1].tolist()
        route = VMobject().set_points_as_corners([weights.point(*w) for w in path.path[FIRST_STEPS:].tolist()])
        final_readout = self.weights_readout(steps, path)
        self.narrate(f"The slope flattens, the steps shrink. After {steps} steps: w1 = {end[0]:.2f}, w2 = {end[1]:.2f}, "
                     f"cost {float(path.costs[-1]):.3f}, near the {learning.TRUE_WEIGHTS[0]} and {learning.TRUE_WEIGHTS[1]} "
                     "that made the points.", MoveAlongPath(dot, route, rate_func=linear),
                     Change(readout, final_readout), run_time=3.0)
        self.hold("descended", end=end, cost=float(path.costs[-1]))
        readout = final_readout
        mirror = other.path[-1].tolist()
        second = Dot(weights.point(*other.path[0].tolist()), radius=0.09, color=POSITIVE_COLOR)
        second_route = VMobject().set_points_as_corners([weights.point(*w) for w in other.path.tolist()])
        second_trace = TracedPath(second.get_center, stroke_color=POSITIVE_COLOR, stroke_width=3)
        self.add(second_trace)
        self.narrate(f"From the mirror image, w1 = {float(other.path[0][0]):.2f}, w2 = {float(other.path[0][1]):.2f}, it "
                     f"falls into the other valley, w1 = {mirror[0]:.2f}, w2 = {mirror[1]:.2f}: the same curve, both signs "
                     "flipped. The start decides the minimum.",
                     FadeIn(second), MoveAlongPath(second, second_route, rate_func=linear), run_time=4.0)
        self.hold("mirror", end=mirror, cost=float(other.costs[-1]))
        curve.clear_updaters()

    def weights_readout(self, step: int, path: learning.Descent):
        w1, w2 = path.path[step].tolist()
        return typeset(f"step {step}: w1 = {w1:+.2f}, w2 = {w2:+.2f}, cost {float(path.costs[step]):.3f}",
                       font_size=SMALLEST_FONT, color=HIGHLIGHT_COLOR).move_to([3.8, 3.6, 0])

    # ---- our model's guesses, snapshot by snapshot ----
    def guesses(self, predictions: list[learning.SnapshotPrediction]) -> None:
        full = max(max(p.top_probs) for p in predictions)
        prompt = display_token(settings.SNAPSHOT_PROMPT)
        heading = typeset(f"what our model guesses after “{prompt}”, as it trained", font_size=22, color=GREY)
        heading.move_to([0, 3.55, 0])
        shown = None
        for index, found in enumerate(predictions):
            bars = ProbabilityBars([display_token(t) for t in found.top_tokens], [p / full for p in found.top_probs],
                                   width=9.0, height=2.8, baseline=-1.3, highlight=0,
                                   values=[percent(p) for p in found.top_probs])
            step = typeset(f"training step {found.step:,}" + (f" · loss {found.loss:.2f}" if found.loss is not None else ""),
                           font_size=24, color=HIGHLIGHT_COLOR).move_to([0, 2.95, 0])
            sample = fit(typeset(wrap("sample: " + found.sample.replace("\n", " ↵ "), 72), font_size=SMALLEST_FONT),
                         12.6).move_to([0, 2.2, 0])
            picture = VGroup(bars, step, sample)
            if shown is None:
                text = (f"Our model learned the same way; training saved its weights {len(predictions)} times. At step "
                        f"{found.step}, random weights, its top guess gets {percent(found.top_probs[0])}: an even spread over "
                        f"{self.lm.vocab_size:,} tokens gives each {percent(1 / self.lm.vocab_size)}.")
                self.narrate(text, LaggedStart(*[FadeIn(b, shift=UP * 0.2) for b in bars], lag_ratio=0.1),
                             enter=[FadeIn(heading), FadeIn(step), FadeIn(sample)], clear=True)
            else:
                text = f"Step {found.step:,}: {quoted(found.top_tokens[0])} leads with {percent(found.top_probs[0])}."
                self.narrate(text, Change(shown, picture), run_time=2.0)
            self.hold(f"snapshot {found.step}", step=found.step, tokens=found.top_tokens, probs=found.top_probs,
                      loss=found.loss)
            shown = picture

    # ---- attention forming ----
    def attention_forming(self, head: tuple[int, int], patterns: dict) -> None:
        """The strongest previous-token head's pattern on the line at each snapshot, and its weight on the previous
        token, step by step, beside the grid."""
        layer, number = head
        steps = sorted(patterns)
        tokens = patterns[steps[-1]].tokens
        cell = min(0.36, 4.0 / len(tokens))
        weights = {step: float(patterns[step].previous_token_score()[layer, number]) for step in steps}

        def grid(step: int) -> DotGrid:
            return DotGrid(patterns[step].pattern(layer, number).numpy(), tokens, cell=cell, center=(-1.4, 0.3),
                           queries_as_columns=False)

        def trail(upto: int) -> VGroup:
            lines = [typeset("weight on the previous token", font_size=SMALLEST_FONT, color=GREY)]
            lines += [typeset(f"step {step:,}: {weights[step]:.2f}", font_size=22,
                              color=HIGHLIGHT_COLOR if step == upto else WHITE_TEXT) for step in steps if step <= upto]
            return VGroup(*lines).arrange(DOWN, aligned_edge=LEFT, buff=0.18).move_to([4.4, 2.2, 0], aligned_edge=UP)

        shown, text = grid(steps[0]), trail(steps[0])
        introduction = caption_parts(heads.previous_token_verdict(self.lm).plain)
        for index, sentence in enumerate(introduction):
            self.narrate(sentence, LaggedStart(*[FadeIn(d) for d in shown.dots], lag_ratio=0.01) if index == 0 else
                         FadeIn(text), enter=[FadeIn(shown.masked), FadeIn(shown.labels)] if index == 0 else (),
                         clear=index == 0)
        if len(introduction) == 1:
            self.narrate(f"Its pattern on this line at step {steps[0]}, random weights: each row a token, reading the "
                         "tokens before it. Beside it, the weight each row puts on the token just before.", FadeIn(text))
        self.hold(f"pattern {steps[0]}", step=steps[0], weight=weights[steps[0]], head=[layer, number])
        for step in steps[1:]:
            new, new_text = grid(step), trail(step)
            self.narrate(f"Step {step:,}: {weights[step]:.2f} on the token before.",
                         Change(shown.dots, new.dots), Change(text, new_text), run_time=2.5)
            shown.dots, text = new.dots, new_text
            self.hold(f"pattern {step}", step=step, weight=weights[step], head=[layer, number])
        for sentence in caption_parts(attention.training_verdict(patterns, layer, number).plain):
            self.narrate(sentence, Indicate(text[-1], color=HIGHLIGHT_COLOR))

    # ---- the whole training ----
    def training_curve(self, predictions: list[learning.SnapshotPrediction]) -> None:
        record = checkpoint.read_config(checkpoint.snapshot_source(self.lm))
        steps, losses, trained = record["train_curve"]["step"], record["train_curve"]["loss"], record["step"]
        axes = PlotAxes((0, trained), (0, max(losses) * 1.05), 10.5, 3.6, corner=(-5.0, -1.1),
                        x_ticks=(0, trained // 2, trained), y_ticks=(0, 5), x_label="training step", y_label="training loss (mean −log p on a batch)",
                        x_format="{:,}")
        line = axes.line(steps, losses, color=BAR_COLOR, stroke_width=3)
        dots = VGroup(*[Dot(axes.point(p.step, p.loss), radius=0.08, color=HIGHLIGHT_COLOR) for p in predictions
                        if p.loss is not None])
        weights = self.lm.model.num_parameters()
        self.narrate(f"All {weights:,} weights were set this way: {trained:,} steps downhill on the mean −log p of "
                     "batches of text. The dots are the snapshots you saw.",
                     Create(line, rate_func=linear), LaggedStart(*[FadeIn(d, scale=0.5) for d in dots], lag_ratio=0.3),
                     enter=[FadeIn(axes)], clear=True)
        self.hold("training", steps=trained, weights=weights)
