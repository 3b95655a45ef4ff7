"""Figures for context changing meaning: one word's vectors in several sentences, compared stage by stage."""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from explainer import context
from explainer.figures.common import Explorer, base_layout, int_slider, redraw, row, scored_tokens
from explainer.figures.live import FigureWidget
from explainer.figures.table import Table
from explainer.gpt.checkpoint import LanguageModel


CURVE_RANGE = (0, 1.05)  # the similarity curve's y axis
SIMILARITY_COLOURS = [[0, "white"], [1, "#6baed6"]]  # 0 → white, 1 → a mid blue that dark numbers still read on


def similarity_curve(found: context.WordInContexts, stage: int | None = None) -> go.Figure:
    """The mean cosine between the word's vectors in different contexts, stage by stage."""
    figure = go.Figure(go.Scatter(x=found.stages, y=found.mean_similarity().tolist(), mode="lines+markers", showlegend=False))
    if stage is not None:  # a trace, not a shape, so that a new stage moves it without laying the figure out again
        figure.add_trace(go.Scatter(x=[found.stages[stage]] * 2, y=list(CURVE_RANGE), mode="lines", showlegend=False,
                                    line=dict(dash="dot", color="#374151", width=1.5), hoverinfo="skip"))
    return base_layout(figure, "how alike the word's vectors are in its lines, stage by stage", height=360,
                       xaxis=dict(tickangle=-30, automargin=True),
                       yaxis=dict(title="mean cosine between lines", range=list(CURVE_RANGE)))


def similarity_grid(found: context.WordInContexts, stage: int, size_px: int = 320) -> go.Figure:
    """The cosine between the word's vectors in each pair of lines at one stage, as squares with their numbers:
    `set_similarities` changes them in place (a heatmap's new numbers lay the whole figure out again). The titles
    do not name the word or the stage, which the controls above show: a new title lays the figure out again too."""
    n = len(found.contexts)
    first, second = np.divmod(np.arange(n * n), n)  # every pair of lines, row by row
    labels = [f"line {i}" for i in range(n)]  # the lines themselves are in the table below the grid
    figure = go.Figure(go.Scatter(
        x=second, y=first, mode="markers+text", textfont=dict(size=14, color="#1f2937"),
        marker=dict(symbol="square", size=0.95 * size_px / n, line=dict(width=0), colorscale=SIMILARITY_COLOURS,
                    cmin=0, cmax=1, showscale=True, colorbar=dict(title="cosine", outlinewidth=0, ticks="")),
        hovertemplate="%{customdata}: cosine %{text}<extra></extra>",
        customdata=[f"{labels[i]} and {labels[j]}" for i, j in zip(first, second)],
    ))
    set_similarities(figure.data[0], found.similarity(stage).numpy())
    axis = dict(tickvals=list(range(n)), ticktext=labels, showgrid=False, zeroline=False)
    base_layout(figure, "cosine between the word's vectors in each pair of lines", height=size_px + 100,
                xaxis=dict(axis, range=[-0.5, n - 0.5], side="top", scaleanchor="y", constrain="domain"),
                yaxis=dict(axis, range=[n - 0.5, -0.5]))
    return figure.update_layout(width=size_px + 190, autosize=False, margin=dict(l=70, r=20, t=80, b=20))


def set_similarities(squares: go.Scatter, similarity: np.ndarray) -> None:
    """New cosines for the squares of a `similarity_grid`: their colours and the numbers written on them."""
    squares.marker.color = similarity.ravel()
    squares.text = [f"{value:.2f}" for value in similarity.ravel()]


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
        self.found_by_word = {word: context.word_in_contexts(lm, word, lines) for word, lines in contexts.items()}
        last = len(self.found_by_word[self.word.value].stages) - 1  # every word goes through the same stages
        self.stage = int_slider("stage", last, last)
        self.stage.add_class("explainer-stage")
        self.curve, self.grid = FigureWidget(), FigureWidget()
        self.lens, self.stage_name = widgets.HTML(), widgets.HTML()
        self.watch([self.word], self.set_word)
        self.watch([self.stage], self.update)
        self.widget = widgets.VBox([self.word, row(self.stage, self.stage_name), self.status, self.grid, self.lens, self.curve])
        self.safely(self.set_word)

    def set_word(self) -> None:
        """A new word, seen at the same stage: its numbers replace the last word's in the figures, which keep their
        layout unless the word has another number of lines."""
        self.found = self.found_by_word[self.word.value]
        lines = len(self.found.contexts)
        if not self.grid.data or len(self.grid.data[0].x) != lines * lines:
            redraw(self.grid, similarity_grid(self.found, self.stage.value))
            redraw(self.curve, similarity_curve(self.found, self.stage.value))
        self.update(new_word=True)

    def update(self, new_word: bool = False) -> None:
        """A new stage (or word): the grid's numbers, the curve and its marker, and the predictions: only numbers
        travel, one message a figure."""
        stage = self.stage.value
        self.stage_name.value = f"<b>{html.escape(self.found.stages[stage])}</b>"
        with self.grid.batch_traces():
            set_similarities(self.grid.data[0], self.found.similarity(stage).numpy())
        with self.curve.batch_traces():
            if new_word:
                self.curve.data[0].y = self.found.mean_similarity().tolist()
            self.curve.data[1].x = [self.found.stages[stage]] * 2
        self.lens.value = predictions_html(self.lm, self.found, stage)


def context_summary(lm: LanguageModel, contexts: dict[str, list[str]]) -> Table:
    """The mean cosine between a word's vectors in its different lines: one row per stage, one column per word."""
    found = {word: context.word_in_contexts(lm, word, lines) for word, lines in contexts.items()}
    stages = next(iter(found.values())).stages
    return Table({word: f.mean_similarity().tolist() for word, f in found.items()}, index=list(stages),
                 formats=dict.fromkeys(found, "{:.2f}"))
