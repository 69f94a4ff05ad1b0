from __future__ import annotations

import json
import uuid

import pytest

from appliance.errors import InvalidTransition, ProblemRejected, ValidationError
from appliance.models import (
    HISTORY_MAX_ENTRIES,
    TRANSITIONS,
    ProcessingJob,
    ProcessingStatus,
    TelegramUpdate,
    UserSession,
    VideoGenerationRequest,
    VideoGenerationResponse,
    VideoMetadata,
    check_transition,
    normalize_problem_text,
    utc_now,
)

S = ProcessingStatus


def test_all_nine_statuses_with_seed_values():
    assert [s.value for s in S] == [
        "queued", "ai_generating", "code_validating", "rendering", "uploading",
        "ready", "delivered", "failed", "expired",
    ]


LEGAL = {
    (S.QUEUED, S.AI_GENERATING), (S.AI_GENERATING, S.CODE_VALIDATING),
    (S.CODE_VALIDATING, S.RENDERING), (S.RENDERING, S.UPLOADING), (S.UPLOADING, S.READY),
    (S.QUEUED, S.FAILED), (S.AI_GENERATING, S.FAILED), (S.CODE_VALIDATING, S.FAILED),
    (S.RENDERING, S.FAILED), (S.UPLOADING, S.FAILED),
    (S.CODE_VALIDATING, S.AI_GENERATING), (S.RENDERING, S.AI_GENERATING),
    (S.AI_GENERATING, S.RENDERING),  # code cache shortcut
    (S.READY, S.DELIVERED), (S.READY, S.EXPIRED),
}


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("target", list(S))
def test_every_transition_is_legal_or_refused(current, target):
    if (current, target) in LEGAL:
        check_transition(current, target)
    else:
        with pytest.raises(InvalidTransition) as info:
            check_transition(current, target)
        assert current.value in str(info.value) and target.value in str(info.value)


def test_transition_table_is_exactly_the_legal_set():
    table = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == LEGAL


def _job(**overrides):
    data = dict(job_id=str(uuid.uuid4()), session_id=str(uuid.uuid4()),
                problem_text="Solve 2x + 3 = 11", status=S.QUEUED, created_at=utc_now())
    data.update(overrides)
    return ProcessingJob(**data)


@pytest.mark.parametrize("field", ["job_id", "session_id"])
@pytest.mark.parametrize("bad", ["", "not-a-uuid", str(uuid.uuid1()), "6ba7b810-9dad-11d1-80b4-00c04fd430c8"])
def test_job_ids_must_be_uuid4(field, bad):
    with pytest.raises(ValidationError) as info:
        _job(**{field: bad})
    assert info.value.field == field and "UUID v4" in str(info.value)


def test_uuid4_accepted():
    job = _job()
    assert uuid.UUID(job.job_id).version == 4


@pytest.mark.parametrize("text,ok", [
    ("x" * 9, False), ("x" * 10, True), ("   " + "x" * 9 + "   ", False), ("x" * 5000, True),
    ("x" * 5001, False), ("  " + "y" * 5000 + "\n", True), ("", False),
])
def test_problem_text_length_after_trimming(text, ok):
    if ok:
        assert _job(problem_text=text).problem_text == text.strip()
    else:
        with pytest.raises(ProblemRejected) as info:
            _job(problem_text=text)
        assert info.value.field == "problem_text"
        assert info.value.rule in ("min_length", "max_length")


def test_problem_text_rule_names_limit():
    with pytest.raises(ProblemRejected, match="at least 10"):
        normalize_problem_text("short")
    with pytest.raises(ProblemRejected, match="at most 5000"):
        normalize_problem_text("a" * 6000)


@pytest.mark.parametrize("text,code,position", [
    ("\ud800", "U+D800", 1),
    ("\x00", "U+0000", 1),
    ("\x07", "U+0007", 1),
    ("\x1b[31m", "U+001B", 1),
    ("Solve \ud800 2x + 3 = 11", "U+D800", 7),
    ("Solve 2x + 3 = 11\x00", "U+0000", 18),
    ("  Solve\r\n 2x\x7f + 3 = 11", "U+007F", 13),  # counted in the text as sent, before trimming
    ("Solve 2x + 3 = 11 \x85", "U+0085", 19),  # C1 controls too; str.strip() would drop this one
    ("Solve 2x \udcff+ 3 = 11", "U+DCFF", 10),  # what argv makes of an invalid UTF-8 byte
], ids=["surrogate-alone", "nul-alone", "bel-alone", "escape-sequence", "surrogate-inside", "nul-at-end",
        "del-after-crlf", "c1-nel-at-end", "argv-surrogate-escape"])
def test_invalid_text_is_refused_naming_the_code_point_and_position(text, code, position):
    with pytest.raises(ProblemRejected) as info:
        normalize_problem_text(text)
    assert info.value.field == "problem_text" and info.value.rule == "invalid_text"
    message = str(info.value)
    assert f"({code}) at position {position}" in message, message
    assert message.startswith("The problem contains ") and message.endswith(".")
    message.encode("utf-8")  # the sentence itself is valid text, whatever it refuses


def test_the_surrogate_sentence_is_the_documented_one():
    with pytest.raises(ProblemRejected) as info:
        normalize_problem_text("Solve \ud800 2x + 3 = 11")
    assert str(info.value) == "The problem contains a character that is not valid text (U+D800) at position 7."


def test_tabs_and_newlines_are_kept_and_carriage_returns_become_newlines():
    assert normalize_problem_text("Solve\t2x + 3 = 11\nfor x") == "Solve\t2x + 3 = 11\nfor x"
    assert normalize_problem_text("Solve 2x + 3 = 11\r\nfor x\r\n") == "Solve 2x + 3 = 11\nfor x"
    assert normalize_problem_text("Solve 2x + 3 = 11\rfor x\r\rthen y") == "Solve 2x + 3 = 11\nfor x\n\nthen y"
    head = "Löse 2x + 3 = 11 ∫ x² dx, π ≈ 3.14, 解方程 😀 "
    text = head + "y" * (5000 - len(head))
    assert len(text.strip()) == 5000 and normalize_problem_text(text) == text.strip()


def test_a_stored_job_with_text_refused_today_stays_readable():
    # Written before the door refused such text: loading it must not fail (nor the jobs around it).
    data = _job().to_dict() | {"problem_text": "Solve \ud800 2x + 3 = 11\x1b[0m"}
    job = ProcessingJob.from_dict(data)
    assert job.problem_text == "Solve \ufffd 2x + 3 = 11\ufffd[0m"
    json.dumps(job.to_dict(), ensure_ascii=False).encode("utf-8")
    meta = VideoMetadata.from_dict(VideoMetadata.for_job(_job()).to_dict() | {"problem_preview": "a\ud800b"})
    assert meta.problem_preview == "a\ufffdb"


def test_status_must_be_enum_value():
    with pytest.raises(ValidationError) as info:
        _job(status="cooking")
    assert info.value.field == "status"


def test_created_at_must_be_iso8601_utc():
    with pytest.raises(ValidationError) as info:
        _job(created_at="yesterday")
    assert info.value.field == "created_at"
    with pytest.raises(ValidationError):
        _job(created_at="2026-01-15T10:00:00")  # no zone
    assert _job(created_at="2026-01-15T10:00:00+00:00").created_at.endswith("+00:00")
    assert utc_now().endswith("+00:00")


def _session(**overrides):
    now = utc_now()
    data = dict(session_id=str(uuid.uuid4()), telegram_chat_id="123456789", created_at=now, last_activity=now)
    data.update(overrides)
    return UserSession(**data)


@pytest.mark.parametrize("chat_id,ok", [("123456789", True), ("-1001234567890", True), ("abc", False),
                                        ("12a", False), ("", False), (123, False)])
def test_chat_id_numeric_string(chat_id, ok):
    if ok:
        assert _session(telegram_chat_id=chat_id).telegram_chat_id == chat_id
    else:
        with pytest.raises(ValidationError) as info:
            _session(telegram_chat_id=chat_id)
        assert info.value.field == "telegram_chat_id" and info.value.rule == "must be a numeric string"


@pytest.mark.parametrize("field", ["total_submissions", "successful_generations"])
def test_counters_non_negative(field):
    assert getattr(_session(**{field: 0}), field) == 0
    with pytest.raises(ValidationError) as info:
        _session(**{field: -1})
    assert info.value.field == field


def test_session_requires_timestamps():
    with pytest.raises(ValidationError) as info:
        _session(last_activity="soon")
    assert info.value.field == "last_activity"


def test_history_keeps_at_most_100_dropping_oldest():
    session = _session()
    jobs = [_job(session_id=session.session_id) for _ in range(HISTORY_MAX_ENTRIES + 5)]
    for job in jobs:
        session.record(VideoMetadata.for_job(job))
    assert len(session.video_history) == HISTORY_MAX_ENTRIES
    assert session.video_history[0].job_id == jobs[5].job_id
    assert session.video_history[-1].job_id == jobs[-1].job_id
    # Loading an over-long history trims it the same way.
    data = session.to_dict()
    data["video_history"] = [VideoMetadata.for_job(j).to_dict() for j in jobs]
    assert len(UserSession.from_dict(data).video_history) == HISTORY_MAX_ENTRIES


def test_history_entry_updates_in_place():
    session = _session()
    job = _job(session_id=session.session_id)
    session.record(VideoMetadata.for_job(job))
    job.status = S.READY
    session.record(VideoMetadata.for_job(job))
    assert len(session.video_history) == 1 and session.video_history[0].status is S.READY


def test_metadata_preview_is_first_50_chars():
    job = _job(problem_text="A" * 80)
    assert VideoMetadata.for_job(job).problem_preview == "A" * 50


def _roundtrip(obj):
    return type(obj).from_dict(json.loads(json.dumps(obj.to_dict())))


def test_json_roundtrips_are_lossless():
    session = _session(language_preference="ru", total_submissions=3, successful_generations=2)
    job = _job(session_id=session.session_id, status=S.READY, status_message="Ready",
               started_at=utc_now(), completed_at=utc_now(), ai_provider_used="builtin",
               manim_code="from manim import *", video_url="http://x/v.mp4", video_key="k",
               video_expires_at=utc_now(), render_duration_seconds=3.5, video_size_bytes=1234,
               attempts=2, answer_text="x = 4", answer_check="verified", repairs=["a"],
               problem_language="en")
    session.record(VideoMetadata.for_job(job))
    meta = VideoMetadata.for_job(job)
    request = VideoGenerationRequest(job_id=job.job_id, problem_text=job.problem_text,
                                     session_id=session.session_id, telegram_chat_id="42")
    response = VideoGenerationResponse.for_job(job)
    for obj in (session, job, meta, request, response):
        assert _roundtrip(obj) == obj
    assert response.status == "ready" and response.video_url == "http://x/v.mp4"


def test_response_statuses_and_video_url_only_when_ready():
    job = _job()
    assert VideoGenerationResponse.for_job(job).status == "queued"
    job.status = S.RENDERING
    assert VideoGenerationResponse.for_job(job).status == "processing"
    job.status = S.FAILED
    assert VideoGenerationResponse.for_job(job).status == "failed"
    with pytest.raises(ValidationError):
        VideoGenerationResponse(status="queued", job_id=job.job_id, message="m", video_url="http://x")
    with pytest.raises(ValidationError):
        VideoGenerationResponse(status="done", job_id=job.job_id, message="m")


def test_request_priority_and_chat():
    with pytest.raises(ValidationError):
        VideoGenerationRequest(job_id=str(uuid.uuid4()), problem_text="Solve x + 1 = 2",
                               session_id=str(uuid.uuid4()), telegram_chat_id="x")


def test_telegram_update_roundtrip_and_malformed():
    raw = {"update_id": 7, "message": {"message_id": 3, "from": {"id": 42, "is_bot": False,
           "language_code": "ru"}, "chat": {"id": 42, "type": "private"}, "text": "Solve 2x=4 now", "date": 1}}
    update = TelegramUpdate.from_dict(raw)
    assert update.message is not None and update.message.text == "Solve 2x=4 now"
    assert TelegramUpdate.from_dict(update.to_dict()) == update
    assert update.to_dict() == raw
    for bad in ([], {"update_id": "x"}, {"update_id": 1, "message": {"chat": {}}}, {"update_id": 1, "message": 5}):
        with pytest.raises(ValidationError):
            TelegramUpdate.from_dict(bad)
