"""The Docker engine CI starts is real and usable: later tiers rely on it."""

from __future__ import annotations

import docker
import pytest

BASE = "debian:bookworm-slim"  # made by debootstrap + docker import in CI (no registry)


@pytest.fixture(scope="module")
def client():
    c = docker.from_env()
    c.ping()
    yield c
    c.close()


def test_engine_runs_a_container_from_a_locally_built_base(client):
    assert client.images.get(BASE)
    container = client.containers.run(
        BASE, ["sh", "-c", "echo hello from $(id -u); cat /etc/debian_version"],
        network_mode="none", detach=True, labels={"manim-appliance.test": "engine"},
    )
    try:
        result = container.wait(timeout=60)
        logs = container.logs().decode()
    finally:
        container.remove(force=True)
    assert result["StatusCode"] == 0
    assert logs.startswith("hello from 0")
    assert logs.strip().splitlines()[-1].startswith("12.")
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(container.id)


def test_network_none_has_no_route_out(client):
    out = client.containers.run(
        BASE, ["sh", "-c", "cat /proc/net/route | wc -l; ls /sys/class/net"],
        network_mode="none", remove=True,
    ).decode()
    lines = out.split()
    assert lines[0] == "1"  # header only: no routes
    assert lines[1:] == ["lo"]
