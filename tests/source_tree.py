"""The project's source read as text (never imported): module names and their imports.

Shared by the tests that check the code's layout (tests/unit/test_architecture.py) and the
documentation against the code (tests/unit/test_docs.py).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_name(path: Path) -> str:
    """``appliance/sandbox/docker.py`` -> ``appliance.sandbox.docker`` (a package is its directory)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve_import_from(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module an ``import from`` in module ``importer`` names (relative levels resolved)."""
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)
