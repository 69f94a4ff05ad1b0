"""Videos in an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO), fetched by presigned URL.

Set up for R2 as much as for AWS: an explicit endpoint, region ``auto``,
SigV4, path-style addressing (R2 and MinIO have no virtual-host buckets under
a custom endpoint), and checksums only when an operation requires them (R2
rejects the CRC headers newer botocore adds by default). Every boto3/botocore
error becomes a StorageError (NotFound for a missing video) right here.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
from boto3.exceptions import Boto3Error
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
)

from appliance.errors import NotFound, StorageError
from appliance.storage.base import (
    OUR_KEY,
    VIDEO_CONTENT_TYPE,
    StoredVideo,
    VideoStorage,
    check_key,
    iso_utc,
)

_MISSING_CODES = {"404", "NoSuchKey", "NotFound"}


class S3Storage(VideoStorage):
    name = "s3"

    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None,
        region: str,
        access_key_id: str | None,
        secret_access_key: str | None,
        prefix: str,
        url_ttl_s: int,
        connect_timeout_s: float = 10.0,
        read_timeout_s: float = 60.0,
    ) -> None:
        if not bucket:
            raise StorageError("APPLIANCE_STORAGE=s3 needs APPLIANCE_S3_BUCKET")
        self.bucket = bucket
        self.endpoint_url = endpoint_url or None
        # "videos" and "videos/" both mean the folder videos/; "" means the bucket root.
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url_ttl_s = url_ttl_s
        # R2 wants region "auto"; AWS itself has no such region, so without a
        # custom endpoint fall back to us-east-1 (the bucket's own region is found
        # by redirect).
        region_name = region or "auto"
        if region_name == "auto" and not self.endpoint_url:
            region_name = "us-east-1"
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=connect_timeout_s,
            read_timeout=read_timeout_s,
        )
        # A session of our own: boto3's default session is not thread-safe to
        # create clients from, and render slots upload from several threads.
        session = boto3.session.Session()
        self._client: Any = session.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=region_name,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
            config=config,
        )

    def _object_key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _where(self) -> str:
        return f"bucket {self.bucket!r}" + (f" at {self.endpoint_url}" if self.endpoint_url else "")

    # -- the interface -----------------------------------------------------------------------

    def put(self, key: str, video_path: Path) -> StoredVideo:
        check_key(key)
        try:
            size = Path(video_path).stat().st_size
            self._client.upload_file(
                str(video_path), self.bucket, self._object_key(key),
                ExtraArgs={"ContentType": VIDEO_CONTENT_TYPE},
            )
        except (OSError, BotoCoreError, ClientError, Boto3Error) as exc:
            raise StorageError(f"could not upload the video to {self._where()}: {exc}") from exc
        url, expires_at = self.url_for(key)
        return StoredVideo(key=key, url=url, expires_at=expires_at, size_bytes=size)

    def url_for(self, key: str) -> tuple[str, str]:
        expires = time.time() + self.url_ttl_s
        try:
            # Presigning is local computation (no request), so it cannot tell
            # whether the object exists.
            url = self._client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": self._object_key(key)},
                ExpiresIn=self.url_ttl_s,
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not sign a URL for video {key}: {exc}") from exc
        return url, iso_utc(expires)

    def delete(self, key: str) -> None:
        try:
            # DeleteObject already succeeds for a missing key on S3 and R2.
            self._client.delete_object(Bucket=self.bucket, Key=self._object_key(key))
        except ClientError as exc:
            if _error_code(exc) in _MISSING_CODES:
                return
            raise StorageError(f"could not delete video {key} from {self._where()}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"could not delete video {key} from {self._where()}: {exc}") from exc

    def exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=self._object_key(key))
        except ClientError as exc:
            if _error_code(exc) in _MISSING_CODES:
                return False
            raise StorageError(f"could not look up video {key} in {self._where()}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"could not look up video {key} in {self._where()}: {exc}") from exc
        return True

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        object_key = self._object_key(key)
        # A private directory per download; the file keeps the key as its name so
        # a chat upload shows something sensible.
        workdir = Path(tempfile.mkdtemp(prefix="appliance-video-"))
        try:
            path = workdir / key
            try:
                self._client.download_file(self.bucket, object_key, str(path))
            except ClientError as exc:
                if _error_code(exc) in _MISSING_CODES:
                    raise NotFound(f"video {key} does not exist (deleted or expired)") from exc
                raise StorageError(f"could not download video {key} from {self._where()}: {exc}") from exc
            except (OSError, BotoCoreError, Boto3Error) as exc:
                raise StorageError(f"could not download video {key} from {self._where()}: {exc}") from exc
            yield path
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def keys(self) -> Iterator[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Contents", []):
                    name = item["Key"][len(self.prefix):]
                    # Only what this appliance named: a sweep must never delete
                    # other objects sharing the bucket or prefix.
                    if OUR_KEY.fullmatch(name):
                        yield name
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not list videos in {self._where()}: {exc}") from exc

    def check(self) -> None:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except NoCredentialsError as exc:
            raise StorageError(
                f"no credentials for {self._where()}: set APPLIANCE_S3_ACCESS_KEY_ID and "
                "APPLIANCE_S3_SECRET_ACCESS_KEY"
            ) from exc
        except (EndpointConnectionError, ConnectTimeoutError) as exc:
            raise StorageError(
                f"cannot reach the S3 endpoint {self.endpoint_url or 'of AWS'}: {exc}; "
                "check APPLIANCE_S3_ENDPOINT_URL and the network"
            ) from exc
        except ClientError as exc:
            code = _error_code(exc)
            if code in ("404", "NoSuchBucket", "NotFound"):
                message = f"{self._where()} does not exist; create it or fix APPLIANCE_S3_BUCKET"
            elif code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden"):
                message = (
                    f"access to {self._where()} was refused: check APPLIANCE_S3_ACCESS_KEY_ID, "
                    "APPLIANCE_S3_SECRET_ACCESS_KEY and the key's permissions on the bucket"
                )
            elif code in ("301", "PermanentRedirect", "400", "AuthorizationHeaderMalformed"):
                message = f"{self._where()} rejected the request: check APPLIANCE_S3_REGION ({code})"
            else:
                message = f"{self._where()} is not usable: {exc}"
            raise StorageError(message) from exc
        except BotoCoreError as exc:
            raise StorageError(f"{self._where()} is not usable: {exc}") from exc


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
