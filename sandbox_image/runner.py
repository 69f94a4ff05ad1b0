"""Runs inside the sandbox container: one render request in, one video out, then exit.

Protocol (the host side is appliance/sandbox/docker.py):

1. The runner imports Manim first, so a warm-pool container is ready before its job exists.
2. It reads ONE line of JSON on stdin: {"code", "scene", "quality", "prelude", "encoder_preset",
   "voice", "layout"}; "voice" ({"enabled", "language", "clips"}) configures the narration
   (voice/appliance_voice.py: espeak-ng offline, or clips the host synthesized); "layout"
   (default true) records where things are on screen (layout_recorder.py) for the layout gate.
3. The scene's own output (print, Manim's console, C libraries) goes to stderr: the
   runner moves fd 1 to a private descriptor first, so stdout carries only the runner's
   messages, each one line: ``@@manim-appliance:<kind>@@ <json>``.
4. A scene's subcaptions (what narrated scenes say; any ``add_subcaption``) become a soft
   subtitle track (mov_text) in the MP4, so the video carries them and the host's checker
   reads them back from the file like everything else it accepts.
5. On success the video is moved to /work/output/video.mp4 (and the layout recording written
   to /work/output/layout.json) and the runner prints
   ``done``; it then waits (stdin open) so the host can fetch the file with the Docker
   archive API: /work is a tmpfs volume that disappears when the container stops.
   On failure it prints ``error`` with a classification and exits non-zero.

Nothing here is trusted by the host: the scene code runs in this very process and may
rewrite any of it. The host decides "ok" only from the file it fetches itself.
Runs under the image's Python only; standard library plus Manim.
"""

from __future__ import annotations

import errno
import json
import os
import re
import select
import shutil
import sys
import time
import traceback
import types
import warnings
from pathlib import Path
from typing import Any

WORK_DIR = Path("/work")
OUTPUT_PATH = WORK_DIR / "output" / "video.mp4"
LAYOUT_PATH = WORK_DIR / "output" / "layout.json"
LAYOUT_RECORDER = Path(__file__).with_name("layout_recorder.py")
SCENE_FILE = WORK_DIR / "scene.py"
CONFIG_FILE = Path(__file__).with_name("manim.cfg")
# manim_voiceover (the appliance's offline stand-in) and appliance_voice live here; python -I
# keeps the script's directory off sys.path, so it is added by name.
VOICE_DIR = Path(__file__).with_name("voice")
SUBTITLE_TEMPLATE = VOICE_DIR / "subtitle-track.mp4"
MAX_SUBTITLE_CUES = 400
MAX_CUE_CHARS = 300
MARKER = "@@manim-appliance:{kind}@@ "
# Written on stderr just before "done": stdout and stderr reach the host through two pipes
# the engine relays separately, so "done" can arrive before the last lines the scene
# printed. The host reads stderr up to this line before it reports the tail.
STDERR_END = "@@manim-appliance:stderr-end@@"
MAX_REQUEST_BYTES = 1_000_000
# After "done" the host fetches the video and kills the container; if it never does
# (the appliance died), leave on our own.
WAIT_FOR_HOST_S = 120.0

EXIT_SCENE_ERROR = 1
EXIT_BAD_REQUEST = 2
EXIT_NO_VIDEO = 3

QUALITIES = {"low": "low_quality", "medium": "medium_quality", "high": "high_quality"}

MAIN_PID = os.getpid()


def _private_stdout() -> Any:
    """Keep the real stdout for protocol messages; send everything else to stderr."""
    private_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
    return os.fdopen(private_fd, "w", buffering=1, encoding="utf-8", errors="replace")


PROTOCOL = _private_stdout()


def send(message: str, /, **fields: Any) -> None:
    if os.getpid() != MAIN_PID:  # a forked copy of the runner says nothing
        return
    if message == "done":
        try:
            sys.stdout.flush()  # the scene's print()s: fd 1 is stderr's pipe here
            sys.stderr.write("\n" + STDERR_END + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):  # a scene that closed its stderr: the host waits a moment
            pass
    PROTOCOL.write(MARKER.format(kind=message) + json.dumps(fields) + "\n")
    PROTOCOL.flush()


def leave(code: int) -> None:
    sys.stderr.flush()
    os._exit(code)


def classify_exception(exc: BaseException) -> str:
    """The outcome class an exception stands for (the host may refine it)."""
    if isinstance(exc, MemoryError):
        return "memory"
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, BlockingIOError) or "can't start new thread" in text:
        return "process_limit"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return "output_limit"
    if isinstance(exc, OSError) and exc.errno == errno.EAGAIN:
        return "process_limit"
    return "scene_error"


def latex_errors(exc: BaseException) -> list[str]:
    """The '!' lines of a failed LaTeX run, with the offending source line, if any."""
    match = re.search(r"the log file: (\S+\.log)", str(exc))
    if not match:
        return []
    log_path = Path(match.group(1))
    try:
        log_lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    found: list[str] = []
    for index, line in enumerate(log_lines):
        if not line.startswith("!"):
            continue
        found.append(line)
        for following in log_lines[index + 1 : index + 8]:
            if re.match(r"l\.\d+", following):
                found.append(following)
                break
        if len(found) >= 8:
            break
    try:
        tex_source = log_path.with_suffix(".tex").read_text(encoding="utf-8", errors="replace")
        body = tex_source.split(r"\begin{document}", 1)[-1].split(r"\end{document}", 1)[0].strip()
        if body:
            found.append("while typesetting: " + " ".join(body.split())[:300])
    except OSError:
        pass
    return found


def scene_traceback(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def request_waiting() -> bool:
    """True when the job is already on stdin (a cold start): then there is no idle time to use."""
    try:
        readable, _, _ = select.select([sys.stdin], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def prewarm() -> float:
    """While a warm container waits, pay Manim's first-use costs: Pango and fontconfig,
    the LaTeX toolchain, cairo and the video encoder. Never fatal; leaves no files."""
    started = time.monotonic()
    try:
        from manim import FadeIn, MathTex, Scene, Text, VGroup, tempconfig

        class Warmup(Scene):
            def construct(self) -> None:
                self.play(FadeIn(VGroup(Text("Aa Бб Γγ 数"), MathTex(r"\frac{x^2}{2}"))), run_time=0.1)

        warm_dir = WORK_DIR / ".warmup"
        with tempconfig({"media_dir": str(warm_dir), "quality": "low_quality", "disable_caching": True,
                         "progress_bar": "none", "verbosity": "ERROR", "write_to_movie": True,
                         "save_last_frame": False, "preview": False}):
            Warmup().render()
        shutil.rmtree(warm_dir, ignore_errors=True)
    except Exception as exc:  # a failed warm-up only costs the time it took
        sys.stderr.write(f"warm-up skipped: {type(exc).__name__}: {exc}\n")
    return time.monotonic() - started


def read_request() -> dict[str, Any]:
    line = sys.stdin.buffer.readline(MAX_REQUEST_BYTES)
    request = json.loads(line.decode("utf-8"))
    if not isinstance(request, dict) or not isinstance(request.get("code"), str):
        raise ValueError("the request must be a JSON object with a 'code' string")
    return request


def use_encoder_preset(preset: str) -> None:
    """Manim 0.19 opens libx264 with crf 23 and x264's default preset (medium). A faster
    preset trades file size for CPU time, which a CPU-capped render is short of. Manim
    has no option for it, so its writer module gets an ``av`` whose output containers
    add the preset to libx264 streams (and pass everything else through)."""
    if not preset or preset == "medium":
        return
    import av
    from manim.scene import scene_file_writer

    class PresetContainer:
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

        def __enter__(self) -> PresetContainer:
            self._inner.__enter__()
            return self

        def __exit__(self, *exc_info: Any) -> Any:
            return self._inner.__exit__(*exc_info)

        def add_stream(self, codec_name: Any = None, *args: Any, **kwargs: Any) -> Any:
            if codec_name == "libx264":
                kwargs["options"] = {**(kwargs.get("options") or {}), "preset": preset}
            return self._inner.add_stream(codec_name, *args, **kwargs)

    class PresetAv:
        def __getattr__(self, name: str) -> Any:
            return getattr(av, name)

        def open(self, *args: Any, **kwargs: Any) -> Any:
            container = av.open(*args, **kwargs)
            writing = kwargs.get("mode") == "w" or (len(args) > 1 and args[1] == "w")
            return PresetContainer(container) if writing else container

    scene_file_writer.av = PresetAv()  # type: ignore[assignment]


def configure_manim(quality: str) -> None:
    from manim import config

    config.digest_file(CONFIG_FILE)
    config.quality = QUALITIES.get(quality, "medium_quality")
    config.media_dir = str(WORK_DIR / "media")
    config.disable_caching = True
    config.write_to_movie = True
    config.save_last_frame = False
    config.preview = False
    config.progress_bar = "none"
    config.renderer = "cairo"


def find_scene_class(namespace: dict[str, Any], scene_name: str) -> type:
    from manim import Scene

    if scene_name:
        candidate = namespace.get(scene_name)
        if isinstance(candidate, type) and issubclass(candidate, Scene):
            return candidate
        defined = sorted(
            name for name, value in namespace.items()
            if isinstance(value, type) and issubclass(value, Scene) and value.__module__ == "scene"
        )
        raise LookupError(
            f"no Scene class named {scene_name!r} in the code"
            + (f"; scene classes defined: {', '.join(defined)}" if defined else "; no Scene class is defined")
        )
    scenes = [
        value for value in namespace.values()
        if isinstance(value, type) and issubclass(value, Scene) and value.__module__ == "scene"
    ]
    if not scenes:
        raise LookupError("the code defines no Scene class")
    return scenes[-1]


def add_subtitle_track(movie: Path, cues: list[tuple[float, float, str]]) -> Path:
    """A copy of ``movie`` with ``cues`` as a mov_text track (the only subtitle codec MP4 has).

    FFmpeg's mov_text encoder needs an ASS header PyAV cannot set, so the track's codec
    parameters come from a one-cue template file and the cues are written as raw samples:
    a 16-bit big-endian length, then the UTF-8 text."""
    import struct
    from fractions import Fraction

    import av

    if not cues:
        return movie
    combined = movie.with_name(movie.stem + ".subtitled.mp4")
    millisecond = Fraction(1, 1000)
    with av.open(str(movie)) as source, av.open(str(SUBTITLE_TEMPLATE)) as template, \
            av.open(str(combined), "w", format="mp4") as output:
        streams = {stream.index: output.add_stream(template=stream)
                   for stream in source.streams if stream.type in ("video", "audio")}
        subtitle_stream = output.add_stream(template=template.streams.subtitles[0])
        for packet in source.demux():
            if packet.dts is None or packet.stream.index not in streams:
                continue
            packet.stream = streams[packet.stream.index]
            output.mux(packet)
        for start, end, text in cues:
            data = text.encode("utf-8")[:MAX_CUE_CHARS * 4]
            sample = av.Packet(struct.pack(">H", len(data)) + data)
            sample.stream = subtitle_stream
            sample.time_base = millisecond
            sample.pts = sample.dts = round(start * 1000)
            sample.duration = max(1, round((end - start) * 1000))
            output.mux(sample)
    return combined


def subtitle_cues(scene: Any) -> list[tuple[float, float, str]]:
    """(start s, end s, text) of every subcaption the scene added, in time order."""
    cues = []
    for cue in list(getattr(scene.renderer.file_writer, "subcaptions", []))[:MAX_SUBTITLE_CUES]:
        text = " ".join(str(cue.content).split())[:MAX_CUE_CHARS]
        start, end = cue.start.total_seconds(), cue.end.total_seconds()
        if text and end > start >= 0:
            cues.append((start, end, text))
    return sorted(cues)


def render(request: dict[str, Any]) -> Path | None:
    """Run the scene; the path of the finished movie, or None if nothing was played."""
    code: str = request["code"]
    import appliance_voice

    appliance_voice.configure(request.get("voice"))
    configure_manim(str(request.get("quality") or "medium"))
    use_encoder_preset(str(request.get("encoder_preset") or ""))
    if request.get("layout", True) is not False:
        install_layout_recorder()
    SCENE_FILE.write_text(code, encoding="utf-8")  # tracebacks then show the scene's lines
    module = types.ModuleType("scene")
    module.__file__ = str(SCENE_FILE)
    sys.modules["scene"] = module
    prelude = request.get("prelude") or ""
    if prelude:
        exec(compile(prelude, "<prelude>", "exec"), module.__dict__)
    exec(compile(code, str(SCENE_FILE), "exec"), module.__dict__)
    scene_class = find_scene_class(module.__dict__, str(request.get("scene") or ""))
    scene = scene_class()
    scene.render()
    if not getattr(scene.renderer, "num_plays", 0):
        return None
    return add_subtitle_track(Path(scene.renderer.file_writer.movie_file_path), subtitle_cues(scene))


def install_layout_recorder() -> None:
    """Load layout_recorder.py (beside this file, which python -I keeps off sys.path) and wrap
    Scene's play and wait with it, before the prelude and the scene wrap them in turn."""
    import importlib.util

    try:
        spec = importlib.util.spec_from_file_location("layout_recorder", LAYOUT_RECORDER)
        if spec is None or spec.loader is None:
            return
        recorder = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(recorder)
        recorder.install()
        sys.modules["layout_recorder"] = recorder
    except Exception as exc:  # the video matters more than its layout report
        sys.stderr.write(f"layout recording off: {type(exc).__name__}: {exc}\n")


def write_layout() -> None:
    """The layout recording, with the layout fixes the prelude counted; never fatal."""
    recorder = sys.modules.get("layout_recorder")
    if recorder is None:
        return
    try:
        counted = getattr(sys.modules.get("scene"), "_compat_layout_fixes", None)
        fixes = {str(name)[:40]: int(count) for name, count in dict(counted or {}).items()}
        recorder.write(LAYOUT_PATH, fixes)
    except Exception as exc:
        sys.stderr.write(f"layout recording not written: {type(exc).__name__}: {exc}\n")


def voice_report() -> dict[str, Any]:
    """What spoke (a claim from inside the sandbox: the host only records it)."""
    try:
        import appliance_voice
    except ImportError:
        return {}
    engines = sorted({clip.engine for clip in appliance_voice.SPOKEN})
    return {"voice_engines": engines, "voice_language": appliance_voice.SETTINGS.language,
            "narrations": len(appliance_voice.SPOKEN)}


def main() -> None:
    started = time.monotonic()
    os.chdir(WORK_DIR)
    sys.path.insert(0, str(VOICE_DIR))
    # pydub (imported by Manim for sounds) warns that there is no ffmpeg CLI: true and
    # irrelevant, since video goes through PyAV; keep it out of every stderr tail.
    warnings.filterwarnings("ignore", message="Couldn't find ffmpeg or avconv", category=RuntimeWarning)
    import manim  # noqa: F401  (the slow part a warm container has done before its job)

    import_s = time.monotonic() - started
    warmup_s = 0.0
    if not request_waiting():
        warmup_s = prewarm()
    send("ready", import_s=round(import_s, 3), warmup_s=round(warmup_s, 3))
    try:
        request = read_request()
    except Exception as exc:
        send("error", kind="bad_request", exception=type(exc).__name__, message=str(exc)[:500])
        leave(EXIT_BAD_REQUEST)
    render_started = time.monotonic()
    try:
        movie = render(request)
    except BaseException as exc:
        if os.getpid() != MAIN_PID:  # a fork of the scene unwinding: not our report
            leave(EXIT_SCENE_ERROR)
        kind = classify_exception(exc)
        latex = latex_errors(exc)
        try:
            sys.stderr.write(scene_traceback(exc))
            for line in latex:
                sys.stderr.write(f"LaTeX error: {line}\n")
        except Exception:
            pass
        send("error", kind=kind, exception=type(exc).__name__, message=str(exc)[:500], latex=latex)
        leave(EXIT_SCENE_ERROR)
    if os.getpid() != MAIN_PID:
        leave(0)
    if movie is None:
        send("error", kind="no_video", exception="", message="the scene played no animation", latex=[])
        leave(EXIT_NO_VIDEO)
    try:
        OUTPUT_PATH.parent.mkdir(parents=True, exist_ok=True)
        os.replace(movie, OUTPUT_PATH)
    except OSError as exc:
        send("error", kind="no_video", exception=type(exc).__name__, message=str(exc)[:500], latex=[])
        leave(EXIT_NO_VIDEO)
    write_layout()
    send("done", import_s=round(import_s, 3), render_s=round(time.monotonic() - render_started, 3),
         **voice_report())
    # The tmpfs holding the video lives as long as this container: wait for the host to
    # fetch it and kill us (or close stdin), and never wait forever.
    try:
        select.select([sys.stdin], [], [], WAIT_FOR_HOST_S)
    except Exception:
        pass
    leave(0)


if __name__ == "__main__":
    main()
