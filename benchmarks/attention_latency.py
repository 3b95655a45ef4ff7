"""What 12's attention explorer costs the kernel: a move of its layer, head, temperature or layout costs nothing (the
page answers it from every head's numbers, sent once; browser_latency.py times the page), and a new prompt computes
and sends every head at once. For prompts up to 64 tokens:

    python benchmarks/attention_latency.py [--quick]

Baseline in the same process: what one move cost the kernel before the figure kit (the head's plotly dot grid built
and turned into the JSON a figure travels as), beside what a new prompt costs now (all heads, and the bytes they
travel as).
"""

import argparse
import json
import time

import numpy as np

from explainer import attention
from explainer.figures import common as viz
from explainer.figures.attention import AttentionExplorer
from explainer.gpt import checkpoint

PROMPT = ("ROMEO:\nBut soft, what light through yonder window breaks? It is the east, and Juliet is the sun. "
          "Arise, fair sun, and kill the envious moon, Who is already sick and pale with grief, That thou her maid "
          "art far more fair than she.")


def new_prompts(explorer: AttentionExplorer, count: int) -> list[float]:
    """Seconds per new prompt (each one not computed before: the cache is emptied)."""
    times = []
    for i in range(count):
        attention.cached_prompt_attention.cache_clear()
        started = time.perf_counter()
        explorer.prompt.value = PROMPT[: len(PROMPT) - (i % 2)]  # a different text each time
        times.append(time.perf_counter() - started)
    return times


def plotly_moves(lm, count: int) -> list[float]:
    """Seconds per move the way the explorer answered one before the kit: the head's dot grid rebuilt in Python."""
    found, times = attention.cached_prompt_attention(lm, PROMPT), []
    masked = ~attention.causal_mask(len(found.tokens))
    for i in range(count):
        started = time.perf_counter()
        viz.dot_grid(found.pattern(i % 5, (i // 5) % 5), found.tokens, masked=masked).to_json()
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    count = 10 if parser.parse_args().quick else 40
    lm = checkpoint.load()
    explorer = AttentionExplorer(lm, "ROMEO:")
    prompts = np.array(new_prompts(explorer, count)) * 1000
    before = np.array(plotly_moves(lm, count)) * 1000
    tokens = len(explorer.view.tokens)
    sent = explorer.view.patterns.nbytes + explorer.view.scores.nbytes
    p50, p95 = np.percentile(prompts, [50, 95])
    b50, b95 = np.percentile(before, [50, 95])
    print(f"{tokens} tokens, {lm.model.config.n_layer} × {lm.model.config.n_head} heads: {sent / 1024:.0f} KiB of numbers")
    print("a move of layer, head, temperature or layout: no kernel work (the page answers it)")
    print(f"a new prompt, every head computed and sent: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    print(f"baseline, one move before the kit (a plotly dot grid rebuilt): p50 {b50:.1f} ms, p95 {b95:.1f} ms "
          f"({p50 / b50:.1f}× one old move for every head at once)")
    print(json.dumps({"tokens": tokens, "bytes_sent": sent, "new_prompt_p50_ms": round(p50, 1), "new_prompt_p95_ms": round(p95, 1),
                      "baseline_move_p50_ms": round(b50, 1), "baseline_move_p95_ms": round(b95, 1),
                      "new_prompt_over_old_move": round(p50 / b50, 2)}))


if __name__ == "__main__":
    main()
