"""Figures for learning: gradient descent on a two-weight cost surface you can click on, our model's snapshots, and
a small model trained live in the kernel while the page watches it learn."""

from __future__ import annotations

import html
import math
import signal
import threading
from pathlib import Path
from typing import Callable

import ipywidgets as widgets
import numpy as np

from explainer import learning, settings
from explainer.errors import ExplainerError
from explainer.figures.common import Explorer, row, token_labels
from explainer.figures.kit import Control, Stack, bars, text
from explainer.figures.kit.descent import DescentView
from explainer.figures.kit.live import LiveView
from explainer.gpt.train import PRESETS, TrainConfig
from explainer.settings import DESCENT
from explainer.style import BAR_COLOR, HIGHLIGHT_COLOR, display_token


DESCENT_TITLE = "the cost over (w1, w2), and the path gradient descent takes"
DESCENT_STEPS, DESCENT_RATE = 300, 1.0  # the sliders' most steps and highest learning rate


class DescentExplorer(Explorer):
    """Sliders (or a click on the surface) for the starting point, and the learning rate and number of steps. The
    cost surface goes to the page once (kit.DescentView); the page descends from the chosen start itself."""

    def __init__(self, start: tuple[float, float] = DESCENT.start, learning_rate: float = DESCENT.learning_rate,
                 steps: int = DESCENT.steps):
        super().__init__()
        self.model = learning.toy()
        w1, _, cost = learning.surface(self.model)
        self.view = DescentView(self.model.x.tolist(), self.model.y.tolist(), cost.log10(), extent=float(w1[-1]),
                                start=start, learning_rate=learning_rate, steps=steps, max_rate=DESCENT_RATE,
                                max_steps=DESCENT_STEPS, title=DESCENT_TITLE)
        self.widget = widgets.VBox([self.status, self.view])

    @property
    def start(self) -> tuple[float, float]:
        return self.view.start_w1, self.view.start_w2

    def descent(self) -> learning.Descent:
        """The descent the page draws, from the start, learning rate and steps it chose."""
        return learning.gradient_descent(self.model, self.start, self.view.learning_rate, self.view.steps)


class SnapshotExplorer(Explorer):
    """A slider over our model's saved training steps: its next-token guess and a sampled continuation at each. Every
    step's guesses and sample go to the page once (a kit Stack); the step is chosen there."""

    def __init__(self, predictions: list[learning.SnapshotPrediction], prompt: str):
        super().__init__()
        self.predictions, self.prompt = predictions, prompt
        self.view = Stack([text([self.sample_html(found) for found in predictions], over=("step",)),
                           bars([found.top_probs for found in predictions],
                                [[display_token(t) for t in found.top_tokens] for found in predictions], over=("step",),
                                title="what comes next, at the step chosen: its most likely tokens", highlight=0,
                                maximum=max(found.top_probs[0] for found in predictions), y_title="probability")],
                          [Control("step", [f"{found.step:,}" for found in predictions], label="training step", slider=True)],
                          step=len(predictions) - 1)
        self.widget = widgets.VBox([self.status, self.view])

    @property
    def step(self) -> int:
        """The training step shown."""
        return self.predictions[self.view.choice["step"]].step

    def sample_html(self, found: learning.SnapshotPrediction) -> str:
        return (f"<b>step {found.step}</b> (loss {html.escape(found.loss_note)}): a sample"
                f"<div style='white-space:pre-wrap;font-family:monospace'><span style='color:#6b7280'>"
                f"{html.escape(self.prompt)}</span>{html.escape(found.sample)}</div>")


# ---------- watching it learn, live ----------

TRAIN_CURVE_COLOR = "rgba(100, 116, 139, 0.55)"
MOMENT_COLOR = "#dc2626"
LIVE_COLOURS = {"batch": TRAIN_CURVE_COLOR, "validation": BAR_COLOR, "reference": HIGHLIGHT_COLOR, "mark": MOMENT_COLOR}
GRID_TITLE = "where each position looks: the chosen head on a fixed line"


def loss_axis_end(step: int, start: int, interval: int) -> int:
    """The loss curve's x axis ends at start + 4 evaluations, doubled as often as needed to hold `step`: it moves
    (a new frame) only a few times, however long the run."""
    span = 4 * interval
    while start + span < step:
        span *= 2
    return start + span


def loss_axis_top(controls: learning.Controls) -> float:
    return 1.1 * controls.uniform_loss


def moment_marks(progress: learning.Progress) -> list[dict]:
    """Each moment as the loss chart marks it: a star on the validation curve at its step, its label, its finding."""
    losses = dict(zip(*progress.evaluations))
    return [{"step": m.step, "loss": float(losses[m.step]), "label": m.label, "text": m.text} for m in progress.moments]


def sample_html(measurement: learning.Measurement, prompt: str, now: bool) -> str:
    when = "now" if now else "kept"
    return (f"<b>the sample at step {measurement.step:,}</b> ({when}; {measurement.real_words} of {measurement.words} "
            f"words are words of the training text)<div style='white-space:pre-wrap;font-family:monospace;line-height:1.35;"
            f"min-height:9.5em'>"
            f"<span style='color:#6b7280'>{html.escape(prompt)}</span>{html.escape(measurement.sample)}</div>")


def moments_html(progress: learning.Progress) -> str:
    found = "".join(f"<li><b style='color:{MOMENT_COLOR}'>★</b> {html.escape(m.text)}</li>" for m in progress.moments)
    waiting = "".join(f"<li style='color:#6b7280'>{html.escape(line)}</li>" for line in progress.waiting)
    return f"<ul style='margin:0;padding-left:1.2em;line-height:1.4'>{found}{waiting}</ul>"


def counters_html(progress: learning.Progress) -> str:
    minutes, seconds = divmod(int(progress.elapsed), 60)
    speed = f"{progress.tokens_per_second:,.0f} tokens/s" if math.isfinite(progress.tokens_per_second) else "–"
    threads = f" on {progress.threads} thread{'s' * (progress.threads > 1)}" if progress.threads else ""
    line = f"<b>{progress.state}</b> · step {progress.step:,} · {speed}{threads} · {minutes}:{seconds:02d} of training"
    if progress.saved_to is None:
        return line
    folder = html.escape(str(progress.saved_to))
    return (f"<div style='line-height:1.4'>{line}<br>saved in <code>{folder}</code>: <code>checkpoint.load(...)</code> "
            f"loads it, <code>explainer train --out ... --resume</code> goes on training it</div>")


CONTINUE = "continue"  # the size choice that keeps training the loaded model


class LiveTrainer(Explorer):
    """Train / Pause / Reset a small model in the background while the page shows its loss, its moments, a sample and
    one head's attention on a fixed line; a slider looks back at the weights kept at a handful of steps. The buttons and
    the size talk to the kernel; each progress report sends the page what changed (kit.LiveView), and the look-back
    step, layer and head are chosen there among the kept steps and the latest. `model`, if given, is offered as a third
    choice of size: keep training it (refused, with the reason, if it does not fit)."""

    def __init__(self, model=None, sizes: dict[str, TrainConfig] | None = None, prompt: str = settings.LIVE_PROMPT,
                 out_dir: str | Path = learning.LIVE_DIR):
        super().__init__()
        self.model, self.prompt, self.out_dir = model, prompt, Path(out_dir)
        self.sizes = sizes or {name: PRESETS[name] for name in learning.LIVE_PRESETS}
        self.lock = threading.RLock()  # the training thread and the controls both draw
        self.train_button = widgets.Button(description="Train", icon="play", button_style="success")
        self.pause_button = widgets.Button(description="Pause", icon="pause")
        self.reset_button = widgets.Button(description="Reset", icon="undo")
        sizes = [(f"{name} ({learning.size_summary(config)})", name) for name, config in self.sizes.items()]
        if model is not None:
            sizes.append((f"continue {model.name}", CONTINUE))
        self.size = widgets.Dropdown(options=sizes, value=sizes[0][1], description="size",
                                     style={"description_width": "initial"}, layout=widgets.Layout(width="auto"))
        self.view = LiveView(grid_title=GRID_TITLE, colours=LIVE_COLOURS)
        self.interrupts = InterruptWatch(lambda: self.live.stop(wait=False))
        self.live: learning.LiveTraining | None = None
        self.progress: learning.Progress | None = None
        self.on_click(self.train_button, self.train)
        self.on_click(self.pause_button, self.pause)
        self.on_click(self.reset_button, self.reset)
        self.watch([self.size], self.new_size)
        self.widget = widgets.VBox([row(self.train_button, self.pause_button, self.reset_button, self.size), self.status,
                                    self.view])
        self.safely(self.new_size)

    # ----- the controls (the kernel's main thread) -----

    def new_size(self) -> None:
        """A new run of the chosen size (the old one stopped, its checkpoint saved)."""
        if self.live is not None:
            self.live.stop()
        start = self.model if self.size.value == CONTINUE else None
        name = f"continue-{self.model.name}" if start is not None else self.size.value
        config = next(iter(self.sizes.values())) if start is not None else self.sizes[name]  # a loaded model: its shape
        self.live = learning.LiveTraining(config, self.out_dir / name, start, on_progress=self.on_progress)
        self.begin()

    def train(self) -> None:
        self.live.start()
        self.interrupts.arm()
        self.show(self.live.progress())

    def pause(self) -> None:
        self.live.stop()

    def reset(self) -> None:
        self.live.reset()
        self.begin()

    def begin(self) -> None:
        """Show a run that has not trained yet: its line, its chart's frame, and its first measurement."""
        progress, controls = self.live.progress(), self.live.watcher.controls
        entropy = controls.unigram_entropy
        with self.lock, self.view.hold_sync():
            self.progress = None  # everything below is drawn anew
            self.view.new_run(token_labels(self.live.watcher.line_tokens), f"the loss as it trains (nats per {controls.unit})",
                              loss_axis_top(controls), (entropy, f"{controls.unit} frequencies alone: {entropy:.2f}"))
            self.show(progress)

    # ----- drawing (from either thread) -----

    def on_progress(self, progress: learning.Progress) -> None:
        """Called by the training thread: draw what changed."""
        if progress.state != "training":
            self.interrupts.disarm()
        self.safely(lambda: self.show(progress))

    def show(self, progress: learning.Progress) -> None:
        """What changed since the last progress drawn, in one message: the counters and the curves (small) always;
        the moments, and the kept steps' and the latest patterns and samples, when a measurement changed them."""
        with self.lock, self.view.hold_sync():
            before, self.progress = self.progress, progress
            self.view.counters = counters_html(progress)
            start = self.live.first_step
            end = loss_axis_end(progress.step, start, self.live.config.eval_interval)
            self.view.show_curves(progress.curve, progress.evaluations, (start, end))
            if before is None or before.moments != progress.moments:
                self.view.marks, self.view.moments = moment_marks(progress), moments_html(progress)
            if before is None or before.latest is not progress.latest or set(before.kept) != set(progress.kept):
                kept = sorted(progress.kept)
                self.view.show_patterns(kept, np.stack([progress.kept[step].pattern for step in kept]),
                                        [sample_html(progress.kept[step], self.prompt, now=False) for step in kept],
                                        progress.latest.pattern, sample_html(progress.latest, self.prompt, now=True))
            if before is not None and any(m.kind == "previous_token" for m in progress.moments if m not in before.moments):
                layer, head = progress.latest.strongest_previous_token_head()  # the new head
                self.view.select(layer=layer, head=head)
        if progress.error:  # the training thread stopped on it: say so here
            raise ExplainerError(progress.error)


class InterruptWatch:
    """While a run trains in the background, JupyterLab's interrupt (■) stops it, as Ctrl-C does on the command line:
    an interrupt that reaches an idle kernel (which ignores SIGINT then) calls `stop` through a handler installed
    between cells, and one that stops a running cell does so through IPython's post_run_cell event. Outside a kernel
    it does nothing."""

    def __init__(self, stop: Callable[[], None]):
        from IPython import get_ipython

        self.stop, self.shell = stop, get_ipython()
        self.kernel = getattr(self.shell, "kernel", None)
        self.previous = None
        self.armed = False

    def arm(self) -> None:
        if self.kernel is None or self.armed:
            return
        self.armed = True
        self.shell.events.register("post_run_cell", self.after_cell)
        self.kernel.io_loop.add_callback(self.install)  # after this message's handler: it puts back its own on return

    def disarm(self) -> None:
        if self.kernel is None or not self.armed:
            return
        self.armed = False
        self.shell.events.unregister("post_run_cell", self.after_cell)
        self.kernel.io_loop.add_callback(self.uninstall)  # signal handlers are set on the main thread only

    def install(self) -> None:
        if self.armed and signal.getsignal(signal.SIGINT) != self.interrupted:  # (a bound method: equal, not the same)
            self.previous = signal.signal(signal.SIGINT, self.interrupted)

    def uninstall(self) -> None:
        if signal.getsignal(signal.SIGINT) == self.interrupted:
            signal.signal(signal.SIGINT, self.previous)

    def interrupted(self, number: int, frame) -> None:
        self.stop()
        if callable(self.previous):
            self.previous(number, frame)

    def after_cell(self, result) -> None:
        if isinstance(result.error_in_exec, KeyboardInterrupt):
            self.stop()
