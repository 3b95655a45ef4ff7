"""The kit's widget: an anywidget whose JavaScript is the kit's own files (js/), joined into one module, and whose
look is kit.css. Subclasses name the view that draws them and hold its numbers as traits."""

from __future__ import annotations

from pathlib import Path

import anywidget
import traitlets

from explainer import style

HERE = Path(__file__).parent
# joined into one scope, in this order
SOURCES = ("draw.js", "components.js", "views.js", "attention.js", "positions.js", "softmax.js", "plot.js", "descent.js", "live.js")
KIT = "explainer-kit/1"  # marks a kit widget in a notebook's saved widget state (what the gallery exports)
COLOURS = {"dot": style.DOT_COLOR, "bar": style.BAR_COLOR, "highlight": style.HIGHLIGHT_COLOR,
           "masked": style.MASKED_COLOR, "positive": style.POSITIVE_COLOR, "negative": style.NEGATIVE_COLOR,
           "ink": "#2a3f5f", "grid": "#EBF0F8"}


def joined_sources(last: str) -> str:
    """The kit's JavaScript files as one text, `last` (the module's entry, or the offline page's) at the end."""
    return "\n".join((HERE / "js" / name).read_text(encoding="utf-8") for name in (*SOURCES, last))


def style_sheet() -> str:
    return (HERE / "kit.css").read_text(encoding="utf-8")


class KitWidget(anywidget.AnyWidget):
    """A figure drawn by the kit's JavaScript: the numbers come from Python once, the controls are answered in the page."""

    _esm = joined_sources("widget.js")
    _css = style_sheet()
    kit = traitlets.Unicode(KIT).tag(sync=True)
    view = traitlets.Unicode().tag(sync=True)  # the JavaScript view that draws it (views.js: VIEWS)
    colours = traitlets.Dict(COLOURS).tag(sync=True)
