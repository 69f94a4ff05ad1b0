"""A loopback OpenAI-compatible chat-completions server for tests.

It speaks just enough of the OpenAI HTTP API (``POST /v1/chat/completions``,
``POST /v1/audio/speech``, ``GET /v1/models``) for litellm's real HTTP path
(``openai/<model>`` with ``api_base=stub.base_url``) to talk to it, replays what
a test queued, and records every request so the test can assert what was sent::

    with OpenAIStub() as stub:
        stub.queue_error(429)                 # first call: rate limited
        stub.queue_reply("ANSWER: x = 4 ...")  # second call: answers
        ...  # point the code under test at stub.base_url
        assert "x = 4" in stub.requests[-1].text

Queued responses are served first, in order; when the queue is empty the
``responder`` callable (if any) answers, else the stub answers 500 with
"no reply queued", so an unexpected extra call fails loudly.

``/v1/audio/speech`` answers every request with real audio (``speech_wav``): a 16-bit
mono 24 kHz WAV lasting ``SPEECH_S_PER_CHAR`` per character of the input, voiced where
the text has letters and silent at its spaces. ``fail_speech`` makes it answer HTTP 500 or
bytes that are not audio instead; ``streamed_wav_sizes`` makes its headers carry the
placeholder sizes (0xFFFFFFFF) OpenAI's own streamed WAVs have; ``speech_delay_s`` delays
every speech answer.

The server binds 127.0.0.1 on a free port and runs in a daemon thread;
``with`` starts and stops it (``start()``/``stop()`` do the same by hand).
"""

from __future__ import annotations

import json
import math
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

__all__ = [
    "SPEECH_RATE_HZ",
    "SPEECH_S_PER_CHAR",
    "OpenAIStub",
    "StubRequest",
    "StubResponse",
    "chat_completion_body",
    "error_body",
    "speech_duration_s",
    "speech_wav",
    "unused_port_url",
]

SPEECH_RATE_HZ = 24_000
SPEECH_S_PER_CHAR = 0.06
SpeechFailure = Literal["http_500", "garbage"]


@dataclass(frozen=True)
class StubRequest:
    """One request the stub received."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Mapping[str, Any]
    received_at: float

    @property
    def model(self) -> str | None:
        model = self.body.get("model")
        return model if isinstance(model, str) else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = self.body.get("messages")
        return list(messages) if isinstance(messages, list) else []

    @property
    def text(self) -> str:
        """Every message's text content joined, for ``in`` assertions."""
        parts: list[str] = []
        for message in self.messages:
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):  # content parts: [{"type": "text", "text": ...}]
                parts.extend(str(part.get("text", "")) for part in content if isinstance(part, dict))
        return "\n".join(parts)

    def message_text(self, role: str) -> str:
        """The joined content of the messages with this role."""
        return "\n".join(
            str(m.get("content", "")) for m in self.messages if m.get("role") == role
        )

    @property
    def authorization(self) -> str | None:
        for name, value in self.headers.items():
            if name.lower() == "authorization":
                return value
        return None


@dataclass(frozen=True)
class StubResponse:
    """What the stub answers one request with.

    ``delay_s`` is slept before answering (to provoke client timeouts);
    ``body`` is sent as JSON unless ``raw_body`` is given.
    """

    status: int = 200
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    raw_body: bytes | None = None


Responder = Callable[[StubRequest], "StubResponse | str"]


def chat_completion_body(text: str, model: str = "stub-model", finish_reason: str = "stop") -> dict[str, Any]:
    """An OpenAI chat.completion object whose one choice says ``text``."""
    completion_tokens = max(1, len(text) // 4)
    return {
        "id": f"chatcmpl-stub-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        # Real OpenAI and Groq answers carry these; litellm's groq path reads service_tier.
        "service_tier": "default",
        "system_fingerprint": "fp_stub",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": completion_tokens, "total_tokens": 10 + completion_tokens},
    }


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """An OpenAI-style error object for an HTTP status."""
    kinds = {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        429: "rate_limit_exceeded",
    }
    kind = kinds.get(status, "server_error")
    return {"error": {"message": message or f"stub error {status}", "type": kind, "code": kind, "param": None}}


def speech_duration_s(text: str) -> float:
    """How long the stub's speech for ``text`` lasts (whole frames at SPEECH_RATE_HZ)."""
    return round(SPEECH_RATE_HZ * SPEECH_S_PER_CHAR) * len(text) / SPEECH_RATE_HZ


def speech_wav(text: str, streamed_sizes: bool = False) -> bytes:
    """Real audio for ``text``: a 16-bit mono WAV, SPEECH_S_PER_CHAR per character.

    Each character that is not a space is a "syllable": a 120 Hz tone with its first
    harmonics (a voiced sound), rising and falling under a sine envelope; a space is silence.
    ``streamed_sizes``: the RIFF and data sizes are 0xFFFFFFFF, as in a streamed answer.
    """
    per_char = round(SPEECH_RATE_HZ * SPEECH_S_PER_CHAR)
    harmonics = ((1, 0.6), (2, 0.25), (3, 0.1), (5, 0.05))
    syllable = []
    for n in range(per_char):
        t = n / SPEECH_RATE_HZ
        envelope = math.sin(math.pi * n / per_char)
        voiced = sum(weight * math.sin(2 * math.pi * 120 * k * t) for k, weight in harmonics)
        syllable.append(int(26_000 * envelope * voiced))
    voiced_bytes = struct.pack(f"<{per_char}h", *syllable)
    silence = bytes(2 * per_char)
    data = b"".join(silence if char.isspace() else voiced_bytes for char in text)
    riff_size = 0xFFFFFFFF if streamed_sizes else 36 + len(data)
    data_size = 0xFFFFFFFF if streamed_sizes else len(data)
    header = (
        b"RIFF" + struct.pack("<I", riff_size) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, SPEECH_RATE_HZ, SPEECH_RATE_HZ * 2, 2, 16)
        + b"data" + struct.pack("<I", data_size)
    )
    return header + data


def unused_port_url() -> str:
    """A loopback base URL where nothing listens (connection refused)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


class OpenAIStub:
    """A loopback OpenAI-compatible server that replays queued responses."""

    def __init__(self, responder: Responder | None = None, model_name: str = "stub-model") -> None:
        self.responder = responder
        self.model_name = model_name
        self._queue: deque[StubResponse | str] = deque()
        self._requests: list[StubRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._speech_failure: SpeechFailure | None = None
        self._speech_fail_from = 0
        self._speech_count = 0
        self.streamed_wav_sizes = False
        self.speech_delay_s = 0.0  # slept before each speech answer (to provoke client timeouts)

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> OpenAIStub:
        if self._server is not None:
            return self
        handler = _make_handler(self)
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        self._server = server
        # A short poll interval keeps stop() (and so every test's teardown) quick.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="openai-stub", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        # Wake handlers sleeping on a delay so shutdown does not wait for them.
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> OpenAIStub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- what tests use ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the stub is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The ``api_base`` to give an OpenAI client: ``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> list[StubRequest]:
        """Chat-completion requests received so far (a copy), oldest first."""
        with self._lock:
            return [r for r in self._requests if r.path.endswith("/chat/completions")]

    @property
    def all_requests(self) -> list[StubRequest]:
        with self._lock:
            return list(self._requests)

    def queue_reply(self, text: str, delay_s: float = 0.0) -> None:
        """Answer the next chat request with an assistant message saying ``text``."""
        self._push(StubResponse(status=200, body=chat_completion_body(text, self.model_name), delay_s=delay_s))

    def queue_error(
        self,
        status: int,
        body: Mapping[str, Any] | str | None = None,
        headers: Mapping[str, str] | None = None,
        delay_s: float = 0.0,
    ) -> None:
        """Answer the next chat request with an HTTP error (OpenAI-style JSON unless ``body`` says otherwise)."""
        if isinstance(body, str):
            response = StubResponse(status=status, raw_body=body.encode(), headers=dict(headers or {}), delay_s=delay_s)
        else:
            response = StubResponse(
                status=status, body=body or error_body(status), headers=dict(headers or {}), delay_s=delay_s
            )
        self._push(response)

    def queue_response(self, response: StubResponse) -> None:
        self._push(response)

    @property
    def speech_requests(self) -> list[StubRequest]:
        """``/audio/speech`` requests received so far (a copy), oldest first."""
        with self._lock:
            return [r for r in self._requests if r.path.rstrip("/").endswith("/audio/speech")]

    def fail_speech(self, how: SpeechFailure | None, after: int = 0) -> None:
        """Answer speech requests with HTTP 500 (``http_500``) or bytes that are not audio
        (``garbage``), from the one after the first ``after`` (counted from now); None: speak."""
        with self._lock:
            self._speech_failure = how
            self._speech_fail_from = self._speech_count + after

    def pending(self) -> int:
        """How many queued responses have not been served yet."""
        with self._lock:
            return len(self._queue)

    # -- internals --------------------------------------------------------------------------

    def _push(self, item: StubResponse | str) -> None:
        with self._lock:
            self._queue.append(item)

    def _record(self, request: StubRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next_response(self, request: StubRequest) -> StubResponse:
        with self._lock:
            queued = self._queue.popleft() if self._queue else None
        item: StubResponse | str | None = queued
        if item is None and self.responder is not None:
            item = self.responder(request)
        if item is None:
            return StubResponse(status=500, body=error_body(500, "stub: no reply queued for this request"))
        if isinstance(item, str):
            return StubResponse(status=200, body=chat_completion_body(item, self.model_name))
        return item

    def _speech_response(self, text: str) -> tuple[int, bytes, str]:
        """(status, body, content type) of the next speech request."""
        with self._lock:
            number = self._speech_count
            self._speech_count += 1
            failure = self._speech_failure if number >= self._speech_fail_from else None
        if failure == "http_500":
            return 500, json.dumps(error_body(500, "stub: the speech engine failed")).encode(), "application/json"
        if failure == "garbage":
            return 200, b"ID3\x04\x00 this is not a WAV file " * 40, "audio/wav"
        return 200, speech_wav(text, self.streamed_wav_sizes), "audio/wav"

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the stub is stopping; True if the full delay passed."""
        return not self._stopping.wait(seconds)


def _make_handler(stub: OpenAIStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "OpenAIStub/1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def _read_json(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                parsed = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                return {"_unparsed": raw.decode("utf-8", "replace")}
            return parsed if isinstance(parsed, dict) else {"_json": parsed}

        def _send(self, status: int, payload: bytes, content_type: str, headers: Mapping[str, str]) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nothing to answer

        def do_GET(self) -> None:
            request = StubRequest("GET", self.path, dict(self.headers.items()), {}, time.time())
            stub._record(request)
            if self.path.rstrip("/").endswith("/models"):
                body = {"object": "list", "data": [{"id": stub.model_name, "object": "model", "owned_by": "stub"}]}
                self._send(200, json.dumps(body).encode(), "application/json", {})
            else:
                self._send(404, json.dumps(error_body(404, "no such route")).encode(), "application/json", {})

        def do_POST(self) -> None:
            body = self._read_json()
            request = StubRequest("POST", self.path, dict(self.headers.items()), body, time.time())
            stub._record(request)
            if self.path.rstrip("/").endswith("/audio/speech"):
                text = body.get("input")
                if stub.speech_delay_s and not stub._sleep(stub.speech_delay_s):
                    return  # stopping: drop the connection
                self._send(*stub._speech_response(text if isinstance(text, str) else ""), {})
                return
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, json.dumps(error_body(404, "no such route")).encode(), "application/json", {})
                return
            response = stub._next_response(request)
            if response.delay_s and not stub._sleep(response.delay_s):
                return  # stopping: drop the connection
            if response.raw_body is not None:
                self._send(response.status, response.raw_body, "text/plain", response.headers)
                return
            payload = dict(response.body or {})
            if body.get("stream") and response.status == 200:
                self._send(200, _as_event_stream(payload), "text/event-stream", response.headers)
                return
            self._send(response.status, json.dumps(payload).encode(), "application/json", response.headers)

    return Handler


def _as_event_stream(completion: Mapping[str, Any]) -> bytes:
    """A chat.completion rendered as one server-sent chunk plus [DONE], for stream=True clients."""
    choices = completion.get("choices") or [{}]
    text = choices[0].get("message", {}).get("content", "")
    chunk = {
        "id": completion.get("id", "chatcmpl-stub"),
        "object": "chat.completion.chunk",
        "created": completion.get("created", int(time.time())),
        "model": completion.get("model", "stub-model"),
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
    }
    return f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()
