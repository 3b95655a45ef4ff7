"""Every verdict, both ways: a constructed measurement where the claim holds and one where it does not give different
findings, each with its numbers. And the designed head against an independent computation of attention."""

import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from explainer import attention, context, designed, forward, geometry, heads, mlp, vocabulary
from explainer.gpt import checkpoint


@pytest.fixture(scope="module")
def lm():
    return checkpoint.load()


def head_scores(modifier: float, after: float, before: float) -> heads.HeadScores:
    """Two heads: head 1 of layer 0 has the given weights, head 0 reads everything at 0.05."""
    weights = {kind: torch.full((1, 2), 0.05) for kind in heads.KINDS}
    for kind, value in ((heads.MODIFIER, modifier), (heads.AFTER_ADJECTIVE, after), (heads.BEFORE_NOUN, before)):
        weights[kind][0, 1] = value
    return heads.HeadScores(weights, {kind: 100 for kind in heads.KINDS}, 1 / 64)


def test_the_head_verdict_names_a_noun_specific_head_and_only_then():
    found = heads.best_head_verdict(head_scores(0.5, 0.1, 0.12))
    assert found.holds and "singles out a noun's adjective" in found.text and "**0.50**" in found.text
    adjective_reader = heads.best_head_verdict(head_scores(0.3, 0.28, 0.1))
    assert not adjective_reader.holds and "whatever word follows it" in adjective_reader.text
    assert "no head of this model does the talk's job" in adjective_reader.text
    previous_word = heads.describe_head(head_scores(0.3, 0.1, 0.28), 0, 1)
    assert not previous_word.holds and "read the word before them whatever it is" in previous_word.text


def test_the_designed_head_is_attention_as_pytorch_computes_it():
    head = designed.designed_head()
    w = head.weights
    q, k, v = head.embedding @ w.W_Q, head.embedding @ w.W_K, head.embedding @ w.W_V
    expected = F.scaled_dot_product_attention(q[None], k[None], v[None], is_causal=True)[0] @ w.W_O
    torch.testing.assert_close(head.steps.delta, expected, atol=1e-6, rtol=0)
    creature, forest = head.words.index("creature"), head.words.index("forest")
    assert float(head.steps.pattern[creature, [1, 2]].sum()) > 0.9 and float(head.steps.pattern[forest, 6]) > 0.9


def test_the_designed_verdict_holds_only_when_nouns_ask_for_adjectives(monkeypatch):
    found = designed.designed_verdict(designed.designed_head())
    assert found.holds and "*creature*" in found.text and "green +0.9" in found.text
    monkeypatch.setattr(designed, "QUERY_GAIN", 0.0)  # nouns no longer ask: nearness alone decides
    broken = designed.designed_verdict(designed.designed_head())
    assert not broken.holds and broken.text != found.text


def senses_case(separated: bool) -> context.WordInContexts:
    """Eight lines, two senses; at the last stage the vectors cluster by sense (or at random)."""
    generator = torch.Generator().manual_seed(0)
    centres = torch.randn(2, 16, generator=generator)
    labels = [0, 0, 0, 0, 1, 1, 1, 1]
    last = torch.stack([centres[l] + 0.2 * torch.randn(16, generator=generator) for l in labels]) if separated \
        else torch.randn(8, 16, generator=generator)
    vectors = torch.stack([torch.ones(8, 16), last])  # [stage, line, C]
    return context.WordInContexts("word", [f"line {i}" for i in range(8)], ["a" if l == 0 else "b" for l in labels],
                                  [3] * 8, [" word"], ["token embedding", "last"], vectors)


def test_the_sense_verdict_follows_the_split_against_every_other_split():
    separated = context.sense_separation(senses_case(True))
    assert separated.splits == 35 and int(separated.rank[-1]) == 1 and separated.separated(1)
    assert not separated.separated(0), "identical vectors separate nothing"
    found = context.separation_verdict([separated])
    assert found.holds and "**1 of 1**" in found.text
    shuffled = context.separation_verdict([context.sense_separation(senses_case(False))])
    assert not shuffled.holds and "**0 of 1**" in shuffled.text


def ablation(mlp_lookup: float, attn_lookup: float, breaks: bool = False) -> mlp.AblationResult:
    phrase = mlp.Phrase("flesh", "and", "blood", 0.8, 0.01, 27)
    ordinary = [1.5 if breaks else 0.1, 0.1]
    return mlp.AblationResult([phrase], 30, 1.0, 4.0, {"mlp": [0.2, mlp_lookup], "attn": [attn_lookup, 0.1]},
                              {"mlp": ordinary, "attn": [0.2, 0.1]})


def test_the_lookup_verdict_places_lookups_in_the_mlps_only_when_they_stand_out():
    found = mlp.lookup_verdict(ablation(mlp_lookup=0.9, attn_lookup=0.3))
    assert found.holds and "MLP 1 (lookups +0.90, ordinary text +0.10)" in found.text
    not_there = mlp.lookup_verdict(ablation(mlp_lookup=0.15, attn_lookup=0.9, breaks=True))
    assert not not_there.holds and "attention 0" in not_there.text and "does not place these lookups in the MLPs" in not_there.text
    assert "MLP 0 (ordinary text +1.50 nats) breaks the model" in not_there.text


def test_the_under_trained_verdict_needs_near_copies_and_a_training_text():
    cluster = vocabulary.Undertrained(list(range(50)), 2, 1000, 0.98, 0.4, 3.5, 0.7)
    assert vocabulary.undertrained_verdict(cluster).holds
    spread = replace(cluster, cosine=0.3)
    assert not vocabulary.undertrained_verdict(spread).holds and "not a cluster" in vocabulary.undertrained_verdict(spread).text
    assert "not at hand" in vocabulary.undertrained_verdict(None).text


def test_the_under_trained_tokens_of_the_shipped_model_are_counted_in_its_training_text(lm):
    found = vocabulary.undertrained(lm)
    counts = vocabulary.training_counts(lm)
    assert sorted(found.ids) == torch.nonzero(counts <= vocabulary.UNDERTRAINED_MAX_COUNT)[:, 0].tolist()
    assert int(counts.sum()) == lm.meta["corpus"]["train_tokens"]
    kept, left_out = vocabulary.meaningful_top(lm, lm.model.transformer.wte.weight.detach().norm(dim=1), 5)
    assert not set(kept.tolist()) & set(found.ids) and left_out >= 5, "the longest embeddings are under-trained ones"


def test_the_lens_start_verdict_both_ways():
    assert forward.lens_start_verdict(forward.LensStart(" window", 1, 8192, 0.9, 1000)).holds
    found = forward.lens_start_verdict(forward.LensStart(" window", 1164, 8192, 0.05, 1000))
    assert not found.holds and "#1,164" in found.text


def test_the_lens_start_rank_is_the_lens_at_the_embedding(lm):
    prompt = "ROMEO:\nBut soft, what light"
    found = forward.lens_start(lm, prompt, sample=50)
    _, _, cache = lm.run_with_cache(prompt)
    logits = lm.model.lm_head(lm.model.transformer.ln_f(cache["blocks.0.hook_resid_pre"][0, -1])).detach()
    own = int(lm.encode(prompt)[-1])
    assert found.rank == int((logits > logits[own]).sum()) + 1


def test_the_most_pairs_verdict_both_ways():
    epsilon = geometry.cos_from_degrees(2)
    hundred = geometry.most_pairs(100, epsilon)
    assert hundred.random_share == pytest.approx(geometry.random_pair_within(epsilon, 100))
    assert hundred.rms_degrees == pytest.approx(90 - math.degrees(math.acos(0.1)), abs=1e-9)
    assert geometry.random_pair_within(epsilon, hundred.half_d) >= 0.5 > geometry.random_pair_within(epsilon, hundred.half_d - 1)
    assert not geometry.most_pairs_verdict(hundred).holds and "clusters of near-copies" in geometry.most_pairs_verdict(hundred).text
    assert geometry.most_pairs_verdict(geometry.most_pairs(5000, epsilon)).holds


def test_the_overlap_verdict_both_ways():
    n = 5
    same = torch.eye(n)[None].repeat(3, 1, 1)  # every head reads the query's own token
    apart = torch.stack([torch.eye(n), torch.diag_embed(torch.ones(n - 1), -1) + torch.diag(torch.tensor([1.0, 0, 0, 0, 0])),
                         torch.zeros(n, n).index_fill_(1, torch.tensor([0]), 1.0)])
    tokens = [f" t{i}" for i in range(n)]
    for patterns, holds in ((same, False), (apart, True)):
        found = heads.LayerHeads(tokens, 0, patterns, torch.zeros(3, n, 4), torch.zeros(4), torch.zeros(n, 4))
        assert heads.overlap_verdict(found, 2).holds == holds


def prompt_attention(patterns: torch.Tensor) -> attention.PromptAttention:
    n = patterns.shape[-1]
    return attention.PromptAttention([f" t{i}" for i in range(n)], torch.zeros_like(patterns), patterns)


def test_the_head_kinds_verdict_both_ways():
    n = 10
    previous = torch.diag_embed(torch.ones(n - 1), -1)
    previous[0, 0] = 1
    uniform = torch.tril(torch.ones(n, n)) / torch.arange(1, n + 1)[:, None]
    sink = torch.zeros(n, n)
    sink[:, 0] = 1
    mixed = prompt_attention(torch.stack([previous, sink])[None])
    assert attention.head_kinds(mixed) == {"previous token": [(0, 0)], "first token": [(0, 1)], "spread out": []}
    assert attention.head_kinds_verdict(mixed).holds
    alike = prompt_attention(torch.stack([uniform, uniform])[None])
    assert attention.head_kinds(alike)["spread out"] == [(0, 0), (0, 1)]
    assert not attention.head_kinds_verdict(alike).holds


def test_the_training_verdict_both_ways():
    n = 10
    uniform = torch.tril(torch.ones(n, n)) / torch.arange(1, n + 1)[:, None]
    previous = torch.diag_embed(torch.ones(n - 1), -1)
    previous[0, 0] = 1
    formed = {0: prompt_attention(uniform[None, None]), 100: prompt_attention(previous[None, None])}
    assert attention.training_verdict(formed, 0, 0).holds
    assert not attention.training_verdict({0: formed[0], 100: formed[0]}, 0, 0).holds


def test_the_arrival_verdict_both_ways(lm):
    steps = attention.attention_steps(lm, heads.running_example(lm).prompt, 0, 0)
    word = lm.model.transformer.wte.weight.detach()[steps.ids[1]]
    arrived = replace(steps, delta=steps.delta.clone())
    arrived.delta[2] = word
    assert heads.arrival_verdict(lm, arrived, 2, 1).holds
    arrived.delta[2] = -word
    assert not heads.arrival_verdict(lm, arrived, 2, 1).holds
