"""The check box's verdict: the video and layout checks as they run inside a throwaway check
container, and the host's strict reading of what that container answers.

The video and the layout recording were made by the scene's code, so parsing them (FFmpeg,
the JSON schema) runs where nothing of the appliance is: a fresh container of the sandbox image
in which no scene code ever ran (``checkbox.py`` builds it: no network, no secrets, no Docker
socket, the render limits). Inside it ``main`` probes the video (``video._probe_here``), checks
the layout recording against the video's duration (``layout.check_file``) and writes one JSON
line to its stdout::

    {"video": {"refused": "..."} | VideoFacts.to_json(), "layout": LayoutReport.to_dict() | null}

The host reads that line under a size cap and accepts it only if it fits this schema exactly
(``parse_verdict``): the container ran a parser of hostile input, so its answer is hostile too.

This module, ``video``, ``layout`` and what they import (``contracts``, ``errors``, ``result``,
``repair.layout_fixes``: the standard library only) are copied into the check container
(``checkbox.CHECKER_FILES``); PyAV is the image's own. Nothing else of the appliance may be
imported here.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.contracts import LayoutReport
from appliance.sandbox.layout import check_file, report_from_json, report_to_json
from appliance.sandbox.video import (
    MAX_VIDEO_DURATION_S,
    QUALITY_FRAME_LIMITS,
    VideoFacts,
    _probe_here,
    limit_checker_process,
)

# The largest verdict the host reads: 400 cues of 300 characters and a capped layout report fit
# many times over.
VERDICT_MAX_BYTES = 1024 * 1024
MAX_REFUSAL_CHARS = 300


@dataclass(frozen=True)
class Verdict:
    """What the check box found: the video's facts or why it is refused, and the layout report
    (None when no recording was handed in)."""

    video: VideoFacts | str
    layout: LayoutReport | None


# -- inside the check container ------------------------------------------------------------------


def check_files(video: Path, quality: str, recording: Path | None) -> Verdict:
    """The video's checks, then (for a video that passed) the layout's, with its duration."""
    probed = _probe_here(video, quality)
    if isinstance(probed, str) or recording is None:
        return Verdict(probed, None)
    return Verdict(probed, check_file(recording, probed.duration_s))


def verdict_to_json(verdict: Verdict) -> dict[str, Any]:
    video = verdict.video.to_json() if isinstance(verdict.video, VideoFacts) else {"refused": verdict.video}
    return {"video": video, "layout": None if verdict.layout is None else report_to_json(verdict.layout)}


def main(argv: list[str]) -> int:
    """``VIDEO QUALITY RECORDING|-``: the verdict as one JSON line on stdout."""
    limit_checker_process()
    video, quality, recording = argv[:3]
    verdict = check_files(Path(video), quality, None if recording == "-" else Path(recording))
    sys.stdout.write(json.dumps(verdict_to_json(verdict)) + "\n")
    sys.stdout.flush()
    return 0


# -- on the host ---------------------------------------------------------------------------------


def parse_verdict(data: bytes, quality: str, expect_layout: bool) -> Verdict:
    """The check container's answer, accepted only if it fits the schema exactly: two keys, a
    refusal or facts that a render of ``quality`` can have (frame, duration, cues), a layout
    report exactly when one was asked for and the video passed. ``ValueError`` otherwise."""
    if len(data) > VERDICT_MAX_BYTES:
        raise ValueError("the verdict is too large")
    answer = json.loads(data.decode("utf-8"))
    if not isinstance(answer, dict) or set(answer) != {"video", "layout"}:
        raise ValueError("the verdict is not {video, layout}")
    raw_video, raw_layout = answer["video"], answer["layout"]
    if not isinstance(raw_video, dict):
        raise ValueError("video: not an object")
    if set(raw_video) == {"refused"}:
        refusal = raw_video["refused"]
        if not isinstance(refusal, str) or not refusal.startswith("refused: ") or raw_layout is not None:
            raise ValueError("video: a malformed refusal")
        return Verdict(refusal[:MAX_REFUSAL_CHARS], None)
    if set(raw_video) != {"duration", "width", "height", "has_audio", "subtitles"} \
            or isinstance(raw_video["width"], bool) or isinstance(raw_video["height"], bool) \
            or not isinstance(raw_video["has_audio"], bool):
        raise ValueError("video: not the facts of a video")
    facts = VideoFacts.from_json(raw_video)
    max_width, max_height = QUALITY_FRAME_LIMITS.get(quality, QUALITY_FRAME_LIMITS["high"])
    if not (0 < facts.width <= max_width and 0 < facts.height <= max_height):
        raise ValueError("video: a frame larger than the quality renders")
    if not (math.isfinite(facts.duration_s) and 0 <= facts.duration_s <= MAX_VIDEO_DURATION_S):
        raise ValueError("video: an impossible duration")
    if any(cue.end_s > MAX_VIDEO_DURATION_S for cue in facts.subtitles):
        raise ValueError("video: a cue past any video's end")
    if (raw_layout is None) == expect_layout:
        raise ValueError("layout: a report exactly when a recording was handed in")
    return Verdict(facts, None if raw_layout is None else report_from_json(raw_layout))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
