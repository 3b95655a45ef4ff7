"""Find and render the Manim scenes under animations/ (one scene per file, class name = CamelCase file name).

Scenes import `explainer` as the installed package; nothing is added to their path."""

from __future__ import annotations

import difflib
import subprocess
import sys
import time
from pathlib import Path

from explainer.errors import ExplainerError, UnknownSceneError
from explainer.paths import ANIMATIONS_DIR, BUILD_DIR

QUALITY_FLAGS = {"low": "-ql", "medium": "-qm", "high": "-qh"}


class RenderError(ExplainerError, RuntimeError):
    """Manim failed; the message carries the end of its output."""


def list_scenes(animations_dir: Path = ANIMATIONS_DIR) -> list[str]:
    """Scene names: the .py files under animations/ that do not start with '_'."""
    return sorted(p.stem for p in animations_dir.glob("*.py") if not p.name.startswith("_"))


def scene_class_name(scene: str) -> str:
    return "".join(part.capitalize() for part in scene.split("_"))


def scene_file(scene: str, animations_dir: Path = ANIMATIONS_DIR) -> Path:
    """The file of a scene, or UnknownSceneError listing the valid names."""
    names = list_scenes(animations_dir)
    if scene not in names:
        close = difflib.get_close_matches(scene, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownSceneError(f"unknown scene {scene!r}.{hint} Valid scenes: {', '.join(names)}")
    return animations_dir / f"{scene}.py"


def render(
    scene: str,
    quality: str = "low",
    last_frame_only: bool = False,
    media_dir: Path = BUILD_DIR / "media",
    timeout_s: float = 1800,
) -> Path:
    """Render a scene with Manim in a subprocess; return the path of the .mp4 (or the last frame's .png)."""
    if quality not in QUALITY_FLAGS:
        raise ExplainerError(f"quality must be one of {', '.join(QUALITY_FLAGS)}, got {quality!r}")
    path = scene_file(scene)
    class_name = scene_class_name(scene)
    media_dir = Path(media_dir).resolve()
    command = [sys.executable, "-m", "manim", "render", QUALITY_FLAGS[quality], "--media_dir", str(media_dir),
               "--disable_caching", "--progress_bar", "none"]
    if last_frame_only:
        command.append("-s")
    command += [str(path), class_name]
    started = time.time()
    result = subprocess.run(command, cwd=path.parent, capture_output=True, text=True, timeout=timeout_s)
    if result.returncode != 0:
        raise RenderError(f"manim failed to render {scene!r} (exit {result.returncode}):\n{(result.stdout + result.stderr)[-3000:]}")
    suffix = ".png" if last_frame_only else ".mp4"
    outputs = [p for p in media_dir.rglob(f"{class_name}*{suffix}") if p.stat().st_mtime >= started - 1 and "partial" not in p.parts]
    if not outputs:
        raise RenderError(f"manim finished but wrote no {suffix} for {scene!r} under {media_dir}")
    return max(outputs, key=lambda p: p.stat().st_mtime)
