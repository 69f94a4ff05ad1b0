"""What narration costs and what it gives, measured side by side in one run.

    python bench/narration_bench.py                 # every built-in kind (two renders each)
    python bench/narration_bench.py --kinds linear_equation,derivative
    python bench/narration_bench.py --repeat 3      # the median of three renders per cell

For each built-in kind (one problem each, spread over the five languages) it renders the
scene twice in the real sandbox, voice on and voice off, alternating the order, and prints:
render time with and without voice and their ratio (goal: at most 1.25x), the video's length
and its length per narrated step, how much of it the voice speaks, and render time per second
of video with voice over without (the voice's own cost: a voiced video is longer, its steps
lasting as long as their sentences rather than their captions' reading time). It then submits one
problem through the whole appliance and times submission -> the steps text (goal: under 1 s
for the built-in solver; the steps are known before the render starts).

Prints figures; asserts nothing. Needs Docker and the sandbox image (``appliance sandbox build``).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.assemble import build_appliance
from appliance.config import Settings
from appliance.contracts import VoiceRequest
from appliance.generation.builtin import solve
from appliance.generation.builtin.solve import work
from appliance.generation.builtin.templates import narration_texts
from appliance.sandbox.docker import DockerSandbox
from appliance.service import Channel
from tests.integration.sandbox_fixtures import make_sandbox_settings, open_sandbox
from tests.integration.test_builtin_render import ONE_PER_KIND
from tests.speech import measure_speech


def render_seconds(sandbox: DockerSandbox, problem: str, voice: bool) -> tuple[float, float, float]:
    """(render seconds, video seconds, spoken seconds) of one render."""
    solution = solve(problem)
    _, language = work(problem)
    started = time.monotonic()
    result = sandbox.render(solution.code, solution.scene_name, quality="low", voice=VoiceRequest(voice, language))
    elapsed = time.monotonic() - started
    try:
        if not result.ok or result.video_path is None:
            raise RuntimeError(f"{problem!r}: {result.status} {result.stderr_tail[-500:]}")
        spoken = measure_speech(result.video_path).spoken_s if result.has_audio else 0.0
        return elapsed, float(result.video_duration_s or 0.0), spoken
    finally:
        result.discard_video()


async def seconds_to_steps(settings: Settings, problem: str) -> float:
    """Submission -> the job carries its steps, through the real appliance (built-in solver)."""
    appliance = build_appliance(settings)
    await appliance.start()
    try:
        started = time.monotonic()
        accepted = await appliance.submit(problem, Channel("api"))
        async for job in appliance.follow(accepted.job_id):
            if job is not None and job.steps:
                return time.monotonic() - started
        raise RuntimeError("the job ended without steps")
    finally:
        await appliance.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", default="", help="comma-separated kinds (default: all)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="renders per kind and voice setting; the median is printed (one render each "
                             "varies by about 15 %% on a busy two-core machine)")
    args = parser.parse_args()
    kinds = [k for k in args.kinds.split(",") if k] or sorted(ONE_PER_KIND)
    data_dir = Path(tempfile.mkdtemp(prefix="narration-bench-"))
    settings = make_sandbox_settings(data_dir, warm_pool_size=0, render_timeout_s=300.0)
    sandbox = open_sandbox(settings)
    ratios, per_second_ratios = [], []
    # "video s": the voiced video's length; "silent video": the silent one's, which differs (a silent
    # step lasts as long as its caption takes to read, a voiced one as long as its sentence).
    print(f"{'kind':<22}{'lang':>5}{'silent s':>10}{'voiced s':>10}{'ratio':>7}{'video s':>9}{'silent video':>13}"
          f"{'steps':>6}{'s/step':>8}{'spoken':>8}{'per video s':>12}")
    try:
        for index, kind in enumerate(kinds):
            problem = ONE_PER_KIND[kind]
            worked, language = work(problem)
            narrated = len(narration_texts(worked, language))
            runs: dict[bool, list[tuple[float, float, float]]] = {True: [], False: []}
            for attempt in range(args.repeat):
                # Alternate which goes first, kind by kind and run by run: no order effect.
                order = (True, False) if (index + attempt) % 2 else (False, True)
                for voice in order:
                    runs[voice].append(render_seconds(sandbox, problem, voice))
            silent = statistics.median(run[0] for run in runs[False])
            voiced = statistics.median(run[0] for run in runs[True])
            video_s, spoken_s = runs[True][0][1], runs[True][0][2]
            silent_video_s = runs[False][0][1]
            ratios.append(voiced / silent)
            # Render seconds per second of video, voiced over silent: the voice's own cost, apart
            # from the voiced video being longer (its steps last as long as their sentences).
            per_second = (voiced / max(video_s, 0.01)) / (silent / max(silent_video_s, 0.01))
            per_second_ratios.append(per_second)
            print(f"{kind:<22}{language:>5}{silent:>10.1f}{voiced:>10.1f}{voiced / silent:>7.2f}{video_s:>9.1f}"
                  f"{silent_video_s:>13.1f}"
                  f"{narrated:>6}{video_s / narrated:>8.1f}{spoken_s / max(video_s, 0.01):>8.0%}{per_second:>12.2f}")
    finally:
        sandbox.close()
    print(f"\nrender time with voice / without: median {statistics.median(ratios):.2f}x, "
          f"max {max(ratios):.2f}x (goal: at most 1.25x)")
    print(f"render time per second of video, with voice / without: median {statistics.median(per_second_ratios):.2f}x, "
          f"max {max(per_second_ratios):.2f}x")
    steps_s = asyncio.run(seconds_to_steps(settings, "Solve 2x + 3 = 11"))
    print(f"submission -> steps text (built-in solver, whole appliance): {steps_s:.3f} s (goal: under 1 s)")


if __name__ == "__main__":
    main()
