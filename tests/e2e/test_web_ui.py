"""The web UI in a real headless Chromium against the real appliance (built-in solver, Docker
sandbox at quality "low"), all on 127.0.0.1.

- A visitor types a problem (Enter and Shift+Enter are line breaks), sends it with Ctrl+Enter and
  watches its card follow the job to a ``<video>`` that really plays, with the answer drawn as
  maths (MathML), the solution's steps, the narration's subtitles as a track of the player and the
  scene code; the list of videos survives a reload and a kept video plays again (desktop).
- Cancel: with nothing running the page says so in a sentence; a job cancelled while it renders
  shows "Cancelling", then "Cancelled" once it has stopped, and a waiting one stops at once from
  its card's own button (desktop and phone).
- A problem the solver refuses fails at "Writing the scene" with the reason, and only "Queued" is
  ticked; text over the appliance's limit is kept whole and refused with the limit, the built-in
  solver's limit is said before anything is sent, and every text has WCAG AA contrast, computed
  from Chromium's styles (desktop and phone; dark mode too).
- Two problems at once: each card ends with its own video; on a phone the video that becomes ready
  is brought into view and nothing covers its top; both are listed after a reload, and another
  browser sees none of it (phone and desktop).

Nothing here waits for a fixed time: every wait is for an event in the page (the timeouts only
bound a hang). Screenshots go to artifacts/; with ``APPLIANCE_UPDATE_SCREENSHOTS=1`` the desktop
and phone ones also go to docs/ (screenshot-web.png, screenshot-web-phone.png).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from appliance.generation.builtin.parse import MAX_PROBLEM_CHARS as BUILTIN_MAX_CHARS
from appliance.models import PROBLEM_MAX_CHARS, ProcessingStatus
from tests.integration import server_fixtures

pytestmark = pytest.mark.docker
live_server = server_fixtures.live_server  # the fixture, for the tests below

S = ProcessingStatus
REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "artifacts"
DOCS = REPO_ROOT / "docs"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
WIDTHS = [pytest.param(DESKTOP, id="desktop"), pytest.param(PHONE, id="phone")]
RENDER_TIMEOUT_MS = 420_000  # a bound on a hang, not an expectation: two CPUs shared with other tests
PAGE_TIMEOUT_MS = 60_000
AA = 4.5  # WCAG AA for normal text
AA_LARGE = 3.0  # for large text (24 px, or 18.66 px bold)
# The contrast of every visible text with what is behind it, from Chromium's computed styles:
# the text colour (its alpha composed over the background) against the backgrounds of the
# element and its ancestors composed from the page down; for a gradient, its worst stop.
# Placeholders are read from ::placeholder. WCAG 2 relative luminance and contrast ratio.
CONTRAST_JS = r"""
() => {
  const parse = (text) => {
    let m = text.match(/^rgba?\(([^)]+)\)$/);
    if (m) {
      const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
      return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
    }
    m = text.match(/^color\(srgb ([^)]+)\)$/);
    if (m) {
      const p = m[1].split(/[\s\/]+/).filter(Boolean).map(Number);
      return {r: p[0] * 255, g: p[1] * 255, b: p[2] * 255, a: p.length > 3 ? p[3] : 1};
    }
    return null;
  };
  const over = (top, under) => ({
    r: top.r * top.a + under.r * (1 - top.a), g: top.g * top.a + under.g * (1 - top.a),
    b: top.b * top.a + under.b * (1 - top.a), a: 1});
  const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  const lum = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const backgrounds = (el) => {
    const chain = [];
    for (let e = el; e; e = e.parentElement) chain.push(e);
    let layers = [{r: 255, g: 255, b: 255, a: 1}];
    for (const e of chain.reverse()) {
      const style = getComputedStyle(e);
      const image = style.backgroundImage || '';
      if (image.includes('gradient')) {
        const stops = [...image.matchAll(/rgba?\([^)]+\)|color\(srgb [^)]+\)/g)]
          .map((m) => parse(m[0])).filter(Boolean);
        if (stops.length) layers = stops.flatMap((stop) => layers.map((layer) => over(stop, layer)));
      }
      const colour = parse(style.backgroundColor);
      if (colour && colour.a > 0) layers = layers.map((layer) => over(colour, layer));
    }
    return layers;
  };
  const visible = (el) => {
    const rect = el.getBoundingClientRect();
    if (rect.width < 2 || rect.height < 2) return false;
    for (let e = el; e; e = e.parentElement) {
      const style = getComputedStyle(e);
      if (style.display === 'none' || style.visibility === 'hidden' || Number(style.opacity) < 0.1) return false;
    }
    return true;
  };
  const results = [];
  const check = (el, colourText, label, large) => {
    const colour = parse(colourText);
    if (!colour) { results.push({label, ratio: 0, large, colour: colourText}); return; }
    const worst = Math.min(...backgrounds(el).map((bg) => ratio(over(colour, bg), bg)));
    results.push({label, ratio: Math.round(worst * 100) / 100, large});
  };
  const skipped = 'video, svg, script, style, noscript, .ma-sr, [aria-hidden="true"]';
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest(skipped) || el.matches(':disabled')) continue;
    const texts = [...el.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
    if (!texts.length || !visible(el)) continue;
    const style = getComputedStyle(el);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (Number(style.fontWeight) >= 700 && size >= 18.66);
    const text = texts.map((n) => n.textContent.trim()).join(' ').slice(0, 40);
    const owner = el.closest('[id]');
    check(el, style.color, `${owner ? '#' + owner.id + ' ' : ''}${el.tagName.toLowerCase()} "${text}"`, large);
  }
  for (const field of document.querySelectorAll('textarea, input[type=text], input:not([type])')) {
    if (!field.placeholder || field.value || !visible(field)) continue;
    const colour = getComputedStyle(field, '::placeholder').color;
    check(field, colour, `placeholder "${field.placeholder.slice(0, 40)}"`, false);
  }
  return results;
}
"""


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is not installed"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Page:
    """A tab on the appliance's page, with the questions the tests ask of it."""

    def __init__(self, browser: Any, server: Any, viewport: dict[str, int], context: Any = None) -> None:
        self.server = server
        self.context = context or browser.new_context(viewport=viewport)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.off_host: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("request", self._note_request)
        self.open()

    def _note_request(self, request: Any) -> None:
        host = urlsplit(request.url).hostname
        if request.url.startswith("http") and host not in ("127.0.0.1", None):
            self.off_host.append(request.url)

    def open(self) -> None:
        """Load the page and wait until it has looked up this browser's videos."""
        self.page.goto(self.server.url("/"))
        self.page.wait_for_selector("#ma-problem textarea", timeout=PAGE_TIMEOUT_MS)
        self.page.wait_for_selector("#ma-history .ma-empty, #ma-history table", timeout=PAGE_TIMEOUT_MS)
        self.page.wait_for_selector("#ma-history [data-loading]", state="detached", timeout=PAGE_TIMEOUT_MS)

    def submit(self, text: str) -> None:
        self.page.fill("#ma-problem textarea", text)
        self.page.click("#ma-generate")

    def card(self, problem: str) -> Any:
        return self.page.locator("#ma-cards article.ma-job").filter(
            has=self.page.locator("h3.ma-job-problem", has_text=problem))

    def wait_card(self, problem: str, condition: str, timeout: int = PAGE_TIMEOUT_MS) -> None:
        """Wait until the card of ``problem`` satisfies ``condition`` (a JS expression on ``card``)."""
        self.page.wait_for_function(
            "([problem, ...rest]) => { const card = [...document.querySelectorAll('#ma-cards article.ma-job')]"
            ".find((c) => c.querySelector('h3').textContent === problem);"
            f" return Boolean(card && ({condition})); }}",
            arg=[problem], timeout=timeout)

    def card_state(self, problem: str) -> dict[str, Any]:
        return self.page.evaluate(
            "(problem) => { const card = [...document.querySelectorAll('#ma-cards article.ma-job')]"
            ".find((c) => c.querySelector('h3').textContent === problem); if (!card) return null;"
            " const video = card.querySelector('video');"
            " return {job: card.dataset.job, status: card.dataset.status, kind: card.dataset.kind,"
            " line: card.querySelector('.ma-status-line').textContent,"
            " steps: [...card.querySelectorAll('.ma-steps li')]"
            ".map((li) => [li.firstChild.textContent, li.dataset.state]),"
            " ticked: [...card.querySelectorAll('.ma-steps li')].filter((li) => getComputedStyle(li, '::before')"
            ".content.includes('✓')).map((li) => li.firstChild.textContent),"
            " video: video && {src: video.currentSrc || video.src, readyState: video.readyState,"
            " duration: video.duration, width: video.videoWidth},"
            " cancel: Boolean(card.querySelector('.ma-job-cancel'))}; }", problem)

    def message(self) -> str:
        return self.page.locator("#ma-status").inner_text()

    def wait_message(self, text: str) -> None:
        try:
            self.page.wait_for_function(
                "(text) => document.querySelector('#ma-status').innerText.includes(text)", arg=text,
                timeout=PAGE_TIMEOUT_MS)
        except Exception as exc:
            raise AssertionError(f"the page did not say {text!r}; it says {self.message()!r}") from exc

    def record_statuses(self) -> None:
        """From now on, every status a card shows is recorded in the page, however briefly."""
        self.page.evaluate(
            "() => { window.seenStatuses = {}; const box = document.querySelector('#ma-cards');"
            " const note = () => box.querySelectorAll('article.ma-job').forEach((card) => {"
            " const seen = window.seenStatuses[card.dataset.job] = window.seenStatuses[card.dataset.job] || [];"
            " if (seen[seen.length - 1] !== card.dataset.status) seen.push(card.dataset.status); });"
            " new MutationObserver(note).observe(box, {subtree: true, childList: true, attributes: true,"
            " characterData: true}); }")

    def wait_video_plays(self, problem: str) -> dict[str, Any]:
        self.wait_card(problem, "card.querySelector('video') && card.querySelector('video').readyState >= 2"
                                " && card.querySelector('video').duration > 0", timeout=PAGE_TIMEOUT_MS)
        state = self.card_state(problem)
        return state["video"]  # type: ignore[no-any-return]

    def history(self) -> str:
        return self.page.locator("#ma-history").inner_text()

    def screenshot(self, name: str, docs_name: str | None = None) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
        self.page.screenshot(path=str(ARTIFACTS / f"{name}-full.png"), full_page=True)
        if docs_name and os.environ.get("APPLIANCE_UPDATE_SCREENSHOTS") == "1":
            # The README's pictures are refreshed on request only: a test run leaves the checkout as it was.
            shutil.copyfile(ARTIFACTS / f"{name}.png", DOCS / docs_name)

    def no_sideways_scroll(self) -> None:
        width = self.page.evaluate("() => document.documentElement.scrollWidth")
        viewport = self.page.viewport_size["width"]
        assert width <= viewport, f"the page scrolls sideways ({width} px in a {viewport} px window)"

    def close(self) -> None:
        assert self.errors == [], f"errors in the page: {self.errors}"
        assert self.off_host == [], f"the page fetched from other hosts: {self.off_host}"
        self.context.close()


def start(live_server: Any, **overrides: Any) -> Any:
    settings = {"render_quality": "low", "render_slots": 1, "maintenance_interval_s": 3600, **overrides}
    return live_server(**settings)


def jobs_of(server: Any, job_id: str) -> list[Any]:
    store = server.appliance.store
    return store.list_jobs(store.get_job(job_id).session_id)


# -- a visitor gets a video ----------------------------------------------------------------------


def video_key_of(server: Any, job_id: str) -> str:
    """The key of the job's video (its URL names the video only, not the job)."""
    key = server.appliance.store.get_job(job_id).video_key
    assert key, job_id
    return str(key)


def test_a_visitor_gets_a_playing_video_and_finds_it_again_after_a_reload(live_server, browser):
    server = start(live_server)
    context = browser.new_context(viewport=DESKTOP)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base_url)
    tab = Page(browser, server, DESKTOP, context)
    page = tab.page
    assert "Manim Appliance" in page.title()
    assert "deleted" in page.locator("#ma-privacy").inner_text()
    hint = page.locator("#ma-hint").inner_text()
    assert "Ctrl" in hint and "Enter" in hint, hint  # how to send is said, not guessed
    assert f"{BUILTIN_MAX_CHARS} characters" in hint, hint  # no model here: the solver's limit is said

    # An invalid problem is refused with a clear message, and nothing is queued.
    tab.submit("2+2")
    tab.wait_message("too short")
    assert page.locator("#ma-status [data-status=refused]").count() == 1
    assert server.appliance.store.queue_length() == 0

    # Enter and Shift+Enter are line breaks; Ctrl+Enter sends (once).
    problem = "Find the derivative of x^3 sin(x)"
    page.fill("#ma-problem textarea", "")
    page.click("#ma-problem textarea")
    page.keyboard.type("Find the derivative of")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("x^3 sin(x)")
    assert page.input_value("#ma-problem textarea") == "Find the derivative of\nx^3 sin(x)"
    tab.record_statuses()
    page.keyboard.press("Control+Enter")
    tab.wait_card(problem, "true")  # the card's title shows the problem as one line
    job_id = tab.card_state(problem)["job"]
    assert [job.problem_text for job in jobs_of(server, job_id)] == ["Find the derivative of\nx^3 sin(x)"]

    # The card follows the job to the end; every status it showed is recorded.
    tab.wait_card(problem, "card.dataset.kind !== 'running'", timeout=RENDER_TIMEOUT_MS)
    seen = page.evaluate("(job) => window.seenStatuses[job]", job_id)
    assert seen[-1] in ("ready", "delivered"), (seen, tab.card_state(problem))
    assert len(seen) >= 3 and "rendering" in seen, seen  # the card followed the job

    # The <video> gets the signed URL and really plays it: data for the current frame, a duration.
    video = tab.wait_video_plays(problem)
    # Its URL names the video only (an opaque key): passed on, it opens no job route.
    assert video["src"].startswith(server.base_url + "/videos/video-") and job_id not in video["src"], video
    assert video["width"] > 0, video
    state = tab.card_state(problem)
    assert state["line"].startswith("Ready"), state
    assert state["ticked"] == ["Queued", "Writing the scene", "Checking the code", "Rendering", "Uploading",
                               "Ready"], state

    # The solution's steps are beside the video, and the narration's subtitles are a track of the
    # player (its CC button), read by Chromium from the page.
    job = server.appliance.store.get_job(job_id)
    assert page.locator("#ma-voice input").is_checked() and job.voice
    assert job.steps and tab.card(problem).locator(".ma-solution li").count() == len(job.steps)
    assert job.subtitles, job  # a narrated built-in video has them
    page.evaluate(
        "(job) => { document.querySelector(`article[data-job='${job}'] video`).textTracks[0].mode = 'hidden'; }",
        job_id)
    page.wait_for_function(
        "(job) => { const t = document.querySelector(`article[data-job='${job}'] video`).textTracks[0];"
        " return t.cues !== null && t.cues.length > 0; }", arg=job_id, timeout=PAGE_TIMEOUT_MS)
    first_cue = page.evaluate(
        "(job) => document.querySelector(`article[data-job='${job}'] video`).textTracks[0].cues[0].text", job_id)
    assert first_cue == " ".join(str(job.subtitles[0]["text"]).split()), first_cue
    # CC on: the player shows the cue that is due at the moment it is at.
    cue = job.subtitles[1]
    page.evaluate(
        "([job, at]) => { const v = document.querySelector(`article[data-job='${job}'] video`);"
        " v.pause(); v.textTracks[0].mode = 'showing'; v.currentTime = at; }",
        [job_id, (float(cue["start_s"]) + float(cue["end_s"])) / 2])
    page.wait_for_function(
        "([job, text]) => { const t = document.querySelector(`article[data-job='${job}'] video`).textTracks[0];"
        " return t.activeCues !== null && [...t.activeCues].some((c) => c.text === text); }",
        arg=[job_id, " ".join(str(cue["text"]).split())], timeout=PAGE_TIMEOUT_MS)
    # The steps' formulas are typeset (MathML), and the layout gate's verdict is said.
    steps = tab.card(problem).locator(".ma-solution li")
    assert sum(steps.nth(i).locator("math").count() > 0 for i in range(steps.count())) >= len(job.steps) - 1
    assert tab.card(problem).locator(".ma-layout").inner_text() == "Layout: checked, no issues."

    # The answer is drawn as maths (MathML), not as the ASCII line x^3cos(x) + 3x^2sin(x).
    answer = tab.card(problem).locator(".ma-answer")
    assert answer.locator("math msup").count() >= 2
    assert "^" not in answer.inner_text(), answer.inner_text()
    assert "checked by the built-in solver" in answer.inner_text()

    # The code panel holds the job's whole scene, and its Copy button copies it.
    job = server.appliance.store.get_job(job_id)
    tab.card(problem).locator("details.ma-code summary").click()
    tab.card(problem).locator(".ma-copy").click()
    page.wait_for_function("async () => (await navigator.clipboard.readText()).length > 0", timeout=PAGE_TIMEOUT_MS)
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied.strip() == (job.manim_code or "").strip() and f"class {job.scene_name}(" in copied
    assert "builtin" in tab.card(problem).locator(".ma-details").inner_text()
    page.wait_for_function("() => document.querySelector('#ma-history').innerText.includes('kept for replay')",
                           timeout=PAGE_TIMEOUT_MS)
    assert "delivered" in tab.history()

    # Showing the video in the browser delivered it (kept for the replay grace, then deleted).
    job = server.appliance.store.get_job(job_id)
    assert job.status is S.DELIVERED and job.video_key

    # A frame from the middle of the explanation makes a better picture than the first one.
    page.evaluate(
        "(job) => new Promise(done => { const v = document.querySelector(`article[data-job='${job}'] video`);"
        " v.pause(); v.addEventListener('seeked', done, {once: true}); v.currentTime = v.duration * 0.6; })",
        job_id)
    page.evaluate("() => window.scrollTo(0, 0)")
    tab.screenshot("web-desktop", "screenshot-web.png")

    # A reload keeps the list (the browser holds a signed key to its session) ...
    tab.open()
    page.wait_for_function(f"() => document.querySelector('#ma-history').innerText.includes({json.dumps(problem)})",
                           timeout=PAGE_TIMEOUT_MS)
    assert "kept for replay" in tab.history()
    # ... and a kept video plays again.
    page.click("#ma-replay input")
    page.get_by_role("option").filter(has_text="Find the derivative").first.click()
    again = tab.wait_video_plays(problem)
    assert video_key_of(server, job_id) in again["src"], again  # the job's own video
    tab.close()


# -- cancel ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("viewport", WIDTHS)
def test_cancel_says_what_it_did_and_a_cancelled_job_ends_cancelled(live_server, browser, viewport):
    server = start(live_server)
    tab = Page(browser, server, viewport)
    page = tab.page

    # Nothing is running: a sentence, not "[object Object]".
    page.click("#ma-cancel")
    tab.wait_message("Nothing is running to cancel.")
    assert "[object Object]" not in page.locator("body").inner_text()

    # A job cancelled while it renders: "Cancelling" at once, "Cancelled" once the job has stopped.
    rendering = "Expand (x + 2)^3"
    tab.submit(rendering)
    tab.wait_card(rendering, "card.dataset.status === 'rendering'", timeout=RENDER_TIMEOUT_MS)
    rendering_id = tab.card_state(rendering)["job"]
    page.click("#ma-cancel")
    tab.wait_card(rendering, "card.querySelector('.ma-status-line').textContent.startsWith('Cancelling')")
    assert "Nothing is running" not in tab.message()

    # Meanwhile a second problem waits in line (the one render slot is busy); its own button
    # cancels it, at once.
    waiting = "Factor x^2 + 7x + 12"
    tab.submit(waiting)
    tab.wait_card(waiting, "card.dataset.status === 'queued' && card.querySelector('.ma-job-cancel')")
    tab.card(waiting).locator(".ma-job-cancel").click()
    tab.wait_card(waiting, "card.dataset.kind === 'cancelled'")
    state = tab.card_state(waiting)
    assert state["line"] == "Cancelled.", state
    assert [s for _, s in state["steps"]] == ["failed", "todo", "todo", "todo", "todo", "todo"], state

    # The render runs to its end (the sandbox is not interrupted); then the job stops, and the
    # card says so without anything else being clicked.
    tab.wait_card(rendering, "card.dataset.kind !== 'running'", timeout=RENDER_TIMEOUT_MS)
    job = server.appliance.store.get_job(rendering_id)
    assert job.status is S.FAILED and job.failure_reason == "cancelled", job
    assert job.failed_step is S.RENDERING, job
    state = tab.card_state(rendering)
    assert state["line"] == "Cancelled.", state
    assert state["ticked"] == ["Queued", "Writing the scene", "Checking the code"], state
    assert dict(state["steps"])["Rendering"] == "failed", state
    assert state["video"] is None and not state["cancel"], state
    assert server.appliance.store.get_job(tab.card_state(waiting)["job"]).failure_reason == "cancelled"

    page.click("#ma-cancel")  # both have stopped
    tab.wait_message("Nothing is running to cancel.")
    page.wait_for_function("() => document.querySelector('#ma-history').innerText.includes('cancelled')",
                           timeout=PAGE_TIMEOUT_MS)
    tab.no_sideways_scroll()
    tab.close()


# -- a failed job, the limits, the contrast ------------------------------------------------------


@pytest.mark.parametrize("viewport", WIDTHS)
def test_a_refused_problem_shows_only_the_steps_it_reached_and_the_limits_are_said(live_server, browser,
                                                                                   viewport):
    server = start(live_server)
    tab = Page(browser, server, viewport)
    page = tab.page

    # The colours: every text on the page has WCAG AA contrast (4.5:1; 3:1 for large text),
    # the ones that had less (intro, placeholder, label chips, the Generate button) included.
    low = contrast_failures(page)
    assert low == [], low
    named = {r["label"]: r["ratio"] for r in page.evaluate(CONTRAST_JS)}
    for wanted in ("#ma-privacy", "placeholder", "Your math problem", "Generate video"):
        assert any(wanted in label for label in named), (wanted, sorted(named))
    assert min(ratio for label, ratio in named.items()
               if any(w in label for w in ("#ma-privacy", "placeholder", "Your math problem", "Generate video"))) >= AA

    # The built-in solver refuses a proof: the card fails at "Writing the scene", with the reason,
    # and nothing after that step is ticked.
    proof = "Prove that there are infinitely many primes"
    tab.submit(proof)
    tab.wait_card(proof, "card.dataset.kind === 'failed'", timeout=RENDER_TIMEOUT_MS)
    state = tab.card_state(proof)
    assert state["line"].startswith("Failed at “Writing the scene”"), state
    assert "does not write proofs" in state["line"], state
    assert state["ticked"] == ["Queued"], state
    assert [s for _, s in state["steps"]] == ["done", "failed", "todo", "todo", "todo", "todo"], state
    job = server.appliance.store.get_job(state["job"])
    assert job.status is S.FAILED and job.failed_step is S.AI_GENERATING
    assert page.locator("#ma-cards .ma-steps li.failed").first.inner_text().startswith("Writing the scene")

    # Longer than the appliance takes: the box keeps every character, the counter says it is over,
    # and the refusal names the limit. No job is made.
    too_long = ("Find the derivative of x^3 sin(x). " * 200)[:6000]
    page.fill("#ma-problem textarea", too_long)
    assert len(page.input_value("#ma-problem textarea")) == 6000  # not cut to 5000
    counter = page.locator("#ma-hint .ma-count")
    page.wait_for_function("() => document.querySelector('#ma-hint .ma-count').textContent.startsWith('6000 /')",
                           timeout=PAGE_TIMEOUT_MS)
    assert "ma-over" in (counter.get_attribute("class") or "")
    page.click("#ma-generate")
    tab.wait_message(f"at most {PROBLEM_MAX_CHARS} characters")
    assert "6000" in tab.message()

    # Longer than the built-in solver reads (no model is configured): refused before it is sent.
    builtin_long = ("Find the derivative of x^3 sin(x) please. " * 20)[:BUILTIN_MAX_CHARS + 100]
    tab.submit(builtin_long)
    tab.wait_message(f"at most {BUILTIN_MAX_CHARS} characters")
    assert len(jobs_of(server, state["job"])) == 1  # only the proof was ever a job

    # Cancel with nothing running says so.
    page.click("#ma-cancel")
    tab.wait_message("Nothing is running to cancel.")

    # The page after all that: still AA, with a failed card and a refusal on it.
    low = contrast_failures(page)
    assert low == [], low
    tab.no_sideways_scroll()
    tab.close()


def contrast_failures(page: Any) -> list[dict[str, Any]]:
    """Every text whose contrast with what is behind it is below WCAG AA (from computed styles)."""
    results = page.evaluate(CONTRAST_JS)
    assert len(results) > 20, results  # the check saw the page
    return [r for r in results if r["ratio"] < (AA_LARGE if r["large"] else AA)]


# -- two jobs at once, and a reload ---------------------------------------------------------------


@pytest.mark.parametrize("viewport", [pytest.param(PHONE, id="phone"), pytest.param(DESKTOP, id="desktop")])
def test_two_problems_at_once_each_end_with_their_own_video_and_survive_a_reload(live_server, browser,
                                                                                  viewport):
    server = start(live_server)
    tab = Page(browser, server, viewport)
    page = tab.page
    first, second = "Expand (x + 2)^3", "Factor x^2 + 7x + 12"

    tab.submit(first)
    tab.wait_card(first, "['ai_generating', 'code_validating', 'rendering'].includes(card.dataset.status)",
                  timeout=RENDER_TIMEOUT_MS)
    if viewport is not PHONE:
        page.click("#ma-voice input")  # the second one without a voice
        assert not page.locator("#ma-voice input").is_checked()
    tab.submit(second)  # while the first one runs
    tab.wait_card(second, "true")
    assert tab.card_state(first)["kind"] in ("running", "done"), tab.card_state(first)

    # The first one finishes while the second waits or runs: its card shows its own video.
    tab.wait_card(first, "card.dataset.kind !== 'running'", timeout=RENDER_TIMEOUT_MS)
    assert tab.card_state(first)["kind"] == "done", tab.card_state(first)
    first_video = tab.wait_video_plays(first)
    first_id = tab.card_state(first)["job"]
    assert video_key_of(server, first_id) in first_video["src"], first_video
    if viewport is PHONE:
        # Below the fold on a phone: the page brings the video into view when it is ready.
        page.wait_for_function(
            "(job) => { const r = document.querySelector(`article[data-job='${job}'] video`).getBoundingClientRect();"
            " return r.top >= -1 && r.bottom <= window.innerHeight + 1; }", arg=first_id, timeout=PAGE_TIMEOUT_MS)
    page.evaluate("(job) => document.querySelector(`article[data-job='${job}'] video`).pause()", first_id)

    tab.wait_card(second, "card.dataset.kind !== 'running'", timeout=RENDER_TIMEOUT_MS)
    assert tab.card_state(second)["kind"] == "done", tab.card_state(second)
    second_video = tab.wait_video_plays(second)
    second_id = tab.card_state(second)["job"]
    assert video_key_of(server, second_id) in second_video["src"] and second_id != first_id, second_video
    # The first card is still there, with its own video and answer: nothing was dropped.
    assert video_key_of(server, first_id) in tab.card_state(first)["video"]["src"]
    assert tab.card(second).locator(".ma-answer math").get_attribute("alttext") == "(x + 3)(x + 4)"
    assert tab.card(first).locator(".ma-answer math").count() == 1
    if viewport is PHONE:
        page.wait_for_function(
            "(job) => { const r = document.querySelector(`article[data-job='${job}'] video`).getBoundingClientRect();"
            " return r.top >= -1 && r.bottom <= window.innerHeight + 1; }", arg=second_id, timeout=PAGE_TIMEOUT_MS)
        tab.no_sideways_scroll()
        # Nothing is drawn over the video (its title is at the top of the frame): no label chip.
        covered = page.evaluate(
            "(job) => { const v = document.querySelector(`article[data-job='${job}'] video`);"
            " const r = v.getBoundingClientRect(); return [0.1, 0.5, 0.9].map((x) => document.elementFromPoint("
            "r.left + r.width * x, r.top + 4)).filter((e) => e !== v).map((e) => e.outerHTML.slice(0, 80)); }",
            second_id)
        assert covered == [], covered
        # A frame from the middle of the explanation makes a better picture than the first one.
        page.evaluate(
            "(job) => new Promise(done => { const v = document.querySelector(`article[data-job='${job}'] video`);"
            " v.pause(); v.addEventListener('seeked', done, {once: true}); v.currentTime = v.duration * 0.5; })",
            second_id)
        tab.screenshot("web-phone", "screenshot-web-phone.png")
    else:
        tab.screenshot("web-desktop-two")
    for job_id in (first_id, second_id):
        assert server.appliance.store.get_job(job_id).status is S.DELIVERED
    # The Voice box decided each job's sound: the first one speaks; unticked, the second is silent.
    voiced, unvoiced = server.appliance.store.get_job(first_id), server.appliance.store.get_job(second_id)
    assert voiced.voice and voiced.voice_engine == "espeak-ng", voiced
    if viewport is not PHONE:
        assert not unvoiced.voice and unvoiced.voice_engine == "none", unvoiced
        assert unvoiced.subtitles  # the captions are still there to read

    # After a reload both are listed, and both can be watched again.
    tab.open()
    for problem in (first, second):
        page.wait_for_function(f"() => document.querySelector('#ma-history').innerText.includes({json.dumps(problem)})",
                               timeout=PAGE_TIMEOUT_MS)
    assert tab.history().count("kept for replay") == 2
    page.click("#ma-replay input")
    assert page.get_by_role("option").count() == 2

    # Another browser (no key) sees none of it.
    stranger = Page(browser, server, viewport)
    assert "Nothing yet" in stranger.history()
    assert first not in stranger.history() and second not in stranger.history()
    stranger.close()
    tab.close()


def test_every_text_has_aa_contrast_in_dark_mode_too(live_server, browser):
    server = start(live_server)
    context = browser.new_context(viewport=DESKTOP, color_scheme="dark")
    tab = Page(browser, server, DESKTOP, context)
    assert tab.page.evaluate("() => document.body.classList.contains('dark')")  # Gradio follows the system
    assert contrast_failures(tab.page) == []
    proof = "Prove that there are infinitely many primes"
    tab.submit(proof)
    tab.wait_card(proof, "card.dataset.kind === 'failed'", timeout=RENDER_TIMEOUT_MS)
    tab.submit("2+2")
    tab.wait_message("too short")
    assert contrast_failures(tab.page) == []
    tab.close()
