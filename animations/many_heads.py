"""Many heads, many layers: the heads of a layer side by side on the same line, their changes added up;
the stack of layers; and the attention grid growing as n² with the context."""

import numpy as np
from manim import (DOWN, LEFT, RIGHT, UP, Arrow, FadeIn, GrowArrow, GrowFromCenter, LaggedStart,
                   RoundedRectangle, Square, VGroup)

from explainer import attention, heads, scale
from explainer.style import BAR_COLOR, HIGHLIGHT_COLOR, POSITIVE_COLOR
from explainer.video.pieces import GREY, Change, DotGrid, fit, tip_to_tail, token_row, typeset
from explainer.video.scene import Chapter

GRID_WIDTH = 2.3  # scene units per head's grid
CONTEXTS = (4, 8, 16, 32, 64)


def layer_data(lm, options: dict) -> tuple[heads.LayerHeads, int, str]:
    """All heads of the running example's layer (or the user's layer and prompt), and the token followed."""
    example = heads.running_example(lm)
    prompt = options.get("prompt") or example.prompt
    layer = options.get("layer", example.layer)
    found = heads.layer_heads(lm, prompt, layer)
    position = example.noun_position if not options.get("prompt") else len(found.tokens) - 1
    return found, position, prompt


def costs_data(lm) -> list[dict]:
    """For each context length: attention cells and one layer's attention and MLP FLOPs, for our model."""
    c = lm.model.config
    return [{"n": n, "cells": n * n, **{k: v for k, v in vars(scale.layer_cost(n, c.n_embd, c.n_head, c.head_size, c.hidden)).items()}}
            for n in CONTEXTS]


class ManyHeads(Chapter):
    def chapter(self):
        found, position, prompt = layer_data(self.lm, self.options)
        count, n = found.patterns.shape[0], len(found.tokens)
        c = self.lm.model.config
        self.title_card(f"{c.n_head} heads in each of {c.n_layer} layers of our model; GPT-3 has 96 of each")
        self.caption(f"Everything so far was a single head. Layer {found.layer} of our model runs {count} heads at once on "
                     "the same line, each with its own query, key and value matrices, so each reads the line its own way.")
        row = token_row(found.tokens, 20).to_edge(UP, buff=0.4)
        cell = GRID_WIDTH / n
        grids = VGroup()
        for h in range(count):
            grid = DotGrid(found.patterns[h], cell=cell, center=(-5.1 + h * (GRID_WIDTH + 0.25) + GRID_WIDTH / 2, 0.4))
            name = typeset(f"head {h}", font_size=20, color=HIGHLIGHT_COLOR).next_to(grid, UP, buff=0.15)
            grids.add(VGroup(grid, name))
        fit(grids, 13.0).move_to([0, 0.3, 0])
        self.play(FadeIn(row), LaggedStart(*[FadeIn(g) for g in grids], lag_ratio=0.3), run_time=3)
        others = heads.off_diagonal(found.pattern_overlap())
        self.hold("heads", 2, patterns=found.patterns.tolist(), cell=cell, overlap=float(others.mean()))
        self.caption(heads.overlap_verdict(found, position).plain)
        self.caption(attention.head_kinds_verdict(attention.prompt_attention(self.lm, prompt)).plain.split(". Against")[0] + ".")
        self.clear()

        noun = found.tokens[position].strip()
        self.caption(f"Each head proposes its own change to every token's vector. For “{noun}”, here are the {count} "
                     "proposals laid end to end: the layer adds them all (plus one bias) to the vector.")
        parts = [(f"head {h}", found.deltas[h, position]) for h in range(count)] + [("bias", found.bias)]
        arrows, labels, total = tip_to_tail(parts, found.total[position], np.array([-4.5, 0.0, 0]))
        self.play(LaggedStart(*[GrowArrow(a) for a in arrows], lag_ratio=0.4), FadeIn(labels), run_time=3)
        self.play(GrowArrow(total), FadeIn(typeset("the layer's change: the sum (green)", font_size=22, color=POSITIVE_COLOR)
                                           .next_to(VGroup(arrows, total), DOWN, buff=0.35)))
        self.hold("sum", 2, lengths=[float(found.deltas[h, position].norm()) for h in range(count)],
                  total=float(found.total[position].norm()))
        self.clear()

        self.caption(f"Then an MLP, then the next layer's heads, and so on: {c.n_layer} layers in our model, each adding "
                     "to the same running vector of every token.")
        blocks = VGroup()
        for layer in range(c.n_layer):
            attn_box = RoundedRectangle(width=1.6, height=0.7, corner_radius=0.1, stroke_color=BAR_COLOR, fill_color="#1e3a8a", fill_opacity=0.6)
            mlp = RoundedRectangle(width=1.6, height=0.7, corner_radius=0.1, stroke_color=HIGHLIGHT_COLOR, fill_color="#78350f", fill_opacity=0.6)
            blocks.add(VGroup(VGroup(attn_box, typeset(f"{c.n_head} heads", font_size=16).move_to(attn_box)),
                              VGroup(mlp, typeset("MLP", font_size=16).move_to(mlp))).arrange(DOWN, buff=0.15))
        blocks.arrange(RIGHT, buff=0.35).move_to(UP * 0.6)
        stream = Arrow(blocks.get_left() + LEFT * 0.6 + DOWN * 1.4, blocks.get_right() + RIGHT * 0.6 + DOWN * 1.4, buff=0,
                       color=GREY, stroke_width=3)
        stream_name = typeset("the residual stream: each block adds to it", font_size=18, color=GREY).next_to(stream, DOWN, buff=0.1)
        self.play(LaggedStart(*[FadeIn(b) for b in blocks], lag_ratio=0.2), GrowArrow(stream), FadeIn(stream_name), run_time=2)
        gpt3 = scale.GPT3
        self.caption(f"GPT-3 stacks {gpt3.n_layers} such layers of {gpt3.n_heads} heads: {gpt3.n_layers * gpt3.n_heads:,} "
                     "attention patterns in every forward pass; the talk's “like 10,000 times”.")
        self.clear()

        self.caption("Each pattern is a grid: every token against every token. Double the context and the grid has four "
                     "times the cells: the cost of attention grows as n².")
        costs = costs_data(self.lm)
        shown, readout = None, None
        for cost in costs:
            side = 4.2
            square = Square(side_length=side * cost["n"] / CONTEXTS[-1], stroke_color=BAR_COLOR, fill_color=BAR_COLOR,
                            fill_opacity=0.5).move_to([-3.2, 0.3, 0])
            text = VGroup(typeset(f"n = {cost['n']} tokens", font_size=28, color=HIGHLIGHT_COLOR),
                          typeset(f"{cost['cells']:,} cells per head", font_size=24),
                          typeset(f"attention: {cost['attention_flops']:,} FLOPs", font_size=20, color=GREY),
                          typeset(f"MLP: {cost['mlp_flops']:,} FLOPs", font_size=20, color=GREY)).arrange(DOWN, buff=0.15,
                                                                                                            aligned_edge=LEFT)
            text.move_to([2.8, 0.3, 0])
            if shown is None:
                self.play(GrowFromCenter(square), FadeIn(text))
            else:
                self.play(Change(shown, square), Change(readout, text), run_time=1.2)
            shown, readout = square, text
            self.hold(f"n = {cost['n']}", 1.2, **cost)
        crossover = scale.crossover_context(c.n_embd, c.n_head, c.head_size, c.hidden)
        self.caption(f"The MLP's cost grows only as n: with our model's sizes attention would overtake it from n = "
                     f"{crossover:,} (its context stops at {c.block_size}). Very long contexts need variations on attention.")
        self.pause(2)
