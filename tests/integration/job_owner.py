"""An HTTP client that owns the jobs it submits, as a real API client does.

The routes under /api/jobs/{job_id} answer only the job's owner (frontends/api.py): the answer to
``POST /api/jobs`` carries the job's ``job_token``, and this client sends it back as
``X-Job-Token`` with every later request about that job. Tests about other things use it, so
they read as before; tests/integration/test_job_ownership.py checks the ownership itself with a
plain ``httpx.Client``.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

_JOB_PATH = re.compile(r"/api/jobs/([0-9a-f-]{36})(?:/|$)")


def remember_tokens(tokens: dict[str, str]) -> dict[str, list[Any]]:
    """httpx event hooks that keep each submitted job's token in ``tokens`` and send it."""

    def prove(request: httpx.Request) -> None:
        match = _JOB_PATH.search(request.url.path)
        if match and match.group(1) in tokens and "x-job-token" not in request.headers:
            request.headers["X-Job-Token"] = tokens[match.group(1)]

    def keep(response: httpx.Response) -> None:
        request = response.request
        if request.method == "POST" and request.url.path == "/api/jobs" and response.status_code == 202:
            response.read()
            body = response.json()
            tokens[body["job_id"]] = body["job_token"]

    return {"request": [prove], "response": [keep]}


class OwnerClient(httpx.Client):
    """``httpx.Client`` that proves ownership of the jobs it submitted."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.job_tokens: dict[str, str] = {}
        super().__init__(*args, event_hooks=remember_tokens(self.job_tokens), **kwargs)
