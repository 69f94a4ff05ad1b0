"""The per-state indexes of jobs: one doubly linked list of rows per state, oldest first
(``Store`` describes the layout and the invariants). Every method takes the cache it works
in and runs inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum

from appliance.errors import StoreError
from appliance.models import IN_FLIGHT_STATUSES, ProcessingJob, ProcessingStatus
from appliance.store_disk import RowCache


class JobIndex(StrEnum):
    """The per-state indexes maintenance and recovery read instead of scanning every job."""

    QUEUED = "queued"
    IN_FLIGHT = "in_flight"
    READY = "ready"
    KEPT_VIDEOS = "kept_videos"


def memberships(job: ProcessingJob) -> dict[JobIndex, str]:
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


class IndexRows:
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
