"""Azure-specific behaviour on Azurite 3.37: credentials, SAS URLs, blocks, batches, listings,
timeouts and secrets."""

from __future__ import annotations

import asyncio
import base64
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

import objectstorex as osx
from objectstorex.backends.azure import AzureStore
from objectstorex.backends.azure.auth import AZURITE_ACCOUNT, AZURITE_KEY
from tests.emulators._servers import free_port
from tests.emulators.azure import create_container, make_store, sdk_client
from tests.emulators.faults import Fault, FaultProxy

WRONG_KEY = base64.b64encode(b"not the azurite key, but a valid base64 one" * 2).decode()
_ENV = (
    "AZURE_STORAGE_ACCOUNT",
    "AZURE_STORAGE_ACCOUNT_NAME",
    "AZURE_STORAGE_KEY",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_CONNECTION_STRING",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def container(azurite_endpoint: str) -> str:
    name = f"t-{uuid.uuid4().hex[:20]}"
    await create_container(azurite_endpoint, name)
    return name


@pytest.fixture
async def store(azurite_endpoint: str, container: str) -> AsyncIterator[osx.BaseStore]:
    async with make_store(azurite_endpoint, container) as s:
        yield s


def _sig(url: str) -> str:
    return url.split("sig=", 1)[1].split("&", 1)[0]


# ------------------------------------------------------------------------------ configuration


def test_options_and_factory() -> None:
    store = osx.from_url("az://reports/2024/q1", account="acct", access_key=AZURITE_KEY)
    assert isinstance(store, osx.AzureStore)
    assert "container='reports'" in repr(store)
    assert "prefix='2024/q1'" in repr(store)
    with pytest.raises(osx.InvalidConfigError, match="'account'"):
        osx.new("azure", container="c", access_key=AZURITE_KEY)
    with pytest.raises(osx.InvalidConfigError, match="'container'"):
        osx.new("azure", account="acct")
    with pytest.raises(osx.InvalidConfigError, match="'colour'"):
        osx.new("azure", account="acct", container="c", colour="red")
    for reserved in ("Authorization", "x-ms-version", "x-ms-date"):
        with pytest.raises(osx.InvalidConfigError, match="default_headers"):
            osx.new("azure", account="acct", container="c", access_key=AZURITE_KEY, default_headers={reserved: "x"})
    with pytest.raises(osx.InvalidConfigError, match="only one"):
        osx.new("azure", account="acct", container="c", access_key=AZURITE_KEY, sas_token="sv=x&sig=y")
    # No key, SAS or credential: DefaultAzureCredential, created only when the store opens.
    default = osx.new("azure", account="acct", container="c")
    assert "auth='credential'" in repr(default)
    assert default.capabilities.sign
    assert default.capabilities.tags
    assert not default.capabilities.versions


def test_bad_key_is_refused_without_echoing_it() -> None:
    secret = "not-base64-secret!!"
    with pytest.raises(osx.InvalidConfigError) as info:
        osx.new("azure", account="acct", container="c", access_key=secret)
    assert secret not in str(info.value)


def test_environment_counts_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT", "envacct")
    monkeypatch.setenv("AZURE_STORAGE_SAS_TOKEN", "?sv=2024&sig=SECRETSIG")
    store = osx.new("azure", container="c")
    assert "account='envacct'" in repr(store)
    assert "auth='sas'" in repr(store)
    assert "SECRETSIG" not in repr(store)
    assert not store.capabilities.sign  # a SAS cannot mint new SAS URLs


async def test_environment_key_and_connection_string(
    azurite_endpoint: str, container: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT", AZURITE_ACCOUNT)
    monkeypatch.setenv("AZURE_STORAGE_KEY", AZURITE_KEY)
    async with osx.new("azure", container=container, endpoint=azurite_endpoint) as store:
        await store.put("env", b"from env")
    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT")
    monkeypatch.delenv("AZURE_STORAGE_KEY")
    conn = (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint={azurite_endpoint};"
    )
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", conn)
    async with osx.new("azure", container=container) as store:
        assert await store.get("env") == b"from env"
        assert AZURITE_KEY not in repr(store)


# ------------------------------------------------------------------------------ credentials and secrets


async def test_wrong_key_is_refused_and_not_leaked(azurite_endpoint: str, container: str) -> None:
    async with make_store(azurite_endpoint, container, access_key=WRONG_KEY) as bad:
        assert WRONG_KEY not in repr(bad)
        for call in (bad.put("x", b"1"), bad.get("x"), bad.head("x"), bad.list_with_delimiter()):
            with pytest.raises((osx.UnauthenticatedError, osx.PermissionDeniedError)) as info:
                await call
            err = info.value
            assert err.status == 403
            assert err.provider == "azure"
            assert WRONG_KEY not in str(err)
            assert "SharedKey" not in str(err)
            assert not err.retryable


async def test_sas_url_works_with_plain_http_and_tampering_is_refused(store: osx.BaseStore) -> None:
    await store.put("dir/signed file+😀.txt", b"signed body")
    url = await store.sign("GET", "dir/signed file+😀.txt", timedelta(minutes=5))
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as resp:
            assert resp.status == 200
            assert await resp.read() == b"signed body"
        sig = _sig(url)
        tampered = url.replace(sig, ("A" if sig[0] != "A" else "B") + sig[1:])
        async with http.get(tampered) as resp:
            assert resp.status == 403
        # The signature covers the blob: the same SAS on another blob is refused.
        await store.put("other", b"other")
        other = url.replace("signed%20file%2B%F0%9F%98%80.txt", "other")
        assert other != url
        async with http.get(other) as resp:
            assert resp.status == 403
        # A read SAS does not allow writing; a PUT SAS does.
        async with http.put(url, data=b"x", headers={"x-ms-blob-type": "BlockBlob"}) as resp:
            assert resp.status == 403
        put_url = await store.sign("PUT", "uploaded", 60)
        async with http.put(put_url, data=b"via sas", headers={"x-ms-blob-type": "BlockBlob"}) as resp:
            assert resp.status == 201
    assert await store.get("uploaded") == b"via sas"


async def test_sas_token_store(azurite_endpoint: str, container: str, store: osx.BaseStore) -> None:
    from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

    sas = generate_account_sas(
        AZURITE_ACCOUNT,
        AZURITE_KEY,
        ResourceTypes(object=True, container=True),
        AccountSasPermissions(read=True, write=True, delete=True, list=True, tag=True, create=True),
        datetime.now(UTC) + timedelta(hours=1),
    )
    async with make_store(azurite_endpoint, container, access_key=None, sas_token=sas) as via_sas:
        assert _sig("?" + sas) not in repr(via_sas)
        await via_sas.put("s/a", b"sas", tags={"k": "v"}, mode="create")
        assert await via_sas.get("s/a") == b"sas"
        assert await via_sas.get_tags("s/a") == {"k": "v"}
        assert [m.location async for m in via_sas.list("s")] == ["s/a"]
        await via_sas.copy("s/a", "s/b")
        await via_sas.delete_many(["s/a", "s/b"])
        with pytest.raises(osx.NotSupportedError):
            await via_sas.sign("GET", "s/a", 60)
        with pytest.raises(osx.NotFoundError) as info:
            await via_sas.get("s/a")
        assert _sig("?" + sas) not in str(info.value)
    # A tampered SAS is refused, and the error does not repeat it.
    broken = sas.replace("sig=", "sig=AAAA")
    async with make_store(azurite_endpoint, container, access_key=None, sas_token=broken) as bad:
        with pytest.raises((osx.UnauthenticatedError, osx.PermissionDeniedError)) as denied:
            await bad.get("anything")
        assert "AAAA" not in str(denied.value)
        assert "sig" not in str(denied.value)


async def test_default_headers_are_sent_and_signed(azurite_endpoint: str, container: str) -> None:
    headers = {"x-ms-client-request-id": "trace-1", "X-Trace": "t-2"}
    async with FaultProxy(azurite_endpoint) as proxy:
        endpoint = f"{proxy.url}/{AZURITE_ACCOUNT}"
        async with make_store(endpoint, container, default_headers=headers) as store:
            await store.put("d/a", b"abc", metadata={"Mixed_Case1": "v"})  # Azurite checks the signature
            got = await store.get_object("d/a")
            assert got.data == b"abc"
            assert dict(got.attributes.metadata) == {"Mixed_Case1": "v"}
            assert await store.get("d/a", range=(1, 3)) == b"bc"
            assert [m.location async for m in store.list("d")] == ["d/a"]
            await store.delete_many(["d/a"])
        seen = proxy.seen()
    assert seen
    assert all(r.headers.get("x-ms-client-request-id") == "trace-1" for r in seen)
    assert all(r.headers.get("x-trace") == "t-2" for r in seen)
    assert [r.headers.get("x-ms-range") for r in seen if r.method == "GET" and "comp" not in r.params] == [
        None,
        "bytes=1-2",
    ]


async def test_lost_answers_with_odd_names_are_reconciled(azurite_endpoint: str, container: str) -> None:
    src, dst, big = "from/sp ace+ü%41.txt", "to/d€st #1.txt", "big/ü b.bin"
    async with FaultProxy(azurite_endpoint) as proxy:
        async with make_store(f"{proxy.url}/{AZURITE_ACCOUNT}", container, prefix="p fx") as store:
            lost_put = proxy.inject(Fault.lost(), where=lambda r: r.method == "PUT" and not r.params)
            await store.put(src, b"source", mode="create", tags={"k": "v w"})
            copy = proxy.inject(Fault.lost(), where=lambda r: "x-ms-copy-source" in r.headers)
            await store.copy_if_not_exists(src, dst)
            commit = proxy.inject(Fault.lost(), where=lambda r: r.params.get("comp") == "blocklist")
            data = random.randbytes(2 * 1024 * 1024 + 5)
            await store.put_stream(big, [data], part_size=1024 * 1024, mode="create")
            assert (lost_put.injected, copy.injected, commit.injected) == (1, 1, 1)
            assert await store.get(dst) == b"source"
            assert await store.get_tags(dst) == {"k": "v w"}
            assert await store.get(big) == data
            # Someone else's object is not taken for ours.
            proxy.inject(Fault.lost(), where=lambda r: "x-ms-copy-source" in r.headers)
            await store.put("to/theirs", b"theirs")
            with pytest.raises(osx.AlreadyExistsError):
                await store.copy_if_not_exists(src, "to/theirs")
            assert await store.get("to/theirs") == b"theirs"


# ------------------------------------------------------------------------------ blocks


async def _uncommitted(azurite_endpoint: str, container: str, name: str) -> tuple[list[str], list[Any]]:
    """Blob names listed (committed only) and the committed blocks of ``name``."""
    async with sdk_client(azurite_endpoint) as service:  # type: ignore[attr-defined]
        box = service.get_container_client(container)
        names = [b.name async for b in box.list_blobs()]
        try:
            committed, _ = await box.get_blob_client(name).get_block_list("committed")
        except Exception:  # the blob does not exist at all
            committed = []
    return names, committed


async def test_block_upload_abort_leaves_nothing(azurite_endpoint: str, container: str, store: osx.BaseStore) -> None:
    part = 1024 * 1024
    staged = asyncio.Event()

    class Boom(Exception):
        pass

    async def source() -> AsyncIterator[bytes]:
        for _ in range(3):  # three whole blocks staged
            yield random.randbytes(part)
        staged.set()
        await asyncio.sleep(0.2)
        raise Boom

    with pytest.raises(Boom):
        await store.put_stream("aborted", source(), part_size=part, max_concurrency=2)
    assert staged.is_set()
    names, committed = await _uncommitted(azurite_endpoint, container, "aborted")
    assert names == []
    assert committed == []
    with pytest.raises(osx.NotFoundError):
        await store.head("aborted")

    # Cancelled mid-upload: same.
    async def slow() -> AsyncIterator[bytes]:
        yield random.randbytes(2 * part + 1)
        await asyncio.Event().wait()
        yield b""

    task = asyncio.create_task(store.put_stream("cancelled", slow(), part_size=part))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    names, committed = await _uncommitted(azurite_endpoint, container, "cancelled")
    assert names == []
    assert committed == []


async def test_block_upload_commits_in_order_with_attributes(store: osx.BaseStore) -> None:
    data = random.randbytes(3 * 1024 * 1024 + 17)
    chunks = [data[i : i + 300_001] for i in range(0, len(data), 300_001)]
    res = await store.put_stream(
        "blocks",
        chunks,
        part_size=1024 * 1024,
        max_concurrency=3,
        content_type="x/y",
        metadata={"a": "1"},
        tags={"t": "1"},
    )
    got = await store.get_object("blocks")
    assert got.data == data
    assert got.meta.etag == res.etag
    assert got.attributes.content_type == "x/y"
    assert dict(got.attributes.metadata) == {"a": "1"}
    assert await store.get_tags("blocks") == {"t": "1"}
    with pytest.raises(osx.AlreadyExistsError):
        await store.put_stream("blocks", chunks, part_size=1024 * 1024, mode="create")
    assert await store.get("blocks") == data


# ------------------------------------------------------------------------------ batches, copies, metadata


async def test_delete_many_collects_per_blob_errors(
    azurite_endpoint: str, container: str, store: osx.BaseStore
) -> None:
    names = [f"many/{i:03d}" for i in range(300)]  # more than one batch of 256
    await asyncio.gather(*(store.put(n, b"x") for n in names))
    await store.put("leased", b"locked")
    async with sdk_client(azurite_endpoint) as service:  # type: ignore[attr-defined]
        lease = await service.get_container_client(container).get_blob_client("leased").acquire_lease(-1)
        with pytest.raises(osx.BulkDeleteError) as info:
            await store.delete_many([*names, "leased", "never-existed"])
        await lease.release()
    assert set(info.value.errors) == {"leased"}  # a missing blob is not an error
    err = info.value.errors["leased"]
    assert isinstance(err, osx.ObjectStoreError)
    assert err.path == "leased"
    assert err.status == 412
    assert [m.location async for m in store.list()] == ["leased"]


async def test_copy_keeps_tags_and_settings(store: osx.BaseStore) -> None:
    await store.put("src", b"data", tags={"team": "x"}, content_language="de", metadata={"k": "v"})
    await store.copy("src", "dst")
    assert await store.get_tags("dst") == {"team": "x"}
    got = await store.get_object("dst")
    assert got.attributes.content_language == "de"
    assert dict(got.attributes.metadata) == {"k": "v"}
    await store.rename_if_not_exists("dst", "moved")
    assert await store.get_tags("moved") == {"team": "x"}


async def test_metadata_names_checked_before_io(store: osx.BaseStore) -> None:
    for bad in ({"with-dash": "v"}, {"1digit": "v"}, {"ok": "non-ascii é"}):
        with pytest.raises(osx.InvalidArgumentError):
            await store.put("m", b"x", metadata=bad)
        with pytest.raises(osx.InvalidArgumentError):
            await store.put_stream("m", [b"x"], metadata=bad)
    with pytest.raises(osx.NotFoundError):
        await store.head("m")


async def test_missing_container(azurite_endpoint: str) -> None:
    async with make_store(azurite_endpoint, f"nope-{uuid.uuid4().hex[:8]}") as store:
        with pytest.raises(osx.NotFoundError, match="container"):
            await store.put("x", b"1")
        await store.delete("x")  # idempotent even here


async def test_unreachable_endpoint_is_a_transport_error() -> None:
    store = make_store(
        f"http://127.0.0.1:{free_port()}/{AZURITE_ACCOUNT}",
        "c",
        retry=osx.RetryConfig(max_retries=1, initial_backoff=0.01),
        timeouts=osx.Timeouts(connect=2, read=2),
    )
    async with store:
        with pytest.raises(osx.TransportError) as info:
            await store.get("x")
        assert info.value.retryable


# ------------------------------------------------------------------------------ listings

ODD_NAMES = ["sp ace", "pct%41", "pct%", "plus+sign", "ünï/cödé 😀", "q?x#y", "amp&=;", "d/a", "d/b", "e/f/g"]


async def test_listing_pages_with_odd_names(store: osx.BaseStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(AzureStore, "page_size", 2)  # every listing spans several NextMarker pages
    await asyncio.gather(*(store.put(f"odd/{n}", n.encode()) for n in ODD_NAMES))
    expected = sorted(ODD_NAMES)
    assert [m.location async for m in store.list("odd")] == [f"odd/{n}" for n in expected]
    listed = [m async for m in store.list("odd")]
    for meta in listed:
        assert meta.size == len(meta.location[4:].encode())
        assert meta.etag == (await store.head(meta.location)).etag
        assert meta.last_modified.tzinfo is not None
    # offset is exclusive, also across pages
    after = [m.location async for m in store.list("odd", offset="odd/pct%")]
    assert after == [f"odd/{n}" for n in expected if n > "pct%"]
    root = await store.list_with_delimiter("odd")
    assert [m.location for m in root.objects] == [f"odd/{n}" for n in expected if "/" not in n]
    assert root.common_prefixes == ["odd/d", "odd/e", "odd/ünï"]
    for name in ("d", "ünï"):
        below = await store.list_with_delimiter(f"odd/{name}")
        assert [m.location for m in below.objects] == [f"odd/{n}" for n in expected if n.startswith(f"{name}/")]
    for meta in listed:
        assert await store.get(meta.location) == meta.location[4:].encode()


async def test_listing_with_offset_under_a_sas(azurite_endpoint: str, container: str, store: osx.BaseStore) -> None:
    from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

    sas = generate_account_sas(
        AZURITE_ACCOUNT,
        AZURITE_KEY,
        ResourceTypes(object=True, container=True),
        AccountSasPermissions(read=True, write=True, delete=True, list=True),
        datetime.now(UTC) + timedelta(hours=1),
    )
    await asyncio.gather(*(store.put(f"s/{i}", b"x") for i in range(5)))
    async with make_store(azurite_endpoint, container, access_key=None, sas_token=sas) as via_sas:
        assert [m.location async for m in via_sas.list("s", offset="s/1")] == ["s/2", "s/3", "s/4"]
        assert (await via_sas.list_with_delimiter()).common_prefixes == ["s"]


def test_encoded_names_in_a_listing_are_decoded() -> None:
    from objectstorex.backends.azure.documents import parse_list_page

    body = (
        b'<?xml version="1.0" encoding="utf-8"?><EnumerationResults><Blobs>'
        b'<Blob><Name Encoded="true">a%EF%BF%BEb%25</Name><Properties>'
        b"<Last-Modified>Mon, 30 Nov 2026 10:00:00 GMT</Last-Modified><Etag>0x8D1</Etag>"
        b"<Content-Length>3</Content-Length></Properties></Blob>"
        b"<Blob><Name>plain%41</Name><Properties><Last-Modified>Mon, 30 Nov 2026 10:00:01 GMT</Last-Modified>"
        b"<Content-Length>0</Content-Length></Properties></Blob>"
        b'<BlobPrefix><Name Encoded="true">p%EF%BF%BF/</Name></BlobPrefix>'
        b"</Blobs><NextMarker>m2</NextMarker></EnumerationResults>"
    )
    blobs, prefixes, marker = parse_list_page(body)
    assert [(b[0], b[1], b[3]) for b in blobs] == [("a\ufffeb%", 3, '"0x8D1"'), ("plain%41", 0, None)]
    assert blobs[0][2] == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert prefixes == ["p\uffff/"]
    assert marker == "m2"
    no_date = body.replace(b"<Last-Modified>Mon, 30 Nov 2026 10:00:01 GMT</Last-Modified>", b"")
    with pytest.raises(osx.ObjectStoreError, match="Last-Modified"):
        parse_list_page(no_date)


# ------------------------------------------------------------------------------ timeouts


class _StalledServer:
    """A TCP server on 127.0.0.1 that reads requests and never finishes an answer (optionally
    sending the status line and headers first)."""

    def __init__(self, *, send_headers: bool) -> None:
        self.send_headers = send_headers
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        await reader.readuntil(b"\r\n\r\n")
        if self.send_headers:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 1000\r\n\r\n<?xml")
            await writer.drain()
        await asyncio.Event().wait()  # stall until the client gives up

    async def close(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


class _Token:
    token = "not-a-real-token"
    expires_on = 4_000_000_000


class _StaticCredential:
    """A token credential in azure-identity's shape (``get_token``), for a server that checks none."""

    async def get_token(self, *scopes: str) -> _Token:
        return _Token()

    async def close(self) -> None:
        pass


@pytest.mark.parametrize("send_headers", [False, True], ids=["no-answer", "stall-in-body"])
async def test_a_stalled_server_is_bounded_by_timeouts_read(send_headers: bool) -> None:
    server = _StalledServer(send_headers=send_headers)
    endpoint = await server.start()
    options: dict[str, Any] = {
        "retry": osx.RetryConfig(max_retries=1, initial_backoff=0.01, max_backoff=0.01),
        "timeouts": osx.Timeouts(connect=2, read=0.5),
    }
    loop = asyncio.get_running_loop()
    try:
        async with make_store(endpoint, "c", **options) as store:
            for call in (store.list_with_delimiter("a"), _drain(store.list("a", offset="a/b"))):
                began = loop.time()
                with pytest.raises(osx.TransportError) as info:
                    await call
                assert loop.time() - began < 5
                assert info.value.retryable
            # The batch delete times out, then each path is tried alone (and times out too).
            began = loop.time()
            with pytest.raises(osx.BulkDeleteError) as bulk:
                await store.delete_many(["a", "b"])
            assert loop.time() - began < 8
            assert all(isinstance(e, osx.TransportError) for e in bulk.value.errors.values())
        # The user-delegation key of a credential store's sign() is a request like the others.
        async with make_store(endpoint, "c", access_key=None, credential=_StaticCredential(), **options) as store:
            began = loop.time()
            with pytest.raises(osx.TransportError):
                await store.sign("GET", "a", 60)
            assert loop.time() - began < 5
    finally:
        await server.close()
    assert server.connections >= 4


async def _drain(items: AsyncIterator[osx.ObjectMeta]) -> None:
    async for _ in items:
        pass


async def test_user_delegation_sas_from_the_service_key() -> None:
    from aiohttp import web

    requests: list[tuple[str, str, str, bytes]] = []
    answer = (
        '<?xml version="1.0" encoding="utf-8"?><UserDelegationKey><SignedOid>oid-1</SignedOid>'
        "<SignedTid>tid-1</SignedTid><SignedStart>2026-11-30T00:00:00Z</SignedStart>"
        "<SignedExpiry>2026-12-07T00:00:00Z</SignedExpiry><SignedService>b</SignedService>"
        "<SignedVersion>2025-01-05</SignedVersion><Value>"
        + base64.b64encode(b"k" * 32).decode()
        + "</Value></UserDelegationKey>"
    )

    async def handle(request: web.Request) -> web.Response:
        requests.append(
            (request.method, request.path_qs, request.headers.get("Authorization", ""), await request.read())
        )
        return web.Response(body=answer.encode(), content_type="application/xml")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        endpoint = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
        async with make_store(endpoint, "box", access_key=None, credential=_StaticCredential()) as store:
            url = await store.sign("GET", "dir/a b.txt", timedelta(hours=1))
            again = await store.sign("GET", "other", 600)
    finally:
        await runner.cleanup()
    assert len(requests) == 1  # the key is cached
    method, target, authorization, body = requests[0]
    assert (method, target) == ("POST", f"/{AZURITE_ACCOUNT}/?restype=service&comp=userdelegationkey")
    assert authorization == "Bearer not-a-real-token"
    assert b"<Start>" in body
    assert b"<Expiry>" in body
    assert url.startswith(f"{endpoint}/box/dir/a%20b.txt?")
    for signed in (url, again):
        assert "skoid=oid-1" in signed
        assert "sktid=tid-1" in signed
        assert "sig=" in signed


# ------------------------------------------------------------------------------ dropped connections


async def test_get_stream_resumes_pinned_to_the_etag(azurite_endpoint: str, container: str) -> None:
    data = random.randbytes(4 * 1024 * 1024)
    async with FaultProxy(azurite_endpoint) as proxy:
        async with make_store(f"{proxy.url}/{AZURITE_ACCOUNT}", container) as store:
            await store.put("big", data)
            cut = proxy.inject(Fault.reset(1024 * 1024), method="GET", path="/big")
            got = bytearray()
            async with store.get_stream("big", chunk_size=256 * 1024) as stream:
                async for chunk in stream:
                    got += chunk
            assert cut.injected == 1
            assert bytes(got) == data  # resumed from the byte received, nothing lost or doubled
            resumed = proxy.seen(method="GET", path="/big")[-1]
            assert resumed.headers["x-ms-range"].startswith("bytes=1048576-")
            assert resumed.headers["if-match"]

            # The object changes before the cut: the resumed read is refused, never spliced.
            cut = proxy.inject(Fault.reset(1024 * 1024), method="GET", path="/big")
            got.clear()

            async def read_while_overwriting() -> None:
                async with store.get_stream("big", chunk_size=256 * 1024) as stream:
                    async for chunk in stream:
                        if not got:
                            await store.put("big", random.randbytes(len(data)))
                        got.extend(chunk)

            with pytest.raises(osx.PreconditionError):
                await read_while_overwriting()
            assert cut.injected == 1
            assert len(got) < len(data)
            assert bytes(got) == data[: len(got)]
