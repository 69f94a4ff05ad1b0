"""Issue 14, finding 2: a job id is not a password, and a video link gives away nothing but the video.

A real uvicorn server on 127.0.0.1 (the store, the queue, the worker, local storage and its
signed URLs are real; the scene writer and the sandbox are in-process stand-ins). Two clients
come from two addresses: the owner, and a stranger who was handed the owner's video link (and,
worse, learned the job id and the session id some other way). The stranger gets the 404 of a
job that does not exist from every job route, whatever it sends; the owner gets every route,
with any of its keys; nobody files jobs into a session without its key.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx

from appliance.access import AccessKeys
from appliance.assemble import build_appliance
from appliance.contracts import SubtitleCue
from appliance.models import ProcessingStatus
from appliance.service import Appliance
from tests.integration import server_fixtures
from tests.unit.fakes import FakeGenerator, FakeSandbox

S = ProcessingStatus
PROBLEM = "Solve 2x + 3 = 11"
live_server = server_fixtures.live_server
MISSING_JOB = "00000000-0000-4000-8000-000000000000"
VIDEO_LINK = re.compile(r"http://127\.0\.0\.1:\d+/videos/video-[0-9a-f]{32}\.mp4\?expires=\d+&sig=[0-9a-f]{64}")


class NarratedSandbox(FakeSandbox):
    """A render with subtitles, so the job has a subtitles route to guard."""

    def render(self, code: str, scene_name: str, quality: str = "medium", prelude: str = "",
               voice: Any = None) -> Any:
        result = super().render(code, scene_name, quality, prelude, voice=voice)
        result.subtitles = (SubtitleCue(0.0, 1.5, "Subtract 3 from both sides"),)
        return result


def make_appliance(settings: Any, run_workers: bool = True) -> Appliance:
    return build_appliance(settings, source=FakeGenerator(), renderer=NarratedSandbox(), run_maintenance=False,
                           run_workers=run_workers)


def idle_appliance(settings: Any) -> Appliance:
    """Jobs wait in line (nothing renders them): for what a waiting job allows."""
    return make_appliance(settings, run_workers=False)


def client_at(server: Any, address: str, **kwargs: Any) -> httpx.Client:
    """A client whose connections come from ``address`` (any 127.0.0.0/8 address is this machine)."""
    return httpx.Client(base_url=server.base_url, timeout=10, trust_env=False,
                        transport=httpx.HTTPTransport(local_address=address), **kwargs)


def wait_ready(client: httpx.Client, job_id: str, **auth: Any) -> dict[str, Any]:
    """Follow the job's event stream to its end; the last event."""
    last: dict[str, Any] = {}
    with client.stream("GET", f"/api/jobs/{job_id}/events", timeout=60, **auth) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line.startswith("data:"):
                last = json.loads(line[5:])
    assert last.get("job_status") == "ready", last
    return last


def job_routes(job_id: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every route under /api/jobs/{job_id}, as (method, path, query)."""
    yield "GET", f"/api/jobs/{job_id}", {}
    yield "GET", f"/api/jobs/{job_id}", {"include": "code"}
    yield "GET", f"/api/jobs/{job_id}/events", {}
    yield "GET", f"/api/jobs/{job_id}/subtitles.vtt", {}
    yield "POST", f"/api/jobs/{job_id}/delivered", {}
    yield "DELETE", f"/api/jobs/{job_id}", {}


def assert_not_found(response: httpx.Response, *secrets: str) -> None:
    assert response.status_code == 404, (response.request.method, response.request.url, response.text)
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == "not_found", body
    for secret in secrets:
        assert secret not in response.text and all(secret not in value for value in response.headers.values())


def submit(client: httpx.Client, **body: Any) -> dict[str, Any]:
    accepted = client.post("/api/jobs", json={"problem_text": PROBLEM, **body})
    assert accepted.status_code == 202, accepted.text
    return accepted.json()


def test_a_shared_video_link_opens_the_video_and_no_job_route(live_server):
    server = live_server(make_appliance, render_slots=1)
    owner, stranger = client_at(server, "127.0.0.2"), client_at(server, "127.0.0.3")
    problem = "Solve 7x - 4 = 24 for the secret x"
    created = submit(owner, problem_text=problem)
    job_id, session_id = created["job_id"], created["session_id"]
    ready = wait_ready(owner, job_id, headers={"X-Job-Token": created["job_token"]})

    # The link is the video's own: an opaque key and its signature, no job id, no session id.
    link = ready["video_url"]
    assert VIDEO_LINK.fullmatch(link), link
    assert job_id not in link and session_id not in link and created["job_token"] not in link

    # The stranger plays it (the link is the capability for the video's bytes, and nothing more) ...
    video = stranger.get(link)
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    assert not any(job_id in value or session_id in value for value in video.headers.values())

    # ... and, even knowing the job id, reads, follows, cancels or confirms nothing. It sends
    # nothing, or its own keys, or keys that are not this server's: each time the answer is the
    # one for a job that does not exist.
    own = submit(stranger)
    foreign = AccessKeys(b"another appliance's signing key!")
    attempts: list[dict[str, Any]] = [
        {},
        {"headers": {"X-Job-Token": own["job_token"]}},
        {"headers": {"X-Session-Token": own["session_token"]}},
        {"params": {"token": own["job_token"]}},
        {"params": {"token": own["session_token"]}},
        {"headers": {"X-Job-Token": foreign.job_token(job_id)}},
        {"headers": {"X-Session-Token": foreign.sign(session_id)}},
        {"headers": {"X-Session-Token": session_id}},  # the id alone is no key
        {"headers": {"X-Job-Token": job_id}},
        {"headers": {"Authorization": f"Bearer {created['job_token']}"}},  # not the operator's token
    ]
    for attempt in attempts:
        for method, path, query in job_routes(job_id):
            params = {**query, **attempt.get("params", {})}
            response = stranger.request(method, path, params=params, headers=attempt.get("headers"))
            assert_not_found(response, session_id, problem, created["job_token"])
            missing = stranger.request(method, path.replace(job_id, MISSING_JOB), params=params,
                                       headers=attempt.get("headers"))
            assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")

    # Nothing the stranger did touched the job: it was delivered by the first fetch of its video
    # (kept for the replay grace), not cancelled, and its video is still there.
    job = server.appliance.store.get_job(job_id)
    assert job.status is S.DELIVERED and not job.cancel_requested and job.video_key
    assert server.appliance.storage.exists(job.video_key)


def test_the_owner_reaches_every_route_with_any_of_its_keys(live_server):
    server = live_server(make_appliance, render_slots=1)
    owner = client_at(server, "127.0.0.2")
    first = submit(owner)
    job_id, session_id = first["job_id"], first["session_id"]
    # The session's key is the one the web page keeps in the browser for that session.
    assert first["session_token"] == AccessKeys.for_settings(server.settings).sign(session_id)
    second = submit(owner, session_token=first["session_token"])
    assert second["session_id"] == session_id and second["job_token"] != first["job_token"]

    by_job = {"headers": {"X-Job-Token": first["job_token"]}}
    by_session = {"headers": {"X-Session-Token": first["session_token"]}}
    by_query = {"params": {"token": first["job_token"]}}  # EventSource and <track> cannot set headers
    ready = wait_ready(owner, job_id, **by_query)
    wait_ready(owner, second["job_id"], params={"token": first["session_token"]})
    for proof in (by_job, by_session, by_query):
        details = owner.get(f"/api/jobs/{job_id}", params={"include": "code", **proof.get("params", {})},
                            headers=proof.get("headers"))
        assert details.status_code == 200 and details.json()["session_id"] == session_id
        assert "class SolutionScene" in details.json()["manim_code"]
        assert "job_token" not in details.json() and "session_token" not in details.json()  # shown once only
        vtt = owner.get(details.json()["subtitles_url"], **proof)
        assert vtt.status_code == 200 and "Subtract 3 from both sides" in vtt.text
    assert ready["video_url"] and owner.get(ready["video_url"]).status_code == 200

    # The second job's key is not the first's: a job key opens its own job only.
    assert_not_found(owner.get(f"/api/jobs/{second['job_id']}", headers=by_job["headers"]))
    confirmed = owner.post(f"/api/jobs/{second['job_id']}/delivered", headers={"X-Job-Token": second["job_token"]})
    assert confirmed.status_code == 200 and confirmed.json()["job_status"] == "delivered"
    assert confirmed.json()["video_url"] is None



def test_nobody_files_jobs_into_a_session_without_its_key(live_server):
    server = live_server(idle_appliance, max_active_jobs_per_session=2,
                         max_active_jobs_per_client=10)
    owner, stranger = client_at(server, "127.0.0.2"), client_at(server, "127.0.0.3")
    first = submit(owner)
    session_id = first["session_id"]
    before = server.appliance.store.get_session(session_id)
    forged = AccessKeys(b"another appliance's signing key!").sign(session_id)
    for body, headers in (
        ({"session_id": session_id}, None),  # the id from a leaked answer
        ({"session_id": MISSING_JOB}, None),  # refused the same way: no oracle for which ids exist
        ({"session_token": forged}, None),
        ({"session_token": session_id}, None),
        ({}, {"X-Session-Token": forged}),
        ({"session_id": session_id, "session_token": submit(stranger)["session_token"]}, None),
    ):
        refused = stranger.post("/api/jobs", json={"problem_text": "Solve 3x = 12 please", **body}, headers=headers)
        assert refused.status_code == 403, (body, refused.text)
        assert refused.json()["error"]["code"] == "session_forbidden" and session_id not in refused.text
    # The session's limits were not spent on the stranger's behalf, and its owner goes on.
    after = server.appliance.store.get_session(session_id)
    assert after.total_submissions == before.total_submissions == 1
    assert [job.job_id for job in server.appliance.store.list_jobs(session_id)] == [first["job_id"]]
    second = submit(owner, session_token=first["session_token"])
    assert second["session_id"] == session_id
    # The owner cancels (a waiting job fails at once) with its session's key; the stranger cannot.
    assert_not_found(stranger.delete(f"/api/jobs/{second['job_id']}"), session_id)
    cancelled = owner.delete(f"/api/jobs/{second['job_id']}", headers={"X-Session-Token": first["session_token"]})
    assert cancelled.status_code == 200 and cancelled.json()["status_message"] == "Cancelled"


def test_a_browser_session_s_video_link_opens_no_job_route_elsewhere(live_server):
    """The web page's own path: a job made by the page (its session key kept in the browser), its
    video link used from another client, and the page's key proving the session to the API."""
    from frontends.web.app import build_ui

    server = live_server(make_appliance, render_slots=1)
    blocks = build_ui(server.appliance, server.settings)
    (generate,) = [block_fn.fn for block_fn in blocks.fns.values() if block_fn.name == "generate"][:1]

    async def submit_on_the_page() -> str:
        updates = generate("Solve 5x - 1 = 9 on the page", None, None)
        shown = await anext(updates)
        await updates.aclose()
        keys = [value for value in shown.values() if isinstance(value, str)
                and re.fullmatch(r"[0-9a-f-]{36}\.[0-9a-f]{64}", value)]
        assert len(keys) == 1, shown
        return keys[0]

    # The page's handlers are async; the appliance they call is the live server's (thread-safe).
    browser_key = asyncio.run(submit_on_the_page())
    session_id = browser_key.split(".")[0]
    (job,) = server.appliance.store.list_jobs(session_id)
    owner, stranger = client_at(server, "127.0.0.2"), client_at(server, "127.0.0.3")
    ready = wait_ready(owner, job.job_id, headers={"X-Session-Token": browser_key})
    link = ready["video_url"]
    assert VIDEO_LINK.fullmatch(link) and job.job_id not in link and session_id not in link
    assert stranger.get(link).status_code == 200
    for method, path, query in job_routes(job.job_id):
        assert_not_found(stranger.request(method, path, params=query), session_id)
    assert owner.get(f"/api/jobs/{job.job_id}", headers={"X-Session-Token": browser_key}).status_code == 200


def test_the_operator_s_api_token_sees_every_job_and_names_any_session(live_server):
    server = live_server(idle_appliance, api_token="operator-token-123456")
    operator = client_at(server, "127.0.0.2", headers={"Authorization": "Bearer operator-token-123456"})
    created = submit(operator)
    assert operator.get(f"/api/jobs/{created['job_id']}").status_code == 200  # no job key needed
    again = submit(operator, session_id=created["session_id"])
    assert again["session_id"] == created["session_id"]
    # Without the operator's token nothing under /api answers, job key or not.
    anyone = client_at(server, "127.0.0.3")
    refused = anyone.get(f"/api/jobs/{created['job_id']}", headers={"X-Job-Token": created["job_token"]})
    assert refused.status_code == 401
