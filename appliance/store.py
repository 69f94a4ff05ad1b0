"""The state store: sessions, jobs, their indexes and the job queue, in one diskcache.

Keys follow the seed exactly:

    session:{uuid}                 UserSession               7 days, sliding on activity
    job:{uuid}                     ProcessingJob             TTL by status (``StatusTTLs``)
    sessions:by_chat:{chat_id}     session id of a chat      as its session
    jobs:by_session:{session_id}   job ids of a session      as its session

and a few of the appliance's own:

    codecache:{digest}             validated scene code for a normalised problem (1 day)
    submissions:{session_id}       submission times of the last hour (per-session rate limit)

Per-state indexes (as rq's registries), so maintenance never scans every job. Each is a
doubly linked list of rows, oldest entry first; no TTL (rows are removed explicitly):

    jobs:index:{name}              {"head": job_id, "tail": job_id, "count": n}
    jobs:index:{name}:{job_id}     {"prev": job_id, "next": job_id, "at": ISO time the job entered}

    queued         status QUEUED, by ``updated_at``           (the queued-timeout sweep)
    in_flight      AI_GENERATING..UPLOADING, by ``started_at`` (start-up recovery, the stray-video sweep)
    ready          status READY, by ``completed_at``          (the access-window expiry)
    kept_videos    any other job still holding a video, by ``delivered_at`` (the replay-grace deletion)

The queue, one row per waiting job (nothing is rewritten in proportion to its length):

    queue:job:{job_id}             {"seq": place, "session": id, "prev": job_id, "next": job_id}
    queue:seq:{seq}                the job id at place ``seq``
    queue:session:{session_id}     that session's own line: {"head": job_id, "tail": job_id, "count": n}
    queue:ends                     {"front": next place at the front, "back": next place at the back}
    queue:taken                    {job_id: session_id} for the jobs render slots took (at most one per slot)
    queue:tree:waiting:{level}:{i} counting tree over places: how many jobs wait (for positions)
    queue:tree:idle:{level}:{i}    counting tree over places: the first waiting job of each session
                                   that has nothing taken (for the fair pick)

Places (``seq``) grow at the back and shrink at the front (a requeue), from the middle of
``[0, TREE_FANOUT ** TREE_LEVELS)``, and start from the middle again whenever the line is
empty. A counting tree is ``TREE_LEVELS`` rows deep (``_CountTree``). Costs, in rows:

    push (create_job, requeue)   O(TREE_LEVELS)
    pop_next                     O(TREE_LEVELS), or O(jobs taken) when every waiting session has one taken
    queue_position               O(TREE_LEVELS) reads
    queue_length, running_count  one read
    remove (cancel, finish)      O(TREE_LEVELS)
    recover                      O(waiting + in flight), once at start-up

Fairness (``pop_next``): the job taken next is the one of the session with the fewest jobs
taken now; among those sessions, the job furthest forward in line. A requeued job goes to
the very front of the line.

Invariants, each kept inside the same ``transact()`` that writes the job (one SQLite
transaction, so a crash leaves all of it or none of it):

1. A job belongs to an index exactly when its stored record says so (``_memberships``);
   only a TTL expiring a ``job:`` key can leave a member behind, and every walk drops
   such a member. An index never misses a live job.
2. A job that is not final is found by start-up recovery: it is waiting (``queue:job``),
   taken (``queue:taken``), or in the ``in_flight`` index; there is no state between two
   transactions in which it is none of these (popping moves waiting -> taken, a slot's
   first transition adds in_flight, and finishing removes taken in the same write). So a
   crash between a worker's steps never loses a job.
3. The waiting tree holds exactly the places of the ``queue:job`` rows; ``queue:seq`` maps
   each back; a session's line is sorted by place (a push at the back takes the largest
   place there is, at the front the smallest, so appending or prepending keeps it sorted).
4. The idle tree holds exactly the place of the first job in the line of each session with
   nothing in ``queue:taken``.
5. Nothing is pickled: values are JSON (``diskcache.JSONDisk``), so a writable cache
   directory does not mean code execution.

Every read-modify-write runs inside ``Cache.transact()``, atomic across threads *and*
processes. Expiry in diskcache is lazy: an expired key is invisible to ``get`` at once, and
``expire()`` (called by maintenance) reclaims the space. diskcache's and SQLite's exceptions
become ``StoreError`` in one place, ``translate_errors``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
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

# The counting trees' shape: 256 ** 4 places, half of them (2**31) for each end, and the
# places start from the middle again whenever the line is empty.
TREE_FANOUT = 256
TREE_LEVELS = 4


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


def code_cache_key(problem_text: str, language: str | None, quality: str) -> str:
    normalised = " ".join(problem_text.lower().split())
    digest = hashlib.sha256(f"{language or ''}\x00{quality}\x00{normalised}".encode()).hexdigest()
    return f"codecache:{digest}"


@contextlib.contextmanager
def translate_errors(action: str) -> Iterator[None]:
    """The one place where diskcache's, SQLite's and the disk's exceptions become ``StoreError``.

    The project's own exceptions (NotFound, LimitExceeded, InvalidTransition) pass through."""
    try:
        yield
    except diskcache.Timeout as exc:
        raise StoreError(f"the state store is busy: {action} timed out waiting for a lock") from exc
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"the state store failed while {action}: {exc}") from exc
    except (zlib.error, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StoreError(f"the state store holds an unreadable value ({action}): {exc}") from exc


def open_cache(directory: Path) -> diskcache.Cache:
    """Open (creating 0700) a diskcache that stores JSON, never pickles and never evicts."""
    with translate_errors(f"opening the state store at {directory}"):
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


# -- the rows behind the queue and the indexes ---------------------------------------------
# Every helper below takes the cache it works in and runs inside the caller's transaction.


class _CountTree:
    """How many entries sit at each place of ``[0, TREE_FANOUT ** TREE_LEVELS)``, as rows.

    A node at ``level`` (1 = just above the places) covers ``TREE_FANOUT ** level`` places
    and holds the count under each of its non-empty children: ``{"offset": count}``. A
    change, a count of the entries before a place, and the first place taken each read
    (and for a change, write) one node per level: ``TREE_LEVELS`` rows whatever the count.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def _key(self, level: int, index: int) -> str:
        return f"queue:tree:{self.name}:{level}:{index}"

    @staticmethod
    def capacity() -> int:
        return int(TREE_FANOUT**TREE_LEVELS)

    def _path(self, seq: int) -> Iterator[tuple[int, int, int]]:
        """(level, node index, offset of the child on the way to ``seq``), bottom up."""
        for level in range(1, TREE_LEVELS + 1):
            span = TREE_FANOUT ** (level - 1)
            yield level, seq // (span * TREE_FANOUT), (seq // span) % TREE_FANOUT

    def add(self, cache: Any, seq: int, delta: int) -> int:
        """Count ``delta`` more entries at ``seq``; returns the new total."""
        node: dict[str, int] = {}
        for level, index, offset in self._path(seq):
            key = self._key(level, index)
            node = cache.get(key) or {}
            count = node.get(str(offset), 0) + delta
            if count < 0:
                raise StoreError(f"the queue's {self.name} tree is out of step at place {seq}")
            if count:
                node[str(offset)] = count
            else:
                node.pop(str(offset), None)
            if node:
                cache.set(key, node)
            else:
                cache.delete(key)
        return sum(node.values())  # the root's

    def count_before(self, cache: Any, seq: int) -> int:
        before = 0
        for level, index, offset in self._path(seq):
            node: dict[str, int] = cache.get(self._key(level, index)) or {}
            before += sum(count for child, count in node.items() if int(child) < offset)
        return before

    def total(self, cache: Any) -> int:
        root: dict[str, int] = cache.get(self._key(TREE_LEVELS, 0)) or {}
        return sum(root.values())

    def first(self, cache: Any) -> int | None:
        index = 0
        for level in range(TREE_LEVELS, 0, -1):
            node: dict[str, int] | None = cache.get(self._key(level, index))
            if not node:
                return None
            index = index * TREE_FANOUT + min(int(child) for child in node)
        return index

    def places(self, cache: Any, level: int = TREE_LEVELS, index: int = 0) -> Iterator[int]:
        """Every place with an entry, in order (a walk of the whole tree)."""
        node: dict[str, int] = cache.get(self._key(level, index)) or {}
        for child in sorted(int(offset) for offset in node):
            if level == 1:
                yield index * TREE_FANOUT + child
            else:
                yield from self.places(cache, level - 1, index * TREE_FANOUT + child)


class _Line:
    """The job queue: one row per waiting job, per-session lines, the taken set, two trees."""

    ENDS = "queue:ends"
    TAKEN = "queue:taken"

    def __init__(self) -> None:
        self.waiting = _CountTree("waiting")
        self.idle = _CountTree("idle")

    @staticmethod
    def _row_key(job_id: str) -> str:
        return f"queue:job:{job_id}"

    @staticmethod
    def _seq_key(seq: int) -> str:
        return f"queue:seq:{seq}"

    @staticmethod
    def _session_key(session_id: str) -> str:
        return f"queue:session:{session_id}"

    def taken(self, cache: Any) -> dict[str, str]:
        return dict(cache.get(self.TAKEN) or {})

    def row(self, cache: Any, job_id: str) -> dict[str, Any] | None:
        row: dict[str, Any] | None = cache.get(self._row_key(job_id))
        return row

    def _head_seq(self, cache: Any, session_id: str) -> int | None:
        line = cache.get(self._session_key(session_id))
        if not line:
            return None
        head = self.row(cache, line["head"])
        if head is None:
            raise StoreError(f"the queue's line of session {session_id} is out of step")
        return int(head["seq"])

    def _next_seq(self, cache: Any, front: bool) -> int:
        middle = _CountTree.capacity() // 2
        ends = cache.get(self.ENDS) or {"front": middle - 1, "back": middle}
        seq = int(ends["front"] if front else ends["back"])
        if not 0 <= seq < _CountTree.capacity():
            raise StoreError("the queue has run out of places; it starts afresh once it is empty")
        if front:
            ends["front"] = seq - 1
        else:
            ends["back"] = seq + 1
        cache.set(self.ENDS, ends)
        return seq

    def push(self, cache: Any, job_id: str, session_id: str, front: bool = False) -> None:
        if self.row(cache, job_id) is not None:
            return  # already waiting
        taken = self.taken(cache)
        if job_id in taken:
            self._untake(cache, taken, job_id)
        idle = session_id not in taken.values()
        seq = self._next_seq(cache, front)
        row: dict[str, Any] = {"seq": seq, "session": session_id, "prev": None, "next": None}
        line = cache.get(self._session_key(session_id)) or {"head": None, "tail": None, "count": 0}
        if front:
            if line["head"] is not None:
                head = self.row(cache, line["head"])
                if head is None:
                    raise StoreError(f"the queue's line of session {session_id} is out of step")
                head["prev"] = job_id
                cache.set(self._row_key(line["head"]), head)
                row["next"] = line["head"]
                if idle:
                    self.idle.add(cache, int(head["seq"]), -1)
            else:
                line["tail"] = job_id
            line["head"] = job_id
            if idle:
                self.idle.add(cache, seq, 1)
        else:
            if line["tail"] is not None:
                tail = self.row(cache, line["tail"])
                if tail is None:
                    raise StoreError(f"the queue's line of session {session_id} is out of step")
                tail["next"] = job_id
                cache.set(self._row_key(line["tail"]), tail)
                row["prev"] = line["tail"]
            else:
                line["head"] = job_id
                if idle:
                    self.idle.add(cache, seq, 1)
            line["tail"] = job_id
        line["count"] += 1
        cache.set(self._session_key(session_id), line)
        cache.set(self._row_key(job_id), row)
        cache.set(self._seq_key(seq), job_id)
        self.waiting.add(cache, seq, 1)

    def _unlink(self, cache: Any, job_id: str, taken: dict[str, str]) -> dict[str, Any] | None:
        """Take a job out of the waiting rows; returns its row, or None when it was not waiting."""
        row = self.row(cache, job_id)
        if row is None:
            return None
        session_id = row["session"]
        line = cache.get(self._session_key(session_id))
        if line is None:
            raise StoreError(f"the queue's line of session {session_id} is out of step")
        idle = session_id not in taken.values()
        previous, following = row["prev"], row["next"]
        following_row = None
        if previous is not None:
            previous_row = self.row(cache, previous)
            if previous_row is None:
                raise StoreError(f"the queue's line of session {session_id} is out of step")
            previous_row["next"] = following
            cache.set(self._row_key(previous), previous_row)
        else:
            line["head"] = following
        if following is not None:
            following_row = self.row(cache, following)
            if following_row is None:
                raise StoreError(f"the queue's line of session {session_id} is out of step")
            following_row["prev"] = previous
            cache.set(self._row_key(following), following_row)
        else:
            line["tail"] = previous
        if idle and previous is None:  # it was the session's first: the next one is now
            self.idle.add(cache, int(row["seq"]), -1)
            if following_row is not None:
                self.idle.add(cache, int(following_row["seq"]), 1)
        line["count"] -= 1
        if line["count"]:
            cache.set(self._session_key(session_id), line)
        else:
            cache.delete(self._session_key(session_id))
        cache.delete(self._row_key(job_id))
        cache.delete(self._seq_key(int(row["seq"])))
        if self.waiting.add(cache, int(row["seq"]), -1) == 0:
            cache.delete(self.ENDS)  # empty: places start from the middle again
        return row

    def _take(self, cache: Any, taken: dict[str, str], job_id: str, session_id: str) -> None:
        if session_id not in taken.values():
            head_seq = self._head_seq(cache, session_id)
            if head_seq is not None:
                self.idle.add(cache, head_seq, -1)
        taken[job_id] = session_id
        cache.set(self.TAKEN, taken)

    def _untake(self, cache: Any, taken: dict[str, str], job_id: str) -> None:
        session_id = taken.pop(job_id)
        cache.set(self.TAKEN, taken)
        if session_id not in taken.values():
            head_seq = self._head_seq(cache, session_id)
            if head_seq is not None:
                self.idle.add(cache, head_seq, 1)

    def remove(self, cache: Any, job_id: str) -> None:
        """The job leaves the queue: no longer waiting, no longer taken."""
        taken = self.taken(cache)
        self._unlink(cache, job_id, taken)
        if job_id in taken:
            self._untake(cache, taken, job_id)

    def pop_fair(self, cache: Any) -> str | None:
        taken = self.taken(cache)
        seq = self.idle.first(cache)
        if seq is not None:
            job_id: str | None = cache.get(self._seq_key(seq))
        else:
            # Every session with a job waiting has some taken: the few sessions in ``taken``.
            job_id = None
            best: tuple[int, int] | None = None
            for session_id, count in Counter(taken.values()).items():
                head_seq = self._head_seq(cache, session_id)
                if head_seq is not None and (best is None or (count, head_seq) < best):
                    best = (count, head_seq)
            if best is not None:
                job_id = cache.get(self._seq_key(best[1]))
        if job_id is None:
            if self.waiting.total(cache):
                raise StoreError("the queue's trees are out of step: jobs wait but none can be taken")
            return None
        row = self.row(cache, job_id)
        if row is None:
            raise StoreError(f"the queue's place of job {job_id} is out of step")
        # Taken first: the session's first job then simply leaves the idle tree, and the
        # unlinking below sees a busy session and leaves the idle tree alone.
        self._take(cache, taken, job_id, row["session"])
        self._unlink(cache, job_id, taken)
        return job_id

    def position(self, cache: Any, job_id: str) -> int | None:
        row = self.row(cache, job_id)
        if row is None:
            return None
        return self.waiting.count_before(cache, int(row["seq"])) + 1

    def length(self, cache: Any) -> int:
        return self.waiting.total(cache)

    def waiting_ids(self, cache: Any) -> list[str]:
        """Every waiting job, front first (a walk of the whole line: for recovery)."""
        return [job_id for job_id in (cache.get(self._seq_key(seq)) for seq in self.waiting.places(cache))
                if job_id is not None]


class JobIndex(StrEnum):
    """The per-state indexes maintenance and recovery read instead of scanning every job."""

    QUEUED = "queued"
    IN_FLIGHT = "in_flight"
    READY = "ready"
    KEPT_VIDEOS = "kept_videos"


def _memberships(job: ProcessingJob) -> dict[JobIndex, str]:
    """The indexes ``job`` belongs to, each with the time it is ordered by (invariant 1)."""
    entries: dict[JobIndex, str] = {}
    if job.status is ProcessingStatus.QUEUED:
        entries[JobIndex.QUEUED] = job.updated_at or job.created_at
    elif job.status in IN_FLIGHT_STATUSES:
        entries[JobIndex.IN_FLIGHT] = job.started_at or job.updated_at or job.created_at
    elif job.status is ProcessingStatus.READY:
        entries[JobIndex.READY] = job.completed_at or job.updated_at or job.created_at
    if job.video_key and job.status is not ProcessingStatus.READY:
        entries[JobIndex.KEPT_VIDEOS] = job.delivered_at or job.updated_at or job.created_at
    return entries


class _IndexRows:
    """One per-state index: a doubly linked list of rows, appended at the tail."""

    def __init__(self, index: JobIndex) -> None:
        self.index = index
        self.header_key = f"jobs:index:{index.value}"

    def _member_key(self, job_id: str) -> str:
        return f"{self.header_key}:{job_id}"

    def add(self, cache: Any, job_id: str, at: str) -> None:
        self.remove(cache, job_id)
        header = cache.get(self.header_key) or {"head": None, "tail": None, "count": 0}
        member = {"prev": header["tail"], "next": None, "at": at}
        if header["tail"] is not None:
            self._point(cache, header["tail"], "next", job_id)
        else:
            header["head"] = job_id
        header["tail"] = job_id
        header["count"] += 1
        cache.set(self._member_key(job_id), member)
        cache.set(self.header_key, header)

    def remove(self, cache: Any, job_id: str) -> bool:
        member = cache.get(self._member_key(job_id))
        if member is None:
            return False
        header = cache.get(self.header_key)
        if header is None:
            raise StoreError(f"the {self.index.value} index is out of step")
        previous, following = member["prev"], member["next"]
        if previous is None:
            header["head"] = following
        else:
            self._point(cache, previous, "next", following)
        if following is None:
            header["tail"] = previous
        else:
            self._point(cache, following, "prev", previous)
        header["count"] -= 1
        if header["count"]:
            cache.set(self.header_key, header)
        else:
            cache.delete(self.header_key)
        cache.delete(self._member_key(job_id))
        return True

    def _point(self, cache: Any, job_id: str, side: str, target: str | None) -> None:
        member = cache.get(self._member_key(job_id))
        if member is None:
            raise StoreError(f"the {self.index.value} index is out of step")
        member[side] = target
        cache.set(self._member_key(job_id), member)

    def walk(self, cache: Any) -> Iterator[tuple[str, str]]:
        """(job id, time) from the oldest entry on."""
        header = cache.get(self.header_key)
        job_id = header["head"] if header else None
        while job_id is not None:
            member = cache.get(self._member_key(job_id))
            if member is None:
                raise StoreError(f"the {self.index.value} index is out of step")
            yield job_id, member["at"]
            job_id = member["next"]

    def count(self, cache: Any) -> int:
        header = cache.get(self.header_key)
        return int(header["count"]) if header else 0


class Store:
    """Sessions, jobs, indexes and the persistent queue."""

    def __init__(self, directory: Path, ttls: StatusTTLs | None = None) -> None:
        self.directory = directory
        self.ttls = ttls or StatusTTLs()
        self._cache = open_cache(directory)
        self._line = _Line()
        self._indexes = {index: _IndexRows(index) for index in JobIndex}

    def close(self) -> None:
        with translate_errors("closing"):
            self._cache.close()

    @contextlib.contextmanager
    def _transaction(self, action: str = "writing") -> Iterator[Any]:
        with translate_errors(action), self._cache.transact():
            yield self._cache

    def _read(self, key: str) -> Any:
        with translate_errors("reading"):
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

    def _record_history(self, cache: Any, job: ProcessingJob, succeeded: bool = False) -> None:
        """Mirror a job's state into its session's history (and count a success)."""
        session_data = cache.get(session_key(job.session_id))
        if session_data is None:
            return  # the session expired; the job lives on until its own TTL
        session = UserSession.from_dict(session_data)
        session.record(VideoMetadata.for_job(job))
        if succeeded:
            session.successful_generations += 1
        self._write_session(cache, session)

    def _write_session(self, cache: Any, session: UserSession) -> None:
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

    def update_job(self, job_id: str, change: Callable[[ProcessingJob], None]) -> ProcessingJob:
        """Change a job's fields without a status change (the TTL is kept as it is)."""
        with self._transaction() as cache:
            job = self._load_job(cache, job_id)
            before = job.status
            was = _memberships(job)
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
            was = _memberships(job)
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
            self._write_job(cache, job, was, self.ttls.for_status(target))
            self._record_history(cache, job, succeeded=target is ProcessingStatus.READY)
            if target.is_terminal or target is ProcessingStatus.READY:
                self._line.remove(cache, job_id)
            return job

    def _write_job(self, cache: Any, job: ProcessingJob, was: dict[JobIndex, str], expire: float | None) -> None:
        """Write the job and move it between indexes: ``was`` are its memberships as stored."""
        cache.set(job_key(job.job_id), job.to_dict(), expire=expire)
        now = _memberships(job)
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
        with translate_errors("listing jobs"):
            keys = list(self._cache.iterkeys())
        for key in keys:
            if isinstance(key, str) and key.startswith("job:"):
                data = self._read(key)
                if data is not None:
                    yield ProcessingJob.from_dict(data)

    def indexed_jobs(self, index: JobIndex, entered_until: datetime | None = None) -> list[ProcessingJob]:
        """The jobs in ``index``, oldest entry first; with ``entered_until`` (aware), only those
        that entered it at or before then: a walk from the oldest that stops at the first
        younger entry, so O(jobs returned) rows. Members whose job expired are dropped."""
        with self._transaction("reading an index") as cache:
            jobs: list[ProcessingJob] = []
            gone: list[str] = []
            for job_id, at in self._indexes[index].walk(cache):
                if entered_until is not None and datetime.fromisoformat(at) > entered_until:
                    break
                data = cache.get(job_key(job_id))
                if data is None:
                    gone.append(job_id)
                else:
                    jobs.append(ProcessingJob.from_dict(data))
            for job_id in gone:
                self._indexes[index].remove(cache, job_id)
            return jobs

    def index_size(self, index: JobIndex) -> int:
        with self._transaction("reading an index") as cache:
            return self._indexes[index].count(cache)

    def _load_job(self, cache: Any, job_id: str) -> ProcessingJob:
        data = cache.get(job_key(job_id))
        if data is None:
            raise NotFound(f"job {job_id} does not exist or has expired")
        return ProcessingJob.from_dict(data)

    def _remaining_ttl(self, cache: Any, key: str) -> float | None:
        _, expire_time = cache.get(key, expire_time=True)
        if expire_time is None:
            return None
        return max(0.001, expire_time - time.time())

    # -- queue -------------------------------------------------------------------------------

    def enqueue(self, job_id: str, session_id: str) -> None:
        with self._transaction() as cache:
            self._line.push(cache, job_id, session_id)

    def pop_next(self) -> str | None:
        """Take the next job to work on, fairly: among waiting jobs, the one furthest forward
        of the sessions with the fewest jobs taken now. It stays taken until ``release``."""
        with self._transaction("taking a job") as cache:
            return self._line.pop_fair(cache)

    def release(self, job_id: str) -> None:
        """The worker is done with a job (whatever its outcome)."""
        with self._transaction() as cache:
            self._line.remove(cache, job_id)

    def requeue(self, job_id: str, status_message: str = "Waiting in line again after a restart") -> bool:
        """Put an interrupted job back at the front of the queue as QUEUED, attempts kept.

        This is the one status move outside the transition table: it is crash recovery
        and graceful shutdown, not a step of a job's normal life. Returns False when the
        job is gone or already finished.
        """
        with self._transaction() as cache:
            return self._requeue(cache, job_id, status_message)

    def _requeue(self, cache: Any, job_id: str, status_message: str) -> bool:
        data = cache.get(job_key(job_id))
        if data is None:
            self._line.remove(cache, job_id)
            return False
        job = ProcessingJob.from_dict(data)
        if job.status not in ACTIVE_STATUSES:
            self._line.remove(cache, job_id)
            return False
        was = _memberships(job)
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
        with translate_errors("reading the queue"):
            return self._line.length(self._cache)

    def running_count(self) -> int:
        with translate_errors("reading the queue"):
            return len(self._line.taken(self._cache))

    def queue_position(self, job_id: str) -> int | None:
        """1-based place in line, or None when the job is not waiting: O(TREE_LEVELS) reads."""
        with self._transaction("reading the queue") as cache:
            return self._line.position(cache, job_id)

    def recover(self) -> list[str]:
        """At start-up: every job a dead process was working on goes back to the queue.

        Jobs marked taken, or in the in-flight index, become QUEUED again at the front of
        the line with their attempt counts kept; queue entries whose job record expired are
        dropped. Returns the ids re-queued, oldest first.
        """
        requeued: list[str] = []
        with self._transaction("recovering the queue") as cache:
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

    def get_cached_code(self, key: str) -> dict[str, Any] | None:
        value = self._read(key)
        return value if isinstance(value, dict) else None

    def put_cached_code(self, key: str, value: dict[str, Any], ttl: float) -> None:
        with translate_errors("caching code"):
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
        with translate_errors("reclaiming expired keys"):
            return int(self._cache.expire())

    def check_writable(self) -> None:
        with translate_errors(f"writing a probe to {self.directory}"):
            self._cache.set("health:probe", utc_now(), expire=60)
