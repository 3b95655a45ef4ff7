"""Every position at once against one at a time (notebook 02's measurement), for the shipped model or any other,
over texts of growing length: one forward pass over n tokens against n one-token passes with the KV cache, and the
unembedding of every position as one matrix multiplication against n vector-times-matrix products.

    python benchmarks/parallel.py [--model PATH] [--repeats 5] [--threads 1]

One torch thread by default, as in a notebook's kernel: with two threads on two busy cores a small model's passes
stall (380 ms for a pass that takes 3 ms on one thread, measured here).
"""

import argparse
import json

import torch

from explainer import forward
from explainer.gpt import checkpoint, data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}")
    lm = checkpoint.load(args.model)
    text = data.train_val_split(data.shakespeare_text()).val
    results = []
    for tokens in (8, 16, 32, lm.block_size - len(lm.start)):
        prompt = lm.tokenizer.decode(lm.tokenizer.encode(text)[:tokens])
        positions = forward.time_positions(lm, prompt, args.repeats)
        matmul = forward.time_matmul(lm, prompt, args.repeats)
        print(f"n = {positions.pieces:4d}: one pass {positions.together_ms:7.2f} ms, one at a time {positions.one_by_one_ms:8.2f} ms "
              f"({positions.ratio:5.1f}x); unembedding as one matmul {matmul.together_ms:6.2f} ms, row by row "
              f"{matmul.one_by_one_ms:6.2f} ms ({matmul.ratio:4.1f}x)")
        results.append({"tokens": positions.pieces, "one_pass_ms": positions.together_ms,
                        "one_at_a_time_ms": positions.one_by_one_ms, "matmul_ms": matmul.together_ms,
                        "row_by_row_ms": matmul.one_by_one_ms})
    print(json.dumps({"model": lm.name, "threads": args.threads, "results": results}))


if __name__ == "__main__":
    main()
