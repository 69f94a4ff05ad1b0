from __future__ import annotations

import multiprocessing
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from appliance.errors import InvalidTransition, LimitExceeded, NotFound
from appliance.models import ProcessingJob, ProcessingStatus, UserSession
from appliance.store import StatusTTLs, Store, chat_index_key, job_key, session_jobs_key, session_key

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


def test_short_ttls_expire_with_diskcache(tmp_path):
    ttls = StatusTTLs(session=1.5, queued=0.4, queued_grace=0.0, ready=0.4, failed=0.4)
    store = Store(tmp_path / "s", ttls)
    queued = _new_job(store, chat_id="1")
    ready = _new_job(store, chat_id="2")
    for target in LIFE[:5]:
        store.transition_job(ready.job_id, target)
    time.sleep(0.6)
    with pytest.raises(NotFound):
        store.get_job(queued.job_id)
    with pytest.raises(NotFound):
        store.get_job(ready.job_id)
    assert store.get_session(queued.session_id)  # session still alive
    store.touch_session(queued.session_id)  # sliding: another 1.5 s from now
    time.sleep(1.0)
    assert store.get_session(queued.session_id)
    with pytest.raises(NotFound):
        store.get_session(ready.session_id)
    assert store.find_session_by_chat("2") is None
    time.sleep(0.7)
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
