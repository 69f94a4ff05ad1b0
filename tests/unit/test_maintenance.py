"""Maintenance reads the store's per-state indexes: each pass touches the jobs it acts on,
never every job (a scan of every key fails these tests)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from appliance.config import Settings
from appliance.maintenance import Maintenance
from appliance.metrics import Metrics
from appliance.models import ProcessingJob, ProcessingStatus
from appliance.storage.base import new_key
from appliance.store import Store
from tests.unit.test_store import CountingRows

S = ProcessingStatus
IN_FLIGHT = [S.AI_GENERATING, S.CODE_VALIDATING, S.RENDERING, S.UPLOADING]


class KeyStorage:
    """Just enough of a VideoStorage for maintenance: keys, and deleting them."""

    def __init__(self) -> None:
        self.videos: set[str] = set()

    def keys(self) -> Iterator[str]:
        return iter(sorted(self.videos))

    def delete(self, key: str) -> None:
        self.videos.discard(key)

    def exists(self, key: str) -> bool:
        return key in self.videos


@pytest.fixture
def parts(tmp_path: Path):
    settings = Settings.from_env({}, data_dir=tmp_path)
    store = Store(tmp_path / "store")
    storage = KeyStorage()
    published: list[ProcessingJob] = []
    maintenance = Maintenance(settings, store, storage, Metrics(), published.append)
    yield settings, store, storage, maintenance, published
    store.close()


def _job(store: Store, chat_id: str) -> ProcessingJob:
    session = store.get_or_create_session_for_chat(chat_id)
    return store.create_job(ProcessingJob.new(session.session_id, f"Solve x + {chat_id} = 100"))


def _to_ready(store: Store, storage: KeyStorage, job: ProcessingJob) -> ProcessingJob:
    assert store.pop_next() == job.job_id
    for target in IN_FLIGHT:
        store.transition_job(job.job_id, target)
    key = new_key()
    storage.videos.add(key)
    return store.transition_job(job.job_id, S.READY, change=lambda j: setattr(j, "video_key", key))


def _at(timestamp: str | None) -> datetime:
    assert timestamp is not None
    return datetime.fromisoformat(timestamp)


def test_expiry_walks_the_ready_index_only_as_far_as_it_must(parts):
    settings, store, storage, maintenance, published = parts
    ready = [_to_ready(store, storage, _job(store, str(i))) for i in range(6)]
    for i in range(20):
        _job(store, str(100 + i))  # waiting jobs: none of expiry's business
    store._cache = counting = CountingRows(store._cache)
    now = _at(ready[1].completed_at) + timedelta(seconds=settings.ready_ttl_s)
    expired: list[int] = []
    reads, _ = counting.cost(lambda: expired.append(maintenance.expire_ready(now=now)))
    assert expired == [2] and [j.job_id for j in published] == [j.job_id for j in ready[:2]]
    assert [store.get_job(j.job_id).status for j in ready] == [S.EXPIRED] * 2 + [S.READY] * 4
    assert all(storage.exists(j.video_key) for j in ready[2:]) and not any(storage.exists(j.video_key)
                                                                           for j in ready[:2])
    # The walk reads the two expired entries and the one after them; each expiry is a
    # transition and an update (about 16 rows together). 26 jobs' rows are not read.
    assert reads < 50
    assert maintenance.expire_ready(now=now) == 0


def test_queued_timeout_walks_the_queued_index(parts):
    settings, store, storage, maintenance, published = parts
    jobs = [_job(store, str(i)) for i in range(5)]
    _to_ready(store, storage, jobs[0])
    store._cache = CountingRows(store._cache)
    assert maintenance.fail_stale_queued() == 0
    now = _at(jobs[2].updated_at) + timedelta(seconds=settings.queued_timeout_s)
    assert maintenance.fail_stale_queued(now=now) == 2
    assert [store.get_job(j.job_id).status for j in jobs] == [S.READY, S.FAILED, S.FAILED, S.QUEUED, S.QUEUED]
    assert store.queue_length() == 2 and "Timed out" in (published[-1].status_message or "")


def test_replay_grace_deletes_delivered_videos_and_leaves_the_index(parts):
    settings, store, storage, maintenance, _ = parts
    job = _to_ready(store, storage, _job(store, "1"))
    delivered = store.transition_job(job.job_id, S.DELIVERED)
    store._cache = CountingRows(store._cache)
    assert maintenance.delete_replayed() == 0 and storage.exists(job.video_key or "")
    later = _at(delivered.delivered_at) + timedelta(seconds=settings.web_replay_grace_s)
    assert maintenance.delete_replayed(now=later) == 1
    assert not storage.exists(job.video_key or "") and store.get_job(job.job_id).video_key is None
    assert maintenance.delete_replayed(now=later) == 0


def test_stray_videos_are_found_through_the_indexes(parts):
    _, store, storage, maintenance, _ = parts
    ready = _to_ready(store, storage, _job(store, "1"))
    kept = _to_ready(store, storage, _job(store, "2"))
    store.transition_job(kept.job_id, S.DELIVERED)
    uploading = _job(store, "3")
    assert store.pop_next() == uploading.job_id
    upload_key = new_key()
    for target in IN_FLIGHT:
        store.transition_job(uploading.job_id, target, change=lambda j: setattr(j, "upload_key", upload_key))
    # The upload in progress (a local one is "{key}.part"), a stray of a crash mid-upload, and
    # one left by a version whose keys began with the job id.
    legacy = f"{'f' * 8}-0000-4000-8000-{'0' * 12}-{'2' * 32}.mp4"
    storage.videos |= {upload_key + ".part", new_key(), legacy}
    store._cache = CountingRows(store._cache)
    assert maintenance.remove_stray_videos() == 2
    assert storage.videos == {ready.video_key, kept.video_key, upload_key + ".part"}
