"""Watching a model learn (notebook 03): how soon the moments come, and what the page costs the trainer.

    python benchmarks/live_training.py              # the default size, 130 s of training in the page
    python benchmarks/live_training.py --seconds 60 --cli-steps 600

1. `explainer train` on the same size, as a learner runs it (torch's default threads; step time only, evaluations and
   checkpoint writes not counted): the baseline speed, measured before and after the page and the faster one kept
   (other work on a shared machine only slows it).
2. The same size trained in-process by the live trainer on 1 and on 2 torch threads, with no page: what each costs.
3. Notebook 03 in JupyterLab in Chromium (1280-px window): Run All, press Train, and watch the page: when each moment
   appears (seconds after the press, and its step), how often the page's counters change, and the speed the page shows
   (tokens per second of training time, measurements and page updates included), against the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from explainer import learning
from explainer.gpt.train import PRESETS
from explainer.lab import Lab, NotebookPage, chromium

NOTEBOOK = "03_how_it_learns.ipynb"
KINDS = {"fell below": "unigram", "reads the character just before": "previous_token", "words of the plays": "words"}
TARGET_SECONDS = {"unigram": 60, "previous_token": 60, "words": 120}

PAGE = """() => {
    const train = Array.from(window.__explainer.root().querySelectorAll('.widget-button')).find(b => b.textContent.trim() === 'Train');
    const box = train.closest('.jp-OutputArea-output');
    const texts = Array.from(box.querySelectorAll('.widget-html-content'));
    return {counters: (texts.find(e => e.textContent.includes('of training')) || {}).textContent || '',
            moments: Array.from(box.querySelectorAll('li')).filter(li => li.textContent.includes('★')).map(li => li.textContent),
            updates: window.__liveUpdates || [], redraws: window.__liveRedraws || 0};
}"""
WATCH = """() => {
    const train = Array.from(window.__explainer.root().querySelectorAll('.widget-button')).find(b => b.textContent.trim() === 'Train');
    const box = train.closest('.jp-OutputArea-output');
    const counters = Array.from(box.querySelectorAll('.widget-html-content')).find(e => e.textContent.includes('of training'));
    window.__liveUpdates = [];
    new MutationObserver(() => window.__liveUpdates.push(performance.now()))
        .observe(counters, {subtree: true, childList: true, characterData: true});
    window.__liveRedraws = 0;
    box.querySelector('.js-plotly-plot').on('plotly_animated', () => { window.__liveRedraws += 1; });
}"""


def cli_speed(steps: int, preset: str, limit: float) -> float:
    """Tokens per second that `explainer train` reports for `steps` steps of `preset`; 0 if it takes over `limit`
    seconds (two threads that wait for a core another program holds can make it crawl)."""
    with tempfile.TemporaryDirectory() as out:
        try:
            run = subprocess.run([sys.executable, "-m", "explainer.cli", "train", "--preset", preset, "--out", out,
                                  "--quiet", "--set", f"max_iters={steps}", "--set", f"eval_interval={steps}",
                                  "--set", "snapshots=0"], capture_output=True, text=True, check=True, timeout=limit)
        except subprocess.TimeoutExpired:
            return 0.0
    return float(re.search(r"([\d,]+) tokens/s", run.stdout).group(1).replace(",", ""))


def in_process_speed(preset: str, threads: int, seconds: float) -> tuple[float, float]:
    """(tokens per second of training time, share of it spent measuring) for the live trainer with no page."""
    with tempfile.TemporaryDirectory() as out:
        live = learning.LiveTraining(PRESETS[preset], Path(out), threads=threads)
        live.start()
        time.sleep(seconds)
        live.stop()
        progress = live.progress()
        stepping = live.trainer.step_seconds * (live.trainer.step / max(1, live.trainer.timed_steps))
    return progress.tokens_per_second, 1 - stepping / progress.elapsed


def in_the_page(seconds: float) -> dict:
    """Notebook 03 in JupyterLab: press Train and watch for `seconds`."""
    with tempfile.TemporaryDirectory() as work:
        lab = Lab(Path(work))
        try:
            with chromium() as context:
                notebook = NotebookPage(context, lab, NOTEBOOK)
                notebook.run_all()
                page = notebook.page
                page.evaluate(WATCH)
                page.locator(".widget-button", has_text="Train").click()
                pressed, seen = time.monotonic(), {}
                while time.monotonic() - pressed < seconds:
                    state = page.evaluate(PAGE)
                    for text in state["moments"]:
                        kind = next(k for phrase, k in KINDS.items() if phrase in text)
                        if kind not in seen:
                            step = int(re.search(r"step ([\d,]+)", text).group(1).replace(",", ""))
                            seen[kind] = {"step": step, "seconds": round(time.monotonic() - pressed, 1), "text": text.strip("★ ")}
                            print(f"  {seen[kind]['seconds']:5.1f} s: {seen[kind]['text']}", flush=True)
                    time.sleep(0.5)
                state = page.evaluate(PAGE)
                page.locator(".widget-button", has_text="Pause").click()
                problems = notebook.problems()
                notebook.close()
        finally:
            lab.shutdown_kernels()
            lab.stop()
    counters = state["counters"]
    speed = float(re.search(r"([\d,]+) tokens/s", counters).group(1).replace(",", ""))
    step = int(re.search(r"step ([\d,]+)", counters).group(1).replace(",", ""))
    updates = [t / 1000 for t in state["updates"]]
    gaps = [b - a for a, b in zip(updates, updates[1:])]
    span = updates[-1] - updates[0] if len(updates) > 1 else float("nan")
    on = re.search(r"on (\d+) thread", counters)
    return {"moments": seen, "tokens_per_s": speed, "steps": step, "threads": int(on.group(1)) if on else None,
            "page_updates_per_s": (len(updates) - 1) / span,
            "longest_gap_s": max(gaps, default=float("nan")), "curve_redraws": state["redraws"], "problems": problems}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default=learning.LIVE_PRESETS[0])
    parser.add_argument("--seconds", type=float, default=130, help="training time watched in the page")
    parser.add_argument("--cli-steps", type=int, default=800)
    parser.add_argument("--cli-limit", type=float, default=240, help="seconds before a run of explainer train is given up")
    parser.add_argument("--in-process-seconds", type=float, default=25)
    args = parser.parse_args()
    config = PRESETS[args.preset]
    print(f"{args.preset}: {learning.size_summary(config)}, batches of {config.batch_size} × {config.block_size} characters, "
          f"evaluated and watched every {config.eval_interval} steps; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    cli_before = cli_speed(args.cli_steps, args.preset, args.cli_limit)
    print(f"explainer train: {cli_before:,.0f} tokens/s ({args.cli_steps} steps)", flush=True)
    threads = {}
    for count in sorted({1, learning.TRAINING_THREADS}):
        speed, measuring = in_process_speed(args.preset, count, args.in_process_seconds)
        threads[count] = {"tokens_per_s": round(speed), "measuring_share": round(measuring, 3)}
        print(f"live trainer, no page, {'1 thread' if count == 1 else f'trying 1 and {count} threads'}: {speed:,.0f} "
              f"tokens/s ({speed / max(1, cli_before):.0%} of explainer train; {measuring:.0%} of the time measuring)",
              flush=True)
    print(f"notebook 03 in Chromium: Train pressed, watched for {args.seconds:.0f} s", flush=True)
    page = in_the_page(args.seconds)
    cli_after = cli_speed(args.cli_steps, args.preset, args.cli_limit)
    cli = max(cli_before, cli_after)
    if cli == 0:
        raise SystemExit("explainer train never finished in time: the machine is too busy to measure")
    print(f"explainer train again: {cli_after:,.0f} tokens/s; the baseline is the faster, {cli:,.0f}", flush=True)
    ratio = page["tokens_per_s"] / cli
    print(f"the page showed {page['tokens_per_s']:,.0f} tokens/s at step {page['steps']:,} (then on {page['threads']} "
          f"threads): {ratio:.0%} of explainer "
          f"train's; its counters changed {page['page_updates_per_s']:.1f} times a second (longest gap "
          f"{page['longest_gap_s']:.2f} s), the loss curve moved {page['curve_redraws']} times", flush=True)
    met = {f"{kind}_within_{limit}_s": kind in page["moments"] and page["moments"][kind]["seconds"] <= limit
           for kind, limit in TARGET_SECONDS.items()}
    met.update(speed_at_least_80_percent=ratio >= 0.8, page_updates_at_least_2_per_s=page["page_updates_per_s"] >= 2)
    for name, ok in met.items():
        print(f"  {'met' if ok else 'NOT met'}: {name}")
    print(json.dumps({"preset": args.preset, "cores": os.cpu_count(), "load_average": round(os.getloadavg()[0], 2),
                      "cli_tokens_per_s": round(cli), "cli_runs": [round(cli_before), round(cli_after)],
                      "training_threads": learning.TRAINING_THREADS, "in_process": threads,
                      "page_tokens_per_s": round(page["tokens_per_s"]),
                      "page_over_cli": round(ratio, 3), "page_updates_per_s": round(page["page_updates_per_s"], 2),
                      "longest_gap_s": round(page["longest_gap_s"], 2), "steps": page["steps"], "page_threads": page["threads"],
                      "moments": {k: {"step": v["step"], "seconds": v["seconds"]} for k, v in page["moments"].items()},
                      "targets_met": met, "page_problems": page["problems"]}))


if __name__ == "__main__":
    main()
