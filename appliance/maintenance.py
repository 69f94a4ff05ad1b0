"""Housekeeping on a timer (APScheduler): expiry, timeouts, orphans, cache culling, strays.

Every task is also a plain method, so tests and the CLI can run one pass directly.
Scheduler jobs coalesce and run one instance at a time: a slow pass is never stacked.

No task scans every job: each reads the store's per-state index it needs
(``Store.indexed_jobs``), oldest entry first, and stops at the first entry too young to
act on. The time-based tasks cost O(jobs acted on); the stray-video sweep costs
O(videos held + jobs in flight + files in storage).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from appliance.config import Settings
from appliance.contracts import VideoStorage
from appliance.errors import ApplianceError, InvalidTransition, NotFound
from appliance.job_index import JobIndex
from appliance.metrics import Metrics
from appliance.models import ProcessingJob, ProcessingStatus
from appliance.store import Store

log = logging.getLogger(__name__)
S = ProcessingStatus


def _age_s(timestamp: str | None, now: datetime) -> float:
    if not timestamp:
        return 0.0
    return (now - datetime.fromisoformat(timestamp)).total_seconds()


class Maintenance:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        storage: VideoStorage,
        metrics: Metrics,
        publish: Callable[[ProcessingJob], None],
        sweep_containers: Callable[[], int] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.storage = storage
        self.metrics = metrics
        self.publish = publish
        self.sweep_containers = sweep_containers
        self._scheduler: BackgroundScheduler | None = None

    # -- one pass of each task ---------------------------------------------------------------

    def _due(self, index: JobIndex, window_s: float, now: datetime | None) -> tuple[datetime, list[ProcessingJob]]:
        """``now`` (by default the clock's) and the jobs that entered ``index`` at least
        ``window_s`` before it: a walk of the index that stops at the first younger entry."""
        now = now or datetime.now(UTC)
        return now, self.store.indexed_jobs(index, entered_until=now - timedelta(seconds=window_s))

    def delete_video(self, job: ProcessingJob, reason: str) -> ProcessingJob:
        """Delete a job's video and forget its URL; metadata stays."""
        if job.video_key:
            self.storage.delete(job.video_key)
            self.metrics.inc("appliance_videos_deleted_total", reason=reason)

        def forget(j: ProcessingJob) -> None:
            j.video_key = None
            j.video_url = None
            j.video_expires_at = None

        with contextlib.suppress(NotFound):
            job = self.store.update_job(job.job_id, forget)
        return job

    def expire_ready(self, now: datetime | None = None) -> int:
        """READY videos not accessed within the window become EXPIRED and are deleted."""
        now, due = self._due(JobIndex.READY, self.settings.ready_ttl_s, now)
        expired = 0
        for job in due:
            if job.status is S.READY and _age_s(job.completed_at or job.updated_at, now) >= self.settings.ready_ttl_s:
                try:
                    job = self.store.transition_job(job.job_id, S.EXPIRED, "Expired: the video was not "
                                                    "downloaded in time and has been deleted")
                except (InvalidTransition, NotFound):
                    continue  # delivered meanwhile
                self.delete_video(job, "expired")
                self.metrics.inc("appliance_jobs_finished_total", status="expired")
                self.publish(job)
                expired += 1
        return expired

    def delete_replayed(self, now: datetime | None = None) -> int:
        """Delivered videos kept for web replay are deleted once their grace period ends."""
        now, due = self._due(JobIndex.KEPT_VIDEOS, self.settings.web_replay_grace_s, now)
        deleted = 0
        for job in due:
            if (
                job.status is S.DELIVERED
                and job.video_key
                and _age_s(job.delivered_at, now) >= self.settings.web_replay_grace_s
            ):
                self.delete_video(job, "delivered")
                deleted += 1
        return deleted

    def fail_stale_queued(self, now: datetime | None = None) -> int:
        """Jobs still QUEUED after the processing timeout (1 h) fail with a clear message."""
        now, due = self._due(JobIndex.QUEUED, self.settings.queued_timeout_s, now)
        failed = 0
        for job in due:
            waited_s = _age_s(job.updated_at or job.created_at, now)
            if job.status is S.QUEUED and waited_s >= self.settings.queued_timeout_s:
                minutes = round(self.settings.queued_timeout_s / 60)

                def record(j: ProcessingJob) -> None:
                    j.failure_reason = "queued_timeout"

                try:
                    job = self.store.transition_job(
                        job.job_id, S.FAILED,
                        f"Timed out: the job waited in line for over {minutes} minutes. Please try again.",
                        record,
                    )
                except (InvalidTransition, NotFound):
                    continue  # picked up meanwhile
                self.store.remove_from_queue(job.job_id)
                self.metrics.inc("appliance_job_failures_total", reason="queued_timeout")
                self.metrics.inc("appliance_jobs_finished_total", status="failed")
                self.publish(job)
                failed += 1
        return failed

    def remove_stray_videos(self) -> int:
        """Video files no live job points at (left by a crash mid-upload) are deleted."""
        # The files first, then the jobs: a file listed existed then, so its job had recorded the
        # key (upload_key is stored with UPLOADING, before the upload starts). The jobs are read in
        # the order a job moves through the indexes (in flight, ready, kept), so a job that moves
        # on between two reads is still seen in one of them. Every job holding a video is READY or
        # in the kept-videos index, by their definitions.
        keys = list(self.storage.keys())
        if not keys:
            return 0
        uploading = {job.upload_key for job in self.store.indexed_jobs(JobIndex.IN_FLIGHT)
                     if job.status is S.UPLOADING and job.upload_key}
        wanted = {job.video_key for index in (JobIndex.READY, JobIndex.KEPT_VIDEOS)
                  for job in self.store.indexed_jobs(index) if job.video_key}
        removed = 0
        for key in keys:
            # startswith: a local upload in progress is "{key}.part".
            if key in wanted or any(key.startswith(upload) for upload in uploading):
                continue
            self.storage.delete(key)
            self.metrics.inc("appliance_videos_deleted_total", reason="stray")
            removed += 1
        return removed

    def sweep_orphans(self) -> int:
        if self.sweep_containers is None:
            return 0
        return self.sweep_containers()

    def _guarded(self, name: str, task: Callable[[], int]) -> int:
        try:
            return task()
        except ApplianceError as exc:
            log.error("maintenance task %s failed: %s", name, exc)
        except Exception:
            log.exception("maintenance task %s failed", name)
        return 0

    # -- scheduling --------------------------------------------------------------------------

    def start(self) -> None:
        scheduler = BackgroundScheduler(
            timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
        )
        interval = self.settings.maintenance_interval_s
        first = datetime.now(UTC) + timedelta(seconds=min(5, interval))
        for name, task in (
            ("expire_ready", self.expire_ready),
            ("delete_replayed", self.delete_replayed),
            ("fail_stale_queued", self.fail_stale_queued),
            ("store_expire", self.store.expire),
            ("stray_videos", self.remove_stray_videos),
        ):
            scheduler.add_job(self._guarded, "interval", args=[name, task], seconds=interval, id=name,
                              next_run_time=first)
        if self.sweep_containers is not None:
            scheduler.add_job(self._guarded, "interval", args=["orphans", self.sweep_orphans],
                              seconds=self.settings.orphan_sweep_interval_s, id="orphans")
        scheduler.start()
        self._scheduler = scheduler

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
