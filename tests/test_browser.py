"""A real JupyterLab in headless Chromium: run notebook 01, drag the temperature slider, the bars change."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from explainer.paths import NOTEBOOKS_DIR

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
TOKEN = "explainer-test-token"
NOTEBOOK = "01_softmax_and_temperature.ipynb"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def wait_for(condition, timeout: float, what: str, interval: float = 0.25):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            value = condition()
        except Exception:
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def jupyterlab(tmp_path):
    """JupyterLab on a free 127.0.0.1 port over a copy of notebooks/, isolated settings; stopped afterwards."""
    root = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS_DIR, root)
    port = free_port()
    env = {**os.environ, **{name: str(tmp_path / name.lower()) for name in (
        "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR")}}
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
               "--ServerApp.port_retries=0", "--allow-root"]
    log = open(tmp_path / "jupyterlab.log", "w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: get_json(f"{base}/api/status?token={TOKEN}"), 90, "JupyterLab to answer")
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


@pytest.fixture
def browser_page(tmp_path):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test-packages` (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM),
            headless=True, args=CHROMIUM_FLAGS, viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def plot_values(page, container: str, expression: str) -> list[float]:
    """Read numbers straight from the plotly graph div that the browser shows."""
    return page.evaluate(f"() => Array.from(document.querySelector('{container} .js-plotly-plot').data[0].{expression})")


def open_and_run(page, base: str, notebook: str) -> list[str]:
    """Open a notebook, wait for its kernel to connect, run all cells; return a live list of console errors."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base}/lab/tree/{notebook}?token={TOKEN}")
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    # "Run All" before the kernel's websocket is up is silently dropped: wait for a connection first.
    wait_for(lambda: any(k["connections"] >= 1 and k["execution_state"] == "idle"
                         for k in get_json(f"{base}/api/kernels?token={TOKEN}")), 90, "a connected, idle kernel")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    return errors


def drag(page, handle_selector: str, dx: float) -> None:
    handle = page.locator(handle_selector)
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + dx, box["y"] + box["height"] / 2, steps=10)
    page.mouse.up()


def test_temperature_slider_reshapes_the_chart_in_jupyterlab(jupyterlab, browser_page, tmp_path):
    page = browser_page
    errors = open_and_run(page, jupyterlab, NOTEBOOK)
    chart = ".explainer-temperature-explorer"
    page.wait_for_selector(f"{chart} .js-plotly-plot .bars path", timeout=120_000)
    before = plot_values(page, chart, "y")
    drag(page, ".explainer-temperature .noUi-handle", -30)
    after = wait_for(lambda: (h := plot_values(page, chart, "y")) != before and h, 30, "the bars to change")
    readout = page.locator(".explainer-temperature .widget-readout").inner_text()
    page.screenshot(path=str(tmp_path / "jupyterlab-temperature.png"), full_page=False)

    assert float(readout) < 1.0, "dragging left lowers the temperature"
    assert after[0] > before[0], "a lower temperature gives the top token more probability"
    assert abs(sum(after) - 1) < 1e-6
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    assert not errors, f"console errors: {errors}"
    assert page.get_by_text("official Jupyter news").count() == 0, "the set-up turns off JupyterLab's news (it goes online)"


def test_head_slider_changes_the_attention_grid_in_jupyterlab(jupyterlab, browser_page, tmp_path):
    page = browser_page
    errors = open_and_run(page, jupyterlab, "06_attention_in_a_trained_model.ipynb")
    grid = ".explainer-attention-explorer"
    page.wait_for_selector(f"{grid} .js-plotly-plot .scatterlayer .point", timeout=180_000)
    before = plot_values(page, grid, "marker.size")
    drag(page, ".explainer-head .noUi-handle", 120)
    after = wait_for(lambda: (s := plot_values(page, grid, "marker.size")) != before and s, 30, "the dots to change")
    head = int(page.locator(".explainer-head .widget-readout").inner_text())
    page.locator(grid).scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "jupyterlab-attention.png"))
    assert head > 0 and len(after) == len(before)
    title = page.evaluate(f"() => document.querySelector('{grid} .js-plotly-plot').layout.title.text")
    assert title.startswith(f"layer 0, head {head}")
    wait_for(lambda: page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status") == "idle",
             180, "all cells to finish")
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    assert not errors, f"console errors: {errors}"
