"""Figures for context changing meaning: one word's vectors in several sentences, compared stage by stage."""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import torch

from explainer import context
from explainer.errors import ExplainerError
from explainer.figures.common import Explorer
from explainer.figures.kit import Control, Stack, curve, switch, text, values
from explainer.figures.table import Table
from explainer.style import display_token


def line_labels(found: context.WordInContexts) -> list[str]:
    return [f"{i}: {sense}" for i, sense in enumerate(found.senses)]


def lines_html(found: context.WordInContexts) -> str:
    """The lines, numbered as in the grid, each with its sense; the word's token in bold (its last piece if split)."""
    rows = "".join(f"<tr><td>{label}</td><td>{html.escape(line)}</td></tr>" for label, line in zip(line_labels(found), found.contexts))
    pieces = " + ".join(display_token(p) for p in found.pieces)
    note = (f"<p><i>{html.escape(found.word)} is {len(found.pieces)} tokens here ({html.escape(pieces)}): the vectors are those "
            f"of its last piece, {html.escape(display_token(found.pieces[-1]))}.</i></p>" if len(found.pieces) > 1 else "")
    return f"{note}<table><tr><th>line: sense</th><th>the line (the word ends it)</th></tr>{rows}</table>"


def word_panels(found: context.WordInContexts) -> list:
    """One word at every stage: the cosine between its vectors in each pair of lines (the stage chosen in the page), its
    lines, and the mean cosine within a sense and across senses, stage by stage, the stage shown marked."""
    similarity = torch.stack([found.similarity(stage) for stage in range(len(found.stages))])  # [stage, line, line]
    means = torch.stack([found.mean_similarity(True), found.mean_similarity(False)])  # [same or not, stage]
    return [values(similarity, line_labels(found), over=("stage",), digits=2, extent=1.0, row_title="line",
                   column_title="line", name="cosine", size=300,
                   title="cosine between the word's vectors in each pair of lines (blue: alike)"),
            text(lines_html(found)),
            curve(np.arange(len(found.stages)), means, marker="stage", names=["same sense", "different senses"],
                  x_labels=found.stages, low=0.0, high=1.05, y_title="mean cosine between lines",
                  title="how alike the word's vectors are, within a sense and across senses")]


class ContextExplorer(Explorer):
    """A word, its lines, and a stage slider: the cosine between its vectors in each pair of lines, and the mean
    within a sense and across senses. Every word's numbers go to the page once (a kit Stack, a group of panels per
    word); the word and the stage are chosen there."""

    def __init__(self, found_by_word: dict[str, context.WordInContexts], word: str | None = None):
        super().__init__()
        self.found_by_word = found_by_word
        words = list(found_by_word)
        word = words[0] if word is None else word
        if word not in found_by_word:
            raise ExplainerError(f"no lines for {word!r}; the words are {', '.join(words)}")
        stages = found_by_word[word].stages  # every word goes through the same stages
        self.view = Stack([switch("word", [word_panels(found) for found in found_by_word.values()])],
                          [Control("word", words), Control("stage", stages, slider=True)],
                          word=words.index(word), stage=len(stages) - 1)
        self.widget = widgets.VBox([self.status, self.view])

    @property
    def word(self) -> str:
        return list(self.found_by_word)[self.view.choice["word"]]

    @property
    def stage(self) -> int:
        return self.view.choice["stage"]

    @property
    def found(self) -> context.WordInContexts:
        return self.found_by_word[self.word]


def separation_table(results: list[context.SenseSeparation]) -> Table:
    """Per stage (rows) and word (columns): mean cosine within a sense minus across senses, and the true split's rank
    among all splits of the lines (1 = no other split separates them more)."""
    return Table({r.word: [f"{float(v):+.2f} ({int(k)})" for v, k in zip(r.separation, r.rank)] for r in results},
                 index=list(results[0].stages))
