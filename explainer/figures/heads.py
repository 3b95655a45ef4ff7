"""Figures for heads: every head scored on modifier → noun pairs, the running example's Δe decoded, and all heads of
a layer side by side with the changes they propose."""

from __future__ import annotations

import html

import ipywidgets as widgets
import plotly.graph_objects as go
import torch

from explainer import attention, designed, forward, heads
from explainer.figures.attention import masked_cells
from explainer.figures.common import LayerTokenExplorer, base_layout, scored_tokens, token_labels
from explainer.figures.kit import bars, dots, text
from explainer.figures.table import Table
from explainer.gpt.checkpoint import LanguageModel
from explainer.style import display_token


def scores_table(scores: heads.HeadScores | None) -> Table:
    """One row per head, the most selective first: its weight on each kind of pair, and how much a noun's weight on
    its adjective exceeds the stronger control (empty if the heads could not be scored)."""
    if scores is None:
        return Table({name: [] for name in ("layer", "head", *heads.KINDS, "selectivity")})
    layers, count = scores.selectivity.shape
    rows = [{"layer": l, "head": h, **scores.of(l, h), "selectivity": float(scores.selectivity[l, h])}
            for l in range(layers) for h in range(count)]
    return Table.from_rows(rows).sorted_by("selectivity", descending=True)


def designed_table(head: designed.DesignedHead) -> Table:
    """Each word of the designed sentence: the words it reads most, and what its Δe adds to the carried features."""
    rows = []
    for i, word in enumerate(head.words):
        row = head.steps.pattern[i]
        top = torch.argsort(row, descending=True)[:2].tolist()
        rows.append({"reads": ", ".join(f"{head.words[j]} {float(row[j]):.2f}" for j in top if float(row[j]) >= 0.05),
                     **{f"Δe: {name}": float(head.steps.delta[i, designed.feature_index(name)]) for name in designed.CARRIED}})
    return Table.from_rows(rows, index=head.words, formats={f"Δe: {name}": "{:+.2f}" for name in designed.CARRIED})


def delta_table(lm: LanguageModel, steps: attention.AttentionSteps, position: int, top: int = 5) -> Table:
    """The token's vector before (e) and after (e + Δe) this head, decoded two ways: through the final LayerNorm and
    the unembedding (the logit lens: what it predicts next) and by the nearest token embeddings (what it resembles)."""
    e, updated = steps.residual[position], steps.updated[position]
    return Table({
        "length": [float(e.norm()), float(steps.delta[position].norm()), float(updated.norm())],
        "predicts next (logit lens)": [scored_tokens(forward.decode(lm, e, top)), "",
                                       scored_tokens(forward.decode(lm, updated, top))],
        "nearest token embeddings": [scored_tokens(forward.nearest_tokens(lm, e, top)),
                                     scored_tokens(forward.nearest_tokens(lm, steps.delta[position], top)),
                                     scored_tokens(forward.nearest_tokens(lm, updated, top))],
    }, index=["e", "Δe (this head)", "e + Δe"], formats={"length": "{:.2f}"})


def delta_lengths(found: heads.LayerHeads) -> torch.Tensor:
    """|Δe| of each head for each token, then of their sum plus the bias [token, head + 1]."""
    return torch.cat([found.deltas.norm(dim=-1).T, found.total.norm(dim=-1)[:, None]], dim=1)


def heads_caption(found: heads.LayerHeads, position: int) -> str:
    """Which layer and token the figure shows."""
    return f"<b>layer {found.layer}, token {position} ({html.escape(display_token(found.tokens[position]))})</b>"


def heads_facts(found: heads.LayerHeads, position: int) -> str:
    return (f"{heads_caption(found, position)}: {html.escape(heads.overlap_verdict(found, position).plain)} The sum of "
            "their Δe plus the bias equals the layer's attention output.")


def heads_panels(lm: LanguageModel, prompt: str) -> list:
    """Every layer's heads side by side (their patterns as small dot grids) and, for each token, the length of each
    head's Δe and of their sum, with the verdict on how much the heads overlap: all of it chosen in the page."""
    layers = [heads.layer_heads(lm, prompt, layer) for layer in range(lm.layout.n_layer)]
    tokens, count = layers[0].tokens, layers[0].patterns.shape[0]
    positions = range(len(tokens))
    return [text([[heads_facts(found, p) for p in positions] for found in layers], over=("layer", "token")),
            dots(torch.stack([found.patterns for found in layers]), token_labels(tokens), over=("layer",),
                 masked=masked_cells(len(tokens)), tiles=[f"head {h}" for h in range(count)],
                 title="each head's pattern (dot area ∝ weight; rows: queries, columns: keys)"),
            bars(torch.stack([delta_lengths(found) for found in layers]),
                 [f"Δe of head {h}" for h in range(count)] + ["Σ heads + bias"], over=("layer", "token"),
                 title="the length of each head's Δe for the token, and of their sum", percent=False, highlight=count,
                 y_title="length")]


class HeadsExplorer(LayerTokenExplorer):
    """Layer and token controls over all heads of a layer side by side. Every layer's patterns and every token's
    lengths go to the page once (a kit Stack); the layer and the token are chosen there."""

    panels = staticmethod(heads_panels)


def overlap_table(found: heads.LayerHeads) -> Table:
    labels = [f"head {h}" for h in range(found.patterns.shape[0])]
    return Table.from_matrix(found.pattern_overlap().tolist(), labels, labels, "{:.2f}")


def value_weights_table(shapes: list) -> Table:
    """Per head: the key (or query) matrix, the value map as down + up, and what a full d × d value map would need."""
    rows = {shape.name: {"key or query matrix": shape.d_model * shape.d_head, "value down + up": 2 * shape.d_model * shape.d_head,
                         "a full value map": shape.d_model**2, "full ÷ one key matrix": shape.d_model / shape.d_head,
                         "heads per forward pass": shape.n_layers * shape.n_heads} for shape in shapes}
    return Table.from_rows(list(rows.values()), index=list(rows), formats={"full ÷ one key matrix": "{:g}"})


def several_heads_table(cases: list[designed.HeadsCase], noun: str = "creature") -> Table:
    """For each sentence, one head and two heads: the noun's weights on the adjectives and what arrives in its vector."""
    rows, index = [], []
    for case in cases:
        sentence = " ".join(case.words)
        for heads_used in ("one", "two"):
            weights = case.weights(heads_used, noun)
            arrived = case.arrived(heads_used, noun)
            reads = "; ".join(f"{name}: " + ", ".join(f"{case.words[i]} {w:.2f}" for i, w in enumerate(row) if w >= 0.05)
                              for name, row in weights.items())
            rows.append({"the noun's weights": reads, "Δe: fluffy": arrived["fluffy"], "Δe: blue": arrived["blue"]})
            index.append(f"“{sentence}”, {heads_used} head{'s' if heads_used == 'two' else ''}")
    return Table.from_rows(rows, index=index, formats={"Δe: fluffy": "{:+.2f}", "Δe: blue": "{:+.2f}"})


def position_figure(found: heads.PositionProfile) -> go.Figure:
    """Each head's weight per key at each position, against uniform attention's (1 = no preference)."""
    lift = found.lift().tolist()
    figure = go.Figure(go.Heatmap(z=lift, x=found.columns, y=[f"head {h}" for h in range(len(lift))], zmin=0,
                                  colorscale="Blues", texttemplate="%{z:.1f}×", colorbar=dict(title="× uniform", thickness=12),
                                  hovertemplate="%{y}, %{x}: %{z:.2f}× uniform attention's weight per key<extra></extra>"))
    return base_layout(figure, f"layer {found.layer}: where each head reads, per key against uniform attention", height=120 + 36 * len(lift),
                       xaxis=dict(title="key position relative to the query", type="category"),
                       yaxis=dict(autorange="reversed", type="category"))
