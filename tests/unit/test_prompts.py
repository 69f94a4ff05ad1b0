"""What the model is told, and how the parts of its reply are read."""

from __future__ import annotations

from appliance.config import MANIM_VERSION
from appliance.generation.generator import RepairFeedback
from appliance.generation.prompts import (
    MAX_ERROR_CHARS,
    SYSTEM_PROMPT,
    build_messages,
    language_name,
    parse_answer,
    parse_reply,
    parse_steps,
    repair_prompt,
    user_prompt,
)

CODE = "from manim import *\n\nclass SolutionScene(Scene):\n    def construct(self):\n        self.wait()\n"


def test_the_system_prompt_is_written_for_the_installed_manim() -> None:
    assert f"v{MANIM_VERSION}" in SYSTEM_PROMPT
    for current in ("Create (not ShowCreation)", "Text (not TextMobject)", "MathTex", "axes.plot(", ".animate"):
        assert current in SYSTEM_PROMPT
    assert "np.array([x, y, 0])" in SYSTEM_PROMPT
    assert "class SolutionScene(VoiceoverScene):" in SYSTEM_PROMPT
    assert "from manim import *" in SYSTEM_PROMPT


def test_the_system_prompt_asks_for_narrated_worked_steps() -> None:
    """Scenes narrate the way manim-voiceover documents it; the sandbox supplies the voice."""
    for narrated in ("from manim_voiceover import VoiceoverScene", "with self.voiceover(text=",
                     "run_time=tracker.duration", "do not call set_speech_service"):
        assert narrated in SYSTEM_PROMPT
    for worked in ("2x + 3 - 3 = 11 - 3", "TransformMatchingTex", "u, v, u', v'", "substitute"):
        assert worked in SYSTEM_PROMPT


def test_the_system_prompt_sets_a_time_budget_and_a_layout_that_avoids_overlap() -> None:
    assert "30 to 90 seconds" in SYSTEM_PROMPT
    for layout in ("to_edge(UP)", "arrange(DOWN", "scale_to_fit_width", "FadeOut", "never overlap"):
        assert layout in SYSTEM_PROMPT


def test_the_system_prompt_asks_for_the_parseable_reply_format() -> None:
    assert "STEPS:" in SYSTEM_PROMPT
    assert "ANSWER:" in SYSTEM_PROMPT
    assert "```python" in SYSTEM_PROMPT


def test_the_user_prompt_carries_the_problem_and_its_language() -> None:
    prompt = user_prompt("Resuelve 2x + 3 = 11", "es")
    assert "Resuelve 2x + 3 = 11" in prompt
    assert "in Spanish" in prompt
    unknown = user_prompt("Solve x^2 = 9", None)
    assert "same language as the problem" in unknown


def test_language_codes_become_names() -> None:
    assert language_name("ru") == "Russian"
    assert language_name("de-AT") == "German"
    assert language_name("fr_FR") == "French"
    assert language_name(None) is None


def test_the_validation_repair_prompt_quotes_the_code_and_the_exact_reason() -> None:
    reason = "import of 'os' is not allowed"
    prompt = repair_prompt("Solve 2x = 4", "en", RepairFeedback(CODE, reason, "validation"))
    assert CODE.strip() in prompt
    assert reason in prompt
    assert "Solve 2x = 4" in prompt


def test_the_render_repair_prompt_keeps_the_end_of_a_long_error() -> None:
    tail = "NameError: name 'ShowCreation' is not defined"
    error = "Traceback (most recent call last):\n" + "  frame\n" * 2000 + tail
    prompt = repair_prompt("Solve 2x = 4", "en", RepairFeedback(CODE, error, "render"))
    assert tail in prompt
    assert len(prompt) < len(error)
    assert len(prompt) < MAX_ERROR_CHARS + len(CODE) + 1500


def test_the_answer_repair_prompt_gives_the_correct_value() -> None:
    prompt = repair_prompt("Solve 2x + 3 = 11", "en", RepairFeedback(CODE, "x = 4", "answer"))
    assert "x = 4" in prompt
    assert "SymPy" in prompt
    assert "wrong" in prompt


def test_messages_are_a_system_prompt_then_one_request() -> None:
    first = build_messages("Solve 2x = 4", "en")
    assert [m["role"] for m in first] == ["system", "user"]
    assert first[0]["content"] == SYSTEM_PROMPT
    repair = build_messages("Solve 2x = 4", "en", RepairFeedback(CODE, "SyntaxError: invalid syntax", "render"))
    assert "SyntaxError: invalid syntax" in repair[1]["content"]


REPLY = """Sure! Here is an explanation.

**STEPS:**
1. Subtract 3 from both sides: 2x = 8.
2. Divide both sides by 2,
   which leaves x alone.

**ANSWER:** $x = 4$

```python
from manim import *

class SolutionScene(Scene):
    def construct(self):
        # ANSWER: this comment is not the answer
        self.play(Write(MathTex(r"x = 4")))
```
Hope this helps!
"""


def test_a_reply_in_markdown_chatter_is_read() -> None:
    parsed = parse_reply(REPLY)
    assert parsed.answer_text == "x = 4"
    assert parsed.steps == ["Subtract 3 from both sides: 2x = 8.", "Divide both sides by 2, which leaves x alone."]


def test_answer_variants() -> None:
    assert parse_answer("ANSWER: x = -2, x = 3") == "x = -2, x = 3"
    assert parse_answer("Respuesta: x = 4.") == "x = 4"
    assert parse_answer("Ответ: \\(x = 4\\)") == "x = 4"
    assert parse_answer("- Final answer: `12`") == "12"
    # The last answer line counts: models sometimes restate after a correction.
    assert parse_answer("ANSWER: x = 5\nWait, let me fix that.\nANSWER: x = 4") == "x = 4"


def test_no_answer_line_means_none() -> None:
    assert parse_answer("Here is the scene:\n```python\n# ANSWER: 3\n```") is None
    assert parse_answer("ANSWER:   \n") is None


def test_steps_without_a_header_are_the_numbered_lines() -> None:
    assert parse_steps("1. Expand.\n2) Collect terms.\nANSWER: 3") == ["Expand.", "Collect terms."]
    assert parse_steps("no steps here") == []
