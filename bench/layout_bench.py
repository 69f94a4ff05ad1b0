"""The layout gate over real scenes: what it finds, what the mechanical fixes change, what the
recording costs. Renders through the real Docker sandbox at low quality.

    python bench/layout_bench.py                        # the whole shared corpus (404 scenes)
    python bench/layout_bench.py --sample 60 --seed 7   # a seeded sample
    python bench/layout_bench.py --builtin              # every built-in kind, narrated
    python bench/layout_bench.py --json out.json        # also every render's figures

Corpus mode: each scene goes through ``validate_and_repair`` (as a live job's code does; a
refusal is counted and skipped), then renders three times:

  before    the prelude without the layout fixes, recording on: what the gate finds
  after     the whole prelude (``COMPAT_PRELUDE``), recording on: what is left after the fixes,
            and how often each fix fired
  bare      the whole prelude, recording off: the same render without the recorder

Printed: the share of scenes (among those that rendered) with layout errors and with
warnings, by kind, before and after the fixes; how often each fix fired (scenes, times); and
the recording's cost side by side: render wall time with the recorder ("after") and without
("bare") for the same scenes in the same run (the two alternate, so load drifts hit both), as
the ratio of the summed times and the median of per-scene ratios, next to the recorder's own
measure of its time inside the sandbox as a share of the render.

Built-in mode renders each kind of tests/integration/test_builtin_render.py's ONE_PER_KIND
with narration, as a live job does, and prints each kind's findings.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from appliance.config import Settings  # noqa: E402
from appliance.contracts import LayoutReport, RenderResult, VoiceRequest  # noqa: E402
from appliance.errors import CodeRejected  # noqa: E402
from appliance.repair.layout_fixes import FIX_NAMES  # noqa: E402
from appliance.repair.prelude import PRELUDE_WITHOUT_LAYOUT_FIXES  # noqa: E402
from appliance.sandbox.connection import open_local_client  # noqa: E402
from appliance.sandbox.docker import DockerSandbox  # noqa: E402
from appliance.validation import COMPAT_PRELUDE, validate_and_repair  # noqa: E402
from tests.corpus import CORPUS, read_corpus  # noqa: E402


@dataclass
class Render:
    ok: bool
    seconds: float
    status: str = ""
    errors: int = 0
    warnings: int = 0
    kinds: dict[str, int] = field(default_factory=dict)  # "kind/severity" -> issues
    fixes: dict[str, int] = field(default_factory=dict)
    recording_s: float = 0.0
    checked: bool = False
    note: str = ""


@dataclass
class SceneFigures:
    index: int
    refused: str = ""
    before: Render | None = None
    after: Render | None = None
    bare: Render | None = None


class Sandboxes:
    """One sandbox that records layout and one that does not, on the local engine."""

    def __init__(self, timeout_s: float) -> None:
        self._data_dir = tempfile.TemporaryDirectory(prefix="layout-bench-")
        settings = Settings.from_env(None, data_dir=Path(self._data_dir.name), render_timeout_s=timeout_s,
                                     warm_pool_size=0)
        self.recording = DockerSandbox(settings, open_local_client())
        self.recording.check_image()
        self.bare = DockerSandbox(settings, open_local_client())
        self.bare.record_layout = False

    def close(self) -> None:
        self.recording.close()
        self.bare.close()
        self._data_dir.cleanup()


def figures_of(result: RenderResult) -> Render:
    try:
        layout = result.layout or LayoutReport(False)
        kinds = collections.Counter(f"{issue.kind}/{issue.severity}" for issue in layout.issues)
        return Render(result.ok, result.duration_s, result.status.value, layout.errors, layout.warnings, dict(kinds),
                      dict(layout.fixes), layout.recording_s, layout.checked, layout.note)
    finally:
        result.discard_video()


def run_scene(index: int, code: str, sandboxes: Sandboxes, order: int) -> SceneFigures:
    figures = SceneFigures(index)
    try:
        scene = validate_and_repair(code)
    except CodeRejected as exc:
        figures.refused = exc.reason[:120]
        return figures
    voice = VoiceRequest(enabled=False)
    figures.before = figures_of(sandboxes.recording.render(scene.code, scene.scene_name, "low",
                                                           PRELUDE_WITHOUT_LAYOUT_FIXES, voice))
    if not figures.before.ok:
        return figures
    pair = [("after", sandboxes.recording), ("bare", sandboxes.bare)]
    for name, sandbox in pair if order % 2 == 0 else pair[::-1]:
        setattr(figures, name, figures_of(sandbox.render(scene.code, scene.scene_name, "low", COMPAT_PRELUDE, voice)))
    return figures


def share(count: int, total: int) -> str:
    return f"{count:4d}/{total} = {100.0 * count / total if total else 0.0:5.1f}%"


def report_corpus(all_figures: list[SceneFigures]) -> None:
    refused = [f for f in all_figures if f.refused]
    rendered = [f for f in all_figures if f.before is not None and f.before.ok and f.before.checked]
    total = len(rendered)
    print(f"\nscenes: {len(all_figures)}; refused by validation: {len(refused)}; "
          f"rendered and checked: {total}; failed to render: {len(all_figures) - len(refused) - total}")
    for label in ("before", "after"):
        runs = [getattr(f, label) for f in rendered if getattr(f, label) is not None]
        runs = [run for run in runs if run.ok]
        n = len(runs)
        print(f"\n{label} the mechanical fixes ({n} scenes):")
        print(f"  with layout errors   {share(sum(run.errors > 0 for run in runs), n)}")
        print(f"  with layout warnings {share(sum(run.warnings > 0 for run in runs), n)}")
        print(f"  clean                {share(sum(run.errors == 0 and run.warnings == 0 for run in runs), n)}")
        by_kind: collections.Counter[str] = collections.Counter()
        for run in runs:
            for kind in run.kinds:
                by_kind[kind] += 1
        for kind, count in sorted(by_kind.items()):
            print(f"    {kind:34s} {share(count, n)} of scenes")
    afters = [f.after for f in rendered if f.after is not None and f.after.ok]
    print(f"\nmechanical fixes fired ({len(afters)} scenes rendered with them):")
    for name in FIX_NAMES:
        scenes = sum(1 for run in afters if run.fixes.get(name, 0) > 0)
        times = sum(run.fixes.get(name, 0) for run in afters)
        print(f"  {name:22s} in {share(scenes, len(afters))} of scenes, {times} times in all")
    pairs = [(f.after, f.bare) for f in rendered if f.after and f.bare and f.after.ok and f.bare.ok]
    if pairs:
        with_s = sum(a.seconds for a, _ in pairs)
        without_s = sum(b.seconds for _, b in pairs)
        ratios = [a.seconds / b.seconds for a, b in pairs if b.seconds > 0]
        inside = sum(a.recording_s for a, _ in pairs)
        print(f"\nrecording cost over {len(pairs)} scenes (render wall time, each scene with and without):")
        print(f"  with recording {with_s:8.1f} s | without {without_s:8.1f} s | ratio {with_s / without_s:.3f} "
              f"| median per-scene ratio {statistics.median(ratios):.3f} | "
              f"{(with_s - without_s) / len(pairs):+.2f} s a render")
        longer = [(a, b) for a, b in pairs if b.seconds >= 10]
        if longer:
            long_with, long_without = sum(a.seconds for a, _ in longer), sum(b.seconds for _, b in longer)
            print(f"  renders of 10 s or more ({len(longer)}): with {long_with:.1f} s | without {long_without:.1f} s "
                  f"| ratio {long_with / long_without:.3f}")
        print(f"  the recorder's own time inside the sandbox: {inside:.2f} s = {100 * inside / with_s:.2f}% of the "
              "renders with it")


def run_corpus(args: argparse.Namespace) -> list[SceneFigures]:
    corpus = read_corpus(args.corpus)
    indices = list(range(len(corpus)))
    if args.sample:
        indices = sorted(random.Random(args.seed).sample(indices, min(args.sample, len(indices))))
    sandboxes = Sandboxes(args.timeout)
    results: list[SceneFigures] = []
    lock = threading.Lock()
    started = time.monotonic()
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(run_scene, index, corpus[index]["code"], sandboxes, order)
                       for order, index in enumerate(indices)]
            for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
                figures = future.result()
                with lock:
                    results.append(figures)
                before, after = figures.before, figures.after
                if figures.refused:
                    line = f"refused: {figures.refused}"
                elif before is not None and before.ok:
                    line = f"before {before.errors}E {before.warnings}W"
                else:
                    line = f"render failed ({before.status if before else '?'})"
                if after and after.ok:
                    line += f" | after {after.errors}E {after.warnings}W fixes {after.fixes}"
                print(f"[{done}/{len(indices)} {time.monotonic() - started:6.0f}s] #{figures.index} {line}", flush=True)
    finally:
        sandboxes.close()
    return sorted(results, key=lambda figures: figures.index)


def run_builtin(args: argparse.Namespace) -> dict[str, dict[str, Render]]:
    """Each kind, narrated as a live job is, without and with the prelude's layout fixes."""
    from appliance.generation.builtin import solve
    from appliance.generation.builtin.solve import work
    from tests.integration.test_builtin_render import ONE_PER_KIND

    sandboxes = Sandboxes(args.timeout)
    preludes = {"without fixes": PRELUDE_WITHOUT_LAYOUT_FIXES, "with fixes": COMPAT_PRELUDE}

    def render(job: tuple[str, str]) -> tuple[str, str, Render, list[str]]:
        kind, label = job
        problem = ONE_PER_KIND[kind]
        solution = solve(problem)
        _, language = work(problem)
        result = sandboxes.recording.render(solution.code, solution.scene_name, "low", preludes[label],
                                            VoiceRequest(True, language))
        layout = result.layout
        lines = [f"{issue.severity} {issue.kind} at {issue.time_s:.1f} s: {issue.detail}"
                 for issue in (layout.issues if layout else ())]
        return kind, label, figures_of(result), lines

    found: dict[str, dict[str, Render]] = collections.defaultdict(dict)
    jobs = [(kind, label) for kind in sorted(ONE_PER_KIND) for label in preludes]
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for kind, label, figures, lines in pool.map(render, jobs):
                found[kind][label] = figures
                if not figures.ok:
                    state = f"render failed ({figures.status})"
                elif not lines:
                    state = "clean"
                else:
                    state = f"{figures.errors} error(s), {figures.warnings} warning(s)"
                fixes = {name: count for name, count in figures.fixes.items() if count}
                print(f"{kind:20s} {label:13s} {ONE_PER_KIND[kind]!r}: {state}" + (f"; fixes {fixes}" if fixes else ""),
                      flush=True)
                for line in lines:
                    print(f"    {line}")
    finally:
        sandboxes.close()
    for label in preludes:
        runs = [by_label[label] for by_label in found.values() if label in by_label]
        clean = sum(1 for run in runs if run.ok and run.errors == 0 and run.warnings == 0)
        with_errors = sum(1 for run in runs if run.ok and run.errors)
        print(f"built-in kinds {label}: {clean}/{len(runs)} with no layout issue, {with_errors} with errors")
    return dict(found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--sample", type=int, default=0, help="a seeded sample of this many scenes (0: all)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per render")
    parser.add_argument("--builtin", action="store_true", help="the built-in solver's kinds instead of the corpus")
    parser.add_argument("--json", type=Path, default=None, help="also write every render's figures to this file")
    args = parser.parse_args()
    if args.builtin:
        found = run_builtin(args)
        if args.json:
            args.json.write_text(json.dumps({kind: {label: asdict(run) for label, run in runs.items()}
                                             for kind, runs in found.items()}, indent=1))
        return 0
    if not args.corpus.is_file():
        print(f"corpus not found at {args.corpus} (it lives in ../shared/corpus/)", file=sys.stderr)
        return 2
    results = run_corpus(args)
    report_corpus(results)
    if args.json:
        args.json.write_text(json.dumps([asdict(figures) for figures in results], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
