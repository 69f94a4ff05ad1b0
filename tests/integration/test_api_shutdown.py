"""``serve`` under SIGTERM: open event streams end at once, the process exits cleanly, and a
job cut off mid-render is still there, waiting to be picked up again (in a child process, with
stand-ins for the model and the sandbox; everything else is real)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx

from appliance.models import ProcessingStatus
from appliance.store import Store
from tests.integration.server_fixtures import bound_socket

REPO_ROOT = Path(__file__).resolve().parents[2]
RESTARTING = "The server is restarting; reconnect shortly."

CHILD = textwrap.dedent("""
    import sys, threading
    from pathlib import Path
    from appliance.assemble import build_appliance
    from appliance.config import Settings
    from frontends.server import serve
    from tests.unit.fakes import FakeGenerator, FakeSandbox

    data_dir, port = Path(sys.argv[1]), int(sys.argv[2])
    settings = Settings.from_env({}, data_dir=data_dir, host="127.0.0.1", port=port, render_slots=1,
                                 warm_pool_size=0, shutdown_grace_s=2, log_level="info", web_ui=False)
    never = threading.Event()  # the render never finishes by itself
    appliance = build_appliance(settings, source=FakeGenerator(), renderer=FakeSandbox(hold=never),
                                run_maintenance=False)
    serve(settings, appliance=appliance)
""")


def test_sigterm_ends_streams_and_stops_cleanly(tmp_path):
    sock = bound_socket()
    port = sock.getsockname()[1]
    sock.close()  # the child binds it; a race with another process is unlikely on loopback
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), str(port)], cwd=REPO_ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert child.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        accepted = httpx.post(base + "/api/jobs", json={"problem_text": "Solve 2x + 3 = 11"}).json()
        job_id, owner = accepted["job_id"], {"X-Job-Token": accepted["job_token"]}
        lines: list[str] = []
        with httpx.stream("GET", f"{base}/api/jobs/{job_id}/events", headers=owner, timeout=30) as stream:
            for line in stream.iter_lines():
                lines.append(line)
                if line.startswith("data:") and json.loads(line[5:]).get("job_status") == "rendering":
                    os.kill(child.pid, signal.SIGTERM)
        # The server ended the stream itself, with a last word, while the render it follows
        # never finishes; cut off by uvicorn's timeout or the process's end, it would not say so.
        said = [line for line in lines if line]
        assert said[-2:] == ["event: shutdown", f"data: {json.dumps({'message': RESTARTING})}"], said
        exit_code = child.wait(120)  # a hang guard only: the render slot's grace is 2 s
    finally:
        if child.poll() is None:
            child.kill()
        output = child.communicate()[0]
    assert exit_code == 0, output
    store = Store(tmp_path / "store")
    try:
        job = store.get_job(job_id)
        # Cut off mid-render: still in flight, so the next start re-queues it.
        assert job.status in (ProcessingStatus.RENDERING, ProcessingStatus.QUEUED), job.status
        assert job_id in store.recover() or job.status is ProcessingStatus.QUEUED
    finally:
        store.close()
