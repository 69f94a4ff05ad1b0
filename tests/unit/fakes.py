"""Small in-process stand-ins for the unit tier (the integration tier uses the real ones)."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.errors import CodeRejected, NotFound

FAKE_VIDEO = b"\x00\x00\x00\x18ftypmp42fake-video"
GOOD_CODE = (
    "from manim import *\n\nclass SolutionScene(Scene):\n    def construct(self):\n"
    "        self.play(Create(Circle()))\n"
)


@dataclass
class FakeScene:
    code: str
    scene_name: str = "SolutionScene"
    provider: str = "openai"
    model: str = "openai/fake"
    answer_text: str | None = "x = 4"
    answer_check: str = "verified"
    repairs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class FakeGenerator:
    """Replays a script of outcomes: a code string, or an exception to raise."""

    def __init__(self, script: list[Any] | None = None, provider: str = "openai", delay_s: float = 0.0) -> None:
        self.script = list(script or [])
        self.calls: list[tuple[str, Any]] = []
        self.provider = provider
        self.delay_s = delay_s  # a real model takes a moment; 0 answers at once

    def generate(self, problem_text: str, language: str | None, feedback: Any = None) -> FakeScene:
        self.calls.append((problem_text, feedback))
        if self.delay_s:
            time.sleep(self.delay_s)
        item = self.script.pop(0) if self.script else GOOD_CODE
        if isinstance(item, Exception):
            raise item
        return FakeScene(code=item, provider=self.provider)


@dataclass
class FakeResult:
    status: str
    video_path: Path | None = None
    stderr_tail: str = ""
    duration_s: float = 0.01
    video_size_bytes: int | None = None
    exit_code: int | None = 0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def message(self) -> str:
        return "ok" if self.ok else f"The render failed ({self.status})."


class FakeSandbox:
    def __init__(self, outcomes: list[str] | None = None, hold: threading.Event | None = None) -> None:
        self.outcomes = list(outcomes or [])
        self.rendered: list[str] = []
        self.hold = hold
        self.started = threading.Event()

    def render(self, code: str, scene_name: str, quality: str = "medium", prelude: str = "") -> FakeResult:
        self.rendered.append(code)
        self.started.set()
        if self.hold is not None:
            self.hold.wait(30)
        status = self.outcomes.pop(0) if self.outcomes else "ok"
        if status != "ok":
            return FakeResult(status=status, stderr_tail=f"NameError: boom ({status})", exit_code=1)
        handle, name = tempfile.mkstemp(suffix=".mp4")
        with open(handle, "wb") as out:
            out.write(FAKE_VIDEO)
        return FakeResult(status="ok", video_path=Path(name), video_size_bytes=Path(name).stat().st_size)

    def sweep_orphans(self) -> int:
        return 0

    def check_image(self) -> None:
        return None

    def ping(self, timeout_s: float | None = None) -> None:
        return None

    def close(self) -> None:
        return None


@dataclass(frozen=True)
class Stored:
    key: str
    url: str
    expires_at: str
    size_bytes: int


class FakeStorage:
    name = "fake"

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def put(self, job_id: str, video_path: Path) -> Stored:
        key = f"{job_id}-v.mp4"
        shutil.copy(video_path, self.root / key)
        return Stored(key, f"http://127.0.0.1/videos/{key}", "2030-01-01T00:00:00+00:00",
                      (self.root / key).stat().st_size)

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.root / key).unlink()

    def exists(self, key: str) -> bool:
        return (self.root / key).exists()

    def keys(self) -> Iterator[str]:
        return iter(sorted(p.name for p in self.root.iterdir()))

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        if not self.exists(key):
            raise NotFound(key)
        yield self.root / key

    def check(self) -> None:
        return None


def rejected(reason: str = "line 3: import of 'os' is not allowed") -> CodeRejected:
    return CodeRejected(reason)
