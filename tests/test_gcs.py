"""GCS-specific behaviour on fake-gcs-server: options, keys, signing, generations, resumable uploads,
rewrites, batches and secrets.

Some real-GCS behaviours fake-gcs-server lacks -- a rewrite that takes several calls, a batch
with a per-object failure, an OAuth token endpoint, a write racing a compare-and-swap -- come
from :class:`Gateway`: a real HTTP server in front of the emulator that forwards every request
and changes only what a test asks it to. The adapter under test still speaks HTTP to a server.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import traceback
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import objectstorex as osx
from objectstorex.backends.gcs.auth import signed_url
from objectstorex.backends.gcs.dialect import parse_batch_response
from tests.emulators._servers import free_port
from tests.emulators.faults import Fault, FaultProxy
from tests.emulators.gcs import TEST_KEY_FILE, create_bucket, make_store, raw, upload

MIB = 1024 * 1024
KEY: dict[str, Any] = json.loads(TEST_KEY_FILE.read_text(encoding="utf-8"))
PRIVATE_MARK = KEY["private_key"].splitlines()[1][:24]  # a piece of the private key: must never leak

#: Google's V4 conformance vector "Simple GET" (googleapis/conformance-tests, v4_signatures.json).
SIMPLE_GET_URL = (
    "https://storage.googleapis.com/test-bucket/test-object"
    "?X-Goog-Algorithm=GOOG4-RSA-SHA256"
    "&X-Goog-Credential=test-iam-credentials%40dummy-project-id.iam.gserviceaccount.com"
    "%2F20190201%2Fauto%2Fstorage%2Fgoog4_request"
    "&X-Goog-Date=20190201T090000Z&X-Goog-Expires=10&X-Goog-SignedHeaders=host"
    "&X-Goog-Signature=95e6a13d43a1d1962e667f17397f2b80ac9bdd1669210d5e08e0135df9dff4e56113485dbe429ca2266487b9d"
    "1796ebdee2d7cf682a6ef3bb9fbb4c351686fba90d7b621cf1c4eb1fdf126460dd25fa0837dfdde0a9fd98662ce60844c458448fb2b"
    "352c203d9969cb74efa4bdb742287744a4f2308afa4af0e0773f55e32e92973619249214b97283b2daa14195244444e33f938138d1e5"
    "f561088ce8011f4986dda33a556412594db7c12fc40e1ff3f1bedeb7a42f5bcda0b9567f17f65855f65071fabb88ea12371877f3f77"
    "f10e1466fff6ff6973b74a933322ff0949ce357e20abe96c3dd5cfab42c9c83e740a4d32b9e11e146f0eb3404d2e975896f74"
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")  # the token fetch goes through requests


@pytest.fixture
def bucket(fake_gcs_endpoint: str) -> str:
    name = f"t-{uuid.uuid4().hex[:20]}"
    create_bucket(fake_gcs_endpoint, name)
    return name


@pytest.fixture
async def store(fake_gcs_endpoint: str, bucket: str) -> AsyncIterator[osx.BaseStore]:
    async with make_store(fake_gcs_endpoint, bucket) as s:
        yield s


# ------------------------------------------------------------------------------ the gateway


class Gateway:
    """An HTTP server forwarding to fake-gcs-server, recording requests, changing what is asked.

    Attributes:
        requests: (method, path with query, headers) of every request, in order.
        rewrite_rounds: answer this many ``rewriteTo`` calls with ``done: false`` first.
        deny: object names whose delete in a batch answers 403.
        before_metadata: run before forwarding a metadata GET (e.g. a racing write).
        token_status: what the ``/token`` OAuth endpoint answers.
        persist_half: store only half of the next resumable chunk (a short 308).
        persist_half_final: store only half of the last chunk of the next resumable upload (a 308
            where the upload should have ended).
        metadata_changed: object names whose metadata answers show a metadata-only change as
            GCS does (a new ETag and metageneration, the same generation).
        truncate_final: cut the next final answer of a resumable upload in half.
        answer_status_as_gcs: answer a status query to a finished session as GCS does (200 and
            the object), where fake-gcs-server answers 404.
        status_queries: the upstream statuses of the status queries (empty PUTs) to sessions.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.rewrite_rounds = 0
        self.deny: set[str] = set()
        self.before_metadata: Callable[[], Awaitable[None]] | None = None
        self.token_status = 200
        self.tokens_issued = 0
        self.persist_half = False
        self.persist_half_final = False
        self.metadata_changed: set[str] = set()
        self.truncate_final = False
        self.answer_status_as_gcs = False
        self.status_queries: list[int] = []
        self._finished: dict[str, bytes] = {}
        self.url = ""
        self._client: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._client = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()

    async def forward(self, method: str, path_qs: str, headers: Any, body: bytes) -> web.Response:
        assert self._client is not None
        sent = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length", "authorization")}
        async with self._client.request(method, self.upstream + path_qs, headers=sent, data=body) as resp:
            data = await resp.read()
            out = {
                k: v.replace(self.upstream, self.url)  # resumable sessions come back through here
                for k, v in resp.headers.items()
                if k.lower() not in ("content-length", "transfer-encoding", "date", "server")
            }
            return web.Response(status=resp.status, body=data, headers=out)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append((request.method, request.path_qs, dict(request.headers)))
        if request.path == "/token":
            return self.token(body)
        if request.path == "/batch/storage/v1" and self.deny:
            return await self.batch(request, body)
        if "/rewriteTo/" in request.path and self.rewrite_rounds and "rewriteToken" not in request.query:
            self.rewrite_rounds -= 1
            answer = {"kind": "storage#rewriteResponse", "done": False, "rewriteToken": f"tok{self.rewrite_rounds}"}
            return web.json_response(answer)
        if "/rewriteTo/" in request.path and "rewriteToken" in request.query:
            if self.rewrite_rounds:  # resumed, with more rounds to go
                self.rewrite_rounds -= 1
                answer = {"kind": "storage#rewriteResponse", "done": False, "rewriteToken": f"tok{self.rewrite_rounds}"}
                return web.json_response(answer)
            query = {k: v for k, v in request.query.items() if k != "rewriteToken"}
            path_qs = request.path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
            return await self.forward(request.method, path_qs, request.headers, body)
        if request.method == "PUT" and "upload_id" in request.query:
            if self.persist_half:
                return await self.half_chunk(request, body)
            return await self.session_put(request, body)
        is_metadata_get = request.method == "GET" and "/o/" in request.path and "alt" not in request.query
        if is_metadata_get and self.before_metadata is not None:
            await self.before_metadata()
        if is_metadata_get and request.path.rsplit("/o/", 1)[1] in self.metadata_changed:
            return await self.changed_metadata(request)
        return await self.forward(request.method, request.raw_path, request.headers, body)

    async def changed_metadata(self, request: web.Request) -> web.Response:
        """The resource after a metadata-only change on GCS: new ETag and metageneration, same generation."""
        resp = await self.forward("GET", request.raw_path, request.headers, b"")
        assert isinstance(resp.body, bytes)
        item = json.loads(resp.body)
        item["etag"] = f"{item['etag']}-meta2"
        item["metageneration"] = str(int(item.get("metageneration", "1")) + 1)
        return web.json_response(item)

    async def session_put(self, request: web.Request, body: bytes) -> web.Response:
        upload_id = request.query["upload_id"]
        finished = not request.headers.get("Content-Range", "").endswith("/*")
        if finished and body and self.persist_half_final:
            self.persist_half_final = False
            return await self.half_chunk(request, body)
        resp = await self.forward("PUT", request.raw_path, request.headers, body)
        if not body and request.headers.get("Content-Range", "").startswith("bytes */"):
            self.status_queries.append(resp.status)
            if resp.status == 404 and self.answer_status_as_gcs and upload_id in self._finished:
                return web.Response(body=self._finished[upload_id], content_type="application/json")
            return resp
        if finished and self.truncate_final and resp.status in (200, 201) and isinstance(resp.body, bytes):
            self.truncate_final = False
            self._finished[upload_id] = resp.body
            return web.Response(
                status=resp.status, body=resp.body[: len(resp.body) // 2], content_type="application/json"
            )
        return resp

    async def half_chunk(self, request: web.Request, body: bytes) -> web.Response:
        """Persist only the first half of a chunk, as GCS may (308 with a shorter Range)."""
        self.persist_half = False
        first = request.headers["Content-Range"].removeprefix("bytes ").partition("-")[0]
        half = len(body) // 2
        headers = {"Content-Range": f"bytes {first}-{int(first) + half - 1}/*"}
        return await self.forward("PUT", request.raw_path, headers, body[:half])

    def token(self, body: bytes) -> web.Response:
        if self.token_status != 200:
            return web.json_response({"error": "invalid_grant", "error_description": "refused"}, status=400)
        assert b"assertion=" in body  # a signed JWT from the service-account key
        self.tokens_issued += 1
        return web.json_response(
            {"access_token": f"ya29.test-token-{self.tokens_issued}", "expires_in": 3600, "token_type": "Bearer"}
        )

    async def batch(self, request: web.Request, body: bytes) -> web.Response:
        """Run each DELETE of a batch against the emulator, answering 403 for denied names."""
        boundary = re.search(r"boundary=([^;]+)", request.headers["Content-Type"]).group(1)  # type: ignore[union-attr]
        parts = body.split(f"--{boundary}".encode())[1:-1]
        out = []
        for part in parts:
            cid = re.search(rb"Content-ID: <([^>]+)>", part).group(1).decode()  # type: ignore[union-attr]
            line = re.search(rb"DELETE (\S+) HTTP", part).group(1).decode()  # type: ignore[union-attr]
            name = line.rsplit("/o/", 1)[1]
            if any(d in urllib.parse.unquote(name) for d in self.deny):
                status, text = 403, json.dumps({"error": {"code": 403, "errors": [{"reason": "forbidden"}]}})
            else:
                resp = await self.forward("DELETE", line, {}, b"")
                status, text = resp.status, resp.body.decode() if isinstance(resp.body, bytes) else ""
            out.append(
                f"--resp\r\nContent-Type: application/http\r\nContent-ID: <response-{cid}>\r\n\r\n"
                f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n\r\n{text}\r\n"
            )
        payload = "".join(out) + "--resp--\r\n"
        return web.Response(body=payload.encode(), headers={"Content-Type": "multipart/mixed; boundary=resp"})


@pytest.fixture
async def gateway(fake_gcs_endpoint: str) -> AsyncIterator[Gateway]:
    gw = Gateway(fake_gcs_endpoint)
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


@pytest.fixture
async def gw_store(gateway: Gateway, bucket: str) -> AsyncIterator[osx.BaseStore]:
    async with make_store(gateway.url, bucket) as s:
        yield s


# ------------------------------------------------------------------------------ configuration


def test_options_and_factory(tmp_path: Path) -> None:
    store = osx.from_url("gs://data/2024/q1", anonymous=True, endpoint="http://127.0.0.1:1")
    assert isinstance(store, osx.GCSStore)
    assert "prefix='2024/q1'" in repr(store)
    assert "bucket='data'" in repr(store)
    assert osx.new("gcs", bucket="b", anonymous=True).capabilities.tags is False
    with pytest.raises(osx.InvalidConfigError, match="unknown option 'region'"):
        osx.new("gcs", bucket="b", region="x")
    with pytest.raises(osx.InvalidConfigError, match="bucket"):
        osx.new("gcs", bucket="")
    with pytest.raises(osx.InvalidConfigError, match="endpoint"):
        osx.new("gcs", bucket="b", endpoint="ftp://x")
    with pytest.raises(osx.InvalidConfigError, match="anonymous"):
        osx.new("gcs", bucket="b", anonymous="yes")


def test_key_forms_and_signing_capability(tmp_path: Path) -> None:
    text = TEST_KEY_FILE.read_text(encoding="utf-8")
    for key in (KEY, text, str(TEST_KEY_FILE), TEST_KEY_FILE):
        store = osx.GCSStore(bucket="b", service_account_key=key)
        assert store.capabilities.sign
        assert "auth='service_account'" in repr(store)
    assert osx.GCSStore(bucket="b", anonymous=True).capabilities.sign is False


def test_bad_keys_are_refused_without_echoing_them(tmp_path: Path) -> None:
    broken = KEY["private_key"] + '{"not json'
    with pytest.raises(osx.InvalidConfigError) as info:
        osx.GCSStore(bucket="b", service_account_key="{" + broken)
    assert PRIVATE_MARK not in str(info.value)
    assert "not valid JSON" in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None
    with pytest.raises(osx.InvalidConfigError, match="lacks client_email"):
        osx.GCSStore(bucket="b", service_account_key={"type": "service_account", "private_key": KEY["private_key"]})
    with pytest.raises(osx.InvalidConfigError, match="cannot read the key file"):
        osx.GCSStore(bucket="b", service_account_key=str(tmp_path / "missing.json"))
    with pytest.raises(osx.InvalidConfigError, match="expected a 'service_account'"):
        osx.GCSStore(bucket="b", service_account_key={"type": "external_account"})
    with pytest.raises(osx.InvalidConfigError, match="must be a dict"):
        osx.GCSStore(bucket="b", service_account_key=42)  # type: ignore[arg-type]


def test_environment_counts_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(TEST_KEY_FILE))
    store = osx.GCSStore(bucket="b")
    assert store.capabilities.sign
    assert "auth='service_account'" in repr(store)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "127.0.0.1:4443")
    emulated = osx.GCSStore(bucket="b")
    assert "endpoint='http://127.0.0.1:4443'" in repr(emulated)
    assert "auth='anonymous'" in repr(emulated)
    explicit = osx.GCSStore(bucket="b", endpoint="https://gcs.example.com")
    assert "auth='service_account'" in repr(explicit)  # an explicit endpoint wins, credentials stay


async def test_emulator_host_is_used(monkeypatch: pytest.MonkeyPatch, fake_gcs_endpoint: str, bucket: str) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake_gcs_endpoint.removeprefix("http://"))
    async with osx.from_url(f"gs://{bucket}/p") as store:
        await store.put("x", b"via STORAGE_EMULATOR_HOST")
        assert await store.get("x") == b"via STORAGE_EMULATOR_HOST"
    async with make_store(fake_gcs_endpoint, bucket) as plain:
        assert await plain.get("p/x") == b"via STORAGE_EMULATOR_HOST"


# ------------------------------------------------------------------------------ signing


def test_signed_url_matches_googles_conformance_vector() -> None:
    when = datetime(2019, 2, 1, 9, 0, 0, tzinfo=UTC)
    args: dict[str, Any] = {
        "endpoint": "https://storage.googleapis.com",
        "bucket": "test-bucket",
        "name": "test-object",
        "expires_in": timedelta(seconds=10),
        "now": when,
    }
    url = signed_url(KEY, method="GET", **args)
    assert url == SIMPLE_GET_URL
    assert signed_url(KEY, method="GET", **args) == url  # same key, time and request: same URL
    put = signed_url(KEY, method="PUT", **args)
    assert put.split("X-Goog-Signature=")[1] != url.split("X-Goog-Signature=")[1]


async def test_sign_needs_a_key_and_at_most_seven_days(fake_gcs_endpoint: str, bucket: str) -> None:
    async with osx.GCSStore(bucket=bucket, endpoint=fake_gcs_endpoint, anonymous=True) as keyless:
        with pytest.raises(osx.InvalidConfigError, match="service-account key"):
            await keyless.sign("GET", "x", 60)
    default_credentials = osx.GCSStore(bucket=bucket)  # refused before any credential lookup
    with pytest.raises(osx.InvalidConfigError, match="service-account key"):
        await default_credentials.sign("GET", "x", 60)
    await default_credentials.close()
    async with make_store(fake_gcs_endpoint, bucket) as store:
        with pytest.raises(osx.InvalidArgumentError, match="7 days"):
            await store.sign("GET", "x", timedelta(days=8))
        url = await store.sign("PUT", "dir/a b.txt", 60)
        assert url.startswith(f"{fake_gcs_endpoint}/{bucket}/dir/a%20b.txt?X-Goog-Algorithm=GOOG4-RSA-SHA256&")
        assert PRIVATE_MARK not in url


# ------------------------------------------------------------------------------ credentials


async def test_service_account_token_is_fetched_and_sent(
    gateway: Gateway, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = {**KEY, "token_uri": f"{gateway.url}/token"}
    async with osx.GCSStore(bucket=bucket, endpoint=gateway.url, service_account_key=key) as store:
        await store.put("a", b"1")
        assert await store.get("a") == b"1"
    sent = [h.get("Authorization") for m, p, h in gateway.requests if p != "/token"]
    assert sent
    assert all(a == "Bearer ya29.test-token-1" for a in sent)
    assert gateway.tokens_issued == 1  # cached until near expiry


async def test_refused_credentials_are_reported_without_secrets(gateway: Gateway, bucket: str) -> None:
    gateway.token_status = 400
    key = {**KEY, "token_uri": f"{gateway.url}/token"}
    store = osx.GCSStore(bucket=bucket, endpoint=gateway.url, service_account_key=key)
    async with store:
        with pytest.raises(osx.UnauthenticatedError) as info:
            await store.get("a")
    text = f"{info.value!s} {info.value!r} {store!r}" + "".join(traceback.format_exception(info.value))
    assert PRIVATE_MARK not in text
    assert "BEGIN PRIVATE" not in text
    # The signed JWT (sent as "assertion=<jwt>" to the token endpoint) never shows. Python 3.13
    # tracebacks quote google-auth's source, where "assertion" is a variable name: look for the value.
    assert "assertion=" not in text
    assert re.search(r"eyJ[\w-]{10,}\.[\w-]{10,}", text) is None


async def test_default_headers_are_sent_and_never_replace_the_stores(gateway: Gateway, bucket: str) -> None:
    key = {**KEY, "token_uri": f"{gateway.url}/token"}
    extra = {"X-Trace-Id": "t-1", "X-Goog-User-Project": "billing"}
    async with osx.GCSStore(bucket=bucket, endpoint=gateway.url, service_account_key=key, default_headers=extra) as s:
        await s.put("h", b"1")
        assert await s.get("h") == b"1"
    sent = [h for m, p, h in gateway.requests if p != "/token"]
    assert len(sent) == 2
    assert all(h.get("X-Trace-Id") == "t-1" and h.get("X-Goog-User-Project") == "billing" for h in sent)
    assert all(h.get("Authorization", "").startswith("Bearer ya29.") for h in sent)
    with pytest.raises(osx.InvalidConfigError, match="Authorization"):
        osx.GCSStore(bucket=bucket, anonymous=True, default_headers={"Authorization": "Bearer mine"})


async def test_unreachable_endpoint_is_a_transport_error() -> None:
    retry = osx.RetryConfig(max_retries=1, initial_backoff=0.01, max_backoff=0.01)
    async with osx.GCSStore(bucket="b", endpoint=f"http://127.0.0.1:{free_port()}", anonymous=True, retry=retry) as s:
        with pytest.raises(osx.TransportError):
            await s.get("x")


async def test_missing_bucket(fake_gcs_endpoint: str) -> None:
    async with make_store(fake_gcs_endpoint, "no-such-bucket-here") as store:
        with pytest.raises(osx.NotFoundError) as info:
            await store.head("x")
        assert info.value.status == 404
        assert info.value.__cause__ is not None  # the provider's answer, chained
        with pytest.raises(osx.NotFoundError):
            await store.put("x", b"y")


# ------------------------------------------------------------------------------ generations


async def test_generation_round_trip(store: osx.BaseStore) -> None:
    first = await store.put("g", b"one")
    second = await store.put("g", b"two")
    assert first.version
    assert second.version
    assert first.version != second.version
    assert int(second.version) > int(first.version)  # generations grow
    head = await store.head("g")
    assert head.version == second.version
    assert head.etag == second.etag
    assert await store.get("g", version=first.version) == b"one"
    old = await store.get_object("g", version=first.version)
    assert old.meta.version == first.version
    assert old.meta.etag == first.etag
    assert (await store.head("g", version=first.version)).version == first.version
    listed = [m async for m in store.list()]
    assert [(m.location, m.version, m.etag) for m in listed] == [("g", second.version, second.etag)]
    with pytest.raises(osx.PreconditionError):
        await store.put("g", b"stale", mode=osx.UpdateVersion(version=first.version))
    third = await store.put("g", b"three", mode=osx.UpdateVersion(version=second.version))
    assert third.version not in (first.version, second.version)
    with pytest.raises(osx.NotFoundError):
        await store.get("g", version="1")


async def test_etag_cas_is_resolved_to_a_generation(store: osx.BaseStore) -> None:
    put = await store.put("e", b"one")
    with pytest.raises(osx.PreconditionError):
        await store.put("e", b"x", mode=osx.UpdateVersion(etag='"not-the-etag"'))
    with pytest.raises(osx.PreconditionError):
        await store.put("missing", b"x", mode=osx.UpdateVersion(etag=put.etag))
    assert put.etag is not None
    done = await store.put("e", b"two", mode=osx.UpdateVersion(etag=put.etag))
    assert await store.get("e") == b"two"
    assert done.version != put.version


async def test_etag_cas_loses_to_a_write_after_the_lookup(
    gateway: Gateway, gw_store: osx.BaseStore, fake_gcs_endpoint: str, bucket: str
) -> None:
    """The write that follows the ETag lookup is conditioned on the generation it found."""
    await gw_store.put("race", b"one")
    current = await gw_store.head("race")

    async def racing_write() -> None:
        gateway.before_metadata = None
        status, _, _ = await asyncio.to_thread(upload, fake_gcs_endpoint, bucket, "race", b"someone else")
        assert status == 200

    gateway.before_metadata = racing_write
    with pytest.raises(osx.PreconditionError):
        await gw_store.put("race", b"mine", mode=osx.UpdateVersion(etag=current.etag))
    assert await gw_store.get("race") == b"someone else"


async def test_cas_on_etag_and_generation_checks_both(
    gateway: Gateway, gw_store: osx.BaseStore, fake_gcs_endpoint: str, bucket: str
) -> None:
    """A metadata-only change moves the ETag, not the generation: the stale ETag must still fail a CAS."""
    put = await gw_store.put("m", b"one")
    status, _, _ = raw(
        fake_gcs_endpoint,
        "PATCH",
        f"/storage/v1/b/{bucket}/o/m",
        json.dumps({"metadata": {"k": "v"}}).encode(),
        {"Content-Type": "application/json"},
    )
    assert status == 200
    changed = await gw_store.head("m")
    assert changed.version == put.version
    if changed.etag == put.etag:
        # fake-gcs-server 1.54 moves neither the ETag nor the metageneration on a metadata
        # change (GCS moves both): the gateway answers the object's metadata as GCS would.
        gateway.metadata_changed.add("m")
        changed = await gw_store.head("m")
    assert changed.etag != put.etag
    assert changed.version == put.version
    stale = osx.UpdateVersion(etag=put.etag, version=put.version)
    with pytest.raises(osx.PreconditionError, match="ETag"):
        await gw_store.put("m", b"two", mode=stale)
    with pytest.raises(osx.PreconditionError, match="ETag"):
        await gw_store.delete("m", if_match=stale)
    with pytest.raises(osx.PreconditionError, match="generation"):  # the right ETag on another generation
        await gw_store.put("m", b"two", mode=osx.UpdateVersion(etag=changed.etag, version="1"))
    assert await gw_store.get("m") == b"one"

    gateway.requests.clear()
    await gw_store.put("m", b"two", mode=osx.UpdateVersion.of(changed))
    assert await gw_store.get("m") == b"two"
    uploads = [urllib.parse.urlsplit(p).query for m, p, h in gateway.requests if m == "POST" and "/upload/" in p]
    assert len(uploads) == 1
    query = urllib.parse.parse_qs(uploads[0])
    assert query["ifGenerationMatch"] == [put.version]  # the state the ETag named, both numbers
    assert query["ifMetagenerationMatch"] == ["2" if "m" in gateway.metadata_changed else "1"]


async def test_listings_follow_page_tokens(store: osx.BaseStore) -> None:
    store.page_size = 7  # type: ignore[attr-defined]  # fewer objects per page: exercise paging
    names = sorted([f"d/o{i:02d}" for i in range(20)] + [f"d/sub{i}/x" for i in range(9)])
    await asyncio.gather(*(store.put(n, b"") for n in names))
    assert [m.location async for m in store.list("d")] == names
    assert [m.location async for m in store.list("d", offset="d/o05")] == [n for n in names if n > "d/o05"]
    level = await store.list_with_delimiter("d")
    assert [m.location for m in level.objects] == [f"d/o{i:02d}" for i in range(20)]
    assert level.common_prefixes == [f"d/sub{i}" for i in range(9)]


# ------------------------------------------------------------------------------ uploads


async def test_header_breaking_content_type_is_refused_before_io(store: osx.BaseStore) -> None:
    for bad in ("text/plain\r\nX-Injected: 1", " "):
        with pytest.raises(osx.InvalidArgumentError, match="content_type"):
            await store.put("ct", b"x", content_type=bad)
        with pytest.raises(osx.InvalidArgumentError, match="content_type"):
            await store.put_stream("ct", [b"x" * (300 * 1024)], part_size=256 * 1024, content_type=bad)
    with pytest.raises(osx.NotFoundError):
        await store.head("ct")


async def test_small_stream_uploads_honour_create_and_cas(store: osx.BaseStore) -> None:
    """A stream that fits one part is one multipart upload, whose conditions GCS evaluates."""
    first = await store.put("s", b"current")
    with pytest.raises(osx.AlreadyExistsError):
        await store.put_stream("s", [b"new", b"er"], mode="create")
    await store.put("s", b"changed")
    with pytest.raises(osx.PreconditionError):
        await store.put_stream("s", [b"new"], mode=osx.UpdateVersion.of(first))
    assert await store.get("s") == b"changed"


async def test_resumable_chunks_are_multiples_of_256_kib(gateway: Gateway, gw_store: osx.BaseStore) -> None:
    data = bytes(range(256)) * 4000  # 1,024,000 bytes
    pieces = [data[i : i + 70_001] for i in range(0, len(data), 70_001)]
    res = await gw_store.put_stream("r.bin", pieces, part_size=300_000, content_type="application/x-r")
    got = await gw_store.get_object("r.bin")
    assert got.data == data
    assert got.meta.etag == res.etag
    assert got.attributes.content_type == "application/x-r"
    spans = [h["Content-Range"] for m, p, h in gateway.requests if m == "PUT" and "upload_id" in p]
    assert spans == ["bytes 0-524287/*", "bytes 524288-1023999/1024000"]  # 300,000 rounded up to 512 KiB


async def test_resumable_upload_resends_what_was_not_persisted(gateway: Gateway, gw_store: osx.BaseStore) -> None:
    data = random.randbytes(700 * 1024)
    gateway.persist_half = True
    await gw_store.put_stream("half.bin", [data], part_size=256 * 1024)
    assert await gw_store.get("half.bin") == data
    spans = [h["Content-Range"] for m, p, h in gateway.requests if m == "PUT" and "upload_id" in p]
    assert spans[:2] == ["bytes 0-262143/*", "bytes 131072-262143/*"]  # the unpersisted half, again


async def test_resumable_upload_resends_what_the_last_chunk_did_not_persist(
    gateway: Gateway, gw_store: osx.BaseStore
) -> None:
    data = random.randbytes(600 * 1024)
    gateway.persist_half_final = True
    res = await gw_store.put_stream("last.bin", [data], part_size=256 * 1024)
    spans = [h["Content-Range"] for m, p, h in gateway.requests if m == "PUT" and "upload_id" in p]
    assert spans == [
        "bytes 0-262143/*",
        "bytes 262144-524287/*",
        "bytes 524288-614399/614400",  # half persisted: 308
        "bytes 569344-614399/614400",  # the rest, again with the total
    ]
    assert await gw_store.get("last.bin") == data
    assert res.version == (await gw_store.head("last.bin")).version


async def test_failed_resumable_upload_is_cancelled(gateway: Gateway, gw_store: osx.BaseStore) -> None:
    class Boom(Exception):
        pass

    async def source() -> AsyncIterator[bytes]:
        yield b"x" * (600 * 1024)
        raise Boom

    with pytest.raises(Boom):
        await gw_store.put_stream("f.bin", source(), part_size=256 * 1024)
    methods = [m for m, p, h in gateway.requests if "upload_id" in p]
    assert methods[0] == "PUT"  # a chunk reached the session before the source failed
    assert methods[-1] == "DELETE"
    with pytest.raises(osx.NotFoundError):
        await gw_store.head("f.bin")


async def test_truncated_final_answer_asks_the_session(gateway: Gateway, gw_store: osx.BaseStore) -> None:
    """An unreadable answer to the last chunk: the session's status (200 + the object) is the result."""
    data = random.randbytes(600 * 1024)
    gateway.truncate_final = True
    gateway.answer_status_as_gcs = True
    res = await gw_store.put_stream("t.bin", [data], part_size=256 * 1024)
    # fake-gcs-server forgets a finished session (404; and a status query *finishes* an
    # unfinished one), so the gateway answered the query as GCS does, with the object.
    assert gateway.status_queries == [404]
    head = await gw_store.head("t.bin")
    assert (res.etag, res.version) == (head.etag, head.version)
    assert res.version is not None
    assert await gw_store.get("t.bin") == data


async def test_truncated_final_answer_is_proven_by_the_md5(gateway: Gateway, gw_store: osx.BaseStore) -> None:
    """No status from the session (fake-gcs-server forgets it): the object's MD5 shows the write was ours."""
    data = random.randbytes(600 * 1024)
    gateway.truncate_final = True
    res = await gw_store.put_stream("p.bin", [data], part_size=256 * 1024)
    assert gateway.status_queries == [404]
    proofs = [p for m, p, h in gateway.requests if m == "GET" and "md5Hash" in urllib.parse.unquote(p)]
    assert len(proofs) == 1
    head = await gw_store.head("p.bin")
    assert (res.etag, res.version) == (head.etag, head.version)
    assert await gw_store.get("p.bin") == data


async def test_truncated_final_answer_and_another_writer_is_an_error(
    gateway: Gateway, gw_store: osx.BaseStore, fake_gcs_endpoint: str, bucket: str
) -> None:
    """The object replaced before the proof: an error, never a result without ETag/version or for their object."""

    async def racing_write() -> None:
        gateway.before_metadata = None
        status, _, _ = await asyncio.to_thread(upload, fake_gcs_endpoint, bucket, "u.bin", b"someone else")
        assert status == 200

    gateway.truncate_final = True
    gateway.before_metadata = racing_write
    with pytest.raises(osx.ObjectStoreError, match="may have been written") as info:
        await gw_store.put_stream("u.bin", [random.randbytes(600 * 1024)], part_size=256 * 1024)
    assert gateway.status_queries == [404]
    assert gateway.before_metadata is None  # the proof's metadata read happened
    assert type(info.value) is osx.ObjectStoreError


# ------------------------------------------------------------------------------ copies and batches


async def test_rewrite_loops_on_the_token(gateway: Gateway, gw_store: osx.BaseStore) -> None:
    await gw_store.put("src", b"payload", content_type="text/plain", metadata={"k": "v"})
    gateway.rewrite_rounds = 2
    await gw_store.copy("src", "dst")
    rewrites = [p for m, p, h in gateway.requests if "/rewriteTo/" in p]
    assert len(rewrites) == 3
    assert "rewriteToken=" not in rewrites[0]
    assert "rewriteToken=tok1" in rewrites[1]
    assert "rewriteToken=tok0" in rewrites[2]
    got = await gw_store.get_object("dst")
    assert got.data == b"payload"
    assert got.attributes.content_type == "text/plain"
    assert got.attributes.metadata == {"k": "v"}


async def test_batch_delete_reports_per_object_failures(gateway: Gateway, gw_store: osx.BaseStore) -> None:
    names = [f"k{i:03d}" for i in range(230)] + ["denied/a", "denied/b"]
    await asyncio.gather(*(gw_store.put(n, b"x") for n in names))
    gateway.deny = {"denied"}
    gateway.requests.clear()
    with pytest.raises(osx.BulkDeleteError) as info:
        await gw_store.delete_many([*names, "never-existed"])
    assert set(info.value.errors) == {"denied/a", "denied/b"}
    assert all(isinstance(e, osx.PermissionDeniedError) for e in info.value.errors.values())
    assert [p for m, p, h in gateway.requests] == ["/batch/storage/v1"] * 3  # 233 deletes, 100 per batch
    assert [m.location async for m in gw_store.list()] == ["denied/a", "denied/b"]


def test_batch_answer_is_matched_by_content_id() -> None:
    payload = (
        b"--b\r\nContent-Type: application/http\r\nContent-ID: <response-item1>\r\n\r\n"
        b"HTTP/1.1 404 Not Found\r\n\r\n{}\r\n"
        b"--b\r\nContent-Type: application/http\r\nContent-ID: <response-item0>\r\n\r\n"
        b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n\r\n"
        b'{"error": {"errors": [{"reason": "forbidden"}]}}\r\n'
        b"--b--\r\n"
    )
    assert parse_batch_response('multipart/mixed; boundary="b"', payload, 2) == [(403, "forbidden"), (404, "")]
    assert parse_batch_response("multipart/mixed; boundary=b", payload, 3) is None  # a missing answer
    assert parse_batch_response("application/json", payload, 2) is None


# ------------------------------------------------------------------------------ dropped connections


async def test_get_stream_resumes_pinned_to_the_generation(fake_gcs_endpoint: str, bucket: str) -> None:
    data = random.randbytes(4 * MIB)
    media = {"alt": "media"}
    async with FaultProxy(fake_gcs_endpoint) as proxy, make_store(proxy.url, bucket) as store:
        put = await store.put("big", data)
        cut = proxy.inject(Fault.reset(MIB), method="GET", params=media)
        got = bytearray()
        async with store.get_stream("big", chunk_size=256 * 1024) as stream:
            async for chunk in stream:
                got += chunk
        assert cut.injected == 1
        assert bytes(got) == data  # nothing lost or doubled
        resumed = proxy.seen(method="GET", params=media)[-1]
        # From the byte received (a reset may drop what the client had not read yet: <= 1 MiB).
        start, _, end = resumed.headers["range"].removeprefix("bytes=").partition("-")
        assert 0 < int(start) <= MIB
        assert int(end) == 4 * MIB - 1
        assert resumed.params["generation"] == put.version

        # The object is replaced before the cut: the old generation's rest is read (the
        # bucket keeps versions) -- never the new object's bytes spliced in.
        cut = proxy.inject(Fault.reset(MIB), method="GET", params=media)
        got.clear()
        async with store.get_stream("big", chunk_size=256 * 1024) as stream:
            async for chunk in stream:
                if not got:
                    await store.put("big", random.randbytes(len(data)))
                got.extend(chunk)
        assert cut.injected == 1
        assert bytes(got) == data


async def test_get_stream_refuses_a_gone_generation(fake_gcs_endpoint: str) -> None:
    unversioned = f"t-{uuid.uuid4().hex[:20]}"
    create_bucket(fake_gcs_endpoint, unversioned, versioned=False)
    data = random.randbytes(4 * MIB)
    async with FaultProxy(fake_gcs_endpoint) as proxy, make_store(proxy.url, unversioned) as store:
        await store.put("big", data)
        cut = proxy.inject(Fault.reset(MIB), method="GET", params={"alt": "media"})
        got = bytearray()

        async def read_while_overwriting() -> None:
            async with store.get_stream("big", chunk_size=256 * 1024) as stream:
                async for chunk in stream:
                    if not got:
                        await store.put("big", random.randbytes(len(data)))
                    got.extend(chunk)

        with pytest.raises(osx.PreconditionError):
            await read_while_overwriting()
        assert cut.injected == 1
        assert 0 < len(got) <= MIB  # what arrived before the cut (a reset may drop unread bytes)
        assert bytes(got) == data[: len(got)]  # and nothing of the new object


@pytest.mark.parametrize("key", ["plain.bin", "a/b/c.txt", "dir/with space/ü.bin", "x~y_z-1.2/d", "q?#%/&=+"])
async def test_object_names_are_one_encoded_path_segment(gateway: Gateway, gw_store: osx.BaseStore, key: str) -> None:
    # Folder names take a cheaper path than quote(); the wire form must be the same: "/" as %2F.
    await gw_store.put(key, b"named")
    gateway.requests.clear()
    assert await gw_store.get(key) == b"named"
    (path,) = [p for m, p, _ in gateway.requests if m == "GET"]
    assert path.partition("?")[0].rsplit("/o/", 1)[1] == urllib.parse.quote(key, safe="")
