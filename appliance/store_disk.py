"""The store's boundary with diskcache: ``open_cache``, ``translate_errors`` (the one place its
exceptions become ``StoreError``) and its ``Disk``: JSON only, and a row that is not JSON is refused,
never unpickled.

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

import contextlib
import json
import os
import sqlite3
import zlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path, PurePath
from typing import Any, Protocol

import diskcache
from diskcache.core import MODE_BINARY, MODE_PICKLE, MODE_RAW, UNKNOWN

from appliance.errors import StoreError

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


# A value as json.loads gives it back (store_disk.JSONOnlyDisk): any JSON type.
JSONValue = Any


class RowCache(Protocol):
    """What the store uses of ``diskcache.Cache``, which ships no type hints: JSON values by key."""

    def get(self, key: str, default: None = None, read: bool = False, expire_time: bool = False) -> JSONValue: ...

    def set(self, key: str, value: object, expire: float | None = None) -> bool: ...

    def delete(self, key: str) -> bool: ...

    def transact(self) -> AbstractContextManager[object]: ...

    def iterkeys(self) -> Iterator[object]: ...

    def expire(self) -> int: ...

    def close(self) -> None: ...


@contextlib.contextmanager
def translate_errors(doing: str) -> Iterator[None]:
    """The one place where diskcache's, SQLite's and the disk's exceptions become
    ``StoreError("cannot <doing>: ...")``. The project's own exceptions (NotFound,
    LimitExceeded, InvalidTransition) pass through."""
    try:
        yield
    except diskcache.Timeout as exc:
        raise StoreError(f"cannot {doing}: the state store is busy (timed out waiting for a lock)") from exc
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"cannot {doing}: {exc}") from exc
    except RefusedRow as exc:
        raise StoreError(f"cannot {doing}: {exc}") from exc
    except (zlib.error, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StoreError(f"cannot {doing}: the state store holds an unreadable value ({exc})") from exc


def open_cache(directory: Path) -> RowCache:
    """Open (creating 0700) a diskcache that stores JSON, never pickles (nor unpickles: see
    ``store_disk``) and never evicts."""
    with translate_errors(f"open the state store at {directory}"):
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(directory, 0o700)
        cache: RowCache = diskcache.Cache(
            str(directory),
            disk=JSONOnlyDisk,
            eviction_policy="none",
            # Videos never go in here; records are small. A generous size limit plus
            # eviction "none" means nothing is ever dropped behind our back.
            size_limit=2**40,
            timeout=60,
        )
        return cache
