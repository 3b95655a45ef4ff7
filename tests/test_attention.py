"""Attention step functions against independent numpy computations and against the model's own cache."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explainer import attention
from explainer.figures import common as viz
from explainer.style import display_token
from explainer.gpt import checkpoint
from explainer.errors import ExplainerError
from explainer.settings import FLUFFY_PROMPT

RNG = np.random.default_rng(0)


@pytest.fixture(scope="module")
def lm():
    return checkpoint.load()


def numpy_softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_each_step_matches_numpy():
    n, C, d = 7, 16, 4
    x, W_Q, W_K, W_V = RNG.normal(size=(n, C)), RNG.normal(size=(C, d)), RNG.normal(size=(C, d)), RNG.normal(size=(C, d))
    q = attention.project(torch.tensor(x), torch.tensor(W_Q), None)
    k = attention.project(torch.tensor(x), torch.tensor(W_K), None)
    v = attention.project(torch.tensor(x), torch.tensor(W_V), None)
    np.testing.assert_allclose(q.numpy(), x @ W_Q)
    scores = attention.score_grid(q, k)
    np.testing.assert_allclose(scores.numpy(), (x @ W_Q) @ (x @ W_K).T, rtol=1e-12)
    scaled = attention.scale_scores(scores, d)
    np.testing.assert_allclose(scaled.numpy(), scores.numpy() / 2.0)
    expected = numpy_softmax(np.where(np.tril(np.ones((n, n))) > 0, scaled.numpy(), -np.inf))
    pattern = attention.masked_softmax(scaled)
    np.testing.assert_allclose(pattern.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(attention.weighted_values(pattern, v).numpy(), expected @ (x @ W_V), rtol=1e-10)
    torch.testing.assert_close(attention.weighted_values(pattern, v),
                               F.scaled_dot_product_attention(q[None], k[None], v[None], is_causal=True)[0])


def test_masked_weights_are_exactly_zero_and_rows_sum_to_one():
    scores = torch.tensor(RNG.normal(size=(9, 9)) * 5)
    for variant in ("minus_inf", "renormalise"):
        pattern = attention.masked_softmax(scores, variant, temperature=0.7)
        assert (pattern.triu(1) == 0).all()
        torch.testing.assert_close(pattern.sum(-1), torch.ones(9, dtype=pattern.dtype))
    torch.testing.assert_close(attention.masked_softmax(scores, "renormalise"), attention.masked_softmax(scores))
    broken = attention.masked_softmax(scores, "zero_after")
    assert (broken.triu(1) == 0).all() and (broken.sum(-1)[:-1] < 1).all()  # the last row sees everything
    unmasked = attention.masked_softmax(scores, "none")
    assert (unmasked[~attention.causal_mask(9)] > 0).all()
    with pytest.raises(ExplainerError, match="mask variant"):
        attention.masked_softmax(scores, "diagonal")


@pytest.mark.parametrize("layer,head", [(0, 0), (0, 3), (2, 1), (3, 3)])
def test_step_by_step_equals_the_models_cache(lm, layer, head):
    steps = attention.attention_steps(lm, FLUFFY_PROMPT, layer, head)
    _, _, cache = lm.run_with_cache(FLUFFY_PROMPT)
    name = f"blocks.{layer}.attn."
    torch.testing.assert_close(steps.q, cache[name + "hook_q"][0, :, head], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(steps.k, cache[name + "hook_k"][0, :, head], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(steps.scaled, cache[name + "hook_attn_scores"][0, head], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(steps.pattern, cache[name + "hook_pattern"][0, head], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(steps.z, cache[name + "hook_z"][0, :, head], atol=1e-5, rtol=1e-5)


def test_heads_deltas_add_up_to_the_attention_output(lm):
    _, _, cache = lm.run_with_cache(FLUFFY_PROMPT)
    total = sum(attention.attention_steps(lm, FLUFFY_PROMPT, 1, h).delta for h in range(lm.model.config.n_head))
    bias = lm.model.transformer.h[1].attn.c_proj.bias.detach()
    torch.testing.assert_close(total + bias, cache["blocks.1.hook_attn_out"][0], atol=1e-5, rtol=1e-4)
    steps = attention.attention_steps(lm, FLUFFY_PROMPT, 1, 0)
    torch.testing.assert_close(steps.updated, steps.residual + steps.delta)


def test_scaling_toggle_and_temperature(lm):
    plain = attention.attention_steps(lm, FLUFFY_PROMPT, 0, 3, scale=False)
    scaled = attention.attention_steps(lm, FLUFFY_PROMPT, 0, 3)
    torch.testing.assert_close(plain.scaled, scaled.scaled * math.sqrt(lm.model.config.head_size))
    found = attention.prompt_attention(lm, FLUFFY_PROMPT)
    sharp, flat = found.pattern(0, 3, 0.2), found.pattern(0, 3, 5.0)
    assert sharp.max(-1).values.mean() > found.pattern(0, 3).max(-1).values.mean() > flat.max(-1).values.mean()


def test_summaries_match_direct_computation(lm):
    found = attention.prompt_attention(lm, FLUFFY_PROMPT)
    p = found.patterns[2, 1].numpy()
    n = p.shape[0]
    assert float(found.previous_token_score()[2, 1]) == pytest.approx(np.mean([p[i, i - 1] for i in range(1, n)]), abs=1e-6)
    assert float(found.first_token_score()[2, 1]) == pytest.approx(np.mean([p[i, 0] for i in range(1, n)]), abs=1e-6)
    entropy = np.mean([-(row[row > 0] * np.log2(row[row > 0])).sum() for row in p])
    assert float(found.entropy()[2, 1]) == pytest.approx(entropy, abs=1e-5)
    torch.testing.assert_close(found.mean_over_heads()[2], found.patterns[2].mean(0))
    last = lm.model.config.n_layer - 1
    with pytest.raises(ExplainerError, match=f"layer must be 0 … {last}"):
        attention.attention_steps(lm, FLUFFY_PROMPT, last + 1, 0)


def inside(polygons: np.ndarray, point: tuple[float, float]) -> bool:
    """Even-odd ray casting over the polygons of a Plotly line trace (NaN rows separate polygons)."""
    x, y = point
    crossings = 0
    for (x0, y0), (x1, y1) in zip(polygons[:-1], polygons[1:]):
        if np.isnan([x0, y0, x1, y1]).any() or (y0 > y) == (y1 > y):
            continue
        crossings += x < x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    return crossings % 2 == 1


def test_masked_outline_covers_any_mask():
    mask = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]], dtype=bool)  # not causal: one square per cell
    outline = viz.masked_outline(mask)
    assert {(k, q) for q in range(3) for k in range(3) if inside(outline, (k, q))} == {(1, 0), (0, 1), (2, 2)}


def test_dot_area_is_proportional_to_weight(lm):
    found = attention.prompt_attention(lm, FLUFFY_PROMPT)
    pattern = found.pattern(0, 3)
    n = pattern.shape[0]
    masked = ~attention.causal_mask(n)
    figure = viz.dot_grid(pattern, found.tokens, masked=masked)
    dots, crosses = figure.data
    weights = np.array(dots.customdata)
    areas = np.array(dots.marker.size) ** 2
    np.testing.assert_allclose(areas / areas.max(), weights / weights.max(), rtol=1e-9)
    np.testing.assert_allclose(np.sort(weights), np.sort(pattern[~masked].numpy()), rtol=1e-6)
    assert len(dots.x) == n * (n + 1) // 2
    outline = np.stack([crosses.x, crosses.y], axis=1)
    assert not np.isnan(outline).any(), "a causal mask is drawn as one polygon"
    covered = {(k, q) for q in range(n) for k in range(n) if inside(outline, (k, q))}
    assert covered == {(k, q) for q in range(n) for k in range(q + 1, n)}, "the grey shape covers the future, exactly"
    # Our convention: rows (y) are queries. The transpose puts queries on x.
    second = f"1:{display_token(found.tokens[1])}"
    label = lambda axis, value: axis.ticktext[list(axis.tickvals).index(value)]
    layout = figure.layout
    assert label(layout.yaxis, dots.y[1]) == second and label(layout.xaxis, dots.x[1]) == "0:a"
    assert dots.text[1] == f"query {second} → key 0:a"
    flipped = viz.dot_grid(pattern, found.tokens, transpose=True, masked=masked)
    assert label(flipped.layout.xaxis, flipped.data[0].x[1]) == second and label(flipped.layout.yaxis, flipped.data[0].y[1]) == "0:a"


def test_the_step_by_step_explorer_sends_every_heads_scores_and_what_delta_e_needs(lm):
    """08's explorer sends every head's raw scores once, and the dot products from which the page computes |Δe| and
    cos(e, e + Δe) for whatever pattern its controls make (temperature, ÷√d_k, mask): they give what each head's own
    steps give. What the page draws from them is checked in Chromium (test_kit.py)."""
    from explainer.figures.attention import StepByStepExplorer
    from explainer.figures.kit import unpacked

    explorer = StepByStepExplorer(lm, FLUFFY_PROMPT, layer=1, head=2)
    view, n = explorer.view, len(lm.encode(FLUFFY_PROMPT))
    assert (view.layer, view.head, view.query, view.mask, view.scaled, view.temperature) == (1, 2, n - 1, "minus_inf", True, 1.0)
    assert (explorer.layer, explorer.head) == (1, 2) and explorer.status.value == ""
    state = view.get_state()
    scores, gram, reads, norms = (unpacked(state[name]).astype(float) for name in ("scores", "value_gram", "reads", "residual_norms"))
    assert scores.shape == (lm.model.config.n_layer, lm.model.config.n_head, n, n) and state["d_k"] == lm.model.config.head_size
    for layer, head in [(0, 3), (1, 2), (4, 4)]:
        plain = attention.attention_steps(lm, FLUFFY_PROMPT, layer, head)
        np.testing.assert_allclose(scores[layer, head], plain.scores.numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(norms[layer], plain.residual.norm(dim=-1).numpy(), rtol=1e-5)
        for temperature, scale, mask in [(1.0, True, "minus_inf"), (0.4, False, "zero_after"), (2.5, True, "none")]:
            steps = attention.attention_steps(lm, FLUFFY_PROMPT, layer, head, temperature, scale, mask)
            for query in (2, n - 1):
                p = steps.pattern[query].double().numpy()
                added, along = p @ gram[layer, head] @ p, p @ reads[layer, head, query]  # |Δe|², e · Δe
                assert np.sqrt(added) == pytest.approx(float(steps.delta[query].norm()), rel=1e-4)
                e = norms[layer, query]
                cos = (e * e + along) / (e * np.sqrt(e * e + 2 * along + added))
                expected = torch.cosine_similarity(steps.residual[query], steps.updated[query], dim=0)
                assert cos == pytest.approx(float(expected), abs=1e-5)
    view.select(layer=4, query=3, mask="renormalise", scaled=False, temperature=0.5)
    assert (explorer.layer, view.query, view.mask, view.scaled, view.temperature) == (4, 3, "renormalise", False, 0.5)


def test_the_attention_explorer_sends_every_head_of_its_prompt(lm):
    """12's explorer: every head's pattern and scores go to the page once, with a caption per head; a new prompt
    sends new ones (the layer and head chosen stay); a bad prompt is named in the status and leaves the figure."""
    from explainer.figures.attention import AttentionExplorer
    from explainer.figures.kit import unpacked
    from explainer.settings import ROMEO_LINE

    explorer = AttentionExplorer(lm, FLUFFY_PROMPT, layer=1, head=3)
    found = attention.prompt_attention(lm, FLUFFY_PROMPT)
    view, heads = explorer.view, lm.model.config.n_head
    assert (explorer.layer, explorer.head, view.transposed) == (1, 3, False) and explorer.status.value == ""
    np.testing.assert_array_equal(unpacked(view.get_state()["patterns"]), found.patterns.numpy())
    np.testing.assert_array_equal(unpacked(view.get_state()["scores"]), found.scores.numpy())
    caption = view.captions[1 * heads + 3]
    for score in (found.previous_token_score(), found.first_token_score(), found.self_score(), found.entropy()):
        assert f"{float(score[1, 3]):.2f}" in caption
    explorer.prompt.value = ROMEO_LINE
    romeo = attention.prompt_attention(lm, ROMEO_LINE)
    np.testing.assert_array_equal(unpacked(view.get_state()["patterns"]), romeo.patterns.numpy())
    assert view.tokens == [display_token(t) for t in romeo.tokens] and (explorer.layer, explorer.head) == (1, 3)
    explorer.prompt.value = ""
    assert "prompt is empty" in explorer.status.value and len(view.tokens) == len(romeo.tokens)


def test_head_gallery_shows_every_heads_pattern(lm):
    from explainer.figures.attention import head_gallery

    found = attention.prompt_attention(lm, FLUFFY_PROMPT)
    layers, heads, n = found.patterns.shape[0], found.patterns.shape[1], len(found.tokens)
    figure = head_gallery(found)
    colours, shapes = figure.data
    step = n + 2
    weights = np.array(colours.z, dtype=float)  # [y, x]
    assert weights.shape == (layers * step - 2, heads * step - 2)
    for l, h in [(0, 0), (layers - 1, heads - 1), (1, heads // 2)]:
        grid = weights[l * step: l * step + n, h * step: h * step + n]
        np.testing.assert_allclose(np.tril(grid), np.tril(found.pattern(l, h).numpy()), rtol=1e-6)
        assert np.isnan(grid[np.triu_indices(n, 1)]).all()  # the future: no colour, under the grey shape
        assert np.isnan(weights[l * step: l * step + n, h * step + n: h * step + step]).all()  # the gap to the next
        assert colours.text[l * step + n - 1][h * step] == f"layer {l}, head {h}: query {n - 1} → key 0"
        outline = np.stack([shapes.x, shapes.y], axis=1)
        covered = {(k, q) for q in range(n) for k in range(n) if inside(outline, (k + h * step, q + l * step))}
        assert covered == {(k, q) for q in range(n) for k in range(q + 1, n)}
