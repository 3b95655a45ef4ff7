"""The whole forward pass on one prompt, stage by stage, and the training objective, from the trained model."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from explainer.checkpoint import LanguageModel


@dataclass
class LensRow:
    stage: str  # "embedding", "after block 0", …
    top_tokens: list[str]
    top_probs: list[float]
    norm: float  # length of the last token's residual vector


def logit_lens(lm: LanguageModel, prompt: str, top: int = 5) -> list[LensRow]:
    """Decode the last token's residual stream after each stage through the final LayerNorm and the unembedding."""
    _, _, cache = lm.run_with_cache(prompt)
    stages = [("embedding + position", cache["blocks.0.hook_resid_pre"])]
    stages += [(f"after block {l}", cache[f"blocks.{l}.hook_resid_post"]) for l in range(lm.model.config.n_layer)]
    rows = []
    with torch.no_grad():
        for name, residual in stages:
            last = residual[0, -1].to(lm.device)
            probs = torch.softmax(lm.model.lm_head(lm.model.transformer.ln_f(last)).float(), -1).cpu()
            best = torch.topk(probs, top)
            rows.append(LensRow(name, lm.tokens(best.indices.tolist()), best.values.tolist(), float(last.norm())))
    return rows


def token_losses(lm: LanguageModel, text: str) -> tuple[list[str], torch.Tensor]:
    """Tokens of `text` and −log p(actual next token) at every position: n tokens give n − 1 training examples."""
    ids = lm.encode(text)
    lm.model.eval()
    with torch.no_grad():
        logits, _ = lm.model(torch.tensor([ids], device=lm.device))
    losses = F.cross_entropy(logits[0, :-1].float(), torch.tensor(ids[1:], device=lm.device), reduction="none")
    return lm.tokens(ids), losses.cpu()
