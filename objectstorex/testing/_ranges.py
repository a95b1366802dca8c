"""Checks: ranged reads and get_ranges."""

from __future__ import annotations

import pytest

from .. import errors as E
from ._context import ConformanceContext

__all__ = ["CHECKS", "check_get_ranges", "check_invalid_ranges", "check_ranges"]

#: Malformed ranges: refused before any I/O, even on a missing object.
MALFORMED = [(5, 5), (5, 3), (0, -1), (-3, 5), (-3, -1), (1.5, 2), (0, 1.0), ("0", "1"), (1,), (0, 1, 2), 7, "0-1"]


async def _clamped(ctx: ConformanceContext, path: str, start: int, end: int) -> bytes:
    """Read ``(start, end)`` with ``end`` past the object, which must be clamped, not refused."""
    try:
        return await ctx.store.get(path, range=(start, end))
    except E.InvalidRangeError:
        pytest.fail(f"the range ({start}, {end}) ending past the object was refused instead of clamped")


async def check_ranges(ctx: ConformanceContext) -> None:
    """Half-open ranges, clamped ends, open and suffix ranges; meta.size is the whole size."""
    p = ctx.path("r")
    data = bytes(range(100))
    put = await ctx.store.put(p, data)
    assert await ctx.store.get(p, range=(10, 20)) == data[10:20]
    assert await ctx.store.get(p, range=(0, 100)) == data
    assert await ctx.store.get(p, range=(0, 1)) == data[:1]
    assert await _clamped(ctx, p, 90, 1000) == data[90:]
    assert await ctx.store.get(p, range=(99, 100)) == data[99:]
    assert await _clamped(ctx, p, 99, 101) == data[99:]
    assert await ctx.store.get(p, range=(95, None)) == data[95:]
    assert await ctx.store.get(p, range=(0, None)) == data
    assert await ctx.store.get(p, range=(-5, None)) == data[-5:]
    assert await ctx.store.get(p, range=(-100, None)) == data
    assert await ctx.store.get(p, range=(-500, None)) == data  # suffix clamped
    assert await ctx.store.get(p, range=[3, 6]) == data[3:6]  # any pair
    ranged = await ctx.store.get_object(p, range=(40, 50))
    assert ranged.data == data[40:50]
    assert ranged.meta.size == len(data)
    assert ranged.meta.etag == put.etag
    assert (await ctx.store.get_object(p, range=(-3, None))).meta.size == len(data)
    assert (await ctx.store.get_object(p, range=(98, 500))).meta.size == len(data)
    one = ctx.path("one")
    await ctx.store.put(one, b"z")
    assert await ctx.store.get(one, range=(0, 1)) == b"z"
    assert await ctx.store.get(one, range=(-1, None)) == b"z"
    assert await ctx.store.get(one, range=(-2, None)) == b"z"


async def check_invalid_ranges(ctx: ConformanceContext) -> None:
    """Malformed ranges fail before I/O; a start at or past the size fails; empty objects too."""
    p = ctx.path("r")
    await ctx.store.put(p, b"0123456789")
    missing = ctx.path("missing")
    for bad in MALFORMED:
        with pytest.raises(E.InvalidRangeError):
            await ctx.store.get(p, range=bad)  # type: ignore[arg-type]
        with pytest.raises(E.InvalidRangeError):  # validated before the request
            await ctx.store.get(missing, range=bad)  # type: ignore[arg-type]
        with pytest.raises(E.InvalidRangeError):
            await ctx.store.get_ranges(missing, [(0, 1), bad])  # type: ignore[list-item]
        with pytest.raises(E.InvalidRangeError):
            async with ctx.store.get_stream(missing, range=bad) as stream:  # type: ignore[arg-type]
                await stream.read_all()
    with pytest.raises(ValueError):  # InvalidRangeError is also a ValueError
        await ctx.store.get(p, range=(5, 3))
    for past in [(10, 20), (10, None), (11, None), (100, 200)]:
        with pytest.raises(E.InvalidRangeError):
            await ctx.store.get(p, range=past)
        with pytest.raises(E.InvalidRangeError):
            await ctx.store.get_object(p, range=past)
        with pytest.raises(E.InvalidRangeError):
            async with ctx.store.get_stream(p, range=past) as stream:
                await stream.read_all()
    empty = ctx.path("empty")
    await ctx.store.put(empty, b"")
    for on_empty in [(0, 1), (0, None), (-1, None), (0, 100)]:
        with pytest.raises(E.InvalidRangeError):
            await ctx.store.get(empty, range=on_empty)
        with pytest.raises(E.InvalidRangeError):
            await ctx.store.get_ranges(empty, [on_empty])
    assert await ctx.store.get(empty) == b""
    assert await ctx.store.get(p) == b"0123456789"


async def check_get_ranges(ctx: ConformanceContext) -> None:
    """get_ranges returns one result per range, in the order given, clamped, with the same rules."""
    p = ctx.path("r")
    data = bytes(range(256)) * 40
    await ctx.store.put(p, data)
    ranges = [(5000, 5010), (0, 3), (10, 20), (15, 25), (10_000, 20_000), (-4, None), (7, None), (0, 3)]
    got = await ctx.store.get_ranges(p, ranges)
    expected = [data[5000:5010], data[0:3], data[10:20], data[15:25], data[10_000:], data[-4:], data[7:], data[0:3]]
    assert got == expected
    assert await ctx.store.get_ranges(p, [(3, 4)]) == [data[3:4]]
    assert await ctx.store.get_ranges(p, (r for r in [(1, 2), (2, 3)])) == [data[1:2], data[2:3]]  # type: ignore[arg-type]
    assert await ctx.store.get_ranges(p, []) == []
    assert await ctx.store.get_ranges(p, [(0, len(data) * 2)]) == [data]
    with pytest.raises(E.InvalidRangeError):
        await ctx.store.get_ranges(p, [(0, 1), (len(data), len(data) + 1)])
    with pytest.raises(E.InvalidRangeError):
        await ctx.store.get_ranges(p, [(3, 1)])
    with pytest.raises(E.NotFoundError):
        await ctx.store.get_ranges(ctx.path("missing"), [(0, 1)])


CHECKS = [check_ranges, check_invalid_ranges, check_get_ranges]
