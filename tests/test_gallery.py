"""`explainer build` on a subset: offline HTML with live plotly figures, videos with stills, an index whose links
resolve, opened in headless Chromium with the network cut off; a failing notebook is named and the rest still built."""

import re
from pathlib import Path

import nbformat
import pytest

from explainer import site as gallery
from explainer.lab import CHROMIUM, CHROMIUM_FLAGS

pytestmark = [pytest.mark.slow, pytest.mark.browser]
NOTEBOOK, SCENE = "01_softmax_and_temperature", "causal_mask"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    report = gallery.build(out, [NOTEBOOK], [SCENE], "low")
    assert report.failures == []
    return out


def test_index_links_resolve(site):
    index = (site / "index.html").read_text()
    links = re.findall(r'(?:href|src)="([^"]+)"', index)
    assert f"{NOTEBOOK}.html" in links and f"videos/{SCENE}.mp4" in links and f"stills/{SCENE}.png" in links
    for link in links:
        assert (site / link).is_file(), link
    assert "The next token: softmax and temperature" in index


def test_pages_load_nothing_from_the_network(site):
    page = (site / f"{NOTEBOOK}.html").read_text()
    assert not re.search(r'<(?:script|link)[^>]+(?:src|href)="https?://', page)
    assert 'src="plotly.min.js"' in page and (site / "plotly.min.js").stat().st_size > 1_000_000


def test_offline_page_shows_its_figures_without_console_errors(site, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS,
            offline=True, viewport={"width": 1300, "height": 1000})
        requests, errors = [], []
        context.route(re.compile(r"^https?://"), lambda route: (requests.append(route.request.url), route.abort()))
        try:
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto((site / f"{NOTEBOOK}.html").as_uri())
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
            figures = page.locator(".js-plotly-plot").count()
            bars = page.evaluate("() => document.querySelectorAll('.js-plotly-plot .bars path').length")
            page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
            page.screenshot(path=str(tmp_path / "offline-page.png"))
            page.goto((site / "index.html").as_uri())
            stills = page.evaluate("() => Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length")
        finally:
            context.close()
    assert figures >= 2 and bars > 10
    assert stills == 1
    assert not requests, f"tried to reach the network: {requests}"
    assert not errors, f"console errors: {errors}"


def test_a_failing_notebook_is_named_and_the_rest_is_built(tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    good = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Good\nIt works."), nbformat.v4.new_code_cell("1 + 1")])
    bad = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Bad"), nbformat.v4.new_code_cell("1 / 0")])
    nbformat.write(good, notebooks / "a_good.ipynb")
    nbformat.write(bad, notebooks / "b_bad.ipynb")
    monkeypatch.setattr(gallery, "NOTEBOOKS_DIR", notebooks)
    report = gallery.build(tmp_path / "site", scene_names=[])
    assert report.notebooks["a_good"] == "ok" and "ZeroDivisionError" in report.notebooks["b_bad"]
    index = (tmp_path / "site" / "index.html").read_text()
    assert 'href="a_good.html"' in index and "b_bad: <b>failed</b>" in index
    assert (tmp_path / "site" / "a_good.html").is_file() and not (tmp_path / "site" / "b_bad.html").exists()


def test_numpy_arrays_sent_as_widget_buffers_are_restored():
    import base64

    import numpy as np

    values = {"_widget_data": [{"type": "bar", "y": {"dtype": "float64", "shape": [3]}}]}
    data = base64.b64encode(np.array([0.5, 0.25, 0.25]).tobytes()).decode()
    gallery.unpack_arrays(values, [{"path": ["_widget_data", 0, "y", "buffer"], "data": data, "encoding": "base64"}])
    assert values["_widget_data"][0]["y"] == [0.5, 0.25, 0.25]
