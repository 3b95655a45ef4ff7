"""Many heads, many layers: every head of one layer of our model on the same line, and how much their patterns
overlap (heads.overlap_verdict); why several heads, with the designed heads of explainer.designed (one softmax row
blends two adjectives, two heads carry both: designed.several_heads_verdict); the heads' changes to one token added
up; heads that share keys and values (grouped-query and multi-query attention) and what that saves in the KV cache;
layers stacked; and the grid of a pattern as a square of n × n cells, growing as n²."""

from dataclasses import dataclass

import numpy as np
import torch
from manim import (DOWN, LEFT, RIGHT, UP, AnimationGroup, Create, FadeIn, FadeOut, GrowArrow, GrowFromEdge, Indicate, LaggedStart,
                   Line, Rectangle, Square, SurroundingRectangle, VGroup, VMobject)

from explainer import designed, heads, scale
from explainer.style import BAR_COLOR, HIGHLIGHT_COLOR, POSITIVE_COLOR, display_token, quoted
from explainer.video.pieces import (GREY, SMALLEST_FONT, Change, DotGrid, LabelledArrow, ProbabilityBars, fit,
                                    number_cell, spread, tip_to_tail, token_row, typeset, wrap)
from explainer.video.scene import Chapter, caption_parts

MOST_TOKENS = 12  # tokens of the line shown (its first ones: a causal head's numbers for them ignore what follows)
CONTEXTS = (8, 16, 32)  # context lengths drawn as squares of cells
CELL = 0.13  # scene units per cell of those squares
GPT3_KV_HEADS = (96, 8, 1)  # multi-head, grouped-query, multi-query
HOLD = 0.5  # seconds a marked moment stays still
KV_COLOR = "#22c55e"  # keys and values


@dataclass
class Layer:
    """Every head of one layer on the line's first tokens, and the token followed."""

    found: heads.LayerHeads
    position: int
    prompt: str


def first_tokens(found: heads.LayerHeads, count: int) -> heads.LayerHeads:
    """The layer's heads on the line's first `count` tokens: exact, since a causal model's first tokens never read
    the ones after them."""
    return heads.LayerHeads(found.tokens[:count], found.layer, found.patterns[:, :count, :count],
                            found.deltas[:, :count], found.bias, found.total[:count])


def layer_data(lm, options: dict) -> Layer:
    """All heads of the running example's layer (or the user's layer and prompt), and the token followed (shared with
    the tests)."""
    example = heads.running_example(lm)
    prompt = options.get("prompt") or example.prompt
    found = first_tokens(heads.layer_heads(lm, prompt, options.get("layer", example.layer)), MOST_TOKENS)
    last = len(found.tokens) - 1
    position = last if options.get("prompt") or example.noun_position > last else example.noun_position  # the noun, if shown
    return Layer(found, position, prompt)


def costs_data(lm) -> list[dict]:
    """For each context length: attention cells and one layer's attention and MLP FLOPs, for our model (shared with
    the tests)."""
    c = lm.model.config
    return [{"n": n, "cells": n * n, **vars(scale.layer_cost(n, c.n_embd, c.n_head, c.head_size, c.hidden))}
            for n in CONTEXTS]


def kv_data() -> list[dict]:
    """GPT-3's shape with 96, 8 and 1 key/value heads: its KV cache at its full context (shared with the tests)."""
    gpt3 = scale.GPT3
    return [{"kv_heads": kv, "bytes": scale.kv_cache_bytes(gpt3, gpt3.context, kv)} for kv in GPT3_KV_HEADS]


def gigabytes(count: int) -> str:
    return f"{count / 1e9:.1f} GB"


class ManyHeads(Chapter):
    def chapter(self):
        layer = layer_data(self.lm, self.options)
        c = self.lm.model.config
        self.title_card(f"{c.n_head} heads in each of {c.n_layer} layers of our model; GPT-3 has {scale.GPT3.n_heads} of each")
        grids = self.heads_side_by_side(layer)
        self.overlap(layer, grids)
        self.why_several()
        self.heads_add_up(layer)
        self.shared_keys()
        self.layers()
        self.squares()

    # ---------- one layer's heads ----------
    def heads_side_by_side(self, layer: Layer) -> VGroup:
        found, position = layer.found, layer.position
        count, n = found.patterns.shape[0], len(found.tokens)
        cell = min(0.22, 12.6 / (count * n + (count - 1) * 1.5))
        width = n * cell
        row = fit(token_row(found.tokens, SMALLEST_FONT), 13.0).to_edge(UP, buff=0.25)
        followed = SurroundingRectangle(row[position], color=HIGHLIGHT_COLOR, buff=0.03, stroke_width=3)
        grids = VGroup()
        for h in range(count):
            grid = DotGrid(found.patterns[h].numpy(), cell=cell, center=(0, 0))
            name = typeset(f"head {h}", font_size=SMALLEST_FONT, color=HIGHLIGHT_COLOR).next_to(grid.dots, UP, buff=0.12)
            column = Rectangle(width=cell * 1.1, height=width + cell * 0.2, stroke_color=HIGHLIGHT_COLOR, stroke_width=2)
            column.move_to([grid.point(position, 0, n)[0], 0, 0])
            grids.add(VGroup(grid, name, column))
        grids.arrange(RIGHT, buff=cell * 1.5).move_to([0, 1.55, 0])
        centers = [list(g[0].dots.get_center()[:2]) for g in grids]
        grids = VGroup(*[VGroup(compact(g[0], n), g[1], g[2]) for g in grids])
        layout = self.lm.layout
        own = "W_Q, W_K and W_V" if layout.group_size == 1 else "W_Q (keys and values shared in groups)"
        self.narrate(f"Everything so far was one head. Layer {found.layer} runs {count} heads at once on the same line, "
                     f"each with its own {own}: {count} patterns (queries as columns).",
                     LaggedStart(*[FadeIn(VGroup(g[1], g[0]), shift=DOWN * 0.2) for g in grids], lag_ratio=0.5),
                     enter=[FadeIn(row), FadeIn(followed)], clear=True, run_time=1.5)
        self.hold("heads", HOLD, patterns=found.patterns.tolist(), cell=cell, centers=centers)
        return grids

    def overlap(self, layer: Layer, grids: VGroup) -> None:
        """The heads' shared attention, pair by pair, as a table under the grids, while the verdict speaks."""
        found, position = layer.found, layer.position
        count = found.patterns.shape[0]
        shares = found.pattern_overlap()
        table = VGroup()
        numbers = count <= 6
        side = 0.8 if numbers else 2.6 / count
        for a in range(count):
            for b in range(count):
                entry = number_cell(float(shares[a, b]), side, 0.34 if numbers else side, 1.0, "{:.0%}", SMALLEST_FONT, numbers)
                table.add(entry.move_to([(b - (count - 1) / 2) * side, -(a - (count - 1) / 2) * entry.height, 0]))
        table.move_to([1.2, -1.0, 0]).align_to([0, -0.05, 0], UP)
        row_names = VGroup(*[typeset(f"head {h}", font_size=SMALLEST_FONT, color=GREY).next_to(table[h * count], LEFT, buff=0.15)
                             for h in range(count)])
        title = typeset(wrap("attention two heads share, over the line", 20), font_size=SMALLEST_FONT, color=GREY)
        title.next_to(row_names, LEFT, buff=0.4).align_to(table, UP)
        fit(title, 12.5 - table.width - row_names.width)
        others = heads.off_diagonal(shares)
        low, high = int(torch.argmin(shares + torch.eye(count))), int(torch.argmax(shares - torch.eye(count)))
        animations = [AnimationGroup(LaggedStart(*[FadeIn(e) for e in table], lag_ratio=0.03), FadeIn(row_names), FadeIn(title),
                                     LaggedStart(*[Create(g[2]) for g in grids], lag_ratio=0.3)),
                      AnimationGroup(Indicate(table[low], color=HIGHLIGHT_COLOR), Indicate(table[high], color=HIGHLIGHT_COLOR))]
        parts = caption_parts(heads.overlap_verdict(found, position).plain)
        for sentence, dealt in zip(parts, spread(animations, len(parts))):
            self.narrate(sentence, *(dealt or [Indicate(table, scale_factor=1.05)]), run_time=1)
        self.mark("overlap", mean=float(others.mean()), overlap=shares.tolist())

    # ---------- why several heads ----------
    def why_several(self) -> None:
        """What arrives in creature's vector: one head on one adjective, one head on two, two heads on two."""
        alone, both = designed.heads_case(designed.ONE_ADJECTIVE), designed.heads_case(designed.TWO_ADJECTIVES)
        noun = "creature"
        groups = [(f"one head, “{designed.ONE_ADJECTIVE}”", alone.arrived("one", noun), ["fluffy"], -4.6, 2.4),
                  (f"one head, “{designed.TWO_ADJECTIVES}”", both.arrived("one", noun), ["fluffy", "blue"], -0.3, 3.6),
                  ("two heads: texture, colour", both.arrived("two", noun), ["fluffy", "blue"], 4.3, 3.6)]
        pictures = VGroup()
        for title, arrived, names, x, width in groups:
            values = [arrived[name] for name in names]
            bars = ProbabilityBars(names, values, width=width, height=2.6, baseline=-0.7, highlight=-1, center_x=x,
                                   values=[f"{v:+.2f}" for v in values])
            caption = typeset(title, font_size=SMALLEST_FONT, color=GREY).next_to(bars, DOWN, buff=0.2).set_x(x)
            pictures.add(VGroup(bars, caption))
        heading = typeset(f"what the head adds to {noun}'s vector", font_size=SMALLEST_FONT, color=GREY).move_to([0, 3.3, 0])
        grow = lambda picture: AnimationGroup(FadeIn(picture[0][0]), FadeIn(picture[1]),
                                              *[AnimationGroup(GrowFromEdge(bar[0], DOWN), FadeIn(bar[1]), FadeIn(bar[2]))
                                                for bar in picture[0][1:]])
        animations = [LaggedStart(grow(pictures[0]), grow(pictures[1]), lag_ratio=0.6), grow(pictures[2]),
                      Indicate(pictures[1][0], color=HIGHLIGHT_COLOR)]
        verdict = designed.several_heads_verdict(alone, both, noun)
        parts = caption_parts(verdict.plain)
        for index, (sentence, dealt) in enumerate(zip(parts, spread(animations, len(parts)))):
            self.narrate(sentence, *(dealt or [Indicate(pictures[2][0], color=HIGHLIGHT_COLOR)]),
                         enter=[FadeIn(heading)] if index == 0 else (), clear=index == 0, run_time=1)
        self.hold("several", HOLD, one=alone.arrived("one", noun), blend=both.arrived("one", noun),
                  two=both.arrived("two", noun))

    # ---------- the heads' changes add up ----------
    def heads_add_up(self, layer: Layer) -> None:
        found, position = layer.found, layer.position
        count = found.patterns.shape[0]
        token = found.tokens[position]
        parts = [(f"head {h}", found.deltas[h, position]) for h in range(count)] + [("bias", found.bias)]
        arrows, _, total = tip_to_tail(parts, found.total[position], np.array([-5.0, 0.0, 0]), width=10.0)
        chain_name = typeset(f"head 0 to head {count - 1}, then the bias, tip to tail", font_size=SMALLEST_FONT,
                             color=BAR_COLOR).next_to(arrows, UP, buff=0.25).align_to(arrows, LEFT)
        length = float(found.total[position].norm())
        below = arrows.get_bottom()[1] - 0.45
        summed = LabelledArrow([total.get_start()[0], below, 0], [total.get_end()[0], below, 0],
                               f"the layer's change to {display_token(token)}: length {length:.1f}", color=POSITIVE_COLOR,
                               side=DOWN, stroke_width=6)
        VGroup(chain_name, arrows, summed).move_to([0, 0.8, 0])
        self.narrate(f"Each head proposes its own change to {quoted(token)}'s vector. The layer adds all {count}, and one "
                     f"bias: the green arrow, {length:.1f} long.",
                     LaggedStart(*[GrowArrow(a) for a in arrows], lag_ratio=0.5), summed.grow(),
                     enter=[FadeIn(chain_name)], clear=True, run_time=1.5)
        self.hold("sum", HOLD, lengths=[float(found.deltas[h, position].norm()) for h in range(count)], total=length)

    # ---------- heads that share keys and values ----------
    def wiring(self, queries: int, kv_heads: int, width: float, y: float) -> VGroup:
        """Query heads in a row over the key/value heads they read, a line from each to its own: (lines, query heads,
        key/value heads), each one shape."""
        step, kv_step = width / queries, width / kv_heads
        top_x = [(i - (queries - 1) / 2) * step for i in range(queries)]
        bottom_x = [(i - (kv_heads - 1) / 2) * kv_step for i in range(kv_heads)]
        top = boxes(top_x, y, step * 0.7, HIGHLIGHT_COLOR)
        bottom = boxes(bottom_x, y - 1.0, min(kv_step * 0.7, 1.2), KV_COLOR)
        group = queries // kv_heads
        lines = segments([([top_x[i], y - 0.15, 0], [bottom_x[i // group], y - 0.85, 0]) for i in range(queries)], GREY, 1.5)
        return VGroup(lines, top, bottom)

    def shared_keys(self) -> None:
        layout = self.lm.layout
        ours = self.wiring(layout.n_head, layout.n_kv_head, min(6.0, 1.0 * layout.n_head), 3.0)
        ours_names = VGroup(typeset(f"{layout.n_head} query heads", font_size=SMALLEST_FONT, color=HIGHLIGHT_COLOR)
                            .next_to(ours[1], LEFT, buff=0.3),
                            typeset(f"{layout.n_kv_head} key/value heads", font_size=SMALLEST_FONT, color=KV_COLOR)
                            .next_to(ours[2], LEFT, buff=0.3))
        our_picture = VGroup(ours, ours_names).move_to([0, 2.45, 0])
        parts = caption_parts(heads.sharing_note(self.lm).replace("*", "") + " A generating model keeps every earlier "
                              "token's keys and values: its KV cache.")
        for index, sentence in enumerate(parts):
            if index == 0:
                self.narrate(sentence, LaggedStart(Create(ours[0]), FadeIn(ours[2]), lag_ratio=0.5),
                             enter=[FadeIn(ours[1]), FadeIn(ours_names)], clear=True, run_time=1)
            else:
                self.narrate(sentence, Indicate(ours[2], color=KV_COLOR), run_time=1)
        gpt3 = scale.GPT3
        cache = kv_data()
        top = max(c["bytes"] for c in cache)
        bars, shown, wiring = VGroup(), None, None
        kinds = ("multi-head", "grouped-query", "multi-query")
        for index, (kind, found) in enumerate(zip(kinds, cache)):
            kv = found["kv_heads"]
            new = self.wiring(gpt3.n_heads, kv, 8.0, 0.5).shift(LEFT * 2.2)
            names = VGroup(typeset(f"GPT-3's {gpt3.n_heads} query heads", font_size=SMALLEST_FONT, color=HIGHLIGHT_COLOR)
                           .next_to(new[1], UP, buff=0.12),
                           typeset(f"{kv} key/value head{'s' if kv > 1 else ''} ({kind})", font_size=SMALLEST_FONT, color=KV_COLOR)
                           .next_to(new[2], DOWN, buff=0.12).set_x(new.get_x()))
            height = 2.6 * found["bytes"] / top
            bar = Rectangle(width=0.55, height=max(height, 0.02), stroke_width=0, fill_color=KV_COLOR, fill_opacity=1)
            bar.move_to([3.2 + 1.2 * index, -1.55 + bar.height / 2, 0])
            value = typeset(gigabytes(found["bytes"]), font_size=SMALLEST_FONT).next_to(bar, UP, buff=0.08)
            label = typeset(f"{kv}", font_size=SMALLEST_FONT, color=GREY).next_to([bar.get_x(), -1.55, 0], DOWN, buff=0.1)
            bars.add(VGroup(bar, value, label))
            picture = VGroup(new, names)
            if index == 0:
                axis = Line([2.7, -1.55, 0], [6.3, -1.55, 0], color=GREY, stroke_width=2)
                title = typeset(f"KV cache, {gpt3.context:,} tokens", font_size=SMALLEST_FONT, color=GREY).move_to([4.4, 1.55, 0])
                text = (f"GPT-3 itself gives each of its {gpt3.n_heads} heads its own keys and values: {gigabytes(found['bytes'])} "
                        f"of cache for one {gpt3.context:,}-token context, in 16-bit numbers.")
                animations = [Create(new[0]), FadeIn(new[2]), FadeIn(names), GrowFromEdge(bar, DOWN), FadeIn(value),
                              FadeIn(label), FadeIn(axis), FadeIn(title)]
                enter = [FadeIn(new[1])]
            else:
                group = gpt3.n_heads // kv
                sharing = f"all {gpt3.n_heads} query heads share" if kv == 1 else f"each group of {group} query heads shares"
                text = (f"{kind.capitalize()} attention: {sharing} one "
                        f"key/value head, {kv} in all. The same context needs {gigabytes(found['bytes'])}.")
                animations = [Change(wiring, picture), GrowFromEdge(bar, DOWN), FadeIn(value), FadeIn(label)]
                enter = []
            self.narrate(text, *animations, enter=enter, run_time=1)
            self.hold(f"kv {kv}", HOLD, kv_heads=kv, bytes=found["bytes"])
            wiring = picture

    # ---------- layers ----------
    def layers(self) -> None:
        gpt3 = scale.GPT3
        patterns = gpt3.n_layers * gpt3.n_heads
        side = 2.4
        square = VGroup(Square(side, stroke_color=BAR_COLOR, stroke_width=1.5),
                        cell_lines(gpt3.n_heads, gpt3.n_layers, side / gpt3.n_heads, side / gpt3.n_layers, 0.4))
        square.move_to([-1.2, 0.7, 0])
        names = VGroup(typeset(f"{gpt3.n_heads} heads", font_size=SMALLEST_FONT, color=GREY).next_to(square, UP, buff=0.1),
                       typeset(f"{gpt3.n_layers} layers", font_size=SMALLEST_FONT, color=GREY).rotate(np.pi / 2)
                       .next_to(square, LEFT, buff=0.1),
                       typeset(f"= {patterns:,} patterns", font_size=24, color=HIGHLIGHT_COLOR).next_to(square, RIGHT, buff=0.4))
        self.narrate(f"Layers stack, each its heads and then an MLP: GPT-3 has {gpt3.n_layers} layers of {gpt3.n_heads} heads, "
                     f"{patterns:,} attention patterns in every forward pass, one cell each here.",
                     Create(square[0]), Create(square[1]), FadeIn(names), clear=True, run_time=1.5)
        self.hold("gpt-3", HOLD, patterns=patterns)

    # ---------- n² ----------
    def square_of(self, n: int) -> VGroup:
        """n × n cells, CELL each, lower-left corner fixed."""
        side = n * CELL
        outline = Square(side, stroke_color=BAR_COLOR, stroke_width=2.5, fill_color=BAR_COLOR, fill_opacity=0.25)
        return VGroup(outline, cell_lines(n, n, CELL, CELL, 1)).shift([side / 2 - 6.0, side / 2 - 1.75, 0])

    def squares(self) -> None:
        c = self.lm.model.config
        costs = costs_data(self.lm)
        top = max(cost["mlp_flops"] for cost in costs)
        shown = None
        for index, cost in enumerate(costs):
            n = cost["n"]
            square = self.square_of(n)
            half = [self.square_of(n // 2)[0].set_fill(opacity=0).set_stroke(HIGHLIGHT_COLOR, width=4)] if index else []
            readout = VGroup(typeset(f"n = {n} tokens", font_size=24, color=HIGHLIGHT_COLOR),
                             typeset(f"{cost['cells']:,} cells in each head's pattern", font_size=SMALLEST_FONT),
                             *self.flops_bars(cost, top)).arrange(DOWN, aligned_edge=LEFT, buff=0.25).move_to([2.6, 0.6, 0])
            outline, lines = square
            picture = VGroup(outline, readout, *half)  # the cell lines fade rather than bend from one grid into the next
            if shown is None:
                self.narrate(f"Each pattern is a square: every token against every token. With n = {n} tokens, "
                             f"{cost['cells']} cells you can count.", Create(outline), Create(lines),
                             FadeIn(readout), clear=True, run_time=1)
            else:
                self.narrate(f"Double the tokens to {n}: the square holds four of the last one, {cost['cells']:,} cells. "
                             "Attention's work grows as n².", Change(shown, picture), FadeOut(shown_lines), FadeIn(lines),
                             run_time=1)
            self.hold(f"n = {n}", HOLD, **cost)
            shown, shown_lines = picture, lines
        crossover = scale.crossover_context(c.n_embd, c.n_head, c.head_size, c.hidden)
        self.narrate(f"The MLP's work grows only as n: with this model's sizes, attention would overtake it from n = "
                     f"{crossover:,} (its context stops at {c.block_size}). Very long contexts need cheaper attention.",
                     Indicate(shown[1][2], color=HIGHLIGHT_COLOR), Indicate(shown[1][3], color=HIGHLIGHT_COLOR), run_time=1)
        self.mark("crossover", crossover=crossover)

    def flops_bars(self, cost: dict, top: int) -> list[VGroup]:
        """One layer's attention (n²) and MLP (n) work as bars on one scale, with their numbers."""
        bars = []
        for name, key, color in (("attention (n²)", "attention_flops", BAR_COLOR), ("MLP (n)", "mlp_flops", HIGHLIGHT_COLOR)):
            bar = Rectangle(width=max(4.0 * cost[key] / top, 0.02), height=0.3, stroke_width=0, fill_color=color, fill_opacity=1)
            words = typeset(f"{name}: {cost[key]:,} FLOPs a layer", font_size=SMALLEST_FONT, color=color)
            bars.append(VGroup(words, bar.next_to(words, DOWN, buff=0.1).align_to(words, LEFT)))
        return bars


def segments(ends: list[tuple], color: str, stroke_width: float) -> VMobject:
    """Line segments drawn as one shape: one mobject to copy and draw, however many segments."""
    shape = VMobject(stroke_color=color, stroke_width=stroke_width)
    for start, end in ends:
        shape.start_new_path(np.array(start, dtype=float))
        shape.add_line_to(np.array(end, dtype=float))
    return shape


def cell_lines(columns: int, rows: int, width: float, height: float, stroke_width: float) -> VMobject:
    """The lines between the cells of a grid of columns × rows cells, centred on the origin."""
    w, h = columns * width, rows * height
    ends = [([-w / 2, -h / 2 + i * height, 0], [w / 2, -h / 2 + i * height, 0]) for i in range(1, rows)]
    ends += [([-w / 2 + i * width, -h / 2, 0], [-w / 2 + i * width, h / 2, 0]) for i in range(1, columns)]
    return segments(ends, BAR_COLOR, stroke_width)


def boxes(xs: list[float], y: float, width: float, color: str, height: float = 0.3) -> VMobject:
    """Filled boxes in a row, centred at `xs` and height `y`, drawn as one shape."""
    shape = VMobject(stroke_width=0, fill_color=color, fill_opacity=1)
    for x in xs:
        corners = [[x - width / 2, y - height / 2, 0], [x + width / 2, y - height / 2, 0], [x + width / 2, y + height / 2, 0],
                   [x - width / 2, y + height / 2, 0]]
        shape.start_new_path(np.array(corners[0], dtype=float))
        for corner in corners[1:] + corners[:1]:
            shape.add_line_to(np.array(corner, dtype=float))
    return shape


def merged(shapes: list, role: str | None = None) -> VMobject:
    """Shapes of one style drawn as one (each its own closed path): one mobject to copy and draw instead of many."""
    shape = VMobject().match_style(shapes[0])
    for part in shapes:
        shape.append_points(part.points)
    shape.role = role
    return shape


def compact(grid: DotGrid, n: int) -> VGroup:
    """A dot grid as two shapes, its dots and its masked squares (five grids of 144 cells are otherwise 1,000
    mobjects that every fade copies)."""
    dots = [grid.dots[q * n + k] for q in range(n) for k in range(q + 1)]
    return VGroup(merged(list(grid.masked), "masked"), merged(dots))
