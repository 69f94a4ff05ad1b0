"""Videos on the appliance's own disk, served at HMAC-signed, expiring URLs.

The HTTP route (frontends/api.py) calls ``LocalStorage.verify`` and sends the
file it returns: a forged, altered or expired link is refused (403) and a
video already deleted answers 404. The signed message is ``key:expires``;
":" cannot occur in a key, so no two (key, expiry) pairs sign the same text.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

from appliance.errors import NotFound, SignatureInvalid, StorageError
from appliance.storage.base import OUR_KEY, StoredVideo, VideoStorage, check_key, iso_utc

SIGNING_KEY_FILE = "signing.key"
_MIN_SIGNING_KEY_BYTES = 16
# An upload in progress is written as "{key}.part" and renamed when complete, so
# a reader never sees half a video. A crash leaves the .part behind; it is
# listed by keys() so the stray-file sweep removes it.
_PARTIAL_SUFFIX = ".part"
_OUR_PARTIAL = re.compile(OUR_KEY.pattern + re.escape(_PARTIAL_SUFFIX))
_DIGITS = re.compile(r"[0-9]{1,12}")


class LocalStorage(VideoStorage):
    name = "local"

    def __init__(
        self,
        videos_dir: Path,
        base_url: str,
        signing_key: bytes,
        url_ttl_s: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if len(signing_key) < _MIN_SIGNING_KEY_BYTES:
            raise StorageError(f"the signing key must be at least {_MIN_SIGNING_KEY_BYTES} bytes long")
        self.videos_dir = Path(videos_dir)
        self.base_url = base_url.rstrip("/")
        self._signing_key = signing_key
        self.url_ttl_s = url_ttl_s
        self._clock = clock  # injectable so tests can step past an expiry without sleeping

    # -- storing -----------------------------------------------------------------------------

    def put(self, key: str, video_path: Path) -> StoredVideo:
        check_key(key)
        self._ensure_dir()
        final = self.videos_dir / key
        partial = self.videos_dir / (key + _PARTIAL_SUFFIX)
        try:
            with open(video_path, "rb") as source:
                # O_EXCL and 0600 from the start: the bytes are never readable by others.
                fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as target:
                    os.fchmod(target.fileno(), 0o600)  # the umask can only narrow, but be explicit
                    while chunk := source.read(1 << 20):
                        target.write(chunk)
                    target.flush()
                    os.fsync(target.fileno())
            os.replace(partial, final)
            size = final.stat().st_size
        except OSError as exc:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise StorageError(f"could not store the video in {self.videos_dir}: {exc}") from exc
        url, expires_at = self.url_for(key)
        return StoredVideo(key=key, url=url, expires_at=expires_at, size_bytes=size)

    def delete(self, key: str) -> None:
        try:
            (self.videos_dir / check_key(key)).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"could not delete video {key}: {exc}") from exc

    def exists(self, key: str) -> bool:
        return (self.videos_dir / check_key(key)).is_file()

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        # The file already is local: hand it out as is, no copy to clean up.
        path = self.videos_dir / check_key(key)
        if not path.is_file():
            raise NotFound(f"video {key} does not exist (deleted or expired)")
        yield path

    def keys(self) -> Iterator[str]:
        try:
            names = sorted(entry.name for entry in os.scandir(self.videos_dir) if entry.is_file())
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StorageError(f"could not list {self.videos_dir}: {exc}") from exc
        for name in names:
            if OUR_KEY.fullmatch(name) or _OUR_PARTIAL.fullmatch(name):
                yield name

    def check(self) -> None:
        self._ensure_dir()
        probe = self.videos_dir / f".probe-{secrets.token_hex(8)}"
        try:
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise StorageError(f"the video directory {self.videos_dir} is not writable: {exc}") from exc

    # -- signed URLs -------------------------------------------------------------------------

    def url_for(self, key: str) -> tuple[str, str]:
        check_key(key)
        expires = int(self._clock()) + self.url_ttl_s
        signature = self._sign(key, str(expires))
        url = f"{self.base_url}/videos/{quote(key)}?expires={expires}&sig={signature}"
        return url, iso_utc(expires)

    def verify(self, key: str, expires: str | int, sig: str) -> Path:
        """The file behind a signed URL, or SignatureInvalid (403) / NotFound (404)."""
        expires_text = str(expires)
        try:
            check_key(key)
        except StorageError as exc:
            raise SignatureInvalid("invalid video link") from exc
        if not _DIGITS.fullmatch(expires_text):
            raise SignatureInvalid("invalid video link")
        expected = self._sign(key, expires_text).encode("ascii")
        # Bytes, not str: compare_digest refuses non-ASCII str, and sig comes from a URL.
        if not hmac.compare_digest(expected, str(sig).encode("utf-8", "replace")):
            raise SignatureInvalid("invalid video link")
        if int(expires_text) < self._clock():
            raise SignatureInvalid("this video link has expired")
        path = self.videos_dir / key
        if not path.is_file():
            raise NotFound(f"video {key} does not exist (deleted or expired)")
        return path

    def _sign(self, key: str, expires: str) -> str:
        return hmac.new(self._signing_key, f"{key}:{expires}".encode(), hashlib.sha256).hexdigest()

    def _ensure_dir(self) -> None:
        try:
            self.videos_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            # mkdir's mode is masked by the umask and ignored for an existing
            # directory; videos are personal data, so insist on 0700.
            os.chmod(self.videos_dir, 0o700)
        except OSError as exc:
            raise StorageError(f"cannot create the video directory {self.videos_dir}: {exc}") from exc


def load_or_create_signing_key(data_dir: Path, configured: str | None) -> bytes:
    """The HMAC key for local video URLs.

    The configured one (APPLIANCE_SIGNING_KEY) if set; otherwise a random key
    kept in ``data_dir/signing.key`` (0600), so links stay valid across restarts.
    """
    if configured:
        return configured.encode()
    path = Path(data_dir) / SIGNING_KEY_FILE
    try:
        if not path.exists():
            _create_signing_key(path)
        key = path.read_bytes().strip()
    except OSError as exc:
        raise StorageError(f"cannot read or create the signing key {path}: {exc}") from exc
    if len(key) < _MIN_SIGNING_KEY_BYTES:
        raise StorageError(
            f"the signing key in {path} is too short; delete the file to have a new one made "
            "(existing video links stop working) or set APPLIANCE_SIGNING_KEY"
        )
    return key


def _create_signing_key(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        # link() fails if the file appeared meanwhile: two processes starting at
        # once both end up using whichever key was linked first, never half a file.
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)
    finally:
        temp.unlink(missing_ok=True)
