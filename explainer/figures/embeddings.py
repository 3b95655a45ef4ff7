"""Figures for word embeddings: similarity tables, the analogy playground drawn to scale, a 3-D cloud of words."""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from explainer import embeddings as E
from explainer.figures.common import Explorer, base_layout, label_places, row
from explainer.figures.kit import plot
from explainer.figures.table import Table
from explainer.style import BAR_COLOR, HIGHLIGHT_COLOR, POSITIVE_COLOR, quoted

GROUP_COLORS = ["#7c3aed", "#db2777", "#2563eb", "#16a34a", "#d97706"]


def similarity_table(kv, words: list[str]) -> Table:
    """Cosine similarity of every pair of words."""
    units = np.array([E.unit(E.vector(kv, w)) for w in words])
    return Table.from_matrix((units @ units.T).tolist(), words, words, "{:.2f}")


def neighbours_table(kv, word: str, topn: int = 10) -> Table:
    found = E.neighbours(kv, word, topn)
    return Table({"word": [w for w, _ in found], "cosine": [float(c) for _, c in found]})


def analogy_table(kv, cases: list[tuple[str, str, str, str]]) -> Table:
    """One row per 'a : b :: c : expected' with the expected word's rank with and without the inputs."""
    rows = []
    for a, b, c, expected in cases:
        result = E.analogy(kv, a, b, c, expected)
        rows.append({"b − a + c": f"{b} − {a} + {c}", "expected": expected, "top (inputs excluded)": result.answer,
                     "rank excl.": result.expected_rank_without_inputs, "rank incl.": result.expected_rank_with_inputs,
                     "cosine": result.expected_cosine, "top 3 incl. inputs": ", ".join(quoted(w) for w, _ in result.with_inputs[:3])})
    return Table.from_rows(rows)


def projection_table(kv, words: list[str], directions: dict[str, np.ndarray]) -> Table:
    """Each word's unit vector measured along each named direction."""
    return Table.from_matrix(E.project(kv, words, list(directions.values())).tolist(), words, list(directions), "{:.2f}")


def analogy_layers(points: dict, a: str, b: str, c: str, answer: str) -> list:
    """The arithmetic b − a + c drawn as arrows in the plane of a, b, c (see embeddings.analogy_plane): the words as
    points, the target as a star, a dotted line from it to the answer."""
    words = [w for w in points if w != "target"]
    target = points["target"]
    layers = [plot.arrows([points[a], points[a], points[b]], [points[b], points[c], target],
                          [f"{b} − {a}", f"{c} − {a}", f"+ ({c} − {a})"], ["#6b7280", POSITIVE_COLOR, POSITIVE_COLOR]),
              plot.points([points[w] for w in words], [w if w in (a, b, c) else f"{w} (projected)" for w in words],
                          colour=BAR_COLOR),
              plot.points([target], [f"{b} − {a} + {c}"], colour=HIGHLIGHT_COLOR, anchor="left", star=True)]
    if answer in points:
        layers.insert(0, plot.lines([target[0], points[answer][0]], [[target[1], points[answer][1]]], colours=[HIGHLIGHT_COLOR],
                                    dashed=True))
    return layers


def analogy_frame(a: str, b: str, c: str, answer: str, cosine: float, distance: float) -> dict:
    return dict(titles=f"{b} − {a} + {c}: cosine {cosine:.3f} with {answer!r} (distance {distance:.3f})", equal=True,
                x_title=f"along {b} − {a}", y_title=f"the rest of the plane of {a}, {b}, {c}", height=400)


class AnalogyPlayground(Explorer):
    """Three word boxes: b − a + c, the ranked answers with and without the inputs, and the arithmetic drawn to scale
    (a kit Plot: typed words need the kernel's vectors, so each new word sends the drawing afresh)."""

    def __init__(self, kv, b: str = "king", a: str = "man", c: str = "woman", expected: str | None = "queen", topn: int = 8):
        super().__init__()
        self.kv, self.topn = kv, topn
        box = lambda value, label: widgets.Text(value=value, description=label, continuous_update=False,
                                                layout=widgets.Layout(width="190px"))
        self.b, self.a, self.c = box(b, "start from"), box(a, "subtract"), box(c, "add")
        self.expected = box(expected or "", "expect")
        self.table = widgets.HTML()
        self.view = None
        self.watch([self.a, self.b, self.c, self.expected], self.update)
        self.widget = widgets.VBox([row(self.b, self.a, self.c, self.expected), self.status, self.table])
        self.safely(self.update)

    def update(self) -> None:
        result = E.analogy(self.kv, self.a.value, self.b.value, self.c.value, self.expected.value or None, self.topn)
        rows = "".join(
            f"<tr><td>{i + 1}</td><td>{html.escape(w1)}{' <i>(input)</i>' if w1 in (result.a, result.b, result.c) else ''}"
            f"</td><td>{s1:.3f}</td><td>{html.escape(w2)}</td><td>{s2:.3f}</td></tr>"
            for i, ((w1, s1), (w2, s2)) in enumerate(zip(result.with_inputs, result.without_inputs)))
        facts = ""
        if result.expected:
            facts = (f"<br>{html.escape(result.expected)!r}: rank {result.expected_rank_with_inputs} with the inputs, "
                     f"{result.expected_rank_without_inputs} without; cosine {result.expected_cosine:.3f}")
        self.table.value = (
            f"<b>{result.b} − {result.a} + {result.c}</b>{facts}<table><tr><th>#</th><th>all words</th><th>cos</th>"
            f"<th>inputs excluded (gensim)</th><th>cos</th></tr>{rows}</table>")
        answer = result.expected or result.answer
        points = E.analogy_plane(self.kv, result, extra=[answer])
        target, word = E.unit(result.target), E.unit(E.vector(self.kv, answer))
        layers = analogy_layers(points, result.a, result.b, result.c, answer)
        frame = analogy_frame(result.a, result.b, result.c, answer, float(target @ word), float(np.linalg.norm(target - word)))
        if self.view is None:  # the first words that draw
            self.view = plot.Plot(layers, **frame)
            self.widget.children += (self.view,)
        else:
            self.view.show(layers, **frame)


def cloud_figure(cloud: E.Cloud, axis_titles: tuple[str, str]) -> go.Figure:
    """Words placed along two directions, one colour per group of words, each labelled."""
    figure = go.Figure()
    places = label_places(cloud.coordinates[:, 0], cloud.coordinates[:, 1], cloud.words)
    for color, group in zip(GROUP_COLORS * 3, dict.fromkeys(cloud.groups)):
        members = [i for i, g in enumerate(cloud.groups) if g == group]
        xy = cloud.coordinates[members]
        figure.add_trace(go.Scatter(
            x=xy[:, 0], y=xy[:, 1], mode="markers+text", name=group, text=[cloud.words[i] for i in members],
            textposition=[places[i] for i in members], textfont=dict(size=11, color=color), marker=dict(size=7, color=color),
            hovertemplate="%{text}: %{x:.2f}, %{y:.2f}<extra></extra>"))
    return base_layout(figure, f"{len(cloud.words)} words along two directions", height=560,
                       xaxis_title=axis_titles[0], yaxis_title=axis_titles[1], legend=dict(orientation="h", y=-0.15))


def vector_preview(kv, word: str, count: int = 6) -> str:
    """'king' -> '[0.505, 0.686, -0.595, …] (50 numbers)'."""
    values = E.vector(kv, word)
    return "[" + ", ".join(f"{x:.3f}" for x in values[:count]) + f", …] ({len(values)} numbers)"
