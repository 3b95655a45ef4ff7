"""What is on screen, in pixels of a 480p frame: every text's box and line height, and the boxes and segments of the
shapes a text could collide with. `Chapter.mark` records it, so that tests check legibility at every marked moment
without reading pixels.

A text record: {"text", "box": [left, top, right, bottom], "em": line height in px, "inside": [shape indices]}
("inside": filled boxes that contain the text and belong to the same piece, e.g. a number in its own cell, a token in
its box, a caption on its band: the one overlap allowed). A shape record: {"kind", "box", "color", "opacity",
"role"} plus, for lines, arrows and outlines, "points" (a polyline) and "width" (its stroke in px). Kinds: "dot"
(a filled circle), "box" (a filled polygon: bar, cell, band, arrow tip), "line" (a segment or polyline: a line, an
arrow's shaft, an unfilled outline or curve). y grows downwards, as in an image.
"""

from __future__ import annotations

import math

import numpy as np
from manim import Circle, ImageMobject, Line, Mobject, VMobject, config

from explainer.video.pieces import is_text, line_height, words_of

FRAME_HEIGHT_PX = 480  # legibility is judged at 480p, whatever the render's quality
STROKE_UNITS = 0.01  # Manim's Cairo camera draws a stroke of width w as w × 0.01 scene units


def pixels_per_unit() -> float:
    return FRAME_HEIGHT_PX / config.frame_height


def to_pixels(points) -> np.ndarray:
    """Scene coordinates [..., 2 or 3] to pixel coordinates [..., 2] of the 480p frame (y down)."""
    points = np.asarray(points, dtype=float)
    scale = pixels_per_unit()
    return np.stack([(points[..., 0] + config.frame_width / 2) * scale, (config.frame_height / 2 - points[..., 1]) * scale], -1)


def box_of(mobject: Mobject) -> list[float]:
    corners = to_pixels([mobject.get_corner([-1, 1, 0]), mobject.get_corner([1, -1, 0])])
    return [round(float(v), 2) for v in (*corners[0], *corners[1])]


def em_pixels(text) -> float:
    """How tall a line of `text` is on screen now: its line height when typeset, times the scaling since (the square
    root of the change in its box's area, exact for any scaling and for quarter turns). Texts not made by `typeset`
    use Manim's own font-size bookkeeping."""
    if hasattr(text, "em_units"):
        scale = math.sqrt(text.width * text.height / text.typeset_area) if text.typeset_area > 0 else 1.0
        return text.em_units * scale * pixels_per_unit()
    return line_height(text.font_size) * pixels_per_unit()


def visible(mobject: VMobject) -> bool:
    fill = mobject.get_fill_opacity() > 0.02
    stroke = mobject.get_stroke_opacity() > 0.02 and mobject.get_stroke_width() > 0
    return fill or stroke


def shape_record(mobject: VMobject) -> dict | None:
    """The record of one shape, or None for what is not drawn or is a backdrop (role "backdrop": a surface drawn
    under the picture, such as a heatmap, on which labels may sit)."""
    if not len(mobject.points) or not visible(mobject) or getattr(mobject, "role", None) == "backdrop":
        return None
    filled = mobject.get_fill_opacity() > 0.02
    record = {"box": box_of(mobject), "color": mobject.get_fill_color().to_hex() if filled else mobject.get_stroke_color().to_hex(),
              "opacity": round(float(mobject.get_fill_opacity() if filled else mobject.get_stroke_opacity()), 3),
              "role": getattr(mobject, "role", None)}
    if isinstance(mobject, Line):
        record.update(kind="line", points=to_pixels([mobject.get_start(), mobject.get_end()]).round(2).tolist())
    elif filled:
        record["kind"] = "dot" if isinstance(mobject, Circle) else "box"
    else:
        record.update(kind="line", points=to_pixels(mobject.get_anchors()).round(2).tolist())
    if record["kind"] == "line":
        record["width"] = round(mobject.get_stroke_width() * STROKE_UNITS * pixels_per_unit(), 2)
    return record


def contains(outer: list[float], inner: list[float], slack: float = 0.5) -> bool:
    return (outer[0] - slack <= inner[0] and outer[1] - slack <= inner[1] and inner[2] <= outer[2] + slack
            and inner[3] <= outer[3] + slack)


def screen(mobjects: list[Mobject], caption: Mobject | None = None) -> dict:
    """Every text and shape among `mobjects` (the scene's), as records (see the module's docstring). Texts in
    `caption` are flagged "caption"."""
    texts, shapes = [], []
    in_caption = {id(m) for m in caption.get_family()} if caption is not None else set()

    def walk(mobject: Mobject, ancestors: tuple[int, ...]) -> None:
        if isinstance(mobject, ImageMobject):
            return
        if is_text(mobject):
            if max((g.get_fill_opacity() for g in mobject.family_members_with_points()), default=0) > 0.02:
                texts.append({"text": words_of(mobject), "box": box_of(mobject), "em": round(em_pixels(mobject), 2),
                              "caption": id(mobject) in in_caption, "ancestors": ancestors})
            return
        if isinstance(mobject, VMobject) and (record := shape_record(mobject)):
            shapes.append({**record, "parent": ancestors[-1] if ancestors else None})
        for sub in mobject.submobjects:
            walk(sub, (*ancestors, id(mobject)))

    for mobject in mobjects:
        walk(mobject, ())
    for text in texts:
        text["inside"] = [i for i, s in enumerate(shapes) if s["kind"] == "box" and s["parent"] in text["ancestors"]
                          and contains(s["box"], text["box"])]
        del text["ancestors"]
    for shape in shapes:
        del shape["parent"]
    return {"texts": texts, "shapes": shapes}
