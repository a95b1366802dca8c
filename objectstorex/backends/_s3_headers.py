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
from ..errors import InvalidArgumentError

__all__ = ["attribute_headers", "attributes_from", "b64_md5", "meta_from", "multipart_etag"]

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


@lru_cache(maxsize=512)
def _http_time(value: str) -> datetime:
    # Cached: a hot loop sees the same few Last-Modified values, and parsing costs ~8 us.
    parsed = parsedate_to_datetime(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def meta_from(path: str, h: CIMultiDictProxy[str]) -> ObjectMeta:
    """ObjectMeta of a GET/HEAD answer (the whole object's size, also for a ranged answer)."""
    size = int(h.get("Content-Length") or 0)
    content_range = h.get("Content-Range")
    if content_range:
        total = content_range.rpartition("/")[2]
        if total.isdigit():
            size = int(total)
    modified = h.get("Last-Modified")
    return ObjectMeta(
        path,
        size,
        _http_time(modified) if modified else datetime.now(UTC),
        h.get("ETag"),
        h.get("x-amz-version-id"),
    )


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
