"""Context changes meaning: the same token starts from the same vector in every sentence, and the layers move it
towards what it means there. The talk's example is "mole" in "American shrew mole", "one mole of carbon dioxide"
and "take a biopsy of the mole"; Shakespeare offers moles, lights and graves of his own."""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from explainer import forward, residual
from explainer.errors import ExplainerError
from explainer.gpt.checkpoint import LanguageModel


@dataclass
class WordInContexts:
    """One word's vector in several sentences, after every stage of the model."""

    word: str
    contexts: list[str]
    positions: list[int]  # the word's (last) token in each context
    stages: list[str]  # "token embedding", "embedding + position", "+ attention 0", "+ MLP 0", …
    vectors: torch.Tensor  # [stage, context, C]

    def similarity(self, stage: int) -> torch.Tensor:
        """Cosine similarity of the word's vectors between every pair of contexts at one stage [context, context]."""
        unit = self.vectors[stage] / self.vectors[stage].norm(dim=-1, keepdim=True)
        return unit @ unit.T

    def mean_similarity(self) -> torch.Tensor:
        """The mean cosine over pairs of different contexts, at every stage [stage]."""
        n = len(self.contexts)
        off_diagonal = ~torch.eye(n, dtype=torch.bool)
        return torch.stack([self.similarity(s)[off_diagonal].mean() for s in range(len(self.stages))])


def word_position(lm: LanguageModel, context: str, word: str) -> int:
    """The index of the word's last token in the context (its first occurrence as a whole word)."""
    match = re.search(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", context)
    if not match:
        raise ExplainerError(f"{word!r} does not occur as a word in {context!r}")
    return len(lm.tokenizer.encode(context[:match.end()])) - 1


def word_in_contexts(lm: LanguageModel, word: str, contexts: list[str]) -> WordInContexts:
    """The word's vector in each context, from its token embedding through every block."""
    if len(contexts) < 2:
        raise ExplainerError("give at least two contexts to compare")
    positions, columns, stages = [], [], []
    for context in contexts:
        position = word_position(lm, context, word)
        flow = residual.stream(lm, context)
        token_id = lm.encode(context)[position]
        embedding = lm.model.transformer.wte.weight.detach().cpu()[token_id]
        positions.append(position)
        columns.append(torch.cat([embedding[None], flow.vectors[:, position]]))
        stages = ["token embedding"] + flow.stages
    return WordInContexts(word, contexts, positions, stages, torch.stack(columns, dim=1))


def predictions(lm: LanguageModel, found: WordInContexts, stage: int = -1, top: int = 3) -> list[list[tuple[str, float]]]:
    """The logit lens on the word's vector in each context: what it would predict next at that stage."""
    return [forward.decode(lm, found.vectors[stage, i], top) for i in range(len(found.contexts))]
