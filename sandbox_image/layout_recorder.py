"""Records where things are on screen while a scene renders: the layout gate's input.

``install()`` wraps ``Scene.play`` and ``Scene.wait`` on the class itself (so every subclass,
VoiceoverScene and MovingCameraScene included, is covered) and ``Scene.update_to_time`` (the
frame loop of animations and of waits with updaters). After each outermost play or wait, and
every ``MID_SAMPLE_EVERY_S`` inside long ones, it takes a *sample*: the bounding box of every
mobject on screen, in scene units, in drawing order (z_index, then family order, the way the
camera draws them), with the visible frame and the time (``renderer.time``).

* Text-like mobjects (Text, MarkupText, Paragraph, Tex, MathTex, SingleStringMathTex,
  DecimalNumber, Integer: axis and tick labels are these) are one item each, with their text
  and their *cap height*: the height of a digit or capital at their font size (the box of "-"
  or "x" says little about how readable it is).
* Lines and filled shapes are recorded only where they touch a text's box (what the checks
  need), with an outline of at most ``MAX_OUTLINE_POINTS`` points; everything else counts only
  in the sample's signature, which tells whether anything on screen changed.
* Invisible mobjects (no visible fill and no visible stroke) are skipped, and so are a
  NumberPlane's background grid lines.

Bounded: at most ``MAX_SAMPLES`` samples, ``MAX_TEXTS`` texts and ``MAX_SHAPES`` shapes per
sample, ``MAX_OBJECTS`` distinct objects, ``MAX_BYTES`` of JSON (past those it stops and says
it was truncated). An item unchanged since an object's previous sample is written as the
object's number alone. Any fault inside the recorder stops recording, never the render.

Nothing here is trusted by the host: the scene runs in this process and may rewrite all of
it. The host parses the file only in its bounded checker process. Standard library + Manim.
"""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
MAX_SAMPLES = 160
MAX_TEXTS = 80
MAX_SHAPES = 60
MAX_OBJECTS = 1500
MAX_BYTES = 1_500_000
MAX_TEXT_CHARS = 80
MAX_OUTLINE_POINTS = 24
MID_SAMPLE_EVERY_S = 2.5
MAX_MID_SAMPLES_PER_CALL = 4
MAX_FAULTS = 3
VISIBLE_OPACITY = 0.05
# Cap height (a digit or capital letter) per point of font size, measured in Manim 0.19 at
# font_size 48: Text("0") is 0.504 units tall, MathTex("0") 0.343.
CAP_HEIGHT_PER_POINT = {"text": 0.504 / 48, "tex": 0.343 / 48}

_TAGS = re.compile(r"<[^>]*>")


class _Stop(Exception):
    """A cap was reached: no more samples."""


class Recorder:
    def __init__(self) -> None:
        from manim import config

        self.frame_size = (float(config.frame_width), float(config.frame_height))
        self.objects: list[dict[str, Any]] = []
        self._index: dict[int, int] = {}
        self._pinned: list[Any] = []  # keeps recorded mobjects alive, so an id is never reused
        self._last_item: dict[int, list[Any]] = {}
        self.samples: list[dict[str, Any]] = []
        self.bytes = 0
        self.truncated = ""
        self.faults = 0
        self.fault_note = ""
        self.cost_s = 0.0
        self.depth = 0
        self.call_started_at = 0.0
        self.next_mid_s = 0.0
        self.mids_in_call = 0
        self.stopped = False
        self._types: dict[str, Any] = {}
        self._roles: dict[int, str] = {}

    # -- the hooks -----------------------------------------------------------------------------

    def before_call(self, scene: Any) -> None:
        if self.depth == 0:
            if not self.samples:
                self.sample(scene, "start")
            self.call_started_at = self._time(scene)
            self.next_mid_s = MID_SAMPLE_EVERY_S
            self.mids_in_call = 0
        self.depth += 1

    def after_call(self, scene: Any, phase: str) -> None:
        self.depth -= 1
        if self.depth == 0:
            self.sample(scene, phase)

    def during_call(self, scene: Any, local_t: float) -> None:
        if self.depth == 0 or self.mids_in_call >= MAX_MID_SAMPLES_PER_CALL or local_t < self.next_mid_s:
            return
        duration = float(getattr(scene, "duration", 0.0) or 0.0)
        if duration - local_t < 1.0:  # the sample after the call is about to be taken anyway
            return
        self.next_mid_s = local_t + MID_SAMPLE_EVERY_S
        self.mids_in_call += 1
        self.sample(scene, "mid")

    # -- one sample ----------------------------------------------------------------------------

    def sample(self, scene: Any, phase: str) -> None:
        if self.stopped:
            return
        started = time.perf_counter()
        try:
            if len(self.samples) >= MAX_SAMPLES:
                raise _Stop(f"more than {MAX_SAMPLES} samples")
            self._sample(scene, phase)
        except _Stop as stop:
            self.truncated = str(stop)
            self.stopped = True
        except Exception as exc:  # the recorder must never break a render
            self.faults += 1
            self.fault_note = f"{type(exc).__name__}: {exc}"[:200]
            if self.faults >= MAX_FAULTS:
                self.stopped = True
        finally:
            self.cost_s += time.perf_counter() - started

    def _sample(self, scene: Any, phase: str) -> None:
        import numpy as np

        types = self._manim_types()
        camera = scene.camera
        frame_width = float(camera.frame_width)
        frame_height = float(camera.frame_height)
        center = np.asarray(camera.frame_center, dtype=float).reshape(-1)
        projected = False
        orientation: tuple[float, ...] = ()
        if isinstance(camera, types["ThreeDCamera"]):
            phi, theta = float(camera.get_phi()), float(camera.get_theta())
            orientation = (round(phi, 3), round(theta, 3), round(float(camera.get_gamma()), 3))
            projected = abs(phi) > 1e-3 or abs(theta + math.pi / 2) > 1e-3
        drawn = self._drawn(scene, types)
        texts: list[tuple[Any, tuple[float, float, float, float], int]] = []
        others: list[tuple[Any, tuple[float, float, float, float], int]] = []
        signature: list[tuple[Any, ...]] = [(round(center[0], 3), round(center[1], 3), round(frame_width, 3),
                                             round(frame_height, 3), orientation)]
        for order, (mobject, is_text, _role) in enumerate(drawn):
            points = mobject.get_all_points() if is_text else mobject.points
            if len(points) == 0:
                continue
            low = points.min(axis=0)
            high = points.max(axis=0)
            box = (float(low[0]), float(low[1]), float(high[0]), float(high[1]))
            if not all(math.isfinite(value) and abs(value) < 1e4 for value in box):
                continue
            signature.append((id(mobject), round(box[0], 2), round(box[1], 2), round(box[2], 2), round(box[3], 2)))
            if is_text:
                texts.append((mobject, box, order))
            else:
                others.append((mobject, box, order))
        entries: list[tuple[int, Any]] = []
        for mobject, box, order in texts[:MAX_TEXTS]:
            cap_height = round(self._cap_height(mobject, box, types), 3)
            entries.append((order, self._item(mobject, [*_rounded(box, 3), cap_height], "text")))
        text_boxes = [box for _, box, _ in texts[:MAX_TEXTS]]
        shapes = 0
        for mobject, box, order in others:
            if shapes >= MAX_SHAPES:
                break
            if not any(_touch(box, text_box) for text_box in text_boxes):
                continue
            fill, stroke = _fill_and_stroke(mobject, types)
            kind = "image" if isinstance(mobject, types["ImageMobject"]) else ("shape" if fill > 0.05 else "line")
            outline = [] if kind == "image" else _outline(mobject)
            entries.append((order, self._item(mobject, [*_rounded(box, 3), round(fill, 2), round(stroke, 2), outline],
                                              kind)))
            shapes += 1
        entries.sort(key=lambda entry: entry[0])
        record = {
            "t": round(self._time(scene), 3),
            "phase": phase,
            "frame": [round(center[0] - frame_width / 2, 3), round(center[1] - frame_height / 2, 3),
                      round(center[0] + frame_width / 2, 3), round(center[1] + frame_height / 2, 3)],
            "projected": projected,
            "sig": f"{hash(tuple(signature)) & 0xFFFFFFFFFFFF:x}",
            "items": [item for _, item in entries],
        }
        size = len(json.dumps(record, separators=(",", ":")))
        if self.bytes + size > MAX_BYTES:
            raise _Stop(f"more than {MAX_BYTES} bytes")
        self.bytes += size
        self.samples.append(record)

    def _item(self, mobject: Any, entry: list[Any], kind: str) -> Any:
        """``[object, ...entry]``, or the object's number alone if unchanged since its last sample."""
        number = self._object(mobject, kind)
        if self._last_item.get(number) == entry:
            return number
        self._last_item[number] = entry
        return [number, *entry]

    def _object(self, mobject: Any, kind: str) -> int:
        key = id(mobject)
        number = self._index.get(key)
        if number is not None:
            return number
        if len(self.objects) >= MAX_OBJECTS:
            raise _Stop(f"more than {MAX_OBJECTS} objects")
        described: dict[str, Any] = {"kind": kind, "class": type(mobject).__name__[:40]}
        if kind == "text":
            described["text"] = _text_of(mobject, self._manim_types())
            role = self._roles.get(key)
            if role:
                described["role"] = role
        number = len(self.objects)
        self.objects.append(described)
        self._index[key] = number
        self._pinned.append(mobject)
        self.bytes += len(json.dumps(described)) + 1
        return number

    # -- what is on screen ---------------------------------------------------------------------

    def _drawn(self, scene: Any, types: dict[str, Any]) -> list[tuple[Any, bool, str]]:
        """(mobject, is_text, role) in the order the camera draws them; a text stands for its
        whole family; invisible ones and grid lines are left out."""
        text_types = types["text"]
        found: list[tuple[int, int, Any, bool]] = []
        seen: set[int] = set()
        self._roles = {}
        counter = 0

        def visit(mobject: Any) -> None:
            nonlocal counter
            key = id(mobject)
            if key in seen:
                return
            seen.add(key)
            if isinstance(mobject, text_types):
                if _visible_family(mobject, types):
                    found.append((_z(mobject), counter, mobject, True))
                    counter += 1
                return
            skipped: set[int] = set()
            if isinstance(mobject, types["NumberPlane"]):
                for grid in (getattr(mobject, "background_lines", None), getattr(mobject, "faded_lines", None)):
                    if grid is not None:
                        skipped.update(id(member) for member in grid.get_family())
            if isinstance(mobject, types["NumberLine"]):
                numbers = getattr(mobject, "numbers", None)
                for number in (numbers.submobjects if numbers is not None else []):
                    self._roles[id(number)] = "tick"
            if len(mobject.points) and _visible(mobject, types):
                found.append((_z(mobject), counter, mobject, False))
                counter += 1
            for child in mobject.submobjects:
                if id(child) not in skipped:
                    visit(child)
                else:
                    seen.update(id(member) for member in child.get_family())

        for mobject in list(scene.mobjects):
            visit(mobject)
        found.sort(key=lambda entry: (entry[0], entry[1]))
        return [(mobject, is_text, self._roles.get(id(mobject), "")) for _, _, mobject, is_text in found]

    def _cap_height(self, mobject: Any, box: tuple[float, float, float, float], types: dict[str, Any]) -> float:
        """The height of a digit or capital letter at the text's size (its font size times the
        cap height per point); the tallest glyph's height when the size is unknown."""
        family = "text" if isinstance(mobject, types["pango"]) else "tex"
        try:
            size = float(mobject.font_size)
            if math.isfinite(size) and size > 0:
                return size * CAP_HEIGHT_PER_POINT[family]
        except Exception:
            pass
        tallest = 0.0
        for member in mobject.get_family():
            if len(member.points):
                tallest = max(tallest, float(member.points[:, 1].max() - member.points[:, 1].min()))
        return tallest or (box[3] - box[1])

    def _manim_types(self) -> dict[str, Any]:
        if not self._types:
            import manim

            pango = (manim.Text, manim.MarkupText, manim.Paragraph)
            self._types = {
                "text": (*pango, manim.SingleStringMathTex, manim.DecimalNumber),
                "pango": pango,
                "NumberPlane": manim.NumberPlane,
                "NumberLine": manim.NumberLine,
                "ThreeDCamera": manim.ThreeDCamera,
                "VMobject": manim.VMobject,
                "ImageMobject": manim.ImageMobject,
            }
        return self._types

    @staticmethod
    def _time(scene: Any) -> float:
        return float(getattr(scene.renderer, "time", 0.0) or 0.0)

    # -- the file ------------------------------------------------------------------------------

    def to_json(self, fixes: dict[str, int] | None = None) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "frame": [round(self.frame_size[0], 4), round(self.frame_size[1], 4)],
            "objects": self.objects,
            "samples": self.samples,
            "truncated": self.truncated,
            "faults": self.faults,
            "fault": self.fault_note,
            "cost_s": round(self.cost_s, 4),
            "fixes": dict(list((fixes or {}).items())[:20]),
        }


def _z(mobject: Any) -> float:
    try:
        return float(getattr(mobject, "z_index", 0) or 0)
    except (TypeError, ValueError):
        return 0.0


def _rounded(box: tuple[float, ...], digits: int) -> list[float]:
    return [round(value, digits) for value in box]


def _touch(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _fill_and_stroke(mobject: Any, types: dict[str, Any]) -> tuple[float, float]:
    """(fill opacity, stroke opacity if the stroke has a width) of one mobject's own paint."""
    if isinstance(mobject, types["VMobject"]):
        fill = float(mobject.fill_rgbas[:, 3].max()) if len(mobject.fill_rgbas) else 0.0
        width = float(mobject.stroke_width or 0.0)
        stroke = float(mobject.stroke_rgbas[:, 3].max()) if width > 0 and len(mobject.stroke_rgbas) else 0.0
        return fill, stroke
    if isinstance(mobject, types["ImageMobject"]):
        return float(getattr(mobject, "opacity", 1.0)), 0.0
    return 0.0, 1.0


def _visible(mobject: Any, types: dict[str, Any]) -> bool:
    fill, stroke = _fill_and_stroke(mobject, types)
    return fill > VISIBLE_OPACITY or stroke > VISIBLE_OPACITY


def _visible_family(mobject: Any, types: dict[str, Any]) -> bool:
    return any(len(member.points) and _visible(member, types) for member in mobject.get_family())


def _outline(mobject: Any) -> list[float]:
    """At most MAX_OUTLINE_POINTS points along the mobject's path (its curves' anchors), flat."""
    points = mobject.points
    anchors = points[::4] if len(points) >= 4 else points
    if len(points) >= 4:
        anchors = [*anchors, points[-1]]
    count = len(anchors)
    if count > MAX_OUTLINE_POINTS:
        step = (count - 1) / (MAX_OUTLINE_POINTS - 1)
        anchors = [anchors[round(index * step)] for index in range(MAX_OUTLINE_POINTS)]
    flat: list[float] = []
    for point in anchors:
        flat.extend((round(float(point[0]), 2), round(float(point[1]), 2)))
    return flat


def _text_of(mobject: Any, types: dict[str, Any]) -> str:
    """A short text for a text-like mobject: what it says."""
    text = ""
    try:
        if isinstance(mobject, types["pango"]):
            source = getattr(mobject, "original_text", None)
            if source is None:
                lines = getattr(mobject, "lines_text", None)
                source = getattr(lines, "original_text", None)
            text = _TAGS.sub("", str(source or ""))
        elif hasattr(mobject, "tex_string"):
            text = str(mobject.tex_string)
        elif hasattr(mobject, "number"):
            places = int(getattr(mobject, "num_decimal_places", 2) or 0)
            value = mobject.get_value() if hasattr(mobject, "get_value") else mobject.number
            text = f"{float(value):.{max(0, min(places, 6))}f}"
    except Exception:
        text = ""
    return " ".join(text.split())[:MAX_TEXT_CHARS]


RECORDER: Recorder | None = None


def install() -> Recorder:
    """Wrap Scene.play, Scene.wait and Scene.update_to_time; returns the recorder."""
    global RECORDER
    import functools

    from manim import Scene

    recorder = Recorder()
    RECORDER = recorder
    original_play = Scene.play
    original_wait = Scene.wait
    original_update = Scene.update_to_time

    def wrap(original: Any, phase: str) -> Any:
        @functools.wraps(original)
        def recorded(self: Any, *args: Any, **kwargs: Any) -> Any:
            recorder.before_call(self)
            try:
                return original(self, *args, **kwargs)
            finally:
                recorder.after_call(self, phase)

        return recorded

    @functools.wraps(original_update)
    def update_to_time(self: Any, t: float) -> Any:
        result = original_update(self, t)
        if recorder.depth:
            recorder.during_call(self, float(t))
        return result

    Scene.play = wrap(original_play, "play")  # type: ignore[method-assign]
    Scene.wait = wrap(original_wait, "wait")  # type: ignore[method-assign]
    Scene.update_to_time = update_to_time  # type: ignore[method-assign]
    return recorder


def write(path: Path, fixes: dict[str, int] | None = None) -> bool:
    """Write the recording (if one was installed) to ``path``; False when there is none."""
    if RECORDER is None:
        return False
    data = json.dumps(RECORDER.to_json(fixes), separators=(",", ":"), allow_nan=False)
    partial = path.with_name(path.name + ".part")
    partial.write_text(data, encoding="utf-8")
    partial.replace(path)
    return True
