"""How a rendered chapter moves, measured on its frames: the share of its duration with an empty picture, the share
of frames in which the picture changes, and the longest still stretch. The picture is the part of the frame above
the caption band (PICTURE_BOTTOM); the background is black.

Used by benchmarks/render.py (every chapter at 480p) and by the tests (on fast renders).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

FRAME_HEIGHT_UNITS = 8.0  # Manim's frame
PICTURE_BOTTOM = -2.1  # scene units: the picture lives above, the caption band below (its 3 lines reach -2.15)
INK_LEVEL = 40  # a pixel with a channel above this (of 255) is drawn on; fainter is background
EMPTY_PIXELS = 0.0002  # a picture with fewer inked pixels than this share of its area is empty
CHANGE_LEVEL = 6  # a pixel changed if a channel moved by more than this since the frame before (codec noise: ≤ 3)
CHANGED_PIXELS = 20  # a frame changes if at least this many pixels (at 480p) of the picture changed


@dataclass(frozen=True)
class Motion:
    duration: float  # seconds
    frames: int
    empty_share: float  # of the duration, the picture all background
    changing_share: float  # of the frames, the picture changed since the frame before
    longest_still: float  # seconds: the longest run of frames without a change
    longest_still_at: float  # where that run starts, in seconds

    def as_dict(self) -> dict:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def picture_rows(height: int, picture_bottom: float) -> int:
    """How many rows from the top of a frame `height` pixels tall lie above y = picture_bottom (scene units)."""
    return int(round((FRAME_HEIGHT_UNITS / 2 - picture_bottom) / FRAME_HEIGHT_UNITS * height))


def frames_of(video: Path):
    """(time, RGB array) of every frame of a video."""
    import av

    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            yield float(frame.time), frame.to_ndarray(format="rgb24")


@dataclass(frozen=True)
class Flags:
    """Frame by frame: its time, whether its picture is empty, whether it changed since the frame before."""

    times: np.ndarray  # [frames] seconds
    empty: np.ndarray  # [frames] bool
    changed: np.ndarray  # [frames] bool (the first frame: False)


def brightest_channel(image: np.ndarray) -> np.ndarray:
    """[H, W, 3] → [H, W]: each pixel's largest channel (three element-wise maxima: far faster than .max(axis=2))."""
    return np.maximum(np.maximum(image[..., 0], image[..., 1]), image[..., 2])


def flags(frames: Iterable[tuple[float, np.ndarray]], picture_bottom: float = PICTURE_BOTTOM) -> Flags:
    """Empty and changed flags of (time, RGB uint8 image) frames (see the module's docstring)."""
    times, empty, changed, previous = [], [], [], None
    for time, image in frames:
        picture = image[:picture_rows(image.shape[0], picture_bottom)]  # [H, W, 3] uint8
        at_480p = (480 / image.shape[0]) ** 2  # a pixel's share of a 480p frame's pixels
        inked = np.count_nonzero(brightest_channel(picture) > INK_LEVEL)
        times.append(time)
        empty.append(inked < EMPTY_PIXELS * picture.shape[0] * picture.shape[1])
        moved = 0
        if previous is not None:
            difference = np.maximum(picture, previous) - np.minimum(picture, previous)  # |a − b|, no uint8 wrap-around
            moved = np.count_nonzero(brightest_channel(difference) > CHANGE_LEVEL)
        changed.append(moved * at_480p >= CHANGED_PIXELS)
        previous = picture
    return Flags(np.array(times), np.array(empty), np.array(changed))


def measure(video: Path, picture_bottom: float = PICTURE_BOTTOM) -> Motion:
    """Empty, changing and still shares of a video's picture area (see the module's docstring)."""
    found = flags(frames_of(Path(video)), picture_bottom)
    if len(found.times) < 2:
        raise ValueError(f"{video} has fewer than two frames")
    step = (found.times[-1] - found.times[0]) / (len(found.times) - 1)
    longest, longest_at, run_start = 0, 0, None
    for index, changed in enumerate([*found.changed[1:], True]):
        if not changed and run_start is None:
            run_start = index
        elif changed and run_start is not None:
            if index - run_start > longest:
                longest, longest_at = index - run_start, run_start
            run_start = None
    return Motion(float(found.times[-1] - found.times[0] + step), len(found.times), float(found.empty.mean()),
                  float(found.changed[1:].mean()), float(longest * step), float(found.times[0] + longest_at * step))
