"""Checks: streaming uploads (put_stream) and downloads (get_stream)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator

import pytest

from .. import errors as E
from ..preconditions import UpdateVersion
from ._context import ConformanceContext

__all__ = [
    "CHECKS",
    "check_get_stream",
    "check_get_stream_closes",
    "check_get_stream_never_mixes_versions",
    "check_put_stream_aborted_on_error",
    "check_put_stream_bad_input",
    "check_put_stream_cancelled",
    "check_put_stream_invisible_until_complete",
    "check_put_stream_large_modes",
    "check_put_stream_modes",
    "check_put_stream_multipart",
    "check_put_stream_multipart_aborted",
    "check_put_stream_round_trip",
]

MIB = 1024 * 1024
#: The largest minimum part size among providers (S3); streams bigger than this are multipart.
PART = 5 * MIB


class CallerError(Exception):
    """Raised by a check's own iterable: put_stream must re-raise it unchanged."""


def _random_bytes(n: int, seed: int) -> bytes:
    # Not periodic, so a part written at the wrong offset cannot go unnoticed.
    return random.Random(seed).randbytes(n)


def _pieces(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def check_put_stream_round_trip(ctx: ConformanceContext) -> None:
    """Chunks of odd sizes from sync and async iterables arrive whole; put's ETag is head's."""
    pieces = [b"a" * 7, b"", b"b" * 70_001, b"c" * 3, bytearray(b"d" * 1000), memoryview(b"xe" * 10)[1:]]
    expected = b"".join(bytes(x) for x in pieces)
    p = ctx.path("sync")
    res = await ctx.store.put_stream(p, pieces)
    assert await ctx.store.get(p) == expected
    head = await ctx.store.head(p)
    assert head.etag == res.etag
    assert head.size == len(expected)

    async def agen() -> AsyncIterator[bytes]:
        for piece in pieces:
            await asyncio.sleep(0)
            yield bytes(piece)

    q = ctx.path("async")
    res = await ctx.store.put_stream(q, agen())
    assert await ctx.store.get(q) == expected
    assert (await ctx.store.head(q)).etag == res.etag
    await ctx.store.put_stream(ctx.path("gen"), (bytes([i]) * i for i in range(50)))
    assert await ctx.store.get(ctx.path("gen")) == b"".join(bytes([i]) * i for i in range(50))
    await ctx.store.put_stream(ctx.path("one-byte-chunks"), [bytes([c]) for c in b"hello"])
    assert await ctx.store.get(ctx.path("one-byte-chunks")) == b"hello"
    # A small part_size is raised to the provider's minimum, never refused.
    small = _random_bytes(300_000, 1)
    await ctx.store.put_stream(ctx.path("small-parts"), _pieces(small, 1000), part_size=1024, max_concurrency=3)
    assert await ctx.store.get(ctx.path("small-parts")) == small
    await ctx.store.put_stream(ctx.path("empty"), [])
    assert await ctx.store.get(ctx.path("empty")) == b""
    await ctx.store.put_stream(ctx.path("empty-chunks"), [b"", b""])
    assert (await ctx.store.head(ctx.path("empty-chunks"))).size == 0
    # Overwrite is the default mode.
    await ctx.store.put_stream(p, [b"new"])
    assert await ctx.store.get(p) == b"new"


async def check_put_stream_multipart(ctx: ConformanceContext) -> None:
    """A stream of several parts (chunks not aligned to parts) round-trips in order."""
    data = _random_bytes(PART + 1000, 2)
    p = ctx.path("big")
    res = await ctx.store.put_stream(p, _pieces(data, 700_001), part_size=PART, max_concurrency=2)
    head = await ctx.store.head(p)
    assert head.size == len(data)
    assert head.etag == res.etag
    assert await ctx.store.get(p) == data
    assert await ctx.store.get(p, range=(PART - 2, PART + 2)) == data[PART - 2 : PART + 2]


async def check_put_stream_invisible_until_complete(ctx: ConformanceContext) -> None:
    """Nothing is visible at the path while the upload is in progress; an old object stays readable."""
    p = ctx.path("pending")
    await ctx.store.put(ctx.path("old"), b"old")
    for target in (p, ctx.path("old")):
        started, release = asyncio.Event(), asyncio.Event()

        async def slow(started: asyncio.Event = started, release: asyncio.Event = release) -> AsyncIterator[bytes]:
            yield b"x" * 1000
            started.set()
            await release.wait()
            yield b"y" * 1000

        task = asyncio.create_task(ctx.store.put_stream(target, slow()))
        try:
            await asyncio.wait_for(started.wait(), 30)
            await asyncio.sleep(0.05)  # let the store act on the first chunk
            if target == p:
                try:
                    await ctx.store.head(p)
                except E.NotFoundError:
                    pass
                else:
                    pytest.fail("a put_stream in progress is visible at its path")
                assert await ctx.names() == ["old"], "a put_stream in progress is listed"
            else:
                assert await ctx.store.get(target) == b"old", "a put_stream in progress replaced the old object"
            release.set()
            await task
        finally:
            release.set()
            if not task.done():
                task.cancel()
        assert await ctx.store.get(target) == b"x" * 1000 + b"y" * 1000


async def check_put_stream_aborted_on_error(ctx: ConformanceContext) -> None:
    """The caller's exception is re-raised unchanged and nothing is left at the path."""
    p = ctx.path("boom")
    err = CallerError("the caller's stream failed")

    async def failing() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        raise err

    def failing_sync() -> Iterator[bytes]:
        yield b"x" * 1000
        raise err

    for source in (failing, failing_sync):
        with pytest.raises(CallerError) as info:
            await ctx.store.put_stream(p, source())
        assert info.value is err
        with pytest.raises(E.NotFoundError):
            await ctx.store.head(p)
    assert await ctx.names() == []
    # An existing object is left untouched by a failed replacement.
    await ctx.store.put(p, b"old")
    with pytest.raises(CallerError):
        await ctx.store.put_stream(p, failing())
    assert await ctx.store.get(p) == b"old"
    assert await ctx.names() == ["boom"]


async def check_put_stream_multipart_aborted(ctx: ConformanceContext) -> None:
    """After a whole part was sent the object is still invisible, and an error aborts it."""
    p = ctx.path("big-boom")
    err = CallerError("failed after the first part")
    sent, release = asyncio.Event(), asyncio.Event()
    part = _random_bytes(PART + 1, 3)

    async def source() -> AsyncIterator[bytes]:
        yield part
        sent.set()
        await release.wait()
        raise err

    task = asyncio.create_task(ctx.store.put_stream(p, source(), part_size=PART, max_concurrency=1))
    try:
        await asyncio.wait_for(sent.wait(), 60)
        await asyncio.sleep(0.2)  # give the first part time to be uploaded
        with pytest.raises(E.NotFoundError):
            await ctx.store.head(p)
        assert await ctx.names() == []
    finally:
        release.set()
    with pytest.raises(CallerError) as info:
        await task
    assert info.value is err
    with pytest.raises(E.NotFoundError):
        await ctx.store.head(p)
    assert await ctx.names() == []


async def check_put_stream_cancelled(ctx: ConformanceContext) -> None:
    """A cancelled upload leaves nothing behind and the path stays writable."""
    p = ctx.path("cancel")
    started = asyncio.Event()

    async def forever() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        started.set()
        await asyncio.Event().wait()
        yield b""

    task = asyncio.create_task(ctx.store.put_stream(p, forever()))
    await asyncio.wait_for(started.wait(), 30)
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(E.NotFoundError):
        await ctx.store.head(p)
    await ctx.store.put_stream(p, [b"after"], mode="create")
    assert await ctx.store.get(p) == b"after"


async def check_put_stream_bad_input(ctx: ConformanceContext) -> None:
    """bytes/str instead of an iterable, or a chunk that is not bytes-like: InvalidArgumentError."""
    p = ctx.path("bad")
    for not_iterable in (b"bytes", "str", 42, None):
        with pytest.raises(E.InvalidArgumentError):
            await ctx.store.put_stream(p, not_iterable)  # type: ignore[arg-type]
    with pytest.raises(E.InvalidArgumentError):
        await ctx.store.put_stream(p, [b"ok", "text"])
    with pytest.raises(TypeError):
        await ctx.store.put_stream(p, [b"ok", 3])
    with pytest.raises(E.InvalidArgumentError):
        await ctx.store.put_stream(p, [b"x"], part_size=0)
    with pytest.raises(E.InvalidArgumentError):
        await ctx.store.put_stream(p, [b"x"], max_concurrency=-1)
    with pytest.raises(TypeError):
        await ctx.store.put_stream(p, [b"x"], colour="red")  # unknown attribute
    with pytest.raises(E.NotFoundError):
        await ctx.store.head(p)


async def check_put_stream_modes(ctx: ConformanceContext) -> None:
    """Create and CAS modes apply to (small) stream uploads too."""
    p = ctx.path("m")
    first = await ctx.store.put_stream(p, [b"one"], mode="create")
    assert (await ctx.store.head(p)).etag == first.etag
    ctx.xfail_if_quirk("create_stream", "create mode on stream uploads")
    with pytest.raises(E.AlreadyExistsError):
        await ctx.store.put_stream(p, [b"two"], mode="create")
    assert await ctx.store.get(p) == b"one"
    ctx.xfail_if_quirk("update_multipart", "CAS on stream upload completion")
    with pytest.raises(E.PreconditionError):
        await ctx.store.put_stream(ctx.path("missing"), [b"x"], mode=UpdateVersion(etag=first.etag))
    second = await ctx.store.put_stream(p, [b"two"], mode=UpdateVersion.of(first))
    assert await ctx.store.get(p) == b"two"
    with pytest.raises(E.PreconditionError):
        await ctx.store.put_stream(p, [b"three"], mode=UpdateVersion.of(first))
    assert await ctx.store.get(p) == b"two"
    assert (await ctx.store.head(p)).etag == second.etag
    assert await ctx.names() == ["m"]


async def check_put_stream_large_modes(ctx: ConformanceContext) -> None:
    """Create and CAS are checked at the completion of a multipart upload, not only on small ones."""
    p = ctx.path("lm")
    first = await ctx.store.put(p, b"current")
    data = _random_bytes(PART + 1, 4)
    ctx.xfail_if_quirk("create_stream", "create mode on multipart uploads")
    with pytest.raises(E.AlreadyExistsError):
        await ctx.store.put_stream(p, _pieces(data, MIB), part_size=PART, mode="create")
    assert await ctx.store.get(p) == b"current"
    ctx.xfail_if_quirk("update_multipart", "CAS on multipart upload completion")
    await ctx.store.put(p, b"changed")
    with pytest.raises(E.PreconditionError):
        await ctx.store.put_stream(p, _pieces(data, MIB), part_size=PART, mode=UpdateVersion.of(first))
    assert await ctx.store.get(p) == b"changed"
    assert await ctx.names() == ["lm"]


async def check_get_stream(ctx: ConformanceContext) -> None:
    """get_stream yields the object in chunks of at most chunk_size, exposes meta, supports ranges."""
    p = ctx.path("s")
    data = _random_bytes(300_000, 5)
    put = await ctx.store.put(p, data)
    async with ctx.store.get_stream(p, chunk_size=10_000) as stream:
        assert stream.meta.size == len(data)
        assert stream.meta.etag == put.etag
        assert stream.meta.location == p
        chunks = [c async for c in stream]
    assert b"".join(chunks) == data
    assert all(isinstance(c, bytes) for c in chunks)
    assert all(0 < len(c) <= 10_000 for c in chunks)
    assert len(chunks) >= len(data) // 10_000
    # Plain iteration without `async with` works and closes itself at the end.
    assert b"".join([c async for c in ctx.store.get_stream(p)]) == data
    tiny = ctx.path("tiny")
    await ctx.store.put(tiny, data[:100])
    tiny_chunks = [c async for c in ctx.store.get_stream(tiny, chunk_size=7)]
    assert b"".join(tiny_chunks) == data[:100]
    assert all(0 < len(c) <= 7 for c in tiny_chunks)
    async with ctx.store.get_stream(p, range=(1000, 1010)) as stream:
        assert stream.meta.size == len(data)  # the whole object's size
        assert b"".join([c async for c in stream]) == data[1000:1010]
    async with ctx.store.get_stream(p, range=(-10, None)) as stream:
        assert await stream.read_all() == data[-10:]
    async with ctx.store.get_stream(p, range=(299_990, 400_000)) as stream:
        assert await stream.read_all() == data[299_990:]
    with pytest.raises(E.InvalidArgumentError):
        ctx.store.get_stream(p, chunk_size=0)
    # Chunks come at about the size asked, whatever the transport's reads return (not ~29 KiB
    # socket reads for a 1 MiB ask): every chunk but the last holds at least half of it.
    sized = ctx.path("sized")
    big = _random_bytes(2 * MIB + 12_345, 6)
    await ctx.store.put(sized, big)
    for ask in (MIB, 300_000):
        got = [c async for c in ctx.store.get_stream(sized, chunk_size=ask)]
        assert all(ask // 2 <= len(c) <= ask for c in got[:-1]), sorted({len(c) for c in got})
        assert len(got) <= -(-len(big) // (ask // 2))
        assert sum(len(c) for c in got) == len(big)
        same = b"".join(got) == big  # not compared inside the assert: no MiB-sized diff on failure
        assert same


async def check_get_stream_closes(ctx: ConformanceContext) -> None:
    """A stream closes on break inside `async with`, on aclose() (idempotent) and on exhaustion."""
    p = ctx.path("s")
    await ctx.store.put(p, b"z" * 50_000)
    async with ctx.store.get_stream(p, chunk_size=1000) as stream:
        async for first in stream:
            assert first == b"z" * 1000
            break
    assert [c async for c in stream] == []  # closed: nothing more, no error
    stream = ctx.store.get_stream(p)
    await stream.aclose()  # never opened
    await stream.aclose()
    opened = ctx.store.get_stream(p, chunk_size=1000)
    assert await opened.__anext__() == b"z" * 1000
    await opened.aclose()
    await opened.aclose()
    assert [c async for c in opened] == []
    # Many streams opened and abandoned early must not exhaust the store's connections.
    for _ in range(20):
        async with ctx.store.get_stream(p, chunk_size=1000) as s:
            await s.__anext__()
    assert await ctx.store.get(p) == b"z" * 50_000


async def check_get_stream_never_mixes_versions(ctx: ConformanceContext) -> None:
    """An overwrite during a stream yields the old object whole, or an error, never a mixture."""
    p = ctx.path("pinned")
    old, new = _random_bytes(1024 * 1024, 8), _random_bytes(1024 * 1024, 9)
    await ctx.store.put(p, old)
    received = bytearray()
    try:
        async with ctx.store.get_stream(p, chunk_size=64 * 1024) as stream:
            async for chunk in stream:
                if not received:
                    await ctx.store.put(p, new)
                received += chunk
    except E.ObjectStoreError:
        pass  # raising is allowed: the object changed under the reader
    else:
        if bytes(received) != old:
            # pytest.fail, not assert: a diff of two MiB-sized byte strings takes minutes.
            pytest.fail("the stream mixed two versions of the object")
    assert await ctx.store.get(p) == new


CHECKS = [
    check_put_stream_round_trip,
    check_put_stream_multipart,
    check_put_stream_invisible_until_complete,
    check_put_stream_aborted_on_error,
    check_put_stream_multipart_aborted,
    check_put_stream_cancelled,
    check_put_stream_bad_input,
    check_put_stream_modes,
    check_put_stream_large_modes,
    check_get_stream,
    check_get_stream_closes,
    check_get_stream_never_mixes_versions,
]
