"""The sandbox against the real engine: hardening as the engine reports it, the image
check, orphan sweeping, the warm pool, concurrency, an unreachable engine, the CLI."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from appliance.config import Settings
from appliance.errors import SandboxImageMissing, SandboxUnavailable
from appliance.sandbox.connection import open_local_client
from appliance.sandbox.docker import (
    LABEL_DEADLINE,
    LABEL_OWNER,
    LABEL_ROLE,
    DockerSandbox,
    owner_token,
)
from appliance.sandbox.result import RenderStatus
from tests.integration.sandbox_fixtures import (
    container_exists,
    make_sandbox_settings,
    open_sandbox,
)

pytestmark = pytest.mark.docker

HOSTILE = Path(__file__).parent / "hostile"
NORMAL = (HOSTILE / "normal.py").read_text()
BASE_IMAGE = "debian:bookworm-slim"
SHOW_CPU_SHARES = (  # cgroup v1 reports shares; v2 a weight (the engine maps shares 1024 to weight 39)
    "from pathlib import Path\nfrom manim import Scene\n\nclass Probe(Scene):\n    def construct(self):\n"
    "        for name in ('cpu/cpu.shares', 'cpu.weight'):\n"
    "            path = Path('/sys/fs/cgroup') / name\n"
    "            if path.exists():\n"
    "                raise RuntimeError(f'{path.name}={path.read_text().strip()}')\n"
)
FULL_CPU_WEIGHT = ("cpu.shares=1024", "cpu.weight=39")


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_sandbox_settings(tmp_path_factory.mktemp("sandbox"), warm_pool_size=0, render_timeout_s=60)


@pytest.fixture(scope="module")
def cold_sandbox(settings: Settings) -> Iterator[DockerSandbox]:
    sandbox = open_sandbox(settings)
    yield sandbox
    sandbox.close()


@pytest.fixture(scope="module")
def client() -> Iterator[docker.DockerClient]:
    engine = docker.from_env()
    yield engine
    engine.close()


def test_a_container_is_hardened_as_the_engine_reports_it(cold_sandbox: DockerSandbox) -> None:
    started = cold_sandbox.start_container(0.0)
    try:
        started.container.reload()
        attrs = started.container.attrs
        host = attrs["HostConfig"]
        settings = cold_sandbox.settings
        assert host["NetworkMode"] == "none"
        assert host["ReadonlyRootfs"] is True
        # Only what the root backstop needs to drop the scene to its user and to kill it; the
        # scene itself has none (test_privileges_are_really_gone).
        assert host["CapDrop"] == ["ALL"] and sorted(host["CapAdd"]) == ["KILL", "SETGID", "SETPCAP", "SETUID"]
        assert host["SecurityOpt"] == ["no-new-privileges:true"]  # and no seccomp=unconfined
        assert host["Privileged"] is False
        assert host["PidsLimit"] == settings.render_pids
        assert host["Memory"] == host["MemorySwap"] == settings.render_memory_mb * 1024 * 1024
        assert host["NanoCpus"] == int(settings.render_cpus * 1e9)
        assert host["Init"] is True
        assert not host.get("Binds"), "no host bind mounts"
        assert host["LogConfig"] == {"Type": "json-file",
                                     "Config": {"max-size": f"{settings.render_log_kb}k", "max-file": "1"}}
        ulimits = {u["Name"]: u["Hard"] for u in host["Ulimits"]}
        assert ulimits["nofile"] == settings.render_nofile
        assert ulimits["fsize"] == (settings.render_max_video_mb + 1) * 1024 * 1024
        assert "noexec" in host["Tmpfs"]["/tmp"]
        assert attrs["Config"]["User"] == "0:0"  # the backstop's; setpriv runs the runner as 20001
        assert attrs["Config"]["Entrypoint"][:5] == ["timeout", "-s", "KILL", attrs["Config"]["Entrypoint"][3],
                                                     "setpriv"]
        mounts = attrs["Mounts"]
        assert [(m["Type"], m["Destination"]) for m in mounts] == [("volume", "/work")]
        assert attrs["Config"]["Labels"][LABEL_ROLE] == "sandbox"
        assert set(attrs["Config"]["Env"]) >= {"HOME=/work"}
        assert not [e for e in attrs["Config"]["Env"] if "KEY" in e or "TOKEN" in e or "SECRET" in e]
    finally:
        cold_sandbox.discard(started)
    assert not container_exists(cold_sandbox, started.id)


def test_a_cold_render_produces_a_video_and_removes_its_container(cold_sandbox: DockerSandbox) -> None:
    result = cold_sandbox.render(NORMAL, "Hostile", "low")
    assert result.status is RenderStatus.OK, result.to_dict()
    assert result.video_path is not None and result.video_path.parent == cold_sandbox.videos_dir
    assert result.video_size_bytes and result.video_size_bytes > 1000
    result.video_path.unlink()
    assert result.container_id and not container_exists(cold_sandbox, result.container_id)
    volumes = docker.from_env().volumes.list(filters={"label": f"{LABEL_ROLE}=sandbox", "dangling": True})
    assert not [v for v in volumes if v.attrs["Labels"].get("manim-appliance.instance") == cold_sandbox.instance_id]


def test_the_encoder_preset_setting_reaches_x264(cold_sandbox: DockerSandbox, settings: Settings) -> None:
    # x264 writes its options into the stream; ultrafast is the preset without CABAC.
    fast = cold_sandbox.render(NORMAL, "Hostile", "low")
    assert fast.status is RenderStatus.OK and fast.video_path is not None
    fast_bytes = fast.video_path.read_bytes()
    fast.video_path.unlink()
    assert cold_sandbox.settings.render_encoder_preset == "ultrafast" and b"cabac=0" in fast_bytes
    default_sandbox = open_sandbox(settings.replace(render_encoder_preset="medium"))
    try:
        manim_default = default_sandbox.render(NORMAL, "Hostile", "low")
    finally:
        default_sandbox.close()
    assert manim_default.status is RenderStatus.OK and manim_default.video_path is not None
    assert b"cabac=1" in manim_default.video_path.read_bytes() and b"crf=23.0" in fast_bytes
    manim_default.video_path.unlink()


def test_the_scene_is_found_without_a_name(cold_sandbox: DockerSandbox) -> None:
    result = cold_sandbox.render(NORMAL, "", "low")
    assert result.status is RenderStatus.OK, result.to_dict()
    assert result.video_path is not None
    result.video_path.unlink()


def test_the_prelude_runs_in_the_scene_namespace_first(cold_sandbox: DockerSandbox) -> None:
    prelude = "from manim import Square\ndef compat_shape():\n    return Square()\n"
    code = ("from manim import *\n\nclass UsesPrelude(Scene):\n    def construct(self):\n"
            "        self.play(FadeIn(compat_shape()), run_time=0.3)\n")
    result = cold_sandbox.render(code, "UsesPrelude", "low", prelude=prelude)
    assert result.status is RenderStatus.OK, result.to_dict()
    assert result.video_path is not None
    result.video_path.unlink()
    without = cold_sandbox.render(code, "UsesPrelude", "low")
    assert without.status is RenderStatus.SCENE_ERROR and "compat_shape" in without.stderr_tail


def test_a_wrong_scene_name_is_a_scene_error_listing_the_real_ones(cold_sandbox: DockerSandbox) -> None:
    result = cold_sandbox.render(NORMAL, "Missing", "low")
    assert result.status is RenderStatus.SCENE_ERROR
    assert "no Scene class named 'Missing'" in result.stderr_tail and "Hostile" in result.stderr_tail


def test_the_image_check_names_the_command_to_run(settings: Settings, client: docker.DockerClient) -> None:
    missing = DockerSandbox(settings.replace(sandbox_image="manim-appliance-sandbox:does-not-exist"),
                            open_local_client())
    with pytest.raises(SandboxImageMissing, match="appliance sandbox build"):
        missing.check_image()
    result = missing.render(NORMAL, "Hostile", "low")
    assert result.status is RenderStatus.UNAVAILABLE and "appliance sandbox build" in result.detail
    missing.close()

    client.images.get(BASE_IMAGE).tag("manim-appliance-test-wrong-version", "1")
    try:
        wrong = DockerSandbox(settings.replace(sandbox_image="manim-appliance-test-wrong-version:1"),
                              open_local_client())
        with pytest.raises(SandboxImageMissing, match=r"version .* rebuild it with `appliance sandbox build`"):
            wrong.check_image()
        wrong.close()
    finally:
        client.images.remove("manim-appliance-test-wrong-version:1")


def test_an_unreachable_engine_is_unavailable_not_a_crash(settings: Settings, tmp_path: Path) -> None:
    dead = docker.DockerClient(base_url=f"unix://{tmp_path}/no-docker.sock", version="1.41", timeout=5)
    sandbox = DockerSandbox(settings, docker_client=dead)
    with pytest.raises(SandboxUnavailable):
        sandbox.ping()
    result = sandbox.render(NORMAL, "Hostile", "low")
    assert result.status is RenderStatus.UNAVAILABLE
    assert result.message == "The renderer is unavailable right now; please try again later."
    with pytest.raises(SandboxUnavailable):
        sandbox.sweep_orphans()
    sandbox.close()


def test_sweep_removes_orphans_and_spares_live_owners(settings: Settings) -> None:
    sweeper = open_sandbox(settings)
    crashed = DockerSandbox(settings, open_local_client())
    crashed.owner = owner_token().rsplit(":", 2)[0] + ":999999999:0"  # a pid that cannot be alive
    expired = DockerSandbox(settings, open_local_client())
    alive = DockerSandbox(settings, open_local_client())  # another live appliance process on this host (us)
    # An appliance that ran in a container on this engine (host name = container id), now stopped.
    stopped_appliance = sweeper._client.containers.create(BASE_IMAGE, ["true"], labels={"manim-appliance.test": "x"})
    gone_with_its_container = DockerSandbox(settings, open_local_client())
    gone_with_its_container.owner = f"{stopped_appliance.id[:12]}:1:12345"
    orphan = crashed.start_container(0.0)
    orphan_of_container = gone_with_its_container.start_container(0.0)
    stale = expired.start_container(0.0)
    live = alive.start_container(0.0)
    try:
        # Labels are fixed at creation, so make a past-deadline one by hand.
        past = {**stale.container.labels, LABEL_DEADLINE: str(int(time.time()) - 10)}
        expired.discard(stale)
        stale_container = expired._client.containers.create(BASE_IMAGE, ["sleep", "60"], labels=past)
        assert stale_container.labels[LABEL_OWNER] == expired.owner

        removed = sweeper.sweep_orphans()
        assert removed >= 3
        assert not container_exists(sweeper, orphan.id)
        assert not container_exists(sweeper, orphan_of_container.id)
        assert not container_exists(sweeper, stale_container.id)
        assert container_exists(sweeper, live.id), "a live appliance's container was swept"
        # (`sweep --all` is not exercised here: it would also take other test runs' containers.)
    finally:
        for sandbox in (crashed, expired, alive, gone_with_its_container, sweeper):
            sandbox.close()
        stopped_appliance.remove(force=True)


def test_the_warm_pool_serves_each_container_once_and_refills(tmp_path: Path) -> None:
    sandbox = open_sandbox(make_sandbox_settings(tmp_path, warm_pool_size=1))
    try:
        sandbox.warm_up()
        pool = sandbox._pool
        assert pool.wait_until_full(120)
        warm_name = pool._idle[0].name
        first = sandbox.render(NORMAL, "Hostile", "low")
        assert first.status is RenderStatus.OK, first.to_dict()
        assert pool.served == 1
        assert pool.wait_until_full(120)
        assert pool._idle[0].name != warm_name, "a warm container must never be reused"
        # Warming up at a token CPU weight; the render that takes it gets the full weight.
        pool._idle[0].container.reload()
        assert pool._idle[0].container.attrs["HostConfig"]["CpuShares"] == 16
        probe = sandbox.render(SHOW_CPU_SHARES, "Probe", "low")
        assert probe.status is RenderStatus.SCENE_ERROR, probe.to_dict()
        assert any(weight in probe.stderr_tail for weight in FULL_CPU_WEIGHT), probe.to_dict()
        assert pool.wait_until_full(120)
        second = sandbox.render(NORMAL, "Hostile", "low")
        assert second.status is RenderStatus.OK and second.container_id != first.container_id
        for result in (first, second):
            assert result.video_path is not None
            result.video_path.unlink()
            assert not container_exists(sandbox, str(result.container_id))
    finally:
        sandbox.close()
    assert not docker.from_env().containers.list(
        all=True, filters={"label": f"manim-appliance.instance={sandbox.instance_id}"})


def test_a_warm_container_that_died_while_idle_is_replaced_by_a_cold_one(tmp_path: Path) -> None:
    sandbox = open_sandbox(make_sandbox_settings(tmp_path, warm_pool_size=1))
    try:
        sandbox.warm_up()
        assert sandbox._pool.wait_until_full(120)
        dead = sandbox._pool._idle[0].container
        dead.kill()
        dead.wait(timeout=60)  # it has exited (kill only sends the signal)
        result = sandbox.render(NORMAL, "Hostile", "low")
        assert result.status is RenderStatus.OK, result.to_dict()
        assert result.video_path is not None
        result.video_path.unlink()
    finally:
        sandbox.close()


def test_two_renders_at_once_both_succeed(tmp_path: Path) -> None:
    sandbox = open_sandbox(make_sandbox_settings(tmp_path, warm_pool_size=1))
    results = []
    try:
        threads = [threading.Thread(target=lambda: results.append(sandbox.render(NORMAL, "Hostile", "low")))
                   for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert [r.status for r in results] == [RenderStatus.OK, RenderStatus.OK], [r.to_dict() for r in results]
        assert len({r.video_path for r in results}) == 2
    finally:
        sandbox.close()


# -- the command line ------------------------------------------------------------------------

@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("APPLIANCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("APPLIANCE_RENDER_QUALITY", "low")
    monkeypatch.setenv("APPLIANCE_WARM_POOL_SIZE", "3")  # `sandbox run` must not start a pool anyway
    return tmp_path


def test_cli_run_json_reports_a_video(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from frontends.cli import main

    output = cli_env / "out.mp4"
    code = main(["sandbox", "run", str(HOSTILE / "normal.py"), "--scene", "Hostile", "-o", str(output), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert report["status"] == "ok" and report["exit_code"] == 0
    assert report["video_path"] == str(output) and output.stat().st_size == report["video_size_bytes"]
    assert set(report) >= {"status", "exit_code", "message", "stderr_tail", "duration_s", "video_path",
                           "video_size_bytes"}


def test_cli_run_reports_a_failure_with_exit_code_1(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from frontends.cli import main

    code = main(["sandbox", "run", str(HOSTILE / "python_error.py"), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["status"] == "scene_error" and "shift_and_twirl" in report["stderr_tail"]
    assert report["video_path"] is None


def test_cli_run_text_output(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from frontends.cli import main

    code = main(["sandbox", "run", str(HOSTILE / "plays_nothing.py")])
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("no_video: The animation finished without producing a video")


def test_cli_sweep(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from frontends.cli import main

    assert main(["sandbox", "sweep"]) == 0
    assert capsys.readouterr().out.startswith("local: removed ")
