"""``appliance serve``: the API, web UI, Telegram bot, workers and maintenance in one process."""

from __future__ import annotations

import argparse

from appliance.config import Settings
from frontends.cli.exit_codes import EXIT_OK
from frontends.cli.parsing import Subcommands


def register(sub: Subcommands) -> None:
    serve = sub.add_parser("serve", help="run the API, web UI, Telegram bot, workers and maintenance",
                           description="Serve everything in one process until SIGTERM/Ctrl-C.")
    serve.add_argument("--host", help="address to bind (default: APPLIANCE_HOST)")
    serve.add_argument("--port", type=int, help="port (default: APPLIANCE_PORT, 7860)")
    serve.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    # Imported here, not at the top: the server brings in Gradio, FastAPI and
    # python-telegram-bot, several seconds (``python -X importtime``: frontends.server about
    # 11 s cumulative on a busy 2-CPU machine, Gradio most of it), which ``appliance --help``
    # and every other command would pay.
    from frontends.server import serve

    settings = Settings.from_env()
    serve(settings, host=args.host, port=args.port)
    return EXIT_OK
