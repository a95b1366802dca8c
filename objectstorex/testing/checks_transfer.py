"""Checks: streaming uploads and downloads, copy and rename, lifecycle."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from .. import errors as E
from ..preconditions import UpdateVersion
from ._context import ConformanceContext

MIB = 1024 * 1024


class _CallerError(Exception):
    """Raised by a test's own iterable: put_stream must re-raise it unchanged."""


async def check_put_stream_round_trip(ctx: ConformanceContext) -> None:
    """Chunks of odd sizes from sync and async iterables arrive whole; attributes are kept."""
    pieces = [b"a" * 7, b"", b"b" * 70_001, b"c" * 3, bytearray(b"d" * 1000), memoryview(b"e" * 10)]
    expected = b"".join(bytes(x) for x in pieces)
    p = ctx.path("sync")
    res = await ctx.store.put_stream(p, pieces)
    assert await ctx.store.get(p) == expected
    assert (await ctx.store.head(p)).etag == res.etag

    async def agen() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield bytes(piece)

    q = ctx.path("async")
    kwargs: dict[str, Any] = {"content_type": "text/plain"} if "content_type" in ctx.caps.attributes else {}
    await ctx.store.put_stream(q, agen(), **kwargs)
    got = await ctx.store.get_object(q)
    assert got.data == expected
    if kwargs:
        assert got.attributes.content_type == "text/plain"
    await ctx.store.put_stream(ctx.path("empty"), [])
    assert await ctx.store.get(ctx.path("empty")) == b""


async def check_put_stream_multipart(ctx: ConformanceContext) -> None:
    """A stream larger than several parts (5 MiB minimum) round-trips."""
    block = bytes(range(256)) * 4096  # 1 MiB
    chunks = [block] * 11 + [b"tail"]
    p = ctx.path("big")
    await ctx.store.put_stream(p, chunks, part_size=5 * MIB, max_concurrency=2)
    head = await ctx.store.head(p)
    assert head.size == 11 * MIB + 4
    assert await ctx.store.get(p, range=(11 * MIB - 2, None)) == block[-2:] + b"tail"
    assert await ctx.store.get(p, range=(5 * MIB, 5 * MIB + 3)) == block[:3]


async def check_put_stream_invisible_until_complete(ctx: ConformanceContext) -> None:
    """Nothing is visible at the path while the upload is in progress."""
    p = ctx.path("pending")
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        started.set()
        await release.wait()
        yield b"y" * 1000

    task = asyncio.create_task(ctx.store.put_stream(p, slow()))
    await asyncio.wait_for(started.wait(), 30)
    with pytest.raises(E.NotFoundError):
        await ctx.store.head(p)
    assert await ctx.names() == []
    release.set()
    await task
    assert (await ctx.store.head(p)).size == 2000


async def check_put_stream_aborted_on_error(ctx: ConformanceContext) -> None:
    """The caller's exception is re-raised unchanged and nothing is left at the path."""
    p = ctx.path("boom")
    err = _CallerError("the caller's stream failed")

    async def failing() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        raise err

    with pytest.raises(_CallerError) as info:
        await ctx.store.put_stream(p, failing())
    assert info.value is err
    with pytest.raises(E.NotFoundError):
        await ctx.store.head(p)
    # An existing object is left untouched by a failed replacement.
    await ctx.store.put(p, b"old")
    with pytest.raises(_CallerError):
        await ctx.store.put_stream(p, failing())
    assert await ctx.store.get(p) == b"old"


async def check_put_stream_cancelled(ctx: ConformanceContext) -> None:
    """A cancelled upload leaves nothing behind."""
    p = ctx.path("cancel")
    started = asyncio.Event()

    async def forever() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        started.set()
        await asyncio.Event().wait()
        yield b""

    task = asyncio.create_task(ctx.store.put_stream(p, forever()))
    await asyncio.wait_for(started.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(E.NotFoundError):
        await ctx.store.head(p)


async def check_put_stream_modes(ctx: ConformanceContext) -> None:
    """Create and CAS modes apply to stream uploads too."""
    p = ctx.path("m")
    first = await ctx.store.put_stream(p, [b"one"], mode="create")
    ctx.xfail_if_quirk("create_stream", "create mode on stream uploads")
    with pytest.raises(E.AlreadyExistsError):
        await ctx.store.put_stream(p, [b"two"], mode="create")
    assert await ctx.store.get(p) == b"one"
    ctx.xfail_if_quirk("update_multipart", "CAS on stream upload completion")
    await ctx.store.put_stream(p, [b"two"], mode=UpdateVersion.of(first))
    with pytest.raises(E.PreconditionError):
        await ctx.store.put_stream(p, [b"three"], mode=UpdateVersion.of(first))
    assert await ctx.store.get(p) == b"two"


async def check_get_stream(ctx: ConformanceContext) -> None:
    """get_stream yields the object in chunks, exposes meta, supports ranges and closes on break."""
    p = ctx.path("s")
    data = bytes(range(256)) * 1000
    put = await ctx.store.put(p, data)
    async with ctx.store.get_stream(p, chunk_size=10_000) as stream:
        assert stream.meta.size == len(data)
        assert stream.meta.etag == put.etag
        chunks = [c async for c in stream]
    assert b"".join(chunks) == data
    assert all(len(c) <= 10_000 for c in chunks)
    assert len(chunks) >= len(data) // 10_000
    # Plain iteration without `async with` works and closes itself at the end.
    assert b"".join([c async for c in ctx.store.get_stream(p)]) == data
    async with ctx.store.get_stream(p, range=(1000, 1010)) as stream:
        assert b"".join([c async for c in stream]) == data[1000:1010]
    async with ctx.store.get_stream(p, chunk_size=1000) as stream:
        async for _ in stream:
            break
    stream = ctx.store.get_stream(p)
    await stream.aclose()
    await stream.aclose()
    with pytest.raises(E.NotFoundError):
        async with ctx.store.get_stream(ctx.path("missing")) as missing:
            await missing.read_all()


async def check_copy_and_rename(ctx: ConformanceContext) -> None:
    """Copy keeps the source and its attributes; rename moves; both overwrite; missing src fails."""
    src, dst = ctx.path("src"), ctx.path("dst")
    kwargs: dict[str, Any] = {"content_type": "text/csv"} if "content_type" in ctx.caps.attributes else {}
    metadata = {"k": "v"} if "metadata" in ctx.caps.attributes else None
    await ctx.store.put(src, b"payload", metadata=metadata, **kwargs)
    await ctx.store.put(dst, b"old")
    await ctx.store.copy(src, dst)
    copied = await ctx.store.get_object(dst)
    assert copied.data == b"payload"
    if kwargs:
        assert copied.attributes.content_type == "text/csv"
    if metadata:
        assert dict(copied.attributes.metadata) == metadata
    assert await ctx.store.get(src) == b"payload"
    moved = ctx.path("moved/deeper")
    await ctx.store.rename(src, moved)
    assert await ctx.store.get(moved) == b"payload"
    with pytest.raises(E.NotFoundError):
        await ctx.store.head(src)
    with pytest.raises(E.NotFoundError):
        await ctx.store.copy(ctx.path("missing"), ctx.path("x"))
    with pytest.raises(E.NotFoundError):
        await ctx.store.rename(ctx.path("missing"), ctx.path("x"))
    assert sorted(await ctx.names()) == ["dst", "moved/deeper"]


async def check_copy_if_not_exists(ctx: ConformanceContext) -> None:
    """Atomic copy/rename unless dst exists: AlreadyExistsError leaves both untouched."""
    src, dst = ctx.path("src"), ctx.path("dst")
    await ctx.store.put(src, b"new")
    if not ctx.caps.copy_if_not_exists:
        with pytest.raises(E.NotSupportedError):
            await ctx.store.copy_if_not_exists(src, dst)
        with pytest.raises(E.NotSupportedError):
            await ctx.store.rename_if_not_exists(src, dst)
        return
    await ctx.store.copy_if_not_exists(src, dst)
    assert await ctx.store.get(dst) == b"new"
    ctx.xfail_if_quirk("copy_if_not_exists", "a destination condition on copies")
    await ctx.store.put(dst, b"existing")
    with pytest.raises(E.AlreadyExistsError):
        await ctx.store.copy_if_not_exists(src, dst)
    with pytest.raises(E.AlreadyExistsError):
        await ctx.store.rename_if_not_exists(src, dst)
    assert await ctx.store.get(dst) == b"existing"
    assert await ctx.store.get(src) == b"new"  # a failed rename keeps its source
    moved = ctx.path("moved")
    await ctx.store.rename_if_not_exists(src, moved)
    assert await ctx.store.get(moved) == b"new"
    with pytest.raises(E.NotFoundError):
        await ctx.store.head(src)
    with pytest.raises(E.NotFoundError):
        await ctx.store.copy_if_not_exists(ctx.path("missing"), ctx.path("other"))


CHECKS = [
    check_put_stream_round_trip,
    check_put_stream_multipart,
    check_put_stream_invisible_until_complete,
    check_put_stream_aborted_on_error,
    check_put_stream_cancelled,
    check_put_stream_modes,
    check_get_stream,
    check_copy_and_rename,
    check_copy_if_not_exists,
]
