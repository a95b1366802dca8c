"""The shared HTTP core, table-driven over a scripted transport (no server).

Each behaviour is stated once here for the core; ``test_http_dialects.py`` runs the provider
tables (error codes, headers) of S3, Azure and GCS through the same seam.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
import tracemalloc
from collections.abc import AsyncIterator, Mapping
from datetime import datetime

import aiohttp
import pytest

import objectstorex as osx
from objectstorex._store import PutOptions
from objectstorex._types import Attributes, Capabilities, ObjectMeta, PutResult
from objectstorex.backends._http import Answer, ErrorCodes, HttpStore, ListPage, Request, Upload
from objectstorex.backends._http.headers import http_date, object_size
from tests._fake_http import FakeResponse, FakeTransport, Scripted

MIB = 1024 * 1024

LM = "Wed, 01 Jan 2025 00:00:00 GMT"
FAST = osx.RetryConfig(max_retries=3, initial_backoff=0.001, max_backoff=0.002)


def ok(body: bytes = b"", status: int = 200, **headers: str) -> Scripted:
    base = {"ETag": '"e1"', "Last-Modified": LM}
    base.update({k.replace("_", "-"): v for k, v in headers.items()})
    return Scripted(status, base, body)


class ToyStore(HttpStore):
    """A minimal dialect: what a provider must supply, nothing else."""

    provider = "toy"
    codes = ErrorCodes(retry=frozenset({"SlowDown"}), not_found=frozenset({"NoSuchKey"}))

    def __init__(self, transport: FakeTransport, **options: object) -> None:
        super().__init__()
        options.setdefault("retry", FAST)
        self._init_http(prefix=None, retry=options.pop("retry"), timeouts=None, **options)
        self.fake = transport
        self._use_transport(lambda: transport)
        self.parts_in_flight = 0
        self.max_parts_in_flight = 0
        self.landed: PutResult | None = None

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            put_create=True,
            put_update_etag=True,
            put_update_version=False,
            copy_if_not_exists=False,
            delete_if_match=False,
            tags=False,
            versions=False,
            sign=False,
            conditional_get=True,
        )

    def _url(self, key: str | None, query: Mapping[str, str] | None = None) -> str:
        return f"http://toy/{key or ''}"

    async def _authorize(self, request: Request) -> None:
        request.headers["Authorization"] = "toy"

    def _error_code(self, answer: Answer) -> str:
        return answer.body.decode()

    def _meta(self, path: str, headers: Mapping[str, str]) -> ObjectMeta:
        size = object_size(headers, provider="toy", path=path)
        modified = http_date(headers, "Last-Modified", provider="toy", path=path)
        return ObjectMeta(path, size, modified, headers.get("ETag"), None)

    def _attributes(self, headers: Mapping[str, str]) -> Attributes:
        return Attributes()

    async def _put_request(self, path: str, data: bytes | memoryview, opts: PutOptions) -> Request:
        headers = {"If-None-Match": "*"} if opts.mode == "create" else {}
        return Request("PUT", self._url(path), headers, data)

    def _put_result(self, answer: Answer) -> PutResult:
        return PutResult(answer.headers.get("ETag"), None)

    async def _landed(self, path: str, data: bytes | memoryview, request: Request) -> PutResult | None:
        return self.landed

    def _part_size(self, requested: int | None) -> int:
        return requested or 1024

    async def _begin_upload(self, path: str, key: str, opts: PutOptions) -> object:
        return "upload-1"

    async def _upload_part(self, upload: Upload, number: int, offset: int, data: memoryview, last: bool) -> object:
        self.parts_in_flight += 1
        self.max_parts_in_flight = max(self.max_parts_in_flight, self.parts_in_flight)
        try:
            await asyncio.sleep(0.002)
            return len(data)
        finally:
            self.parts_in_flight -= 1

    async def _complete_upload(self, upload: Upload) -> PutResult:
        return PutResult(f"parts-{len(upload.parts)}", None)

    async def _list_page(self, key_prefix: str, *, delimiter: bool, start: str | None, token: str | None) -> ListPage:
        answer = await self._once("list", None, Request("GET", self._url(None)))
        names = answer.body.decode().split()
        return ListPage([ObjectMeta(n, 1, time_zero(), None, None) for n in names], [], None)

    async def _delete(self, path: str, cond: object) -> None:
        await self._delete_idempotent(path, lambda: Request("DELETE", self._url(path)))

    async def _copy(self, src: str, dst: str, *, overwrite: bool, progress: object = None) -> None:
        raise AssertionError("not used")


def time_zero() -> datetime:
    from datetime import UTC, datetime

    return datetime(2025, 1, 1, tzinfo=UTC)


# --------------------------------------------------------------------------- status table


@pytest.mark.parametrize(
    ("status", "code", "mode", "expected"),
    [
        (404, "", None, osx.NotFoundError),
        (404, "", "create", osx.NotFoundError),
        (412, "", "create", osx.AlreadyExistsError),
        (409, "", "create", osx.AlreadyExistsError),
        (412, "", osx.UpdateVersion(etag="x"), osx.PreconditionError),
        (404, "", osx.UpdateVersion(etag="x"), osx.PreconditionError),
        (412, "", None, osx.PreconditionError),
        (304, "", None, osx.NotModifiedError),
        (416, "", None, osx.InvalidRangeError),
        (401, "", None, osx.UnauthenticatedError),
        (403, "", None, osx.PermissionDeniedError),
        (501, "", None, osx.NotSupportedError),
        (400, "NoSuchKey", None, osx.NotFoundError),
    ],
)
async def test_status_table(status: int, code: str, mode: object, expected: type[osx.ObjectStoreError]) -> None:
    store = ToyStore(FakeTransport(Scripted(status, {}, code.encode())))
    async with store:
        call = store.get("k") if mode is None else store.put("k", b"x", mode=mode)  # type: ignore[arg-type]
        with pytest.raises(expected) as info:
            await call
    assert type(info.value) is expected
    assert info.value.status == status
    assert info.value.provider == "toy"


async def test_exhausted_retries_are_a_retryable_transport_error_with_the_last_status() -> None:
    store = ToyStore(FakeTransport(*[Scripted(500)] * 3, Scripted(503)))
    async with store:
        with pytest.raises(osx.TransportError) as info:
            await store.get("k")
    assert info.value.status == 503
    assert info.value.retryable is True
    assert len(store.fake.requests) == 4


async def test_network_failure_after_retries_is_a_retryable_transport_error() -> None:
    lost = aiohttp.ServerDisconnectedError()
    store = ToyStore(FakeTransport(*[Scripted(raise_on_send=lost)] * 4))
    async with store:
        with pytest.raises(osx.TransportError) as info:
            await store.head("k")
    assert info.value.retryable is True
    assert info.value.status is None


async def test_retry_after_is_honoured() -> None:
    store = ToyStore(FakeTransport(Scripted(429, {"Retry-After": "1"}), ok(b"data")))
    async with store:
        started = time.monotonic()
        assert await store.get("k") == b"data"
    assert time.monotonic() - started >= 1.0


async def test_retry_after_beyond_the_budget_stops_retrying() -> None:
    retry = osx.RetryConfig(max_retries=3, initial_backoff=0.001, total_timeout=0.5)
    store = ToyStore(FakeTransport(Scripted(503, {"Retry-After": "30"}), ok(b"data")), retry=retry)
    async with store:
        started = time.monotonic()
        with pytest.raises(osx.TransportError) as info:
            await store.get("k")
    assert time.monotonic() - started < 0.5
    assert info.value.status == 503


# --------------------------------------------------------------------------- reads


@pytest.mark.parametrize("fault", ["cut", "stall"])
async def test_get_retries_a_body_that_fails_midway(fault: str) -> None:
    body = bytes(range(256)) * 40
    first = ok(body)
    if fault == "cut":
        first.cut_at = 3000
    else:
        first.stall_at = 3000
    store = ToyStore(FakeTransport(first, ok(body)))
    async with store:
        assert await store.get("k") == body
        assert len(store.fake.requests) == 2


async def test_get_stream_resumes_from_the_last_byte_received_pinned_to_the_etag() -> None:
    body = bytes(range(256)) * 4096  # 1 MiB
    first = ok(body)
    first.cut_at = 300_000
    rest = ok(body[300_000:], status=206, Content_Range=f"bytes 300000-{len(body) - 1}/{len(body)}")
    store = ToyStore(FakeTransport(first, rest))
    async with store:
        async with store.get_stream("k", chunk_size=65536) as stream:
            data = await stream.read_all()
    assert data == body
    resumed = store.fake.requests[1]
    assert resumed.headers["Range"] == f"bytes=300000-{len(body) - 1}"
    assert resumed.headers["If-Match"] == '"e1"'


class _SmallReads(FakeTransport):
    """Answers whose body arrives in reads of at most ~29 KiB, as aiohttp hands out a socket's data."""

    async def send(self, request: Request) -> FakeResponse:
        response = await super().send(request)
        content = response.content
        real = content.read

        async def read(n: int = -1) -> bytes:
            return await real(29 * 1024 if n < 0 else min(n, 29 * 1024))

        content.read = read  # type: ignore[method-assign]
        return response


async def test_get_stream_yields_chunks_of_the_size_asked() -> None:
    body = bytes(range(256)) * 4096 * 3 + b"tail"  # 3 MiB and 4 bytes
    store = ToyStore(_SmallReads(ok(body), ok(body), ok(body)))
    async with store:
        chunks = [c async for c in store.get_stream("k", chunk_size=MIB)]
        assert [len(c) for c in chunks] == [MIB, MIB, MIB, 4]  # not ~29 KiB pieces
        assert b"".join(chunks) == body
        small = [c async for c in store.get_stream("k", chunk_size=100_000)]
        assert {len(c) for c in small[:-1]} == {100_000}
        assert b"".join(small) == body
        default = [c async for c in store.get_stream("k")]  # DEFAULT_CHUNK_SIZE: 1 MiB
        assert [len(c) for c in default] == [MIB, MIB, MIB, 4]


async def test_get_stream_refuses_to_splice_a_changed_object() -> None:
    body = b"x" * 10_000
    first = ok(body)
    first.cut_at = 5000
    store = ToyStore(FakeTransport(first, Scripted(412)))
    async with store:
        with pytest.raises(osx.PreconditionError):
            await store.get_stream("k").read_all()


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"Content-Range": "bytes x-y/z"}, "Content-Range"),
        ({"Content-Range": "bytes 5-2/10"}, "Content-Range"),
        ({"Last-Modified": ""}, "Last-Modified"),
        ({"Last-Modified": "yesterday"}, "Last-Modified"),
        ({"Content-Length": "ten"}, "Content-Length"),
    ],
)
async def test_malformed_headers_are_named_errors(headers: dict[str, str], named: str) -> None:
    answer = ok(b"0123456789", status=206 if "Content-Range" in headers else 200)
    answer.headers = {**answer.headers, **headers}
    store = ToyStore(FakeTransport(answer))
    async with store:
        with pytest.raises(osx.ObjectStoreError, match=named) as info:
            await store.get("k", range=(0, 5))
    assert not isinstance(info.value, ValueError) or isinstance(info.value, osx.InvalidRangeError) is False


# --------------------------------------------------------------------------- writes


async def test_lost_answer_to_a_create_is_reconciled_as_success() -> None:
    lost = aiohttp.ServerDisconnectedError()
    store = ToyStore(FakeTransport(Scripted(raise_on_send=lost), Scripted(412)))
    store.landed = PutResult('"mine"', None)
    async with store:
        assert await store.put("k", b"data", mode="create") == PutResult('"mine"', None)
    assert all(r.resend is False for r in store.fake.requests)


async def test_a_real_conflict_after_a_lost_answer_is_still_a_conflict() -> None:
    lost = aiohttp.ServerDisconnectedError()
    store = ToyStore(FakeTransport(Scripted(raise_on_send=lost), Scripted(412)))
    store.landed = None  # what is stored is not what we sent: another writer won
    async with store:
        with pytest.raises(osx.AlreadyExistsError):
            await store.put("k", b"data", mode="create")


async def test_a_conflict_without_a_lost_answer_is_not_reconciled() -> None:
    store = ToyStore(FakeTransport(Scripted(412)))
    store.landed = PutResult('"mine"', None)  # would wrongly succeed if consulted
    async with store:
        with pytest.raises(osx.AlreadyExistsError):
            await store.put("k", b"data", mode="create")


async def test_put_stream_memory_is_bounded_by_parts_in_flight() -> None:
    part, concurrency, chunk = 1024 * 1024, 2, 256 * 1024
    store = ToyStore(FakeTransport())

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(32):  # 8 MiB
            yield bytes(chunk)

    async with store:
        gc.collect()
        tracemalloc.start()
        try:
            result = await store.put_stream("k", chunks(), part_size=part, max_concurrency=concurrency)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert result.etag == "parts-8"
    assert store.max_parts_in_flight <= concurrency
    # The parts (the one being filled waits for a free slot), one incoming chunk, bookkeeping.
    assert peak <= concurrency * part + chunk + 128 * 1024


async def test_put_stream_copies_memoryview_chunks_once() -> None:
    store = ToyStore(FakeTransport())
    big = memoryview(bytearray(4 * 1024 * 1024))

    async def chunks() -> AsyncIterator[memoryview]:
        yield big

    async with store:
        gc.collect()
        tracemalloc.start()
        try:
            await store.put_stream("k", chunks(), part_size=1024 * 1024, max_concurrency=1)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak <= 1024 * 1024 + 512 * 1024  # the one part in flight, not a copy of the chunk


# --------------------------------------------------------------------------- options and lifecycle


async def test_default_headers_go_under_the_request_and_its_signature() -> None:
    store = ToyStore(FakeTransport(ok(b"x")), default_headers={"x-trace": "t1", "range": "bytes=9-9"})
    async with store:
        await store.get("k", range=(0, 1))
    sent = store.fake.requests[0].headers
    assert sent["x-trace"] == "t1"
    assert sent["Range"] == "bytes=0-0"  # the request's own header wins, whatever the case of its name
    assert "range" not in sent
    assert sent["Authorization"] == "toy"


@pytest.mark.parametrize("name", ["Authorization", "host", "X-Amz-Date", "x-ms-version", "Content-Length"])
def test_default_headers_cannot_set_signed_or_framing_headers(name: str) -> None:
    with pytest.raises(osx.InvalidConfigError, match="default_headers"):
        ToyStore(FakeTransport(), default_headers={name: "v"})


def test_default_headers_must_be_a_str_mapping() -> None:
    with pytest.raises(osx.InvalidConfigError, match="default_headers"):
        ToyStore(FakeTransport(), default_headers={"a": 1})


async def test_an_unclosed_store_warns_once_naming_the_store() -> None:
    store = ToyStore(FakeTransport(ok(b"x")))
    await store.get("k")
    transport = store.fake
    del store  # the last reference: the store's guard releases the transport on this loop
    with pytest.warns(ResourceWarning, match=r"ToyStore\(\) was not closed.*close\(\)"):
        await asyncio.sleep(0.01)
    assert transport.closed


async def test_a_store_dropped_right_after_opening_still_warns_and_releases() -> None:
    store = ToyStore(FakeTransport())
    await store.__aenter__()
    transport = store.fake
    del store
    with pytest.warns(ResourceWarning, match="was not closed"):
        await asyncio.sleep(0.01)
    assert transport.closed


async def test_a_closed_store_refuses_calls() -> None:
    store = ToyStore(FakeTransport())
    async with store:
        pass
    with pytest.raises(osx.ObjectStoreError, match="closed"):
        await store.get("k")
    assert store.fake.closed


async def test_a_failed_part_stops_the_other_parts() -> None:
    from objectstorex.backends._http.upload import PartUploader

    uploader = PartUploader(3)
    finished: list[int] = []

    async def slow(n: int) -> None:
        await asyncio.sleep(0.2)
        finished.append(n)

    async def fail() -> None:
        raise RuntimeError("part failed")

    await uploader.submit(lambda: slow(1))
    await uploader.submit(lambda: slow(2))
    await uploader.submit(fail)
    with pytest.raises(RuntimeError):
        await uploader.wait()
    await uploader.cancel()
    await asyncio.sleep(0.3)
    assert finished == []


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.put("/bad", b"x"),
        lambda s: s.put("k", "text"),
        lambda s: s.put_stream("k", b"not an iterable of chunks"),
        lambda s: s.get_object("a//b"),
        lambda s: s.get("k", range=(5, 2)),
        lambda s: s.head(".."),
        lambda s: s.delete("k/"),
        lambda s: s.delete_many(["ok", "bad/"]),
        lambda s: s.get_ranges("k", [(3, 1)]),
        lambda s: s.copy("a", "/b"),
        lambda s: s.rename_if_not_exists("a", "b\n"),
        lambda s: s.list_with_delimiter("p/"),
    ],
)
async def test_bad_input_never_opens_the_store(call: object) -> None:
    opened: list[bool] = []
    store = ToyStore(FakeTransport())
    store._use_transport(lambda: opened.append(True) or store.fake)  # type: ignore[func-returns-value]
    with pytest.raises(osx.ObjectStoreError):
        await call(store)  # type: ignore[operator]
    assert opened == []
    await store.close()


async def test_the_uvloop_session_runs_on_uvloop() -> None:
    """``nox -s tests-uvloop`` sets OBJECTSTOREX_TEST_LOOP=uvloop: its tests must really run on uvloop."""
    if os.environ.get("OBJECTSTOREX_TEST_LOOP") != "uvloop":
        pytest.skip("the default event loop (OBJECTSTOREX_TEST_LOOP is not 'uvloop')")
    import uvloop

    assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
    store = ToyStore(FakeTransport(ok(b"on uvloop")))
    async with store:
        assert await store.get("k") == b"on uvloop"


async def test_a_part_is_hashed_without_a_copy_of_it_whole() -> None:
    from objectstorex.backends._http.upload import digest_part
    from objectstorex.checksums import digest, have_crc32c

    part = memoryview(bytearray(range(256)) * (16 * 1024))  # 4 MiB, a view of a bytearray like a real part
    for algorithm in ("crc32c", "crc32", "md5", "sha256"):
        if algorithm == "crc32c" and not have_crc32c():
            continue
        gc.collect()
        tracemalloc.start()
        try:
            got = await digest_part(algorithm, part)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert got == digest(algorithm, part.tobytes())
        assert peak < 1024 * 1024, (algorithm, peak)  # google-crc32c takes bytes: 256 KiB copies, not 4 MiB
