"""A seeded sample of real model-written scenes, rendered unchanged: the baseline the
repair step (appliance/validation.py) improves on. Prints how many give a valid MP4."""

from __future__ import annotations

import ast
import json
import random
from collections import Counter
from pathlib import Path

import pytest

from appliance.sandbox.result import RenderStatus
from tests.integration.sandbox_fixtures import make_sandbox_settings, open_sandbox

pytestmark = [pytest.mark.docker, pytest.mark.slow]

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "llm-scenes.jsonl"
SAMPLE_SIZE = 12
SEED = 20240603


def last_scene_class(code: str) -> str:
    """The class an unchanged render would use: the last one whose base ends in 'Scene'."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return ""
    names = [
        node.name for node in tree.body
        if isinstance(node, ast.ClassDef)
        and any((getattr(base, "id", "") or getattr(base, "attr", "")).endswith("Scene") for base in node.bases)
    ]
    return names[-1] if names else ""


def test_a_sample_of_the_corpus_renders_unchanged(tmp_path: Path) -> None:
    if not CORPUS.is_file():
        pytest.skip(f"the render corpus is not here ({CORPUS}); CI provides it")
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    sample = random.Random(SEED).sample(rows, SAMPLE_SIZE)
    sandbox = open_sandbox(make_sandbox_settings(tmp_path, warm_pool_size=1, render_timeout_s=45))
    outcomes: Counter[str] = Counter()
    try:
        sandbox.warm_up()
        for index, row in enumerate(sample):
            result = sandbox.render(row["code"], last_scene_class(row["code"]), "low")
            outcomes[result.status.value] += 1
            first_line = (result.stderr_tail.strip().splitlines() or [""])[-1][:100]
            print(f"[{index:2d}] {result.status.value:13s} {result.duration_s:5.1f}s  {row['prompt'][:50]!r}  "
                  f"{first_line if not result.ok else ''}")
            assert result.status is not RenderStatus.UNAVAILABLE, result.to_dict()
            if result.ok:
                assert result.video_path is not None and result.video_size_bytes
                assert result.video_duration_s and result.video_duration_s > 0
                result.video_path.unlink()
            else:
                assert result.video_path is None
                if result.status is RenderStatus.SCENE_ERROR:
                    assert result.stderr_tail, "a scene error must come with something a model can act on"
    finally:
        sandbox.close()
    valid = outcomes[RenderStatus.OK.value]
    print(f"\ncorpus baseline: {valid}/{SAMPLE_SIZE} rendered unchanged to a valid MP4; outcomes: {dict(outcomes)}")
    # The corpus is real model output for a range of Manim versions: some must render.
    assert valid >= 1
