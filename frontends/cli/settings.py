"""``appliance settings``: every setting as a Markdown table (or the README's section rewritten)."""

from __future__ import annotations

import argparse
from pathlib import Path

from appliance.config import settings_markdown, update_readme
from frontends.cli.exit_codes import EXIT_OK
from frontends.cli.parsing import Subcommands


def register(sub: Subcommands) -> None:
    settings = sub.add_parser("settings", help="print every setting as a Markdown table")
    settings.add_argument("--update-readme", metavar="README", help="rewrite that file's settings section")
    settings.set_defaults(handler=cmd_settings)


def cmd_settings(args: argparse.Namespace) -> int:
    if args.update_readme:
        changed = update_readme(Path(args.update_readme))
        print(f"{args.update_readme}: {'updated' if changed else 'already in step'}")
    else:
        print(settings_markdown(), end="")
    return EXIT_OK
