"""Local video storage: files on disk behind HMAC-signed, expiring URLs.

The HTTP route that serves these URLs belongs to the API; here the URL a user
would be given is taken apart and checked with ``LocalStorage.verify``, which is
exactly what that route calls.
"""

from __future__ import annotations

import os
import re
import stat
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from appliance.config import Settings
from appliance.errors import NotFound, SignatureInvalid, StorageError
from appliance.storage import VideoStorage, make_storage
from appliance.storage.base import OUR_KEY, new_key
from appliance.storage.local import LocalStorage, load_or_create_signing_key

BASE_URL = "http://127.0.0.1:7860"
KEY = b"k" * 32


class Clock:
    """A clock the test moves by hand, so expiry is checked without sleeping."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "render" / "scene.mp4"
    path.parent.mkdir()
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(300_000))
    return path


def make(tmp_path: Path, clock: Clock | None = None, ttl: int = 3600, key: bytes = KEY) -> LocalStorage:
    return LocalStorage(tmp_path / "data" / "videos", BASE_URL, key, ttl, **({"clock": clock} if clock else {}))


def url_parts(url: str) -> tuple[str, str, str]:
    """(key, expires, sig) as the HTTP route would read them from the URL."""
    parts = urlsplit(url)
    assert parts.path.startswith("/videos/")
    query = parse_qs(parts.query)
    return unquote(parts.path.removeprefix("/videos/")), query["expires"][0], query["sig"][0]


def test_put_gives_a_signed_url_that_serves_the_same_bytes(tmp_path, video):
    storage = make(tmp_path)
    key = new_key()
    before = time.time()
    stored = storage.put(key, video)

    assert isinstance(storage, VideoStorage) and storage.name == "local"
    assert stored.key == key
    assert stored.url.startswith(f"{BASE_URL}/videos/{stored.key}?expires=")
    assert stored.size_bytes == video.stat().st_size
    expires_at = datetime.fromisoformat(stored.expires_at)
    assert expires_at.utcoffset() == timedelta(0)  # UTC, with an explicit offset
    assert before + 3600 - 2 <= expires_at.timestamp() <= time.time() + 3600 + 1

    served = storage.verify(*url_parts(stored.url))
    assert served.read_bytes() == video.read_bytes()
    assert video.exists(), "the caller's file is left for the caller to delete"
    assert storage.exists(stored.key)
    with storage.local_copy(stored.key) as copy:
        assert copy.read_bytes() == video.read_bytes()


def test_keys_are_unguessable_and_name_no_job():
    keys = {new_key() for _ in range(100)}
    assert len(keys) == 100
    for key in keys:
        # 128 random bits and nothing else: a shared link says nothing about the job.
        assert re.fullmatch(r"video-[0-9a-f]{32}\.mp4", key) and OUR_KEY.fullmatch(key)


def test_a_fresh_url_for_a_stored_video_also_verifies(tmp_path, video):
    clock = Clock()
    storage = make(tmp_path, clock)
    stored = storage.put(new_key(), video)
    clock.now += 7200  # the first link has expired ...
    with pytest.raises(SignatureInvalid):
        storage.verify(*url_parts(stored.url))
    url, expires_at = storage.url_for(stored.key)  # ... a new one works
    assert storage.verify(*url_parts(url)).read_bytes() == video.read_bytes()
    assert datetime.fromisoformat(expires_at).timestamp() == pytest.approx(clock.now + 3600, abs=1)


def test_tampered_links_are_refused(tmp_path, video):
    clock = Clock()
    storage = make(tmp_path, clock)
    a = storage.put(new_key(), video)
    b = storage.put(new_key(), video)
    key_a, expires_a, sig_a = url_parts(a.url)
    key_b, _, _ = url_parts(b.url)

    flipped = ("0" if sig_a[0] != "0" else "1") + sig_a[1:]
    bad = [
        (key_a, expires_a, flipped),                  # altered signature
        (key_a, expires_a, ""),                       # no signature
        (key_a, expires_a, sig_a.upper()),            # not the hex we issued
        (key_a, expires_a, "é" * 64),                 # junk that is not even ASCII
        (key_b, expires_a, sig_a),                    # A's signature on B's video
        (key_a, str(int(expires_a) + 86400), sig_a),  # expiry pushed out by hand
        (key_a, "soon", sig_a),
    ]
    for key, expires, sig in bad:
        with pytest.raises(SignatureInvalid):
            storage.verify(key, expires, sig)

    other_signer = make(tmp_path, clock, key=b"x" * 32)
    with pytest.raises(SignatureInvalid):
        other_signer.verify(key_a, expires_a, sig_a)

    clock.now = int(expires_a) + 1
    with pytest.raises(SignatureInvalid, match="expired"):
        storage.verify(key_a, expires_a, sig_a)


def test_a_deleted_video_is_not_found_and_delete_is_idempotent(tmp_path, video):
    storage = make(tmp_path)
    stored = storage.put(new_key(), video)
    storage.delete(stored.key)
    storage.delete(stored.key)  # already gone: fine

    assert not storage.exists(stored.key)
    assert list(storage.keys()) == []
    with pytest.raises(NotFound):
        storage.verify(*url_parts(stored.url))
    with pytest.raises(NotFound), storage.local_copy(stored.key):
        pass


@pytest.mark.parametrize("key", [
    "../signing.key", "..", ".", "a/b", "/etc/passwd", "..%2Fsigning.key", "a\\b",
    ".hidden.mp4", "", "a b.mp4", "nul\x00.mp4", "x" * 300,
])
def test_keys_outside_the_video_directory_are_refused(tmp_path, video, key):
    storage = make(tmp_path)
    storage.put(new_key(), video)
    secret = tmp_path / "data" / "signing.key"
    secret.write_text("top secret")

    with pytest.raises(SignatureInvalid):
        storage.verify(key, str(int(time.time()) + 60), "0" * 64)
    for operation in (storage.delete, storage.exists, storage.url_for):
        with pytest.raises(StorageError):
            operation(key)
    with pytest.raises(StorageError), storage.local_copy(key):
        pass
    assert secret.read_text() == "top secret"


def test_a_key_that_is_not_a_file_name_is_refused(tmp_path, video):
    storage = make(tmp_path)
    with pytest.raises(StorageError):
        storage.put("../../escape", video)
    assert not list((tmp_path / "data").rglob("*escape*"))


def test_file_and_directory_modes_and_no_partial_files(tmp_path, video):
    videos_dir = tmp_path / "data" / "videos"
    videos_dir.mkdir(parents=True, mode=0o755)
    os.chmod(videos_dir, 0o755)
    storage = make(tmp_path)
    stored = storage.put(new_key(), video)

    assert stat.S_IMODE(videos_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((videos_dir / stored.key).stat().st_mode) == 0o600
    assert sorted(p.name for p in videos_dir.iterdir()) == [stored.key]


def test_keys_lists_our_videos_and_crash_leftovers_but_not_foreign_files(tmp_path, video):
    storage = make(tmp_path)
    stored = storage.put(new_key(), video)
    leftover = f"{uuid.uuid4()}-{'a' * 32}.mp4.part"  # an upload cut short by a crash
    (storage.videos_dir / leftover).write_bytes(b"half")
    (storage.videos_dir / "README.txt").write_text("not ours")

    assert sorted(storage.keys()) == sorted([stored.key, leftover])
    storage.delete(leftover)
    assert list(storage.keys()) == [stored.key]
    assert (storage.videos_dir / "README.txt").exists()


def test_keys_of_a_store_never_used_is_empty(tmp_path):
    assert list(make(tmp_path).keys()) == []


def test_signing_key_survives_restarts(tmp_path, video):
    data_dir = tmp_path / "data"
    key = load_or_create_signing_key(data_dir, None)
    key_file = data_dir / "signing.key"
    assert len(key) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    before = LocalStorage(data_dir / "videos", BASE_URL, key, 3600)
    stored = before.put(new_key(), video)
    # A new process: same data directory, no configured key.
    after = LocalStorage(data_dir / "videos", BASE_URL, load_or_create_signing_key(data_dir, None), 3600)
    assert after.verify(*url_parts(stored.url)).read_bytes() == video.read_bytes()


def test_a_configured_signing_key_wins_and_no_file_is_written(tmp_path):
    data_dir = tmp_path / "data"
    assert load_or_create_signing_key(data_dir, "configured-secret-0123456789") == b"configured-secret-0123456789"
    assert not (data_dir / "signing.key").exists()


def test_a_damaged_signing_key_file_is_reported(tmp_path):
    (tmp_path / "signing.key").write_text("short\n")
    with pytest.raises(StorageError, match="too short"):
        load_or_create_signing_key(tmp_path, None)


def test_check_passes_on_a_writable_directory_and_explains_otherwise(tmp_path):
    make(tmp_path).check()
    assert (tmp_path / "data" / "videos").is_dir()

    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the directory should be")
    broken = LocalStorage(blocker / "videos", BASE_URL, KEY, 60)
    with pytest.raises(StorageError, match=re.escape(str(blocker / "videos"))):
        broken.check()


def test_make_storage_builds_the_configured_backend(tmp_path, video):
    settings = Settings.from_env({"APPLIANCE_DATA_DIR": str(tmp_path), "APPLIANCE_PUBLIC_URL": "https://videos.example/",
                                  "APPLIANCE_VIDEO_URL_TTL_S": "600"})
    storage = make_storage(settings)
    assert isinstance(storage, LocalStorage)
    stored = storage.put(new_key(), video)
    assert stored.url.startswith("https://videos.example/videos/")
    assert (tmp_path / "videos" / stored.key).is_file()
    assert (tmp_path / "signing.key").is_file()
    assert datetime.fromisoformat(stored.expires_at).timestamp() == pytest.approx(time.time() + 600, abs=2)

    s3 = make_storage(settings.replace(storage_backend="s3", s3_bucket="videos",
                                       s3_endpoint_url="http://127.0.0.1:9"))
    assert s3.name == "s3"  # built without touching the network
