"""Problem -> checked Manim scene: the model chain first, the built-in solver as the floor.

One ``generate`` call makes one model request (two when the stated answer is
wrong and the model is told the correct value). The attempt loop belongs to the
pipeline: when the code fails validation, ``generate`` raises
``GeneratedCodeRejected`` (a ``CodeRejected`` carrying the rejected code) and the
pipeline calls again with ``RepairFeedback``.

Answers are checked whenever the built-in solver can compute a reference with
SymPy. The final scene never states an answer SymPy contradicts: a wrong answer
goes back to the model once with the correct value, and if it is still wrong
the built-in solver's own scene is used instead. When the hourly budget of model calls is
spent, the built-in solver answers alone and its scene carries a ``notice`` saying so.

    answer_check = verified      the stated answer agrees with SymPy (or is SymPy's own)
                   corrected     the first answer was wrong; the scene now states SymPy's
                   unverifiable  SymPy has no reference answer for this problem
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Protocol

from appliance import validation as validation_module
from appliance.admission import MODEL_BUDGET_NOTICE, MODEL_BUDGET_REFUSAL
from appliance.config import Settings
from appliance.contracts import AnswerCheck, CallBudget, GeneratedCodeRejected, GeneratedScene, RepairFeedback
from appliance.errors import AllProvidersFailed, CodeRejected, ModelBudgetExhausted, UnsupportedProblem
from appliance.generation import builtin as builtin_module
from appliance.generation.builtin.reference import ReferenceAnswer
from appliance.generation.llm import BUILTIN, NO_MODEL_ANSWERED, ChainExhausted, ChainReply, ProviderChain
from appliance.generation.prompts import build_messages, parse_reply
from appliance.generation.speech import narration_in

log = logging.getLogger(__name__)

# -- the seams to validation and the built-in solver (owned by other modules) ------------------


class ValidatedSceneLike(Protocol):
    @property
    def code(self) -> str: ...

    @property
    def scene_name(self) -> str: ...

    @property
    def repairs(self) -> list[str]: ...


class ValidationLike(Protocol):
    """``appliance.validation``."""

    def validate_and_repair(self, code_or_reply: str, max_bytes: int = ...) -> ValidatedSceneLike: ...

    def extract_code(self, text: str) -> str: ...


class BuiltinSolutionLike(Protocol):
    @property
    def answer_text(self) -> str: ...

    @property
    def steps(self) -> list[str]: ...

    @property
    def code(self) -> str: ...

    @property
    def narration(self) -> list[str]: ...


class SolverLike(Protocol):
    """``appliance.generation.builtin``."""

    def solve(self, problem_text: str, language: str | None = None) -> BuiltinSolutionLike: ...

    def reference_answer(self, problem_text: str) -> ReferenceAnswer | None: ...

    def answers_agree(self, stated: str, reference: ReferenceAnswer) -> bool: ...


class Generator:
    """Turns a problem into a ``GeneratedScene`` (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        chain: ProviderChain | None = None,
        *,
        validation: ValidationLike | None = None,
        solver: SolverLike | None = None,
        budget: CallBudget | None = None,
    ) -> None:
        """``budget``: the appliance's budget of model calls, for the chain made here (a ``chain``
        given brings its own)."""
        self.settings = settings
        self.chain = chain if chain is not None else ProviderChain(settings, budget=budget)
        self.validation: ValidationLike = validation if validation is not None else validation_module
        self.solver: SolverLike = solver if solver is not None else builtin_module

    def describe(self) -> str:
        return self.chain.describe()

    def providers(self) -> list[str]:
        return list(self.chain.models)

    # -- the one entry point -----------------------------------------------------------------

    def generate(
        self, problem_text: str, language: str | None, feedback: RepairFeedback | None = None
    ) -> GeneratedScene:
        """A validated scene for the problem; see the module docstring for the order of things.

        Raises ``GeneratedCodeRejected`` when the model's code fails validation and
        ``AllProvidersFailed`` when neither a model nor the built-in solver can help.
        """
        if not self.chain.has_models:
            return self._builtin_or_explain(problem_text, language, failures=[], configured=False)
        try:
            reply = self.chain.complete(build_messages(problem_text, language, feedback))
        except ModelBudgetExhausted as exc:
            return self._builtin_on_budget(problem_text, language, [*exc.failures, str(exc)])
        except AllProvidersFailed as exc:
            failures = exc.failures if isinstance(exc, ChainExhausted) else [str(exc)]
            return self._builtin_or_explain(problem_text, language, failures=failures, configured=True)

        errors = list(reply.errors)
        scene = self._validate(reply, errors)
        parsed = parse_reply(reply.text)
        reference = self._reference(problem_text)
        if reference is None:
            return self._model_scene(scene, reply, parsed.answer_text, parsed.steps, "unverifiable", errors)
        if parsed.answer_text is not None:
            agrees = self._agrees(parsed.answer_text, reference)
            if agrees is None:
                return self._model_scene(scene, reply, parsed.answer_text, parsed.steps, "unverifiable", errors)
            if agrees:
                return self._model_scene(scene, reply, parsed.answer_text, parsed.steps, "verified", errors)
        return self._correct_answer(problem_text, language, reply, scene, parsed.answer_text, reference, errors)

    # -- steps ---------------------------------------------------------------------------------

    def _validate(self, reply: ChainReply, errors: Sequence[str]) -> ValidatedSceneLike:
        try:
            return self.validation.validate_and_repair(reply.text, self.settings.max_code_bytes)
        except CodeRejected as exc:
            log.info("scene from %s rejected: %s", reply.model, exc.reason)
            raise GeneratedCodeRejected(
                exc.reason, self._code_of(reply.text), reply.provider, reply.model, errors
            ) from exc

    def _code_of(self, reply_text: str) -> str:
        """The code part of a reply, for quoting back to the model (the whole reply if none is found)."""
        try:
            code = self.validation.extract_code(reply_text)
        except CodeRejected:
            code = ""
        return (code or reply_text)[: self.settings.max_code_bytes]

    def _reference(self, problem_text: str) -> ReferenceAnswer | None:
        # Checking is best effort: a solver fault must not cost the person their video.
        try:
            return self.solver.reference_answer(problem_text)
        except Exception:
            log.exception("reference answer failed for a problem; the answer stays unverified")
            return None

    def _agrees(self, stated: str, reference: ReferenceAnswer) -> bool | None:
        try:
            return bool(self.solver.answers_agree(stated, reference))
        except Exception:
            log.exception("comparing answers failed; the answer stays unverified")
            return None

    def _correct_answer(
        self,
        problem_text: str,
        language: str | None,
        reply: ChainReply,
        scene: ValidatedSceneLike,
        stated: str | None,
        reference: ReferenceAnswer,
        errors: list[str],
    ) -> GeneratedScene:
        """The model's answer is wrong or missing: tell it the correct value once, then use the solver."""
        correct = reference.answer_text
        said = f"stated {stated!r}" if stated else "stated no answer"
        errors.append(f"{reply.provider} ({reply.model}) {said}; SymPy says {correct}")
        log.info("model answer disagrees with SymPy (%s vs %s); asking once more", stated, correct)
        correction = RepairFeedback(previous_code=scene.code, error=correct, kind="answer")
        try:
            second = self.chain.complete(build_messages(problem_text, language, correction))
        except AllProvidersFailed as exc:
            errors.extend(exc.failures if isinstance(exc, ChainExhausted) else [str(exc)])
        else:
            errors.extend(second.errors)
            parsed = parse_reply(second.text)
            if parsed.answer_text is not None and self._agrees(parsed.answer_text, reference):
                try:
                    corrected = self.validation.validate_and_repair(second.text, self.settings.max_code_bytes)
                except CodeRejected as exc:
                    errors.append(f"{second.provider} ({second.model}) corrected scene refused: {exc.reason}")
                else:
                    return self._model_scene(corrected, second, parsed.answer_text, parsed.steps, "corrected", errors)
            else:
                again = f"stated {parsed.answer_text!r}" if parsed.answer_text else "stated no answer"
                errors.append(f"{second.provider} ({second.model}) {again} again; SymPy says {correct}")
        try:
            return self._builtin_scene(problem_text, language, "corrected", errors)
        except UnsupportedProblem as exc:
            # No scene that states the right answer: send the model round the repair loop again.
            raise GeneratedCodeRejected(
                f"The final answer is wrong. The correct answer is {correct}; the scene must show it.",
                scene.code, reply.provider, reply.model, errors,
            ) from exc

    def _builtin_or_explain(
        self, problem_text: str, language: str | None, failures: list[str], configured: bool
    ) -> GeneratedScene:
        try:
            return self._builtin_scene(problem_text, language, "verified", list(failures))
        except UnsupportedProblem as exc:
            unsupported = f"the built-in solver does not handle this kind of problem yet: {exc}"
            if not configured:
                # Nothing here can ever draw it: asking again later would not help (a person is
                # told to rephrase, not to retry).
                raise UnsupportedProblem(f"No language model is configured, and {unsupported}") from exc
            # People get a sentence; the providers' own errors (hosts, keys' names) stay on the record.
            raise AllProvidersFailed(f"{NO_MODEL_ANSWERED[:-1]}, and {unsupported}", failures) from exc

    def _builtin_on_budget(self, problem_text: str, language: str | None, failures: list[str]) -> GeneratedScene:
        """No model call is left this hour: the built-in solver's scene, saying so, or a refusal
        that says to try again later."""
        try:
            scene = self._builtin_scene(problem_text, language, "verified", failures)
        except UnsupportedProblem as exc:
            raise ModelBudgetExhausted(MODEL_BUDGET_REFUSAL.format(reason=exc), failures) from exc
        return dataclasses.replace(scene, notice=MODEL_BUDGET_NOTICE)

    def _builtin_scene(
        self, problem_text: str, language: str | None, answer_check: AnswerCheck, errors: list[str]
    ) -> GeneratedScene:
        solution = self.solver.solve(problem_text, language)
        scene = self.validation.validate_and_repair(solution.code, self.settings.max_code_bytes)
        return GeneratedScene(
            code=scene.code,
            scene_name=scene.scene_name,
            provider=BUILTIN,
            model=BUILTIN,
            answer_text=solution.answer_text,
            answer_check=answer_check,
            repairs=list(scene.repairs),
            errors=errors,
            steps=list(solution.steps),
            narration=list(solution.narration),
        )

    @staticmethod
    def _model_scene(
        scene: ValidatedSceneLike,
        reply: ChainReply,
        answer_text: str | None,
        steps: list[str],
        answer_check: AnswerCheck,
        errors: list[str],
    ) -> GeneratedScene:
        return GeneratedScene(
            code=scene.code,
            scene_name=scene.scene_name,
            provider=reply.provider,
            model=reply.model,
            answer_text=answer_text,
            answer_check=answer_check,
            repairs=list(scene.repairs),
            errors=errors,
            steps=steps,
            # All or nothing: a narration computed at render time cannot be synthesized ahead, and
            # one video must not mix two voices.
            narration=narration_in(scene.code, all_or_nothing=True),
        )
