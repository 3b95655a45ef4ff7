"""Notebook tables: what they show, how they read and sort, and that showing one costs no pandas import."""

import math
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from explainer import geometry as g
from explainer import scale
from explainer.figures.geometry import counts_table
from explainer.figures.scale import tally_table
from explainer.figures.table import Table


def cells(table: Table) -> list[list[str]]:
    """The table's HTML, back as rows of cell texts (header first), to check what a learner reads."""
    class Cells(HTMLParser):
        def __init__(self):
            super().__init__()
            self.rows: list[list[str]] = []

        def handle_starttag(self, tag, attrs):
            if tag == "tr":
                self.rows.append([])
            elif tag in ("td", "th"):
                self.rows[-1].append("")

        def handle_data(self, data):
            self.rows[-1][-1] += data

    parser = Cells()
    parser.feed(table.to_html())
    return parser.rows


def test_each_column_is_shown_in_its_format_with_row_labels():
    table = Table({"p": [0.12345, math.nan], "n": [1234567, 3], "word": ["<b>", "a"], "count": [math.inf, 2.0]},
                  index=["first", "second"], formats={"p": "{:.1%}", "count": "{:,.0f}"})
    assert cells(table) == [["", "p", "n", "word", "count"],
                            ["first", "12.3%", "1,234,567", "<b>", "∞"],
                            ["second", "", "3", "a", "2"]]
    assert "&lt;b&gt;" in table.to_html() and table._repr_html_() == table.to_html()


def test_a_table_without_labels_has_no_label_column_and_unformatted_floats_get_three_decimals():
    assert cells(Table({"x": [1.0, 2.5]})) == [["x"], ["1.000"], ["2.500"]]


def test_rows_read_sort_and_select():
    table = Table.from_rows([{"layer": 0, "score": 0.2}, {"layer": 1, "score": 0.9}, {"layer": 2, "score": 0.5}])
    assert len(table) == 3 and table["score"] == [0.2, 0.9, 0.5]
    best = table.sorted_by("score", descending=True)
    assert best.row(0) == {"layer": 1, "score": 0.9} and best["layer"] == [1, 2, 0]
    assert table.sorted_by("score")["layer"] == [0, 2, 1]
    assert table.rows_where("layer", [0, 2])["score"] == [0.2, 0.5]
    labelled = Table({"v": [3, 1]}, index=["a", "b"]).sorted_by("v")
    assert labelled.index == ["b", "a"]


def test_a_row_missing_a_value_shows_a_blank():
    table = Table.from_rows([{"a": 1, "b": 2.0}, {"a": 3}])
    assert cells(table)[2] == ["3", ""]


@pytest.mark.parametrize("make, message", [
    (lambda: Table({"a": [1, 2], "b": [1]}), "one length"),
    (lambda: Table({"a": [1, 2]}, index=["only one"]), "1 labels"),
    (lambda: Table({"a": [1]}, formats={"b": "{:.1f}"}), "formats name columns the table does not have"),
    (lambda: Table({"a": [1]})["b"], "no column 'b'"),
])
def test_bad_tables_are_refused_with_one_line(make, message):
    with pytest.raises((ValueError, KeyError)) as raised:
        make()
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_tally_table_totals_each_shape_and_leaves_the_kinds_a_tally_leaves_out_blank():
    shapes = [scale.GPT2_SMALL, scale.GPT3, scale.GPT3_ALL]
    table = tally_table(shapes)
    assert table.index[-1] == "total"
    for shape in shapes:
        tally = scale.tally(shape)
        assert table[shape.name][-1] == sum(tally.values())
        assert [v for v in table[shape.name][:-1] if not math.isnan(v)] == [tally[k] for k in table.index[:-1] if k in tally]
    positions = table.index.index("position embedding")
    assert cells(table)[positions + 1][2] == "", "the talk's GPT-3 tally leaves positions out: blank, not 0"
    assert cells(table)[positions + 1][3] == f"{2_048 * 12_288:,}"
    assert cells(table)[-1][1] == f"{sum(scale.tally(scale.GPT2_SMALL).values()):,}"


def test_counts_table_says_where_the_bounds_stop_limiting():
    table = counts_table([10], [10, 10_000])
    allowed = table["bounds allow (every pair)"]
    assert allowed[0] == g.max_vectors(g.cos_from_degrees(10), 10) and math.isinf(allowed[1])
    assert [row[2] for row in cells(table)[1:]] == [f"{allowed[0]:,}", "bounds stop binding"]


def test_the_notebooks_tables_and_figures_load_without_pandas():
    """pandas, with the pyarrow it loads, took 0.3 s of every notebook's first cell; nothing here needs it, and only
    the GloVe chapter (its vectors are a parquet file) needs pyarrow."""
    code = ("import pkgutil, importlib, sys, explainer.figures, explainer.gpt.checkpoint, explainer.chapters\n"
            "others = sorted({m.name for m in pkgutil.iter_modules(explainer.figures.__path__)} - {'embeddings'})\n"
            "for name in others: importlib.import_module('explainer.figures.' + name)\n"
            "print('pyarrow' in sys.modules)\n"
            "import explainer.figures.embeddings\n"
            "print('pandas' in sys.modules)")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert found == ["False", "False"]
