"""Words as vectors: GloVe words as arrows, the dot product as alignment, king − man + woman with king
nearest itself (as the talk found), and the directions for gender and for plurals."""

import numpy as np
from manim import DOWN, LEFT, ORIGIN, RIGHT, UP, Arrow, Create, DashedLine, Dot, FadeIn, GrowArrow, Star, VGroup

from explainer import embeddings as E
from explainer.style import BAR_COLOR, HIGHLIGHT_COLOR, POSITIVE_COLOR
from explainer.video.pieces import GREY, VectorColumn, labels_apart, typeset
from explainer.video.scene import Chapter

NEIGHBOURS = ["king", "queen", "man", "woman", "apple", "banana", "paris", "london"]
A, B, C, EXPECTED = "man", "king", "woman", "queen"
PLANE_SCALE, PLANE_OFFSET = 5.5, np.array([-3.0, -1.1])
GENDER_SHOWN = [("man", "woman"), ("king", "queen"), ("boy", "girl"), ("men", "women"), ("kings", "queens"), ("boys", "girls")]
PLURAL_SHOWN = [("man", "men"), ("king", "kings"), ("boy", "boys"), ("woman", "women"), ("queen", "queens"), ("girl", "girls")]


def to_scene(xy, scale: float, offset=np.zeros(2)) -> np.ndarray:
    return np.array([*(offset + scale * np.asarray(xy)), 0.0])


def neighbourhood_data(kv) -> dict[str, np.ndarray]:
    """The words' unit vectors projected on their first two principal components, in scene units (shared with tests)."""
    coordinates, _ = E.pca(kv, NEIGHBOURS, 2)
    coordinates = coordinates / np.abs(coordinates).max() * 3.0
    return {w: np.array([*xy, 0.0]) for w, xy in zip(NEIGHBOURS, coordinates)}


def analogy_data(kv) -> tuple[E.Analogy, dict[str, np.ndarray]]:
    """king − man + woman and the points of the plane that holds it exactly, in scene units (shared with tests)."""
    result = E.analogy(kv, A, B, C, EXPECTED)
    points = E.analogy_plane(kv, result, extra=[EXPECTED])
    return result, {w: to_scene(xy, PLANE_SCALE, PLANE_OFFSET) for w, xy in points.items()}


def directions_data(kv) -> dict[str, np.ndarray]:
    """Words measured along the gender direction (x) and the plural direction (y), each axis stretched to fill the
    picture (x in −5 … 5, y in −1.6 … 2.4 scene units; shared with tests)."""
    gender, plural = E.direction(kv, E.GENDER_PAIRS), E.direction(kv, E.PLURAL_PAIRS)
    words = list(dict.fromkeys(w for pair in GENDER_SHOWN + PLURAL_SHOWN for w in pair))
    xy = E.project(kv, words, [gender, plural])
    low, high = xy.min(axis=0), xy.max(axis=0)
    unit = (xy - low) / (high - low)
    return {w: np.array([-5 + 10 * u[0], -1.6 + 4 * u[1], 0.0]) for w, u in zip(words, unit)}


class WordsAsVectors(Chapter):
    def chapter(self):
        kv = E.load_glove()
        self.title_card("embeddings: meaning as direction (GloVe, 400,000 words, 50 numbers each)")
        self.caption("Before anything else, each token becomes a long list of numbers, looked up in a table: its "
                     "embedding. Here is the word “king” in GloVe, a published set of word vectors.")
        king = E.vector(kv, "king")
        numbers = VectorColumn(king[:8], font_size=22).shift(UP * 0.6)
        more = typeset(f"… and {len(king) - 8} more", font_size=22, color=GREY).next_to(numbers, DOWN, buff=0.25)
        label = typeset("king", font_size=34, color=HIGHLIGHT_COLOR).next_to(numbers, LEFT, buff=0.6)
        self.play(FadeIn(label), FadeIn(numbers), FadeIn(more))
        self.hold("king's numbers", 1.5, values=[float(v) for v in king[:8]])
        self.clear()

        self.caption("Training puts words that are used alike in similar directions. Fifty dimensions cannot be drawn; "
                     "this is the flat view that shows the most of these eight words.")
        at = neighbourhood_data(kv)
        arrows = {w: Arrow(ORIGIN, at[w], buff=0, color=BAR_COLOR, stroke_width=4, max_tip_length_to_length_ratio=0.12)
                  for w in NEIGHBOURS}
        names = labels_apart(at, 22)
        self.play(*[GrowArrow(a) for a in arrows.values()], FadeIn(names), run_time=1.5)
        self.hold("neighbourhood", 2, points={w: p[:2].tolist() for w, p in at.items()})
        near = E.unit(E.vector(kv, "king")) @ E.unit(E.vector(kv, "queen"))
        far = E.unit(E.vector(kv, "king")) @ E.unit(E.vector(kv, "banana"))
        self.caption(f"The dot product of two unit vectors, the cosine, measures how aligned they are: king and queen "
                     f"{near:.2f}, king and banana {far:.2f}. Positive: alike; zero: unrelated; negative: opposed.")
        self.play(arrows["king"].animate.set_color(HIGHLIGHT_COLOR), arrows["queen"].animate.set_color(HIGHLIGHT_COLOR))
        self.pause(2)
        self.clear()

        self.caption("Directions can carry meaning. The famous test: start from king, subtract man, add woman.")
        result, at = analogy_data(kv)
        dots = {w: Dot(at[w], radius=0.09, color=BAR_COLOR) for w in (A, B, C, EXPECTED)}
        for word in (A, B, C):
            self.play(FadeIn(dots[word]), FadeIn(typeset(word, font_size=24).next_to(dots[word], DOWN if word != C else UP, buff=0.12)),
                      run_time=0.5)
        king_minus_man = Arrow(at[A], at[B], buff=0.1, color=GREY, stroke_width=4)
        difference = Arrow(at[A], at[C], buff=0.1, color=POSITIVE_COLOR, stroke_width=5)
        self.play(GrowArrow(king_minus_man), GrowArrow(difference))
        self.caption("The arrow from man to woman is the difference woman − man. Slide it to start at king.")
        moved = difference.copy()
        self.play(moved.animate.shift(at[B] - at[A]), run_time=2)
        star = Star(outer_radius=0.17, color=HIGHLIGHT_COLOR, fill_opacity=1).move_to(at["target"])
        self.play(FadeIn(star))
        self.hold("target", 1.5, target=at["target"][:2].tolist())
        queen_label = typeset("queen (projected onto this plane)", font_size=20).next_to(dots[EXPECTED], RIGHT, buff=0.15)
        self.play(FadeIn(dots[EXPECTED]), FadeIn(queen_label), Create(DashedLine(at["target"], at[EXPECTED], color=HIGHLIGHT_COLOR)))
        self.hold("queen", 1, queen=at[EXPECTED][:2].tolist())
        nearest, nearest_cos = result.with_inputs[0]
        self.caption(f"Where does it land? Nearest of all 400,000 words: “{nearest}” itself (cosine {nearest_cos:.3f}); "
                     f"queen is number {result.expected_rank_with_inputs} ({result.expected_cosine:.3f}), as the talk "
                     "found. Popular code hides this by leaving the input words out.")
        self.pause(1)
        self.clear()

        self.caption("A cleaner way to see a direction: average many differences. Here every word is placed by how far it "
                     "points along the averaged gender direction (→) and the averaged plural direction (↑).")
        at = directions_data(kv)
        words = VGroup(*[Dot(p, radius=0.07, color=BAR_COLOR) for p in at.values()], labels_apart(at, 20))
        axes = VGroup(typeset("more female →", font_size=18, color=GREY).move_to(RIGHT * 5.2 + DOWN * 2.0),
                      typeset("↑ more plural", font_size=18, color=GREY).move_to(LEFT * 5.6 + UP * 2.6))
        self.play(FadeIn(words), FadeIn(axes))
        gender = VGroup(*[Arrow(at[a], at[b], buff=0.1, color=POSITIVE_COLOR, stroke_width=4) for a, b in GENDER_SHOWN])
        self.play(*[GrowArrow(g) for g in gender], run_time=1.5)
        self.hold("gender", 1, pairs={f"{a}→{b}": [at[a][:2].tolist(), at[b][:2].tolist()] for a, b in GENDER_SHOWN})
        self.caption(f"man → woman, king → queen, boy → girl, and their plurals: the steps in the full 50 numbers have a mean "
                     f"cosine of {E.step_alignment(kv, GENDER_SHOWN):.2f} with each other. The talk: “one specific "
                     "direction in this space with the notion of gender”.")
        plural = VGroup(*[Arrow(at[a], at[b], buff=0.1, color=HIGHLIGHT_COLOR, stroke_width=4) for a, b in PLURAL_SHOWN])
        self.play(*[GrowArrow(p) for p in plural], run_time=1.5)
        self.caption(f"And another for plurals: man → men, king → kings, queen → queens (mean cosine "
                     f"{E.step_alignment(kv, PLURAL_SHOWN):.2f}). A direction is a meaning that can be added or subtracted; "
                     "attention adds such changes to a word's vector.")
        self.pause(2)
