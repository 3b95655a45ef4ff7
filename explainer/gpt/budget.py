"""Time bounded by what is shown: how many tokens a measurement may run through a model while a notebook runs.

A measurement that reads hundreds of windows of text takes a second on our small model and minutes on GPT-2 small
on a CPU. So measurements ask here how many tokens they can afford, from this model's measured speed on this machine,
and read fewer windows (saying so) or refuse with a note when even their minimum would not fit.
"""

from __future__ import annotations

import time
from functools import lru_cache

import torch

from explainer.errors import ExplainerError
from explainer.gpt.model import GPT

SECONDS = 8.0  # what one measurement may take while a notebook runs
PROBE_TOKENS = 64


class TooSlowError(ExplainerError, RuntimeError):
    """A measurement that would take much longer than a notebook cell should, on this model and machine."""


@lru_cache(maxsize=8)
def tokens_per_second(model: GPT) -> float:
    """This model's forward speed here, in tokens a second: a batch of windows timed once (after a warm-up run)."""
    window = min(model.config.block_size, PROBE_TOKENS)
    device = next(model.parameters()).device
    batch = torch.zeros(4, window, dtype=torch.long, device=device)
    model.eval()
    with torch.no_grad():
        model(batch[:1])
        started = time.perf_counter()
        model(batch)
        elapsed = time.perf_counter() - started
    return batch.numel() / max(elapsed, 1e-6)


def affordable_tokens(model: GPT, seconds: float = SECONDS) -> int:
    """How many tokens a measurement may run through the model in `seconds`."""
    return int(tokens_per_second(model) * seconds)


def windows_for(model: GPT, wanted: int, window: int, passes: int = 1, least: int = 1, seconds: float = SECONDS) -> int:
    """How many windows of `window` tokens (each run `passes` times) fit the budget: at most `wanted`. Raises
    TooSlowError, with the time it would take, when fewer than `least` fit."""
    count = min(wanted, affordable_tokens(model, seconds) // max(1, window * passes))
    if count < least:
        needed = least * window * passes / tokens_per_second(model)
        raise TooSlowError(f"this measurement would take about {needed:.0f} s with this model on this machine (a notebook "
                           f"cell gets {seconds:.0f} s); run it on a smaller model, or on a faster machine")
    return count
