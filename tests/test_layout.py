"""The shape of the project holds as it grows: imports flow one way between layers, and notebooks hold no logic."""

import ast
from pathlib import Path

import nbformat
import pytest

from explainer.paths import ANIMATIONS_DIR, NOTEBOOKS_DIR, PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "explainer"
FOUNDATION = {"errors", "files", "paths", "settings", "style"}
TOP = {"site", "cli", "browser", "chapters", "__main__", "__init__"}
# A layer may import itself and the layers listed for it, nothing else.
ALLOWED = {
    "foundation": {"foundation"},
    "gpt": {"foundation", "gpt"},
    "concept": {"foundation", "gpt", "concept"},
    "figures": {"foundation", "gpt", "concept", "figures"},
    "video": {"foundation", "gpt", "concept", "video"},
    "top": {"foundation", "gpt", "concept", "figures", "video", "top"},
}
# Libraries that belong to one way of showing things only.
SHOWING = {"plotly", "ipywidgets", "IPython", "manim"}
LIBRARIES_ALLOWED = {"foundation": set(), "gpt": set(), "concept": set(), "figures": {"plotly", "ipywidgets", "anywidget", "IPython"},
                     "video": {"manim"}, "top": SHOWING}


def layer_of(module: str) -> str:
    """'explainer.gpt.model' -> 'gpt', 'explainer.attention' -> 'concept', ..."""
    parts = module.split(".")[1:] or ["__init__"]
    if parts[0] in ("gpt", "figures", "video"):
        return parts[0]
    if parts[0] in FOUNDATION:
        return "foundation"
    return "top" if parts[0] in TOP else "concept"


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts)


def imports(path: Path) -> set[str]:
    """Every module a file imports, absolute names (`from explainer import x` counts as explainer.x)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            if node.module == "explainer":
                found |= {f"explainer.{alias.name}" for alias in node.names}
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_layers_are_recognised():
    layers = {layer_of(module_name(path)) for path in MODULES}
    assert layers == set(ALLOWED), layers


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_flow_one_way(path):
    layer = layer_of(module_name(path))
    wrong = [name for name in imports(path) if name.startswith("explainer.") and layer_of(name) not in ALLOWED[layer]]
    assert not wrong, f"{layer} module {module_name(path)} imports {wrong}: against the direction of the layers"
    shown = {name.split(".")[0] for name in imports(path)} & SHOWING
    assert shown <= LIBRARIES_ALLOWED[layer], f"{layer} module {module_name(path)} imports {sorted(shown)}"


def test_the_checker_catches_a_wrong_import(tmp_path):
    """The test above can fail: a gpt module that imports a figure is flagged."""
    bad = tmp_path / "model.py"
    bad.write_text("from explainer.figures.common import dot_grid\nimport plotly\n")
    names = imports(bad)
    assert [n for n in names if n.startswith("explainer.") and layer_of(n) not in ALLOWED["gpt"]] == ["explainer.figures.common"]
    assert {n.split(".")[0] for n in names} & SHOWING == {"plotly"}


@pytest.mark.parametrize("path", sorted(ANIMATIONS_DIR.glob("*.py")), ids=lambda p: p.name)
def test_scenes_import_explainer_as_a_package(path):
    source = path.read_text(encoding="utf-8")
    assert "sys.path" not in source and "PYTHONPATH" not in source
    local = {p.stem for p in ANIMATIONS_DIR.glob("*.py")}
    assert not {n for n in imports(path) if n.split(".")[0] in local or n.startswith("_")}, "shared pieces come from explainer.video"
    assert any(n.startswith("explainer.video") for n in imports(path))


LOGIC = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.For, ast.While, ast.Lambda,
         ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.If)


@pytest.mark.parametrize("path", sorted(NOTEBOOKS_DIR.glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_cells_call_functions_and_hold_no_logic(path):
    notebook = nbformat.read(path, as_version=4)
    found = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, LOGIC):
                found.append(f"cell {index}: {type(node).__name__} at line {node.lineno}")
    assert not found, f"move this logic into explainer (a concept or figure module): {found}"


def plotly_widgets_used(path: Path) -> list[int]:
    """Lines that name plotly's FigureWidget: explorers are drawn by the figure kit, plotly draws static figures only."""
    return [node.lineno for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Attribute) and node.attr == "FigureWidget"
            or isinstance(node, ast.alias) and node.name == "FigureWidget"]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_explorers_are_drawn_by_the_kit_not_plotly_widgets(path):
    lines = plotly_widgets_used(path)
    assert not lines, f"a plotly FigureWidget at lines {lines}: draw it with explainer.figures.kit"


def test_the_figure_widget_check_catches_plotlys(tmp_path):
    module = tmp_path / "figure.py"
    module.write_text("import plotly.graph_objects as go\nfrom plotly.graph_objs import FigureWidget\nfigure = go.FigureWidget()\n")
    assert plotly_widgets_used(module) == [2, 3]
