"""The ``appliance`` command: serve | render | sandbox | doctor | jobs | settings.

Exit codes scripts can rely on:
    0  success (for ``render``: the video is ready)
    1  the job or check failed (a render failure, a failed doctor check)
    2  usage error or invalid settings
    3  infrastructure unavailable (Docker down, sandbox image missing)
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from appliance.errors import ConfigError, SandboxError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3

Handler = Callable[[argparse.Namespace], int]


def _cmd_settings(args: argparse.Namespace) -> int:
    from pathlib import Path

    from appliance.config import settings_markdown, update_readme

    if args.update_readme:
        changed = update_readme(Path(args.update_readme))
        print(f"{args.update_readme}: {'updated' if changed else 'already in step'}")
    else:
        print(settings_markdown(), end="")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="appliance",
        description="Manim Appliance: turn a math problem into a short explanatory video.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    settings = sub.add_parser("settings", help="print every setting as a Markdown table")
    settings.add_argument("--update-readme", metavar="README", help="rewrite that file's settings section")
    settings.set_defaults(handler=_cmd_settings)

    from appliance.sandbox.cli import register as register_sandbox
    from frontends.commands import register as register_commands

    register_commands(sub)
    register_sandbox(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"appliance: invalid settings: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SandboxError as exc:
        print(f"appliance: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
