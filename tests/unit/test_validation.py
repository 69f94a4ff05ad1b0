"""validate_and_repair: extraction, policy refusals, scene choice, size cap."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap

import pytest

from appliance.errors import CodeRejected
from appliance.validation import COMPAT_PRELUDE, ValidatedScene, extract_code, validate_and_repair

GOOD_SCENE = textwrap.dedent(
    """\
    from manim import *

    class SolutionScene(Scene):
        def construct(self):
            # a comment the user wrote
            title = MathTex(r"x^2 = 4")
            self.play(Write(title))
            self.wait()
    """
)


def scene_body(body: str, header: str = "from manim import *\n") -> str:
    """A scene whose construct() holds ``body`` (one statement a line)."""
    lines = "\n".join("        " + line for line in body.strip().splitlines())
    return f"{header}\nclass SolutionScene(Scene):\n    def construct(self):\n{lines}\n"


def rejection(code: str, **kwargs: int) -> str:
    with pytest.raises(CodeRejected) as caught:
        validate_and_repair(code, **kwargs)
    return caught.value.reason


# -- clean code passes untouched ----------------------------------------------------------


def test_clean_code_is_returned_unchanged_with_its_comments() -> None:
    scene = validate_and_repair(GOOD_SCENE)
    assert scene == ValidatedScene(code=GOOD_SCENE, scene_name="SolutionScene", repairs=[])
    assert "# a comment the user wrote" in scene.code


# -- extraction ---------------------------------------------------------------------------


def test_extracts_the_python_fence_from_chatter() -> None:
    reply = f"Here is the scene:\n\n```python\n{GOOD_SCENE}```\n\nRun it with `manim -pql scene.py`."
    assert extract_code(reply) == GOOD_SCENE
    assert validate_and_repair(reply).scene_name == "SolutionScene"


def test_picks_the_fence_that_defines_a_scene_among_several() -> None:
    reply = (
        "Install first:\n```bash\npip install manim\n```\n"
        "A helper:\n```python\ndef f(x):\n    return x ** 2\n```\n"
        f"And the scene:\n```\n{GOOD_SCENE}```\nDone."
    )
    assert extract_code(reply) == GOOD_SCENE


def test_takes_an_unterminated_fence_to_the_end() -> None:
    reply = "Sure!\n```python\n" + GOOD_SCENE
    assert extract_code(reply) == GOOD_SCENE


def test_unfenced_reply_loses_leading_and_trailing_chatter() -> None:
    reply = "Here you go, a scene that shows the equation.\n\n" + GOOD_SCENE + "\nThis shows x squared."
    assert extract_code(reply) == GOOD_SCENE


def test_tilde_fences_and_py_info_string_work() -> None:
    reply = f"~~~py\n{GOOD_SCENE}~~~\n"
    assert extract_code(reply) == GOOD_SCENE


def test_code_indented_as_a_whole_is_dedented() -> None:
    indented = textwrap.indent(GOOD_SCENE, "    ")
    scene = validate_and_repair(indented)
    assert scene.code.startswith("from manim import *")
    assert scene.repairs[0] == "removed the indentation common to every line"


# -- syntax and size ----------------------------------------------------------------------


def test_syntax_error_names_the_line() -> None:
    reason = rejection(scene_body("self.play(Write(MathTex('x'))\nself.wait()"))
    assert reason.startswith("line ")
    assert "syntax error" in reason


def test_size_cap_counts_bytes_and_says_the_limit() -> None:
    code = scene_body("self.wait()") + "# " + "é" * 600 + "\n"
    reason = rejection(code, max_bytes=1000)
    assert "over the limit of 1000" in reason
    assert validate_and_repair(code, max_bytes=2000).scene_name == "SolutionScene"


def test_code_with_a_lone_surrogate_is_refused_for_repair_not_a_crash() -> None:
    reason = rejection(scene_body('self.add(Text("\ud800"))'))
    assert reason.startswith("the scene code contains a character that is not valid text (U+D800)")


def test_a_reply_without_code_is_refused() -> None:
    reason = rejection("I cannot draw that, sorry.")
    assert reason == "the reply contains no Python code: answer with one ```python block"


# -- policy -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement, construct",
    [
        ("import os", "import os"),
        ("import subprocess", "import subprocess"),
        ("from socket import socket", "import socket"),
        ("import ctypes", "import ctypes"),
        ("import importlib", "import importlib"),
        ("from shutil import rmtree", "import shutil"),
        ("from pathlib import Path", "import pathlib"),
        ("import pickle", "import pickle"),
        ("import builtins", "import builtins"),
        ("import urllib.request", "import urllib.request"),
        ("import requests", "import requests"),
        ("import os.path as p", "import os.path"),
    ],
)
def test_refuses_imports_outside_the_allow_list(statement: str, construct: str) -> None:
    reason = rejection(scene_body("self.wait()", header=f"from manim import *\n{statement}\n"))
    assert reason.startswith("line 2:")
    assert f"`{construct}`" in reason
    assert "numpy" in reason  # says what is allowed


def test_allows_the_usual_scientific_imports() -> None:
    header = (
        "from __future__ import annotations\nfrom manim import *\nimport numpy as np\nimport math\n"
        "import random\nfrom sympy import symbols\nimport itertools, functools\nfrom fractions import Fraction\n"
        "from manim.utils.rate_functions import smooth\nfrom collections import OrderedDict\n"
    )
    scene = validate_and_repair(scene_body("self.wait()", header=header))
    assert scene.scene_name == "SolutionScene"


def test_refuses_a_missing_plugin_with_what_to_do_instead() -> None:
    reason = rejection(scene_body("self.wait()", header="from manim import *\nfrom manim_slides import V\n"))
    assert "plugin manim_slides is not installed" in reason
    assert "use a plain Scene" in reason


@pytest.mark.parametrize(
    "body, construct",
    [
        ("open('/etc/passwd').read()", "`open`"),
        ("eval('1+1')", "`eval`"),
        ("exec('x = 1')", "`exec`"),
        ("compile('1', 'f', 'eval')", "`compile`"),
        ("__import__('os')", "`__import__`"),
        ("globals()['x'] = 1", "`globals`"),
        ("print(locals())", "`locals`"),
        ("vars(self)", "`vars`"),
        ("breakpoint()", "`breakpoint`"),
        ("input()", "`input`"),
        ("f = eval", "`eval`"),
        ("().__class__.__bases__[0].__subclasses__()", "`__subclasses__`"),
        ("self.construct.__globals__", "`__globals__`"),
        ("x = self.__dict__", "`__dict__`"),
        ("y = (lambda: 0).__code__", "`__code__`"),
        ("b = __builtins__", "`__builtins__`"),
        ("getattr(self, '__class__')", "`getattr` on `__class__`"),
        ("getattr(self, 'con' + 'struct')", "`getattr` with a computed attribute name"),
        ("setattr(Scene, '__init__', None)", "`setattr` on `__init__`"),
        ("t = '{0.__class__}'.format(self)", "`__class__`"),
        ("np.load('data.npy', allow_pickle=True)", "`allow_pickle`"),
        ("g = self.construct.__func__.f_globals", "`f_globals`"),
    ],
)
def test_refuses_escape_hatches_naming_line_and_construct(body: str, construct: str) -> None:
    reason = rejection(scene_body(f"self.wait()\n{body}"))
    assert reason.startswith("line 6:"), reason
    assert construct in reason


def test_allows_super_init_and_def_init() -> None:
    code = textwrap.dedent(
        """\
        from manim import *

        class Badge(VGroup):
            def __init__(self, text, **kwargs):
                super().__init__(**kwargs)
                self.add(Text(text))

        class SolutionScene(Scene):
            def __init__(self, **kwargs):
                Scene.__init__(self, **kwargs)

            def construct(self):
                self.play(FadeIn(Badge("hi")))
                print(type(self).__name__)
        """
    )
    assert validate_and_repair(code).repairs == []


# The five ways past the old policy (issue 14, finding 7), then their classes: the same
# construct through another module, another spelling, another function.
@pytest.mark.parametrize(
    "header, body, construct",
    [
        ("import random\n", "random._os.system('id')", "line 7"),
        ("import typing\n", "typing.sys.modules['os'].system('id')", "line 7"),
        ("import numpy\n", "numpy.load('x.npy', allow_pickle=True)", "`allow_pickle`"),
        ("import sympy\n", "sympy.sympify('_' * 2 + 'import' + '_' * 2 + \"('os')\")", "`sympify` of a computed"),
        ("import operator\n", "operator.attrgetter('_' * 2 + 'globals' + '_' * 2)(self.construct)",
         "`attrgetter` with a computed attribute name"),
        # private attributes of any module or object
        ("import random\n", "m = random._os", "`_os`"),
        ("import collections\n", "m = collections._sys", "`_sys`"),
        ("import typing\n", "m = typing.sys", "`sys`"),
        ("import typing\n", "m = typing.Any.modules", "`modules`"),
        ("", "self._Scene__secret = 1", "`_Scene__secret`"),
        ("", "m = Circle()\nm._private()", "`_private`"),
        # modules that hand out the system, under any owner, and their functions
        ("import enum\n", "enum.sys.exit()", "`sys`"),
        ("", "np.ctypeslib.load_library('libc', '/lib')", "`ctypeslib`"),
        ("", "np.f2py.compile('x')", "`f2py`"),
        ("", "np.testing.assert_equal(1, 1)", "`testing`"),
        ("import sympy\n", "m = sympy.external", "`external`"),
        ("import sympy\n", "sympy.utilities.lambdify.import_module('os')", "`import_module`"),
        ("import sympy\n", "sympy.preview(1)", "`preview`"),
        ("", "capture(['sh', '-c', 'id'])", "`capture`"),
        ("", "open_file('/etc/passwd')", "`open_file`"),
        ("import types\n", "types.CodeType", "`CodeType`"),
        ("from typing import sys\n", "self.wait()", "`from typing import sys`"),
        ("from random import _os\n", "self.wait()", "`from random import _os`"),
        ("from numpy import load\n", "self.wait()", "`from numpy import load`"),
        ("import numpy.f2py\n", "self.wait()", "the module f2py"),
        ("from sympy.parsing.sympy_parser import parse_expr\n", "self.wait()", "the module parsing"),
        ("from manim.utils.commands import capture\n", "self.wait()", "the module commands"),
        ("import numpy._core\n", "self.wait()", "the module _core"),
        # pickle loaders whatever the owner or spelling
        ("import numpy as n2\n", "n2.load('x.npy')", "`load`"),
        ("", "arr = np.zeros(3)\narr.loads(b'')", "`loads`"),
        # attribute functions: only called, only with literal public names
        ("", "g = getattr\ng(self, 'x')", "`getattr` may only be called"),
        ("import functools\n", "functools.partial(getattr, self)('wait')", "`getattr` may only be called"),
        ("", "name = 'wait'\ngetattr(self, name)()", "`getattr` with a computed attribute name"),
        ("", "getattr(self, '_original')", "`getattr` on `_original`"),
        ("", "getattr(np, 'os')", "`getattr` on `os`"),
        ("from operator import attrgetter\n", "attrgetter('renderer._x')(self)", "`attrgetter` on `renderer._x`"),
        ("from operator import methodcaller\n", "methodcaller('_x')(self)", "`methodcaller` on `_x`"),
        # SymPy evaluates strings with every builtin in reach: literals only, checked like code
        ("import sympy as sp\n", "expr = 'x'\nsp.sympify(expr)", "`sympify` of a computed"),
        ("import sympy as sp\n", "sp.S(f'{1}')", "`S` of a computed"),
        ("import sympy as sp\n", "sp.sympify('eval(chr(95))')", "the builtin `eval`"),
        ("import sympy as sp\n", "sp.sympify('getattr(x, y)')", "the builtin `getattr`"),
        ("import sympy as sp\n", "sp.sympify('x.y')", "not a plain expression"),
        ("import sympy as sp\nx = sp.Symbol('x')\n", "f = sp.lambdify(x, 'open(1)')", "the builtin `open`"),
        ("import sympy as sp\nx = sp.Symbol('x')\n", "s = 'x'\nf = sp.lambdify(x, s)", "`lambdify` of a computed"),
        # frame and code internals
        ("", "g = (x for x in []).gi_code", "`gi_code`"),
    ],
)
def test_refuses_each_class_of_escape(header: str, body: str, construct: str) -> None:
    reason = rejection(scene_body(f"self.wait()\n{body}", header=f"from manim import *\n{header}"))
    assert construct in reason, reason


@pytest.mark.parametrize("body", [
    "self.camera.frame.scale(1.2)",
    "load = Arrow(UP, DOWN)\nsystem = VGroup(load)\nself.play(Create(system))",
    "c = Circle()\nself.play(Create(c))\nc.get_center()",
    "x = sp.Symbol('x')\nexpr = sp.sympify('x^2 + 2*x + 1')\nt = MathTex(sp.latex(sp.factor(expr)))\n"
    "self.play(Write(t))",
    "f = sp.lambdify(sp.Symbol('x'), 'x**2 + sin(x)')\nself.play(Create(Axes().plot(lambda v: float(f(v)))))",
    "t = MathTex('x^2')\nself.play(getattr(t, 'animate').shift(UP))\nprint(type(t).__name__)",
    "half = sp.S(1) / 2\nself.play(Write(MathTex(sp.latex(half))))",
    "config.background_color = WHITE\nself.play(FadeIn(Text('{}'.format(config.frame_width))))",
])
def test_the_public_api_still_passes(body: str) -> None:
    header = "from manim import *\nimport sympy as sp\nimport numpy as np\n"
    assert validate_and_repair(scene_body(body, header=header)).scene_name == "SolutionScene"


def test_plain_getattr_with_a_literal_name_is_fine() -> None:
    assert validate_and_repair(scene_body("c = Circle()\nself.play(getattr(c, 'animate').shift(UP))"))


# -- the scene to render ------------------------------------------------------------------


def test_refuses_code_without_a_scene() -> None:
    reason = rejection("from manim import *\nc = Circle()\n")
    assert "no Scene subclass" in reason
    assert "class SolutionScene(Scene)" in reason


def test_refuses_a_scene_without_construct() -> None:
    reason = rejection("from manim import *\n\nclass Empty(Scene):\n    pass\n")
    assert reason.startswith("line 3:")
    assert "construct" in reason


def test_picks_the_subclass_not_the_base() -> None:
    code = textwrap.dedent(
        """\
        from manim import *

        class Base(Scene):
            def construct(self):
                self.setup_title()
                self.wait()

            def setup_title(self):
                self.add(Text("base"))

        class Final(Base):
            def setup_title(self):
                self.add(Text("final"))
        """
    )
    assert validate_and_repair(code).scene_name == "Final"


def test_prefers_the_requested_scene_name() -> None:
    code = textwrap.dedent(
        """\
        from manim import *

        class SolutionScene(Scene):
            def construct(self):
                self.wait()

        class Extra(Scene):
            def construct(self):
                self.play(Create(Circle()))
                self.play(Create(Square()))
                self.wait()
        """
    )
    assert validate_and_repair(code).scene_name == "SolutionScene"


def test_otherwise_picks_the_most_complete_then_the_last_scene() -> None:
    short = "class Draft(Scene):\n    def construct(self):\n        self.wait()\n"
    full = (
        "class Full(Scene):\n    def construct(self):\n        c = Circle()\n"
        "        self.play(Create(c))\n        self.wait()\n"
    )
    assert validate_and_repair(f"from manim import *\n{full}\n{short}").scene_name == "Full"
    same = short.replace("Draft", "Second")
    assert validate_and_repair(f"from manim import *\n{short}\n{same}").scene_name == "Second"


def test_three_d_and_moving_camera_scenes_count_as_scenes() -> None:
    code = "from manim import *\n\nclass Spin(ThreeDScene):\n    def construct(self):\n        self.wait()\n"
    assert validate_and_repair(code).scene_name == "Spin"


# -- names ---------------------------------------------------------------------------------


def test_refuses_names_neither_manim_nor_the_code_defines() -> None:
    reason = rejection(scene_body("c = Circle(color=TURQUOISE_Z)\nself.play(Create(c))"))
    assert "`TURQUOISE_Z` (line 5)" in reason
    assert "Manim Community 0.19" in reason


def test_names_from_other_star_imports_are_not_guessed() -> None:
    code = scene_body("self.play(Create(Circle(radius=sqrt(2))))", header="from manim import *\nfrom math import *\n")
    assert validate_and_repair(code).scene_name == "SolutionScene"


def test_names_bound_anywhere_in_the_code_are_known() -> None:
    body = (
        "points = [RIGHT * k for k in range(3)]\n"
        "try:\n    pass\nexcept ValueError as problem:\n    print(problem)\n"
        "self.play(*[Create(Dot(p)) for p in points])"
    )
    assert validate_and_repair(scene_body(body)).scene_name == "SolutionScene"


# -- the prelude --------------------------------------------------------------------------


def test_prelude_is_python_that_compiles_and_imports_manim_first() -> None:
    tree = ast.parse(COMPAT_PRELUDE)
    first = tree.body[0]
    assert isinstance(first, ast.ImportFrom) and first.module == "manim"
    compile(COMPAT_PRELUDE, "<prelude>", "exec")


def test_validation_does_not_import_manim() -> None:
    probe = (
        "import sys\nfrom appliance.validation import validate_and_repair\n"
        "validate_and_repair('from manim import *\\nclass S(Scene):\\n    def construct(self):\\n"
        "        self.play(ShowCreation(Circle()))\\n')\n"
        "print('manim' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_refuses_latex_with_a_script_it_cannot_typeset() -> None:
    reason = rejection(scene_body("self.wait()\neq = MathTex(r'x = 2 \\text{ и } y')"))
    assert reason.startswith("line 6: MathTex(...) contains 'и'")
    assert "Text(" in reason


@pytest.mark.parametrize(
    "call", ["ImageMobject('cat.png')", "SVGMobject('logo.svg')", "Code(file_name='scene.py')"]
)
def test_refuses_mobjects_that_need_a_file(call: str) -> None:
    reason = rejection(scene_body(f"self.wait()\nm = {call}"))
    assert reason.startswith("line 6:")
    assert "needs a file" in reason


def test_image_from_an_array_is_fine() -> None:
    assert validate_and_repair(scene_body("img = ImageMobject(np.zeros((4, 4, 3)))\nself.play(FadeIn(img))"))
