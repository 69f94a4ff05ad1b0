"""The page's HTML pieces, as pure functions of jobs: a card per job, the message line, the history.

A card is one job as the visitor follows it: the problem, a sentence, the bar, the steps (the
ones reached ticked, the one it failed at marked as failed), the answer drawn as maths, the video
(played from its signed URL by the browser itself), the numbers and the scene code. Every piece
of text is escaped; the only markup not written here is the answer's MathML (``math.py``).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from appliance.models import ACTIVE_STATUSES, ProcessingJob, ProcessingStatus
from appliance.subtitles import webvtt
from frontends.web.math import answer_mathml

S = ProcessingStatus

# The steps a job walks through, with the share of the bar each one fills.
STEPS: list[tuple[ProcessingStatus, str, int]] = [
    (S.QUEUED, "Queued", 5),
    (S.AI_GENERATING, "Writing the scene", 25),
    (S.CODE_VALIDATING, "Checking the code", 45),
    (S.RENDERING, "Rendering", 65),
    (S.UPLOADING, "Uploading", 90),
    (S.READY, "Ready", 100),
]
_STEP_INDEX = {status: index for index, (status, _, _) in enumerate(STEPS)}
ANSWER_CHECKS = {
    "verified": "checked by the built-in solver (SymPy)",
    "corrected": "corrected by the built-in solver (SymPy)",
    "unverifiable": "not checked automatically",
}
DONE = frozenset({S.READY, S.DELIVERED, S.EXPIRED})


@dataclass(frozen=True)
class JobView:
    """A job and what the page adds to it: the URL the browser plays, its place in line."""

    job: ProcessingJob
    video_url: str | None = None
    queue_position: int | None = None


# -- the message line --------------------------------------------------------------------------


def message_html(message: str | None, kind: str = "info") -> str:
    """The line under the buttons, for what is not one job's: a refusal, "nothing to cancel".
    The live region is always there (a screen reader announces what appears in it); it is
    empty when there is nothing to say."""
    if not message:
        return '<div class="ma-message" role="status" aria-live="polite"></div>'
    return (f'<div class="ma-message" role="status" aria-live="polite"><div class="ma-status ma-{kind}" '
            f'data-status="{kind}"><div class="ma-status-line">{html.escape(message)}</div></div></div>')


# -- a job's progress --------------------------------------------------------------------------


def reached_step(job: ProcessingJob) -> ProcessingStatus:
    """The step a job is at, or for a failed job the one it failed at."""
    if job.status is S.FAILED:
        if job.failed_step is not None:
            return job.failed_step
        # A job failed before the store recorded the step: the furthest its fields prove.
        if job.video_size_bytes is not None or job.render_duration_seconds is not None:
            return S.UPLOADING
        if job.manim_code:
            return S.RENDERING
        return S.AI_GENERATING if job.started_at else S.QUEUED
    if job.status in DONE:
        return S.READY
    return job.status


def step_states(job: ProcessingJob) -> list[str]:
    """One of done, now, failed, todo per step."""
    at = _STEP_INDEX.get(reached_step(job), 0)
    states = []
    for index in range(len(STEPS)):
        if job.status in DONE or index < at:
            states.append("done")
        elif index == at:
            states.append("failed" if job.status is S.FAILED else "now")
        else:
            states.append("todo")
    return states


def kind_of(job: ProcessingJob) -> str:
    if job.status is S.FAILED:
        return "cancelled" if job.failure_reason == "cancelled" else "failed"
    if job.status in DONE:
        return "done"
    return "running"


def sentence(view: JobView) -> str:
    job = view.job
    message = job.status_message or job.status.value
    if job.status is S.FAILED:
        if job.failure_reason == "cancelled":
            return "Cancelled."
        step = STEPS[_STEP_INDEX.get(reached_step(job), 0)][1]
        return f"Failed at “{step}”: {message}"
    if job.status is S.EXPIRED:
        return "Expired: the video was deleted before it was watched."
    if job.status in DONE:
        if view.video_url:
            return "Ready: here is your video."
        return "Done: the video has been deleted (videos are kept only briefly after you watch them)."
    if job.cancel_requested:
        return "Cancelling: the video stops when the current step ends."
    if job.status is S.QUEUED and view.queue_position:
        return f"Queued: number {view.queue_position} in line"
    if job.attempts > 1 and job.status in (S.AI_GENERATING, S.CODE_VALIDATING, S.RENDERING):
        return f"{message} (attempt {job.attempts})"
    return message


def progress_html(view: JobView) -> str:
    """The sentence, the bar and the steps."""
    job = view.job
    at = _STEP_INDEX.get(reached_step(job), 0)
    percent = 100 if job.status in DONE else STEPS[at][2]
    steps = []
    labels = {"done": "done", "now": "in progress", "failed": "failed here", "todo": "not reached"}
    for (_, label, _), state in zip(STEPS, step_states(job), strict=True):
        steps.append(f'<li data-state="{state}" class="{state}">{html.escape(label)}'
                     f'<span class="ma-sr"> ({labels[state]})</span></li>')
    return (
        f'<div class="ma-status-line" role="status">{html.escape(sentence(view))}</div>'
        f'<div class="ma-bar" role="progressbar" aria-label="Progress" aria-valuemin="0" aria-valuemax="100" '
        f'aria-valuenow="{percent}"><div class="ma-bar-fill" style="width: {percent}%"></div></div>'
        f'<ol class="ma-steps" aria-label="Steps">{"".join(steps)}</ol>'
    )


# -- the rest of a card ------------------------------------------------------------------------


def answer_html(job: ProcessingJob) -> str:
    if not job.answer_text:
        return ""
    latex = getattr(job, "answer_latex", None)  # when the job carries the answer's LaTeX too
    drawn = (answer_mathml(latex) if isinstance(latex, str) else None) or answer_mathml(job.answer_text)
    shown = drawn or f'<span class="ma-answer-text">{html.escape(job.answer_text)}</span>'
    check = ANSWER_CHECKS.get(job.answer_check or "", job.answer_check or "")
    suffix = f' <span class="ma-check">— {html.escape(check)}</span>' if check else ""
    return f'<p class="ma-answer"><strong>Answer:</strong> {shown}{suffix}</p>'


def step_html(step: str) -> str:
    """One step of the solution: its words as text and its formula (after the last colon, or
    the whole step when it is only a formula) typeset as MathML; text as it is otherwise."""
    words, colon, formula = step.rpartition(": ")
    drawn = answer_mathml(formula) if colon else answer_mathml(step)
    if drawn is None:
        return html.escape(step)
    return f"{html.escape(words)}: {drawn}" if colon else drawn


def layout_html(job: ProcessingJob) -> str:
    """What the layout gate said about the video that shipped: checked and clean, or its count
    and the first few issues (each a sentence the checker wrote, with the moment it starts)."""
    if job.layout_errors is None or job.status not in DONE:
        return ""
    errors, warnings = job.layout_errors, job.layout_warnings or 0
    if not errors and not warnings:
        return '<p class="ma-layout" data-layout="clean">Layout: checked, no issues.</p>'
    counts = [f"{n} {word}{'s' if n != 1 else ''}" for n, word in ((errors, "error"), (warnings, "warning")) if n]
    items = []
    for issue in job.layout_issues[:3]:
        detail = str(issue.get("detail") or issue.get("kind") or "")
        time_s = issue.get("time_s")
        when = f"at {float(time_s):.1f} s: " if isinstance(time_s, int | float) else ""
        items.append(f"<li>{html.escape(when + detail)}</li>")
    listed = f"<ul>{''.join(items)}</ul>" if items else ""
    return (f'<div class="ma-layout" data-layout="issues"><p>Layout: checked, {" and ".join(counts)} found.</p>'
            f"{listed}</div>")


def details_text(job: ProcessingJob) -> str:
    parts = []
    if job.ai_provider_used:
        parts.append(f"Scene written by {job.ai_provider_used}")
    if job.attempts:
        parts.append(f"{job.attempts} attempt{'s' if job.attempts != 1 else ''}")
    waited = _seconds_between(job.created_at, job.started_at)
    if waited is not None:
        parts.append(f"waited {waited:.1f} s")
    if job.render_duration_seconds is not None:
        parts.append(f"rendered in {job.render_duration_seconds:.1f} s")
    total = _seconds_between(job.created_at, job.completed_at)
    if total is not None:
        parts.append(f"total {total:.1f} s")
    if job.video_size_bytes:
        parts.append(f"{job.video_size_bytes / 1024:.0f} KB")
    if job.quality:
        parts.append(f"quality {job.quality}")
    return " · ".join(parts)


def card_html(view: JobView) -> str:
    job = view.job
    kind = kind_of(job)
    title = preview(job.problem_text, 160)
    parts = [
        f'<article class="ma-job ma-{kind}" data-job="{job.job_id}" data-status="{job.status.value}" '
        f'data-kind="{kind}" aria-label="{html.escape(title, quote=True)}">',
        f'<h3 class="ma-job-problem" title="{html.escape(job.problem_text[:1000], quote=True)}">'
        f"{html.escape(title)}</h3>",
        progress_html(view),
    ]
    if job.status in ACTIVE_STATUSES and not job.cancel_requested:
        parts.append(f'<button type="button" class="ma-job-cancel" data-job="{job.job_id}">Cancel this video</button>')
    parts.append(answer_html(job))
    if view.video_url:
        url = html.escape(view.video_url, quote=True)
        parts.append(
            f'<video class="ma-video" src="{url}" controls preload="auto" playsinline '
            f'aria-label="Video: {html.escape(title, quote=True)}">{subtitles_track(job)}</video>'
            f'<p class="ma-video-links"><a href="{url}" download="solution.mp4">Download the video</a></p>'
        )
    if job.steps:
        steps = "".join(f"<li>{step_html(step)}</li>" for step in job.steps)
        parts.append(f'<div class="ma-solution"><p class="ma-solution-title">Solution</p><ol>{steps}</ol></div>')
    parts.append(layout_html(job))
    details = details_text(job)
    if details and (job.status in DONE or job.status is S.FAILED):
        parts.append(f'<p class="ma-details">{html.escape(details)}</p>')
    if job.manim_code:
        parts.append(
            f'<details class="ma-code" data-job="{job.job_id}"><summary>Manim scene code</summary>'
            '<div class="ma-code-tools"><button type="button" class="ma-copy">Copy</button>'
            '<button type="button" class="ma-save">Download scene.py</button></div>'
            f"<pre><code>{html.escape(job.manim_code)}</code></pre></details>"
        )
    parts.append("</article>")
    return "".join(parts)


def cards_html(views: list[JobView], origin: str = "live", notice: str | None = None) -> str:
    """Every card, oldest first in the page (a new one is added at the end, so the ones already
    shown keep their place and a playing video is not restarted); CSS shows the newest first.
    ``origin`` is "load" for the cards a reloaded page starts with: their videos do not start.
    ``notice``: a sentence above the cards (the server is restarting)."""
    cards = "".join(card_html(view) for view in views)
    said = f'<p class="ma-notice" role="status">{html.escape(notice)}</p>' if notice else ""
    return f'{said}<div class="ma-jobs" data-origin="{origin}" aria-label="Your videos on this page">{cards}</div>'


def subtitles_track(job: ProcessingJob) -> str:
    """The narration's subtitles as a track of the video (the player's CC button), carried in the
    page itself: no second request, and nothing the API token would have to let through."""
    if not job.subtitles:
        return ""
    language = html.escape(job.voice_language or job.problem_language or "en", quote=True)
    return (f'<track kind="subtitles" srclang="{language}" label="Subtitles ({language})" '
            f'src="data:text/vtt;charset=utf-8,{quote(webvtt(job.subtitles))}">')






# -- the history -------------------------------------------------------------------------------


def playable(job: ProcessingJob) -> bool:
    return job.status in (S.READY, S.DELIVERED) and bool(job.video_key and job.video_url)


def history_html(jobs: list[ProcessingJob]) -> str:
    """This browser's jobs, newest first: metadata only."""
    if not jobs:
        return '<p class="ma-empty">Nothing yet: the videos you make here are listed, also after a reload.</p>'
    rows = []
    for job in jobs:
        video = "kept for replay" if playable(job) else "deleted" if job.status is S.DELIVERED else "—"
        status = job.status.value
        if job.status is S.FAILED and job.failure_reason == "cancelled":
            status = "cancelled"
        rows.append(
            f'<tr data-job="{job.job_id}"><td class="ma-problem-cell" title="{html.escape(job.problem_text[:1000])}">'
            f"{html.escape(preview(job.problem_text, 80))}</td><td>{html.escape(status)}</td>"
            f"<td>{html.escape(video)}</td><td>{clock(job.created_at)}</td></tr>"
        )
    return (
        '<table class="ma-history"><thead><tr><th>Problem</th><th>Status</th><th>Video</th><th>UTC</th></tr>'
        f'</thead><tbody>{"".join(rows)}</tbody></table>'
    )


def clock(timestamp: str) -> str:
    return timestamp[11:16] if len(timestamp) >= 16 else timestamp


def preview(text: str, limit: int) -> str:
    """``text`` on one line (line breaks and runs of spaces become one space), cut to ``limit``."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        return max(0.0, (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds())
    except ValueError:
        return None
