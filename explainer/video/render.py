"""Render the video chapters under animations/ with Manim, with the user's prompt, layer, head and model, cached by
those settings under build/videos/ (a render is reused until the code, the model or the settings change).

Scenes import `explainer` as the installed package; nothing is added to their path. Options reach a scene as JSON in
the EXPLAINER_CHAPTER environment variable; the scene writes the moments it marks beside the video (.marks.json).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from explainer.errors import ExplainerError
from explainer.files import atomic_path
from explainer.paths import ANIMATIONS_DIR, BUILD_DIR, DATA_DIR, PROJECT_ROOT
from explainer.video import catalogue

QUALITY_FLAGS = {"low": "-ql", "medium": "-qm", "high": "-qh"}
OPTIONS_VARIABLE = "EXPLAINER_CHAPTER"  # the JSON options a chapter reads (prompt, layer, head, model, fast)
MARKS_SUFFIX = ".marks.json"  # beside each video: the moments its chapter marked
FAST_FRAME_RATE = 5  # tests: every animation is kept, at fewer frames per second
CACHE_DIR = BUILD_DIR / "videos"


class RenderError(ExplainerError, RuntimeError):
    """Manim failed; the message carries the end of its output."""


def scene_file(scene: str) -> Path:
    """The file of a chapter, or UnknownSceneError listing the valid names."""
    catalogue.entry(scene)
    return ANIMATIONS_DIR / f"{scene}.py"


@dataclass(frozen=True)
class ChapterOptions:
    """What a user may change in a chapter; None keeps the chapter's own setting."""

    prompt: str | None = None
    layer: int | None = None
    head: int | None = None
    model: str | None = None  # a checkpoint folder, nanoGPT ckpt.pt or GPT-2 folder
    fast: bool = False  # tests: pauses cut short, fewer frames per second

    def check(self) -> None:
        """One-line errors for values the chapter could not use, before Manim starts."""
        if self.prompt is not None and not self.prompt.strip():
            raise ExplainerError("the prompt is empty: type at least one word, or leave --prompt out")
        if self.layer is None and self.head is None:
            return
        from explainer.gpt import checkpoint

        config = checkpoint.load(self.model).model.config
        if self.layer is not None and not 0 <= self.layer < config.n_layer:
            raise ExplainerError(f"--layer must be 0 … {config.n_layer - 1} for this model, got {self.layer}")
        if self.head is not None and not 0 <= self.head < config.n_head:
            raise ExplainerError(f"--head must be 0 … {config.n_head - 1} for this model, got {self.head}")

    def as_env(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v not in (None, False)})


def sources_digest(scene: str) -> str:
    """What a render depends on besides its options: the chapter, the library's code, the shipped data and model."""
    digest = hashlib.sha256()
    files = [scene_file(scene), *sorted((PROJECT_ROOT / "explainer").rglob("*.py")),
             *sorted((DATA_DIR / "precomputed").glob("*.json")), DATA_DIR / "shakespeare-bpe" / "model.safetensors"]
    for path in files:
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def model_digest(model: str | None) -> str:
    if model is None:
        return "shipped"
    path = Path(model)
    files = sorted(p for p in (path.rglob("*") if path.is_dir() else [path]) if p.is_file())
    return hashlib.sha256("".join(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files).encode()).hexdigest()


@dataclass(frozen=True)
class Rendered:
    video: Path  # the .mp4 (or the .png of the last frame)
    marks: Path | None  # the moments the chapter marked, with their times and numbers
    cached: bool


def cache_key(scene: str, quality: str, options: ChapterOptions, last_frame_only: bool) -> str:
    record = json.dumps([scene, quality, options.as_env(), last_frame_only, sources_digest(scene), model_digest(options.model)])
    return hashlib.sha256(record.encode()).hexdigest()[:16]


def render(scene: str, quality: str = "low", options: ChapterOptions = ChapterOptions(), last_frame_only: bool = False,
           cache_dir: Path = CACHE_DIR, progress: Callable[[int], None] | None = None, timeout_s: float = 1800) -> Rendered:
    """Render a chapter with Manim in a subprocess, or reuse the cached render for the same settings.
    `progress` is called with the number of animations written so far."""
    if quality not in QUALITY_FLAGS:
        raise ExplainerError(f"quality must be one of {', '.join(QUALITY_FLAGS)}, got {quality!r}")
    path = scene_file(scene)
    options.check()
    key = cache_key(scene, quality, options, last_frame_only)
    suffix = ".png" if last_frame_only else ".mp4"
    target = Path(cache_dir) / f"{scene}-{key}{suffix}"
    marks = target.with_suffix(MARKS_SUFFIX)
    if target.is_file():
        return Rendered(target, marks if marks.is_file() else None, True)
    class_name = catalogue.entry(scene).scene
    with tempfile.TemporaryDirectory(prefix="manim-") as media:
        command = [sys.executable, "-m", "manim", "render", QUALITY_FLAGS[quality], "--media_dir", media,
                   "--disable_caching", "--progress_bar", "none", "--verbosity", "INFO",
                   "--silent"]  # Manim asks PyPI for a newer version after every render unless told not to
        if options.fast:
            command += ["--frame_rate", str(FAST_FRAME_RATE)]
        if last_frame_only:
            command.append("-s")
        command += [str(path), class_name]
        env = {**os.environ, OPTIONS_VARIABLE: options.as_env()}
        log = run_manim(command, path.parent, env, progress, timeout_s)
        outputs = [p for p in Path(media).rglob(f"{class_name}*{suffix}") if "partial_movie_files" not in p.parts]
        if not outputs:
            raise RenderError(f"manim finished but wrote no {suffix} for {scene!r}:\n{log[-2000:]}")
        output = max(outputs, key=lambda p: p.stat().st_mtime)
        with atomic_path(target) as temporary:
            shutil.copyfile(output, temporary)
        written = output.with_suffix(MARKS_SUFFIX)
        if written.is_file():
            with atomic_path(marks) as temporary:
                shutil.copyfile(written, temporary)
    return Rendered(target, marks if marks.is_file() else None, False)


def run_manim(command: list[str], cwd: Path, env: dict, progress, timeout_s: float) -> str:
    """Run Manim, reporting each animation it writes; the log if it fails."""
    lines, done = [], 0
    with subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        try:
            for line in process.stdout:
                lines.append(line)
                if "Partial movie file written" in line or "Animation" in line and "written" in line:
                    done += 1
                    if progress:
                        progress(done)
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            raise RenderError(f"manim took more than {timeout_s:.0f} s") from None
    log = "".join(lines)
    if process.returncode != 0:
        raise RenderError(f"manim failed (exit {process.returncode}):\n{log[-3000:]}")
    return log


def read_marks(rendered: Rendered) -> dict:
    if rendered.marks is None:
        raise RenderError(f"{rendered.video} has no marks file beside it; render it again")
    return read_marks_file(rendered.marks)


def read_marks_file(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def save_still(rendered: Rendered, target: Path) -> Path:
    """The frame at the marked moment nearest the middle of the video, as a PNG (a poster for the player)."""
    import av
    from PIL import Image

    marks = read_marks(rendered)
    middle = min(marks["marks"] or [{"time": marks["duration"] / 2}], key=lambda m: abs(m["time"] - marks["duration"] / 2))
    with av.open(str(rendered.video)) as container:
        frame = next(f for f in container.decode(video=0) if f.time >= middle["time"])
    with atomic_path(Path(target)) as temporary:
        Image.fromarray(frame.to_ndarray(format="rgb24")).save(temporary, format="PNG")
    return Path(target)
