"""How a container that produced no video is classified."""

from __future__ import annotations

from typing import Any

import pytest

from appliance.sandbox.classify import ContainerFacts, classify_failure
from appliance.sandbox.result import RenderStatus


def facts(**changes: Any) -> ContainerFacts:
    values: dict[str, Any] = {"timed_out": False, "exit_code": 1, "oom_killed": False, "stderr": "",
                              "runner_error": None, "pids_at_timeout": None, "pids_limit": 64}
    values.update(changes)
    return ContainerFacts(**values)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (facts(oom_killed=True, exit_code=137), RenderStatus.MEMORY),
        (facts(oom_killed=True, timed_out=True), RenderStatus.MEMORY),
        (facts(timed_out=True, exit_code=137), RenderStatus.TIMEOUT),
        (facts(timed_out=True, pids_at_timeout=64), RenderStatus.PROCESS_LIMIT),
        (facts(timed_out=True, pids_at_timeout=12), RenderStatus.TIMEOUT),
        (facts(timed_out=True, stderr="BlockingIOError: [Errno 11] Resource temporarily unavailable"),
         RenderStatus.PROCESS_LIMIT),
        (facts(exit_code=153), RenderStatus.OUTPUT_LIMIT),
        (facts(exit_code=3), RenderStatus.NO_VIDEO),
        (facts(runner_error={"kind": "no_video", "message": "the scene played no animation"}), RenderStatus.NO_VIDEO),
        (facts(runner_error={"kind": "memory"}), RenderStatus.MEMORY),
        (facts(runner_error={"kind": "process_limit"}), RenderStatus.PROCESS_LIMIT),
        (facts(runner_error={"kind": "output_limit"}), RenderStatus.OUTPUT_LIMIT),
        (facts(runner_error={"kind": "scene_error", "exception": "NameError", "message": "x"}),
         RenderStatus.SCENE_ERROR),
        (facts(runner_error={"kind": "bad_request"}, exit_code=2), RenderStatus.SCENE_ERROR),
        (facts(stderr="OSError: [Errno 28] No space left on device"), RenderStatus.OUTPUT_LIMIT),
        (facts(stderr="MemoryError"), RenderStatus.MEMORY),
        (facts(exit_code=137), RenderStatus.SCENE_ERROR),
        (facts(exit_code=139), RenderStatus.SCENE_ERROR),
    ],
)
def test_classification(given: ContainerFacts, expected: RenderStatus) -> None:
    status, detail = classify_failure(given)
    assert status is expected
    assert detail


def test_engine_facts_beat_the_runners_claims() -> None:
    # The scene shares the runner's process and may forge its report.
    status, _ = classify_failure(facts(oom_killed=True, runner_error={"kind": "scene_error"}))
    assert status is RenderStatus.MEMORY
    status, _ = classify_failure(facts(timed_out=True, runner_error={"kind": "no_video"}))
    assert status is RenderStatus.TIMEOUT


def test_scene_error_detail_names_the_exception() -> None:
    _, detail = classify_failure(facts(runner_error={"kind": "scene_error", "exception": "NameError",
                                                     "message": "name 'squar' is not defined\nmore"}))
    assert detail == "NameError: name 'squar' is not defined"


def test_signals_are_named() -> None:
    assert "signal 11" in classify_failure(facts(exit_code=139))[1]
