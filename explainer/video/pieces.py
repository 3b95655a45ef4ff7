"""What every chapter shares: the Chapter scene (captions that narrate, pauses a learner can read, marks that tests
use to find a moment in the video) and the visual pieces (token rows, probability bars, dot grids, labelled arrows).

Numbers always come from `explainer`; a chapter's settings come from `explainer.settings` and the options the
renderer passes in EXPLAINER_CHAPTER (a JSON object: prompt, layer, head, model, fast).
"""

from __future__ import annotations

import functools
import json
import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np
from manim import (DOWN, LEFT, RIGHT, UP, WHITE, Arrow, Circle, FadeIn, FadeOut, Line, Rectangle, RoundedRectangle,
                   Scene, Text, VGroup, config)

from explainer.style import BAR_COLOR, DOT_COLOR, FONT, HIGHLIGHT_COLOR, MASKED_COLOR, POSITIVE_COLOR, display_token
from explainer.video.render import MARKS_SUFFIX, OPTIONS_VARIABLE

GREY = "#9ca3af"
CAPTION_WIDTH = 12.6  # scene units; the frame is 14.2 wide
READING_WORDS_PER_SECOND = 2.6


def chapter_options() -> dict:
    """The options the renderer passed (prompt, layer, head, model, fast), or {} for a plain `manim render`."""
    return json.loads(os.environ.get(OPTIONS_VARIABLE) or "{}")


class Chapter(Scene):
    """A chapter of the video: subclasses write `chapter()`; captions narrate it at a pace a learner can read.

    In fast mode (tests) every pause is cut to a frame or two; the animations, the content, stay as they are."""

    def setup(self) -> None:
        self.options = chapter_options()
        self.fast = bool(self.options.get("fast"))
        self.marks: list[dict] = []
        self.current_caption: VGroup | None = None
        self._lm = None

    @property
    def lm(self):
        """The model the chapter is about (the shipped one unless the renderer was given --model)."""
        if self._lm is None:
            from explainer.gpt import checkpoint

            self._lm = checkpoint.load(self.options.get("model"))
        return self._lm

    def construct(self) -> None:
        self.chapter()

    def chapter(self) -> None:
        raise NotImplementedError

    # ---- time ----
    def pause(self, seconds: float) -> None:
        """Wait `seconds` (in fast mode: one frame, enough for a test to see the moment)."""
        self.wait(1 / config.frame_rate if self.fast else max(1 / config.frame_rate, seconds))

    def reading_time(self, text: str) -> float:
        return 1.2 + len(text.split()) / READING_WORDS_PER_SECOND

    def mark(self, name: str, **data) -> None:
        """Record that the frame now on screen shows `name` (with the numbers it shows), for the frame tests."""
        self.marks.append({"name": name, "time": float(self.renderer.time), **data})

    def hold(self, name: str, seconds: float = 2.0, **data) -> None:
        """Mark this moment, then keep it on screen."""
        self.mark(name, **data)
        self.pause(seconds)

    def tear_down(self) -> None:
        movie = getattr(self.renderer.file_writer, "movie_file_path", None)
        if movie:
            Path(movie).with_suffix(MARKS_SUFFIX).write_text(json.dumps(
                {"duration": float(self.renderer.time), "animations": self.renderer.num_plays, "fast": self.fast,
                 "options": self.options, "marks": self.marks}, indent=1))

    # ---- words ----
    def caption(self, text: str, read: bool = True, color=WHITE) -> None:
        """Replace the caption at the bottom of the frame, then (by default) wait long enough to read it."""
        new = caption_text(text, color)
        animations = [FadeIn(new, shift=UP * 0.1)]
        if self.current_caption is not None:
            animations.append(FadeOut(self.current_caption))
        self.play(*animations, run_time=0.6)
        self.current_caption = new
        if read:
            self.pause(self.reading_time(text))

    def title_card(self, title: str, subtitle: str) -> None:
        heading = typeset(title, font_size=46, weight="BOLD")
        below = fit(typeset(subtitle, font_size=24, color=GREY), 12)
        card = VGroup(heading, below).arrange(DOWN, buff=0.4)
        self.play(FadeIn(card, shift=UP * 0.2), run_time=1.0)
        self.hold("title", self.reading_time(subtitle))
        self.play(FadeOut(card), run_time=0.6)

    def heading(self, text: str) -> Text:
        """A small heading at the top left that names the current step."""
        return typeset(text, font_size=26, color=HIGHLIGHT_COLOR).to_corner(UP + LEFT, buff=0.35)

    def clear(self, *keep) -> None:
        """Fade out everything but the caption and `keep`."""
        gone = [m for m in self.mobjects if m is not self.current_caption and m not in keep]
        if gone:
            self.play(*[FadeOut(m) for m in gone], run_time=0.6)


@functools.cache
def _typeset_once(words: str, style: tuple) -> Text:
    built = Text(words, font=FONT, **dict(style))
    for glyph in built.family_members_with_points():
        glyph.path_obj = None  # the parsed SVG path: unused once the glyph has its points, and most of a copy's cost
    return built


def typeset(words: str, **style) -> Text:
    """Manim's Text in our font. Pango lays out and the SVG is parsed once per words and style in a process; later
    calls copy that (a chapter sets the same bar labels and numbers again and again). Every animation copies its
    mobjects twice, so the glyphs drop what a copy need not carry."""
    return _typeset_once(words, tuple(sorted(style.items()))).copy()


def fit(mobject, width: float):
    """Shrink a mobject to `width` if it is wider (never enlarge)."""
    if mobject.width > width:
        mobject.scale_to_fit_width(width)
    return mobject


def wrap(text: str, characters: int) -> str:
    """Break a sentence into lines of at most `characters` characters."""
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > characters:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join(lines + [line])


def caption_text(text: str, color=WHITE) -> VGroup:
    """A caption: up to three lines on a dark band at the bottom of the frame."""
    words = fit(typeset(wrap(text, 70), font_size=24, color=color, line_spacing=0.9), CAPTION_WIDTH)
    band = RoundedRectangle(width=words.width + 0.5, height=words.height + 0.35, corner_radius=0.12, stroke_width=0,
                            fill_color="#111827", fill_opacity=0.85)
    return VGroup(band, words).to_edge(DOWN, buff=0.2)


def token_box(token: str, font_size: float = 22, color=WHITE, fill="#1f2937") -> VGroup:
    label = typeset(display_token(token), font_size=font_size, color=color)
    box = RoundedRectangle(width=label.width + 0.22, height=max(0.45, label.height + 0.2), corner_radius=0.08,
                           stroke_color=GREY, stroke_width=1.2, fill_color=fill, fill_opacity=1)
    return VGroup(box, label.move_to(box))


def token_row(tokens: Sequence[str], font_size: float = 22, width: float = 12.5, buff: float = 0.08) -> VGroup:
    """Tokens as boxes in a row, shrunk to fit `width`."""
    return fit(VGroup(*[token_box(t, font_size) for t in tokens]).arrange(RIGHT, buff=buff), width)


def probability_bars(labels: Sequence[str], probs: Sequence[float], width: float = 11.0, height: float = 3.4,
                     highlight: int | None = None, baseline: float = -1.9) -> VGroup:
    """Bars whose heights are the probabilities, labelled below (pass tokens through display_token) and with
    percentages above; `highlight` (default: the largest; -1: none) is drawn in the highlight colour."""
    slot = width / len(labels)
    highlight = max(range(len(probs)), key=lambda i: probs[i]) if highlight is None else highlight
    group = VGroup(Line(LEFT * width / 2, RIGHT * width / 2, color=GREY, stroke_width=2).shift(UP * baseline))
    for i, (text, p) in enumerate(zip(labels, probs)):
        x = -width / 2 + slot * (i + 0.5)
        bar_height = max(float(p) * height, 1e-3)
        bar = Rectangle(width=slot * 0.7, height=bar_height, stroke_width=0,
                        fill_color=HIGHLIGHT_COLOR if i == highlight else BAR_COLOR, fill_opacity=1)
        bar.move_to([x, baseline + bar_height / 2, 0])
        label = fit(typeset(text, font_size=18, color=WHITE), slot * 0.92)
        label.next_to([x, baseline, 0], DOWN, buff=0.12)
        value = typeset(f"{float(p):.0%}", font_size=16, color=GREY).next_to(bar, UP, buff=0.06)
        group.add(VGroup(bar, label, value))
    return group


def dot_radius(weight: float, cell: float) -> float:
    """Area ∝ weight: a weight-1 dot fills 90% of its cell's width."""
    return 0.45 * cell * math.sqrt(max(0.0, weight))


def dot_grid(pattern, cell: float, center=(0.0, 0.0), masked_color: str = MASKED_COLOR, queries_as_columns: bool = True) -> VGroup:
    """An attention pattern [query, key] as dots. With queries as columns (the talk's layout) the future is the
    lower-left triangle; masked cells get a small grey cross."""
    n_query, n_key = pattern.shape
    group = VGroup()
    for q in range(n_query):
        for k in range(n_key):
            row, col = (k, q) if queries_as_columns else (q, k)
            at = grid_point(row, col, n_key if queries_as_columns else n_query, n_query if queries_as_columns else n_key, cell, center)
            if k > q:
                group.add(typeset("×", font_size=12, color=masked_color).move_to(at))
            else:
                group.add(Circle(radius=max(1e-3, dot_radius(float(pattern[q, k]), cell)), stroke_width=0,
                                 fill_color=DOT_COLOR, fill_opacity=1).move_to(at))
    return group


def grid_point(row: int, col: int, n_rows: int, n_cols: int, cell: float, center=(0.0, 0.0)) -> list[float]:
    """Scene coordinates of a grid cell's centre (row 0 at the top)."""
    return [center[0] + (col - (n_cols - 1) / 2) * cell, center[1] - (row - (n_rows - 1) / 2) * cell, 0]


def labelled_arrow(start, end, label: str, color, font_size: float = 20, side=UP) -> VGroup:
    arrow = Arrow(np.array([*start[:2], 0]), np.array([*end[:2], 0]), buff=0, color=color, stroke_width=5,
                  max_tip_length_to_length_ratio=0.15)
    text = typeset(label, font_size=font_size, color=color).next_to(arrow.get_end(), side, buff=0.1)
    return VGroup(arrow, text)


def number_row(values: Sequence[float], font_size: float = 18, color=WHITE, fmt: str = "{:+.2f}") -> VGroup:
    """A vector shown as a column of numbers in brackets, the way the talk draws embeddings."""
    numbers = VGroup(*[typeset(fmt.format(v), font_size=font_size, color=color) for v in values]).arrange(DOWN, buff=0.08)
    left = typeset("[", font_size=font_size * 2.2).next_to(numbers, LEFT, buff=0.05).stretch_to_fit_height(numbers.height + 0.2)
    right = typeset("]", font_size=font_size * 2.2).next_to(numbers, RIGHT, buff=0.05).stretch_to_fit_height(numbers.height + 0.2)
    return VGroup(left, numbers, right)


def labels_apart(points: dict[str, np.ndarray], font_size: float = 20, color=WHITE, gap: float = 0.04) -> VGroup:
    """A label beside each point, nudged so that no two labels overlap and no label covers another point: each goes
    to the first free spot among below, above, right and left of its point, further out if all four are taken."""
    placed: list = []
    dots = [np.asarray(p)[:2] for p in points.values()]

    def free(mobject) -> bool:
        centre, half = mobject.get_center()[:2], np.array([mobject.width, mobject.height]) / 2 + gap
        if any(np.all(np.abs(centre - d) < half + 0.06) for d in dots):
            return False
        return not any(np.all(np.abs(centre - o.get_center()[:2]) < half + np.array([o.width, o.height]) / 2) for o in placed)

    for word, point in points.items():
        label = typeset(word, font_size=font_size, color=color)
        spots = [(side, distance) for distance in (0.1, 0.3, 0.55, 0.85) for side in (DOWN, UP, RIGHT, LEFT)]
        for side, distance in spots:
            label.next_to(point, side, buff=distance)
            if free(label):
                break
        else:
            label.next_to(point, DOWN, buff=0.1)
        placed.append(label)
    return VGroup(*placed)


def tip_to_tail(parts: list[tuple[str, "torch.Tensor"]], total, start, width: float = 9.0):
    """Vectors laid tip to tail, and their sum drawn just below, from the same start to the same horizontal reach:
    (arrows, labels, sum arrow).
    Drawn in the plane of the sum (x) and the biggest part's remaining direction (y), so the sum's length is exact."""
    x = total / total.norm()
    biggest = max((p for _, p in parts), key=lambda p: float(p.norm()))
    y_part = biggest - (biggest @ x) * x
    y = y_part / y_part.norm() if float(y_part.norm()) > 1e-9 else y_part * 0
    scale = width / max(float(total.norm()), sum(float(p.norm()) for _, p in parts))
    arrows, midpoints, position = VGroup(), {}, np.array(start, dtype=float)
    for label, part in parts:
        end = position + np.array([float(part @ x) * scale, float(part @ y) * scale, 0])
        arrows.add(Arrow(position, end, buff=0, stroke_width=4, color=BAR_COLOR, max_tip_length_to_length_ratio=0.2))
        midpoints[label] = (position + end) / 2
        position = end
    below = np.array(start, dtype=float) + np.array([0, -0.75, 0])  # the sum drawn just under the chain, same start
    total_arrow = Arrow(below, below + np.array([float(total.norm()) * scale, 0, 0]), buff=0, color=POSITIVE_COLOR, stroke_width=6)
    return arrows, labels_apart(midpoints, 16), total_arrow
