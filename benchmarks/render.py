"""How long the video chapters are, how long they take to render at 480p (15 fps, normal speed), and how they move:
the share of the duration with an empty picture, the share of frames in which the picture changes, and the longest
still stretch (explainer.video.frames measures the frames).

    python benchmarks/render.py [CHAPTER ...] [--quick] [--keep FOLDER]

Targets for every chapter (issue #33): empty picture ≤ 3 %, picture changing in ≥ 30 % of frames, no still stretch
over 10 s, 90–240 s long, rendered in at most one minute per minute of video on 2 cores. Each chapter is rendered
afresh into a temporary cache (no reuse); --quick renders scale_and_cost only. Render time is wall-clock time (the
target's measure) and the CPU time of the render's process (steadier on a shared machine). --keep copies each video
(and its marks) into FOLDER, to look at.
"""

import argparse
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

from explainer.video import catalogue, frames, render

TARGETS = {"empty_share": 0.03, "changing_share": 0.30, "longest_still": 10.0, "duration": (90.0, 240.0), "render_per_video": 1.0}


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def misses(row: dict) -> list[str]:
    """The targets a chapter misses."""
    low, high = TARGETS["duration"]
    checks = {"empty": row["empty_share"] <= TARGETS["empty_share"], "changing": row["changing_share"] >= TARGETS["changing_share"],
              "still": row["longest_still_s"] <= TARGETS["longest_still"], "length": low <= row["video_s"] <= high,
              "render": row["render_s"] <= TARGETS["render_per_video"] * row["video_s"]}
    return [name for name, met in checks.items() if not met]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("chapters", nargs="*", help="chapters to render (default: all, in viewing order)")
    parser.add_argument("--quick", action="store_true", help="only scale_and_cost")
    parser.add_argument("--keep", type=Path, help="copy the videos here")
    args = parser.parse_args()
    chapters = ["scale_and_cost"] if args.quick else args.chapters or list(catalogue.NAMES)
    for name in chapters:
        catalogue.entry(name)  # an unknown name fails now, with the valid ones
    rows = []
    print(f"{'chapter':18s} {'video':>7s} {'render':>7s} {'cpu':>7s} {'empty':>6s} {'changing':>8s} {'still':>6s}  misses")
    with tempfile.TemporaryDirectory() as cache:
        for name in chapters:
            started, cpu = time.perf_counter(), children_cpu_seconds()
            result = render.render(name, "low", cache_dir=Path(cache))
            seconds, cpu = time.perf_counter() - started, children_cpu_seconds() - cpu
            motion = frames.measure(result.video)
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                for path in (result.video, result.marks):
                    shutil.copyfile(path, args.keep / f"{name}{''.join(path.suffixes)}")
            row = {"chapter": name, "video_s": round(motion.duration, 1), "render_s": round(seconds, 1), "cpu_s": round(cpu, 1),
                   "empty_share": round(motion.empty_share, 4), "changing_share": round(motion.changing_share, 4),
                   "longest_still_s": round(motion.longest_still, 1), "longest_still_at_s": round(motion.longest_still_at, 1)}
            row["misses"] = misses(row)
            rows.append(row)
            print(f"{name:18s} {row['video_s']:6.1f}s {seconds:6.1f}s {cpu:6.1f}s {motion.empty_share:6.1%} "
                  f"{motion.changing_share:8.1%} {motion.longest_still:5.1f}s  {', '.join(row['misses']) or '-'}"
                  + (f" (still from {motion.longest_still_at:.0f} s)" if "still" in row["misses"] else ""))
    video, rendering = sum(r["video_s"] for r in rows), sum(r["render_s"] for r in rows)
    print(f"{'total':18s} {video:6.1f}s {rendering:6.1f}s   ({rendering / video:.2f} s of rendering per second of video); "
          f"{sum(not r['misses'] for r in rows)} of {len(rows)} chapters meet every target")
    print(json.dumps({"chapters": len(rows), "video_s": round(video, 1), "render_s": round(rendering, 1),
                      "render_per_video_s": round(rendering / video, 3), "targets": TARGETS,
                      "meeting_every_target": [r["chapter"] for r in rows if not r["misses"]], "rows": rows}))


if __name__ == "__main__":
    main()
