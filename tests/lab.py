"""Drive a real JupyterLab in headless Chromium: start a server on localhost, open a notebook, run it, move every
control and wait for the figure it drives to redraw. Test and benchmark infrastructure (not part of the package):
the browser tests import it from here, the benchmarks put tests/ on their path. Chromium: explainer.browser.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from explainer.browser import chromium  # noqa: F401  (the tests and benchmarks open pages with it)
from explainer.errors import ExplainerError
from explainer.paths import NOTEBOOKS_DIR

TOKEN = "explainer-lab-token"


def wait_for(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.1):
    """Poll `condition` until it returns something truthy; a clear error naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except Exception:  # the page or server may not be ready yet
            value = None
        if value:
            return value
        time.sleep(interval)
    raise ExplainerError(f"timed out after {timeout:.0f} s waiting for {what}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Lab:
    """A JupyterLab server on 127.0.0.1 over a copy of the notebooks, with its own settings; stop() ends it."""

    def __init__(self, workdir: Path, notebooks: Path = NOTEBOOKS_DIR):
        self.root = workdir / "notebooks"
        shutil.copytree(notebooks, self.root, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "videos"))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, **{name: str(workdir / name.lower()) for name in (
            "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTERLAB_WORKSPACES_DIR")}}
        command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
                   f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={self.root}", "--LabApp.expose_app_in_browser=True",
                   "--ServerApp.port_retries=0", "--allow-root"]
        self.log = open(workdir / "jupyterlab.log", "w")
        self.server = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(lambda: self.get("/api/status"), 90, "JupyterLab to answer")

    def get(self, path: str):
        with urllib.request.urlopen(f"{self.base}{path}?token={TOKEN}", timeout=5) as response:
            return json.load(response)

    def shutdown_kernels(self) -> None:
        for kernel in self.get("/api/kernels"):
            request = urllib.request.Request(f"{self.base}/api/kernels/{kernel['id']}?token={TOKEN}", method="DELETE")
            urllib.request.urlopen(request, timeout=10).close()

    def stop(self) -> None:
        os.killpg(self.server.pid, signal.SIGTERM)
        try:
            self.server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.server.pid, signal.SIGKILL)
            self.server.wait()
        self.log.close()


# What a kit figure draws, as a number: its elements and its canvases' pixels, not its controls (a slider's readout
# changes with the slider, whether or not the figure follows).
KIT_DRAWING = r"""
var KIT_DRAWING = kit => {
  const drawing = kit.cloneNode(true);
  drawing.querySelectorAll('.kit-controls').forEach(row => row.remove());
  let hash = 0;
  for (const c of drawing.innerHTML) hash = (hash * 31 + c.charCodeAt(0)) | 0;
  for (const canvas of kit.querySelectorAll('canvas')) {
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < pixels.length; i += 7) hash = (hash * 31 + pixels[i]) | 0;
  }
  return hash;
};
"""

# JavaScript run in the page. A control's "box" is the widget box that holds it and the figures it drives.
PAGE_HELPERS = KIT_DRAWING + r"""
var INPUT_EVENTS = ['keydown', 'input', 'click'];  // what a learner's move starts with: a key, a choice, a click
window.__explainer = {
  panel() { return Array.from(window.jupyterapp.shell.widgets('main')).find(w => w.context && w.context.path === window.__explainerNotebook); },
  focus() { window.jupyterapp.shell.activateById(this.panel().id); },
  root() { return this.panel().node; },
  outputs() { return Array.from(this.root().querySelectorAll('.jp-OutputArea-output')); },
  widgetViews() { return Array.from(this.root().querySelectorAll('.jp-OutputArea-output:not([data-mime-type])')); },  // no MIME type of their own
  controls() {
    const found = [];
    for (const output of this.outputs()) {
      output.querySelectorAll('.noUi-handle, .widget-dropdown select, .explainer-kit input, .explainer-kit select')
        .forEach(e => found.push(e));
    }
    return found;
  },
  describe(i) {
    const c = this.controls()[i];
    const cell = c.closest('.jp-Cell');
    const cells = Array.from(this.root().querySelectorAll('.jp-Cell'));
    const kind = c.tagName === 'SELECT' ? 'dropdown' : c.type === 'checkbox' ? 'checkbox' : 'slider';
    if (c.closest('.explainer-kit')) {  // the figure kit's own controls, answered in the page
      const label = c.closest('.kit-control').querySelector('.kit-label').textContent;
      return {index: i, kind, label: label.trim(), cell: cells.indexOf(cell), now: kind === 'slider' ? c.value : null,
              max: kind === 'slider' ? c.max : null, min: kind === 'slider' ? c.min : null, in_page: true};
    }
    const widget = c.closest('.widget-slider') || c.closest('.widget-dropdown');
    const label = widget ? (widget.querySelector('.widget-label') || {}).textContent || '' : '';
    return {index: i, kind, label: label.trim(), cell: cells.indexOf(cell), now: c.getAttribute('aria-valuenow'),
            max: c.getAttribute('aria-valuemax'), min: c.getAttribute('aria-valuemin'), in_page: false};
  },
  box(i) {
    const control = this.controls()[i];
    let node = control.closest('.widget-vbox, .widget-box'), best = node;
    while (node && node.closest('.jp-OutputArea-output')) {
      if (node.querySelector('.widget-html-content, .explainer-kit') && node.classList.contains('widget-vbox')) { best = node; break; }
      node = node.parentElement && node.parentElement.closest('.widget-vbox, .widget-box');
    }
    return best || control.closest('.jp-OutputArea-output');
  },
  signature(i) {
    const box = this.box(i);
    const texts = Array.from(box.querySelectorAll('.widget-html-content')).map(e => e.textContent);
    const kits = Array.from(box.querySelectorAll('.explainer-kit')).map(KIT_DRAWING);
    return JSON.stringify([texts, kits]);
  },
  drawn(i) {
    // per kit figure of the box, its charts on screen (a kit switch keeps the panels of other choices, hidden)
    return Array.from(this.box(i).querySelectorAll('.explainer-kit .kit-panel svg')).filter(chart => chart.getClientRects().length)
      .map(chart => chart.getAttribute('class'));
  },
  watch(i) {
    const box = this.box(i);
    window.__last = null;
    // a change of the box, then the frame that paints it: a message posted from the frame's animation callback is
    // handled once that frame is rendered, so __last is when the change was on screen
    const painted = new MessageChannel();
    painted.port1.onmessage = () => { window.__last = performance.now(); };
    window.__touch = () => requestAnimationFrame(() => painted.port2.postMessage(null));
    if (window.__observer) window.__observer.disconnect();
    window.__observer = new MutationObserver(() => window.__touch());
    window.__observer.observe(box, {subtree: true, childList: true, characterData: true, attributes: true});
    // messages from the page to the kernel (comm messages: a widget's new value), counted from the input on
    const kernel = this.panel().sessionContext.session.kernel;
    if (window.__kernelSlot) window.__kernelSlot.signal.disconnect(window.__kernelSlot.slot);
    window.__sent = 0;
    const slot = (_, message) => { if (message.direction === 'send' && message.msg.header.msg_type === 'comm_msg') window.__sent += 1; };
    kernel.anyMessage.connect(slot);
    window.__kernelSlot = {signal: kernel.anyMessage, slot};
    // the moment the input reached the page (the event's own time stamp), not when the test asked for it
    window.__input = null;
    window.__sentBeforeInput = null;
    if (window.__onInput) INPUT_EVENTS.forEach(kind => removeEventListener(kind, window.__onInput, true));
    window.__onInput = e => { if (window.__input === null) { window.__input = e.timeStamp; window.__sentBeforeInput = window.__sent; } };
    INPUT_EVENTS.forEach(kind => addEventListener(kind, window.__onInput, true));
  },
  sentSinceInput() { return window.__sentBeforeInput === null ? null : window.__sent - window.__sentBeforeInput; },
  overflowing(i) {
    const output = this.outputs()[i], wide = [];
    const limit = output.getBoundingClientRect().right + 1;
    output.querySelectorAll('.main-svg, .widget-vbox, .widget-hbox, table, .explainer-kit svg').forEach(e => {
      const r = e.getBoundingClientRect();
      if (r.width > 0 && r.right > limit) wide.push(`${e.tagName}.${e.className.baseVal || e.className}: ${Math.round(r.right)} > ${Math.round(limit)}`);
    });
    return wide;
  },
  crowded(i) {
    // in each static plotly figure: titles must not overlap nor leave the figure
    const found = [];
    this.outputs()[i].querySelectorAll('.svg-container').forEach(gd => {
      const frame = gd.getBoundingClientRect();
      const texts = Array.from(gd.querySelectorAll('.gtitle, .gtitle-subtitle, .xtitle, .x2title, .ytitle, .y2title'))
        .filter(e => e.textContent.trim()).map(e => [e.textContent.trim(), e.getBoundingClientRect()]);
      for (const [text, r] of texts) {
        if (r.top < frame.top - 1 || r.left < frame.left - 1 || r.right > frame.right + 1 || r.bottom > frame.bottom + 1)
          found.push(`${text} leaves its figure`);
      }
      const labels = Array.from(gd.querySelectorAll('.textpoint text')).filter(e => e.textContent.trim())
        .map(e => [e.textContent.trim(), e.getBoundingClientRect()]);
      const overlapping = (group, tolerance) => {
        for (let a = 0; a < group.length; a++) for (let b = a + 1; b < group.length; b++) {
          const [p, q] = [group[a][1], group[b][1]];
          if (p.left + tolerance < q.right && q.left + tolerance < p.right && p.top + tolerance < q.bottom && q.top + tolerance < p.bottom)
            found.push(`${group[a][0]} overlaps ${group[b][0]}`);
        }
      };
      overlapping(texts, 0);
      overlapping(labels, 2);  // points' labels: a glyph's box is taller than its ink
    });
    return found;
  },
  truncated(i) {
    const cut = [];
    this.outputs()[i].querySelectorAll('.widget-label, .widget-button, .widget-readout')
      .forEach(e => { if (e.offsetParent && e.scrollWidth > e.clientWidth + 1) cut.push(e.textContent); });
    return cut;
  },
  cells() {
    return Array.from(this.root().querySelectorAll('.jp-CodeCell .jp-InputPrompt')).map(p => p.textContent.trim());
  },
};
"""


@dataclass
class Control:
    index: int
    kind: str  # "slider", "dropdown" or "checkbox"
    label: str
    cell: int
    now: str | None
    maximum: str | None
    in_page: bool = False  # a figure kit control: the page answers it, the kernel is not asked


def step(element, control: Control) -> None:
    """Move a control one step as a learner does: a key press on a slider (back at its end), the next option of a
    dropdown, a click on a check box."""
    if control.kind == "slider":
        at_end = control.now is not None and control.maximum is not None and float(control.now) >= float(control.maximum)
        element.focus()
        element.press("ArrowLeft" if at_end else "ArrowRight")
    elif control.kind == "checkbox":
        element.click()
    else:
        options = element.evaluate("e => Array.from(e.options).map(o => o.value)")
        current = element.evaluate("e => e.selectedIndex")
        element.select_option(index=(current + 1) % len(options))


class NotebookPage:
    """One notebook open in JupyterLab in a browser page, with the file browser open beside it."""

    def __init__(self, context, lab: Lab, name: str):
        self.page = context.new_page()
        self.lab, self.name = lab, name
        self.errors: list[str] = []
        self.sent: int | None = None  # messages to the kernel's widgets during the last move (see move)
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(f"{lab.base}/lab/tree/{name}?token={TOKEN}&reset")  # reset: no tabs restored from before
        self.page.wait_for_selector(".jp-Notebook", timeout=90_000)
        self.page.evaluate(PAGE_HELPERS)
        self.page.evaluate(f"() => {{ window.__explainerNotebook = {json.dumps(name)}; }}")
        wait_for(lambda: self.page.evaluate("() => !!window.__explainer.panel()"), 60, f"{name} to open")
        self.page.evaluate("() => { window.jupyterapp.shell.activateById('filebrowser'); window.__explainer.focus(); }")
        # "Run All" before the kernel's websocket is up is silently dropped: wait for a connected, idle kernel.
        wait_for(lambda: self.kernel_status() == "idle" and any(k["connections"] >= 1 for k in lab.get("/api/kernels")),
                 90, f"{name}'s kernel to connect")

    def kernel_status(self) -> str:
        return self.page.evaluate("() => window.__explainer.panel().sessionContext.session.kernel.status")

    def run_all(self, timeout: float = 300) -> float:
        """Run every cell; return the seconds until the kernel is idle, every code cell has run and its widgets drew."""
        started = time.monotonic()
        self.page.evaluate("() => { window.__explainer.focus(); return window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        wait_for(lambda: self.kernel_status() != "idle" or self.finished(), 30, "the run to start", interval=0.02)
        wait_for(self.finished, timeout, f"every cell of {self.name} to run", interval=0.05)
        seconds = time.monotonic() - started
        wait_for(self.widgets_drawn, 60, f"{self.name}'s widgets to draw", interval=0.05)
        self.page.evaluate(PAGE_HELPERS)
        return seconds

    def finished(self) -> bool:
        prompts = self.page.evaluate("() => window.__explainer.cells()")
        return self.kernel_status() == "idle" and all(p not in ("[*]:", "[ ]:") for p in prompts)

    def widgets_drawn(self) -> bool:
        """Every widget output has its view, and every plotly figure (JupyterLab draws them in its own time) its SVG."""
        return self.page.evaluate("""() => {
            const root = window.__explainer.root();
            const views = window.__explainer.widgetViews();
            const plots = Array.from(root.querySelectorAll('.jp-OutputArea-output .js-plotly-plot'));
            const outputs = Array.from(root.querySelectorAll('[data-mime-type="application/vnd.plotly.v1+json"]'));
            return views.every(v => v.children.length > 0 && !v.textContent.includes('Loading widget'))
                && plots.every(p => p.querySelector('.main-svg')) && outputs.every(o => o.querySelector('.main-svg'));
        }""")

    def outputs_of_kind(self, mime: str) -> list[str]:
        return self.page.evaluate(f"""() => Array.from(window.__explainer.root().querySelectorAll(
            '.jp-OutputArea-output[data-mime-type="{mime}"]')).map(e => e.textContent.slice(0, 500))""")

    def problems(self) -> list[str]:
        """stderr boxes, error outputs and console errors."""
        return ([f"stderr: {t}" for t in self.outputs_of_kind("application/vnd.jupyter.stderr")]
                + [f"error: {t}" for t in self.outputs_of_kind("application/vnd.jupyter.error")]
                + [f"console: {e}" for e in self.errors])

    def figure_problems(self) -> list[str]:
        """A plotly figure inside a widget (explorers are the figure kit's), or a plotly output that drew nothing."""
        return self.page.evaluate("""() => [
            ...window.__explainer.widgetViews().filter(v => v.querySelector('.js-plotly-plot'))
              .map(v => `a plotly figure in a widget: ${v.textContent.slice(0, 80)}`),
            ...Array.from(window.__explainer.root().querySelectorAll('[data-mime-type="application/vnd.plotly.v1+json"]'))
              .filter(o => !o.querySelector('.main-svg')).map(o => `a plotly output not drawn: ${o.textContent.slice(0, 80)}`)]""")

    def layout_problems(self) -> list[str]:
        """Figures or boxes wider than their output area, cut labels, and figure titles that overlap or leave their
        figure, each output scrolled into view first (JupyterLab does not lay out cells that are off screen)."""
        found = []
        for i in range(self.page.evaluate("() => window.__explainer.outputs().length")):
            self.page.evaluate(f"""() => new Promise(done => {{ window.__explainer.outputs()[{i}].scrollIntoView();
                requestAnimationFrame(() => requestAnimationFrame(done)); }})""")  # laid out and painted
            found += [f"output {i} too wide: {w}" for w in self.page.evaluate(f"() => window.__explainer.overflowing({i})")]
            found += [f"output {i} label cut: {t!r}" for t in self.page.evaluate(f"() => window.__explainer.truncated({i})")]
            found += [f"output {i} figure text: {t}" for t in self.page.evaluate(f"() => window.__explainer.crowded({i})")]
        return found

    def controls(self) -> list[Control]:
        count = self.page.evaluate("() => window.__explainer.controls().length")
        found = []
        for i in range(count):
            d = self.page.evaluate(f"() => window.__explainer.describe({i})")
            found.append(Control(i, d["kind"], d["label"], d["cell"], d["now"], d["max"], d["in_page"]))
        return found

    def control_element(self, index: int):
        """Control `index` scrolled into view, as a Playwright element."""
        element = self.page.evaluate_handle(f"() => window.__explainer.controls()[{index}]").as_element()
        element.scroll_into_view_if_needed()
        return element

    def next_frames(self) -> None:
        """Wait until the page has laid out and painted twice: what it was doing is on screen."""
        self.page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")

    def move(self, control: Control, timeout: float = 30, quiet: float = 0.4) -> float:
        """Move a control one step (a key press on a slider, the next option of a dropdown, a click on a check box);
        return the milliseconds from the input reaching the page (its event's time stamp) to the frame that painted the
        last change of the box it lives in. `self.sent` then holds how many messages the page sent the kernel's
        widgets from the input on (0: the page answered the control itself)."""
        before = self.page.evaluate(f"() => window.__explainer.signature({control.index})")
        drawn = self.page.evaluate(f"() => window.__explainer.drawn({control.index})")
        self.page.evaluate(f"() => window.__explainer.watch({control.index})")
        element = self.control_element(control.index)
        self.next_frames()  # a person scrolls, then presses a key: the page draws what the scroll brought into view first
        step(element, control)
        try:
            wait_for(lambda: self.page.evaluate(f"() => window.__explainer.signature({control.index})") != before, timeout,
                     f"the figure driven by {control.kind} {control.label!r} in {self.name} to change")
        except ExplainerError as error:  # say what the page showed, so that a failure tells where it stopped
            now = self.controls()[control.index]
            raise ExplainerError(f"{error} (the control read {control.now!r}, now {now.now!r}; kernel "
                                 f"{self.kernel_status()}; {len(self.errors)} console errors)") from None
        wait_for(lambda: self.page.evaluate(f"() => performance.now() - (window.__last || 0) > {quiet * 1000}"), timeout,
                 "the redraw to finish", interval=0.05)
        took = self.page.evaluate("() => window.__input === null ? null : window.__last - window.__input")
        self.sent = self.page.evaluate("() => window.__explainer.sentSinceInput()")
        if took is None:
            raise ExplainerError(f"no input event reached the page when {control.kind} {control.label!r} in {self.name} moved")
        now = self.page.evaluate(f"() => window.__explainer.drawn({control.index})")
        if now != drawn:
            raise ExplainerError(f"moving {control.kind} {control.label!r} in {self.name} changed what its figures draw: "
                                 f"{drawn} before, {now} after")
        return took

    def close(self) -> None:
        self.page.close()


GALLERY_HELPERS = KIT_DRAWING + r"""
window.__gallery = {
  controls() { return Array.from(document.querySelectorAll('.explainer-kit input, .explainer-kit select')); },
  describe(i) {
    const c = this.controls()[i];
    const kind = c.tagName === 'SELECT' ? 'dropdown' : c.type === 'checkbox' ? 'checkbox' : 'slider';
    const label = c.closest('.kit-control').querySelector('.kit-label').textContent.trim();
    return {kind, label, now: kind === 'slider' ? c.value : null, max: kind === 'slider' ? c.max : null};
  },
  signature(i) { return KIT_DRAWING(this.controls()[i].closest('.explainer-kit')); },
  drawn() {
    return Array.from(document.querySelectorAll('.explainer-kit-figure'))
      .every(f => f.querySelector('.explainer-kit .kit-panel, .explainer-kit svg, .explainer-kit canvas')
        || (f.querySelector('.explainer-kit .kit-caption') || {}).textContent);  // a view that writes its numbers
  },
  needingPython() {  // kernel-bound controls: each disabled, its box saying why
    return Array.from(document.querySelectorAll('.widget-box .control')).map(c => {
      const input = c.matches('button') ? c : c.querySelector('input');
      const box = c.closest('.widget-box');
      return [c.textContent.trim() || (input && input.value) || '', !!(input && input.disabled),
              !!Array.from(box.children).find(e => e.matches('.needs-python'))];
    });
  },
};
"""


class GalleryPage:
    """A page of the offline gallery opened from file:// with every other request refused: its kit figures drawn from
    the numbers embedded in it, their controls answered by the page."""

    def __init__(self, context, path: Path):
        self.page = context.new_page()
        self.name, self.errors, self.requests = path.stem, [], []
        self.page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                        else (self.requests.append(route.request.url), route.abort()))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(path.as_uri())
        self.page.evaluate(GALLERY_HELPERS)
        wait_for(lambda: self.page.evaluate("() => window.__gallery.drawn()"), 30, f"{self.name}'s kit figures to draw")

    def controls(self) -> list[Control]:
        found = []
        for i in range(self.page.evaluate("() => window.__gallery.controls().length")):
            d = self.page.evaluate(f"() => window.__gallery.describe({i})")
            found.append(Control(i, d["kind"], d["label"], -1, d["now"], d["max"], in_page=True))
        return found

    def move(self, control: Control, timeout: float = 10) -> None:
        """Move a kit control one step; fails unless its figure's drawing changes."""
        before = self.page.evaluate(f"() => window.__gallery.signature({control.index})")
        element = self.page.evaluate_handle(f"() => window.__gallery.controls()[{control.index}]").as_element()
        element.scroll_into_view_if_needed()
        step(element, control)
        wait_for(lambda: self.page.evaluate(f"() => window.__gallery.signature({control.index})") != before, timeout,
                 f"the figure of {control.kind} {control.label!r} in the offline {self.name} to change")

    def needing_python(self) -> list[tuple[str, bool, bool]]:
        """(text, disabled, its box says it needs Python) for each control that needs the kernel."""
        return [tuple(found) for found in self.page.evaluate("() => window.__gallery.needingPython()")]

    def close(self) -> None:
        self.page.close()
