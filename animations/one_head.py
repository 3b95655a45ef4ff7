"""One head of attention, with the real numbers of the head that measurement picked (notebook 08): token
vectors; queries and keys; their dot products filling the grid; ÷√d_k; the −∞ mask; softmax column by column; the
values weighted and added into Δe; the noun's vector moved by Δe. Layout as in the talk: queries are columns."""

import math
from dataclasses import dataclass

import numpy as np
import torch
from manim import DOWN, LEFT, UP, Arrow, Circle, FadeIn, FadeOut, GrowArrow, LaggedStart, Rectangle, VGroup

from explainer import attention, designed, forward, heads
from explainer.style import BAR_COLOR, DOT_COLOR, HIGHLIGHT_COLOR, NEGATIVE_COLOR, POSITIVE_COLOR, display_token, quoted
from explainer.video.pieces import GREY, Change, dot_radius, fit, grid_point, labels_apart, tip_to_tail, token_row, typeset
from explainer.video.scene import Chapter

GRID_TOP, GRID_BOTTOM = 2.2, -2.05  # the grid's extent in scene units: labels above it, the caption below
STRIP = 12  # numbers of each vector drawn under its token
PLANE_LENGTH = 5.0  # scene units for the longest arrow in the vector pictures


@dataclass
class Example:
    prompt: str
    layer: int
    head: int
    query: int  # the token whose column the chapter follows (the noun)
    key: int | None  # the token it should read (the adjective), if known
    steps: attention.AttentionSteps


def example_data(lm, options: dict) -> Example:
    """The running example, or the user's prompt, layer and head (following the last token), shared with the tests."""
    found = heads.running_example(lm)
    if not options.get("prompt"):
        layer, head = options.get("layer", found.layer), options.get("head", found.head)
        return Example(found.prompt, layer, head, found.noun_position, found.adjective_position,
                       attention.attention_steps(lm, found.prompt, layer, head))
    layer, head = options.get("layer", found.layer), options.get("head", found.head)
    steps = attention.attention_steps(lm, options["prompt"], layer, head)
    return Example(options["prompt"], layer, head, len(steps.tokens) - 1, None, steps)


def key_plane(q: torch.Tensor, k: torch.Tensor) -> np.ndarray:
    """Coordinates [token, 2] of each key in the plane whose first axis is the query's direction (so x · |q| is the
    exact dot product) and whose second axis is the keys' main remaining direction."""
    axis = q / q.norm()
    along = k @ axis
    rest = k - along[:, None] * axis
    _, _, vt = torch.linalg.svd(rest - rest.mean(0), full_matrices=False)
    return torch.stack([along, rest @ vt[0]], dim=1).numpy()


def delta_parts(lm, example: Example) -> torch.Tensor:
    """What each key adds to the query's Δe: its weight times its value, mapped up by the head's W_O [key, C]; they
    sum to Δe (shared with the tests)."""
    W_O = attention.head_weights(lm, example.layer, example.head).W_O  # [d, C]
    return (example.steps.pattern[example.query][:, None] * example.steps.v) @ W_O


def plane_of(e: torch.Tensor, delta: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """e and e + Δe in the plane they span: e along x; lengths and the angle between them are exact."""
    x = e / e.norm()
    y_part = delta - (delta @ x) * x
    y = y_part / y_part.norm()
    coordinates = lambda v: np.array([float(v @ x), float(v @ y)])
    return coordinates(e), coordinates(e + delta)


def example_verdict(lm):
    """What measurement says of the followed head (None when no head could be measured)."""
    scores = heads.running_example(lm).scores
    return heads.best_head_verdict(scores) if scores is not None else None


class OneHead(Chapter):
    def chapter(self):
        example = example_data(self.lm, self.options)
        steps, q_at = example.steps, example.query
        n, tokens = len(steps.tokens), steps.tokens
        self.title_card(f"layer {example.layer}, head {example.head} of our Shakespeare model, step by step, with its real "
                        "numbers")
        self.designed_head()
        if found_verdict := example_verdict(self.lm):
            for sentence in found_verdict.plain.split(". ")[1:]:
                self.caption(sentence.rstrip(".") + ".")
        row = token_row(tokens, 24).to_edge(UP, buff=0.6)
        self.play(FadeIn(row))
        noun = tokens[q_at].strip()
        self.caption(f"Every token has a vector: its embedding, its position, and whatever earlier layers added. We "
                     f"follow “{noun}”. Here are the first {STRIP} of the {steps.residual.shape[1]} numbers of each vector.")
        strips = self.vector_strips(steps.residual, row)
        self.play(LaggedStart(*[FadeIn(s) for s in strips], lag_ratio=0.08), run_time=2)
        self.hold("vectors", 1.5)
        self.clear(row)

        d_k = steps.q.shape[1]
        self.caption(f"The head multiplies every vector by a query matrix and by a key matrix: each token gets a query "
                     f"(what am I looking for?) and a key (what do I offer?), both in a small space of {d_k} dimensions.")
        self.play(FadeOut(row))
        at = key_plane(steps.q[q_at], steps.k)[:q_at + 1]
        reach = np.vstack([at, [[float(steps.q[q_at].norm()), 0.0]]])
        scale = min(5.5 / max(np.abs(reach[:, 0]).max(), 1e-6), 2.4 / max(np.abs(reach[:, 1]).max(), 1e-6))
        origin = np.array([-(reach[:, 0].max() + reach[:, 0].min()) / 2 * scale, 0.2 - reach[:, 1].mean() * scale, 0])
        query_arrow = Arrow(origin, origin + np.array([float(steps.q[q_at].norm()) * scale, 0, 0]), buff=0,
                            color=HIGHLIGHT_COLOR, stroke_width=6)
        query_name = typeset(f"query of “{noun}”", font_size=22, color=HIGHLIGHT_COLOR).next_to(query_arrow, DOWN, buff=0.15)
        keys = VGroup(*[Arrow(origin, origin + np.array([*(at[i] * scale), 0]), buff=0, stroke_width=3,
                              color=POSITIVE_COLOR if i == example.key else BAR_COLOR) for i in range(q_at + 1)])
        key_names = labels_apart({display_token(tokens[i]): keys[i].get_end() for i in range(q_at + 1)}, 16)
        self.play(GrowArrow(query_arrow), FadeIn(query_name))
        self.play(LaggedStart(*[GrowArrow(k) for k in keys], lag_ratio=0.1), FadeIn(key_names), run_time=2)
        self.hold("keys", 1.5, plane=at.tolist())
        raw = steps.scores[q_at]
        self.caption("Keys that point the way the query points answer it: the dot product q·k is the query's length times "
                     "how far the key reaches along it. Drawn here in the plane of the query and the keys' main spread.")
        best = int(torch.argmax(raw[:q_at + 1]))
        self.play(keys[best].animate.set_stroke(width=7))
        others = "every other key points further away" if float(raw[best]) < 0 else "the others less so"
        self.caption(f"Largest for this query: “{tokens[best].strip()}”, q·k = {float(raw[best]):.1f}; {others}. Every "
                     f"query with every key gives a grid of {n} × {n} dot products.")
        self.clear()

        self.cell = min(0.44, (GRID_TOP - GRID_BOTTOM) / n)
        self.center = (1.2, GRID_BOTTOM + self.cell * n / 2)
        grid_labels = self.grid_labels(tokens)
        self.play(FadeIn(grid_labels))
        point = lambda q, k: grid_point(k, q, n, n, self.cell, self.center)  # column = query, row = key
        numbers = self.score_cells(steps.scores, point, q_at)
        self.caption("The raw dot products QKᵀ, one cell at a time: each column is one query, each row one key "
                     "(the talk's layout; our notebooks draw the transpose).", read=False)
        self.play(LaggedStart(*[FadeIn(m) for m in numbers], lag_ratio=0.03), run_time=5)
        self.hold("scores", 2, scores=steps.scores.tolist())
        scaled = self.score_cells(steps.scaled, point, q_at)
        raw_spread, scaled_spread = attention.score_spread(steps)
        self.caption(f"Divide by √d_k = √{d_k} ≈ {math.sqrt(d_k):.1f}, which removes the growth of dot products with the head "
                     f"size (the talk: “helpful for numerical stability”). Here the spread goes from {raw_spread:.1f} to "
                     f"{scaled_spread:.1f}.")
        self.play(Change(numbers, scaled), run_time=1.5)
        self.hold("scaled", 1.5, scaled=steps.scaled.tolist())
        future = [(q, k) for q in range(n) for k in range(n) if k > q]
        minus = VGroup(*[VGroup(Rectangle(width=self.cell * 0.94, height=self.cell * 0.94, stroke_width=0, fill_color=MASK_FILL,
                                          fill_opacity=1), typeset("−∞", font_size=11, color=WHITE_TEXT)).move_to(point(q, k))
                         for q, k in future])
        self.caption("No token may read the future: where the key comes after the query, write −∞ before the softmax.")
        self.play(*[FadeOut(scaled[q * n + k]) for q, k in future], FadeIn(minus), run_time=1.5)
        self.hold("mask", 2, masked=len(future))
        self.caption("Then a softmax down each column: exponentiate, divide by the column's sum. exp(−∞) = 0, so every "
                     "column sums to 1 with the future at exactly 0. Dot area ∝ weight.", read=False)
        dots = VGroup()
        for q in range(n):
            column = VGroup(*[Circle(radius=max(1e-3, dot_radius(float(steps.pattern[q, k]), self.cell)), stroke_width=0,
                                     fill_color=DOT_COLOR, fill_opacity=1).move_to(point(q, k)) for k in range(q + 1)])
            self.play(*[FadeOut(scaled[q * n + k]) for k in range(q + 1)], FadeIn(column), run_time=0.5)
            dots.add(column)
        self.play(FadeOut(minus), run_time=0.5)
        self.hold("pattern", 2.5, pattern=steps.pattern.tolist(), cell=self.cell, center=list(self.center))
        column = Rectangle(width=self.cell * 1.05, height=self.cell * n + 0.1, stroke_color=HIGHLIGHT_COLOR, stroke_width=3)
        column.move_to([point(q_at, 0)[0], self.center[1], 0])
        self.play(FadeIn(column))
        weights = steps.pattern[q_at]
        top = int(torch.argmax(weights))
        self.caption(f"The column of “{noun}”: it gives {float(weights[top]):.0%} of its attention to "
                     f"“{tokens[top].strip()}”. This grid is the head's attention pattern.")
        self.clear()

        self.caption("Now the values: each token's vector, times a value matrix (down to the small space), and back up "
                     "by the output matrix. The noun's column of weights says how much of each to add.")
        parts = delta_parts(self.lm, example)
        self.add_up(parts, steps.delta[q_at], weights, tokens, q_at)
        e, moved = plane_of(steps.residual[q_at], steps.delta[q_at])
        self.clear()
        size = PLANE_LENGTH / max(np.linalg.norm(e), np.linalg.norm(moved))
        origin = np.array([-3.5, -0.8, 0])
        e_arrow = Arrow(origin, origin + np.array([*(e * size), 0]), buff=0, color=BAR_COLOR, stroke_width=6)
        delta_arrow = Arrow(e_arrow.get_end(), origin + np.array([*(moved * size), 0]), buff=0, color=POSITIVE_COLOR,
                            stroke_width=6, max_tip_length_to_length_ratio=0.5)
        new_arrow = Arrow(origin, origin + np.array([*(moved * size), 0]), buff=0, color=HIGHLIGHT_COLOR, stroke_width=4)
        self.play(GrowArrow(e_arrow), FadeIn(typeset(f"e: “{noun}”, length {float(steps.residual[q_at].norm()):.1f}",
                                                      font_size=22, color=BAR_COLOR).next_to(e_arrow, DOWN, buff=0.15)))
        length = float(steps.delta[q_at].norm())
        self.play(GrowArrow(delta_arrow))
        self.hold("delta", 1.5, delta_length=length, scale=size, e=e.tolist(), moved=moved.tolist(), origin=origin[:2].tolist())
        self.play(GrowArrow(new_arrow))
        nearest = ", ".join(quoted(t) for t, _ in forward.nearest_tokens(self.lm, steps.delta[q_at], 4))
        self.caption(f"e + Δe: the noun's vector, moved by this head (Δe has length {length:.1f}). By itself Δe points "
                     f"most nearly toward the embeddings of: {nearest}. Other heads add their own changes.")
        self.pause(2)

    def designed_head(self) -> None:
        """The talk's sentence through a head whose weights were set by hand (explainer.designed), as a dot grid."""
        head = designed.designed_head()
        n = len(head.words)
        self.cell = min(0.44, (GRID_TOP - GRID_BOTTOM) / n)
        self.center = (1.2, GRID_BOTTOM + self.cell * n / 2)
        labels = self.grid_labels(head.words)
        dots = VGroup(*[Circle(radius=max(1e-3, dot_radius(float(head.steps.pattern[q, k]), self.cell)), stroke_width=0,
                               fill_color=DOT_COLOR, fill_opacity=1).move_to(grid_point(k, q, n, n, self.cell, self.center))
                        for q in range(n) for k in range(q + 1)])
        self.caption("The talk's example: “a fluffy blue creature roamed the verdant forest”. First, a head built by hand "
                     "to do what the talk describes: a noun's query asks for the adjectives in front of it.", read=False)
        self.play(FadeIn(labels), LaggedStart(*[FadeIn(d) for d in dots], lag_ratio=0.02), run_time=3)
        self.hold("designed", 2, pattern=head.steps.pattern.tolist(), cell=self.cell, center=list(self.center))
        for sentence in designed.designed_verdict(head).plain.removeprefix("In the designed head, ").split("; "):
            self.caption(sentence[0].upper() + sentence[1:].rstrip(".") + ".")
        self.clear()

    # ---- pieces of this chapter ----
    def vector_strips(self, vectors: torch.Tensor, row: VGroup) -> VGroup:
        """Under each token, its first STRIP numbers as coloured cells (blue positive, red negative)."""
        top = float(vectors[:, :STRIP].abs().max())
        strips = VGroup()
        for box, vector in zip(row, vectors):
            cells = VGroup(*[Rectangle(width=0.32, height=0.26, stroke_width=0.5, stroke_color=GREY,
                                       fill_color=BAR_COLOR if v >= 0 else NEGATIVE_COLOR, fill_opacity=min(1.0, abs(float(v)) / top))
                             for v in vector[:STRIP]]).arrange(DOWN, buff=0)
            strips.add(cells.next_to(box, DOWN, buff=0.25))
        return strips

    def grid_labels(self, tokens: list[str]) -> VGroup:
        n = len(tokens)
        labels = VGroup()
        for i, token in enumerate(tokens):
            left = fit(typeset(display_token(token), font_size=15), 1.6)
            labels.add(left.next_to(grid_point(i, 0, n, n, self.cell, self.center), LEFT, buff=0.3))
            above = fit(typeset(display_token(token), font_size=15), 1.4).rotate(math.pi / 2)
            labels.add(above.next_to(grid_point(0, i, n, n, self.cell, self.center), UP, buff=0.3))
        labels.add(typeset("keys", font_size=18, color=GREY).next_to(labels, LEFT, buff=0.2))
        labels.add(typeset("queries", font_size=18, color=GREY).next_to(labels, UP, buff=0.1))
        return labels

    def score_cells(self, scores: torch.Tensor, point, followed: int) -> VGroup:
        """Every score as a cell coloured by its value (blue positive, red negative); the followed query's column
        also shows the numbers. Cells are in query-major order: index q · n + k."""
        n = scores.shape[0]
        top = float(scores.abs().max())
        cells = VGroup()
        for q in range(n):
            for k in range(n):
                value = float(scores[q, k])
                cell = VGroup(Rectangle(width=self.cell * 0.94, height=self.cell * 0.94, stroke_width=0,
                                        fill_color=BAR_COLOR if value >= 0 else NEGATIVE_COLOR,
                                        fill_opacity=0.15 + 0.85 * abs(value) / top).move_to(point(q, k)))
                if q == followed:
                    cell.add(fit(typeset(f"{value:.1f}", font_size=12, color=WHITE_TEXT), self.cell * 0.95).move_to(point(q, k)))
                cells.add(cell)
        return cells

    def add_up(self, parts: torch.Tensor, delta: torch.Tensor, weights: torch.Tensor, tokens: list[str], query: int) -> None:
        """The weighted values laid tip to tail: their sum is Δe. Keys with weight ≥ SHOWN_WEIGHT get an arrow each,
        the others one arrow together."""
        shown = [i for i in range(query + 1) if float(weights[i]) >= SHOWN_WEIGHT]
        rest = [i for i in range(query + 1) if i not in shown]
        pieces = [(f"{float(weights[i]):.2f} × value of {display_token(tokens[i])}", parts[i]) for i in shown]
        if rest:
            pieces.append((f"the other {len(rest)} ({float(weights[rest].sum()):.2f} of the weight)", parts[rest].sum(0)))
        arrows, labels, total = tip_to_tail(pieces, delta, np.array([-4.5, 0.2, 0]))
        self.play(LaggedStart(*[GrowArrow(a) for a in arrows], lag_ratio=0.4), FadeIn(labels), run_time=3)
        self.play(GrowArrow(total), FadeIn(typeset("Δe = the weighted sum", font_size=22, color=POSITIVE_COLOR)
                                           .next_to(total, DOWN, buff=0.5)))
        self.hold("sum", 2, delta_length=float(delta.norm()))


SHOWN_WEIGHT = 0.05
MASK_FILL = "#7f1d1d"
WHITE_TEXT = "#f9fafb"
