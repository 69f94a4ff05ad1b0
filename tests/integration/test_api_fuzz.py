"""The HTTP API from its own OpenAPI document: whatever a client sends, the answer is never a 5xx.

Schemathesis reads ``/openapi.json`` of the real server (uvicorn on 127.0.0.1 in a thread, the
whole app: middleware, error handlers, the web UI beside it; the generator and the sandbox are
the in-process fakes) and generates requests for every operation: ones the document allows
(positive) and ones it does not (negative: wrong types, missing fields, odd strings in paths
and queries). Path parameters are sometimes swapped for jobs and a video that exist, so the
routes are exercised past their 404s, and a job a POST created is read back at once (a job
that is accepted but then unreadable was a real defect: a lone surrogate in its text).

Schemathesis never generates lone surrogates (they have no UTF-8 form), but JSON carries them
as escapes (``"\\ud800"``): ``test_any_json_text_is_refused_or_stays_readable`` sends bodies
whose strings may hold any code point, surrogates and control characters included, as raw
JSON bytes. At the end, no job the fuzzing got accepted may have failed "on our side".

Bounded: ``MAX_EXAMPLES`` per operation and mode, no deadline (the machine may be loaded), no
example database (a failure is reported with its falsifying example instead); each request
times out. About 20 s in all. An operation
added to the API without being listed here fails ``test_the_document_lists_every_operation``,
so nothing is left out silently; the only operations without negative examples are the ones
that take no input at all (there is nothing to get wrong).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from appliance.assemble import build_appliance
from appliance.config import Settings
from appliance.models import normalize_problem_text
from appliance.service import Appliance
from tests.integration import server_fixtures
from tests.integration.job_owner import OwnerClient
from tests.integration.server_fixtures import LiveServer
from tests.unit.fakes import FakeGenerator, FakeSandbox

MAX_EXAMPLES = 25
REQUEST_TIMEOUT_S = 20.0

# Every operation of the document, and whether it takes any input (a parameter or a body).
OPERATIONS: dict[tuple[str, str], bool] = {
    ("POST", "/api/jobs"): True,
    ("GET", "/api/jobs/{job_id}"): True,
    ("DELETE", "/api/jobs/{job_id}"): True,
    ("GET", "/api/jobs/{job_id}/events"): True,
    ("GET", "/api/jobs/{job_id}/subtitles.vtt"): True,
    ("POST", "/api/jobs/{job_id}/delivered"): True,
    ("GET", "/healthz"): False,
    ("GET", "/readyz"): False,
    ("GET", "/metrics"): False,
    ("GET", "/videos/{key}"): True,
}
CASES = [
    pytest.param(method, path, mode, id=f"{method} {path} {mode.value}")
    for (method, path), takes_input in OPERATIONS.items()
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if takes_input or mode is GenerationMode.POSITIVE
]

# Problems of every kind of valid text, submitted before the fuzzing: jobs that exist.
KNOWN_PROBLEMS = [
    "Solve 2x + 3 = 11",
    "Résous\tl'équation 2x + 3 = 11\r\npour x ∈ ℝ, « vite » 😀 解方程",
]
VIDEO_PROBLEM = "Solve 5x - 1 = 9"  # its video is only fetched (the jobs above may be delivered and deleted)


@dataclass
class Target:
    server: LiveServer
    schema: schemathesis.BaseSchema
    job_ids: list[str]
    job_tokens: dict[str, str]  # each job's key (the routes under /api/jobs/{job_id} answer its owner only)
    video: dict[str, str]  # a real signed link: key, expires, sig


def _make_appliance(settings: Settings) -> Appliance:
    return build_appliance(settings, source=FakeGenerator(), renderer=FakeSandbox(), run_maintenance=False)


def _ready_job(client: httpx.Client, problem: str) -> dict[str, Any]:
    accepted = client.post("/api/jobs", json={"problem_text": problem})
    assert accepted.status_code == 202, accepted.text
    # The event stream ends once the job is ready (or final): no polling, no sleeps.
    with client.stream("GET", f"/api/jobs/{accepted.json()['job_id']}/events", timeout=60) as stream:
        last = [json.loads(line[5:]) for line in stream.iter_lines() if line.startswith("data:")][-1]
    assert last["job_status"] == "ready", last
    return last


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    # The fuzzing is a flood from one address: the client limits and the queue cap (test_api.py)
    # would answer most of it with 429 and 503; here every request is to reach the routes.
    with server_fixtures.running_server(data_dir, _make_appliance, max_active_jobs_per_client=100_000,
                                        max_submissions_per_client_per_hour=100_000,
                                        max_queued_jobs=100_000) as server:
        with OwnerClient(base_url=server.base_url, timeout=REQUEST_TIMEOUT_S) as client:
            jobs = [_ready_job(client, problem) for problem in KNOWN_PROBLEMS]
            video_job = _ready_job(client, VIDEO_PROBLEM)
            tokens = dict(client.job_tokens)
        link = urlsplit(video_job["video_url"])
        query = {name: values[0] for name, values in parse_qs(link.query).items()}
        video = {"key": link.path.rsplit("/", 1)[1], "expires": query["expires"], "sig": query["sig"]}
        schema = schemathesis.openapi.from_url(server.url("/openapi.json"))
        yield Target(server, schema, [job["job_id"] for job in jobs], tokens, video)


def test_the_document_lists_every_operation(target: Target) -> None:
    found = set()
    for result in target.schema.get_all_operations():
        # An operation schemathesis cannot read is a failure here, not a quiet omission.
        assert isinstance(result, Ok), result.err()
        operation = result.ok()
        found.add((operation.method.upper(), operation.path))
    assert found == set(OPERATIONS)


def _read_back(target: Target, accepted: dict[str, Any]) -> dict[str, Any]:
    """An accepted job must be readable right away (and so forever after) by its owner."""
    job_id = accepted["job_id"]
    response = httpx.get(target.server.url(f"/api/jobs/{job_id}"), headers={"X-Job-Token": accepted["job_token"]},
                         timeout=REQUEST_TIMEOUT_S)
    assert response.status_code == 200, f"GET /api/jobs/{job_id} -> {response.status_code}: {response.text[:500]}"
    details: dict[str, Any] = response.json()
    return details


def _with_known_values(case: Any, choice: int, target: Target) -> Any:
    """Sometimes (``choice`` > 0) point the case at a job or a video that exists."""
    if choice == 0:
        return case
    parameters = case.path_parameters
    if parameters is not None and "job_id" in parameters:
        job_id = parameters["job_id"] = target.job_ids[(choice - 1) % len(target.job_ids)]
        if choice % 2 == 1:  # as its owner, so the fuzzed rest of the request reaches the job itself
            case.headers = {**(case.headers or {}), "X-Job-Token": target.job_tokens[job_id]}
    if parameters is not None and "key" in parameters:
        parameters["key"] = target.video["key"]
        if choice % 2 == 0:  # the real signature too, or the real key with the fuzzed query
            case.query = {"expires": target.video["expires"], "sig": target.video["sig"]}
    return case


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_no_request_gets_a_server_error(target: Target, method: str, path: str, mode: GenerationMode) -> None:
    operation = target.schema[path][method]
    cases = st.tuples(operation.as_strategy(generation_mode=mode), st.integers(0, 2 * len(target.job_ids)))
    calls: list[int] = []

    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
    @given(generated=cases)
    def run(generated: tuple[Any, int]) -> None:
        case = _with_known_values(*generated, target)
        response = case.call(base_url=target.server.base_url, timeout=REQUEST_TIMEOUT_S)
        calls.append(response.status_code)
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} query={case.query!r} body={getattr(case, 'body', None)!r} "
            f"-> {response.status_code}: {response.text[:500]}"
        )
        if response.status_code >= 400 and path.startswith("/api/"):
            error = response.json()["error"]  # every refusal is the documented error body
            assert error["code"] and error["message"], response.text
        if (method, path, response.status_code) == ("POST", "/api/jobs", 202):
            _read_back(target, response.json())

    run()
    assert calls, "no request was made"  # nothing skipped silently


# Any code point, with lone surrogates and control characters (and tab, CR, LF) drawn often.
ANY_CHARACTER = st.one_of(
    st.characters(),
    st.integers(0xD800, 0xDFFF).map(chr),
    st.integers(0x00, 0x1F).map(chr),
    st.integers(0x7F, 0x9F).map(chr),
    st.sampled_from(["\t", "\r", "\n", "\r\n"]),
)
ANY_TEXT = st.lists(ANY_CHARACTER, max_size=40).map("".join)
BODIES = st.fixed_dictionaries(
    # Mostly long enough to pass the length rule, so the character rule is what decides.
    {"problem_text": st.tuples(st.sampled_from(["", "Solve 2x + 3 = 11 "]), ANY_TEXT).map("".join)},
    optional={"session_id": ANY_TEXT, "session_token": ANY_TEXT,
              "quality": st.sampled_from(["low", "medium", "high", "ultra\ud800"])},
)


def test_any_json_text_is_refused_or_stays_readable(target: Target) -> None:
    outcomes: list[int] = []

    @settings(max_examples=3 * MAX_EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(body=BODIES)
    def run(body: dict[str, str]) -> None:
        raw = json.dumps(body).encode("ascii")  # ensure_ascii: a lone surrogate travels as its escape
        response = httpx.post(target.server.url("/api/jobs"), content=raw,
                              headers={"Content-Type": "application/json"}, timeout=REQUEST_TIMEOUT_S)
        outcomes.append(response.status_code)
        assert response.status_code in (202, 403, 422), f"{raw!r} -> {response.status_code}: {response.text[:500]}"
        if body.get("quality", "low") not in ("low", "medium", "high"):  # checked first, by the schema
            assert response.status_code == 422 and response.json()["error"]["field"] == "quality", response.text
            return
        if "session_id" in body or body.get("session_token"):  # a session named without its key: refused
            assert response.status_code == 403, response.text
            assert response.json()["error"]["code"] == "session_forbidden", response.text
            return
        try:
            # What the server reads: an escaped high and low surrogate in a row are one character.
            expected = normalize_problem_text(json.loads(raw)["problem_text"])
        except ValueError as exc:
            expected = None
            assert response.status_code == 422 and response.json()["error"]["message"] == str(exc), response.text
        if response.status_code == 202:
            assert _read_back(target, response.json())["problem_text"] == expected
        else:
            assert expected is None, response.text

    run()
    assert 202 in outcomes and 422 in outcomes, outcomes  # both sides of the rule were reached


def test_no_accepted_job_failed_on_our_side(target: Target) -> None:
    """Last: what the fuzzing got accepted is worked off by the fakes; none may hit an internal error."""
    store = target.server.appliance.store
    deadline = time.monotonic() + 120
    while store.queue_length() or store.running_count():
        assert time.monotonic() < deadline, "the queue did not drain"
        time.sleep(0.1)
    internal = [(job.job_id, job.last_error) for job in store.iter_jobs() if job.failure_reason == "internal_error"]
    assert internal == []
