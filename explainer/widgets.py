"""ipywidgets controls wired to plotly FigureWidgets. Each explorer exposes `.widget` to display."""

from __future__ import annotations

from collections import Counter
from typing import Sequence

import ipywidgets as widgets
import plotly.graph_objects as go
import torch

from explainer import sampling
from explainer.errors import ExplainerError, LogitsError
from explainer.viz import BAR_COLOR, HIGHLIGHT_COLOR, display_token, next_token_bars


class TemperatureExplorer:
    """A temperature slider reshaping next-token probabilities, and a button that samples from them."""

    def __init__(
        self,
        tokens: Sequence[str],
        logits: Sequence[float] | torch.Tensor,
        temperature: float = 1.0,
        title: str = "",
        num_samples: int = 20,
    ):
        self.tokens = list(tokens)
        self.logits = sampling.as_logits(logits).double()
        if self.logits.shape != (len(self.tokens),):
            raise ValueError(f"need one logit per token: {len(self.tokens)} tokens, logits of shape {tuple(self.logits.shape)}")
        self.title = title
        self.num_samples = num_samples
        self.slider = widgets.FloatSlider(
            value=temperature, min=0.0, max=5.0, step=0.05, description="temperature",
            continuous_update=True, readout_format=".2f", layout=widgets.Layout(width="480px"),
            style={"description_width": "initial"},
        )
        self.seed = widgets.IntText(value=0, description="seed", layout=widgets.Layout(width="160px"))
        self.sample_button = widgets.Button(description=f"sample {num_samples} words", icon="random")
        self.summary = widgets.HTML()
        self.samples = widgets.HTML()
        self.figure = go.FigureWidget(next_token_bars(self.tokens, self.probabilities(temperature)))
        self.slider.observe(lambda change: self.update(change["new"]), names="value")
        self.sample_button.on_click(lambda _: self.draw_samples())
        self.slider.add_class("explainer-temperature")
        self.widget = widgets.VBox([
            self.slider, self.summary, self.figure,
            widgets.HBox([self.sample_button, self.seed]), self.samples,
        ])
        self.widget.add_class("explainer-temperature-explorer")
        self.update(temperature)

    def probabilities(self, temperature: float) -> list[float]:
        return sampling.softmax(self.logits, temperature).tolist()

    def update(self, temperature: float) -> None:
        """Recompute the distribution at `temperature` and redraw bars and summary."""
        probs = self.probabilities(temperature)
        best = max(range(len(probs)), key=probs.__getitem__)
        bits = float(sampling.entropy(torch.tensor(probs)))
        with self.figure.batch_update():
            bars = self.figure.data[0]
            bars.y = probs
            bars.text = [f"{p:.1%}" for p in probs]
            self.figure.layout.title = f"{self.title}  (T = {temperature:.2f})" if self.title else f"T = {temperature:.2f}"
        self.summary.value = (
            f"<b>top word</b>: {display_token(self.tokens[best])} ({probs[best]:.1%}) &nbsp; "
            f"<b>entropy</b>: {bits:.2f} bits (uniform over {len(probs)} words would be "
            f"{torch.log2(torch.tensor(float(len(probs)))):.2f})"
        )

    def draw_samples(self) -> list[str]:
        """Sample `num_samples` words at the slider's temperature with the seed box's seed."""
        draws = sampling.sample(self.logits, self.num_samples, temperature=self.slider.value, seed=self.seed.value)
        words = [self.tokens[i] for i in draws.tolist()]
        counts = ", ".join(f"{display_token(w)} ×{n}" for w, n in Counter(words).most_common())
        self.samples.value = f"<code>{' | '.join(display_token(w) for w in words)}</code><br>counts: {counts}"
        return words


def parse_numbers(text: str) -> list[float]:
    """'2, 1, -1, -inf' -> [2.0, 1.0, -1.0, -inf]; a clear error for anything else."""
    parts = [p for p in text.replace(";", ",").split(",") if p.strip()]
    try:
        return [float(p) for p in parts]
    except ValueError:
        raise LogitsError(f"type numbers separated by commas (e.g. 2, 1, -1, -inf), got {text!r}") from None


class SoftmaxPlayground:
    """Type any scores (negative, large, -inf) and a temperature; see softmax's output as bars."""

    def __init__(self, text: str = "2, 1, 0.5, -1, -inf", temperature: float = 1.0):
        self.text = widgets.Text(value=text, description="scores", layout=widgets.Layout(width="480px"), continuous_update=False)
        self.slider = widgets.FloatSlider(value=temperature, min=0.0, max=5.0, step=0.05, description="temperature",
                                         style={"description_width": "initial"})
        self.message = widgets.HTML()
        self.figure = go.FigureWidget(next_token_bars(["a"], [1.0]))
        self.figure.update_layout(xaxis_title="score (logit)", height=360)
        self.text.observe(lambda _: self.update(), names="value")
        self.slider.observe(lambda _: self.update(), names="value")
        self.widget = widgets.VBox([self.text, self.slider, self.message, self.figure])
        self.update()

    def update(self) -> None:
        try:
            scores = parse_numbers(self.text.value)
            probs = sampling.softmax(scores, self.slider.value).tolist()
        except ExplainerError as error:
            self.message.value = f"<span style='color:#b91c1c'>{error}</span>"
            return
        labels = [f"{i}: {s:g}" for i, s in enumerate(scores)]
        with self.figure.batch_update():
            bars = self.figure.data[0]
            bars.x, bars.y = labels, probs
            bars.text = [f"{p:.1%}" for p in probs]
            bars.marker.color = [HIGHLIGHT_COLOR if p == max(probs) else BAR_COLOR for p in probs]
        self.message.value = f"sum of probabilities = {sum(probs):.6f}"
