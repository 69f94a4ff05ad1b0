"""Webhook mode through the whole server: ``create_app`` on uvicorn (127.0.0.1), the bot
built without an updater, the webhook registered with the stand-in at start-up, and
updates POSTed to ``/telegram/webhook`` the way Telegram sends them.

Generator, sandbox and storage are the fakes (a real MP4 is copied), as in
test_telegram_bot.py.
"""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from appliance.assemble import build_appliance
from appliance.models import ProcessingStatus
from frontends.telegram.webhook import SECRET_FILE, SECRET_HEADER, WEBHOOK_PATH
from tests.integration import server_fixtures
from tests.integration.bot_api_stub import BotApiStub
from tests.integration.telegram_harness import Mp4Sandbox, make_mp4
from tests.unit.fakes import FakeGenerator, FakeStorage

S = ProcessingStatus
PUBLIC_URL = "https://bot.example.test/telegram/webhook"
PROBLEM = "Solve 2x + 3 = 11"


@pytest.fixture
def stub() -> Iterator[BotApiStub]:
    with BotApiStub() as server:
        yield server


@pytest.fixture
def server(tmp_path: Path, stub: BotApiStub) -> Iterator[server_fixtures.LiveServer]:
    video = make_mp4(tmp_path / "scene.mp4")

    def make_appliance(settings):
        return build_appliance(settings, source=FakeGenerator(), renderer=Mp4Sandbox(video),
                               storage=FakeStorage(tmp_path / "videos"), run_maintenance=False)

    with server_fixtures.running_server(
        tmp_path / "data", make_appliance, web_ui=False, render_slots=1,
        telegram_bot_token=stub.token, telegram_mode="webhook", telegram_webhook_url=PUBLIC_URL,
        telegram_api_base=stub.api_base,
    ) as live:
        yield live


def post(live: server_fixtures.LiveServer, body: bytes | str, secret: str | None) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    return httpx.post(live.url(WEBHOOK_PATH), content=body, headers=headers, timeout=10)


async def test_start_up_registers_the_webhook_with_a_generated_secret_kept_0600(server, stub):
    (call,) = stub.calls_to("setWebhook")
    assert call.params["url"] == PUBLIC_URL
    secret_file = server.settings.data_dir / SECRET_FILE
    assert call.params["secret_token"] == secret_file.read_text().strip()
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert set(call.params["allowed_updates"]) == {"message", "edited_message", "callback_query"}
    assert stub.calls_to("deleteWebhook") == []  # that is polling's start-up


async def test_an_update_with_the_right_secret_is_processed_to_a_delivered_video(server, stub):
    update = stub.make_message(201, text=PROBLEM)
    response = await asyncio.to_thread(post, server, json.dumps(update), stub.webhook_secret)
    assert response.status_code == 200 and response.json() == {"ok": True}
    await stub.wait_for(lambda: any("Done" in text for text in stub.bot_texts(201)), timeout=30)
    assert stub.calls_to("sendMessage", 201)[0].params["text"].startswith(f"📝 {PROBLEM}")
    (upload,) = stub.calls_to("sendVideo", 201)
    assert upload.upload("video")
    session = await server.appliance.session_for_chat(201)
    (job,) = await server.appliance.jobs_of(session.session_id)
    assert job.status is S.DELIVERED


@pytest.mark.parametrize("secret", [None, "", "wrong-secret"])
async def test_a_wrong_or_missing_secret_gets_403_and_nothing_is_queued(server, stub, secret):
    frontend = server.app.state.telegram
    update = stub.make_message(202, text=PROBLEM)
    response = await asyncio.to_thread(post, server, json.dumps(update), secret)
    assert response.status_code == 403
    # A later update with the right secret, for the same chat, is answered; the refused one,
    # which came before it, produced nothing then or since.
    later = stub.make_message(202, text="/help")
    accepted = await asyncio.to_thread(post, server, json.dumps(later), stub.webhook_secret)
    assert accepted.status_code == 200
    await stub.wait_for(lambda: stub.bot_texts(202))
    assert frontend.webhook_accepted == 1 and frontend.webhook_refused == 1
    assert frontend.application.update_queue.qsize() == 0
    assert [call.method for call in stub.chat_calls(202)] == ["sendMessage"], stub.chat_calls(202)
    assert PROBLEM not in stub.bot_texts(202)[0]
    assert server.appliance.store.queue_length() == 0


@pytest.mark.parametrize("body", [
    b"{not json", b"[1, 2]", b'{"update_id": "7"}', b'{"update_id": 7, "message": {"chat": {"id": 1}}}',
    "\udcff".encode("utf-8", "surrogatepass"),
])
async def test_a_malformed_body_gets_400(server, stub, body):
    frontend = server.app.state.telegram
    response = await asyncio.to_thread(post, server, body, stub.webhook_secret)
    assert response.status_code == 400
    assert frontend.webhook_accepted == 0 and frontend.application.update_queue.qsize() == 0


async def test_bad_inputs_arrive_by_webhook_too(server, stub):
    for update in (stub.make_message(203, extra={"sticker": {
            "file_id": "s", "file_unique_id": "s", "type": "regular", "width": 1, "height": 1,
            "is_animated": False, "is_video": False}}), stub.make_message(204, text="/start")):
        response = await asyncio.to_thread(post, server, json.dumps(update), stub.webhook_secret)
        assert response.status_code == 200
    await stub.wait_for(lambda: stub.bot_texts(203) and stub.bot_texts(204))
    assert stub.bot_texts(203)[0].startswith("I can only read text problems")
    assert "short explanatory videos" in stub.bot_texts(204)[0]


async def test_polling_mode_has_no_webhook_route(tmp_path, stub):
    def make_appliance(settings):
        return build_appliance(settings, source=FakeGenerator(), renderer=Mp4Sandbox(Path("/nonexistent")),
                               storage=FakeStorage(tmp_path / "videos"), run_maintenance=False)

    with server_fixtures.running_server(tmp_path / "data", make_appliance, web_ui=False,
                                        telegram_bot_token=stub.token, telegram_api_base=stub.api_base) as live:
        response = await asyncio.to_thread(post, live, b"{}", "anything")
        assert response.status_code == 404
        assert stub.calls_to("deleteWebhook") and stub.calls_to("setWebhook") == []
