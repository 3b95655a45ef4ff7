"""Words as vectors: GloVe's table of 400,000 words × 50 numbers, king's row looked up; the dot product of two unit
vectors worked out number by number (king·queen, king·banana) beside the angle it measures; a grid of such dot
products; king − man + woman drawn to scale in the plane that holds it, and where it lands among all the words (king
itself first, as the talk found); and the gender and plural directions tested against steps between random words,
each step drawn at its true angle to the direction and its true length."""

from dataclasses import dataclass

import numpy as np
from manim import (DOWN, LEFT, RIGHT, UP, AnimationGroup, Arrow, Create, DashedLine, Dot, FadeIn, FadeOut, GrowArrow,
                   Indicate, LaggedStart, Line, Star, Succession, VGroup)

from explainer import embeddings as E
from explainer.style import BAR_COLOR, HIGHLIGHT_COLOR, NEGATIVE_COLOR, POSITIVE_COLOR
from explainer.video.pieces import GREY, SMALLEST_FONT, Change, LabelledArrow, MatrixGrid, VectorColumn, typeset
from explainer.video.scene import Chapter, caption_parts

TABLE_WORDS = ["the", "man", "king", "woman", "queen", "apple", "banana"]  # rows of GloVe's table drawn (in its order)
SHOWN = 6  # numbers of a vector written out
SIMILAR = ["king", "queen", "man", "woman", "apple", "banana"]  # the grid of cosines
A, B, C, EXPECTED = "man", "king", "woman", "queen"
PLANE_SCALE, PLANE_OFFSET = 5.0, np.array([-5.6, -1.2])
GENDER_SHOWN = [("man", "woman"), ("king", "queen"), ("boy", "girl"), ("men", "women"), ("kings", "queens"), ("boys", "girls")]
PLURAL_SHOWN = [("man", "men"), ("king", "kings"), ("boy", "boys"), ("woman", "women"), ("queen", "queens"), ("girl", "girls")]
CONTROL_DRAWN = 12  # random steps drawn as grey arrows (all E.CONTROL_STEPS are measured)
FAN_ORIGIN, FAN_SCALE = np.array([-2.2, -1.5, 0.0]), 2.6  # where every step starts; scene units per unit of length
RANKED = 4  # words listed nearest the analogy's point
MOTION = 0.5  # seconds each caption's animation lasts on its own (at normal speed it spans the caption's reading time)


def to_scene(xy, scale: float, offset=np.zeros(2)) -> np.ndarray:
    return np.array([*(offset + scale * np.asarray(xy)), 0.0])


@dataclass
class Pair:
    a: str
    b: str
    unit_a: np.ndarray  # [50]
    unit_b: np.ndarray
    products: np.ndarray  # unit_a * unit_b, number by number
    cosine: float  # their sum


def pair_data(kv, a: str, b: str) -> Pair:
    """Two words' unit vectors and their dot product, number by number (shared with the tests)."""
    unit_a, unit_b = E.unit(E.vector(kv, a)), E.unit(E.vector(kv, b))
    products = unit_a * unit_b
    return Pair(a, b, unit_a, unit_b, products, float(products.sum()))


def analogy_data(kv) -> tuple[E.Analogy, dict[str, np.ndarray]]:
    """king − man + woman and the points of the plane that holds it exactly, in scene units (shared with tests)."""
    result = E.analogy(kv, A, B, C, EXPECTED, topn=RANKED)
    points = E.analogy_plane(kv, result, extra=[EXPECTED])
    return result, {w: to_scene(xy, PLANE_SCALE, PLANE_OFFSET) for w, xy in points.items()}


def directions_data(kv) -> dict[str, E.DirectionSteps]:
    """The shown pairs' steps along the averaged gender and plural directions, and the random steps' (shared with tests)."""
    return {"gender": E.direction_steps(kv, GENDER_SHOWN, E.direction(kv, E.GENDER_PAIRS), "gender"),
            "plural": E.direction_steps(kv, PLURAL_SHOWN, E.direction(kv, E.PLURAL_PAIRS), "plural")}


def fan_point(cosine: float, length: float) -> np.ndarray:
    """Where a step ends when drawn from FAN_ORIGIN at its true angle to the direction (→) and its true length."""
    return FAN_ORIGIN + FAN_SCALE * length * np.array([cosine, np.sqrt(max(0.0, 1 - cosine ** 2)), 0.0])


class WordsAsVectors(Chapter):
    def chapter(self):
        kv = E.load_glove()
        self.title_card(f"embeddings: meaning as direction (GloVe, {len(kv.index_to_key):,} words, "
                        f"{kv.vector_size} numbers each)")
        self.lookup(kv)
        self.dot_products(kv)
        self.grid(kv)
        self.analogy(kv)
        self.directions(kv)

    # ---- a word is a row of a table ----
    def lookup(self, kv) -> None:
        words = sorted(TABLE_WORDS, key=kv.key_to_index.get)
        rows = [kv.key_to_index[w] for w in words]
        table = MatrixGrid(kv.vectors[rows, :SHOWN], shape=kv.vectors.shape, name="GloVe", fmt="{:+.2f}",
                           row_labels=[f"{w}  (row {i:,})" for w, i in zip(words, rows)]).move_to([-2.2, 0.4, 0])
        self.narrate(f"Before anything else, each word becomes a list of numbers from a table: its embedding. GloVe, a "
                     f"published table, holds {len(kv.index_to_key):,} words × {kv.vector_size} numbers. A few of its rows:",
                     LaggedStart(*[FadeIn(VGroup(row, label), shift=RIGHT * 0.2) for row, label in zip(table.rows, table.row_labels)],
                                 lag_ratio=0.2), enter=[FadeIn(VGroup(table.brackets, table.name, *table.submobjects[1][1:]))],
                     clear=True, run_time=MOTION)
        king = E.vector(kv, B)
        column = VectorColumn(king, shown=SHOWN, fmt="{:+.2f}").move_to([4.3, 0.2, 0])
        name = typeset(f"{B}: {kv.vector_size} numbers", font_size=SMALLEST_FONT, color=HIGHLIGHT_COLOR).next_to(column, UP, buff=0.2)
        self.narrate(f"The word {B} looks up its row: these {kv.vector_size} numbers (the first {SHOWN} written out) are "
                     f"all a model knows of {B} at first.", table.lift_row(words.index(B), column), FadeIn(name), run_time=MOTION)
        self.hold("king's numbers", values=[float(v) for v in king[:SHOWN]])

    # ---- the dot product, number by number ----
    def dot_products(self, kv) -> None:
        queen, banana = pair_data(kv, B, EXPECTED), pair_data(kv, B, "banana")
        parts = self.product_parts(queen)
        angle = self.angle_picture(queen.cosine)
        self.narrate(f"How alike are two words? Scale each vector to length 1, multiply the two number by number, and "
                     f"add up all {kv.vector_size} products: the dot product.",
                     self.multiply(parts), enter=[FadeIn(parts["a"]), FadeIn(parts["b"]), FadeIn(parts["signs"]),
                                                  FadeIn(parts["names"])], clear=True, run_time=MOTION)
        self.narrate(f"{B} and {EXPECTED}: {queen.cosine:.2f}. For vectors of length 1 it is the cosine of the angle "
                     f"between them: {np.degrees(np.arccos(queen.cosine)):.0f}°. Two vectors always lie in one plane, so "
                     "this angle is drawn exactly.", FadeIn(parts["sum"], shift=LEFT * 0.3), FadeIn(angle, shift=UP * 0.2),
                     run_time=MOTION)
        self.hold("cosine queen", cosine=queen.cosine, degrees=float(np.degrees(np.arccos(queen.cosine))),
                  arrows=self.arrow_ends(angle))
        other = self.product_parts(banana)
        other_angle = self.angle_picture(banana.cosine)
        self.narrate(f"banana in {EXPECTED}'s place: {banana.cosine:.2f}, an angle of "
                     f"{np.degrees(np.arccos(banana.cosine)):.0f}°. 1 would be the same direction, 0 perpendicular, "
                     "−1 opposite.", *[Change(parts[key], other[key]) for key in ("b", "products", "sum", "names")],
                     Change(angle, other_angle), run_time=MOTION)
        self.hold("cosine banana", cosine=banana.cosine, degrees=float(np.degrees(np.arccos(banana.cosine))),
                  arrows=self.arrow_ends(other_angle))

    def product_parts(self, pair: Pair) -> dict:
        """Two unit vectors, their products and the sum, as columns left to right."""
        scale = max(np.abs(pair.unit_a[:SHOWN]).max(), np.abs(pair.unit_b[:SHOWN]).max())
        a = VectorColumn(pair.unit_a, shown=SHOWN, fmt="{:+.2f}", scale=scale).move_to([-5.2, 0.3, 0])
        b = VectorColumn(pair.unit_b, shown=SHOWN, fmt="{:+.2f}", scale=scale).move_to([-3.3, 0.3, 0])
        products = VectorColumn(pair.products, shown=SHOWN, fmt="{:+.3f}").move_to([-1.0, 0.3, 0])
        times = typeset("×", font_size=28).move_to([-4.25, 0.3, 0])
        equals = typeset("=", font_size=28).move_to([-2.15, 0.3, 0])
        names = VGroup(*[typeset(words, font_size=SMALLEST_FONT, color=GREY).next_to(column, UP, buff=0.15)
                         for words, column in ((pair.a, a), (pair.b, b), ("products", products))])
        total = typeset(f"sum of all {len(pair.products)}: {pair.cosine:.2f}", font_size=22, color=HIGHLIGHT_COLOR)
        total.next_to(products, DOWN, buff=0.3)
        return {"a": a, "b": b, "products": products, "signs": VGroup(times, equals), "names": names, "sum": total}

    @staticmethod
    def multiply(parts: dict):
        """Each pair of numbers slides together into its product's cell, which then shows the product."""
        moves = []
        for left, right, entry in zip(parts["a"].entries, parts["b"].entries, parts["products"].entries):
            ghosts = VGroup(left[0].copy(), right[0].copy())
            moves.append(Succession(ghosts.animate(run_time=1.0).arrange(RIGHT, buff=0).move_to(entry),
                                    AnimationGroup(FadeOut(ghosts), FadeIn(entry), run_time=0.4)))
        return AnimationGroup(FadeIn(parts["products"].brackets), FadeIn(parts["products"].more),
                              LaggedStart(*moves, lag_ratio=0.3))

    @staticmethod
    def angle_picture(cosine: float) -> VGroup:
        """Two unit arrows at the angle whose cosine is `cosine`, with the angle written beside them."""
        origin, length = np.array([2.3, -1.0, 0]), 2.6
        angle = np.arccos(cosine)
        first = Arrow(origin, origin + length * RIGHT, buff=0, color=BAR_COLOR, stroke_width=5)
        second = Arrow(origin, origin + length * np.array([np.cos(angle), np.sin(angle), 0]), buff=0, color=HIGHLIGHT_COLOR,
                       stroke_width=5)
        words = typeset(f"{np.degrees(angle):.0f}°, cosine {cosine:.2f}", font_size=22, color=GREY)
        words.next_to(origin + UP * length, UP, buff=0.25).align_to(origin, LEFT)
        return VGroup(first, second, words)

    @staticmethod
    def arrow_ends(angle: VGroup) -> list[list[list[float]]]:
        """Where the angle picture's two arrows start and end (for the tests)."""
        return [[arrow.get_start()[:2].tolist(), arrow.get_end()[:2].tolist()] for arrow in angle[:2]]

    # ---- every pair at once ----
    def grid(self, kv) -> None:
        units = np.stack([E.unit(E.vector(kv, w)) for w in SIMILAR])
        cosines = units @ units.T
        grid = MatrixGrid(cosines, fmt="{:.2f}", row_labels=SIMILAR, cell_width=1.0).move_to([0.6, -0.2, 0])
        heads = VGroup(*[typeset(w, font_size=SMALLEST_FONT).next_to(cell, UP, buff=0.3).set_y(grid.rows.get_top()[1] + 0.35)
                         for w, cell in zip(SIMILAR, grid.rows[0])])
        at = {w: i for i, w in enumerate(SIMILAR)}
        shown = lambda a, b: f"{a} and {b} {cosines[at[a], at[b]]:.2f}"
        self.narrate(f"Every pair at once: a grid of dot products. {shown(B, EXPECTED)}, {shown('man', 'woman')}, "
                     f"{shown('apple', 'banana')}; across the groups, {shown(B, 'banana')}: words used alike point alike.",
                     LaggedStart(*[FadeIn(row, shift=DOWN * 0.15) for row in grid.rows], lag_ratio=0.25),
                     enter=[FadeIn(grid.brackets), FadeIn(grid.row_labels), FadeIn(heads)], clear=True, run_time=MOTION)
        self.hold("grid", words=SIMILAR, cosines=cosines.tolist())

    # ---- king − man + woman ----
    def analogy(self, kv) -> None:
        result, at = analogy_data(kv)
        dots = {w: Dot(at[w], radius=0.09, color=BAR_COLOR) for w in (A, B, C)}
        names = {A: typeset(A, font_size=22).next_to(at[A], LEFT, buff=0.15),
                 B: typeset(B, font_size=22).next_to(at[B], RIGHT, buff=0.15),
                 C: typeset(C, font_size=22).next_to(at[C], UP, buff=0.15)}
        to_king = LabelledArrow(at[A], at[B], f"{B} − {A}", color=GREY, side=DOWN, stroke_width=4)
        to_woman = LabelledArrow(at[A], at[C], f"{C} − {A}", color=POSITIVE_COLOR, side=RIGHT, at=0.45, stroke_width=4)
        self.narrate(f"Directions can carry meaning. The famous test: {B} − {A} + {C}. Drawn in the plane through {A}, "
                     f"{B} and {C} (their unit vectors), to scale: in that plane the arithmetic stays exact.",
                     LaggedStart(to_king.grow(), to_woman.grow(), lag_ratio=0.5),
                     enter=[*[FadeIn(d) for d in dots.values()], *[FadeIn(n) for n in names.values()]], clear=True, run_time=MOTION)
        moved = to_woman.arrow.copy()
        star = Star(outer_radius=0.17, color=HIGHLIGHT_COLOR, fill_opacity=1).move_to(at["target"])
        star_name = typeset(f"{B} − {A} + {C}", font_size=22, color=HIGHLIGHT_COLOR).next_to(star, RIGHT, buff=0.2)
        queen = Dot(at[EXPECTED], radius=0.09, color=BAR_COLOR)
        queen_name = typeset(f"{EXPECTED}'s shadow", font_size=SMALLEST_FONT).next_to(queen, LEFT, buff=0.15)
        self.narrate(f"Slide the arrow {C} − {A} to start at {B}: its tip, the star, is {B} − {A} + {C}. {EXPECTED} lies "
                     "off this plane; the dot near the star is its shadow on it.",
                     Succession(moved.animate(run_time=2.0).shift(at[B] - at[A]), AnimationGroup(FadeIn(star), FadeIn(star_name)),
                                AnimationGroup(FadeIn(queen), FadeIn(queen_name),
                                               Create(DashedLine(at["target"], at[EXPECTED], color=HIGHLIGHT_COLOR, dash_length=0.08)))),
                     run_time=MOTION)
        self.hold("target", target=at["target"][:2].tolist(), queen=at[EXPECTED][:2].tolist())
        lists = self.rankings(result)
        for index, sentence in enumerate(caption_parts(E.analogy_verdict(kv, [(A, B, C, EXPECTED)]).plain.replace("\n- ", " "))):
            self.narrate(sentence, LaggedStart(*[FadeIn(line, shift=LEFT * 0.2) for line in lists], lag_ratio=0.5)
                         if index == 0 else Indicate(lists[0][1], color=HIGHLIGHT_COLOR), run_time=MOTION)
            self.mark(f"ranking {index}", with_inputs=result.with_inputs, without_inputs=result.without_inputs,
                      ranks=[result.expected_rank_without_inputs, result.expected_rank_with_inputs])
        self.pause(1)

    @staticmethod
    def rankings(result: E.Analogy) -> VGroup:
        """The words nearest the star, counting every word, and with the three inputs left out (as gensim does)."""
        lists = VGroup()
        for heading, ranked in (("counting every word", result.with_inputs), ("inputs left out", result.without_inputs)):
            lines = [typeset(heading, font_size=SMALLEST_FONT, color=GREY)]
            lines += [typeset(f"{rank}. {word}  {cosine:.3f}", font_size=SMALLEST_FONT,
                              color=HIGHLIGHT_COLOR if word == result.expected else "#ffffff")
                      for rank, (word, cosine) in enumerate(ranked[:RANKED], start=1)]
            lists.add(VGroup(*lines).arrange(DOWN, aligned_edge=LEFT, buff=0.12))
        return lists.arrange(RIGHT, buff=0.5, aligned_edge=UP).to_edge(RIGHT, buff=0.4).align_to(UP * 3.6, UP)

    # ---- directions, tested ----
    def directions(self, kv) -> None:
        found = directions_data(kv)
        axes = VGroup(Line(FAN_ORIGIN + LEFT * 2.0, FAN_ORIGIN + RIGHT * 4.2, color=GREY, stroke_width=2),
                      Line(FAN_ORIGIN, FAN_ORIGIN + UP * 4.1, color=GREY, stroke_width=2))
        gender = found["gender"]
        along = typeset(f"→ along the averaged {gender.name} direction", font_size=SMALLEST_FONT, color=GREY)
        along.next_to(axes[0], DOWN, buff=0.12).align_to(axes[0], RIGHT)
        rest = typeset("↑ the rest of the step, in any of the other directions", font_size=SMALLEST_FONT, color=GREY)
        rest.next_to(FAN_ORIGIN + UP * 4.1, RIGHT, buff=0.15).align_to(FAN_ORIGIN + UP * 3.9, UP)
        fan, table = self.fan(gender), self.table(gender)
        self.narrate(f"Does one direction mean female? Average the steps of {len(E.GENDER_PAIRS)} pairs (he → she, "
                     f"king → queen, …) into one direction, →. Each step below is drawn at its true angle to it, over all "
                     f"{gender.dimensions} numbers, and at its true length.",
                     LaggedStart(*[GrowArrow(arrow) for arrow in fan["pairs"]], lag_ratio=0.2),
                     enter=[FadeIn(axes), FadeIn(along), FadeIn(rest)], clear=True, run_time=MOTION)
        self.mark_fan("gender fan", gender, fan)
        self.verdict(gender, fan, table)
        plural = found["plural"]
        new_along = typeset(f"→ along the averaged {plural.name} direction", font_size=SMALLEST_FONT, color=GREY).move_to(along)
        new_fan, new_table = self.fan(plural), self.table(plural)
        self.narrate(f"The same test for plurals: a direction averaged over {len(E.PLURAL_PAIRS)} other pairs (cat → cats, "
                     f"dog → dogs, …), and six steps it never saw: {PLURAL_SHOWN[0][0]} → {PLURAL_SHOWN[0][1]}, "
                     f"{PLURAL_SHOWN[1][0]} → {PLURAL_SHOWN[1][1]}, …",
                     Change(fan["pairs"], new_fan["pairs"]), Change(along, new_along), FadeOut(table), FadeOut(fan["control"]),
                     FadeOut(fan["cone"]), run_time=MOTION)
        self.mark_fan("plural fan", plural, new_fan)
        self.verdict(plural, new_fan, new_table)

    def fan(self, found: E.DirectionSteps) -> dict:
        """The pairs' steps and CONTROL_DRAWN random steps as arrows from FAN_ORIGIN, and the rays within which
        E.BEYOND of all the random steps lie."""
        pairs = VGroup(*[Arrow(FAN_ORIGIN, fan_point(c, length), buff=0, color=POSITIVE_COLOR, stroke_width=4,
                               max_tip_length_to_length_ratio=0.12)
                         for c, length in zip(found.cosines, found.lengths)])
        control = VGroup(*[Arrow(FAN_ORIGIN, fan_point(c, length), buff=0, color=GREY, stroke_width=2,
                                 max_tip_length_to_length_ratio=0.08).set_opacity(0.7)
                           for c, length in zip(found.control_cosines[:CONTROL_DRAWN], found.control_lengths[:CONTROL_DRAWN])])
        reach = 3.4  # below the words at the top of the vertical axis
        cone = VGroup(*[DashedLine(FAN_ORIGIN, FAN_ORIGIN + reach * np.array([sign * found.threshold, np.sqrt(1 - found.threshold ** 2), 0]),
                                   color=NEGATIVE_COLOR, stroke_width=2, dash_length=0.1) for sign in (1, -1)])
        return {"pairs": pairs, "control": control, "cone": cone}

    def table(self, found: E.DirectionSteps) -> VGroup:
        """Each step's cosine with the direction, coloured as a number cell is."""
        lines = [typeset("cosine with →", font_size=SMALLEST_FONT, color=GREY)]
        for (a, b), c in zip(found.pairs, found.cosines):
            lines.append(typeset(f"{a} → {b}  {c:.2f}", font_size=SMALLEST_FONT,
                                 color=POSITIVE_COLOR if c > found.threshold else NEGATIVE_COLOR))
        return VGroup(*lines).arrange(DOWN, aligned_edge=LEFT, buff=0.13).move_to([5.4, 1.0, 0])

    def mark_fan(self, name: str, found: E.DirectionSteps, fan: dict) -> None:
        self.mark(name, pairs=found.pairs, cosines=found.cosines, lengths=found.lengths,
                  tips=[arrow.get_end()[:2].tolist() for arrow in fan["pairs"]])

    def verdict(self, found: E.DirectionSteps, fan: dict, table: VGroup) -> None:
        """The direction's verdict, cut into captions: the steps' cosines (the table), then the random steps (grey
        arrows, and the rays that hold BEYOND of them) and the finding; a mark at each caption."""
        found_verdict = E.direction_verdict(found)
        shows = [LaggedStart(*[FadeIn(line, shift=LEFT * 0.2) for line in table], lag_ratio=0.15),
                 AnimationGroup(LaggedStart(*[GrowArrow(a) for a in fan["control"]], lag_ratio=0.1), Create(fan["cone"])),
                 LaggedStart(*[Indicate(arrow, color=HIGHLIGHT_COLOR) for arrow in fan["pairs"]], lag_ratio=0.15)]
        for index, sentence in enumerate(caption_parts(found_verdict.plain)):
            self.narrate(sentence, shows[min(index, len(shows) - 1)], run_time=MOTION)
            self.mark(f"{found.name} verdict {index}", cosines=found.cosines, threshold=found.threshold,
                      holds=found_verdict.holds)
        self.pause(1)
