"""One disposable, hardened container per render (DESIGN.md, "Sandbox rules").

A render: create a container with a small tmpfs volume as /work (no network,
read-only root, non-root, no capabilities, no-new-privileges, default seccomp, pid,
memory, CPU, nofile and fsize limits, capped logs, an init), attach to its stdin and
output, start it, send the request as one JSON line, and wait for the runner to say
"done" or to die. The video is fetched through the archive API while the container is
still alive (the tmpfs dies with it), checked (``video.py``), and the container and its
volume are removed whatever happened. Nothing is bind-mounted from the host, so this
works the same with a remote DOCKER_HOST or from inside the appliance's own container.

With a warm pool (``pool.py``) the container was started earlier and has already
imported Manim; everything else is the same.

Every container the appliance starts from the sandbox image (renders, warm ones, the
doctor's probe, checks) takes its confinement from ``container_confinement``: the OCI
runtime (APPLIANCE_SANDBOX_RUNTIME: runc, or gVisor's runsc), no network, read-only root,
the render user, no capabilities, no-new-privileges. Add a kind of container there, never
beside it.

The sandbox receives an opened client (``appliance.sandbox.connection`` opens them) and
closes it with itself. docker-py ships no type information: its classes in annotations
here (``docker.DockerClient``, ``Container``) are ``Any`` to mypy.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
import re
import socket
import tarfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.models.containers import Container
from docker.types import DriverConfig, LogConfig, Mount, Ulimit

from appliance.config import MANIM_VERSION, SANDBOX_IMAGE_VERSION, Settings
from appliance.contracts import VOICE_ENGINES, LayoutReport, VoiceRequest
from appliance.errors import EngineLost, EngineRefused, SandboxError, SandboxImageMissing, SandboxUnavailable
from appliance.models import JSONDict
from appliance.sandbox.attach import AttachedStream
from appliance.sandbox.checkbox import CHECK_TIMEOUT_S, run_check_box
from appliance.sandbox.classify import ContainerFacts, classify_failure
from appliance.sandbox.connection import (
    attach_socket,
    open_archive,
    ping_engine,
    remove_container,
    translate_docker_errors,
)
from appliance.sandbox.layout import RECORDING_MAX_BYTES, unchecked
from appliance.sandbox.pool import WarmPool
from appliance.sandbox.result import RenderResult, RenderStatus, summarize_stderr
from appliance.sandbox.verdict import Verdict
from appliance.sandbox.video import NO_VIDEO_FILE, accept_video

log = logging.getLogger(__name__)

LABEL_ROLE = "manim-appliance.role"
ROLE_SANDBOX = "sandbox"
LABEL_OWNER = "manim-appliance.owner"  # host:pid:process-start of the appliance that made it
LABEL_INSTANCE = "manim-appliance.instance"  # one DockerSandbox object
LABEL_DEADLINE = "manim-appliance.deadline"  # unix time after which it is certainly stale
LABEL_IMAGE_VERSION = "manim-appliance.sandbox-image-version"
LABEL_MANIM_VERSION = "manim-appliance.manim-version"

RENDER_UID = 20001  # the image's `render` user (sandbox_image/Dockerfile); not the appliance's 10001
RUNNER = ["/opt/manim/bin/python", "-I", "/opt/manim-appliance/runner.py"]
WORK_DIR = "/work"
CLIPS_DIR = "voice-clips"  # under WORK_DIR: where the runner's appliance_voice looks for clips
OUTPUT_PATH = "/work/output/video.mp4"
LAYOUT_PATH = "/work/output/layout.json"  # the runner's layout recording (sandbox_image/layout_recorder.py)
BUILD_COMMAND = "appliance sandbox build"
# A container starts as root with only these capabilities: `timeout`, the backstop, stays root
# (a scene's UID can neither stop nor kill it) and needs KILL to end the scene's processes;
# `setpriv` needs the other three to run the scene as RENDER_UID with no capabilities, an empty
# bounding set and no supplementary groups (no-new-privileges keeps it that way).
BACKSTOP_CAPABILITIES = ["KILL", "SETGID", "SETPCAP", "SETUID"]

# A warm container waits at most this long for its job before the pool replaces it;
# its in-container backstop timeout covers the wait plus one render.
WARM_MAX_IDLE_S = 900.0
BACKSTOP_MARGIN_S = 30.0
# CPU weight among containers: a warm container starting up (import, warm-up) must not
# slow down a render in progress, so it starts at a token weight and gets the normal
# weight when it is handed a job. The hard cap (nano_cpus) is the same for both.
CPU_SHARES_RENDER = 1024
CPU_SHARES_WARMING = 16
# After the runner reports a failure it exits at once; give it this long.
EXIT_GRACE_S = 5.0
# How long the stderr of a finished render may lag its "done" (settle_stderr).
STDERR_SETTLE_S = 2.0
# Work-area files: the tmpfs inode cap stops "millions of empty files".
WORK_MAX_FILES = 20000
# The container's environment is exactly this (plus the image's own ENV): nothing of
# the appliance's environment, where API keys live, is passed on.
CONTAINER_ENVIRONMENT = {
    "HOME": WORK_DIR,
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONHASHSEED": "0",
}


# How to make runsc available, for the messages that find it missing (README, "Security model").
REGISTER_RUNSC = ("install gVisor (`apt-get install runsc`) and register it with the Docker engine as runsc with "
                  "--network=none among its runtimeArgs (`sudo scripts/register-runsc` does both in "
                  "/etc/docker/daemon.json and reloads dockerd), or set APPLIANCE_SANDBOX_RUNTIME=runc")
# The doctor's probe container: what it runs, and how long it may take (gVisor boots its own kernel).
PROBE_OK = "sandbox-probe-ok"
# Under runc, Seccomp 2 (a filter) is Docker's default profile in force; gVisor does not
# apply it (README). The kernel release: the host's under runc, gVisor's own under runsc.
PROBE_SCRIPT = f"echo {PROBE_OK}; grep '^Seccomp:' /proc/self/status; echo kernel $(uname -r)"
PROBE_SECCOMP = "Seccomp:\t2"
PROBE_TIMEOUT_S = 60
PROBE_PIDS = 16


# Under runsc the engine's process limit (the host's pids cgroup) counts gVisor's own host
# threads too: about 40 for its kernel and file proxy at rest, and about 5 more for each
# process of the scene on gVisor's default (ptrace) platform; measured with runsc
# 20221219 (bench/gvisor_notes.md). The scene's own limit is then RLIMIT_NPROC,
# which gVisor's kernel counts per sandbox (its user ids are its own) and enforces on
# fork and thread creation, as the pids cgroup does under runc. The host limit stays,
# with this headroom, as the outer bound a bug in gVisor cannot pass.
RUNSC_HOST_PIDS_BASE = 64
RUNSC_HOST_PIDS_PER_TASK = 8


def container_confinement(settings: Settings, pids: int, ulimits: Sequence[Ulimit] = (), *,
                          root_backstop: bool = False) -> dict[str, object]:
    """The docker-py ``containers.create`` arguments that confine every container the
    appliance starts from the sandbox image: renders, warm-pool containers, the doctor's
    probe and any check container. The one place the runtime is chosen and what it changes
    is decided, so no kind of container runs under another runtime, with a network or
    without a process limit by omission. ``pids``: processes and threads the container's
    code may have; ``ulimits``: the caller's others (nofile, fsize, ...). Callers add their
    own memory, mounts and command on top and must not override these keys.
    ``root_backstop``: the container's command is ``backstop_entrypoint``'s, which starts as
    root with only ``BACKSTOP_CAPABILITIES`` so that its ``timeout`` cannot be stopped by the
    scene and ``setpriv`` can drop the scene to ``RENDER_UID`` with no capabilities at all."""
    runtime = settings.sandbox_runtime
    if runtime == "runsc":
        host_pids = RUNSC_HOST_PIDS_BASE + RUNSC_HOST_PIDS_PER_TASK * pids
        # Never under runc: there RLIMIT_NPROC counts every process of the user id on the
        # host, and every sandbox container shares the render user's id.
        ulimits = [*ulimits, Ulimit(name="nproc", soft=pids, hard=pids)]
    else:
        host_pids = pids
    return {
        "image": settings.sandbox_image,
        # gVisor (runsc) interposes its own kernel between the scene and the host's; its
        # registration must carry --network=none (README), and network_mode stays "none".
        "runtime": runtime,
        "user": "0:0" if root_backstop else f"{RENDER_UID}:{RENDER_UID}",
        "network_mode": "none",
        "read_only": True,
        "cap_drop": ["ALL"],
        "cap_add": BACKSTOP_CAPABILITIES if root_backstop else [],
        # Docker's default seccomp profile stays on; gVisor does not apply it (README, "Security model").
        "security_opt": ["no-new-privileges:true"],
        "pids_limit": host_pids,
        "ulimits": list(ulimits),
    }


def can_update_running(settings: Settings) -> bool:
    """Whether the engine can change a running sandbox container's resources (its CPU weight):
    runc can; runsc 20221219 has no `update` command, so the engine refuses."""
    return settings.sandbox_runtime != "runsc"


def owner_token() -> str:
    """Identifies this process across restarts: host name, pid and the pid's start time."""
    return f"{socket.gethostname()}:{os.getpid()}:{_process_start(os.getpid())}"


def _process_start(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def _owner_alive(owner: str) -> bool | None:
    """True/False for an owner on this host; None when it lives elsewhere (unknowable)."""
    try:
        host, pid_text, start = owner.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return None
    if host != socket.gethostname():
        return None
    return Path(f"/proc/{pid}").exists() and _process_start(pid) == start


@dataclass
class StartedContainer:
    """A started sandbox container waiting for (or running) its one render."""

    container: Container
    name: str
    stream: AttachedStream
    started_at: float  # monotonic
    ready: bool = False
    import_s: float | None = None
    paused: bool = False  # frozen for the video's fetch: resumed before removal

    @property
    def id(self) -> str:
        return str(self.container.id)


class DockerSandbox:
    """Renders scene code in fresh hardened containers; thread-safe, blocking."""

    def __init__(self, settings: Settings, docker_client: docker.DockerClient, engine: str = "local") -> None:
        self.settings = settings
        self.engine = engine
        self._client = docker_client  # ours from now on: closed by close()
        self.instance_id = uuid.uuid4().hex[:12]
        self.owner = owner_token()
        self.videos_dir = settings.data_dir / "sandbox-videos"
        self._pool: WarmPool[StartedContainer] | None = None
        self._pool_lock = threading.Lock()
        self._removals: set[threading.Thread] = set()
        self._removals_lock = threading.Lock()
        self._closed = False
        # Whether renders record their layout for the gate (the bench turns it off to measure it).
        self.record_layout = True

    # -- life --------------------------------------------------------------------------------

    def ping(self, timeout_s: float | None = None) -> None:
        ping_engine(self._client, timeout_s)

    def check_image(self) -> None:
        """Raise ``SandboxImageMissing`` (with the command to run) unless the image is right."""
        name = self.settings.sandbox_image
        missing = (f"the sandbox image {name} is missing; build it with `{BUILD_COMMAND}` "
                   f"(add --debootstrap when the base image cannot be pulled)")
        with translate_docker_errors("cannot reach the Docker engine", image_missing=missing):
            image = self._client.images.get(name)
        labels = image.labels or {}
        found = (labels.get(LABEL_IMAGE_VERSION), labels.get(LABEL_MANIM_VERSION))
        if found != (SANDBOX_IMAGE_VERSION, MANIM_VERSION):
            raise SandboxImageMissing(
                f"the sandbox image {name} is version {found[0] or '?'} with Manim {found[1] or '?'}; this "
                f"appliance needs version {SANDBOX_IMAGE_VERSION} with Manim {MANIM_VERSION}: rebuild it with "
                f"`{BUILD_COMMAND}`"
            )

    def warm_up(self) -> None:
        """Start the warm pool now (it also starts on the first render); no-op if size is 0."""
        self._ensure_pool()

    def close(self) -> None:
        """Stop the pool and remove every container this sandbox still owns."""
        self._closed = True
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
        self.wait_for_removals()
        with contextlib.suppress(SandboxError):
            self._remove_by_labels({LABEL_INSTANCE: self.instance_id})
        with contextlib.suppress(Exception):  # only releases the connection pool
            self._client.close()

    def _ensure_pool(self) -> WarmPool[StartedContainer] | None:
        if self.settings.warm_pool_size <= 0 or self._closed:
            return None
        with self._pool_lock:
            if self._pool is None:
                # A weight that cannot be raised later is the render's from the start.
                warming = CPU_SHARES_WARMING if can_update_running(self.settings) else CPU_SHARES_RENDER
                self._pool = WarmPool(
                    start=lambda: self.start_container(WARM_MAX_IDLE_S, cpu_shares=warming),
                    discard=lambda started: self.discard(started, wait=False),
                    size=self.settings.warm_pool_size,
                    max_idle_s=WARM_MAX_IDLE_S,
                )
                self._pool.start()
            return self._pool

    # -- one render --------------------------------------------------------------------------

    def render(self, code: str, scene_name: str, quality: str = "medium", prelude: str = "",
               voice: VoiceRequest | None = None) -> RenderResult:
        started_at = time.monotonic()
        deadline = started_at + self.settings.render_timeout_s
        started: StartedContainer | None = None
        try:
            pool = self._ensure_pool()
            started = pool.take() if pool is not None else None
            if started is not None and not started.stream.still_open():
                log.warning("warm sandbox %s died while idle; using a fresh one", started.name)
                self.discard(started, wait=False)
                started = None
            if started is not None and can_update_running(self.settings):
                self._give_full_weight(started)
            if started is None:
                started = self.start_container(0.0)
            result = self._drive(started, code, scene_name, quality, prelude, deadline, voice or VoiceRequest())
        except (SandboxImageMissing, SandboxUnavailable) as exc:
            result = RenderResult(RenderStatus.UNAVAILABLE, detail=str(exc))
        finally:
            if started is not None:
                # The container is already dead or idle (its video fetched): its teardown
                # need not delay the result.
                self.discard(started, wait=False)
        result.duration_s = time.monotonic() - started_at
        result.container_id = started.id if started is not None else None
        if result.status is RenderStatus.UNAVAILABLE:
            log.error("sandbox on engine %s unavailable: %s", self.engine, result.detail)
        return result

    def start_container(self, idle_allowance_s: float, cpu_shares: int = CPU_SHARES_RENDER) -> StartedContainer:
        """Create, attach and start one sandbox container (it imports Manim, then waits)."""
        settings = self.settings
        backstop_s = idle_allowance_s + settings.render_timeout_s + BACKSTOP_MARGIN_S
        labels = self._labels(backstop_s)
        name = f"manim-sandbox-{uuid.uuid4().hex[:12]}"
        container = None
        missing = f"the sandbox image {settings.sandbox_image} is missing; build it with `{BUILD_COMMAND}`"
        try:
            with translate_docker_errors(self._cannot_start(), image_missing=missing):
                container = self._client.containers.create(
                    name=name, labels=labels, cpu_shares=cpu_shares, **self._container_options(labels, backstop_s))
                # Attach before start: nothing the runner writes can be missed.
                attached, owner = attach_socket(self._client.api, container.id)
                stream = AttachedStream(attached, settings.render_log_kb * 1024, keepalive=owner)
                container.start()
        except SandboxError:
            self._remove_quietly(container)
            raise
        return StartedContainer(container=container, name=name, stream=stream, started_at=time.monotonic())

    def _labels(self, backstop_s: float) -> dict[str, str]:
        """Labels of a container of ours: the sweep finds it by them if we die."""
        return {
            LABEL_ROLE: ROLE_SANDBOX,
            LABEL_OWNER: self.owner,
            LABEL_INSTANCE: self.instance_id,
            LABEL_DEADLINE: str(int(time.time() + backstop_s + 60)),
        }

    def _cannot_start(self) -> str:
        runtime = self.settings.sandbox_runtime
        if runtime == "runc":
            return "cannot start a sandbox container"
        # The engine's own words follow ("unknown or invalid runtime name: runsc"); say what to do.
        return f"cannot start a sandbox container under the {runtime} runtime (`appliance doctor` checks it)"

    def check_runtime(self) -> str:
        """Raise ``SandboxUnavailable`` unless the engine has the configured runtime and a
        trivial confined, network-less container of the sandbox image runs under it; else
        say what ran. Under runsc the container's kernel log must be gVisor's: a runtime
        merely named runsc is not taken on trust."""
        runtime = self.settings.sandbox_runtime
        with translate_docker_errors(f"cannot ask the Docker engine {self.engine} about its runtimes"):
            info = self._client.info()
        known = sorted(info.get("Runtimes") or {})
        if runtime not in known:
            hint = f": {REGISTER_RUNSC}" if runtime == "runsc" else ""
            raise SandboxUnavailable(f"the Docker engine {self.engine} has no runtime named {runtime} "
                                     f"(it has {', '.join(known) or 'none'}){hint}")
        started_at = time.monotonic()
        container = None
        try:
            with translate_docker_errors(self._cannot_start()):
                container = self._client.containers.create(
                    **container_confinement(self.settings, PROBE_PIDS),
                    name=f"manim-sandbox-probe-{uuid.uuid4().hex[:12]}",
                    labels=self._labels(PROBE_TIMEOUT_S),
                    entrypoint=["timeout", "-s", "KILL", str(PROBE_TIMEOUT_S), "sh", "-c", PROBE_SCRIPT],
                    command=[], mem_limit="128m", memswap_limit="128m",
                    log_config=LogConfig(type="json-file", config={"max-size": "64k", "max-file": "1"}))
                container.start()
                exit_code = int(container.wait(timeout=PROBE_TIMEOUT_S + 30).get("StatusCode", -1))
                output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        finally:
            self._remove_quietly(container)
        took = time.monotonic() - started_at
        lines = output.splitlines()
        shown = output.strip()[-300:] or "no output"
        if exit_code != 0 or PROBE_OK not in lines:
            raise SandboxUnavailable(f"a probe container under {runtime} exited with {exit_code}: {shown}")
        host_kernel = str(info.get("KernelVersion") or "?")
        kernel = next((line.removeprefix("kernel ") for line in lines if line.startswith("kernel ")), "?")
        if runtime == "runsc" and kernel == host_kernel:
            raise SandboxUnavailable(f"the engine's runtime named runsc is not gVisor: its container runs on the "
                                     f"host's kernel {host_kernel}: {REGISTER_RUNSC}")
        if runtime == "runc" and PROBE_SECCOMP not in lines:
            raise SandboxUnavailable(f"a sandbox container runs without Docker's seccomp filter "
                                     f"({shown.replace(PROBE_OK, '').strip()}): do not run dockerd with an "
                                     f"unconfined seccomp profile")
        if runtime == "runsc":
            return (f"runsc registered; a network-less {self.settings.sandbox_image} container ran under it on "
                    f"gVisor's kernel {kernel}, not the host's {host_kernel}, in {took:.1f} s")
        return (f"runc registered; a network-less {self.settings.sandbox_image} container ran under it with "
                f"Docker's seccomp filter in {took:.1f} s")

    def _container_options(self, labels: dict[str, str], backstop_s: float,
                           command: list[str] = RUNNER) -> dict[str, object]:
        """The create options of every sandbox container, render or check (``checkbox.py``)."""
        settings = self.settings
        memory = f"{settings.render_memory_mb}m"
        tmp_mb = max(16, settings.render_tmpfs_mb // 4)
        # fsize bounds every single file (the video, partial movies, TeX output); the
        # finished video is checked against the exact cap when it is fetched.
        fsize_bytes = (settings.render_max_video_mb + 1) * 1024 * 1024
        return {
            **container_confinement(settings, settings.render_pids, [
                Ulimit(name="nofile", soft=settings.render_nofile, hard=settings.render_nofile),
                Ulimit(name="fsize", soft=fsize_bytes, hard=fsize_bytes),
                Ulimit(name="core", soft=0, hard=0),
            ], root_backstop=True),
            # The in-container backstop for when the appliance itself dies mid-render.
            "entrypoint": backstop_entrypoint(backstop_s, command),
            "command": [],
            "working_dir": WORK_DIR,
            "environment": {**CONTAINER_ENVIRONMENT, **self._thread_caps()},
            "hostname": "sandbox",
            "mem_limit": memory,
            "memswap_limit": memory,
            "oom_score_adj": 1000,  # under host memory pressure, a render dies before the appliance
            "nano_cpus": int(settings.render_cpus * 1_000_000_000),
            "shm_size": f"{tmp_mb}m",
            "tmpfs": {"/tmp": f"size={tmp_mb}m,mode=1777,noexec,nosuid,nodev"},
            # /work is an anonymous tmpfs *volume*, not a container tmpfs: the engine can read
            # a volume through the archive API (it cannot see a container's tmpfs), and it
            # goes with the container (remove v=True).
            "mounts": [Mount(
                target=WORK_DIR, source=None, type="volume", labels=labels,
                driver_config=DriverConfig("local", {
                    "type": "tmpfs", "device": "tmpfs",
                    "o": f"size={settings.render_tmpfs_mb}m,nr_inodes={WORK_MAX_FILES},mode=0700,"
                         f"uid={RENDER_UID},gid={RENDER_UID},noexec,nosuid,nodev",
                }),
            )],
            "log_config": LogConfig(type="json-file",
                                    config={"max-size": f"{settings.render_log_kb}k", "max-file": "1"}),
            "init": True,
            "stdin_open": True,
        }

    def _give_full_weight(self, started: StartedContainer) -> None:
        try:
            with translate_docker_errors(f"cannot raise the CPU weight of sandbox {started.name}"):
                self._client.api.update_container(started.id, cpu_shares=CPU_SHARES_RENDER)
        except SandboxError as exc:  # it still renders, only with a smaller share under contention
            log.warning("%s", exc)

    def _thread_caps(self) -> dict[str, str]:
        # The container sees every host CPU but may use only render_cpus: without caps,
        # numpy's BLAS starts a thread per host CPU (pids, memory) for nothing.
        threads = str(max(1, math.ceil(self.settings.render_cpus)))
        return {"OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}

    def _drive(
        self, started: StartedContainer, code: str, scene_name: str, quality: str, prelude: str, deadline: float,
        voice: VoiceRequest,
    ) -> RenderResult:
        if voice.enabled and voice.clips and not self._hand_clips(started, voice):
            voice = VoiceRequest(voice.enabled, voice.language)  # espeak-ng says everything instead
        request = json.dumps({"code": code, "scene": scene_name, "quality": quality, "prelude": prelude,
                              "encoder_preset": self.settings.render_encoder_preset,
                              "voice": voice.for_sandbox(), "layout": self.record_layout})
        stream = started.stream
        try:
            # A cold runner reads only after importing Manim: allow for that, within the deadline.
            stream.send(request.encode("utf-8") + b"\n", timeout_s=max(1.0, deadline - time.monotonic()))
        except OSError:
            pass  # the runner may already be dead; its output below says why
        timed_out = False
        message = None
        try:
            message = stream.read_until(deadline, ("done", "error"))
        except TimeoutError:
            timed_out = True
        if message is not None and message.kind == "done":
            return self._collect_video(started, quality, claimed_voice_engine(message.fields))
        pids_at_timeout = self._pids(started) if timed_out else None
        if not timed_out:
            stream.drain(min(deadline, time.monotonic() + EXIT_GRACE_S))
        if not stream.eof:
            # Hang up before killing: an engine blocked writing endless output to a socket
            # nobody reads cannot finish the container's exit, and the kill would wait on it.
            stream.close()
            self._kill(started)
        exit_code, oom_killed = self._final_state(started)
        stderr = stream.stderr.text()
        status, detail = classify_failure(ContainerFacts(
            timed_out=timed_out,
            exit_code=exit_code,
            oom_killed=oom_killed,
            stderr=stderr,
            runner_error=message.fields if message is not None and message.kind == "error" else None,
            pids_at_timeout=pids_at_timeout,
            pids_limit=self.settings.render_pids,
        ))
        tail = summarize_stderr(stderr) if status is RenderStatus.SCENE_ERROR else summarize_stderr(stderr, 600)
        return RenderResult(status, exit_code=exit_code, stderr_tail=tail, detail=detail)

    def _hand_clips(self, started: StartedContainer, voice: VoiceRequest) -> bool:
        """Put the appliance's speech clips into the container's /work before its request:
        audio only (no key or URL goes in), owned by the render user. False if the engine
        refused, and the render goes on with the sandbox's own voice."""
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            folder = tarfile.TarInfo(CLIPS_DIR)
            folder.type, folder.mode, folder.uid, folder.gid = tarfile.DIRTYPE, 0o700, RENDER_UID, RENDER_UID
            tar.addfile(folder)
            for clip in voice.clips:
                member = tarfile.TarInfo(f"{CLIPS_DIR}/{clip.file_name}")
                member.size, member.mode, member.uid, member.gid = len(clip.wav), 0o600, RENDER_UID, RENDER_UID
                tar.addfile(member, io.BytesIO(clip.wav))
        try:
            with translate_docker_errors("cannot hand the narration to the sandbox"):
                return bool(self._client.api.put_archive(started.id, WORK_DIR, archive.getvalue()))
        except SandboxError as exc:
            log.warning("%s; the sandbox's own voice speaks instead", exc)
            return False

    def _collect_video(self, started: StartedContainer, quality: str, voice_engine: str | None) -> RenderResult:
        """The OK result once the runner said "done"."""
        self.videos_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        destination = self.videos_dir / f"{started.name}.mp4"
        max_bytes = self.settings.render_max_video_mb * 1024 * 1024
        # Freeze the scene's processes first: nothing inside can swap the file, or a path
        # component, for something else while the engine resolves and reads it. An engine
        # that refuses (the container already exited) is no reason to stop here.
        with contextlib.suppress(EngineRefused), translate_docker_errors("cannot pause the sandbox"):
            started.container.pause()
            started.paused = True
        try:
            with translate_docker_errors("cannot fetch the video from the sandbox"), \
                    open_archive(self._client.api, started.id, OUTPUT_PATH) as archive:
                # The engine's archive API stat()s the path before a byte is read: refused
                # from that header alone if it is not a plain file (video.py).
                refusal = NO_VIDEO_FILE if archive is None else accept_video(
                    archive.stat, archive.chunks, destination, max_bytes)
        except SandboxError:
            destination.unlink(missing_ok=True)
            raise
        # The scene's processes are frozen, but what they wrote may still be in the engine's
        # pipes: read it to the runner's end line before the tail is reported.
        started.stream.settle_stderr(time.monotonic() + STDERR_SETTLE_S)
        stderr_tail = summarize_stderr(started.stream.stderr.text(), 600)
        if refusal is not None:
            destination.unlink(missing_ok=True)
            return RenderResult(refusal.status, exit_code=None, stderr_tail=stderr_tail, detail=refusal.detail)
        # The layout recording is fetched now (the container is still paused); both files are
        # parsed only in a fresh check container (checkbox.py), never on this host.
        recording = self._fetch_layout(started) if self.record_layout else None
        # Nothing more is needed from the render's container: its memory is the check box's now
        # (render() discards it again, which is harmless).
        self.discard(started, wait=False)
        try:
            verdict = self.check_files(destination, recording if isinstance(recording, Path) else None, quality)
        except SandboxError:
            destination.unlink(missing_ok=True)
            raise
        finally:
            if isinstance(recording, Path):
                recording.unlink(missing_ok=True)
        probed = verdict.video
        if isinstance(probed, str):
            destination.unlink(missing_ok=True)
            return RenderResult(RenderStatus.NO_VIDEO, stderr_tail=stderr_tail, detail=probed)
        layout = recording if isinstance(recording, LayoutReport) else verdict.layout
        return RenderResult(
            RenderStatus.OK, exit_code=0, stderr_tail=stderr_tail, video_path=destination,
            video_size_bytes=destination.stat().st_size, video_duration_s=probed.duration_s, detail="",
            video_width=probed.width, video_height=probed.height,
            has_audio=probed.has_audio, subtitles=probed.subtitles,
            voice_engine=voice_engine if probed.has_audio or voice_engine == "none" else None,
            layout=layout,
        )

    def check_files(self, video: Path, recording: Path | None, quality: str) -> Verdict:
        """The video's (and layout recording's) checks, run in a fresh check container."""
        return run_check_box(self._client, self.create_check_container, self._remove_later, video, recording,
                             quality, RENDER_UID)

    def create_check_container(self, command: list[str]) -> Container:
        """A new, not yet started container of the sandbox image for ``command``, with a render
        container's options (``_container_options``) and labels, so sweeps find it too."""
        labels = {
            LABEL_ROLE: ROLE_SANDBOX,
            LABEL_OWNER: self.owner,
            LABEL_INSTANCE: self.instance_id,
            LABEL_DEADLINE: str(int(time.time() + CHECK_TIMEOUT_S + BACKSTOP_MARGIN_S + 60)),
        }
        with translate_docker_errors("cannot create a check container"):
            return self._client.containers.create(
                name=f"manim-check-{uuid.uuid4().hex[:12]}", labels=labels, cpu_shares=CPU_SHARES_RENDER,
                **self._container_options(labels, CHECK_TIMEOUT_S + BACKSTOP_MARGIN_S, command))

    def _fetch_layout(self, started: StartedContainer) -> Path | LayoutReport:
        """The runner's layout recording, copied under a small cap into a file of the host's own
        (never read here: only the check box parses it), or the report of a
        render whose layout cannot be checked. Never fails the render."""
        destination = self.videos_dir / f"{started.name}.layout.json"
        try:
            with translate_docker_errors("cannot fetch the layout recording from the sandbox"), \
                    open_archive(self._client.api, started.id, LAYOUT_PATH) as archive:
                refusal = NO_VIDEO_FILE if archive is None else accept_video(
                    archive.stat, archive.chunks, destination, RECORDING_MAX_BYTES)
        except SandboxError as exc:
            destination.unlink(missing_ok=True)
            log.warning("%s", exc)
            return unchecked("the layout recording could not be fetched")
        if refusal is not None:
            reason = "the scene left no layout recording" if refusal is NO_VIDEO_FILE else refusal.detail
            return unchecked(reason.replace("the video", "the layout recording"))
        return destination

    # -- container plumbing ------------------------------------------------------------------

    def _pids(self, started: StartedContainer) -> int | None:
        """The scene's process count, if the engine says (a hint for classifying).

        Under runc the engine's figure is the container's processes and threads. Under runsc
        it counts gVisor's own host threads instead, so the scene's processes are listed
        (the engine's top, which asks gVisor's kernel): its threads are not in that list, an
        under-count of the few threads of the runner."""
        try:
            if self.settings.sandbox_runtime == "runsc":
                with translate_docker_errors("cannot list the sandbox's processes"):
                    top = self._client.api.top(started.id)
                return len(top.get("Processes") or [])
            with translate_docker_errors("cannot read the process count"):
                stats = self._client.api.stats(started.id, stream=False, one_shot=True)
            current = (stats.get("pids_stats") or {}).get("current")
            return int(current) if current is not None else None
        except (SandboxError, ValueError, TypeError):
            return None

    def _kill(self, started: StartedContainer) -> None:
        # SIGKILL: a scene can ignore SIGTERM. A container already gone needs no killing, and
        # an engine gone is found out by _final_state.
        with contextlib.suppress(SandboxError), translate_docker_errors("cannot kill the sandbox"):
            started.container.kill()

    def _final_state(self, started: StartedContainer) -> tuple[int | None, bool]:
        try:
            with translate_docker_errors("the Docker engine went away during the render"):
                outcome = started.container.wait(timeout=30)
                started.container.reload()
            state = started.container.attrs.get("State", {})
            return int(outcome.get("StatusCode", state.get("ExitCode", -1))), bool(state.get("OOMKilled"))
        except EngineLost:
            # The engine itself is gone (its machine died or restarted), not the scene's fault:
            # reported as unavailable, so the render can be tried again elsewhere.
            raise
        except (SandboxError, ValueError, TypeError) as exc:
            log.warning("cannot read the final state of sandbox %s: %s", started.name, exc)
            return None, False

    def discard(self, started: StartedContainer, wait: bool = True) -> None:
        """Remove a container and its work volume, whatever state they are in.

        With ``wait=False`` the removal runs in the background (a render's result need
        not wait for the engine's teardown); ``wait_for_removals()`` joins them.
        """
        started.stream.close()
        if wait:
            self._remove_quietly(started.container, started.paused)
            return
        self._remove_later(started.container, started.paused)

    def _remove_later(self, container: Container, paused: bool = False) -> None:
        thread = threading.Thread(target=self._remove_in_background, args=(container, paused),
                                  name="sandbox-remove", daemon=True)
        with self._removals_lock:
            self._removals.add(thread)
        thread.start()

    def _remove_in_background(self, container: Container, paused: bool) -> None:
        try:
            self._remove_quietly(container, paused)
        finally:
            with self._removals_lock:
                self._removals.discard(threading.current_thread())

    def wait_for_removals(self, timeout_s: float = 30.0) -> None:
        """Block until every background removal has finished (tests, shutdown)."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._removals_lock:
                pending = list(self._removals)
            if not pending or time.monotonic() >= deadline:
                return
            pending[0].join(timeout=max(0.0, deadline - time.monotonic()))

    def _remove_quietly(self, container: Container | None, paused: bool = False) -> None:
        if container is None:
            return
        try:
            remove_container(container, paused)
        except SandboxError as exc:  # the sweep (here, at start-up and on a timer) retries it
            log.warning("%s", exc)

    # -- orphans -----------------------------------------------------------------------------

    def sweep_orphans(self, everything: bool = False) -> int:
        """Remove sandbox containers (and volumes) left by appliances that are gone.

        A container is an orphan when its owner is known to be dead (a process on this
        host, or an appliance container on this engine that is no longer running), or when
        it is past the deadline written on it (owners elsewhere cannot be asked). With
        ``everything``, every sandbox container on the engine goes, in use or not.
        """
        verdicts: dict[str, bool | None] = {}

        def owner_dead(owner: str) -> bool:
            if owner not in verdicts:
                alive = _owner_alive(owner)
                if alive is None:
                    alive = self._owner_container_running(owner.rsplit(":", 2)[0])
                verdicts[owner] = alive
            return verdicts[owner] is False

        def is_orphan(labels: dict[str, str]) -> bool:
            if labels.get(LABEL_INSTANCE) == self.instance_id:
                return False  # ours and possibly in use
            if everything:
                return True
            try:
                if float(labels.get(LABEL_DEADLINE, "0")) < time.time():
                    return True
            except ValueError:
                return True
            return owner_dead(labels.get(LABEL_OWNER, ""))

        return self._remove_where(is_orphan)

    def _owner_container_running(self, host: str) -> bool | None:
        """An appliance running in a container on this engine has that container's id as its
        host name: False once that container has stopped; None when no such container exists
        here (the owner may be on another machine sharing this engine)."""
        if not re.fullmatch(r"[0-9a-f]{12,64}", host):
            return None
        try:
            with translate_docker_errors("cannot list containers"):
                found = self._client.containers.list(all=True, filters={"id": host})
        except SandboxError:
            return None
        if not found:
            return None
        return bool(found[0].status == "running")

    def _remove_by_labels(self, wanted: dict[str, str]) -> int:
        return self._remove_where(lambda labels: all(labels.get(k) == v for k, v in wanted.items()))

    def _remove_where(self, select: Callable[[dict[str, str]], bool]) -> int:
        removed = 0
        with translate_docker_errors("cannot reach the Docker engine"):
            containers = self._client.containers.list(all=True, filters={"label": f"{LABEL_ROLE}={ROLE_SANDBOX}"})
        for container in containers:
            if select(container.labels or {}):
                self._remove_quietly(container, container.status == "paused")
                removed += 1
        # Work volumes whose container is already gone (an engine restart mid-removal).
        with translate_docker_errors("cannot reach the Docker engine"):
            dangling = self._client.volumes.list(filters={"label": f"{LABEL_ROLE}={ROLE_SANDBOX}", "dangling": True})
        for volume in dangling:
            if select(volume.attrs.get("Labels") or {}):
                with contextlib.suppress(EngineRefused), translate_docker_errors("cannot remove a sandbox volume"):
                    volume.remove(force=True)
        return removed


def backstop_entrypoint(backstop_s: float, command: list[str]) -> list[str]:
    """``command`` as the scene's user under a root ``timeout`` that kills it at ``backstop_s``:
    the backstop for when the appliance is gone (killed, or a remote engine nobody sweeps).
    When it fires, or the command ends, the container's init (PID 1) exits and the kernel ends
    every process left in the container."""
    return ["timeout", "-s", "KILL", str(int(backstop_s)),
            "setpriv", f"--reuid={RENDER_UID}", f"--regid={RENDER_UID}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--", *command]


def claimed_voice_engine(done: JSONDict) -> str | None:
    """The one voice engine the runner's "done" line names, if it is one we know (the claim
    comes from inside the sandbox: anything else, or a mix, is recorded as unknown)."""
    engines = done.get("voice_engines")
    if isinstance(engines, list) and engines:
        spoken = [engine for engine in engines if engine != "none"] or ["none"]
        if len(spoken) == 1 and spoken[0] in VOICE_ENGINES:
            return str(spoken[0])
    return None
