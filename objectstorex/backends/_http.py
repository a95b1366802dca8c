"""Pieces the raw-HTTP adapters (Azure, GCS) share: transport failures, a status carrier, dates."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache

import aiohttp

__all__ = ["TRANSPORT_ERRORS", "HttpStatus", "parse_http_date"]

#: Failures in transit (aiohttp and asyncio): retried, then reported as TransportError.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    aiohttp.ClientConnectionError,
    aiohttp.ClientPayloadError,
    aiohttp.ServerTimeoutError,
    asyncio.IncompleteReadError,
    TimeoutError,
    ConnectionError,
)


class HttpStatus(Exception):
    """A non-success answer of a raw request: its status and the service's error code/reason.

    Raised inside an adapter and translated by its error mapping, never seen by users.
    """

    def __init__(self, status: int, code: str) -> None:
        super().__init__(status, code)
        self.status = status
        self.code = code


def parse_http_date(value: str | None) -> datetime:
    """An HTTP date header as an aware UTC datetime (now, when missing or malformed)."""
    if not value:
        return datetime.now(UTC)
    return _http_time(value)


@lru_cache(maxsize=512)
def _http_time(value: str) -> datetime:
    # Cached: a hot loop sees the same few Last-Modified values, and parsing costs ~15 us.
    try:
        return parsedate_to_datetime(value).astimezone(UTC)
    except (TypeError, ValueError):
        return datetime.now(UTC)
