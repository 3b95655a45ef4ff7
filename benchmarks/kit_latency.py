"""The figure kit's in-page controls at the size the kit is made for: 12's and 08's views of every head on a 64-token
line of the shipped model (5 × 5 × 64 × 64 numbers each) and 01's temperature over GPT-2 small's 50,257 logits, in a
static page as the gallery writes it, in Chromium at the notebooks' 1280-px window. For each control, the time from its
input event to the painted frame that shows the new drawing, over --moves moves (one step each, back and forth).

    python benchmarks/kit_latency.py [--moves 10]

Target: p95 ≤ 50 ms for every control (browser_latency.py times the notebooks' own prompts in JupyterLab).
"""

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from explainer import attention, settings
from explainer.figures.kit import AttentionView, StepsView, TemperatureBars, export
from explainer.gpt import checkpoint
from explainer.browser import chromium

# Move control `i` of the page one step and resolve with the milliseconds from the input event to the frame painted
# after it (a message posted from that frame's animation callback is handled once the frame is rendered).
MOVE = """i => new Promise(done => {
    const control = document.querySelectorAll('.explainer-kit input, .explainer-kit select')[i];
    const painted = new MessageChannel();
    let start;
    painted.port1.onmessage = () => done(performance.now() - start);
    control.addEventListener(control.type === 'checkbox' ? 'change' : 'input', event => {
        start = event.timeStamp;
        requestAnimationFrame(() => painted.port2.postMessage(null));
    }, {once: true});
    if (control.type === 'checkbox') return control.click();
    if (control.tagName === 'SELECT') control.selectedIndex = (control.selectedIndex + 1) % control.options.length;
    else {
        const step = Number(control.step), next = Number(control.value) + step;
        control.value = String(next > Number(control.max) ? Number(control.value) - step : next);
    }
    control.dispatchEvent(new Event('input', {bubbles: true}));
})"""
NAMES = """() => Array.from(document.querySelectorAll('.explainer-kit input, .explainer-kit select'),
    c => [c.closest('body > div').id, c.closest('.kit-control').querySelector('.kit-label').textContent])"""


GPT2_VOCABULARY = 50_257


def vocabulary_softmax(show: int = 12) -> TemperatureBars:
    """01's temperature bars over GPT-2 small's whole vocabulary (the largest the notebooks show): logits drawn at
    random, the page's softmax redone over all of them at each move."""
    logits = np.random.default_rng(0).normal(0, 3, GPT2_VOCABULARY)
    shown = np.argsort(-logits)[:show].tolist()
    return TemperatureBars(logits, [f"token {i}" for i in shown], shown, others=f"(other {GPT2_VOCABULARY - show:,})",
                           caption="top {top} ({top_probability}), entropy {entropy} bits")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--moves", type=int, default=10)
    moves = parser.parse_args().moves
    lm = checkpoint.load()
    line = lm.tokenizer.decode(lm.tokenizer.encode(settings.ROMEO_TEXT * 6)[: lm.block_size])
    found = attention.prompt_attention(lm, line)
    views = {"attention": AttentionView(found.patterns, found.tokens, scores=found.scores),
             "steps": StepsView(attention.prompt_steps(lm, line))}
    views["softmax"] = vocabulary_softmax()
    rows = []
    with tempfile.TemporaryDirectory() as work, chromium(offline=True) as context:
        export.write_assets(Path(work))
        body = "".join(f'<div id="{name}">{export.widget_html(view)}</div>' for name, view in views.items())
        page_file = Path(work) / "page.html"
        page_file.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8">{export.HEAD}</head><body>{body}</body></html>')
        page = context.new_page()
        page.goto(page_file.as_uri())
        page.wait_for_selector("#steps canvas")
        for i, (view, label) in enumerate(page.evaluate(NAMES)):
            times = [page.evaluate(MOVE, i) for _ in range(moves)]
            p50, p95 = np.percentile(times, [50, 95])
            rows.append({"view": view, "control": label, "p50_ms": round(float(p50), 1), "p95_ms": round(float(p95), 1)})
            print(f"{view:9s} {label[:36]:36s} p50 {p50:5.1f} ms, p95 {p95:5.1f} ms")
    print(f"{len(found.tokens)} tokens; controls over 50 ms at p95: {sum(r['p95_ms'] > 50 for r in rows)} of {len(rows)}")
    print(json.dumps({"tokens": len(found.tokens), "worst_p95_ms": max(r["p95_ms"] for r in rows),
                      "over_50ms": sum(r["p95_ms"] > 50 for r in rows), "rows": rows}))


if __name__ == "__main__":
    main()
