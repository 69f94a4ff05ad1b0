"""A real appliance process for the crash-recovery test (run as a script, not collected).

    python -m tests.integration.crash_driver submit DATA_DIR N   submit N jobs, print their ids, serve forever
    python -m tests.integration.crash_driver finish DATA_DIR     serve until no job is active, print a JSON report
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from appliance.assemble import build_appliance
from appliance.config import Settings
from appliance.models import ACTIVE_STATUSES
from appliance.service import Channel

PROBLEMS = ["Solve 2x + 3 = 11", "Solve x^2 - 5x + 6 = 0", "Find the derivative of x^3 + 2x",
            "Simplify (x^2 - 1)/(x - 1)", "What is 3/4 + 5/6?"]


def settings_for(data_dir: str) -> Settings:
    return Settings.from_env({}, data_dir=Path(data_dir), render_quality="low", warm_pool_size=0,
                             render_slots=1, shutdown_grace_s=0, maintenance_interval_s=3600)


async def submit(data_dir: str, count: int) -> None:
    app = build_appliance(settings_for(data_dir), run_maintenance=False)
    await app.start()
    for index in range(count):
        response = await app.submit(PROBLEMS[index % len(PROBLEMS)], Channel.telegram(1000 + index))
        print(response.job_id, flush=True)
    print("SUBMITTED", flush=True)
    while True:  # until SIGKILL
        await asyncio.sleep(3600)


async def finish(data_dir: str) -> None:
    app = build_appliance(settings_for(data_dir), run_maintenance=False)
    await app.start()
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline:
            jobs = list(app.store.iter_jobs())
            if not any(job.status in ACTIVE_STATUSES for job in jobs):
                break
            await asyncio.sleep(1)
        report = {
            "jobs": {job.job_id: {"status": job.status.value, "attempts": job.attempts,
                                  "message": job.status_message} for job in app.store.iter_jobs()},
            "queue_length": app.store.queue_length(),
            "running": app.store.running_count(),
        }
    finally:
        await app.stop()
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    mode, directory = sys.argv[1], sys.argv[2]
    if mode == "submit":
        asyncio.run(submit(directory, int(sys.argv[3])))
    else:
        asyncio.run(finish(directory))
