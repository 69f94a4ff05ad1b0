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
tree is three rows deep (``_CountTree``). Rows read and written per operation do not
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
in line. A requeued job goes to the very front of the line, its attempts kept.

Invariants. Each holds after every ``transact()``; everything one change of a job needs
(its record, its indexes, its queue rows, its session's history) is written in the same
transaction, an SQLite transaction, so a crash leaves all of it or none of it:

1. A job is a member of an index exactly when its stored record says so
   (``_memberships``). Only a TTL expiring a ``job:`` key leaves a member behind; every
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
import json
import math
import os
import sqlite3
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import diskcache

from appliance.errors import LimitExceeded, NotFound, StoreError
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
from appliance.store_disk import JSONOnlyDisk, RefusedRow

HOUR = 3600
DAY = 24 * HOUR

# The counting trees' shape, bottom level first: 2**32 places, half of them for each end of
# the line, and places start from the middle again whenever the line is empty. Three rows
# per tree and operation; a bottom node is a 256-bit mask, a node above holds counts.
TREE_FANOUTS: tuple[int, ...] = (256, 256, 65536)


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


LAYOUT_KEY = "jobs:layout"
LAYOUT_VERSION = 2
# Layout 1 kept the whole queue in one value: {"pending": [[job_id, session_id], ...],
# "running": {job_id: session_id}}, and had no indexes.
LAYOUT_1_QUEUE_KEY = "queue:state"


def code_cache_key(problem_text: str, language: str | None, quality: str) -> str:
    normalised = " ".join(problem_text.lower().split())
    digest = hashlib.sha256(f"{language or ''}\x00{quality}\x00{normalised}".encode()).hexdigest()
    return f"codecache:{digest}"


# A value as json.loads gives it back (store_disk.JSONOnlyDisk): any JSON type.
JSONValue = Any


class RowCache(Protocol):
    """What the store uses of ``diskcache.Cache``, which ships no type hints: JSON values by key."""

    def get(self, key: str, default: None = None, read: bool = False, expire_time: bool = False) -> JSONValue: ...

    def set(self, key: str, value: object, expire: float | None = None) -> bool: ...

    def delete(self, key: str) -> bool: ...

    def transact(self) -> AbstractContextManager[object]: ...

    def iterkeys(self) -> Iterator[object]: ...

    def expire(self) -> int: ...

    def close(self) -> None: ...


@contextlib.contextmanager
def translate_errors(doing: str) -> Iterator[None]:
    """The one place where diskcache's, SQLite's and the disk's exceptions become
    ``StoreError("cannot <doing>: ...")``. The project's own exceptions (NotFound,
    LimitExceeded, InvalidTransition) pass through."""
    try:
        yield
    except diskcache.Timeout as exc:
        raise StoreError(f"cannot {doing}: the state store is busy (timed out waiting for a lock)") from exc
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"cannot {doing}: {exc}") from exc
    except RefusedRow as exc:
        raise StoreError(f"cannot {doing}: {exc}") from exc
    except (zlib.error, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StoreError(f"cannot {doing}: the state store holds an unreadable value ({exc})") from exc


def open_cache(directory: Path) -> RowCache:
    """Open (creating 0700) a diskcache that stores JSON, never pickles (nor unpickles: see
    ``store_disk``) and never evicts."""
    with translate_errors(f"open the state store at {directory}"):
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(directory, 0o700)
        cache: RowCache = diskcache.Cache(
            str(directory),
            disk=JSONOnlyDisk,
            eviction_policy="none",
            # Videos never go in here; records are small. A generous size limit plus
            # eviction "none" means nothing is ever dropped behind our back.
            size_limit=2**40,
            timeout=60,
        )
        return cache


# -- the rows behind the queue and the indexes ---------------------------------------------
# Every helper below takes the cache it works in and runs inside the caller's transaction.


class _CountTree:
    """Which places of ``[0, capacity())`` hold an entry, as a few rows.

    A level 1 node covers ``TREE_FANOUTS[0]`` places and is a bitmask of them (a JSON
    integer: one bit per place, as each place holds one job). A node above covers
    ``TREE_FANOUTS[level - 1]`` nodes of the level below and holds the count of entries
    under each non-empty one, ``{"offset": count}``: only as many entries as there are
    non-empty nodes below, so the top's wide fanout costs nothing (places in use are close
    together). A change, a count of the entries before a place, and the first place taken
    each read (and for a change, write) one node per level: ``len(TREE_FANOUTS)`` rows,
    whatever the number of entries.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def _key(self, level: int, index: int) -> str:
        return f"queue:tree:{self.name}:{level}:{index}"

    @staticmethod
    def capacity() -> int:
        return math.prod(TREE_FANOUTS)

    def _path(self, seq: int) -> Iterator[tuple[int, int, int]]:
        """(level, node index, offset of the child on the way to ``seq``), bottom up."""
        below = 1  # places under one child of a node at this level
        for level, fanout in enumerate(TREE_FANOUTS, start=1):
            yield level, seq // (below * fanout), (seq // below) % fanout
            below *= fanout

    def _out_of_step(self, seq: int) -> StoreError:
        return StoreError(f"the queue's {self.name} tree is out of step at place {seq}")

    def add(self, cache: RowCache, seq: int, delta: int) -> int:
        """Mark ``seq`` taken (``delta`` 1) or free (-1); returns the new number of entries."""
        total = 0
        for level, index, offset in self._path(seq):
            key = self._key(level, index)
            if level == 1:
                mask: int = cache.get(key) or 0
                if bool(mask >> offset & 1) == (delta > 0):
                    raise self._out_of_step(seq)
                mask ^= 1 << offset
                total = mask.bit_count()
                if mask:
                    cache.set(key, mask)
                else:
                    cache.delete(key)
                continue
            node: dict[str, int] = cache.get(key) or {}
            count = node.get(str(offset), 0) + delta
            if count < 0:
                raise self._out_of_step(seq)
            if count:
                node[str(offset)] = count
            else:
                node.pop(str(offset), None)
            total = sum(node.values())
            if node:
                cache.set(key, node)
            else:
                cache.delete(key)
        return total  # the root's

    def count_before(self, cache: RowCache, seq: int) -> int:
        before = 0
        for level, index, offset in self._path(seq):
            if level == 1:
                mask: int = cache.get(self._key(level, index)) or 0
                before += (mask & ((1 << offset) - 1)).bit_count()
            else:
                node: dict[str, int] = cache.get(self._key(level, index)) or {}
                before += sum(count for child, count in node.items() if int(child) < offset)
        return before

    def total(self, cache: RowCache) -> int:
        top = len(TREE_FANOUTS)
        root = cache.get(self._key(top, 0))
        if top == 1:
            return int(root or 0).bit_count()
        return sum((root or {}).values())

    def first(self, cache: RowCache) -> int | None:
        index = 0
        for level in range(len(TREE_FANOUTS), 0, -1):
            node = cache.get(self._key(level, index))
            if not node:
                return None
            lowest = (node & -node).bit_length() - 1 if level == 1 else min(int(child) for child in node)
            index = index * TREE_FANOUTS[level - 1] + lowest
        return index

    def places(self, cache: RowCache, level: int = 0, index: int = 0) -> Iterator[int]:
        """Every place with an entry, in order (a walk of the whole tree)."""
        level = level or len(TREE_FANOUTS)
        node = cache.get(self._key(level, index))
        if not node:
            return
        if level == 1:
            yield from (index * TREE_FANOUTS[0] + offset for offset in range(TREE_FANOUTS[0]) if node >> offset & 1)
            return
        for child in sorted(int(offset) for offset in node):
            yield from self.places(cache, level - 1, index * TREE_FANOUTS[level - 1] + child)


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

    def taken(self, cache: RowCache) -> dict[str, str]:
        return dict(cache.get(self.TAKEN) or {})

    def row(self, cache: RowCache, job_id: str) -> JSONDict | None:
        row: JSONDict | None = cache.get(self._row_key(job_id))
        return row

    def _point(self, cache: RowCache, job_id: str, side: str, target: str | None) -> JSONDict:
        """Set a waiting job's ``prev`` or ``next`` (its session's line); returns its row."""
        row = self.row(cache, job_id)
        if row is None:
            raise StoreError(f"the queue's row of job {job_id} is out of step")
        row[side] = target
        cache.set(self._row_key(job_id), row)
        return row

    def _head_seq(self, cache: RowCache, session_id: str) -> int | None:
        line = cache.get(self._session_key(session_id))
        if not line:
            return None
        head = self.row(cache, line["head"])
        if head is None:
            raise StoreError(f"the queue's line of session {session_id} is out of step")
        return int(head["seq"])

    def _next_seq(self, cache: RowCache, front: bool) -> int:
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

    def push(self, cache: RowCache, job_id: str, session_id: str, front: bool = False) -> None:
        if self.row(cache, job_id) is not None:
            return  # already waiting
        taken = self.taken(cache)
        if job_id in taken:
            self._untake(cache, taken, job_id)
        idle = session_id not in taken.values()
        seq = self._next_seq(cache, front)
        row: JSONDict = {"seq": seq, "session": session_id, "prev": None, "next": None}
        line = cache.get(self._session_key(session_id)) or {"head": None, "tail": None, "count": 0}
        if front:
            if line["head"] is not None:
                head = self._point(cache, line["head"], "prev", job_id)
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
                self._point(cache, line["tail"], "next", job_id)
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

    def _unlink(self, cache: RowCache, job_id: str, taken: dict[str, str]) -> JSONDict | None:
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
            self._point(cache, previous, "next", following)
        else:
            line["head"] = following
        if following is not None:
            following_row = self._point(cache, following, "prev", previous)
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

    def _write_taken(self, cache: RowCache, taken: dict[str, str]) -> None:
        if taken:
            cache.set(self.TAKEN, taken)
        else:
            cache.delete(self.TAKEN)

    def take(self, cache: RowCache, job_id: str, session_id: str) -> None:
        """Mark a job taken by a render slot (it must not be waiting)."""
        self._take(cache, self.taken(cache), job_id, session_id)

    def _take(self, cache: RowCache, taken: dict[str, str], job_id: str, session_id: str) -> None:
        if session_id not in taken.values():
            head_seq = self._head_seq(cache, session_id)
            if head_seq is not None:
                self.idle.add(cache, head_seq, -1)
        taken[job_id] = session_id
        self._write_taken(cache, taken)

    def _untake(self, cache: RowCache, taken: dict[str, str], job_id: str) -> None:
        session_id = taken.pop(job_id)
        self._write_taken(cache, taken)
        if session_id not in taken.values():
            head_seq = self._head_seq(cache, session_id)
            if head_seq is not None:
                self.idle.add(cache, head_seq, 1)

    def remove(self, cache: RowCache, job_id: str) -> None:
        """The job leaves the queue: no longer waiting, no longer taken."""
        taken = self.taken(cache)
        self._unlink(cache, job_id, taken)
        if job_id in taken:
            self._untake(cache, taken, job_id)

    def pop_fair(self, cache: RowCache) -> str | None:
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

    def position(self, cache: RowCache, job_id: str) -> int | None:
        row = self.row(cache, job_id)
        if row is None:
            return None
        return self.waiting.count_before(cache, int(row["seq"])) + 1

    def length(self, cache: RowCache) -> int:
        return self.waiting.total(cache)

    def waiting_ids(self, cache: RowCache) -> list[str]:
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

    def add(self, cache: RowCache, job_id: str, at: str) -> None:
        """Append a job that is not a member (``_write_job`` removes it first when it was)."""
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

    def remove(self, cache: RowCache, job_id: str) -> bool:
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

    def _point(self, cache: RowCache, job_id: str, side: str, target: str | None) -> None:
        member = cache.get(self._member_key(job_id))
        if member is None:
            raise StoreError(f"the {self.index.value} index is out of step")
        member[side] = target
        cache.set(self._member_key(job_id), member)

    def walk(self, cache: RowCache) -> Iterator[tuple[str, str]]:
        """(job id, time) from the oldest entry on."""
        header = cache.get(self.header_key)
        job_id = header["head"] if header else None
        while job_id is not None:
            member = cache.get(self._member_key(job_id))
            if member is None:
                raise StoreError(f"the {self.index.value} index is out of step")
            yield job_id, member["at"]
            job_id = member["next"]

    def count(self, cache: RowCache) -> int:
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
                        entries += [(at, index, job.job_id) for index, at in _memberships(job).items()]
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

    def _write_job(self, cache: RowCache, job: ProcessingJob, was: dict[JobIndex, str], expire: float | None) -> None:
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
        """Put an interrupted job back at the front of the queue as QUEUED, attempts kept.

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
