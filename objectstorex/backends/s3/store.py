"""S3Store: AWS S3 and S3-compatible endpoints (MinIO, R2, moto...): its options, capabilities and lifecycle.

Every request goes over the shared HTTP core (one aiohttp session per store), signed by the
minimal SigV4 signer of :mod:`.auth` -- botocore's per-call machinery costs ~3.5 ms of client CPU.
aiobotocore is used only for what it is best at: resolving and refreshing credentials, reading
the region of the config files, and presigning URLs (``sign``).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Mapping
from contextlib import AsyncExitStack
from datetime import timedelta

from ..._config import RetryConfig, Timeouts
from ..._types import Capabilities, ChecksumName
from ...errors import InvalidConfigError, UnauthenticatedError
from ...observe import Observer
from .auth import S3Credentials
from .dialect import S3Dialect

__all__ = ["S3Store"]

_CAPABILITIES = Capabilities(
    put_create=True,
    put_update_etag=True,
    put_update_version=True,
    copy_if_not_exists=True,
    delete_if_match=True,
    tags=True,
    versions=True,
    sign=True,
    conditional_get=True,
)
_SIGN_METHODS = {"GET": "get_object", "PUT": "put_object", "HEAD": "head_object", "DELETE": "delete_object"}


class S3Store(S3Dialect):
    """A store on an S3 bucket (optionally under a key prefix).

    Options left out are resolved the way the AWS SDKs resolve them (``AWS_*`` environment
    variables, shared config/credentials files, container/instance metadata, assume-role).

    Args:
        bucket: the bucket.
        region: signing region (default: ``AWS_REGION``/``AWS_DEFAULT_REGION``, the profile's, else
            ``us-east-1``).
        access_key_id: explicit credentials (default: the AWS credential chain).
        secret_access_key: explicit credentials.
        session_token: explicit temporary credentials.
        endpoint: an S3-compatible endpoint URL (MinIO, R2, moto...); default
            ``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL``, else AWS.
        prefix: a key prefix every location is relative to.
        allow_http: allow an ``http://`` endpoint (default: allowed when the endpoint says http).
        virtual_hosted_style: ``bucket.host`` addressing (default: path-style on a custom
            endpoint, virtual-hosted on AWS).
        profile: a named profile of the shared AWS config files.
        retry: retry policy for transient failures.
        timeouts: connect / read-stall / total timeouts of each request.
        default_headers: extra headers sent (and signed) with every request, e.g.
            ``{"x-amz-request-payer": "requester"}``; never the ones the store signs itself.
        checksum: end-to-end integrity: ``"auto"`` (default), ``"crc32"``, ``"crc32c"``, ``"md5"``,
            ``"sha256"`` or ``"off"`` (see ``docs/integrity.md``).
        observer: receives an event per operation and per HTTP attempt (e.g.
            ``objectstorex.otel.OTelObserver()``); nothing is paid when unset.

    Example::

        async with osx.S3Store(bucket="my-bucket", region="eu-west-1") as store:
            await store.put("a.txt", b"hi")
    """

    def __init__(
        self,
        *,
        bucket: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        endpoint: str | None = None,
        prefix: str | None = None,
        allow_http: bool | None = None,
        virtual_hosted_style: bool | None = None,
        profile: str | None = None,
        retry: RetryConfig | None = None,
        timeouts: Timeouts | None = None,
        default_headers: Mapping[str, str] | None = None,
        checksum: ChecksumName = "auto",
        observer: Observer | None = None,
    ) -> None:
        super().__init__()
        if bucket is None:
            raise InvalidConfigError("missing option 'bucket' for the s3 store", provider="s3")
        if not isinstance(bucket, str) or not bucket or "/" in bucket:
            raise InvalidConfigError("option 'bucket' must be a non-empty bucket name", provider="s3")
        for name, value in (
            ("region", region),
            ("access_key_id", access_key_id),
            ("secret_access_key", secret_access_key),
            ("session_token", session_token),
            ("profile", profile),
        ):
            if value is not None and (not isinstance(value, str) or not value):
                raise InvalidConfigError(f"option {name!r} must be a non-empty str", provider="s3")
        if (access_key_id is None) != (secret_access_key is None):
            raise InvalidConfigError(
                "options 'access_key_id' and 'secret_access_key' must be given together", provider="s3"
            )
        if session_token is not None and access_key_id is None:
            raise InvalidConfigError(
                "option 'session_token' needs 'access_key_id' and 'secret_access_key'", provider="s3"
            )
        endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None
        if endpoint is not None:
            if not isinstance(endpoint, str) or not re.match(r"https?://[^/?#]+", endpoint):
                raise InvalidConfigError("option 'endpoint' must be an http(s) URL", provider="s3")
            if endpoint.startswith("http://") and allow_http is False:
                raise InvalidConfigError("option 'endpoint' is http:// but allow_http is False", provider="s3")
        for name, flag in (("allow_http", allow_http), ("virtual_hosted_style", virtual_hosted_style)):
            if flag is not None and not isinstance(flag, bool):
                raise InvalidConfigError(f"option {name!r} must be a bool", provider="s3")
        self._init_http(
            prefix=prefix,
            retry=retry,
            timeouts=timeouts,
            default_headers=default_headers,
            checksum=checksum,
            observer=observer,
        )
        self._bucket = bucket
        self._region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        self._endpoint = endpoint.rstrip("/") if endpoint else None
        self._virtual = (
            virtual_hosted_style if virtual_hosted_style is not None else (endpoint is None and "." not in bucket)
        )
        # Kept private and never shown: repr and errors name the bucket and endpoint only.
        self._credentials = S3Credentials((access_key_id, secret_access_key, session_token), profile)
        self._stack: AsyncExitStack | None = None
        self._presign_lock = asyncio.Lock()

    @property
    def capabilities(self) -> Capabilities:
        """Create/CAS (version CAS through the current version's ETag), versions, tags, signing."""
        return _CAPABILITIES

    def _repr_fields(self) -> dict[str, object]:
        fields: dict[str, object] = {"bucket": self._bucket, "region": self._region or "auto"}
        if self._prefix:
            fields["prefix"] = self._prefix
        if self._endpoint:
            fields["endpoint"] = self._endpoint
        return fields

    async def _open_provider(self) -> None:
        self._region = region = await self._credentials.resolve(self._region)
        if self._endpoint:
            endpoint = self._endpoint
        else:
            suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
            endpoint = f"https://s3.{region}.{suffix}"
        self._address(endpoint, virtual_hosted=self._virtual)
        self._stack = AsyncExitStack()

    async def _close_provider(self) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.aclose()

    async def _sign(self, method: str, path: str, expires_in: timedelta) -> str:
        from botocore.exceptions import BotoCoreError

        try:
            async with self._presign_lock:
                assert self._stack is not None
                assert self._region is not None
                client = await self._credentials.presigner(
                    self._stack, region=self._region, endpoint=self._endpoint, virtual=self._virtual
                )
            url: str = await client.generate_presigned_url(
                ClientMethod=_SIGN_METHODS[method],
                Params={"Bucket": self._bucket, "Key": self._key(path)},
                ExpiresIn=max(1, int(expires_in.total_seconds())),
            )
        except BotoCoreError as e:
            raise UnauthenticatedError(
                f"sign {path!r}: cannot presign ({type(e).__name__})", path=path, provider="s3"
            ) from e
        return url
