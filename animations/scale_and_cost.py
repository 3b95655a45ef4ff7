"""Scale: GPT-3's 175,181,291,520 weights derived from its matrices' shapes, drawn to scale (one head's W_Q, the
square of all its heads, a layer of twelve such squares, 96 layers, the embeddings); the KV cache that spares
generation repeated work, token by token on our model's own output; what the cache costs in memory, and how
grouped-query and multi-query attention shrink it; and the n × n attention pattern, whose cost overtakes the MLP's."""

import re
from dataclasses import dataclass

import numpy as np
from manim import (DOWN, LEFT, RIGHT, UP, AnimationGroup, Create, DashedLine, FadeIn, GrowFromEdge, Indicate,
                   LaggedStart, Line, Polygon, Rectangle, Square, VGroup)

from explainer import scale, settings
from explainer.style import BAR_COLOR, HIGHLIGHT_COLOR, NEGATIVE_COLOR, POSITIVE_COLOR
from explainer.video.pieces import GREY, SMALLEST_FONT, InTurn, PlotAxes, fit, token_row, typeset
from explainer.video.scene import Chapter

GPT3 = scale.GPT3
STRIP_HEIGHT = 3.6  # scene units: d_model in the one-head picture
SQUARE = 1.2  # scene units: d_model in the layer picture
TILE_SQUARE = 0.1  # scene units: d_model in the 96-layer picture
TILE_COLUMNS = 12  # layers per row in the 96-layer picture
ATTENTION_COLOR, MLP_COLOR, EMBEDDING_COLOR = BAR_COLOR, HIGHLIGHT_COLOR, "#a855f7"
NEW_TOKENS = 5  # tokens generated in the KV-cache picture
SEED = 0
CACHE_CELL = 0.36  # scene units
KV_GROUPS = (GPT3.n_heads, 8, 1)  # key/value heads: every head its own, grouped-query (8 groups), multi-query
CONTEXTS = (4, 8, 16)  # sides of the attention patterns drawn cell by cell
PATTERN_CELL = 0.17  # scene units
WHITE_TEXT = "#f9fafb"


@dataclass
class Tally:
    head: int  # weights of one head's W_Q
    heads: int  # all heads' W_Q together
    layer: int  # one layer's matrices
    layers: int  # every layer's
    embeddings: int  # W_E and W_U
    total: int
    counts: dict[str, int]  # the talk's tally by kind (scale.tally)
    left_out: dict[str, int]  # what the talk's tally leaves out: position embeddings, biases and LayerNorms


def tally_data() -> Tally:
    """GPT-3's weights, matrix by matrix (shared with the tests)."""
    counts = scale.tally(GPT3)
    d, k, H, L = GPT3.d_model, GPT3.d_head, GPT3.n_heads, GPT3.n_layers
    layers = sum(v for kind, v in counts.items() if kind not in ("embedding", "unembedding"))
    everything = scale.tally(scale.GPT3_ALL)
    return Tally(d * k, d * H * k, layers // L, layers, counts["embedding"] + counts["unembedding"], sum(counts.values()),
                 counts, {kind: everything[kind] for kind in everything if kind not in counts})


def cache_data(lm) -> tuple[list[str], list[str]]:
    """The prompt's tokens and the NEW_TOKENS our model writes after it (shared with the tests)."""
    prompt = settings.SNAPSHOT_PROMPT
    written = [step.token_id for step in lm.stream(prompt, NEW_TOKENS, seed=SEED, record_attention=False)]
    return lm.tokens(lm.encode(prompt)), lm.tokens(written)


def cache_counts(prompt: int, new: int) -> tuple[int, int]:
    """Keys and values computed (per layer and head) to read `prompt` tokens and write `new`: with the KV cache,
    each token's once; without it, every step recomputes every token so far."""
    return prompt + new, sum(prompt + step for step in range(new + 1))


def plain(markdown: str) -> str:
    return re.sub(r"\*+([^*]+)\*+", r"\1", markdown)


def matrix_block(width: float, height: float, color: str, name: str, squares: int = 1) -> VGroup:
    """A matrix drawn to scale as a filled rectangle, its name in its first d_model × d_model square and lines
    between its squares, so they can be counted."""
    body = Rectangle(width=width, height=height, stroke_color=GREY, stroke_width=1.5, fill_color=color, fill_opacity=0.45)
    side = width / squares
    left = body.get_left()[0]
    lines = VGroup(*[Line([left + side * i, body.get_top()[1], 0], [left + side * i, body.get_bottom()[1], 0],
                          color=GREY, stroke_width=1.5) for i in range(1, squares)])
    label = typeset(name, font_size=SMALLEST_FONT).move_to([left + side / 2, body.get_y(), 0])
    return VGroup(body, lines, label)


def layer_tile(at, square: float) -> VGroup:
    """One layer as a tile: a band of 4 attention squares over 8 MLP squares (4 squares per row)."""
    attention = Rectangle(width=4 * square, height=square, stroke_width=0, fill_color=ATTENTION_COLOR, fill_opacity=0.9)
    mlp_part = Rectangle(width=4 * square, height=2 * square, stroke_width=0, fill_color=MLP_COLOR, fill_opacity=0.9)
    return VGroup(attention, mlp_part).arrange(DOWN, buff=0).move_to(at)


class ScaleAndCost(Chapter):
    def chapter(self):
        self.title_card("GPT-3's weights counted from its matrices, and what generating text costs")
        self.weights(tally_data())
        prompt, written = cache_data(self.lm)
        self.kv_cache(prompt, written)
        self.memory()
        self.quadratic()

    # ---- 175,181,291,520 from the shapes ----
    def derivation_line(self, index: int, words: str, color=WHITE_TEXT, size: float = 20):
        """Line `index` of the sum written beside the pictures."""
        return fit(typeset(words, font_size=size, color=color), 8.0).move_to([-1.0, 2.9 - 0.55 * index, 0], aligned_edge=LEFT)

    def weights(self, tally: Tally) -> None:
        d, k, H, L, M, V = GPT3.d_model, GPT3.d_head, GPT3.n_heads, GPT3.n_layers, GPT3.d_mlp, GPT3.vocab
        sizes = typeset(plain(scale.describe(GPT3)), font_size=SMALLEST_FONT).move_to([0, 3.6, 0])
        fit(sizes, 13.6)
        strip_width = STRIP_HEIGHT * k / d
        corner = np.array([-6.8, 3.0 - STRIP_HEIGHT, 0])  # lower left of the one-head picture
        strips = VGroup(*[Rectangle(width=strip_width, height=STRIP_HEIGHT, stroke_width=0,
                                    fill_color=ATTENTION_COLOR if i % 2 == 0 else "#1d4ed8", fill_opacity=1)
                          .move_to(corner + np.array([strip_width * (i + 0.5), STRIP_HEIGHT / 2, 0])) for i in range(H)])
        lines = [self.derivation_line(0, f"one head's W_Q: {d:,} × {k} = {tally.head:,}"),
                 self.derivation_line(1, f"{H} heads: {d:,} × {H * k:,} = {tally.heads:,}")]
        self.narrate(f"GPT-3's weights, from its matrices' shapes. One head's query matrix W_Q, {d:,} × {k}, is a thin "
                     f"strip: {tally.head:,} weights. Its {H} heads side by side make a square: {tally.heads:,}.",
                     InTurn(AnimationGroup(GrowFromEdge(strips[0], DOWN), FadeIn(lines[0])),
                            AnimationGroup(FadeIn(strips[1:], lag_ratio=0.05), FadeIn(lines[1]))),
                     enter=[FadeIn(sizes)], run_time=3)
        self.mark("one head", head=tally.head)
        self.hold("heads", heads=tally.heads)

        # one layer: Q, K, V, O squares and the MLP's two matrices, four squares each
        top_left = np.array([-6.8, 3.0, 0])
        names = ("W_Q", "W_K", "W_V", "W_O")
        attention = VGroup(*[matrix_block(SQUARE * H * k / d, SQUARE, ATTENTION_COLOR, name) for name in names])
        attention.arrange(RIGHT, buff=0).move_to(top_left, aligned_edge=UP + LEFT)
        mlp_in = matrix_block(SQUARE * M / d, SQUARE, MLP_COLOR, "W_in", squares=round(M / d))
        mlp_out = matrix_block(SQUARE * M / d, SQUARE, MLP_COLOR, "W_out", squares=round(M / d))
        block = VGroup(attention, mlp_in, mlp_out).arrange(DOWN, buff=0.12, aligned_edge=LEFT)
        block.move_to(top_left, aligned_edge=UP + LEFT)
        squares = round(tally.layer / (d * d))
        mlp_squares = round((tally.counts["MLP up"] + tally.counts["MLP down"]) / L / (d * d))
        lines.append(self.derivation_line(2, f"a layer: {squares} squares = {tally.layer:,}"))
        self.narrate(f"W_K, W_V (down to {k} numbers a head) and W_O are squares too; the MLP's W_in and W_out, "
                     f"{d:,} × {M:,}, are {mlp_squares // 2} each. One layer: {squares} squares, {tally.layer:,} weights.",
                     strips.animate.replace(attention[0][0], stretch=True).set_opacity(0),
                     FadeIn(VGroup(*attention, mlp_in, mlp_out), lag_ratio=0.3), FadeIn(lines[2]), run_time=2)
        self.remove(*strips.get_family())
        self.hold("layer", layer=tally.layer, squares=squares, mlp_squares=mlp_squares)

        # 96 layers, and the embeddings
        tile = TILE_SQUARE * 4 + 0.05, TILE_SQUARE * 3 + 0.05
        origin = np.array([-6.8 + TILE_SQUARE * 2, 3.0 - TILE_SQUARE * 1.5, 0])
        tiles = VGroup(*[layer_tile(origin + np.array([(i % TILE_COLUMNS) * tile[0], -(i // TILE_COLUMNS) * tile[1], 0]),
                                    TILE_SQUARE) for i in range(L)])
        lines.append(self.derivation_line(3, f"{L} layers: {L} × {tally.layer:,} = {tally.layers:,}"))
        self.narrate(f"GPT-3 stacks {L} such layers, here each shrunk to a tile: {tally.layers:,} weights.",
                     block.animate.replace(tiles[0], stretch=True).set_opacity(0), FadeIn(tiles, lag_ratio=0.04),
                     FadeIn(lines[3]), run_time=2)
        self.remove(*block.get_family())
        embedding_width = TILE_SQUARE * V / d
        below = tiles.get_bottom()[1] - 0.35
        W_E = Rectangle(width=embedding_width, height=TILE_SQUARE, stroke_width=0, fill_color=EMBEDDING_COLOR,
                        fill_opacity=1).move_to([-6.8 + embedding_width / 2, below, 0])
        W_U = W_E.copy().next_to(W_E, RIGHT, buff=0.1)
        embedding_label = typeset("W_E and W_U, to the same scale", font_size=SMALLEST_FONT,
                                  color=EMBEDDING_COLOR).next_to(W_U, RIGHT, buff=0.2)
        lines.append(self.derivation_line(4, f"W_E and W_U: 2 × {V:,} × {d:,} = {tally.embeddings:,}"))
        lines.append(self.derivation_line(5, f"total: {tally.total:,}", HIGHLIGHT_COLOR, 26))
        self.narrate(f"Add W_E and W_U, a row for each of {V:,} tokens: {tally.embeddings:,}. The total: "
                     f"{tally.total:,}, the talk's number.", FadeIn(W_E), FadeIn(W_U), FadeIn(embedding_label),
                     FadeIn(lines[4]), FadeIn(lines[5], scale=1.2), run_time=1.5)
        self.hold("tally", counts=tally.counts, total=tally.total, tiles=[list(map(float, origin[:2])), list(tile)])
        left_out = VGroup(*[self.derivation_line(6 + i, f"left out: {kind} ({count:,})", GREY)
                            for i, (kind, count) in enumerate(tally.left_out.items())])
        attention_share, mlp_share = scale.attention_share(GPT3), scale.mlp_share(GPT3)
        shares = self.derivation_line(6 + len(left_out), f"attention {attention_share:.1%} · MLPs {mlp_share:.1%} · "
                                                         f"embeddings {scale.embedding_share(GPT3):.1%}", WHITE_TEXT)
        self.narrate(f"Left out, as in the talk: {tally.left_out['position embedding']:,} position weights and "
                     f"{tally.left_out['biases and LayerNorms']:,} biases and LayerNorm weights. Attention holds "
                     f"{attention_share:.0%} (“about one-third”), the MLPs {mlp_share:.0%}.",
                     FadeIn(left_out), FadeIn(shares), Indicate(VGroup(*[t[0] for t in tiles]), color=WHITE_TEXT,
                                                                 scale_factor=1.0), run_time=1.5)
        self.hold("shares", attention=attention_share, mlp=mlp_share, left_out=tally.left_out)

    # ---- the KV cache ----
    def kv_cache(self, prompt: list[str], written: list[str]) -> None:
        tokens = prompt + written
        row = token_row(tokens, 20, min_width=0.8, buff=0.12).move_to([0.9, 3.5, 0])
        xs = [box.get_x() for box in row]
        steps = VGroup()
        for step in range(len(written) + 1):
            seen = len(prompt) + step
            y = 2.75 - step * (CACHE_CELL + 0.1)
            cells = VGroup()
            for position in range(seen):
                new = step == 0 or position == seen - 1
                cells.add(Square(CACHE_CELL, stroke_width=1, stroke_color=GREY, fill_color=POSITIVE_COLOR if new else GREY,
                                 fill_opacity=0.9 if new else 0.35).move_to([xs[position], y, 0]))
            label = typeset(f"step {step + 1}", font_size=SMALLEST_FONT, color=GREY).next_to(row, LEFT, buff=0.3).set_y(y)
            steps.add(VGroup(cells, label))
        cached, recomputed = cache_counts(len(prompt), len(written))
        self.narrate(f"Writing, our model reads its own output back. Step 1 computes keys and values (green) of the "
                     f"prompt's {len(prompt)} tokens; each of {len(written)} later steps adds a token and, without a "
                     f"cache, recomputes the rest (grey).",
                     InTurn(FadeIn(steps[0], lag_ratio=0.3),
                            LaggedStart(*[AnimationGroup(FadeIn(box, shift=DOWN * 0.2), FadeIn(step, lag_ratio=0.2))
                                          for box, step in zip(row[len(prompt):], steps[1:])], lag_ratio=0.6)),
                     enter=[FadeIn(row[:len(prompt)])], clear=True, run_time=3.5)
        counts = VGroup(typeset(f"computed with the KV cache (green): {cached}", font_size=22, color=POSITIVE_COLOR),
                        typeset(f"without it (green and grey): {recomputed}", font_size=22, color=GREY))
        counts.arrange(DOWN, aligned_edge=LEFT, buff=0.2).next_to(steps, DOWN, buff=0.35).set_x(0)
        self.narrate(f"But earlier keys and values never change: the KV cache keeps them and computes only the new "
                     f"token's. {cached} computed instead of {recomputed}; the gap grows with every token.",
                     FadeIn(counts, lag_ratio=0.2), *[Indicate(step[0][-1], color=POSITIVE_COLOR) for step in steps[1:]],
                     run_time=1.5)
        self.hold("cache", tokens=tokens, prompt=len(prompt), cached=cached, recomputed=recomputed,
                  rows=[len(step[0]) for step in steps])

    # ---- what the cache costs, and sharing keys and values ----
    def memory(self) -> None:
        gib = [scale.kv_cache_bytes(GPT3, GPT3.context, kv) / 2**30 for kv in KV_GROUPS]
        names = ("every head its own", f"grouped-query, {KV_GROUPS[1]} groups", "multi-query")
        columns = [-4.3, 0.0, 4.3]
        width, baseline, top = 3.6, -1.75, 2.3
        diagrams, bars = [], []
        for x, kv, name, size in zip(columns, KV_GROUPS, names, gib):
            diagrams.append(self.sharing_diagram(x, kv, width, name))
            height = max(size / max(gib) * top, 0.02)
            bar = Rectangle(width=1.3, height=height, stroke_width=0, fill_color=BAR_COLOR, fill_opacity=1)
            bar.move_to([x, baseline + height / 2, 0])
            value = typeset(f"{size:.2f} GiB", font_size=22, color=WHITE_TEXT).next_to(bar, UP, buff=0.08)
            bars.append(VGroup(bar, value))
        axis = Line([-6.6, baseline, 0], [6.6, baseline, 0], color=GREY, stroke_width=2)
        per = GPT3.n_heads // KV_GROUPS[1]
        self.narrate(f"The price is memory: keys and values of every layer, head and token. GPT-3, one sequence of "
                     f"{GPT3.context:,} tokens in 16-bit numbers: {gib[0]:.2f} GiB.",
                     LaggedStart(FadeIn(diagrams[0]), GrowFromEdge(bars[0][0], DOWN), FadeIn(bars[0][1]), lag_ratio=0.4),
                     enter=[FadeIn(axis)], clear=True, run_time=1.5)
        self.hold("full memory", gib=gib[:1])
        self.narrate(f"Grouped-query attention lets {per} query heads share one key and value head: "
                     f"{KV_GROUPS[1]} groups, {gib[1]:.2f} GiB.",
                     LaggedStart(FadeIn(diagrams[1]), GrowFromEdge(bars[1][0], DOWN), FadeIn(bars[1][1]), lag_ratio=0.4),
                     run_time=1.5)
        self.narrate(f"Multi-query attention: all {GPT3.n_heads} query heads share one, {gib[2]:.2f} GiB. Every "
                     "query head then reads the same keys and values.",
                     LaggedStart(FadeIn(diagrams[2]), GrowFromEdge(bars[2][0], DOWN), FadeIn(bars[2][1]), lag_ratio=0.4),
                     run_time=1.5)
        self.hold("memory", gib=gib, groups=list(KV_GROUPS), baseline=baseline, top=top, columns=columns)

    def sharing_diagram(self, x: float, kv_heads: int, width: float, name: str) -> VGroup:
        """GPT-3's query heads in a row, each joined to the key/value head it reads: fans from each group of query
        heads to their shared head."""
        heads = GPT3.n_heads
        pitch = width / heads
        left = x - width / 2
        query_y, kv_y = 2.75, 1.65
        queries = VGroup(*[Rectangle(width=pitch * 0.6, height=0.22, stroke_width=0, fill_color=HIGHLIGHT_COLOR,
                                     fill_opacity=1).move_to([left + pitch * (i + 0.5), query_y, 0]) for i in range(heads)])
        group = heads // kv_heads
        box = width / kv_heads
        fans, shared = VGroup(), VGroup()
        for g in range(kv_heads):
            span = (left + g * group * pitch, left + (g + 1) * group * pitch)
            head = (left + g * box + box * 0.2, left + (g + 1) * box - box * 0.2) if kv_heads > 1 else (x - 0.4, x + 0.4)
            head = head if kv_heads < heads else span
            fans.add(Polygon([span[0], query_y - 0.11, 0], [span[1], query_y - 0.11, 0], [head[1], kv_y + 0.11, 0],
                             [head[0], kv_y + 0.11, 0], stroke_width=0, fill_color=POSITIVE_COLOR, fill_opacity=0.35))
            shared.add(Rectangle(width=max(head[1] - head[0], pitch * 0.6) * (0.6 if kv_heads == heads else 1), height=0.22,
                                 stroke_width=0, fill_color=POSITIVE_COLOR, fill_opacity=1).move_to([sum(head) / 2, kv_y, 0]))
        title = typeset(name, font_size=SMALLEST_FONT).move_to([x, 3.6, 0])
        above = typeset(f"{heads} query heads", font_size=SMALLEST_FONT, color=HIGHLIGHT_COLOR).move_to([x, 3.15, 0])
        below = typeset(f"{kv_heads} key/value head{'s' if kv_heads > 1 else ''}", font_size=SMALLEST_FONT,
                        color=POSITIVE_COLOR).move_to([x, kv_y - 0.42, 0])
        return VGroup(fans, queries, shared, title, above, below)

    # ---- n × n ----
    def quadratic(self) -> None:
        grids = VGroup()
        for n in CONTEXTS:
            cells = VGroup(*[Square(PATTERN_CELL, stroke_width=1, stroke_color="#1e3a8a", fill_color=BAR_COLOR,
                                    fill_opacity=0.7) for _ in range(n * n)])
            cells.arrange_in_grid(n, n, buff=0)
            label = typeset(f"{n} tokens: {n} × {n} = {n * n} scores", font_size=SMALLEST_FONT).next_to(cells, DOWN, buff=0.2)
            grids.add(VGroup(cells, label))
        grids.arrange(RIGHT, buff=0.9, aligned_edge=DOWN).move_to([0, 0.6, 0])
        self.narrate(f"One more cost. A head's attention pattern has a score for every pair of tokens: {CONTEXTS[0]} tokens "
                     f"make {CONTEXTS[0] ** 2}, {CONTEXTS[1]} make {CONTEXTS[1] ** 2}, {CONTEXTS[2]} make "
                     f"{CONTEXTS[2] ** 2}. Twice the text, four times the cells.",
                     LaggedStart(*[AnimationGroup(FadeIn(grid[0], lag_ratio=0.02), FadeIn(grid[1])) for grid in grids],
                                 lag_ratio=0.7), clear=True, run_time=3)
        self.hold("squares", sides=list(CONTEXTS), cells=[len(g[0]) for g in grids], cell=PATTERN_CELL)
        self.cost_curves()

    def cost_curves(self) -> None:
        d, H, k, M = GPT3.d_model, GPT3.n_heads, GPT3.d_head, GPT3.d_mlp
        crossing = scale.crossover_context(d, H, k, M)
        longest = 2 * crossing
        lengths = np.linspace(1, longest, 120).astype(int).tolist()
        costs = scale.layer_costs(lengths, d, H, k, M)
        tera = 1e12
        attention = [c.attention_flops / tera for c in costs]
        mlp = [c.mlp_flops / tera for c in costs]
        top = max(attention + mlp)
        ticks = [0, crossing, longest]
        axes = PlotAxes((0, longest), (0, top * 1.05), 8.8, 3.9, corner=(-5.6, -1.25), x_ticks=ticks,
                        y_ticks=[0, round(top / 200) * 100], x_format="{:,.0f}", x_label="tokens in the context, n",
                        y_label="TFLOP per layer, one forward pass")
        mlp_line = axes.line(lengths, mlp, color=MLP_COLOR)
        attention_line = axes.line(lengths, attention, color=ATTENTION_COLOR)
        names = VGroup(typeset("MLP: grows like n", font_size=SMALLEST_FONT, color=MLP_COLOR),
                       typeset("attention's grid: grows like n²", font_size=SMALLEST_FONT, color=ATTENTION_COLOR))
        names.arrange(DOWN, aligned_edge=LEFT, buff=0.15).move_to(axes.point(longest * 0.03, top), aligned_edge=UP + LEFT)
        marker = DashedLine(axes.point(crossing, 0), axes.point(crossing, top * 1.02), color=GREY, stroke_width=2)
        at_context = scale.layer_cost(GPT3.context, d, H, k, M)
        ratio = at_context.mlp_flops / at_context.attention_flops
        readout = VGroup(typeset(f"at {GPT3.context:,} tokens:", font_size=SMALLEST_FONT),
                         typeset(f"MLP {at_context.mlp_flops / tera:.2f} TFLOP", font_size=SMALLEST_FONT, color=MLP_COLOR),
                         typeset(f"grid {at_context.attention_flops / tera:.2f} TFLOP", font_size=SMALLEST_FONT,
                                 color=ATTENTION_COLOR),
                         typeset(f"{ratio:.0f}× apart", font_size=SMALLEST_FONT))
        readout.arrange(DOWN, aligned_edge=LEFT, buff=0.15).move_to([4.6, 0.2, 0], aligned_edge=LEFT)
        self.narrate(f"In one of GPT-3's layers, the MLP's work grows like n and the grid's like n²: they cross at "
                     f"{crossing:,} tokens. At GPT-3's {GPT3.context:,}, the MLP still costs {ratio:.0f}× the grid.",
                     Create(mlp_line), Create(attention_line), FadeIn(names), Create(marker), FadeIn(readout),
                     enter=[FadeIn(axes)], clear=True, run_time=2)
        self.hold("cost", crossing=crossing, ratio=ratio, context=GPT3.context,
                  tflop=[at_context.mlp_flops / tera, at_context.attention_flops / tera])

