"""Memory bounded by what is shown: what the machine has, what a run of the introspection path needs, how many
windows of text to scan at once, and a clear refusal before a run that would not fit.

A run_with_cache holds every tensor it records, and while a layer runs its attention scores, their masked copy and
the pattern ([batch, head, T, T] each). GPT-2 small on 32 windows of 1,024 tokens needs 1.6 GB for one of those.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from explainer.errors import ExplainerError
from explainer.gpt.hooks import NamesFilter, names_predicate, recorded_shapes

if TYPE_CHECKING:
    from explainer.gpt.model import GPTConfig

MEMORY_SHARE = 0.8  # refuse a computation whose estimated footprint is above this share of the memory available
SCAN_BUDGET = 256 * 2**20  # bytes a scan over windows of text may hold at once, by default
CHECK_ABOVE = 64 * 2**20  # estimates below this are not checked: reading the free memory costs more than they risk
FLOAT = 4  # bytes of a float32


class MemoryBudgetError(ExplainerError, MemoryError):
    """A computation that would need more memory than the machine has free."""


def available_memory(device: torch.device | str | None = None) -> int:
    """Bytes free for new tensors: on a CUDA device its free memory, otherwise the system's available memory."""
    if device is not None and torch.device(device).type == "cuda":
        return torch.cuda.mem_get_info(torch.device(device))[0]
    try:
        with open("/proc/meminfo") as meminfo:
            return int(next(line for line in meminfo if line.startswith("MemAvailable")).split()[1]) * 1024
    except (OSError, StopIteration):
        return 8 * 2**30


def cache_bytes(config: GPTConfig, tokens: int, batch: int = 1, names: NamesFilter = None) -> int:
    """About how many bytes run_with_cache needs on [batch, tokens] ids, keeping `names` (None: everything): the kept
    tensors, the logits, and what one layer holds while it runs (attention scores, masked scores and pattern; the
    MLP's activations; a few residual-sized tensors)."""
    shapes = recorded_shapes(config, batch, tokens)
    keep = names_predicate(names, shapes)
    kept = sum(math.prod(shape) for name, shape in shapes.items() if keep(name))
    B, T = batch, tokens
    working = 3 * B * config.n_head * T * T + 3 * B * T * config.hidden + 6 * B * T * config.n_embd
    return FLOAT * (kept + working + B * T * config.vocab_size)


def check_cache_fits(config: GPTConfig, tokens: int, batch: int = 1, names: NamesFilter = None,
                     device: torch.device | str | None = None) -> None:
    """Raise MemoryBudgetError, saying what to do, if run_with_cache on [batch, tokens] ids would not fit."""
    needed = cache_bytes(config, tokens, batch, names)
    if needed < CHECK_ABOVE:
        return
    free = available_memory(device)
    if needed > MEMORY_SHARE * free:
        kept = "every activation" if names is None else "the activations asked for"
        raise MemoryBudgetError(
            f"recording {kept} of {batch:,} × {tokens:,} tokens needs about {needed / 2**30:.1f} GiB, more than "
            f"{MEMORY_SHARE:.0%} of the {free / 2**30:.1f} GiB free; keep fewer names (run_with_cache(ids, "
            f"names=[act_name('pattern', layer)])), fewer tokens, or fewer windows at a time (scan_batch_size)")


def scan_batch_size(config: GPTConfig, tokens: int, names: NamesFilter = None, budget: int = SCAN_BUDGET) -> int:
    """How many windows of `tokens` tokens to run at once (at least 1) so that run_with_cache keeping `names` stays
    under `budget` bytes."""
    if tokens < 1 or budget < 1:
        raise ExplainerError(f"tokens and budget must be positive, got {tokens} and {budget}")
    one, two = cache_bytes(config, tokens, 1, names), cache_bytes(config, tokens, 2, names)
    per_window = two - one  # what grows with the batch (the position embeddings do not)
    return max(1, (budget - (one - per_window)) // per_window)
