"""The provider chain and the Generator against real OpenAI-compatible HTTP endpoints on loopback.

Every model call here goes through litellm's real HTTP path to an ``OpenAIStub``
(tests/integration/openai_stub.py) that replays recorded-style replies: scene
code from the real-world corpus (../shared/corpus/llm-scenes.jsonl) wrapped in
the markdown chatter models add. Validation and the built-in solver are the
real ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.config import MANIM_VERSION, Settings
from appliance.errors import AllProvidersFailed, CodeRejected
from appliance.generation.generator import GeneratedCodeRejected, Generator, RepairFeedback
from appliance.generation.llm import ChainExhausted, ModelRoute, ProviderChain
from tests.corpus import corpus_rows
from tests.integration.openai_stub import OpenAIStub, unused_port_url

LINEAR_PROBLEM = "Solve 2x + 3 = 11"
UNSUPPORTED_PROBLEM = "Prove that there are infinitely many primes, in the style of Euclid."

pytestmark = [
    pytest.mark.timeout(60),
    # litellm silences pydantic's ReadOnly notes when it is imported (litellm/_process_defaults.py),
    # but pytest resets warning filters for each test: once an earlier test has imported litellm,
    # the first real call here would show them.
    pytest.mark.filterwarnings("ignore:.*`ReadOnly` qualifier.*:UserWarning"),
]


# -- fixtures ----------------------------------------------------------------------------------


def _plain_corpus_scenes() -> list[str]:
    """Corpus scenes that need nothing beyond manim and numpy (the ones a live model would send)."""
    scenes = []
    for row in corpus_rows():
        code = row["code"]
        foreign_import = re.search(r"^\s*(?:import|from)\s+(?!manim\b|numpy\b|math\b)", code, re.M)
        if "self.play(" in code and "MathTex" in code and not foreign_import:
            scenes.append(code)
    return scenes


@pytest.fixture(scope="module")
def corpus_scenes() -> list[str]:
    """Plain corpus scenes that the real validation accepts (with its repairs), in corpus order."""
    from appliance.validation import validate_and_repair

    accepted = []
    for code in _plain_corpus_scenes():
        try:
            validate_and_repair(code)
        except CodeRejected:
            continue
        accepted.append(code)
    if len(accepted) < 3:
        pytest.fail(f"only {len(accepted)} plain corpus scenes pass validation; the tests need 3")
    return accepted


def model_reply(code: str, answer: str | None, steps: tuple[str, ...] = ("Subtract 3.", "Divide by 2.")) -> str:
    """A reply the way models write them: chatter, the requested parts, a fenced block, more chatter."""
    numbered = "\n".join(f"{i}. {step}" for i, step in enumerate(steps, 1))
    answer_line = f"**ANSWER:** {answer}\n\n" if answer is not None else ""
    return (
        "Sure! Let's work through this problem step by step and animate it.\n\n"
        f"**STEPS:**\n{numbered}\n\n{answer_line}"
        f"```python\n{code.strip()}\n```\n\n"
        "This scene writes each step, then highlights the final result. Let me know if you want changes!"
    )


@pytest.fixture
def stub_a() -> Iterator[OpenAIStub]:
    with OpenAIStub(model_name="model-a") as stub:
        yield stub


@pytest.fixture
def stub_b() -> Iterator[OpenAIStub]:
    with OpenAIStub(model_name="model-b") as stub:
        yield stub


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"llm_timeout_s": 5.0, "llm_retries": 1}
    values.update(overrides)
    return Settings.from_env({}, data_dir=tmp_path, **values)


def two_stub_chain(settings: Settings, a: OpenAIStub | str, b: OpenAIStub | str) -> ProviderChain:
    """openai/model-a at stub A, then groq/llama-3.3-70b-versatile at stub B (litellm's groq path)."""
    base_a = a.base_url if isinstance(a, OpenAIStub) else a
    base_b = b.base_url if isinstance(b, OpenAIStub) else b
    routes = [
        ModelRoute("openai/model-a", "openai", base_a, "sk-test-a-123456"),
        ModelRoute("groq/llama-3.3-70b-versatile", "groq", base_b, "gsk-test-b-123456"),
    ]
    return ProviderChain(settings, routes=routes, retry_backoff_s=0.05)


MESSAGES = [{"role": "system", "content": "You write Manim scenes."}, {"role": "user", "content": "Solve 2x = 4"}]


# -- the chain -----------------------------------------------------------------------------


def test_the_configured_endpoint_receives_the_prompt_key_and_parameters(
    tmp_path: Path, stub_a: OpenAIStub, corpus_scenes: list[str]
) -> None:
    env = {
        "OPENAI_API_BASE": stub_a.base_url,
        "OPENAI_API_KEY": "sk-test-configured-123456",
        "APPLIANCE_LLM_MODELS": "openai/model-a",
        "APPLIANCE_LLM_TEMPERATURE": "0.3",
    }
    settings = Settings.from_env(env, data_dir=tmp_path)
    stub_a.queue_reply(model_reply(corpus_scenes[0], "unverifiable here"))
    scene = Generator(settings).generate("Explain the sum of the first n numbers", "en")

    (request,) = stub_a.requests
    assert request.authorization == "Bearer sk-test-configured-123456"
    assert request.model == "model-a"
    assert request.body["temperature"] == 0.3
    assert request.body["max_tokens"] >= 2048
    assert f"Manim Community v{MANIM_VERSION}" in request.message_text("system")
    assert "Explain the sum of the first n numbers" in request.message_text("user")
    assert (scene.provider, scene.model, scene.answer_check) == ("openai", "openai/model-a", "unverifiable")
    assert "class GenScene(Scene)" in scene.code


@pytest.mark.parametrize("status", [500, 429, 503])
def test_a_failing_first_provider_is_retried_once_then_the_second_answers(
    tmp_path: Path, stub_a: OpenAIStub, stub_b: OpenAIStub, status: int
) -> None:
    stub_a.queue_error(status)
    stub_a.queue_error(status)
    stub_b.queue_reply("ANSWER: 2")
    reply = two_stub_chain(make_settings(tmp_path), stub_a, stub_b).complete(MESSAGES)

    assert (reply.provider, reply.model, reply.text) == ("groq", "groq/llama-3.3-70b-versatile", "ANSWER: 2")
    assert len(stub_a.requests) == 2  # one call and exactly one retry (llm_retries=1)
    assert len(stub_b.requests) == 1
    (error,) = reply.errors
    assert error.startswith("openai (openai/model-a): ")
    assert f"HTTP {status}" in error


def test_a_rate_limit_that_clears_is_absorbed_by_the_retry(
    tmp_path: Path, stub_a: OpenAIStub, stub_b: OpenAIStub
) -> None:
    stub_a.queue_error(429, headers={"Retry-After": "0"})
    stub_a.queue_reply("ANSWER: 2")
    reply = two_stub_chain(make_settings(tmp_path), stub_a, stub_b).complete(MESSAGES)
    assert (reply.provider, reply.errors) == ("openai", [])
    assert len(stub_a.requests) == 2
    assert stub_b.requests == []


def test_a_refused_key_is_not_retried_and_is_not_repeated_in_the_error(
    tmp_path: Path, stub_a: OpenAIStub, stub_b: OpenAIStub
) -> None:
    settings = make_settings(tmp_path, openai_api_key="sk-test-a-123456")
    stub_a.queue_error(401, {"error": {"message": "Incorrect API key provided: sk-test-a-123456", "type": "x"}})
    stub_b.queue_reply("ANSWER: 2")
    reply = two_stub_chain(settings, stub_a, stub_b).complete(MESSAGES)
    assert reply.provider == "groq"
    assert len(stub_a.requests) == 1
    (error,) = reply.errors
    assert "HTTP 401" in error
    assert "sk-test-a-123456" not in error


def test_a_provider_slower_than_the_timeout_is_abandoned_for_the_next(
    tmp_path: Path, stub_a: OpenAIStub, stub_b: OpenAIStub
) -> None:
    # Provider A answers only after far longer than any client default (the stub drops the
    # connection when it stops), so a reply from B means A's 0.5 s timeout really fired.
    stub_a.queue_reply("ANSWER: too late", delay_s=600)
    stub_b.queue_reply("ANSWER: 2")
    settings = make_settings(tmp_path, llm_timeout_s=0.5, llm_retries=0)
    reply = two_stub_chain(settings, stub_a, stub_b).complete(MESSAGES)

    assert reply.provider == "groq"
    assert reply.errors == ["openai (openai/model-a): timed out after 0.5 s"]
    assert len(stub_a.requests) == 1 and len(stub_b.requests) == 1


def test_an_empty_reply_moves_on(tmp_path: Path, stub_a: OpenAIStub, stub_b: OpenAIStub) -> None:
    stub_a.queue_reply("")
    stub_b.queue_reply("ANSWER: 2")
    reply = two_stub_chain(make_settings(tmp_path), stub_a, stub_b).complete(MESSAGES)
    assert reply.provider == "groq"
    assert reply.errors == ["openai (openai/model-a): the reply was empty"]


def test_every_provider_down_raises_with_each_reason(tmp_path: Path, stub_a: OpenAIStub) -> None:
    stub_a.queue_error(503)
    stub_a.queue_error(503)
    chain = two_stub_chain(make_settings(tmp_path), stub_a, unused_port_url())
    with pytest.raises(ChainExhausted) as caught:
        chain.complete(MESSAGES)
    first, second = caught.value.failures
    assert "openai (openai/model-a): server error (HTTP 503)" in first
    assert second.startswith("groq (groq/llama-3.3-70b-versatile): could not connect")
    assert isinstance(caught.value, AllProvidersFailed)


# -- the Generator over HTTP ---------------------------------------------------------------


def test_broken_code_then_fixed_code_across_the_repair_loop(
    tmp_path: Path, stub_a: OpenAIStub, stub_b: OpenAIStub, corpus_scenes: list[str]
) -> None:
    broken = corpus_scenes[1].replace("from manim import *", "from manim import *\nimport subprocess", 1)
    fixed = corpus_scenes[1]
    stub_a.queue_reply(model_reply(broken, "see the scene"))
    stub_a.queue_reply(model_reply(fixed, "see the scene"))
    settings = make_settings(tmp_path)
    generator = Generator(settings, two_stub_chain(settings, stub_a, stub_b))

    with pytest.raises(GeneratedCodeRejected) as caught:
        generator.generate("Show the binomial theorem", "en")
    rejected = caught.value
    assert "subprocess" in rejected.reason
    assert "import subprocess" in rejected.code
    assert "Sure!" not in rejected.code  # the code, not the chatter, goes back to the model

    # The pipeline's next attempt: the same problem with the refusal as feedback.
    scene = generator.generate(
        "Show the binomial theorem", "en", RepairFeedback(rejected.code, rejected.reason, "validation")
    )
    repair_request = stub_a.requests[1].message_text("user")
    assert rejected.reason in repair_request
    assert "import subprocess" in repair_request
    assert "Show the binomial theorem" in repair_request
    assert "import subprocess" not in scene.code
    assert scene.provider == "openai"
    assert stub_b.requests == []


def test_a_render_error_goes_back_to_the_model_verbatim(
    tmp_path: Path, stub_a: OpenAIStub, stub_b: OpenAIStub, corpus_scenes: list[str]
) -> None:
    stderr_tail = (
        'File "/work/scene.py", line 9, in construct\n'
        "    self.play(Write(step2))\n"
        "ValueError: latex error converting to dvi. See log output above or the log file: media/Tex/9f2a.log"
    )
    stub_a.queue_reply(model_reply(corpus_scenes[2], "see the scene"))
    settings = make_settings(tmp_path)
    generator = Generator(settings, two_stub_chain(settings, stub_a, stub_b))
    generator.generate("Show Newton's second law", "en", RepairFeedback(corpus_scenes[0], stderr_tail, "render"))
    request = stub_a.requests[0].message_text("user")
    assert stderr_tail in request
    assert corpus_scenes[0].strip() in request


def test_a_right_answer_is_verified_with_one_call(
    tmp_path: Path, stub_a: OpenAIStub, stub_b: OpenAIStub, corpus_scenes: list[str]
) -> None:
    stub_a.queue_reply(model_reply(corpus_scenes[0], "x = 4"))
    settings = make_settings(tmp_path)
    scene = Generator(settings, two_stub_chain(settings, stub_a, stub_b)).generate(LINEAR_PROBLEM, "en")
    assert (scene.provider, scene.answer_text, scene.answer_check) == ("openai", "x = 4", "verified")
    assert scene.steps == ["Subtract 3.", "Divide by 2."]
    assert len(stub_a.requests) == 1


def test_a_wrong_answer_is_corrected_with_sympys_value(
    tmp_path: Path, stub_a: OpenAIStub, stub_b: OpenAIStub, corpus_scenes: list[str]
) -> None:
    stub_a.queue_reply(model_reply(corpus_scenes[0], "x = 7"))
    stub_a.queue_reply(model_reply(corpus_scenes[1], "x = 4"))
    settings = make_settings(tmp_path)
    scene = Generator(settings, two_stub_chain(settings, stub_a, stub_b)).generate(LINEAR_PROBLEM, "en")

    assert len(stub_a.requests) == 2
    correction = stub_a.requests[1].message_text("user")
    assert re.search(r"x\s*=\s*4", correction)
    assert "SymPy" in correction
    assert (scene.provider, scene.answer_text, scene.answer_check) == ("openai", "x = 4", "corrected")
    assert any("'x = 7'" in error for error in scene.errors)


def test_a_stubbornly_wrong_answer_is_replaced_by_the_builtin_scene(
    tmp_path: Path, stub_a: OpenAIStub, stub_b: OpenAIStub, corpus_scenes: list[str]
) -> None:
    stub_a.queue_reply(model_reply(corpus_scenes[0], "x = 7"))
    stub_a.queue_reply(model_reply(corpus_scenes[0], "x = 7"))
    settings = make_settings(tmp_path)
    scene = Generator(settings, two_stub_chain(settings, stub_a, stub_b)).generate(LINEAR_PROBLEM, "en")

    assert (scene.provider, scene.answer_check) == ("builtin", "corrected")
    assert re.search(r"x\s*=\s*4", scene.answer_text or "")
    assert "GenScene" not in scene.code  # none of the model's scene survives


def test_all_providers_down_falls_back_to_the_builtin_solver(tmp_path: Path, stub_a: OpenAIStub) -> None:
    stub_a.queue_error(500)
    stub_a.queue_error(500)
    settings = make_settings(tmp_path)
    generator = Generator(settings, two_stub_chain(settings, stub_a, unused_port_url()))
    scene = generator.generate(LINEAR_PROBLEM, "en")

    assert (scene.provider, scene.answer_check) == ("builtin", "verified")
    assert re.search(r"x\s*=\s*4", scene.answer_text or "")
    assert len(scene.errors) == 2
    assert "could not connect" in scene.errors[1]


def test_all_providers_down_and_an_unsupported_problem_explains_both(tmp_path: Path, stub_a: OpenAIStub) -> None:
    stub_a.queue_error(500)
    stub_a.queue_error(500)
    settings = make_settings(tmp_path)
    generator = Generator(settings, two_stub_chain(settings, stub_a, unused_port_url()))
    with pytest.raises(AllProvidersFailed) as caught:
        generator.generate(UNSUPPORTED_PROBLEM, "en")
    # The person's sentence says what happened; each provider's own error is kept beside it.
    assert str(caught.value).startswith("No language model could answer right now, and the built-in solver "
                                        "does not handle this kind of problem yet")
    first, second = caught.value.failures
    assert "server error (HTTP 500)" in first
    assert "could not connect" in second


def test_a_providers_error_text_reaches_the_record_but_never_the_person(tmp_path: Path, stub_a: OpenAIStub) -> None:
    """A provider's error can name the operator's internal hosts: the job's status_message (what
    the API, the web page and the bot show) gets a sentence, the job's ai_error and last_error
    (the operator's) get the text."""
    from appliance.fakes import DirectoryStorage
    from appliance.metrics import Metrics
    from appliance.models import ProcessingJob, UserSession
    from appliance.pipeline import Pipeline
    from appliance.store import Store
    from tests.unit.fakes import FakeSandbox

    internal = "upstream llm-gateway.corp.internal:8443 (10.20.30.40) refused the request"
    for _ in range(2):
        stub_a.queue_error(502, {"error": {"message": internal, "type": "server_error"}})
    settings = make_settings(tmp_path)
    generator = Generator(settings, two_stub_chain(settings, stub_a, unused_port_url()))
    store = Store(tmp_path / "store")
    try:
        pipeline = Pipeline(settings, store, generator, FakeSandbox(), DirectoryStorage(tmp_path / "videos"),
                            Metrics(), lambda job: None, prelude="")
        session = store.create_session(UserSession.new(channel="api"))
        job_id = store.create_job(ProcessingJob.new(session.session_id, UNSUPPORTED_PROBLEM, quality="low"),
                                  max_active=10).job_id
        job = pipeline.run(job_id)
    finally:
        store.close()
    assert job.status.value == "failed" and job.failure_reason == "generation_failed"
    for leak in ("corp.internal", "10.20.30.40", "127.0.0.1", "HTTP 502", "could not connect"):
        assert leak not in (job.status_message or ""), job.status_message
    assert job.status_message and "No language model could answer right now" in job.status_message
    assert "llm-gateway.corp.internal" in (job.ai_error or "") and "llm-gateway.corp.internal" in (job.last_error or "")
