"""Shared fixtures: the project's folders and image helpers for checking rendered frames."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from explainer.paths import ANIMATIONS_DIR, NOTEBOOKS_DIR, PROJECT_ROOT


def sent_messages(widget) -> list[tuple[dict, list]]:
    """Each message the widget sends from now on: its data and its binary buffers."""
    sent = []
    widget.comm.send = lambda data=None, metadata=None, buffers=None: sent.append((data, list(buffers or [])))
    return sent


def hex_to_rgb(color: str) -> np.ndarray:
    color = color.lstrip("#")
    return np.array([int(color[i:i + 2], 16) for i in (0, 2, 4)])


def load_rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def color_mask(image: np.ndarray, color: str, tolerance: int = 40) -> np.ndarray:
    """Pixels within `tolerance` (per channel) of a hex colour."""
    return (np.abs(image - hex_to_rgb(color)) <= tolerance).all(axis=-1)


def count_runs(flags: np.ndarray, min_length: int = 3) -> int:
    """Number of runs of True at least `min_length` long in a 1-D boolean array."""
    padded = np.concatenate([[False], flags, [False]]).astype(int)
    starts, ends = np.flatnonzero(np.diff(padded) == 1), np.flatnonzero(np.diff(padded) == -1)
    return int(((ends - starts) >= min_length).sum())


# The tests' tensors are tiny, and this process shares 2 cores with the kernels, Chromium and Manim it starts: a second
# torch thread only spins waiting for a core (a 300-step tiny training took 99 s on two threads beside that load, 10 s
# on one). The processes it starts (renders, `explainer train`, kernels) run on one thread too, so that a number a
# render drew and the same number computed here come from the same float32 sums, in the same order.
os.environ["OMP_NUM_THREADS"] = "1"
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


__all__ = ["ANIMATIONS_DIR", "NOTEBOOKS_DIR", "load_rgb", "color_mask", "count_runs"]


@pytest.fixture(scope="session")
def shakespeare_bpe():
    """A byte-level BPE of 600 tokens trained on the start of the plays (GPT-2's kind of tokenizer, small)."""
    from explainer.gpt import data
    from explainer.gpt.tokenizer import BPETokenizer

    return BPETokenizer.train(data.shakespeare_text()[:200_000], vocab_size=600)


@pytest.fixture(scope="session")
def random_gpt2(tmp_path_factory, shakespeare_bpe) -> Path:
    """A small random GPT-2 saved by `transformers` (save_pretrained, safetensors) with a tokenizer.json beside it."""
    transformers = pytest.importorskip("transformers")  # a test-only dependency (the dev extra installs it)
    import torch

    folder = tmp_path_factory.mktemp("gpt2")
    bpe = shakespeare_bpe
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=bpe.vocab_size, n_positions=96, n_embd=64, n_layer=3, n_head=4,
                                     bos_token_id=0, eos_token_id=0, attn_implementation="eager")
    transformers.GPT2LMHeadModel(config).eval().save_pretrained(folder, safe_serialization=True)
    bpe.tokenizer.save(str(folder / "tokenizer.json"))
    return folder
