"""The check box on the real engine (finding 4 of issue 14): a render's video and layout
recording are parsed in a fresh container that sees none of the appliance's environment, no
Docker socket and no network, and the checks there refuse what they refused before."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.config import Settings
from appliance.contracts import LayoutReport
from appliance.sandbox.checkbox import PYTHON
from appliance.sandbox.connection import wait_for_exit
from appliance.sandbox.docker import LABEL_INSTANCE, DockerSandbox
from appliance.sandbox.video import VideoFacts
from tests.integration.sandbox_fixtures import make_sandbox_settings, open_sandbox
from tests.unit.test_sandbox_video import write_video

pytestmark = pytest.mark.docker

FAKE_API_KEY = "sk-fake-appliance-key-0123456789abcdef"
# Runs in a check container in place of the checker: reports what a parser exploited there
# could reach.
SPY = """
import json, os, pathlib
def readable(path):
    try:
        pathlib.Path(path).read_bytes()
        return True
    except OSError:
        return False
status = dict(line.split(':', 1) for line in pathlib.Path('/proc/self/status').read_text().splitlines())
print(json.dumps({
    "environment": dict(os.environ),
    "docker_socket": [p for p in ('/var/run/docker.sock', '/run/docker.sock') if os.path.exists(p)],
    "mounts": pathlib.Path('/proc/mounts').read_text(),
    "pid1_environ": readable('/proc/1/environ'),
    "networks": sorted(os.listdir('/sys/class/net')),
    "uid": os.getuid(), "groups": os.getgroups(),
    "caps": status['CapEff'].strip(), "bounding": status['CapBnd'].strip(),
}))
"""


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_sandbox_settings(tmp_path_factory.mktemp("check-box"), warm_pool_size=0,
                                 openai_api_key=FAKE_API_KEY, signing_key=FAKE_API_KEY + "-signing")


@pytest.fixture(scope="module")
def sandbox(settings: Settings) -> Iterator[DockerSandbox]:
    opened = open_sandbox(settings)
    yield opened
    opened.close()


def no_containers_left(sandbox: DockerSandbox) -> bool:
    sandbox.wait_for_removals()
    return not sandbox._client.containers.list(all=True, filters={"label": f"{LABEL_INSTANCE}={sandbox.instance_id}"})


def test_a_check_container_sees_no_secret_no_docker_socket_and_no_network(
        sandbox: DockerSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_API_KEY)
    monkeypatch.setenv("APPLIANCE_SIGNING_KEY", FAKE_API_KEY + "-signing")
    container = sandbox.create_check_container([PYTHON, "-I", "-c", SPY])
    try:
        container.start()
        assert wait_for_exit(container, 120, "the spy") == 0, container.logs().decode()[-2000:]
        seen = json.loads(container.logs(stdout=True, stderr=False).decode().strip().splitlines()[-1])
    finally:
        container.remove(force=True, v=True)
    assert FAKE_API_KEY not in json.dumps(seen)
    assert not [name for name in seen["environment"] if name.startswith("APPLIANCE_") or "KEY" in name]
    assert seen["docker_socket"] == [] and "docker.sock" not in seen["mounts"]
    assert seen["networks"] == ["lo"]
    assert seen["pid1_environ"] is False  # the backstop's, root's: not even the container's own init
    assert seen["uid"] == 20001 and seen["groups"] == []
    assert seen["caps"] == seen["bounding"] == "0000000000000000"


def test_the_check_box_refuses_a_second_video_stream(sandbox: DockerSandbox, tmp_path: Path) -> None:
    video = tmp_path / "two.mp4"
    write_video(video, "mp4", video_streams=2)
    verdict = sandbox.check_files(video, None, "low")
    assert verdict.video == "refused: the file has 2 video streams, not one"
    assert no_containers_left(sandbox)


def test_the_check_box_refuses_frames_larger_than_the_quality(sandbox: DockerSandbox, tmp_path: Path) -> None:
    video = tmp_path / "big.mp4"
    write_video(video, "mp4", frames=2, size=(1280, 720))
    assert sandbox.check_files(video, None, "medium").video.__class__ is VideoFacts
    verdict = sandbox.check_files(video, None, "low")
    assert verdict.video == "refused: the frame is 1280x720, larger than low quality's 854x480"


def test_the_check_box_refuses_what_is_not_an_mp4(sandbox: DockerSandbox, tmp_path: Path) -> None:
    video = tmp_path / "video.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\xff" * 5000)
    verdict = sandbox.check_files(video, None, "low")
    assert isinstance(verdict.video, str) and verdict.video.startswith("refused: ")


def test_the_check_box_checks_a_good_video_and_its_layout(sandbox: DockerSandbox, tmp_path: Path) -> None:
    video = tmp_path / "good.mp4"
    write_video(video, "mp4", frames=20)  # 2 s: under the layout gate's 3 s
    recording = tmp_path / "layout.json"
    recording.write_text(json.dumps({
        "version": 1, "frame": [14.22, 8.0], "objects": [{"kind": "text", "class": "Text", "text": "wide"}],
        "samples": [{"t": 1.0, "phase": "wait", "frame": [-7.11, -4.0, 7.11, 4.0], "sig": "a",
                     "items": [[0, -9.0, 0.0, 9.0, 1.0, 0.5]]}]}))
    verdict = sandbox.check_files(video, recording, "low")
    assert isinstance(verdict.video, VideoFacts) and (verdict.video.width, verdict.video.height) == (64, 48)
    assert verdict.video.duration_s == pytest.approx(2.0, abs=0.2)
    assert isinstance(verdict.layout, LayoutReport) and verdict.layout.checked
    kinds = sorted((issue.kind, issue.severity) for issue in verdict.layout.issues)
    assert kinds == [("text_outside_frame", "error"), ("too_short", "error")]
    assert no_containers_left(sandbox)
