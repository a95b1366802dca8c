"""ObspecStore satisfies every obspec protocol, async and sync: checked by mypy --strict (CI's
typecheck session compiles this file; an assignment that does not type-check fails it) and at
runtime by obspec-utils' runtime-checkable ReadableStore."""

from __future__ import annotations

from collections.abc import Sequence

import obspec
from obspec_utils.protocols import ReadableStore

import objectstorex as osx
from objectstorex.obspec import ObspecStore


def as_every_protocol(store: ObspecStore) -> list[object]:
    """Assign ``store`` to a variable of each obspec protocol type (a static check)."""
    get: obspec.Get = store
    get_async: obspec.GetAsync = store
    get_range: obspec.GetRange = store
    get_range_async: obspec.GetRangeAsync = store
    get_ranges: obspec.GetRanges = store
    get_ranges_async: obspec.GetRangesAsync = store
    head: obspec.Head = store
    head_async: obspec.HeadAsync = store
    list_: obspec.List = store
    list_async: obspec.ListAsync = store
    list_with_delimiter: obspec.ListWithDelimiter = store
    list_with_delimiter_async: obspec.ListWithDelimiterAsync = store
    put: obspec.Put = store
    put_async: obspec.PutAsync = store
    copy: obspec.Copy = store
    copy_async: obspec.CopyAsync = store
    rename: obspec.Rename = store
    rename_async: obspec.RenameAsync = store
    delete: obspec.Delete = store
    delete_async: obspec.DeleteAsync = store
    readable: ReadableStore = store
    return [
        get,
        get_async,
        get_range,
        get_range_async,
        get_ranges,
        get_ranges_async,
        head,
        head_async,
        list_,
        list_async,
        list_with_delimiter,
        list_with_delimiter_async,
        put,
        put_async,
        copy,
        copy_async,
        rename,
        rename_async,
        delete,
        delete_async,
        readable,
    ]


def results_are_obspec_types(store: ObspecStore) -> None:
    """The results type-check as obspec's result types."""
    meta: obspec.ObjectMeta = store.head("k")
    put: obspec.PutResult = store.put("k", b"v")
    listed: obspec.ListResult[Sequence[obspec.ObjectMeta]] = store.list_with_delimiter()
    result: obspec.GetResult = store.get("k")
    del meta, put, listed, result


async def async_results_are_obspec_types(store: ObspecStore) -> None:
    """The async results type-check as obspec's result types."""
    result: obspec.GetResultAsync = await store.get_async("k")
    async for chunk in store.list_async():
        first: obspec.ObjectMeta = chunk[0]
        del first
    del result


def test_obspec_store_is_a_readable_store_at_runtime() -> None:
    store = ObspecStore(osx.MemoryStore())
    assert len(as_every_protocol(store)) == 21
    assert isinstance(store, ReadableStore)  # obspec-utils checks the methods are all there
    store.put("k", b"v")
    results_are_obspec_types(store)
    store.close()
