"""Checks: copy and rename, and their atomic if-not-exists forms."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from .. import errors as E
from ._context import ConformanceContext

__all__ = [
    "CHECKS",
    "check_copy_and_rename",
    "check_copy_if_not_exists",
    "check_copy_if_not_exists_is_atomic",
    "check_copy_missing_source",
]


def _attrs(ctx: ConformanceContext) -> tuple[dict[str, Any], dict[str, str] | None]:
    kept = ctx.caps.attributes
    kwargs: dict[str, Any] = {}
    if "content_type" in kept:
        kwargs["content_type"] = "text/csv"
    if "cache_control" in kept:
        kwargs["cache_control"] = "no-cache"
    # S3 lower-cases metadata keys: use lower-case keys so every provider round-trips them.
    metadata = {"origin": "conformance", "n": "1"} if "metadata" in kept else None
    return kwargs, metadata


async def check_copy_and_rename(ctx: ConformanceContext) -> None:
    """Copy keeps the source and its attributes; rename moves; both overwrite; ETags agree."""
    src, dst = ctx.path("src"), ctx.path("dst")
    kwargs, metadata = _attrs(ctx)
    await ctx.store.put(src, b"payload", metadata=metadata, **kwargs)
    await ctx.store.put(dst, b"old and longer")
    await ctx.store.copy(src, dst)
    copied = await ctx.store.get_object(dst)
    assert copied.data == b"payload"
    assert copied.meta.size == 7
    for name, value in kwargs.items():
        assert getattr(copied.attributes, name) == value, name
    if metadata:
        assert dict(copied.attributes.metadata) == metadata
    assert (await ctx.store.head(dst)).etag == copied.meta.etag
    listed = {m.location: m.etag async for m in ctx.store.list(ctx.prefix)}
    assert listed[dst] == copied.meta.etag
    assert await ctx.store.get(src) == b"payload"
    # A copy is independent of its source.
    await ctx.store.put(src, b"changed source")
    assert await ctx.store.get(dst) == b"payload"
    await ctx.store.copy(dst, ctx.path("nested/deeper/copy"))
    assert await ctx.store.get(ctx.path("nested/deeper/copy")) == b"payload"
    moved = ctx.path("moved/deeper")
    await ctx.store.rename(dst, moved)
    renamed = await ctx.store.get_object(moved)
    assert renamed.data == b"payload"
    for name, value in kwargs.items():
        assert getattr(renamed.attributes, name) == value, name
    if metadata:
        assert dict(renamed.attributes.metadata) == metadata
    with pytest.raises(E.NotFoundError):
        await ctx.store.head(dst)
    await ctx.store.rename(src, moved)  # rename overwrites too
    assert await ctx.store.get(moved) == b"changed source"
    assert await ctx.names() == ["moved/deeper", "nested/deeper/copy"]


async def check_copy_missing_source(ctx: ConformanceContext) -> None:
    """Copying or renaming a missing source raises NotFoundError and leaves dst untouched."""
    missing, dst = ctx.path("missing"), ctx.path("dst")
    await ctx.store.put(dst, b"dst")
    calls = [ctx.store.copy, ctx.store.rename]
    if ctx.caps.copy_if_not_exists:
        calls += [ctx.store.copy_if_not_exists, ctx.store.rename_if_not_exists]
    for call in calls:
        with pytest.raises(E.NotFoundError):
            await call(missing, ctx.path("fresh"))
        with pytest.raises(E.NotFoundError):
            await call(missing, ctx.path("missing/child"))
    for call in (ctx.store.copy, ctx.store.rename):
        with pytest.raises(E.NotFoundError):
            await call(missing, dst)
    assert await ctx.store.get(dst) == b"dst"
    assert await ctx.names() == ["dst"]


async def check_copy_if_not_exists(ctx: ConformanceContext) -> None:
    """Atomic copy/rename unless dst exists: AlreadyExistsError leaves dst and src untouched."""
    src, dst = ctx.path("src"), ctx.path("dst")
    kwargs, metadata = _attrs(ctx)
    await ctx.store.put(src, b"new", metadata=metadata, **kwargs)
    if not ctx.caps.copy_if_not_exists:
        with pytest.raises(E.NotSupportedError):
            await ctx.store.copy_if_not_exists(src, dst)
        with pytest.raises(E.NotSupportedError):
            await ctx.store.rename_if_not_exists(src, dst)
        with pytest.raises(E.NotFoundError):
            await ctx.store.head(dst)
        assert await ctx.store.get(src) == b"new"
        return
    await ctx.store.copy_if_not_exists(src, dst)
    copied = await ctx.store.get_object(dst)
    assert copied.data == b"new"
    for name, value in kwargs.items():
        assert getattr(copied.attributes, name) == value, name
    if metadata:
        assert dict(copied.attributes.metadata) == metadata
    ctx.xfail_if_quirk("copy_if_not_exists", "a destination condition on copies")
    ctx.xfail_if_quirk("conditional_copy", "conditions on copies")
    await ctx.store.put(dst, b"existing")
    with pytest.raises(E.AlreadyExistsError) as info:
        await ctx.store.copy_if_not_exists(src, dst)
    assert isinstance(info.value, FileExistsError)
    with pytest.raises(E.AlreadyExistsError):
        await ctx.store.rename_if_not_exists(src, dst)
    assert await ctx.store.get(dst) == b"existing"
    assert await ctx.store.get(src) == b"new"  # a failed rename keeps its source
    moved = ctx.path("moved")
    await ctx.store.rename_if_not_exists(src, moved)
    renamed = await ctx.store.get_object(moved)
    assert renamed.data == b"new"
    if metadata:
        assert dict(renamed.attributes.metadata) == metadata
    with pytest.raises(E.NotFoundError):
        await ctx.store.head(src)
    assert await ctx.names() == ["dst", "moved"]


async def check_copy_if_not_exists_is_atomic(ctx: ConformanceContext) -> None:
    """Of N concurrent copy_if_not_exists to one destination exactly one wins."""
    dst = ctx.path("dst")
    if not ctx.caps.copy_if_not_exists:
        with pytest.raises(E.NotSupportedError):
            await ctx.store.copy_if_not_exists(ctx.path("any"), dst)
        return
    ctx.xfail_if_quirk("copy_if_not_exists", "a destination condition on copies")
    ctx.xfail_if_quirk("conditional_copy", "conditions on copies")
    sources = [ctx.path(f"src{i}") for i in range(6)]
    for i, s in enumerate(sources):
        await ctx.store.put(s, f"source-{i}".encode())

    async def attempt(i: int) -> int | None:
        try:
            await ctx.store.copy_if_not_exists(sources[i], dst)
        except E.AlreadyExistsError:
            return None
        return i

    winners = [r for r in await asyncio.gather(*(attempt(i) for i in range(len(sources)))) if r is not None]
    assert len(winners) == 1, f"{len(winners)} copies won"
    assert await ctx.store.get(dst) == f"source-{winners[0]}".encode()


CHECKS = [
    check_copy_and_rename,
    check_copy_missing_source,
    check_copy_if_not_exists,
    check_copy_if_not_exists_is_atomic,
]
