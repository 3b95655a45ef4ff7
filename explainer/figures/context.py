"""Figures for context changing meaning: one word's vectors in several sentences, compared stage by stage."""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from explainer import context
from explainer.figures.common import Explorer, base_layout, int_slider, redraw, row
from explainer.figures.live import FigureWidget
from explainer.figures.table import Table
from explainer.style import BAR_COLOR, POSITIVE_COLOR, display_token


CURVE_RANGE = (0, 1.05)  # the similarity curve's y axis
SIMILARITY_COLOURS = [[0, "white"], [1, "#6baed6"]]  # 0 → white, 1 → a mid blue that dark numbers still read on


def similarity_curve(found: context.WordInContexts, stage: int | None = None) -> go.Figure:
    """The mean cosine between the word's vectors in lines of the same sense, and of different senses, stage by stage."""
    figure = go.Figure()
    for same, name, colour in ((True, "same sense", POSITIVE_COLOR), (False, "different senses", BAR_COLOR)):
        figure.add_trace(go.Scatter(x=found.stages, y=found.mean_similarity(same).tolist(), mode="lines+markers",
                                    name=name, line=dict(color=colour)))
    if stage is not None:  # a trace, not a shape, so that a new stage moves it without laying the figure out again
        figure.add_trace(go.Scatter(x=[found.stages[stage]] * 2, y=list(CURVE_RANGE), mode="lines", showlegend=False,
                                    line=dict(dash="dot", color="#374151", width=1.5), hoverinfo="skip"))
    return base_layout(figure, "how alike the word's vectors are, within a sense and across senses", height=380,
                       xaxis=dict(tickangle=-30, automargin=True), legend=dict(orientation="h", y=1.02, x=0),
                       yaxis=dict(title="mean cosine between lines", range=list(CURVE_RANGE)))


def similarity_grid(found: context.WordInContexts, stage: int, size_px: int = 320) -> go.Figure:
    """The cosine between the word's vectors in each pair of lines at one stage, as squares with their numbers:
    `set_similarities` changes them in place (a heatmap's new numbers lay the whole figure out again). The titles
    do not name the word or the stage, which the controls above show: a new title lays the figure out again too."""
    n = len(found.contexts)
    first, second = np.divmod(np.arange(n * n), n)  # every pair of lines, row by row
    labels = line_labels(found)  # the lines themselves are in the list below the grid
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


def line_labels(found: context.WordInContexts) -> list[str]:
    return [f"{i}: {sense}" for i, sense in enumerate(found.senses)]


def lines_html(found: context.WordInContexts) -> str:
    """The lines, numbered as in the grid, each with its sense; the word's token in bold (its last piece if split)."""
    rows = "".join(f"<tr><td>{label}</td><td>{html.escape(line)}</td></tr>" for label, line in zip(line_labels(found), found.contexts))
    pieces = " + ".join(display_token(p) for p in found.pieces)
    note = (f"<p><i>{html.escape(found.word)} is {len(found.pieces)} tokens here ({html.escape(pieces)}): the vectors are those "
            f"of its last piece, {html.escape(display_token(found.pieces[-1]))}.</i></p>" if len(found.pieces) > 1 else "")
    return f"{note}<table><tr><th>line: sense</th><th>the line (the word ends it)</th></tr>{rows}</table>"


class ContextExplorer(Explorer):
    """A word, its lines, and a stage slider: the cosine between its vectors in each pair of lines, and the mean
    within a sense and across senses."""

    def __init__(self, found_by_word: dict[str, context.WordInContexts], word: str | None = None):
        super().__init__()
        self.found_by_word = found_by_word
        self.word = widgets.Dropdown(options=list(found_by_word), value=word or next(iter(found_by_word)), description="word")
        last = len(self.found_by_word[self.word.value].stages) - 1  # every word goes through the same stages
        self.stage = int_slider("stage", last, last)
        self.stage.add_class("explainer-stage")
        self.curve, self.grid = FigureWidget(), FigureWidget()
        self.lines, self.stage_name = widgets.HTML(), widgets.HTML()
        self.watch([self.word], self.set_word)
        self.watch([self.stage], self.update)
        self.widget = widgets.VBox([self.word, row(self.stage, self.stage_name), self.status, self.grid, self.lines, self.curve])
        self.safely(self.set_word)

    def set_word(self) -> None:
        """A new word, seen at the same stage: its numbers replace the last word's in the figures, which keep their
        layout unless the word's lines are labelled otherwise (another number of lines, other senses)."""
        self.found = self.found_by_word[self.word.value]
        if not self.grid.data or tuple(self.grid.layout.yaxis.ticktext) != tuple(line_labels(self.found)):
            redraw(self.grid, similarity_grid(self.found, self.stage.value))
            redraw(self.curve, similarity_curve(self.found, self.stage.value))
        self.lines.value = lines_html(self.found)
        self.update(new_word=True)

    def update(self, new_word: bool = False) -> None:
        """A new stage (or word): the grid's numbers, the curves and their marker: only numbers travel, one message a
        figure."""
        stage = self.stage.value
        self.stage_name.value = f"<b>{html.escape(self.found.stages[stage])}</b>"
        with self.grid.batch_traces():
            set_similarities(self.grid.data[0], self.found.similarity(stage).numpy())
        with self.curve.batch_traces():
            if new_word:
                self.curve.data[0].y = self.found.mean_similarity(True).tolist()
                self.curve.data[1].y = self.found.mean_similarity(False).tolist()
            self.curve.data[2].x = [self.found.stages[stage]] * 2


def separation_table(results: list[context.SenseSeparation]) -> Table:
    """Per stage (rows) and word (columns): mean cosine within a sense minus across senses, and the true split's rank
    among all splits of the lines (1 = no other split separates them more)."""
    return Table({r.word: [f"{float(v):+.2f} ({int(k)})" for v, k in zip(r.separation, r.rank)] for r in results},
                 index=list(results[0].stages))
