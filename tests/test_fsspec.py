"""The fsspec bridge (``objectstorex.fsspec``): forms, semantics, concurrency, loops, pickling, registration.

Most checks run on every backend through ``ObjectStoreFileSystem(protocol=...)``: memory, local,
S3 on moto, Azure on Azurite and GCS on fake-gcs-server (one bucket per module, a fresh
prefix per test). What an implementation must do in one call (one listing for ``find``, one
``delete_many`` per batch for ``rm``, one ``get_ranges`` per file) is counted on a memory store
subclass that counts its own calls.
"""

from __future__ import annotations

import asyncio
import builtins
import concurrent.futures
import os
import pickle
import random
import shutil
import subprocess
import sys
import textwrap
import threading
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import fsspec
import pytest

import objectstorex as osx
from objectstorex.fsspec import ObjectStoreFileSystem, register
from objectstorex.testing import Fault, FaultyStore
from tests.conftest import BACKENDS
from tests.emulators import gcs as gcs_emulator
from tests.emulators import s3 as s3_emulator
from tests.emulators.spaces import ENDPOINT_FIXTURES, fresh_space

MIB = 1024 * 1024
#: The backends whose paths start with a bucket (container).
CLOUD = ["s3", "azure", "gcs"]


def _options(backend: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    """``ObjectStoreFileSystem`` keyword arguments for ``backend`` (starting its emulator)."""
    if backend == "s3":
        endpoint = request.getfixturevalue("moto_endpoint")
        return {"protocol": "s3", "region": "us-east-1", "endpoint": endpoint, **s3_emulator.KEYS}
    if backend == "azure":
        from objectstorex.backends.azure.auth import AZURITE_ACCOUNT, AZURITE_KEY

        endpoint = request.getfixturevalue("azurite_endpoint")
        return {"protocol": "azure", "account": AZURITE_ACCOUNT, "access_key": AZURITE_KEY, "endpoint": endpoint}
    if backend == "gcs":
        endpoint = request.getfixturevalue("fake_gcs_endpoint")
        return {
            "protocol": "gcs",
            "endpoint": endpoint,
            "anonymous": True,
            "service_account_key": str(gcs_emulator.TEST_KEY_FILE),
        }
    return {"protocol": backend}


def _new_space(backend: str, request: pytest.FixtureRequest, tmp: Path) -> str:
    """Where a module's tests work: a fresh bucket (cloud), a temp directory (local) or a prefix."""
    if backend in ENDPOINT_FIXTURES:
        endpoint = request.getfixturevalue(ENDPOINT_FIXTURES[backend])
        return asyncio.run(fresh_space(backend, endpoint, "fs", gcs_versioned=False))
    if backend == "local":
        return str(tmp)
    return f"fs-{uuid.uuid4().hex[:16]}"


@pytest.fixture(scope="module", params=BACKENDS, ids=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend a test runs on (module scope: one filesystem and bucket per backend)."""
    return str(request.param)


@pytest.fixture(scope="module")
def options(backend: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    """The filesystem's constructor arguments on ``backend``."""
    return _options(backend, request)


@pytest.fixture(scope="module")
def space(backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The bucket, directory or prefix the module's tests use on ``backend``."""
    return _new_space(backend, request, tmp_path_factory.mktemp("fsspec"))


@pytest.fixture(autouse=True, scope="module")
def _empty_memory_store() -> Iterator[None]:
    """Leave the process's one memory store (``protocol="memory"``) as the module found it: empty."""
    yield
    memory = ObjectStoreFileSystem(protocol="memory")
    if memory.find(""):
        memory.rm("", recursive=True)


@pytest.fixture(scope="module")
def fs(options: dict[str, Any]) -> Iterator[ObjectStoreFileSystem]:
    """A sync filesystem (fsspec's loop thread) on the backend."""
    filesystem = ObjectStoreFileSystem(skip_instance_cache=True, **options)
    yield filesystem
    filesystem.close()


@pytest.fixture
def base(space: str) -> str:
    """A fresh directory (prefix) for one test."""
    return f"{space}/t-{uuid.uuid4().hex[:12]}"


# ---------------------------------------------------------------------------------------- forms


def test_the_objectstorex_protocol_is_the_class() -> None:
    assert fsspec.get_filesystem_class("objectstorex") is ObjectStoreFileSystem


@pytest.mark.parametrize("backend", CLOUD, indirect=True)
def test_cloud_paths_are_bucket_and_key_and_urls_are_accepted(
    fs: ObjectStoreFileSystem, base: str, backend: str
) -> None:
    scheme = {"s3": "s3", "azure": "az", "gcs": "gs"}[backend]
    fs.pipe_file(f"{base}/a.txt", b"one")
    assert fs.cat_file(f"{scheme}://{base}/a.txt") == b"one"
    assert fs.cat_file(f"objectstorex://{base}/a.txt") == b"one"
    assert fs.ls(f"{scheme}://{base}", detail=False) == [f"{base}/a.txt"]
    missing = f"no-such-bucket-{uuid.uuid4().hex[:12]}"
    assert not fs.isdir(missing)
    assert not fs.exists(f"{missing}/a.txt")
    with pytest.raises(FileNotFoundError):
        fs.ls(missing)
    with pytest.raises(FileNotFoundError):
        fs.info(missing)


@pytest.mark.parametrize("backend", CLOUD, indirect=True)
def test_one_filesystem_serves_several_buckets(
    fs: ObjectStoreFileSystem, backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    first, second = (_new_space(backend, request, tmp_path) for _ in range(2))
    fs.pipe({f"{first}/k": b"first", f"{second}/k": b"second"})
    assert fs.cat([f"{first}/k", f"{second}/k"]) == {f"{first}/k": b"first", f"{second}/k": b"second"}
    assert fs.ls(first, detail=False) == [f"{first}/k"]
    assert fs.ls(second, detail=False) == [f"{second}/k"]
    fs.copy(f"{first}/k", f"{second}/copied")  # between two stores: streamed
    fs.mv(f"{second}/k", f"{first}/moved")
    assert fs.cat([f"{second}/copied", f"{first}/moved"]) == {
        f"{second}/copied": b"first",
        f"{first}/moved": b"second",
    }
    assert not fs.exists(f"{second}/k")


def test_memory_paths_are_keys_of_one_shared_store() -> None:
    fs = ObjectStoreFileSystem(protocol="memory", skip_instance_cache=True)
    top = f"m-{uuid.uuid4().hex[:12]}"
    fs.pipe_file(f"{top}/sub/a.bin", b"a")
    fs.pipe_file(f"memory://{top}/b.bin", b"b")
    assert fs.ls(top, detail=False) == [f"{top}/b.bin", f"{top}/sub"]
    assert fs.find(top, detail=False) == [f"{top}/b.bin", f"{top}/sub/a.bin"]
    assert fs.cat_file(f"/{top}/b.bin") == b"b"  # a leading "/" is tolerated on the way in
    # fsspec URLs reach the same store (fsspec keeps `protocol` for itself: `provider` names the provider)
    with fsspec.open(f"objectstorex://{top}/c.bin", "wb", provider="memory") as f:
        f.write(b"c")
    assert fs.cat_file(f"{top}/c.bin") == b"c"


def test_local_paths_are_absolute_file_paths(tmp_path: Path) -> None:
    fs = ObjectStoreFileSystem(protocol="local", skip_instance_cache=True)
    target = tmp_path / "d" / "f.txt"
    fs.pipe_file(str(target), b"on disk")
    assert target.read_bytes() == b"on disk"
    assert fs.ls(str(tmp_path / "d"), detail=False) == [str(target)]
    assert fs.find(str(tmp_path), detail=False) == [str(target)]
    assert fs.info(f"file://{target}")["name"] == str(target)
    (tmp_path / "written-outside.txt").write_bytes(b"seen")
    assert fs.cat_file(str(tmp_path / "written-outside.txt")) == b"seen"


def test_local_paths_on_another_filesystem_are_written_in_place(tmp_path: Path) -> None:
    """The store's root stays on the path's own filesystem: a temp file cannot be renamed across mounts."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm mounted apart from the temporary directory")
    top = shm / f"osx-fsspec-{uuid.uuid4().hex}"
    top.mkdir()
    try:
        fs = ObjectStoreFileSystem(protocol="local", skip_instance_cache=True)
        fs.pipe_file(str(top / "a" / "b.txt"), b"on tmpfs")
        assert (top / "a" / "b.txt").read_bytes() == b"on tmpfs"
    finally:
        shutil.rmtree(top)
        shutil.rmtree(shm / ".objectstorex", ignore_errors=True)


def test_local_root_can_be_fixed(tmp_path: Path) -> None:
    fs = ObjectStoreFileSystem(protocol="local", path=str(tmp_path), skip_instance_cache=True)
    fs.pipe_file(str(tmp_path / "x"), b"1")
    assert fs.ls(str(tmp_path), detail=False) == [str(tmp_path / "x")]
    with pytest.raises(osx.NotSupportedError, match="outside"):
        fs.cat_file(str(tmp_path.parent / "elsewhere"))


async def test_store_form_paths_are_the_stores_keys(memory_store: osx.MemoryStore) -> None:
    await memory_store.put("a/b.txt", b"hi")
    fs = fsspec.filesystem("objectstorex", store=memory_store, asynchronous=True)
    assert isinstance(fs, ObjectStoreFileSystem)
    assert await fs._cat_file("a/b.txt") == b"hi"
    assert await fs._ls("a", detail=False) == ["a/b.txt"]
    assert await fs._cat_file("objectstorex://a/b.txt") == b"hi"


def test_two_stores_are_two_filesystems() -> None:
    one, two = osx.MemoryStore(), osx.MemoryStore()
    fs_one = fsspec.filesystem("objectstorex", store=one)
    fs_two = fsspec.filesystem("objectstorex", store=two)
    assert fs_one is not fs_two
    assert fs_one != fs_two
    fs_one.pipe_file("k", b"one")
    assert not fs_two.exists("k")
    assert ObjectStoreFileSystem(store=one) == fs_one  # the same store: an equal filesystem
    assert hash(ObjectStoreFileSystem(store=one)) == hash(fs_one)


def test_the_same_options_share_one_instance() -> None:
    assert ObjectStoreFileSystem(protocol="memory") is ObjectStoreFileSystem(protocol="memory")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "protocol="),
        ({"protocol": "ftp"}, "unknown provider"),
        ({"protocol": "s3", "no_such_option": 1}, "no_such_option"),
        ({"protocol": "s3", "bucket": "b"}, "bucket"),
        ({"protocol": "s3", "region": 5}, "region"),
        ({"protocol": "local", "fsync": "yes"}, "fsync"),
        ({"protocol": "memory", "store": osx.MemoryStore()}, "either"),
        ({"store": "memory://"}, "objectstorex store"),
        ({"protocol": "s3", "provider": "gcs"}, "disagree"),
    ],
)
def test_bad_arguments_fail_before_any_io(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(osx.InvalidConfigError, match=match):
        ObjectStoreFileSystem(skip_instance_cache=True, **kwargs)


# ---------------------------------------------------------------------------------------- semantics


def test_listing_semantics(fs: ObjectStoreFileSystem, base: str) -> None:
    with pytest.raises(FileNotFoundError):
        fs.ls(f"{base}/missing")
    with pytest.raises(FileNotFoundError):
        fs.info(f"{base}/missing")
    fs.pipe_file(f"{base}/dir/a.txt", b"a")
    info = fs.info(f"{base}/dir")
    assert info["type"] == "directory"
    assert info["name"] == f"{base}/dir"
    assert fs.isdir(f"{base}/dir")
    assert not fs.isfile(f"{base}/dir")
    # A write is visible to the very next listing: no listings cache.
    assert fs.ls(f"{base}/dir", detail=False) == [f"{base}/dir/a.txt"]
    fs.pipe_file(f"{base}/dir/b.txt", b"b")
    assert fs.ls(f"{base}/dir", detail=False) == [f"{base}/dir/a.txt", f"{base}/dir/b.txt"]
    with fs.open(f"{base}/dir/c.txt", "wb") as f:
        f.write(b"c")
    assert len(fs.ls(f"{base}/dir")) == 3
    fs.rm(f"{base}/dir/a.txt")
    assert fs.ls(f"{base}/dir", detail=False) == [f"{base}/dir/b.txt", f"{base}/dir/c.txt"]
    # ls of a file is that file
    [entry] = fs.ls(f"{base}/dir/b.txt")
    assert entry["type"] == "file"
    assert entry["size"] == 1


def test_missing_objects_raise_file_not_found(fs: ObjectStoreFileSystem, base: str) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        fs.cat_file(f"{base}/nope")
    assert isinstance(caught.value, osx.NotFoundError)
    with pytest.raises(FileNotFoundError):
        fs.open(f"{base}/nope", "rb")
    assert not fs.exists(f"{base}/nope")
    fs.pipe_file(f"{base}/dir/x", b"x")
    with pytest.raises(IsADirectoryError):
        fs.open(f"{base}/dir", "rb")


def test_cat_file_returns_bytes_and_modified_works(fs: ObjectStoreFileSystem, base: str) -> None:
    fs.pipe_file(f"{base}/x", bytearray(b"payload"))
    data = fs.cat_file(f"{base}/x")
    assert type(data) is bytes
    assert data == b"payload"
    assert type(fs.cat_file(f"{base}/x", 1, 3)) is bytes
    modified = fs.modified(f"{base}/x")
    assert isinstance(modified, datetime)
    assert modified.tzinfo is not None
    assert fs.info(f"{base}/x")["mtime"] == modified


def _slices(rng: random.Random, n: int) -> Iterator[tuple[int | None, int | None]]:
    bounds: list[int | None] = [None, 0, 1, -1, n, -n, 2 * n, -2 * n, n - 1, n + 1]
    for start in bounds:
        for end in bounds:
            yield start, end
    for _ in range(40):
        yield rng.randint(-2 * n, 2 * n), rng.randint(-2 * n, 2 * n)
        yield rng.randint(-2 * n, 2 * n), None
        yield None, rng.randint(-2 * n, 2 * n)


@pytest.mark.parametrize("size", [0, 1, 1000, 5 * MIB + 1])
def test_cat_file_slices_like_python(fs: ObjectStoreFileSystem, base: str, size: int, backend: str) -> None:
    rng = random.Random(size)
    data = rng.randbytes(size)
    fs.pipe_file(f"{base}/obj", data)
    n = max(size, 3)
    cases = list(_slices(rng, n))
    if size > MIB and backend not in ("memory", "local"):
        cases = cases[::4]  # the big object's reads cost a request each: a quarter of the cases is plenty
    for start, end in cases:
        assert fs.cat_file(f"{base}/obj", start, end) == data[start:end], (start, end)


def test_slice_bounds_may_be_numpy_integers(fs: ObjectStoreFileSystem, base: str) -> None:
    np = pytest.importorskip("numpy")  # installed with pandas and pyarrow
    fs.pipe_file(f"{base}/x", b"0123456789")
    assert fs.cat_file(f"{base}/x", np.int64(2), np.int64(-2)) == b"234567"
    assert fs.cat_ranges([f"{base}/x"], [np.int64(1)], [np.int32(3)]) == [b"12"]


def test_cat_ranges_matches_slices(fs: ObjectStoreFileSystem, base: str) -> None:
    one, two = os.urandom(300), os.urandom(50)
    fs.pipe({f"{base}/one": one, f"{base}/two": two})
    paths = [f"{base}/one", f"{base}/two", f"{base}/one", f"{base}/one", f"{base}/two", f"{base}/one"]
    starts: list[int | None] = [0, 10, 290, -20, 60, 100]
    ends: list[int | None] = [10, None, 400, None, 70, -100]
    got = fs.cat_ranges(paths, starts, ends)
    want = [(one if p.endswith("one") else two)[s:e] for p, s, e in zip(paths, starts, ends, strict=True)]
    assert got == want
    missing = fs.cat_ranges([f"{base}/one", f"{base}/gone"], 0, 5)
    assert missing[0] == one[:5]
    assert isinstance(missing[1], FileNotFoundError)
    with pytest.raises(FileNotFoundError):
        fs.cat_ranges([f"{base}/gone"], 0, 5, on_error="raise")


def test_pipe_create_has_one_winner_among_20(fs: ObjectStoreFileSystem, base: str) -> None:
    path = f"{base}/contended"

    def attempt(i: int) -> int | BaseException:
        try:
            fs.pipe_file(path, f"writer {i}".encode(), mode="create")
        except Exception as e:
            return e
        return i

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(attempt, range(20)))
    winners = [o for o in outcomes if isinstance(o, int)]
    losers = [o for o in outcomes if not isinstance(o, int)]
    assert len(winners) == 1, outcomes
    assert len(losers) == 19
    assert all(isinstance(e, FileExistsError) for e in losers), losers
    assert fs.cat_file(path) == f"writer {winners[0]}".encode()


def test_sign(fs: ObjectStoreFileSystem, base: str, backend: str) -> None:
    fs.pipe_file(f"{base}/signed", b"s")
    if backend in ("memory", "local"):
        with pytest.raises(NotImplementedError):
            fs.sign(f"{base}/signed")
        return
    url = fs.sign(f"{base}/signed", expiration=60)
    assert url.startswith("http")
    assert "signed" in url


def test_pipe_rejects_unknown_modes(fs: ObjectStoreFileSystem, base: str) -> None:
    with pytest.raises(ValueError, match="mode"):
        fs.pipe_file(f"{base}/x", b"1", mode="append")


# ---------------------------------------------------------------------------------------- files


def test_files_read_and_write(fs: ObjectStoreFileSystem, base: str) -> None:
    data = os.urandom(3 * 1024)
    with fs.open(f"{base}/f.bin", "wb", block_size=1024) as f:
        for i in range(0, len(data), 700):
            f.write(data[i : i + 700])
    with fs.open(f"{base}/f.bin", "rb", block_size=1000) as f:
        assert f.read(10) == data[:10]
        f.seek(-5, 2)
        assert f.read() == data[-5:]
        f.seek(1000)
        assert f.read(2000) == data[1000:3000]
    with fs.open(f"{base}/t.txt", "w") as text:
        text.write("héllo\n")
    with fs.open(f"{base}/t.txt", "r") as text:
        assert text.read() == "héllo\n"
    with fs.open(f"{base}/empty", "wb"):
        pass
    assert fs.cat_file(f"{base}/empty") == b""
    with fs.open(f"{base}/f.bin", "ab") as f:
        f.write(b"tail")
    assert fs.cat_file(f"{base}/f.bin") == data + b"tail"


def test_an_error_inside_with_leaves_nothing(fs: ObjectStoreFileSystem, base: str) -> None:
    def small() -> None:
        with fs.open(f"{base}/small", "wb") as f:
            f.write(b"partial")
            raise RuntimeError("boom")

    def big() -> None:
        with fs.open(f"{base}/big", "wb", block_size=64 * 1024) as f:
            for _ in range(8):
                f.write(os.urandom(64 * 1024))  # several blocks were handed to the upload already
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        small()
    with pytest.raises(RuntimeError, match="boom"):
        big()
    assert not fs.exists(f"{base}/small")
    assert not fs.exists(f"{base}/big")
    with pytest.raises(FileNotFoundError):
        fs.ls(base)


def test_a_failed_upload_raises_and_leaves_nothing() -> None:
    inner = osx.MemoryStore()
    faulty = FaultyStore(inner, [Fault(ops=("put", "put_stream"), error=osx.TransportError)])
    fs = ObjectStoreFileSystem(store=faulty)

    def write(block_size: int) -> None:
        with fs.open("f", "wb", block_size=block_size) as f:
            for _ in range(4):
                f.write(b"x" * 100)

    for block_size in (1000, 100):  # committed at close / streamed block by block
        with pytest.raises(osx.TransportError):
            write(block_size)
    with pytest.raises(osx.TransportError):
        fs.pipe_file("p", b"data")
    assert asyncio.run(_keys(inner)) == []


async def _keys(store: osx.Store) -> list[str]:
    return [meta.location async for meta in store.list()]


@pytest.mark.s3
async def test_an_abandoned_multipart_write_leaves_no_pending_upload(moto_endpoint: str) -> None:
    bucket = f"fs-{uuid.uuid4().hex[:16]}"
    await s3_emulator.create_bucket(moto_endpoint, bucket)
    options: dict[str, Any] = {"region": "us-east-1", "endpoint": moto_endpoint, **s3_emulator.KEYS}
    fs = ObjectStoreFileSystem(protocol="s3", skip_instance_cache=True, **options)

    def write_then_fail() -> None:
        with fs.open(f"{bucket}/big", "wb") as f:  # 5 MiB blocks; parts of 8 MiB: a multipart upload
            for _ in range(4):
                f.write(os.urandom(5 * MIB))
            raise RuntimeError("boom")

    try:
        with pytest.raises(RuntimeError, match="boom"):
            await asyncio.to_thread(write_then_fail)
        async with s3_emulator.boto_client(moto_endpoint) as client:
            uploads = await client.list_multipart_uploads(Bucket=bucket)
            listed = await client.list_objects_v2(Bucket=bucket)
        assert uploads.get("Uploads", []) == []
        assert listed.get("Contents", []) == []
    finally:
        await asyncio.to_thread(fs.close)


def test_exclusive_open(fs: ObjectStoreFileSystem, base: str) -> None:
    path = f"{base}/x"
    with fs.open(path, "xb") as f:
        f.write(b"first")
    assert fs.cat_file(path) == b"first"
    with pytest.raises(FileExistsError):
        fs.open(path, "xb")
    # Created by someone else between open and close: the create-only commit fails.
    racer = f"{base}/raced"
    f = fs.open(racer, "xb")
    f.write(b"mine")
    fs.pipe_file(racer, b"theirs")
    with pytest.raises(FileExistsError):
        f.close()
    assert fs.cat_file(racer) == b"theirs"


def test_transactions_commit_at_the_end(fs: ObjectStoreFileSystem, base: str) -> None:
    with fs.transaction:
        with fs.open(f"{base}/a", "wb") as f:
            f.write(b"a")
        assert not fs.exists(f"{base}/a")
    assert fs.cat_file(f"{base}/a") == b"a"


# ---------------------------------------------------------------------------------------- bulk


def test_find_glob_copy_move_and_rm(fs: ObjectStoreFileSystem, base: str) -> None:
    files = {f"{base}/d/{i}/{j}.csv": b"x" * (i + j) for i in range(3) for j in range(2)}
    fs.pipe(files)
    assert fs.find(f"{base}/d") == sorted(files)
    assert fs.find(f"{base}/d", maxdepth=1) == []
    assert set(fs.find(f"{base}/d", maxdepth=1, withdirs=True)) == {f"{base}/d/{i}" for i in range(3)} | {f"{base}/d"}
    assert fs.glob(f"{base}/d/*/1.csv") == [f"{base}/d/{i}/1.csv" for i in range(3)]
    assert fs.glob(f"{base}/d/**/0.csv") == [f"{base}/d/{i}/0.csv" for i in range(3)]
    assert fs.du(f"{base}/d") == sum(len(v) for v in files.values())
    fs.copy(f"{base}/d/0", f"{base}/c", recursive=True)
    assert fs.find(f"{base}/c") == [f"{base}/c/0.csv", f"{base}/c/1.csv"]
    fs.mv(f"{base}/c/0.csv", f"{base}/moved.csv")
    assert fs.cat_file(f"{base}/moved.csv") == b""
    assert not fs.exists(f"{base}/c/0.csv")
    fs.rm(f"{base}/d", recursive=True)
    assert not fs.exists(f"{base}/d")
    with pytest.raises(FileNotFoundError):
        fs.rm(f"{base}/d", recursive=True)
    fs.rm(f"{base}/*.csv")
    assert fs.find(base) == [f"{base}/c/1.csv"]


def test_put_and_get_files(fs: ObjectStoreFileSystem, base: str, tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "a.txt").write_bytes(b"a")
    (source / "sub" / "b.txt").write_bytes(b"b" * 1000)
    fs.put(str(source), f"{base}/up", recursive=True)
    assert fs.find(f"{base}/up") == [f"{base}/up/a.txt", f"{base}/up/sub/b.txt"]
    fs.get(f"{base}/up", str(tmp_path / "down"), recursive=True)
    assert (tmp_path / "down" / "sub" / "b.txt").read_bytes() == b"b" * 1000
    with pytest.raises(FileNotFoundError):
        fs.get_file(f"{base}/missing", str(tmp_path / "never"))
    assert not (tmp_path / "never").exists()


class CountingStore(osx.MemoryStore):
    """A memory store that counts the calls the filesystem makes (our own class, not a mock)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    def list(self, prefix: str | None = None, *, offset: str | None = None) -> AsyncIterator[osx.ObjectMeta]:
        self.calls["list"] += 1
        return super().list(prefix, offset=offset)

    async def list_with_delimiter(self, prefix: str | None = None) -> osx.ListResult:
        self.calls["list_with_delimiter"] += 1
        return await super().list_with_delimiter(prefix)

    async def delete(self, path: str, *, if_match: str | osx.UpdateVersion | None = None) -> None:
        self.calls["delete"] += 1
        await super().delete(path, if_match=if_match)

    async def delete_many(self, paths: Iterable[str]) -> None:
        self.calls["delete_many"] += 1
        await super().delete_many(paths)

    async def get_ranges(self, path: str, ranges: Sequence[Any]) -> builtins.list[bytes]:
        self.calls["get_ranges"] += 1
        return await super().get_ranges(path, ranges)

    async def get(self, path: str, **options: Any) -> bytes:
        self.calls["get"] += 1
        return await super().get(path, **options)


async def test_find_is_one_listing_and_rm_one_delete_many_per_batch() -> None:
    store = CountingStore()
    keys = [f"deep/{a}/{b}/{c}.bin" for a in range(5) for b in range(5) for c in range(90)]  # 2250 objects
    for k in keys:
        await store.put(k, b"")
    fs = ObjectStoreFileSystem(store=store, asynchronous=True)
    assert await fs._find("deep") == sorted(keys)
    assert store.calls["list"] == 1
    assert store.calls["list_with_delimiter"] == 0
    assert await fs._du("deep") == 0
    sizes = await fs._du("deep", total=False)
    assert isinstance(sizes, dict)
    assert sorted(sizes) == sorted(keys)
    assert store.calls["list"] == 3  # du: one listing each, no head per file
    store.calls.clear()
    await fs._rm("deep", recursive=True)
    assert store.calls["delete_many"] == 3  # 1000 + 1000 + 250
    assert store.calls["delete"] == 0
    assert [m async for m in store.list()] == []


async def test_cat_ranges_is_one_get_ranges_per_file() -> None:
    store = CountingStore()
    await store.put("a", bytes(range(100)))
    await store.put("b", bytes(range(50)))
    fs = ObjectStoreFileSystem(store=store, asynchronous=True)
    got = await fs._cat_ranges(["a", "b", "a", "a"], [0, 5, 10, 90], [5, 10, 20, 200])
    assert got == [bytes(range(5)), bytes(range(5, 10)), bytes(range(10, 20)), bytes(range(90, 100))]
    assert store.calls["get_ranges"] == 2
    assert store.calls["get"] == 0


# ---------------------------------------------------------------------------------------- loops


def test_async_use_inside_asyncio_run(options: dict[str, Any], base: str) -> None:
    async def main() -> tuple[bytes, list[str]]:
        async with ObjectStoreFileSystem(asynchronous=True, skip_instance_cache=True, **options) as afs:
            await afs._pipe_file(f"{base}/a", b"async")
            if options["protocol"] in CLOUD:  # its stores live on this loop: closing must not block it
                with pytest.raises(osx.ObjectStoreError, match="aclose"):
                    afs.close()
            return await afs._cat_file(f"{base}/a"), await afs._ls(base, detail=False)

    for _ in range(2):  # a second loop gets stores of its own
        data, names = asyncio.run(main())
        assert data == b"async"
        assert names == [f"{base}/a"]


def test_sync_calls_from_many_threads(fs: ObjectStoreFileSystem, base: str) -> None:
    def work(i: int) -> bytes:
        fs.pipe_file(f"{base}/{i}", str(i).encode())
        data: bytes = fs.cat_file(f"{base}/{i}")
        return data

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert list(pool.map(work, range(16))) == [str(i).encode() for i in range(16)]


@pytest.fixture
def loop_thread() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in a thread of its own (like an application's)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    loop.close()


@pytest.mark.s3
def test_a_store_bound_to_another_loop(moto_endpoint: str, loop_thread: asyncio.AbstractEventLoop) -> None:
    bucket = f"fs-{uuid.uuid4().hex[:16]}"
    asyncio.run(s3_emulator.create_bucket(moto_endpoint, bucket))
    store = s3_emulator.make_store(moto_endpoint, bucket)
    asyncio.run_coroutine_threadsafe(store.put("k", b"v"), loop_thread).result()  # opened on loop_thread
    try:
        # Sync use goes to the loop the store lives on.
        fs = ObjectStoreFileSystem(store=store)
        assert fs.loop is loop_thread
        assert fs.cat_file("k") == b"v"

        async def elsewhere() -> bytes:
            afs = ObjectStoreFileSystem(store=store, asynchronous=True)
            data: bytes = await afs._cat_file("k")
            return data

        with pytest.raises(osx.ObjectStoreError, match="bound to another event loop") as caught:
            asyncio.run(elsewhere())
        assert "attached to a different loop" not in str(caught.value)
    finally:
        asyncio.run_coroutine_threadsafe(store.close(), loop_thread).result()


@pytest.mark.s3
def test_a_store_bound_to_a_closed_loop(moto_endpoint: str) -> None:
    bucket = f"fs-{uuid.uuid4().hex[:16]}"
    asyncio.run(s3_emulator.create_bucket(moto_endpoint, bucket))
    store = s3_emulator.make_store(moto_endpoint, bucket)

    async def use() -> None:
        await store.put("k", b"v")  # opens the store on this asyncio.run loop, which then ends

    with pytest.warns(ResourceWarning, match="not closed"):  # the store itself says it was left open
        asyncio.run(use())
    fs = ObjectStoreFileSystem(store=store)
    with pytest.raises(osx.ObjectStoreError, match=r"bound to another event loop \(now closed") as caught:
        fs.cat_file("k")
    assert "attached to a different loop" not in str(caught.value)


def test_a_given_store_opened_by_the_filesystem_closes_with_it(moto_endpoint: str) -> None:
    bucket = f"fs-{uuid.uuid4().hex[:16]}"
    asyncio.run(s3_emulator.create_bucket(moto_endpoint, bucket))
    store = s3_emulator.make_store(moto_endpoint, bucket)
    fs = ObjectStoreFileSystem(store=store)  # opens on fsspec's loop thread at first use
    fs.pipe_file("k", b"v")
    assert fs.cat_file("k") == b"v"
    fs.close()
    with pytest.raises(osx.ObjectStoreError, match="closed"):
        fs.cat_file("k")


# ---------------------------------------------------------------------------------------- pickling


def test_pickling_rebuilds_from_options(fs: ObjectStoreFileSystem, base: str, backend: str) -> None:
    fs.pipe_file(f"{base}/p", b"pickled")
    clone = pickle.loads(pickle.dumps(fs))
    assert isinstance(clone, ObjectStoreFileSystem)
    assert clone.storage_options == fs.storage_options
    assert clone.cat_file(f"{base}/p") == b"pickled"
    if backend == "memory":
        return  # the memory store lives in this process: another one starts empty
    script = textwrap.dedent(
        """
        import pickle, sys
        fs = pickle.loads(sys.stdin.buffer.read())
        sys.stdout.buffer.write(fs.cat_file(sys.argv[1]))
        fs.pipe_file(sys.argv[1] + ".child", b"from the child")
        fs.close()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, f"{base}/p"], input=pickle.dumps(fs), capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b"pickled"
    assert fs.cat_file(f"{base}/p.child") == b"from the child"


def test_a_filesystem_over_a_given_store_does_not_pickle() -> None:
    fs = ObjectStoreFileSystem(store=osx.MemoryStore())
    with pytest.raises(TypeError, match="protocol="):
        pickle.dumps(fs)


# ---------------------------------------------------------------------------------------- registration


def _run(code: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_installing_does_not_take_cloud_protocols_away() -> None:
    out = _run(
        """
        import importlib.metadata, sys
        import objectstorex
        assert "fsspec" not in sys.modules, "import objectstorex imported fsspec"
        import fsspec
        from fsspec.registry import known_implementations as known, registry
        fsspec.get_filesystem_class("objectstorex")  # loads our entry point
        import objectstorex.fsspec
        ours = [
            ep.name for ep in importlib.metadata.entry_points(group="fsspec.specs")
            if ep.value.startswith("objectstorex")
        ]
        print(known["s3"]["class"], known["gs"]["class"], known["az"]["class"], ours)
        for name in ("s3", "s3a", "gs", "gcs", "az", "abfs"):
            cls = registry.get(name)
            assert cls is None or not cls.__module__.startswith("objectstorex"), (name, cls)
            try:
                cls = fsspec.get_filesystem_class(name)
            except ImportError:
                continue  # s3fs/gcsfs/adlfs not installed: still theirs, not ours
            assert not cls.__module__.startswith("objectstorex"), (name, cls)
        """
    )
    assert out.split() == ["s3fs.S3FileSystem", "gcsfs.GCSFileSystem", "adlfs.AzureBlobFileSystem", "['objectstorex']"]


def test_register_opts_in(moto_endpoint: str) -> None:
    bucket = f"fs-{uuid.uuid4().hex[:16]}"
    asyncio.run(s3_emulator.create_bucket(moto_endpoint, bucket))
    out = _run(
        """
        import sys, fsspec
        from objectstorex.fsspec import ObjectStoreFileSystem, register
        endpoint, bucket = sys.argv[1:3]
        register(["s3", "gs"])
        cls = fsspec.get_filesystem_class("s3")
        assert issubclass(cls, ObjectStoreFileSystem), cls
        assert issubclass(fsspec.get_filesystem_class("gs"), ObjectStoreFileSystem)
        options = dict(region="us-east-1", endpoint=endpoint, access_key_id="testing-key-id",
                       secret_access_key="testing-secret-key")
        with fsspec.open(f"s3://{bucket}/hello.txt", "wb", **options) as f:
            f.write(b"through objectstorex")
        fs = fsspec.filesystem("s3", **options)
        assert type(fs) is cls
        print(fs.cat_file(f"s3://{bucket}/hello.txt").decode())
        import pickle
        clone = pickle.loads(pickle.dumps(fs))
        assert type(clone) is cls and clone.cat_file(f"{bucket}/hello.txt") == b"through objectstorex"
        fs.close()
        """,
        moto_endpoint,
        bucket,
    )
    assert out.strip() == "through objectstorex"


def test_register_refuses_unknown_protocols() -> None:
    with pytest.raises(osx.InvalidConfigError, match="ftp"):
        register(["s3", "ftp"])


def test_open_async(options: dict[str, Any], base: str) -> None:
    async def main() -> None:
        async with ObjectStoreFileSystem(asynchronous=True, skip_instance_cache=True, **options) as afs:
            async with await afs.open_async(f"{base}/a", "wb", block_size=1000) as f:
                for _ in range(5):
                    await f.write(b"y" * 700)
            async with await afs.open_async(f"{base}/a", "rb") as f:
                assert await f.read(10) == b"y" * 10
                assert len(await f.read()) == 3490
            with pytest.raises(FileExistsError):
                await afs.open_async(f"{base}/a", "xb")
            f = await afs.open_async(f"{base}/b", "xb")
            await f.write(b"new")
            await f.close()
            assert await afs._cat_file(f"{base}/b") == b"new"

            async def fail() -> None:
                async with await afs.open_async(f"{base}/c", "wb", block_size=100) as f:
                    await f.write(b"z" * 1000)  # ten blocks handed to the upload already
                    raise RuntimeError("boom")

            with pytest.raises(RuntimeError, match="boom"):
                await fail()
            assert not await afs._exists(f"{base}/c")
            with pytest.raises(NotImplementedError):
                afs.open(f"{base}/a", "rb")  # the sync file needs a sync filesystem

    asyncio.run(main())


async def test_sync_calls_inside_the_stores_own_loop_say_so(s3_store: osx.BaseStore) -> None:
    """An opened store used through the sync API from inside its own loop: a clear error, no deadlock."""
    await s3_store.put("k", b"v")
    fs = ObjectStoreFileSystem(store=s3_store)
    with pytest.raises(osx.ObjectStoreError, match="bound to another event loop"):
        await asyncio.to_thread(fs.cat_file, "k")
    afs = ObjectStoreFileSystem(store=s3_store, asynchronous=True)  # the way to use it here
    assert await afs._cat_file("k") == b"v"
