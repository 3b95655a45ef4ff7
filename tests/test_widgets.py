"""Widgets in-process: moving a control changes the figure to the right numbers."""

import math

import pytest

from explainer import examples, sampling
from explainer.widgets import SoftmaxPlayground, TemperatureExplorer


@pytest.fixture
def explorer():
    return TemperatureExplorer(examples.CLEVEREST_TOKENS, examples.CLEVEREST_LOGITS, temperature=1.0)


def test_temperature_slider_reshapes_the_bars(explorer):
    before = list(explorer.figure.data[0].y)
    explorer.slider.value = 0.2
    after = list(explorer.figure.data[0].y)
    assert after != before
    assert after == pytest.approx(sampling.softmax(examples.CLEVEREST_LOGITS, 0.2).tolist())
    assert max(after) > max(before) and math.isclose(sum(after), 1.0, rel_tol=1e-9)
    assert "T = 0.20" in explorer.figure.layout.title.text
    assert "entropy" in explorer.summary.value


def test_sample_button_draws_reproducible_words(explorer):
    explorer.sample_button.click()
    first = explorer.samples.value
    assert first.count("|") == explorer.num_samples - 1
    explorer.sample_button.click()
    assert explorer.samples.value == first  # same seed, same words
    explorer.slider.value = 0.0
    assert set(explorer.draw_samples()) == {examples.CLEVEREST_TOKENS[0]}


def test_playground_updates_and_reports_bad_input():
    playground = SoftmaxPlayground("1, 2, 3")
    assert list(playground.figure.data[0].y) == pytest.approx(sampling.softmax([1, 2, 3]).tolist())
    playground.text.value = "0, -inf, 10"
    assert list(playground.figure.data[0].y)[1] == 0.0
    playground.text.value = "1, two"
    assert "numbers separated by commas" in playground.message.value
    playground.text.value = "-inf, -inf"
    assert "every logit in a row is -inf" in playground.message.value
