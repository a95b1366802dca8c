"""Faults between a store and its emulator, the same on S3 (moto), Azure (Azurite) and GCS (fake-gcs-server).

Each test puts a :class:`~tests.emulators.faults.FaultProxy` in front of the emulator, points the
store at it, injects one kind of fault and checks what the contract (API.md, issue #10) promises:
retries with ``Retry-After`` honoured, ``TransportError`` carrying the last status, whole reads
despite a reset/truncated/stalled body, a stream resumed from the last byte received, lost
answers to conditional writes reconciled, no resend by the HTTP library, and nothing left behind
by a ``put_stream`` that failed or was cancelled. Every test also checks that the proxy really
injected its fault, so none can pass for want of one.

Select one provider with ``-m s3``, ``-m azure`` or ``-m gcs``.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web

import objectstorex as osx
from objectstorex.patterns import DistributedLock, LockedError, OptimisticCounter
from tests.emulators import azure as azure_emulator
from tests.emulators import gcs as gcs_emulator
from tests.emulators import s3 as s3_emulator
from tests.emulators.faults import Fault, FaultProxy, Request
from tests.emulators.spaces import ENDPOINT_FIXTURES, fresh_space

MIB = 1024 * 1024
PART = 5 * MIB  # moto enforces S3's 5 MiB minimum part; a multiple of GCS's 256 KiB chunk unit
RETRY = osx.RetryConfig(max_retries=3, initial_backoff=0.01, max_backoff=0.05)
TIMEOUTS = osx.Timeouts(read=0.5)
STALL = 5.0  # seconds a stalled answer stays silent: ten times Timeouts.read

PROVIDERS = [
    pytest.param("s3", marks=pytest.mark.s3),
    pytest.param("azure", marks=pytest.mark.azure),
    pytest.param("gcs", marks=pytest.mark.gcs),
]


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


@dataclass
class Emulator:
    provider: str
    endpoint: str  # as the store takes it (Azure: with the account path)
    quirks: frozenset[str]


@pytest.fixture(params=PROVIDERS)
def emulator(request: pytest.FixtureRequest) -> Emulator:
    """The session's emulator for the provider (resolved outside the event loop: the S3 fixtures run one)."""
    provider = request.param
    endpoint = request.getfixturevalue(ENDPOINT_FIXTURES[provider])
    quirks = frozenset(request.getfixturevalue(f"{provider}_quirks"))
    return Emulator(provider, endpoint, quirks)


@dataclass
class Env:
    """One provider's emulator behind a fault proxy, with a fresh bucket/container."""

    provider: str
    upstream: str
    bucket: str
    proxy: FaultProxy
    quirks: frozenset[str]

    def store(self, *, retry: osx.RetryConfig = RETRY, timeouts: osx.Timeouts = TIMEOUTS) -> osx.BaseStore:
        """A store of this provider that talks to the emulator through the proxy (no key prefix)."""
        if self.provider == "s3":
            return s3_emulator.make_store(self.proxy.url, self.bucket, retry=retry, timeouts=timeouts)
        if self.provider == "azure":
            endpoint = self.proxy.url + urlsplit(self.upstream).path  # Azurite's account path
            return azure_emulator.make_store(endpoint, self.bucket, retry=retry, timeouts=timeouts)
        return gcs_emulator.make_store(self.proxy.url, self.bucket, retry=retry, timeouts=timeouts)

    # What each provider's requests look like on the wire (keys here need no percent-encoding).

    def _on(self, r: Request, key: str) -> bool:
        """Whether ``r`` addresses the object ``key`` by its path (S3, Azure; GCS JSON API)."""
        suffix = f"/o/{key}" if self.provider == "gcs" else f"/{self.bucket}/{key}"
        return r.path.endswith(suffix)

    def _session(self, r: Request) -> bool:
        return self.provider == "gcs" and "upload_id" in r.params and "/upload/storage/v1/b/" in r.path

    def simple_write(self, key: str) -> Callable[[Request], bool]:
        """The one request of a small ``put``."""

        def match(r: Request) -> bool:
            if self.provider == "gcs":  # the name is in the JSON part of a multipart upload
                named = re.search(rb'"name"\s*:\s*"' + re.escape(key.encode()) + rb'"', r.body_start)
                return (
                    r.method == "POST"
                    and "/upload/" in r.path
                    and r.params.get("uploadType") == "multipart"
                    and named is not None
                )
            copy = "x-amz-copy-source" in r.headers or "x-ms-copy-source" in r.headers
            return r.method == "PUT" and self._on(r, key) and not copy and not r.params
            # (no query: not a part, a block, tags or a copy)

        return match

    def media_get(self, key: str) -> Callable[[Request], bool]:
        """A GET of the object's bytes (not of its JSON resource on GCS)."""

        def match(r: Request) -> bool:
            if r.method != "GET" or not self._on(r, key):
                return False
            return r.params.get("alt") == "media" if self.provider == "gcs" else "comp" not in r.params

        return match

    def part(self, key: str) -> Callable[[Request], bool]:
        """An upload of one part (S3), block (Azure) or resumable chunk (GCS) of ``key``."""

        def match(r: Request) -> bool:
            if self.provider == "gcs":
                return r.method == "PUT" and self._session(r)
            if r.method != "PUT" or not self._on(r, key):
                return False
            return "partNumber" in r.params if self.provider == "s3" else r.params.get("comp") == "block"

        return match

    def completion(self, key: str) -> Callable[[Request], bool]:
        """The request that commits a ``put_stream`` upload."""

        def match(r: Request) -> bool:
            if self.provider == "s3":
                return r.method == "POST" and self._on(r, key) and "uploadId" in r.params
            if self.provider == "azure":
                return r.method == "PUT" and self._on(r, key) and r.params.get("comp") == "blocklist"
            total = r.headers.get("content-range", "").rpartition("/")[2]
            return r.method == "PUT" and self._session(r) and total not in ("", "*")

        return match

    def copy_commit(self, src: str, dst: str) -> Callable[[Request], bool]:
        """The request that makes ``dst`` a copy of ``src`` appear (whichever way the store copies)."""

        def match(r: Request) -> bool:
            if self.provider == "gcs":
                return (
                    r.method == "POST"
                    and r.path.endswith(f"/o/{dst}")
                    and f"/o/{src}/" in r.path
                    and ("/rewriteTo/" in r.path or "/copyTo/" in r.path)
                )
            if not self._on(r, dst):
                return False
            if r.method == "POST" and "uploadId" in r.params:  # S3: a multipart copy's completion
                return True
            if r.params.get("comp") == "blocklist":  # Azure: blocks staged from the source URL
                return True
            copy = "x-amz-copy-source" in r.headers or "x-ms-copy-source" in r.headers
            return r.method == "PUT" and copy and "partNumber" not in r.params and "comp" not in r.params

        return match


@pytest.fixture
async def env(emulator: Emulator) -> AsyncIterator[Env]:
    bucket = await fresh_space(emulator.provider, emulator.endpoint, "f")
    async with FaultProxy(emulator.endpoint) as proxy:
        yield Env(emulator.provider, emulator.endpoint, bucket, proxy, emulator.quirks)


@pytest.fixture
async def store(env: Env) -> AsyncIterator[osx.BaseStore]:
    async with env.store() as s:
        yield s


def range_start(r: Request) -> int | None:
    value = r.headers.get("x-ms-range") or r.headers.get("range")
    found = re.fullmatch(r"bytes=(\d+)-\d*", value or "")
    return int(found.group(1)) if found else None


def is_pinned(r: Request) -> bool:
    """Whether a resumed read names the state it started from (ETag or version)."""
    return bool(r.headers.get("if-match")) or any(
        name in r.params for name in ("versionId", "generation", "ifGenerationMatch", "versionid", "snapshot")
    )


# ------------------------------------------------------------------------------------------
# 1. Throttling and 5xx answers: retried, Retry-After honoured (within the retry budget)


@pytest.mark.parametrize("status", [503, 429])
async def test_retry_after_is_honoured(env: Env, store: osx.BaseStore, status: int) -> None:
    data = payload(1000)
    await store.put("throttled", data)
    rule = env.proxy.inject(Fault.answer(status, retry_after=1), where=env.media_get("throttled"))
    started = time.monotonic()
    assert await store.get("throttled") == data
    elapsed = time.monotonic() - started
    assert rule.injected == 1
    first, second = env.proxy.seen(where=env.media_get("throttled"))[:2]
    assert first.fault == "answer"
    assert second.at - first.at >= 0.99  # Retry-After: 1, although max_backoff is 0.05
    assert elapsed < 1.0 + 2.0


async def test_retry_after_beyond_the_budget_is_not_waited_for(env: Env) -> None:
    await_budget = osx.RetryConfig(max_retries=3, initial_backoff=0.01, max_backoff=0.05, total_timeout=1.0)
    async with env.store(retry=await_budget) as store:
        await store.put("slow-down", b"x")
        rule = env.proxy.inject(Fault.answer(503, retry_after=30), where=env.media_get("slow-down"), times=None)
        started = time.monotonic()
        with pytest.raises(osx.TransportError) as caught:
            await store.get("slow-down")
        assert time.monotonic() - started < 1.0 + 1.5  # never the 30 s asked for
    assert rule.injected >= 1
    assert caught.value.status == 503


# ------------------------------------------------------------------------------------------
# 2. Exhausted retries


async def test_exhausted_retries_raise_transport_error_with_the_last_status(env: Env, store: osx.BaseStore) -> None:
    await store.put("down", b"x")
    is_get = env.media_get("down")
    first = env.proxy.inject(Fault.answer(503), where=is_get, times=3)
    last = env.proxy.inject(Fault.answer(500), where=is_get, nth=4, times=None)
    with pytest.raises(osx.TransportError) as caught:
        await store.get("down")
    assert (first.injected, last.injected) == (3, 1)
    assert len(env.proxy.seen(where=is_get)) == 1 + RETRY.max_retries
    assert caught.value.status == 500
    assert caught.value.retryable is True


# ------------------------------------------------------------------------------------------
# 3. A body cut or stalled on the first attempt: get()/get_object() retry the whole read


BODY_FAULTS = {
    "reset": Fault.reset(after=100_000),
    "truncate": Fault.truncate(after=100_000),
    "stall": Fault.stall(after=100_000, seconds=STALL),
}


@pytest.mark.parametrize("call", ["get", "get_object"])
@pytest.mark.parametrize("kind", list(BODY_FAULTS))
async def test_get_survives_a_broken_body(env: Env, store: osx.BaseStore, kind: str, call: str) -> None:
    data = payload(256 * 1024, seed=3)
    await store.put("body", data)
    rule = env.proxy.inject(BODY_FAULTS[kind], where=env.media_get("body"))
    started = time.monotonic()
    if call == "get":
        got = await store.get("body")
    else:
        result = await store.get_object("body")
        got = result.data
        assert result.meta.size == len(data)
    elapsed = time.monotonic() - started
    assert rule.injected == 1
    assert got == data
    assert len(env.proxy.seen(where=env.media_get("body"))) >= 2
    if kind == "stall":
        assert elapsed < STALL - 1.0  # Timeouts.read (0.5 s) ended the stalled attempt


# ------------------------------------------------------------------------------------------
# 4. get_stream resumes from the last byte received


@pytest.mark.parametrize("kind", ["truncate", "reset"])
async def test_stream_resumes_from_the_last_byte_received(env: Env, store: osx.BaseStore, kind: str) -> None:
    data = payload(MIB, seed=4)
    await store.put("stream", data)
    cut = 300_000  # not a multiple of the chunk size: the chunk being filled is cut
    fault = Fault.truncate(after=cut) if kind == "truncate" else Fault.reset(after=cut)
    rule = env.proxy.inject(fault, where=env.media_get("stream"))
    async with store.get_stream("stream", chunk_size=64 * 1024) as stream:
        got = b"".join([chunk async for chunk in stream])
    assert rule.injected == 1
    assert got == data
    gets = env.proxy.seen(where=env.media_get("stream"))
    assert len(gets) == 2, [(r.method, r.query, r.headers.get("range")) for r in gets]
    assert range_start(gets[1]) == cut
    assert is_pinned(gets[1]), gets[1].headers


# ------------------------------------------------------------------------------------------
# 5. A lost answer to a conditional write: the caller's own write succeeds; another's is a conflict


async def test_lost_create_response(env: Env, store: osx.BaseStore) -> None:
    rule = env.proxy.inject(Fault.lost(), where=env.simple_write("created"))
    result = await store.put("created", b"mine", mode="create")
    assert rule.injected == 1
    assert await store.get("created") == b"mine"
    assert result.etag == (await store.head("created")).etag
    # Another writer's object is not taken for ours.
    env.proxy.inject(Fault.lost(), where=env.simple_write("created"))
    with pytest.raises(osx.AlreadyExistsError):
        await store.put("created", b"not mine", mode="create")
    assert await store.get("created") == b"mine"


async def test_lost_cas_response(env: Env, store: osx.BaseStore) -> None:
    first = await store.put("cas", b"v1")
    rule = env.proxy.inject(Fault.lost(), where=env.simple_write("cas"))
    result = await store.put("cas", b"v2", mode=osx.UpdateVersion.of(first))
    assert rule.injected == 1
    assert await store.get("cas") == b"v2"
    assert result.etag == (await store.head("cas")).etag
    # A writer holding the stale version loses, even when its answer is lost too.
    env.proxy.inject(Fault.lost(), where=env.simple_write("cas"))
    with pytest.raises(osx.PreconditionError):
        await store.put("cas", b"v3", mode=osx.UpdateVersion.of(first))
    assert await store.get("cas") == b"v2"


async def test_lost_answer_to_a_counter_increment_counts_once(env: Env, store: osx.BaseStore) -> None:
    counter = OptimisticCounter(store, "counter")
    await counter.initialize(0)
    rule = env.proxy.inject(Fault.lost(), where=env.simple_write("counter"))
    assert await counter.increment() == 1
    assert rule.injected == 1
    assert await counter.value() == 1


async def test_lost_answer_to_a_lock_acquire_holds_the_lock(env: Env, store: osx.BaseStore) -> None:
    lock = DistributedLock(store, "lock", ttl=30.0)
    rule = env.proxy.inject(Fault.lost(), where=env.simple_write("lock"))
    info = await lock.acquire()  # the holder is never blocked by its own write
    assert rule.injected == 1
    assert info.holder == lock.holder
    with pytest.raises(LockedError):
        await DistributedLock(store, "lock", ttl=30.0).acquire()
    assert await lock.release() is True


async def test_lost_put_stream_completion(env: Env, store: osx.BaseStore) -> None:
    data = payload(PART + MIB, seed=5)
    rule = env.proxy.inject(Fault.lost(), where=env.completion("streamed"))
    result = await store.put_stream(
        "streamed", [data[i : i + MIB] for i in range(0, len(data), MIB)], part_size=PART, mode="create"
    )
    assert rule.injected == 1
    assert hashlib.sha256(await store.get("streamed")).digest() == hashlib.sha256(data).digest()
    assert result.etag == (await store.head("streamed")).etag
    if "create_stream" in env.quirks:
        pytest.skip(f"{env.provider} emulator ignores the create condition of a streamed upload")
    env.proxy.inject(Fault.lost(), where=env.completion("streamed"))
    with pytest.raises(osx.AlreadyExistsError):
        await store.put_stream("streamed", [payload(PART + MIB, seed=6)], part_size=PART, mode="create")
    assert hashlib.sha256(await store.get("streamed")).digest() == hashlib.sha256(data).digest()


async def test_lost_copy_if_not_exists_response(env: Env, store: osx.BaseStore) -> None:
    await store.put("src", b"source")
    rule = env.proxy.inject(Fault.lost(), where=env.copy_commit("src", "dst"))
    await store.copy_if_not_exists("src", "dst")
    assert rule.injected == 1
    assert await store.get("dst") == b"source"
    if "copy_if_not_exists" in env.quirks:
        pytest.skip(f"{env.provider} emulator ignores the condition copy_if_not_exists relies on")
    await store.put("taken", b"theirs")
    env.proxy.inject(Fault.lost(), where=env.copy_commit("src", "taken"))
    with pytest.raises(osx.AlreadyExistsError):
        await store.copy_if_not_exists("src", "taken")
    assert await store.get("taken") == b"theirs"


async def test_lost_rename_if_not_exists_response(env: Env, store: osx.BaseStore) -> None:
    await store.put("src", b"source")
    rule = env.proxy.inject(Fault.lost(), where=env.copy_commit("src", "dst"))
    await store.rename_if_not_exists("src", "dst")
    assert rule.injected == 1
    assert await store.get("dst") == b"source"
    with pytest.raises(osx.NotFoundError):
        await store.head("src")
    if "copy_if_not_exists" in env.quirks:
        pytest.skip(f"{env.provider} emulator ignores the condition rename_if_not_exists relies on")
    await store.put("src", b"source")
    await store.put("taken", b"theirs")
    env.proxy.inject(Fault.lost(), where=env.copy_commit("src", "taken"))
    with pytest.raises(osx.AlreadyExistsError):
        await store.rename_if_not_exists("src", "taken")
    assert await store.get("taken") == b"theirs"
    assert await store.get("src") == b"source"


# ------------------------------------------------------------------------------------------
# 6. A non-idempotent request is never resent by the HTTP library


async def test_lost_create_is_not_resent_without_retries(env: Env) -> None:
    async with env.store(retry=osx.RetryConfig(max_retries=0)) as store:
        await store.put("warm", b"w")  # the create below goes out on a kept-alive connection
        rule = env.proxy.inject(Fault.lost(), where=env.simple_write("once"))
        with pytest.raises(osx.TransportError):
            await store.put("once", b"mine", mode="create")
    assert rule.injected == 1
    assert len(env.proxy.seen(where=env.simple_write("once"))) == 1


# ------------------------------------------------------------------------------------------
# 7. put_stream: a part failing once is retried; a failed or cancelled upload leaves nothing


async def test_put_stream_part_failing_once(env: Env, store: osx.BaseStore) -> None:
    data = payload(2 * PART + 2 * MIB, seed=7)
    rule = env.proxy.inject(Fault.answer(500), where=env.part("parts"), nth=2)
    await store.put_stream("parts", [data[i : i + MIB] for i in range(0, len(data), MIB)], part_size=PART)
    assert rule.injected == 1
    assert hashlib.sha256(await store.get("parts")).digest() == hashlib.sha256(data).digest()


async def assert_nothing_left(env: Env, store: osx.BaseStore, key: str) -> None:
    """No object at ``key`` and no upload of it pending on the server, now or after a while: no part
    upload outlives the call (one arriving after the abort would stage data again)."""
    returned = time.monotonic()
    await asyncio.sleep(0.5)
    late = [(r.method, r.query) for r in env.proxy.seen(where=env.part(key)) if r.at > returned]
    assert late == [], "part uploads still sent after put_stream returned"
    with pytest.raises(osx.NotFoundError):
        await store.head(key)
    if env.provider == "s3":
        async with s3_emulator.boto_client(env.upstream) as client:
            listing = await client.list_multipart_uploads(Bucket=env.bucket)
        assert [u["Key"] for u in listing.get("Uploads", [])] == []
    elif env.provider == "azure":
        from azure.core.exceptions import ResourceNotFoundError

        async with azure_emulator.sdk_client(env.upstream) as service:  # type: ignore[attr-defined]
            blob = service.get_container_client(env.bucket).get_blob_client(key)
            try:
                _, uncommitted = await blob.get_block_list("uncommitted")  # ?comp=blocklist&blocklisttype=...
            except ResourceNotFoundError:
                uncommitted = []
        assert [b["id"] for b in uncommitted] == []
    else:
        # fake-gcs-server answers a session DELETE with 499 like GCS but keeps the session (a
        # status query would then finalize it), so the server cannot show the session gone:
        # what is checked is that the store cancelled every session it opened.
        opened = [
            r.response_headers["location"]
            for r in env.proxy.seen(method="POST", params={"uploadType": "resumable"})
            if "location" in r.response_headers
        ]
        assert opened, "no resumable session was opened"
        for location in opened:
            upload_id = parse_qs(urlsplit(location).query)["upload_id"][0]
            deletes = env.proxy.seen(method="DELETE", params={"upload_id": upload_id})
            assert [r.status for r in deletes if r.status in (200, 204, 499)], f"session {upload_id} not deleted"


async def test_put_stream_failing_for_good_leaves_nothing(env: Env, store: osx.BaseStore) -> None:
    data = payload(2 * PART + MIB, seed=8)
    rule = env.proxy.inject(Fault.answer(500), where=env.part("failed"), nth=2, times=None)
    with pytest.raises(osx.TransportError):
        await store.put_stream("failed", [data[i : i + MIB] for i in range(0, len(data), MIB)], part_size=PART)
    assert rule.injected >= 1
    await assert_nothing_left(env, store, "failed")


async def test_cancelled_put_stream_leaves_nothing(env: Env, store: osx.BaseStore) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield payload(PART, seed=9)
        yield payload(PART, seed=10)
        yield b"more"
        await asyncio.Event().wait()  # the caller's source hangs: it gets cancelled
        yield b"never"

    task = asyncio.create_task(store.put_stream("cancelled", chunks(), part_size=PART))

    def part_stored() -> bool:
        return any(r.status is not None and r.status < 400 for r in env.proxy.seen(where=env.part("cancelled")))

    async with asyncio.timeout(30):
        await env.proxy.wait_for(part_stored)  # an upload is under way on the server
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await assert_nothing_left(env, store, "cancelled")


# ------------------------------------------------------------------------------------------
# The proxy itself, against a small aiohttp server (no emulator): each fault does what it says


PLAIN_BODY = payload(200_000, seed=12)


@pytest.fixture
async def plain_proxy() -> AsyncIterator[tuple[FaultProxy, aiohttp.ClientSession]]:
    body = PLAIN_BODY

    async def handle(request: web.Request) -> web.StreamResponse:
        await request.read()
        if request.path == "/chunked":
            response = web.StreamResponse(headers={"Location": f"http://127.0.0.1:{port}/session?id=1"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            for i in range(0, len(body), 50_000):
                await response.write(body[i : i + 50_000])
            await response.write_eof()
            return response
        return web.Response(body=body, headers={"ETag": '"e"'})

    runner = web.AppRunner(web.Application())
    runner.app.router.add_route("*", "/{tail:.*}", handle)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with FaultProxy(f"http://127.0.0.1:{port}") as proxy, aiohttp.ClientSession() as session:
            yield proxy, session
    finally:
        await runner.cleanup()


async def test_proxy_forwards_rewrites_and_keeps_connections(
    plain_proxy: tuple[FaultProxy, aiohttp.ClientSession],
) -> None:
    proxy, session = plain_proxy
    for _ in range(2):
        async with session.put(f"{proxy.url}/chunked?a=1", data=b"up") as resp:
            assert await resp.read() == PLAIN_BODY  # a chunked answer, re-framed with a Content-Length
            assert resp.headers["Content-Length"] == str(len(PLAIN_BODY))
            assert resp.headers["Location"] == f"{proxy.url}/session?id=1"
    async with session.head(f"{proxy.url}/x") as resp:
        assert resp.headers["Content-Length"] == str(len(PLAIN_BODY))  # HEAD: the object's length, untouched
    assert [(r.method, r.path, r.query, r.body_size, r.status) for r in proxy.requests] == [
        ("PUT", "/chunked", "a=1", 2, 200),
        ("PUT", "/chunked", "a=1", 2, 200),
        ("HEAD", "/x", "", 0, 200),
    ]
    assert proxy.injected == 0


async def test_proxy_answers_counts_and_flips(plain_proxy: tuple[FaultProxy, aiohttp.ClientSession]) -> None:
    proxy, session = plain_proxy
    throttle = proxy.inject(
        Fault.answer(429, retry_after=2, body=b"<Error/>", headers={"Content-Type": "application/xml"}),
        method="GET",
        params={"part": "2"},
        nth=2,
    )
    flip = proxy.inject(Fault.flip(at=7), path="/flip")
    chunked = proxy.inject(Fault.chunked(), path="/chunk-me")
    answers = []
    for _ in range(3):
        async with session.get(f"{proxy.url}/x?part=2") as resp:
            answers.append((resp.status, resp.headers.get("Retry-After"), resp.content_type, len(await resp.read())))
    assert answers == [
        (200, None, "application/octet-stream", len(PLAIN_BODY)),
        (429, "2", "application/xml", 8),
        (200, None, "application/octet-stream", len(PLAIN_BODY)),
    ]
    assert (throttle.matched, throttle.injected) == (3, 1)
    async with session.get(f"{proxy.url}/flip") as resp:
        got = await resp.read()
    assert [i for i in range(len(got)) if got[i] != PLAIN_BODY[i]] == [7]
    assert flip.injected == 1
    async with session.get(f"{proxy.url}/chunk-me") as resp:
        assert "Content-Length" not in resp.headers
        assert resp.headers["Transfer-Encoding"] == "chunked"
        assert await resp.read() == PLAIN_BODY
    assert chunked.injected == 1


@pytest.mark.parametrize("kind", ["reset", "truncate", "stall", "lost"])
async def test_proxy_breaks_the_answer(plain_proxy: tuple[FaultProxy, aiohttp.ClientSession], kind: str) -> None:
    proxy, session = plain_proxy
    fault = {
        "reset": Fault.reset(after=70_000),
        "truncate": Fault.truncate(after=70_000),
        "stall": Fault.stall(after=70_000, seconds=STALL),
        "lost": Fault.lost(),
    }[kind]
    rule = proxy.inject(fault, method="POST")
    received = bytearray()

    async def read() -> None:
        async with session.post(f"{proxy.url}/x", data=b"body", timeout=aiohttp.ClientTimeout(sock_read=0.5)) as resp:
            async for chunk in resp.content.iter_any():
                received.extend(chunk)

    started = time.monotonic()
    with pytest.raises(aiohttp.ClientError):
        await read()
    assert rule.injected == 1
    assert proxy.requests[0].status == 200  # the upstream did answer: only the client lost it
    assert time.monotonic() - started < STALL - 1
    assert bytes(received) == (b"" if kind == "lost" else PLAIN_BODY[:70_000])
    assert len(proxy.seen(method="POST")) == 1  # (aiohttp would resend a PUT: POST is never resent)
