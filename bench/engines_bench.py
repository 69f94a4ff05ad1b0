"""Render engines benchmark: does a second Docker engine add render slots as well as a local
slot does? Prints jobs per minute measured side by side in one run, on a burst of built-in jobs:

    sudo python bench/engines_bench.py [--burst 8] [--quality low]

  A  the local engine, 1 slot
  B  the local engine, 2 slots
  C  the local engine, 1 slot + a second engine (its own dockerd, mutual TLS on 127.0.0.1), 1 slot

C / A is what adding an engine gains; C / B is what spreading over engines costs against the
same number of local slots (1.0: nothing). On one machine both engines share its CPUs, so
this measures the routing, TLS and copy overhead, not a bigger machine's extra power.

Needs root (it starts the second dockerd) and the sandbox image (`appliance sandbox build`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # the second engine is started by the tests' own helper

from appliance.assemble import build_appliance  # noqa: E402
from appliance.config import Settings  # noqa: E402
from appliance.service import Channel  # noqa: E402
from bench.service_bench import PROBLEMS, wait_all  # noqa: E402
from tests.integration.engine_fixtures import SecondEngine, second_engine  # noqa: E402


async def burst(label: str, settings: Settings, count: int) -> float:
    app = build_appliance(settings, run_maintenance=False)
    await app.start()
    try:
        for engine in app.engines[1:]:
            deadline = time.monotonic() + 600
            while not engine.up:  # the image is copied there first (not part of the timing)
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{engine.name} did not come up: {engine.error}")
                await asyncio.sleep(0.5)
        started = time.monotonic()
        ids = [(await app.submit(PROBLEMS[i % len(PROBLEMS)], Channel.web())).job_id for i in range(count)]
        await wait_all(app, ids)
        elapsed = time.monotonic() - started
        ready = sum([(await app.get(job_id)).status.value == "ready" for job_id in ids])
        spread = ", ".join(f"{engine.name}: {engine.renders}" for engine in app.engines)
        print(f"  {label}: {count} jobs in {elapsed:.1f} s, {ready} ready (renders by engine: {spread})")
        return count / elapsed * 60
    finally:
        await app.stop()


def settings_for(data_dir: Path, quality: str, slots: int, engine: SecondEngine | None) -> Settings:
    extra = ((engine.url, 1),) if engine is not None else ()
    return Settings.from_env(
        {}, data_dir=data_dir, render_slots=slots, render_quality=quality, warm_pool_size=0, code_cache=False,
        max_active_jobs_per_session=1000, max_submissions_per_hour=100000, maintenance_interval_s=3600,
        render_engines=extra, render_engines_tls_dir=engine.tls_dir if engine is not None else None)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--burst", type=int, default=8)
    parser.add_argument("--quality", default="low")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, second_engine() as engine:
        root = Path(scratch)
        one = await burst("A  local, 1 slot", settings_for(root / "a", args.quality, 1, None), args.burst)
        two = await burst("B  local, 2 slots", settings_for(root / "b", args.quality, 2, None), args.burst)
        spread = await burst("C  local 1 + second engine 1", settings_for(root / "c", args.quality, 1, engine),
                             args.burst)
    print(f"jobs/min: A {one:.1f}, B {two:.1f}, C {spread:.1f}")
    print(f"C / A (gain of adding an engine): {spread / one:.2f}")
    print(f"C / B (two engines against two local slots; 1.00 = no overhead): {spread / two:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
