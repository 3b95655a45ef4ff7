"""Reusable visual pieces for the scenes (bars, labels). Numbers always come from `explainer`."""

from __future__ import annotations

from typing import Callable, Sequence

from manim import DOWN, UP, VGroup, Rectangle, Text, Line, LEFT, RIGHT, WHITE, GREY_B

from explainer.style import BAR_COLOR, FONT, HIGHLIGHT_COLOR, display_token

CHART_WIDTH = 11.0
CHART_HEIGHT = 3.2



def probability_bars(
    tokens: Sequence[str],
    probs: Sequence[float],
    baseline_y: float = -2.9,
    width: float = CHART_WIDTH,
    height: float = CHART_HEIGHT,
) -> VGroup:
    """Bars whose heights are the probabilities, labelled with tokens below and percentages above."""
    slot = width / len(tokens)
    best = max(range(len(probs)), key=lambda i: probs[i])
    group = VGroup()
    axis = Line(LEFT * width / 2, RIGHT * width / 2, color=GREY_B, stroke_width=2).shift(UP * baseline_y)
    group.add(axis)
    for i, (token, p) in enumerate(zip(tokens, probs)):
        x = -width / 2 + slot * (i + 0.5)
        bar_height = max(float(p) * height, 1e-3)
        bar = Rectangle(
            width=slot * 0.7, height=bar_height, stroke_width=0,
            fill_color=HIGHLIGHT_COLOR if i == best else BAR_COLOR, fill_opacity=1,
        )
        bar.move_to([x, baseline_y + bar_height / 2, 0])
        label = Text(display_token(token).strip("␣"), font=FONT, font_size=18, color=WHITE)
        if label.width > slot * 0.92:
            label.scale_to_fit_width(slot * 0.92)
        label.next_to([x, baseline_y, 0], DOWN, buff=0.15)
        value = Text(f"{float(p):.0%}", font=FONT, font_size=16, color=GREY_B).next_to(bar, UP, buff=0.08)
        group.add(bar, label, value)
    return group


def redrawn_bars(tokens: Sequence[str], probs_of: Callable[[], Sequence[float]], **kwargs) -> Callable[[], VGroup]:
    """A builder for `always_redraw`: bars for whatever `probs_of()` returns now."""
    return lambda: probability_bars(tokens, probs_of(), **kwargs)


def grid_point(row: int, col: int, n_rows: int, n_cols: int, cell: float, center=(0.0, 0.0)) -> list[float]:
    """Scene coordinates of a grid cell's centre (row 0 at the top)."""
    x = center[0] + (col - (n_cols - 1) / 2) * cell
    y = center[1] - (row - (n_rows - 1) / 2) * cell
    return [x, y, 0]


def token_label(token: str, font_size: float = 14, max_width: float | None = None) -> Text:
    label = Text(display_token(token), font=FONT, font_size=font_size, color=WHITE)
    if max_width and label.width > max_width:
        label.scale_to_fit_width(max_width)
    return label
