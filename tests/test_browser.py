"""Every notebook in a real JupyterLab under Chromium, at the 1280-px window the notebooks are made for, with the file
browser open: Run All, no stderr, no error output, no console error, every explorer drawn by the figure kit and every
static plotly figure by JupyterLab's plotly renderer, nothing wider than its output area, no cut label,
and every slider, dropdown and figure-kit check box moved once, each changing the figure it drives (a kit control
with no message to the kernel)."""

import json

import numpy as np
import pytest

from lab import Lab, NotebookPage, chromium, wait_for
from explainer.paths import NOTEBOOKS_DIR

pytestmark = [pytest.mark.browser, pytest.mark.slow]
NOTEBOOKS = sorted(p.name for p in NOTEBOOKS_DIR.glob("*.ipynb"))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    server = Lab(tmp_path_factory.mktemp("lab"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    with chromium() as context:
        yield context


def animations_after_focusing_a_control(notebook: NotebookPage) -> list[str]:
    """The animations running once the first control has the focus. Its cell becomes the active one, and JupyterLab
    then restarts the cursor blink of every editor on screen: frames the page would draw for 1.2 s while the learner
    moves the control. The set-up's steady cursor leaves nothing running."""
    if not notebook.controls():
        return []
    notebook.control_element(0).focus()
    notebook.next_frames()
    assert notebook.page.evaluate("() => window.__explainer.panel().content.activeCell.node.contains(document.activeElement)")
    return notebook.page.evaluate("() => document.getAnimations().filter(a => a.playState === 'running').map(a => a.animationName)")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_and_every_control_redraws_its_figure(lab, browser, name, tmp_path):
    notebook = NotebookPage(browser, lab, name)
    try:
        notebook.run_all()
        assert not notebook.problems(), notebook.problems()
        assert not notebook.figure_problems(), notebook.figure_problems()
        assert not notebook.layout_problems(), notebook.layout_problems()
        assert not animations_after_focusing_a_control(notebook)
        moved = []
        for control in notebook.controls():
            notebook.move(control)  # fails with the control's name if its figure does not change
            assert not (control.in_page and notebook.sent), f"{control.label} asked the kernel: the page answers it"
            moved.append(control.label)
        assert not notebook.problems(), f"after moving {moved}: {notebook.problems()}"
        notebook.page.screenshot(path=str(tmp_path / f"{name}.png"))
    finally:
        notebook.close()
        lab.shutdown_kernels()


def test_the_news_prompt_is_off(lab, browser):
    """The set-up turns off JupyterLab's news and update check (both go online)."""
    notebook = NotebookPage(browser, lab, NOTEBOOKS[0])
    try:
        assert notebook.page.get_by_text("official Jupyter news").count() == 0
    finally:
        notebook.close()
        lab.shutdown_kernels()


def test_a_bad_value_is_shown_in_the_widget_not_only_in_the_log(lab, browser):
    """Notebook 01's seed box refuses a seed torch cannot take, with a message inside the widget; the sample button
    draws at the temperature the page's slider chose (T = 0: the top token every time)."""
    notebook = NotebookPage(browser, lab, NOTEBOOKS[0])
    try:
        notebook.run_all()
        page = notebook.page
        seed = page.locator(".jp-OutputArea-output .widget-text input[type=number]").first
        seed.scroll_into_view_if_needed()
        seed.fill("99999999999999999999")
        seed.press("Enter")
        page.get_by_role("button", name="sample 20 tokens").click()
        status = page.locator(".jp-OutputArea-output .explainer-status", has_text="seed")
        status.wait_for(timeout=30_000)
        assert "whole number from 0 to" in status.first.text_content()
        # the temperature is the page's: leaving its slider for the button tells the kernel before the click arrives
        seed.fill("0")
        seed.press("Enter")
        slider = page.locator(".jp-OutputArea-output .explainer-kit input[type=range]").nth(1)
        slider.focus()
        slider.press("Home")
        page.get_by_role("button", name="sample 20 tokens").click()
        page.locator(".jp-OutputArea-output", has_text="(T = 0.00, seed 0)").first.wait_for(timeout=30_000)
        assert "×20 (T = 0.00, seed 0)" in page.locator(".jp-OutputArea-output", has_text="counts:").first.text_content()
        assert not notebook.problems(), notebook.problems()
    finally:
        notebook.close()
        lab.shutdown_kernels()


def test_the_pages_choices_reach_python_once_the_learner_leaves_the_controls(lab, browser):
    """Notebook 12's attention explorer (the figure kit): its sliders redraw the dots in the page, and from the key press
    to the painted frame no message goes to the kernel, which stays idle. Leaving the figure's controls sends what
    they chose in one message, which Python then reads (the chapter player follows it). The generation explorer's step
    slider, answered in the page too, then draws the distribution Python holds for the step the page chose."""
    notebook = NotebookPage(browser, lab, "12_attention_in_a_trained_model.ipynb")
    page = notebook.page
    try:
        notebook.run_all()
        page.evaluate("""() => { window.__toKernel = [];
            window.__explainer.panel().sessionContext.session.kernel.anyMessage.connect((_, m) => {
                if (m.direction === 'send') window.__toKernel.push([m.msg.header.msg_type, m.msg.content]); }); }""")
        find = lambda label: next(c for c in notebook.controls() if c.in_page and c.label == label)
        for label in ("layer", "layer", "head"):
            notebook.move(find(label))
            assert notebook.sent == 0 and notebook.kernel_status() == "idle"
        assert page.evaluate("() => window.__toKernel") == []
        page.evaluate("() => document.activeElement.blur()")
        wait_for(lambda: page.evaluate("() => window.__toKernel.length"), 10, "the choice to reach the kernel")
        [[kind, content]] = page.evaluate("() => window.__toKernel")
        assert kind == "comm_msg" and content["data"]["state"] == {"layer": 2, "head": 1}
        assert printed(page, "print(explorer.layer, explorer.head)").strip() == "2 1"

        page.evaluate("() => { window.__toKernel = []; }")
        step = find("new token #")
        notebook.move(step)
        assert notebook.sent == 0
        page.evaluate("() => document.activeElement.blur()")
        wait_for(lambda: page.evaluate("() => window.__toKernel.length"), 10, "the step to reach the kernel")
        probabilities, drawn = json.loads(printed(page, """import json, torch
shown = generation.steps[generation.step - 1]
top = torch.topk(shown.probs, generation.CANDIDATES).indices.tolist()
print(json.dumps([shown.probs[top].tolist(), top.index(shown.token_id) if shown.token_id in top else -1]))"""))
        heights, kinds = zip(*page.evaluate("""i => Array.from(window.__explainer.box(i).querySelector('svg.kit-bars')
            .querySelectorAll('.kit-bar'), b => [+b.getAttribute('height'), b.getAttribute('class')])""", step.index))
        np.testing.assert_allclose(np.array(heights) / heights[0], np.array(probabilities) / probabilities[0], atol=0.01)
        assert [i for i, kind in enumerate(kinds) if "kit-highlight" in kind] == ([drawn] if drawn >= 0 else [])
    finally:
        notebook.close()
        lab.shutdown_kernels()


def printed(page, code: str) -> str:
    """What `code` prints when the notebook's kernel runs it."""
    return page.evaluate("""async code => {
        const future = window.__explainer.panel().sessionContext.session.kernel.requestExecute({code});
        const out = [];
        future.onIOPub = m => { if (m.header.msg_type === 'stream') out.push(m.content.text); };
        await future.done;
        return out.join(''); }""", code)


LIVE_STATE = """() => {
    const train = Array.from(window.__explainer.root().querySelectorAll('button')).find(b => b.textContent.trim() === 'Train');
    const box = train.closest('.jp-OutputArea-output');
    const [batches, validation] = box.querySelectorAll('.kit-lines path.kit-series');
    const points = path => (path.getAttribute('d') || '').split(/[ML]/).length - 1;
    const grid = box.querySelector('canvas.kit-dots');
    const pixels = grid.getContext('2d').getImageData(0, 0, grid.width, grid.height).data;
    let sizes = 0;
    for (let i = 0; i < pixels.length; i += 4) sizes = (sizes * 31 + pixels[i + 3]) | 0;
    return {points: points(batches), evaluations: points(validation), sizes,
            counters: Array.from(box.querySelectorAll('.kit-counters, .kit-sample')).map(e => e.textContent).join(' | ')};
}"""


def test_notebook_03_trains_live_while_the_page_watches_and_pauses(lab, browser):
    """Train in notebook 03: the loss curve grows, the grid changes at the first measurement, Pause stops the curve and
    says where the checkpoint went, the look-back slider shows a kept step, and Reset starts again."""
    notebook = NotebookPage(browser, lab, "03_how_it_learns.ipynb")
    page = notebook.page
    try:
        notebook.run_all()
        before = page.evaluate(LIVE_STATE)
        assert before["points"] == 0 and "ready" in before["counters"]
        page.locator(".widget-button", has_text="Train").click()
        wait_for(lambda: page.evaluate(LIVE_STATE)["points"] >= 10, 120, "the loss curve to grow")
        wait_for(lambda: page.evaluate(LIVE_STATE)["sizes"] != before["sizes"], 240, "the grid to change at a measurement")
        page.locator(".widget-button", has_text="Pause").click()
        wait_for(lambda: "paused" in page.evaluate(LIVE_STATE)["counters"], 30, "the pause")
        paused = page.evaluate(LIVE_STATE)
        assert "saved in" in paused["counters"] and paused["evaluations"] >= 2
        notebook.next_frames()
        assert page.evaluate(LIVE_STATE)["points"] == paused["points"], "paused: the curve stops"
        look_back = next(c for c in notebook.controls() if c.label == "look back at step")
        notebook.move(look_back)  # from "now" back to a kept step: its sample and pattern
        assert "(kept;" in page.evaluate(LIVE_STATE)["counters"]
        page.locator(".widget-button", has_text="Reset").click()
        # the curve and the counters are separate outputs, redrawn one after the other: wait for both
        wait_for(lambda: (lambda state: state["points"] == 0 and "step 0" in state["counters"])(page.evaluate(LIVE_STATE)),
                 60, "the reset to empty the curve and the counters")
        assert not notebook.problems(), notebook.problems()
    finally:
        notebook.close()
        lab.shutdown_kernels()
