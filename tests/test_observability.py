"""Observability: OpenTelemetry spans (``observer=OTelObserver(...)``) and the ``objectstorex`` logger.

Every test runs the store against its emulator (moto, Azurite, fake-gcs-server) through the
fault proxy, and reads the spans from the OpenTelemetry SDK's in-memory exporter: one span per
API call named like ``S3.GetObject``, one child span per HTTP attempt, retries counted, failures
marked, and never a query string (which may hold a SAS) in ``url.full``. The logging tests check
the INFO line of each retry, the WARNING when retries are spent, and that no secret, signature or
SAS token reaches any log record.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import objectstorex as osx
from objectstorex.otel import OTelObserver
from tests.emulators import azure as azure_emulator
from tests.emulators import gcs as gcs_emulator
from tests.emulators import s3 as s3_emulator
from tests.emulators.faults import Fault, FaultProxy, Request
from tests.emulators.spaces import ENDPOINT_FIXTURES, fresh_space

RETRY = osx.RetryConfig(max_retries=3, initial_backoff=0.01, max_backoff=0.02)
PROVIDERS = [
    pytest.param("s3", marks=pytest.mark.s3),
    pytest.param("azure", marks=pytest.mark.azure),
    pytest.param("gcs", marks=pytest.mark.gcs),
]
#: The API names of a small put, a get and a listing, by provider.
NAMES = {
    "s3": ("S3.PutObject", "S3.GetObject", "S3.ListObjectsV2"),
    "azure": ("Azure.PutBlob", "Azure.GetBlob", "Azure.ListBlobs"),
    "gcs": ("GCS.storage.objects.insert", "GCS.storage.objects.get", "GCS.storage.objects.list"),
}
#: The response header carrying the request id, and the span attribute it goes to.
REQUEST_IDS = {"s3": ("x-amz-request-id", "aws.request_id"), "azure": ("x-ms-request-id", "azure.service.request.id")}
SECRET = "SECRETSECRET"


@dataclass
class Env:
    """One provider's emulator behind a fault proxy, with a fresh bucket/container."""

    provider: str
    upstream: str
    bucket: str
    proxy: FaultProxy

    def store(self, **options: object) -> osx.BaseStore:
        options.setdefault("retry", RETRY)
        if self.provider == "s3":
            return s3_emulator.make_store(self.proxy.url, self.bucket, **options)
        if self.provider == "azure":
            endpoint = self.proxy.url + urlsplit(self.upstream).path  # Azurite's account path
            return azure_emulator.make_store(endpoint, self.bucket, **options)
        return gcs_emulator.make_store(self.proxy.url, self.bucket, **options)

    def media_get(self, key: str) -> Callable[[Request], bool]:
        """The GET of the object's bytes."""

        def match(r: Request) -> bool:
            if self.provider == "gcs":
                return r.method == "GET" and r.path.endswith(f"/o/{key}") and r.params.get("alt") == "media"
            return r.method == "GET" and r.path.endswith(f"/{self.bucket}/{key}") and not r.query

        return match


@pytest.fixture(params=PROVIDERS)
def emulator(request: pytest.FixtureRequest) -> tuple[str, str]:
    """The provider and its emulator's endpoint (resolved outside the event loop: moto's fixture runs one)."""
    provider = str(request.param)
    return provider, str(request.getfixturevalue(ENDPOINT_FIXTURES[provider]))


@pytest.fixture
async def env(emulator: tuple[str, str]) -> AsyncIterator[Env]:
    provider, upstream = emulator
    bucket = await fresh_space(provider, upstream, "o")
    async with FaultProxy(upstream) as proxy:
        yield Env(provider, upstream, bucket, proxy)


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def observer(exporter: InMemorySpanExporter) -> OTelObserver:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return OTelObserver(tracer_provider=provider)


def operations(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    """The API-call spans (those without an objectstorex parent), in the order they started."""
    spans = exporter.get_finished_spans()
    ids = {s.context.span_id for s in spans}
    roots = [s for s in spans if s.parent is None or s.parent.span_id not in ids]
    return sorted(roots, key=lambda s: s.start_time or 0)


def attempts(exporter: InMemorySpanExporter, operation: ReadableSpan) -> list[ReadableSpan]:
    """The HTTP attempt spans under ``operation``, in the order they were sent."""
    children = [
        s
        for s in exporter.get_finished_spans()
        if s.parent is not None and s.parent.span_id == operation.context.span_id
    ]
    return sorted(children, key=lambda s: s.start_time or 0)


# ---------------------------------------------------------------------------------------------- spans


async def test_put_get_list_spans(env: Env, observer: OTelObserver, exporter: InMemorySpanExporter) -> None:
    """Each call is one CLIENT span named after the API, with one HTTP child span per request."""
    async with env.store(observer=observer) as store:
        await store.put("dir/obj", b"hello")
        assert await store.get("dir/obj") == b"hello"
        assert [m.location async for m in store.list("dir")] == ["dir/obj"]

    ops = operations(exporter)
    assert [s.name for s in ops] == list(NAMES[env.provider])
    host, port = urlsplit(env.proxy.url).hostname, urlsplit(env.proxy.url).port
    for op in ops:
        assert op.kind is SpanKind.CLIENT
        assert op.status.status_code is StatusCode.UNSET
        (attempt,) = attempts(exporter, op)
        attrs = attempt.attributes or {}
        assert attempt.kind is SpanKind.CLIENT
        assert attempt.name == attrs["http.request.method"]
        assert attrs["server.address"] == host
        assert attrs["server.port"] == port
        assert 200 <= int(attrs["http.response.status_code"]) < 300  # type: ignore[arg-type]
        assert "http.request.resend_count" not in attrs  # a first try is not a resend
        url = str(attrs["url.full"])
        assert url.startswith(env.proxy.url)
        assert "?" not in url
        assert "error.type" not in attrs
    get = (ops[1].attributes or {}, (attempts(exporter, ops[1])[0].attributes or {}))
    assert get[1]["http.request.method"] == "GET"
    assert get[0]["objectstorex.path"] == "dir/obj"
    if env.provider == "s3":
        assert get[0]["rpc.system"] == "aws-api"
        assert get[0]["rpc.service"] == "S3"
        assert get[0]["rpc.method"] == "GetObject"
        assert get[0]["aws.s3.bucket"] == env.bucket
        assert get[0]["aws.s3.key"] == "dir/obj"
        assert "aws.s3.key" not in (ops[2].attributes or {})  # a listing has a prefix, not a key
    if env.provider == "azure":  # (moto sends no request id: see test_503_then_success)
        (sent,) = env.proxy.seen(where=env.media_get("dir/obj"))
        assert get[0]["azure.service.request.id"] == sent.response_headers["x-ms-request-id"]
        assert get[1]["azure.service.request.id"] == sent.response_headers["x-ms-request-id"]


async def test_503_then_success(env: Env, observer: OTelObserver, exporter: InMemorySpanExporter) -> None:
    """A retried call is one operation span with two attempt spans, the second a resend."""
    async with env.store(observer=observer) as store:
        await store.put("obj", b"data")
        exporter.clear()
        header, attribute = REQUEST_IDS.get(env.provider, ("x-request-id", ""))
        rule = env.proxy.inject(Fault.answer(503, headers={header: "req-503"}), where=env.media_get("obj"))
        assert await store.get("obj") == b"data"
    assert rule.injected == 1

    (op,) = operations(exporter)
    assert op.name == NAMES[env.provider][1]
    assert op.status.status_code is StatusCode.UNSET
    first, second = attempts(exporter, op)
    a1, a2 = first.attributes or {}, second.attributes or {}
    assert a1["http.response.status_code"] == 503
    assert a1["error.type"] == "503"
    assert first.status.status_code is StatusCode.ERROR
    assert "http.request.resend_count" not in a1
    assert a2["http.response.status_code"] == 200
    assert a2["http.request.resend_count"] == 1
    assert "error.type" not in a2
    if attribute:  # the service's request id, on the attempt's span and on the call's (the last one seen)
        assert a1[attribute] == "req-503"
        assert (op.attributes or {})[attribute] == a2.get(attribute, "req-503")


async def test_failures_set_error(env: Env, observer: OTelObserver, exporter: InMemorySpanExporter) -> None:
    """A failed call has status ERROR and error.type = the objectstorex error class name."""
    async with env.store(observer=observer) as store:
        with pytest.raises(osx.NotFoundError):
            await store.get("missing")
        await store.put("obj", b"data")
        exporter.clear()
        rule = env.proxy.inject(Fault.answer(503), where=env.media_get("obj"), times=None)
        with pytest.raises(osx.TransportError):
            await store.get("obj")
    assert rule.injected == RETRY.max_retries + 1

    (spent,) = operations(exporter)
    assert spent.status.status_code is StatusCode.ERROR
    assert (spent.attributes or {})["error.type"] == "TransportError"
    tries = attempts(exporter, spent)
    assert [(t.attributes or {}).get("http.request.resend_count", 0) for t in tries] == [0, 1, 2, 3]


async def test_not_found_span(env: Env, observer: OTelObserver, exporter: InMemorySpanExporter) -> None:
    async with env.store(observer=observer) as store:
        with pytest.raises(osx.NotFoundError):
            await store.get("missing")
    (op,) = operations(exporter)
    assert op.status.status_code is StatusCode.ERROR
    assert (op.attributes or {})["error.type"] == "NotFoundError"
    (attempt,) = attempts(exporter, op)
    assert (attempt.attributes or {})["http.response.status_code"] == 404
    assert (attempt.attributes or {})["error.type"] == "404"


async def test_transit_failure_span(env: Env, observer: OTelObserver, exporter: InMemorySpanExporter) -> None:
    """An attempt that got no answer has no status and names the transit error in error.type."""
    async with env.store(observer=observer) as store:
        await store.put("obj", b"data")
        exporter.clear()
        rule = env.proxy.inject(Fault.lost(), where=env.media_get("obj"), times=None)
        with pytest.raises(osx.TransportError):
            await store.get("obj")
    assert rule.injected >= RETRY.max_retries + 1
    (op,) = operations(exporter)
    assert (op.attributes or {})["error.type"] == "TransportError"
    tries = attempts(exporter, op)
    assert len(tries) == RETRY.max_retries + 1
    for t in tries:
        attrs = t.attributes or {}
        assert "http.response.status_code" not in attrs
        assert str(attrs["error.type"]).isidentifier()  # an exception class name, not a status
        assert t.status.status_code is StatusCode.ERROR


@pytest.mark.azure
async def test_azure_sas_stays_out_of_spans(azurite_endpoint: str, exporter: InMemorySpanExporter) -> None:
    """A SAS store's requests carry the token in the query: no span attribute holds it."""
    from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

    from objectstorex.backends.azure.auth import AZURITE_ACCOUNT, AZURITE_KEY

    container = f"o-{uuid.uuid4().hex[:20]}"
    await azure_emulator.create_container(azurite_endpoint, container)
    sas = generate_account_sas(
        AZURITE_ACCOUNT,
        AZURITE_KEY,
        ResourceTypes(object=True, container=True),
        AccountSasPermissions(read=True, write=True, delete=True, list=True, create=True),
        datetime.now(UTC) + timedelta(hours=1),
    )
    signature = dict(p.split("=", 1) for p in sas.split("&"))["sig"]
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    observer = OTelObserver(tracer_provider=provider)
    store = azure_emulator.make_store(azurite_endpoint, container, access_key=None, sas_token=sas, observer=observer)
    async with store:
        await store.put("a", b"x")
        await store.get("a")
        assert [m.location async for m in store.list()] == ["a"]
    spans = exporter.get_finished_spans()
    assert len(spans) == 6
    for span in spans:
        for value in (span.attributes or {}).values():
            assert signature not in str(value)
            assert "sig=" not in str(value)


@pytest.mark.azure
async def test_no_spans_from_azure_core(azurite_endpoint: str, exporter: InMemorySpanExporter) -> None:
    """The Azure store speaks REST itself: azure-core's tracing, even enabled, adds no span."""
    from azure.core.settings import settings
    from opentelemetry import trace

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # azure-core's native tracing uses the global provider
    if trace.get_tracer_provider() is not provider:
        pytest.skip("another test set the global tracer provider")
    container = f"o-{uuid.uuid4().hex[:20]}"
    await azure_emulator.create_container(azurite_endpoint, container)
    exporter.clear()
    settings.tracing_enabled = True
    try:
        async with azure_emulator.make_store(azurite_endpoint, container, observer=OTelObserver()) as store:
            await store.put("a", b"x")
            assert await store.get("a") == b"x"
        ours = exporter.get_finished_spans()
        # The same settings do trace an azure-core client: the check above could see its spans.
        await azure_emulator.create_container(azurite_endpoint, f"o-{uuid.uuid4().hex[:20]}")
        sdk = exporter.get_finished_spans()[len(ours) :]
    finally:
        settings.tracing_enabled = False
    assert [s.name for s in operations(exporter)][:2] == ["Azure.PutBlob", "Azure.GetBlob"]  # the global provider
    assert len(ours) == 4  # one attempt each
    assert {s.instrumentation_scope.name for s in ours if s.instrumentation_scope} == {"objectstorex"}
    assert any(s.instrumentation_scope and s.instrumentation_scope.name != "objectstorex" for s in sdk)


class Recorder:
    """A plain observer (the protocol, no OpenTelemetry): records every call it gets."""

    def __init__(self) -> None:
        self.events: list[tuple[object, ...]] = []

    def operation(self, provider: str, name: str, path: str | None, attributes: Mapping[str, str]) -> Recorder.Scope:
        self.events.append(("operation", provider, name, path))
        return Recorder.Scope(self, name)

    class Scope:
        def __init__(self, recorder: Recorder, name: str) -> None:
            self.recorder, self.name = recorder, name

        def attempt(self, method: str, url: str, server: str, port: int | None, resend_count: int) -> Recorder.Try:
            self.recorder.events.append(("attempt", self.name, method, resend_count))
            return Recorder.Try(self)

        def end(self, error: BaseException | None) -> None:
            self.recorder.events.append(("end", self.name, type(error).__name__ if error else None))

    class Try:
        def __init__(self, scope: Recorder.Scope) -> None:
            self.scope = scope

        def end(self, status: int | None, error: BaseException | None, headers: Mapping[str, str] | None) -> None:
            self.scope.recorder.events.append(("answer", self.scope.name, status))


#: The API calls of a 3-part put_stream, by provider (parts go concurrently: compared as counts).
MULTIPART = {
    "s3": {"S3.CreateMultipartUpload": 1, "S3.UploadPart": 3, "S3.CompleteMultipartUpload": 1},
    "azure": {"Azure.PutBlock": 3, "Azure.PutBlockList": 1},
    "gcs": {"GCS.storage.objects.insert": 4},  # the session, then one request per chunk
}


async def test_put_stream_reports_each_api_call(env: Env) -> None:
    """Any object with the Observer protocol works; a multipart upload is one operation per API call."""
    recorder = Recorder()
    part = 5 * 1024 * 1024

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(3):
            yield bytes([i]) * part

    async with env.store(observer=recorder) as store:
        await store.put_stream("big", chunks(), part_size=part)
    ops = Counter(str(e[2]) for e in recorder.events if e[0] == "operation")
    assert ops == MULTIPART[env.provider]
    assert all(e[3] == "big" for e in recorder.events if e[0] == "operation")
    ends = [e for e in recorder.events if e[0] == "end"]
    assert len(ends) == sum(ops.values())
    assert all(e[2] is None for e in ends)
    assert all(e[3] == 0 for e in recorder.events if e[0] == "attempt")  # no retry was needed


# ---------------------------------------------------------------------------------------------- logging


async def test_retry_logs(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    """A retry logs INFO with the operation, path, attempt, status and delay."""
    caplog.set_level(logging.INFO, logger="objectstorex")
    async with env.store() as store:
        await store.put("obj", b"data")
        env.proxy.inject(Fault.answer(503), where=env.media_get("obj"))
        assert await store.get("obj") == b"data"
    records = [r for r in caplog.records if r.name == "objectstorex"]
    (record,) = records
    assert record.levelno == logging.INFO
    message = record.getMessage()
    assert message.startswith("get 'obj': attempt 1 failed (")
    assert "status 503" in message
    assert "retrying in " in message


async def test_exhausted_retries_log_a_warning(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="objectstorex")
    async with env.store() as store:
        await store.put("obj", b"data")
        env.proxy.inject(Fault.answer(503), where=env.media_get("obj"), times=None)
        with pytest.raises(osx.TransportError):
            await store.get("obj")
    records = [r for r in caplog.records if r.name == "objectstorex"]
    assert [r.levelno for r in records] == [logging.INFO] * RETRY.max_retries + [logging.WARNING]
    assert records[-1].getMessage().startswith(f"get 'obj': failed after {RETRY.max_retries + 1} attempts (")
    assert "status 503" in records[-1].getMessage()


@pytest.mark.s3
async def test_logs_hold_no_s3_secret(moto_endpoint: str, caplog: pytest.LogCaptureFixture) -> None:
    """Neither the secret key nor a signature reaches a log record, even at DEBUG."""
    caplog.set_level(logging.DEBUG)
    bucket = f"o-{uuid.uuid4().hex[:20]}"
    await s3_emulator.create_bucket(moto_endpoint, bucket)
    async with FaultProxy(moto_endpoint) as proxy:
        store = osx.new(
            "s3",
            bucket=bucket,
            region="us-east-1",
            endpoint=proxy.url,
            access_key_id="AKIDOBSERVE",
            secret_access_key=SECRET,
            retry=RETRY,
        )
        async with store:
            await store.put("obj", b"data")
            proxy.inject(Fault.answer(503), method="GET", times=None)
            with pytest.raises(osx.TransportError):
                await store.get("obj")
        signatures = [r.headers["authorization"].rpartition("Signature=")[2] for r in proxy.requests]
    assert len([r for r in caplog.records if r.name == "objectstorex"]) == RETRY.max_retries + 1
    for record in caplog.records:
        text = record.getMessage() + repr(record.__dict__)
        assert SECRET not in text
        assert all(s not in text for s in signatures)


@pytest.mark.azure
async def test_logs_hold_no_sas(azurite_endpoint: str, caplog: pytest.LogCaptureFixture) -> None:
    from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

    from objectstorex.backends.azure.auth import AZURITE_ACCOUNT, AZURITE_KEY

    caplog.set_level(logging.DEBUG)
    container = f"o-{uuid.uuid4().hex[:20]}"
    await azure_emulator.create_container(azurite_endpoint, container)
    sas = generate_account_sas(
        AZURITE_ACCOUNT,
        AZURITE_KEY,
        ResourceTypes(object=True, container=True),
        AccountSasPermissions(read=True, write=True, list=True, create=True),
        datetime.now(UTC) + timedelta(hours=1),
    )
    signature = dict(p.split("=", 1) for p in sas.split("&"))["sig"]
    async with FaultProxy(azurite_endpoint) as proxy:
        endpoint = proxy.url + urlsplit(azurite_endpoint).path
        store = azure_emulator.make_store(endpoint, container, access_key=None, sas_token=sas, retry=RETRY)
        async with store:
            await store.put("obj", b"data")
            proxy.inject(Fault.answer(503), method="GET", times=None)
            with pytest.raises(osx.TransportError):
                await store.get("obj")
        assert all(signature in r.query or "sig=" in r.query for r in proxy.requests)  # the SAS was sent
    assert len([r for r in caplog.records if r.name == "objectstorex"]) == RETRY.max_retries + 1
    for record in caplog.records:
        text = record.getMessage() + repr(record.__dict__)
        assert signature not in text
        assert "sig=" not in text


# ---------------------------------------------------------------------------------------------- the option


def test_import_does_not_load_opentelemetry() -> None:
    """``import objectstorex`` (and a store without an observer) never imports opentelemetry."""
    code = (
        "import sys, objectstorex as osx\n"
        "import objectstorex.observe\n"
        "osx.new('s3', bucket='b', region='us-east-1', access_key_id='a', secret_access_key='s')\n"
        "osx.new('gcs', bucket='b', anonymous=True)\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('opentelemetry'))\n"
        "assert not loaded, loaded\n"
        "import objectstorex.otel\n"
        "assert not any(m.startswith('opentelemetry') for m in sys.modules)\n"
        "objectstorex.otel.OTelObserver()\n"
        "assert 'opentelemetry.trace' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


def test_observer_option_is_checked() -> None:
    with pytest.raises(osx.InvalidConfigError, match="observer"):
        osx.new("s3", bucket="b", region="us-east-1", observer=object())
