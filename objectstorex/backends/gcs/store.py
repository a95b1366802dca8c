"""GCSStore: Google Cloud Storage (and fake-gcs-server) on the JSON API -- options, capabilities, signing."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from ..._config import RetryConfig, Timeouts
from ..._types import Capabilities, ChecksumName
from ...errors import InvalidConfigError, ObjectStoreError
from ...observe import Observer
from .auth import resolve_settings, signed_url
from .dialect import GCSDialect

__all__ = ["GCSStore"]


class GCSStore(GCSDialect):
    """A store on a Google Cloud Storage bucket (optionally under a name prefix).

    Args:
        bucket: the bucket.
        service_account_key: a service-account key as JSON text, a dict or a file path
            (default: ``GOOGLE_APPLICATION_CREDENTIALS``); without one, application default
            credentials are used. Needed for :meth:`sign`.
        endpoint: the JSON API base URL (default ``https://storage.googleapis.com``; set by
            ``STORAGE_EMULATOR_HOST`` when that is set, as in Google's SDKs).
        anonymous: send no credentials (emulators, public data); implied by
            ``STORAGE_EMULATOR_HOST``. A key given with it is still used for signing.
        project: the project id (default: the key's ``project_id``); only informational here.
        prefix: a name prefix every location is relative to.
        retry: retry policy for transient failures.
        timeouts: connect / read-stall / total timeouts.
        default_headers: extra headers sent with every request (tracing ids, test harnesses);
            they never replace a header the store sets itself.
        checksum: end-to-end integrity: ``"auto"`` (default), ``"crc32"``, ``"crc32c"``, ``"md5"``,
            ``"sha256"`` or ``"off"`` (see ``docs/integrity.md``).
        observer: receives an event per operation and per HTTP attempt (e.g.
            ``objectstorex.otel.OTelObserver()``); nothing is paid when unset.

    Example::

        async with osx.GCSStore(bucket="data", service_account_key="key.json") as store:
            await store.put("a.txt", b"hi")
    """

    def __init__(
        self,
        *,
        bucket: str,
        service_account_key: str | os.PathLike[str] | dict[str, Any] | None = None,
        endpoint: str | None = None,
        anonymous: bool = False,
        project: str | None = None,
        prefix: str | None = None,
        retry: RetryConfig | None = None,
        timeouts: Timeouts | None = None,
        default_headers: Mapping[str, str] | None = None,
        checksum: ChecksumName = "auto",
        observer: Observer | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(bucket, str) or not bucket or "/" in bucket:
            raise InvalidConfigError("option 'bucket' must be a non-empty str without '/'", provider="gcs")
        self._init_http(
            prefix=prefix,
            retry=retry,
            timeouts=timeouts,
            default_headers=default_headers,
            checksum=checksum,
            observer=observer,
        )
        settings = resolve_settings(
            service_account_key=service_account_key, endpoint=endpoint, anonymous=anonymous, project=project
        )
        self._init_gcs(settings, bucket)
        self._capabilities = Capabilities(
            put_create=True,
            put_update_etag=True,  # resolved to (generation, metageneration), never unconditional
            put_update_version=True,
            copy_if_not_exists=True,
            delete_if_match=True,
            tags=False,  # GCS has no object tags
            versions=True,
            sign=settings.can_sign,
            conditional_get=True,
        )

    @property
    def capabilities(self) -> Capabilities:
        """Create/CAS by generation (and by ETag), versions (generations), V4 signing with a key; no tags."""
        return self._capabilities

    def _repr_fields(self) -> dict[str, object]:
        fields: dict[str, object] = {"bucket": self._bucket}
        if self._prefix:
            fields["prefix"] = self._prefix
        fields["endpoint"] = self._settings.endpoint
        fields["auth"] = self._settings.auth
        return fields

    def _sign_unavailable(self, path: str) -> ObjectStoreError:
        return InvalidConfigError(
            "signing GCS URLs needs a service-account key (service_account_key= or GOOGLE_APPLICATION_CREDENTIALS)",
            path=path,
            provider="gcs",
        )

    async def _sign(self, method: str, path: str, expires_in: timedelta) -> str:
        key = self._settings.key
        if key is None or not self._settings.can_sign:
            raise self._sign_unavailable(path)
        return signed_url(
            key,
            endpoint=self._settings.endpoint,
            bucket=self._bucket,
            name=self._key(path),
            method=method,
            expires_in=expires_in,
        )
