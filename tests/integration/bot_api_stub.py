"""A local stand-in for the Telegram Bot API, over real HTTP on 127.0.0.1.

python-telegram-bot reaches it through its own ``base_url``
(``settings.telegram_api_base = stub.api_base``). It implements the methods the bot
uses, keeps the chat state Telegram would (message ids, message texts, so an edit that
changes nothing gets "message is not modified"), long-polls ``getUpdates`` from a
queue the test fills, saves uploaded files, and records every call with its time::

    with BotApiStub() as stub:
        stub.send_text(42, "Solve 2x + 3 = 11")          # a person writes to the bot
        ...
        video = stub.calls_to("sendVideo")[0].upload("video")

``fail(method, ...)`` makes the next calls of a method fail (429 with retry_after, 400,
403, 5xx) to exercise the bot's retries. Runs uvicorn in a thread with
its own event loop, so it serves the bot whatever the test's loop is doing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

# Parameters that PTB sends as plain strings (everything else is JSON-encoded).
RAW_STRING_FIELDS = frozenset({"text", "caption", "url", "secret_token", "callback_query_id", "action",
                               "description", "short_description", "filename", "data"})


@dataclass
class ApiCall:
    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    filenames: dict[str, str] = field(default_factory=dict)
    at: float = 0.0  # time.monotonic() when it arrived
    status: int = 200

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    def upload(self, param: str) -> bytes | None:
        """The bytes uploaded for ``param`` (a direct file field, or an ``attach://`` reference)."""
        value = self.params.get(param)
        if isinstance(value, str) and value.startswith("attach://"):
            return self.files.get(value.removeprefix("attach://"))
        return self.files.get(param)


@dataclass
class _Failure:
    times: int
    error_code: int
    description: str
    retry_after: int | None = None


class BotApiStub:
    def __init__(self, token: str = "123:ABC", username: str = "manim_test_bot") -> None:
        self.token = token
        self.username = username
        self.bot_id = int(token.split(":", 1)[0])
        self.calls: list[ApiCall] = []
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.enqueued_at: dict[int, float] = {}  # update_id -> time.monotonic()
        self.webhook_url = ""
        self.webhook_secret: str | None = None
        self.admins: dict[int, set[int]] = {}  # chat id -> the user ids getChatMember calls administrators
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        self._next_update_id = 1000
        self._next_message_id: dict[int, int] = {}
        self._failures: dict[str, list[_Failure]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._new_update: asyncio.Event | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- life --------------------------------------------------------------------------------

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    def start(self) -> BotApiStub:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        app = Starlette(routes=[
            Route("/bot{token}/{method}", self._handle, methods=["GET", "POST"]),
            Route("/file/bot{token}/{path:path}", self._file, methods=["GET"]),
        ])
        config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_keep_alive=60)
        self._server = uvicorn.Server(config)
        started = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            self._new_update = asyncio.Event()
            loop.call_soon(started.set)
            assert self._server is not None
            loop.run_until_complete(self._server.serve(sockets=[sock]))
            loop.close()

        self._thread = threading.Thread(target=run, name="bot-api-stub", daemon=True)
        self._thread.start()
        started.wait(10)
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            if self._loop is not None and self._new_update is not None:
                with contextlib.suppress(RuntimeError):
                    self._loop.call_soon_threadsafe(self._new_update.set)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> BotApiStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what the test looks at ----------------------------------------------------------------

    def calls_to(self, method: str, chat_id: int | None = None) -> list[ApiCall]:
        with self._lock:
            return [c for c in self.calls
                    if c.method == method and (chat_id is None or c.chat_id == chat_id)]

    def chat_calls(self, chat_id: int) -> list[ApiCall]:
        with self._lock:
            return [c for c in self.calls if c.chat_id == chat_id]

    def bot_texts(self, chat_id: int) -> list[str]:
        """Every text the bot sent or edited into the chat, in order."""
        return [str(c.params.get("text")) for c in self.chat_calls(chat_id)
                if c.method in ("sendMessage", "editMessageText") and c.status == 200]

    async def wait_for(self, predicate: Any, timeout: float = 10.0, interval: float = 0.02) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
            await asyncio.sleep(interval)

    def fail(self, method: str, times: int = 1, error_code: int = 500, description: str = "Internal Server Error",
             retry_after: int | None = None) -> None:
        """The next ``times`` calls of ``method`` fail (500/502: a NetworkError for PTB; 429 with
        ``retry_after``: RetryAfter; 400: BadRequest; 403: Forbidden)."""
        with self._lock:
            self._failures.setdefault(method, []).append(_Failure(times, error_code, description, retry_after))

    # -- what a person does (updates) ----------------------------------------------------------

    def _message_id(self, chat_id: int) -> int:
        with self._lock:
            self._next_message_id[chat_id] = self._next_message_id.get(chat_id, 0) + 1
            return self._next_message_id[chat_id]

    def _update_id(self) -> int:
        with self._lock:
            self._next_update_id += 1
            return self._next_update_id

    @staticmethod
    def _chat(chat_id: int, chat_type: str) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = f"User{chat_id}"
        else:
            chat["title"] = f"Group {chat_id}"
        return chat

    def make_message(self, chat_id: int, *, text: str | None = None, chat_type: str | None = None,
                     user_id: int | None = None, language_code: str | None = "en",
                     entities: list[dict[str, Any]] | None = None, reply_to_bot_message: int | None = None,
                     extra: dict[str, Any] | None = None, edited: bool = False) -> dict[str, Any]:
        """An update with a message from a person (not queued: see ``push`` / the send_* helpers)."""
        chat_type = chat_type or ("private" if chat_id > 0 else "supergroup")
        user_id = user_id or (chat_id if chat_id > 0 else 777)
        sender: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        if language_code:
            sender["language_code"] = language_code
        message: dict[str, Any] = {
            "message_id": self._message_id(chat_id), "from": sender, "chat": self._chat(chat_id, chat_type),
            "date": int(time.time()),
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                command = text.split()[0]
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        if entities:
            message["entities"] = entities
        if reply_to_bot_message is not None:
            message["reply_to_message"] = {
                "message_id": reply_to_bot_message, "date": int(time.time()),
                "chat": self._chat(chat_id, chat_type),
                "from": {"id": self.bot_id, "is_bot": True, "first_name": "Bot", "username": self.username},
                "text": self.messages.get((chat_id, reply_to_bot_message), {}).get("text", "…"),
            }
        if extra:
            message.update(extra)
        if edited:
            message["edit_date"] = int(time.time())
        return {"update_id": self._update_id(), ("edited_message" if edited else "message"): message}

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates (thread-safe)."""
        with self._lock:
            self._pending.append(update)
            self.enqueued_at[update["update_id"]] = time.monotonic()
        if self._loop is not None and self._new_update is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._new_update.set)
        return update

    def send_text(self, chat_id: int, text: str, **kwargs: Any) -> dict[str, Any]:
        return self.push(self.make_message(chat_id, text=text, **kwargs))

    def send_photo(self, chat_id: int, caption: str | None = None, **kwargs: Any) -> dict[str, Any]:
        photo = [{"file_id": "photo-small", "file_unique_id": "ps", "width": 90, "height": 90},
                 {"file_id": "photo-big", "file_unique_id": "pb", "width": 800, "height": 800}]
        extra: dict[str, Any] = {"photo": photo}
        if caption:
            extra["caption"] = caption
        return self.push(self.make_message(chat_id, extra=extra, **kwargs))

    def send_sticker(self, chat_id: int, **kwargs: Any) -> dict[str, Any]:
        sticker = {"file_id": "sticker", "file_unique_id": "st", "type": "regular", "width": 512,
                   "height": 512, "is_animated": False, "is_video": False}
        return self.push(self.make_message(chat_id, extra={"sticker": sticker}, **kwargs))

    def send_voice(self, chat_id: int, **kwargs: Any) -> dict[str, Any]:
        voice = {"file_id": "voice", "file_unique_id": "vo", "duration": 3, "mime_type": "audio/ogg"}
        return self.push(self.make_message(chat_id, extra={"voice": voice}, **kwargs))

    def send_document(self, chat_id: int, **kwargs: Any) -> dict[str, Any]:
        document = {"file_id": "doc", "file_unique_id": "do", "file_name": "homework.pdf",
                    "mime_type": "application/pdf"}
        return self.push(self.make_message(chat_id, extra={"document": document}, **kwargs))

    def edit_text(self, chat_id: int, text: str, **kwargs: Any) -> dict[str, Any]:
        return self.push(self.make_message(chat_id, text=text, edited=True, **kwargs))

    def make_callback(self, chat_id: int, message_id: int, data: str, user_id: int | None = None,
                      language_code: str = "en") -> dict[str, Any]:
        user_id = user_id or (chat_id if chat_id > 0 else 777)
        shown = self.messages.get((chat_id, message_id), {})
        message = {"message_id": message_id, "date": int(time.time()),
                   "chat": self._chat(chat_id, "private" if chat_id > 0 else "supergroup"),
                   "from": {"id": self.bot_id, "is_bot": True, "first_name": "Bot", "username": self.username},
                   "text": shown.get("text", "…")}
        return {"update_id": self._update_id(), "callback_query": {
            "id": f"cb{self._next_update_id}", "chat_instance": f"ci{chat_id}", "data": data, "message": message,
            "from": {"id": user_id, "is_bot": False, "first_name": f"User{user_id}", "language_code": language_code},
        }}

    def press_button(self, chat_id: int, message_id: int, data: str, **kwargs: Any) -> dict[str, Any]:
        return self.push(self.make_callback(chat_id, message_id, data, **kwargs))

    # -- the Bot API -----------------------------------------------------------------------------

    async def _params(self, request: Request) -> tuple[dict[str, Any], dict[str, bytes], dict[str, str]]:
        params: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        filenames: dict[str, str] = {}
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/json"):
            body = await request.body()
            return (json.loads(body) if body else {}), files, filenames
        form = await request.form(max_part_size=64 * 1024 * 1024)
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                files[name] = await value.read()
                filenames[name] = value.filename or ""
            elif name in RAW_STRING_FIELDS:
                params[name] = value
            else:
                try:
                    params[name] = json.loads(value)
                except ValueError:
                    params[name] = value
        await form.close()
        return params, files, filenames

    @staticmethod
    def _ok(result: Any) -> JSONResponse:
        return JSONResponse({"ok": True, "result": result})

    @staticmethod
    def _error(code: int, description: str, retry_after: int | None = None) -> JSONResponse:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return JSONResponse(body, status_code=code)

    def _take_failure(self, method: str) -> _Failure | None:
        with self._lock:
            queue = self._failures.get(method)
            if not queue:
                return None
            failure = queue[0]
            failure.times -= 1
            if failure.times <= 0:
                queue.pop(0)
            return failure

    async def _handle(self, request: Request) -> Any:
        token = request.path_params["token"]
        method = request.path_params["method"]
        params, files, filenames = await self._params(request)
        call = ApiCall(method, params, files, filenames, time.monotonic())
        if token != self.token:
            call.status = 401
            self._record(call)
            return self._error(401, "Unauthorized")
        failure = self._take_failure(method)
        if failure is not None:
            call.status = failure.error_code
            self._record(call)
            return self._error(failure.error_code, failure.description, failure.retry_after)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            call.status = 404
            self._record(call)
            return self._error(404, "Not Found: method not found")
        if method == "getUpdates":
            response = await handler(params)  # not recorded: polling would drown the record
            return response
        response = await handler(params, call)
        call.status = response.status_code
        self._record(call)
        return response

    def _record(self, call: ApiCall) -> None:
        with self._lock:
            self.calls.append(call)

    async def _file(self, request: Request) -> Any:
        return self._error(404, "Not Found: file not found")

    def _bot_message(self, chat_id: int, **content: Any) -> dict[str, Any]:
        message_id = self._message_id(chat_id)
        message = {"message_id": message_id, "date": int(time.time()),
                   "chat": self._chat(chat_id, "private" if chat_id > 0 else "supergroup"),
                   "from": {"id": self.bot_id, "is_bot": True, "first_name": "Bot", "username": self.username},
                   **content}
        with self._lock:
            self.messages[(chat_id, message_id)] = {"text": content.get("text") or content.get("caption"),
                                                    "reply_markup": content.get("reply_markup")}
        return message

    async def _m_getMe(self, params: dict[str, Any], call: ApiCall) -> JSONResponse:
        return self._ok({"id": self.bot_id, "is_bot": True, "first_name": "Manim Test Bot",
                         "username": self.username, "can_join_groups": True,
                         "can_read_all_group_messages": False, "supports_inline_queries": False})

    async def _m_getUpdates(self, params: dict[str, Any]) -> JSONResponse:
        if self.webhook_url:
            return self._error(409, "Conflict: can't use getUpdates method while webhook is active; "
                                    "use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        assert self._new_update is not None
        while True:
            with self._lock:
                if offset:
                    self._pending = [u for u in self._pending if u["update_id"] >= offset]
                ready = self._pending[:limit]
            if ready or time.monotonic() >= deadline or (self._server and self._server.should_exit):
                return self._ok(ready)
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), max(0.0, deadline - time.monotonic()))

    async def _m_deleteWebhook(self, params: dict[str, Any], call: ApiCall) -> JSONResponse:
        self.webhook_url, self.webhook_secret = "", None
        if params.get("drop_pending_updates"):
            with self._lock:
                self._pending.clear()
        return self._ok(True)

    async def _m_setWebhook(self, params: dict[str, Any], call: ApiCall) -> JSONResponse:
        url = str(params.get("url") or "")
        if url and not url.startswith(("https://", "http://127.0.0.1")):
            return self._error(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook_url, self.webhook_secret = url, params.get("secret_token")
        return self._ok(True)

    async def _m_getWebhookInfo(self, params: dict[str, Any], call: ApiCall) -> JSONResponse:
        with self._lock:
            pending = len(self._pending)
        return self._ok({"url": self.webhook_url, "has_custom_certificate": False, "pending_update_count": pending})

    async def _m_setMyCommands(self, params: dict[str, Any], call: ApiCall) -> JSONResponse:
        return self._ok(True)

    async def _m_deleteMyCommands(self, params: dict[str, Any], call: ApiCall) -> JSONResponse:
        return self._ok(True)

    async def _m_sendChatAction(self, params: dict[str, Any], call: ApiCall) -> JSONResponse:
        return self._ok(True)

    async def _m_answerCallbackQuery(self, params: dict[str, Any], call: ApiCall) -> JSONResponse:
        return self._ok(True)

    async def _m_getChatMember(self, params: dict[str, Any], call: ApiCall) -> JSONResponse:
        user_id = int(params["user_id"])
        admin = user_id in self.admins.get(int(params["chat_id"]), set())
        user = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        if admin:
            return self._ok({"status": "administrator", "user": user, "can_be_edited": False, "is_anonymous": False,
                             "can_manage_chat": True, "can_delete_messages": True, "can_manage_video_chats": True,
                             "can_restrict_members": True, "can_promote_members": False, "can_change_info": True,
                             "can_invite_users": True, "can_post_stories": False, "can_edit_stories": False,
                             "can_delete_stories": False})
        return self._ok({"status": "member", "user": user})

    async def _m_sendMessage(self, params: dict[str, Any], call: ApiCall) -> JSONResponse:
        text = params.get("text")
        if not text:
            return self._error(400, "Bad Request: message text is empty")
        if len(str(text)) > 4096:
            return self._error(400, "Bad Request: message is too long")
        content: dict[str, Any] = {"text": str(text)}
        if params.get("reply_markup"):
            content["reply_markup"] = params["reply_markup"]
        return self._ok(self._bot_message(int(params["chat_id"]), **content))

    async def _m_editMessageText(self, params: dict[str, Any], call: ApiCall) -> JSONResponse:
        key = (int(params["chat_id"]), int(params["message_id"]))
        with self._lock:
            current = self.messages.get(key)
            if current is None:
                return self._error(400, "Bad Request: message to edit not found")
            markup = params.get("reply_markup")
            if current["text"] == params.get("text") and current.get("reply_markup") == markup:
                return self._error(400, "Bad Request: message is not modified: specified new message content "
                                        "and reply markup are exactly the same as a current content and reply "
                                        "markup of the message")
            current["text"], current["reply_markup"] = params.get("text"), markup
        message = {"message_id": key[1], "date": int(time.time()), "edit_date": int(time.time()),
                   "chat": self._chat(key[0], "private" if key[0] > 0 else "supergroup"),
                   "text": params.get("text")}
        if markup:
            message["reply_markup"] = markup
        return self._ok(message)

    async def _m_deleteMessage(self, params: dict[str, Any], call: ApiCall) -> JSONResponse:
        with self._lock:
            self.messages.pop((int(params["chat_id"]), int(params["message_id"])), None)
        return self._ok(True)

    async def _m_sendVideo(self, params: dict[str, Any], call: ApiCall) -> JSONResponse:
        data = call.upload("video")
        if data is None:
            return self._error(400, "Bad Request: there is no video in the request")
        if len(data) > 50 * 1024 * 1024:
            return self._error(413, "Request Entity Too Large")
        video = {"file_id": f"video{len(self.calls)}", "file_unique_id": f"v{len(self.calls)}",
                 "width": int(params.get("width") or 0), "height": int(params.get("height") or 0),
                 "duration": int(params.get("duration") or 0), "file_size": len(data),
                 "mime_type": "video/mp4"}
        content: dict[str, Any] = {"video": video}
        if params.get("caption"):
            content["caption"] = params["caption"]
        return self._ok(self._bot_message(int(params["chat_id"]), **content))
