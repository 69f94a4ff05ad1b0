"""One owner per data directory: the one process that runs its jobs.

Every process on a data directory shares its store (diskcache is safe across processes):
any of them may submit jobs into it, read them and follow them. Only one may *run* them,
that is take jobs from the queue, give back what a dead process left (``Store.recover``),
sweep sandbox containers and run maintenance, because each of those assumes nobody else
does it: a second runner re-queues the first one's jobs as "interrupted" and runs them
twice. That one is the owner. It holds an exclusive ``flock`` on ``DATA_DIR/owner.lock``
for as long as it runs; the kernel drops the lock when the process ends, however it ends
(SIGKILL included), so a lock is never stale and nothing has to be cleaned up after a crash.

A process that finds the lock taken is a follower (``Appliance`` says what it does: no
workers, no maintenance, and it keeps trying the lock so that it takes over when the owner
ends). The owner writes a line about itself into the file, for followers to name it.

``flock`` locks belong to an open file description, so a second ``DataDirLock`` on the same
directory in the same process is refused too, as another process would be.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path

from appliance.errors import StoreError

LOCK_FILE = "owner.lock"
HOLDER_MAX_CHARS = 300


def describe_this_process() -> str:
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"process {os.getpid()} on {socket.gethostname()} (since {started})"


class DataDirLock:
    """The data directory's owner lock; thread-safe. ``acquire`` never waits."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_FILE
        self._fd: int | None = None
        self._lock = threading.Lock()

    @property
    def owned(self) -> bool:
        return self._fd is not None

    def acquire(self, description: str | None = None) -> bool:
        """Become the owner if nobody is: True when this object holds the lock (now or already)."""
        with self._lock:
            if self._fd is not None:
                return True
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                # No O_TRUNC: opening must not wipe what the owner wrote. Not inherited by
                # child processes (O_CLOEXEC), which would otherwise keep the lock after we end.
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                raise StoreError(f"cannot open the data directory's lock file {self.path}: {exc}") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            except OSError as exc:
                os.close(fd)
                raise StoreError(f"cannot lock {self.path} (the file system must support flock): {exc}") from exc
            with contextlib.suppress(OSError):  # the description is for messages only
                os.ftruncate(fd, 0)
                os.pwrite(fd, (description or describe_this_process()).encode(), 0)
            self._fd = fd
            return True

    def holder(self) -> str:
        """What the owner wrote about itself ("" when nothing is known)."""
        try:
            return self.path.read_text(errors="replace").strip()[:HOLDER_MAX_CHARS]
        except OSError:
            return ""

    def release(self) -> None:
        """Stop being the owner (a no-op when not): the next process trying the lock gets it."""
        with self._lock:
            fd, self._fd = self._fd, None
            if fd is None:
                return
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # a description left behind would name a process that is gone
            os.close(fd)  # closing the only descriptor drops the lock
