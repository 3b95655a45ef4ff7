"""ipywidgets controls wired to plotly FigureWidgets. Each explorer exposes `.widget` to display."""

from __future__ import annotations

import math
import warnings
from collections import Counter
from typing import Sequence

import ipywidgets as widgets
import plotly.graph_objects as go
import torch

from explainer import sampling
from explainer.checkpoint import LanguageModel
from explainer.errors import ExplainerError, LogitsError
from explainer.viz import BAR_COLOR, HIGHLIGHT_COLOR, display_token, next_token_bars


class TemperatureExplorer:
    """A temperature slider reshaping a next-token distribution, and a button that samples from it.

    `tokens` and `logits` cover the whole vocabulary; the chart shows the `show` most likely tokens and
    one bar for all the others together, so the bars always add up to 100%.
    """

    def __init__(
        self,
        tokens: Sequence[str],
        logits: Sequence[float] | torch.Tensor,
        temperature: float = 1.0,
        title: str = "",
        num_samples: int = 20,
        show: int = 12,
    ):
        self.title, self.num_samples, self.show = title, num_samples, show
        self.slider = widgets.FloatSlider(
            value=temperature, min=0.0, max=5.0, step=0.05, description="temperature",
            continuous_update=True, readout_format=".2f", layout=widgets.Layout(width="480px"),
            style={"description_width": "initial"},
        )
        self.seed = widgets.IntText(value=0, description="seed", layout=widgets.Layout(width="160px"))
        self.sample_button = widgets.Button(description=f"sample {num_samples} words", icon="random")
        self.summary = widgets.HTML()
        self.samples = widgets.HTML()
        self.figure = go.FigureWidget(next_token_bars(["…"], [1.0]))
        self.slider.observe(lambda change: self.update(change["new"]), names="value")
        self.sample_button.on_click(lambda _: self.draw_samples())
        self.slider.add_class("explainer-temperature")
        self.widget = widgets.VBox([
            self.slider, self.summary, self.figure,
            widgets.HBox([self.sample_button, self.seed]), self.samples,
        ])
        self.widget.add_class("explainer-temperature-explorer")
        self.set_logits(tokens, logits)

    def set_logits(self, tokens: Sequence[str], logits: Sequence[float] | torch.Tensor) -> None:
        """Show a new distribution (e.g. for a new prompt) at the current temperature."""
        self.tokens = list(tokens)
        self.logits = sampling.as_logits(logits).double()
        if self.logits.shape != (len(self.tokens),):
            raise ValueError(f"need one logit per token: {len(self.tokens)} tokens, logits of shape {tuple(self.logits.shape)}")
        self.shown, _, _ = sampling.top_with_rest(self.logits, 1.0, self.show)
        labels = [display_token(self.tokens[i]) for i in self.shown]
        if len(self.tokens) > len(self.shown):
            labels.append(f"(other {len(self.tokens) - len(self.shown)})")
        self.figure.data[0].x = labels
        self.update(self.slider.value)

    def update(self, temperature: float) -> None:
        """Recompute the distribution at `temperature` and redraw bars and summary."""
        _, heights, rest = sampling.top_with_rest(self.logits, temperature, self.show)
        if len(self.tokens) > len(self.shown):
            heights.append(rest)
        best = self.shown[0]
        probs = sampling.softmax(self.logits, temperature)
        bits = float(sampling.entropy(probs))
        with self.figure.batch_update():
            bars = self.figure.data[0]
            bars.y = heights
            bars.text = [f"{p:.1%}" for p in heights]
            bars.marker.color = [HIGHLIGHT_COLOR] + [BAR_COLOR] * (len(heights) - 1)
            self.figure.layout.title = f"{self.title}  (T = {temperature:.2f})" if self.title else f"T = {temperature:.2f}"
        self.summary.value = (
            f"<b>top token</b>: {display_token(self.tokens[best])} ({float(probs[best]):.1%}) &nbsp; "
            f"<b>entropy</b>: {bits:.2f} bits (uniform over all {len(self.tokens)} tokens would be "
            f"{math.log2(len(self.tokens)):.2f})"
        )

    def draw_samples(self) -> list[str]:
        """Sample `num_samples` tokens at the slider's temperature with the seed box's seed."""
        draws = sampling.sample(self.logits, self.num_samples, temperature=self.slider.value, seed=self.seed.value)
        words = [self.tokens[i] for i in draws.tolist()]
        counts = ", ".join(f"{display_token(w)} ×{n}" for w, n in Counter(words).most_common())
        self.samples.value = f"<code>{' | '.join(display_token(w) for w in words)}</code><br>counts: {counts}"
        return words


class NextTokenExplorer:
    """A prompt box over a TemperatureExplorer fed by a trained model's real next-token logits."""

    def __init__(self, lm: LanguageModel, prompt: str, temperature: float = 1.0, num_samples: int = 20, show: int = 12):
        self.lm = lm
        self.vocabulary = lm.tokens(list(range(lm.tokenizer.vocab_size)))
        self.prompt = widgets.Textarea(value=prompt, description="prompt", continuous_update=False,
                                       layout=widgets.Layout(width="640px", height="70px"))
        self.message = widgets.HTML()
        self.explorer = TemperatureExplorer(self.vocabulary, lm.next_token_logits(prompt), temperature,
                                            title="next token (trained model)", num_samples=num_samples, show=show)
        self.prompt.observe(lambda _: self.update_prompt(), names="value")
        self.widget = widgets.VBox([self.prompt, self.message, self.explorer.widget])
        self.update_prompt()

    def update_prompt(self) -> None:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                ids = self.lm.encode(self.prompt.value)
        except ExplainerError as error:
            self.message.value = f"<span style='color:#b91c1c'>{error}</span>"
            return
        logits = self.lm.logits_after(ids)
        tokens = " ".join(f"[{display_token(t)}]" for t in self.lm.tokens(ids))
        note = "".join(f"<br><span style='color:#b45309'>{w.message}</span>" for w in caught)
        self.message.value = f"<small>{len(ids)} tokens: <code>{tokens}</code></small>{note}"
        self.explorer.set_logits(self.vocabulary, logits)


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
