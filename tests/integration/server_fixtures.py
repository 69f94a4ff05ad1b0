"""The whole server (API, web UI, webhook) on a real uvicorn, in a thread, on a free 127.0.0.1 port.

No conftest: import what you need.

    from tests.integration import server_fixtures
    live_server = server_fixtures.live_server   # the pytest fixture, usable in this module

    def test_something(live_server, tmp_path):
        server = live_server(lambda settings: build_appliance(settings, source=..., renderer=...))
        httpx.get(server.url("/healthz"))

The port is bound before the settings are made, so ``settings.base_url`` (which local
storage uses for video URLs) is the address the server really answers on, and the socket is
handed to uvicorn: no window in which another process could take the port.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from appliance.assemble import build_appliance
from appliance.config import Settings
from appliance.service import Appliance
from frontends.server import create_app, proxy_options


@dataclass
class LiveServer:
    base_url: str
    settings: Settings
    appliance: Appliance
    app: Any
    server: uvicorn.Server

    def url(self, path: str) -> str:
        return self.base_url + path


def bound_socket(host: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    return sock


def make_settings(data_dir: Path, port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir, "host": "127.0.0.1", "port": port, "warm_pool_size": 0,
        "render_quality": "low", "log_level": "warning",
    }
    values.update(overrides)
    return Settings.from_env({}, **values)


@contextlib.contextmanager
def serve_app(
    app: Any, sock: socket.socket, timeout_s: float = 60.0, settings: Settings | None = None
) -> Iterator[uvicorn.Server]:
    """Run ``app`` on ``sock`` until the block ends (its lifespan runs at both ends). With
    ``settings``, uvicorn trusts the proxies they name, as ``appliance serve`` does."""
    options = proxy_options(settings) if settings is not None else {}
    config = uvicorn.Config(app, lifespan="on", log_level="warning", timeout_graceful_shutdown=5, ws="none",
                            **options)
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # surfaced to the test below
            failure.append(exc)

    thread = threading.Thread(target=run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if failure or not thread.is_alive():
            raise RuntimeError(f"the server did not start: {failure[0] if failure else 'exited'}")
        if time.monotonic() > deadline:
            raise TimeoutError("the server did not start in time")
        time.sleep(0.05)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout_s)
        sock.close()


@contextlib.contextmanager
def running_server(
    data_dir: Path,
    make_appliance: Callable[[Settings], Appliance] | None = None,
    telegram: Any = None,
    **overrides: Any,
) -> Iterator[LiveServer]:
    """Settings on a free port, an Appliance (real by default), ``create_app``, uvicorn."""
    sock = bound_socket()
    port = sock.getsockname()[1]
    settings = make_settings(data_dir, port, **overrides)
    appliance = make_appliance(settings) if make_appliance else build_appliance(settings)
    app = create_app(settings, appliance=appliance, telegram=telegram)
    with serve_app(app, sock, settings=settings) as server:
        yield LiveServer(f"http://127.0.0.1:{port}", settings, appliance, app, server)


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """A factory: ``live_server(make_appliance=None, telegram=None, **settings)`` -> LiveServer,
    stopped at the end of the test. Each call gets its own data directory and port."""
    stack = contextlib.ExitStack()
    count = 0

    def start(make_appliance: Callable[[Settings], Appliance] | None = None, telegram: Any = None,
              **overrides: Any) -> LiveServer:
        nonlocal count
        count += 1
        data_dir = overrides.pop("data_dir", tmp_path / f"server{count}")
        return stack.enter_context(running_server(data_dir, make_appliance, telegram, **overrides))

    with stack:
        yield start
