"""Observing stores: the ``observer=`` store option (operations and HTTP attempts).

An HTTP store (S3, Azure, GCS) given an ``observer=`` reports each call of the provider's API
(an *operation*: ``S3.GetObject``, ``Azure.PutBlock``, ``GCS.storage.objects.list``...) and,
inside it, each HTTP request sent for it (an *attempt*: the first try and every retry)::

    observer.operation(provider, name, path, attributes) -> OperationScope
        scope.attempt(method, url, server, port, resend_count) -> AttemptScope
            attempt.end(status, error, headers)          # once per attempt
        scope.end(error)                                 # once, with what the caller sees

A public store call that needs several API calls (a multipart ``put_stream``, a ``get_ranges``
that looks up the size first, a ``rename``) reports one operation per API call, as the AWS SDKs'
instrumentation does. :class:`objectstorex.otel.OTelObserver` turns all this into OpenTelemetry
spans. Nothing is called, imported or paid when a store has no observer.

Observers are called on the event loop, in the middle of a request: they must be quick and
must not raise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

__all__ = ["AttemptScope", "Observer", "OperationScope"]


class AttemptScope(Protocol):
    """One HTTP request of an operation, from just before it is sent to its answer's headers."""

    def end(self, status: int | None, error: BaseException | None, headers: Mapping[str, str] | None) -> None:
        """The request ended.

        Args:
            status: the HTTP status answered (any: a 503 is an answer), ``None`` if none arrived.
            error: the failure in transit (connection reset, timeout...) when no answer arrived.
            headers: the answer's headers (case-insensitive; request ids such as
                ``x-amz-request-id`` or ``x-ms-request-id``), ``None`` if no answer arrived.
        """
        ...


class OperationScope(Protocol):
    """One call of the provider's API, with its retries."""

    def attempt(self, method: str, url: str, server: str, port: int | None, resend_count: int) -> AttemptScope:
        """An HTTP request of this operation is about to be sent.

        Args:
            method: the HTTP method.
            url: the URL without its query string (a query may hold a SAS token or a signature).
            server: the host name.
            port: the port (the scheme's default when the URL names none).
            resend_count: how many requests this operation sent before this one (0 on the
                first try, 1 on the first retry...).
        """
        ...

    def end(self, error: BaseException | None) -> None:
        """The operation ended: ``error`` is the objectstorex error the caller sees, or ``None``."""
        ...


@runtime_checkable
class Observer(Protocol):
    """What a store calls when it has an ``observer=``; see ``docs/observability.md``."""

    def operation(self, provider: str, name: str, path: str | None, attributes: Mapping[str, str]) -> OperationScope:
        """An API call starts (called just before its first request is sent).

        Args:
            provider: the store's provider (``"s3"``, ``"azure"``, ``"gcs"``).
            name: the API call, prefixed by the service (``"S3.GetObject"``, ``"Azure.GetBlob"``,
                ``"GCS.storage.objects.get"``).
            path: the store path it concerns (the prefix of a listing), ``None`` if none.
            attributes: the provider's attributes in OpenTelemetry's semantic conventions
                (``rpc.system``, ``rpc.method``, ``aws.s3.bucket``, ``aws.s3.key``...).

        Returns:
            The scope that receives the call's attempts and its end.
        """
        ...
