"""The composition root: one ASGI app = the HTTP API + the web UI at ``/`` + the Telegram webhook.

Its lifespan starts and stops the ``Appliance`` (render slots, maintenance) and the Telegram
frontend, so ``uvicorn frontends.server:...`` or ``appliance serve`` is the whole appliance in
one process. Route order matters: the API and the webhook are added before the Gradio app is
mounted at ``/``, which takes every path nobody else claimed.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import FastAPI

from appliance.config import Settings
from appliance.service import Appliance
from frontends.api import Draining, install_api

log = logging.getLogger(__name__)

API_DESCRIPTION = """Turn a math problem into a short explanatory Manim video.

Submit with `POST /api/jobs`, follow with `GET /api/jobs/{job_id}/events` (server-sent events) or by
polling `GET /api/jobs/{job_id}`, and fetch `video_url` once the job is ready. Videos are deleted
after delivery; only metadata is kept. Errors are `{"error": {"code", "message"}}` with stable codes.
"""


def _load_telegram(appliance: Appliance, settings: Settings) -> Any:
    """The Telegram frontend when a bot token is set; None when it is off or not installed."""
    if not settings.telegram_bot_token:
        return None
    try:
        from frontends.telegram import TelegramFrontend
    except ImportError as exc:
        log.error("TELEGRAM_BOT_TOKEN is set but the Telegram frontend cannot be loaded: %s", exc)
        return None
    return TelegramFrontend(appliance, settings)


def create_app(
    settings: Settings,
    appliance: Appliance | None = None,
    telegram: Any = None,
    *,
    draining: Draining | None = None,
) -> FastAPI:
    """The appliance's ASGI application. ``telegram`` defaults to the real frontend when
    ``TELEGRAM_BOT_TOKEN`` is set; pass one to use a stand-in."""
    appliance = appliance or Appliance(settings)
    if settings.web_auth and not settings.api_token:
        log.warning("APPLIANCE_WEB_AUTH protects the web page only: set APPLIANCE_API_TOKEN to protect /api too")
    telegram = telegram if telegram is not None else _load_telegram(appliance, settings)
    draining = draining or Draining()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await appliance.start()
        telegram_started = False
        try:
            if telegram is not None:
                try:
                    await telegram.start()
                    telegram_started = True
                except Exception:
                    # The web UI and the API are still useful; the log says what is wrong.
                    log.exception("the Telegram bot could not start; serving without it")
            log.info("serving at %s (web UI at /, API docs at /docs)", settings.base_url)
            yield
        finally:
            draining.begin()
            if telegram_started:
                try:
                    await telegram.stop()
                except Exception:
                    log.exception("the Telegram bot did not stop cleanly")
            await appliance.stop()
            log.info("stopped")

    app = FastAPI(
        title="Manim Appliance",
        version="1",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.appliance = appliance
    app.state.draining = draining
    app.state.telegram = telegram
    install_api(app, appliance, settings, draining)

    if telegram is not None:
        router = telegram.webhook_router()
        if router is not None:
            app.include_router(router)

    if settings.web_ui:
        import gradio as gr

        from frontends.web import build_ui, mount_options

        blocks = build_ui(appliance, settings, draining=draining)
        gr.mount_gradio_app(app, blocks, path="/", server_name=settings.host, server_port=settings.port,
                            **mount_options(settings))
    return app


class _Server(uvicorn.Server):
    """uvicorn's server, telling long-lived streams to end as soon as a signal arrives, so
    the graceful shutdown waits for real requests, not for event streams that never end."""

    def __init__(self, config: uvicorn.Config, draining: Draining) -> None:
        super().__init__(config)
        self._draining = draining

    def handle_exit(self, sig: int, frame: Any) -> None:
        self._draining.begin()
        super().handle_exit(sig, frame)
        # uvicorn re-raises the signal after its graceful shutdown, so the process would end
        # "killed by SIGTERM" (143). A stop on request that completed is a clean exit: 0.
        captured = getattr(self, "_captured_signals", None)
        if isinstance(captured, list):
            captured.clear()


def serve(
    settings: Settings, host: str | None = None, port: int | None = None, appliance: Appliance | None = None
) -> None:
    """Run the appliance until SIGTERM or Ctrl-C, then shut down gracefully.

    ``appliance`` is for tests that bring their own parts; it must be built from settings with
    the same host and port (its video URLs are made from them)."""
    settings = settings.replace(host=host or settings.host, port=port or settings.port)
    _configure_logging(settings.log_level)
    draining = Draining()
    app = create_app(settings, appliance=appliance, draining=draining)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        lifespan="on",
        # Open requests get this long to finish on SIGTERM; then the lifespan stops the
        # appliance, whose render slots get shutdown_grace_s of their own.
        timeout_graceful_shutdown=max(1, settings.shutdown_grace_s),
        proxy_headers=True,
        server_header=False,
        ws="none",
    )
    log.info("Manim Appliance on http://%s:%d", settings.host, settings.port)
    _Server(config, draining).run()


def _configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ("appliance", "frontends"):
        logging.getLogger(name).setLevel(level.upper())
