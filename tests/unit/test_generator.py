"""The Generator's decisions: which scene it returns, with which answer check, and what it raises.

The model chain is a scripted stand-in (the real one is exercised over HTTP in
tests/integration/test_llm_chain.py); validation and the built-in solver are
the real ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from appliance.config import Settings
from appliance.errors import AllProvidersFailed, CodeRejected, UnsupportedProblem
from appliance.generation import builtin
from appliance.generation.generator import GeneratedCodeRejected, Generator, RepairFeedback
from appliance.generation.llm import ChainExhausted, ChainReply, ProviderChain


class ScriptedChain(ProviderChain):
    """Answers from a script: each item is a reply text, or a list of failures (ChainExhausted)."""

    def __init__(self, settings: Settings, script: Sequence[str | list[str]], provider: str = "groq") -> None:
        super().__init__(settings.replace(llm_models=("openai/scripted",), openai_api_base="http://127.0.0.1:9/v1"))
        self.script = list(script)
        self.provider = provider
        self.sent: list[list[dict[str, str]]] = []

    def complete(self, messages: Sequence[Mapping[str, str]]) -> ChainReply:
        self.sent.append([dict(m) for m in messages])
        item = self.script.pop(0)
        if isinstance(item, list):
            raise ChainExhausted(item)
        return ChainReply(text=item, provider=self.provider, model=f"{self.provider}/model", errors=[])


class SolverWrapper:
    """The real built-in solver with one of its functions replaced, for the cases it cannot show."""

    def __init__(self, **replacements: Any) -> None:
        self.solve = replacements.get("solve", builtin.solve)
        self.reference_answer = replacements.get("reference_answer", builtin.reference_answer)
        self.answers_agree = replacements.get("answers_agree", builtin.answers_agree)


UNSUPPORTED = "Prove Fermat's last theorem"
MODEL_MARK = "written by the model"


def reply(answer: str | None, body: str = f"self.play(Write(Text('{MODEL_MARK}')))", extra: str = "") -> str:
    answer_line = f"ANSWER: {answer}\n" if answer else ""
    return (
        "Here is your scene.\n\nSTEPS:\n1. Subtract 3.\n2. Divide by 2.\n"
        f"{answer_line}"
        "```python\nfrom manim import *\n" + extra +
        f"class SolutionScene(Scene):\n    def construct(self):\n        {body}\n```\n"
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({}, data_dir=tmp_path)


def make(settings: Settings, script: Sequence[str | list[str]] | None) -> tuple[Generator, ScriptedChain | None]:
    chain = ScriptedChain(settings, script) if script is not None else None
    generator = Generator(settings, chain if chain is not None else ProviderChain(settings))
    return generator, chain


def test_without_models_the_builtin_solver_answers(settings: Settings) -> None:
    generator, _ = make(settings, None)
    scene = generator.generate("Solve 2x + 3 = 11", "en")
    assert (scene.provider, scene.answer_check, scene.answer_text) == ("builtin", "verified", "x = 4")
    assert scene.scene_name == builtin.solve("Solve 2x + 3 = 11", "en").scene_name
    assert scene.steps and "x = 4" in scene.steps[-1]


def test_without_models_an_unsupported_problem_is_explained(settings: Settings) -> None:
    # UnsupportedProblem, not AllProvidersFailed: retrying later cannot help (issue 13, item 9).
    generator, _ = make(settings, None)
    with pytest.raises(UnsupportedProblem) as caught:
        generator.generate(UNSUPPORTED, "en")
    with pytest.raises(UnsupportedProblem) as solver_says:
        builtin.solve(UNSUPPORTED, "en")
    assert str(caught.value) == (
        "No language model is configured, and the built-in solver does not handle this kind of problem yet: "
        f"{solver_says.value}"
    )


def test_a_right_answer_is_verified(settings: Settings) -> None:
    generator, chain = make(settings, [reply("x = 4")])
    scene = generator.generate("Solve 2x + 3 = 11", "en")
    assert (scene.provider, scene.model, scene.answer_check, scene.answer_text) == (
        "groq", "groq/model", "verified", "x = 4"
    )
    assert scene.scene_name == "SolutionScene"
    assert scene.steps == ["Subtract 3.", "Divide by 2."]
    assert chain is not None and len(chain.sent) == 1


def test_an_answer_sympy_cannot_check_is_unverifiable(settings: Settings) -> None:
    generator, _ = make(settings, [reply("a circle")])
    scene = generator.generate("Draw a circle", "en")
    assert (scene.provider, scene.answer_check, scene.answer_text) == ("groq", "unverifiable", "a circle")


def test_validation_repairs_are_reported(settings: Settings) -> None:
    generator, _ = make(settings, [reply("x = 4", body="self.play(ShowCreation(Circle()))")])
    scene = generator.generate("Solve 2x + 3 = 11", "en")
    assert "ShowCreation" not in scene.code
    assert any("ShowCreation" in repair for repair in scene.repairs)


def test_rejected_code_is_raised_with_the_code_for_the_repair_loop(settings: Settings) -> None:
    generator, _ = make(settings, [reply("x = 4", extra="import os\n")])
    with pytest.raises(CodeRejected) as caught:
        generator.generate("Solve 2x + 3 = 11", "en")
    rejected = caught.value
    assert isinstance(rejected, GeneratedCodeRejected)
    assert "`import os` is not allowed" in rejected.reason
    assert rejected.code.startswith("from manim import *\nimport os\n")
    assert "Here is your scene" not in rejected.code
    assert rejected.provider == "groq"


def test_feedback_becomes_a_repair_prompt_with_code_and_error(settings: Settings) -> None:
    generator, chain = make(settings, [reply("x = 4")])
    feedback = RepairFeedback("class Broken(Scene): pass", "NameError: name 'ShowCreation' is not defined", "render")
    generator.generate("Solve 2x + 3 = 11", "en", feedback)
    assert chain is not None
    request = chain.sent[0][1]["content"]
    assert "class Broken(Scene): pass" in request
    assert "NameError: name 'ShowCreation' is not defined" in request


def test_a_wrong_answer_is_sent_back_once_with_the_correct_value(settings: Settings) -> None:
    generator, chain = make(settings, [reply("x = 5"), reply("x = 4")])
    scene = generator.generate("Solve 2x + 3 = 11", "en")
    assert chain is not None and len(chain.sent) == 2
    correction = chain.sent[1][1]["content"]
    assert "x = 4" in correction and "SymPy" in correction
    assert (scene.provider, scene.answer_check, scene.answer_text) == ("groq", "corrected", "x = 4")
    assert any("'x = 5'" in error for error in scene.errors)


def test_a_missing_answer_is_treated_like_a_wrong_one(settings: Settings) -> None:
    generator, chain = make(settings, [reply(None), reply("x = 4")])
    scene = generator.generate("Solve 2x + 3 = 11", "en")
    assert chain is not None and len(chain.sent) == 2
    assert scene.answer_check == "corrected"


def test_wrong_twice_falls_back_to_the_builtin_scene(settings: Settings) -> None:
    generator, chain = make(settings, [reply("x = 5"), reply("x = 7")])
    scene = generator.generate("Solve 2x + 3 = 11", "en")
    assert chain is not None and len(chain.sent) == 2
    assert (scene.provider, scene.answer_check, scene.answer_text) == ("builtin", "corrected", "x = 4")
    assert MODEL_MARK not in scene.code
    assert any("'x = 7' again" in error for error in scene.errors)


def test_a_corrected_answer_in_code_that_fails_validation_falls_back_to_the_builtin_scene(
    settings: Settings,
) -> None:
    generator, _ = make(settings, [reply("x = 5"), reply("x = 4", extra="import os\n")])
    scene = generator.generate("Solve 2x + 3 = 11", "en")
    assert (scene.provider, scene.answer_check) == ("builtin", "corrected")
    assert any("`import os` is not allowed" in error for error in scene.errors)


def test_a_wrong_answer_without_a_builtin_scene_goes_round_the_repair_loop(settings: Settings) -> None:
    def no_template(problem_text: str, language: str | None = None) -> Any:
        raise UnsupportedProblem("no template for this kind")

    chain = ScriptedChain(settings, [reply("x = 5"), reply("x = 6")])
    generator = Generator(settings, chain, solver=SolverWrapper(solve=no_template))
    with pytest.raises(GeneratedCodeRejected) as caught:
        generator.generate("Solve 2x + 3 = 11", "en")
    assert "x = 4" in caught.value.reason


def test_when_every_provider_fails_the_builtin_solver_answers(settings: Settings) -> None:
    failures = ["groq (groq/m): rate limited (HTTP 429): slow down", "openai (openai/m): timed out after 60 s"]
    generator, _ = make(settings, [failures])
    scene = generator.generate("Solve 2x + 3 = 11", "en")
    assert (scene.provider, scene.answer_check) == ("builtin", "verified")
    assert scene.errors == failures


def test_when_every_provider_fails_and_the_solver_cannot_help_both_reasons_are_given(settings: Settings) -> None:
    generator, _ = make(settings, [["groq (groq/m): could not connect: Connection error."]])
    with pytest.raises(AllProvidersFailed) as caught:
        generator.generate(UNSUPPORTED, "en")
    # Both reasons: the person's sentence names the solver's; the provider's own error (which can
    # name internal hosts) is kept in failures, for the job's record.
    message = str(caught.value)
    assert "groq" not in message and "could not connect" not in message
    assert message.startswith("No language model could answer right now, and the built-in solver does not "
                              "handle this kind of problem yet: ")
    assert caught.value.failures == ["groq (groq/m): could not connect: Connection error."]


def test_a_solver_fault_while_checking_leaves_the_answer_unverified(settings: Settings) -> None:
    def broken_reference(problem_text: str) -> Any:
        raise ZeroDivisionError("sympy hiccup")

    chain = ScriptedChain(settings, [reply("x = 4")])
    generator = Generator(settings, chain, solver=SolverWrapper(reference_answer=broken_reference))
    assert generator.generate("Solve 2x + 3 = 11", "en").answer_check == "unverifiable"
