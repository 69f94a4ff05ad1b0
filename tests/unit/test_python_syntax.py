"""Parsing Python in the appliance's threads: one shared, serialised parser (appliance/python_syntax.py)."""

from __future__ import annotations

import ast
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from appliance.python_syntax import parse_expression, parse_module

ROOT = Path(__file__).resolve().parents[2]


def test_no_module_of_the_appliance_parses_python_on_its_own() -> None:
    """CPython 3.11 can fail a tree built while another thread builds one ("AST constructor
    recursion depth mismatch"; a CI run failed a job with it): every parse takes the one lock."""
    direct = [f"{path.relative_to(ROOT)}:{number}"
              for folder in ("appliance", "frontends") for path in sorted((ROOT / folder).rglob("*.py"))
              if path.name != "python_syntax.py"
              for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
              if re.search(r"\bast\.parse\(", line)]
    assert direct == []


def test_parses_from_many_threads_at_once_all_come_back_whole() -> None:
    scene = "from manim import *\n\nclass S(Scene):\n    def construct(self):\n" + "".join(
        f"        self.play(Write(MathTex(r'x^{n}' + str([[{n}, ({n}, [{n}])]]))))\n" for n in range(60))
    with ThreadPoolExecutor(8) as pool:
        trees = list(pool.map(lambda _: parse_module(scene, filename="scene.py"), range(200)))
    expected = ast.dump(ast.parse(scene))
    assert all(ast.dump(tree) == expected for tree in trees)
    assert ast.dump(parse_expression("x**2 + 1")) == ast.dump(ast.parse("x**2 + 1", mode="eval"))
