"""S3's wire formats: its XML documents, header-encoded attributes, and the multipart ETag.

This module knows formats only; what an answer *means* is decided by the shared status table and
the dialect (:mod:`.dialect`). A field that parses but cannot be used raises :class:`MalformedAnswer`.

HTTP headers carry ASCII: attribute and metadata values that would not survive a header exactly
(non-ASCII, control characters, leading/trailing or doubled spaces, or text that reads as an
encoded word) travel RFC 2047-encoded -- the form S3 itself uses to return non-ASCII metadata --
and are decoded on the way back, so every value round-trips.
"""

from __future__ import annotations

import hashlib
import re
from base64 import b64encode
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import decode_header, make_header
from urllib.parse import quote, unquote_plus, urlencode
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from ..._types import Attributes
from ...errors import InvalidArgumentError

__all__ = [
    "ListedObject",
    "MalformedAnswer",
    "attribute_headers",
    "attributes_from",
    "complete_xml",
    "delete_xml",
    "embedded_error",
    "error_code",
    "multipart_etag",
    "parse_complete",
    "parse_copy_part",
    "parse_delete_errors",
    "parse_list",
    "parse_tags",
    "parse_upload_id",
]

_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
#: Codes of a failure inside a 200 answer that mean "the service failed, try again".
_TRANSIENT = frozenset({"InternalError", "SlowDown"})


class MalformedAnswer(Exception):
    """An S3 answer whose XML parses but carries an unusable field (named, value bounded)."""

    def __init__(self, field: str, value: str | None) -> None:
        super().__init__(f"{'missing' if value is None else f'malformed ({value[:60]!r})'} {field}")
        self.field = field


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


def embedded_error(status: int, body: bytes) -> tuple[int, str] | None:
    """``(status, code)`` of a failure reported inside a 200 answer, else ``None``.

    CompleteMultipartUpload, CopyObject and UploadPartCopy may answer 200 and put the failure
    in the body (the status is sent before the work is done); a transient one counts as a 500.
    """
    if body[:200].lstrip().startswith(b"<?xml") or body.lstrip()[:7] == b"<Error>":
        code = error_code(body)
        if code:
            return (500 if code in _TRANSIENT else status), code
    return None


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
        raise MalformedAnswer("<ETag>", None)
    return etag


def parse_complete(body: bytes) -> str | None:
    """The ETag of a CompleteMultipartUploadResult."""
    return _find(ElementTree.fromstring(body), "ETag")


def parse_upload_id(body: bytes) -> str:
    """The UploadId of an InitiateMultipartUploadResult."""
    upload_id = _find(ElementTree.fromstring(body), "UploadId")
    if not upload_id:
        raise MalformedAnswer("<UploadId>", None)
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


def complete_xml(
    parts: Iterable[tuple[int, str]], checksums: Mapping[int, str] | None = None, algorithm: str = ""
) -> bytes:
    """The body of a CompleteMultipartUpload request (with each part's ``algorithm`` checksum, if given)."""
    element = f"Checksum{algorithm.upper()}"
    items = "".join(
        f"<Part><PartNumber>{n}</PartNumber><ETag>{escape(e)}</ETag>"
        + (f"<{element}>{checksums[n]}</{element}>" if checksums else "")
        + "</Part>"
        for n, e in parts
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload xmlns="{_NS[1:-1]}">'
        f"{items}</CompleteMultipartUpload>"
    ).encode()


# --------------------------------------------------------------------------------------- headers

_ATTR_HEADERS = (
    ("content_type", "Content-Type"),
    ("content_disposition", "Content-Disposition"),
    ("content_encoding", "Content-Encoding"),
    ("content_language", "Content-Language"),
    ("cache_control", "Cache-Control"),
)
# Header-safe as is: printable ASCII, no edge or doubled spaces (servers fold them).
_PLAIN_VALUE = re.compile(r"[!-~]+(?: [!-~]+)*")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token: a valid header name


def _encode(value: str) -> str:
    if _PLAIN_VALUE.fullmatch(value) and not (value.startswith("=?") and value.endswith("?=")):
        return value
    return f"=?UTF-8?B?{b64encode(value.encode()).decode()}?="


def _decode(value: str) -> str:
    if value.startswith("=?") and value.endswith("?="):
        try:
            return str(make_header(decode_header(value)))
        except (ValueError, LookupError):
            return value
    return value


def attributes_from(headers: Mapping[str, str]) -> Attributes:
    """Attributes and user metadata of a GET/HEAD answer."""
    metadata = {k[11:].lower(): _decode(v) for k, v in headers.items() if k[:11].lower() == "x-amz-meta-"}
    values = {}
    for name, header in _ATTR_HEADERS:
        value = headers.get(header)
        if value is not None:
            values[name] = _decode(value)
    return Attributes(**values, metadata=metadata)


def attribute_headers(attributes: Attributes, tags: Mapping[str, str] | None, path: str) -> dict[str, str]:
    """Request headers carrying ``attributes``, user metadata and tags.

    Raises:
        InvalidArgumentError: a metadata key that cannot be a header name (before any I/O).
    """
    headers: dict[str, str] = {}
    for name, header in _ATTR_HEADERS:
        value = getattr(attributes, name)
        if value is not None:
            headers[header] = _encode(value)
    for k, v in attributes.metadata.items():
        if not _TOKEN.fullmatch(k):
            raise InvalidArgumentError(
                f"metadata key {k!r} is not a valid HTTP header name (S3 keeps metadata in headers)",
                path=path,
                provider="s3",
            )
        headers[f"x-amz-meta-{k}"] = _encode(v)
    if tags:
        headers["x-amz-tagging"] = urlencode(tags, quote_via=quote)
    return headers


def multipart_etag(part_etags: list[str]) -> str | None:
    """The ETag S3 gives a completed multipart upload: MD5 of the parts' MD5s, ``-N``.

    ``None`` when a part's ETag is not a plain MD5 (e.g. SSE-KMS), so nothing can be proven.
    """
    digests = []
    for etag in part_etags:
        e = etag.strip('"')
        if len(e) != 32:
            return None
        try:
            digests.append(bytes.fromhex(e))
        except ValueError:
            return None
    return f"{hashlib.md5(b''.join(digests), usedforsecurity=False).hexdigest()}-{len(digests)}"
