"""The video store's interface, shared by the local-disk and the S3/R2 backends.

A video lives in the store between UPLOADING and delivery (or expiry); the job
record keeps only its ``key``, ``url`` and ``expires_at``. Keys are
``video-{32 random hex}.mp4`` (``new_key``): opaque, so a shared video link names nothing but
the video (no job id), and unguessable. The pipeline makes the key and records it on the job
(``ProcessingJob.upload_key``) before it uploads, which is how the stray-file sweep spares an
upload in flight.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from appliance.contracts import StoredVideo, VideoStorage
from appliance.errors import StorageError

__all__ = ["StoredVideo", "VideoStorage", "check_key", "iso_utc", "new_key"]

VIDEO_CONTENT_TYPE = "video/mp4"
VIDEO_KEY_PREFIX = "video-"

# Anything a key may be: one safe path component. No leading dot (hidden files,
# "." and ".."), no "..", no separators, nothing outside a small alphabet.
_SAFE_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}")
# What this appliance itself names videos; ``keys()`` lists only these so a
# sweep never deletes someone else's objects sharing a bucket or directory. Keys
# made before they were opaque were ``{job_id}-{32 hex}.mp4``: still listed (and swept).
OUR_KEY = re.compile(r"[A-Za-z0-9_-]{1,100}-[0-9a-f]{32}\.mp4")


def new_key() -> str:
    """A new video's key: random and opaque (it says nothing about the job)."""
    return f"{VIDEO_KEY_PREFIX}{secrets.token_hex(16)}.mp4"


def check_key(key: str) -> str:
    """``key`` itself if it is one safe path component, else StorageError."""
    if not isinstance(key, str) or not _SAFE_KEY.fullmatch(key) or ".." in key:
        raise StorageError(f"invalid video key {key!r}")
    return key


def iso_utc(unix_seconds: float) -> str:
    return datetime.fromtimestamp(int(unix_seconds), UTC).isoformat()
