"""Checks: put/get/head/delete round trips, ETag consistency, paths, delete_many, versions."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest

from .. import errors as E
from .._types import ATTRIBUTE_NAMES, GetResult, ListResult, ObjectMeta, PutResult
from ._context import ConformanceContext

__all__ = [
    "CHECKS",
    "UNICODE_NAMES",
    "check_bytes_like_data",
    "check_capabilities",
    "check_concurrent_operations",
    "check_delete_is_idempotent",
    "check_delete_many",
    "check_empty_object",
    "check_large_object",
    "check_missing_object",
    "check_overwrite_replaces_whole_object",
    "check_percent_sequences_stay_literal",
    "check_put_get_head_delete",
    "check_unicode_paths_round_trip",
    "check_versions_or_not_supported",
]

#: Names that must round-trip exactly: each trips a different encoding layer somewhere.
UNICODE_NAMES = [
    "with space.txt",
    "plus+sign",
    "percent%20literal",
    "100%",
    "hash#tag",
    "question?mark=1&x=2",
    "emoji-😀",
    "🇦🇺/$shenanigans@@~.txt",
    "%Ω%.txt",
    "ünïcödé/ñ",
    "semi;colon,comma",
    "quote'and\"double",
    "tilde~and*star",
    "brackets[]{}()<>",
    "at@sign:colon",
    " leading and trailing space ",
    "dir with space/file name",
]


async def check_put_get_head_delete(ctx: ConformanceContext) -> None:
    """Round trip: put, get, head, get_object, list, list_with_delimiter and get_stream agree."""
    store, p = ctx.store, ctx.path("file.bin")
    data = bytes(range(256)) * 4
    put = await store.put(p, data)
    assert isinstance(put, PutResult)
    assert isinstance(put.etag, str) or put.etag is None
    got_bytes = await store.get(p)
    assert type(got_bytes) is bytes
    assert got_bytes == data
    head = await store.head(p)
    assert isinstance(head, ObjectMeta)
    assert head.location == p
    assert type(head.size) is int
    assert head.version is None or isinstance(head.version, str)
    assert head.size == len(data)
    assert isinstance(head.last_modified, datetime)
    assert head.last_modified.utcoffset() == timedelta(0), "last_modified must be aware and UTC"
    assert abs(head.last_modified - datetime.now(UTC)) < timedelta(minutes=5)
    # One state, one ETag string: whatever put returned is what every read reports.
    assert head.etag == put.etag
    assert head.version == put.version
    got = await store.get_object(p)
    assert isinstance(got, GetResult)
    assert type(got.data) is bytes
    assert got.data == data
    assert got.meta.location == p
    assert got.meta.etag == put.etag
    assert got.meta.size == len(data)
    listed = [m async for m in store.list(ctx.prefix)]
    assert [m.location for m in listed] == [p]
    assert listed[0].etag == put.etag
    assert listed[0].size == len(data)
    level = await store.list_with_delimiter(ctx.prefix)
    assert isinstance(level, ListResult)
    assert [(m.location, m.etag, m.size) for m in level.objects] == [(p, put.etag, len(data))]
    assert level.common_prefixes == []
    async with store.get_stream(p) as stream:
        assert stream.meta.etag == put.etag
        assert await stream.read_all() == data
    await store.delete(p)
    with pytest.raises(E.NotFoundError):
        await store.get(p)
    with pytest.raises(E.NotFoundError):
        await store.head(p)
    assert await ctx.names() == []


async def check_missing_object(ctx: ConformanceContext) -> None:
    """Every read of a missing object raises NotFoundError (also a FileNotFoundError)."""
    store, p = ctx.store, ctx.path("missing")
    with pytest.raises(E.NotFoundError):
        await store.get(p)
    with pytest.raises(E.NotFoundError):
        await store.get_object(p)
    with pytest.raises(E.NotFoundError):
        await store.head(p)
    with pytest.raises(E.NotFoundError):
        await store.get(p, range=(0, 10))
    with pytest.raises(E.NotFoundError):
        await store.get_ranges(p, [(0, 1), (5, 9)])
    with pytest.raises(FileNotFoundError):
        async with store.get_stream(p) as stream:
            await stream.read_all()
    with pytest.raises(E.NotFoundError):
        await ctx.store.get(ctx.path("missing/child"))
    # A "directory" (a prefix of other objects) is not an object.
    await store.put(ctx.path("dir/file"), b"f")
    for call in (store.get, store.head, store.get_object):
        with pytest.raises(E.NotFoundError):
            await call(ctx.path("dir"))
    await store.delete(ctx.path("dir"))  # deleting it is a no-op, not a recursive delete
    assert await ctx.names() == ["dir/file"]
    if ctx.caps.tags:
        with pytest.raises(E.NotFoundError):
            await store.get_tags(p)


async def check_empty_object(ctx: ConformanceContext) -> None:
    """An empty object round-trips with size 0 through every read."""
    p = ctx.path("empty")
    put = await ctx.store.put(p, b"")
    assert await ctx.store.get(p) == b""
    head = await ctx.store.head(p)
    assert head.size == 0
    assert head.etag == put.etag
    got = await ctx.store.get_object(p)
    assert (got.data, got.meta.size) == (b"", 0)
    assert [(m.location, m.size) async for m in ctx.store.list(ctx.prefix)] == [(p, 0)]
    async with ctx.store.get_stream(p) as stream:
        assert stream.meta.size == 0
        assert await stream.read_all() == b""


async def check_overwrite_replaces_whole_object(ctx: ConformanceContext) -> None:
    """A put replaces the whole object (longer or shorter) and changes its ETag."""
    p = ctx.path("o")
    first = await ctx.store.put(p, b"a much longer first version")
    second = await ctx.store.put(p, b"short")
    assert await ctx.store.get(p) == b"short"
    assert (await ctx.store.head(p)).size == 5
    assert first.etag != second.etag
    same_size = await ctx.store.put(p, b"SHORT")
    assert same_size.etag != second.etag
    assert (await ctx.store.head(p)).etag == same_size.etag
    longer = await ctx.store.put(p, b"x" * 10_000)
    assert await ctx.store.get(p) == b"x" * 10_000
    assert (await ctx.store.head(p)).etag == longer.etag


async def check_bytes_like_data(ctx: ConformanceContext) -> None:
    """Bytearray and memoryview are accepted; str and other types are refused before I/O."""
    p = ctx.path("b")
    await ctx.store.put(p, bytearray(b"ba"))
    assert await ctx.store.get(p) == b"ba"
    await ctx.store.put(p, memoryview(b"xmvx")[1:3])
    assert await ctx.store.get(p) == b"mv"
    with pytest.raises(E.InvalidArgumentError):
        await ctx.store.put(ctx.path("s"), "text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):  # InvalidArgumentError is also a TypeError
        await ctx.store.put(ctx.path("s"), "text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await ctx.store.put(ctx.path("s"), 12)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await ctx.store.put(ctx.path("s"), None)  # type: ignore[arg-type]
    assert await ctx.names() == ["b"]


async def check_unicode_paths_round_trip(ctx: ConformanceContext) -> None:
    """Spaces, +, %, #, ?, emoji... round-trip exactly through put, get, head, list, copy, rename."""
    store = ctx.store
    for i, name in enumerate(UNICODE_NAMES):
        p = ctx.path(name)
        await store.put(p, f"v{i}".encode())
        assert await store.get(p) == f"v{i}".encode(), name
        assert (await store.head(p)).location == p
        assert (await store.get_object(p)).meta.location == p
    assert await ctx.names() == sorted(UNICODE_NAMES)
    level = await store.list_with_delimiter(ctx.prefix)
    dirs = sorted({ctx.path(n.split("/")[0]) for n in UNICODE_NAMES if "/" in n})
    assert sorted(level.common_prefixes) == dirs
    assert sorted(m.location for m in level.objects) == sorted(ctx.path(n) for n in UNICODE_NAMES if "/" not in n)
    under = [m.location async for m in store.list(ctx.path("dir with space"))]
    assert under == [ctx.path("dir with space/file name")]
    src, dst = ctx.path(UNICODE_NAMES[0]), ctx.path("copy of 😀 #1?a=b")
    await store.copy(src, dst)
    assert await store.get(dst) == b"v0"
    assert (await store.head(dst)).location == dst
    moved = ctx.path("moved 🚚/100% +done")
    await store.rename(dst, moved)
    assert await store.get(moved) == b"v0"
    with pytest.raises(E.NotFoundError):
        await store.head(dst)
    await store.delete(moved)
    await store.delete(ctx.path("emoji-😀"))
    with pytest.raises(E.NotFoundError):
        await store.head(ctx.path("emoji-😀"))


async def check_percent_sequences_stay_literal(ctx: ConformanceContext) -> None:
    """A path that looks percent-encoded is stored as written, never decoded (as in object_store)."""
    store = ctx.store
    hello = ctx.path("%48%45%4C%4C%4F/foo.parquet")  # "HELLO", percent-encoded
    await store.put(hello, b"\x00\x01")
    assert [m.location async for m in store.list(ctx.path("%48%45%4C%4C%4F"))] == [hello]
    assert [m.location async for m in store.list(ctx.path("HELLO"))] == []
    with pytest.raises(E.NotFoundError):
        await store.head(ctx.path("HELLO/foo.parquet"))
    slash = ctx.path("a%2Fb.file")  # an encoded "/" is no delimiter
    await store.put(slash, b"s")
    assert (await store.head(slash)).location == slash
    with pytest.raises(E.NotFoundError):
        await store.head(ctx.path("a/b.file"))
    level = await store.list_with_delimiter(ctx.prefix)
    assert [m.location for m in level.objects] == [slash]
    assert level.common_prefixes == [ctx.path("%48%45%4C%4C%4F")]
    bad_escape = ctx.path("%Q.parquet")  # not a valid escape at all
    await store.put(bad_escape, b"q")
    assert await store.get(bad_escape) == b"q"
    plus = ctx.path("a+b c")  # "+" is not a space, a space is not "+"
    await store.put(plus, b"p")
    with pytest.raises(E.NotFoundError):
        await store.head(ctx.path("a b c"))
    with pytest.raises(E.NotFoundError):
        await store.head(ctx.path("a+b+c"))
    assert await ctx.names() == sorted(["%48%45%4C%4C%4F/foo.parquet", "a%2Fb.file", "%Q.parquet", "a+b c"])


async def check_delete_is_idempotent(ctx: ConformanceContext) -> None:
    """Deleting a missing object is not an error, before or after it existed."""
    await ctx.store.delete(ctx.path("never-existed"))
    await ctx.store.delete(ctx.path("never/existed/deep"))
    p = ctx.path("d")
    await ctx.store.put(p, b"1")
    await ctx.store.put(ctx.path("d2"), b"2")
    await ctx.store.delete(p)
    await ctx.store.delete(p)
    with pytest.raises(E.NotFoundError):
        await ctx.store.head(p)
    assert await ctx.names() == ["d2"]


async def check_delete_many(ctx: ConformanceContext) -> None:
    """delete_many takes any iterable (generators too), ignores missing paths, deletes the rest."""
    names = [f"k{i:03d}" for i in range(30)] + ["sub/a", "sub/b"]
    await ctx.put_many([*names, "keep"])
    await ctx.store.delete_many(ctx.path(n) for n in [*names[:20], "missing", "sub/missing"])
    assert await ctx.names() == sorted([*names[20:], "keep"])
    await ctx.store.delete_many({ctx.path(n) for n in names[20:25]})
    await ctx.store.delete_many(tuple(ctx.path(n) for n in names[25:]))
    await ctx.store.delete_many([ctx.path("missing"), ctx.path("missing")])
    await ctx.store.delete_many([])
    await ctx.store.delete_many(iter(()))
    assert await ctx.names() == ["keep"]
    with pytest.raises(E.InvalidArgumentError):
        await ctx.store.delete_many(ctx.path("keep"))  # a str is one path, not an iterable of them
    assert await ctx.names() == ["keep"]


async def check_concurrent_operations(ctx: ConformanceContext) -> None:
    """Many concurrent puts, gets, heads and deletes on one store neither mix up nor lose data."""
    n = 40

    async def round_trip(i: int) -> None:
        p = ctx.path(f"c/{i:02d}")
        data = f"object {i} ".encode() * (i + 1)
        put = await ctx.store.put(p, data)
        assert await ctx.store.get(p) == data
        assert (await ctx.store.head(p)).etag == put.etag
        if i % 2:
            await ctx.store.delete(p)

    await asyncio.gather(*(round_trip(i) for i in range(n)))
    assert await ctx.names() == [f"c/{i:02d}" for i in range(0, n, 2)]


async def check_large_object(ctx: ConformanceContext) -> None:
    """A few MiB written by put come back intact through get, ranges and get_stream."""
    data = random.Random(7).randbytes(3 * 1024 * 1024 + 17)
    p = ctx.path("large")
    put = await ctx.store.put(p, data)
    head = await ctx.store.head(p)
    assert (head.size, head.etag) == (len(data), put.etag)
    assert await ctx.store.get(p) == data
    middle = (len(data) // 2, len(data) // 2 + 100_000)
    assert await ctx.store.get(p, range=middle) == data[middle[0] : middle[1]]
    async with ctx.store.get_stream(p, chunk_size=256 * 1024) as stream:
        received = bytearray()
        async for chunk in stream:
            assert len(chunk) <= 256 * 1024
            received += chunk
    assert bytes(received) == data


async def check_versions_or_not_supported(ctx: ConformanceContext) -> None:
    """version= reads an older version, or raises NotSupportedError on stores without versions."""
    p = ctx.path("v")
    first = await ctx.store.put(p, b"one")
    if not ctx.caps.versions:
        with pytest.raises(E.NotSupportedError):
            await ctx.store.get(p, version="1")
        with pytest.raises(E.NotSupportedError):
            await ctx.store.get_object(p, version="1")
        with pytest.raises(E.NotSupportedError):
            await ctx.store.head(p, version="1")
        with pytest.raises(E.NotSupportedError):
            async with ctx.store.get_stream(p, version="1") as stream:
                await stream.read_all()
        with pytest.raises(NotImplementedError):  # NotSupportedError is also a NotImplementedError
            await ctx.store.get(p, version="1")
        return
    if first.version is None:
        pytest.skip("the bucket under test keeps no versions (put returned version=None)")
    second = await ctx.store.put(p, b"two")
    assert second.version is not None
    assert second.version != first.version
    assert await ctx.store.get(p, version=first.version) == b"one"
    old = await ctx.store.get_object(p, version=first.version)
    assert (old.data, old.meta.version) == (b"one", first.version)
    assert (await ctx.store.head(p, version=first.version)).size == 3
    async with ctx.store.get_stream(p, version=first.version) as stream:
        assert await stream.read_all() == b"one"
    assert await ctx.store.get(p) == b"two"
    assert (await ctx.store.head(p)).version == second.version


async def check_capabilities(ctx: ConformanceContext) -> None:
    """Capabilities are booleans and a frozenset of known attribute names."""
    caps = ctx.caps
    for name in (
        "put_create",
        "put_update_etag",
        "put_update_version",
        "copy_if_not_exists",
        "delete_if_match",
        "tags",
        "versions",
        "sign",
    ):
        assert isinstance(getattr(caps, name), bool), name
    assert isinstance(caps.attributes, frozenset)
    assert caps.attributes <= {*ATTRIBUTE_NAMES, "metadata"}
    assert ctx.store.capabilities == caps  # stable across calls


CHECKS = [
    check_put_get_head_delete,
    check_missing_object,
    check_empty_object,
    check_overwrite_replaces_whole_object,
    check_bytes_like_data,
    check_unicode_paths_round_trip,
    check_percent_sequences_stay_literal,
    check_delete_is_idempotent,
    check_delete_many,
    check_concurrent_operations,
    check_large_object,
    check_versions_or_not_supported,
    check_capabilities,
]
