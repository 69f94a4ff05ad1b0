"""The web UI in a real headless Chromium against the real appliance (built-in solver, Docker
sandbox at quality "low"), all on 127.0.0.1.

Open the page, try an invalid problem, type a real one, press Generate, watch the status line
move through the job's states, and see a ``<video>`` whose source really plays (readyState and
duration read from the page), with the scene code and the verified answer filled in.
Screenshots at laptop and phone widths go to artifacts/ (and the desktop one to docs/ for the
README).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from appliance.models import ProcessingStatus
from tests.integration import server_fixtures

pytestmark = pytest.mark.docker
live_server = server_fixtures.live_server  # the fixture, for the tests below

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
FINAL = {"ready", "delivered", "failed", "expired"}


@pytest.fixture
def browser() -> Any:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _status(page: Any) -> tuple[str, str]:
    element = page.locator("#ma-status .ma-status")
    return element.get_attribute("data-status") or "", element.inner_text()


def test_a_visitor_gets_a_playing_video(live_server, browser):
    server = live_server(render_quality="low", render_slots=1, maintenance_interval_s=3600)
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport=DESKTOP)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base_url)
    page = context.new_page()
    off_host: list[str] = []
    page.on("request", lambda request: off_host.append(request.url)
            if urlsplit(request.url).hostname not in ("127.0.0.1", None) and request.url.startswith("http")
            else None)
    page.goto(server.url("/"))
    page.wait_for_selector("#ma-problem textarea", timeout=60_000)
    assert "Manim Appliance" in page.title()
    assert "deleted" in page.locator("#ma-privacy").inner_text()

    # An invalid problem is refused with a clear message, and nothing is queued.
    page.fill("#ma-problem textarea", "2+2")
    page.click("#ma-generate")
    page.wait_for_selector("#ma-status .ma-refused", timeout=30_000)
    assert "too short" in _status(page)[1]
    assert server.appliance.store.queue_length() == 0

    # Every status the line shows is recorded in the page, however briefly it is shown.
    page.evaluate(
        "() => { window.seenStatuses = []; const box = document.querySelector('#ma-status');"
        " const note = () => { const el = box.querySelector('.ma-status');"
        " const s = el && el.getAttribute('data-status');"
        " if (s && window.seenStatuses[window.seenStatuses.length - 1] !== s) window.seenStatuses.push(s); };"
        " new MutationObserver(note).observe(box, {subtree: true, childList: true, attributes: true,"
        " characterData: true}); }"
    )
    page.fill("#ma-problem textarea", "Solve 2x + 3 = 11")
    page.click("#ma-generate")
    page.wait_for_function(
        "() => { const el = document.querySelector('#ma-status .ma-status');"
        f" return el && {sorted(FINAL)!r}.includes(el.getAttribute('data-status')); }}",
        timeout=240_000,
    )
    seen = page.evaluate("() => window.seenStatuses")
    assert seen[-1] in ("ready", "delivered"), (seen, _status(page)[1])
    moving = [s for s in seen if s in {p.value for p in ProcessingStatus}]
    assert len(moving) >= 3 and "rendering" in moving, seen  # the line followed the job

    # The <video> gets the signed URL and really plays it: data for the current frame, a duration.
    page.wait_for_function(
        "() => { const v = document.querySelector('#ma-video video');"
        " return v && v.readyState >= 2 && v.duration > 0; }",
        timeout=60_000,
    )
    video = page.evaluate(
        "() => { const v = document.querySelector('#ma-video video');"
        " return {src: v.currentSrc, readyState: v.readyState, duration: v.duration,"
        " width: v.videoWidth}; }"
    )
    assert video["src"].startswith(server.base_url + "/videos/"), video
    assert video["readyState"] >= 2 and video["duration"] > 0 and video["width"] > 0, video

    # The code panel holds the job's whole scene, and its copy button copies it.
    job_id = urlsplit(video["src"]).path.rsplit("/", 1)[1][:36]
    job = server.appliance.store.get_job(job_id)
    page.click("#ma-code button[aria-label='Copy']")
    page.wait_for_function("async () => (await navigator.clipboard.readText()).length > 0", timeout=10_000)
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied.strip() == (job.manim_code or "").strip() and f"class {job.scene_name}(" in copied
    answer = page.locator("#ma-answer").inner_text()
    assert "Answer" in answer and "4" in answer
    assert "builtin" in page.locator("#ma-details").inner_text()
    assert "delivered" in page.locator("#ma-history").inner_text()
    assert "kept for replay" in page.locator("#ma-history").inner_text()

    # Showing the video in the browser delivered it (kept for the replay grace, then deleted).
    job = server.appliance.store.get_job(job_id)
    assert job.status is ProcessingStatus.DELIVERED and job.video_key

    # A frame from the middle of the explanation makes a better picture than the first one.
    page.evaluate(
        "() => new Promise(done => { const v = document.querySelector('#ma-video video'); v.pause();"
        " v.addEventListener('seeked', done, {once: true}); v.currentTime = v.duration * 0.6; })"
    )
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "web-desktop.png"))
    page.screenshot(path=str(ARTIFACTS / "web-desktop-full.png"), full_page=True)
    if os.environ.get("APPLIANCE_UPDATE_SCREENSHOTS") == "1":
        # The README's picture is refreshed on request only: a test run leaves the checkout as it was.
        shutil.copyfile(ARTIFACTS / "web-desktop.png", REPO_ROOT / "docs" / "screenshot-web.png")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(500)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width} px)"
    page.evaluate("() => document.querySelector('#ma-status').scrollIntoView()")  # status, answer, video
    page.screenshot(path=str(ARTIFACTS / "web-phone.png"))
    page.screenshot(path=str(ARTIFACTS / "web-phone-full.png"), full_page=True)

    # While the video is kept, this session can watch it again.
    page.click("#ma-replay input")
    page.get_by_role("option").filter(has_text="Solve 2x + 3 = 11").first.click()
    page.wait_for_function("() => document.querySelector('#ma-status').innerText.includes('Replaying')",
                           timeout=30_000)
    assert job_id in page.evaluate("() => document.querySelector('#ma-video video').currentSrc")

    assert off_host == [], f"the page fetched from other hosts: {off_host}"
