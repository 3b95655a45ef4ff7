"""The whole machine: a line of text through our model, every position at once. The tokenizer cuts it into tokens
(ids); each id picks its row of the embedding matrix, plus a row for its place; the blocks add attention's and the
MLP's outputs to the residual stream, layer after layer, while the last vector's reading sharpens (the logit lens);
the unembedding scores the last vector against every token's row; softmax makes the scores probabilities. Every
step is a matrix multiplication, drawn with the model's own shapes and numbers."""

from dataclasses import dataclass

import torch
from manim import (DOWN, RIGHT, UP, AnimationGroup, FadeIn, FadeOut, Indicate, LaggedStart, RoundedRectangle, Square,
                   SurroundingRectangle, VGroup)

from explainer import forward, settings
from explainer.style import BAR_COLOR, HIGHLIGHT_COLOR, POSITIVE_COLOR, display_token, quoted
from explainer.video.pieces import (GREY, SMALLEST_FONT, Change, LabelledArrow, MatrixGrid, ProbabilityBars, Refill,
                                    VectorColumn, fit, token_box, token_row, typeset, value_fill)
from explainer.video.scene import Chapter, caption_parts

SHOWN = 5  # numbers of a vector, or columns of a matrix, written out
CELLS = 8  # numbers of each position's vector drawn as cells in the residual stream
COLUMNS = 12  # positions drawn at most (the last ones of a long prompt)
TOP = 6  # tokens scored at the end
CELL = 0.36  # scene units


@dataclass
class Machine:
    prompt: str
    run: forward.ForwardPass
    lens_start: forward.LensStart
    lens: list[forward.LensRow]  # the last position's reading after the embedding and after each block
    top: list[int]  # the TOP token ids of the last position's scores, best first


def machine_data(lm, options: dict) -> Machine:
    """Everything the chapter shows, for the user's prompt or the notebook's (shared with the tests)."""
    prompt = options.get("prompt") or settings.LENS_PROMPT
    run = forward.forward_pass(lm, prompt)
    top = torch.topk(run.logits[-1], TOP).indices.tolist()
    return Machine(prompt, run, forward.lens_start(lm, prompt), forward.logit_lens(lm, prompt), top)


def stream_fills(vectors: torch.Tensor) -> list[list[tuple[str, float]]]:
    """Each position's first CELLS numbers as cell colours, on one scale for the whole stage so the columns compare
    (the largest numbers saturate)."""
    scale = 0.6 * float(vectors[:, :CELLS].abs().max())
    return [[value_fill(value, scale) for value in vector[:CELLS].tolist()] for vector in vectors]


def stream_cells(fills: list[list[tuple[str, float]]], boxes: VGroup) -> VGroup:
    """Each position's vector as a column of coloured cells under its token box."""
    columns = VGroup()
    for box, column_fills in zip(boxes, fills):
        column = VGroup(*[Square(CELL, stroke_width=0.6, stroke_color=GREY, fill_color=color, fill_opacity=opacity)
                          for color, opacity in column_fills])
        columns.add(column.arrange(DOWN, buff=0).next_to(box, DOWN, buff=0.2))
    return columns


class TheWholeMachine(Chapter):
    def chapter(self):
        machine = machine_data(self.lm, self.options)
        run, layout = machine.run, self.lm.layout
        n = len(run.tokens)
        shown = range(max(0, n - COLUMNS), n)
        self.title_card(f"from text to the next token through our model's {layout.n_layer} layers, every position at once")

        # ---- text to tokens ----
        line = fit(typeset(machine.prompt, font_size=30), 12.5).move_to(UP * 2.6)
        row = token_row([run.tokens[i] for i in shown], 20, min_width=0.62).move_to(UP * 0.9)
        self.narrate(f"A line goes in. The model never sees letters: a tokenizer cuts the text into {n} tokens, "
                     f"pieces from a vocabulary of {layout.d_vocab:,}.", LaggedStart(*[FadeIn(b, shift=DOWN * 0.3) for b in row],
                                                                                   lag_ratio=0.3), enter=[FadeIn(line)])
        ids = VGroup(*[typeset(f"{run.ids[i]}", font_size=SMALLEST_FONT, color=HIGHLIGHT_COLOR).next_to(box, DOWN, buff=0.2)
                       for i, box in zip(shown, row)])
        last = run.tokens[-1]
        self.narrate(f"Each token is a number: its id in the vocabulary. {quoted(last)} is token {run.ids[-1]:,}.",
                     LaggedStart(*[FadeIn(i, shift=UP * 0.2) for i in ids], lag_ratio=0.25))
        self.hold("ids", ids=[run.ids[i] for i in shown], tokens=[run.tokens[i] for i in shown])

        # ---- an id picks its row ----
        rows = self.embedding_rows(run)
        W_E = MatrixGrid(layout.W_E[rows, :SHOWN].cpu().numpy(), shape=(layout.d_vocab, layout.d_model), name="W_E",
                         row_labels=[display_token(t) for t in self.lm.tokens(rows)], fmt="{:+.2f}").move_to([-3.3, 0.2, 0])
        self.play(row.animate.to_edge(UP, buff=0.3), FadeOut(line), FadeOut(ids), run_time=1.0)
        picked = SurroundingRectangle(W_E.rows[-1], color=HIGHLIGHT_COLOR, buff=0.04, stroke_width=3)
        self.narrate(f"Each id picks its row of the embedding matrix W_E: {layout.d_vocab:,} rows, one per token, of "
                     f"{layout.d_model} numbers each. Here are the first {SHOWN} numbers of some rows.",
                     FadeIn(picked), enter=[FadeIn(W_E)], keep=[row])
        embedding = VectorColumn(run.token_embeddings[-1], shown=SHOWN, fmt="{:+.2f}").move_to([1.9, 0.0, 0])
        embedding_name = typeset(f"row {run.ids[-1]:,}", font_size=SMALLEST_FONT, color=GREY).next_to(embedding, UP, buff=0.2)
        self.narrate(f"{quoted(last)} picks row {run.ids[-1]:,}: a lookup, the same as multiplying a one-hot vector "
                     "by W_E.", W_E.lift_row(len(rows) - 1, embedding), FadeIn(embedding_name))
        self.hold("lookup", values=run.token_embeddings[-1][:SHOWN].tolist())
        if run.position_embeddings is not None:
            self.add_position(run, embedding, n)

        # ---- the residual stream, every position at once ----
        stages = run.stages
        cells = stream_cells(stream_fills(stages[0][1][shown.start:]), row)
        self.narrate(f"Every token does the same, all at once: {n} vectors side by side, an {n} × {layout.d_model} "
                     f"matrix (the first {CELLS} numbers of each drawn as cells). This is the residual stream.",
                     LaggedStart(*[FadeIn(c) for c in cells], lag_ratio=0.15), clear=True, keep=[row])
        self.run_blocks(machine, row, cells, shown)

        # ---- the unembedding scores the last vector ----
        self.unembed(machine)
        self.every_position(machine, shown)
        self.recap(machine)

    def embedding_rows(self, run: forward.ForwardPass) -> list[int]:
        """Rows of W_E to draw: a few of the line's tokens, in the order of their ids, the last token's row last."""
        others = sorted({i for i in run.ids[:-1] if i != run.ids[-1]})
        return others[:: max(1, len(others) // 4)][:4] + [run.ids[-1]]

    def add_position(self, run: forward.ForwardPass, embedding: VectorColumn, n: int) -> None:
        """The last token's position row added to its embedding row."""
        place = n - 1
        plus = typeset("+", font_size=30).next_to(embedding, RIGHT, buff=0.25)
        position = VectorColumn(run.position_embeddings[-1], shown=SHOWN, fmt="{:+.2f}").next_to(plus, RIGHT, buff=0.25)
        position_name = typeset(f"W_pos row {place}", font_size=SMALLEST_FONT, color=GREY).next_to(position, UP, buff=0.2)
        equals = typeset("=", font_size=30).next_to(position, RIGHT, buff=0.25)
        total = VectorColumn(run.stages[0][1][-1], shown=SHOWN, fmt="{:+.2f}").next_to(equals, RIGHT, buff=0.25)
        self.narrate(f"Its place in the line adds a second learned vector, row {place} of W_pos ({self.lm.block_size} × "
                     f"{self.lm.layout.d_model}, one row per position): their sum is the vector the blocks start from.",
                     LaggedStart(AnimationGroup(FadeIn(plus), FadeIn(position), FadeIn(position_name)),
                                 AnimationGroup(FadeIn(equals), FadeIn(total)), lag_ratio=0.6))
        self.hold("position", values=run.stages[0][1][-1][:SHOWN].tolist())

    def run_blocks(self, machine: Machine, row: VGroup, cells: VGroup, shown: range) -> None:
        """Layer by layer: attention, then the MLP, each adding to every column; the last column's reading below."""
        layout, stages = self.lm.layout, machine.run.stages
        n = len(machine.run.tokens)
        start = machine.lens_start
        reading = typeset(f"the last vector read through the unembedding now: {display_token(start.token)} ranks "
                          f"#{start.rank:,} of {start.vocabulary:,}", font_size=SMALLEST_FONT).move_to(DOWN * 1.65)
        for number, sentence in enumerate(caption_parts(forward.lens_start_verdict(start).plain)):
            self.narrate(sentence, FadeIn(reading, shift=UP * 0.2) if number == 0 else Indicate(reading, color=HIGHLIGHT_COLOR))
            if number == 0:
                self.hold("lens 0", rank=start.rank)
        block_y = -0.8
        for layer in range(layout.n_layer):
            parts = (("attention", f"attention, layer {layer}: {layout.n_head} heads, each with W_Q, W_K, W_V "
                                   f"{layout.d_model} × {layout.d_head}; then W_O {layout.n_head * layout.d_head} × "
                                   f"{layout.d_model}", BAR_COLOR),
                     ("MLP", f"MLP, layer {layer}: W_in {layout.d_model} × {layout.d_mlp}, GELU, W_out "
                             f"{layout.d_mlp} × {layout.d_model}, each column alone", HIGHLIGHT_COLOR))
            for step, (kind, words, color) in enumerate(parts):
                label = typeset(words, font_size=SMALLEST_FONT)
                block = VGroup(RoundedRectangle(width=max(label.width + 0.4, 11.0), height=0.62, corner_radius=0.1,
                                                stroke_color=color, fill_color=color, fill_opacity=0.22), label)
                block.move_to([0, block_y, 0])
                arrow = LabelledArrow([0, block_y + 0.34, 0], [0, cells.get_bottom()[1] - 0.06, 0], "adds to every column",
                                      color=color, side=RIGHT, stroke_width=4)
                _, vectors = stages[1 + 2 * layer + step]
                fills = stream_fills(vectors[shown.start:])
                animations = [LaggedStart(*[Refill(column, f) for column, f in zip(cells, fills)], lag_ratio=0.3)]
                if step == 1:
                    lens = machine.lens[1 + layer]
                    new_reading = typeset(f"the last vector read through the unembedding now: "
                                          f"{quoted(lens.top_tokens[0])} {lens.top_probs[0]:.0%}",
                                          font_size=SMALLEST_FONT).move_to(reading)
                    animations.append(Change(reading, new_reading))
                    reading = new_reading
                self.narrate(self.block_caption(layer, kind, n), *animations, enter=[FadeIn(block), arrow.grow()], run_time=2.0)
                self.play(FadeOut(block), FadeOut(arrow), run_time=0.5)
            lens = machine.lens[1 + layer]
            self.mark(f"block {layer}", top=lens.top_tokens[0], p=lens.top_probs[0],
                      cells=vectors[shown.start:, :CELLS].tolist())

    def block_caption(self, layer: int, kind: str, n: int) -> str:
        layout = self.lm.layout
        if layer == 0 and kind == "attention":
            return (f"Block 0, attention: each position's vector takes in the ones before it (next chapters show how), "
                    f"and the result is added to all {n} columns at once.")
        if layer == 0:
            return (f"Then the MLP: up to {layout.d_mlp} neurons and back to {layout.d_model}, each column on its own, "
                    "added too. Below: what the last vector would predict now.")
        if kind == "attention":
            return f"Block {layer}: its own attention, its own weights, adding to every column …"
        if layer < layout.n_layer - 1:
            return f"… and its own MLP. Blocks to go: {layout.n_layer - 1 - layer}."
        return "… and the last MLP. Every block added to the stream; none replaced it."

    def unembed(self, machine: Machine) -> None:
        """The last vector, through the final norm, scored by W_U against the top tokens' rows; then softmax."""
        run, layout = machine.run, self.lm.layout
        final = run.final[-1]
        rows = layout.W_U[:, machine.top].T.cpu().numpy()[:, :SHOWN]  # [TOP, SHOWN]: the top tokens' rows
        names = [display_token(t) for t in self.lm.tokens(machine.top)]
        W_U = MatrixGrid(rows, shape=(layout.d_vocab, layout.d_model), name="W_U, a row per token", row_labels=names,
                         fmt="{:+.2f}").move_to([-2.6, 0.6, 0])
        vector = VectorColumn(final, shown=SHOWN, fmt="{:+.1f}").next_to(W_U, RIGHT, buff=0.35).align_to(W_U.rows, UP)
        vector_name = typeset("last vector", font_size=SMALLEST_FONT, color=GREY).next_to(vector, UP, buff=0.15)
        scores = run.logits[-1][machine.top].tolist()
        equals = typeset("=", font_size=30).next_to(vector, RIGHT, buff=0.3)
        result = VectorColumn(scores + [0.0], shown=TOP, fmt="{:+.1f}").next_to(equals, RIGHT, buff=0.3)
        result.align_to(W_U.rows, UP).shift(UP * 0.08)
        result_name = typeset("scores", font_size=SMALLEST_FONT, color=GREY).next_to(result, UP, buff=0.15)
        self.narrate(f"After the last block, the last vector goes through a final LayerNorm; then the unembedding W_U "
                     f"({layout.d_vocab:,} × {layout.d_model}) holds one row per token of the vocabulary.",
                     FadeIn(vector), FadeIn(vector_name), enter=[FadeIn(W_U)], clear=True)
        self.narrate(f"It scores the vector against every row: {layout.d_vocab:,} dot products of all {layout.d_model} "
                     f"numbers. The rows of the best-scoring tokens: {quoted(self.lm.tokens(machine.top[:1])[0])} "
                     f"{scores[0]:.1f}, {quoted(self.lm.tokens(machine.top[1:2])[0])} {scores[1]:.1f}.",
                     W_U.multiply(vector, result), FadeIn(equals), FadeIn(result_name), run_time=5)
        self.hold("scores", scores=scores, tokens=self.lm.tokens(machine.top))
        probs = run.probs[-1][machine.top].tolist()
        bars = ProbabilityBars(names, [p / probs[0] for p in probs], width=6.2, height=2.6, baseline=-1.2, center_x=3.6,
                               values=[f"{p:.0%}" for p in probs])
        self.narrate(f"Softmax turns all {layout.d_vocab:,} scores into probabilities that sum to 1: "
                     f"{quoted(names[0])} gets {probs[0]:.0%}, {quoted(names[1])} {probs[1]:.0%}.",
                     VGroup(result, result_name).animate.move_to([-5.2, 0.3, 0]),
                     LaggedStart(*[FadeIn(b, shift=UP * 0.2) for b in bars], lag_ratio=0.15),
                     FadeOut(W_U), FadeOut(vector), FadeOut(vector_name), FadeOut(equals), run_time=4)
        arrow = LabelledArrow([-4.3, 0.3, 0], [0.1, 0.3, 0], "softmax", color=POSITIVE_COLOR)
        self.play(arrow.grow(), run_time=1.0)
        self.hold("probabilities", probs=probs, tokens=self.lm.tokens(machine.top))

    def every_position(self, machine: Machine, shown: range) -> None:
        """Each position's own best guess, from the same pass, under its token."""
        run, layout = machine.run, self.lm.layout
        n = len(run.tokens)
        row = token_row([run.tokens[i] for i in shown], 20, min_width=0.62).move_to(UP * 2.4)
        best = run.probs.argmax(-1).tolist()
        guesses = VGroup()
        for place, (i, box) in enumerate(zip(shown, row)):
            guess = token_box(self.lm.tokens([best[i]])[0], SMALLEST_FONT, fill="#78350f")
            guesses.add(guess.next_to(box, DOWN, buff=0.35 + 0.6 * (place % 2)))
        heading = typeset("under each token: the model's most likely next token there", font_size=SMALLEST_FONT, color=GREY)
        heading.next_to(guesses, DOWN, buff=0.4)
        self.narrate(f"And that happened at every position at once: one multiplication of {n} × {layout.d_model} by "
                     f"{layout.d_model} × {layout.d_vocab:,} gives each position its own guess at the token after it.",
                     LaggedStart(*[FadeIn(g, shift=DOWN * 0.2) for g in guesses], lag_ratio=0.2), FadeIn(heading),
                     enter=[FadeIn(row)], clear=True)
        self.hold("guesses", guesses=[best[i] for i in shown])

    def recap(self, machine: Machine) -> None:
        """The pipeline, top to bottom, with the shapes at each arrow."""
        run, layout = machine.run, self.lm.layout
        n = len(run.tokens)
        stations = ["text", f"{n} token ids", f"{n} × {layout.d_model} vectors", f"{n} × {layout.d_model} vectors",
                    f"{n} × {layout.d_vocab:,} scores", f"{n} × {layout.d_vocab:,} probabilities"]
        links = ["tokenizer", f"rows of W_E ({layout.d_vocab:,} × {layout.d_model}) + rows of W_pos "
                              f"({self.lm.block_size} × {layout.d_model})",
                 f"{layout.n_layer} blocks, each attention + MLP, added to the stream",
                 f"LayerNorm, then × W_U ({layout.d_model} × {layout.d_vocab:,})", "softmax, row by row"]
        boxes = []
        for index, words in enumerate(stations):
            label = typeset(words, font_size=SMALLEST_FONT)
            box = RoundedRectangle(width=label.width + 0.4, height=0.5, corner_radius=0.1, stroke_color=GREY,
                                   fill_color="#1f2937", fill_opacity=1)
            boxes.append(VGroup(box, label).move_to([-3.6, 3.5 - index * 1.07, 0]))
        arrows = [LabelledArrow(a.get_bottom() + DOWN * 0.04, b.get_top() + UP * 0.04, words, color=POSITIVE_COLOR,
                                side=RIGHT, stroke_width=4) for words, a, b in zip(links, boxes, boxes[1:])]
        steps = [FadeIn(boxes[0])] + [AnimationGroup(arrow.grow(), FadeIn(box)) for arrow, box in zip(arrows, boxes[1:])]
        self.narrate("The whole machine: every arrow a matrix multiplication, every position at once, with a softmax, "
                     "LayerNorms and the MLP's GELU in between.", LaggedStart(*steps, lag_ratio=0.8), clear=True)
        self.hold("recap", stations=stations)
        self.pause(1.0)
