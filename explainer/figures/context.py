"""Figures for context changing meaning: one word's vectors in several sentences, compared stage by stage."""

from __future__ import annotations

import html

import ipywidgets as widgets
import plotly.graph_objects as go

from explainer import context
from explainer.figures.common import Explorer, base_layout, heatmap, int_slider, redraw, row, scored_tokens
from explainer.figures.live import FigureWidget
from explainer.figures.table import Table
from explainer.gpt.checkpoint import LanguageModel


CURVE_RANGE = (0, 1.05)  # the similarity curve's y axis


def similarity_curve(found: context.WordInContexts, stage: int | None = None) -> go.Figure:
    """The mean cosine between the word's vectors in different contexts, stage by stage."""
    figure = go.Figure(go.Scatter(x=found.stages, y=found.mean_similarity().tolist(), mode="lines+markers", showlegend=False))
    if stage is not None:  # a trace, not a shape, so that a new stage moves it without laying the figure out again
        figure.add_trace(go.Scatter(x=[found.stages[stage]] * 2, y=list(CURVE_RANGE), mode="lines", showlegend=False,
                                    line=dict(dash="dot", color="#374151", width=1.5), hoverinfo="skip"))
    return base_layout(figure, curve_title(found), height=360,
                       xaxis=dict(tickangle=-30, automargin=True),
                       yaxis=dict(title="mean cosine between contexts", range=list(CURVE_RANGE)))


def curve_title(found: context.WordInContexts) -> str:
    return f"“{found.word}” in {len(found.contexts)} contexts: how alike its vectors are"


def similarity_title(found: context.WordInContexts, stage: int) -> str:
    return f"cosine between contexts after “{found.stages[stage]}”"


def similarity_heatmap(found: context.WordInContexts, stage: int) -> go.Figure:
    labels = [f"line {i}" for i in range(len(found.contexts))]  # the lines themselves are in the table below the grid
    figure = heatmap(found.similarity(stage), labels, labels, similarity_title(found, stage), colorscale="Blues", zmid=None,
                     height=420)
    figure.data[0].update(zmin=0, zmax=1, texttemplate="%{z:.2f}")
    return figure


def predictions_html(lm: LanguageModel, found: context.WordInContexts, stage: int) -> str:
    rows = "".join(
        f"<tr><td>line {i}: {html.escape(c)}</td><td>{html.escape(scored_tokens(best, '{:.0%}'))}</td></tr>"
        for i, (c, best) in enumerate(zip(found.contexts, context.predictions(lm, found, stage))))
    return (f"<table style='table-layout:fixed;width:100%;word-wrap:break-word'><tr><th style='width:45%'>context</th>"
            f"<th>the word's vector decoded (logit lens): what comes next</th></tr>{rows}</table>")


class ContextExplorer(Explorer):
    """A word, its contexts, and a stage slider: the cosine between its vectors, and what each one predicts."""

    def __init__(self, lm: LanguageModel, contexts: dict[str, list[str]], word: str | None = None):
        super().__init__()
        self.lm, self.contexts = lm, contexts
        self.word = widgets.Dropdown(options=list(contexts), value=word or next(iter(contexts)), description="word")
        self.stage = int_slider("stage", 1)
        self.stage.add_class("explainer-stage")
        self.curve, self.grid = FigureWidget(), FigureWidget()
        self.lens, self.stage_name = widgets.HTML(), widgets.HTML()
        self.found_by_word = {word: context.word_in_contexts(lm, word, lines) for word, lines in contexts.items()}
        self.watch([self.word], self.set_word)
        self.watch([self.stage], self.update)
        self.widget = widgets.VBox([self.word, row(self.stage, self.stage_name), self.status, self.grid, self.lens, self.curve])
        self.safely(self.set_word)

    def set_word(self) -> None:
        """A new word: its lines label the grid and its curve replaces the last (the figures keep their layout)."""
        self.found = self.found_by_word[self.word.value]
        last = len(self.found.stages) - 1
        with self.stage.hold_trait_notifications():
            self.stage.max = last
            self.stage.value = last
        if not self.grid.data:
            redraw(self.grid, similarity_heatmap(self.found, last))
            redraw(self.curve, similarity_curve(self.found, last))
        else:  # the grid's labels ("line 0", ...) stay; its numbers change in update(). The curve's axes stay too
            with self.curve.batch_traces():
                self.curve.data[0].y = self.found.mean_similarity().tolist()
                self.curve.layout.title.text = curve_title(self.found)
        self.update()

    def update(self) -> None:
        """A new stage: the grid's numbers, the marker on the curve and the predictions (the figures keep their layout)."""
        stage = self.stage.value
        self.stage_name.value = f"<b>{html.escape(self.found.stages[stage])}</b>"
        similarity = self.found.similarity(stage).numpy()
        with self.grid.batch_update():
            self.grid.data[0].z = similarity
            self.grid.layout.title.text = similarity_title(self.found, stage)
        with self.curve.batch_traces():
            self.curve.data[1].x = [self.found.stages[stage]] * 2
        self.lens.value = predictions_html(self.lm, self.found, stage)


def context_summary(lm: LanguageModel, contexts: dict[str, list[str]]) -> Table:
    """The mean cosine between a word's vectors in its different lines: one row per stage, one column per word."""
    found = {word: context.word_in_contexts(lm, word, lines) for word, lines in contexts.items()}
    stages = next(iter(found.values())).stages
    return Table({word: f.mean_similarity().tolist() for word, f in found.items()}, index=list(stages),
                 formats=dict.fromkeys(found, "{:.2f}"))
