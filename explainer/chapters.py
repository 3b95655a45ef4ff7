"""The video chapters in the notebooks: a player that shows a chapter's rendered video inline (a file beside the
notebook, no network) and renders it again with the notebook's current settings. Which notebook plays which chapter
is in explainer.video.catalogue."""

from __future__ import annotations

import html
import shutil
import threading
import time
from pathlib import Path

import ipywidgets as widgets

from explainer.figures.common import Explorer
from explainer.video import catalogue, render

def settings_of(explorer) -> dict:
    """The prompt, layer and head an explorer shows now (whichever it has)."""
    found = {}
    for name in ("prompt", "layer", "head"):
        value = getattr(explorer, name, None)
        if value is not None:
            found[name] = value.value if hasattr(value, "value") else value
    return found


class ChapterPlayer(Explorer):
    """The chapter's video if it has been rendered with these settings, and a button that renders it (in the
    background, with a progress bar). With `follow` (an explorer of the notebook), the button uses the prompt, layer
    and head the explorer shows at the moment of the click, where they differ from the chapter's own."""

    def __init__(self, chapter: str, follow=None, model: str | Path | None = None, folder: Path | None = None,
                 quality: str = "low", cache_dir: Path = render.CACHE_DIR, fast: bool = False):
        super().__init__()
        entry = catalogue.entry(chapter)  # an unknown chapter fails here, with the valid names
        self.chapter, self.quality, self.cache_dir, self.fast = chapter, quality, Path(cache_dir), fast
        self.follow, self.model = follow, None if model is None else str(model)
        self.initial = settings_of(follow) if follow is not None else {}
        self.folder = Path(folder or Path.cwd())  # the notebook's folder: the video is shown from videos/ beside it
        self.video = widgets.HTML()
        self.button = widgets.Button(description="render with these settings", icon="film", layout=widgets.Layout(width="auto"))
        self.progress = widgets.IntProgress(value=0, min=0, max=1, layout=widgets.Layout(width="240px", visibility="hidden"))
        self.note = widgets.HTML()
        self.on_click(self.button, self.start)
        heading = widgets.HTML(f"<h3>Video · chapter {html.escape(entry.label)}</h3>")
        self.widget = widgets.VBox([heading, self.video, widgets.HBox([self.button, self.progress, self.note]), self.status])
        self.rendering: threading.Thread | None = None
        self.safely(self.show_cached)

    def current(self) -> dict:
        """The settings changed in the followed explorer since the notebook showed it: those the render uses."""
        now = settings_of(self.follow) if self.follow is not None else {}
        return {k: v for k, v in now.items() if self.initial.get(k) != v}

    def options(self) -> render.ChapterOptions:
        return render.ChapterOptions(fast=self.fast, model=self.model, **self.current())

    def show_cached(self) -> None:
        """Show the render for the current settings if there is one; else say how to make it."""
        options = self.options()
        target = self.cache_dir / f"{self.chapter}-{render.cache_key(self.chapter, self.quality, options, False)}.mp4"
        if target.is_file():
            self.show(target)
        else:
            self.video.value = ("<p><i>Not rendered with these settings yet. Press the button (a minute or so on a laptop), "
                                "or run <code>make gallery</code> once to render every chapter.</i></p>")

    def show(self, video: Path) -> None:
        """Copy the video (and a still from its middle, as its poster) beside the notebook and play it from there:
        JupyterLab serves the folder, so nothing comes from the network."""
        beside = self.folder / "videos" / video.name
        poster = beside.with_suffix(".png")
        if not beside.is_file():
            beside.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(video, beside)
        if not poster.is_file():
            render.save_still(render.Rendered(video, video.with_suffix(render.MARKS_SUFFIX), True), poster)
        self.video.value = (f"<video controls preload='metadata' style='width:100%;max-width:760px' "
                            f"poster='videos/{html.escape(poster.name)}' src='videos/{html.escape(video.name)}'></video>")

    def start(self) -> None:
        if self.rendering and self.rendering.is_alive():
            self.note.value = "<i>already rendering…</i>"
            return
        options = self.options()
        options.check()
        self.rendering = threading.Thread(target=self.run, args=(options,), daemon=True)
        self.rendering.start()

    def run(self, options: render.ChapterOptions) -> None:
        """Render in the background, moving the progress bar as Manim writes each animation."""
        expected = self.expected_animations()
        self.progress.max, self.progress.value = expected, 0
        self.progress.layout.visibility = "visible"
        self.button.disabled = True
        started = time.monotonic()

        def moved(done: int) -> None:
            self.progress.value = min(done, self.progress.max)
            self.note.value = f"<i>rendering: {done} of about {expected} animations, {time.monotonic() - started:.0f} s</i>"

        try:
            self.safely(lambda: self.finish(render.render(self.chapter, self.quality, options, cache_dir=self.cache_dir,
                                                          progress=moved), started))
        finally:
            self.button.disabled = False
            self.progress.layout.visibility = "hidden"

    def finish(self, result: render.Rendered, started: float) -> None:
        self.show(result.video)
        self.note.value = ("<i>reused an earlier render</i>" if result.cached
                           else f"<i>rendered in {time.monotonic() - started:.0f} s</i>")

    def expected_animations(self) -> int:
        """How many animations the chapter played the last time it was rendered (for the progress bar)."""
        found = list(self.cache_dir.glob(f"{self.chapter}-*{render.MARKS_SUFFIX}"))
        if not found:
            return 100
        newest = max(found, key=lambda p: p.stat().st_mtime)
        return max(1, int(render.read_marks_file(newest).get("animations", 100)))
