"""Models trained elsewhere: nanoGPT checkpoints (`ckpt.pt`) and Hugging Face folders of GPT-2, LLaMA, Qwen2 and
Mistral (`LlamaForCausalLM`, `Qwen2ForCausalLM`, `MistralForCausalLM`).

Nothing is downloaded and nothing arbitrary is unpickled: `ckpt.pt` is read with torch.load(weights_only=True), a
nanoGPT `meta.pkl` with an unpickler that refuses every class (a dict of strings and numbers needs none), and Hugging
Face weights come from safetensors (one `model.safetensors`, or the shards its index names). Our GPT already uses
nanoGPT's parameter names; GPT-2's only differ in that its Conv1D matrices are stored transposed relative to
nn.Linear; the LLaMA family's q_proj, k_proj and v_proj are stacked into our c_attn, gate_proj/up_proj/down_proj
become c_gate/c_fc/c_proj.
"""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path
from typing import Iterator

import torch
from safetensors import SafetensorError, safe_open
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

from explainer.errors import ExplainerError
from explainer.files import parsed_json
from explainer.gpt.memory import MEMORY_SHARE, available_memory
from explainer.gpt.model import GPT, GPTConfig
from explainer.gpt.tokenizer import BPETokenizer, CharTokenizer, TextTokenizer

CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
LLAMA_FAMILY = ("llama", "qwen2", "mistral")
HF_FAMILIES = ("gpt2", *LLAMA_FAMILY)
LLAMA_NAMES = {  # Hugging Face's names inside model.layers.{i}. -> ours inside transformer.h.{i}. (weights and biases)
    "input_layernorm": "ln_1", "post_attention_layernorm": "ln_2", "self_attn.o_proj": "attn.c_proj",
    "mlp.gate_proj": "mlp.c_gate", "mlp.up_proj": "mlp.c_fc", "mlp.down_proj": "mlp.c_proj",
}
QKV = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj")  # stacked, in this order, into attn.c_attn


class ExternalModelError(ExplainerError, ValueError):
    """A file or folder that is not a model we can read, or whose parts do not fit together."""


# ---------- memory ----------

def check_fits(config: GPTConfig, source: Path) -> None:
    """Estimate the weights' size from the config (float32, read once and copied once) before allocating anything."""
    parameters = config.parameter_count()
    needed, free = 2 * 4 * parameters, available_memory()
    if needed > MEMORY_SHARE * free:
        raise ExternalModelError(
            f"{source} holds about {parameters / 1e6:,.0f} M weights, about {needed / 2**30:.1f} GiB to load, more than "
            f"{MEMORY_SHARE:.0%} of the {free / 2**30:.1f} GiB available; use a smaller model or a machine with more memory")


def build(config: GPTConfig, state: dict[str, torch.Tensor], source: Path) -> GPT:
    """Our GPT with these weights (float32); a tied unembedding is the embedding itself."""
    model = GPT(config, initialise=False)
    state = {k: v.float() for k, v in state.items()}
    if config.tied:
        state["lm_head.weight"] = state.get("transformer.wte.weight")
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError) as error:
        raise ExternalModelError(f"the weights in {source} do not match its configuration: {str(error)[:300]}") from None
    return model.eval()


def check_vocabularies(tokenizer: TextTokenizer, config: GPTConfig, where: Path) -> None:
    """A model may have more tokens than its tokenizer (a padded vocabulary), never fewer."""
    if tokenizer.vocab_size > config.vocab_size:
        raise ExternalModelError(f"the tokenizer has {tokenizer.vocab_size:,} tokens but the model in {where} only "
                                 f"{config.vocab_size:,}; they were not trained together")


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


def tokenizer_from(source, config: GPTConfig, where: Path) -> TextTokenizer:
    """A tokenizer for a nanoGPT model: a meta.pkl, a folder with GPT-2 tokenizer files, or the characters themselves."""
    if isinstance(source, (list, tuple)):
        tokenizer = CharTokenizer(list(source))
    elif Path(source).is_file():
        tokenizer = read_meta(Path(source))
    elif Path(source).is_dir():
        tokenizer = gpt2_tokenizer(Path(source))
    else:
        raise ExternalModelError(f"meta {source} does not exist: pass a meta.pkl, a tokenizer folder or a list of characters")
    check_vocabularies(tokenizer, config, where)
    return tokenizer


def vocabulary_beside(file: Path) -> Path:
    """What a nanoGPT checkpoint's vocabulary is read from when none is given: a meta.pkl beside it (character runs), or
    GPT-2's tokenizer files beside it (tokenizer.json, or vocab.json and merges.txt: BPE runs, whose nanoGPT uses
    tiktoken's GPT-2 encoding, which is not downloaded here)."""
    folder = file.parent
    if (folder / "meta.pkl").is_file():
        return folder / "meta.pkl"
    if (folder / "tokenizer.json").is_file() or (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file():
        return folder
    raise ExternalModelError(
        f"{file} has no vocabulary beside it: put nanoGPT's data/<dataset>/meta.pkl next to it (character runs), or GPT-2's "
        "tokenizer.json (or vocab.json and merges.txt) for BPE runs, or pass meta= (a meta.pkl, a folder with GPT-2's "
        "tokenizer files, or the list of characters)")


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
    if meta is None:
        meta = vocabulary_beside(file)
    tokenizer = tokenizer_from(meta, config, file)
    record = {"format": "nanoGPT", "step": saved.get("iter_num"), "source": str(file),
              "training": {k: v for k, v in saved.get("config", {}).items() if isinstance(v, (int, float, str, bool))}}
    return build(config, state, file), tokenizer, record


# ---------- Hugging Face folders ----------

def hf_model_type(path: Path) -> str | None:
    """The `model_type` in a Hugging Face folder's config.json; None for anything else (our checkpoints included)."""
    if not (path.is_dir() and (path / "config.json").is_file()):
        return None
    try:
        config = parsed_json(path / "config.json")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(config, dict) or "format" in config or not isinstance(config.get("model_type"), str):
        return None
    return config["model_type"]


def load_hf(folder: Path) -> tuple[GPT, TextTokenizer, dict]:
    """A folder written by transformers' save_pretrained: config.json, safetensors weights and tokenizer.json."""
    model_type = hf_model_type(folder)
    if model_type not in HF_FAMILIES:
        raise ExternalModelError(f"{folder} holds a {model_type!r} model; the models that load are Hugging Face folders "
                                 f"of {', '.join(HF_FAMILIES)}, nanoGPT checkpoints and our own")
    hf = parsed_json(folder / "config.json")
    if model_type == "gpt2":
        config, notes = gpt2_config(hf, folder), []
    else:
        config, notes = llama_config(hf, folder)
    weights = weight_files(folder)
    check_fits(config, folder)
    tokenizer = gpt2_tokenizer(folder) if model_type == "gpt2" else folder_tokenizer(folder)
    check_vocabularies(tokenizer, config, folder)
    state = gpt2_state(read_tensors(weights)) if model_type == "gpt2" else llama_state(read_tensors(weights), config)
    record = {"format": f"{model_type} (Hugging Face)", "source": str(folder), "notes": notes}
    return build(config, state, folder), tokenizer, record


def weight_files(folder: Path) -> list[Path]:
    """model.safetensors, or the shards that model.safetensors.index.json names."""
    if (folder / "model.safetensors").is_file():
        return [folder / "model.safetensors"]
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = sorted(set(parsed_json(index)["weight_map"].values()))
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError):
            raise ExternalModelError(f"{index} is not a safetensors index (expected a 'weight_map' of names to files)") from None
        missing = [name for name in shards if not (folder / name).is_file()]
        if missing:
            raise ExternalModelError(f"{folder} lacks {', '.join(missing)}, named in {index.name}; copy the whole folder")
        return [folder / name for name in shards]
    raise ExternalModelError(f"{folder} has no model.safetensors nor model.safetensors.index.json (only safetensors "
                             "weights are read: pickled pytorch_model.bin files can run code); save the model with "
                             "save_pretrained(safe_serialization=True)")


def read_tensors(files: list[Path]) -> Iterator[tuple[str, torch.Tensor]]:
    """Every tensor in the files, one at a time, as float32 (so a bfloat16 model never sits in memory twice)."""
    for file in files:
        try:
            with safe_open(str(file), framework="pt") as weights:
                for name in weights.keys():
                    yield name, weights.get_tensor(name).float()
        except (SafetensorError, OSError) as error:
            raise ExternalModelError(f"{file} is not a readable safetensors file ({error}); it may be truncated") from None


# ---------- GPT-2 ----------

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


def gpt2_config(hf: dict, folder: Path) -> GPTConfig:
    if hf.get("activation_function", "gelu_new") not in ("gelu_new", "gelu_pytorch_tanh"):
        raise ExternalModelError(f"{folder}: activation {hf['activation_function']!r} is not GPT-2's tanh GELU")
    return GPTConfig(vocab_size=hf["vocab_size"], block_size=hf["n_positions"], n_layer=hf["n_layer"], n_head=hf["n_head"],
                     n_embd=hf["n_embd"], activation="gelu_tanh", norm_eps=hf.get("layer_norm_epsilon", 1e-5),
                     mlp_hidden=hf.get("n_inner"))


def gpt2_state(tensors: Iterator[tuple[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    state = {}
    for key, value in tensors:
        name = key.removeprefix("transformer.")
        if name.startswith("lm_head") or name.endswith((".attn.bias", ".attn.masked_bias")):
            continue  # tied to the embedding; the causal-mask buffers are not weights
        state[f"transformer.{name}"] = value.T.contiguous() if name.endswith(CONV1D) else value
    return state


# ---------- the LLaMA family: LLaMA, Qwen2, Mistral ----------

def folder_tokenizer(folder: Path) -> BPETokenizer:
    if not (folder / "tokenizer.json").is_file():
        raise ExternalModelError(
            f"{folder} has no tokenizer.json (SentencePiece tokenizer.model files are not read); write one with "
            "transformers: AutoTokenizer.from_pretrained(folder).save_pretrained(folder)")
    return BPETokenizer(Tokenizer.from_file(str(folder / "tokenizer.json")))


def rope_settings(hf: dict, folder: Path) -> tuple[float, dict | None]:
    """RoPE's base and scaling from either transformers' format: v5's rope_parameters, or v4's rope_theta and
    rope_scaling."""
    parameters = dict(hf.get("rope_parameters") or hf.get("rope_scaling") or {})
    kind = parameters.get("rope_type", parameters.get("type", "default"))
    theta = parameters.get("rope_theta", hf.get("rope_theta", 10000.0))
    if parameters.get("partial_rotary_factor", hf.get("partial_rotary_factor", 1.0)) != 1.0:
        raise ExternalModelError(f"{folder}: RoPE on part of each head (partial_rotary_factor) is not supported")
    if kind == "default":
        return theta, None
    if kind != "llama3":
        raise ExternalModelError(f"{folder}: RoPE scaling of type {kind!r} is not supported; models with the plain "
                                 "rotation or LLaMA-3's 'llama3' scaling load")
    keys = ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings")
    if any(key not in parameters for key in keys):
        raise ExternalModelError(f"{folder}: LLaMA-3 RoPE scaling needs {', '.join(keys)} in its config")
    return theta, {"rope_type": "llama3", **{key: parameters[key] for key in keys}}


def llama_config(hf: dict, folder: Path) -> tuple[GPTConfig, list[str]]:
    """Our config for a LLaMA, Qwen2 or Mistral config.json, and notes on what was adapted."""
    notes = []
    heads, width = hf["num_attention_heads"], hf["hidden_size"]
    if hf.get("hidden_act", "silu") != "silu":
        raise ExternalModelError(f"{folder}: MLP activation {hf['hidden_act']!r} is not the SwiGLU (silu) this family uses")
    if hf.get("head_dim") not in (None, width // heads):
        raise ExternalModelError(f"{folder}: heads of {hf['head_dim']} numbers are not hidden_size / num_attention_heads "
                                 f"({width // heads}), which our GPT assumes")
    if hf["model_type"] == "qwen2":
        bias, qkv_bias = False, True
    else:
        bias = hf.get("attention_bias", False)
        if hf.get("mlp_bias", False) != bias:
            raise ExternalModelError(f"{folder}: attention_bias={bias} with mlp_bias={hf.get('mlp_bias')} is not supported: "
                                     "biases must be everywhere or nowhere")
        qkv_bias = None
    context = hf["max_position_embeddings"]
    windows = hf.get("sliding_window") if hf["model_type"] == "mistral" or hf.get("use_sliding_window") else None
    if windows and windows < context:
        notes.append(f"context cut from {context:,} to the sliding window of {windows:,} tokens, within which every "
                     "token sees all the tokens before it")
        context = windows
    theta, scaling = rope_settings(hf, folder)
    config = GPTConfig(
        vocab_size=hf["vocab_size"], block_size=context, n_layer=hf["num_hidden_layers"], n_head=heads,
        n_embd=width, bias=bias, activation="swiglu", norm_eps=hf.get("rms_norm_eps", 1e-6), positions="rope",
        rope_theta=theta, rope_scaling=scaling, norm="rmsnorm", mlp_hidden=hf["intermediate_size"],
        n_kv_head=hf.get("num_key_value_heads") or heads, qkv_bias=qkv_bias, tied=hf.get("tie_word_embeddings", False),
    )
    return config, notes


def llama_state(tensors: Iterator[tuple[str, torch.Tensor]], config: GPTConfig) -> dict[str, torch.Tensor]:
    """Hugging Face's LLaMA-family weights under our names, q/k/v stacked into c_attn."""
    state, stacked = {}, {}
    for key, value in tensors:
        if key.endswith("rotary_emb.inv_freq") or key == "lm_head.weight" and config.tied:
            continue  # computed, not learned; or a copy of the embedding
        if key == "model.embed_tokens.weight":
            state["transformer.wte.weight"] = value
        elif key.startswith("model.norm."):
            state[f"transformer.ln_f.{key.removeprefix('model.norm.')}"] = value
        elif key.startswith("model.layers."):
            layer, inner = key.removeprefix("model.layers.").split(".", 1)
            module, kind = inner.rsplit(".", 1)  # kind: weight or bias
            if module in QKV:
                stacked[(layer, kind, QKV.index(module))] = value
            else:
                state[f"transformer.h.{layer}.{LLAMA_NAMES.get(module, module)}.{kind}"] = value
        else:
            state[key] = value  # lm_head.weight; anything unexpected is named by the strict load
    for layer, kind in sorted({(layer, kind) for layer, kind, _ in stacked}):
        parts = [stacked.pop((layer, kind, part), None) for part in range(3)]
        if any(part is None for part in parts):
            raise ExternalModelError(f"layer {layer} has only some of q_proj, k_proj and v_proj's {kind}s")
        state[f"transformer.h.{layer}.attn.c_attn.{kind}"] = torch.cat(parts)
    return state
