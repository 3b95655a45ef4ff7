"""Models trained elsewhere: nanoGPT checkpoints (`ckpt.pt`) and GPT-2 folders in Hugging Face's format.

Nothing is downloaded and nothing arbitrary is unpickled: `ckpt.pt` is read with torch.load(weights_only=True), a
nanoGPT `meta.pkl` with an unpickler that refuses every class (a dict of strings and numbers needs none), and GPT-2
weights come from safetensors. Our GPT already uses nanoGPT's parameter names; GPT-2's only differ in that its
Conv1D matrices are stored transposed relative to nn.Linear.
"""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

from explainer.errors import ExplainerError
from explainer.files import parsed_json
from explainer.gpt.model import GPT, GPTConfig
from explainer.gpt.tokenizer import BPETokenizer, CharTokenizer, TextTokenizer

MEMORY_SHARE = 0.8  # refuse a model whose estimated footprint is above this share of the memory available
CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


class ExternalModelError(ExplainerError, ValueError):
    """A file or folder that is not a model we can read, or whose parts do not fit together."""


# ---------- memory ----------

def available_memory() -> int:
    try:
        with open("/proc/meminfo") as meminfo:
            return int(next(line for line in meminfo if line.startswith("MemAvailable")).split()[1]) * 1024
    except (OSError, StopIteration):
        return 8 * 2**30


def check_fits(config: GPTConfig, source: Path) -> None:
    """Estimate the weights' size from the config (float32, read once and copied once) before allocating anything."""
    parameters = config.vocab_size * config.n_embd + config.block_size * config.n_embd + 12 * config.n_layer * config.n_embd**2
    needed, free = 2 * 4 * parameters, available_memory()
    if needed > MEMORY_SHARE * free:
        raise ExternalModelError(
            f"{source} holds about {parameters / 1e6:,.0f} M weights, about {needed / 2**30:.1f} GiB to load, more than "
            f"{MEMORY_SHARE:.0%} of the {free / 2**30:.1f} GiB available; use a smaller model or a machine with more memory")


def build(config: GPTConfig, state: dict[str, torch.Tensor], source: Path) -> GPT:
    """Our GPT with these weights; the unembedding stays tied to the embedding, as in nanoGPT and GPT-2."""
    model = GPT(config, initialise=False)
    state = {k: v.float() for k, v in state.items()}
    state["lm_head.weight"] = state["transformer.wte.weight"]
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ExternalModelError(f"the weights in {source} do not match its configuration: {str(error)[:300]}") from None
    return model.eval()


# ---------- nanoGPT ----------

def is_nanogpt(path: Path) -> bool:
    return path.is_file() and path.suffix == ".pt" or path.is_dir() and (path / "ckpt.pt").is_file()


class RefuseClasses(pickle.Unpickler):
    """Unpickles plain containers, strings and numbers only: any class or function reference is refused."""

    def find_class(self, module: str, name: str):
        raise ExternalModelError(f"refusing to unpickle {module}.{name}: a nanoGPT meta.pkl holds only a dict of strings "
                                 "and numbers; this file holds code, so it will not be loaded")


def read_meta(path: Path) -> CharTokenizer:
    """nanoGPT's meta.pkl ({'vocab_size', 'itos', 'stoi'}) as a character tokenizer, read without running any code."""
    try:
        meta = RefuseClasses(io.BytesIO(path.read_bytes())).load()
    except (pickle.UnpicklingError, EOFError, ValueError) as error:
        raise ExternalModelError(f"{path} is not a readable pickle ({error}); point at nanoGPT's data/<dataset>/meta.pkl") from None
    itos = meta.get("itos") if isinstance(meta, dict) else None
    if not isinstance(itos, dict) or not all(isinstance(k, int) and isinstance(v, str) for k, v in itos.items()):
        raise ExternalModelError(f"{path} is not a nanoGPT meta.pkl: expected a dict with 'itos' mapping ids to characters")
    return CharTokenizer([itos[i] for i in range(len(itos))])


def tokenizer_from(source, model_vocab: int, where: Path) -> TextTokenizer:
    """A tokenizer for a nanoGPT model: a meta.pkl, a folder with GPT-2 tokenizer files, or the characters themselves."""
    if isinstance(source, (list, tuple)):
        tokenizer = CharTokenizer(list(source))
    elif Path(source).is_file():
        tokenizer = read_meta(Path(source))
    elif Path(source).is_dir():
        tokenizer = gpt2_tokenizer(Path(source))
    else:
        raise ExternalModelError(f"meta {source} does not exist: pass a meta.pkl, a tokenizer folder or a list of characters")
    if tokenizer.vocab_size > model_vocab:
        raise ExternalModelError(f"the tokenizer has {tokenizer.vocab_size:,} tokens but the model in {where} only "
                                 f"{model_vocab:,}; they were not trained together")
    return tokenizer


def load_nanogpt(path: Path, meta=None) -> tuple[GPT, TextTokenizer, dict]:
    """A nanoGPT checkpoint: its dict holds 'model' (weights, maybe with torch.compile's '_orig_mod.' prefix),
    'model_args' and 'config'. The vocabulary comes from `meta` or a meta.pkl beside the checkpoint."""
    file = path / "ckpt.pt" if path.is_dir() else path
    try:
        saved = torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ExternalModelError(
            f"{file} needs more than weights-only loading ({str(error).splitlines()[0][:160]}); it holds Python objects "
            "that would run code when unpickled, so it is refused. Save the checkpoint's plain dict of tensors instead") from None
    except (RuntimeError, OSError) as error:
        raise ExternalModelError(f"{file} is not a readable PyTorch checkpoint ({str(error)[:160]})") from None
    if not isinstance(saved, dict) or "model" not in saved or "model_args" not in saved:
        raise ExternalModelError(f"{file} is not a nanoGPT checkpoint: expected a dict with 'model' and 'model_args'")
    args = saved["model_args"]
    config = GPTConfig(vocab_size=args["vocab_size"], block_size=args["block_size"], n_layer=args["n_layer"],
                       n_head=args["n_head"], n_embd=args["n_embd"], bias=args.get("bias", True))
    check_fits(config, file)
    state = {k.removeprefix("_orig_mod."): v for k, v in saved["model"].items()}
    state = {k: v for k, v in state.items() if not k.endswith(".attn.bias")}  # nanoGPT's causal-mask buffer, if any
    beside = file.parent / "meta.pkl"
    if meta is None and not beside.is_file():
        raise ExternalModelError(
            f"{file} has no vocabulary beside it: put nanoGPT's data/<dataset>/meta.pkl next to it, or pass meta= "
            "(a meta.pkl, a folder with GPT-2's tokenizer files, or the list of characters)")
    tokenizer = tokenizer_from(meta if meta is not None else beside, config.vocab_size, file)
    record = {"format": "nanoGPT", "step": saved.get("iter_num"), "source": str(file),
              "training": {k: v for k, v in saved.get("config", {}).items() if isinstance(v, (int, float, str, bool))}}
    return build(config, state, file), tokenizer, record


# ---------- GPT-2 in Hugging Face's format ----------

def is_gpt2_folder(path: Path) -> bool:
    if not (path.is_dir() and (path / "config.json").is_file()):
        return False
    try:
        config = parsed_json(path / "config.json")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(config, dict) and config.get("model_type") == "gpt2"


def gpt2_tokenizer(folder: Path) -> BPETokenizer:
    """GPT-2's byte-level BPE from tokenizer.json, or from vocab.json + merges.txt."""
    if (folder / "tokenizer.json").is_file():
        return BPETokenizer(Tokenizer.from_file(str(folder / "tokenizer.json")))
    if (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file():
        tokenizer = Tokenizer(models.BPE.from_file(str(folder / "vocab.json"), str(folder / "merges.txt")))
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        return BPETokenizer(tokenizer)
    raise ExternalModelError(f"{folder} has no tokenizer: it needs tokenizer.json, or vocab.json and merges.txt")


def load_gpt2(folder: Path) -> tuple[GPT, TextTokenizer, dict]:
    """A GPT-2 folder as written by transformers' save_pretrained: config.json, model.safetensors and a tokenizer."""
    hf = parsed_json(folder / "config.json")  # is_gpt2_folder parsed it
    if hf.get("activation_function", "gelu_new") not in ("gelu_new", "gelu_pytorch_tanh"):
        raise ExternalModelError(f"{folder}: activation {hf['activation_function']!r} is not GPT-2's tanh GELU")
    config = GPTConfig(vocab_size=hf["vocab_size"], block_size=hf["n_positions"], n_layer=hf["n_layer"], n_head=hf["n_head"],
                       n_embd=hf["n_embd"], activation="gelu_tanh", layer_norm_eps=hf.get("layer_norm_epsilon", 1e-5))
    if hf.get("n_inner") not in (None, 4 * hf["n_embd"]):
        raise ExternalModelError(f"{folder}: an MLP of {hf['n_inner']} is not the 4 × n_embd our GPT has")
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise ExternalModelError(f"{folder} has no model.safetensors (only safetensors weights are read: pickled "
                                 "pytorch_model.bin files can run code); save the model with save_pretrained(safe_serialization=True)")
    check_fits(config, folder)
    tokenizer = gpt2_tokenizer(folder)
    state = {}
    for key, value in load_file(str(weights)).items():
        name = key.removeprefix("transformer.")
        if name.startswith("lm_head") or name.endswith((".attn.bias", ".attn.masked_bias")):
            continue  # tied to the embedding; the causal-mask buffers are not weights
        state[f"transformer.{name}"] = value.T.contiguous() if name.endswith(CONV1D) else value
    if tokenizer.vocab_size > config.vocab_size:
        raise ExternalModelError(f"{folder}: the tokenizer has {tokenizer.vocab_size:,} tokens, the model {config.vocab_size:,}")
    return build(config, state, folder), tokenizer, {"format": "gpt2 (Hugging Face)", "source": str(folder)}
