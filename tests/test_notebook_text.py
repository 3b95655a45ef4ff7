"""Numbers in notebook prose are computed, not typed: a typed number goes false the day the model is retrained.

Markdown cells may hold numbers only inside formulas ($…$), code (`…`), quotations of the talk (“…” or > lines),
headings' notebook numbers, list markers and references to other notebooks. Any other number must carry its
computation right after it, as an HTML comment that the page does not show: `12,288<!-- = scale.GPT3.d_model -->`.
This test evaluates each such expression and fails when the typed number disagrees with it.
"""

import math
import re

import nbformat
import pytest

from explainer import geometry, scale, settings
from explainer.paths import NOTEBOOKS_DIR

ALLOWED = [r"```.*?```", r"\$\$.*?\$\$", r"\$[^$]*\$", r"`[^`]*`", r"“[^”]*”", r"^\s*>.*$", r"^#+ \d+ ·",
           r"^\s*\d+\.\s", r"(?i)notebooks? \d+(?:[–-]\d+)?", r"(?i)quiz \d"]
CHECKED = re.compile(r"(\d[\d,]*(?:\.\d+)?)<!-- = (.+?) -->")
NUMBER = re.compile(r"(?<![\w.\-–])\d[\d,]*(?:\.\d+)?(?![\w])")
NAMESPACE = {"math": math, "geometry": geometry, "scale": scale, "settings": settings}


def unchecked_numbers(markdown: str) -> list[str]:
    text = CHECKED.sub(" ", markdown)
    for pattern in ALLOWED:
        text = re.sub(pattern, " ", text, flags=re.S | re.M)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    return NUMBER.findall(text)


def agrees(typed: str, value: float) -> bool:
    """'12,288' agrees with 12288; '0.035' with 0.0349 (as many decimals as typed)."""
    decimals = len(typed.split(".")[1]) if "." in typed else 0
    return math.isclose(float(typed.replace(",", "")), round(float(value), decimals), abs_tol=10**-decimals / 2)


def markdown_cells():
    for path in sorted(NOTEBOOKS_DIR.glob("*.ipynb")):
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type == "markdown":
                yield f"{path.stem}[{index}]", cell.source


CELLS = list(markdown_cells())


@pytest.mark.parametrize("where, source", CELLS, ids=[where for where, _ in CELLS])
def test_prose_holds_no_unchecked_number(where, source):
    assert not unchecked_numbers(source), (
        f"{where}: typed numbers {unchecked_numbers(source)}: print them from code, or add <!-- = expression -->")


@pytest.mark.parametrize("where, source", [c for c in CELLS if CHECKED.search(c[1])], ids=lambda c: c if isinstance(c, str) else "")
def test_checked_numbers_agree_with_their_computation(where, source):
    for typed, expression in CHECKED.findall(source):
        value = eval(expression, dict(NAMESPACE))  # noqa: S307 (our own notebooks' annotations)
        assert agrees(typed, value), f"{where}: the prose says {typed}, but {expression} = {value}"


def test_the_checks_can_fail():
    assert unchecked_numbers("the model has 4 layers") == ["4"]
    assert unchecked_numbers("the talk says “about 1.5 million”, $d = 12$, `n = 3`, see notebook 04") == []
    assert unchecked_numbers("GPT-3 has 12,288<!-- = scale.GPT3.d_model --> dimensions") == []
    assert agrees("12,288", 12288) and agrees("0.035", 0.0349) and not agrees("113", 114) and not agrees("0.04", 0.0349)
