"""Widgets in-process: moving a control changes the figure to the right numbers."""

import math

import pytest
import torch

from explainer import sampling, settings as examples
from explainer.gpt import checkpoint
from explainer.figures.sampling import NextTokenExplorer, SoftmaxPlayground, TemperatureExplorer

TOKENS = [" the", " a", " my", " thy", " his", " her", " our", " no"]
LOGITS = [2.0, 1.5, 1.2, 0.9, 0.4, 0.1, -0.5, -2.0]


@pytest.fixture
def explorer():
    return TemperatureExplorer(TOKENS, LOGITS, temperature=1.0, show=5)


def test_temperature_slider_reshapes_the_bars(explorer):
    before = list(explorer.figure.data[0].y)
    explorer.slider.value = 0.2
    after = list(explorer.figure.data[0].y)
    assert after != before
    expected = sampling.softmax(LOGITS, 0.2)
    assert after[:5] == pytest.approx(expected[:5].tolist())
    assert after[5] == pytest.approx(float(expected[5:].sum()))  # the "other" bar
    assert max(after) > max(before) and math.isclose(sum(after), 1.0, rel_tol=1e-9)
    assert list(explorer.figure.data[0].x)[-1] == "(other 3)"
    assert "T = 0.20" in explorer.figure.layout.title.text and "entropy" in explorer.summary.value


def test_sample_button_draws_reproducible_words(explorer):
    explorer.sample_button.click()
    first = explorer.samples.value
    assert first.count("|") == explorer.num_samples - 1
    explorer.sample_button.click()
    assert explorer.samples.value == first  # same seed, same words
    explorer.slider.value = 0.0
    assert set(explorer.draw_samples()) == {TOKENS[0]}


def test_playground_updates_and_reports_bad_input():
    playground = SoftmaxPlayground("1, 2, 3")
    assert list(playground.figure.data[0].y) == pytest.approx(sampling.softmax([1, 2, 3]).tolist())
    playground.text.value = "0, -inf, 10"
    assert list(playground.figure.data[0].y)[1] == 0.0
    playground.text.value = "1, two"
    assert "numbers separated by commas" in playground.status.value
    playground.text.value = "-inf, -inf"
    assert "every logit in a row is -inf" in playground.status.value
    playground.text.value = "1, 2"
    assert playground.status.value == ""


def test_next_token_explorer_shows_the_models_real_distribution():
    lm = checkpoint.load()
    widget = NextTokenExplorer(lm, examples.NEXT_TOKEN_PROMPT)
    probs = sampling.softmax(lm.next_token_logits(examples.NEXT_TOKEN_PROMPT))
    heights = list(widget.explorer.figure.data[0].y)
    assert heights[:12] == pytest.approx(torch.sort(probs, descending=True).values[:12].tolist(), abs=1e-6)
    widget.prompt.value = "JULIET:\nO Romeo, Romeo! wherefore art thou"
    assert list(widget.explorer.figure.data[0].y) != heights
    assert "␣art" in widget.tokens.value and "␣thou" in widget.tokens.value
    widget.prompt.value = ""
    assert "prompt is empty" in widget.status.value
    widget.prompt.value = "word " * 200
    assert f"only its last {lm.block_size}" in widget.status.value


@pytest.mark.slow
def test_chapter_player_renders_in_the_background_and_shows_the_video_beside_the_notebook(tmp_path):
    from explainer.chapters import ChapterPlayer
    from explainer.figures.attention import StepByStepExplorer

    player = ChapterPlayer("scale_and_cost", folder=tmp_path, cache_dir=tmp_path / "cache", fast=True)
    assert "Not rendered" in player.video.value
    player.button.click()
    player.rendering.join(timeout=600)
    assert "<video" in player.video.value and player.status.value == ""
    name = player.video.value.split("src='videos/")[1].split("'")[0]
    assert (tmp_path / "videos" / name).stat().st_size > 10_000
    assert "rendered in" in player.note.value
    again = ChapterPlayer("scale_and_cost", folder=tmp_path, cache_dir=tmp_path / "cache", fast=True)
    assert name in again.video.value, "a second player finds the cached render at once"

    lm = checkpoint.load()
    explorer = StepByStepExplorer(lm, examples.NEXT_TOKEN_PROMPT, layer=1, head=2)
    follower = ChapterPlayer("one_head", follow=explorer, folder=tmp_path, cache_dir=tmp_path / "cache")
    assert follower.current() == {}, "unchanged settings render the chapter's own"
    explorer.head.value = 3
    assert follower.current() == {"head": 3}
