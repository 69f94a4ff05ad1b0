"""An answer line as MathML, so the page shows ``x³cos(x)`` and not ``x^3cos(x)``.

Chromium, Firefox and Safari draw MathML Core natively: no script and no font leave the
appliance. ``answer_mathml`` reads the plain notation the built-in solver writes
(``f'(x) = x^3cos(x) + 3x^2sin(x)``, ``A = 25π ≈ 78.54``, ``x ∈ (-∞, 2)``) and the LaTeX a
model or the solver may give (``\\frac{x^2}{2} + C``, ``\\sqrt{2}``), and gives None for
anything else (a sentence, unbalanced brackets), which the page then shows as text.

Nothing is evaluated: each token becomes an element, every character is escaped, and the
input is short (``MAX_CHARS``). The written order is kept (no computer algebra reorders it).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from functools import lru_cache

MAX_CHARS = 300
MAX_PROSE_WORDS = 1  # "x = 5 meters" is maths; "The hypotenuse is 10" is a sentence

FUNCTIONS = frozenset({
    "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
    "ln", "log", "exp", "lim", "max", "min", "gcd", "lcm", "det", "abs", "sgn", "tg", "ctg",
})
_FUNCTIONS_LONGEST_FIRST = sorted(FUNCTIONS, key=len, reverse=True)
CONNECTORS = frozenset({"or", "and", "или", "oder", "und", "ou", "et"})  # not "y", "o", "и": variables too
UNITS = frozenset({"m", "cm", "mm", "km", "kg", "g", "s", "h", "l", "ml", "min", "deg"})
OPERATORS = {
    "+": "+", "-": "−", "−": "−", "*": "·", "·": "·", "×": "×", "/": "/", "÷": "÷", "=": "=", "<": "<",
    ">": ">", "≤": "≤", "≥": "≥", "≠": "≠", "≈": "≈", "±": "±", "∓": "∓", ",": ",", ";": ";", ":": ":",
    "∈": "∈", "∉": "∉", "∪": "∪", "∩": "∩", "→": "→", "!": "!", "|": "|", "%": "%", "°": "°", "'": "′",
    "′": "′", "≡": "≡", "∝": "∝",
}
IDENTIFIERS = {"π": "π", "∞": "∞", "∅": "∅", "ℝ": "ℝ", "θ": "θ", "α": "α", "β": "β", "λ": "λ", "φ": "φ"}
LATEX_SYMBOLS = {
    "pi": ("mi", "π"), "infty": ("mi", "∞"), "infinity": ("mi", "∞"), "theta": ("mi", "θ"),
    "alpha": ("mi", "α"), "beta": ("mi", "β"), "gamma": ("mi", "γ"), "lambda": ("mi", "λ"),
    "mu": ("mi", "μ"), "sigma": ("mi", "σ"), "phi": ("mi", "φ"), "omega": ("mi", "ω"), "Delta": ("mi", "Δ"),
    "emptyset": ("mi", "∅"), "varnothing": ("mi", "∅"), "cdot": ("mo", "·"), "times": ("mo", "×"),
    "div": ("mo", "÷"), "pm": ("mo", "±"), "mp": ("mo", "∓"), "leq": ("mo", "≤"), "le": ("mo", "≤"),
    "geq": ("mo", "≥"), "ge": ("mo", "≥"), "neq": ("mo", "≠"), "ne": ("mo", "≠"), "approx": ("mo", "≈"),
    "to": ("mo", "→"), "rightarrow": ("mo", "→"), "in": ("mo", "∈"), "cup": ("mo", "∪"), "cap": ("mo", "∩"),
    "circ": ("mo", "∘"), "prime": ("mo", "′"), "equiv": ("mo", "≡"), "lt": ("mo", "<"), "gt": ("mo", ">"),
}
LATEX_IGNORED = frozenset({"left", "right", "displaystyle", "quad", "qquad", "big", "Big", "bigl", "bigr",
                           "limits", "nolimits", "mathrm", "mathit", "boldsymbol", "mathbf"})
SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789−+")
_TOKEN = re.compile(
    r"\\[A-Za-z]+|\\.|\d+(?:\.\d+)?|[^\W\d_⁰¹²³⁴⁵⁶⁷⁸⁹]+|[⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]+|√|∛|\s+|."
)
_CLOSING = {"(": ")", "[": "]", "{": "}"}


class _Unreadable(Exception):
    """The text is not an answer line this module can draw."""


def answer_mathml(text: str | None) -> str | None:
    """``text`` as one ``<math>`` element, or None when it is not a line of maths."""
    if not text or len(text) > MAX_CHARS:
        return None
    return _convert(text)


@lru_cache(maxsize=512)
def _convert(text: str) -> str | None:
    cleaned = re.sub(r"\$|`|\\\(|\\\)|\\\[|\\\]", " ", text).strip().rstrip(".")
    cleaned = re.sub(r"\*\*(.+?)\*\*", r"\1", cleaned)
    if not cleaned:
        return None
    try:
        body = _Parser(_tokens(cleaned)).sequence(end=None)
    except _Unreadable:
        return None
    alt = html.escape(text.strip(), quote=True)
    return f'<math display="inline" alttext="{alt}"><mrow>{body}</mrow></math>'


def _tokens(text: str) -> list[str]:
    tokens = [token for token in _TOKEN.findall(text) if token]
    words = [t for t in tokens if t[0].isalpha() and len(t) > 1 and not _split_name(t) and t.lower() not in CONNECTORS
             and t not in UNITS]
    if len(words) > MAX_PROSE_WORDS:
        raise _Unreadable()
    return tokens


def _split_name(word: str) -> list[str] | None:
    """A run of letters as function names and single letters: "xcos" -> ["x", "cos"]; None for a
    word that is not one (three or more single letters in a row read as a word, not a product)."""
    parts: list[str] = []
    position = 0
    letters = 0
    while position < len(word):
        for name in _FUNCTIONS_LONGEST_FIRST:
            if word.startswith(name, position):
                parts.append(name)
                position += len(name)
                letters = 0
                break
        else:
            parts.append(word[position])
            position += 1
            letters += 1
            if letters > 2:
                return None
    return parts


def _el(tag: str, content: str) -> str:
    return f"<{tag}>{content}</{tag}>"


def _text(tag: str, value: str) -> str:
    return f"<{tag}>{html.escape(value, quote=False)}</{tag}>"


class _Parser:
    """Tokens -> MathML, one atom at a time; ``^``, ``_`` and superscript digits attach to the atom
    before them."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.position = 0

    def _peek(self) -> str | None:
        while self.position < len(self.tokens) and self.tokens[self.position].isspace():
            self.position += 1
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _next(self) -> str:
        token = self._peek()
        if token is None:
            raise _Unreadable()
        self.position += 1
        return token

    def sequence(self, end: str | None) -> str:
        atoms: list[str] = []
        previous_number = False
        while True:
            token = self._peek()
            if token is None:
                if end is not None:
                    raise _Unreadable()  # an opening bracket never closed
                return "".join(atoms)
            if token == end:
                self.position += 1
                return "".join(atoms)
            if token in (")", "]", "}"):
                raise _Unreadable()  # a closing bracket never opened
            if token in ("^", "_"):
                self.position += 1
                if not atoms:
                    raise _Unreadable()
                script = self._script()
                atoms[-1] = _el("msup" if token == "^" else "msub", atoms[-1] + script)
                previous_number = False
                continue
            if token[0] in "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺":
                self.position += 1
                if not atoms:
                    raise _Unreadable()
                atoms[-1] = _el("msup", atoms[-1] + _number_or_row(token.translate(SUPERSCRIPTS)))
                continue
            unit = previous_number and token in UNITS
            atoms.extend(self._atom(unit))
            previous_number = token[0].isdigit()

    def _script(self) -> str:
        """What follows ``^`` or ``_``: one atom, a bracket's content without the brackets."""
        token = self._peek()
        if token in ("(", "{"):
            self.position += 1
            return _el("mrow", self.sequence(_CLOSING[token]))
        if token in ("-", "−", "+"):
            self.position += 1
            return _el("mrow", _text("mo", OPERATORS[token]) + "".join(self._atom(False)))
        atoms = self._atom(False)
        if len(atoms) != 1:
            return _el("mrow", atoms[0])  # a word's first letter only: x^ab is x^a b
        return atoms[0]

    def _operand(self) -> str:
        """The one thing a root or a fraction applies to: a bracket's content, or one atom."""
        token = self._peek()
        if token in ("(", "{"):
            self.position += 1
            return _el("mrow", self.sequence(_CLOSING[token]))
        atoms = self._atom(False)
        return atoms[0] if len(atoms) == 1 else _el("mrow", "".join(atoms))

    def _atom(self, unit: bool) -> list[str]:
        token = self._next()
        if token[0].isdigit():
            return [_text("mn", token)]
        if token.startswith("\\"):
            return self._latex(token[1:])
        if token[0].isalpha():
            return self._word(token, unit)
        if token in ("(", "["):
            return [_el("mrow", _text("mo", token) + self.sequence(_CLOSING[token]) + _text("mo", _CLOSING[token]))]
        if token == "{":
            return [_el("mrow", self.sequence("}"))]
        if token == "√":
            return [_el("msqrt", self._operand())]
        if token == "∛":
            return [_el("mroot", self._operand() + _text("mn", "3"))]
        if token in IDENTIFIERS:
            return [_text("mi", IDENTIFIERS[token])]
        if token in OPERATORS:
            return [_text("mo", OPERATORS[token])]
        raise _Unreadable()

    def _word(self, word: str, unit: bool) -> list[str]:
        if word.lower() in CONNECTORS:
            return [_text("mtext", f"\u2002{word}\u2002")]
        if unit:
            return [f'<mi mathvariant="normal">{html.escape(word, quote=False)}</mi>']
        parts = _split_name(word)
        if parts is None:
            return [_text("mtext", f"\u2002{word}\u2002")]  # one of the few words a line of maths may have
        return [_text("mi", part) for part in parts]

    def _latex(self, command: str) -> list[str]:
        handlers: dict[str, Callable[[], list[str]]] = {
            "frac": self._fraction, "dfrac": self._fraction, "tfrac": self._fraction, "sqrt": self._root,
            "text": self._text_group, "mathrm": self._text_group, "operatorname": self._name_group,
        }
        if command in handlers:
            return handlers[command]()
        if command in LATEX_SYMBOLS:
            tag, value = LATEX_SYMBOLS[command]
            return [_text(tag, value)]
        if command in FUNCTIONS:
            return [_text("mi", command)]
        if command in LATEX_IGNORED or (len(command) == 1 and not command.isalnum()):
            if command in ("{", "}", "%", "$", "|"):
                return [_text("mo", command)]
            return []  # spacing (\, \; \!) and sizing only
        raise _Unreadable()

    def _fraction(self) -> list[str]:
        return [_el("mfrac", self._operand() + self._operand())]

    def _root(self) -> list[str]:
        if self._peek() == "[":
            self.position += 1
            index = self.sequence("]")
            return [_el("mroot", self._operand() + _el("mrow", index))]
        return [_el("msqrt", self._operand())]

    def _group_text(self) -> str:
        if self._next() != "{":
            raise _Unreadable()
        words: list[str] = []
        while (token := self._next_raw()) != "}":
            words.append(token)
        return "".join(words).strip()

    def _next_raw(self) -> str:
        if self.position >= len(self.tokens):
            raise _Unreadable()
        token = self.tokens[self.position]
        self.position += 1
        return token

    def _text_group(self) -> list[str]:
        return [_text("mtext", self._group_text())]

    def _name_group(self) -> list[str]:
        return [_text("mi", self._group_text())]


def _number_or_row(text: str) -> str:
    if text.isdigit():
        return _text("mn", text)
    return _el("mrow", "".join(_text("mo", ch) if not ch.isdigit() else _text("mn", ch) for ch in text))
