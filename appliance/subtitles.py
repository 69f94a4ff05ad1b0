"""A job's subtitle cues as a WebVTT document: the one writer the API route and the web
page's player track share."""

from __future__ import annotations


def _vtt_time(seconds: float) -> str:
    millis = round(max(0.0, seconds) * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def webvtt(cues: list[dict[str, float | str]]) -> str:
    """A WebVTT document of a job's subtitle cues. The text came out of a sandbox: it is
    escaped (&, <, >) and kept on one line, so no cue can carry markup or a timing line."""
    lines = ["WEBVTT", ""]
    for cue in cues:
        text = " ".join(str(cue.get("text", "")).split())
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        lines += [f"{_vtt_time(float(cue['start_s']))} --> {_vtt_time(float(cue['end_s']))}", text, ""]
    return "\n".join(lines)
