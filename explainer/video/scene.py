"""The Chapter scene every video chapter subclasses: narration that starts with the animation it describes, a title
card from the chapter catalogue, short holds where a test needs a still frame, and marks that record what is on
screen at that moment (the numbers shown, the caption, every text's box and line height, the shapes' boxes).

A chapter reads like this (animations/the_whole_machine.py and animations/how_it_learns.py are full examples):

    class MyChapter(Chapter):
        def chapter(self):
            self.title_card("what this chapter shows")
            bars = ProbabilityBars(labels, probs)
            self.narrate("The model's six most likely next tokens.", FadeIn(bars, lag_ratio=0.1))
            self.hold("bars", probs=probs)                    # a still frame, marked with the numbers it shows
            self.narrate("At T = 2 they flatten.", Change(bars, ProbabilityBars(labels, flatter)))

Rules the scene enforces (ChapterError): no Transform that would morph one text into another (text changes by
fading: `Change`, or FadeOut and FadeIn), and no caption over an empty picture.

Time: in fast mode (tests) pauses are cut to a frame and narration lasts only as long as its animations, but the
scene keeps the clock of the normal-speed video (`clock`), so the marks file tells its length and its still
stretches either way. Options come from the renderer in EXPLAINER_CHAPTER (a JSON object: prompt, layer, head,
model, fast).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from manim import DOWN, LEFT, UP, WHITE, FadeIn, FadeOut, Scene, Text, Transform, VGroup, Wait, config
from manim.animation.animation import prepare_animation

from explainer.errors import ExplainerError
from explainer.style import HIGHLIGHT_COLOR
from explainer.video import catalogue, layout
from explainer.video.frames import PICTURE_BOTTOM
from explainer.video.pieces import (CAPTION_CHARACTERS, CAPTION_LINES, GREY, caption_text, fit, texts_in, typeset,
                                    window, words_of, wrap)
from explainer.video.render import MARKS_SUFFIX, OPTIONS_VARIABLE

READING_WORDS_PER_SECOND = 2.6
CAPTION_FADE = 0.6  # seconds a caption takes to fade in (and the one before it out)
ENTER_SECONDS = 1.0  # seconds a new picture takes to fade in with its caption


class ChapterError(ExplainerError, RuntimeError):
    """A chapter broke a rule of the video (a text morph, a caption over an empty picture)."""


def chapter_options() -> dict:
    """The options the renderer passed (prompt, layer, head, model, fast), or {} for a plain `manim render`."""
    return json.loads(os.environ.get(OPTIONS_VARIABLE) or "{}")


def reading_time(text: str) -> float:
    """Seconds a learner needs to read `text`."""
    return 1.2 + len(text.split()) / READING_WORDS_PER_SECOND


CUTS = (r"(?<=\.)\s+", r"(?<=[;:])\s+(?!\d)", r"(?<=\D,)\s+(?!\d)")  # sentence ends, then ; and :, then commas


def fits_a_caption(text: str) -> bool:
    return wrap(text, CAPTION_CHARACTERS).count("\n") < CAPTION_LINES


def caption_parts(text: str, cuts: tuple[str, ...] = CUTS) -> list[str]:
    """A long computed sentence (a verdict's) cut into captions that fit under the picture: at sentence ends where
    that is enough, else also at semicolons and colons (not "step 80: 0.31"), else also at commas; as few captions
    as possible, as even in length as possible."""
    if fits_a_caption(text) or not cuts:
        return [text]
    clauses = [c for piece in re.split(cuts[0], text.strip()) for c in caption_parts(piece, cuts[1:])]
    best: dict[int, tuple[int, int, list[str]]] = {0: (0, 0, [])}  # clauses used → (captions, longest, captions)
    for end in range(1, len(clauses) + 1):
        options = []
        for start in range(end):
            joined = " ".join(clauses[start:end])
            if start in best and (fits_a_caption(joined) or end - start == 1):
                count, longest, parts = best[start]
                options.append((count + 1, max(longest, len(joined)), parts + [joined]))
        best[end] = min(options, key=lambda option: option[:2])
    return best[len(clauses)][2]


def caption_swap(old: VGroup | None, new: VGroup, share: float) -> list:
    """The caption on screen fades out, then the new one fades in, within the first `share` of a play: they barely
    overlap, so the two never blend into one unreadable band."""
    return [window(FadeIn(new, shift=UP * 0.1), 0.35 * share, share)] + ([window(FadeOut(old), 0, 0.45 * share)] if old else [])


def flatten(animation):
    """An animation and every animation inside it (groups, successions, lagged starts)."""
    yield animation
    for inner in getattr(animation, "animations", ()):
        yield from flatten(inner)


def refuse_text_morphs(animation) -> None:
    """ChapterError if a Transform inside `animation` would turn one text into another: its source and its target
    must hold the same texts, in the same order (moving, scaling or recolouring a text is fine). Transforms whose
    target is made from the source itself when they begin (FadeIn, Indicate, …) are fine."""
    for part in flatten(animation):
        target = getattr(part, "target_mobject", None)
        if isinstance(part, Transform) and (target.submobjects or len(target.points)):
            before, after = [words_of(t) for t in texts_in(part.mobject)], [words_of(t) for t in texts_in(target)]
            if before != after:
                raise ChapterError(f"{type(part).__name__} would morph the text {before[:3]} into {after[:3]}: change "
                                   "text by fading (pieces.Change, or FadeOut and FadeIn)")


class Chapter(Scene):
    """A chapter of the video: subclasses write `chapter()`. See the module's docstring."""

    def setup(self) -> None:
        self.options = chapter_options()
        self.fast = bool(self.options.get("fast"))
        self.entry = catalogue.of_scene(type(self).__name__)
        self.marks: list[dict] = []
        self.current_caption: VGroup | None = None
        self.captions: list[dict] = []  # {"text", "start", "end"} in normal-speed seconds, "at", "until" in the video's
        self.timeline: list[tuple[float, float, str]] = []  # (start, end, "moving" or "still"), normal-speed seconds
        self.clock = 0.0  # seconds of the normal-speed video so far
        self.card: VGroup | None = None  # the title card, on screen until the first caption
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
        self.end_caption()

    def chapter(self) -> None:
        raise NotImplementedError

    # ---- time ----
    def play(self, *animations, **kwargs) -> None:
        """Scene.play, refusing text morphs, keeping the normal-speed clock."""
        self.timed_play(None, *animations, **kwargs)

    def timed_play(self, normal_seconds: float | None, *animations, **kwargs) -> None:
        """Play; in fast mode the normal-speed clock counts `normal_seconds` for it (None: as long as it played)."""
        prepared = [prepare_animation(a) for a in animations]
        for animation in prepared:
            refuse_text_morphs(animation)
        started = self.renderer.time
        super().play(*prepared, **kwargs)
        seconds = self.renderer.time - started if normal_seconds is None or not self.fast else normal_seconds
        still = all(isinstance(a, Wait) for a in prepared)
        self.timeline.append((self.clock, self.clock + seconds, "still" if still else "moving"))
        self.clock += seconds

    def pause(self, seconds: float) -> None:
        """Keep the picture still for `seconds` (in fast mode: one frame, enough for a test to see the moment)."""
        frame = 1 / config.frame_rate
        self.timed_play(seconds, Wait(run_time=frame if self.fast else max(frame, seconds)))

    def mark(self, name: str, **data) -> None:
        """Record that the frame now on screen shows `name`, with the numbers it shows (`data`), the caption on
        screen and every text's and shape's place (explainer.video.layout), for the tests."""
        self.marks.append({"name": name, "time": float(self.renderer.time), "clock": self.clock,
                           "caption": self.current_caption.words if self.current_caption else None, **data,
                           "screen": layout.screen(self.mobjects, self.current_caption)})

    def hold(self, name: str, seconds: float = 1.0, **data) -> None:
        """Mark this moment, then keep it still for `seconds`: only where a mark needs a still frame."""
        self.mark(name, **data)
        self.pause(seconds)

    def tear_down(self) -> None:
        movie = getattr(self.renderer.file_writer, "movie_file_path", None)
        if movie:
            Path(movie).with_suffix(MARKS_SUFFIX).write_text(json.dumps(
                {"duration": float(self.renderer.time), "clock_duration": self.clock, "animations": self.renderer.num_plays,
                 "fast": self.fast, "options": self.options, "captions": self.captions, "timeline": self.timeline,
                 "marks": self.marks}, indent=1))

    # ---- words ----
    def narrate(self, text: str, *animations, run_time: float | None = None, enter=(), clear: bool = False,
                keep=()) -> None:
        """Put up the caption `text` and play `animations` with it, so that the picture moves while the viewer
        reads: first the caption fades in (the one before fades out) with `enter` (a new picture fading in; with
        `clear`, everything else on screen but `keep` fades out, and the title card always does), in under a second;
        then `animations` play for the rest of the caption's reading time (at least their own `run_time`).
        Without animations the caption stands over a still picture, which must not be empty (ChapterError).
        In fast mode the animations last their own run time only.
        Captions sit beneath the picture in drawing order: once faded in they are drawn once, not every frame."""
        prepared = [prepare_animation(a) for a in animations]
        entering = [prepare_animation(a) for a in enter]
        leaving = [m for m in self.mobjects if m is not self.current_caption and m not in keep
                   and (clear or m is self.card)]
        staying = [m for m in self.mobjects if m is not self.current_caption and m not in leaving]
        if not prepared and not entering and not staying:
            raise ChapterError(f"a caption over an empty picture: {text[:60]!r}… (play the animation it describes with it)")
        new = caption_text(text)
        if new.get_top()[1] > PICTURE_BOTTOM:
            raise ChapterError(f"a caption too long to stay under the picture (three lines at most); split it: {text[:60]!r}…")
        new.words = text
        self.end_caption()
        self.captions.append({"text": text, "start": self.clock, "end": None, "at": float(self.renderer.time), "until": None})
        lead = ENTER_SECONDS if entering else CAPTION_FADE
        swap = [*caption_swap(self.current_caption, new, CAPTION_FADE / lead)]
        swap += [window(FadeOut(m), 0, CAPTION_FADE / lead) for m in leaving]
        self.timed_play(None, *swap, *entering, run_time=lead)
        self.bring_to_back(new)
        self.current_caption, self.card = new, None
        own = run_time or max((a.run_time for a in prepared), default=0.0)
        rest = max(own, reading_time(text) - lead)
        if prepared:
            self.timed_play(rest, *prepared, run_time=own if self.fast else rest)
        else:
            self.pause(rest)

    def end_caption(self) -> None:
        """Close the timeline entry of the caption on screen (it is about to be replaced, or the chapter ends)."""
        if self.captions and self.captions[-1]["end"] is None:
            self.captions[-1].update(end=self.clock, until=float(self.renderer.time))

    def caption(self, text: str, read: bool = True, color=WHITE) -> None:
        """The older way, until every chapter narrates: replace the caption, then (by default) wait long enough to
        read it, over whatever is on screen."""
        new = caption_text(text, color)
        new.words = text
        animations = [*caption_swap(self.current_caption, new, 1.0)] + ([FadeOut(self.card)] if self.card else [])
        self.end_caption()
        self.captions.append({"text": text, "start": self.clock, "end": None, "at": float(self.renderer.time), "until": None})
        self.play(*animations, run_time=CAPTION_FADE)
        self.bring_to_back(new)
        self.current_caption, self.card = new, None
        if read:
            self.pause(reading_time(text))

    def reading_time(self, text: str) -> float:
        return reading_time(text)

    def title_card(self, subtitle: str) -> None:
        """The chapter's number and title (from the catalogue) over `subtitle`, held long enough to read; it fades
        out with the first caption."""
        heading = typeset(self.entry.label, font_size=46, weight="BOLD")
        below = fit(typeset(subtitle, font_size=26, color=GREY), 12)
        self.card = VGroup(heading, below).arrange(DOWN, buff=0.4)
        self.play(FadeIn(self.card, shift=UP * 0.2), run_time=1.0)
        self.hold("title", reading_time(subtitle))

    def heading(self, text: str) -> Text:
        """A small heading at the top left that names the current step."""
        return typeset(text, font_size=26, color=HIGHLIGHT_COLOR).to_corner(UP + LEFT, buff=0.35)

    def clear(self, *keep) -> None:
        """Fade out everything but the caption and `keep`."""
        gone = [m for m in self.mobjects if m is not self.current_caption and m not in keep]
        if gone:
            self.play(*[FadeOut(m) for m in gone], run_time=CAPTION_FADE)
