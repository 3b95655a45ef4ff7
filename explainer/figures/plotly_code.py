"""plotly's widget code for the browser (5 MB of JavaScript), brought to the page once per kernel by a hidden widget
that every live figure waits for (see live.py). Kept apart from plotly's widget machinery, which takes about 0.3 s to
import: in a kernel the code leaves first, and the page evaluates it (about 1.5 s) while the kernel loads the rest."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import anywidget
from IPython import get_ipython

# The file plotly's own FigureWidget sends as its _esm, read without importing plotly.basewidget.
PLOTLY_CODE = (Path(importlib.util.find_spec("plotly").origin).parent / "package_data" / "widgetbundle.js").read_text()
PLOTLY_CODE_KEY = hashlib.sha256(PLOTLY_CODE.encode()).hexdigest()[:16]

# JavaScript: `slot`, this page's promise of plotly's code, made by whichever module asks first; `slot.settle` fulfils it.
PAGE_SLOT = (f"const store = (globalThis.__explainerBundles ??= new Map());\n"
             f"if (!store.has({PLOTLY_CODE_KEY!r})) {{ let settle; const made = new Promise(done => {{ settle = done; }}); "
             f"made.settle = settle; store.set({PLOTLY_CODE_KEY!r}, made); }}\n"
             f"const slot = store.get({PLOTLY_CODE_KEY!r});\n")


class PlotlyCode(anywidget.AnyWidget):
    """Brings plotly's widget code to the page once per kernel, for every figure. Never displayed: its model alone
    evaluates the code (once per page, whichever kernel sends it) and fulfils the page's slot that figures wait on."""

    _esm = (PAGE_SLOT
            + f"if (!slot.started) {{ slot.started = true; slot.settle(import(URL.createObjectURL(new Blob("
              f"[{json.dumps(PLOTLY_CODE)}], {{type: 'text/javascript'}})))); }}\n"
            + "export default {};\n")


_plotly_code: PlotlyCode | None = None


def plotly_code_on_page() -> None:
    """Open this kernel's PlotlyCode widget, unless it is open already."""
    global _plotly_code
    if _plotly_code is None or _plotly_code.comm is None:  # none yet, or closed
        _plotly_code = PlotlyCode()


def in_kernel() -> bool:
    return getattr(get_ipython(), "kernel", None) is not None


if in_kernel():
    plotly_code_on_page()
