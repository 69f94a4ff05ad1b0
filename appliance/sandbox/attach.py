"""The attach socket of one sandbox container: the request goes in, runner messages come out.

Docker multiplexes a non-TTY container's stdout and stderr on one socket in frames
(8-byte header: stream id, 3 zero bytes, big-endian length). We parse them ourselves,
with a deadline on every read, because hostile code controls what arrives: output is
kept only as a bounded tail, and protocol lines only up to a bounded length.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from appliance.models import JSONDict

STDOUT = 1
STDERR = 2
MARKER_PREFIX = b"@@manim-appliance:"
# The runner writes this line on stderr just before "done" (sandbox_image/runner.py).
STDERR_END = b"\n@@manim-appliance:stderr-end@@\n"
MAX_PROTOCOL_LINE = 64 * 1024
_HEADER = struct.Struct(">BxxxL")


class Closable(Protocol):
    def close(self) -> None: ...


@dataclass
class RunnerMessage:
    kind: str  # ready | done | error
    fields: JSONDict


@dataclass
class _Tail:
    """The last ``limit`` bytes written to a stream."""

    limit: int
    data: bytearray = field(default_factory=bytearray)
    total: int = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self.data += chunk
        if len(self.data) > self.limit:
            del self.data[: len(self.data) - self.limit]

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


class AttachedStream:
    """Reads frames from an attach socket; collects runner messages and a stderr tail."""

    def __init__(self, sock: socket.socket, tail_bytes: int, keepalive: Closable | None = None) -> None:
        self._socket = sock
        # What owns the socket (docker-py's SocketIO, holding the HTTP response): kept alive
        # while the stream is read, closed with it (``connection.attach_socket``).
        self._keepalive = keepalive
        self._buffer = bytearray()
        self._stdout_line = bytearray()
        self._stdout_overflow = False
        self.stderr = _Tail(tail_bytes)
        self.stdout = _Tail(tail_bytes)
        self.messages: list[RunnerMessage] = []
        self.eof = False

    def send(self, data: bytes, timeout_s: float = 10.0) -> None:
        self._socket.settimeout(timeout_s)
        self._socket.sendall(data)

    def read_until(self, deadline: float, wanted: tuple[str, ...]) -> RunnerMessage | None:
        """Read until a message of a wanted kind arrives (returned) or EOF (None).

        Raises ``TimeoutError`` when the monotonic ``deadline`` passes first.
        """
        start = len(self.messages)
        while True:
            for message in self.messages[start:]:
                if message.kind in wanted:
                    return message
            start = len(self.messages)
            if self.eof:
                return None
            self._read_once(deadline)

    def still_open(self) -> bool:
        """Whether the runner is still there (a warm container may have died while idle)."""
        try:
            self._read_once(time.monotonic() + 0.005)
        except TimeoutError:
            pass
        return not self.eof

    def drain(self, deadline: float) -> None:
        """Read until EOF or the deadline (no exception): the rest of a dying runner's output."""
        try:
            while not self.eof:
                self._read_once(deadline)
        except (TimeoutError, OSError):
            pass

    def settle_stderr(self, deadline: float) -> bool:
        """After "done": read until the runner's end-of-stderr line arrives, then drop it.

        The engine relays stdout and stderr through separate pipes, so "done" (stdout) can
        overtake the scene's last stderr lines; without this the tail could miss them. A
        scene that hides the line costs only the wait until ``deadline`` (no exception).
        """
        try:
            while STDERR_END not in self.stderr.data and not self.eof:
                self._read_once(deadline)
        except (TimeoutError, OSError):
            return False
        found = self.stderr.data.rfind(STDERR_END)
        if found < 0:
            return False
        del self.stderr.data[found:found + len(STDERR_END)]
        return True

    def close(self) -> None:
        for closable in (self._socket, self._keepalive):
            if closable is None:
                continue
            try:
                closable.close()
            except Exception:  # closing twice, or a socket the engine already reset
                pass

    # -- frames ------------------------------------------------------------------------------

    def _read_once(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("deadline passed while reading the sandbox output")
        self._socket.settimeout(remaining)
        try:
            chunk = self._socket.recv(256 * 1024)
        except TimeoutError:
            raise
        except OSError:
            chunk = b""
        if not chunk:
            self.eof = True
            return
        self._buffer += chunk
        for stream_id, payload in self._frames():
            if stream_id == STDOUT:
                self.stdout.add(payload)
                self._scan_stdout(payload)
            else:
                self.stderr.add(payload)

    def _frames(self) -> Iterator[tuple[int, bytes]]:
        while len(self._buffer) >= _HEADER.size:
            stream_id, length = _HEADER.unpack_from(self._buffer)
            end = _HEADER.size + length
            if len(self._buffer) < end:
                return
            payload = bytes(self._buffer[_HEADER.size:end])
            del self._buffer[:end]
            yield stream_id, payload

    def _scan_stdout(self, payload: bytes) -> None:
        for byte_line in payload.splitlines(keepends=True):
            if not self._stdout_overflow:
                self._stdout_line += byte_line
            if len(self._stdout_line) > MAX_PROTOCOL_LINE:
                self._stdout_line.clear()
                self._stdout_overflow = True
            if byte_line.endswith(b"\n"):
                if not self._stdout_overflow:
                    self._parse_line(bytes(self._stdout_line))
                self._stdout_line.clear()
                self._stdout_overflow = False

    def _parse_line(self, line: bytes) -> None:
        if not line.startswith(MARKER_PREFIX):
            return
        head, _, body = line[len(MARKER_PREFIX):].partition(b"@@ ")
        try:
            fields = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return
        if isinstance(fields, dict) and len(self.messages) < 100:
            self.messages.append(RunnerMessage(head.decode("ascii", errors="replace"), fields))
