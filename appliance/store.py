"""The state store: sessions, jobs, their indexes and the job queue, in one diskcache.

Keys follow the seed exactly:

    session:{uuid}                 UserSession               7 days, sliding on activity
    job:{uuid}                     ProcessingJob             TTL by status (``StatusTTLs``)
    sessions:by_chat:{chat_id}     session id of a chat      as its session
    jobs:by_session:{session_id}   job ids of a session      as its session

and a few of the appliance's own:

    codecache:{digest}             validated scene code for a normalised problem (1 day)
    submissions:{session_id}       submission times of the last hour (per-session rate limit)
    jobs:layout                    the version of the layout below (``Store._upgrade``)
    videos:by_key:{video_key}      the job a stored video belongs to (video keys are opaque)   as the job

Per-state indexes (one per state, as rq's registries), so maintenance and recovery never
scan every job. Each is a doubly linked list of rows, oldest entry first, without TTL:

    jobs:index:{name}              {"head": job_id, "tail": job_id, "count": n}
    jobs:index:{name}:{job_id}     {"prev": job_id, "next": job_id, "at": ISO time it is ordered by}

    queued       status QUEUED, by updated_at                    the queued-timeout sweep
    in_flight    AI_GENERATING..UPLOADING, by started_at         start-up recovery, the stray-video sweep
    ready        status READY, by completed_at                   the access-window expiry, the stray sweep
    kept_videos  not READY but still holding a video (DELIVERED  the replay-grace deletion, the stray sweep
                 kept for replay), by delivered_at

The queue, one row per waiting job (nothing is rewritten in proportion to its length):

    queue:job:{job_id}             {"seq": place in line, "session": id, "prev": job_id, "next": job_id}
                                   (prev/next: the same session's jobs, in place order)
    queue:seq:{seq}                the job id at that place
    queue:session:{session_id}     the session's own line: {"head": job_id, "tail": job_id, "count": n}
    queue:ends                     {"front": next place at the front, "back": next place at the back}
    queue:taken                    {job_id: session_id}: jobs a render slot took and has not released
                                   (one small value: at most one job per render slot)
    queue:tree:waiting:{level}:{i} counting tree over places: every waiting job (positions, length)
    queue:tree:idle:{level}:{i}    counting tree over places: the first waiting job of each session
                                   with nothing taken (the fair pick)

Places grow at the back and shrink at the front (a requeue) from the middle of
``[0, 2**32)``, and start from the middle again whenever the line is empty. A counting
tree is three rows deep (``CountTree``). Rows read and written per operation do not
depend on the queue's length (tests/unit/test_store.py counts them):

    push (in create_job, requeue)  about 10 reads and 10 writes (+ 2 and 3 for the queued index)
    pop_next                       about 16 reads and 10 writes; + 2 reads per session with a job
                                   taken when every session with a job waiting has one taken
    release, remove                a few rows; + a tree's 3 when a session's first job changes
    queue_position                 4 reads (the job's row, one node per tree level)
    queue_length, running_count    1 read
    recover                        O(jobs waiting + in flight), once at start-up

Fairness (``pop_next``): the job taken next belongs to the session with the fewest jobs
taken now (by render slots), and is, among those sessions' jobs, the one furthest forward
in line. A requeued job goes to the very front of the line; an attempt it was in the middle of
is given back (and counted in ``interruptions``).

Invariants. Each holds after every ``transact()``; everything one change of a job needs
(its record, its indexes, its queue rows, its session's history) is written in the same
transaction, an SQLite transaction, so a crash leaves all of it or none of it:

1. A job is a member of an index exactly when its stored record says so
   (``memberships``). Only a TTL expiring a ``job:`` key leaves a member behind; every
   walk drops such members. An index never misses a live job.
2. Every job a worker may have lost is found by start-up recovery: a QUEUED job is
   waiting (``queue:job``) or taken (``queue:taken``), an in-flight one is in the
   ``in_flight`` index, and each step moves a job from one of these to the next in one
   transaction (pop: waiting -> taken; first transition: + in_flight; READY or a final
   state: out of taken and in_flight). So a crash between a worker's steps loses no job.
   (The one exception is asked for: ``create_job(enqueue=False)``.)
3. The waiting tree counts exactly the places of the ``queue:job`` rows, and
   ``queue:seq`` maps each back. A session's line is in place order: a push at the back
   takes the largest place there is, at the front the smallest, so appending or
   prepending keeps it sorted.
4. The idle tree counts exactly the place of the first job of each session line whose
   session has nothing in ``queue:taken``.
5. Nothing is pickled: keys and values are JSON (``store_disk.JSONOnlyDisk``, a
   ``diskcache.JSONDisk`` that refuses to write a pickle and refuses to read one: a
   pickled row planted in the directory is a ``StoreError``, never unpickled).

Expiry in diskcache is lazy: an expired key is invisible to ``get`` at once, and
``expire()`` (called by maintenance) reclaims the space. diskcache's, SQLite's and the
disk's exceptions become ``StoreError`` in one place, ``translate_errors``.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from appliance.errors import LimitExceeded, NotFound, StoreError
from appliance.job_index import IndexRows, JobIndex, memberships
from appliance.job_queue import JobLine
from appliance.models import (
    ACTIVE_STATUSES,
    IN_FLIGHT_STATUSES,
    JSONDict,
    ProcessingJob,
    ProcessingStatus,
    UserSession,
    VideoMetadata,
    check_transition,
    utc_now,
)
from appliance.store_disk import JSONValue, RowCache, open_cache, translate_errors

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


def video_job_key(video_key: str) -> str:
    return f"videos:by_key:{video_key}"


LAYOUT_KEY = "jobs:layout"
LAYOUT_VERSION = 2
# Layout 1 kept the whole queue in one value: {"pending": [[job_id, session_id], ...],
# "running": {job_id: session_id}}, and had no indexes.
LAYOUT_1_QUEUE_KEY = "queue:state"


def code_cache_key(problem_text: str, language: str | None, quality: str) -> str:
    normalised = " ".join(problem_text.lower().split())
    digest = hashlib.sha256(f"{language or ''}\x00{quality}\x00{normalised}".encode()).hexdigest()
    return f"codecache:{digest}"


class Store:
    """Sessions, jobs, indexes and the persistent queue."""

    def __init__(self, directory: Path, ttls: StatusTTLs | None = None) -> None:
        self.directory = directory
        self.ttls = ttls or StatusTTLs()
        self._cache = open_cache(directory)
        self._line = JobLine()
        self._indexes = {index: IndexRows(index) for index in JobIndex}
        self._upgrade()

    def _upgrade(self) -> None:
        """Lay out a store written before the queue was rows (layout 1: one ``queue:state``
        value, no indexes) as this module says, once per data directory: that one time,
        every job key is read. Waiting jobs keep their order, taken ones stay taken."""
        with self._transaction("upgrade the state store's layout") as cache:
            if cache.get(LAYOUT_KEY) == LAYOUT_VERSION:
                return
            entries: list[tuple[str, JobIndex, str]] = []
            for key in list(cache.iterkeys()):
                if isinstance(key, str) and key.startswith("job:"):
                    data = cache.get(key)
                    if data is not None:
                        job = ProcessingJob.from_dict(data)
                        entries += [(at, index, job.job_id) for index, at in memberships(job).items()]
            for at, index, job_id in sorted(entries):
                self._indexes[index].add(cache, job_id, at)
            old_queue = cache.get(LAYOUT_1_QUEUE_KEY)
            if old_queue:
                for job_id, session_id in old_queue.get("pending", []):
                    self._line.push(cache, job_id, session_id)
                for job_id, session_id in old_queue.get("running", {}).items():
                    self._line.take(cache, job_id, session_id)
                cache.delete(LAYOUT_1_QUEUE_KEY)
            cache.set(LAYOUT_KEY, LAYOUT_VERSION)

    def close(self) -> None:
        with translate_errors("close the state store"):
            self._cache.close()

    @contextlib.contextmanager
    def _transaction(self, doing: str = "write to the state store") -> Iterator[RowCache]:
        with translate_errors(doing), self._cache.transact():
            yield self._cache

    def _read(self, key: str) -> JSONValue:
        with translate_errors("read the state store"):
            return self._cache.get(key)

    # -- sessions ----------------------------------------------------------------------------

    def create_session(self, session: UserSession) -> UserSession:
        with self._transaction() as cache:
            cache.set(session_key(session.session_id), session.to_dict(), expire=self.ttls.session)
            if session.channel == "telegram":
                cache.set(chat_index_key(session.telegram_chat_id), session.session_id,
                          expire=self.ttls.session)
        return session

    def get_session(self, session_id: str) -> UserSession:
        data = self._read(session_key(session_id))
        if data is None:
            raise NotFound(f"session {session_id} does not exist or has expired")
        return UserSession.from_dict(data)

    def find_session_by_chat(self, chat_id: str) -> UserSession | None:
        session_id = self._read(chat_index_key(chat_id))
        if session_id is None:
            return None
        data = self._read(session_key(session_id))
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

    def _record_history(self, cache: RowCache, job: ProcessingJob, succeeded: bool = False) -> None:
        """Mirror a job's state into its session's history (and count a success)."""
        session_data = cache.get(session_key(job.session_id))
        if session_data is None:
            return  # the session expired; the job lives on until its own TTL
        session = UserSession.from_dict(session_data)
        session.record(VideoMetadata.for_job(job))
        if succeeded:
            session.successful_generations += 1
        self._write_session(cache, session)

    def _write_session(self, cache: RowCache, session: UserSession) -> None:
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
            self._write_job(cache, job, {}, self.ttls.for_status(job.status))
            job_ids = cache.get(session_jobs_key(job.session_id)) or []
            job_ids.append(job.job_id)
            cache.set(session_jobs_key(job.session_id), job_ids, expire=self.ttls.session)
            self._write_session(cache, session)
            if enqueue:
                self._line.push(cache, job.job_id, job.session_id)
        return job

    def get_job(self, job_id: str) -> ProcessingJob:
        data = self._read(job_key(job_id))
        if data is None:
            raise NotFound(f"job {job_id} does not exist or has expired")
        return ProcessingJob.from_dict(data)

    def job_for_video(self, video_key: str) -> ProcessingJob | None:
        """The job whose video is stored under ``video_key`` (None: no live job holds it)."""
        job_id = self._read(video_job_key(video_key))
        if not isinstance(job_id, str):
            return None
        data = self._read(job_key(job_id))
        if data is None:
            return None
        job = ProcessingJob.from_dict(data)
        return job if job.video_key == video_key else None

    def update_job(self, job_id: str, change: Callable[[ProcessingJob], None]) -> ProcessingJob:
        """Change a job's fields without a status change (the TTL is kept as it is)."""
        with self._transaction() as cache:
            job = self._load_job(cache, job_id)
            before = job.status
            was = memberships(job)
            change(job)
            if job.status is not before:
                raise StoreError("update_job cannot change the status; use transition_job")
            job.updated_at = utc_now()
            self._write_job(cache, job, was, self._remaining_ttl(cache, job_key(job_id)))
            return job

    def transition_job(
        self,
        job_id: str,
        target: ProcessingStatus,
        status_message: str | None = None,
        change: Callable[[ProcessingJob], None] | None = None,
    ) -> ProcessingJob:
        """Move a job to ``target`` in one transaction: status, message, timestamps, TTL,
        indexes, history, and (for READY and final states) out of the queue.

        An illegal move raises ``InvalidTransition`` and writes nothing.
        """
        with self._transaction() as cache:
            job = self._load_job(cache, job_id)
            check_transition(job.status, target)
            was = memberships(job)
            now = utc_now()
            if target is ProcessingStatus.FAILED:
                job.failed_step = job.status
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
            self._write_job(cache, job, was, self.ttls.for_status(target))
            self._record_history(cache, job, succeeded=target is ProcessingStatus.READY)
            if target.is_terminal or target is ProcessingStatus.READY:
                self._line.remove(cache, job_id)
            return job

    def _write_job(self, cache: RowCache, job: ProcessingJob, was: dict[JobIndex, str], expire: float | None) -> None:
        """Write the job and move it between indexes: ``was`` are its memberships as stored."""
        cache.set(job_key(job.job_id), job.to_dict(), expire=expire)
        if job.video_key:
            # Lives as long as the job; once the video is gone the row points at a job whose
            # video_key no longer matches, which ``job_for_video`` treats as no job.
            cache.set(video_job_key(job.video_key), job.job_id, expire=expire)
        now = memberships(job)
        for index, at in was.items():
            if now.get(index) != at:
                self._indexes[index].remove(cache, job.job_id)
        for index, at in now.items():
            if was.get(index) != at:
                self._indexes[index].add(cache, job.job_id, at)

    def list_jobs(self, session_id: str) -> list[ProcessingJob]:
        """The session's jobs that still exist, oldest first."""
        job_ids = self._read(session_jobs_key(session_id)) or []
        jobs = []
        for job_id in job_ids:
            data = self._read(job_key(job_id))
            if data is not None:
                jobs.append(ProcessingJob.from_dict(data))
        return jobs

    def active_job_count(self, session_id: str) -> int:
        return sum(1 for job in self.list_jobs(session_id) if job.status in ACTIVE_STATUSES)

    def iter_jobs(self) -> Iterator[ProcessingJob]:
        """Every job that has not expired (a scan of every key: for the CLI, not for maintenance)."""
        with translate_errors("list the jobs"):
            keys = list(self._cache.iterkeys())
        for key in keys:
            if isinstance(key, str) and key.startswith("job:"):
                data = self._read(key)
                if data is not None:
                    yield ProcessingJob.from_dict(data)

    def indexed_jobs(self, index: JobIndex, entered_until: datetime | None = None) -> list[ProcessingJob]:
        """The jobs in ``index``, oldest entry first; with ``entered_until`` (aware), only those
        that entered it at or before then: a walk from the oldest entry that stops at the
        first younger one, so O(jobs returned) rows. Members whose job expired are dropped.

        The walk runs in one transaction; the jobs are read after it, so a job may have
        moved on by then (callers check its status)."""
        with self._transaction("read an index of jobs") as cache:
            job_ids = []
            for job_id, at in self._indexes[index].walk(cache):
                if entered_until is not None and datetime.fromisoformat(at) > entered_until:
                    break
                job_ids.append(job_id)
        jobs: list[ProcessingJob] = []
        gone: list[str] = []
        for job_id in job_ids:
            data = self._read(job_key(job_id))
            if data is None:
                gone.append(job_id)
            else:
                jobs.append(ProcessingJob.from_dict(data))
        if gone:
            with self._transaction("drop expired jobs from an index") as cache:
                for job_id in gone:
                    if cache.get(job_key(job_id)) is None:
                        self._indexes[index].remove(cache, job_id)
        return jobs

    def index_size(self, index: JobIndex) -> int:
        with translate_errors("read an index of jobs"):
            return self._indexes[index].count(self._cache)

    def _load_job(self, cache: RowCache, job_id: str) -> ProcessingJob:
        data = cache.get(job_key(job_id))
        if data is None:
            raise NotFound(f"job {job_id} does not exist or has expired")
        return ProcessingJob.from_dict(data)

    def _remaining_ttl(self, cache: RowCache, key: str) -> float | None:
        _, expire_time = cache.get(key, expire_time=True)
        if expire_time is None:
            return None
        return max(0.001, float(expire_time) - time.time())

    # -- queue -------------------------------------------------------------------------------

    def enqueue(self, job_id: str, session_id: str) -> None:
        with self._transaction() as cache:
            self._line.push(cache, job_id, session_id)

    def pop_next(self) -> str | None:
        """Take the next job to work on, fairly: among waiting jobs, the one furthest forward
        of the sessions with the fewest jobs taken now. It stays taken until ``release``."""
        with self._transaction("take a job from the queue") as cache:
            return self._line.pop_fair(cache)

    def release(self, job_id: str) -> None:
        """The worker is done with a job (whatever its outcome)."""
        with self._transaction() as cache:
            self._line.remove(cache, job_id)

    def requeue(self, job_id: str, status_message: str = "Waiting in line again after a restart") -> bool:
        """Put an interrupted job back at the front of the queue as QUEUED; an attempt it was in
        the middle of is given back and counted in ``interruptions``.

        This is the one status move outside the transition table: it is crash recovery
        and graceful shutdown, not a step of a job's normal life. Returns False when the
        job is gone or already finished.
        """
        with self._transaction() as cache:
            return self._requeue(cache, job_id, status_message)

    def _requeue(self, cache: RowCache, job_id: str, status_message: str) -> bool:
        data = cache.get(job_key(job_id))
        if data is None:
            self._line.remove(cache, job_id)
            return False
        job = ProcessingJob.from_dict(data)
        if job.status not in ACTIVE_STATUSES:
            self._line.remove(cache, job_id)
            return False
        was = memberships(job)
        if job.status in IN_FLIGHT_STATUSES:
            # A shutdown or a crash is not the job's fault: the attempt it cut short is given
            # back (the pipeline stops a job interrupted too often, saying so).
            job.attempts = max(0, job.attempts - 1)
            job.interruptions += 1
        job.status = ProcessingStatus.QUEUED
        job.status_message = status_message
        job.updated_at = utc_now()
        self._write_job(cache, job, was, self.ttls.for_status(job.status))
        self._record_history(cache, job)
        self._line.push(cache, job_id, job.session_id, front=True)
        return True

    def remove_from_queue(self, job_id: str) -> None:
        with self._transaction() as cache:
            self._line.remove(cache, job_id)

    def queue_length(self) -> int:
        with translate_errors("read the queue"):
            return self._line.length(self._cache)

    def running_count(self) -> int:
        with translate_errors("read the queue"):
            return len(self._line.taken(self._cache))

    def queue_position(self, job_id: str) -> int | None:
        """1-based place in line, or None when the job is not waiting (4 row reads)."""
        with self._transaction("read the queue") as cache:
            return self._line.position(cache, job_id)

    def recover(self) -> list[str]:
        """At start-up: every job a dead process was working on goes back to the queue.

        Jobs marked taken, or in the in-flight index, become QUEUED again at the front of
        the line with their attempt counts kept; queue entries whose job record expired are
        dropped. Returns the ids re-queued, oldest first.
        """
        requeued: list[str] = []
        with self._transaction("recover the queue") as cache:
            taken = self._line.taken(cache)
            candidates = list(taken)
            for job_id in candidates:
                self._line.remove(cache, job_id)
            for job_id in self._line.waiting_ids(cache):
                if cache.get(job_key(job_id)) is None:
                    self._line.remove(cache, job_id)
            in_flight = []
            in_flight_rows = self._indexes[JobIndex.IN_FLIGHT]
            for job_id, _ in list(in_flight_rows.walk(cache)):
                data = cache.get(job_key(job_id))
                if data is None:
                    in_flight_rows.remove(cache, job_id)
                elif ProcessingStatus(data["status"]) in IN_FLIGHT_STATUSES:
                    in_flight.append(data)
            in_flight.sort(key=lambda data: data["created_at"])
            candidates += [data["job_id"] for data in in_flight if data["job_id"] not in candidates]
            # _requeue puts each at the front, so walk newest first to keep the oldest first.
            for job_id in reversed([job_id for job_id in candidates if self._line.row(cache, job_id) is None]):
                if self._requeue(cache, job_id, "Waiting in line again after a restart"):
                    requeued.append(job_id)
        requeued.reverse()
        return requeued

    # -- code cache and rate limits ----------------------------------------------------------

    def get_cached_code(self, key: str) -> JSONDict | None:
        value = self._read(key)
        return value if isinstance(value, dict) else None

    def put_cached_code(self, key: str, value: JSONDict, ttl: float) -> None:
        with translate_errors("cache scene code"):
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
        with translate_errors("reclaim expired keys"):
            return int(self._cache.expire())

    def check_writable(self) -> None:
        with translate_errors(f"write to the state store at {self.directory}"):
            self._cache.set("health:probe", utc_now(), expire=60)
