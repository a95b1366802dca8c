"""S3Store: AWS S3 and S3-compatible endpoints (MinIO, R2, moto...) on aiobotocore.

aiobotocore resolves and refreshes credentials (environment, profile, container/instance
metadata, assume-role), applies the configuration and signs; one client is owned per store
through an ``AsyncExitStack`` entered in ``_open``. Retries are ours (``RetryConfig``), so
botocore's own are turned off. Errors are translated in ``_map_errors``, the one place that
knows S3's quirks.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from base64 import b64encode
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from .._config import RetryConfig, Timeouts, retry_call
from .._ranges import http_range_header
from .._store import BaseStore, GetOptions, PutOptions
from .._types import Attributes, Capabilities, GetResult, ListResult, ObjectMeta, PutResult
from ..errors import (
    AlreadyExistsError,
    InvalidConfigError,
    InvalidRangeError,
    NotFoundError,
    NotModifiedError,
    NotSupportedError,
    ObjectStoreError,
    PermissionDeniedError,
    PreconditionError,
    TransportError,
    UnauthenticatedError,
)
from ..paths import join_prefix, validate_prefix
from ..preconditions import PutMode, UpdateVersion, quote_etag

__all__ = ["S3Store"]

MIB = 1024 * 1024
_MIN_PART = 5 * MIB
_DEFAULT_PART = 8 * MIB
_MAX_COPY_PART = 5 * 1024 * MIB
_DELETE_BATCH = 1000

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

_ATTR_PARAMS = {
    "content_type": "ContentType",
    "content_disposition": "ContentDisposition",
    "content_encoding": "ContentEncoding",
    "content_language": "ContentLanguage",
    "cache_control": "CacheControl",
}
# Served by the lean aiohttp path (``_s3_http``); everything else goes through aiobotocore.
_LEAN_METHODS = frozenset({"get_object", "head_object", "put_object", "delete_object"})
_SIGN_METHODS = {"GET": "get_object", "PUT": "put_object", "HEAD": "head_object", "DELETE": "delete_object"}


def _aware(dt: datetime | None) -> datetime:
    if dt is None:
        return datetime.now(UTC)
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


class S3Store(BaseStore):
    """A store on an S3 bucket (optionally under a key prefix).

    Args:
        bucket: the bucket.
        region: the region (default: the SDK's, else ``us-east-1``).
        access_key_id: explicit credentials (default: the AWS credential chain).
        secret_access_key: explicit credentials.
        session_token: explicit temporary credentials.
        endpoint: an S3-compatible endpoint URL (MinIO, R2, moto...); path-style addressing.
        prefix: a key prefix every location is relative to.
        allow_http: allow an ``http://`` endpoint (default: only when the endpoint says http).
        profile: a named profile of the shared AWS config files.
        retry: retry policy for transient failures.
        timeouts: connect / read-stall / total timeouts.

    Example::

        async with osx.S3Store(bucket="my-bucket", region="eu-west-1") as store:
            await store.put("a.txt", b"hi")
    """

    provider = "s3"

    def __init__(
        self,
        *,
        bucket: str,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        endpoint: str | None = None,
        prefix: str | None = None,
        allow_http: bool | None = None,
        profile: str | None = None,
        retry: RetryConfig | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(bucket, str) or not bucket:
            raise InvalidConfigError("option 'bucket' must be a non-empty str", provider="s3")
        if (access_key_id is None) != (secret_access_key is None):
            raise InvalidConfigError(
                "options 'access_key_id' and 'secret_access_key' must be given together", provider="s3"
            )
        if endpoint is not None:
            if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
                raise InvalidConfigError("option 'endpoint' must be an http(s) URL", provider="s3")
            if endpoint.startswith("http://") and allow_http is False:
                raise InvalidConfigError("option 'endpoint' is http:// but allow_http is False", provider="s3")
        if retry is not None and not isinstance(retry, RetryConfig):
            raise InvalidConfigError("option 'retry' must be an objectstorex.RetryConfig", provider="s3")
        if timeouts is not None and not isinstance(timeouts, Timeouts):
            raise InvalidConfigError("option 'timeouts' must be an objectstorex.Timeouts", provider="s3")
        self._bucket = bucket
        self._region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self._endpoint = endpoint.rstrip("/") if endpoint else None
        self._prefix = validate_prefix(prefix, provider="s3")
        self._profile = profile
        self._retry = retry or RetryConfig()
        self._timeouts = timeouts or Timeouts()
        # Kept private and never shown: repr and errors name the bucket and endpoint only.
        self.__credentials = (access_key_id, secret_access_key, session_token)
        self._stack: AsyncExitStack | None = None
        self._client: Any = None
        self._reader: Any = None

    @property
    def capabilities(self) -> Capabilities:
        """Everything: create/CAS, versions, tags, conditional delete, signing."""
        return _CAPABILITIES

    def _repr_fields(self) -> dict[str, object]:
        fields: dict[str, object] = {"bucket": self._bucket, "region": self._region}
        if self._prefix:
            fields["prefix"] = self._prefix
        if self._endpoint:
            fields["endpoint"] = self._endpoint
        return fields

    # ------------------------------------------------------------------------------ lifecycle

    async def _open(self) -> None:
        try:
            from aiobotocore.config import AioConfig
            from aiobotocore.session import get_session
        except ImportError as e:  # pragma: no cover - depends on the install
            raise InvalidConfigError("the s3 provider needs: pip install 'objectstorex[s3]'", provider="s3") from e
        session = get_session()
        if self._profile:
            session.set_config_variable("profile", self._profile)
        key, secret, token = self.__credentials
        config = AioConfig(
            signature_version="s3v4",
            s3={"addressing_style": "path" if self._endpoint else "auto"},
            retries={"max_attempts": 1, "mode": "standard"},  # our RetryConfig retries
            connect_timeout=self._timeouts.connect or 60,
            read_timeout=self._timeouts.read or 60,
            max_pool_connections=64,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        stack = AsyncExitStack()
        try:
            self._client = await stack.enter_async_context(
                session.create_client(
                    "s3",
                    region_name=self._region,
                    endpoint_url=self._endpoint,
                    aws_access_key_id=key,
                    aws_secret_access_key=secret,
                    aws_session_token=token,
                    config=config,
                )
            )
        except Exception as e:
            await stack.aclose()
            raise InvalidConfigError(f"cannot create the S3 client: {type(e).__name__}", provider="s3") from e
        self._stack = stack
        await self._open_read_path(session)

    async def _open_read_path(self, session: Any) -> None:
        """The hot calls skip botocore: one aiohttp session, our SigV4 signer (see _s3_http)."""
        import aiohttp

        from ._s3_http import S3HttpClient

        key, secret, token = self.__credentials
        # Explicit keys, else the same chain aiobotocore resolves (env, profile, metadata, roles).
        credentials = None if key is not None else await session.get_credentials()

        async def frozen() -> tuple[str, str, str | None] | None:
            if key is not None and secret is not None:
                return (key, secret, token)
            if credentials is None:
                return None  # anonymous: unsigned requests, as botocore would send
            c = await credentials.get_frozen_credentials()  # refreshes when near expiry
            return (c.access_key, c.secret_key, c.token)

        t = self._timeouts
        http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=64),
            timeout=aiohttp.ClientTimeout(total=t.total, connect=t.connect, sock_read=t.read),
            auto_decompress=False,  # bytes are returned exactly as stored
        )
        assert self._stack is not None
        self._stack.push_async_callback(http.close)
        self._reader = S3HttpClient(
            http, endpoint=self._endpoint, bucket=self._bucket, region=self._region, credentials=frozen
        )

    async def _close(self) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.aclose()

    # ------------------------------------------------------------------------------ plumbing

    def _key(self, path: str) -> str:
        return join_prefix(self._prefix, path)

    def _location(self, key: str) -> str:
        return key[len(self._prefix) + 1 :] if self._prefix else key

    @contextlib.contextmanager
    def _map_errors(self, path: str | None, operation: str, mode: PutMode | None = None) -> Iterator[None]:
        """Translate botocore/aiohttp failures onto the objectstorex tree (the one place)."""
        import aiohttp
        from botocore import exceptions as bx

        from ._s3_http import S3HttpError

        try:
            yield
        except ObjectStoreError:
            raise
        except S3HttpError as e:
            raise self._from_status(path, operation, mode, e.status, e.code) from e
        except aiohttp.ClientError as e:
            raise TransportError(
                f"{operation}: network failure talking to S3 ({type(e).__name__})",
                path=path,
                provider="s3",
                retryable=True,
            ) from e
        except bx.ClientError as e:
            meta = e.response.get("ResponseMetadata", {})
            status = meta.get("HTTPStatusCode")
            code = str(e.response.get("Error", {}).get("Code", ""))
            raise self._from_status(path, operation, mode, status, code) from e
        except (bx.NoCredentialsError, bx.PartialCredentialsError) as e:
            raise UnauthenticatedError(f"{operation}: no usable AWS credentials", path=path, provider="s3") from e
        except (
            TimeoutError,
            ConnectionError,
            bx.EndpointConnectionError,
            bx.ConnectionClosedError,
            bx.ReadTimeoutError,
            bx.ConnectTimeoutError,
            bx.ResponseStreamingError,
            bx.HTTPClientError,
        ) as e:
            raise TransportError(
                f"{operation}: network failure talking to S3 ({type(e).__name__})",
                path=path,
                provider="s3",
                retryable=True,
            ) from e
        except bx.BotoCoreError as e:
            raise ObjectStoreError(f"{operation} failed: {type(e).__name__}", path=path, provider="s3") from e

    def _from_status(
        self, path: str | None, operation: str, mode: PutMode | None, status: int | None, code: str
    ) -> ObjectStoreError:
        where = f"{operation} {path!r}" if path else operation
        kw: dict[str, Any] = {"path": path, "provider": "s3", "status": status}
        if mode == "create" and status in (409, 412) and code != "ConditionalRequestConflict":
            return AlreadyExistsError(f"{where}: the object already exists", **kw)
        if isinstance(mode, UpdateVersion) and status in (404, 412):
            # S3 answers 404 to If-Match on a missing key: for a CAS that is a lost update too.
            return PreconditionError(f"{where}: the object changed or is gone", **kw)
        if status == 304:
            return NotModifiedError(f"{where}: not modified", **kw)
        if status == 412:
            return PreconditionError(f"{where}: precondition failed", **kw)
        if status == 416 or code == "InvalidRange":
            return InvalidRangeError(f"{where}: range not satisfiable", **kw)
        if status == 404 or code in ("NoSuchKey", "NotFound", "NoSuchVersion"):
            if code == "NoSuchBucket":
                return NotFoundError(f"{where}: bucket {self._bucket!r} does not exist", **kw)
            return NotFoundError(f"{where}: not found", **kw)
        if status in (401,) or code in ("InvalidAccessKeyId", "ExpiredToken", "InvalidToken", "SignatureDoesNotMatch"):
            return UnauthenticatedError(f"{where}: credentials refused ({code})", **kw)
        if status == 403:
            return PermissionDeniedError(f"{where}: access denied ({code})", **kw)
        if status == 501 or code == "NotImplemented":
            return NotSupportedError(f"{where}: not supported by this endpoint ({code})", **kw)
        retryable = (
            status is None or status >= 500 or status == 429 or code in ("SlowDown", "ConditionalRequestConflict")
        )
        return ObjectStoreError(f"{where} failed: HTTP {status} {code}", retryable=retryable, **kw)

    async def _call(
        self, path: str | None, operation: str, method: str, mode: PutMode | None = None, **params: Any
    ) -> Any:
        """One API call with the store's retry policy and error mapping."""

        async def attempt() -> Any:
            target = self._reader if method in _LEAN_METHODS else self._client
            with self._map_errors(path, operation, mode):
                return await getattr(target, method)(Bucket=self._bucket, **params)

        try:
            return await retry_call(attempt, self._retry)
        except ObjectStoreError as e:
            if e.retryable and not isinstance(e, TransportError):
                raise TransportError(f"{e} (after retries)", path=path, provider="s3", status=e.status) from e
            raise

    def _meta_from(self, path: str, resp: dict[str, Any], size: int | None = None) -> ObjectMeta:
        if size is None:
            size = int(resp.get("ContentLength", 0))
            content_range = resp.get("ContentRange")
            if content_range and "/" in content_range:
                total = content_range.rsplit("/", 1)[1]
                if total.isdigit():
                    size = int(total)
        return ObjectMeta(path, size, _aware(resp.get("LastModified")), resp.get("ETag"), resp.get("VersionId"))

    @staticmethod
    def _attributes_from(resp: dict[str, Any]) -> Attributes:
        return Attributes(
            content_type=resp.get("ContentType"),
            content_disposition=resp.get("ContentDisposition"),
            content_encoding=resp.get("ContentEncoding"),
            content_language=resp.get("ContentLanguage"),
            cache_control=resp.get("CacheControl"),
            metadata=dict(resp.get("Metadata") or {}),
        )

    @staticmethod
    def _attr_params(attributes: Attributes, tags: dict[str, str] | None) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for name, param in _ATTR_PARAMS.items():
            value = getattr(attributes, name)
            if value is not None:
                params[param] = value
        if attributes.metadata:
            params["Metadata"] = dict(attributes.metadata)
        if tags:
            params["Tagging"] = urlencode(tags, quote_via=quote)
        return params

    async def _resolve_version(self, path: str, mode: UpdateVersion, operation: str) -> str:
        """The ETag to send as If-Match for a CAS that names a version.

        S3 has no version precondition on writes: the named version must be the current one,
        and its ETag then guards the write, so a change in between still fails the request.
        """
        try:
            head = await self._call(path, operation, "head_object", Key=self._key(path))
        except NotFoundError:
            raise PreconditionError(f"{operation} {path!r}: the object is gone", path=path, provider="s3") from None
        if mode.version is not None and head.get("VersionId") != mode.version:
            raise PreconditionError(f"{operation} {path!r}: the version is no longer current", path=path, provider="s3")
        if mode.etag is not None:
            return mode.etag
        etag: str = head["ETag"]
        return etag

    async def _condition_params(self, path: str, mode: PutMode, operation: str) -> dict[str, str]:
        if mode == "create":
            return {"IfNoneMatch": "*"}
        if isinstance(mode, UpdateVersion):
            etag = mode.etag if mode.version is None else await self._resolve_version(path, mode, operation)
            assert etag is not None
            return {"IfMatch": quote_etag(etag)}
        return {}

    # ------------------------------------------------------------------------------ writes

    async def _put(self, path: str, data: bytes, opts: PutOptions) -> PutResult:
        params = self._attr_params(opts.attributes, dict(opts.tags) if opts.tags else None)
        params.update(await self._condition_params(path, opts.mode, "put"))
        md5 = b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        resp = await self._call(
            path, "put", "put_object", opts.mode, Key=self._key(path), Body=data, ContentMD5=md5, **params
        )
        return PutResult(resp.get("ETag"), resp.get("VersionId"))

    async def _put_stream(
        self,
        path: str,
        chunks: AsyncIterator[bytes],
        opts: PutOptions,
        part_size: int | None,
        max_concurrency: int | None,
    ) -> PutResult:
        size = max(_MIN_PART, part_size or _DEFAULT_PART)
        concurrency = max_concurrency or 4
        buffer = bytearray()
        first: bytes | None = None
        # Small streams (one part or less) are a single PutObject.
        async for chunk in chunks:
            buffer += chunk
            if len(buffer) >= size:
                first = bytes(buffer[:size])
                del buffer[:size]
                break
        if first is None:
            return await self._put(path, bytes(buffer), opts)
        return await self._multipart(path, first, buffer, chunks, opts, size, concurrency)

    async def _multipart(
        self,
        path: str,
        first: bytes,
        buffer: bytearray,
        chunks: AsyncIterator[bytes],
        opts: PutOptions,
        size: int,
        concurrency: int,
    ) -> PutResult:
        key = self._key(path)
        conditions = await self._condition_params(path, opts.mode, "put_stream")
        params = self._attr_params(opts.attributes, dict(opts.tags) if opts.tags else None)
        created = await self._call(path, "put_stream", "create_multipart_upload", Key=key, **params)
        upload_id = created["UploadId"]
        parts: dict[int, str] = {}
        slots = asyncio.Semaphore(concurrency)
        tasks: set[asyncio.Task[None]] = set()

        async def upload(number: int, body: bytes) -> None:
            try:
                resp = await self._call(
                    path, "put_stream", "upload_part", Key=key, UploadId=upload_id, PartNumber=number, Body=body
                )
                parts[number] = resp["ETag"]
            finally:
                slots.release()

        async def submit(number: int, body: bytes) -> None:
            await slots.acquire()  # memory stays near part_size * max_concurrency
            for t in [t for t in tasks if t.done()]:
                tasks.discard(t)
                t.result()  # surface a failed part now
            tasks.add(asyncio.create_task(upload(number, body)))

        try:
            number = 1
            await submit(number, first)
            async for chunk in chunks:
                buffer += chunk
                while len(buffer) >= size:
                    number += 1
                    await submit(number, bytes(buffer[:size]))
                    del buffer[:size]
            if buffer:
                number += 1
                await submit(number, bytes(buffer))
            await asyncio.gather(*tasks)
            resp = await self._call(
                path,
                "put_stream",
                "complete_multipart_upload",
                opts.mode,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": parts[n]} for n in sorted(parts)]},
                **conditions,
            )
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # Shielded: a cancelled upload must still be aborted, so no part is left behind.
            await asyncio.shield(self._abort(path, key, upload_id))
            raise
        return PutResult(resp.get("ETag"), resp.get("VersionId"))

    async def _abort(self, path: str, key: str, upload_id: str) -> None:
        with contextlib.suppress(ObjectStoreError):
            await self._call(path, "abort", "abort_multipart_upload", Key=key, UploadId=upload_id)

    async def _delete(self, path: str, cond: UpdateVersion | None) -> None:
        if cond is None:
            await self._call(path, "delete", "delete_object", Key=self._key(path))
            return
        # A conditional delete of a missing object is a failed precondition, not a no-op.
        etag = await self._resolve_version(path, cond, "delete")
        await self._call(path, "delete", "delete_object", cond, Key=self._key(path), IfMatch=quote_etag(etag))

    async def _delete_many(self, paths: list[str]) -> dict[str, ObjectStoreError]:
        errors: dict[str, ObjectStoreError] = {}
        by_key = {self._key(p): p for p in paths}
        keys = list(by_key)
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = keys[start : start + _DELETE_BATCH]
            try:
                resp = await self._call(
                    None,
                    "delete_many",
                    "delete_objects",
                    Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
                )
            except ObjectStoreError as e:
                for k in batch:
                    errors[by_key[k]] = e
                continue
            for err in resp.get("Errors", []):
                path = by_key.get(err.get("Key", ""), err.get("Key", ""))
                code = err.get("Code", "")
                if code == "NoSuchKey":
                    continue  # missing paths are not errors
                status = 403 if code == "AccessDenied" else None
                errors[path] = self._from_status(path, "delete", None, status, code)
        return errors

    async def _copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        source = {"Bucket": self._bucket, "Key": self._key(src)}
        if overwrite:
            await self._call(
                src,
                "copy",
                "copy_object",
                Key=self._key(dst),
                CopySource=source,
                MetadataDirective="COPY",
                TaggingDirective="COPY",
            )
            return
        await self._copy_if_absent(src, dst, source)

    async def _copy_if_absent(self, src: str, dst: str, source: dict[str, str]) -> None:
        """Atomic copy-if-not-exists: a multipart copy completed with ``If-None-Match: *``.

        CopyObject's own If-None-Match is not honoured everywhere (moto ignores it); a
        conditional CompleteMultipartUpload is.
        """
        head = await self._call(src, "copy_if_not_exists", "head_object", Key=self._key(src))
        size = int(head.get("ContentLength", 0))
        tags = await self._get_tags(src)
        params = self._attr_params(self._attributes_from(head), tags or None)
        key = self._key(dst)
        if size == 0:
            # UploadPartCopy needs a non-empty range: an empty object is a conditional put.
            await self._call(
                dst, "copy_if_not_exists", "put_object", "create", Key=key, Body=b"", IfNoneMatch="*", **params
            )
            return
        created = await self._call(dst, "copy_if_not_exists", "create_multipart_upload", Key=key, **params)
        upload_id = created["UploadId"]
        try:
            parts = []
            count = -(-size // _MAX_COPY_PART)
            step = -(-size // count)
            for number, start in enumerate(range(0, size, step), start=1):
                end = min(size, start + step) - 1
                resp = await self._call(
                    src,
                    "copy_if_not_exists",
                    "upload_part_copy",
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource=source,
                    CopySourceRange=f"bytes={start}-{end}",
                    CopySourceIfMatch=head["ETag"],
                )
                parts.append({"PartNumber": number, "ETag": resp["CopyPartResult"]["ETag"]})
            await self._call(
                dst,
                "copy_if_not_exists",
                "complete_multipart_upload",
                "create",
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                IfNoneMatch="*",
            )
        except BaseException:
            await asyncio.shield(self._abort(dst, key, upload_id))
            raise

    # ------------------------------------------------------------------------------ reads

    def _get_params(self, path: str, opts: GetOptions) -> dict[str, Any]:
        params: dict[str, Any] = {"Key": self._key(path)}
        c = opts.conditions
        # "*" is answered here, not sent: not every S3 implementation evaluates it (moto
        # compares it as a literal ETag). If-Match: * holds for any existing object; If-None-Match: *
        # is checked in _send_get once the object is known to exist.
        if c.if_match is not None and c.if_match.strip() != "*":
            params["IfMatch"] = ", ".join(quote_etag(e) for e in c.if_match.split(","))
        if c.if_none_match is not None and c.if_none_match.strip() != "*":
            params["IfNoneMatch"] = ", ".join(quote_etag(e) for e in c.if_none_match.split(","))
        if c.if_modified_since is not None:
            params["IfModifiedSince"] = _aware(c.if_modified_since)
        if c.if_unmodified_since is not None:
            params["IfUnmodifiedSince"] = _aware(c.if_unmodified_since)
        if opts.range is not None:
            params["Range"] = http_range_header(opts.range)
        if opts.version is not None:
            params["VersionId"] = opts.version
        return params

    async def _send_get(self, path: str, opts: GetOptions) -> dict[str, Any]:
        resp: dict[str, Any] = await self._call(path, "get", "get_object", **self._get_params(path, opts))
        none_match = opts.conditions.if_none_match
        if none_match is not None and none_match.strip() == "*":
            resp["Body"].close()
            raise NotModifiedError(f"get {path!r}: if_none_match='*' and the object exists", path=path, provider="s3")
        if opts.range is not None and not resp.get("ContentRange"):
            # 200 instead of 206: the range could not apply (an empty object) or was ignored.
            size = int(resp.get("ContentLength", 0))
            if size == 0:
                resp["Body"].close()
                raise InvalidRangeError(f"get {path!r}: range on an empty object", path=path, provider="s3")
            resp["_osx_unranged"] = True
        return resp

    async def _get(self, path: str, opts: GetOptions) -> GetResult:
        resp = await self._send_get(path, opts)
        with self._map_errors(path, "get"):
            async with resp["Body"] as body:
                data: bytes = await body.read()
        meta = self._meta_from(path, resp)
        if resp.get("_osx_unranged") and opts.range is not None:
            start, end = opts.range.resolve(len(data), path=path, provider="s3")
            data = data[start:end]
        return GetResult(data, meta, self._attributes_from(resp))

    async def _open_stream(
        self, path: str, opts: GetOptions, chunk_size: int
    ) -> tuple[ObjectMeta, AsyncIterator[bytes]]:
        resp = await self._send_get(path, opts)
        meta = self._meta_from(path, resp)
        if resp.get("_osx_unranged") and opts.range is not None:
            resp["Body"].close()
            data = (await self._get(path, opts)).data

            async def once() -> AsyncIterator[bytes]:
                for i in range(0, len(data), chunk_size):
                    yield data[i : i + chunk_size]

            return meta, once()
        if opts.range is not None:
            start, end = opts.range.resolve(meta.size, path=path, provider="s3")
        else:
            start, end = 0, meta.size

        async def chunks() -> AsyncIterator[bytes]:
            body = resp["Body"]
            position, resumes = start, 0
            try:
                while position < end:
                    try:
                        with self._map_errors(path, "get_stream"):
                            block = await body.read(min(chunk_size, end - position))
                    except TransportError:
                        # Resume from the byte we have, pinned to the same object state.
                        body.close()
                        resumes += 1
                        if resumes > self._retry.max_retries:
                            raise
                        pinned = {"IfMatch": meta.etag} if meta.version is None else {"VersionId": meta.version}
                        again = await self._call(
                            path,
                            "get_stream",
                            "get_object",
                            Key=self._key(path),
                            Range=f"bytes={position}-{end - 1}",
                            **pinned,
                        )
                        body = again["Body"]
                        continue
                    if not block:
                        raise TransportError(
                            f"get_stream {path!r}: the connection ended early", path=path, provider="s3", retryable=True
                        )
                    position += len(block)
                    yield block
            finally:
                body.close()

        return meta, chunks()

    async def _head(self, path: str, version: str | None) -> ObjectMeta:
        params: dict[str, Any] = {"Key": self._key(path)}
        if version is not None:
            params["VersionId"] = version
        resp = await self._call(path, "head", "head_object", **params)
        return self._meta_from(path, resp)

    async def _get_tags(self, path: str) -> dict[str, str]:
        resp = await self._call(path, "get_tags", "get_object_tagging", Key=self._key(path))
        return {t["Key"]: t["Value"] for t in resp.get("TagSet", [])}

    async def _list_pages(self, prefix: str, delimiter: bool, offset: str | None) -> AsyncIterator[dict[str, Any]]:
        key_prefix = join_prefix(self._prefix, prefix)
        params: dict[str, Any] = {"Prefix": f"{key_prefix}/" if key_prefix else ""}
        if delimiter:
            params["Delimiter"] = "/"
        if offset is not None:
            params["StartAfter"] = join_prefix(self._prefix, offset)
        while True:
            page: dict[str, Any] = await self._call(prefix or None, "list", "list_objects_v2", **params)
            yield page
            if not page.get("IsTruncated"):
                return
            params["ContinuationToken"] = page["NextContinuationToken"]
            params.pop("StartAfter", None)

    def _object_meta(self, item: dict[str, Any]) -> ObjectMeta:
        return ObjectMeta(
            self._location(item["Key"]), int(item["Size"]), _aware(item.get("LastModified")), item.get("ETag"), None
        )

    async def _list(self, prefix: str, offset: str | None) -> AsyncIterator[ObjectMeta]:
        async for page in self._list_pages(prefix, False, offset):
            for item in page.get("Contents", []):
                meta = self._object_meta(item)
                if offset is None or meta.location > offset:
                    yield meta

    async def _list_with_delimiter(self, prefix: str) -> ListResult:
        objects: list[ObjectMeta] = []
        prefixes: list[str] = []
        async for page in self._list_pages(prefix, True, None):
            objects.extend(self._object_meta(item) for item in page.get("Contents", []))
            prefixes.extend(self._location(p["Prefix"]).rstrip("/") for p in page.get("CommonPrefixes", []))
        return ListResult(objects, prefixes)

    async def _sign(self, method: str, path: str, expires_in: timedelta) -> str:
        with self._map_errors(path, "sign"):
            url: str = await self._client.generate_presigned_url(
                ClientMethod=_SIGN_METHODS[method],
                Params={"Bucket": self._bucket, "Key": self._key(path)},
                ExpiresIn=max(1, int(expires_in.total_seconds())),
            )
        return url
