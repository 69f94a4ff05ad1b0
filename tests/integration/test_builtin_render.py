"""Every kind of built-in solution renders to a valid MP4 in the real sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import pytest

from appliance.config import SETTINGS, Settings
from appliance.generation.builtin import KINDS, solve
from appliance.sandbox.docker import DockerSandbox
from tests.integration.sandbox_fixtures import make_sandbox_settings, open_sandbox

pytestmark = [pytest.mark.docker, pytest.mark.slow]

# One problem per kind, spread over the five languages (Cyrillic narration included).
ONE_PER_KIND = {
    "linear_equation": "Solve 2x + 3 = 11",
    "quadratic_equation": "Résous x^2 - 2x - 1 = 0",
    "equation": "Löse x^3 - 6x^2 + 11x - 6 = 0",
    "linear_system": "Реши систему: x + y = 3, x - y = 1",
    "inequality": "Resuelve la desigualdad x^2 - 4 > 0",
    "derivative": "Найди производную функции y = x^2 sin x",
    "indefinite_integral": "Integrate x e^x dx",
    "definite_integral": "Calcula la integral de x^2 de 0 a 3",
    "limit": "Calcule la limite de (x^2 - 4)/(x - 2) quand x tend vers 2",
    "simplify": "Vereinfache (x^2 - 1)/(x - 1)",
    "expand": "Expand (x + 2)(x - 3)",
    "factor": "Разложи на множители 2x^2 - 8",
    "arithmetic": "What is 3/4 + 5/6?",
    "plot": "Zeichne f(x) = x^3 - 3x",
    "pythagorean": "La hipotenusa mide 13 y un cateto 5. Halla el otro cateto.",
    "area": "Площадь круга радиусом 5 см",
}


@pytest.fixture(scope="module")
def builtin_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerSandbox]:
    """The appliance's default render time limit: the figure that matters on a busy two-core machine."""
    default_timeout = float(next(s.default for s in SETTINGS if s.name == "render_timeout_s"))
    settings: Settings = make_sandbox_settings(tmp_path_factory.mktemp("builtin-render"),
                                               render_timeout_s=default_timeout, warm_pool_size=0)
    sandbox = open_sandbox(settings)
    yield sandbox
    sandbox.close()


def test_the_render_list_covers_every_kind() -> None:
    assert set(ONE_PER_KIND) == set(KINDS)


def video_facts(path: Path) -> tuple[int, int, float]:
    """(width, height, seconds) read from the file itself."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        seconds = frames / float(stream.average_rate or 15)
        return stream.width, stream.height, seconds


@pytest.mark.parametrize("kind", sorted(ONE_PER_KIND))
def test_each_kind_renders_a_valid_short_video(kind: str, builtin_sandbox: DockerSandbox) -> None:
    solution = solve(ONE_PER_KIND[kind])
    assert solution.kind == kind
    result = builtin_sandbox.render(solution.code, solution.scene_name, quality="low")
    try:
        assert result.ok, f"{kind}: {result.status} {result.stderr_tail[-2000:]}"
        assert result.video_path is not None and result.video_path.is_file()
        width, height, seconds = video_facts(result.video_path)
        assert (width, height) == (854, 480)
        # Short explanatory videos: long enough to read the steps, never over a minute.
        assert 8 <= seconds <= 60, seconds
    finally:
        if result.video_path is not None:
            result.video_path.unlink(missing_ok=True)
