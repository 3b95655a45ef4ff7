"""What a user feels: in JupyterLab under Chromium (1280-px window, file browser open), each notebook's Run All time,
and for every slider, dropdown and figure-kit check box the time from the input event to the painted frame that shows
the last change of the figure it drives (from the time stamp of the event in the page, so that the test's own round
trip to the browser is not counted). Each control is marked in-page (the figure kit: no message to the kernel during
any of its moves) or kernel.

    python benchmarks/browser_latency.py [--quick] [--moves 10] [--notebook NAME ...]

Targets on 2 cores: in-page controls p95 ≤ 50 ms, kernel controls p95 ≤ 150 ms, every notebook's Run All → idle
≤ 5 s. Each control is moved --moves times (one step at a time, back and forth), after it is scrolled into view and
the page has drawn; --quick moves each control 3 times in three notebooks.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from explainer.paths import NOTEBOOKS_DIR

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the suite's JupyterLab driver
from lab import Lab, NotebookPage, chromium  # noqa: E402


def import_torch_seconds(runs: int = 3) -> float:
    """The median wall time of a fresh Python that imports torch: most of every notebook's first cell, and a gauge of
    how fast this machine is this hour (the same benchmark moves with it; compare runs by it)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--moves", type=int, default=10)
    parser.add_argument("--notebook", action="append", help="only this notebook (name without .ipynb; repeatable)")
    args = parser.parse_args()
    names = args.notebook or sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb"))
    moves = args.moves
    if args.quick:
        names, moves = names[:3], 3
    gauge = import_torch_seconds()
    print(f"this machine now: a fresh Python imports torch in {gauge:.2f} s")
    run_all, controls = {}, []
    with tempfile.TemporaryDirectory() as work:
        lab = Lab(Path(work))
        try:
            with chromium() as context:
                for name in names:
                    notebook = NotebookPage(context, lab, f"{name}.ipynb")
                    run_all[name] = notebook.run_all()
                    print(f"{name}: Run All → idle {run_all[name]:.1f} s")
                    for control in notebook.controls():
                        times, sent = [], 0
                        for _ in range(moves):
                            control = notebook.controls()[control.index]  # its value moved: read it again
                            times.append(notebook.move(control))
                            sent += notebook.sent
                        p50, p95 = np.percentile(times, [50, 95])
                        where = "in-page" if control.in_page and sent == 0 else "kernel"
                        controls.append({"notebook": name, "control": f"{control.kind} {control.label}", "cell": control.cell,
                                         "where": where, "kernel_messages": sent,
                                         "p50_ms": round(float(p50)), "p95_ms": round(float(p95))})
                        print(f"    {control.kind:8s} {control.label[:22]:22s} cell {control.cell:2d} {where:7s}: "
                              f"p50 {p50:5.0f} ms, p95 {p95:5.0f} ms")
                    notebook.close()
                    lab.shutdown_kernels()
        finally:
            lab.stop()
    worst = max(controls, key=lambda c: c["p95_ms"]) if controls else None
    in_page = [c for c in controls if c["where"] == "in-page"]
    over = lambda rows, limit: sum(c["p95_ms"] > limit for c in rows)
    print(f"in-page controls over 50 ms at p95: {over(in_page, 50)} of {len(in_page)}; kernel controls over 150 ms: "
          f"{over([c for c in controls if c not in in_page], 150)} of {len(controls) - len(in_page)}; "
          f"notebooks over 5 s to run: {sum(s > 5 for s in run_all.values())} of {len(run_all)}")
    print(json.dumps({"import_torch_s": round(gauge, 2), "controls": len(controls), "in_page": len(in_page),
                      "worst_p95_ms": worst["p95_ms"] if worst else None,
                      "worst_control": f"{worst['notebook']}: {worst['control']}" if worst else None,
                      "worst_in_page_p95_ms": max((c["p95_ms"] for c in in_page), default=None),
                      "in_page_over_50ms": over(in_page, 50),
                      "kernel_over_150ms": over([c for c in controls if c not in in_page], 150),
                      "run_all_s": {k: round(v, 1) for k, v in run_all.items()}, "rows": controls}))


if __name__ == "__main__":
    main()
