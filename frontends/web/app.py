"""The browser channel: a Gradio Blocks page over ``Appliance``.

The page shows a card per job (``cards.py``): two problems sent one after the other are two
cards, each following its own job to its own video. The handlers:

- ``generate`` submits the problem and shows its card (one update), then ``follow`` takes over.
- ``follow`` watches every job on the page (``Appliance.watch``, no polling) and redraws the
  cards on each change until none is running. A page has one follower at a time: a newer one
  (started by the next submission, a replay, a reload) makes the older one stop before it draws
  anything stale. It only awaits, so one visitor's render never blocks another's page.
- ``cancel`` / ``cancel_job`` ask the appliance to cancel; the follower shows "Cancelling" and,
  once the job has stopped, "Cancelled".
- ``restore`` runs when the page loads: the browser's signed session key (``session.py``, kept
  in local storage) brings back "your videos" and the cards of jobs still running.

The video is played from its (signed, expiring) URL, fetched by the browser itself, never
copied into Gradio's cache: once delivered it is deleted after the replay grace, and only
metadata stays.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import gradio as gr
from gradio.blocks import Block

from appliance.admission import client_key
from appliance.config import Settings
from appliance.errors import InvalidTransition, LimitExceeded, NotFound, ProblemRejected
from appliance.generation.builtin.parse import MAX_PROBLEM_CHARS as BUILTIN_MAX_CHARS
from appliance.models import ACTIVE_STATUSES, PROBLEM_MAX_CHARS, ProcessingJob, ProcessingStatus
from appliance.service import Appliance, Channel
from frontends.web.assets import CSS, JOBS_JS, KEYS_JS
from frontends.web.cards import JobView, cards_html, clock, history_html, message_html, playable, preview
from frontends.web.session import SessionKeys

log = logging.getLogger(__name__)
S = ProcessingStatus
Updates = dict[Block, Any]  # what an event handler returns: component -> new value (or a gr.update)

# Visitors mostly wait on a render, and waiting is an await, not a thread: a high limit
# lets everyone follow their own jobs at once; renders are bounded by the appliance's slots.
WEB_CONCURRENCY = 100
QUEUE_MAX_SIZE = 500
MAX_CARDS = 6  # the cards a page keeps; the history lists every job of the session
FOLLOW_TICK_S = 1.0  # how often a quiet follower checks whether it is still the page's one
SESSION_STORAGE_KEY = "manim-appliance-session"

TITLE = "Manim Appliance"
PRIVACY_LINE = (
    "Type a math problem and get a short video that explains it. Your text is sent to the "
    "configured AI model (or solved on this server), the video is rendered here, and it is deleted "
    "shortly after you watch it; only the problem, its status and timings are kept. This browser "
    "keeps a signed key to your list of videos, so the list survives a reload."
)
NOTHING_TO_CANCEL = "Nothing is running to cancel."

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


def theme() -> gr.themes.Base:
    # System fonts: no request to a font CDN leaves the visitor's browser. The colours that
    # Soft leaves below WCAG AA (subdued text, placeholders, label chips, the primary button)
    # are set to ones with at least 4.5:1 against their background.
    return gr.themes.Soft(
        primary_hue="indigo",
        font=["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"],
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
    ).set(
        body_text_color_subdued="*neutral_600",
        body_text_color_subdued_dark="*neutral_300",
        input_placeholder_color="*neutral_500",
        input_placeholder_color_dark="*neutral_400",
        block_label_text_color="*primary_700",
        block_label_text_color_dark="*primary_100",
        block_title_text_color="*primary_700",
        block_title_text_color_dark="*primary_100",
        button_primary_background_fill="*primary_700",
        button_primary_background_fill_hover="*primary_800",
        button_primary_background_fill_dark="*primary_700",
        button_primary_background_fill_hover_dark="*primary_800",
        button_primary_text_color="white",
        button_primary_text_color_dark="white",
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


# -- requests ------------------------------------------------------------------------------------


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


def client_of(request: gr.Request | None, settings: Settings) -> str | None:
    """The visitor's address, for the per-client limits (X-Forwarded-For only from a trusted proxy)."""
    if request is None:
        return None
    client = getattr(request, "client", None)
    forwarded = request.headers.get("x-forwarded-for")
    return client_key(getattr(client, "host", None), [forwarded] if forwarded else [], settings.trusted_proxies)


def _tab_of(request: gr.Request | None) -> str | None:
    """The browser tab an event comes from (Gradio's session hash: one per page load)."""
    value = getattr(request, "session_hash", None) if request is not None else None
    return value if isinstance(value, str) and value else None


def _playable_url(job: ProcessingJob, settings: Settings, request: gr.Request | None) -> str | None:
    return browser_url(job.video_url, settings, request) if playable(job) and job.video_url else None


def _never() -> bool:
    return False


def hint_html(builtin_only: bool) -> str:
    """Under the text box: how to send, and the length limit that applies (the built-in
    solver's when no model is configured), with a live count the page script keeps."""
    limit = BUILTIN_MAX_CHARS if builtin_only else PROBLEM_MAX_CHARS
    solver = (f"No AI model is configured: the built-in solver answers, and it reads problems of up to "
              f"{BUILTIN_MAX_CHARS} characters. ") if builtin_only else f"Up to {PROBLEM_MAX_CHARS} characters. "
    return (
        f'<div id="ma-hint-text"><p>{solver}Press <kbd>Ctrl</kbd>+<kbd>Enter</kbd> '
        "(<kbd>⌘</kbd>+<kbd>Enter</kbd> on a Mac) to make the video; <kbd>Enter</kbd> starts a new line.</p>"
        f'<p><span class="ma-count" data-limit="{limit}">0 / {limit} characters</span></p></div>'
    )


def build_ui(appliance: Appliance, settings: Settings, stopping: Callable[[], bool] = _never) -> gr.Blocks:
    """The page. Mount it with ``gr.mount_gradio_app(app, blocks, path="/", **mount_options(settings))``.

    ``stopping`` says when the server is shutting down: the cards stop updating then, and
    the page says to reload it in a minute."""
    keys = SessionKeys.for_settings(settings)
    builtin_only = not appliance.source.providers()
    followers: dict[str, object] = {}  # browser tab -> the follower drawing its cards now

    async def jobs_on_page(job_ids: list[str] | None, session_id: str | None) -> list[ProcessingJob]:
        """The page's jobs that still exist and belong to this browser's session."""
        if not session_id or not job_ids:
            return []
        found = []
        for job_id in job_ids:
            try:
                job = await appliance.get(job_id)
            except NotFound:
                continue
            if job.session_id == session_id:
                found.append(job)
        return found

    async def views_of(jobs: list[ProcessingJob], request: gr.Request | None) -> list[JobView]:
        views = []
        for job in jobs:
            position = None
            if job.status is S.QUEUED:
                position = await asyncio.to_thread(appliance.queue_position, job.job_id)
            views.append(JobView(job, _playable_url(job, settings, request), position))
        return views

    async def history_updates(session_id: str | None) -> Updates:
        """The session's jobs as a table, and the ones whose video still exists as replay choices."""
        jobs: list[ProcessingJob] = []
        if session_id:
            try:
                jobs = await appliance.jobs_of(session_id)
            except NotFound:
                jobs = []
        jobs.sort(key=lambda job: job.created_at, reverse=True)
        choices = [(f"{clock(job.created_at)} · {preview(job.problem_text, 50)}", job.job_id)
                   for job in jobs if playable(job)]
        return {history: history_html(jobs), replay_choice: gr.Dropdown(choices=choices, value=None)}

    def supersede(request: gr.Request | None) -> None:
        """The follower drawing this tab's cards stops before its next update."""
        tab = _tab_of(request)
        print("SUPERSEDE", tab, flush=True)
        if tab is not None:
            followers[tab] = object()

    async def generate(
        problem_text: str, token: str | None, request: gr.Request, shown: list[str] | None = None
    ) -> AsyncIterator[Updates]:
        """Submit the problem and show its card beside the others (one update; ``follow`` goes on)."""
        session_id = keys.verify(token)
        length = len((problem_text or "").replace("\r\n", "\n").strip())
        if builtin_only and BUILTIN_MAX_CHARS < length <= PROBLEM_MAX_CHARS:
            yield {status: message_html(
                f"No AI model is configured here, and the built-in solver reads problems of at most "
                f"{BUILTIN_MAX_CHARS} characters (this one has {length}). Please shorten it.", "refused")}
            return
        try:
            channel = Channel.web(session_id, client=client_of(request, settings))
            accepted = await appliance.submit(problem_text, channel)
        except ProblemRejected as exc:
            yield {status: message_html(_rejection_message(exc), "refused")}
            return
        except LimitExceeded as exc:
            yield {status: message_html(str(exc), "refused")}
            return
        job = await appliance.get(accepted.job_id)
        supersede(request)
        page = [job_id for job_id in (shown or []) if job_id != job.job_id]
        page = [*page, job.job_id][-MAX_CARDS:]
        jobs = await jobs_on_page(page, job.session_id)
        views = await views_of(jobs, request)
        if accepted.queue_position:  # the place in line as the submission found it
            views = [JobView(view.job, view.video_url, accepted.queue_position) if view.job.job_id == job.job_id
                     else view for view in views]
        yield {status: "", token_state: keys.sign(job.session_id), shown_state: page, cards: cards_html(views),
               **await history_updates(job.session_id)}

    async def follow(token: str | None, shown: list[str] | None, request: gr.Request) -> AsyncIterator[Updates]:
        """Redraw the page's cards on every change of its jobs until none is running."""
        session_id = keys.verify(token)
        tab = _tab_of(request)
        me = object()
        if tab is not None:
            followers[tab] = me
        print("FOLLOW start", tab, shown, id(me), flush=True)
        jobs = {job.job_id: job for job in await jobs_on_page(shown, session_id)}
        changes: asyncio.Queue[ProcessingJob] = asyncio.Queue()

        async def pump(job_id: str) -> None:
            try:
                async for change in appliance.watch(job_id):
                    await changes.put(change)
            except NotFound:
                pass

        pumps = [asyncio.create_task(pump(job.job_id)) for job in jobs.values() if job.status in ACTIVE_STATUSES]
        try:
            dirty = True
            while True:
                if dirty:
                    drawn = cards_html(await views_of(list(jobs.values()), request))
                    if tab is not None and followers.get(tab) is not me:
                        print("FOLLOW superseded", id(me), flush=True)
                        return  # a newer follower draws this page now
                    print("FOLLOW yield", id(me), drawn.count('<article'), flush=True)
                    yield {cards: drawn}
                    dirty = False
                    for job in list(jobs.values()):
                        if job.status is S.READY:
                            # The video is on its way to the browser: delivered, kept for the replay grace.
                            try:
                                jobs[job.job_id] = await appliance.mark_delivered(job.job_id, keep_for_replay_s=None)
                            except (InvalidTransition, NotFound):
                                pass
                if not any(job.status in ACTIVE_STATUSES for job in jobs.values()):
                    break
                if stopping():
                    yield {status: message_html("The server is restarting. Your video is still being made: "
                                                "reload this page in a minute.", "info")}
                    return
                try:
                    change = await asyncio.wait_for(changes.get(), FOLLOW_TICK_S)
                except TimeoutError:
                    if tab is not None and followers.get(tab) is not me:
                        return
                    continue
                while True:
                    jobs[change.job_id] = change
                    if changes.empty():
                        break
                    change = changes.get_nowait()
                dirty = True
            if tab is None or followers.get(tab) is me:
                yield await history_updates(session_id)
        finally:
            for task in pumps:
                task.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            if tab is not None and followers.get(tab) is me:
                del followers[tab]

    async def cancel(token: str | None, shown: list[str] | None) -> Updates:
        """Cancel every job of this page that is still running."""
        running = [job for job in await jobs_on_page(shown, keys.verify(token)) if job.status in ACTIVE_STATUSES]
        cancelled = 0
        for job in running:
            try:
                await appliance.cancel(job.job_id)
                cancelled += 1
            except (InvalidTransition, NotFound):
                pass  # it finished meanwhile
        # The cards say "Cancelling" and then "Cancelled"; this line only speaks when they cannot.
        return {status: "" if cancelled else message_html(NOTHING_TO_CANCEL, "info")}

    async def cancel_job(token: str | None, event: gr.EventData) -> Updates:
        """A card's own Cancel button."""
        data = getattr(event, "_data", None)
        job_id = data.get("job") if isinstance(data, dict) else None
        jobs = await jobs_on_page([job_id] if isinstance(job_id, str) else [], keys.verify(token))
        if not jobs or jobs[0].status not in ACTIVE_STATUSES:
            return {status: message_html("That video is not running any more.", "info")}
        try:
            await appliance.cancel(jobs[0].job_id)
        except (InvalidTransition, NotFound):
            return {status: message_html("That video is not running any more.", "info")}
        return {status: ""}

    async def restore(token: str | None, request: gr.Request) -> Updates:
        """On page load: the session the browser's key names, its history, and the cards of the
        jobs still running or waiting to be watched."""
        session_id = keys.verify(token)
        jobs: list[ProcessingJob] = []
        if session_id:
            try:
                jobs = await appliance.jobs_of(session_id)
            except NotFound:
                session_id = None
        jobs.sort(key=lambda job: job.created_at)
        page = [job for job in jobs if job.status in ACTIVE_STATUSES or job.status is S.READY][-MAX_CARDS:]
        updates: Updates = {shown_state: [job.job_id for job in page],
                            cards: cards_html(await views_of(page, request), origin="load"),
                            **await history_updates(session_id)}
        if token and not session_id:
            updates[token_state] = None  # not this server's key, or its session has expired
        return updates

    async def replay(job_id: str | None, token: str | None, shown: list[str] | None, request: gr.Request) -> Updates:
        """Show a job of this session again (its card, with the video while it is kept)."""
        if not job_id:
            return {status: ""}
        jobs = await jobs_on_page([job_id], keys.verify(token))
        if not jobs:
            return {status: message_html("That job has expired; only recent ones are kept.", "info")}
        if not playable(jobs[0]):
            return {status: message_html("That video has been deleted (videos are kept only briefly after you "
                                         "watch them).", "info")}
        supersede(request)
        page = [*(item for item in (shown or []) if item != job_id), job_id][-MAX_CARDS:]
        return {status: "", shown_state: page}

    async def refresh(token: str | None) -> Updates:
        return await history_updates(keys.verify(token))

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        # The browser's signed session key, in local storage (see session.py).
        token_state = gr.BrowserState(None, storage_key=SESSION_STORAGE_KEY, secret=keys.storage_secret)
        shown_state = gr.State([])  # the job ids with a card on this page, oldest first
        gr.Markdown(f"# {TITLE}", elem_id="ma-title")
        gr.Markdown(PRIVACY_LINE, elem_id="ma-privacy")
        with gr.Row(equal_height=False):
            # On a phone the columns stack: problem, buttons, message, then the cards with the
            # videos; the examples wait below.
            with gr.Column(scale=5, min_width=300):
                problem = gr.Textbox(
                    label="Your math problem", lines=3, max_lines=12,
                    placeholder="e.g. Find the derivative of x^3 sin(x)", elem_id="ma-problem", autofocus=True,
                )
                gr.HTML(hint_html(builtin_only), elem_id="ma-hint", js_on_load=KEYS_JS, padding=False,
                        container=False)
                with gr.Row():
                    generate_button = gr.Button("Generate video", variant="primary", elem_id="ma-generate",
                                                scale=3)
                    cancel_button = gr.Button("Cancel", variant="secondary", elem_id="ma-cancel", scale=1)
                status = gr.HTML("", elem_id="ma-status", padding=False, container=False)
            with gr.Column(scale=6, min_width=300):
                cards = gr.HTML("", elem_id="ma-cards", js_on_load=JOBS_JS, padding=False, container=False)
        gr.Examples(examples=[[text] for text in EXAMPLES], inputs=[problem], label="Examples (click one)",
                    examples_per_page=len(EXAMPLES))
        with gr.Accordion("Your videos (kept in this browser)", open=True, elem_id="ma-history-panel"):
            # An HTML table, not a gr.Dataframe: that one pins its columns' pixel widths at first
            # render, so a page opened wide never fits a narrower window again.
            history = gr.HTML(history_html([]), elem_id="ma-history", padding=False, container=False)
            with gr.Row():
                replay_choice = gr.Dropdown(label="Watch again (while the video is kept)", choices=[], value=None,
                                            interactive=True, elem_id="ma-replay", scale=4)
                refresh_button = gr.Button("Refresh", size="sm", elem_id="ma-refresh", scale=1)
        gr.Markdown("HTTP API: [/docs](/docs) · health: [/readyz](/readyz)", elem_id="ma-footer")

        private: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}
        # A follower of the page starts while the previous one still runs (and makes it stop):
        # Gradio's default trigger mode would drop the new one instead.
        following: dict[str, Any] = {**private, "concurrency_id": "follow", "trigger_mode": "multiple"}
        follow_outputs = [cards, status, history, replay_choice]
        submitted = generate_button.click(
            generate, inputs=[problem, token_state, shown_state],
            outputs=[status, token_state, shown_state, cards, history, replay_choice], concurrency_id="generate",
            **private)
        submitted.then(follow, inputs=[token_state, shown_state], outputs=follow_outputs, **following)
        cancel_button.click(cancel, inputs=[token_state, shown_state], outputs=[status], **private)
        cards.cancel_job(cancel_job, inputs=[token_state], outputs=[status], **private)
        replay_choice.input(replay, inputs=[replay_choice, token_state, shown_state], outputs=[status, shown_state],
                            **private).then(follow, inputs=[token_state, shown_state], outputs=follow_outputs,
                                            **following)
        refresh_button.click(refresh, inputs=[token_state], outputs=[history, replay_choice], **private)
        demo.load(restore, inputs=[token_state], outputs=[token_state, shown_state, cards, history, replay_choice],
                  **private).then(follow, inputs=[token_state, shown_state], outputs=follow_outputs, **following)

    demo.queue(default_concurrency_limit=WEB_CONCURRENCY, max_size=QUEUE_MAX_SIZE, api_open=False)
    return demo


def _rejection_message(exc: ProblemRejected) -> str:
    """The service's own sentence, without the field name it starts with for API clients."""
    sentence = str(exc).removeprefix("problem_text: ").strip()
    sentence = sentence[:1].upper() + sentence[1:]
    if exc.rule == "min_length":
        return f"That is too short. {sentence}."
    if exc.rule == "max_length":
        return f"That is too long. {sentence}; nothing was cut, please shorten it."
    if exc.rule == "invalid_text":  # the core's sentence names the character and where it is
        return f"{exc} Please remove it and try again."
    return "Please type a math problem first."
