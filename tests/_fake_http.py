"""A scripted transport for table-driven tests of the shared HTTP core (no server)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from objectstorex.backends._http import Request


@dataclass
class Scripted:
    """One scripted answer: a status, headers and a body, optionally cut or stalled mid-body."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    cut_at: int | None = None  # the connection drops after this many body bytes
    stall_at: int | None = None  # the body stalls (read timeout) after this many bytes
    raise_on_send: BaseException | None = None  # fails before any answer (lost or refused)


class _Content:
    def __init__(self, item: Scripted) -> None:
        self._item = item
        self._pos = 0

    async def read(self, n: int = -1) -> bytes:
        item = self._item
        limit = len(item.body)
        for at, exc in ((item.cut_at, aiohttp.ClientPayloadError("cut")), (item.stall_at, TimeoutError("stall"))):
            if at is not None and self._pos >= at:
                raise exc
            if at is not None:
                limit = min(limit, at)
        end = limit if n < 0 else min(limit, self._pos + n)
        if end <= self._pos and limit == len(item.body):
            return b""
        block = item.body[self._pos : end]
        self._pos = end
        await asyncio.sleep(0)
        return block


class FakeResponse:
    """Quacks like the part of ``aiohttp.ClientResponse`` the core uses."""

    def __init__(self, item: Scripted) -> None:
        self.status = item.status
        headers = CIMultiDict(item.headers)
        if "Content-Length" not in headers:
            headers["Content-Length"] = str(len(item.body))
        self.headers = CIMultiDictProxy(headers)
        self.content = _Content(item)
        self.released = self.closed = False

    async def read(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            block = await self.content.read(1 << 20)
            if not block:
                return b"".join(chunks)
            chunks.append(block)

    def release(self) -> None:
        self.released = True

    def close(self) -> None:
        self.closed = True


class FakeTransport:
    """Answers requests from a script (in order) and records every request it was given."""

    def __init__(self, *script: Scripted) -> None:
        self.script = list(script)
        self.requests: list[Request] = []
        self.closed = False

    async def send(self, request: Request) -> FakeResponse:
        self.requests.append(request)
        if not self.script:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        item = self.script.pop(0)
        if item.raise_on_send is not None:
            raise item.raise_on_send
        return FakeResponse(item)

    async def close(self) -> None:
        self.closed = True
