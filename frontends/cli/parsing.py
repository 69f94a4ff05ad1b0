"""What every command module of ``appliance`` shares: how it adds its parsers, and its handlers' type."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, Protocol

Handler = Callable[[argparse.Namespace], int]
"""A command: parsed arguments in, an exit code (``frontends.cli.exit_codes``) out."""


class Subcommands(Protocol):
    """What ``ArgumentParser.add_subparsers()`` returns, as far as the command modules use it."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser: ...
