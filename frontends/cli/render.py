"""``appliance render``: one problem through the full service, here and now, saved as a video."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import sys
import time
from pathlib import Path
from typing import TextIO

from appliance.config import QUALITIES, Settings
from appliance.errors import ApplianceError, LimitExceeded, QueueFull, ValidationError
from appliance.models import ProcessingJob, ProcessingStatus
from frontends.cli.exit_codes import EXIT_BUSY, EXIT_FAILED, EXIT_OK, EXIT_USAGE
from frontends.cli.parsing import Subcommands

S = ProcessingStatus

STEPS = [S.QUEUED, S.AI_GENERATING, S.CODE_VALIDATING, S.RENDERING, S.UPLOADING, S.READY]


def register(sub: Subcommands) -> None:
    render = sub.add_parser("render", help="turn one problem into a video, here and now",
                            description="Run one job through the full service (store, queue, pipeline, "
                            "storage, delivery) and save the video. Works with no API key: the "
                            "built-in solver is used when no model is configured.")
    render.add_argument("problem", help='the problem, e.g. "Solve 2x + 3 = 11"')
    render.add_argument("-o", "--output", default="out.mp4", help="where to save the video (default out.mp4)")
    render.add_argument("--quality", choices=QUALITIES, help="video quality (default: APPLIANCE_RENDER_QUALITY)")
    render.add_argument("--json", action="store_true", help="print the final job record as JSON")
    voice = render.add_mutually_exclusive_group()
    voice.add_argument("--voice", dest="voice", action="store_true", default=None,
                       help="narrate the video (default: APPLIANCE_VOICE_DEFAULT)")
    voice.add_argument("--no-voice", dest="voice", action="store_false",
                       help="a silent video (subtitles and pacing stay)")
    render.set_defaults(handler=cmd_render)


class ProgressBar:
    """One line on a terminal, redrawn in place; plain lines when not a terminal."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
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

    def interrupt(self, text: str) -> None:
        """Print ``text`` on its own lines (stdout), then carry on with the progress line."""
        if self.tty and self.last:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
        print(text, flush=True)
        if self.tty and self.last:
            self.stream.write(self.last[:200])
            self.stream.flush()


def steps_text(job: ProcessingJob) -> str:
    lines = ["Solution:", *(f"  {number}. {step}" for number, step in enumerate(job.steps, start=1))]
    if job.answer_text:
        lines.append(f"  Answer: {job.answer_text}")
    return "\n".join(lines)


def cmd_render(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    # The job goes into the data directory's store, as every job does (``appliance jobs list``
    # shows it). Its owner runs it: a server running on it, another render, or, when none is
    # running, this process, with one slot and no warm container (it would be thrown away).
    settings = settings.replace(warm_pool_size=0, render_slots=1)
    return asyncio.run(_render(settings, args))


async def _render(settings: Settings, args: argparse.Namespace) -> int:
    # Imported here, not at the top: the service and its parts (the built-in solver's SymPy,
    # docker-py, boto3, APScheduler) cost about 1.2 s (``python -X importtime``, cumulative),
    # which ``appliance --help`` and every other command would pay.
    from appliance.assemble import build_appliance
    from appliance.service import Channel

    appliance = build_appliance(settings, run_maintenance=False)
    await appliance.start()
    if not appliance.owns_data_dir:
        print(f"Handing the job to the appliance already running on {settings.data_dir}: "
              f"{appliance.data_dir_owner() or 'another process'}", file=sys.stderr)
    progress = ProgressBar()
    ended = False  # our own job reached its end (not interrupted)
    try:
        try:
            response = await appliance.submit(args.problem, Channel("cli"), quality=args.quality, voice=args.voice)
        except QueueFull as exc:
            print(f"appliance: {exc}", file=sys.stderr)
            return EXIT_BUSY
        except (ValidationError, LimitExceeded) as exc:
            print(f"appliance: {exc}", file=sys.stderr)
            return EXIT_USAGE
        job = await appliance.get(response.job_id)
        try:
            steps_shown = False
            async for job in appliance.watch(response.job_id, poll_interval_s=1.0):
                if not args.json:
                    if job.steps and not steps_shown:
                        # The solution as text as soon as it is known, while the video renders.
                        progress.interrupt(steps_text(job))
                        steps_shown = True
                    progress.show(job)
        except asyncio.CancelledError:
            # Ctrl-C: nobody is left to collect the video, so the data directory's owner (maybe
            # a server) must not spend a render slot on it.
            with contextlib.suppress(ApplianceError):
                await appliance.cancel(response.job_id)
            raise
        ended = True
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
            spoken = (f"narrated by {job.voice_engine} ({job.voice_language})" if job.voice_engine not in (None, "none")
                      else "silent")
            print(f"Voice: {spoken}; {len(job.subtitles)} subtitle(s)")
            print(f"Video: {output.resolve()} ({output.stat().st_size} bytes)")
        return EXIT_OK
    finally:
        others = appliance.store.running_count() if ended and appliance.owns_data_dir else 0
        if others:
            # This process is the data directory's owner and runs jobs other processes submitted.
            print(f"Finishing {others} job(s) submitted by other processes (up to "
                  f"{settings.shutdown_grace_s}s; after that they wait for the next owner)", file=sys.stderr)
        await appliance.stop()
