"""Debian's Chromium (/usr/bin/chromium) driven by Playwright, with a fresh profile and no network of its own: what
the gallery takes its README pictures with, and what the test suite's JupyterLab driver (tests/lab.py) opens pages in.
Nothing is downloaded (never `playwright install`)."""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from explainer.errors import ExplainerError

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
WINDOW = {"width": 1280, "height": 900}  # the window the notebooks are made to fit, with the file browser open


@contextmanager
def chromium(offline: bool = False, viewport: dict = WINDOW) -> Iterator:
    """A Playwright browser context in Debian's Chromium with a fresh profile."""
    if not CHROMIUM.exists():
        raise ExplainerError(f"{CHROMIUM} is missing: install Debian's chromium (make test-packages)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as fresh, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            user_data_dir=fresh, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS,
            viewport=viewport, offline=offline)
        try:
            yield context
        finally:
            context.close()
