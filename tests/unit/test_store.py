from __future__ import annotations

import multiprocessing
import os
import random
import sqlite3
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import diskcache
import pytest

from appliance import job_queue, store_disk
from appliance import store as store_module
from appliance.errors import InvalidTransition, LimitExceeded, NotFound, StoreError
from appliance.job_index import JobIndex
from appliance.models import ProcessingJob, ProcessingStatus, UserSession
from appliance.store import (
    StatusTTLs,
    Store,
    chat_index_key,
    job_key,
    session_jobs_key,
    session_key,
)

S = ProcessingStatus
LIFE = [S.AI_GENERATING, S.CODE_VALIDATING, S.RENDERING, S.UPLOADING, S.READY, S.DELIVERED]


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "store")
    yield s
    s.close()


def _new_job(store: Store, chat_id: str = "42", text: str = "Solve 2x + 3 = 11") -> ProcessingJob:
    session = store.get_or_create_session_for_chat(chat_id)
    return store.create_job(ProcessingJob.new(session.session_id, text))


def test_directory_is_private_and_values_are_json_not_pickle(store, tmp_path):
    mode = stat.S_IMODE(os.stat(tmp_path / "store").st_mode)
    assert mode == 0o700
    job = _new_job(store)
    # Raw rows: JSONDisk stores zlib-compressed JSON; nothing in the cache may be a pickle.
    import sqlite3
    import zlib
    rows = sqlite3.connect(tmp_path / "store" / "cache.db").execute("select value, mode from Cache").fetchall()
    assert rows
    for value, _mode in rows:
        assert isinstance(value, bytes) and not value.startswith(b"\x80")
        zlib.decompress(value).decode()  # valid JSON text
    assert job.job_id in str([zlib.decompress(v).decode() for v, _ in rows])


def test_keys_follow_seed_patterns(store):
    job = _new_job(store, chat_id="123456789")
    cache = store._cache
    session_id = cache.get(chat_index_key("123456789"))
    assert cache.get(session_key(session_id))["telegram_chat_id"] == "123456789"
    assert cache.get(job_key(job.job_id))["status"] == "queued"
    assert cache.get(session_jobs_key(session_id)) == [job.job_id]
    assert set(k.split(":")[0] for k in cache.iterkeys()) <= {"session", "job", "sessions", "jobs", "queue"}


def test_get_or_create_session_by_chat_reuses_and_slides(store):
    first = store.get_or_create_session_for_chat("777")
    time.sleep(0.01)
    second = store.get_or_create_session_for_chat("777")
    assert first.session_id == second.session_id
    assert second.last_activity > first.last_activity
    assert store.get_or_create_session_for_chat("778").session_id != first.session_id


def test_missing_session_and_job(store):
    with pytest.raises(NotFound):
        store.get_session("00000000-0000-4000-8000-000000000000")
    with pytest.raises(NotFound):
        store.get_job("00000000-0000-4000-8000-000000000000")
    orphan = ProcessingJob.new("00000000-0000-4000-8000-000000000000", "Solve x + 1 = 2")
    with pytest.raises(NotFound):
        store.create_job(orphan)


def test_whole_life_keeps_indexes_history_and_counters_consistent(store):
    job = _new_job(store)
    assert store.queue_length() == 1
    assert store.pop_next() == job.job_id
    for target in LIFE:
        job = store.transition_job(job.job_id, target, status_message=f"now {target.value}")
        session = store.get_session(job.session_id)
        assert store.get_job(job.job_id).status is target
        assert [entry.status for entry in session.video_history] == [target]
        assert [j.job_id for j in store.list_jobs(job.session_id)] == [job.job_id]
    job = store.get_job(job.job_id)
    assert job.started_at and job.completed_at and job.delivered_at
    assert job.status_message == "now delivered"
    session = store.get_session(job.session_id)
    assert session.total_submissions == 1 and session.successful_generations == 1
    assert session.video_history[0].delivered_at == job.delivered_at
    assert store.queue_length() == 0 and store.running_count() == 0


def test_illegal_transition_changes_nothing(store):
    job = _new_job(store)
    before_job = store._cache.get(job_key(job.job_id))
    before_session = store._cache.get(session_key(job.session_id))
    with pytest.raises(InvalidTransition):
        store.transition_job(job.job_id, S.READY)
    assert store._cache.get(job_key(job.job_id)) == before_job
    assert store._cache.get(session_key(job.session_id)) == before_session


def _ttl_of(store, key):
    _, expire_time = store._cache.get(key, expire_time=True)
    return expire_time - time.time()


@pytest.mark.parametrize("path,expected_hours", [
    ([], 1.25),  # QUEUED: 1 h plus the grace for the timeout sweep
    ([S.AI_GENERATING], 6), ([S.AI_GENERATING, S.CODE_VALIDATING, S.RENDERING], 6),
    ([S.AI_GENERATING, S.CODE_VALIDATING, S.RENDERING, S.UPLOADING, S.READY], 24),
    ([S.AI_GENERATING, S.CODE_VALIDATING, S.RENDERING, S.UPLOADING, S.READY, S.DELIVERED], 24 * 7),
    ([S.AI_GENERATING, S.FAILED], 24),
    ([S.AI_GENERATING, S.CODE_VALIDATING, S.RENDERING, S.UPLOADING, S.READY, S.EXPIRED], 24 * 7),
])
def test_default_ttl_per_status(store, path, expected_hours):
    job = _new_job(store)
    for target in path:
        store.transition_job(job.job_id, target)
    assert _ttl_of(store, job_key(job.job_id)) == pytest.approx(expected_hours * 3600, abs=5)
    assert _ttl_of(store, session_key(job.session_id)) == pytest.approx(7 * 24 * 3600, abs=5)


class Clock:
    """The wall clock diskcache and the store read (``time.time``), moved by the test: expiry
    is checked by stepping past a TTL, not by sleeping next to it."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def __getattr__(self, name: str) -> object:  # sleep, monotonic, ...: the real ones
        return getattr(time, name)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    # diskcache stamps expire_time and filters expired rows with its module's time.time().
    monkeypatch.setattr(diskcache.core, "time", fake)
    monkeypatch.setattr(store_module, "time", fake)
    return fake


def test_short_ttls_expire_with_diskcache(tmp_path, clock):
    ttls = StatusTTLs(session=150, queued=40, queued_grace=0.0, ready=40, failed=40)
    store = Store(tmp_path / "s", ttls)
    queued = _new_job(store, chat_id="1")
    ready = _new_job(store, chat_id="2")
    for target in LIFE[:5]:
        store.transition_job(ready.job_id, target)
    clock.advance(39)
    assert store.get_job(queued.job_id) and store.get_job(ready.job_id)  # not yet
    clock.advance(2)
    with pytest.raises(NotFound):
        store.get_job(queued.job_id)
    with pytest.raises(NotFound):
        store.get_job(ready.job_id)
    assert store.get_session(queued.session_id)  # session still alive
    store.touch_session(queued.session_id)  # sliding: another 150 s from now
    clock.advance(110)  # 151 s after the sessions were made
    assert store.get_session(queued.session_id)
    with pytest.raises(NotFound):
        store.get_session(ready.session_id)
    assert store.find_session_by_chat("2") is None
    clock.advance(41)  # 151 s after the touch
    with pytest.raises(NotFound):
        store.get_session(queued.session_id)
    assert store.expire() > 0
    assert not [k for k in store._cache.iterkeys() if k.startswith(("job:", "session:"))]
    store.close()


def test_update_job_keeps_ttl_and_status(store):
    job = _new_job(store)
    ttl = _ttl_of(store, job_key(job.job_id))
    store.update_job(job.job_id, lambda j: setattr(j, "attempts", 2))
    assert store.get_job(job.job_id).attempts == 2
    assert _ttl_of(store, job_key(job.job_id)) == pytest.approx(ttl, abs=2)


def test_fair_queue_prefers_sessions_with_nothing_running(store):
    busy = [_new_job(store, chat_id="1", text=f"Solve x + {i} = 10") for i in range(3)]
    other = _new_job(store, chat_id="2")
    assert store.pop_next() == busy[0].job_id
    # Session 1 has one running; session 2's job goes before session 1's older ones.
    assert store.pop_next() == other.job_id
    assert store.pop_next() == busy[1].job_id
    assert store.queue_position(busy[2].job_id) == 1


def _hammer(directory: str, session_id: str, count: int) -> None:
    store = Store(Path(directory))
    for _ in range(count):
        store.update_session(session_id, lambda s: setattr(s, "total_submissions", s.total_submissions + 1))
    store.close()


def test_two_processes_lose_no_update(tmp_path):
    store = Store(tmp_path / "store")
    session = store.create_session(UserSession.new("99"))
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hammer, args=(str(tmp_path / "store"), session.session_id, 500))
             for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert store.get_session(session.session_id).total_submissions == 1000
    store.close()


QUEUE_WRITER = """
import sys
from pathlib import Path
from appliance.models import ProcessingJob
from appliance.store import Store
store = Store(Path(sys.argv[1]))
session = store.get_or_create_session_for_chat("5")
for i in range(3):
    job = store.create_job(ProcessingJob.new(session.session_id, f"Solve x + {i} = 7 please"))
    print(job.job_id)
first = store.pop_next()
store.transition_job(first, __import__("appliance.models").models.ProcessingStatus.AI_GENERATING)
store.close()
"""


def test_queue_survives_restart_and_recovers_in_flight(tmp_path):
    out = subprocess.run([sys.executable, "-c", QUEUE_WRITER, str(tmp_path / "q")],
                         capture_output=True, text=True, check=True)
    ids = out.stdout.split()
    store = Store(tmp_path / "q")  # a new process opens the same directory
    assert store.queue_length() == 2 and store.running_count() == 1
    assert store.get_job(ids[0]).status is S.AI_GENERATING
    assert store.recover() == [ids[0]]
    assert store.recover() == []  # recovering twice duplicates nothing
    assert store.queue_length() == 3
    assert [store.pop_next() for _ in range(3)] == ids
    assert store.pop_next() is None
    recovered = store.get_job(ids[0])
    assert recovered.status is S.QUEUED and "restart" in (recovered.status_message or "")
    store.close()


def test_hourly_submission_limit(store):
    session = store.get_or_create_session_for_chat("8")
    now = 1_000_000.0
    for i in range(3):
        assert store.record_submission(session.session_id, 3, now=now + i) == i + 1
    with pytest.raises(LimitExceeded) as info:
        store.record_submission(session.session_id, 3, now=now + 10)
    assert info.value.reason == "hourly_limit" and "limit is 3" in str(info.value)
    # An hour after the first two, they have slid out of the window: one left plus this one.
    assert store.record_submission(session.session_id, 3, now=now + 3601) == 2


def test_active_limit_is_atomic_across_threads(store):
    import threading

    session = store.get_or_create_session_for_chat("77")
    accepted, refused = [], []

    def submit(i):
        try:
            accepted.append(store.create_job(ProcessingJob.new(session.session_id, f"Solve x + {i} = 20"),
                                             max_active=2))
        except LimitExceeded as exc:
            refused.append(exc.reason)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(accepted) == 2 and refused == ["active_limit"] * 10
    assert store.active_job_count(session.session_id) == 2


# -- the queue as rows, the per-state indexes ------------------------------------------------

class CountingRows:
    """A store's cache that counts the rows read and written; a scan of every key fails."""

    def __init__(self, inner):
        self.inner = inner
        self.reads = 0
        self.writes = 0

    def get(self, *args, **kwargs):
        self.reads += 1
        return self.inner.get(*args, **kwargs)

    def set(self, *args, **kwargs):
        self.writes += 1
        return self.inner.set(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self.writes += 1
        return self.inner.delete(*args, **kwargs)

    def iterkeys(self, *args, **kwargs):
        raise AssertionError("a scan of every key")

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def cost(self, action):
        """(rows read, rows written) by ``action()``."""
        reads, writes = self.reads, self.writes
        action()
        return self.reads - reads, self.writes - writes


class ReferenceQueue:
    """The queue as it was (one list and one dict) and its fair pick: the rule to keep."""

    def __init__(self):
        self.pending: list[tuple[str, str]] = []
        self.running: dict[str, str] = {}

    def push(self, job_id, session_id, front=False):
        if any(entry[0] == job_id for entry in self.pending):
            return
        self.running.pop(job_id, None)
        self.pending.insert(0 if front else len(self.pending), (job_id, session_id))

    def remove(self, job_id):
        self.pending = [entry for entry in self.pending if entry[0] != job_id]
        self.running.pop(job_id, None)

    def pop(self):
        if not self.pending:
            return None
        per_session: dict[str, int] = {}
        for session_id in self.running.values():
            per_session[session_id] = per_session.get(session_id, 0) + 1
        best = min(range(len(self.pending)), key=lambda i: (per_session.get(self.pending[i][1], 0), i))
        job_id, session_id = self.pending.pop(best)
        self.running[job_id] = session_id
        return job_id

    def position(self, job_id):
        for index, entry in enumerate(self.pending):
            if entry[0] == job_id:
                return index + 1
        return None


@pytest.mark.parametrize("fanouts", [(256, 256, 65536), (2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2)])
def test_fair_pop_and_positions_match_the_reference_rule(store, monkeypatch, fanouts):
    # Tiny fanouts make every operation cross tree nodes; the real shape is the first.
    monkeypatch.setattr(job_queue, "TREE_FANOUTS", fanouts)
    rng = random.Random(12)
    sessions = [store.get_or_create_session_for_chat(str(100 + i)).session_id for i in range(4)]
    reference = ReferenceQueue()
    for step in range(400):
        roll = rng.random()
        waiting = [entry[0] for entry in reference.pending]
        if roll < 0.4 or not (waiting or reference.running):
            session_id = rng.choice(sessions)
            job = store.create_job(ProcessingJob.new(session_id, f"Solve x + {step} = 1000 now"))
            reference.push(job.job_id, session_id)
        elif roll < 0.65:
            assert store.pop_next() == reference.pop()
        elif roll < 0.75 and reference.running:
            job_id = rng.choice(sorted(reference.running))
            store.release(job_id)
            reference.remove(job_id)
        elif roll < 0.85 and reference.running:
            job_id = rng.choice(sorted(reference.running))
            assert store.requeue(job_id)
            reference.push(job_id, reference.running[job_id], front=True)
        elif waiting:
            job_id = rng.choice(waiting)
            store.remove_from_queue(job_id)
            reference.remove(job_id)
        assert store.queue_length() == len(reference.pending)
        assert store.running_count() == len(reference.running)
        for job_id, _ in reference.pending[:3] + reference.pending[-3:]:
            assert store.queue_position(job_id) == reference.position(job_id)
    while reference.pending:
        assert store.pop_next() == reference.pop()
    assert store.pop_next() is None
    # An empty line starts its places from the middle again.
    assert store._cache.get("queue:ends") is None


def test_fairness_across_sessions_with_rows(store):
    a = [_new_job(store, chat_id="1", text=f"Solve x + {i} = 10") for i in range(3)]
    b = [_new_job(store, chat_id="2", text=f"Solve x + {i} = 20") for i in range(2)]
    c = _new_job(store, chat_id="3")
    assert [store.queue_position(job.job_id) for job in [*a, *b, c]] == [1, 2, 3, 4, 5, 6]
    assert store.pop_next() == a[0].job_id  # everyone idle: the front of the line
    assert store.pop_next() == b[0].job_id  # session 1 has one taken now
    assert store.pop_next() == c.job_id
    # Every waiting session has one taken: the front of the line again.
    assert store.pop_next() == a[1].job_id
    assert store.pop_next() == b[1].job_id  # session 2 has one taken, session 1 two
    store.release(a[0].job_id)
    store.release(a[1].job_id)
    assert store.queue_position(a[2].job_id) == 1 and store.queue_length() == 1
    assert store.pop_next() == a[2].job_id
    assert store.pop_next() is None and store.running_count() == 4


def test_requeue_puts_the_job_at_the_front_and_gives_the_interrupted_attempt_back(store):
    first = _new_job(store, chat_id="1", text="Solve x + 1 = 10")
    others = [_new_job(store, chat_id=str(2 + i), text=f"Solve x + {i} = 20") for i in range(3)]
    assert store.pop_next() == first.job_id
    store.transition_job(first.job_id, S.AI_GENERATING)
    store.update_job(first.job_id, lambda j: setattr(j, "attempts", 2))
    assert store.requeue(first.job_id, "Waiting in line again: the appliance restarted")
    job = store.get_job(first.job_id)
    # The restart was not the job's fault (issue 13, item 15): attempt 2 is given back, and counted.
    assert job.status is S.QUEUED and job.attempts == 1 and job.interruptions == 1
    assert "restarted" in job.status_message
    assert store.queue_position(first.job_id) == 1
    assert [store.queue_position(j.job_id) for j in others] == [2, 3, 4]
    assert store.running_count() == 0
    assert [j.job_id for j in store.indexed_jobs(JobIndex.IN_FLIGHT)] == []
    assert [j.job_id for j in store.indexed_jobs(JobIndex.QUEUED)][-1] == first.job_id
    assert store.pop_next() == first.job_id


def _index_ids(store):
    return {index: [job.job_id for job in store.indexed_jobs(index)] for index in JobIndex}


def test_indexes_follow_a_job_through_its_life(store):
    job = _new_job(store)
    other = _new_job(store, chat_id="9")
    assert _index_ids(store) == {JobIndex.QUEUED: [job.job_id, other.job_id], JobIndex.IN_FLIGHT: [],
                                 JobIndex.READY: [], JobIndex.KEPT_VIDEOS: []}
    store.pop_next()
    for target in LIFE[:4]:
        store.transition_job(job.job_id, target)
        assert _index_ids(store)[JobIndex.IN_FLIGHT] == [job.job_id]
        assert _index_ids(store)[JobIndex.QUEUED] == [other.job_id]

    def stored(j):
        j.video_key = f"{j.job_id}-v.mp4"

    store.transition_job(job.job_id, S.READY, change=stored)
    assert _index_ids(store)[JobIndex.READY] == [job.job_id]
    assert _index_ids(store)[JobIndex.IN_FLIGHT] == [] and store.running_count() == 0
    store.transition_job(job.job_id, S.DELIVERED)
    assert _index_ids(store)[JobIndex.READY] == []
    assert _index_ids(store)[JobIndex.KEPT_VIDEOS] == [job.job_id]
    store.update_job(job.job_id, lambda j: setattr(j, "video_key", None))
    assert _index_ids(store)[JobIndex.KEPT_VIDEOS] == []
    store.transition_job(other.job_id, S.FAILED, "Cancelled")
    assert _index_ids(store) == {index: [] for index in JobIndex}
    assert store.queue_length() == 0
    assert not [key for key in store._cache.iterkeys() if key.startswith(("jobs:index:", "queue:"))]


def test_an_update_moves_a_queued_job_to_the_end_of_its_index(store):
    first, second = _new_job(store, chat_id="1"), _new_job(store, chat_id="2")
    store.update_job(first.job_id, lambda j: setattr(j, "attempts", 1))
    queued = store.indexed_jobs(JobIndex.QUEUED)
    assert [j.job_id for j in queued] == [second.job_id, first.job_id]
    # The index is ordered by updated_at, so a walk up to a time stops where it should.
    until = datetime.fromisoformat(queued[0].updated_at)
    assert [j.job_id for j in store.indexed_jobs(JobIndex.QUEUED, entered_until=until)] == [second.job_id]
    assert store.indexed_jobs(JobIndex.QUEUED, entered_until=until - timedelta(seconds=1)) == []


def test_expired_jobs_leave_the_indexes_when_walked(tmp_path, clock):
    store = Store(tmp_path / "s", StatusTTLs(queued=30, queued_grace=0.0, ready=30))
    ready = _new_job(store, chat_id="2")
    queued = _new_job(store, chat_id="1")
    assert store.pop_next() == ready.job_id
    for target in LIFE[:5]:
        store.transition_job(ready.job_id, target)
    assert store.index_size(JobIndex.READY) == 1 and store.index_size(JobIndex.QUEUED) == 1
    clock.advance(31)
    assert store.indexed_jobs(JobIndex.READY) == []
    assert store.indexed_jobs(JobIndex.QUEUED, entered_until=datetime.now(UTC)) == []
    assert store.index_size(JobIndex.READY) == 0 and store.index_size(JobIndex.QUEUED) == 0
    # The expired job's place in line is dropped by recovery, as before.
    assert store.queue_length() == 1
    assert store.recover() == []
    assert store.queue_length() == 0 and store.queue_position(queued.job_id) is None
    store.close()


def test_recovery_reads_the_in_flight_index_not_every_job(store):
    finished = _new_job(store, chat_id="1")
    released_in_flight = _new_job(store, chat_id="2")
    mid_render = _new_job(store, chat_id="3")
    just_taken = _new_job(store, chat_id="4")
    waiting = _new_job(store, chat_id="5")
    assert store.pop_next() == finished.job_id
    store.transition_job(finished.job_id, S.AI_GENERATING)
    store.transition_job(finished.job_id, S.FAILED)
    # A slot let go of a job still in flight: only the in-flight index knows it now.
    assert store.pop_next() == released_in_flight.job_id
    store.transition_job(released_in_flight.job_id, S.AI_GENERATING)
    store.release(released_in_flight.job_id)
    assert store.pop_next() == mid_render.job_id
    for target in (S.AI_GENERATING, S.CODE_VALIDATING, S.RENDERING):
        store.transition_job(mid_render.job_id, target)
    assert store.pop_next() == just_taken.job_id  # taken, the process died before its first step
    assert [j.job_id for j in store.indexed_jobs(JobIndex.IN_FLIGHT)] == [released_in_flight.job_id,
                                                                          mid_render.job_id]
    store._cache = CountingRows(store._cache)  # a scan of every key fails the test
    requeued = store.recover()
    # Taken ones first (in the order they were taken), then the rest in flight; each at the front.
    assert requeued == [mid_render.job_id, just_taken.job_id, released_in_flight.job_id]
    for job_id in requeued:
        job = store.get_job(job_id)
        assert job.status is S.QUEUED and "restart" in job.status_message
    assert [store.queue_position(j) for j in [*requeued, waiting.job_id]] == [1, 2, 3, 4]
    assert store.indexed_jobs(JobIndex.IN_FLIGHT) == [] and store.running_count() == 0
    assert store.get_job(finished.job_id).status is S.FAILED
    assert store.recover() == []


def _fill(store, count, start=0):
    for index in range(start, start + count):
        session = store.create_session(UserSession.new(channel="web"))
        store.create_job(ProcessingJob.new(session.session_id, f"Solve {index}x + 3 = 11 please"))


def test_push_and_pop_cost_the_same_rows_with_10_or_1000_jobs_queued(store):
    counting = CountingRows(store._cache)
    store._cache = counting

    def costs():
        session = store.create_session(UserSession.new(channel="web"))
        job = ProcessingJob.new(session.session_id, "Solve 5x + 3 = 11 please")
        push = counting.cost(lambda: store.create_job(job, max_active=2))
        position = counting.cost(lambda: store.queue_position(job.job_id))
        taken = []
        pop = counting.cost(lambda: taken.append(store.pop_next()))
        release = counting.cost(lambda: store.release(taken[0]))
        cancel_job = ProcessingJob.new(session.session_id, "Solve 6x + 3 = 11 please")
        store.create_job(cancel_job)
        cancel = counting.cost(lambda: store.transition_job(cancel_job.job_id, S.FAILED, "Cancelled"))
        return {"push": push, "position": position, "pop": pop, "release": release, "cancel": cancel}

    _fill(store, 10)
    small = costs()
    _fill(store, 990, start=10)
    assert store.queue_length() == 1000
    large = costs()
    assert large == small
    assert small["position"] == (4, 0)  # the job's row and one node per tree level
    assert sum(small["push"]) < 60 and sum(small["pop"]) < 40


def test_positions_are_read_from_the_tree_not_the_line(store):
    _fill(store, 300)
    ids = [store.pop_next() for _ in range(3)]
    counting = CountingRows(store._cache)
    store._cache = counting
    last = ProcessingJob.new(store.create_session(UserSession.new(channel="web")).session_id, "Solve 7x = 14 ok")
    store.create_job(last)
    reads, writes = counting.cost(lambda: store.queue_position(last.job_id))
    assert store.queue_position(last.job_id) == 298 and (reads, writes) == (4, 0)
    assert all(store.queue_position(job_id) is None for job_id in ids)


class FailingRows:
    """A cache whose transactions time out and whose reads hit a disk error."""

    def __init__(self, inner):
        self.inner = inner

    def transact(self):
        raise diskcache.Timeout()

    def get(self, *args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_diskcache_and_sqlite_errors_become_store_errors(store):
    job = _new_job(store)
    store._cache = FailingRows(store._cache)
    with pytest.raises(StoreError, match="busy"):
        store.pop_next()
    with pytest.raises(StoreError, match="busy"):
        store.transition_job(job.job_id, S.AI_GENERATING)
    with pytest.raises(StoreError, match="disk I/O error"):
        store.get_job(job.job_id)
    with pytest.raises(StoreError, match="disk I/O error"):
        store.queue_length()


def _ready_and_in_flight_jobs(store, ready_chat, in_flight_chat):
    """One job taken all the way to READY, one just started (AI_GENERATING)."""
    ready = _new_job(store, chat_id=ready_chat)
    for target in LIFE[:5]:
        store.transition_job(ready.job_id, target)
    in_flight = _new_job(store, chat_id=in_flight_chat)
    store.transition_job(in_flight.job_id, S.AI_GENERATING)
    return ready, in_flight


def test_a_store_of_the_single_value_layout_is_upgraded_once(tmp_path):
    directory = tmp_path / "old"
    store = Store(directory)
    waiting = [_new_job(store, chat_id=str(i), text=f"Solve x + {i} = 40") for i in range(3)]
    taken = _new_job(store, chat_id="8")
    ready, in_flight = _ready_and_in_flight_jobs(store, "9", "10")
    # Lay it out as layout 1 did: one queue value, no indexes, no layout mark.
    cache = store._cache
    for key in list(cache.iterkeys()):
        if key.startswith(("queue:", "jobs:index:", "jobs:layout")):
            cache.delete(key)
    cache.set("queue:state", {"pending": [[j.job_id, j.session_id] for j in reversed(waiting)],
                              "running": {taken.job_id: taken.session_id}})
    store.close()

    store = Store(directory)
    assert store._cache.get("queue:state") is None and store._cache.get("jobs:layout") == 2
    assert store.queue_length() == 3 and store.running_count() == 1
    assert [store.queue_position(j.job_id) for j in reversed(waiting)] == [1, 2, 3]
    assert [j.job_id for j in store.indexed_jobs(JobIndex.READY)] == [ready.job_id]
    assert [j.job_id for j in store.indexed_jobs(JobIndex.IN_FLIGHT)] == [in_flight.job_id]
    assert {j.job_id for j in store.indexed_jobs(JobIndex.QUEUED)} == {j.job_id for j in [*waiting, taken]}
    assert store.recover() == [taken.job_id, in_flight.job_id]
    assert store.pop_next() == taken.job_id
    store.close()
    reopened = Store(directory)  # the second open changes nothing
    assert reopened.queue_length() == 4 and reopened.running_count() == 1
    reopened.close()


# -- a planted pickle is refused, never unpickled (issue 14, finding 5) ----------------------


class Planted:
    """Unpickling this touches ``marker``: the visible side effect of running planted code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _stored_key(key: str) -> bytes:
    """The SQLite key the appliance stores ``key`` under (zlib-compressed JSON, a raw blob)."""
    return bytes(store_disk.JSONOnlyDisk(".").put(key)[0])


def _plant(directory: Path, key: object, value: object) -> None:
    """Write a row as an attacker with write access to the directory would: a plain diskcache
    (the default, pickling Disk) opened on the same directory."""
    plain = diskcache.Cache(str(directory))
    plain.set(key, value)
    plain.close()


def test_a_planted_pickled_value_is_refused_not_unpickled(tmp_path):
    directory = tmp_path / "store"
    store = Store(directory)
    ordinary = _new_job(store, chat_id="1")
    ready, in_flight = _ready_and_in_flight_jobs(store, "2", "3")
    store.close()
    marker = tmp_path / "pwned"
    planted_id = "00000000-0000-4000-8000-000000000000"
    _plant(directory, _stored_key(job_key(planted_id)), Planted(marker))  # small: in the row
    # Large: in a value file (MODE_PICKLE with a filename), over a real job in two indexes.
    _plant(directory, _stored_key(job_key(ready.job_id)), [Planted(marker), "x" * 100_000])
    _plant(directory, _stored_key(job_key(in_flight.job_id)), Planted(marker))
    rows = dict(sqlite3.connect(directory / "cache.db").execute("select key, mode from Cache").fetchall())
    assert rows[_stored_key(job_key(planted_id))] == diskcache.core.MODE_PICKLE

    store = Store(directory)
    with pytest.raises(StoreError, match="holds a pickled value, which it refuses to read"):
        store.get_job(planted_id)
    with pytest.raises(StoreError, match="pickle"):
        store.get_job(ready.job_id)
    with pytest.raises(StoreError, match="pickle"):
        store.indexed_jobs(JobIndex.READY)  # the access-window expiry's walk
    with pytest.raises(StoreError, match="pickle"):
        store.list_jobs(ready.session_id)
    with pytest.raises(StoreError, match="pickle"):
        store.recover()  # start-up recovery reads the in-flight index's jobs
    with pytest.raises(StoreError, match="pickle"):
        list(store.iter_jobs())
    with pytest.raises(StoreError, match="pickle"):
        store.transition_job(ready.job_id, S.DELIVERED)
    assert store.expire() == 0  # reclaiming space reads no value
    assert not marker.exists()
    # Ordinary JSON rows still read and write as before.
    assert store.get_job(ordinary.job_id).status is S.QUEUED
    assert store.pop_next() == ordinary.job_id
    store.transition_job(ordinary.job_id, S.AI_GENERATING)
    assert [j.job_id for j in store.indexed_jobs(JobIndex.QUEUED)] == []
    store.close()
    assert not marker.exists()

    # The planted rows are live: stock JSONDisk would have run them.
    stock = diskcache.Cache(str(directory), disk=diskcache.JSONDisk)
    with pytest.raises(TypeError):  # JSONDisk unpickles, then fails to decompress the result
        stock.get(job_key(planted_id))
    stock.close()
    assert marker.exists()


def test_a_planted_pickled_key_is_refused_not_unpickled(tmp_path):
    directory = tmp_path / "store"
    store = Store(directory)
    job = _new_job(store)
    store.close()
    marker = tmp_path / "pwned"
    _plant(directory, Planted(marker), "x")  # not a str/bytes/int/float: diskcache pickles the key
    assert sqlite3.connect(directory / "cache.db").execute("select count(*) from Cache where raw = 0").fetchone() == (
        1,
    )

    store = Store(directory)  # opening reads no key (the layout is current)
    with pytest.raises(StoreError, match="cannot list the jobs: the state store holds a pickled key"):
        list(store.iter_jobs())
    assert store.get_job(job.job_id).job_id == job.job_id
    assert store.expire() == 0
    store._cache.delete(store_module.LAYOUT_KEY)  # a layout upgrade walks every key
    store.close()
    with pytest.raises(StoreError, match=r"upgrade the state store's layout: .* pickled key"):
        Store(directory)
    assert not marker.exists()


def test_a_key_planted_as_a_plain_string_is_refused(tmp_path):
    directory = tmp_path / "store"
    Store(directory).close()
    _plant(directory, "job:planted", {"job_id": "planted"})  # a str key: stored raw, not as JSON
    store = Store(directory)
    with pytest.raises(StoreError, match="a key stored as a plain str"):
        list(store.iter_jobs())
    store.close()


def test_every_row_the_store_writes_is_json_in_raw_or_file_mode(store, tmp_path):
    job = _new_job(store)
    for target in LIFE:
        store.transition_job(job.job_id, target)
    big = {"code": os.urandom(40_000).hex()}  # compressed, still past min_file_size: a value file
    store.put_cached_code("codecache:big", big, ttl=60)
    rows = sqlite3.connect(tmp_path / "store" / "cache.db").execute("select raw, mode from Cache").fetchall()
    assert {raw for raw, _ in rows} == {1}
    assert {mode for _, mode in rows} == {diskcache.core.MODE_RAW, diskcache.core.MODE_BINARY}
    assert store.get_cached_code("codecache:big") == big


def test_the_disk_refuses_to_write_a_pickle(tmp_path, monkeypatch):
    disk = store_disk.JSONOnlyDisk(str(tmp_path))
    monkeypatch.setattr(diskcache.Disk, "store", lambda self, value, read, key=None: (0, 4, None, b"\x80"))
    with pytest.raises(store_disk.RefusedRow, match="refusing to store a value in pickle mode"):
        disk.store({"a": 1}, False)
    monkeypatch.setattr(diskcache.Disk, "put", lambda self, key: (b"\x80", False))
    with pytest.raises(store_disk.RefusedRow, match="refusing to store a key"):
        disk.put("job:x")


def test_values_planted_in_other_modes_are_refused(tmp_path):
    directory = tmp_path / "store"
    store = Store(directory)
    job = _new_job(store)
    store.close()
    db = sqlite3.connect(directory / "cache.db")
    with db:
        db.execute("update Cache set mode = ?, value = ? where key = ?",
                   (diskcache.core.MODE_RAW, 7, _stored_key(job_key(job.job_id))))
        db.execute("update Cache set mode = ?, value = null, filename = ? where key = ?",
                   (diskcache.core.MODE_BINARY, "/etc/passwd", _stored_key(session_key(job.session_id))))
    db.close()
    store = Store(directory)
    with pytest.raises(StoreError, match="a value stored as a plain int"):
        store.get_job(job.job_id)
    with pytest.raises(StoreError, match="outside the store"):
        store.get_session(job.session_id)
    store.close()
