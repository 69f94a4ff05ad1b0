"""What `appliance sandbox build` sends as the build context: its owner, its extra CA certificates.

The engine is a recording stand-in (the build itself is in tests/integration/test_sandbox_image.py
and, from inside the appliance image, tests/e2e/test_appliance_image.py): it keeps the files of
``extra-ca-certs/`` as the engine would have received them.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any

from appliance.config import Settings
from appliance.sandbox.image import CA_BUNDLE_NAME, _context_archive, build_sandbox_image, sandbox_image_dir


class RecordingEngine:
    def __init__(self) -> None:
        self.ca_files: dict[str, bytes] = {}
        self.names: set[str] = set()
        self.images = SimpleNamespace(get=lambda name: SimpleNamespace(id="sha256:" + "0" * 64))
        self.api = SimpleNamespace(build=self._build)

    def _build(self, fileobj: IO[bytes], custom_context: bool, **_: Any) -> list[dict[str, Any]]:
        assert custom_context
        with tarfile.open(fileobj=fileobj) as tar:
            for member in tar.getmembers():
                self.names.add(member.name)
                if member.name.startswith("extra-ca-certs/") and member.name.endswith(".pem"):
                    extracted = tar.extractfile(member)
                    assert extracted is not None
                    self.ca_files[member.name.split("/")[-1]] = extracted.read()
        return [{"stream": "Step 1/1 : FROM base\n"}, {"aux": {"ID": "sha256:" + "1" * 64}}]


def _build(tmp_path: Path, ca_file: Path | None, context_dir: Path | None = None) -> RecordingEngine:
    engine = RecordingEngine()
    settings = Settings.from_env({}, data_dir=tmp_path / "data", extra_ca_certs=ca_file)
    image_id = build_sandbox_image(settings, progress=lambda _: None, docker_client=engine, context_dir=context_dir)
    assert image_id == "sha256:" + "1" * 64
    return engine


def _build_with(tmp_path: Path, ca_file: Path | None) -> dict[str, bytes]:
    return _build(tmp_path, ca_file).ca_files


def test_the_context_is_the_sandbox_sources_owned_by_root(tmp_path: Path) -> None:
    assert {"Dockerfile", "runner.py", "manim.cfg", "extra-ca-certs"} <= _build(tmp_path, None).names
    # The engine's cache keys include ownership: built as root on the host or as the appliance
    # user in its container (whose copy of the sources it owns), the same sources must give
    # the same layers.
    sources = tmp_path / "sandbox_image"
    shutil.copytree(sandbox_image_dir(), sources)
    if os.geteuid() == 0:
        for path in [sources, *sources.rglob("*")]:
            os.chown(path, 10001, 10001)
    with _context_archive(sources) as archive, tarfile.open(fileobj=archive) as tar:
        members = tar.getmembers()
    assert {member.name for member in members} >= {"Dockerfile", "voice", "extra-ca-certs/README.md"}
    assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, "root", "root")}


def test_the_configured_bundle_goes_into_the_context(tmp_path: Path) -> None:
    bundle = tmp_path / "proxy-ca.pem"
    bundle.write_bytes(b"-----BEGIN CERTIFICATE-----\nproxy\n-----END CERTIFICATE-----\n")
    assert _build_with(tmp_path, bundle) == {CA_BUNDLE_NAME: bundle.read_bytes()}


def test_an_empty_bundle_adds_nothing(tmp_path: Path) -> None:
    # The appliance image's bundle of certs/*.crt when it was built without any.
    empty = tmp_path / "extra-ca-certs.pem"
    empty.write_bytes(b"")
    assert _build_with(tmp_path, empty) == {}
    assert _build_with(tmp_path, None) == {}
