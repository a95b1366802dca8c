"""Checks: conditional reads, ranges, create-only and compare-and-swap writes, conditional delete."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from .. import errors as E
from ..preconditions import UpdateVersion, normalize_etag
from ._context import ConformanceContext


async def check_get_if_match(ctx: ConformanceContext) -> None:
    """if_match: matching ETag (quoted or not, or *) reads; another raises PreconditionError."""
    ctx.xfail_if_quirk("conditional_get", "If-Match on reads")
    p = ctx.path("c")
    etag = (await ctx.store.put(p, b"data")).etag
    assert etag is not None
    bare = normalize_etag(etag)
    assert await ctx.store.get(p, if_match=etag) == b"data"
    assert await ctx.store.get(p, if_match=bare) == b"data"
    assert await ctx.store.get(p, if_match=f'"{bare}"') == b"data"
    assert await ctx.store.get(p, if_match="*") == b"data"
    with pytest.raises(E.PreconditionError):
        await ctx.store.get(p, if_match='"not-the-etag"')
    with pytest.raises(E.NotFoundError):
        await ctx.store.get(ctx.path("missing"), if_match=etag)


async def check_get_if_none_match(ctx: ConformanceContext) -> None:
    """if_none_match: matching ETag raises NotModifiedError (not PreconditionError); other reads."""
    ctx.xfail_if_quirk("conditional_get", "If-None-Match on reads")
    p = ctx.path("c")
    etag = (await ctx.store.put(p, b"data")).etag
    assert etag is not None
    with pytest.raises(E.NotModifiedError) as info:
        await ctx.store.get(p, if_none_match=etag)
    assert not isinstance(info.value, E.PreconditionError)
    with pytest.raises(E.NotModifiedError):
        await ctx.store.get(p, if_none_match=normalize_etag(etag))
    with pytest.raises(E.NotModifiedError):
        await ctx.store.get_object(p, if_none_match="*")
    assert await ctx.store.get(p, if_none_match='"other"') == b"data"


async def check_get_modified_since(ctx: ConformanceContext) -> None:
    """if_modified_since / if_unmodified_since compare at one-second granularity."""
    ctx.xfail_if_quirk("conditional_get", "If-(Un)Modified-Since on reads")
    p = ctx.path("c")
    await ctx.store.put(p, b"data")
    modified = (await ctx.store.head(p)).last_modified
    later = modified + timedelta(hours=1)
    earlier = modified - timedelta(hours=1)
    assert await ctx.store.get(p, if_modified_since=earlier) == b"data"
    with pytest.raises(E.NotModifiedError):
        await ctx.store.get(p, if_modified_since=later)
    with pytest.raises(E.NotModifiedError):
        await ctx.store.get(p, if_modified_since=modified)  # same second: not modified since
    assert await ctx.store.get(p, if_unmodified_since=later) == b"data"
    assert await ctx.store.get(p, if_unmodified_since=modified) == b"data"
    with pytest.raises(E.PreconditionError):
        await ctx.store.get(p, if_unmodified_since=earlier)


async def check_ranges(ctx: ConformanceContext) -> None:
    """Half-open ranges, clamped ends, open and suffix ranges; meta.size is the whole size."""
    p = ctx.path("r")
    data = bytes(range(100))
    await ctx.store.put(p, data)
    assert await ctx.store.get(p, range=(10, 20)) == data[10:20]
    assert await ctx.store.get(p, range=(90, 1000)) == data[90:]
    assert await ctx.store.get(p, range=(95, None)) == data[95:]
    assert await ctx.store.get(p, range=(-5, None)) == data[-5:]
    assert await ctx.store.get(p, range=(-500, None)) == data
    assert await ctx.store.get(p, range=(99, 100)) == data[99:]
    ranged = await ctx.store.get_object(p, range=(0, 1))
    assert ranged.data == data[:1]
    assert ranged.meta.size == len(data)


async def check_invalid_ranges(ctx: ConformanceContext) -> None:
    """Malformed ranges fail before I/O; a start at or past the size fails; empty objects too."""
    p = ctx.path("r")
    await ctx.store.put(p, b"0123456789")
    bad: Any
    for bad in [(5, 5), (5, 3), (0, -1), (-3, 5), (1.5, 2)]:
        with pytest.raises(E.InvalidRangeError):
            await ctx.store.get(p, range=bad)
        with pytest.raises(E.InvalidRangeError):
            await ctx.store.get(ctx.path("missing"), range=bad)
    for bad in [(10, 20), (11, None), (100, 200)]:
        with pytest.raises(E.InvalidRangeError):
            await ctx.store.get(p, range=bad)
    empty = ctx.path("empty")
    await ctx.store.put(empty, b"")
    for bad in [(0, 1), (0, None), (-1, None)]:
        with pytest.raises(E.InvalidRangeError):
            await ctx.store.get(empty, range=bad)


async def check_get_ranges(ctx: ConformanceContext) -> None:
    """get_ranges returns one result per range, in order, clamped, with the same rules."""
    p = ctx.path("r")
    data = bytes(range(256)) * 40
    await ctx.store.put(p, data)
    ranges = [(5000, 5010), (0, 3), (10, 20), (15, 25), (10_000, 20_000), (-4, None), (7, None)]
    got = await ctx.store.get_ranges(p, ranges)
    assert got == [data[5000:5010], data[0:3], data[10:20], data[15:25], data[10_000:], data[-4:], data[7:]]
    assert await ctx.store.get_ranges(p, []) == []
    with pytest.raises(E.InvalidRangeError):
        await ctx.store.get_ranges(p, [(0, 1), (len(data), len(data) + 1)])
    with pytest.raises(E.InvalidRangeError):
        await ctx.store.get_ranges(p, [(3, 1)])
    with pytest.raises(E.NotFoundError):
        await ctx.store.get_ranges(ctx.path("missing"), [(0, 1)])


async def check_put_create(ctx: ConformanceContext) -> None:
    """mode='create' writes a new object and raises AlreadyExistsError on an existing one."""
    p = ctx.path("c")
    created = await ctx.store.put(p, b"first", mode="create")
    assert created.etag is not None
    with pytest.raises(E.AlreadyExistsError):
        await ctx.store.put(p, b"second", mode="create")
    assert await ctx.store.get(p) == b"first"


async def check_put_create_is_atomic(ctx: ConformanceContext) -> None:
    """Of N concurrent creators exactly one wins; the stored data is the winner's."""
    p = ctx.path("race")

    async def attempt(i: int) -> int | None:
        try:
            await ctx.store.put(p, f"writer-{i}".encode(), mode="create")
        except E.AlreadyExistsError:
            return None
        return i

    results = await asyncio.gather(*(attempt(i) for i in range(10)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert await ctx.store.get(p) == f"writer-{winners[0]}".encode()


async def check_put_update_etag(ctx: ConformanceContext) -> None:
    """CAS by ETag: succeeds on the current state, PreconditionError on a stale one or a missing object."""
    p = ctx.path("cas")
    first = await ctx.store.put(p, b"1")
    second = await ctx.store.put(p, b"2", mode=UpdateVersion(etag=first.etag))
    assert await ctx.store.get(p) == b"2"
    with pytest.raises(E.PreconditionError):
        await ctx.store.put(p, b"3", mode=UpdateVersion(etag=first.etag))
    assert await ctx.store.get(p) == b"2"
    meta = await ctx.store.head(p)
    assert meta.etag == second.etag
    await ctx.store.put(p, b"3", mode=UpdateVersion.of(meta))
    assert await ctx.store.get(p) == b"3"
    with pytest.raises(E.PreconditionError):
        await ctx.store.put(ctx.path("missing"), b"x", mode=UpdateVersion(etag=first.etag))
    with pytest.raises(E.NotFoundError):
        await ctx.store.head(ctx.path("missing"))
    assert first.etag is not None
    bare = normalize_etag(first.etag)
    cur = await ctx.store.head(p)
    assert cur.etag is not None
    await ctx.store.put(p, b"4", mode=UpdateVersion(etag=normalize_etag(cur.etag)))
    with pytest.raises(E.PreconditionError):
        await ctx.store.put(p, b"5", mode=UpdateVersion(etag=bare))


async def check_put_update_version(ctx: ConformanceContext) -> None:
    """CAS by version where the store has it; NotSupportedError for a version-only update otherwise."""
    p = ctx.path("casv")
    first = await ctx.store.put(p, b"1")
    if not ctx.caps.put_update_version:
        with pytest.raises(E.NotSupportedError):
            await ctx.store.put(p, b"2", mode=UpdateVersion(version="1"))
        assert await ctx.store.get(p) == b"1"
        return
    if first.version is None:
        pytest.skip("the bucket under test is not versioned (put returned no version)")
    await ctx.store.put(p, b"2", mode=UpdateVersion(version=first.version))
    with pytest.raises(E.PreconditionError):
        await ctx.store.put(p, b"3", mode=UpdateVersion(version=first.version))
    assert await ctx.store.get(p) == b"2"


async def check_concurrent_cas_increments(ctx: ConformanceContext) -> None:
    """5 workers x 10 CAS increments == 50: no update is lost."""
    p = ctx.path("counter")
    await ctx.store.put(p, b"0")

    async def worker() -> None:
        done = 0
        while done < 10:
            res = await ctx.store.get_object(p)
            value = int(res.data)
            try:
                await ctx.store.put(p, str(value + 1).encode(), mode=UpdateVersion.of(res.meta))
            except E.PreconditionError:
                await asyncio.sleep(0)
                continue
            done += 1

    await asyncio.gather(*(worker() for _ in range(5)))
    assert int(await ctx.store.get(p)) == 50


async def check_conditional_delete(ctx: ConformanceContext) -> None:
    """delete(if_match=...) deletes only the expected state, or NotSupportedError."""
    p = ctx.path("cd")
    first = await ctx.store.put(p, b"1")
    assert first.etag is not None
    if not ctx.caps.delete_if_match:
        with pytest.raises(E.NotSupportedError):
            await ctx.store.delete(p, if_match=first.etag)
        assert await ctx.store.get(p) == b"1"
        return
    ctx.xfail_if_quirk("delete_if_match", "If-Match on delete")
    second = await ctx.store.put(p, b"2")
    with pytest.raises(E.PreconditionError):
        await ctx.store.delete(p, if_match=first.etag)
    assert await ctx.store.get(p) == b"2"
    await ctx.store.delete(p, if_match=UpdateVersion.of(second))
    with pytest.raises(E.NotFoundError):
        await ctx.store.head(p)
    third = await ctx.store.put(p, b"3")
    assert third.etag is not None
    await ctx.store.delete(p, if_match=normalize_etag(third.etag))
    with pytest.raises(E.NotFoundError):
        await ctx.store.head(p)


CHECKS = [
    check_get_if_match,
    check_get_if_none_match,
    check_get_modified_since,
    check_ranges,
    check_invalid_ranges,
    check_get_ranges,
    check_put_create,
    check_put_create_is_atomic,
    check_put_update_etag,
    check_put_update_version,
    check_concurrent_cas_increments,
    check_conditional_delete,
]
