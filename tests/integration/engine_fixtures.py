"""A second, real Docker engine for the render-engine tests: its own ``dockerd`` with its own
data root, listening only on 127.0.0.1 with mutual TLS, exactly as a render machine would
run it (``dockerd --tlsverify -H tcp://0.0.0.0:2376``). It starts empty: no images.

Starting a Docker engine needs root. In CI (``CI=true``) that is a hard requirement;
elsewhere the tests are skipped with that reason.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
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
    # Short paths: dockerd's sockets live under the exec root and must fit in 108 bytes.
    root = Path(tempfile.mkdtemp(prefix="ma-eng-", dir="/tmp"))
    server_tls, tls_dir = root / "server-tls", root / "client-tls"
    write_tls_material(server_tls, tls_dir / "127.0.0.1")
    port = _free_port()
    log = (root / "dockerd.log").open("wb")
    process = subprocess.Popen(
        ["dockerd", "--data-root", str(root / "data"), "--exec-root", str(root / "x"),
         "--pidfile", str(root / "dockerd.pid"), "-H", f"tcp://127.0.0.1:{port}",
         "--tlsverify", "--tlscacert", str(server_tls / "ca.pem"), "--tlscert", str(server_tls / "cert.pem"),
         "--tlskey", str(server_tls / "key.pem"),
         # Sandbox containers have no network: this engine needs no bridge and no firewall rules.
         "--bridge", "none", "--iptables=false", "--ip6tables=false"],
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
        log.close()
        _unmount_under(root)
        shutil.rmtree(root, ignore_errors=True)
