"""``appliance jobs list | show``: the jobs in the store, read directly (no appliance is started)."""

from __future__ import annotations

import argparse
import json
import sys

from appliance.config import Settings
from appliance.errors import ApplianceError
from appliance.models import ProcessingStatus
from appliance.store import Store
from frontends.cli.exit_codes import EXIT_FAILED, EXIT_OK
from frontends.cli.parsing import Subcommands


def register(sub: Subcommands) -> None:
    jobs = sub.add_parser("jobs", help="list and inspect jobs", description="List recent jobs or show one.")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", metavar="ACTION")
    listing = jobs_sub.add_parser("list", help="list jobs, newest first")
    listing.add_argument("--status", choices=[s.value for s in ProcessingStatus], help="only jobs in this status")
    listing.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    listing.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    listing.set_defaults(handler=cmd_jobs_list)
    show = jobs_sub.add_parser("show", help="show one job")
    show.add_argument("job_id")
    show.add_argument("--code", action="store_true", help="also print the scene code")
    show.set_defaults(handler=cmd_jobs_show)
    jobs.set_defaults(handler=cmd_jobs_list, status=None, limit=20, json=False)


def _open_store(settings: Settings) -> Store:
    return Store(settings.store_dir)


def cmd_jobs_list(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    store = _open_store(settings)
    try:
        jobs = sorted(store.iter_jobs(), key=lambda job: job.created_at, reverse=True)
        if args.status:
            jobs = [job for job in jobs if job.status.value == args.status]
        jobs = jobs[: args.limit]
        if args.json:
            for job in jobs:
                print(json.dumps(job.to_dict()))
            return EXIT_OK
        if not jobs:
            print("no jobs")
            return EXIT_OK
        print(f"{'job_id':36}  {'status':15}  {'created_at':19}  problem")
        for job in jobs:
            print(f"{job.job_id:36}  {job.status.value:15}  {job.created_at[:19]:19}  {job.problem_text[:50]!r}")
        return EXIT_OK
    finally:
        store.close()


def cmd_jobs_show(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    store = _open_store(settings)
    try:
        try:
            job = store.get_job(args.job_id)
        except ApplianceError as exc:
            print(f"appliance: {exc}", file=sys.stderr)
            return EXIT_FAILED
        record = job.to_dict()
        if not args.code:
            record.pop("manim_code", None)
        print(json.dumps(record, indent=2))
        if args.code and job.manim_code:
            print(job.manim_code)
        return EXIT_OK
    finally:
        store.close()
