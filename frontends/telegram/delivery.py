"""Sending a finished video into a chat.

``send_video_file`` uploads the MP4 with ``send_video`` (streamable, captioned, with
its size and length from the job: the bounded checker read them), retrying network
faults and flood waits with backoff; it reports what happened instead of raising, so
the caller can mark the job DELIVERED only after a confirmed send and tell the person
otherwise. Nothing here opens the video's bytes but to upload them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from telegram import Bot, Message, ReplyParameters
from telegram.constants import ChatAction

from appliance.models import ProcessingJob
from frontends.telegram.errors import Fault, TelegramError, classify

log = logging.getLogger(__name__)

TELEGRAM_UPLOAD_LIMIT_BYTES = 50 * 1024 * 1024  # the Bot API's limit for bot uploads
# Upload timeout: a generous floor plus time for a slow uplink (128 KiB/s).
UPLOAD_TIMEOUT_FLOOR_S = 60.0
UPLOAD_BYTES_PER_S = 128 * 1024
CHAT_ACTION_REPEAT_S = 4.5  # a chat action shows for about 5 seconds


@dataclass(frozen=True)
class VideoInfo:
    width: int | None = None
    height: int | None = None
    duration_s: int | None = None


@dataclass(frozen=True)
class SendOutcome:
    sent: bool
    message: Message | None = None
    reason: str = ""  # a texts key ("sendfail_*") for the person when not sent
    blocked: bool = False  # the person blocked the bot: nobody to tell
    too_large: bool = False


def upload_timeout_s(size_bytes: int) -> float:
    return UPLOAD_TIMEOUT_FLOOR_S + size_bytes / UPLOAD_BYTES_PER_S


def video_info(job: ProcessingJob) -> VideoInfo:
    """Width, height and whole seconds of a job's video, as the appliance's bounded checker read
    them from the file. The video came out of a sandbox: it is never parsed in this process,
    which holds the bot token (Telegram makes the thumbnail itself)."""
    seconds = job.video_duration_seconds
    return VideoInfo(job.video_width, job.video_height, max(1, round(seconds)) if seconds else None)


def reply_parameters(reply_to: int | None) -> ReplyParameters | None:
    """Answer the person's message when there is one, and still send if it was deleted."""
    return ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None


@contextlib.asynccontextmanager
async def chat_action(bot: Bot, chat_id: int, action: str = ChatAction.UPLOAD_VIDEO) -> AsyncIterator[None]:
    """Show "sending video…" in the chat for as long as the block runs."""

    async def repeat() -> None:
        while True:
            with contextlib.suppress(TelegramError):
                await bot.send_chat_action(chat_id, action)
            await asyncio.sleep(CHAT_ACTION_REPEAT_S)

    task = asyncio.create_task(repeat(), name=f"chat-action-{chat_id}")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def send_video_file(
    bot: Bot,
    chat_id: int,
    path: Path,
    caption: str,
    info: VideoInfo,
    *,
    reply_to: int | None = None,
    retry_delays_s: Sequence[float] = (2.0, 5.0),
    filename: str = "solution.mp4",
) -> SendOutcome:
    """Upload ``path`` with up to ``len(retry_delays_s) + 1`` attempts."""
    size = path.stat().st_size
    if size > TELEGRAM_UPLOAD_LIMIT_BYTES:
        return SendOutcome(False, reason="sendfail_refused", too_large=True)
    data = await asyncio.to_thread(path.read_bytes)
    timeout = upload_timeout_s(size)
    attempts = len(retry_delays_s) + 1
    reason = "sendfail_network"
    reply = reply_parameters(reply_to)
    for attempt in range(attempts):
        try:
            async with chat_action(bot, chat_id):
                message = await bot.send_video(
                    chat_id, data, caption=caption, supports_streaming=True,
                    width=info.width, height=info.height, duration=info.duration_s,
                    filename=filename, reply_parameters=reply,
                    write_timeout=timeout, read_timeout=timeout, connect_timeout=30, pool_timeout=30,
                )
            return SendOutcome(True, message)
        except TelegramError as exc:
            failure = classify(exc)
            fault = failure.fault
            if fault is Fault.FLOOD:
                wait = failure.retry_after_s
                reason = "sendfail_flood"
                log.info("sendVideo to %s: flood wait %.1fs (attempt %d/%d)", chat_id, wait, attempt + 1, attempts)
                if attempt + 1 < attempts:
                    await asyncio.sleep(wait + 0.5)
                continue
            if fault is Fault.BLOCKED:
                log.info("sendVideo to %s refused: %s", chat_id, exc)
                return SendOutcome(False, reason="sendfail_refused", blocked=True)
            if fault is Fault.TOO_LARGE:
                return SendOutcome(False, reason="sendfail_refused", too_large=True)
            if fault in (Fault.NOT_MODIFIED, Fault.MESSAGE_GONE, Fault.REFUSED):
                log.warning("sendVideo to %s refused: %s", chat_id, exc)
                return SendOutcome(False, reason="sendfail_refused")
            if fault not in (Fault.TIMED_OUT, Fault.NETWORK):
                log.warning("sendVideo to %s failed: %s", chat_id, exc)
                return SendOutcome(False, reason="sendfail_error")
            reason = "sendfail_timeout" if fault is Fault.TIMED_OUT else "sendfail_network"
            log.warning("sendVideo to %s failed (attempt %d/%d): %s", chat_id, attempt + 1, attempts, exc)
        if attempt + 1 < attempts:
            await asyncio.sleep(retry_delays_s[attempt])
    return SendOutcome(False, reason=reason)
