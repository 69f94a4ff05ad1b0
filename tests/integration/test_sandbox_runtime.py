"""`appliance doctor` on the sandbox runtime (APPLIANCE_SANDBOX_RUNTIME), against the real engine:
it says whether the runtime is registered and whether a network-less container of the sandbox
image really runs under it. runsc needs gVisor registered (README; .ci/run does it): without it
the runsc case is skipped here, which CI counts as a failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.config import SANDBOX_RUNTIMES
from appliance.errors import SandboxUnavailable
from tests.integration.sandbox_fixtures import make_sandbox_settings, open_sandbox, require_runtime

pytestmark = pytest.mark.docker


@pytest.mark.parametrize("runtime", SANDBOX_RUNTIMES)
def test_doctor_says_the_runtime_is_registered_and_runs(tmp_path: Path, runtime: str) -> None:
    sandbox = open_sandbox(make_sandbox_settings(tmp_path, sandbox_runtime=runtime, warm_pool_size=0))
    require_runtime(sandbox)
    sandbox.close()
    env = {**os.environ, "APPLIANCE_DATA_DIR": str(tmp_path / "data"), "APPLIANCE_SANDBOX_RUNTIME": runtime}
    result = subprocess.run([sys.executable, "-m", "frontends.cli", "doctor", "--json", "--offline"],
                            env=env, capture_output=True, text=True, timeout=300)
    checks = {check["name"]: check for check in json.loads(result.stdout)}
    check = checks["sandbox runtime"]
    assert check["ok"], check
    assert check["detail"].startswith(f"{runtime} registered; a network-less ")
    if runtime == "runsc":
        assert "on gVisor's kernel" in check["detail"] and "not the host's" in check["detail"]
    else:
        assert "with Docker's seccomp filter" in check["detail"]


def test_a_runtime_the_engine_lacks_is_named_with_what_it_has(tmp_path: Path) -> None:
    settings = make_sandbox_settings(tmp_path, warm_pool_size=0)
    # Past the setting's own check (only runc and runsc parse): an engine without the runtime.
    object.__setattr__(settings, "sandbox_runtime", "runsc-not-registered")
    sandbox = open_sandbox(settings)
    try:
        with pytest.raises(SandboxUnavailable, match=r"has no runtime named runsc-not-registered \(it has .*runc"):
            sandbox.check_runtime()
    finally:
        sandbox.close()
