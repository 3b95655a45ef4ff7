"""Widgets in-process: moving a control changes the figure to the right numbers."""

import html
import math
import re

import ipywidgets as widgets
import numpy as np
import plotly.io as pio
import pytest
import torch

from conftest import sent_messages
from explainer import learning, sampling, settings as examples
from explainer.gpt import checkpoint
from explainer.errors import ExplainerError
from explainer.figures.common import Explorer
from explainer.figures.kit import unpacked
from explainer.figures.sampling import NextTokenExplorer, SoftmaxPlayground, TemperatureExplorer
from explainer.style import display_token, quoted

TOKENS = [" the", " a", " my", " thy", " his", " her", " our", " no"]
LOGITS = [2.0, 1.5, 1.2, 0.9, 0.4, 0.1, -0.5, -2.0]


@pytest.fixture
def explorer():
    return TemperatureExplorer(TOKENS, LOGITS, temperature=1.0, show=5)


def test_temperature_explorer_sends_the_whole_distribution_once_and_the_page_chooses_the_temperature(explorer):
    """The logits of every token travel once; the bars are the `show` most likely tokens (the order no temperature
    changes) and one for the others; the temperature is the page's choice (what it draws: tests/test_kit.py)."""
    state = explorer.view.get_state()
    np.testing.assert_array_equal(unpacked(state["logits"]), np.float32(LOGITS))
    order = sorted(range(len(LOGITS)), key=lambda i: -LOGITS[i])
    assert state["shown"] == order[:5] and state["labels"] == [display_token(TOKENS[i]) for i in order[:5]]
    assert state["others"] == "(other 3)" and state["temperature"] == 1.0
    assert "{entropy} bits" in state["caption"] and f"uniform over all 8 tokens would be {math.log2(8):.2f}" in state["caption"]
    explorer.view.select(temperature=0.2)
    assert explorer.temperature == 0.2
    with pytest.raises(ExplainerError, match="0 … 5"):
        explorer.view.select(temperature=7)


def test_sample_button_draws_reproducible_words_at_the_pages_temperature(explorer):
    explorer.sample_button.click()
    first = explorer.samples.value
    assert first.count("|") == explorer.num_samples - 1
    explorer.sample_button.click()
    assert explorer.samples.value == first  # same seed, same words
    explorer.view.temperature = 0.0  # as the page's slider sets it
    assert set(explorer.draw_samples()) == {TOKENS[0]}
    assert f"counts: {quoted(TOKENS[0])} ×{explorer.num_samples} (T = 0.00" in explorer.samples.value  # “␣the” ×20


def test_playground_sends_the_typed_scores_and_reports_bad_input():
    playground = SoftmaxPlayground("1, 2, 3")
    shown = lambda: unpacked(playground.view.get_state()["logits"]).tolist()
    assert shown() == [1, 2, 3] and playground.view.shown == [0, 1, 2] and playground.view.others == ""
    playground.text.value = "0, -inf, 10"
    assert shown() == [0, float("-inf"), 10] and playground.view.labels == ["0: 0", "1: -inf", "2: 10"]
    playground.text.value = "1, two"
    assert "numbers separated by commas" in playground.status.value
    playground.text.value = "-inf, -inf"
    assert "every logit in a row is -inf" in playground.status.value
    playground.text.value = "1, 2"
    assert playground.status.value == "" and shown() == [1, 2]
    assert playground.view.labels == ["0: 1", "1: 2"] and "sum of probabilities = {sum}" in playground.view.caption


def test_next_token_explorer_shows_the_models_real_distribution():
    lm = checkpoint.load()
    widget = NextTokenExplorer(lm, examples.NEXT_TOKEN_PROMPT)
    logits = lambda: unpacked(widget.explorer.view.get_state()["logits"])
    sent = logits()
    np.testing.assert_allclose(sent, lm.next_token_logits(examples.NEXT_TOKEN_PROMPT).numpy(), rtol=1e-6)
    probs = sampling.softmax(lm.next_token_logits(examples.NEXT_TOKEN_PROMPT))
    assert widget.explorer.view.shown == torch.sort(probs, descending=True).indices[:12].tolist()
    assert widget.explorer.view.others == f"(other {lm.vocab_size - 12:,})"
    widget.prompt.value = "JULIET:\nO Romeo, Romeo! wherefore art thou"
    assert not np.array_equal(logits(), sent)
    assert "␣art" in widget.tokens.value and "␣thou" in widget.tokens.value
    widget.prompt.value = ""
    assert "prompt is empty" in widget.status.value
    widget.prompt.value = "word " * 200
    assert f"only its last {lm.block_size}" in widget.status.value


@pytest.fixture(scope="module")
def shipped():
    return checkpoint.load()


def panels(view) -> list[dict]:
    """A kit Stack's panels as the page receives them (arrays as bytes: see `unpacked`)."""
    return view.get_state()["panels"]


def token_texts(panel: dict, *index: int) -> list[list[str]]:
    """A tokens panel's rows at the chosen leading indices, as the page writes them."""
    ids = unpacked(panel["ids"])[index]
    return [[panel["vocabulary"][int(i)] for i in row if i >= 0] for row in ids]


def test_stream_explorer_follows_the_chosen_token(shipped):
    from explainer import residual
    from explainer.figures.residual import StreamExplorer

    flow = residual.stream(shipped, examples.ROMEO_LINE)
    explorer = StreamExplorer(flow, position=-1)
    assert explorer.position == len(flow.tokens) - 1
    explorer.view.select(token=2)
    title, added, running = panels(explorer.view)
    position = explorer.position
    assert position == 2 and display_token(flow.tokens[2]) in title["pieces"][position]
    np.testing.assert_allclose(unpacked(running["y"])[position], flow.vectors[:, 2].norm(dim=-1).numpy(), rtol=1e-5)
    np.testing.assert_allclose(unpacked(added["values"])[position], flow.added[:, 2].norm(dim=-1).numpy(), rtol=1e-5)
    assert added["labels"] == running["x_labels"] == list(flow.stages)
    assert added["maximum"] == running["high"] >= float(flow.vectors.norm(dim=-1).max()), "one scale for both"


def test_snapshot_explorer_shows_each_steps_guesses():
    """Every step's most likely tokens and probabilities go to the page once, as bars labelled with the tokens (the first
    highlighted), with its sample and recorded losses; the training-step slider chooses among them in one small message."""
    from explainer.figures.learning import SnapshotExplorer

    predictions = learning.snapshot_predictions(None, "ROMEO:\n", top=4, new_tokens=5)
    explorer = SnapshotExplorer(predictions, "ROMEO:\n")
    assert explorer.step == predictions[-1].step and explorer.status.value == ""
    sent = sent_messages(explorer.view)
    explorer.view.select(step=1)
    assert explorer.step == predictions[1].step and len(sent) == 1 and sent[0][1] == [], "a step is a choice, no numbers"
    samples, bars = panels(explorer.view)
    heights = unpacked(bars["values"])
    for i, found in enumerate(predictions):
        np.testing.assert_allclose(heights[i], found.top_probs, rtol=1e-6)
        assert bars["labels"][4 * i:4 * (i + 1)] == [display_token(t) for t in found.top_tokens]
        assert f"<b>step {found.step}</b>" in samples["pieces"][i] and html.escape(found.loss_note) in samples["pieces"][i]
        assert html.escape(found.sample) in samples["pieces"][i]
    assert bars["highlight"] == 0 and bars["label_axes"] == 1, "each step its own tokens, the most likely highlighted"
    assert bars["maximum"] >= max(p.top_probs[0] for p in predictions), "the tallest bar fits"


def test_context_explorer_stage_and_word(shipped):
    from explainer import context
    from explainer.figures.context import ContextExplorer

    found_by_word = context.words_in_contexts(shipped, {w: examples.WORD_SENSES[w] for w in ("light", "grave")})
    explorer = ContextExplorer(found_by_word, word="light")
    n = len(found_by_word["light"].contexts)
    assert explorer.stage == len(explorer.found.stages) - 1, "it opens on the last stage"
    [words] = panels(explorer.view)
    assert words["kind"] == "switch" and len(words["groups"]) == 2
    light = unpacked(words["groups"][0][0]["values"])  # [stage, line, line]
    assert light.shape == (len(explorer.found.stages), n, n)
    assert np.allclose(light[0], 1.0, atol=1e-6), "at the token embedding every line agrees"
    explorer.view.select(stage=2, word=1)
    assert (explorer.word, explorer.stage) == ("grave", 2), "a new word is seen at the same stage"
    found = explorer.found
    grid, lines, means = words["groups"][1]
    vectors = found.vectors[2] / found.vectors[2].norm(dim=-1, keepdim=True)  # [line, C]
    np.testing.assert_allclose(unpacked(grid["values"])[explorer.stage], (vectors @ vectors.T).numpy(), atol=1e-6)
    assert grid["queries"][1] == "1: tomb" and grid["extent"] == 1.0, "colours on one scale at every stage"
    same = np.array([s == t for s in found.senses for t in found.senses]).reshape(n, n) & ~np.eye(n, dtype=bool)
    within = unpacked(grid["values"])[:, same].mean(-1)  # each stage's mean over pairs of the same sense
    np.testing.assert_allclose(unpacked(means["y"])[0], within, atol=1e-5)
    assert means["names"] == ["same sense", "different senses"] and means["marker"] == "stage"
    assert "laid him in his grave" in lines["pieces"][0] and explorer.status.value == ""
    fewer = ContextExplorer({"light": found_by_word["light"],
                             "mole": context.word_in_contexts(shipped, "mole", {"animal": ["the blind mole"], "mark": ["a dark mole"]})})
    fewer.view.select(word=1)
    grid, lines, _ = panels(fewer.view)[0]["groups"][1]
    assert unpacked(grid["values"]).shape[1:] == (2, 2) and grid["queries"] == ["0: animal", "1: mark"]
    assert "2 tokens here" in lines["pieces"][0], "a word the model splits is named as split"
    with pytest.raises(ExplainerError, match="no lines for 'bright'"):
        ContextExplorer(found_by_word, word="bright")


def test_mlp_and_neuron_explorers(shipped):
    from explainer import mlp
    from explainer.figures.mlp import STRONGEST, TOP_TOKENS, MLPExplorer, NeuronExplorer

    explorer = MLPExplorer(shipped, examples.ROMEO_LINE, layer=0)
    explorer.view.select(layer=3)
    position, tokens = explorer.position, len(shipped.encode(examples.ROMEO_LINE))
    step = mlp.mlp_pass(shipped, examples.ROMEO_LINE, 3, position)
    firing, strongest, table = panels(explorer.view)
    order = torch.argsort(step.post.abs(), descending=True)[:STRONGEST]
    np.testing.assert_allclose(unpacked(strongest["values"])[3, position], step.post[order].numpy(), atol=1e-5)
    at = 3 * tokens + position  # the choice (layer 3, this token) in the lists flattened layer by layer
    assert strongest["label_axes"] == 2 and strongest["signed"] and strongest["minimum"] <= float(step.post.min())
    assert strongest["labels"][at * STRONGEST:(at + 1) * STRONGEST] == [str(i) for i in order.tolist()], "bars named by neuron"
    assert f"MLP 3 on token {position}" in firing["pieces"][at]
    assert f"{int((step.post > 0.1).sum())} of {len(step.post)}" in firing["pieces"][at]
    assert "vector after" in table["pieces"][at] and explorer.layer == 3

    neuron = mlp.strongest_neuron(shipped, 4)
    neurons = NeuronExplorer(shipped, layer=4, neuron=neuron)
    assert neurons.in_page and (neurons.layer, neurons.neuron) == (4, neuron)
    contexts, answers, notes = panels(neurons.view)
    for layer, chosen in ((4, neuron), (1, 17)):
        fired = mlp.top_contexts(shipped, layer, chosen)
        assert token_texts(contexts, layer, chosen) == [[display_token(t) for t in f.context] for f in fired]
        np.testing.assert_allclose(unpacked(contexts["numbers"])[layer, chosen], [f.activation for f in fired], atol=1e-5)
        up, down = mlp.promoted_tokens(shipped, mlp.neuron_answer(shipped, layer, chosen), TOP_TOKENS)
        assert token_texts(answers, layer, chosen) == [[display_token(t) for t, _ in side] for side in (up, down)]
        np.testing.assert_allclose(unpacked(answers["scores"])[layer, chosen], [[v for _, v in side] for side in (up, down)],
                                   atol=1e-5)
        left_out = up.left_out + down.left_out
        assert (f"{left_out} under-trained" in notes["pieces"][layer * shipped.layout.d_mlp + chosen]) == bool(left_out)
    one = NeuronExplorer(shipped, layer=4, neuron=neuron, in_page=False)  # as for a model too big to send every answer
    layer_slider, neuron_slider = one.sliders
    neuron_slider.value, layer_slider.value = 17, 1
    contexts, answers, _ = panels(one.view)
    assert token_texts(contexts) == [[display_token(t) for t in f.context] for f in mlp.top_contexts(shipped, 1, 17)]
    assert token_texts(answers)[0] == [display_token(t) for t, _ in up] and one.status.value == ""


def test_decoded_tokens_are_quoted_with_their_numbers(shipped):
    """13's table of what the vector predicts lists the logit lens's tokens, each quoted (a bare ',' or ':' in a list
    separated by commas read as punctuation of the list) with its probability."""
    from explainer import forward, mlp
    from explainer.figures.mlp import pass_table

    step = mlp.mlp_pass(shipped, examples.ROMEO_LINE, 2, -1)
    table = pass_table(shipped, step)
    shown = table["predicts next (logit lens)"][table.index.index("vector after")]
    decoded = forward.decode(shipped, step.before + step.added, 5)
    assert shown == " · ".join(f"“{display_token(t)}” {p:.2f}" for t, p in decoded)
    assert len(shown.split(" · ")) == 5
    assert [quoted(t) for t in [",", " dear", "\n"]] == ["“,”", "“␣dear”", "“↵”"]  # the videos' lists quote them too


def test_generation_explorer_shows_each_steps_distribution_and_attention(shipped):
    from explainer.figures.attention import GenerationExplorer

    explorer = GenerationExplorer(shipped, "JULIET:\n", max_new_tokens=6, seed=0)
    steps = list(shipped.stream("JULIET:\n", 6, temperature=0.8, seed=0))  # the same draws again
    explorer.view.select(step=3, layer=2, head=2)
    assert (explorer.step, explorer.layer, explorer.head) == (4, 2, 1)
    step, candidates = steps[3], explorer.CANDIDATES
    text, distribution, attended = panels(explorer.view)
    top = torch.topk(step.probs, candidates)
    np.testing.assert_allclose(unpacked(distribution["values"])[3], top.values.numpy(), atol=1e-6)
    assert distribution["labels"][3 * candidates:4 * candidates] == [display_token(t) for t in shipped.tokens(top.indices.tolist())]
    ids = top.indices.tolist()
    assert distribution["highlights"][3] == (ids.index(step.token_id) if step.token_id in ids else -1), "the drawn token"
    assert f"drawn: <b>{html.escape(display_token(shipped.tokens([step.token_id])[0]))}</b>" in text["pieces"][3]
    weights = step.attention[2][1].numpy()  # [keys]: what the drawn token reads, itself included
    shown = unpacked(attended["values"])[3, 2, 2]
    np.testing.assert_allclose(shown[:len(weights)], weights, atol=1e-6)
    assert np.isnan(shown[len(weights):]).all(), "the keys it cannot see yet: no bar"
    np.testing.assert_allclose(unpacked(attended["values"])[3, 2, 0, :len(weights)], step.attention[2].mean(0).numpy(), atol=1e-6)
    assert len(weights) == len(shipped.encode("JULIET:\n")) + 4 and explorer.status.value == ""
    assert attended["label_axes"] == 0 and attended["labels"][len(weights) - 1].endswith(display_token(explorer.tokens[len(weights) - 1]))

    prompt = shipped.tokenizer.decode(shipped.tokenizer.encode(examples.ROMEO_TEXT * 4)[: shipped.block_size - 2])
    sliding = GenerationExplorer(shipped, prompt, max_new_tokens=6, seed=0)  # outgrows the context: a sliding window
    window = list(shipped.stream(prompt, 6, temperature=0.8, seed=0))[-1].window
    _, _, attended = panels(sliding.view)
    assert len(window) == shipped.block_size and sliding.status.value == "" and attended["label_axes"] == 1
    assert attended["labels"][5 * len(window):] == [f"{i}:{display_token(t)}" for i, t in enumerate(shipped.tokens(window))]


def test_training_explorer_shows_each_snapshots_pattern():
    from explainer import attention
    from explainer.figures.attention import TrainingExplorer

    source = checkpoint.snapshot_source(checkpoint.load())
    explorer = TrainingExplorer(source, examples.FLUFFY_PROMPT, layer=1, head=2)
    assert explorer.step == explorer.steps[-1] and (explorer.layer, explorer.head) == (1, 2)
    explorer.view.select(step=1, layer=3)
    caption, grid = panels(explorer.view)
    step = explorer.steps[1]
    expected = attention.prompt_attention(checkpoint.load(source, step=step), examples.FLUFFY_PROMPT).pattern(3, 2)
    np.testing.assert_allclose(unpacked(grid["weights"])[1, 3, 2], expected.numpy(), atol=1e-6)
    n = expected.shape[0]
    assert (unpacked(grid["masked"]) == np.triu(np.ones((n, n)), 1)).all(), "the future drawn as masked"
    heads = unpacked(grid["weights"]).shape[2]
    assert caption["pieces"][(1 * caption["counts"][1] + 3) * heads + 2].startswith(f"<b>step {step}</b>: layer 3, head 2")


def test_heads_explorer_sums_the_layers_heads(shipped):
    from explainer import heads
    from explainer.figures.heads import HeadsExplorer

    explorer = HeadsExplorer(shipped, examples.ROMEO_LINE, layer=0)
    sent = sent_messages(explorer.view)
    explorer.view.select(layer=2)
    assert sent == [({"method": "update", "state": {"choice": {"layer": 2, "token": explorer.position}}, "buffer_paths": []}, [])], \
        "a new layer is one small message, no numbers: the page has every layer"
    found = heads.layer_heads(shipped, examples.ROMEO_LINE, 2)
    position, count = explorer.position, found.patterns.shape[0]
    facts, grids, lengths = panels(explorer.view)
    total = found.deltas.sum(0) + found.bias  # [token, C]: the heads' changes and the bias, summed here
    np.testing.assert_allclose(unpacked(lengths["values"])[2, position, -1], float(total[position].norm()), rtol=1e-5)
    np.testing.assert_allclose(unpacked(lengths["values"])[2, position, :-1], found.deltas[:, position].norm(dim=-1).numpy(),
                               rtol=1e-5)
    assert lengths["highlight"] == count and lengths["labels"][-1] == "Σ heads + bias"
    # every head's grid, side by side: the layer's patterns, the future masked
    np.testing.assert_allclose(unpacked(grids["weights"])[2], found.patterns.numpy(), rtol=1e-6)
    assert grids["tiles"] == [f"head {h}" for h in range(count)]
    assert heads.overlap_verdict(found, position).plain in html.unescape(facts["pieces"][2 * facts["counts"][1] + position])


def test_descent_explorer_sends_its_surface_once_and_the_page_descends():
    """The toy's points and cost surface go to the page once; a new start (the sliders, a click on the map) is one small
    message, and the descent Python reads is gradient_descent from the page's choice."""
    from explainer.figures.learning import DescentExplorer

    explorer = DescentExplorer(steps=20)
    state = explorer.view.get_state()
    w1, w2, cost = learning.surface(explorer.model)
    np.testing.assert_allclose(unpacked(state["surface"]), cost.log10().numpy(), rtol=1e-6)
    assert state["x"] == explorer.model.x.tolist() and state["extent"] == float(w1[-1]) and state["steps"] == 20
    sent = sent_messages(explorer.view)
    explorer.view.select(start=(1.5, explorer.start[1]))
    assert len(sent) == 1 and sent[0][1] == [], "a start is a choice, no numbers"
    descent = learning.gradient_descent(explorer.model, (1.5, explorer.start[1]), explorer.view.learning_rate, 20)
    np.testing.assert_allclose(explorer.descent().path.numpy(), descent.path.numpy())
    assert explorer.status.value == ""


def test_scale_explorers_and_rope():
    from explainer import positions, scale
    from explainer.figures.positions import RopeExplorer
    from explainer.figures.scale import CostExplorer, ScalingExplorer

    cost = CostExplorer()
    panels = cost.view.get_state()["panels"]
    shown, crossovers = unpacked(panels[0]["y"]), unpacked(panels[1]["x"])  # [width, context, curve, point], [width]
    lengths = unpacked(panels[0]["x"])
    cost.view.select(width=cost.view.controls[0]["labels"].index("4,096"), context=4)  # what the page chooses
    d, longest = cost.d_model, cost.max_context
    assert (d, longest) == (4096, 4096)
    drawn = shown[cost.view.choice["width"], cost.view.choice["context"]]
    within = lengths <= longest
    assert np.isnan(drawn[:, ~within]).all() and lengths[within][-1] == longest, "each curve stops at the longest n"
    expected = scale.layer_cost(longest, d, d // 64, 64, 4 * d)
    assert drawn[:, within][:, -1].tolist() == pytest.approx(
        [expected.attention_flops, expected.mlp_flops, expected.projection_flops], rel=1e-6)
    low, high = cost.view.frame["y"]["low"], cost.view.frame["y"]["high"]  # fixed axes hold every curve
    assert low <= np.nanmin(shown) and np.nanmax(shown) <= high and cost.view.frame["y"]["log"]
    for w, label in enumerate(cost.view.controls[0]["labels"]):  # the crossover of each width, and said in its note
        d = int(label.replace(",", ""))
        crossover = scale.crossover_context(d, d // 64, 64, 4 * d)
        assert crossovers[w] == crossover and f"n = {crossover:,}" in panels[1]["notes"][w]
        assert f"d_model = {d:,}" in cost.view.frame["titles"][w]
    scaling = ScalingExplorer(d_k=16)
    assert scaling.d_k == 16
    scaling.view.select(d_k=8)
    histograms = unpacked(scaling.view.get_state()["panels"][0]["shares"])[scaling.view.choice["d_k"]]
    spread = scale.dot_product_spread(256)
    assert scaling.d_k == 256 and "d_k = 256" in scaling.view.frame["titles"][8]
    np.testing.assert_allclose(histograms[0], np.histogram(spread.raw.numpy(), np.linspace(-60, 60, 121))[0] / 2000, atol=1e-7)
    assert histograms[1].sum() == pytest.approx(1, abs=0.02)
    q, k = positions.random_query_key()
    rope = RopeExplorer(q, k)
    state = rope.view.get_state()
    assert (unpacked(state["q"]) == q.numpy()).all() and (unpacked(state["k"]) == k.numpy()).all(), "sent exactly"
    sent = sent_messages(rope.view)
    rope.view.select(shift=7)
    assert rope.shift == 7 and sent == [({"method": "update", "state": {"shift": 7}, "buffer_paths": []}, [])]
    with pytest.raises(ExplainerError, match="shift must be 0 … 1000"):
        rope.view.select(shift=1001)


def test_a_moved_control_runs_torch_on_one_thread_and_gives_the_threads_back():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        explorer, seen = Explorer(), []
        assert explorer.safely(lambda: seen.append(torch.get_num_threads()))

        def fail():
            seen.append(torch.get_num_threads())
            raise ExplainerError("bad value")

        assert not explorer.safely(fail) and "bad value" in explorer.status.value
        assert seen == [1, 1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def flat(properties: dict, prefix: str = "") -> dict:
    """{"a": {"b": 1}} as {"a.b": 1}; colours in lower case."""
    out = {}
    for key, value in properties.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = [v.lower() for v in value] if key == "colorway" else value
    return out


def test_every_figure_has_plotly_whites_look_for_what_we_draw():
    """The default template is plotly_white's, less the scenes, maps and trace types no figure of ours draws."""
    ours, white = (pio.templates[name].to_plotly_json() for name in (pio.templates.default, "plotly_white"))
    assert pio.templates.default == "explainer"
    white_layout = flat(white["layout"])
    assert {k: white_layout.get(k) for k in flat(ours["layout"])} == flat(ours["layout"])
    assert all(flat(white["data"][kind][0]).items() >= flat(traces[0]).items() for kind, traces in ours["data"].items())


def test_a_slider_snapping_its_value_to_its_grid_redraws_nothing():
    """The page sends back 1.0000000000000002 for a temperature of 1.0 as it draws the slider: not a move."""
    explorer, calls = Explorer(), []
    slider = widgets.FloatSlider(value=1.0, min=0.05, max=5.0, step=0.05, description="temperature")
    explorer.watch([slider], lambda: calls.append(slider.value))
    slider.value = 1.0000000000000002  # what the page sent back for 1.0 (JupyterLab, 08's temperature)
    assert slider.value != 1.0 and calls == []
    slider.value = 1.05
    assert calls == [1.05]


def test_machine_explorer_highlights_the_stage_and_shows_its_numbers(shipped):
    from explainer import forward
    from explainer.figures.forward import STAGES, MachineExplorer
    from explainer.style import HIGHLIGHT_COLOR

    prompt = "ROMEO:\nBut soft, what light"
    explorer = MachineExplorer(shipped, prompt, stage="embeddings")
    machine = forward.whole_machine(shipped, prompt)
    blocks = machine.after_mlp.shape[0]

    def shown() -> tuple[str, str]:  # the diagram and the numbers the page shows for its choice
        diagram, numbers = (panel["pieces"][explorer.view.choice["stage"] * blocks + explorer.view.choice["block"]]
                            for panel in panels(explorer.view))
        return diagram, numbers

    highlighted = lambda diagram: re.findall(rf"background:{HIGHLIGHT_COLOR};[^>]*><b>([^<]*)</b>", diagram)
    diagram, numbers = shown()
    assert highlighted(diagram) == ["embeddings"] and explorer.stage == "embeddings"
    n = len(machine.tokens)
    assert f"[n = {n}, C = 160]" in diagram and "[V = 8,192]" in diagram and f"× {blocks}" in diagram
    assert f"{float(machine.embeddings[-1, 0]):+.3f}" in numbers and explorer.status.value == ""
    sent = sent_messages(explorer.view)
    explorer.view.select(stage=STAGES.index("MLP"), block=3)  # as the page's controls choose
    assert [list(data["state"]) for data, _ in sent] == [["choice"]]  # the choice only: the numbers went once
    diagram, numbers = shown()
    assert highlighted(diagram) == ["MLP, block 3"] and (explorer.stage, explorer.layer) == ("MLP", 3)
    assert f"{float(machine.after_mlp[3, -1, 0]):+.3f}" in numbers and "block 3" in numbers
    explorer.view.select(stage=STAGES.index("probabilities"))
    best = int(machine.probs.argmax())
    assert f"{float(machine.probs[best]):.1%}" in shown()[1]
    assert html.escape(display_token(shipped.tokens([best])[0])) in shown()[1]
