"""One head of attention, drawn twice. First a head whose weights were set by hand for the talk's sentence
(explainer.designed), every number small enough to write out: each word's vector; W_Q and W_K acting on it; the
keys that align with a noun's query; the grid of q·k; the −∞ mask; ÷√d_k; softmax down each column; the value map
down to d_k and back up; every column's weighted sum of values. Then the head of our model that measurement picked
(heads.running_example) through the same steps with its real numbers, the designed head beside it, and what
measurement says it does (heads.best_head_verdict). Layout as in the talk: queries are columns, keys are rows."""

import math
from dataclasses import dataclass

import numpy as np
import torch
from manim import (DOWN, LEFT, RIGHT, UP, AnimationGroup, Arrow, Circumscribe, Create, DashedLine, FadeIn, FadeOut, GrowFromEdge,
                   GrowArrow, Indicate, LaggedStart, ReplacementTransform, Square, Succession, SurroundingRectangle, VGroup)

from explainer import attention, designed, heads
from explainer.style import BAR_COLOR, HIGHLIGHT_COLOR, MASKED_COLOR, POSITIVE_COLOR, display_token, quoted
from explainer.video.pieces import (GREY, MASKED_OPACITY, SMALLEST_FONT, Change, DotGrid, LabelledArrow, MatrixGrid,
                                    ProbabilityBars, VectorColumn, number_cell, spread, token_row, typeset, wrap)
from explainer.video.scene import Chapter, caption_parts

MOST_TOKENS = 12  # the trained head's grid shows at most the line's first this many tokens (a causal head's numbers
#                   for them do not depend on what follows)
SHOWN = 4  # numbers of the trained model's vectors, and rows of its matrices, written out
PLANE_REACH = 5.0  # scene units of the longest arrow in the query-and-keys picture
HOLD = 0.5  # seconds a marked moment stays still
WHITE_TEXT = "#f9fafb"
KIND_LABELS = 14  # characters per line of a bar's label in the measurement's chart


@dataclass
class Example:
    """The trained head the chapter follows, on its line, and the token whose column it follows."""

    prompt: str
    layer: int
    head: int
    query: int  # the token whose query the chapter follows (the noun)
    key: int | None  # the token it should read (the adjective), when the line was chosen for it
    steps: attention.AttentionSteps  # the first MOST_TOKENS tokens of the line
    found: heads.RunningExample


def first_tokens(steps: attention.AttentionSteps, count: int) -> attention.AttentionSteps:
    """The head's steps for the line's first `count` tokens: exact, since a causal head's query reads only keys before
    it."""
    rows = lambda t: t[:count]
    grid = lambda t: t[:count, :count]
    return attention.AttentionSteps(steps.tokens[:count], steps.ids[:count], rows(steps.residual), rows(steps.x),
                                    rows(steps.q), rows(steps.k), rows(steps.v), grid(steps.scores), grid(steps.scaled),
                                    grid(steps.pattern), rows(steps.z), rows(steps.delta), rows(steps.updated))


def example_data(lm, options: dict) -> Example:
    """The running example (or the user's prompt, layer and head, following the last token shown); shared with the
    tests."""
    found = heads.running_example(lm)
    layer, head = options.get("layer", found.layer), options.get("head", found.head)
    prompt = options.get("prompt") or found.prompt
    steps = attention.attention_steps(lm, prompt, layer, head)
    steps = first_tokens(steps, MOST_TOKENS)
    if options.get("prompt") or found.noun_position >= len(steps.tokens):  # the noun past the tokens shown
        return Example(prompt, layer, head, len(steps.tokens) - 1, None, steps, found)
    return Example(prompt, layer, head, found.noun_position, found.adjective_position, steps, found)


def angle_plane(q: torch.Tensor, k: torch.Tensor) -> np.ndarray:
    """Each key [key, 2] drawn in the plane it spans with the query: x is how far it reaches along the query (x · |q|
    is the exact dot product q·k), y its length across it; so each arrow has its true length and its true angle to
    the query."""
    axis = q / q.norm()
    along = k @ axis
    across = (k - along[:, None] * axis).norm(dim=1)
    return torch.stack([along, across], dim=1).numpy()


def shown_query(lm, example: Example) -> tuple[torch.Tensor, torch.Tensor]:
    """The followed token's query and its adjective's key as W_Q and W_K make them (x W + b), before a rotary model
    turns them by their positions [d_k] each."""
    weights = attention.head_weights(lm, example.layer, example.head)
    x = example.steps.x
    return (attention.project(x[example.query], weights.W_Q, weights.b_Q),
            attention.project(x[read_key(example)], weights.W_K, weights.b_K))


def follows_running_example(example: Example) -> bool:
    """Whether the chapter follows the measured head on the line chosen for it (not the user's prompt or head)."""
    found = example.found
    return (example.key is not None and found.scores is not None
            and (example.prompt, example.layer, example.head) == (found.prompt, found.layer, found.head))


def read_key(example: Example) -> int:
    """The key the chapter pairs with the followed query: the adjective, or the key the query weighs most."""
    if example.key is not None:
        return example.key
    return int(torch.argmax(example.steps.pattern[example.query]))


def rounded(values) -> list[float]:
    """Values as the designed head's pictures write them (two decimals, no −0)."""
    return [round(float(v), 2) + 0.0 for v in values]


def matrix(weights: torch.Tensor) -> np.ndarray:
    """A designed matrix as its pictures write it (two decimals, no −0)."""
    return np.array([rounded(row) for row in weights])


def plain(markdown: str) -> str:
    return markdown.replace("**", "").replace("*", "")


class OneHead(Chapter):
    def chapter(self):
        example = example_data(self.lm, self.options)
        self.title_card(f"a head set by hand, then our model's layer {example.layer}, head {example.head}")
        head = designed.designed_head()
        self.designed_vectors(head)
        self.designed_query_and_key(head)
        self.aligned_keys(head)
        self.designed_grid(head)
        self.value_map(head)
        self.weighted_sums(head)
        self.trained_query(example)
        grid = self.trained_grid(example)
        self.side_by_side(head, example, grid)
        self.measured(example, grid)

    # ---------- the designed head ----------
    def feature_names(self, column: VectorColumn, features) -> VGroup:
        """The designed features' names beside a vector's rows, right-aligned just left of it."""
        return VGroup(*[typeset(name, font_size=SMALLEST_FONT, color=GREY).next_to(column.brackets[0], LEFT, buff=0.15)
                        .set_y(entry.get_y()) for name, entry in zip(features, column.entries)])

    def word_column(self, head: designed.DesignedHead, word: int) -> VectorColumn:
        return VectorColumn(rounded(head.embedding[word]), shown=len(head.features), fmt="{:.2g}", scale=1.0)

    def designed_vectors(self, head: designed.DesignedHead) -> None:
        columns = VGroup(*[self.word_column(head, i) for i in range(len(head.words))]).arrange(RIGHT, buff=0.22)
        boxes = VGroup(*[token_row([word], SMALLEST_FONT)[0] for word in head.words])
        for box, column in zip(boxes, columns):
            box.next_to(column, UP, buff=0.15)
        picture = VGroup(columns, boxes)
        names = self.feature_names(columns[0], head.features)
        VGroup(picture, names).move_to([0, 0.95, 0])
        self.designed_columns, self.designed_names = columns, names
        self.narrate(f"The talk's sentence through a head whose weights we set by hand. Each word is a vector of "
                     f"{len(head.features)} numbers: a few named features, and its place as a point on a circle.",
                     LaggedStart(*[FadeIn(VGroup(b, c), shift=DOWN * 0.3) for b, c in zip(boxes, columns)], lag_ratio=0.25),
                     enter=[FadeIn(names)], clear=True, run_time=1)
        self.hold("designed vectors", HOLD, embedding=[rounded(v) for v in head.embedding])
        self.designed_boxes = boxes

    def designed_query_and_key(self, head: designed.DesignedHead) -> None:
        words, weights, steps = head.words, head.weights, head.steps
        noun, adjective = words.index("creature"), words.index("blue")
        d_k = steps.q.shape[1]
        columns, names = self.designed_columns, self.designed_names
        query_column, key_column = columns[noun], columns[adjective]
        others = [m for i, m in enumerate(columns) if i not in (noun, adjective)]
        others += [b for i, b in enumerate(self.designed_boxes) if i not in (noun, adjective)]
        left = names.get_right()[0] + 0.2
        targets = [query_column.copy().move_to([left + query_column.width / 2, query_column.get_y(), 0]),
                   key_column.copy().move_to([left + query_column.width + 0.25 + key_column.width / 2, key_column.get_y(), 0])]
        W_Q = MatrixGrid(matrix(weights.W_Q.T), name="W_Q", fmt="{:.2g}").move_to([1.75, 2.3, 0])
        W_K = MatrixGrid(matrix(weights.W_K.T), name="W_K", fmt="{:.2g}").move_to([1.75, -0.3, 0])
        q = VectorColumn(steps.q[noun].tolist(), fmt="{:.2f}", scale=3.0).next_to(W_Q, RIGHT, buff=0.4).align_to(W_Q.rows, UP)
        k = VectorColumn(steps.k[adjective].tolist(), fmt="{:.2f}", scale=3.0).next_to(W_K, RIGHT, buff=0.4).align_to(W_K.rows, UP)
        q_name = typeset(f"query of {words[noun]}", font_size=SMALLEST_FONT, color=HIGHLIGHT_COLOR).next_to(q, UP, buff=0.15)
        k_name = typeset(f"key of {words[adjective]}", font_size=SMALLEST_FONT, color=POSITIVE_COLOR).next_to(k, UP, buff=0.15)
        self.narrate(f"W_Q ({d_k} × {len(head.features)}) turns {words[noun]}'s vector into a query: “any adjectives near "
                     f"me?”. W_K turns {words[adjective]}'s into a key: “an adjective, here”.",
                     Succession(AnimationGroup(*[FadeOut(m) for m in others], query_column.animate.move_to(targets[0]),
                                               key_column.animate.move_to(targets[1]),
                                               self.designed_boxes[noun].animate.next_to(targets[0], UP, buff=0.15),
                                               self.designed_boxes[adjective].animate.next_to(targets[1], UP, buff=0.15),
                                               run_time=1.5),
                                FadeIn(W_Q), W_Q.multiply(query_column, q), FadeIn(q_name),
                                FadeIn(W_K), W_K.multiply(key_column, k), FadeIn(k_name)), run_time=2)
        self.hold("query and key", HOLD, q=steps.q[noun].tolist(), k=steps.k[adjective].tolist())

    def aligned_keys(self, head: designed.DesignedHead) -> None:
        """Creature's query, and the key of each word up to it at its true length and its true angle to the query."""
        words, steps = head.words, head.steps
        noun = words.index("creature")
        at = angle_plane(steps.q[noun], steps.k[:noun + 1])  # [key, 2]
        q_length = float(steps.q[noun].norm())
        size = PLANE_REACH / max(q_length, float(np.linalg.norm(at, axis=1).max()))
        origin = np.array([-3.2, -0.9, 0])
        query = LabelledArrow(origin, origin + np.array([q_length * size, 0, 0]), f"query of {words[noun]}",
                              color=HIGHLIGHT_COLOR, side=DOWN, stroke_width=6)
        scores = steps.scores[noun, :noun + 1].tolist()
        order = sorted(range(noun + 1), key=lambda i: -scores[i])
        ends = [origin + np.array([*(at[i] * size), 0]) for i in range(noun + 1)]
        keys = VGroup(*[Arrow(origin, end, buff=0, stroke_width=4, color=POSITIVE_COLOR if i in order[:2] else BAR_COLOR,
                              max_tip_length_to_length_ratio=0.12) for i, end in enumerate(ends)])
        drops = VGroup(*[DashedLine(end, [end[0], origin[1], 0], color=GREY, stroke_width=2) for end in ends])
        names = VGroup(*[typeset(f"{words[i]}: q·k = {scores[i]:.1f}", font_size=SMALLEST_FONT,
                                 color=POSITIVE_COLOR if i in order[:2] else WHITE_TEXT).next_to(end, RIGHT, buff=0.15)
                         for i, end in enumerate(ends)])
        best, second = order[0], order[1]
        self.narrate(f"Each key at its true angle to {words[noun]}'s query: q·k is the query's length times how far the "
                     f"key reaches along it. {words[best]} and {words[second]} point its way: {scores[best]:.1f} and "
                     f"{scores[second]:.1f}.",
                     LaggedStart(*[AnimationGroup(GrowArrow(keys[i]), FadeIn(names[i]), Create(drops[i]))
                                   for i in range(noun + 1)], lag_ratio=0.6),
                     enter=[query.grow()], clear=True, run_time=1.5)
        self.hold("aligned", HOLD, scores=scores, plane=at.tolist(), query_length=q_length, scale=size,
                  origin=origin[:2].tolist())

    def designed_grid(self, head: designed.DesignedHead) -> None:
        words, steps = head.words, head.steps
        n, noun = len(words), words.index("creature")
        cell = 0.5
        grid = DotGrid(steps.pattern.numpy(), words, cell=cell, center=(-0.6, 2.2 - (n - 1) / 2 * cell))
        raw = self.score_cells(grid, steps.scores, "{:.0f}")
        order = [noun] + [q for q in range(n) if q != noun]
        self.narrate(f"Every query against every key: {n} × {n} dot products. A column is one word's query "
                     f"({words[noun]}'s first), a row one key.",
                     LaggedStart(*[FadeIn(VGroup(*[raw[q * n + k] for k in range(n)])) for q in order], lag_ratio=0.4),
                     enter=[FadeIn(grid.labels)], clear=True, run_time=1.5)
        self.hold("designed scores", HOLD, scores=steps.scores.tolist())
        future = [q * n + k for q in range(n) for k in range(n) if k > q]
        legend = self.mask_legend(grid)
        self.narrate("A word may read only the words before it: where the key comes later, the score becomes −∞.", LaggedStart(*[AnimationGroup(FadeOut(raw[i]), FadeIn(grid.masked[j]))
                                                   for j, i in enumerate(future)], lag_ratio=0.08), FadeIn(legend), run_time=1)
        self.hold("designed masked", HOLD, masked=len(future))
        allowed = [q * n + k for q in range(n) for k in range(q + 1)]
        scaled = self.score_cells(grid, steps.scaled, "{:.1f}")
        d_k = steps.q.shape[1]
        self.narrate(f"Divide by √d_k = √{d_k} ≈ {math.sqrt(d_k):.2f}: {words[noun]}'s scores for {words[1]} and "
                     f"{words[2]} become {float(steps.scaled[noun, 1]):.1f} and {float(steps.scaled[noun, 2]):.1f}.",
                     Change(VGroup(*[raw[i] for i in allowed]), VGroup(*[scaled[i] for i in allowed])), run_time=1)
        self.hold("designed scaled", HOLD, scaled=steps.scaled.tolist())
        weights = steps.pattern[noun]
        self.narrate(f"Softmax down each column makes weights that sum to 1: {words[noun]} gives {words[2]} "
                     f"{float(weights[2]):.2f}, {words[1]} {float(weights[1]):.2f}. Dot area ∝ weight.",
                     LaggedStart(*[AnimationGroup(*[FadeOut(scaled[q * n + k]) for k in range(q + 1)],
                                                  *[FadeIn(grid.dots[q * n + k], scale=0.3) for k in range(q + 1)])
                                   for q in range(n)], lag_ratio=0.4), run_time=1.5)
        settle(self, grid)
        self.hold("designed pattern", HOLD, pattern=steps.pattern.tolist(), cell=cell, center=list(grid.center))

    def score_cells(self, grid: DotGrid, scores: torch.Tensor, fmt: str, numbers: bool = True) -> VGroup:
        """Every score in its cell of `grid` (query-major: index q · n + k), coloured by its value."""
        n = scores.shape[0]
        top = float(scores.abs().max())
        side = grid.cell * 0.94
        return VGroup(*[number_cell(float(scores[q, k]), side, side, top, fmt, SMALLEST_FONT, numbers).move_to(grid.point(q, k, n))
                        for q in range(n) for k in range(n)])

    def mask_legend(self, grid: DotGrid) -> VGroup:
        square = Square(grid.cell * 0.62, stroke_width=0, fill_color=MASKED_COLOR, fill_opacity=MASKED_OPACITY)
        square.role = "masked"
        words = typeset("= −∞: a later word", font_size=SMALLEST_FONT)
        return VGroup(square, words).arrange(RIGHT, buff=0.15).next_to(grid.dots, RIGHT, buff=0.5).align_to(grid.dots, UP)

    def value_map(self, head: designed.DesignedHead) -> None:
        """The value map of one word: W_V down to d_k numbers, W_O back up."""
        words, weights, steps = head.words, head.weights, head.steps
        word = words.index("blue")
        d_k = steps.v.shape[1]
        column = self.word_column(head, word)
        names = self.feature_names(column, head.features)
        VGroup(column, names).move_to([-5.3, 0.75, 0])
        title = typeset(f"{words[word]}'s vector", font_size=SMALLEST_FONT, color=GREY).next_to(column, UP, buff=0.15)
        W_V = MatrixGrid(matrix(weights.W_V.T), name="W_V", fmt="{:.2g}")
        W_V.move_to([-0.2, 2.4, 0])
        v = VectorColumn(steps.v[word].tolist(), fmt="{:.2g}", scale=1.0).next_to(W_V, RIGHT, buff=0.45).align_to(W_V.rows, UP)
        v_name = typeset("value", font_size=SMALLEST_FONT, color=POSITIVE_COLOR).next_to(v, UP, buff=0.15)
        W_O = MatrixGrid(matrix(weights.W_O.T), name="W_O", fmt="{:.2g}")
        W_O.next_to(v, RIGHT, buff=0.5).align_to(column, DOWN)
        written = (steps.v[word] @ weights.W_O).tolist()
        out = VectorColumn(written, shown=len(head.features), fmt="{:.2g}", scale=1.0).next_to(W_O, RIGHT, buff=0.45)
        out.align_to(W_O.rows, UP)
        self.narrate(f"The value: W_V maps a vector down to {d_k} numbers (its fluffy, blue, green), W_O maps them back "
                     f"up to {len(head.features)}.",
                     Succession(FadeIn(W_V), W_V.multiply(column, v), FadeIn(v_name), FadeIn(W_O), W_O.multiply(v, out, lag_ratio=0.15)),
                     enter=[FadeIn(column), FadeIn(names), FadeIn(title)], clear=True, run_time=2)
        self.hold("value map", HOLD, v=steps.v[word].tolist(), written=written)

    def weighted_sums(self, head: designed.DesignedHead) -> None:
        """Every column's weighted sum of the values, under the grid; then what W_O writes into each noun."""
        words, steps = head.words, head.steps
        n, d_k = len(words), steps.v.shape[1]
        cell = 0.36
        grid = DotGrid(steps.pattern.numpy(), words, cell=cell, center=(-2.0, 2.25 - (n - 1) / 2 * cell))
        carried = list(designed.CARRIED)
        values = VGroup()
        for k in range(n):
            row = VGroup(*[number_cell(float(steps.v[k, slot]), 0.3, cell * 0.94, 1.0, "{:.0f}", SMALLEST_FONT)
                           for slot in range(d_k)]).arrange(RIGHT, buff=0.03)
            values.add(row.move_to([grid.dots.get_right()[0] + 0.45 + row.width / 2, grid.point(0, k, n)[1], 0]))
        heading = typeset("values: " + ", ".join(carried), font_size=SMALLEST_FONT, color=POSITIVE_COLOR)
        heading.next_to(values, UP, buff=0.2).align_to(values, LEFT)
        sums = VGroup()
        for q in range(n):
            column = VGroup(*[number_cell(float(steps.z[q, slot]), cell * 0.9, 0.3, 1.0, "", SMALLEST_FONT, numbers=False)
                              for slot in range(d_k)]).arrange(DOWN, buff=0.02)
            sums.add(column.move_to([grid.point(q, 0, n)[0], grid.dots.get_bottom()[1] - 0.3 - column.height / 2, 0]))
        sum_names = VGroup(*[typeset(name, font_size=SMALLEST_FONT, color=GREY).next_to(sums[0][slot], LEFT, buff=0.25)
                             for slot, name in enumerate(carried)])
        flows = []
        for q in range(n):
            read = [k for k in range(q + 1) if float(steps.pattern[q, k]) >= 0.02 and float(steps.v[k].abs().sum()) > 0]
            ghosts = VGroup(*[VGroup(*[entry[0].copy() for entry in values[k]]) for k in read])
            landing = VGroup(*[sums[q].copy() for _ in read])
            flows.append(Succession(ReplacementTransform(ghosts, landing), AnimationGroup(FadeOut(landing), FadeIn(sums[q]))))
        noun = words.index("creature")
        self.narrate(f"Every column adds up the values with its weights: {words[noun]} takes "
                     f"{float(steps.pattern[noun, 1]):.2f} of {words[1]}'s value and {float(steps.pattern[noun, 2]):.2f} "
                     f"of {words[2]}'s.", FadeIn(sum_names), LaggedStart(*flows, lag_ratio=0.3),
                     enter=[FadeIn(grid.labels), FadeIn(grid.masked), FadeIn(grid.dots), FadeIn(values), FadeIn(heading)],
                     clear=True, run_time=1.5)
        self.hold("weighted sums", HOLD, z=steps.z.tolist())
        parts = caption_parts(designed.designed_verdict(head).plain)
        nouns = [i for i, w in enumerate(words) if designed.WORD_FEATURES[w].get("noun")]
        shown = None
        for index, sentence in enumerate(parts):
            noun = nouns[min(index, len(nouns) - 1)]
            frame = SurroundingRectangle(VGroup(grid.dots[noun * n:(noun + 1) * n], sums[noun]), color=HIGHLIGHT_COLOR,
                                         buff=0.04, stroke_width=3)
            added = VGroup(typeset(f"{words[noun]}: W_O writes", font_size=SMALLEST_FONT, color=HIGHLIGHT_COLOR),
                           *[typeset(f"{name} {float(steps.delta[noun, designed.feature_index(name)]):+.2f}",
                                     font_size=SMALLEST_FONT) for name in carried])
            added.arrange(DOWN, aligned_edge=LEFT, buff=0.15).move_to([4.6, 0.4, 0], aligned_edge=LEFT)
            picture = VGroup(frame, added)
            self.narrate(sentence, FadeIn(picture) if shown is None else Change(shown, picture),
                         Circumscribe(sums[noun], color=HIGHLIGHT_COLOR, run_time=1))
            shown = picture
        self.mark("designed verdict", delta=steps.delta.tolist())

    # ---------- our model's head ----------
    def trained_query(self, example: Example) -> None:
        lm, steps = self.lm, example.steps
        q_at, k_at = example.query, read_key(example)
        tokens = steps.tokens
        row = token_row(tokens, SMALLEST_FONT).to_edge(UP, buff=0.25)
        marks = VGroup(SurroundingRectangle(row[q_at], color=HIGHLIGHT_COLOR, buff=0.03, stroke_width=3),
                       SurroundingRectangle(row[k_at], color=POSITIVE_COLOR, buff=0.03, stroke_width=3))
        weights = attention.head_weights(lm, example.layer, example.head)
        C, d_k = weights.W_Q.shape
        query, key = shown_query(lm, example)
        turned = ", before RoPE turns them" if lm.layout.positions == "rope" else ""
        blocks = VGroup()
        for at, W, result, name, color, y in ((q_at, weights.W_Q, query, "query", HIGHLIGHT_COLOR, 1.8),
                                              (k_at, weights.W_K, key, "key", POSITIVE_COLOR, -0.6)):
            x = VectorColumn(steps.x[at].tolist(), shown=SHOWN, fmt="{:+.2f}")
            grid = MatrixGrid(W.T[:SHOWN, :SHOWN].numpy(), shape=(d_k, C), name=f"W_{name[0].upper()}", fmt="{:+.2f}")
            out = VectorColumn(result.tolist(), shown=SHOWN, fmt="{:+.2f}")
            VGroup(x, grid, out).arrange(RIGHT, buff=0.45, aligned_edge=UP)
            grid.align_to(x.entries, DOWN).shift(DOWN * (grid.rows.get_bottom()[1] - x.entries.get_bottom()[1]))
            out.align_to(x, UP)
            x_name = typeset(f"{display_token(tokens[at])}, {C} numbers", font_size=SMALLEST_FONT, color=color)
            out_name = typeset(f"its {name}, {d_k} numbers{turned}", font_size=SMALLEST_FONT, color=color)
            block = VGroup(x, grid, out, x_name, out_name)
            block.move_to([0.0, y, 0])
            x_name.next_to(x, LEFT, buff=0.2).align_to(x.entries, UP)
            out_name.next_to(out, RIGHT, buff=0.2).align_to(out.entries, UP)
            blocks.add(block)
        moves = [AnimationGroup(FadeIn(block[1]), FadeIn(block[3])) for block in blocks]
        self.narrate(f"Now our model's layer {example.layer}, head {example.head} on a line of Shakespeare: each vector, "
                     f"{C} numbers after the LayerNorm (first {SHOWN} shown), times W_Q and W_K.",
                     Succession(moves[0], blocks[0][1].multiply(blocks[0][0], blocks[0][2]), FadeIn(blocks[0][4]),
                                moves[1], blocks[1][1].multiply(blocks[1][0], blocks[1][2]), FadeIn(blocks[1][4])),
                     enter=[FadeIn(row), FadeIn(marks), FadeIn(blocks[0][0]), FadeIn(blocks[1][0])], clear=True, run_time=2)
        self.hold("trained query", HOLD, x=steps.x[q_at][:SHOWN].tolist(), q=query[:SHOWN].tolist(), k=key[:SHOWN].tolist())

    def trained_grid(self, example: Example) -> DotGrid:
        steps = example.steps
        tokens, n, q_at = steps.tokens, len(steps.tokens), example.query
        cell = min(0.42, 4.0 / n)
        grid = DotGrid(steps.pattern.numpy(), tokens, cell=cell, center=(-1.9, 2.3 - (n - 1) / 2 * cell))
        cells = self.score_cells(grid, steps.scores, "", numbers=False)
        column = SurroundingRectangle(VGroup(*[cells[q_at * n + k] for k in range(n)]), color=HIGHLIGHT_COLOR, buff=0.03,
                                      stroke_width=3)
        readout = self.column_readout(grid, steps.scores[q_at], q_at, "{:.1f}", f"q·k for {display_token(tokens[q_at])}")
        allowed = attention.causal_mask(n)
        largest = float(steps.scores[allowed].max())
        best = int(torch.argmax(steps.scores[q_at, :q_at + 1]))
        sign = (f"All are negative (red), the largest {largest:.1f}: no key points along its query; softmax only compares "
                "them." if largest < 0 else "Blue is positive, red negative.")
        self.narrate(f"Every query against every key: {n} × {n} scores. {sign}",
                     LaggedStart(*[FadeIn(VGroup(*[cells[q * n + k] for k in range(n)])) for q in range(n)], lag_ratio=0.3),
                     enter=[FadeIn(grid.labels)], clear=True, run_time=1)
        self.narrate(f"For {quoted(tokens[q_at])} the largest is {quoted(tokens[best])}, "
                     f"{float(steps.scores[q_at, best]):.1f}.", FadeIn(column),
                     LaggedStart(*[FadeIn(r) for r in readout], lag_ratio=0.3), run_time=1)
        self.hold("trained scores", HOLD, scores=steps.scores[q_at, :q_at + 1].tolist(), largest=largest)
        weights = steps.pattern[q_at]
        top = int(torch.argmax(weights))
        new_readout = self.column_readout(grid, weights, q_at, "{:.2f}", f"weights of {display_token(tokens[q_at])}")
        future = [q * n + k for q in range(n) for k in range(n) if k > q]
        d_k = steps.q.shape[1]
        self.narrate(f"Then ÷√{d_k}, −∞ for the later keys and softmax down each column: {quoted(tokens[q_at])} gives "
                     f"{quoted(tokens[top])} {float(weights[top]):.2f} of its attention.",
                     LaggedStart(*[AnimationGroup(FadeOut(cells[i]), FadeIn(grid.masked[j])) for j, i in enumerate(future)],
                                 lag_ratio=0.05),
                     LaggedStart(*[AnimationGroup(*[FadeOut(cells[q * n + k]) for k in range(q + 1)],
                                                  *[FadeIn(grid.dots[q * n + k], scale=0.3) for k in range(q + 1)])
                                   for q in range(n)], lag_ratio=0.3), Change(readout, new_readout), run_time=1.5)
        settle(self, grid)
        self.hold("trained pattern", HOLD, pattern=steps.pattern.tolist(), cell=cell, center=list(grid.center),
                  weights=weights[:q_at + 1].tolist())
        self.trained_parts = VGroup(grid.labels, grid.masked, grid.dots, column, new_readout)
        return grid

    def column_readout(self, grid: DotGrid, values: torch.Tensor, q_at: int, fmt: str, title: str) -> VGroup:
        """The followed column's numbers, one beside each key's row (the keys the query may read), with a title."""
        n = len(grid.dots) and int(round(math.sqrt(len(grid.dots))))
        x = grid.dots.get_right()[0] + 0.3
        numbers = VGroup(*[typeset(fmt.format(float(values[k])), font_size=SMALLEST_FONT, color=HIGHLIGHT_COLOR)
                           .move_to([x, grid.point(q_at, k, n)[1], 0], aligned_edge=LEFT) for k in range(q_at + 1)])
        heading = typeset(title, font_size=SMALLEST_FONT, color=HIGHLIGHT_COLOR).next_to(numbers, UP, buff=0.2)
        heading.align_to(numbers, LEFT)
        return VGroup(heading, *numbers)

    def side_by_side(self, head: designed.DesignedHead, example: Example, trained: DotGrid) -> None:
        words = head.words
        n, noun = len(words), words.index("creature")
        cell = 0.34
        grid = DotGrid(head.steps.pattern.numpy(), words, cell=cell, center=(4.4, 2.3 - (n - 1) / 2 * cell))
        title = typeset("the designed head", font_size=SMALLEST_FONT, color=GREY).next_to(grid.dots, DOWN, buff=0.25)
        steps, q_at = example.steps, example.query
        top = int(torch.argmax(steps.pattern[q_at]))
        ours = typeset(f"ours: layer {example.layer}, head {example.head}", font_size=SMALLEST_FONT, color=GREY)
        ours.next_to(trained.dots, DOWN, buff=0.25)
        if follows_running_example(example):
            line = heads.example_line_text(example.found)
            said = f"Ours gives {quoted(steps.tokens[example.key])} {plain(line)}."
        else:
            said = (f"Ours gives {quoted(steps.tokens[top])} {float(steps.pattern[q_at, top]):.2f} on this line, the most "
                    "in its column.")
        weights = head.steps.pattern[noun]
        self.narrate(f"Beside it, the designed head: {words[noun]} gives its adjectives {float(weights[1] + weights[2]):.2f}. "
                     f"{said}", LaggedStart(*[FadeIn(d, scale=0.3) for d in grid.dots], lag_ratio=0.02),
                     FadeIn(title), FadeIn(ours), Indicate(trained.dots[q_at * len(steps.tokens) + top], color=HIGHLIGHT_COLOR),
                     enter=[FadeIn(grid.labels), FadeIn(grid.masked)],
                     clear=True, keep=[trained.labels, trained.masked, trained.dots], run_time=1)
        self.hold("side by side", HOLD, designed=float(weights[1] + weights[2]), trained=float(steps.pattern[q_at, top]))

    def measured(self, example: Example, trained: DotGrid) -> None:
        """What measurement over the validation text says of the followed head, beside its weights on each kind of
        neighbouring pair and what uniform attention would give."""
        found = example.found
        verdict = heads.best_head_verdict(found.scores, found.unmeasured)
        parts = caption_parts(verdict.plain)
        if found.scores is None:
            for sentence in parts:
                self.narrate(sentence, Indicate(trained.dots, color=HIGHLIGHT_COLOR))
            return
        layer, head = found.scores.best()
        weights = found.scores.of(layer, head)
        kinds = [kind for kind in heads.KINDS if kind != heads.ANY and kind in weights]
        values = [weights[kind] for kind in kinds]
        top = max(values + [found.scores.uniform]) * 1.1
        bars = ProbabilityBars([wrap(kind, KIND_LABELS) for kind in kinds], [v / top for v in values], width=10.0,
                               height=3.2, baseline=-1.0, highlight=0, values=[f"{v:.2f}" for v in values])
        level = -1.0 + found.scores.uniform / top * 3.2
        uniform = DashedLine([-5.0, level, 0], [5.0, level, 0], color=GREY, stroke_width=2)
        uniform_name = typeset(f"uniform {found.scores.uniform:.3f}", font_size=SMALLEST_FONT, color=GREY)
        uniform_name.next_to([5.0, level, 0], RIGHT, buff=0.15)
        heading = typeset(f"layer {layer}, head {head}: mean weight from the second word of a pair to the first",
                          font_size=SMALLEST_FONT, color=GREY).move_to([0, 3.5, 0])
        steps = [AnimationGroup(FadeIn(bars[0]), FadeIn(uniform), FadeIn(uniform_name),
                                *[FadeIn(bar[1]) for bar in bars[1:]])]
        steps += [AnimationGroup(GrowFromEdge(bar[0], DOWN), FadeIn(bar[2])) for bar in bars[1:]]
        per_part = spread(steps, len(parts))
        for index, sentence in enumerate(parts):
            animations = per_part[index] or [Indicate(bars[1][0], color=HIGHLIGHT_COLOR)]
            self.narrate(sentence, LaggedStart(*animations, lag_ratio=0.5), enter=[FadeIn(heading)] if index == 0 else (),
                         clear=index == 0)
        self.hold("measured", kinds=kinds, weights=values, uniform=found.scores.uniform, head=[layer, head])


def settle(scene: Chapter, grid: DotGrid) -> None:
    """After a grid's dots and masked squares came in one by one, the scene holds them as the grid's two groups (so
    that later animations, and `keep`, can name them)."""
    scene.remove(*grid.dots, *grid.masked)
    scene.add(grid.masked, grid.dots)
