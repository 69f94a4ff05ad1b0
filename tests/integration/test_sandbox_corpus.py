"""A seeded sample of real model-written scenes, rendered unchanged: the baseline the
repair step (appliance/validation.py) improves on. Prints how many give a valid MP4."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from appliance.sandbox.result import RenderStatus
from tests.corpus import corpus_rows, unrepaired_scene_name
from tests.integration.sandbox_fixtures import make_sandbox_settings, open_sandbox

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SAMPLE_SIZE = 12
SEED = 20240603


def test_a_sample_of_the_corpus_renders_unchanged(tmp_path: Path) -> None:
    rows = corpus_rows()
    sample = random.Random(SEED).sample(rows, SAMPLE_SIZE)
    sandbox = open_sandbox(make_sandbox_settings(tmp_path, warm_pool_size=1, render_timeout_s=45))
    outcomes: Counter[str] = Counter()
    try:
        sandbox.warm_up()
        for index, row in enumerate(sample):
            result = sandbox.render(row["code"], unrepaired_scene_name(row["code"]), "low")
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
