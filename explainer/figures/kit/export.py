"""The kit in a static page (the offline gallery): each figure's state and numbers embedded in the page, the kit's
JavaScript and style sheet written once beside the pages, and the controls answered by the page from `file://` with
no kernel and no network.

    write_assets(out_dir)                      # explainer-kit.js and explainer-kit.css beside the pages
    page_head = HEAD                           # in each page's <head>
    fragment = static_html(state, buffers)     # a widget as the notebook saved it (nbclient's widget state)
    fragment = widget_html(view)               # a widget of this kernel
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from explainer.files import atomic_path
from explainer.figures.kit.widget import KIT, KitWidget, joined_sources, style_sheet

SCRIPT, STYLE = "explainer-kit.js", "explainer-kit.css"
HEAD = f'<link rel="stylesheet" href="{STYLE}">\n<script src="{SCRIPT}" defer></script>'
STATE_TYPE = "application/vnd.explainer-kit+json"
WIDGET_KEYS = {"layout", "tabbable", "tooltip"}  # ipywidgets' own values, which the kit's views never read


def page_script() -> str:
    """The kit's files and page.js as one classic script (a module cannot load from file://), inside a function so
    that its names stay out of the page's."""
    return "(() => {\n" + joined_sources("page.js") + "\n})();\n"


def write_assets(out_dir: Path) -> None:
    """The kit's script and style sheet beside the pages."""
    for name, text in ((SCRIPT, page_script()), (STYLE, style_sheet())):
        with atomic_path(Path(out_dir) / name) as temporary:
            temporary.write_text(text, encoding="utf-8")


def is_kit_state(state: dict) -> bool:
    """Whether a saved widget state is one of the kit's figures."""
    return state.get("kit") == KIT


def static_html(state: dict, buffers: list[dict]) -> str:
    """A kit figure for a static page, from its saved state (values, and buffers: {"path", "data" in base64}, as
    nbclient stores a notebook's widgets): the values the view reads, embedded as JSON for the kit's script."""
    values = {key: value for key, value in state.items() if not key.startswith("_") and key not in WIDGET_KEYS}
    arrays = [{"path": buffer["path"], "data": buffer["data"]} for buffer in buffers if buffer["path"][0] in values]
    payload = json.dumps({"state": values, "buffers": arrays}, ensure_ascii=False).replace("</", "<\\/")
    return f'<div class="explainer-kit-figure"><script type="{STATE_TYPE}">{payload}</script></div>'


def widget_html(widget: KitWidget) -> str:
    """static_html for a widget of this kernel, as it stands now."""
    buffers: list[dict] = []
    return static_html(without_bytes(widget.get_state(), [], buffers), buffers)


def without_bytes(value, path: list, buffers: list[dict]):
    """`value` with its bytes taken out into `buffers` ({"path", "data" in base64}), as a notebook saves them."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        buffers.append({"path": path, "data": base64.b64encode(bytes(value)).decode("ascii")})
        return None
    if isinstance(value, dict):
        return {key: without_bytes(item, [*path, key], buffers) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [without_bytes(item, [*path, i], buffers) for i, item in enumerate(value)]
    return value
