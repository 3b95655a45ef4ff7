"""Weight tallies, costs, positions and the forward-pass helpers, against the real module and hand computations."""


import pytest
import torch

from explainer import attention, forward, positions, sampling, scale, settings
from explainer.gpt import checkpoint
from explainer.errors import ExplainerError
from explainer.gpt.generate import generate_ids
from explainer.settings import FLUFFY_PROMPT


@pytest.fixture(scope="module")
def lm():
    return checkpoint.load()


def test_gpt3_tally_is_exact():
    counts = scale.tally(scale.GPT3)
    assert sum(counts.values()) == 175_181_291_520
    assert counts["key"] == 96 * 96 * 12_288 * 128 and counts["embedding"] == 50_257 * 12_288
    assert scale.attention_share(scale.GPT3) == pytest.approx(1 / 3, abs=0.005)
    assert 12_288 * 128 == pytest.approx(1.5e6, rel=0.05)  # the lecture's "1.5 million" per key/query matrix


def test_our_tally_equals_the_modules_parameter_count(lm):
    assert sum(scale.tally(scale.shape_of(lm.model.config)).values()) == sum(p.numel() for p in lm.model.parameters())
    assert sum(scale.tally(scale.GPT2_SMALL).values()) == 124_439_808  # GPT-2 small's published count


def test_costs_and_kv_cache():
    cost = scale.layer_cost(1024, 768, 12, 64, 3072)
    assert cost.attention_flops == 4 * 1024 * 1024 * 768 and cost.mlp_flops == 4 * 1024 * 768 * 3072
    n = scale.crossover_context(768, 12, 64, 3072)
    assert scale.layer_cost(n - 1, 768, 12, 64, 3072).attention_flops < scale.layer_cost(n - 1, 768, 12, 64, 3072).mlp_flops
    assert scale.layer_cost(n, 768, 12, 64, 3072).attention_flops >= scale.layer_cost(n, 768, 12, 64, 3072).mlp_flops
    assert scale.kv_cache_bytes(scale.GPT3, 2048) == 2 * 96 * 96 * 128 * 2048 * 2
    assert scale.kv_cache_bytes(scale.GPT3, 2048, kv_heads=1) * 96 == scale.kv_cache_bytes(scale.GPT3, 2048)
    with pytest.raises(ExplainerError, match="kv_heads must divide"):
        scale.kv_cache_bytes(scale.GPT3, 10, kv_heads=7)


def test_attention_without_positions_or_mask_is_permutation_equivariant(lm):
    ids = lm.encode(FLUFFY_PROMPT)
    weights = attention.head_weights(lm, 1, 2)
    order = torch.randperm(len(ids), generator=torch.Generator().manual_seed(0))

    def output(token_ids):
        x = lm.model.transformer.wte(torch.tensor(token_ids)).detach()
        q, k, v = (attention.project(x, W, b) for W, b in ((weights.W_Q, weights.b_Q), (weights.W_K, weights.b_K), (weights.W_V, weights.b_V)))
        return attention.weighted_values(attention.masked_softmax(attention.score_grid(q, k), "none"), v)

    torch.testing.assert_close(output([ids[i] for i in order]), output(ids)[order], atol=1e-5, rtol=1e-5)


def test_rope_scores_depend_only_on_the_offset_and_sinusoids_shift_linearly():
    generator = torch.Generator().manual_seed(1)
    q, k = torch.randn(32, generator=generator), torch.randn(32, generator=generator)
    for m, n in [(5, 2), (40, 37), (1003, 1000)]:
        assert positions.rope_score(q, k, m, n) == pytest.approx(positions.rope_score(q, k, 3, 0), abs=1e-9)
    assert positions.rope_score(q, k, 3, 0) != pytest.approx(positions.rope_score(q, k, 4, 0))
    assert float(positions.rope(q, 17).norm()) == pytest.approx(float(q.norm()), rel=1e-6)  # a rotation
    encoding = positions.sinusoidal(100, 16)
    torch.testing.assert_close(encoding[:90] @ positions.shift_matrix(10, 16), encoding[10:])
    with pytest.raises(ExplainerError, match="even"):
        positions.sinusoidal(10, 7)


def test_logit_lens_last_stage_is_the_models_prediction(lm):
    prompt = "ROMEO:\nBut soft, what light"
    rows = forward.logit_lens(lm, prompt, top=3)
    assert len(rows) == lm.model.config.n_layer + 1
    probs = sampling.softmax(lm.next_token_logits(prompt))
    assert rows[-1].top_tokens == lm.tokens(probs.topk(3).indices.tolist())
    assert rows[-1].top_probs == pytest.approx(probs.topk(3).values.tolist(), abs=1e-5)


def test_forward_pass_is_the_models_own_pass_stage_by_stage(lm):
    """Embedding rows plus position rows, then each block's attention and MLP added in turn, the final norm and the
    unembedding, computed here from the model's modules: the stages forward_pass reports, and its scores."""
    prompt = settings.LENS_PROMPT
    found = forward.forward_pass(lm, prompt)
    ids = torch.tensor(lm.encode(prompt))
    model = lm.model
    with torch.no_grad():
        x = model.transformer.wte(ids) + model.transformer.wpe(torch.arange(len(ids)))
        expected = [x]
        for block in model.transformer.h:
            x = x + block.attn(block.ln_1(x[None]))[0][0]
            expected.append(x)
            x = x + block.mlp(block.ln_2(x))
            expected.append(x)
        logits = model.lm_head(model.transformer.ln_f(x))[:, :lm.vocab_size]
    assert found.ids == ids.tolist() and found.tokens == lm.tokens(found.ids)
    torch.testing.assert_close(found.token_embeddings + found.position_embeddings, expected[0])
    for (name, stage), hand in zip(found.stages, expected, strict=True):
        torch.testing.assert_close(stage, hand, atol=1e-5, rtol=1e-5, msg=name)
    torch.testing.assert_close(found.logits, logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(found.probs.sum(-1), torch.ones(len(ids)))


def test_token_losses_average_to_the_models_loss(lm):
    text = "To be, or not to be: that is the question."
    tokens, losses = forward.token_losses(lm, text)
    ids = torch.tensor([lm.encode(text)])
    with torch.no_grad():
        _, loss = lm.model(ids[:, :-1], ids[:, 1:])
    assert len(losses) == len(tokens) - 1 and float(losses.mean()) == pytest.approx(float(loss), abs=1e-5)


def test_kv_cache_generation_on_the_shipped_model_equals_uncached(lm):
    prompt = lm.encode("JULIET:\n")
    assert generate_ids(lm.model, prompt, 80, seed=3) == generate_ids(lm.model, prompt, 80, seed=3, use_kv_cache=False)


def test_kv_timing_generates_what_the_budget_affords(lm, monkeypatch):
    """A model too slow for the tokens asked generates fewer: the most whose two ways, `repeats` times, fit the budget."""
    prompt_tokens, repeats = len(lm.encode("ROMEO:\n")), 2
    through = lambda n: repeats * sum(1 + prompt_tokens + i for i in range(n))  # cached: 1 a step; recomputed: all
    monkeypatch.setattr(scale.budget, "affordable_tokens", lambda model: through(7))
    timing = scale.time_kv_cache(lm, "ROMEO:\n", 40, repeats=repeats)
    assert timing.tokens == 7 and timing.identical
    monkeypatch.setattr(scale.budget, "affordable_tokens", lambda model: through(3))
    with pytest.raises(scale.budget.TooSlowError, match="at least 4 new tokens"):
        scale.time_kv_cache(lm, "ROMEO:\n", 40, repeats=repeats)
    with pytest.raises(ExplainerError, match="new_tokens must be a whole number"):
        scale.time_kv_cache(lm, "ROMEO:\n", 0)
