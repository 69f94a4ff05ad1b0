"""Pull the scene's Python source out of a model's reply.

Models wrap code in Markdown fences (```python, ```py, ``` or ~~~), put chatter
before and after it, sometimes give several blocks (a first draft, a usage
example, a shell command) and sometimes forget the closing fence when they run
out of tokens. The block that defines a Scene subclass is the one to render.
"""

from __future__ import annotations

import re

from appliance.python_syntax import parse_module

# An opening fence, its info string, then everything up to a matching closing fence
# (or the end of the text, for a reply cut off mid-block).
_FENCE = re.compile(
    r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)\n(?P<body>.*?)(?:^[ \t]*(?P=fence)[ \t]*$|\Z)",
    re.MULTILINE | re.DOTALL,
)
_SCENE_CLASS = re.compile(r"^\s*class\s+\w+\s*\([^)]*Scene[^)]*\)\s*:", re.MULTILINE)
_CODE_START = re.compile(r"^(from\s+\w|import\s+\w|class\s+\w|def\s+\w|@\w|#)")
_CODE_LINE = re.compile(
    r"^([A-Za-z_][\w.]*\s*(\(|=|\[|\+=|-=|:\s*$)|(if|for|while|with|try|except|else|elif|return|"
    r"raise|pass|break|continue|async|await|print)\b|[)\]}])"
)
_PYTHON_INFOS = ("python", "py", "python3", "")

# Past this many lines of trailing prose the reply is not "code plus a remark" any more.
_MAX_TRAILING_LINES_TRIMMED = 40


def extract_code(text: str) -> str:
    """The Python source of the scene inside ``text`` (a reply or plain code)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    blocks = [
        (match.group("info").strip().lower(), match.group("body"))
        for match in _FENCE.finditer(text)
    ]
    if blocks:
        return _best_block(blocks).strip("\n") + "\n"
    return _unfenced_code(text).strip("\n") + "\n"


def _best_block(blocks: list[tuple[str, str]]) -> str:
    with_scene = [body for _info, body in blocks if _SCENE_CLASS.search(body)]
    if with_scene:
        # A later block that defines a scene is usually the corrected, complete one,
        # unless it is only a fragment: prefer the longest, then the last.
        return max(reversed(with_scene), key=len)
    python_blocks = [body for info, body in blocks if (info.split() or [""])[0] in _PYTHON_INFOS]
    candidates = python_blocks or [body for _info, body in blocks]
    return max(candidates, key=len)


def _unfenced_code(text: str) -> str:
    if _parses(text):
        return text
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if _CODE_START.match(line)), 0)
    body = lines[start:]
    # Drop trailing prose ("This shows x squared."), never code: a broken last
    # statement must still reach the parser so its syntax error names the line.
    end = len(body)
    while end > 0 and len(body) - end < _MAX_TRAILING_LINES_TRIMMED and _is_prose(body[end - 1]):
        end -= 1
    return "\n".join(body[:end])


def _is_prose(line: str) -> bool:
    if not line.strip():
        return True
    return not (line[0].isspace() or _CODE_START.match(line) or _CODE_LINE.match(line))


def _parses(source: str) -> bool:
    try:
        parse_module(source)
    except (SyntaxError, ValueError):
        return False
    return True
