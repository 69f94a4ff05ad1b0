"""What the model is told, and how its reply is read.

The system prompt is written for the Manim Community release installed in the
sandbox (``MANIM_VERSION``): the names models get wrong most often are spelled
out, because model training data is full of the old 3b1b/ManimGL API. The reply
format is fixed so it can be parsed without a second model call::

    STEPS:
    1. ...
    ANSWER: x = 4
    ```python
    from manim import *
    class SolutionScene(VoiceoverScene): ...
    ```

Code extraction from the reply belongs to ``appliance.validation``; this module
reads the ``STEPS`` and ``ANSWER`` parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from appliance.config import MANIM_VERSION
from appliance.contracts import RepairFeedback

SCENE_CLASS_NAME = "SolutionScene"

# Longest render error tail and previous code quoted back to the model: enough for
# the traceback's last frames, not so much that a small model loses the thread.
MAX_ERROR_CHARS = 3000
MAX_PREVIOUS_CODE_CHARS = 20000

LANGUAGE_NAMES = {
    "en": "English",
    "es": "Spanish",
    "ru": "Russian",
    "de": "German",
    "fr": "French",
    "it": "Italian",
    "pt": "Portuguese",
    "uk": "Ukrainian",
    "pl": "Polish",
    "nl": "Dutch",
    "tr": "Turkish",
    "zh": "Chinese",
    "ja": "Japanese",
    "ko": "Korean",
    "ar": "Arabic",
    "hi": "Hindi",
}

SYSTEM_PROMPT = f"""\
You are a mathematics teacher who explains solutions with short animated videos made with \
Manim Community v{MANIM_VERSION} (the `manim` package, not ManimGL or the old 3b1b manim).

For the problem the user sends, solve it carefully, then write one Manim scene that explains \
the solution step by step.

Reply in exactly this format and nothing else:

STEPS:
1. <first step of the solution, one short sentence>
2. <next step>
...
ANSWER: <the final answer only, e.g. x = 4  or  x = -2, x = 3>
```python
<the complete scene code>
```

Rules for the code (Manim Community v{MANIM_VERSION}):
- Begin with `from manim import *` and `from manim_voiceover import VoiceoverScene`. You may also \
`import numpy as np` and `import math`. \
No other imports, no files, no network, no input(), no os/sys/subprocess.
- Define exactly one scene: `class {SCENE_CLASS_NAME}(VoiceoverScene):` with `def construct(self):`, \
after `from manim_voiceover import VoiceoverScene`. Narrate every step: wrap its animations in \
`with self.voiceover(text="<one or two spoken sentences: what is done and why>") as tracker:` and \
give the main animation `run_time=tracker.duration` (the voice and the subtitles come from that \
text; do not call set_speech_service, the renderer supplies the voice). Write the spoken text for \
the ear: words, not LaTeX or symbols ("x squared", not "x^2"), in the problem's language.
- Use the current names: Create (not ShowCreation), Write, FadeIn, FadeOut, Transform, \
ReplacementTransform, TransformMatchingTex, Indicate, Circumscribe; Text (not TextMobject); \
MathTex and Tex (not TexMobject); Axes (not GraphScene); SurroundingRectangle; VGroup.
- Formulas go in MathTex with raw strings: MathTex(r"x^2 - 5x + 6 = 0"). Words go in Text("..."). \
Never put non-English letters (Cyrillic, accents) inside MathTex or Tex: use Text for any sentence.
- Points are 3-D: np.array([x, y, 0]), or ORIGIN, UP, DOWN, LEFT, RIGHT, UL, UR, DL, DR and their multiples.
- Graphs: axes = Axes(x_range=[-5, 5, 1], y_range=[-4, 10, 1], x_length=7, y_length=4.5); \
graph = axes.plot(lambda x: x**2 - 4, color=BLUE); a point on it: axes.c2p(2, 0); labels: \
axes.get_axis_labels(x_label="x", y_label="y"); shaded area: axes.get_area(graph, x_range=[0, 2]). \
Do not use get_graph, x_min, x_max, y_min or y_max.
- Animate with `.animate`: self.play(mob.animate.shift(UP).scale(0.8)); change one formula into \
the next with self.play(TransformMatchingTex(old, new)) or ReplacementTransform(old, new).
- Colours: WHITE, GRAY, BLUE, GREEN, YELLOW, RED, ORANGE, PURPLE, TEAL, GOLD, PINK, MAROON.
- Layout: the frame is about 14 units wide and 8 high; keep everything inside it. Put the title \
at the top with .to_edge(UP); stack lines with VGroup(...).arrange(DOWN, buff=0.4); shrink a wide \
line with .scale_to_fit_width(12) when it is wider than that. Text must never overlap other text: \
FadeOut what is no longer needed before writing in the same place, or move it aside with \
.animate.to_edge(...). Keep at most about five lines of text on screen at once.
- Timing: the whole video lasts roughly 30 to 90 seconds; each voiceover block lasts as long as \
its sentence, so no self.wait is needed inside it. Finish by highlighting the final answer (for \
example with SurroundingRectangle) inside a last voiceover that says the answer, then self.wait(2).
- No images, SVG files, sound files, updaters that never stop, or loops over more than a few dozen items.

Content:
- Show the problem, then each step of STEPS on screen as worked lines: the operation applied to \
what is on screen (e.g. subtract 3 from both sides: 2x + 3 - 3 = 11 - 3), then its result, \
transforming one line into the next with TransformMatchingTex; name a rule and substitute its parts \
(product rule: u, v, u', v'); then the final answer, and a check where it makes sense (substitute \
the answer back and show both sides agree).
- The answer on screen must be exactly the ANSWER line. Check your arithmetic before answering.
"""


def language_name(language: str | None) -> str | None:
    """A language code (``es``, ``ru-RU``) as a name a model understands (``Spanish``)."""
    if not language:
        return None
    code = language.strip().lower().replace("_", "-").split("-", 1)[0]
    return LANGUAGE_NAMES.get(code, language.strip())


def _language_instruction(language: str | None) -> str:
    name = language_name(language)
    if name is None:
        return (
            "Write the steps, all on-screen text and the answer in the same language as the problem."
        )
    return f"The problem is in {name}: write the steps, all on-screen text and the answer in {name}."


def user_prompt(problem_text: str, language: str | None) -> str:
    """The first request for a problem."""
    return (
        f"Problem:\n{problem_text.strip()}\n\n"
        f"{_language_instruction(language)}\n"
        f"Reply with STEPS, ANSWER and one ```python block defining {SCENE_CLASS_NAME}(Scene)."
    )


def _tail(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else "…" + text[-limit:]


def _head(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "\n# … (cut)"


def repair_prompt(problem_text: str, language: str | None, feedback: RepairFeedback) -> str:
    """Ask for a corrected scene: the problem, the previous code and exactly what went wrong."""
    code = _head(feedback.previous_code, MAX_PREVIOUS_CODE_CHARS)
    error = _tail(feedback.error, MAX_ERROR_CHARS)
    if feedback.kind == "answer":
        what_went_wrong = (
            "The final answer of your previous scene is wrong. The correct answer, computed with SymPy, is:\n"
            f"{error}\n\n"
            "Redo the solution so that its steps lead to this answer, show exactly this answer at the end "
            "of the video, and state it on the ANSWER line."
        )
    elif feedback.kind == "layout":
        what_went_wrong = (
            "Your previous scene rendered, but an automatic check of the video's layout found these problems "
            f"(from Manim's own bounding boxes):\n{error}\n\n"
            "Fix each one and keep the rest of the video as it was: keep every text and formula inside the frame "
            "(scale long ones down, e.g. `.scale_to_fit_width(config.frame_width - 1)`, or split them over lines), "
            "place labels where they do not cover other text or an axis's numbers, keep text at a readable size "
            "(font_size 30 or more for MathTex), remove or fade out what is no longer needed before showing the "
            "next thing in its place, and keep the video moving."
        )
    elif feedback.kind == "render":
        what_went_wrong = (
            f"Rendering your previous scene with Manim Community v{MANIM_VERSION} failed. "
            f"The end of the error output:\n```\n{error}\n```\n\n"
            "Fix the cause of this error (and anything else that would fail the same way)."
        )
    else:
        what_went_wrong = (
            "Your previous scene was refused before rendering, for this reason:\n"
            f"{error}\n\n"
            "Fix exactly this problem."
        )
    return (
        f"Problem:\n{problem_text.strip()}\n\n"
        f"Your previous scene:\n```python\n{code}\n```\n\n"
        f"{what_went_wrong}\n\n"
        f"{_language_instruction(language)}\n"
        f"Reply again in the same format: STEPS, ANSWER, and one ```python block with the complete, "
        f"corrected {SCENE_CLASS_NAME}(Scene)."
    )


def build_messages(
    problem_text: str, language: str | None, feedback: RepairFeedback | None = None
) -> list[dict[str, str]]:
    """The chat messages for one model call: the system prompt and the (repair) request."""
    request = user_prompt(problem_text, language) if feedback is None else repair_prompt(
        problem_text, language, feedback
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": request}]


# -- reading the reply -------------------------------------------------------------------------

_FENCED_BLOCK = re.compile(r"```.*?(?:```|\Z)", re.S)
# "ANSWER: x = 4", "**Answer:** x = 4", "- ANSWER: $x=4$"; the word itself stays English because
# the prompt asks for it, but a model answering in Spanish sometimes translates it.
_ANSWER_LINE = re.compile(
    r"^[\s>*_#-]*(?:answer|final answer|respuesta|ответ|antwort|réponse|reponse|risposta|resposta)"
    r"\s*[*_]*\s*[:：]\s*(.*?)\s*$",
    re.I | re.M,
)
_STEPS_HEADER = re.compile(r"^[\s>*_#]*(?:steps|pasos|шаги|schritte|étapes|etapes)\s*[*_]*\s*[:：]?\s*[*_]*\s*$", re.I)
_NUMBERED_LINE = re.compile(r"^\s*(?:[-*]\s*)?(?:\*\*)?(\d{1,2})[.)](?:\*\*)?\s+(.+?)\s*$")


@dataclass(frozen=True)
class ParsedReply:
    """The non-code parts of a model's reply."""

    answer_text: str | None
    steps: list[str] = field(default_factory=list)


def _without_code(text: str) -> str:
    return _FENCED_BLOCK.sub("\n", text)


def _clean_answer(raw: str) -> str | None:
    answer = raw.strip().strip("*_`").strip()
    # Inline maths delimiters: $x = 4$, \(x = 4\), \[x = 4\].
    for opener, closer in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if answer.startswith(opener) and answer.endswith(closer) and len(answer) > len(opener) + len(closer):
            answer = answer[len(opener) : -len(closer)].strip()
            break
    answer = answer.rstrip(".").strip()
    return answer or None


def parse_answer(text: str) -> str | None:
    """The reply's ``ANSWER:`` value (the last one outside code blocks), or None."""
    matches = [m.group(1) for m in _ANSWER_LINE.finditer(_without_code(text))]
    for raw in reversed(matches):
        answer = _clean_answer(raw)
        if answer:
            return answer
    return None


def parse_steps(text: str) -> list[str]:
    """The numbered lines under ``STEPS:`` (or, without that header, the numbered lines before ANSWER)."""
    lines = _without_code(text).splitlines()
    start = next((i + 1 for i, line in enumerate(lines) if _STEPS_HEADER.match(line)), 0)
    steps: list[str] = []
    continuing = False
    for line in lines[start:]:
        if _ANSWER_LINE.match(line):
            break
        numbered = _NUMBERED_LINE.match(line)
        if numbered:
            steps.append(numbered.group(2).strip())
            continuing = True
        elif continuing and line.strip() and start:
            steps[-1] = f"{steps[-1]} {line.strip()}"  # a step wrapped onto a second line
        else:
            continuing = False
    return steps


def parse_reply(text: str) -> ParsedReply:
    return ParsedReply(answer_text=parse_answer(text), steps=parse_steps(text))
