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


def bar_heights(page) -> list[float]:
    return page.evaluate(
        "() => Array.from(document.querySelector('.explainer-temperature-explorer .js-plotly-plot').data[0].y)"
    )


def test_temperature_slider_reshapes_the_chart_in_jupyterlab(jupyterlab, browser_page, tmp_path):
    page = browser_page
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{jupyterlab}/lab/tree/{NOTEBOOK}?token={TOKEN}")
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    # "Run All" before the kernel's websocket is up is silently dropped: wait for a connection first.
    wait_for(lambda: any(k["connections"] >= 1 and k["execution_state"] == "idle"
                         for k in get_json(f"{jupyterlab}/api/kernels?token={TOKEN}")), 90, "a connected, idle kernel")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")

    page.wait_for_selector(".explainer-temperature-explorer .js-plotly-plot .bars path", timeout=120_000)
    handle = page.locator(".explainer-temperature .noUi-handle")
    handle.scroll_into_view_if_needed()
    before = bar_heights(page)
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] - 30, box["y"] + box["height"] / 2, steps=10)
    page.mouse.up()
    after = wait_for(lambda: (h := bar_heights(page)) != before and h, 30, "the bars to change")
    readout = page.locator(".explainer-temperature .widget-readout").inner_text()
    page.screenshot(path=str(tmp_path / "jupyterlab-temperature.png"), full_page=False)

    assert float(readout) < 1.0, "dragging left lowers the temperature"
    assert max(after) > max(before), "a lower temperature sharpens the distribution"
    assert abs(sum(after) - 1) < 1e-6
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    assert not errors, f"console errors: {errors}"
