"""Sending a finished video into a chat.

``send_video_file`` uploads the MP4 with ``send_video`` (streamable, captioned, with
its size and length and a JPEG thumbnail taken from the video), retrying network
faults and flood waits with backoff; it reports what happened instead of raising, so
the caller can mark the job DELIVERED only after a confirmed send and tell the person
otherwise. ``probe_video`` reads the size, length and a thumbnail with PyAV.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telegram import Bot, Message, ReplyParameters
from telegram.constants import ChatAction

from frontends.telegram.errors import Fault, TelegramError, classify

log = logging.getLogger(__name__)

TELEGRAM_UPLOAD_LIMIT_BYTES = 50 * 1024 * 1024  # the Bot API's limit for bot uploads
THUMBNAIL_PX = 320  # Telegram: at most 320 px wide and high, JPEG, under 200 kB
THUMBNAIL_MAX_BYTES = 200 * 1024
# Upload timeout: a generous floor plus time for a slow uplink (128 KiB/s).
UPLOAD_TIMEOUT_FLOOR_S = 60.0
UPLOAD_BYTES_PER_S = 128 * 1024
CHAT_ACTION_REPEAT_S = 4.5  # a chat action shows for about 5 seconds


@dataclass(frozen=True)
class VideoInfo:
    width: int | None = None
    height: int | None = None
    duration_s: int | None = None
    thumbnail: bytes | None = None


@dataclass(frozen=True)
class SendOutcome:
    sent: bool
    message: Message | None = None
    reason: str = ""  # a texts key ("sendfail_*") for the person when not sent
    blocked: bool = False  # the person blocked the bot: nobody to tell
    too_large: bool = False


def upload_timeout_s(size_bytes: int) -> float:
    return UPLOAD_TIMEOUT_FLOOR_S + size_bytes / UPLOAD_BYTES_PER_S


def probe_video(path: Path, thumbnail_at: float = 0.75) -> VideoInfo:
    """Width, height, whole seconds and a JPEG thumbnail of an MP4; empty on any failure
    (a missing thumbnail must never stop a delivery). Blocking: run it in a thread."""
    try:
        import av
    except ImportError:  # pragma: no cover - av is a dependency
        return VideoInfo()
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            width = stream.codec_context.width or None
            height = stream.codec_context.height or None
            duration: float | None = None
            if container.duration:
                duration = container.duration / av.time_base
            elif stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            thumbnail = _thumbnail(container, stream, (duration or 0.0) * thumbnail_at)
    except Exception as exc:
        log.info("could not read video %s: %s", path.name, exc)
        return VideoInfo()
    whole_seconds = max(1, round(duration)) if duration else None
    return VideoInfo(width, height, whole_seconds, thumbnail)


def _thumbnail(container: Any, stream: Any, at_s: float) -> bytes | None:
    """A frame from late in the video (where the answer is usually shown), as a small JPEG."""
    try:
        if at_s > 0 and stream.time_base:
            container.seek(int(at_s / stream.time_base), stream=stream, backward=True)
        frame = None
        for decoded in container.decode(stream):
            frame = decoded
            if decoded.time is None or decoded.time >= at_s:
                break
        if frame is None:
            return None
        image = frame.to_image()
        image.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
        for quality in (85, 70, 50, 30):
            out = io.BytesIO()
            image.convert("RGB").save(out, format="JPEG", quality=quality)
            if out.tell() <= THUMBNAIL_MAX_BYTES:
                return out.getvalue()
    except Exception as exc:
        log.info("no thumbnail: %s", exc)
    return None


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
    reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
    for attempt in range(attempts):
        try:
            async with chat_action(bot, chat_id):
                message = await bot.send_video(
                    chat_id, data, caption=caption, supports_streaming=True,
                    width=info.width, height=info.height, duration=info.duration_s,
                    thumbnail=info.thumbnail, filename=filename, reply_parameters=reply,
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
