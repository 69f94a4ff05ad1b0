"""The state store: sessions, jobs, their indexes and the job queue, in one diskcache.

Keys follow the seed exactly:

    session:{uuid}                 UserSession               7 days, sliding on activity
    job:{uuid}                     ProcessingJob             TTL by status (``StatusTTLs``)
    sessions:by_chat:{chat_id}     session id of a chat      as its session
    jobs:by_session:{session_id}   job ids of a session      as its session

and a few of the appliance's own:

    queue:state                    {"pending": [[job_id, session_id], ...], "running": {job_id: session_id}}
    codecache:{digest}             validated scene code for a normalised problem (1 day)
    submissions:{session_id}       submission times of the last hour (per-session rate limit)

Values are JSON (``diskcache.JSONDisk``): a writable cache directory must not mean
code execution, so nothing is pickled. Every read-modify-write runs inside
``Cache.transact()``, which is an SQLite write transaction and so is atomic across
threads *and* processes. Expiry in diskcache is lazy: an expired key is invisible
to ``get`` at once, and ``expire()`` (called by maintenance) reclaims the space.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import diskcache

from appliance.errors import LimitExceeded, NotFound, StoreError
from appliance.models import (
    ACTIVE_STATUSES,
    IN_FLIGHT_STATUSES,
    ProcessingJob,
    ProcessingStatus,
    UserSession,
    VideoMetadata,
    check_transition,
    utc_now,
)

HOUR = 3600
DAY = 24 * HOUR


@dataclass(frozen=True)
class StatusTTLs:
    """How long each record lives, in seconds (the seed's TTL table, plus in-flight choices)."""

    session: float = 7 * DAY
    queued: float = 1 * HOUR
    # Not in the seed: a job being worked on must never vanish under a slow render or a
    # slow model, so in-flight states live far longer than any render can take; crash
    # recovery re-queues them anyway.
    in_flight: float = 6 * HOUR
    ready: float = 1 * DAY
    delivered: float = 7 * DAY
    failed: float = 1 * DAY
    # Not in the seed: an expired job is kept as long as a delivered one, for the audit trail.
    expired: float = 7 * DAY
    # The QUEUED key outlives the 1 h processing timeout by this much, so the timeout sweep
    # can still mark it FAILED (and tell the user) instead of the job silently vanishing.
    queued_grace: float = 15 * 60

    def for_status(self, status: ProcessingStatus) -> float:
        if status is ProcessingStatus.QUEUED:
            return self.queued + self.queued_grace
        if status in IN_FLIGHT_STATUSES:
            return self.in_flight
        return {
            ProcessingStatus.READY: self.ready,
            ProcessingStatus.DELIVERED: self.delivered,
            ProcessingStatus.FAILED: self.failed,
            ProcessingStatus.EXPIRED: self.expired,
        }[status]


def session_key(session_id: str) -> str:
    return f"session:{session_id}"


def job_key(job_id: str) -> str:
    return f"job:{job_id}"


def chat_index_key(chat_id: str) -> str:
    return f"sessions:by_chat:{chat_id}"


def session_jobs_key(session_id: str) -> str:
    return f"jobs:by_session:{session_id}"


QUEUE_KEY = "queue:state"


def code_cache_key(problem_text: str, language: str | None, quality: str) -> str:
    normalised = " ".join(problem_text.lower().split())
    digest = hashlib.sha256(f"{language or ''}\x00{quality}\x00{normalised}".encode()).hexdigest()
    return f"codecache:{digest}"


def open_cache(directory: Path) -> diskcache.Cache:
    """Open (creating 0700) a diskcache that stores JSON, never pickles and never evicts."""
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(directory, 0o700)
        return diskcache.Cache(
            str(directory),
            disk=diskcache.JSONDisk,
            eviction_policy="none",
            # Videos never go in here; records are small. A generous size limit plus
            # eviction "none" means nothing is ever dropped behind our back.
            size_limit=2**40,
            timeout=60,
        )
    except (OSError, diskcache.Timeout) as exc:
        raise StoreError(f"cannot open the state store at {directory}: {exc}") from exc


class Store:
    """Sessions, jobs, indexes and the persistent queue."""

    def __init__(self, directory: Path, ttls: StatusTTLs | None = None) -> None:
        self.directory = directory
        self.ttls = ttls or StatusTTLs()
        self._cache = open_cache(directory)

    def close(self) -> None:
        self._cache.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[diskcache.Cache]:
        try:
            with self._cache.transact():
                yield self._cache
        except diskcache.Timeout as exc:
            raise StoreError("the state store is busy (timed out waiting for a lock)") from exc

    # -- sessions ----------------------------------------------------------------------------

    def create_session(self, session: UserSession) -> UserSession:
        with self._transaction() as cache:
            cache.set(session_key(session.session_id), session.to_dict(), expire=self.ttls.session)
            if session.channel == "telegram":
                cache.set(chat_index_key(session.telegram_chat_id), session.session_id,
                          expire=self.ttls.session)
        return session

    def get_session(self, session_id: str) -> UserSession:
        data = self._cache.get(session_key(session_id))
        if data is None:
            raise NotFound(f"session {session_id} does not exist or has expired")
        return UserSession.from_dict(data)

    def find_session_by_chat(self, chat_id: str) -> UserSession | None:
        session_id = self._cache.get(chat_index_key(chat_id))
        if session_id is None:
            return None
        data = self._cache.get(session_key(session_id))
        return UserSession.from_dict(data) if data is not None else None

    def get_or_create_session_for_chat(self, chat_id: str, language: str | None = None) -> UserSession:
        """The chat's session (sliding its TTL), or a new one; atomic under concurrent calls."""
        with self._transaction() as cache:
            session_id = cache.get(chat_index_key(chat_id))
            data = cache.get(session_key(session_id)) if session_id else None
            if data is not None:
                session = UserSession.from_dict(data)
                session.last_activity = utc_now()
            else:
                session = UserSession.new(telegram_chat_id=chat_id, channel="telegram",
                                          language=language or "en")
            self._write_session(cache, session)
            return session

    def touch_session(self, session_id: str) -> UserSession:
        """Record activity: last_activity is now and the 7-day TTL starts again."""

        def touch(session: UserSession) -> None:
            session.last_activity = utc_now()

        return self.update_session(session_id, touch)

    def update_session(self, session_id: str, change: Callable[[UserSession], None]) -> UserSession:
        with self._transaction() as cache:
            data = cache.get(session_key(session_id))
            if data is None:
                raise NotFound(f"session {session_id} does not exist or has expired")
            session = UserSession.from_dict(data)
            change(session)
            self._write_session(cache, session)
            return session

    def _record_history(self, cache: diskcache.Cache, job: ProcessingJob, succeeded: bool = False) -> None:
        """Mirror a job's state into its session's history (and count a success)."""
        session_data = cache.get(session_key(job.session_id))
        if session_data is None:
            return  # the session expired; the job lives on until its own TTL
        session = UserSession.from_dict(session_data)
        session.record(VideoMetadata.for_job(job))
        if succeeded:
            session.successful_generations += 1
        self._write_session(cache, session)

    def _write_session(self, cache: diskcache.Cache, session: UserSession) -> None:
        ttl = self.ttls.session
        cache.set(session_key(session.session_id), session.to_dict(), expire=ttl)
        if session.channel == "telegram":
            cache.set(chat_index_key(session.telegram_chat_id), session.session_id, expire=ttl)
        # The job index slides with its session so history stays listable.
        job_ids = cache.get(session_jobs_key(session.session_id))
        if job_ids is not None:
            cache.set(session_jobs_key(session.session_id), job_ids, expire=ttl)

    # -- jobs --------------------------------------------------------------------------------

    def create_job(
        self, job: ProcessingJob, enqueue: bool = True, max_active: int | None = None
    ) -> ProcessingJob:
        """Store a new job, index it, count the submission, add history, and queue it.

        With ``max_active``, refuse (``LimitExceeded("active_limit")``) when the session
        already has that many jobs waiting or running; checked in the same transaction, so
        concurrent submissions cannot slip past the limit.
        """
        with self._transaction() as cache:
            data = cache.get(session_key(job.session_id))
            if data is None:
                raise NotFound(f"session {job.session_id} does not exist or has expired")
            if max_active is not None:
                active = 0
                for job_id in cache.get(session_jobs_key(job.session_id)) or []:
                    existing = cache.get(job_key(job_id))
                    if existing is not None and ProcessingStatus(existing["status"]) in ACTIVE_STATUSES:
                        active += 1
                if active >= max_active:
                    noun = "video" if active == 1 else "videos"
                    raise LimitExceeded(
                        "active_limit",
                        f"You already have {active} {noun} in progress (the limit is {max_active}). "
                        "Please wait for one to finish.",
                    )
            session = UserSession.from_dict(data)
            session.total_submissions += 1
            session.last_activity = utc_now()
            session.record(VideoMetadata.for_job(job))
            cache.set(job_key(job.job_id), job.to_dict(), expire=self.ttls.for_status(job.status))
            job_ids = cache.get(session_jobs_key(job.session_id)) or []
            job_ids.append(job.job_id)
            cache.set(session_jobs_key(job.session_id), job_ids, expire=self.ttls.session)
            self._write_session(cache, session)
            if enqueue:
                self._enqueue(cache, job.job_id, job.session_id)
        return job

    def get_job(self, job_id: str) -> ProcessingJob:
        data = self._cache.get(job_key(job_id))
        if data is None:
            raise NotFound(f"job {job_id} does not exist or has expired")
        return ProcessingJob.from_dict(data)

    def update_job(self, job_id: str, change: Callable[[ProcessingJob], None]) -> ProcessingJob:
        """Change a job's fields without a status change (the TTL is kept as it is)."""
        with self._transaction() as cache:
            job = self._load_job(cache, job_id)
            before = job.status
            change(job)
            if job.status is not before:
                raise StoreError("update_job cannot change the status; use transition_job")
            job.updated_at = utc_now()
            remaining = self._remaining_ttl(cache, job_key(job_id))
            cache.set(job_key(job_id), job.to_dict(), expire=remaining)
            return job

    def transition_job(
        self,
        job_id: str,
        target: ProcessingStatus,
        status_message: str | None = None,
        change: Callable[[ProcessingJob], None] | None = None,
    ) -> ProcessingJob:
        """Move a job to ``target`` in one transaction: status, message, timestamps, TTL, history.

        An illegal move raises ``InvalidTransition`` and writes nothing.
        """
        with self._transaction() as cache:
            job = self._load_job(cache, job_id)
            check_transition(job.status, target)
            now = utc_now()
            job.status = target
            job.updated_at = now
            if status_message is not None:
                job.status_message = status_message
            if target is ProcessingStatus.AI_GENERATING and job.started_at is None:
                job.started_at = now
            if target is ProcessingStatus.READY:
                job.completed_at = now
            if target is ProcessingStatus.DELIVERED:
                job.delivered_at = now
            if change is not None:
                change(job)
            cache.set(job_key(job_id), job.to_dict(), expire=self.ttls.for_status(target))
            self._record_history(cache, job, succeeded=target is ProcessingStatus.READY)
            if target.is_terminal or target is ProcessingStatus.READY:
                self._dequeue(cache, job_id)
            return job

    def list_jobs(self, session_id: str) -> list[ProcessingJob]:
        """The session's jobs that still exist, oldest first."""
        job_ids = self._cache.get(session_jobs_key(session_id)) or []
        jobs = []
        for job_id in job_ids:
            data = self._cache.get(job_key(job_id))
            if data is not None:
                jobs.append(ProcessingJob.from_dict(data))
        return jobs

    def active_job_count(self, session_id: str) -> int:
        return sum(1 for job in self.list_jobs(session_id) if job.status in ACTIVE_STATUSES)

    def iter_jobs(self) -> Iterator[ProcessingJob]:
        """Every job that has not expired (a scan: for maintenance and the CLI)."""
        for key in list(self._cache.iterkeys()):
            if isinstance(key, str) and key.startswith("job:"):
                data = self._cache.get(key)
                if data is not None:
                    yield ProcessingJob.from_dict(data)

    def _load_job(self, cache: diskcache.Cache, job_id: str) -> ProcessingJob:
        data = cache.get(job_key(job_id))
        if data is None:
            raise NotFound(f"job {job_id} does not exist or has expired")
        return ProcessingJob.from_dict(data)

    def _remaining_ttl(self, cache: diskcache.Cache, key: str) -> float | None:
        _, expire_time = cache.get(key, expire_time=True)
        if expire_time is None:
            return None
        return max(0.001, expire_time - time.time())

    # -- queue -------------------------------------------------------------------------------

    def _queue_state(self, cache: diskcache.Cache) -> dict[str, Any]:
        return cache.get(QUEUE_KEY) or {"pending": [], "running": {}}

    def _enqueue(self, cache: diskcache.Cache, job_id: str, session_id: str, front: bool = False) -> None:
        state = self._queue_state(cache)
        if any(entry[0] == job_id for entry in state["pending"]):
            return
        state["running"].pop(job_id, None)
        if front:
            state["pending"].insert(0, [job_id, session_id])
        else:
            state["pending"].append([job_id, session_id])
        cache.set(QUEUE_KEY, state)

    def _dequeue(self, cache: diskcache.Cache, job_id: str) -> None:
        state = self._queue_state(cache)
        pending = [entry for entry in state["pending"] if entry[0] != job_id]
        if len(pending) != len(state["pending"]) or job_id in state["running"]:
            state["pending"] = pending
            state["running"].pop(job_id, None)
            cache.set(QUEUE_KEY, state)

    def enqueue(self, job_id: str, session_id: str) -> None:
        with self._transaction() as cache:
            self._enqueue(cache, job_id, session_id)

    def pop_next(self) -> str | None:
        """Take the next job to work on, fairly: among waiting jobs, the oldest one of the
        session with the fewest jobs running now. The job is marked running until ``release``."""
        with self._transaction() as cache:
            state = self._queue_state(cache)
            if not state["pending"]:
                return None
            running_per_session: dict[str, int] = {}
            for session_id in state["running"].values():
                running_per_session[session_id] = running_per_session.get(session_id, 0) + 1
            best_index = min(
                range(len(state["pending"])),
                key=lambda index: (running_per_session.get(state["pending"][index][1], 0), index),
            )
            job_id, session_id = state["pending"].pop(best_index)
            state["running"][job_id] = session_id
            cache.set(QUEUE_KEY, state)
            return str(job_id)

    def release(self, job_id: str) -> None:
        """The worker is done with a job (whatever its outcome)."""
        with self._transaction() as cache:
            self._dequeue(cache, job_id)

    def requeue(self, job_id: str, status_message: str = "Waiting in line again after a restart") -> bool:
        """Put an interrupted job back at the front of the queue as QUEUED, attempts kept.

        This is the one status move outside the transition table: it is crash recovery
        and graceful shutdown, not a step of a job's normal life. Returns False when the
        job is gone or already finished.
        """
        with self._transaction() as cache:
            return self._requeue(cache, job_id, status_message)

    def _requeue(self, cache: diskcache.Cache, job_id: str, status_message: str) -> bool:
        data = cache.get(job_key(job_id))
        if data is None:
            self._dequeue(cache, job_id)
            return False
        job = ProcessingJob.from_dict(data)
        if job.status not in ACTIVE_STATUSES:
            self._dequeue(cache, job_id)
            return False
        job.status = ProcessingStatus.QUEUED
        job.status_message = status_message
        job.updated_at = utc_now()
        cache.set(job_key(job_id), job.to_dict(), expire=self.ttls.for_status(job.status))
        self._record_history(cache, job)
        self._enqueue(cache, job_id, job.session_id, front=True)
        return True

    def remove_from_queue(self, job_id: str) -> None:
        with self._transaction() as cache:
            self._dequeue(cache, job_id)

    def queue_length(self) -> int:
        return len(self._queue_state(self._cache)["pending"])

    def running_count(self) -> int:
        return len(self._queue_state(self._cache)["running"])

    def queue_position(self, job_id: str) -> int | None:
        """1-based place in line, or None when the job is not waiting."""
        for index, entry in enumerate(self._queue_state(self._cache)["pending"]):
            if entry[0] == job_id:
                return index + 1
        return None

    def recover(self) -> list[str]:
        """At start-up: every job a dead process was working on goes back to the queue.

        Jobs marked running, or found in an in-flight status, become QUEUED again at the
        front of the line with their attempt counts kept; queue entries whose job record
        expired are dropped. Returns the ids re-queued, oldest first.
        """
        requeued: list[str] = []
        with self._transaction() as cache:
            state = self._queue_state(cache)
            candidates = list(state["running"])
            state["running"] = {}
            state["pending"] = [entry for entry in state["pending"] if cache.get(job_key(entry[0])) is not None]
            cache.set(QUEUE_KEY, state)
            waiting = {entry[0] for entry in state["pending"]}
            in_flight = []
            for key in list(cache.iterkeys()):
                if isinstance(key, str) and key.startswith("job:"):
                    data = cache.get(key)
                    if data is not None and ProcessingStatus(data["status"]) in IN_FLIGHT_STATUSES:
                        in_flight.append(data)
            in_flight.sort(key=lambda data: data["created_at"])
            candidates += [data["job_id"] for data in in_flight if data["job_id"] not in candidates]
            # _requeue puts each at the front, so walk newest first to keep the oldest first.
            for job_id in reversed([job_id for job_id in candidates if job_id not in waiting]):
                if self._requeue(cache, job_id, "Waiting in line again after a restart"):
                    requeued.append(job_id)
        requeued.reverse()
        return requeued

    # -- code cache and rate limits ----------------------------------------------------------

    def get_cached_code(self, key: str) -> dict[str, Any] | None:
        value = self._cache.get(key)
        return value if isinstance(value, dict) else None

    def put_cached_code(self, key: str, value: dict[str, Any], ttl: float) -> None:
        self._cache.set(key, value, expire=ttl)

    def record_submission(self, session_id: str, limit_per_hour: int, now: float | None = None) -> int:
        """Count a submission in the session's sliding hour; refuse past the limit."""
        now = time.time() if now is None else now
        key = f"submissions:{session_id}"
        with self._transaction() as cache:
            recent = [stamp for stamp in (cache.get(key) or []) if stamp > now - HOUR]
            if len(recent) >= limit_per_hour:
                wait_minutes = max(1, int((recent[0] + HOUR - now) // 60) + 1)
                raise LimitExceeded(
                    "hourly_limit",
                    f"You have sent {len(recent)} problems in the last hour, the limit is "
                    f"{limit_per_hour}. Please try again in about {wait_minutes} minutes.",
                )
            recent.append(now)
            cache.set(key, recent, expire=HOUR)
            return len(recent)

    # -- housekeeping ------------------------------------------------------------------------

    def expire(self) -> int:
        """Reclaim the space of expired keys (diskcache's own expiry is lazy)."""
        try:
            return int(self._cache.expire())
        except diskcache.Timeout as exc:
            raise StoreError("the state store is busy") from exc

    def check_writable(self) -> None:
        try:
            self._cache.set("health:probe", utc_now(), expire=60)
        except Exception as exc:
            raise StoreError(f"the state store at {self.directory} is not writable: {exc}") from exc

    def volume_bytes(self) -> int:
        return int(self._cache.volume())
