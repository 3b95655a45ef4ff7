"""The figure kit: the numbers it sends (in-process), what the page draws for given numbers and how its controls move
the drawing (Chromium, on a static page opened offline, as the gallery exports it), and no private API of plotly or
ipywidgets anywhere in explainer/."""

import base64
import fnmatch
import json
import math
import re
import tomllib

import numpy as np
import pytest
import torch

from conftest import sent_messages
from explainer import attention, learning, positions, sampling, site
from explainer.errors import FigureDataError
from explainer.figures import kit
from explainer.figures.kit import (AttentionView, Control, RopeView, Stack, StepsView, TemperatureBars, bars, curve, dots,
                                   export, plot, switch, text, tokens, unpacked, values)
from explainer.figures.kit.descent import DescentView
from explainer.figures.kit.live import NOW, LiveView
from explainer.gpt import checkpoint
from lab import chromium
from explainer.paths import PROJECT_ROOT
from explainer.settings import FLUFFY_PROMPT
from explainer.style import display_token

KIT_DIR = PROJECT_ROOT / "explainer" / "figures" / "kit"
RNG = np.random.default_rng(0)


@pytest.fixture(scope="module")
def lm():
    return checkpoint.load()


@pytest.fixture(scope="module")
def found(lm):
    return attention.prompt_attention(lm, FLUFFY_PROMPT)


@pytest.fixture(scope="module")
def steps(lm):
    return attention.prompt_steps(lm, FLUFFY_PROMPT)


# ---------- in-process: the numbers sent ----------

def test_every_heads_patterns_travel_once_as_float32_bytes_and_a_choice_as_a_small_message(found):
    view = AttentionView(found.patterns, found.tokens, scores=found.scores)
    state = view.get_state()
    assert isinstance(state["patterns"]["data"], memoryview) and state["patterns"]["shape"] == list(found.patterns.shape)
    np.testing.assert_array_equal(unpacked(state["patterns"]), found.patterns.numpy())
    np.testing.assert_array_equal(unpacked(state["scores"]), found.scores.numpy())
    assert state["tokens"] == [display_token(t) for t in found.tokens]
    sent = sent_messages(view)
    view.select(layer=3, head=2, temperature=0.5, transposed=True)
    assert sent == [({"method": "update", "state": {"layer": 3, "head": 2, "temperature": 0.5, "transposed": True},
                      "buffer_paths": []}, [])], "a choice from Python: one message, no numbers"
    view.show(found.patterns[:2, :3, :4, :4], found.tokens[:4])  # a new prompt (and a smaller model)
    [(message, buffers)] = sent[1:]
    assert message["buffer_paths"] == [["patterns", "data"]] and message["state"]["scores"] is None
    assert bytes(buffers[0]) == found.patterns[:2, :3, :4, :4].numpy().tobytes()
    assert (view.layer, view.head) == (1, 2), "the choice kept where it still fits"


def test_the_views_refuse_numbers_and_choices_they_cannot_show(found, steps):
    view = AttentionView(found.patterns, found.tokens)
    n = len(found.tokens)
    with pytest.raises(FigureDataError, match="layer must be 0 … 4"):
        view.select(layer=5)
    with pytest.raises(FigureDataError, match="temperature must be 0.05 … 5.0"):
        view.select(temperature=0)
    with pytest.raises(FigureDataError, match=r"patterns must be \[layer, head, 3, 3\]"):
        AttentionView(found.patterns, found.tokens[:3])
    with pytest.raises(FigureDataError, match="one per head"):
        view.show(found.patterns, found.tokens, captions=["one"])
    with pytest.raises(FigureDataError, match="mask must be one of minus_inf, zero_after"):
        StepsView(steps, mask="diagonal")
    with pytest.raises(FigureDataError, match=f"query must be 0 … {n - 1}"):
        StepsView(steps, query=n)
    with pytest.raises(FigureDataError, match="MiB, more than the 64 MiB"):
        kit.arrays.as_float32(np.zeros((5, 5, 1024, 1024)), "scores")


def descent_view(**choice) -> DescentView:
    """The toy's cost surface and points, as notebook 03 sends them."""
    model = learning.toy()
    w1, _, cost = learning.surface(model, resolution=41)
    return DescentView(model.x.tolist(), model.y.tolist(), cost.log10(), extent=float(w1[-1]), **choice)


def test_a_descent_view_sends_its_points_exactly_and_checks_its_choices():
    model = learning.toy()
    view = descent_view(start=(-0.3, 2.5), learning_rate=0.2, steps=150)
    state = view.get_state()
    assert state["x"] == model.x.tolist() and state["y"] == model.y.tolist(), "float64 as JSON: the page's sums start equal"
    np.testing.assert_allclose(unpacked(state["surface"]), learning.surface(model, resolution=41)[2].log10().numpy(), rtol=1e-6)
    sent = sent_messages(view)
    view.select(start=(1.5, -1.0), steps=20)
    assert sent == [({"method": "update", "state": {"start_w1": 1.5, "start_w2": -1.0, "steps": 20}, "buffer_paths": []},
                     [])], "a new start is one small message: the page descends itself"
    with pytest.raises(FigureDataError, match="the start must be two weights within ±3"):
        view.select(start=(3.5, 0))
    with pytest.raises(FigureDataError, match="the learning rate must be 0.01 … 1"):
        view.select(learning_rate=0)
    with pytest.raises(FigureDataError, match="steps must be 0 … 300"):
        view.select(steps=301)
    with pytest.raises(FigureDataError, match="x and y must be two lists of one length"):
        DescentView([0.0, 1.0], [0.0], np.zeros((2, 2)))


def live_view(found) -> LiveView:
    """A run's view with made-up numbers: two curves, a mark, three kept steps of the prompt's patterns and the latest."""
    view = LiveView(grid_title="one head", colours={"batch": "#888888", "validation": "#3b82f6", "reference": "#f59e0b",
                                                    "mark": "#dc2626"})
    view.new_run([display_token(t) for t in found.tokens], "the loss", 5.0, (3.0, "frequencies alone: 3.00"))
    view.show_curves((np.arange(0, 400, 10), 4 - np.arange(40) / 20), ([0, 200, 400], [4.5, 2.5, 2.0]), (0, 800))
    view.marks = [{"step": 200, "loss": 2.5, "label": "below", "text": "step 200: below the frequencies"}]
    patterns = found.patterns.numpy()
    view.show_patterns([0, 200, 400], np.stack([patterns, patterns[::-1], patterns[:, ::-1]]),
                       ["<b>sample 0</b>", "<b>sample 200</b>", "<b>sample 400</b>"], patterns[::-1, ::-1], "<b>sample now</b>")
    return view


def test_a_live_view_sends_what_changed_and_its_choices_alone(found):
    view = live_view(found)
    sent = sent_messages(view)
    view.show_curves((np.arange(0, 400, 10), 4 - np.arange(40) / 20), ([0, 200, 400, 600], [4.5, 2.5, 2.0, 1.9]), (0, 800))
    assert [sorted(data["state"]) for data, _ in sent] == [["validation_losses", "validation_steps"]], "only what changed"
    sent.clear()
    view.select(look_back=200, layer=1, head=2)
    assert sent == [({"method": "update", "state": {"look_back": 200, "layer": 1, "head": 2}, "buffer_paths": []}, [])]
    patterns = found.patterns.numpy()
    view.show_patterns([0, 400], np.stack([patterns, patterns]), ["a", "b"], patterns, "now")
    assert view.look_back == NOW, "a step no longer kept: follow the training again"
    with pytest.raises(FigureDataError, match="look back at one of the kept steps"):
        view.select(look_back=200)
    with pytest.raises(FigureDataError, match="layer must be 0 … 4"):
        view.select(layer=5)
    with pytest.raises(FigureDataError, match="a sample per kept step"):
        view.show_patterns([0, 400], np.stack([patterns, patterns]), ["a"], patterns, "now")
    with pytest.raises(FigureDataError, match="patterns must be"):
        view.show_patterns([0], patterns[None, :, :, :3], ["a"], patterns, "now")


def test_a_stack_offers_a_control_per_axis_and_checks_its_numbers():
    weights = RNG.random((3, 2, 4, 4))  # [step, head, query, key]
    labels, losses = ["a", "b", "c", "d"], np.array([4.0, 3.0, 2.5])
    stack = Stack([dots(weights, labels, over=("step", "head"), masked=np.triu(np.ones((4, 4)), 1)),
                   bars(weights[:, :, -1], labels, over=("step", "head")),
                   curve([0, 100, 200], losses, marker="step")],
                  controls=[Control("step", ["0", "100", "200"], label="training step")])
    assert stack.controls == [
        {"kind": "dropdown", "name": "step", "label": "training step", "options": [[0, "0"], [1, "100"], [2, "200"]]},
        {"kind": "slider", "name": "head", "label": "head", "min": 0, "max": 1}]
    assert stack.choice == {"step": 0, "head": 0}
    stack.select(step=2, head=1)
    assert stack.choice == {"step": 2, "head": 1}
    panels = stack.get_state()["panels"]
    np.testing.assert_array_equal(unpacked(panels[0]["weights"]), weights.astype(np.float32))
    np.testing.assert_array_equal(unpacked(panels[0]["masked"]), np.triu(np.ones((4, 4)), 1))
    assert panels[1]["maximum"] == pytest.approx(weights[:, :, -1].max()), "the bars' axis holds every choice"
    assert panels[2]["low"] < 2.5 and panels[2]["high"] > 4.0
    with pytest.raises(FigureDataError, match="head must be 0 … 1"):
        stack.select(head=2)
    with pytest.raises(FigureDataError, match="no control named 'layer'"):
        stack.select(layer=0)
    with pytest.raises(FigureDataError, match="disagree on how many choices 'step' has: 3 and 2"):
        Stack([dots(weights, labels, over=("step", "head")), bars(weights[:2, 0, -1], labels, over=("step",))])
    with pytest.raises(FigureDataError, match="a label per key: 4 needed, got 3"):
        dots(weights[0, 0], labels, key_labels=labels[:3])
    with pytest.raises(FigureDataError, match=r"weights must have one leading axis for each of step and 2 axes more"):
        dots(weights[0, 0], labels, over=("step",))
    with pytest.raises(FigureDataError, match="no panel is chosen by layer"):
        Stack([values(weights[0, 0], labels)], controls=[Control("layer")])


def test_text_tokens_and_a_switch_send_what_each_choice_shows():
    stack = Stack([text([["a0", "a1"], ["b0", "b1"]], over=("layer", "token"))])
    assert stack.sizes == {"layer": 2, "token": 2}
    [spec] = stack.get_state()["panels"]
    assert spec["pieces"] == ["a0", "a1", "b0", "b1"] and spec["counts"] == [2, 2], "flattened layer by layer"
    with pytest.raises(FigureDataError, match="one string for each choice of layer, token"):
        text([["a"], ["b", "c"]], over=("layer", "token"))
    ids = np.array([[[5, 9, -1], [9, 2, 7]]])  # [layer, row, slot]: token ids, −1 empty
    asked = []
    panel = tokens(ids, lambda used: asked.append(used) or [f"t{i}" for i in used], over=("layer",), numbers=[[1.0, 2.0]])
    spec = panel.spec()
    assert asked == [[2, 5, 7, 9]] and spec["vocabulary"] == ["t2", "t5", "t7", "t9"], "only the tokens used travel"
    local = unpacked(spec["ids"]).astype(int)
    assert [[spec["vocabulary"][i] if i >= 0 else None for i in row] for row in local[0]] == [["t5", "t9", None], ["t9", "t2", "t7"]]
    with pytest.raises(FigureDataError, match="token ids must be whole numbers"):
        tokens(np.array([[0.5]]), ["a"])
    with pytest.raises(FigureDataError, match=r"numbers must have the shape \(1, 2\)"):
        tokens(ids, lambda used: ["?"] * len(used), over=("layer",), numbers=[[1.0, 2.0, 3.0]])
    one, other = values(np.zeros((3, 2, 2)), ["x", "y"], over=("stage",)), values(np.zeros((3, 3, 3)), ["x", "y", "z"], over=("stage",))
    stack = Stack([switch("word", [[one], [other]])], [Control("word", ["one", "other"]), Control("stage", ["s0", "s1", "s2"], slider=True)])
    assert stack.controls == [{"kind": "dropdown", "name": "word", "label": "word", "options": [[0, "one"], [1, "other"]]},
                              {"kind": "slider", "name": "stage", "label": "stage", "min": 0, "max": 2, "labels": ["s0", "s1", "s2"]}]
    [spec] = stack.get_state()["panels"]
    assert [[panel["queries"] for panel in group] for group in spec["groups"]] == [[["x", "y"]], [["x", "y", "z"]]]
    with pytest.raises(FigureDataError, match="disagree on how many choices 'stage' has: 3 and 4"):
        switch("word", [[one], [values(np.zeros((4, 2, 2)), ["x", "y"], over=("stage",))]]).axes()


def test_bars_may_change_their_labels_and_highlight_with_the_choice_and_go_below_zero():
    heights = RNG.random((2, 3, 4)) - 0.5  # [step, layer, bar], some below 0
    panel = bars(heights, [["a", "b", "c", "d"], ["e", "f", "g", "h"]], over=("step", "layer"), highlight=[1, 3], signed=True)
    spec = panel.spec()
    assert spec["labels"] == list("abcdefgh") and spec["label_axes"] == 1, "labels for each step"
    assert spec["highlight"] == "chosen" and spec["highlights"] == [1, 3] and spec["highlight_axes"] == 1
    assert spec["minimum"] == pytest.approx(heights.min()) and spec["maximum"] == pytest.approx(heights.max())
    assert bars(heights, list("abcd"), over=("step", "layer")).spec()["label_axes"] == 0
    with pytest.raises(FigureDataError, match=r"bar labels: expected the shape \(4,\) or \(2, 4\) or \(2, 3, 4\)"):
        bars(heights, [["a", "b"]], over=("step", "layer"))
    with pytest.raises(FigureDataError, match="minimum ≤ 0 < maximum"):
        bars(heights, list("abcd"), over=("step", "layer"), minimum=0.1)


LOGITS = np.concatenate([RNG.normal(0, 1.5, 997), [float("-inf")], [6.0, 6.0]])  # a vocabulary: −∞ and a tie on top
SHOWN = np.argsort(-LOGITS, kind="stable")[:5].tolist()
CAPTION = "T {temperature} top {top} {top_probability} H {entropy} sum {sum}"


def test_softmax_bars_send_the_logits_once_and_a_temperature_as_a_small_message():
    view = TemperatureBars(LOGITS, [f"t{i}" for i in SHOWN], SHOWN, others="(other 995)", caption=CAPTION)
    state = view.get_state()
    np.testing.assert_array_equal(unpacked(state["logits"]), LOGITS.astype(np.float32))
    assert state["shown"] == SHOWN and state["others"] == "(other 995)" and tuple(state["temperature_range"]) == (0.0, 5.0, 0.05)
    sent = sent_messages(view)
    view.select(temperature=0.5)
    assert sent == [({"method": "update", "state": {"temperature": 0.5}, "buffer_paths": []}, [])]
    view.show([1.0, 2.0], ["a", "b"])  # new scores: every one shown, the temperature kept
    assert view.shown == [0, 1] and view.others == "" and view.temperature == 0.5 and view.caption == CAPTION
    with pytest.raises(FigureDataError, match="the temperature must be 0 … 5"):
        view.select(temperature=5.5)
    with pytest.raises(FigureDataError, match="at least one finite"):
        view.show([float("-inf")] * 2, ["a", "b"])
    with pytest.raises(FigureDataError, match="no NaN"):
        view.show([1.0, float("nan")], ["a", "b"])
    with pytest.raises(FigureDataError, match="one per token shown"):
        view.show([1.0, 2.0], ["a"])
    with pytest.raises(FigureDataError, match="indices of the logits"):
        view.show([1.0, 2.0], ["a"], shown=[2])


def plot_layers() -> list:
    """A plot of every layer kind, chosen by a slider "k" of two choices: log lines with a gap, two histograms, a band
    chosen by "band", labelled points, arrows and a vertical line."""
    return [plot.lines([1, 10, 100], [[[1, 10, 100]], [[2, 20, np.nan]]], names=[["x"], ["2x"]], over=("k",)),
            plot.vline([10, 50], ["at 10", "at 50"], over=("k",))]


def histogram_layers() -> list:
    shares = np.array([[[0.1, 0.2, 0.4, 0.3], [0.25, 0.25, 0.25, 0.25]], [[0.4, 0.3, 0.2, 0.1], [0.0, 0.5, 0.5, 0.0]]])
    return [plot.steps([0, 1, 2, 3, 4], shares, [["one {share}", "two {share}"], ["three {share}", "four {share}"]],
                       over=("k",)),
            plot.band([1, 0], [3, 2], over=("band",))]


def drawing_layers() -> list:
    return [plot.points([[0, 0], [2, 1], [1, 3]], ["a", "b", "c"]),
            plot.arrows([[0, 0], [2, 1]], [[2, 1], [1, 3]], ["a → b", "b → c"], ["bar", "#db2777"]),
            plot.points([[[1, 1]], [[1.5, 2]]], [["star 0"], ["star 1"]], over=("k",), star=True, colour="highlight")]


def test_a_plot_sends_its_layers_and_frames_every_choice():
    shown = kit.Plot(plot_layers(), [Control("k", ["one", "two"], slider=True)], x_log=True, y_log=True, titles=["t0", "t1"],
                     title_over=("k",), k=1)
    assert shown.choice == {"k": 1} and shown.view == "plot"
    panels = shown.get_state()["panels"]
    np.testing.assert_array_equal(unpacked(panels[0]["y"])[1, 0], np.array([2, 20, np.nan], dtype=np.float32))
    assert panels[0]["names"] == ["x", "2x"] and panels[0]["name_axes"] == 1 and panels[1]["notes"] == ["at 10", "at 50"]
    frame = shown.frame
    assert frame["x"]["log"] and frame["x"]["low"] < 1 and frame["x"]["high"] > 100 and frame["y"]["high"] > 100
    assert frame["titles"] == ["t0", "t1"] and frame["title_counts"] == [2]
    drawing = kit.Plot(drawing_layers(), equal=True, x_range=(-1, 3))
    assert drawing.frame["x"] == {"low": -1.0, "high": 3.0, "log": False} and drawing.frame["y"]["low"] < 0
    assert kit.Plot(histogram_layers()).frame["y"]["low"] == 0, "histograms stand on the x axis"
    assert kit.Plot(histogram_layers(), y_highs=[0.5, 1.0], y_over=("k",)).frame["y_highs"] == [0.5, 1.0]
    with pytest.raises(FigureDataError, match=r"a linear y axis's top for each choice of k: shape \(2,\), got \(3,\)"):
        kit.Plot(histogram_layers(), y_highs=[0.5, 1.0, 2.0], y_over=("k",))
    drawing.show(drawing_layers()[:1])  # new numbers from the kernel, the frame options kept
    assert drawing.sizes == {} and drawing.frame["x"]["high"] == 3.0 and drawing.frame["equal"]
    with pytest.raises(FigureDataError, match="a log x axis needs values above 0, got 0.0"):
        kit.Plot([plot.lines([0, 1], [[0, 1]])], x_log=True)
    with pytest.raises(FigureDataError, match="a histogram of 4 bins needs 5 increasing edges"):
        plot.steps([0, 1, 2], [[0.5, 0.5, 0, 0]], ["a"])
    with pytest.raises(FigureDataError, match="a title for each choice of k"):
        kit.Plot(plot_layers(), titles=["one"], title_over=("k",))
    with pytest.raises(FigureDataError, match="anchor must be above, below, left or right"):
        plot.points([[0, 0]], ["a"], anchor="middle")


def test_an_exported_figure_embeds_its_values_and_bytes_but_not_its_code(found):
    tokens = ["</script><b>", *found.tokens[1:]]  # a token that would close the script element
    view = AttentionView(found.patterns, tokens, layer=1)
    fragment = export.widget_html(view)
    assert fragment.count("</script>") == 1
    payload = json.loads(fragment.split('+json">')[1].rsplit("</script>")[0])
    assert payload["state"]["tokens"][0] == "</script><b>" and payload["state"]["layer"] == 1
    assert not [key for key in payload["state"] if key.startswith("_")] and "layout" not in payload["state"]
    [patterns] = payload["buffers"]
    assert patterns["path"] == ["patterns", "data"]
    assert base64.b64decode(patterns["data"]) == found.patterns.numpy().tobytes()
    assert export.is_kit_state(view.get_state()) and not export.is_kit_state({"_widget_data": []})


def test_the_kits_javascript_lives_in_its_files_and_ships_with_the_package():
    """The kit's JavaScript is its .js files (the widget's module is those files joined, nothing else), which the
    package data of pyproject.toml installs with the kit's style sheet; nothing of plotly inside."""
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = [str(path.relative_to(KIT_DIR)) for path in KIT_DIR.rglob("*") if path.suffix in (".js", ".css")]
    assert "js/attention.js" in shipped and "kit.css" in shipped
    assert all(any(fnmatch.fnmatch(name, pattern) for pattern in config["explainer.figures.kit"]) for name in shipped)
    files = [(KIT_DIR / "js" / name).read_text() for name in (*kit.widget.SOURCES, "widget.js")]
    assert kit.KitWidget._esm == "\n".join(files)
    assert not [path for path in KIT_DIR.rglob("*.py") if re.search(r"^\s*(?:import|from) plotly", path.read_text(), re.M)]
    assert not [path for path in KIT_DIR.rglob("*.js") if "plotly" in path.read_text().lower()]


# ---------- no private API ----------

PRIVATE = re.compile(
    r"\b_(?:send|batch|perform|py2js|js2py)_\w+"  # plotly's widget: its messages, batches and animation internals
    r"|\b_(?:view_count|in_batch_mode|widget_data|widget_layout|doNotReportToPy|normalize_trace_indexes|fullLayout"
    r"|fullData|property_lock|holding_sync|states_to_send|remove_buffers|put_buffers)\b"  # plotly's and ipywidgets'
    r"|\._(?:data|layout)\b"  # a plotly figure's own storage
    r"|\bPlotly(?:\.\w+|\[\w+\])\s*=[^=]|\bmodel\.set\s*=[^=]")  # replacing plotly.js's globals, or a widget model's set


def private_names(text: str) -> set[str]:
    return {match.strip(" =") for match in PRIVATE.findall(text)}


def test_no_private_api_of_plotly_or_ipywidgets():
    """Not in the package, the benchmarks, nor the suite's browser driver: code that reaches a library's private names
    breaks on its next minor release; where a library cannot do what we need, we write a small component of our own."""
    sources = [*(PROJECT_ROOT / "explainer").rglob("*"), *(PROJECT_ROOT / "benchmarks").glob("*.py"),
               PROJECT_ROOT / "tests" / "lab.py"]
    found = {str(path.relative_to(PROJECT_ROOT)): sorted(private_names(path.read_text(encoding="utf-8")))
             for path in sorted(sources) if path.suffix in (".py", ".js")}
    assert not {name: names for name, names in found.items() if names}


def test_the_private_name_check_can_fail():
    snippet = ("self._send_update_msg(data); figure._perform_batch_animate(o); self._view_count = None\n"
               "Plotly.animate = patched; Plotly[name] = wrapped; model.set = filtered; gd._fullLayout\n"
               "if (Plotly.animate === animate && model.set == set) figure.batch_traces()")
    assert private_names(snippet) == {"_send_update_msg", "_perform_batch_animate", "_view_count", "Plotly.animate",
                                      "Plotly[name]", "model.set", "_fullLayout"}


# ---------- in Chromium: what is drawn for given numbers, and the page's controls ----------

SAVED = "application/vnd.jupyter.widget-view+json"


def saved_state(widget) -> dict:
    """The widget's state as nbclient saves it in a notebook (values, and buffers in base64 with their paths)."""
    buffers: list[dict] = []
    values = export.without_bytes(widget.get_state(), [], buffers)
    return {"model_name": "AnyModel", "state": values, "buffers": [{**b, "encoding": "base64"} for b in buffers]}


SIGNED = np.array([[0.5, -0.25, 1.0, 0.0], [-1.0, 0.75, 0.25, -0.5]])  # [choice, bar]: some bars below 0
COSINES = np.array([[1.0, 0.5], [0.5, 1.0]])


def more_panels(found, labels: list[str], future: np.ndarray) -> list:
    """The kit's other components for the gallery page, chosen by a word (a switch) and a labelled layer slider: text,
    rows of tokens, small dot grids side by side, bars below 0 with labels and a highlight per layer, two named curves."""
    layers = found.patterns.shape[0]
    grids = [values(np.broadcast_to(COSINES * (w + 1) / 2, (layers, 2, 2)), ["one", "two"], over=("layer",), extent=1.0,
                    row_title="line", column_title="line", name="cosine") for w in (1, 0)]
    rows = tokens(np.array([[0, 1, 2], [3, 1, -1]]), ["a", "b", "<c>", "d", "e", "f"], numbers=[1.5, 0.25],
                  title="rows of tokens")
    return [text([f"<b>piece {l}</b>" for l in range(layers)], over=("layer",)),
            switch("word", [[grids[0], rows], [grids[1]]]),
            dots(found.patterns, labels, over=("layer",), masked=future, tiles=[f"head {h}" for h in range(found.patterns.shape[1])],
                 title="heads side by side", size=260),  # cells of 20 px: dot areas measurable
            bars(np.resize(SIGNED, (layers, 4)), [[f"{l}{b}" for b in "abcd"] for l in range(layers)], over=("layer",),
                 highlight=[l % 4 for l in range(layers)], signed=True, percent=False),
            curve(np.arange(layers), np.stack([found.entropy()[:, 0], found.entropy()[:, 1]]), marker="layer",
                  names=["head 0", "head 1"], x_labels=[f"L{l}" for l in range(layers)])]


@pytest.fixture(scope="module")
def gallery_page(tmp_path_factory, lm, found, steps):
    """A static page as the gallery writes it (site.py's hook), with an AttentionView, a StepsView and a stack of
    every component, and the kit's script beside it."""
    n = len(found.tokens)
    labels = [f"{i}:{display_token(t)}" for i, t in enumerate(found.tokens)]
    future = np.triu(np.ones((n, n), dtype=bool), 1)
    scores = found.scores.masked_fill(torch.from_numpy(future), float("-inf"))
    widgets = {
        "attention": AttentionView(found.patterns, found.tokens, scores=found.scores, layer=2, head=1),
        "steps": StepsView(steps, layer=1, head=2),
        "stack": Stack([dots(found.patterns, labels, over=("layer", "head"), masked=future),
                        values(scores, labels, over=("layer", "head")),
                        bars(found.patterns[:, :, -1], labels, over=("layer", "head"), title="the last query's row"),
                        curve(np.arange(5), found.entropy().T, over=("head",), marker="layer")]),
    }
    layers = found.patterns.shape[0]
    widgets["more"] = Stack(more_panels(found, labels, future), [Control("word", ["first", "second"]),
                                                                 Control("layer", [f"L{l}" for l in range(layers)], slider=True)])
    widgets["rope"] = RopeView(*positions.random_query_key(), query_position=10, key_position=3, shift=100)
    widgets["softmax"] = TemperatureBars(LOGITS, [f"t{i}" for i in SHOWN], SHOWN, others="(other 995)", caption=CAPTION)
    widgets["plot"] = kit.Plot(plot_layers(), [Control("k", ["one", "two"], slider=True)], x_log=True, y_log=True,
                               titles=["t0", "t1"], title_over=("k",))
    widgets["histograms"] = kit.Plot(histogram_layers(), [Control("k", ["one", "two"]), Control("band", ["1–3", "0–2"])],
                                     y_highs=[0.5, 1.0], y_over=("k",))
    widgets["drawing"] = kit.Plot(drawing_layers(), [Control("k", ["one", "two"])], equal=True)
    widgets["descent"] = descent_view(start=(-0.3, 2.5), learning_rate=0.2, steps=150)
    widgets["live"] = live_view(found)
    state = {name: saved_state(widget) for name, widget in widgets.items()}
    body = "".join(f'<div id="{name}">{site.static_widget(name, state, [0])}</div>' for name in widgets)
    out = tmp_path_factory.mktemp("kit")
    export.write_assets(out)
    (out / "page.html").write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8">{export.HEAD}</head>'
                                   f'<body style="width:900px">{body}</body></html>', encoding="utf-8")
    return out / "page.html"


@pytest.fixture(scope="module")
def browser():
    with chromium(offline=True) as context:
        requests = []
        context.route(re.compile(r"^(?!file:)"), lambda route: (requests.append(route.request.url), route.abort()))
        yield context, requests


@pytest.fixture
def page(browser, gallery_page):
    """The gallery page, freshly loaded; after the test, no console error and no request beyond file:."""
    context, requests = browser
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(gallery_page.as_uri())
    page.wait_for_selector("#stack .kit-curve")
    yield page
    page.close()
    assert not errors and not requests, (errors, requests)


# What a grid's canvas shows, read from its pixels: per cell, the area of dot colour (alpha summed over the cell's
# blue pixels: anti-aliased edges count in part), whether it is masked (grey in its corner), its corner's colour, and
# whether it is hatched (pixels of the hatching's line colour).
CANVAS = """([id, kind, grid]) => {
    const canvas = document.querySelectorAll(`#${id} canvas.kit-${kind}`)[grid];
    const rows = +canvas.dataset.rows, columns = +canvas.dataset.columns, {width, height} = canvas;
    const {data} = canvas.getContext('2d').getImageData(0, 0, width, height);
    const cw = width / columns, ch = height / rows, cells = rows * columns;
    const areas = new Array(cells).fill(0), hatched = new Array(cells).fill(false);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
        const p = 4 * (y * width + x), [r, g, b, a] = data.slice(p, p + 4);
        const i = Math.floor(y / ch) * columns + Math.floor(x / cw);
        if (a > 0 && b > r + 100) areas[i] += a / 255;
        if (a > 200 && Math.abs(r - 156) < 14 && Math.abs(g - 163) < 14 && Math.abs(b - 175) < 14) hatched[i] = true;
    }
    const corner = i => { const x = Math.floor((i % columns) * cw) + 1, y = Math.floor(Math.floor(i / columns) * ch) + 1;
                          return Array.from(data.slice(4 * (y * width + x), 4 * (y * width + x) + 4)); };
    const corners = Array.from({length: cells}, (_, i) => corner(i));
    return {rows, columns, areas, hatched, corners, masked: corners.map(([r, g, b, a]) => a > 0 && Math.abs(r - g) < 12 && b < 240)};
}"""
NUMBERS = "id => Array.from(document.querySelectorAll(`#${id} .kit-number`), t => t.textContent)"


def canvas(page, id: str, kind: str = "dots", grid: int = 0) -> dict:
    """A grid's cells as drawn: areas [row, column] in px², masked and hatched flags, corner colours."""
    found = page.evaluate(CANVAS, [id, kind, grid])
    shape = (found["rows"], found["columns"])
    return {name: np.array(found[name]).reshape(*shape, *([4] if name == "corners" else [])) for name in
            ("areas", "hatched", "corners", "masked")}


def assert_areas_are(page, id: str, weights: np.ndarray, grid: int = 0) -> None:
    """Dot areas proportional to the weights: each area over the largest one is its weight over the largest."""
    areas = canvas(page, id, grid=grid)["areas"]
    largest = np.unravel_index(np.argmax(weights), weights.shape)
    np.testing.assert_allclose(areas / areas[largest], weights / weights[largest], atol=0.02)


def press(page, selector: str, key: str, times: int = 1) -> None:
    control = page.locator(selector)
    control.focus()
    for _ in range(times):
        control.press(key)


def future(n: int) -> np.ndarray:
    return np.triu(np.ones((n, n), dtype=bool), 1)


@pytest.mark.browser
def test_dot_areas_are_the_weights_and_the_future_is_grey(page, found):
    n = len(found.tokens)
    weights = found.pattern(2, 1).numpy()
    assert_areas_are(page, "attention", weights)
    drawn = canvas(page, "attention")
    assert (drawn["masked"] == future(n)).all(), "the grey cells are the future, exactly"
    assert (drawn["areas"][future(n)] == 0).all()
    page.locator("#attention .kit-toggle input").click()  # the talk's layout: queries as columns
    assert_areas_are(page, "attention", weights.T)
    assert (canvas(page, "attention")["masked"] == future(n).T).all()
    titles = page.locator("#attention .kit-axis-title").all_text_contents()
    assert titles[0].startswith("query") and titles[1].startswith("key"), "the column axis is the queries'"


@pytest.mark.browser
def test_the_pages_sliders_choose_the_head_and_re_apply_the_softmax(page, found):
    press(page, "#attention .kit-slider input >> nth=0", "ArrowRight")  # layer 2 -> 3
    assert_areas_are(page, "attention", found.pattern(3, 1).numpy())
    assert page.locator("#attention .kit-caption b").text_content() == "layer 3, head 1"
    press(page, "#attention .kit-slider input >> nth=2", "ArrowLeft", times=10)  # temperature 1.00 -> 0.50
    assert_areas_are(page, "attention", attention.masked_softmax(found.scores[3, 1].double(), temperature=0.5).numpy())
    assert "at T = 0.50" in page.locator("#attention .kit-caption").text_content()


def python_facts(lm, layer, head, query, temperature, scaled, mask) -> str:
    """The facts line as the explorer wrote it in Python before the kit (same words, same numbers)."""
    steps = attention.attention_steps(lm, FLUFFY_PROMPT, layer, head, temperature, scaled, mask)
    sums = steps.pattern.sum(-1)
    e, updated = steps.residual[query], steps.updated[query]
    return (f"layer {layer}, head {head}: d_k = {steps.q.shape[-1]}; scores "
            + ("÷ √d_k" if scaled else "not divided by √d_k") + (", the future set to −∞" if mask == "minus_inf" else "")
            + f", from {float(steps.scaled.min()):.2f} to {float(steps.scaled.max()):.2f}; "
            f"row sums: min {float(sums.min()):.3f}, max {float(sums.max()):.3f}"
            + (" (not normalised!)" if float((sums - 1).abs().max()) > 1e-4 else "")
            + f"query {query} ({display_token(steps.tokens[query])}), the bars: |e| = {float(e.norm()):.2f}, "
            f"|Δe| = {float(steps.delta[query].norm()):.2f}, cos(e, e + Δe) = {float(torch.cosine_similarity(e, updated, dim=0)):.3f}")


def assert_same_numbers(shown: str, expected: str, tolerance: float = 0.011) -> None:
    """The same text, and numbers equal to within the last digit shown (the page computes in float64, torch in float32)."""
    number = r"-?\d+\.\d+"
    assert re.sub(number, "#", shown) == re.sub(number, "#", expected), (shown, expected)
    np.testing.assert_allclose([float(v) for v in re.findall(number, shown)],
                               [float(v) for v in re.findall(number, expected)], atol=tolerance)


@pytest.mark.browser
def test_the_step_by_step_view_redoes_every_step_in_the_page(page, lm):
    n = len(lm.encode(FLUFFY_PROMPT))
    facts = lambda: page.locator("#steps .kit-caption").text_content()
    assert_same_numbers(facts(), python_facts(lm, 1, 2, n - 1, 1.0, True, "minus_inf"))
    press(page, "#steps .kit-slider input >> nth=0", "ArrowRight", times=2)  # layer 3
    page.locator("#steps select >> nth=0").select_option(index=4)  # query 4
    page.locator("#steps .kit-toggle input").click()  # scores not divided by √d_k
    for mask, option in [("zero_after", 1), ("none", 3), ("minus_inf", 0)]:
        page.locator("#steps select >> nth=1").select_option(index=option)
        steps = attention.attention_steps(lm, FLUFFY_PROMPT, 3, 2, 1.0, False, mask)
        assert_same_numbers(facts(), python_facts(lm, 3, 2, 4, 1.0, False, mask))
        shown = steps.pattern.masked_fill(torch.from_numpy(future(n)), 0) if mask != "none" else steps.pattern
        assert_areas_are(page, "steps", shown.numpy())
        assert (canvas(page, "steps")["masked"] == (future(n) if mask != "none" else np.zeros((n, n), dtype=bool))).all()
        heights = page.evaluate("() => Array.from(document.querySelectorAll('#steps .kit-bar'), b => +b.getAttribute('height'))")
        np.testing.assert_allclose(heights, 200 * steps.pattern[4].numpy(), atol=0.01)  # 200 px for weight 1
        hatched = canvas(page, "steps", "values")["hatched"]
        assert (hatched == (future(n) if mask == "minus_inf" else np.zeros((n, n), dtype=bool))).all()
        fed = steps.scaled.masked_fill(torch.from_numpy(future(n)), float("-inf")) if mask == "minus_inf" else steps.scaled
        written = page.evaluate(NUMBERS, "steps")
        assert [t == "−∞" for t in written] == hatched.ravel().tolist()
        np.testing.assert_allclose([float(t) for t in written if t != "−∞"], fed.numpy()[~hatched], atol=0.051)
    assert "(not normalised!)" not in facts()


@pytest.mark.browser
def test_a_stack_draws_each_component_and_its_controls_move_them_all(page, found):
    n = len(found.tokens)
    assert_areas_are(page, "stack", found.pattern(0, 0).numpy())
    squares = canvas(page, "stack", "values")
    scores, corners = found.scores[0, 0].numpy(), squares["corners"]
    past = ~future(n)
    assert ((corners[..., 2] > corners[..., 0]) == (scores > 0))[past & (np.abs(scores) > 0.5)].all(), "blue > 0 > red"
    assert (squares["hatched"] == future(n)).all(), "−∞ hatched, and only −∞"
    boxes = page.evaluate("""() => ({
        bars: Array.from(document.querySelectorAll('#stack .kit-bar'), b => b.getBoundingClientRect().toJSON()),
        labels: Array.from(document.querySelectorAll('#stack .kit-bar-label, #stack .kit-bar-value'),
                           t => t.getBoundingClientRect().toJSON()).filter(r => r.width > 0)})""")
    crossed = [(b, t) for b in boxes["bars"] for t in boxes["labels"]
               if b["height"] > 0 and b["left"] < t["right"] and t["left"] < b["right"] and b["top"] < t["bottom"] and t["top"] < b["bottom"]]
    assert len(boxes["labels"]) > n and not crossed, "no bar crosses a label"
    marker = lambda: page.evaluate("""() => { const c = document.querySelector('#stack .kit-marker');
        return [+c.getAttribute('cx'), +c.getAttribute('cy')]; }""")
    points = page.evaluate("() => Array.from(document.querySelectorAll('#stack .kit-point'), c => [+c.getAttribute('cx'), +c.getAttribute('cy')])")
    assert marker() == pytest.approx(points[0])
    press(page, "#stack .kit-slider input >> nth=0", "ArrowRight", times=3)  # layer 3: every panel follows
    assert_areas_are(page, "stack", found.pattern(3, 0).numpy())
    assert marker() == pytest.approx(points[3]), "the curve's marker moved to layer 3"
    heights = page.evaluate("() => Array.from(document.querySelectorAll('#stack .kit-bar'), b => +b.getAttribute('height'))")
    maximum = float(found.patterns[:, :, -1].max())
    np.testing.assert_allclose(heights, 200 * found.pattern(3, 0)[-1].numpy() / maximum, atol=0.01)


@pytest.mark.browser
def test_a_labelled_slider_moves_text_small_grids_and_bars_with_their_own_labels(page, found):
    heads = found.patterns.shape[1]
    for h in range(heads):
        assert_areas_are(page, "more", found.pattern(0, h).numpy(), grid=h)
    readout = lambda: page.locator("#more .kit-readout").text_content()
    texts = lambda selector: page.locator(f"#more {selector}").all_text_contents()
    bars_now = lambda: page.evaluate("""() => Array.from(document.querySelectorAll('#more .kit-bar'), b => [
        +b.getAttribute('y'), +b.getAttribute('height'), b.getAttribute('class')])""")
    zero = page.evaluate("() => +document.querySelector('#more .kit-zeroline').getAttribute('y1')")
    assert readout() == "L0" and texts(".kit-text") == ["piece 0"] and texts(".kit-bar-label") == ["0a", "0b", "0c", "0d"]
    press(page, "#more .kit-slider input", "ArrowRight")
    assert readout() == "L1" and texts(".kit-text") == ["piece 1"] and texts(".kit-bar-label") == ["1a", "1b", "1c", "1d"]
    for h in range(heads):
        assert_areas_are(page, "more", found.pattern(1, h).numpy(), grid=h)
    drawn = bars_now()
    span = SIGNED.max() - SIGNED.min()
    for value, (y, height, kind), i in zip(SIGNED[1], drawn, range(4)):
        assert height == pytest.approx(200 * abs(value) / span, abs=0.02)
        assert (y == pytest.approx(zero, abs=0.02)) if value < 0 else (y + height == pytest.approx(zero, abs=0.02))
        assert kind == ("kit-bar kit-highlight" if i == 1 else "kit-bar kit-negative" if value < 0 else "kit-bar")


@pytest.mark.browser
def test_a_switch_shows_each_choices_own_panels_and_curves_mark_the_choice(page):
    groups = page.locator("#more .kit-group")
    rows = page.locator("#more .kit-token-rows tr")
    assert groups.count() == 1 and rows.all_text_contents() == ["1.50ab<c>", "0.25db"]
    assert page.locator("#more .kit-token-rows tr >> nth=0").locator(".kit-marked").text_content() == "<c>", "the last marked"
    corners = canvas(page, "more", "values")["corners"]
    assert tuple(corners[0, 0, :3]) == (5, 48, 97), "1.0 is the deepest blue: the extent is fixed at 1"
    assert tuple(corners[0, 1, :3]) != (5, 48, 97)
    page.locator("#more select").select_option(index=1)  # the second word: its own panels, the first group hidden
    assert groups.count() == 2 and not groups.nth(0).is_visible() and groups.nth(1).is_visible()
    assert tuple(canvas(page, "more", "values", grid=1)["corners"][0, 1, :3]) != tuple(corners[0, 1, :3]), "its own numbers"
    guide = lambda: page.evaluate("() => +document.querySelector('#more .kit-guide').getAttribute('x1')")
    points = page.evaluate("() => Array.from(document.querySelectorAll('#more .kit-curve .kit-point'), c => +c.getAttribute('cx'))")
    strokes = page.evaluate("() => Array.from(document.querySelectorAll('#more .kit-curve path.kit-line'), p => getComputedStyle(p).stroke)")
    assert len(set(strokes)) == 2 and guide() == pytest.approx(points[0])
    press(page, "#more .kit-slider input", "ArrowRight", times=2)
    assert guide() == pytest.approx(points[2]), "the marker follows the layer"


@pytest.mark.browser
def test_the_page_rotates_query_and_key_as_positions_rope_score_does(page):
    q, k = positions.random_query_key()
    number = r"-?\d+\.\d+"
    shown = lambda: [float(v) for v in re.findall(number, page.locator("#rope .kit-caption").text_content())]
    assert shown() == pytest.approx([positions.rope_score(q, k, 10, 3), positions.rope_score(q, k, 110, 103)], abs=1e-6)
    press(page, "#rope input >> nth=0", "ArrowRight", times=5)  # query at 15
    press(page, "#rope input >> nth=2", "ArrowLeft", times=30)  # shift 70
    assert shown() == pytest.approx([positions.rope_score(q, k, 15, 3), positions.rope_score(q, k, 85, 73)], abs=1e-6)
    assert "(offset 12 in both cases)" in page.locator("#rope .kit-caption").text_content()


@pytest.mark.browser
def test_the_page_redoes_softmax_with_the_temperature_its_slider_chooses(page):
    """Bar heights are softmax(logits / T) of the tokens shown, as explainer.sampling computes it, and the others' bar
    the rest, so that they add up to 100%; the caption's top token, entropy and sum are those of the whole vocabulary."""
    logits = torch.tensor(LOGITS.astype(np.float32), dtype=torch.float64)
    heights = lambda: page.evaluate("() => Array.from(document.querySelectorAll('#softmax .kit-bar'), b => +b.getAttribute('height'))")
    caption = lambda: page.locator("#softmax .kit-caption").text_content()
    for presses, temperature in ((0, 1.0), (16, 0.2), (4, 0.0)):
        press(page, "#softmax input", "ArrowLeft", times=presses)
        probs = sampling.softmax(logits, temperature)
        expected = probs[SHOWN].tolist() + [1 - float(probs[SHOWN].sum())]
        np.testing.assert_allclose(heights(), 200 * np.array(expected), atol=0.01)
        top = f"{100 * float(probs[SHOWN[0]]):.1f}%"
        assert caption() == (f"T {temperature:.2f} top t{SHOWN[0]} {top} H {float(sampling.entropy(probs)):.2f} "
                             f"sum {float(probs.sum()):.6f}")
    assert expected[:2] == [0.5, 0.5], "T = 0: the tie on top shares the mass"
    assert page.locator("#softmax .kit-readout").text_content() == "0.00"


@pytest.mark.browser
def test_a_plot_places_its_layers_and_its_controls_move_them(page):
    read = lambda js: page.evaluate(f"() => {js}")
    title = lambda id: page.locator(f"#{id} .kit-title").text_content()
    legend = lambda id: page.locator(f"#{id} .kit-plot-key").all_text_contents()
    # log axes: 1, 10, 100 evenly spaced along both axes; the vertical line at x = 10 lies on the middle point
    path = lambda i: [[float(v) for v in p.split(",")] for p in re.findall(r"[-\d.]+,[-\d.]+", read(
        f"document.querySelectorAll('#plot path.kit-line')[{i}].getAttribute('d')"))]
    first = path(0)
    assert len(first) == 3 and first[1] == pytest.approx([(first[0][0] + first[2][0]) / 2, (first[0][1] + first[2][1]) / 2])
    assert read("+document.querySelector('#plot .kit-guide').getAttribute('x1')") == pytest.approx(first[1][0], abs=0.01)
    assert title("plot") == "t0" and legend("plot") == ["x"]
    press(page, "#plot .kit-slider input", "ArrowRight")
    assert title("plot") == "t1" and legend("plot") == ["2x"] and len(path(0)) == 2, "NaN: the line stops"
    assert path(0)[0][1] == pytest.approx(first[0][1] - (first[0][1] - first[1][1]) * math.log10(2), abs=0.02)
    assert page.locator("#plot .kit-plot-label").text_content() == "at 50"
    # histograms: each bin's height ∝ its share; the band's share of each written in the legend, computed in the page
    heights = lambda: [[float(v) for v in re.findall(r"V([-\d.]+)H", d)] for d in read(
        "Array.from(document.querySelectorAll('#histograms path.kit-steps'), p => p.getAttribute('d'))")]
    floor = read("+document.querySelector('#histograms path.kit-steps').getAttribute('d').split(',')[1].split('V')[0]")
    np.testing.assert_allclose((floor - np.array(heights()[0])) / (floor - min(heights()[0])), [0.25, 0.5, 1, 0.75], atol=0.01)
    assert floor - min(heights()[0]) == pytest.approx(340 * 0.4 / 0.5, abs=0.02), "the y axis up to 0.5 for the first choice"
    assert legend("histograms") == ["one 60.0%", "two 50.0%"]
    page.locator("#histograms select >> nth=1").select_option(index=1)  # the band from 0 to 2
    assert legend("histograms") == ["one 30.0%", "two 50.0%"]
    page.locator("#histograms select >> nth=0").select_option(index=1)
    assert legend("histograms") == ["three 70.0%", "four 50.0%"]
    assert floor - min(heights()[0]) == pytest.approx(340 * 0.4 / 1.0, abs=0.02), "and up to 1 for the second"
    # drawn as faint as the style sheet says, once: the layer's group does not dim its band or histograms again
    opacity = lambda selector: read(f"""(() => {{ let o = 1;
        for (let e = document.querySelector('{selector}'); e; e = e.parentElement) o *= +getComputedStyle(e).opacity;
        return o; }})()""")
    assert (opacity("#histograms rect.kit-band"), opacity("#histograms path.kit-steps")) == pytest.approx((0.2, 0.55))
    # a drawing to scale: points where their numbers say, one unit as long across as up, arrows ending on the points
    centres = read("Array.from(document.querySelectorAll('#drawing circle.kit-plot-point'), c => [+c.getAttribute('cx'), +c.getAttribute('cy')])")
    (x0, y0), (x1, y1), (x2, y2) = centres
    unit = (x1 - x0) / 2
    assert y0 - y1 == pytest.approx(unit, abs=0.02) and (x2 - x0, y0 - y2) == pytest.approx((unit, 3 * unit), abs=0.02)
    tips = read("Array.from(document.querySelectorAll('#drawing .kit-arrow-head'), p => p.getAttribute('d').slice(1).split('L')[0].split(',').map(Number))")
    np.testing.assert_allclose(tips, [[x1, y1], [x2, y2]], atol=0.01)
    assert page.locator("#drawing .kit-plot-label").all_text_contents() == ["a", "b", "c", "a → b", "b → c", "star 0"]
    page.locator("#drawing select").select_option(index=1)
    assert page.locator("#drawing .kit-plot-label").all_text_contents()[-1] == "star 1"


DESCENT_DRAWN = """() => {
    const points = d => d.slice(1).split('L').map(p => p.split(',').map(Number));
    const start = document.querySelector('#descent .kit-descent-start');
    return {line: points(document.querySelector('#descent .kit-descent-line').getAttribute('d')),
            start: [+start.getAttribute('cx'), +start.getAttribute('cy')],
            caption: document.querySelector('#descent .kit-caption').textContent};
}"""


@pytest.mark.browser
def test_the_page_descends_as_learning_gradient_descent_does(page):
    """The path the page draws is Python's gradient descent (in pixels, through the map's axes: 400 px for 6 units),
    its caption Python's costs and end; sliders and a click on the map move the start, the rate and the steps."""
    model = learning.toy()
    pixels = lambda path: np.stack([54 + (path[:, 0] + 3) / 6 * 400, 10 + (3 - path[:, 1]) / 6 * 400], axis=1)

    def check(start, rate, steps):
        descent = learning.gradient_descent(model, start, rate, steps)
        drawn = page.evaluate(DESCENT_DRAWN)
        np.testing.assert_allclose(drawn["line"], pixels(descent.path.numpy()), atol=0.006)
        assert drawn["start"] == pytest.approx(pixels(np.array([start]))[0], abs=0.006)
        end = descent.path[-1].tolist()
        assert drawn["caption"] == (f"cost {float(descent.costs[0]):.3f} → {float(descent.costs[-1]):.4f} after {steps} "
                                    f"steps, ending at w1 = {end[0]:.2f}, w2 = {end[1]:.2f}")

    check((-0.3, 2.5), 0.2, 150)
    press(page, "#descent .kit-slider input >> nth=0", "ArrowRight", times=8)  # start w1 0.1
    press(page, "#descent .kit-slider input >> nth=2", "ArrowRight", times=30)  # learning rate 0.5
    press(page, "#descent .kit-slider input >> nth=3", "ArrowLeft", times=100)  # 50 steps
    check((0.1, 2.5), 0.5, 50)
    box = page.locator("#descent .kit-heatmap").bounding_box()
    page.mouse.click(box["x"] + 54 + 100, box["y"] + 10 + 300)  # (-1.5, -1.5)
    check((-1.5, -1.5), 0.5, 50)
    assert page.locator("#descent .kit-slider .kit-readout >> nth=1").text_content() == "-1.50", "the slider follows"
    colours = page.evaluate("""() => {
        const canvas = document.querySelector('#descent canvas.kit-heat'), scale = canvas.width / 400;
        const at = (w1, w2) => Array.from(canvas.getContext('2d').getImageData(
            Math.round((w1 + 3) / 6 * 400 * scale), Math.round((3 - w2) / 6 * 400 * scale), 1, 1).data);
        return [at(1.2, 1.5), at(-1.2, -1.5), at(-2.9, 2.9)];
    }""")
    brightness = [sum(colour[:3]) for colour in colours]
    assert brightness[0] < brightness[2] and brightness[1] < brightness[2], "the minima dark, the high corner bright"


@pytest.mark.browser
def test_the_live_view_draws_its_curves_and_looks_back_among_the_kept_steps(page, found):
    """The loss chart puts each point where its axes say (x 0 … 800 over the plot's width, loss 0 … 5 over its height),
    the mark's star on its point; the look-back slider and the head choose the pattern and sample drawn, in the page."""
    paths = page.evaluate("""() => Array.from(document.querySelectorAll('#live .kit-lines path.kit-series'),
                                             p => p.getAttribute('d').slice(1).split('L').map(q => q.split(',').map(Number)))""")
    batches, validation = np.array(paths[0]), np.array(paths[1])
    assert len(batches) == 40 and len(validation) == 3
    left, right, top, height = 56, 700 - 16, 10, 240
    place = lambda x, y: (left + (right - left) * np.asarray(x) / 800, top + height * (1 - np.asarray(y) / 5))
    np.testing.assert_allclose(validation, np.stack(place([0, 200, 400], [4.5, 2.5, 2.0]), axis=1), atol=0.06)
    np.testing.assert_allclose(batches[:, 1], place(0, 4 - np.arange(40) / 20)[1], atol=0.06)
    star = page.evaluate("() => (b => ({x: b.x, y: b.y, width: b.width, height: b.height}))"
                         "(document.querySelector('#live path.kit-mark').getBBox())")
    assert (star["x"] + star["width"] / 2, star["y"] + star["height"] / 2) == pytest.approx(place(200, 2.5), abs=1.5)
    sample = lambda: page.locator("#live .kit-sample").text_content()
    patterns = found.patterns.numpy()
    assert sample() == "sample now"
    assert_areas_are(page, "live", patterns[::-1, ::-1][0, 0])  # the latest: layer 0, head 0
    press(page, "#live .kit-slider input", "ArrowLeft", times=2)  # now → 400 → 200
    assert sample() == "sample 200" and page.locator("#live .kit-readout").text_content() == "200"
    page.locator("#live select >> nth=1").select_option(index=2)  # head 2
    assert_areas_are(page, "live", patterns[::-1][0, 2])  # the kept step 200: layer 0, head 2
