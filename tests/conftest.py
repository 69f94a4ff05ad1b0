"""Checks over the whole test session.

1. The tests leave the host's Docker networking as they found it. The host's Docker networks
   (``docker network ls``) and whether its ``docker0`` interface exists are recorded at the start
   of the session and compared at the end; a difference fails the session. (A second dockerd
   started with ``--bridge none`` once deleted ``docker0``, and every ``docker run -p`` on the
   machine failed afterwards.) When no Docker engine answers at the start, as in a unit-only
   run, nothing is recorded and nothing is checked.

2. In CI (``CI=true``) a skipped test is a failure: a tier that silently skips (no browser, no
   corpus, no root) must not let CI pass. Every skip, whether from a mark, a fixture or
   ``pytest.importorskip``, is listed with its reason and the session exits non-zero. An
   expected failure (xfail) is not a skip. Outside CI a skip stays a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

DOCKER0 = Path("/sys/class/net/docker0")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


# --- 1. the host's Docker networking -------------------------------------------------------


@dataclass(frozen=True)
class HostDockerNetworking:
    networks: frozenset[tuple[str, str]]  # (id, name) of every network of the host's engine
    docker0: bool  # the default bridge interface exists


def host_docker_networking() -> HostDockerNetworking | None:
    """What the host's engine has now, or None when no engine answers (nothing to check)."""
    try:
        import docker

        client = docker.from_env(timeout=10)
        try:
            networks = frozenset((network.id or "", network.name or "") for network in client.networks.list())
        finally:
            client.close()
    except Exception:
        return None
    return HostDockerNetworking(networks, DOCKER0.exists())


def networking_changes(before: HostDockerNetworking, after: HostDockerNetworking | None) -> list[str]:
    """Sentences naming each difference; empty when the host is as it was."""
    if after is None:
        return ["the host's Docker engine answered at the start of the session and no longer does"]
    changes = []
    if before.docker0 and not after.docker0:
        changes.append("the interface docker0 is gone: every `docker run -p ...` on this machine now fails "
                       "with 'could not find bridge docker0' until dockerd is restarted")
    elif after.docker0 and not before.docker0:
        changes.append("the interface docker0 appeared (the host's dockerd was restarted?)")
    changes += [f"network {name} ({net_id[:12]}) is gone" for net_id, name in sorted(before.networks - after.networks)]
    changes += [f"network {name} ({net_id[:12]}) was left behind"
                for net_id, name in sorted(after.networks - before.networks)]
    return changes


@pytest.fixture(scope="session", autouse=True)
def host_docker_networking_unchanged() -> Iterator[None]:
    before = host_docker_networking()
    yield
    if before is None:
        return
    changes = networking_changes(before, host_docker_networking())
    if changes:
        pytest.fail("The tests changed the host's Docker networking:\n  - " + "\n  - ".join(changes), pytrace=False)


# --- 2. in CI a skip is a failure ----------------------------------------------------------


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
        return reason.removeprefix("Skipped: ")
    return str(longrepr)


class SkipsFailCI:
    """Collects every skip of the session; under ``CI=true`` they fail it."""

    def __init__(self) -> None:
        self.skipped: list[tuple[str, str]] = []  # (node id, reason)

    def _add(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        self.skipped.append((report.nodeid or "(collection)", _skip_reason(report)))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped and not hasattr(report, "wasxfail"):
            self._add(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.skipped:
            self._add(report)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if in_ci() and self.skipped and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not (in_ci() and self.skipped):
            return
        terminalreporter.write_sep("=", f"{len(self.skipped)} skipped: in CI (CI=true) a skip is a failure", red=True)
        for nodeid, reason in self.skipped:
            terminalreporter.write_line(f"SKIPPED {nodeid}: {reason}", red=True)
        terminalreporter.write_line("Install what the skipped tests need (see .ci/run), or remove the skip.")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(SkipsFailCI(), "skips-fail-ci")
