"""The server: one ASGI app = the HTTP API + the web UI at ``/`` + the Telegram webhook.

Its lifespan starts and stops the ``Appliance`` (render slots, maintenance) and the Telegram
frontend, so ``uvicorn frontends.server:...`` or ``appliance serve`` is the whole appliance in
one process (the appliance itself comes from ``appliance.assemble.build_appliance``). This is
the one module that imports every frontend. Route order matters: the API and the webhook are
added before the Gradio app is mounted at ``/``, which takes every path nobody else claimed.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import AsyncIterator
from types import FrameType
from typing import Any, Protocol

import uvicorn
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from appliance.admission import exposure_warning
from appliance.assemble import build_appliance
from appliance.config import Settings
from appliance.service import Appliance
from frontends.api import install_api
from frontends.telegram import TelegramFrontend

log = logging.getLogger(__name__)

API_DESCRIPTION = """Turn a math problem into a short explanatory Manim video.

Submit with `POST /api/jobs`, follow with `GET /api/jobs/{job_id}/events` (server-sent events) or by
polling `GET /api/jobs/{job_id}`, and fetch `video_url` once the job is ready. Videos are deleted
after delivery; only metadata is kept. Errors are `{"error": {"code", "message"}}` with stable codes.
"""


class Draining:
    """Set when the server starts to shut down, so long-lived streams (SSE, the web page's
    job updates) end at once instead of holding uvicorn's graceful shutdown open until its
    timeout. Thread-safe (set from a signal handler); the frontends get ``is_set``."""

    def __init__(self) -> None:
        self._flag = threading.Event()

    def begin(self) -> None:
        self._flag.set()

    def is_set(self) -> bool:
        return self._flag.is_set()


class ChatFrontend(Protocol):
    """A frontend with a life of its own beside the HTTP server: the Telegram bot (or a stand-in)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def webhook_router(self) -> APIRouter | None: ...


def create_app(
    settings: Settings,
    appliance: Appliance | None = None,
    telegram: ChatFrontend | None = None,
    *,
    draining: Draining | None = None,
) -> FastAPI:
    """The appliance's ASGI application. ``telegram`` defaults to the real frontend when
    ``TELEGRAM_BOT_TOKEN`` is set; pass one to use a stand-in."""
    appliance = appliance or build_appliance(settings)
    exposed = exposure_warning(settings)
    if exposed:
        log.warning("%s", exposed)
    if settings.web_auth and not settings.api_token:
        log.warning("APPLIANCE_WEB_AUTH protects the web page only: set APPLIANCE_API_TOKEN to protect /api too")
    if telegram is None and settings.telegram_bot_token:
        telegram = TelegramFrontend(appliance, settings)
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
            if telegram_started and telegram is not None:
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
        docs_url=None,  # served below, from the appliance's own copy of Swagger UI
        redoc_url=None,
    )
    install_offline_docs(app)
    app.state.appliance = appliance
    app.state.draining = draining
    app.state.telegram = telegram
    install_api(app, appliance, settings, draining.is_set)

    if telegram is not None:
        router = telegram.webhook_router()
        if router is not None:
            app.include_router(router)

    if settings.web_ui:
        # Gradio takes about 7 s to import: a server without the web page (and every restart of
        # one, and the tests that restart it) does not pay for it.
        import gradio as gr

        from frontends.web import build_ui, mount_options

        blocks = build_ui(appliance, settings, stopping=draining.is_set)
        gr.mount_gradio_app(app, blocks, path="/", server_name=settings.host, server_port=settings.port,
                            **mount_options(settings))
    return app


DOCS_ASSETS = "/docs-assets"


def install_offline_docs(app: FastAPI) -> None:
    """``/docs`` with Swagger UI's files served from here (the swagger-ui-bundle package), not
    from a CDN: an appliance without internet access still shows its API documentation."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=swagger_ui_path), name="docs-assets")

    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title}: API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js", swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png")

    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)


class _Server(uvicorn.Server):
    """uvicorn's server, telling long-lived streams to end as soon as a signal arrives, so
    the graceful shutdown waits for real requests, not for event streams that never end."""

    def __init__(self, config: uvicorn.Config, draining: Draining) -> None:
        super().__init__(config)
        self._draining = draining

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._draining.begin()
        super().handle_exit(sig, frame)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _stopped_on_request(sig: int, frame: FrameType | None) -> None:
    """The stop signal, replayed by uvicorn once its graceful shutdown is done: nothing left to do."""
    log.debug("signal %d handled: the server has stopped", sig)


def _run(server: uvicorn.Server) -> None:
    """``server.run()``, ending with exit status 0 when a signal stopped it gracefully.

    uvicorn (since 0.29, "cooperative signal handling", Kludex/uvicorn#1600) replays the
    signal that stopped it into the handlers it found when it started, so the process would
    end "killed by SIGTERM" (143). The handlers it finds are these: a stop on request that
    completed is a clean exit. The previous handlers come back afterwards.
    """
    if threading.current_thread() is not threading.main_thread():
        server.run()  # signals are the main thread's; uvicorn does not listen for them here either
        return
    previous = {sig: signal.signal(sig, _stopped_on_request) for sig in STOP_SIGNALS}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


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
        **proxy_options(settings),
        server_header=False,
        ws="none",
    )
    log.info("Manim Appliance on http://%s:%d", settings.host, settings.port)
    _run(_Server(config, draining))


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's X-Forwarded-For and X-Forwarded-Proto handling, trusting exactly the proxies
    the per-client limits trust (APPLIANCE_TRUSTED_PROXIES), so both see the same client."""
    trusted = [str(network) for network in settings.trusted_proxies]
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted}


def _configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ("appliance", "frontends"):
        logging.getLogger(name).setLevel(level.upper())
