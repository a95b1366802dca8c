"""What only the S3 adapter promises, against moto server."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

import objectstorex as osx
from objectstorex import testing as ost
from objectstorex.backends.s3 import S3Store
from tests.emulators.faults import Fault, FaultProxy
from tests.emulators.s3 import KEYS, boto_client, create_bucket, make_store

MIB = 1024 * 1024
pytestmark = pytest.mark.s3  # every test here needs moto (or s3rver): deselect with -m "not s3"


@pytest.fixture
async def bucket(moto_endpoint: str) -> str:
    name = f"s3t-{uuid.uuid4().hex[:16]}"
    await create_bucket(moto_endpoint, name, versioned=True)
    return name


@pytest.fixture
async def store(moto_endpoint: str, bucket: str) -> AsyncIterator[osx.BaseStore]:
    async with make_store(moto_endpoint, bucket) as s:
        yield s


async def open_uploads(endpoint: str, bucket: str) -> list[Any]:
    async with boto_client(endpoint) as client:
        resp = await client.list_multipart_uploads(Bucket=bucket)
    return list(resp.get("Uploads", []))


async def test_versions_round_trip_and_version_cas(store: osx.BaseStore) -> None:
    first = await store.put("v", b"one")
    second = await store.put("v", b"two")
    assert first.version is not None
    assert second.version is not None
    assert first.version != second.version
    assert await store.get("v", version=first.version) == b"one"
    assert (await store.head("v", version=first.version)).size == 3
    assert (await store.head("v")).version == second.version
    await store.put("v", b"three", mode=osx.UpdateVersion(version=second.version))
    with pytest.raises(osx.PreconditionError):
        await store.put("v", b"four", mode=osx.UpdateVersion(version=second.version))
    with pytest.raises(osx.PreconditionError):
        await store.delete("v", if_match=osx.UpdateVersion(version=first.version))
    assert await store.get("v") == b"three"


@pytest.mark.parametrize(
    "check", [ost.check_versions_or_not_supported, ost.check_put_update_version], ids=lambda c: c.__name__
)
async def test_conformance_version_checks_on_a_versioned_bucket(
    store: osx.BaseStore, s3_quirks: frozenset[str], check: ost.Check
) -> None:
    # The conformance bucket is unversioned (see tests/emulators/s3.py), so these checks skip
    # there; here they run for real.
    await check(ost.ConformanceContext(store, s3_quirks))


async def test_version_read_on_an_unversioned_bucket_is_not_found(moto_endpoint: str) -> None:
    name = f"s3u-{uuid.uuid4().hex[:16]}"
    await create_bucket(moto_endpoint, name)
    async with make_store(moto_endpoint, name) as plain:
        await plain.put("k", b"x")
        with pytest.raises(osx.NotFoundError):
            await plain.get("k", version="no-such-version")


async def test_multipart_parts_concurrent_and_in_order(store: osx.BaseStore, moto_endpoint: str, bucket: str) -> None:
    blocks = [bytes([i]) * MIB for i in range(12)]
    await store.put_stream("mp", blocks, part_size=5 * MIB, max_concurrency=3)
    data = await store.get("mp")
    assert data == b"".join(blocks)
    assert await open_uploads(moto_endpoint, bucket) == []


async def test_part_size_below_minimum_is_raised_not_refused(store: osx.BaseStore) -> None:
    # S3 refuses parts under 5 MiB (EntityTooSmall): the adapter sizes parts to the minimum.
    await store.put_stream("small-parts", [b"x" * MIB] * 7, part_size=1024)
    assert (await store.head("small-parts")).size == 7 * MIB


async def test_multipart_aborted_on_error(store: osx.BaseStore, moto_endpoint: str, bucket: str) -> None:
    async def failing() -> AsyncIterator[bytes]:
        for _ in range(6):
            yield b"z" * MIB
        raise RuntimeError("source broke")

    with pytest.raises(RuntimeError, match="source broke"):
        await store.put_stream("broken", failing(), part_size=5 * MIB)
    assert await open_uploads(moto_endpoint, bucket) == []
    with pytest.raises(osx.NotFoundError):
        await store.head("broken")


async def test_multipart_aborted_on_cancellation(store: osx.BaseStore, moto_endpoint: str, bucket: str) -> None:
    started = asyncio.Event()

    async def stalled() -> AsyncIterator[bytes]:
        for _ in range(6):
            yield b"z" * MIB
        started.set()
        await asyncio.sleep(3600)
        yield b""

    task = asyncio.create_task(store.put_stream("cancelled", stalled(), part_size=5 * MIB))
    await asyncio.wait_for(started.wait(), 30)
    await asyncio.sleep(0.5)  # let the first part upload start
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await open_uploads(moto_endpoint, bucket) == []


async def test_copy_if_not_exists_uses_conditional_multipart(
    store: osx.BaseStore, moto_endpoint: str, bucket: str
) -> None:
    await store.put("src", b"payload", content_type="text/plain", tags={"k": "v"})
    await store.put("dst", b"existing")
    # moto ignores If-None-Match on CopyObject, which is why the adapter does not rely on it:
    async with boto_client(moto_endpoint) as client:
        await client.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"}, IfNoneMatch="*")
    assert await store.get("dst") == b"payload"  # overwritten despite the condition
    await store.put("dst", b"existing")
    with pytest.raises(osx.AlreadyExistsError):
        await store.copy_if_not_exists("src", "dst")
    assert await store.get("dst") == b"existing"
    assert await open_uploads(moto_endpoint, bucket) == []
    await store.copy_if_not_exists("src", "fresh")
    copied = await store.get_object("fresh")
    assert copied.data == b"payload"
    assert copied.attributes.content_type == "text/plain"
    assert await store.get_tags("fresh") == {"k": "v"}
    await store.put("empty", b"")
    await store.copy_if_not_exists("empty", "empty-copy")
    assert await store.get("empty-copy") == b""


async def test_delete_many_batches(store: osx.BaseStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(S3Store, "batch_size", 3)
    names = [f"k{i}" for i in range(8)]
    for n in names:
        await store.put(n, b"x")
    await store.delete_many([*names, "missing"])
    assert [m async for m in store.list()] == []


async def test_credentials_never_shown(moto_endpoint: str, bucket: str) -> None:
    secret = "SUPER-SECRET-VALUE-1234567890"
    store = osx.new(
        "s3",
        bucket=bucket,
        endpoint=moto_endpoint,
        access_key_id="AKIDEXAMPLE",
        secret_access_key=secret,
        session_token="TOKEN-SECRET-42",
    )
    assert secret not in repr(store)
    assert "TOKEN-SECRET-42" not in repr(store)
    async with store:
        with pytest.raises(osx.NotFoundError) as err:
            await store.get("missing")
        assert secret not in str(err.value)
        assert "TOKEN-SECRET-42" not in str(err.value)
    with pytest.raises(osx.InvalidConfigError) as bad:
        osx.new("s3", bucket=bucket, access_key_id="AKIDEXAMPLE")
    assert "secret_access_key" in str(bad.value)


async def test_bad_endpoint_is_transport_error_after_bounded_retries() -> None:
    dead = f"http://127.0.0.1:{_unused_port()}"
    store = osx.new(
        "s3",
        bucket="b",
        endpoint=dead,
        **KEYS,
        retry=osx.RetryConfig(max_retries=2, initial_backoff=0.01, max_backoff=0.02),
        timeouts=osx.Timeouts(connect=1, read=1),
    )
    started = time.monotonic()
    async with store:
        with pytest.raises(osx.TransportError) as err:
            await store.get("k")
    assert err.value.provider == "s3"
    assert time.monotonic() - started < 20


async def test_presigned_urls_work_with_plain_http(store: osx.BaseStore) -> None:
    await store.put("signed.txt", b"signed content")
    get_url = await store.sign("GET", "signed.txt", 300)
    assert "X-Amz-Signature=" in get_url
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in get_url
    put_url = await store.sign("PUT", "uploaded.txt", 300)
    async with aiohttp.ClientSession() as http:
        async with http.get(get_url) as resp:
            assert resp.status == 200
            assert await resp.read() == b"signed content"
        async with http.put(put_url, data=b"via presigned PUT") as resp:
            assert resp.status == 200
    assert await store.get("uploaded.txt") == b"via presigned PUT"


async def test_from_url_prefix_makes_locations_relative(moto_endpoint: str, bucket: str) -> None:
    async with osx.from_url(f"s3://{bucket}/base/dir", endpoint=moto_endpoint, region="us-east-1", **KEYS) as store:
        await store.put("a/b", b"1")
        assert [m.location async for m in store.list()] == ["a/b"]
        assert (await store.list_with_delimiter()).common_prefixes == ["a"]
    async with make_store(moto_endpoint, bucket) as root:
        assert [m.location async for m in root.list()] == ["base/dir/a/b"]


def _unused_port() -> int:
    from tests.emulators._servers import free_port

    return free_port()


# ------------------------------------------------------------------------------------------
# Signatures: s3rver checks SigV4 (a wrong secret is SignatureDoesNotMatch), moto does not.


async def test_s3rver_accepts_our_signatures(s3rver_endpoint: str) -> None:
    from tests.emulators.s3 import S3RVER_BUCKET, S3RVER_KEYS

    keys = ["plain.txt", "with space/and+plus/100%/é/😀", "tilde~star*quote'paren()!$&,;=@"]
    async with osx.new(
        "s3", bucket=S3RVER_BUCKET, endpoint=s3rver_endpoint, region="us-east-1", prefix="p q", **S3RVER_KEYS
    ) as store:
        for i, key in enumerate(keys):
            put = await store.put(key, f"body {i}".encode(), content_type="text/plain", metadata={"k": "v"})
            assert put.etag
            got = await store.get_object(key)
            assert got.data == f"body {i}".encode()
            assert got.attributes.metadata == {"k": "v"}
            assert await store.get(key, range=(1, 3)) == f"body {i}".encode()[1:3]
            assert (await store.head(key)).size == len(f"body {i}")
        # s3rver HTML-escapes "'" and "&" in url-encoded listings (its bug, not a signing matter):
        # list only the keys it lists faithfully.
        await store.delete(keys[2])
        listed = [m.location async for m in store.list()]
        assert listed == sorted(keys[:2])
        # (its delimiter listing also loses deeper keys holding "%": a plain one shows the request is signed)
        await store.put("dir/x", b"")
        assert (await store.list_with_delimiter()).common_prefixes == ["dir"]
        await store.copy(keys[0], "copied")
        assert await store.get("copied") == b"body 0"
        await store.put_stream("multi", [b"m" * MIB] * 6, part_size=5 * MIB)
        assert (await store.head("multi")).size == 6 * MIB
        await store.delete("copied")
        await store.delete_many([*keys[:2], "dir/x"])
        assert [m.location async for m in store.list()] == ["multi"]


async def test_s3rver_refuses_a_wrong_secret(s3rver_endpoint: str) -> None:
    from tests.emulators.s3 import S3RVER_BUCKET

    async with osx.new(
        "s3",
        bucket=S3RVER_BUCKET,
        endpoint=s3rver_endpoint,
        region="us-east-1",
        access_key_id="S3RVER",
        secret_access_key="not-the-secret",
    ) as store:
        with pytest.raises(osx.UnauthenticatedError) as err:
            await store.put("k", b"v")
    assert err.value.status == 403
    assert "not-the-secret" not in str(err.value)


async def test_credential_chain_env_and_profile_sign_correctly(
    s3rver_endpoint: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No keys passed: aiobotocore's chain resolves them, and s3rver checks the signature made with them.
    from tests.emulators.s3 import S3RVER_BUCKET

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "credentials").write_text("[osx]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n")
    (tmp_path / "config").write_text("[profile osx]\nregion = eu-west-3\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    async with osx.new("s3", bucket=S3RVER_BUCKET, endpoint=s3rver_endpoint, profile="osx") as store:
        await store.put("chain/profile", b"p")
        assert await store.get("chain/profile") == b"p"
        assert "eu-west-3" in repr(store)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "S3RVER")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "S3RVER")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3rver_endpoint)
    async with osx.new("s3", bucket=S3RVER_BUCKET) as store:  # endpoint and keys from the environment
        assert await store.get("chain/profile") == b"p"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    async with osx.new("s3", bucket=S3RVER_BUCKET) as store:
        with pytest.raises(osx.UnauthenticatedError):
            await store.get("chain/profile")


async def test_non_ascii_and_spaced_attributes_round_trip(store: osx.BaseStore) -> None:
    # HTTP headers carry ASCII: such values travel RFC 2047-encoded, as S3 itself returns them.
    metadata = {"name": "Zoë 😀", "spaced": "  a  b ", "looks-encoded": "=?UTF-8?B?w6k=?=", "plain": "x y"}
    disposition = 'attachment; filename="résumé.txt"'
    await store.put("attrs", b"x", metadata=metadata, content_disposition=disposition, content_language="fr")
    got = await store.get_object("attrs")
    assert dict(got.attributes.metadata) == metadata
    assert got.attributes.content_disposition == disposition
    assert got.attributes.content_language == "fr"
    await store.copy_if_not_exists("attrs", "attrs-copy")
    assert dict((await store.get_object("attrs-copy")).attributes.metadata) == metadata
    with pytest.raises(osx.InvalidArgumentError):
        await store.put("bad-meta", b"", metadata={"not a header name": "v"})
    with pytest.raises(osx.NotFoundError):
        await store.head("bad-meta")


# ------------------------------------------------------------------------------------------
# S3's own answers, injected by the shared fault proxy in front of moto (tests/emulators/faults.py).
# Lost answers of put/CAS/put_stream/copy, resumes and retries are in tests/test_faults.py.

RETRY = osx.RetryConfig(max_retries=3, initial_backoff=0.01, max_backoff=0.05)
XML = {"Content-Type": "application/xml"}
LM = "Wed, 01 Jan 2025 00:00:00 GMT"


@pytest.fixture
async def proxied(moto_endpoint: str, bucket: str) -> AsyncIterator[tuple[FaultProxy, osx.BaseStore]]:
    async with FaultProxy(moto_endpoint) as proxy, make_store(proxy.url, bucket, retry=RETRY) as store:
        yield proxy, store


def _error(code: str) -> bytes:
    return f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>m</Message></Error>".encode()


async def test_lost_copy_if_not_exists_of_an_empty_object_is_reconciled(
    proxied: tuple[FaultProxy, osx.BaseStore], bucket: str
) -> None:
    # An empty source is copied by a conditional PUT (UploadPartCopy needs a non-empty range).
    proxy, store = proxied
    await store.put("empty", b"", content_type="text/plain")
    rule = proxy.inject(Fault.lost(), method="PUT", path=f"/{bucket}/empty-copy")
    await store.copy_if_not_exists("empty", "empty-copy")
    assert rule.injected == 1
    assert len(proxy.seen(method="PUT", path=f"/{bucket}/empty-copy")) == 2  # landed, answer lost, retried
    assert (await store.get_object("empty-copy")).attributes.content_type == "text/plain"
    with pytest.raises(osx.AlreadyExistsError):
        await store.copy_if_not_exists("empty", "empty-copy")


async def test_lost_conditional_delete_response_is_reconciled(
    proxied: tuple[FaultProxy, osx.BaseStore], bucket: str
) -> None:
    proxy, store = proxied
    first = await store.put("del", b"v1")
    rule = proxy.inject(Fault.lost(), method="DELETE", path=f"/{bucket}/del")
    await store.delete("del", if_match=first.etag)  # landed, answer lost, the retry found it gone
    assert rule.injected == 1
    assert len(proxy.seen(method="DELETE", path=f"/{bucket}/del")) == 2
    with pytest.raises(osx.NotFoundError):
        await store.head("del")
    # A changed object is still a conflict.
    await store.put("del", b"v2")
    with pytest.raises(osx.PreconditionError):
        await store.delete("del", if_match=first.etag)


async def test_default_headers_are_sent_and_signed(proxied: tuple[FaultProxy, osx.BaseStore], bucket: str) -> None:
    proxy, _ = proxied
    async with make_store(proxy.url, bucket, default_headers={"x-amz-request-payer": "requester"}) as store:
        await store.put("dh", b"x")
        assert await store.get("dh") == b"x"
    sent = proxy.seen(path=f"/{bucket}/dh")
    assert [r.method for r in sent] == ["PUT", "GET"]
    for r in sent:
        assert r.headers["x-amz-request-payer"] == "requester"
        assert "x-amz-request-payer" in r.headers["authorization"].partition("SignedHeaders=")[2].split(",")[0]
    with pytest.raises(osx.InvalidConfigError):
        make_store(proxy.url, bucket, default_headers={"Authorization": "mine"})


async def test_stream_resume_is_pinned_to_the_version_or_refused(
    proxied: tuple[FaultProxy, osx.BaseStore], moto_endpoint: str, bucket: str
) -> None:
    # The object changes before the resume: on this versioned bucket the resume reads on the
    # version it started with; on an unversioned one it raises. Never two states mixed.
    proxy, store = proxied
    data = bytes(range(256)) * (12 * 1024)  # 3 MiB
    first = await store.put("big", data)
    assert await _read_while_overwritten(proxy, store, data, f"/{bucket}/big") == data
    resumed = proxy.seen(method="GET", path=f"/{bucket}/big")[1]
    assert resumed.params["versionId"] == first.version
    # From the first byte not yet handed out (aiohttp drops what it buffered once the body fails).
    start, _, end = resumed.headers["range"].removeprefix("bytes=").partition("-")
    assert 256 * 1024 <= int(start) <= MIB
    assert int(end) == len(data) - 1
    plain = f"s3p-{uuid.uuid4().hex[:16]}"
    await create_bucket(moto_endpoint, plain)
    async with make_store(proxy.url, plain, retry=RETRY) as unversioned:
        await unversioned.put("big", data)
        with pytest.raises(osx.PreconditionError) as err:
            await _read_while_overwritten(proxy, unversioned, data, f"/{plain}/big")
    assert "cannot resume" in str(err.value)


async def _read_while_overwritten(proxy: FaultProxy, store: osx.BaseStore, data: bytes, path: str) -> bytes:
    """Read ``big`` through a connection cut at 1 MiB, overwriting it after the first chunk."""
    proxy.inject(Fault.truncate(after=MIB), method="GET", path=path)
    received = bytearray()
    async with store.get_stream("big", chunk_size=256 * 1024) as stream:
        async for chunk in stream:
            if not received:
                await store.put("big", data[::-1])
            received.extend(chunk)
            assert bytes(received) == data[: len(received)]
    return bytes(received)


async def test_s3_retry_answers(proxied: tuple[FaultProxy, osx.BaseStore], bucket: str) -> None:
    proxy, store = proxied
    # S3's 409 to concurrent conditional writes is retried, not reported as a conflict...
    conflict = Fault.answer(409, body=_error("ConditionalRequestConflict"), headers=XML)
    rule = proxy.inject(conflict, method="PUT", path=f"/{bucket}/fresh")
    await store.put("fresh", b"x", mode="create")
    assert rule.injected == 1
    assert await store.get("fresh") == b"x"
    # ...and when it persists, another conditional write won: the mode decides the error.
    rule = proxy.inject(conflict, method="PUT", path=f"/{bucket}/other", times=None)
    with pytest.raises(osx.AlreadyExistsError):
        await store.put("other", b"x", mode="create")
    assert rule.injected == 1 + RETRY.max_retries
    # CompleteMultipartUpload may fail inside a 200 answer: retried like a 500.
    rule = proxy.inject(
        Fault.answer(200, body=_error("InternalError"), headers=XML), method="POST", params={"uploadId": None}
    )
    await store.put_stream("mp", [b"a" * MIB] * 6, part_size=5 * MIB)
    assert rule.injected == 1
    assert (await store.head("mp")).size == 6 * MIB


async def test_delete_many_reports_per_key_errors(proxied: tuple[FaultProxy, osx.BaseStore]) -> None:
    proxy, store = proxied
    answer = (
        b'<?xml version="1.0" encoding="UTF-8"?><DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<Error><Key>locked</Key><Code>AccessDenied</Code><Message>no</Message></Error>"
        b"<Error><Key>gone</Key><Code>NoSuchKey</Code><Message>missing</Message></Error>"
        b"<Error><Key>busy &amp; odd</Key><Code>InternalError</Code><Message>later</Message></Error>"
        b"</DeleteResult>"
    )
    rule = proxy.inject(Fault.answer(200, body=answer, headers=XML), method="POST", params={"delete": None})
    with pytest.raises(osx.BulkDeleteError) as err:
        await store.delete_many(["ok", "locked", "gone", "busy & odd"])
    assert rule.injected == 1
    assert set(err.value.errors) == {"locked", "busy & odd"}
    assert isinstance(err.value.errors["locked"], osx.PermissionDeniedError)
    assert err.value.errors["busy & odd"].path == "busy & odd"


async def test_chunked_answers_are_read_whole(proxied: tuple[FaultProxy, osx.BaseStore], bucket: str) -> None:
    proxy, store = proxied
    data = bytes(range(256)) * 4096
    await store.put("chunked", data)
    rule = proxy.inject(Fault.chunked(), method="GET", path=f"/{bucket}/chunked", times=2)
    got = await store.get_object("chunked")
    assert got.data == data
    assert got.meta.size == len(data)  # sized by what arrived, never a made-up 0
    async with store.get_stream("chunked", chunk_size=64 * 1024) as stream:
        assert b"".join([c async for c in stream]) == data
    assert rule.injected == 2


@pytest.mark.parametrize(
    ("header", "value", "ranged"),
    [
        ("Last-Modified", None, False),
        ("Last-Modified", "yesterday", False),
        ("Content-Range", "bytes 1-x/10", True),
        ("Content-Range", "bytes 5-2/10", True),
        ("Content-Range", "bytes 0-3/*", True),
    ],
)
async def test_malformed_headers_are_errors_naming_them(
    proxied: tuple[FaultProxy, osx.BaseStore], bucket: str, header: str, value: str | None, ranged: bool
) -> None:
    # Never a ValueError, a guessed size or an invented modification time.
    proxy, store = proxied
    await store.put("h", b"0123456789")
    headers = {"ETag": '"e"', "Last-Modified": LM}
    if value is None:
        del headers[header]
    else:
        headers[header] = value
    canned = Fault.answer(206 if ranged else 200, body=b"123" if ranged else b"", headers=headers)
    rule = proxy.inject(canned, path=f"/{bucket}/h", times=None)
    calls = [store.get_object("h", range=(1, 4)) if ranged else store.head("h")]
    if not ranged:
        calls.append(store.get_object("h"))
    for call in calls:
        with pytest.raises(osx.ObjectStoreError, match=header) as err:
            await call
        assert type(err.value) is osx.ObjectStoreError
        assert err.value.provider == "s3"
        assert err.value.path == "h"

    async def read_stream() -> None:
        async with store.get_stream("h", range=(1, 4) if ranged else None) as stream:
            async for _ in stream:
                pass

    with pytest.raises(osx.ObjectStoreError, match=header):
        await read_stream()
    assert rule.injected == len(calls) + 1  # not retried: a malformed answer is not transient
    proxy.clear()
    assert await store.get("h", range=(1, 4)) == b"123"


@pytest.mark.parametrize(("field", "text"), [("LastModified", ""), ("LastModified", "soon"), ("Size", "-1")])
async def test_malformed_listing_fields_are_errors_naming_them(
    proxied: tuple[FaultProxy, osx.BaseStore], field: str, text: str
) -> None:
    proxy, store = proxied
    entry = {"Key": "k", "Size": "1", "LastModified": "2026-01-02T03:04:05.000Z", "ETag": "&quot;e&quot;"}
    entry[field] = text
    contents = "".join(f"<{k}>{v}</{k}>" for k, v in entry.items())
    page = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<IsTruncated>false</IsTruncated><Contents>{contents}</Contents></ListBucketResult>"
    ).encode()
    listing = {"list-type": "2"}
    proxy.inject(Fault.answer(200, body=page, headers=XML), method="GET", params=listing)
    with pytest.raises(osx.ObjectStoreError, match=field) as err:
        _ = [m async for m in store.list()]
    assert type(err.value) is osx.ObjectStoreError
    # The field left out altogether:
    missing = page.replace(f"<{field}>{text}</{field}>".encode(), b"")
    proxy.inject(Fault.answer(200, body=missing, headers=XML), method="GET", params=listing)
    with pytest.raises(osx.ObjectStoreError, match=field):
        await store.list_with_delimiter()
    assert proxy.injected == 2


def test_environment_keys_are_used_without_importing_botocore(moto_endpoint: str) -> None:
    """AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY sign requests directly: botocore stays unimported."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import asyncio, sys, objectstorex as osx\n"
        "async def main():\n"
        f"    async with osx.new('s3', bucket='osx-test', endpoint={moto_endpoint!r}) as store:\n"
        "        await store.put('env-keys/x', b'signed')\n"
        "        assert await store.get('env-keys/x') == b'signed'\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('botocore', 'aiobotocore')))\n"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "AWS_ACCESS_KEY_ID": KEYS["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": KEYS["secret_access_key"],
        "AWS_REGION": "us-east-1",
        "PYTHONPATH": str(Path(__file__).parent.parent),
    }
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
