"""Following each job from its status message to its video, in the background.

A handler queues the job, sends the status message and hands over to ``JobTracker``:
one task per job watches it (``Appliance.watch``), keeps the status message current
(with its place in line while it waits), delivers the video when it is READY and marks
it DELIVERED only after Telegram confirmed the upload. Handlers therefore return at
once, and one person's long render never holds up anyone's messages.

The jobs being followed are written to ``telegram-inflight.json`` in the data
directory, so after a restart the bot picks them up again and still delivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from telegram import Bot

from appliance.errors import ApplianceError, NotFound
from appliance.models import ProcessingJob, ProcessingStatus
from appliance.service import Appliance
from frontends.telegram.delivery import (
    TELEGRAM_UPLOAD_LIMIT_BYTES,
    SendOutcome,
    reply_parameters,
    send_video_file,
    video_info,
)
from frontends.telegram.errors import TelegramError
from frontends.telegram.keyboards import cancel_markup
from frontends.telegram.progress import ChatThrottle, StatusMessage
from frontends.telegram.ratelimit import PeopleFirst
from frontends.telegram.texts import MESSAGE_LIMIT, caption, clip, status_line, status_message, steps_message, t

log = logging.getLogger(__name__)
S = ProcessingStatus
INFLIGHT_FILE = "telegram-inflight.json"


@dataclass
class Tracked:
    """What the bot needs to carry on with a job: where its status message is."""

    job_id: str
    chat_id: int
    message_id: int | None
    language: str
    reply_to: int | None = None
    steps_sent: bool = False  # the solution as text went out (once, before the video)
    requester: int | None = None  # the Telegram user who asked: in a group, their Cancel button is theirs

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tracked:
        return cls(str(data["job_id"]), int(data["chat_id"]),
                   int(data["message_id"]) if data.get("message_id") is not None else None,
                   str(data.get("language") or "en"),
                   int(data["reply_to"]) if data.get("reply_to") is not None else None,
                   bool(data.get("steps_sent", False)),
                   int(data["requester"]) if data.get("requester") is not None else None)


class JobTracker:
    def __init__(
        self,
        appliance: Appliance,
        bot: Callable[[], Bot],
        throttle: ChatThrottle,
        *,
        inflight_path: Path,
        max_upload_bytes: int = TELEGRAM_UPLOAD_LIMIT_BYTES,
        send_retry_delays_s: Sequence[float] = (2.0, 5.0),
        watch_poll_s: float = 2.0,
        position_refresh_s: float = 4.0,
        people_first: PeopleFirst | None = None,
    ) -> None:
        self.appliance = appliance
        self._bot = bot
        self.throttle = throttle
        self.inflight_path = inflight_path
        self.max_upload_bytes = max_upload_bytes
        self.send_retry_delays_s = tuple(send_retry_delays_s)
        self.watch_poll_s = watch_poll_s
        self.position_refresh_s = position_refresh_s
        self.people_first = people_first or PeopleFirst()
        self._records: dict[str, Tracked] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    # -- life --------------------------------------------------------------------------------

    def track(self, tracked: Tracked, shown_text: str | None = None) -> None:
        """Follow a job in the background (idempotent per job)."""
        self._records[tracked.job_id] = tracked
        self._save()
        if self._stopping or tracked.job_id in self._tasks:
            return
        task = asyncio.create_task(self._follow(tracked, shown_text), name=f"telegram-job-{tracked.job_id}")
        self._tasks[tracked.job_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(tracked.job_id, None))

    async def reattach(self) -> int:
        """Pick up the jobs that were being followed when the bot last stopped."""
        self._stopping = False  # a restarted frontend follows jobs again
        try:
            raw = json.loads(self.inflight_path.read_text(encoding="utf-8"))
            records = [Tracked.from_dict(entry) for entry in raw.values()]
        except FileNotFoundError:
            return 0
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("ignoring unreadable %s: %s", self.inflight_path.name, exc)
            return 0
        for record in records:
            self.track(record)
        if records:
            log.info("following %d Telegram job(s) again after a restart", len(records))
        return len(records)

    async def stop(self) -> None:
        """Stop following (the records stay on disk for the next start)."""
        self._stopping = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def requester_of(self, job_id: str) -> int | None:
        """The user who asked for a job being followed (None: not followed, or not known)."""
        record = self._records.get(job_id)
        return record.requester if record is not None else None

    @property
    def following(self) -> list[str]:
        return list(self._tasks)

    async def wait_idle(self, timeout_s: float) -> bool:
        """For tests and shutdown: wait until no job is being followed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self._tasks and loop.time() < deadline:
            await asyncio.sleep(0.05)
        return not self._tasks

    def _forget(self, job_id: str) -> None:
        if self._records.pop(job_id, None) is not None:
            self._save()

    def _save(self) -> None:
        # Small file, rewritten whole and atomically: a crash leaves the old or the new one.
        data = {job_id: asdict(record) for job_id, record in self._records.items()}
        tmp = self.inflight_path.with_name(self.inflight_path.name + ".tmp")
        try:
            self.inflight_path.parent.mkdir(parents=True, exist_ok=True)
            with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as out:
                json.dump(data, out)
            os.replace(tmp, self.inflight_path)
        except OSError as exc:
            log.warning("could not write %s: %s", self.inflight_path, exc)

    # -- one job -----------------------------------------------------------------------------

    async def _follow(self, tracked: Tracked, shown_text: str | None) -> None:
        lang = tracked.language
        markup = cancel_markup(tracked.job_id, lang)
        status = StatusMessage(self._bot(), tracked.chat_id, self.throttle, message_id=tracked.message_id,
                               text=shown_text, markup=markup if shown_text else None, reply_to=tracked.reply_to)
        current: ProcessingJob | None = None

        async def show(job: ProcessingJob) -> None:
            position = None
            if job.status is S.QUEUED:
                position = await asyncio.to_thread(self.appliance.queue_position, job.job_id)
                if job is not current:
                    return  # the job moved on while we asked: a newer snapshot is shown instead
            active = job.status is S.QUEUED or (job.status.is_in_flight and not job.cancel_requested)
            status.show(status_message(job.problem_text, status_line(job, lang, position)), markup if active else None)

        async def refresh_position() -> None:
            # Other jobs leaving the queue publish nothing for this one: ask for the place.
            while True:
                await asyncio.sleep(self.position_refresh_s)
                if current is not None and current.status is S.QUEUED:
                    await show(current)

        ticker = asyncio.create_task(refresh_position())
        try:
            jobs = self.appliance.watch(tracked.job_id, self.watch_poll_s)
            try:
                async for job in jobs:
                    current = job
                    if job.steps and not job.status.is_terminal:
                        await self._send_steps(job, tracked)
                    if shown_text and job.status is S.QUEUED:
                        continue  # the status message went out with its place; the ticker refreshes it
                    if not job.status.is_terminal and job.status is not S.READY:
                        await show(job)
            except NotFound:
                await status.finish(t(lang, "status_lost"))
                self._forget(tracked.job_id)
                return
            finally:
                ticker.cancel()
                await jobs.aclose()  # unsubscribe from the job's events now
            if current is None:
                return
            await self._conclude(current, tracked, status)
            self._forget(tracked.job_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("following job %s failed", tracked.job_id)
            with contextlib.suppress(Exception):
                await status.finish(t(lang, "internal_error"))
            self._forget(tracked.job_id)
        finally:
            await status.close()

    async def _conclude(self, job: ProcessingJob, tracked: Tracked, status: StatusMessage) -> None:
        lang = tracked.language
        if job.status is S.READY and job.cancel_requested:
            # Cancelled while rendering and finished anyway: the person asked not to get it.
            reason = t(lang, "reason_cancelled")
            await status.finish(status_message(job.problem_text, t(lang, "failed", reason=reason)))
        elif job.status is S.READY:
            await self._deliver(job, tracked, status)
        elif job.status is S.DELIVERED:
            await status.finish(status_message(job.problem_text, t(lang, "status_delivered")))
        else:  # FAILED, EXPIRED
            await status.finish(status_message(job.problem_text, status_line(job, lang)))

    async def _send_steps(self, job: ProcessingJob, tracked: Tracked) -> None:
        """The steps and the answer as text, as soon as the scene is written: the person reads
        the solution while the video renders. Once per job (remembered across restarts)."""
        if tracked.steps_sent:
            return
        tracked.steps_sent = True
        self._save()
        try:
            await self._bot().send_message(tracked.chat_id, steps_message(job, tracked.language),
                                           reply_parameters=reply_parameters(tracked.reply_to))
            self.throttle.sent(tracked.chat_id)
        except TelegramError as exc:
            log.warning("sending the steps of job %s failed: %s", job.job_id, exc)

    async def _deliver(self, job: ProcessingJob, tracked: Tracked, status: StatusMessage) -> None:
        bot, lang, chat_id = self._bot(), tracked.language, tracked.chat_id
        if job.steps:
            await self._send_steps(job, tracked)  # a job that was ready at once: steps still first
        status.show(status_message(job.problem_text, t(lang, "status_sending")))
        video = self.appliance.video_file(job)
        try:
            path = await asyncio.to_thread(video.__enter__)
        except (ApplianceError, OSError) as exc:
            log.warning("video of job %s is not available: %s", job.job_id, exc)
            reason = t(lang, "reason_video_missing")
            await status.finish(status_message(job.problem_text, t(lang, "failed", reason=reason)))
            return
        try:
            size = (await asyncio.to_thread(path.stat)).st_size
            if size > self.max_upload_bytes:
                outcome = SendOutcome(False, reason="sendfail_refused", too_large=True)
            else:
                # Size and length as the bounded checker read them: no byte of the video is parsed
                # here, in the process that holds the keys (Telegram makes its own thumbnail).
                info = video_info(job)
                outcome = await send_video_file(bot, chat_id, path, caption(job, lang), info,
                                                reply_to=tracked.reply_to, retry_delays_s=self.send_retry_delays_s)
        finally:
            await asyncio.to_thread(video.__exit__, None, None, None)

        if outcome.sent:
            self.throttle.sent(chat_id)
            try:
                await self.appliance.mark_delivered(job.job_id, keep_for_replay_s=0)
            except ApplianceError as exc:
                log.warning("job %s was sent but could not be marked delivered: %s", job.job_id, exc)
            await status.finish(status_message(job.problem_text, t(lang, "status_delivered")))
            return
        if outcome.blocked:
            return  # nobody to tell; the video expires with the READY window
        # Too big for a bot upload: the link is the delivery. The job stays READY, so the
        # video lives until the link is used or the READY window ends.
        if outcome.too_large and job.video_url and await self._send_link(bot, job, tracked):
            await status.finish(status_message(job.problem_text, t(lang, "status_link")))
            return
        report = t(lang, "send_failed", reason=t(lang, outcome.reason or "sendfail_error"))
        report += " " + (t(lang, "send_failed_link", url=job.video_url) if job.video_url
                         else t(lang, "send_failed_retry"))
        await status.finish(status_message(job.problem_text, report))

    async def _send_link(self, bot: Bot, job: ProcessingJob, tracked: Tracked) -> bool:
        lang = tracked.language
        expires = (job.video_expires_at or "")[:16].replace("T", " ")
        text = t(lang, "video_link", caption=caption(job, lang, limit=2000), url=job.video_url, expires=expires)
        for delay in (*self.send_retry_delays_s, None):
            try:
                await bot.send_message(tracked.chat_id, clip(text, MESSAGE_LIMIT))
                self.throttle.sent(tracked.chat_id)
                return True
            except TelegramError as exc:
                log.warning("sending the video link to %s failed: %s", tracked.chat_id, exc)
            if delay is not None:
                await asyncio.sleep(delay)
        return False
