"""The GCS dialect of the HTTP core: the JSON API's addressing, codes, resources, conditions and uploads.

Only what is GCS's own lives here; the core (:mod:`objectstorex.backends._http`) does the rest.

* writes are multipart uploads (metadata and body in one request) carrying the put mode as
  ``ifGenerationMatch`` -- ``0`` for create, the generation for compare-and-swap; an ETag is
  first resolved to the (generation, metageneration) it names, since a metadata change moves
  the ETag but not the generation;
* ``put_stream`` is a resumable session fed chunk by chunk (multiples of 256 KiB), in order;
* reads are media downloads (``alt=media``) whose headers carry the ETag, generation and
  attributes; ``head`` reads the JSON resource;
* a lost answer is told apart from another writer by the MD5 GCS keeps of every object
  (``md5Hash``): the bytes stored are ours, or the write was not;
* copies are ``rewriteTo`` calls, looping on ``rewriteToken``; ``delete_many`` uses the JSON
  batch endpoint (100 calls per batch).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import hashlib
import json
import re
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from ..._store import PutOptions
from ..._types import Attributes, ObjectMeta, ProgressCallback, PutResult
from ...checksums import encode
from ...errors import InvalidArgumentError, NotFoundError, ObjectStoreError, PreconditionError, TransportError
from ...preconditions import PutMode, UpdateVersion, normalize_etag
from .._http import Answer, ErrorCodes, HttpStore, ListPage, Request, Upload
from .._http.headers import content_length, http_date, malformed, rfc3339
from .._http.upload import digest_part
from .auth import AccessTokens, GCSSettings

__all__ = ["GCSDialect", "parse_batch_response"]

MIB = 1024 * 1024
_QUANTUM = 256 * 1024  # resumable chunks must be multiples of this
_META_FIELDS = "name,size,updated,etag,generation,metageneration"
_PROOF_FIELDS = "etag,generation,md5Hash"
_ATTR_FIELDS = {
    "content_type": "contentType",
    "content_disposition": "contentDisposition",
    "content_encoding": "contentEncoding",
    "content_language": "contentLanguage",
    "cache_control": "cacheControl",
}
#: A resumable session that no longer exists (finished or cancelled). "Not Found" is
#: fake-gcs-server's reason for a finished session, which it forgets (GCS answers 200 and the object).
_SESSION_GONE = frozenset({"notFound", "Not Found"})


def _reason(body: bytes) -> str:
    """The ``reason`` (or message) of a JSON API error body; never the raw body."""
    try:
        error = json.loads(body)["error"]
        errors = error.get("errors") or [{}]
        return str(errors[0].get("reason") or error.get("message") or "")[:100]
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        return ""


def _object_resource(body: bytes) -> dict[str, Any] | None:
    """The object resource a finished write answers with, or ``None`` when unreadable or incomplete."""
    try:
        item = json.loads(body)
    except ValueError:
        return None
    return item if isinstance(item, dict) and item.get("generation") and item.get("etag") else None


#: What ``quote(..., safe="")`` leaves as it is: such keys and query values skip it (~1.5 us each).
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*").fullmatch
#: The same plus ``/``: a name of folders, whose only escape is ``%2F``.
_FOLDERED = re.compile(r"[A-Za-z0-9_.~/-]*").fullmatch


#: The query of a media read of the live object (shared: never mutated).
_MEDIA: dict[str, str] = {"alt": "media"}


def _query(url: str, query: Mapping[str, str] | None) -> str:
    if not query:
        return url
    if query is _MEDIA:
        return url + "?alt=media"
    if all(type(v) is str and _UNRESERVED(k) and _UNRESERVED(v) for k, v in query.items()):
        return url + "?" + "&".join([f"{k}={v}" for k, v in query.items()])  # what urlencode gives, cheaper
    return f"{url}?{urlencode(query, quote_via=quote, safe='')}"


def _quoted(key: str) -> str:
    """An object name as one URL path segment (``/`` encoded too)."""
    if _FOLDERED(key):
        return key.replace("/", "%2F")  # what quote() gives, without its ~3 us per key
    return quote(key, safe="")


def _md5(data: bytes | memoryview) -> str:
    """GCS's ``md5Hash`` form: the base64 of the MD5 digest."""
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


@dataclass(slots=True)
class _Session:
    """A resumable upload: its session URL, the object's content type, and the MD5 of what was sent."""

    url: str
    content_type: str
    stale: str | None  # the generation a CAS replaces: an object still at it is not our write
    md5: Any = field(default_factory=partial(hashlib.md5, usedforsecurity=False))  # a checksum (FIPS-safe)
    result: PutResult | None = None


class GCSDialect(HttpStore):
    """The JSON API hooks of :class:`~objectstorex.GCSStore` (options and signing are in ``store.py``)."""

    provider = "gcs"
    codes: ClassVar[ErrorCodes] = ErrorCodes(
        retry=frozenset({"rateLimitExceeded", "userRateLimitExceeded", "backendError", "internalError"}),
        not_found=frozenset({"notFound"}),
        unauthenticated=frozenset({"authError", "required"}),
        invalid_range=frozenset({"requestedRangeNotSatisfiable"}),
    )
    date_conditions: ClassVar[bool] = False  # the JSON API has no date conditions: checked on the answer
    # The stored bytes, never a transcoded form: a gzip-encoded object comes back as stored.
    session_headers: ClassVar[Mapping[str, str]] = {"Accept-Encoding": "gzip"}
    batch_size: ClassVar[int] = 100  # the JSON batch endpoint takes at most 100 calls
    # For observers: the JSON API's method names (a resumable upload's requests are all objects.insert).
    api_service = "GCS"
    api_names = (
        ("GET", ("maxResults",), "storage.objects.list"),
        ("GET", (), "storage.objects.get"),
        ("POST", ("/rewriteTo/",), "storage.objects.rewrite"),
        ("POST", ("/batch/",), "storage.batch"),
        ("POST", ("uploadType",), "storage.objects.insert"),
        ("PUT", ("upload_id",), "storage.objects.insert"),
        ("DELETE", ("upload_id",), "storage.objects.insert"),
        ("DELETE", (), "storage.objects.delete"),
        ("PATCH", (), "storage.objects.patch"),
    )
    api_attributes: ClassVar[Mapping[str, str]] = {"gcp.client.service": "storage"}

    _settings: GCSSettings
    _bucket: str

    def _init_gcs(self, settings: GCSSettings, bucket: str) -> None:
        """Addresses and credentials of the bucket (after ``_init_http``)."""
        self._settings = settings
        self._bucket = bucket
        api = settings.endpoint
        b = quote(bucket, safe="")
        self._objects_url = f"{api}/storage/v1/b/{b}/o"
        self._upload_url = f"{api}/upload/storage/v1/b/{b}/o"
        self._batch_url = f"{api}/batch/storage/v1"
        self._batch_path = f"/storage/v1/b/{b}/o"
        self._tokens = AccessTokens(settings, (self._timeouts.connect, self._timeouts.read))
        self._batch_supported = True

    # ------------------------------------------------------------------------------ addressing, auth

    def _url(self, key: str | None, query: Mapping[str, str] | None = None) -> str:
        url = self._objects_url if key is None else f"{self._objects_url}/{_quoted(key)}"
        return _query(url, query)

    async def _authorize(self, request: Request) -> None:
        if not self._settings.anonymous:
            request.headers.update(await self._tokens.headers())

    async def _close_provider(self) -> None:
        await self._tokens.close()

    def _error_code(self, answer: Answer) -> str:
        return _reason(answer.body)

    # ------------------------------------------------------------------------------ metadata

    def _meta(self, path: str, headers: Mapping[str, str]) -> ObjectMeta:
        """A media download's metadata: size, Last-Modified, ETag and generation (``x-goog-generation``)."""
        stored = headers.get("x-goog-stored-content-length")
        if stored is not None:
            if not stored.isdigit():
                raise malformed("x-goog-stored-content-length", stored, provider="gcs", path=path)
            size = int(stored)
        elif "Content-Range" in headers:
            # Only the total is the object's size; the span is checked by the core, after the
            # range check (fake-gcs-server answers a range of an empty object "bytes 0--1/0").
            total = headers["Content-Range"].rpartition("/")[2]
            if not total.isdigit():
                raise malformed("Content-Range", headers["Content-Range"], provider="gcs", path=path)
            size = int(total)
        else:
            size = content_length(headers, provider="gcs", path=path) or 0
        etag = headers.get("ETag")
        return ObjectMeta(
            path,
            size,
            http_date(headers, "Last-Modified", provider="gcs", path=path),
            normalize_etag(etag) if etag else None,
            headers.get("x-goog-generation"),
        )

    def _stored_checksums(self, headers: Mapping[str, str]) -> dict[str, str]:
        # x-goog-hash: "crc32c=<b64>,md5=<b64>" (one header or several, joined); of the stored bytes.
        out: dict[str, str] = {}
        getall = getattr(headers, "getall", None)  # GCS sends one x-goog-hash header per algorithm
        values = getall("x-goog-hash", ()) if getall is not None else (headers.get("x-goog-hash", ""),)
        for value in values:
            for item in value.split(",") if "," in value else (value,):
                name, _, digest = item.strip().partition("=")
                if digest and name in ("crc32c", "md5"):
                    out[name] = digest
        return out

    def _attributes(self, headers: Mapping[str, str]) -> Attributes:
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

    def _resource_meta(self, item: Mapping[str, Any]) -> ObjectMeta:
        """An object resource (JSON) as metadata; a missing or malformed field is named."""
        name = item.get("name")
        path = self._location(name) if isinstance(name, str) else None
        size = item.get("size")
        if not isinstance(size, str) or not size.isdigit():
            raise malformed("size", size, provider="gcs", path=path)
        generation = item.get("generation")
        return ObjectMeta(
            path or "",
            int(size),
            rfc3339(item.get("updated"), "updated", provider="gcs", path=path),
            normalize_etag(str(item["etag"])) if item.get("etag") else None,
            str(generation) if generation else None,
        )

    def _version_query(self, version: str | None) -> dict[str, str] | None:
        return {"generation": version} if version is not None else None

    def _read_query(self, version: str | None) -> dict[str, str] | None:
        return {"alt": "media", "generation": version} if version is not None else _MEDIA

    def _pin(self, meta: ObjectMeta) -> tuple[dict[str, str], dict[str, str] | None]:
        # A generation's bytes never change: pinning by it (not by the ETag) lets a resume
        # survive a metadata-only change, and fails (404) once that generation is gone.
        if meta.version is None:
            return super()._pin(meta)
        return {}, self._read_query(meta.version)

    def _decode(self, headers: Mapping[str, str], data: bytes, path: str) -> bytes:
        if headers.get("Content-Encoding") == "gzip" and headers.get("x-goog-stored-content-encoding") == "identity":
            try:
                return gzip.decompress(data)  # compressed in transit only: hand back what was stored
            except (OSError, EOFError, zlib.error) as e:
                raise TransportError(f"get {path!r}: a corrupt compressed answer", path=path, provider="gcs") from e
        return data

    async def _resource(self, operation: str, path: str, fields: str, version: str | None = None) -> dict[str, Any]:
        query = {"fields": fields}
        if version is not None:
            query["generation"] = version
        url = self._url(self._key(path), query)
        answer = await self._call(operation, path, lambda: Request("GET", url), version=version is not None)
        return self._json(answer.body, operation, path)

    @staticmethod
    def _json(body: bytes, operation: str, path: str | None) -> dict[str, Any]:
        try:
            parsed = json.loads(body) if body.strip() else {}
        except ValueError:
            raise ObjectStoreError(
                f"{operation}: GCS answered with malformed JSON", path=path, provider="gcs"
            ) from None
        if not isinstance(parsed, dict):
            raise ObjectStoreError(f"{operation}: GCS answered with unexpected JSON", path=path, provider="gcs")
        return parsed

    async def _head_answer(self, path: str, version: str | None) -> ObjectMeta:
        meta = self._resource_meta(await self._resource("head", path, _META_FIELDS, version))
        return (
            meta if meta.location == path else ObjectMeta(path, meta.size, meta.last_modified, meta.etag, meta.version)
        )

    # ------------------------------------------------------------------------------ write conditions

    async def _write_params(self, path: str, operation: str, mode: PutMode) -> dict[str, str]:
        """``ifGenerationMatch`` (and ``ifMetagenerationMatch``) for the put mode.

        GCS writes cannot be conditioned on an ETag, and a metadata change moves the ETag but
        not the generation. So an :class:`UpdateVersion` naming an ETag reads the object's
        metadata: its ETag must match (and its generation equal ``version`` when given), and
        the write is conditioned on that generation *and* metageneration, so a change after
        this lookup still fails it.
        """
        if mode == "create":
            return {"ifGenerationMatch": "0"}
        if not isinstance(mode, UpdateVersion):
            return {}
        if mode.etag is None:
            assert mode.version is not None
            return {"ifGenerationMatch": mode.version}
        try:
            item = await self._resource(operation, path, _META_FIELDS)
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
            raise malformed("generation", generation, provider="gcs", path=path)
        if mode.version is not None and str(generation) != mode.version:
            raise PreconditionError(
                f"{operation} {path!r}: the object has changed (generation differs)", path=path, provider="gcs"
            )
        return {"ifGenerationMatch": str(generation), "ifMetagenerationMatch": str(item.get("metageneration", "1"))}

    async def _proof(self, path: str, md5: str, stale: str | None) -> PutResult | None:
        """The object at ``path`` if it holds the bytes whose MD5 is ``md5`` (and is not generation ``stale``)."""
        try:
            item = await self._resource("put", path, _PROOF_FIELDS)
        except NotFoundError:
            return None
        if item.get("md5Hash") != md5 or not item.get("generation") or str(item["generation"]) == stale:
            return None
        return self._result(item)

    @staticmethod
    def _result(item: Mapping[str, Any]) -> PutResult:
        return PutResult(normalize_etag(str(item["etag"])), str(item["generation"]))

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

    async def _put_request(self, path: str, data: bytes | memoryview, opts: PutOptions) -> Request:
        """A multipart upload: metadata and body in one request, conditioned on the put mode."""
        resource = self._resource_body(self._key(path), opts)
        algorithm = self._algorithm(opts)
        if algorithm is not None:
            # GCS checks the bytes it received against it and refuses the upload otherwise.
            resource["crc32c" if algorithm == "crc32c" else "md5Hash"] = encode(await digest_part(algorithm, data))
        query = {"uploadType": "multipart", "fields": "etag,generation"}
        query.update(await self._write_params(path, "put", opts.mode))
        content_type = resource.get("contentType", "application/octet-stream")
        boundary = f"osx-{uuid.uuid4().hex}"
        head = (
            f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"
            f"{json.dumps(resource)}\r\n--{boundary}\r\nContent-Type: {content_type}\r\n\r\n"
        ).encode()
        body = b"".join((head, data, f"\r\n--{boundary}--\r\n".encode()))
        headers = {"Content-Type": f"multipart/related; boundary={boundary}"}
        return Request("POST", _query(self._upload_url, query), headers, body)

    def _put_result(self, answer: Answer) -> PutResult:
        item = _object_resource(answer.body)
        if item is None:
            raise ObjectStoreError("put: GCS's answer to the write is unreadable", provider="gcs")
        return self._result(item)

    async def _landed(self, path: str, data: bytes | memoryview, request: Request) -> PutResult | None:
        # The condition the write carried: an object still at that generation is not ours.
        stale = parse_qs(urlsplit(request.url).query).get("ifGenerationMatch", ["0"])[0]
        md5 = await asyncio.to_thread(_md5, data) if len(data) > MIB else _md5(data)
        return await self._proof(path, md5, None if stale == "0" else stale)

    def _part_size(self, requested: int | None) -> int:
        return max(_QUANTUM, -(-(requested or 8 * MIB) // _QUANTUM) * _QUANTUM)

    def _concurrency(self, requested: int | None) -> int:
        return 1  # a resumable session takes its chunks in order, one at a time

    async def _begin_upload(self, path: str, key: str, opts: PutOptions) -> _Session:
        """Open a resumable session carrying the mode's condition."""
        resource = self._resource_body(key, opts)
        params = await self._write_params(path, "put_stream", opts.mode)
        query = {"uploadType": "resumable", "name": key, "fields": "etag,generation", **params}
        content_type = resource.get("contentType", "application/octet-stream")
        url = _query(self._upload_url, query)
        headers = {"Content-Type": "application/json; charset=UTF-8", "X-Upload-Content-Type": content_type}
        body = json.dumps(resource).encode()
        answer = await self._call("put_stream", path, lambda: Request("POST", url, dict(headers), body), mode=opts.mode)
        session_url = answer.headers.get("Location")
        if not session_url:
            raise ObjectStoreError("put_stream: GCS opened no upload session", path=path, provider="gcs")
        stale = params.get("ifGenerationMatch")
        return _Session(session_url, content_type, None if stale in (None, "0") else stale)

    async def _upload_part(self, upload: Upload, number: int, offset: int, data: memoryview, last: bool) -> Any:
        session: _Session = upload.state
        # The MD5 of the whole upload (the proof of a lost final answer), hashed while the chunk travels.
        hashing = asyncio.ensure_future(asyncio.to_thread(session.md5.update, data))
        try:
            if last:
                session.result = await self._finish(upload, offset, data, hashing)
            else:
                await self._send_chunk(upload, offset, data)
        finally:
            await hashing
        return number

    def _chunk_request(self, session: _Session, first: int, data: memoryview, total: int | None) -> Request:
        span = f"bytes {first}-{first + len(data) - 1}" if len(data) else "bytes *"
        # The chunk's Content-Type is the object's: some servers take it from the chunk.
        headers = {"Content-Range": f"{span}/{'*' if total is None else total}", "Content-Type": session.content_type}
        return Request("PUT", session.url, headers, data)

    @staticmethod
    def _persisted(headers: Mapping[str, str]) -> int:
        """Bytes a session holds, from a 308's ``Range: bytes=0-N`` (none without it)."""
        last = headers.get("Range", "").rpartition("-")[2]
        return int(last) + 1 if last.isdigit() else 0

    def _progress(self, upload: Upload, done: int, sent_from: int, stalls: int) -> int:
        """Check what a 308 says was persisted against what was sent; the stalls so far."""
        if done < sent_from:
            raise ObjectStoreError("put_stream: GCS lost part of the upload", path=upload.path, provider="gcs")
        stalls = stalls + 1 if done == sent_from else 0
        if stalls > self._retry.max_retries:
            raise TransportError("put_stream: GCS persists none of the chunk", path=upload.path, provider="gcs")
        return stalls

    async def _send_chunk(self, upload: Upload, offset: int, data: memoryview) -> None:
        """PUT a chunk that is not the last; resend what a 308 says was not persisted."""
        session: _Session = upload.state
        end = offset + len(data)
        sent = stalls = 0
        while True:
            request = self._chunk_request(session, offset + sent, data[sent:], None)
            answer = await self._call("put_stream", upload.path, request.copy, mode=upload.opts.mode, ok=(308,))
            if answer.status != 308:
                raise ObjectStoreError("put_stream: GCS finished the upload early", path=upload.path, provider="gcs")
            done = self._persisted(answer.headers)
            if done >= end:
                return
            stalls = self._progress(upload, done, offset + sent, stalls)
            sent = done - offset

    async def _finish(self, upload: Upload, offset: int, data: memoryview, hashing: asyncio.Future[None]) -> PutResult:
        """PUT the last chunk (with the total); a lost or unreadable answer is settled with the session or the MD5."""
        session: _Session = upload.state
        path, mode = upload.path, upload.opts.mode
        total = offset + len(data)

        async def proves() -> PutResult | None:
            await asyncio.shield(hashing)
            return await self._proof(path, base64.b64encode(session.md5.digest()).decode(), session.stale)

        checked: dict[str, str] = {}
        if self._algorithm(upload.opts) is not None:
            # The whole stream's MD5 on the final chunk: GCS refuses to complete an upload whose
            # bytes do not match it (X-Goog-Hash, as Google's own clients send it).
            await asyncio.shield(hashing)
            checked["X-Goog-Hash"] = f"md5={base64.b64encode(session.md5.digest()).decode()}"
        sent = stalls = 0
        while True:
            request = self._chunk_request(session, offset + sent, data[sent:], total)
            request.headers.update(checked)
            answer = await self._reconciled(
                "put_stream", path, mode, request.copy, proves, gone=_SESSION_GONE, ok=(308,)
            )
            if isinstance(answer, PutResult):
                return answer  # a lost answer, proven ours
            status: PutResult | Answer | None = answer
            if answer.status != 308:
                item = _object_resource(answer.body)
                if item is not None:
                    return self._result(item)
                # A truncated or garbled answer: ask the session, as Google's clients do.
                status = await self._session_status(upload, total)
            if isinstance(status, Answer):  # 308: the session lacks bytes; resend them
                done = self._persisted(status.headers)
                stalls = self._progress(upload, done, offset + sent, stalls)
                sent = done - offset
                continue
            if status is None:
                status = await proves()
            if status is None:
                raise ObjectStoreError(
                    "put_stream: GCS's answer to the upload's end is unreadable and the session cannot tell "
                    "its outcome; the object may have been written",
                    path=path,
                    provider="gcs",
                )
            return status

    async def _session_status(self, upload: Upload, total: int) -> PutResult | Answer | None:
        """A status query: the object when the session finished, the 308 answer when not, ``None`` if it cannot tell."""
        session: _Session = upload.state
        headers = {"Content-Range": f"bytes */{total}"}
        try:
            answer = await self._call(
                "put_stream", upload.path, lambda: Request("PUT", session.url, dict(headers), b""), ok=(308,)
            )
        except ObjectStoreError:
            return None  # gone (fake-gcs-server forgets a finished session), refused or unreachable
        if answer.status == 308:
            return answer
        item = _object_resource(answer.body)
        return self._result(item) if item is not None else None

    async def _complete_upload(self, upload: Upload) -> PutResult:
        session: _Session = upload.state
        if session.result is None:  # the last chunk carries the completion
            raise ObjectStoreError(
                "put_stream: the upload ended without its last chunk", path=upload.path, provider="gcs"
            )
        return session.result

    async def _abort_upload(self, upload: Upload) -> None:
        """DELETE the session (GCS answers 499): its bytes are never committed."""
        session: _Session | None = upload.state
        if session is None or session.result is not None:
            return
        with contextlib.suppress(ObjectStoreError):
            await self._once("put_stream", upload.path, Request("DELETE", session.url), ok=(499,))

    # ------------------------------------------------------------------------------ deletes, copies

    async def _delete(self, path: str, cond: UpdateVersion | None) -> None:
        key = self._key(path)
        if cond is None:
            url = self._url(key)
            await self._delete_idempotent(path, lambda: Request("DELETE", url))
            return
        url = self._url(key, await self._write_params(path, "delete", cond))
        await self._call("delete", path, lambda: Request("DELETE", url), mode=cond)

    async def _delete_batch(self, paths: list[str]) -> list[tuple[int | None, str]] | None:
        """Delete through the JSON batch endpoint; ``None`` where there is none (answers matched by Content-ID)."""
        if not self._batch_supported:
            return None
        boundary = f"osx-batch-{uuid.uuid4().hex}"
        parts = [
            f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <item{i}>\r\n\r\n"
            f"DELETE {self._batch_path}/{quote(self._key(p), safe='')} HTTP/1.1\r\n"
            "Content-Type: application/json\r\nContent-Length: 0\r\n\r\n\r\n"
            for i, p in enumerate(paths)
        ]
        body = ("".join(parts) + f"--{boundary}--\r\n").encode()
        headers = {"Content-Type": f"multipart/mixed; boundary={boundary}"}
        try:
            answer = await self._call(
                "delete_many", None, lambda: Request("POST", self._batch_url, dict(headers), body)
            )
        except ObjectStoreError as e:
            if e.status in (400, 404, 405, 501):
                self._batch_supported = False  # no batch endpoint here: single deletes from now on
                return None
            raise
        statuses = parse_batch_response(answer.headers.get("Content-Type", ""), answer.body, len(paths))
        if statuses is None:
            raise ObjectStoreError("delete_many: the batch answer does not match the request", provider="gcs")
        return [(status, reason) for status, reason in statuses]

    async def _copy(self, src: str, dst: str, *, overwrite: bool, progress: ProgressCallback | None = None) -> None:
        """``rewriteTo``, looping on ``rewriteToken``; ``ifGenerationMatch=0`` for copy_if_not_exists."""
        if progress is not None:
            return await self._copy_reported(src, dst, overwrite, progress)
        operation = "copy" if overwrite else "copy_if_not_exists"
        target = f"b/{quote(self._bucket, safe='')}/o/{quote(self._key(dst), safe='')}"
        url = f"{self._url(self._key(src))}/rewriteTo/{target}"
        query: dict[str, str] = {"fields": "done,rewriteToken"}
        if not overwrite:
            query["ifGenerationMatch"] = "0"  # atomic: the service refuses an existing destination

        async def proves() -> PutResult | None:
            # The destination holds the source's bytes: the copy whose answer was lost was ours.
            source = await self._resource(operation, src, _PROOF_FIELDS)
            return await self._proof(dst, str(source.get("md5Hash")), None) if source.get("md5Hash") else None

        # Without a body the destination takes the source's attributes and metadata. A large
        # or cross-location copy takes several calls, each resuming with the last token.
        while True:
            request_url = _query(url, query)
            try:
                if overwrite or "rewriteToken" in query:
                    answer: Answer | PutResult = await self._call(
                        operation, dst, partial(Request, "POST", request_url), mode=None if overwrite else "create"
                    )
                else:
                    answer = await self._reconciled(
                        operation, dst, "create", partial(Request, "POST", request_url), proves
                    )
            except NotFoundError as e:
                raise NotFoundError(
                    f"{operation} {src!r}: source not found", path=src, provider="gcs", status=404
                ) from e
            if isinstance(answer, PutResult):
                return
            item = self._json(answer.body, operation, dst)
            if item.get("done", True) is True or not item.get("rewriteToken"):
                return
            query["rewriteToken"] = str(item["rewriteToken"])

    # ------------------------------------------------------------------------------ listing

    async def _list_page(self, key_prefix: str, *, delimiter: bool, start: str | None, token: str | None) -> ListPage:
        query = {
            "prefix": key_prefix,
            "maxResults": str(self.page_size),
            "fields": f"items({_META_FIELDS}),prefixes,nextPageToken",
        }
        if delimiter:
            query["delimiter"] = "/"
        if start is not None:
            query["startOffset"] = start  # inclusive on the service: the core filters it
        if token is not None:
            query["pageToken"] = token
        answer = await self._once("list", key_prefix or None, Request("GET", self._url(None, query)))
        page = self._json(answer.body, "list", key_prefix or None)
        items = page.get("items") or []
        prefixes = page.get("prefixes") or []
        if not isinstance(items, list) or not isinstance(prefixes, list):
            raise malformed("listing", type(items).__name__, provider="gcs", path=key_prefix or None)
        next_token = page.get("nextPageToken")
        return ListPage(
            [self._resource_meta(item) for item in items],
            [str(p) for p in prefixes],
            str(next_token) if next_token else None,
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
