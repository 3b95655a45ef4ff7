"""Pick the compute device: CUDA, then Apple's MPS, then the CPU; say so when a request cannot be met. And how many
CPU threads torch should use: one for small work beside a browser, as many as pay for a loop of training steps."""

from __future__ import annotations

import math
import statistics
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


class ThreadTrial:
    """How many torch threads a loop of steps should run on, found by trying. On an idle machine every CPU pays (two
    threads trained the live model about 1.3 to 1.6 times as fast as one on 2 cores); when other work holds a core,
    threads that wait for one another make each step slower than one thread alone (the same model: 6,500 tokens/s on
    two threads, 50,000 on one, on 2 busy cores). So the first `window` steps of each trial run on `most` threads and
    the next `window` on one, the faster (by median step time) is kept for `every` steps, and the trial begins again,
    as the machine's load changes."""

    def __init__(self, most: int, window: int = 20, every: int = 500):
        self.choices = [most, 1] if most > 1 else [1]
        self.window, self.every = window, every
        self.times: dict[int, list[float]] = {}
        self.chosen = self.choices[0]
        self.steps = 0  # steps since the trial began

    @property
    def threads(self) -> int:
        """The thread count for the next step."""
        trying = self.steps // self.window
        return self.choices[trying] if trying < len(self.choices) else self.chosen

    def record(self, seconds: float | None) -> int:
        """Count a step that took `seconds` (None: not timed, e.g. it followed an evaluation); return the thread count
        for the next one."""
        trying = self.steps // self.window
        if trying < len(self.choices) and seconds is not None:
            self.times.setdefault(self.choices[trying], []).append(seconds)
        self.steps += 1
        if self.steps == len(self.choices) * self.window:  # the trial is over: keep the faster
            self.chosen = min(self.choices, key=lambda n: statistics.median(self.times.get(n) or [math.inf]))
        if self.steps >= len(self.choices) * self.window + self.every:
            self.steps, self.times = 0, {}
        return self.threads
