"""Upstream helpers that scenes sometimes import."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

from appliance_voice import plain_text

T = TypeVar("T")


def remove_bookmarks(text: str) -> str:
    return plain_text(text)


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), max(1, size)):
        yield items[start:start + size]
