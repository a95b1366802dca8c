"""End-to-end integrity (issue #11, part 1): checksums sent on uploads, checked on downloads.

Unit tests of :mod:`objectstorex.checksums` (known vectors, the S3 CRC combination), then each
emulator behind a :class:`~tests.emulators.faults.FaultProxy`: the headers on the wire, a byte
flipped on the way up or down, a checksum planted wrong on moto, range reads skipped, and
``checksum="off"``.
"""

from __future__ import annotations

import base64
import random
import uuid
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
import pytest

import objectstorex as osx
from objectstorex import checksums
from objectstorex._types import ChecksumName
from tests.emulators import azure as azure_emulator
from tests.emulators import gcs as gcs_emulator
from tests.emulators import s3 as s3_emulator
from tests.emulators.faults import Fault, FaultProxy, Request
from tests.emulators.spaces import ENDPOINT_FIXTURES, fresh_space

MIB = 1024 * 1024
RETRY = osx.RetryConfig(max_retries=2, initial_backoff=0.01, max_backoff=0.05)
VECTOR = b"123456789"  # the CRC check string: CRC32 0xCBF43926, CRC32C 0xE3069283

PROVIDERS = [
    pytest.param("s3", marks=pytest.mark.s3),
    pytest.param("azure", marks=pytest.mark.azure),
    pytest.param("gcs", marks=pytest.mark.gcs),
]


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


# ------------------------------------------------------------------------------ the algorithms


def test_known_vectors() -> None:
    assert checksums.digest("crc32", VECTOR).hex() == "cbf43926"
    assert checksums.digest("crc32c", VECTOR).hex() == "e3069283"
    assert checksums.digest("md5", b"").hex() == "d41d8cd98f00b204e9800998ecf8427e"
    assert checksums.digest("crc32c", memoryview(bytearray(VECTOR))).hex() == "e3069283"  # a part's view
    h = checksums.hasher("crc32c")
    for piece in (b"1234", b"", b"56789"):
        h.update(piece)
    assert h.digest().hex() == "e3069283"  # incremental == whole


@pytest.mark.parametrize("algorithm", ["crc32", "crc32c"])
def test_combined_parts_equal_the_crc_of_the_whole(algorithm: str) -> None:
    parts = [payload(5 * MIB + 3, 1), payload(1, 2), payload(0, 3), payload(777, 4)]
    combined = checksums.combine_crc(algorithm, [(checksums.digest(algorithm, p), len(p)) for p in parts])
    assert combined == checksums.digest(algorithm, b"".join(parts))


def test_auto_and_unsupported_choices() -> None:
    assert checksums.resolve("auto", "azure") == "md5"
    assert checksums.resolve("auto", "s3") in ("crc32", "crc32c")
    assert checksums.resolve("off", "s3") is None
    assert checksums.resolve("sha256", "memory") is None  # no transit to protect
    for provider, choice in (("azure", "crc32c"), ("azure", "sha256"), ("gcs", "sha256"), ("gcs", "crc32")):
        with pytest.raises(osx.NotSupportedError):
            checksums.resolve(choice, provider)


def test_moto_checks_crc32c_for_real() -> None:
    """moto falls back to CRC32 when no CRC32C library is installed: the test venv must have one."""
    from moto.s3.utils import compute_checksum

    assert compute_checksum(VECTOR, "CRC32C") == b64(bytes.fromhex("e3069283")).encode()


async def test_memory_and_local_ignore_checksums(tmp_path: object) -> None:
    for store in (osx.new("memory"), osx.new("local", path=str(tmp_path))):
        async with store:
            choices: tuple[ChecksumName, ...] = ("crc32", "sha256", "off")
            for choice in choices:
                await store.put("k", b"data", checksum=choice)
                assert (await store.get("k")) == b"data"


# ------------------------------------------------------------------------------ emulators


@dataclass
class Env:
    provider: str
    upstream: str
    bucket: str
    proxy: FaultProxy

    def store(self, **options: object) -> osx.BaseStore:
        opts: dict[str, object] = {"retry": RETRY, **options}
        if self.provider == "s3":
            return s3_emulator.make_store(self.proxy.url, self.bucket, **opts)
        if self.provider == "azure":
            endpoint = self.proxy.url + urlsplit(self.upstream).path
            return azure_emulator.make_store(endpoint, self.bucket, **opts)
        return gcs_emulator.make_store(self.proxy.url, self.bucket, **opts)

    def is_media_get(self, key: str, r: Request) -> bool:
        if r.method != "GET" or not r.path.endswith(f"/{key}"):
            return False
        return r.params.get("alt") == "media" if self.provider == "gcs" else not r.params

    def is_write(self, key: str, r: Request) -> bool:
        if self.provider == "gcs":  # the name is in the JSON part of the multipart upload
            named = f'"name": "{key}"'.encode() in r.body_start
            return r.method == "POST" and r.params.get("uploadType") == "multipart" and named
        return r.method == "PUT" and r.path.endswith(f"/{key}") and not r.params


@pytest.fixture(params=PROVIDERS)
def emulator(request: pytest.FixtureRequest) -> tuple[str, str]:
    """The provider and its emulator's endpoint (resolved outside the event loop: the S3 fixtures run one)."""
    provider = request.param
    return provider, request.getfixturevalue(ENDPOINT_FIXTURES[provider])


@pytest.fixture
async def env(emulator: tuple[str, str]) -> AsyncIterator[Env]:
    provider, endpoint = emulator
    bucket = await fresh_space(provider, endpoint, "i")
    async with FaultProxy(endpoint) as proxy:
        yield Env(provider, endpoint, bucket, proxy)


def sent_checksum(env: Env, r: Request) -> tuple[str, str] | None:
    """The checksum a write request carried on the wire: (algorithm, value)."""
    if env.provider == "s3":
        algorithm = r.headers.get("x-amz-sdk-checksum-algorithm", "").lower()
        return (algorithm, r.headers[f"x-amz-checksum-{algorithm}"]) if algorithm else None
    if env.provider == "azure":
        md5 = r.headers.get("content-md5")
        return ("md5", md5) if md5 else None
    for field, algorithm in ((b'"crc32c": "', "crc32c"), (b'"md5Hash": "', "md5")):
        at = r.body_start.find(field)
        if at >= 0:
            start = at + len(field)
            return algorithm, r.body_start[start : r.body_start.index(b'"', start)].decode()
    return None


async def test_upload_sends_the_auto_checksum(env: Env) -> None:
    data = payload(3000)
    async with env.store() as store:
        await store.put("a", data)
    writes = [r for r in env.proxy.requests if env.is_write("a", r)]
    assert len(writes) == 1
    algorithm = checksums.resolve("auto", env.provider)
    assert algorithm is not None
    assert sent_checksum(env, writes[0]) == (algorithm, b64(checksums.digest(algorithm, data)))
    if env.provider == "s3":
        assert writes[0].headers["x-amz-sdk-checksum-algorithm"] == algorithm.upper()


async def test_per_call_override_and_off(env: Env) -> None:
    async with env.store(checksum="off") as store:
        await store.put("off", b"x" * 100)
        alt: ChecksumName = "sha256" if env.provider == "s3" else "md5"
        await store.put("on", b"y" * 100, checksum=alt)
        assert (await store.get("off")) == b"x" * 100
    (off,) = [r for r in env.proxy.requests if env.is_write("off", r)]
    (on,) = [r for r in env.proxy.requests if env.is_write("on", r)]
    assert sent_checksum(env, off) is None
    assert "x-amz-checksum-mode" not in next(r for r in env.proxy.requests if env.is_media_get("off", r)).headers
    assert sent_checksum(env, on) == (alt, b64(checksums.digest(alt, b"y" * 100)))


async def test_unstorable_algorithm_fails_before_io(env: Env) -> None:
    if env.provider == "s3":
        pytest.skip("S3 takes every algorithm (MD5 as Content-MD5)")
    async with env.store() as store:
        before = len(env.proxy.requests)
        choices: tuple[ChecksumName, ...] = ("sha256", "crc32")
        for choice in choices:
            with pytest.raises(osx.NotSupportedError, match=choice):
                await store.put("x", b"1", checksum=choice)
            with pytest.raises(osx.NotSupportedError):
                await store.put_stream("x", [b"1"], checksum=choice)
        assert len(env.proxy.requests) == before


async def test_byte_flipped_on_download_is_retried_once(env: Env) -> None:
    data = payload(200_000, 5)
    async with env.store() as store:
        await store.put("d", data)
        rule = env.proxy.inject(Fault.flip(1234), where=lambda r: env.is_media_get("d", r))
        assert (await store.get("d")) == data
        assert rule.injected == 1
        assert len([r for r in env.proxy.requests if env.is_media_get("d", r)]) == 2


async def test_every_answer_corrupt_raises_integrity_error(env: Env) -> None:
    data = payload(200_000, 6)
    async with env.store() as store:
        await store.put("c", data)
        env.proxy.inject(Fault.flip(7), where=lambda r: env.is_media_get("c", r), times=None)
        with pytest.raises(osx.IntegrityError) as caught:
            await store.get("c")
        e = caught.value
        assert e.path == "c"
        assert e.expected != e.actual
        assert e.algorithm in str(e)
        assert e.expected in str(e)
        assert e.actual in str(e)


async def test_stream_never_yields_the_last_chunk_unchecked(env: Env) -> None:
    data = payload(3 * MIB, 7)
    async with env.store() as store:
        await store.put("s", data)
        env.proxy.inject(Fault.flip(len(data) - 1), where=lambda r: env.is_media_get("s", r))
        received = bytearray()

        async def read() -> None:
            async for chunk in store.get_stream("s", chunk_size=MIB):
                received.extend(chunk)

        with pytest.raises(osx.IntegrityError):
            await read()
        assert len(received) < len(data)  # the corrupt last byte was never handed out
        assert bytes(received) == data[: len(received)]
        # Unhurt, the stream completes.
        assert b"".join([c async for c in store.get_stream("s", chunk_size=MIB)]) == data


async def test_range_reads_are_not_checked(env: Env) -> None:
    data = payload(100_000, 8)
    async with env.store() as store:
        await store.put("r", data)
        rule = env.proxy.inject(Fault.flip(0), where=lambda r: r.method == "GET" and r.path.endswith("/r"))
        got = await store.get("r", range=(10, 20))
        assert rule.injected == 1
        assert got != data[10:20]  # the flipped byte came through: no whole checksum to check a span


async def test_off_validates_nothing(env: Env) -> None:
    data = payload(100_000, 9)
    async with env.store(checksum="off") as store:
        await store.put("o", data)
        env.proxy.inject(Fault.flip(3), where=lambda r: env.is_media_get("o", r))
        got = await store.get("o")
        assert got != data
        assert len(got) == len(data)


async def test_corrupted_upload_is_refused(env: Env) -> None:
    """A byte flipped on the way up: the service checks the checksum sent and refuses the bytes."""
    if env.provider == "gcs":
        pytest.skip("fake-gcs-server ignores the crc32c/md5Hash it is sent (GCS refuses the upload with 400)")
    data = payload(50_000, 10)
    async with env.store() as store:
        await store.put("u", b"old")
        rule = env.proxy.inject(Fault.flip_request(40_000), where=lambda r: env.is_write("u", r), times=None)
        if env.provider == "s3":
            # moto stores what it is sent without checking it (S3 answers 400 BadDigest): the
            # corruption is then caught by the stored checksum on the next read.
            await store.put("u", data)
            with pytest.raises(osx.IntegrityError):
                await store.get("u")
            return
        with pytest.raises(osx.IntegrityError) as info:
            await store.put("u", data)
        assert rule.injected >= 1
        assert info.value.algorithm == "md5"
        assert info.value.expected == b64(checksums.digest("md5", data))  # the MD5 we sent
        assert info.value.expected in str(info.value)
        assert (await store.get("u")) == b"old"  # unchanged


@pytest.mark.s3
async def test_checksum_planted_wrong_on_moto(moto_endpoint: str) -> None:
    bucket = f"i-{uuid.uuid4().hex[:20]}"
    await s3_emulator.create_bucket(moto_endpoint, bucket)
    data = payload(10_000, 11)
    wrong = b64(zlib.crc32(data + b"!").to_bytes(4, "big"))
    async with aiohttp.ClientSession() as session:
        # moto stores the checksum it is sent without checking it (unsigned: moto checks no signature).
        headers = {"x-amz-checksum-crc32": wrong, "x-amz-sdk-checksum-algorithm": "CRC32"}
        async with session.put(f"{moto_endpoint}/{bucket}/p", data=data, headers=headers) as r:
            assert r.status == 200, await r.text()
    async with s3_emulator.make_store(moto_endpoint, bucket, retry=RETRY) as store:
        with pytest.raises(osx.IntegrityError) as caught:
            await store.get("p")
        assert caught.value.expected == wrong
        assert caught.value.algorithm == "crc32"
        stream = store.get_stream("p")
        with pytest.raises(osx.IntegrityError):
            await anext(stream)  # a short object: its one chunk is the last, held back
        assert (await store.get("p", range=(0, 10))) == data[:10]  # a range: not checked
    async with s3_emulator.make_store(moto_endpoint, bucket, checksum="off") as store:
        assert (await store.get("p")) == data


@pytest.mark.s3
async def test_s3_multipart_full_object_crc(moto_endpoint: str) -> None:
    """Parts carry their CRC, the completion the whole object's CRC combined from them, and downloads check it."""
    bucket = f"i-{uuid.uuid4().hex[:20]}"
    await s3_emulator.create_bucket(moto_endpoint, bucket)
    data = payload(12 * MIB, 12)
    async with FaultProxy(moto_endpoint) as proxy, s3_emulator.make_store(proxy.url, bucket, retry=RETRY) as store:
        algorithm = checksums.resolve("auto", "s3")
        assert algorithm is not None
        await store.put_stream("m", [data[i : i + MIB] for i in range(0, len(data), MIB)], part_size=5 * MIB)
        (create,) = [r for r in proxy.requests if r.method == "POST" and "uploads" in r.params]
        assert create.headers["x-amz-checksum-algorithm"] == algorithm.upper()
        assert create.headers["x-amz-checksum-type"] == "FULL_OBJECT"
        parts = [r for r in proxy.requests if r.method == "PUT" and "partNumber" in r.params]
        assert len(parts) == 3
        assert all(f"x-amz-checksum-{algorithm}" in r.headers for r in parts)
        (complete,) = [r for r in proxy.requests if r.method == "POST" and "uploadId" in r.params]
        assert complete.headers[f"x-amz-checksum-{algorithm}"] == b64(checksums.digest(algorithm, data))
        rule = proxy.inject(Fault.flip(6 * MIB), method="GET", path="/m")
        assert (await store.get("m")) == data  # checked against the full-object CRC: retried once
        assert rule.injected == 1
        got = next(r for r in proxy.requests if r.method == "GET" and r.path.endswith("/m"))
        assert got.response_headers[f"x-amz-checksum-{algorithm}"] == b64(checksums.digest(algorithm, data))


@pytest.mark.s3
async def test_s3_composite_checksums_are_skipped(moto_endpoint: str) -> None:
    """A composite ("-N") checksum is of the parts' checksums: downloads cannot check it and do not try."""
    bucket = f"i-{uuid.uuid4().hex[:20]}"
    await s3_emulator.create_bucket(moto_endpoint, bucket)
    data = payload(11 * MIB, 13)
    async with FaultProxy(moto_endpoint) as proxy, s3_emulator.make_store(proxy.url, bucket, retry=RETRY) as store:
        await store.put_stream("c", [data], part_size=5 * MIB, checksum="sha256")
        proxy.inject(Fault.flip(10), method="GET", path="/c")
        got = await store.get("c")
        answer = next(r for r in proxy.requests if r.method == "GET" and r.path.endswith("/c"))
        assert answer.response_headers["x-amz-checksum-sha256"].endswith("-3")  # composite, announced
        assert got != data  # the flipped byte came through: nothing was checked
        assert len([r for r in proxy.requests if r.method == "GET"]) == 1


@pytest.mark.azure
async def test_azure_block_upload_stores_the_whole_md5(azurite_endpoint: str) -> None:
    """put_stream's Put Block List stores the blob's MD5 (hashed in block order): its downloads are checked."""
    container = f"i-{uuid.uuid4().hex[:20]}"
    await azure_emulator.create_container(azurite_endpoint, container)
    data = payload(5 * MIB + 123, 14)
    async with FaultProxy(azurite_endpoint) as proxy:
        endpoint = proxy.url + urlsplit(azurite_endpoint).path
        async with azure_emulator.make_store(endpoint, container, retry=RETRY) as store:
            await store.put_stream("b", [data[i : i + 300_000] for i in range(0, len(data), 300_000)], part_size=MIB)
            blocks = [r for r in proxy.requests if r.params.get("comp") == "block"]
            assert len(blocks) == 6
            assert all("content-md5" in r.headers for r in blocks)
            (commit,) = [r for r in proxy.requests if r.params.get("comp") == "blocklist" and r.method == "PUT"]
            assert commit.headers["x-ms-blob-content-md5"] == b64(checksums.digest("md5", data))
            rule = proxy.inject(Fault.flip(4 * MIB), method="GET", where=lambda r: not r.params)
            assert (await store.get("b")) == data
            assert rule.injected == 1


async def test_gcs_resumable_upload_sends_the_whole_md5_on_its_final_chunk(fake_gcs_endpoint: str) -> None:
    """A streamed GCS upload carries the whole stream's MD5 (X-Goog-Hash) on the chunk that completes it."""
    bucket = f"i-{uuid.uuid4().hex[:20]}"
    gcs_emulator.create_bucket(fake_gcs_endpoint, bucket)
    data = payload(3 * MIB + 77, 15)
    async with FaultProxy(fake_gcs_endpoint) as proxy:
        async with gcs_emulator.make_store(proxy.url, bucket, retry=RETRY) as store:
            await store.put_stream("s", [data[i : i + 500_000] for i in range(0, len(data), 500_000)], part_size=MIB)
            chunks = [r for r in proxy.requests if r.method == "PUT" and "content-range" in r.headers]
            assert len(chunks) == 4
            final = [r for r in chunks if not r.headers["content-range"].endswith("/*")]
            assert len(final) == 1
            assert final[0].headers["x-goog-hash"] == f"md5={b64(checksums.digest('md5', data))}"
            assert all("x-goog-hash" not in r.headers for r in chunks if r is not final[0])
        async with gcs_emulator.make_store(proxy.url, bucket, retry=RETRY, checksum="off") as store:
            await store.put_stream("t", [data], part_size=MIB)
            sent = [r for r in proxy.requests if r.method == "PUT" and "x-goog-hash" in r.headers]
            assert len(sent) == 1  # only the first upload's final chunk: "off" sends none
            assert await store.get("t") == data


async def test_s3_bad_digest_is_retried_then_an_integrity_error() -> None:
    """S3's 400 BadDigest (bytes corrupted on the way up) is retried, and if it persists, named."""
    from tests._fake_http import FakeTransport, Scripted

    body = b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>BadDigest</Code><Message>m</Message></Error>"
    transport = FakeTransport(*[Scripted(400, {}, body)] * 3)
    store = osx.S3Store(
        bucket="b",
        region="us-east-1",
        endpoint="http://127.0.0.1:9",
        access_key_id="k",
        secret_access_key="s",
        retry=osx.RetryConfig(max_retries=2, initial_backoff=0.001),
    )
    store._use_transport(lambda: transport)  # the scripted seam: no server
    data = payload(2000, 16)
    async with store:
        with pytest.raises(osx.IntegrityError) as info:
            await store.put("k", data)
    assert len(transport.requests) == 3  # retried: the next attempt resends the bytes
    sent = transport.requests[0].headers
    algorithm = sent["x-amz-sdk-checksum-algorithm"].lower()
    assert info.value.algorithm == algorithm
    assert info.value.expected == sent[f"x-amz-checksum-{algorithm}"] == b64(checksums.digest(algorithm, data))
    assert info.value.provider == "s3"
    assert info.value.status == 400
