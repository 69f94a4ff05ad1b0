"""Pytest fixtures for a real DockerSandbox on the real engine; import them where needed:

    from tests.integration.sandbox_fixtures import docker_sandbox, sandbox_settings  # noqa: F401

``docker_sandbox`` is session-scoped (one warm pool for the whole run). A missing or
outdated image fails the test with the command that fixes it: it is never skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.config import Settings
from appliance.errors import SandboxError
from appliance.sandbox.connection import open_local_client
from appliance.sandbox.docker import DockerSandbox

SANDBOX_UID = 20001  # the scene's user; the appliance image runs as 10001


def make_sandbox_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for tests: low quality, short limits, no environment read."""
    values: dict[str, Any] = {
        "render_timeout_s": 60.0,
        "render_quality": "low",
        "warm_pool_size": 1,
    }
    values.update(overrides)
    return Settings.from_env({}, data_dir=data_dir, **values)


def open_sandbox(settings: Settings) -> DockerSandbox:
    """A DockerSandbox whose image is checked; fails the test (not skips) if it cannot run."""
    try:
        sandbox = DockerSandbox(settings, open_local_client())
        sandbox.ping()
        sandbox.check_image()
    except SandboxError as exc:
        pytest.fail(f"the sandbox cannot run here: {exc}", pytrace=False)
    return sandbox


def require_runtime(sandbox: DockerSandbox) -> None:
    """Skip (a failure in CI, tests/conftest.py) unless the engine runs the sandbox's runtime:
    runsc needs gVisor installed and registered (README; .ci/run does it)."""
    try:
        sandbox.check_runtime()
    except SandboxError as exc:
        sandbox.close()
        pytest.skip(f"the {sandbox.settings.sandbox_runtime} runtime does not run here: {exc}")


def container_exists(sandbox: DockerSandbox, container_id: str) -> bool:
    """Whether that container still exists in any state (after background removals end)."""
    sandbox.wait_for_removals()
    return bool(sandbox._client.containers.list(all=True, filters={"id": container_id}))


def processes_in_container(container_id: str) -> list[int]:
    """Host pids whose cgroup belongs to that container (none once it is gone)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if container_id in (proc / "cgroup").read_text():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


@pytest.fixture(scope="session")
def sandbox_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_sandbox_settings(tmp_path_factory.mktemp("sandbox-data"))


@pytest.fixture(scope="session")
def docker_sandbox(sandbox_settings: Settings) -> Iterator[DockerSandbox]:
    sandbox = open_sandbox(sandbox_settings)
    sandbox.warm_up()
    yield sandbox
    sandbox.close()
