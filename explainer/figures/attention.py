"""Figures for attention: one head step by step, any head of the trained model, every head at once, generated tokens,
and a head forming during training. Grids are [query, key]: rows are the token being updated."""

from __future__ import annotations

from typing import Sequence

import html

import ipywidgets as widgets
import plotly.graph_objects as go
import torch

from explainer import attention
from explainer.figures.common import (MAX_WIDTH, Explorer, grid_block_heatmap, grid_step, heatmap, html_tokens, prompt_box,
                                      title_above, token_labels, value_grid)
from explainer.figures.kit import AttentionView, Control, Stack, StepsView, bars, dots, text
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
    """Generate a continuation once, then step through it: each token's distribution and what it attended to. Every
    step's numbers go to the page once (a kit Stack); the step, layer and head are chosen there (a new sample is a new
    explorer, in the kernel)."""

    CANDIDATES = 10  # the most likely tokens shown at each step

    def __init__(self, lm: LanguageModel, prompt: str, max_new_tokens: int = 20, temperature: float = 0.8, seed: int = 0):
        super().__init__()
        self.lm = lm
        self.prompt_ids = lm.encode(prompt)
        self.steps = list(lm.stream(prompt, max_new_tokens, temperature=temperature, seed=seed))
        self.tokens = lm.tokens(self.prompt_ids + [s.token_id for s in self.steps])  # the prompt and every drawn token
        heads = lm.model.config.n_head
        self.view = Stack([text([self.drawn_html(i) for i in range(len(self.steps))], over=("step",)),
                           self.distribution(), self.attended()],
                          [Control("step", [str(i + 1) for i in range(len(self.steps))], label="new token #", slider=True),
                           Control("head", ["mean of heads"] + [str(h) for h in range(heads)])])
        self.widget = widgets.VBox([self.status, self.view])

    def drawn_html(self, index: int) -> str:
        """The text up to the token drawn at step `index` (0: the first new token), that token marked."""
        step, position = self.steps[index], len(self.prompt_ids) + index
        drawn = display_token(self.tokens[position])
        return (html_tokens(self.tokens[: position + 1], highlight=position)
                + f"<div>drawn: <b>{html.escape(drawn)}</b> (p = {float(step.probs[step.token_id]):.1%})</div>")

    def distribution(self):
        """At each step, the most likely candidates (each labelled with its token), the one drawn highlighted."""
        top = [torch.topk(step.probs, self.CANDIDATES) for step in self.steps]
        ids = [found.indices.tolist() for found in top]
        drawn = [candidates.index(step.token_id) if step.token_id in candidates else -1
                 for candidates, step in zip(ids, self.steps)]
        return bars(torch.stack([found.values for found in top]), [[display_token(t) for t in self.lm.tokens(candidates)]
                                                                   for candidates in ids],
                    over=("step",), title="the distribution the new token was drawn from, most likely first",
                    highlight=drawn, y_title="probability")

    def attended(self):
        """At each step, what the new token attends to in each layer (each head, and their mean) over the window it
        sees: the keys it cannot see yet have no bar. In a sliding window (the text outgrew the context) each step
        reads other tokens, and its labels follow."""
        window = max(len(step.window) for step in self.steps)
        weights = torch.full((len(self.steps), self.lm.model.config.n_layer, self.lm.model.config.n_head + 1, window),
                             float("nan"))  # [step, layer, mean and heads, key]
        for i, step in enumerate(self.steps):
            seen = step.attention.shape[-1]
            weights[i, :, 0, :seen] = step.attention.mean(1)
            weights[i, :, 1:, :seen] = step.attention
        if self.cropped():
            labels = [token_labels(self.lm.tokens(step.window)) + [""] * (window - len(step.window)) for step in self.steps]
        else:
            labels = token_labels(self.tokens[:window])
        return bars(weights, labels, over=("step", "layer", "head"), y_title="weight",
                    title="what the new token attends to (keys after it are not there yet)")

    def cropped(self) -> bool:
        """True once the text outgrows the context window (the steps then read a sliding window of its last tokens)."""
        return len(self.tokens) > self.lm.block_size

    @property
    def step(self) -> int:
        """The step shown: 1 for the first new token."""
        return self.view.choice["step"] + 1

    @property
    def layer(self) -> int:
        return self.view.choice["layer"]

    @property
    def head(self) -> int:
        """The head shown, or −1 for the mean of the heads."""
        return self.view.choice["head"] - 1


class TrainingExplorer(Explorer):
    """One head's pattern at each saved training step: watch it form. Every snapshot's patterns go to the page once (a
    kit Stack); the step, layer and head are chosen there."""

    def __init__(self, folder, prompt: str, layer: int = 0, head: int = 0):
        super().__init__()
        self.steps = checkpoint.snapshot_steps(folder)
        models = {step: checkpoint.load(folder, step=step) for step in self.steps}
        self.patterns = {step: attention.prompt_attention(lm, prompt) for step, lm in models.items()}
        self.losses = checkpoint.losses_at(folder, self.steps)
        layers, heads = self.patterns[self.steps[-1]].patterns.shape[:2]
        tokens = self.patterns[self.steps[-1]].tokens
        captions = [[[self.title(step, l, h) for h in range(heads)] for l in range(layers)] for step in self.steps]
        self.view = Stack([text(captions, over=("step", "layer", "head")),
                           dots(torch.stack([self.patterns[step].patterns for step in self.steps]), token_labels(tokens),
                                over=("step", "layer", "head"), masked=masked_cells(len(tokens)),
                                title="attention pattern (dot area ∝ weight)")],
                          [Control("step", [f"{step:,}" for step in self.steps], label="training step", slider=True)],
                          step=len(self.steps) - 1, layer=min(layer, layers - 1), head=min(head, heads - 1))
        self.widget = widgets.VBox([self.status, self.view])

    def steps_text(self) -> str:
        return ", ".join(f"{s:,}" for s in self.steps)

    @property
    def step(self) -> int:
        return self.steps[self.view.choice["step"]]

    @property
    def layer(self) -> int:
        return self.view.choice["layer"]

    @property
    def head(self) -> int:
        return self.view.choice["head"]

    def title(self, step: int, layer: int, head: int) -> str:
        loss = self.losses[step]
        return (f"<b>step {step}</b>: layer {layer}, head {head}"
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
