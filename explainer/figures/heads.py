"""Figures for heads: every head scored on modifier → noun pairs, the running example's Δe decoded, and all heads of
a layer side by side with the changes they propose."""

from __future__ import annotations

import html

import ipywidgets as widgets
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from explainer import attention, designed, forward, heads
from explainer.figures.common import (Explorer, base_layout, grid_block, grid_step, int_slider, redraw,
                                      resize_grid_block, row, scored_tokens, token_labels)
from explainer.figures.live import FigureWidget
from explainer.figures.table import Table
from explainer.gpt.checkpoint import LanguageModel
from explainer.style import BAR_COLOR, HIGHLIGHT_COLOR, display_token


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


def heads_figure(found: heads.LayerHeads, position: int, longest: float | None = None) -> go.Figure:
    """Every head of the layer: its pattern (small dot grids side by side, one `grid_block`), and the length of its
    Δe for one token. The bars' axis reaches `longest` (by default the longest of this layer, any token)."""
    count, n = found.patterns.shape[0], len(found.tokens)
    step, width = grid_step(n), 760
    unit = (width - 40) / (count * step - 1)  # px per cell: the grids fill the width, their cells square
    grids, bars, gap = unit * (n + 1.3), 140, 40  # px high: the grids with their names, the bars, between them
    height = 80 + grids + gap + bars + 30
    figure = make_subplots(rows=2, cols=1, row_heights=[grids, bars], vertical_spacing=gap / (height - 110))
    for trace in grid_block(found.patterns[None], [[f"head {h}" for h in range(count)]], token_labels(found.tokens),
                            0.95 * unit):
        figure.add_trace(trace, row=1, col=1)
    figure.add_trace(go.Bar(x=[f"Δe of head {h}" for h in range(count)] + ["Σ heads + bias"],
                            y=delta_lengths(found, position),
                            marker_color=[BAR_COLOR] * count + [HIGHLIGHT_COLOR], hovertemplate="%{x}: %{y:.3f}<extra></extra>"),
                     row=2, col=1)
    longest = longest_in_layer(found) if longest is None else longest
    figure.update_yaxes(range=[0, 1.1 * longest], row=2, col=1)
    figure.update_xaxes(visible=False, range=[-1, count * step - 2], row=1, col=1)
    figure.update_yaxes(visible=False, range=[n - 0.5, -1.8], scaleanchor="x", row=1, col=1)
    figure.update_layout(height=round(height), width=width, autosize=False, showlegend=False, title=HEADS_TITLE,
                         margin=dict(l=20, r=20, t=80, b=30),
                         annotations=[dict(x=h * step + (n - 1) / 2, y=-1.2, xref="x", yref="y", text=f"head {h}",
                                           showarrow=False, font=dict(size=13)) for h in range(count)])
    return figure


def delta_lengths(found: heads.LayerHeads, position: int) -> list[float]:
    """|Δe| of each head for the token at `position`, then of their sum plus the bias."""
    return found.deltas[:, position].norm(dim=-1).tolist() + [float(found.total[position].norm())]


def longest_delta(lm: LanguageModel, prompt: str) -> float:
    """The longest |Δe| (a head's, or a layer's sum plus bias) of any token in any layer: a bars axis that holds it
    never has to change, so that moving the layer or the token redraws the bars only."""
    return max(longest_in_layer(heads.layer_heads(lm, prompt, layer)) for layer in range(lm.model.config.n_layer))


def longest_in_layer(found: heads.LayerHeads) -> float:
    return max(max(delta_lengths(found, p)) for p in range(len(found.tokens)))


HEADS_TITLE = "each head's pattern (dot area ∝ weight), and the length of its Δe for the token"


def heads_caption(found: heads.LayerHeads, position: int) -> str:
    """What the figure shows now (the title stays, so that moving a control redraws the traces only)."""
    return f"<b>layer {found.layer}, token {position} ({html.escape(display_token(found.tokens[position]))})</b>"


class HeadsExplorer(Explorer):
    """Layer and token controls over all heads of a layer side by side."""

    def __init__(self, lm: LanguageModel, prompt: str, layer: int = 0, position: int = -1):
        super().__init__()
        self.lm, self.prompt = lm, prompt
        tokens = lm.tokens(lm.encode(prompt))
        self.layer = int_slider("layer", lm.model.config.n_layer - 1, layer)
        self.token = widgets.Dropdown(options=[(f"{i}: {display_token(t)}", i) for i, t in enumerate(tokens)],
                                      value=position % len(tokens), description="token")
        self.longest = longest_delta(lm, prompt)
        self.figure = FigureWidget()
        self.facts = widgets.HTML()
        self.watch([self.layer, self.token], self.update)
        self.widget = widgets.VBox([row(self.layer, self.token), self.status, self.facts, self.figure])
        self.safely(self.update)

    def update(self) -> None:
        found = heads.layer_heads(self.lm, self.prompt, self.layer.value)
        position = self.token.value
        if not self.figure.data:
            redraw(self.figure, heads_figure(found, position, self.longest))
        else:  # same prompt, same heads: only the dots' sizes and the bars change
            with self.figure.batch_traces():
                resize_grid_block(self.figure.data[1], found.patterns[None])
                self.figure.data[-1].y = delta_lengths(found, position)
        self.facts.value = (f"{heads_caption(found, position)}: "
                            f"{html.escape(heads.overlap_verdict(found, position).plain)} The sum of their Δe plus the bias "
                            "equals the layer's attention output.")


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
