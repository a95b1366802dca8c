"""Azure-specific behaviour on Azurite 3.37: credentials, SAS URLs, blocks, batches, secrets."""

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
from objectstorex.backends._azure_auth import AZURITE_ACCOUNT, AZURITE_KEY
from tests.emulators._servers import CuttingProxy
from tests.emulators.azure import create_container, make_store, sdk_client

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
    from tests.emulators._servers import free_port

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


# ------------------------------------------------------------------------------ dropped connections


async def test_get_stream_resumes_pinned_to_the_etag(azurite_endpoint: str, container: str) -> None:
    port = int(azurite_endpoint.rsplit(":", 1)[1].split("/", 1)[0])
    proxy = CuttingProxy(port)
    proxied = f"http://127.0.0.1:{await proxy.start()}/{AZURITE_ACCOUNT}"
    data = random.randbytes(4 * 1024 * 1024)
    try:
        async with make_store(proxied, container) as store:
            await store.put("big", data)
            proxy.arm(1024 * 1024)
            got = bytearray()
            async with store.get_stream("big", chunk_size=256 * 1024) as stream:
                async for chunk in stream:
                    got += chunk
            assert proxy.cuts == 1
            assert bytes(got) == data  # resumed from the byte received, nothing lost or doubled

            # The object changes before the cut: the resumed read is refused, never spliced.
            proxy.arm(1024 * 1024)
            got.clear()

            async def read_while_overwriting() -> None:
                async with store.get_stream("big", chunk_size=256 * 1024) as stream:
                    async for chunk in stream:
                        if not got:
                            await store.put("big", random.randbytes(len(data)))
                        got.extend(chunk)

            with pytest.raises(osx.PreconditionError):
                await read_while_overwriting()
            assert proxy.cuts == 2
            assert len(got) < len(data)
            assert bytes(got) == data[: len(got)]
    finally:
        await proxy.close()
