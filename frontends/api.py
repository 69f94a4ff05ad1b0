"""The HTTP face of the appliance: jobs, their event streams, health, metrics, video files.

    POST   /api/jobs                    submit a problem              202 (queued) | 403 | 422 | 429 | 503
    GET    /api/jobs/{job_id}           the job (?include=code adds the scene code)
    GET    /api/jobs/{job_id}/events    server-sent events, one per status change, until READY/final
    GET    /api/jobs/{job_id}/subtitles.vtt  the narration's subtitles
    DELETE /api/jobs/{job_id}           cancel                        200 | 409 not_cancellable
    POST   /api/jobs/{job_id}/delivered the client has the video: it is deleted now
    GET    /healthz  /readyz  /metrics  liveness, readiness (503 when not ready; details for this machine or
                                        the token's holder), Prometheus text (the API token when set)
    GET    /videos/{key}?expires=&sig=  the local store's signed video URLs (Range supported)

The routes under /api/jobs/{job_id} answer the job's owner only (``appliance.access``): the
holder of its ``job_token`` or of its session's ``session_token`` (both returned when the job is
made; the web page's session key is a session token too), sent as ``X-Job-Token`` or
``X-Session-Token``, or as ``?token=`` where a header cannot be set (EventSource, <track>); or the
operator's ``APPLIANCE_API_TOKEN``. Anyone else gets the 404 of a job that does not exist. A video
link names only its video (opaque key), so passing one on reveals nothing else.

Every error is ``{"error": {"code": ..., "message": ...}}`` with one of the stable codes in
``ERROR_CODES``. Everything goes through ``Appliance``; nothing here touches the store.
"""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import json
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from appliance.access import AccessKeys
from appliance.admission import ClientSlots, client_key
from appliance.config import QUALITIES, Settings
from appliance.errors import (
    InvalidTransition,
    LimitExceeded,
    NotFound,
    ProblemRejected,
    SignatureInvalid,
    StorageError,
)
from appliance.models import (
    PROBLEM_MAX_CHARS,
    PROBLEM_MIN_CHARS,
    ProcessingJob,
    ProcessingStatus,
    VideoGenerationResponse,
    response_status_of,
)
from appliance.service import Appliance, Channel
from appliance.subtitles import webvtt

log = logging.getLogger(__name__)
S = ProcessingStatus

Stopping = Callable[[], bool]
"""True once the server begins to shut down: long-lived event streams then end at once
instead of holding uvicorn's graceful shutdown open until its timeout."""

ERROR_CODES: dict[str, int] = {
    "malformed_body": 400,
    "unknown_host": 400,
    "unauthorized": 401,
    "signature_invalid": 403,
    "session_forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "not_cancellable": 409,
    "not_deliverable": 409,
    "payload_too_large": 413,
    "invalid_problem": 422,
    "invalid_request": 422,
    "active_limit": 429,
    "hourly_limit": 429,
    "client_active_limit": 429,
    "client_hourly_limit": 429,
    "client_stream_limit": 429,
    "internal_error": 500,
    "not_ready": 503,
    "queue_full": 503,
}
"""Stable error codes and their HTTP status. Clients branch on ``code``, people read ``message``."""

# Statuses after which an event stream ends (the job will not change again by itself,
# or it is READY and the client should fetch the video).
STREAM_END_STATUSES = frozenset({S.READY, S.DELIVERED, S.FAILED, S.EXPIRED})
SSE_HEARTBEAT_S = 15.0
READINESS_TIMEOUT_S = 15.0
READINESS_INTERVAL_S = 5.0
"""/readyz runs its checks (a store write, a disk probe, Docker, S3) at most this often; callers
in between get the last answer."""
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


class ApiError(Exception):
    """An error answer with a stable code; raised anywhere in a route, rendered as JSON."""

    def __init__(self, code: str, message: str, headers: dict[str, str] | None = None, **extra: str | None) -> None:
        self.code = code
        self.status = ERROR_CODES[code]
        self.message = message
        self.headers = headers
        self.extra = extra
        super().__init__(message)

    def response(self) -> JSONResponse:
        return error_response(self.code, self.message, self.headers, **self.extra)


def error_response(
    code: str, message: str, headers: Mapping[str, str] | None = None, **extra: str | None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, **extra}}
    return JSONResponse(body, status_code=ERROR_CODES[code], headers=headers)


def _never() -> bool:
    return False


# -- models (the OpenAPI schema) --------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable error code: " + ", ".join(ERROR_CODES))
    message: str = Field(description="What went wrong, for a person.")
    rule: str | None = Field(None, description="For invalid_problem: required, min_length, max_length or "
                             "invalid_text (a lone surrogate or a control character other than tab and newline).")
    field: str | None = Field(None, description="For invalid_problem/invalid_request: the offending field.")


class ErrorBody(BaseModel):
    error: ErrorDetail


class JobRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"problem_text": "Solve 2x + 3 = 11"}]})

    problem_text: str = Field(
        description=f"The math problem, {PROBLEM_MIN_CHARS} to {PROBLEM_MAX_CHARS} characters after trimming, "
        "in any language. Valid text only: no lone surrogates (\\ud800 to \\udfff) and no control characters "
        "but tab and newline (a carriage return counts as a newline).",
    )
    quality: Literal["low", "medium", "high"] | None = Field(
        None, description="Video quality; the appliance's default when absent."
    )
    voice: bool | None = Field(
        None, description="Narrate the video with a voice (true) or make it silent (false); subtitles are made "
        "either way. Absent: the appliance's default (APPLIANCE_VOICE_DEFAULT).",
    )
    session_token: str | None = Field(
        None,
        description="The session to file the job under: the `session_token` of an earlier answer (or send it "
        "as `X-Session-Token`). Absent, or its session expired: a new session. Per-session limits apply to it, "
        "and per-client limits (by the client's address) to every submission, whatever its session.",
    )
    session_id: str | None = Field(
        None,
        description="The same as session_token, by id: accepted only with that session's session_token "
        "(or the operator's API token); otherwise 403 session_forbidden.",
    )


class JobResponse(BaseModel):
    """The seed's VideoGenerationResponse, plus the session the job belongs to."""

    status: Literal["queued", "processing", "ready", "failed"] = Field(description="Where the job is, in brief.")
    job_id: str
    message: str = Field(description="A status line for a person, e.g. 'Queued: number 2 in line'.")
    video_url: str | None = Field(None, description="The MP4, while it exists (status ready).")
    expires_at: str | None = Field(None, description="When video_url stops working (ISO 8601 UTC).")
    session_id: str


class JobCreated(JobResponse):
    """The answer to a submission: the job, and the keys that prove it is yours."""

    job_token: str = Field(description="The key to this job alone: send it as `X-Job-Token` (or `?token=`) to "
                           "read, follow, cancel or confirm it. Shown only here; keep it.")
    session_token: str = Field(description="The key to the session (every job in it): send it as "
                               "`X-Session-Token` (or `?token=`), and with the next submission to file it into the "
                               "same session. Shown only here; keep it.")


class LayoutIssueView(BaseModel):
    kind: str = Field(description="text_outside_frame, text_overlap, text_hidden, text_too_small, still_frame or "
                      "too_short.")
    severity: str = Field(description="error or warning.")
    time_s: float = Field(description="When it first shows, in seconds from the start of the video.")
    duration_s: float = Field(0.0, description="How long it stays on screen.")
    objects: list[str] = Field(default_factory=list, description='The objects, e.g. MathTex "x^2".')
    boxes: list[list[float]] = Field(default_factory=list, description="Their boxes [x0, y0, x1, y1] in scene units.")
    detail: str = Field("", description="What is wrong, in a sentence.")


class JobDetails(JobResponse):
    job_status: str = Field(description="The detailed status: " + ", ".join(s.value for s in S))
    status_message: str | None = None
    problem_text: str
    quality: str
    created_at: str
    started_at: str | None = None
    completed_at: str | None = None
    updated_at: str | None = None
    delivered_at: str | None = None
    queue_position: int | None = Field(None, description="1-based place in the queue while queued.")
    attempts: int = Field(description="Generation attempts so far (first try and repairs).")
    ai_provider_used: str | None = Field(None, description="Who wrote the scene: a provider name or builtin.")
    answer_text: str | None = Field(None, description="The final answer stated in the video.")
    answer_check: str | None = Field(None, description="verified, corrected or unverifiable.")
    render_duration_seconds: float | None = None
    video_size_bytes: int | None = None
    failure_reason: str | None = None
    cancel_requested: bool = False
    manim_code: str | None = Field(None, description="The scene code, with ?include=code.")
    steps: list[str] = Field(default_factory=list, description="The solution as text, one line per step, known "
                             "as soon as the scene is written (before the video).")
    voice: bool = Field(True, description="Whether the video was asked to be narrated.")
    voice_engine: str | None = Field(None, description="What spoke: espeak-ng (offline), clips (the operator's "
                                     "speech endpoint) or none (no sound); set when the video is ready.")
    voice_language: str | None = Field(None, description="The language the narration was spoken in.")
    subtitles_url: str | None = Field(None, description="WebVTT subtitles of the narration, when the video has any.")
    video_duration_seconds: float | None = None
    layout_errors: int | None = Field(None, description="Layout errors in the video (cut-off, overlapping, hidden or "
                                      "unreadable text; too short); null when it was not checked.")
    layout_warnings: int | None = Field(None, description="Layout warnings (e.g. a still frame over 10 s).")
    layout_issues: list[LayoutIssueView] = Field(default_factory=list, description="The first few layout issues.")


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, dict[str, Any]] = Field(description="Each component: ok, and what to fix when not.")
    error: ErrorDetail | None = None


def _errors(*codes: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for a route's error codes."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(ERROR_CODES[code], []).append(code)
    return {
        status: {"model": ErrorBody, "description": "Error: " + ", ".join(names)}
        for status, names in by_status.items()
    }


# -- views -------------------------------------------------------------------------------------


def _video_url(job: ProcessingJob) -> str | None:
    # A DELIVERED job's video may still exist for a short replay grace; show it while it does.
    if job.status in (S.READY, S.DELIVERED) and job.video_key and job.video_url:
        return job.video_url
    return None


def job_response(job: ProcessingJob) -> JobResponse:
    url = _video_url(job)
    return JobResponse(
        status=response_status_of(job.status),
        job_id=job.job_id,
        message=job.status_message or job.status.value,
        video_url=url,
        expires_at=job.video_expires_at if url else None,
        session_id=job.session_id,
    )


def job_details(job: ProcessingJob, queue_position: int | None = None, include_code: bool = False) -> JobDetails:
    brief = job_response(job)
    return JobDetails(
        **brief.model_dump(),
        job_status=job.status.value,
        status_message=job.status_message,
        problem_text=job.problem_text,
        quality=job.quality,
        created_at=job.created_at,
        started_at=job.started_at,
        completed_at=job.completed_at,
        updated_at=job.updated_at,
        delivered_at=job.delivered_at,
        queue_position=queue_position if job.status is S.QUEUED else None,
        attempts=job.attempts,
        ai_provider_used=job.ai_provider_used,
        answer_text=job.answer_text,
        answer_check=job.answer_check,
        render_duration_seconds=job.render_duration_seconds,
        video_size_bytes=job.video_size_bytes,
        failure_reason=job.failure_reason,
        cancel_requested=job.cancel_requested,
        manim_code=job.manim_code if include_code else None,
        steps=list(job.steps),
        voice=job.voice,
        voice_engine=job.voice_engine,
        voice_language=job.voice_language,
        subtitles_url=f"/api/jobs/{job.job_id}/subtitles.vtt" if job.subtitles else None,
        video_duration_seconds=job.video_duration_seconds,
        layout_errors=job.layout_errors,
        layout_warnings=job.layout_warnings,
        layout_issues=_layout_issues(job),
    )


def _layout_issues(job: ProcessingJob) -> list[LayoutIssueView]:
    views = []
    for issue in job.layout_issues:
        try:
            views.append(LayoutIssueView.model_validate(issue))
        except ValidationError:  # a row written by another version: shown without it
            continue
    return views




def submission_message(accepted: VideoGenerationResponse) -> str:
    """The status line of a just-submitted job: its place in line while it waits."""
    if accepted.queue_position:
        return f"Queued: number {accepted.queue_position} in line"
    return accepted.message


# -- the routes ----------------------------------------------------------------------------------


def _bearer_checker(settings: Settings) -> Callable[..., Awaitable[None]]:
    bearer = HTTPBearer(
        auto_error=False,
        description="Required on /api/* when APPLIANCE_API_TOKEN is set: `Authorization: Bearer TOKEN`.",
    )

    async def require_token(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if settings.api_token and not _token_matches(
            credentials.credentials if credentials else None, settings.api_token
        ):
            raise ApiError("unauthorized", "A valid API token is required: Authorization: Bearer TOKEN.",
                           headers={"WWW-Authenticate": "Bearer"})

    return require_token


def _token_matches(given: str | None, expected: str) -> bool:
    return given is not None and secrets.compare_digest(given.encode(), expected.encode())


def _is_operator(request: Request, settings: Settings) -> bool:
    """Whether the request carries the operator's APPLIANCE_API_TOKEN (which sees every job)."""
    authorization = request.headers.get("authorization", "")
    given = authorization[7:].strip() if authorization[:7].lower() == "bearer " else None
    return bool(settings.api_token) and _token_matches(given, settings.api_token or "")


@dataclass(frozen=True)
class Proof:
    """What a request offers as proof that a job is its own."""

    operator: bool  # the APPLIANCE_API_TOKEN: every job
    tokens: tuple[str | None, ...]  # job or session tokens, checked by ``AccessKeys.owns``


def _proof_checker(settings: Settings) -> Callable[..., Awaitable[Proof]]:
    async def proof(
        request: Request,
        x_job_token: str | None = Header(None, description="The job's `job_token` (from its submission)."),
        x_session_token: str | None = Header(None, description="The `session_token` of the job's session (the "
                                             "web page's session key is one too)."),
        token: str | None = Query(None, description="Either token, where a header cannot be set (EventSource, "
                                  "a <track> element). Prefer the headers: URLs end up in logs."),
    ) -> Proof:
        return Proof(_is_operator(request, settings), (x_job_token, x_session_token, token))

    return proof


def make_api_router(appliance: Appliance, settings: Settings, stopping: Stopping = _never) -> APIRouter:
    """Every route of the API; ``install_api`` adds the error handling and limits around them."""
    router = APIRouter()
    jobs = APIRouter(prefix="/api", tags=["jobs"], dependencies=[Depends(_bearer_checker(settings))],
                     responses=_errors("unauthorized"))

    keys = AccessKeys.for_settings(settings)
    owner_proof = Depends(_proof_checker(settings))

    async def load(job_id: str, proof: Proof) -> ProcessingJob:
        """The job, for its owner only: anyone else is told what a missing job's asker is told,
        so a job id alone does not even confirm that the job exists."""
        if not _UUID.fullmatch(job_id):
            raise ApiError("not_found", f"There is no job {job_id!r}.")
        try:
            job = await appliance.get(job_id)
        except NotFound:
            job = None
        if job is None or not (proof.operator or keys.owns(job.job_id, job.session_id, proof.tokens)):
            raise ApiError("not_found", f"There is no job {job_id} (or it has expired, or it is not yours: send "
                           "its X-Job-Token or X-Session-Token).")
        return job

    def session_named(body: JobRequest, header_token: str | None, request: Request) -> str | None:
        """The session a submission may be filed under: the one its session token proves (body or
        header), or, for the operator, any session id. Naming a session without its key is
        refused whether or not it exists."""
        token = body.session_token or header_token
        proven = keys.verify(token) if token else None
        if token and proven is None:
            raise ApiError("session_forbidden", "This session_token is not valid (it is not this server's).")
        if body.session_id is not None and body.session_id != proven:
            if not _is_operator(request, settings):
                raise ApiError("session_forbidden", "A session_id is accepted only with that session's "
                               "session_token (from the answer that made the session).", field="session_id")
            return body.session_id
        return proven

    @jobs.post(
        "/jobs", status_code=202, response_model=JobCreated, summary="Submit a problem",
        responses=_errors("malformed_body", "session_forbidden", "invalid_problem", "invalid_request", "active_limit",
                          "hourly_limit", "client_active_limit", "client_hourly_limit", "queue_full",
                          "payload_too_large"),
        description="Validates the problem, applies the queue cap, the client's and the session's limits and "
        "queues a job. Follow it with GET /api/jobs/{job_id} or its event stream; `video_url` appears once it is "
        "ready. A refusal for a limit (429) or a full queue (503) says when to try again in `Retry-After`, when "
        "that is known. The answer carries `job_token` and `session_token`: the job's routes answer only "
        "requests that send one of them (or the operator's API token).",
    )
    async def submit(
        body: JobRequest, response: Response, request: Request,
        x_session_token: str | None = Header(None, description="The session to file the job under, as the body's "
                                             "session_token."),
    ) -> JobCreated:
        session_id = session_named(body, x_session_token, request)
        peer = request.client.host if request.client else None
        client = client_key(peer, request.headers.getlist("x-forwarded-for"), settings.trusted_proxies)
        channel = Channel("api", session_id=session_id, client=client)
        try:
            accepted = await appliance.submit(body.problem_text, channel, quality=body.quality, voice=body.voice)
        except ProblemRejected as exc:
            raise ApiError("invalid_problem", str(exc), rule=exc.rule, field=exc.field) from None
        except LimitExceeded as exc:
            code = exc.reason if exc.reason in ERROR_CODES else "active_limit"
            retry = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s else None
            raise ApiError(code, str(exc), headers=retry) from None
        # The answer is the submission's (the job may already have moved on); the session id
        # comes from the job, since an expired session is silently replaced by a new one.
        job = await appliance.get(accepted.job_id)
        response.headers["Location"] = f"/api/jobs/{job.job_id}"
        brief = accepted.to_dict()
        brief.pop("queue_position", None)
        brief["message"] = submission_message(accepted)
        return JobCreated(**brief, session_id=job.session_id, job_token=keys.job_token(job.job_id),
                          session_token=keys.sign(job.session_id))

    @jobs.get(
        "/jobs/{job_id}", response_model=JobDetails, response_model_exclude_none=False, summary="Get a job",
        responses=_errors("not_found"),
    )
    async def get_job(
        job_id: str,
        include: str | None = Query(None, description="`code` to include the generated Manim scene code."),
        proof: Proof = owner_proof,
    ) -> JobDetails:
        job = await load(job_id, proof)
        wanted = {part.strip() for part in (include or "").split(",") if part.strip()}
        return job_details(job, await _queue_position(appliance, job), include_code="code" in wanted)

    @jobs.get(
        "/jobs/{job_id}/subtitles.vtt", summary="The narration's subtitles (WebVTT)",
        responses={200: {"content": {"text/vtt": {}}, "description": "What the video says, cue by cue, as the "
                         "video's own subtitle track has it."}, **_errors("not_found")},
        response_class=PlainTextResponse,
    )
    async def subtitles(job_id: str, proof: Proof = owner_proof) -> PlainTextResponse:
        job = await load(job_id, proof)
        if not job.subtitles:
            raise ApiError("not_found", "This job's video has no subtitles (yet).")
        return PlainTextResponse(webvtt(job.subtitles), media_type="text/vtt; charset=utf-8")

    @jobs.get(
        "/jobs/{job_id}/events", summary="Follow a job (server-sent events)",
        responses={200: {"content": {"text/event-stream": {}}, "description": "One `data:` line of JSON (the "
                         "job, as GET /api/jobs/{job_id} shows it) per status change; the current state first. "
                         "The stream ends after ready, delivered, failed or expired. Comment lines keep it "
                         "alive."}, **_errors("not_found")},
        response_class=StreamingResponse,
    )
    async def job_events(job_id: str, proof: Proof = owner_proof) -> StreamingResponse:
        await load(job_id, proof)
        return StreamingResponse(
            _event_stream(appliance, job_id, stopping),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @jobs.delete(
        "/jobs/{job_id}", response_model=JobDetails, summary="Cancel a job",
        responses=_errors("not_found", "not_cancellable"),
        description="A waiting job fails at once (Cancelled); a running one at its next step. A ready or "
        "finished job cannot be cancelled (409).",
    )
    async def cancel_job(job_id: str, proof: Proof = owner_proof) -> JobDetails:
        await load(job_id, proof)
        try:
            job = await appliance.cancel(job_id)
        except InvalidTransition as exc:
            raise ApiError("not_cancellable", f"The job is {exc.current}: it can no longer be cancelled.") from None
        return job_details(job)

    @jobs.post(
        "/jobs/{job_id}/delivered", response_model=JobDetails, summary="Confirm the video was downloaded",
        responses=_errors("not_found", "not_deliverable"),
        description="The client has the video: the job becomes delivered and the video is deleted now. "
        "Idempotent.",
    )
    async def delivered(job_id: str, proof: Proof = owner_proof) -> JobDetails:
        job = await load(job_id, proof)
        try:
            job = await appliance.mark_delivered(job_id, keep_for_replay_s=0)
        except InvalidTransition:
            raise ApiError("not_deliverable", f"The job is {job.status.value}: there is no video to confirm.",
                           ) from None
        return job_details(job)

    @jobs.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    async def unknown(request: Request, rest: str) -> None:
        # Without this, /api/... paths nobody claims fall through to the web UI mounted at "/".
        allowed = sorted({
            method
            for route in jobs.routes
            if isinstance(route, APIRoute) and route.path_regex.match(request.url.path) and route.name != "unknown"
            for method in route.methods or ()
        } - {"HEAD"})
        if allowed:
            raise ApiError("method_not_allowed", f"{request.method} is not allowed here; use {', '.join(allowed)}.",
                           headers={"Allow": ", ".join(allowed)})
        raise ApiError("not_found", f"There is no API route {request.url.path}.")

    router.include_router(jobs)

    @router.get("/healthz", response_model=Health, tags=["health"], summary="Liveness",
                description="Answers while the process serves requests; checks nothing else.")
    async def healthz() -> Health:
        return Health()

    readiness = ReadinessCache(appliance.readiness)

    @router.get("/readyz", response_model=Readiness, tags=["health"], summary="Readiness",
                responses={503: {"model": Readiness, "description": "not_ready: a component needs attention"}},
                description="Docker reachable, sandbox image present, store writable, storage usable, "
                "providers configured. Checked at most every few seconds (callers in between get the last "
                "answer). Each component's details (engines, bucket, models, errors) only for a caller on this "
                "machine or one with the API token; anyone else sees which components are ok.")
    async def readyz(request: Request) -> JSONResponse:
        report = await readiness.report()
        if not _may_see_details(request, settings):
            report = public_readiness(report)
        if report.get("ready"):
            return JSONResponse(report)
        failing = [name for name, check in report.get("checks", {}).items() if not check.get("ok")]
        report["error"] = {"code": "not_ready", "message": "Not ready: " + ", ".join(failing or ["unknown"])}
        return JSONResponse(report, status_code=503)

    @router.get("/metrics", tags=["health"], summary="Prometheus metrics", response_class=PlainTextResponse,
                description="Needs `Authorization: Bearer TOKEN` when APPLIANCE_API_TOKEN is set (Prometheus: "
                "`authorization: {credentials: TOKEN}` in the scrape config).")
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(appliance.metrics_text(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @router.get(
        "/videos/{key}", tags=["videos"], summary="A video (signed URL)",
        response_class=FileResponse,
        responses={200: {"content": {"video/mp4": {}}, "description": "The MP4; Range requests supported."},
                   **_errors("signature_invalid", "not_found")},
        description="The local store's signed, expiring video URLs. The first fetch of a ready job's video "
        "counts as delivery; the video stays for a short replay grace, then it is deleted.",
    )
    async def video(request: Request, key: str, expires: str = "", sig: str = "") -> FileResponse:
        try:
            path = await asyncio.to_thread(appliance.signed_video_file, key, expires, sig)
        except SignatureInvalid:
            raise ApiError("signature_invalid", "This video link is invalid or has expired.") from None
        except (NotFound, StorageError):
            raise ApiError("not_found", "This video does not exist (any more).") from None
        if request.method == "GET":
            # The first fetch of a READY job's video is its delivery (kept for the replay grace).
            await appliance.video_fetched(key)
        return FileResponse(
            path, media_type="video/mp4",
            headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
        )

    # HEAD (size probes by players) checks the link the same way but is not a delivery.
    router.add_api_route("/videos/{key}", video, methods=["HEAD"], include_in_schema=False)
    return router


# -- readiness ---------------------------------------------------------------------------------


Report = dict[str, Any]


class ReadinessCache:
    """The readiness checks behind /readyz, run in one thread at a time and at most once per
    ``interval_s``: a flood of /readyz costs one check every few seconds, not a store write, a
    Docker call and an S3 request each, nor a thread each (a check that outlives ``timeout_s``
    keeps running, and later callers wait for that same one instead of starting another).

    Lives on one event loop (the server's)."""

    def __init__(self, check: Callable[[], Report], *, interval_s: float = READINESS_INTERVAL_S,
                 timeout_s: float = READINESS_TIMEOUT_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._check = check
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self._clock = clock
        self._running: asyncio.Future[Report] | None = None
        self._last: Report | None = None
        self._checked_at = 0.0

    async def report(self) -> Report:
        """The last report if it is fresh, else the one being made (a copy: callers may change it)."""
        if self._last is not None and self._clock() - self._checked_at < self.interval_s:
            return copy.deepcopy(self._last)
        if self._running is None:
            self._running = asyncio.ensure_future(asyncio.to_thread(self._checked))
            self._running.add_done_callback(self._finished)
        try:
            return copy.deepcopy(await asyncio.wait_for(asyncio.shield(self._running), self.timeout_s))
        except TimeoutError:
            return {"ready": False, "checks": {"readiness": {"ok": False, "error": "the checks timed out"}}}

    def _checked(self) -> Report:
        try:
            return self._check()
        except Exception as exc:  # a check that cannot run is a failing check, not a 500
            log.exception("the readiness checks failed")
            return {"ready": False, "checks": {"readiness": {"ok": False, "error": f"{type(exc).__name__}: {exc}"}}}

    def _finished(self, running: asyncio.Future[Report]) -> None:
        self._running = None
        if not running.cancelled():
            self._last = running.result()
            self._checked_at = self._clock()


def public_readiness(report: Report) -> Report:
    """What a stranger learns from /readyz: ready or not, and which components are ok; not the
    engine URLs, bucket, endpoint, models or error texts."""
    checks = report.get("checks", {})
    return {"ready": bool(report.get("ready")),
            "checks": {name: {"ok": bool(check.get("ok"))} for name, check in checks.items()}}


def _may_see_details(request: Request, settings: Settings) -> bool:
    """A caller on this machine (after trusted proxies) or one with the API token."""
    if settings.api_token:
        auth = request.headers.get("authorization", "")
        if _token_matches(auth[7:].strip() if auth[:7].lower() == "bearer " else None, settings.api_token):
            return True
    return _is_loopback_client(request_client(request.scope, settings))


def request_client(scope: Scope, settings: Settings) -> str:
    """The client key (``appliance.admission.client_key``) of an HTTP request."""
    peer = scope.get("client")
    forwarded = [value.decode("latin-1") for key, value in scope.get("headers", ())
                 if key.lower() == b"x-forwarded-for"]
    return client_key(peer[0] if peer else None, forwarded, settings.trusted_proxies)


def _is_loopback_client(key: str) -> bool:
    try:
        return ipaddress.ip_network(key, strict=False).network_address.is_loopback
    except ValueError:
        return False


async def _queue_position(appliance: Appliance, job: ProcessingJob) -> int | None:
    # A store read: off the event loop, and only when it can mean something.
    if job.status is not S.QUEUED:
        return None
    return await asyncio.to_thread(appliance.queue_position, job.job_id)


async def _event_stream(appliance: Appliance, job_id: str, stopping: Stopping) -> AsyncIterator[str]:
    """SSE frames: one ``data:`` line of job JSON per change, keep-alive comments when quiet."""
    quiet_s = 0.0
    event_id = 0
    yield "retry: 3000\n\n"
    async for job in appliance.follow(job_id, stop=stopping):
        if job is None:
            quiet_s += 1.0
            if quiet_s >= SSE_HEARTBEAT_S:
                quiet_s = 0.0
                yield ": keep-alive\n\n"
            continue
        quiet_s = 0.0
        event_id += 1
        data = job_details(job, await _queue_position(appliance, job)).model_dump()
        yield f"id: {event_id}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
        if job.status in STREAM_END_STATUSES:
            return
    if stopping():
        # The job goes on (the queue survives restarts); the client reconnects later.
        yield 'event: shutdown\ndata: {"message": "The server is restarting; reconnect shortly."}\n\n'


# -- errors and limits around the routes ---------------------------------------------------------


def _validation_error(exc: RequestValidationError) -> ApiError:
    for error in exc.errors():
        location = tuple(error.get("loc", ()))
        kind = str(error.get("type", ""))
        if kind == "json_invalid":
            return ApiError("malformed_body", "The request body is not valid JSON.")
        if location == ("body",):
            return ApiError("malformed_body", "The request body must be a JSON object "
                            "(Content-Type: application/json).")
        if location[:2] == ("body", "problem_text"):
            return ApiError("invalid_problem", "problem_text: a text is required", rule="required",
                            field="problem_text")
    first = exc.errors()[0] if exc.errors() else {}
    parts = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    name = ".".join(parts) or "request"
    message = str(first.get("msg", "invalid value"))
    if name == "quality":
        message = "must be one of " + ", ".join(QUALITIES)
    return ApiError("invalid_request", f"{name}: {message}", field=name)


class PayloadTooLarge(StarletteHTTPException):
    # An HTTPException, because FastAPI re-raises those from body reading as they are
    # (anything else becomes a generic 400).
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.")

    def response(self) -> JSONResponse:
        return error_response("payload_too_large", str(self.detail))


class RequestGuard:
    """ASGI middleware in front of everything: the API token on /api/* and /metrics (checked
    before the body is read, so an unauthenticated client learns nothing about its request) and
    the body limit."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.max_bytes = settings.max_request_bytes
        self.token = settings.api_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        if self.token and (scope["path"].startswith("/api/") or scope["path"] == "/metrics"):
            auth = headers.get("authorization", "")
            given = auth[7:].strip() if auth[:7].lower() == "bearer " else None
            if not _token_matches(given, self.token):
                response = error_response("unauthorized", "A valid API token is required: Authorization: Bearer "
                                          "TOKEN.", {"WWW-Authenticate": "Bearer"})
                await response(scope, receive, send)
                return
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await PayloadTooLarge(self.max_bytes).response()(scope, receive, send)
            return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:  # a chunked body with no Content-Length
                    raise PayloadTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except PayloadTooLarge as exc:
            if started:
                raise
            await exc.response()(scope, receive, send)


class HostGuard:
    """ASGI middleware: 400 for a request whose Host header is not one of this server's names
    (``Settings.host_names``). A page on another site can point its own DNS name at 127.0.0.1
    (DNS rebinding) and so drive a loopback install from a visitor's browser; its requests
    still carry that foreign name."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.names = settings.host_names()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.names is not None and scope["type"] == "http":
            host = next((value.decode("latin-1") for key, value in scope["headers"] if key == b"host"), None)
            if host is not None and host_name(host) not in self.names:
                response = error_response("unknown_host", "This server does not answer to that host name "
                                          "(APPLIANCE_ALLOWED_HOSTS lists the names it does).")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def host_name(header: str) -> str:
    """A Host header's name: lower case, without the port or an IPv6 address's brackets."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


STREAM_PATHS = re.compile(r"^/api/jobs/[^/]+/events$|^/gradio_api/queue/data$")
"""Responses that stay open for long: the API's event streams, and the stream each open web page
keeps (Gradio's queue)."""


class StreamLimit:
    """ASGI middleware: at most ``APPLIANCE_MAX_STREAMS_PER_CLIENT`` long-lived responses open
    per client address (the key the submission limits use), so one client cannot hold every
    connection and follower the server has."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.slots = ClientSlots(settings.max_streams_per_client)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not STREAM_PATHS.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        with self.slots.hold(request_client(scope, self.settings)) as admitted:
            if admitted:
                await self.app(scope, receive, send)
                return
        limit = self.slots.limit
        response = error_response(
            "client_stream_limit", f"Your address already has {limit} streams open (the limit is {limit}): close "
            "some pages or event streams and try again.", {"Retry-After": "10"})
        await response(scope, receive, send)


def install_api(app: FastAPI, appliance: Appliance, settings: Settings, stopping: Stopping = _never) -> None:
    """Add the API's routes, error handlers and request limits to ``app``. ``stopping`` says
    when the server is shutting down (event streams end then). The middleware guards every
    route of the app, the web page's and the webhook's too: the last added runs first, so a
    foreign Host is refused before anything else is looked at."""
    app.include_router(make_api_router(appliance, settings, stopping))
    app.add_middleware(StreamLimit, settings=settings)
    app.add_middleware(RequestGuard, settings=settings)
    app.add_middleware(HostGuard, settings=settings)

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_error(exc).response()

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large",
                400: "malformed_body", 401: "unauthorized"}.get(exc.status_code, "internal_error")
        response = error_response(code, str(exc.detail), exc.headers)
        response.status_code = exc.status_code
        return response

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response("internal_error", "Something went wrong on the server; it has been logged.")

