"""The residual stream: one running vector per token that every block adds to, and the LayerNorm each block reads it
through. In a pre-LayerNorm GPT a block never replaces the vector: x ← x + attention(LN(x)), then x ← x + MLP(LN(x)).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from explainer.errors import ExplainerError
from explainer.gpt.checkpoint import LanguageModel
from explainer.gpt.hooks import act_name


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
    layers = range(lm.layout.n_layer)
    names = [act_name("resid_pre", 0)] + [act_name(hook, l) for l in layers for hook in ("attn_out", "mlp_out")]
    tokens, _, cache = lm.run_with_cache(prompt, names)
    stages = ["embedding" + (" + position" if lm.layout.W_pos is not None else "")]
    added = [cache[names[0]][0]]
    for layer in layers:
        stages += [f"+ attention {layer}", f"+ MLP {layer}"]
        added += [cache[act_name("attn_out", layer)][0], cache[act_name("mlp_out", layer)][0]]
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


NORM_PLACES = {"ln_1": "attn", "ln_2": "mlp", "ln_f": "final"}  # our names for the norms → the layout's


def layer_norm_steps(lm: LanguageModel, x: torch.Tensor, layer: int, which: str = "ln_1") -> LayerNormSteps:
    """One of the model's norms (ln_1 before attention, ln_2 before the MLP, or ln_f at the end) applied by hand: a
    LayerNorm subtracts the mean and divides by the standard deviation; an RMSNorm (LLaMA) subtracts nothing and divides
    by the root mean square (mean reported as 0)."""
    if which not in NORM_PLACES or which != "ln_f" and not 0 <= layer < lm.layout.n_layer:
        raise ExplainerError(f"which must be ln_1, ln_2 (with a layer 0 … {lm.layout.n_layer - 1}) or ln_f, got {which!r}, {layer}")
    weights = lm.layout.norm_weights(NORM_PLACES[which], None if which == "ln_f" else layer)
    x = x.detach().cpu().double()
    mean = x.mean() if weights.kind == "layernorm" else torch.zeros((), dtype=x.dtype)
    std = torch.sqrt(((x - mean) ** 2).mean() + weights.eps)
    normalised = (x - mean) / std
    gain, bias = weights.weight.cpu().double(), weights.bias.cpu().double()
    return LayerNormSteps(x, float(mean), float(std), normalised, gain, bias, normalised * gain + bias)


def layer_norm_check(lm: LanguageModel, x: torch.Tensor, layer: int, which: str = "ln_1") -> float:
    """The largest difference between layer_norm_steps' output and the model's own norm."""
    place = NORM_PLACES.get(which)
    norm = {"attn": lambda v: lm.layout.attn_norm(layer, v), "mlp": lambda v: lm.layout.mlp_norm(layer, v),
            "final": lm.layout.final_norm}[place]
    expected = norm(x.float()).double()
    return float((layer_norm_steps(lm, x, layer, which).output - expected).abs().max())


def norm_kind(lm: LanguageModel) -> str:
    """Which norm this model's blocks read through, in one line (Markdown)."""
    if lm.layout.norm == "layernorm":
        return "This model's blocks read the stream through **LayerNorm**, as below."
    return ("This model's blocks read the stream through **RMSNorm** (LLaMA's): nothing is subtracted, the vector is "
            "divided by the root mean square of its numbers, then multiplied by a learned gain; there is no bias. The "
            "steps below show it (the mean column reads 0).")
