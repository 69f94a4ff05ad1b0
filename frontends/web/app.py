"""The browser channel: a Gradio Blocks page over ``Appliance``.

The page shows a card per job (``cards.py``): two problems sent one after the other are two
cards, each following its own job to its own video. The handlers:

- ``generate`` submits the problem and draws the page with its card (one update).
- ``follow`` redraws the page whenever one of its jobs changes (``Appliance.watch``, no polling),
  for as long as the page is open. A page has one follower at a time: the one started by a newer
  event (a submission, a replay, the page loading) makes the older one stop before it draws
  anything stale. It only awaits, so one visitor's render never blocks another's page.
- ``cancel`` / ``cancel_job`` ask the appliance to cancel; the follower shows "Cancelling" and,
  once the job has stopped, "Cancelled". With nothing running, the line says so.
- ``restore`` runs when the page loads: the browser's signed session key (``session.py``, kept
  in local storage) brings back "your videos" and the cards of jobs still running.

The video is played from its (signed, expiring) URL, fetched by the browser itself, never
copied into Gradio's cache: once delivered it is deleted after the replay grace, and only
metadata stays. The answer is drawn as MathML (``math.py``); the look and the few lines of
script (Ctrl+Enter, the character count, a ready video brought into view) are in ``assets.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import gradio as gr
from gradio.blocks import Block

from appliance.admission import ClientSlots, client_key
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
WEB_EVENTS_PER_CLIENT = 10
"""Handlers (submit, cancel, refresh, ...) one client address may have running at once: one
client cannot take all ``WEB_CONCURRENCY`` slots. Its followers (one per open page) are bounded
by APPLIANCE_MAX_STREAMS_PER_CLIENT instead."""
BUSY_MESSAGE = ("Too many requests from your address are being handled at once. Please wait a moment and "
                "try again.")
QUEUE_MAX_SIZE = 500
MAX_CARDS = 6  # the cards a page keeps; the history lists every job of the session
FOLLOW_TICK_S = 1.0  # how often a quiet follower checks that it is still the page's one and the page is open
SESSION_STORAGE_KEY = "manim-appliance-session"

TITLE = "Manim Appliance"
PRIVACY_LINE = (
    "Type a math problem and get a short video that explains it. Your text is sent to the "
    "configured AI model (or solved on this server), the video is rendered here, and it is deleted "
    "shortly after you watch it; only the problem, its status and timings are kept. This browser "
    "keeps a signed key to your list of videos, so the list survives a reload."
)
NOTHING_TO_CANCEL = "Nothing is running to cancel."
LOOKING = '<p class="ma-empty" data-loading="true">Looking for your videos…</p>'  # until the page has loaded

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
        input_placeholder_color_dark="*neutral_300",
        link_text_color_dark="*primary_300",
        link_text_color_visited_dark="*primary_300",
        link_text_color_hover_dark="*primary_200",
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
    """The open page an event comes from (Gradio's session hash: one per page load)."""
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


@dataclass(frozen=True)
class Drawing:
    """What the page shows of its jobs: the cards, the list, the replay choices."""

    cards: str
    history: str
    choices: tuple[tuple[str, str], ...]


@dataclass
class PageState:
    """One open page (a Gradio session: one per page load): the jobs it shows a card for, oldest
    first, and the follower drawing them. Kept in a ``gr.State``, so every event of the page gets
    this same object and changes it in place; Gradio drops it when the page is closed."""

    job_ids: list[str] = field(default_factory=list)
    session_id: str | None = None  # from the browser's verified key, or the session a submission was filed under
    follower: object | None = None
    closed: bool = False

    def session(self, keys: SessionKeys, token: str | None) -> str | None:
        """The page's session: the one it knows, else the one the browser's key names (if the key
        is this server's)."""
        if self.session_id is None:
            self.session_id = keys.verify(token)
        return self.session_id

    def show(self, job_id: str) -> None:
        """Give ``job_id`` a card (after the others), keeping the newest ``MAX_CARDS``."""
        self.job_ids = [*(item for item in self.job_ids if item != job_id), job_id][-MAX_CARDS:]


def build_ui(appliance: Appliance, settings: Settings, stopping: Callable[[], bool] = _never) -> gr.Blocks:
    """The page. Mount it with ``gr.mount_gradio_app(app, blocks, path="/", **mount_options(settings))``.

    ``stopping`` says when the server is shutting down: the cards stop updating then, and
    the page says to reload it in a minute.

    Gradio 6 mishandles an update without a value sent to a ``gr.HTML`` (``gr.skip()``, or an
    event's output its handler left out): it becomes the component's ``props``, and the component
    stops showing the values it gets afterwards. So every handler here gives each HTML output it
    has a full value, every time: the cards and the list are always drawn whole, from the store."""
    keys = SessionKeys.for_settings(settings)
    builtin_only = not appliance.source.providers()
    open_pages: dict[str, PageState] = {}  # Gradio session hash -> its page, while a follower draws it
    followers = ClientSlots(settings.max_streams_per_client)
    busy = ClientSlots(WEB_EVENTS_PER_CLIENT)

    async def jobs_on_page(job_ids: list[str], session_id: str | None) -> list[ProcessingJob]:
        """The page's jobs that still exist and belong to this browser's session."""
        if not session_id:
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

    async def drawn(page: PageState, request: gr.Request | None, origin: str = "live",
                    notice: str | None = None) -> tuple[Drawing, list[ProcessingJob]]:
        """The cards, the list and the replay choices as they are now, and the page's jobs."""
        session_id = page.session_id
        jobs = await jobs_on_page(page.job_ids, session_id)
        everything: list[ProcessingJob] = []
        if session_id:
            try:
                everything = await appliance.jobs_of(session_id)
            except NotFound:
                everything = []
        everything.sort(key=lambda job: job.created_at, reverse=True)
        choices = [(f"{clock(job.created_at)} · {preview(job.problem_text, 50)}", job.job_id)
                   for job in everything if playable(job)]
        return Drawing(cards_html(await views_of(jobs, request), origin=origin, notice=notice),
                       history_html(everything), tuple(choices)), jobs

    def updates_of(drawing: Drawing) -> Updates:
        return {cards: drawing.cards, history: drawing.history,
                replay_choice: gr.Dropdown(choices=list(drawing.choices), value=None)}

    async def generate(
        problem_text: str, token: str | None, request: gr.Request, page: PageState | None = None,
        voice: bool | None = None,
    ) -> AsyncIterator[Updates]:
        """Submit the problem and show its card beside the others; ``follow`` goes on from there.
        (One update: a generator, as the page's handlers were, for callers that iterate it.)"""
        page = page if page is not None else PageState()
        with busy.hold(client_of(request, settings)) as admitted:
            if not admitted:
                yield {status: message_html(BUSY_MESSAGE, "refused")}
                return
            async for update in _generate(problem_text, token, request, page, voice):
                yield update

    async def _generate(problem_text: str, token: str | None, request: gr.Request, page: PageState,
                        voice: bool | None) -> AsyncIterator[Updates]:
        session_id = page.session(keys, token)
        refusal = None
        length = len((problem_text or "").replace("\r\n", "\n").strip())
        if builtin_only and BUILTIN_MAX_CHARS < length <= PROBLEM_MAX_CHARS:
            refusal = (f"No AI model is configured here, and the built-in solver reads problems of at most "
                       f"{BUILTIN_MAX_CHARS} characters (this one has {length}). Please shorten it.")
        else:
            try:
                channel = Channel.web(session_id, client=client_of(request, settings))
                accepted = await appliance.submit(problem_text, channel, voice=voice)
            except ProblemRejected as exc:
                refusal = _rejection_message(exc)
            except LimitExceeded as exc:
                refusal = str(exc)
        if refusal is not None:
            drawing, _ = await drawn(page, request)
            yield {status: message_html(refusal, "refused"), **updates_of(drawing)}
            return
        job = await appliance.get(accepted.job_id)
        page.session_id = job.session_id  # a new one when the key was missing or its session had expired
        page.show(job.job_id)
        page.follower = None  # the follower drawing the page stops; the one started next takes over
        drawing, jobs = await drawn(page, request)
        if accepted.queue_position:  # the place in line as the submission found it
            views = [JobView(item, _playable_url(item, settings, request),
                             accepted.queue_position if item.job_id == job.job_id else None) for item in jobs]
            drawing = replace(drawing, cards=cards_html(views))
        yield {status: message_html(None), token_state: keys.sign(job.session_id), **updates_of(drawing)}

    async def follow(page: PageState, request: gr.Request) -> AsyncIterator[Updates]:
        """Redraw the page whenever one of its jobs changes, for as long as the page is open.

        It outlives the jobs on purpose: while a page has an event running, Gradio's client keeps
        its one event stream open. When the last running event ends, the client closes the stream,
        and an event sent at that same moment (a click right after a result appeared) can lose its
        answer (Gradio 6.31). With a follower always running, the stream is never closed."""
        with followers.hold(client_of(request, settings)) as admitted:
            if not admitted:
                # This address has as many pages following their jobs as it may: this one is drawn
                # when it is loaded or refreshed, not kept current.
                log.info("a follower refused: %s follows %d pages already", client_of(request, settings),
                         followers.limit)
                return
            async for update in _follow(page, request):
                yield update

    async def _follow(page: PageState, request: gr.Request) -> AsyncIterator[Updates]:
        tab = _tab_of(request)
        me = object()
        page.follower = me
        if tab is not None:
            open_pages[tab] = page
        changes: asyncio.Queue[ProcessingJob] = asyncio.Queue()
        pumps: dict[str, asyncio.Task[None]] = {}
        shown: Drawing | None = None

        async def pump(job_id: str) -> None:
            try:
                async for change in appliance.watch(job_id):
                    await changes.put(change)
            except NotFound:
                pass

        def current() -> bool:
            return page.follower is me and not page.closed

        try:
            while current():
                drawing, jobs = await drawn(page, request)
                if not current():
                    break  # a newer follower draws this page now, or it was closed
                if drawing != shown:
                    yield updates_of(drawing)
                    shown = drawing
                delivered = False
                for job in jobs:
                    if job.status is S.READY:
                        # The video is on its way to the browser: delivered, kept for the replay grace.
                        with contextlib.suppress(InvalidTransition, NotFound):
                            await appliance.mark_delivered(job.job_id, keep_for_replay_s=None)
                            delivered = True
                if delivered:
                    continue  # the list says so at once
                if stopping():
                    notice = "The server is restarting. Your video is still being made: reload this page in a minute."
                    drawing, _ = await drawn(page, request, notice=notice)
                    yield updates_of(drawing)
                    return
                for job in jobs:
                    if job.status in ACTIVE_STATUSES and job.job_id not in pumps:
                        pumps[job.job_id] = asyncio.create_task(pump(job.job_id))
                while current() and not stopping():  # until one of the jobs changes
                    try:
                        await asyncio.wait_for(changes.get(), FOLLOW_TICK_S)
                        break
                    except TimeoutError:
                        continue
                while not changes.empty():
                    changes.get_nowait()
            # Gradio applies a generator's last update once more when it ends: make it the page
            # as it is now, whichever follower draws it from here.
            drawing, _ = await drawn(page, request)
            if drawing != shown:
                yield updates_of(drawing)
        finally:
            for task in pumps.values():
                task.cancel()
            await asyncio.gather(*pumps.values(), return_exceptions=True)
            if page.follower is me:
                page.follower = None
                if tab is not None and open_pages.get(tab) is page:
                    del open_pages[tab]

    def closed(request: gr.Request) -> None:
        """The page was closed (or reloaded): its follower ends."""
        page = open_pages.pop(_tab_of(request) or "", None)
        if page is not None:
            page.closed = True

    async def cancel(token: str | None, page: PageState) -> Updates:
        """Cancel every job of this page that is still running."""
        running = [job for job in await jobs_on_page(page.job_ids, page.session(keys, token))
                   if job.status in ACTIVE_STATUSES]
        cancelled = 0
        for job in running:
            try:
                await appliance.cancel(job.job_id)
                cancelled += 1
            except (InvalidTransition, NotFound):
                pass  # it finished meanwhile
        # The cards say "Cancelling" and then "Cancelled"; this line only speaks when they cannot.
        return {status: message_html(None) if cancelled else message_html(NOTHING_TO_CANCEL, "info")}

    async def cancel_job(token: str | None, page: PageState, event: gr.EventData) -> Updates:
        """A card's own Cancel button."""
        data = getattr(event, "_data", None)
        job_id = data.get("job") if isinstance(data, dict) else None
        jobs = await jobs_on_page([job_id] if isinstance(job_id, str) else [], page.session(keys, token))
        if not jobs or jobs[0].status not in ACTIVE_STATUSES:
            return {status: message_html("That video is not running any more.", "info")}
        try:
            await appliance.cancel(jobs[0].job_id)
        except (InvalidTransition, NotFound):
            return {status: message_html("That video is not running any more.", "info")}
        return {status: message_html(None)}

    async def restore(token: str | None, page: PageState, request: gr.Request) -> Updates:
        """On page load: the session the browser's key names, its list, and the cards of the jobs
        still running or waiting to be watched."""
        session_id = keys.verify(token)
        jobs: list[ProcessingJob] = []
        if session_id:
            try:
                jobs = await appliance.jobs_of(session_id)
            except NotFound:
                session_id = None
        jobs.sort(key=lambda job: job.created_at)
        page.session_id = session_id
        page.job_ids = [job.job_id for job in jobs
                        if job.status in ACTIVE_STATUSES or job.status is S.READY][-MAX_CARDS:]
        drawing, _ = await drawn(page, request, origin="load")
        updates = updates_of(drawing)
        if token and not session_id:
            updates[token_state] = None  # not this server's key, or its session has expired
        return updates

    async def replay(job_id: str | None, token: str | None, page: PageState) -> Updates:
        """Show a job of this session again (its card, with the video while it is kept)."""
        if not job_id:
            return {status: message_html(None)}
        jobs = await jobs_on_page([job_id], page.session(keys, token))
        if not jobs:
            return {status: message_html("That job has expired; only recent ones are kept.", "info")}
        if not playable(jobs[0]):
            return {status: message_html("That video has been deleted (videos are kept only briefly after you "
                                         "watch them).", "info")}
        page.show(job_id)
        page.follower = None
        return {status: message_html(None)}

    async def refresh(token: str | None, page: PageState, request: gr.Request) -> Updates:
        page.session(keys, token)
        drawing, _ = await drawn(page, request)
        return updates_of(drawing)

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        # The browser's signed session key, in local storage (see session.py).
        token_state = gr.BrowserState(None, storage_key=SESSION_STORAGE_KEY, secret=keys.storage_secret)
        page_state = gr.State(PageState())
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
                voice = gr.Checkbox(value=settings.voice_default, label="Voice (the video explains itself aloud; "
                                    "subtitles either way)", elem_id="ma-voice")
                status = gr.HTML(message_html(None), elem_id="ma-status", padding=False, container=False)
            with gr.Column(scale=6, min_width=300):
                cards = gr.HTML(cards_html([]), elem_id="ma-cards", js_on_load=JOBS_JS, padding=False,
                                container=False)
        gr.Examples(examples=[[text] for text in EXAMPLES], inputs=[problem], label="Examples (click one)",
                    examples_per_page=len(EXAMPLES))
        with gr.Accordion("Your videos (kept in this browser)", open=True, elem_id="ma-history-panel"):
            # An HTML table, not a gr.Dataframe: that one pins its columns' pixel widths at first
            # render, so a page opened wide never fits a narrower window again.
            history = gr.HTML(LOOKING, elem_id="ma-history", padding=False, container=False)
            with gr.Row():
                replay_choice = gr.Dropdown(label="Watch again (while the video is kept)", choices=[], value=None,
                                            interactive=True, elem_id="ma-replay", scale=4)
                refresh_button = gr.Button("Refresh", size="sm", elem_id="ma-refresh", scale=1)
        gr.Markdown("HTTP API: [/docs](/docs) · health: [/readyz](/readyz)", elem_id="ma-footer")

        private: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}
        # A follower of the page starts while the previous one still runs (and makes it stop):
        # Gradio's default trigger mode would drop the new one instead.
        # Followers only wait, one per open page: no limit.
        following: dict[str, Any] = {**private, "concurrency_limit": None, "trigger_mode": "multiple"}
        drawing = [cards, history, replay_choice]
        generate_button.click(
            generate, inputs=[problem, token_state, page_state, voice], outputs=[status, token_state, *drawing],
            concurrency_id="generate", **private,
        ).then(follow, inputs=[page_state], outputs=drawing, **following)
        cancel_button.click(cancel, inputs=[token_state, page_state], outputs=[status], **private)
        cards.cancel_job(cancel_job, inputs=[token_state, page_state], outputs=[status], **private)
        replay_choice.input(replay, inputs=[replay_choice, token_state, page_state], outputs=[status],
                            **private).then(follow, inputs=[page_state], outputs=drawing, **following)
        refresh_button.click(refresh, inputs=[token_state, page_state], outputs=drawing, **private)
        demo.load(restore, inputs=[token_state, page_state], outputs=[token_state, *drawing], **private).then(
            follow, inputs=[page_state], outputs=drawing, **following)
        demo.unload(closed)

    demo.queue(default_concurrency_limit=WEB_CONCURRENCY, max_size=QUEUE_MAX_SIZE, api_open=False)
    return demo


def _rejection_message(exc: ProblemRejected) -> str:
    """The service's own sentence (it names the limit and the count), without the field name it
    starts with for API clients."""
    sentence = str(exc).removeprefix("problem_text: ").strip()
    if exc.rule == "min_length":
        return f"That is too short: {sentence}."
    if exc.rule == "max_length":
        return f"That is too long: {sentence}. Nothing was cut; please shorten it."
    if exc.rule == "invalid_text":  # the core's sentence names the character and where it is
        return f"{exc} Please remove it and try again."
    return "Please type a math problem first."
