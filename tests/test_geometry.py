"""Near-orthogonal geometry: bounds against hand-computed values, random-angle spread, the optimisers, errors."""

import math

import numpy as np
import pytest
import torch

from explainer import geometry as g


def test_bounds_against_hand_computed_values():
    assert g.welch_bound(10_000, 100) == pytest.approx(math.sqrt(9900 / (100 * 9999)))  # 0.0995
    assert g.levenshtein_bound(10_000, 100) == pytest.approx(math.sqrt((30_000 - 10_000 - 200) / (102 * 9900)))  # 0.1400
    assert g.levenshtein_bound(5050, 100) is None and g.levenshtein_bound(5051, 100) is not None
    assert g.welch_bound(100, 100) == 0.0 and g.welch_bound(3, 2) == pytest.approx(0.5)  # 3 lines at 60° in the plane
    assert g.lower_bound(10_000, 100) == pytest.approx(0.140, abs=5e-4)


def test_the_88_to_92_degree_quiz_in_100_dimensions():
    eps = g.cos_from_degrees(2)
    assert eps == pytest.approx(math.cos(math.radians(88)))
    assert g.max_vectors(eps, 100) == 113
    assert g.lower_bound(113, 100) <= eps < g.lower_bound(114, 100)


@pytest.mark.parametrize("d", [3, 10, 100, 1000])
@pytest.mark.parametrize("eps", [0.01, 0.05, 0.2, 0.5])
def test_inverse_bound_is_consistent_with_the_forward_one(d, eps):
    n = g.max_vectors(eps, d)
    if n == math.inf:
        assert all(g.lower_bound(m, d) <= eps for m in (10 * d, 10**4 * d, 10**8))
    else:
        assert g.lower_bound(n, d) <= eps < g.lower_bound(n + 1, d)


def test_random_angle_spread_shrinks_like_one_over_sqrt_d():
    spreads = {d: g.angle_stats(g.random_unit_vectors(600, d, seed=3)).std_angle for d in (16, 64, 256, 1024)}
    for d, spread in spreads.items():
        assert spread == pytest.approx(math.degrees(1 / math.sqrt(d)), rel=0.12)
    assert spreads[64] / spreads[256] == pytest.approx(2, rel=0.1)


def test_exact_pair_probability_matches_sampling_and_density_integrates_to_one():
    vectors = g.random_unit_vectors(1500, 50, seed=4)
    stats = g.angle_stats(vectors, tolerance_cos=0.1)
    assert stats.fraction_within == pytest.approx(g.random_pair_within(0.1, 50), abs=0.01)
    angles = np.linspace(0, 180, 20_001)
    assert np.trapezoid(g.angle_density(angles, 50), angles) == pytest.approx(1.0, abs=1e-6)
    assert g.random_vectors_all_within(0.2, 1000) > g.random_vectors_all_within(0.2, 500) > g.random_vectors_all_within(0.2, 250)


def test_angle_stats_match_a_direct_computation():
    vectors = g.random_unit_vectors(200, 8, seed=5)
    cosines = (vectors @ vectors.T)[torch.triu(torch.ones(200, 200, dtype=torch.bool), 1)]
    stats = g.angle_stats(vectors, tolerance_cos=0.3)
    assert stats.max_abs_cos == pytest.approx(float(cosines.abs().max()), abs=1e-6)
    assert stats.fraction_within == pytest.approx(float((cosines.abs() <= 0.3).double().mean()))
    assert stats.histogram.sum() == 200 * 199 // 2


def test_optimiser_lowers_the_max_and_keeps_unit_norm():
    start = g.max_abs_cos(g.random_unit_vectors(400, 20, seed=0))
    result = g.spread_vectors(400, 20, steps=150, seed=0, device="cpu", progress=False)
    assert result.max_abs_cos < 0.8 * start
    assert result.max_abs_cos >= g.lower_bound(400, 20) - 1e-6
    history = [worst for _, worst in result.history]
    assert history[-1] < history[0] and max(history[len(history) // 2:]) < history[0]
    for snapshot in result.snapshots:
        torch.testing.assert_close(snapshot.norm(dim=1), torch.ones(400), atol=1e-5, rtol=0)


def test_optimiser_returns_the_best_set_it_saw():
    result = g.spread_vectors(2000, 100, steps=120, seed=0, device="cpu", record_every=5, progress=False)
    assert result.max_abs_cos == pytest.approx(g.max_abs_cos(result.vectors), abs=1e-6)
    assert result.max_abs_cos <= min(worst for _, worst in result.history) + 1e-6
    torch.testing.assert_close(result.vectors.norm(dim=1), torch.ones(2000), atol=1e-5, rtol=0)


def test_optimiser_finds_an_orthonormal_set_when_n_is_at_most_d():
    result = g.spread_vectors(16, 16, steps=300, seed=1, device="cpu", progress=False)
    assert result.max_abs_cos < 0.01


def test_block_gradient_equals_the_dense_computation():
    vectors = g.random_unit_vectors(300, 12, seed=3)
    cosines = vectors @ vectors.T
    cosines.fill_diagonal_(0)
    expected = (cosines - cosines.clamp(-0.4, 0.4)) @ vectors
    blocks = g.PairBlocks(300, torch.device("cpu"))
    blocks.rows = 64  # several blocks, the last one partial
    out = torch.empty_like(vectors)
    worst = blocks.gradient(vectors, lambda block: block.sub_(block.clamp(-0.4, 0.4)), out)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)
    assert worst == pytest.approx(float(cosines.abs().max()), abs=1e-6) == pytest.approx(g.max_abs_cos(vectors), abs=1e-6)


def test_lecture_recipe_runs_and_is_the_weaker_baseline():
    recipe = g.lecture_recipe(400, 20, steps=150, device="cpu", progress=False)
    ours = g.spread_vectors(400, 20, steps=150, device="cpu", progress=False)
    assert ours.max_abs_cos < recipe.max_abs_cos


def test_bad_inputs_are_refused():
    with pytest.raises(g.GeometryError, match="at least N = 2"):
        g.welch_bound(1, 10)
    with pytest.raises(g.GeometryError, match="dimension d"):
        g.random_unit_vectors(10, 0)
    with pytest.raises(g.GeometryError, match="between 0° and 90°"):
        g.cos_from_degrees(90)
    with pytest.raises(g.GeometryError, match="between 0° and 90°"):
        g.cos_from_degrees(0)
    with pytest.raises(g.GeometryError, match=r"threshold must be a \|cos\| in \[0, 1\), got 1.2"):
        g.spread_vectors(100, 10, threshold=1.2, device="cpu", progress=False)
    with pytest.raises(g.GeometryError, match="GiB"):
        g.lecture_recipe(10_000_000, 10, device="cpu")  # the recipe needs the whole N × N matrix; ours works in blocks


def test_random_directions_in_every_dimension_keep_their_vectors_however_n_moved():
    directions = g.RandomDirections([3, 50, 20], seed=1)
    grown = directions.stats(250, bins=90)  # drawn in blocks, kept, their pairs counted once
    shrunk = directions.stats(120, bins=90)
    fresh = g.RandomDirections([3, 20, 50], seed=1)
    for d in (3, 20, 50):  # from the dot products kept, as from the vectors themselves
        direct = g.angle_stats(fresh.vectors(120, d), bins=90)
        np.testing.assert_array_equal(shrunk[d].histogram, direct.histogram)
        assert shrunk[d].max_abs_cos == pytest.approx(direct.max_abs_cos, abs=1e-5) and grown[d].n == 250
        assert (shrunk[d].mean_angle, shrunk[d].std_angle, shrunk[d].fraction_within) == pytest.approx(
            (direct.mean_angle, direct.std_angle, direct.fraction_within), rel=1e-6)  # float32 cosines, two ways
    wide, narrow = fresh.vectors(120, 50), fresh.vectors(120, 3)  # d dimensions: the first d coordinates, normalised
    torch.testing.assert_close(narrow, g.normalised(wide[:, :3]))
    assert not torch.equal(fresh.vectors(5, 3), g.RandomDirections([3], seed=2).vectors(5, 3))


def test_the_explorer_sends_every_dimensions_histogram_and_the_page_chooses():
    from explainer.figures.geometry import EXPLORER_DIMENSIONS, TOLERANCES, NearOrthogonalExplorer
    from explainer.figures.kit import unpacked

    explorer = NearOrthogonalExplorer(d=10, n=100, optimise_steps=30)
    assert (explorer.dimension, explorer.tolerance_degrees) == (10, 2.0)
    panel = lambda kind, i=0: [p for p in explorer.view.get_state()["panels"] if p["kind"] == kind][i]
    shares, edges = unpacked(panel("steps")["shares"]), unpacked(panel("steps")["edges"])  # [d, random | optimised, bin]
    explorer.view.select(d=EXPLORER_DIMENSIONS.index(1000), tolerance=TOLERANCES.index(2.0))  # as the page does
    assert explorer.dimension == 1000
    found = g.angle_stats(g.RandomDirections(list(EXPLORER_DIMENSIONS)).vectors(100, 1000), g.cos_from_degrees(2), bins=360)
    shown = shares[EXPLORER_DIMENSIONS.index(1000)]
    np.testing.assert_allclose(edges, found.bin_edges)
    np.testing.assert_allclose(shown[0], found.histogram / found.histogram.sum(), atol=1.5 / 4950)  # a pair on an edge
    assert np.isnan(shares[:, 1]).all(), "no optimised vectors yet"
    inside = shown[0][(edges[:-1] >= 88) & (edges[1:] <= 92)].sum()  # what the page counts in the band 90° ± 2°
    assert inside == pytest.approx(found.fraction_within, abs=1.5 / 4950)
    band = [unpacked(panel("band")[end]) for end in ("low", "high")]
    np.testing.assert_allclose(band, [[90 - t for t in TOLERANCES], [90 + t for t in TOLERANCES]])
    assert f"max |cos| {found.max_abs_cos:.3f}, {{share}} of pairs in band" in panel("steps")["names"][2 * EXPLORER_DIMENSIONS.index(1000)]
    facts = panel("text")["pieces"][EXPLORER_DIMENSIONS.index(1000) * len(TOLERANCES) + TOLERANCES.index(2.0)]
    assert f"probability {g.random_pair_within(g.cos_from_degrees(2), 1000):.1%}" in facts
    assert f"below <b>{g.lower_bound(100, 1000):.4f}</b>" in panel("text", 1)["pieces"][EXPLORER_DIMENSIONS.index(1000)]
    explorer.button.click()  # optimises the vectors of the dimension the page shows
    optimised = unpacked(panel("steps")["shares"])[:, 1]
    assert [d for d, row in zip(EXPLORER_DIMENSIONS, optimised) if np.isfinite(row).all()] == [1000]
    explorer.n.value = 200  # new vectors: drawn in the kernel, the optimised ones gone
    assert np.isnan(unpacked(panel("steps")["shares"])[:, 1]).all()
    assert explorer.view.frame["titles"][0] == "200 unit vectors in 2 dimensions" and explorer.dimension == 1000
