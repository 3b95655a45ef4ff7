"""Models built in the tests from their makers' own layouts: nanoGPT checkpoints from its config fields, and tiny
LLaMA-family folders saved by transformers. Shared by the loader, family and notebook tests."""

import pickle
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from explainer.gpt import data

LLAMA3 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
          "original_max_position_embeddings": 32}
# name: (config class, model class, settings): LLaMA untied with LLaMA-3's RoPE scaling and a SentencePiece-style
# tokenizer; Qwen2 tied, with q/k/v biases and a padded vocabulary; Mistral with a sliding window shorter than its context.
FAMILIES = {
    "llama": ("LlamaConfig", "LlamaForCausalLM", dict(rope_parameters={"rope_theta": 10000.0, **LLAMA3})),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", dict(tie_word_embeddings=True, padding=24)),
    "mistral": ("MistralConfig", "MistralForCausalLM", dict(sliding_window=48, num_key_value_heads=1)),
}


def sentencepiece_tokenizer() -> Tokenizer:
    """A SentencePiece-style BPE ("▁the") that puts <s> before every text, as LLaMA's and Mistral's do."""
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=500, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False)
    tokenizer.train_from_iterator(data.shakespeare_text()[:100_000].splitlines(keepends=True), trainer=trainer)
    tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", tokenizer.token_to_id("<s>"))])
    return tokenizer


def save_hf(folder: Path, family: str, tokenizer: Tokenizer) -> Path:
    """A random tiny model of the family saved by transformers, biases and norms made non-trivial."""
    config_class, model_class, settings = FAMILIES[family]
    settings = dict(settings)
    padding = settings.pop("padding", 0)
    config = getattr(hf(), config_class)(
        vocab_size=tokenizer.get_vocab_size() + padding, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=settings.pop("num_key_value_heads", 2), max_position_embeddings=64,
        initializer_range=0.1, **settings)
    torch.manual_seed(0)
    model = getattr(hf(), model_class)(config).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bias") or "norm" in name:
                parameter.add_(torch.randn_like(parameter) * 0.1)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    return folder


def nanogpt_state(args: dict, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights under the names and shapes of nanoGPT's model.py for its model_args (tied head, the causal-mask
    buffer that nanoGPT keeps without flash attention, and LayerNorm and Linear biases only when bias=True)."""
    generator = torch.Generator().manual_seed(seed)
    C, V, T = args["n_embd"], args["vocab_size"], args["block_size"]
    shapes = {"transformer.wte.weight": (V, C), "transformer.wpe.weight": (T, C), "transformer.ln_f.weight": (C,)}
    biases = {"transformer.ln_f.bias": (C,)}
    for layer in range(args["n_layer"]):
        h = f"transformer.h.{layer}."
        shapes |= {h + "ln_1.weight": (C,), h + "attn.c_attn.weight": (3 * C, C), h + "attn.c_proj.weight": (C, C),
                   h + "ln_2.weight": (C,), h + "mlp.c_fc.weight": (4 * C, C), h + "mlp.c_proj.weight": (C, 4 * C)}
        biases |= {h + "ln_1.bias": (C,), h + "attn.c_attn.bias": (3 * C,), h + "attn.c_proj.bias": (C,),
                   h + "ln_2.bias": (C,), h + "mlp.c_fc.bias": (4 * C,), h + "mlp.c_proj.bias": (C,)}
    if args["bias"]:
        shapes |= biases
    state = {name: torch.randn(shape, generator=generator) * 0.2 + (1.0 if ".ln_" in name and name.endswith(".weight") else 0.0)
             for name, shape in shapes.items()}  # LayerNorm gains near 1
    state["lm_head.weight"] = state["transformer.wte.weight"]
    for layer in range(args["n_layer"]):
        state[f"transformer.h.{layer}.attn.bias"] = torch.ones(T, T).tril().view(1, 1, T, T)
    return state


def save_nanogpt(path, args: dict, state: dict):
    torch.save({"model": {"_orig_mod." + k: v for k, v in state.items()}, "model_args": args, "iter_num": 100,
                "config": {"dataset": "test"}}, path)
    return path


def char_meta(folder: Path, chars: list[str]) -> Path:
    """nanoGPT's data/<dataset>/meta.pkl for a character vocabulary."""
    with open(folder / "meta.pkl", "wb") as file:
        pickle.dump({"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": {c: i for i, c in enumerate(chars)}}, file)
    return folder / "meta.pkl"


def hf():
    import transformers  # a test-only dependency (the dev extra installs it)

    return transformers
