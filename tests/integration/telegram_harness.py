"""Shared pieces of the Telegram tests: a bot wired to a real Appliance and the Bot API stub.

``running_bot`` starts an ``Appliance`` (fakes from tests/unit/fakes.py unless the real
parts are asked for) and a ``TelegramFrontend`` whose ``telegram_api_base`` points at a
``BotApiStub``; ``Mp4Sandbox`` is the FakeSandbox with a real, decodable MP4 (made with
PyAV), so delivery, thumbnails and the uploaded bytes can be checked for real.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from appliance.assemble import build_appliance
from appliance.config import Settings
from appliance.models import ProcessingJob
from appliance.service import Appliance
from frontends.telegram import TelegramFrontend
from tests.integration.bot_api_stub import BotApiStub
from tests.unit.fakes import FakeGenerator, FakeResult, FakeSandbox, FakeStorage

TOKEN = "123:ABC"


def make_mp4(path: Path, seconds: float = 1.0, width: int = 320, height: int = 180, fps: int = 15) -> Path:
    """A small real H.264 MP4: a bar moving over a gradient (so frames differ)."""
    with av.open(str(path), "w") as container:
        stream: Any = container.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, fps)
        frames = max(1, int(seconds * fps))
        for index in range(frames):
            image = np.zeros((height, width, 3), dtype=np.uint8)
            image[:, :, 1] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
            x = int(index / frames * (width - 20))
            image[:, x:x + 20, 0] = 255
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


class Mp4Sandbox(FakeSandbox):
    """FakeSandbox whose videos are real MP4s; ``delay_s`` makes each render take a while."""

    def __init__(self, video: Path, delay_s: float = 0.0, hold: threading.Event | None = None,
                 outcomes: list[str] | None = None) -> None:
        super().__init__(outcomes=outcomes, hold=hold)
        self.video = video
        self.delay_s = delay_s

    def render(self, code: str, scene_name: str, quality: str = "medium", prelude: str = "",
               voice: object = None) -> FakeResult:
        result = super().render(code, scene_name, quality, prelude, voice=voice)  # type: ignore[arg-type]
        if self.delay_s:
            time.sleep(self.delay_s)
        if result.ok and result.video_path is not None:
            shutil.copy(self.video, result.video_path)
            result.video_size_bytes = result.video_path.stat().st_size
            result.duration_s = 0.5
            # What the appliance's bounded checker would have read from this file.
            with av.open(str(self.video)) as container:
                stream = container.streams.video[0]
                result.video_width, result.video_height = stream.width, stream.height
                result.video_duration_s = float(container.duration or 0) / 1_000_000
        return result


def telegram_settings(data_dir: Path, stub: BotApiStub, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": data_dir, "render_slots": 1, "warm_pool_size": 0,
                              "render_quality": "low", "telegram_bot_token": stub.token,
                              "telegram_api_base": stub.api_base}
    values.update(overrides)
    return Settings.from_env({}, **values)


@dataclass
class Harness:
    appliance: Appliance
    frontend: TelegramFrontend
    stub: BotApiStub
    storage: Any

    async def jobs_of_chat(self, chat_id: int) -> list[ProcessingJob]:
        session = await self.appliance.session_for_chat(chat_id)
        return sorted(await self.appliance.jobs_of(session.session_id), key=lambda job: job.created_at)

    def idle(self) -> bool:
        """Every update sent so far was fetched and its handling has finished: nothing more can
        come of it. (With concurrent updates each one is handled in a task the application
        tracks; the fetcher creates that task as soon as it takes the update off the queue.)"""
        application = self.frontend.application
        # python-telegram-bot (22.x) has no public way to ask whether update handlers are still
        # running; its own bookkeeping set is read here, in the test harness only.
        handling = [task for task in application._Application__create_task_tasks if not task.done()]  # type: ignore[attr-defined]
        return not self.stub._pending and application.update_queue.empty() and not handling


@contextlib.asynccontextmanager
async def running_bot(
    data_dir: Path,
    stub: BotApiStub,
    *,
    generator: Any = None,
    sandbox: Any = None,
    real_parts: bool = False,
    frontend_kwargs: dict[str, Any] | None = None,
    start_frontend: bool = True,
    **settings_overrides: Any,
) -> AsyncIterator[Harness]:
    settings = telegram_settings(data_dir, stub, **settings_overrides)
    storage: Any = None
    if real_parts:
        appliance = build_appliance(settings, run_maintenance=False)
    else:
        storage = FakeStorage(data_dir / "fake-videos")
        appliance = build_appliance(settings, source=generator or FakeGenerator(), renderer=sandbox or FakeSandbox(),
                                    storage=storage, run_maintenance=False)
    await appliance.start()
    kwargs: dict[str, Any] = {"poll_timeout_s": 2, "send_retry_delays_s": (0.2, 0.5)}
    kwargs.update(frontend_kwargs or {})
    frontend = TelegramFrontend(appliance, settings, **kwargs)
    try:
        if start_frontend:
            await frontend.start()
        yield Harness(appliance, frontend, stub, storage if storage is not None else appliance.storage)
    finally:
        await frontend.stop()
        await appliance.stop()


@contextlib.contextmanager
def sample_video(seconds: float = 1.0) -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        yield make_mp4(Path(tmp) / "sample.mp4", seconds=seconds)


LOAD_REFUSALS = ("already have", "in the last hour")


@dataclass
class ChatLoad:
    """What happened when many chats wrote at once (see ``many_chats_at_once``)."""

    spread_s: float  # from the first message sent to the last
    first_answer_s: dict[int, float]  # per chat: its message sent -> the bot's first message to it
    settled_s: float  # until every chat had its video or an explained refusal
    outcomes: dict[str, int]  # delivered / refused / anything else, by count
    api_calls: int


async def many_chats_at_once(data_dir: Path, chats: int = 50, over_s: float = 0.95) -> ChatLoad:
    """``chats`` chats each send one problem, spread over ``over_s`` seconds, to a real bot
    (python-telegram-bot over HTTP to the Bot API stand-in, its rate limiter, the appliance's
    store, queue, worker and events; the render copies a real MP4). Returns what happened."""
    video = make_mp4(data_dir.parent / f"{data_dir.name}-scene.mp4", seconds=1.0)
    with BotApiStub() as stub:
        async with running_bot(data_dir, stub, sandbox=Mp4Sandbox(video), render_slots=2) as bot:
            chat_ids = [5000 + index for index in range(chats)]
            sent_at: dict[int, float] = {}

            def people() -> None:
                # The people write from their own thread, paced by the clock, whatever the
                # bot's event loop is busy with.
                started = time.monotonic()
                for index, chat_id in enumerate(chat_ids):
                    update = stub.send_text(chat_id, f"Solve {index + 2}x + 3 = {2 * index + 7}")
                    sent_at[chat_id] = stub.enqueued_at[update["update_id"]]
                    time.sleep(max(0.0, started + (index + 1) * over_s / chats - time.monotonic()))

            started = time.monotonic()
            sender = threading.Thread(target=people)  # not the executor: the bot needs its threads
            sender.start()
            while sender.is_alive():
                await asyncio.sleep(0.05)

            await stub.wait_for(lambda: all(stub.calls_to("sendMessage", c) for c in chat_ids), timeout=30)
            first_answer = {c: stub.calls_to("sendMessage", c)[0].at - sent_at[c] for c in chat_ids}

            def settled(chat_id: int) -> bool:
                texts = stub.bot_texts(chat_id)
                return any("Done" in text or any(r in text for r in LOAD_REFUSALS) for text in texts)

            await stub.wait_for(lambda: all(settled(c) for c in chat_ids), timeout=120, interval=0.2)
            settled_s = time.monotonic() - started
            outcomes: dict[str, int] = {}
            for chat_id in chat_ids:
                jobs = await bot.jobs_of_chat(chat_id)
                if not jobs and any(r in text for text in stub.bot_texts(chat_id) for r in LOAD_REFUSALS):
                    outcomes["refused"] = outcomes.get("refused", 0) + 1
                for job in jobs:
                    outcomes[job.status.value] = outcomes.get(job.status.value, 0) + 1
            return ChatLoad(max(sent_at.values()) - min(sent_at.values()), first_answer, settled_s, outcomes,
                            len(stub.calls))
