"""Figures for attention: one head step by step, any head of the trained model, every head at once, generated tokens,
and a head forming during training. Grids are [query, key]: rows are the token being updated."""

from __future__ import annotations

from typing import Sequence

import html

import ipywidgets as widgets
import plotly.graph_objects as go
import torch

from explainer import attention
from explainer.figures.common import (MAX_WIDTH, Explorer, bar_colors, dot_grid, grid_block_heatmap, grid_step, heatmap,
                                      html_tokens, int_slider, prompt_box, ranked_bars, redraw, row, row_bars, title_above,
                                      token_labels, update_dot_grid, update_ranked_bars, value_grid)
from explainer.figures.kit import AttentionView, StepsView
from explainer.figures.live import FigureWidget
from explainer.figures.table import Table
from explainer.gpt import checkpoint
from explainer.gpt.checkpoint import LanguageModel
from explainer.style import display_token

COLOUR_BAR_PX = 70  # the head gallery's colour bar and its title


def scores_figure_title(mask: str, scaled: bool) -> str:
    return (f"scores into the softmax ({'÷√d_k' if scaled else 'not scaled'}"
            + ("; future −∞, grey" if mask == "minus_inf" else "") + "): blue > 0 > red")


def scores_figure(steps: attention.AttentionSteps, mask: str, scaled: bool) -> go.Figure:
    """The scores that go into the softmax, with the future written as −∞ (grey) when the mask is −∞."""
    return value_grid(fed_scores(steps, mask), steps.tokens, scores_figure_title(mask, scaled))


def fed_scores(steps: attention.AttentionSteps, mask: str) -> torch.Tensor:
    """The scaled scores as the softmax gets them: the future −∞ when the mask is −∞."""
    future = ~attention.causal_mask(len(steps.tokens))
    return steps.scaled.masked_fill(future, float("-inf")) if mask == "minus_inf" else steps.scaled


def masked_cells(n: int, mask: str = "minus_inf") -> torch.Tensor:
    """Cells drawn as masked in a dot grid: the future, unless there is no mask (an encoder)."""
    return ~attention.causal_mask(n) if mask != "none" else torch.zeros(n, n, dtype=torch.bool)


class StepByStepExplorer(Explorer):
    """One head of the trained model, step by step: scores → scale → mask → softmax → values → Δe. Every head's numbers
    go to the page once (kit.StepsView); layer, head, query, temperature, ÷√d_k and the mask are chosen there."""

    def __init__(self, lm: LanguageModel, prompt: str, layer: int = 0, head: int = 0, query: int | None = None):
        super().__init__()
        self.lm, self.prompt = lm, prompt
        self.view = StepsView()
        self.widget = widgets.VBox([self.status, self.view])
        self.safely(lambda: self.show(layer, head, query))

    def show(self, layer: int, head: int, query: int | None) -> None:
        found = attention.prompt_steps(self.lm, self.prompt)
        self.view.show(found)
        self.view.select(layer, head, len(found.tokens) - 1 if query is None else query)

    @property
    def layer(self) -> int:
        return self.view.layer

    @property
    def head(self) -> int:
        return self.view.head


class AttentionExplorer(Explorer):
    """The trained model's attention for a prompt as a dot grid. Every head goes to the page once (kit.AttentionView);
    layer, head, temperature and the talk's layout are chosen there; a new prompt goes to the kernel."""

    def __init__(self, lm: LanguageModel, prompt: str, layer: int = 0, head: int = 0, transpose: bool = False):
        super().__init__()
        self.lm = lm
        self.prompt = prompt_box(prompt)
        self.view = AttentionView(transposed=transpose)
        self.watch([self.prompt], self.set_prompt)
        self.widget = widgets.VBox([self.prompt, self.status, self.view])
        self.safely(lambda: self.set_prompt(layer, head))

    def set_prompt(self, layer: int | None = None, head: int | None = None) -> None:
        found = attention.cached_prompt_attention(self.lm, self.prompt.value)
        self.view.show(found.patterns, found.tokens, scores=found.scores, captions=head_captions(found))
        self.view.select(layer, head)

    @property
    def layer(self) -> int:
        return self.view.layer

    @property
    def head(self) -> int:
        return self.view.head


def head_captions(found: attention.PromptAttention) -> list[str]:
    """A line per head, layer by layer: its mean weight on the previous, first and own token and its rows' entropy."""
    previous, first, own, entropy = (found.previous_token_score(), found.first_token_score(), found.self_score(),
                                     found.entropy())
    layers, heads = found.patterns.shape[:2]
    return [f"This head (at T = 1, mean over queries): previous-token weight {float(previous[l, h]):.2f}, first-token "
            f"weight {float(first[l, h]):.2f}, own-token weight {float(own[l, h]):.2f}, entropy {float(entropy[l, h]):.2f} bits"
            for l in range(layers) for h in range(heads)]


def head_summary(found: attention.PromptAttention) -> Table:
    """One row per head: mean weight on the previous, first and own token, and the rows' entropy."""
    layers, heads = found.patterns.shape[:2]
    scores = {"previous-token": found.previous_token_score(), "first-token": found.first_token_score(),
              "own token": found.self_score(), "entropy (bits)": found.entropy()}
    return Table.from_rows([{"layer": l, "head": h, **{name: float(value[l, h]) for name, value in scores.items()}}
                            for l in range(layers) for h in range(heads)])


def head_gallery(found: attention.PromptAttention, cell_px: int = 150) -> go.Figure:
    """Every head's pattern on one prompt, one small grid per head (rows: layers, columns: heads), coloured by weight:
    one heatmap and one grey shape for the masked cells, so that it draws quickly however many heads there are."""
    layers, heads = found.patterns.shape[:2]
    n, step = len(found.tokens), grid_step(len(found.tokens))
    names = [[f"layer {l}, head {h}" for h in range(heads)] for l in range(layers)]
    figure = go.Figure(grid_block_heatmap(found.patterns, names, [str(i) for i in range(n)]))
    labels = [dict(x=h * step + (n - 1) / 2, y=l * step - 1.2, text=f"L{l} H{h}", showarrow=False, font=dict(size=12))
              for l in range(layers) for h in range(heads)]
    width = min(MAX_WIDTH, cell_px * heads + COLOUR_BAR_PX)
    figure.update_layout(showlegend=False, annotations=labels, width=width,
                         height=round((width - COLOUR_BAR_PX) * layers / heads) + 70, autosize=False,
                         margin=dict(l=10, r=10, t=60, b=10),
                         title=title_above(f"all heads (rows: layers 0–{layers - 1}, columns: heads 0–{heads - 1}; "
                                           "colour: weight)"),
                         xaxis=dict(visible=False, range=[-1, heads * step - 2]),
                         yaxis=dict(visible=False, range=[layers * step - 2, -2], scaleanchor="x"))
    return figure


class GenerationExplorer(Explorer):
    """Generate a continuation once, then step through it: each token's distribution and what it attended to."""

    CANDIDATES = 10  # the most likely tokens shown at each step

    def __init__(self, lm: LanguageModel, prompt: str, max_new_tokens: int = 20, temperature: float = 0.8, seed: int = 0):
        super().__init__()
        self.lm = lm
        self.prompt_ids = lm.encode(prompt)
        self.steps = list(lm.stream(prompt, max_new_tokens, temperature=temperature, seed=seed))
        self.tokens = lm.tokens(self.prompt_ids + [s.token_id for s in self.steps])  # the prompt and every drawn token
        config = lm.model.config
        self.step = int_slider("new token #", len(self.steps), 1, minimum=1)
        self.layer = int_slider("layer", config.n_layer - 1)
        self.head = widgets.Dropdown(options=[("mean of heads", -1)] + [(str(h), h) for h in range(config.n_head)],
                                     value=-1, description="head")
        self.text = widgets.HTML()
        self.distribution = FigureWidget(ranked_bars(self.CANDIDATES, "the distribution the new token was drawn from",
                                                     tallest=max(float(s.probs.max()) for s in self.steps)))
        self.distribution.update_layout(height=360)
        self.attended = FigureWidget(self.attended_figure())
        self.watch([self.step, self.layer, self.head], self.update)
        self.widget = widgets.VBox([self.step, row(self.layer, self.head), self.status, self.text,
                                    self.distribution, self.attended])
        self.safely(self.update)

    def attended_figure(self) -> go.Figure:
        """Bars over every position the steps read, labelled once: each step fills those it can see (in a sliding
        window the labels follow the window)."""
        window = max(len(s.window) for s in self.steps)
        figure = row_bars([0.0] * window, self.tokens[:window], "what the new token attends to")
        figure.data[0].x = list(range(window))  # places, labelled by the axis
        figure.update_layout(height=380, xaxis=dict(title="key (the tokens after the new one are masked: weight 0)",
                                                    type="linear", tickvals=list(range(window)),
                                                    ticktext=token_labels(self.tokens[:window]), range=[-0.5, window - 0.5]),
                             yaxis_range=[0, 1.15 * max(float(s.attention.max()) for s in self.steps)])
        return figure

    def cropped(self) -> bool:
        """True once the text outgrows the context window (the steps then read a sliding window of its last tokens)."""
        return len(self.tokens) > self.lm.block_size

    def update(self) -> None:
        """The chosen step's distribution and attention; only the bars' numbers travel."""
        step = self.steps[self.step.value - 1]
        position = len(self.prompt_ids) + self.step.value - 1
        drawn = display_token(self.tokens[position])
        self.text.value = (html_tokens(self.tokens[: position + 1], highlight=position)
                           + f"<div>drawn: <b>{html.escape(drawn)}</b> (p = {float(step.probs[step.token_id]):.1%})</div>")
        top = torch.topk(step.probs, self.CANDIDATES)
        ids = top.indices.tolist()
        update_ranked_bars(self.distribution, self.lm.tokens(ids), top.values.tolist(),
                           ids.index(step.token_id) if step.token_id in ids else -1)
        weights = step.attention[self.layer.value]
        weights = (weights.mean(0) if self.head.value < 0 else weights[self.head.value]).tolist()
        if self.cropped():  # a sliding window: every step reads other tokens, so the labels change too
            keys = token_labels(self.lm.tokens(step.window))
            with self.attended.batch_update():
                self.attended.layout.xaxis.ticktext = keys
                fill_attended(self.attended.data[0], weights, len(keys))
            return
        with self.attended.batch_traces():
            fill_attended(self.attended.data[0], weights, len(self.attended.data[0].x))


def fill_attended(bars: go.Bar, weights: list[float], places: int) -> None:
    """Bars for `weights` on the first places of `places`, the largest highlighted; the places after them empty."""
    strongest = max(range(len(weights)), key=weights.__getitem__)
    empty = places - len(weights)
    bars.update(y=weights + [0.0] * empty, text=[f"{w:.1%}" for w in weights] + [""] * empty,
                marker_color=bar_colors(places, strongest))


class TrainingExplorer(Explorer):
    """One head's pattern at each saved training step: watch it form."""

    def __init__(self, folder, prompt: str, layer: int = 0, head: int = 0):
        super().__init__()
        self.steps = checkpoint.snapshot_steps(folder)
        models = {step: checkpoint.load(folder, step=step) for step in self.steps}
        self.patterns = {step: attention.prompt_attention(lm, prompt) for step, lm in models.items()}
        self.losses = checkpoint.losses_at(folder, self.steps)
        config = models[self.steps[0]].model.config
        self.step = widgets.SelectionSlider(options=self.steps, value=self.steps[-1], description="training step",
                                            style={"description_width": "initial"},
                                            layout=widgets.Layout(width="100%", max_width="480px"))
        self.layer = int_slider("layer", config.n_layer - 1, min(layer, config.n_layer - 1))
        self.head = int_slider("head", config.n_head - 1, min(head, config.n_head - 1))
        self.figure = FigureWidget()
        tokens = self.patterns[self.steps[-1]].tokens
        self.masked = masked_cells(len(tokens))
        self.caption = widgets.HTML(self.title())
        redraw(self.figure, dot_grid(self.current(), tokens, masked=self.masked, title="attention pattern (dot area ∝ weight)"))
        self.watch([self.step, self.layer, self.head], self.update)
        self.widget = widgets.VBox([self.step, row(self.layer, self.head), self.status, self.caption, self.figure])

    def update(self) -> None:
        update_dot_grid(self.figure, self.current(), self.masked)
        self.caption.value = self.title()

    def steps_text(self) -> str:
        return ", ".join(f"{s:,}" for s in self.steps)

    def current(self) -> torch.Tensor:
        return self.patterns[self.step.value].pattern(self.layer.value, self.head.value)

    def title(self) -> str:
        loss = self.losses[self.step.value]
        return (f"<b>step {self.step.value}</b>: layer {self.layer.value}, head {self.head.value}"
                + (f" (loss on one training batch: {loss:.2f})" if loss is not None else ""))


def zero_after_text(variants: dict[str, torch.Tensor]) -> str:
    """What zeroing after the softmax does to the rows' sums, first rows and last (Markdown)."""
    sums = variants["zero_after"].sum(-1)
    return (f"Zeroing after the softmax leaves row 0 with {float(sums[0]):.0%} of its weight, row 1 with {float(sums[1]):.0%}, "
            f"and the last row with {float(sums[-1]):.0%}: the earlier the query, the more of its weight the future took.")


def mask_row_sums(variants: dict[str, torch.Tensor], tokens: list[str]) -> Table:
    """Each query's row sum under each way of masking."""
    return Table({name: pattern.sum(-1).tolist() for name, pattern in variants.items()}, index=token_labels(tokens))


def mask_variants_text() -> str:
    """The ways to mask, as a Markdown list."""
    return "\n".join(f"- `{name}`: {text}" for name, text in attention.MASK_VARIANTS.items())


def vectors_heatmap(vectors: torch.Tensor, tokens: list[str], title: str, dimensions: int | None = None,
                    names: Sequence[str] | None = None) -> go.Figure:
    """One row per token, one column per dimension (the first `dimensions` of them, labelled with `names` if given)."""
    shown = vectors[:, :dimensions] if dimensions else vectors
    labels = list(names)[:shown.shape[1]] if names else [str(i) for i in range(shown.shape[1])]
    return heatmap(shown, labels, token_labels(tokens), title, x_title="feature" if names else "dimension",
                   y_title="token")


def lookup_table(steps: attention.AttentionSteps, position: int, temperatures: tuple[float, ...] = (1.0, 0.1, 0.0)) -> Table:
    """One query against every key: its scaled score, and the weights of the soft lookup at several temperatures
    (T = 0: a dictionary's lookup, all weight on the best-matching key)."""
    found = attention.lookup_weights(steps, position, temperatures)
    allowed = range(position + 1)
    return Table({"query · key ÷ √d_k": [float(steps.scaled[position, k]) for k in allowed],
                  **{f"weight at T = {t:g}": [float(found[t][k]) for k in allowed] for t in temperatures}},
                 index=[display_token(steps.tokens[k]) for k in allowed],
                 formats={"query · key ÷ √d_k": "{:+.2f}", **{f"weight at T = {t:g}": "{:.3f}" for t in temperatures}})
