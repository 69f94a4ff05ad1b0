"""A second, real Docker engine for the render-engine tests: its own ``dockerd`` with its own
data root, listening only on 127.0.0.1 with mutual TLS, exactly as a render machine would
run it (``dockerd --tlsverify -H tcp://0.0.0.0:2376``). It starts empty: no images.

Starting a Docker engine needs root. In CI (``CI=true``) that is a hard requirement;
elsewhere the tests are skipped with that reason.

The engine must not touch the host's own Docker networking. A dockerd started with
``--bridge none`` deletes the host's default ``docker0`` interface (the daemon removes the
default bridge interface whenever the bridge is disabled), after which every
``docker run -p ...`` of the host's engine fails with "could not find bridge docker0". So
this engine gets a bridge of its own: an interface with a unique name and an unused
private /24, created here before dockerd starts and deleted here after it stopped, passed
as ``--bridge NAME``, with no firewall rules (``--iptables=false --ip6tables=false``,
``--ip-masq=false``) and no sysctl changes (``--ip-forward=false``). dockerd refuses
``--bip`` together with ``--bridge`` and takes the network from the bridge's address, so
the address is set here too. Sandbox containers run with ``network_mode: none`` and never
attach to it.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from appliance.sandbox.connection import EngineSpec, open_client


@dataclass
class SecondEngine:
    url: str  # tcp://127.0.0.1:PORT
    tls_dir: Path  # what APPLIANCE_RENDER_ENGINES_TLS_DIR points at (127.0.0.1/{ca,cert,key}.pem)
    process: subprocess.Popen[bytes]
    root: Path

    def client(self) -> docker.DockerClient:
        """A docker-py client of this engine (mutual TLS, through the appliance's own connector)."""
        return open_client(EngineSpec(self.url, self.url, 1, self.tls_dir), timeout=120)

    def kill(self) -> None:
        """The machine goes away: the engine dies at once, with its containers."""
        _kill_engine(self.process, self.root, signal.SIGKILL)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_tls_material(server_dir: Path, client_dir: Path) -> None:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, in Docker's file names."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def key() -> ec.EllipticCurvePrivateKey:
        return ec.generate_private_key(ec.SECP256R1())

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    def pem_key(k: ec.EllipticCurvePrivateKey) -> bytes:
        return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())

    ca_key = key()
    ca = (x509.CertificateBuilder().subject_name(name("test render CA")).issuer_name(name("test render CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))

    def leaf(common_name: str, usage: x509.ObjectIdentifier, san: bool) -> tuple[bytes, bytes]:
        leaf_key = key()
        builder = (x509.CertificateBuilder().subject_name(name(common_name)).issuer_name(ca.subject)
                   .public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        return cert.public_bytes(serialization.Encoding.PEM), pem_key(leaf_key)

    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    server_cert, server_key = leaf("127.0.0.1", ExtendedKeyUsageOID.SERVER_AUTH, san=True)
    client_cert, client_key = leaf("manim-appliance", ExtendedKeyUsageOID.CLIENT_AUTH, san=False)
    for directory, cert, private in ((server_dir, server_cert, server_key), (client_dir, client_cert, client_key)):
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "ca.pem").write_bytes(ca_pem)
        (directory / "cert.pem").write_bytes(cert)
        (directory / "key.pem").write_bytes(private)
        (directory / "key.pem").chmod(0o600)


def _kill_engine(process: subprocess.Popen[bytes], root: Path, sig: signal.Signals) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(30)
    if sig == signal.SIGKILL:
        # A killed dockerd leaves its containerd and the containers' shims behind.
        subprocess.run(["pkill", "-KILL", "-f", str(root)], check=False)


# This engine's bridge: "mae<pid of the test process, hex>-<4 hex>", at most 15 characters
# (IFNAMSIZ). The pid lets a later run remove a bridge whose test process was killed hard.
_BRIDGE_NAME = re.compile(r"^mae([0-9a-f]{1,6})-[0-9a-f]{4}$")
# An unusual private range, one /24 per engine, far from Docker's own default pools
# (172.17.0.0/16 and up, 192.168.0.0/16) and from the usual LAN ranges.
_BRIDGE_RANGE = ipaddress.ip_network("10.213.0.0/16")


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=False, capture_output=True, text=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_bridges() -> None:
    """Bridges of earlier runs whose test process died before it could delete them."""
    listed = _ip("-j", "link", "show", "type", "bridge")
    for name in (link.get("ifname", "") for link in json.loads(listed.stdout or "[]")):
        match = _BRIDGE_NAME.match(name)
        if match and not _pid_alive(int(match.group(1), 16)):
            _ip("link", "delete", name, "type", "bridge")


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 of ``_BRIDGE_RANGE`` that no route and no address of the host overlaps."""
    listed = _ip("-j", "-4", "route", "show", "table", "all")
    taken: list[ipaddress.IPv4Network] = []
    for route in json.loads(listed.stdout or "[]"):
        with contextlib.suppress(ValueError):
            if route.get("dst") not in (None, "default"):
                taken.append(ipaddress.IPv4Network(route["dst"], strict=False))
    choices = list(_BRIDGE_RANGE.subnets(new_prefix=24))
    secrets.SystemRandom().shuffle(choices)
    for subnet in choices:
        if not any(subnet.overlaps(other) for other in taken):
            return subnet
    raise RuntimeError(f"no free /24 left in {_BRIDGE_RANGE} for the second engine's bridge")


@contextlib.contextmanager
def _own_bridge() -> Iterator[str]:
    """A bridge interface for the second engine alone, deleted on the way out."""
    _remove_stale_bridges()
    name = f"mae{os.getpid():x}-{secrets.token_hex(2)}"
    subnet = _free_subnet()
    created = _ip("link", "add", name, "type", "bridge")
    if created.returncode != 0:
        pytest.fail(f"could not create the second engine's bridge {name}: {created.stderr.strip()}")
    try:
        gateway = f"{next(subnet.hosts())}/{subnet.prefixlen}"
        for step in (("addr", "add", gateway, "dev", name), ("link", "set", name, "up")):
            done = _ip(*step)
            if done.returncode != 0:
                pytest.fail(f"could not set up the second engine's bridge ({' '.join(step)}): "
                            f"{done.stderr.strip()}")
        yield name
    finally:
        _ip("link", "delete", name, "type", "bridge")


def _unmount_under(root: Path) -> None:
    """Overlay and namespace mounts a killed engine left under its directories."""
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(str(root))), key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], check=False, capture_output=True)


@contextlib.contextmanager
def second_engine() -> Iterator[SecondEngine]:
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("the render-engine tests start a second dockerd and need root (CI runs as root)")
        pytest.skip("starting a second Docker engine needs root")
    if shutil.which("dockerd") is None:
        pytest.fail("dockerd is not installed (`apt-get install docker.io`, as .ci/run does)")
    if shutil.which("ip") is None:
        pytest.fail("the `ip` command is missing (`apt-get install iproute2`, as .ci/run does)")
    # Short paths: dockerd's sockets live under the exec root and must fit in 108 bytes.
    root = Path(tempfile.mkdtemp(prefix="ma-eng-", dir="/tmp"))
    try:
        with _own_bridge() as bridge:
            yield from _run_engine(root, bridge)
    finally:
        _unmount_under(root)
        shutil.rmtree(root, ignore_errors=True)


def _run_engine(root: Path, bridge: str) -> Generator[SecondEngine, None, None]:
    server_tls, tls_dir = root / "server-tls", root / "client-tls"
    write_tls_material(server_tls, tls_dir / "127.0.0.1")
    port = _free_port()
    with (root / "dockerd.log").open("wb") as log:
        process = subprocess.Popen(
            ["dockerd", "--data-root", str(root / "data"), "--exec-root", str(root / "x"),
             "--pidfile", str(root / "dockerd.pid"), "-H", f"tcp://127.0.0.1:{port}",
             "--tlsverify", "--tlscacert", str(server_tls / "ca.pem"), "--tlscert", str(server_tls / "cert.pem"),
             "--tlskey", str(server_tls / "key.pem"),
             # A bridge of its own (never "none": that deletes the host's docker0), no firewall
             # rules, no sysctl changes. Sandbox containers have no network anyway.
             "--bridge", bridge, "--iptables=false", "--ip6tables=false", "--ip-masq=false",
             "--ip-forward=false"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        engine = SecondEngine(f"tcp://127.0.0.1:{port}", tls_dir, process, root)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    client = engine.client()
                    client.ping()
                    client.close()
                    break
                except Exception:
                    if process.poll() is not None or time.monotonic() > deadline:
                        pytest.fail("the second dockerd did not start:\n"
                                    + (root / "dockerd.log").read_text(errors="replace")[-3000:])
                    time.sleep(0.5)
            yield engine
        finally:
            _kill_engine(process, root, signal.SIGTERM)
            _kill_engine(process, root, signal.SIGKILL)
