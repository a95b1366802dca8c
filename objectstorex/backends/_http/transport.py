"""The one HTTP transport every cloud store sends through, and the seam tests replace.

A :class:`Request` is fully addressed (an encoded URL) and signed by the provider before it is
handed to a :class:`Transport`; the transport only moves bytes. :class:`AiohttpTransport` is the
real one: one ``aiohttp`` session per store, built the same way for every provider (one
:class:`~objectstorex.Timeouts` mapping, one pool size, no cookies, no content decoding), and
with a path that never lets aiohttp resend a request behind our back.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, cast

import aiohttp
from yarl import URL

from ..._config import Timeouts

__all__ = [
    "POOL_SIZE",
    "AiohttpTransport",
    "BodyReader",
    "NotResentError",
    "Request",
    "Response",
    "Transport",
    "client_timeout",
]

#: Connections per store (per host). One number for every provider.
POOL_SIZE = 64
#: Bodies up to this size are handed to aiohttp whole; larger ones are fed in slices.
_WHOLE_BODY = 1024 * 1024
#: Slice size of large bodies: written with backpressure, so asyncio never holds a whole part.
_SLICE = 64 * 1024


@dataclass(slots=True)
class Request:
    """One HTTP request, addressed and ready to sign.

    Attributes:
        method: the HTTP method.
        url: the absolute URL, already percent-encoded (sent exactly as given).
        headers: request headers (the provider's signer may add to them).
        body: the body, or ``None``.
        resend: whether the HTTP library may transparently resend the request on a dropped
            keep-alive connection. ``False`` for writes: a resend would hide that the first
            attempt may have landed, and turn a caller's own conditional write into a conflict.
        read_bufsize: the response read buffer (large for streaming reads).
    """

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | bytearray | memoryview | None = None
    resend: bool = True
    read_bufsize: int | None = None

    def copy(self) -> Request:
        """A fresh copy for another attempt (signing mutates the headers)."""
        return Request(self.method, self.url, dict(self.headers), self.body, self.resend, self.read_bufsize)


class BodyReader(Protocol):
    """The streaming side of a response body."""

    async def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (``b""`` at the end)."""
        ...


class Response(Protocol):
    """An open answer; ``release()`` returns the connection, ``close()`` drops it."""

    @property
    def status(self) -> int:
        """The HTTP status."""
        ...

    @property
    def headers(self) -> Mapping[str, str]:
        """Case-insensitive response headers."""
        ...

    @property
    def content(self) -> BodyReader:
        """The body, read incrementally."""
        ...

    async def read(self) -> bytes:
        """The whole body."""
        ...

    def release(self) -> object:
        """Return the connection to the pool (the body was read)."""
        ...

    def close(self) -> None:
        """Drop the connection (the body was abandoned)."""
        ...


class Transport(Protocol):
    """Sends requests. Failures in transit raise ``aiohttp.ClientError``, ``OSError`` or ``TimeoutError``."""

    def send(self, request: Request) -> Awaitable[Response]:
        """Send ``request``; the awaitable gives the open response (any status).

        An ``async def send`` satisfies this; the aiohttp transport returns aiohttp's own
        awaitable, with no coroutine of its own around it (one frame less per request).
        """
        ...

    async def close(self) -> None:
        """Release every connection (idempotent)."""
        ...


class NotResentError(aiohttp.ClientConnectionError):
    """The connection dropped under a request that must not be resent; it may have landed.

    Deliberately not a ``ClientOSError``/``ServerDisconnectedError``: aiohttp resends those
    for "idempotent" methods (PUT and DELETE included) on a reused connection.
    """


async def _never_resend(request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType) -> aiohttp.ClientResponse:
    try:
        return await handler(request)
    except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError) as e:
        raise NotResentError(f"connection lost during {request.method}: {type(e).__name__}") from e


_NO_RESEND = (_never_resend,)


def client_timeout(timeouts: Timeouts) -> aiohttp.ClientTimeout:
    """The one mapping of :class:`~objectstorex.Timeouts` onto aiohttp.

    ``connect`` bounds establishing a connection (``sock_connect``: not the wait for a pool
    slot), ``read`` a stall between two reads, ``total`` a whole request.
    """
    return aiohttp.ClientTimeout(total=timeouts.total, sock_connect=timeouts.connect, sock_read=timeouts.read)


async def _slices(view: memoryview) -> AsyncIterator[memoryview]:
    for i in range(0, len(view), _SLICE):
        yield view[i : i + _SLICE]


def _payload(body: bytes | bytearray | memoryview, headers: dict[str, str]) -> object:
    if len(body) <= _WHOLE_BODY:
        return body
    # A large body handed over whole is copied into asyncio's write buffer when the socket
    # cannot take it at once; fed in slices, the writer waits for the socket to drain.
    headers["Content-Length"] = str(len(body))
    view = body if isinstance(body, memoryview) else memoryview(body)
    with warnings.catch_warnings():
        # aiohttp warns about async-iterable payloads (deprecated ways to stream); this one is fine.
        warnings.simplefilter("ignore", DeprecationWarning)
        # memoryview slices are bytes-like to aiohttp's writer: the part is never copied whole.
        return aiohttp.payload.AsyncIterablePayload(cast("AsyncIterator[bytes]", _slices(view)))


class AiohttpTransport:
    """The real transport: one ``aiohttp.ClientSession`` built the same way for every provider."""

    def __init__(self, timeouts: Timeouts, *, session_headers: Mapping[str, str] | None = None) -> None:
        """Create the session (call inside the event loop that will use it).

        Args:
            timeouts: the store's timeouts.
            session_headers: headers sent with every request unless the request sets them
                (providers use it for ``Accept-Encoding``; not signed by S3).
        """
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=POOL_SIZE, ttl_dns_cache=300),
            timeout=client_timeout(timeouts),
            headers=dict(session_headers or {}),
            auto_decompress=False,  # objects come back exactly as stored
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    def send(self, request: Request) -> Awaitable[Response]:
        """Send ``request``; a request with ``resend=False`` is never resent by aiohttp."""
        headers = request.headers
        data = None if request.body is None else _payload(request.body, headers)
        response: Awaitable[Response] = self.session.request(
            request.method,
            URL(request.url, encoded=True),
            headers=headers,
            data=data,
            read_bufsize=request.read_bufsize,
            middlewares=None if request.resend else _NO_RESEND,
            allow_redirects=False,  # no storage API redirects a data request (GCS's 308 means "resume incomplete")
        )
        return response

    async def close(self) -> None:
        """Close the session and its connections."""
        await self.session.close()
