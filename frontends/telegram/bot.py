"""``TelegramFrontend``: the python-telegram-bot application, in polling or webhook mode.

    frontend = TelegramFrontend(appliance, settings)      # needs TELEGRAM_BOT_TOKEN
    app.include_router(frontend.webhook_router())         # webhook mode only (else None)
    await frontend.start()  ...  await frontend.stop()    # in the server's lifespan

Polling (the default) needs no public URL: the updater long-polls ``getUpdates`` (its
start-up deletes any webhook first). Webhook mode builds the application without an
updater, registers ``APPLIANCE_TELEGRAM_WEBHOOK_URL`` with ``set_webhook`` and the
secret, and receives updates through the FastAPI route of ``webhook.py``.

If Telegram cannot be reached at start-up the rest of the appliance still starts and
the bot keeps trying in the background; ``health()`` says how it is doing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any, Literal

from fastapi import APIRouter
from telegram import BotCommand, Update
from telegram.ext import Application, ApplicationBuilder, BaseRateLimiter
from telegram.request import HTTPXRequest

from appliance.config import Settings
from appliance.errors import ConfigError
from appliance.service import Appliance
from frontends.telegram.delivery import TELEGRAM_UPLOAD_LIMIT_BYTES
from frontends.telegram.errors import Fault, TelegramError, classify
from frontends.telegram.handlers import COMMANDS, Handlers
from frontends.telegram.progress import ChatThrottle
from frontends.telegram.ratelimit import PeopleFirst, PriorityRateLimiter
from frontends.telegram.texts import DEFAULT_LANGUAGE, LANGUAGES, t
from frontends.telegram.tracking import INFLIGHT_FILE, JobTracker
from frontends.telegram.webhook import WebhookCounts, make_router, webhook_secret

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY]
POLL_TIMEOUT_S = 30  # long-poll length: one getUpdates call open at a time
START_RETRY_MAX_S = 60.0
StartOutcome = Literal["started", "off", "unreachable"]


def file_base_url(api_base: str) -> str:
    """https://api.telegram.org/bot -> https://api.telegram.org/file/bot (same for a local server)."""
    head, sep, tail = api_base.rstrip("/").rpartition("/")
    return f"{head}/file/{tail}" if sep else api_base


class TelegramFrontend:
    def __init__(
        self,
        appliance: Appliance,
        settings: Settings,
        *,
        max_upload_bytes: int = TELEGRAM_UPLOAD_LIMIT_BYTES,
        rate_limiter: BaseRateLimiter[Any] | None = None,
        edit_interval_s: float = 1.5,
        send_retry_delays_s: Sequence[float] = (2.0, 5.0),
        poll_timeout_s: int = POLL_TIMEOUT_S,
    ) -> None:
        if not settings.telegram_bot_token:
            raise ConfigError("TELEGRAM_BOT_TOKEN is not set: the Telegram bot is off")
        self.appliance = appliance
        self.settings = settings
        self.mode = settings.telegram_mode
        self.poll_timeout_s = poll_timeout_s
        self._secret = webhook_secret(settings) if self.mode == "webhook" else None
        self.people_first = PeopleFirst()
        self.application = self._build(rate_limiter)
        self.throttle = ChatThrottle(private_interval_s=edit_interval_s, group_interval_s=2 * edit_interval_s)
        self.tracker = JobTracker(
            appliance, lambda: self.application.bot, self.throttle,
            inflight_path=settings.data_dir / INFLIGHT_FILE, max_upload_bytes=max_upload_bytes,
            send_retry_delays_s=send_retry_delays_s, people_first=self.people_first,
        )
        self.handlers = Handlers(appliance, settings, self.tracker, self.throttle, self.people_first)
        self.handlers.register(self.application)
        self.accepting_updates = False
        self.webhook_counts = WebhookCounts()
        self._error: str | None = None
        self._start_task: asyncio.Task[None] | None = None
        self._router: APIRouter | None = None

    def _build(self, rate_limiter: BaseRateLimiter[Any] | None) -> Application[Any, Any, Any, Any, Any, Any]:
        token = self.settings.telegram_bot_token
        assert token
        api_base = self.settings.telegram_api_base
        # Uploads get their own long write timeout; the pool is large enough that progress
        # edits for many chats never wait for a connection.
        request = HTTPXRequest(connection_pool_size=64, connect_timeout=10.0, read_timeout=30.0,
                               write_timeout=30.0, pool_timeout=30.0, media_write_timeout=600.0)
        # getUpdates holds its connection for the whole long poll: a pool of its own.
        updates_request = HTTPXRequest(connection_pool_size=2, connect_timeout=10.0, read_timeout=10.0,
                                       pool_timeout=10.0)
        builder = (
            ApplicationBuilder()
            .token(token)
            .base_url(api_base)
            .base_file_url(file_base_url(api_base))
            .request(request)
            .get_updates_request(updates_request)
            .rate_limiter(rate_limiter or PriorityRateLimiter(self.people_first))
            .concurrent_updates(True)
            .job_queue(None)
        )
        if self.mode == "webhook":
            builder = builder.updater(None)
        return builder.build()

    # -- the web server's part -------------------------------------------------------------

    def webhook_router(self) -> APIRouter | None:
        """``POST /telegram/webhook`` in webhook mode; None in polling mode."""
        if self.mode != "webhook" or self._secret is None:
            return None
        if self._router is None:
            self._router = make_router(self.application, self._secret, lambda: self.accepting_updates,
                                       self.webhook_counts)
        return self._router

    @property
    def webhook_accepted(self) -> int:
        return self.webhook_counts.accepted

    @property
    def webhook_refused(self) -> int:
        return self.webhook_counts.refused

    def health(self) -> dict[str, Any]:
        """For readiness: is the bot talking to Telegram?"""
        ok = self.accepting_updates and self._error is None
        info: dict[str, Any] = {"ok": ok, "mode": self.mode, "following": len(self.tracker.following)}
        if self._error:
            info["error"] = self._error
        return info

    # -- life ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect to Telegram and start receiving updates. Never raises for a Telegram
        outage: it retries in the background. An invalid token is logged and leaves the bot off."""
        if await self._try_start() == "unreachable":
            log.warning("%s; retrying in the background", self._error)
            self._start_task = asyncio.create_task(self._keep_trying(), name="telegram-start")

    async def _keep_trying(self) -> None:
        delay = 2.0
        while True:
            await asyncio.sleep(delay)
            outcome = await self._try_start()
            if outcome == "started":
                log.info("Telegram bot connected")
            if outcome != "unreachable":
                return
            delay = min(delay * 2, START_RETRY_MAX_S)

    async def _try_start(self) -> StartOutcome:
        """One start: ``started``, ``off`` (the token was refused) or ``unreachable`` (try again).
        Other failures are raised."""
        try:
            await self._start_once()
            return "started"
        except TelegramError as exc:
            failure = classify(exc)
            if failure.fault is Fault.INVALID_TOKEN:
                self._error = f"Telegram rejected TELEGRAM_BOT_TOKEN: {exc}"
                log.error("%s; the Telegram bot stays off", self._error)
                return "off"
            if not failure.network_error:
                raise
            self._error = f"Telegram is unreachable: {exc}"
        except OSError as exc:
            self._error = f"Telegram is unreachable: {exc}"
        return "unreachable"

    async def _start_once(self) -> None:
        app = self.application
        try:
            await app.initialize()  # getMe: checks the token and learns the bot's username
        except BaseException:
            with contextlib.suppress(Exception):
                await app.shutdown()
            raise
        await self._set_commands()
        if not app.running:  # a retry after a failed start may find it running already
            await app.start()
        if self.mode == "webhook":
            assert self._secret is not None and self.settings.telegram_webhook_url
            # Accept before registering: Telegram may call as soon as set_webhook returns.
            self.accepting_updates = True
            await app.bot.set_webhook(self.settings.telegram_webhook_url, secret_token=self._secret,
                                      allowed_updates=ALLOWED_UPDATES)
        else:
            assert app.updater is not None
            if not app.updater.running:
                await app.updater.start_polling(timeout=self.poll_timeout_s, allowed_updates=ALLOWED_UPDATES,
                                                error_callback=self._polling_error)
            self.accepting_updates = True
        self._error = None
        await self.tracker.reattach()
        log.info("Telegram bot @%s started (%s)", app.bot.username, self.mode)

    def _polling_error(self, error: TelegramError) -> None:
        # The updater retries by itself; one line instead of a traceback per failed poll.
        log.warning("Telegram polling: %s", error)

    async def _set_commands(self) -> None:
        """The command menu in every language the bot speaks (best effort)."""
        bot = self.application.bot
        for lang in LANGUAGES:
            commands = [BotCommand(name, t(lang, f"cmd_{name}")) for name in COMMANDS]
            try:
                await bot.set_my_commands(commands, language_code=None if lang == DEFAULT_LANGUAGE else lang)
            except TelegramError as exc:
                log.info("could not set the %s command menu: %s", lang, exc)
                return

    async def stop(self) -> None:
        """Stop receiving, stop following jobs (they are picked up again at the next start),
        and close the connections. The webhook stays registered: Telegram keeps the updates
        that arrive meanwhile and sends them once the appliance is back."""
        self.accepting_updates = False
        if self._start_task is not None:
            self._start_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._start_task
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        await self.tracker.stop()
        if app.running:
            await app.stop()
        await app.shutdown()


def telegram_frontend(appliance: Appliance, settings: Settings) -> TelegramFrontend | None:
    """The bot, or None when no token is set (the bot is off)."""
    if not settings.telegram_bot_token:
        log.info("TELEGRAM_BOT_TOKEN is not set: the Telegram bot is off")
        return None
    return TelegramFrontend(appliance, settings)
