"""The residual stream: one running vector per token that every block adds to, and the LayerNorm each block reads it
through. In a pre-LayerNorm GPT a block never replaces the vector: x ← x + attention(LN(x)), then x ← x + MLP(LN(x)).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from explainer.errors import ExplainerError
from explainer.gpt.checkpoint import LanguageModel


@dataclass
class Stream:
    """One prompt's residual stream: the vector after every stage, and what each stage added."""

    tokens: list[str]
    stages: list[str]  # "embedding + position", "+ attention 0", "+ MLP 0", …
    vectors: torch.Tensor  # [stage, token, C]: the running vector after each stage
    added: torch.Tensor  # [stage, token, C]: what the stage added (the first stage: the embedding itself)

    def norms(self, position: int) -> torch.Tensor:
        """|x| after each stage, for one token [stage]."""
        return self.vectors[:, position].norm(dim=-1)

    def added_norms(self, position: int) -> torch.Tensor:
        """|what each stage added|, for one token [stage]."""
        return self.added[:, position].norm(dim=-1)

    def turn(self, position: int) -> torch.Tensor:
        """cos(x before, x after) for each stage after the first [stage − 1]: how far each addition turns the vector."""
        x = self.vectors[:, position]
        return torch.cosine_similarity(x[:-1], x[1:], dim=-1)


def stream(lm: LanguageModel, prompt: str) -> Stream:
    """The residual stream of `prompt` read from the model's cache: embedding + position, then each attention and
    MLP output added in turn."""
    tokens, _, cache = lm.run_with_cache(prompt)
    stages = ["embedding + position"]
    added = [cache["blocks.0.hook_resid_pre"][0]]
    for layer in range(lm.model.config.n_layer):
        stages += [f"+ attention {layer}", f"+ MLP {layer}"]
        added += [cache[f"blocks.{layer}.hook_attn_out"][0], cache[f"blocks.{layer}.hook_mlp_out"][0]]
    added = torch.stack(added)
    return Stream(tokens, stages, added.cumsum(0), added)


@dataclass
class LayerNormSteps:
    """LayerNorm of one vector, one step at a time: (x − mean) / std, then × gain + bias."""

    x: torch.Tensor  # [C]
    mean: float
    std: float  # √(variance + ε), the population variance over the C numbers of this one vector
    normalised: torch.Tensor  # (x − mean) / std: mean 0, standard deviation 1
    gain: torch.Tensor  # γ [C], learned
    bias: torch.Tensor  # β [C], learned
    output: torch.Tensor  # normalised × γ + β


def layer_norm_steps(lm: LanguageModel, x: torch.Tensor, layer: int, which: str = "ln_1") -> LayerNormSteps:
    """One of the model's LayerNorms (ln_1 before attention, ln_2 before the MLP, or ln_f at the end) applied by hand."""
    if which == "ln_f":
        norm = lm.model.transformer.ln_f
    elif which in ("ln_1", "ln_2") and 0 <= layer < lm.model.config.n_layer:
        norm = getattr(lm.model.transformer.h[layer], which)
    else:
        raise ExplainerError(f"which must be ln_1, ln_2 (with a layer 0 … {lm.model.config.n_layer - 1}) or ln_f, got {which!r}, {layer}")
    x = x.detach().cpu().double()
    mean = x.mean()
    std = torch.sqrt(x.var(unbiased=False) + norm.eps)
    normalised = (x - mean) / std
    gain = norm.weight.detach().cpu().double()
    bias = norm.bias.detach().cpu().double() if norm.bias is not None else torch.zeros_like(gain)
    return LayerNormSteps(x, float(mean), float(std), normalised, gain, bias, normalised * gain + bias)


def layer_norm_check(lm: LanguageModel, x: torch.Tensor, layer: int, which: str = "ln_1") -> float:
    """The largest difference between layer_norm_steps' output and the model's own LayerNorm module."""
    module = lm.model.transformer.ln_f if which == "ln_f" else getattr(lm.model.transformer.h[layer], which)
    with torch.no_grad():
        expected = module(x.to(lm.device)).cpu().double()
    return float((layer_norm_steps(lm, x, layer, which).output - expected).abs().max())
