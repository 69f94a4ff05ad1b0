"""The layout gate's checks on synthetic recordings, the recording's schema, the report's
validation on the parent's side, and the bounded checker process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from appliance.contracts import LayoutBox, LayoutIssue, LayoutReport, RepairFeedback
from appliance.generation.prompts import repair_prompt
from appliance.sandbox.layout import (
    check_layout,
    check_recording,
    parse_recording,
    report_from_json,
    report_to_json,
    with_video_duration,
)

FRAME = [-7.111, -4.0, 7.111, 4.0]
NORMAL = 0.34  # a MathTex digit at font_size 48


class Scene:
    """Builds a recording the way sandbox_image/layout_recorder.py writes one."""

    def __init__(self) -> None:
        self.objects: list[dict[str, Any]] = []
        self.samples: list[dict[str, Any]] = []

    def text(self, text: str, cls: str = "MathTex", role: str = "") -> int:
        self.objects.append({"kind": "text", "class": cls, "text": text, **({"role": role} if role else {})})
        return len(self.objects) - 1

    def shape(self, kind: str = "line", cls: str = "Line") -> int:
        self.objects.append({"kind": kind, "class": cls})
        return len(self.objects) - 1

    def sample(self, t: float, *items: list[Any] | int, phase: str = "play", frame: list[float] | None = None,
               sig: str | None = None, projected: bool = False) -> None:
        self.samples.append({"t": t, "phase": phase, "frame": frame or FRAME, "projected": projected,
                             "sig": sig if sig is not None else f"s{len(self.samples)}", "items": list(items)})

    def to_json(self) -> dict[str, Any]:
        return {"version": 1, "frame": [14.2222, 8.0], "objects": self.objects, "samples": self.samples,
                "truncated": "", "faults": 0, "fault": "", "cost_s": 0.01, "fixes": {}}

    def check(self, video_duration_s: float | None = 20.0) -> LayoutReport:
        return check_layout(parse_recording(json.loads(json.dumps(self.to_json()))), video_duration_s)


def text_item(obj: int, x0: float, y0: float, x1: float, y1: float, cap: float = NORMAL) -> list[Any]:
    return [obj, x0, y0, x1, y1, cap]


def shape_item(obj: int, outline: list[float], fill: float = 0.0, stroke: float = 1.0) -> list[Any]:
    xs, ys = outline[::2], outline[1::2]
    return [obj, min(xs), min(ys), max(xs), max(ys), fill, stroke, outline]


def kinds(report: LayoutReport) -> list[tuple[str, str]]:
    return [(issue.kind, issue.severity) for issue in report.issues]


# -- clean layouts give nothing ------------------------------------------------------------------


def test_a_clean_title_and_formula_give_no_issue() -> None:
    scene = Scene()
    title, formula = scene.text("Solve the equation", "Text"), scene.text("x^2 - 4x + 3 = 0")
    scene.sample(0.0, phase="start", sig="empty")
    scene.sample(1.0, text_item(title, -2.5, 3.0, 2.5, 3.5), text_item(formula, -1.7, -0.3, 1.7, 0.3))
    scene.sample(3.0, title, formula, phase="wait", sig="both")
    scene.sample(6.0, title, formula, phase="wait", sig="both-again")
    report = scene.check(6.0)
    assert report.checked and report.issues == () and report.clean
    assert (report.errors, report.warnings, report.samples) == (0, 0, 4)


def test_axes_with_labels_and_tick_labels_apart_give_no_issue() -> None:
    scene = Scene()
    axis, tick, label = scene.shape(cls="NumberLine"), scene.text("1", "DecimalNumber", "tick"), scene.text("x")
    # The x axis along y = -2; its tick label "1" just under it; the axis label past its end.
    scene.sample(2.0, shape_item(axis, [-5.0, -2.0, 5.0, -2.0]), text_item(tick, 0.9, -2.55, 1.1, -2.3, 0.25),
                 text_item(label, 5.2, -1.9, 5.45, -1.65, 0.23))
    scene.sample(5.0, axis, tick, label, phase="wait")
    assert scene.check(5.0).issues == ()


# -- each kind of issue is found -----------------------------------------------------------------


def test_text_off_the_right_edge_is_an_error_that_says_by_how_much() -> None:
    scene = Scene()
    long = scene.text("a very long sentence", "Text")
    scene.sample(1.0, text_item(long, 2.0, -0.3, 9.0, 0.3))
    scene.sample(4.0, long, phase="wait")
    report = scene.check(4.0)
    assert kinds(report) == [("text_outside_frame", "error")]
    issue = report.issues[0]
    assert issue.time_s == 1.0 and issue.duration_s == pytest.approx(3.0)
    assert issue.objects == ('Text "a very long sentence"',)
    assert issue.boxes[0] == LayoutBox(2.0, -0.3, 9.0, 0.3)
    assert "1.89 of its 7.00 units beyond the right edge" in issue.detail


def test_text_wholly_outside_the_frame_is_a_warning() -> None:
    scene = Scene()
    gone = scene.text("bye", "Text")
    scene.sample(1.0, text_item(gone, 8.0, 0.0, 9.0, 0.5))
    assert kinds(scene.check(5.0)) == [("text_outside_frame", "warning")]


def test_text_touching_the_edge_within_the_tolerance_is_not_cut_off() -> None:
    scene = Scene()
    edge = scene.text("edge")
    scene.sample(1.0, text_item(edge, 5.0, 0.0, 7.121, 0.4))
    assert scene.check(5.0).issues == ()


def test_a_formula_wider_than_the_frame_is_cut_at_both_edges() -> None:
    scene = Scene()
    wide = scene.text("a + b + c + d + e + f + g")
    scene.sample(1.0, text_item(wide, -9.0, -0.3, 9.0, 0.3))
    (issue,) = scene.check(5.0).issues
    assert issue.kind == "text_outside_frame" and "left edge" in issue.detail and "right edge" in issue.detail


def test_two_labels_at_one_point_overlap() -> None:
    scene = Scene()
    a, b = scene.text("A"), scene.text("B")
    scene.sample(1.0, text_item(a, 0.0, 0.0, 0.4, 0.4), text_item(b, 0.1, 0.1, 0.5, 0.5))
    report = scene.check(5.0)
    assert kinds(report) == [("text_overlap", "error")]
    assert report.issues[0].objects == ('MathTex "A"', 'MathTex "B"')
    assert "56% of the smaller one's box" in report.issues[0].detail


def test_a_label_on_a_tick_label_overlaps_it() -> None:
    scene = Scene()
    tick, label = scene.text("1", "DecimalNumber", "tick"), scene.text("(1, 0)")
    scene.sample(1.0, text_item(tick, 0.9, -2.55, 1.1, -2.3, 0.25), text_item(label, 0.6, -2.6, 1.4, -2.2))
    (issue,) = scene.check(5.0).issues
    assert issue.kind == "text_overlap" and issue.objects == ('tick label "1"', 'MathTex "(1, 0)"')


def test_overlap_at_or_under_the_threshold_is_not_reported() -> None:
    scene = Scene()
    a, b = scene.text("A"), scene.text("B")
    # Boxes 1 x 1 sharing a 0.14 x 1 strip: under the threshold (0.15).
    scene.sample(1.0, text_item(a, 0.0, 0.0, 1.0, 1.0), text_item(b, 0.86, 0.0, 1.86, 1.0))
    assert scene.check(5.0).issues == ()


def test_an_overlap_only_in_the_middle_of_an_animation_is_not_reported() -> None:
    scene = Scene()
    a, b = scene.text("A"), scene.text("B")
    scene.sample(1.0, text_item(a, 0.0, 0.0, 0.4, 0.4), text_item(b, 0.1, 0.1, 0.5, 0.5), phase="mid")
    scene.sample(2.0, text_item(a, 0.0, 0.0, 0.4, 0.4), text_item(b, 3.0, 0.0, 3.4, 0.4))
    assert scene.check(5.0).issues == ()


def test_a_filled_shape_drawn_over_a_text_hides_it() -> None:
    scene = Scene()
    label, square = scene.text("hidden"), scene.shape("shape", "Square")
    square_outline = [-1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0]
    scene.sample(1.0, text_item(label, -0.5, -0.2, 0.5, 0.2), shape_item(square, square_outline, fill=1.0))
    report = scene.check(5.0)
    assert kinds(report) == [("text_hidden", "error")]
    assert "covered by a filled Square drawn over it (100% of its box)" in report.issues[0].detail


def test_a_filled_shape_drawn_under_a_text_is_its_background() -> None:
    scene = Scene()
    label, card = scene.text("on a card"), scene.shape("shape", "Rectangle")
    card_outline = [-1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0]
    scene.sample(1.0, shape_item(card, card_outline, fill=1.0, stroke=0.0), text_item(label, -0.5, -0.2, 0.5, 0.2))
    assert scene.check(5.0).issues == ()


def test_a_translucent_or_small_shape_over_a_text_does_not_hide_it() -> None:
    scene = Scene()
    label, area, dot = scene.text("label"), scene.shape("shape", "Polygon"), scene.shape("shape", "Dot")
    area_outline = [-1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0]
    dot_outline = [0.4, 0.1, 0.5, 0.1, 0.5, 0.2, 0.4, 0.2]
    scene.sample(1.0, text_item(label, -0.5, -0.2, 0.5, 0.2), shape_item(area, area_outline, fill=0.3, stroke=0.0),
                 shape_item(dot, dot_outline, fill=1.0, stroke=0.0))
    assert scene.check(5.0).issues == ()


def test_the_filled_part_of_a_shape_counts_not_its_box() -> None:
    scene = Scene()
    label, triangle = scene.text("corner"), scene.shape("shape", "Triangle")
    # A triangle whose box covers the text but whose surface misses it.
    triangle_outline = [-2.0, -2.0, 2.0, -2.0, -2.0, 2.0]
    scene.sample(1.0, text_item(label, 1.0, 1.0, 1.8, 1.4), shape_item(triangle, triangle_outline, fill=1.0,
                                                                         stroke=0.0))
    assert scene.check(5.0).issues == ()


def test_a_line_through_a_text_is_a_warning_and_an_underline_is_not() -> None:
    scene = Scene()
    crossed, underlined = scene.text("crossed"), scene.text("underlined")
    strike, underline = scene.shape(cls="Line"), scene.shape(cls="Underline")
    scene.sample(1.0, text_item(crossed, -3.0, 1.0, -1.0, 1.4), shape_item(strike, [-3.5, 1.2, -0.5, 1.2]),
                 text_item(underlined, 1.0, 1.0, 3.0, 1.4), shape_item(underline, [1.0, 0.95, 3.0, 0.95]))
    report = scene.check(5.0)
    assert kinds(report) == [("text_hidden", "warning")]
    assert report.issues[0].objects == ('MathTex "crossed"', "Line")


def test_text_10_px_tall_is_too_small() -> None:
    scene = Scene()
    tiny = scene.text("tiny", "Text")
    scene.sample(1.0, text_item(tiny, 0.0, 0.0, 0.5, 0.17, cap=10 / 60))  # 10 px at 480p: 60 px a unit
    (issue,) = scene.check(5.0).issues
    assert (issue.kind, issue.severity) == ("text_too_small", "error")
    assert "0.167 units tall, under 1/40 of the frame's height (0.200)" in issue.detail


def test_the_readable_height_follows_the_visible_frame() -> None:
    scene = Scene()
    label = scene.text("zoomed")
    # A camera zoomed in to a 4-unit-tall frame: 0.12 units is 1/33 of it, readable.
    scene.sample(1.0, text_item(label, 0.0, 0.0, 0.5, 0.12, cap=0.12), frame=[-3.6, -2.0, 3.6, 2.0])
    assert scene.check(5.0).issues == ()


def test_a_row_of_small_tick_labels_is_one_issue() -> None:
    scene = Scene()
    ticks = [scene.text(str(n), "DecimalNumber", "tick") for n in range(8)]
    scene.sample(1.0, *[text_item(tick, n - 4.0, -3.0, n - 3.8, -2.85, cap=0.15) for n, tick in enumerate(ticks)])
    report = scene.check(5.0)
    assert kinds(report) == [("text_too_small", "error")] and report.errors == 1
    assert report.issues[0].objects[-1] == "and 3 more" and report.issues[0].detail.startswith("8 texts")


def test_a_12_second_still_frame_is_a_warning() -> None:
    scene = Scene()
    label = scene.text("x = 4")
    scene.sample(2.0, text_item(label, -1, -0.2, 1, 0.2), sig="answer")
    scene.sample(14.0, label, phase="wait", sig="answer")
    scene.sample(15.0, phase="play", sig="empty")
    report = scene.check(15.0)
    assert kinds(report) == [("still_frame", "warning")]
    assert report.issues[0].time_s == 2.0 and report.issues[0].duration_s == pytest.approx(12.0)


def test_a_still_last_frame_counts_to_the_end_of_the_video() -> None:
    scene = Scene()
    scene.sample(2.0, sig="final")
    assert kinds(scene.check(13.0)) == [("still_frame", "warning")]
    assert scene.check(11.0).issues == ()


def test_a_long_animation_that_moves_is_not_a_still_frame() -> None:
    scene = Scene()
    scene.sample(0.0, phase="start", sig="a")
    scene.sample(4.0, phase="mid", sig="b")
    scene.sample(8.0, phase="mid", sig="c")
    scene.sample(12.0, phase="play", sig="a")
    assert scene.check(12.0).issues == ()


def test_a_video_under_3_seconds_is_too_short() -> None:
    scene = Scene()
    scene.sample(1.0, sig="only")
    report = scene.check(2.0)
    assert kinds(report) == [("too_short", "error")]
    assert "lasts 2.0 s" in report.issues[0].detail


def test_the_videos_own_duration_adds_too_short_to_a_report_checked_without_it() -> None:
    scene = Scene()
    wide = scene.text("wide")
    scene.sample(1.0, text_item(wide, -9, 0, 9, 1))
    report = scene.check(None)
    assert kinds(report) == [("text_outside_frame", "error")]
    assert with_video_duration(report, 5.0) == report
    shorter = with_video_duration(report, 1.5)
    assert kinds(shorter) == [("too_short", "error"), ("text_outside_frame", "error")] and shorter.errors == 2
    assert with_video_duration(LayoutReport(False, note="none"), 1.0).issues == ()


def test_an_issue_lasting_several_samples_is_reported_once_with_its_time_on_screen() -> None:
    scene = Scene()
    a, b = scene.text("A"), scene.text("B")
    scene.sample(1.0, text_item(a, 0, 0, 1, 1), text_item(b, 0, 0, 1, 1))
    scene.sample(3.0, a, b, phase="wait")
    scene.sample(4.0, a, phase="play")
    report = scene.check(6.0)
    assert kinds(report) == [("text_overlap", "error")]
    assert report.issues[0].time_s == 1.0 and report.issues[0].duration_s == pytest.approx(3.0)


def test_samples_through_a_turned_3d_camera_are_not_checked() -> None:
    scene = Scene()
    a, b = scene.text("A"), scene.text("B")
    scene.sample(1.0, text_item(a, 0, 0, 1, 1), text_item(b, 0, 0, 1, 1), projected=True)
    report = scene.check(5.0)
    assert report.issues == () and "3-D camera" in report.note


def test_errors_come_first_then_time_order() -> None:
    scene = Scene()
    tiny, wide = scene.text("tiny"), scene.text("wide")
    scene.sample(1.0, sig="s")
    scene.sample(12.0, phase="wait", sig="s")
    scene.sample(13.0, text_item(tiny, 0, 0, 0.2, 0.1, cap=0.1))
    scene.sample(14.0, text_item(wide, -9, 1, 9, 1.5))
    report = scene.check(15.0)
    assert [issue.kind for issue in report.issues] == ["text_too_small", "text_outside_frame", "still_frame"]
    assert (report.errors, report.warnings) == (2, 1)


# -- the recording's schema ---------------------------------------------------------------------


@pytest.mark.parametrize("damage", [
    lambda d: d.update(version=2),
    lambda d: d.update(frame=[14.2, "8"]),
    lambda d: d["samples"][0]["items"].append(5),  # a reference to an object never described
    lambda d: d["samples"][0]["items"].append([0, 0, 0, float("nan"), 1, 0.3]),
    lambda d: d["samples"][0]["items"].append([0, 0, 0, 1e9, 1, 0.3]),
    lambda d: d["samples"][0]["items"].append([0, 1, 1, 0, 0, 0.3]),  # inverted
    lambda d: d["samples"][0]["items"].append([0, True, 0, 1, 1, 0.3]),
    lambda d: d["samples"][0]["items"].append([9, 0, 0, 1, 1, 0.3]),  # unknown object
    lambda d: d["samples"][0]["items"].append([1, 0, 0, 1, 1, 0.5, 1.0, [0, 0, 1]]),  # odd outline
    lambda d: d["samples"][0].update(phase="during"),
    lambda d: d["objects"].append({"kind": "text", "class": "x" * 500}),
    lambda d: d["objects"].append({"kind": "sound"}),
    lambda d: d.update(samples=[d["samples"][0]] * 401),
    lambda d: d.update(fixes={"fit_wide_text": -1}),
])
def test_a_recording_outside_the_schema_is_refused(damage: Any) -> None:
    scene = Scene()
    scene.text("A")
    scene.shape()
    scene.sample(1.0, text_item(0, 0, 0, 1, 1))
    data = json.loads(json.dumps(scene.to_json()))
    damage(data)
    with pytest.raises(ValueError):
        parse_recording(json.loads(json.dumps(data)))


def test_control_characters_in_a_recorded_text_are_replaced() -> None:
    scene = Scene()
    scene.text("A\x1b[31m\ud800")
    scene.sample(1.0, text_item(0, -9, 0, 9, 1))
    (issue,) = scene.check(5.0).issues
    assert "\x1b" not in issue.objects[0] and "\ud800" not in issue.objects[0]


# -- the report, checked again on the parent's side ---------------------------------------------


def a_report() -> LayoutReport:
    issue = LayoutIssue("text_overlap", "error", 1.0, ('MathTex "A"', 'MathTex "B"'),
                        (LayoutBox(0, 0, 1, 1), LayoutBox(0.5, 0.5, 1.5, 1.5)), "they overlap", 2.0)
    return LayoutReport(True, 1, 0, (issue,), 4, 14.222, 8.0, "", (("fit_wide_text", 2),))


def test_a_report_survives_its_json() -> None:
    assert report_from_json(json.loads(json.dumps(report_to_json(a_report())))) == a_report()


@pytest.mark.parametrize("damage", [
    lambda d: d["issues"][0].update(kind="bad_kind"),
    lambda d: d["issues"][0].update(severity="fatal"),
    lambda d: d["issues"][0].update(detail="x" * 5000),
    lambda d: d["issues"][0].update(objects=["o"] * 50),
    lambda d: d["issues"][0].update(boxes=[[0, 0, 1]]),
    lambda d: d["issues"][0].update(time_s=float("inf")),
    lambda d: d.update(issues=d["issues"] * 31),
    lambda d: d.update(errors=0),  # fewer than the issues listed
    lambda d: d.update(fixes={"rm -rf": 1}),
    lambda d: d.update(checked="yes"),
])
def test_a_report_outside_its_schema_is_refused(damage: Any) -> None:
    data = json.loads(json.dumps(report_to_json(a_report())))
    damage(data)
    with pytest.raises(ValueError):
        report_from_json(data)


# -- the checker process --------------------------------------------------------------------------


def test_the_checker_process_reads_and_checks_a_recording(tmp_path: Path) -> None:
    scene = Scene()
    wide = scene.text("wide")
    scene.sample(1.0, text_item(wide, -9, 0, 9, 1))
    path = tmp_path / "layout.json"
    path.write_text(json.dumps(scene.to_json()))
    report = check_recording(path, 5.0)
    assert report.checked and kinds(report) == [("text_outside_frame", "error")]


@pytest.mark.parametrize("content", [b"not json", b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe",
                                     b'{"version": 1}', b" " * (2 * 1024 * 1024 + 10)])
def test_a_hostile_recording_leaves_the_video_unchecked_with_a_reason(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "layout.json"
    path.write_bytes(content)
    report = check_recording(path, 5.0)
    assert not report.checked and report.issues == () and report.note


# -- what goes back to the model ----------------------------------------------------------------


def test_the_feedback_names_the_objects_the_times_and_the_coordinates() -> None:
    text = a_report().feedback()
    assert "frame spans x -7.11..7.11 and y -4.00..4.00" in text
    assert '- at 1.0 s: they overlap [MathTex "A": x 0.00..1.00, y 0.00..1.00; MathTex "B": x 0.50..1.50' in text
    prompt = repair_prompt("Solve 2x = 4", "en", RepairFeedback("code()", text, "layout"))
    assert "automatic check of the video's layout" in prompt and 'MathTex "B"' in prompt


def test_a_recording_built_to_be_slow_to_check_stops_the_checks_early() -> None:
    scene = Scene()
    texts = [scene.text(f"t{n}") for n in range(80)]
    lines = [scene.shape() for _ in range(80)]
    zigzag = [value for k in range(32) for value in (-5.0 + k * 0.3, (-1.0) ** k * 3)]
    for t in range(200):
        shift = t * 0.001
        scene.sample(float(t), *[text_item(text, -5 + shift, -3, 5 + shift, 3) for text in texts],
                     *[shape_item(line, zigzag) for line in lines])
    report = scene.check(200.0)
    assert report.checked and "stopped early" in report.note and report.errors > 0
