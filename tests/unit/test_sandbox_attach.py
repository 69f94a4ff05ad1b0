"""Parsing Docker's multiplexed attach stream, fed through a real socket pair."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from appliance.sandbox.attach import MAX_PROTOCOL_LINE, STDERR_END, AttachedStream


def frame(stream_id: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream_id, len(payload)) + payload


def message(kind: str, /, **fields: object) -> bytes:
    return f"@@manim-appliance:{kind}@@ {json.dumps(fields)}\n".encode()


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


def feed_slowly(sock: socket.socket, data: bytes, piece: int = 3) -> None:
    """Send in tiny pieces so frames and lines straddle reads."""
    def run() -> None:
        for start in range(0, len(data), piece):
            sock.sendall(data[start:start + piece])
            time.sleep(0.0005)
        with contextlib.suppress(OSError):  # the test may be done (and the socket closed) already
            sock.shutdown(socket.SHUT_WR)

    threading.Thread(target=run, daemon=True).start()


def test_messages_and_stderr_survive_being_split_across_reads(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    data = (frame(1, message("ready", import_s=0.9)) + frame(2, b"warning: something\n")
            + frame(1, message("done", render_s=1.5)[:10]) + frame(1, message("done", render_s=1.5)[10:]))
    feed_slowly(theirs, data)
    stream = AttachedStream(ours, tail_bytes=1024)
    done = stream.read_until(time.monotonic() + 10, ("done", "error"))
    assert done is not None and done.kind == "done" and done.fields == {"render_s": 1.5}
    assert [m.kind for m in stream.messages] == ["ready", "done"]
    assert stream.stderr.text() == "warning: something\n"


def test_stderr_that_lags_done_is_read_up_to_the_runners_end_line(
        pair: tuple[socket.socket, socket.socket]) -> None:
    """The engine relays stdout and stderr separately: "done" may come first, the scene's last
    stderr lines (and the runner's end line) after it. The tail reported must hold them."""
    ours, theirs = pair
    theirs.sendall(frame(1, message("done", render_s=1.5)))
    stream = AttachedStream(ours, tail_bytes=1024)
    assert stream.read_until(time.monotonic() + 10, ("done",)) is not None
    assert stream.stderr.text() == ""  # what a host that stopped at "done" would have reported
    feed_slowly(theirs, frame(2, b"swapped the output") + frame(2, STDERR_END))
    assert stream.settle_stderr(time.monotonic() + 10)
    assert stream.stderr.text() == "swapped the output"  # the end line itself is not output


def test_a_hidden_end_line_costs_only_the_wait(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    theirs.sendall(frame(1, message("done")) + frame(2, b"no end line\n"))
    stream = AttachedStream(ours, tail_bytes=1024)
    assert stream.read_until(time.monotonic() + 10, ("done",)) is not None
    assert not stream.settle_stderr(time.monotonic() + 0.2)
    assert stream.stderr.text() == "no end line\n" and not stream.eof
    theirs.shutdown(socket.SHUT_WR)  # and a runner that is gone: EOF ends the wait at once
    assert not stream.settle_stderr(time.monotonic() + 10)
    assert stream.eof


def test_eof_without_a_wanted_message_returns_none(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    feed_slowly(theirs, frame(1, message("ready")) + frame(2, b"Traceback ...\n"))
    stream = AttachedStream(ours, tail_bytes=1024)
    assert stream.read_until(time.monotonic() + 10, ("done", "error")) is None
    assert stream.eof and "Traceback" in stream.stderr.text()


class WatchedSocket:
    """The real socket, with the timeouts the stream gives it recorded."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.timeouts: list[float | None] = []

    def settimeout(self, value: float | None) -> None:
        self.timeouts.append(value)
        self._sock.settimeout(value)

    def recv(self, size: int) -> bytes:
        return self._sock.recv(size)

    def close(self) -> None:
        self._sock.close()


def test_the_deadline_raises_timeout(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, _theirs = pair
    ours.settimeout(30)  # a stream that never set its own timeout would fail here, not hang
    watched = WatchedSocket(ours)
    stream = AttachedStream(watched, tail_bytes=1024)  # type: ignore[arg-type]
    with pytest.raises(TimeoutError):
        stream.read_until(time.monotonic() + 0.3, ("done",))
    # Every wait was bounded by what was left of the deadline, not the 10 s socket default:
    # the TimeoutError is the socket's own, raised at that bound.
    assert watched.timeouts and all(t is not None and 0 < t <= 0.3 for t in watched.timeouts), watched.timeouts
    assert not stream.eof and stream.messages == []
    # A deadline already past raises before waiting at all.
    watched.timeouts.clear()
    with pytest.raises(TimeoutError):
        stream.read_until(time.monotonic() - 1, ("done",))
    assert watched.timeouts == []


def test_output_is_kept_as_a_bounded_tail(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    noise = b"".join(frame(2, f"line {n}\n".encode()) for n in range(5000))
    feed_slowly(theirs, noise + frame(1, message("error", kind="scene_error")), piece=4096)
    stream = AttachedStream(ours, tail_bytes=200)
    found = stream.read_until(time.monotonic() + 10, ("error",))
    assert found is not None and found.fields["kind"] == "scene_error"
    assert len(stream.stderr.data) == 200 and stream.stderr.text().endswith("line 4999\n")
    assert stream.stderr.total > 40000


def test_forged_or_oversized_protocol_lines_are_ignored(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    huge = b"@@manim-appliance:done@@ " + b"x" * (MAX_PROTOCOL_LINE + 10) + b"\n"
    data = (frame(1, huge) + frame(1, b"@@manim-appliance:done@@ not json\n")
            + frame(2, message("done")) + frame(1, message("error", kind="no_video")))
    feed_slowly(theirs, data, piece=8192)
    stream = AttachedStream(ours, tail_bytes=1024)
    found = stream.read_until(time.monotonic() + 10, ("done", "error"))
    # stderr lines are never protocol; broken stdout lines are skipped.
    assert found is not None and found.kind == "error"
