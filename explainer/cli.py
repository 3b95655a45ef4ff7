"""The `explainer` command line."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from explainer.errors import ExplainerError
from explainer.paths import BUILD_DIR, DATA_DIR
from explainer.video import catalogue


def render_command(args: argparse.Namespace) -> None:
    from explainer.video import render

    options = render.ChapterOptions(prompt=args.prompt, layer=args.layer, head=args.head, model=args.model, fast=args.fast)
    render.scene_file(args.scene)
    options.check()
    print(f"rendering {args.scene} at {args.quality} quality (or reusing an earlier render) ...", file=sys.stderr)
    result = render.render(args.scene, args.quality, options, last_frame_only=args.last_frame)
    print(result.video)


def train_command(args: argparse.Namespace) -> None:
    from explainer.gpt.train import TrainConfig, TrainingStopped, preset, saved_config, train

    overrides = {}
    for item in args.set or []:
        key, _, value = item.partition("=")
        overrides[key] = parse_value(key, value, TrainConfig)
    if args.device:
        overrides["device"] = args.device
    if args.compile:
        overrides["compile"] = True
    if args.resume and args.preset:
        raise ExplainerError("--resume continues with the checkpoint's own settings: leave out --preset "
                             "(change a setting with --set, e.g. --set max_iters=8000)")
    if args.resume:
        config = saved_config(args.out, **overrides)
    else:
        config = preset(args.preset or ("char-tiny" if args.live else "baby"), **overrides)
    watch = None
    if args.live:
        from explainer.learning import PrintedMoments

        watch = PrintedMoments()
    try:
        train(config, args.out, resume=args.resume, progress=not args.quiet, watch=watch)
    except TrainingStopped:
        raise
    except KeyboardInterrupt:  # before the first step, or a second Ctrl-C
        raise TrainingStopped("interrupted before a checkpoint could be saved: nothing new was written", signal.SIGINT) from None


def parse_value(key: str, value: str, config_type) -> object:
    """'n_layer=6' -> 6 with the type of the TrainConfig field."""
    from dataclasses import fields

    types = {f.name: f.type for f in fields(config_type)}
    if key not in types:
        raise ExplainerError(f"unknown training option {key!r}; valid: {', '.join(sorted(types))}")
    kind = str(types[key])
    try:
        if kind == "bool":
            if value.lower() not in {"true", "false", "1", "0"}:
                raise ValueError
            return value.lower() in {"true", "1"}
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
    except ValueError:
        raise ExplainerError(f"{key} must be of type {kind}, got {value!r}") from None
    return None if value.lower() == "none" else value


def sample_command(args: argparse.Namespace) -> None:
    from explainer.gpt import checkpoint

    lm = checkpoint.load(args.checkpoint, device=args.device or "cpu", meta=args.meta)
    print(args.prompt + lm.generate(args.prompt, args.max_new_tokens, temperature=args.temperature, top_k=args.top_k,
                      top_p=args.top_p, seed=args.seed))


def build_command(args: argparse.Namespace) -> None:
    from explainer import site

    figures = DATA_DIR / "gallery" if args.readme_figures else None
    report = site.build(Path(args.out), args.notebook, args.scene, args.quality, figures_to=figures)
    if report.failures:
        raise ExplainerError("the site was built, but these failed:\n  " + "\n  ".join(report.failures))


def precomputed_files() -> dict:
    """What `explainer precompute NAME` writes into data/ (each file records the command that made it)."""
    from explainer import geometry, heads, mlp, probes, scaling_laws, vocabulary

    return {"packings": (geometry.write_packings, "our optimiser's packings of 100-d vectors (notebook on near-orthogonality)"),
            "modifier-pairs": (heads.write_modifier_pairs, "word pairs of the validation text, by kind (the running example and its controls)"),
            "running-example": (heads.write_running_example, "every head scored on those pairs, and the line the best one is shown on"),
            "neurons": (mlp.write_neurons, "where each MLP neuron fires most in the validation text"),
            "token-counts": (vocabulary.write_token_counts, "how often each token occurs in the training text (under-trained tokens)"),
            "set-phrases": (mlp.write_set_phrases, "three-word phrases whose last word needs the word two back"),
            "lookups": (mlp.write_lookups, "those phrases recalled with each MLP and attention layer mean-ablated"),
            "position-profiles": (heads.write_position_profiles, "how each head spreads its attention over positions back"),
            "nonlinear-neuron": (mlp.write_nonlinear_neuron, "the neuron whose activation is most an AND of two features"),
            "probes": (probes.write_probes, "linear probes for three features of the text at every stage, and their controls"),
            "scaling": (scaling_laws.write_scaling, "five model sizes trained on the same text, for the scaling law (about 20 minutes)")}


def precompute_command(args: argparse.Namespace) -> None:
    files = precomputed_files()
    for name in args.name or list(files):
        if name not in files:
            raise ExplainerError(f"unknown precomputed file {name!r}; choose from {', '.join(files)}")
        print(f"{name}: {files[name][1]} ...", file=sys.stderr)
        print(files[name][0]())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="explainer", description="How a transformer language model works, with real numbers.")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    render = commands.add_parser("render", help="render a video chapter (under animations/) to build/videos/")
    render.add_argument("scene", metavar="CHAPTER", help=", ".join(catalogue.NAMES[:-1]) + " or " + catalogue.NAMES[-1])
    render.add_argument("--prompt", help="the text the chapter follows (where it follows one)")
    render.add_argument("--layer", type=int, help="the layer it shows (attention chapters)")
    render.add_argument("--head", type=int, help="the head it shows (attention chapters)")
    render.add_argument("--model", help="a checkpoint folder, nanoGPT ckpt.pt, or a GPT-2, LLaMA, Qwen2 or Mistral folder "
                        "(Hugging Face format; default: the shipped model)")
    render.add_argument("--quality", choices=["low", "medium", "high"], default="low")
    render.add_argument("--last-frame", action="store_true", help="write only the last frame as a PNG")
    render.add_argument("--fast", action="store_true", help="cut the pauses and render 5 frames per second (for tests)")
    render.set_defaults(run=render_command)

    from explainer.gpt.checkpoint import SHIPPED_CHECKPOINT

    train = commands.add_parser("train", help="train the small GPT and write a checkpoint folder")
    train.add_argument("--preset", help="tiny (tests), baby (CPU, minutes; the default), small (GPU), char-tiny and "
                                        "char-small (to watch learn; char-tiny is --live's default)")
    train.add_argument("--out", required=True, help="checkpoint folder to write (config.json + safetensors)")
    train.add_argument("--set", action="append", metavar="FIELD=VALUE",
                       help="override a preset field, e.g. --set tokenizer=char --set max_iters=500 (repeatable)")
    train.add_argument("--device", help="auto (default), cpu, cuda, mps")
    train.add_argument("--compile", action="store_true", help="torch.compile the model (faster after a warm-up)")
    train.add_argument("--resume", action="store_true", help="continue the checkpoint in --out with its own settings")
    train.add_argument("--live", action="store_true", help="watch it learn: print the moments (loss below the unigram "
                                                          "entropy, a previous-token head, real words) as they happen")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(run=train_command)

    sample = commands.add_parser("sample", help="print a continuation of a prompt from a checkpoint")
    sample.add_argument("--checkpoint", default=str(SHIPPED_CHECKPOINT),
                        help="our checkpoint folder, a nanoGPT ckpt.pt, or a GPT-2, LLaMA, Qwen2 or Mistral folder "
                             "(Hugging Face format)")
    sample.add_argument("--meta", help="for a nanoGPT checkpoint: its meta.pkl, or a folder with GPT-2 tokenizer files "
                                       "(default: a meta.pkl beside the checkpoint)")
    sample.add_argument("--prompt", default="ROMEO:\n")
    sample.add_argument("--max-new-tokens", type=int, default=200)
    sample.add_argument("--temperature", type=float, default=0.8)
    sample.add_argument("--top-k", type=int)
    sample.add_argument("--top-p", type=float)
    sample.add_argument("--seed", type=int)
    sample.add_argument("--device", help="cpu (default), cuda, mps")
    sample.set_defaults(run=sample_command)

    build = commands.add_parser("build", help="execute every notebook to offline HTML, render every scene, write index.html")
    build.add_argument("--out", default=str(BUILD_DIR / "site"))
    build.add_argument("--quality", choices=["low", "medium", "high"], default="low")
    build.add_argument("--notebook", action="append", help="only this notebook (name without .ipynb; repeatable)")
    build.add_argument("--scene", action="append", help="only this scene (repeatable)")
    build.add_argument("--no-scenes", action="store_const", const=[], dest="scene", help="skip the videos")
    build.add_argument("--readme-figures", action="store_true", help="also save each notebook's main figure to data/gallery/")
    build.set_defaults(run=build_command)

    precompute = commands.add_parser("precompute", help="measure again what data/precomputed/ ships (slow; see data/README.md)")
    precompute.add_argument("name", nargs="*", help="which file(s); default all")
    precompute.set_defaults(run=precompute_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except ExplainerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stopped:  # Ctrl-C (or SIGTERM while training): no traceback; training says what it kept
        if str(stopped):
            print(stopped, flush=True)
        return 128 + getattr(stopped, "signal_number", signal.SIGINT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
