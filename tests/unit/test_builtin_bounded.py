"""The solver's worker processes: a deadline that holds, and no secrets inside."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from appliance.errors import UnsupportedProblem
from appliance.generation.builtin import bounded, solve
from appliance.generation.builtin.bounded import run_bounded


@pytest.mark.timeout(60)
def test_work_past_its_deadline_is_stopped_and_the_next_call_still_works() -> None:
    run_bounded(bounded._ping)  # a warm worker, so the deadline below measures only the work
    with pytest.raises(UnsupportedProblem, match=r"gave up after 0\.5 s"):
        run_bounded(bounded._sleep, 30, deadline_s=0.5)
    assert run_bounded(bounded._ping) == "pong"


@pytest.mark.timeout(60)
def test_a_problem_sympy_would_chew_on_for_minutes_is_refused() -> None:
    # integrate(sin(x)**7 * cos(x)**5) runs for minutes in SymPy 1.14.
    with pytest.raises(UnsupportedProblem, match="gave up"):
        solve("Integrate sin(x)^7 cos(x)^5")


def test_only_the_solver_functions_can_run_in_a_worker() -> None:
    with pytest.raises(ValueError, match="cannot run"):
        run_bounded(os.getcwd)


def test_workers_get_no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "gsk-secret")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:secret")
    bounded.shutdown_workers()
    worker = bounded._Worker()
    try:
        environ = Path(f"/proc/{worker.process.pid}/environ").read_bytes().decode(errors="replace")
    finally:
        worker.kill()
    assert "secret" not in environ
