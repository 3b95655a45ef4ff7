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
import plotly.graph_objects as go
import torch

from explainer import learning, settings
from explainer.errors import ExplainerError
from explainer.figures.common import Explorer, base_layout, dot_grid, redraw, row, update_dot_grid
from explainer.figures.kit import Control, Stack, bars, text
from explainer.figures.kit.descent import DescentView
from explainer.figures.live import FigureWidget
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
LABEL_ROWS = 3  # moment labels sit on their own rows near the top, so that they never overlap one another


def loss_axis_end(step: int, start: int, interval: int) -> int:
    """The loss curve's x axis ends at start + 4 evaluations, doubled as often as needed to hold `step`: it moves
    (a new layout) only a few times, however long the run."""
    span = 4 * interval
    while start + span < step:
        span *= 2
    return start + span


def live_loss_figure(controls: learning.Controls, progress: learning.Progress, start: int, end: int) -> go.Figure:
    """The loss as it trains: one training batch every 10 steps, the validation loss at each measurement, and the
    moments (a star on the validation curve, its label on a row of its own above); the unigram entropy as a dashed
    line, the control of the first moment. Axes that change only when the x axis doubles."""
    figure = go.Figure([
        go.Scatter(x=progress.curve[0], y=progress.curve[1], name="one training batch", mode="lines",
                   line=dict(color=TRAIN_CURVE_COLOR, width=1), hovertemplate="step %{x}: batch loss %{y:.3f}<extra></extra>"),
        go.Scatter(x=progress.evaluations[0], y=progress.evaluations[1], name="validation", mode="lines+markers",
                   line=dict(color=BAR_COLOR, width=2), marker=dict(size=6),
                   hovertemplate="step %{x}: validation loss %{y:.3f}<extra></extra>"),
        go.Scatter(name="moment lines", mode="lines", line=dict(color=MOMENT_COLOR, width=1, dash="dot"),
                   hoverinfo="skip", showlegend=False),
        go.Scatter(name="moments", mode="markers", marker=dict(symbol="star", size=13, color=MOMENT_COLOR),
                   hovertemplate="%{text}<extra></extra>", showlegend=False),
        go.Scatter(name="moment labels", mode="text", textfont=dict(color=MOMENT_COLOR, size=12), hoverinfo="skip",
                   showlegend=False),
    ])
    set_moment_marks(figure, progress, controls, start, end)
    entropy = controls.unigram_entropy
    return base_layout(figure, f"the loss as it trains (nats per {controls.unit})", height=340, showlegend=True,
                       legend=dict(orientation="h", x=0, y=-0.22),
                       xaxis=dict(title="step", range=[start, end]),
                       yaxis=dict(title="loss", range=[0, loss_axis_top(controls)]),
                       shapes=[dict(type="line", xref="paper", x0=0, x1=1, y0=entropy, y1=entropy,
                                    line=dict(color=HIGHLIGHT_COLOR, width=1.5, dash="dash"))],
                       annotations=[dict(xref="paper", x=1, xanchor="right", y=entropy, yanchor="bottom", showarrow=False,
                                         text=f"{controls.unit} frequencies alone: {entropy:.2f}",
                                         font=dict(color=HIGHLIGHT_COLOR, size=12))])


def loss_axis_top(controls: learning.Controls) -> float:
    return 1.1 * controls.uniform_loss


def set_moment_marks(figure: go.Figure, progress: learning.Progress, controls: learning.Controls, start: int,
                     end: int) -> None:
    """The moments into traces 2, 3 and 4 of `live_loss_figure`: a star on the validation curve at each moment's
    step, its label on a row of its own near the top (left of its star in the right part of the axis, so that it stays
    inside), a dotted line between them."""
    losses = dict(zip(*progress.evaluations))
    steps = [m.step for m in progress.moments]
    stars = [losses[s] for s in steps]
    rows = [loss_axis_top(controls) * (0.95 - 0.08 * (i % LABEL_ROWS)) for i in range(len(steps))]
    figure.data[2].update(x=[x for s in steps for x in (s, s, None)],
                          y=[y for star, row in zip(stars, rows) for y in (star, row, None)])
    figure.data[3].update(x=steps, y=stars, text=[m.text for m in progress.moments])
    figure.data[4].update(x=steps, y=rows, text=[f" {m.label} " for m in progress.moments],
                          textposition=["middle left" if s > start + 0.6 * (end - start) else "middle right" for s in steps])


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


NOW = -1  # the look-back slider's last position: follow the training
CONTINUE = "continue"  # the size choice that keeps training the loaded model


class LiveTrainer(Explorer):
    """Train / Pause / Reset a small model in the background while the page shows its loss, its moments, a sample and
    one head's attention on a fixed line; a slider looks back at the weights kept at a handful of steps. `model`, if
    given, is offered as a third choice of size: keep training it (refused, with the reason, if it does not fit)."""

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
        self.counters = widgets.HTML()
        self.loss_figure = FigureWidget()
        self.moments = widgets.HTML()
        self.sample = widgets.HTML()
        self.layer = widgets.Dropdown(description="layer", style={"description_width": "initial"},
                                      layout=widgets.Layout(width="120px"))
        self.head = widgets.Dropdown(description="head", style={"description_width": "initial"},
                                     layout=widgets.Layout(width="120px"))
        self.look_back = widgets.SelectionSlider(options=[("now", NOW)], value=NOW, description="look back at step",
                                                 style={"description_width": "initial"}, continuous_update=True,
                                                 layout=widgets.Layout(width="100%", max_width="520px"))
        self.grid = FigureWidget()
        self.look_back_box = widgets.Box()  # holds the slider once there is more than one kept step to look back at
        self.view_box = widgets.VBox([self.look_back_box, self.sample, row(self.layer, self.head), self.grid])
        self.interrupts = InterruptWatch(lambda: self.live.stop(wait=False))
        self.live: learning.LiveTraining | None = None
        self.progress: learning.Progress | None = None
        self.on_click(self.train_button, self.train)
        self.on_click(self.pause_button, self.pause)
        self.on_click(self.reset_button, self.reset)
        self.watch([self.size], self.new_size)
        self.watch([self.layer, self.head, self.look_back], self.draw_view)
        self.widget = widgets.VBox([row(self.train_button, self.pause_button, self.reset_button, self.size), self.status,
                                    self.counters, self.loss_figure, self.moments, self.view_box])
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
        """Draw a run that has not trained yet, every figure made anew with its numbers (a figure laid out anew takes
        no transition in the same moment: plotly.js has not set up its animations for it yet)."""
        progress, config, start = self.live.progress(), self.live.trainer.model.config, self.live.first_step
        with self.lock:
            self.progress = None  # moving the layer and head below draws nothing of the old run
            self.layer.options, self.head.options = list(range(config.n_layer)), list(range(config.n_head))
            self.layer.value, self.head.value = 0, 0
            end = loss_axis_end(start, start, self.live.config.eval_interval)
            redraw(self.loss_figure, live_loss_figure(self.live.watcher.controls, progress, start, end))
            redraw(self.grid, dot_grid(progress.latest.pattern[0, 0], self.live.watcher.line_tokens, masked=self.future(),
                                       size_px=400, title="where each position looks: the chosen head on a fixed line"))
            self.update_look_back(progress)
            self.counters.value = counters_html(progress)
            self.moments.value = moments_html(progress)
            self.sample.value = sample_html(progress.latest, self.prompt, now=True)
            self.progress = progress

    # ----- drawing (from either thread) -----

    def on_progress(self, progress: learning.Progress) -> None:
        """Called by the training thread: draw what changed."""
        if progress.state != "training":
            self.interrupts.disarm()
        self.safely(lambda: self.show(progress))

    def show(self, progress: learning.Progress) -> None:
        """What changed since the last progress drawn: only numbers travel, and the loss axis when it doubles."""
        with self.lock:
            before, self.progress = self.progress, progress
            self.counters.value = counters_html(progress)
            start = self.live.first_step
            end = loss_axis_end(progress.step, start, self.live.config.eval_interval)
            new_axis = self.loss_figure.layout.xaxis.range[1] != end
            with self.loss_figure.batch_traces():
                self.loss_figure.data[0].update(x=np.asarray(progress.curve[0]), y=np.asarray(progress.curve[1]))
                if before.evaluations != progress.evaluations:
                    self.loss_figure.data[1].update(x=np.asarray(progress.evaluations[0]),
                                                    y=np.asarray(progress.evaluations[1]))
                if before.moments != progress.moments or new_axis:
                    set_moment_marks(self.loss_figure, progress, self.live.watcher.controls, start, end)
                if new_axis:
                    self.loss_figure.layout.xaxis.range = [start, end]
            if before.moments != progress.moments:
                self.moments.value = moments_html(progress)
                if any(m.kind == "previous_token" for m in progress.moments if m not in before.moments):
                    self.layer.value, self.head.value = progress.latest.strongest_previous_token_head()  # the new head
            if set(before.kept) != set(progress.kept):
                self.update_look_back(progress)
            if before.latest is not progress.latest:
                self.draw_view()
        if progress.error:  # the training thread stopped on it: say so here
            raise ExplainerError(progress.error)

    def update_look_back(self, progress: learning.Progress) -> None:
        """The slider over the kept steps, shown once there is more than one."""
        chosen = self.look_back.value
        options = [(f"{step:,}", step) for step in sorted(progress.kept)] + [("now", NOW)]
        self.look_back.options = options
        self.look_back.value = chosen if chosen in dict(options).values() else NOW
        self.look_back_box.children = [self.look_back] if len(progress.kept) > 1 else []  # (the others stay drawn)

    def draw_view(self) -> None:
        """The sample and the chosen head's pattern at the chosen step (or the latest)."""
        with self.lock:
            progress = self.progress
            if progress is None or self.layer.value is None or self.head.value is None:
                return
            now = self.look_back.value == NOW or self.look_back.value not in progress.kept
            measurement = progress.latest if now else progress.kept[self.look_back.value]
            self.sample.value = sample_html(measurement, self.prompt, now)
            update_dot_grid(self.grid, measurement.pattern[self.layer.value, self.head.value], self.future())

    def future(self) -> np.ndarray:
        n = len(self.live.watcher.line_tokens)
        return np.triu(np.ones((n, n), dtype=bool), 1)


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
