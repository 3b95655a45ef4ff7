"""Figures for the forward pass: tokens vs characters, the logit lens, the loss at every position, training curves."""

from __future__ import annotations

import plotly.graph_objects as go
import torch

from explainer import forward
from explainer.figures.common import base_layout, html_tokens
from explainer.figures.table import Table
from explainer.gpt.checkpoint import LanguageModel
from explainer.style import display_token


def tokens_html(comparison: forward.TokenComparison) -> str:
    return f"<b>tokens</b> {html_tokens(comparison.tokens)}<br><b>characters</b> {html_tokens(comparison.characters)}"


def tokens_table(comparison: forward.TokenComparison) -> Table:
    n_tokens, n_chars = len(comparison.tokens), len(comparison.characters)
    return Table({"tokens": [n_tokens, n_chars], "attention cells n²": [n_tokens**2, n_chars**2],
                  "vocabulary": [comparison.vocabulary, comparison.alphabet]}, index=["BPE (ours)", "characters"])


def split_words_text(lm: LanguageModel, text: str) -> str:
    """How many of the text's words are single tokens for this model, and the pieces of the others (Markdown)."""
    words, pieces = forward.split_words(lm, text)
    if not pieces:
        return f"All {len(words)} words are single tokens of this model."
    split = "; ".join(f"*{word}* → {' + '.join(display_token(t) for t in parts)}" for word, parts in pieces.items())
    return f"{len(words) - len(pieces)} of the {len(words)} words are single tokens of this model; the others are split: {split}."


def lens_table(rows: list[forward.LensRow]) -> Table:
    """One row per stage: the length of the last token's vector and what it decodes to."""
    return Table.from_rows([{"stage": r.stage, "|vector|": r.norm,
                             **{f"#{i + 1}": f"{display_token(t)} {p:.0%}" for i, (t, p) in enumerate(zip(r.top_tokens, r.top_probs))},
                             "under-trained left out": r.left_out}
                            for r in rows], formats={"|vector|": "{:.2f}"})


def cost_curve() -> go.Figure:
    """−log p against p: the cost of one prediction."""
    p = torch.linspace(0.001, 1, 400)
    figure = go.Figure(go.Scatter(x=p.tolist(), y=(-torch.log(p)).tolist(), mode="lines"))
    return base_layout(figure, "cost of one prediction: −log p(actual next token)", height=320, xaxis_title="p",
                       yaxis_title="−log p")


def losses_figure(tokens: list[str], losses: torch.Tensor) -> go.Figure:
    """−log p of each actual next token in a text: one training example per position."""
    figure = go.Figure(go.Bar(x=[f"{i}:{display_token(t)}" for i, t in enumerate(tokens[1:], 1)], y=losses.tolist(),
                              hovertemplate="predicting %{x}: %{y:.2f}<extra></extra>"))
    return base_layout(figure, "−log p of each actual next token (one pass gives all of them)", height=380,
                       xaxis=dict(type="category", tickangle=-60, automargin=True), yaxis_title="loss (nats)")


def training_curve(lm: LanguageModel) -> go.Figure:
    """The model's recorded training-batch loss and validation loss."""
    if "history" not in lm.meta:
        return base_layout(go.Figure(), f"{lm.name} carries no training record (it was trained elsewhere)", height=200)
    history, curve = lm.meta["history"], lm.meta["train_curve"]
    figure = go.Figure([go.Scatter(x=curve["step"], y=curve["loss"], name="training batch loss", opacity=0.6),
                        go.Scatter(x=history["step"], y=history["val_loss"], name="validation loss", mode="lines+markers")])
    return base_layout(figure, "our model's loss during training", height=380, xaxis_title="step",
                       yaxis_title="nats per token", legend=dict(orientation="h", y=-0.25))
