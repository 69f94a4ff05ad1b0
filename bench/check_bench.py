"""What checking a render's output costs: the bounded child processes on the appliance's host
(before issue 14) against the check container (``appliance/sandbox/checkbox.py``), side by side
on the same files.

    python bench/check_bench.py                      # 10 rounds at low quality
    python bench/check_bench.py --rounds 20 --quality medium

One render in the real sandbox makes the files (a typical scene: a title, a formula, axes and a
plot, about 6 s; its video and its layout recording are kept). Then each round checks them both
ways, one after the other, in alternating order (so load drifts hit both):

  child       ``probe_mp4`` and ``check_recording`` in two parallel child processes on this host,
              as ``DockerSandbox`` did before: same UID as the appliance, in the Docker group
  container   ``DockerSandbox.check_files``: a fresh check container (create, copy the checker,
              the video and the recording in, start, wait, copy the verdict out); its removal
              runs in the background and is timed apart ("removal")

Printed: median, p90 and mean seconds of each, and the median difference: what the check box
adds to a render.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from appliance.config import Settings  # noqa: E402
from appliance.sandbox.connection import open_local_client  # noqa: E402
from appliance.sandbox.docker import DockerSandbox  # noqa: E402
from appliance.sandbox.layout import check_recording  # noqa: E402
from appliance.sandbox.verdict import Verdict  # noqa: E402
from appliance.sandbox.video import VideoFacts, probe_mp4  # noqa: E402
from appliance.validation import COMPAT_PRELUDE  # noqa: E402

SCENE = """from manim import *


class Typical(Scene):
    def construct(self):
        title = Title(r'Solving $x^2 - 4x + 3 = 0$')
        formula = MathTex(r'(x - 1)(x - 3) = 0').shift(UP)
        axes = Axes(x_range=[-1, 5, 1], y_range=[-2, 6, 2], x_length=6, y_length=3).shift(1.5 * DOWN)
        graph = axes.plot(lambda x: x ** 2 - 4 * x + 3, color=YELLOW)
        self.play(Write(title))
        self.play(Write(formula))
        self.wait()
        self.play(Create(axes), Create(graph))
        self.wait(2)
"""


def make_files(sandbox: DockerSandbox, quality: str, into: Path) -> tuple[Path, Path]:
    """Render SCENE once and keep its video and layout recording."""
    kept = into / "layout.json"
    check_files = sandbox.check_files

    def keep_recording(video: Path, recording: Path | None, quality: str) -> Verdict:
        if recording is not None:
            shutil.copyfile(recording, kept)
        return check_files(video, recording, quality)

    sandbox.check_files = keep_recording  # type: ignore[method-assign]
    result = sandbox.render(SCENE, "Typical", quality, prelude=COMPAT_PRELUDE)
    sandbox.check_files = check_files  # type: ignore[method-assign]
    if not result.ok or result.video_path is None or not kept.exists():
        raise SystemExit(f"the setup render failed: {result.to_dict()}")
    video = into / "video.mp4"
    shutil.move(result.video_path, video)
    return video, kept


def in_child_processes(video: Path, recording: Path, quality: str) -> bool:
    with ThreadPoolExecutor(max_workers=1) as layout_thread:
        layout = layout_thread.submit(check_recording, recording, None)
        probed = probe_mp4(video, quality)
        return isinstance(probed, VideoFacts) and layout.result().checked


def in_a_container(sandbox: DockerSandbox, video: Path, recording: Path, quality: str) -> bool:
    verdict = sandbox.check_files(video, recording, quality)
    return isinstance(verdict.video, VideoFacts) and verdict.layout is not None and verdict.layout.checked


def summary(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return (f"{name:<10} median {statistics.median(values):6.2f} s   p90 {p90:6.2f} s   "
            f"mean {statistics.fmean(values):6.2f} s   (n={len(values)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--quality", default="low", choices=("low", "medium", "high"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings.from_env({}, data_dir=Path(scratch) / "data", warm_pool_size=0)
        sandbox = DockerSandbox(settings, open_local_client())
        try:
            sandbox.check_image()
            video, recording = make_files(sandbox, args.quality, Path(scratch))
            print(f"files: video {video.stat().st_size / 1e6:.2f} MB ({args.quality}), layout recording "
                  f"{recording.stat().st_size / 1e3:.1f} kB")
            child: list[float] = []
            container: list[float] = []
            removal: list[float] = []
            for round_number in range(args.rounds):
                for way in (("child", "container") if round_number % 2 == 0 else ("container", "child")):
                    started = time.perf_counter()
                    if way == "child":
                        ok = in_child_processes(video, recording, args.quality)
                        child.append(time.perf_counter() - started)
                    else:
                        ok = in_a_container(sandbox, video, recording, args.quality)
                        container.append(time.perf_counter() - started)
                        started = time.perf_counter()
                        sandbox.wait_for_removals()
                        removal.append(time.perf_counter() - started)
                    if not ok:
                        raise SystemExit(f"the {way} check refused a good render")
            print(summary("child", child))
            print(summary("container", container))
            print(summary("removal", removal) + "  (in the background, after the result)")
            added = statistics.median(c - h for c, h in zip(container, child, strict=True))
            print(f"the check box adds {added:.2f} s per render (median of per-round differences)")
        finally:
            sandbox.close()


if __name__ == "__main__":
    main()
