"""``appliance doctor``: check every component and say what to fix."""

from __future__ import annotations

import argparse
import json

from appliance.config import Settings
from frontends.cli.exit_codes import EXIT_FAILED, EXIT_OK
from frontends.cli.parsing import Subcommands


def register(sub: Subcommands) -> None:
    doctor = sub.add_parser("doctor", help="check every component and say what to fix",
                            description="Checks Docker, the sandbox image and runtime (APPLIANCE_SANDBOX_RUNTIME), "
                            "the store, video storage, each configured model provider and the Telegram token. Exit 0 "
                            "when all pass.")
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")
    doctor.add_argument("--offline", action="store_true", help="do not call model providers or Telegram")
    doctor.set_defaults(handler=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    # Imported here, not at the top: the checks load every part they check (the built-in
    # solver's SymPy among them), about 1.0 s (``python -X importtime``, cumulative), which
    # ``appliance --help`` and every other command would pay.
    from appliance.doctor import run_checks

    settings = Settings.from_env()
    checks = run_checks(settings, online=not args.offline)
    if args.json:
        print(json.dumps([check.to_dict() for check in checks], indent=2))
    else:
        width = max(len(check.name) for check in checks)
        for check in checks:
            mark = "ok " if check.ok else ("-- " if check.skipped else "FAIL")
            print(f"{mark:4} {check.name:<{width}}  {check.detail}")
            if not check.ok and check.fix:
                print(f"{'':4} {'':<{width}}  fix: {check.fix}")
    return EXIT_OK if all(check.ok or check.skipped for check in checks) else EXIT_FAILED
