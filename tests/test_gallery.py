"""`explainer build` of every notebook and one chapter: offline HTML pages opened in headless Chromium from file://
with every other request refused. Every control of every kit figure moves its drawing in the static page; controls that
need the kernel are shown disabled with a note; formulas are typeset, the chapter plays, the index's links resolve and
its summaries are formatted; a failing notebook is named and the rest still built."""

import re
from pathlib import Path

import nbformat
import psutil
import pytest

from explainer import site as gallery
from explainer.paths import NOTEBOOKS_DIR
from lab import GalleryPage, chromium

pytestmark = [pytest.mark.slow, pytest.mark.browser]
NOTEBOOK, SCENE = "01_softmax_and_temperature", "scale_and_cost"
NOTEBOOKS = sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb"))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    report = gallery.build(out, NOTEBOOKS, [SCENE], "low", say=lambda line: None, fast=True)
    assert report.failures == []
    return out


@pytest.fixture(scope="module")
def browser():
    with chromium(offline=True, viewport={"width": 1300, "height": 1000}) as context:
        yield context


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_kit_control_moves_its_figure_offline(site, browser, name):
    """From file://, with the network refused: each kit figure drawn from the numbers in the page, each of its controls
    moved once changing the drawing, and each control that needs the kernel disabled, its box saying why."""
    page = GalleryPage(browser, site / f"{name}.html")
    try:
        moved = []
        for control in page.controls():
            page.move(control)
            moved.append(control.label)
        kernel_bound = page.needing_python()
        assert all(disabled and noted for _, disabled, noted in kernel_bound), kernel_bound
        assert not page.errors, f"after moving {moved}: {page.errors}"
        assert not page.requests, f"tried to reach the network: {page.requests}"
    finally:
        page.close()


def test_index_links_resolve_and_summaries_are_formatted(site):
    index = (site / "index.html").read_text()
    links = re.findall(r'(?:href|src|poster)="([^"]+)"', index)
    assert f"{NOTEBOOK}.html" in links and f"videos/{SCENE}.mp4" in links and f"stills/{SCENE}.png" in links
    for link in links:
        assert (site / link.split("?")[0].split("#")[0]).is_file(), link
    assert "The next token: softmax and temperature" in index
    summary = index.split(f'href="{NOTEBOOK}.html"')[1].split("</li>")[0]
    assert "<strong>The question.</strong>" in summary and "**" not in summary


def test_glossary_links_lead_to_their_entries(site):
    page = (site / f"{NOTEBOOK}.html").read_text()
    glossary = (site / "glossary.html").read_text()
    anchors = re.findall(r'href="glossary\.html#([\w-]+)"', page)
    assert anchors and "GLOSSARY.md" not in page
    for anchor in anchors:
        assert f'id="{anchor}"' in glossary, anchor


def test_pages_load_nothing_from_the_network(site):
    page = (site / f"{NOTEBOOK}.html").read_text()
    assert not re.search(r'<(?:script|link)[^>]+(?:src|href)="https?://', page)
    assert 'src="plotly.min.js"' in page and (site / "plotly.min.js").stat().st_size > 1_000_000
    assert 'src="mathjax/MathJax.js' in page and (site / "mathjax" / "MathJax.js").is_file()


def test_offline_pages_show_figures_formulas_and_video(site, browser):
    requests, errors = [], []
    page = browser.new_page()
    try:
        page.route(re.compile(r"^https?://"), lambda route: (requests.append(route.request.url), route.abort()))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((site / f"{NOTEBOOK}.html").as_uri())
        page.wait_for_selector(".explainer-kit svg", timeout=30_000)
        page.wait_for_function("() => window.MathJax && MathJax.Hub", timeout=30_000)
        typeset_and_fonts_loaded = "() => new Promise(done => MathJax.Hub.Queue(() => document.fonts.ready.then(() => done(true))))"
        page.evaluate(typeset_and_fonts_loaded)
        formulas = page.locator(".MathJax, .MathJax_Display").count()
        figures = page.locator(".explainer-kit").count()
        page.goto((site / "index.html").as_uri())
        page.wait_for_function("() => window.MathJax && MathJax.Hub", timeout=30_000)
        page.evaluate(typeset_and_fonts_loaded)
        duration = page.evaluate("""() => new Promise(done => { const v = document.querySelector('video');
            v.preload = 'metadata'; v.onloadedmetadata = () => done(v.duration); v.onerror = () => done(-1); v.load(); })""")
        stills = page.evaluate("() => Array.from(document.images).length")
        poster = page.evaluate("() => document.querySelector('video').poster")
    finally:
        page.close()
    assert figures >= 2 and formulas > 0  # (test_every_kit_control_moves_its_figure_offline moves them)
    assert duration > 5, "the chapter plays (the browser reads its duration)"
    assert poster.endswith(f"stills/{SCENE}.png") and stills == 0
    assert not requests, f"tried to reach the network: {requests}"
    assert not errors, f"console errors: {errors}"


def running_kernels() -> set[int]:
    """The ids of this process's descendants that are running ipykernels (an exited child not yet reaped, a zombie,
    is not running: another test's browser driver can leave one for a moment, and its command line cannot be read)."""
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "ipykernel" in " ".join(child.cmdline()):
                found.add(child.pid)
        except psutil.Error:  # it exited while we looked
            continue
    return found


def test_a_failing_notebook_is_named_and_the_rest_is_built(tmp_path, monkeypatch, capfd):
    """...and the build prints no kernel transport warning and leaves no kernel running (each notebook's kernel is
    shut down when its page is written; one left running warns, when the build ends, that its parent has exited)."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    good = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Good\nIt works."), nbformat.v4.new_code_cell("1 + 1")])
    bad = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Bad"), nbformat.v4.new_code_cell("1 / 0")])
    nbformat.write(good, notebooks / "a_good.ipynb")
    nbformat.write(bad, notebooks / "b_bad.ipynb")
    monkeypatch.setattr(gallery, "NOTEBOOKS_DIR", notebooks)
    before = running_kernels()
    report = gallery.build(tmp_path / "site", scene_names=[], say=lambda line: None)
    assert "without encryption" not in capfd.readouterr().err
    assert running_kernels() <= before, "a kernel the build started is still running"
    assert report.notebooks["a_good"] == "ok" and "ZeroDivisionError" in report.notebooks["b_bad"]
    index = (tmp_path / "site" / "index.html").read_text()
    assert 'href="a_good.html"' in index and "b_bad: <b>failed</b>" in index
    assert (tmp_path / "site" / "a_good.html").is_file() and not (tmp_path / "site" / "b_bad.html").exists()



def test_controls_that_need_the_kernel_are_shown_disabled_and_their_box_says_why_once():
    def model(name, module="@jupyter-widgets/controls", **state):
        return {"model_name": name, "model_module": module, "state": state}

    state = {
        "box": model("VBoxModel", children=["IPY_MODEL_row", "IPY_MODEL_text", "IPY_MODEL_bar"]),
        "row": model("HBoxModel", children=["IPY_MODEL_button", "IPY_MODEL_size"]),
        "button": model("ButtonModel", description="Train"),
        "size": model("DropdownModel", description="size", index=1, _options_labels=["tiny", "small (2 layers)"]),
        "text": model("HTMLModel", description="", value="<b>ready</b>"),
        "bar": model("ButtonModel", description="hidden button", layout="IPY_MODEL_hidden"),
        "hidden": model("LayoutModel", "@jupyter-widgets/base", visibility="hidden"),
    }
    page = gallery.static_widget("box", state, [0])
    assert '<button class="control" disabled>Train</button>' in page
    assert 'size <input disabled size="16" value="small (2 layers)">' in page
    assert "<b>ready</b>" in page and "hidden button" not in page
    assert page.count("needs Python") == 1 and page.index("needs Python") < page.index("<b>ready</b>"), \
        "said once, in the row of controls"
