"""The shared scene corpus (``../shared/corpus/llm-scenes.jsonl``, see its README): where it
is, reading it, and which scene an unchanged render of a corpus scene would use. Used by the
tests that feed it through validation, repair and the sandbox, and by bench/corpus_bench.py."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "llm-scenes.jsonl"
if not CORPUS.exists():  # the work tree sits beside shared/ in development and in CI
    CORPUS = Path("/work/shared/corpus/llm-scenes.jsonl")


def read_corpus(path: Path = CORPUS) -> list[dict[str, str]]:
    """Every row (``prompt``, ``code``) of a corpus file."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def corpus_rows() -> list[dict[str, str]]:
    """The shared corpus's rows; the test is skipped, saying where, when it is not there."""
    if not CORPUS.is_file():
        pytest.skip(f"the shared scene corpus is not at {CORPUS} (it lives in ../shared/corpus/)")
    return read_corpus()


def unrepaired_scene_name(code: str) -> str:
    """The scene an unchanged render would use: the last class deriving from *Scene ("" if none)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return ""
    names = [
        node.name
        for node in tree.body
        if isinstance(node, ast.ClassDef)
        and any(
            (isinstance(base, ast.Name) and base.id.endswith("Scene"))
            or (isinstance(base, ast.Attribute) and base.attr.endswith("Scene"))
            for base in node.bases
        )
    ]
    return names[-1] if names else ""
