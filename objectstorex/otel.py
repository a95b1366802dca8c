"""OpenTelemetry spans for objectstorex stores: ``observer=objectstorex.otel.OTelObserver()``.

Needs ``opentelemetry-api`` (``pip install objectstorex[otel]``), imported when the observer is
created, never by ``import objectstorex``. Each call of the provider's API becomes a CLIENT span
named after it (``S3.GetObject``, ``Azure.GetBlob``, ``GCS.storage.objects.get``), child of the
span current when the store was called, with the provider's semantic-convention attributes
(``rpc.system="aws-api"``, ``rpc.service``, ``rpc.method``, ``aws.s3.bucket``, ``aws.s3.key``,
``aws.request_id`` / ``azure.service.request.id``) and ``objectstorex.path`` (the store path).
Each HTTP request sent for it (the first try and each retry) is a child CLIENT span named after
the method, with ``http.request.method``, ``server.address``, ``server.port``, ``url.full``
(never the query string: it may hold a SAS or a signature), ``http.response.status_code`` and,
on retries, ``http.request.resend_count``.

A failed call's span has status ERROR and ``error.type`` = the objectstorex error's class name
(``NotFoundError``...); a failed request's span has ``error.type`` = the status code (``503``) or
the transit error's class name. See ``docs/observability.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from .errors import NotSupportedError

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer, TracerProvider

__all__ = ["OTelObserver"]

#: Response headers carrying the service's request id, and the attribute each goes to.
REQUEST_ID_HEADERS: Mapping[str, str] = {
    "x-amz-request-id": "aws.request_id",
    "x-ms-request-id": "azure.service.request.id",
}


def _request_ids(headers: Mapping[str, str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for header, attribute in REQUEST_ID_HEADERS.items():
        value = headers.get(header)
        if value:
            found[attribute] = value
    return found


class OTelObserver:
    """An :class:`~objectstorex.observe.Observer` that records OpenTelemetry spans.

    Example:
        ```python
        from objectstorex.otel import OTelObserver

        store = osx.new("s3", bucket="data", observer=OTelObserver())
        async with store:
            await store.get("a.csv")  # spans "S3.GetObject" > "GET"
        ```
    """

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        """Create the observer.

        Args:
            tracer_provider: the provider of the tracer; ``None``: the global one
                (``opentelemetry.trace.set_tracer_provider``).

        Raises:
            NotSupportedError: ``opentelemetry-api`` is not installed (``objectstorex[otel]``).
        """
        try:
            from opentelemetry import trace
        except ImportError as e:
            raise NotSupportedError("OTelObserver needs opentelemetry-api: pip install 'objectstorex[otel]'") from e
        from . import __version__

        self._trace = trace
        self._tracer: Tracer = trace.get_tracer("objectstorex", __version__, tracer_provider=tracer_provider)

    def operation(self, provider: str, name: str, path: str | None, attributes: Mapping[str, str]) -> _Operation:
        """Start the span of one API call (see :meth:`objectstorex.observe.Observer.operation`)."""
        span_attributes = dict(attributes)
        if path is not None:
            span_attributes["objectstorex.path"] = path
        span = self._tracer.start_span(name, kind=self._trace.SpanKind.CLIENT, attributes=span_attributes)
        return _Operation(self, span)


class _Operation:
    __slots__ = ("_observer", "_span")

    def __init__(self, observer: OTelObserver, span: Span) -> None:
        self._observer = observer
        self._span = span

    def attempt(self, method: str, url: str, server: str, port: int | None, resend_count: int) -> _Attempt:
        trace = self._observer._trace
        attributes: dict[str, str | int] = {"http.request.method": method, "server.address": server, "url.full": url}
        if port is not None:
            attributes["server.port"] = port
        if resend_count:
            attributes["http.request.resend_count"] = resend_count
        span = self._observer._tracer.start_span(
            method,
            context=trace.set_span_in_context(self._span),
            kind=trace.SpanKind.CLIENT,
            attributes=attributes,
        )
        return _Attempt(self._span, span, self._observer)

    def end(self, error: BaseException | None) -> None:
        span = self._span
        if error is not None:
            kind = type(error).__name__
            span.set_attribute("error.type", kind)
            span.set_status(self._observer._trace.Status(self._observer._trace.StatusCode.ERROR, kind))
        span.end()


class _Attempt:
    __slots__ = ("_observer", "_operation", "_span")

    def __init__(self, operation: Span, span: Span, observer: OTelObserver) -> None:
        self._operation = operation
        self._span = span
        self._observer = observer

    def end(self, status: int | None, error: BaseException | None, headers: Mapping[str, str] | None) -> None:
        span = self._span
        error_type = None
        if status is not None:
            span.set_attribute("http.response.status_code", status)
            if status >= 400:
                error_type = str(status)  # HTTP semantic conventions: the status code
        if error is not None:
            error_type = type(error).__name__
        if headers is not None:
            ids = _request_ids(headers)
            if ids:
                span.set_attributes(ids)
                self._operation.set_attributes(ids)  # the call's span: the last attempt's id
        if error_type is not None:
            span.set_attribute("error.type", error_type)
            trace = self._observer._trace
            span.set_status(trace.Status(trace.StatusCode.ERROR, error_type))
        span.end()
