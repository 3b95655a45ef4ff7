"""Every video chapter renders, and its frames show, at the moments it marks, the numbers the library computes; and
every chapter is held to the same rules: legible at 480p at every marked moment, captions that name the numbers
drawn, a picture that moves while the caption speaks.

Chapters render in fast mode (pauses cut, 5 frames per second; every animation kept) at low quality, once each for
all their checks. Each chapter marks moments (`Chapter.hold`, `Chapter.mark`) with the numbers on screen and the
place of every text and shape (explainer.video.layout); checks read those records, and the frame at that moment.
"""

import importlib.util
import os
import re
import socket
import subprocess
import sys
import threading
from itertools import combinations
from pathlib import Path
from unittest import mock

import av
import nbformat
import numpy as np
import pytest
import torch

from conftest import color_mask, hex_to_rgb
from explainer import settings
from explainer.errors import UnknownSceneError
from explainer.gpt import checkpoint
from explainer.paths import ANIMATIONS_DIR, NOTEBOOKS_DIR
from explainer.style import BAR_COLOR, DOT_COLOR, HIGHLIGHT_COLOR, NEGATIVE_COLOR, POSITIVE_COLOR
from explainer.video import catalogue, frames as video_frames, render

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
        with av.open(str(result.video)) as container:  # uint8 copies: the decoder reuses its buffers
            frames = [(float(f.time), f.to_ndarray(format="rgb24").copy()) for f in container.decode(video=0)]
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
               baseline: float = -1.9, center_x: float = 0.0) -> None:
    """Bars drawn by pieces.ProbabilityBars: at each bar's centre, the coloured run above the baseline is as tall as
    its probability says, and the highlighted bar is the expected one."""
    slot = width / len(probs)
    band = image[int(y_of(baseline + height + 0.1)):int(y_of(baseline)) - 1]
    for i, p in enumerate(probs):
        column = band[:, int(x_of(center_x - width / 2 + slot * (i + 0.5)))][:, None, :]
        blue, orange = color_mask(column, BAR_COLOR)[:, 0], color_mask(column, HIGHLIGHT_COLOR)[:, 0]
        expected = p * height * PIXELS_PER_UNIT
        assert abs(int((blue | orange).sum()) - expected) <= 3, (i, int((blue | orange).sum()), expected)
        if expected >= 3:
            assert (orange.sum() > blue.sum()) == (i == highlighted), f"bar {i} highlighted wrongly"


# ---------- what every chapter is held to ----------

LEGIBLE_PX = 14  # the line height of the smallest text a 480p viewer reads comfortably
FRAME_PX = (854, 480)
PICTURE_BOTTOM_PX = video_frames.picture_rows(480, video_frames.PICTURE_BOTTOM)
SCORE_COLORS = (BAR_COLOR, NEGATIVE_COLOR, DOT_COLOR, HIGHLIGHT_COLOR)  # what scores, weights and values are drawn in
DISTINCT = 20  # CIE76 ΔE: colours this far apart are told apart at a glance


def overlap(a: list[float], b: list[float], slack: float = 1.0) -> bool:
    """Whether two boxes [left, top, right, bottom] overlap by more than `slack` pixels each way (anti-aliasing)."""
    return a[0] < b[2] - slack and b[0] < a[2] - slack and a[1] < b[3] - slack and b[1] < a[3] - slack


def segment_meets_box(p, q, box: list[float]) -> bool:
    """Whether the segment p–q passes through the inside of a box [left, top, right, bottom] (Liang–Barsky)."""
    (x0, y0), (x1, y1) = p, q
    dx, dy = x1 - x0, y1 - y0
    t0, t1 = 0.0, 1.0
    for rate, distance in ((-dx, x0 - box[0]), (dx, box[2] - x0), (-dy, y0 - box[1]), (dy, box[3] - y0)):
        if rate == 0:
            if distance <= 0:
                return False
        elif rate < 0:
            t0 = max(t0, distance / rate)
        else:
            t1 = min(t1, distance / rate)
    return t0 < t1


def crosses(text_box: list[float], shape: dict) -> bool:
    """Whether a shape (a layout record) runs into a text's box."""
    if shape["kind"] in ("dot", "box"):
        return overlap(text_box, shape["box"])
    half = max(shape["width"] / 2 - 0.5, 0)  # the line's own half-width, less a pixel of anti-aliasing
    grown = [text_box[0] - half, text_box[1] - half, text_box[2] + half, text_box[3] + half]
    points = shape["points"]
    return any(segment_meets_box(a, b, grown) for a, b in zip(points, points[1:]))


def legibility_problems(mark: dict) -> list[str]:
    """What a 480p viewer could not read at a marked moment: a text under LEGIBLE_PX tall, outside the frame or (but
    for the caption) below the picture; two texts overlapping; a shape running into a text it is not written in."""
    texts, shapes = mark["screen"]["texts"], mark["screen"]["shapes"]
    name = lambda text: repr(text["text"][:40])
    problems = [f"{name(t)} is {t['em']:.1f} px tall" for t in texts if t["em"] < LEGIBLE_PX]
    problems += [f"{name(t)} leaves the frame" for t in texts
                 if t["box"][0] < -1 or t["box"][1] < -1 or t["box"][2] > FRAME_PX[0] + 1 or t["box"][3] > FRAME_PX[1] + 1]
    problems += [f"{name(t)} reaches under the picture, into the caption's band" for t in texts
                 if not t["caption"] and t["box"][3] > PICTURE_BOTTOM_PX + 1]
    problems += [f"{name(a)} overlaps {name(b)}" for a, b in combinations(texts, 2) if overlap(a["box"], b["box"])]
    problems += [f"{name(t)} is crossed by a {s['kind']} ({s['color']}) at {[round(v) for v in s['box']]}"
                 for t in texts for index, s in enumerate(shapes) if index not in t["inside"] and crosses(t["box"], s)]
    return problems


def lab(color: str, opacity: float = 1.0) -> np.ndarray:
    """CIE Lab of a colour drawn at `opacity` over the black background."""
    rgb = hex_to_rgb(color) / 255 * opacity
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ linear
    f = lambda t: np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    fx, fy, fz = f(xyz / np.array([0.9505, 1.0, 1.089]))
    return np.array([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)])


def masked_color_problems(mark: dict) -> list[str]:
    """Masked cells in a colour close to a score's: any score colour at any opacity it is drawn with."""
    shapes = mark["screen"]["shapes"]
    masked = {(s["color"], s["opacity"]) for s in shapes if s["role"] == "masked"}
    scores = {(s["color"], s["opacity"]) for s in shapes if s["role"] != "masked" and s["kind"] in ("dot", "box")
              and s["color"].upper() in {c.upper() for c in SCORE_COLORS}}
    return [f"masked {m} is only ΔE {np.linalg.norm(lab(*m) - lab(*c)):.0f} from score colour {c}"
            for m in masked for c in scores if np.linalg.norm(lab(*m) - lab(*c)) < DISTINCT]


NUMBER = re.compile(r"(?<![\w.])[−-]?\d[\d,]*(?:\.\d+)?%?")


def caption_numbers(caption: str) -> list[tuple[float, float]]:
    """The numbers a caption names, each with half a unit of its last printed digit (how exactly it names it)."""
    found = []
    for written in NUMBER.findall(caption):
        percent = written.endswith("%")
        digits = written.rstrip("%").replace(",", "").replace("−", "-")
        decimals = len(digits.split(".")[1]) if "." in digits else 0
        scale = 0.01 if percent else 1.0
        found.append((float(digits) * scale, 0.5 * 10 ** -decimals * scale))
    return found


def names(caption: str, value: float) -> bool:
    """Whether the caption names `value`, to the precision it writes it with."""
    return any(abs(number - value) <= tolerance + 1e-9 for number, tolerance in caption_numbers(caption))


def assert_names(mark: dict, *values: float) -> None:
    missing = [v for v in values if not names(mark["caption"], v)]
    assert not missing, f"the caption at {mark['name']!r} does not name {missing}: {mark['caption']!r}"


def drawn_texts(mark: dict) -> list[str]:
    return [t["text"] for t in mark["screen"]["texts"] if not t["caption"]]


def longest_still(timeline: list) -> float:
    """The longest run of consecutive still stretches on the normal-speed clock."""
    longest, run = 0.0, 0.0
    for start, end, kind in timeline:
        run = run + (end - start) if kind == "still" else 0.0
        longest = max(longest, run)
    return longest


# ---------- the chapters ----------

def check_rows(image: np.ndarray, probs: list[float], highlighted: int | None, bars: tuple[float, float],
               first_y: float, row: float) -> None:
    """Bars read across (animations/next_token.py's table): along each row's middle, the coloured run from where the
    bars start is as long as its probability says, and only the highlighted bar is orange."""
    left, length = bars
    for i, p in enumerate(probs):
        line = image[int(y_of(first_y - i * row)), int(x_of(left)) - 2:int(x_of(left + length)) + 3][:, None, :]
        blue, orange = color_mask(line, BAR_COLOR)[:, 0], color_mask(line, HIGHLIGHT_COLOR)[:, 0]
        expected = p * length * PIXELS_PER_UNIT
        assert abs(int((blue | orange).sum()) - expected) <= 3, (i, int((blue | orange).sum()), expected)
        if expected >= 3:
            assert (orange.sum() > blue.sum()) == (i == highlighted), f"bar {i} highlighted wrongly"


def test_next_token_chapter(lm, renders):
    """Softmax worked out on the model's own scores, the sampling loop draw by draw, the temperature sweep and the
    three continuations, against the model run directly; the bars drawn to scale; the captions name the numbers."""
    chapter = chapter_module("next_token")
    marks, frames = rendered("next_token", renders)
    prompt = settings.NEXT_TOKEN_PROMPT
    with torch.no_grad():
        logits = lm.model(torch.tensor([lm.encode(prompt)]))[0][0, -1, :lm.vocab_size].double()
    top = torch.topk(logits, chapter.TOP)
    scores = marked(marks, "scores")[0]
    np.testing.assert_allclose(scores["logits"], top.values.numpy(), atol=1e-4)
    assert scores["tokens"] == lm.tokens(top.indices.tolist())
    assert {f"{v:+.2f}" for v in scores["logits"]} <= set(drawn_texts(scores))
    assert_names(scores, len(lm.encode(prompt)), lm.vocab_size, *scores["logits"][:2])
    softmax = marked(marks, "softmax")[0]
    total = float(torch.exp(logits).sum())
    # the render's float32 sums may run on other threads than ours: logits agree to 1e-4, so their exps to 1e-4 relative
    assert softmax["total"] == pytest.approx(total, rel=1e-4)
    np.testing.assert_allclose(softmax["exps"], torch.exp(top.values).numpy(), rtol=1e-4)
    np.testing.assert_allclose(softmax["probs"], torch.softmax(logits, -1)[top.indices].numpy(), atol=1e-6)
    assert any(f"{total:,.0f}" in text for text in drawn_texts(softmax))
    assert_names(softmax, total, softmax["probs"][0])
    check_rows(frame_at(frames, softmax["time"]), softmax["probs"], None, chapter.SOFTMAX_BARS, chapter.FIRST_ROW_Y, chapter.ROW)

    steps = chapter.loop_data(lm, prompt)
    loop = marked(marks, "step ")
    assert [m["drawn"] for m in loop] == [s.drawn for s in steps] and len(loop) == chapter.STEPS
    expected_text = lm.generate(prompt, chapter.STEPS, temperature=chapter.TEMPERATURE, seed=chapter.SEED)
    assert marked(marks, "loop done")[0]["text"] == expected_text, "the drawn tokens spell the seeded sampler's text"
    for mark, step in zip(loop, steps):
        assert mark["probs"] == pytest.approx(step.probs) and mark["chosen"] == step.chosen
        check_rows(frame_at(frames, mark["time"]), step.probs, step.chosen, chapter.LOOP_BARS, chapter.FIRST_ROW_Y, chapter.ROW)
    for mark in loop[:2]:
        assert_names(mark, mark["probs"][mark["chosen"]])

    sweep = marked(marks, "T = ")
    assert [m["temperature"] for m in sweep] == list(chapter.SWEEP)
    for mark in sweep:
        t = mark["temperature"]
        probs = torch.softmax(logits / t, -1) if t else (logits == logits.max()).double()
        np.testing.assert_allclose(mark["probs"], probs[top.indices].numpy(), atol=1e-6)
        assert mark["rest"] == pytest.approx(1 - float(probs[top.indices].sum()), abs=1e-6)
        check_rows(frame_at(frames, mark["time"]), mark["probs"], 0, chapter.SWEEP_BARS, chapter.FIRST_ROW_Y, chapter.ROW)
        assert f"T = {t:g}" in drawn_texts(mark)
        assert_names(mark, t)
        if t != chapter.SWEEP[0]:
            assert_names(mark, mark["probs"][0])
    written = marked(marks, "continuations")[0]["texts"]
    assert written == {f"{t:g}": lm.generate(prompt, chapter.CONTINUATION_TOKENS, temperature=t, seed=chapter.SEED)
                       for t in chapter.CONTINUATIONS}


def test_next_token_renders_with_a_model_we_did_not_make(tmp_path):
    """A tiny LLaMA-family folder (RoPE, no learned positions, <s> before every text): the chapter runs to its last
    frame with it."""
    from conftest import load_rgb
    from models import save_hf, sentencepiece_tokenizer

    folder = save_hf(tmp_path / "llama", "llama", sentencepiece_tokenizer())
    result = render.render("next_token", "low", render.ChapterOptions(model=str(folder), fast=True), last_frame_only=True,
                           cache_dir=tmp_path / "renders")
    image = load_rgb(result.video)
    assert (image[:PICTURE_BOTTOM_PX].max(axis=2) > 40).mean() > 0.01, "the last frame shows a picture"


def test_the_whole_machine_chapter(lm, renders):
    """Every number of the pass against the model run directly: ids, embedding rows, the lens, scores, probabilities,
    each position's guess; and the captions name the numbers drawn."""
    chapter = chapter_module("the_whole_machine")
    marks, frames = rendered("the_whole_machine", renders)
    ids = lm.encode(settings.LENS_PROMPT)
    n, model = len(ids), lm.model
    W_E, W_pos = model.transformer.wte.weight.detach(), model.transformer.wpe.weight.detach()
    with torch.no_grad():
        logits = model(torch.tensor([ids]))[0][0, :, :lm.vocab_size].float()  # [n, V]
    shown = marked(marks, "ids")[0]
    assert shown["ids"] == ids and {str(i) for i in ids} <= set(drawn_texts(shown))
    assert_names(shown, ids[-1])
    lookup = marked(marks, "lookup")[0]
    np.testing.assert_allclose(lookup["values"], W_E[ids[-1], :chapter.SHOWN].numpy(), atol=1e-6)
    assert {f"{v:+.2f}" for v in lookup["values"]} <= set(drawn_texts(lookup)) and names(lookup["caption"], ids[-1])
    position = marked(marks, "position")[0]
    np.testing.assert_allclose(position["values"], (W_E[ids[-1]] + W_pos[n - 1])[:chapter.SHOWN].numpy(), atol=1e-6)
    assert_names(position, n - 1)
    start = marked(marks, "lens 0")[0]
    own = lm.logits_from_residual(W_E[ids[-1]] + W_pos[n - 1])
    assert start["rank"] == int((own > own[ids[-1]]).sum()) + 1
    assert_names(start, start["rank"])
    _, _, cache = lm.run_with_cache(settings.LENS_PROMPT)
    vocabulary = lm.vocabulary()
    for layer in range(model.config.n_layer):
        block = marked(marks, f"block {layer}")[0]
        probs = torch.softmax(lm.logits_from_residual(cache[f"blocks.{layer}.hook_resid_post"][0, -1]).float(), -1)
        assert block["p"] == pytest.approx(float(probs[vocabulary.index(block["top"])]), abs=1e-5)
        assert f"{block['p']:.0%}" in " ".join(drawn_texts(block))
    top = torch.topk(logits[-1], chapter.TOP)
    scores = marked(marks, "scores")[0]
    np.testing.assert_allclose(scores["scores"], top.values.numpy(), atol=1e-4)
    assert scores["tokens"] == lm.tokens(top.indices.tolist())
    assert {f"{v:+.1f}" for v in scores["scores"]} <= set(drawn_texts(scores))
    assert_names(scores, *scores["scores"][:2])
    probabilities = marked(marks, "probabilities")[0]
    expected = torch.softmax(logits[-1], -1)[top.indices].tolist()
    np.testing.assert_allclose(probabilities["probs"], expected, atol=1e-6)
    assert_names(probabilities, *expected[:2])
    check_bars(frame_at(frames, probabilities["time"]), [p / expected[0] for p in expected], 0, width=6.2, height=2.6,
               baseline=-1.2, center_x=3.6)
    assert marked(marks, "guesses")[0]["guesses"] == logits.argmax(-1).tolist()
    recap = marked(marks, "recap")[0]
    layout = lm.layout
    assert {f"{n} × {layout.d_model} vectors", f"{n} × {layout.d_vocab:,} scores"} <= set(drawn_texts(recap))


def descend_with_autograd(toy, start, learning_rate: float, steps: int) -> list[float]:
    """Gradient descent on the toy's cost with torch's gradients: a check on explainer.learning's own."""
    w = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    for _ in range(steps):
        cost = toy.cost(w[0], w[1])
        (gradient,) = torch.autograd.grad(cost, w)
        w = (w - learning_rate * gradient).detach().requires_grad_(True)
    return w.tolist()


def test_how_it_learns_chapter(lm, renders):
    """The costs, the descent, the snapshots' guesses and attention, against direct computations; the captions
    name them; the dot on the cost curve sits at (p, −log p)."""
    from explainer import learning

    marks, frames = rendered("how_it_learns", renders)
    ids = lm.encode(settings.ROMEO_LINE)
    with torch.no_grad():
        logits = lm.model(torch.tensor([ids]))[0][0, :-1, :lm.vocab_size].float()
    costs = -torch.log_softmax(logits, -1)[torch.arange(len(ids) - 1), ids[1:]]
    for mark in marked(marks, "cost "):
        position = int(mark["name"].split()[1])
        assert mark["loss"] == pytest.approx(float(costs[position]), abs=1e-4)
        assert_names(mark, mark["p"], mark["loss"])
        top, left = int(y_of(3.0)), 0  # the plot: under the token row, left of the readout
        plot = frame_at(frames, mark["time"])[top:int(y_of(-1.3)), left:int(x_of(-0.5))]
        row, column = np.argwhere(color_mask(plot, HIGHLIGHT_COLOR, 30)).mean(axis=0)
        assert abs(column + left - x_of(mark["point"][0])) < 3 and abs(row + top - y_of(mark["point"][1])) < 3
    every = marked(marks, "every position")[0]
    np.testing.assert_allclose(every["losses"], costs.numpy(), atol=1e-4)
    assert_names(every, float(costs.mean()))
    toy, s = learning.toy(), settings.DESCENT
    for name, start in (("descended", s.start), ("mirror", (-s.start[0], -s.start[1]))):
        mark = marked(marks, name)[0]
        np.testing.assert_allclose(mark["end"], descend_with_autograd(toy, start, s.learning_rate, s.steps), atol=1e-6)
        assert_names(mark, *mark["end"])
    source = checkpoint.snapshot_source(lm)
    steps = checkpoint.snapshot_steps(source)
    layer, head = marked(marks, f"pattern {steps[-1]}")[0]["head"]
    for step in steps:
        snapshot = checkpoint.load(source, step=step)
        probs = torch.softmax(snapshot.next_token_logits(settings.SNAPSHOT_PROMPT).float(), -1)
        guess = marked(marks, f"snapshot {step}")[0]
        top = torch.topk(probs, len(guess["probs"]))
        np.testing.assert_allclose(guess["probs"], top.values.numpy(), atol=1e-6)
        assert guess["tokens"] == snapshot.tokens(top.indices.tolist())
        assert_names(guess, guess["probs"][0])
        pattern = snapshot.run_with_cache(settings.ROMEO_LINE)[2][f"blocks.{layer}.attn.hook_pattern"][0, head]
        attention = marked(marks, f"pattern {step}")[0]
        assert attention["weight"] == pytest.approx(float(torch.diagonal(pattern, -1).mean()), abs=1e-6)
        if step != steps[0]:
            assert_names(attention, attention["weight"])
    training = marked(marks, "training")[0]
    assert training["weights"] == sum(p.numel() for p in lm.model.parameters())
    assert_names(training, training["weights"], checkpoint.read_config(source)["step"])


# ---------- every chapter ----------

def test_every_chapter_is_in_the_catalogue_and_checked():
    import ast

    files = sorted(p.stem for p in ANIMATIONS_DIR.glob("*.py") if not p.name.startswith("_"))
    assert files == sorted(catalogue.NAMES), "a chapter file and the catalogue disagree"
    missing = [name for name in catalogue.NAMES if f"test_{name}_chapter" not in globals()]
    assert not missing, f"add a frame check for {missing} in tests/test_chapters.py"
    for entry in catalogue.CATALOGUE:
        tree = ast.parse((ANIMATIONS_DIR / f"{entry.name}.py").read_text(encoding="utf-8"))
        assert entry.scene in {node.name for node in tree.body if isinstance(node, ast.ClassDef)}, entry
    assert [entry.number for entry in catalogue.CATALOGUE] == list(range(1, len(catalogue.CATALOGUE) + 1))
    with pytest.raises(UnknownSceneError, match="Did you mean 'one_head'"):
        catalogue.entry("one_heads")


def test_each_notebook_plays_the_chapter_of_its_own_content():
    played = {}
    for path in sorted(NOTEBOOKS_DIR.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            played.update({path.stem: name for name in re.findall(r'ChapterPlayer\("(\w+)"', cell.source)})
    expected = {notebook: entry.name for entry in catalogue.CATALOGUE for notebook in entry.notebooks}
    assert played == expected


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
    """GloVe's numbers, each dot product and angle, the cosine grid, the analogy's point and rankings, and each step's
    cosine with the averaged directions, against numpy and gensim computed here; the pictures drawn to those numbers;
    the captions name them."""
    from explainer import embeddings as E

    chapter = chapter_module("words_as_vectors")
    marks, frames = rendered("words_as_vectors", renders)
    kv = E.load_glove()
    unit = lambda word: kv[word].astype(np.float64) / np.linalg.norm(kv[word].astype(np.float64))
    king = marked(marks, "king's numbers")[0]
    np.testing.assert_allclose(king["values"], kv["king"][:chapter.SHOWN], atol=1e-6)
    assert {f"{v:+.2f}" for v in king["values"]} <= set(drawn_texts(king))
    assert_names(king, kv.vector_size, chapter.SHOWN)
    for name, word in (("cosine queen", "queen"), ("cosine banana", "banana")):
        mark = marked(marks, name)[0]
        cosine = float(kv.similarity("king", word))
        degrees = float(np.degrees(np.arccos(cosine)))
        assert mark["cosine"] == pytest.approx(cosine, abs=1e-6) and mark["degrees"] == pytest.approx(degrees, abs=1e-4)
        assert {f"{degrees:.0f}°, cosine {cosine:.2f}", f"sum of all {kv.vector_size}: {cosine:.2f}"} <= set(drawn_texts(mark))
        assert_names(mark, cosine, degrees)
        (start, first), (same, second) = np.array(mark["arrows"])
        np.testing.assert_allclose(start, same)
        u, v = first - start, second - start
        assert np.degrees(np.arccos(u @ v / np.linalg.norm(u) / np.linalg.norm(v))) == pytest.approx(degrees, abs=0.1)
    grid = marked(marks, "grid")[0]
    expected = [[float(kv.similarity(a, b)) for b in grid["words"]] for a in grid["words"]]
    np.testing.assert_allclose(grid["cosines"], expected, atol=1e-5)
    assert {f"{c:.2f}" for row in expected for c in row} <= set(drawn_texts(grid))
    at = {w: i for i, w in enumerate(grid["words"])}
    assert_names(grid, *[expected[at[a]][at[b]] for a, b in (("king", "queen"), ("man", "woman"), ("apple", "banana"),
                                                             ("king", "banana"))])

    result, points = chapter.analogy_data(kv)
    target = marked(marks, "target")[0]
    np.testing.assert_allclose(target["target"], points["target"][:2], atol=1e-6)
    x, y = x_of(points["target"][0]), y_of(points["target"][1])
    near = frame_at(frames, target["time"])[int(y) - 12:int(y) + 13, int(x) - 12:int(x) + 13]
    row, col = np.argwhere(color_mask(near, HIGHLIGHT_COLOR, 30)).mean(axis=0)
    assert abs(col - 12) < 3 and abs(row - 12) < 3, "the sum's star sits at the computed point"
    point = unit("king") - unit("man") + unit("woman")
    scores = kv.get_normed_vectors().astype(np.float64) @ (point / np.linalg.norm(point))
    order = np.argsort(-scores)
    honest = [kv.index_to_key[i] for i in order[:chapter.RANKED]]
    gensim = [word for word, _ in kv.most_similar(positive=["king", "woman"], negative=["man"], topn=chapter.RANKED)]
    ranking = marked(marks, "ranking")[0]
    assert [w for w, _ in ranking["with_inputs"]] == honest and [w for w, _ in ranking["without_inputs"]] == gensim
    np.testing.assert_allclose([c for _, c in ranking["with_inputs"]], scores[order[:chapter.RANKED]], atol=1e-5)
    assert honest[0] == "king" and gensim[0] == "queen", "the ranking the chapter tells"
    assert ranking["ranks"] == [gensim.index("queen") + 1, honest.index("queen") + 1]
    assert {f"{rank}. {word}  {cosine:.3f}" for rank, (word, cosine) in enumerate(ranking["with_inputs"], 1)} <= set(drawn_texts(ranking))
    assert_names(ranking, *ranking["ranks"])

    assert not set(chapter.PLURAL_SHOWN) & set(E.PLURAL_PAIRS), "the plural steps shown are steps the direction never saw"
    for name, pairs, shown in (("gender", E.GENDER_PAIRS, chapter.GENDER_SHOWN), ("plural", E.PLURAL_PAIRS, chapter.PLURAL_SHOWN)):
        direction = np.mean([unit(b) - unit(a) for a, b in pairs], axis=0)
        direction /= np.linalg.norm(direction)
        steps = np.array([unit(b) - unit(a) for a, b in shown])
        lengths = np.linalg.norm(steps, axis=1)
        cosines = steps @ direction / lengths
        fan = marked(marks, f"{name} fan")[0]
        np.testing.assert_allclose(fan["cosines"], cosines, atol=1e-6)
        np.testing.assert_allclose(fan["lengths"], lengths, atol=1e-6)
        assert_names(fan, len(pairs))
        tips = chapter.FAN_ORIGIN[:2] + chapter.FAN_SCALE * lengths[:, None] * np.stack([cosines, np.sqrt(1 - cosines ** 2)], 1)
        np.testing.assert_allclose(fan["tips"], tips, atol=1e-3)
        green = color_mask(frame_at(frames, fan["time"]), POSITIVE_COLOR, 30)
        for tip_x, tip_y in tips:
            assert green[int(y_of(tip_y)) - 4:int(y_of(tip_y)) + 5, int(x_of(tip_x)) - 4:int(x_of(tip_x)) + 5].any(), (name, tip_x, tip_y)
        found = chapter.directions_data(kv)[name]
        control = np.array([unit(b) - unit(a) for a, b in found.control_pairs])
        threshold = np.quantile(np.abs(control @ direction / np.linalg.norm(control, axis=1)), E.BEYOND)
        first, second = marked(marks, f"{name} verdict")[:2]
        assert second["threshold"] == pytest.approx(threshold, abs=1e-9)
        assert {f"{a} → {b}  {c:.2f}" for (a, b), c in zip(shown, cosines)} <= set(drawn_texts(first))
        assert_names(first, *cosines)
        beyond = int((cosines > threshold).sum())
        assert_names(second, threshold, beyond)
        assert second["holds"] == (beyond == len(shown))


def test_near_orthogonal_chapter(renders):
    """Each histogram's shares, band share and spread against numpy's angles of the same random vectors, its bars to
    scale; the counts against dimension from the t distribution and Welch's bound worked out here, their dots where
    the axes put them; the most-pairs verdict's numbers; the captions name them all."""
    from scipy import stats

    from explainer import geometry as g

    chapter = chapter_module("near_orthogonal")
    marks, frames = rendered("near_orthogonal", renders)
    eps = np.sin(np.radians(chapter.BAND))
    outside = lambda d: 2 * stats.t.sf(eps * np.sqrt(d - 1) / np.sqrt(1 - eps ** 2), d - 1)  # P(|cos| > eps), random pair
    pairs = chapter.RANDOM_VECTORS * (chapter.RANDOM_VECTORS - 1) // 2
    histograms = marked(marks, "d = ")
    assert [m["d"] for m in histograms] == list(settings.NEAR_ORTHOGONAL.histogram_dimensions)
    for mark in histograms:
        d = mark["d"]
        vectors = g.random_unit_vectors(chapter.RANDOM_VECTORS, d, seed=0).double().numpy()
        cosines = np.clip((vectors @ vectors.T)[np.triu_indices(len(vectors), 1)], -1, 1)
        angles = np.degrees(np.arccos(cosines))
        counts, _ = np.histogram(angles, bins=int(180 / chapter.BIN), range=(0, 180))
        share = counts / pairs
        np.testing.assert_allclose(mark["shares"], share, atol=3 / pairs)  # float32 against float64: a pair may change bins
        assert mark["within"] == pytest.approx((np.abs(cosines) <= eps).mean(), abs=3 / pairs)
        assert mark["spread"] == pytest.approx(angles.std(), abs=1e-3)
        assert_names(mark, d, mark["within"])
        image = frame_at(frames, mark["time"])
        slot = chapter.WIDTH / len(share)
        for i in np.argsort(share)[-5:]:  # the five tallest bars
            column = image[:int(y_of(chapter.BASELINE)) - 1, int(x_of(-chapter.WIDTH / 2 + slot * (i + 0.5)))][:, None, :]
            height = color_mask(column, BAR_COLOR)[:, 0].sum()
            assert abs(height - share[i] / mark["top"] * chapter.HEIGHT * PIXELS_PER_UNIT) <= 4, (d, i)
    assert_names(histograms[0], pairs, chapter.RANDOM_VECTORS)
    assert_names(histograms[-1], histograms[-1]["spread"])

    random_count = lambda d: np.floor((1 + np.sqrt(1 + 4 / outside(d))) / 2)  # the union bound: all pairs in, half the time
    welch = lambda n, d: np.sqrt((n - d) / (d * (n - 1)))
    counts = {**marked(marks, "random count")[0]["counts"], **marked(marks, "exponential")[0]["counts"]}
    for d, n in counts.items():
        assert n == pytest.approx(random_count(int(d)), rel=1e-6), d
    assert_names(marked(marks, "random count")[0], 100, chapter.GPT3_D, counts["100"], counts[str(chapter.GPT3_D)])
    assert_names(marked(marks, "exponential")[0], counts["50000"], counts["100000"])
    bounds = marked(marks, "bounds")[0]
    most = bounds["most"]
    assert welch(most, 100) <= eps < welch(most + 1, 100) and most <= 100 * 101 / 2, "Welch's bound alone applies at d = 100"
    assert bounds["free"] == int(np.ceil(3 / eps ** 2 - 2)), "from there on Levenshtein's limit √(3/(d + 2)) is under the band"
    assert_names(bounds, most, bounds["free"])
    exponential = marked(marks, "exponential")[0]
    image = frame_at(frames, exponential["time"])
    axes = chapter.COUNT_AXES
    for d, (x, y) in exponential["dots"].items():
        expected = (axes["corner"][0] + (np.log10(int(d)) - axes["x_range"][0]) / (axes["x_range"][1] - axes["x_range"][0]) * axes["width"],
                    axes["corner"][1] + np.log10(random_count(int(d))) / axes["y_range"][1] * axes["height"])
        np.testing.assert_allclose([x, y], expected, atol=1e-3)
        assert color_mask(image[int(y_of(y)) - 1:int(y_of(y)) + 2, int(x_of(x)) - 1:int(x_of(x)) + 2], HIGHLIGHT_COLOR, 30).all(), d

    within = lambda d: 1 - outside(d)
    parts = marked(marks, "most pairs")
    verdict = parts[0]
    d = verdict["d"]
    assert verdict["share"] == pytest.approx(within(d), abs=1e-9)
    assert verdict["rms"] == pytest.approx(90 - np.degrees(np.arccos(np.sqrt(1 / d))), abs=1e-9)
    for key, level in (("half_d", 0.5), ("ninety_d", 0.9)):
        assert within(verdict[key] - 1) < level <= within(verdict[key]), key
    assert_names(parts[0], d, verdict["share"])
    assert any(names(p["caption"], verdict["rms"]) for p in parts)
    assert any(names(p["caption"], verdict["half_d"]) and names(p["caption"], verdict["ninety_d"]) for p in parts)


def dot_areas(image: np.ndarray, pattern, cell: float, center) -> tuple[np.ndarray, np.ndarray]:
    """The blue pixels in each allowed cell of a dot grid drawn with queries as columns, and the area each dot should
    have (∝ its weight)."""
    n = len(pattern)
    dots = color_mask(image, DOT_COLOR, 35)
    half = int(cell * PIXELS_PER_UNIT / 2) - 1
    measured, expected = [], []
    for q in range(n):
        for k in range(q + 1):
            x, y = center[0] + (q - (n - 1) / 2) * cell, center[1] - (k - (n - 1) / 2) * cell  # column = query, row = key
            measured.append(dots[int(y_of(y)) - half:int(y_of(y)) + half, int(x_of(x)) - half:int(x_of(x)) + half].sum())
            expected.append(np.pi * (0.45 * cell * np.sqrt(float(pattern[q][k])) * PIXELS_PER_UNIT) ** 2)
    return np.array(measured, dtype=float), np.array(expected)


def check_dot_grid(image: np.ndarray, pattern, cell: float, center) -> None:
    measured, expected = dot_areas(image, pattern, cell, center)
    big = expected > 30
    ratio = np.median(measured[big] / expected[big])  # anti-aliased edges shave every dot by about the same share
    assert 0.6 < ratio < 1.2
    np.testing.assert_allclose(measured[big], ratio * expected[big], rtol=0.25, atol=6)  # area ∝ weight, dot by dot
    assert (measured[expected < 1] <= 4).all(), "a weight near 0 draws (almost) no dot"


def masked_softmax(scores: torch.Tensor) -> torch.Tensor:
    """Softmax over the keys at or before each query (rows = queries)."""
    n = scores.shape[0]
    return torch.softmax(scores.masked_fill(torch.ones(n, n).triu(1).bool(), float("-inf")), -1)


def test_one_head_chapter(lm, renders):
    """The designed head's numbers against its matrices applied by hand; the trained head's against the model's own
    activations; the dot grids drawn to scale; the captions name the numbers drawn."""
    from explainer import designed, heads

    chapter = chapter_module("one_head")
    marks, frames = rendered("one_head", renders)
    head = designed.designed_head()
    words, e, w = head.words, head.embedding, head.weights
    noun, adjective = words.index("creature"), words.index("blue")
    bias = lambda b: 0 if b is None else b
    q, k, v = e @ w.W_Q + bias(w.b_Q), e @ w.W_K + bias(w.b_K), e @ w.W_V + bias(w.b_V)
    d_k = q.shape[1]
    pattern = masked_softmax(q @ k.T / d_k ** 0.5)
    shown = marked(marks, "query and key")[0]
    torch_close(torch.tensor(shown["q"]), q[noun])
    torch_close(torch.tensor(shown["k"]), k[adjective])
    assert {f"{x:.2f}" for x in shown["q"] + shown["k"]} <= set(drawn_texts(shown))
    assert_names(shown, d_k, e.shape[1])
    aligned = marked(marks, "aligned")[0]
    dots = (q[noun] @ k[:noun + 1].T).numpy()
    np.testing.assert_allclose(aligned["scores"], dots, atol=1e-4)
    np.testing.assert_allclose(np.array(aligned["plane"])[:, 0] * aligned["query_length"], dots, atol=1e-4)
    assert max(aligned["scores"]) > 0, "at least one key really aligns with the query"
    assert_names(aligned, *sorted(aligned["scores"])[-2:])
    assert marked(marks, "designed masked")[0]["masked"] == len(words) * (len(words) - 1) // 2
    scaled = marked(marks, "designed scaled")[0]
    np.testing.assert_allclose(scaled["scaled"], (q @ k.T / d_k ** 0.5).numpy(), atol=1e-4)
    assert_names(scaled, scaled["scaled"][noun][1], scaled["scaled"][noun][2], d_k)
    grid = marked(marks, "designed pattern")[0]
    np.testing.assert_allclose(grid["pattern"], pattern.numpy(), atol=1e-5)
    check_dot_grid(frame_at(frames, grid["time"]), grid["pattern"], grid["cell"], grid["center"])
    assert_names(grid, float(pattern[noun, 1]), float(pattern[noun, 2]))
    value = marked(marks, "value map")[0]
    torch_close(torch.tensor(value["v"]), v[adjective])
    torch_close(torch.tensor(value["written"]), v[adjective] @ w.W_O)
    sums = marked(marks, "weighted sums")[0]
    torch_close(torch.tensor(sums["z"]), pattern @ v)
    assert_names(sums, float(pattern[noun, 1]), float(pattern[noun, 2]))
    torch_close(torch.tensor(marked(marks, "designed verdict")[0]["delta"]), pattern @ v @ w.W_O)

    example = chapter.example_data(lm, {})
    layer, index = example.layer, example.head
    n = len(example.steps.tokens)
    _, _, cache = lm.run_with_cache(example.prompt)
    model_q = cache[f"blocks.{layer}.attn.hook_q"][0, :n, index]  # learned positions: no rotation after W_Q
    group = lm.layout.group_size
    model_k = cache[f"blocks.{layer}.attn.hook_k"][0, :n, index // group]
    trained = marked(marks, "trained query")[0]
    at, key = example.query, chapter.read_key(example)
    torch_close(torch.tensor(trained["q"]), model_q[at, :chapter.SHOWN])
    torch_close(torch.tensor(trained["k"]), model_k[key, :chapter.SHOWN])
    assert {f"{x:+.2f}" for x in trained["x"] + trained["q"] + trained["k"]} <= set(drawn_texts(trained))
    model_pattern = cache[f"blocks.{layer}.attn.hook_pattern"][0, index, :n, :n]
    model_scores = model_q @ model_k.T  # [query, key] before ÷√d_k
    scores = marked(marks, "trained scores")[0]
    np.testing.assert_allclose(scores["scores"], model_scores[at, :at + 1].numpy(), rtol=1e-4, atol=1e-3)
    assert scores["largest"] == pytest.approx(float(model_scores[torch.ones(n, n).tril().bool()].max()), abs=1e-3)
    assert_names(scores, max(scores["scores"]))
    drawn = marked(marks, "trained pattern")[0]
    np.testing.assert_allclose(drawn["pattern"], model_pattern.numpy(), atol=1e-5)
    check_dot_grid(frame_at(frames, drawn["time"]), drawn["pattern"], drawn["cell"], drawn["center"])
    assert {f"{x:.2f}" for x in drawn["weights"]} <= set(drawn_texts(drawn))
    assert_names(drawn, float(model_pattern[at].max()))
    side = marked(marks, "side by side")[0]
    assert side["designed"] == pytest.approx(float(pattern[noun, 1] + pattern[noun, 2]), abs=1e-6)
    assert side["trained"] == pytest.approx(float(model_pattern[at].max()), abs=1e-6)
    assert_names(side, side["designed"])
    measured = marked(marks, "measured")[0]
    scored = heads.running_example(lm).scores
    assert measured["head"] == list(scored.best())
    assert measured["weights"] == pytest.approx([scored.of(*scored.best())[kind] for kind in measured["kinds"]])
    assert {f"{x:.2f}" for x in measured["weights"]} <= set(drawn_texts(measured))


def torch_close(a, b):
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-4)


def test_many_heads_chapter(lm, renders):
    """The layer's patterns and summed change against the model's own activations, their overlap against Σ min, the
    KV cache from GPT-3's shape, the n × n squares to scale; the captions name the numbers drawn."""
    from explainer import scale

    chapter = chapter_module("many_heads")
    marks, frames = rendered("many_heads", renders)
    layer = chapter.layer_data(lm, {})
    found, position = layer.found, layer.position
    n = len(found.tokens)
    _, _, cache = lm.run_with_cache(layer.prompt)
    patterns = cache[f"blocks.{found.layer}.attn.hook_pattern"][0, :, :n, :n]  # [head, query, key]
    mark = marked(marks, "heads")[0]
    np.testing.assert_allclose(mark["patterns"], patterns.numpy(), atol=1e-5)
    assert_names(mark, found.layer, patterns.shape[0])
    shared = marked(marks, "overlap")[0]
    later = patterns[:, 1:]
    expected = torch.minimum(later[:, None], later[None, :]).sum(-1).mean(-1)  # Σ_k min over the queries after the first
    np.testing.assert_allclose(shared["overlap"], expected.numpy(), atol=1e-5)
    off = expected[~torch.eye(len(expected), dtype=torch.bool)]
    assert shared["mean"] == pytest.approx(float(off.mean()), abs=1e-6)
    assert f"{float(off.mean()):.0%}" in " ".join(c["text"] for c in marks["captions"])
    several = marked(marks, "several")[0]
    drawn = set(drawn_texts(several))
    shown = [several["one"]["fluffy"]] + [several[case][name] for case in ("blend", "two") for name in ("fluffy", "blue")]
    assert {f"{v:+.2f}" for v in shown} <= drawn
    total = marked(marks, "sum")[0]
    layer_out = cache[f"blocks.{found.layer}.hook_attn_out"][0, position]
    assert total["total"] == pytest.approx(float(layer_out.norm()), rel=1e-4)
    assert_names(total, total["total"], patterns.shape[0])
    gpt3 = scale.GPT3
    for mark in marked(marks, "kv "):
        kv = mark["kv_heads"]
        expected_bytes = 2 * gpt3.n_layers * kv * gpt3.d_head * gpt3.context * 2  # keys and values, 16-bit
        assert mark["bytes"] == expected_bytes
        assert_names(mark, expected_bytes / 1e9, kv)
        assert f"{expected_bytes / 1e9:.1f} GB" in drawn_texts(mark)
    stacked = marked(marks, "gpt-3")[0]
    assert stacked["patterns"] == gpt3.n_layers * gpt3.n_heads
    assert_names(stacked, stacked["patterns"], gpt3.n_layers)
    sides = {}
    for mark in marked(marks, "n = "):
        picture = frame_at(frames, mark["time"])[:, :int(x_of(0.0))]  # the square, left of its readout
        blue = np.argwhere(color_mask(picture, BAR_COLOR, 45))
        sides[mark["n"]] = blue[:, 1].max() - blue[:, 1].min()
        assert mark["cells"] == mark["n"] ** 2
        assert_names(mark, mark["n"], mark["cells"])
    ratios = [sides[n] / sides[chapter.CONTEXTS[-1]] for n in chapter.CONTEXTS]
    np.testing.assert_allclose(ratios, [n / chapter.CONTEXTS[-1] for n in chapter.CONTEXTS], atol=0.03)
    c = lm.model.config
    crossover = marked(marks, "crossover")[0]
    assert crossover["crossover"] == -(-(c.n_embd * c.hidden) // (c.n_head * c.head_size))
    assert_names(crossover, crossover["crossover"])


def test_many_heads_renders_with_a_model_we_did_not_make(tmp_path):
    """A tiny Mistral-family folder (rotary positions, one key/value head for its four query heads, '<s>' first): the
    chapter runs to its end, whose frame holds the n × n square of the longest context, to scale."""
    from models import save_hf, sentencepiece_tokenizer
    from PIL import Image

    folder = save_hf(tmp_path / "mistral", "mistral", sentencepiece_tokenizer())
    result = render.render("many_heads", "low", render.ChapterOptions(model=str(folder), fast=True), last_frame_only=True,
                           cache_dir=tmp_path / "renders")
    image = np.asarray(Image.open(result.video).convert("RGB"))
    chapter = chapter_module("many_heads")
    blue = np.argwhere(color_mask(image[:, :int(x_of(0.0))], BAR_COLOR, 45))
    side = blue[:, 1].max() - blue[:, 1].min()
    assert abs(side - chapter.CONTEXTS[-1] * chapter.CELL * PIXELS_PER_UNIT) <= 3


def module_outputs(lm, prompt: str) -> dict[str, torch.Tensor]:
    """What each block's attention and MLP output, what its MLP norm reads and gives, and its first MLP matrix's
    output, every token [T, ...], recorded with torch's own forward hooks (not the library's cache)."""
    found, handles = {}, []

    def keep(name: str, what: str = "output"):
        def hook(module, inputs, output):
            value = inputs[0] if what == "input" else output[0] if isinstance(output, tuple) else output
            found[name] = value[0].detach()
        return hook

    for layer, block in enumerate(lm.model.transformer.h):
        handles += [block.attn.register_forward_hook(keep(f"attn {layer}")), block.mlp.register_forward_hook(keep(f"mlp {layer}")),
                    block.ln_2.register_forward_hook(keep(f"mlp in {layer}", "input")),
                    block.ln_2.register_forward_hook(keep(f"read {layer}")), block.mlp.c_fc.register_forward_hook(keep(f"pre {layer}"))]
    ids = torch.tensor([lm.encode(prompt)])
    with torch.no_grad():
        lm.model(ids)
        transformer = lm.model.transformer
        found["embedding"] = (transformer.wte(ids) + transformer.wpe(torch.arange(ids.shape[1])))[0]
    for handle in handles:
        handle.remove()
    return found


def check_column_heights(image: np.ndarray, bars: list[tuple[float, float, float]], color: str, tolerance: int = 45) -> None:
    """Bars of `color` whose (x, baseline, height) in scene units are given: at each bar's x the coloured run just
    above the baseline is that tall."""
    for x, baseline, height in bars:
        column = color_mask(image[:int(y_of(baseline)) + 2, int(x_of(x))][:, None, :], color, tolerance)[::-1, 0]
        start = int(np.argmax(column[:5])) if column[:5].any() else 5  # the bar's foot, at the baseline's line
        ends = np.flatnonzero(~column[start:])
        drawn = int(ends[0]) if len(ends) else len(column) - start  # the run from the foot up, to the first gap
        assert abs(drawn - height * PIXELS_PER_UNIT) <= 3, (x, drawn, height * PIXELS_PER_UNIT)


def test_mlp_and_residual_chapter(lm, renders):
    """The residual stream, the LayerNorm, the MLP's way up, through the GELU and down, and what it adds, against the
    model's own modules run with torch's hooks; the neuron's answer against W_out and W_U; the lookups against the
    library's measurement; bars and dots where the numbers put them; the captions name the numbers drawn."""
    import torch.nn.functional as F

    from explainer import mlp

    chapter = chapter_module("mlp_and_residual")
    marks, frames = rendered("mlp_and_residual", renders)
    model, layer = lm.model, lm.model.config.n_layer - 1
    found = module_outputs(lm, settings.ROMEO_LINE)
    parts = [found["embedding"]] + [found[f"{part} {l}"] for l in range(model.config.n_layer) for part in ("attn", "mlp")]
    norms = torch.stack(parts).cumsum(0)[:, -1].norm(dim=-1).numpy()  # the last token's length after each stage

    stream = marked(marks, "stream")[0]
    np.testing.assert_allclose(stream["norms"], norms, rtol=1e-5)
    check_bars(frame_at(frames, stream["time"]), list(norms / norms.max()), None, width=chapter.BAR_ROW, height=3.0,
               baseline=-1.5)
    jump = stream["jump"]
    assert jump == 1 + int(np.argmax(np.diff(norms)))
    assert_names(stream, norms[jump - 1], norms[jump], norms[-1])
    assert {f"{v:.1f}" for v in norms} <= set(drawn_texts(stream))

    before = found[f"mlp in {layer}"][-1]
    normalised = marked(marks, "normalised")[0]
    assert normalised["mean"] == pytest.approx(float(before.mean()), abs=1e-5)
    ln = model.transformer.h[layer].ln_2
    assert normalised["std"] == pytest.approx(float(torch.sqrt(before.var(unbiased=False) + ln.eps)), rel=1e-5)
    assert_names(normalised, normalised["mean"], normalised["std"])
    assert any(f"{normalised['std']:.2f}" in text for text in drawn_texts(normalised))
    norm = marked(marks, "read")[0]
    expected = F.layer_norm(before, before.shape, ln.weight, ln.bias, ln.eps).detach()
    np.testing.assert_allclose(norm["read"], found[f"read {layer}"][-1][:chapter.SHOWN].numpy(), atol=1e-5)
    np.testing.assert_allclose(norm["read"], expected[:chapter.SHOWN].numpy(), atol=1e-5)
    np.testing.assert_allclose(norm["normalised"], ((before - before.mean()) / normalised["std"])[:chapter.SHOWN].numpy(),
                               atol=1e-5)

    pre = found[f"pre {layer}"][-1]  # [M]
    up = marked(marks, "up")[0]
    neurons = up["neurons"]
    assert neurons[0] == int(pre.argmin()) and neurons[-1] == int(pre.argmax()), "the drawn neurons span the inputs"
    np.testing.assert_allclose(up["pre"], pre[neurons].numpy(), atol=1e-5)
    W_in = model.transformer.h[layer].mlp.c_fc.weight  # [M, C]
    np.testing.assert_allclose(up["weights"], W_in[neurons, :chapter.SHOWN].detach().numpy(), atol=1e-6)
    assert {f"neuron {n}" for n in neurons} | {f"{v:+.2f}" for v in up["pre"]} <= set(drawn_texts(up))
    assert_names(up, neurons[-1], neurons[0], up["pre"][-1], up["pre"][0], *W_in.shape)

    curve = marked(marks, "nonlinearity")[0]
    post = F.gelu(pre)
    np.testing.assert_allclose(curve["post"], post[neurons].numpy(), atol=1e-5)
    assert curve["firing"] == int((post > mlp.FIRES).sum())
    assert_names(curve, curve["firing"], len(post), mlp.FIRES)
    assert any(f"{curve['firing']} of {len(post)}" in text for text in drawn_texts(curve))
    points = np.array([[x_of(x), y_of(y)] for x, y in curve["points"]])  # pixels: the dots on the curve
    low, high = points.min(axis=0) - 12, points.max(axis=0) + 12
    image = frame_at(frames, curve["time"])[int(low[1]):int(high[1]), int(low[0]):int(high[0])]
    centres = [blob.mean(axis=0)[::-1] + low for blob in components(color_mask(image, HIGHLIGHT_COLOR, 40), 20)]
    for point in points:
        assert min(np.hypot(*(point - centre)) for centre in centres) < 3, "a dot sits at (input, GELU(input))"

    added = found[f"mlp {layer}"][-1]
    down = marked(marks, "down")[0]
    np.testing.assert_allclose(down["added"], added[:chapter.SHOWN].numpy(), atol=1e-5)
    assert_names(down, *W_in.shape)
    total = marked(marks, "added")[0]
    lengths = [float(before.norm()), float(added.norm()), float((before + added).norm())]
    np.testing.assert_allclose(total["lengths"], lengths, rtol=1e-5)
    assert_names(total, *lengths)
    assert {f"length {v:.2f}" for v in lengths} <= set(drawn_texts(total))

    neuron = marked(marks, "neuron")[0]
    assert neuron["neuron"] == int(post.argmax())
    firings = mlp.top_contexts(lm, layer, neuron["neuron"], before=chapter.CONTEXT)[:chapter.FIRINGS]
    assert neuron["activations"] == pytest.approx([f.activation for f in firings])
    assert_names(neuron, neuron["neuron"], neuron["output"], neuron["activations"][0], neuron["activations"][-1])
    answer = marked(marks, "answer")[0]
    gains = (model.transformer.h[layer].mlp.c_proj.weight[:, neuron["neuron"]] @ model.lm_head.weight.T).detach()  # [V]
    vocabulary = lm.vocabulary()
    np.testing.assert_allclose(answer["gains"], [float(gains[vocabulary.index(t)]) for t in answer["tokens"]], atol=1e-5)
    assert answer["gains"] == sorted(answer["gains"], reverse=True)
    assert_names(answer, *answer["gains"][:2])

    phrases = marked(marks, "phrases")[0]
    assert phrases["phrases"] == [[p.first, p.second, p.answer, p.share, p.bigram_share] for p in mlp.set_phrases()[:3]]
    assert_names(phrases, phrases["phrases"][0][3])
    lookups = marked(marks, "lookups")[0]
    measured = mlp.lookups(lm)
    np.testing.assert_allclose(lookups["lookups"], measured.lookup_change["mlp"] + measured.lookup_change["attn"], rtol=1e-6)
    np.testing.assert_allclose(lookups["ordinary"], measured.ordinary_change["mlp"] + measured.ordinary_change["attn"], rtol=1e-6)
    _, pairs, cap = chapter.lookup_bars(measured)
    assert cap == pytest.approx(lookups["cap"])
    image = frame_at(frames, lookups["time"])
    for pair, changes in zip(pairs.values(), zip(lookups["lookups"], lookups["ordinary"])):
        for drawn, change, color in zip(pair[:2], changes, (HIGHLIGHT_COLOR, BAR_COLOR)):
            bar = drawn[0]
            expected = min(max(change, 0.0), cap) / cap * chapter.LOOKUP_HEIGHT
            if change <= cap:  # a bar cut short has a gap across it: its height is checked by the ones below the cap
                check_column_heights(image, [(bar.get_x(), bar.get_bottom()[1], expected)], color)
    verdicts = marked(marks, "verdict ")
    assert " ".join(m["caption"] for m in verdicts) == mlp.lookup_verdict(measured).plain
    names = [f"{mlp.PART_NAMES[p]} {l}" for p in ("mlp", "attn") for l in range(model.config.n_layer)]
    for mark in verdicts:
        for name in mark["named"]:  # a part the verdict names is pointed at, and its numbers are the drawn ones
            index = names.index(name)
            assert_names(mark, lookups["ordinary"][index])
            assert f"{lookups['ordinary'][index]:+.2f}" in drawn_texts(mark)
    assert_names(verdicts[0], lookups["occurrences"], lookups["phrases"], lookups["recall"])


def test_mlp_and_residual_renders_with_a_llama_model(tmp_path):
    """A model we did not make (LLaMA: RMSNorm, a gated SiLU MLP, RoPE, <s> first): the chapter renders to its last
    frame, a picture above the caption."""
    from conftest import load_rgb
    from models import save_hf, sentencepiece_tokenizer

    folder = save_hf(tmp_path / "llama", "llama", sentencepiece_tokenizer())
    result = render.render("mlp_and_residual", "low", render.ChapterOptions(model=str(folder), fast=True),
                           last_frame_only=True, cache_dir=tmp_path / "renders")
    image = load_rgb(result.video)
    assert (image[:PICTURE_BOTTOM_PX].max(axis=2) > 40).mean() > 0.01, "the last frame shows a picture"


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


def hue_mask(image: np.ndarray, hue: str) -> np.ndarray:
    """Pixels clearly blue (blue above red by 60) or orange (red above blue by 60), whatever their brightness."""
    red, blue = image[..., 0].astype(int), image[..., 2].astype(int)
    return blue - red > 60 if hue == "blue" else red - blue > 60


def test_scale_and_cost_chapter(lm, renders):
    """GPT-3's weights from its shape (and the drawn tiles in the attention : MLP proportion), the KV cache on our
    model's own output against generation without a cache, the cache's memory as bars, the n × n grids and the
    crossing of the cost curves; the captions name the numbers drawn."""
    chapter = chapter_module("scale_and_cost")
    marks, frames = rendered("scale_and_cost", renders)
    gpt3 = chapter.GPT3
    d, L, H, k, M, V = gpt3.d_model, gpt3.n_layers, gpt3.n_heads, gpt3.d_head, gpt3.d_mlp, gpt3.vocab
    layer = 4 * d * H * k + 2 * d * M  # W_Q, W_K, W_V, W_O of every head; W_in and W_out
    steps = {"one head": ("head", d * k), "heads": ("heads", d * H * k), "layer": ("layer", layer)}
    for name, (key, value) in steps.items():
        mark = marked(marks, name)[0]
        assert mark[key] == value and f"{value:,}" in " ".join(drawn_texts(mark))
        assert_names(mark, value)
    assert marked(marks, "layer")[0]["squares"] == layer // (d * d) == 12
    tally = marked(marks, "tally")[0]
    assert tally["total"] == L * layer + 2 * V * d == 175_181_291_520, "the talk's count"
    assert_names(tally, 2 * V * d, tally["total"])
    assert f"total: {tally['total']:,}" in drawn_texts(tally)
    (x0, y0), (width, height) = tally["tiles"]  # the first tile's centre and the tiles' pitch
    image = frame_at(frames, tally["time"])
    grid = image[int(y_of(y0 + height)):int(y_of(y0 - 8 * height)), int(x_of(x0 - width / 2)):int(x_of(x0 + 11.5 * width))]
    assert hue_mask(hex_to_rgb(chapter.ATTENTION_COLOR)[None, None], "blue").all()
    assert hue_mask(hex_to_rgb(chapter.MLP_COLOR)[None, None], "orange").all()
    blue, orange = hue_mask(grid, "blue").sum(), hue_mask(grid, "orange").sum()  # by hue: 6-pixel bands blur at 480p
    assert abs(blue / orange - 4 * d * H * k / (2 * d * M)) < 0.06, "the tiles are attention and MLP in proportion"
    shares = marked(marks, "shares")[0]
    assert shares["left_out"] == {"position embedding": gpt3.context * d, "biases and LayerNorms": 15_360_000}
    assert_names(shares, *shares["left_out"].values(), 4 * d * H * k * L / tally["total"], 2 * d * M * L / tally["total"])

    prompt, written = chapter.cache_data(lm)
    text = lm.generate(settings.SNAPSHOT_PROMPT, chapter.NEW_TOKENS, seed=chapter.SEED, use_kv_cache=False)
    assert "".join(written) == text, "the tokens written are the model's own, with or without the cache"
    cache = marked(marks, "cache")[0]
    p, g = len(prompt), len(written)
    assert cache["tokens"] == prompt + written and cache["rows"] == [p + step for step in range(g + 1)]
    assert cache["cached"] == p + g and cache["recomputed"] == sum(cache["rows"])
    assert_names(cache, cache["cached"], cache["recomputed"])
    image = frame_at(frames, cache["time"])
    steps_area = image[:int(y_of(2.75 - g * (chapter.CACHE_CELL + 0.1) - chapter.CACHE_CELL))]  # above the counts
    assert len(components(color_mask(steps_area, POSITIVE_COLOR, 30), 30)) == cache["cached"], "a green cell each"

    memory = marked(marks, "memory")[0]
    gib = [2 * L * kv * k * gpt3.context * 2 / 2**30 for kv in memory["groups"]]  # keys and values, 16-bit numbers
    np.testing.assert_allclose(memory["gib"], gib)
    assert memory["groups"] == [H, 8, 1]
    check_column_heights(frame_at(frames, memory["time"]), [(x, memory["baseline"], v / max(gib) * memory["top"])
                                                            for x, v in zip(memory["columns"], gib) if v / max(gib) > 0.05],
                         BAR_COLOR)
    assert_names(memory, gib[2])
    assert_names(marked(marks, "full memory")[0], gib[0], gpt3.context)
    assert {f"{v:.2f} GiB" for v in gib} <= set(drawn_texts(memory))

    squares = marked(marks, "squares")[0]
    assert squares["cells"] == [n * n for n in squares["sides"]]
    assert_names(squares, *squares["sides"], *squares["cells"])
    assert hue_mask(hex_to_rgb(BAR_COLOR)[None, None], "blue").all()
    blue = components(hue_mask(frame_at(frames, squares["time"]), "blue")[:int(y_of(-1.0))], 100)  # cells and borders
    sides = sorted(blob[:, 1].max() - blob[:, 1].min() + 1 for blob in blue)
    np.testing.assert_allclose(sides, [n * squares["cell"] * PIXELS_PER_UNIT for n in squares["sides"]], atol=2)
    cost = marked(marks, "cost")[0]
    assert cost["crossing"] == d * M // (H * k) == 49_152
    assert cost["ratio"] == pytest.approx(d * M / (gpt3.context * H * k))
    assert_names(cost, cost["crossing"], gpt3.context, cost["ratio"])


def test_no_render_sent_a_web_request(renders, network):
    rendered("scale_and_cost", renders)
    assert network.count == 0, "a render tried to reach the web (Manim's check for a newer version?)"


# ---------- every chapter, by the same rules (after the player's test, which wants an empty cache) ----------

@pytest.mark.parametrize("name", catalogue.NAMES)
def test_every_marked_moment_is_legible(name, renders):
    marks, _ = rendered(name, renders)
    problems = {m["name"]: legibility_problems(m) + masked_color_problems(m) for m in marks["marks"]}
    problems = {k: v for k, v in problems.items() if v}
    assert not problems, problems


@pytest.mark.parametrize("name", catalogue.NAMES)
def test_the_picture_moves_while_the_caption_speaks(name, renders):
    """On the normal-speed clock the scene keeps in fast mode: 90–240 s long, no still stretch over 10 s, moving
    at least 30 % of the time; on the fast render's frames: the picture (title card aside) is almost never empty,
    and it changes while each caption is up."""
    marks, frames = rendered(name, renders)
    assert 90 <= marks["clock_duration"] <= 240, marks["clock_duration"]
    assert longest_still(marks["timeline"]) <= 10
    moving = sum(end - start for start, end, kind in marks["timeline"] if kind == "moving")
    assert moving / marks["clock_duration"] >= 0.3
    flags = video_frames.flags(frames)
    after_title = flags.times >= marks["captions"][0]["at"]
    assert flags.empty[after_title].mean() <= 0.03
    for caption in marks["captions"]:
        up = (flags.times > caption["at"]) & (flags.times <= caption["until"])
        assert flags.changed[up].any(), f"nothing moves under {caption['text'][:50]!r}"
