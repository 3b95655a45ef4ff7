"""Figures for the residual stream: how long the running vector is after each block adds to it, and LayerNorm."""

from __future__ import annotations

import ipywidgets as widgets
import plotly.graph_objects as go

from explainer import residual
from explainer.figures.common import Explorer, base_layout, redraw
from explainer.figures.live import FigureWidget
from explainer.figures.table import Table
from explainer.style import BAR_COLOR, HIGHLIGHT_COLOR, display_token


def stream_title(flow: residual.Stream, position: int) -> str:
    return f"the residual stream of token {position}: {display_token(flow.tokens[position])}"


def stream_figure(flow: residual.Stream, position: int) -> go.Figure:
    """For one token: the length of the running vector after each stage, and the length of what each stage added."""
    figure = go.Figure([
        go.Bar(x=flow.stages, y=flow.added_norms(position).tolist(), name="|what this stage added|", marker_color=HIGHLIGHT_COLOR),
        go.Scatter(x=flow.stages, y=flow.norms(position).tolist(), name="|the running vector|", mode="lines+markers",
                   line=dict(color=BAR_COLOR, width=3)),
    ])
    return base_layout(figure, stream_title(flow, position),
                       height=400, xaxis=dict(tickangle=-30, automargin=True), yaxis_title="length",
                       legend=dict(orientation="h", y=-0.35))


def stream_table(flow: residual.Stream, position: int) -> Table:
    """Each stage's addition against the vector it was added to."""
    turn = [float("nan")] + flow.turn(position).tolist()
    return Table({"|added|": flow.added_norms(position).tolist(), "|vector after|": flow.norms(position).tolist(),
                  "cos(before, after)": turn}, index=list(flow.stages))


class StreamExplorer(Explorer):
    """Pick a token of the prompt: its residual stream, stage by stage."""

    def __init__(self, flow: residual.Stream, position: int = -1):
        super().__init__()
        self.flow = flow
        self.token = widgets.Dropdown(options=[(f"{i}: {display_token(t)}", i) for i, t in enumerate(flow.tokens)],
                                      value=position % len(flow.tokens), description="token")
        self.figure = FigureWidget()
        self.watch([self.token], self.update)
        self.widget = widgets.VBox([self.token, self.status, self.figure])
        self.safely(self.update)

    def update(self) -> None:
        position = self.token.value
        if not self.figure.data:
            redraw(self.figure, stream_figure(self.flow, position))
            return
        with self.figure.batch_update():
            self.figure.data[0].y = self.flow.added_norms(position).tolist()
            self.figure.data[1].y = self.flow.norms(position).tolist()
            self.figure.layout.title.text = stream_title(self.flow, position)


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
