"""Softmax with temperature, top-k / top-p filtering and seeded sampling.

Softmax turns any list of scores ("logits") into probabilities: exponentiate, then
normalise. Dividing the logits by a temperature T first reshapes the distribution:
T -> 0 puts all the mass on the largest logit (greedy decoding), T = 1 is the model's
own distribution, T -> infinity tends to uniform over the finite logits.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from explainer.errors import LogitsError, SamplingError, TemperatureError

ArrayLike = torch.Tensor | np.ndarray | Sequence[float]


def as_logits(logits: ArrayLike) -> torch.Tensor:
    """Logits as a floating tensor, refusing NaN and +inf with a clear message."""
    tensor = torch.as_tensor(logits)
    if not tensor.is_floating_point():
        tensor = tensor.to(torch.get_default_dtype())
    if tensor.ndim == 0 or tensor.numel() == 0:
        raise LogitsError(f"logits must be a non-empty vector (or a batch of them), got shape {tuple(tensor.shape)}")
    if torch.isnan(tensor).any():
        raise LogitsError("logits contain NaN; check the model output or the numbers you typed")
    if torch.isposinf(tensor).any():
        raise LogitsError("logits contain +inf; use large finite numbers, or -inf to forbid a token")
    return tensor


def check_temperature(temperature: float) -> float:
    """Return the temperature as a float, or raise TemperatureError saying what is allowed."""
    try:
        value = float(temperature)
    except (TypeError, ValueError):
        raise TemperatureError(f"temperature must be a number >= 0, got {temperature!r}") from None
    if math.isnan(value) or value < 0:
        raise TemperatureError(
            f"temperature must be >= 0 (0 = always the most likely token, 1 = the model's own "
            f"distribution, larger = flatter), got {temperature!r}"
        )
    return value


def softmax(logits: ArrayLike, temperature: float = 1.0, dim: int = -1) -> torch.Tensor:
    """Numerically stable softmax(logits / temperature) along `dim`.

    -inf logits get probability exactly 0. At temperature 0 the result is the limit
    T -> 0: all mass on the largest logit (shared equally between exact ties).
    """
    tensor = as_logits(logits)
    temperature = check_temperature(temperature)
    best = tensor.amax(dim=dim, keepdim=True)
    if torch.isneginf(best).any():
        raise LogitsError("every logit in a row is -inf, so no token is allowed; leave at least one finite logit")
    if temperature == 0:
        is_best = (tensor == best).to(tensor.dtype)
        return is_best / is_best.sum(dim=dim, keepdim=True)
    # Subtract the maximum before dividing: exp never overflows and a tiny T cannot make inf - inf.
    scaled = (tensor - best) / temperature
    exp = torch.exp(scaled)
    return exp / exp.sum(dim=dim, keepdim=True)


def entropy(probs: torch.Tensor, dim: int = -1, base: float = 2.0) -> torch.Tensor:
    """Shannon entropy of a distribution (bits by default); zero-probability entries add nothing."""
    probs = torch.as_tensor(probs)
    terms = torch.where(probs > 0, -probs * torch.log(probs), torch.zeros_like(probs))
    return terms.sum(dim=dim) / math.log(base)


def top_k_filter(logits: ArrayLike, k: int) -> torch.Tensor:
    """Keep the k largest logits of each row, set the rest to -inf (ties at the boundary are kept)."""
    tensor = as_logits(logits)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise SamplingError(f"top_k must be a whole number >= 1 (or None to keep every token), got {k!r}")
    if k >= tensor.shape[-1]:
        return tensor.clone()
    kth_largest = torch.topk(tensor, k, dim=-1).values[..., -1:]
    return tensor.masked_fill(tensor < kth_largest, float("-inf"))


def top_p_filter(logits: ArrayLike, p: float, temperature: float = 1.0) -> torch.Tensor:
    """Nucleus filtering: keep the fewest most likely tokens whose probability adds up to at least p."""
    tensor = as_logits(logits)
    if not (isinstance(p, (int, float)) and 0 < p <= 1):
        raise SamplingError(f"top_p must be in (0, 1] (1 keeps every token), got {p!r}")
    probs = softmax(tensor, temperature)
    sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
    mass_before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs
    drop_sorted = mass_before >= p  # the first token always stays: nothing comes before it
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return tensor.masked_fill(drop, float("-inf"))


def next_token_distribution(
    logits: ArrayLike,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> torch.Tensor:
    """The distribution a token is drawn from: temperature, then top-k, then top-p."""
    tensor = as_logits(logits)
    if top_k is not None:
        tensor = top_k_filter(tensor, top_k)
    if top_p is not None:
        tensor = top_p_filter(tensor, top_p, temperature)
    return softmax(tensor, temperature)


def top_with_rest(logits: ArrayLike, temperature: float, show: int) -> tuple[list[int], list[float], float]:
    """The `show` highest logits' indices (an order that no temperature changes), their probabilities, and the rest's total."""
    tensor = as_logits(logits)
    probs = softmax(tensor, temperature)
    shown = torch.argsort(tensor, descending=True)[:show].tolist()
    shown_probs = probs[shown].tolist()
    return shown, shown_probs, max(0.0, 1.0 - sum(shown_probs))


def make_generator(seed: int | None, device: torch.device | str = "cpu") -> torch.Generator:
    """A torch.Generator seeded with `seed` (a fresh random seed when None)."""
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(int(seed))
    return generator


def sample(
    logits: ArrayLike,
    num_samples: int = 1,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw token indices (with replacement) from next_token_distribution(...).

    The same seed gives the same draws. Pass a `generator` instead to continue one random stream.
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise SamplingError(f"num_samples must be a whole number >= 1, got {num_samples!r}")
    probs = next_token_distribution(logits, temperature, top_k, top_p)
    if generator is None:
        generator = make_generator(seed, probs.device)
    flat = probs.reshape(-1, probs.shape[-1]).float()
    draws = torch.multinomial(flat, num_samples, replacement=True, generator=generator)
    return draws.reshape(*probs.shape[:-1], num_samples)
