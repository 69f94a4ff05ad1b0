"""Every parse of Python source in the appliance's process goes through here, one at a time.

CPython 3.11 counts how deep it is while building an AST in state that all threads share
(python/cpython#106905 and its relatives): two threads building trees at once can make one
fail with "SystemError: AST constructor recursion depth mismatch". Jobs validate, repair and
read scenes in parallel threads, and CI saw exactly that fail a job. Parsing takes
milliseconds, so one lock costs nothing a person notices.
"""

from __future__ import annotations

import ast
import threading

_ONE_AT_A_TIME = threading.Lock()


def parse_module(source: str, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse(source)``; raises SyntaxError or ValueError as it does."""
    with _ONE_AT_A_TIME:
        return ast.parse(source, filename=filename)


def parse_expression(source: str) -> ast.Expression:
    """``ast.parse(source, mode="eval")``; raises SyntaxError or ValueError as it does."""
    with _ONE_AT_A_TIME:
        return ast.parse(source, mode="eval")
