"""The Azure Blob dialect of the HTTP core: what Azure does differently, and only that.

Addressing (``{endpoint}/{container}/{blob}``, a SAS appended to every URL), signing (Shared
Key, SAS or bearer token, :mod:`.auth`), error codes as data, ``x-ms-*`` headers <-> attributes
and metadata, write conditions (``If-None-Match: *`` / ``If-Match``, with a ``Content-MD5`` that
proves a lost answer's write), block uploads (Put Block / Put Block List, proven by the committed
block list), List Blobs pages (XML, ``NextMarker``, ``startFrom``), Blob Batch deletes
(``multipart/mixed``), Copy Blob, blob index tags and SAS URLs. Everything else -- retries,
the status table, reads and resumes, the part uploader, paging, ``delete_many``'s fallback,
reconciliation -- is :class:`~objectstorex.backends._http.HttpStore`.
"""

from __future__ import annotations

import asyncio
import base64
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from ..._store import PutOptions
from ..._types import Attributes, ObjectMeta, ProgressCallback, PutResult
from ...checksums import Hasher, digest_async, encode, hasher, update_async
from ...errors import IntegrityError, InvalidArgumentError, NotFoundError, ObjectStoreError
from ...preconditions import UpdateVersion, http_put_headers, quote_etag
from .._http import Answer, ErrorCodes, HttpStore, ListPage, Request, Upload
from .._http.headers import http_date, object_size
from .._http.store import service_code
from .auth import AzureAuth, AzureSettings
from .documents import (
    batch_body,
    batch_statuses,
    block_list,
    committed_blocks,
    delegation_key,
    parse_list_page,
    parse_tags,
)

__all__ = ["AzureDialect"]

MIB = 1024 * 1024
_API_VERSION = "2025-01-05"
_LIST_FROM_VERSION = "2026-02-06"  # the first API version with List Blobs' startFrom
_MIN_PART = 1 * MIB  # Azure has no minimum block size; this keeps block counts sane
_MAX_BLOCKS = 50_000
_METADATA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CODE = re.compile(rb"<Code>([^<]+)</Code>")
_AZURITE_EMPTY_SPAN = re.compile(r"bytes [0-9-]+/(\d+)")
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


class _WholeMd5:
    """The MD5 of a block upload's whole blob, hashed block after block in order (parts run concurrently)."""

    def __init__(self) -> None:
        self.md5: Hasher = hasher("md5")
        self.tail: asyncio.Future[None] | None = None  # done when the previous block is hashed


class AzureDialect(HttpStore):
    """The Azure hooks of :class:`HttpStore`; :class:`~objectstorex.AzureStore` adds the options."""

    provider = "azure"
    codes = ErrorCodes(
        retry=frozenset(("ServerBusy", "OperationTimedOut", "InternalError")),
        container_missing=frozenset(("ContainerNotFound",)),
        not_found=frozenset(("BlobNotFound",)),
        exists=frozenset(("BlobAlreadyExists",)),
        unauthenticated=frozenset(
            (
                "AuthenticationFailed",
                "InvalidAuthenticationInfo",
                "NoAuthenticationInformation",
                "ExpiredAuthenticationToken",
            )
        ),
        invalid_range=frozenset(("InvalidRange",)),
        not_supported=frozenset(("FeatureNotSupported", "NotImplemented")),
    )
    range_header = "x-ms-range"
    suffix_ranges = False  # no "bytes=-n": the core reads the size first
    batch_size = 256  # Blob Batch takes at most 256 sub-requests
    page_size = 5000  # List Blobs' maximum
    # For observers: the Blob service REST operations' names.
    api_service = "Azure"
    api_names = (
        ("GET", ("comp=list",), "ListBlobs"),
        ("GET", ("comp=blocklist",), "GetBlockList"),
        ("GET", ("comp=tags",), "GetBlobTags"),
        ("GET", (), "GetBlob"),
        ("HEAD", (), "GetBlobProperties"),
        ("PUT", ("comp=block", "h:x-ms-copy-source"), "PutBlockFromURL"),
        ("PUT", ("comp=block",), "PutBlock"),
        ("PUT", ("comp=blocklist",), "PutBlockList"),
        ("PUT", ("h:x-ms-copy-source",), "CopyBlob"),
        ("PUT", (), "PutBlob"),
        ("POST", ("comp=batch",), "BlobBatch"),
        ("POST", ("comp=userdelegationkey",), "GetUserDelegationKey"),
        ("DELETE", (), "DeleteBlob"),
    )
    api_attributes: ClassVar[Mapping[str, str]] = {"az.namespace": "Microsoft.Storage"}
    _block_gone: ClassVar[frozenset[str]] = frozenset(("InvalidBlockList",))

    _settings: AzureSettings
    _container: str
    _origin: str  # scheme://host[:port]
    _base_path: str  # the container's encoded path (with the account on path-style endpoints)
    _auth: AzureAuth | None
    _owned_credential: Any

    # ------------------------------------------------------------------------------ addressing, signing

    def _blob_path(self, key: str) -> str:
        return f"{self._base_path}/{quote(key, safe='/~')}"

    def _url(self, key: str | None, query: Mapping[str, str] | None = None) -> str:
        url = self._origin + (self._blob_path(key) if key is not None else self._base_path)
        q = urlencode(query, quote_via=quote, safe="") if query else ""
        sas = self._settings.sas
        if sas:
            q = f"{q}&{sas}" if q else sas
        return f"{url}?{q}" if q else url

    async def _authorize(self, request: Request) -> None:
        auth = self._auth
        assert auth is not None  # set while open
        # Signed by lower-case name; sent as named (metadata names keep their case). Of two
        # names differing in case the later wins: the request's own over a default header.
        names = {k.lower(): k for k in request.headers}
        headers = {k.lower(): v for k, v in request.headers.items()}
        headers.setdefault("x-ms-version", _API_VERSION)
        if request.method == "PUT":
            # aiohttp sends this on every PUT, body or not; it must be signed as sent.
            headers.setdefault("content-type", "application/octet-stream")
        split = urlsplit(request.url)
        query = dict(parse_qsl(split.query, keep_blank_values=True)) if auth.kind == "key" and split.query else None
        length = len(request.body) if request.body is not None else 0
        await auth.headers(request.method, split.path, query, headers, length)
        request.headers = {names.get(k, k): v for k, v in headers.items()}

    def _error_code(self, answer: Answer) -> str:
        code = answer.headers.get("x-ms-error-code", "")
        if not code and answer.body:
            found = _CODE.search(answer.body)
            code = found.group(1).decode(errors="replace") if found else ""
        return code

    # ------------------------------------------------------------------------------ headers

    def _meta(self, path: str, headers: Mapping[str, str]) -> ObjectMeta:
        try:
            size = object_size(headers, provider="azure", path=path)
        except ObjectStoreError:
            # Azurite answers a range starting at the size "bytes 10-9/10" ("bytes 0--1/0" on an
            # empty blob): the total is still the size, and the core's range check then raises
            # InvalidRangeError.
            quirk = _AZURITE_EMPTY_SPAN.fullmatch(headers.get("Content-Range", ""))
            if quirk is None:
                raise
            size = int(quirk.group(1))
        modified = http_date(headers, "Last-Modified", provider="azure", path=path)
        return ObjectMeta(path, size, modified, headers.get("ETag"), None)

    def _stored_checksums(self, headers: Mapping[str, str]) -> dict[str, str]:
        md5 = headers.get("Content-MD5")  # on a whole-blob read: the blob's stored MD5, if it has one
        return {"md5": md5} if md5 else {}

    def _refused_checksum(
        self, operation: str, path: str | None, request: Request, answer: Answer, code: str
    ) -> IntegrityError | None:
        if code != "Md5Mismatch":
            return None
        # The service hashed a body that differs from our Content-MD5: corrupted on the way; not stored.
        found = re.search(rb"<ServerCalculatedMd5>([^<]*)</ServerCalculatedMd5>", answer.body)
        return IntegrityError(
            f"{operation} {path!r}: Azure received bytes that do not match their Content-MD5",
            algorithm="md5",
            expected=request.headers.get("Content-MD5") or request.headers.get("content-md5") or "",
            actual=found.group(1).decode(errors="replace") if found else "(not reported by the service)",
            path=path,
            provider="azure",
            status=answer.status,
        )

    def _attributes(self, headers: Mapping[str, str]) -> Attributes:
        metadata = {k[10:]: v for k, v in headers.items() if k[:10].lower() == "x-ms-meta-"}
        return Attributes(**{name: headers.get(h) for name, h in _RESPONSE_ATTRS.items()}, metadata=metadata)

    def _write_headers(self, opts: PutOptions, path: str) -> dict[str, str]:
        """Attributes, metadata, tags and the mode's condition (checked before any I/O)."""
        headers: dict[str, str] = {}
        attrs = opts.attributes
        for name, header in _ATTR_HEADERS.items():
            value = getattr(attrs, name)
            if value is not None:
                headers[header] = value
        for name, value in attrs.metadata.items():
            # Azure keeps metadata as HTTP headers: names must be C# identifiers, values ASCII.
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
            headers[f"x-ms-meta-{name}"] = value
        if opts.tags:
            headers["x-ms-tags"] = urlencode(opts.tags, quote_via=quote, safe="")
        headers.update((k.lower(), v) for k, v in http_put_headers(opts.mode).items())
        return headers

    # ------------------------------------------------------------------------------ whole writes

    async def _put_request(self, path: str, data: bytes | memoryview, opts: PutOptions) -> Request:
        headers = self._write_headers(opts, path)
        headers["x-ms-blob-type"] = "BlockBlob"
        # The request's Content-Type sets the blob's unless x-ms-blob-content-type does.
        headers["content-type"] = headers.pop("x-ms-blob-content-type", "application/octet-stream")
        if opts.mode != "overwrite" or self._algorithm(opts) == "md5":
            # Checked by Azure on arrival and stored with the blob: also what proves a lost
            # answer's write was ours (_landed).
            headers["content-md5"] = encode(await digest_async("md5", data))  # off the loop when large
        return Request("PUT", self._url(self._key(path)), headers, data)

    def _put_result(self, answer: Answer) -> PutResult:
        return PutResult(answer.headers.get("ETag"), None)

    async def _landed(self, path: str, data: bytes | memoryview, request: Request) -> PutResult | None:
        try:
            answer = await self._call("put", path, lambda: Request("HEAD", self._url(self._key(path))))
        except NotFoundError:
            return None
        sent = request.headers.get("content-md5")
        if (
            sent
            and answer.headers.get("Content-MD5") == sent
            and answer.headers.get("Content-Length") == str(len(data))
        ):
            return PutResult(answer.headers.get("ETag"), None)
        return None

    # ------------------------------------------------------------------------------ block uploads

    def _part_size(self, requested: int | None) -> int:
        return max(requested or 8 * MIB, _MIN_PART)

    async def _begin_upload(self, path: str, key: str, opts: PutOptions) -> Any:
        headers = self._write_headers(opts, path)  # validated before any block is sent
        headers["content-type"] = "application/xml"
        # Block ids are unique to this upload. With MD5 the whole blob's is stored by Put Block
        # List (x-ms-blob-content-md5): downloads of the blob can then be checked.
        whole = _WholeMd5() if self._algorithm(opts) == "md5" else None
        return uuid.uuid4().hex[:16], headers, whole

    async def _upload_part(self, upload: Upload, number: int, offset: int, data: memoryview, last: bool) -> Any:
        if number > _MAX_BLOCKS:
            raise InvalidArgumentError(
                f"the stream needs more than {_MAX_BLOCKS} blocks: raise part_size", path=upload.path, provider="azure"
            )
        block_id = base64.b64encode(f"{upload.state[0]}-{number:08d}".encode()).decode()
        url = self._url(upload.key, {"comp": "block", "blockid": block_id})
        headers = {"content-type": "application/octet-stream"}
        whole: _WholeMd5 | None = upload.state[2]
        if whole is None:
            await self._call("put_stream", upload.path, lambda: Request("PUT", url, dict(headers), data))
            return block_id
        # Taken before any await: blocks start in order, so each waits for the one before it.
        previous, whole.tail = whole.tail, asyncio.get_running_loop().create_future()
        mine = whole.tail
        try:
            headers["content-md5"] = encode(await digest_async("md5", data))  # Azure checks the block
            await self._call("put_stream", upload.path, lambda: Request("PUT", url, dict(headers), data))
            if previous is not None:
                # Shielded: cancelling this block must not cancel the previous block's future,
                # which its own task still resolves.
                await asyncio.shield(previous)
            await update_async(whole.md5, data)
        finally:
            if not mine.done():
                mine.set_result(None)
        return block_id

    def _block_ids(self, upload: Upload) -> list[str]:
        return [upload.parts[n] for n in sorted(upload.parts)]

    async def _complete_upload(self, upload: Upload) -> PutResult:
        """Put Block List with the mode's condition; a lost answer is proven by the committed list."""
        body = block_list(self._block_ids(upload))
        url = self._url(upload.key, {"comp": "blocklist"})
        headers: dict[str, str] = upload.state[1]
        whole: _WholeMd5 | None = upload.state[2]
        if whole is not None:
            headers = {**headers, "x-ms-blob-content-md5": encode(whole.md5.digest())}

        def make() -> Request:
            return Request("PUT", url, dict(headers), body)

        mode = upload.opts.mode
        if mode == "overwrite":
            return self._put_result(await self._call("put_stream", upload.path, make))
        result = await self._reconciled(
            "put_stream", upload.path, mode, make, lambda: self._committed(upload), gone=self._block_gone
        )
        return result if isinstance(result, PutResult) else self._put_result(result)

    async def _committed(self, upload: Upload) -> PutResult | None:
        """The blob's ETag if its committed blocks are this upload's (ids are unique to it)."""
        url = self._url(upload.key, {"comp": "blocklist", "blocklisttype": "committed"})
        try:
            answer = await self._call("put_stream", upload.path, lambda: Request("GET", url))
        except NotFoundError:
            return None
        if committed_blocks(answer.body) != self._block_ids(upload):
            return None
        return PutResult((await self._head(upload.path, None)).etag, None)

    async def _abort_upload(self, upload: Upload) -> None:
        """Discard the staged blocks of a blob that does not exist (best effort).

        Azure has no call for this; deleting the name removes its uncommitted blocks. An existing
        blob is never touched (its blocks expire after 7 days), and ``If-None-Match: *`` keeps the
        delete off a blob another writer may have committed meanwhile. A block whose request was
        cancelled after its body went out may still land after the delete: the uncommitted list
        is checked again, a few times, briefly, until it is found empty twice in a row.
        """
        url, path = self._url(upload.key), upload.path
        uncommitted = self._url(upload.key, {"comp": "blocklist", "blocklisttype": "uncommitted"})
        delay = 0.05
        empty_before = False
        for _ in range(5):
            try:
                await self._once("put_stream", path, Request("HEAD", url))
                return  # a committed blob: leave it (and the blocks) alone
            except NotFoundError:
                pass
            except ObjectStoreError:
                return
            try:
                await self._once("put_stream", path, Request("DELETE", url, {"if-none-match": "*"}))
            except ObjectStoreError:
                pass
            await asyncio.sleep(delay)
            delay *= 2
            try:
                await self._once("put_stream", path, Request("GET", uncommitted))
            except NotFoundError:
                if empty_before:
                    return  # nothing staged under the name, twice in a row
                # Once is not enough: a cancelled block may not have landed yet.
                empty_before = True
                continue
            except ObjectStoreError:
                return
            empty_before = False

    # ------------------------------------------------------------------------------ deletes, copies, tags

    async def _delete(self, path: str, cond: UpdateVersion | None) -> None:
        url = self._url(self._key(path))
        headers = {"x-ms-delete-snapshots": "include"}
        if cond is None:
            await self._delete_idempotent(path, lambda: Request("DELETE", url, dict(headers)))
            return
        assert cond.etag is not None  # BaseStore refuses version-only conditions (no versions)
        headers["if-match"] = quote_etag(cond.etag)
        await self._call("delete", path, lambda: Request("DELETE", url, dict(headers)), mode=cond)

    async def _delete_batch(self, paths: list[str]) -> list[tuple[int | None, str]] | None:
        """One Blob Batch request; ``(status, x-ms-error-code)`` per path, by Content-ID."""
        resources = [self._blob_path(self._key(p)) for p in paths]
        url = self._url(None, {"restype": "container", "comp": "batch"})

        async def attempt() -> list[tuple[int | None, str]]:
            boundary = f"batch_{uuid.uuid4()}"
            body = await self._batch_body(resources, boundary)  # signed anew on each attempt
            headers = {"content-type": f"multipart/mixed; boundary={boundary}"}
            answer = await self._once("delete_many", None, Request("POST", url, headers, body))
            return batch_statuses(answer.headers.get("Content-Type", ""), answer.body, len(paths))

        return await self._retrying("delete_many", None, attempt)

    async def _batch_body(self, resources: list[str], boundary: str) -> bytes:
        """One ``DELETE`` per blob, each authorized on its own.

        Shared Key signs each sub-request, a SAS rides in its query, a bearer token in its header.
        """
        auth = self._auth
        assert auth is not None
        sas = self._settings.sas
        subrequests: list[tuple[str, dict[str, str]]] = []
        for resource in resources:
            headers = {"x-ms-delete-snapshots": "include"}
            await auth.headers("DELETE", resource, None, headers, 0)
            subrequests.append((f"{resource}?{sas}" if sas else resource, headers))
        return batch_body(subrequests, boundary)

    async def _copy(self, src: str, dst: str, *, overwrite: bool, progress: ProgressCallback | None = None) -> None:
        if progress is not None:
            return await self._copy_reported(src, dst, overwrite, progress)
        # Copy Blob keeps content settings and metadata but not index tags: read the source's
        # (this also reports a missing source) and set them on the copy.
        tags = await self._get_tags(src)
        source = self._url(self._key(src))  # a SAS in it authorizes the read of the source
        headers = {"x-ms-copy-source": source}
        if tags:
            headers["x-ms-tags"] = urlencode(tags, quote_via=quote, safe="")
        url = self._url(self._key(dst))
        operation = "copy" if overwrite else "copy_if_not_exists"

        def make() -> Request:
            return Request("PUT", url, dict(headers))

        try:
            if overwrite:
                answer = await self._call(operation, dst, make)
            else:
                headers["if-none-match"] = "*"  # atomic: the service refuses an existing destination
                result = await self._reconciled(operation, dst, "create", make, lambda: self._copied(dst, source))
                if isinstance(result, PutResult):
                    return
                answer = result
        except NotFoundError as e:
            if service_code(e) in self.codes.container_missing:
                raise
            raise NotFoundError(f"{operation} {src!r}: source not found", path=src, provider="azure", status=404) from e
        status = answer.headers.get("x-ms-copy-status", "success")
        delay = 0.05
        while status == "pending":  # Azure may copy asynchronously (Azurite copies at once)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
            status = (await self._call(operation, dst, lambda: Request("HEAD", url))).headers.get(
                "x-ms-copy-status", "success"
            )
        if status != "success":
            raise ObjectStoreError(f"{operation} {dst!r}: the copy ended as {status!r}", path=dst, provider="azure")

    async def _copied(self, dst: str, source: str) -> PutResult | None:
        """Whether ``dst`` is a copy of ``source`` (a lost Copy Blob answer's proof)."""
        try:
            answer = await self._call("copy_if_not_exists", dst, lambda: Request("HEAD", self._url(self._key(dst))))
        except NotFoundError:
            return None
        copied_from = answer.headers.get("x-ms-copy-source", "")
        # Compared by decoded path: the service may re-encode the URL and drops a SAS from it.
        if copied_from and unquote(urlsplit(copied_from).path) == unquote(urlsplit(source).path):
            return PutResult(answer.headers.get("ETag"), None)
        return None

    async def _get_tags(self, path: str) -> dict[str, str]:
        url = self._url(self._key(path), {"comp": "tags"})
        return parse_tags((await self._call("get_tags", path, lambda: Request("GET", url))).body, path)

    # ------------------------------------------------------------------------------ listing

    async def _list_page(self, key_prefix: str, *, delimiter: bool, start: str | None, token: str | None) -> ListPage:
        query = {"restype": "container", "comp": "list", "maxresults": str(self.page_size)}
        if key_prefix:
            query["prefix"] = key_prefix
        if delimiter:
            query["delimiter"] = "/"
        if token:
            query["marker"] = token
        headers = {}
        if start is not None:
            query["startFrom"] = start  # inclusive: the core filters
            headers["x-ms-version"] = _LIST_FROM_VERSION
        answer = await self._once("list", key_prefix or None, Request("GET", self._url(None, query), headers))
        blobs, prefixes, marker = parse_list_page(answer.body)
        location = self._location
        objects = [ObjectMeta(location(name), size, modified, etag, None) for name, size, modified, etag in blobs]
        return ListPage(objects, prefixes, marker)

    # ------------------------------------------------------------------------------ user-delegation keys

    async def _user_delegation_key(self, start: datetime, expiry: datetime, path: str) -> Any:
        """Get User Delegation Key, sent like every other request (Timeouts, retries, errors)."""
        stamp = "%Y-%m-%dT%H:%M:%SZ"
        body = (
            '<?xml version="1.0" encoding="utf-8"?><KeyInfo>'
            f"<Start>{start.strftime(stamp)}</Start><Expiry>{expiry.strftime(stamp)}</Expiry></KeyInfo>"
        ).encode()
        url = f"{self._origin}{urlsplit(self._settings.endpoint).path}/?restype=service&comp=userdelegationkey"
        answer = await self._call(
            "sign", path, lambda: Request("POST", url, {"content-type": "application/xml"}, body, resend=False)
        )
        return delegation_key(answer.body, path)
