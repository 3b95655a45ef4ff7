"""The `explainer` command line."""

from __future__ import annotations

import argparse
import sys

from explainer.errors import ExplainerError


def render_command(args: argparse.Namespace) -> None:
    from explainer import scenes

    print(f"rendering {args.scene} at {args.quality} quality ...", file=sys.stderr)
    print(scenes.render(args.scene, args.quality, last_frame_only=args.last_frame))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="explainer", description="How a transformer language model works, with real numbers.")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    render = commands.add_parser("render", help="render a Manim scene from animations/ to a video under build/")
    render.add_argument("scene", help="scene name, e.g. softmax_temperature (a file under animations/)")
    render.add_argument("--quality", choices=["low", "medium", "high"], default="low")
    render.add_argument("--last-frame", action="store_true", help="write only the last frame as a PNG")
    render.set_defaults(run=render_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except ExplainerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
