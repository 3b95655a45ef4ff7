"""Every scene under animations/ renders, and its last frame shows what the scene is about."""

import subprocess
import sys

import av
import numpy as np
import pytest
from scipy import ndimage

from conftest import color_mask, count_runs, load_rgb
from explainer.video import render as scenes
from explainer.errors import UnknownSceneError
from explainer.paths import ANIMATIONS_DIR
from explainer.style import BAR_COLOR, DOT_COLOR, HIGHLIGHT_COLOR

pytestmark = pytest.mark.slow
sys.path.insert(0, str(ANIMATIONS_DIR))
import attention_grid  # noqa: E402  (the scene modules: their data functions are what the scenes draw)
import causal_mask  # noqa: E402
import embedding_analogy  # noqa: E402
import near_orthogonal  # noqa: E402
import network_flow  # noqa: E402
import parameter_count  # noqa: E402
import softmax_temperature  # noqa: E402

PIXELS_PER_UNIT = 480 / 8  # Manim's frame is 8 units high; low quality is 480 pixels high


def bar_columns(image: np.ndarray) -> np.ndarray:
    bars = color_mask(image, BAR_COLOR) | color_mask(image, HIGHLIGHT_COLOR)
    return bars.any(axis=0)


def check_softmax_temperature(image: np.ndarray) -> None:
    tokens, probs_at = softmax_temperature.next_token_bars_data()
    assert count_runs(bar_columns(image), min_length=10) == len(tokens) == softmax_temperature.TOP_K
    highlighted = color_mask(image, HIGHLIGHT_COLOR).any(axis=0)
    assert count_runs(highlighted, min_length=10) == 1, "exactly one bar (the most likely word) is highlighted"
    # The last frame is T = 5: bar heights are proportional to softmax(logits / 5).
    heights = []
    columns = np.flatnonzero(bar_columns(image))
    groups = np.split(columns, np.flatnonzero(np.diff(columns) > 1) + 1)
    for group in groups:
        mask = color_mask(image[:, group], BAR_COLOR) | color_mask(image[:, group], HIGHLIGHT_COLOR)
        heights.append(mask.any(axis=1).sum())
    expected = np.array(probs_at(softmax_temperature.T_END))
    heights = np.array(heights, dtype=float)
    np.testing.assert_allclose(heights / heights.max(), expected / expected.max(), atol=0.08)


def components(mask: np.ndarray, min_pixels: int = 2) -> int:
    labels, count = ndimage.label(mask)
    sizes = np.bincount(labels.ravel())[1:]
    return int((sizes >= min_pixels).sum())


def check_attention_grid(image: np.ndarray) -> None:
    tokens, pattern, query = attention_grid.pattern_data()
    weights = np.array([float(pattern[q, k]) for q in range(len(tokens)) for k in range(q + 1)])
    area_px = np.pi * (attention_grid.dot_radius(1.0) * PIXELS_PER_UNIT) ** 2 * weights
    dots = components(color_mask(image, DOT_COLOR, tolerance=30))
    # Dots of a pixel or two may vanish in anti-aliasing; every dot of 12 pixels or more must be there.
    assert (area_px >= 12).sum() <= dots <= (area_px >= 1).sum(), dots
    box = color_mask(image, HIGHLIGHT_COLOR, tolerance=30)
    tall_columns = (box.sum(axis=0) > 0.6 * len(tokens) * attention_grid.CELL * PIXELS_PER_UNIT).sum()
    assert tall_columns >= 2, "the highlighted query column has its box"


def check_causal_mask(image: np.ndarray) -> None:
    tokens, _, pattern = causal_mask.mask_data()
    n = len(tokens)
    red = (image[..., 0] > 50) & (image[..., 0] > 3 * image[..., 2]) & (image[..., 1] < 40)
    blue = (image[..., 2] > 40) & (image[..., 2] > 2 * image[..., 0] + 10)
    assert components(red, 200) == n * (n - 1) // 2, "one red cell per masked (future) entry"
    assert components(blue, 200) == n * (n + 1) // 2, "one blue cell per allowed entry"
    assert float(pattern.triu(1).abs().max()) == 0.0 and np.allclose(pattern.sum(-1), 1.0)


def check_embedding_analogy(image: np.ndarray) -> None:
    result, at = embedding_analogy.analogy_data()
    assert result.without_inputs[0][0] == "queen" and result.with_inputs[0][0] == "king"
    assert components(color_mask(image, BAR_COLOR, tolerance=30), 15) == 4, "dots for man, king, woman, queen"
    assert components(color_mask(image, embedding_analogy.DIFFERENCE_COLOR, tolerance=30), 150) == 2, \
        "the woman − man arrow, and its copy moved onto king"
    star = color_mask(image, HIGHLIGHT_COLOR, tolerance=30)
    row, col = np.argwhere(star).mean(axis=0)
    expected_col = (at["target"][0] + 16 / 9 * 4) * PIXELS_PER_UNIT
    expected_row = (4 - at["target"][1]) * PIXELS_PER_UNIT
    assert abs(col - expected_col) < 25 and abs(row - expected_row) < 25, "the sum's star sits at the computed point"


def check_near_orthogonal(image: np.ndarray) -> None:
    share, worst = near_orthogonal.trajectory()[-1]
    top = max(float(s.max()) for s, _ in near_orthogonal.trajectory())
    visible = share / top * near_orthogonal.HEIGHT * PIXELS_PER_UNIT >= 3  # bars at least 3 pixels tall
    lower_half = image[int(image.shape[0] * 0.5):]
    bars = count_runs(color_mask(lower_half, BAR_COLOR, tolerance=30).any(axis=0), min_length=5)
    assert bars == int(visible.sum()), (bars, int(visible.sum()))
    assert worst < near_orthogonal.trajectory()[0][1], "the optimiser lowered the worst |cos|"


def check_parameter_count(image: np.ndarray) -> None:
    counts = parameter_count.tally_data()
    total = sum(counts.values())
    assert total == 175_181_291_520
    left = (-2.5 - parameter_count.COLUMN_WIDTH / 2 + 16 / 9 * 4) * PIXELS_PER_UNIT  # the stacked column only
    column = image[:, int(left) + 5: int(left + parameter_count.COLUMN_WIDTH * PIXELS_PER_UNIT) - 5]
    for kind, count in counts.items():
        height = color_mask(column, parameter_count.COLORS[kind], tolerance=20).any(axis=1).sum()
        expected = count / total * parameter_count.COLUMN_HEIGHT * PIXELS_PER_UNIT
        assert abs(height - expected) <= 3, (kind, height, expected)


def check_network_flow(image: np.ndarray) -> None:
    tokens, rows, top_tokens, top_probs = network_flow.flow_data()
    assert len(rows) == 5 and top_probs == sorted(top_probs, reverse=True)
    stages = components(color_mask(image, network_flow.STAGE_COLOR, tolerance=12), 1000)
    assert stages == 6, "embedding, four blocks, unembedding"
    right = image[:, int(image.shape[1] * 0.8):]
    bar_rows = (color_mask(right, BAR_COLOR, 30) | color_mask(right, HIGHLIGHT_COLOR, 30)).any(axis=1)
    assert count_runs(bar_rows, min_length=8) == network_flow.TOP
    widths = [(color_mask(right[r], BAR_COLOR, 30) | color_mask(right[r], HIGHLIGHT_COLOR, 30)).sum()
              for r in np.flatnonzero(bar_rows)]
    assert max(widths) == pytest.approx(2.2 * PIXELS_PER_UNIT, abs=4), "the top bar is 2.2 units long"


CONTENT_CHECKS = {
    "network_flow": check_network_flow,
    "parameter_count": check_parameter_count,
    "near_orthogonal": check_near_orthogonal,
    "embedding_analogy": check_embedding_analogy,
    "attention_grid": check_attention_grid,
    "causal_mask": check_causal_mask,
    "softmax_temperature": check_softmax_temperature,
}


def test_every_scene_has_a_content_check():
    missing = set(scenes.list_scenes()) - set(CONTENT_CHECKS)
    assert not missing, f"add a content check for {sorted(missing)} in tests/test_scenes.py"


@pytest.mark.parametrize("scene", scenes.list_scenes())
def test_scene_renders_its_last_frame(scene, tmp_path):
    png = scenes.render(scene, "low", last_frame_only=True, media_dir=tmp_path)
    image = load_rgb(png)
    assert image.shape[:2] == (480, 854)
    lit = (image.max(axis=-1) > 40).mean()
    assert 0.01 < lit < 0.9, f"frame looks blank or flooded ({lit:.1%} lit pixels)"
    CONTENT_CHECKS[scene](image)


def test_cli_renders_a_video_whose_bars_move(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "explainer.cli", "render", "softmax_temperature", "--quality", "low"],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    video = result.stdout.strip().splitlines()[-1]
    assert video.endswith("SoftmaxTemperature.mp4")
    with av.open(video) as container:
        frames = [f.to_ndarray(format="rgb24").astype(int) for f in container.decode(video=0)]
    assert len(frames) > 100  # about 10 s at 15 fps
    first_bars, last_bars = (color_mask(frames[i], BAR_COLOR) | color_mask(frames[i], HIGHLIGHT_COLOR) for i in (40, -1))
    # At T = 0.1 the top word takes nearly everything; at T = 5 the bars are nearly level.
    assert first_bars.sum() != last_bars.sum()


def test_unknown_scene_lists_the_valid_ones():
    with pytest.raises(UnknownSceneError, match="softmax_temperature"):
        scenes.scene_file("softmax_temprature")
    result = subprocess.run([sys.executable, "-m", "explainer.cli", "render", "nope"], capture_output=True, text=True)
    assert result.returncode == 2 and "Valid scenes" in result.stderr
