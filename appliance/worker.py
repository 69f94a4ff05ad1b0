"""Render slots: N threads pulling jobs from the persistent queue.

Each slot takes the next job (the store's fair pop), runs the pipeline, releases it.
Shutdown is graceful: no new jobs are taken, running jobs get ``shutdown_grace_s``
to finish, and whatever is still running then goes back to the queue (QUEUED, at the
front, attempts kept) for the next start. A slot never dies of a job's fault.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from appliance.pipeline import Pipeline, safe_run
from appliance.store import Store

log = logging.getLogger(__name__)


class Worker:
    def __init__(
        self,
        store: Store,
        pipeline: Pipeline,
        slots: int,
        ready_to_render: Callable[[], bool] = lambda: True,
        poll_interval_s: float = 0.5,
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.slots = slots
        self.ready_to_render = ready_to_render
        self.poll_interval_s = poll_interval_s
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._running: dict[str, threading.Event] = {}  # job id -> "abandon" flag
        self._lock = threading.Lock()

    def start(self) -> None:
        for index in range(self.slots):
            thread = threading.Thread(target=self._slot, name=f"render-slot-{index + 1}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        """A job was queued: a waiting slot looks at once instead of at its next poll."""
        self._wake.set()

    @property
    def running_jobs(self) -> list[str]:
        with self._lock:
            return list(self._running)

    def _slot(self) -> None:
        while not self._stopping.is_set():
            if not self.ready_to_render():
                self._stopping.wait(2.0)
                continue
            job_id = self.store.pop_next()
            if job_id is None:
                self._wake.wait(self.poll_interval_s)
                self._wake.clear()
                continue
            abandon = threading.Event()
            with self._lock:
                self._running[job_id] = abandon
            try:
                safe_run(self.pipeline, job_id, abandon.is_set)
            finally:
                with self._lock:
                    self._running.pop(job_id, None)
                if not abandon.is_set():
                    self.store.release(job_id)

    def stop(self, grace_s: float) -> list[str]:
        """Stop taking jobs, wait up to ``grace_s`` for running ones, re-queue the rest."""
        self._stopping.set()
        self._wake.set()
        deadline = time.monotonic() + grace_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        requeued: list[str] = []
        with self._lock:
            leftovers = dict(self._running)
        for job_id, abandon in leftovers.items():
            abandon.set()
            if self.store.requeue(job_id, "Waiting in line again: the appliance restarted"):
                requeued.append(job_id)
        if requeued:
            log.warning("re-queued %d unfinished job(s) for the next start: %s", len(requeued), requeued)
        return requeued

    def join(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
