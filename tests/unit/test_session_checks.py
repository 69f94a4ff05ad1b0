"""The session-wide checks of tests/conftest.py: in CI a skip fails the run; the host's Docker
networking is compared before and after."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import HostDockerNetworking, host_docker_networking, networking_changes

# The inner sessions load the real hooks through tests/conftest.py's pytest_configure.
INNER_CONFTEST = "from tests.conftest import pytest_configure  # noqa: F401\n"
INNER_INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


def _inner(pytester: pytest.Pytester, conftest: str = "") -> pytest.Pytester:
    pytester.makeini(INNER_INI)
    pytester.makeconftest(INNER_CONFTEST + conftest)
    return pytester

TESTS = """
import pytest

def test_passes():
    pass

def test_needs_a_browser():
    pytest.skip("playwright is not installed")

@pytest.mark.xfail(reason="known bug", strict=True)
def test_known_bug():
    assert False
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    _inner(pytester).makepyfile(test_tiers=TESTS)
    return pytester


def test_a_skip_fails_the_session_in_ci(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    result = suite.runpytest("-q")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines([
        "*1 skipped: in CI (CI=true) a skip is a failure*",
        "SKIPPED test_tiers.py::test_needs_a_browser: playwright is not installed",
    ])
    assert "test_known_bug" not in result.stdout.str()  # an xfail is not a skip


def test_a_skip_stays_a_skip_outside_ci(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    result = suite.runpytest("-q")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, skipped=1, xfailed=1)
    assert "a skip is a failure" not in result.stdout.str()


def test_skips_from_fixtures_and_importorskip_count_too(pytester: pytest.Pytester,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    _inner(pytester, """
import pytest

@pytest.fixture
def corpus():
    pytest.skip("../shared/corpus is absent")
""")
    pytester.makepyfile(
        test_corpus="def test_corpus(corpus):\n    pass\n",
        test_optional="import pytest\npytest.importorskip('no_such_module_here')\n\ndef test_x():\n    pass\n",
    )
    result = pytester.runpytest("-q")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines_random([
        "SKIPPED test_corpus.py::test_corpus: ../shared/corpus is absent",
        "SKIPPED test_optional.py: *no_such_module_here*",
    ])


def test_a_clean_session_passes_in_ci(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    _inner(pytester).makepyfile(test_ok="def test_ok():\n    pass\n")
    result = pytester.runpytest("-q")
    assert result.ret == pytest.ExitCode.OK


def test_a_failing_session_keeps_its_exit_code(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    _inner(pytester).makepyfile(test_bad="import pytest\n\ndef test_bad():\n    pytest.exit('stop', returncode=3)\n")
    assert pytester.runpytest("-q").ret == 3


BRIDGE = ("3f0c", "bridge")
HOST = ("77aa", "host")


def test_unchanged_networking_is_no_change() -> None:
    state = HostDockerNetworking(frozenset({BRIDGE, HOST}), docker0=True)
    assert networking_changes(state, HostDockerNetworking(frozenset({BRIDGE, HOST}), docker0=True)) == []


def test_a_lost_docker0_and_changed_networks_are_named() -> None:
    before = HostDockerNetworking(frozenset({BRIDGE, HOST}), docker0=True)
    after = HostDockerNetworking(frozenset({HOST, ("99bb", "left-over")}), docker0=False)
    changes = networking_changes(before, after)
    assert any("docker0 is gone" in change for change in changes)
    assert "network bridge (3f0c) is gone" in changes
    assert "network left-over (99bb) was left behind" in changes


def test_an_engine_that_stopped_answering_is_a_change() -> None:
    before = HostDockerNetworking(frozenset({BRIDGE}), docker0=True)
    assert networking_changes(before, None)


def test_no_engine_means_nothing_to_check(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    assert host_docker_networking() is None
