"""The `appliance sandbox` command line (parsing; rendering is in the integration tests)."""

from __future__ import annotations

import argparse
import socket
from pathlib import Path

import pytest

from appliance.sandbox.docker import _owner_alive, owner_token
from frontends.cli import sandbox as cli


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="appliance")
    cli.register(root.add_subparsers(dest="command"))
    return root


def test_run_options() -> None:
    args = parser().parse_args(["sandbox", "run", "s.py", "--scene", "A", "--quality", "low", "-o", "o.mp4",
                                "--json", "--repair", "--timeout", "30"])
    assert args.handler is cli._cmd_run
    assert (args.scene_file, args.scene, args.quality, args.output) == (Path("s.py"), "A", "low", Path("o.mp4"))
    assert args.json and args.repair and args.timeout == 30


def test_build_and_sweep_options() -> None:
    args = parser().parse_args(["sandbox", "build", "--debootstrap", "--base-image", "debian:12",
                                "--extra-ca-certs", "/etc/ssl/certs/ca-certificates.crt"])
    assert args.handler is cli._cmd_build and args.debootstrap and args.base_image == "debian:12"
    assert args.extra_ca_certs == Path("/etc/ssl/certs/ca-certificates.crt") and not args.no_host_network
    assert parser().parse_args(["sandbox", "sweep", "--all"]).all


def test_quality_is_checked() -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["sandbox", "run", "s.py", "--quality", "ultra"])


def test_run_of_a_missing_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(["sandbox", "run", str(tmp_path / "nope.py")])
    assert args.handler(args) == cli.EXIT_USAGE
    assert "cannot read" in capsys.readouterr().err


def test_owner_tokens_tell_live_dead_and_foreign_owners() -> None:
    assert _owner_alive(owner_token()) is True
    host = socket.gethostname()
    assert _owner_alive(f"{host}:999999999:0") is False
    assert _owner_alive(f"{host}:1:not-the-start-time") is False  # pid reused by another process
    assert _owner_alive("another-host:1:123") is None
    assert _owner_alive("garbage") is None


def test_push_without_an_engine_to_copy_to_says_how_to_name_one(monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("APPLIANCE_RENDER_ENGINES", raising=False)
    args = parser().parse_args(["sandbox", "push"])
    assert args.handler is cli._cmd_push and args.engine is None
    assert cli._cmd_push(args) == cli.EXIT_USAGE
    assert "APPLIANCE_RENDER_ENGINES" in capsys.readouterr().err


def test_push_refuses_a_bad_engine_url() -> None:
    from appliance.errors import ConfigError

    args = parser().parse_args(["sandbox", "push", "--engine", "ssh://me@render2"])
    with pytest.raises(ConfigError, match="--engine"):
        cli._cmd_push(args)
