"""Figures for the MLP: one token through it, a neuron's question and answer, where it fires, and a stored lookup."""

from __future__ import annotations

import html

from typing import Sequence

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import torch

from explainer import designed, forward, mlp, scale
from explainer.figures.common import Explorer, LayerTokenExplorer, base_layout, int_slider, row, scored_tokens
from explainer.figures.kit import Stack, bars, text, tokens
from explainer.figures.table import Table
from explainer.gpt.checkpoint import LanguageModel
from explainer.style import BAR_COLOR, HIGHLIGHT_COLOR, display_token


STRONGEST = 40  # neurons shown for one token, the strongest after the nonlinearity
TOP_TOKENS = 8  # tokens a neuron's answer raises, and lowers
ANSWERS_IN_PAGE = 2 * 10**10  # multiply-adds for every neuron's answer through the unembedding: within this (the shipped
# model needs 4.2e9) all are computed once and the page chooses among them; GPT-2 small (1.4e12) computes one at a time
CHUNK = 256  # neurons read through the unembedding at once (GPT-2: 256 × 50,257 logits, 51 MB)


def firing_line(step: mlp.MLPPass) -> str:
    """Which MLP and token the bars show, and how many of its neurons fire."""
    firing = int((step.post > 0.1).sum())
    return (f"<b>MLP {step.layer} on token {step.position} ({html.escape(display_token(step.tokens[step.position]))})</b>: "
            f"{firing} of {len(step.post)} neurons above 0.1")


def pass_table(lm: LanguageModel, step: mlp.MLPPass, top: int = 5) -> Table:
    """The vector before the MLP, what the MLP adds, and the sum, with their lengths and what they predict next."""
    after = step.before + step.added
    return Table({"length": [float(step.before.norm()), float(step.added.norm()), float(after.norm())],
                  "predicts next (logit lens)": [scored_tokens(forward.decode(lm, step.before, top)), "",
                                                 scored_tokens(forward.decode(lm, after, top))]},
                 index=["vector before the MLP", "what the MLP adds", "vector after"], formats={"length": "{:.2f}"})


def mlp_panels(lm: LanguageModel, prompt: str) -> list:
    """Every token through every MLP, chosen in the page: the strongest neurons after the nonlinearity, sorted, each
    bar labelled with its neuron's number; how many fire; and what the MLP adds to the vector."""
    count = len(lm.encode(prompt))
    passes = [[mlp.mlp_pass(lm, prompt, layer, position) for position in range(count)] for layer in range(lm.layout.n_layer)]
    post = torch.stack([torch.stack([step.post for step in layer]) for layer in passes])  # [layer, token, neuron]
    order = torch.argsort(post.abs(), dim=-1, descending=True)[..., :STRONGEST]  # [layer, token, strongest]
    return [text([[firing_line(step) for step in layer] for layer in passes], over=("layer", "token")),
            bars(post.gather(-1, order), order.numpy().astype(str), over=("layer", "token"), percent=False, highlight=-1,
                 signed=True, y_title="output of the nonlinearity",
                 title=f"the {order.shape[-1]} strongest of {post.shape[-1]} neurons, strongest first (labelled by number)"),
            text([[pass_table(lm, step).to_html() for step in layer] for layer in passes], over=("layer", "token"))]


class MLPExplorer(LayerTokenExplorer):
    """A prompt's token through one MLP: which neurons fire, and what their sum adds to the vector. Every layer and
    token goes to the page once (a kit Stack); the layer and the token are chosen there."""

    panels = staticmethod(mlp_panels)


def answers_fit(lm: LanguageModel) -> bool:
    """Whether every neuron's answer can be computed up front (see ANSWERS_IN_PAGE)."""
    layout = lm.layout
    return layout.n_layer * layout.d_mlp * layout.d_model * lm.vocab_size <= ANSWERS_IN_PAGE


def neuron_panels(lm: LanguageModel, layers: Sequence[int], neurons: Sequence[int], over: tuple[str, ...]) -> list:
    """For each layer of `layers` and neuron of `neurons`: where it fires most in the validation text, the tokens its
    answer raises and lowers, and how many under-trained tokens were left out of them. `over`: ("layer", "neuron")
    for every choice, () for one neuron."""
    scan = mlp.neuron_scan(lm)
    slots = mlp.CONTEXT_BEFORE + 1
    contexts = np.array([[[context + [-1] * (slots - len(context)) for context in scan.contexts[layer][neuron]]
                          for neuron in neurons] for layer in layers])  # [layer, neuron, firing, token]
    strongest = scan.activations[list(layers)][:, list(neurons)]  # [layer, neuron, firing]
    found = [mlp.promoted(lm, lm.layout.W_out[layer][chunk], TOP_TOKENS)
             for layer in layers for chunk in torch.tensor(list(neurons)).split(CHUNK)]
    joined = lambda name: torch.cat([getattr(part, name) for part in found]).view(len(layers), len(neurons), -1)
    ids = torch.stack([joined("raised"), joined("lowered")], dim=2)  # [layer, neuron, raised or lowered, token]
    scores = torch.stack([joined("raised_by"), joined("lowered_by")], dim=2)
    left_out = (joined("raised_left_out") + joined("lowered_left_out"))[..., 0].tolist()  # [layer][neuron]
    notes = [[f"<i>{count} under-trained tokens (notebook 02) ranked among these and are left out.</i>" if count else ""
              for count in layer] for layer in left_out]
    one = (lambda array: array[0, 0]) if not over else (lambda array: array)
    vocabulary = lambda used: [display_token(token) for token in lm.tokens(used)]
    return [tokens(one(contexts), vocabulary, over, numbers=one(strongest),
                   title="where it fires most in the validation text (its activation, then the text up to that token)"),
            tokens(one(ids.numpy()), vocabulary, over, scores=one(scores), marked=False,
                   row_labels=["when it fires, it raises", "and lowers"], title="what it adds: the logits it raises and lowers most"),
            text(notes if over else notes[0][0], over)]


class NeuronExplorer(Explorer):
    """Pick a neuron: the tokens its answer promotes, and the contexts where its question is answered yes. Where every
    neuron's answer is cheap to compute (`answers_fit`: the shipped model), all go to the page once (a kit Stack) and
    the layer and neuron are chosen there; else (GPT-2 small) the kernel computes the neuron its sliders choose."""

    def __init__(self, lm: LanguageModel, layer: int = 0, neuron: int = 0, in_page: bool | None = None):
        super().__init__()
        self.lm = lm
        self.in_page = answers_fit(lm) if in_page is None else in_page
        self.view, self.sliders = Stack([]), []
        if self.in_page:
            self.safely(lambda: self.show_all(layer, neuron))
        else:
            self.sliders = [int_slider("layer", lm.layout.n_layer - 1, layer), int_slider("neuron", lm.layout.d_mlp - 1, neuron)]
            self.sliders[1].continuous_update = False
            self.watch(self.sliders, self.show_one)
            self.safely(self.show_one)
        self.widget = widgets.VBox([*([row(*self.sliders)] if self.sliders else []), self.status, self.view])

    def show_all(self, layer: int, neuron: int) -> None:
        mlp.check_neuron(self.lm, layer, neuron)
        self.view.show(neuron_panels(self.lm, range(self.lm.layout.n_layer), range(self.lm.layout.d_mlp), ("layer", "neuron")))
        self.view.select(layer=layer, neuron=neuron)

    def show_one(self) -> None:
        layer, neuron = self.layer, self.neuron
        mlp.check_neuron(self.lm, layer, neuron)
        self.view.show(neuron_panels(self.lm, [layer], [neuron], ()))

    @property
    def layer(self) -> int:
        return self.view.choice["layer"] if self.in_page else self.sliders[0].value

    @property
    def neuron(self) -> int:
        return self.view.choice["neuron"] if self.in_page else self.sliders[1].value


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
