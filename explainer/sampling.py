"""The next token: softmax, temperature, top-k / top-p and sampling, and what they do to a model's distribution.

The decoding maths lives in `explainer.gpt.sampling` (generation needs it) and is re-exported here, so this module
is the one place to look for the concept. Softmax turns any list of scores ("logits") into probabilities:
exponentiate, then normalise. Dividing the logits by a temperature T first reshapes the distribution: T -> 0 puts
all the mass on the largest logit (greedy decoding), T = 1 is the model's own distribution, T -> infinity tends to
uniform over the finite logits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from explainer.gpt.sampling import (  # noqa: F401  (re-exported: this concept's public API)
    MAX_SEED, ArrayLike, as_logits, check_seed, check_temperature, make_generator, next_token_distribution, sample,
    softmax, top_k_filter, top_p_filter,
)


def entropy(probs: torch.Tensor, dim: int = -1, base: float = 2.0) -> torch.Tensor:
    """Shannon entropy of a distribution (bits by default); zero-probability entries add nothing."""
    probs = torch.as_tensor(probs)
    terms = torch.where(probs > 0, -probs * torch.log(probs), torch.zeros_like(probs))
    return terms.sum(dim=dim) / math.log(base)


def top_with_rest(logits: ArrayLike, temperature: float, show: int) -> tuple[list[int], list[float], float]:
    """The `show` highest logits' indices (an order that no temperature changes), their probabilities, and the rest's total."""
    tensor = as_logits(logits)
    probs = softmax(tensor, temperature)
    shown = torch.argsort(tensor, descending=True)[:show].tolist()
    shown_probs = probs[shown].tolist()
    return shown, shown_probs, max(0.0, 1.0 - sum(shown_probs))


def continuations(lm, prompt: str, temperatures: tuple[float, ...], new_tokens: int, seed: int = 0) -> dict[float, str]:
    """The text the model writes after `prompt` at each temperature (same seed for each)."""
    return {t: lm.generate(prompt, new_tokens, temperature=t, seed=seed) for t in temperatures}


@dataclass
class SamplingStep:
    """One turn of the generation loop: the text so far, the distribution's top tokens, and the token drawn."""

    text: str  # the prompt and every token drawn before this step
    tokens: list[str]  # the `top` most likely next tokens, most likely first, and the drawn one if it is not among them
    probs: list[float]  # their probabilities (after temperature)
    chosen: int  # index into tokens of the drawn token
    drawn: str


def sampling_steps(lm, prompt: str, steps: int, temperature: float = 1.0, seed: int = 0, top: int = 6) -> list[SamplingStep]:
    """The sampling loop made visible: draw a token from the distribution, append it, run the model again.
    The same seed gives the same tokens as lm.generate."""
    found, text = [], prompt
    for step in lm.stream(prompt, steps, temperature=temperature, seed=seed):
        best = torch.topk(step.probs, top).indices.tolist()
        if step.token_id not in best:
            best.append(step.token_id)
        drawn = lm.tokens([step.token_id])[0]
        found.append(SamplingStep(text, lm.tokens(best), [float(step.probs[i]) for i in best], best.index(step.token_id), drawn))
        text += drawn
    return found
