"""LaTeX mobjects: text mode versus math mode, and characters LaTeX cannot typeset.

``Tex`` is LaTeX text mode and ``MathTex`` math mode; models mix them up
(``Tex("x^2")`` fails with "Missing $ inserted", ``MathTex("$x$")`` with a
display-math error). The renderer's LaTeX has no Cyrillic, Greek-text or CJK
support, and raw Unicode maths symbols (``≤``, ``π``, ``²``) are "not set up for
use with LaTeX": symbols become their LaTeX commands, words in other scripts move
to ``Text`` (Pango draws any script), and what cannot move is refused with advice.
"""

from __future__ import annotations

import ast
import re

from appliance.errors import CodeRejected
from appliance.repair.context import RepairContext

LATEX_CLASSES = frozenset({"Tex", "MathTex", "SingleStringMathTex", "Title", "BulletedList"})

_MATH_CONTENT = re.compile(
    r"[\^_]|\\(frac|dfrac|sqrt|int|sum|prod|lim|cdot|times|pi|alpha|beta|gamma|theta|lambda|sigma|"
    r"infty|leq|geq|neq|pm|sin|cos|tan|log|ln|partial|nabla|Delta|vec|over|left|right)\b"
)
_TEXT_MODE = re.compile(r"\$|\\(text|textbf|textit|emph|begin|section|item|mbox)\b")
_TWO_WORDS = re.compile(r"[A-Za-z]{4,}\s+[A-Za-z]{4,}")

# Unicode maths symbols models paste into formulas, and the LaTeX (math mode) for each.
UNICODE_MATH: dict[str, str] = {
    "≤": r"\leq ", "≥": r"\geq ", "≠": r"\neq ", "≈": r"\approx ", "×": r"\times ", "·": r"\cdot ",
    "÷": r"\div ", "±": r"\pm ", "∓": r"\mp ", "→": r"\to ", "←": r"\leftarrow ", "⇒": r"\Rightarrow ",
    "⇔": r"\Leftrightarrow ", "∞": r"\infty ", "√": r"\sqrt ", "∫": r"\int ", "∑": r"\sum ",
    "∏": r"\prod ", "∂": r"\partial ", "∇": r"\nabla ", "∈": r"\in ", "∉": r"\notin ", "⊂": r"\subset ",
    "∪": r"\cup ", "∩": r"\cap ", "∅": r"\emptyset ", "∀": r"\forall ", "∃": r"\exists ", "°": r"^\circ ",
    "−": "-", "–": "-", "′": "'", "²": "^2", "³": "^3", "¹": "^1", "½": r"\frac{1}{2}",
    "α": r"\alpha ", "β": r"\beta ", "γ": r"\gamma ", "δ": r"\delta ", "ε": r"\varepsilon ",
    "θ": r"\theta ", "λ": r"\lambda ", "μ": r"\mu ", "π": r"\pi ", "ρ": r"\rho ", "σ": r"\sigma ",
    "τ": r"\tau ", "φ": r"\varphi ", "ω": r"\omega ", "Δ": r"\Delta ", "Σ": r"\Sigma ", "Ω": r"\Omega ",
    "Π": r"\Pi ", "Φ": r"\Phi ", "Γ": r"\Gamma ", "Θ": r"\Theta ", "Λ": r"\Lambda ",
}

# Latin letters with accents are fine (the default template loads T1 and UTF-8);
# letters beyond Latin Extended-A are not.
_LAST_LATEX_SAFE_CODEPOINT = 0x024F


def fix_latex_calls(ctx: RepairContext) -> None:
    for node in ast.walk(ctx.tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        name = node.func.id
        if name not in LATEX_CLASSES or not ctx.is_manim_name(name):
            continue
        if name == "Tex" and _is_formula_only(node):
            node.func.id = name = "MathTex"
            ctx.note("Tex with formula-only content -> MathTex")
        if name in ("MathTex", "SingleStringMathTex"):
            _strip_dollars(ctx, node)
        _replace_unicode_symbols(ctx, node, math_mode=name in ("MathTex", "SingleStringMathTex"))
        _move_foreign_text(ctx, node, name)


def string_arguments(node: ast.Call) -> list[ast.Constant]:
    return [a for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]


def _is_formula_only(node: ast.Call) -> bool:
    strings = string_arguments(node)
    if not strings or len(strings) != len(node.args):
        return False
    joined = "".join(str(s.value) for s in strings)
    words = re.sub(r"\\[A-Za-z]+", "", joined)
    return not _TEXT_MODE.search(joined) and bool(_MATH_CONTENT.search(joined)) and not _TWO_WORDS.search(words)


def _strip_dollars(ctx: RepairContext, node: ast.Call) -> None:
    for argument in string_arguments(node):
        text = str(argument.value)
        if "$" in text and "\\$" not in text:
            argument.value = text.replace("$", "")
            ctx.note("MathTex: removed $ signs (MathTex is already in math mode)")


def _replace_unicode_symbols(ctx: RepairContext, node: ast.Call, math_mode: bool) -> None:
    for argument in string_arguments(node):
        text = str(argument.value)
        found = [symbol for symbol in UNICODE_MATH if symbol in text]
        if not found:
            continue
        for symbol in found:
            latex = UNICODE_MATH[symbol].strip() if not math_mode else UNICODE_MATH[symbol]
            text = text.replace(symbol, latex if math_mode else f"${latex}$")
        argument.value = text
        ctx.note(f"Unicode maths symbols {''.join(found)} -> LaTeX commands")


def _foreign_letters(text: str) -> str:
    return "".join(sorted({c for c in text if c.isalpha() and ord(c) > _LAST_LATEX_SAFE_CODEPOINT}))


def _move_foreign_text(ctx: RepairContext, node: ast.Call, name: str) -> None:
    strings = string_arguments(node)
    foreign = _foreign_letters("".join(str(s.value) for s in strings))
    if not foreign:
        return
    only_text = (
        name == "Tex"
        and len(node.args) == 1
        and len(strings) == 1
        and "$" not in str(strings[0].value)
        and "\\" not in str(strings[0].value)
    )
    if name == "Title" and len(node.args) == 1 and len(strings) == 1 and "$" not in str(strings[0].value):
        # Title is a LaTeX heading with an underline; a Text at the top edge says the same.
        heading = ast.Call(func=ast.Name(id="Text", ctx=ast.Load()), args=node.args, keywords=[])
        node.func = ast.Attribute(value=heading, attr="to_edge", ctx=ast.Load())
        node.args = [ast.Name(id="UP", ctx=ast.Load())]
        node.keywords = []
        ctx.note("Title with non-Latin text -> Text(...).to_edge(UP) (LaTeX here cannot typeset that script)")
        return
    if only_text:
        assert isinstance(node.func, ast.Name)
        node.func.id = "Text"
        for latex_only in ("tex_template", "tex_environment", "arg_separator", "substrings_to_isolate"):
            node.keywords = [kw for kw in node.keywords if kw.arg != latex_only]
        tex_colors = next((kw for kw in node.keywords if kw.arg == "tex_to_color_map"), None)
        if tex_colors is not None:
            tex_colors.arg = "t2c"
        ctx.note("Tex with non-Latin text -> Text (LaTeX here cannot typeset that script)")
        return
    raise CodeRejected(
        f"line {node.lineno}: {name}(...) contains {foreign[:5]!r}: the renderer's LaTeX cannot "
        "typeset that script. Put words in Text(...) (any language works there) and keep only the "
        "formula in MathTex, e.g. VGroup(Text('Ответ:'), MathTex('x = 2')).arrange(RIGHT)"
    )
