"""Softmax, temperature, filtering and sampling against independent computations."""

import math

import numpy as np
import pytest
import torch

from explainer import sampling
from explainer.errors import LogitsError, SamplingError, TemperatureError

LOGITS = torch.tensor([2.0, -1.0, 0.5, 3.0, 0.0])


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0, 2.0, 7.5])
def test_softmax_matches_torch(temperature):
    expected = torch.softmax(LOGITS / temperature, dim=-1)
    assert torch.allclose(sampling.softmax(LOGITS, temperature), expected, atol=1e-7)


def test_softmax_matches_numpy_formula_on_a_batch_along_any_axis():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 4, 5)) * 10
    for axis in range(3):
        e = np.exp(logits / 1.7)
        expected = e / e.sum(axis=axis, keepdims=True)
        got = sampling.softmax(logits, 1.7, dim=axis).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-12)
        np.testing.assert_allclose(got.sum(axis=axis), 1.0, rtol=1e-12)


def test_huge_logits_do_not_overflow():
    probs = sampling.softmax([1000.0, 999.0, -1000.0])
    assert torch.isfinite(probs).all()
    assert math.isclose(float(probs[0]), 1 / (1 + math.exp(-1)), rel_tol=1e-6)


def test_temperature_zero_is_the_argmax_one_hot():
    assert sampling.softmax(LOGITS, 0).tolist() == [0.0, 0.0, 0.0, 1.0, 0.0]


def test_temperature_zero_shares_exact_ties():
    assert sampling.softmax([1.0, 3.0, 3.0], 0).tolist() == [0.0, 0.5, 0.5]


def test_tiny_temperature_approaches_the_one_hot_without_nan():
    probs = sampling.softmax(LOGITS, 1e-30)
    assert not torch.isnan(probs).any()
    assert probs.tolist() == [0.0, 0.0, 0.0, 1.0, 0.0]


def test_large_temperature_tends_to_uniform():
    probs = sampling.softmax(LOGITS, 1e6)
    assert torch.allclose(probs, torch.full((5,), 0.2), atol=1e-5)


def test_entropy_grows_with_temperature():
    entropies = [float(sampling.entropy(sampling.softmax(LOGITS, t))) for t in (0, 0.5, 1, 2, 10)]
    assert entropies[0] == 0
    assert all(a < b for a, b in zip(entropies, entropies[1:]))
    assert entropies[-1] < math.log2(5)


def test_minus_infinity_gets_exactly_zero():
    logits = torch.tensor([1.0, float("-inf"), 0.0, float("-inf")])
    for temperature in (0, 0.3, 1, 100):
        probs = sampling.softmax(logits, temperature)
        assert probs[1] == 0 and probs[3] == 0
        assert math.isclose(float(probs.sum()), 1.0, rel_tol=1e-6)


@pytest.mark.parametrize("bad", [-0.1, -5, float("nan"), "hot", None])
def test_bad_temperature_is_refused(bad):
    with pytest.raises(TemperatureError, match="temperature must be"):
        sampling.softmax(LOGITS, bad)


def test_nan_logits_are_refused():
    with pytest.raises(LogitsError, match="NaN"):
        sampling.softmax([1.0, float("nan")])


def test_row_of_only_minus_infinity_is_refused():
    with pytest.raises(LogitsError, match="every logit in a row is -inf"):
        sampling.softmax([[0.0, 1.0], [float("-inf"), float("-inf")]])


def test_empty_logits_are_refused():
    with pytest.raises(LogitsError, match="non-empty"):
        sampling.softmax([])


def test_top_k_keeps_the_k_largest():
    filtered = sampling.top_k_filter(LOGITS, 2)
    assert torch.isfinite(filtered).tolist() == [True, False, False, True, False]
    assert torch.equal(sampling.top_k_filter(LOGITS, 99), LOGITS)
    with pytest.raises(SamplingError, match="top_k"):
        sampling.top_k_filter(LOGITS, 0)


def test_top_p_keeps_the_smallest_nucleus():
    probs = sampling.softmax(LOGITS)  # sorted: 3.0 (.63), 2.0 (.23), 0.5 (.05), 0.0 (.03)...
    order = torch.argsort(probs, descending=True)
    cumulative = torch.cumsum(probs[order], 0)
    for p in (0.1, 0.5, 0.8, 0.9, 0.99, 1.0):
        expected_count = int((cumulative < p).sum()) + 1
        kept = torch.isfinite(sampling.top_p_filter(LOGITS, p))
        assert int(kept.sum()) == min(expected_count, 5)
        assert kept[order[:expected_count]].all()
    with pytest.raises(SamplingError, match="top_p"):
        sampling.top_p_filter(LOGITS, 0)


def test_sampling_is_reproducible_with_a_seed():
    a = sampling.sample(LOGITS, 50, temperature=1.5, seed=7)
    b = sampling.sample(LOGITS, 50, temperature=1.5, seed=7)
    c = sampling.sample(LOGITS, 50, temperature=1.5, seed=8)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_sample_frequencies_follow_the_distribution():
    draws = sampling.sample(LOGITS, 200_000, temperature=0.8, seed=0)
    frequencies = torch.bincount(draws, minlength=5).double() / draws.numel()
    assert torch.allclose(frequencies, torch.softmax(LOGITS.double() / 0.8, -1), atol=0.005)


def test_temperature_zero_sampling_is_greedy_and_filters_apply():
    assert set(sampling.sample(LOGITS, 30, temperature=0, seed=1).tolist()) == {3}
    assert set(sampling.sample(LOGITS, 500, temperature=5, top_k=2, seed=1).tolist()) == {0, 3}


def test_bad_sample_count_is_refused():
    with pytest.raises(SamplingError, match="num_samples"):
        sampling.sample(LOGITS, 0)
