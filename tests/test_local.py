"""What only the local store promises: files on disk, atomicity across processes, path safety."""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import objectstorex as osx


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[osx.LocalStore]:
    async with osx.LocalStore(tmp_path / "root") as s:
        yield s


def temp_files(store: osx.LocalStore) -> list[str]:
    return os.listdir(os.path.join(store.root, ".objectstorex", "tmp"))


async def test_objects_are_plain_files(store: osx.LocalStore) -> None:
    await store.put("dir/file.txt", b"hello")
    assert (Path(store.root) / "dir" / "file.txt").read_bytes() == b"hello"
    assert osx.from_url(f"file://{store.root}").__class__ is osx.LocalStore
    other = osx.from_url(f"file://{store.root}")
    assert await other.get("dir/file.txt") == b"hello"


async def test_directory_created_and_repr(tmp_path: Path) -> None:
    root = tmp_path / "a" / "b"
    store = osx.new("local", path=str(root))
    assert root.is_dir()
    assert "LocalStore(" in repr(store)
    assert str(root) in repr(store)


async def test_etag_changes_on_every_write_even_same_size(store: osx.LocalStore) -> None:
    seen = set()
    for i in range(200):
        res = await store.put("k", b"%03d" % (i % 10))  # same size, repeating content
        assert res.etag not in seen
        seen.add(res.etag)
        assert (await store.head("k")).etag == res.etag


async def test_failed_create_and_cas_keep_old_data(store: osx.LocalStore) -> None:
    first = await store.put("k", b"old")
    with pytest.raises(osx.AlreadyExistsError):
        await store.put("k", b"new", mode="create")
    await store.put("k", b"v2")
    with pytest.raises(osx.PreconditionError):
        await store.put("k", b"new", mode=osx.UpdateVersion.of(first))
    assert await store.get("k") == b"v2"
    assert temp_files(store) == []


async def test_stream_error_leaves_no_object_and_no_temp_file(store: osx.LocalStore) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * 100_000
        raise RuntimeError("source failed")

    with pytest.raises(RuntimeError, match="source failed"):
        await store.put_stream("big", broken())
    with pytest.raises(osx.NotFoundError):
        await store.head("big")
    assert temp_files(store) == []
    assert [m async for m in store.list()] == []


async def test_cancelled_stream_removes_temp_file(store: osx.LocalStore) -> None:
    started = asyncio.Event()

    async def stalled() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        started.set()
        await asyncio.sleep(3600)
        yield b""

    task = asyncio.create_task(store.put_stream("s", stalled()))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.05)  # the shielded cleanup finishes on a worker thread
    assert temp_files(store) == []


async def test_attributes_persist_across_store_instances(store: osx.LocalStore) -> None:
    await store.put("doc", b"{}", content_type="application/json", metadata={"a": "1"}, tags={"t": "v"})
    again = osx.LocalStore(store.root)
    got = await again.get_object("doc")
    assert got.attributes.content_type == "application/json"
    assert dict(got.attributes.metadata) == {"a": "1"}
    assert await again.get_tags("doc") == {"t": "v"}
    assert [m.location async for m in again.list()] == ["doc"]  # the sidecar is never listed


async def test_stale_sidecar_is_ignored(store: osx.LocalStore) -> None:
    await store.put("doc", b"1", content_type="text/plain")
    # Replace the file behind the store's back (as a crash between the two renames could).
    (Path(store.root) / "doc").write_bytes(b"22")
    got = await store.get_object("doc")
    assert got.data == b"22"
    assert got.attributes.content_type is None


async def test_symlinks_never_lead_outside_the_root(store: osx.LocalStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    os.symlink(outside / "secret", Path(store.root) / "link")
    os.symlink(outside, Path(store.root) / "dirlink")
    with pytest.raises(osx.PermissionDeniedError):
        await store.get("link")
    with pytest.raises(osx.PermissionDeniedError):
        await store.get("dirlink/secret")
    with pytest.raises(osx.PermissionDeniedError):
        await store.put("dirlink/new", b"x")
    with pytest.raises(osx.PermissionDeniedError):
        await store.delete("dirlink/secret")
    assert not (outside / "new").exists()
    assert (outside / "secret").read_bytes() == b"secret"
    assert [m.location async for m in store.list()] == []  # symlinks are not listed


async def test_object_and_parent_conflict_both_ways(store: osx.LocalStore) -> None:
    await store.put("a", b"1")
    with pytest.raises(osx.InvalidPathError, match="a"):
        await store.put("a/b", b"2")
    await store.put("x/y", b"1")
    with pytest.raises(osx.InvalidPathError, match="prefix of other objects"):
        await store.put("x", b"2")
    assert await store.get("a") == b"1"
    assert await store.get("x/y") == b"1"
    assert temp_files(store) == []


async def test_empty_directories_removed_on_delete(store: osx.LocalStore) -> None:
    await store.put("a/b/c/d", b"1")
    await store.put("a/keep", b"1")
    await store.delete("a/b/c/d")
    assert not (Path(store.root) / "a" / "b").exists()
    assert (Path(store.root) / "a").is_dir()
    await store.rename("a/keep", "z/kept")
    assert not (Path(store.root) / "a").exists()
    assert (await store.list_with_delimiter()).common_prefixes == ["z"]


async def test_listing_order_matches_code_points(store: osx.LocalStore) -> None:
    names = ["a-c", "a/b", "a/b0/x", "a0", "a.b", "b", "a/b-c", "é", "z/😀"]
    for n in names:
        await store.put(n, b"")
    assert [m.location async for m in store.list()] == sorted(names)
    assert [m.location async for m in store.list(offset="a/b")] == sorted(n for n in names if n > "a/b")


async def test_reserved_segment_refused(store: osx.LocalStore) -> None:
    with pytest.raises(osx.InvalidPathError, match="reserved"):
        await store.put(".objectstorex/x", b"1")
    await store.put("ok/.objectstorex", b"1")  # only the top-level segment is reserved


async def test_fsync_option_writes_durably(tmp_path: Path) -> None:
    store = osx.LocalStore(tmp_path / "d", fsync=True)
    await store.put("k", b"v")
    await store.put_stream("s", [b"a", b"b"])
    assert await store.get("k") == b"v"
    assert await store.get("s") == b"ab"


async def test_stale_temp_files_cleaned_on_open(tmp_path: Path) -> None:
    store = osx.LocalStore(tmp_path / "r")
    tmp_dir = Path(store.root) / ".objectstorex" / "tmp"
    old = tmp_dir / "leftover"
    old.write_bytes(b"partial")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    fresh = tmp_dir / "in-flight"
    fresh.write_bytes(b"partial")
    async with osx.LocalStore(tmp_path / "r"):
        pass
    assert not old.exists()
    assert fresh.exists()  # may belong to another process's upload in progress


async def test_get_stream_is_pinned_to_the_opened_file(store: osx.LocalStore) -> None:
    await store.put("k", b"A" * 300_000)
    async with store.get_stream("k", chunk_size=100_000) as stream:
        first = await stream.__anext__()
        await store.put("k", b"B" * 300_000)
        rest = [c async for c in stream]
    assert b"".join([first, *rest]) == b"A" * 300_000


def _run_workers(root: Path, script: str, n: int) -> list[str]:
    """Run ``n`` Python processes on ``root``, released together once all are ready."""
    gate = root.parent / f"{root.name}-gate"
    gate.mkdir()
    code = textwrap.dedent(script)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(root), str(i), str(gate)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(n)
    ]
    deadline = time.monotonic() + 60
    while len(list(gate.glob("ready-*"))) < n and time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            break  # one died early: its stderr tells why below
        time.sleep(0.01)
    (gate / "go").touch()
    outputs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outputs.append(out.strip())
    return outputs


# Every worker imports, opens the store, says it is ready and waits for the others: the
# operations below then really overlap across processes.
WORKER_PRELUDE = """
import asyncio, os, sys, time
import objectstorex as osx

def wait_for_go():
    open(os.path.join(sys.argv[3], f"ready-{sys.argv[2]}"), "w").close()
    while not os.path.exists(os.path.join(sys.argv[3], "go")):
        time.sleep(0.001)
"""

CAS_WORKER = (
    WORKER_PRELUDE
    + """
async def main():
    store = osx.LocalStore(sys.argv[1])
    await store.head("counter")
    wait_for_go()
    done = conflicts = 0
    while done < 25:
        res = await store.get_object("counter")
        try:
            await store.put("counter", str(int(res.data) + 1).encode(), mode=osx.UpdateVersion.of(res.meta))
        except osx.PreconditionError:
            conflicts += 1
            continue
        done += 1
    print(conflicts)

asyncio.run(main())
"""
)


async def test_cas_is_atomic_across_processes(tmp_path: Path) -> None:
    root = tmp_path / "shared"
    store = osx.LocalStore(root)
    await store.put("counter", b"0")
    conflicts = await asyncio.to_thread(_run_workers, root, CAS_WORKER, 4)
    assert await store.get("counter") == b"100"
    print("CAS conflicts per process:", conflicts)  # > 0 shows the processes really raced


CREATE_WORKER = (
    WORKER_PRELUDE
    + """
async def main():
    store = osx.LocalStore(sys.argv[1])
    wait_for_go()
    won = 0
    for i in range(20):
        try:
            await store.put(f"lock-{i}", sys.argv[2].encode(), mode="create")
            won += 1
        except osx.AlreadyExistsError:
            pass
    print(won)

asyncio.run(main())
"""
)


async def test_create_has_exactly_one_winner_across_processes(tmp_path: Path) -> None:
    root = tmp_path / "shared"
    store = osx.LocalStore(root)
    wins = await asyncio.to_thread(_run_workers, root, CREATE_WORKER, 4)
    assert sum(int(w) for w in wins) == 20
    for i in range(20):
        assert await store.get(f"lock-{i}") in (b"0", b"1", b"2", b"3")  # the winner's data, whole


# ------------------------------------------------------------------------------------------
# Path safety beyond escapes: no symlink below the root is followed, even one pointing inside.


async def test_symlink_inside_the_root_is_not_followed(store: osx.LocalStore) -> None:
    await store.put("real/obj", b"data")
    os.symlink(Path(store.root) / "real", Path(store.root) / "alias")
    os.symlink(Path(store.root) / ".objectstorex", Path(store.root) / "sneaky")
    for path in ("alias/obj", "sneaky/locks/00.lock"):
        with pytest.raises(osx.PermissionDeniedError, match="symlink"):
            await store.get(path)
    with pytest.raises(osx.PermissionDeniedError):
        await store.put("sneaky/attrs/x", b"x")
    with pytest.raises(osx.PermissionDeniedError):
        [m async for m in store.list("alias")]
    assert [m.location async for m in store.list()] == ["real/obj"]


async def test_a_symlink_object_is_never_replaced_or_deleted(store: osx.LocalStore, tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_bytes(b"keep")
    os.symlink(target, Path(store.root) / "link")
    with pytest.raises(osx.PermissionDeniedError):
        await store.put("link", b"new")
    with pytest.raises(osx.PermissionDeniedError):
        await store.delete("link")
    with pytest.raises(osx.PermissionDeniedError):
        await store.head("link")
    assert target.read_bytes() == b"keep"
    assert (Path(store.root) / "link").is_symlink()


async def test_a_fifo_is_not_an_object_and_never_hangs(store: osx.LocalStore) -> None:
    os.mkfifo(Path(store.root) / "fifo")
    with pytest.raises(osx.NotFoundError):
        await asyncio.wait_for(store.get("fifo"), 5)
    with pytest.raises(osx.PermissionDeniedError):
        await store.put("fifo", b"x")
    assert [m async for m in store.list()] == []


async def test_copy_and_rename_into_an_object_conflict(store: osx.LocalStore) -> None:
    await store.put("a", b"1")
    await store.put("src", b"2", content_type="text/plain")
    for op in (store.copy, store.rename, store.copy_if_not_exists, store.rename_if_not_exists):
        with pytest.raises(osx.InvalidPathError, match="'a' is an object"):
            await op("src", "a/b")
    assert await store.get("src") == b"2"
    assert (await store.get_object("src")).attributes.content_type == "text/plain"
    assert [m.location async for m in store.list()] == ["a", "src"]


async def test_empty_directories_are_neither_objects_nor_prefixes(store: osx.LocalStore) -> None:
    (Path(store.root) / "empty" / "deeper").mkdir(parents=True)
    await store.put("full/x", b"1")
    listing = await store.list_with_delimiter()
    assert listing.common_prefixes == ["full"]
    assert [m.location async for m in store.list()] == ["full/x"]
    with pytest.raises(osx.NotFoundError):
        await store.head("empty")


# ------------------------------------------------------------------------------------------
# Attributes: sidecars never collide, and always belong to the data they are read with.


async def test_sidecars_of_colliding_names_and_long_names(store: osx.LocalStore) -> None:
    long = "n" * 255  # the longest name ext4 allows: a "<name>.json" sidecar could not exist
    for path, ctype in (("x", "text/x"), ("x.json/y", "text/y"), (long, "text/long")):
        await store.put(path, b"1", content_type=ctype, tags={"p": path[:10]})
    for path, ctype in (("x", "text/x"), ("x.json/y", "text/y"), (long, "text/long")):
        assert (await store.get_object(path)).attributes.content_type == ctype
        assert await store.get_tags(path) == {"p": path[:10]}


async def test_failed_move_keeps_old_data_and_its_attributes(
    store: osx.LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.put("doc", b"old", content_type="text/old", metadata={"v": "1"})

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    # The new attributes are staged, then the move fails: as a crash between the two would.
    monkeypatch.setattr(store, "_move", disk_full)
    with pytest.raises(osx.ObjectStoreError, match="No space"):
        await store.put("doc", b"new", content_type="text/new")
    monkeypatch.undo()
    got = await store.get_object("doc")
    assert got.data == b"old"
    assert got.attributes.content_type == "text/old"
    assert dict(got.attributes.metadata) == {"v": "1"}
    assert temp_files(store) == []


async def test_overwrite_without_attributes_drops_them(store: osx.LocalStore) -> None:
    await store.put("doc", b"1", content_type="text/plain", tags={"a": "b"})
    await store.put("doc", b"2")
    assert (await store.get_object("doc")).attributes == osx.Attributes()
    assert await store.get_tags("doc") == {}
    await store.delete("doc")
    assert not any(files for _, _, files in os.walk(Path(store.root) / ".objectstorex" / "attrs"))


async def test_rename_is_a_write_with_a_new_etag_everywhere_the_same(store: osx.LocalStore) -> None:
    first = await store.put("a", b"1", content_type="text/plain")
    await store.put("b", b"0")
    await store.rename("a", "b")
    head = await store.head("b")
    assert head.etag != first.etag
    got = await store.get_object("b")
    assert got.meta.etag == head.etag
    assert got.attributes.content_type == "text/plain"
    assert [m.etag async for m in store.list()] == [head.etag]
    with pytest.raises(osx.PreconditionError):
        await store.put("b", b"x", mode=osx.UpdateVersion(etag=first.etag))
    await store.put("b", b"x", mode=osx.UpdateVersion.of(head))


# ------------------------------------------------------------------------------------------
# Resources and robustness.


async def test_a_stream_opened_but_never_read_releases_its_file(store: osx.LocalStore) -> None:
    await store.put("k", b"x" * 1000)
    before = len(os.listdir("/proc/self/fd"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(20):
            stream = store.get_stream("k")
            await stream.open()
            await stream.aclose()
        async with store.get_stream("k", chunk_size=10) as stream:
            assert await stream.__anext__() == b"x" * 10
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []  # closed, not collected
    assert len(os.listdir("/proc/self/fd")) <= before


async def test_store_recovers_when_its_private_directory_is_removed(store: osx.LocalStore) -> None:
    await store.put("k", b"1")
    shutil.rmtree(Path(store.root) / ".objectstorex")
    await store.put("k", b"2", content_type="text/plain")
    assert (await store.get_object("k")).attributes.content_type == "text/plain"
    assert [m.location async for m in store.list()] == ["k"]


async def test_bad_options_are_invalid_config(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(osx.InvalidConfigError, match="fsync"):
        osx.LocalStore(tmp_path / "d", fsync="yes")  # type: ignore[arg-type]
    with pytest.raises(osx.InvalidConfigError, match="path"):
        osx.LocalStore(tmp_path / "missing", create=False)
    with pytest.raises(osx.InvalidConfigError, match="path"):
        osx.LocalStore(tmp_path / "file")
    with pytest.raises(osx.InvalidConfigError, match="fsynk"):
        osx.new("local", path=str(tmp_path / "d"), fsynk=True)


async def test_fsync_store_creates_nested_directories(tmp_path: Path) -> None:
    async with osx.LocalStore(tmp_path / "d", fsync=True) as store:
        await store.put("a/b/c/d", b"v", content_type="text/plain")
        await store.rename("a/b/c/d", "e/f")
        await store.copy("e/f", "g/h/i")
        assert await store.get("g/h/i") == b"v"
        assert [m.location async for m in store.list()] == ["e/f", "g/h/i"]


async def test_writes_survive_concurrent_pruning_of_their_directory(store: osx.LocalStore) -> None:
    # Each delete empties a/b/c and prunes it while other writes are landing in it: a writer
    # whose directory vanished between its walk and its move must walk again, never fail.
    async def churn(i: int) -> None:
        for j in range(30):
            await store.put(f"a/b/c/k{i}", b"%d" % j)
            await store.delete(f"a/b/c/k{i}")

    await asyncio.gather(*(churn(i) for i in range(8)))
    assert [m async for m in store.list()] == []
    assert not (Path(store.root) / "a").exists()
    assert temp_files(store) == []


async def test_stream_of_tiny_chunks_and_copy_of_a_large_object(store: osx.LocalStore) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 7)
    chunks = (payload[i : i + 1000] for i in range(0, len(payload), 1000))
    res = await store.put_stream("big", chunks, part_size=256 * 1024, content_type="app/x")
    assert (await store.head("big")).etag == res.etag
    await store.copy("big", "copy/of/big")
    got = await store.get_object("copy/of/big")
    assert got.data == payload  # byte-exact, whether the kernel or user space copied it
    assert got.attributes.content_type == "app/x"
    assert got.meta.etag != res.etag
    assert await store.get_ranges("copy/of/big", [(0, 10), (-7, None)]) == [payload[:10], payload[-7:]]


async def test_delete_many_in_batches(store: osx.LocalStore) -> None:
    paths = [f"d/{i:04d}" for i in range(600)]
    await asyncio.gather(*(store.put(p, b"x") for p in paths))
    await store.delete_many([*paths, "missing/too"])
    assert [m async for m in store.list()] == []
    assert not (Path(store.root) / "d").exists()
