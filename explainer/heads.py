"""Which heads do what, measured with controls: every (layer, head) scored on word pairs of the validation text.

The talk's running example is a head in which a noun ("creature") reads the adjectives in front of it ("fluffy",
"blue"). Whether our model has such a head is a question for measurement, and a measurement needs controls: the
adjective is always the token just before its noun, so a head that reads the previous token whatever it is, or one
that reads an adjective from whatever token follows it, scores high too. So every head is scored on five kinds of
neighbouring pairs (KINDS), each time as the weight the second token's attention puts on the first:

- adjective → its noun ("noble lord"): the talk's job;
- adjective → another word ("noble and"): does any token read the adjective, or only its noun?
- another word → one of those nouns ("said lord"): does the noun read whatever precedes it?
- determiner → one of those nouns ("the lord");
- any token → the one before it, at random places: the head's habit of reading the previous token.

Without a part-of-speech tagger, a noun is a word that follows a determiner (the, a, my, thy, ...) in at least
NOUN_SHARE of its occurrences in the training text; adjectives are a list of about forty frequent ones. The rule, the
lists and the pairs found ship in data/precomputed/modifier_pairs.json.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Sequence

import torch

from explainer.errors import ExplainerError
from explainer.files import read_json, shipped_measurement, write_json, write_measurement
from explainer.gpt import budget, data
from explainer.gpt.checkpoint import LanguageModel
from explainer.gpt.hooks import act_name
from explainer.paths import DATA_DIR
from explainer.verdict import Verdict, times

ADJECTIVES = ("good", "great", "true", "sweet", "fair", "old", "poor", "noble", "dead", "little", "long", "dear",
              "young", "full", "gentle", "false", "honest", "kind", "strange", "high", "new", "bloody", "foul", "royal",
              "worthy", "happy", "gracious", "holy", "cold", "proud", "free", "grave", "strong", "hard", "sovereign",
              "heavy", "wise", "merry", "rich", "valiant")
DETERMINERS = ("the", "a", "an", "my", "thy", "his", "her", "our", "your", "their", "this", "that", "these", "those")
NOUN_SHARE = 0.2  # a word counts as a noun if at least this share of its occurrences follow a determiner
NOUN_MIN_COUNT = 10
PAIRS_FILE = DATA_DIR / "precomputed" / "modifier_pairs.json"
REMAKE = "explainer precompute modifier-pairs"

MODIFIER, AFTER_ADJECTIVE, BEFORE_NOUN, DETERMINER, ANY = (
    "adjective → its noun", "adjective → another word", "another word → noun", "determiner → noun", "any token → the one before")
KINDS = (MODIFIER, AFTER_ADJECTIVE, BEFORE_NOUN, DETERMINER, ANY)
PAIRS_PER_KIND = 400  # pairs measured per kind (drawn with a seed when the text has more)
MIN_PAIRS = 20  # fewer than this a kind says nothing: a model too slow for it is not scored
MEASURE_WINDOW = 64  # tokens of text each pair is read in, whatever the model's context: memory stays bounded
SELECTIVE = 1.5  # "singles out": at least this many times the controls' weight
FOCUSED = 3.0  # ... and at least this many times what uniform attention would give


def noun_like_words(text: str) -> set[str]:
    """Words that follow a determiner in at least NOUN_SHARE of their (lower-case) occurrences in `text`."""
    lower = text.lower()
    counts = Counter(re.findall(r"[a-z]+", lower))
    after = Counter(re.findall(r"\b(?:" + "|".join(DETERMINERS) + r")\s+([a-z]+)\b", lower))
    return {w for w, n in counts.items() if n >= NOUN_MIN_COUNT and after[w] / n >= NOUN_SHARE and w not in ADJECTIVES}


@dataclass(frozen=True)
class Pair:
    start: int  # character offset of the first word in the text
    first: str
    second: str


def word_pairs(text: str) -> list[Pair]:
    """Every two lower-case words in a row, one space apart, the first starting a word (overlapping pairs included)."""
    return [Pair(m.start(), m.group(1), m.group(2)) for m in re.finditer(r"(?<![A-Za-z'])(?=([a-z]+) ([a-z]+)\b)", text)]


def classify_pairs(text: str, adjectives: set[str], nouns: set[str]) -> dict[str, list[Pair]]:
    """The pairs of `text` of each kind but ANY (see the module's docstring). `nouns` are the nouns that follow an
    adjective somewhere in the text, so that the controls read the very nouns the talk's job is measured on."""
    pairs = word_pairs(text)
    modified = {p.second for p in pairs if p.first in adjectives and p.second in nouns}
    found = {kind: [] for kind in KINDS[:-1]}
    determiners = set(DETERMINERS)
    for pair in pairs:
        if pair.first in adjectives and pair.second in modified:
            found[MODIFIER].append(pair)
        elif pair.first in adjectives and pair.second not in nouns and pair.second not in adjectives:
            found[AFTER_ADJECTIVE].append(pair)
        elif pair.first not in adjectives and pair.first not in determiners and pair.second in modified:
            found[BEFORE_NOUN].append(pair)
        elif pair.first in determiners and pair.second in modified:
            found[DETERMINER].append(pair)
    return found


def write_modifier_pairs() -> str:
    """Find the pairs in the validation text and write PAIRS_FILE (what `explainer precompute modifier-pairs` runs)."""
    split = data.train_val_split(data.shakespeare_text())
    found = classify_pairs(split.val, set(ADJECTIVES), noun_like_words(split.train))
    write_json(PAIRS_FILE, {
        "made_by": REMAKE,
        "rule": (f"adjectives: the list below; nouns: words of the training text that follow a determiner ({', '.join(DETERMINERS)}) "
                 f"in at least {NOUN_SHARE:.0%} of their at least {NOUN_MIN_COUNT} occurrences, adjectives excluded, and that "
                 "follow one of the adjectives in the validation text; pairs: two lower-case words of the validation text one "
                 "space apart, sorted into the kinds below"),
        "adjectives": list(ADJECTIVES), "determiners": list(DETERMINERS),
        "nouns": sorted({p.second for p in found[MODIFIER]}),
        "pairs": {kind: [asdict(p) for p in pairs] for kind, pairs in found.items()},
        "counts": {kind: len(pairs) for kind, pairs in found.items()},
    })
    return str(PAIRS_FILE)


def shipped_pairs() -> dict[str, list[Pair]]:
    return {kind: [Pair(**p) for p in pairs] for kind, pairs in read_json(PAIRS_FILE, REMAKE)["pairs"].items()}


def measure_window(lm: LanguageModel) -> int:
    return min(lm.block_size, MEASURE_WINDOW)


def pair_windows(lm: LanguageModel, text: str, pairs: list[Pair], cap: int = PAIRS_PER_KIND, seed: int = 0) -> list[list[int]]:
    """Up to `cap` windows of measure_window tokens, each ending with a pair's two words as two whole tokens (with
    their spaces); pairs split into pieces, or too close to the start to fill a window, are left out."""
    order = list(pairs)
    random.Random(seed).shuffle(order)
    size, windows = measure_window(lm), []
    for pair in order:
        end = pair.start + len(pair.first) + 1 + len(pair.second)
        ids = lm.tokenizer.encode(text[max(0, end - 8 * size):end])  # 8 characters a token is always enough
        if len(ids) >= size and lm.tokens(ids[-2:]) == [f" {pair.first}", f" {pair.second}"]:
            windows.append(ids[-size:])
            if len(windows) == cap:
                break
    return windows


def random_windows(lm: LanguageModel, text: str, count: int, seed: int = 0) -> list[list[int]]:
    """`count` windows of measure_window tokens starting at random places of the text."""
    ids, size = lm.tokenizer.encode(text), measure_window(lm)
    generator = torch.Generator().manual_seed(seed)
    return [ids[s:s + size] for s in torch.randint(0, len(ids) - size, (count,), generator=generator).tolist()]


def last_token_attention(lm: LanguageModel, windows: list[list[int]]) -> torch.Tensor:
    """Attention of each window's last token: [windows, layer, head, key]."""
    layers = range(lm.model.config.n_layer)
    patterns = [act_name("pattern", l) for l in layers]
    return torch.cat([torch.stack([cache[name][:, :, -1, :] for name in patterns], 1) for cache in lm.scan(windows, patterns)])


@dataclass
class HeadScores:
    """Every head's mean weight from the second token of a pair to the first, for each kind of pair (KINDS)."""

    weights: dict[str, torch.Tensor]  # kind → [layer, head]
    pairs: dict[str, int]  # kind → pairs measured
    uniform: float  # the weight uniform attention gives one key from the last position of a window

    @property
    def selectivity(self) -> torch.Tensor:
        """How much more a noun reads its adjective than the stronger of the two controls at the same distance (an
        adjective read by another word; a noun reading another word): [layer, head]."""
        return self.weights[MODIFIER] - torch.maximum(self.weights[AFTER_ADJECTIVE], self.weights[BEFORE_NOUN])

    def ranked(self) -> list[tuple[int, int]]:
        """(layer, head) from the most selective down."""
        heads = self.selectivity.shape[1]
        return [divmod(i, heads) for i in torch.argsort(self.selectivity.flatten(), descending=True).tolist()]

    def best(self) -> tuple[int, int]:
        return self.ranked()[0]

    def of(self, layer: int, head: int) -> dict[str, float]:
        return {kind: float(w[layer, head]) for kind, w in self.weights.items()}


def score_heads(lm: LanguageModel, text: str, pairs: dict[str, list[Pair]], seed: int = 0,
                cap: int = PAIRS_PER_KIND) -> HeadScores:
    """Score every head on up to `cap` pairs of each kind found in `text`, and on as many random places of it (ANY)."""
    windows = {kind: pair_windows(lm, text, found, cap, seed) for kind, found in pairs.items()}
    if not windows.get(MODIFIER):
        raise ExplainerError("none of the adjective → noun pairs is a pair of whole tokens for this tokenizer; "
                             "a vocabulary with whole words is needed to measure this")
    windows[ANY] = random_windows(lm, text, cap, seed)
    weights = {kind: last_token_attention(lm, found)[..., -2].mean(0) for kind, found in windows.items() if found}
    return HeadScores(weights, {kind: len(found) for kind, found in windows.items() if found}, 1 / measure_window(lm))


def shipped_head_scores(lm: LanguageModel, cap: int = PAIRS_PER_KIND) -> HeadScores:
    """score_heads on the shipped pairs and the validation text."""
    return score_heads(lm, data.validation_text(lm.tokenizer), shipped_pairs(), cap=cap)


def affordable_pairs(lm: LanguageModel) -> int:
    """Pairs a kind this model can be scored on while a notebook runs (all PAIRS_PER_KIND for a small model)."""
    return budget.windows_for(lm.model, PAIRS_PER_KIND, measure_window(lm) * len(KINDS), least=MIN_PAIRS)


def describe_head(scores: HeadScores, layer: int, head: int) -> Verdict:
    """What one head does with neighbouring words, from its weights on the kinds of pairs (thresholds SELECTIVE
    and FOCUSED). The claim tested is the talk's: a noun reads its adjective more than anything else reads it."""
    w = scores.of(layer, head)
    modifier, after, before, determiner = (w[k] for k in (MODIFIER, AFTER_ADJECTIVE, BEFORE_NOUN, DETERMINER))
    numbers = (f"a noun gives its adjective **{modifier:.2f}** of its attention; another word gives an adjective just before "
               f"it {after:.2f}; these nouns give another word just before them {before:.2f} and a determiner {determiner:.2f}")
    holds = modifier >= SELECTIVE * max(after, before) and modifier >= FOCUSED * scores.uniform
    if holds:
        finding = (f"It singles out a noun's adjective, as the talk's head does: {times(modifier, max(after, before))} "
                   "the stronger control.")
    elif min(modifier, after) >= SELECTIVE * before:
        finding = ("It reads an adjective whatever word follows it, not only its noun: it is not the talk's noun asking for "
                   "its adjectives.")
    elif min(modifier, before) >= SELECTIVE * after:
        finding = "Its nouns read the word before them whatever it is, an adjective no more than another word."
    else:
        finding = "It reads an adjective from its noun no more than it reads the other neighbours measured here."
    return Verdict(holds, "a noun reads its adjective more than anything else reads it",
                   f"Layer {layer}, head {head}: {numbers}. {finding}")


def best_head_verdict(scores: HeadScores | None, unmeasured: str = "") -> Verdict:
    """Does any head do the talk's job? The most selective head, described (see describe_head)."""
    if scores is None:
        return Verdict(False, "a noun reads its adjective more than anything else reads it",
                       f"No head of this model could be scored: {unmeasured}")
    layer, head = scores.best()
    found = describe_head(scores, layer, head)
    counts = ", ".join(f"{n} {kind}" for kind, n in scores.pairs.items() if kind != ANY)
    summary = (f"Measured on the validation text ({counts} pairs), with uniform attention over a window at "
               f"{scores.uniform:.3f}. The head whose noun reads its adjective most beyond the controls is: {found.text}")
    if not found.holds:
        summary += (f" So no head of this model does the talk's job (a noun's weight on its adjective at least {SELECTIVE:g}× "
                    "both controls); a designed head shows what that job looks like when a head does it.")
    return Verdict(found.holds, found.claim, summary)


def previous_token_weights(lm: LanguageModel) -> tuple[torch.Tensor, int]:
    """Every head's mean weight on the token before the query at random places of the validation text [layer, head],
    and how many places: from the running example's scores, or measured now when those could not be made."""
    scores = running_example(lm).scores
    if scores is not None:
        return scores.weights[ANY], scores.pairs[ANY]
    count = budget.windows_for(lm.model, PAIRS_PER_KIND, measure_window(lm), least=1)
    windows = random_windows(lm, data.validation_text(lm.tokenizer), count)
    return last_token_attention(lm, windows)[..., -2].mean(0), len(windows)


def strongest_previous_token_head(lm: LanguageModel) -> tuple[int, int]:
    weights, _ = previous_token_weights(lm)
    return divmod(int(torch.argmax(weights)), weights.shape[1])


def previous_token_verdict(lm: LanguageModel) -> Verdict:
    """Which head reads the previous token most, over the validation text, against uniform attention."""
    weights, places = previous_token_weights(lm)
    layer, head = strongest_previous_token_head(lm)
    weight, uniform = float(weights[layer, head]), 1 / measure_window(lm)
    return Verdict(weight >= FOCUSED * uniform, "some head reads the previous token",
                   f"Measured at {places} random places of the validation text, the strongest reader of the previous token "
                   f"is **layer {layer}, head {head}**: {weight:.0%} of the last token's attention goes to the token just "
                   f"before it, against {uniform:.1%} for uniform attention over the window.")


@dataclass
class RunningExample:
    """The head that reads a noun's adjective most beyond the controls, and a corpus line on which it does: what
    notebook and video follow in place of the talk's invented sentence."""

    prompt: str
    layer: int
    head: int
    adjective_position: int
    noun_position: int
    weight: float  # this head's attention from the noun to the adjective on this line
    lines: int  # labelled lines the line was chosen from (the one where the weight is largest)
    scores: HeadScores | None  # None when no head could be scored (see `unmeasured`)
    unmeasured: str = ""  # why no head could be scored, when scores is None


def line_of(text: str, position: int) -> str:
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    return text[start:end if end >= 0 else len(text)]


def whole_word_tokens(lm: LanguageModel, line: str) -> bool:
    """Every word of the line is one token (punctuation may be its own token)."""
    return all(len(lm.tokenizer.encode(word)) == 1 for word in re.findall(r" ?[A-Za-z']+", line))


EXAMPLE_FILE = DATA_DIR / "precomputed" / "running_example.json"
EXAMPLE_REMAKE = "explainer precompute running-example"


def write_running_example() -> str:
    """Measure the shipped model and write EXAMPLE_FILE (what `explainer precompute running-example` runs)."""
    from explainer.gpt import checkpoint

    lm = checkpoint.load()
    example = find_running_example(lm)
    record = {k: v for k, v in asdict(example).items() if k != "scores"}
    scores = example.scores
    write_measurement(EXAMPLE_FILE, EXAMPLE_REMAKE, lm.digest, {
        "example": record, "scores": {"weights": {k: w.tolist() for k, w in scores.weights.items()}, "pairs": scores.pairs,
                                      "uniform": scores.uniform}})
    return str(EXAMPLE_FILE)


@lru_cache(maxsize=4)
def running_example(lm: LanguageModel) -> RunningExample:
    """The running example for this model: read from EXAMPLE_FILE when it was measured on these exact weights (the
    shipped model), else measured now (a few seconds)."""
    shipped = shipped_measurement(EXAMPLE_FILE, EXAMPLE_REMAKE, lm.digest)
    if shipped is not None:
        s = shipped["scores"]
        scores = HeadScores({k: torch.tensor(w) for k, w in s["weights"].items()}, s["pairs"], s["uniform"])
        return RunningExample(**shipped["example"], scores=scores)
    try:
        return find_running_example(lm, cap=affordable_pairs(lm))
    except budget.TooSlowError as error:
        return fallback_example(lm, unmeasured=f"{error}.")


def find_running_example(lm: LanguageModel, max_tokens: int = 14, cap: int = PAIRS_PER_KIND) -> RunningExample:
    """The most selective head (HeadScores.ranked, on up to `cap` pairs a kind), and the validation line (whole-word
    tokens, at most `max_tokens`) on which that head's noun reads its adjective the most."""
    try:
        scores = shipped_head_scores(lm, cap)
    except ExplainerError as error:
        return fallback_example(lm, unmeasured=f"{error}.")
    layer, head = scores.best()
    text = data.validation_text(lm.tokenizer)
    best, lines = None, 0
    for pair in shipped_pairs()[MODIFIER]:
        line = line_of(text, pair.start)
        ids = lm.tokenizer.encode(line)
        if not 4 <= len(ids) <= max_tokens or not whole_word_tokens(lm, line):
            continue
        tokens = lm.tokens(ids)
        for noun in range(2, len(tokens)):  # the adjective not first: a first token is read as a resting place
            if tokens[noun - 1].strip() == pair.first and tokens[noun].strip() == pair.second:
                lines += 1
                _, cache = lm.model.run_with_cache(torch.tensor([ids], device=lm.device), act_name("pattern", layer))
                weight = float(cache[act_name("pattern", layer)][0, head, noun, noun - 1])
                if best is None or weight > best.weight:
                    best = RunningExample(line, layer, head, noun - 1, noun, weight, 0, scores)
    if best is None:
        return fallback_example(lm, scores, layer, head)
    best.lines = lines
    return best


FALLBACK_PROMPT = "Have patience, gentle friends, I must not read it;"


def fallback_example(lm: LanguageModel, scores: HeadScores | None = None, layer: int = 0, head: int = 0,
                     unmeasured: str = "") -> RunningExample:
    """When no labelled line is made of this model's whole-word tokens (or no head could be scored): a fixed line and
    its last two tokens."""
    ids = lm.encode(FALLBACK_PROMPT)
    _, cache = lm.model.run_with_cache(torch.tensor([ids], device=lm.device), act_name("pattern", layer))
    weight = float(cache[act_name("pattern", layer)][0, head, len(ids) - 1, len(ids) - 2])
    return RunningExample(FALLBACK_PROMPT, layer, head, len(ids) - 2, len(ids) - 1, weight, 1, scores, unmeasured)


def example_line_text(example: RunningExample) -> str:
    """What the followed line shows, set beside the average it was chosen against (Markdown)."""
    if example.scores is None:
        return f"layer {example.layer}, head {example.head} on a fixed line: weight {example.weight:.2f}, unmeasured"
    average = float(example.scores.weights[MODIFIER][example.layer, example.head])
    return (f"**{example.weight:.2f}** on this line, the largest of the {example.lines} labelled lines it was chosen "
            f"from; the average over all measured pairs is {average:.2f}")


ARRIVED_SHARE = 0.01  # "arrived": the adjective is among this share of the vocabulary that Δe points toward most


def arrival_verdict(lm: LanguageModel, steps, noun: int, adjective: int) -> Verdict:
    """Did the adjective arrive in the noun's vector? The cosine of Δe with the adjective's embedding, set beside its
    cosine with every other token's embedding (the control): how many tokens Δe points toward more."""
    embeddings = lm.layout.W_E.cpu()[:lm.vocab_size]
    cosines = torch.nn.functional.cosine_similarity(embeddings, steps.delta[noun][None, :], dim=1)  # [V]
    own = float(cosines[steps.ids[adjective]])
    ahead = int((cosines > own).sum())
    word = steps.tokens[adjective].strip()
    before = float(torch.cosine_similarity(steps.residual[noun], embeddings[steps.ids[adjective]], dim=0))
    after = float(torch.cosine_similarity(steps.updated[noun], embeddings[steps.ids[adjective]], dim=0))
    holds = ahead < ARRIVED_SHARE * len(cosines)
    finding = (f"so Δe points toward *{word}* more than toward all but {ahead:,} of the {len(cosines):,} tokens: "
               + ("the adjective's direction arrived in the noun." if holds else
                  f"that is not among the top {ARRIVED_SHARE:.0%}, so this Δe does not carry the adjective's own direction."))
    return Verdict(holds, "Δe carries the adjective's embedding direction",
                   f"The cosine between the noun's vector and the embedding of *{word}* goes from **{before:.3f}** (e) to "
                   f"**{after:.3f}** (e + Δe). Δe itself has cosine {own:.3f} with it, {finding}")


# ---------- many heads ----------

@dataclass
class LayerHeads:
    """Every head of one layer on one prompt: its pattern and the change it proposes to each token's vector."""

    tokens: list[str]
    layer: int
    patterns: torch.Tensor  # [head, query, key]
    deltas: torch.Tensor  # [head, token, C]: head h's Δe = its weighted values mapped up by its slice of W_O
    bias: torch.Tensor  # [C]: the output projection's bias, added once for the whole layer
    total: torch.Tensor  # [token, C]: Σ_h Δe_h + bias, the layer's attention output

    def pattern_overlap(self, position: int | None = None) -> torch.Tensor:
        """How alike two heads' patterns are: Σ_k min(p, q) of their rows, 1 for identical rows and 0 for rows that
        read disjoint tokens, for the query at `position`, or averaged over the queries after the first (the first
        can read only itself, so every head agrees there) [head, head]."""
        p = self.patterns if position is None else self.patterns[:, position:position + 1]
        if position is None and p.shape[1] > 1:
            p = p[:, 1:]
        return torch.minimum(p[:, None], p[None, :]).sum(-1).mean(-1)


def layer_heads(lm: LanguageModel, prompt: str, layer: int) -> LayerHeads:
    """Split the layer's attention output into its heads' contributions, from the cached per-head outputs z."""
    from explainer.attention import cached_run, check_layer_head

    check_layer_head(lm, layer, 0)
    tokens, _, cache = cached_run(lm, prompt)
    z = cache[act_name("z", layer)][0]  # [token, head, d]
    W_O = lm.layout.W_O[layer].cpu()  # [head, d, C]
    deltas = torch.einsum("thd,hdc->htc", z, W_O)  # [head, token, C]
    bias = lm.layout.b_O[layer].cpu()
    return LayerHeads(tokens, layer, cache[act_name("pattern", layer)][0], deltas, bias, deltas.sum(0) + bias)


def sharing_note(lm: LanguageModel) -> str:
    """Whether this model's query heads share keys and values (grouped-query attention), in one line (Markdown)."""
    layout = lm.layout
    if layout.group_size == 1:
        return "Every head of this model has its own query, key and value matrices."
    groups = "; ".join(f"heads {', '.join(map(str, layout.sharing(k)))}" for k in range(min(layout.n_kv_head, 3)))
    return (f"This model's {layout.n_head} query heads share {layout.n_kv_head} key/value heads (grouped-query "
            f"attention): {groups}{' …' if layout.n_kv_head > 3 else ''} each read the same keys and values, with queries "
            "of their own, so their patterns can still differ.")


DIFFERENT = 0.5  # heads "read different tokens" when two of them share less than this of their attention on average


def off_diagonal(matrix: torch.Tensor) -> torch.Tensor:
    return matrix[~torch.eye(len(matrix), dtype=torch.bool)]


def overlap_verdict(found: LayerHeads, position: int) -> Verdict:
    """Do the heads of one layer read different tokens? Their overlap over the line and for one token."""
    line, token = off_diagonal(found.pattern_overlap()), off_diagonal(found.pattern_overlap(position))
    holds = float(line.mean()) < DIFFERENT
    return Verdict(holds, "the heads of a layer read different tokens",
                   f"Two different heads of layer {found.layer} share on average **{float(line.mean()):.0%}** of their "
                   f"attention over the line's queries after the first (from {float(line.min()):.0%} to "
                   f"{float(line.max()):.0%}), and {float(token.mean()):.0%} for token {position} "
                   f"({found.tokens[position].strip() or repr(found.tokens[position])}) alone: "
                   + ("they mostly read different tokens." if holds else
                      f"they overlap {DIFFERENT:.0%} or more, so they mostly read the same tokens on this line."))


@dataclass(frozen=True)
class ValueMap:
    """One head's value map: down from C to d (W_V), then up from d to C (W_O), a C × C map of rank at most d."""

    down: torch.Tensor  # [C, d]
    up: torch.Tensor  # [d, C]
    rank: int  # of down @ up, measured
    low_rank_weights: int  # C·d + d·C
    full_weights: int  # C·C, what a full value map would need


def value_map(lm: LanguageModel, layer: int, head: int) -> ValueMap:
    from explainer.attention import head_weights

    weights = head_weights(lm, layer, head)
    C, d = weights.W_V.shape
    rank = int(torch.linalg.matrix_rank(weights.W_V.double() @ weights.W_O.double()))
    return ValueMap(weights.W_V, weights.W_O, rank, 2 * C * d, C * C)


def sum_check(lm: LanguageModel, prompt: str, layer: int) -> float:
    """The largest difference between Σ heads' Δe + bias and the layer's attention output in the model's cache."""
    found = layer_heads(lm, prompt, layer)
    _, _, cache = lm.run_with_cache(prompt)
    return float((found.total - cache[act_name("attn_out", layer)][0]).abs().max())


# ---------- which positions the heads of a layer read ----------

OFFSETS = 6  # keys 0 … OFFSETS − 1 tokens back, one column each; then the first token, then the rest together
PROFILE_WINDOWS = 200  # random windows of the validation text (fewer if the model is slow)
FAVOURITE = 2.0  # a head's favourite position: its weight there per key is at least this many times uniform's


@dataclass
class PositionProfile:
    """How each head of one layer spreads its attention over positions relative to the query, averaged over queries
    (those more than OFFSETS tokens into a window) and over random windows of the validation text."""

    layer: int
    columns: list[str]  # "itself", "1 back", …, "first token", "the rest"
    profile: torch.Tensor  # [head, column]: mean weight (each row sums to 1)
    halves: torch.Tensor  # [2, head, column]: the same on each half of the windows, the control for noise
    uniform: torch.Tensor  # [column]: what uniform causal attention gives each column, the control for position
    windows: int

    def lift(self) -> torch.Tensor:
        """Weight per key against uniform attention's, per column: [head, column] (1 = no preference)."""
        return self.profile / self.uniform

    def favourites(self) -> list[str]:
        """Each head's most over-attended column, or EVEN when none reaches FAVOURITE × uniform: a head that reads
        every position alike (by position; what it reads may still depend on the tokens)."""
        lift = self.lift()
        return [self.columns[int(row.argmax())] if float(row.max()) >= FAVOURITE else EVEN for row in lift]


EVEN = "every position alike"


def profile_columns(n: int) -> torch.Tensor:
    """For queries OFFSETS + 1 … n − 1 of a window of n: which column each (query, key) cell falls in [query, key]
    (−1 for keys after the query)."""
    queries = torch.arange(OFFSETS + 1, n)[:, None]
    keys = torch.arange(n)[None, :]
    back = queries - keys
    column = torch.where(back < OFFSETS, back, torch.full_like(back, OFFSETS + 1))
    column = torch.where(keys == 0, torch.full_like(back, OFFSETS), column)
    return torch.where(back < 0, torch.full_like(back, -1), column)


def offset_weights(patterns: torch.Tensor) -> torch.Tensor:
    """Patterns [..., query, key] → mean weight per column of PositionProfile over the queries: [..., column]."""
    column = profile_columns(patterns.shape[-1])
    rows = patterns[..., OFFSETS + 1:, :]  # [..., query, key]
    return torch.stack([(rows * (column == c)).sum(-1) for c in range(OFFSETS + 2)], -1).mean(-2)


def measure_position_profiles(lm: LanguageModel, layers: Sequence[int], seed: int = 0) -> list[PositionProfile]:
    """PositionProfile of each of `layers`, all from one pass of the same random windows through the model."""
    from explainer.attention import causal_mask, check_layer_head

    for layer in layers:
        check_layer_head(lm, layer, 0)
    window = measure_window(lm)
    if window <= 2 * OFFSETS:
        raise ExplainerError(f"this model's context ({lm.block_size} tokens) is too short to measure {OFFSETS} offsets")
    count = budget.windows_for(lm.model, PROFILE_WINDOWS, window, least=20)
    windows = random_windows(lm, data.validation_text(lm.tokenizer), count, seed)
    names = [act_name("pattern", layer) for layer in layers]
    kept = {name: [] for name in names}
    for cache in lm.scan(windows, names):
        for name in names:
            kept[name].append(offset_weights(cache[name]))  # [batch, head, column]
    per_window = [torch.cat(kept[name]) for name in names]  # per layer: [window, head, column]
    uniform = offset_weights(causal_mask(window).float() / torch.arange(1, window + 1)[:, None])
    half = len(windows) // 2
    columns = ["itself"] + [f"{d} back" for d in range(1, OFFSETS)] + ["first token", "the rest"]
    return [PositionProfile(layer, columns, found.mean(0), torch.stack([found[:half].mean(0), found[half:].mean(0)]),
                            uniform, len(windows)) for layer, found in zip(layers, per_window)]


PROFILES_FILE = DATA_DIR / "precomputed" / "position_profiles.json"
PROFILES_REMAKE = "explainer precompute position-profiles"
TENSORS = ("profile", "halves", "uniform")  # PositionProfile's fields stored as nested lists


def write_position_profiles() -> str:
    """Measure every layer of the shipped model and write PROFILES_FILE (`explainer precompute position-profiles`)."""
    from explainer.gpt import checkpoint

    lm = checkpoint.load()
    records = [{**asdict(found), **{k: getattr(found, k).tolist() for k in TENSORS}}
               for found in measure_position_profiles(lm, range(lm.layout.n_layer))]
    write_measurement(PROFILES_FILE, PROFILES_REMAKE, lm.digest, {"layers": records})
    return str(PROFILES_FILE)


@lru_cache(maxsize=4)
def shipped_position_profiles(lm: LanguageModel) -> list[PositionProfile] | None:
    """Every layer's PositionProfile from PROFILES_FILE when it was measured on these exact weights, else None."""
    shipped = shipped_measurement(PROFILES_FILE, PROFILES_REMAKE, lm.digest)
    if shipped is None:
        return None
    return [PositionProfile(**{**record, **{k: torch.tensor(record[k]) for k in TENSORS}}) for record in shipped["layers"]]


@lru_cache(maxsize=16)
def position_profile(lm: LanguageModel, layer: int) -> PositionProfile:
    """The layer's PositionProfile: the shipped model's read from PROFILES_FILE, any other's measured now (about 2 s
    a layer for the shipped model's size)."""
    from explainer.attention import check_layer_head

    check_layer_head(lm, layer, 0)
    shipped = shipped_position_profiles(lm)
    return shipped[layer] if shipped is not None else measure_position_profiles(lm, [layer])[0]


def variation_distance(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """½ Σ |p − q| over the last axis: 0 for the same spread, 1 for spreads with nothing in common."""
    return (p - q).abs().sum(-1) / 2


SEPARATE = 3.0  # heads differ when two heads' profiles are this many times further apart than one head's two halves


def position_verdict(found: PositionProfile) -> Verdict:
    """Do the heads of a layer cover different positions? Each head's favourite position against uniform attention,
    and how far apart two heads' spreads are against the control for noise: one head's spread on two halves of the
    text."""
    heads = found.profile.shape[0]
    between = off_diagonal(variation_distance(found.profile[:, None], found.profile[None, :]))
    within = variation_distance(found.halves[0], found.halves[1])
    favourites, lift = found.favourites(), found.lift()
    distinct = set(favourites)
    holds = len(distinct) >= 2 and float(between.mean()) >= SEPARATE * float(within.max())
    named = "; ".join(f"head {h}: {favourite}" + (f" ({float(lift[h].max()):.1f}× uniform)" if favourite != EVEN else "")
                      for h, favourite in enumerate(favourites))
    return Verdict(holds, "the heads of a layer read different positions",
                   f"Layer {found.layer}, over {found.windows} random windows of the validation text, the position each head "
                   f"over-attends most, per key against uniform attention (a favourite needs {FAVOURITE:g}×, else it reads every position alike): {named}. Two "
                   f"different heads' spreads differ by **{float(between.mean()):.2f}** on average (total variation, from "
                   f"{float(between.min()):.2f} to {float(between.max()):.2f}); one head's spread on the two halves of the "
                   f"text differs by at most {float(within.max()):.3f}. "
                   + (f"So the heads cover {len(distinct)} different kinds of position, and heads differ by {SEPARATE:g}× "
                      "the noise or more on average." if holds else
                      f"So these heads do not cover clearly different positions (all alike, or differences below "
                      f"{SEPARATE:g}× the noise)."))
