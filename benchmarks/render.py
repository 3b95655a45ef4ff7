"""How long the video chapters are, and how long they take to render at low quality (480p, 15 fps).

    python benchmarks/render.py [--quick]

Targets: at least 10 minutes of video in all, rendered in at most 10 minutes on 2 cores (no more than one minute of
rendering per minute of video). Each chapter is rendered afresh into a temporary cache (no reuse); --quick renders
the shortest chapter only.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from explainer.video import render


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="only the shortest chapter")
    args = parser.parse_args()
    chapters = ["scale_and_cost"] if args.quick else render.list_scenes()
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        for chapter in chapters:
            started = time.perf_counter()
            result = render.render(chapter, "low", cache_dir=Path(cache))
            seconds = time.perf_counter() - started
            duration = render.read_marks(result)["duration"]
            rows.append({"chapter": chapter, "video_s": round(duration, 1), "render_s": round(seconds, 1)})
            print(f"{chapter:18s} video {duration:6.1f} s   render {seconds:6.1f} s   ({seconds / duration:.2f} s per second of video)")
    video, rendering = sum(r["video_s"] for r in rows), sum(r["render_s"] for r in rows)
    print(f"{'total':18s} video {video:6.1f} s ({video / 60:.1f} min)   render {rendering:6.1f} s ({rendering / 60:.1f} min)")
    print(json.dumps({"chapters": len(rows), "video_s": round(video, 1), "render_s": round(rendering, 1),
                      "render_per_video_s": round(rendering / video, 3), "rows": rows}))


if __name__ == "__main__":
    main()
