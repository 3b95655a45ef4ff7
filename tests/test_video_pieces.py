"""The shared video machinery without rendering: pieces drawn where they say, the legibility checks able to fail,
text that never morphs, captions cut to fit, and the frame measure on made-up frames."""

import numpy as np
import pytest
from manim import (DOWN, LEFT, RIGHT, UP, AnimationGroup, FadeIn, FadeOut, ReplacementTransform, Square, Transform,
                   VGroup)
from manim.animation.animation import prepare_animation

from explainer.style import BAR_COLOR, DOT_COLOR, HIGHLIGHT_COLOR, MASKED_COLOR
from explainer.video import frames, layout
from explainer.video.pieces import (MASKED_OPACITY, SMALLEST_FONT, Change, DotGrid, InTurn, LabelledArrow, MatrixGrid,
                                    ProbabilityBars, VectorColumn, caption_text, fixed, percent, spread, typeset,
                                    value_fill)
from explainer.video.scene import ChapterError, caption_parts, fits_a_caption, refuse_text_morphs
from test_chapters import DISTINCT, lab, legibility_problems, masked_color_problems, names


def screen(*mobjects) -> dict:
    return {"name": "test", "caption": None, "screen": layout.screen(list(mobjects))}


def test_smallest_font_is_legible_and_a_smaller_one_is_not():
    ok, small = typeset("Hg 0.25", font_size=SMALLEST_FONT), typeset("Hg 0.25", font_size=12).shift(DOWN)
    problems = legibility_problems(screen(ok, small))
    assert len(problems) == 1 and "px tall" in problems[0] and layout.em_pixels(ok) >= 14 > layout.em_pixels(small)
    turned = typeset("Hg 0.25", font_size=SMALLEST_FONT).rotate(np.pi / 2)
    assert layout.em_pixels(turned) == pytest.approx(layout.em_pixels(ok), rel=1e-3), "a quarter turn keeps its size"
    assert layout.em_pixels(typeset("Hg", font_size=SMALLEST_FONT).scale(0.5)) == pytest.approx(layout.em_pixels(ok) / 2, rel=1e-3)


@pytest.mark.parametrize("angle", [0, 30, 90, 135, 200, 270, 330])
def test_a_labelled_arrow_keeps_its_label_off_the_shaft(angle):
    direction = np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle)), 0])
    for side in (UP, DOWN, LEFT, RIGHT):
        arrow = LabelledArrow(-direction * 1.5, direction * 1.5, "a label", side=side)
        assert legibility_problems(screen(arrow)) == [], (angle, side)
    on_the_shaft = LabelledArrow(-direction * 1.5, direction * 1.5, "a label")
    on_the_shaft.label.move_to(on_the_shaft.arrow.get_center())
    assert any("crossed by a line" in p for p in legibility_problems(screen(on_the_shaft))), "the check can fail"


def test_numbers_sit_in_their_own_cells_only():
    column = VectorColumn([0.5, -1.25, 3.0, 0.01], shown=3).move_to(LEFT * 2)
    matrix = MatrixGrid(np.arange(12).reshape(3, 4) / 7, shape=(100, 50), name="W", row_labels=["a", "b", "c"]).move_to(RIGHT * 2)
    assert legibility_problems(screen(column, matrix)) == []
    stray = typeset("9.99", font_size=SMALLEST_FONT).move_to(column.entries[1])
    assert any("'9.99'" in p and "crossed by a box" in p for p in legibility_problems(screen(column, stray)))


def test_probability_bars_keep_their_labels_clear():
    labels = ["␣through", "␣yonder", ",", "␣window", "?", "␣breaks", "mean"]
    bars = ProbabilityBars(labels, [1.0, 0.9, 0.05, 0.7, 0.3, 0.95, 0.5], width=6.0, height=2.5, baseline=0.0)
    assert legibility_problems(screen(bars)) == []


def test_masked_cells_stand_apart_from_every_score_colour():
    grid = DotGrid(np.tril(np.full((4, 4), 0.25)), ["a", "b", "c", "d"], cell=0.5)
    scores = [value_fill(sign * s, 1.0) for s in np.linspace(0, 1, 11) for sign in (1, -1)]
    scores += [(DOT_COLOR, 1.0), (HIGHLIGHT_COLOR, 1.0)]
    masked = lab(MASKED_COLOR, MASKED_OPACITY)
    assert min(np.linalg.norm(masked - lab(color, opacity)) for color, opacity in scores) >= DISTINCT
    cells = VGroup(*[Square(0.3, stroke_width=0, fill_color=color, fill_opacity=opacity) for color, opacity in scores])
    assert masked_color_problems(screen(grid, cells.arrange(RIGHT).shift(DOWN * 3))) == []
    blue_mask = Square(0.3, stroke_width=0, fill_color=BAR_COLOR, fill_opacity=0.5).shift(DOWN * 3)
    blue_mask.role = "masked"
    blue_cell = Square(0.3, stroke_width=0, fill_color=BAR_COLOR, fill_opacity=0.45).shift(UP * 3)
    assert masked_color_problems(screen(blue_mask, blue_cell)), "the check can fail"


def test_text_never_morphs_but_moves_and_fades():
    old, new = typeset("T = 0.5", font_size=24), typeset("T = 1", font_size=24)
    for morph in (Transform(old, new), ReplacementTransform(old.copy(), new.copy()), Transform(VGroup(old), VGroup(new))):
        with pytest.raises(ChapterError, match="morph the text"):
            refuse_text_morphs(morph)
    for fine in (FadeIn(old), old.animate.shift(UP), Change(old, new), Change(VGroup(old), VGroup(new.copy()))):
        refuse_text_morphs(prepare_animation(fine))
    bars = ProbabilityBars(["a", "b"], [0.2, 0.8]), ProbabilityBars(["a", "b"], [0.7, 0.3])
    kinds = sorted(type(a).__name__ for a in Change(*bars).animations)
    assert kinds.count("ReplacementTransform") == 1 + 2 * 2  # the baseline, the two bars, the two unchanged labels
    assert kinds.count("FadeOut") == kinds.count("FadeIn") == 2  # the two values cross-fade


def test_captions_are_cut_to_fit_and_keep_every_word():
    verdict = ("Measured at 400 random places of the validation text, the strongest reader of the previous token is "
               "layer 0, head 2: 27% of the last token's attention goes to the token just before it, against 1.6% for "
               "uniform attention over the window. So it reads the previous token; at step 80: 0.31, at step 8,000: 0.93.")
    parts = caption_parts(verdict)
    assert " ".join(parts).split() == verdict.split() and len(parts) > 1
    assert all(fits_a_caption(part) for part in parts)
    assert not any(part.startswith(("0.", "93")) for part in parts), "no cut inside 'step 80: 0.31'"
    assert caption_text(parts[0]).get_top()[1] <= frames.PICTURE_BOTTOM


def test_animations_are_dealt_over_captions_in_order_the_first_taking_the_extra():
    assert spread(list("abcde"), 3) == [["a", "b"], ["c", "d"], ["e"]]
    assert spread(["a"], 3) == [["a"], [], []]
    for count, parts in ((7, 2), (2, 5), (6, 3)):
        dealt = spread(list(range(count)), parts)
        assert len(dealt) == parts and sum(dealt, []) == list(range(count))
        assert max(map(len, dealt)) - min(map(len, dealt)) <= 1


def test_caption_numbers_are_read_to_their_printed_precision():
    caption = "“,” gets 11%, “␣doth” 9.4%; score 6.0, row 6,355, cost 0.00112, −3.9"
    assert names(caption, 0.1149) and names(caption, 0.0941) and names(caption, 6.04) and names(caption, 6355)
    assert names(caption, 0.001123) and names(caption, -3.94)
    assert not names(caption, 0.125) and not names(caption, 6.1) and not names(caption, 6354)
    assert fixed(0.00112, 3) == "0.00112" and percent(3.4e-5) == "0.0034%" and percent(0.456) == "46%"


def test_the_frame_measure_tells_empty_still_and_moving_frames():
    black = np.zeros((480, 854, 3), np.uint8)
    square = black.copy()
    square[100:140, 100:140] = 200
    under_the_caption = black.copy()
    under_the_caption[460:470, 100:300] = 255  # the caption band is not the picture
    moved = black.copy()
    moved[100:140, 110:150] = 200
    found = frames.flags(enumerate([black, under_the_caption, square, square, moved, moved]))
    assert found.empty.tolist() == [True, True, False, False, False, False]
    assert found.changed.tolist() == [False, False, True, False, True, False]


def test_a_chapter_refuses_a_caption_over_an_empty_picture_or_too_long_for_its_band(tmp_path):
    from manim import tempconfig

    from explainer.video.scene import Chapter

    with tempconfig({"media_dir": str(tmp_path), "dry_run": True}):
        scene = type("NextToken", (Chapter,), {"chapter": lambda self: None})()  # a catalogued name: its title card
        scene.setup()
        with pytest.raises(ChapterError, match="empty picture"):
            scene.narrate("Nothing is drawn yet.")
        with pytest.raises(ChapterError, match="too long"):
            scene.narrate("word " * 60, FadeIn(typeset("x", font_size=SMALLEST_FONT)))


def test_in_turn_puts_each_steps_shapes_on_screen_when_its_turn_comes(tmp_path):
    """Cells flow into place, then give way to the result (VectorColumn's numbers): with InTurn neither the landing
    cells nor the result stand on screen before their step; Manim's Succession shows the landing cells from the start
    (why InTurn exists)."""
    from manim import Scene, Succession, tempconfig

    with tempconfig({"media_dir": str(tmp_path), "dry_run": True}):
        for kind, early in ((Succession, True), (InTurn, False)):
            scene = Scene()
            ghost, landing, result = Square(), Square().shift(RIGHT * 2), Square().shift(RIGHT * 4)
            steps = ReplacementTransform(ghost, landing), AnimationGroup(FadeOut(landing), FadeIn(result))
            scene.compile_animation_data(kind(*steps, run_time=2))
            scene.begin_animations()
            on_screen = scene.get_mobject_family_members()
            assert ghost in on_screen and (landing in on_screen) == early and result not in on_screen, kind.__name__
            scene.update_to_time(1.5)  # the second step
            assert result in scene.get_mobject_family_members(), kind.__name__
