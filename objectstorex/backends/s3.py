"""S3Store: AWS S3 and S3-compatible endpoints (MinIO, R2, moto...).

Two layers, each used for what it is best at:

* **aiobotocore** resolves and refreshes credentials (environment, shared config/profile,
  container/instance metadata, assume-role -- never written by hand here), reads the region from
  the config, and presigns URLs (``sign``). Its client is created only when first needed
  (presigning), in the store's ``AsyncExitStack``.
* **The data plane** (get, head, put, delete, delete_many, list, multipart parts, copy, tags) goes
  over one shared ``aiohttp`` session, signed by the minimal SigV4 signer in :mod:`._sigv4`
  (checked byte-for-byte against botocore, and against a server that verifies signatures). That
  saves the ~3.5 ms of client CPU botocore spends per call.

Errors are translated in one place (``S3Store._map_errors`` / ``_from_status``); transient
failures are retried with the store's ``RetryConfig`` (``_config.retry_call``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
from base64 import b64encode
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Iterator, Mapping
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from xml.etree import ElementTree

import aiohttp

from .._config import RetryConfig, Timeouts, network_options, retry_call
from .._ranges import ByteRange, coalesce, http_range_header, slice_spans
from .._store import BaseStore, GetOptions, PutOptions
from .._types import Capabilities, GetResult, ListResult, ObjectMeta, PutResult
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
from ..paths import KeyPrefix, validate_prefix
from ..preconditions import GetConditions, PutMode, UpdateVersion, http_get_headers, quote_etag
from ._s3_headers import (
    attribute_headers,
    attributes_from,
    b64_md5,
    content_length,
    content_range,
    meta_from,
    multipart_etag,
)
from ._s3_http import (
    IDENTITY,
    FrozenCredentials,
    MalformedAnswer,
    S3HttpError,
    S3Response,
    S3Wire,
    complete_xml,
    delete_xml,
    parse_complete,
    parse_copy_part,
    parse_delete_errors,
    parse_list,
    parse_tags,
    parse_upload_id,
)
from ._sigv4 import EMPTY_SHA256

if TYPE_CHECKING:
    from multidict import CIMultiDictProxy

__all__ = ["S3Store"]

T = TypeVar("T")

MIB = 1024 * 1024
_MIN_PART = 5 * MIB
_DEFAULT_PART = 8 * MIB
_DEFAULT_CONCURRENCY = 4
_MAX_COPY_PART = 5 * 1024 * MIB
_DELETE_BATCH = 1000
_HASH_IN_THREAD = 1 * MIB  # hash bigger bodies off the event loop (hashlib releases the GIL)
_STREAM_BUFFER = 4 * MIB  # aiohttp read buffer of streaming reads: small reads cost ~6x throughput

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
_RETRY_CODES = frozenset(
    {
        "ConditionalRequestConflict",
        "OperationAborted",
        "SlowDown",
        "RequestTimeout",
        "BadDigest",
        "XAmzContentSHA256Mismatch",
    }
)
_NO_CONDITIONS = GetConditions()
_NO_HEADERS: dict[str, str] = {}


async def _sha256(data: bytes) -> bytes:
    if len(data) > _HASH_IN_THREAD:
        return await asyncio.to_thread(lambda: hashlib.sha256(data).digest())
    return hashlib.sha256(data).digest()


async def _gather(aws: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """``asyncio.gather`` that cancels (and awaits) the others as soon as one fails."""
    tasks = [asyncio.ensure_future(aw) for aw in aws]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


class _SourceChanged(Exception):
    """A part copy found the source no longer at the ETag the copy started from."""


def _s3_code(exc: BaseException) -> str:
    cause = exc.__cause__
    return str(getattr(cause, "code", "") or "")


class S3Store(KeyPrefix, BaseStore):
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

    Example::

        async with osx.S3Store(bucket="my-bucket", region="eu-west-1") as store:
            await store.put("a.txt", b"hi")
    """

    provider = "s3"

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
        self._retry, self._timeouts = network_options(retry, timeouts, "s3")
        self._bucket = bucket
        self._region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        self._endpoint = endpoint.rstrip("/") if endpoint else None
        self._virtual = (
            virtual_hosted_style if virtual_hosted_style is not None else (endpoint is None and "." not in bucket)
        )
        self._prefix = validate_prefix(prefix, provider="s3")
        self._profile = profile
        # Kept private and never shown: repr and errors name the bucket and endpoint only.
        self.__keys = (access_key_id, secret_access_key, session_token)
        self._stack: AsyncExitStack | None = None
        self._session: Any = None  # aiobotocore session
        self._client: Any = None  # aiobotocore client, created on first presign
        self._client_lock = asyncio.Lock()
        self._wire: S3Wire | None = None

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

    # ------------------------------------------------------------------------------ lifecycle

    async def _open(self) -> None:
        key, secret, token = self.__keys
        static: FrozenCredentials | None = (key, secret, token) if key is not None and secret is not None else None
        credentials: Any = None
        if static is None or self._region is None or self._profile:
            # Only the credential chain and the config files need botocore: explicit keys and
            # region skip importing it (it costs ~25 MiB of RSS and ~100 ms).
            try:
                from botocore.exceptions import BotoCoreError

                session = self._botocore_session()
                if self._region is None:
                    self._region = session.get_config_variable("region") or "us-east-1"
                # Explicit keys, else the chain aiobotocore resolves (env, profile, metadata, roles).
                credentials = None if static is not None else await session.get_credentials()
            except BotoCoreError as e:
                raise InvalidConfigError(
                    f"cannot resolve the AWS configuration: {type(e).__name__}", provider="s3"
                ) from e

        async def frozen() -> FrozenCredentials | None:
            if static is not None:
                return static
            if credentials is None:
                return None  # anonymous: unsigned requests, as botocore would send
            try:
                c = await credentials.get_frozen_credentials()  # refreshes when near expiry
            except BotoCoreError as e:
                raise UnauthenticatedError(
                    f"cannot refresh the AWS credentials ({type(e).__name__})", provider="s3"
                ) from e
            return (c.access_key, c.secret_key, c.token)

        region = self._region
        assert region is not None
        if self._endpoint:
            endpoint = self._endpoint
        else:
            suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
            endpoint = f"https://s3.{region}.{suffix}"
        t = self._timeouts
        stack = AsyncExitStack()
        http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=64, ttl_dns_cache=300),
            timeout=aiohttp.ClientTimeout(total=t.total, sock_connect=t.connect, sock_read=t.read),
            # Bytes come back exactly as stored: ask for no content coding, and never decode one.
            headers=IDENTITY,
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        stack.push_async_callback(http.close)
        self._stack = stack
        self._wire = S3Wire(
            http,
            endpoint=endpoint,
            bucket=self._bucket,
            region=region,
            credentials=frozen,
            virtual_hosted=self._virtual,
        )
        stack.push_async_callback(self._wire.close)  # before the connector it borrows

    def _botocore_session(self) -> Any:
        if self._session is None:
            try:
                from aiobotocore.session import get_session
            except ImportError as e:  # pragma: no cover - depends on the install
                raise InvalidConfigError("the s3 provider needs: pip install 'objectstorex[s3]'", provider="s3") from e
            session = get_session()
            if self._profile:
                session.set_config_variable("profile", self._profile)
            self._session = session
        return self._session

    async def _presigner(self) -> Any:
        """The aiobotocore client, created on first use (presigning only) in the store's stack."""
        async with self._client_lock:
            if self._client is None:
                from aiobotocore.config import AioConfig

                key, secret, token = self.__keys
                config = AioConfig(
                    signature_version="s3v4",  # botocore presigns with SigV2 on custom endpoints otherwise
                    s3={"addressing_style": "virtual" if self._virtual else "path"},
                    retries={"max_attempts": 1, "mode": "standard"},
                )
                assert self._stack is not None
                self._client = await self._stack.enter_async_context(
                    self._botocore_session().create_client(
                        "s3",
                        region_name=self._region,
                        endpoint_url=self._endpoint,
                        aws_access_key_id=key,
                        aws_secret_access_key=secret,
                        aws_session_token=token,
                        config=config,
                    )
                )
            return self._client

    async def _close(self) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            self._wire = None
            await stack.aclose()

    # ------------------------------------------------------------------------------ plumbing

    @contextlib.contextmanager
    def _map_errors(
        self, path: str | None, operation: str, mode: PutMode | None = None, *, version: bool = False
    ) -> Iterator[None]:
        """Translate S3 answers and transport failures onto the objectstorex tree (the one place).

        Args:
            path: the caller's path (named by the error).
            operation: what was being done, for the message.
            mode: the put mode of a write: a lost create is always ``AlreadyExistsError`` and a
                lost compare-and-swap always ``PreconditionError``, whatever status S3 chose.
            version: the request named a version (a refused version id means "no such version").
        """
        try:
            yield
        except ObjectStoreError:
            raise
        except S3HttpError as e:
            raise self._from_status(path, operation, mode, e.status, e.code, version=version) from e
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise TransportError(
                f"{operation}: network failure talking to S3 ({type(e).__name__})",
                path=path,
                provider="s3",
                retryable=True,
            ) from e
        except ElementTree.ParseError as e:
            raise ObjectStoreError(
                f"{operation}: S3 sent a malformed answer", path=path, provider="s3", retryable=True
            ) from e
        except MalformedAnswer as e:
            raise ObjectStoreError(f"{operation}: S3 sent a malformed answer: {e}", path=path, provider="s3") from e

    def _from_status(
        self,
        path: str | None,
        operation: str,
        mode: PutMode | None,
        status: int | None,
        code: str,
        *,
        version: bool = False,
    ) -> ObjectStoreError:
        where = f"{operation} {path!r}" if path else operation
        kw: dict[str, Any] = {"path": path, "provider": "s3", "status": status}
        if status in (429, 503) or code in _RETRY_CODES:
            # Throttling, a concurrent conditional write in flight, or a body damaged in transit.
            return ObjectStoreError(f"{where}: S3 asked to retry ({code or status})", retryable=True, **kw)
        if code == "NoSuchBucket":
            return NotFoundError(f"{where}: bucket {self._bucket!r} does not exist", **kw)
        if code == "NoSuchUpload":
            return ObjectStoreError(f"{where}: the multipart upload no longer exists", **kw)
        if mode == "create" and status in (409, 412):
            return AlreadyExistsError(f"{where}: the object already exists", **kw)
        if isinstance(mode, UpdateVersion) and status in (404, 409, 412):
            # S3 answers 404 to If-Match on a missing key: for a CAS that is a lost update too.
            return PreconditionError(f"{where}: the object changed or is gone", **kw)
        if status == 304:
            return NotModifiedError(f"{where}: not modified", **kw)
        if status == 412:
            return PreconditionError(f"{where}: precondition failed", **kw)
        if status == 416 or code == "InvalidRange":
            return InvalidRangeError(f"{where}: range not satisfiable", **kw)
        if status == 404 or code in ("NoSuchKey", "NotFound", "NoSuchVersion"):
            return NotFoundError(f"{where}: not found", **kw)
        if version and status == 400 and code in ("InvalidArgument", ""):
            return NotFoundError(f"{where}: no such version ({code or 'refused'})", **kw)
        if status == 401 or code in (
            "InvalidAccessKeyId",
            "ExpiredToken",
            "InvalidToken",
            "SignatureDoesNotMatch",
            "TokenRefreshRequired",
            "RequestTimeTooSkewed",  # this machine's clock is off: signatures are time-bound
        ):
            return UnauthenticatedError(f"{where}: credentials refused ({code or status})", **kw)
        if status == 403:
            return PermissionDeniedError(f"{where}: access denied ({code or status})", **kw)
        if code in ("PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"):
            return InvalidConfigError(
                f"{where}: bucket {self._bucket!r} is in another region than {self._region!r}: pass region=", **kw
            )
        if status == 501 or code == "NotImplemented":
            return NotSupportedError(f"{where}: not supported by this endpoint ({code})", **kw)
        retryable = status is None or status >= 500 or code == "InternalError"
        return ObjectStoreError(f"{where} failed: HTTP {status} {code}".rstrip(), retryable=retryable, **kw)

    async def _retrying(self, path: str | None, mode: PutMode | None, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run ``attempt`` under the store's retry policy; name what is left after retries."""
        try:
            return await retry_call(attempt, self._retry)
        except ObjectStoreError as e:
            if not e.retryable or isinstance(e, TransportError):
                raise
            if _s3_code(e) == "ConditionalRequestConflict":
                # Another conditional write kept winning: ours lost, as the mode says.
                if mode == "create":
                    raise AlreadyExistsError(str(e), path=path, provider="s3", status=e.status) from e
                if isinstance(mode, UpdateVersion):
                    raise PreconditionError(str(e), path=path, provider="s3", status=e.status) from e
            raise TransportError(f"{e} (after retries)", path=path, provider="s3", status=e.status) from e

    @property
    def _http(self) -> S3Wire:
        wire = self._wire
        if wire is None:
            raise ObjectStoreError("the s3 store is closed", provider="s3")
        return wire

    async def _send(
        self,
        path: str | None,
        operation: str,
        method: str,
        key: str | None,
        *,
        mode: PutMode | None = None,
        query: Mapping[str, str] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        payload_sha256: str | None = None,
        embedded_errors: bool = False,
        version: bool = False,
    ) -> S3Response:
        """One request with the retry policy and the error mapping."""
        wire = self._http
        if payload_sha256 is None:
            payload_sha256 = (await _sha256(body)).hex() if body else EMPTY_SHA256

        async def attempt() -> S3Response:
            with self._map_errors(path, operation, mode, version=version):
                return await wire.request(
                    method,
                    key,
                    query=query,
                    headers=dict(headers) if headers else None,
                    body=body,
                    payload_sha256=payload_sha256,
                    embedded_errors=embedded_errors,
                )

        return await self._retrying(path, mode, attempt)

    # ------------------------------------------------------------------------------ metadata

    async def _current(self, path: str, operation: str) -> ObjectMeta | None:
        """The object's current metadata, or ``None`` if it does not exist."""
        try:
            return await self._head(path, None)
        except NotFoundError:
            return None

    async def _resolve_version(self, path: str, mode: UpdateVersion, operation: str) -> str:
        """The ETag to send as If-Match for a CAS that names a version.

        S3 has no version precondition on writes: the named version must be the current one,
        and its ETag then guards the write, so a change in between still fails the request.
        """
        head = await self._current(path, operation)
        if head is None:
            raise PreconditionError(f"{operation} {path!r}: the object is gone", path=path, provider="s3")
        if mode.version is not None and head.version != mode.version:
            raise PreconditionError(f"{operation} {path!r}: the version is no longer current", path=path, provider="s3")
        etag = mode.etag or head.etag
        if etag is None:
            raise PreconditionError(f"{operation} {path!r}: the object has no ETag to guard", path=path, provider="s3")
        return etag

    async def _condition_headers(self, path: str, mode: PutMode, operation: str) -> dict[str, str]:
        if mode == "create":
            return {"If-None-Match": "*"}
        if isinstance(mode, UpdateVersion):
            etag = mode.etag if mode.version is None else await self._resolve_version(path, mode, operation)
            assert etag is not None
            return {"If-Match": quote_etag(etag)}
        return {}

    # ------------------------------------------------------------------------------ writes

    async def _put(self, path: str, data: bytes, opts: PutOptions) -> PutResult:
        key = self._key(path)
        mode = opts.mode
        if mode == "overwrite" and opts.attributes.is_empty() and not opts.tags:
            headers: dict[str, str] = {}
        else:
            headers = attribute_headers(opts.attributes, opts.tags, path)
        digest = await _sha256(data)
        if mode == "overwrite":
            r = await self._send(path, "put", "PUT", key, headers=headers, body=data, payload_sha256=digest.hex())
            return PutResult(r.headers.get("ETag"), r.headers.get("x-amz-version-id"))
        headers.update(await self._condition_headers(path, mode, "put"))
        # The checksum is stored with the object: a retried conditional write whose first
        # response was lost can then prove that the object found is the one it sent.
        checksum = b64encode(digest).decode()
        headers["x-amz-sdk-checksum-algorithm"] = "SHA256"
        headers["x-amz-checksum-sha256"] = checksum
        return await self._conditional_write(
            path,
            "put",
            mode,
            lambda: self._http.request(
                "PUT", key, headers=dict(headers), body=data, payload_sha256=digest.hex(), strict=True
            ),
            lambda: self._proves_put(path, checksum, data),
        )

    async def _conditional_write(
        self,
        path: str,
        operation: str,
        mode: PutMode,
        send: Callable[[], Awaitable[S3Response]],
        proves: Callable[[], Awaitable[PutResult | None]],
    ) -> PutResult:
        """A create/CAS write, reconciled when a lost response makes a retry fail its condition.

        If an attempt may have landed (network failure or 5xx after sending) and a retry then
        fails its condition, the stored object is checked: when it carries what we sent, the
        write was ours and succeeded.
        """
        maybe_landed = False

        async def attempt() -> S3Response:
            nonlocal maybe_landed
            try:
                with self._map_errors(path, operation, mode):
                    return await send()
            except ObjectStoreError as e:
                if e.retryable and (e.status is None or e.status >= 500):
                    maybe_landed = True
                raise

        try:
            r = await self._retrying(path, mode, attempt)
        except ObjectStoreError as e:
            if maybe_landed and (
                isinstance(e, (AlreadyExistsError, PreconditionError)) or _s3_code(e) == "NoSuchUpload"
            ):
                proven = await proves()
                if proven is not None:
                    return proven
                if _s3_code(e) == "NoSuchUpload":
                    raise (AlreadyExistsError if mode == "create" else PreconditionError)(
                        f"{operation} {path!r}: the upload was completed by another attempt, not with our data",
                        path=path,
                        provider="s3",
                        status=e.status,
                    ) from e
            raise
        return PutResult(r.headers.get("ETag") or _etag_from_body(r.body), r.headers.get("x-amz-version-id"))

    async def _proves_put(self, path: str, checksum: str, data: bytes) -> PutResult | None:
        """Whether the stored object is the one we sent (by its SHA-256, else its MD5 ETag)."""
        try:
            r = await self._send(path, "put", "HEAD", self._key(path), headers={"x-amz-checksum-mode": "ENABLED"})
        except NotFoundError:
            return None
        stored = r.headers.get("x-amz-checksum-sha256")
        etag = r.headers.get("ETag")
        if stored is not None:
            same = stored == checksum
        else:
            plain = (etag or "").strip('"')
            same = len(plain) == 32 and plain == hashlib.md5(data, usedforsecurity=False).hexdigest()
        return PutResult(etag, r.headers.get("x-amz-version-id")) if same else None

    async def _put_stream(
        self,
        path: str,
        chunks: AsyncIterator[bytes],
        opts: PutOptions,
        part_size: int | None,
        max_concurrency: int | None,
    ) -> PutResult:
        size = max(_MIN_PART, part_size or _DEFAULT_PART)  # S3 refuses parts < 5 MiB (EntityTooSmall)
        concurrency = max(1, max_concurrency or _DEFAULT_CONCURRENCY)
        buffer = bytearray()
        first: bytes | None = None
        # A stream of one part or less is a single PutObject.
        async for chunk in chunks:
            buffer += chunk
            if len(buffer) >= size:
                first = bytes(buffer[:size])
                del buffer[:size]
                break
        if first is None:
            return await self._put(path, bytes(buffer), opts)
        return await self._multipart(path, first, buffer, chunks, opts, size, concurrency)

    async def _create_upload(self, path: str, key: str, headers: dict[str, str], operation: str) -> str:
        r = await self._send(path, operation, "POST", key, query={"uploads": ""}, headers=headers)
        with self._map_errors(path, operation):
            return parse_upload_id(r.body)

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
        conditions = await self._condition_headers(path, opts.mode, "put_stream")
        upload_id = await self._create_upload(
            path, key, attribute_headers(opts.attributes, opts.tags, path), "put_stream"
        )
        parts: dict[int, str] = {}
        slots = asyncio.Semaphore(concurrency)
        tasks: set[asyncio.Task[None]] = set()

        async def upload(number: int, body: bytes) -> None:
            try:
                r = await self._send(
                    path,
                    "put_stream",
                    "PUT",
                    key,
                    query={"partNumber": str(number), "uploadId": upload_id},
                    body=body,
                )
                etag = r.headers.get("ETag")
                if not etag:
                    raise ObjectStoreError(f"put_stream {path!r}: part {number} got no ETag", path=path, provider="s3")
                parts[number] = etag
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
            del first
            async for chunk in chunks:
                buffer += chunk
                while len(buffer) >= size:
                    number += 1
                    await submit(number, bytes(buffer[:size]))
                    del buffer[:size]
            if buffer:
                number += 1
                await submit(number, bytes(buffer))
                buffer.clear()
            await asyncio.gather(*tasks)
            return await self._complete(path, key, upload_id, parts, opts.mode, conditions, "put_stream")
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # Shielded: a cancelled upload must still be aborted, so no part is left behind.
            await asyncio.shield(self._abort(path, key, upload_id))
            raise

    async def _complete(
        self,
        path: str,
        key: str,
        upload_id: str,
        parts: dict[int, str],
        mode: PutMode,
        conditions: dict[str, str],
        operation: str,
    ) -> PutResult:
        ordered = sorted(parts.items())
        body = complete_xml(ordered)
        digest = hashlib.sha256(body).hexdigest()
        expected = multipart_etag([e for _, e in ordered])
        headers = {"Content-Type": "application/xml", **conditions}

        async def proves() -> PutResult | None:
            # The completed object's ETag derives from exactly our parts.
            current = await self._current(path, operation)
            if current is None or expected is None or (current.etag or "").strip('"') != expected:
                return None
            return PutResult(current.etag, current.version)

        return await self._conditional_write(
            path,
            operation,
            mode,
            lambda: self._http.request(
                "POST",
                key,
                query={"uploadId": upload_id},
                headers=dict(headers),
                body=body,
                payload_sha256=digest,
                embedded_errors=True,
                strict=True,
            ),
            proves,
        )

    async def _abort(self, path: str, key: str, upload_id: str) -> None:
        with contextlib.suppress(ObjectStoreError):
            await self._send(path, "abort", "DELETE", key, query={"uploadId": upload_id})

    async def _delete(self, path: str, cond: UpdateVersion | None) -> None:
        key = self._key(path)
        if cond is None:
            await self._send(path, "delete", "DELETE", key)
            return
        etag = cond.etag if cond.version is None else await self._resolve_version(path, cond, "delete")
        assert etag is not None
        # S3 answers 404 for a missing key and 412 for a changed one: both a failed precondition.
        await self._send(path, "delete", "DELETE", key, mode=cond, headers={"If-Match": quote_etag(etag)})

    async def _delete_many(self, paths: list[str]) -> dict[str, ObjectStoreError]:
        errors: dict[str, ObjectStoreError] = {}
        by_key = {self._key(p): p for p in paths}
        keys = list(by_key)
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = keys[start : start + _DELETE_BATCH]
            body = delete_xml(batch)
            try:
                r = await self._send(
                    None,
                    "delete_many",
                    "POST",
                    None,
                    query={"delete": ""},
                    headers={"Content-MD5": b64_md5(body), "Content-Type": "application/xml"},
                    body=body,
                )
                with self._map_errors(None, "delete_many"):
                    failed = parse_delete_errors(r.body)
            except ObjectStoreError as e:
                for k in batch:
                    errors[by_key[k]] = e
                continue
            for k, code in failed:
                if code == "NoSuchKey":
                    continue  # missing paths are not errors
                path = by_key.get(k, self._location(k))
                status = 403 if code == "AccessDenied" else None
                errors[path] = self._from_status(path, "delete", None, status, code)
        return errors

    async def _copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        if not overwrite:
            await self._copy_multipart(src, dst, create=True)
            return
        headers = {
            "x-amz-copy-source": self._http.copy_source(self._bucket, self._key(src)),
            "x-amz-metadata-directive": "COPY",
            "x-amz-tagging-directive": "COPY",
        }
        try:
            await self._send(src, "copy", "PUT", self._key(dst), headers=headers, embedded_errors=True)
        except ObjectStoreError as e:
            # CopyObject stops at 5 GiB; bigger objects are copied part by part.
            if e.status == 400 and _s3_code(e) in ("InvalidRequest", "EntityTooLarge"):
                await self._copy_multipart(src, dst, create=False)
                return
            raise

    async def _copy_multipart(self, src: str, dst: str, *, create: bool) -> None:
        """Copy through a multipart upload of ``dst`` built with UploadPartCopy.

        With ``create`` it is completed with ``If-None-Match: *``: the atomic copy-if-not-exists
        (CopyObject's own ``If-None-Match`` is not honoured everywhere; moto ignores it). Each
        part is pinned to the source's ETag; a source that changes mid-copy restarts the copy.
        """
        for attempt in range(3):
            try:
                await self._copy_multipart_once(src, dst, create=create)
                return
            except _SourceChanged as e:
                if attempt == 2:
                    raise ObjectStoreError(
                        f"copy {src!r}: the source kept changing during the copy", path=src, provider="s3"
                    ) from e

    async def _copy_multipart_once(self, src: str, dst: str, *, create: bool) -> None:
        r = await self._send(src, "copy", "HEAD", self._key(src))
        meta = meta_from(src, r.headers)
        # S3 announces tags with x-amz-tagging-count; servers that do not are asked anyway.
        tags: dict[str, str] | None = None
        if r.headers.get("x-amz-tagging-count", "1") != "0":
            try:
                tags = await self._get_tags(src)
            except NotSupportedError:
                tags = None  # S3-compatible servers without tagging (e.g. R2): nothing to copy
        headers = attribute_headers(attributes_from(r.headers), tags, dst)
        key = self._key(dst)
        mode: PutMode = "create" if create else "overwrite"
        conditions = {"If-None-Match": "*"} if create else {}
        if meta.size == 0:
            # UploadPartCopy needs a non-empty range: an empty object is a (conditional) put,
            # reconciled like put(mode="create") when its answer is lost.
            if not create:
                await self._send(dst, "copy", "PUT", key, headers=headers)
                return
            checksum = b64encode(hashlib.sha256(b"").digest()).decode()
            put_headers = {
                **headers,
                **conditions,
                "x-amz-sdk-checksum-algorithm": "SHA256",
                "x-amz-checksum-sha256": checksum,
            }
            await self._conditional_write(
                dst,
                "copy",
                mode,
                lambda: self._http.request("PUT", key, headers=dict(put_headers), strict=True),
                lambda: self._proves_put(dst, checksum, b""),
            )
            return
        upload_id = await self._create_upload(dst, key, headers, "copy")
        try:
            count = -(-meta.size // _MAX_COPY_PART)
            step = -(-meta.size // count)  # equal parts: each >= 5 MiB except possibly the last
            source = self._http.copy_source(self._bucket, self._key(src))
            slots = asyncio.Semaphore(_DEFAULT_CONCURRENCY)

            async def part(number: int, start: int) -> tuple[int, str]:
                async with slots:
                    end = min(meta.size, start + step) - 1
                    try:
                        pr = await self._send(
                            src,
                            "copy",
                            "PUT",
                            key,
                            query={"partNumber": str(number), "uploadId": upload_id},
                            headers={
                                "x-amz-copy-source": source,
                                "x-amz-copy-source-range": f"bytes={start}-{end}",
                                "x-amz-copy-source-if-match": quote_etag(meta.etag or "*"),
                            },
                            embedded_errors=True,
                        )
                    except PreconditionError as e:
                        raise _SourceChanged() from e
                    with self._map_errors(src, "copy"):
                        return number, parse_copy_part(pr.body)

            done = await _gather(part(n, s) for n, s in enumerate(range(0, meta.size, step), start=1))
            await self._complete(dst, key, upload_id, dict(done), mode, conditions, "copy")
        except BaseException:
            await asyncio.shield(self._abort(dst, key, upload_id))
            raise

    # ------------------------------------------------------------------------------ reads

    def _get_headers(self, opts: GetOptions) -> dict[str, str]:
        # "*" is answered here, not sent (see http_get_headers): If-None-Match: * is checked
        # once the object is known to exist.
        headers = http_get_headers(opts.conditions) if opts.conditions else {}
        if opts.range is not None:
            headers["Range"] = http_range_header(opts.range)
        return headers

    def _check_response(self, path: str, opts: GetOptions, status: int) -> bool:
        """Local checks of a read's answer; returns whether a range was ignored (200 to a Range).

        A range on an empty object (which S3 answers 200) is refused by ``ByteRange.resolve``.
        """
        none_match = opts.conditions.if_none_match
        if none_match is not None and none_match.strip() == "*":
            raise NotModifiedError(f"get {path!r}: if_none_match='*' and the object exists", path=path, provider="s3")
        return opts.range is not None and status != 206

    async def _get(self, path: str, opts: GetOptions) -> GetResult:
        wire = self._http
        key = self._key(path)
        headers = self._get_headers(opts) if opts.conditions or opts.range is not None else _NO_HEADERS
        query = {"versionId": opts.version} if opts.version is not None else None

        async def attempt() -> tuple[int, CIMultiDictProxy[str], bytes]:
            with self._map_errors(path, "get", version=query is not None):
                response = await wire.open("GET", key, query=query, headers=headers)
                try:
                    return response.status, response.headers, await response.read()
                finally:
                    response.release()

        status, h, data = await self._retrying(path, None, attempt)
        unranged = self._check_response(path, opts, status)
        # A whole answer without Content-Length (chunked) is sized by what was read.
        meta = meta_from(path, h, len(data) if status == 200 else None)
        if unranged and opts.range is not None:
            start, end = opts.range.resolve(len(data), path=path, provider="s3")
            data = data[start:end]
        return GetResult(data, meta, attributes_from(h))

    async def _open_stream(
        self, path: str, opts: GetOptions, chunk_size: int
    ) -> tuple[ObjectMeta, AsyncIterator[bytes]]:
        wire = self._http
        key = self._key(path)
        headers = self._get_headers(opts)
        query = {"versionId": opts.version} if opts.version is not None else None
        bufsize = max(MIB, min(chunk_size, _STREAM_BUFFER))  # bounded: aiohttp buffers <= 2x this

        async def attempt() -> aiohttp.ClientResponse:
            with self._map_errors(path, "get_stream", version=query is not None):
                return await wire.open("GET", key, query=query, headers=dict(headers), read_bufsize=bufsize)

        response = await self._retrying(path, None, attempt)
        try:
            h = response.headers
            unranged = self._check_response(path, opts, response.status)
            length = content_length(path, h)
            if length is None and response.status == 200:
                # A chunked answer (some S3-compatible gateways): read to its end, no resume;
                # its size is asked for, pinned to the ETag being read.
                meta = await self._chunked_meta(path, opts.version, h)
                if unranged and opts.range is not None:
                    start, end = opts.range.resolve(meta.size, path=path, provider="s3")
                    return meta, _window(_to_eof(path, response, chunk_size), start, end)
                return meta, _to_eof(path, response, chunk_size)
            meta = meta_from(path, h)
            if unranged and opts.range is not None:
                start, end = opts.range.resolve(meta.size, path=path, provider="s3")
                body_start = 0
            else:
                crange = content_range(path, h) if response.status == 206 else None
                if length is None or (response.status == 206 and crange is None):
                    raise ObjectStoreError(
                        f"get_stream {path!r}: S3 answered a range without Content-Length and Content-Range",
                        path=path,
                        provider="s3",
                    )
                start = crange[0] if crange is not None else 0
                end = start + length
                body_start = start
        except BaseException:
            response.release()
            raise
        return meta, self._stream_body(path, key, meta, query, response, body_start, start, end, chunk_size, bufsize)

    async def _stream_body(
        self,
        path: str,
        key: str,
        meta: ObjectMeta,
        query: dict[str, str] | None,
        response: aiohttp.ClientResponse,
        body_start: int,
        start: int,
        end: int,
        chunk_size: int,
        bufsize: int,
    ) -> AsyncIterator[bytes]:
        """Yield bytes ``[start, end)`` in chunks of up to ``chunk_size``.

        ``body_start`` is the offset of the response body's first byte (``start`` unless the
        server ignored the range). A dropped connection resumes from the byte already received,
        pinned to the same ETag (and version), or raises: never truncated or mixed data.
        """
        position = body_start  # offset of the next byte the response will deliver
        resumes = 0
        try:
            while position < end:
                try:
                    block = await response.content.read(min(chunk_size, end - position))
                    if not block:
                        raise aiohttp.ClientPayloadError("the connection ended early")
                except (aiohttp.ClientError, TimeoutError, OSError) as e:
                    response.release()
                    resumes += 1
                    if resumes > self._retry.max_retries:
                        raise TransportError(
                            f"get_stream {path!r}: connection lost at byte {position} ({type(e).__name__})",
                            path=path,
                            provider="s3",
                            retryable=True,
                        ) from e
                    await asyncio.sleep(self._retry.backoff(resumes - 1))
                    position = max(position, start)
                    response = await self._resume(path, key, meta, query, position, end, bufsize)
                    continue
                if position < start:  # the server ignored the range: skip to the start
                    cut = start - position
                    if len(block) <= cut:
                        position += len(block)
                        continue
                    block = block[cut:]
                    position = start
                if position + len(block) > end:
                    block = block[: end - position]
                position += len(block)
                yield block
        finally:
            response.release()

    async def _resume(
        self,
        path: str,
        key: str,
        meta: ObjectMeta,
        query: dict[str, str] | None,
        position: int,
        end: int,
        bufsize: int,
    ) -> aiohttp.ClientResponse:
        headers = {"Range": f"bytes={position}-{end - 1}"}
        if meta.etag:
            headers["If-Match"] = quote_etag(meta.etag)
        wire = self._http

        async def attempt() -> aiohttp.ClientResponse:
            with self._map_errors(path, "get_stream", version=query is not None):
                return await wire.open("GET", key, query=query, headers=dict(headers), read_bufsize=bufsize)

        try:
            response = await self._retrying(path, None, attempt)
        except PreconditionError as e:
            # The pin failed: resuming would mix two states of the object.
            raise PreconditionError(
                f"get_stream {path!r}: the connection dropped and the object changed since; cannot resume",
                path=path,
                provider="s3",
                status=e.status,
            ) from e
        if response.status != 206:
            response.release()
            raise TransportError(f"get_stream {path!r}: the server ignored the resume range", path=path, provider="s3")
        return response

    async def _chunked_meta(self, path: str, version: str | None, h: CIMultiDictProxy[str]) -> ObjectMeta:
        """The metadata of an answer without a length, its size from a HEAD of the same state."""
        head = await self._head(path, version)
        etag = h.get("ETag")
        if etag is not None and head.etag != etag:
            raise PreconditionError(
                f"get_stream {path!r}: the object changed while it was opened", path=path, provider="s3"
            )
        return head

    async def _get_ranges(self, path: str, ranges: list[ByteRange]) -> list[bytes]:
        if len(ranges) == 1:
            return [(await self._get(path, GetOptions(_NO_CONDITIONS, ranges[0]))).data]
        head = await self._head(path, None)
        resolved = [r.resolve(head.size, path=path, provider="s3") for r in ranges]
        spans = coalesce(resolved)
        # Every span is pinned to the ETag seen: ranges never mix two states of the object.
        pinned = GetConditions(if_match=head.etag) if head.etag else _NO_CONDITIONS

        async def fetch(span: tuple[int, int]) -> bytes:
            return (await self._get(path, GetOptions(pinned, ByteRange(span[0], span[1])))).data

        blobs = await _gather(fetch(s) for s in spans)
        return slice_spans(resolved, spans, blobs)

    async def _head(self, path: str, version: str | None) -> ObjectMeta:
        query = {"versionId": version} if version is not None else None
        r = await self._send(path, "head", "HEAD", self._key(path), query=query, version=version is not None)
        return meta_from(path, r.headers)

    async def _get_tags(self, path: str) -> dict[str, str]:
        r = await self._send(path, "get_tags", "GET", self._key(path), query={"tagging": ""})
        with self._map_errors(path, "get_tags"):
            return parse_tags(r.body)

    async def _list_pages(self, prefix: str, delimiter: bool, offset: str | None) -> AsyncIterator[Any]:
        query: dict[str, str] = {
            "list-type": "2",
            "encoding-type": "url",
            "prefix": self._list_prefix(prefix),
        }
        if delimiter:
            query["delimiter"] = "/"
        if offset is not None:
            query["start-after"] = self._key(offset)
        while True:
            r = await self._send(prefix or None, "list", "GET", None, query=query)
            with self._map_errors(prefix or None, "list"):
                page = parse_list(r.body)
            yield page
            if page.next_token is None:
                return
            query["continuation-token"] = page.next_token
            query.pop("start-after", None)

    async def _list(self, prefix: str, offset: str | None) -> AsyncIterator[ObjectMeta]:
        async for page in self._list_pages(prefix, False, offset):
            for item in page.objects:
                location = self._location(item.key)
                if offset is None or location > offset:
                    yield ObjectMeta(location, item.size, item.last_modified, item.etag, None)

    async def _list_with_delimiter(self, prefix: str) -> ListResult:
        objects: list[ObjectMeta] = []
        prefixes: list[str] = []
        async for page in self._list_pages(prefix, True, None):
            objects.extend(
                ObjectMeta(self._location(i.key), i.size, i.last_modified, i.etag, None) for i in page.objects
            )
            prefixes.extend(self._location(p).rstrip("/") for p in page.prefixes)
        return ListResult(objects, prefixes)

    async def _sign(self, method: str, path: str, expires_in: timedelta) -> str:
        from botocore.exceptions import BotoCoreError

        try:
            client = await self._presigner()
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


async def _to_eof(path: str, response: aiohttp.ClientResponse, chunk_size: int) -> AsyncGenerator[bytes, None]:
    try:
        while True:
            try:
                block = await response.content.read(chunk_size)
            except (aiohttp.ClientError, TimeoutError, OSError) as e:
                raise TransportError(
                    f"get_stream {path!r}: connection lost ({type(e).__name__})", path=path, provider="s3"
                ) from e
            if not block:
                return
            yield block
    finally:
        response.release()


async def _window(blocks: AsyncGenerator[bytes, None], start: int, end: int) -> AsyncIterator[bytes]:
    """Bytes ``[start, end)`` of a whole body (a server that ignored the range)."""
    position = 0
    try:
        async for block in blocks:
            lo, hi = max(start - position, 0), min(end - position, len(block))
            position += len(block)
            if lo < hi:
                yield block[lo:hi]
            if position >= end:
                return
    finally:
        await blocks.aclose()


def _etag_from_body(body: bytes) -> str | None:
    """The ETag of a CompleteMultipartUpload answer (it is in the XML, not the headers)."""
    if not body:
        return None
    try:
        return parse_complete(body)
    except ElementTree.ParseError:
        return None
