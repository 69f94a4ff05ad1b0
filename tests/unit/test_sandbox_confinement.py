"""Every sandbox container's confinement comes from one function, per runtime (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest
from docker.types import Ulimit

from appliance.config import Settings
from appliance.sandbox.docker import (
    BACKSTOP_CAPABILITIES,
    RUNSC_HOST_PIDS_BASE,
    RUNSC_HOST_PIDS_PER_TASK,
    container_confinement,
)


def settings(runtime: str, tmp_path: Path) -> Settings:
    return Settings.from_env({"APPLIANCE_SANDBOX_RUNTIME": runtime}, data_dir=tmp_path)


@pytest.mark.parametrize("runtime", ["runc", "runsc"])
def test_every_runtime_keeps_the_same_walls(runtime: str, tmp_path: Path) -> None:
    options = container_confinement(settings(runtime, tmp_path), 64)
    assert options["runtime"] == runtime
    assert options["network_mode"] == "none" and options["read_only"] is True
    assert options["cap_drop"] == ["ALL"] and options["security_opt"] == ["no-new-privileges:true"]
    # Containers that run no backstop (the doctor's probe) start as the scene's own user, not the
    # appliance's 10001, with no capability at all.
    assert options["user"] == "20001:20001" and options["cap_add"] == []
    # Render and check containers start as root for the backstop, with only its capabilities
    # (setpriv drops them, and the bounding set, before the scene or the checker runs).
    backstop = container_confinement(settings(runtime, tmp_path), 64, root_backstop=True)
    assert backstop["user"] == "0:0" and backstop["cap_add"] == BACKSTOP_CAPABILITIES
    assert {key: value for key, value in backstop.items() if key not in ("user", "cap_add")} == {
        key: value for key, value in options.items() if key not in ("user", "cap_add")}


def test_under_runc_the_engine_counts_the_scenes_processes(tmp_path: Path) -> None:
    options = container_confinement(settings("runc", tmp_path), 64, [Ulimit(name="nofile", soft=9, hard=9)])
    assert options["pids_limit"] == 64
    # RLIMIT_NPROC would count every sandbox of the render user's id on the host together.
    assert [u["Name"] for u in options["ulimits"]] == ["nofile"]


def test_under_runsc_gvisor_counts_them_and_the_host_bounds_gvisor(tmp_path: Path) -> None:
    options = container_confinement(settings("runsc", tmp_path), 64, [Ulimit(name="nofile", soft=9, hard=9)])
    limits = {u["Name"]: (u["Soft"], u["Hard"]) for u in options["ulimits"]}
    assert limits == {"nofile": (9, 9), "nproc": (64, 64)}
    assert options["pids_limit"] == RUNSC_HOST_PIDS_BASE + RUNSC_HOST_PIDS_PER_TASK * 64
