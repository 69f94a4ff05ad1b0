"""Run solver work in a worker process with a deadline and a memory cap.

SymPy has no timeouts and some inputs make it run for minutes
(``integrate(sin(x)**7 * cos(x)**5)``) or grow without bound; a thread
cannot be stopped, a process can. Workers are long-lived subprocesses
(``python -m appliance.generation.builtin.bounded``) with SymPy already
imported, so a call costs a pipe round trip, not an import. A caller takes
an idle worker (or starts one), sends the call, and waits at most the
deadline; a worker that misses it is killed and never reused, so a slow
problem never holds up another caller.

The protocol is length-prefixed pickles over the worker's stdin and stdout.
Only the functions in ``_ALLOWED`` can be called, and the pickles only ever
carry this package's own values between two processes of the appliance.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar, cast

from appliance.errors import UnsupportedProblem

DEFAULT_DEADLINE_S = 10.0
WORKER_START_DEADLINE_S = 60.0  # the first import of SymPy on a busy machine
MEMORY_LIMIT_BYTES = 2 * 1024**3
MAX_IDLE_WORKERS = 2
_HEADER = struct.Struct("!Q")
_INHERITED_ENVIRONMENT = {"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "VIRTUAL_ENV", "PYTHONIOENCODING"}
_ALLOWED = {
    ("appliance.generation.builtin.solve", "solve_in_process"),
    ("appliance.generation.builtin.solve", "reference_in_process"),
    ("appliance.generation.builtin.answers", "agree_in_process"),
    ("appliance.generation.builtin.bounded", "_ping"),
    ("appliance.generation.builtin.bounded", "_sleep"),
}

# Results cross a pipe from our own child process (pickled there, never stored on disk).
T = TypeVar("T")


class _Worker:
    def __init__(self) -> None:
        # Only what Python needs: no API keys or tokens in a process that reads untrusted text.
        environment = {key: value for key, value in os.environ.items() if key in _INHERITED_ENVIRONMENT}
        source_root = str(Path(__file__).resolve().parents[3])  # so a source checkout works uninstalled
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [source_root, os.environ.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "appliance.generation.builtin.bounded"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=environment,
        )

    def call(self, module: str, name: str, args: tuple[object, ...], deadline_s: float) -> tuple[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        payload = pickle.dumps((module, name, args))
        self.process.stdin.write(_HEADER.pack(len(payload)) + payload)
        self.process.stdin.flush()
        give_up_at = time.monotonic() + deadline_s
        header = self._read(_HEADER.size, give_up_at)
        (length,) = _HEADER.unpack(header)
        reply: tuple[str, Any] = pickle.loads(self._read(length, give_up_at))
        return reply

    def _read(self, size: int, give_up_at: float) -> bytes:
        assert self.process.stdout is not None
        descriptor = self.process.stdout.fileno()
        chunks: list[bytes] = []
        remaining = size
        while remaining:
            wait = give_up_at - time.monotonic()
            if wait <= 0 or not select.select([descriptor], [], [], wait)[0]:
                raise TimeoutError
            chunk = os.read(descriptor, remaining)
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


_idle: list[_Worker] = []
_idle_lock = threading.Lock()


def _take_worker() -> tuple[_Worker, bool]:
    with _idle_lock:
        while _idle:
            worker = _idle.pop()
            if worker.process.poll() is None:
                return worker, False
            worker.kill()
    return _Worker(), True


def _give_back(worker: _Worker) -> None:
    with _idle_lock:
        if len(_idle) < MAX_IDLE_WORKERS:
            _idle.append(worker)
            return
    worker.kill()


def run_bounded(function: Callable[..., T], *args: object, deadline_s: float = DEFAULT_DEADLINE_S) -> T:
    """``function(*args)`` in a worker process; UnsupportedProblem when too slow or failing."""
    module, name = function.__module__, function.__name__
    if (module, name) not in _ALLOWED:
        raise ValueError(f"{module}.{name} cannot run in a solver worker")
    worker, fresh = _take_worker()
    try:
        if fresh:
            # A new worker imports SymPy first; that time is not the problem's fault.
            worker.call(__name__, "_ping", (), WORKER_START_DEADLINE_S)
        status, payload = worker.call(module, name, args, deadline_s)
    except TimeoutError:
        worker.kill()
        raise UnsupportedProblem(
            f"The built-in solver gave up after {deadline_s:g} s: this problem is too hard for it."
        ) from None
    except (EOFError, OSError, pickle.UnpicklingError, struct.error) as exc:
        worker.kill()
        raise UnsupportedProblem("The built-in solver stopped unexpectedly on this problem.") from exc
    _give_back(worker)
    if status == "ok":
        return cast(T, payload)  # the allowed function's own return value
    if status == "unsupported":
        raise UnsupportedProblem(payload)
    raise UnsupportedProblem(f"The built-in solver could not work this problem out ({payload}).")


def shutdown_workers() -> None:
    """Stop the idle workers (they also exit on their own when the appliance's pipes close)."""
    with _idle_lock:
        workers, _idle[:] = list(_idle), []
    for worker in workers:
        worker.kill()


def _ping() -> str:
    return "pong"


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


# -- the worker side -------------------------------------------------------------------------------


def _limit_memory() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    except (ImportError, ValueError, OSError):
        pass  # best effort: the deadline still holds


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _serve() -> None:
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the protocol
    _limit_memory()
    for module in ("appliance.generation.builtin.solve", "appliance.generation.builtin.answers"):
        importlib.import_module(module)
    while True:
        header = _read_exactly(requests, _HEADER.size)
        if header is None:
            return
        (length,) = _HEADER.unpack(header)
        body = _read_exactly(requests, length)
        if body is None:
            return
        module, name, args = pickle.loads(body)
        try:
            if (module, name) not in _ALLOWED:
                raise PermissionError(f"{module}.{name}")
            reply: tuple[str, Any] = ("ok", getattr(importlib.import_module(module), name)(*args))
        except UnsupportedProblem as exc:
            reply = ("unsupported", str(exc))
        except MemoryError:
            reply = ("unsupported", "The problem needs more memory than the built-in solver may use.")
        except Exception as exc:
            reply = ("error", f"{type(exc).__name__}: {exc}")
        data = pickle.dumps(reply)
        replies.write(_HEADER.pack(len(data)) + data)
        replies.flush()


if __name__ == "__main__":
    _serve()
