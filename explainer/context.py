"""Context changes meaning: the same token starts from the same vector in every line, and the layers move it
towards what it means there. The talk's example is "mole" in "American shrew mole", "one mole of carbon dioxide"
and "take a biopsy of the mole". A causal model's token reads only what comes before it, so the lines of
`settings.WORD_SENSES` settle the word's sense before the word, and each line carries a sense label: whether the
model separates the senses is then a measurement, with a control (every other way of splitting the same lines).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import torch

from explainer import residual
from explainer.errors import ExplainerError
from explainer.gpt.checkpoint import LanguageModel
from explainer.verdict import Verdict


@dataclass
class WordInContexts:
    """One word's vector in several lines, after every stage of the model, each line with its sense."""

    word: str
    contexts: list[str]
    senses: list[str]  # one label per line
    positions: list[int]  # the word's (last) token in each line
    pieces: list[str]  # the word's tokens (the vectors are those of the last piece)
    stages: list[str]  # "token embedding", "embedding + position", "+ attention 0", "+ MLP 0", …
    vectors: torch.Tensor  # [stage, line, C]

    def similarity(self, stage: int) -> torch.Tensor:
        """Cosine similarity of the word's vectors between every pair of lines at one stage [line, line]."""
        unit = self.vectors[stage] / self.vectors[stage].norm(dim=-1, keepdim=True)
        return unit @ unit.T

    def mean_similarity(self, same_sense: bool | None = None) -> torch.Tensor:
        """The mean cosine over pairs of different lines (only same-sense or cross-sense pairs if asked), at every
        stage [stage]."""
        n = len(self.contexts)
        labels = torch.tensor([self.senses.index(s) for s in self.senses])
        pairs = ~torch.eye(n, dtype=torch.bool)
        if same_sense is not None:
            pairs &= (labels[:, None] == labels[None, :]) == same_sense
        return torch.stack([self.similarity(s)[pairs].mean() for s in range(len(self.stages))])


def word_position(lm: LanguageModel, context: str, word: str) -> int:
    """The index of the word's last token in the context (its first occurrence as a whole word)."""
    match = re.search(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", context)
    if not match:
        raise ExplainerError(f"{word!r} does not occur as a word in {context!r}")
    return len(lm.tokenizer.encode(context[:match.end()])) - 1


def word_in_contexts(lm: LanguageModel, word: str, senses: dict[str, list[str]]) -> WordInContexts:
    """The word's vector in each line (`senses`: sense → its lines), from its token embedding through every block."""
    lines = [(sense, line) for sense, found in senses.items() for line in found]
    if len(lines) < 2:
        raise ExplainerError("give at least two lines to compare")
    positions, columns, stages = [], [], []
    for _, line in lines:
        position = word_position(lm, line, word)
        flow = residual.stream(lm, line)
        token_id = lm.encode(line)[position]
        embedding = lm.layout.W_E[token_id].cpu()
        positions.append(position)
        columns.append(torch.cat([embedding[None], flow.vectors[:, position]]))
        stages = ["token embedding"] + flow.stages
    pieces = lm.tokens(lm.tokenizer.encode(f" {word}"))
    return WordInContexts(word, [line for _, line in lines], [sense for sense, _ in lines], positions, pieces, stages,
                          torch.stack(columns, dim=1))


def words_in_contexts(lm: LanguageModel, word_senses: dict[str, dict[str, list[str]]]) -> dict[str, WordInContexts]:
    """word_in_contexts for every word of `word_senses` (word → sense → lines)."""
    return {word: word_in_contexts(lm, word, senses) for word, senses in word_senses.items()}


@dataclass
class SenseSeparation:
    """How much more alike a word's vectors are within a sense than across senses, stage by stage, against every
    other way of splitting the same lines into groups of the same sizes (the control)."""

    word: str
    stages: list[str]
    separation: torch.Tensor  # [stage]: mean same-sense cosine − mean cross-sense cosine
    rank: torch.Tensor  # [stage]: the true split's rank among all splits (1 = the most separated)
    splits: int  # how many splits were compared, the true one included

    def separated(self, stage: int) -> bool:
        """The true split separates the lines more than every other split does."""
        return int(self.rank[stage]) == 1 and float(self.separation[stage]) > 0


def splits_of(labels: list[str]) -> list[tuple[int, ...]]:
    """Every way of giving the lines two labels in the same numbers as `labels` (a split and its mirror counted
    once), as the lines given the first label."""
    n, first = len(labels), labels.count(labels[0])
    found = set()
    for group in itertools.combinations(range(n), first):
        mirror = tuple(sorted(set(range(n)) - set(group)))
        found.add(min(group, mirror) if len(mirror) == first else group)
    return sorted(found)


def split_separation(similarity: torch.Tensor, group: tuple[int, ...]) -> float:
    """Mean cosine within the two groups minus mean cosine across them."""
    n = similarity.shape[0]
    inside = torch.zeros(n, dtype=torch.bool)
    inside[list(group)] = True
    same = inside[:, None] == inside[None, :]
    off_diagonal = ~torch.eye(n, dtype=torch.bool)
    return float(similarity[same & off_diagonal].mean() - similarity[~same].mean())


def sense_separation(found: WordInContexts) -> SenseSeparation:
    if len(set(found.senses)) != 2:
        raise ExplainerError(f"sense separation needs lines of exactly two senses; {found.word!r} has {sorted(set(found.senses))}")
    truth = tuple(i for i, s in enumerate(found.senses) if s == found.senses[0])
    splits = splits_of(found.senses)
    separation, rank = [], []
    for stage in range(len(found.stages)):
        similarity = found.similarity(stage)
        scores = {group: split_separation(similarity, group) for group in splits}
        true_score = split_separation(similarity, truth)
        separation.append(true_score)
        rank.append(1 + sum(score > true_score + 1e-9 for group, score in scores.items() if group != truth))
    return SenseSeparation(found.word, found.stages, torch.tensor(separation), torch.tensor(rank), len(splits))


def separations(found: dict[str, WordInContexts]) -> list[SenseSeparation]:
    return [sense_separation(f) for f in found.values()]


def separation_verdict(results: list[SenseSeparation]) -> Verdict:
    """Whether the model separates the words' senses at its last stage, and from which stage, with the control."""
    if not results:
        raise ExplainerError("no words to judge")
    last = len(results[0].stages) - 1
    separated = [r for r in results if r.separated(last)]
    details = []
    for r in results:
        first = next((s for s in range(len(r.stages)) if all(r.separated(t) for t in range(s, last + 1))), None)
        where = f"from {r.stages[first]} on" if first is not None else "not at the last stage"
        details.append(f"*{r.word}* {float(r.separation[last]):+.2f} (rank {int(r.rank[last])} of {r.splits}; {where})")
    holds = len(separated) > len(results) / 2
    return Verdict(holds, "the model's vectors group a word's lines by sense",
                   f"At the last stage, the word's vectors are more alike within a sense than across senses, by more than "
                   f"every other way of splitting the same lines, for **{len(separated)} of {len(results)}** words: "
                   + "; ".join(details) + ". (The number is the mean cosine within a sense minus across senses; the rank "
                   "compares the true split with every split of the lines into two groups of the same sizes.)")
