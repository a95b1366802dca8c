"""FaultyStore: the faults a user configures are the faults their code sees, reproducibly.

Everything runs on real stores (memory and local; the whole conformance suite runs through a
FaultyStore whose faults never fire, to show it changes nothing else). The patterns are tested
through FaultyStore in tests/test_patterns.py.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import objectstorex as osx
from objectstorex.testing import READ_OPS, WRITE_OPS, ConformanceSuite, Fault, FaultyStore, Injection


@pytest.fixture(params=["memory", "local"])
async def inner(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[osx.Store]:
    store: osx.Store = osx.MemoryStore() if request.param == "memory" else osx.LocalStore(tmp_path / "root")
    async with store:
        yield store


async def outcomes(faulty: FaultyStore, calls: int) -> list[str]:
    """The outcome of ``calls`` puts, one per path: "ok" or the error class name."""
    seen = []
    for i in range(calls):
        try:
            await faulty.put(f"k/{i}", b"x")
            seen.append("ok")
        except osx.ObjectStoreError as e:
            seen.append(type(e).__name__)
    return seen


# ------------------------------------------------------------------------------ rates and seeds


async def test_the_same_seed_injects_the_same_faults(inner: osx.Store) -> None:
    faults = [Fault(ops=("put",), rate=0.3), Fault(ops=("put",), error=osx.PermissionDeniedError, rate=0.3)]
    first = await outcomes(FaultyStore(inner, faults, seed=42), 200)
    again = await outcomes(FaultyStore(inner, faults, seed=42), 200)
    other = await outcomes(FaultyStore(inner, faults, seed=43), 200)
    assert first == again
    assert first != other
    # The first fault wins when both fire: ~30 % TransportError, ~70 % * 30 % PermissionDenied.
    assert 35 <= first.count("TransportError") <= 85
    assert 20 <= first.count("PermissionDeniedError") <= 65


async def test_rate_zero_and_one(inner: osx.Store) -> None:
    assert set(await outcomes(FaultyStore(inner, Fault(rate=0.0)), 20)) == {"ok"}
    assert set(await outcomes(FaultyStore(inner, Fault(rate=1.0)), 20)) == {"TransportError"}


# ------------------------------------------------------------------------------ kinds of fault


async def test_an_error_fault_writes_nothing(inner: osx.Store) -> None:
    faulty = FaultyStore(inner, Fault(ops=("put", "put_stream", "delete", "copy")))
    with pytest.raises(osx.TransportError) as err:
        await faulty.put("a/b", b"data")
    assert err.value.retryable is True
    assert err.value.path == "a/b"
    assert err.value.provider == inner.provider  # type: ignore[attr-defined]
    assert "put('a/b')" in str(err.value)
    consumed = []

    def chunks() -> Iterator[bytes]:
        for c in (b"1", b"2"):
            consumed.append(c)
            yield c

    with pytest.raises(osx.TransportError):
        await faulty.put_stream("a/s", chunks())
    assert consumed == []  # the call never reached the store
    await inner.put("a/c", b"keep")
    with pytest.raises(osx.TransportError):
        await faulty.delete("a/c")
    with pytest.raises(osx.TransportError):
        await faulty.copy("a/c", "a/d")
    assert [m.location async for m in inner.list("a")] == ["a/c"]
    assert [i.kind for i in faulty.injected] == ["error"] * 4


async def test_a_lost_write_lands_and_its_answer_is_an_error(inner: osx.Store) -> None:
    faulty = FaultyStore(inner, Fault(ops=WRITE_OPS, lost_write=True))
    with pytest.raises(osx.TransportError, match="applied"):
        await faulty.put("w/a", b"one")
    assert await inner.get("w/a") == b"one"
    with pytest.raises(osx.TransportError):
        await faulty.put_stream("w/s", [b"x" * 10, b"y"])
    assert await inner.get("w/s") == b"x" * 10 + b"y"
    with pytest.raises(osx.TransportError):
        await faulty.copy("w/a", "w/b")
    with pytest.raises(osx.TransportError):
        await faulty.rename_if_not_exists("w/b", "w/c")
    with pytest.raises(osx.TransportError):
        await faulty.delete("w/s")
    assert [m.location async for m in inner.list("w")] == ["w/a", "w/c"]
    with pytest.raises(osx.TransportError):
        await faulty.delete_many(["w/a", "w/c"])
    assert [m async for m in inner.list("w")] == []
    assert {i.kind for i in faulty.injected} == {"lost_write"}
    assert len(faulty.injected) == 6


async def test_a_refused_write_keeps_its_own_error(inner: osx.Store) -> None:
    """A lost_write fault loses only answers to writes that landed."""
    faulty = FaultyStore(inner, Fault(lost_write=True))
    await inner.put("r/a", b"first")
    with pytest.raises(osx.AlreadyExistsError):
        await faulty.put("r/a", b"second", mode="create")
    assert await inner.get("r/a") == b"first"
    assert faulty.injected == []


async def test_other_errors_classes_and_instances(inner: osx.Store) -> None:
    await inner.put("e/a", b"data")
    faulty = FaultyStore(
        inner,
        [
            Fault(ops=("get",), error=osx.NotFoundError),
            Fault(ops=("head",), error=osx.PermissionDeniedError("no access (test)", status=403)),
            Fault(
                ops=("get_object",),
                error=osx.IntegrityError("corrupted (test)", algorithm="crc32c", expected="A", actual="B"),
            ),
        ],
    )
    with pytest.raises(osx.NotFoundError) as missing:
        await faulty.get("e/a")
    assert isinstance(missing.value, FileNotFoundError)
    assert missing.value.retryable is False
    first = second = None
    for _ in range(2):
        with pytest.raises(osx.PermissionDeniedError) as denied:
            await faulty.head("e/a")
        first, second = second, denied.value
    assert first is not second  # a fresh copy per raise
    assert second is not None
    assert (second.message, second.status, second.path) == ("no access (test)", 403, "e/a")
    with pytest.raises(osx.IntegrityError) as bad:
        await faulty.get_object("e/a")
    assert (bad.value.algorithm, bad.value.expected, bad.value.actual) == ("crc32c", "A", "B")


async def test_a_latency_only_fault_delays_and_never_fails(inner: osx.Store) -> None:
    faulty = FaultyStore(inner, Fault(ops=("put", "get"), error=None, latency=0.05))
    start = time.monotonic()
    await faulty.put("l/a", b"v")
    assert await faulty.get("l/a") == b"v"
    assert time.monotonic() - start >= 0.1
    assert [(i.op, i.kind) for i in faulty.injected] == [("put", "latency"), ("get", "latency")]
    start = time.monotonic()
    await faulty.head("l/a")  # not one of its ops
    assert time.monotonic() - start < 0.05


async def test_latencies_add_up_and_the_first_error_wins(inner: osx.Store) -> None:
    faulty = FaultyStore(
        inner,
        [
            Fault(error=None, latency=0.03),
            Fault(error=osx.UnauthenticatedError, latency=0.03),
            Fault(error=osx.TransportError),
        ],
    )
    start = time.monotonic()
    with pytest.raises(osx.UnauthenticatedError):
        await faulty.put("x", b"")
    assert time.monotonic() - start >= 0.06
    assert [i.kind for i in faulty.injected] == ["latency", "latency", "error"]


# ------------------------------------------------------------------------------ matching


async def test_ops_and_paths_select_the_calls(inner: osx.Store) -> None:
    faulty = FaultyStore(inner, Fault(ops=("put", "copy", "delete_many", "list"), paths="locks/*"))
    with pytest.raises(osx.TransportError):
        await faulty.put("locks/a", b"1")
    with pytest.raises(osx.TransportError):
        await faulty.put("locks/deep/b", b"1")  # fnmatch: * also crosses "/"
    await faulty.put("data/locks/a", b"1")  # the glob is anchored at the start
    await inner.put("locks/a", b"1")
    assert await faulty.get("locks/a") == b"1"  # get is not one of the ops
    await faulty.copy("locks/a", "data/b")  # copies match their destination
    with pytest.raises(osx.TransportError):
        await faulty.copy("data/b", "locks/c")
    with pytest.raises(osx.TransportError):
        await faulty.delete_many(["data/x", "locks/a"])  # any path of the batch
    await faulty.delete_many(["data/x", "data/y"])
    assert [m.location async for m in faulty.list("data")] == ["data/b", "data/locks/a"]
    with pytest.raises(osx.TransportError):
        [m async for m in faulty.list("locks/sub")]  # list matches its prefix
    assert [m.location async for m in faulty.list("locks")] == ["locks/a"]  # "locks" itself: no match


async def test_streams_and_listings_fail_when_opened(inner: osx.Store) -> None:
    await inner.put("s/a", b"abc")
    faulty = FaultyStore(inner, Fault(ops=("get_stream", "list_with_delimiter", "list"), paths="*"))
    stream = faulty.get_stream("s/a")  # a plain call, like the store's: nothing sent yet
    with pytest.raises(osx.TransportError):
        async with stream:
            pass
    with pytest.raises(osx.TransportError):
        await faulty.list_with_delimiter()
    with pytest.raises(osx.TransportError):
        [m async for m in faulty.list()]
    passing = FaultyStore(inner, Fault(ops=("get_stream",), error=None, latency=0.01))
    async with passing.get_stream("s/a", chunk_size=1) as s:
        assert s.meta.size == 3
        assert await s.read_all() == b"abc"


async def test_invalid_paths_get_the_stores_own_error_first(inner: osx.Store) -> None:
    faulty = FaultyStore(inner, Fault(ops=("put", "get_stream", "list"), paths="*"))
    with pytest.raises(osx.InvalidPathError):
        await faulty.put("/abs", b"x")
    with pytest.raises(osx.InvalidPathError):
        faulty.get_stream("a//b")
    with pytest.raises(osx.InvalidPathError):
        faulty.list("a/")
    assert faulty.injected == []


# ------------------------------------------------------------------------------ a Store like the others


async def test_it_is_a_store_that_delegates_and_closes_its_inner_store(tmp_path: Path) -> None:
    inner = osx.LocalStore(tmp_path / "root")
    async with FaultyStore(inner, []) as faulty:
        assert isinstance(faulty, osx.Store)
        assert faulty.capabilities == inner.capabilities
        assert faulty.provider == "local"
        await faulty.put("a", b"1", metadata={"k": "v"})
        res = await faulty.get_object("a")
        assert res.attributes.metadata == {"k": "v"}
        assert await faulty.get_ranges("a", [(0, 1)]) == [b"1"]
        with pytest.raises(osx.NotSupportedError):
            await faulty.sign("GET", "a", 60)
    with pytest.raises(osx.ObjectStoreError, match="closed"):
        await inner.get("a")
    with pytest.raises(osx.ObjectStoreError, match="closed"):
        await faulty.get("a")
    await faulty.close()  # idempotent


class TestConformanceThroughFaultyStore(ConformanceSuite):
    """The whole contract through a FaultyStore whose faults all match and never fail the call."""

    @pytest.fixture
    async def store(self) -> AsyncIterator[osx.Store]:
        faults = [
            Fault(ops=READ_OPS | WRITE_OPS, error=None, latency=0.0001),  # every call: the fault path
            Fault(ops=READ_OPS | WRITE_OPS, rate=0.0),  # matches, never fires
        ]
        async with FaultyStore(osx.MemoryStore(), faults, seed=1) as store:
            yield store


# ------------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"ops": ()}, "ops is empty"),
        ({"ops": ("put", "upload")}, r"unknown operation\(s\) \['upload'\]"),
        ({"ops": [1]}, "ops must be Store method names"),
        ({"paths": ""}, "paths must be a non-empty glob"),
        ({"rate": 1.5}, "rate must be a probability"),
        ({"rate": -0.1}, "rate must be a probability"),
        ({"rate": "0.5"}, "rate must be a probability"),
        ({"latency": -1}, "latency must be"),
        ({"latency": float("inf")}, "latency must be"),
        ({"error": ValueError}, "error must be an ObjectStoreError"),
        ({"error": ValueError("x")}, "error must be an ObjectStoreError"),
        ({"error": osx.IntegrityError}, "pass an instance"),
        ({"error": None}, "injects nothing"),
        ({"error": None, "latency": 1, "lost_write": True}, "lost_write=True needs an error"),
        ({"ops": ("get", "put"), "lost_write": True}, r"writes only; \['get'\]"),
        ({"lost_write": 1}, "lost_write must be a bool"),
    ],
)
def test_fault_arguments_are_checked(kwargs: dict[str, object], problem: str) -> None:
    with pytest.raises(osx.InvalidConfigError, match=problem):
        Fault(**kwargs)  # type: ignore[arg-type]


def test_fault_accepts_one_op_as_a_str() -> None:
    assert Fault(ops="head").ops == ("head",)
    assert Fault(ops=["put", "get"]).ops == ("put", "get")


def test_faulty_store_arguments_are_checked() -> None:
    store = osx.MemoryStore()
    with pytest.raises(osx.InvalidConfigError, match="inner must be an objectstorex Store"):
        FaultyStore(object(), [])  # type: ignore[arg-type]
    with pytest.raises(osx.InvalidConfigError, match="faults must hold Fault objects"):
        FaultyStore(store, [{"ops": ("put",)}])  # type: ignore[list-item]
    with pytest.raises(osx.InvalidConfigError, match="faults must be a Fault or a sequence"):
        FaultyStore(store, 3)  # type: ignore[arg-type]
    with pytest.raises(osx.InvalidConfigError, match="seed must be an int or None"):
        FaultyStore(store, [], seed=1.5)  # type: ignore[arg-type]
    assert isinstance(FaultyStore(store, Fault(), seed=None).faults[0], Fault)
    assert Injection("put", "a", "error", Fault()).kind == "error"
