"""How long a slider move takes in the attention explorer: p50/p95 per update, for prompts up to 64 tokens.

    python benchmarks/attention_latency.py [--quick]

Baseline in the same process: rebuilding the whole figure on every move (what a naive widget does) versus our
path (patterns computed once per prompt and cached; a move only re-sizes the dots). Target: ≤ 50 ms.
"""

import argparse
import json
import time

import numpy as np

from explainer import attention
from explainer.figures import common as viz
from explainer.gpt import checkpoint
from explainer.figures.attention import AttentionExplorer
from explainer.figures.common import redraw

PROMPT = ("ROMEO:\nBut soft, what light through yonder window breaks? It is the east, and Juliet is the sun. "
          "Arise, fair sun, and kill the envious moon, Who is already sick and pale with grief, That thou her maid "
          "art far more fair than she.")


def moves(explorer: AttentionExplorer, count: int) -> list[float]:
    """Alternate head, layer and temperature changes; seconds per update."""
    times = []
    for i in range(count):
        control, value = [(explorer.head, (explorer.head.value + 1) % 4), (explorer.layer, (explorer.layer.value + 1) % 4),
                          (explorer.temperature, 0.3 + (i % 10) * 0.4)][i % 3]
        started = time.perf_counter()
        control.value = value
        times.append(time.perf_counter() - started)
    return times


def rebuilding(explorer: AttentionExplorer, count: int) -> list[float]:
    times = []
    for i in range(count):
        started = time.perf_counter()
        found = attention.prompt_attention(explorer.lm, explorer.prompt.value)
        pattern = found.pattern(i % 4, (i // 4) % 4)
        redraw(explorer.figure, viz.dot_grid(pattern, found.tokens, masked=~attention.causal_mask(pattern.shape[0])))
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    count = 30 if args.quick else 150
    lm = checkpoint.load()
    tokens = len(lm.encode(PROMPT))
    explorer = AttentionExplorer(lm, PROMPT)
    ours = np.array(moves(explorer, count)) * 1000
    naive = np.array(rebuilding(explorer, count // 3)) * 1000
    p50, p95 = np.percentile(ours, [50, 95])
    n50, n95 = np.percentile(naive, [50, 95])
    print(f"{tokens} tokens ({tokens * tokens} cells), {count} slider moves")
    print(f"cached patterns, dots re-sized: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    print(f"recompute and rebuild (baseline): p50 {n50:.1f} ms, p95 {n95:.1f} ms ({n50 / p50:.1f}x slower)")
    print(json.dumps({"tokens": tokens, "p50_ms": round(p50, 1), "p95_ms": round(p95, 1),
                      "baseline_p50_ms": round(n50, 1), "baseline_p95_ms": round(n95, 1), "speedup_p50": round(n50 / p50, 2)}))


if __name__ == "__main__":
    main()
