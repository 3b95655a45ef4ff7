"""The LLaMA family (LLaMA, Qwen2, Mistral) against transformers' own computation, and what every family shares: the
weight views reproduce the cache, act_name names every hook, the KV cache and generation, the memory estimate."""

import math
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from explainer import attention
from explainer.gpt import checkpoint, data, external, hooks, memory
from explainer.gpt.generate import generate_ids, stream
from explainer.gpt.hooks import act_name
from explainer.gpt.model import GPT, GPTConfig, rope_frequencies
from models import FAMILIES, LLAMA3, save_hf, sentencepiece_tokenizer

transformers = pytest.importorskip("transformers")  # a test-only dependency (the dev extra installs it)
PROMPT = "ROMEO:\nBut soft, what light through yonder window breaks?"
@pytest.fixture(scope="module")
def sentencepiece() -> Tokenizer:
    return sentencepiece_tokenizer()


@pytest.fixture(scope="module")
def hf_folders(tmp_path_factory, sentencepiece, shakespeare_bpe) -> dict[str, Path]:
    tokenizers = {"llama": sentencepiece, "qwen2": shakespeare_bpe.tokenizer, "mistral": sentencepiece}
    return {family: save_hf(tmp_path_factory.mktemp(family), family, tokenizers[family]) for family in FAMILIES}


@pytest.fixture(scope="module")
def loaded(hf_folders, random_gpt2):
    """Every family loaded: the three of the LLaMA family and GPT-2."""
    loaded = {family: checkpoint.load(folder) for family, folder in hf_folders.items()}
    loaded["gpt2"] = checkpoint.load(random_gpt2)
    return loaded


def hf_run(folder: Path, family: str, ids: list[int]):
    model_class = getattr(transformers, FAMILIES[family][1])
    model = model_class.from_pretrained(folder, attn_implementation="eager").eval()
    with torch.no_grad():
        return model, model(torch.tensor([ids]), output_attentions=True, output_hidden_states=True)


# ---------- parity with transformers ----------

@pytest.mark.parametrize("family", FAMILIES)
def test_logits_patterns_and_residual_stream_match_transformers(hf_folders, loaded, family):
    lm = loaded[family]
    ids = lm.encode(PROMPT)
    hf, out = hf_run(hf_folders[family], family, ids)
    assert lm.model.num_parameters() == hf.num_parameters() == lm.model.config.parameter_count()
    tokens, logits, cache = lm.run_with_cache(PROMPT)
    V = lm.vocab_size
    torch.testing.assert_close(logits, out.logits[0, :, :V], atol=1e-5, rtol=0)
    for layer in range(lm.model.config.n_layer):
        torch.testing.assert_close(cache[act_name("pattern", layer)], out.attentions[layer], atol=1e-5, rtol=0)
        torch.testing.assert_close(cache[act_name("resid_pre", layer)], out.hidden_states[layer], atol=1e-5, rtol=0)
    # transformers' last hidden state has the final norm applied
    torch.testing.assert_close(cache[act_name("ln_final")], out.hidden_states[-1], atol=1e-5, rtol=0)
    fast, _ = lm.model(torch.tensor([ids]))
    torch.testing.assert_close(fast[0, :, :V], out.logits[0, :, :V], atol=1e-5, rtol=0)


def test_what_each_family_loads_as(loaded):
    llama, qwen2, mistral = loaded["llama"].model.config, loaded["qwen2"].model.config, loaded["mistral"].model.config
    assert (llama.positions, llama.norm, llama.activation, llama.kv_heads, llama.tied) == ("rope", "rmsnorm", "swiglu", 2, False)
    assert llama.rope_scaling["rope_type"] == "llama3" and not llama.bias and not llama.qkv_biased
    assert qwen2.tied and qwen2.qkv_biased and not qwen2.bias and loaded["qwen2"].padding == 24
    assert mistral.kv_heads == 1 and mistral.block_size == 48  # the sliding window, shorter than the 64 positions
    summary = loaded["mistral"].summary()
    assert "LLaMA-style: RoPE, RMSNorm, SwiGLU MLP, 4 query heads sharing one key/value head" in summary
    assert "sliding window of 48" in summary
    assert "biases on queries, keys and values" in loaded["qwen2"].summary()
    assert "24 extra logits are dropped" in loaded["qwen2"].summary()
    assert loaded["gpt2"].summary().count("GPT-2-style: learned positions, LayerNorm, GELU MLP") == 1


def test_llama3_rope_frequencies_are_transformers(hf_folders, loaded):
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    hf_config = transformers.AutoConfig.from_pretrained(hf_folders["llama"])
    expected, scaling = ROPE_INIT_FUNCTIONS["llama3"](hf_config, "cpu")
    ours = rope_frequencies(loaded["llama"].model.config)
    assert scaling == 1.0 and torch.equal(ours, expected)
    plain = rope_frequencies(GPTConfig(n_embd=64, n_head=4, positions="rope"))
    assert (ours < plain).any() and (ours == plain).any()  # some pairs slowed, the fastest left alone


def test_transformers_v4_config_format_loads_the_same(tmp_path, hf_folders, loaded):
    """Older folders name RoPE's base rope_theta and its scaling rope_scaling (with 'type' or 'rope_type')."""
    import json

    folder = tmp_path / "llama-v4"
    folder.mkdir()
    config = json.loads((hf_folders["llama"] / "config.json").read_text())
    parameters = config.pop("rope_parameters")
    config["rope_theta"] = parameters.pop("rope_theta")
    config["rope_scaling"] = {"type": parameters.pop("rope_type"), **parameters}
    (folder / "config.json").write_text(json.dumps(config))
    for name in ("model.safetensors", "tokenizer.json"):
        (folder / name).symlink_to(hf_folders["llama"] / name)
    ids = torch.tensor([loaded["llama"].encode(PROMPT)])
    assert torch.equal(checkpoint.load(folder).model(ids)[0], loaded["llama"].model(ids)[0])


def test_sharded_weights_load(tmp_path, hf_folders, loaded):
    model = transformers.MistralForCausalLM.from_pretrained(hf_folders["mistral"])
    model.save_pretrained(tmp_path, safe_serialization=True, max_shard_size="40KB")
    (tmp_path / "tokenizer.json").symlink_to(hf_folders["mistral"] / "tokenizer.json")
    assert len(list(tmp_path.glob("model-*-of-*.safetensors"))) > 1 and (tmp_path / "model.safetensors.index.json").is_file()
    ids = torch.tensor([loaded["mistral"].encode(PROMPT)])
    assert torch.equal(checkpoint.load(tmp_path).model(ids)[0], loaded["mistral"].model(ids)[0])


def test_folders_that_do_not_load_say_why(tmp_path, hf_folders, monkeypatch):
    import json

    def variant(name: str, change: dict, files=("model.safetensors", "tokenizer.json")) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        config = json.loads((hf_folders["llama"] / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, **change}))
        for file in files:
            (folder / file).symlink_to(hf_folders["llama"] / file)
        return folder

    with pytest.raises(external.ExternalModelError, match="'bert' model; the models that load are"):
        checkpoint.load(variant("bert", {"model_type": "bert"}))
    with pytest.raises(external.ExternalModelError, match="RoPE scaling of type 'yarn' is not supported"):
        checkpoint.load(variant("yarn", {"rope_parameters": {"rope_type": "yarn", "rope_theta": 1e4, "factor": 2.0}}))
    with pytest.raises(external.ExternalModelError, match="only safetensors weights are read"):
        checkpoint.load(variant("pickled", {}, files=("tokenizer.json",)))
    with pytest.raises(external.ExternalModelError, match="has no tokenizer.json"):
        checkpoint.load(variant("no-tokenizer", {}, files=("model.safetensors",)))
    with pytest.raises(external.ExternalModelError, match="tokenizer has 500 tokens but the model"):
        checkpoint.load(variant("small-vocabulary", {"vocab_size": 100}))
    monkeypatch.setattr(external, "available_memory", lambda: 2**20)
    with pytest.raises(external.ExternalModelError, match="GiB to load"):
        checkpoint.load(hf_folders["llama"])


# ---------- tokens ----------

def test_sentencepiece_tokens_show_their_space_and_the_start_token(loaded, sentencepiece):
    lm = loaded["llama"]
    text = "the king is dead"
    ids = lm.encode(text)
    assert ids[0] == sentencepiece.token_to_id("<s>") and ids[1:] == sentencepiece.encode(text, add_special_tokens=False).ids
    tokens = lm.tokens(ids)
    assert tokens[0] == "<s>" and "".join(tokens[1:]) == " " + text  # SentencePiece sees a space before the first word
    assert all(string.startswith(" ") for string, id_ in zip(tokens[1:], ids[1:]) if sentencepiece.id_to_token(id_).startswith("▁"))
    assert lm.tokenizer.decode(ids) == text
    byte_level = loaded["qwen2"]
    assert byte_level.tokenizer.bos_id is None and "".join(byte_level.tokens(byte_level.encode(text))) == text


def test_fit_cuts_a_long_text_to_its_last_tokens_with_a_note(loaded):
    for lm in (loaded["llama"], loaded["gpt2"]):
        text = data.shakespeare_text()[:2000]
        cut, note = lm.fit(text)
        assert text.endswith(cut) and len(cut) < len(text)
        kept = len(lm.tokenizer.encode(cut))
        assert kept + len(lm.start) <= lm.block_size and len(lm.encode(cut)) == kept + len(lm.start)
        assert f"holds {lm.block_size:,}" in note and f"last {kept:,} tokens" in note
        assert lm.fit(text[:5]) == (text[:5], "")


# ---------- the KV cache and generation ----------

@pytest.mark.parametrize("family", ["llama", "qwen2", "mistral", "gpt2"])
def test_kv_cache_and_generation_agree_with_recomputing(loaded, family):
    lm = loaded[family]
    ids = torch.tensor([lm.encode(PROMPT)])
    full, _ = lm.model.forward_with_past(ids)
    first, past = lm.model.forward_with_past(ids[:, :7])
    rest, _ = lm.model.forward_with_past(ids[:, 7:], past)  # positions 7, 8, ... (RoPE turns them by where they are)
    torch.testing.assert_close(torch.cat([first, rest], 1), full, atol=1e-5, rtol=0)
    slow, _ = lm.model.run_with_cache(ids)
    torch.testing.assert_close(slow, full, atol=1e-5, rtol=0)
    prompt = lm.encode("ROMEO:")
    cached = generate_ids(lm.model, prompt, lm.block_size + 10, seed=3, vocab_size=lm.vocab_size)  # the window slides
    assert cached == generate_ids(lm.model, prompt, lm.block_size + 10, seed=3, use_kv_cache=False, vocab_size=lm.vocab_size)
    for step in stream(lm.model, prompt, 3, seed=0, vocab_size=lm.vocab_size):
        assert step.probs.shape == (lm.vocab_size,)
        assert step.attention.shape == (lm.model.config.n_layer, lm.model.config.n_head, len(step.window))
        torch.testing.assert_close(step.attention.sum(-1), torch.ones(step.attention.shape[:2]))


# ---------- the weight views ----------

def recompute_layer(lm, cache, layer: int) -> dict[str, torch.Tensor]:
    """One layer's hooks recomputed from its residual stream with the layout's weights and pieces only."""
    layout = lm.layout
    resid = cache[act_name("resid_pre", layer)][0]  # [T, C]
    T = resid.shape[0]
    x = layout.attn_norm(layer, resid)
    q, k, v = (torch.einsum("tc,hcd->htd", x, W[layer]) + b[layer][:, None]
               for W, b in ((layout.W_Q, layout.b_Q), (layout.W_K, layout.b_K), (layout.W_V, layout.b_V)))
    q, k = layout.rotate(q, list(range(T))), layout.rotate(k, list(range(T)))
    scores = q @ k.transpose(-1, -2) / math.sqrt(layout.d_head)  # [H, T, T]
    pattern = scores.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf")).softmax(-1)
    z = pattern @ v  # [H, T, D]
    attn_out = torch.einsum("htd,hdc->tc", z, layout.W_O[layer]) + layout.b_O[layer]
    mid = layout.mlp_norm(layer, cache[act_name("resid_mid", layer)][0])
    linear = mid @ layout.W_in[layer] + layout.b_in[layer]
    gated = layout.W_gate[layer] is not None
    pre = mid @ layout.W_gate[layer] + layout.b_gate[layer] if gated else linear
    post = layout.mlp_activation(pre, linear if gated else None)
    kv = [layout.kv_head(head) for head in range(layout.n_head)]
    found = {"q": q, "k": k, "v": v, "attn_scores": scores, "pattern": pattern, "z": z, "attn_out": attn_out,
             "pre": pre, "post": post, "mlp_out": post @ layout.W_out[layer] + layout.b_out[layer]}
    expected = {name: cache[act_name(name, layer)][0] for name in found}
    for name in ("q", "z"):
        expected[name] = expected[name].transpose(0, 1)  # [T, H, D] -> [H, T, D]
    for name in ("k", "v"):  # the cache holds each key/value head once: every query head reads its own
        expected[name] = expected[name].transpose(0, 1)[kv]
    if gated:
        found["pre_linear"], expected["pre_linear"] = linear, cache[act_name("pre_linear", layer)][0]
    return {name: (found[name], expected[name]) for name in found}


@pytest.mark.parametrize("family", ["llama", "qwen2", "mistral", "gpt2"])
def test_weight_views_reproduce_the_cache(loaded, family):
    lm = loaded[family]
    tokens, logits, cache = lm.run_with_cache(PROMPT)
    for layer in range(lm.model.config.n_layer):
        for name, (found, expected) in recompute_layer(lm, cache, layer).items():
            torch.testing.assert_close(found, expected, atol=2e-5, rtol=1e-5, msg=f"{name}, layer {layer}")
    layout, ids = lm.layout, lm.encode(PROMPT)
    embedded = layout.W_E[ids] + (layout.W_pos[:len(ids)] if layout.W_pos is not None else 0)
    torch.testing.assert_close(embedded, cache[act_name("resid_pre", 0)][0])
    last = cache[act_name("resid_post", lm.model.config.n_layer - 1)][0]
    torch.testing.assert_close(lm.logits_from_residual(last), logits, atol=1e-5, rtol=0)
    assert layout.W_U.shape == (layout.d_model, lm.model.config.vocab_size)
    assert layout.W_Q[0].data_ptr() == lm.model.transformer.h[0].attn.c_attn.weight.data_ptr()  # a view, not a copy
    assert (layout.W_pos is None) == (lm.model.config.positions == "rope")


@pytest.mark.parametrize("family", ["llama", "mistral"])
def test_every_heads_steps_at_once_are_each_heads_steps(loaded, family):
    """attention.prompt_steps (all of a layer's heads at once, for the step-by-step explorer) against attention_steps
    head by head, with rotary positions and shared key/value heads."""
    lm = loaded[family]
    found = attention.prompt_steps(lm, PROMPT)
    for layer in range(lm.model.config.n_layer):
        for head in range(lm.model.config.n_head):
            steps = attention.attention_steps(lm, PROMPT, layer, head)
            torch.testing.assert_close(found.scores[layer, head], steps.scores, atol=1e-5, rtol=1e-5)
            written = steps.v @ attention.head_weights(lm, layer, head).W_O
            torch.testing.assert_close(found.value_gram[layer, head], written @ written.T, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(found.reads[layer, head], steps.residual @ written.T, atol=1e-5, rtol=1e-5)


def test_grouped_query_heads_share_their_keys_and_values(loaded):
    layout = loaded["llama"].layout  # 4 query heads, 2 key/value heads
    assert (layout.n_head, layout.n_kv_head, layout.group_size) == (4, 2, 2)
    assert [layout.kv_head(h) for h in range(4)] == [0, 0, 1, 1] and layout.sharing(1) == [2, 3]
    W_K = layout.W_K[1]
    assert torch.equal(W_K[0], W_K[1]) and torch.equal(W_K[2], W_K[3]) and not torch.equal(W_K[1], W_K[2])
    from explainer.gpt.layout import LayoutError

    with pytest.raises(LayoutError, match="layer must be a whole number 0 … 1"):
        layout.W_Q[2]
    with pytest.raises(LayoutError, match="head must be"):
        layout.kv_head(4)


def test_norm_weights_recompute_each_norm(loaded):
    for lm in (loaded["llama"], loaded["gpt2"]):
        x = torch.randn(5, lm.layout.d_model, generator=torch.Generator().manual_seed(0))
        for where, layer in (("attn", 1), ("mlp", 0), ("final", None)):
            norm = lm.layout.norm_weights(where, layer)
            if norm.kind == "rmsnorm":
                expected = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + norm.eps) * norm.weight + norm.bias
            else:
                expected = (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + norm.eps) * norm.weight + norm.bias
            applied = lm.layout.final_norm(x) if where == "final" else getattr(lm.layout, f"{where}_norm")(layer, x)
            torch.testing.assert_close(applied, expected, atol=1e-5, rtol=1e-5)


# ---------- cache names and memory ----------

def test_act_name_names_every_recorded_hook_with_its_shape(loaded):
    short = [*hooks.MODEL_HOOKS, *hooks.BLOCK_HOOKS]
    for lm in loaded.values():
        ids = torch.tensor([lm.encode(PROMPT)] * 2)
        _, cache = lm.model.run_with_cache(ids)
        config = lm.model.config
        named = {act_name(name, layer) for name in short for layer in ([None] if name in hooks.MODEL_HOOKS else range(config.n_layer))}
        assert set(cache) <= named and set(cache) == set(lm.model.hook_names())
        assert {k: tuple(v.shape) for k, v in cache.items()} == hooks.recorded_shapes(config, 2, ids.shape[1])
    assert act_name("pattern", 3) == "blocks.3.attn.hook_pattern" and act_name("embed") == "hook_embed"
    assert act_name("resid_pre", 0) == "blocks.0.hook_resid_pre" and act_name("ln_final") == "ln_final.hook_normalized"
    with pytest.raises(hooks.HookNameError, match="unknown activation name 'patern'"):
        act_name("patern", 0)
    with pytest.raises(hooks.HookNameError, match="give a layer"):
        act_name("pattern")
    with pytest.raises(hooks.HookNameError, match="leave out the layer"):
        act_name("embed", 0)


def test_run_with_cache_keeps_only_the_names_asked_for(loaded):
    lm = loaded["llama"]
    ids = torch.tensor([lm.encode(PROMPT)])
    _, everything = lm.model.run_with_cache(ids)
    wanted = act_name("pattern", 1)
    for names in (wanted, [wanted], lambda name: name == wanted):
        _, cache = lm.model.run_with_cache(ids, names=names)
        assert list(cache) == [wanted] and torch.equal(cache[wanted], everything[wanted])
    with pytest.raises(hooks.HookNameError, match="records no 'blocks.9.attn.hook_pattern'"):
        lm.model.run_with_cache(ids, names=[act_name("pattern", 9)])
    with pytest.raises(hooks.HookNameError, match="records no 'hook_pos_embed'"):  # RoPE: no position table
        lm.model.run_with_cache(ids, names=act_name("pos_embed"))


def test_memory_estimate_refuses_what_would_not_fit(loaded, monkeypatch):
    lm = loaded["gpt2"]
    ids = torch.tensor([lm.encode(PROMPT)])
    needed = memory.cache_bytes(lm.model.config, ids.shape[1])
    monkeypatch.setattr(memory, "CHECK_ABOVE", 0)
    monkeypatch.setattr(memory, "available_memory", lambda device=None: int(needed / memory.MEMORY_SHARE) - 1)
    with pytest.raises(memory.MemoryBudgetError, match="GiB, more than 80% of the .* GiB free; keep fewer names"):
        lm.model.run_with_cache(ids)
    _, cache = lm.model.run_with_cache(ids, names=act_name("pattern", 0))  # one pattern fits
    assert list(cache) == [act_name("pattern", 0)]


def test_scan_batch_size_keeps_a_scan_under_its_budget():
    small = GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768)  # GPT-2 small
    patterns = [act_name("pattern", layer) for layer in range(small.n_layer)]
    per_window = memory.cache_bytes(small, 1024, 1, patterns)
    assert per_window >= 3 * 12 * 1024 * 1024 * 4 + 12 * 12 * 1024 * 1024 * 4  # one layer's scores at work, every pattern kept
    assert memory.cache_bytes(small, 1024, 32, patterns) == 32 * per_window
    assert memory.scan_batch_size(small, 1024, patterns, budget=5 * per_window + 1) == 5
    assert memory.scan_batch_size(small, 1024, patterns) == 1  # 256 MiB: one window at a time
    tiny = GPTConfig()
    batch = memory.scan_batch_size(tiny, 64)
    assert batch > 1 and memory.cache_bytes(tiny, 64, batch) <= memory.SCAN_BUDGET < memory.cache_bytes(tiny, 64, batch + 1)


# ---------- configs ----------

@pytest.mark.parametrize("settings", [
    dict(), dict(bias=False), dict(tied=False), dict(n_kv_head=2, positions="rope", norm="rmsnorm", activation="swiglu",
                                                      bias=False, tied=False, mlp_hidden=100),
    dict(n_kv_head=1, positions="rope", norm="rmsnorm", activation="swiglu", bias=False, qkv_bias=True),
])
def test_parameter_count_and_untied_checkpoints(tmp_path, settings):
    config = GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=4, n_embd=32, **settings)
    torch.manual_seed(0)
    model = GPT(config).eval()
    assert model.num_parameters() == config.parameter_count()
    assert (model.lm_head.weight is model.transformer.wte.weight) == config.tied
    checkpoint.save_weights(model, tmp_path / "weights.safetensors")
    again = GPT(GPTConfig.from_dict(config.to_dict()), initialise=False)
    checkpoint.load_weights(again, tmp_path / "weights.safetensors")
    ids = torch.tensor([[1, 2, 3, 4]])
    assert torch.equal(again(ids)[0], model(ids)[0])


def test_bad_configs_are_refused_clearly():
    from explainer.errors import ExplainerError

    with pytest.raises(ExplainerError, match="multiple of n_kv_head"):
        GPTConfig(n_head=4, n_kv_head=3)
    with pytest.raises(ExplainerError, match="RoPE scaling of type 'yarn' is not supported"):
        GPTConfig(positions="rope", rope_scaling={"rope_type": "yarn"})
    with pytest.raises(ExplainerError, match="norm must be one of layernorm, rmsnorm"):
        GPTConfig(norm="batchnorm")
    with pytest.raises(ExplainerError, match="unknown model settings sparkle"):
        GPTConfig.from_dict({"sparkle": 1})
    assert GPTConfig.from_dict({"layer_norm_eps": 1e-6}).norm_eps == 1e-6  # the old name
