"""`explainer build`: every notebook executed and exported to offline HTML, every scene rendered, one index page.

Offline means: plotly.js (for static figures) and the figure kit's script are copied once beside the pages, and no
page loads anything from the web. Every explorer is drawn by the kit (explainer.figures.kit): it keeps its numbers and
its controls, which the page answers from file://; a control that needs the kernel (a prompt box, a button) is shown
disabled, its box saying so once.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from explainer.browser import chromium
from explainer.figures.kit import export as kit_export
from explainer.video import catalogue, render
from explainer.files import atomic_path
from explainer.errors import ExplainerError
from explainer.paths import BUILD_DIR, NOTEBOOKS_DIR

GLOSSARY = NOTEBOOKS_DIR / "GLOSSARY.md"

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
PLOTLY = "application/vnd.plotly.v1+json"
REMOTE_SCRIPT = re.compile(r"<script[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>", re.IGNORECASE)
REMOTE_LINK = re.compile(r"<link[^>]*\bhref=\"https?://[^\"]*\"[^>]*>", re.IGNORECASE)
MATHJAX_URL = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"  # copied beside the pages from jupyter-server-mathjax
# jupyter-server-mathjax ships the STIX-Web fonts only: tell MathJax to use them (its default, TeX, is not there).
# MathJax measures fonts against a face that never loads, `url('about:blank')`, which a file:// page reports as a
# CORS error in the console; a local() face that is not installed never loads either, silently.
MATHJAX_FONTS = ('<script type="text/x-mathjax-config">MathJax.Hub.Config({"HTML-CSS": {availableFonts: [], '
                 'webFont: "STIX-Web", imageFont: null, styles: {"@font-face": {"font-family": "MathJax_Blank", '
                 'src: "local(\'MathJax_Blank_Missing\')"}}}, tex2jax: {inlineMath: [["$", "$"], ["\\\\(", "\\\\)"]], '
                 'processEscapes: true}});</script>')
LOCAL_VIDEO = re.compile(r"(?:src|poster)=[\"']videos/([\w.-]+\.(?:mp4|png))[\"']")


@dataclass
class BuildReport:
    out_dir: Path
    notebooks: dict[str, str] = field(default_factory=dict)  # name -> "ok" or the error
    scenes: dict[str, str] = field(default_factory=dict)

    @property
    def failures(self) -> list[str]:
        return [f"{name}: {status}" for name, status in {**self.notebooks, **self.scenes}.items() if status != "ok"]


def plotly_div(figure: dict, index: list[int]) -> str:
    """A static plotly figure drawn by the plotly.js file shipped beside the page."""
    index[0] += 1
    element = f"figure-{index[0]}"
    payload = json.dumps({"data": figure.get("data", []), "layout": figure.get("layout", {})})
    return (f"<div id=\"{element}\" class=\"static-figure\"></div><script>Plotly.newPlot(\"{element}\", "
            f"{payload}.data, {payload}.layout, {{responsive: true}});</script>")


CONTAINERS = {"VBoxModel": "column", "GridBoxModel": "column", "BoxModel": "column", "HBoxModel": "row"}
PAGE_STYLE = """<style>.widget-box.row{display:flex;gap:1em;flex-wrap:wrap;align-items:center}
.widget-box .control{margin:0.3em 1em 0.3em 0} .needs-python{color:#6b7280;font-style:italic;font-size:90%}</style>"""
NEEDS_PYTHON = '<span class="needs-python">needs Python: open the notebook in JupyterLab to use it</span>'


def static_widget(model_id: str, state: dict, index: list[int]) -> str:
    """HTML for a widget as it stood at the end of the run: kit figures keep their numbers and in-page controls; a
    control that needs the kernel (a prompt box, a button) is shown disabled, its container saying why once."""
    model = state.get(model_id)
    if model is None or hidden(model["state"], state):
        return ""
    name, values = model["model_name"], model["state"]
    if name in CONTAINERS:
        children = [state.get(ref.removeprefix("IPY_MODEL_"), {}) for ref in values.get("children", [])]
        inner = "".join(static_widget(ref.removeprefix("IPY_MODEL_"), state, index) for ref in values.get("children", []))
        shown = [child for child in children if is_control(child) and not hidden(child["state"], state)]
        note = NEEDS_PYTHON if shown else ""
        return f'<div class="widget-box {CONTAINERS[name]}">{inner}{note}</div>'
    if name == "AnyModel" and kit_export.is_kit_state(values):
        return kit_export.static_html(values, model.get("buffers", []))
    if name in ("HTMLModel", "HTMLMathModel"):
        return f"<div>{values.get('value', '')}</div>"
    if name == "OutputModel":
        return "".join(output_html(output, state, index) for output in values.get("outputs", []))
    if is_control(model):
        return disabled_control(name, values)
    return ""  # layout-only models have no view


def is_control(model: dict) -> bool:
    """An ipywidgets control (a box to type in, a button, a slider): what the learner moves to ask the kernel."""
    name = model.get("model_name", "")
    return (model.get("model_module") == "@jupyter-widgets/controls" and name not in CONTAINERS
            and not name.endswith(("HTMLModel", "HTMLMathModel", "LabelModel", "ProgressModel", "ImageModel")))


def hidden(values: dict, state: dict) -> bool:
    """Whether the widget's layout hides it (a progress bar between renders)."""
    layout = state.get(str(values.get("layout", "")).removeprefix("IPY_MODEL_"), {}).get("state", {})
    return layout.get("visibility") == "hidden" or layout.get("display") == "none"


def disabled_control(name: str, values: dict) -> str:
    """A control as it stood, greyed out: its label and its value (or a button's text)."""
    label = html.escape(str(values.get("description", "")))
    if name == "ButtonModel":
        return f'<button class="control" disabled>{label}</button>'
    options = values.get("_options_labels")
    value = options[values["index"]] if options and values.get("index") is not None else values.get("value", "")
    size = max(4, len(str(value)))  # the whole value shows
    return f'<label class="control">{label} <input disabled size="{size}" value="{html.escape(str(value))}"></label>'


def output_html(output: dict, state: dict, index: list[int]) -> str:
    data = output.get("data", {})
    if WIDGET_VIEW in data:
        return static_widget(data[WIDGET_VIEW]["model_id"], state, index)
    if PLOTLY in data:
        return plotly_div(data[PLOTLY], index)
    if "text/html" in data:
        return "".join(data["text/html"]) if isinstance(data["text/html"], list) else data["text/html"]
    if "image/png" in data:
        return f"<img src=\"data:image/png;base64,{data['image/png']}\">"
    if output.get("output_type") == "stream":
        return f"<pre>{html.escape(''.join(output.get('text', '')))}</pre>"
    if "text/plain" in data:
        return f"<pre>{html.escape(''.join(data['text/plain']))}</pre>"
    return ""


def make_static(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Replace widget and plotly outputs by self-contained HTML; drop the widget state (it would pull a CDN script)."""
    state = notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    index = [0]
    for cell in notebook.cells:
        main = "main-figure" in cell.get("metadata", {}).get("tags", [])
        for i, output in enumerate(cell.get("outputs", [])):
            data = output.get("data", {})
            if WIDGET_VIEW in data or PLOTLY in data:
                static = output_html(output, state, index)
                if main:  # the cell tagged main-figure: the README picture is taken from it
                    static = f"<div class=\"main-figure\">{static}</div>"
                cell.outputs[i] = nbformat.v4.new_output("display_data", data={"text/html": static})
    notebook.metadata.pop("widgets", None)
    return notebook


def summary(notebook: nbformat.NotebookNode) -> tuple[str, str]:
    """(title, first paragraph as HTML) from the notebook's first markdown cell."""
    from nbconvert.filters import markdown2html

    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            title, _, body = cell.source.strip().partition("\n")
            paragraph = next((p for p in body.strip().split("\n\n") if p.strip()), "")
            return title.lstrip("# ").strip(), glossary_links(markdown2html(paragraph))
    return "", ""


def export_notebook(path: Path, out_dir: Path, timeout_s: int = 1200) -> tuple[str, str]:
    """Execute one notebook with its default parameters and write NAME.html; returns (title, summary HTML)."""
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    notebook = nbformat.read(path, as_version=4)
    previous = os.environ.get("PLOTLY_RENDERER")
    os.environ["PLOTLY_RENDERER"] = "plotly_mimetype"  # figures as JSON, which make_static draws with local plotly.js
    try:
        with tempfile.TemporaryDirectory(prefix="kernel-") as sockets:  # IPC: local socket files, no network port
            kernel = KernelManager(kernel_name="python3", transport="ipc", ip=str(Path(sockets) / "ipc"))
            # cleanup_kc: a client given a kernel leaves it running (one per notebook, until the build ends)
            NotebookClient(notebook, km=kernel, timeout=timeout_s,
                           resources={"metadata": {"path": str(path.parent)}}).execute(cleanup_kc=True)
    finally:
        if previous is None:
            os.environ.pop("PLOTLY_RENDERER", None)
        else:
            os.environ["PLOTLY_RENDERER"] = previous
    title, text = summary(notebook)
    body, _ = HTMLExporter(template_name="lab", mathjax_url=MATHJAX_URL).from_notebook_node(make_static(notebook))
    body = glossary_links(REMOTE_LINK.sub("", REMOTE_SCRIPT.sub("", body)))
    body = body.replace("</head>", f"{MATHJAX_FONTS}\n<script src=\"plotly.min.js\"></script>\n{kit_export.HEAD}\n{PAGE_STYLE}\n</head>", 1)
    for video in LOCAL_VIDEO.findall(body):  # chapters the page plays, rendered beside the notebook
        source = path.parent / "videos" / video
        if source.is_file():
            with atomic_path(out_dir / "videos" / video) as temporary:
                shutil.copyfile(source, temporary)
    with atomic_path(out_dir / f"{path.stem}.html") as temporary:
        temporary.write_text(body, encoding="utf-8")
    return title, text


def glossary_links(page: str) -> str:
    """Links to notebooks/GLOSSARY.md pointed at the site's glossary.html."""
    return page.replace(f'href="{GLOSSARY.name}', 'href="glossary.html')


def export_glossary(out_dir: Path) -> None:
    """notebooks/GLOSSARY.md as glossary.html, its headings anchored as the notebooks link to them."""
    from nbconvert.filters import markdown2html

    body = markdown2html(GLOSSARY.read_text(encoding="utf-8"))
    page = (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>explainer: glossary</title>\n"
            f"<style>body{{font-family:sans-serif;max-width:800px;margin:2em auto;line-height:1.5}} .anchor-link{{display:none}}</style>\n"
            f"{MATHJAX_FONTS}\n<script src=\"{MATHJAX_URL}\"></script>\n</head><body>\n<p><a href=\"index.html\">← all notebooks</a></p>\n"
            f"{body}\n</body></html>\n")
    with atomic_path(out_dir / "glossary.html") as temporary:
        temporary.write_text(page, encoding="utf-8")


def render_scene(scene: str, out_dir: Path, quality: str, fast: bool = False) -> float:
    """Render a chapter (or reuse its render) to out/videos/CHAPTER.mp4 with a still from its middle as
    out/stills/CHAPTER.png; returns its duration in seconds."""
    result = render.render(scene, quality, render.ChapterOptions(fast=fast))
    with atomic_path(out_dir / "videos" / f"{scene}.mp4") as temporary:
        shutil.copyfile(result.video, temporary)
    render.save_still(result, out_dir / "stills" / f"{scene}.png")
    return float(render.read_marks(result)["duration"])


def screenshot_main_figures(out_dir: Path, names: list[str], width: int = 640) -> dict[str, Path]:
    """PNG of each page's main figure (from the cell tagged main-figure, else the first figure), headless Chromium, offline."""
    from PIL import Image

    shots = {}
    with chromium(offline=True, viewport={"width": 1100, "height": 900}) as context:
        for name in names:
            page = context.new_page()
            page.goto((out_dir / f"{name}.html").as_uri())
            page.wait_for_selector(".static-figure .main-svg, .explainer-kit svg", timeout=30_000)
            figure = page.locator(".main-figure .static-figure, .main-figure .explainer-kit")
            figure = figure.first if figure.count() else page.locator(".static-figure, .explainer-kit").first
            target = out_dir / "figures" / f"{name}.png"
            target.parent.mkdir(exist_ok=True)
            figure.screenshot(path=str(target))
            image = Image.open(target)
            image.convert("RGB").resize((width, round(image.height * width / image.width))).save(target, optimize=True)
            shots[name] = target
            page.close()
    return shots


def index_page(report: BuildReport, summaries: dict[str, tuple[str, str]], durations: dict[str, float]) -> str:
    items = []
    for name, status in report.notebooks.items():
        title, text = summaries.get(name, (name, ""))
        if status == "ok":
            items.append(f"<li><a href=\"{name}.html\">{html.escape(title or name)}</a>{text}</li>")
        else:
            items.append(f"<li>{html.escape(name)}: <b>failed</b> ({html.escape(status[:200])})</li>")
    videos = []
    for name, status in report.scenes.items():
        title = html.escape(catalogue.entry(name).label)
        if status == "ok":
            minutes, seconds = divmod(round(durations.get(name, 0)), 60)
            videos.append(f"<figure><video controls preload=\"none\" width=\"420\" poster=\"stills/{name}.png\" "
                          f"src=\"videos/{name}.mp4\"></video><figcaption>{title} ({minutes}:{seconds:02d})</figcaption></figure>")
        else:
            videos.append(f"<figure><figcaption>{title}: <b>failed</b> ({html.escape(status[:200])})</figcaption></figure>")
    total = round(sum(durations.values()) / 60)
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>explainer: how a transformer works, with real numbers</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.5}} figure{{display:inline-block;margin:0.5em;vertical-align:top}}
li p{{margin:0.2em 0 0.8em}}</style>
{MATHJAX_FONTS}
<script src="{MATHJAX_URL}"></script>
</head><body>
<h1>explainer</h1>
<p>How a transformer language model works, computed from a small GPT trained on Shakespeare and from real word
vectors. Pages work offline: the controls of figures that need no Python still move them; the others show the
notebook's last state (open the notebooks in JupyterLab to drag them).</p>
<h2>Notebooks</h2><p>Terms are explained in the <a href="glossary.html">glossary</a>.</p><ul>{''.join(items)}</ul>
{f"<h2>Videos</h2><p>{len(videos)} chapters, about {total} minutes.</p><div>{''.join(videos)}</div>" if videos else ""}
</body></html>
"""


def copy_mathjax(out_dir: Path) -> None:
    """MathJax's files from the jupyter-server-mathjax package, once, beside the pages."""
    import jupyter_server_mathjax

    source = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (out_dir / "mathjax" / "MathJax.js").is_file():
        shutil.copytree(source, out_dir / "mathjax", dirs_exist_ok=True)


def build(out_dir: Path = BUILD_DIR / "site", notebooks: list[str] | None = None, scene_names: list[str] | None = None,
          quality: str = "low", say=print, figures_to: Path | None = None, fast: bool = False) -> BuildReport:
    """Build the site; a failing notebook or scene is named in the report and on the index, the rest still builds.
    With `figures_to`, each page's main figure is also saved there as a small PNG (for the README)."""
    out_dir = Path(out_dir)
    all_notebooks = sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb"))
    notebooks = all_notebooks if notebooks is None else notebooks
    unknown = sorted(set(notebooks) - set(all_notebooks))
    if unknown:
        raise ExplainerError(f"unknown notebook(s) {unknown}; available: {', '.join(all_notebooks)}")
    scene_names = list(catalogue.NAMES) if scene_names is None else scene_names
    for name in scene_names:
        catalogue.entry(name)  # unknown names fail now, with the list of valid ones
    out_dir.mkdir(parents=True, exist_ok=True)
    import plotly

    shutil.copyfile(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", out_dir / "plotly.min.js")
    copy_mathjax(out_dir)
    kit_export.write_assets(out_dir)
    export_glossary(out_dir)
    report, summaries, durations = BuildReport(out_dir), {}, {}
    # Chapters first: the notebooks' players then find their renders and show them.
    jobs = [("scene", s) for s in scene_names] + [("notebook", n) for n in notebooks]
    for number, (kind, name) in enumerate(jobs, 1):
        started = time.time()
        try:
            if kind == "notebook":
                summaries[name] = export_notebook(NOTEBOOKS_DIR / f"{name}.ipynb", out_dir)
            else:
                durations[name] = render_scene(name, out_dir, quality, fast)
            status = "ok"
        except Exception as error:  # keep building the rest; the report and the index name the failure
            status = f"{type(error).__name__}: {str(error).strip().splitlines()[-1] if str(error).strip() else ''}"
        (report.notebooks if kind == "notebook" else report.scenes)[name] = status
        say(f"[{number}/{len(jobs)}] {kind} {name}: {status} ({time.time() - started:.0f} s)")
    built = [name for name, status in report.notebooks.items() if status == "ok"]
    if figures_to and built:
        figures_to.mkdir(parents=True, exist_ok=True)
        for name, shot in screenshot_main_figures(out_dir, built).items():
            if shot.stat().st_size <= 120_000:  # only small pictures are worth committing
                shutil.copyfile(shot, figures_to / shot.name)
                say(f"figure for the README: {figures_to / shot.name} ({shot.stat().st_size // 1024} KB)")
    with atomic_path(out_dir / "index.html") as temporary:
        temporary.write_text(index_page(report, summaries, durations), encoding="utf-8")
    say(f"site: {out_dir / 'index.html'}" + (f"; {len(report.failures)} failed" if report.failures else ""))
    return report
