"""The whole way with nothing faked: a person writes to the bot (polling, through the Bot API
stand-in), the built-in solver (no API key) writes the scene, the real Docker sandbox renders
it at quality "low", local storage keeps it, and the bot uploads a real MP4; the job ends
DELIVERED and the video file is deleted.
"""

from __future__ import annotations

import io
import time

import av
import pytest

from appliance.models import ProcessingStatus
from tests.integration.bot_api_stub import BotApiStub
from tests.integration.telegram_harness import running_bot

pytestmark = [pytest.mark.docker, pytest.mark.slow]
S = ProcessingStatus
PROBLEM = "Solve 2x + 3 = 11"


async def test_a_problem_sent_to_the_bot_comes_back_as_a_rendered_video(tmp_path):
    with BotApiStub() as stub:
        async with running_bot(tmp_path, stub, real_parts=True, render_quality="low") as bot:
            started = time.monotonic()
            stub.send_text(42, PROBLEM)
            await stub.wait_for(lambda: any("Done" in text or "❌" in text for text in stub.bot_texts(42)),
                                timeout=300, interval=0.2)
            texts = stub.bot_texts(42)
            assert "Done" in texts[-1], texts
            assert "in line" in texts[0].lower()
            (upload,) = stub.calls_to("sendVideo", 42)
            data = upload.upload("video")
            assert data is not None
            with av.open(io.BytesIO(data)) as container:
                stream = container.streams.video[0]
                assert stream.codec_context.width == 854 and stream.codec_context.height == 480
            assert upload.params["caption"].startswith(PROBLEM)
            assert "x = 4" in upload.params["caption"]
            (job,) = await bot.jobs_of_chat(42)
            assert job.status is S.DELIVERED and job.ai_provider_used == "builtin"
            assert job.video_key is None
            assert not any(bot.appliance.settings.videos_dir.rglob("*.mp4"))
            print(f"\nproblem to delivered video: {time.monotonic() - started:.1f}s (render "
                  f"{job.render_duration_seconds}s, {len(data)} bytes, {len(texts)} status texts)")
