"""Connections to Docker engines, and the one place where docker-py meets the appliance.

Where each engine is (``EngineSpec``, from the settings), how a client of it is opened
(``open_client``: TLS client certificates, the API version both sides speak, requests'
environment ignored), and how docker-py's and requests' exceptions become the appliance's
own (``translate_docker_errors``), as httpx's ``map_httpcore_exceptions`` does for
httpcore. The rest of the sandbox package receives opened clients and never catches a
docker-py exception itself.

The few things the sandbox needs that docker-py has no public API for are small adapters
here, each naming the upstream issue: a socket to write a container's stdin
(``attach_socket``), a request with its own timeout and a response that can be closed
unread (``open_archive``, ``ping_engine``).

docker-py ships no type information: its classes in annotations here (``docker.DockerClient``,
``docker.APIClient``, ``Container``, ``Image``) are ``Any`` to mypy.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import docker
import requests
from docker.models.containers import Container
from docker.models.images import Image
from docker.tls import TLSConfig
from docker.utils import decode_json_header

from appliance.config import Settings, is_loopback_url
from appliance.errors import EngineLost, EngineRefused, SandboxImageMissing, SandboxUnavailable
from appliance.models import JSONDict
from appliance.sandbox.attach import Closable

LOCAL = "local"
CONNECT_TIMEOUT_S = 60
TLS_FILES = ("ca.pem", "cert.pem", "key.pem")  # Docker's own names (DOCKER_CERT_PATH)
ARCHIVE_CHUNK_BYTES = 1024 * 1024


# -- where the engines are ----------------------------------------------------------------------


@dataclass(frozen=True)
class EngineSpec:
    """Where one engine is and how many renders it takes at once."""

    name: str  # "local" or the engine's URL
    url: str | None  # None: the environment's engine (DOCKER_HOST or the local socket)
    slots: int  # 0: derived from the engine's CPUs
    tls_dir: Path | None = None  # the settings' certificate directory, for tcp:// engines


def engine_specs(settings: Settings) -> list[EngineSpec]:
    """The local engine first, then the extra ones of APPLIANCE_RENDER_ENGINES."""
    specs = [EngineSpec(LOCAL, None, settings.effective_render_slots)]
    for url, slots in settings.render_engines:
        specs.append(EngineSpec(url, url, slots, settings.render_engines_tls_dir))
    return specs


def tls_files(spec: EngineSpec) -> tuple[Path, Path, Path] | None:
    """The engine's (ca, cert, key): DIR/HOST/ first, then DIR/; None without a directory."""
    if spec.tls_dir is None or spec.url is None or not spec.url.startswith("tcp://"):
        return None
    host = urlsplit(spec.url).hostname or ""
    for directory in (spec.tls_dir / host, spec.tls_dir):
        ca, cert, key = (directory / name for name in TLS_FILES)
        if ca.is_file() and cert.is_file() and key.is_file():
            return ca, cert, key
    if is_loopback_url(spec.url):
        return None  # e.g. an ssh-forwarded port on 127.0.0.1: plain is allowed there
    raise SandboxUnavailable(
        f"no TLS client certificates for the render engine {spec.name}: put {', '.join(TLS_FILES)} in "
        f"{spec.tls_dir / host} (or {spec.tls_dir} for every engine)")


# -- the exceptions -----------------------------------------------------------------------------


@contextlib.contextmanager
def translate_docker_errors(doing: str, *, image_missing: str | None = None) -> Iterator[None]:
    """Raise the appliance's exceptions for docker-py's and requests' inside the block.

    ``doing`` starts the message ("cannot start a sandbox container"), the library's own
    words follow. An image the engine does not have is ``SandboxImageMissing`` (with
    ``image_missing`` as its message, when given); everything else is ``SandboxUnavailable``:
    ``EngineRefused`` when the engine answered with an error, ``EngineLost`` when it did not
    answer at all. The original exception stays the ``__cause__``.
    """
    try:
        yield
    except docker.errors.ImageNotFound as exc:
        raise SandboxImageMissing(image_missing or f"{doing}: {exc}") from exc
    except requests.exceptions.HTTPError as exc:  # docker.errors.APIError is one
        status = exc.response.status_code if exc.response is not None else None
        raise EngineRefused(f"{doing}: {exc}", status) from exc
    except requests.exceptions.ConnectionError as exc:
        raise EngineLost(f"{doing}: {exc}") from exc
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        raise SandboxUnavailable(f"{doing}: {exc}") from exc


# -- clients ------------------------------------------------------------------------------------


def open_client(spec: EngineSpec, timeout: int = CONNECT_TIMEOUT_S) -> docker.DockerClient:
    """A docker-py client of the engine, speaking the newest API version both sides know;
    engine trouble becomes ``SandboxUnavailable``. The caller closes it."""
    with translate_docker_errors(f"cannot reach the Docker engine {spec.name}"):
        # requests' environment must never be trusted for the engine: REQUESTS_CA_BUNDLE (set
        # where a TLS-inspecting proxy is trusted) would replace the engine's own CA, and the
        # proxy variables would route engine traffic through a proxy. docker-py's
        # version="auto" asks the engine while the client is being built, before trust_env
        # can be turned off (docker/docker-py#2676), so the version is negotiated with a first
        # client instead: built at the minimum version (building it sends nothing), trust_env
        # off, asked, closed. The real client then starts at the agreed version.
        probe = _client(spec, timeout, docker.constants.MINIMUM_DOCKER_API_VERSION)
        try:
            server_api = str(probe.api.version(api_version=False).get("ApiVersion") or "")
        finally:
            probe.close()
        return _client(spec, timeout, _lower_api_version(server_api, docker.constants.DEFAULT_DOCKER_API_VERSION))


def open_local_client(timeout: int = CONNECT_TIMEOUT_S) -> docker.DockerClient:
    """A client of the environment's engine (DOCKER_HOST or the local socket)."""
    return open_client(EngineSpec(LOCAL, None, 0), timeout)


def _client(spec: EngineSpec, timeout: int, version: str) -> docker.DockerClient:
    """A client at ``version`` that ignores requests' environment; sends no request."""
    if spec.url is None:
        client = docker.from_env(timeout=timeout, version=version)  # DOCKER_HOST, DOCKER_TLS_VERIFY, ...
    else:
        files = tls_files(spec)
        tls: TLSConfig | bool = False
        if files is not None:
            ca, cert, key = files
            tls = TLSConfig(client_cert=(str(cert), str(key)), ca_cert=str(ca), verify=True)
        client = docker.DockerClient(base_url=spec.url, tls=tls, timeout=timeout, version=version)
    client.api.trust_env = False  # APIClient is a requests.Session
    return client


def _lower_api_version(server: str, ours: str) -> str:
    """The API version both sides speak (what docker-py's version="auto" would pick)."""
    def key(version: str) -> tuple[int, ...]:
        return tuple(int(part) for part in version.split(".") if part.isdigit())

    if not server:
        return ours
    return server if key(server) < key(ours) else ours


@dataclass(frozen=True)
class EngineFacts:
    """What the appliance wants to know of an engine."""

    cpus: int
    architecture: str
    version: str


def engine_facts(client: docker.DockerClient) -> EngineFacts:
    """The engine's CPU count, architecture and version."""
    with translate_docker_errors("cannot ask the Docker engine about itself"):
        info = client.info()
    return EngineFacts(cpus=int(info.get("NCPU") or 1), architecture=str(info.get("Architecture") or "?"),
                       version=str(info.get("ServerVersion") or "?"))


# -- small operations with an answer of their own -----------------------------------------------


def find_image(client: docker.DockerClient, name: str) -> Image | None:
    """The engine's image ``name``, or None when it does not have it."""
    with translate_docker_errors("cannot reach the Docker engine"):
        try:
            return client.images.get(name)
        except docker.errors.ImageNotFound:
            return None


def remove_container(container: Container, paused: bool = False) -> None:
    """Remove a container and its anonymous volumes, in whatever state it is; one that is
    already gone (404) or already being removed (409) is not an error. A ``paused`` one is
    resumed first: under runsc the engine cannot kill a paused container (it waits 10 s
    and gives up, "is zombie and can not be killed"); under runc it only costs a call."""
    if paused:
        with contextlib.suppress(EngineRefused), translate_docker_errors(f"cannot resume {container.name}"):
            container.unpause()
    try:
        with translate_docker_errors(f"cannot remove sandbox container {container.name}"):
            container.remove(force=True, v=True)
    except EngineRefused as exc:
        if exc.status_code not in (404, 409):
            raise


def wait_for_exit(container: Container, timeout_s: float, what: str) -> int | None:
    """The container's exit status once it has stopped, or None if it still runs after
    ``timeout_s`` (the engine's wait call simply does not answer before then)."""
    with translate_docker_errors(f"cannot wait for {what}"):
        try:
            outcome = container.wait(timeout=timeout_s)
        except requests.exceptions.Timeout:
            return None
        except requests.exceptions.ConnectionError as exc:
            # urllib3's read timeout on a unix socket reaches requests as a ConnectionError.
            if "timed out" in str(exc).lower():
                return None
            raise
    return int(outcome.get("StatusCode", -1))


# -- adapters where docker-py has no public API -------------------------------------------------


def attach_socket(api: docker.APIClient, container_id: str) -> tuple[socket.socket, Closable]:
    """The container's stdin, stdout and stderr as one socket (multiplexed frames), and the
    object that owns it: close both.

    docker-py's ``attach_socket`` hands back a ``socket.SocketIO`` for unix and tcp engines,
    which can read but has no ``sendall`` or ``settimeout`` (docker/docker-py#2255), and the
    TLS socket itself for https ones. The socket under a ``SocketIO`` is reached through its
    private ``_sock``, here only.
    """
    raw = api.attach_socket(container_id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
    plain: socket.socket = raw if isinstance(raw, socket.socket) else raw._sock  # else: a SocketIO
    return plain, raw


def _engine_get(api: docker.APIClient, path: str, *, versioned: bool, timeout: float | None = None,
                stream: bool = False, params: dict[str, str] | None = None,
                headers: dict[str, str] | None = None) -> requests.Response:
    """GET ``path`` of the engine's API with its own timeout, returning the response unread.

    docker-py has no per-call timeout (docker/docker-py#3274), and its ``get_archive`` reads
    the whole archive through a generator, with the socket timeout turned off
    (docker/docker-py#3337). ``APIClient`` is a ``requests.Session`` that knows its
    ``base_url`` and ``api_version``, so this asks it directly. (docker-py's own requests also
    carry the HttpHeaders of ~/.docker/config.json; the engine does not need them here.)
    """
    prefix = f"{api.base_url}/v{api.api_version}" if versioned else api.base_url
    response: requests.Response = api.get(
        prefix + quote(path, safe="/:"), timeout=api.timeout if timeout is None else timeout, stream=stream,
        params=params, headers=headers)
    return response


def _raise_for_status(response: requests.Response) -> None:
    """docker-py's ``APIError`` (``NotFound``, ...) for an error status, as its own calls raise."""
    try:
        response.raise_for_status()
    except requests.exceptions.HTTPError as exc:
        docker.errors.create_api_error_from_http_exception(exc)  # raises


def ping_engine(client: docker.DockerClient, timeout_s: float | None = None) -> None:
    """Raise ``SandboxUnavailable`` unless the engine answers within ``timeout_s`` (default:
    the client's own timeout)."""
    with translate_docker_errors("cannot reach the Docker engine"):
        if timeout_s is None:
            client.ping()
            return
        with contextlib.closing(_engine_get(client.api, "/_ping", versioned=False, timeout=timeout_s)) as response:
            _raise_for_status(response)


@dataclass(frozen=True)
class Archive:
    """A tar stream of one path in a container, not read yet."""

    stat: JSONDict | None  # the engine's lstat() of the path (X-Docker-Container-Path-Stat)
    chunks: Iterator[bytes]


@contextlib.contextmanager
def open_archive(api: docker.APIClient, container_id: str, path: str) -> Iterator[Archive | None]:
    """The archive of ``path`` in the container (None when there is no such path). The
    response is closed on leaving, however much of it was read: a huge or endless tar is
    never pulled to the host. Errors are docker-py's (wrap in ``translate_docker_errors``)."""
    response = _engine_get(api, f"/containers/{container_id}/archive", versioned=True, stream=True,
                           params={"path": path}, headers={"Accept-Encoding": "identity"})
    try:
        if response.status_code == 404:
            yield None
            return
        _raise_for_status(response)
        encoded = response.headers.get("x-docker-container-path-stat")
        stat = decode_json_header(encoded) if encoded else None
        yield Archive(stat, response.raw.stream(ARCHIVE_CHUNK_BYTES, decode_content=False))
    finally:
        response.close()
