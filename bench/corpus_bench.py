"""Render the real-world scene corpus before and after model-free repair; print the figures.

    python bench/corpus_bench.py                      # whole corpus, host manim, before and after
    python bench/corpus_bench.py --sample 40 --seed 4 # a seeded sample
    python bench/corpus_bench.py --sandbox            # through the real Docker sandbox
    python bench/corpus_bench.py --only after         # skip the unchanged run
    python bench/corpus_bench.py names                # regenerate appliance/repair/manim_names.py

"Before" renders each scene's code unchanged (only the scene class is picked, as the
sandbox needs a name). "After" runs ``validate_and_repair`` first and renders the
repaired code with ``COMPAT_PRELUDE``; a refusal by validation counts as a failure,
with its reason. A render counts only when it leaves a real MP4 with video frames.

The host mode needs Manim Community 0.19 on this machine (``pip install
'.[manim]'``, plus cairo/pango headers, ffmpeg and a TeX Live for MathTex); it
mimics the sandbox runner: ``exec(prelude, ns); exec(code, ns)`` then renders the
named scene at low quality, each scene in its own process with a time limit.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import json
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from appliance.errors import CodeRejected  # noqa: E402
from appliance.validation import COMPAT_PRELUDE, validate_and_repair  # noqa: E402
from tests.corpus import CORPUS, read_corpus, unrepaired_scene_name  # noqa: E402

NAMES_MODULE = REPO_ROOT / "appliance" / "repair" / "manim_names.py"

# Runs in a fresh interpreter per scene, like the sandbox's runner: prelude and code
# share one namespace, then the named scene renders into a private media directory.
HOST_RUNNER = r"""
import json, sys
spec = json.loads(sys.stdin.read())
from manim import config, tempconfig
namespace = {"__name__": "scene"}
exec(compile(spec["prelude"], "<prelude>", "exec"), namespace)
exec(compile(spec["code"], "scene.py", "exec"), namespace)
scene_class = namespace[spec["scene_name"]]
settings = {
    "quality": "low_quality",
    "media_dir": spec["media_dir"],
    "disable_caching": True,
    "write_to_movie": True,
    "output_file": "video",
    "progress_bar": "none",
    "verbosity": "WARNING",
}
with tempconfig(settings):
    scene = scene_class()
    scene.render()
    print("VIDEO=" + str(scene.renderer.file_writer.movie_file_path))
"""


@dataclass
class Outcome:
    index: int
    ok: bool
    reason: str = ""
    seconds: float = 0.0
    repairs: list[str] = field(default_factory=list)


def is_real_mp4(path: Path) -> str:
    """Empty string when ``path`` is an MP4 with decodable video frames, else why not."""
    import av

    if not path.is_file() or path.stat().st_size == 0:
        return "no video file"
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return "no video stream"
            for _frame in container.decode(video=0):
                return ""
    except Exception as exc:  # any decoder failure means "not a valid MP4"
        return f"unreadable video: {exc}"
    return "video has no frames"


def failure_reason(stderr: str) -> str:
    """The last exception line of a traceback, shortened, for grouping."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        head = line.split(":", 1)[0]
        if head.endswith(("Error", "Exception", "Interrupt")) or head in ("KeyError", "StopIteration"):
            return line[:160]
    return (lines[-1][:160] if lines else "no output")


def render_on_host(code: str, scene_name: str, prelude: str, timeout_s: float) -> tuple[bool, str]:
    with tempfile.TemporaryDirectory(prefix="corpus-bench-") as media_dir:
        spec = {"code": code, "scene_name": scene_name, "prelude": prelude, "media_dir": media_dir}
        try:
            completed = subprocess.run(
                [sys.executable, "-c", HOST_RUNNER],
                input=json.dumps(spec),
                capture_output=True,
                text=True,
                timeout=timeout_s,
                cwd=media_dir,
            )
        except subprocess.TimeoutExpired:
            return False, f"timeout after {timeout_s:.0f} s"
        if completed.returncode != 0:
            return False, failure_reason(completed.stderr)
        videos = [line[6:] for line in completed.stdout.splitlines() if line.startswith("VIDEO=")]
        if not videos:
            return False, "no video path reported"
        problem = is_real_mp4(Path(videos[-1]))
        return (not problem), problem


class SandboxRenderer:
    """Renders through appliance.sandbox.docker.DockerSandbox at low quality."""

    def __init__(self, timeout_s: float) -> None:
        from appliance.config import Settings
        from appliance.sandbox.connection import open_local_client
        from appliance.sandbox.docker import DockerSandbox

        self._data_dir = tempfile.TemporaryDirectory(prefix="corpus-bench-sandbox-")
        settings = Settings.from_env(
            None, data_dir=Path(self._data_dir.name), render_timeout_s=timeout_s, warm_pool_size=0
        )
        self.sandbox = DockerSandbox(settings, open_local_client())
        self.sandbox.check_image()

    def render(self, code: str, scene_name: str, prelude: str) -> tuple[bool, str]:
        result = self.sandbox.render(code, scene_name, quality="low", prelude=prelude)
        try:
            if not result.ok or result.video_path is None:
                return False, f"{result.status}: {failure_reason(result.stderr_tail)}"
            problem = is_real_mp4(result.video_path)
            return (not problem), problem
        finally:
            if result.video_path is not None:
                result.video_path.unlink(missing_ok=True)

    def close(self) -> None:
        self.sandbox.close()
        self._data_dir.cleanup()


def run_one(index: int, code: str, repaired: bool, timeout_s: float, sandbox: SandboxRenderer | None) -> Outcome:
    started = time.monotonic()
    repairs: list[str] = []
    if repaired:
        try:
            scene = validate_and_repair(code)
        except CodeRejected as exc:
            return Outcome(index, False, f"refused: {exc.reason}", time.monotonic() - started)
        code, scene_name, prelude, repairs = scene.code, scene.scene_name, COMPAT_PRELUDE, scene.repairs
    else:
        found = unrepaired_scene_name(code)
        if not found:
            return Outcome(index, False, "no Scene subclass / does not parse", time.monotonic() - started)
        scene_name, prelude = found, ""
    if sandbox is not None:
        ok, reason = sandbox.render(code, scene_name, prelude)
    else:
        ok, reason = render_on_host(code, scene_name, prelude, timeout_s)
    return Outcome(index, ok, reason, time.monotonic() - started, repairs)


def run_pass(
    label: str,
    rows: list[tuple[int, str]],
    repaired: bool,
    jobs: int,
    timeout_s: float,
    sandbox: SandboxRenderer | None,
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_one, index, code, repaired, timeout_s, sandbox) for index, code in rows]
        for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
            outcome = future.result()
            outcomes.append(outcome)
            mark = "ok  " if outcome.ok else "FAIL"
            print(f"[{label} {done}/{len(rows)}] #{outcome.index} {mark} {outcome.seconds:5.1f}s {outcome.reason}",
                  flush=True)
    return sorted(outcomes, key=lambda outcome: outcome.index)


def summarise(label: str, outcomes: list[Outcome]) -> float:
    passed = sum(outcome.ok for outcome in outcomes)
    percent = 100.0 * passed / len(outcomes) if outcomes else 0.0
    print(f"\n{label}: {passed}/{len(outcomes)} rendered to a valid MP4 = {percent:.1f}%")
    reasons = collections.Counter(_group(outcome.reason) for outcome in outcomes if not outcome.ok)
    for reason, count in reasons.most_common():
        examples = [str(o.index) for o in outcomes if not o.ok and _group(o.reason) == reason][:8]
        print(f"  {count:4d}  {reason}   (#{', #'.join(examples)})")
    return percent


def _group(reason: str) -> str:
    # Quoted details (names, values) vary per scene; group on the message's shape.
    return reason[:110]


def write_names_module() -> None:
    """Regenerate the static table of Manim's public names (needs manim installed)."""
    import manim

    exported = sorted(name for name in dir(manim) if not name.startswith("_"))
    body = ",\n".join(f"    {name!r}" for name in exported)
    NAMES_MODULE.write_text(
        '"""Names ``from manim import *`` provides in Manim Community '
        f'{manim.__version__}.\n\nGenerated by ``python bench/corpus_bench.py names``; do not edit by hand.\n"""\n\n'
        "from __future__ import annotations\n\n"
        f'MANIM_VERSION = "{manim.__version__}"\n\n'
        f"MANIM_NAMES: frozenset[str] = frozenset({{\n{body},\n}})\n",
        encoding="utf-8",
    )
    print(f"wrote {len(exported)} names to {NAMES_MODULE}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", default="bench", choices=("bench", "names"))
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--sample", type=int, default=0, help="render a seeded sample of this size (0: all)")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--indices", default="", help="comma-separated corpus line numbers (0-based) to render")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per render")
    parser.add_argument("--only", choices=("before", "after"), default=None)
    parser.add_argument("--sandbox", action="store_true", help="render in the Docker sandbox, not on the host")
    parser.add_argument("--json", type=Path, default=None, help="also write every outcome to this file")
    args = parser.parse_args()

    if args.command == "names":
        write_names_module()
        return 0
    if not args.corpus.is_file():
        print(f"corpus not found at {args.corpus} (it lives in ../shared/corpus/)", file=sys.stderr)
        return 2
    corpus = read_corpus(args.corpus)
    indices = list(range(len(corpus)))
    if args.sample:
        indices = sorted(random.Random(args.seed).sample(indices, min(args.sample, len(indices))))
    if args.indices:
        indices = [int(part) for part in args.indices.split(",") if part.strip()]
    rows = [(index, corpus[index]["code"]) for index in indices]

    sandbox = SandboxRenderer(args.timeout) if args.sandbox else None
    where = "Docker sandbox" if sandbox else "host manim"
    print(f"{len(rows)} scenes from {args.corpus.name}, {where}, low quality, {args.jobs} at once")
    results: dict[str, list[Outcome]] = {}
    try:
        for label, repaired in (("before", False), ("after", True)):
            if args.only and args.only != label:
                continue
            results[label] = run_pass(label, rows, repaired, args.jobs, args.timeout, sandbox)
    finally:
        if sandbox is not None:
            sandbox.close()

    figures = {label: summarise(label, outcomes) for label, outcomes in results.items()}
    if "after" in results:
        repair_counts = collections.Counter(r for o in results["after"] for r in o.repairs)
        print("\nrepairs applied (scenes):")
        for repair, count in repair_counts.most_common():
            print(f"  {count:4d}  {repair}")
    print("\n" + "  ".join(f"{label}: {percent:.1f}%" for label, percent in figures.items()))
    if args.json:
        args.json.write_text(
            json.dumps({label: [o.__dict__ for o in outs] for label, outs in results.items()}, indent=1)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
