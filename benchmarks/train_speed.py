"""Training speed and quality: the `baby` character-level preset (nanoGPT's CPU recipe) on the plays.

    python benchmarks/train_speed.py            # eager and torch.compile, 2000 iterations each (CPU: a few minutes)
    python benchmarks/train_speed.py --quick    # 200 iterations each
    python benchmarks/train_speed.py --device cuda --preset small   # on a GPU

Tokens/s counts the training steps only (forward, backward, clipping, optimizer), not the periodic evaluations
or checkpoint writes, as nanoGPT's per-iteration time does. Eager mode is the baseline (what nanoGPT's train.py
does without compile); the ratio compares the two in this process. Reference measured on these 2-core machines with nanoGPT's own train.py, same configuration:
~22,000 tokens/s and validation loss 1.91 after 2,000 iterations.
"""

import argparse
import json
import tempfile

from explainer.gpt.train import preset, train

NANOGPT_TOKENS_PER_S, NANOGPT_VAL_LOSS = 22_000, 1.91


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--preset", default="baby")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-eager", action="store_true", help="skip the eager baseline")
    args = parser.parse_args()
    overrides = dict(tokenizer="char", device=args.device, snapshots=0, save_optimizer=False)
    if args.quick:
        overrides.update(max_iters=200, eval_interval=100)
    results = {}
    for mode in ([] if args.no_eager else ["eager"]) + ["compiled"]:
        with tempfile.TemporaryDirectory() as out:
            result = train(preset(args.preset, compile=mode == "compiled", **overrides), out, progress=False)
        results[mode] = result
        print(f"{mode:9s}: {result.tokens_per_second:,.0f} tokens/s, {result.seconds:.0f} s, "
              f"val loss {result.val_loss:.4f} after {result.step} iterations", flush=True)
    compiled = results["compiled"]
    config = preset(args.preset)
    tokens_per_step = config.batch_size * config.block_size
    figures = {"preset": args.preset, "iterations": compiled.step, "tokens_per_s": round(compiled.tokens_per_second),
               "ms_per_step": round(1000 * tokens_per_step / compiled.tokens_per_second, 1),
               "seconds": round(compiled.seconds, 1), "val_loss": round(compiled.val_loss, 4),
               "vs_nanogpt_reference_speed": round(compiled.tokens_per_second / NANOGPT_TOKENS_PER_S, 2)}
    if "eager" in results:
        eager = results["eager"]
        figures.update(eager_tokens_per_s=round(eager.tokens_per_second), eager_val_loss=round(eager.val_loss, 4),
                       compiled_over_eager=round(compiled.tokens_per_second / eager.tokens_per_second, 2))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
