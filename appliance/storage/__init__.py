"""MP4 -> URL: where finished videos wait for delivery.

``make_storage(settings)`` returns the backend APPLIANCE_STORAGE names:
``local`` (the default; disk under the data directory, HMAC-signed URLs
served by the appliance) or ``s3`` (any S3-compatible store, R2 included).
"""

from __future__ import annotations

from appliance.config import Settings
from appliance.errors import ConfigError
from appliance.storage.base import StoredVideo, VideoStorage
from appliance.storage.local import LocalStorage, load_or_create_signing_key
from appliance.storage.s3 import S3Storage

__all__ = ["StoredVideo", "VideoStorage", "make_storage"]


def make_storage(settings: Settings) -> VideoStorage:
    if settings.storage_backend == "local":
        return LocalStorage(
            videos_dir=settings.videos_dir,
            base_url=settings.base_url,
            signing_key=load_or_create_signing_key(settings.data_dir, settings.signing_key),
            url_ttl_s=settings.video_url_ttl_s,
        )
    if settings.storage_backend == "s3":
        return S3Storage(
            bucket=settings.s3_bucket or "",
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            prefix=settings.s3_prefix,
            url_ttl_s=settings.video_url_ttl_s,
        )
    raise ConfigError(f"unknown APPLIANCE_STORAGE {settings.storage_backend!r}; use local or s3")
