"""Tables for notebooks: named columns, optional row labels, each column shown in its own format, drawn as HTML.

A notebook shows a table by leaving it as a cell's last value. Its columns are plain lists, so a notebook can read a
number out of it (`table["rank"][4]`, `table.row(0)`) and sort or select rows for the prose around it.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

Format = str | Callable[[object], str]  # "{:.3f}", or a function from the value to its text
FLOAT_FORMAT = "{:.3f}"  # a float column's format unless the table names one
INT_FORMAT = "{:,}"


def shown(value: object, format: Format | None) -> str:
    """One cell's text: its column's format, or the default for its type. Unless the format is a function: nan as
    blank, inf as ∞, and a word as it is."""
    if callable(format):
        return format(value)
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, float) and math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if format is None:
        format = FLOAT_FORMAT if isinstance(value, float) else INT_FORMAT if isinstance(value, int) else "{}"
    return value if isinstance(value, str) else format.format(value)


@dataclass(frozen=True)
class Table:
    columns: dict[str, list]  # name → one value per row
    index: list[str] | None = None  # row labels, shown as a first column; None for none
    formats: dict[str, Format] = field(default_factory=dict)  # name → format; columns not named: by type

    def __post_init__(self) -> None:
        lengths = {name: len(values) for name, values in self.columns.items()}
        if len(set(lengths.values()) | ({len(self.index)} if self.index is not None else set())) > 1:
            raise ValueError(f"a table's columns and row labels must have one length each; got {lengths}"
                             + (f" and {len(self.index)} labels" if self.index is not None else ""))
        unknown = set(self.formats) - set(self.columns)
        if unknown:
            raise ValueError(f"formats name columns the table does not have: {sorted(unknown)}; its columns: {list(self.columns)}")

    @classmethod
    def from_rows(cls, rows: Sequence[dict], index: list[str] | None = None,
                  formats: dict[str, Format] | None = None) -> Table:
        """A table from one dict per row (the first row's keys name the columns; a missing value is nan)."""
        names = list(dict.fromkeys(name for row in rows for name in row))
        return cls({name: [row.get(name, math.nan) for row in rows] for name in names}, index, formats or {})

    @classmethod
    def from_matrix(cls, values, index: list[str], columns: list[str], format: Format | None = None) -> Table:
        """A table from a matrix [rows, columns] (nested lists or an array), every column in one format."""
        return cls(dict(zip(columns, map(list, zip(*values)))), index, dict.fromkeys(columns, format) if format else {})

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()), self.index or []))

    def __getitem__(self, name: str) -> list:
        if name not in self.columns:
            raise KeyError(f"no column {name!r}; the table's columns: {list(self.columns)}")
        return self.columns[name]

    def row(self, position: int) -> dict[str, object]:
        """The row at `position` (0 first, −1 last), as column name → value."""
        return {name: values[position] for name, values in self.columns.items()}

    def rows_at(self, positions: Sequence[int]) -> Table:
        return replace(self, columns={name: [values[p] for p in positions] for name, values in self.columns.items()},
                       index=None if self.index is None else [self.index[p] for p in positions])

    def sorted_by(self, name: str, descending: bool = False) -> Table:
        """The same rows, ordered by one column."""
        values = self[name]
        return self.rows_at(sorted(range(len(values)), key=values.__getitem__, reverse=descending))

    def rows_where(self, name: str, allowed: Sequence) -> Table:
        """Only the rows whose value in column `name` is one of `allowed`."""
        return self.rows_at([p for p, value in enumerate(self[name]) if value in allowed])

    def to_html(self) -> str:
        labels = self.index is not None
        head = "<th></th>" * labels + "".join(f"<th>{html.escape(name)}</th>" for name in self.columns)
        body = "".join(
            "<tr>" + (f"<th>{html.escape(str(self.index[p]))}</th>" if labels else "")
            + "".join(f"<td>{html.escape(shown(values[p], self.formats.get(name)))}</td>" for name, values in self.columns.items())
            + "</tr>" for p in range(len(self)))
        return f'<table class="dataframe"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'

    def _repr_html_(self) -> str:
        return self.to_html()
