"""Checks: put/get/head/delete, paths, attributes, tags, errors, lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .. import errors as E
from ..preconditions import UpdateVersion
from ._context import ConformanceContext

UNICODE_NAMES = [
    "with space.txt",
    "plus+sign",
    "percent%20literal",
    "hash#tag",
    "question?mark=1",
    "emoji-😀",
    "ünïcödé/ñ",
    "semi;colon,comma",
    "quote'and\"double",
    "tilde~and*star",
]

BAD_PATHS = ["", "/lead", "trail/", "a//b", "a/./b", "a/../b", "..", "ctl\x00", "ctl\x1f", 42]


async def check_put_get_head_delete(ctx: ConformanceContext) -> None:
    """A round trip: put returns the ETag that head, get_object and list report; delete removes."""
    store, p = ctx.store, ctx.path("file.bin")
    data = bytes(range(256)) * 4
    put = await store.put(p, data)
    assert await store.get(p) == data
    head = await store.head(p)
    assert head.location == p
    assert head.size == len(data)
    assert head.last_modified.tzinfo is not None
    assert head.last_modified.utcoffset() == timedelta(0)
    assert abs(head.last_modified - datetime.now(UTC)) < timedelta(minutes=5)
    assert head.etag == put.etag
    got = await store.get_object(p)
    assert got.data == data
    assert got.meta.etag == put.etag
    assert got.meta.size == len(data)
    listed = [m async for m in store.list(ctx.prefix)]
    assert [m.location for m in listed] == [p]
    assert listed[0].etag == put.etag
    assert listed[0].size == len(data)
    await store.delete(p)
    with pytest.raises(E.NotFoundError):
        await store.get(p)
    with pytest.raises(E.NotFoundError):
        await store.head(p)
    assert await ctx.names() == []


async def check_empty_object(ctx: ConformanceContext) -> None:
    """An empty object round-trips with size 0."""
    p = ctx.path("empty")
    await ctx.store.put(p, b"")
    assert await ctx.store.get(p) == b""
    assert (await ctx.store.head(p)).size == 0


async def check_overwrite_replaces_whole_object(ctx: ConformanceContext) -> None:
    """A put replaces the whole object and changes its ETag."""
    p = ctx.path("o")
    first = await ctx.store.put(p, b"a much longer first version")
    second = await ctx.store.put(p, b"short")
    assert await ctx.store.get(p) == b"short"
    assert first.etag != second.etag
    same_size = await ctx.store.put(p, b"SHORT")
    assert same_size.etag != second.etag
    assert (await ctx.store.head(p)).etag == same_size.etag


async def check_bytes_like_data(ctx: ConformanceContext) -> None:
    """Bytearray and memoryview are accepted; str and other types are refused before I/O."""
    p = ctx.path("b")
    await ctx.store.put(p, bytearray(b"ba"))
    assert await ctx.store.get(p) == b"ba"
    await ctx.store.put(p, memoryview(b"xmvx")[1:3])
    assert await ctx.store.get(p) == b"mv"
    with pytest.raises(E.InvalidArgumentError):
        await ctx.store.put(ctx.path("s"), "text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await ctx.store.put(ctx.path("s"), 12)  # type: ignore[arg-type]
    assert await ctx.names() == ["b"]


async def check_unicode_paths_round_trip(ctx: ConformanceContext) -> None:
    """Spaces, +, %, #, ?, emoji... round-trip exactly through put, get, head, list and copy."""
    store = ctx.store
    for i, name in enumerate(UNICODE_NAMES):
        p = ctx.path(name)
        await store.put(p, f"v{i}".encode())
        assert await store.get(p) == f"v{i}".encode()
        assert (await store.head(p)).location == p
    assert sorted(await ctx.names()) == sorted(UNICODE_NAMES)
    assert await ctx.names() == sorted(UNICODE_NAMES)
    src, dst = ctx.path(UNICODE_NAMES[0]), ctx.path("copy of 😀 #1")
    await store.copy(src, dst)
    assert await store.get(dst) == b"v0"


async def check_invalid_paths_before_io(ctx: ConformanceContext) -> None:
    """Every operation taking a path raises InvalidPathError for a bad one, writing nothing."""
    store = ctx.store
    good = ctx.path("good")
    await store.put(good, b"x")
    for bad in BAD_PATHS:
        calls = [
            store.put(bad, b"x"),  # type: ignore[arg-type]
            store.get(bad),  # type: ignore[arg-type]
            store.get_object(bad),  # type: ignore[arg-type]
            store.head(bad),  # type: ignore[arg-type]
            store.delete(bad),  # type: ignore[arg-type]
            store.copy(good, bad),  # type: ignore[arg-type]
            store.copy(bad, good),  # type: ignore[arg-type]
            store.rename(bad, good),  # type: ignore[arg-type]
            store.copy_if_not_exists(good, bad),  # type: ignore[arg-type]
            store.get_ranges(bad, [(0, 1)]),  # type: ignore[arg-type]
            store.put_stream(bad, [b"x"]),  # type: ignore[arg-type]
            store.delete_many([good, bad]),  # type: ignore[list-item]
        ]
        for call in calls:
            with pytest.raises(E.InvalidPathError):
                await call
        with pytest.raises(E.InvalidPathError):
            store.get_stream(bad)  # type: ignore[arg-type]
    with pytest.raises(E.InvalidPathError):
        store.list("/bad")
    with pytest.raises(E.InvalidPathError):
        await store.list_with_delimiter("a//b")
    assert await store.get(good) == b"x"  # delete_many validated first: nothing deleted
    assert await ctx.names() == ["good"]


async def check_delete_is_idempotent(ctx: ConformanceContext) -> None:
    """Deleting a missing object is not an error."""
    await ctx.store.delete(ctx.path("never-existed"))
    p = ctx.path("d")
    await ctx.store.put(p, b"1")
    await ctx.store.delete(p)
    await ctx.store.delete(p)


async def check_delete_many(ctx: ConformanceContext) -> None:
    """delete_many takes any iterable, ignores missing paths and deletes the rest."""
    paths = [ctx.path(f"k{i:03d}") for i in range(25)]
    for p in paths:
        await ctx.store.put(p, b"x")
    keep = ctx.path("keep")
    await ctx.store.put(keep, b"k")
    await ctx.store.delete_many(p for p in [*paths, ctx.path("missing")])
    assert await ctx.names() == ["keep"]
    await ctx.store.delete_many([])
    with pytest.raises(E.InvalidArgumentError):
        await ctx.store.delete_many(keep)


async def check_attributes_round_trip(ctx: ConformanceContext) -> None:
    """Attributes and metadata the store keeps come back from get_object."""
    caps = ctx.caps
    wanted = {
        "content_type": "application/json",
        "content_disposition": 'attachment; filename="r.json"',
        "content_encoding": "identity",
        "content_language": "en-GB",
        "cache_control": "max-age=3600",
    }
    kept: dict[str, Any] = {k: v for k, v in wanted.items() if k in caps.attributes}
    metadata = {"owner": "ana", "purpose": "conformance"} if "metadata" in caps.attributes else None
    p = ctx.path("attrs.json")
    await ctx.store.put(p, b"{}", metadata=metadata, **kept)
    attrs = (await ctx.store.get_object(p)).attributes
    for name, value in kept.items():
        assert getattr(attrs, name) == value, name
    if metadata is not None:
        assert dict(attrs.metadata) == metadata
    dropped = sorted(set(wanted) - set(caps.attributes))
    for name in dropped:
        with pytest.raises(E.NotSupportedError):
            await ctx.store.put(ctx.path("x"), b"", **{name: wanted[name]})  # type: ignore[arg-type]
    # Overwriting without attributes clears them.
    await ctx.store.put(p, b"[]")
    attrs = (await ctx.store.get_object(p)).attributes
    assert attrs.cache_control is None
    assert not attrs.metadata


async def check_tags(ctx: ConformanceContext) -> None:
    """Tags set by put come back from get_tags, or NotSupportedError before anything is written."""
    p = ctx.path("tagged")
    tags = {"team": "storage", "tier": "hot"}
    if not ctx.caps.tags:
        with pytest.raises(E.NotSupportedError):
            await ctx.store.put(p, b"x", tags=tags)
        with pytest.raises(E.NotFoundError):
            await ctx.store.head(p)
        await ctx.store.put(p, b"x")
        with pytest.raises(E.NotSupportedError):
            await ctx.store.get_tags(p)
        return
    await ctx.store.put(p, b"x", tags=tags)
    assert await ctx.store.get_tags(p) == tags
    await ctx.store.put(ctx.path("untagged"), b"x")
    assert await ctx.store.get_tags(ctx.path("untagged")) == {}
    with pytest.raises(E.NotFoundError):
        await ctx.store.get_tags(ctx.path("missing"))


async def check_versions_or_not_supported(ctx: ConformanceContext) -> None:
    """version= reads an older version, or raises NotSupportedError on stores without versions."""
    p = ctx.path("v")
    first = await ctx.store.put(p, b"one")
    if not ctx.caps.versions:
        with pytest.raises(E.NotSupportedError):
            await ctx.store.get(p, version="1")
        with pytest.raises(E.NotSupportedError):
            await ctx.store.head(p, version="1")
        return
    if first.version is None:
        pytest.skip("the bucket under test is not versioned (put returned no version)")
    second = await ctx.store.put(p, b"two")
    assert second.version is not None
    assert second.version != first.version
    assert await ctx.store.get(p, version=first.version) == b"one"
    assert (await ctx.store.head(p, version=first.version)).size == 3
    assert await ctx.store.get(p) == b"two"
    assert (await ctx.store.head(p)).version == second.version


async def check_error_attributes(ctx: ConformanceContext) -> None:
    """Errors carry provider, path and status, and are the builtin exceptions they claim to be."""
    p = ctx.path("missing")
    with pytest.raises(E.NotFoundError) as info:
        await ctx.store.get(p)
    err = info.value
    assert isinstance(err, FileNotFoundError)
    assert err.provider in ("memory", "local", "s3", "azure", "gcs")
    assert err.path is not None
    assert p in err.path
    assert err.status is None or isinstance(err.status, int)
    await ctx.store.put(ctx.path("exists"), b"x")
    with pytest.raises(FileExistsError):
        await ctx.store.put(ctx.path("exists"), b"y", mode="create")


async def check_sign(ctx: ConformanceContext) -> None:
    """Sign returns an http(s) URL, or NotSupportedError where the store cannot sign."""
    p = ctx.path("signed")
    await ctx.store.put(p, b"x")
    if not ctx.caps.sign:
        with pytest.raises(E.NotSupportedError):
            await ctx.store.sign("GET", p, 60)
        return
    url = await ctx.store.sign("GET", p, timedelta(minutes=5))
    assert url.startswith(("http://", "https://"))
    assert await ctx.store.sign("PUT", p, 30.0)


async def check_update_version_validation(ctx: ConformanceContext) -> None:
    """An UpdateVersion with neither etag nor version, or an unknown mode, fails before I/O."""
    p = ctx.path("never")
    with pytest.raises(E.InvalidArgumentError):
        await ctx.store.put(p, b"x", mode=UpdateVersion())
    with pytest.raises(ValueError, match="mode"):
        await ctx.store.put(p, b"x", mode="upsert")  # type: ignore[arg-type]
    with pytest.raises(E.NotFoundError):
        await ctx.store.head(p)


CHECKS = [
    check_put_get_head_delete,
    check_empty_object,
    check_overwrite_replaces_whole_object,
    check_bytes_like_data,
    check_unicode_paths_round_trip,
    check_invalid_paths_before_io,
    check_delete_is_idempotent,
    check_delete_many,
    check_attributes_round_trip,
    check_tags,
    check_versions_or_not_supported,
    check_error_attributes,
    check_sign,
    check_update_version_validation,
]
