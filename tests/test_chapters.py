"""Every video chapter renders, and its frames show, at the moments it marks, the numbers the library computes.

Chapters render in fast mode (pauses cut, 5 frames per second; every animation kept) at low quality. Each chapter
marks moments (`Chapter.hold`) with the numbers on screen; a check reads the frame at that moment and measures it.
"""

import importlib.util
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from unittest import mock

import av
import numpy as np
import pytest

from conftest import color_mask
from explainer import settings
from explainer.errors import UnknownSceneError
from explainer.gpt import checkpoint
from explainer.paths import ANIMATIONS_DIR
from explainer.style import BAR_COLOR, HIGHLIGHT_COLOR, POSITIVE_COLOR
from explainer.video import render

pytestmark = pytest.mark.slow
PIXELS_PER_UNIT = 480 / 8  # Manim's frame is 8 units high; low quality is 480 pixels high
WIDTH_UNITS = 854 / PIXELS_PER_UNIT


def chapter_module(name: str):
    """A chapter's module, for the data functions it draws from (the scenes themselves are rendered by Manim)."""
    spec = importlib.util.spec_from_file_location(f"chapter_{name}", ANIMATIONS_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def lm():
    return checkpoint.load()


class ConnectionCounter:
    """A local port that counts the connections made to it: given to renders as their web proxy, the requests they
    tried to send."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.count = 0
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            connection, _ = self.server.accept()
            self.count += 1
            connection.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.getsockname()[1]}"


RENDERS: dict[str, tuple] = {}


@pytest.fixture(scope="module", autouse=True)
def network():
    """Every render of this module, and what it starts, sends its web requests here."""
    counter = ConnectionCounter()
    proxies = {key: counter.url for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")}
    with mock.patch.dict(os.environ, {**proxies, "no_proxy": "", "NO_PROXY": ""}):
        yield counter


@pytest.fixture(scope="module")
def renders(tmp_path_factory) -> Path:
    """The module's render cache: a chapter is rendered once (fast mode, low quality) for all its checks."""
    return tmp_path_factory.mktemp("renders")


def rendered(name: str, renders: Path) -> tuple[dict, list]:
    """The chapter's render (made now unless the cache has it); its marks and decoded frames (time, RGB array)."""
    if name not in RENDERS:
        result = render.render(name, "low", render.ChapterOptions(fast=True), cache_dir=renders)
        marks = render.read_marks(result)
        with av.open(str(result.video)) as container:
            frames = [(float(f.time), f.to_ndarray(format="rgb24").astype(int)) for f in container.decode(video=0)]
        RENDERS[name] = marks, frames
    return RENDERS[name]


def frame_at(frames: list, time: float) -> np.ndarray:
    """The first frame at or after `time`: the state a mark describes (it is held from that moment)."""
    return next(image for t, image in frames if t >= time - 1e-6)


def marked(marks: dict, prefix: str) -> list[dict]:
    return [m for m in marks["marks"] if m["name"].startswith(prefix)]


def x_of(units: float) -> float:
    return (units + WIDTH_UNITS / 2) * PIXELS_PER_UNIT


def y_of(units: float) -> float:
    return (4 - units) * PIXELS_PER_UNIT


def check_bars(image: np.ndarray, probs: list[float], highlighted: int | None, width: float = 11.0, height: float = 3.4,
               baseline: float = -1.9) -> None:
    """Bars drawn by pieces.probability_bars: at each bar's centre, the coloured run above the baseline is as tall as
    its probability says, and the highlighted bar is the expected one."""
    slot = width / len(probs)
    band = image[int(y_of(baseline + height + 0.1)):int(y_of(baseline)) - 1]
    for i, p in enumerate(probs):
        column = band[:, int(x_of(-width / 2 + slot * (i + 0.5)))][:, None, :]
        blue, orange = color_mask(column, BAR_COLOR)[:, 0], color_mask(column, HIGHLIGHT_COLOR)[:, 0]
        expected = p * height * PIXELS_PER_UNIT
        assert abs(int((blue | orange).sum()) - expected) <= 3, (i, int((blue | orange).sum()), expected)
        if expected >= 3:
            assert (orange.sum() > blue.sum()) == (i == highlighted), f"bar {i} highlighted wrongly"


# ---------- the chapters ----------

def test_next_token_chapter(lm, renders):
    chapter = chapter_module("next_token")
    marks, frames = rendered("next_token", renders)
    steps = chapter.loop_data(lm, settings.NEXT_TOKEN_PROMPT)
    loop = marked(marks, "step ")
    assert [m["drawn"] for m in loop] == [s.drawn for s in steps] and len(loop) == chapter.STEPS
    expected_text = lm.generate(settings.NEXT_TOKEN_PROMPT, chapter.STEPS, temperature=chapter.TEMPERATURE, seed=chapter.SEED)
    assert marked(marks, "loop done")[0]["text"] == expected_text, "the drawn tokens spell the seeded sampler's text"
    for mark, step in zip(loop, steps):
        assert mark["probs"] == pytest.approx(step.probs) and mark["chosen"] == step.chosen
        check_bars(frame_at(frames, mark["time"]), step.probs, step.chosen)
    tokens, by_temperature = chapter.sweep_data(lm, settings.NEXT_TOKEN_PROMPT)
    for mark in marked(marks, "T = "):
        probs = by_temperature[mark["temperature"]]
        assert mark["probs"] == pytest.approx(probs) and sum(probs) == pytest.approx(1.0)
        check_bars(frame_at(frames, mark["time"]), probs, 0)


# ---------- every chapter ----------

def test_every_chapter_is_checked_and_long_enough():
    missing = [name for name in render.list_scenes() if f"test_{name}_chapter" not in globals()]
    assert not missing, f"add a frame check for {missing} in tests/test_chapters.py"
    assert render.list_scenes() == list(render.CHAPTERS)


def test_typeset_text_is_manims_text_and_copies_apart():
    from manim import RIGHT, Text

    from explainer.style import FONT
    from explainer.video.pieces import typeset

    style = {"font_size": 20, "color": HIGHLIGHT_COLOR}
    first, again, fresh = typeset("q·k = 4.2", **style), typeset("q·k = 4.2", **style), Text("q·k = 4.2", font=FONT, **style)
    assert np.allclose(first.points, fresh.points) and np.allclose(first.get_all_points(), fresh.get_all_points())
    assert first.get_color() == fresh.get_color() and len(first) == len(fresh)
    first.shift(RIGHT)
    assert np.allclose(again.get_all_points(), fresh.get_all_points()), "a typeset text is a copy of its own"
    assert all(getattr(glyph, "path_obj", None) is None for glyph in again.family_members_with_points())


def test_bad_options_get_one_line_errors():
    with pytest.raises(UnknownSceneError, match="next_token"):
        render.scene_file("next_tokn")
    result = subprocess.run([sys.executable, "-m", "explainer", "render", "one_head", "--layer", "99"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "--layer must be 0 …" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    result = subprocess.run([sys.executable, "-m", "explainer", "render", "nope"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Valid chapters" in result.stderr


def components(mask: np.ndarray, min_pixels: int = 4) -> list[np.ndarray]:
    """Connected blobs of a boolean image (8-neighbourhood), as arrays of (row, column) pixels."""
    from scipy import ndimage

    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    return [np.argwhere(labels == i) for i in range(1, count + 1) if (labels == i).sum() >= min_pixels]


def test_words_as_vectors_chapter(renders):
    from explainer import embeddings as E

    chapter = chapter_module("words_as_vectors")
    marks, frames = rendered("words_as_vectors", renders)
    kv = E.load_glove()
    result, at = chapter.analogy_data(kv)
    assert result.with_inputs[0][0] == "king" and result.expected_rank_with_inputs == 2, "the honest ranking the chapter tells"
    target = marked(marks, "target")[0]
    np.testing.assert_allclose(target["target"], at["target"][:2], atol=1e-6)
    star = np.argwhere(color_mask(frame_at(frames, target["time"]), HIGHLIGHT_COLOR, 30))
    row, col = star.mean(axis=0)
    assert abs(col - x_of(at["target"][0])) < 6 and abs(row - y_of(at["target"][1])) < 6, "the sum's star sits at the computed point"
    gender = marked(marks, "gender")[0]
    arrows = components(color_mask(frame_at(frames, gender["time"]), POSITIVE_COLOR, 30), 40)
    assert len(arrows) >= len(chapter.GENDER_SHOWN) - 1  # arrows may touch where words crowd


def test_near_orthogonal_chapter(renders):
    chapter = chapter_module("near_orthogonal")
    marks, frames = rendered("near_orthogonal", renders)
    expected = chapter.histogram_data()
    for mark in marked(marks, "d = "):
        share = expected[mark["d"]]
        np.testing.assert_allclose(mark["shares"], share)
        image = frame_at(frames, mark["time"])
        slot = chapter.WIDTH / len(share)
        for i in np.argsort(share)[-5:]:  # the five tallest bars
            column = image[:int(y_of(chapter.BASELINE)) - 1, int(x_of(-chapter.WIDTH / 2 + slot * (i + 0.5)))][:, None, :]
            height = color_mask(column, BAR_COLOR)[:, 0].sum()
            assert abs(height - share[i] / mark["top"] * chapter.HEIGHT * PIXELS_PER_UNIT) <= 4, (mark["d"], i)
    done = marked(marks, "packing done")[0]
    _, worst = chapter.packing_data()
    assert done["worst"] == pytest.approx(worst[-1]) and worst[-1] < worst[0]


def test_one_head_chapter(lm, renders):
    chapter = chapter_module("one_head")
    marks, frames = rendered("one_head", renders)
    example = chapter.example_data(lm, {})
    n = len(example.steps.tokens)
    mark = marked(marks, "pattern")[0]
    np.testing.assert_allclose(mark["pattern"], example.steps.pattern.numpy(), atol=1e-6)
    image, cell, center = frame_at(frames, mark["time"]), mark["cell"], mark["center"]
    dots = color_mask(image, "#2563eb", 35)
    measured, expected = [], []
    for q in range(n):
        for k in range(q + 1):
            x, y = center[0] + (q - (n - 1) / 2) * cell, center[1] - (k - (n - 1) / 2) * cell  # column = query, row = key
            half = int(cell * PIXELS_PER_UNIT / 2) - 1
            measured.append(dots[int(y_of(y)) - half:int(y_of(y)) + half, int(x_of(x)) - half:int(x_of(x)) + half].sum())
            expected.append(np.pi * (0.45 * cell * np.sqrt(float(example.steps.pattern[q, k])) * PIXELS_PER_UNIT) ** 2)
    measured, expected = np.array(measured, dtype=float), np.array(expected)
    big = expected > 30
    ratio = np.median(measured[big] / expected[big])  # anti-aliased edges shave every dot by about the same share
    assert 0.6 < ratio < 1.2
    np.testing.assert_allclose(measured[big], ratio * expected[big], rtol=0.25, atol=6)  # area ∝ weight, dot by dot
    assert (measured[expected < 1] <= 4).all(), "a weight near 0 draws (almost) no dot"
    masked = marked(marks, "mask")[0]
    assert masked["masked"] == n * (n - 1) // 2
    delta = marked(marks, "delta")[0]
    assert delta["delta_length"] == pytest.approx(float(example.steps.delta[example.query].norm()), rel=1e-5)
    green = np.argwhere(color_mask(frame_at(frames, delta["time"]), POSITIVE_COLOR, 30))
    extent = np.hypot(*(green.max(axis=0) - green.min(axis=0)))
    assert abs(extent - delta["delta_length"] * delta["scale"] * PIXELS_PER_UNIT) <= 6, "the Δe arrow is |Δe| long, to scale"
    parts = chapter.delta_parts(lm, example)
    torch_close(parts.sum(0), example.steps.delta[example.query])


def torch_close(a, b):
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-4)


def test_many_heads_chapter(lm, renders):
    chapter = chapter_module("many_heads")
    marks, frames = rendered("many_heads", renders)
    found, position, _ = chapter.layer_data(lm, {})
    mark = marked(marks, "heads")[0]
    np.testing.assert_allclose(mark["patterns"], found.patterns.numpy(), atol=1e-6)
    total = marked(marks, "sum")[0]
    assert total["total"] == pytest.approx(float(found.total[position].norm()), rel=1e-5)
    sides = {}
    for mark in marked(marks, "n = "):
        blue = np.argwhere(color_mask(frame_at(frames, mark["time"]), BAR_COLOR, 45))
        sides[mark["n"]] = blue[:, 1].max() - blue[:, 1].min()
        assert mark["cells"] == mark["n"] ** 2
    ratios = [sides[n] / sides[chapter.CONTEXTS[-1]] for n in chapter.CONTEXTS]
    np.testing.assert_allclose(ratios, [n / chapter.CONTEXTS[-1] for n in chapter.CONTEXTS], atol=0.03)


def test_mlp_and_residual_chapter(lm, renders):
    from explainer import residual

    chapter = chapter_module("mlp_and_residual")
    marks, frames = rendered("mlp_and_residual", renders)
    step, prompt = chapter.pass_data(lm, {})
    np.testing.assert_allclose(marked(marks, "gelu")[0]["post"], step.post.numpy(), atol=1e-6)
    mark = marked(marks, "stream")[0]
    norms = residual.stream(lm, prompt).norms(-1).numpy()
    np.testing.assert_allclose(mark["norms"], norms, rtol=1e-5)
    check_bars(frame_at(frames, mark["time"]), list(norms / norms.max()), None, height=3.2, baseline=-1.4)
    from explainer import mlp

    lookups = marked(marks, "lookups")[0]
    found = mlp.lookups(lm)
    changes = found.lookup_change["mlp"] + found.lookup_change["attn"]
    np.testing.assert_allclose(lookups["changes"], changes, rtol=1e-6)
    check_bars(frame_at(frames, lookups["time"]), [max(0.0, c) / max(changes) for c in changes], None, width=11.0,
               height=3.0, baseline=-1.4)


def test_chapter_player_renders_in_the_background_and_shows_the_video_beside_the_notebook(renders, tmp_path):
    """Its render is the one the scale_and_cost check reads (same settings, same cache)."""
    from explainer.chapters import ChapterPlayer
    from explainer.figures.attention import StepByStepExplorer

    player = ChapterPlayer("scale_and_cost", folder=tmp_path, cache_dir=renders, fast=True)
    assert "Not rendered" in player.video.value
    player.button.click()
    player.rendering.join(timeout=600)
    assert "<video" in player.video.value and player.status.value == "" and "rendered in" in player.note.value
    name = player.video.value.split("src='videos/")[1].split("'")[0]
    assert (tmp_path / "videos" / name).stat().st_size > 10_000
    again = ChapterPlayer("scale_and_cost", folder=tmp_path, cache_dir=renders, fast=True)
    assert name in again.video.value, "a second player finds the cached render at once"

    lm = checkpoint.load()
    explorer = StepByStepExplorer(lm, settings.NEXT_TOKEN_PROMPT, layer=1, head=2)
    follower = ChapterPlayer("one_head", follow=explorer, folder=tmp_path, cache_dir=renders)
    assert follower.current() == {}, "unchanged settings render the chapter's own"
    explorer.view.select(head=3)  # as the page does when the learner leaves its controls
    assert follower.current() == {"head": 3}


def test_scale_and_cost_chapter(renders):
    chapter = chapter_module("scale_and_cost")
    marks, frames = rendered("scale_and_cost", renders)
    counts = chapter.tally_data()
    assert sum(counts.values()) == 175_181_291_520
    mark = marked(marks, "tally")[0]
    image = frame_at(frames, mark["time"])
    left = x_of(-3.0 - chapter.COLUMN_WIDTH / 2)
    column = image[:, int(left) + 5:int(left + chapter.COLUMN_WIDTH * PIXELS_PER_UNIT) - 5]
    for kind, count in counts.items():
        height = color_mask(column, chapter.COLORS[kind], 20).any(axis=1).sum()
        assert abs(height - count / sum(counts.values()) * chapter.COLUMN_HEIGHT * PIXELS_PER_UNIT) <= 3, kind
    for mark in marked(marks, "cache "):
        step = int(mark["name"].split()[1])
        squares = components(color_mask(frame_at(frames, mark["time"]), POSITIVE_COLOR, 30), 30)
        assert len(squares) == step and mark["recomputed"] == step * (step + 1) // 2


def test_no_render_sent_a_web_request(renders, network):
    rendered("scale_and_cost", renders)
    assert network.count == 0, "a render tried to reach the web (Manim's check for a newer version?)"
