"""Building the sandbox image through the Docker SDK, also on machines without a registry.

``build_sandbox_image`` sends sandbox_image/ (plus optional extra CA certificates) as
the build context and streams the engine's progress lines to ``progress``. When the
base image is absent and cannot be pulled, ``debootstrap=True`` makes it from Debian
packages (``debootstrap --variant=minbase``) and imports it with the SDK, so a machine
that reaches only a Debian mirror and PyPI still gets an image.

docker-py ships no type information: its classes in annotations here
(``docker.DockerClient``) are ``Any`` to mypy.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import docker
from docker.utils import parse_repository_tag

from appliance.config import MANIM_VERSION, SANDBOX_IMAGE_VERSION, Settings
from appliance.errors import EngineLost, SandboxError, SandboxUnavailable
from appliance.sandbox.connection import (
    EngineSpec,
    find_image,
    open_client,
    open_local_client,
    translate_docker_errors,
)

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


def log_progress(line: str) -> None:
    """The default progress: the core never prints; a command passes its own display."""
    log.info("%s", line)

DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_SUITE = "bookworm"
BUILD_TIMEOUT_S = 600  # one API call streams a whole build or image copy
CA_BUNDLE_NAME = "extra.pem"  # sandbox_image/Dockerfile trusts extra-ca-certs/*.pem while pip runs


def sandbox_image_dir() -> Path:
    """The sandbox_image/ directory of this checkout (Dockerfile, runner.py, manim.cfg)."""
    candidate = Path(__file__).resolve().parents[2] / "sandbox_image"
    if not (candidate / "Dockerfile").is_file():
        raise SandboxError(f"cannot find the sandbox image sources at {candidate} (sandbox_image/Dockerfile)")
    return candidate


def build_sandbox_image(
    settings: Settings,
    progress: Progress = log_progress,
    debootstrap: bool = False,
    *,
    base_image: str | None = None,
    extra_ca_certs: Path | None = None,
    host_network: bool = True,
    no_cache: bool = False,
    context_dir: Path | None = None,
    docker_client: docker.DockerClient | None = None,
) -> str:
    """Build ``settings.sandbox_image``; returns the image id.

    ``host_network`` lets build steps reach the package mirrors through the host's
    network (needed where the default bridge has no route out).
    """
    client = docker_client if docker_client is not None else _connect()
    base = base_image or settings.sandbox_base_image
    ca_file = extra_ca_certs or settings.extra_ca_certs
    if ca_file is not None and not ca_file.is_file():
        raise SandboxError(f"extra CA certificates file {ca_file} does not exist")
    if ca_file is not None and ca_file.stat().st_size == 0:
        # The appliance image names its bundle of certs/*.crt always, empty when it was built
        # without any: nothing to add, and the build context (so the layer cache) stays as is.
        ca_file = None
    ensure_base_image(client, base, progress, debootstrap)
    source = context_dir or settings.sandbox_context or sandbox_image_dir()
    started = time.monotonic()
    image_id = ""
    with tempfile.TemporaryDirectory(prefix="manim-appliance-build-") as scratch:
        context = Path(scratch) / "context"
        shutil.copytree(source, context, ignore=shutil.ignore_patterns("__pycache__"))
        (context / "extra-ca-certs").mkdir(exist_ok=True)
        if ca_file is not None:
            shutil.copyfile(ca_file, context / "extra-ca-certs" / CA_BUNDLE_NAME)
        progress(f"building {settings.sandbox_image} from {base} (Manim {MANIM_VERSION})")
        with _context_archive(context) as archive, translate_docker_errors("the Docker engine failed during the build"):
            events = client.api.build(
                fileobj=archive,
                custom_context=True,
                tag=settings.sandbox_image,
                buildargs={
                    "BASE_IMAGE": base,
                    "MANIM_VERSION": MANIM_VERSION,
                    "SANDBOX_IMAGE_VERSION": SANDBOX_IMAGE_VERSION,
                },
                labels={
                    "manim-appliance.sandbox-image-version": SANDBOX_IMAGE_VERSION,
                    "manim-appliance.manim-version": MANIM_VERSION,
                },
                network_mode="host" if host_network else None,
                rm=True,
                forcerm=True,
                pull=False,
                nocache=no_cache,
                decode=True,
            )
            recent: deque[str] = deque(maxlen=15)  # what the failing step printed last
            for event in events:
                if "error" in event:
                    detail = str((event.get("errorDetail") or {}).get("message") or event["error"]).strip()
                    hint = ""
                    if any("SSL" in line or "CERTIFICATE" in line for line in recent):
                        hint = ("\nA TLS-inspecting proxy? Pass its CA bundle: --extra-ca-certs FILE "
                                "(or APPLIANCE_EXTRA_CA_CERTS).")
                    raise SandboxError("the sandbox image build failed: " + detail[:300] + "\nlast output:\n  "
                                       + "\n  ".join(recent) + hint)
                if "stream" in event:
                    for line in str(event["stream"]).splitlines():
                        if line.strip():
                            recent.append(line.rstrip()[:300])
                            progress(line.rstrip())
                elif "status" in event:
                    progress(str(event["status"]))
                aux = event.get("aux")
                if isinstance(aux, dict) and aux.get("ID"):
                    image_id = str(aux["ID"])
    if not image_id:
        with translate_docker_errors("the Docker engine failed during the build"):
            image_id = str(client.images.get(settings.sandbox_image).id)
    progress(f"built {settings.sandbox_image} ({image_id[:19]}) in {time.monotonic() - started:.0f} s")
    return image_id


@contextlib.contextmanager
def _context_archive(context: Path) -> Iterator[IO[bytes]]:
    """The build context as a tar whose files all belong to root. The engine's layer cache keys
    (COPY) include ownership: without this, a build by the appliance user inside the appliance
    image would not reuse the layers of the same build done as root on the host."""
    def as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    with tempfile.TemporaryFile() as archive:
        with tarfile.open(fileobj=archive, mode="w") as tar:
            for path in sorted(context.rglob("*")):
                tar.add(path, arcname=path.relative_to(context).as_posix(), recursive=False, filter=as_root)
        archive.seek(0)
        yield archive


def ensure_base_image(client: docker.DockerClient, base: str, progress: Progress, debootstrap: bool) -> None:
    """Make sure ``base`` exists locally: present, pulled, or (``debootstrap``) made."""
    if find_image(client, base) is not None:
        return
    progress(f"base image {base} is not here; pulling it")
    try:
        with translate_docker_errors(f"cannot pull the base image {base}"):
            client.images.pull(base)
        return
    except EngineLost:
        raise  # the engine went away: no registry's refusal, and debootstrap could not help
    except SandboxError as exc:
        if not debootstrap:
            raise SandboxError(
                f"cannot pull the base image {base} ({exc.__cause__}); run `appliance sandbox build "
                "--debootstrap` to make it from Debian packages instead"
            ) from exc
        progress(f"cannot pull {base}: making it with debootstrap")
    make_debootstrap_base(client, base, progress)


def make_debootstrap_base(
    client: docker.DockerClient, tag: str, progress: Progress, suite: str = DEBIAN_SUITE, mirror: str = DEBIAN_MIRROR
) -> str:
    """Create a minimal Debian root filesystem and import it as ``tag``; returns the image id."""
    if shutil.which("debootstrap") is None:
        raise SandboxError("debootstrap is not installed (apt-get install debootstrap)")
    if os.geteuid() != 0:
        raise SandboxError("debootstrap needs root: run `appliance sandbox build --debootstrap` as root")
    repository, image_tag = parse_repository_tag(tag)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="manim-appliance-rootfs-") as scratch:
        root = Path(scratch) / "rootfs"
        _run_streaming(["debootstrap", "--variant=minbase", suite, str(root), mirror], progress)
        # What docker's official slim images leave out: package caches and lists.
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for entry in (root / leftover).glob("*"):
                if entry.is_file():
                    entry.unlink()
        archive = Path(scratch) / "rootfs.tar"
        _run_streaming(["tar", "--numeric-owner", "-C", str(root), "-cf", str(archive), "."], progress)
        progress(f"importing the root filesystem as {tag}")
        with archive.open("rb") as data, translate_docker_errors(f"cannot import the root filesystem as {tag}"):
            client.api.import_image(src=data, repository=repository, tag=image_tag or "latest",
                                    changes=['CMD ["bash"]'])
            image_id = str(client.images.get(tag).id)
    progress(f"made base image {tag} with debootstrap in {time.monotonic() - started:.0f} s")
    return image_id


def _run_streaming(command: list[str], progress: Progress) -> None:
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        assert process.stdout is not None
        for line in process.stdout:
            if line.strip():
                progress(line.rstrip())
        code = process.wait()
    if code != 0:
        raise SandboxError(f"{command[0]} failed with exit status {code}")


def _connect() -> docker.DockerClient:
    return open_local_client(timeout=BUILD_TIMEOUT_S)


def push_sandbox_image(settings: Settings, target: EngineSpec, progress: Progress = log_progress) -> str:
    """Copy the sandbox image from the local engine to the engine ``target``."""
    source = _connect()
    try:
        client = open_client(target, timeout=BUILD_TIMEOUT_S)
        try:
            return copy_sandbox_image(source, client, settings.sandbox_image, progress, target_name=target.name)
        finally:
            client.close()
    finally:
        source.close()


def copy_sandbox_image(
    source: docker.DockerClient, target: docker.DockerClient, name: str, progress: Progress = log_progress,
    target_name: str = "the other engine",
) -> str:
    """Stream image ``name`` from one engine to another (``docker save | docker load``, through
    the API, nothing written to disk); returns its id on the target.

    Both engines must run the same CPU architecture: an image is not portable across them
    (build it on the other engine instead).
    """
    missing = f"there is no {name} to copy: build it with `appliance sandbox build`"
    with translate_docker_errors(f"copying {name} failed", image_missing=missing):
        source_arch = str(source.info().get("Architecture") or "?")
        target_arch = str(target.info().get("Architecture") or "?")
        if source_arch != target_arch:
            raise SandboxError(
                f"cannot copy {name} from a {source_arch} engine to a {target_arch} one; build it there "
                f"with `DOCKER_HOST=... appliance sandbox build`")
        image = source.images.get(name)
        there = find_image(target, name)
        if there is not None and str(there.id) == str(image.id):
            progress(f"{name} is already on {target_name}")
            return str(image.id)
        size_mb = int(image.attrs.get("Size") or 0) // 1_000_000
        progress(f"copying {name} ({size_mb} MB) to {target_name}")
        started = time.monotonic()
        for event in target.api.load_image(source.api.get_image(name), quiet=True) or []:
            if isinstance(event, dict) and event.get("error"):
                raise SandboxUnavailable(f"the target engine refused the image: {event['error']}")
        image_id = str(target.images.get(name).id)
    if image_id != str(image.id):
        raise SandboxError(f"the copy of {name} has id {image_id[:19]}, the original {str(image.id)[:19]}")
    progress(f"copied {name} in {time.monotonic() - started:.0f} s")
    return image_id
