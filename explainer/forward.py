"""The whole forward pass on one prompt, stage by stage, and the training objective, from the trained model."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from explainer.gpt import data
from explainer.gpt.checkpoint import LanguageModel
from explainer.gpt.tokenizer import CharTokenizer


@dataclass
class LensRow:
    stage: str  # "embedding", "after block 0", …
    top_tokens: list[str]
    top_probs: list[float]
    norm: float  # length of the last token's residual vector


def decode(lm: LanguageModel, vector: torch.Tensor, top: int = 5) -> list[tuple[str, float]]:
    """The logit lens on one residual vector [C]: the final LayerNorm, the unembedding, softmax; the top tokens."""
    with torch.no_grad():
        probs = torch.softmax(lm.model.lm_head(lm.model.transformer.ln_f(vector.to(lm.device))).float(), -1).cpu()
    best = torch.topk(probs, top)
    return list(zip(lm.tokens(best.indices.tolist()), best.values.tolist()))


def nearest_tokens(lm: LanguageModel, vector: torch.Tensor, top: int = 5) -> list[tuple[str, float]]:
    """The tokens whose embeddings point most nearly the same way as `vector` [C] (cosine similarity)."""
    embeddings = lm.model.transformer.wte.weight.detach().cpu()
    cosines = torch.nn.functional.cosine_similarity(embeddings, vector.cpu()[None, :], dim=1)
    best = torch.topk(cosines, top)
    return list(zip(lm.tokens(best.indices.tolist()), best.values.tolist()))


def logit_lens(lm: LanguageModel, prompt: str, top: int = 5) -> list[LensRow]:
    """Decode the last token's residual stream after each stage through the final LayerNorm and the unembedding."""
    _, _, cache = lm.run_with_cache(prompt)
    stages = [("embedding + position", cache["blocks.0.hook_resid_pre"])]
    stages += [(f"after block {l}", cache[f"blocks.{l}.hook_resid_post"]) for l in range(lm.model.config.n_layer)]
    rows = []
    for name, residual in stages:
        tokens, probs = zip(*decode(lm, residual[0, -1], top))
        rows.append(LensRow(name, list(tokens), list(probs), float(residual[0, -1].norm())))
    return rows


def token_losses(lm: LanguageModel, text: str) -> tuple[list[str], torch.Tensor]:
    """Tokens of `text` and −log p(actual next token) at every position: n tokens give n − 1 training examples."""
    ids = lm.encode(text)
    lm.model.eval()
    with torch.no_grad():
        logits, _ = lm.model(torch.tensor([ids], device=lm.device))
    losses = F.cross_entropy(logits[0, :-1].float(), torch.tensor(ids[1:], device=lm.device), reduction="none")
    return lm.tokens(ids), losses.cpu()


@dataclass
class TokenComparison:
    """The same text as the model's tokens and as characters."""

    tokens: list[str]
    characters: list[str]
    vocabulary: int  # the model's
    alphabet: int  # distinct characters of the corpus


def tokens_vs_characters(lm: LanguageModel, text: str) -> TokenComparison:
    chars = CharTokenizer.train(data.shakespeare_text())
    return TokenComparison(lm.tokens(lm.tokenizer.encode(text)), chars.token_strings(chars.encode(text)),
                           lm.tokenizer.vocab_size, chars.vocab_size)
