"""Checks: bad input before I/O, error attributes, signing, and the store lifecycle."""

from __future__ import annotations

import asyncio
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from .. import errors as E
from .._store import Store
from ..preconditions import UpdateVersion
from ._context import ConformanceContext

__all__ = [
    "BAD_PATHS",
    "CHECKS",
    "check_closed_store",
    "check_error_attributes",
    "check_invalid_paths_before_io",
    "check_sign",
]

#: One example of each path rule broken, plus non-str paths.
BAD_PATHS: list[object] = [
    "",
    "/lead",
    "trail/",
    "/",
    "a//b",
    ".",
    "..",
    "a/./b",
    "a/../b",
    "./a",
    "a/..",
    "ctl\x00",
    "tab\there",
    "new\nline",
    "ctl\x1f",
    "del\x7f",
    42,
    None,
    b"bytes",
    ["a"],
]

PROVIDERS = ("memory", "local", "s3", "azure", "gcs")


def _path_calls(store: Store, good: str, bad: Any) -> list[Callable[[], Awaitable[object]]]:
    """Every awaitable operation with ``bad`` in a path position."""
    return [
        lambda: store.put(bad, b"x"),
        lambda: store.put(bad, b"x", mode="create"),
        lambda: store.put_stream(bad, [b"x"]),
        lambda: store.get(bad),
        lambda: store.get(bad, range=(0, 1)),
        lambda: store.get_object(bad),
        lambda: store.get_ranges(bad, [(0, 1)]),
        lambda: store.head(bad),
        lambda: store.delete(bad),
        lambda: store.delete_many([good, bad]),
        lambda: store.get_tags(bad),
        lambda: store.copy(good, bad),
        lambda: store.copy(bad, good),
        lambda: store.rename(good, bad),
        lambda: store.rename(bad, good),
        lambda: store.copy_if_not_exists(good, bad),
        lambda: store.copy_if_not_exists(bad, good),
        lambda: store.rename_if_not_exists(good, bad),
        lambda: store.rename_if_not_exists(bad, good),
        lambda: store.sign("GET", bad, 60),
    ]


async def check_invalid_paths_before_io(ctx: ConformanceContext) -> None:
    """Every operation taking a path raises InvalidPathError for a bad one, changing nothing."""
    store = ctx.store
    good = ctx.path("good")
    await store.put(good, b"x")
    for bad in BAD_PATHS:
        for i, call in enumerate(_path_calls(store, good, bad)):
            try:
                await call()
            except E.InvalidPathError:
                continue
            pytest.fail(f"operation #{i} accepted the path {bad!r}")
        with pytest.raises(E.InvalidPathError):
            store.get_stream(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):  # InvalidPathError is also a ValueError
        await store.get("/abs")
    # Nothing was written, moved or deleted (delete_many validated every path first).
    assert await store.get(good) == b"x"
    assert await ctx.names() == ["good"]


async def check_error_attributes(ctx: ConformanceContext) -> None:
    """Errors carry provider, path and status, and are the builtin exceptions they claim to be."""
    p = ctx.path("missing")
    with pytest.raises(E.NotFoundError) as info:
        await ctx.store.get(p)
    err = info.value
    assert isinstance(err, FileNotFoundError)
    assert isinstance(err, E.ObjectStoreError)
    provider = err.provider
    assert provider in PROVIDERS
    assert err.path == p, "an error names the path the caller passed (relative to the store)"
    assert err.status is None or (isinstance(err.status, int) and 400 <= err.status < 600)
    assert err.retryable is False
    assert str(err)
    with pytest.raises(E.NotFoundError) as info:
        await ctx.store.head(p)
    assert info.value.provider == provider
    exists = ctx.path("exists")
    await ctx.store.put(exists, b"x")
    with pytest.raises(FileExistsError) as exists_info:
        await ctx.store.put(exists, b"y", mode="create")
    assert isinstance(exists_info.value, E.AlreadyExistsError)
    assert exists_info.value.provider == provider
    with pytest.raises(E.InvalidPathError) as path_info:
        await ctx.store.head("a//b")
    assert isinstance(path_info.value, ValueError)
    assert path_info.value.provider == provider
    with pytest.raises(E.InvalidRangeError) as range_info:
        await ctx.store.get(exists, range=(5, None))
    assert isinstance(range_info.value, ValueError)
    assert range_info.value.provider == provider
    if ctx.caps.put_update_etag:
        with pytest.raises(E.PreconditionError) as cas_info:
            await ctx.store.put(exists, b"z", mode=UpdateVersion(etag='"osx-conformance-stale-etag"'))
        assert cas_info.value.provider == provider
    assert await ctx.store.get(exists) == b"x"


async def check_sign(ctx: ConformanceContext) -> None:
    """Sign returns a working http(s) URL, or NotSupportedError where the store cannot sign."""
    p = ctx.path("signed 😀+%.txt")
    await ctx.store.put(p, b"signed content")
    if not ctx.caps.sign:
        with pytest.raises(E.NotSupportedError) as info:
            await ctx.store.sign("GET", p, 60)
        assert isinstance(info.value, NotImplementedError)
        with pytest.raises(E.NotSupportedError):
            await ctx.store.sign("PUT", p, timedelta(minutes=5))
        return
    url = await ctx.store.sign("GET", p, timedelta(minutes=5))
    assert isinstance(url, str)
    assert url.startswith(("http://", "https://"))
    assert isinstance(await ctx.store.sign("PUT", p, 30.0), str)
    assert isinstance(await ctx.store.sign("GET", p, 60), str)
    assert await asyncio.to_thread(_fetch, url) == b"signed content"
    with pytest.raises((E.InvalidArgumentError, E.InvalidConfigError)):
        await ctx.store.sign("GET", p, -5)


def _fetch(url: str) -> bytes:
    """GET a URL (bypassing proxies for loopback emulators)."""
    host = urllib.parse.urlsplit(url).hostname or ""
    handlers = [urllib.request.ProxyHandler({})] if host in ("127.0.0.1", "localhost", "::1") else []
    opener = urllib.request.build_opener(*handlers)
    with opener.open(url, timeout=30) as resp:
        body: bytes = resp.read()
        return body


async def check_closed_store(ctx: ConformanceContext) -> None:
    """A closed store raises ObjectStoreError on every call; close() is idempotent.

    This check closes the store it is given: the ``store`` fixture must be per test.
    """
    store = ctx.store
    p = ctx.path("c")
    await store.put(p, b"x")
    await store.close()
    await store.close()
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: store.put(p, b"y"),
        lambda: store.put_stream(p, [b"y"]),
        lambda: store.get(p),
        lambda: store.get_object(p),
        lambda: store.get_ranges(p, [(0, 1)]),
        lambda: store.head(p),
        lambda: store.delete(p),
        lambda: store.delete_many([p]),
        lambda: store.list_with_delimiter(ctx.prefix),
        lambda: store.copy(p, ctx.path("d")),
        lambda: store.rename(p, ctx.path("d")),
        lambda: store.copy_if_not_exists(p, ctx.path("d")),
        lambda: store.rename_if_not_exists(p, ctx.path("d")),
        lambda: store.get_tags(p),
        lambda: store.sign("GET", p, 60),
    ]
    for call in calls:
        with pytest.raises(E.ObjectStoreError) as info:
            await call()
        assert not isinstance(info.value, (E.NotFoundError, E.InvalidPathError))
    with pytest.raises(E.ObjectStoreError):
        async with store.get_stream(p) as stream:
            await stream.read_all()
    with pytest.raises(E.ObjectStoreError):
        [m async for m in store.list(ctx.prefix)]
    with pytest.raises(E.ObjectStoreError):
        async with store:
            pass
    await store.close()


CHECKS = [
    check_invalid_paths_before_io,
    check_error_attributes,
    check_sign,
    check_closed_store,
]
