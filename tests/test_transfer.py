"""The transfer helpers (issue #13, docs/transfers.md): upload_file, download_file, copy_tree.

What a user relies on, on every backend: files round-trip byte for byte; a download is never a
mix of two versions of an object and never leaves a partial file or a temporary file behind; an
upload that fails or is cancelled leaves no object and no pending multipart upload; memory stays
bounded by the part size; copy_tree copies whole prefixes, server-side within one store, a
bounded number at a time, and reports what it skipped and what failed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import os
import pickle
import random
import re
import subprocess
import sys
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import objectstorex as osx
from objectstorex.testing import READ_OPS, WRITE_OPS, Fault, FaultyStore
from tests.emulators.s3 import boto_client, create_bucket, make_store

KIB = 1024
MIB = 1024 * KIB
PART = 1 * MIB  # the smallest part every backend takes as asked (S3 raises it to 5 MiB)


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def leftovers(directory: Path, *expected: str) -> list[str]:
    """Names in ``directory`` other than ``expected`` (temporary files would show up here)."""
    return sorted(set(os.listdir(directory)) - set(expected))


def check_events(events: list[osx.ProgressEvent], size: int, path: str) -> None:
    assert events, "no progress reported"
    assert events[0].transferred == 0
    assert events[0].total == size
    assert events[-1].done
    assert events[-1].transferred == events[-1].total == size
    assert not any(e.done for e in events[:-1])
    assert sum(e.delta for e in events) == size
    assert {e.path for e in events} == {path}


class Stop(Exception):
    """What a progress callable raises to abort a transfer."""


class Hooked(FaultyStore):
    """A store that runs ``hook`` before each ranged read (a read past the first part) is sent.

    Ranged reads: a download's ``get(range=...)`` (``get_object`` without ETags), copy_tree's
    ranged ``get_stream`` (its first ranged ``get_object`` counts too).
    """

    def __init__(self, inner: osx.Store, hook: Callable[[], Awaitable[None]]) -> None:
        super().__init__(inner, [])
        self.hook = hook
        self.ranged = 0
        self.streams = 0  # of which ranged get_stream calls

    async def get(self, path: str, **options: Any) -> bytes:
        if options.get("range") is not None:
            self.ranged += 1
            await self.hook()
        return await super().get(path, **options)

    async def get_object(self, path: str, **options: Any) -> osx.GetResult:
        if options.get("range") is not None:
            self.ranged += 1
            await self.hook()
        return await super().get_object(path, **options)

    def get_stream(self, path: str, **options: Any) -> osx.ObjectStream:
        if options.get("range") is None:
            return super().get_stream(path, **options)
        self.ranged += 1
        self.streams += 1
        inner = super().get_stream(path, **options)

        async def opener() -> tuple[osx.ObjectMeta, AsyncIterator[bytes]]:
            try:
                await self.hook()
                await inner.open()
            except BaseException:
                await inner.aclose()
                raise
            return inner.meta, inner

        return osx.ObjectStream(opener)


class Concurrency(FaultyStore):
    """Counts the writes (``put``, ``put_stream``, ``copy``, ``copy_if_not_exists``) in flight at once."""

    def __init__(self, inner: osx.Store) -> None:
        super().__init__(inner, [])
        self.now = 0
        self.peak = 0

    async def _counted(self, call: Awaitable[Any]) -> Any:
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            await asyncio.sleep(0.01)  # long enough for every job to get here at once
            return await call
        finally:
            self.now -= 1

    async def put(self, path: str, data: Any, **options: Any) -> osx.PutResult:
        result: osx.PutResult = await self._counted(super().put(path, data, **options))
        return result

    async def copy(self, src: str, dst: str, **options: Any) -> None:
        await self._counted(super().copy(src, dst, **options))

    async def copy_if_not_exists(self, src: str, dst: str) -> None:
        await self._counted(super().copy_if_not_exists(src, dst))


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A directory for local files of its own (the local store's fixture uses ``tmp_path/store``)."""
    path = tmp_path / "work"
    path.mkdir()
    return path


# ------------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("size", [0, 1, 2 * PART + 7], ids=["empty", "one-byte", "three-parts"])
async def test_upload_and_download_round_trip(store: osx.Store, work: Path, size: int) -> None:
    data = payload(size, seed=size)
    source = write(work / "in" / "source.bin", data)
    up: list[osx.ProgressEvent] = []
    put = await osx.upload_file(
        store, source, "t/file.bin", part_size=PART, max_concurrency=2, progress=up.append, content_type="x/y"
    )
    meta = await store.head("t/file.bin")
    assert meta.size == size
    assert put.etag == meta.etag
    check_events(up, size, "t/file.bin")
    got = await store.get_object("t/file.bin")
    assert got.data == data
    assert got.attributes.content_type == "x/y"

    down: list[osx.ProgressEvent] = []
    target = work / "out" / "sub" / "copy.bin"  # missing parent directories are created
    result = await osx.download_file(
        store, "t/file.bin", target, part_size=PART // 2, max_concurrency=3, progress=down.append
    )
    assert target.read_bytes() == data
    assert result.size == size
    assert result.etag == meta.etag
    check_events(down, size, "t/file.bin")
    assert leftovers(target.parent, "copy.bin") == []


async def test_download_replaces_an_existing_file(store: osx.Store, work: Path) -> None:
    await store.put("d/x", b"new contents")
    target = write(work / "x", b"old contents that are longer than the new ones")
    await osx.download_file(store, "d/x", str(target), fsync=True)
    assert target.read_bytes() == b"new contents"
    assert leftovers(work, "x") == []


async def test_upload_file_create_mode_and_cas(store: osx.Store, work: Path) -> None:
    source = write(work / "f", b"one")
    first = await osx.upload_file(store, source, "m/f", mode="create")
    with pytest.raises(osx.AlreadyExistsError):
        await osx.upload_file(store, source, "m/f", mode="create")
    write(source, b"two")
    await osx.upload_file(store, source, "m/f", mode=osx.UpdateVersion(etag=first.etag))
    assert await store.get("m/f") == b"two"
    with pytest.raises(osx.PreconditionError):
        await osx.upload_file(store, source, "m/f", mode=osx.UpdateVersion(etag=first.etag))


async def test_upload_file_keeps_metadata(store: osx.Store, work: Path) -> None:
    if "metadata" not in store.capabilities.attributes:
        pytest.skip("the store keeps no user metadata")
    source = write(work / "f", payload(2 * PART + 1))
    await osx.upload_file(store, source, "m/f", part_size=PART, metadata={"origin": "test"}, cache_control="no-cache")
    got = await store.get_object("m/f")
    assert dict(got.attributes.metadata) == {"origin": "test"}
    assert got.attributes.cache_control == "no-cache"


@pytest.mark.parametrize("how", ["progress-raises", "cancelled"])
async def test_an_interrupted_upload_leaves_no_object(store: osx.Store, work: Path, how: str) -> None:
    source = write(work / "big", payload(6 * MIB))  # two parts of 5 MiB on every backend
    sent: list[int] = []

    def on_progress(event: osx.ProgressEvent) -> None:
        if event.transferred > 0 and not event.done and not sent:
            sent.append(event.transferred)
            if how == "progress-raises":
                raise Stop
            task.cancel()  # here, as bytes are sent: the upload cannot have completed

    task = asyncio.create_task(osx.upload_file(store, source, "u/big", part_size=5 * MIB, progress=on_progress))
    with pytest.raises(Stop if how == "progress-raises" else asyncio.CancelledError):
        await task
    assert sent
    assert sent[0] < 6 * MIB
    with pytest.raises(osx.NotFoundError):
        await store.head("u/big")
    assert [m.location async for m in store.list("u")] == []


# ------------------------------------------------------------------------------------- bad input


async def test_upload_file_bad_input_fails_before_any_io(work: Path) -> None:
    store = FaultyStore(osx.new("memory"), Fault(ops=("put", "put_stream"), error=osx.TransportError))
    source = write(work / "f", b"x")
    with pytest.raises(FileNotFoundError) as missing:
        await osx.upload_file(store, work / "missing", "k")
    assert isinstance(missing.value, osx.NotFoundError)  # either except clause works
    assert missing.value.filename == str(work / "missing")
    with pytest.raises(IsADirectoryError) as directory:
        await osx.upload_file(store, work, "k")
    assert isinstance(directory.value, osx.InvalidArgumentError)
    assert pickle.loads(pickle.dumps(directory.value)).filename == str(work)
    for bad in ({"part_size": 0}, {"part_size": -1}, {"max_concurrency": 0}, {"part_size": 1.5}, {"part_size": True}):
        with pytest.raises(osx.InvalidArgumentError, match="must be a positive int"):
            await osx.upload_file(store, source, "k", **bad)
    with pytest.raises(ValueError):  # InvalidArgumentError is a ValueError too
        await osx.upload_file(store, source, "k", part_size=0)
    with pytest.raises(osx.InvalidArgumentError, match="content_typo"):
        await osx.upload_file(store, source, "k", content_typo="text/plain")
    with pytest.raises(osx.InvalidArgumentError, match="progress"):
        await osx.upload_file(store, source, "k", progress="yes")  # type: ignore[arg-type]
    with pytest.raises(osx.InvalidPathError):
        await osx.upload_file(store, source, "/k/")
    with pytest.raises(osx.InvalidArgumentError):
        await osx.upload_file(store, source, "k", mode="sometimes")  # type: ignore[arg-type]
    assert store.injected == []  # nothing reached the store


async def test_download_file_bad_input_and_missing_object(memory_store: osx.MemoryStore, work: Path) -> None:
    await memory_store.put("k", b"x")
    with pytest.raises(IsADirectoryError):
        await osx.download_file(memory_store, "k", work)
    with pytest.raises(osx.InvalidArgumentError, match="is a directory"):
        await osx.download_file(memory_store, "k", work)
    with pytest.raises(osx.InvalidArgumentError):
        await osx.download_file(memory_store, "k", work / "f", max_concurrency=0)
    with pytest.raises(osx.InvalidPathError):
        await osx.download_file(memory_store, "a//b", work / "f")
    with pytest.raises(osx.NotFoundError):
        await osx.download_file(memory_store, "missing", work / "new" / "f")
    assert os.listdir(work) == []  # not even the parent directory


# ------------------------------------------------------------------------------------- pinned downloads


async def test_overwrite_mid_download_raises_and_leaves_the_target(store: osx.Store, work: Path) -> None:
    old, new = payload(3 * PART, seed=1), payload(3 * PART, seed=2)
    await store.put("o/big", old)

    async def overwrite() -> None:
        if hooked.ranged == 1:  # once the first part is being read, before the first range opens
            await store.put("o/big", new)

    hooked = Hooked(store, overwrite)
    target = write(work / "big", b"previous file")
    with pytest.raises(osx.PreconditionError):
        await osx.download_file(hooked, "o/big", target, part_size=PART, max_concurrency=2)
    assert target.read_bytes() == b"previous file"
    assert leftovers(work, "big") == []
    assert hooked.ranged >= 1
    # The same download now succeeds, all of it the new version.
    meta = await osx.download_file(store, "o/big", target, part_size=PART)
    assert target.read_bytes() == new
    assert meta.etag == (await store.head("o/big")).etag


class NoEtags(Hooked):
    """A store whose reads report no ETag (some S3-compatible servers): pinning falls back to the time."""

    def get_stream(self, path: str, **options: Any) -> osx.ObjectStream:
        inner = super().get_stream(path, **options)

        async def opener() -> tuple[osx.ObjectMeta, AsyncIterator[bytes]]:
            await inner.open()
            return dataclasses.replace(inner.meta, etag=None), inner

        return osx.ObjectStream(opener)


async def test_overwrite_mid_download_without_etags_is_caught(memory_store: osx.MemoryStore, work: Path) -> None:
    await memory_store.put("o/big", payload(3 * PART, seed=1))

    async def overwrite() -> None:
        if unpinned.ranged == 1:
            await asyncio.sleep(0.002)  # a later modification time than the first read saw
            await memory_store.put("o/big", payload(3 * PART, seed=2))

    unpinned = NoEtags(memory_store, overwrite)
    with pytest.raises(osx.PreconditionError):
        await osx.download_file(unpinned, "o/big", work / "big", part_size=PART)
    assert os.listdir(work) == []
    data = payload(3 * PART, seed=3)
    await memory_store.put("o/big", data)
    meta = await osx.download_file(unpinned, "o/big", work / "big", part_size=PART, fsync=True)
    assert meta.etag is None
    assert (work / "big").read_bytes() == data


async def test_cancelled_download_leaves_no_file(store: osx.Store, work: Path) -> None:
    await store.put("c/big", payload(4 * PART))
    entered = asyncio.Event()

    async def stall() -> None:
        entered.set()
        await asyncio.sleep(3600)

    hooked = Hooked(store, stall)
    task = asyncio.create_task(osx.download_file(hooked, "c/big", work / "big", part_size=PART))
    await asyncio.wait_for(entered.wait(), 30)
    assert os.listdir(work) != [], "the temporary file exists while downloading"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert os.listdir(work) == []


async def test_failed_download_leaves_the_target_untouched(memory_store: osx.MemoryStore, work: Path) -> None:
    await memory_store.put("f/big", payload(3 * PART))

    async def fail() -> None:
        raise osx.TransportError("connection reset", path="f/big")

    target = write(work / "big", b"keep me")
    with pytest.raises(osx.TransportError):
        await osx.download_file(Hooked(memory_store, fail), "f/big", target, part_size=PART)
    assert target.read_bytes() == b"keep me"
    assert leftovers(work, "big") == []


@pytest.mark.parametrize("size", [2 * PART, 9 * PART], ids=["one-read", "ranged"])
async def test_a_raising_progress_callable_aborts_a_download(
    memory_store: osx.MemoryStore, work: Path, size: int
) -> None:
    await memory_store.put("p/obj", payload(size))

    def stop(event: osx.ProgressEvent) -> None:
        assert not event.done
        assert not (work / "obj").exists()  # never visible before it is complete
        if event.transferred > 0:
            raise Stop

    with pytest.raises(Stop):
        await osx.download_file(memory_store, "p/obj", work / "obj", part_size=4 * PART, progress=stop)
    assert os.listdir(work) == []


async def test_download_ranges_are_bounded_by_max_concurrency(memory_store: osx.MemoryStore, work: Path) -> None:
    data = payload(10 * PART + 3)
    await memory_store.put("r/big", data)
    now = peak = 0

    async def count() -> None:
        nonlocal now, peak
        now += 1
        peak = max(peak, now)
        await asyncio.sleep(0.01)
        now -= 1

    hooked = Hooked(memory_store, count)
    await osx.download_file(hooked, "r/big", work / "big", part_size=PART, max_concurrency=3)
    assert (work / "big").read_bytes() == data
    assert hooked.ranged == 10  # the first part came with the first read
    assert 2 <= peak <= 3  # ranges overlap, never more than asked (the first read counts as one)


# ------------------------------------------------------------------------------------- S3 multipart


@pytest.fixture
async def s3_bucket(moto_endpoint: str) -> AsyncIterator[tuple[osx.BaseStore, str]]:
    bucket = f"transfer-{uuid.uuid4().hex[:16]}"
    await create_bucket(moto_endpoint, bucket)
    async with make_store(moto_endpoint, bucket) as store:
        yield store, bucket


async def pending_uploads(endpoint: str, bucket: str) -> list[Any]:
    async with boto_client(endpoint) as client:
        resp = await client.list_multipart_uploads(Bucket=bucket)
    return list(resp.get("Uploads", []))


async def test_s3_multipart_round_trip(s3_bucket: tuple[osx.BaseStore, str], moto_endpoint: str, work: Path) -> None:
    store, bucket = s3_bucket
    data = payload(11 * MIB, seed=3)  # three 5 MiB parts, the last short
    source = write(work / "big", data)
    await osx.upload_file(store, source, "mp/big", part_size=5 * MIB, max_concurrency=2)
    assert (await store.head("mp/big")).etag.endswith('-3"')  # type: ignore[union-attr]  # a multipart ETag
    assert await pending_uploads(moto_endpoint, bucket) == []
    await osx.download_file(store, "mp/big", work / "back", part_size=2 * MIB, max_concurrency=4)
    assert (work / "back").read_bytes() == data


async def test_s3_failed_upload_leaves_no_object_and_no_pending_upload(
    s3_bucket: tuple[osx.BaseStore, str], moto_endpoint: str, work: Path
) -> None:
    store, bucket = s3_bucket
    source = write(work / "big", payload(16 * MIB))

    def stop_after_a_part(event: osx.ProgressEvent) -> None:
        if event.transferred > 0:
            raise Stop

    with pytest.raises(Stop):
        await osx.upload_file(
            store, source, "mp/failed", part_size=5 * MIB, max_concurrency=1, progress=stop_after_a_part
        )
    with pytest.raises(osx.NotFoundError):
        await store.head("mp/failed")
    assert await pending_uploads(moto_endpoint, bucket) == []


async def test_s3_cancelled_upload_leaves_no_object_and_no_pending_upload(
    s3_bucket: tuple[osx.BaseStore, str], moto_endpoint: str, work: Path
) -> None:
    store, bucket = s3_bucket
    source = write(work / "big", payload(16 * MIB))
    sent: list[int] = []

    def cancel_after_a_part(event: osx.ProgressEvent) -> None:
        # Cancelled right here, as the first part's answer arrives: deterministic, mid-upload.
        if event.transferred > 0 and not sent:
            sent.append(event.transferred)
            task.cancel()

    task = asyncio.create_task(
        osx.upload_file(
            store, source, "mp/cancelled", part_size=5 * MIB, max_concurrency=1, progress=cancel_after_a_part
        )
    )
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sent == [5 * MIB]  # one part of a multipart upload was stored, three were not
    with pytest.raises(osx.NotFoundError):
        await store.head("mp/cancelled")
    assert await pending_uploads(moto_endpoint, bucket) == []


async def test_upload_file_memory_is_bounded_by_the_parts(s3_bucket: tuple[osx.BaseStore, str], work: Path) -> None:
    store, _ = s3_bucket
    part, concurrency, size = 5 * MIB, 1, 24 * MIB
    source = write(work / "big", payload(size))
    await store.put("warm", b"x")  # the session and credentials exist before measuring
    gc.collect()
    tracemalloc.start()
    try:
        await osx.upload_file(store, source, "mem/big", part_size=part, max_concurrency=concurrency)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (await store.head("mem/big")).size == size
    # put_stream's own parts (measured: about ``(concurrency + 2) * part`` on S3, whatever the
    # chunks), one block read from the file, bookkeeping: never the file.
    assert peak <= (concurrency + 2) * part + 2 * MIB < size, f"peak {peak / MIB:.1f} MiB"


async def test_download_file_memory_is_bounded(s3_bucket: tuple[osx.BaseStore, str], work: Path) -> None:
    store, _ = s3_bucket
    size = 24 * MIB
    await store.put_stream("mem/big", (payload(MIB, seed=i) for i in range(24)), part_size=8 * MIB)
    gc.collect()
    tracemalloc.start()
    try:
        await osx.download_file(store, "mem/big", work / "big", part_size=2 * MIB, max_concurrency=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (work / "big").stat().st_size == size
    # Each range in flight held whole (twice while joined), the first read's buffer: never the object.
    assert peak <= 2 * 2 * (2 * MIB) + 4 * MIB < size, f"peak {peak / MIB:.1f} MiB"


# ------------------------------------------------------------------------------------- copy_tree


async def fill(store: osx.Store, names: dict[str, bytes], **attributes: Any) -> None:
    await asyncio.gather(*(store.put(name, data, **attributes) for name, data in names.items()))


TREE = {
    "src/a": b"a",
    "src/empty": b"",
    "src/dir/b": b"bb",
    "src/dir/deeper/c": payload(2 * PART + 5, seed=9),  # streamed between stores
    "srcx/not-under-the-prefix": b"no",  # whole segments: "src" is not a prefix of "srcx"
    "src": b"",  # nor is the object named like the prefix itself
}
UNDER = {k: v for k, v in TREE.items() if k.startswith("src/")}


def flat_tree() -> dict[str, bytes]:
    # The local store refuses "src" next to "src/...": the same tree without the object "src".
    return {k: v for k, v in TREE.items() if k != "src"}


async def contents(store: osx.Store, prefix: str) -> dict[str, bytes]:
    return {m.location: await store.get(m.location) async for m in store.list(prefix)}


async def test_copy_tree_between_backends(store: osx.Store, backend: str, work: Path) -> None:
    tree = flat_tree() if backend == "local" else TREE
    await fill(store, tree, content_type="text/plain", metadata={"k": "v"})
    async with osx.new("local", path=work / "dst") as local, osx.new("memory") as memory:
        for other in (local, memory):
            events: list[osx.ProgressEvent] = []
            result = await osx.copy_tree(store, "src", other, "to/here", jobs=3, part_size=PART, progress=events.append)
            expected = {f"to/here/{k[4:]}": v for k, v in UNDER.items()}
            assert await contents(other, "to/here") == expected
            assert result.copied == sorted(expected)
            assert result.skipped == []
            assert result.failed == {}
            assert result.bytes == sum(len(v) for v in UNDER.values())
            got = await other.get_object("to/here/dir/deeper/c")
            assert got.attributes.content_type == "text/plain"
            assert dict(got.attributes.metadata) == {"k": "v"}
            assert {e.path for e in events if e.done} == set(expected)
        # And back: from the local store into the backend under test, to the root prefix.
        result = await osx.copy_tree(local, "to", store, None, part_size=PART)
        assert result.failed == {}
        assert await contents(store, "here") == {f"here/{k[4:]}": v for k, v in UNDER.items()}


async def test_copy_tree_never_mixes_versions_of_a_streamed_object(store: osx.Store) -> None:
    await fill(store, {"v/big": payload(3 * PART, seed=1), "v/small": b"s"})

    async def overwrite() -> None:
        if hooked.streams == 1:  # after the first part was read, before the rest is
            await store.put("v/big", payload(3 * PART, seed=2))

    hooked = Hooked(store, overwrite)
    async with osx.new("memory") as dst:
        result = await osx.copy_tree(hooked, "v", dst, "w", part_size=PART)
        assert list(result.failed) == ["w/big"]
        assert isinstance(result.failed["w/big"], osx.PreconditionError)
        assert result.copied == ["w/small"]
        assert [m.location async for m in dst.list("w")] == ["w/small"]  # nothing half-copied


async def test_copy_tree_in_one_store_copies_server_side(store: osx.Store) -> None:
    await fill(store, {k: v for k, v in UNDER.items()})
    every_call = tuple(sorted(WRITE_OPS | READ_OPS))
    watched = FaultyStore(store, Fault(ops=every_call, error=None, latency=0.001))
    result = await osx.copy_tree(watched, "src", watched, "dst/copy", jobs=2)
    assert result.copied == sorted(f"dst/copy/{k[4:]}" for k in UNDER)
    assert await contents(store, "dst/copy") == {f"dst/copy/{k[4:]}": v for k, v in UNDER.items()}
    assert {i.op for i in watched.injected} == {"list", "copy"}  # no byte went through the client


async def test_copy_tree_into_its_own_subprefix_copies_each_object_once(memory_store: osx.MemoryStore) -> None:
    await fill(memory_store, {"t/a": b"1", "t/b": b"2"})
    result = await osx.copy_tree(memory_store, "t", memory_store, "t/nested")
    assert result.copied == ["t/nested/a", "t/nested/b"]
    assert sorted([m.location async for m in memory_store.list("t")]) == ["t/a", "t/b", "t/nested/a", "t/nested/b"]
    with pytest.raises(osx.InvalidArgumentError, match="onto itself"):
        await osx.copy_tree(memory_store, "t", memory_store, "t")


async def test_copy_tree_between_two_handles_on_one_place_copies_each_object_once(
    memory_store: osx.MemoryStore,
) -> None:
    # Two store objects over the same data (equal reprs), and a listing that sees new writes.
    one, other = FaultyStore(memory_store, []), FaultyStore(memory_store, [])
    await fill(memory_store, {f"t/{i}": b"x" for i in range(5)})
    # Without a complete listing first, the copies would be listed and copied again, forever.
    result = await asyncio.wait_for(osx.copy_tree(one, "t", other, "t/nested", jobs=2), 20)
    assert result.copied == [f"t/nested/{i}" for i in range(5)]
    assert len([m async for m in memory_store.list("t")]) == 10


@pytest.mark.parametrize("same_store", [True, False], ids=["server-side", "streamed"])
async def test_copy_tree_create_mode_skips_existing(store: osx.Store, same_store: bool) -> None:
    await fill(store, {"s/one": b"1", "s/two": b"2", "s/three": b"3"})
    async with osx.new("memory") as memory:
        dst = store if same_store else memory
        await dst.put("d/two", b"already here")
        result = await osx.copy_tree(store, "s", dst, "d", mode="create")
        assert result.copied == ["d/one", "d/three"]
        assert result.skipped == ["d/two"]
        assert result.bytes == 2
        assert await dst.get("d/two") == b"already here"
        assert await dst.get("d/one") == b"1"
        events: list[osx.ProgressEvent] = []
        await store.put("s/four", b"4444")
        result = await osx.copy_tree(store, "s", dst, "d", mode="create", progress=events.append)
        assert result.copied == ["d/four"]
        assert result.skipped == ["d/one", "d/three", "d/two"]
        assert [(e.path, e.transferred, e.done) for e in events if e.done] == [("d/four", 4, True)]


async def test_copy_tree_respects_jobs() -> None:
    async with osx.new("memory") as src, Concurrency(osx.new("memory")) as dst:
        await fill(src, {f"j/{i:02d}": bytes([i]) for i in range(12)})
        result = await osx.copy_tree(src, "j", dst, "k", jobs=3)
        assert len(result.copied) == 12
        assert dst.peak == 3
        same = Concurrency(src)
        result = await osx.copy_tree(same, "j", same, "l", jobs=4)
        assert len(result.copied) == 12
        assert same.peak == 4


async def test_copy_tree_collects_failures_and_tries_every_object() -> None:
    async with osx.new("memory") as src:
        await fill(src, {f"p/{i}": b"x" for i in range(6)})
        dst = FaultyStore(osx.new("memory"), Fault(ops=("put",), paths="q/[24]", error=osx.TransportError))
        result = await osx.copy_tree(src, "p", dst, "q", jobs=2)
        assert sorted(result.failed) == ["q/2", "q/4"]
        assert all(isinstance(e, osx.TransportError) for e in result.failed.values())
        assert result.copied == ["q/0", "q/1", "q/3", "q/5"]
        assert not result.ok


async def test_copy_tree_include_filters_and_bad_options(memory_store: osx.MemoryStore) -> None:
    await fill(memory_store, {"i/a.txt": b"1", "i/b.bin": b"2"})
    result = await osx.copy_tree(memory_store, "i", memory_store, "o", include=lambda m: m.location.endswith(".txt"))
    assert result.copied == ["o/a.txt"]
    for bad in ({"jobs": 0}, {"mode": "sometimes"}, {"part_size": -5}, {"progress": 3}):
        with pytest.raises(osx.InvalidArgumentError):
            await osx.copy_tree(memory_store, "i", memory_store, "o", **bad)
    with pytest.raises(osx.InvalidPathError):
        await osx.copy_tree(memory_store, "i/", memory_store, "o")


def test_the_guides_complete_example_runs(tmp_path: Path) -> None:
    guide = (Path(__file__).parent.parent / "docs" / "transfers.md").read_text(encoding="utf-8")
    section = guide.split("## A complete example", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert code is not None
    run = subprocess.run(
        [sys.executable, "-c", code.group(1)], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert "downloaded 1400011 bytes" in run.stdout
