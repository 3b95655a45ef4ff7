"""ipywidgets controls wired to plotly FigureWidgets. Each explorer exposes `.widget` to display."""

from __future__ import annotations

import html
import math
import warnings
from collections import Counter
from typing import Sequence

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import torch

from explainer import attention, checkpoint, sampling
from explainer.checkpoint import LanguageModel
from explainer.errors import ExplainerError, LogitsError
from explainer.viz import BAR_COLOR, HIGHLIGHT_COLOR, analogy_figure, angle_histogram, display_token, dot_grid, heatmap, next_token_bars, row_bars, update_dot_grid


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


def redraw(target: go.FigureWidget, source: go.Figure) -> None:
    """Copy a freshly built figure into a displayed FigureWidget in one message."""
    with target.batch_update():
        if len(target.data) != len(source.data):
            target.data = []
            target.add_traces(source.data)
        else:
            for shown, new in zip(target.data, source.data):
                shown.update(new.to_plotly_json(), overwrite=True)
        target.layout.update(source.layout.to_plotly_json(), overwrite=True)


def int_slider(description: str, maximum: int, value: int = 0) -> widgets.IntSlider:
    return widgets.IntSlider(value=value, min=0, max=maximum, description=description, continuous_update=True,
                             style={"description_width": "initial"})


def temperature_slider(value: float = 1.0) -> widgets.FloatSlider:
    return widgets.FloatSlider(value=value, min=0.05, max=5.0, step=0.05, description="temperature",
                               readout_format=".2f", continuous_update=True, style={"description_width": "initial"})


class AttentionExplorer:
    """The trained model's attention for a prompt as a dot grid, with layer, head and temperature sliders."""

    def __init__(self, lm: LanguageModel, prompt: str, layer: int = 0, head: int = 0, transpose: bool = False):
        config = lm.model.config
        self.lm = lm
        self.prompt = widgets.Textarea(value=prompt, description="prompt", continuous_update=False,
                                       layout=widgets.Layout(width="640px", height="60px"))
        self.layer = int_slider("layer", config.n_layer - 1, layer)
        self.head = int_slider("head", config.n_head - 1, head)
        self.temperature = temperature_slider()
        self.transpose = widgets.Checkbox(value=transpose, description="3Blue1Brown layout (queries as columns)")
        self.stats = widgets.HTML()
        self.figure = go.FigureWidget()
        for control in (self.layer, self.head, self.temperature):
            control.observe(lambda _: self.update(), names="value")
        self.transpose.observe(lambda _: self.update(relayout=True), names="value")
        self.prompt.observe(lambda _: self.set_prompt(), names="value")
        self.head.add_class("explainer-head")
        self.widget = widgets.VBox([self.prompt, widgets.HBox([self.layer, self.head]),
                                    widgets.HBox([self.temperature, self.transpose]), self.stats, self.figure])
        self.widget.add_class("explainer-attention-explorer")
        self.set_prompt()

    def set_prompt(self) -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                self.attention = attention.cached_prompt_attention(self.lm, self.prompt.value)
            except ExplainerError as error:
                self.stats.value = f"<span style='color:#b91c1c'>{error}</span>"
                return
        self.note = "".join(f"<br><span style='color:#b45309'>{w.message}</span>" for w in caught)
        self.update(relayout=True)

    def update(self, relayout: bool = False) -> None:
        """Re-size the dots for the chosen layer, head and temperature; rebuild the grid if the tokens or layout changed."""
        layer, head = self.layer.value, self.head.value
        pattern = self.attention.pattern(layer, head, self.temperature.value)
        masked = ~attention.causal_mask(pattern.shape[0])
        title = f"layer {layer}, head {head} (T = {self.temperature.value:.2f})"
        if relayout:
            redraw(self.figure, dot_grid(pattern, self.attention.tokens, self.transpose.value, title, masked=masked))
        else:
            update_dot_grid(self.figure, pattern, masked, title)
        self.stats.value = (
            f"<b>this head</b> (at T = 1, mean over queries): previous-token weight "
            f"{float(self.attention.previous_token_score()[layer, head]):.2f}, first-token weight "
            f"{float(self.attention.first_token_score()[layer, head]):.2f}, own-token weight "
            f"{float(self.attention.self_score()[layer, head]):.2f}, entropy {float(self.attention.entropy()[layer, head]):.2f} bits"
            f"{self.note}"
        )


def html_tokens(tokens: Sequence[str], highlight: int | None = None) -> str:
    """Tokens as boxed spans, one highlighted."""
    spans = []
    for i, token in enumerate(tokens):
        style = "background:#fde68a;font-weight:bold;" if i == highlight else "background:#eef2ff;"
        spans.append(f"<span style='{style}border-radius:3px;padding:0 2px;margin:0 1px'>{html.escape(display_token(token))}</span>")
    return "<code style='white-space:pre-wrap'>" + "".join(spans) + "</code>"


class StepByStepExplorer:
    """One head of the trained model, step by step: scores → scale → mask → softmax → values → Δe, with knobs."""

    def __init__(self, lm: LanguageModel, prompt: str, layer: int = 0, head: int = 0, query: int | None = None):
        config = lm.model.config
        self.lm, self.prompt = lm, prompt
        self.layer = int_slider("layer", config.n_layer - 1, layer)
        self.head = int_slider("head", config.n_head - 1, head)
        self.temperature = temperature_slider()
        self.scale = widgets.Checkbox(value=True, description="divide by √d_k")
        self.mask = widgets.Dropdown(options=[(f"{k}: {v}", k) for k, v in attention.MASK_VARIANTS.items()],
                                     value="minus_inf", description="mask", layout=widgets.Layout(width="640px"))
        tokens = lm.tokens(lm.encode(prompt))
        self.query = widgets.Dropdown(options=[(f"{i}: {display_token(t)}", i) for i, t in enumerate(tokens)],
                                      value=len(tokens) - 1 if query is None else query, description="query")
        self.scores_figure, self.pattern_figure, self.row_figure = go.FigureWidget(), go.FigureWidget(), go.FigureWidget()
        self.facts = widgets.HTML()
        for control in (self.layer, self.head, self.temperature, self.scale, self.mask, self.query):
            control.observe(lambda _: self.update(), names="value")
        self.widget = widgets.VBox([
            widgets.HBox([self.layer, self.head, self.query]), widgets.HBox([self.temperature, self.scale]), self.mask,
            self.facts, widgets.HBox([self.scores_figure, self.pattern_figure]), self.row_figure,
        ])
        self.update()

    def update(self) -> None:
        steps = attention.attention_steps(self.lm, self.prompt, self.layer.value, self.head.value,
                                          self.temperature.value, self.scale.value, self.mask.value)
        n, query = len(steps.tokens), self.query.value
        future = ~attention.causal_mask(n)
        fed = steps.scaled.masked_fill(future, float("-inf")) if self.mask.value == "minus_inf" else steps.scaled
        labels = [f"{i}:{display_token(t)}" for i, t in enumerate(steps.tokens)]
        scores = heatmap(fed, labels, labels, "scores fed to the softmax" + (" (÷√d_k)" if self.scale.value else " (not scaled)"),
                         x_title="key", y_title="query")
        scores.update_layout(width=520, height=520)
        masked = future if self.mask.value != "none" else torch.zeros(n, n, dtype=torch.bool)
        pattern = dot_grid(steps.pattern, steps.tokens, title="attention pattern (dot area ∝ weight)", masked=masked, size_px=400)
        redraw(self.scores_figure, scores)
        redraw(self.pattern_figure, pattern)
        redraw(self.row_figure, row_bars(steps.pattern[query], steps.tokens, query, f"what query {query} reads"))
        sums = steps.pattern.sum(-1)
        e, updated = steps.residual[query], steps.updated[query]
        self.facts.value = (
            f"d_k = {steps.q.shape[-1]}; scores range {float(steps.scaled.min()):.2f} … {float(steps.scaled.max()):.2f}; "
            f"row sums: min {float(sums.min()):.3f}, max {float(sums.max()):.3f}"
            + (" <b style='color:#b91c1c'>(not normalised!)</b>" if float((sums - 1).abs().max()) > 1e-4 else "")
            + f"<br>query {query}: |e| = {float(e.norm()):.2f}, |Δe| = {float(steps.delta[query].norm()):.2f}, "
            f"cos(e, e + Δe) = {float(torch.cosine_similarity(e, updated, dim=0)):.3f}"
        )


class GenerationExplorer:
    """Generate a continuation once, then step through it: each token's distribution and what it attended to."""

    def __init__(self, lm: LanguageModel, prompt: str, max_new_tokens: int = 20, temperature: float = 0.8, seed: int = 0):
        self.lm = lm
        self.prompt_ids = lm.encode(prompt)
        self.steps = list(lm.stream(prompt, max_new_tokens, temperature=temperature, seed=seed))
        config = lm.model.config
        self.step = widgets.IntSlider(value=1, min=1, max=len(self.steps), description="new token #",
                                      style={"description_width": "initial"})
        self.layer = int_slider("layer", config.n_layer - 1)
        self.head = widgets.Dropdown(options=[("mean of heads", -1)] + [(str(h), h) for h in range(config.n_head)],
                                     value=-1, description="head")
        self.text = widgets.HTML()
        self.distribution, self.attended = go.FigureWidget(), go.FigureWidget()
        for control in (self.step, self.layer, self.head):
            control.observe(lambda _: self.update(), names="value")
        self.widget = widgets.VBox([self.step, widgets.HBox([self.layer, self.head]), self.text,
                                    widgets.HBox([self.distribution, self.attended])])
        self.update()

    def update(self) -> None:
        step = self.steps[self.step.value - 1]
        all_ids = self.prompt_ids + [s.token_id for s in self.steps]
        position = len(self.prompt_ids) + self.step.value - 1
        self.text.value = html_tokens(self.lm.tokens(all_ids[: position + 1]), highlight=position)
        top = torch.topk(step.probs, 10)
        ids = top.indices.tolist()
        bars = next_token_bars(self.lm.tokens(ids), top.values.tolist(),
                               f"drawn from: {display_token(self.lm.tokens([step.token_id])[0])} "
                               f"(p = {float(step.probs[step.token_id]):.2f})")
        bars.data[0].marker.color = [HIGHLIGHT_COLOR if i == step.token_id else BAR_COLOR for i in ids]
        bars.update_layout(width=520, height=380)
        weights = step.attention[self.layer.value]
        weights = weights.mean(0) if self.head.value < 0 else weights[self.head.value]
        window_tokens = self.lm.tokens(step.window)
        attended = row_bars(weights, window_tokens, len(window_tokens) - 1, "what the new token attends to")
        attended.update_layout(width=720, height=380)
        redraw(self.distribution, bars)
        redraw(self.attended, attended)


class TrainingExplorer:
    """One head's pattern at each saved training step: watch it form."""

    def __init__(self, folder, prompt: str, layer: int = 0, head: int = 0):
        self.steps = checkpoint.snapshot_steps(folder)
        models = {step: checkpoint.load(folder, step=step) for step in self.steps}
        self.patterns = {step: attention.prompt_attention(lm, prompt) for step, lm in models.items()}
        config = checkpoint.read_config(folder)
        curve = dict(zip(config["train_curve"]["step"], config["train_curve"]["loss"]))
        self.losses = {s: curve.get(s, curve.get(max([c for c in curve if c <= s], default=0))) for s in self.steps}
        first = models[self.steps[0]].model.config
        self.step = widgets.SelectionSlider(options=self.steps, value=self.steps[-1], description="training step",
                                            style={"description_width": "initial"}, layout=widgets.Layout(width="480px"))
        self.layer = int_slider("layer", first.n_layer - 1, layer)
        self.head = int_slider("head", first.n_head - 1, head)
        self.figure = go.FigureWidget()
        tokens = self.patterns[self.steps[-1]].tokens
        self.masked = ~attention.causal_mask(len(tokens))
        redraw(self.figure, dot_grid(self.current(), tokens, masked=self.masked, title=self.title()))
        for control in (self.step, self.layer, self.head):
            control.observe(lambda _: update_dot_grid(self.figure, self.current(), self.masked, self.title()), names="value")
        self.widget = widgets.VBox([self.step, widgets.HBox([self.layer, self.head]), self.figure])

    def current(self) -> torch.Tensor:
        return self.patterns[self.step.value].pattern(self.layer.value, self.head.value)

    def title(self) -> str:
        loss = self.losses[self.step.value]
        return (f"step {self.step.value}: layer {self.layer.value}, head {self.head.value}"
                + (f" (training loss ≈ {loss:.2f})" if loss is not None else ""))


class AnalogyPlayground:
    """Three word boxes: b − a + c, the ranked answers with and without the inputs, and the arithmetic drawn to scale."""

    def __init__(self, kv, b: str = "king", a: str = "man", c: str = "woman", expected: str | None = "queen", topn: int = 8):
        from explainer import embeddings

        self.embeddings, self.kv, self.topn = embeddings, kv, topn
        box = lambda value, label: widgets.Text(value=value, description=label, continuous_update=False,
                                                layout=widgets.Layout(width="200px"))
        self.b, self.a, self.c = box(b, "start from"), box(a, "subtract"), box(c, "add")
        self.expected = box(expected or "", "expect")
        self.table = widgets.HTML()
        self.figure = go.FigureWidget()
        for control in (self.a, self.b, self.c, self.expected):
            control.observe(lambda _: self.update(), names="value")
        self.widget = widgets.VBox([widgets.HBox([self.b, self.a, self.c, self.expected]), self.table, self.figure])
        self.update()

    def update(self) -> None:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = self.embeddings.analogy(self.kv, self.a.value, self.b.value, self.c.value,
                                                 self.expected.value or None, self.topn)
        except ExplainerError as error:
            self.table.value = f"<span style='color:#b91c1c'>{html.escape(str(error))}</span>"
            return
        rows = "".join(
            f"<tr><td>{i + 1}</td><td>{html.escape(w1)}{' <i>(input)</i>' if w1 in (result.a, result.b, result.c) else ''}"
            f"</td><td>{s1:.3f}</td><td>{html.escape(w2)}</td><td>{s2:.3f}</td></tr>"
            for i, ((w1, s1), (w2, s2)) in enumerate(zip(result.with_inputs, result.without_inputs)))
        facts = ""
        if result.expected:
            facts = (f"<br>{result.expected!r}: rank {result.expected_rank_with_inputs} with the inputs, "
                     f"{result.expected_rank_without_inputs} without; cosine {result.expected_cosine:.3f}")
        notes = "".join(f"<br><span style='color:#b45309'>{html.escape(str(w.message))}</span>" for w in caught)
        self.table.value = (
            f"<b>{result.b} − {result.a} + {result.c}</b>{facts}{notes}<table><tr><th>#</th><th>all words</th><th>cos</th>"
            f"<th>inputs excluded (gensim)</th><th>cos</th></tr>{rows}</table>")
        answer = result.expected or result.answer
        points = self.embeddings.analogy_plane(self.kv, result, extra=[answer])
        distance = float(np.linalg.norm(self.embeddings.unit(result.target) - self.embeddings.unit(self.embeddings.vector(self.kv, answer))))
        cosine = float(self.embeddings.unit(result.target) @ self.embeddings.unit(self.embeddings.vector(self.kv, answer)))
        redraw(self.figure, analogy_figure(points, result.a, result.b, result.c, answer, cosine, distance))


class NearOrthogonalExplorer:
    """Dimension, number of vectors and tolerance sliders over the angle histogram of random and optimised vectors."""

    def __init__(self, d: int = 100, n: int = 500, tolerance_degrees: float = 2.0, optimise_steps: int = 150):
        from explainer import geometry

        self.geometry, self.optimise_steps = geometry, optimise_steps
        style = {"description_width": "initial"}
        self.d = widgets.FloatLogSlider(value=d, base=10, min=math.log10(2), max=4, step=0.05, description="dimension d",
                                        readout_format=".0f", style=style, continuous_update=False)
        self.n = widgets.IntSlider(value=n, min=10, max=2000, step=10, description="vectors N", style=style, continuous_update=False)
        self.tolerance = widgets.FloatSlider(value=tolerance_degrees, min=0.5, max=30, step=0.5, description="90° ± (degrees)",
                                             style=style, continuous_update=False)
        self.button = widgets.Button(description="optimise these vectors", icon="compress")
        self.facts = widgets.HTML()
        self.figure = go.FigureWidget()
        self.optimised = None
        for control in (self.d, self.n, self.tolerance):
            control.observe(lambda _: self.update(forget=True), names="value")
        self.button.on_click(lambda _: self.optimise())
        self.widget = widgets.VBox([widgets.HBox([self.d, self.n]), widgets.HBox([self.tolerance, self.button]), self.facts, self.figure])
        self.update(forget=True)

    def dimension(self) -> int:
        return max(2, int(round(self.d.value)))

    def optimise(self) -> None:
        self.facts.value += "<br><i>optimising…</i>"
        result = self.geometry.spread_vectors(self.n.value, self.dimension(), steps=self.optimise_steps, device="cpu", progress=False)
        self.optimised = result.vectors
        self.update(forget=False)

    def update(self, forget: bool) -> None:
        g, d, n = self.geometry, self.dimension(), self.n.value
        if forget:
            self.optimised = None
        eps = g.cos_from_degrees(self.tolerance.value)
        stats = {"random": g.angle_stats(g.random_unit_vectors(n, d, seed=0), eps)}
        if self.optimised is not None:
            stats["optimised"] = g.angle_stats(self.optimised, eps)
        angles = np.linspace(0.5, 179.5, 359)
        density = (angles, g.angle_density(angles, d) * (stats["random"].bin_edges[1] - stats["random"].bin_edges[0]))
        redraw(self.figure, angle_histogram(stats, self.tolerance.value, density, f"{n} unit vectors in {d} dimensions"))
        allowed = g.max_vectors(eps, d)
        self.facts.value = (
            f"every pair within 90° ± {self.tolerance.value}° means |cos| ≤ {eps:.4f}. "
            f"Bounds for N = {n}: no arrangement has max |cos| below <b>{g.lower_bound(n, d):.4f}</b> "
            f"(Welch {g.welch_bound(n, d):.4f}"
            + (f", Levenshtein {g.levenshtein_bound(n, d):.4f}" if g.levenshtein_bound(n, d) else "") + "). "
            f"At most <b>{'any number' if allowed == math.inf else f'{allowed:,}'}</b> vectors can have every pair in the band "
            f"in {d} dimensions; a random pair is in it with probability {g.random_pair_within(eps, d):.1%}."
        )
