"""Which heads do what, measured: every (layer, head) scored on modifier → noun pairs from the corpus.

The talk's running example is a head in which a noun ("creature") reads the adjectives in front of it ("fluffy",
"blue"). Whether our model has such a head is a question for measurement. The labelled set: about forty frequent
adjectives (ADJECTIVES) followed by a noun in the validation text. Without a part-of-speech tagger, a noun is a word
that follows a determiner (the, a, my, thy, ...) in at least NOUN_SHARE of its occurrences in the training text; the
rule, the lists and the pairs found are shipped in data/precomputed/modifier_pairs.json.

A head's score is the mean attention weight from the noun to its adjective. Two baselines put it in context: the
same head's weight on the previous token for random bigrams (the adjective is always the previous token, so a
head that simply reads the previous token scores high too), and uniform attention.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass
from functools import lru_cache

import torch

from explainer.errors import ExplainerError
from explainer.files import read_json, write_json
from explainer.gpt import data
from explainer.gpt.checkpoint import LanguageModel
from explainer.paths import DATA_DIR

ADJECTIVES = ("good", "great", "true", "sweet", "fair", "old", "poor", "noble", "dead", "little", "long", "dear",
              "young", "full", "gentle", "false", "honest", "kind", "strange", "high", "new", "bloody", "foul", "royal",
              "worthy", "happy", "gracious", "holy", "cold", "proud", "free", "grave", "strong", "hard", "sovereign",
              "heavy", "wise", "merry", "rich", "valiant")
DETERMINERS = ("the", "a", "an", "my", "thy", "his", "her", "our", "your", "their", "this", "that", "these", "those")
NOUN_SHARE = 0.2  # a word counts as a noun if at least this share of its occurrences follow a determiner
NOUN_MIN_COUNT = 10
PAIRS_FILE = DATA_DIR / "precomputed" / "modifier_pairs.json"
REMAKE = "explainer precompute modifier-pairs"


def noun_like_words(text: str) -> set[str]:
    """Words that follow a determiner in at least NOUN_SHARE of their (lower-case) occurrences in `text`."""
    lower = text.lower()
    counts = Counter(re.findall(r"[a-z]+", lower))
    after = Counter(re.findall(r"\b(?:" + "|".join(DETERMINERS) + r")\s+([a-z]+)\b", lower))
    return {w for w, n in counts.items() if n >= NOUN_MIN_COUNT and after[w] / n >= NOUN_SHARE and w not in ADJECTIVES}


@dataclass(frozen=True)
class ModifierPair:
    start: int  # character offset of the adjective in the validation text
    adjective: str
    noun: str


def find_modifier_pairs(text: str, adjectives: set[str], nouns: set[str]) -> list[ModifierPair]:
    """Every 'adjective noun' bigram in `text` (lower case, one space between, the adjective starting a word)."""
    pattern = re.compile(r"(?<![A-Za-z'])(" + "|".join(sorted(adjectives)) + r") ([a-z]+)\b")
    return [ModifierPair(m.start(), m.group(1), m.group(2)) for m in pattern.finditer(text) if m.group(2) in nouns]


def write_modifier_pairs() -> str:
    """Find the pairs in the validation text and write PAIRS_FILE (what `explainer precompute modifier-pairs` runs)."""
    split = data.train_val_split(data.shakespeare_text())
    nouns = noun_like_words(split.train)
    pairs = find_modifier_pairs(split.val, set(ADJECTIVES), nouns)
    counts = Counter(f"{p.adjective} {p.noun}" for p in pairs)
    write_json(PAIRS_FILE, {
        "made_by": REMAKE,
        "rule": (f"adjectives: the list below; nouns: words of the training text that follow a determiner ({', '.join(DETERMINERS)}) "
                 f"in at least {NOUN_SHARE:.0%} of their at least {NOUN_MIN_COUNT} occurrences, adjectives excluded; pairs: "
                 "'adjective noun' in the validation text, lower case, one space apart"),
        "adjectives": list(ADJECTIVES), "nouns": sorted({p.noun for p in pairs}),
        "pairs": [asdict(p) for p in pairs], "counts": dict(counts.most_common()),
    })
    return str(PAIRS_FILE)


def shipped_modifier_pairs() -> list[ModifierPair]:
    return [ModifierPair(**p) for p in read_json(PAIRS_FILE, REMAKE)["pairs"]]


@dataclass
class Window:
    """The tokens that end with an adjective and its noun: the noun is the last token, the adjective the one before."""

    ids: list[int]
    adjective: str
    noun: str


def pair_windows(lm: LanguageModel, text: str, pairs: list[ModifierPair]) -> list[Window]:
    """For each pair, the last block_size tokens of the text up to the noun; pairs whose adjective or noun is not a
    single token (with its space) are left out, and so are pairs too close to the start to fill the window."""
    windows = []
    context_chars = 8 * lm.block_size  # always more characters than block_size tokens need
    for pair in pairs:
        end = pair.start + len(pair.adjective) + 1 + len(pair.noun)
        ids = lm.tokenizer.encode(text[max(0, end - context_chars):end])
        if len(ids) < lm.block_size or lm.tokens(ids[-2:]) != [f" {pair.adjective}", f" {pair.noun}"]:
            continue
        windows.append(Window(ids[-lm.block_size:], pair.adjective, pair.noun))
    return windows


def last_token_attention(lm: LanguageModel, windows: list[list[int]], batch_size: int = 32) -> torch.Tensor:
    """Attention of each window's last token: [windows, layer, head, key]."""
    rows = []
    lm.model.eval()
    for start in range(0, len(windows), batch_size):
        batch = torch.tensor(windows[start:start + batch_size], device=lm.device)
        _, cache = lm.model.run_with_cache(batch)
        rows.append(torch.stack([cache[f"blocks.{l}.attn.hook_pattern"][:, :, -1, :] for l in range(lm.model.config.n_layer)], 1).cpu())
    return torch.cat(rows)


@dataclass
class HeadScores:
    """Every head's mean attention from a noun to its adjective, beside its previous-token weight on random bigrams."""

    modifier: torch.Tensor  # [layer, head]
    previous_token: torch.Tensor  # [layer, head]
    uniform: float  # the weight uniform attention gives one key from the last position
    pairs: int  # pairs measured
    random_bigrams: int

    @property
    def excess(self) -> torch.Tensor:
        """How much more a head reads an adjective than it reads any previous token."""
        return self.modifier - self.previous_token

    def ranked(self) -> list[tuple[int, int]]:
        """(layer, head) from the highest modifier score down."""
        order = torch.argsort(self.modifier.flatten(), descending=True).tolist()
        heads = self.modifier.shape[1]
        return [(i // heads, i % heads) for i in order]

    def best(self) -> tuple[int, int]:
        return self.ranked()[0]


def score_heads(lm: LanguageModel, text: str, pairs: list[ModifierPair], random_bigrams: int = 400, seed: int = 0) -> HeadScores:
    """Score every head on the pairs found in `text`, and on `random_bigrams` random positions of the same text."""
    windows = pair_windows(lm, text, pairs)
    if not windows:
        raise ExplainerError("none of the modifier → noun pairs is a pair of whole tokens for this tokenizer; "
                             "a vocabulary with whole words is needed to measure this")
    modifier = last_token_attention(lm, [w.ids for w in windows])[..., -2].mean(0)
    ids = lm.tokenizer.encode(text)
    generator = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(ids) - lm.block_size, (random_bigrams,), generator=generator).tolist()
    previous = last_token_attention(lm, [ids[s:s + lm.block_size] for s in starts])[..., -2].mean(0)
    return HeadScores(modifier, previous, 1 / lm.block_size, len(windows), random_bigrams)


def shipped_head_scores(lm: LanguageModel) -> HeadScores:
    """score_heads on the shipped pairs and the validation text."""
    split = data.train_val_split(data.shakespeare_text())
    return score_heads(lm, split.val, shipped_modifier_pairs())


@dataclass
class RunningExample:
    """The head that reads adjectives the most beyond its habit of reading the previous token, and a corpus line on
    which it does: what notebook and video follow in place of the talk's invented sentence."""

    prompt: str
    layer: int
    head: int
    adjective_position: int
    noun_position: int
    weight: float  # this head's attention from the noun to the adjective on this line
    scores: HeadScores | None  # None when the model's tokenizer splits the labelled words, so no head could be scored


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
    write_json(EXAMPLE_FILE, {"made_by": EXAMPLE_REMAKE, "weights_sha256": lm.digest, "example": record,
                              "scores": {"modifier": scores.modifier.tolist(), "previous_token": scores.previous_token.tolist(),
                                         "uniform": scores.uniform, "pairs": scores.pairs, "random_bigrams": scores.random_bigrams}})
    return str(EXAMPLE_FILE)


@lru_cache(maxsize=4)
def running_example(lm: LanguageModel) -> RunningExample:
    """The running example for this model: read from EXAMPLE_FILE when it was measured on these exact weights (the
    shipped model), else measured now (a few seconds)."""
    if EXAMPLE_FILE.is_file():
        shipped = read_json(EXAMPLE_FILE, EXAMPLE_REMAKE)
        if shipped["weights_sha256"] == lm.digest:
            s = shipped["scores"]
            scores = HeadScores(torch.tensor(s["modifier"]), torch.tensor(s["previous_token"]), s["uniform"], s["pairs"],
                                s["random_bigrams"])
            return RunningExample(**shipped["example"], scores=scores)
    return find_running_example(lm)


def find_running_example(lm: LanguageModel, max_tokens: int = 14) -> RunningExample:
    """The head with the largest excess of adjective weight over previous-token weight, and the validation line
    (whole-word tokens, at most `max_tokens`) on which that head's noun reads its adjective the most."""
    try:
        scores = shipped_head_scores(lm)
    except ExplainerError:
        return fallback_example(lm)
    layer, head = divmod(int(torch.argmax(scores.excess)), scores.excess.shape[1])
    text = data.train_val_split(data.shakespeare_text()).val
    best = None
    for pair in shipped_modifier_pairs():
        line = line_of(text, pair.start)
        ids = lm.tokenizer.encode(line)
        if not 4 <= len(ids) <= max_tokens or not whole_word_tokens(lm, line):
            continue
        tokens = lm.tokens(ids)
        for noun in range(1, len(tokens)):
            if tokens[noun - 1].strip() == pair.adjective and tokens[noun].strip() == pair.noun:
                _, cache = lm.model.run_with_cache(torch.tensor([ids], device=lm.device))
                weight = float(cache[f"blocks.{layer}.attn.hook_pattern"][0, head, noun, noun - 1])
                if best is None or weight > best.weight:
                    best = RunningExample(line, layer, head, noun - 1, noun, weight, scores)
    return best if best is not None else fallback_example(lm, scores, layer, head)


FALLBACK_PROMPT = "Have patience, gentle friends, I must not read it;"


def fallback_example(lm: LanguageModel, scores: HeadScores | None = None, layer: int = 0, head: int = 0) -> RunningExample:
    """When no labelled line is made of this model's whole-word tokens: a fixed line and its last two tokens."""
    ids = lm.encode(FALLBACK_PROMPT)
    _, cache = lm.model.run_with_cache(torch.tensor([ids], device=lm.device))
    weight = float(cache[f"blocks.{layer}.attn.hook_pattern"][0, head, len(ids) - 1, len(ids) - 2])
    return RunningExample(FALLBACK_PROMPT, layer, head, len(ids) - 2, len(ids) - 1, weight, scores)


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

    def pattern_overlap(self) -> torch.Tensor:
        """How alike two heads' patterns are: the mean over queries of Σ_k min(p, q), 1 for identical rows and 0 for
        rows that read disjoint tokens [head, head]."""
        p = self.patterns
        return torch.minimum(p[:, None], p[None, :]).sum(-1).mean(-1)


def layer_heads(lm: LanguageModel, prompt: str, layer: int) -> LayerHeads:
    """Split the layer's attention output into its heads' contributions, from the cached per-head outputs z."""
    from explainer.attention import cached_run, check_layer_head

    check_layer_head(lm, layer, 0)
    tokens, _, cache = cached_run(lm, prompt)
    attn = lm.model.transformer.h[layer].attn
    z = cache[f"blocks.{layer}.attn.hook_z"][0]  # [token, head, d]
    W_O = attn.c_proj.weight.detach().cpu()  # [C, C]: columns grouped by head
    d = lm.model.config.head_size
    deltas = torch.stack([z[:, h] @ W_O[:, h * d:(h + 1) * d].T for h in range(z.shape[1])])
    bias = attn.c_proj.bias.detach().cpu() if attn.c_proj.bias is not None else torch.zeros(W_O.shape[0])
    return LayerHeads(tokens, layer, cache[f"blocks.{layer}.attn.hook_pattern"][0], deltas, bias, deltas.sum(0) + bias)


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
    return float((found.total - cache[f"blocks.{layer}.hook_attn_out"][0]).abs().max())
