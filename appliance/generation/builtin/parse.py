"""Problem text -> SymPy, without ever evaluating text a person wrote.

``normalise`` turns plain text, Unicode maths (², √, π, ×, ÷, −) and LaTeX
(``\\frac``, ``\\sqrt``, ``\\int_0^1``, ``\\lim_{x \\to 0}``, ``\\cdot``,
``\\left(``) into one lower-case plain notation. ``math_runs`` cuts the
formulas out of the surrounding words. ``parse_expression`` then rebuilds each
formula from an allow-list of tokens (digits, operators, single-letter
variables, a few function names) before SymPy's ``parse_expr`` sees it: the
string handed to SymPy can contain no quote, underscore, dot-attribute, bracket
or unknown name, so hostile input cannot reach ``eval`` with anything but
arithmetic. Sizes are capped (text length, digits, exponents, tree size) so a
huge power cannot hang the solver either.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

import sympy
from sympy.core.parameters import distribute
from sympy.parsing.sympy_parser import (
    TokenError,
    convert_xor,
    implicit_multiplication_application,
    parse_expr,
    rationalize,
    standard_transformations,
)

from appliance.errors import UnsupportedProblem

MAX_PROBLEM_CHARS = 600
MAX_FORMULA_CHARS = 240
MAX_NUMBER_DIGITS = 15
MAX_TREE_NODES = 300
MAX_SYMBOLIC_EXPONENT = 60
MAX_RESULT_DIGITS = 400

# "e" is Euler's number; "i", "l" and "o" are refused as variables (an imaginary
# unit, or letters that look like digits), which keeps words like "is" and "on" out.
VARIABLE_LETTERS = "abcdfghjkmnpqrstuvwxyz"
FUNCTION_NAMES: dict[str, sympy.Basic | type] = {
    "arcsin": sympy.asin,
    "arccos": sympy.acos,
    "arctan": sympy.atan,
    "arctg": sympy.atan,
    "asin": sympy.asin,
    "acos": sympy.acos,
    "atan": sympy.atan,
    "sinh": sympy.sinh,
    "cosh": sympy.cosh,
    "tanh": sympy.tanh,
    "sqrt": sympy.sqrt,
    "sin": sympy.sin,
    "sen": sympy.sin,  # Spanish
    "cos": sympy.cos,
    "tan": sympy.tan,
    "ctg": sympy.cot,
    "cot": sympy.cot,
    "sec": sympy.sec,
    "csc": sympy.csc,
    "exp": sympy.exp,
    "abs": sympy.Abs,
    "ln": sympy.log,
    "log": sympy.log,
    "tg": sympy.tan,
}
CONSTANT_NAMES: dict[str, sympy.Basic] = {"pi": sympy.pi, "oo": sympy.oo, "e": sympy.E}
# Longest first, so "sinh" wins over "sin" and "arcsin" over "sin".
_NAMES_LONGEST_FIRST = sorted([*FUNCTION_NAMES, *CONSTANT_NAMES], key=len, reverse=True)

SYMBOLS: dict[str, sympy.Symbol] = {letter: sympy.Symbol(letter) for letter in VARIABLE_LETTERS}

_LOCALS: dict[str, object] = {**SYMBOLS, **FUNCTION_NAMES, **CONSTANT_NAMES}
# parse_expr's generated code only needs the number and symbol constructors; an
# empty __builtins__ means even a name that slipped through could call nothing.
_GLOBALS: dict[str, object] = {
    "Integer": sympy.Integer,
    "Float": sympy.Float,
    "Rational": sympy.Rational,
    "Symbol": sympy.Symbol,
    # evaluate=False rewrites operators into these constructors.
    "Add": sympy.Add,
    "Mul": sympy.Mul,
    "Pow": sympy.Pow,
    "__builtins__": {},
}
_TRANSFORMATIONS = (*standard_transformations, convert_xor, rationalize, implicit_multiplication_application)

# -- normalisation ---------------------------------------------------------------------------

_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_SUBSCRIPTS = str.maketrans("₀₁₂₃₄₅₆₇₈₉₋", "0123456789-")
_UNICODE_REPLACEMENTS = {
    "−": "-", "–": "-", "—": "-", "‒": "-", "﹣": "-", "－": "-",
    "×": "*", "·": "*", "⋅": "*", "∙": "*", "∗": "*", "✕": "*",
    "÷": "/", "∕": "/", "⁄": "/",
    "≤": "<=", "⩽": "<=", "≥": ">=", "⩾": ">=",
    "→": "->", "⟶": "->", "⇒": "->",
    "π": " pi ", "∞": " oo ", "％": "%",
    "½": "(1/2)", "⅓": "(1/3)", "⅔": "(2/3)", "¼": "(1/4)", "¾": "(3/4)",
    "（": "(", "）": ")", "＝": "=", "＋": "+",
    "\u00a0": " ", "\u2009": " ", "\u202f": " ",
}
_LATEX_WORDS = {
    "cdot": "*", "times": "*", "ast": "*", "div": "/",
    "le": "<=", "leq": "<=", "leqslant": "<=", "ge": ">=", "geq": ">=", "geqslant": ">=",
    "lt": "<", "gt": ">", "to": "->", "rightarrow": "->", "longrightarrow": "->",
    "infty": " oo ", "pi": " pi ", "int": " ∫", "lim": " lim",
    "left": "", "right": "", "bigl": "", "bigr": "", "big": "", "displaystyle": "", "limits": "",
    "quad": " ", "qquad": " ", "mathrm": "", "text": "", "operatorname": "", "mathit": "",
    "%": "%", ",": " ", ";": " ", "!": "", " ": " ", ":": " ",
    "{": "(", "}": ")", "|": "|", "vert": "|", "lvert": "|", "rvert": "|",
    # Words that appear in stated answers: "x \in (0, 1)", "\boxed{4}", "\approx 0.33".
    "in": " in ", "boxed": "", "approx": " ≈ ", "cup": " ∪ ", "emptyset": " ∅ ", "varnothing": " ∅ ",
    "mathbb": " mathbb", "implies": " ", "therefore": " ", "Rightarrow": " ",
    **{name: f" {name} " for name in ("sin", "cos", "tan", "cot", "sec", "csc", "ln", "log", "exp",
                                      "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "tg", "ctg")},
}
_LATEX_COMMAND = re.compile(r"\\([A-Za-z]+|.)")


def fold(text: str) -> str:
    """Lower case without accents, for matching request words ("dérivée" -> "derivee")."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_CODE_LIKE = re.compile(
    r"__|\b(?:import|lambda|exec|eval|getattr|open|subprocess|system)\s*\(|\bimport\s+\w|"
    r"\w\s*\(\s*['\"]|[a-z_]\.[a-z_]+\s*\("
)


def check_length(text: str) -> str:
    """Refuse empty, oversized and program-like problems before any other work."""
    stripped = text.strip()
    if not stripped:
        raise UnsupportedProblem("The problem is empty.")
    if len(stripped) > MAX_PROBLEM_CHARS:
        raise UnsupportedProblem(
            f"The built-in solver reads problems of at most {MAX_PROBLEM_CHARS} characters."
        )
    if _CODE_LIKE.search(stripped):
        # Nothing here is ever evaluated, but a maths answer to program text would be a wrong answer.
        raise UnsupportedProblem("The problem looks like program code, not mathematics.")
    return stripped


def normalise(text: str, decimal_comma: bool = False) -> str:
    """One plain, lower-case notation for every way of writing the same formula."""
    text = unicodedata.normalize("NFC", check_length(text))
    text = _unicode_to_plain(text)
    text = _latex_to_plain(text)
    text = text.lower()
    text = _operator_words(text)
    text = re.sub(r"\*\*", "^", text)
    text = re.sub(r"(?<=\d)\s*:\s*(?=\d)", "/", text)  # 12 : 4 is a division in de/ru/fr
    text = re.sub(r"\|([^|]{1,80})\|", r" abs(\1) ", text)
    if decimal_comma and text.count("=") <= 1:
        text = re.sub(r"(?<=\d),(?=\d)", ".", text)
    return text


_NUMBER_BEFORE = r"(?<=[\d)])\s*"
_NUMBER_AFTER = r"\s*(?=[\d(])"
_OPERATOR_WORDS = (
    (r"times|multiplied by|mal|fois|multiplie par|multiplié par|por|multiplicado por|умножить на|"
     r"умноженное на", "*"),
    (r"divided by|geteilt durch|durch|divise par|divisé par|dividido entre|dividido por|разделить на|"
     r"делённое на|деленное на", "/"),
    (r"plus|más|mas|плюс", "+"),
    (r"minus|moins|menos|минус", "-"),
    (r"to the power of|to the power|hoch|à la puissance|a la puissance|elevado a|в степени", "^"),
)
_POWER_WORDS = ((r"squared|au carré|au carre|al cuadrado|в квадрате|zum quadrat|quadrat", "^2"),
                (r"cubed|au cube|al cubo|в кубе|hoch drei", "^3"))
# Each followed by a number ("корень из 50"): "la racine de l'équation" is not a square root.
_ROOT_WORDS = (r"(?:the )?square root of|raíz cuadrada de|raiz cuadrada de|raíz de|raiz de|квадратный корень из|"
               r"корень из|(?:die )?(?:quadrat)?wurzel (?:aus|von)|racine carrée de|racine carree de|racine de")


def _operator_words(text: str) -> str:
    """ "3 times 4", "2 to the power of 10", "5 squared", "square root of 144" between numbers."""
    for words, symbol in _OPERATOR_WORDS:
        text = re.sub(rf"{_NUMBER_BEFORE}\b(?:{words})\b{_NUMBER_AFTER}", f" {symbol} ", text)
    for words, power in _POWER_WORDS:
        text = re.sub(rf"{_NUMBER_BEFORE}\b(?:{words})\b", power, text)
    return re.sub(rf"\b(?:{_ROOT_WORDS})\s*(\d+(?:\.\d+)?)", r" sqrt(\1)", text)


def _unicode_to_plain(text: str) -> str:
    for source, target in _UNICODE_REPLACEMENTS.items():
        text = text.replace(source, target)
    text = re.sub(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]+", lambda m: "^(" + m.group(0).translate(_SUPERSCRIPTS) + ")", text)
    text = re.sub(r"[₀₁₂₃₄₅₆₇₈₉₋]+", lambda m: "_(" + m.group(0).translate(_SUBSCRIPTS) + ")", text)
    text = text.replace("∫", " ∫")
    # √ binds to the next number, letter or bracket: √2, √x, √(x+1); ∛ likewise.
    text = re.sub(r"∛\s*(\d+(?:\.\d+)?|[A-Za-z])", r"(\1)^(1/3)", text)
    text = re.sub(r"√\s*(\d+(?:\.\d+)?|[A-Za-z](?![A-Za-z]))", r"sqrt(\1)", text)
    text = text.replace("√", " sqrt").replace("∛", " cbrt")
    return text


def _latex_group(text: str, start: int) -> tuple[str, int]:
    """The {...} group (or single character) at ``start``; returns (content, index after it)."""
    index = start
    while index < len(text) and text[index] == " ":
        index += 1
    if index >= len(text):
        raise UnsupportedProblem("A LaTeX command is missing its argument.")
    if text[index] != "{":
        if text[index] == "\\":
            match = _LATEX_COMMAND.match(text, index)
            assert match is not None
            return match.group(0), match.end()
        return text[index], index + 1
    depth = 0
    for position in range(index, len(text)):
        if text[position] == "{":
            depth += 1
        elif text[position] == "}":
            depth -= 1
            if depth == 0:
                return text[index + 1 : position], position + 1
    raise UnsupportedProblem("A LaTeX brace is not closed.")


def _latex_to_plain(text: str) -> str:
    """Rewrite the LaTeX a person types for school maths; refuse any other command."""
    if "\\" not in text and "{" not in text:
        return text
    text = re.sub(r"\$|\\\(|\\\)|\\\[|\\\]", " ", text)
    text = re.sub(r"\\[dt]?frac\s*\{\s*d\s*\}\s*\{\s*d\s*([A-Za-z])\s*\}", r" d/d\1 ", text)
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            match = _LATEX_COMMAND.match(text, index)
            assert match is not None
            word = match.group(1)
            index = match.end()
            if word in ("frac", "dfrac", "tfrac"):
                numerator, index = _latex_group(text, index)
                denominator, index = _latex_group(text, index)
                out.append(f"(({_latex_to_plain(numerator)})/({_latex_to_plain(denominator)}))")
            elif word == "sqrt":
                root_index = ""
                probe = index
                while probe < len(text) and text[probe] == " ":
                    probe += 1
                if probe < len(text) and text[probe] == "[":
                    close = text.find("]", probe)
                    if close < 0:
                        raise UnsupportedProblem("A LaTeX bracket is not closed.")
                    root_index, index = text[probe + 1 : close], close + 1
                radicand, index = _latex_group(text, index)
                if root_index:
                    out.append(f"(({_latex_to_plain(radicand)})^(1/({_latex_to_plain(root_index)})))")
                else:
                    out.append(f" sqrt({_latex_to_plain(radicand)})")
            elif word in _LATEX_WORDS:
                out.append(_LATEX_WORDS[word])
            else:
                raise UnsupportedProblem(f"The built-in solver does not know the LaTeX command \\{word}.")
        elif char == "{":
            out.append("(")
            index += 1
        elif char == "}":
            out.append(")")
            index += 1
        else:
            out.append(char)
            index += 1
    return "".join(out)


# -- cutting formulas out of sentences ---------------------------------------------------------

_TOKEN = re.compile(
    r"(?P<num>\d+(?:\.\d+)?)"
    r"|(?P<name>[^\W\d_]+)"
    r"|(?P<op>->|<=|>=|[-+*/^()=<>%])"
    r"|(?P<comma>,)"
    r"|(?P<newline>\n)"
    r"|(?P<space>[ \t\r]+)"
    r"|(?P<other>.)",
    re.S,
)


@dataclass(frozen=True)
class Token:
    kind: str  # num, name, op, comma, newline, space, other
    text: str
    math_names: tuple[str, ...] | None = None  # for a name: its decomposition, when mathematical


def decompose_name(word: str) -> list[str] | None:
    """Split a letter run into known names and variables ("xsinx" -> x, sin, x), or None."""
    parts: list[str] = []
    index = 0
    while index < len(word):
        for name in _NAMES_LONGEST_FIRST:
            if word.startswith(name, index):
                parts.append(name)
                index += len(name)
                break
        else:
            if word[index] in VARIABLE_LETTERS:
                parts.append(word[index])
                index += 1
            else:
                return None
    return parts


def tokenize(text: str) -> list[Token]:
    raw = [(m.lastgroup or "other", m.group(0)) for m in _TOKEN.finditer(text)]
    tokens: list[Token] = []
    for position, (kind, value) in enumerate(raw):
        if kind != "name":
            tokens.append(Token(kind, value))
            continue
        parts = decompose_name(value) if value.isascii() else None
        glued = _glued(raw, position)
        if parts is not None and not glued and len(parts) > 1:
            # A free-standing word is maths only as a function applied to one letter ("sinx");
            # otherwise "by", "at", "cost" would read as products of variables.
            is_function_of_letter = (
                len(parts) == 2 and parts[0] in FUNCTION_NAMES and len(parts[1]) == 1
            )
            if not is_function_of_letter:
                parts = None
        tokens.append(Token("name", value, tuple(parts) if parts is not None else None))
    return _mark_connector_y(tokens)


def _glued(raw: list[tuple[str, str]], position: int) -> bool:
    """Whether a letter run touches a number, operator or bracket with no space between."""
    neighbours = [raw[i][0] for i in (position - 1, position + 1) if 0 <= i < len(raw)]
    return any(kind in ("num", "op") for kind in neighbours)


def _is_operand(token: Token | None, opening: bool) -> bool:
    if token is None:
        return False
    if token.kind == "num" or (token.kind == "name" and token.math_names is not None):
        return True
    return token.kind == "op" and token.text == ("(" if opening else ")")


def _mark_connector_y(tokens: list[Token]) -> list[Token]:
    """A free "y" between two operands is the Spanish "and" ("x = 2 y y = 3"), not a variable."""
    solid = [i for i, t in enumerate(tokens) if t.kind != "space"]
    for order, index in enumerate(solid):
        token = tokens[index]
        if token.kind != "name" or token.text != "y":
            continue
        before = tokens[solid[order - 1]] if order > 0 else None
        after = tokens[solid[order + 1]] if order + 1 < len(solid) else None
        spaced = index > 0 and tokens[index - 1].kind == "space" and index + 1 < len(tokens) \
            and tokens[index + 1].kind == "space"
        if spaced and _is_operand(before, opening=False) and _is_operand(after, opening=True):
            tokens[index] = Token("name", "y", None)
    return tokens


def _is_math(token: Token) -> bool:
    if token.kind in ("num", "op", "comma", "space"):
        return True
    return token.kind == "name" and token.math_names is not None


def math_runs(text: str) -> list[str]:
    """The formulas of a sentence, in order: "Solve 2x + 3 = 11 for x" -> ["2x + 3 = 11", "x"]."""
    runs: list[str] = []
    current: list[str] = []
    for token in tokenize(text):
        if _is_math(token):
            current.append(token.text)
            continue
        runs.append("".join(current))
        current = []
    runs.append("".join(current))
    cleaned = (run.strip(" ,\t\r") for run in runs)
    return [run for run in cleaned if run and re.search(r"[0-9a-z]", run)]


def formula_weight(run: str) -> int:
    """How formula-like a run is: operators and digits count, lone words do not."""
    return len(re.findall(r"[-+*/^=<>()]|\d+|\b[a-z]\b", run)) + 2 * len(re.findall(r"[=<>]", run))


# -- safe parsing ----------------------------------------------------------------------------------

_SAFE_TOKEN = re.compile(r"\d+(?:\.\d+)?|[a-z]+|<=|>=|[-+*/^()=<>%]|\s+")


def _safe_source(source: str) -> str:
    """Rebuild a formula from allowed tokens only; anything else is refused."""
    if len(source) > MAX_FORMULA_CHARS:
        raise UnsupportedProblem("The formula is too long for the built-in solver.")
    pieces: list[str] = []
    position = 0
    for match in _SAFE_TOKEN.finditer(source):
        if match.start() != position:
            break
        position = match.end()
        token = match.group(0)
        if token[0].isdigit():
            if len(token.replace(".", "")) > MAX_NUMBER_DIGITS:
                raise UnsupportedProblem("A number in the problem has too many digits.")
            pieces.append(token)
        elif token.isalpha():
            parts = decompose_name(token)
            if parts is None or ("oo" in parts and len(parts) > 1):
                raise UnsupportedProblem(f"The built-in solver does not understand “{token}”.")
            pieces.append(" " + " ".join(parts) + " ")
        elif token == "%":
            pieces.append("/100")
        elif token.isspace():
            pieces.append(" ")
        else:
            pieces.append(token)
    if position != len(source):
        raise UnsupportedProblem(f"The built-in solver does not understand “{source[position:position + 20]}”.")
    return "".join(pieces).strip()


def _check_size(expr: sympy.Basic) -> None:
    """Refuse trees that would take SymPy a long time: huge powers, deep nesting."""
    nodes = 0
    for node in sympy.preorder_traversal(expr):
        nodes += 1
        if nodes > MAX_TREE_NODES:
            raise UnsupportedProblem("The formula is too large for the built-in solver.")
        if isinstance(node, sympy.Pow):
            base, exponent = node.args
            if not exponent.is_number:
                continue
            exponent_size = _magnitude(exponent)
            if base.is_number:
                base_size = max(_magnitude(base), 2.0)
                if exponent_size * math.log10(base_size) > MAX_RESULT_DIGITS:
                    raise UnsupportedProblem("The numbers in the problem are too large.")
            elif exponent_size > MAX_SYMBOLIC_EXPONENT:
                raise UnsupportedProblem("The exponent is too large for the built-in solver.")
        if isinstance(node, sympy.Function) and any(arg.is_number and _magnitude(arg) > 1e6 for arg in node.args):
            raise UnsupportedProblem("The numbers in the problem are too large.")


def _magnitude(number: sympy.Basic) -> float:
    """|number| as a float, or infinity when it cannot be bounded cheaply."""
    if isinstance(number, sympy.Rational):
        numerator, denominator = abs(int(number.p)), int(number.q)
        if numerator.bit_length() > 2000:
            return math.inf
        return numerator / denominator
    if number.has(sympy.Pow):
        # Unevaluated nested power: bound it through its parts first.
        _check_size(number)
    try:
        value = complex(sympy.N(number, 8))
    except (TypeError, ValueError, OverflowError):
        return math.inf
    return abs(value)


def parse_expression(source: str, evaluate: bool = True) -> sympy.Expr:
    """Parse one formula (no relation sign) from the allow-listed notation.

    ``evaluate=False`` keeps the written structure (``2(x - 3)`` stays a product).
    """
    safe = _safe_source(source)
    if not safe or re.search(r"[=<>]", safe):
        raise UnsupportedProblem("Expected a formula here, not an equation.")
    if re.search(r"\(\s*\)", safe):
        raise UnsupportedProblem(f"The built-in solver could not read the formula “{source.strip()}”.")
    try:
        unevaluated = parse_expr(safe, local_dict=dict(_LOCALS), global_dict=dict(_GLOBALS),
                                 transformations=_TRANSFORMATIONS, evaluate=False)
        _check_size(unevaluated)
        if evaluate:
            # distribute(False) keeps 2(x + 3) as written (SymPy would make it 2x + 6), so the
            # problem on screen is the one the person typed and "expand" has something to do.
            with distribute(False):
                expr = parse_expr(safe, local_dict=dict(_LOCALS), global_dict=dict(_GLOBALS),
                                  transformations=_TRANSFORMATIONS)
        else:
            expr = unevaluated
    except UnsupportedProblem:
        raise
    except (SyntaxError, TokenError, TypeError, ValueError, AttributeError, ZeroDivisionError,
            RecursionError, IndexError, KeyError, NameError) as exc:
        raise UnsupportedProblem(f"The built-in solver could not read the formula “{source.strip()}”.") from exc
    if not isinstance(expr, sympy.Expr) or expr.has(sympy.zoo, sympy.nan):
        raise UnsupportedProblem(f"The formula “{source.strip()}” has no value (division by zero?).")
    return expr


_RELATION_SPLIT = re.compile(r"(<=|>=|=|<|>)")


@dataclass(frozen=True)
class ParsedRelation:
    """A chain like ``1 < 2x + 1 <= 7``: ``sides`` has one more entry than ``signs``."""

    sides: tuple[sympy.Expr, ...]
    signs: tuple[str, ...]


def parse_relation(source: str) -> ParsedRelation:
    parts = _RELATION_SPLIT.split(source.replace("->", " "))
    sides = tuple(parse_expression(part) for part in parts[0::2])
    signs = tuple(parts[1::2])
    if not signs:
        raise UnsupportedProblem("Expected an equation or an inequality.")
    return ParsedRelation(sides, signs)


def parse_bound(text: str) -> sympy.Expr:
    """An integration bound or limit point: a number, pi, e, ±oo or a small formula."""
    cleaned = text.strip().strip("()").strip()
    if cleaned in ("oo", "+oo", "infinity", "+infinity", "inf", "+inf"):
        return sympy.oo
    if cleaned in ("-oo", "-infinity", "-inf"):
        return -sympy.oo
    value = parse_expression(cleaned)
    if value.free_symbols:
        raise UnsupportedProblem("A bound must be a number.")
    return value
