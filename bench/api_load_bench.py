"""Load check of the acceptance path: many clients submitting at once through the HTTP API.

    python bench/api_load_bench.py                    # 200 POSTs from 20 clients, three scenarios
    python bench/api_load_bench.py --requests 400 --clients 40
    python bench/api_load_bench.py --workers          # also run the worker (fake renders) meanwhile

The whole server (API + web UI + lifespan) runs in a child process on 127.0.0.1 with the real
store, queue, limits and local storage, and in-process stand-ins for the model and the sandbox
(the point is the HTTP acceptance path, not rendering). Scenarios:

    fresh     every request without a session: a new session each, so no limit applies
    clients   each client keeps its own session (per-session limits refuse some, with reasons)
    flood     every request in one session: the limits refuse nearly all, each with a reason

Printed for each: answered (accepted / refused by code), lost requests (no answer or a 5xx),
jobs found in the store afterwards vs. accepted, p50/p99/max acceptance latency, and /healthz
polled every 50 ms throughout (answers, failures, worst latency).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import multiprocessing
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import httpx  # noqa: E402

PROBLEMS = [
    "Solve 2x + 3 = 11", "Solve x^2 - 5x + 6 = 0", "Integrate x^2 from 0 to 3",
    "Find the derivative of x^3 + 2x", "Factor x^2 + 7x + 12", "Expand (x + 2)^3",
]


def _serve(data_dir: str, workers: bool, ready: Any, stop: Any) -> None:
    """Child process: the real server with fake generator and sandbox, until ``stop`` is set."""
    from appliance.assemble import build_appliance
    from appliance.service import Appliance
    from tests.integration.server_fixtures import running_server
    from tests.unit.fakes import FakeGenerator, FakeSandbox

    def make(settings: Any) -> Appliance:
        return build_appliance(settings, source=FakeGenerator(), renderer=FakeSandbox(), run_workers=workers,
                               run_maintenance=False)

    with running_server(Path(data_dir), make, render_slots=1, log_level="error") as server:
        ready.put(server.base_url)
        stop.wait()


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    codes: collections.Counter[str] = field(default_factory=collections.Counter)
    accepted_ids: list[str] = field(default_factory=list)
    lost: int = 0


async def _submit(client: httpx.AsyncClient, body: dict[str, Any], outcome: Outcome) -> str | None:
    started = time.perf_counter()
    try:
        response = await client.post("/api/jobs", json=body)
    except httpx.HTTPError as exc:
        outcome.lost += 1
        outcome.codes[f"no answer: {type(exc).__name__}"] += 1
        return None
    outcome.latencies.append(time.perf_counter() - started)
    if response.status_code == 202:
        data = response.json()
        outcome.codes["accepted"] += 1
        outcome.accepted_ids.append(data["job_id"])
        return str(data["session_token"])  # the key that files the next job into the same session
    if response.status_code >= 500:
        outcome.lost += 1
    try:
        code = response.json()["error"]["code"]
    except Exception:
        code = f"http {response.status_code} without a reason"
        outcome.lost += 1
    outcome.codes[code] += 1
    return None


async def _poll_health(base_url: str, stop: asyncio.Event) -> dict[str, float]:
    answered = failed = 0
    worst = 0.0
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                response = await client.get("/healthz")
                if response.status_code == 200:
                    answered += 1
                else:
                    failed += 1
            except httpx.HTTPError:
                failed += 1
            worst = max(worst, time.perf_counter() - started)
            await asyncio.sleep(0.05)
    return {"answered": answered, "failed": failed, "worst_ms": worst * 1000}


async def _scenario(base_url: str, name: str, requests: int, clients: int) -> tuple[Outcome, dict[str, float], float]:
    outcome = Outcome()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(requests):
        queue.put_nowait(index)
    flood_session: list[str | None] = [None]
    flood_lock = asyncio.Lock()

    async def client_task() -> None:
        own_session: str | None = None
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            while True:
                try:
                    index = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                body: dict[str, Any] = {"problem_text": PROBLEMS[index % len(PROBLEMS)] + f" (#{index})",
                                        "quality": "low"}
                if name == "clients" and own_session:
                    body["session_token"] = own_session
                if name == "flood":
                    async with flood_lock:  # the first answer names the one shared session
                        if flood_session[0] is None:
                            flood_session[0] = await _submit(client, body, outcome)
                            continue
                    body["session_token"] = flood_session[0]
                session = await _submit(client, body, outcome)
                own_session = own_session or session

    stop = asyncio.Event()
    health = asyncio.create_task(_poll_health(base_url, stop))
    started = time.perf_counter()
    await asyncio.gather(*(client_task() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    stop.set()
    return outcome, await health, elapsed


def _count_jobs(data_dir: Path, accepted: list[str]) -> tuple[int, int]:
    from appliance.store import Store

    store = Store(data_dir / "store")
    try:
        ids = {job.job_id for job in store.iter_jobs()}
    finally:
        store.close()
    return len(ids), sum(1 for job_id in accepted if job_id in ids)


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run(name: str, requests: int, clients: int, workers: bool) -> bool:
    context = multiprocessing.get_context("spawn")
    data_dir = Path(tempfile.mkdtemp(prefix=f"api-bench-{name}-"))
    ready, stop = context.Queue(), context.Event()
    server = context.Process(target=_serve, args=(str(data_dir), workers, ready, stop), daemon=True)
    server.start()
    try:
        base_url = ready.get(timeout=120)
        outcome, health, elapsed = asyncio.run(_scenario(base_url, name, requests, clients))
    finally:
        stop.set()
        server.join(60)
    in_store, found = _count_jobs(data_dir, outcome.accepted_ids)
    answered = sum(outcome.codes.values()) - outcome.lost
    accepted = outcome.codes["accepted"]
    lat = outcome.latencies
    print(f"\n== {name}: {requests} POST /api/jobs from {clients} clients, workers {'on' if workers else 'off'}")
    print(f"   answered {answered}/{requests} in {elapsed:.2f} s ({requests / elapsed:.0f} req/s); "
          f"lost {outcome.lost}")
    print("   " + ", ".join(f"{code}: {count}" for code, count in outcome.codes.most_common()))
    print(f"   jobs in the store {in_store}, accepted {accepted}, accepted and found {found}")
    mean_ms = statistics.fmean(lat) * 1000 if lat else 0.0
    print(f"   acceptance latency p50 {_percentile(lat, 0.5) * 1000:.1f} ms, "
          f"p99 {_percentile(lat, 0.99) * 1000:.1f} ms, max {max(lat, default=0) * 1000:.1f} ms, mean {mean_ms:.1f} ms")
    print(f"   /healthz during the run: {health['answered']:.0f} answered, {health['failed']:.0f} failed, "
          f"worst {health['worst_ms']:.1f} ms")
    return outcome.lost == 0 and answered == requests and found == accepted == in_store and health["failed"] == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", action="store_true", help="run the worker with fake renders meanwhile")
    parser.add_argument("--only", choices=["fresh", "clients", "flood"], action="append")
    args = parser.parse_args()
    results = {name: run(name, args.requests, args.clients, args.workers)
               for name in (args.only or ["fresh", "clients", "flood"])}
    print("\n" + ", ".join(f"{name}: {'ok' if ok else 'PROBLEM'}" for name, ok in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
