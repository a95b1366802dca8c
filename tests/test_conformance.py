"""The shipped conformance suite, run on every backend (memory, local, and the emulators).

The ``store`` and ``quirks`` fixtures (tests/conftest.py) give an opened store per test and the
features its emulator was probed to ignore, once per backend. Select one backend with
``-k memory``, ``-m s3``...
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import objectstorex as osx
from objectstorex import testing as ost
from objectstorex._ranges import ByteRange
from objectstorex._store import GetOptions, PutOptions
from objectstorex.preconditions import GetConditions
from objectstorex.testing import ConformanceSuite


class TestConformance(ConformanceSuite):
    # ``store`` is the per-backend fixture of tests/conftest.py.

    @pytest.fixture
    def store_quirks(self, quirks: frozenset[str]) -> frozenset[str]:
        return quirks


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


def test_server_tests_carry_their_marker(backend: str, request: pytest.FixtureRequest) -> None:
    servers = {"s3", "azure", "gcs"}
    carried = {m.name for m in request.node.iter_markers()} & servers
    assert carried == ({backend} & servers)


def _collected(marker: str) -> list[str]:
    files = ["tests/test_conformance.py", "tests/test_patterns.py", "tests/test_azure.py"]
    argv = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-m", marker, *files]
    done = subprocess.run(argv, cwd=Path(__file__).parent.parent, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_deselecting_a_server_deselects_every_test_that_needs_it() -> None:
    kept = _collected("not azure")
    assert any("[memory]" in t for t in kept)
    assert [t for t in kept if "azure" in t] == []
    selected = _collected("azure")
    assert any(t.startswith("tests/test_azure.py::") for t in selected)  # the module's tests, by module
    assert any(t.endswith("[azure]") for t in selected)  # the suite's, by backend parameter
    assert all("azure" in t for t in selected)


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


class _SendsBeforeValidating(osx.MemoryStore):
    """Sends a HEAD with the path as given and validates it only once that failed: the error is
    the right one and nothing changes, but a bad path costs a request."""

    async def head(self, path: str, *, version: str | None = None) -> osx.ObjectMeta:
        with contextlib.suppress(Exception):
            return await self._head(path, version)
        return await super().head(path, version=version)


@pytest.mark.parametrize(
    ("broken", "check", "symptom"),
    [
        (_IgnoresCreate, ost.check_put_create, r"put\(mode='create'\) replaced an existing object"),
        (_IgnoresCreate, ost.check_put_create_is_atomic, "12 of 12 concurrent creators won"),
        (_ListsPrefixObject, ost.check_list_order_and_prefix_segments, r"list\('a/b'\) must match whole segments"),
        (_ListsPrefixObject, ost.check_list_prefix_excludes_object_itself, "yielded x/foo itself or a sibling"),
        (_UnclampedRanges, ost.check_ranges, r"range \(90, 1000\) ending past the object was refused"),
        (_VisibleWhileStreaming, ost.check_put_stream_invisible_until_complete, "in progress is visible at its path"),
        (_LosesCas, ost.check_concurrent_cas_increments, "a compare-and-swap lost an update"),
        (_UnpinnedStream, ost.check_get_stream_never_mixes_versions, "the stream mixed two versions"),
        (_SendsBeforeValidating, ost.check_invalid_paths_before_io, r"head with the bad path '' did I/O .*'_head'"),
    ],
    ids=lambda v: getattr(v, "__name__", None) or "",
)
async def test_suite_catches_a_broken_store(broken: type[osx.MemoryStore], check: ost.Check, symptom: str) -> None:
    async with osx.MemoryStore() as sound:
        await check(ost.ConformanceContext(sound))  # the check passes where the bug is absent
    async with broken() as store:
        # The check fails on an assertion naming this very bug: not on any error, nor another symptom.
        with pytest.raises((AssertionError, pytest.fail.Exception), match=symptom):
            await check(ost.ConformanceContext(store))


async def test_the_path_check_sees_requests_and_restores_the_hooks() -> None:
    async with _SendsBeforeValidating() as store:
        # The mutant raises the right error and changes nothing: only observing its request catches it.
        with pytest.raises(osx.InvalidPathError):
            await store.head("a//b")
    async with osx.MemoryStore() as sound:
        await ost.check_invalid_paths_before_io(ost.ConformanceContext(sound))
        assert not set(vars(sound)) & {"_open", "_put", "_get", "_head", "_list"}, "the check left its spies"


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
    async def _copy(self, src: str, dst: str, *, overwrite: bool, progress: object = None) -> None:
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
