"""The web page's parts without a browser: the answer drawn as MathML, the signed session key,
the steps a failed job reached, the refusals' sentences, and the page's handlers called as
Gradio calls them (a forged key brings back nothing). The browser test (test_web_ui.py) shows
the same things in Chromium; these say exactly which input gives which output.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from appliance.assemble import build_appliance
from appliance.errors import ProblemRejected
from appliance.fakes import ScriptedRenderer, ScriptedSource
from appliance.models import ProcessingJob, ProcessingStatus, normalize_problem_text
from appliance.service import Appliance, Channel
from frontends.web.app import PageState, _rejection_message, build_ui
from frontends.web.cards import JobView, card_html, reached_step, sentence, step_states
from frontends.web.math import answer_mathml
from frontends.web.session import SessionKeys
from tests.integration import server_fixtures

S = ProcessingStatus


# -- the answer as maths ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "wanted"), [
    ("f'(x) = x^3cos(x) + 3x^2sin(x)",
     "<mi>f</mi><mo>′</mo><mrow><mo>(</mo><mi>x</mi><mo>)</mo></mrow><mo>=</mo><msup><mi>x</mi><mn>3</mn></msup>"
     "<mi>cos</mi>"),
    ("A = 25π ≈ 78.54", "<mi>A</mi><mo>=</mo><mn>25</mn><mi>π</mi><mo>≈</mo><mn>78.54</mn>"),
    ("x = 2, x = 3", "<mi>x</mi><mo>=</mo><mn>2</mn><mo>,</mo><mi>x</mi><mo>=</mo><mn>3</mn>"),
    ("x ∈ (-∞, 2)", "<mo>∈</mo><mrow><mo>(</mo><mo>−</mo><mi>∞</mi><mo>,</mo><mn>2</mn><mo>)</mo></mrow>"),
    ("A = 28 cm²", '<msup><mi mathvariant="normal">cm</mi><mn>2</mn></msup>'),
    ("2x^2 - √2", "<mo>−</mo><msqrt><mn>2</mn></msqrt>"),
    ("x^(1/3)", "<msup><mi>x</mi><mrow><mn>1</mn><mo>/</mo><mn>3</mn></mrow></msup>"),
    (r"\frac{x^{2}}{2} + C", "<mfrac><mrow><msup><mi>x</mi><mrow><mn>2</mn></mrow></msup></mrow>"
                             "<mrow><mn>2</mn></mrow></mfrac><mo>+</mo><mi>C</mi>"),
    ("x = 2 or x = 3", "<mtext>\u2002or\u2002</mtext>"),
])
def test_an_answer_line_becomes_mathml(text: str, wanted: str) -> None:
    drawn = answer_mathml(text)
    assert drawn is not None and drawn.startswith('<math display="inline"'), drawn
    assert wanted in drawn, drawn
    assert "^" not in drawn.split(">", 1)[1]  # no caret is left in what is drawn (only in alttext)


@pytest.mark.parametrize("text", ["The hypotenuse is 10", "Does not exist", "((x + 1)", "x + 1)", "", "x" * 400])
def test_a_sentence_or_broken_maths_stays_text(text: str) -> None:
    assert answer_mathml(text) is None


def test_answer_text_is_escaped_everywhere() -> None:
    drawn = answer_mathml("x < 4, y > 2")
    assert drawn is not None and "<mo>&lt;</mo>" in drawn and "<mo>&gt;</mo>" in drawn, drawn
    job = ProcessingJob.new(str(uuid.uuid4()), 'Solve "<b>x</b>" + 1 = 2 & more')
    job.answer_text = 'x = 4 <script>alert("1")</script>'  # a model's words: not maths, shown as text
    card = card_html(JobView(job))
    assert "<script" not in card and "&lt;script&gt;" in card and "<b>" not in card, card


def test_the_steps_show_their_formulas_as_maths() -> None:
    job = ProcessingJob.new(str(uuid.uuid4()), "Find the derivative of x^3 sin(x)")
    job.status = S.READY
    job.steps = ["Differentiate u. Power rule: bring the exponent down: u' = 3x^2", "x = 4",
                 "Check: the <b>sum</b> is right"]
    card = card_html(JobView(job))
    first, second, third = card.split('<div class="ma-solution">', 1)[1].split("<li>")[1:4]
    # The words stay text (colons inside them too); the formula after the last colon is maths.
    assert first.startswith("Differentiate u. Power rule: bring the exponent down: <math"), first
    assert "<msup><mi>x</mi><mn>2</mn></msup>" in first and "^" not in first.split(">", 1)[1].split('alttext')[0]
    assert second.startswith("<math") and "<mn>4</mn>" in second, second
    assert "<b>" not in third and "&lt;b&gt;" in third and "<math" not in third, third  # words, escaped

def test_a_ready_card_says_what_the_layout_gate_found() -> None:
    job = ProcessingJob.new(str(uuid.uuid4()), "Plot y = x^2 - 4x + 3")
    job.status = S.READY
    assert "Layout" not in card_html(JobView(job))  # not checked (an older job): nothing claimed
    job.layout_errors, job.layout_warnings = 0, 0
    assert "Layout: checked, no issues." in card_html(JobView(job))
    job.layout_errors, job.layout_warnings = 1, 2
    job.layout_issues = [{"kind": "overlap", "severity": "error", "time_s": 4.25, "objects": ["Tex \"(1, 0)\""],
                          "detail": 'Tex "(1, 0)" overlaps <MathTex "1">'}]
    card = card_html(JobView(job))
    assert "Layout: checked, 1 error and 2 warnings found." in card, card
    assert "at 4.2 s: Tex &quot;(1, 0)&quot; overlaps &lt;MathTex" in card, card  # the checker's words, escaped
    job.status = S.RENDERING
    assert "Layout" not in card_html(JobView(job))  # a video not made yet has no verdict


# -- the session key -----------------------------------------------------------------------------------


def test_the_session_key_is_signed_and_nothing_else_is_taken() -> None:
    keys = SessionKeys(b"k" * 32)
    session_id = str(uuid.uuid4())
    token = keys.sign(session_id)
    assert keys.verify(token) == session_id
    other = str(uuid.uuid4())
    forged = [
        session_id,  # an unsigned id
        f"{other}.{token.split('.', 1)[1]}",  # another session with this one's signature
        token[:-1] + ("0" if token[-1] != "0" else "1"),  # one character changed
        SessionKeys(b"x" * 32).sign(session_id),  # signed by another server
        "not-a-uuid." + token.split(".", 1)[1], "", None, 42, token + "." * 300,
    ]
    for value in forged:
        assert keys.verify(value) is None, value
    # What the browser stores says nothing about the signing key.
    assert keys.storage_secret not in token and len(keys.storage_secret) == 32


# -- a job's steps ---------------------------------------------------------------------------------------


def failed_job(step: S | None, **fields: Any) -> ProcessingJob:
    job = ProcessingJob.new(str(uuid.uuid4()), "Prove that there are infinitely many primes")
    job.status, job.failed_step, job.status_message = S.FAILED, step, "The built-in solver does not write proofs."
    for name, value in fields.items():
        setattr(job, name, value)
    return job


def test_a_failed_job_ticks_only_the_steps_it_reached() -> None:
    writing = failed_job(S.AI_GENERATING, failure_reason="unsupported_problem")
    assert step_states(writing) == ["done", "failed", "todo", "todo", "todo", "todo"]
    assert sentence(JobView(writing)) == "Failed at “Writing the scene”: The built-in solver does not write proofs."
    card = card_html(JobView(writing))
    assert card.count('data-state="done"') == 1 and card.count('data-state="failed"') == 1
    assert "<video" not in card and "Cancel this video" not in card

    rendering = failed_job(S.RENDERING, failure_reason="render_timeout", manim_code="x = 1")
    assert step_states(rendering) == ["done", "done", "done", "failed", "todo", "todo"]
    cancelled = failed_job(S.QUEUED, failure_reason="cancelled")
    assert step_states(cancelled) == ["failed", "todo", "todo", "todo", "todo", "todo"]
    assert sentence(JobView(cancelled)) == "Cancelled."
    # A job failed before the store recorded the step: the furthest its fields prove.
    assert reached_step(failed_job(None)) is S.QUEUED
    assert reached_step(failed_job(None, started_at=writing.created_at)) is S.AI_GENERATING
    assert reached_step(failed_job(None, started_at=writing.created_at, manim_code="x")) is S.RENDERING

    running = ProcessingJob.new(str(uuid.uuid4()), "Expand (x + 2)^3")
    running.status = S.RENDERING
    assert step_states(running) == ["done", "done", "done", "now", "todo", "todo"]
    running.cancel_requested = True
    assert sentence(JobView(running)).startswith("Cancelling")


def test_the_refusals_say_the_limit_and_the_count() -> None:
    with pytest.raises(ProblemRejected) as too_long:
        normalize_problem_text("x" * 6000)
    assert _rejection_message(too_long.value) == (
        "That is too long: at most 5000 characters are allowed (got 6000). Nothing was cut; please shorten it.")
    with pytest.raises(ProblemRejected) as too_short:
        normalize_problem_text("2+2")
    assert _rejection_message(too_short.value).startswith("That is too short: at least 10 characters are needed")


# -- the page's handlers, as Gradio calls them --------------------------------------------------------


def handler(blocks: Any, name: str) -> Any:
    return next(fn.fn for fn in blocks.fns.values() if fn.name == name)


def visitor(tab: str) -> Any:
    return SimpleNamespace(headers={}, client=None, session_hash=tab)


async def first(updates: AsyncIterator[Any]) -> Any:
    update = await anext(updates)
    await updates.aclose()
    return update


def values_by_id(blocks: Any, update: dict[Any, Any]) -> dict[str, Any]:
    return {getattr(block, "elem_id", None) or type(block).__name__: value for block, value in update.items()}


@pytest.fixture
async def appliance(tmp_path: Path) -> AsyncIterator[tuple[Appliance, Any]]:
    settings = server_fixtures.make_settings(tmp_path / "data", 7860)
    built = build_appliance(settings, source=ScriptedSource(), renderer=ScriptedRenderer(), run_workers=False,
                            run_maintenance=False)
    try:
        yield built, settings
    finally:
        await built.stop()


async def test_a_reload_brings_back_the_list_for_a_signed_key_and_nothing_for_a_forged_one(appliance) -> None:
    app, settings = appliance
    blocks = build_ui(app, settings)
    generate, restore = handler(blocks, "generate"), handler(blocks, "restore")

    # A first visit: the submission files the job under a new session and hands back its key.
    page = PageState()
    update = values_by_id(blocks, await first(generate("Factor x^2 + 7x + 12", None, visitor("tab1"), page)))
    token = update["BrowserState"]
    assert isinstance(token, str) and "." in token
    assert "Factor x^2 + 7x + 12" in update["ma-history"] and "in line" in update["ma-cards"]
    job_id = page.job_ids[0]

    # The reloaded page (a new Gradio session) with that key: the list and the running job's card.
    reloaded = PageState()
    again = values_by_id(blocks, await restore(token, reloaded, visitor("tab2")))
    assert "Factor x^2 + 7x + 12" in again["ma-history"] and reloaded.job_ids == [job_id]
    assert job_id in again["ma-cards"] and "BrowserState" not in again  # the key stays

    # The same session id without this server's signature: nothing, and the key is dropped.
    session_id = token.split(".", 1)[0]
    for forged in (session_id, f"{session_id}.{'0' * 64}", SessionKeys(b"y" * 32).sign(session_id)):
        stranger = PageState()
        shown = values_by_id(blocks, await restore(forged, stranger, visitor("tab3")))
        assert "Factor" not in shown["ma-history"] and "Nothing yet" in shown["ma-history"], forged
        assert stranger.job_ids == [] and job_id not in shown["ma-cards"]
        assert shown["BrowserState"] is None

    # Nor does a forged key file a job under that session.
    forged_page = PageState()
    await first(generate("Expand (x + 2)^3", session_id, visitor("tab4"), forged_page))
    assert app.store.get_job(forged_page.job_ids[0]).session_id != session_id


async def test_every_answer_of_the_page_gives_its_html_parts_whole_values(appliance) -> None:
    # Gradio 6 turns a value-less update of a gr.HTML into its props, and the component then stops
    # showing what it is sent: the message line, the cards and the list always get a full value.
    app, settings = appliance
    blocks = build_ui(app, settings)
    generate, cancel = handler(blocks, "generate"), handler(blocks, "cancel")
    page = PageState()
    for problem in ("2+2", "x" * 6000, "Factor x^2 + 7x + 12"):
        update = values_by_id(blocks, await first(generate(problem, None, visitor("tab"), page)))
        for part in ("ma-status", "ma-cards", "ma-history"):
            assert isinstance(update[part], str), (problem, part, update[part])
    said = values_by_id(blocks, await cancel(None, PageState()))
    assert isinstance(said["ma-status"], str) and "Nothing is running to cancel." in said["ma-status"]
    session = await app.create_session(Channel.web())
    assert session.session_id  # the store works without the render slots


def visitor_from(address: str, tab: str) -> Any:
    return SimpleNamespace(headers={}, client=SimpleNamespace(host=address), session_hash=tab)


async def test_one_address_keeps_at_most_its_share_of_pages_following(tmp_path: Path) -> None:
    """Followers take no concurrency slot (they only wait), so each address gets a bounded number
    of them (APPLIANCE_MAX_STREAMS_PER_CLIENT): one client opening page after page cannot hold
    the server's followers and connections."""
    settings = server_fixtures.make_settings(tmp_path / "data", 7860, max_streams_per_client=3)
    app = build_appliance(settings, source=ScriptedSource(), renderer=ScriptedRenderer(), run_workers=False,
                          run_maintenance=False)
    try:
        blocks = build_ui(app, settings)
        follow = handler(blocks, "follow")
        held = []
        for number in range(3):
            updates = follow(PageState(), visitor_from("203.0.113.7", f"tab{number}"))
            await anext(updates)  # drawing its page, and now waiting for changes
            held.append(updates)
        extra = follow(PageState(), visitor_from("203.0.113.7", "tab-extra"))
        with pytest.raises(StopAsyncIteration):
            await anext(extra)  # refused: ends at once
        other = follow(PageState(), visitor_from("198.51.100.9", "tab-other"))
        await anext(other)  # another address is not affected
        await other.aclose()
        await held.pop().aclose()  # a page closes: its place is free again
        again = follow(PageState(), visitor_from("203.0.113.7", "tab-again"))
        await anext(again)
        await again.aclose()
        for updates in held:
            await updates.aclose()
    finally:
        await app.stop()
