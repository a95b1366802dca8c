"""Strict parsing of the response headers the core relies on.

A header the store needs that is missing or malformed is an :class:`~objectstorex.ObjectStoreError`
naming the header -- never a ``ValueError`` escaping, and never a value made up (such as "now"
for a missing ``Last-Modified``, which would then be compared with ``if_modified_since``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache

from ...errors import ObjectStoreError

__all__ = ["content_length", "content_range", "http_date", "malformed", "object_size", "rfc3339"]


def malformed(name: str, value: object, *, provider: str, path: str | None) -> ObjectStoreError:
    """The error for a header (or field) the service sent in a form the store cannot use."""
    shown = repr(value)[:80]
    return ObjectStoreError(f"the {provider} answer has a malformed {name} ({shown})", path=path, provider=provider)


def content_length(headers: Mapping[str, str], *, provider: str, path: str | None) -> int | None:
    """``Content-Length`` as an int, ``None`` when absent (a chunked answer)."""
    value = headers.get("Content-Length")
    if value is None:
        return None
    if not value.isdigit():
        raise malformed("Content-Length", value, provider=provider, path=path)
    return int(value)


def content_range(headers: Mapping[str, str], *, provider: str, path: str | None) -> tuple[int, int, int | None]:
    """``Content-Range: bytes a-b/total`` as ``(a, b + 1, total)`` (``total`` ``None`` for ``*``)."""
    value = headers.get("Content-Range")
    if value is None:
        raise malformed("Content-Range", None, provider=provider, path=path)
    unit, _, rest = value.strip().partition(" ")
    span, _, total = rest.partition("/")
    first, _, last = span.partition("-")
    if (
        unit != "bytes"
        or not first.isdigit()
        or not last.isdigit()
        or int(last) < int(first)
        or not (total == "*" or (total.isdigit() and int(total) > int(last)))
    ):
        raise malformed("Content-Range", value, provider=provider, path=path)
    return int(first), int(last) + 1, None if total == "*" else int(total)


def object_size(headers: Mapping[str, str], *, provider: str, path: str | None) -> int:
    """The whole object's size from a read or HEAD answer (a ranged answer's total, else its length)."""
    if "Content-Range" in headers:
        total = content_range(headers, provider=provider, path=path)[2]
        if total is None:  # "bytes a-b/*": the object's size is not known from this answer
            raise malformed("Content-Range", headers["Content-Range"], provider=provider, path=path)
        return total
    length = content_length(headers, provider=provider, path=path)
    if length is None:
        raise malformed("Content-Length", None, provider=provider, path=path)
    return length


def http_date(headers: Mapping[str, str], name: str, *, provider: str, path: str | None) -> datetime:
    """An HTTP-date header (``Last-Modified``) as an aware UTC datetime."""
    value = headers.get(name)
    if not value:
        raise malformed(name, value, provider=provider, path=path)
    parsed = _http_time(value)
    if parsed is None:
        raise malformed(name, value, provider=provider, path=path)
    return parsed


@lru_cache(maxsize=512)
def _http_time(value: str) -> datetime | None:
    # Cached: a hot loop sees the same few Last-Modified values, and parsing costs ~15 us.
    try:
        return parsedate_to_datetime(value).astimezone(UTC)
    except (TypeError, ValueError):
        return None


def rfc3339(value: object, name: str, *, provider: str, path: str | None) -> datetime:
    """An RFC 3339 timestamp of a JSON/XML answer (``2024-01-02T03:04:05.678Z``) as aware UTC."""
    if not isinstance(value, str) or not value:
        raise malformed(name, value, provider=provider, path=path)
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise malformed(name, value, provider=provider, path=path) from None
    return dt.astimezone(UTC) if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
