"""AzureStore: Azure Blob Storage (and Azurite) as plain REST requests on aiohttp.

Every request -- put, get, head, delete, get_stream, staged blocks, copy, tags, List Blobs,
Blob Batch deletes and the user-delegation key -- is sent by :meth:`AzureStore._open_request`,
authorized by :mod:`._azure_auth` (Shared Key, SAS or bearer token), so the store's
``Timeouts``, ``RetryConfig`` and error mapping apply to all of them. (azure-storage-blob's
pipeline also costs 1.1-1.7 ms of client CPU per call against 0.2-0.3 ms for a plain signed
request, measured in ``bench/bench_azure.py``.) azure-storage-blob is used only to compute SAS
query strings for ``sign``: a pure function, no I/O.

Every failure is translated in :meth:`AzureStore._map_errors` / :meth:`AzureStore._error`, the
one place that knows Azure's statuses and error codes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit
from xml.sax.saxutils import escape

import aiohttp
from yarl import URL

from .._config import RetryConfig, Timeouts, network_options, retry_or_transport_error
from .._ranges import ByteRange, coalesce, slice_spans
from .._store import BaseStore, GetOptions, PutOptions
from .._stream import resuming_body
from .._types import Attributes, Capabilities, GetResult, ListResult, ObjectMeta, PutResult
from ..errors import (
    AlreadyExistsError,
    InvalidArgumentError,
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
from ..preconditions import PutMode, UpdateVersion, http_get_headers, http_put_headers, quote_etag
from ._azure_auth import AzureAuth, AzureSettings, resolve_settings
from ._http.errors import TRANSPORT_ERRORS
from ._http.headers import http_date

__all__ = ["AzureStore"]

MIB = 1024 * 1024
_API_VERSION = "2025-01-05"
_LIST_FROM_VERSION = "2026-02-06"  # the first API version with List Blobs' startFrom
_DEFAULT_PART = 8 * MIB
_MIN_PART = 1 * MIB  # Azure has no minimum block size; this keeps block counts sane
_MAX_BLOCKS = 50_000
_DEFAULT_CONCURRENCY = 4
_BATCH = 256  # Blob Batch allows at most 256 sub-requests
_METADATA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_ATTR_HEADERS = {
    "content_type": "x-ms-blob-content-type",
    "content_disposition": "x-ms-blob-content-disposition",
    "content_encoding": "x-ms-blob-content-encoding",
    "content_language": "x-ms-blob-content-language",
    "cache_control": "x-ms-blob-cache-control",
}
_RESPONSE_ATTRS = {
    "content_type": "Content-Type",
    "content_disposition": "Content-Disposition",
    "content_encoding": "Content-Encoding",
    "content_language": "Content-Language",
    "cache_control": "Cache-Control",
}
_AUTH_CODES = frozenset(
    ("AuthenticationFailed", "InvalidAuthenticationInfo", "NoAuthenticationInformation", "ExpiredAuthenticationToken")
)
_SIGN_PERMISSIONS = {"GET": "r", "HEAD": "r", "PUT": "cw", "DELETE": "d"}


@lru_cache(maxsize=1024)
def _listing_time(value: str) -> datetime | None:
    # Cached: the blobs of a page mostly share a few Last-Modified seconds.
    try:
        return parsedate_to_datetime(value).astimezone(UTC)
    except (TypeError, ValueError):
        return None


def _xml_name(element: ET.Element | None) -> str | None:
    """A blob or prefix name from a listing (``Encoded="true"``: percent-encoded UTF-8)."""
    if element is None or element.text is None:
        return None
    return unquote(element.text, errors="strict") if element.get("Encoded") == "true" else element.text


def _parse_list_page(body: bytes) -> tuple[list[tuple[str, int, datetime, str | None]], list[str], str | None]:
    """A List Blobs answer: ``(name, size, last_modified, etag)`` per blob, prefixes, NextMarker.

    Raises:
        ObjectStoreError: the answer is not a listing, or a blob lacks its name, size or date.
    """
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        raise ObjectStoreError("list: the listing answer is not valid XML", provider="azure") from e
    blobs: list[tuple[str, int, datetime, str | None]] = []
    for blob in root.iterfind("Blobs/Blob"):
        name = _xml_name(blob.find("Name"))
        size = blob.findtext("Properties/Content-Length")
        modified = _listing_time(blob.findtext("Properties/Last-Modified") or "")
        if name is None or size is None or not size.isdigit() or modified is None:
            raise ObjectStoreError(
                "list: a blob in the listing lacks a valid Name, Content-Length or Last-Modified", provider="azure"
            )
        etag = blob.findtext("Properties/Etag")
        blobs.append((name, int(size), modified, quote_etag(etag) if etag else None))  # listings: unquoted
    prefixes = [n for n in (_xml_name(p.find("Name")) for p in root.iterfind("Blobs/BlobPrefix")) if n is not None]
    return blobs, prefixes, root.findtext("NextMarker") or None


def _batch_statuses(content_type: str, body: bytes, count: int) -> list[tuple[int, str]]:
    """Per sub-request ``(status, x-ms-error-code)`` of a Blob Batch answer, by Content-ID.

    Raises:
        ObjectStoreError: the answer is not multipart or does not answer every sub-request (the
            caller then deletes one by one).
    """
    found = re.search(r'boundary="?([^";,\s]+)"?', content_type)
    if found is None:
        raise ObjectStoreError("delete_many: the batch answer is not multipart/mixed", provider="azure")
    delimiter = b"--" + found.group(1).encode()
    results: dict[int, tuple[int, str]] = {}
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break  # the closing delimiter
        # A part: MIME headers, a blank line, then the sub-response (status line, headers, body).
        mime, _, http = part.lstrip(b"\r\n").partition(b"\r\n\r\n")
        mime_headers = _header_lines(mime)
        status_line, _, rest = http.partition(b"\r\n")
        fields = status_line.split()
        content_id = mime_headers.get("content-id", "")
        if len(fields) < 2 or not fields[1].isdigit() or not content_id.isdigit():
            raise ObjectStoreError("delete_many: a malformed part in the batch answer", provider="azure")
        sub_headers = _header_lines(rest.partition(b"\r\n\r\n")[0])
        results[int(content_id)] = (int(fields[1]), sub_headers.get("x-ms-error-code", ""))
    if sorted(results) != list(range(count)):
        raise ObjectStoreError("delete_many: the batch answer does not match the request", provider="azure")
    return [results[i] for i in range(count)]


def _delegation_key(answer: bytes, path: str) -> Any:
    """The ``UserDelegationKey`` that ``generate_blob_sas`` takes, from the service's XML answer."""
    from azure.storage.blob import UserDelegationKey

    try:
        root = ET.fromstring(answer)
    except ET.ParseError:
        root = None
    if root is None or not root.findtext("Value"):
        raise ObjectStoreError("sign: the user-delegation key answer is malformed", path=path, provider="azure")
    key = UserDelegationKey()  # type: ignore[no-untyped-call]
    key.signed_oid = root.findtext("SignedOid")
    key.signed_tid = root.findtext("SignedTid")
    key.signed_delegated_user_tid = root.findtext("SignedDelegatedUserTid")
    key.signed_start = root.findtext("SignedStart")
    key.signed_expiry = root.findtext("SignedExpiry")
    key.signed_service = root.findtext("SignedService")
    key.signed_version = root.findtext("SignedVersion")
    key.value = root.findtext("Value")
    return key


def _header_lines(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.split(b"\r\n"):
        name, sep, value = line.partition(b":")
        if sep:
            headers[name.strip().decode("latin-1").lower()] = value.strip().decode("latin-1")
    return headers


def _check_metadata(metadata: Mapping[str, str], path: str) -> None:
    """Azure keeps metadata as HTTP headers: names must be C# identifiers, values ASCII."""
    for name, value in metadata.items():
        if not _METADATA_NAME.match(name):
            raise InvalidArgumentError(
                f"Azure metadata names must be identifiers (letters, digits, '_'), got {name!r}",
                path=path,
                provider="azure",
            )
        if not value.isascii() or any(c in value for c in "\r\n"):
            raise InvalidArgumentError(
                f"Azure metadata values must be single-line ASCII (key {name!r})", path=path, provider="azure"
            )


class HttpStatus(Exception):
    """A non-success answer of a raw request (status, ``x-ms-error-code``), mapped by ``_map_errors``."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(status, code)
        self.status = status
        self.code = code


def _credential_error(e: Exception, path: str | None, operation: str) -> ObjectStoreError | None:
    """An azure-identity credential's failure (raised while fetching a bearer token), mapped."""
    if not type(e).__module__.startswith("azure."):
        return None
    from azure.core import exceptions as ax  # imported only on this failure path

    if isinstance(e, ax.ClientAuthenticationError):
        return UnauthenticatedError(
            f"{operation}: no usable Azure credential ({type(e).__name__})", path=path, provider="azure"
        )
    if isinstance(e, (ax.ServiceRequestError, ax.ServiceResponseError)):
        return TransportError(
            f"{operation}: network failure talking to Azure ({type(e).__name__})",
            path=path,
            provider="azure",
            retryable=True,
        )
    if isinstance(e, ax.AzureError):
        return ObjectStoreError(f"{operation} failed: {type(e).__name__}", path=path, provider="azure")
    return None


class AzureStore(KeyPrefix, BaseStore):
    """A store on an Azure Blob Storage container (optionally under a name prefix).

    Args:
        account: the storage account (default: ``AZURE_STORAGE_ACCOUNT`` or the connection string).
        container: the container.
        access_key: the account key (default: ``AZURE_STORAGE_KEY``).
        sas_token: a SAS token (default: ``AZURE_STORAGE_SAS_TOKEN``).
        credential: an azure-identity async token credential. With no key, SAS or credential,
            ``azure.identity.aio.DefaultAzureCredential`` is used.
        connection_string: a storage connection string (default:
            ``AZURE_STORAGE_CONNECTION_STRING``); explicit options win over it.
        endpoint: the blob service URL (default ``https://<account>.blob.core.windows.net``;
            Azurite: ``http://127.0.0.1:10000/devstoreaccount1``).
        prefix: a name prefix every location is relative to.
        retry: retry policy for transient failures.
        timeouts: connect / read-stall / total timeouts.

    Example::

        async with osx.AzureStore(account="acct", container="data", access_key=key) as store:
            await store.put("a.txt", b"hi")
    """

    provider = "azure"

    def __init__(
        self,
        *,
        account: str | None = None,
        container: str,
        access_key: str | None = None,
        sas_token: str | None = None,
        credential: Any = None,
        connection_string: str | None = None,
        endpoint: str | None = None,
        prefix: str | None = None,
        retry: RetryConfig | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(container, str) or not container:
            raise InvalidConfigError("option 'container' must be a non-empty str", provider="azure")
        self._retry, self._timeouts = network_options(retry, timeouts, "azure")
        self._settings: AzureSettings = resolve_settings(
            account=account,
            access_key=access_key,
            sas_token=sas_token,
            credential=credential,
            endpoint=endpoint,
            connection_string=connection_string,
        )
        self._container = container
        self._prefix = validate_prefix(prefix, provider="azure")
        base = self._settings.endpoint
        self._base_url = f"{base}/{quote(container, safe='')}"
        split = urlsplit(self._base_url)
        self._origin = f"{split.scheme}://{split.netloc}"
        self._base_path = split.path  # the encoded path Shared Key signs
        self._service_path = urlsplit(base).path + "/"
        self._capabilities = Capabilities(
            put_create=True,
            put_update_etag=True,
            put_update_version=False,
            copy_if_not_exists=True,
            delete_if_match=True,
            tags=True,
            versions=False,  # no version reads implemented (and Azurite has no versioning)
            sign=self._settings.kind != "sas",  # a SAS cannot mint new SAS URLs
            conditional_get=True,
        )
        self._session: aiohttp.ClientSession | None = None
        self._auth: AzureAuth | None = None
        self._owned_credential: Any = None
        self._delegation: tuple[Any, datetime] | None = None

    @property
    def capabilities(self) -> Capabilities:
        """Create/CAS by ETag, atomic copy-if-not-exists, conditional delete, tags, SAS signing."""
        return self._capabilities

    def _repr_fields(self) -> dict[str, object]:
        fields: dict[str, object] = {"account": self._settings.account, "container": self._container}
        if self._prefix:
            fields["prefix"] = self._prefix
        fields["endpoint"] = self._settings.endpoint
        fields["auth"] = self._settings.kind
        return fields

    # ------------------------------------------------------------------------------ lifecycle

    async def _open(self) -> None:
        settings = self._settings
        credential = settings.credential
        if settings.kind == "credential" and credential is None:
            try:
                from azure.identity.aio import DefaultAzureCredential
            except ImportError as e:  # pragma: no cover - depends on the install
                raise InvalidConfigError(
                    "no access_key, sas_token or credential given, and azure-identity is not installed",
                    provider="azure",
                ) from e
            credential = self._owned_credential = DefaultAzureCredential()
        t = self._timeouts
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=t.total, connect=t.connect, sock_read=t.read),
            auto_decompress=False,  # a Content-Encoding: gzip object is returned as stored
            connector=aiohttp.TCPConnector(limit=100, ttl_dns_cache=300),
        )
        self._auth = AzureAuth(settings, credential)

    async def _close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        cred, self._owned_credential = self._owned_credential, None
        if cred is not None:
            with contextlib.suppress(Exception):
                await cred.close()

    # ------------------------------------------------------------------------------ errors

    @contextlib.contextmanager
    def _map_errors(self, path: str | None, operation: str, mode: PutMode | None = None) -> Iterator[None]:
        """Translate raw-request, aiohttp and token-credential failures (the one place).

        Messages are built here from the status and error code only: exception texts and
        request URLs are never used, so no SAS signature or token can leak.
        """
        try:
            yield
        except ObjectStoreError:
            raise
        except HttpStatus as e:
            raise self._error(path, operation, mode, e.status, e.code) from e
        except TRANSPORT_ERRORS as e:
            raise TransportError(
                f"{operation}: network failure talking to Azure ({type(e).__name__})",
                path=path,
                provider="azure",
                retryable=True,
            ) from e
        except Exception as e:
            mapped = _credential_error(e, path, operation)
            if mapped is None:
                raise
            raise mapped from e

    def _error(
        self, path: str | None, operation: str, mode: PutMode | None, status: int | None, code: str
    ) -> ObjectStoreError:
        """The objectstorex error for an Azure status and ``x-ms-error-code``, most specific first."""
        where = f"{operation} {path!r}" if path else operation
        kw: dict[str, Any] = {"path": path, "provider": "azure", "status": status}
        detail = f" ({code})" if code else ""
        if mode == "create" and (status == 412 or (status == 409 and code in ("BlobAlreadyExists", ""))):
            # If-None-Match: * is answered 409 BlobAlreadyExists by Azure, 412 by some paths.
            return AlreadyExistsError(f"{where}: the object already exists", **kw)
        if isinstance(mode, UpdateVersion) and status in (404, 412):
            return PreconditionError(f"{where}: the object changed or is gone", **kw)
        if status == 304:
            return NotModifiedError(f"{where}: not modified", **kw)
        if status == 412:
            return PreconditionError(f"{where}: precondition failed{detail}", **kw)
        if status == 416 or code == "InvalidRange":
            return InvalidRangeError(f"{where}: range not satisfiable", **kw)
        if status == 404:
            if code == "ContainerNotFound":
                return NotFoundError(f"{where}: container {self._container!r} does not exist", **kw)
            return NotFoundError(f"{where}: not found", **kw)
        if status == 409 and code == "BlobAlreadyExists":
            return AlreadyExistsError(f"{where}: the object already exists", **kw)
        if status == 401 or code in _AUTH_CODES:
            return UnauthenticatedError(f"{where}: credentials refused{detail}", **kw)
        if status == 403:
            return PermissionDeniedError(f"{where}: access denied{detail}", **kw)
        if status in (405, 501) or code in ("FeatureNotSupported", "NotImplemented"):
            return NotSupportedError(f"{where}: not supported by this endpoint{detail}", **kw)
        retryable = status is None or status >= 500 or status in (408, 429) or code in ("ServerBusy",)
        return ObjectStoreError(f"{where} failed: HTTP {status}{detail}", retryable=retryable, **kw)

    async def _retrying(self, path: str | None, attempt: Any) -> Any:
        """Run ``attempt`` (already error-mapped) with the retry policy; TransportError after it."""
        return await retry_or_transport_error(attempt, self._retry, path=path, provider="azure")

    # ------------------------------------------------------------------------------ raw requests

    def _blob_path(self, key: str) -> str:
        return f"{self._base_path}/{quote(key, safe='/~')}"

    def _blob_url(self, key: str) -> str:
        return f"{self._base_url}/{quote(key, safe='/~')}"

    async def _open_request(
        self,
        method: str,
        key: str | None,
        headers: dict[str, str],
        *,
        query: dict[str, str] | None = None,
        data: bytes | memoryview | None = None,
        resource: str | None = None,
        version: str = _API_VERSION,
    ) -> aiohttp.ClientResponse:
        """Send one signed request; return the response on 2xx, raise ``HttpStatus`` otherwise.

        ``key`` names a blob (``None``: the container itself); ``resource`` overrides the
        encoded URL path (the service-level user-delegation key).
        """
        session, auth = self._session, self._auth
        if session is None or auth is None:
            raise ObjectStoreError("the azure store is closed", provider="azure")
        if resource is None:
            resource = self._blob_path(key) if key is not None else self._base_path
        headers["x-ms-version"] = version
        if method == "PUT":
            # aiohttp sends this on every PUT, body or not; it must be signed as sent.
            headers.setdefault("content-type", "application/octet-stream")
        length = len(data) if data is not None else 0
        await auth.headers(method, resource, query, headers, length)
        target = self._origin + resource
        q = urlencode(query, quote_via=quote, safe="") if query else ""
        sas = auth.sas_query
        if sas:
            q = f"{q}&{sas}" if q else sas
        if q:
            target = f"{target}?{q}"
        resp = await session.request(method, URL(target, encoded=True), headers=headers, data=data)
        if resp.status >= 300:
            code = resp.headers.get("x-ms-error-code", "")
            if not code and method != "HEAD":
                body = await resp.read()
                found = re.search(rb"<Code>([^<]+)</Code>", body)
                code = found.group(1).decode(errors="replace") if found else ""
            resp.release()
            raise HttpStatus(resp.status, code)
        return resp

    async def _call(
        self,
        path: str | None,
        operation: str,
        method: str,
        key: str | None,
        headers: dict[str, str] | None = None,
        *,
        mode: PutMode | None = None,
        query: dict[str, str] | None = None,
        data: bytes | memoryview | None = None,
        read: bool = False,
        resource: str | None = None,
        version: str = _API_VERSION,
    ) -> tuple[Any, bytes]:
        """One raw request with retries and error mapping; returns (headers, body if ``read``)."""

        async def attempt() -> tuple[Any, bytes]:
            with self._map_errors(path, operation, mode):
                resp = await self._open_request(
                    method, key, dict(headers or {}), query=query, data=data, resource=resource, version=version
                )
                try:
                    body = await resp.read() if read else b""
                finally:
                    resp.release()
                return resp.headers, body

        result: tuple[Any, bytes] = await self._retrying(path, attempt)
        return result

    # ------------------------------------------------------------------------------ writes

    def _write_headers(self, opts: PutOptions, path: str, *, for_block_list: bool) -> dict[str, str]:
        headers: dict[str, str] = {}
        attrs = opts.attributes
        if not attrs.is_empty():
            for name, header in _ATTR_HEADERS.items():
                value = getattr(attrs, name)
                if value is not None:
                    headers[header] = value
            if attrs.metadata:
                _check_metadata(attrs.metadata, path)
                for k, v in attrs.metadata.items():
                    headers[f"x-ms-meta-{k}"] = v
        if opts.tags:
            headers["x-ms-tags"] = urlencode(opts.tags, quote_via=quote, safe="")
        for k, v in http_put_headers(opts.mode).items():
            headers[k.lower()] = v
        if not for_block_list:
            headers["x-ms-blob-type"] = "BlockBlob"
            # The request's Content-Type sets the blob's unless x-ms-blob-content-type does.
            headers["content-type"] = headers.pop("x-ms-blob-content-type", "application/octet-stream")
        return headers

    async def _put(self, path: str, data: bytes, opts: PutOptions) -> PutResult:
        headers = self._write_headers(opts, path, for_block_list=False)
        resp_headers, _ = await self._call(path, "put", "PUT", self._key(path), headers, mode=opts.mode, data=data)
        return PutResult(resp_headers.get("ETag"), None)

    async def _put_stream(
        self,
        path: str,
        chunks: AsyncIterator[bytes],
        opts: PutOptions,
        part_size: int | None,
        max_concurrency: int | None,
    ) -> PutResult:
        size = max(part_size or _DEFAULT_PART, _MIN_PART)
        concurrency = max_concurrency or _DEFAULT_CONCURRENCY
        headers = self._write_headers(opts, path, for_block_list=True)  # validate before I/O
        pieces: list[bytes] = []
        pending = 0
        async for chunk in chunks:
            pieces.append(chunk)
            pending += len(chunk)
            if pending > size:
                break
        else:
            # Everything fits one request: a single Put Blob is atomic and cheaper.
            return await self._put(path, b"".join(pieces), opts)
        return await self._put_blocks(path, pieces, chunks, opts, headers, size, concurrency)

    async def _put_blocks(
        self,
        path: str,
        pieces: list[bytes],
        chunks: AsyncIterator[bytes],
        opts: PutOptions,
        headers: dict[str, str],
        size: int,
        concurrency: int,
    ) -> PutResult:
        """Stage blocks concurrently, then commit them with the put mode's condition.

        Staged blocks stay uncommitted (invisible) until Put Block List; if anything fails
        nothing is committed, and Azure discards uncommitted blocks after a week (there is
        no call to discard them earlier without creating a blob). The caller's chunks are
        joined once per batch and blocks are sent as zero-copy views of the join.
        """
        key = self._key(path)
        upload = uuid.uuid4().hex[:16]
        block_ids: list[str] = []
        slots = asyncio.Semaphore(concurrency)
        tasks: set[asyncio.Task[None]] = set()

        async def stage(block_id: str, body: memoryview) -> None:
            try:
                await self._call(
                    path,
                    "put_stream",
                    "PUT",
                    key,
                    {"content-type": "application/octet-stream"},
                    query={"comp": "block", "blockid": block_id},
                    data=body,
                )
            finally:
                slots.release()

        async def submit(body: memoryview) -> None:
            if len(block_ids) >= _MAX_BLOCKS:
                raise InvalidArgumentError(
                    f"the stream needs more than {_MAX_BLOCKS} blocks: raise part_size", path=path, provider="azure"
                )
            await slots.acquire()  # memory stays near part_size * max_concurrency
            for t in [t for t in tasks if t.done()]:
                tasks.discard(t)
                t.result()  # surface a failed block now
            block_id = base64.b64encode(f"{upload}-{len(block_ids):08d}".encode()).decode()
            block_ids.append(block_id)
            tasks.add(asyncio.create_task(stage(block_id, body)))

        async def flush(final: bool) -> list[bytes]:
            """Send every whole block of ``pieces`` (and the rest when ``final``); keep the rest."""
            joined = b"".join(pieces)
            whole = len(joined) if final else len(joined) - len(joined) % size
            view = memoryview(joined)
            for i in range(0, whole, size):
                await submit(view[i : i + size])
            return [joined[whole:]] if whole < len(joined) else []

        try:
            pieces = await flush(final=False)  # the first blocks go out before reading on
            pending = len(pieces[0]) if pieces else 0
            async for chunk in chunks:
                pieces.append(chunk)
                pending += len(chunk)
                if pending >= size:
                    pieces = await flush(final=False)
                    pending = len(pieces[0]) if pieces else 0
            await flush(final=True)
            await asyncio.gather(*tasks)
            body = (
                '<?xml version="1.0" encoding="utf-8"?><BlockList>'
                + "".join(f"<Latest>{escape(b)}</Latest>" for b in block_ids)
                + "</BlockList>"
            ).encode()
            headers["content-type"] = "application/xml"
            resp_headers, _ = await self._call(
                path, "put_stream", "PUT", key, headers, mode=opts.mode, query={"comp": "blocklist"}, data=body
            )
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return PutResult(resp_headers.get("ETag"), None)

    async def _delete(self, path: str, cond: UpdateVersion | None) -> None:
        headers = {"x-ms-delete-snapshots": "include"}
        if cond is None:
            try:
                await self._call(path, "delete", "DELETE", self._key(path), headers)
            except NotFoundError:
                pass  # idempotent: Azure answers 404 for a missing blob
            return
        assert cond.etag is not None  # BaseStore refuses version-only conditions (no versions)
        headers["if-match"] = quote_etag(cond.etag)
        await self._call(path, "delete", "DELETE", self._key(path), headers, mode=cond)

    async def _delete_many(self, paths: list[str]) -> dict[str, ObjectStoreError]:
        errors: dict[str, ObjectStoreError] = {}
        for start in range(0, len(paths), _BATCH):
            batch = paths[start : start + _BATCH]
            try:
                statuses = await self._delete_batch(batch)
            except ObjectStoreError:
                # The batch as a whole failed (no batch endpoint, a SAS the service will not
                # take for batches -- Azurite answers 500 --, a transient failure that outlived
                # the retries): every path is still tried, one request each.
                errors.update(await super()._delete_many(batch))
                continue
            for p, (status, code) in zip(batch, statuses, strict=True):
                if status < 300 or status == 404:
                    continue  # missing blobs are not errors
                errors[p] = self._error(p, "delete", None, status, code)
        return errors

    async def _delete_batch(self, batch: list[str]) -> list[tuple[int, str]]:
        """One Blob Batch request deleting ``batch``; ``(status, error code)`` per path."""
        resources = [self._blob_path(self._key(p)) for p in batch]

        async def attempt() -> list[tuple[int, str]]:
            with self._map_errors(None, "delete_many"):
                boundary = f"batch_{uuid.uuid4()}"
                body = await self._batch_body(resources, boundary)  # signed anew on each attempt
                resp = await self._open_request(
                    "POST",
                    None,
                    {"content-type": f"multipart/mixed; boundary={boundary}"},
                    query={"restype": "container", "comp": "batch"},
                    data=body,
                )
                try:
                    answer = await resp.read()
                finally:
                    resp.release()
                return _batch_statuses(resp.headers.get("Content-Type", ""), answer, len(batch))

        result: list[tuple[int, str]] = await self._retrying(None, attempt)
        return result

    async def _batch_body(self, resources: list[str], boundary: str) -> bytes:
        """The multipart/mixed body of a Blob Batch: one signed ``DELETE`` per blob.

        Each sub-request is authorized on its own (Shared Key signs it, a SAS rides in its
        query, a bearer token in its header), Content-ID numbering the answers.
        """
        auth = self._auth
        if auth is None:
            raise ObjectStoreError("the azure store is closed", provider="azure")
        sas = auth.sas_query
        lines: list[str] = []
        for i, resource in enumerate(resources):
            headers = {"x-ms-delete-snapshots": "include"}
            await auth.headers("DELETE", resource, None, headers, 0)
            target = f"{resource}?{sas}" if sas else resource
            lines += [
                f"--{boundary}",
                "Content-Type: application/http",
                "Content-Transfer-Encoding: binary",
                f"Content-ID: {i}",
                "",
                f"DELETE {target} HTTP/1.1",
                *(f"{k}: {v}" for k, v in headers.items()),
                "Content-Length: 0",
                "",
                "",
            ]
        lines += [f"--{boundary}--", ""]
        return "\r\n".join(lines).encode()

    async def _copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        # Async Copy Blob keeps content settings and metadata but not index tags: read the
        # source's tags (this also reports a missing source) and set them on the copy.
        tags = await self._get_tags(src)
        source = self._blob_url(self._key(src))
        sas = self._auth.sas_query if self._auth else None
        if sas:
            source = f"{source}?{sas}"
        headers: dict[str, str] = {"x-ms-copy-source": source}
        if tags:
            headers["x-ms-tags"] = urlencode(tags, quote_via=quote, safe="")
        operation = "copy" if overwrite else "copy_if_not_exists"
        mode: PutMode | None = None
        if not overwrite:
            headers["if-none-match"] = "*"  # atomic: the service refuses an existing destination
            mode = "create"
        try:
            resp_headers, _ = await self._call(dst, operation, "PUT", self._key(dst), headers, mode=mode)
        except NotFoundError as e:
            raise NotFoundError(f"{operation} {src!r}: source not found", path=src, provider="azure", status=404) from e
        status = resp_headers.get("x-ms-copy-status", "success")
        if status != "success":
            await self._await_copy(dst, operation, status)

    async def _await_copy(self, dst: str, operation: str, status: str) -> None:
        """Poll a pending copy until the service reports it finished (Azurite copies at once)."""
        delay = 0.05
        while status == "pending":
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
            resp_headers, _ = await self._call(dst, operation, "HEAD", self._key(dst))
            status = resp_headers.get("x-ms-copy-status", "success")
        if status != "success":
            raise ObjectStoreError(f"{operation} {dst!r}: the copy ended as {status!r}", path=dst, provider="azure")

    # ------------------------------------------------------------------------------ reads

    def _meta(self, path: str, headers: Any) -> ObjectMeta:
        size = int(headers.get("Content-Length", 0))
        content_range = headers.get("Content-Range")
        if content_range and "/" in content_range:
            total = content_range.rsplit("/", 1)[1]
            if total.isdigit():
                size = int(total)
        modified = http_date(headers, "Last-Modified", provider="azure", path=path)
        return ObjectMeta(path, size, modified, headers.get("ETag"), None)

    @staticmethod
    def _attributes(headers: Any) -> Attributes:
        metadata = {k[10:]: v for k, v in headers.items() if k[:10].lower() == "x-ms-meta-"}
        values = {name: headers.get(h) for name, h in _RESPONSE_ATTRS.items()}
        return Attributes(**values, metadata=metadata)

    async def _plan_range(self, path: str, opts: GetOptions) -> tuple[str | None, str | None]:
        """The ``x-ms-range`` value and the ETag to pin to (suffix ranges need the size first).

        Azure has no suffix ranges (``bytes=-n``): the size comes from a HEAD that also checks
        the caller's conditions, and the ranged read is pinned to that HEAD's ETag.
        """
        r = opts.range
        if r is None:
            return None, None
        if r.suffix is None:
            return (f"bytes={r.start}-" if r.end is None else f"bytes={r.start}-{r.end - 1}"), None
        headers: dict[str, str] = {}
        headers.update(http_get_headers(opts.conditions))
        resp_headers, _ = await self._call(path, "get", "HEAD", self._key(path), headers)
        meta = self._meta(path, resp_headers)
        start, end = r.resolve(meta.size, path=path, provider="azure")
        return f"bytes={start}-{end - 1}", meta.etag

    async def _open_read(self, path: str, opts: GetOptions, operation: str) -> aiohttp.ClientResponse:
        """Send the GET (conditions, range) and return the open response."""
        cond = opts.conditions
        for _ in range(3):
            x_range, pinned = await self._plan_range(path, opts)
            headers: dict[str, str] = {}
            headers.update(http_get_headers(cond))
            if x_range is not None:
                headers["x-ms-range"] = x_range
            if pinned is not None:
                headers["if-match"] = pinned

            async def attempt(headers: dict[str, str] = headers) -> aiohttp.ClientResponse:
                with self._map_errors(path, operation):
                    return await self._open_request("GET", self._key(path), headers)

            try:
                resp: aiohttp.ClientResponse = await self._retrying(path, attempt)
            except PreconditionError:
                if pinned is None or cond.if_match is not None:
                    raise
                continue  # the object changed between the HEAD and the read: plan again
            if cond.if_none_match is not None and cond.if_none_match.strip() == "*":
                resp.release()
                raise NotModifiedError(
                    f"{operation} {path!r}: if_none_match='*' and the object exists", path=path, provider="azure"
                )
            r = opts.range
            if r is not None:
                size = self._meta(path, resp.headers).size
                if size == 0 or (r.suffix is None and r.start >= size):
                    # Azure answers 416 here, but not every server does (Azurite serves 200).
                    resp.release()
                    raise InvalidRangeError(
                        f"{operation} {path!r}: range {r} is not satisfiable on {size} bytes",
                        path=path,
                        provider="azure",
                    )
            return resp
        raise PreconditionError(f"{operation} {path!r}: the object keeps changing", path=path, provider="azure")

    async def _get(self, path: str, opts: GetOptions) -> GetResult:
        resp = await self._open_read(path, opts, "get")
        try:
            with self._map_errors(path, "get"):
                data = await resp.read()
        finally:
            resp.release()
        meta = self._meta(path, resp.headers)
        if opts.range is not None and resp.status == 200:
            # A server that ignored the range: apply it here.
            start, end = opts.range.resolve(len(data), path=path, provider="azure")
            data = data[start:end]
        return GetResult(data, meta, self._attributes(resp.headers))

    async def _open_stream(
        self, path: str, opts: GetOptions, chunk_size: int
    ) -> tuple[ObjectMeta, AsyncIterator[bytes]]:
        resp = await self._open_read(path, opts, "get_stream")
        meta = self._meta(path, resp.headers)
        if opts.range is not None and resp.status == 200:
            with self._map_errors(path, "get_stream"):
                data = await resp.read()
            resp.release()
            start, end = opts.range.resolve(len(data), path=path, provider="azure")
            data = data[start:end]

            async def once() -> AsyncIterator[bytes]:
                for i in range(0, len(data), chunk_size):
                    yield data[i : i + chunk_size]

            return meta, once()
        if opts.range is not None:
            content_range = resp.headers.get("Content-Range", "")
            span = content_range.split(" ", 1)[-1].split("/", 1)[0]
            first, _, last = span.partition("-")
            start, end = int(first), int(last) + 1
        else:
            start, end = 0, meta.size
        return meta, self._stream_body(path, resp, meta, start, end, chunk_size)

    def _stream_body(
        self, path: str, resp: aiohttp.ClientResponse, meta: ObjectMeta, start: int, end: int, chunk_size: int
    ) -> AsyncIterator[bytes]:
        """Yield ``[start, end)``, resuming a dropped read pinned to the opening ETag.

        The resumed read carries ``If-Match``: a change raises PreconditionError instead of
        splicing two versions.
        """
        key = self._key(path)

        async def read(resp: aiohttp.ClientResponse, n: int) -> bytes:
            with self._map_errors(path, "get_stream"):
                return await resp.content.readexactly(n)

        async def reopen(position: int) -> aiohttp.ClientResponse:
            assert meta.etag is not None
            headers = {"x-ms-range": f"bytes={position}-{end - 1}", "if-match": meta.etag}

            async def attempt() -> aiohttp.ClientResponse:
                with self._map_errors(path, "get_stream"):
                    return await self._open_request("GET", key, dict(headers))

            resp: aiohttp.ClientResponse = await self._retrying(path, attempt)
            return resp

        return resuming_body(
            resp,
            start,
            end,
            chunk_size,
            read=read,
            reopen=reopen if meta.etag is not None else None,
            max_resumes=self._retry.max_retries,
        )

    async def _get_ranges(self, path: str, ranges: list[ByteRange]) -> list[bytes]:
        """One HEAD, then the coalesced spans fetched concurrently, all pinned to its ETag."""
        resp_headers, _ = await self._call(path, "get_ranges", "HEAD", self._key(path))
        meta = self._meta(path, resp_headers)
        resolved = [r.resolve(meta.size, path=path, provider="azure") for r in ranges]
        spans = coalesce(resolved)
        pin = {"if-match": meta.etag} if meta.etag else {}

        async def fetch(span: tuple[int, int]) -> bytes:
            _, body = await self._call(
                path,
                "get_ranges",
                "GET",
                self._key(path),
                {"x-ms-range": f"bytes={span[0]}-{span[1] - 1}", **pin},
                read=True,
            )
            return body

        blobs = await asyncio.gather(*(fetch(s) for s in spans))
        return slice_spans(resolved, spans, blobs)

    async def _head(self, path: str, version: str | None) -> ObjectMeta:
        resp_headers, _ = await self._call(path, "head", "HEAD", self._key(path))
        return self._meta(path, resp_headers)

    async def _get_tags(self, path: str) -> dict[str, str]:
        _, body = await self._call(path, "get_tags", "GET", self._key(path), query={"comp": "tags"}, read=True)
        tags: dict[str, str] = {}
        if body.strip():
            for tag in ET.fromstring(body).iter("Tag"):
                tags[tag.findtext("Key") or ""] = tag.findtext("Value") or ""
        return tags

    # ------------------------------------------------------------------------------ listing

    _page_size = 5000  # List Blobs' maximum (tests lower it to exercise NextMarker)

    async def _list_pages(
        self, prefix: str, *, delimiter: bool, start: str | None = None
    ) -> AsyncIterator[tuple[list[ObjectMeta], list[str]]]:
        """List Blobs page by page (following NextMarker): the objects and prefixes of each."""
        query = {"restype": "container", "comp": "list", "maxresults": str(self._page_size)}
        list_prefix = self._list_prefix(prefix)
        if list_prefix:
            query["prefix"] = list_prefix
        if delimiter:
            query["delimiter"] = "/"
        version = _API_VERSION
        if start is not None:
            query["startFrom"] = start  # inclusive on the service: the caller filters
            version = _LIST_FROM_VERSION
        while True:
            _, body = await self._call(
                prefix or None, "list", "GET", None, query=dict(query), read=True, version=version
            )
            blobs, prefixes, marker = _parse_list_page(body)
            location = self._location
            yield (
                [ObjectMeta(location(name), size, modified, etag, None) for name, size, modified, etag in blobs],
                [location(p).rstrip("/") for p in prefixes],
            )
            if marker is None:
                return
            query["marker"] = marker

    async def _list(self, prefix: str, offset: str | None) -> AsyncIterator[ObjectMeta]:
        start = self._key(offset) if offset is not None else None
        async for objects, _ in self._list_pages(prefix, delimiter=False, start=start):
            for meta in objects:
                # Also covers servers that ignore startFrom.
                if offset is None or meta.location > offset:
                    yield meta

    async def _list_with_delimiter(self, prefix: str) -> ListResult:
        objects: list[ObjectMeta] = []
        prefixes: dict[str, None] = {}
        async for page_objects, page_prefixes in self._list_pages(prefix, delimiter=True):
            objects.extend(page_objects)
            prefixes.update(dict.fromkeys(page_prefixes))  # reported once, even if on two pages
        return ListResult(objects, sorted(prefixes))

    # ------------------------------------------------------------------------------ signing

    async def _sign(self, method: str, path: str, expires_in: timedelta) -> str:
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        now = datetime.now(UTC)
        expiry = now + expires_in
        permission = BlobSasPermissions.from_string(_SIGN_PERMISSIONS[method])
        key = self._key(path)
        with self._map_errors(path, "sign"):
            if self._settings.kind == "key":
                assert self._settings.key is not None
                sas = generate_blob_sas(
                    self._settings.account,
                    self._container,
                    key,
                    account_key=base64.b64encode(self._settings.key).decode(),
                    permission=permission,
                    expiry=expiry,
                    start=now - timedelta(minutes=5),  # tolerate clock skew
                )
            else:
                delegation = await self._delegation_key(now, expiry, path)
                sas = generate_blob_sas(
                    self._settings.account,
                    self._container,
                    key,
                    user_delegation_key=delegation,
                    permission=permission,
                    expiry=expiry,
                    start=now - timedelta(minutes=5),
                )
        return f"{self._blob_url(key)}?{sas}"

    async def _delegation_key(self, now: datetime, expiry: datetime, path: str) -> Any:
        """A user-delegation key covering ``expiry`` (cached; the service allows up to 7 days)."""
        cached = self._delegation
        if cached is not None and cached[1] >= expiry:
            return cached[0]
        if expiry - now > timedelta(days=7):
            raise InvalidArgumentError("a user-delegation SAS lasts at most 7 days", path=path, provider="azure")
        until = min(now + timedelta(days=7), max(expiry, now + timedelta(hours=1)))
        stamp = "%Y-%m-%dT%H:%M:%SZ"
        body = (
            '<?xml version="1.0" encoding="utf-8"?><KeyInfo>'
            f"<Start>{(now - timedelta(minutes=5)).strftime(stamp)}</Start><Expiry>{until.strftime(stamp)}</Expiry>"
            "</KeyInfo>"
        ).encode()
        # Get User Delegation Key, sent like every other request (Timeouts, retries, errors).
        _, answer = await self._call(
            path,
            "sign",
            "POST",
            None,
            {"content-type": "application/xml"},
            query={"restype": "service", "comp": "userdelegationkey"},
            data=body,
            read=True,
            resource=self._service_path,
        )
        key = _delegation_key(answer, path)
        self._delegation = (key, until)
        return key
