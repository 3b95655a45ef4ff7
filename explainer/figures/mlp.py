"""Figures for the MLP: one token through it, a neuron's question and answer, where it fires, and a stored lookup."""

from __future__ import annotations

import html

import ipywidgets as widgets
import plotly.graph_objects as go
import torch

from explainer import designed, forward, mlp, scale
from explainer.figures.common import Explorer, base_layout, html_tokens, int_slider, redraw, row, scored_tokens
from explainer.figures.live import FigureWidget
from explainer.figures.table import Table
from explainer.gpt.checkpoint import LanguageModel
from explainer.style import BAR_COLOR, HIGHLIGHT_COLOR, NEGATIVE_COLOR, display_token


def strongest_neurons(step: mlp.MLPPass, top: int = 40) -> dict:
    """The `top` strongest neurons after the GELU, strongest first, as a bar trace's numbers: outputs, colours, and
    each neuron's number (on the bar and on hover)."""
    order = torch.argsort(step.post.abs(), descending=True)[:top].tolist()
    values = step.post[order].tolist()
    return dict(y=values, marker_color=[BAR_COLOR if v > 0 else NEGATIVE_COLOR for v in values],
                text=[str(i) for i in order], customdata=order)


def neurons_figure(step: mlp.MLPPass, top: int = 40, value_range: list[float] | None = None) -> go.Figure:
    """The neurons of one MLP for one token: the `top` strongest after the GELU, sorted, each bar labelled with its
    neuron's number. `value_range` fixes the y axis (see `output_range`); by default it fits the bars."""
    bars = strongest_neurons(step, top)
    order = bars["customdata"]
    figure = go.Figure(go.Bar(x=list(range(len(order))), textposition="outside", textangle=-90, textfont_size=10,
                              cliponaxis=False, hovertemplate="neuron %{customdata}: %{y:.3f}<extra></extra>", **bars))
    title = f"the {len(order)} strongest of {len(step.post)} neurons after the GELU"
    return base_layout(figure, title, height=380, yaxis=dict(title="GELU(input)", range=value_range),
                       xaxis=dict(title="neurons, strongest first (each bar's number names its neuron)", showticklabels=False,
                                  range=[-0.5, len(order) - 0.5]))


def firing_line(step: mlp.MLPPass) -> str:
    """Which MLP and token the bars show, and how many of its neurons fire."""
    firing = int((step.post > 0.1).sum())
    return (f"<b>MLP {step.layer} on token {step.position} ({html.escape(display_token(step.tokens[step.position]))})</b>: "
            f"{firing} of {len(step.post)} neurons above 0.1")


def output_range(lm: LanguageModel, prompt: str) -> list[float]:
    """A y axis that holds every neuron's output for any token of the prompt in any layer: fixed, so that a new layer or
    token redraws the bars and their labels only."""
    tokens = len(lm.encode(prompt))
    outputs = [mlp.mlp_pass(lm, prompt, layer, position).post for layer in range(lm.model.config.n_layer)
               for position in range(tokens)]
    low, high = min(float(o.min()) for o in outputs), max(float(o.max()) for o in outputs)
    return [low - 0.05 * (high - low), high + 0.05 * (high - low)]


def pass_table(lm: LanguageModel, step: mlp.MLPPass, top: int = 5) -> Table:
    """The vector before the MLP, what the MLP adds, and the sum, with their lengths and what they predict next."""
    after = step.before + step.added
    return Table({"length": [float(step.before.norm()), float(step.added.norm()), float(after.norm())],
                  "predicts next (logit lens)": [scored_tokens(forward.decode(lm, step.before, top)), "",
                                                 scored_tokens(forward.decode(lm, after, top))]},
                 index=["vector before the MLP", "what the MLP adds", "vector after"], formats={"length": "{:.2f}"})


class MLPExplorer(Explorer):
    """A prompt's token through one MLP: which neurons fire, and what their sum adds to the vector."""

    def __init__(self, lm: LanguageModel, prompt: str, layer: int = 0, position: int = -1):
        super().__init__()
        self.lm, self.prompt = lm, prompt
        tokens = lm.tokens(lm.encode(prompt))
        self.layer = int_slider("layer", lm.model.config.n_layer - 1, layer)
        self.token = widgets.Dropdown(options=[(f"{i}: {display_token(t)}", i) for i, t in enumerate(tokens)],
                                      value=position % len(tokens), description="token")
        self.value_range = output_range(lm, prompt)
        self.figure = FigureWidget()
        self.firing, self.table = widgets.HTML(), widgets.HTML()
        self.watch([self.layer, self.token], self.update)
        self.widget = widgets.VBox([row(self.layer, self.token), self.status, self.firing, self.figure, self.table])
        self.safely(self.update)

    def update(self) -> None:
        step = mlp.mlp_pass(self.lm, self.prompt, self.layer.value, self.token.value)
        if not self.figure.data:
            redraw(self.figure, neurons_figure(step, value_range=self.value_range))
        else:  # the same 40 bars, axes and title: new heights, colours and neuron numbers
            with self.figure.batch_traces():
                self.figure.data[0].update(**strongest_neurons(step))
        self.firing.value = firing_line(step)
        self.table.value = pass_table(self.lm, step).to_html()


def answer_html(lm: LanguageModel, layer: int, neuron: int) -> str:
    up, down = mlp.promoted_tokens(lm, mlp.neuron_answer(lm, layer, neuron))
    fmt = lambda pairs: html.escape(scored_tokens(pairs, "({:+.2f})"))
    left = (f"<br><i>{up.left_out + down.left_out} under-trained tokens (notebook 02) ranked among these and are left "
            "out.</i>" if up.left_out + down.left_out else "")
    return f"<b>when it fires, it raises</b> {fmt(up)}<br><b>and lowers</b> {fmt(down)}{left}"


def contexts_html(lm: LanguageModel, layer: int, neuron: int) -> str:
    rows = "".join(f"<tr><td>{f.activation:.2f}</td><td>{html_tokens(f.context, highlight=len(f.context) - 1)}</td></tr>"
                   for f in mlp.top_contexts(lm, layer, neuron))
    return f"<b>where it fires most in the validation text</b><table>{rows}</table>"


class NeuronExplorer(Explorer):
    """Pick a neuron: the tokens its answer promotes, and the contexts where its question is answered yes."""

    def __init__(self, lm: LanguageModel, layer: int = 0, neuron: int = 0):
        super().__init__()
        self.lm = lm
        self.layer = int_slider("layer", lm.model.config.n_layer - 1, layer)
        self.neuron = int_slider("neuron", lm.layout.d_mlp - 1, neuron)
        self.neuron.continuous_update = False
        self.answer, self.contexts = widgets.HTML(), widgets.HTML()
        self.watch([self.layer, self.neuron], self.update)
        self.widget = widgets.VBox([row(self.layer, self.neuron), self.status, self.contexts, self.answer])
        self.widget.add_class("explainer-neuron-explorer")
        self.safely(self.update)

    def update(self) -> None:
        self.contexts.value = contexts_html(self.lm, self.layer.value, self.neuron.value)
        self.answer.value = answer_html(self.lm, self.layer.value, self.neuron.value)


def mlp_share_table(shapes: list[scale.Shape]) -> Table:
    """The share of each model's weights in its MLPs, in attention, and in the embeddings."""
    rows = {}
    for shape in shapes:
        counts = scale.tally(shape)
        total = sum(counts.values())
        rows[shape.name] = {"MLP": (counts["MLP up"] + counts["MLP down"]) / total, "attention": scale.attention_share(shape),
                            "embeddings and the rest": 1 - (counts["MLP up"] + counts["MLP down"]) / total - scale.attention_share(shape),
                            "weights": total}
    return Table.from_rows(list(rows.values()), index=list(rows),
                           formats={"MLP": "{:.1%}", "attention": "{:.1%}", "embeddings and the rest": "{:.1%}"})


def lookups_figure(found: mlp.AblationResult | mlp.NotMeasured) -> go.Figure:
    """What mean-ablating each part costs: the lookups' −log p and the ordinary loss, in nats, side by side. A part
    that matters for the lookups more than for any text stands out as a tall first bar beside a short second."""
    if isinstance(found, mlp.NotMeasured):
        return base_layout(go.Figure(), "not measured for this model (see below)", height=160)
    names = [f"{mlp.PART_NAMES[part]} {layer}" for part in ("mlp", "attn") for layer in range(len(found.lookup_change[part]))]
    lookups = found.lookup_change["mlp"] + found.lookup_change["attn"]
    ordinary = found.ordinary_change["mlp"] + found.ordinary_change["attn"]
    figure = go.Figure([
        go.Bar(x=names, y=lookups, name="lookups: −log p(answer)", marker_color=HIGHLIGHT_COLOR,
               texttemplate="%{y:+.2f}", textposition="outside", cliponaxis=False),
        go.Bar(x=names, y=ordinary, name="ordinary text: loss", marker_color=BAR_COLOR,
               texttemplate="%{y:+.2f}", textposition="outside", cliponaxis=False),
    ])
    top = max(lookups + ordinary + [0.1])
    return base_layout(figure, f"what mean-ablating each part costs, in nats ({found.occurrences} lookups)", height=440,
                       barmode="group", yaxis=dict(title="increase in −log p (nats)", range=[min(0, *lookups, *ordinary) - 0.1, 1.15 * top]),
                       legend=dict(orientation="h", y=-0.2))


def xor_table(found: designed.XorCase) -> Table:
    """The four cases: a XOR b, what the best head alone writes, and what the gathering head and the MLP write."""
    return Table({"a": [a for a, _ in found.cases], "b": [b for _, b in found.cases], "a XOR b": found.target,
                  "best head alone": found.attention, "head, then MLP": found.attention_then_mlp},
                 formats={"a XOR b": "{:.0f}", "best head alone": "{:+.2f}", "head, then MLP": "{:+.2f}"})


def interaction_table(found: mlp.NeuronInteraction) -> Table:
    """The neuron's mean activation (and token count) in each of the four cells of the two features."""
    a, b = found.features
    return Table({f"not {b}": [f"{float(found.means[i, 0]):+.2f} ({int(found.counts[i, 0]):,})" for i in (0, 1)],
                  b: [f"{float(found.means[i, 1]):+.2f} ({int(found.counts[i, 1]):,})" for i in (0, 1)]},
                 index=[f"not {a}", a])
