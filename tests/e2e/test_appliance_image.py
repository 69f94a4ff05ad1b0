"""The appliance as people start it: ./scripts/quickstart, behind a TLS-inspecting proxy.

Runs scripts/quickstart as the README says, with EXTRA_CA_CERTS set to the host's CA bundle (the
way through a TLS-inspecting proxy, which the CI machine has): it builds the appliance image
(its base, like the sandbox image's, comes from Debian packages in CI: no registry), builds the
sandbox image from inside the appliance container through the Docker socket (under a tag of its
own, APPLIANCE_SANDBOX_IMAGE, so the image the other tests use is not touched; a layer-cache hit
when CI built it from the same sources and CA first, a real build with pip through the proxy
otherwise), starts the appliance, submits a problem through the HTTP API, waits for READY and
downloads the video. The test checks it is a real MP4 of the expected length; then stops the
container with SIGTERM and checks it shut down cleanly.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import uuid
from pathlib import Path

import av
import docker
import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
IMAGE = "manim-appliance:e2e"
SANDBOX_IMAGE = "manim-appliance-sandbox:e2e"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
QUICKSTART_CA = ROOT / "certs" / "extra-quickstart.crt"  # where the quickstart puts EXTRA_CA_CERTS
GRACE_S = 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def quickstart_ca():
    """The quickstart copies EXTRA_CA_CERTS into the checkout's certs/: put back what was there."""
    before = QUICKSTART_CA.read_bytes() if QUICKSTART_CA.exists() else None
    yield HOST_CA_BUNDLE
    if before is None:
        QUICKSTART_CA.unlink(missing_ok=True)
    else:
        QUICKSTART_CA.write_bytes(before)


def test_the_quick_start_behind_a_tls_proxy_serves_a_video_and_stops_cleanly(tmp_path, quickstart_ca):
    assert quickstart_ca.is_file(), f"no host CA bundle at {quickstart_ca}"
    suffix = uuid.uuid4().hex[:8]
    name, volume, output = f"manim-appliance-e2e-{suffix}", f"manim-appliance-e2e-{suffix}", tmp_path / "first.mp4"
    env = {key: value for key, value in os.environ.items() if not key.startswith("APPLIANCE_")}
    env.update({
        "IMAGE": IMAGE, "NAME": name, "VOLUME": volume, "PORT": str(_free_port()), "OUTPUT": str(output),
        "EXTRA_CA_CERTS": str(quickstart_ca),
        "APPLIANCE_SANDBOX_IMAGE": SANDBOX_IMAGE, "APPLIANCE_RENDER_QUALITY": "low",
        "APPLIANCE_WARM_POOL_SIZE": "0", "APPLIANCE_SHUTDOWN_GRACE_S": str(GRACE_S),
    })
    client = docker.from_env()
    try:
        # A hang guard only: two image builds (cache hits in CI), a start and a render.
        run = subprocess.run([str(ROOT / "scripts" / "quickstart")], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=2400)
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
        assert f"done: {output}" in run.stdout, run.stdout[-2000:]

        container = client.containers.get(name)
        # The appliance renders with the sandbox image its own container built.
        assert container.attrs["Config"]["Image"] == IMAGE
        assert f"APPLIANCE_SANDBOX_IMAGE={SANDBOX_IMAGE}" in container.attrs["Config"]["Env"]
        built = client.images.get(SANDBOX_IMAGE)
        assert built.labels["manim-appliance.sandbox-image-version"]
        with av.open(io.BytesIO(output.read_bytes())) as media:
            assert media.streams.video, "no video stream"
            duration = float(media.duration or 0) / 1_000_000
            assert 3 <= duration <= 90, duration

        container.stop(timeout=GRACE_S + 15)  # SIGTERM; SIGKILL (exit code 137) only after that
        container.reload()
        exit_code = container.attrs["State"]["ExitCode"]
        logs = container.logs().decode(errors="replace")
        assert exit_code == 0, logs[-3000:]
        assert "Traceback" not in logs, logs[-3000:]
    finally:
        for remove in (lambda: client.containers.get(name).remove(force=True),
                       lambda: client.volumes.get(volume).remove(force=True),
                       lambda: client.images.remove(SANDBOX_IMAGE, noprune=True)):  # its layers stay cached
            try:
                remove()
            except docker.errors.NotFound:
                pass
        client.close()
