"""The S3 data plane: signed requests over one shared aiohttp session, and S3's XML.

botocore's per-call machinery (parameter validation, event hooks, ``AWSRequest`` signing) costs
milliseconds of client CPU per request; every hot request (GetObject, HeadObject, PutObject,
DeleteObject(s), ListObjectsV2, multipart parts, CopyObject) goes straight over aiohttp and is
signed by :mod:`._sigv4`. This module knows HTTP and XML only: what an answer *means* is decided
by ``S3Store._map_errors``.
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote_plus, urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from ._sigv4 import EMPTY_SHA256, encode_key, encode_query, sign_headers

__all__ = [
    "IDENTITY",
    "Credentials",
    "FrozenCredentials",
    "ListPage",
    "ListedObject",
    "MalformedAnswer",
    "NotResent",
    "S3HttpError",
    "S3Response",
    "S3Wire",
    "complete_xml",
    "delete_xml",
    "parse_complete",
    "parse_copy_part",
    "parse_delete_errors",
    "parse_list",
    "parse_tags",
    "parse_upload_id",
]

#: ``(access_key, secret_key, session_token)`` or ``None`` for unsigned (anonymous) requests.
FrozenCredentials = tuple[str, str, str | None]
Credentials = Callable[[], Awaitable[FrozenCredentials | None]]

_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_LARGE_BODY = 1024 * 1024
#: Default headers of the data-plane sessions: objects must come back as stored, never gzipped
#: (a session default is cheaper per request than ``skip_auto_headers``, and is not signed).
IDENTITY = {"Accept-Encoding": "identity"}


def _payload(body: bytes) -> bytes | aiohttp.payload.BytesPayload:
    if len(body) <= _LARGE_BODY:
        return body
    # aiohttp warns (ResourceWarning) about large bytes bodies; handing one to the transport is
    # what we want here (it is written without blocking), so the warning is silenced at the one
    # synchronous place the payload is built.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        return aiohttp.payload.BytesPayload(body)


class NotResent(aiohttp.ClientConnectionError):
    """The connection failed under a request that must not be resent: it may have reached S3."""


async def _no_resend(request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType) -> aiohttp.ClientResponse:
    # aiohttp resends an idempotent method (PUT, DELETE) once when a reused connection fails
    # (RFC 9112 9.3.1), and only on these two errors. A conditional write resent behind our back
    # would hide that its first attempt may have landed (and turn our own success into a 412),
    # so the failure is raised as another ClientError: the store's retry loop sees it and
    # reconciles. (Interim: to be replaced by the shared HTTP core's no-resend path.)
    try:
        return await handler(request)
    except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError) as e:
        raise NotResent(f"connection lost under a request that is not resent ({type(e).__name__})") from e


_NO_RESEND = (_no_resend,)


class MalformedAnswer(Exception):
    """An S3 answer whose XML parses but carries an unusable field (named, value bounded)."""

    def __init__(self, field: str, value: str | None) -> None:
        super().__init__(f"{'missing' if value is None else f'malformed ({value[:60]!r})'} {field}")
        self.field = field


class S3HttpError(Exception):
    """An S3 error answer: HTTP status and the ``<Code>`` of its XML body (``""`` if none)."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(f"HTTP {status} {code}".rstrip())
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class S3Response:
    """A complete (non-streaming) answer."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


def _strip(tag: str) -> str:
    return tag[tag.index("}") + 1 :] if tag[:1] == "{" else tag


def error_code(body: bytes) -> str:
    """The ``<Code>`` of an S3 error document, or ``""``."""
    if not body:
        return ""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return ""
    if _strip(root.tag) != "Error":
        return ""
    for child in root:
        if _strip(child.tag) == "Code":
            return child.text or ""
    return ""


def _check_embedded_error(status: int, body: bytes) -> None:
    # CompleteMultipartUpload, CopyObject and UploadPartCopy may answer 200 and put the
    # failure in the body (the status is sent before the work is done).
    if body[:200].lstrip().startswith(b"<?xml") or body.lstrip()[:7] == b"<Error>":
        code = error_code(body)
        if code:
            raise S3HttpError(500 if code in ("InternalError", "SlowDown") else status, code)


class S3Wire:
    """Signed S3 requests for one bucket over a shared ``aiohttp.ClientSession``."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        endpoint: str,
        bucket: str,
        region: str,
        credentials: Credentials,
        virtual_hosted: bool,
    ) -> None:
        """Prepare the addressing of ``bucket`` at ``endpoint`` (``scheme://host[:port]``)."""
        self.session = session
        self._region = region
        self._credentials = credentials
        parts = urlsplit(endpoint)
        host = parts.netloc
        default = {"http": ":80", "https": ":443"}.get(parts.scheme, "")
        if default and host.endswith(default):
            host = host[: -len(default)]  # signers sign the Host header without a default port
        base_path = parts.path.rstrip("/")
        if virtual_hosted:
            host = f"{bucket}.{host}"
            self._bucket_path = f"{base_path}/"
        else:
            self._bucket_path = f"{base_path}/{encode_key(bucket)}/"
        self._host = host
        self._base = f"{parts.scheme}://{host}"
        self.https = parts.scheme == "https"

    async def close(self) -> None:
        """Release what the wire holds (nothing today: the session belongs to the store)."""

    def copy_source(self, bucket: str, key: str) -> str:
        """The ``x-amz-copy-source`` value of ``key`` in ``bucket`` (URL-encoded)."""
        return f"/{encode_key(bucket)}/{encode_key(key)}"

    async def _prepare(
        self,
        method: str,
        key: str | None,
        query: Mapping[str, str] | None,
        headers: dict[str, str],
        payload_sha256: str,
    ) -> tuple[URL, dict[str, str]]:
        path = self._bucket_path + encode_key(key) if key is not None else self._bucket_path.rstrip("/") or "/"
        qs = encode_query(query) if query else ""
        creds = await self._credentials()
        if creds is not None:
            headers = sign_headers(
                method=method,
                host=self._host,
                path=path,
                query=qs,
                headers=headers,
                payload_sha256=payload_sha256,
                access_key=creds[0],
                secret_key=creds[1],
                session_token=creds[2],
                region=self._region,
            )
        url = URL(f"{self._base}{path}?{qs}" if qs else f"{self._base}{path}", encoded=True)
        return url, headers

    async def open(
        self,
        method: str,
        key: str | None,
        *,
        query: Mapping[str, str] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        payload_sha256: str = EMPTY_SHA256,
        read_bufsize: int | None = None,
        strict: bool = False,
    ) -> aiohttp.ClientResponse:
        """Send a request and return the live response (status < 300; the caller releases it).

        Raises:
            S3HttpError: the server answered with a status of 300 or more.
            aiohttp.ClientError, TimeoutError: the request failed in transit.
        """
        url, signed = await self._prepare(method, key, query, headers or {}, payload_sha256)
        response = await self.session.request(
            method,
            url,
            headers=signed,
            data=_payload(body) if body else None,
            read_bufsize=read_bufsize,
            middlewares=_NO_RESEND if strict else None,
        )
        if response.status >= 300:
            try:
                text = b"" if method == "HEAD" else await response.read()
            finally:
                response.release()
            raise S3HttpError(response.status, error_code(text))
        return response

    async def request(
        self,
        method: str,
        key: str | None,
        *,
        query: Mapping[str, str] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        payload_sha256: str = EMPTY_SHA256,
        embedded_errors: bool = False,
        strict: bool = False,
    ) -> S3Response:
        """Send a request and read the whole answer.

        Args:
            method: HTTP method.
            key: the object key, or ``None`` for a bucket-level request.
            query: query parameters (encoded and signed here).
            headers: headers to send and sign.
            body: the request body.
            payload_sha256: hex SHA-256 of ``body`` (or ``UNSIGNED-PAYLOAD``).
            embedded_errors: the operation may answer 200 with an ``<Error>`` body.
            strict: never resend behind the caller's back (conditional writes).

        Raises:
            S3HttpError: an error answer.
            aiohttp.ClientError, TimeoutError: the request failed in transit.
        """
        response = await self.open(
            method, key, query=query, headers=headers, body=body, payload_sha256=payload_sha256, strict=strict
        )
        try:
            data = await response.read()
        finally:
            response.release()
        if embedded_errors:
            _check_embedded_error(response.status, data)
        return S3Response(response.status, response.headers, data)


# --------------------------------------------------------------------------------------- XML


@dataclass(frozen=True, slots=True)
class ListedObject:
    """One ``<Contents>`` entry of a listing."""

    key: str
    size: int
    last_modified: datetime
    etag: str | None


@dataclass(frozen=True, slots=True)
class ListPage:
    """One page of ListObjectsV2."""

    objects: list[ListedObject]
    prefixes: list[str]
    next_token: str | None


def _parse_time(text: str | None) -> datetime:
    # Never an invented time: a listing entry without a usable LastModified is a broken answer.
    try:
        dt = datetime.fromisoformat((text or "").strip())
    except ValueError:
        raise MalformedAnswer("<LastModified>", text) from None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _parse_size(text: str | None) -> int:
    value = (text or "").strip()
    if not value.isdigit() or not value.isascii():
        raise MalformedAnswer("<Size>", text)
    return int(value)


def parse_list(body: bytes) -> ListPage:
    """Parse a ListObjectsV2 answer.

    Keys are URL-decoded (as botocore does) only when the answer says ``<EncodingType>url``:
    some S3-compatible servers accept ``encoding-type=url`` and send raw keys anyway.
    """
    root = ElementTree.fromstring(body)
    objects: list[tuple[str, str | None, str | None, str | None]] = []
    raw_prefixes: list[str] = []
    truncated = False
    url_encoded = False
    token: str | None = None
    for child in root:
        tag = _strip(child.tag)
        if tag == "Contents":
            key = ""
            size: str | None = None
            modified: str | None = None
            etag: str | None = None
            for field in child:
                name = _strip(field.tag)
                if name == "Key":
                    key = field.text or ""
                elif name == "Size":
                    size = field.text
                elif name == "LastModified":
                    modified = field.text
                elif name == "ETag":
                    etag = field.text
            objects.append((key, size, modified, etag))
        elif tag == "CommonPrefixes":
            for field in child:
                if _strip(field.tag) == "Prefix":
                    raw_prefixes.append(field.text or "")
        elif tag == "IsTruncated":
            truncated = (child.text or "").strip().lower() == "true"
        elif tag == "NextContinuationToken":
            token = child.text
        elif tag == "EncodingType":
            url_encoded = (child.text or "").strip().lower() == "url"
    decode = unquote_plus if url_encoded else str
    return ListPage(
        [ListedObject(decode(k), _parse_size(size), _parse_time(m), e) for k, size, m, e in objects],
        [decode(p) for p in raw_prefixes],
        token if truncated else None,
    )


def parse_tags(body: bytes) -> dict[str, str]:
    """Parse a GetObjectTagging answer."""
    tags: dict[str, str] = {}
    for tag in ElementTree.fromstring(body).iter(f"{_NS}Tag"):
        key = tag.findtext(f"{_NS}Key") or ""
        tags[key] = tag.findtext(f"{_NS}Value") or ""
    if not tags:  # servers that omit the namespace
        for tag in ElementTree.fromstring(body).iter("Tag"):
            tags[tag.findtext("Key") or ""] = tag.findtext("Value") or ""
    return tags


def _find(root: ElementTree.Element, name: str) -> str | None:
    for child in root.iter():
        if _strip(child.tag) == name:
            return child.text
    return None


def parse_copy_part(body: bytes) -> str:
    """The ETag of a CopyPartResult / CopyObjectResult."""
    etag = _find(ElementTree.fromstring(body), "ETag")
    if not etag:
        raise S3HttpError(500, "InternalError")
    return etag


def parse_complete(body: bytes) -> str | None:
    """The ETag of a CompleteMultipartUploadResult."""
    return _find(ElementTree.fromstring(body), "ETag")


def parse_upload_id(body: bytes) -> str:
    """The UploadId of an InitiateMultipartUploadResult."""
    upload_id = _find(ElementTree.fromstring(body), "UploadId")
    if not upload_id:
        raise S3HttpError(500, "InternalError")
    return upload_id


def parse_delete_errors(body: bytes) -> list[tuple[str, str]]:
    """``(key, code)`` of each ``<Error>`` in a DeleteObjects answer."""
    out: list[tuple[str, str]] = []
    for child in ElementTree.fromstring(body):
        if _strip(child.tag) != "Error":
            continue
        key = code = ""
        for field in child:
            name = _strip(field.tag)
            if name == "Key":
                key = field.text or ""
            elif name == "Code":
                code = field.text or ""
        out.append((key, code))
    return out


def delete_xml(keys: Iterable[str]) -> bytes:
    """The body of a quiet DeleteObjects request."""
    items = "".join(f"<Object><Key>{escape(k)}</Key></Object>" for k in keys)
    head = f'<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="{_NS[1:-1]}"><Quiet>true</Quiet>'
    return f"{head}{items}</Delete>".encode()


def complete_xml(parts: Iterable[tuple[int, str]]) -> bytes:
    """The body of a CompleteMultipartUpload request."""
    items = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{escape(e)}</ETag></Part>" for n, e in parts)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload xmlns="{_NS[1:-1]}">'
        f"{items}</CompleteMultipartUpload>"
    ).encode()
