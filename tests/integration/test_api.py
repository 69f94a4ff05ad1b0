"""The HTTP API on a real uvicorn server on 127.0.0.1, with in-process generator and sandbox
stand-ins (the store, the queue, the worker, local storage and signed URLs are real).

The same life against the real Docker sandbox and the built-in solver is test_api_docker.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from appliance.assemble import build_appliance
from appliance.contracts import SubtitleCue, VoiceRequest
from appliance.errors import SandboxImageMissing
from appliance.fakes import FAKE_STEPS
from appliance.service import Appliance
from tests.integration import server_fixtures
from tests.integration.job_owner import OwnerClient
from tests.unit.fakes import GOOD_CODE, FakeGenerator, FakeSandbox

PROBLEM = "Solve 2x + 3 = 11"
live_server = server_fixtures.live_server  # the fixture, for the tests below


def fake_appliance(sandbox: Any = None, **kwargs: Any) -> Any:
    def make(settings: Any) -> Appliance:
        return build_appliance(settings, source=FakeGenerator(), renderer=sandbox or FakeSandbox(),
                               run_maintenance=False, **kwargs)

    return make


def events(client: httpx.Client, job_id: str, timeout: float = 30.0) -> Iterator[dict[str, Any]]:
    """Read a job's server-sent events as they come, with a real streaming HTTP client."""
    with client.stream("GET", f"/api/jobs/{job_id}/events", timeout=timeout) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data:"):
                yield json.loads(line[5:])


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["message"], body
    return body["error"]


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_a_job_lives_through_the_api_and_its_event_stream(live_server):
    hold = threading.Event()
    server = live_server(fake_appliance(FakeSandbox(hold=hold)), render_slots=1)
    client = OwnerClient(base_url=server.base_url, timeout=10)

    accepted = client.post("/api/jobs", json={"problem_text": PROBLEM, "quality": "low"})
    assert accepted.status_code == 202
    body = accepted.json()
    job_id = body["job_id"]
    assert body["status"] == "queued" and "line" in body["message"] and body["video_url"] is None
    assert body["session_id"] and accepted.headers["location"] == f"/api/jobs/{job_id}"

    seen: list[dict[str, Any]] = []
    release = threading.Timer(1.0, hold.set)  # let the stream see the job sit in RENDERING first
    release.start()
    for event in events(client, job_id):
        seen.append(event)
    statuses = [event["job_status"] for event in seen]
    assert statuses[-1] == "ready", statuses
    assert "rendering" in statuses and len(statuses) >= 2, statuses
    assert len(set(zip(statuses, [e["status_message"] for e in seen], strict=True))) == len(seen)
    ready = seen[-1]
    assert ready["status"] == "ready" and ready["video_url"] and ready["expires_at"]
    assert ready["answer_text"] == "x = 4" and ready["answer_check"] == "verified"
    assert ready["ai_provider_used"] == "openai" and ready["attempts"] == 1
    assert ready["manim_code"] is None  # only with ?include=code

    details = client.get(f"/api/jobs/{job_id}", params={"include": "code"}).json()
    assert details["job_status"] == "ready" and "class SolutionScene" in details["manim_code"]
    assert details["render_duration_seconds"] is not None and details["quality"] == "low"
    assert client.get(f"/api/jobs/{job_id}").json()["manim_code"] is None

    # The signed URL plays (with Range), and the first fetch counts as delivery.
    video_path = path_of(ready["video_url"])
    whole = client.get(video_path)
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert whole.content[4:8] == b"ftyp"
    part = client.get(video_path, headers={"Range": "bytes=0-7"})
    assert part.status_code == 206 and part.content == whole.content[:8]
    assert part.headers["content-range"].startswith("bytes 0-7/")
    after = client.get(f"/api/jobs/{job_id}").json()
    assert after["job_status"] == "delivered" and after["delivered_at"]
    assert after["video_url"]  # kept for the replay grace

    # Tampered and expired links are refused; after the client's confirmation the video is gone.
    query = parse_qs(urlsplit(ready["video_url"]).query)
    key = urlsplit(ready["video_url"]).path.rsplit("/", 1)[1]
    bad_sig = client.get(f"/videos/{key}", params={"expires": query["expires"][0], "sig": "0" * 64})
    assert bad_sig.status_code == 403 and error_of(bad_sig)["code"] == "signature_invalid"
    expired = client.get(f"/videos/{key}", params={"expires": "1000", "sig": query["sig"][0]})
    assert expired.status_code == 403 and error_of(expired)["code"] == "signature_invalid"
    assert client.get(f"/videos/{key}").status_code == 403

    # An API client that confirms the download has the video deleted at once.
    second = client.post("/api/jobs", json={"problem_text": "Solve 5x - 1 = 9", "session_token": body["session_token"]})
    second_ready = list(events(client, second.json()["job_id"]))[-1]
    assert second_ready["job_status"] == "ready" and second.json()["session_id"] == body["session_id"]
    confirmed = client.post(f"/api/jobs/{second_ready['job_id']}/delivered")
    assert confirmed.status_code == 200 and confirmed.json()["job_status"] == "delivered"
    assert confirmed.json()["video_url"] is None
    gone = client.get(path_of(second_ready["video_url"]))
    assert gone.status_code == 404 and error_of(gone)["code"] == "not_found"
    assert client.post(f"/api/jobs/{second_ready['job_id']}/delivered").status_code == 200  # idempotent

    # A finished job cannot be cancelled, and the event stream of a finished job ends at once.
    refused = client.delete(f"/api/jobs/{job_id}")
    assert refused.status_code == 409 and error_of(refused)["code"] == "not_cancellable"
    assert [e["job_status"] for e in events(client, job_id)] == ["delivered"]

    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert 'appliance_jobs_submitted_total{channel="api"} 2' in metrics.text


def test_the_session_is_kept_and_its_limits_apply(live_server):
    hold = threading.Event()
    server = live_server(fake_appliance(FakeSandbox(hold=hold)), render_slots=1,
                         max_active_jobs_per_session=1, max_submissions_per_hour=2,
                         max_submissions_per_client_per_hour=3)
    client = OwnerClient(base_url=server.base_url, timeout=10)
    try:
        first = client.post("/api/jobs", json={"problem_text": PROBLEM}).json()
        session_id, same_session = first["session_id"], {"X-Session-Token": first["session_token"]}
        busy = client.post("/api/jobs", json={"problem_text": "Solve 3x = 12 please"}, headers=same_session)
        assert busy.status_code == 429 and error_of(busy)["code"] == "active_limit"
        assert "limit" in error_of(busy)["message"]

        cancelled = client.delete(f"/api/jobs/{first['job_id']}")
        assert cancelled.status_code == 200 and cancelled.json()["cancel_requested"] is True
        hold.set()
        # A running job stops at its next step (the render in progress may still finish it).
        final = [e["job_status"] for e in events(client, first["job_id"])][-1]
        assert final in ("failed", "ready")

        second = client.post("/api/jobs", json={"problem_text": "Solve 3x = 12 please"}, headers=same_session)
        assert second.status_code == 202 and second.json()["session_id"] == session_id
        assert [e["job_status"] for e in events(client, second.json()["job_id"])][-1] == "ready"
        hourly = client.post("/api/jobs", json={"problem_text": "Solve 5x = 10 please", "session_id": session_id,
                                                "session_token": first["session_token"]})
        assert hourly.status_code == 429 and error_of(hourly)["code"] == "hourly_limit"

        # A new session has limits of its own, but the address's go on: leaving out session_id
        # does not buy a fresh allowance.
        other = client.post("/api/jobs", json={"problem_text": PROBLEM})
        assert other.status_code == 202 and other.json()["session_id"] != session_id
        again = client.post("/api/jobs", json={"problem_text": PROBLEM})
        assert again.status_code == 429 and error_of(again)["code"] == "client_hourly_limit"
    finally:
        hold.set()


def test_a_waiting_job_is_cancelled_at_once(live_server):
    server = live_server(fake_appliance(run_workers=False))
    client = OwnerClient(base_url=server.base_url, timeout=10)
    job_id = client.post("/api/jobs", json={"problem_text": PROBLEM}).json()["job_id"]
    queued = client.get(f"/api/jobs/{job_id}").json()
    assert queued["job_status"] == "queued" and queued["queue_position"] == 1
    cancelled = client.delete(f"/api/jobs/{job_id}")
    assert cancelled.status_code == 200
    assert cancelled.json()["job_status"] == "failed" and cancelled.json()["status_message"] == "Cancelled"
    again = client.delete(f"/api/jobs/{job_id}")
    assert again.status_code == 409 and error_of(again)["code"] == "not_cancellable"
    not_ready = client.post(f"/api/jobs/{job_id}/delivered")
    assert not_ready.status_code == 409 and error_of(not_ready)["code"] == "not_deliverable"


def test_each_error_has_its_stable_code(live_server):
    server = live_server(fake_appliance(run_workers=False), max_request_bytes=2048)
    client = OwnerClient(base_url=server.base_url, timeout=10)

    def post(**kwargs: Any) -> httpx.Response:
        return client.post("/api/jobs", **kwargs)

    short = post(json={"problem_text": "2+2"})
    assert short.status_code == 422
    assert error_of(short) | {} == error_of(short) and error_of(short)["code"] == "invalid_problem"
    assert error_of(short)["rule"] == "min_length" and "at least 10" in error_of(short)["message"]
    blank = post(json={"problem_text": "          "})
    assert blank.status_code == 422 and error_of(blank)["rule"] == "min_length"
    missing = post(json={"quality": "low"})
    assert missing.status_code == 422 and error_of(missing)["rule"] == "required"
    wrong_type = post(json={"problem_text": 42})
    assert wrong_type.status_code == 422 and error_of(wrong_type)["code"] == "invalid_problem"

    long_server = live_server(fake_appliance(run_workers=False))
    long = httpx.post(long_server.url("/api/jobs"), json={"problem_text": "x" * 5001})
    assert long.status_code == 422 and error_of(long)["rule"] == "max_length"
    assert "at most 5000" in error_of(long)["message"]

    bad_quality = post(json={"problem_text": PROBLEM, "quality": "ultra"})
    assert bad_quality.status_code == 422 and error_of(bad_quality)["code"] == "invalid_request"
    assert error_of(bad_quality)["field"] == "quality"

    for content in (b"{not json", b'{"problem_text": "Solve 2x + 3 = 11"', b""):
        malformed = post(content=content, headers={"Content-Type": "application/json"})
        assert malformed.status_code == 400 and error_of(malformed)["code"] == "malformed_body", content
    not_object = post(json=["Solve 2x + 3 = 11"])
    assert not_object.status_code == 400 and error_of(not_object)["code"] == "malformed_body"

    too_big = post(json={"problem_text": "y" * 4000})
    assert too_big.status_code == 413 and error_of(too_big)["code"] == "payload_too_large"
    chunked = post(content=iter([b'{"problem_text": "', b"z" * 3000, b'"}']),
                   headers={"Content-Type": "application/json"})
    assert chunked.status_code == 413 and error_of(chunked)["code"] == "payload_too_large"

    for path in ("/api/jobs/00000000-0000-4000-8000-000000000000", "/api/jobs/not-a-uuid",
                 "/api/jobs/00000000-0000-4000-8000-000000000000/events"):
        missing_job = client.get(path)
        assert missing_job.status_code == 404 and error_of(missing_job)["code"] == "not_found", path
    for method in ("DELETE", "POST"):
        path = "/api/jobs/00000000-0000-4000-8000-000000000000" + ("/delivered" if method == "POST" else "")
        assert error_of(client.request(method, path))["code"] == "not_found"
    fake_video = client.get("/videos/00000000-0000-4000-8000-000000000000-" + "0" * 32 + ".mp4",
                            params={"expires": "9999999999", "sig": "f" * 64})
    assert fake_video.status_code == 403 and error_of(fake_video)["code"] == "signature_invalid"

    wrong_method = client.put("/api/jobs")
    assert wrong_method.status_code == 405 and error_of(wrong_method)["code"] == "method_not_allowed"

    assert client.get("/healthz").json() == {"status": "ok"}
    assert server.appliance.store.queue_length() == 0  # nothing refused was queued


SURROGATE_SENTENCE = "The problem contains a character that is not valid text (U+D800) at position 7."


def test_invalid_text_is_refused_at_the_door_and_other_jobs_stay_readable(live_server):
    server = live_server(fake_appliance(run_workers=False))
    client = OwnerClient(base_url=server.base_url, timeout=10)
    json_headers = {"Content-Type": "application/json"}

    # A lone surrogate can only arrive as a JSON escape (a Python str holding one cannot be encoded).
    refused = client.post("/api/jobs", content=b'{"problem_text": "Solve \\ud800 2x + 3 = 11"}', headers=json_headers)
    assert refused.status_code == 422, refused.text
    error = error_of(refused)
    assert (error["code"], error["rule"], error["field"]) == ("invalid_problem", "invalid_text", "problem_text")
    assert error["message"] == SURROGATE_SENTENCE
    for text, code, position in (("Solve 2x + 3 = 11\x00", "U+0000", 18), ("\x1b[31mSolve 2x + 3 = 11", "U+001B", 1),
                                 ("Solve 2x + 3 = 11\x07", "U+0007", 18)):
        control = client.post("/api/jobs", json={"problem_text": text})
        assert control.status_code == 422 and error_of(control)["rule"] == "invalid_text", text
        assert f"({code}) at position {position}" in error_of(control)["message"]
    assert server.appliance.store.queue_length() == 0  # nothing refused was queued
    assert 'appliance_jobs_refused_total{reason="invalid_problem"} 4' in client.get("/metrics").text

    # Jobs around the refusals are unaffected; a carriage return is a newline, and a session key
    # that is not text proves no session.
    accepted = client.post("/api/jobs", json={"problem_text": "Solve 2x + 3 = 11\r\nfor x\r\n"})
    assert accepted.status_code == 202, accepted.text
    for field in ("session_id", "session_token"):
        refused = client.post("/api/jobs", content=b'{"problem_text": "Solve 5x = 20 please", "%s": "\\udfff"}'
                              % field.encode(), headers=json_headers)
        assert refused.status_code == 403 and error_of(refused)["code"] == "session_forbidden", refused.text
    other = client.post("/api/jobs", json={"problem_text": "Solve 5x = 20 please"})
    assert other.status_code == 202
    for response in (accepted, other):
        job = client.get(f"/api/jobs/{response.json()['job_id']}")
        assert job.status_code == 200 and job.json()["job_status"] == "queued"
    assert client.get(f"/api/jobs/{accepted.json()['job_id']}").json()["problem_text"] == "Solve 2x + 3 = 11\nfor x"
    assert server.appliance.store.queue_length() == 2


def test_a_model_answer_that_is_not_valid_text_does_not_make_the_job_unreadable(live_server):
    # The model's reply is untrusted text too: JSON can carry a lone surrogate as an escape.
    source = FakeGenerator(answer_text="x = \ud800 4\x1b[0m")
    server = live_server(lambda settings: build_appliance(settings, source=source, renderer=FakeSandbox(),
                                                          run_maintenance=False))
    client = OwnerClient(base_url=server.base_url, timeout=10)
    job_id = client.post("/api/jobs", json={"problem_text": PROBLEM}).json()["job_id"]
    assert list(events(client, job_id))[-1]["job_status"] == "ready"
    job = client.get(f"/api/jobs/{job_id}")
    assert job.status_code == 200 and job.json()["answer_text"] == "x = \ufffd 4\ufffd[0m"


async def test_the_web_page_refuses_invalid_text_with_the_sentence(tmp_path):
    from frontends.web.app import build_ui

    settings = server_fixtures.make_settings(tmp_path / "data", 7860)
    appliance = fake_appliance(run_workers=False)(settings)
    try:
        blocks = build_ui(appliance, settings)
        (generate,) = [block_fn.fn for block_fn in blocks.fns.values() if block_fn.name == "generate"][:1]
        updates = generate("Solve \ud800 2x + 3 = 11", None, None)
        first = await anext(updates)  # a refusal is the one and only update
        await updates.aclose()
        shown = " ".join(str(value) for value in first.values())
        assert SURROGATE_SENTENCE in shown and 'data-status="refused"' in shown, shown
        assert appliance.store.queue_length() == 0
    finally:
        await appliance.stop()


def test_an_oversized_body_is_refused_before_it_is_read(live_server):
    server = live_server(fake_appliance(run_workers=False), max_request_bytes=1024)
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        # Declares 10 MB and sends none of it: the answer must come anyway.
        sock.sendall(b"POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 10000000\r\n\r\n")
        answer = ""
        while "\r\n\r\n" not in answer or not answer.rstrip().endswith("}"):
            chunk = sock.recv(65536).decode("latin-1")  # headers and body may come apart
            if not chunk:
                break
            answer += chunk
    assert answer.startswith("HTTP/1.1 413"), answer
    assert '"payload_too_large"' in answer


def test_the_api_token_guards_the_api_and_the_metrics(live_server):
    server = live_server(fake_appliance(run_workers=False), api_token="s3cret-token")
    client = OwnerClient(base_url=server.base_url, timeout=10)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-token"}):
        refused = client.post("/api/jobs", json={"problem_text": PROBLEM}, headers=headers)
        assert refused.status_code == 401 and error_of(refused)["code"] == "unauthorized", headers
        assert refused.headers["www-authenticate"] == "Bearer"
    # Checked before the body: an unauthenticated client learns nothing about its request.
    assert client.post("/api/jobs", content=b"{bad", headers={"Content-Type": "application/json"}).status_code == 401
    assert client.get("/api/jobs/00000000-0000-4000-8000-000000000000").status_code == 401

    authed = OwnerClient(base_url=server.base_url, timeout=10,
                          headers={"Authorization": "Bearer s3cret-token"})
    accepted = authed.post("/api/jobs", json={"problem_text": PROBLEM})
    assert accepted.status_code == 202
    assert authed.get(f"/api/jobs/{accepted.json()['job_id']}").status_code == 200
    for open_path in ("/healthz", "/readyz", "/openapi.json", "/"):
        assert client.get(open_path).status_code == 200, open_path
    assert client.get("/metrics").status_code == 401  # Prometheus sends the token too


def test_readiness_says_what_is_missing(live_server):
    class NoImage(FakeSandbox):
        def check_image(self) -> None:
            raise SandboxImageMissing("the sandbox image is missing: run `appliance sandbox build`")

    server = live_server(fake_appliance(NoImage(), run_workers=False))
    response = httpx.get(server.url("/readyz"), timeout=30)
    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False and body["error"]["code"] == "not_ready"
    assert body["checks"]["sandbox_image"]["ok"] is False
    assert "appliance sandbox build" in body["checks"]["sandbox_image"]["error"]
    assert body["checks"]["store"]["ok"] is True

    healthy = live_server(fake_appliance(run_workers=False))
    ready = httpx.get(healthy.url("/readyz"), timeout=30)
    assert ready.status_code == 200 and ready.json()["ready"] is True


def test_event_streams_end_when_the_server_drains(live_server):
    hold = threading.Event()
    server = live_server(fake_appliance(FakeSandbox(hold=hold)), render_slots=1)
    client = OwnerClient(base_url=server.base_url, timeout=10)
    try:
        job_id = client.post("/api/jobs", json={"problem_text": PROBLEM}).json()["job_id"]
        lines: list[str] = []
        with client.stream("GET", f"/api/jobs/{job_id}/events") as response:
            for line in response.iter_lines():
                if not line:
                    continue
                lines.append(line)
                if line.startswith("data:") and not server.app.state.draining.is_set():
                    server.app.state.draining.begin()  # the stream is open: now drain
        # The render is held and never finishes, so only the drain can have ended the stream.
        assert not hold.is_set()
        assert "event: shutdown" in lines
        assert any(line.startswith("data:") for line in lines)
    finally:
        hold.set()


def test_the_api_is_documented(live_server):
    server = live_server(fake_appliance(run_workers=False))
    schema = httpx.get(server.url("/openapi.json"), timeout=10).json()
    paths = schema["paths"]
    for path in ("/api/jobs", "/api/jobs/{job_id}", "/api/jobs/{job_id}/events", "/api/jobs/{job_id}/delivered",
                 "/healthz", "/readyz", "/metrics", "/videos/{key}"):
        assert path in paths, path
    submit = paths["/api/jobs"]["post"]
    assert {"202", "400", "401", "413", "422", "429"} <= set(submit["responses"])
    assert "JobRequest" in json.dumps(submit["requestBody"])
    assert "bearer" in json.dumps(schema["components"]["securitySchemes"]).lower()
    assert set(paths["/api/jobs/{job_id}"]) == {"get", "delete"}
    docs = httpx.get(server.url("/docs"), timeout=10)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_the_api_documentation_needs_no_internet(live_server):
    # Every script, style sheet and icon of /docs comes from the appliance itself.
    server = live_server(fake_appliance(run_workers=False))
    page = httpx.get(server.url("/docs"), timeout=10).text
    assets = re.findall(r"""(?:src|href)\s*=\s*['"]([^'"]+)['"]""", page)
    assert assets and all(asset.startswith("/") for asset in assets), assets
    assert not re.search(r"https?://", page.replace("http://www.w3.org", "")), page
    for asset in assets:
        response = httpx.get(server.url(asset), timeout=10)
        assert response.status_code == 200 and len(response.content) > 100, asset
    bundle = httpx.get(server.url("/docs-assets/swagger-ui-bundle.js"), timeout=10)
    assert "SwaggerUIBundle" in bundle.text


@pytest.mark.parametrize("path", ["/", "/healthz"])
def test_the_web_ui_and_the_api_share_one_server(live_server, path):
    server = live_server(fake_appliance(run_workers=False))
    response = httpx.get(server.url(path), timeout=10)
    assert response.status_code == 200
    if path == "/":
        assert "<html" in response.text.lower() and "gradio" in response.text.lower()


def test_the_web_login_guards_the_page(live_server):
    server = live_server(fake_appliance(run_workers=False), web_auth="ann:pass:word")
    client = OwnerClient(base_url=server.base_url, timeout=10)
    assert client.get("/config").status_code == 401  # the page's data needs the login
    assert client.post("/login", data={"username": "ann", "password": "wrong"}).status_code == 400
    assert client.post("/login", data={"username": "ann", "password": "pass:word"}).status_code == 200
    assert client.get("/config").status_code == 200
    assert httpx.get(server.url("/healthz"), timeout=10).status_code == 200


# -- anonymous use is bounded: per client, the queue, the model budget ------------------------------


def client_at(server: Any, address: str, **kwargs: Any) -> httpx.Client:
    """An HTTP client whose connections come from ``address`` (any 127.0.0.0/8 address is this machine)."""
    return OwnerClient(base_url=server.base_url, timeout=10,
                       transport=httpx.HTTPTransport(local_address=address), **kwargs)


def test_a_flood_from_one_address_is_refused_while_another_client_is_served(live_server):
    server = live_server(fake_appliance(run_workers=False), max_active_jobs_per_client=2,
                         max_submissions_per_client_per_hour=3, max_queued_jobs=20)
    flood, other = client_at(server, "127.0.0.2"), client_at(server, "127.0.0.3")

    def post(client: httpx.Client, **body: Any) -> httpx.Response:
        return client.post("/api/jobs", json={"problem_text": PROBLEM, **body})

    before_first = time.time()
    first, second = post(flood), post(flood)
    assert first.status_code == second.status_code == 202
    assert first.json()["session_id"] != second.json()["session_id"]  # a fresh session each time...
    busy = post(flood)  # ...and still the address's limits
    assert busy.status_code == 429 and error_of(busy)["code"] == "client_active_limit"
    assert error_of(busy)["message"] == ("2 videos asked for from your address are still in progress (the limit "
                                         "is 2). Please wait for one to finish.")
    named = post(flood, session_token=first.json()["session_token"])  # naming a session does not help either
    assert named.status_code == 429 and error_of(named)["code"] == "client_active_limit"

    assert flood.delete(f"/api/jobs/{first.json()['job_id']}").status_code == 200
    assert post(flood).status_code == 202  # a job ended: room again, the third of the hour
    assert flood.delete(f"/api/jobs/{second.json()['job_id']}").status_code == 200
    hourly = post(flood)
    assert hourly.status_code == 429 and error_of(hourly)["code"] == "client_hourly_limit"
    assert "Your address has sent 3 problems in the last hour, the limit is 3" in error_of(hourly)["message"]
    # Until the first of the hour's three falls out of it: an hour after it, however long this took.
    since_first = time.time() - before_first
    assert 3600 - since_first - 1 <= int(hourly.headers["retry-after"]) <= 3600

    served = post(other)
    assert served.status_code == 202 and served.json()["status"] == "queued"
    metrics = other.get("/metrics").text
    assert 'appliance_jobs_refused_total{reason="client_active_limit"} 2' in metrics
    assert 'appliance_jobs_refused_total{reason="client_hourly_limit"} 1' in metrics
    assert server.appliance.store.queue_length() == 2  # the flood's third job and the other client's


def test_500_submissions_from_one_client_without_a_session_are_bounded_by_default(live_server):
    """Issue 14: the shipped limits, untouched: a loop of 500 POSTs with no session from one
    address queues no more than that address's share; every other answer is a 429 (or a 503 once
    the whole queue is full), and another client is still served."""
    server = live_server(fake_appliance(run_workers=False))
    flood, other = client_at(server, "127.0.0.2"), client_at(server, "127.0.0.3")
    answers = [flood.post("/api/jobs", json={"problem_text": PROBLEM}) for _ in range(500)]
    accepted = [answer for answer in answers if answer.status_code == 202]
    refused = [answer for answer in answers if answer.status_code in (429, 503)]
    assert len(accepted) + len(refused) == 500, sorted({answer.status_code for answer in answers})
    assert 0 < len(accepted) <= server.settings.max_active_jobs_per_client
    assert {error_of(answer)["code"] for answer in refused} <= {"client_active_limit", "client_hourly_limit",
                                                                "queue_full"}
    # Every refusal says when to try again (the hour's window, a full queue, a job ending).
    assert all(answer.headers.get("retry-after") for answer in refused)
    served = other.post("/api/jobs", json={"problem_text": PROBLEM})
    assert served.status_code == 202, served.text
    assert server.appliance.store.queue_length() == len(accepted) + 1

def test_forwarded_for_counts_only_from_a_trusted_proxy(live_server):
    server = live_server(fake_appliance(run_workers=False), max_submissions_per_client_per_hour=1)
    untrusted = client_at(server, "127.0.0.2")  # not in APPLIANCE_TRUSTED_PROXIES (127.0.0.1, ::1)

    def post(client: httpx.Client, forwarded: str) -> httpx.Response:
        return client.post("/api/jobs", json={"problem_text": PROBLEM}, headers={"X-Forwarded-For": forwarded})

    assert post(untrusted, "198.51.100.1").status_code == 202
    spoofed = post(untrusted, "198.51.100.2")  # a header of its own choosing is ignored: it is 127.0.0.2
    assert spoofed.status_code == 429 and error_of(spoofed)["code"] == "client_hourly_limit"

    proxy = client_at(server, "127.0.0.1")  # the trusted proxy forwards two different clients
    assert post(proxy, "198.51.100.7").status_code == 202
    assert post(proxy, "203.0.113.50, 198.51.100.8").status_code == 202
    repeated = post(proxy, "198.51.100.7")
    assert repeated.status_code == 429 and error_of(repeated)["code"] == "client_hourly_limit"

    # With no trusted proxy at all, even a loopback peer's header is ignored (uvicorn's too).
    strict = live_server(fake_appliance(run_workers=False), max_submissions_per_client_per_hour=1,
                         trusted_proxies=())
    direct = client_at(strict, "127.0.0.1")
    assert post(direct, "198.51.100.7").status_code == 202
    assert post(direct, "198.51.100.9").status_code == 429


def test_a_full_queue_is_refused_with_503_and_retry_after_everywhere(live_server):
    from appliance.admission import QUEUE_FULL_MESSAGE
    from frontends.web.app import build_ui

    server = live_server(fake_appliance(run_workers=False), max_queued_jobs=2)
    clients = [client_at(server, f"127.0.0.{n}") for n in (2, 3, 4)]
    accepted = [client.post("/api/jobs", json={"problem_text": PROBLEM}) for client in clients[:2]]
    assert [response.status_code for response in accepted] == [202, 202]
    full = clients[2].post("/api/jobs", json={"problem_text": PROBLEM})
    assert full.status_code == 503 and error_of(full)["code"] == "queue_full"
    assert error_of(full)["message"] == QUEUE_FULL_MESSAGE
    assert full.headers["retry-after"] == "60"

    # The web page says the same sentence (a refusal is its one and only update).
    blocks = build_ui(server.appliance, server.settings)
    generate = next(fn.fn for fn in blocks.fns.values() if fn.name == "generate")

    async def web_page() -> str:
        updates = generate(PROBLEM, None, None)
        first = await anext(updates)
        await updates.aclose()
        return " ".join(str(value) for value in first.values())

    shown = asyncio.run(web_page())
    assert QUEUE_FULL_MESSAGE in shown and 'data-status="refused"' in shown, shown

    assert clients[0].delete(f"/api/jobs/{accepted[0].json()['job_id']}").status_code == 200
    assert clients[2].post("/api/jobs", json={"problem_text": PROBLEM}).status_code == 202  # room again
    assert server.appliance.store.queue_length() == 2
    assert 'appliance_jobs_refused_total{reason="queue_full"} 2' in clients[0].get("/metrics").text


async def test_the_web_page_counts_the_visitor_s_address(tmp_path):
    from types import SimpleNamespace

    from frontends.web.app import build_ui

    settings = server_fixtures.make_settings(tmp_path / "data", 7860, max_submissions_per_client_per_hour=1)
    appliance = fake_appliance(run_workers=False)(settings)

    def visitor(address: str, forwarded: str) -> Any:
        return SimpleNamespace(client=SimpleNamespace(host=address), headers={"x-forwarded-for": forwarded})

    async def submit(request: Any) -> str:
        updates = generate(PROBLEM, None, request)
        first = await anext(updates)
        await updates.aclose()
        return " ".join(str(value) for value in first.values())

    try:
        blocks = build_ui(appliance, settings)
        generate = next(fn.fn for fn in blocks.fns.values() if fn.name == "generate")
        assert "in line" in await submit(visitor("198.51.100.4", "203.0.113.1"))
        refused = await submit(visitor("198.51.100.4", "203.0.113.2"))  # a new tab, a new header
        assert "Your address has sent 1 problem in the last hour" in refused and 'data-status="refused"' in refused
        assert "in line" in await submit(visitor("127.0.0.1", "203.0.113.2"))  # forwarded by a proxy
        assert appliance.store.queue_length() == 2
    finally:
        await appliance.stop()


@pytest.mark.timeout(120)
@pytest.mark.filterwarnings("ignore:.*`ReadOnly` qualifier.*:UserWarning")
def test_a_spent_model_budget_leaves_jobs_to_the_built_in_solver_and_says_so(live_server):
    from appliance.admission import MODEL_BUDGET_NOTICE
    from tests.integration.openai_stub import OpenAIStub

    reply = f"**ANSWER:** x = 4\n\n```python\n{GOOD_CODE}```\n"
    with OpenAIStub(model_name="model-a") as stub:
        stub.queue_reply(reply)
        # The real Generator (the chain to the stub, the built-in solver, validation); a stand-in sandbox.
        server = live_server(lambda settings: build_appliance(settings, renderer=FakeSandbox(), run_maintenance=False),
                             llm_models=("openai/model-a",), openai_api_base=stub.base_url,
                             openai_api_key="sk-test-budget-123456", llm_retries=0, llm_timeout_s=10.0,
                             model_calls_per_hour=1, code_cache=False, render_slots=1)
        client = OwnerClient(base_url=server.base_url, timeout=10)

        def run(problem: str) -> list[dict[str, Any]]:
            accepted = client.post("/api/jobs", json={"problem_text": problem})
            assert accepted.status_code == 202, accepted.text
            return list(events(client, accepted.json()["job_id"], timeout=60))

        by_model = run("Solve 2x + 3 = 11")[-1]
        assert by_model["job_status"] == "ready" and by_model["ai_provider_used"] == "openai"
        assert by_model["status_message"] == "Your video is ready"

        seen = run("Solve 5x - 1 = 9")  # the one model call of the hour is spent
        ready = seen[-1]
        assert ready["job_status"] == "ready" and ready["ai_provider_used"] == "builtin"
        assert ready["answer_text"] == "x = 2"
        assert ready["status_message"] == f"Your video is ready. {MODEL_BUDGET_NOTICE}"
        assert any(event["job_status"] == "rendering" and MODEL_BUDGET_NOTICE in event["status_message"]
                   for event in seen), seen

        refused = run("Prove that there are infinitely many prime numbers.")[-1]
        assert refused["job_status"] == "failed" and refused["failure_reason"] == "model_budget"
        assert "budget of language-model calls is used up" in refused["status_message"]
        assert "try again in an hour" in refused["status_message"]

        assert len(stub.requests) == 1  # the flood of the hour cost one model call, not three
        metrics = client.get("/metrics").text
        assert "appliance_model_calls_left 0" in metrics
        assert 'appliance_job_failures_total{reason="model_budget"} 1' in metrics


def test_an_open_server_beyond_loopback_warns_at_start_up(tmp_path, caplog):
    from frontends.server import create_app

    settings = server_fixtures.make_settings(tmp_path / "data", 7860, host="0.0.0.0", web_ui=False)
    appliance = fake_appliance(run_workers=False)(settings)
    with caplog.at_level(logging.WARNING, logger="frontends.server"):
        create_app(settings, appliance=appliance)
    assert any("APPLIANCE_HOST=0.0.0.0 listens beyond this machine" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="frontends.server"):
        create_app(settings.replace(api_token="token-123456"), appliance=appliance)
    assert not any("listens beyond this machine" in r.getMessage() for r in caplog.records)
    appliance.store.close()


class HostileSubtitles(FakeSandbox):
    """A render whose subtitle text tries to break out of a WebVTT cue."""

    def render(self, code: str, scene_name: str, quality: str = "medium", prelude: str = "",
               voice: Any = None) -> Any:
        result = super().render(code, scene_name, quality, prelude, voice=voice)
        result.subtitles = (SubtitleCue(0.25, 1.5, "Subtract 3 --> <b>x</b> & more"),
                            SubtitleCue(61.0, 3725.5, "Answer: x = 4"))
        return result


def test_the_steps_come_before_the_video_and_the_voice_is_the_requests(live_server):
    """A client reads the solution while the video renders, chooses the voice, and gets the
    subtitles as WebVTT (escaped: they come out of a sandbox)."""
    hold = threading.Event()
    sandbox = HostileSubtitles(hold=hold)
    server = live_server(fake_appliance(sandbox), render_slots=1)
    client = OwnerClient(base_url=server.base_url, timeout=10)
    job_id = client.post("/api/jobs", json={"problem_text": PROBLEM, "voice": False}).json()["job_id"]
    seen = []
    for event in events(client, job_id):
        seen.append(event)
        if event["job_status"] == "rendering":
            assert event["steps"] == FAKE_STEPS and event["video_url"] is None
            hold.set()
    assert seen[-1]["job_status"] == "ready" and hold.is_set()
    job = client.get(f"/api/jobs/{job_id}").json()
    assert job["voice"] is False and job["voice_engine"] == "none" and job["voice_language"] is None
    assert sandbox.voices[-1] == VoiceRequest(enabled=False, language="en")
    assert job["subtitles_url"] == f"/api/jobs/{job_id}/subtitles.vtt"
    vtt = client.get(job["subtitles_url"])
    assert vtt.status_code == 200 and vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text.splitlines() == [
        "WEBVTT", "",
        "00:00:00.250 --> 00:00:01.500", "Subtract 3 --&gt; &lt;b&gt;x&lt;/b&gt; &amp; more", "",
        "00:01:01.000 --> 01:02:05.500", "Answer: x = 4",
    ]
    # The default is the appliance's (voice on), and what spoke is recorded.
    spoken = client.post("/api/jobs", json={"problem_text": "Résous 2x + 3 = 11"}).json()["job_id"]
    done = list(events(client, spoken))[-1]
    assert done["voice"] is True and done["voice_engine"] == "espeak-ng" and done["voice_language"] == "fr"
    assert sandbox.voices[-1] == VoiceRequest(enabled=True, language="fr")
    assert client.get(f"/api/jobs/{job_id}/subtitles.vtt").status_code == 200
    missing = client.get("/api/jobs/00000000-0000-4000-8000-000000000000/subtitles.vtt")
    assert missing.status_code == 404
