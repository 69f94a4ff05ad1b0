"""Render slots: threads pulling jobs from the persistent queue.

Slots come in lanes, one per render engine: a lane's slots take jobs only while their
engine is ready, so a missing image or an engine that went away keeps jobs waiting in
the queue (or going to other engines) instead of failing them. Each slot takes the
next job (the store's fair pop), runs its lane's pipeline, releases it.
Shutdown is graceful: no new jobs are taken, running jobs get ``shutdown_grace_s``
to finish, and whatever is still running then goes back to the queue (QUEUED, at the
front, an interrupted attempt given back) for the next start. A slot never dies of a job's fault.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from appliance.pipeline import Pipeline, safe_run
from appliance.store import Store

log = logging.getLogger(__name__)


def _always_ready() -> bool:
    return True


@dataclass(frozen=True)
class Lane:
    """Render slots that run ``pipeline`` while ``ready()`` says their engine can.

    ``slot_count`` is read when the worker starts: an engine's count may be known only then
    (an extra engine without a configured count is asked for its CPUs)."""

    name: str
    pipeline: Pipeline
    slot_count: Callable[[], int]
    ready: Callable[[], bool] = _always_ready

    @property
    def slots(self) -> int:
        return self.slot_count()


class Worker:
    def __init__(self, store: Store, lanes: Sequence[Lane], poll_interval_s: float = 0.5) -> None:
        self.store = store
        self.lanes = list(lanes)
        self.poll_interval_s = poll_interval_s
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._running: dict[str, threading.Event] = {}  # job id -> "abandon" flag
        self._lock = threading.Lock()

    @property
    def slots(self) -> int:
        return sum(lane.slots for lane in self.lanes)

    def start(self) -> None:
        for lane in self.lanes:
            for index in range(lane.slots):
                thread = threading.Thread(target=self._slot, args=(lane,), name=f"render-slot-{lane.name}-{index + 1}",
                                          daemon=True)
                thread.start()
                self._threads.append(thread)

    def wake(self) -> None:
        """A job was queued: a waiting slot looks at once instead of at its next poll."""
        self._wake.set()

    def _slot(self, lane: Lane) -> None:
        while not self._stopping.is_set():
            if not lane.ready():
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
                safe_run(lane.pipeline, job_id, abandon.is_set)
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
