"""The quick start: basic operations, CAS, create-only, conditional GET, attributes, streaming,
bulk operations and atomic copy -- on the memory store, then on a local store in a temp dir.

Run: ``python examples/quickstart.py [STORE_URL [option=value ...]]``; exits non-zero on a
wrong result.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import check, store_from_argv

import objectstorex as osx

PATHS = [
    "test.txt",
    "counter.json",
    "locks/resource-123",
    "report.pdf",
    "large-file.bin",
    "file1.txt",
    "file2.txt",
    "backup.txt",
]


async def tour(store: osx.BaseStore) -> None:
    """Every basic call once, checking each result."""
    print(f"--- {store!r}")
    await store.delete_many(PATHS)  # a persistent store may hold a previous run's objects
    # Store some data, read it back, look at its metadata, delete it.
    await store.put("test.txt", b"Hello, World!")
    data = await store.get("test.txt")
    print("get:", data)
    check(data == b"Hello, World!", "round trip")
    meta = await store.head("test.txt")
    print(f"head: size={meta.size} etag={meta.etag} modified={meta.last_modified:%Y-%m-%d %H:%M:%S}")

    # Compare-and-swap: update only if nobody changed it since we read it.
    await store.put("counter.json", b"0")
    res = await store.get_object("counter.json")
    await store.put("counter.json", b"1", mode=osx.UpdateVersion.of(res.meta))
    try:
        await store.put("counter.json", b"2", mode=osx.UpdateVersion.of(res.meta))
        check(False, "a stale CAS must fail")
    except osx.PreconditionError:
        print("CAS with a stale ETag: PreconditionError (someone else wrote first)")

    # Create-only writes: the building block of locks.
    await store.put("locks/resource-123", b"worker-1", mode="create")
    try:
        await store.put("locks/resource-123", b"worker-2", mode="create")
        check(False, "a second create must fail")
    except osx.AlreadyExistsError:
        print("create-only on an existing key: AlreadyExistsError")

    # Conditional GET: skip the transfer when our copy is current.
    current = await store.head("test.txt")
    try:
        await store.get("test.txt", if_none_match=current.etag)
        check(False, "if_none_match on the current ETag must be NotModified")
    except osx.NotModifiedError:
        print("conditional GET with the current ETag: NotModifiedError (use the cached copy)")

    # Attributes and user metadata.
    await store.put(
        "report.pdf",
        b"%PDF-1.7",
        content_type="application/pdf",
        content_disposition="attachment; filename=report.pdf",
        cache_control="max-age=3600",
        metadata={"owner": "ana"},
    )
    attrs = (await store.get_object("report.pdf")).attributes
    print("attributes:", attrs.content_type, attrs.cache_control, dict(attrs.metadata))
    check(attrs.content_type == "application/pdf", "attributes kept")

    # Streaming both ways with bounded memory.
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(8):
            yield bytes([i]) * 65536

    await store.put_stream("large-file.bin", chunks())
    total = 0
    async with store.get_stream("large-file.bin", chunk_size=100_000) as stream:
        async for chunk in stream:
            total += len(chunk)
    print("streamed bytes:", total)
    check(total == 8 * 65536, "stream round trip")

    # Ranges and bulk operations.
    parts = await store.get_ranges("large-file.bin", [(0, 4), (65536, 65540)])
    check(parts == [b"\x00" * 4, b"\x01" * 4], "get_ranges")
    await store.put("file1.txt", b"1")
    await store.put("file2.txt", b"2")
    await store.delete_many(["file1.txt", "file2.txt", "file3.txt"])
    top = await store.list_with_delimiter()
    print("top level:", [m.location for m in top.objects][:10], "directories:", top.common_prefixes[:10])
    check("file1.txt" not in [m.location for m in top.objects], "delete_many")

    # Atomic copy unless the destination exists.
    await store.copy_if_not_exists("test.txt", "backup.txt")
    try:
        await store.copy_if_not_exists("test.txt", "backup.txt")
        check(False, "copy_if_not_exists onto an existing key must fail")
    except osx.AlreadyExistsError:
        print("copy_if_not_exists onto an existing key: AlreadyExistsError")
    await store.delete("test.txt")
    try:
        await store.head("test.txt")
        check(False, "a deleted object must be gone")
    except osx.NotFoundError:
        print("deleted: head raises NotFoundError")


async def main() -> None:
    if len(sys.argv) > 1:
        async with store_from_argv() as store:
            await tour(store)
    else:
        async with osx.new("memory") as store:
            await tour(store)
        with tempfile.TemporaryDirectory() as tmp:
            async with osx.new("local", path=tmp) as store:
                await tour(store)
    print("quickstart: all good")


if __name__ == "__main__":
    asyncio.run(main())
