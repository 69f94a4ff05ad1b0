"""The Telegram frontend's small parts: texts, secrets, the rate limiter's priorities,
the edit throttle, video probing and group addressing (no network)."""

from __future__ import annotations

import asyncio
import os
import re
import stat
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from telegram import Message

from appliance.config import Settings
from appliance.errors import ConfigError
from appliance.models import ProcessingJob
from frontends.telegram.bot import file_base_url
from frontends.telegram.delivery import upload_timeout_s, video_info
from frontends.telegram.handlers import Handlers
from frontends.telegram.progress import ChatThrottle
from frontends.telegram.ratelimit import PeopleFirst, PriorityRateLimiter
from frontends.telegram.texts import (
    CAPTION_LIMIT,
    LANGUAGES,
    TEXTS,
    caption,
    failure_text,
    language_of,
    reason_key,
    steps_message,
    t,
)
from frontends.telegram.webhook import SECRET_FILE, webhook_secret

PLACEHOLDER = re.compile(r"{(\w+)}")
SESSION = "6ba7b810-9dad-41d1-80b4-00c04fd430c8"


def job(**changes) -> ProcessingJob:
    base = ProcessingJob.new(SESSION, "Solve 2x + 3 = 11")
    for name, value in changes.items():
        setattr(base, name, value)
    return base


def test_every_text_exists_in_every_language_with_the_same_placeholders():
    for key, table in TEXTS.items():
        assert set(table) == set(LANGUAGES), key
        expected = set(PLACEHOLDER.findall(table["en"]))
        for lang, template in table.items():
            assert set(PLACEHOLDER.findall(template)) == expected, (key, lang)


def test_telegram_language_codes_map_to_the_languages_the_bot_speaks():
    assert language_of("de-AT") == "de" and language_of("ru") == "ru" and language_of("ES") == "es"
    assert language_of("pt-br") is None and language_of(None) is None
    assert t("xx", "button_cancel") == "Cancel"  # unknown language: English


@pytest.mark.parametrize(("reason", "expected"), [
    ("render_timeout", "took too long to render"), ("render_memory", "too much memory"),
    ("render_scene_error", "failed to render"), ("code_rejected", "safety check"),
    ("generation_failed", "not answering"), ("queued_timeout", "too long in line"),
    ("cancelled", "cancelled"), ("sandbox_unavailable", "renderer is unavailable"),
    ("model_budget", "budget of language-model calls is used up"),
    ("something_new", "on our side"), (None, "on our side"),
])
def test_failures_are_one_sentence_naming_the_reason_class(reason, expected):
    failed = job(status="failed", failure_reason=reason, status_message="NameError: x\nTraceback (most recent)")
    text = failure_text(failed, "en")
    assert expected in text and "Traceback" not in text and "\n" not in text
    assert text.startswith("❌ Sorry, I couldn't make this video: ") and text.endswith(".")
    assert reason_key(reason) in TEXTS


def test_the_caption_keeps_the_answer_within_telegram_s_limit():
    long_problem = job(problem_text="Solve " + "x + " * 1200 + "1 = 0", answer_text="x = -1/1200",
                       answer_check="corrected")
    text = caption(long_problem, "en")
    assert len(text) <= CAPTION_LIMIT
    assert text.endswith("Answer: x = -1/1200 (checked and corrected)")
    assert caption(job(answer_text=None), "fr") == "Solve 2x + 3 = 11"
    assert caption(job(answer_text="x = 4", answer_check="unverifiable"), "de").endswith(
        "Antwort: x = 4 (nicht unabhängig geprüft)")


def settings(tmp_path: Path, **overrides) -> Settings:
    return Settings.from_env({}, data_dir=tmp_path, telegram_bot_token="1:A", telegram_mode="webhook",
                             telegram_webhook_url="https://x.test/telegram/webhook", **overrides)


def test_the_webhook_secret_is_generated_once_and_kept_owner_only(tmp_path):
    first = webhook_secret(settings(tmp_path))
    path = tmp_path / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,256}", first)
    assert webhook_secret(settings(tmp_path)) == first
    os.chmod(path, 0o644)
    assert webhook_secret(settings(tmp_path)) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_configured_webhook_secret_wins_and_must_be_what_telegram_accepts(tmp_path):
    assert webhook_secret(settings(tmp_path, telegram_webhook_secret="my_secret-1")) == "my_secret-1"
    assert not (tmp_path / SECRET_FILE).exists()
    with pytest.raises(ConfigError, match="APPLIANCE_TELEGRAM_WEBHOOK_SECRET"):
        webhook_secret(settings(tmp_path, telegram_webhook_secret="has space"))


def test_the_file_url_follows_the_api_base():
    assert file_base_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_base_url("http://127.0.0.1:8081/bot/") == "http://127.0.0.1:8081/file/bot"


def test_large_uploads_get_long_timeouts():
    assert upload_timeout_s(1_000) == pytest.approx(60, abs=1)
    assert upload_timeout_s(50 * 1024 * 1024) > 400


async def test_answers_to_people_overtake_waiting_edits_and_uploads():
    limiter = PriorityRateLimiter(overall_max_rate=5, overall_time_period=1)
    order: list[str] = []

    async def call(name: str) -> bool:
        order.append(name)
        return True

    def request(name: str, endpoint: str) -> asyncio.Task[object]:
        return asyncio.create_task(limiter.process_request(call, (name,), {}, endpoint, {"chat_id": 1}, None))

    low = [request(f"edit{index}", "editMessageText") for index in range(12)]
    # Until the edits have used up the burst allowance: the rest of them wait for room.
    while not order or limiter._has_room():
        await asyncio.sleep(0.01)
    waiting_edits = 12 - len(order)
    urgent = [request(f"reply{index}", "sendMessage") for index in range(3)]
    await asyncio.gather(*low, *urgent)
    first_reply = order.index("reply0")
    replies_done = max(order.index(f"reply{index}") for index in range(3))
    assert replies_done - first_reply == 2  # the replies went one after another
    # Ahead of the edits that were waiting before them (one may have been let in already).
    assert waiting_edits >= 3 and len(order) - 1 - replies_done >= waiting_edits - 1, (waiting_edits, order)


async def test_background_work_waits_while_a_person_is_answered_but_not_forever(monkeypatch):
    gate = PeopleFirst(max_wait_s=600)  # no bound reached here, however slow the machine
    events: list[str] = []

    async def background() -> None:
        await gate.background()
        events.append("background")

    async with gate.answering():
        waiting = asyncio.create_task(background())
        for _ in range(20):  # the background task runs as far as it can: into the wait
            await asyncio.sleep(0)
        assert not waiting.done()
        events.append("answered")
    await waiting
    assert events == ["answered", "background"]

    # An answer that never ends holds background work for max_wait_s only: the wait is bounded
    # by it, and its running out releases the background work (no exception escapes).
    import frontends.telegram.ratelimit as ratelimit

    gate = PeopleFirst(max_wait_s=0.3)
    bounds: list[float | None] = []
    real_wait_for = asyncio.wait_for

    async def watched_wait_for(awaitable, timeout):
        bounds.append(timeout)
        return await real_wait_for(awaitable, timeout)

    monkeypatch.setattr(ratelimit.asyncio, "wait_for", watched_wait_for)
    async with gate.answering():
        await gate.background()
        released_while_answering = gate._answering == 1
    assert bounds == [0.3] and released_while_answering


async def test_the_throttle_spaces_turns_per_chat_but_not_across_chats():
    throttle = ChatThrottle(private_interval_s=0.2, group_interval_s=0.4)
    started = time.monotonic()
    times: dict[int, list[float]] = {1: [], 2: [], -5: []}
    turns: list[int] = []

    async def take(chat_id: int) -> None:
        await throttle.turn(chat_id)
        times[chat_id].append(time.monotonic() - started)
        turns.append(chat_id)

    await asyncio.gather(*(take(chat) for chat in (1, 1, 1, 2, -5, -5)))
    # Lower bounds from the start, which a busy machine cannot break: a turn is taken no earlier
    # than its slot, and a chat's slots are an interval apart (a turn's record may come late).
    assert times[1][1] >= 0.19 and times[1][2] >= 0.39, times
    assert times[-5][1] >= 0.39, times  # groups get longer gaps
    # Another chat is not held up: its first turn comes before chat 1's second.
    assert turns.index(2) < [index for index, chat in enumerate(turns) if chat == 1][1], turns
    assert turns.index(-5) < [index for index, chat in enumerate(turns) if chat == 1][1], turns


def test_the_video_facts_come_from_the_checked_job_never_from_the_file(tmp_path, monkeypatch):
    """The upload carries the size and length the bounded checker recorded; the video itself
    (made in a sandbox) is never opened by a decoder in the bot's process."""
    import av

    def no_decoding(*args, **kwargs):
        raise AssertionError("the bot process must not parse a video")

    monkeypatch.setattr(av, "open", no_decoding)
    info = video_info(job(video_width=854, video_height=480, video_duration_seconds=35.6))
    assert (info.width, info.height, info.duration_s) == (854, 480, 36)
    assert video_info(job()).duration_s is None


def test_the_steps_message_numbers_the_steps_and_ends_with_the_answer():
    text = steps_message(job(steps=["Subtract 3 from both sides: 2x = 8", "Divide by 2: x = 4"],
                             answer_text="x = 4", answer_check="verified"), "ru")
    assert text.splitlines() == ["📝 Решение по шагам (видео придёт следом):", "1. Subtract 3 from both sides: 2x = 8",
                                 "2. Divide by 2: x = 4", "", "Ответ: x = 4 (проверен)"]
    long = steps_message(job(steps=["x" * 3000, "y" * 3000], answer_text="x = 4"), "en")
    assert len(long) <= 4096


def message(text: str, entities: list[dict] | None = None, reply_from: int | None = None) -> Message:
    data: dict = {"message_id": 5, "date": 0, "chat": {"id": -100, "type": "supergroup"},
                  "from": {"id": 9, "is_bot": False, "first_name": "A"}, "text": text, "entities": entities or []}
    if reply_from is not None:
        data["reply_to_message"] = {"message_id": 4, "date": 0, "chat": {"id": -100, "type": "supergroup"},
                                    "from": {"id": reply_from, "is_bot": True, "first_name": "B"}, "text": "hi"}
    return Message.de_json(data, None)


BOT = SimpleNamespace(id=123, username="Manim_Bot")


def test_in_groups_the_bot_hears_mentions_and_replies_only():
    mention = message("Hey @manim_bot solve 2x = 4", [{"type": "mention", "offset": 4, "length": 10}])
    assert Handlers.addressed_text(mention, BOT) == "Hey solve 2x = 4"
    other = message("@other_bot solve 2x = 4", [{"type": "mention", "offset": 0, "length": 10}])
    assert Handlers.addressed_text(other, BOT) is None
    assert Handlers.addressed_text(message("solve 2x = 4"), BOT) is None
    assert Handlers.addressed_text(message("and 3x = 9?", reply_from=123), BOT) == "and 3x = 9?"
    assert Handlers.addressed_text(message("and 3x = 9?", reply_from=77), BOT) is None
    text_mention = message("Bot, solve x = 1", [{"type": "text_mention", "offset": 0, "length": 3,
                                                 "user": {"id": 123, "is_bot": True, "first_name": "B"}}])
    assert Handlers.addressed_text(text_mention, BOT) == ", solve x = 1"
