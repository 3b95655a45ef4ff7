"""The vocabulary as training saw it: how often each token occurred, and the under-trained tokens.

A byte-level BPE vocabulary holds pieces that the training text almost never shows alone: the 256 single bytes (most
never occur in English plays) and intermediate merges that are nearly always merged further into longer tokens. Their
embeddings get no gradient of their own, only the push that every wrong token gets, all in the same direction: they
end up nearly identical to each other and long. Large models have them too (GPT-2's and GPT-3's "glitch tokens").
Read through the unembedding, a long vector scores high against everything, so these tokens crowd lists that claim
to show what a vector means; `meaningful_top` leaves them out and says how many it left.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from explainer.files import shipped_measurement, write_measurement
from explainer.gpt import data
from explainer.gpt.checkpoint import LanguageModel
from explainer.paths import DATA_DIR
from explainer.verdict import Verdict

UNDERTRAINED_MAX_COUNT = 2  # seen at most this many times in the training text
COUNTS_FILE = DATA_DIR / "precomputed" / "token_counts.json"
COUNTS_REMAKE = "explainer precompute token-counts"
CLUSTER_COSINE = 0.9  # "nearly identical": mean pairwise cosine at least this
CONTROL_SAMPLE = 1000  # other tokens drawn for the control


def count_tokens(lm: LanguageModel, text: str) -> torch.Tensor:
    """How often each token id occurs in `text` as this model's tokenizer splits it: [V]."""
    return torch.bincount(torch.tensor(lm.tokenizer.encode(text)), minlength=lm.vocab_size)


def training_text(lm: LanguageModel) -> str | None:
    """The training split of the text a checkpoint of ours was trained on, if it is at hand (None for models trained
    elsewhere, whose training text we do not have)."""
    corpus = lm.meta.get("corpus") or {}
    if "sha256" not in corpus:
        return None
    source = (lm.meta.get("training") or {}).get("corpus")
    try:
        text = data.load_text(source)
    except data.CorpusError:
        return None
    return data.train_val_split(text).train if data.text_hash(text) == corpus["sha256"] else None


def write_token_counts() -> str:
    """Count the shipped model's tokens in its training text and write COUNTS_FILE (`explainer precompute token-counts`)."""
    from explainer.gpt import checkpoint

    lm = checkpoint.load()
    counts = count_tokens(lm, training_text(lm))
    write_measurement(COUNTS_FILE, COUNTS_REMAKE, lm.digest, {"text": "the training text", "counts": counts.tolist()})
    return str(COUNTS_FILE)


@lru_cache(maxsize=4)
def training_counts(lm: LanguageModel) -> torch.Tensor | None:
    """Each token's count in the model's training text [V]: shipped for the shipped model, counted now (a second or
    two) for other checkpoints of ours, None when the training text is not at hand."""
    shipped = shipped_measurement(COUNTS_FILE, COUNTS_REMAKE, lm.digest)
    if shipped is not None:
        return torch.tensor(shipped["counts"])
    text = training_text(lm)
    return None if text is None else count_tokens(lm, text)


@dataclass
class Undertrained:
    """The tokens seen at most `max_count` times in training, and how their embeddings compare with the others'."""

    ids: list[int]
    max_count: int
    vocabulary: int
    cosine: float  # mean pairwise cosine of their embeddings
    control_cosine: float  # the same for other tokens drawn at random
    length: float  # median length of their embeddings
    control_length: float

    @property
    def nearly_identical(self) -> bool:
        return self.cosine >= CLUSTER_COSINE


def mean_pairwise_cosine(vectors: torch.Tensor) -> float:
    unit = vectors / vectors.norm(dim=1, keepdim=True).clamp_min(1e-12)
    n = len(unit)
    return float(((unit @ unit.T).sum() - n) / max(1, n * (n - 1)))


@lru_cache(maxsize=4)
def undertrained(lm: LanguageModel, seed: int = 0) -> Undertrained | None:
    """The under-trained tokens of a model whose training text we have (None otherwise), with the control."""
    counts = training_counts(lm)
    if counts is None:
        return None
    embeddings = lm.layout.W_E.cpu()[:len(counts)]
    rare = counts <= UNDERTRAINED_MAX_COUNT
    others = torch.nonzero(~rare)[:, 0]
    sample = others[torch.randperm(len(others), generator=torch.Generator().manual_seed(seed))[:CONTROL_SAMPLE]]
    lengths = embeddings.norm(dim=1)
    ids = torch.nonzero(rare)[:, 0]
    return Undertrained(ids.tolist(), UNDERTRAINED_MAX_COUNT, len(counts),
                        mean_pairwise_cosine(embeddings[ids]) if len(ids) > 1 else float("nan"),
                        mean_pairwise_cosine(embeddings[sample]), float(lengths[ids].median()) if len(ids) else float("nan"),
                        float(lengths[others].median()))


def undertrained_verdict(found: Undertrained | None) -> Verdict:
    """How many under-trained tokens, and whether their embeddings form a cluster of near-copies (against the
    other tokens as control)."""
    claim = "the rarely seen tokens' embeddings are near-copies of each other"
    if found is None:
        return Verdict(False, claim, "This model's training text is not at hand, so its under-trained tokens cannot be "
                                     "counted; lists of top tokens show every token.")
    if len(found.ids) < 2:
        return Verdict(False, claim, f"Only {len(found.ids)} of the {found.vocabulary:,} tokens were seen at most "
                                     f"{found.max_count} times in training: nothing to leave out.")
    holds = found.nearly_identical
    shape = ("nearly identical and long: a cluster of near-copies, not meanings" if holds
             else f"not a cluster of near-copies (below {CLUSTER_COSINE})")
    return Verdict(holds, claim,
                   f"**{len(found.ids):,}** of the {found.vocabulary:,} tokens were seen at most {found.max_count} times in "
                   f"the training text. Their embeddings have a mean pairwise cosine of **{found.cosine:.2f}** (other tokens: "
                   f"{found.control_cosine:.2f}) and a median length of {found.length:.2f} (other tokens: "
                   f"{found.control_length:.2f}): {shape}.")


class TopTokens(list):
    """(token, value) pairs, best first, and `left_out`: how many under-trained tokens ranked among them and were
    left out."""

    def __init__(self, pairs, left_out: int = 0):
        super().__init__(pairs)
        self.left_out = left_out


def top_tokens(lm: LanguageModel, scores: torch.Tensor, k: int, values: torch.Tensor | None = None) -> TopTokens:
    """The k tokens with the largest scores [V] among those that are not under-trained, each with its value from
    `values` (default: the score itself)."""
    kept, left_out = meaningful_top(lm, scores, k)
    shown = (scores if values is None else values)[kept].tolist()
    return TopTokens(zip(lm.tokens(kept.tolist()), shown), left_out)


def meaningful_top(lm: LanguageModel, scores: torch.Tensor, k: int) -> tuple[torch.Tensor, int | torch.Tensor]:
    """The indices of the k largest scores [V] among tokens that are not under-trained, and how many under-trained
    tokens ranked above the k-th kept one (left out). Scores [rows, V]: indices [rows, k] and a count per row."""
    found = undertrained(lm)
    scores = scores[..., :lm.vocab_size].float()
    if found is None or not found.ids:
        kept, left_out = torch.topk(scores, k).indices, torch.zeros(scores.shape[:-1], dtype=torch.long)
    else:
        blocked = torch.tensor(found.ids)
        kept = torch.topk(scores.index_fill(-1, blocked, float("-inf")), k).indices
        left_out = (scores[..., blocked] > scores.gather(-1, kept[..., -1:])).sum(-1)
    return kept, int(left_out) if scores.ndim == 1 else left_out
