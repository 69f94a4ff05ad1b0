"""The browser channel: a Gradio Blocks page over ``Appliance``.

One event handler per action. ``generate`` is an async generator that submits the problem and
then follows the job (``Appliance.follow``), yielding a new status line on
every change; it only awaits, so one visitor's render never blocks another's page. The video
is played from its (signed, expiring) URL, fetched by the browser itself, never copied into
Gradio's cache: once delivered it is deleted after the replay grace, and only metadata stays.
"""

from __future__ import annotations

import contextlib
import html
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import gradio as gr
from gradio import component_meta
from gradio.blocks import Block
from gradio.data_classes import FileData

from appliance.config import Settings
from appliance.errors import InvalidTransition, LimitExceeded, NotFound, ProblemRejected
from appliance.models import PROBLEM_MAX_CHARS, ProcessingJob, ProcessingStatus, VideoGenerationResponse
from appliance.service import Appliance, Channel

log = logging.getLogger(__name__)
S = ProcessingStatus
Updates = dict[Block, Any]  # what an event handler returns: component -> new value (or a gr.update)

# Visitors mostly wait on a render, and waiting is an await, not a thread: a high limit
# lets everyone follow their own job at once; renders are bounded by the appliance's slots.
WEB_CONCURRENCY = 100
QUEUE_MAX_SIZE = 500

TITLE = "Manim Appliance"
PRIVACY_LINE = (
    "Type a math problem and get a short video that explains it. Your text is sent to the "
    "configured AI model (or solved on this server), the video is rendered here, and it is deleted "
    "shortly after you watch it; only the problem, its status and timings are kept."
)

# One per kind the built-in solver knows (so each works with no model configured), then
# word problems and other languages.
EXAMPLES: list[str] = [
    "Solve 2x + 3 = 11",
    "Solve x^2 - 5x + 6 = 0",
    "Solve the system x + y = 10, x - y = 2",
    "Solve the inequality 3x - 7 > 5",
    "Find the derivative of x^3 + 2x^2 - 5x",
    "Integrate x^2 from 0 to 3",
    "Find the limit of sin(x)/x as x approaches 0",
    "Simplify (x^2 - 1)/(x - 1)",
    "Expand (x + 2)^3",
    "Factor x^2 + 7x + 12",
    "Calculate 17 * 23 + 144 / 12",
    "Plot y = x^2 - 4x + 3",
    "A right triangle has legs 6 and 8. Find the hypotenuse.",
    "Find the area of a circle with radius 5",
    "A garden is a rectangle 12 m long and 5 m wide. What is its area?",
    "A shop gives a 15% discount on an 80 dollar jacket. What is 15% of 80?",
    "Resuelve la ecuación 3x - 4 = 11",
    "Решите уравнение x^2 - 9 = 0",
    "Berechne die Ableitung von x^2 + 3x",
    "Calculez l'aire d'un rectangle de 7 cm sur 4 cm",
]

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

CSS = """
.gradio-container { max-width: 1120px !important; margin: 0 auto !important; }
#ma-title h1 { margin-bottom: 0.1em; }
#ma-privacy p { color: var(--body-text-color-subdued); margin-top: 0; }
.ma-status { border: 1px solid var(--border-color-primary); border-radius: var(--radius-lg);
  padding: 10px 14px; background: var(--block-background-fill); }
.ma-status-line { font-weight: 600; margin-bottom: 8px; overflow-wrap: anywhere; }
.ma-bar { height: 8px; border-radius: 4px; background: var(--neutral-200); overflow: hidden; }
.ma-bar-fill { height: 100%; background: var(--color-accent); }
.ma-failed .ma-bar-fill { background: var(--error-text-color, #dc2626); }
.ma-refused .ma-status-line, .ma-failed .ma-status-line { color: var(--error-text-color, #b91c1c); }
.ma-steps { display: flex; flex-wrap: wrap; gap: 4px 12px; list-style: none; padding: 0; margin: 8px 0 0;
  font-size: 0.85em; color: var(--body-text-color-subdued); }
.ma-steps li.done { color: var(--body-text-color); }
.ma-steps li.done::before { content: "✓ "; }
.ma-steps li.now::before { content: "● "; }
.ma-steps li.now { color: var(--color-accent); font-weight: 600; }
#ma-video video { max-height: 60vh; }
.ma-history { width: 100%; table-layout: fixed; border-collapse: collapse; font-size: 0.9em; }
.ma-history th, .ma-history td { text-align: left; padding: 6px 8px; overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; border-bottom: 1px solid var(--border-color-primary); }
.ma-history th:nth-child(1) { width: 52%; }
.ma-history th:nth-child(2), .ma-history th:nth-child(3) { width: 18%; }
.ma-empty { color: var(--body-text-color-subdued); margin: 4px 0; }
@media (max-width: 640px) {
  .gradio-container { padding: 0 6px !important; }
  #ma-title h1 { font-size: 1.5em; }
  .ma-steps { font-size: 0.8em; }
  .ma-history th:nth-child(4), .ma-history td:nth-child(4) { display: none; }
}
"""


def theme() -> gr.themes.Base:
    # System fonts: no request to a font CDN leaves the visitor's browser.
    return gr.themes.Soft(
        primary_hue="indigo",
        font=["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
    )


def auth_of(settings: Settings) -> tuple[str, str] | None:
    """The web login from ``APPLIANCE_WEB_AUTH`` (user:password), if any."""
    if not settings.web_auth:
        return None
    user, _, password = settings.web_auth.partition(":")
    return (user, password)


def mount_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``gr.mount_gradio_app`` (in Gradio 6 the look goes there)."""
    return {
        "auth": auth_of(settings),
        "auth_message": "This Manim Appliance asks for a login.",
        "theme": theme(),
        "css": CSS,
        "footer_links": [],
        "run_history": False,  # nothing about a visitor's problems is kept in their browser by Gradio
        "ssr_mode": False,
        "show_error": True,
        "max_file_size": "1mb",  # the page has no uploads
        "enable_monitoring": False,
        "mcp_server": False,
        "pwa": False,
    }


@contextlib.contextmanager
def _no_stub_files() -> Iterator[None]:
    """Adapter, for lack of a public switch: Gradio writes a ``.pyi`` stub beside the source
    file of every Component subclass when the class is defined (``gradio.component_meta``;
    gradio-app/gradio#10121 is the upstream report of that runtime write). In an installed
    appliance that is a write into site-packages; in a checkout, a stub that would shadow
    this module for mypy. Inside this block Gradio's stub writer does nothing."""
    write_stub = getattr(component_meta, "create_or_modify_pyi", None)
    if write_stub is None:  # a Gradio without the stub writer: nothing to switch off
        yield
        return
    component_meta.create_or_modify_pyi = lambda *args, **kwargs: None
    try:
        yield
    finally:
        component_meta.create_or_modify_pyi = write_stub


with _no_stub_files():

    class LinkedVideo(gr.Video):
        """``gr.Video`` that hands an http(s) URL to the browser as it is.

        A plain ``gr.Video`` downloads a URL into Gradio's cache on the server (and refuses
        127.0.0.1 as a private address): a second copy of the video that would outlive its
        deletion. Giving the URL as both path and url makes Gradio pass it through to the
        page, and the browser fetches the signed URL itself (which is also what marks it
        delivered). A subclass, not a wrapper on one instance: Gradio rebuilds a session's
        component from its class when a handler updates it without a value.
        """

        is_template = True  # the browser renders it with gr.Video's own component

        def postprocess(self, value: str | Path | None) -> FileData | None:
            if isinstance(value, str) and value.startswith(("http://", "https://")):
                return FileData(path=value, url=value, mime_type="video/mp4", orig_name="solution.mp4")
            return super().postprocess(value)


# -- rendering the pieces ---------------------------------------------------------------------


def status_html(job: ProcessingJob | None = None, *, message: str | None = None, kind: str = "info") -> str:
    """The live status line: a sentence, a bar and the steps, for a job or a plain message."""
    if job is None:
        return (
            f'<div class="ma-status ma-{kind}" data-status="{kind}" role="status" aria-live="polite">'
            f'<div class="ma-status-line">{html.escape(message or "")}</div></div>'
        )
    status = job.status
    failed = status in (S.FAILED, S.EXPIRED)
    shown = S.READY if status is S.DELIVERED else status
    index = _STEP_INDEX.get(shown, len(STEPS) - 1)
    percent = 100 if failed else STEPS[index][2]
    text = message or _sentence(job)
    steps = []
    for step_index, (_, label, _) in enumerate(STEPS):
        css_class = "done" if step_index < index or (step_index == index and shown is S.READY) else ""
        if step_index == index and not failed and shown is not S.READY:
            css_class = "now"
        steps.append(f'<li class="{css_class}">{html.escape(label)}</li>')
    kind = "failed" if failed else ("done" if shown is S.READY else "running")
    return (
        f'<div class="ma-status ma-{kind}" data-status="{status.value}" role="status" aria-live="polite">'
        f'<div class="ma-status-line">{html.escape(text)}</div>'
        f'<div class="ma-bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="{percent}">'
        f'<div class="ma-bar-fill" style="width: {percent}%"></div></div>'
        f'<ol class="ma-steps">{"".join(steps)}</ol></div>'
    )


def _sentence(job: ProcessingJob) -> str:
    message = job.status_message or job.status.value
    if job.status is S.FAILED:
        return f"Failed: {message}"
    if job.status in (S.READY, S.DELIVERED):
        return "Ready: here is your video."
    if job.attempts > 1 and job.status in (S.AI_GENERATING, S.CODE_VALIDATING, S.RENDERING):
        return f"{message} (attempt {job.attempts})"
    return message


def answer_markdown(job: ProcessingJob) -> str:
    if not job.answer_text:
        return ""
    check = ANSWER_CHECKS.get(job.answer_check or "", job.answer_check or "")
    suffix = f" — *{check}*" if check else ""
    return f"**Answer:** {_md_escape(job.answer_text)}{suffix}"


def details_markdown(job: ProcessingJob) -> str:
    parts = []
    if job.ai_provider_used:
        parts.append(f"Scene written by **{_md_escape(job.ai_provider_used)}**")
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


def _md_escape(text: str) -> str:
    return html.escape(text).replace("*", "\\*").replace("_", "\\_").replace("`", "\\`")


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        return max(0.0, (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds())
    except ValueError:
        return None


def browser_url(url: str, settings: Settings, request: gr.Request | None) -> str:
    """A local-storage video URL as the visitor's browser can reach it.

    Local URLs are built from ``settings.base_url``; without ``APPLIANCE_PUBLIC_URL`` that is
    127.0.0.1, which means nothing to a browser on another machine, so the origin the browser
    used for this page is put in its place. S3/R2 URLs and explicit public URLs stay as they are.
    """
    if settings.public_url or request is None or not url.startswith(settings.base_url + "/"):
        return url
    headers = request.headers
    host = headers.get("x-forwarded-host") or headers.get("host")
    if not host:
        return url
    scheme = headers.get("x-forwarded-proto") or getattr(getattr(request, "url", None), "scheme", None) or "http"
    return f"{scheme}://{host}{url[len(settings.base_url):]}"


def _playable(job: ProcessingJob) -> bool:
    return job.status in (S.READY, S.DELIVERED) and bool(job.video_key and job.video_url)


def _playable_url(job: ProcessingJob, settings: Settings, request: gr.Request | None) -> str | None:
    return browser_url(job.video_url, settings, request) if _playable(job) and job.video_url else None


def _clock(timestamp: str) -> str:
    return timestamp[11:16] if len(timestamp) >= 16 else timestamp


def _preview(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def history_html(jobs: list[ProcessingJob]) -> str:
    """This browser session's jobs, newest first: metadata only."""
    if not jobs:
        return '<p class="ma-empty">Nothing yet: the videos you make here are listed for this session.</p>'
    rows = []
    for job in jobs:
        video = "kept for replay" if _playable(job) else "deleted" if job.status is S.DELIVERED else "—"
        rows.append(
            f'<tr data-job="{job.job_id}"><td class="ma-problem-cell" title="{html.escape(job.problem_text)}">'
            f"{html.escape(_preview(job.problem_text, 80))}</td><td>{html.escape(job.status.value)}</td>"
            f"<td>{html.escape(video)}</td><td>{_clock(job.created_at)}</td></tr>"
        )
    return (
        '<table class="ma-history"><thead><tr><th>Problem</th><th>Status</th><th>Video</th><th>UTC</th></tr>'
        f'</thead><tbody>{"".join(rows)}</tbody></table>'
    )


# -- the page ------------------------------------------------------------------------------------


def _never() -> bool:
    return False


def submission_sentence(accepted: VideoGenerationResponse) -> str:
    """The status line of a just-submitted job: its place in line while it waits."""
    if accepted.queue_position:
        return f"Queued: number {accepted.queue_position} in line"
    return accepted.message


def build_ui(appliance: Appliance, settings: Settings, stopping: Callable[[], bool] = _never) -> gr.Blocks:
    """The page. Mount it with ``gr.mount_gradio_app(app, blocks, path="/", **mount_options(settings))``.

    ``stopping`` says when the server is shutting down: a visitor's job updates end then, and
    the page says to reload it in a minute."""

    async def history_updates(session_id: str | None) -> Updates:
        """The session's jobs as a table, and the ones whose video still exists as replay choices."""
        jobs: list[ProcessingJob] = []
        if session_id:
            try:
                jobs = await appliance.jobs_of(session_id)
            except NotFound:
                jobs = []
        jobs.sort(key=lambda job: job.created_at, reverse=True)
        choices = [(f"{_clock(job.created_at)} · {_preview(job.problem_text, 50)}", job.job_id)
                   for job in jobs if _playable(job)]
        return {history: history_html(jobs), replay_choice: gr.Dropdown(choices=choices, value=None)}

    async def generate(
        problem_text: str, session_id: str | None, request: gr.Request
    ) -> AsyncIterator[Updates]:
        try:
            accepted = await appliance.submit(problem_text, Channel.web(session_id))
        except ProblemRejected as exc:
            yield {status: status_html(message=_rejection_message(exc), kind="refused")}
            return
        except LimitExceeded as exc:
            yield {status: status_html(message=str(exc), kind="refused")}
            return
        job = await appliance.get(accepted.job_id)
        yield {
            status: status_html(job, message=submission_sentence(accepted)), session_state: job.session_id,
            job_state: job.job_id, video: None, code: "", answer: "", details: "",
            **await history_updates(job.session_id),
        }
        last: ProcessingJob | None = job
        async for change in appliance.follow(job.job_id, stop=stopping):
            if change is None:
                continue
            last = change
            update: Updates = {status: status_html(change), details: details_markdown(change)}
            if change.status in (S.READY, S.DELIVERED):
                update.update({
                    video: _playable_url(change, settings, request),
                    code: change.manim_code or "",
                    code_panel: gr.Accordion(open=True),
                    answer: answer_markdown(change),
                })
            elif change.status is S.FAILED:
                update.update({code: change.manim_code or "", answer: ""})
            yield update
        if last is not None and last.status is S.READY:
            # The video is on its way to the browser: delivered, kept for the replay grace.
            try:
                last = await appliance.mark_delivered(last.job_id, keep_for_replay_s=None)
            except (InvalidTransition, NotFound):
                pass
        elif stopping():
            yield {status: status_html(message="The server is restarting. Your video is still being made: "
                                       "reload this page in a minute.", kind="info")}
        yield await history_updates(last.session_id if last else session_id)

    async def cancel(job_id: str | None) -> Updates:
        if not job_id:
            return {}
        try:
            job = await appliance.cancel(job_id)
        except InvalidTransition:
            return {}
        except NotFound:
            return {status: status_html(message="That job no longer exists.", kind="info")}
        return {status: status_html(job, message="Cancelling…" if job.status is not S.FAILED else "Cancelled.")}

    async def replay(job_id: str | None, session_id: str | None, request: gr.Request) -> Updates:
        if not job_id:
            return {}
        try:
            job = await appliance.get(job_id)
        except NotFound:
            return {status: status_html(message="That job has expired; only recent ones are kept.", kind="info")}
        if job.session_id != session_id:  # only this browser's own jobs
            return {}
        url = _playable_url(job, settings, request)
        if url is None and job.status in (S.READY, S.DELIVERED, S.EXPIRED):
            message = "That video has been deleted (videos are kept only briefly after you watch them)."
            return {status: status_html(message=message, kind="info"), video: None,
                    code: job.manim_code or "", answer: answer_markdown(job), details: details_markdown(job)}
        shown = status_html(job, message=f"Replaying: {job.problem_text[:80]}") if url else status_html(job)
        return {status: shown, video: url, code: job.manim_code or "", code_panel: gr.Accordion(open=True),
                answer: answer_markdown(job), details: details_markdown(job), job_state: job.job_id}

    async def refresh(session_id: str | None) -> Updates:
        return await history_updates(session_id)

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        session_state = gr.State(None)  # this browser tab's session id (created on the first submit)
        job_state = gr.State(None)
        gr.Markdown(f"# {TITLE}", elem_id="ma-title")
        gr.Markdown(PRIVACY_LINE, elem_id="ma-privacy")
        with gr.Row(equal_height=False):
            # On a phone the columns stack: problem, button, status and answer come first,
            # the video right after them; the examples wait below.
            with gr.Column(scale=5, min_width=300):
                problem = gr.Textbox(
                    label="Your math problem", lines=3, max_lines=12, max_length=PROBLEM_MAX_CHARS,
                    placeholder="e.g. Solve 2x + 3 = 11", elem_id="ma-problem", autofocus=True,
                )
                with gr.Row():
                    generate_button = gr.Button("Generate video", variant="primary", elem_id="ma-generate",
                                                scale=3)
                    cancel_button = gr.Button("Cancel", variant="secondary", elem_id="ma-cancel", scale=1)
                status = gr.HTML(status_html(message="Waiting for a problem.", kind="idle"), elem_id="ma-status",
                                 padding=False, container=False)
                answer = gr.Markdown(elem_id="ma-answer")
                details = gr.Markdown(elem_id="ma-details")
            with gr.Column(scale=6, min_width=300):
                video = LinkedVideo(label="Video", interactive=False, autoplay=True, elem_id="ma-video",
                                    buttons=["download"])
        gr.Examples(examples=[[text] for text in EXAMPLES], inputs=[problem], label="Examples (click one)",
                    examples_per_page=len(EXAMPLES))
        with gr.Accordion("Manim scene code", open=False, elem_id="ma-code-panel") as code_panel:
            code = gr.Code(language="python", interactive=False, label="Scene code", elem_id="ma-code",
                           buttons=["copy", "download"], lines=12, max_lines=40,
                           wrap_lines=True)  # long lines would widen the page past a phone's screen
        with gr.Accordion("Your videos in this browser session", open=True, elem_id="ma-history-panel"):
            # An HTML table, not a gr.Dataframe: that one pins its columns' pixel widths at first
            # render, so a page opened wide never fits a narrower window again.
            history = gr.HTML(history_html([]), elem_id="ma-history", padding=False, container=False)
            with gr.Row():
                replay_choice = gr.Dropdown(label="Watch again (while the video is kept)", choices=[], value=None,
                                            interactive=True, elem_id="ma-replay", scale=4)
                refresh_button = gr.Button("Refresh", size="sm", elem_id="ma-refresh", scale=1)
        gr.Markdown("HTTP API: [/docs](/docs) · health: [/readyz](/readyz)", elem_id="ma-footer")

        outputs = [status, session_state, job_state, video, code, code_panel, answer, details, history, replay_choice]
        generate_event = generate_button.click(
            generate, inputs=[problem, session_state], outputs=outputs, show_progress="hidden",
            api_visibility="private", concurrency_id="generate",
        )
        submit_event = problem.submit(
            generate, inputs=[problem, session_state], outputs=outputs, show_progress="hidden",
            api_visibility="private", concurrency_id="generate",
        )
        cancel_button.click(cancel, inputs=[job_state], outputs=[status], cancels=[generate_event, submit_event],
                            api_visibility="private", show_progress="hidden")
        replay_choice.input(replay, inputs=[replay_choice, session_state],
                       outputs=[status, video, code, code_panel, answer, details, job_state],
                       api_visibility="private", show_progress="hidden")
        refresh_button.click(refresh, inputs=[session_state], outputs=[history, replay_choice],
                             api_visibility="private", show_progress="hidden")

    demo.queue(default_concurrency_limit=WEB_CONCURRENCY, max_size=QUEUE_MAX_SIZE, api_open=False)
    return demo


def _rejection_message(exc: ProblemRejected) -> str:
    if exc.rule == "min_length":
        return "That is too short: please describe the problem in a full sentence (at least 10 characters)."
    if exc.rule == "max_length":
        return f"That is too long: please keep the problem under {PROBLEM_MAX_CHARS} characters."
    if exc.rule == "invalid_text":  # the core's sentence names the character and where it is
        return f"{exc} Please remove it and try again."
    return "Please type a math problem first."
