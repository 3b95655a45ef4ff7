"""The talk's frame (#35) against independent computations: the whole machine's stages and the unembedding, every
position at once, the dialogue's probabilities and its chat loop, the QK circuit (learned positions and RoPE), the
probes' labels and fits, the scaling fit and its command, and an image cut into patches."""

import math

import pytest
import torch
import torch.nn.functional as F

from explainer import attention, forward, patches, probes, sampling, scaling_laws, settings
from explainer.gpt import checkpoint
from models import save_hf, sentencepiece_tokenizer

PROMPT = "ROMEO:\nBut soft, what light through yonder window"


@pytest.fixture(scope="module")
def lm():
    return checkpoint.load()


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    pytest.importorskip("transformers")
    return checkpoint.load(save_hf(tmp_path_factory.mktemp("llama") / "llama", "llama", sentencepiece_tokenizer()))


def test_the_machine_holds_each_stage_of_the_models_own_forward_pass(lm):
    found = forward.whole_machine(lm, PROMPT)
    ids = torch.tensor([lm.encode(PROMPT)])
    model = lm.model
    with torch.no_grad():
        x = model.transformer.wte(ids) + model.transformer.wpe(torch.arange(ids.shape[1]))
        torch.testing.assert_close(found.embeddings, x[0])
        for layer, block in enumerate(model.transformer.h):
            x = x + block.attn(block.ln_1(x))[0]
            torch.testing.assert_close(found.after_attention[layer], x[0], atol=1e-5, rtol=0)
            x = x + block.mlp(block.ln_2(x))
            torch.testing.assert_close(found.after_mlp[layer], x[0], atol=1e-5, rtol=0)
        last = model.transformer.ln_f(x)[0, -1]
    torch.testing.assert_close(found.last, last, atol=1e-5, rtol=0)
    torch.testing.assert_close(found.probs, torch.softmax(lm.next_token_logits(PROMPT), -1), atol=1e-6, rtol=0)
    assert found.W_E == (8192, 160) and found.W_U == (160, 8192) and found.learned_positions


def test_the_unembedding_is_one_dot_product_per_token(lm):
    found = forward.unembedding(lm, PROMPT, top=5)
    logits = lm.next_token_logits(PROMPT)
    best = torch.topk(logits, 5)
    assert found.tokens == lm.tokens(best.indices.tolist())
    assert found.scores == pytest.approx(best.values.tolist(), abs=1e-4)
    assert found.probs == pytest.approx(torch.softmax(logits, -1)[best.indices].tolist(), abs=1e-6)
    torch.testing.assert_close(found.columns, lm.model.lm_head.weight.detach()[best.indices])
    assert found.largest_difference < 1e-4


def test_every_position_at_once_gives_the_same_numbers_as_one_at_a_time(lm, llama):
    for model in (lm, llama):
        positions = forward.time_positions(model, PROMPT, repeats=1)
        assert positions.pieces == len(model.encode(PROMPT)) and positions.largest_difference < 1e-4
        assert positions.together_ms > 0 and positions.one_by_one_ms > 0
        matmul = forward.time_matmul(model, PROMPT, repeats=1)
        assert matmul.pieces == positions.pieces and matmul.largest_difference < 1e-4


def test_a_continuations_probability_is_the_product_of_its_tokens_probabilities(lm):
    text, continuation = "PORTIA:\nWhat news?\n\n", "NERISSA:\n"
    ids, wanted = lm.encode(text), lm.tokenizer.encode(continuation)
    expected = 1.0
    for i, token in enumerate(wanted):
        expected *= float(torch.softmax(lm.logits_after(ids + wanted[:i]), -1)[token])
    assert sampling.continuation_probability(lm, text, continuation) == pytest.approx(expected, rel=1e-4)
    long = "word " * 200  # cut from the left to fit, without a warning
    assert 0 < sampling.continuation_probability(lm, long, continuation) < 1


def test_the_next_speaker_is_measured_on_the_script_and_on_the_control(lm):
    d = settings.DIALOGUE
    found = sampling.next_speaker(lm, d.user, d.assistant, d.stranger, d.exchanges)
    script = sampling.script_text(d.user, d.assistant, d.exchanges)
    assert script.startswith(f"{d.user}:\n{d.exchanges[0][0]}\n\n{d.assistant}:\n") and script.endswith("\n\n")
    assert found.script[0] == pytest.approx(sampling.continuation_probability(lm, script, f"{d.user}:\n"))
    control = sampling.script_text(d.stranger, d.assistant, d.exchanges)
    assert found.control[1] == pytest.approx(sampling.continuation_probability(lm, control, f"{d.stranger}:\n"))


def test_a_chat_turn_stops_where_the_model_begins_the_next_speaker(lm):
    d = settings.DIALOGUE
    turn = sampling.chat_turn(lm, d.user, d.assistant, d.exchanges, d.question, seed=0)
    written = lm.generate(turn.prompt, 40, temperature=0.8, seed=0)
    assert turn.prompt.endswith(f"{d.user}:\n{d.question}\n\n{d.assistant}:\n")
    assert written.startswith(turn.reply)
    if turn.next_name is not None:
        assert written[len(turn.reply):].startswith(f"\n\n{turn.next_name}:\n")
    assert "\n\n" + (turn.next_name or "") + ":" not in turn.reply


def test_the_qk_circuit_gives_the_heads_scores(lm, llama):
    found = attention.qk_circuit(lm, PROMPT, 1, 0)
    steps = attention.attention_steps(lm, PROMPT, 1, 0)
    w = attention.head_weights(lm, 1, 0)
    q, k = steps.x @ w.W_Q + w.b_Q, steps.x @ w.W_K + w.b_K  # independently: queries and keys, then their products
    torch.testing.assert_close(found.bilinear, q @ k.T, atol=1e-4, rtol=1e-5)
    assert found.rank == 32 == found.d_k and not found.rotary and found.largest_difference < 1e-4
    turned = attention.qk_circuit(llama, PROMPT, 1, 2)
    assert turned.rotary and turned.rank <= turned.d_k and turned.largest_difference < 1e-4
    assert turned.elsewhere_difference > 100 * turned.largest_difference, "off the diagonal the rotation is missing"


def test_lookup_weights_sharpen_into_the_best_key():
    from explainer import designed

    head = designed.designed_head()
    creature = head.words.index("creature")
    found = attention.lookup_weights(head.steps, creature, (1.0, 0.0))
    torch.testing.assert_close(found[1.0], head.steps.pattern[creature])
    assert int(found[0.0].argmax()) == int(head.steps.scaled[creature, :creature + 1].argmax()) and float(found[0.0].max()) == 1.0
    assert float(found[0.0][creature + 1:].sum()) == 0.0, "no weight on a later word"


def test_features_are_labelled_from_the_plays_format():
    text = "ROMEO:\nBut soft, what light\nThrough yonder window:\n\nJULIET:\nAy me!\n\nFirst Lord:\nPeace.\n"
    found = probes.character_labels(text)
    marked = lambda feature: "".join(c if on else "~" for c, on in zip(text, found[feature]))
    assert marked(probes.NAME).replace("~", " ").split() == ["ROMEO", "JULIET", "First", "Lord"], "a verse line is no name"
    assert marked(probes.NAME).index("JULIET") == text.index("JULIET")
    assert marked(probes.FIRST_LINE).replace("~", "") == "But soft, what lightAy me!Peace."
    assert marked(probes.LINE_START).replace("~", "") == "RBTJAFP"
    tokens = ["ROM", "EO", ":", "\n", "But", " soft"]
    labels, visible = probes.token_labels(tokens)
    assert labels[probes.NAME].tolist() == [True, True, False, False, False, False]
    assert labels[probes.FIRST_LINE].tolist() == [False, False, False, False, True, True]
    assert visible.tolist() == [True, True, True, False, True, True]


def test_a_probe_separates_what_a_direction_separates():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(600, 16, generator=generator)
    direction = F.normalize(torch.randn(16, generator=generator), dim=0)
    y = x @ direction > 0.8  # a rare feature, read along one direction
    probe = probes.fit_probe(x[:400], y[:400], steps=100)
    assert probes.balanced_accuracy(probe.scores(x[400:]), y[400:]) > 0.9
    assert float(probe.direction @ direction) > 0.9
    assert probes.balanced_accuracy(torch.ones(10), torch.tensor([True] * 5 + [False] * 5)) == 0.5
    with pytest.raises(probes.ExplainerError):
        probes.fit_probe(x, torch.zeros(600, dtype=torch.bool))


def test_the_power_law_fit_recovers_its_exponent_and_refuses_bad_input():
    sizes = [1e3, 1e4, 1e5, 1e6]
    law = scaling_laws.fit_power_law(sizes, [(8.8e13 / n) ** 0.076 for n in sizes])
    assert law.exponent == pytest.approx(0.076, rel=1e-6) and law.constant == pytest.approx(8.8e13, rel=1e-4)
    with pytest.raises(scaling_laws.ExplainerError):
        scaling_laws.fit_power_law([1e3], [2.0])
    with pytest.raises(scaling_laws.ExplainerError):
        scaling_laws.fit_power_law([1e3, 0], [2.0, 1.0])


def test_the_shipped_scaling_file_holds_its_fit_and_the_command_that_made_it():
    from explainer.files import read_json

    shipped = read_json(scaling_laws.SCALING_FILE, scaling_laws.REMAKE)
    assert shipped["made_by"] == "explainer precompute scaling"
    found = scaling_laws.shipped_scaling()
    refit = scaling_laws.fit_power_law([r.non_embedding for r in found.runs], [r.val_loss for r in found.runs])
    assert refit.exponent == pytest.approx(found.law.exponent)
    assert [(r.n_layer, r.n_head, r.n_embd) for r in found.runs] == list(scaling_laws.SIZES)
    assert found.steps == scaling_laws.STEPS and found.tokens == found.steps * 12 * 64


def test_training_a_size_counts_its_weights_and_scores_it(tmp_path):
    corpus = tmp_path / "plays.txt"
    from explainer.gpt import data

    corpus.write_text(data.shakespeare_text()[:60_000])
    (run,) = scaling_laws.train_sizes([(1, 1, 16)], steps=3, corpus=str(corpus), progress=False)
    from explainer.gpt.model import GPTConfig

    config = GPTConfig(vocab_size=len(set(corpus.read_text())), block_size=64, n_layer=1, n_head=1, n_embd=16)
    assert run.parameters == config.parameter_count()
    assert run.non_embedding == run.parameters - (config.vocab_size + 64) * 16
    assert 0 < run.val_loss < math.log(config.vocab_size) + 1


def test_an_image_cut_into_patches_goes_back_together():
    found = patches.image_tokens(24, patch=8)
    count = (patches.IMAGE_SIZE // 8) ** 2
    assert found.pixels.shape == (count, 8 * 8 * 3) and found.vectors.shape == (count, 24)
    back = found.pixels.reshape(4, 4, 8, 8, 3).permute(0, 2, 1, 3, 4).reshape(32, 32, 3)
    torch.testing.assert_close(back, found.image)
    torch.testing.assert_close(found.pixels[5].reshape(8, 8, 3), found.image[8:16, 8:16])  # row 1, column 1
    torch.testing.assert_close(found.vectors, found.pixels @ found.projection)
    with pytest.raises(patches.ExplainerError):
        patches.cut_into_patches(found.image, 5)
