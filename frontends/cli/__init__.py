"""The ``appliance`` command: serve | render | sandbox | doctor | jobs | settings.

One module per command group, each with ``register(subcommands)`` and its handlers; the
exit codes are in ``frontends.cli.exit_codes``. ``python -m frontends.cli`` runs it
without installing.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from appliance.errors import ConfigError, SandboxError
from frontends.cli import doctor, jobs, render, sandbox, serve, settings
from frontends.cli.exit_codes import EXIT_INTERRUPTED, EXIT_UNAVAILABLE, EXIT_USAGE
from frontends.cli.parsing import Handler

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="appliance",
        description="Manim Appliance: turn a math problem into a short explanatory video.",
    )
    parser.set_defaults(verbose=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for group in (settings, serve, render, doctor, jobs, sandbox):
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
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
        return EXIT_INTERRUPTED
