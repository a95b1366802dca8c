"""The S3 dialect: only what S3 does differently from the other HTTP stores.

Addressing (path- or virtual-hosted-style) and SigV4 signing, S3's error codes as data, object
headers <-> metadata and attributes, write conditions (a version CAS goes through the current
version's ETag), multipart primitives, the proof that a write whose answer was lost landed (the
SHA-256 checksum S3 stores with it, or the multipart ETag), ListObjectsV2 pages, DeleteObjects,
and copies (CopyObject, or UploadPartCopy completed with ``If-None-Match: *`` for
copy-if-not-exists). Retries, the status table, reads, resume, the part uploader, listing and
reconciliation are the shared core's (:mod:`objectstorex.backends._http`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from base64 import b64encode
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar
from xml.etree import ElementTree

from ..._store import PutOptions
from ..._types import Attributes, ObjectMeta, ProgressCallback, PutResult
from ...checksums import combine_crc, encode
from ...checksums import digest as checksum_digest
from ...errors import IntegrityError, NotFoundError, NotSupportedError, ObjectStoreError, PreconditionError
from ...preconditions import PutMode, UpdateVersion, quote_etag
from .._http import Answer, ErrorCodes, HttpStore, ListPage, Request, Upload, gather_or_cancel
from .._http.headers import http_date, object_size
from .._http.store import service_code
from .._http.upload import digest_part
from .auth import EMPTY_SHA256, UNSIGNED_PAYLOAD, S3Credentials, encode_key, encode_query, sign_headers
from .documents import (
    MalformedAnswer,
    attribute_headers,
    attributes_from,
    complete_xml,
    delete_xml,
    embedded_error,
    error_code,
    multipart_etag,
    parse_complete,
    parse_copy_part,
    parse_delete_errors,
    parse_list,
    parse_tags,
    parse_upload_id,
)

__all__ = ["S3Dialect"]

T = TypeVar("T")

MIB = 1024 * 1024
_MIN_PART = 5 * MIB  # S3 refuses smaller parts (EntityTooSmall), except the last
_DEFAULT_PART = 8 * MIB
_DEFAULT_CONCURRENCY = 4
_MAX_COPY_PART = 5 * 1024 * MIB
_HASH_IN_THREAD = 1 * MIB  # hash bigger bodies off the event loop (hashlib releases the GIL)
_HASH_INLINE = 256 * 1024  # bodies up to this size are hashed inline (digest_part's whole-bytes limit)
_SHA256 = "X-Amz-Content-SHA256"  # set by a request's maker: signing then hashes nothing


async def _sha256(data: bytes | bytearray | memoryview) -> bytes:
    if len(data) > _HASH_IN_THREAD:
        return await asyncio.to_thread(lambda: hashlib.sha256(data).digest())
    return hashlib.sha256(data).digest()


@dataclass(frozen=True, slots=True)
class _Multipart:
    upload_id: str
    conditions: dict[str, str]  # the put mode's condition, sent with the completion
    algorithm: str | None = None  # the checksum of each part (declared at creation)
    checksums: dict[int, tuple[bytes, int]] = field(default_factory=dict)  # part -> (digest, size)


class _SourceChangedError(Exception):
    """A part copy found the source no longer at the ETag the copy started from."""


class S3Dialect(HttpStore):
    """The S3 hooks of :class:`~objectstorex.backends._http.HttpStore`; :class:`.store.S3Store` adds the options."""

    provider = "s3"
    codes: ClassVar[ErrorCodes] = ErrorCodes(
        retry=frozenset({"OperationAborted", "SlowDown", "RequestTimeout", "BadDigest", "XAmzContentSHA256Mismatch"}),
        conflict=frozenset({"ConditionalRequestConflict"}),  # a concurrent conditional write in flight
        container_missing=frozenset({"NoSuchBucket"}),
        not_found=frozenset({"NoSuchKey", "NotFound", "NoSuchVersion"}),
        unauthenticated=frozenset(
            {
                "InvalidAccessKeyId",
                "ExpiredToken",
                "InvalidToken",
                "SignatureDoesNotMatch",
                "TokenRefreshRequired",
                "RequestTimeTooSkewed",  # this machine's clock is off: signatures are time-bound
            }
        ),
        invalid_range=frozenset({"InvalidRange"}),
        not_supported=frozenset({"NotImplemented"}),
        misconfigured=frozenset(
            {"PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"}
        ),
        bad_version=frozenset({"InvalidArgument"}),
    )
    batch_size: ClassVar[int] = 1000
    # For observers: S3's API names (the AWS SDKs' operation names) and the attributes of the
    # "aws-api" semantic conventions.
    api_service = "S3"
    api_names = (
        ("GET", ("tagging",), "GetObjectTagging"),
        ("GET", ("list-type",), "ListObjectsV2"),
        ("GET", ("uploadId",), "ListParts"),
        ("GET", (), "GetObject"),
        ("HEAD", (), "HeadObject"),
        ("PUT", ("partNumber", "h:x-amz-copy-source"), "UploadPartCopy"),
        ("PUT", ("partNumber",), "UploadPart"),
        ("PUT", ("h:x-amz-copy-source",), "CopyObject"),
        ("PUT", (), "PutObject"),
        ("POST", ("uploads",), "CreateMultipartUpload"),
        ("POST", ("uploadId",), "CompleteMultipartUpload"),
        ("POST", ("delete",), "DeleteObjects"),
        ("DELETE", ("uploadId",), "AbortMultipartUpload"),
        ("DELETE", (), "DeleteObject"),
    )
    api_attributes: ClassVar[Mapping[str, str]] = {"rpc.system": "aws-api", "rpc.service": "S3"}
    checksum_read_headers: ClassVar[Mapping[str, str]] = {"x-amz-checksum-mode": "ENABLED"}

    # Set by the store: the bucket, the region and credentials, and the addressing (on open).
    _bucket: str
    _region: str | None
    _credentials: S3Credentials
    _base: str  # scheme://host[:port]
    _host: str  # the Host header as signed (no default port)
    _bucket_path: str  # the encoded path of the bucket, ending in "/"

    # ------------------------------------------------------------------------------ addressing, signing

    def _address(self, endpoint: str, *, virtual_hosted: bool) -> None:
        """Address the bucket at ``endpoint`` (``scheme://host[:port][/path]``)."""
        scheme, _, rest = endpoint.partition("://")
        host, slash, base_path = rest.partition("/")
        default = {"http": ":80", "https": ":443"}.get(scheme, "")
        if default and host.endswith(default):
            host = host[: -len(default)]  # signers sign the Host header without a default port
        base_path = f"/{base_path}".rstrip("/") if slash else ""
        if virtual_hosted:
            host = f"{self._bucket}.{host}"
            self._bucket_path = f"{base_path}/"
        else:
            self._bucket_path = f"{base_path}/{encode_key(self._bucket)}/"
        self._host = host
        self._base = f"{scheme}://{host}"

    def _api_attributes(self, path: str | None, name: str) -> dict[str, str]:
        attributes = {**self.api_attributes, "rpc.method": name, "aws.s3.bucket": self._bucket}
        if path is not None and name not in ("ListObjectsV2", "DeleteObjects"):  # a listing's path is a prefix
            attributes["aws.s3.key"] = self._key(path)
        return attributes

    def _url(self, key: str | None, query: Mapping[str, str] | None = None) -> str:
        path = self._bucket_path + encode_key(key) if key is not None else self._bucket_path.rstrip("/") or "/"
        # The canonical query (sorted, fully encoded) is also what is sent: _authorize reuses it.
        return f"{self._base}{path}?{encode_query(query)}" if query else f"{self._base}{path}"

    async def _authorize(self, request: Request) -> None:
        headers = request.headers
        payload = headers.get(_SHA256)
        creds = self._credentials.static  # explicit keys: no coroutine per request
        if creds is None:
            creds = await self._credentials.frozen()
        if creds is None:
            headers.pop(_SHA256, None)  # anonymous: unsigned, as botocore sends it
            return
        if payload is None:
            body = request.body
            payload = (await _sha256(body)).hex() if body else EMPTY_SHA256
        path, _, query = request.url[len(self._base) :].partition("?")
        request.headers = sign_headers(
            method=request.method,
            host=self._host,
            path=path,
            query=query,
            headers=headers,
            payload_sha256=payload,
            access_key=creds[0],
            secret_key=creds[1],
            session_token=creds[2],
            region=self._region or "us-east-1",
        )

    # ------------------------------------------------------------------------------ answers

    def _error_code(self, answer: Answer) -> str:
        return error_code(answer.body)

    def _refused_checksum(
        self, operation: str, path: str | None, request: Request, answer: Answer, code: str
    ) -> IntegrityError | None:
        if code != "BadDigest":
            return None
        # S3 received bytes that do not match the checksum sent: corrupted on the way, not stored.
        # Retryable (the next attempt resends the bytes); IntegrityError if it keeps happening.
        algorithm = request.headers.get("x-amz-sdk-checksum-algorithm", "").lower()
        sent = request.headers.get(f"x-amz-checksum-{algorithm}") if algorithm else None
        if sent is None:
            algorithm, sent = "md5", request.headers.get("Content-MD5", "")
        return IntegrityError(
            f"{operation} {path!r}: S3 received bytes that do not match their checksum (BadDigest)",
            algorithm=algorithm,
            expected=sent,
            actual="(not reported by the service)",
            path=path,
            provider="s3",
            status=answer.status,
            retryable=True,
        )

    def _failed_inside(self, request: Request, answer: Answer) -> tuple[int, str] | None:
        # CompleteMultipartUpload, CopyObject and UploadPartCopy may fail inside a 200 answer.
        if answer.status == 200 and (
            "x-amz-copy-source" in request.headers or (request.method == "POST" and "uploadId=" in request.url)
        ):
            return embedded_error(answer.status, answer.body)
        return None

    def _parsed(self, operation: str, path: str | None, parse: Callable[[bytes], T], body: bytes) -> T:
        """An XML answer parsed; a broken one is an ObjectStoreError naming what was wrong."""
        try:
            return parse(body)
        except ElementTree.ParseError as e:
            # Retryable: a body cut short in transit parses as broken XML.
            raise ObjectStoreError(
                f"{operation}: S3 sent a malformed answer", path=path, provider="s3", retryable=True
            ) from e
        except MalformedAnswer as e:
            raise ObjectStoreError(f"{operation}: S3 sent a malformed answer: {e}", path=path, provider="s3") from e

    def _meta(self, path: str, headers: Mapping[str, str]) -> ObjectMeta:
        # A chunked whole answer (some S3-compatible gateways) has no length header: the core
        # sizes it by the body it reads.
        has_size = "Content-Length" in headers or "Content-Range" in headers
        size = object_size(headers, provider="s3", path=path) if has_size else 0
        modified = http_date(headers, "Last-Modified", provider="s3", path=path)
        return ObjectMeta(path, size, modified, headers.get("ETag"), headers.get("x-amz-version-id"))

    def _attributes(self, headers: Mapping[str, str]) -> Attributes:
        return attributes_from(headers)

    def _version_query(self, version: str | None) -> dict[str, str] | None:
        return {"versionId": version} if version is not None else None

    def _stored_checksums(self, headers: Mapping[str, str]) -> dict[str, str]:
        if headers.get("x-amz-checksum-type", "").upper() == "COMPOSITE":
            return {}  # a checksum of the parts' checksums: not one of the bytes
        out: dict[str, str] = {}
        for algorithm in ("crc32", "crc32c", "sha256"):
            value = headers.get(f"x-amz-checksum-{algorithm}")
            if value and "-" not in value:  # "<value>-N": composite
                out[algorithm] = value
        return out

    def _put_result(self, answer: Answer) -> PutResult:
        etag = answer.headers.get("ETag")
        if etag is None and answer.body:  # CompleteMultipartUpload: the ETag is in the XML
            with contextlib.suppress(ElementTree.ParseError):
                etag = parse_complete(answer.body)
        return PutResult(etag, answer.headers.get("x-amz-version-id"))

    # ------------------------------------------------------------------------------ conditions

    async def _current(self, path: str) -> ObjectMeta | None:
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
        head = await self._current(path)
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

    async def _put_request(self, path: str, data: bytes | memoryview, opts: PutOptions) -> Request:
        mode = opts.mode
        if mode == "overwrite" and opts.attributes.is_empty() and not opts.tags:
            headers: dict[str, str] = {}
        else:
            headers = attribute_headers(opts.attributes, opts.tags, path)
        algorithm = self._algorithm(opts)
        # Stored with the object and checked by S3 on arrival. For a conditional write it is also
        # what proves that the object a retry finds after a lost answer is the one sent (see
        # _landed): SHA-256 when no other is chosen.
        flexible = algorithm if algorithm in ("crc32", "crc32c", "sha256") else None
        if flexible is None and mode != "overwrite":
            flexible = "sha256"
        # A small body is hashed right here: no coroutine (nor thread) per digest.
        small = len(data) <= _HASH_INLINE
        digest = None
        if flexible == "sha256" or not self._unsigned_ok(algorithm):
            digest = hashlib.sha256(data).digest() if small else await _sha256(data)
        # Hashed once, not per attempt (signing then hashes nothing).
        headers[_SHA256] = UNSIGNED_PAYLOAD if digest is None else digest.hex()
        if algorithm == "md5":
            md5 = checksum_digest("md5", data) if small else await digest_part("md5", data)
            headers["Content-MD5"] = encode(md5)  # checked by S3, not stored
        if flexible is not None:
            if flexible == "sha256" and digest is not None:
                value = digest
            else:
                value = checksum_digest(flexible, data) if small else await digest_part(flexible, data)
            headers["x-amz-sdk-checksum-algorithm"] = flexible.upper()
            headers[f"x-amz-checksum-{flexible}"] = encode(value)
        if mode != "overwrite":
            headers.update(await self._condition_headers(path, mode, "put"))
        return Request("PUT", self._url(self._key(path)), headers, data)

    def _unsigned_ok(self, algorithm: str | None) -> bool:
        """Whether a body may go with ``UNSIGNED-PAYLOAD`` instead of its SHA-256 in the signature.

        Only over TLS (which protects it from tampering, as the signed hash would) and with a
        checksum that S3 verifies on arrival (which catches corruption): what the AWS SDKs do.
        Over plain HTTP the body's SHA-256 stays signed, as botocore signs it.
        """
        return algorithm is not None and self._base.startswith("https:")

    async def _landed(self, path: str, data: bytes | memoryview, request: Request) -> PutResult | None:
        """Whether the stored object is the one sent (by its SHA-256, else its MD5 ETag)."""
        try:
            answer = await self._call(
                "put",
                path,
                lambda: Request("HEAD", self._url(self._key(path)), {"x-amz-checksum-mode": "ENABLED"}),
            )
        except NotFoundError:
            return None
        algorithm = request.headers.get("x-amz-sdk-checksum-algorithm", "SHA256").lower()
        stored = answer.headers.get(f"x-amz-checksum-{algorithm}")
        etag = answer.headers.get("ETag")
        if stored is not None:
            same = stored == request.headers.get(f"x-amz-checksum-{algorithm}")
        else:
            plain = (etag or "").strip('"')
            same = len(plain) == 32 and plain == hashlib.md5(data, usedforsecurity=False).hexdigest()
        return PutResult(etag, answer.headers.get("x-amz-version-id")) if same else None

    def _part_size(self, requested: int | None) -> int:
        return max(_MIN_PART, requested or _DEFAULT_PART)

    def _concurrency(self, requested: int | None) -> int:
        return max(1, requested or _DEFAULT_CONCURRENCY)

    async def _create_upload(self, path: str, key: str, headers: dict[str, str], operation: str) -> str:
        url = self._url(key, {"uploads": ""})
        answer = await self._call(operation, path, lambda: Request("POST", url, dict(headers)))
        return self._parsed(operation, path, parse_upload_id, answer.body)

    async def _begin_upload(self, path: str, key: str, opts: PutOptions) -> _Multipart:
        conditions = await self._condition_headers(path, opts.mode, "put_stream")
        headers = attribute_headers(opts.attributes, opts.tags, path)
        algorithm = self._algorithm(opts)
        if algorithm in ("crc32", "crc32c", "sha256"):
            # A CRC of the whole object (combined from the parts' CRCs); SHA-256 can only be
            # composite (a checksum of the parts' checksums, which downloads cannot check).
            headers["x-amz-checksum-algorithm"] = algorithm.upper()
            headers["x-amz-checksum-type"] = "COMPOSITE" if algorithm == "sha256" else "FULL_OBJECT"
        upload_id = await self._create_upload(path, key, headers, "put_stream")
        return _Multipart(upload_id, conditions, algorithm)

    async def _upload_part(self, upload: Upload, number: int, offset: int, data: memoryview, last: bool) -> str:
        state: _Multipart = upload.state
        algorithm = state.algorithm
        sha256 = await _sha256(data) if algorithm == "sha256" or not self._unsigned_ok(algorithm) else None
        headers = {_SHA256: UNSIGNED_PAYLOAD if sha256 is None else sha256.hex()}
        if algorithm == "md5":
            headers["Content-MD5"] = encode(await digest_part("md5", data))  # checked by S3
        elif algorithm is not None:
            value = sha256 if algorithm == "sha256" and sha256 is not None else await digest_part(algorithm, data)
            state.checksums[number] = (value, len(data))
            headers["x-amz-sdk-checksum-algorithm"] = algorithm.upper()
            headers[f"x-amz-checksum-{algorithm}"] = encode(value)
        url = self._url(upload.key, {"partNumber": str(number), "uploadId": state.upload_id})
        answer = await self._call("put_stream", upload.path, lambda: Request("PUT", url, dict(headers), data))
        etag = answer.headers.get("ETag")
        if not etag:
            raise ObjectStoreError(
                f"put_stream {upload.path!r}: part {number} got no ETag", path=upload.path, provider="s3"
            )
        return etag

    async def _complete_upload(self, upload: Upload) -> PutResult:
        state: _Multipart = upload.state
        return await self._commit(
            upload.path,
            upload.key,
            state.upload_id,
            upload.parts,
            upload.opts.mode,
            state.conditions,
            "put_stream",
            state if state.checksums else None,
        )

    async def _commit(
        self,
        path: str,
        key: str,
        upload_id: str,
        parts: Mapping[int, str],
        mode: PutMode,
        conditions: Mapping[str, str],
        operation: str,
        checked: _Multipart | None = None,
    ) -> PutResult:
        """CompleteMultipartUpload with the mode's condition, reconciled when its answer is lost.

        With ``checked``, each part's checksum is listed, and a CRC of the whole object is sent,
        combined from the parts' CRCs without reading the bytes again.
        """
        ordered = sorted(parts.items())
        checksum_headers: dict[str, str] = {}
        if checked is not None and checked.algorithm is not None:
            algorithm = checked.algorithm
            sums = checked.checksums
            body = complete_xml(ordered, {n: encode(sums[n][0]) for n, _ in ordered}, algorithm)
            if algorithm != "sha256":
                whole = combine_crc(algorithm, (sums[n] for n, _ in ordered))
                checksum_headers = {f"x-amz-checksum-{algorithm}": encode(whole), "x-amz-checksum-type": "FULL_OBJECT"}
        else:
            body = complete_xml(ordered)
        headers = {
            "Content-Type": "application/xml",
            _SHA256: hashlib.sha256(body).hexdigest(),
            **checksum_headers,
            **conditions,
        }
        url = self._url(key, {"uploadId": upload_id})
        expected = multipart_etag([e for _, e in ordered])

        async def proves() -> PutResult | None:
            # The completed object's ETag derives from exactly our parts.
            current = await self._current(path)
            if current is None or expected is None or (current.etag or "").strip('"') != expected:
                return None
            return PutResult(current.etag, current.version)

        result = await self._reconciled(
            operation,
            path,
            mode,
            lambda: Request("POST", url, dict(headers), body),
            proves,
            gone=frozenset({"NoSuchUpload"}),  # a retry of a completion that landed
        )
        return result if isinstance(result, PutResult) else self._put_result(result)

    async def _abort(self, path: str, key: str, upload_id: str) -> None:
        url = self._url(key, {"uploadId": upload_id})
        with contextlib.suppress(ObjectStoreError):
            await self._call("abort", path, lambda: Request("DELETE", url))

    async def _abort_upload(self, upload: Upload) -> None:
        await self._abort(upload.path, upload.key, upload.state.upload_id)

    # ------------------------------------------------------------------------------ deletes

    async def _delete(self, path: str, cond: UpdateVersion | None) -> None:
        url = self._url(self._key(path))
        if cond is None:
            await self._delete_idempotent(path, lambda: Request("DELETE", url))
            return
        etag = cond.etag if cond.version is None else await self._resolve_version(path, cond, "delete")
        assert etag is not None
        headers = {"If-Match": quote_etag(etag)}

        async def gone() -> PutResult | None:
            # A retry after a lost answer finds the object gone (S3: 404): the delete was ours.
            return None if await self._current(path) is not None else PutResult(None, None)

        # S3 answers 404 for a missing key and 412 for a changed one: both a failed precondition.
        await self._reconciled("delete", path, cond, lambda: Request("DELETE", url, dict(headers)), gone)

    async def _delete_batch(self, paths: list[str]) -> list[tuple[int | None, str]] | None:
        keys = [self._key(p) for p in paths]
        body = delete_xml(keys)
        digest = b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
        headers = {"Content-MD5": digest, "Content-Type": "application/xml"}
        url = self._url(None, {"delete": ""})
        answer = await self._call("delete_many", None, lambda: Request("POST", url, dict(headers), body))
        failed = dict(self._parsed("delete_many", None, parse_delete_errors, answer.body))
        out: list[tuple[int | None, str]] = []
        for key in keys:
            code = failed.get(key)
            out.append((200, "") if code is None else (403 if code == "AccessDenied" else None, code))
        return out

    # ------------------------------------------------------------------------------ listing, tags

    async def _list_page(self, key_prefix: str, *, delimiter: bool, start: str | None, token: str | None) -> ListPage:
        query: dict[str, str] = {"list-type": "2", "encoding-type": "url", "prefix": key_prefix}
        if self.page_size != 1000:
            query["max-keys"] = str(self.page_size)
        if delimiter:
            query["delimiter"] = "/"
        if token is not None:
            query["continuation-token"] = token
        elif start is not None:
            query["start-after"] = start
        answer = await self._once("list", None, Request("GET", self._url(None, query)))
        page = self._parsed("list", None, parse_list, answer.body)
        objects = [ObjectMeta(self._location(o.key), o.size, o.last_modified, o.etag, None) for o in page.objects]
        return ListPage(objects, page.prefixes, page.next_token)

    async def _get_tags(self, path: str) -> dict[str, str]:
        url = self._url(self._key(path), {"tagging": ""})
        answer = await self._call("get_tags", path, lambda: Request("GET", url))
        return self._parsed("get_tags", path, parse_tags, answer.body)

    # ------------------------------------------------------------------------------ copies

    def _copy_source(self, path: str) -> str:
        """The ``x-amz-copy-source`` value of ``path`` in this bucket (URL-encoded)."""
        return f"/{encode_key(self._bucket)}/{encode_key(self._key(path))}"

    async def _copy(self, src: str, dst: str, *, overwrite: bool, progress: ProgressCallback | None = None) -> None:
        if progress is not None:
            return await self._copy_reported(src, dst, overwrite, progress)
        if not overwrite:
            await self._copy_multipart(src, dst, create=True)
            return
        headers = {
            "x-amz-copy-source": self._copy_source(src),
            "x-amz-metadata-directive": "COPY",
            "x-amz-tagging-directive": "COPY",
        }
        url = self._url(self._key(dst))
        try:
            await self._call("copy", src, lambda: Request("PUT", url, dict(headers)))
        except ObjectStoreError as e:
            # CopyObject stops at 5 GiB; bigger objects are copied part by part.
            if e.status == 400 and service_code(e) in ("InvalidRequest", "EntityTooLarge"):
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
            except _SourceChangedError as e:
                if attempt == 2:
                    raise ObjectStoreError(
                        f"copy {src!r}: the source kept changing during the copy", path=src, provider="s3"
                    ) from e

    async def _copy_multipart_once(self, src: str, dst: str, *, create: bool) -> None:
        url = self._url(self._key(src))
        r = await self._call("copy", src, lambda: Request("HEAD", url))
        meta = self._meta(src, r.headers)
        # S3 announces tags with x-amz-tagging-count; servers that do not are asked anyway.
        tags: dict[str, str] | None = None
        if r.headers.get("x-amz-tagging-count", "1") != "0":
            try:
                tags = await self._get_tags(src)
            except NotSupportedError:
                tags = None  # S3-compatible servers without tagging (e.g. R2): nothing to copy
        headers = attribute_headers(self._attributes(r.headers), tags, dst)
        key = self._key(dst)
        mode: PutMode = "create" if create else "overwrite"
        conditions = {"If-None-Match": "*"} if create else {}
        if meta.size == 0:
            # UploadPartCopy needs a non-empty range: an empty object is a (conditional) put.
            request = await self._put_request(dst, b"", PutOptions(mode, self._attributes(r.headers), tags))
            if create:
                await self._reconciled("copy", dst, mode, request.copy, lambda: self._landed(dst, b"", request))
            else:
                await self._call("copy", dst, request.copy)
            return
        upload_id = await self._create_upload(dst, key, headers, "copy")
        try:
            count = -(-meta.size // _MAX_COPY_PART)
            step = -(-meta.size // count)  # equal parts: each >= 5 MiB except possibly the last
            source = self._copy_source(src)
            slots = asyncio.Semaphore(_DEFAULT_CONCURRENCY)

            async def part(number: int, start: int) -> tuple[int, str]:
                part_url = self._url(key, {"partNumber": str(number), "uploadId": upload_id})
                part_headers = {
                    "x-amz-copy-source": source,
                    "x-amz-copy-source-range": f"bytes={start}-{min(meta.size, start + step) - 1}",
                    "x-amz-copy-source-if-match": quote_etag(meta.etag or "*"),
                }
                async with slots:
                    try:
                        answer = await self._call("copy", src, lambda: Request("PUT", part_url, dict(part_headers)))
                    except PreconditionError as e:
                        raise _SourceChangedError() from e
                return number, self._parsed("copy", src, parse_copy_part, answer.body)

            done = await gather_or_cancel(part(n, s) for n, s in enumerate(range(0, meta.size, step), start=1))
            await self._commit(dst, key, upload_id, dict(done), mode, conditions, "copy")
        except BaseException:
            # Shielded: a cancelled copy must still be aborted, so no part is left behind.
            await asyncio.shield(self._abort(dst, key, upload_id))
            raise
