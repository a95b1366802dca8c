"""objectstorex.obspec.ObspecStore at runtime on all five backends: obspec's result dicts, its
range forms, list chunks, copy/rename without overwrite, errors as obspec's classes, the sync
protocols on the bridge loop, obspec-utils' readers, and zarr's ObjectStore route."""

from __future__ import annotations

import asyncio
import pickle
import subprocess
import sys
import threading
from importlib.metadata import version
from pathlib import Path
from typing import Any

import obspec.exceptions as obspec_errors
import pytest
from obspec_utils import glob
from obspec_utils.readers import BlockStoreReader, BufferedStoreReader, EagerStoreReader

import objectstorex as osx
from objectstorex import errors
from objectstorex.obspec import ObspecStore
from tests.emulators import azure as azure_emulator
from tests.emulators import gcs as gcs_emulator
from tests.emulators import s3 as s3_emulator
from tests.emulators.spaces import ENDPOINT_FIXTURES, fresh_space

META_KEYS = {"path", "last_modified", "size", "e_tag", "version"}
DATA = bytes(range(256)) * 4  # 1 KiB, every byte value


def _errors_of(name: str) -> tuple[type[obspec_errors.BaseError], type[osx.ObjectStoreError]]:
    return getattr(obspec_errors, name), getattr(osx, name)


# ------------------------------------------------------------------------------------------
# The async protocols, on each backend's opened store


async def test_results_are_obspec_dicts(store: osx.Store) -> None:
    obs = ObspecStore(store)
    put = await obs.put_async("dir/a.bin", DATA, attributes={"Content-Type": "application/x-test", "colour": "blue"})
    assert set(put) == {"e_tag", "version"}
    head = await obs.head_async("dir/a.bin")
    assert set(head) == META_KEYS
    assert head["path"] == "dir/a.bin"
    assert head["size"] == len(DATA)
    assert head["e_tag"] == put["e_tag"]
    assert head["last_modified"].tzinfo is not None

    got = await obs.get_async("dir/a.bin")
    assert bytes(await got.buffer_async()) == DATA
    # Some services date a read to the second and a HEAD more finely: compare the rest.
    assert {k: v for k, v in got.meta.items() if k != "last_modified"} == {
        k: v for k, v in head.items() if k != "last_modified"
    }
    assert abs((got.meta["last_modified"] - head["last_modified"]).total_seconds()) < 1
    assert got.range == (0, len(DATA))
    assert b"".join([bytes(c) async for c in got]) == DATA
    assert got.attributes["Content-Type"] == "application/x-test"
    assert got.attributes["colour"] == "blue"


async def test_range_forms(store: osx.Store) -> None:
    obs = ObspecStore(store)
    await obs.put_async("r.bin", DATA)
    cases: list[tuple[Any, bytes, tuple[int, int]]] = [
        ((10, 20), DATA[10:20], (10, 20)),
        ([1000, 5000], DATA[1000:], (1000, 1024)),
        ({"offset": 1000}, DATA[1000:], (1000, 1024)),
        ({"suffix": 7}, DATA[-7:], (1017, 1024)),
        ({"suffix": 5000}, DATA, (0, 1024)),
    ]
    for rng, expected, returned in cases:
        got = await obs.get_async("r.bin", options={"range": rng})
        assert bytes(await got.buffer_async()) == expected, rng
        assert got.range == returned, rng
        assert got.meta["size"] == len(DATA)
    head = await obs.get_async("r.bin", options={"head": True})
    assert bytes(await head.buffer_async()) == b""
    assert head.meta["size"] == len(DATA)

    assert bytes(await obs.get_range_async("r.bin", start=3, end=9)) == DATA[3:9]
    assert bytes(await obs.get_range_async("r.bin", start=3, length=6)) == DATA[3:9]
    by_end = await obs.get_ranges_async("r.bin", starts=[0, 100, 1020], ends=[4, 110, 1024])
    by_length = await obs.get_ranges_async("r.bin", starts=[0, 100, 1020], lengths=[4, 10, 4])
    assert [bytes(b) for b in by_end] == [bytes(b) for b in by_length] == [DATA[0:4], DATA[100:110], DATA[1020:]]
    assert await obs.get_ranges_async("r.bin", starts=[], lengths=[]) == []


async def test_list_chunks_and_delimiter(store: osx.Store) -> None:
    obs = ObspecStore(store)
    keys = ["d/a", "d/b", "d/sub/c", "e/x"]
    for key in keys:
        await obs.put_async(key, key.encode())
    chunks = [chunk async for chunk in obs.list_async()]
    assert chunks
    assert all(isinstance(chunk, list) for chunk in chunks)
    flat = [meta for chunk in chunks for meta in chunk]
    assert all(set(meta) == META_KEYS for meta in flat)
    assert sorted(meta["path"] for meta in flat) == keys
    under = [m["path"] async for chunk in obs.list_async("d/") for m in chunk]
    assert sorted(under) == ["d/a", "d/b", "d/sub/c"]
    after = [m["path"] async for chunk in obs.list_async("d", offset="d/a") for m in chunk]
    assert sorted(after) == ["d/b", "d/sub/c"]
    level = await obs.list_with_delimiter_async("d")
    assert set(level) == {"common_prefixes", "objects"}
    assert list(level["common_prefixes"]) == ["d/sub"]
    assert sorted(m["path"] for m in level["objects"]) == ["d/a", "d/b"]
    assert list((await obs.list_with_delimiter_async())["common_prefixes"]) == ["d", "e"]


async def test_copy_rename_delete(store: osx.Store, quirks: frozenset[str]) -> None:
    obs = ObspecStore(store)
    await obs.put_async("src", b"one")
    await obs.put_async("taken", b"two")
    await obs.copy_async("src", "copy")
    assert bytes(await obs.get_range_async("copy", start=0, end=3)) == b"one"
    await obs.copy_async("src", "taken")  # overwrite=True
    assert bytes(await (await obs.get_async("taken")).buffer_async()) == b"one"
    await obs.put_async("taken", b"two")
    if not store.capabilities.copy_if_not_exists:
        with pytest.raises(obspec_errors.NotSupportedError):
            await obs.copy_async("src", "taken", overwrite=False)
    elif "copy_if_not_exists" not in quirks:
        with pytest.raises(obspec_errors.AlreadyExistsError):
            await obs.copy_async("src", "taken", overwrite=False)
        with pytest.raises(obspec_errors.AlreadyExistsError):
            await obs.rename_async("src", "taken", overwrite=False)
        assert bytes(await (await obs.get_async("taken")).buffer_async()) == b"two"
        await obs.copy_async("src", "fresh", overwrite=False)
        assert bytes(await (await obs.get_async("fresh")).buffer_async()) == b"one"
        await obs.delete_async("fresh")
    await obs.rename_async("copy", "moved")
    with pytest.raises(obspec_errors.NotFoundError):
        await obs.head_async("copy")
    await obs.delete_async("moved")
    await obs.delete_async(["src", "taken", "never-existed"])
    assert [c async for c in obs.list_async()] == []


async def test_errors_are_obspec_classes(store: osx.Store, quirks: frozenset[str]) -> None:
    obs = ObspecStore(store)
    put = await obs.put_async("e", b"x")
    with pytest.raises(obspec_errors.NotFoundError) as missing:
        await obs.get_async("missing")
    assert isinstance(missing.value, osx.NotFoundError)
    assert isinstance(missing.value, FileNotFoundError)
    assert type(obspec_errors.map_exception(missing.value)) is obspec_errors.NotFoundError
    assert missing.value.path == "missing"
    with pytest.raises(obspec_errors.NotFoundError):
        await obs.head_async("missing")
    with pytest.raises(obspec_errors.AlreadyExistsError):
        await obs.put_async("e", b"y", mode="create")
    with pytest.raises(obspec_errors.PreconditionError):
        await obs.put_async("e", b"y", mode={"e_tag": '"not-the-etag"'})
    updated = await obs.put_async("e", b"z", mode={"e_tag": put["e_tag"], "version": put["version"]})
    assert updated["e_tag"] != put["e_tag"]
    with pytest.raises(obspec_errors.InvalidPathError):
        await obs.head_async("a//b")
    if "conditional_get" not in quirks:
        with pytest.raises(obspec_errors.NotModifiedError):
            await obs.get_async("e", options={"if_none_match": updated["e_tag"]})
        with pytest.raises(obspec_errors.PreconditionError):
            await obs.get_async("e", options={"if_match": '"not-the-etag"', "head": True})
    with pytest.raises(osx.InvalidRangeError):
        await obs.get_async("e", options={"range": {"suffix": 0}})


@pytest.mark.parametrize(
    "name",
    [
        "NotFoundError",
        "AlreadyExistsError",
        "PreconditionError",
        "NotModifiedError",
        "NotSupportedError",
        "PermissionDeniedError",
        "UnauthenticatedError",
        "InvalidPathError",
    ],
)
def test_every_error_maps_to_the_obspec_class_of_its_name(name: str) -> None:
    from objectstorex.obspec import _as_obspec

    obspec_cls, osx_cls = _errors_of(name)
    original = osx_cls("boom", path="p", provider="memory", status=404)
    mapped = _as_obspec(original)
    assert type(mapped).__name__ == name
    assert isinstance(mapped, obspec_cls)
    assert isinstance(mapped, osx_cls)
    assert (str(mapped), mapped.path, mapped.provider, mapped.status) == ("boom", "p", "memory", 404)
    assert type(obspec_errors.map_exception(mapped)) is obspec_cls
    again = pickle.loads(pickle.dumps(mapped))
    assert type(again) is type(mapped)
    assert again.path == "p"
    # Errors obspec has no name for pass through unchanged.
    other = errors.TransportError("down", provider="s3")
    assert _as_obspec(other) is other


async def test_unauthenticated_on_azurite(azurite_endpoint: str) -> None:
    name = await fresh_space("azure", azurite_endpoint, "obspec")
    bad = azure_emulator.make_store(azurite_endpoint, name, access_key="d3Jvbmcta2V5LXdyb25nLWtleQ==")
    async with bad:
        obs = ObspecStore(bad)
        with pytest.raises(obspec_errors.BaseError) as caught:
            await obs.head_async("x")
        assert type(caught.value).__name__ in {"UnauthenticatedError", "PermissionDeniedError"}
        assert isinstance(caught.value, osx.ObjectStoreError)


# ------------------------------------------------------------------------------------------
# The sync protocols: a store made in sync code runs on the bridge loop


@pytest.fixture
def unopened(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> osx.Store:
    """A store of ``backend`` on an empty bucket/container/directory, not opened on any loop."""
    if backend == "memory":
        return osx.MemoryStore()
    if backend == "local":
        return osx.new("local", path=str(tmp_path / "obspec"))
    endpoint = request.getfixturevalue(ENDPOINT_FIXTURES[backend])
    name = asyncio.run(fresh_space(backend, endpoint, "obspec"))
    module = {"s3": s3_emulator, "azure": azure_emulator, "gcs": gcs_emulator}[backend]
    made: osx.Store = module.make_store(endpoint, name)
    return made


def test_sync_protocols(unopened: osx.Store) -> None:
    with ObspecStore(unopened) as obs:
        put = obs.put("k/one", DATA)
        assert obs.head("k/one")["e_tag"] == put["e_tag"]
        assert bytes(obs.get("k/one").buffer()) == DATA
        assert b"".join(bytes(c) for c in obs.get("k/one", options={"range": {"offset": 1000}})) == DATA[1000:]
        assert bytes(obs.get_range("k/one", start=5, length=5)) == DATA[5:10]
        assert [bytes(b) for b in obs.get_ranges("k/one", starts=[0, 2], ends=[1, 4])] == [DATA[:1], DATA[2:4]]
        obs.put("k/two", iter([memoryview(b"ab"), memoryview(b"cd")]))
        obs.put("k/three", [b"x" * 10], use_multipart=False)
        obs.copy("k/two", "k/four")
        obs.rename("k/four", "k/five")
        chunks = list(obs.list("k"))
        assert sorted(m["path"] for chunk in chunks for m in chunk) == ["k/five", "k/one", "k/three", "k/two"]
        assert bytes(obs.get("k/five").buffer()) == b"abcd"
        assert list(obs.list_with_delimiter()["common_prefixes"]) == ["k"]
        with pytest.raises(obspec_errors.NotFoundError):
            obs.head("k/missing")
        obs.delete(["k/one", "k/two", "k/three", "k/five"])
        assert list(obs.list()) == []


def test_obspec_utils_readers(unopened: osx.Store) -> None:
    payload = bytes(range(251)) * 400  # ~100 KB, not a multiple of any block size
    with ObspecStore(unopened) as obs:
        obs.put("file.bin", payload)
        with BufferedStoreReader(obs, "file.bin", buffer_size=4096) as f:
            assert f.read(10) == payload[:10]
            f.seek(50_000)
            assert f.read(1000) == payload[50_000:51_000]
            assert f.tell() == 51_000
            f.seek(-5, 2)
            assert f.read() == payload[-5:]
        with EagerStoreReader(obs, "file.bin") as f:
            assert f.read() == payload
        with BlockStoreReader(obs, "file.bin", block_size=8192, max_cached_blocks=4) as f:
            f.seek(30_000)
            assert f.read(20_000) == payload[30_000:50_000]
            assert f.readall() == payload
        for key in ["data/2024/a.nc", "data/2024/b.txt", "data/2025/c.nc"]:
            obs.put(key, b"x")
        assert sorted(glob(obs, "data/**/*.nc")) == ["data/2024/a.nc", "data/2025/c.nc"]


def test_put_from_path_and_file(tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(DATA * 3)
    with ObspecStore(osx.MemoryStore()) as obs:
        obs.put("from-path", source, chunk_size=1000)
        with source.open("rb") as handle:
            obs.put("from-file", handle)
        obs.put("multipart", DATA, use_multipart=True, chunk_size=100)
        assert bytes(obs.get("from-path").buffer()) == DATA * 3
        assert bytes(obs.get("from-file").buffer()) == DATA * 3
        assert bytes(obs.get("multipart").buffer()) == DATA


# ------------------------------------------------------------------------------------------
# Which loop runs what


async def test_sync_call_on_the_owning_loop_says_so(s3_store: osx.BaseStore) -> None:
    obs = ObspecStore(s3_store)  # made on this loop, where the store is open
    await obs.put_async("k", b"v")
    with pytest.raises(osx.ObjectStoreError, match="deadlock"):
        obs.head("k")


async def test_async_call_from_another_loop_says_so(s3_store: osx.BaseStore) -> None:
    obs = ObspecStore(s3_store)
    await obs.put_async("k", b"v")

    def elsewhere() -> None:
        asyncio.run(obs.head_async("k"))

    with pytest.raises(osx.ObjectStoreError, match="another event loop"):
        await asyncio.to_thread(elsewhere)
    assert (await obs.head_async("k"))["size"] == 1  # still fine on its own loop


def test_sync_calls_reach_a_loop_running_in_another_thread(moto_endpoint: str) -> None:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        bucket = asyncio.run_coroutine_threadsafe(fresh_space("s3", moto_endpoint, "obspec"), loop).result()

        async def open_there() -> ObspecStore:
            store = s3_emulator.make_store(moto_endpoint, bucket)
            await store.__aenter__()
            return ObspecStore(store)  # belongs to the thread's loop

        obs = asyncio.run_coroutine_threadsafe(open_there(), loop).result()
        obs.put("k", b"there")
        assert bytes(obs.get("k").buffer()) == b"there"
        obs.close()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def test_bad_input_fails_before_io() -> None:
    with pytest.raises(osx.InvalidArgumentError):
        ObspecStore(b"not a store")  # type: ignore[arg-type]
    obs = ObspecStore(osx.MemoryStore())
    obs.put("k", b"abc")
    with pytest.raises(osx.InvalidArgumentError, match="exactly one"):
        obs.get_range("k", start=0, end=1, length=1)
    with pytest.raises(osx.InvalidArgumentError, match="exactly one"):
        obs.get_ranges("k", starts=[0])
    with pytest.raises(osx.InvalidArgumentError, match="unknown get option"):
        obs.get("k", options={"colour": "red"})  # type: ignore[arg-type]
    with pytest.raises(osx.InvalidArgumentError):
        obs.put("k", "text")  # type: ignore[arg-type]
    with pytest.raises(osx.InvalidArgumentError):
        obs.put("k", 42)  # type: ignore[arg-type]
    with pytest.raises(osx.InvalidArgumentError, match="a range dict is"):
        obs.get("k", options={"range": {"start": 1}})  # type: ignore[arg-type]
    obs.close()


# ------------------------------------------------------------------------------------------
# zarr's ObjectStore route, and lazy imports


@pytest.mark.xfail(
    strict=True,
    raises=TypeError,
    reason=f"zarr {version('zarr')}'s zarr.storage.ObjectStore accepts only obstore stores: it rejects any "
    "class whose module is not obstore ('expected ObjectStore class'); use objectstorex.zarr.ObjectStorexStore",
)
def test_zarr_object_store_accepts_an_obspec_store() -> None:
    import numpy as np
    import zarr
    from zarr.storage import ObjectStore

    zstore = ObjectStore(ObspecStore(osx.MemoryStore()))  # type: ignore[type-var]
    arr = zarr.create_array(zstore, shape=(4,), chunks=(2,), dtype="i1")
    arr[:] = np.arange(4, dtype="i1")
    np.testing.assert_array_equal(zarr.open_array(zstore, mode="r")[:], np.arange(4, dtype="i1"))


def test_import_objectstorex_imports_neither_zarr_nor_obspec() -> None:
    code = (
        "import sys, objectstorex\n"
        "bad = sorted(m for m in ('zarr', 'obspec', 'obspec_utils', 'numpy') if m in sys.modules)\n"
        "sys.exit(f'imported: {bad}' if bad else 0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("index", [0, 1])
def test_guide_examples_run(index: int, tmp_path: Path) -> None:
    from tests.test_zarr import run_guide_example

    run_guide_example("obspec", index, tmp_path)


def test_store_opened_on_another_loop_says_so(s3_store: osx.BaseStore) -> None:
    """A sync test: the store was opened on the fixture's loop, which is not running now."""
    obs = ObspecStore(s3_store)
    with pytest.raises(osx.ObjectStoreError, match="belongs to another event loop") as caught:
        obs.head("k")
    assert "attached to a different loop" not in str(caught.value)


def test_sync_calls_drive_an_idle_owner_loop(moto_endpoint: str) -> None:
    """A store opened with loop.run_until_complete: its loop is idle, so a sync call drives it."""
    loop = asyncio.new_event_loop()
    try:
        bucket = loop.run_until_complete(fresh_space("s3", moto_endpoint, "obspec"))

        async def open_here() -> ObspecStore:
            store = s3_emulator.make_store(moto_endpoint, bucket)
            await store.__aenter__()
            return ObspecStore(store)  # belongs to this loop

        obs = loop.run_until_complete(open_here())
        obs.put("k", b"idle")
        assert bytes(obs.get("k").buffer()) == b"idle"
        assert loop.run_until_complete(obs.head_async("k"))["size"] == 4
        obs.close()
    finally:
        loop.close()
    with pytest.raises(osx.ObjectStoreError, match="closed"):
        obs.head("k")


@pytest.fixture
async def obspec_on_fixture_loop(s3_store: osx.BaseStore) -> ObspecStore:
    return ObspecStore(s3_store)  # made on the fixture's loop, where the store is open


def test_sync_test_over_an_async_fixture(obspec_on_fixture_loop: ObspecStore) -> None:
    obs = obspec_on_fixture_loop
    obs.put("k", b"fixture")
    assert [m["path"] for chunk in obs.list() for m in chunk] == ["k"]
