"""objectstorex.zarr.ObjectStorexStore: zarr's own StoreTests on memory, local, moto, Azurite and
fake-gcs-server, then what zarr users rely on: atomic set_if_not_exists, one request per byte
request, arrays (sharded too) through zarr's sync and async APIs, pickling, and the loop rules."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
import zarr.api.asynchronous as zarr_async
from zarr.abc.store import ByteRequest, OffsetByteRequest, RangeByteRequest, SuffixByteRequest
from zarr.core.buffer import Buffer, BufferPrototype, cpu, default_buffer_prototype
from zarr.core.sync import sync
from zarr.testing.store import StoreTests

import objectstorex as osx
from objectstorex.backends.azure.auth import AZURITE_ACCOUNT, AZURITE_KEY
from objectstorex.zarr import ObjectStorexStore
from tests.emulators import azure as azure_emulator
from tests.emulators import gcs as gcs_emulator
from tests.emulators import s3 as s3_emulator

#: Store options by URL: the test helpers reach a network store with a store of their own.
_OPTIONS: dict[str, dict[str, Any]] = {}


def _s3_options(endpoint: str, **extra: Any) -> dict[str, Any]:
    return {"region": "us-east-1", "endpoint": endpoint, **s3_emulator.KEYS, **extra}


def _azure_options(endpoint: str, **extra: Any) -> dict[str, Any]:
    return {
        "account": AZURITE_ACCOUNT,
        "access_key": AZURITE_KEY,
        "endpoint": endpoint,
        **extra,
    }


@pytest.fixture(scope="module")
def zarr_container(azurite_endpoint: str) -> str:
    """One container for this module's Azure tests; each test takes a fresh prefix in it."""
    name = f"zarr-{uuid.uuid4().hex[:16]}"
    asyncio.run(azure_emulator.create_container(azurite_endpoint, name))
    return name


@pytest.fixture(scope="module")
def zarr_bucket(fake_gcs_endpoint: str) -> str:
    """One fake-gcs-server bucket for this module's GCS tests; each test takes a fresh prefix in it."""
    name = f"zarr-{uuid.uuid4().hex[:16]}"
    gcs_emulator.create_bucket(fake_gcs_endpoint, name)
    return name


def _gcs_options(endpoint: str, **extra: Any) -> dict[str, Any]:
    return {"endpoint": endpoint, "anonymous": True, **extra}


def _space() -> str:
    return f"zarr-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["memory", "local", "s3", "azure", "gcs"])
def emulator(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    """(URL, options) of an empty place on each backend."""
    name = str(request.param)
    if name == "memory":
        return "memory://", {}
    if name == "local":
        return f"file://{tmp_path}/zarr", {}
    if name == "s3":
        endpoint = request.getfixturevalue("moto_endpoint")
        return f"s3://{s3_emulator.BUCKET}/{_space()}", _s3_options(endpoint)
    if name == "azure":
        endpoint = request.getfixturevalue("azurite_endpoint")
        return f"az://{request.getfixturevalue('zarr_container')}/{_space()}", _azure_options(endpoint)
    endpoint = request.getfixturevalue("fake_gcs_endpoint")
    return f"gs://{request.getfixturevalue('zarr_bucket')}/{_space()}", _gcs_options(endpoint)


# ------------------------------------------------------------------------------------------
# zarr's own store test suite


class _ZarrSuite(StoreTests[ObjectStorexStore, cpu.Buffer]):
    store_cls = ObjectStorexStore
    buffer_cls = cpu.Buffer

    @contextlib.asynccontextmanager
    async def _direct(self, store: ObjectStorexStore) -> AsyncIterator[osx.Store]:
        """A store on the same objects that is not the one under test (its own session, this loop)."""
        url = store.url
        assert url is not None
        if url.startswith(("memory:", "file:")):
            yield store.store  # loop-agnostic (and a memory store's data lives only there)
            return
        async with osx.from_url(url, **_OPTIONS[url]) as direct:
            yield direct

    async def set(self, store: ObjectStorexStore, key: str, value: Buffer) -> None:
        async with self._direct(store) as direct:
            await direct.put(key, value.to_bytes())

    async def get(self, store: ObjectStorexStore, key: str) -> Buffer:
        async with self._direct(store) as direct:
            return self.buffer_cls.from_bytes(await direct.get(key))

    @pytest.fixture
    def store_kwargs(self, place: tuple[str, dict[str, Any]]) -> dict[str, Any]:
        url, options = place
        _OPTIONS[url] = options
        return {"url_or_store": url, **options}

    def test_store_repr(self, store: ObjectStorexStore) -> None:
        assert repr(store) == f"ObjectStorexStore({store.url!r}, read_only=False)"
        assert "secret" not in repr(store).lower()
        assert str(store) == store.url

    def test_store_supports_writes(self, store: ObjectStorexStore) -> None:
        assert store.supports_writes

    def test_store_supports_listing(self, store: ObjectStorexStore) -> None:
        assert store.supports_listing


class TestZarrSuiteMemory(_ZarrSuite):
    @pytest.fixture
    def place(self) -> tuple[str, dict[str, Any]]:
        return "memory://", {}


class TestZarrSuiteLocal(_ZarrSuite):
    @pytest.fixture
    def place(self, tmp_path: Path) -> tuple[str, dict[str, Any]]:
        return f"file://{tmp_path}/zarr", {}


class TestZarrSuiteS3(_ZarrSuite):
    @pytest.fixture
    def place(self, moto_endpoint: str) -> tuple[str, dict[str, Any]]:
        return f"s3://{s3_emulator.BUCKET}/{_space()}", _s3_options(moto_endpoint)


class TestZarrSuiteAzure(_ZarrSuite):
    @pytest.fixture
    def place(self, azurite_endpoint: str, zarr_container: str) -> tuple[str, dict[str, Any]]:
        return f"az://{zarr_container}/{_space()}", _azure_options(azurite_endpoint)


# ------------------------------------------------------------------------------------------
# Beyond the suite


async def test_set_if_not_exists_first_writer_stays(emulator: tuple[str, dict[str, Any]]) -> None:
    url, options = emulator
    store = ObjectStorexStore(url, **options)
    proto = default_buffer_prototype()

    async def writer(i: int) -> bytes:
        await store.set_if_not_exists("race/zarr.json", cpu.Buffer.from_bytes(f"writer {i}".encode()))
        got = await store.get("race/zarr.json", proto)
        assert got is not None
        return got.to_bytes()

    seen = await asyncio.gather(*(writer(i) for i in range(20)))
    # Each writer reads right after its own attempt: with a racy exists-then-set, later writers
    # would overwrite and the readers would see different values.
    assert len(set(seen)) == 1, seen
    assert seen[0].startswith(b"writer ")
    await store.set_if_not_exists("race/zarr.json", cpu.Buffer.from_bytes(b"late"))
    assert (await store.get("race/zarr.json", proto)) == cpu.Buffer.from_bytes(seen[0])
    store.close()


class _Counter:
    """An ``observer=`` counting the HTTP requests a store sends."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    def operation(self, provider: str, name: str, path: str | None, attributes: Mapping[str, str]) -> _Counter:
        self.requests.append(name)
        return self

    def attempt(self, method: str, url: str, server: str, port: int | None, resend_count: int) -> _Counter:
        return self

    def end(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("provider", ["s3", "azure", "gcs"])
async def test_byte_requests_are_one_request_each(provider: str, request: pytest.FixtureRequest) -> None:
    counter = _Counter()
    if provider == "s3":
        url = f"s3://{s3_emulator.BUCKET}/{_space()}"
        options = _s3_options(request.getfixturevalue("moto_endpoint"), observer=counter)
    elif provider == "azure":
        url = f"az://{request.getfixturevalue('zarr_container')}/{_space()}"
        options = _azure_options(request.getfixturevalue("azurite_endpoint"), observer=counter)
    else:
        url = f"gs://{request.getfixturevalue('zarr_bucket')}/{_space()}"
        options = _gcs_options(request.getfixturevalue("fake_gcs_endpoint"), observer=counter)
    store = ObjectStorexStore(url, **options)
    proto = default_buffer_prototype()
    data = bytes(range(200))
    await store.set("c/0", cpu.Buffer.from_bytes(data))
    cases: list[tuple[ByteRequest, bytes]] = [
        (RangeByteRequest(10, 20), data[10:20]),
        (OffsetByteRequest(190), data[190:]),
        (SuffixByteRequest(7), data[-7:]),
        (SuffixByteRequest(500), data),
    ]
    for byte_range, expected in cases:
        counter.requests.clear()
        got = await store.get("c/0", proto, byte_range)
        assert got is not None
        assert got.to_bytes() == expected
        suffix = isinstance(byte_range, SuffixByteRequest)
        # Azure has no "bytes=-n": a suffix costs a size lookup first.
        assert len(counter.requests) == (2 if suffix and provider == "azure" else 1), (byte_range, counter.requests)
    store.close()


async def test_ranges_read_like_slices() -> None:
    store = ObjectStorexStore("memory://")
    proto = default_buffer_prototype()
    await store.set("k", cpu.Buffer.from_bytes(b"abcd"))
    await store.set("empty", cpu.Buffer.from_bytes(b""))
    slices: list[tuple[ByteRequest, bytes]] = [
        (OffsetByteRequest(4), b""),
        (OffsetByteRequest(9), b""),
        (RangeByteRequest(2, 2), b""),
        (RangeByteRequest(5, 9), b""),
        (SuffixByteRequest(0), b""),
        (RangeByteRequest(2, 99), b"cd"),
    ]
    for byte_range, expected in slices:
        got = await store.get("k", proto, byte_range)
        assert got is not None
        assert got.to_bytes() == expected, byte_range
    got = await store.get("empty", proto, SuffixByteRequest(3))
    assert got is not None
    assert got.to_bytes() == b""
    assert await store.get("missing", proto, RangeByteRequest(2, 2)) is None
    with pytest.raises(ValueError, match="offset >= 0"):
        await store.get("k", proto, OffsetByteRequest(-1))


def _array_roundtrip(make_store: Any, shards: tuple[int, int] | None) -> None:
    data = np.arange(24 * 30, dtype="int32").reshape(24, 30)
    arr = zarr.create_array(make_store(), name="a", shape=data.shape, chunks=(4, 5), shards=shards, dtype="int32")
    arr[:] = data
    again = zarr.open_array(make_store(), path="a", mode="r")
    np.testing.assert_array_equal(again[:], data)
    np.testing.assert_array_equal(again[3:17, 2:29], data[3:17, 2:29])
    if shards is not None:
        assert again.shards == shards


@pytest.mark.parametrize("shards", [None, (8, 10)], ids=["chunked", "sharded"])
def test_sync_api_roundtrip(emulator: tuple[str, dict[str, Any]], shards: tuple[int, int] | None) -> None:
    url, options = emulator
    first = ObjectStorexStore(url, **options)
    # Reopen through a new store from the same URL (a memory store only lives in the first).
    stores = iter([first, first if url == "memory://" else ObjectStorexStore(url, **options)])
    _array_roundtrip(lambda: next(stores), shards)
    keys = sync(_keys(first))
    assert "a/zarr.json" in keys
    assert any(k.startswith("a/c/") for k in keys)
    first.close()


async def _keys(store: ObjectStorexStore) -> list[str]:
    return [k async for k in store.list()]


@pytest.mark.parametrize("shards", [None, (8, 10)], ids=["chunked", "sharded"])
async def test_async_api_roundtrip(emulator: tuple[str, dict[str, Any]], shards: tuple[int, int] | None) -> None:
    url, options = emulator
    store = ObjectStorexStore(url, **options)
    data = np.arange(16 * 20, dtype="float64").reshape(16, 20)
    arr = await zarr_async.create_array(store, name="b", shape=data.shape, chunks=(4, 5), shards=shards, dtype="f8")
    await arr.setitem(slice(None), data)
    reader = store if url == "memory://" else ObjectStorexStore(url, read_only=True, **options)
    again = await zarr_async.open_array(store=reader, path="b", mode="r")
    np.testing.assert_array_equal(await again.getitem(slice(None)), data)
    np.testing.assert_array_equal(await again.getitem((slice(5, 11), slice(3, 17))), data[5:11, 3:17])
    if reader.read_only:
        with pytest.raises(ValueError, match="read-only"):
            await reader.set("b/zarr.json", cpu.Buffer.from_bytes(b"{}"))
    store.close()
    reader.close()


def test_async_api_from_asyncio_run(moto_endpoint: str) -> None:
    """zarr's async API inside asyncio.run, twice: the store outlives each loop it was used on."""
    url = f"s3://{s3_emulator.BUCKET}/{_space()}"
    store = ObjectStorexStore(url, **_s3_options(moto_endpoint))

    async def write() -> None:
        arr = await zarr_async.create_array(store, name="x", shape=(10,), chunks=(3,), dtype="i2")
        await arr.setitem(slice(None), np.arange(10, dtype="i2"))

    async def read() -> Any:
        arr = await zarr_async.open_array(store=store, path="x", mode="r")
        return await arr.getitem(slice(None))

    asyncio.run(write())
    np.testing.assert_array_equal(asyncio.run(read()), np.arange(10, dtype="i2"))
    store.close()


# ------------------------------------------------------------------------------------------
# Identity, pickling, construction


def test_url_store_pickles_and_equals(moto_endpoint: str) -> None:
    url = f"s3://{s3_emulator.BUCKET}/{_space()}"
    options = _s3_options(moto_endpoint, retry=osx.RetryConfig(max_retries=2))
    store = ObjectStorexStore(url, **options)
    store.set_sync("k", cpu.Buffer.from_bytes(b"v"))  # opens a session first
    clone = pickle.loads(pickle.dumps(store))
    assert clone == store
    assert hash(clone) == hash(store)
    assert clone is not store
    assert clone.store is not store.store  # rebuilt from URL and options, not the live session
    got = clone.get_sync("k")
    assert got is not None
    assert got.to_bytes() == b"v"
    assert store == ObjectStorexStore(url, **options)
    assert store != ObjectStorexStore(url, read_only=True, **options)
    assert store != ObjectStorexStore(url + "x", **options)
    assert store.with_read_only(True) == ObjectStorexStore(url, read_only=True, **options)
    store.close()
    clone.close()


async def test_store_built_from_a_store(memory_store: osx.MemoryStore) -> None:
    zs = ObjectStorexStore(memory_store)
    assert zs.store is memory_store
    assert zs.url is None
    assert zs == ObjectStorexStore(memory_store)
    assert zs != ObjectStorexStore(osx.MemoryStore())
    assert "MemoryStore" in repr(zs)
    await zs.set("a/b", cpu.Buffer.from_bytes(b"x"))
    assert await memory_store.get("a/b") == b"x"
    same = pickle.loads(pickle.dumps(zs))  # in this process: the same live store
    assert same == zs
    assert same.store is memory_store
    assert pickle.loads(pickle.dumps(zs.with_read_only(True))).read_only
    elsewhere = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", "import pickle, sys; pickle.loads(sys.stdin.buffer.read())"],
        input=pickle.dumps(zs),
        capture_output=True,
        check=False,
    )
    assert elsewhere.returncode != 0
    assert b"build it from a URL" in elsewhere.stderr
    zs.close()
    assert await memory_store.get("a/b") == b"x"  # the given store stays the caller's


async def test_given_network_store_on_another_loop_says_so(s3_store: osx.BaseStore) -> None:
    zs = ObjectStorexStore(s3_store)  # made on this loop, where the store is open
    await zs.set("k", cpu.Buffer.from_bytes(b"v"))

    def elsewhere() -> None:
        asyncio.run(zs.exists("k"))

    with pytest.raises(osx.ObjectStoreError, match=r"belongs to .* another event loop"):
        await asyncio.to_thread(elsewhere)
    # zarr's sync API runs on zarr's loop thread: the same clear error.
    with pytest.raises(osx.ObjectStoreError, match="belongs to"):
        await asyncio.to_thread(zarr.core.sync.sync, zs.exists("k"))


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        ((123,), {}, osx.InvalidArgumentError),
        (("nope://x",), {}, osx.InvalidConfigError),
        (("memory://",), {"colour": "red"}, osx.InvalidConfigError),
        ((osx.MemoryStore(),), {"region": "x"}, osx.InvalidConfigError),
        (("memory://",), {"read_only": "yes"}, osx.InvalidArgumentError),
    ],
)
def test_bad_construction_fails_before_io(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        ObjectStorexStore(*args, **kwargs)


def test_list_prefix_is_a_string_prefix() -> None:
    store = ObjectStorexStore("memory://")
    for key in ["c/0", "c/1/2", "cx/0", "d/0", "b"]:
        store.set_sync(key, cpu.Buffer.from_bytes(b"12"))

    def listed(prefix: str) -> list[str]:
        async def run() -> list[str]:
            return sorted([k async for k in store.list_prefix(prefix)])

        return asyncio.run(run())

    assert listed("c") == ["c/0", "c/1/2", "cx/0"]
    assert listed("c/") == ["c/0", "c/1/2"]
    assert listed("c/1") == ["c/1/2"]
    assert listed("") == ["b", "c/0", "c/1/2", "cx/0", "d/0"]
    assert asyncio.run(store.getsize_prefix("c")) == 4  # a directory: c/0 and c/1/2, not cx/0


class TestZarrSuiteGCS(_ZarrSuite):
    @pytest.fixture
    def place(self, fake_gcs_endpoint: str, zarr_bucket: str) -> tuple[str, dict[str, Any]]:
        return f"gs://{zarr_bucket}/{_space()}", _gcs_options(fake_gcs_endpoint)


def guide_examples(section: str) -> list[str]:
    """The Python code blocks of one ``## <section>`` of docs/ecosystem.md."""
    guide = (Path(__file__).parent.parent / "docs" / "ecosystem.md").read_text(encoding="utf-8")
    (body,) = [s for s in re.split(r"^## ", guide, flags=re.MULTILINE) if s.split("\n", 1)[0].strip() == section]
    return re.findall(r"^```python\n(.*?)^```", body, flags=re.MULTILINE | re.DOTALL)


def run_guide_example(section: str, index: int, cwd: Path) -> None:
    """Run the ``index``-th example of a docs/ecosystem.md section in a fresh interpreter."""
    examples = guide_examples(section)
    assert len(examples) == 2
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}  # the tree under test
    done = subprocess.run(
        [sys.executable, "-c", examples[index]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()


@pytest.mark.parametrize("index", [0, 1])
def test_guide_examples_run(index: int, tmp_path: Path) -> None:
    run_guide_example("zarr", index, tmp_path)


class _TaggedBuffer(cpu.Buffer):
    """A Buffer subclass, to see which class the store builds its results with."""


async def test_buffers_come_from_the_prototype_passed_in() -> None:
    store = ObjectStorexStore("memory://")
    await store.set("k", cpu.Buffer.from_bytes(b"abcdef"))
    proto = BufferPrototype(buffer=_TaggedBuffer, nd_buffer=cpu.NDBuffer)
    for byte_range in (None, RangeByteRequest(1, 3), OffsetByteRequest(2), SuffixByteRequest(2)):
        got = await store.get("k", proto, byte_range)
        assert type(got) is _TaggedBuffer
    (partial,) = await store.get_partial_values(proto, [("k", RangeByteRequest(0, 2))])
    assert type(partial) is _TaggedBuffer
    assert partial.to_bytes() == b"ab"
