"""Building the sandbox image through the SDK, and its base without a registry.

Slow: the build test is a cache hit when the image was built from the same sources (as
CI does first, with the host CA bundle); the debootstrap test makes a real base image.
"""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from appliance.config import MANIM_VERSION, SANDBOX_IMAGE_VERSION, Settings
from appliance.errors import SandboxError
from appliance.sandbox.image import build_sandbox_image, make_debootstrap_base, sandbox_image_dir
from tests.integration.sandbox_fixtures import open_sandbox

pytestmark = [pytest.mark.docker, pytest.mark.slow]

HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def test_build_streams_progress_and_labels_the_image(tmp_path: Path) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path, extra_ca_certs=HOST_CA_BUNDLE if HOST_CA_BUNDLE.is_file()
                                 else None)
    lines: list[str] = []
    image_id = build_sandbox_image(settings, progress=lines.append)
    assert any(line.startswith("Step ") for line in lines)
    assert lines[-1].startswith(f"built {settings.sandbox_image}")
    image = docker.from_env().images.get(settings.sandbox_image)
    assert image.id == image_id
    assert image.labels["manim-appliance.sandbox-image-version"] == SANDBOX_IMAGE_VERSION
    assert image.labels["manim-appliance.manim-version"] == MANIM_VERSION
    assert image.attrs["Config"]["User"] == "20001:20001"  # not the appliance image's 10001
    open_sandbox(settings.replace(warm_pool_size=0)).close()  # check_image accepts it


def test_a_missing_ca_file_is_reported_before_building(tmp_path: Path) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path)
    with pytest.raises(SandboxError, match="does not exist"):
        build_sandbox_image(settings, progress=lambda _: None, extra_ca_certs=tmp_path / "missing.pem")


def test_the_sources_are_found() -> None:
    source = sandbox_image_dir()
    assert {"Dockerfile", "runner.py", "manim.cfg"} <= {p.name for p in source.iterdir()}


def test_debootstrap_makes_a_usable_base_image() -> None:
    client = docker.from_env(timeout=600)
    tag = "manim-appliance-test-base:bookworm"
    lines: list[str] = []
    try:
        make_debootstrap_base(client, tag, lines.append)
        output = client.containers.run(tag, ["cat", "/etc/debian_version"], remove=True, network_mode="none")
        assert output.decode().startswith("12.")
        assert any("Base system installed successfully" in line for line in lines)
    finally:
        try:
            client.images.remove(tag, force=True)
        except docker.errors.ImageNotFound:
            pass
