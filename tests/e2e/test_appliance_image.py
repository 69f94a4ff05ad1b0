"""The appliance as people run it: one `docker run` of the appliance image.

Builds the appliance image (its base, like the sandbox image's, comes from Debian packages in
CI: no registry), runs it with the Docker socket mounted and --network host, waits for
/readyz, submits a problem through the HTTP API, polls to READY, downloads the video and
checks it is a real MP4 of the expected length; then stops it with SIGTERM and checks it
shut down cleanly within the grace period.
"""

from __future__ import annotations

import io
import socket
import subprocess
import time
from pathlib import Path

import av
import docker
import httpx
import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
IMAGE = "manim-appliance:e2e"
GRACE_S = 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def appliance_image():
    build = subprocess.run(["docker", "build", "--network", "host", "-t", IMAGE, "."], cwd=ROOT,
                           capture_output=True, text=True, timeout=1200)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return IMAGE


def test_docker_run_serves_a_video_and_stops_cleanly(appliance_image):
    client = docker.from_env()
    port = _free_port()
    container = client.containers.run(
        appliance_image, ["serve"], detach=True, network_mode="host",
        volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"}},
        environment={"APPLIANCE_PORT": str(port), "APPLIANCE_RENDER_QUALITY": "low",
                     "APPLIANCE_WARM_POOL_SIZE": "0", "APPLIANCE_SHUTDOWN_GRACE_S": str(GRACE_S),
                     "APPLIANCE_PUBLIC_URL": f"http://127.0.0.1:{port}"},
        labels={"manim-appliance.test": "e2e"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=10, trust_env=False) as http:
            deadline = time.monotonic() + 180
            ready = None
            while time.monotonic() < deadline:
                try:
                    ready = http.get("/readyz")
                    if ready.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                container.reload()
                assert container.status == "running", container.logs()[-3000:].decode()
                time.sleep(1)
            assert ready is not None and ready.status_code == 200, (ready and ready.text, container.logs()[-3000:])
            assert ready.json()["checks"]["sandbox_image"]["ok"]

            submitted = http.post("/api/jobs", json={"problem_text": "Solve 2x + 3 = 11"})
            assert submitted.status_code == 202, submitted.text
            job_id = submitted.json()["job_id"]
            deadline = time.monotonic() + 300
            state = {}
            while time.monotonic() < deadline:
                state = http.get(f"/api/jobs/{job_id}", headers={"X-Job-Token": submitted.json()["job_token"]}).json()
                if state["status"] in ("ready", "failed"):
                    break
                time.sleep(1)
            assert state.get("status") == "ready", state
            video = http.get(state["video_url"])
            assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
            with av.open(io.BytesIO(video.content)) as media:
                assert media.streams.video, "no video stream"
                duration = float(media.duration or 0) / 1_000_000
                assert 3 <= duration <= 90, duration

        started = time.monotonic()
        container.stop(timeout=GRACE_S + 15)  # SIGTERM, then SIGKILL only after the timeout
        stopped_after = time.monotonic() - started
        container.reload()
        exit_code = container.attrs["State"]["ExitCode"]
        logs = container.logs().decode(errors="replace")
        assert exit_code == 0, logs[-3000:]
        assert stopped_after < GRACE_S + 10, stopped_after
        assert "Traceback" not in logs, logs[-3000:]
    finally:
        container.remove(force=True)
        client.close()
