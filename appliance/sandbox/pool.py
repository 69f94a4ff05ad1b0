"""Warm pool: K sandbox containers already started, Manim imported, waiting for one job each.

A warm container is exactly a cold one started earlier: same image, limits, isolation
and single use. ``take()`` hands one out (it is never returned: the render destroys
it) and wakes the filler thread, which starts a replacement in the background. A
container that waited longer than ``max_idle_s`` is replaced, because its in-container
backstop timeout counts from its start.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from appliance.sandbox.attach import AttachedStream

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 120.0
RETRY_DELAYS_S = (1.0, 5.0, 15.0, 30.0, 60.0)


class WarmContainer(Protocol):
    """What the pool needs of a started container (``docker.StartedContainer``)."""

    stream: AttachedStream
    started_at: float  # monotonic
    ready: bool
    import_s: float | None


Started = TypeVar("Started", bound=WarmContainer)


class WarmPool(Generic[Started]):
    def __init__(
        self,
        start: Callable[[], Started],
        discard: Callable[[Started], None],  # must not block: it runs under the pool's lock
        size: int,
        max_idle_s: float,
    ) -> None:
        self._start = start
        self._discard = discard
        self.size = size
        self.max_idle_s = max_idle_s
        self._idle: deque[Started] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._fill_forever, name="sandbox-warm-pool", daemon=True)
        self.failures = 0
        self.served = 0

    def start(self) -> None:
        self._thread.start()

    def take(self) -> Started | None:
        """A started container for one render, or None if the pool is empty right now."""
        with self._lock:
            now = time.monotonic()
            while self._idle:
                candidate = self._idle.popleft()
                if now - candidate.started_at < self.max_idle_s:
                    self.served += 1
                    self._wake.set()
                    return candidate
                self._discard(candidate)
        self._wake.set()
        return None

    def wait_until_full(self, timeout_s: float) -> bool:
        """For benchmarks and tests: block until ``size`` containers are warm and ready."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if len(self._idle) >= self.size and all(c.ready for c in self._idle):
                    return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self._closed.set()
        self._wake.set()
        self._thread.join(timeout=30)
        with self._lock:
            leftovers, self._idle = list(self._idle), deque()
        for started in leftovers:
            with contextlib.suppress(Exception):
                self._discard(started)

    # -- the filler --------------------------------------------------------------------------

    def _fill_forever(self) -> None:
        failures_in_a_row = 0
        while not self._closed.is_set():
            self._expire_idle()
            with self._lock:
                missing = self.size - len(self._idle)
            if missing <= 0:
                self._wake.wait(timeout=min(30.0, self.max_idle_s / 4))
                self._wake.clear()
                continue
            try:
                started = self._start()
                self._wait_ready(started)
            except Exception as exc:
                self.failures += 1
                delay = RETRY_DELAYS_S[min(failures_in_a_row, len(RETRY_DELAYS_S) - 1)]
                failures_in_a_row += 1
                log.warning("warm pool: cannot start a sandbox container (retrying in %.0f s): %s", delay, exc)
                self._closed.wait(delay)
                continue
            failures_in_a_row = 0
            with self._lock:
                if not self._closed.is_set():
                    self._idle.append(started)
                    continue
            self._discard(started)

    def _wait_ready(self, started: Started) -> None:
        """Block until the runner has imported Manim; a container that dies is discarded."""
        try:
            message = started.stream.read_until(time.monotonic() + READY_TIMEOUT_S, ("ready", "error", "done"))
        except (TimeoutError, OSError) as exc:
            self._discard(started)
            raise RuntimeError(f"a warm container did not become ready: {exc}") from exc
        if message is None or message.kind != "ready":
            tail = started.stream.stderr.text()[-500:]
            self._discard(started)
            raise RuntimeError(f"a warm container died while starting: {tail}")
        started.ready = True
        started.import_s = message.fields.get("import_s")

    def _expire_idle(self) -> None:
        now = time.monotonic()
        with self._lock:
            stale = [c for c in self._idle if now - c.started_at >= self.max_idle_s]
            for container in stale:
                self._idle.remove(container)
        for container in stale:
            self._discard(container)
