"""A real S3-compatible HTTP server on loopback (moto's server mode) for integration tests.

Use the context manager anywhere, or the ``moto_s3`` fixture by importing it
into a test module (``from tests.integration.moto_fixtures import moto_s3``)::

    def test_upload(moto_s3):
        endpoint_url, bucket, access_key, secret = moto_s3

Moto accepts any credentials and, as of moto 5, does not enforce the expiry of
presigned URLs (tests/integration/test_storage_s3.py checks that X-Amz-Expires
is set instead).
"""

from __future__ import annotations

import contextlib
import secrets
import urllib.request
from collections.abc import Iterator
from typing import NamedTuple

import boto3
import pytest
from moto.server import ThreadedMotoServer


class MotoS3(NamedTuple):
    endpoint_url: str
    bucket: str
    access_key: str
    secret: str


@contextlib.contextmanager
def moto_s3_server(bucket: str | None = None) -> Iterator[MotoS3]:
    """Start moto on 127.0.0.1 (a free port), create a bucket, and stop it afterwards."""
    # Port 0: the OS picks a free port and moto reports it, so no race with other tests.
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint_url = f"http://{host}:{port}"
    info = MotoS3(
        endpoint_url=endpoint_url,
        bucket=bucket or f"appliance-test-{secrets.token_hex(4)}",
        access_key="test-access-key",
        secret="test-secret-key",
    )
    try:
        client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, region_name="us-east-1",
            aws_access_key_id=info.access_key, aws_secret_access_key=info.secret,
        )
        client.create_bucket(Bucket=info.bucket)
        yield info
    finally:
        # Moto keeps its state in process-wide backends that outlive the server
        # thread; reset them so the next test starts with an empty S3.
        with contextlib.suppress(OSError):
            request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")
            urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=5).close()
        server.stop()


@pytest.fixture
def moto_s3() -> Iterator[MotoS3]:
    with moto_s3_server() as info:
        yield info
