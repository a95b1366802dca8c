"""GCSStore: Google Cloud Storage (and fake-gcs-server) on the JSON API, over aiohttp, with google-auth tokens.

google-auth provides what is hard to get right -- credentials (service-account keys, application
default credentials, token refresh) -- and the store sends the JSON API requests the contract
needs itself (conditional writes, generations, rewrite, batch delete with per-object errors):

* writes are multipart uploads (metadata and body in one request) carrying the put mode as
  ``ifGenerationMatch`` -- ``0`` for create, the generation for compare-and-swap;
  ``put_stream`` is a resumable session fed in chunks of a multiple of 256 KiB, with the same
  condition on the session, cancelled on error so nothing is committed;
* reads are media downloads (``alt=media``) whose headers carry the ETag, generation and
  attributes, so a read is one request;
* copies are ``rewriteTo`` calls, looping on ``rewriteToken``; ``delete_many`` uses the JSON
  batch endpoint (100 per batch) and falls back to single deletes where there is none.

Every failure is translated in :meth:`GCSStore._error`, the one place that knows GCS's statuses.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import os
import re
import uuid
import zlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from yarl import URL

from .._config import RetryConfig, Timeouts, network_options, retry_or_transport_error
from .._ranges import ByteRange, coalesce, http_range_header, slice_spans
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
from ..preconditions import (
    PutMode,
    UpdateVersion,
    check_get,
    gcs_write_params,
    http_get_headers,
    normalize_etag,
)
from ._gcs_auth import AccessTokens, GCSSettings, resolve_settings, signed_url
from ._http import TRANSPORT_ERRORS, HttpStatus, parse_http_date

__all__ = ["GCSStore"]

MIB = 1024 * 1024
_QUANTUM = 256 * 1024  # resumable chunks must be multiples of this
_DEFAULT_PART = 8 * MIB
_BATCH = 100  # the JSON batch endpoint takes at most 100 calls
_META_FIELDS = "name,size,updated,etag,generation,metageneration"
_MEDIA_HEADERS = {"Accept-Encoding": "gzip"}  # the stored bytes, never a transcoded form (never mutated)
_ATTR_FIELDS = {
    "content_type": "contentType",
    "content_disposition": "contentDisposition",
    "content_encoding": "contentEncoding",
    "content_language": "contentLanguage",
    "cache_control": "cacheControl",
}


def _reason(body: bytes) -> str:
    """The ``reason`` (or message) of a JSON API error body; never the raw body."""
    try:
        error = json.loads(body)["error"]
        errors = error.get("errors") or [{}]
        return str(errors[0].get("reason") or error.get("message") or "")[:100]
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        return ""


def _parse_rfc3339(value: object) -> datetime:
    if not isinstance(value, str) or not value:
        return datetime.now(UTC)
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return datetime.now(UTC)


def _object_resource(body: bytes) -> dict[str, Any] | None:
    """The object resource a finished upload answers with, or ``None`` when unreadable or incomplete."""
    try:
        item = json.loads(body)
    except ValueError:
        return None
    return item if isinstance(item, dict) and item.get("generation") and item.get("etag") else None


class GCSStore(KeyPrefix, BaseStore):
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

    Example::

        async with osx.GCSStore(bucket="data", service_account_key="key.json") as store:
            await store.put("a.txt", b"hi")
    """

    provider = "gcs"
    #: Objects per listing page (GCS's maximum is 1000); tests lower it to exercise paging.
    _page_size = 1000

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
    ) -> None:
        super().__init__()
        if not isinstance(bucket, str) or not bucket or "/" in bucket:
            raise InvalidConfigError("option 'bucket' must be a non-empty str without '/'", provider="gcs")
        self._retry, self._timeouts = network_options(retry, timeouts, "gcs")
        self._settings: GCSSettings = resolve_settings(
            service_account_key=service_account_key, endpoint=endpoint, anonymous=anonymous, project=project
        )
        self._bucket = bucket
        self._prefix = validate_prefix(prefix, provider="gcs")
        api = self._settings.endpoint
        b = quote(bucket, safe="")
        self._objects_url = f"{api}/storage/v1/b/{b}/o"
        self._upload_url = f"{api}/upload/storage/v1/b/{b}/o"
        self._batch_url = f"{api}/batch/storage/v1"
        self._batch_path = f"/storage/v1/b/{b}/o"
        self._capabilities = Capabilities(
            put_create=True,
            put_update_etag=True,  # resolved to (generation, metageneration), never unconditional
            put_update_version=True,
            copy_if_not_exists=True,
            delete_if_match=True,
            tags=False,  # GCS has no object tags
            versions=True,
            sign=self._settings.can_sign,
            conditional_get=True,
        )
        self._session: aiohttp.ClientSession | None = None
        self._tokens = AccessTokens(self._settings, (self._timeouts.connect, self._timeouts.read))
        self._batch_supported = True
        self._media_urls: dict[str, URL] = {}

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

    # ------------------------------------------------------------------------------ lifecycle

    async def _open(self) -> None:
        t = self._timeouts
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=t.total, connect=t.connect, sock_read=t.read),
            auto_decompress=False,  # a Content-Encoding: gzip object is returned as stored
            connector=aiohttp.TCPConnector(limit=100, ttl_dns_cache=300),
        )

    async def _close(self) -> None:
        session, self._session = self._session, None
        await self._tokens.close()
        if session is not None:
            await session.close()

    # ------------------------------------------------------------------------------ errors

    @contextlib.contextmanager
    def _map_errors(self, path: str | None, operation: str, mode: PutMode | None = None) -> Iterator[None]:
        """Translate raw-request and aiohttp failures (the one place); URLs are never quoted."""
        try:
            yield
        except ObjectStoreError:
            raise
        except HttpStatus as e:
            raise self._error(path, operation, mode, e.status, e.code) from e
        except TRANSPORT_ERRORS as e:
            raise TransportError(
                f"{operation}: network failure talking to GCS ({type(e).__name__})",
                path=path,
                provider="gcs",
                retryable=True,
            ) from e

    def _error(
        self, path: str | None, operation: str, mode: PutMode | None, status: int | None, reason: str
    ) -> ObjectStoreError:
        """The objectstorex error for a GCS status and error reason, most specific first."""
        where = f"{operation} {path!r}" if path else operation
        kw: dict[str, Any] = {"path": path, "provider": "gcs", "status": status}
        detail = f" ({reason})" if reason else ""
        if mode == "create" and status == 412:
            return AlreadyExistsError(f"{where}: the object already exists", **kw)
        if isinstance(mode, UpdateVersion) and status in (404, 412):
            return PreconditionError(f"{where}: the object changed or is gone", **kw)
        if status == 304:
            return NotModifiedError(f"{where}: not modified", **kw)
        if status == 412:
            return PreconditionError(f"{where}: precondition failed{detail}", **kw)
        if status == 416:
            return InvalidRangeError(f"{where}: range not satisfiable", **kw)
        if status == 404:
            return NotFoundError(f"{where}: not found{detail}", **kw)
        if status == 401:
            return UnauthenticatedError(f"{where}: credentials refused{detail}", **kw)
        if status == 403:
            return PermissionDeniedError(f"{where}: access denied{detail}", **kw)
        if status in (405, 501):
            return NotSupportedError(f"{where}: not supported by this endpoint{detail}", **kw)
        retryable = status is None or status >= 500 or status in (408, 429)
        return ObjectStoreError(f"{where} failed: HTTP {status}{detail}", retryable=retryable, **kw)

    async def _retrying(self, path: str | None, attempt: Any) -> Any:
        """Run ``attempt`` (already error-mapped) with the retry policy; TransportError after it."""
        return await retry_or_transport_error(attempt, self._retry, path=path, provider="gcs")

    # ------------------------------------------------------------------------------ raw requests

    def _object_url(self, key: str) -> str:
        return f"{self._objects_url}/{quote(key, safe='')}"

    def _media_url(self, key: str, version: str | None) -> URL:
        """The download URL of ``key`` (a generation's with ``version``), parsed once per key."""
        if version is not None:
            return URL(f"{self._object_url(key)}?alt=media&generation={quote(version, safe='')}", encoded=True)
        url = self._media_urls.get(key)
        if url is None:
            if len(self._media_urls) >= 1024:
                self._media_urls.clear()  # a bounded cache: hot keys come back at once
            url = self._media_urls[key] = URL(f"{self._object_url(key)}?alt=media", encoded=True)
        return url

    async def _open_request(
        self,
        method: str,
        url: str | URL,
        *,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        data: bytes | memoryview | None = None,
        ok: tuple[int, ...] = (),
    ) -> aiohttp.ClientResponse:
        """Send one request; return the response on 2xx (or a status in ``ok``), raise ``HttpStatus`` otherwise."""
        session = self._session
        if session is None:
            raise ObjectStoreError("the gcs store is closed", provider="gcs")
        if self._settings.anonymous:
            sent = headers
        else:
            sent = await self._tokens.headers()
            if headers:
                sent = {**sent, **headers}
        if isinstance(url, str):
            if query:
                url = f"{url}?{urlencode(query, quote_via=quote, safe='')}"
            url = URL(url, encoded=True)
        resp = await session.request(method, url, headers=sent, data=data)
        if resp.status >= 300 and resp.status not in ok:
            reason = ""
            if method != "HEAD":
                reason = _reason(await resp.read())
            resp.release()
            raise HttpStatus(resp.status, reason)
        return resp

    async def _call(
        self,
        path: str | None,
        operation: str,
        method: str,
        url: str,
        *,
        mode: PutMode | None = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        data: bytes | memoryview | None = None,
    ) -> tuple[Any, bytes]:
        """One request with retries and error mapping; returns (headers, body)."""

        async def attempt() -> tuple[Any, bytes]:
            with self._map_errors(path, operation, mode):
                resp = await self._open_request(method, url, query=query, headers=headers, data=data)
                try:
                    body = await resp.read()
                finally:
                    resp.release()
                return resp.headers, body

        result: tuple[Any, bytes] = await self._retrying(path, attempt)
        return result

    async def _json(self, path: str | None, operation: str, method: str, url: str, **options: Any) -> dict[str, Any]:
        """:meth:`_call` (same options), with the answer parsed as a JSON object (``{}`` when empty)."""
        _, body = await self._call(path, operation, method, url, **options)
        if not body.strip():
            return {}
        try:
            parsed = json.loads(body)
        except ValueError as e:
            raise ObjectStoreError(f"{operation}: GCS answered with malformed JSON", path=path, provider="gcs") from e
        if not isinstance(parsed, dict):
            raise ObjectStoreError(f"{operation}: GCS answered with unexpected JSON", path=path, provider="gcs")
        return parsed

    # ------------------------------------------------------------------------------ metadata

    def _resource_meta(self, item: dict[str, Any]) -> ObjectMeta:
        generation = item.get("generation")
        return ObjectMeta(
            self._location(str(item.get("name", ""))),
            int(item.get("size") or 0),
            _parse_rfc3339(item.get("updated")),
            normalize_etag(str(item["etag"])) if item.get("etag") else None,
            str(generation) if generation else None,
        )

    async def _resource(self, path: str, operation: str, version: str | None = None) -> dict[str, Any]:
        query = {"fields": _META_FIELDS}
        if version is not None:
            query["generation"] = version
        return await self._json(path, operation, "GET", self._object_url(self._key(path)), query=query)

    async def _resolve_etag(self, path: str, operation: str, mode: UpdateVersion) -> dict[str, str]:
        """Write conditions for an :class:`UpdateVersion` that names an ETag (and maybe a generation).

        GCS writes cannot be conditioned on an ETag, and a metadata change moves the ETag but
        not the generation. So the object's metadata is read: its ETag must match (and its
        generation equal ``mode.version`` when given), and the write that follows is
        conditioned on that generation *and* metageneration, so a change after this lookup
        still fails it.
        """
        assert mode.etag is not None
        try:
            item = await self._resource(path, operation)
        except NotFoundError as e:
            raise PreconditionError(
                f"{operation} {path!r}: the object does not exist (expected to update it)", path=path, provider="gcs"
            ) from e
        if normalize_etag(str(item.get("etag", ""))) != normalize_etag(mode.etag):
            raise PreconditionError(
                f"{operation} {path!r}: the object has changed (ETag differs)", path=path, provider="gcs"
            )
        generation = item.get("generation")
        if not generation:
            raise ObjectStoreError(f"{operation} {path!r}: GCS returned no generation", path=path, provider="gcs")
        if mode.version is not None and str(generation) != mode.version:
            raise PreconditionError(
                f"{operation} {path!r}: the object has changed (generation differs)", path=path, provider="gcs"
            )
        return {"ifGenerationMatch": str(generation), "ifMetagenerationMatch": str(item.get("metageneration", "1"))}

    async def _write_params(self, path: str, operation: str, mode: PutMode) -> dict[str, str]:
        if isinstance(mode, UpdateVersion) and mode.etag is not None:
            return await self._resolve_etag(path, operation, mode)
        return gcs_write_params(mode)

    # ------------------------------------------------------------------------------ writes

    def _resource_body(self, key: str, opts: PutOptions) -> dict[str, Any]:
        resource: dict[str, Any] = {"name": key}
        attrs = opts.attributes
        content_type = attrs.content_type
        if content_type is not None and (not content_type.isprintable() or not content_type.strip()):
            # It is also a header of the upload (multipart part, X-Upload-Content-Type).
            raise InvalidArgumentError(
                f"content_type must be a printable, non-blank str, got {content_type!r}", path=key, provider="gcs"
            )
        for name, field_name in _ATTR_FIELDS.items():
            value = getattr(attrs, name)
            if value is not None:
                resource[field_name] = value
        if attrs.metadata:
            resource["metadata"] = dict(attrs.metadata)
        return resource

    def _put_result(self, item: dict[str, Any]) -> PutResult:
        generation = item.get("generation")
        etag = item.get("etag")
        return PutResult(normalize_etag(str(etag)) if etag else None, str(generation) if generation else None)

    async def _put(self, path: str, data: bytes | memoryview, opts: PutOptions) -> PutResult:
        return await self._multipart_upload(path, data, opts, self._resource_body(self._key(path), opts))

    async def _multipart_upload(
        self, path: str, data: bytes | memoryview, opts: PutOptions, resource: dict[str, Any]
    ) -> PutResult:
        """Metadata and body in one request, conditioned on the put mode."""
        query = {"uploadType": "multipart", "fields": "etag,generation"}
        query.update(await self._write_params(path, "put", opts.mode))
        content_type = resource.get("contentType", "application/octet-stream")
        boundary = f"osx-{uuid.uuid4().hex}"
        head = (
            f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"
            f"{json.dumps(resource)}\r\n--{boundary}\r\nContent-Type: {content_type}\r\n\r\n"
        ).encode()
        body = b"".join((head, data, f"\r\n--{boundary}--\r\n".encode()))
        item = await self._json(
            path,
            "put",
            "POST",
            self._upload_url,
            mode=opts.mode,
            query=query,
            headers={"Content-Type": f"multipart/related; boundary={boundary}"},
            data=body,
        )
        return self._put_result(item)

    async def _put_stream(
        self,
        path: str,
        chunks: AsyncIterator[bytes],
        opts: PutOptions,
        part_size: int | None,
        max_concurrency: int | None,
    ) -> PutResult:
        resource = self._resource_body(self._key(path), opts)  # bad attributes fail before the stream is read
        # Resumable chunks are sequential (max_concurrency has nothing to overlap) and a
        # multiple of 256 KiB: memory stays near one part.
        size = max(_QUANTUM, -(-(part_size or _DEFAULT_PART) // _QUANTUM) * _QUANTUM)
        pieces: list[bytes] = []
        pending = 0
        async for chunk in chunks:
            pieces.append(chunk)
            pending += len(chunk)
            if pending > size:
                break
        else:
            # Everything fits one request: a multipart upload is atomic and cheaper.
            return await self._multipart_upload(path, b"".join(pieces), opts, resource)
        return await self._put_resumable(path, pieces, chunks, opts, resource, size)

    async def _put_resumable(
        self,
        path: str,
        pieces: list[bytes],
        chunks: AsyncIterator[bytes],
        opts: PutOptions,
        resource: dict[str, Any],
        size: int,
    ) -> PutResult:
        """Feed a resumable session; on any failure cancel it, so nothing is committed."""
        query = {"uploadType": "resumable", "name": self._key(path), "fields": "etag,generation"}
        query.update(await self._write_params(path, "put_stream", opts.mode))
        content_type = resource.get("contentType", "application/octet-stream")
        headers, _ = await self._call(
            path,
            "put_stream",
            "POST",
            self._upload_url,
            mode=opts.mode,
            query=query,
            headers={"Content-Type": "application/json; charset=UTF-8", "X-Upload-Content-Type": content_type},
            data=json.dumps(resource).encode(),
        )
        session_url = headers.get("Location")
        if not session_url:
            raise ObjectStoreError("put_stream: GCS opened no upload session", path=path, provider="gcs")
        try:
            offset = 0
            pending = sum(len(p) for p in pieces)

            async def flush() -> None:
                """Send every whole chunk but the last byte: the final chunk must carry the total."""
                nonlocal offset, pending
                joined = b"".join(pieces)
                cut = (len(joined) - 1) // size * size
                view = memoryview(joined)
                for i in range(0, cut, size):
                    await self._send_chunk(path, session_url, view[i : i + size], offset, None, content_type, opts)
                    offset += size
                pieces[:] = [joined[cut:]]
                pending = len(joined) - cut

            await flush()
            async for chunk in chunks:
                pieces.append(chunk)
                pending += len(chunk)
                if pending > size:
                    await flush()
            last = b"".join(pieces)
            item = await self._send_chunk(
                path, session_url, memoryview(last), offset, offset + len(last), content_type, opts
            )
        except BaseException:
            await asyncio.shield(self._cancel_session(session_url))
            raise
        return self._put_result(item or {})

    async def _send_chunk(
        self,
        path: str,
        session_url: str,
        data: memoryview,
        offset: int,
        total: int | None,
        content_type: str,
        opts: PutOptions,
    ) -> dict[str, Any] | None:
        """PUT ``data`` at ``offset``; resend what the server did not persist (308 ``Range``)."""
        sent = stalls = 0
        while True:
            rest = data[sent:]
            end = offset + sent + len(rest)
            span = f"bytes {offset + sent}-{end - 1}" if len(rest) else "bytes *"
            # The chunk's Content-Type is the object's: some servers take it from the chunk.
            headers = {"Content-Range": f"{span}/{'*' if total is None else total}", "Content-Type": content_type}

            async def attempt(headers: dict[str, str] = headers, body: memoryview = rest) -> tuple[int, Any, bytes]:
                with self._map_errors(path, "put_stream", opts.mode):
                    resp = await self._open_request("PUT", session_url, headers=headers, data=body, ok=(308,))
                    try:
                        return resp.status, resp.headers, await resp.read()
                    finally:
                        resp.release()

            status, resp_headers, body = await self._retrying(path, attempt)
            if status != 308:
                if total is None:
                    raise ObjectStoreError("put_stream: GCS finished the upload early", path=path, provider="gcs")
                item = _object_resource(body)
                if item is not None:
                    return item
                # A truncated or garbled final answer: ask the session, as Google's clients do.
                status, resp_headers, body = await self._session_status(path, session_url, total, opts)
                if status != 308:
                    item = _object_resource(body)
                    if item is None:
                        raise ObjectStoreError(
                            "put_stream: GCS's answers to the upload's end are unreadable; "
                            "the object may have been written",
                            path=path,
                            provider="gcs",
                        )
                    return item
            persisted = resp_headers.get("Range", "")  # "bytes=0-N": what the session holds
            last = persisted.rpartition("-")[2]
            done = int(last) + 1 if last.isdigit() else 0
            if done >= end and total is None:
                return None
            if done < offset + sent:
                raise ObjectStoreError("put_stream: GCS lost part of the upload", path=path, provider="gcs")
            stalls = stalls + 1 if done == offset + sent and len(rest) else 0
            if stalls > self._retry.max_retries:
                raise TransportError("put_stream: GCS persists none of the chunk", path=path, provider="gcs")
            sent = done - offset

    async def _session_status(
        self, path: str, session_url: str, total: int, opts: PutOptions
    ) -> tuple[int, Any, bytes]:
        """Ask a resumable session how far it got: 200/201 and the object when done, 308 otherwise.

        Raises:
            ObjectStoreError: the session cannot tell (gone, refused, unreachable): the upload's
                outcome is unknown.
        """
        headers = {"Content-Range": f"bytes */{total}"}

        async def attempt() -> tuple[int, Any, bytes]:
            with self._map_errors(path, "put_stream", opts.mode):
                resp = await self._open_request("PUT", session_url, headers=headers, data=b"", ok=(308,))
                try:
                    return resp.status, resp.headers, await resp.read()
                finally:
                    resp.release()

        try:
            result: tuple[int, Any, bytes] = await self._retrying(path, attempt)
        except ObjectStoreError as e:
            raise ObjectStoreError(
                f"put_stream: the answer to the upload's end was unreadable and the session's status is "
                f"unknown (HTTP {e.status}); the object may have been written",
                path=path,
                provider="gcs",
                status=e.status,
            ) from e
        return result

    async def _cancel_session(self, session_url: str) -> None:
        """DELETE a resumable session (GCS answers 499): its bytes are never committed."""
        with contextlib.suppress(Exception):
            resp = await self._open_request("DELETE", session_url, ok=(499,))
            resp.release()

    async def _delete(self, path: str, cond: UpdateVersion | None) -> None:
        url = self._object_url(self._key(path))
        if cond is None:
            try:
                await self._call(path, "delete", "DELETE", url)
            except NotFoundError:
                pass  # idempotent: GCS answers 404 for a missing object
            return
        query = await self._write_params(path, "delete", cond)
        await self._call(path, "delete", "DELETE", url, mode=cond, query=query)

    async def _delete_many(self, paths: list[str]) -> dict[str, ObjectStoreError]:
        errors: dict[str, ObjectStoreError] = {}
        for start in range(0, len(paths), _BATCH):
            batch = paths[start : start + _BATCH]
            statuses = await self._delete_batch(batch) if self._batch_supported else None
            if statuses is None:
                errors.update(await super()._delete_many(batch))
                continue
            for p, (status, reason) in zip(batch, statuses, strict=True):
                if status < 300 or status == 404:
                    continue  # missing objects are not errors
                errors[p] = self._error(p, "delete", None, status, reason)
        return errors

    async def _delete_batch(self, batch: list[str]) -> list[tuple[int, str]] | None:
        """Delete through the JSON batch endpoint; ``None`` when there is none (emulators)."""
        boundary = f"osx-batch-{uuid.uuid4().hex}"
        parts = []
        for i, p in enumerate(batch):
            parts.append(
                f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <item{i}>\r\n\r\n"
                f"DELETE {self._batch_path}/{quote(self._key(p), safe='')} HTTP/1.1\r\n"
                "Content-Type: application/json\r\nContent-Length: 0\r\n\r\n\r\n"
            )
        body = ("".join(parts) + f"--{boundary}--\r\n").encode()
        try:
            headers, payload = await self._call(
                None,
                "delete_many",
                "POST",
                self._batch_url,
                headers={"Content-Type": f"multipart/mixed; boundary={boundary}"},
                data=body,
            )
        except ObjectStoreError as e:
            if e.status in (400, 404, 405, 501):
                self._batch_supported = False  # no batch endpoint here: single deletes from now on
                return None
            raise
        statuses = parse_batch_response(headers.get("Content-Type", ""), payload, len(batch))
        if statuses is None:
            raise ObjectStoreError("delete_many: the batch answer does not match the request", provider="gcs")
        return statuses

    async def _copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        operation = "copy" if overwrite else "copy_if_not_exists"
        target = f"b/{quote(self._bucket, safe='')}/o/{quote(self._key(dst), safe='')}"
        url = f"{self._object_url(self._key(src))}/rewriteTo/{target}"
        query: dict[str, str] = {"fields": "done,rewriteToken"}
        mode: PutMode | None = None
        if not overwrite:
            query["ifGenerationMatch"] = "0"  # atomic: the service refuses an existing destination
            mode = "create"
        # Without a body the destination takes the source's attributes and metadata. A large
        # or cross-location copy takes several calls, each resuming with the last token.
        while True:
            try:
                answer = await self._json(dst, operation, "POST", url, mode=mode, query=query)
            except NotFoundError as e:
                raise NotFoundError(
                    f"{operation} {src!r}: source not found", path=src, provider="gcs", status=404
                ) from e
            if answer.get("done", True) is True or not answer.get("rewriteToken"):
                return
            query["rewriteToken"] = str(answer["rewriteToken"])

    # ------------------------------------------------------------------------------ reads

    def _media_meta(self, path: str, headers: Any) -> ObjectMeta:
        size = int(headers.get("x-goog-stored-content-length") or headers.get("Content-Length") or 0)
        content_range = headers.get("Content-Range")
        if content_range and "/" in content_range:
            total = content_range.rsplit("/", 1)[1]
            if total.isdigit():
                size = int(total)
        etag = headers.get("ETag")
        return ObjectMeta(
            path,
            size,
            parse_http_date(headers.get("Last-Modified")),
            normalize_etag(etag) if etag else None,
            headers.get("x-goog-generation"),
        )

    @staticmethod
    def _attributes(headers: Any) -> Attributes:
        # Media downloads carry user metadata as x-goog-meta-* headers (names case-insensitive).
        # The first-letter test keeps the common case (no x-* header) from slicing every name.
        metadata = {k[12:].lower(): v for k, v in headers.items() if k[0] in "xX" and k[:12].lower() == "x-goog-meta-"}
        return Attributes(
            headers.get("Content-Type"),
            headers.get("Content-Disposition"),
            headers.get("Content-Encoding"),
            headers.get("Content-Language"),
            headers.get("Cache-Control"),
            metadata,
        )

    async def _open_read(
        self, path: str, opts: GetOptions, operation: str
    ) -> tuple[aiohttp.ClientResponse, ObjectMeta]:
        """Send the media GET (conditions, range, generation); return the open response and its metadata.

        GCS evaluates the ETag conditions; all four are evaluated again here on the response's
        own headers (its ETag and Last-Modified describe exactly the bytes that follow), which
        is how the date conditions -- absent from the JSON API -- are honoured at all, and
        which keeps a server that ignores conditions from handing out the wrong answer.
        """
        url = self._media_url(self._key(path), opts.version)
        r = opts.range
        headers = _MEDIA_HEADERS
        if opts.conditions or r is not None:
            headers = {**_MEDIA_HEADERS, **http_get_headers(opts.conditions, dates=False)}
            if r is not None:
                headers["Range"] = http_range_header(r)

        async def attempt() -> aiohttp.ClientResponse:
            with self._map_errors(path, operation):
                return await self._open_request("GET", url, headers=headers)

        resp: aiohttp.ClientResponse = await self._retrying(path, attempt)
        meta = self._media_meta(path, resp.headers)
        try:
            if opts.conditions:
                check_get(opts.conditions, meta, provider="gcs")
            if r is not None and (meta.size == 0 or (r.suffix is None and r.start >= meta.size)):
                raise InvalidRangeError(
                    f"{operation} {path!r}: range {r} is not satisfiable on {meta.size} bytes",
                    path=path,
                    provider="gcs",
                )
        except ObjectStoreError:
            resp.close()  # drop the connection rather than download a body nobody reads
            raise
        return resp, meta

    @staticmethod
    def _range_of(resp: aiohttp.ClientResponse) -> tuple[int, int] | None:
        """The ``[start, end)`` a 206 answer holds, or ``None`` for a whole-object answer."""
        if resp.status != 206:
            return None
        span = resp.headers.get("Content-Range", "").split(" ", 1)[-1].split("/", 1)[0]
        first, _, last = span.partition("-")
        if not first.isdigit() or not last.isdigit():
            return None
        return int(first), int(last) + 1

    async def _get(self, path: str, opts: GetOptions) -> GetResult:
        resp, meta = await self._open_read(path, opts, "get")
        try:
            with self._map_errors(path, "get"):
                data = await resp.read()
        finally:
            resp.release()
        if (
            resp.headers.get("Content-Encoding") == "gzip"
            and resp.headers.get("x-goog-stored-content-encoding") == "identity"
        ):
            try:
                data = gzip.decompress(data)  # compressed in transit only: hand back what was stored
            except (OSError, EOFError, zlib.error) as e:
                raise TransportError(f"get {path!r}: a corrupt compressed answer", path=path, provider="gcs") from e
        if opts.range is not None and self._range_of(resp) is None:
            # A server that ignored the range: apply it here.
            start, end = opts.range.resolve(len(data), path=path, provider="gcs")
            data = data[start:end]
        return GetResult(data, meta, self._attributes(resp.headers))

    async def _open_stream(
        self, path: str, opts: GetOptions, chunk_size: int
    ) -> tuple[ObjectMeta, AsyncIterator[bytes]]:
        resp, meta = await self._open_read(path, opts, "get_stream")
        span = self._range_of(resp)
        if opts.range is not None and span is None:
            with self._map_errors(path, "get_stream"):
                data = await resp.read()
            resp.release()
            start, end = opts.range.resolve(len(data), path=path, provider="gcs")
            data = data[start:end]

            async def once() -> AsyncIterator[bytes]:
                for i in range(0, len(data), chunk_size):
                    yield data[i : i + chunk_size]

            return meta, once()
        start, end = span if span is not None else (0, meta.size)
        return meta, self._stream_body(path, resp, meta, start, end, chunk_size)

    def _stream_body(
        self, path: str, resp: aiohttp.ClientResponse, meta: ObjectMeta, start: int, end: int, chunk_size: int
    ) -> AsyncIterator[bytes]:
        """Yield ``[start, end)``, resuming a dropped read from the generation it opened with.

        If that generation is gone the resume raises PreconditionError: never two versions spliced.
        """
        url = self._object_url(self._key(path))

        async def read(resp: aiohttp.ClientResponse, n: int) -> bytes:
            with self._map_errors(path, "get_stream"):
                return await resp.content.readexactly(n)

        async def reopen(position: int) -> aiohttp.ClientResponse:
            assert meta.version is not None
            query = {"alt": "media", "generation": meta.version}
            headers = {**_MEDIA_HEADERS, "Range": f"bytes={position}-{end - 1}"}

            async def attempt() -> aiohttp.ClientResponse:
                with self._map_errors(path, "get_stream"):
                    return await self._open_request("GET", url, query=query, headers=dict(headers))

            try:
                resp: aiohttp.ClientResponse = await self._retrying(path, attempt)
            except NotFoundError as e:
                raise PreconditionError(
                    f"get_stream {path!r}: the object changed while it was read", path=path, provider="gcs"
                ) from e
            return resp

        return resuming_body(
            resp,
            start,
            end,
            chunk_size,
            read=read,
            reopen=reopen if meta.version is not None else None,
            max_resumes=self._retry.max_retries,
        )

    async def _get_ranges(self, path: str, ranges: list[ByteRange]) -> list[bytes]:
        """One metadata read, then the coalesced spans fetched concurrently from that generation."""
        meta = self._resource_meta(await self._resource(path, "get_ranges"))
        resolved = [r.resolve(meta.size, path=path, provider="gcs") for r in ranges]
        spans = coalesce(resolved)
        url = self._object_url(self._key(path))
        query = {"alt": "media"}
        if meta.version is not None:
            query["generation"] = meta.version

        async def fetch(span: tuple[int, int]) -> bytes:
            try:
                _, body = await self._call(
                    path,
                    "get_ranges",
                    "GET",
                    url,
                    query=query,
                    headers={"Accept-Encoding": "gzip", "Range": f"bytes={span[0]}-{span[1] - 1}"},
                )
            except NotFoundError as e:
                raise PreconditionError(
                    f"get_ranges {path!r}: the object changed while it was read", path=path, provider="gcs"
                ) from e
            return body

        blobs = await asyncio.gather(*(fetch(s) for s in spans))
        return slice_spans(resolved, spans, blobs)

    async def _head(self, path: str, version: str | None) -> ObjectMeta:
        return self._resource_meta(await self._resource(path, "head", version))

    # ------------------------------------------------------------------------------ listing

    async def _list_pages(
        self, prefix: str, *, delimiter: bool, start: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        query = {
            "prefix": self._list_prefix(prefix),
            "maxResults": str(self._page_size),
            "fields": f"items({_META_FIELDS}),prefixes,nextPageToken",
        }
        if delimiter:
            query["delimiter"] = "/"
        if start is not None:
            query["startOffset"] = start  # inclusive on the service: filtered by the caller
        while True:
            page = await self._json(prefix or None, "list", "GET", self._objects_url, query=dict(query))
            yield page
            token = page.get("nextPageToken")
            if not token:
                return
            query["pageToken"] = str(token)

    async def _list(self, prefix: str, offset: str | None) -> AsyncIterator[ObjectMeta]:
        start = self._key(offset) if offset is not None else None
        async for page in self._list_pages(prefix, delimiter=False, start=start):
            for item in page.get("items") or []:
                meta = self._resource_meta(item)
                if offset is None or meta.location > offset:
                    yield meta

    async def _list_with_delimiter(self, prefix: str) -> ListResult:
        objects: list[ObjectMeta] = []
        prefixes: dict[str, None] = {}
        async for page in self._list_pages(prefix, delimiter=True):
            objects.extend(self._resource_meta(item) for item in page.get("items") or [])
            # A prefix may come back on several pages (GCS's clients collect them in a set).
            prefixes.update((self._location(str(p)).rstrip("/"), None) for p in page.get("prefixes") or [])
        return ListResult(objects, sorted(prefixes))

    # ------------------------------------------------------------------------------ signing

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


_STATUS_LINE = re.compile(rb"HTTP/\d(?:\.\d)? (\d{3})")
_CONTENT_ID = re.compile(rb"(?im)^content-id:\s*<?response-item(\d+)>?\s*$")


def parse_batch_response(content_type: str, payload: bytes, expected: int) -> list[tuple[int, str]] | None:
    """Map a JSON batch answer (``multipart/mixed``) to ``(status, reason)`` per request, in order.

    Parts are matched by their ``Content-ID`` (``response-item<i>``), not by position; ``None``
    when the answer is not a batch answer or does not cover every request.
    """
    found = re.search(r'boundary="?([^";]+)"?', content_type)
    if not found:
        return None
    boundary = b"--" + found.group(1).encode()
    results: dict[int, tuple[int, str]] = {}
    for part in payload.split(boundary)[1:]:
        if part.startswith(b"--"):
            break
        cid = _CONTENT_ID.search(part)
        status = _STATUS_LINE.search(part)
        if cid is None or status is None:
            continue
        body_start = part.find(b"{")
        reason = _reason(part[body_start:].strip().rstrip(b"-").strip()) if body_start >= 0 else ""
        results[int(cid.group(1))] = (int(status.group(1)), reason)
    if sorted(results) != list(range(expected)):
        return None
    return [results[i] for i in range(expected)]
