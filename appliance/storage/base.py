"""The video store's interface, shared by the local-disk and the S3/R2 backends.

A video lives in the store between UPLOADING and delivery (or expiry); the job
record keeps only its ``key``, ``url`` and ``expires_at``. Keys are
``{job_id}-{random hex}.mp4``: the job id lets the stray-file sweep spare
uploads in flight, and the random part makes URLs unguessable.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from appliance.errors import StorageError

VIDEO_CONTENT_TYPE = "video/mp4"

# Anything a key may be: one safe path component. No leading dot (hidden files,
# "." and ".."), no "..", no separators, nothing outside a small alphabet.
_SAFE_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}")
_SAFE_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
# What this appliance itself names videos; ``keys()`` lists only these so a
# sweep never deletes someone else's objects sharing a bucket or directory.
OUR_KEY = re.compile(r"[A-Za-z0-9_-]{1,100}-[0-9a-f]{32}\.mp4")


@dataclass(frozen=True)
class StoredVideo:
    """Where a stored video can be fetched, and until when."""

    key: str
    url: str
    expires_at: str  # ISO 8601 UTC, e.g. 2026-01-15T10:00:00+00:00
    size_bytes: int


@runtime_checkable
class VideoStorage(Protocol):
    """One place videos go; ``appliance.storage.make_storage`` picks the backend."""

    name: str

    def put(self, job_id: str, video_path: Path) -> StoredVideo:
        """Store a copy of ``video_path`` (the caller still owns the file) as video/mp4."""
        ...

    def url_for(self, key: str) -> tuple[str, str]:
        """A fresh URL for ``key`` and its expiry (ISO 8601 UTC)."""
        ...

    def delete(self, key: str) -> None:
        """Remove the video; a key that is already gone is not an error."""
        ...

    def exists(self, key: str) -> bool: ...

    def local_copy(self, key: str) -> AbstractContextManager[Path]:
        """A readable local file with the video, valid inside the ``with`` block; NotFound if gone."""
        ...

    def keys(self) -> Iterator[str]:
        """Every video key this appliance stored (for the stray-file sweep)."""
        ...

    def check(self) -> None:
        """Raise StorageError saying what to fix if the store cannot be used."""
        ...


def new_key(job_id: str) -> str:
    if not _SAFE_JOB_ID.fullmatch(job_id):
        raise StorageError(f"job id {job_id!r} cannot name a video file")
    return f"{job_id}-{secrets.token_hex(16)}.mp4"


def check_key(key: str) -> str:
    """``key`` itself if it is one safe path component, else StorageError."""
    if not isinstance(key, str) or not _SAFE_KEY.fullmatch(key) or ".." in key:
        raise StorageError(f"invalid video key {key!r}")
    return key


def iso_utc(unix_seconds: float) -> str:
    return datetime.fromtimestamp(int(unix_seconds), UTC).isoformat()
