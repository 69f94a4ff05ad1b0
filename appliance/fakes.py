"""Fakes of the contracts (``appliance.contracts``) for tests and benchmarks.

Shipped beside the real parts, as httpx ships ``MockTransport`` beside its transports:
each implements one contract and returns the real result types, so a test that passes
with a fake exercises the same code paths the real part does.

    ScriptedSource   SceneSource   replays a script of code strings (validated as a real source
                                   does) or exceptions
    ScriptedRenderer EngineSandbox plays a script of render statuses; writes a small file as the video
    DirectoryStorage VideoStorage  keeps videos in a directory, URLs that point nowhere
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from appliance.contracts import (
    AnswerCheck,
    GeneratedCodeRejected,
    GeneratedScene,
    RenderResult,
    RenderStatus,
    RepairFeedback,
    StoredVideo,
    SubtitleCue,
    VoiceRequest,
)
from appliance.errors import CodeRejected, NotFound
from appliance.validation import validate_and_repair

FAKE_VIDEO = b"\x00\x00\x00\x18ftypmp42fake-video"
FAKE_STEPS = ["Subtract 3 from both sides: 2x = 8", "Divide both sides by 2: x = 4"]
GOOD_CODE = (
    "from manim import *\n\nclass SolutionScene(Scene):\n    def construct(self):\n"
    "        self.play(Create(Circle()))\n"
)


class ScriptedSource:
    """A ``SceneSource`` that replays a script: each item is a code string (a scene from
    ``provider``) or an exception to raise; an empty script gives ``GOOD_CODE``."""

    def __init__(self, script: list[str | Exception] | None = None, provider: str = "openai",
                 delay_s: float = 0.0, answer_text: str | None = "x = 4",
                 answer_check: AnswerCheck = "verified", steps: list[str] | None = None) -> None:
        self.script = list(script or [])
        self.steps = list(steps if steps is not None else FAKE_STEPS)
        self.calls: list[tuple[str, RepairFeedback | None]] = []
        self.provider = provider
        self.delay_s = delay_s  # a real model takes a moment; 0 answers at once
        self.answer_text = answer_text
        self.answer_check: AnswerCheck = answer_check

    def generate(
        self, problem_text: str, language: str | None, feedback: RepairFeedback | None = None
    ) -> GeneratedScene:
        self.calls.append((problem_text, feedback))
        if self.delay_s:
            time.sleep(self.delay_s)
        item = self.script.pop(0) if self.script else GOOD_CODE
        if isinstance(item, Exception):
            raise item
        return self.scene(item)

    def scene(self, code: str) -> GeneratedScene:
        """``code`` checked as a real source checks it (``validate_and_repair``): the scene to
        render and its class name, or ``GeneratedCodeRejected`` for the repair loop."""
        model = f"{self.provider}/fake"
        try:
            checked = validate_and_repair(code)
        except CodeRejected as exc:
            raise GeneratedCodeRejected(exc.reason, code, self.provider, model) from exc
        return GeneratedScene(code=checked.code, scene_name=checked.scene_name, provider=self.provider,
                              model=model, answer_text=self.answer_text, answer_check=self.answer_check,
                              repairs=list(checked.repairs), steps=list(self.steps))

    def describe(self) -> str:
        return f"LLM chain: {self.provider}/fake (scripted)"

    def providers(self) -> list[str]:
        return [f"{self.provider}/fake"]


class ScriptedRenderer:
    """An ``EngineSandbox`` that plays a script of statuses (``ok`` when it runs out). An
    ``ok`` render writes ``FAKE_VIDEO`` to a temporary file the caller owns, "narrated" as
    the real sandbox would report it (a voice when asked for, one subtitle either way).
    ``hold`` keeps every render waiting (up to ``hold_s``, 30 s by default) until it is set."""

    def __init__(self, outcomes: list[str] | None = None, hold: threading.Event | None = None,
                 hold_s: float = 30.0) -> None:
        self.outcomes = list(outcomes or [])
        self.rendered: list[str] = []
        self.voices: list[VoiceRequest | None] = []
        self.hold = hold
        self.hold_s = hold_s
        self.started = threading.Event()

    def render(self, code: str, scene_name: str, quality: str = "medium", prelude: str = "",
               voice: VoiceRequest | None = None) -> RenderResult:
        self.rendered.append(code)
        self.voices.append(voice)
        self.started.set()
        if self.hold is not None:
            self.hold.wait(self.hold_s)
        status = RenderStatus(self.outcomes.pop(0) if self.outcomes else "ok")
        if status is not RenderStatus.OK:
            return RenderResult(status, exit_code=1, stderr_tail=f"NameError: boom ({status})", duration_s=0.01)
        return self.video_result(voice=voice)

    @staticmethod
    def video_result(content: bytes = FAKE_VIDEO, voice: VoiceRequest | None = None) -> RenderResult:
        handle, name = tempfile.mkstemp(suffix=".mp4")
        with open(handle, "wb") as out:
            out.write(content)
        spoken = voice is not None and voice.enabled
        return RenderResult(RenderStatus.OK, exit_code=0, duration_s=0.01, video_path=Path(name),
                            video_size_bytes=len(content), video_duration_s=2.0, video_width=854, video_height=480,
                            has_audio=spoken, voice_engine="espeak-ng" if spoken else "none",
                            subtitles=(SubtitleCue(0.0, 1.5, "Subtract 3 from both sides"),))

    def ping(self, timeout_s: float | None = None) -> None:
        return None

    def check_image(self) -> None:
        return None

    def warm_up(self) -> None:
        return None

    def sweep_orphans(self) -> int:
        return 0

    def close(self) -> None:
        return None


class DirectoryStorage:
    """A ``VideoStorage`` in a directory, with URLs on 127.0.0.1 that nothing serves."""

    name = "fake"

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def put(self, key: str, video_path: Path) -> StoredVideo:
        shutil.copy(video_path, self.root / key)
        return StoredVideo(key, f"http://127.0.0.1/videos/{key}", "2030-01-01T00:00:00+00:00",
                           (self.root / key).stat().st_size)

    def url_for(self, key: str) -> tuple[str, str]:
        return f"http://127.0.0.1/videos/{key}", "2030-01-01T00:00:00+00:00"

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
