"""The GPT: shapes, causality, fast path == introspection path, KV cache, generation, bad input."""

import math

import pytest
import torch
import torch.nn.functional as F

from explainer.gpt.generate import generate_ids, stream
from explainer.gpt.model import GPT, ContextError, GPTConfig
from explainer.errors import SamplingError
from explainer.errors import TemperatureError

CONFIG = GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=4, n_embd=32)


@pytest.fixture
def model():
    torch.manual_seed(0)
    return GPT(CONFIG).eval()


@pytest.fixture
def tokens():
    return torch.randint(0, CONFIG.vocab_size, (3, 12), generator=torch.Generator().manual_seed(1))


def test_shapes_and_parameter_count(model, tokens):
    logits, loss = model(tokens, tokens)
    assert logits.shape == (3, 12, CONFIG.vocab_size)
    assert loss.ndim == 0 and abs(loss.item() - math.log(CONFIG.vocab_size)) < 0.5  # untrained: about uniform
    C, V, L = CONFIG.n_embd, CONFIG.vocab_size, CONFIG.n_layer
    per_block = 2 * 2 * C + (C * 3 * C + 3 * C) + (C * C + C) + (C * 4 * C + 4 * C) + (4 * C * C + C)
    assert model.num_parameters() == V * C + CONFIG.block_size * C + L * per_block + 2 * C  # tied head counted once
    assert model.lm_head.weight is model.transformer.wte.weight


def test_changing_a_future_token_never_changes_earlier_logits(model, tokens):
    changed = tokens.clone()
    changed[:, 7] = (changed[:, 7] + 1) % CONFIG.vocab_size
    a, b = model(tokens)[0], model(changed)[0]
    assert torch.equal(a[:, :7], b[:, :7])
    assert not torch.allclose(a[:, 7:], b[:, 7:])


def test_introspection_path_equals_fast_path(model, tokens):
    fast, _ = model(tokens)
    slow, cache = model.run_with_cache(tokens)
    assert torch.allclose(fast, slow, atol=1e-5)
    B, T, H, D = 3, 12, CONFIG.n_head, CONFIG.head_size
    for layer in range(CONFIG.n_layer):
        name = f"blocks.{layer}."
        for hook in ("q", "k", "v", "z"):
            assert cache[f"{name}attn.hook_{hook}"].shape == (B, T, H, D)
        assert cache[f"{name}attn.hook_pattern"].shape == (B, H, T, T)
        assert cache[f"{name}attn.hook_attn_scores"].shape == (B, H, T, T)
        for hook in ("hook_resid_pre", "hook_resid_mid", "hook_resid_post", "hook_attn_out", "hook_mlp_out"):
            assert cache[name + hook].shape == (B, T, CONFIG.n_embd)
        assert cache[f"{name}mlp.hook_post"].shape == (B, T, 4 * CONFIG.n_embd)
    assert torch.equal(cache["blocks.0.hook_resid_post"], cache["blocks.1.hook_resid_pre"])


def test_patterns_are_causal_and_normalised(model, tokens):
    _, cache = model.run_with_cache(tokens)
    for layer in range(CONFIG.n_layer):
        pattern = cache[f"blocks.{layer}.attn.hook_pattern"]
        above = torch.ones(12, 12, dtype=torch.bool).triu(diagonal=1)
        assert (pattern[..., above] == 0).all()
        assert torch.allclose(pattern.sum(-1), torch.ones(3, CONFIG.n_head, 12), atol=1e-6)


def test_pattern_matches_an_independent_recomputation(model, tokens):
    _, cache = model.run_with_cache(tokens)
    q, k, v = (cache[f"blocks.1.attn.hook_{n}"].transpose(1, 2) for n in "qkv")  # [B, H, T, D]
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert torch.allclose(cache["blocks.1.attn.hook_z"].transpose(1, 2), expected, atol=1e-6)
    scores = q @ k.transpose(-1, -2) / math.sqrt(CONFIG.head_size)
    assert torch.allclose(cache["blocks.1.attn.hook_attn_scores"], scores, atol=1e-6)


def test_kv_cache_gives_the_same_logits_as_recomputing(model, tokens):
    full, _ = model.forward_with_past(tokens)
    first, past = model.forward_with_past(tokens[:, :5])
    rest, _ = model.forward_with_past(tokens[:, 5:], past)
    assert torch.allclose(torch.cat([first, rest], 1), full, atol=1e-5)


@pytest.mark.parametrize("options", [dict(temperature=1.0), dict(temperature=0.7, top_k=10), dict(temperature=1.3, top_p=0.9)])
def test_cached_and_uncached_generation_give_identical_tokens(model, options):
    prompt = [1, 2, 3]
    cached = generate_ids(model, prompt, 40, seed=5, use_kv_cache=True, **options)  # 43 > block_size 16: window slides
    uncached = generate_ids(model, prompt, 40, seed=5, use_kv_cache=False, **options)
    assert cached == uncached and len(cached) == 43
    assert generate_ids(model, prompt, 40, seed=6, **options) != cached


def test_greedy_generation_follows_the_argmax(model):
    ids = generate_ids(model, [4], 5, temperature=0)
    for i in range(1, len(ids)):
        logits, _ = model(torch.tensor([ids[:i]]))
        assert ids[i] == int(logits[0, -1].argmax())


def test_stream_yields_distribution_and_attention(model):
    steps = list(stream(model, [1, 2, 3], 4, seed=0))
    assert len(steps) == 4
    for n, step in enumerate(steps):
        assert step.probs.shape == (CONFIG.vocab_size,) and abs(float(step.probs.sum()) - 1) < 1e-5
        keys = 3 + n + 1  # the prompt, earlier new tokens, and the new token itself
        assert step.attention.shape == (CONFIG.n_layer, CONFIG.n_head, keys)
        assert torch.allclose(step.attention.sum(-1), torch.ones(CONFIG.n_layer, CONFIG.n_head), atol=1e-5)
        assert step.window[-1] == step.token_id and len(step.window) == keys


def test_tiny_model_overfits_a_tiny_batch():
    torch.manual_seed(0)
    model = GPT(CONFIG)
    batch = torch.randint(0, CONFIG.vocab_size, (2, 17), generator=torch.Generator().manual_seed(3))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(300):
        loss = model(batch[:, :-1], batch[:, 1:])[1]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05


def test_bad_inputs_are_refused_clearly(model):
    with pytest.raises(ContextError, match="context window of 16"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ContextError, match="at least one token"):
        model(torch.zeros(1, 0, dtype=torch.long))
    with pytest.raises(ContextError, match=r"token ids must lie in \[0, 50\)"):
        model(torch.tensor([[3, 50]]))
    with pytest.raises(SamplingError, match="prompt is empty"):
        generate_ids(model, [], 3)
    with pytest.raises(TemperatureError):
        generate_ids(model, [1], 3, temperature=-1)
