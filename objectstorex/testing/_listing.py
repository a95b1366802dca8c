"""Checks: recursive listing, delimiter listing, whole-segment prefixes, offsets."""

from __future__ import annotations

import pytest

from .. import errors as E
from ._context import ConformanceContext

__all__ = [
    "CHECKS",
    "check_list_from_root",
    "check_list_many_objects",
    "check_list_offset_cases",
    "check_list_offset_is_exclusive",
    "check_list_order_and_prefix_segments",
    "check_list_prefix_excludes_object_itself",
    "check_list_rejects_bad_prefix",
    "check_list_reflects_writes_and_deletes",
    "check_list_with_delimiter",
    "check_list_with_delimiter_whole_segments",
]


async def _locations(ctx: ConformanceContext, prefix: str | None, offset: str | None = None) -> list[str]:
    return [m.location async for m in ctx.store.list(prefix, offset=offset)]


async def check_list_order_and_prefix_segments(ctx: ConformanceContext) -> None:
    """Lexicographic order of location; a prefix matches whole segments only."""
    # "a/b" as an object *and* a parent is refused by the local store: it appears elsewhere.
    names = ["a/b/c", "a/b/d", "a/bc", "a-b", "a/b.txt", "z", "a/b/e/f", "a/b0", "a/b-"]
    await ctx.put_many(names)
    assert await ctx.names() == sorted(names)
    under = await _locations(ctx, ctx.path("a/b"))
    assert under == [ctx.path(n) for n in ["a/b/c", "a/b/d", "a/b/e/f"]], "list('a/b') must match whole segments"
    with pytest.raises(E.InvalidPathError):
        ctx.store.list(ctx.path("a/b") + "/")  # a prefix is validated like a path (API.md)
    assert await _locations(ctx, ctx.path("a")) == [ctx.path(n) for n in sorted(names) if n.startswith("a/")]
    assert await _locations(ctx, ctx.path("a/b/e")) == [ctx.path("a/b/e/f")]
    assert await _locations(ctx, ctx.path("a/b/c")) == []  # an object is not a prefix of itself
    assert await _locations(ctx, ctx.path("nothing")) == []
    metas = [m async for m in ctx.store.list(ctx.prefix)]
    assert all(m.size == 1 and m.etag for m in metas)


async def check_list_prefix_excludes_object_itself(ctx: ConformanceContext) -> None:
    """list("x/foo") yields neither the object "x/foo" nor "x/foobar" nor "x/foo.bar/baz"."""
    await ctx.store.put(ctx.path("foo"), b"1")
    await ctx.store.put(ctx.path("foobar"), b"2")
    await ctx.store.put(ctx.path("foo.bar/baz"), b"3")
    await ctx.store.put(ctx.path("foo-bar/baz"), b"4")
    assert await _locations(ctx, ctx.path("foo")) == [], "list('x/foo') yielded x/foo itself or a sibling like x/foobar"
    level = await ctx.store.list_with_delimiter(ctx.path("foo"))
    assert level.objects == []
    assert level.common_prefixes == []
    assert await _locations(ctx, ctx.path("foo.bar")) == [ctx.path("foo.bar/baz")]


async def check_list_offset_is_exclusive(ctx: ConformanceContext) -> None:
    """Offset yields only locations strictly greater, across directories and with a prefix."""
    names = ["a", "b/1", "b/2", "c", "d/e/f", "e"]
    await ctx.put_many(names)
    everything = [ctx.path(n) for n in names]

    async def after(offset: str, prefix: str | None = None) -> list[str]:
        return await _locations(ctx, ctx.prefix if prefix is None else prefix, offset)

    assert await after(ctx.path("b/1")) == everything[2:]
    assert await after(ctx.path("b")) == everything[1:]  # "b" sorts before "b/1"
    assert await after(ctx.path("a")) == everything[1:]  # an existing location is excluded
    assert await after(ctx.path("c0")) == everything[4:]  # offsets need not exist
    assert await after(ctx.path("e")) == []
    assert await after(ctx.path("zzz")) == []
    assert await after(ctx.prefix) == everything  # the prefix itself sorts before its children
    assert await after("") == everything  # an empty offset is no offset
    assert await after(ctx.path("b/1"), ctx.path("b")) == [ctx.path("b/2")]
    assert await after(ctx.path("a"), ctx.path("b")) == [ctx.path("b/1"), ctx.path("b/2")]  # before the prefix
    assert await after(ctx.path("c"), ctx.path("b")) == []  # past the prefix


async def check_list_offset_cases(ctx: ConformanceContext) -> None:
    """Offsets before, inside and after a prefix, with spaces, escapes and emoji (object_store's cases)."""
    names = [
        "a a/b.file",
        "a%2Fa.file",
        "a/😀.file",
        "a/a file",
        "a/a%2F.file",
        "a/a.file",
        "a/a/b.file",
        "a/b.file",
        "aa/a.file",
        "ab/a.file",
    ]
    await ctx.put_many(names)
    cases = [
        (None, "a"),
        (None, "a/a file"),
        (None, "a/a/b.file"),
        (None, "ab/a.file"),
        (None, "a%2Fa.file"),
        (None, "a/😀.file"),
        ("a", ""),
        ("a", "a"),
        ("a", "a/😀"),
        ("a", "a/😀.file"),
        ("a", "a/b"),
        ("a", "a/a/b.file"),
    ]
    for prefix, offset in cases:
        lead = "" if prefix is None else prefix + "/"
        expected = sorted(ctx.path(n) for n in names if n.startswith(lead) and n > offset)
        full_prefix = ctx.prefix if prefix is None else ctx.path(prefix)
        full_offset = ctx.path(offset) if offset else ctx.prefix
        got = await _locations(ctx, full_prefix, full_offset)
        assert got == expected, (prefix, offset)


async def check_list_many_objects(ctx: ConformanceContext) -> None:
    """A listing of more objects than a small page is complete, ordered, and lazily consumable."""
    names = [f"k{i:04d}" for i in range(150)]
    await ctx.put_many(names, b"")
    assert await ctx.names() == names
    # Stopping early is allowed (pages are fetched lazily) and leaves the store usable.
    first: list[str] = []
    async for meta in ctx.store.list(ctx.prefix):
        first.append(meta.location)
        if len(first) == 3:
            break
    assert first == [ctx.path(n) for n in names[:3]]
    level = await ctx.store.list_with_delimiter(ctx.prefix)
    assert [m.location for m in level.objects] == [ctx.path(n) for n in names]


async def check_list_with_delimiter(ctx: ConformanceContext) -> None:
    """One level: direct objects, and common prefixes without "/" usable as prefixes."""
    for n in ["foo/x", "foo/y/z", "foo/y/w/v", "foo.bar/baz", "top", "deep/a/b/c", "foo/zz"]:
        await ctx.store.put(ctx.path(n), n.encode())
    root = await ctx.store.list_with_delimiter(ctx.prefix)
    assert [m.location for m in root.objects] == [ctx.path("top")]
    assert root.objects[0].size == 3
    assert sorted(root.common_prefixes) == [ctx.path("deep"), ctx.path("foo"), ctx.path("foo.bar")]
    assert all(not cp.endswith("/") for cp in root.common_prefixes)
    foo = await ctx.store.list_with_delimiter(ctx.path("foo"))
    assert sorted(m.location for m in foo.objects) == [ctx.path("foo/x"), ctx.path("foo/zz")]
    assert foo.common_prefixes == [ctx.path("foo/y")]
    assert {m.location: m.size for m in foo.objects} == {ctx.path("foo/x"): 5, ctx.path("foo/zz"): 6}
    with pytest.raises(E.InvalidPathError):
        await ctx.store.list_with_delimiter(ctx.path("foo") + "/")
    nested = await ctx.store.list_with_delimiter(foo.common_prefixes[0])
    assert [m.location for m in nested.objects] == [ctx.path("foo/y/z")]
    assert nested.common_prefixes == [ctx.path("foo/y/w")]
    deep = await ctx.store.list_with_delimiter(ctx.path("deep/a"))
    assert (deep.objects, deep.common_prefixes) == ([], [ctx.path("deep/a/b")])
    empty = await ctx.store.list_with_delimiter(ctx.path("nope"))
    assert empty.objects == []
    assert empty.common_prefixes == []
    leaf = await ctx.store.list_with_delimiter(ctx.path("top"))  # an object is no directory
    assert (leaf.objects, leaf.common_prefixes) == ([], [])


async def check_list_with_delimiter_whole_segments(ctx: ConformanceContext) -> None:
    """list_with_delimiter("x/foo") never shows "x/foo.bar/..." nor "x/foobar"."""
    await ctx.put_many(["foo.bar/baz", "foobar", "foo/real", "foo0/x"])
    level = await ctx.store.list_with_delimiter(ctx.path("foo"))
    assert [m.location for m in level.objects] == [ctx.path("foo/real")]
    assert level.common_prefixes == []


async def check_list_from_root(ctx: ConformanceContext) -> None:
    """list(None) and list("") start at the root; the root level shows this check's directory."""
    await ctx.put_many(["r/1", "r/2"])
    mine = [ctx.path("r/1"), ctx.path("r/2")]
    for root in (None, ""):
        # Other objects may share the bucket: read only the first entries after our prefix.
        got: list[str] = []
        async for meta in ctx.store.list(root, offset=ctx.prefix):
            got.append(meta.location)
            if len(got) == 2:
                break
        assert got == mine
    top = ctx.prefix.split("/")[0]
    for root in (None, ""):
        level = await ctx.store.list_with_delimiter(root)
        assert top in level.common_prefixes
        assert all(not cp.endswith("/") for cp in level.common_prefixes)
    level = await ctx.store.list_with_delimiter(top)
    assert ctx.prefix in level.common_prefixes


async def check_list_reflects_writes_and_deletes(ctx: ConformanceContext) -> None:
    """A listing shows completed writes and no deleted objects; a deleted directory disappears."""
    await ctx.put_many(["d/1", "d/2", "e"])
    await ctx.store.delete(ctx.path("d/1"))
    assert await ctx.names() == ["d/2", "e"]
    await ctx.store.delete(ctx.path("d/2"))
    assert await ctx.names() == ["e"]
    level = await ctx.store.list_with_delimiter(ctx.prefix)
    assert level.common_prefixes == []
    assert [m.location for m in level.objects] == [ctx.path("e")]


async def check_list_rejects_bad_prefix(ctx: ConformanceContext) -> None:
    """A bad prefix raises InvalidPathError at the call, before any request."""
    for bad in ["a//b", "../x", "/abs", "a/./b", "ctl\x01", 5]:
        with pytest.raises(E.InvalidPathError):
            ctx.store.list(bad)  # type: ignore[arg-type]
        with pytest.raises(E.InvalidPathError):
            await ctx.store.list_with_delimiter(bad)  # type: ignore[arg-type]


CHECKS = [
    check_list_order_and_prefix_segments,
    check_list_prefix_excludes_object_itself,
    check_list_offset_is_exclusive,
    check_list_offset_cases,
    check_list_many_objects,
    check_list_with_delimiter,
    check_list_with_delimiter_whole_segments,
    check_list_from_root,
    check_list_reflects_writes_and_deletes,
    check_list_rejects_bad_prefix,
]
