"""Render engines without Docker: the setting's grammar and rules, certificate lookup, API
version choice, failover between engines, and an appliance whose extra engine is down.
(tests/integration/test_render_engines.py runs the same against a second real engine.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from appliance.assemble import build_appliance
from appliance.config import Settings, parse_engine_list
from appliance.errors import ConfigError, SandboxUnavailable
from appliance.metrics import Metrics
from appliance.models import ProcessingStatus
from appliance.sandbox.connection import EngineSpec, _lower_api_version, tls_files
from appliance.sandbox.engines import LaneRenderer, RenderEngine
from appliance.service import Channel
from tests.unit.fakes import FakeGenerator, FakeSandbox, FakeStorage


def test_engine_list_parses_urls_and_slot_counts() -> None:
    assert parse_engine_list("") == ()
    assert parse_engine_list(" tcp://render2:2376=3 , unix:///run/render3.sock") == (
        ("tcp://render2:2376", 3), ("unix:///run/render3.sock", 0))


@pytest.mark.parametrize(("raw", "complaint"), [
    ("ssh://me@render2", "ssh -L"),
    ("http://render2:2376", "tcp://HOST:PORT"),
    ("tcp://render2", "needs a host and a port"),
    ("unix://", "socket path"),
    ("tcp://render2:2376=0", "positive integer"),
    ("tcp://render2:2376=two", "invalid literal"),
    ("tcp://render2:2376, tcp://render2:2376=2", "listed twice"),
])
def test_a_bad_engine_entry_says_what_is_wrong(raw: str, complaint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"APPLIANCE_RENDER_ENGINES": raw})
    assert "APPLIANCE_RENDER_ENGINES" in str(caught.value) and complaint in str(caught.value)


def test_plain_tcp_to_another_machine_is_refused_but_loopback_and_tls_are_allowed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs TLS client certificates"):
        Settings.from_env({"APPLIANCE_RENDER_ENGINES": "tcp://10.0.0.5:2375"})
    assert Settings.from_env({"APPLIANCE_RENDER_ENGINES": "tcp://127.0.0.1:2375=1"}).render_engines
    with_tls = Settings.from_env({"APPLIANCE_RENDER_ENGINES": "tcp://10.0.0.5:2376",
                                  "APPLIANCE_RENDER_ENGINES_TLS_DIR": str(tmp_path)})
    assert with_tls.render_engines == (("tcp://10.0.0.5:2376", 0),)


def _write_certs(directory: Path) -> None:
    directory.mkdir(parents=True)
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (directory / name).write_text(name)


def test_certificates_are_looked_up_per_host_first_then_shared(tmp_path: Path) -> None:
    _write_certs(tmp_path / "render2")
    _write_certs(tmp_path / "shared")
    own = EngineSpec("tcp://render2:2376", "tcp://render2:2376", 1, tmp_path)
    assert tls_files(own) == tuple(tmp_path / "render2" / n for n in ("ca.pem", "cert.pem", "key.pem"))
    shared = EngineSpec("tcp://render9:2376", "tcp://render9:2376", 1, tmp_path / "shared")
    assert tls_files(shared) == tuple(tmp_path / "shared" / n for n in ("ca.pem", "cert.pem", "key.pem"))
    missing = EngineSpec("tcp://render9:2376", "tcp://render9:2376", 1, tmp_path)
    with pytest.raises(SandboxUnavailable, match=str(tmp_path / "render9")):
        tls_files(missing)
    assert tls_files(EngineSpec("unix:///s", "unix:///s", 1, tmp_path)) is None
    # A forwarded port on loopback may be plain even when other engines use TLS.
    assert tls_files(EngineSpec("tcp://127.0.0.1:2375", "tcp://127.0.0.1:2375", 1, tmp_path)) is None


def test_the_api_version_is_the_lower_of_engine_and_client() -> None:
    assert _lower_api_version("1.41", "1.45") == "1.41"
    assert _lower_api_version("1.47", "1.45") == "1.45"
    assert _lower_api_version("1.9", "1.10") == "1.9"
    assert _lower_api_version("", "1.45") == "1.45"


def _engine(name: str, sandbox: FakeSandbox, slots: int = 1) -> RenderEngine:
    settings = Settings.from_env({}, warm_pool_size=0)
    engine = RenderEngine(EngineSpec(name, None if name == "local" else name, slots), settings, sandbox)
    engine.set_slots(slots)
    return engine


def test_a_render_lost_with_its_engine_is_rendered_again_on_another() -> None:
    home = _engine("tcp://render2:2376", FakeSandbox(outcomes=["unavailable"]))
    other_sandbox = FakeSandbox()
    other = _engine("local", other_sandbox)
    result = LaneRenderer(home, [other, home], failover_wait_s=1).render("code", "Scene", "low")
    assert result.ok and other_sandbox.rendered == ["code"]
    assert (home.renders, other.renders) == (1, 1)


def test_a_scene_failure_is_not_retried_elsewhere() -> None:
    home = _engine("local", FakeSandbox(outcomes=["scene_error"]))
    other_sandbox = FakeSandbox()
    result = LaneRenderer(home, [home, _engine("tcp://r:2376", other_sandbox)], failover_wait_s=1).render("c", "S")
    assert result.status == "scene_error" and other_sandbox.rendered == []


def test_failover_waits_for_a_free_slot_and_gives_up_when_none_frees() -> None:
    home = _engine("tcp://render2:2376", FakeSandbox(outcomes=["unavailable"]))
    busy = _engine("local", FakeSandbox(), slots=1)
    assert busy._capacity.acquire(timeout=0)  # its one slot is rendering something else
    result = LaneRenderer(home, [busy, home], failover_wait_s=0.2).render("code", "Scene")
    assert result.status == "unavailable"
    busy._capacity.release()


def test_labelled_gauges_are_read_at_scrape_time() -> None:
    metrics = Metrics()
    state = {"up": 1.0}
    metrics.collect_with("appliance_engine_up", lambda: state["up"], engine="tcp://r:2376")
    assert 'appliance_engine_up{engine="tcp://r:2376"} 1' in metrics.render()
    state["up"] = 0.0
    assert 'appliance_engine_up{engine="tcp://r:2376"} 0' in metrics.render()


async def test_an_engine_that_is_down_takes_no_jobs_and_does_not_make_the_appliance_unready(
        tmp_path: Path) -> None:
    down = "unix://" + str(tmp_path / "no-engine-here.sock")
    settings = Settings.from_env({}, data_dir=tmp_path, render_slots=1, warm_pool_size=0,
                                 render_engines=((down, 2),), sandbox_auto_build=False)
    local = FakeSandbox()
    app = build_appliance(settings, source=FakeGenerator(), renderer=local, storage=FakeStorage(tmp_path / "videos"),
                          run_maintenance=False)
    await app.start()
    try:
        assert app.worker.slots == 3 and [lane.slots for lane in app.worker.lanes] == [1, 2]
        responses = [await app.submit(f"Solve {n}x + 1 = {n + 1}", Channel.telegram(300 + n)) for n in range(1, 4)]

        async def final(job_id: str):  # type: ignore[no-untyped-def]
            async for job in app.watch(job_id, poll_interval_s=0.1):
                last = job
            return last

        jobs = await asyncio.wait_for(asyncio.gather(*(final(r.job_id) for r in responses)), 30)
        assert [job.status for job in jobs] == [ProcessingStatus.READY] * 3
        assert len(local.rendered) == 3 and app.engines[1].renders == 0
        for _ in range(100):  # its slots' first connection attempt may still be under way
            if app.engines[1].error:
                break
            await asyncio.sleep(0.1)
        readiness = app.readiness()
        assert readiness["ready"]
        engine = readiness["checks"]["render_engines"]["engines"][down]
        assert not engine["ok"] and "cannot reach the Docker engine" in engine["error"]
        metrics = app.metrics_text()
        assert f'appliance_engine_up{{engine="{down}"}} 0' in metrics
        assert f'appliance_engine_render_slots{{engine="{down}"}} 2' in metrics
    finally:
        await app.stop()


class _UnreachableSandbox(FakeSandbox):
    def sweep_orphans(self) -> int:
        raise SandboxUnavailable("cannot reach the Docker engine: connection refused")


def test_an_unreachable_engine_does_not_stop_the_sweep_of_the_others() -> None:
    engines = [_engine("local", FakeSandbox()), _engine("tcp://gone:2376", _UnreachableSandbox())]
    assert sum(engine.sweep_orphans() for engine in engines) == 0
