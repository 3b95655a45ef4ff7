"""The newer chapters' maths against independent computations: head scores, the residual stream and LayerNorm,
context, the MLP and its neurons, many heads and the value map, and gradient descent."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explainer import context, heads, learning, mlp, probes, residual, scale, settings, vocabulary
from explainer.files import shipped_measurement
from explainer.gpt import checkpoint, data


@pytest.fixture(scope="module")
def lm():
    return checkpoint.load()


def test_head_scores_equal_a_hand_loop_over_run_with_cache(lm):
    text = ("He spoke to the noble lord and the poor man, and noble and poor stood by the lord and said lord. " * 30)
    pairs = heads.classify_pairs(text, {"noble", "poor"}, {"lord", "man"})
    assert {k: {(p.first, p.second) for p in v} for k, v in pairs.items()} == {
        heads.MODIFIER: {("noble", "lord"), ("poor", "man")}, heads.AFTER_ADJECTIVE: {("noble", "and"), ("poor", "stood")},
        heads.BEFORE_NOUN: {("said", "lord")}, heads.DETERMINER: {("the", "lord"), ("the", "poor")} - {("the", "poor")}}
    scores = heads.score_heads(lm, text, pairs, seed=3, cap=6)
    for kind, found in pairs.items():
        windows = heads.pair_windows(lm, text, found, cap=6, seed=3)
        assert scores.pairs[kind] == len(windows) > 0
        expected = torch.zeros_like(scores.weights[kind])
        for window in windows:
            assert len(window) == heads.measure_window(lm)
            _, cache = lm.model.run_with_cache(torch.tensor([window]))
            for layer in range(lm.model.config.n_layer):
                expected[layer] += cache[f"blocks.{layer}.attn.hook_pattern"][0, :, -1, -2]
        torch.testing.assert_close(scores.weights[kind], expected / len(windows), atol=1e-5, rtol=0)
    assert scores.uniform == pytest.approx(1 / heads.measure_window(lm))
    torch.testing.assert_close(scores.selectivity, scores.weights[heads.MODIFIER] - torch.maximum(
        scores.weights[heads.AFTER_ADJECTIVE], scores.weights[heads.BEFORE_NOUN]))


def test_the_shipped_running_example_is_what_measurement_gives(lm):
    shipped = heads.running_example(lm)
    measured = heads.find_running_example(lm)
    assert (shipped.prompt, shipped.layer, shipped.head, shipped.noun_position, shipped.lines) == \
        (measured.prompt, measured.layer, measured.head, measured.noun_position, measured.lines)
    for kind in heads.KINDS:
        torch.testing.assert_close(shipped.scores.weights[kind], measured.scores.weights[kind], atol=1e-4, rtol=0)
    assert heads.whole_word_tokens(lm, shipped.prompt) and shipped.adjective_position >= 1
    assert (shipped.layer, shipped.head) == shipped.scores.best()


def test_the_residual_stream_adds_up_to_the_cache(lm):
    flow = residual.stream(lm, settings.ROMEO_LINE)
    _, _, cache = lm.run_with_cache(settings.ROMEO_LINE)
    L = lm.model.config.n_layer
    assert len(flow.stages) == 1 + 2 * L
    torch.testing.assert_close(flow.vectors[-1], cache[f"blocks.{L - 1}.hook_resid_post"][0], atol=1e-4, rtol=0)
    torch.testing.assert_close(flow.vectors[2], cache["blocks.1.hook_resid_pre"][0], atol=1e-5, rtol=0)
    torch.testing.assert_close(flow.norms(-1), flow.vectors[:, -1].norm(dim=-1))


def test_layer_norm_by_hand_equals_the_module(lm):
    x = residual.stream(lm, settings.ROMEO_LINE).vectors[3, -1]
    steps = residual.layer_norm_steps(lm, x, 1, "ln_2")
    assert float(steps.normalised.mean()) == pytest.approx(0, abs=1e-9)
    assert float(steps.normalised.std(unbiased=False)) == pytest.approx(1, abs=1e-3)
    expected = F.layer_norm(x.double(), (x.shape[0],), lm.model.transformer.h[1].ln_2.weight.double(),
                            lm.model.transformer.h[1].ln_2.bias.double())
    torch.testing.assert_close(steps.output, expected.detach(), atol=1e-6, rtol=0)
    assert residual.layer_norm_check(lm, x, 1, "ln_2") < 1e-5


def test_context_cosines_equal_a_hand_loop(lm):
    senses = settings.WORD_SENSES["light"]
    lines = [line for found in senses.values() for line in found]
    found = context.word_in_contexts(lm, "light", senses)
    assert found.senses == [s for s, found in senses.items() for _ in found]
    assert torch.allclose(found.similarity(0), torch.ones(len(lines), len(lines)), atol=1e-6), "one token, one embedding"
    L = lm.model.config.n_layer
    vectors = []
    for line, position in zip(lines, found.positions):
        assert lm.tokens(lm.encode(line))[position].strip() == "light" and position == len(lm.encode(line)) - 1
        _, _, cache = lm.run_with_cache(line)
        vectors.append(cache[f"blocks.{L - 1}.hook_resid_post"][0, position])
    vectors = torch.stack(vectors)
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    torch.testing.assert_close(found.similarity(-1), unit @ unit.T, atol=1e-5, rtol=0)
    same = torch.tensor([[a == b for b in found.senses] for a in found.senses]) & ~torch.eye(len(lines), dtype=torch.bool)
    assert float(found.mean_similarity(True)[-1]) == pytest.approx(float((unit @ unit.T)[same].mean()), abs=1e-5)


def test_every_word_ends_its_lines_so_a_causal_model_has_read_the_deciding_words(lm):
    for word, senses in settings.WORD_SENSES.items():
        assert len(senses) == 2 and all(len(lines) == 4 for lines in senses.values())
        for line in (l for lines in senses.values() for l in lines):
            assert line.endswith(word), line


def test_an_mlp_pass_equals_the_weights_applied_by_hand(lm):
    step = mlp.mlp_pass(lm, settings.ROMEO_LINE, 2, 4)
    block = lm.model.transformer.h[2]
    with torch.no_grad():
        read = block.ln_2(step.before)
        pre = read @ block.mlp.c_fc.weight.T + block.mlp.c_fc.bias
        post = F.gelu(pre)
        added = post @ block.mlp.c_proj.weight.T + block.mlp.c_proj.bias
    torch.testing.assert_close(step.pre, pre, atol=1e-5, rtol=0)
    torch.testing.assert_close(step.post, post, atol=1e-5, rtol=0)
    torch.testing.assert_close(step.added, added, atol=1e-5, rtol=0)
    neuron = int(step.post.argmax())
    asked = read @ mlp.neuron_question(lm, 2, neuron) + block.mlp.c_fc.bias.detach()[neuron]
    assert float(asked) == pytest.approx(float(pre[neuron]), abs=1e-5)
    up, down = mlp.promoted_tokens(lm, mlp.neuron_answer(lm, 2, neuron), 3)
    logits = lm.model.lm_head.weight.detach() @ block.mlp.c_proj.weight.detach()[:, neuron]
    logits[vocabulary.undertrained(lm).ids] = float("-inf")  # left out of lists that claim meaning
    assert [v for _, v in up] == pytest.approx(torch.topk(logits, 3).values.tolist(), abs=1e-5)


def test_the_neuron_scan_finds_each_neurons_strongest_activations(lm):
    ids = lm.tokenizer.encode(settings.ROMEO_TEXT * 8)[: 2 * lm.block_size]
    values, index = mlp.scan_neurons(lm, ids, top=3, window=lm.block_size)
    _, cache = lm.model.run_with_cache(torch.tensor(ids).view(2, lm.block_size))
    post = cache["blocks.1.mlp.hook_post"].flatten(0, 1)  # [tokens, 4C]
    best = torch.topk(post, 3, dim=0)
    torch.testing.assert_close(values[1], best.values.T, atol=1e-5, rtol=0)
    assert torch.equal(post[index[1, :, 0], torch.arange(post.shape[1])], values[1, :, 0])


def test_the_shipped_neuron_contexts_are_the_validation_text_where_each_neuron_fires(lm):
    scan, ids, T = mlp.neuron_scan(lm), mlp.validation_ids(lm), lm.block_size
    for layer, neuron in [(0, 0), (2, 77), (4, mlp.strongest_neuron(lm, 4))]:
        for k, i in enumerate(scan.token_index[layer, neuron].tolist()):
            assert scan.contexts[layer][neuron][k] == ids[max(0, i - mlp.CONTEXT_BEFORE):i + 1]
            window = torch.tensor(ids[i // T * T:(i // T + 1) * T])[None]  # the scan reads whole windows
            _, cache = lm.model.run_with_cache(window)
            fired = cache[f"blocks.{layer}.mlp.hook_post"][0, i % T, neuron]
            assert float(fired) == pytest.approx(float(scan.activations[layer, neuron, k]), abs=1e-3)
    firings = mlp.top_contexts(lm, 2, 77, before=3)
    assert [f.context for f in firings] == [lm.tokens(c[-4:]) for c in scan.contexts[2][77]]


def test_set_phrases_need_the_word_two_back():
    text = "flesh and blood. " * 12 + "bread and butter. " * 12 + "salt and pepper and bread. " * 40
    found = {(p.first, p.second, p.answer) for p in mlp.find_set_phrases(text)}
    assert ("flesh", "and", "blood") in found, "'and' alone is followed by blood only 12 times in 104"
    assert not any(p[1] == "." for p in found) and ("and", "pepper", "and") not in found, "'pepper' alone decides 'and'"
    shipped = mlp.set_phrases()
    assert len(shipped) >= 20 and all(p.share >= mlp.PHRASE_MIN_SHARE and p.bigram_share <= mlp.BIGRAM_MAX_SHARE for p in shipped)


def test_mean_ablation_puts_the_average_in_place_of_a_parts_output(lm):
    tokens = torch.tensor([lm.encode(settings.ROMEO_LINE)])
    mean = torch.linspace(-1, 1, lm.model.config.n_embd)
    with mlp.mean_ablated(lm, "mlp", 0, mean):
        _, cache = lm.model.run_with_cache(tokens)
    torch.testing.assert_close(cache["blocks.0.hook_mlp_out"][0], mean.expand(tokens.shape[1], -1))
    torch.testing.assert_close(cache["blocks.0.hook_resid_post"], cache["blocks.0.hook_resid_mid"] + mean)
    with mlp.mean_ablated(lm, "attn", 1, mean):
        _, cache = lm.model.run_with_cache(tokens)
    torch.testing.assert_close(cache["blocks.1.hook_attn_out"][0], mean.expand(tokens.shape[1], -1))
    _, after = lm.model.run_with_cache(tokens)
    assert not torch.allclose(after["blocks.1.hook_attn_out"][0], mean.expand(tokens.shape[1], -1)), "the hook is gone"


def test_the_shipped_lookups_are_what_measurement_gives(lm):
    shipped, measured = mlp.lookups(lm), mlp.measure_lookups(lm)
    assert shipped.occurrences == measured.occurrences >= 20 and shipped.phrases == measured.phrases
    for part in ("mlp", "attn"):
        assert shipped.lookup_change[part] == pytest.approx(measured.lookup_change[part], abs=1e-4)
        assert shipped.ordinary_change[part] == pytest.approx(measured.ordinary_change[part], abs=1e-4)


def test_the_shipped_probes_interaction_and_position_profiles_are_what_measurement_gives(lm):
    """Notebooks 11, 13 and 15 read these files for the shipped model (seconds each to measure while a notebook runs);
    measured again here, on a machine whose thread count may differ (so balanced accuracies within a few tokens)."""
    for path, remake in ((probes.PROBES_FILE, probes.PROBES_REMAKE), (mlp.INTERACTION_FILE, mlp.INTERACTION_REMAKE),
                         (heads.PROFILES_FILE, heads.PROFILES_REMAKE)):
        assert shipped_measurement(path, remake, lm.digest), f"{path.name} is not the shipped model's: run `{remake}`"
    for shipped, measured in zip(probes.probe_all(lm), probes.measure_probes(lm)):
        assert (shipped.feature, shipped.stages, shipped.tokens) == (measured.feature, measured.stages, measured.tokens)
        assert shipped.accuracy == pytest.approx(measured.accuracy, abs=2e-3)
        assert shipped.shuffled == pytest.approx(measured.shuffled, abs=2e-3)
        assert (F.cosine_similarity(shipped.directions, measured.directions) > 0.999).all()
    shipped, measured = mlp.nonlinear_neuron(lm), mlp.measure_nonlinear_neuron(lm)
    assert (shipped.layer, shipped.neuron, shipped.tokens) == (measured.layer, measured.neuron, measured.tokens)
    torch.testing.assert_close(shipped.means, measured.means, atol=1e-4, rtol=0)
    assert torch.equal(shipped.counts, measured.counts)
    assert (shipped.share, shipped.shuffled) == pytest.approx((measured.share, measured.shuffled), abs=1e-4)
    layers = range(lm.model.config.n_layer)
    for layer, measured in zip(layers, heads.measure_position_profiles(lm, layers)):
        shipped = heads.position_profile(lm, layer)
        assert (shipped.columns, shipped.windows) == (measured.columns, measured.windows)
        for name in ("profile", "halves", "uniform"):
            torch.testing.assert_close(getattr(shipped, name), getattr(measured, name), atol=1e-5, rtol=0)


def test_many_heads_add_up_and_value_maps_have_low_rank(lm):
    found = heads.layer_heads(lm, settings.ROMEO_LINE, 2)
    assert heads.sum_check(lm, settings.ROMEO_LINE, 2) < 1e-4
    overlap = found.pattern_overlap()
    torch.testing.assert_close(overlap.diagonal(), torch.ones(overlap.shape[0]), atol=1e-5, rtol=0)
    c = lm.model.config
    value = heads.value_map(lm, 2, 0)
    assert value.rank == c.head_size and value.low_rank_weights == 2 * c.n_embd * c.head_size
    assert value.full_weights == c.n_embd**2
    gpt3 = scale.GPT3
    assert gpt3.d_model * gpt3.d_head == 1_572_864 and gpt3.n_layers * gpt3.n_heads == 9_216  # the talk's checks


def test_gradient_descent_follows_autograds_gradient():
    toy = learning.toy()
    start = (0.3, 0.8)
    descent = learning.gradient_descent(toy, start, learning_rate=0.05, steps=1)
    w = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    cost = toy.cost(w[0], w[1])
    (gradient,) = torch.autograd.grad(cost, w)
    np.testing.assert_allclose(descent.path[1].numpy(), np.array(start) - 0.05 * gradient.numpy(), atol=1e-12)
    np.testing.assert_allclose(float(descent.costs[0]), float(cost.detach()), rtol=1e-12)
    assert float(toy.cost(torch.tensor(learning.TRUE_WEIGHTS[0]), torch.tensor(learning.TRUE_WEIGHTS[1]))) < 0.05
    low, high = learning.gradient_descent(toy, (0.5, 0.5), 0.2, 300), learning.gradient_descent(toy, (-0.5, -0.5), 0.2, 300)
    assert float(low.path[-1][0]) * float(high.path[-1][0]) < 0, "the two starts fall into the two mirror-image valleys"
    with pytest.raises(Exception, match="learning rate must be a positive number"):
        learning.gradient_descent(toy, start, learning_rate=-1)


def test_snapshot_predictions_come_from_each_snapshot(lm):
    found = learning.snapshot_predictions(None, "ROMEO:\n", top=3, new_tokens=5)
    steps = checkpoint.snapshot_steps(checkpoint.SHIPPED_CHECKPOINT)
    assert [f.step for f in found] == steps
    first = checkpoint.load(step=0)
    probs = torch.softmax(first.next_token_logits("ROMEO:\n"), -1)
    assert found[0].top_probs == pytest.approx(torch.topk(probs, 3).values.tolist(), abs=1e-6)
    assert found[0].top_probs[0] < 0.01 < found[-1].top_probs[0], "random weights guess evenly; trained ones do not"
    record = checkpoint.read_config(checkpoint.SHIPPED_CHECKPOINT)
    at = record["history"]["step"].index(steps[-1])
    assert f"evaluated on {record['training']['eval_iters']} batches: {record['history']['train_loss'][at]:.2f} on " \
           f"training text, {record['history']['val_loss'][at]:.2f} on validation text" in found[-1].loss_note
    batch = record["train_curve"]["step"].index(max(s for s in record["train_curve"]["step"] if s <= steps[-1]))
    assert f"{record['train_curve']['loss'][batch]:.2f}" in found[-1].loss_note.split("training batch of step")[1]
    assert "evaluated" not in found[1].loss_note, "a step with no evaluation shows only its batch, named as one"


def test_the_curves_last_point_and_the_whole_text_are_explained_both_ways():
    gap = learning.EvaluationGap(8000, 4.215, 20, 768, 4.168, 143_368, batch_spread=0.17, spread_batches=50,
                                 spread_from=7500)
    assert gap.standard_error == pytest.approx(0.17 / math.sqrt(20))
    assert "differ by 0.047, within two such uncertainties (0.076)" in learning.evaluation_gap_text(gap)
    far = learning.EvaluationGap(8000, 4.315, 20, 768, 4.168, 143_368, 0.17, 50, 7500)
    assert "more than two such uncertainties" in learning.evaluation_gap_text(far)
    record = checkpoint.read_config(checkpoint.SHIPPED_CHECKPOINT)
    shipped = learning.evaluation_gap(record)
    assert (shipped.curve_loss, shipped.whole_loss) == (record["history"]["val_loss"][-1], record["evaluation"]["val_loss"])
    assert shipped.batch_spread == pytest.approx(float(np.std(record["train_curve"]["loss"][-50:], ddof=1)))
    assert learning.evaluation_gap({"history": {"val_loss": []}}) is None
