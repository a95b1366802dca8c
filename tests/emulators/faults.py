"""A fault-injecting HTTP/1.1 proxy between a store and its emulator (moto, Azurite, fake-gcs-server).

The proxy listens on 127.0.0.1 and forwards every request to the emulator unchanged (the store is
pointed at it through its ``endpoint`` option). A test tells it which requests to hurt::

    async with FaultProxy(moto_endpoint) as proxy:
        rule = proxy.inject(Fault.answer(503, retry_after=1), method="GET", path="/key")
        rule = proxy.inject(Fault.answer(500), method="PUT", params={"partNumber": "2"})  # once
        rule = proxy.inject(Fault.lost(), method="PUT", path="/key")
        ...
        assert rule.injected == 1
        assert [r.headers.get("range") for r in proxy.requests if r.method == "GET"]

Faults: answer a status (5xx, 429, with ``Retry-After``) without forwarding; reset the connection
(TCP RST) after N bytes of the response body; truncate the body (FIN after N bytes while
``Content-Length`` says more); stall after N bytes for longer than the store's read timeout;
lose the response (the emulator applied the request, the client gets the connection closed
instead of the answer); flip one byte of the body. Chosen the same way, though not a fault:
answer with chunked transfer encoding instead of a ``Content-Length``.

Every request is recorded (method, path, query, headers, arrival time, the status answered, the
fault injected), so tests can count what reached the server and read what a retry asked for.

Responses are re-framed with a ``Content-Length`` (a chunked answer from the emulator is read
whole first), which makes "after N bytes of the body" exact. ``Location`` headers naming the
emulator are rewritten to name the proxy, so a resumable-upload session (GCS) stays behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

FaultKind = Literal["answer", "reset", "truncate", "stall", "lost", "flip", "flip_request", "chunked"]

_REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})


@dataclass(frozen=True)
class Fault:
    """One fault; build it with the class methods.

    Attributes:
        kind: what happens to the request or its response.
        status: the status answered (``answer``).
        retry_after: the ``Retry-After`` header value sent with it, if any (``answer``).
        body: the body answered (``answer``).
        headers: further headers answered (``answer``), e.g. ``(("Content-Type", "application/xml"),)``.
        after: bytes of the response body delivered before the fault (``reset``, ``truncate``,
            ``stall``), or the offset of the byte flipped (``flip``). Clamped to the body, so a
            fault on a short body still cuts it.
        seconds: how long a ``stall`` lasts (the rest of the body follows if the client waited).
    """

    kind: FaultKind
    status: int = 503
    retry_after: str | None = None
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    after: int = 0
    seconds: float = 0.0

    @classmethod
    def answer(
        cls,
        status: int,
        *,
        retry_after: float | str | None = None,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> Fault:
        """Answer ``status`` (e.g. 500, 503, 429; or a canned 200) without forwarding the request."""
        after = None if retry_after is None else str(retry_after)
        return cls("answer", status=status, retry_after=after, body=body, headers=tuple((headers or {}).items()))

    @classmethod
    def reset(cls, after: int) -> Fault:
        """Forward, then send ``after`` bytes of the body and reset the connection (TCP RST)."""
        return cls("reset", after=after)

    @classmethod
    def truncate(cls, after: int) -> Fault:
        """Forward, then send exactly ``after`` bytes of the body and close (FIN); Content-Length says more."""
        return cls("truncate", after=after)

    @classmethod
    def stall(cls, after: int, seconds: float) -> Fault:
        """Forward, send ``after`` bytes of the body, then nothing for ``seconds`` (or until the client hangs up)."""
        return cls("stall", after=after, seconds=seconds)

    @classmethod
    def lost(cls) -> Fault:
        """Forward and let the emulator apply the request, then close the connection instead of answering."""
        return cls("lost")

    @classmethod
    def flip(cls, at: int) -> Fault:
        """Forward, and invert the byte at offset ``at`` of the response body."""
        return cls("flip", after=at)

    @classmethod
    def flip_request(cls, at: int) -> Fault:
        """Invert the byte at offset ``at`` of the request body, then forward it (an upload corrupted on the way)."""
        return cls("flip_request", after=at)

    @classmethod
    def chunked(cls) -> Fault:
        """Forward, and send the whole answer with chunked transfer encoding (no Content-Length)."""
        return cls("chunked")


@dataclass
class Request:
    """A request the proxy received.

    Attributes:
        method: the HTTP method.
        path: the raw (still percent-encoded) path.
        query: the raw query string, without ``?``.
        headers: the request headers, names lower-cased (repeated headers joined with ``, ``).
        body_size: bytes of the request body.
        body_start: the first 64 KiB of the (decoded) request body, e.g. a GCS multipart upload's JSON part.
        at: ``time.monotonic()`` when the request head arrived.
        fault: the fault injected on it, if any.
        status: the status the emulator (or the fault) answered; ``None`` if no answer was had.
        response_headers: the emulator's answer headers, names lower-cased, unrewritten.
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body_size: int
    body_start: bytes
    at: float
    fault: FaultKind | None = None
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)

    @property
    def params(self) -> dict[str, str]:
        """The query parameters, decoded (the last value of a repeated name)."""
        return dict(parse_qsl(self.query, keep_blank_values=True))


@dataclass
class Rule:
    """Which requests get a fault: the ``nth`` to ``nth + times - 1``-th requests matching all criteria.

    Attributes:
        fault: the fault injected.
        method: the HTTP method, or ``None`` for any.
        path: a substring of the raw path, or ``None``.
        query: a substring of the raw query string, or ``None``.
        params: query parameters that must be present, with that exact (decoded) value unless ``None``.
        where: any further predicate on the request.
        nth: the first matching request (1-based) that gets the fault.
        times: how many consecutive matching requests get it (``None``: every one from the ``nth``).
        matched: requests matched so far.
        injected: faults injected so far.
    """

    fault: Fault
    method: str | None = None
    path: str | None = None
    query: str | None = None
    params: Mapping[str, str | None] | None = None
    where: Callable[[Request], bool] | None = None
    nth: int = 1
    times: int | None = 1
    matched: int = 0
    injected: int = 0

    def matches(self, request: Request) -> bool:
        """Whether ``request`` meets every criterion of this rule."""
        if self.method is not None and request.method != self.method.upper():
            return False
        if self.path is not None and self.path not in request.path:
            return False
        if self.query is not None and self.query not in request.query:
            return False
        if self.params is not None:
            got = request.params
            for name, value in self.params.items():
                if name not in got or (value is not None and got[name] != value):
                    return False
        return self.where is None or self.where(request)

    def take(self, request: Request) -> bool:
        """Count ``request`` if it matches; whether it falls in the window that gets the fault."""
        if not self.matches(request):
            return False
        self.matched += 1
        last = None if self.times is None else self.nth + self.times - 1
        return self.matched >= self.nth and (last is None or self.matched <= last)


class _Closed(Exception):
    """The peer closed the connection between or inside a message."""


async def _read_head(reader: asyncio.StreamReader) -> tuple[str, list[tuple[str, str]]] | None:
    """The start line and headers of one message; ``None`` at a clean end of the connection."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if not e.partial.strip():
            return None
        raise _Closed from e
    except (ConnectionError, asyncio.LimitOverrunError) as e:
        raise _Closed from e
    lines = raw.decode("latin-1").split("\r\n")
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    return lines[0], headers


def _get(headers: list[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in headers if k.lower() == name]
    return ", ".join(values) if values else None


async def _read_chunked(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """A chunked body: (raw bytes as received, decoded body)."""
    raw, body = bytearray(), bytearray()
    while True:
        line = await reader.readuntil(b"\r\n")
        raw += line
        size = int(line.split(b";")[0].strip(), 16)
        if size == 0:
            while True:  # trailers, up to the empty line
                trailer = await reader.readuntil(b"\r\n")
                raw += trailer
                if trailer == b"\r\n":
                    return bytes(raw), bytes(body)
        data = await reader.readexactly(size + 2)
        raw += data
        body += data[:-2]


async def _read_body(
    reader: asyncio.StreamReader, headers: list[tuple[str, str]], *, to_eof: bool
) -> tuple[bytes, bytes]:
    """A message body: (raw bytes as received, decoded body)."""
    try:
        if "chunked" in (_get(headers, "transfer-encoding") or "").lower():
            return await _read_chunked(reader)
        length = _get(headers, "content-length")
        if length is not None:
            data = await reader.readexactly(int(length))
            return data, data
        if to_eof:
            data = await reader.read()
            return data, data
        return b"", b""
    except (asyncio.IncompleteReadError, ConnectionError) as e:
        raise _Closed from e


class FaultProxy:
    """An asyncio HTTP/1.1 proxy on 127.0.0.1 in front of one emulator, injecting faults by rule.

    Client connections are kept alive across requests (as a store's connection pool expects);
    each forwarded request uses its own upstream connection, so a fault never leaves a
    half-read answer on a connection that is used again.

    Args:
        upstream: the emulator's base URL, e.g. ``http://127.0.0.1:PORT`` (a path is ignored).
    """

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"upstream needs a host and a port: {upstream!r}")
        self.upstream_host: str = parts.hostname
        self.upstream_port: int = parts.port
        self.rules: list[Rule] = []
        self.requests: list[Request] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._answered = asyncio.Event()  # set and cleared whenever a request's status is known

    @property
    def url(self) -> str:
        """The proxy's base URL, to pass as a store's endpoint."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def injected(self) -> int:
        """Faults injected so far, by every rule."""
        return sum(rule.injected for rule in self.rules)

    def inject(
        self,
        fault: Fault,
        *,
        method: str | None = None,
        path: str | None = None,
        query: str | None = None,
        params: Mapping[str, str | None] | None = None,
        where: Callable[[Request], bool] | None = None,
        nth: int = 1,
        times: int | None = 1,
    ) -> Rule:
        """Inject ``fault`` on the ``nth`` (and the ``times - 1`` next) requests matching every criterion.

        Rules are consulted in the order they were added; each counts its own matches, and the
        first whose window holds the request decides its fault.

        Returns:
            The rule, whose ``matched`` and ``injected`` counters the test can assert on.
        """
        rule = Rule(fault, method, path, query, params, where, nth, times)
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Forget every rule (the record of requests stays)."""
        self.rules.clear()

    def seen(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        query: str | None = None,
        params: Mapping[str, str | None] | None = None,
        where: Callable[[Request], bool] | None = None,
    ) -> list[Request]:
        """The recorded requests matching every criterion given (as for :meth:`inject`), oldest first."""
        probe = Rule(Fault.lost(), method, path, query, params, where)
        return [r for r in self.requests if probe.matches(r)]

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` holds, tested each time a request is answered (or faulted).

        Bound it with ``asyncio.timeout``.
        """
        while not predicate():
            await self._answered.wait()

    def _note_answered(self) -> None:
        self._answered.set()
        self._answered.clear()  # waiters already woken see the set; later ones wait for the next

    async def start(self) -> FaultProxy:
        """Listen on a free 127.0.0.1 port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, limit=1 << 20)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            with contextlib.suppress(_Closed, ConnectionError, asyncio.CancelledError):
                while await self._exchange(reader, writer):
                    pass
        finally:
            self._handlers.discard(task)
            writer.close()

    def _fault_for(self, request: Request) -> Fault | None:
        chosen = None
        for rule in self.rules:
            # Every rule counts the request, so "the 2nd PUT" means the same thing whatever other rules say.
            if rule.take(request) and chosen is None:
                rule.injected += 1
                chosen = rule.fault
        return chosen

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; whether the client connection stays open for another."""
        head = await _read_head(reader)
        if head is None:
            return False
        start_line, headers = head
        at = time.monotonic()
        method, target, _ = start_line.split(" ", 2)
        path, _, query = target.partition("?")
        if (_get(headers, "expect") or "").lower() == "100-continue":
            # Answered here, so the body is at hand before the request is forwarded (or refused).
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            headers = [(k, v) for k, v in headers if k.lower() != "expect"]
        raw_body, body = await _read_body(reader, headers, to_eof=False)
        request = Request(
            method=method.upper(),
            path=path,
            query=query,
            headers={k.lower(): _get(headers, k.lower()) or "" for k, _ in headers},
            body_size=len(body),
            body_start=body[:65536],
            at=at,
        )
        self.requests.append(request)
        fault = self._fault_for(request)
        request.fault = fault.kind if fault is not None else None
        keep_alive = (_get(headers, "connection") or "").lower() != "close"

        if fault is not None and fault.kind == "answer":
            request.status = fault.status
            self._note_answered()
            extra = f"Retry-After: {fault.retry_after}\r\n" if fault.retry_after is not None else ""
            extra += "".join(f"{k}: {v}\r\n" for k, v in fault.headers)
            reason = _REASONS.get(fault.status, "Injected")
            writer.write(
                f"HTTP/1.1 {fault.status} {reason}\r\nContent-Length: {len(fault.body)}\r\n{extra}\r\n".encode()
                + fault.body
            )
            await writer.drain()
            return keep_alive

        if fault is not None and fault.kind == "flip_request" and raw_body and raw_body == body:
            corrupted = bytearray(raw_body)
            corrupted[min(fault.after, len(raw_body) - 1)] ^= 0xFF
            raw_body = bytes(corrupted)
        status_line, up_headers, up_body, has_body = await self._forward(method, target, headers, raw_body)
        request.status = int(status_line.split(" ", 2)[1])
        request.response_headers = {k.lower(): v for k, v in up_headers}
        self._note_answered()
        if fault is not None and fault.kind == "lost":
            await writer.drain()
            writer.close()  # the request was applied upstream; its answer never arrives
            return False

        out = [(k, self._rewrite(k, v)) for k, v in up_headers if not has_body or k.lower() not in _HOP_BY_HOP]
        chunked = has_body and fault is not None and fault.kind == "chunked"
        if chunked:
            out.append(("Transfer-Encoding", "chunked"))
            step = 65536
            pieces = [up_body[i : i + step] for i in range(0, len(up_body), step)]
            up_body = b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
        elif has_body:
            out.append(("Content-Length", str(len(up_body))))
        if not keep_alive:
            out.append(("Connection", "close"))
        wire_head = (status_line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in out) + "\r\n").encode("latin-1")
        if fault is None or not has_body or chunked or fault.kind == "flip_request":
            writer.write(wire_head + up_body)
            await writer.drain()
            return keep_alive
        if fault.kind == "flip":
            at_byte = min(fault.after, len(up_body) - 1)
            flipped = bytearray(up_body)
            if at_byte >= 0:
                flipped[at_byte] ^= 0xFF
            writer.write(wire_head + bytes(flipped))
            await writer.drain()
            return keep_alive

        cut = max(0, min(fault.after, len(up_body) - 1))
        writer.transport.set_write_buffer_limits(high=0)  # drain() then means "all handed to the kernel"
        writer.write(wire_head + up_body[:cut])
        await writer.drain()
        if fault.kind == "reset":
            await asyncio.sleep(0.05)  # let the bytes reach the client before the RST discards queued data
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        if fault.kind == "truncate":
            writer.close()
            return False
        # stall: silence, until the time is up or the client gives up on us
        with contextlib.suppress(TimeoutError, ConnectionError):
            if not await asyncio.wait_for(reader.read(1), fault.seconds):
                return False
        writer.write(up_body[cut:])
        await writer.drain()
        return keep_alive

    def _rewrite(self, name: str, value: str) -> str:
        """Point a ``Location`` naming the emulator at the proxy (a GCS resumable session URL)."""
        if name.lower() != "location":
            return value
        for host in (self.upstream_host, "localhost"):
            value = value.replace(f"//{host}:{self.upstream_port}", f"//127.0.0.1:{self.port}")
        return value

    async def _forward(
        self, method: str, target: str, headers: list[tuple[str, str]], raw_body: bytes
    ) -> tuple[str, list[tuple[str, str]], bytes, bool]:
        """Send the request upstream as received; (status line, headers, decoded body, whether a body goes back)."""
        up_reader, up_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port, limit=1 << 20)
        try:
            forwarded = [(k, v) for k, v in headers if k.lower() != "connection"] + [("Connection", "close")]
            up_writer.write(
                (f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in forwarded) + "\r\n").encode(
                    "latin-1"
                )
                + raw_body
            )
            await up_writer.drain()
            while True:
                head = await _read_head(up_reader)
                if head is None:
                    raise _Closed("the emulator closed without answering")
                status_line, up_headers = head
                status = int(status_line.split(" ", 2)[1])
                if status >= 200:
                    break  # an interim 1xx answer is not the response
            has_body = method.upper() != "HEAD" and status not in (204, 304)
            body = b""
            if has_body:
                _, body = await _read_body(up_reader, up_headers, to_eof=True)
            return status_line, up_headers, body, has_body
        finally:
            up_writer.close()
