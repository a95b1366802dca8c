"""Checks: bad input before I/O, error attributes, signing, and the store lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from .. import errors as E
from .._store import BaseStore, Store
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


#: BaseStore's backend hooks: calling any of them sends a request (or opens what sends one).
#: The abstract ones are taken from BaseStore itself; these are the optional ones.
_OPTIONAL_HOOKS = ("_open", "_rename", "_get_tags", "_sign", "_get_ranges", "_delete_many")


def _path_calls(store: Store, good: str, bad: Any) -> list[tuple[str, Callable[[], Awaitable[object]]]]:
    """Every awaitable operation with ``bad`` in a path position, each with a label."""
    return [
        ("put", lambda: store.put(bad, b"x")),
        ("put create", lambda: store.put(bad, b"x", mode="create")),
        ("put_stream", lambda: store.put_stream(bad, [b"x"])),
        ("get", lambda: store.get(bad)),
        ("get range", lambda: store.get(bad, range=(0, 1))),
        ("get_object", lambda: store.get_object(bad)),
        ("get_ranges", lambda: store.get_ranges(bad, [(0, 1)])),
        ("head", lambda: store.head(bad)),
        ("delete", lambda: store.delete(bad)),
        ("delete_many", lambda: store.delete_many([good, bad])),
        ("get_tags", lambda: store.get_tags(bad)),
        ("copy to", lambda: store.copy(good, bad)),
        ("copy from", lambda: store.copy(bad, good)),
        ("rename to", lambda: store.rename(good, bad)),
        ("rename from", lambda: store.rename(bad, good)),
        ("copy_if_not_exists to", lambda: store.copy_if_not_exists(good, bad)),
        ("copy_if_not_exists from", lambda: store.copy_if_not_exists(bad, good)),
        ("rename_if_not_exists to", lambda: store.rename_if_not_exists(good, bad)),
        ("rename_if_not_exists from", lambda: store.rename_if_not_exists(bad, good)),
        ("sign", lambda: store.sign("GET", bad, 60)),
    ]


@contextlib.contextmanager
def _observe_io(store: Store) -> Iterator[list[str]]:
    """Record the name of every backend hook of ``store`` called inside the block.

    The hooks are BaseStore's underscore methods (``_put``, ``_get``, ``_open_stream``,
    ``_head``, ``_list``, ... and ``_open``): every request a BaseStore sends goes through one,
    so an empty record proves the block sent nothing. Each hook is shadowed by a recording
    wrapper on the instance and restored on exit. A store that is not a BaseStore has no known
    hooks, and the record stays empty.
    """
    names = sorted(n for n in BaseStore.__abstractmethods__ if n.startswith("_")) + list(_OPTIONAL_HOOKS)
    hooks = [n for n in names if isinstance(store, BaseStore) and callable(getattr(store, n, None))]
    calls: list[str] = []

    def spy(name: str, hook: Callable[..., Any]) -> Callable[..., Any]:
        def record(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)  # the call itself is the request (a coroutine or an async iterator)
            return hook(*args, **kwargs)

        return record

    shadowed = [n for n in hooks if n in vars(store)]  # a hook the store set on itself is kept
    saved = {n: vars(store)[n] for n in shadowed}
    for name in hooks:
        setattr(store, name, spy(name, getattr(store, name)))
    try:
        yield calls
    finally:
        for name in hooks:
            if name in saved:
                setattr(store, name, saved[name])
            else:
                delattr(store, name)


async def check_invalid_paths_before_io(ctx: ConformanceContext) -> None:
    """Every operation taking a path raises InvalidPathError for a bad one before any I/O, changing nothing.

    "Before any I/O" is observed: none of a BaseStore's backend hooks (``_open``, ``_put``,
    ``_get``, ``_open_stream``, ``_head``, ``_list``, ...) may run for the call.
    """
    store = ctx.store
    good = ctx.path("good")
    await store.put(good, b"x")
    for bad in BAD_PATHS:
        for label, call in _path_calls(store, good, bad):
            with _observe_io(store) as sent:
                try:
                    await call()
                except E.InvalidPathError:
                    pass
                else:
                    pytest.fail(f"{label} accepted the path {bad!r}")
            if sent:
                pytest.fail(f"{label} with the bad path {bad!r} did I/O before refusing it: {sent}")
        with _observe_io(store) as sent, pytest.raises(E.InvalidPathError):
            store.get_stream(bad)  # type: ignore[arg-type]
        assert not sent, f"get_stream with the bad path {bad!r} did I/O before refusing it: {sent}"
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
