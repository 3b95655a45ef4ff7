"""Watching a model learn (notebook 03): how soon the moments come, and what the page costs the trainer.

    python benchmarks/live_training.py                   # the default size: 130 s of training in the page
    python benchmarks/live_training.py --rounds 3 --window 20

Notebook 03 runs in JupyterLab in Chromium (1280-px window). Then, in turns, `--rounds` times:
1. `explainer train` on the same size, as a learner runs it (torch's default threads), for `--cli-steps` steps: the
   speed it reports (steps only: evaluations and checkpoint writes not counted);
2. the page's Train, `--window` seconds of training while the page is watched, then Pause.
Taking turns gives both the same machine: on a shared one, other programs' work comes and goes by the minute, and two
threads that wait for a core another program holds can slow a run several times over. The page's figures: when each
moment appeared (seconds of training, as its counters show them, and its step), how often its counters changed while
it trained, and its speed (tokens per second of training time, measurements and page updates included), against the
median of `explainer train`'s runs. Last, for context, the live trainer in this process with no page, on one thread
and trying one and all CPUs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from explainer import learning
from explainer.gpt.train import PRESETS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the suite's JupyterLab driver
from lab import Lab, NotebookPage, chromium, wait_for  # noqa: E402

NOTEBOOK = "03_how_it_learns.ipynb"
KINDS = {"fell below": "unigram", "reads the character just before": "previous_token",
         "words of the training text": "words"}
TARGET_SECONDS = {"unigram": 60, "previous_token": 60, "words": 120}

BOX = """const train = Array.from(window.__explainer.root().querySelectorAll('.widget-button'))
        .find(b => b.textContent.trim() === 'Train');
    const box = train.closest('.jp-OutputArea-output');
    const counters = box.querySelector('.explainer-kit .kit-counters');"""
PAGE = f"""() => {{
    {BOX}
    return {{counters: counters.textContent, updates: window.__liveUpdates,
            moments: Array.from(box.querySelectorAll('li')).filter(li => li.textContent.includes('★')).map(li => li.textContent)}};
}}"""
WATCH = f"""() => {{
    {BOX}
    window.__liveUpdates = [];
    new MutationObserver(() => window.__liveUpdates.push(performance.now() / 1000))
        .observe(counters, {{subtree: true, childList: true, characterData: true}});
}}"""


def number(pattern: str, text: str) -> float:
    return float(re.search(pattern, text).group(1).replace(",", ""))


def training_seconds(counters: str) -> int:
    minutes, seconds = re.search(r"(\d+):(\d\d) of training", counters).groups()
    return 60 * int(minutes) + int(seconds)


def cli_speed(steps: int, preset: str, limit: float) -> float | None:
    """Tokens per second that `explainer train` reports for `steps` steps of `preset`; None if it takes over `limit`
    seconds."""
    with tempfile.TemporaryDirectory() as out:
        try:
            run = subprocess.run([sys.executable, "-m", "explainer.cli", "train", "--preset", preset, "--out", out,
                                  "--quiet", "--set", f"max_iters={steps}", "--set", f"eval_interval={steps}",
                                  "--set", "snapshots=0"], capture_output=True, text=True, timeout=limit)
        except subprocess.TimeoutExpired:
            return None
    if run.returncode:
        raise SystemExit(f"explainer train failed: {run.stderr.strip()}")
    return number(r"([\d,]+) tokens/s", run.stdout)


def in_turns(args) -> dict:
    """The page and `explainer train` in turns (see the module's docstring)."""
    seen, cli, windows = {}, [], []
    with tempfile.TemporaryDirectory() as work:
        lab = Lab(Path(work))
        try:
            with chromium() as context:
                notebook = NotebookPage(context, lab, NOTEBOOK)
                notebook.run_all()
                page = notebook.page
                page.evaluate(WATCH)
                for turn in range(args.rounds):
                    cli.append(cli_speed(args.cli_steps, args.preset, args.cli_limit))
                    print(f"turn {turn + 1}: explainer train {cli[-1] or 0:,.0f} tokens/s", flush=True)
                    page.locator(".widget-button", has_text="Train").click()
                    pressed = time.monotonic()
                    while time.monotonic() - pressed < args.window:
                        state = page.evaluate(PAGE)
                        for text in state["moments"]:
                            kind = next(k for phrase, k in KINDS.items() if phrase in text)
                            if kind not in seen:
                                seen[kind] = {"step": int(number(r"step ([\d,]+)", text)),
                                              "seconds": training_seconds(state["counters"])}
                                print(f"  {seen[kind]['seconds']:4d} s of training: {text.strip('★ ')}", flush=True)
                        time.sleep(0.25)
                    windows.append((pressed, time.monotonic()))
                    page.locator(".widget-button", has_text="Pause").click()
                    wait_for(lambda: "paused" in page.evaluate(PAGE)["counters"], 60, "the pause")
                    counters = page.evaluate(PAGE)["counters"]
                    print(f"  the page, {args.window:.0f} s: {counters.split('saved in')[0].strip()}", flush=True)
                state = page.evaluate(PAGE)
                problems = notebook.problems()
                notebook.close()
        finally:
            lab.shutdown_kernels()
            lab.stop()
    # the page's clock and ours differ by an offset: count the updates within each window by their spacing instead
    updates = state["updates"]
    gaps = [b - a for a, b in zip(updates, updates[1:]) if b - a < args.window / 2]  # not the pauses between windows
    return {"moments": seen, "cli": cli, "counters": state["counters"], "problems": problems,
            "page_updates_per_s": len(gaps) / sum(gaps) if gaps else float("nan"),
            "longest_gap_s": max(gaps, default=float("nan"))}


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default=learning.LIVE_PRESETS[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--window", type=float, default=26, help="seconds of training in the page per turn")
    parser.add_argument("--cli-steps", type=int, default=300)
    parser.add_argument("--cli-limit", type=float, default=120, help="seconds before explainer train is given up")
    parser.add_argument("--in-process-seconds", type=float, default=20)
    args = parser.parse_args()
    config = PRESETS[args.preset]
    print(f"{args.preset}: {learning.size_summary(config)}, batches of {config.batch_size} × {config.block_size} "
          f"characters, evaluated and watched every {config.eval_interval} steps; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    turns = in_turns(args)
    finished = [speed for speed in turns["cli"] if speed]
    if not finished:
        raise SystemExit("explainer train never finished in time: the machine is too busy to measure")
    cli = statistics.median(finished)
    speed = number(r"([\d,]+) tokens/s", turns["counters"])
    ratio = speed / cli
    print(f"the page: {speed:,.0f} tokens/s over {training_seconds(turns['counters'])} s of training, "
          f"{ratio:.0%} of explainer train's median {cli:,.0f} ({len(finished)} of {len(turns['cli'])} runs finished); "
          f"its counters changed {turns['page_updates_per_s']:.1f} times a second while it trained (longest gap "
          f"{turns['longest_gap_s']:.2f} s)", flush=True)
    threads = {}
    for count in sorted({1, learning.TRAINING_THREADS}):
        alone, measuring = in_process_speed(args.preset, count, args.in_process_seconds)
        threads[count] = {"tokens_per_s": round(alone), "measuring_share": round(measuring, 3)}
        print(f"live trainer, no page, {'1 thread' if count == 1 else f'trying 1 and {count} threads'}: {alone:,.0f} "
              f"tokens/s ({measuring:.0%} of the time measuring)", flush=True)
    met = {f"{kind}_within_{limit}_s": kind in turns["moments"] and turns["moments"][kind]["seconds"] <= limit
           for kind, limit in TARGET_SECONDS.items()}
    met.update(speed_at_least_80_percent=ratio >= 0.8, page_updates_at_least_2_per_s=turns["page_updates_per_s"] >= 2)
    for name, ok in met.items():
        print(f"  {'met' if ok else 'NOT met'}: {name}")
    print(json.dumps({"preset": args.preset, "cores": os.cpu_count(), "load_average": round(os.getloadavg()[0], 2),
                      "cli_tokens_per_s": round(cli), "cli_runs": [round(s) if s else None for s in turns["cli"]],
                      "page_tokens_per_s": round(speed), "page_over_cli": round(ratio, 3),
                      "page_training_seconds": training_seconds(turns["counters"]),
                      "page_updates_per_s": round(turns["page_updates_per_s"], 2),
                      "longest_gap_s": round(turns["longest_gap_s"], 2), "training_threads": learning.TRAINING_THREADS,
                      "in_process": threads, "moments": turns["moments"], "targets_met": met,
                      "page_problems": turns["problems"]}))


if __name__ == "__main__":
    main()
