"""The patterns on every available backend: distributed lock, optimistic counter, HTTP cache.

Each test taking ``store`` runs against a real store, once per backend (memory, local and each
emulator: the ``store`` and ``quirks`` fixtures of tests/conftest.py). The proxies below wrap a
real store to count transfers or to replay/fail a write the way a network store's retry would --
they never fake the store's behaviour.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
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
    LockInfo,
    LockNotHeldError,
    OptimisticCounter,
)
from objectstorex.testing import Fault, FaultyStore


@pytest.fixture
def key(request: pytest.FixtureRequest) -> str:
    name = request.node.name.replace("[", "-").replace("]", "")
    return f"patterns/{name}"


class Proxy:
    """Delegates everything to a real store; subclasses intercept one call."""

    def __init__(self, inner: osx.Store) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class ReplayingStore(Proxy):
    """Each put lands, then is sent again and the repeat's answer returned -- what a network
    store's retry does when the response to a write that succeeded was lost."""

    async def put(self, path: str, data: bytes, **options: Any) -> osx.PutResult:
        await self.inner.put(path, data, **options)
        return await self.inner.put(path, data, **options)


class FailingOnceStore(Proxy):
    """The next put fails with a transient error before reaching the store."""

    async def put(self, path: str, data: bytes, **options: Any) -> osx.PutResult:
        if not getattr(self, "failed", False):
            self.failed = True
            raise osx.TransportError("connection reset (injected)", path=path, retryable=True)
        return await self.inner.put(path, data, **options)


class CountingStore(Proxy):
    """Counts the bodies get_object actually transferred (NotModifiedError transfers none),
    and records the conditions of each request."""

    def __init__(self, inner: osx.Store) -> None:
        super().__init__(inner)
        self.bodies = 0
        self.conditions: list[str] = []

    async def get_object(self, path: str, **options: Any) -> osx.GetResult:
        self.conditions.append(",".join(sorted(k for k, v in options.items() if v is not None)) or "none")
        res = await self.inner.get_object(path, **options)
        self.bodies += 1  # reached only when a body came back
        return res


class IgnoresConditionsStore(Proxy):
    """A server that silently ignores conditional GETs (as fake-gcs-server does)."""

    async def get_object(self, path: str, **options: Any) -> osx.GetResult:
        return await self.inner.get_object(path)


# ------------------------------------------------------------------------------------- lock


async def test_lock_mutual_exclusion_under_20_contenders(store: osx.Store, key: str) -> None:
    inside = 0
    max_inside = 0
    tokens: list[int] = []

    async def worker() -> None:
        nonlocal inside, max_inside
        lock = DistributedLock(store, key, ttl=60)
        await lock.acquire_with_retry(max_retries=1000, initial_delay=0.005, max_delay=0.1)
        inside += 1
        max_inside = max(max_inside, inside)
        assert lock.token is not None
        tokens.append(lock.token)
        await asyncio.sleep(0.003)
        inside -= 1
        assert await lock.release() is True

    await asyncio.gather(*(worker() for _ in range(20)))
    assert max_inside == 1
    # Each of the 20 got in exactly once, and the fencing tokens count the acquisitions in order.
    assert tokens == list(range(1, 21))


async def test_lock_info_and_locked_error(store: osx.Store, key: str) -> None:
    a = DistributedLock(store, key, ttl=30, metadata={"who": "a", "pid": 7})
    before = datetime.now(UTC)
    info = await a.acquire()
    assert isinstance(info, LockInfo)
    assert info.key == key
    assert info.holder == a.holder
    assert info.token == a.token == 1
    assert info.acquired_at.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= info.acquired_at <= datetime.now(UTC)
    assert info.ttl == 30
    assert info.metadata == {"who": "a", "pid": 7}
    assert a.held
    b = DistributedLock(store, key)
    with pytest.raises(LockedError) as err:
        await b.acquire()
    assert isinstance(err.value, osx.ObjectStoreError)
    assert err.value.info == info
    assert await b.release() is False  # never acquired
    with pytest.raises(LockedError):
        await a.acquire()  # not re-entrant
    assert await a.release() is True
    assert not a.held
    assert await a.release() is False  # already released
    assert (await b.acquire()).token == 2


async def test_lock_tokens_strictly_increase(store: osx.Store, key: str) -> None:
    tokens = []
    same = DistributedLock(store, key)
    for i in range(3):
        async with same:
            tokens.append(same.token)
        async with DistributedLock(store, key, metadata={"round": i}) as other:
            tokens.append(other.token)
    stale = DistributedLock(store, key, ttl=0.05)
    tokens.append((await stale.acquire()).token)
    await asyncio.sleep(0.1)
    tokens.append((await DistributedLock(store, key).acquire()).token)  # a takeover counts too
    assert tokens == [1, 2, 3, 4, 5, 6, 7, 8]


async def test_stale_takeover_and_release_after_takeover(store: osx.Store, key: str) -> None:
    old = DistributedLock(store, key, ttl=0.5)
    await old.acquire()
    fresh = DistributedLock(store, key, ttl=30)
    with pytest.raises(LockedError):
        await fresh.acquire()  # live: the holder's own ttl counts, not the contender's
    await asyncio.sleep(0.6)
    info = await fresh.acquire()
    assert info.token == 2
    assert old.held  # it cannot know yet...
    assert await old.release() is False  # ...but its release changes nothing
    with pytest.raises(LockedError) as err:
        await DistributedLock(store, key).acquire()
    assert err.value.info.holder == fresh.holder
    assert err.value.info.token == 2
    with pytest.raises(LockNotHeldError) as lost:
        await old.refresh()
    assert lost.value.info is not None
    assert lost.value.info.holder == fresh.holder
    assert await fresh.release() is True


async def test_a_short_contender_ttl_cannot_take_over_a_long_lease(store: osx.Store, key: str) -> None:
    holder = DistributedLock(store, key, ttl=30)
    await holder.acquire()
    impatient = DistributedLock(store, key, ttl=0.01)
    await asyncio.sleep(0.05)
    with pytest.raises(LockedError):
        await impatient.acquire()
    assert await holder.release() is True


async def test_refresh_extends_the_lease(store: osx.Store, key: str) -> None:
    lock = DistributedLock(store, key, ttl=1.0)
    first = await lock.acquire()
    await asyncio.sleep(0.6)
    refreshed = await lock.refresh()
    assert refreshed.token == first.token
    assert refreshed.acquired_at > first.acquired_at
    await asyncio.sleep(0.6)  # past the first lease, inside the refreshed one
    with pytest.raises(LockedError):
        await DistributedLock(store, key).acquire()
    assert await lock.release() is True
    with pytest.raises(LockNotHeldError):
        await lock.refresh()


async def test_acquire_with_retry_succeeds_after_release(store: osx.Store, key: str) -> None:
    holder = DistributedLock(store, key)
    await holder.acquire()

    async def release_soon() -> None:
        await asyncio.sleep(0.15)
        await holder.release()

    waiter = DistributedLock(store, key)
    releaser = asyncio.create_task(release_soon())
    info = await waiter.acquire_with_retry(max_retries=50, initial_delay=0.02, max_delay=0.1)
    await releaser
    assert info.holder == waiter.holder
    assert info.token == 2
    with pytest.raises(LockedError):
        await DistributedLock(store, key).acquire_with_retry(max_retries=2, initial_delay=0.01)


async def test_async_with_waits_for_the_holder(store: osx.Store, key: str) -> None:
    order: list[str] = []

    async def use(name: str) -> None:
        async with DistributedLock(store, key) as lock:
            order.append(f"{name} in {lock.token}")
            await asyncio.sleep(0.05)
            order.append(f"{name} out")

    await asyncio.gather(use("a"), use("b"))
    assert len(order) == 4
    assert order[0].split()[0] == order[1].split()[0]  # entered and left before the other entered
    assert {order[0], order[2]} == {"a in 1", "b in 2"} or {order[0], order[2]} == {"b in 1", "a in 2"}


async def test_lock_writes_that_landed_but_were_retried(store: osx.Store, key: str) -> None:
    replaying = ReplayingStore(store)
    lock = DistributedLock(replaying, key, ttl=30)  # type: ignore[arg-type]
    assert (await lock.acquire()).token == 1  # the repeated create failed: our write had landed
    with pytest.raises(LockedError):
        await DistributedLock(store, key).acquire()
    assert (await lock.refresh()).token == 1  # the repeated CAS failed likewise
    assert await lock.release() is True
    assert (await DistributedLock(store, key).acquire()).token == 2


async def test_lock_release_after_a_transient_failure_can_be_repeated(store: osx.Store, key: str) -> None:
    flaky = FailingOnceStore(store)
    lock = DistributedLock(flaky, key)  # type: ignore[arg-type]
    flaky.failed = True
    await lock.acquire()
    flaky.failed = False
    with pytest.raises(osx.TransportError):
        await lock.release()
    assert lock.held
    assert await lock.release() is True
    assert (await DistributedLock(store, key).acquire()).token == 2


async def test_lock_refuses_an_object_that_is_not_a_lock(store: osx.Store, key: str) -> None:
    await store.put(key, b"not a lock record")
    with pytest.raises(osx.ObjectStoreError, match="not a DistributedLock record") as err:
        await DistributedLock(store, key).acquire()
    assert not isinstance(err.value, LockedError)
    assert await store.get(key) == b"not a lock record"


async def test_lock_bad_arguments_fail_before_io() -> None:
    store = osx.MemoryStore()
    with pytest.raises(osx.InvalidPathError):
        DistributedLock(store, "/locks/x")
    for ttl in (0, -1, "30", float("nan"), True):
        with pytest.raises(osx.InvalidArgumentError):
            DistributedLock(store, "locks/x", ttl=ttl)  # type: ignore[arg-type]
    with pytest.raises(osx.InvalidArgumentError):
        DistributedLock(store, "locks/x", metadata={"obj": object()})
    lock = DistributedLock(store, "locks/x")
    with pytest.raises(osx.InvalidArgumentError):
        await lock.acquire_with_retry(max_retries=-1)
    with pytest.raises(osx.InvalidArgumentError):
        await lock.acquire_with_retry(initial_delay=-0.1)
    assert [m async for m in store.list()] == []


# ------------------------------------------------------------------------------------- counter


async def test_counter_10_tasks_x_10_increments(store: osx.Store, key: str) -> None:
    await OptimisticCounter(store, key).initialize(0)
    shared = OptimisticCounter(store, key)

    async def task(i: int) -> None:
        counter = shared if i % 2 else OptimisticCounter(store, key)
        for _ in range(10):
            await counter.increment()

    await asyncio.gather(*(task(i) for i in range(10)))
    assert await OptimisticCounter(store, key).value() == 100
    assert await store.get(key) == b"100"  # JSON at exactly `key`


async def test_counter_concurrent_creation_of_a_missing_counter(store: osx.Store, key: str) -> None:
    results = await asyncio.gather(*(OptimisticCounter(store, key).increment() for _ in range(10)))
    assert sorted(results) == list(range(1, 11))
    assert await OptimisticCounter(store, key).value() == 10


async def test_counter_initialize_decrement_update(store: osx.Store, key: str) -> None:
    counter = OptimisticCounter(store, key)
    with pytest.raises(osx.NotFoundError):
        await counter.value()
    assert await counter.increment(5) == 5  # a missing counter counts as 0
    with pytest.raises(osx.AlreadyExistsError):
        await counter.initialize(10)
    assert await counter.value() == 5
    assert await counter.initialize(10, overwrite=True) == 10
    assert await counter.decrement(3, min_value=0) == 7
    before = await store.head(key)
    with pytest.raises(BelowMinimumError) as err:
        await counter.decrement(8, min_value=0)
    assert (err.value.current, err.value.attempted, err.value.min_value) == (7, -1, 0)
    assert await counter.value() == 7
    assert (await store.head(key)).etag == before.etag  # nothing written
    assert await counter.decrement(7, min_value=0) == 0

    async def plus_ten(v: int) -> int:
        await asyncio.sleep(0)
        return v + 10

    assert await counter.update(plus_ten) == 10
    assert await counter.update(lambda v: v * 3) == 30
    assert await counter.decrement(50) == -20  # no floor without min_value
    assert await counter.value() == -20


async def test_counter_min_value_is_judged_on_the_current_value(store: osx.Store, key: str) -> None:
    mine = OptimisticCounter(store, key)
    await mine.initialize(0)  # `mine` now remembers 0
    await OptimisticCounter(store, key).increment(5)
    assert await mine.decrement(min_value=0) == 4  # not refused on the remembered 0


async def test_counter_gives_up_after_bounded_attempts(store: osx.Store, key: str) -> None:
    counter = OptimisticCounter(store, key, max_attempts=3, initial_backoff=0.001)
    await counter.initialize(0)
    meddles = 0

    async def meddle(v: int) -> int:
        nonlocal meddles
        meddles += 1  # someone else writes a new value in between (S3 ETags hash the content,
        await store.put(key, str(1000 + meddles).encode())  # so the value must differ)
        return v + 1

    with pytest.raises(ConflictRetriesExhaustedError) as err:
        await counter.update(meddle)
    assert isinstance(err.value, osx.PreconditionError)
    assert err.value.attempts == 3
    assert await counter.value() == 1000 + meddles  # only the meddler's writes landed


async def test_counter_bad_values(store: osx.Store, key: str) -> None:
    counter = OptimisticCounter(store, key)
    await counter.initialize(1)
    with pytest.raises(osx.InvalidArgumentError):
        await counter.update(lambda v: str(v))  # type: ignore[arg-type]
    with pytest.raises(osx.InvalidArgumentError):
        await counter.increment(1.5)  # type: ignore[arg-type]
    with pytest.raises(osx.InvalidArgumentError):
        await counter.initialize(True, overwrite=True)
    assert await counter.value() == 1
    await store.put(key, b'"one"')
    with pytest.raises(osx.ObjectStoreError, match="JSON integer"):
        await counter.increment()
    assert await store.get(key) == b'"one"'


def test_counter_bad_arguments_fail_before_io() -> None:
    store = osx.MemoryStore()
    with pytest.raises(osx.InvalidPathError):
        OptimisticCounter(store, "a//b")
    with pytest.raises(osx.InvalidArgumentError):
        OptimisticCounter(store, "c", max_attempts=0)
    with pytest.raises(osx.InvalidArgumentError):
        OptimisticCounter(store, "c", initial_backoff=-1)


COUNTER_WORKER = """
import asyncio, sys
import objectstorex as osx
from objectstorex.patterns import OptimisticCounter

async def main():
    async with osx.LocalStore(sys.argv[1]) as store:
        counter = OptimisticCounter(store, "counter")
        for _ in range(25):
            await counter.increment()

asyncio.run(main())
"""


async def test_counter_4_processes_x_25_increments_on_local(tmp_path: Path) -> None:
    root = tmp_path / "shared"
    async with osx.LocalStore(root) as store:
        await OptimisticCounter(store, "counter").initialize(0)

    def run() -> None:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", textwrap.dedent(COUNTER_WORKER), str(root)],
                stderr=subprocess.PIPE,
            )
            for _ in range(4)
        ]
        for p in procs:
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, err.decode()

    await asyncio.to_thread(run)
    async with osx.LocalStore(root) as store:
        assert await OptimisticCounter(store, "counter").value() == 100


LOCK_WORKER = """
import asyncio, os, sys
import objectstorex as osx
from objectstorex.patterns import DistributedLock

async def main():
    marker = os.path.join(sys.argv[2], "inside")
    async with osx.LocalStore(sys.argv[1]) as store:
        for _ in range(5):
            lock = DistributedLock(store, "lock", ttl=60)
            await lock.acquire_with_retry(max_retries=10_000, initial_delay=0.002, max_delay=0.05)
            fd = os.open(marker, os.O_CREAT | os.O_EXCL)  # fails if another process is inside
            print(lock.token, flush=True)
            await asyncio.sleep(0.005)
            os.close(fd)
            os.unlink(marker)
            assert await lock.release()

asyncio.run(main())
"""


async def test_lock_mutual_exclusion_across_4_processes_on_local(tmp_path: Path) -> None:
    root, scratch = tmp_path / "shared", tmp_path / "scratch"
    scratch.mkdir()

    def run() -> list[int]:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", textwrap.dedent(LOCK_WORKER), str(root), str(scratch)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for _ in range(4)
        ]
        tokens = []
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err.decode()
            tokens += [int(line) for line in out.split()]
        return tokens

    tokens = await asyncio.to_thread(run)
    assert sorted(tokens) == list(range(1, 21))  # 20 acquisitions, each token exactly once


# ------------------------------------------------------------------------------------- cache


@pytest.mark.parametrize("validate", ["etag", "modified_since"])
async def test_cache_hit_miss_change_sequence(
    store: osx.Store, key: str, quirks: frozenset[str], validate: str
) -> None:
    if "conditional_get" in quirks:
        pytest.xfail("the emulator ignores conditional GETs: every revalidation transfers the body")
    counting = CountingStore(store)
    cache = HTTPCache(counting, validate=validate)  # type: ignore[arg-type]
    assert cache.stats() == {"hits": 0, "misses": 0, "entries": 0, "hit_rate": 0.0}
    await store.put(key, b"v1")
    assert await cache.get(key) == (b"v1", "miss")
    assert counting.bodies == 1
    assert await cache.get(key) == (b"v1", "hit")
    assert counting.bodies == 1  # the hit transferred no body
    assert cache.stats() == {"hits": 1, "misses": 1, "entries": 1, "hit_rate": 50.0}
    await store.put(key, b"v2")  # within the same second in modified_since mode: still seen
    assert await cache.get(key) == (b"v2", "miss")
    assert counting.bodies == 2
    assert await cache.get(key) == (b"v2", "hit")
    assert counting.bodies == 2
    assert cache.stats() == {"hits": 2, "misses": 2, "entries": 1, "hit_rate": 50.0}
    cache.invalidate(key)
    assert cache.stats()["entries"] == 0
    assert await cache.get(key) == (b"v2", "miss")
    assert counting.bodies == 3
    cache.clear()
    assert cache.stats() == {"hits": 2, "misses": 3, "entries": 0, "hit_rate": 40.0}


async def test_cache_modified_since_revalidates_by_date_once_the_second_is_over(
    store: osx.Store, key: str, quirks: frozenset[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if "conditional_get" in quirks:
        pytest.xfail("the emulator ignores conditional GETs: every revalidation transfers the body")
    from objectstorex.patterns import http_cache

    monkeypatch.setattr(http_cache, "_SAME_SECOND_ALLOWANCE", timedelta(0))  # one clock here
    counting = CountingStore(store)
    cache = HTTPCache(counting, validate="modified_since")
    await store.put(key, b"v1")
    assert await cache.get(key) == (b"v1", "miss")
    assert await cache.get(key) == (b"v1", "hit")  # within v1's second: checked by ETag
    assert counting.conditions == ["none", "if_none_match"]
    modified = (await store.head(key)).last_modified.replace(microsecond=0)
    await asyncio.sleep(max(0.0, (modified + timedelta(seconds=1.05) - datetime.now(UTC)).total_seconds()))
    # The last check was inside v1's second: a change later in that second would be invisible
    # to If-Modified-Since, so one more ETag check confirms the copy past it...
    assert await cache.get(key) == (b"v1", "hit")
    assert counting.conditions[-1] == "if_none_match"
    assert await cache.get(key) == (b"v1", "hit")  # ...and from then on dates suffice
    assert counting.conditions[-1] == "if_modified_since"
    assert counting.bodies == 1
    await store.put(key, b"v2")
    assert await cache.get(key) == (b"v2", "miss")
    assert counting.conditions[-1] == "if_modified_since"
    assert counting.bodies == 2


async def test_cache_lru_eviction(store: osx.Store, key: str, quirks: frozenset[str]) -> None:
    counting = CountingStore(store)
    cache = HTTPCache(counting, max_entries=2)
    for name in ("a", "b", "c"):
        await store.put(f"{key}/{name}", name.encode())
    await cache.get(f"{key}/a")
    await cache.get(f"{key}/b")
    assert (await cache.get(f"{key}/a"))[1] == "hit"  # a is now the most recently used
    await cache.get(f"{key}/c")  # evicts b, the least recently used
    assert cache.stats()["entries"] == 2
    assert f"{key}/b" not in cache
    assert (await cache.get(f"{key}/a")) == (b"a", "hit")
    assert (await cache.get(f"{key}/b")) == (b"b", "miss")  # evicts c
    assert (await cache.get(f"{key}/a"))[1] == "hit"
    assert (await cache.get(f"{key}/c"))[1] == "miss"
    if "conditional_get" not in quirks:
        assert counting.bodies == 5  # a, b, c, b, c: the three hits transferred nothing


async def test_cache_drops_a_deleted_object(store: osx.Store, key: str) -> None:
    cache = HTTPCache(store)
    await store.put(key, b"x")
    await cache.get(key)
    await store.delete(key)
    with pytest.raises(osx.NotFoundError):
        await cache.get(key)
    assert cache.stats()["entries"] == 0
    with pytest.raises(osx.NotFoundError):
        await cache.get(f"{key}/never")


async def test_cache_on_a_server_that_ignores_conditions_still_reports_hits() -> None:
    async with osx.MemoryStore() as store:
        cache = HTTPCache(IgnoresConditionsStore(store))
        await store.put("k", b"v1")
        assert await cache.get("k") == (b"v1", "miss")
        assert await cache.get("k") == (b"v1", "hit")  # same ETag: the copy was current
        await store.put("k", b"v2")
        assert await cache.get("k") == (b"v2", "miss")


def test_cache_bad_arguments() -> None:
    store = osx.MemoryStore()
    with pytest.raises(osx.InvalidArgumentError):
        HTTPCache(store, validate="last_modified")  # type: ignore[arg-type]
    with pytest.raises(osx.InvalidArgumentError):
        HTTPCache(store, max_entries=0)


# ------------------------------------------------------------------------- through FaultyStore


def lost_answers(store: osx.Store, seed: int = 11) -> FaultyStore:
    """``store`` with the answers to 20 % of its puts lost after the write landed."""
    return FaultyStore(store, Fault(ops=("put",), rate=0.2, lost_write=True), seed=seed)


def lost(faulty: FaultyStore) -> int:
    return sum(i.kind == "lost_write" for i in faulty.injected)


async def test_counter_recognises_its_own_write_after_a_lost_answer(store: osx.Store, key: str) -> None:
    faulty = lost_answers(store)
    await OptimisticCounter(store, key).initialize(0)

    async def task() -> list[int]:
        counter = OptimisticCounter(faulty, key)
        return [await counter.increment() for _ in range(20)]

    results = await asyncio.gather(*(task() for _ in range(5)))
    assert sorted(v for r in results for v in r) == list(range(1, 101))  # each value returned once
    assert await OptimisticCounter(store, key).value() == 100
    assert await store.get(key) == b"100"
    assert lost(faulty) >= 5  # the faults did fire


async def test_counter_creation_and_initialize_after_lost_answers(store: osx.Store, key: str) -> None:
    always = FaultyStore(store, Fault(ops=("put",), lost_write=True))
    assert await OptimisticCounter(always, key).increment() == 1  # a create whose answer was lost
    assert await OptimisticCounter(always, key).initialize(5, overwrite=True) == 5
    assert await OptimisticCounter(always, f"{key}-new").initialize(7) == 7
    assert await OptimisticCounter(always, key).decrement(2) == 3
    assert await OptimisticCounter(store, key).value() == 3
    assert await OptimisticCounter(store, f"{key}-new").value() == 7


async def test_counter_recognises_a_write_its_retry_found(store: osx.Store, key: str) -> None:
    replaying = ReplayingStore(store)  # every put lands, then its repeat answers with a conflict
    counter = OptimisticCounter(replaying, key)  # type: ignore[arg-type]
    assert [await counter.increment() for _ in range(3)] == [1, 2, 3]
    assert await OptimisticCounter(store, key).value() == 3


async def test_counter_raises_a_transient_error_whose_write_did_not_land(store: osx.Store, key: str) -> None:
    await OptimisticCounter(store, key).initialize(1)
    failing = FaultyStore(store, Fault(ops=("put",)))  # fails before the write reaches the store
    with pytest.raises(osx.TransportError):
        await OptimisticCounter(failing, key).increment()
    assert await OptimisticCounter(store, key).value() == 1  # nothing counted: safe to repeat


async def test_lock_never_has_two_holders_when_answers_are_lost(store: osx.Store, key: str) -> None:
    faulty = lost_answers(store, seed=5)
    inside = 0
    max_inside = 0
    tokens: list[int] = []

    async def worker() -> None:
        nonlocal inside, max_inside
        lock = DistributedLock(faulty, key, ttl=60)  # a lost acquisition not recognised would stall 60 s
        await lock.acquire_with_retry(max_retries=1000, initial_delay=0.005, max_delay=0.1)
        inside += 1
        max_inside = max(max_inside, inside)
        assert lock.token is not None
        tokens.append(lock.token)
        await asyncio.sleep(0.003)
        inside -= 1
        assert await lock.release() is True

    await asyncio.gather(*(worker() for _ in range(20)))
    assert max_inside == 1
    assert tokens == list(range(1, 21))
    assert lost(faulty) >= 3


async def test_lock_acquire_refresh_release_whose_answers_were_lost(store: osx.Store, key: str) -> None:
    always = FaultyStore(store, Fault(ops=("put",), lost_write=True))
    lock = DistributedLock(always, key)
    assert (await lock.acquire()).token == 1
    assert (await lock.refresh()).token == 1
    assert await lock.release() is True
    assert not lock.held
    assert [i.kind for i in always.injected] == ["lost_write"] * 3
    assert (await DistributedLock(store, key).acquire()).token == 2


async def test_cache_stays_correct_when_answers_are_lost(store: osx.Store, key: str, quirks: frozenset[str]) -> None:
    writer = lost_answers(store, seed=3)
    reader = FaultyStore(store, Fault(ops=("get_object",), rate=0.2), seed=4)  # reads fail too
    cache = HTTPCache(reader)
    served = 0

    async def read() -> tuple[bytes, str]:
        nonlocal served
        while True:
            try:
                got = await cache.get(key)
            except osx.TransportError:
                continue
            served += 1
            return got

    for i in range(15):
        body = f"v{i}".encode()
        try:
            await writer.put(key, body)
        except osx.TransportError:
            pass  # the write landed: only its answer was lost
        assert await read() == (body, "miss")
        data, status = await read()
        assert data == body
        assert status == "hit"
    stats = cache.stats()
    assert (stats["hits"], stats["misses"]) == (15, 15)
    assert served == 30
    assert lost(writer) >= 1
    assert any(i.kind == "error" for i in reader.injected)
