"""What the server tells strangers and how much a stranger can make it do (issue 14, findings 8
and 9): /readyz checked once per interval however often it is asked, its details only for this
machine or the token's holder, /metrics behind the token, foreign Host headers refused on a
loopback install, and a cap on the long-lived streams one client holds.

A real uvicorn on 127.0.0.1. A stranger is a request that the default trusted proxy (127.0.0.1)
forwarded for another address: the server sees it as that address.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import httpx

from appliance.assemble import build_appliance
from appliance.service import Appliance
from tests.integration import server_fixtures
from tests.unit.fakes import FakeGenerator, FakeSandbox

live_server = server_fixtures.live_server
PROBLEM = "Solve 2x + 3 = 11"
STRANGER = {"X-Forwarded-For": "203.0.113.7"}
TOKEN = "s3cret-token"


class CountingSandbox(FakeSandbox):
    """A sandbox whose image check (what /readyz asks Docker) is counted, held until released,
    and watched for overlap."""

    def __init__(self, release: threading.Event | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.release = release
        self.calls = 0
        self.in_flight = 0
        self.most_in_flight = 0
        self.called = threading.Event()
        self._lock = threading.Lock()

    def check_image(self) -> None:
        with self._lock:
            self.calls += 1
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        self.called.set()
        try:
            if self.release is not None:
                self.release.wait(30)
        finally:
            with self._lock:
                self.in_flight -= 1


def appliance_with(sandbox: Any, **kwargs: Any) -> Any:
    def make(settings: Any) -> Appliance:
        return build_appliance(settings, source=FakeGenerator(), renderer=sandbox, run_maintenance=False, **kwargs)

    return make


def test_a_flood_of_readyz_runs_one_check_at_a_time_at_most_once_an_interval(live_server):
    release = threading.Event()
    sandbox = CountingSandbox(release)
    server = live_server(appliance_with(sandbox, run_workers=False))
    from frontends.api import READINESS_INTERVAL_S

    async def flood() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60, limits=limits) as client:
            requests = [asyncio.create_task(client.get("/readyz", headers=STRANGER)) for _ in range(200)]
            # The first check is under way and held: every other request arrives while it runs.
            await asyncio.to_thread(sandbox.called.wait, 30)
            release.set()
            return await asyncio.gather(*requests)

    started = time.monotonic()
    answers = asyncio.run(flood())
    elapsed = time.monotonic() - started
    assert [answer.status_code for answer in answers] == [200] * 200
    assert sandbox.most_in_flight == 1
    assert 1 <= sandbox.calls <= 1 + int(elapsed // READINESS_INTERVAL_S), (sandbox.calls, elapsed)


def test_a_stranger_learns_which_parts_are_ok_but_not_how_the_appliance_is_set_up(live_server):
    server = live_server(appliance_with(FakeSandbox(), run_workers=False), api_token=TOKEN)
    local = httpx.get(server.url("/readyz"), timeout=30)
    stranger = httpx.get(server.url("/readyz"), headers=STRANGER, timeout=30)
    holder = httpx.get(server.url("/readyz"), headers={**STRANGER, "Authorization": f"Bearer {TOKEN}"}, timeout=30)

    for answer in (local, stranger, holder):
        assert answer.status_code == 200 and answer.json()["ready"] is True
    # This machine and the token's holder see the set-up ...
    for answer in (local, holder):
        assert "openai/fake" in answer.text and server.settings.sandbox_image in answer.text
    # ... anyone else only which components are ok.
    body = stranger.json()
    assert set(body["checks"]) == set(local.json()["checks"])
    assert all(check == {"ok": True} for check in body["checks"].values()), body
    for detail in ("openai/fake", server.settings.sandbox_image, "builtin", "backend"):
        assert detail not in stranger.text, detail


def test_a_failing_component_is_named_to_strangers_without_its_error_text(live_server):
    class NoDocker(FakeSandbox):
        def check_image(self) -> None:
            from appliance.errors import SandboxUnavailable
            raise SandboxUnavailable("cannot reach the Docker engine at tcp://10.1.2.3:2376")

    server = live_server(appliance_with(NoDocker(), run_workers=False))
    stranger = httpx.get(server.url("/readyz"), headers=STRANGER, timeout=30)
    assert stranger.status_code == 503
    body = stranger.json()
    assert body["checks"]["docker"] == {"ok": False} and body["error"]["code"] == "not_ready"
    assert "10.1.2.3" not in stranger.text
    assert "10.1.2.3" in httpx.get(server.url("/readyz"), timeout=30).text  # the operator, on the machine


def test_metrics_need_the_api_token_when_one_is_set(live_server):
    server = live_server(appliance_with(FakeSandbox(), run_workers=False), api_token=TOKEN)
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        refused = httpx.get(server.url("/metrics"), headers=headers, timeout=10)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
        assert "appliance_" not in refused.text
    allowed = httpx.get(server.url("/metrics"), headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert allowed.status_code == 200 and "appliance_jobs_submitted_total" in allowed.text

    open_server = live_server(appliance_with(FakeSandbox(), run_workers=False))
    assert httpx.get(open_server.url("/metrics"), timeout=10).status_code == 200  # no token: as before


def raw_get(port: int, path: str, host: str) -> str:
    """A request with exactly this Host header, as a browser tricked by DNS rebinding sends it."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode("latin-1")


def test_a_loopback_install_answers_only_to_its_own_names(live_server):
    server = live_server(appliance_with(FakeSandbox(), run_workers=False), web_ui=False,
                         allowed_hosts=("video.example.org",))
    port = server.settings.port
    for path in ("/healthz", "/api/jobs/00000000-0000-4000-8000-000000000000", "/readyz", "/metrics"):
        for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example"):
            answer = raw_get(port, path, host)
            assert answer.startswith("HTTP/1.1 400"), (path, host, answer[:200])
            assert '"unknown_host"' in answer
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "LOCALHOST", f"[::1]:{port}", "video.example.org"):
        assert raw_get(port, "/healthz", host).startswith("HTTP/1.1 200"), host
    # A POST from the rebinding page is refused before anything is queued.
    assert httpx.post(server.url("/api/jobs"), json={"problem_text": PROBLEM},
                      headers={"Host": "evil.example"}, timeout=10).status_code == 400
    assert server.appliance.store.queue_length() == 0


def test_the_web_page_is_guarded_by_the_host_check_too(live_server):
    server = live_server(appliance_with(FakeSandbox(), run_workers=False))
    port = server.settings.port
    assert raw_get(port, "/", "evil.example").startswith("HTTP/1.1 400")
    assert raw_get(port, "/", f"127.0.0.1:{port}").startswith("HTTP/1.1 200")


def test_one_client_holds_at_most_its_share_of_event_streams(live_server):
    hold = threading.Event()
    server = live_server(appliance_with(FakeSandbox(hold=hold)), render_slots=1, max_streams_per_client=2,
                         web_ui=False)
    client = httpx.Client(base_url=server.base_url, timeout=30, headers=STRANGER)
    other = httpx.Client(base_url=server.base_url, timeout=30, headers={"X-Forwarded-For": "198.51.100.9"})
    try:
        accepted = client.post("/api/jobs", json={"problem_text": PROBLEM}).json()
        job_id = accepted["job_id"]
        # The job's key (its routes answer only its owner) is held by both addresses.
        for each in (client, other):
            each.headers["X-Job-Token"] = accepted["job_token"]
        path = f"/api/jobs/{job_id}/events"
        with client.stream("GET", path) as first, client.stream("GET", path) as second:
            assert first.status_code == 200 and second.status_code == 200
            # Both really open. The line readers are kept: a dropped one is closed at once, and
            # closing it closes its response, which let the server free the slot before the
            # third request (the cause of this test's failures in CI).
            first_lines, second_lines = first.iter_lines(), second.iter_lines()
            next(first_lines)
            next(second_lines)
            refused = client.get(path)
            assert refused.status_code == 429, f"a third stream was served: {refused.text[-400:]!r}"
            assert refused.json()["error"]["code"] == "client_stream_limit"
            with other.stream("GET", path) as theirs:  # someone else is not affected
                assert theirs.status_code == 200
        # Closed streams are given back (the server notices the close a moment later).
        deadline = time.monotonic() + 30
        while True:
            with client.stream("GET", path) as again:
                if again.status_code == 200:
                    break
            assert time.monotonic() < deadline, "the closed streams were never given back"
            time.sleep(0.1)
    finally:
        hold.set()
        client.close()
        other.close()
