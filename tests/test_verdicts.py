"""Every verdict, both ways: a constructed measurement where the claim holds and one where it does not give different
findings, each with its numbers. And the designed head against an independent computation of attention."""

import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from explainer import attention, context, designed, forward, geometry, heads, mlp, probes, sampling, scaling_laws, vocabulary
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


# ---------- the talk's frame (#35) ----------

def test_the_parallel_verdict_both_ways():
    fast = forward.Timing(10.0, 80.0, 20, 1e-6)
    assert forward.parallel_verdict(fast, forward.Timing(1.0, 3.0, 20, 1e-6)).holds
    slow = forward.parallel_verdict(replace(fast, one_by_one_ms=5.0), forward.Timing(1.0, 3.0, 20, 1e-6))
    assert not slow.holds and "(0.5×)" in slow.text
    assert not forward.parallel_verdict(replace(fast, largest_difference=0.5), forward.Timing(1.0, 3.0, 20, 1e-6)).holds


def test_the_next_speaker_verdict_both_ways():
    names = ("PORTIA", "ROSALIND", "NERISSA")
    steered = sampling.NextSpeaker(names, (0.3, 0.01, 0.02), (0.05, 0.2, 0.02))
    assert sampling.next_speaker_verdict(steered).holds and "**30.0%**" in sampling.next_speaker_verdict(steered).text
    deaf = sampling.NextSpeaker(names, (0.3, 0.01, 0.02), (0.29, 0.011, 0.02))
    assert not sampling.next_speaker_verdict(deaf).holds


def test_the_several_heads_verdict_both_ways(monkeypatch):
    alone, both = designed.heads_case(designed.ONE_ADJECTIVE), designed.heads_case(designed.TWO_ADJECTIVES)
    assert designed.several_heads_verdict(alone, both).holds
    monkeypatch.setattr(designed, "KINDS", {"first": ("fluffy", "blue"), "second": ("fluffy", "blue")})  # both ask alike
    alike = designed.several_heads_verdict(designed.heads_case(designed.ONE_ADJECTIVE), designed.heads_case(designed.TWO_ADJECTIVES))
    assert not alike.holds and "keeps **38%**" in alike.text


def test_the_designed_heads_are_attention_as_pytorch_computes_it():
    case = designed.heads_case(designed.TWO_ADJECTIVES)
    e = designed.embed(case.words)
    for kind, answers in designed.KINDS.items():
        w = designed.designed_weights(answers, answers)
        q, k, v = e @ w.W_Q, e @ w.W_K, e @ w.W_V
        expected = F.scaled_dot_product_attention(q[None], k[None], v[None], is_causal=True)[0] @ w.W_O
        torch.testing.assert_close(case.two[kind].delta, expected, atol=1e-6, rtol=0)
    creature = case.words.index("creature")
    arrived = case.arrived("two", "creature")
    assert arrived["fluffy"] == pytest.approx(sum(float(s.delta[creature, designed.feature_index("fluffy")]) for s in case.two.values()))


def profile(patterns_by_head: list[torch.Tensor]) -> heads.PositionProfile:
    """A PositionProfile of hand-made patterns [head, query, key] (both halves of the text alike)."""
    found = heads.offset_weights(torch.stack(patterns_by_head))
    n = patterns_by_head[0].shape[-1]
    uniform = heads.offset_weights(attention.causal_mask(n).float() / torch.arange(1, n + 1)[:, None])
    columns = ["itself"] + [f"{d} back" for d in range(1, heads.OFFSETS)] + ["first token", "the rest"]
    return heads.PositionProfile(0, columns, found, torch.stack([found, found + 0.001]), uniform, 100)


def test_the_position_verdict_both_ways():
    n = 20
    itself, previous = torch.eye(n), torch.diag_embed(torch.ones(n - 1), -1)
    previous[0, 0] = 1
    apart = profile([itself, previous])
    assert apart.favourites() == ["itself", "1 back"] and heads.position_verdict(apart).holds
    alike = profile([itself, itself])
    assert not heads.position_verdict(alike).holds


def test_position_columns_add_up_to_each_row_and_count_the_right_keys():
    n = 16
    patterns = torch.softmax(torch.randn(3, n, n, generator=torch.Generator().manual_seed(0)).masked_fill(
        ~attention.causal_mask(n), float("-inf")), -1)
    found = heads.offset_weights(patterns)  # [head, column]
    torch.testing.assert_close(found.sum(-1), torch.ones(3))
    queries = range(heads.OFFSETS + 1, n)
    expected_back = sum(patterns[:, q, q - 2] for q in queries) / len(queries)
    torch.testing.assert_close(found[:, 2], expected_back)
    torch.testing.assert_close(found[:, heads.OFFSETS], sum(patterns[:, q, 0] for q in queries) / len(queries))


def test_the_xor_verdict_both_ways(monkeypatch):
    found = designed.xor_case()
    assert found.attention == pytest.approx([0.5] * 4, abs=1e-5) and found.attention_then_mlp == pytest.approx([0, 1, 1, 0], abs=1e-3)
    assert designed.mlp_verdict(found).holds
    assert not designed.mlp_verdict(replace(found, attention_then_mlp=found.attention)).holds


def test_the_best_linear_head_is_the_least_squares_fit_of_any_value_map():
    """No value map does better than the fitted one: random ones only add error (a head at a fixed pattern is linear)."""
    found = designed.xor_case()
    best = sum((o - t) ** 2 for o, t in zip(found.attention, found.target))
    generator = torch.Generator().manual_seed(0)
    out = torch.zeros(1, len(designed.XOR_FEATURES))
    out[0, designed.XOR_FEATURES.index("a xor b")] = 1.0
    slot = designed.XOR_FEATURES.index("a xor b")
    for _ in range(20):
        head = designed.xor_head(torch.randn(len(designed.XOR_FEATURES), 1, generator=generator), out)
        outputs = [float(designed.run_head(head, designed.xor_tokens(a, b))[slot]) for a, b in found.cases]
        assert sum((o - t) ** 2 for o, t in zip(outputs, found.target)) >= best - 1e-6


def interaction(means: list[list[float]], share: float, shuffled: float) -> mlp.NeuronInteraction:
    return mlp.NeuronInteraction(mlp.INTERACTING, 0, 7, torch.tensor(means), torch.tensor([[500, 50], [20, 30]]), share,
                                 0.01, shuffled, 600)


def test_the_nonlinear_neuron_verdict_both_ways():
    found = mlp.nonlinear_verdict(interaction([[0.0, 1.8], [0.9, 0.5]], 0.05, 0.002))
    assert found.holds and "-2.20" in found.text
    assert not mlp.nonlinear_verdict(interaction([[0.0, 1.0], [1.0, 2.0]], 0.002, 0.002)).holds


def test_the_interaction_share_is_zero_for_a_sum_and_large_for_an_and():
    generator = torch.Generator().manual_seed(0)
    a, b = torch.rand(400, generator=generator) < 0.5, torch.rand(400, generator=generator) < 0.5
    noise = 0.01 * torch.randn(400, generator=generator)
    y = torch.stack([a.float() + 2 * b.float() + noise, (a & b).float() + noise], 1)
    shares = mlp.interaction_share(y, a, b)
    assert float(shares[0]) < 1e-3 and float(shares[1]) > 0.1
    # independently: the AND column's residual after a linear fit, against after adding a·b
    X = torch.stack([torch.ones(400), a.float(), b.float()], 1)
    residual = y[:, 1] - X @ torch.linalg.lstsq(X, y[:, 1:]).solution[:, 0]
    total = ((y[:, 1] - y[:, 1].mean()) ** 2).sum()
    full = torch.cat([X, (a & b).float()[:, None]], 1)
    residual_full = y[:, 1] - full @ torch.linalg.lstsq(full, y[:, 1:]).solution[:, 0]
    assert float(shares[1]) == pytest.approx(float(((residual ** 2).sum() - (residual_full ** 2).sum()) / total), rel=1e-4)


def circuit(largest: float, rank: int, rotary: bool = False) -> attention.QKCircuit:
    scores = torch.full((4, 4), 10.0)
    return attention.QKCircuit(1, 0, torch.zeros(16, 16), rank, 4, scores, scores, rotary, largest, 3.0 if rotary else 0.0)


def test_the_qk_verdict_both_ways():
    assert attention.qk_verdict(circuit(1e-6, 4)).holds
    rope = attention.qk_verdict(circuit(1e-6, 4, rotary=True))
    assert rope.holds and "on the diagonal" in rope.text and "misses by up to 3.00" in rope.text
    assert not attention.qk_verdict(circuit(0.5, 4)).holds
    assert not attention.qk_verdict(circuit(1e-6, 5)).holds


def probe_result(accuracy: list[float], shuffled: list[float]) -> probes.ProbeResult:
    stages = [f"stage {i}" for i in range(len(accuracy))]
    return probes.ProbeResult("speaker's name", stages, accuracy, shuffled, torch.eye(len(accuracy), 8), 0.1, (100, 50))


def test_the_probe_verdict_both_ways():
    found = probes.probe_verdict(probe_result([0.6, 0.9, 0.95], [0.5, 0.5, 0.52]))
    assert found.holds and "from **stage 1** on" in found.text and "**95%**" in found.text
    assert not probes.probe_verdict(probe_result([0.55, 0.6, 0.62], [0.5, 0.5, 0.52])).holds


def cosines(cos: float) -> probes.DirectionCosines:
    matrix = torch.tensor([[1.0, cos], [cos, 1.0]])
    return probes.DirectionCosines("after block 4", ["a", "b"], matrix, 160, [geometry.random_pair_within(abs(cos), 160)])


def test_the_directions_verdict_both_ways():
    assert probes.directions_verdict(cosines(0.02)).holds and "as near 90°" in probes.directions_verdict(cosines(0.02)).text
    assert probes.directions_verdict(cosines(0.2)).holds and "further from 90° than most" in probes.directions_verdict(cosines(0.2)).text
    assert not probes.directions_verdict(cosines(0.6)).holds


def scaling_case(losses: list[float]) -> scaling_laws.Scaling:
    sizes = [1_000, 4_000, 16_000, 64_000]
    runs = [scaling_laws.Run(2, 2, 16, n + 500, n, loss, 1.0) for n, loss in zip(sizes, losses)]
    return scaling_laws.Scaling(runs, scaling_laws.fit_power_law(sizes, losses), 1000, 10)


def test_the_scaling_verdict_both_ways():
    straight = scaling_case([3.0 * (1_000 / n) ** 0.05 for n in (1_000, 4_000, 16_000, 64_000)])
    found = scaling_laws.scaling_verdict(straight)
    assert found.holds and "**α = 0.050**" in found.text
    assert not scaling_laws.scaling_verdict(scaling_case([3.0, 2.5, 2.6, 2.4])).holds  # not falling at every step
    assert not scaling_laws.scaling_verdict(scaling_case([3.0, 2.0, 1.9, 1.85])).holds  # falling, but bent
