"""The patterns on every available backend: lock, counter, HTTP cache."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import objectstorex as osx
from objectstorex.patterns import (
    BelowMinimumError,
    ConflictRetriesExhaustedError,
    DistributedLock,
    HTTPCache,
    LockedError,
    OptimisticCounter,
)
from tests.test_conformance import BACKENDS


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(backend: str, request: pytest.FixtureRequest) -> osx.Store:
    return request.getfixturevalue(f"{backend}_store")  # type: ignore[no-any-return]


@pytest.fixture
def quirks(backend: str, request: pytest.FixtureRequest) -> frozenset[str]:
    return request.getfixturevalue(f"{backend}_quirks")  # type: ignore[no-any-return]


@pytest.fixture
def key(request: pytest.FixtureRequest) -> str:
    return f"patterns/{request.node.name.replace('[', '-').replace(']', '')}"


# ------------------------------------------------------------------------------------- lock


async def test_lock_mutual_exclusion_under_contention(store: osx.Store, key: str) -> None:
    inside = 0
    max_inside = 0
    entries = 0

    async def worker() -> None:
        nonlocal inside, max_inside, entries
        lock = DistributedLock(store, key, ttl=30)
        for _ in range(200):
            try:
                await lock.acquire()
            except LockedError:
                await asyncio.sleep(0.001)
                continue
            inside += 1
            max_inside = max(max_inside, inside)
            entries += 1
            await asyncio.sleep(0.002)
            inside -= 1
            assert await lock.release() is True
            return

    await asyncio.gather(*(worker() for _ in range(20)))
    assert max_inside == 1
    assert entries >= 1


async def test_lock_info_and_locked_error(store: osx.Store, key: str) -> None:
    a = DistributedLock(store, key, ttl=30, metadata={"who": "a"})
    info = await a.acquire()
    assert info.key == key
    assert info.holder == a.holder
    assert info.token == a.token == 1
    assert info.acquired_at.tzinfo is not None
    assert abs((datetime.now(UTC) - info.acquired_at).total_seconds()) < 60
    assert info.ttl == 30
    assert info.metadata == {"who": "a"}
    b = DistributedLock(store, key)
    with pytest.raises(LockedError) as err:
        await b.acquire()
    assert isinstance(err.value, osx.ObjectStoreError)
    assert err.value.info.holder == a.holder
    assert err.value.info.metadata == {"who": "a"}
    assert await b.release() is False
    assert await a.release() is True
    assert await a.release() is False


async def test_lock_tokens_strictly_increase(store: osx.Store, key: str) -> None:
    tokens = []
    for _ in range(4):
        lock = DistributedLock(store, key)
        async with lock:
            tokens.append(lock.token)
    assert tokens == [1, 2, 3, 4]


async def test_stale_takeover_and_release_after_takeover(store: osx.Store, key: str) -> None:
    old = DistributedLock(store, key, ttl=0.2)
    await old.acquire()
    fresh = DistributedLock(store, key, ttl=30)
    with pytest.raises(LockedError):
        await fresh.acquire()
    await asyncio.sleep(0.3)
    info = await fresh.acquire()
    assert info.token == 2
    assert await old.release() is False  # taken over: the old holder changes nothing
    with pytest.raises(LockedError) as err:
        await DistributedLock(store, key).acquire()
    assert err.value.info.holder == fresh.holder
    with pytest.raises(LockedError):
        await old.refresh()
    assert await fresh.release() is True


async def test_refresh_extends_the_lease(store: osx.Store, key: str) -> None:
    lock = DistributedLock(store, key, ttl=0.5)
    first = await lock.acquire()
    await asyncio.sleep(0.3)
    refreshed = await lock.refresh()
    assert refreshed.token == first.token
    assert refreshed.acquired_at > first.acquired_at
    await asyncio.sleep(0.3)  # past the first lease, inside the refreshed one
    with pytest.raises(LockedError):
        await DistributedLock(store, key).acquire()
    assert await lock.release() is True


async def test_acquire_with_retry_succeeds_after_release(store: osx.Store, key: str) -> None:
    holder = DistributedLock(store, key)
    await holder.acquire()

    async def release_soon() -> None:
        await asyncio.sleep(0.1)
        await holder.release()

    waiter = DistributedLock(store, key)
    releaser = asyncio.create_task(release_soon())
    info = await waiter.acquire_with_retry(max_retries=12, initial_delay=0.05)
    await releaser
    assert info.holder == waiter.holder
    with pytest.raises(LockedError):
        await DistributedLock(store, key).acquire_with_retry(max_retries=2, initial_delay=0.01)


# ------------------------------------------------------------------------------------- counter


async def test_counter_concurrent_increments(store: osx.Store, key: str) -> None:
    counter = OptimisticCounter(store, key)
    await counter.initialize(0)

    async def task() -> None:
        for _ in range(10):
            await counter.increment()

    await asyncio.gather(*(task() for _ in range(10)))
    assert await counter.value() == 100
    assert await store.get(key) == b"100"  # JSON at exactly `key`


async def test_counter_initialize_decrement_update(store: osx.Store, key: str) -> None:
    counter = OptimisticCounter(store, key)
    with pytest.raises(osx.NotFoundError):
        await counter.value()
    assert await counter.increment(5) == 5  # a missing counter counts as 0
    with pytest.raises(osx.AlreadyExistsError):
        await counter.initialize(10)
    assert await counter.initialize(10, overwrite=True) == 10
    assert await counter.decrement(3, min_value=0) == 7
    with pytest.raises(BelowMinimumError):
        await counter.decrement(8, min_value=0)
    assert await counter.value() == 7  # nothing written

    async def double(v: int) -> int:
        return v * 2

    assert await counter.update(double) == 14
    assert await counter.update(lambda v: v - 4) == 10
    assert await counter.value() == 10


async def test_counter_gives_up_after_bounded_attempts(store: osx.Store, key: str) -> None:
    counter = OptimisticCounter(store, key, max_attempts=3, initial_backoff=0.001)
    await counter.initialize(0)

    meddles = 0

    async def meddle(v: int) -> int:
        nonlocal meddles
        meddles += 1  # someone else always writes a new value in between (S3 ETags are content
        await store.put(key, str(1000 + meddles).encode())  # hashes: equal content, equal ETag)
        return v + 1

    with pytest.raises(ConflictRetriesExhaustedError):
        await counter.update(meddle)


COUNTER_WORKER = """
import asyncio, sys
import objectstorex as osx
from objectstorex.patterns import OptimisticCounter

async def main():
    counter = OptimisticCounter(osx.LocalStore(sys.argv[1]), "counter")
    for _ in range(25):
        await counter.increment()

asyncio.run(main())
"""


async def test_counter_across_processes_on_local(tmp_path: Path) -> None:
    root = tmp_path / "shared"
    await OptimisticCounter(osx.LocalStore(root), "counter").initialize(0)

    def run() -> None:
        procs = [
            subprocess.Popen([sys.executable, "-c", textwrap.dedent(COUNTER_WORKER), str(root)], stderr=subprocess.PIPE)
            for _ in range(4)
        ]
        for p in procs:
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, err

    await asyncio.to_thread(run)
    assert await OptimisticCounter(osx.LocalStore(root), "counter").value() == 100


# ------------------------------------------------------------------------------------- cache


class CountingStore:
    """A real store underneath, counting the bodies that get_object actually transferred."""

    def __init__(self, inner: osx.Store) -> None:
        self.inner = inner
        self.bodies = 0

    async def get_object(self, path: str, **options: Any) -> osx.GetResult:
        res = await self.inner.get_object(path, **options)
        self.bodies += 1  # reached only when a body came back (NotModifiedError raises above)
        return res

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.mark.parametrize("validate", ["etag", "modified_since"])
async def test_cache_hit_miss_change_sequence(
    store: osx.Store, key: str, quirks: frozenset[str], validate: str
) -> None:
    if "conditional_get" in quirks:
        pytest.xfail("the emulator ignores conditional GETs, so a hit cannot be told from a miss")
    counting = CountingStore(store)
    cache = HTTPCache(counting, validate=validate)  # type: ignore[arg-type]
    assert cache.stats() == {"hits": 0, "misses": 0, "entries": 0, "hit_rate": 0.0}
    await store.put(key, b"v1")
    assert await cache.get(key) == (b"v1", "miss")
    assert counting.bodies == 1
    assert await cache.get(key) == (b"v1", "hit")
    assert counting.bodies == 1  # the hit transferred no body
    assert cache.stats() == {"hits": 1, "misses": 1, "entries": 1, "hit_rate": 50.0}
    if validate == "modified_since":
        await asyncio.sleep(1.1)  # HTTP dates have one-second granularity
    await store.put(key, b"v2")
    assert await cache.get(key) == (b"v2", "miss")
    assert counting.bodies == 2
    assert await cache.get(key) == (b"v2", "hit")
    assert counting.bodies == 2
    cache.invalidate(key)
    assert await cache.get(key) == (b"v2", "miss")
    cache.clear()
    assert cache.stats()["entries"] == 0


async def test_cache_lru_eviction_and_missing(store: osx.Store, key: str) -> None:
    cache = HTTPCache(store, max_entries=2)
    for name in ("a", "b", "c"):
        await store.put(f"{key}/{name}", name.encode())
    await cache.get(f"{key}/a")
    await cache.get(f"{key}/b")
    await cache.get(f"{key}/a")  # a is now the most recently used
    await cache.get(f"{key}/c")  # evicts b
    assert cache.stats()["entries"] == 2
    assert (await cache.get(f"{key}/a"))[1] == "hit"
    assert (await cache.get(f"{key}/b"))[1] == "miss"
    await store.delete(f"{key}/a")
    with pytest.raises(osx.NotFoundError):
        await cache.get(f"{key}/a")
