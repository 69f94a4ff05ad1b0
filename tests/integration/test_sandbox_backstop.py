"""The in-container backstop against a scene that freezes it, with the appliance killed: the
container still ends (finding 6 of issue 14). Nobody is left to kill it from outside, so only a
backstop the scene's user cannot signal ends it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

from appliance.sandbox.docker import BACKSTOP_MARGIN_S, LABEL_OWNER, LABEL_ROLE
from tests.integration.sandbox_fixtures import processes_in_container

pytestmark = pytest.mark.docker

HOSTILE = Path(__file__).parent / "hostile"
# The appliance's own limit, which it never reaches here: it is killed first.
RENDER_TIMEOUT_S = 60.0
MARKER = "BACKSTOP-ATTACK"


def test_the_backstop_stopped_by_the_scene_with_the_appliance_killed(tmp_path: Path) -> None:
    client = docker.from_env()
    driver = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.backstop_driver", str(tmp_path), str(RENDER_TIMEOUT_S),
         str(HOSTILE / "stop_backstop.py")],
        stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    owner = ""
    try:
        assert driver.stdout is not None
        owner = driver.stdout.readline().split()[-1]
        container, seen_at, attack = None, 0.0, ""
        give_up = time.monotonic() + 300  # a cold start on a busy machine; the marker usually takes seconds
        while not attack and time.monotonic() < give_up and driver.poll() is None:
            found = client.containers.list(filters={"label": [f"{LABEL_ROLE}=sandbox", f"{LABEL_OWNER}={owner}"]})
            if found and container is None:
                container, seen_at = found[0], time.monotonic()
            if container is not None:
                attack = next((line for line in container.logs(stdout=False, stderr=True).decode().splitlines()
                               if line.startswith(MARKER)), "")
            time.sleep(0.5)
        assert container is not None and attack, "the scene never ran its attack"
        driver.kill()  # the appliance is gone: nobody will kill or remove the container now
        driver.wait()
        container.reload()
        assert container.status == "running", "the appliance's deadline ended the render first: nothing was tested"
        bound = seen_at + RENDER_TIMEOUT_S + 60  # the backstop fires at the limit + BACKSTOP_MARGIN_S
        assert BACKSTOP_MARGIN_S < 60
        while container.status == "running" and time.monotonic() < bound:
            time.sleep(1)
            container.reload()
        assert container.status == "exited", f"the container still runs {RENDER_TIMEOUT_S + 60:.0f} s after it started"
        assert processes_in_container(container.id) == []
        # The scene could not freeze its parent (the backstop) nor PID 1 (kill(-1) reaches only its
        # own processes).
        parent, init = attack.removeprefix(f"{MARKER} ").split("; ")[:2]
        assert parent.endswith(": Operation not permitted") and init == "1: Operation not permitted", attack
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
        if owner:
            for leftover in client.containers.list(all=True, filters={"label": f"{LABEL_OWNER}={owner}"}):
                leftover.remove(force=True, v=True)
        client.close()
