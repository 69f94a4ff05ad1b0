"""The seed's data model: entities, the status enum, the transition table, validation.

Names follow ``shared/seeds/data-model.md`` exactly (``UserSession``,
``ProcessingJob``, ``VideoMetadata``, ``ProcessingStatus``, ...). Every entity
round-trips losslessly through ``to_dict``/``from_dict`` (plain JSON types),
because the store keeps them as JSON, never pickled. Validation failures raise
``appliance.errors.ValidationError`` naming the field and the rule.

Fields beyond the seed (``attempts``, ``answer_text``, ``answer_check``,
``channel``, ...) are additions the issues ask for; every seed field is kept.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import Field, asdict, dataclass, field, fields
from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import Any, ClassVar, Literal, Self, TypeVar

from appliance.errors import InvalidTransition, ProblemRejected, ValidationError

# A JSON object as json.loads gives it: its values may be any JSON type.
JSONDict = dict[str, Any]

PROBLEM_MIN_CHARS = 10
PROBLEM_MAX_CHARS = 5000
HISTORY_MAX_ENTRIES = 100
PROBLEM_PREVIEW_CHARS = 50

_UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_NUMERIC = re.compile(r"^-?[0-9]{1,20}$")


class ProcessingStatus(StrEnum):
    QUEUED = "queued"
    AI_GENERATING = "ai_generating"
    CODE_VALIDATING = "code_validating"
    RENDERING = "rendering"
    UPLOADING = "uploading"
    READY = "ready"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    @property
    def is_in_flight(self) -> bool:
        return self in IN_FLIGHT_STATUSES


S = ProcessingStatus

TRANSITIONS: dict[ProcessingStatus, frozenset[ProcessingStatus]] = {
    S.QUEUED: frozenset({S.AI_GENERATING, S.FAILED}),
    # AI_GENERATING -> RENDERING is the code cache's shortcut: cached code was already
    # validated, so it goes straight to rendering.
    S.AI_GENERATING: frozenset({S.CODE_VALIDATING, S.RENDERING, S.FAILED}),
    S.CODE_VALIDATING: frozenset({S.RENDERING, S.AI_GENERATING, S.FAILED}),
    S.RENDERING: frozenset({S.UPLOADING, S.AI_GENERATING, S.FAILED}),
    S.UPLOADING: frozenset({S.READY, S.FAILED}),
    S.READY: frozenset({S.DELIVERED, S.EXPIRED}),
    S.DELIVERED: frozenset(),
    S.FAILED: frozenset(),
    S.EXPIRED: frozenset(),
}
"""Legal status changes. Anything not listed raises ``InvalidTransition``."""

# Crash recovery puts these back in the queue; it is the one move outside the table,
# done only by the store's start-up recovery.
IN_FLIGHT_STATUSES = frozenset({S.AI_GENERATING, S.CODE_VALIDATING, S.RENDERING, S.UPLOADING})
ACTIVE_STATUSES = frozenset({S.QUEUED}) | IN_FLIGHT_STATUSES
TERMINAL_STATUSES = frozenset({S.DELIVERED, S.FAILED, S.EXPIRED})


def check_transition(current: ProcessingStatus, target: ProcessingStatus) -> None:
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(current.value, target.value)


def utc_now() -> str:
    """Now as ISO 8601 UTC with a ``Z``-free explicit offset, e.g. 2026-01-15T10:00:00.123456+00:00."""
    return datetime.now(UTC).isoformat()


def parse_timestamp(value: str, field_name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(field_name, "must be an ISO 8601 timestamp") from exc
    if parsed.tzinfo is None:
        raise ValidationError(field_name, "must be an ISO 8601 timestamp with a time zone (UTC)")
    return parsed


def new_id() -> str:
    return str(uuid.uuid4())


def check_uuid4(value: object, field_name: str) -> str:
    if not isinstance(value, str) or not _UUID4.match(value):
        raise ValidationError(field_name, "must be a UUID v4")
    return value


def check_chat_id(value: object, field_name: str = "telegram_chat_id") -> str:
    if not isinstance(value, str) or not _NUMERIC.match(value):
        raise ValidationError(field_name, "must be a numeric string")
    return value


# Characters a problem may not contain: lone UTF-16 surrogates (U+D800 to U+DFFF: not text,
# and no JSON or UTF-8 writer accepts them), and control characters (C0, DEL, C1) other than
# tab and line feed. Carriage returns are not refused: they become line feeds first.
_INVALID_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_LINE_ENDS = re.compile("\r\n?")


def invalid_character(text: str) -> tuple[int, str] | None:
    """The first character of ``text`` a problem may not contain, as (1-based position, the
    character), or None. Carriage returns pass (``normalize_problem_text`` turns them into
    line feeds)."""
    match = _INVALID_TEXT.search(text)
    return (match.start() + 1, match.group()) if match else None


def describe_invalid_character(position: int, char: str) -> str:
    """The sentence that refuses a text for ``char`` at ``position`` (1-based)."""
    code = f"U+{ord(char):04X}"
    if "\ud800" <= char <= "\udfff":
        return f"The problem contains a character that is not valid text ({code}) at position {position}."
    return (f"The problem contains a control character ({code}) at position {position}; "
            "only tabs and line breaks are allowed.")


def readable_text(text: str) -> str:
    """``text`` with each character a problem may not contain replaced by U+FFFD: for text that is
    kept but not refused (a record written before the door refused such text, a model's answer),
    so it stays readable and JSON-writable."""
    return _INVALID_TEXT.sub("\ufffd", text)


def stored_problem_text(text: object) -> str:
    """A stored job's problem, checked like a new one except that characters refused today are
    replaced (``readable_text``), not refused: one such old record must not make the jobs
    around it unreadable."""
    return normalize_problem_text(readable_text(text) if isinstance(text, str) else text)


def normalize_problem_text(text: object) -> str:
    """Check and tidy a problem: valid text (no lone surrogates, no control characters but tab
    and newline; line endings become newlines), then 10 to 5000 characters after trimming.

    The position in an ``invalid_text`` refusal counts characters of the text as it was sent."""
    if not isinstance(text, str):
        raise ProblemRejected("problem_text", "required", "problem_text: a text is required")
    invalid = invalid_character(text)
    if invalid is not None:
        position, character = invalid
        raise ProblemRejected("problem_text", "invalid_text", describe_invalid_character(position, character),
                              position=position, character=character)
    trimmed = _LINE_ENDS.sub("\n", text).strip()
    if len(trimmed) < PROBLEM_MIN_CHARS:
        raise ProblemRejected(
            "problem_text",
            "min_length",
            f"problem_text: at least {PROBLEM_MIN_CHARS} characters are needed "
            f"(got {len(trimmed)}); describe the problem in a full sentence",
        )
    if len(trimmed) > PROBLEM_MAX_CHARS:
        raise ProblemRejected(
            "problem_text",
            "max_length",
            f"problem_text: at most {PROBLEM_MAX_CHARS} characters are allowed (got {len(trimmed)})",
        )
    return trimmed


def _check_non_negative(value: object, field_name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(field_name, "must be an integer >= 0")
    return value


def _check_optional_number(value: object, field_name: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
        raise ValidationError(field_name, "must be a number >= 0")


T = TypeVar("T")


def _json_pairs(pairs: list[tuple[str, object]]) -> JSONDict:
    return {key: value.value if isinstance(value, Enum) else value for key, value in pairs}


class JSONRecord:
    """``to_dict``/``from_dict`` of the dataclasses stored as JSON rows: enum members are stored
    as their values; unknown keys (a row written by a newer version) are ignored."""

    # Every subclass is a dataclass; declaring the attribute tells the type checker so.
    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    def to_dict(self) -> JSONDict:
        return asdict(self, dict_factory=_json_pairs)

    @classmethod
    def from_dict(cls, data: JSONDict) -> Self:
        names = {f.name for f in fields(cls)}
        make: Callable[..., Self] = cls
        return make(**{key: value for key, value in data.items() if key in names})


@dataclass
class VideoMetadata(JSONRecord):
    """A lightweight reference to a job, kept in ``UserSession.video_history``."""

    job_id: str
    problem_preview: str
    status: ProcessingStatus
    created_at: str
    delivered_at: str | None = None
    render_duration_seconds: float | None = None

    def __post_init__(self) -> None:
        check_uuid4(self.job_id, "job_id")
        self.status = _coerce_status(self.status)
        parse_timestamp(self.created_at, "created_at")
        if self.delivered_at is not None:
            parse_timestamp(self.delivered_at, "delivered_at")
        if isinstance(self.problem_preview, str):
            self.problem_preview = readable_text(self.problem_preview)
        if len(self.problem_preview) > PROBLEM_PREVIEW_CHARS:
            raise ValidationError("problem_preview", f"at most {PROBLEM_PREVIEW_CHARS} characters")
        _check_optional_number(self.render_duration_seconds, "render_duration_seconds")

    @classmethod
    def for_job(cls, job: ProcessingJob) -> VideoMetadata:
        return cls(
            job_id=job.job_id,
            problem_preview=job.problem_text[:PROBLEM_PREVIEW_CHARS],
            status=job.status,
            created_at=job.created_at,
            delivered_at=job.delivered_at,
            render_duration_seconds=job.render_duration_seconds,
        )



def _coerce_status(value: object) -> ProcessingStatus:
    if isinstance(value, ProcessingStatus):
        return value
    try:
        return ProcessingStatus(str(value))
    except ValueError as exc:
        raise ValidationError("status", "must be a ProcessingStatus value") from exc


@dataclass
class UserSession(JSONRecord):
    """An anonymous session: one Telegram chat or one browser."""

    session_id: str
    telegram_chat_id: str
    created_at: str
    last_activity: str
    language_preference: str = "en"
    video_history: list[VideoMetadata] = field(default_factory=list)
    total_submissions: int = 0
    successful_generations: int = 0
    # "telegram" or "web": a web session has no chat, and keeps the seed's required
    # numeric telegram_chat_id as "0".
    channel: str = "telegram"
    voice_preference: bool | None = None  # /voice in Telegram; None: the appliance's default

    def __post_init__(self) -> None:
        check_uuid4(self.session_id, "session_id")
        check_chat_id(self.telegram_chat_id)
        parse_timestamp(self.created_at, "created_at")
        parse_timestamp(self.last_activity, "last_activity")
        _check_non_negative(self.total_submissions, "total_submissions")
        _check_non_negative(self.successful_generations, "successful_generations")
        if not isinstance(self.video_history, list):
            raise ValidationError("video_history", "must be an array")
        self.video_history = [
            entry if isinstance(entry, VideoMetadata) else VideoMetadata.from_dict(entry)
            for entry in self.video_history
        ][-HISTORY_MAX_ENTRIES:]

    @classmethod
    def new(cls, telegram_chat_id: str = "0", channel: str = "telegram", language: str = "en") -> UserSession:
        now = utc_now()
        return cls(
            session_id=new_id(),
            telegram_chat_id=telegram_chat_id,
            created_at=now,
            last_activity=now,
            language_preference=language,
            channel=channel,
        )

    def record(self, entry: VideoMetadata) -> None:
        """Add or update the history entry of a job; the oldest entries go past 100."""
        for index, existing in enumerate(self.video_history):
            if existing.job_id == entry.job_id:
                self.video_history[index] = entry
                return
        self.video_history.append(entry)
        del self.video_history[:-HISTORY_MAX_ENTRIES]



@dataclass
class ProcessingJob(JSONRecord):
    """One request to turn a problem into a video, and its whole life."""

    job_id: str
    session_id: str
    problem_text: str
    status: ProcessingStatus
    created_at: str
    problem_language: str | None = None
    status_message: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    ai_provider_used: str | None = None
    manim_code: str | None = None
    ai_error: str | None = None
    video_url: str | None = None
    video_key: str | None = None
    video_expires_at: str | None = None
    render_duration_seconds: float | None = None
    video_size_bytes: int | None = None
    # Additions beyond the seed, asked for by the issues.
    # The key the video is being uploaded under (set with UPLOADING, before the upload starts;
    # cleared at READY, where video_key takes over): the stray-video sweep spares it.
    upload_key: str | None = None
    updated_at: str | None = None
    delivered_at: str | None = None
    attempts: int = 0
    interruptions: int = 0  # attempts cut short by a shutdown or a crash (given back, counted here)
    last_error: str | None = None
    failure_reason: str | None = None
    scene_name: str | None = None
    quality: str = "medium"
    answer_text: str | None = None
    answer_check: str | None = None
    repairs: list[str] = field(default_factory=list)
    code_cache_hit: bool = False
    cancel_requested: bool = False
    # FAILED: the status the job was in when it failed (the step it reached), set by the store.
    failed_step: ProcessingStatus | None = None
    telegram_chat_id: str | None = None
    # Narration (issue 15): the solution as text, known before the render; the voice asked
    # for and what spoke; the subtitles read back from the checked video.
    steps: list[str] = field(default_factory=list)
    voice: bool = True
    voice_engine: str | None = None  # espeak-ng | clips | none (no sound)
    voice_language: str | None = None
    subtitles: list[dict[str, float | str]] = field(default_factory=list)
    video_duration_seconds: float | None = None
    video_width: int | None = None
    video_height: int | None = None
    # The layout gate (issue 16) on the video that shipped: its error and warning counts (None:
    # not checked) and its first few issues (LayoutIssue.to_dict: kind, severity, time_s,
    # duration_s, objects, boxes, detail).
    layout_errors: int | None = None
    layout_warnings: int | None = None
    layout_issues: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_uuid4(self.job_id, "job_id")
        check_uuid4(self.session_id, "session_id")
        self.problem_text = stored_problem_text(self.problem_text)
        self.status = _coerce_status(self.status)
        if self.failed_step is not None:
            self.failed_step = _coerce_status(self.failed_step)
        parse_timestamp(self.created_at, "created_at")
        for name in ("started_at", "completed_at", "video_expires_at", "updated_at", "delivered_at"):
            value = getattr(self, name)
            if value is not None:
                parse_timestamp(value, name)
        _check_non_negative(self.attempts, "attempts")
        _check_non_negative(self.interruptions, "interruptions")
        _check_optional_number(self.render_duration_seconds, "render_duration_seconds")
        _check_optional_number(self.video_duration_seconds, "video_duration_seconds")
        for name in ("layout_errors", "layout_warnings"):
            if getattr(self, name) is not None:
                _check_non_negative(getattr(self, name), name)
        if self.video_size_bytes is not None:
            _check_non_negative(self.video_size_bytes, "video_size_bytes")
        if self.telegram_chat_id is not None:
            check_chat_id(self.telegram_chat_id)

    @classmethod
    def new(
        cls,
        session_id: str,
        problem_text: str,
        quality: str = "medium",
        language: str | None = None,
        telegram_chat_id: str | None = None,
        voice: bool = True,
    ) -> ProcessingJob:
        now = utc_now()
        return cls(
            job_id=new_id(),
            session_id=session_id,
            problem_text=problem_text,
            status=ProcessingStatus.QUEUED,
            created_at=now,
            updated_at=now,
            problem_language=language,
            status_message="Waiting in line",
            quality=quality,
            telegram_chat_id=telegram_chat_id,
            voice=voice,
        )



@dataclass(frozen=True)
class VideoGenerationRequest(JSONRecord):
    """What goes into the queue (internal)."""

    job_id: str
    problem_text: str
    session_id: str
    telegram_chat_id: str
    priority: str = "normal"

    def __post_init__(self) -> None:
        check_uuid4(self.job_id, "job_id")
        check_uuid4(self.session_id, "session_id")
        normalize_problem_text(self.problem_text)
        check_chat_id(self.telegram_chat_id)
        if self.priority != "normal":
            raise ValidationError("priority", 'must be "normal"')



ResponseStatus = Literal["queued", "processing", "ready", "failed"]
RESPONSE_STATUSES: tuple[ResponseStatus, ...] = ("queued", "processing", "ready", "failed")


def response_status_of(status: ProcessingStatus) -> ResponseStatus:
    """The seed's four user-facing statuses."""
    if status is S.QUEUED:
        return "queued"
    if status in IN_FLIGHT_STATUSES:
        return "processing"
    if status in (S.READY, S.DELIVERED):
        return "ready"
    return "failed"


@dataclass(frozen=True)
class VideoGenerationResponse(JSONRecord):
    """What a user is told about a job."""

    status: str
    job_id: str
    message: str
    video_url: str | None = None
    expires_at: str | None = None
    queue_position: int | None = None  # 1 = next; only while queued, for frontends to phrase

    def __post_init__(self) -> None:
        if self.status not in RESPONSE_STATUSES:
            raise ValidationError("status", f"must be one of {', '.join(RESPONSE_STATUSES)}")
        check_uuid4(self.job_id, "job_id")
        if self.video_url is not None and self.status != "ready":
            raise ValidationError("video_url", "only when status=ready")

    @classmethod
    def for_job(cls, job: ProcessingJob) -> VideoGenerationResponse:
        status = response_status_of(job.status)
        ready = status == "ready" and job.status is S.READY
        return cls(
            status=status,
            job_id=job.job_id,
            message=job.status_message or job.status.value,
            video_url=job.video_url if ready else None,
            expires_at=job.video_expires_at if ready else None,
        )



# -- Telegram webhook payload (the seed's subset) ------------------------------------------


@dataclass(frozen=True)
class TelegramUser:
    id: int
    is_bot: bool
    language_code: str | None = None


@dataclass(frozen=True)
class TelegramChat:
    id: int
    type: str


@dataclass(frozen=True)
class TelegramMessage:
    message_id: int
    from_: TelegramUser
    chat: TelegramChat
    date: int
    text: str | None = None


@dataclass(frozen=True)
class TelegramUpdate:
    update_id: int
    message: TelegramMessage | None = None

    @classmethod
    def from_dict(cls, data: object) -> TelegramUpdate:
        """Parse the seed's subset of a Telegram update; anything malformed raises ValidationError."""
        if not isinstance(data, dict):
            raise ValidationError("update", "must be a JSON object")
        update_id = data.get("update_id")
        if isinstance(update_id, bool) or not isinstance(update_id, int):
            raise ValidationError("update_id", "must be an integer")
        raw = data.get("message")
        if raw is None:
            return cls(update_id=update_id)
        if not isinstance(raw, dict):
            raise ValidationError("message", "must be an object")
        try:
            sender = raw["from"]
            chat = raw["chat"]
            message = TelegramMessage(
                message_id=_int(raw["message_id"], "message.message_id"),
                from_=TelegramUser(
                    id=_int(sender["id"], "message.from.id"),
                    is_bot=bool(sender.get("is_bot", False)),
                    language_code=sender.get("language_code"),
                ),
                chat=TelegramChat(id=_int(chat["id"], "message.chat.id"), type=str(chat["type"])),
                date=_int(raw["date"], "message.date"),
                text=raw.get("text") if isinstance(raw.get("text"), str) else None,
            )
        except (KeyError, TypeError) as exc:
            raise ValidationError("message", f"missing or malformed field {exc}") from exc
        return cls(update_id=update_id, message=message)

    def to_dict(self) -> JSONDict:
        data: JSONDict = {"update_id": self.update_id}
        if self.message is not None:
            m = self.message
            message: JSONDict = {
                "message_id": m.message_id,
                "from": {"id": m.from_.id, "is_bot": m.from_.is_bot},
                "chat": {"id": m.chat.id, "type": m.chat.type},
                "date": m.date,
            }
            if m.from_.language_code is not None:
                message["from"]["language_code"] = m.from_.language_code
            if m.text is not None:
                message["text"] = m.text
            data["message"] = message
        return data


def _int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(name, "must be an integer")
    return value
