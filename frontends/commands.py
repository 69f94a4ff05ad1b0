"""The main-job commands of ``appliance``: serve, render, doctor, jobs."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from appliance.config import QUALITIES, Settings
from appliance.errors import ApplianceError, LimitExceeded, ValidationError
from appliance.models import ProcessingJob, ProcessingStatus
from frontends.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE

S = ProcessingStatus

STEPS = [S.QUEUED, S.AI_GENERATING, S.CODE_VALIDATING, S.RENDERING, S.UPLOADING, S.READY]


def register(sub: Any) -> None:
    serve = sub.add_parser("serve", help="run the API, web UI, Telegram bot, workers and maintenance",
                           description="Serve everything in one process until SIGTERM/Ctrl-C.")
    serve.add_argument("--host", help="address to bind (default: APPLIANCE_HOST)")
    serve.add_argument("--port", type=int, help="port (default: APPLIANCE_PORT, 7860)")
    serve.set_defaults(handler=cmd_serve)

    render = sub.add_parser("render", help="turn one problem into a video, here and now",
                            description="Run one job through the full service (store, queue, pipeline, "
                            "storage, delivery) and save the video. Works with no API key: the "
                            "built-in solver is used when no model is configured.")
    render.add_argument("problem", help='the problem, e.g. "Solve 2x + 3 = 11"')
    render.add_argument("-o", "--output", default="out.mp4", help="where to save the video (default out.mp4)")
    render.add_argument("--quality", choices=QUALITIES, help="video quality (default: APPLIANCE_RENDER_QUALITY)")
    render.add_argument("--json", action="store_true", help="print the final job record as JSON")
    render.set_defaults(handler=cmd_render)

    doctor = sub.add_parser("doctor", help="check every component and say what to fix",
                            description="Checks Docker, the sandbox image, the store, video storage, each "
                            "configured model provider and the Telegram token. Exit 0 when all pass.")
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")
    doctor.add_argument("--offline", action="store_true", help="do not call model providers or Telegram")
    doctor.set_defaults(handler=cmd_doctor)

    jobs = sub.add_parser("jobs", help="list and inspect jobs", description="List recent jobs or show one.")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", metavar="ACTION")
    listing = jobs_sub.add_parser("list", help="list jobs, newest first")
    listing.add_argument("--status", choices=[s.value for s in S], help="only jobs in this status")
    listing.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    listing.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    listing.set_defaults(handler=cmd_jobs_list)
    show = jobs_sub.add_parser("show", help="show one job")
    show.add_argument("job_id")
    show.add_argument("--code", action="store_true", help="also print the scene code")
    show.set_defaults(handler=cmd_jobs_show)
    jobs.set_defaults(handler=cmd_jobs_list, status=None, limit=20, json=False)


# -- serve ---------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from frontends.server import serve

    settings = Settings.from_env()
    serve(settings, host=args.host, port=args.port)
    return EXIT_OK


# -- render --------------------------------------------------------------------------------


class ProgressBar:
    """One line on a terminal, redrawn in place; plain lines when not a terminal."""

    def __init__(self, stream: Any = sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.last = ""

    def show(self, job: ProcessingJob) -> None:
        step = STEPS.index(job.status) if job.status in STEPS else len(STEPS) - 1
        done = step + 1 if job.status is S.READY else step
        bar = "#" * (done * 4) + "-" * ((len(STEPS) - done) * 4)
        text = f"[{bar}] {time.monotonic() - self.started:5.1f}s {job.status.value}: {job.status_message or ''}"
        if text == self.last:
            return
        self.last = text
        if self.tty:
            self.stream.write("\r\x1b[2K" + text[:200])
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def cmd_render(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    # A one-shot render keeps its own queue, so it never takes jobs of a running server
    # that shares the data directory; a warm container would only be thrown away.
    settings = settings.replace(data_dir=settings.data_dir / "cli", warm_pool_size=0, render_slots=1)
    return asyncio.run(_render(settings, args))


async def _render(settings: Settings, args: argparse.Namespace) -> int:
    from appliance.service import Appliance, Channel

    appliance = Appliance(settings, run_maintenance=False)
    await appliance.start()
    progress = ProgressBar()
    try:
        try:
            response = await appliance.submit(args.problem, Channel("cli"), quality=args.quality)
        except (ValidationError, LimitExceeded) as exc:
            print(f"appliance: {exc}", file=sys.stderr)
            return EXIT_USAGE
        job = await appliance.get(response.job_id)
        async for job in appliance.watch(response.job_id, poll_interval_s=1.0):
            if not args.json:
                progress.show(job)
        progress.close()
        if job.status is not S.READY:
            if args.json:
                print(json.dumps(job.to_dict(), indent=2))
            else:
                print(f"Failed: {job.status_message}", file=sys.stderr)
                if job.last_error:
                    print(f"Last error: {job.last_error[-600:]}", file=sys.stderr)
            return EXIT_FAILED
        output = Path(args.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        with appliance.video_file(job) as path:
            shutil.copyfile(path, output)
        job = await appliance.mark_delivered(job.job_id)
        if args.json:
            record = job.to_dict()
            record["output"] = str(output.resolve())
            print(json.dumps(record, indent=2))
        else:
            check = f" ({job.answer_check})" if job.answer_check else ""
            print(f"Answer: {job.answer_text or 'see the video'}{check}")
            print(f"Scene by: {job.ai_provider_used}; rendered in {job.render_duration_seconds or 0:.1f}s")
            print(f"Video: {output.resolve()} ({output.stat().st_size} bytes)")
        return EXIT_OK
    finally:
        await appliance.stop()


# -- doctor --------------------------------------------------------------------------------


def cmd_doctor(args: argparse.Namespace) -> int:
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


# -- jobs ----------------------------------------------------------------------------------


def _open_store(settings: Settings) -> Any:
    from appliance.store import Store

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
