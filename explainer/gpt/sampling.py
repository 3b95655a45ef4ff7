"""Decoding maths: softmax with temperature, top-k / top-p filtering and seeded sampling (what generation uses).

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


def make_generator(seed: int | None, device: torch.device | str = "cpu") -> torch.Generator:
    """A torch.Generator seeded with `seed` (a fresh random seed when None)."""
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(check_seed(seed))
    return generator


MAX_SEED = 2**63 - 1


def check_seed(seed: int) -> int:
    """The seed as an int, or SamplingError if it is not a whole number in [0, 2⁶³ − 1] (what torch accepts)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise SamplingError(f"the seed must be a whole number from 0 to {MAX_SEED:,}, got {seed!r}")
    return int(seed)


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
