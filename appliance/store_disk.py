"""The store's diskcache ``Disk``: JSON only, and a row that is not JSON is refused, never unpickled.

diskcache decides per row how a key or value was stored, from the row itself: a key with
``raw = 0`` and a value with ``mode = MODE_PICKLE`` are unpickled by every ``Disk``,
``JSONDisk`` included, whatever ``Disk`` wrote the rest of the cache. So anyone who can
write the SQLite file (or open the directory with a plain ``diskcache.Cache``) could
plant a row whose reading runs their code. ``JSONOnlyDisk`` reads only what
``JSONDisk`` writes, zlib-compressed JSON bytes:

- keys: ``raw = 1`` and a blob (``JSONDisk.put`` hands ``Disk.put`` bytes, which are
  always stored raw);
- values: ``MODE_RAW`` with a blob in the row, or ``MODE_BINARY`` in a file
  (``JSONDisk.store`` hands ``Disk.store`` bytes, which never take another mode).

Anything else raises ``RefusedRow`` before any byte of it is decoded (``store.translate_errors``
makes it a ``StoreError``). Writing checks the same, so nothing the appliance stores can
ever be a pickle.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import PurePath
from typing import Any

import diskcache
from diskcache.core import MODE_BINARY, MODE_PICKLE, MODE_RAW, UNKNOWN

_MODE_NAMES = {0: "none", 1: "raw", 2: "binary", 3: "text", 4: "pickle"}
_PLANTED = (
    "the state store holds {what}, which it refuses to read: the appliance never writes one, "
    "so someone with write access to the store directory planted it"
)
_NOT_JSON = "the state store holds {what}, not JSON as the appliance writes; it refuses to read it"


class RefusedRow(Exception):
    """A row of the store that ``JSONDisk`` could not have written (a pickle above all)."""


def _is_blob(value: object) -> bool:
    return type(value) in (bytes, sqlite3.Binary)


def _is_own_file(filename: object) -> bool:
    """A value file as ``Disk.filename`` names them: relative, inside the store directory."""
    return isinstance(filename, str) and not os.path.isabs(filename) and ".." not in PurePath(filename).parts


class JSONOnlyDisk(diskcache.JSONDisk):  # type: ignore[misc]  # diskcache ships no type hints
    """``JSONDisk`` that refuses to read, or write, a pickled key or value."""

    def put(self, key: Any) -> tuple[Any, bool]:
        db_key, raw = super().put(key)
        if not raw or not _is_blob(db_key):
            raise RefusedRow(f"refusing to store a key that is not JSON bytes: {key!r}")
        return db_key, raw

    def get(self, key: Any, raw: bool) -> Any:
        if not raw:
            raise RefusedRow(_PLANTED.format(what="a pickled key"))
        if not _is_blob(key):
            raise RefusedRow(_NOT_JSON.format(what=f"a key stored as a plain {type(key).__name__}"))
        return super().get(key, raw)

    def store(self, value: Any, read: bool, key: Any = UNKNOWN) -> tuple[int, int, str | None, Any]:
        size, mode, filename, db_value = super().store(value, read, key=key)
        if mode not in (MODE_RAW, MODE_BINARY) or (mode == MODE_RAW and not _is_blob(db_value)):
            if filename is not None:
                self.remove(filename)
            raise RefusedRow(f"refusing to store a value in {_MODE_NAMES.get(mode, mode)} mode, not as JSON")
        return size, mode, filename, db_value

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
        if mode == MODE_PICKLE:
            raise RefusedRow(_PLANTED.format(what="a pickled value"))
        if mode not in (MODE_RAW, MODE_BINARY):
            raise RefusedRow(_NOT_JSON.format(what=f"a value stored in {_MODE_NAMES.get(mode, mode)} mode"))
        if mode == MODE_RAW and not _is_blob(value):
            raise RefusedRow(_NOT_JSON.format(what=f"a value stored as a plain {type(value).__name__}"))
        if mode == MODE_BINARY and not _is_own_file(filename):
            raise RefusedRow(_NOT_JSON.format(what=f"a value naming a file outside the store ({filename!r})"))
        return super().fetch(mode, filename, value, read)
