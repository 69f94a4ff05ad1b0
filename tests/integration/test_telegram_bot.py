"""The Telegram bot in polling mode, end to end through the local Bot API stand-in.

Real parts: python-telegram-bot over HTTP to ``BotApiStub`` on 127.0.0.1, the real
``Appliance`` (store, queue, worker, pipeline, events). The generator, sandbox and
storage are the in-process fakes of tests/unit/fakes.py, with a sandbox that returns a
real MP4 (``Mp4Sandbox``), so these tests run without Docker; the same scenario with
the built-in solver and the Docker sandbox is tests/integration/test_telegram_docker.py.
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
from pathlib import Path

import av
import pytest

from appliance.errors import UnsupportedProblem
from appliance.fakes import FAKE_STEPS
from appliance.models import ProcessingStatus
from frontends.telegram.texts import t
from frontends.telegram.tracking import INFLIGHT_FILE
from tests.integration.bot_api_stub import BotApiStub
from tests.integration.telegram_harness import Mp4Sandbox, make_mp4, running_bot
from tests.unit.fakes import FakeGenerator, FakeScene

S = ProcessingStatus
PROBLEM = "Solve 2x + 3 = 11"

# The progress lines in the order a job goes through them.
PROGRESS_ORDER = ["in line", "Writing the scene", "Checking the scene", "Rendering the video",
                  "Preparing the video", "Sending the video", "Done"]


class SlowGenerator(FakeGenerator):
    """FakeGenerator that takes a while, so progress edits have something to show."""

    def __init__(self, delay_s: float, script: list | None = None) -> None:
        super().__init__(script)
        self.delay_s = delay_s

    def generate(self, problem_text: str, language: str | None, feedback: object = None) -> FakeScene:
        time.sleep(self.delay_s)
        return super().generate(problem_text, language, feedback)


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_mp4(tmp_path_factory.mktemp("video") / "scene.mp4", seconds=2.0)


@pytest.fixture
def stub():
    with BotApiStub() as server:
        yield server


def progress_index(text: str) -> int:
    for index, marker in enumerate(PROGRESS_ORDER):
        if marker in text.replace("In line", "in line"):
            return index
    raise AssertionError(f"not a progress text: {text!r}")


async def wait_done(stub: BotApiStub, chat_id: int, marker: str = "Done", timeout: float = 30) -> list[str]:
    await stub.wait_for(lambda: any(marker in text for text in stub.bot_texts(chat_id)), timeout)
    return stub.bot_texts(chat_id)


async def test_a_problem_becomes_status_edits_then_a_real_video_and_the_job_is_delivered(tmp_path, stub, video):
    sandbox = Mp4Sandbox(video, delay_s=1.8)
    async with running_bot(tmp_path, stub, generator=SlowGenerator(1.8), sandbox=sandbox) as bot:
        stub.send_text(42, PROBLEM)
        texts = await wait_done(stub, 42)

        calls = stub.chat_calls(42)
        first = calls[0]
        # Its place in line ("number 1"), unless a render slot took it before the answer went out.
        assert first.method == "sendMessage"
        assert "In line: number 1" in first.params["text"] or "Waiting in line" in first.params["text"]
        assert PROBLEM in first.params["text"]
        assert first.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"].startswith("cancel:")
        assert first.params["reply_parameters"]["message_id"]  # a reply to the person's message

        # One status message, edited in place, in the order of the job's life.
        edits = stub.calls_to("editMessageText", 42)
        assert len({call.params["message_id"] for call in edits}) == 1
        order = [progress_index(text) for text in texts if "step by step" not in text]
        assert order == sorted(order), texts
        assert len(set(order)) >= 4, texts  # queued, writing, rendering, done at least
        assert all(call.status == 200 for call in edits)  # never "message is not modified"
        assert "reply_markup" not in edits[-1].params  # the cancel button is gone at the end

        # The video: a real MP4, streamable, captioned with the problem and the checked answer.
        (upload,) = stub.calls_to("sendVideo", 42)
        data = upload.upload("video")
        assert data is not None and len(data) > 1000
        with av.open(io.BytesIO(data)) as container:
            assert container.streams.video and container.streams.video[0].codec_context.width == 320
        assert upload.params["supports_streaming"] is True
        assert upload.params["caption"] == f"{PROBLEM}\n\nAnswer: x = 4 (checked)"
        # Size and length as the appliance's checker read them; no thumbnail made from the video's
        # bytes in the bot's process (Telegram makes its own).
        assert (upload.params["width"], upload.params["height"], upload.params["duration"]) == (320, 180, 2)
        assert upload.upload("thumbnail") is None and "thumbnail" not in upload.params
        # The solution as text came first, in its own message, before the video.
        (steps,) = [call for call in calls if call.method == "sendMessage" and "step by step" in call.params["text"]]
        assert steps.params["text"].splitlines()[1:] == [f"{n}. {step}" for n, step in enumerate(FAKE_STEPS, 1)] + [
            "", "Answer: x = 4 (checked)"]
        assert calls.index(steps) < calls.index(upload)
        assert any(c.params.get("action") == "upload_video" for c in stub.calls_to("sendChatAction", 42))
        assert calls.index(upload) > 0 and stub.calls_to("editMessageText", 42)[-1].at >= upload.at

        # Delivered, and the video is gone.
        (job,) = await bot.jobs_of_chat(42)
        assert job.status is S.DELIVERED and job.video_key is None
        assert list(bot.storage.keys()) == []
        assert json.loads((tmp_path / INFLIGHT_FILE).read_text()) == {}


async def test_photos_stickers_voice_and_documents_get_a_short_text_only_answer(tmp_path, stub):
    async with running_bot(tmp_path, stub) as bot:
        stub.send_photo(11)
        stub.send_sticker(12)
        stub.send_voice(13)
        stub.send_document(14)
        stub.send_photo(15, language_code="de")
        for chat_id in (11, 12, 13, 14):
            await stub.wait_for(lambda c=chat_id: stub.bot_texts(c))
            assert stub.bot_texts(chat_id) == [t("en", "not_text", example="Solve 2x + 3 = 11")]
        await stub.wait_for(lambda: stub.bot_texts(15))
        assert stub.bot_texts(15)[0].startswith("Ich kann nur Aufgaben als Text lesen")
        # A photo album arrives as several updates: answered once.
        stub.send_photo(16)
        stub.send_photo(16)
        stub.send_photo(16)
        await stub.wait_for(lambda: stub.bot_texts(16))
        # Something later that is answered, then nothing left in hand: the album said all it will.
        stub.send_text(16, "/help")
        await stub.wait_for(lambda: len(stub.bot_texts(16)) >= 2)
        await stub.wait_for(bot.idle)
        texts = stub.bot_texts(16)
        assert texts.count(t("en", "not_text", example="Solve 2x + 3 = 11")) == 1, texts
        assert len(texts) == 2, texts
        assert bot.appliance.store.queue_length() == 0


async def test_a_different_kind_of_message_is_answered_even_within_the_quiet_period(tmp_path, stub):
    # A sticker, then a voice message and a photo seconds later: each kind gets its answer
    # (the flood guard shortens repeats of one kind, it never swallows another kind).
    async with running_bot(tmp_path, stub):
        stub.send_sticker(41)
        await stub.wait_for(lambda: len(stub.bot_texts(41)) == 1)
        stub.send_voice(41)
        await stub.wait_for(lambda: len(stub.bot_texts(41)) == 2)
        stub.send_photo(41)
        await stub.wait_for(lambda: len(stub.bot_texts(41)) == 3)
        assert set(stub.bot_texts(41)) == {t("en", "not_text", example="Solve 2x + 3 = 11")}


async def test_a_photo_whose_caption_is_a_problem_is_taken_as_the_problem(tmp_path, stub):
    async with running_bot(tmp_path, stub) as bot:
        stub.send_photo(42, caption="Solve 2x + 3 = 11")
        session = await bot.appliance.session_for_chat(42)
        await stub.wait_for(lambda: bot.appliance.store.list_jobs(session.session_id))
        jobs = bot.appliance.store.list_jobs(session.session_id)
        assert [job.problem_text for job in jobs] == ["Solve 2x + 3 = 11"]
        await stub.wait_for(lambda: stub.bot_texts(42))
        assert t("en", "not_text", example="Solve 2x + 3 = 11") not in stub.bot_texts(42)


async def test_edited_messages_are_not_run_again_but_noted(tmp_path, stub):
    async with running_bot(tmp_path, stub) as bot:
        stub.edit_text(21, "Solve 5x = 20 please, edited")
        await stub.wait_for(lambda: stub.bot_texts(21))
        assert stub.bot_texts(21) == [t("en", "edited")]
        assert await bot.jobs_of_chat(21) == []


async def test_problems_too_short_or_too_long_are_explained(tmp_path, stub):
    async with running_bot(tmp_path, stub) as bot:
        stub.send_text(31, "2+2")
        stub.send_text(32, "Solve " + "x + " * 1500 + "1 = 0")
        await stub.wait_for(lambda: stub.bot_texts(31) and stub.bot_texts(32))
        assert "at least 10 characters" in stub.bot_texts(31)[0]
        long_answer = stub.bot_texts(32)[0]
        assert "at most 5000 characters" in long_answer and "6011" in long_answer
        assert await bot.jobs_of_chat(31) == [] and await bot.jobs_of_chat(32) == []


async def test_text_that_is_not_valid_text_is_refused_in_the_chat_s_language(tmp_path, stub):
    async with running_bot(tmp_path, stub) as bot:
        stub.send_text(35, "Solve 2x + 3 = 11\x00")
        stub.send_text(36, "Löse \x1b[31m2x + 3 = 11", language_code="de")
        await stub.wait_for(lambda: stub.bot_texts(35) and stub.bot_texts(36))
        assert stub.bot_texts(35) == [t("en", "invalid_text", code="U+0000", position=18)]
        assert stub.bot_texts(36) == [t("de", "invalid_text", code="U+001B", position=6)]
        assert "U+001B" in stub.bot_texts(36)[0] and "Position 6" in stub.bot_texts(36)[0]
        assert await bot.jobs_of_chat(35) == [] and await bot.jobs_of_chat(36) == []
        assert bot.appliance.store.queue_length() == 0


async def test_groups_answer_only_mentions_replies_and_commands(tmp_path, stub, video):
    group = -1001
    async with running_bot(tmp_path, stub, sandbox=Mp4Sandbox(video)) as bot:
        stub.send_text(group, "Solve x + 1 = 2 for my homework")  # chatter, not for the bot
        stub.send_photo(group)
        # A command sent after them is answered; once nothing is left in hand, only it was.
        stub.send_text(group, "/help")
        await stub.wait_for(lambda: any("In a group" in text for text in stub.bot_texts(group)))
        await stub.wait_for(bot.idle)
        assert [call.method for call in stub.chat_calls(group)] == ["sendMessage"], stub.chat_calls(group)

        before_mention = len(stub.calls_to("sendMessage", group))
        mention = "@manim_test_bot Solve 3x = 12"
        stub.send_text(group, mention, entities=[{"type": "mention", "offset": 0, "length": 15}])
        await wait_done(stub, group)
        (job,) = await bot.jobs_of_chat(group)
        assert job.problem_text == "Solve 3x = 12"  # the mention is not part of the problem

        assert stub.calls_to("sendMessage", group)[before_mention].params["reply_parameters"]["message_id"]
        bot_message = max(key[1] for key in stub.messages if key[0] == group)
        stub.send_text(group, "And now solve 4x = 12", reply_to_bot_message=bot_message)
        await stub.wait_for(lambda: len(stub.calls_to("sendVideo", group)) == 2, timeout=30)

        helps = sum("In a group" in text for text in stub.bot_texts(group))
        stub.send_text(group, "/weather@other_bot")
        stub.send_text(group, "/help")
        await stub.wait_for(lambda: sum("In a group" in text for text in stub.bot_texts(group)) > helps)
        await stub.wait_for(bot.idle)
        assert not any("don't know that command" in text for text in stub.bot_texts(group))


async def test_floods_hit_the_hourly_limit_which_is_explained_once(tmp_path, stub, video):
    hold = threading.Event()
    async with running_bot(tmp_path, stub, sandbox=Mp4Sandbox(video, hold=hold),
                           max_submissions_per_hour=3, max_active_jobs_per_session=10) as bot:
        for index in range(6):
            stub.send_text(51, f"Solve x + {index} = 10 quickly")
        await stub.wait_for(lambda: any("in the last hour" in text for text in stub.bot_texts(51)))
        await stub.wait_for(bot.idle)  # all six handled: no second explanation can still come
        texts = stub.bot_texts(51)
        assert sum("in the last hour" in text for text in texts) == 1
        assert "3 problems" in next(text for text in texts if "in the last hour" in text)
        assert len(await bot.jobs_of_chat(51)) == 3
        hold.set()


async def test_the_active_limit_is_explained(tmp_path, stub, video):
    hold = threading.Event()
    async with running_bot(tmp_path, stub, sandbox=Mp4Sandbox(video, hold=hold)) as bot:
        stub.send_text(61, "Solve x + 1 = 10 first")
        stub.send_text(61, "Solve x + 2 = 10 second")
        await stub.wait_for(lambda: len([call for call in stub.calls_to("sendMessage", 61)
                                          if "step by step" not in call.params["text"]]) == 2)
        stub.send_text(61, "Solve x + 3 = 10 third")
        await stub.wait_for(lambda: any("already have 2 videos" in text for text in stub.bot_texts(61)))
        assert len(await bot.jobs_of_chat(61)) == 2
        hold.set()


async def test_a_full_queue_is_explained_with_the_sentence_every_frontend_uses(tmp_path, stub, video):
    from appliance.admission import QUEUE_FULL_MESSAGE

    hold = threading.Event()
    async with running_bot(tmp_path, stub, sandbox=Mp4Sandbox(video, hold=hold), render_slots=1,
                           max_queued_jobs=1) as bot:
        store = bot.appliance.store
        stub.send_text(81, "Solve x + 1 = 10 first")  # taken by the one render slot, held there
        await stub.wait_for(lambda: stub.calls_to("sendMessage", 81) and store.running_count() == 1)
        stub.send_text(82, "Solve x + 2 = 10 second")  # waits in the queue, which is now full
        await stub.wait_for(lambda: stub.calls_to("sendMessage", 82) and store.queue_length() == 1)
        stub.send_text(83, "Solve x + 3 = 10 third")
        await stub.wait_for(lambda: any(QUEUE_FULL_MESSAGE in text for text in stub.bot_texts(83)))
        assert not await bot.jobs_of_chat(83)
        hold.set()


async def test_start_offers_examples_that_run_when_tapped(tmp_path, stub, video):
    async with running_bot(tmp_path, stub, sandbox=Mp4Sandbox(video)):
        stub.send_text(71, "/start")
        await stub.wait_for(lambda: stub.calls_to("sendMessage", 71))
        start = stub.calls_to("sendMessage", 71)[0]
        assert "short explanatory videos" in start.params["text"]
        buttons = [row[0] for row in start.params["reply_markup"]["inline_keyboard"]]
        assert [b["text"] for b in buttons] == ["Solve 2x + 3 = 11", "Find the derivative of x^2 * sin(x)"]
        message_id = next(key[1] for key in stub.messages if key[0] == 71)
        stub.press_button(71, message_id, buttons[1]["callback_data"])
        await stub.wait_for(lambda: stub.calls_to("sendVideo", 71), timeout=30)
        assert stub.calls_to("answerCallbackQuery")
        assert stub.calls_to("sendVideo", 71)[0].params["caption"].startswith("Find the derivative")


async def test_language_help_history_status_and_cancel(tmp_path, stub, video):
    hold = threading.Event()
    sandbox = Mp4Sandbox(video, hold=hold)
    async with running_bot(tmp_path, stub, sandbox=sandbox) as bot:
        chat = 81
        stub.send_text(chat, "/history")
        await stub.wait_for(lambda: stub.bot_texts(chat))
        assert stub.bot_texts(chat)[-1] == t("en", "history_empty")

        stub.send_text(chat, "/language")
        await stub.wait_for(lambda: len(stub.bot_texts(chat)) == 2)
        prompt = stub.calls_to("sendMessage", chat)[-1]
        codes = [b["callback_data"] for row in prompt.params["reply_markup"]["inline_keyboard"] for b in row]
        assert codes == ["lang:en", "lang:es", "lang:ru", "lang:de", "lang:fr"]
        prompt_id = max(key[1] for key in stub.messages if key[0] == chat)
        stub.press_button(chat, prompt_id, "lang:de")
        await stub.wait_for(lambda: stub.calls_to("editMessageText", chat))
        assert stub.calls_to("editMessageText", chat)[-1].params["text"] == t("de", "language_set")
        session = await bot.appliance.session_for_chat(chat)
        assert session.language_preference == "de"

        stub.send_text(chat, "/help")
        await stub.wait_for(lambda: "Schick eine Matheaufgabe" in stub.bot_texts(chat)[-1])

        stub.send_text(chat, "Solve 7x = 49 for me")
        await asyncio.to_thread(sandbox.started.wait, 10)
        stub.send_text(chat, "/status")
        await stub.wait_for(lambda: "Rendere das Video" in stub.bot_texts(chat)[-1])
        stub.send_text(chat, "/cancel")
        await stub.wait_for(lambda: stub.bot_texts(chat)[-1] == t("de", "cancelled_some", count=1))
        hold.set()
        await stub.wait_for(lambda: any("abgebrochen" in text and "❌" in text for text in stub.bot_texts(chat)))
        (job,) = await bot.jobs_of_chat(chat)
        assert job.cancel_requested and job.status is not S.DELIVERED
        assert stub.calls_to("sendVideo", chat) == []

        stub.send_text(chat, "/history")
        await stub.wait_for(lambda: stub.bot_texts(chat)[-1].startswith(t("de", "history_title")))
        assert "Solve 7x = 49 for me" in stub.bot_texts(chat)[-1]


async def test_the_cancel_button_cancels_that_job(tmp_path, stub, video):
    hold = threading.Event()
    async with running_bot(tmp_path, stub, sandbox=Mp4Sandbox(video, hold=hold)) as bot:
        stub.send_text(91, "Solve x - 1 = 10 and cancel")
        await stub.wait_for(lambda: stub.calls_to("sendMessage", 91))
        status = stub.calls_to("sendMessage", 91)[0]
        status_id = max(key[1] for key in stub.messages if key[0] == 91)
        stub.press_button(91, status_id, status.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
        await stub.wait_for(lambda: stub.calls_to("answerCallbackQuery"))
        assert stub.calls_to("answerCallbackQuery")[0].params["text"] == t("en", "status_cancelling")
        hold.set()
        await wait_done(stub, 91, marker="it was cancelled")
        (job,) = await bot.jobs_of_chat(91)
        # FAILED, or READY when the render finished first (then the bot does not send it).
        assert job.cancel_requested and job.status in (S.FAILED, S.READY)
        assert stub.calls_to("sendVideo", 91) == []
        # Someone else's button is refused.
        stub.press_button(92, 1, f"cancel:{job.job_id}")
        await stub.wait_for(lambda: any(c.params.get("text") == t("en", "not_yours")
                                        for c in stub.calls_to("answerCallbackQuery")))


async def test_a_failed_job_is_one_friendly_sentence(tmp_path, stub):
    generator = FakeGenerator([UnsupportedProblem("no idea what 'blorp' means\nTraceback: ...")])
    async with running_bot(tmp_path, stub, generator=generator):
        stub.send_text(101, "Blorp the glorp by seven")
        texts = await wait_done(stub, 101, marker="❌")
        final = texts[-1]
        assert final.endswith('I did not understand it as a math problem I can draw; try rephrasing it, '
                              'e.g. "Solve 2x + 3 = 11".')
        assert "Traceback" not in final and "blorp" not in final.split("\n", 1)[1]


async def test_a_render_timeout_names_its_reason_class(tmp_path, stub, video):
    sandbox = Mp4Sandbox(video, outcomes=["timeout"])
    async with running_bot(tmp_path, stub, sandbox=sandbox, max_attempts=1):
        stub.send_text(102, "Solve x^2 = 16 slowly")
        texts = await wait_done(stub, 102, marker="❌")
        assert texts[-1].endswith("Sorry, I couldn't make this video: the video took too long to render.")


async def test_a_failing_upload_is_retried_then_delivered(tmp_path, stub, video):
    stub.fail("sendVideo", times=2, error_code=502, description="Bad Gateway")
    async with running_bot(tmp_path, stub, sandbox=Mp4Sandbox(video)) as bot:
        stub.send_text(111, PROBLEM)
        await wait_done(stub, 111)
        uploads = stub.calls_to("sendVideo", 111)
        assert [call.status for call in uploads] == [502, 502, 200]
        (job,) = await bot.jobs_of_chat(111)
        assert job.status is S.DELIVERED


async def test_an_upload_that_keeps_failing_is_reported_with_a_link_and_not_marked_delivered(tmp_path, stub, video):
    stub.fail("sendVideo", times=3, error_code=500)
    async with running_bot(tmp_path, stub, sandbox=Mp4Sandbox(video)) as bot:
        stub.send_text(112, PROBLEM)
        texts = await wait_done(stub, 112, marker="could not send it")
        assert "(a network error)" in texts[-1] and "http://127.0.0.1/videos/" in texts[-1]
        assert len(stub.calls_to("sendVideo", 112)) == 3
        (job,) = await bot.jobs_of_chat(112)
        assert job.status is S.READY and bot.storage.exists(job.video_key)


async def test_flood_waits_on_edits_and_uploads_never_reach_the_person(tmp_path, stub, video):
    stub.fail("editMessageText", times=1, error_code=429, description="Too Many Requests: retry after 1",
              retry_after=1)
    stub.fail("sendVideo", times=1, error_code=429, description="Too Many Requests: retry after 1", retry_after=1)
    async with running_bot(tmp_path, stub, sandbox=Mp4Sandbox(video)) as bot:
        stub.send_text(113, PROBLEM)
        texts = await wait_done(stub, 113)
        assert not any("Too Many" in text or "retry" in text.lower() for text in texts)
        (job,) = await bot.jobs_of_chat(113)
        assert job.status is S.DELIVERED


async def test_a_video_over_the_upload_limit_is_sent_as_a_link(tmp_path, stub, video):
    async with running_bot(tmp_path, stub, sandbox=Mp4Sandbox(video),
                           frontend_kwargs={"max_upload_bytes": 1000}) as bot:
        stub.send_text(121, PROBLEM)
        await wait_done(stub, 121)
        assert stub.calls_to("sendVideo", 121) == []
        link = next(text for text in stub.bot_texts(121) if "too large for Telegram" in text)
        assert "http://127.0.0.1/videos/" in link and "Answer: x = 4 (checked)" in link
        (job,) = await bot.jobs_of_chat(121)
        assert job.status is S.READY  # the link is the way to it; it expires with the READY window


async def test_a_person_s_telegram_language_is_used_for_a_new_chat(tmp_path, stub, video):
    async with running_bot(tmp_path, stub, sandbox=Mp4Sandbox(video)) as bot:
        stub.send_text(131, "Решите 2x + 3 = 11", language_code="ru")
        texts = await wait_done(stub, 131, marker="Готово")
        assert "В очереди: номер 1" in texts[0] or "Ждёт в очереди" in texts[0]
        assert stub.calls_to("sendVideo", 131)[0].params["caption"].endswith("Ответ: x = 4 (проверен)")
        session = await bot.appliance.session_for_chat(131)
        assert session.language_preference == "ru"


async def test_jobs_in_flight_are_picked_up_again_after_a_restart_of_the_bot(tmp_path, stub, video):
    hold = threading.Event()
    sandbox = Mp4Sandbox(video, hold=hold)
    async with running_bot(tmp_path, stub, sandbox=sandbox) as bot:
        stub.send_text(141, PROBLEM)
        await stub.wait_for(lambda: stub.calls_to("sendMessage", 141))
        await asyncio.to_thread(sandbox.started.wait, 10)
        await bot.frontend.stop()  # the bot goes away while the job renders
        assert list(json.loads((tmp_path / INFLIGHT_FILE).read_text())) == [(await bot.jobs_of_chat(141))[0].job_id]
        hold.set()
        await stub.wait_for(lambda: bot.appliance.store.list_jobs(
            bot.appliance.store.get_or_create_session_for_chat("141").session_id)[0].status is S.READY)
        assert stub.calls_to("sendVideo", 141) == []

        from frontends.telegram import TelegramFrontend

        again = TelegramFrontend(bot.appliance, bot.appliance.settings, poll_timeout_s=2)
        await again.start()
        try:
            await wait_done(stub, 141)
            status_ids = {call.params["message_id"] for call in stub.calls_to("editMessageText", 141)}
            assert len(status_ids) == 1  # the same status message, edited after the restart
            (job,) = await bot.jobs_of_chat(141)
            assert job.status is S.DELIVERED
        finally:
            await again.stop()


async def test_other_chats_are_answered_while_one_chat_has_a_long_render(tmp_path, stub, video):
    hold = threading.Event()
    async with running_bot(tmp_path, stub, sandbox=Mp4Sandbox(video, hold=hold)):
        stub.send_text(151, "Solve a long one: x^3 = 27")
        await stub.wait_for(lambda: stub.calls_to("sendMessage", 151))
        stub.send_text(152, "/help")
        stub.send_text(153, "Solve another one: 2x = 8")
        await stub.wait_for(lambda: stub.calls_to("sendMessage", 152) and stub.calls_to("sendMessage", 153))
        # Answered while chat 151's render is still held: they did not wait for it.
        assert not hold.is_set() and stub.calls_to("sendVideo", 151) == []
        hold.set()


async def test_voice_is_switched_per_chat_and_the_next_video_is_silent(tmp_path, stub, video):
    sandbox = Mp4Sandbox(video)
    async with running_bot(tmp_path, stub, sandbox=sandbox) as bot:
        stub.send_text(77, "/voice")
        await stub.wait_for(lambda: any("silent" in text for text in stub.bot_texts(77)), 10)
        stub.send_text(77, PROBLEM)
        await wait_done(stub, 77)
        (job,) = await bot.jobs_of_chat(77)
        assert job.voice is False and sandbox.voices[-1] is not None and sandbox.voices[-1].enabled is False
        stub.send_text(77, "/voice on")
        await stub.wait_for(lambda: any("will be narrated" in text for text in stub.bot_texts(77)), 10)
        stub.send_text(77, "Solve 5x - 1 = 9")
        await stub.wait_for(lambda: len(stub.calls_to("sendVideo", 77)) == 2, 30)
        assert sandbox.voices[-1] is not None and sandbox.voices[-1].enabled is True
        # Another chat keeps the appliance's default.
        stub.send_text(78, PROBLEM)
        await wait_done(stub, 78)
        (other,) = await bot.jobs_of_chat(78)
        assert other.voice is True


async def test_in_a_group_only_the_asker_or_an_admin_can_cancel_a_video(tmp_path, stub, video):
    group, asker, other, admin = -1009, 501, 502, 503
    stub.admins[group] = {admin}
    hold = threading.Event()
    async with running_bot(tmp_path, stub, sandbox=Mp4Sandbox(video, hold=hold)) as bot:
        try:
            mention = "@manim_test_bot Solve x - 1 = 10"
            for user in (asker, asker):
                stub.send_text(group, mention, user_id=user, entities=[{"type": "mention", "offset": 0,
                                                                         "length": 15}])

            def buttons() -> list[str]:
                return [call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
                        for call in stub.calls_to("sendMessage", group) if "reply_markup" in call.params]

            await stub.wait_for(lambda: len(buttons()) == 2, timeout=30)
            first, second = [await bot.appliance.get(data.removeprefix("cancel:")) for data in buttons()]

            def answers() -> list[str]:
                return [call.params.get("text") for call in stub.calls_to("answerCallbackQuery")]

            # Another member's press is refused, and the job goes on.
            stub.press_button(group, 1, f"cancel:{first.job_id}", user_id=other)
            await stub.wait_for(lambda: t("en", "not_your_job") in answers())
            refusal = stub.calls_to("answerCallbackQuery")[-1]
            assert refusal.params.get("show_alert") is True
            assert not (await bot.appliance.get(first.job_id)).cancel_requested
            assert [call.params["user_id"] for call in stub.calls_to("getChatMember")] == [other]
            # /cancel from that member cancels nothing of the asker's either.
            stub.send_text(group, "/cancel", user_id=other)
            await stub.wait_for(lambda: t("en", "nothing_to_cancel") in stub.bot_texts(group))
            assert not (await bot.appliance.get(first.job_id)).cancel_requested

            # The asker may; so may an admin.
            stub.press_button(group, 1, f"cancel:{first.job_id}", user_id=asker)
            await stub.wait_for(lambda: (t("en", "status_cancelling") in answers()))
            stub.press_button(group, 2, f"cancel:{second.job_id}", user_id=admin)
            await stub.wait_for(lambda: answers().count(t("en", "status_cancelling")) == 2)
            for job in (first, second):
                now = await bot.appliance.get(job.job_id)
                assert now.cancel_requested or now.failure_reason == "cancelled", now
        finally:
            hold.set()


async def test_a_chat_sending_a_flood_of_commands_is_answered_a_bounded_number_of_times(tmp_path, stub):
    async with running_bot(tmp_path, stub, telegram_commands_per_minute=5):
        for _ in range(40):
            stub.send_text(61, "/help")
        stub.send_text(62, "/help")  # another chat is answered all the same
        await stub.wait_for(lambda: stub.bot_texts(62))
        # Five answers and one notice (told once), not forty answers.
        await stub.wait_for(lambda: any(t("en", "too_many_commands") in text for text in stub.bot_texts(61)))
        await stub.wait_for(lambda: len(stub.bot_texts(61)) >= 6)
        stub.send_text(62, "/help")  # every earlier update has been taken by now
        await stub.wait_for(lambda: len(stub.bot_texts(62)) == 2)
        texts = stub.bot_texts(61)
        assert sum(t("en", "too_many_commands") in text for text in texts) == 1
        assert len(texts) == 6, texts
