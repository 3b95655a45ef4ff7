"""Live figures: plotly's FigureWidget with its 5 MB of browser code sent and evaluated once per page, and a notebook
renderer that shows plain figures through the same code.

Plotly's own FigureWidget sends its code with every figure and the page compiles it for each (about 0.9 s of the
browser's main thread per figure on 2 cores); JupyterLab's plotly renderer, for plain figures, loads a second copy
(about 1.2 s more). Here one hidden widget per kernel (plotly_code.py) carries the code; every figure waits for it.
To keep plain figures as plotly JSON outputs instead (for nbconvert, say), set PLOTLY_RENDERER=plotly_mimetype before
importing explainer.figures, as the gallery does.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from typing import Iterator

import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import qualitative
from plotly.io.base_renderers import MimetypeRenderer

from explainer.figures.plotly_code import PAGE_SLOT, plotly_code_on_page

CODE_WAIT_MS = 120_000  # a figure whose code never arrives says so after this long
# What plotly's figure sends Python after edits (see FigureWidget): kept in the page.
REPORTS = ["_js2py_traceDeltas", "_js2py_widget_layoutDelta", "_js2py_relayout", "_js2py_restyle", "_js2py_update"]
MOVING_TRACES = {"scatter", "bar"}  # what plotly.js redraws on its transition path
TRACES_ONLY = {"transition": {"duration": 0}, "frame": {"duration": 0, "redraw": False}}  # Plotly.animate, no replot


class FigureWidget(go.FigureWidget):
    """plotly's FigureWidget without its 5 MB of browser code: it waits for the page's one copy (see PlotlyCode)."""

    # In the page, beyond waiting for the code:
    # - plotly's figure reports every edit back to Python (the full figure's defaults, and each edit made in the page);
    #   nothing here reads them, and they cost the page, the server and the kernel a message each: they stay here.
    # - It marks its own edits with an attribute plotly.js does not know, _doNotReportToPy, so that they are not
    #   reported again; an unknown attribute makes plotly.js lay the whole figure out again (a new title took 3 times
    #   as long). With no reports to avoid, the mark is taken out before plotly.js sees it.
    # - batch_traces' animation frames (redraw: false) move bars and dots but leave them in their old colours: each
    #   point is painted with the colour plotly.js computed for it, after a frame that changes a colour (a restyle
    #   would too, but a new colour array makes plotly.js replot the whole figure).
    # - A figure drawn while its cell is off screen has no width yet: plotly picks 700 px and looks again only when
    #   the window resizes. Here it fits again whenever its box changes width (the cell scrolled into view, a panel).
    _esm = PAGE_SLOT + f"""let timer;
const late = new Promise((_, fail) => {{ timer = setTimeout(() => fail(new Error(
  "plotly's code did not reach this page: restart the kernel and run the notebook again")), {CODE_WAIT_MS}); }});
const code = await Promise.race([slot, late]);
clearTimeout(timer);
const reports = new Set({json.dumps(REPORTS)});
const Plotly = window.Plotly;
if (Plotly && !Plotly.__unmarked) {{
  const unmark = v => v && v.constructor === Object && "_doNotReportToPy" in v
    ? Object.fromEntries(Object.entries(v).filter(([key]) => key !== "_doNotReportToPy")) : v;
  for (const name of ["relayout", "restyle", "update"]) {{
    const edit = Plotly[name];
    Plotly[name] = (gd, ...rest) => edit(gd, ...rest.map(unmark));
  }}
  const animate = Plotly.animate;
  const coloured = edit => Object.entries(edit).some(([key, value]) => key.includes("color")
    || (value && value.constructor === Object && coloured(value)));
  Plotly.animate = (gd, frame, ...rest) => animate(gd, frame, ...rest).then(() => {{
    if (!(frame?.data || []).some(coloured)) return;  // sizes or positions only: the colours stand
    for (const point of gd.querySelectorAll(".point")) {{
      const shape = point.tagName === "path" ? point : point.querySelector("path"), colour = point.__data__?.mc;
      if (shape && typeof colour === "string") shape.style.fill = colour;
    }}
  }});
  Plotly.__unmarked = true;
}}
export default () => {{
  const figure = code.default();
  return {{
    initialize(context) {{
      const model = context.model, set = model.set.bind(model);
      model.set = (key, ...rest) => reports.has(key) ? undefined : set(key, ...rest);
      figure.initialize(context);
    }},
    render(context) {{
      const remove = figure.render(context), gd = context.el;
      let width = gd.clientWidth;
      const observer = new ResizeObserver(() => {{
        if (gd.clientWidth > 0 && gd.clientWidth !== width && gd._fullLayout && Plotly) {{
          width = gd.clientWidth;
          Plotly.Plots.resize(gd);
        }}
      }});
      observer.observe(gd);
      return () => {{ observer.disconnect(); remove(); }};
    }},
  }};
}};
"""

    def __init__(self, *args, **kwargs) -> None:
        plotly_code_on_page()  # before this figure: the page learns the code first
        super().__init__(*args, **kwargs)
        self._view_count = None  # plotly counts views: each view drawn would send the kernel a message

    @contextmanager
    def batch_traces(self) -> Iterator[None]:
        """Like `batch_update`, for new numbers in traces whose axes stay as they are (fixed ranges or categories):
        marker sizes, bar heights, colours. The page redraws only the traces (plotly's transition path) instead of
        laying out the whole figure again, axes and labels included, which was most of a slider's time in the
        browser. Layout edits in the batch (a new title) follow as one relayout. plotly.js moves scatter and bar
        traces only and wipes any other (a contour under a path): a figure with one is redrawn as by `batch_update`."""
        if self._in_batch_mode:
            yield
            return
        if any(trace.type not in MOVING_TRACES for trace in self.data):
            with self.batch_update():
                yield
            return
        self._in_batch_mode = True
        try:
            yield
        finally:
            self._in_batch_mode = False
            layout = dict(self._batch_layout_edits)
            self._batch_layout_edits.clear()
            if self._batch_trace_edits:  # every trace in the frame: a subplot with none of them is left empty
                for index in range(len(self.data)):
                    self._batch_trace_edits.setdefault(index, {})
                self._perform_batch_animate(TRACES_ONLY)
            if layout:
                self.plotly_relayout(layout)

    # plotly sends each edit as four messages: its two edit counters, the edit, and the edit again as null. The
    # counters only come back in the reports that stay in the page (see above) and the null only clears the edit, so
    # here an edit is one message, numbered so that it differs from the one before (an equal value is not sent).
    _edits = 0

    def _numbered(self, **edit) -> dict:
        self._edits += 1
        return dict(edit, trace_edit_id=self._edits, layout_edit_id=self._edits, source_view_id=None)

    def _send_animate_msg(self, styles_data, relayout_data, trace_indexes, animation_opts) -> None:
        self._py2js_animate = self._numbered(style_data=styles_data, layout_data=relayout_data,
                                             style_traces=self._normalize_trace_indexes(trace_indexes),
                                             animation_opts=animation_opts)

    def _send_update_msg(self, restyle_data, relayout_data, trace_indexes=None, source_view_id=None) -> None:
        self._py2js_update = self._numbered(style_data=restyle_data, layout_data=relayout_data,
                                            style_traces=self._normalize_trace_indexes(trace_indexes))

    def _send_restyle_msg(self, restyle_data, trace_indexes=None, source_view_id=None) -> None:
        self._py2js_restyle = self._numbered(restyle_data=restyle_data,
                                             restyle_traces=self._normalize_trace_indexes(trace_indexes))

    def _send_relayout_msg(self, layout_data, source_view_id=None) -> None:
        self._py2js_relayout = self._numbered(relayout_data=layout_data)


class SharedCodeRenderer(MimetypeRenderer):
    """Shows a plain figure as a FigureWidget, so that the page draws every figure with the one copy of plotly that the
    live figures load (JupyterLab's plotly renderer would load and start a second one: about 1.2 s of the page)."""

    def to_mimebundle(self, fig_dict: dict) -> dict:
        return FigureWidget(fig_dict)._repr_mimebundle_()


GRID = "#EBF0F8"
AXIS = dict(gridcolor=GRID, linecolor=GRID, zerolinecolor=GRID, zerolinewidth=2, ticks="", automargin=True,
            title_standoff=15)
COLORBAR = dict(colorbar=dict(outlinewidth=0, ticks=""))
# Every figure is white: plotly_white's look for the traces we draw. plotly_white itself also styles 3-D scenes,
# maps and two dozen trace types; validating it took 0.25 s of every notebook's first cell, and copying it into each
# live figure 19 ms (22 ms against 3 ms a figure). Set once here: a template named in a figure's layout is checked
# property by property each time, the default one is taken as it is.
pio.templates["explainer"] = go.layout.Template(
    layout=dict(autotypenumbers="strict", colorway=qualitative.Plotly, font_color="#2a3f5f",
                hovermode="closest", hoverlabel_align="left", paper_bgcolor="white", plot_bgcolor="white",
                xaxis=AXIS, yaxis=AXIS, title_x=0.05, shapedefaults_line_color="#2a3f5f",
                annotationdefaults=dict(arrowcolor="#2a3f5f", arrowhead=0, arrowwidth=1)),
    data=dict(heatmap=[COLORBAR], contour=[COLORBAR], bar=[dict(marker_line=dict(color="white", width=0.5))]))
pio.templates.default = "explainer"
pio.renderers["explainer"] = SharedCodeRenderer()
if "PLOTLY_RENDERER" not in os.environ:  # a choice made outside (the gallery asks for JSON) wins
    pio.renderers.default = "explainer"
