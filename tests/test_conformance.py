"""The shipped conformance suite, run on every backend (memory, local, and the emulators).

Each backend's plugin in ``tests/emulators/`` provides ``<name>_store`` (an opened store per
test) and ``<name>_quirks`` (features its emulator was probed to ignore). Select one backend
with ``-k memory``, ``-k s3``...
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

import objectstorex as osx
from objectstorex import Store
from objectstorex import testing as ost
from objectstorex._ranges import ByteRange
from objectstorex._store import GetOptions, PutOptions
from objectstorex.preconditions import GetConditions
from objectstorex.testing import ConformanceSuite

BACKENDS = ["memory", "local", "s3", "azure", "gcs"]


@pytest.fixture(params=BACKENDS, ids=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class TestConformance(ConformanceSuite):
    @pytest.fixture
    def store(self, backend: str, request: pytest.FixtureRequest) -> Store:
        store: Store = request.getfixturevalue(f"{backend}_store")
        return store

    @pytest.fixture
    def store_quirks(self, backend: str, request: pytest.FixtureRequest) -> frozenset[str]:
        return frozenset(request.getfixturevalue(f"{backend}_quirks"))


# ------------------------------------------------------------------------------------------
# The suite itself: quirks stop a check before it asserts, and broken stores are caught.


#: The checks each quirk must turn into an expected failure on a store that honours everything.
QUIRK_CHECKS = {
    "conditional_get": [ost.check_get_if_match, ost.check_get_if_none_match, ost.check_get_modified_since],
    "copy_if_not_exists": [ost.check_copy_if_not_exists, ost.check_copy_if_not_exists_is_atomic],
    "conditional_copy": [ost.check_copy_if_not_exists],
    "delete_if_match": [ost.check_conditional_delete],
    "update_multipart": [ost.check_put_stream_modes, ost.check_put_stream_large_modes],
    "create_stream": [ost.check_put_stream_modes, ost.check_put_stream_large_modes],
}


def test_every_check_is_exported_and_run() -> None:
    names = [c.__name__ for c in ost.ALL_CHECKS]
    assert len(names) == len(set(names))
    assert sorted(n for n in ost.__all__ if n.startswith("check_")) == sorted(names)
    assert all(getattr(ost, n) is c for n, c in zip(names, ost.ALL_CHECKS, strict=True))
    assert all(callable(getattr(ConformanceSuite, "test_" + n.removeprefix("check_"))) for n in names)
    assert all(c.__doc__ for c in ost.ALL_CHECKS)  # the docstring is the test's description


def test_every_quirk_is_used() -> None:
    assert set(QUIRK_CHECKS) == set(ost.QUIRKS)


@pytest.mark.parametrize(("quirk", "check"), [(q, c) for q, cs in QUIRK_CHECKS.items() for c in cs])
async def test_quirk_xfails_the_check(quirk: str, check: ost.Check) -> None:
    async with osx.MemoryStore() as store:
        with pytest.raises(pytest.xfail.Exception, match=quirk):
            await check(ost.ConformanceContext(store, frozenset({quirk})))


def test_unknown_quirk_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown quirk"):
        ost.ConformanceContext(osx.MemoryStore(), frozenset({"conditional_gets"}))


class _IgnoresCreate(osx.MemoryStore):
    async def _put(self, path: str, data: bytes, opts: PutOptions) -> osx.PutResult:
        if opts.mode == "create":
            opts = PutOptions("overwrite", opts.attributes, opts.tags)
        return await super()._put(path, data, opts)


class _ListsPrefixObject(osx.MemoryStore):
    def _list(self, prefix: str, offset: str | None) -> AsyncIterator[osx.ObjectMeta]:
        return self._list_loose(prefix, offset)

    async def _list_loose(self, prefix: str, offset: str | None) -> AsyncIterator[osx.ObjectMeta]:
        # The classic bug: a raw string prefix match ("a/b" also matches "a/bc" and "a/b").
        parent, _, _ = prefix.rpartition("/")
        async for meta in super()._list(parent, offset):
            if meta.location.startswith(prefix):
                yield meta


class _UnclampedRanges(osx.MemoryStore):
    async def _get(self, path: str, opts: GetOptions) -> osx.GetResult:
        res = await super()._get(path, opts)
        if opts.range is not None and opts.range.end is not None and opts.range.end > res.meta.size:
            raise osx.InvalidRangeError("end past the object", path=path, provider="memory")
        return res


class _VisibleWhileStreaming(osx.MemoryStore):
    async def _put_stream(self, path: str, chunks: AsyncIterator[bytes], opts: PutOptions, *_: Any) -> osx.PutResult:
        data = b""
        async for chunk in chunks:
            data += chunk
            await super()._put(path, data, opts)
        return await super()._put(path, data, opts)


class _UnpinnedStream(osx.MemoryStore):
    async def _open_stream(
        self, path: str, opts: GetOptions, chunk_size: int
    ) -> tuple[osx.ObjectMeta, AsyncIterator[bytes]]:
        meta = await self._head(path, None)

        async def chunks() -> AsyncIterator[bytes]:
            # One ranged read per chunk of whatever is current: the bug of an unpinned reader.
            for start in range(0, meta.size, chunk_size):
                yield (await self._get(path, GetOptions(GetConditions(), ByteRange(start, start + chunk_size)))).data

        return meta, chunks()


class _LosesCas(osx.MemoryStore):
    async def _put(self, path: str, data: bytes, opts: PutOptions) -> osx.PutResult:
        if isinstance(opts.mode, osx.UpdateVersion):
            current = self._objects.get(path)
            await asyncio.sleep(0)  # check-then-write with an await in between: not atomic
            if current is None or current.meta.etag != opts.mode.etag:
                raise osx.PreconditionError("changed", path=path, provider="memory")
            opts = PutOptions("overwrite", opts.attributes, opts.tags)
        return await super()._put(path, data, opts)


@pytest.mark.parametrize(
    ("broken", "check"),
    [
        (_IgnoresCreate, ost.check_put_create),
        (_IgnoresCreate, ost.check_put_create_is_atomic),
        (_ListsPrefixObject, ost.check_list_order_and_prefix_segments),
        (_ListsPrefixObject, ost.check_list_prefix_excludes_object_itself),
        (_UnclampedRanges, ost.check_ranges),
        (_VisibleWhileStreaming, ost.check_put_stream_invisible_until_complete),
        (_LosesCas, ost.check_concurrent_cas_increments),
        (_UnpinnedStream, ost.check_get_stream_never_mixes_versions),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
async def test_suite_catches_a_broken_store(broken: type[osx.MemoryStore], check: ost.Check) -> None:
    async with broken() as store:
        # A wrong result, a missing error or an unexpected error: any of them fails the check.
        with pytest.raises((AssertionError, pytest.fail.Exception, osx.ObjectStoreError)):
            await check(ost.ConformanceContext(store))


# Stores that silently ignore one feature, as some emulators do: with the quirk declared, every
# check must pass or xfail, never fail (the xfail comes before any assertion that needs it).


class _NoConditionalGet(osx.MemoryStore):
    async def _get(self, path: str, opts: GetOptions) -> osx.GetResult:
        return await super()._get(path, GetOptions(GetConditions(), opts.range, opts.version))


class _NoConditionalDelete(osx.MemoryStore):
    async def _delete(self, path: str, cond: osx.UpdateVersion | None) -> None:
        await super()._delete(path, None)


class _NoCreateStream(osx.MemoryStore):
    async def _put_stream(self, path: str, chunks: AsyncIterator[bytes], opts: PutOptions, *a: Any) -> osx.PutResult:
        if opts.mode == "create":
            opts = PutOptions("overwrite", opts.attributes, opts.tags)
        return await super()._put_stream(path, chunks, opts, *a)


class _NoUpdateMultipart(osx.MemoryStore):
    async def _put_stream(self, path: str, chunks: AsyncIterator[bytes], opts: PutOptions, *a: Any) -> osx.PutResult:
        if isinstance(opts.mode, osx.UpdateVersion):
            opts = PutOptions("overwrite", opts.attributes, opts.tags)
        return await super()._put_stream(path, chunks, opts, *a)


class _NoCopyCondition(osx.MemoryStore):
    async def _copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        await super()._copy(src, dst, overwrite=True)


IGNORING = {
    "conditional_get": _NoConditionalGet,
    "delete_if_match": _NoConditionalDelete,
    "create_stream": _NoCreateStream,
    "update_multipart": _NoUpdateMultipart,
    "copy_if_not_exists": _NoCopyCondition,
    "conditional_copy": _NoCopyCondition,
}


async def _outcomes(store_class: type[osx.MemoryStore], quirks: frozenset[str]) -> dict[str, str]:
    """Run every check on its own fresh store (concurrently) and name each outcome."""

    async def one(check: ost.Check) -> str:
        async with store_class() as store:
            try:
                await check(ost.ConformanceContext(store, quirks))
            except pytest.xfail.Exception:
                return "xfailed"
            except (AssertionError, pytest.fail.Exception, osx.ObjectStoreError) as e:
                return f"failed: {e!r}"[:300]
        return "passed"

    results = await asyncio.gather(*(one(c) for c in ost.ALL_CHECKS))
    return {getattr(c, "__name__", ""): r for c, r in zip(ost.ALL_CHECKS, results, strict=True)}


async def test_declared_quirks_never_fail_and_undeclared_ones_do() -> None:
    # All variants at once: the one check that sleeps (modified-since) then costs ~1 s in total.
    quirks = sorted(IGNORING)
    declared = await asyncio.gather(*(_outcomes(IGNORING[q], frozenset({q})) for q in quirks))
    undeclared = await asyncio.gather(*(_outcomes(IGNORING[q], frozenset()) for q in quirks))
    for quirk, with_quirk, without in zip(quirks, declared, undeclared, strict=True):
        failures = {n: r for n, r in with_quirk.items() if r.startswith("failed")}
        assert failures == {}, f"{quirk} declared, yet checks failed"
        assert "xfailed" in with_quirk.values(), f"{quirk} declared, yet no check xfailed"
        assert any(r.startswith("failed") for r in without.values()), f"{quirk} ignored silently, yet the suite passed"
