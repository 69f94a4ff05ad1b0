"""Real ``appliance`` processes for integration tests (imported, not collected).

    with Processes(tmp_path) as procs:
        server = procs.serve(data_dir)                 # `appliance serve` on a free 127.0.0.1 port
        server.wait_serving()                          # its lifespan ran: the appliance is started
        render = procs.start("render", "Solve x + 1 = 3", "-o", out, data_dir=data_dir)
        render.wait(900)
        ...
    # every process still running is killed and reaped here, whatever the test did

Each process writes stdout and stderr to its own files under the test's directory (no pipe
can fill up and stall it); ``output()`` reads both.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from appliance.sandbox.docker import LABEL_OWNER, LABEL_ROLE, ROLE_SANDBOX

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_ROLE_LABEL = f"{LABEL_ROLE}={ROLE_SANDBOX}"
KEPT_ENVIRONMENT = ("PATH", "HOME", "LANG", "DOCKER_HOST", "SSL_CERT_FILE", "PYTHONPATH")


def appliance_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """A newcomer's environment: no API key, low quality, no warm container, this data directory."""
    keep = {k: v for k, v in os.environ.items() if k in KEPT_ENVIRONMENT}
    return {**keep, "APPLIANCE_DATA_DIR": str(data_dir), "APPLIANCE_RENDER_QUALITY": "low",
            "APPLIANCE_WARM_POOL_SIZE": "0", **extra}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ApplianceProcess:
    def __init__(self, popen: subprocess.Popen[bytes], stdout: Path, stderr: Path, base_url: str | None = None):
        self.popen = popen
        self.stdout_path = stdout
        self.stderr_path = stderr
        self.base_url = base_url

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def output(self) -> str:
        return self.stdout() + self.stderr()

    def wait(self, timeout_s: float) -> int:
        return self.popen.wait(timeout_s)

    def url(self, path: str) -> str:
        assert self.base_url is not None
        return self.base_url + path

    def wait_serving(self, timeout_s: float = 180.0) -> None:
        """Until /healthz answers (uvicorn answers only after the lifespan started the appliance)."""
        deadline = time.monotonic() + timeout_s
        with httpx.Client(trust_env=False, timeout=5) as client:
            while True:
                if self.popen.poll() is not None:
                    raise AssertionError(f"the server exited ({self.popen.returncode}):\n{self.output()[-3000:]}")
                try:
                    if client.get(self.url("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"the server did not start:\n{self.output()[-3000:]}")
                time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL, and reaped."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(60)

    def stop(self, timeout_s: float = 120.0) -> int:
        """SIGTERM (a graceful stop) and the exit status."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(timeout_s)


class Processes:
    """Starts ``python -m frontends.cli ...`` processes; kills and reaps the ones left at exit."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[ApplianceProcess] = []

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        for process in self.started:
            process.kill()

    def start(self, *args: str, data_dir: Path, base_url: str | None = None, **env: str) -> ApplianceProcess:
        index = len(self.started) + 1
        name = f"{index:02d}-{args[0]}"
        stdout, stderr = self.log_dir / f"{name}.out", self.log_dir / f"{name}.err"
        with stdout.open("wb") as out, stderr.open("wb") as err:
            popen = subprocess.Popen([sys.executable, "-m", "frontends.cli", *args], stdout=out, stderr=err,
                                     stdin=subprocess.DEVNULL, cwd=ROOT, env=appliance_env(data_dir, **env))
        process = ApplianceProcess(popen, stdout, stderr, base_url)
        self.started.append(process)
        return process

    def serve(self, data_dir: Path, port: int | None = None, **env: str) -> ApplianceProcess:
        port = port or free_port()
        return self.start("serve", "--host", "127.0.0.1", "--port", str(port), data_dir=data_dir,
                          base_url=f"http://127.0.0.1:{port}", **env)


def sandbox_containers(client: Any, owner_pids: Any = None) -> list[dict[str, Any]]:
    """Sandbox containers, optionally only those made by the given processes (other
    appliances may share the engine)."""
    # The low-level listing reads labels in one call: no per-container inspection that a
    # removal happening meanwhile could turn into a 404.
    found: list[dict[str, Any]] = client.api.containers(all=True, filters={"label": SANDBOX_ROLE_LABEL})
    if owner_pids is None:
        return found
    pids = {str(p) for p in owner_pids}
    return [c for c in found if (c.get("Labels") or {}).get(LABEL_OWNER, "::").split(":")[1] in pids]
