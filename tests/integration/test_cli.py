"""The `appliance` command as a newcomer runs it: no API key, a fresh data directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import av
import pytest

pytestmark = pytest.mark.docker


def _env(tmp_path, **extra):
    keep = {k: v for k, v in os.environ.items()
            if k in ("PATH", "HOME", "LANG", "DOCKER_HOST", "SSL_CERT_FILE", "PYTHONPATH")}
    return {**keep, "APPLIANCE_DATA_DIR": str(tmp_path / "data"), **extra}


def _appliance(*args, env, timeout=600):
    return subprocess.run([sys.executable, "-m", "frontends.cli", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_render_makes_a_valid_video_with_no_api_key(tmp_path):
    out = tmp_path / "out.mp4"
    result = _appliance("render", "Solve 2x + 3 = 11", "-o", str(out), "--quality", "low", "--json",
                        env=_env(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads(result.stdout)
    assert record["status"] == "delivered" and record["ai_provider_used"] == "builtin"
    assert record["answer_text"] == "x = 4" and record["answer_check"] == "verified"
    with av.open(str(out)) as media:
        assert media.streams.video and media.duration / 1_000_000 > 3
        assert media.streams.audio and media.streams.subtitles  # narrated by default, with subtitles
    assert record["voice_engine"] == "espeak-ng" and record["voice_language"] == "en"
    assert record["steps"] and record["subtitles"]
    # Delivered: the stored copy is gone, only the file the user asked for remains.
    videos = tmp_path / "data" / "videos"
    assert not any(p.suffix == ".mp4" for p in videos.iterdir())
    # The job is in the data directory's store, as every job is.
    listed = _appliance("jobs", "list", "--json", env=_env(tmp_path), timeout=60)
    assert [json.loads(line)["job_id"] for line in listed.stdout.splitlines()] == [record["job_id"]]


def test_render_refuses_bad_input_with_a_usage_exit_code(tmp_path):
    result = _appliance("render", "2+2", env=_env(tmp_path))
    assert result.returncode == 2
    assert "at least 10 characters" in result.stderr


@pytest.mark.parametrize("problem,code", [
    (b"Solve \xff 2x + 3 = 11", "U+DCFF"),  # not UTF-8: Python's argv holds it as a lone surrogate
    (b"Solve \x1b[31m2x + 3 = 11", "U+001B"),
], ids=["not-utf8", "escape-sequence"])
def test_render_refuses_invalid_text_with_a_usage_exit_code(tmp_path, problem, code):
    # Bytes, as a shell passes them: argv can carry what no Python str literal could be encoded from.
    result = subprocess.run([sys.executable.encode(), b"-m", b"frontends.cli", b"render", problem],
                            env=_env(tmp_path), capture_output=True, timeout=600)
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 2, stderr[-3000:]
    assert f"({code}) at position 7" in stderr and "Traceback" not in stderr, stderr[-3000:]


def test_doctor_reports_every_component(tmp_path):
    result = _appliance("doctor", "--json", env=_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    checks = {check["name"]: check for check in json.loads(result.stdout)}
    for name in ("docker", "sandbox image", "store", "video storage", "built-in solver", "model providers",
                 "telegram"):
        assert checks[name]["ok"], checks[name]
    assert "none configured" in checks["model providers"]["detail"]


def test_doctor_says_what_to_fix_when_docker_is_unreachable(tmp_path):
    env = _env(tmp_path, DOCKER_HOST=f"unix://{tmp_path}/no-such.sock")
    result = _appliance("doctor", env=env)
    assert result.returncode == 1
    assert "FAIL docker" in result.stdout and "fix: start the Docker engine" in result.stdout


def test_invalid_setting_names_the_variable(tmp_path):
    result = _appliance("doctor", env=_env(tmp_path, APPLIANCE_PORT="-5"))
    assert result.returncode == 2 and "APPLIANCE_PORT" in result.stderr


def test_every_command_has_help(tmp_path):
    for command in (["--help"], ["serve", "--help"], ["render", "--help"], ["doctor", "--help"],
                    ["jobs", "--help"], ["sandbox", "--help"], ["sandbox", "build", "--help"],
                    ["sandbox", "run", "--help"]):
        result = _appliance(*command, env=_env(tmp_path), timeout=60)
        assert result.returncode == 0 and "usage:" in result.stdout, command


def test_render_prints_the_solution_first_and_makes_a_silent_video_when_asked(tmp_path):
    out = tmp_path / "silent.mp4"
    result = _appliance("render", "Résous 2x + 3 = 11", "-o", str(out), "--quality", "low", "--no-voice",
                        env=_env(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "Solution:" and lines[1].startswith("  1. ")
    assert lines[1] == "  1. Soustrayons 3 aux deux membres: 2x + 3 - 3 = 11 - 3"  # in the problem's language
    assert lines.index("  Answer: x = 4") < next(i for i, line in enumerate(lines) if line.startswith("Answer:"))
    assert "Voice: silent" in result.stdout
    with av.open(str(out)) as media:
        assert not media.streams.audio and media.streams.subtitles
