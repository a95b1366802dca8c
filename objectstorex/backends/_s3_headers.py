"""S3 object headers <-> objectstorex metadata and attributes.

HTTP headers carry ASCII: attribute and metadata values that would not survive a header exactly
(non-ASCII, control characters, leading/trailing or doubled spaces, or text that reads as an
encoded word) travel RFC 2047-encoded -- the form S3 itself uses to return non-ASCII metadata --
and are decoded on the way back, so every value round-trips.
"""

from __future__ import annotations

import hashlib
import re
from base64 import b64encode
from collections.abc import Mapping
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import quote, urlencode

from multidict import CIMultiDictProxy

from .._types import Attributes, ObjectMeta
from ..errors import InvalidArgumentError, ObjectStoreError

__all__ = [
    "attribute_headers",
    "attributes_from",
    "b64_md5",
    "content_length",
    "content_range",
    "meta_from",
    "multipart_etag",
]

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


_DIGITS = re.compile(r"[0-9]{1,19}")
_RANGE = re.compile(r"bytes ([0-9]{1,19})-([0-9]{1,19})/([0-9]{1,19}|\*)")


def _malformed(path: str | None, header: str, value: str | None) -> ObjectStoreError:
    # The value is shown (bounded): these headers carry numbers and dates, never secrets.
    what = "missing" if value is None else f"malformed ({value[:60]!r})"
    where = f"{path!r}: " if path else ""
    return ObjectStoreError(f"{where}S3 answered with a {what} {header} header", path=path, provider="s3")


@lru_cache(maxsize=512)
def _http_time(value: str) -> datetime | None:
    # Cached: a hot loop sees the same few Last-Modified values, and parsing costs ~8 us.
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def content_length(path: str | None, h: CIMultiDictProxy[str]) -> int | None:
    """The ``Content-Length`` of an answer, ``None`` when absent (a chunked answer).

    Raises:
        ObjectStoreError: the header is not a decimal number.
    """
    value = h.get("Content-Length")
    if value is None:
        return None
    if not _DIGITS.fullmatch(value):
        raise _malformed(path, "Content-Length", value)
    return int(value)


def content_range(path: str | None, h: CIMultiDictProxy[str]) -> tuple[int, int, int | None] | None:
    """``(first, last, complete length or None)`` of a ``Content-Range: bytes a-b/n``; ``None`` if absent.

    Raises:
        ObjectStoreError: the header is present but not a satisfied byte range (RFC 9110 14.4).
    """
    value = h.get("Content-Range")
    if value is None:
        return None
    m = _RANGE.fullmatch(value.strip())
    if m is None:
        raise _malformed(path, "Content-Range", value)
    first, last = int(m[1]), int(m[2])
    total = None if m[3] == "*" else int(m[3])
    if last < first or (total is not None and last >= total):
        raise _malformed(path, "Content-Range", value)
    return first, last, total


def meta_from(path: str, h: CIMultiDictProxy[str], size: int | None = None) -> ObjectMeta:
    """ObjectMeta of a GET/HEAD answer (the whole object's size, also for a ranged answer).

    Args:
        path: the caller's path.
        h: the answer's headers.
        size: the object's size when the answer has no length header (a whole body read to its end).

    Raises:
        ObjectStoreError: Content-Length, Content-Range or Last-Modified is malformed or missing
            (never a guessed size or an invented modification time).
    """
    crange = content_range(path, h)
    if crange is not None:
        if crange[2] is None:
            raise _malformed(path, "Content-Range", h.get("Content-Range"))
        size = crange[2]
    else:
        length = content_length(path, h)
        if length is not None:
            size = length
        elif size is None:
            raise _malformed(path, "Content-Length", None)
    modified = h.get("Last-Modified")
    when = _http_time(modified) if modified else None
    if when is None:
        raise _malformed(path, "Last-Modified", modified)
    return ObjectMeta(path, size, when, h.get("ETag"), h.get("x-amz-version-id"))


def attributes_from(h: CIMultiDictProxy[str]) -> Attributes:
    """Attributes and user metadata of a GET/HEAD answer."""
    metadata = {k[11:].lower(): _decode(v) for k, v in h.items() if k[:11].lower() == "x-amz-meta-"}
    values = {}
    for name, header in _ATTR_HEADERS:
        value = h.get(header)
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


def b64_md5(data: bytes) -> str:
    """``Content-MD5`` of ``data``."""
    return b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


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
