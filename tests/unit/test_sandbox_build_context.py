"""What `appliance sandbox build` sends as the build context for extra CA certificates.

The engine is a recording stand-in (the build itself is in tests/integration/test_sandbox_image.py
and, from inside the appliance image, tests/e2e/test_appliance_image.py): it keeps the files of
``extra-ca-certs/`` as the engine would have received them.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from appliance.config import Settings
from appliance.sandbox.image import CA_BUNDLE_NAME, build_sandbox_image


class RecordingEngine:
    def __init__(self) -> None:
        self.ca_files: dict[str, bytes] = {}
        self.images = SimpleNamespace(get=lambda name: SimpleNamespace(id="sha256:" + "0" * 64))
        self.api = SimpleNamespace(build=self._build)

    def _build(self, path: str, **_: Any) -> list[dict[str, Any]]:
        self.ca_files = {p.name: p.read_bytes() for p in (Path(path) / "extra-ca-certs").glob("*.pem")}
        return [{"stream": "Step 1/1 : FROM base\n"}, {"aux": {"ID": "sha256:" + "1" * 64}}]


def _build_with(tmp_path: Path, ca_file: Path | None) -> dict[str, bytes]:
    engine = RecordingEngine()
    settings = Settings.from_env({}, data_dir=tmp_path / "data", extra_ca_certs=ca_file)
    assert build_sandbox_image(settings, progress=lambda _: None, docker_client=engine) == "sha256:" + "1" * 64
    return engine.ca_files


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
