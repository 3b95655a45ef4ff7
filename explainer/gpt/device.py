"""Pick the compute device: CUDA, then Apple's MPS, then the CPU; say so when a request cannot be met."""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Iterator

import torch

from explainer.errors import ExplainerError


def mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def pick_device(requested: str = "auto") -> torch.device:
    """'auto' gives cuda -> mps -> cpu. A requested GPU that is missing falls back to the CPU with a warning."""
    requested = (requested or "auto").lower()
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if mps_available() else torch.device("cpu")
    if requested.startswith("cuda"):
        if torch.cuda.is_available():
            return torch.device(requested)
        warnings.warn(f"device {requested!r} requested but no CUDA GPU is available: using the CPU instead", stacklevel=2)
        return torch.device("cpu")
    if requested == "mps":
        if mps_available():
            return torch.device("mps")
        warnings.warn("device 'mps' requested but Apple's MPS is not available: using the CPU instead", stacklevel=2)
        return torch.device("cpu")
    if requested == "cpu":
        return torch.device("cpu")
    raise ExplainerError(f"device must be auto, cpu, cuda, cuda:N or mps; got {requested!r}")


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one CPU thread inside the block. For the tiny tensors behind a slider: a second thread buys
    nothing and, on a small machine where the browser is drawing at the same moment, spins waiting for a core."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
