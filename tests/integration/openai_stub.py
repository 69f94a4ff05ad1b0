"""A loopback OpenAI-compatible chat-completions server for tests.

It speaks just enough of the OpenAI HTTP API (``POST /v1/chat/completions``,
``GET /v1/models``) for litellm's real HTTP path (``openai/<model>`` with
``api_base=stub.base_url``) to talk to it, replays what a test queued, and
records every request so the test can assert what was sent::

    with OpenAIStub() as stub:
        stub.queue_error(429)                 # first call: rate limited
        stub.queue_reply("ANSWER: x = 4 ...")  # second call: answers
        ...  # point the code under test at stub.base_url
        assert "x = 4" in stub.requests[-1].text

Queued responses are served first, in order; when the queue is empty the
``responder`` callable (if any) answers, else the stub answers 500 with
"no reply queued", so an unexpected extra call fails loudly.

The server binds 127.0.0.1 on a free port and runs in a daemon thread;
``with`` starts and stops it (``start()``/``stop()`` do the same by hand).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["OpenAIStub", "StubRequest", "StubResponse", "chat_completion_body", "error_body", "unused_port_url"]


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
