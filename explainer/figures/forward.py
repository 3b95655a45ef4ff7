"""Figures for the forward pass: the whole machine stage by stage, the unembedding, tokens vs characters, the logit lens,
the loss at every position, training curves."""

from __future__ import annotations

import html

import ipywidgets as widgets
import plotly.graph_objects as go
import torch

from explainer import forward
from explainer.errors import FigureDataError
from explainer.figures.common import Explorer, base_layout, html_tokens, scored_tokens
from explainer.figures.kit import Control, Stack, text
from explainer.figures.table import Table
from explainer.gpt.checkpoint import LanguageModel
from explainer.style import HIGHLIGHT_COLOR, display_token


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


# ---------- the whole machine ----------

STAGES = ("text", "tokens", "embeddings", "attention", "MLP", "last vector", "logits", "probabilities")
ARROWS = ("the tokenizer cuts the text", "each token picks its row of W_E {W_E}{positions}",
          "tokens exchange information; the result is added", "each vector on its own; the result is added",
          "× {L} blocks, then the final norm; the last position", "one dot product with each of the {V:,} columns of W_U {W_U}",
          "softmax: exponentiate, divide by the sum")
FLOW_FILL, FLOW_TEXT = "#dbeafe", "#1e3a8a"  # an unselected stage: light blue, dark text


def stage_shapes(machine: forward.Machine) -> dict[str, str]:
    """Each stage's tensor shape, with its axes named."""
    n, C, V = len(machine.tokens), machine.last.shape[0], machine.logits.shape[0]
    return {"text": f"{len(machine.text)} characters", "tokens": f"[n = {n}]", "embeddings": f"[n = {n}, C = {C}]",
            "attention": f"[{n}, {C}]", "MLP": f"[{n}, {C}]", "last vector": f"[C = {C}]", "logits": f"[V = {V:,}]",
            "probabilities": f"[{V:,}], summing to 1"}


def machine_html(machine: forward.Machine, stage: str, layer: int) -> str:
    """The forward pass as one column of stages (a box each, the chosen one highlighted), with what happens between
    them and the loaded model's shapes; the two block stages bracketed, × the number of blocks."""
    L, shapes = machine.after_mlp.shape[0], stage_shapes(machine)
    names = {"attention": f"attention, block {layer}", "MLP": f"MLP, block {layer}"}
    positions = ", plus its position's row of W_pos" if machine.learned_positions else ""
    arrows = [a.format(W_E=list(machine.W_E), W_U=list(machine.W_U), V=machine.W_U[1], L=L, positions=positions)
              for a in ARROWS]
    parts = []
    for i, name in enumerate(STAGES):
        fill, ink = (HIGHLIGHT_COLOR, "black") if name == stage else (FLOW_FILL, FLOW_TEXT)
        parts.append(f"<div style='background:{fill};color:{ink};padding:6px 10px;border-radius:3px'>"
                     f"<b>{html.escape(names.get(name, name))}</b>&emsp;{html.escape(shapes[name])}</div>")
        if i < len(arrows):
            parts.append(f"<div style='color:#4b5563;font-size:12px;padding:2px 0 2px 12px'>↓&ensp;"
                         f"<i>{html.escape(arrows[i])}</i></div>")
    first, last = 2 * STAGES.index("attention"), 2 * STAGES.index("MLP") + 1  # the block's boxes and the arrow between
    block = (f"<div style='display:flex;align-items:center;gap:8px'><div style='flex:1;border:1.5px solid #6b7280;"
             f"border-left:none;padding-right:6px'>{''.join(parts[first:last])}</div><b>× {L}</b></div>")
    return f"<div style='max-width:620px'>{''.join(parts[:first])}{block}{''.join(parts[last:])}</div>"


def numbers_table(values: torch.Tensor, rows: list[str], shown: int = 6) -> str:
    """The first `shown` numbers of each row, and its length (HTML)."""
    head = "".join(f"<th>{j}</th>" for j in range(shown)) + "<th>…</th><th>length</th>"
    body = "".join(f"<tr><th>{html.escape(label)}</th>" + "".join(f"<td>{float(v):+.3f}</td>" for v in row[:shown])
                   + f"<td>…</td><td>{float(row.norm()):.2f}</td></tr>" for label, row in zip(rows, values))
    return f"<table class='dataframe'><thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>"


def stage_html(lm: LanguageModel, machine: forward.Machine, stage: str, layer: int, last: int = 4) -> str:
    """What the chosen stage holds for this prompt: its shape and a few of its numbers (the last `last` tokens)."""
    shape = stage_shapes(machine)[stage]
    tokens = machine.tokens[-last:]
    labels = [f"{len(machine.tokens) - len(tokens) + i}:{display_token(t)}" for i, t in enumerate(tokens)]
    if stage == "text":
        body = f"<code style='white-space:pre-wrap'>{html.escape(machine.text)}</code>"
    elif stage == "tokens":
        body = html_tokens(machine.tokens) + "<br>ids: " + html.escape(", ".join(map(str, machine.ids)))
    elif stage in ("embeddings", "attention", "MLP"):
        values = {"embeddings": machine.embeddings, "attention": machine.after_attention[layer],
                  "MLP": machine.after_mlp[layer]}[stage]
        body = f"the last {len(tokens)} of the {len(machine.tokens)} vectors, their first numbers:" + numbers_table(values[-last:], labels)
    elif stage == "last vector":
        body = "the last token's vector after the final norm:" + numbers_table(machine.last[None], [labels[-1]], 10)
    else:
        values = machine.logits if stage == "logits" else machine.probs
        best = torch.topk(values, 5)
        number = "{:.2f}" if stage == "logits" else "{:.1%}"
        body = "the five largest: " + html.escape(scored_tokens(zip(lm.tokens(best.indices.tolist()), best.values.tolist()), number))
    return f"<b>{html.escape(STAGE_TEXT[stage].format(layer=layer))}</b> {shape}<br>{body}"


STAGE_TEXT = {"text": "The text:", "tokens": "Tokens:", "embeddings": "Embeddings (a row of W_E per token):",
              "attention": "After block {layer}'s attention (the residual stream):",
              "MLP": "After block {layer}'s MLP (the block's output):", "last vector": "The last vector:",
              "logits": "Logits (one score per token of the vocabulary):", "probabilities": "Probabilities:"}


class MachineExplorer(Explorer):
    """Choose a stage of the forward pass (and which block): its tensor's shape and a few of its numbers, for the real
    prompt through the loaded model. Every stage's numbers for every block are sent to the page once (a kit Stack);
    the stage and the block are chosen there."""

    def __init__(self, lm: LanguageModel, prompt: str, stage: str = "embeddings", layer: int = 0):
        super().__init__()
        self.lm = lm
        self.view = Stack([])
        self.widget = widgets.VBox([self.status, self.view])
        self.safely(lambda: self.show(prompt, stage, layer))

    def show(self, prompt: str, stage: str, layer: int) -> None:
        """The prompt's machine, every stage at every block, in one message; then the stage and block chosen."""
        if stage not in STAGES:
            raise FigureDataError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
        self.machine = machine = forward.whole_machine(self.lm, prompt)
        blocks, over = range(machine.after_mlp.shape[0]), ("stage", "block")
        self.view.show([text([[machine_html(machine, s, l) for l in blocks] for s in STAGES], over,
                             title="one forward pass of the loaded model, stage by stage"),
                        text([[stage_html(self.lm, machine, s, l) for l in blocks] for s in STAGES], over)],
                       [Control("stage", STAGES)])
        self.view.select(stage=STAGES.index(stage), block=layer)

    @property
    def stage(self) -> str:
        return STAGES[self.view.choice["stage"]]

    @property
    def layer(self) -> int:
        return self.view.choice["block"]


def unembedding_table(found: forward.Unembedding, shown: int = 4) -> Table:
    """The top tokens: the first numbers of their columns of W_U, the dot product with the last vector, the softmax."""
    columns = {f"W_U column [{j}]": [float(c[j]) for c in found.columns] for j in range(shown)}
    return Table({**columns, "x · column (logit)": found.scores, "softmax": found.probs},
                 index=[display_token(t) for t in found.tokens],
                 formats={**dict.fromkeys(columns, "{:+.3f}"), "x · column (logit)": "{:.3f}", "softmax": "{:.1%}"})


def examples_table(examples: list[tuple[str, str]]) -> Table:
    """Each position of a text: the token read there (with everything before it), and the label, the next token."""
    return Table({"reads (and all before it)": [display_token(t) for t, _ in examples],
                  "must predict (the label)": [display_token(n) for _, n in examples]},
                 index=[str(i) for i in range(len(examples))])
