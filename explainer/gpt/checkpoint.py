"""Checkpoints: a folder with safetensors weights and one JSON file (model config, tokenizer, training record).

    config.json                      model config, tokenizer, training config, loss history, corpus hash, snapshots
    model.safetensors                the final weights (float32)
    optimizer.safetensors            AdamW state for --resume (optional)
    snapshots/step_000100.safetensors   intermediate weights (float16), to watch attention form during training

Nothing is pickled; every file is written to a temporary name and renamed, so a crash never leaves half a file.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from explainer.errors import ExplainerError
from explainer.files import FileVersion, atomic_path, file_version, parsed_json
from explainer.gpt import external, memory
from explainer.gpt.generate import GenerationStep, generate_ids, stream
from explainer.gpt.hooks import ActivationCache, NamesFilter
from explainer.gpt.layout import Layout
from explainer.gpt.model import GPT, GPTConfig
from explainer.paths import DATA_DIR
from explainer.gpt.tokenizer import TextTokenizer, tokenizer_from_dict

FORMAT = "explainer-gpt/1"
CONFIG_FILE, WEIGHTS_FILE, OPTIMIZER_FILE, SNAPSHOT_DIR = "config.json", "model.safetensors", "optimizer.safetensors", "snapshots"
SHIPPED_CHECKPOINT = DATA_DIR / "shakespeare-bpe"
TIED = "lm_head.weight"  # in a tied model the same tensor as transformer.wte.weight: stored once


class CheckpointError(ExplainerError, ValueError):
    """A checkpoint folder or file that is missing, truncated or not ours."""


def save_weights(model: GPT, path: Path, dtype: torch.dtype = torch.float32) -> None:
    state = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()
             if k != TIED or not model.config.tied}
    with atomic_path(path) as temporary:
        save_file(state, str(temporary))


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise CheckpointError(f"{path} is missing; re-run `explainer train` or point at a complete checkpoint folder")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path} is not a readable safetensors file ({error}); it may be truncated: retrain or restore it") from None


def load_weights(model: GPT, path: Path) -> None:
    state = {k: v.float() for k, v in read_tensors(path).items()}
    if model.config.tied:
        state[TIED] = state.get("transformer.wte.weight")
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError) as error:
        raise CheckpointError(f"{path} does not fit the model described in {CONFIG_FILE}: {str(error)[:300]}") from None


def save_optimizer(optimizer: torch.optim.Optimizer, path: Path) -> None:
    tensors = {}
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            tensors[f"{index}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    with atomic_path(path) as temporary:
        save_file(tensors, str(temporary))


def load_optimizer(optimizer: torch.optim.Optimizer, path: Path) -> None:
    tensors = read_tensors(path)
    state_dict = optimizer.state_dict()
    for index in state_dict["state"].keys() | {int(k.split(".")[0]) for k in tensors}:
        state_dict["state"][index] = {k.split(".", 1)[1]: v for k, v in tensors.items() if int(k.split(".")[0]) == index}
    optimizer.load_state_dict(state_dict)


def read_config(folder: Path) -> dict:
    """A checkpoint's config.json (about 0.5 MB, mostly its tokenizer), parsed once per version of the file: loading a
    model and its snapshots reads it a dozen times. Shared by every caller: read it, never change it."""
    folder = Path(folder)
    if folder.is_file():
        raise CheckpointError(f"{folder} is a file; a checkpoint is a folder holding {CONFIG_FILE} and {WEIGHTS_FILE}")
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"no model at {folder}: it is none of our checkpoint folders ({CONFIG_FILE} is missing), a "
                              f"nanoGPT ckpt.pt or a Hugging Face folder (GPT-2, LLaMA, Qwen2, Mistral). Train one with "
                              f"`explainer train --out {folder}`")
    try:
        data = parsed_json(path)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path} is not valid JSON ({error}); the checkpoint is corrupt: retrain it") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an explainer checkpoint (expected format {FORMAT!r})")
    return data


@dataclass(eq=False)  # compared and hashed by identity, so results can be cached per model
class LanguageModel:
    """A GPT with its tokenizer and training record: text in, distributions and text out. Logits cover the
    tokenizer's tokens only: a model whose vocabulary is padded past them (nanoGPT's 50,304 for GPT-2's 50,257)
    has its extra `padding` rows dropped."""

    model: GPT
    tokenizer: TextTokenizer
    meta: dict = field(default_factory=dict)
    path: Path | None = None
    _vocabulary: list[str] | None = field(default=None, repr=False)
    _digest: str | None = field(default=None, repr=False)

    @property
    def block_size(self) -> int:
        return self.model.config.block_size

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def name(self) -> str:
        return self.path.name if self.path else "an unsaved model"

    @property
    def digest(self) -> str | None:
        """SHA-256 of the weights file, so results computed for these exact weights can be recognised (None if unsaved)."""
        if self._digest is None and self.path is not None and (self.path / WEIGHTS_FILE).is_file():
            self._digest = hashlib.sha256((self.path / WEIGHTS_FILE).read_bytes()).hexdigest()
        return self._digest

    @property
    def layout(self) -> Layout:
        """Per-head weight views (W_Q[layer] [head, d_model, d_head], …) and the model's own norms, MLP nonlinearity,
        positions and unembedding: see explainer.gpt.layout."""
        return self.model.layout

    @property
    def vocab_size(self) -> int:
        """The tokenizer's tokens: the length of every logit vector this class gives."""
        return self.tokenizer.vocab_size

    @property
    def padding(self) -> int:
        """The model's output rows past the tokenizer's vocabulary, dropped from every logit vector (0 if none)."""
        return self.model.config.vocab_size - self.tokenizer.vocab_size

    @property
    def start(self) -> list[int]:
        """The token the model expects before every text ([bos_id] for LLaMA and Mistral), or none."""
        return [] if self.tokenizer.bos_id is None else [self.tokenizer.bos_id]

    def summary(self) -> str:
        """One line: the model's size, family and training, for notebooks to print instead of typing numbers."""
        c = self.model.config
        line = (f"{self.name}: {c.n_layer} layers × {c.n_head} heads, {c.n_embd} wide (heads of {c.head_size}), "
                f"context {c.block_size:,} tokens, vocabulary {self.vocab_size:,} tokens, "
                f"{self.model.num_parameters():,} weights; {c.architecture()}")
        if self.padding:
            line += f"; the model's vocabulary is padded to {c.vocab_size:,}, so its {self.padding:,} extra logits are dropped"
        for note in self.meta.get("notes", []):
            line += f"; {note}"
        if self.meta.get("format") not in (None, FORMAT):
            line += f"; {self.meta['format']}"
        if self.meta.get("step"):
            line += f"; trained {self.meta['step']:,} steps"
        evaluation = self.meta.get("evaluation") or {}
        if "val_loss" in evaluation:
            line += (f", validation loss {evaluation['val_loss']:.3f} nats per token "
                     f"({evaluation['val_loss_per_char']:.3f} per character)")
        return line

    def encode(self, prompt: str) -> list[int]:
        """Token ids of `prompt` after the model's start token (if it has one), cropped to the context window with a
        warning that says so (`fit` cuts a text to fit beforehand, with a note to show instead)."""
        check_text(prompt)
        ids = self.tokenizer.encode(prompt)
        room = self.block_size - len(self.start)
        if len(ids) > room:
            warnings.warn(f"the prompt has {len(ids)} tokens; only its last {room} fit the context window", stacklevel=2)
            ids = ids[-room:]
        return self.start + ids

    def fit(self, text: str) -> tuple[str, str]:
        """`text` cut to its last tokens that fit the context window (starting at a word where it can), and a one-line
        Markdown note that says so, or "" when the whole text fits."""
        check_text(text)
        room = self.block_size - len(self.start)
        tokens = len(self.tokenizer.encode(text))
        if tokens <= room:
            return text, ""
        cut = last_part_that_fits(text, lambda part: len(self.tokenizer.encode(part)) <= room)
        kept = len(self.tokenizer.encode(cut))
        return cut, (f"*The text has {tokens:,} tokens and this model's context holds {self.block_size:,}, "
                     f"so only its last {kept:,} tokens are used.*")

    def tokens(self, ids: list[int]) -> list[str]:
        return self.tokenizer.token_strings(ids)

    def vocabulary(self) -> list[str]:
        """Every token as a string, in id order (computed once)."""
        if self._vocabulary is None:
            self._vocabulary = self.tokens(list(range(self.tokenizer.vocab_size)))
        return self._vocabulary

    @torch.no_grad()
    def logits_after(self, ids: list[int]) -> torch.Tensor:
        """Logits [V] for the token after the token ids `ids`."""
        self.model.eval()
        return self.model(torch.tensor([ids], device=self.device))[0][0, -1, :self.vocab_size].float().cpu()

    def next_token_logits(self, prompt: str) -> torch.Tensor:
        """Logits [V] for the token after `prompt`."""
        return self.logits_after(self.encode(prompt))

    def top_next_tokens(self, prompt: str, k: int = 10) -> tuple[list[str], torch.Tensor]:
        """The k most likely next tokens and their logits."""
        top = torch.topk(self.next_token_logits(prompt), k)
        return self.tokens(top.indices.tolist()), top.values

    def logits_from_residual(self, x: torch.Tensor) -> torch.Tensor:
        """What the model would predict from a residual-stream vector x [..., C]: final norm, unembedding, logits
        [..., V] for the tokenizer's tokens (the logit lens)."""
        return self.layout.unembed(self.layout.final_norm(x))[..., :self.vocab_size]

    @torch.no_grad()
    def scan(self, windows: list[list[int]], names: NamesFilter) -> Iterator[ActivationCache]:
        """run_with_cache over many windows of token ids (all of one length), a few at a time so that the cache kept
        (`names`) and the attention computed on the way stay within memory.scan_batch_size's budget; each batch's
        cache on the CPU."""
        self.model.eval()
        size = memory.scan_batch_size(self.model.config, len(windows[0]), names) if windows else 1
        for start in range(0, len(windows), size):
            _, cache = self.model.run_with_cache(torch.tensor(windows[start:start + size], device=self.device), names)
            yield {k: v.cpu() for k, v in cache.items()}

    def run_with_cache(self, prompt: str, names: NamesFilter = None) -> tuple[list[str], torch.Tensor, ActivationCache]:
        """Tokens of the prompt, logits [T, V] and the activation cache (batch dimension kept), on the CPU.
        `names` keeps only some of the cache (see GPT.run_with_cache)."""
        self.model.eval()
        ids = self.encode(prompt)
        logits, cache = self.model.run_with_cache(torch.tensor([ids], device=self.device), names)
        return self.tokens(ids), logits[0, :, :self.vocab_size].cpu(), {k: v.cpu() for k, v in cache.items()}

    def generate(self, prompt: str, max_new_tokens: int = 200, **options) -> str:
        """The text that follows `prompt`. Options: temperature, top_k, top_p, seed, use_kv_cache."""
        ids = self.encode(prompt)
        new = generate_ids(self.model, ids, max_new_tokens, vocab_size=self.vocab_size, **options)[len(ids):]
        return self.tokenizer.decode(new)

    def stream(self, prompt: str, max_new_tokens: int = 20, **options) -> Iterator[GenerationStep]:
        return stream(self.model, self.encode(prompt), max_new_tokens, vocab_size=self.vocab_size, **options)


def check_text(text: str) -> None:
    if not isinstance(text, str) or not text:
        raise ExplainerError("the prompt is empty: type at least one character")


def last_part_that_fits(text: str, fits: Callable[[str], bool]) -> str:
    """The longest end of `text` that `fits`, moved on to the start of a word if that still leaves some text."""
    low, high = 0, len(text)  # text[high:] fits; find the smallest such start
    while low < high:
        middle = (low + high) // 2
        low, high = (low, middle) if fits(text[middle:]) else (middle + 1, high)
    start = low
    while 0 < start < len(text) and not text[start - 1].isspace():
        start += 1
    return text[start:] if start < len(text) else text[low:]


def load(folder: str | Path | None = None, device: str | torch.device = "cpu", step: int | None = None,
         meta=None) -> LanguageModel:
    """Load a model: one of our checkpoint folders (None: the shipped Shakespeare model; `step` picks a snapshot),
    a nanoGPT ckpt.pt (`meta`: its meta.pkl, a tokenizer folder or the characters, if no meta.pkl lies beside it),
    or a Hugging Face folder of GPT-2, LLaMA, Qwen2 or Mistral (config.json, safetensors weights, a tokenizer)."""
    folder = Path(folder or SHIPPED_CHECKPOINT)
    if not folder.exists():
        raise CheckpointError(f"{folder} does not exist; give a checkpoint folder, a nanoGPT ckpt.pt or a Hugging Face folder")
    nanogpt = external.is_nanogpt(folder)
    if nanogpt or external.hf_model_type(folder):
        if step is not None:
            raise CheckpointError(f"{folder} has no training snapshots; leave out step")
        model, tokenizer, record = external.load_nanogpt(folder, meta) if nanogpt else external.load_hf(folder)
        return LanguageModel(model.to(device), tokenizer, record, folder)
    config = read_config(folder)
    model = GPT(GPTConfig.from_dict(config["model"]), initialise=False)
    if step is None or step == config.get("step"):
        load_weights(model, folder / WEIGHTS_FILE)
    else:
        snapshots = {s["step"]: s["file"] for s in config.get("snapshots", [])}
        if step not in snapshots:
            raise CheckpointError(f"no snapshot at step {step} in {folder}; available: {sorted(snapshots) + [config.get('step')]}")
        load_weights(model, folder / snapshots[step])
    model.to(device).eval()
    return LanguageModel(model, folder_tokenizer(folder, config), config, folder)


_tokenizers: dict[FileVersion, TextTokenizer] = {}


def folder_tokenizer(folder: Path, config: dict) -> TextTokenizer:
    """The tokenizer stored in a checkpoint's config, built once per version of that file: its snapshots share it, and
    building it takes about 50 ms (notebooks 03 and 12 load five snapshots each)."""
    key = file_version(folder / CONFIG_FILE)
    if key not in _tokenizers:
        _tokenizers[key] = tokenizer_from_dict(config["tokenizer"])
    return _tokenizers[key]


def snapshot_steps(folder: str | Path = SHIPPED_CHECKPOINT) -> list[int]:
    """Steps with saved weights, in order, the final one included."""
    config = read_config(Path(folder))
    return sorted({s["step"] for s in config.get("snapshots", [])} | {config["step"]})


def losses_at(folder: str | Path, steps: list[int]) -> dict[int, float | None]:
    """The training loss recorded at (or last before) each step, from the checkpoint's loss curve."""
    curve = read_config(Path(folder)).get("train_curve", {"step": [], "loss": []})
    recorded = dict(zip(curve["step"], curve["loss"]))
    return {s: recorded.get(max([c for c in recorded if c <= s], default=-1)) for s in steps}


def has_snapshots(path: Path | None) -> bool:
    try:
        return path is not None and len(snapshot_steps(path)) > 1
    except (CheckpointError, OSError):
        return False


def snapshot_source(lm: LanguageModel) -> Path:
    """The folder whose training snapshots to show for `lm`: its own, or the shipped model's if it saved none (a
    nanoGPT or GPT-2 model), which notebooks then name."""
    return lm.path if has_snapshots(lm.path) else SHIPPED_CHECKPOINT
