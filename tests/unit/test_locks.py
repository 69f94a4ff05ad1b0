"""The hashed lock files (scripts/lock) agree with what they lock, and every install uses them.

CI (.ci/run), the appliance image (Dockerfile) and the sandbox image (sandbox_image/Dockerfile)
install every Python package with ``pip install --require-hashes -r <lock>``; these tests fail
when a lock misses a dependency of pyproject.toml or of requirements/*.in, pins a release that
the declared range excludes, has an entry without a hash, holds a malicious litellm release, or
when an install line bypasses the locks.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from appliance.config import MANIM_VERSION

ROOT = Path(__file__).resolve().parents[2]
APPLIANCE_LOCK = ROOT / "requirements" / "appliance.lock"
DEV_LOCK = ROOT / "requirements" / "dev.lock"
SANDBOX_LOCK = ROOT / "sandbox_image" / "requirements.lock"
SANDBOX_NODEPS_LOCK = ROOT / "sandbox_image" / "requirements-nodeps.lock"
LOCKS = [APPLIANCE_LOCK, DEV_LOCK, SANDBOX_LOCK, SANDBOX_NODEPS_LOCK]
MALICIOUS_LITELLM = {Version("1.82.7"), Version("1.82.8")}


def _logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    lines = []
    for line in joined.splitlines():
        line = line.split(" #", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if line:
            lines.append(line)
    return lines


def _entries(lock: Path) -> list[tuple[str, str, list[str]]]:
    """(requirement as written, canonical name, hashes) of every entry of a lock."""
    entries: list[tuple[str, str, list[str]]] = []
    for line in _logical_lines(lock.read_text()):
        words = line.split()
        requirement = words[0]
        hashes = [w.removeprefix("--hash=") for w in words[1:] if w.startswith("--hash=")]
        name = re.split(r"[=<>!~\[;]", requirement, maxsplit=1)[0]
        entries.append((line, str(canonicalize_name(name)), hashes))
    return entries


def _pins(lock: Path) -> dict[str, Version]:
    pins = {}
    for line, name, _ in _entries(lock):
        pins[name] = Version(line.split()[0].split("==", 1)[1])
    return pins


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _in_file(path: Path) -> list[Requirement]:
    return [Requirement(line) for line in _logical_lines(path.read_text())]


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.name)
def test_every_entry_is_pinned_with_a_sha256_hash(lock: Path) -> None:
    entries = _entries(lock)
    assert entries, f"{lock} is empty"
    for line, _, hashes in entries:
        assert re.fullmatch(r"[A-Za-z0-9._-]+(\[[A-Za-z0-9,._-]+\])?==[A-Za-z0-9.+!_-]+", line.split()[0]), (
            f"{lock.name}: not an exact pin: {line[:100]}")
        assert hashes, f"{lock.name}: no hash for {line.split()[0]}"
        for digest in hashes:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), f"{lock.name}: bad hash {digest}"
        assert "; " not in line, f"{lock.name}: an environment marker; the locks are for one platform: {line[:100]}"


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.name)
def test_no_entry_is_locked_twice_and_the_project_itself_is_not_locked(lock: Path) -> None:
    names = [name for _, name, _ in _entries(lock)]
    assert len(names) == len(set(names)), f"{lock.name} locks a package twice"
    assert "manim-appliance" not in names  # installed with --no-deps from the checkout


def _assert_locked(requirements: list[Requirement], lock: Path) -> None:
    pins = _pins(lock)
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in {lock.name}: run scripts/lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{lock.name} pins {name}=={pins[name]}, outside {requirement}: run scripts/lock")


def test_the_appliance_and_dev_locks_hold_every_runtime_dependency_of_pyproject() -> None:
    runtime = [Requirement(r) for r in _pyproject()["project"]["dependencies"]]
    _assert_locked(runtime, APPLIANCE_LOCK)
    _assert_locked(runtime, DEV_LOCK)


def test_the_dev_lock_holds_the_dev_extra() -> None:
    dev = [Requirement(r) for r in _pyproject()["project"]["optional-dependencies"]["dev"]]
    _assert_locked(dev, DEV_LOCK)


def test_the_appliance_and_dev_locks_agree_where_they_overlap() -> None:
    appliance, dev = _pins(APPLIANCE_LOCK), _pins(DEV_LOCK)
    differing = {name: (str(v), str(dev[name])) for name, v in appliance.items() if name in dev and dev[name] != v}
    assert not differing, f"the appliance image and CI would test different releases: {differing}"
    missing = sorted(set(appliance) - set(dev))
    assert not missing, f"CI would not install what the appliance image does: {missing}"


def test_the_sandbox_locks_hold_what_the_sandbox_image_needs() -> None:
    _assert_locked(_in_file(ROOT / "requirements" / "sandbox.in"), SANDBOX_LOCK)
    _assert_locked(_in_file(ROOT / "requirements" / "sandbox-nodeps.in"), SANDBOX_NODEPS_LOCK)
    # Everything the old install line named (manim, numpy, sympy, pymunk, shapely), and what the
    # image's own check imports (cairo, manimpango, av).
    pins = _pins(SANDBOX_LOCK)
    for name in ("manim", "numpy", "sympy", "pymunk", "shapely", "pycairo", "manimpango", "av"):
        assert name in pins, f"{name} is not in {SANDBOX_LOCK.name}"
    assert set(_pins(SANDBOX_NODEPS_LOCK)) == {"manim-physics"}


def test_the_sandbox_image_installs_the_manim_releases_the_appliance_expects() -> None:
    dockerfile = (ROOT / "sandbox_image" / "Dockerfile").read_text()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", dockerfile, re.MULTILINE))
    assert _pins(SANDBOX_LOCK)["manim"] == Version(MANIM_VERSION) == Version(args["MANIM_VERSION"])
    assert _pins(SANDBOX_NODEPS_LOCK)["manim-physics"] == Version(args["MANIM_PHYSICS_VERSION"])
    # The sdists built against the system cairo/pango must have their sdist's hash in the lock:
    # --no-binary makes pip pick the sdist, and --require-hashes then needs its hash.
    assert "--no-binary pycairo,manimpango" in dockerfile
    for name in ("pycairo", "manimpango"):
        hashes = next(h for _, n, h in _entries(SANDBOX_LOCK) if n == name)
        assert len(hashes) >= 2, f"{name}: the lock has no sdist hash besides a wheel's"


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.name)
def test_no_lock_holds_a_malicious_litellm_release(lock: Path) -> None:
    version = _pins(lock).get("litellm")
    assert version not in MALICIOUS_LITELLM


def test_pyproject_still_excludes_the_malicious_litellm_releases() -> None:
    litellm = next(Requirement(r) for r in _pyproject()["project"]["dependencies"] if r.startswith("litellm"))
    for bad in MALICIOUS_LITELLM:
        assert not litellm.specifier.contains(bad, prereleases=True)
    assert "litellm" in _pins(APPLIANCE_LOCK)


def _pip_installs(path: Path) -> list[str]:
    """Every ``pip install`` command of a Dockerfile or shell script (continuations joined)."""
    text = re.sub(r"\\\n", " ", path.read_text())
    commands = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        for part in re.split(r"&&|;|\|\|", line):
            if re.search(r"\bpip install\b", part):
                commands.append(" ".join(part.split()))
    return commands


@pytest.mark.parametrize(("path", "locks"), [
    (ROOT / ".ci" / "run", {"requirements/dev.lock"}),
    (ROOT / "Dockerfile", {"/tmp/appliance.lock"}),
    (ROOT / "sandbox_image" / "Dockerfile", {"/tmp/requirements.lock", "/tmp/requirements-nodeps.lock"}),
], ids=[".ci/run", "Dockerfile", "sandbox_image/Dockerfile"])
def test_every_install_is_from_a_lock_with_hashes(path: Path, locks: set[str]) -> None:
    used = set()
    for command in _pip_installs(path):
        words = command.split()
        arguments = words[words.index("install") + 1:]
        named = []  # what the command installs besides options and their values
        skip = False
        for word in arguments:
            if skip:
                skip = False
            elif word in ("-r", "--no-binary"):
                skip = True
            elif not word.startswith("-"):
                named.append(word)
        if "-r" in arguments:
            assert "--require-hashes" in arguments, f"{path.name}: a lock without --require-hashes: {command}"
            used.add(arguments[arguments.index("-r") + 1])
            assert not named, f"{path.name}: unlocked packages next to the lock: {command}"
        else:
            # Only the project itself, from the checkout, without its (locked) dependencies.
            assert "--no-deps" in arguments and named == ["."], f"{path.name}: an install without a lock: {command}"
    assert used == locks, f"{path.name} installs from {used}, expected {locks}"
