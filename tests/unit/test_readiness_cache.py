"""/readyz's checks behind ``ReadinessCache``: one thread at a time, at most once an interval,
even when a check outlives the callers' timeout."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from frontends.api import ReadinessCache, public_readiness


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_check_that_hangs_is_not_started_again_by_later_callers() -> None:
    release = threading.Event()
    started: list[int] = []

    def check() -> dict[str, Any]:
        started.append(1)
        release.wait(30)
        return {"ready": True, "checks": {"store": {"ok": True}}}

    async def scenario() -> None:
        cache = ReadinessCache(check, timeout_s=0.01, interval_s=5)
        first = await asyncio.gather(*(cache.report() for _ in range(50)))
        assert all(report["checks"]["readiness"]["error"] == "the checks timed out" for report in first)
        again = await cache.report()  # still the same check under way: no second thread
        assert again["ready"] is False and len(started) == 1
        release.set()
        cache.timeout_s = 30
        assert (await cache.report())["ready"] is True
        assert len(started) == 1

    asyncio.run(scenario())


def test_the_answer_is_reused_within_the_interval_and_refreshed_after() -> None:
    clock = Clock()
    calls: list[int] = []

    def check() -> dict[str, Any]:
        calls.append(1)
        return {"ready": len(calls) == 1, "checks": {"docker": {"ok": len(calls) == 1}}}

    async def scenario() -> None:
        cache = ReadinessCache(check, interval_s=5, clock=clock)
        assert (await cache.report())["ready"] is True
        report = await cache.report()
        report["error"] = "changed by a caller"  # callers get copies
        clock.now += 4.9
        assert await cache.report() == {"ready": True, "checks": {"docker": {"ok": True}}}
        assert len(calls) == 1
        clock.now += 0.2
        assert (await cache.report())["ready"] is False and len(calls) == 2

    asyncio.run(scenario())


def test_a_check_that_raises_is_a_failing_check() -> None:
    def check() -> dict[str, Any]:
        raise OSError("disk gone")

    report = asyncio.run(ReadinessCache(check).report())
    assert report["ready"] is False and "disk gone" in report["checks"]["readiness"]["error"]


def test_strangers_see_only_ok_per_component() -> None:
    report = {"ready": False, "checks": {
        "docker": {"ok": False, "error": "cannot reach tcp://10.0.0.5:2376"},
        "storage": {"ok": True, "backend": "s3"},
        "render_engines": {"ok": True, "engines": {"gpu": {"url": "tcp://10.0.0.6:2376"}}},
    }}
    assert public_readiness(report) == {"ready": False, "checks": {
        "docker": {"ok": False}, "storage": {"ok": True}, "render_engines": {"ok": True}}}
