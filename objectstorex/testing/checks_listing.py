"""Checks: recursive listing, delimiter listing, prefixes, offsets."""

from __future__ import annotations

import pytest

from .. import errors as E
from ._context import ConformanceContext


async def check_list_order_and_prefix_segments(ctx: ConformanceContext) -> None:
    """Lexicographic order; a prefix matches whole segments only."""
    names = ["a/b/c", "a/b/d", "a/bc", "a/b", "a-b", "a/b.txt", "z", "a/b/e/f"]
    # "a/b" cannot be both an object and a parent on every store: use the object form elsewhere.
    names.remove("a/b")
    for n in names:
        await ctx.store.put(ctx.path(n), n.encode())
    assert await ctx.names() == sorted(names)
    under = [m.location async for m in ctx.store.list(ctx.path("a/b"))]
    assert under == [ctx.path(n) for n in ["a/b/c", "a/b/d", "a/b/e/f"]]
    trailing = [m.location async for m in ctx.store.list(ctx.path("a/b") + "/")]
    assert trailing == under
    assert [m.location async for m in ctx.store.list(ctx.path("a/b/c"))] == []  # an object is no prefix
    assert [m.location async for m in ctx.store.list(ctx.path("nothing"))] == []


async def check_list_prefix_excludes_object_itself(ctx: ConformanceContext) -> None:
    """list("x/foo") never yields the object "x/foo" nor "x/foobar"."""
    await ctx.store.put(ctx.path("foo"), b"1")
    await ctx.store.put(ctx.path("foobar"), b"2")
    await ctx.store.put(ctx.path("foo.bar/baz"), b"3")
    assert [m.location async for m in ctx.store.list(ctx.path("foo"))] == []


async def check_list_offset_is_exclusive(ctx: ConformanceContext) -> None:
    """Offset yields only locations strictly greater, across directories."""
    names = ["a", "b/1", "b/2", "c", "d/e/f", "e"]
    for n in names:
        await ctx.store.put(ctx.path(n), b"x")
    after = [m.location async for m in ctx.store.list(ctx.prefix, offset=ctx.path("b/1"))]
    assert after == [ctx.path(n) for n in ["b/2", "c", "d/e/f", "e"]]
    after = [m.location async for m in ctx.store.list(ctx.prefix, offset=ctx.path("b"))]
    assert after == [ctx.path(n) for n in ["b/1", "b/2", "c", "d/e/f", "e"]]
    assert [m.location async for m in ctx.store.list(ctx.prefix, offset=ctx.path("e"))] == []
    everything = [m.location async for m in ctx.store.list(ctx.prefix, offset=ctx.prefix)]
    assert everything == [ctx.path(n) for n in names]


async def check_list_many_objects(ctx: ConformanceContext) -> None:
    """A listing larger than small pages is complete and ordered."""
    names = [f"k{i:04d}" for i in range(120)]
    for n in names:
        await ctx.store.put(ctx.path(n), b"")
    assert await ctx.names() == names


async def check_list_with_delimiter(ctx: ConformanceContext) -> None:
    """One level: direct objects, and common prefixes without "/" usable as prefixes."""
    for n in ["foo/x", "foo/y/z", "foo.bar/baz", "top", "deep/a/b/c"]:
        await ctx.store.put(ctx.path(n), b"x")
    root = await ctx.store.list_with_delimiter(ctx.prefix)
    assert [m.location for m in root.objects] == [ctx.path("top")]
    assert sorted(root.common_prefixes) == [ctx.path("deep"), ctx.path("foo"), ctx.path("foo.bar")]
    foo = await ctx.store.list_with_delimiter(ctx.path("foo"))
    assert [m.location for m in foo.objects] == [ctx.path("foo/x")]
    assert foo.common_prefixes == [ctx.path("foo/y")]
    assert foo.objects[0].size == 1
    nested = await ctx.store.list_with_delimiter(foo.common_prefixes[0])
    assert [m.location for m in nested.objects] == [ctx.path("foo/y/z")]
    empty = await ctx.store.list_with_delimiter(ctx.path("nope"))
    assert empty.objects == []
    assert empty.common_prefixes == []


async def check_list_rejects_bad_prefix(ctx: ConformanceContext) -> None:
    """A bad prefix raises InvalidPathError at the call, before any request."""
    with pytest.raises(E.InvalidPathError):
        ctx.store.list("a//b")
    with pytest.raises(E.InvalidPathError):
        ctx.store.list("../x")


CHECKS = [
    check_list_order_and_prefix_segments,
    check_list_prefix_excludes_object_itself,
    check_list_offset_is_exclusive,
    check_list_many_objects,
    check_list_with_delimiter,
    check_list_rejects_bad_prefix,
]
