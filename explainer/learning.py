"""How a model learns: gradient descent, little steps downhill on a cost surface, first on a model with two weights
that can be drawn, then on our GPT, whose descent we watch through its saved snapshots, and live: a small model
trained in a background thread while the moments it passes are measured and marked as they happen."""

from __future__ import annotations

import atexit
import copy
import math
import os
import re
import threading
import time
import weakref
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from explainer import attention, settings
from explainer.errors import ExplainerError
from explainer.gpt import budget, checkpoint, data, external
from explainer.gpt.device import ThreadTrial, one_thread
from explainer.gpt.model import GPT
from explainer.gpt.train import PRESETS, TrainConfig, Tokens, Trainer, prepare_tokens, snapshot_schedule
from explainer.paths import BUILD_DIR

# The toy: y = w2 · tanh(w1 · x) fitted to points made by w1 = 1.2, w2 = 1.5 plus noise. Its cost surface has two
# valleys, (w1, w2) and (−w1, −w2), because flipping both signs gives the same curve, and a saddle between them.
TRUE_WEIGHTS = (1.2, 1.5)


@dataclass(frozen=True)
class Toy:
    x: torch.Tensor  # [points]
    y: torch.Tensor

    def cost(self, w1: torch.Tensor, w2: torch.Tensor) -> torch.Tensor:
        """Mean squared error for weights of any (matching) shape."""
        prediction = w2[..., None] * torch.tanh(w1[..., None] * self.x)
        return ((prediction - self.y) ** 2).mean(-1)

    def cost_and_gradient(self, w1: float, w2: float) -> tuple[float, np.ndarray]:
        """The cost at (w1, w2) and its gradient (∂/∂w1, ∂/∂w2) by the chain rule: with t = tanh(w1·x) and the error
        r = w2·t − y, ∂/∂w1 = mean(2r · w2 · (1 − t²) · x) and ∂/∂w2 = mean(2r · t). (The tests check it against autograd.)"""
        x, y = self.x.numpy(), self.y.numpy()
        t = np.tanh(w1 * x)
        r = w2 * t - y
        return float(np.mean(r**2)), np.array([np.mean(2 * r * w2 * (1 - t**2) * x), np.mean(2 * r * t)])


def toy(points: int = 24, noise: float = 0.1, seed: int = 0) -> Toy:
    generator = torch.Generator().manual_seed(seed)
    x = torch.linspace(-2, 2, points, dtype=torch.float64)
    y = TRUE_WEIGHTS[1] * torch.tanh(TRUE_WEIGHTS[0] * x) + noise * torch.randn(points, generator=generator, dtype=torch.float64)
    return Toy(x, y)


def surface(model: Toy, extent: float = 3.0, resolution: int = 81) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The cost on a grid of (w1, w2): (w1 values, w2 values, cost [w2, w1])."""
    axis = torch.linspace(-extent, extent, resolution, dtype=torch.float64)
    w2, w1 = torch.meshgrid(axis, axis, indexing="ij")
    return axis, axis, model.cost(w1, w2)


@dataclass
class Descent:
    path: torch.Tensor  # [steps + 1, 2]: (w1, w2) after each step
    costs: torch.Tensor  # [steps + 1]


def gradient_descent(model: Toy, start: tuple[float, float], learning_rate: float = 0.1, steps: int = 60) -> Descent:
    """Plain gradient descent from `start`: w ← w − learning_rate · ∇cost(w)."""
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ExplainerError(f"the learning rate must be a positive number, got {learning_rate!r}")
    if not (isinstance(steps, int) and steps >= 0):
        raise ExplainerError(f"steps must be a whole number >= 0, got {steps!r}")
    w = np.array(start, dtype=np.float64)
    path, costs = [w], []
    for _ in range(steps):
        cost, gradient = model.cost_and_gradient(*w)
        costs.append(cost)
        w = w - learning_rate * gradient
        path.append(w)
    costs.append(model.cost_and_gradient(*w)[0])
    return Descent(torch.from_numpy(np.stack(path)), torch.tensor(costs, dtype=torch.float64))


# ---------- our model, step by step ----------

@dataclass
class SnapshotPrediction:
    step: int
    top_tokens: list[str]
    top_probs: list[float]
    sample: str  # a seeded continuation
    loss: float | None  # the training batch's loss recorded at (or just before) this step
    loss_note: str  # what the training record says of the loss at this step, each number named (see loss_note)


def snapshot_predictions(folder: str | Path | None, prompt: str, top: int = 8, new_tokens: int = 30,
                         seed: int = 0, temperature: float = 0.8) -> list[SnapshotPrediction]:
    """The same prompt at every saved training step: the next-token distribution and a sampled continuation."""
    folder = Path(folder or checkpoint.SHIPPED_CHECKPOINT)
    record = checkpoint.read_config(folder)
    steps = checkpoint.snapshot_steps(folder)
    losses = checkpoint.losses_at(folder, steps)
    found = []
    for step in steps:
        lm = checkpoint.load(folder, step=step)
        probs = torch.softmax(lm.next_token_logits(prompt), -1)
        best = torch.topk(probs, top)
        found.append(SnapshotPrediction(step, lm.tokens(best.indices.tolist()), best.values.tolist(),
                                        lm.generate(prompt, new_tokens, temperature=temperature, seed=seed),
                                        losses[step], loss_note(record, step)))
    return found


def loss_note(record: dict, step: int) -> str:
    """The losses a checkpoint's record holds for `step`, each named for what it is: the evaluation made at that step
    (means over eval_iters batches of training and of validation text), if any, and the one training batch recorded at
    or just before it (a few hundred tokens: noisy)."""
    training = record.get("training", {})
    batch_tokens = training.get("batch_size", 0) * training.get("block_size", 0)
    parts = []
    history = record.get("history", {"step": []})
    if step in history["step"]:
        at = history["step"].index(step)
        parts.append(f"evaluated on {training.get('eval_iters')} batches: {history['train_loss'][at]:.2f} on training "
                     f"text, {history['val_loss'][at]:.2f} on validation text")
    curve = record.get("train_curve", {"step": [], "loss": []})
    recorded = [(s, loss) for s, loss in zip(curve["step"], curve["loss"]) if s <= step]
    if recorded:
        batch_step, loss = recorded[-1]
        parts.append(f"the one training batch of step {batch_step} ({batch_tokens:,} tokens, noisy): {loss:.2f}")
    return "; ".join(parts) or "no loss recorded at this step"


@dataclass(frozen=True)
class EvaluationGap:
    """The loss curve's last validation point (a mean over a few batches drawn at random) beside the loss over the
    whole validation text, and the scatter of single batches that says how far apart the two may fall."""

    step: int
    curve_loss: float
    batches: int
    batch_tokens: int
    whole_loss: float
    whole_tokens: int
    batch_spread: float  # standard deviation of single training batches' losses over the last ones recorded
    spread_batches: int
    spread_from: int  # the step of the first of them

    @property
    def standard_error(self) -> float:
        """How far a mean of `batches` batches typically falls from the mean over every window."""
        return self.batch_spread / math.sqrt(self.batches)


def evaluation_gap(record: dict, last: int = 50) -> EvaluationGap | None:
    """From a checkpoint's record; None if it lacks the curve or the whole-text evaluation (a model trained elsewhere)."""
    history, curve, whole = record.get("history"), record.get("train_curve"), record.get("evaluation") or {}
    if not history or not history["val_loss"] or not curve or len(curve["loss"]) < 2 or "val_loss" not in whole:
        return None
    training = record["training"]
    recent = curve["loss"][-last:]
    return EvaluationGap(history["step"][-1], history["val_loss"][-1], training["eval_iters"],
                         training["batch_size"] * training["block_size"], whole["val_loss"], whole["tokens"],
                         float(np.std(recent, ddof=1)), len(recent), curve["step"][-len(recent)])


def evaluation_gap_text(gap: EvaluationGap | None) -> str:
    """Why the curve's last validation point and the whole text's loss differ, with the numbers that say so."""
    if gap is None:
        return "This model's record holds no loss over the whole validation text to compare the curve with."
    difference, allowed = gap.curve_loss - gap.whole_loss, 2 * gap.standard_error
    text = (f"The curve's last validation point, {gap.curve_loss:.3f} at step {gap.step:,}, is a mean over {gap.batches} "
            f"batches of {gap.batch_tokens:,} tokens drawn at random from the validation text; the summary's "
            f"{gap.whole_loss:.3f} scores all {gap.whole_tokens:,} of its tokens. Single batches scatter: the last "
            f"{gap.spread_batches} training batches recorded (from step {gap.spread_from:,}) have a standard deviation of "
            f"{gap.batch_spread:.3f} nats, so a mean of {gap.batches} is uncertain by about {gap.batch_spread:.3f} / "
            f"√{gap.batches} = {gap.standard_error:.3f}. The two differ by {abs(difference):.3f}, ")
    if abs(difference) <= allowed:
        return text + f"within two such uncertainties ({allowed:.3f}): it is which windows were drawn, not the model."
    return text + (f"more than two such uncertainties ({allowed:.3f}): the batches drawn are not typical of the "
                   f"validation text.")


# ---------- watching it learn, live ----------

LIVE_PRESETS = ("char-tiny", "char-small")  # the sizes the notebook offers (train.PRESETS), the first by default
LIVE_DIR = BUILD_DIR / "live"  # where a live run's checkpoint is saved, in a folder named after its size
PREVIOUS_TOKEN_SHARE = 0.5  # a head whose strongest key is the previous token at more than half the positions
REAL_WORD_SHARE = 0.5  # "noise turns into words": more than half the sample's words are words of the training text
WINDOWS = 8  # validation windows the previous-token score is measured on
SAMPLE_CHARACTERS = 200  # about this many characters of sample (fewer tokens for a BPE model)
SAMPLE_TEMPERATURE = 0.8
UPDATE_SECONDS = 0.4  # the page hears from the trainer at least this often while it trains
# The most torch threads the training thread tries: as many as `explainer train` uses (torch's default, one per CPU),
# although the kernel's own threads run torch on one (see explainer.figures); a ThreadTrial keeps one instead whenever
# that is faster (other work holding a core). Measurements between steps run on one thread: small operations.
TRAINING_THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
KEPT_EXTRA = 8  # copies of the weights kept beyond step 0 and the moments (bounds the memory estimate)


class TrainingMemoryError(ExplainerError, MemoryError):
    """A model too large to train in the memory at hand."""


@dataclass(frozen=True)
class Controls:
    """What each moment is measured against, computed once from the corpus and the model's shape."""

    unit: str  # "character" or "token"
    vocab_size: int
    unigram_entropy: float  # nats: the loss of a model that knows only how often each unit occurs
    previous_token_chance: float  # the share a head that reads a random earlier key gives the previous one
    unigram_real_words: float  # the real-word share of samples drawn unit by unit at the corpus's frequencies

    @property
    def uniform_loss(self) -> float:
        """The loss of a uniform guess: log of the vocabulary size."""
        return math.log(self.vocab_size)


@dataclass(frozen=True)
class Measurement:
    """What the watcher reads off the model at one evaluation."""

    step: int
    val_loss: float
    previous_token: np.ndarray  # [layer, head]: share of positions whose strongest key is the token just before
    previous_weight: np.ndarray  # [layer, head]: mean weight on the token just before
    sample: str  # the text after the prompt, sampled at a fixed seed
    real_words: int  # words of the sample that are words of the corpus
    words: int  # words of the sample
    pattern: np.ndarray  # [layer, head, query, key]: attention on the fixed line

    @property
    def real_word_share(self) -> float:
        return self.real_words / self.words if self.words else 0.0

    def strongest_previous_token_head(self) -> tuple[int, int]:
        return divmod(int(np.argmax(self.previous_token)), self.previous_token.shape[1])


@dataclass(frozen=True)
class Moment:
    kind: str  # "unigram", "previous_token" or "words"
    step: int
    label: str  # a few words, for the marker on the loss curve
    text: str  # the finding, with its numbers and its control


def first(measurements: Sequence[Measurement], holds: Callable[[Measurement], bool]) -> Measurement | None:
    return next((m for m in measurements if holds(m)), None)


def unigram_moment(measurements: Sequence[Measurement], controls: Controls) -> Moment | None:
    """The first evaluation whose validation loss is below the entropy of the corpus's unit frequencies."""
    found = first(measurements, lambda m: m.val_loss < controls.unigram_entropy)
    if found is None:
        return None
    unit = controls.unit
    return Moment("unigram", found.step, f"below the {unit} frequencies",
                  f"step {found.step:,}: the validation loss, {found.val_loss:.2f} nats per {unit}, fell below "
                  f"{controls.unigram_entropy:.2f}, the entropy of the corpus's {unit} frequencies: the model predicts "
                  f"better than one that knows only how often each {unit} occurs (a uniform guess over its "
                  f"{controls.vocab_size:,} {unit}s costs {controls.uniform_loss:.2f}).")


def previous_token_moment(measurements: Sequence[Measurement], controls: Controls) -> Moment | None:
    """The first evaluation where some head's strongest key is the previous token at more than half the positions."""
    found = first(measurements, lambda m: float(m.previous_token.max()) > PREVIOUS_TOKEN_SHARE)
    if found is None:
        return None
    layer, head = found.strongest_previous_token_head()
    unit, share, weight = controls.unit, found.previous_token[layer, head], found.previous_weight[layer, head]
    return Moment("previous_token", found.step, f"previous-{unit} head (layer {layer}, head {head})",
                  f"step {found.step:,}: layer {layer} head {head} reads the {unit} just before more than any other at "
                  f"{share:.0%} of positions (mean weight {weight:.2f}), "
                  f"above {PREVIOUS_TOKEN_SHARE:.0%}; a head reading a random earlier {unit} would at "
                  f"{controls.previous_token_chance:.0%}.")


def words_moment(measurements: Sequence[Measurement], controls: Controls) -> Moment | None:
    """The first evaluation whose sample has more than half its words in the corpus."""
    found = first(measurements, lambda m: m.real_word_share > REAL_WORD_SHARE)
    if found is None:
        return None
    return Moment("words", found.step, "half real words",
                  f"step {found.step:,}: {found.real_words} of the sample's {found.words} words ({found.real_word_share:.0%}) "
                  f"are words of the training text, above {REAL_WORD_SHARE:.0%}; {controls.unit}s drawn at their corpus "
                  f"frequencies make {controls.unigram_real_words:.0%}.")


DETECTORS = (unigram_moment, previous_token_moment, words_moment)


def find_moments(measurements: Sequence[Measurement], controls: Controls) -> list[Moment]:
    """Every moment the measurements show, in the order they happened."""
    found = [moment for detector in DETECTORS if (moment := detector(measurements, controls))]
    return sorted(found, key=lambda moment: moment.step)


def not_yet(measurements: Sequence[Measurement], controls: Controls) -> list[str]:
    """For each moment not reached, how close the last measurement came."""
    if not measurements:
        return []
    last, unit, found = measurements[-1], controls.unit, {m.kind for m in find_moments(measurements, controls)}
    layer, head = last.strongest_previous_token_head()
    closest = last.previous_token[layer, head]
    lines = {"unigram": f"the validation loss, {last.val_loss:.2f}, is not yet below the {unit} frequencies' "
                        f"{controls.unigram_entropy:.2f}",
             "previous_token": f"no head reads the previous {unit} most at more than {PREVIOUS_TOKEN_SHARE:.0%} of "
                               f"positions yet (the closest, layer {layer} head {head}: {closest:.0%})",
             "words": f"the sample's words are {last.real_word_share:.0%} real, not yet above {REAL_WORD_SHARE:.0%}"}
    return [f"step {last.step:,}: {text}" for kind, text in lines.items() if kind not in found]


# ---------- measuring ----------

WORD = re.compile(r"[^\W\d_]+")


def real_words(text: str, vocabulary: frozenset[str]) -> tuple[int, int]:
    """(words of `text` found in `vocabulary`, words of `text`); words are runs of letters, compared in lower case."""
    words = WORD.findall(text.lower())
    return sum(word in vocabulary for word in words), len(words)


@lru_cache(maxsize=4)
def corpus_words(corpus: str | None) -> frozenset[str]:
    """Every word of the training part of the corpus (lower case)."""
    return frozenset(WORD.findall(data.train_val_split(data.load_text(corpus)).train.lower()))


def unigram_entropy(ids: np.ndarray, vocab_size: int) -> float:
    """Entropy (nats) of the units' frequencies in `ids`."""
    counts = np.bincount(ids.astype(np.int64), minlength=vocab_size)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def unigram_real_words(tokens: Tokens, vocabulary: frozenset[str], length: int, samples: int = 20, seed: int = 0) -> float:
    """The real-word share of `samples` texts of `length` units drawn independently at the corpus's frequencies."""
    counts = np.bincount(tokens.train_ids.astype(np.int64), minlength=tokens.tokenizer.vocab_size)
    drawn = np.random.default_rng(seed).choice(len(counts), size=(samples, length), p=counts / counts.sum())
    found = [real_words(tokens.tokenizer.decode(row.tolist()), vocabulary) for row in drawn]
    return sum(f for f, _ in found) / max(1, sum(n for _, n in found))


def previous_token_scores(model: GPT, windows: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Each head's previous-token scores on token windows [window, T]: the share of positions (1 …) whose strongest
    key is the token just before, and the mean weight on it; each [layer, head]."""
    _, cache = model.run_with_cache(windows)
    patterns = torch.stack([cache[f"blocks.{l}.attn.hook_pattern"] for l in range(model.config.n_layer)], 1)  # [W, L, H, T, T]
    queries = windows.shape[1] - 1
    strongest = patterns[..., 1:, :].argmax(-1)  # [W, L, H, T - 1]: the key each query 1 … reads most
    share = (strongest == torch.arange(queries, device=windows.device)).float().mean((0, -1))
    weight = torch.diagonal(patterns, offset=-1, dim1=-2, dim2=-1).mean((0, -1))
    return share.cpu().numpy(), weight.cpu().numpy()


class Watcher:
    """Measures a Trainer's model at each evaluation (validation loss, previous-token scores, a sample at a fixed seed
    and prompt, the attention pattern on a fixed line) and finds the moments as they happen. The notebook's live
    trainer and `explainer train --live` both use it."""

    def __init__(self, trainer: Trainer, prompt: str = settings.LIVE_PROMPT, line: str = settings.LIVE_LINE, seed: int = 0):
        self.trainer, self.prompt, self.seed = trainer, prompt, seed
        self.lm = checkpoint.LanguageModel(trainer.model, trainer.tokenizer)
        self.line_tokens = self.lm.tokens(self.lm.encode(line))
        self.line = line
        tokens = Tokens(trainer.tokenizer, trainer.train_ids, trainer.val_ids, trainer.corpus)
        corpus = trainer.corpus
        self.sample_tokens = max(1, round(SAMPLE_CHARACTERS * corpus["val_tokens"] / corpus["val_characters"]))
        self.vocabulary = corpus_words(trainer.config.corpus)
        T = trainer.config.block_size
        generator = torch.Generator().manual_seed(seed)
        starts = torch.randint(len(trainer.val_ids) - T, (WINDOWS,), generator=generator).tolist()
        self.windows = torch.stack([torch.from_numpy(trainer.val_ids[s:s + T].astype(np.int64)) for s in starts])
        self.controls = Controls("character" if trainer.tokenizer.kind == "char" else "token", trainer.tokenizer.vocab_size,
                                 unigram_entropy(trainer.train_ids, trainer.tokenizer.vocab_size),
                                 attention.uniform_previous_token_weight(T),
                                 unigram_real_words(tokens, self.vocabulary, self.sample_tokens))
        self.measurements: list[Measurement] = []
        self.moments: list[Moment] = []

    @torch.no_grad()
    def measure(self) -> list[Moment]:
        """Measure the model at the step reached (with the evaluation made there, or a new one) and return the moments
        this measurement makes."""
        trainer = self.trainer
        if not trainer.history["step"] or trainer.history["step"][-1] != trainer.step:
            trainer.evaluate()
        with one_thread():  # small operations: a second thread only waits for a core
            trainer.model.eval()
            share, weight = previous_token_scores(trainer.model, self.windows.to(trainer.device))
            line = attention.prompt_attention(self.lm, self.line).patterns.numpy()
            sample = self.lm.generate(self.prompt, self.sample_tokens, temperature=SAMPLE_TEMPERATURE, seed=self.seed)
        found, words = real_words(sample, self.vocabulary)
        self.measurements.append(Measurement(trainer.step, trainer.history["val_loss"][-1], share, weight, sample,
                                             found, words, line))
        known = {moment.kind for moment in self.moments}
        new = [moment for moment in find_moments(self.measurements, self.controls) if moment.kind not in known]
        self.moments += new
        return new

    def what_it_watches(self) -> str:
        """One line: the thresholds and their controls."""
        c = self.controls
        return (f"watching for: validation loss below {c.unigram_entropy:.2f} nats per {c.unit} (the corpus's {c.unit} "
                f"frequencies; a uniform guess costs {c.uniform_loss:.2f}); a head reading the previous {c.unit} most at "
                f"over {PREVIOUS_TOKEN_SHARE:.0%} of positions (chance: {c.previous_token_chance:.0%}); over "
                f"{REAL_WORD_SHARE:.0%} real words in a sample ({c.unit}s drawn at their frequencies: "
                f"{c.unigram_real_words:.0%})")


class PrintedMoments:
    """`explainer train --live`'s watch: measures at each evaluation and returns the moments found, as lines."""

    def __init__(self) -> None:
        self.watcher: Watcher | None = None

    def __call__(self, trainer: Trainer) -> list[str]:
        lines = []
        if self.watcher is None:
            self.watcher = Watcher(trainer)
            lines.append(self.watcher.what_it_watches())
        return lines + [f"moment at {moment.text}" for moment in self.watcher.measure()]


# ---------- the live trainer ----------

def training_memory(model: GPT, config: TrainConfig, kept: int = KEPT_EXTRA) -> int:
    """Bytes a training run needs, roughly: weights, gradients and AdamW's two moments (16 bytes a weight), the
    activations a step keeps for its backward pass (per token and layer about 17 vectors of n_embd and a row of
    attention per head; the logits, their softmax and gradient), and float16 copies kept at moments."""
    c, weights = model.config, model.num_parameters()
    per_token = c.n_layer * (17 * c.n_embd + c.n_head * config.block_size) + 3 * c.vocab_size
    return 16 * weights + 4 * config.batch_size * config.block_size * per_token + 2 * weights * kept


def check_trainable(model: GPT, config: TrainConfig, available: int | None = None) -> None:
    """Refuse, before allocating anything, a run that would not fit in the memory at hand."""
    needed, free = training_memory(model, config), external.available_memory() if available is None else available
    if needed > external.MEMORY_SHARE * free:
        raise TrainingMemoryError(
            f"training this model ({model.num_parameters():,} weights) needs about {needed / 2**30:.1f} GiB, more than "
            f"{external.MEMORY_SHARE:.0%} of the {free / 2**30:.1f} GiB available; watch a smaller model learn, or use a "
            f"machine with more memory")


def check_watchable(model: GPT, config: TrainConfig) -> None:
    """Refuse a run whose evaluations (eval_iters batches of each split, at the start and at every measurement) would
    keep the page waiting much longer than a notebook cell should, at this model's speed on this machine."""
    tokens = 2 * config.eval_iters * config.batch_size * config.block_size
    seconds = tokens / budget.tokens_per_second(model)
    if seconds > budget.SECONDS:
        raise budget.TooSlowError(f"one evaluation of this model ({model.num_parameters():,} weights) would take about "
                                  f"{seconds:.0f} s here, at the start and at every measurement; watch a smaller model "
                                  "learn, or use a faster machine")


def size_summary(config: TrainConfig) -> str:
    return f"{config.n_layer} layers × {config.n_head} heads, {config.n_embd} wide"


@lru_cache(maxsize=2)
def live_tokens(corpus: str | None, kind: str, vocab_size: int) -> Tokens:
    """The corpus tokenized for a live preset, once per session (the sizes share it)."""
    return prepare_tokens(TrainConfig(corpus=corpus, tokenizer=kind, vocab_size=vocab_size), None)


def continued_config(lm: checkpoint.LanguageModel, base: TrainConfig) -> TrainConfig:
    """Settings to keep training a loaded model: its shape, the base's batches, and a constant learning rate, its
    own last one if it was trained here (else the base's lowest), so that its weights are nudged, not shaken."""
    c, record = lm.model.config, lm.meta.get("training") or {}
    rate = record.get("min_lr", base.min_lr)
    step = lm.meta.get("step", 0) or 0
    return replace(base, n_layer=c.n_layer, n_head=c.n_head, n_embd=c.n_embd, block_size=min(base.block_size, c.block_size),
                   dropout=0.0, tokenizer=lm.tokenizer.kind, learning_rate=rate, min_lr=rate, warmup_iters=0,
                   max_iters=step + base.max_iters)


@dataclass(frozen=True)
class Progress:
    """Where a live run stands, as the page shows it (a copy: the training thread goes on)."""

    state: str  # "ready", "training", "paused" or "finished"
    step: int
    elapsed: float  # seconds spent training (pauses not counted)
    tokens_per_second: float  # tokens trained per second of that time, measuring and page updates included
    curve: tuple[tuple[int, ...], tuple[float, ...]]  # one training batch's loss every 10 steps
    evaluations: tuple[tuple[int, ...], tuple[float, ...]]  # validation loss at each measurement
    latest: Measurement
    kept: dict[int, Measurement]  # the measurements at the steps whose weights are kept
    moments: tuple[Moment, ...]
    waiting: tuple[str, ...]  # moments not reached yet, and how close the last measurement came
    saved_to: Path | None  # the checkpoint written when the run last stopped
    error: str | None
    threads: int | None  # torch threads the steps run on now (None: not training)


RUNNING: weakref.WeakSet = weakref.WeakSet()  # live runs with a thread, stopped (and saved) when Python exits


class LiveTraining:
    """A small model trained in a background thread and watched as it learns: `start`, `stop` (which saves a
    checkpoint at the step reached in `out_dir`, as Ctrl-C does on the command line) and `reset`. Steps run on
    `threads` torch threads (see TRAINING_THREADS), the measurements on one; `on_progress` is called from a
    reporter thread every UPDATE_SECONDS while it trains, and once more when it stops. The weights are kept (float16
    copies) at step 0, at each moment and at evaluations that double the step, and saved as the checkpoint's snapshots.
    `start`: a loaded model to keep training instead of random weights (refused if it would not fit in memory)."""

    def __init__(self, config: TrainConfig, out_dir: str | Path, start: checkpoint.LanguageModel | None = None,
                 threads: int = TRAINING_THREADS, on_progress: Callable[[Progress], None] | None = None):
        if start is not None and not isinstance(start.model, GPT):
            raise ExplainerError(f"{start.name} is not a model this trainer can train; watch a new one learn instead")
        self.config = continued_config(start, config) if start is not None else config
        if start is not None:
            check_trainable(start.model, self.config)
            check_watchable(start.model, self.config)
        self.start_model = start
        self.tokens = (live_tokens(self.config.corpus, self.config.tokenizer, self.config.vocab_size) if start is None
                       else prepare_tokens(self.config, start.tokenizer))
        self.out_dir = Path(out_dir)
        self.threads, self.on_progress = threads, on_progress
        self.stop_request = threading.Event()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()  # the kept weights, read by the page
        self.reset()

    def reset(self) -> None:
        """Stop (saving), then start again from the first weights: fresh random ones, or the loaded model's."""
        self.stop()
        if self.start_model is None:
            self.trainer = Trainer(self.config, self.tokens)
        else:
            self.trainer = Trainer(self.config, self.tokens, copy.deepcopy(self.start_model.model).float())
            self.trainer.step = self.start_model.meta.get("step", 0) or 0
            self.trainer.batches = self.trainer.new_batches()
        self.watcher = Watcher(self.trainer)
        self.kept: dict[int, GPT] = {}
        self.elapsed, self.trained_tokens, self.saved_to, self.error = 0.0, 0, None, None
        self.first_step = self.trainer.step
        self.run_started, self.run_start_step = None, self.trainer.step  # the current run of the thread, if any
        self.trial: ThreadTrial | None = None
        self.watcher.measure()
        self.keep()
        self.state = "ready"

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self) -> None:
        """Train in a background thread from the step reached (no-op if already training)."""
        if self.running:
            return
        if self.trainer.step >= self.config.max_iters:
            raise ExplainerError(f"this run is finished at step {self.trainer.step:,}; press Reset to train again")
        self.stop_request.clear()
        self.state, self.error = "training", None
        self.thread = threading.Thread(target=self.train, name="explainer-live-training", daemon=True)
        self.reporter = threading.Thread(target=self.report_while_training, name="explainer-live-reporter", daemon=True)
        RUNNING.add(self)
        self.reporter.start()  # first: a short run's thread joins the reporter as it ends
        self.thread.start()

    def stop(self, wait: bool = True) -> None:
        """Ask the thread to stop after its current step; it saves a checkpoint before it ends. `wait`: return only
        then (a signal handler must not wait)."""
        self.stop_request.set()
        if wait and self.running and threading.current_thread() is not self.thread:
            self.thread.join()

    def train(self) -> None:
        """The training thread: `Trainer.run` until stopped or finished, then a checkpoint."""
        self.trial = ThreadTrial(self.threads)
        self.timed_before = (self.trainer.timed_steps, self.trainer.step_seconds)
        torch.set_num_threads(self.trial.threads)  # this thread's own setting: the kernel's other threads keep theirs
        started, start_step = time.perf_counter(), self.trainer.step
        self.run_started, self.run_start_step = started, start_step
        try:
            self.trainer.run(self.config.max_iters, self.stop_request.is_set, self.after_step, self.after_evaluation)
        except Exception as error:  # shown on the page: the thread has no one else to tell
            self.error = f"{type(error).__name__}: {error}"
        finally:
            self.stop_request.set()  # (a run that reached max_iters stops its reporter too)
            self.reporter.join()  # its last report comes before the one below
            self.elapsed += time.perf_counter() - started
            self.trained_tokens += (self.trainer.step - start_step) * self.trainer.tokens_per_step
            self.run_started = None
            self.save()
            self.state = "finished" if self.trainer.step >= self.config.max_iters else "paused"
            RUNNING.discard(self)
            self.report()

    def report_while_training(self) -> None:
        """The reporter thread: the page hears every UPDATE_SECONDS, also while the trainer measures."""
        while not self.stop_request.wait(UPDATE_SECONDS):
            self.report()

    def after_step(self, loss: torch.Tensor) -> None:
        """Time the step for the thread trial (the trainer's own clock: steps only)."""
        timed = (self.trainer.timed_steps, self.trainer.step_seconds)
        seconds = timed[1] - self.timed_before[1] if timed[0] > self.timed_before[0] else None
        self.timed_before = timed
        threads = self.trial.record(seconds)
        if threads != torch.get_num_threads():
            torch.set_num_threads(threads)

    def after_evaluation(self) -> None:
        self.watcher.measure()
        self.keep()

    def keep(self) -> None:
        """A float16 copy of the weights if this step is step 0, a moment's, or an evaluation that doubles the step."""
        step, interval = self.trainer.step, self.config.eval_interval
        doubling = step >= interval and step % interval == 0 and ((step // interval) & (step // interval - 1)) == 0
        if step == 0 or doubling or any(moment.step == step for moment in self.watcher.moments):
            with self.lock:
                self.kept[step] = copy.deepcopy(self.trainer.model).half()

    def save(self) -> None:
        """The run as a checkpoint folder: its weights now, AdamW's state, its record, and the kept weights as
        snapshots."""
        try:
            for step, model in sorted(self.kept.items()):
                self.trainer.save_snapshot(self.out_dir, step, model)
            self.trainer.save(self.out_dir)
            self.saved_to = self.out_dir
        except OSError as error:
            self.error = f"could not save the checkpoint in {self.out_dir}: {error}"

    def progress(self) -> Progress:
        """Where the run stands now."""
        now = time.perf_counter()
        trainer, watcher, running = self.trainer, self.watcher, self.run_started
        step = trainer.step
        elapsed = self.elapsed + (now - running if running else 0.0)
        tokens = self.trained_tokens + ((step - self.run_start_step) * trainer.tokens_per_step if running else 0)
        measurements = list(watcher.measurements)
        with self.lock:
            kept = {m.step: m for m in measurements if m.step in self.kept}
        steps, losses = tuple(trainer.train_curve["step"]), tuple(trainer.train_curve["loss"])  # may be one apart
        points = min(len(steps), len(losses))
        return Progress(self.state, step, elapsed, tokens / elapsed if elapsed else float("nan"),
                        (steps[:points], losses[:points]),
                        (tuple(m.step for m in measurements), tuple(m.val_loss for m in measurements)),
                        measurements[-1], kept, tuple(watcher.moments),
                        tuple(not_yet(measurements, watcher.controls)), self.saved_to, self.error,
                        self.trial.threads if running and self.trial else None)

    def report(self) -> None:
        if self.on_progress:
            self.on_progress(self.progress())


@atexit.register
def stop_every_run() -> None:
    """Python is exiting (a kernel shut down or restarted): stop each live run's thread; each saves its checkpoint."""
    for run in list(RUNNING):
        run.stop()
