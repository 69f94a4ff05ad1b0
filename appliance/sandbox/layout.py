"""The layout gate: a render's layout recording checked for cut-off, overlapping, hidden and
unreadable text, and for pacing; model-free, deterministic, every finding explained.

The recording (``sandbox_image/layout_recorder.py``) comes from inside the sandbox, where the
scene's own code runs: it is untrusted input. The host never parses it: a render's recording
is checked (``check_file``) in the check container, with the video (``checkbox.py``,
``verdict.py``). ``check_recording`` runs the same checks locally (tests, bench/check_bench.py)
as a bounded child process (``python -m appliance.sandbox.layout FILE DURATION``: no secrets in
its environment, capped memory and CPU, a deadline; the same runner as the video checker).
Either way the file is validated against the schema below (``parse_recording``), checked
(``check_layout``) and the answer validated again (``report_from_json``: known kinds, capped
counts and lengths, finite numbers) before it becomes a ``LayoutReport``.

What is checked, on every *settled* sample (after a ``play`` or a ``wait``; samples taken in
the middle of an animation only count for the still-frame check), in scene units:

======================  ========  ==========================================================
kind                    severity  rule
======================  ========  ==========================================================
text_outside_frame      error     a text's box crosses an edge of the visible frame by more
                                  than ``EDGE_TOLERANCE`` (cut off)
text_outside_frame      warning   a text's box is wholly outside the frame (never seen)
text_overlap            error     two texts' boxes intersect by more than
                                  ``OVERLAP_THRESHOLD`` (0.15) of the smaller box's area
text_hidden             error     a filled shape (fill opacity >= ``HIDING_FILL_OPACITY``)
                                  drawn over a text covers >= ``HIDDEN_COVERAGE`` of its box
text_hidden             warning   a line (or a shape's outline) passes through the middle of
                                  a text: through its box shrunk by ``CORE_MARGIN`` of its
                                  height at the top and bottom and at each side (so
                                  underlines, frames and arrows that stop short do not count)
text_too_small          error     a text's cap height (a digit or capital at its font size)
                                  is below ``MIN_CAP_HEIGHT_FRACTION`` = 1/40 of the visible
                                  frame's height (0.2 units on Manim's 8-unit frame: 18 px
                                  at 720p, 12 px at 480p)
still_frame             warning   nothing on screen changes for more than ``STILL_LIMIT_S``
                                  (10 s): no object appears, goes, moves or changes size
                                  (a change of colour alone is not seen)
too_short               error     the video lasts less than ``MIN_VIDEO_S`` (3 s)
======================  ========  ==========================================================

An issue that persists over several samples is reported once (first time, boxes then, total
time on screen). Samples seen through a turned 3-D camera (``projected``) are not checked for
geometry: their 2-D boxes are not what the viewer sees.

This module imports nothing but the standard library, the contracts' types, ``video`` and
``repair.layout_fixes``' names, so that the checker starts fast and a copy of it runs in the
check container without the appliance's dependencies (``checkbox.CHECKER_FILES``).
"""

from __future__ import annotations

import itertools
import json
import math
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from appliance.contracts import (
    LAYOUT_KINDS,
    LAYOUT_SEVERITIES,
    MAX_LAYOUT_ISSUES,
    LayoutBox,
    LayoutIssue,
    LayoutKind,
    LayoutReport,
    LayoutSeverity,
)
from appliance.repair.layout_fixes import FIX_NAMES  # the fixes the prelude may report counts of
from appliance.sandbox.video import limit_checker_process, run_checker

# -- thresholds (documented in the module docstring and the README) ------------------------------

EDGE_TOLERANCE = 0.02  # scene units a text may cross an edge by (rounding, antialiasing)
OVERLAP_THRESHOLD = 0.15  # intersection / the smaller box's area
MIN_BOX_SIDE = 0.05  # boxes thinner than this (a minus sign) count as this thick for areas
HIDING_FILL_OPACITY = 0.5
HIDDEN_COVERAGE = 0.25  # share of a text's box a filled shape drawn over it covers
CROSSING_STROKE_OPACITY = 0.3
CORE_MARGIN = 0.25  # share of a text's height left out at each side of its box for crossings
MIN_CAP_HEIGHT_FRACTION = 1 / 40
STILL_LIMIT_S = 10.0
MIN_VIDEO_S = 3.0

# -- what the recording may hold (past these it is refused) ---------------------------------------

RECORDING_MAX_BYTES = 2 * 1024 * 1024
FORMAT_VERSION = 1
MAX_OBJECTS = 5000
MAX_SAMPLES = 200  # the recorder takes at most 160, with at most 80 texts and 60 shapes each
MAX_ITEMS = 160
MAX_OUTLINE_NUMBERS = 64
# Steps the checks may take over one recording (a pair of texts is one step, a text against a
# shape one per point of the shape's outline): a recording built to be slow to check stops the
# checks early (noted) instead of running to the checker's deadline. A busy real scene takes a
# few thousand steps per sample.
MAX_CHECK_STEPS = 2_000_000
MAX_STRING = 200
MAX_COORDINATE = 1e4
MAX_TIME_S = 1e5
PHASES = ("start", "play", "wait", "mid")
SETTLED_PHASES = ("start", "play", "wait")
OBJECT_KINDS = ("text", "line", "shape", "image")

# -- what a report may hold (checked again by the parent) ---------------------------------------

MAX_ISSUE_OBJECTS = 6
MAX_OBJECT_CHARS = 120
MAX_DETAIL_CHARS = 400
MAX_NOTE_CHARS = 300
MAX_COUNT = 1_000_000
_UNREADABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class SceneObject:
    kind: str  # text | line | shape | image
    class_name: str
    text: str = ""
    role: str = ""  # "tick": a number on an axis

    def describe(self) -> str:
        name = "tick label" if self.role == "tick" else self.class_name
        if self.kind != "text" or not self.text:
            return name
        shown = self.text if len(self.text) <= 40 else self.text[:39] + "…"
        return f'{name} "{shown}"'


@dataclass(frozen=True)
class Item:
    """One object as one sample saw it, in drawing order."""

    obj: int
    box: Box
    cap_height: float = 0.0  # texts
    fill: float = 0.0  # shapes and lines: opacity of their fill and of their stroke
    stroke: float = 0.0
    outline: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class Sample:
    t: float
    phase: str
    frame: Box
    projected: bool
    signature: str
    items: tuple[Item, ...]

    @property
    def settled(self) -> bool:
        return self.phase in SETTLED_PHASES


@dataclass(frozen=True)
class Recording:
    frame_width: float
    frame_height: float
    objects: tuple[SceneObject, ...]
    samples: tuple[Sample, ...]
    truncated: str = ""
    faults: int = 0
    fixes: tuple[tuple[str, int], ...] = ()
    cost_s: float = 0.0


# -- parsing (in the checker process) ------------------------------------------------------------


def _number(value: Any, name: str, low: float = -MAX_COORDINATE, high: float = MAX_COORDINATE) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: not a number")
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise ValueError(f"{name}: out of range")
    return number


def _string(value: Any, name: str, limit: int = MAX_STRING) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise ValueError(f"{name}: not a short string")
    return _UNREADABLE.sub("\ufffd", value)


def _list(value: Any, name: str, limit: int) -> list[Any]:
    if not isinstance(value, list) or len(value) > limit:
        raise ValueError(f"{name}: not a list of at most {limit}")
    return value


def _box(values: Sequence[Any], name: str) -> Box:
    x0, y0, x1, y1 = (_number(value, name) for value in values)
    if x1 < x0 or y1 < y0:
        raise ValueError(f"{name}: an inverted box")
    return (x0, y0, x1, y1)


def parse_recording(data: Any) -> Recording:
    """The recording's JSON, checked against its schema; ``ValueError`` when it does not fit."""
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        raise ValueError("not a layout recording of a known version")
    frame = _list(data.get("frame"), "frame", 2)
    if len(frame) != 2:
        raise ValueError("frame: two numbers")
    frame_width, frame_height = (_number(value, "frame", 0.01) for value in frame)
    objects: list[SceneObject] = []
    for raw in _list(data.get("objects"), "objects", MAX_OBJECTS):
        if not isinstance(raw, dict) or raw.get("kind") not in OBJECT_KINDS:
            raise ValueError("objects: bad object")
        objects.append(SceneObject(str(raw["kind"]), _string(raw.get("class", ""), "class"),
                                   _string(raw.get("text", ""), "text"), _string(raw.get("role", ""), "role")))
    last_entry: dict[int, Item] = {}
    samples: list[Sample] = []
    for raw in _list(data.get("samples"), "samples", MAX_SAMPLES):
        if not isinstance(raw, dict) or raw.get("phase") not in PHASES:
            raise ValueError("samples: bad sample")
        sample_frame = _list(raw.get("frame"), "sample frame", 4)
        if len(sample_frame) != 4:
            raise ValueError("sample frame: four numbers")
        items: list[Item] = []
        for entry in _list(raw.get("items"), "items", MAX_ITEMS):
            items.append(_item(entry, objects, last_entry))
        samples.append(Sample(
            t=_number(raw.get("t"), "t", 0.0, MAX_TIME_S),
            phase=str(raw["phase"]),
            frame=_box(sample_frame, "sample frame"),
            projected=raw.get("projected") is True,
            signature=_string(raw.get("sig", ""), "sig", 64),
            items=tuple(items),
        ))
    samples.sort(key=lambda sample: sample.t)  # stable: a scene cannot turn time back, but a file can
    fixes: list[tuple[str, int]] = []
    raw_fixes = data.get("fixes") or {}
    if not isinstance(raw_fixes, dict):
        raise ValueError("fixes: not an object")
    for name in FIX_NAMES:
        if name in raw_fixes:
            fixes.append((name, int(_number(raw_fixes[name], "fixes", 0, MAX_COUNT))))
    faults = int(_number(data.get("faults", 0), "faults", 0, MAX_COUNT))
    return Recording(frame_width, frame_height, tuple(objects), tuple(samples),
                     _string(data.get("truncated", ""), "truncated"), faults, tuple(fixes),
                     _number(data.get("cost_s", 0.0), "cost_s", 0.0, MAX_TIME_S))


def _item(entry: Any, objects: Sequence[SceneObject], last_entry: dict[int, Item]) -> Item:
    if isinstance(entry, int) and not isinstance(entry, bool):
        if entry not in last_entry:
            raise ValueError("items: a reference to an object never described")
        return last_entry[entry]
    values = _list(entry, "item", 9)
    if not values or isinstance(values[0], bool) or not isinstance(values[0], int) \
            or not 0 <= values[0] < len(objects):
        raise ValueError("items: an unknown object")
    number = values[0]
    if objects[number].kind == "text":
        if len(values) != 6:
            raise ValueError("items: a text is [object, x0, y0, x1, y1, cap height]")
        item = Item(number, _box(values[1:5], "text box"), cap_height=_number(values[5], "cap height", 0.0))
    else:
        if len(values) != 8:
            raise ValueError("items: a shape is [object, x0, y0, x1, y1, fill, stroke, outline]")
        outline = _list(values[7], "outline", MAX_OUTLINE_NUMBERS)
        if len(outline) % 2:
            raise ValueError("outline: an odd count of coordinates")
        coordinates = [_number(value, "outline") for value in outline]
        item = Item(number, _box(values[1:5], "shape box"), fill=_number(values[5], "fill", 0.0, 1.0),
                    stroke=_number(values[6], "stroke", 0.0, 1.0),
                    outline=tuple(zip(coordinates[::2], coordinates[1::2], strict=True)))
    last_entry[number] = item
    return item


# -- geometry ------------------------------------------------------------------------------------


def _area(box: Box) -> float:
    return max(box[2] - box[0], MIN_BOX_SIDE) * max(box[3] - box[1], MIN_BOX_SIDE)


def _thick(box: Box) -> Box:
    """The box widened to at least MIN_BOX_SIDE on each axis (about its centre)."""
    x0, y0, x1, y1 = box
    if x1 - x0 < MIN_BOX_SIDE:
        middle = (x0 + x1) / 2
        x0, x1 = middle - MIN_BOX_SIDE / 2, middle + MIN_BOX_SIDE / 2
    if y1 - y0 < MIN_BOX_SIDE:
        middle = (y0 + y1) / 2
        y0, y1 = middle - MIN_BOX_SIDE / 2, middle + MIN_BOX_SIDE / 2
    return (x0, y0, x1, y1)


def _intersection(a: Box, b: Box) -> float:
    a, b = _thick(a), _thick(b)
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return width * height if width > 0 and height > 0 else 0.0


def _clipped_polygon_area(polygon: Sequence[tuple[float, float]], box: Box) -> float:
    """Area of ``polygon`` inside ``box`` (Sutherland–Hodgman against the box's four edges;
    the shoelace area of what is left)."""
    points = list(polygon)
    # (axis, bound, keep the side >= bound?) for the left, right, bottom and top edges
    for axis, bound, above in ((0, box[0], True), (0, box[2], False), (1, box[1], True), (1, box[3], False)):
        if not points:
            break
        kept: list[tuple[float, float]] = []
        previous = points[-1]
        for point in points:
            point_in = (point[axis] >= bound) == above
            previous_in = (previous[axis] >= bound) == above
            if point_in != previous_in:
                kept.append(_crossing(previous, point, axis, bound))
            if point_in:
                kept.append(point)
            previous = point
        points = kept
    if len(points) < 3:
        return 0.0
    twice = sum(p[0] * q[1] - q[0] * p[1] for p, q in zip(points, points[1:] + points[:1], strict=True))
    return abs(twice) / 2


def _crossing(p: tuple[float, float], q: tuple[float, float], axis: int, bound: float) -> tuple[float, float]:
    """Where the segment p-q meets the line ``coordinate[axis] == bound``."""
    share = (bound - p[axis]) / (q[axis] - p[axis]) if q[axis] != p[axis] else 0.0
    x, y = p[0] + share * (q[0] - p[0]), p[1] + share * (q[1] - p[1])
    return (bound, y) if axis == 0 else (x, bound)


def _segment_crosses_box(p: tuple[float, float], q: tuple[float, float], box: Box) -> bool:
    """Whether the segment p-q passes through the box (Liang–Barsky clipping)."""
    x0, y0, x1, y1 = box
    low, high = 0.0, 1.0
    dx, dy = q[0] - p[0], q[1] - p[1]
    for step, distance in ((-dx, p[0] - x0), (dx, x1 - p[0]), (-dy, p[1] - y0), (dy, y1 - p[1])):
        if step == 0:
            if distance < 0:
                return False
            continue
        ratio = distance / step
        if step < 0:
            low = max(low, ratio)
        else:
            high = min(high, ratio)
        if low > high:
            return False
    return True


def _core(box: Box) -> Box | None:
    """A text's box without the margins a crossing line may touch (see CORE_MARGIN)."""
    margin = CORE_MARGIN * (box[3] - box[1])
    core = (box[0] + margin, box[1] + margin, box[2] - margin, box[3] - margin)
    return core if core[2] > core[0] and core[3] > core[1] else None


def _polyline_crosses(outline: Sequence[tuple[float, float]], box: Box) -> bool:
    if len(outline) == 1:
        return box[0] <= outline[0][0] <= box[2] and box[1] <= outline[0][1] <= box[3]
    return any(_segment_crosses_box(p, q, box) for p, q in itertools.pairwise(outline))


def _outside(box: Box, frame: Box) -> dict[str, float]:
    """How far the box reaches past each edge of the frame (only the edges it crosses)."""
    reach = {"left": frame[0] - box[0], "bottom": frame[1] - box[1], "right": box[2] - frame[2],
             "top": box[3] - frame[3]}
    return {edge: distance for edge, distance in reach.items() if distance > EDGE_TOLERANCE}


def _wholly_outside(box: Box, frame: Box) -> bool:
    return box[2] <= frame[0] or box[0] >= frame[2] or box[3] <= frame[1] or box[1] >= frame[3]


# -- the checks ----------------------------------------------------------------------------------


@dataclass
class _Found:
    kind: LayoutKind
    severity: LayoutSeverity
    time_s: float
    objects: tuple[int, ...]
    boxes: tuple[Box, ...]
    detail: str
    duration_s: float = 0.0
    measure: float = 0.0  # text_too_small: the cap height


class _Collector:
    """Issues keyed by (kind, severity, objects): one per key, from its first sample; and a
    budget of steps (``MAX_CHECK_STEPS``)."""

    def __init__(self) -> None:
        self.found: dict[tuple[Any, ...], _Found] = {}
        self.touched: list[tuple[Any, ...]] = []  # the keys the sample being checked has
        self.steps_left = MAX_CHECK_STEPS

    def add(self, kind: LayoutKind, severity: LayoutSeverity, sample: Sample, on_screen_s: float,
            objects: tuple[int, ...], boxes: tuple[Box, ...], detail: str, measure: float = 0.0) -> None:
        key = (kind, severity, objects)
        self.touched.append(key)
        if key in self.found:
            self.found[key].duration_s += on_screen_s
            return
        self.found[key] = _Found(kind, severity, sample.t, objects, boxes, detail, on_screen_s, measure)

    def again(self, keys: Sequence[tuple[Any, ...]], on_screen_s: float) -> None:
        """A sample identical to the one before: the same issues, on screen longer."""
        for key in keys:
            self.found[key].duration_s += on_screen_s

    def spend(self, steps: int) -> None:
        self.steps_left -= steps
        if self.steps_left < 0:
            raise _OutOfBudget


def check_layout(recording: Recording, video_duration_s: float | None = None) -> LayoutReport:
    """Every issue the recording shows (see the module docstring), as a report."""
    samples = recording.samples
    objects = recording.objects
    end_s = video_duration_s if video_duration_s is not None else (samples[-1].t if samples else 0.0)
    collector = _Collector()
    projected = 0
    stopped = False
    previous: Sample | None = None
    previous_keys: list[tuple[Any, ...]] = []
    for index, sample in enumerate(samples):
        if not sample.settled:
            continue
        if sample.projected:
            projected += 1
            continue
        following = next((s.t for s in samples[index + 1:] if s.t > sample.t), max(end_s, sample.t))
        on_screen_s = max(0.0, following - sample.t)
        if previous is not None and sample.items == previous.items and sample.frame == previous.frame:
            collector.again(previous_keys, on_screen_s)
            continue
        collector.touched = []
        try:
            _check_sample(sample, objects, on_screen_s, collector)
        except _OutOfBudget:
            stopped = True
            break
        previous, previous_keys = sample, collector.touched
    found = list(collector.found.values())
    found = _merge_small_text(found)
    found.extend(_still_frames(samples, end_s))
    if video_duration_s is not None and video_duration_s < MIN_VIDEO_S:
        found.append(_too_short(video_duration_s))
    issues = [_issue(item, objects) for item in found]
    errors = sum(1 for issue in issues if issue.severity == "error")
    issues.sort(key=lambda issue: (issue.severity != "error", issue.time_s, issue.kind))
    notes = []
    if recording.truncated:
        notes.append(f"the recording stopped early ({recording.truncated})")
    if recording.faults:
        notes.append(f"the recorder failed {recording.faults} time(s)")
    if projected:
        notes.append(f"{projected} sample(s) seen through a turned 3-D camera were not checked")
    if stopped:
        notes.append(f"the checks stopped early: the recording needs over {MAX_CHECK_STEPS} steps to check")
    return LayoutReport(
        checked=True, errors=errors, warnings=len(issues) - errors, issues=tuple(issues[:MAX_LAYOUT_ISSUES]),
        samples=len(samples), frame_width=recording.frame_width, frame_height=recording.frame_height,
        note="; ".join(notes)[:MAX_NOTE_CHARS], fixes=recording.fixes, recording_s=recording.cost_s)


def _check_sample(sample: Sample, objects: Sequence[SceneObject], on_screen_s: float,
                  collector: _Collector) -> None:
    frame = sample.frame
    frame_height = frame[3] - frame[1]
    texts = [(order, item) for order, item in enumerate(sample.items) if objects[item.obj].kind == "text"]
    shown: list[tuple[int, Item]] = []
    for order, item in texts:
        name = objects[item.obj].describe()
        if _wholly_outside(item.box, frame):
            collector.add("text_outside_frame", "warning", sample, on_screen_s, (item.obj,), (item.box,),
                          f"{name} is entirely outside the frame, so it is never seen")
            continue
        shown.append((order, item))
        reach = _outside(item.box, frame)
        if reach:
            width, height = item.box[2] - item.box[0], item.box[3] - item.box[1]
            parts = [f"{distance:.2f} of its {width if edge in ('left', 'right') else height:.2f} units beyond the "
                     f"{edge} edge" for edge, distance in reach.items()]
            collector.add("text_outside_frame", "error", sample, on_screen_s, (item.obj,), (item.box, frame),
                          f"{name} is cut off by the frame: {', '.join(parts)}")
        if item.cap_height < MIN_CAP_HEIGHT_FRACTION * frame_height:
            collector.add("text_too_small", "error", sample, on_screen_s, (item.obj,), (item.box,),
                          f"{name} is too small to read: its letters are {item.cap_height:.3f} units tall, under "
                          f"1/40 of the frame's height ({MIN_CAP_HEIGHT_FRACTION * frame_height:.3f})",
                          round(item.cap_height, 3))
    collector.spend(len(shown) * (len(shown) - 1) // 2)
    for first in range(len(shown)):
        for second in range(first + 1, len(shown)):
            a, b = shown[first][1], shown[second][1]
            if a.obj == b.obj:
                continue
            shared = _intersection(a.box, b.box)
            if shared <= 0:
                continue
            ratio = shared / min(_area(a.box), _area(b.box))
            if ratio > OVERLAP_THRESHOLD:
                pair = tuple(sorted((a.obj, b.obj)))
                boxes = (a.box, b.box) if pair[0] == a.obj else (b.box, a.box)
                collector.add("text_overlap", "error", sample, on_screen_s, pair, boxes,
                              f"{objects[pair[0]].describe()} and {objects[pair[1]].describe()} overlap: "
                              f"{ratio:.0%} of the smaller one's box")
    shapes = [(order, item) for order, item in enumerate(sample.items) if objects[item.obj].kind != "text"]
    collector.spend(len(shown) * sum(1 + len(shape.outline) for _, shape in shapes))
    for text_order, text in shown:
        name = objects[text.obj].describe()
        text_area = _area(text.box)
        core = _core(text.box)
        for shape_order, shape in shapes:
            if not _touching(text.box, shape.box):
                continue
            shape_name = objects[shape.obj].class_name
            if shape.fill >= HIDING_FILL_OPACITY and shape_order > text_order:
                polygon = shape.outline if len(shape.outline) >= 3 else _corners(shape.box)
                covered = _clipped_polygon_area(polygon, _thick(text.box)) / text_area
                if covered >= HIDDEN_COVERAGE:
                    collector.add("text_hidden", "error", sample, on_screen_s, (text.obj, shape.obj),
                                  (text.box, shape.box),
                                  f"{name} is covered by a filled {shape_name} drawn over it ({covered:.0%} of its "
                                  "box)")
                    continue
            if shape.stroke >= CROSSING_STROKE_OPACITY and core is not None and shape.outline \
                    and _polyline_crosses(_closed(shape), core):
                collector.add("text_hidden", "warning", sample, on_screen_s, (text.obj, shape.obj),
                              (text.box, shape.box), f"{name} is crossed by a {shape_name} running through it")


class _OutOfBudget(Exception):
    pass


def _touching(a: Box, b: Box) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _corners(box: Box) -> tuple[tuple[float, float], ...]:
    return ((box[0], box[1]), (box[2], box[1]), (box[2], box[3]), (box[0], box[3]))


def _closed(shape: Item) -> tuple[tuple[float, float], ...]:
    """A filled shape's outline closes on itself; a line's does not."""
    outline = shape.outline
    if shape.fill > 0.05 and len(outline) >= 3 and outline[0] != outline[-1]:
        return (*outline, outline[0])
    return outline


def _merge_small_text(found: list[_Found]) -> list[_Found]:
    """Small texts that first appear together at one size (a row of tick labels) are one issue."""
    merged: list[_Found] = []
    groups: dict[tuple[float, float], _Found] = {}
    for item in found:
        if item.kind != "text_too_small":
            merged.append(item)
            continue
        key = (item.time_s, item.measure)
        group = groups.get(key)
        if group is None:
            groups[key] = item
            merged.append(item)
            continue
        group.objects = (*group.objects, *item.objects)
        group.boxes = (*group.boxes, *item.boxes)
        group.duration_s = max(group.duration_s, item.duration_s)
    for group in groups.values():
        if len(group.objects) > 1:
            group.detail = (f"{len(group.objects)} texts are too small to read: their letters are "
                            f"{group.measure:.3f} units tall, under 1/40 of the frame's height")
    return merged


def _still_frames(samples: Sequence[Sample], end_s: float) -> Iterable[_Found]:
    """Stretches over STILL_LIMIT_S in which every sample has the same signature."""
    index = 0
    while index < len(samples):
        stop = index
        while stop + 1 < len(samples) and samples[stop + 1].signature == samples[index].signature:
            stop += 1
        began = samples[index].t
        ended = samples[stop].t if stop + 1 < len(samples) else max(samples[stop].t, end_s)
        if ended - began > STILL_LIMIT_S:
            yield _Found("still_frame", "warning", began, (), (), (
                f"nothing on screen changes from {began:.1f} s to {ended:.1f} s ({ended - began:.1f} s): show "
                f"something new at least every {STILL_LIMIT_S:.0f} s"), ended - began)
        index = stop + 1


def _too_short(video_duration_s: float) -> _Found:
    return _Found("too_short", "error", 0.0, (), (), (
        f"the video lasts {video_duration_s:.1f} s; under {MIN_VIDEO_S:.0f} s nobody can follow it: show the "
        "steps one after another and pause (self.wait) after each"))


def with_video_duration(report: LayoutReport, video_duration_s: float) -> LayoutReport:
    """The checker's report with the checks that need the video's own duration (read by the
    video's checker from the file): ``too_short``. (The checker ran without it, beside the
    video's checker; its still-frame check ends at the last sample, the end of the last
    play or wait, which is the end of the video.)"""
    if not report.checked or video_duration_s >= MIN_VIDEO_S:
        return report
    issue = _issue(_too_short(video_duration_s), ())
    issues = sorted((*report.issues, issue), key=lambda each: (each.severity != "error", each.time_s, each.kind))
    return replace(report, errors=report.errors + 1, issues=tuple(issues[:MAX_LAYOUT_ISSUES]))


def _issue(found: _Found, objects: Sequence[SceneObject]) -> LayoutIssue:
    names = tuple(objects[number].describe() for number in found.objects[:MAX_ISSUE_OBJECTS])
    if len(found.objects) > MAX_ISSUE_OBJECTS:
        names = (*names[:-1], f"and {len(found.objects) - MAX_ISSUE_OBJECTS + 1} more")
    return LayoutIssue(
        kind=found.kind, severity=found.severity, time_s=round(found.time_s, 3),
        objects=tuple(name[:MAX_OBJECT_CHARS] for name in names),
        boxes=tuple(LayoutBox(*box) for box in found.boxes[:MAX_ISSUE_OBJECTS]),
        detail=found.detail[:MAX_DETAIL_CHARS], duration_s=round(found.duration_s, 3))


# -- the report as JSON, both ways ----------------------------------------------------------------


def report_to_json(report: LayoutReport) -> dict[str, Any]:
    return report.to_dict()


def report_from_json(answer: Any) -> LayoutReport:
    """The checker's answer, validated again on the parent's side: known kinds and severities,
    finite numbers, capped counts and lengths. ``ValueError`` when it does not fit."""
    if not isinstance(answer, dict) or not isinstance(answer.get("checked"), bool):
        raise ValueError("not a layout report")
    issues: list[LayoutIssue] = []
    for raw in _list(answer.get("issues", []), "issues", MAX_LAYOUT_ISSUES):
        if not isinstance(raw, dict):
            raise ValueError("issues: not an object")
        kind, severity = raw.get("kind"), raw.get("severity")
        if kind not in LAYOUT_KINDS or severity not in LAYOUT_SEVERITIES:
            raise ValueError("issues: an unknown kind or severity")
        objects = tuple(_string(name, "object", MAX_OBJECT_CHARS)
                        for name in _list(raw.get("objects", []), "objects", MAX_ISSUE_OBJECTS))
        boxes = tuple(LayoutBox(*_box(_list(box, "box", 4), "box")) if len(box) == 4 else _bad("box")
                      for box in _list(raw.get("boxes", []), "boxes", MAX_ISSUE_OBJECTS))
        issues.append(LayoutIssue(
            kind=kind, severity=severity, time_s=_number(raw.get("time_s"), "time_s", 0.0, MAX_TIME_S),
            objects=objects, boxes=boxes, detail=_string(raw.get("detail", ""), "detail", MAX_DETAIL_CHARS),
            duration_s=_number(raw.get("duration_s", 0.0), "duration_s", 0.0, MAX_TIME_S)))
    frame = _list(answer.get("frame", [0.0, 0.0]), "frame", 2)
    raw_fixes = answer.get("fixes", {})
    if not isinstance(raw_fixes, dict) or any(name not in FIX_NAMES for name in raw_fixes):
        raise ValueError("fixes: unknown names")
    errors = int(_number(answer.get("errors", 0), "errors", 0, MAX_COUNT))
    warnings = int(_number(answer.get("warnings", 0), "warnings", 0, MAX_COUNT))
    if errors + warnings < len(issues):
        raise ValueError("counts: fewer than the issues listed")
    return LayoutReport(
        checked=answer["checked"], errors=errors, warnings=warnings, issues=tuple(issues),
        samples=int(_number(answer.get("samples", 0), "samples", 0, MAX_COUNT)),
        frame_width=_number(frame[0], "frame", 0.0) if len(frame) == 2 else 0.0,
        frame_height=_number(frame[1], "frame", 0.0) if len(frame) == 2 else 0.0,
        note=_string(answer.get("note", ""), "note", MAX_NOTE_CHARS),
        fixes=tuple((name, int(_number(raw_fixes[name], "fixes", 0, MAX_COUNT))) for name in FIX_NAMES
                    if name in raw_fixes),
        recording_s=_number(answer.get("recording_s", 0.0), "recording_s", 0.0, MAX_TIME_S))


def _bad(name: str) -> LayoutBox:
    raise ValueError(f"{name}: not four numbers")


def unchecked(note: str) -> LayoutReport:
    """The report of a render whose layout could not be checked, saying why."""
    return LayoutReport(checked=False, note=note[:MAX_NOTE_CHARS])


# -- the checker process -------------------------------------------------------------------------


def check_file(path: Path, video_duration_s: float | None) -> LayoutReport:
    """Read, validate and check a recording file: runs in the checker process."""
    with path.open("rb") as handle:
        data = handle.read(RECORDING_MAX_BYTES + 1)
    if len(data) > RECORDING_MAX_BYTES:
        return unchecked(f"the layout recording is over {RECORDING_MAX_BYTES} bytes")
    try:
        recording = parse_recording(json.loads(data.decode("utf-8")))
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        return unchecked(f"the layout recording was refused: {str(exc)[:200]}")
    return check_layout(recording, video_duration_s)


def _checker_main(argv: list[str]) -> int:
    """``python -m appliance.sandbox.layout FILE [DURATION]``: one JSON line on stdout."""
    limit_checker_process()
    duration = float(argv[2]) if len(argv) > 2 and argv[2] != "-" else None
    report = check_file(Path(argv[1]), duration)
    sys.stdout.write(json.dumps({"report": report_to_json(report)}) + "\n")
    sys.stdout.flush()
    return 0


def check_recording(path: Path, video_duration_s: float | None) -> LayoutReport:
    """The layout report of a fetched recording, from the bounded checker process."""
    answer = run_checker("appliance.sandbox.layout",
                         [str(path.resolve()), "-" if video_duration_s is None else f"{video_duration_s:.3f}"],
                         "layout")
    if isinstance(answer, str):
        return unchecked(answer)
    try:
        return report_from_json(answer.get("report"))
    except (ValueError, TypeError, KeyError) as exc:
        return unchecked(f"the layout checker's answer was refused: {str(exc)[:200]}")


if __name__ == "__main__":
    sys.exit(_checker_main(sys.argv))
