"""Sandbox render cost against bare Manim on the host, side by side in one run.

    python bench/sandbox_bench.py [--repeats 3] [--qualities low,medium] [--throughput-renders 6]

For each quality it renders the same scene three ways, interleaved so that load from
elsewhere on the machine hits all three alike, and prints medians and ratios:

    bare   `manim` CLI on the host, fresh media dir, caching off (the physical limit of
           a cold render: interpreter start, Manim import, render, encode)
    cold   DockerSandbox.render with no warm pool (container create + start + import +
           render + fetch + check)
    warm   DockerSandbox.render taking a ready warm-pool container (render + fetch + check)

Targets (issue 3): cold <= 1.10x bare, warm <= 0.70x bare. Then renders per minute with
1 and 2 concurrent slots (warm pool sized to the slots), and the appliance process's
memory. Needs Docker, the sandbox image, and manim==0.19.0 on the host.

Then (issue 14) the same scene cold and warm under each APPLIANCE_SANDBOX_RUNTIME, runc
and gVisor's runsc, interleaved, with the runsc/runc ratio side by side
(`--runtime-repeats 0` skips it; `--runtimes-only` runs only it; runsc must be registered,
README "Security model").

The sandbox encodes with APPLIANCE_RENDER_ENCODER_PRESET (ultrafast by default) while bare
manim uses x264's medium; `--encoder-preset medium` compares like with like. Containers
are capped at APPLIANCE_RENDER_CPUS; bare manim is not. On a busy machine all containers
together get the CPU weight of one host process (cgroup v1), so run it on a quiet one
(`--wait-quiet 1.5`).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from appliance.config import Settings
from appliance.sandbox.connection import open_local_client
from appliance.sandbox.docker import DockerSandbox
from appliance.sandbox.result import RenderResult, RenderStatus

SCENE_NAME = "Explain"
SCENE = r'''
from manim import *


class Explain(Scene):
    def construct(self):
        title = Text("Solve  2x + 3 = 11", font_size=40).to_edge(UP)
        step1 = MathTex(r"2x + 3 = 11")
        step2 = MathTex(r"2x = 8")
        step3 = MathTex(r"x = \frac{8}{2} = 4")
        self.play(Write(title))
        self.play(Write(step1))
        self.play(TransformMatchingTex(step1, step2))
        self.play(TransformMatchingTex(step2, step3))
        box = SurroundingRectangle(step3, color=YELLOW)
        self.play(Create(box))
        self.wait(0.5)
'''
QUALITY_FLAGS = {"low": "-ql", "medium": "-qm", "high": "-qh"}
QUALITY_LABELS = {"low": "480p15", "medium": "720p30", "high": "1080p60"}


def wait_for_quiet(max_load: float, max_wait_s: float) -> None:
    """Other work on the machine skews the comparison: containers share one CPU weight."""
    deadline = time.monotonic() + max_wait_s
    while os.getloadavg()[0] > max_load and time.monotonic() < deadline:
        time.sleep(10)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def render_bare(scene_file: Path, quality: str) -> float:
    media = Path(tempfile.mkdtemp(prefix="bench-bare-"))
    try:
        started = time.monotonic()
        subprocess.run(
            [shutil.which("manim") or "manim", QUALITY_FLAGS[quality], "--disable_caching", "--progress_bar", "none",
             "-v", "WARNING", "--media_dir", str(media), str(scene_file), SCENE_NAME],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=media,
        )
        elapsed = time.monotonic() - started
        if not list(media.rglob(f"{SCENE_NAME}.mp4")):
            raise RuntimeError("bare manim produced no video")
        return elapsed
    finally:
        shutil.rmtree(media, ignore_errors=True)


def timed_render(sandbox: DockerSandbox, quality: str) -> tuple[float, RenderResult]:
    started = time.monotonic()
    result = sandbox.render(SCENE, SCENE_NAME, quality)
    elapsed = time.monotonic() - started
    if result.status is not RenderStatus.OK:
        raise RuntimeError(f"sandbox render failed: {result.to_dict()}")
    assert result.video_path is not None
    result.video_path.unlink()
    return elapsed, result


def compare(quality: str, repeats: int, cold: DockerSandbox, warm: DockerSandbox, scene_file: Path) -> None:
    bare_s, cold_s, warm_s = [], [], []
    for _ in range(repeats):
        bare_s.append(render_bare(scene_file, quality))
        cold_s.append(timed_render(cold, quality)[0])
        cold.wait_for_removals()
        if not warm._pool.wait_until_full(180):
            raise RuntimeError("the warm pool did not fill")
        warm_s.append(timed_render(warm, quality)[0])
        warm.wait_for_removals()
        # The pool refills in the background after each take: let that finish so it does
        # not slow (or flatter) the next bare and cold runs.
        warm._pool.wait_until_full(180)
    bare, cold_median, warm_median = (statistics.median(v) for v in (bare_s, cold_s, warm_s))
    label = f"{quality} ({QUALITY_LABELS[quality]})"
    print(f"\n{label}: median of {repeats} (load average now {os.getloadavg()[0]:.1f})")
    print(f"  bare manim   {bare:6.2f} s   runs: {', '.join(f'{v:.2f}' for v in bare_s)}")
    print(f"  cold sandbox {cold_median:6.2f} s   runs: {', '.join(f'{v:.2f}' for v in cold_s)}   "
          f"ratio {cold_median / bare:.2f}x (target <= 1.10x)")
    print(f"  warm pool    {warm_median:6.2f} s   runs: {', '.join(f'{v:.2f}' for v in warm_s)}   "
          f"ratio {warm_median / bare:.2f}x (target <= 0.70x)")


def compare_runtimes(base: Settings, quality: str, repeats: int, runtimes: list[str]) -> None:
    """Cold and warm renders under each runtime, interleaved; the ratio of each to the first."""
    sandboxes = {}
    try:
        for runtime in runtimes:
            settings = base.replace(sandbox_runtime=runtime)
            cold = DockerSandbox(settings.replace(warm_pool_size=0), open_local_client())
            warm = DockerSandbox(settings.replace(warm_pool_size=1), open_local_client())
            sandboxes[runtime] = (cold, warm)
            cold.check_runtime()
            warm.warm_up()
        times: dict[tuple[str, str], list[float]] = {(r, kind): [] for r in runtimes for kind in ("cold", "warm")}
        for round_ in range(repeats + 1):  # the first round is untimed: caches
            for runtime, (cold, warm) in sandboxes.items():
                elapsed = timed_render(cold, quality)[0]
                cold.wait_for_removals()
                if round_:
                    times[(runtime, "cold")].append(elapsed)
                if not warm._pool.wait_until_full(300):
                    raise RuntimeError(f"the {runtime} warm pool did not fill")
                elapsed = timed_render(warm, quality)[0]
                warm.wait_for_removals()
                warm._pool.wait_until_full(300)  # the refill must not slow the next runtime's renders
                if round_:
                    times[(runtime, "warm")].append(elapsed)
    finally:
        for cold, warm in sandboxes.values():
            cold.close()
            warm.close()
    first = runtimes[0]
    print(f"\nruntimes at {quality} ({QUALITY_LABELS[quality]}): median of {repeats}, interleaved "
          f"(load average now {os.getloadavg()[0]:.1f})")
    print(f"  {'':8} {'cold':>8} {'warm':>8}   {'cold/' + first:>10} {'warm/' + first:>10}")
    for runtime in runtimes:
        cold_m, warm_m = (statistics.median(times[(runtime, kind)]) for kind in ("cold", "warm"))
        cold_0, warm_0 = (statistics.median(times[(first, kind)]) for kind in ("cold", "warm"))
        print(f"  {runtime:8} {cold_m:7.2f}s {warm_m:7.2f}s   {cold_m / cold_0:9.2f}x {warm_m / warm_0:9.2f}x")
    for runtime in runtimes:
        for kind in ("cold", "warm"):
            print(f"  {runtime} {kind} runs: {', '.join(f'{v:.2f}' for v in times[(runtime, kind)])}")


def throughput(settings: Settings, slots: int, renders: int, quality: str) -> float:
    sandbox = DockerSandbox(settings.replace(warm_pool_size=slots), open_local_client())
    try:
        sandbox.warm_up()
        if not sandbox._pool.wait_until_full(180):
            raise RuntimeError("the warm pool did not fill")
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=slots) as executor:
            for _elapsed, _result in executor.map(lambda _: timed_render(sandbox, quality), range(renders)):
                pass
        elapsed = time.monotonic() - started
    finally:
        sandbox.close()
    return renders / elapsed * 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--qualities", default="low,medium")
    parser.add_argument("--throughput-renders", type=int, default=6, help="renders per throughput run (0: skip)")
    parser.add_argument("--throughput-quality", default="medium")
    parser.add_argument("--render-cpus", type=float, default=0.0,
                        help="override APPLIANCE_RENDER_CPUS for the containers (default: the setting's default)")
    parser.add_argument("--encoder-preset", default="",
                        help="override APPLIANCE_RENDER_ENCODER_PRESET (medium = the encoding bare manim uses)")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="LOAD",
                        help="first wait (up to 10 min) until the 1-minute load average is below LOAD")
    parser.add_argument("--runtimes", default="runc,runsc", help="runtimes compared, the first is the reference")
    parser.add_argument("--runtime-repeats", type=int, default=3, help="timed rounds per runtime (0: skip)")
    parser.add_argument("--runtime-quality", default="low")
    parser.add_argument("--runtimes-only", action="store_true", help="only the runtime comparison")
    args = parser.parse_args()
    if args.wait_quiet:
        wait_for_quiet(args.wait_quiet, 600)

    scratch = Path(tempfile.mkdtemp(prefix="sandbox-bench-"))
    scene_file = scratch / "scene.py"
    scene_file.write_text(SCENE)
    base = Settings.from_env({}, data_dir=scratch / "data")
    if args.render_cpus:
        base = base.replace(render_cpus=args.render_cpus)
    if args.encoder_preset:
        base = base.replace(render_encoder_preset=args.encoder_preset)
    print(f"render limits: {base.render_cpus} CPU, {base.render_memory_mb} MB per container; x264 preset "
          f"{base.render_encoder_preset} (bare manim: medium); "
          f"host CPUs: {os.cpu_count()}; load average {os.getloadavg()[0]:.1f}; image {base.sandbox_image}")
    if not args.runtimes_only:
        compare_with_bare(args, base, scene_file)
    if args.runtime_repeats:
        compare_runtimes(base, args.runtime_quality, args.runtime_repeats, args.runtimes.split(","))
    shutil.rmtree(scratch, ignore_errors=True)


def compare_with_bare(args: argparse.Namespace, base: Settings, scene_file: Path) -> None:
    rss_start = rss_mb()
    cold = DockerSandbox(base.replace(warm_pool_size=0), open_local_client())
    warm = DockerSandbox(base.replace(warm_pool_size=1), open_local_client())
    try:
        cold.check_image()
        warm.warm_up()
        print("warming caches (one untimed render of each kind)...")
        render_bare(scene_file, "low")
        timed_render(cold, "low")
        warm._pool.wait_until_full(180)
        timed_render(warm, "low")
        for quality in args.qualities.split(","):
            compare(quality.strip(), args.repeats, cold, warm, scene_file)
        rss_after = rss_mb()
    finally:
        cold.close()
        warm.close()
    if args.throughput_renders:
        label = f"{args.throughput_quality} ({QUALITY_LABELS[args.throughput_quality]})"
        print(f"\nthroughput, {args.throughput_renders} renders at {label}, warm pool = slots:")
        for slots in (1, 2):
            per_minute = throughput(base, slots, args.throughput_renders, args.throughput_quality)
            print(f"  {slots} slot(s): {per_minute:5.1f} renders/minute")
    print(f"\nappliance-side memory: RSS {rss_start:.0f} MB at start, {rss_after:.0f} MB after the comparison, "
          f"peak {peak_rss_mb():.0f} MB (this process: docker SDK + PyAV checks + bench)")


if __name__ == "__main__":
    main()
