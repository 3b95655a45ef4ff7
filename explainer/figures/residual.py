"""Figures for the residual stream: how long the running vector is after each block adds to it, and LayerNorm."""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import torch

from explainer import residual
from explainer.figures.common import Explorer, base_layout, token_labels
from explainer.figures.kit import Control, Stack, bars, curve, text
from explainer.figures.table import Table
from explainer.style import BAR_COLOR, HIGHLIGHT_COLOR, display_token


def stream_title(flow: residual.Stream, position: int) -> str:
    return f"the residual stream of token {position}: {display_token(flow.tokens[position])}"


def stream_panels(flow: residual.Stream) -> list:
    """Every token's stream, chosen in the page: the length of what each stage added (bars) and of the running vector
    after it (a curve), on one scale."""
    positions = range(len(flow.tokens))
    added = torch.stack([flow.added_norms(p) for p in positions])  # [token, stage]
    norms = torch.stack([flow.norms(p) for p in positions])  # [token, stage]
    top = 1.05 * float(torch.cat([added, norms]).max())
    return [text([f"<b>{html.escape(stream_title(flow, p))}</b>" for p in positions], over=("token",)),
            bars(added, flow.stages, over=("token",), title="|what this stage added|", maximum=top, percent=False,
                 highlight=-1, y_title="length"),
            curve(np.arange(len(flow.stages)), norms, over=("token",), title="|the running vector| after each stage",
                  x_labels=flow.stages, y_title="length", low=0.0, high=top)]


def stream_table(flow: residual.Stream, position: int) -> Table:
    """Each stage's addition against the vector it was added to."""
    turn = [float("nan")] + flow.turn(position).tolist()
    return Table({"|added|": flow.added_norms(position).tolist(), "|vector after|": flow.norms(position).tolist(),
                  "cos(before, after)": turn}, index=list(flow.stages))


class StreamExplorer(Explorer):
    """Pick a token of the prompt: its residual stream, stage by stage. Every token's lengths go to the page once (a kit
    Stack); the token is chosen there."""

    def __init__(self, flow: residual.Stream, position: int = -1):
        super().__init__()
        self.flow = flow
        self.view = Stack(stream_panels(flow), [Control("token", token_labels(flow.tokens))],
                          token=position % len(flow.tokens))
        self.widget = widgets.VBox([self.status, self.view])

    @property
    def position(self) -> int:
        return self.view.choice["token"]


def layer_norm_figure(steps: residual.LayerNormSteps) -> go.Figure:
    """The vector's numbers before LayerNorm and after (x − mean) / std: the same shape, recentred and rescaled."""
    index = list(range(len(steps.x)))
    figure = go.Figure([
        go.Bar(x=index, y=steps.x.tolist(), name=f"x (mean {steps.mean:.3f}, std {steps.std:.3f})", marker_color=BAR_COLOR, opacity=0.7),
        go.Bar(x=index, y=steps.normalised.tolist(), name="(x − mean) / std (mean 0, std 1)", marker_color=HIGHLIGHT_COLOR, opacity=0.7),
    ])
    return base_layout(figure, "LayerNorm, step 1: every vector gets mean 0 and standard deviation 1", height=380,
                       barmode="overlay", xaxis_title="dimension", yaxis_title="value", legend=dict(orientation="h", y=-0.25))


def layer_norm_table(steps: residual.LayerNormSteps) -> Table:
    rows = {"x": steps.x, "(x − mean) / std": steps.normalised, "× gain + bias (the output)": steps.output}
    return Table.from_rows([{"mean": float(v.mean()), "std": float(v.std(unbiased=False)), "length": float(v.norm())}
                            for v in rows.values()], index=list(rows))
