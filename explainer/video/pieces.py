"""The visual pieces every chapter shares, like 3Blue1Brown's helpers.py: text in our font (`typeset`), captions,
token rows, a vector as a column of numbers (`VectorColumn`), a matrix that acts on it (`MatrixGrid`), an arrow whose
label keeps off its shaft (`LabelledArrow`), attention dots (`DotGrid`), probability bars (`ProbabilityBars`), and
`Change`, which turns one piece into another of the same shape by moving shapes and cross-fading text.

Legible at 480p: no text is set below SMALLEST_FONT (a line of it is 14 px tall there). Numbers always come from
`explainer`; the pieces only draw them.
"""

from __future__ import annotations

import functools
import math
from typing import Sequence

import numpy as np
from manim import (DOWN, LEFT, RIGHT, UP, WHITE, Add, Animation, AnimationGroup, Arrow, Circle, FadeIn, FadeOut, GrowArrow,
                   LaggedStart, Line, ManimColor, MarkupText, Mobject, Rectangle, ReplacementTransform, RoundedRectangle,
                   Square, Succession, Text, VGroup, VMobject, interpolate_color)

from explainer.style import BAR_COLOR, DOT_COLOR, FONT, HIGHLIGHT_COLOR, MASKED_COLOR, NEGATIVE_COLOR, POSITIVE_COLOR, display_token

GREY = "#9ca3af"
SMALLEST_FONT = 18  # a line of text ("Hg") at this size is 14 px tall in a 480p frame
CAPTION_FONT = 24
CAPTION_WIDTH = 12.6  # scene units; the frame is 14.2 wide
CAPTION_CHARACTERS = 70  # a caption's lines are wrapped at this many characters
CAPTION_LINES = 3  # lines that fit under the picture
MASKED_OPACITY = 0.55  # masked cells: MASKED_COLOR at this opacity, a grey no score colour comes near


# ---------- text ----------

@functools.cache
def _typeset_once(words: str, style: tuple) -> Text:
    built = Text(words, font=FONT, **dict(style))
    for glyph in built.family_members_with_points():
        glyph.path_obj = None  # the parsed SVG path: unused once the glyph has its points, and most of a copy's cost
    return built


@functools.cache
def line_height(font_size: float) -> float:
    """The height in scene units of a line of text at `font_size`: from the top of a capital to the foot of a
    descender ("Hg"). Legibility is measured on it (explainer.video.layout)."""
    return _typeset_once("Hg", (("font_size", font_size),)).height


def typeset(words: str, **style) -> Text:
    """Manim's Text in our font. Pango lays out and the SVG is parsed once per words and style in a process; later
    calls copy that (a chapter sets the same bar labels and numbers again and again). Every animation copies its
    mobjects twice, so the glyphs drop what a copy need not carry.

    The text remembers its line height and its size when typeset (`em_units`, `typeset_area`), so that a mark can
    tell how tall a line of it is on screen after any scaling."""
    text = _typeset_once(words, tuple(sorted(style.items()))).copy()
    text.em_units = line_height(style.get("font_size", 48))
    text.typeset_area = text.width * text.height
    return text


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


def fixed(value: float, significant: int = 2) -> str:
    """A number with `significant` digits, never in exponent form: 10.3, 6.23, 0.00112."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, significant - 1 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}"


def percent(p: float) -> str:
    """A probability as a percentage: whole percents from 10 % up, two significant digits below (9.4%, 0.0034%)."""
    return f"{p:.0%}" if p >= 0.1 else fixed(p * 100, 2) + "%"


def is_text(mobject: Mobject) -> bool:
    return isinstance(mobject, (Text, MarkupText))


def words_of(text: Mobject) -> str:
    """What a Text or MarkupText says, spaces and line breaks included."""
    return getattr(text, "original_text", text.text)


def texts_in(mobject: Mobject) -> list[Mobject]:
    """The text mobjects in a mobject's family, in order (a text's glyphs are not searched)."""
    if is_text(mobject):
        return [mobject]
    return [t for sub in mobject.submobjects for t in texts_in(sub)]


def caption_text(text: str, color=WHITE) -> VGroup:
    """A caption: a few lines on a dark band at the bottom of the frame (CAPTION_LINES stay below the picture)."""
    words = fit(typeset(wrap(text, CAPTION_CHARACTERS), font_size=CAPTION_FONT, color=color, line_spacing=0.9), CAPTION_WIDTH)
    band = RoundedRectangle(width=words.width + 0.5, height=words.height + 0.35, corner_radius=0.12, stroke_width=0,
                            fill_color="#111827", fill_opacity=0.85)
    return VGroup(band, words).to_edge(DOWN, buff=0.2)


# ---------- timing ----------

def window(animation: Animation, start: float, end: float) -> Animation:
    """Re-time `animation` to happen between fractions `start` and `end` of the play it is part of (its own rate
    function kept), still for the rest: a caption can fade in during the first half second of a long animation."""
    inner = animation.rate_func
    span = max(end - start, 1e-9)
    animation.rate_func = lambda t: inner(min(1.0, max(0.0, (t - start) / span)))
    return animation


class InTurn(Succession):
    """Animations played one after another, each one's shapes joining the scene when its turn comes. (Manim's
    Succession puts every part's shapes on screen at the start: the cells a later step moves into would stand there,
    finished, before anything has moved.) Each part that would be added up front is paired with an `Add` of its shapes
    and the pair marked as introducing them, so the scene adds nothing until the part begins."""

    def __init__(self, *animations: Animation, **kwargs):
        parts = [part if part.is_introducer() else AnimationGroup(Add(part.mobject), part, introducer=True)
                 for part in animations]
        super().__init__(*parts, introducer=True, **kwargs)


def spread(animations: Sequence, parts: int) -> list[list]:
    """`animations` dealt out in order over `parts` captions (a verdict cut by caption_parts into as many captions as
    its length needs), as evenly as they go, the first captions taking one more; a caption may get none."""
    share, extra = divmod(len(animations), parts)
    dealt, start = [], 0
    for index in range(parts):
        end = start + share + (1 if index < extra else 0)
        dealt.append(list(animations[start:end]))
        start = end
    return dealt


class Change(AnimationGroup):
    """`old` becomes `new`, a piece of the same shape (bars with new heights, a grid with new weights, a readout with
    new numbers): shapes move and reshape, texts that read the same move, texts that differ cross-fade (glyphs never
    morph). Pieces are paired in order, group by group; what is left over fades. Afterwards `new` is on screen and
    `old` is not, as with ReplacementTransform."""

    def __init__(self, old: Mobject, new: Mobject, **kwargs):
        self.old, self.new = old, new
        super().__init__(*pair_pieces(old, new), group=old, **kwargs)

    def clean_up_from_scene(self, scene) -> None:
        super().clean_up_from_scene(scene)
        scene.remove(self.old)
        scene.add(self.new)


class Refill(Animation):
    """Shapes take on new fill colours: `fills` holds a (colour, opacity) per shape of `shapes`, in order. Only the
    colours are interpolated (no copies of the shapes), so recolouring many cells stays cheap."""

    def __init__(self, shapes: VGroup, fills: Sequence[tuple[str, float]], **kwargs):
        self.fills = [(ManimColor(color), float(opacity)) for color, opacity in fills]
        super().__init__(shapes, **kwargs)

    def begin(self) -> None:
        self.starts = [(ManimColor(shape.get_fill_color()), shape.get_fill_opacity()) for shape in self.mobject]
        super().begin()

    def create_starting_mobject(self) -> Mobject:
        return Mobject()  # the starting colours are all this animation needs

    def interpolate_mobject(self, alpha: float) -> None:
        t = self.rate_func(alpha)
        for shape, (c0, o0), (c1, o1) in zip(self.mobject, self.starts, self.fills):
            shape.set_fill(interpolate_color(c0, c1, t), o0 + (o1 - o0) * t)


def pair_pieces(old: Mobject, new: Mobject) -> list[Animation]:
    if is_text(old) or is_text(new):
        same = is_text(old) and is_text(new) and words_of(old) == words_of(new)
        return [ReplacementTransform(old, new)] if same else [FadeOut(old), FadeIn(new)]
    leaf = len(old.points) or len(new.points) or not old.submobjects or not new.submobjects
    if leaf:
        return [FadeOut(old), FadeIn(new)] if texts_in(old) or texts_in(new) else [ReplacementTransform(old, new)]
    animations = [a for o, n in zip(old.submobjects, new.submobjects) for a in pair_pieces(o, n)]
    animations += [FadeOut(o) for o in old.submobjects[len(new.submobjects):]]
    animations += [FadeIn(n) for n in new.submobjects[len(old.submobjects):]]
    return animations


# ---------- tokens ----------

def token_box(token: str, font_size: float = 22, color=WHITE, fill="#1f2937", min_width: float = 0.0) -> VGroup:
    """A token (made visible by display_token) in a box at least `min_width` wide."""
    label = typeset(display_token(token), font_size=font_size, color=color)
    box = RoundedRectangle(width=max(label.width + 0.22, min_width), height=max(0.45, label.height + 0.2),
                           corner_radius=0.08, stroke_color=GREY, stroke_width=1.2, fill_color=fill, fill_opacity=1)
    return VGroup(box, label.move_to(box))


def token_row(tokens: Sequence[str], font_size: float = 22, width: float = 12.5, buff: float = 0.08,
              min_width: float = 0.0) -> VGroup:
    """Tokens as boxes in a row (each at least `min_width` wide, room for a number under it), shrunk to fit `width`."""
    return fit(VGroup(*[token_box(t, font_size, min_width=min_width) for t in tokens]).arrange(RIGHT, buff=buff), width)


# ---------- vectors and matrices ----------

def value_fill(value: float, scale: float) -> tuple[str, float]:
    """A number's cell colour: blue for positive, red for negative, stronger for larger |value| (relative to
    `scale`), never so strong that a white number on it is hard to read."""
    strength = min(1.0, abs(value) / scale) if scale > 0 else 0.0
    return (BAR_COLOR if value >= 0 else NEGATIVE_COLOR), 0.12 + 0.6 * strength


def bracket(height: float, side: int, color=WHITE) -> VMobject:
    """A square bracket as lines (side −1: '[', +1: ']'), `height` tall, its spine at x = 0."""
    arm = 0.12 * -side
    shape = VMobject(stroke_color=color, stroke_width=2.5)
    shape.set_points_as_corners([[arm, height / 2, 0], [0, height / 2, 0], [0, -height / 2, 0], [arm, -height / 2, 0]])
    return shape


def number_cell(value: float | None, width: float, height: float, scale: float, fmt: str, font_size: float,
                numbers: bool = True) -> VGroup:
    """One entry: a coloured cell, and its number written inside it (None: an empty slot)."""
    color, opacity = value_fill(value or 0.0, scale)
    cell = Rectangle(width=width, height=height, stroke_width=0.8, stroke_color=GREY, fill_color=color,
                     fill_opacity=opacity if value is not None else 0)
    if value is None or not numbers:
        return VGroup(cell)
    return VGroup(cell, typeset(fmt.format(value), font_size=font_size).move_to(cell))


class VectorColumn(VGroup):
    """A vector as a column of numbers in brackets, each in a cell coloured by its sign and size (the talk's
    embeddings). With more values than `shown`, the first `shown` are drawn and a '⋮' row stands for the rest.
    `numbers=False` draws the cells alone (many vectors side by side).

    Parts: `entries` (one VGroup(cell, number) per shown value), `more` (the '⋮', or None), `brackets`."""

    def __init__(self, values: Sequence[float], shown: int = 8, font_size: float = SMALLEST_FONT, fmt: str = "{:+.2f}",
                 numbers: bool = True, scale: float | None = None, cell_width: float | None = None):
        super().__init__()
        self.values = [float(v) for v in values]
        visible = self.values[:shown]
        scale = scale if scale is not None else max((abs(v) for v in visible), default=1.0)
        height = line_height(font_size) + 0.14
        width = cell_width or (max(typeset(fmt.format(v), font_size=font_size).width for v in visible) + 0.16
                               if numbers else height)
        self.entries = VGroup(*[number_cell(v, width, height, scale, fmt, font_size, numbers) for v in visible])
        self.entries.arrange(DOWN, buff=0)
        self.more = None
        if len(self.values) > shown:
            self.more = typeset("⋮", font_size=font_size, color=GREY).next_to(self.entries, DOWN, buff=0.08)
        body = VGroup(self.entries, *([self.more] if self.more else []))
        self.brackets = VGroup(bracket(body.height + 0.16, -1).next_to(body, LEFT, buff=0.06),
                               bracket(body.height + 0.16, +1).next_to(body, RIGHT, buff=0.06))
        self.add(self.brackets, self.entries, *([self.more] if self.more else []))

    def cells(self) -> VGroup:
        """The entries' cells alone (copies), for a picture of the vector flowing somewhere."""
        return VGroup(*[entry[0].copy() for entry in self.entries])


class MatrixGrid(VGroup):
    """A matrix as a grid of cells, numbers inside, with brackets; `values` [rows, columns] is the part shown and
    `shape` the whole matrix's (rows, columns): the rest is drawn as '⋯' and '⋮'. Optional labels name the rows
    (tokens, for the unembedding) and the matrix ('W_U', with its shape written under it).

    `multiply(vector, result)` is the matrix acting on a vector: the vector's cells slide onto each row, then flow
    into that row's entry of the result."""

    def __init__(self, values, shape: tuple[int, int] | None = None, name: str | None = None,
                 row_labels: Sequence[str] | None = None, font_size: float = SMALLEST_FONT, fmt: str = "{:+.1f}",
                 numbers: bool = True, cell_width: float | None = None):
        super().__init__()
        values = np.asarray(values, dtype=float)
        rows, columns = values.shape
        self.shape = shape or (rows, columns)
        scale = float(np.abs(values).max()) or 1.0
        height = line_height(font_size) + 0.14
        width = cell_width or (max(typeset(fmt.format(v), font_size=font_size).width for v in values.flat) + 0.14
                               if numbers else height)
        self.rows = VGroup()
        for r in range(rows):
            row = VGroup(*[number_cell(float(v), width, height, scale, fmt, font_size, numbers) for v in values[r]])
            row.arrange(RIGHT, buff=0)
            if self.shape[1] > columns:
                row.add(typeset("⋯", font_size=font_size, color=GREY).next_to(row, RIGHT, buff=0.1))
            self.rows.add(row)
        self.rows.arrange(DOWN, buff=0, aligned_edge=LEFT)
        body = VGroup(self.rows)
        if self.shape[0] > rows:
            body.add(typeset("⋮", font_size=font_size, color=GREY).next_to(self.rows, DOWN, buff=0.08))
        self.brackets = VGroup(bracket(body.height + 0.16, -1).next_to(body, LEFT, buff=0.06),
                               bracket(body.height + 0.16, +1).next_to(body, RIGHT, buff=0.06))
        self.add(self.brackets, body)
        self.row_labels = VGroup()
        if row_labels is not None:
            for row, label in zip(self.rows, row_labels):
                self.row_labels.add(typeset(label, font_size=font_size).next_to(self.brackets[0], LEFT, buff=0.15)
                                    .set_y(row.get_y()))
            self.add(self.row_labels)
        self.name = None
        if name is not None:
            self.name = typeset(f"{name}   {self.shape[0]:,} × {self.shape[1]:,}", font_size=font_size, color=HIGHLIGHT_COLOR)
            self.add(self.name.next_to(VGroup(self.brackets, body), UP, buff=0.15))

    def lift_row(self, index: int, column: VectorColumn) -> Animation:
        """Row `index` leaves the matrix and stands up as `column` (the same numbers, placed by the caller): its
        cells fly to the column's cells, then the column's numbers fade in (a lookup: an id picking its row)."""
        ghost = VGroup(*[entry[0].copy() for entry in self.rows[index][:len(column.entries)]])
        landing = column.cells()
        return InTurn(ReplacementTransform(ghost, landing), AnimationGroup(FadeOut(landing), FadeIn(column)))

    def multiply(self, vector: VectorColumn, result: VectorColumn, lag_ratio: float = 0.35) -> Animation:
        """The matrix acting on `vector` (its shown entries line up with the shown columns): for each shown row, the
        vector's cells slide onto the row and flow into that row's entry of `result`, which then appears. The
        result's brackets (and '⋮') appear first."""
        frame = [FadeIn(result.brackets), *([FadeIn(result.more)] if result.more else [])]
        per_row = []
        for row, entry in zip(self.rows, result.entries):
            ghost = vector.cells()
            over_row = VGroup(*[cell[0].copy().set_fill(ghost[i].get_fill_color(), ghost[i].get_fill_opacity())
                                for i, cell in enumerate(row[:len(ghost)])])
            into = VGroup(*[entry[0].copy().set_fill(ghost[i].get_fill_color(), 0.9) for i in range(len(ghost))])
            per_row.append(InTurn(ReplacementTransform(ghost, over_row), ReplacementTransform(over_row, into),
                                      AnimationGroup(FadeOut(into), FadeIn(entry))))
        return AnimationGroup(*frame, LaggedStart(*per_row, lag_ratio=lag_ratio))


# ---------- arrows ----------

class LabelledArrow(VGroup):
    """An arrow with a label beside its shaft, never on it: the label's box is pushed off the shaft's line by half
    its own extent across the line, half the tip's width and a gap. `side` (UP, DOWN, LEFT, RIGHT) says which side
    of the shaft; `at` is where along it (0 start … 1 end). With `at="end"` the label goes past the tip instead.

    Parts: `arrow`, `label`; `grow()` is the animation that draws both."""

    def __init__(self, start, end, label: str, color=WHITE, side=UP, at: float | str = 0.5,
                 font_size: float = SMALLEST_FONT, stroke_width: float = 5, gap: float = 0.1):
        start, end = np.array([*start[:2], 0.0]), np.array([*end[:2], 0.0])
        self.arrow = Arrow(start, end, buff=0, color=color, stroke_width=stroke_width, max_tip_length_to_length_ratio=0.25,
                           max_stroke_width_to_length_ratio=8)
        self.label = typeset(label, font_size=font_size, color=color)
        direction = (end - start) / max(np.linalg.norm(end - start), 1e-9)
        half = np.array([self.label.width / 2, self.label.height / 2])
        if at == "end":
            reach = abs(direction[0]) * half[0] + abs(direction[1]) * half[1]
            self.label.move_to(end + direction * (reach + gap))
        else:
            normal = np.array([-direction[1], direction[0], 0.0])
            if normal @ np.asarray(side, dtype=float) < 0:
                normal = -normal
            reach = abs(normal[0]) * half[0] + abs(normal[1]) * half[1]
            clearance = max(self.arrow.get_stroke_width() * 0.005, tip_half_width(self.arrow))
            self.label.move_to(start + (end - start) * float(at) + normal * (reach + gap + clearance))
        super().__init__(self.arrow, self.label)

    def grow(self) -> Animation:
        return AnimationGroup(GrowArrow(self.arrow), FadeIn(self.label))


def tip_half_width(arrow: Arrow) -> float:
    """Half the width of an arrow's tip, across the shaft."""
    points = np.asarray(arrow.tip.get_anchors())[:, :2]
    direction = arrow.get_unit_vector()[:2]
    across = points @ np.array([-direction[1], direction[0]])
    return float(across.max() - across.min()) / 2


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


# ---------- plots ----------

class PlotAxes(VGroup):
    """Axes drawn in our font (no LaTeX): `x_range` and `y_range` (low, high) mapped onto a `width` × `height` box
    whose lower-left corner is `corner`, with numbered ticks and the axes' names (the x name under the numbers, the
    y name above the axis, both level). `point(x, y)` is where a value lands; `line(xs, ys)` draws through values."""

    def __init__(self, x_range: tuple[float, float], y_range: tuple[float, float], width: float, height: float,
                 corner=(0.0, 0.0), x_ticks: Sequence[float] = (), y_ticks: Sequence[float] = (), x_label: str = "",
                 y_label: str = "", x_format: str = "{:g}", y_format: str = "{:g}", font_size: float = SMALLEST_FONT):
        super().__init__()
        self.x_range, self.y_range, self.width_units, self.height_units = x_range, y_range, width, height
        self.corner = np.array([corner[0], corner[1], 0.0])
        x0, y0 = self.corner[:2]
        self.add(Line([x0, y0, 0], [x0 + width, y0, 0], color=GREY, stroke_width=2),
                 Line([x0, y0, 0], [x0, y0 + height, 0], color=GREY, stroke_width=2))
        numbers = VGroup()
        for value in x_ticks:
            numbers.add(typeset(x_format.format(value), font_size=font_size, color=GREY).next_to(self.point(value, y_range[0]), DOWN, buff=0.12))
        for value in y_ticks:
            numbers.add(typeset(y_format.format(value), font_size=font_size, color=GREY).next_to(self.point(x_range[0], value), LEFT, buff=0.12))
        self.add(numbers)
        if x_label:
            self.add(typeset(x_label, font_size=font_size, color=GREY).next_to(numbers if x_ticks else self[0], DOWN, buff=0.12)
                     .set_x(x0 + width / 2))
        if y_label:
            self.add(typeset(y_label, font_size=font_size, color=GREY).next_to([x0, y0 + height, 0], UP, buff=0.15)
                     .align_to([x0 - 0.3, 0, 0], LEFT))

    def point(self, x: float, y: float) -> np.ndarray:
        (x_low, x_high), (y_low, y_high) = self.x_range, self.y_range
        return self.corner + np.array([(x - x_low) / (x_high - x_low) * self.width_units,
                                       (y - y_low) / (y_high - y_low) * self.height_units, 0.0])

    def value(self, point) -> tuple[float, float]:
        """The (x, y) values at a scene point: point's inverse."""
        (x_low, x_high), (y_low, y_high) = self.x_range, self.y_range
        offset = np.asarray(point)[:2] - self.corner[:2]
        return (x_low + offset[0] / self.width_units * (x_high - x_low), y_low + offset[1] / self.height_units * (y_high - y_low))

    def line(self, xs: Sequence[float], ys: Sequence[float], color=BAR_COLOR, stroke_width: float = 4) -> VMobject:
        """A line through the points (xs[i], ys[i]), drawn as straight pieces between them."""
        line = VMobject(stroke_color=color, stroke_width=stroke_width)
        line.set_points_as_corners([self.point(x, y) for x, y in zip(xs, ys)])
        return line


# ---------- attention dots ----------

def dot_radius(weight: float, cell: float) -> float:
    """Area ∝ weight: a weight-1 dot fills 90% of its cell's width."""
    return 0.45 * cell * math.sqrt(max(0.0, weight))


def grid_point(row: int, col: int, n_rows: int, n_cols: int, cell: float, center=(0.0, 0.0)) -> list[float]:
    """Scene coordinates of a grid cell's centre (row 0 at the top)."""
    return [center[0] + (col - (n_cols - 1) / 2) * cell, center[1] - (row - (n_rows - 1) / 2) * cell, 0]


class DotGrid(VGroup):
    """An attention pattern [query, key] as dots, area ∝ weight, and the masked (future) cells as grey squares
    (MASKED_COLOR, a colour no score is drawn in), with the tokens along both axes. With queries as columns (the
    talk's layout) the future is the lower-left triangle; with queries as rows (our notebooks') the upper right.

    Parts: `dots` (query-major: index q · n + k, masked cells included as zero-size dots), `masked`, `labels`.
    `Change(grid, DotGrid(new_pattern, …))` moves every dot to its new size."""

    def __init__(self, pattern, tokens: Sequence[str] | None = None, cell: float = 0.4, center=(0.0, 0.0),
                 queries_as_columns: bool = True, font_size: float = SMALLEST_FONT):
        super().__init__()
        pattern = np.asarray(pattern, dtype=float)
        n = pattern.shape[0]
        self.cell, self.center, self.queries_as_columns = cell, center, queries_as_columns
        self.dots, self.masked = VGroup(), VGroup()
        for q in range(n):
            for k in range(n):
                at = self.point(q, k, n)
                weight = 0.0 if k > q else float(pattern[q, k])
                dot = Circle(radius=max(1e-3, dot_radius(weight, cell)), stroke_width=0, fill_color=DOT_COLOR, fill_opacity=1)
                self.dots.add(dot.move_to(at))
                if k > q:
                    square = Square(cell * 0.62, stroke_width=0, fill_color=MASKED_COLOR, fill_opacity=MASKED_OPACITY)
                    square.role = "masked"
                    self.masked.add(square.move_to(at))
        self.add(self.masked, self.dots)
        self.labels = VGroup()
        if tokens is not None:
            self.labels = self.axis_labels(tokens, n, font_size)
            self.add(self.labels)

    def point(self, q: int, k: int, n: int) -> list[float]:
        row, col = (k, q) if self.queries_as_columns else (q, k)
        return grid_point(row, col, n, n, self.cell, self.center)

    def axis_labels(self, tokens: Sequence[str], n: int, font_size: float) -> VGroup:
        """Tokens beside the rows and (turned upright) above the columns, and the axes' names."""
        rows, columns = VGroup(), VGroup()
        for i, token in enumerate(tokens):
            left = typeset(display_token(token), font_size=font_size)
            rows.add(left.next_to(grid_point(i, 0, n, n, self.cell, self.center), LEFT, buff=self.cell / 2 + 0.12))
            above = typeset(display_token(token), font_size=font_size).rotate(math.pi / 2)
            columns.add(above.next_to(grid_point(0, i, n, n, self.cell, self.center), UP, buff=self.cell / 2 + 0.12))
        row_name, column_name = ("keys", "queries") if self.queries_as_columns else ("queries", "keys")
        names = VGroup(typeset(row_name, font_size=font_size, color=GREY).next_to(rows, LEFT, buff=0.2),
                       typeset(column_name, font_size=font_size, color=GREY).next_to(columns, UP, buff=0.1))
        return VGroup(rows, columns, names)


# ---------- bars ----------

class ProbabilityBars(VGroup):
    """Bars whose heights are `probs` (1 = `height`), standing on a baseline at y = `baseline`, each labelled below
    (pass tokens through display_token) and with its value above (`values`, or the probabilities as percentages). A label wider than its slot is turned upright; no
    bar ever crosses a label. `highlight` (default: the largest; −1: none) is drawn in the highlight colour.

    Parts: self[0] the baseline, self[1 + i] = VGroup(bar, label, value). `Change(bars, ProbabilityBars(…))` grows
    the bars to new heights and cross-fades the numbers that changed."""

    def __init__(self, labels: Sequence[str], probs: Sequence[float], width: float = 11.0, height: float = 3.4,
                 highlight: int | None = None, baseline: float = -1.9, values: Sequence[str] | None = None,
                 font_size: float = SMALLEST_FONT, center_x: float = 0.0):
        super().__init__()
        slot = width / len(labels)
        highlight = max(range(len(probs)), key=lambda i: probs[i]) if highlight is None else highlight
        values = values if values is not None else [f"{float(p):.0%}" for p in probs]
        self.add(Line([center_x - width / 2, baseline, 0], [center_x + width / 2, baseline, 0], color=GREY, stroke_width=2))
        for i, (text, p, written) in enumerate(zip(labels, probs, values)):
            x = center_x - width / 2 + slot * (i + 0.5)
            bar_height = max(float(p) * height, 1e-3)
            bar = Rectangle(width=slot * 0.7, height=bar_height, stroke_width=0,
                            fill_color=HIGHLIGHT_COLOR if i == highlight else BAR_COLOR, fill_opacity=1)
            bar.move_to([x, baseline + bar_height / 2, 0])
            label = typeset(text, font_size=font_size, color=WHITE)
            if label.width > slot * 0.92:
                label.rotate(math.pi / 2)
            label.next_to([x, baseline, 0], DOWN, buff=0.12)
            value = typeset(written, font_size=font_size, color=GREY).next_to(bar, UP, buff=0.06)
            self.add(VGroup(bar, label, value))
