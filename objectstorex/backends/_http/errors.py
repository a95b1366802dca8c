"""The one status table: an HTTP answer (status + provider error code) to an objectstorex error.

Providers differ only in their error *codes*; those are data (:class:`ErrorCodes`), and the
order in which statuses and codes are tested -- most specific first -- is written once here.
Transit failures map to :class:`~objectstorex.TransportError`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp

from ...errors import (
    AlreadyExistsError,
    InvalidConfigError,
    InvalidRangeError,
    NotFoundError,
    NotModifiedError,
    NotSupportedError,
    ObjectStoreError,
    PermissionDeniedError,
    PreconditionError,
    TransportError,
    UnauthenticatedError,
)
from ...preconditions import PutMode, UpdateVersion

__all__ = ["TRANSPORT_ERRORS", "ErrorCodes", "ServiceError", "error_for", "retry_after", "transport_error"]

#: Failures in transit (aiohttp and asyncio): retried, then reported as TransportError.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    aiohttp.ClientConnectionError,
    aiohttp.ClientPayloadError,
    aiohttp.ServerTimeoutError,
    asyncio.IncompleteReadError,
    TimeoutError,
    ConnectionError,
)


class ServiceError(Exception):
    """The service's own answer (status and error code), chained under the objectstorex error."""

    def __init__(self, status: int | None, code: str) -> None:
        super().__init__(f"HTTP {status} {code}".rstrip())
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class ErrorCodes:
    """A provider's error codes, grouped by what they mean. Statuses are shared; codes are not.

    Attributes:
        retry: transient conditions (throttling, a body damaged in transit, a write in flight).
        conflict: retried, and if they outlive the retries the write lost (create: exists;
            update: precondition) -- S3's ``ConditionalRequestConflict``.
        container_missing: the bucket/container does not exist (named as such).
        not_found: codes meaning "no such object" whatever the status.
        exists: codes meaning "already exists" (Azure answers 409 ``BlobAlreadyExists``).
        unauthenticated: credentials missing, wrong or expired.
        invalid_range: a range the object cannot satisfy.
        not_supported: the endpoint does not implement the call.
        misconfigured: the store's configuration is wrong (S3: wrong region).
        bad_version: with a ``version=`` read, 400 codes meaning "no such version" (a 400 without a
            code, as S3 answers a HEAD, counts too).
    """

    retry: frozenset[str] = frozenset()
    conflict: frozenset[str] = frozenset()
    container_missing: frozenset[str] = frozenset()
    not_found: frozenset[str] = frozenset()
    exists: frozenset[str] = frozenset()
    unauthenticated: frozenset[str] = frozenset()
    invalid_range: frozenset[str] = frozenset()
    not_supported: frozenset[str] = frozenset()
    misconfigured: frozenset[str] = frozenset()
    bad_version: frozenset[str] = frozenset()


def error_for(
    status: int | None,
    code: str,
    *,
    codes: ErrorCodes,
    provider: str,
    operation: str,
    path: str | None,
    mode: PutMode | None = None,
    version: bool = False,
) -> ObjectStoreError:
    """The objectstorex error for an answer, most specific match first.

    Args:
        status: the HTTP status (``None`` for a per-item failure without one).
        code: the provider's error code (``""`` if none).
        codes: the provider's code table.
        provider: ``"s3"``, ``"azure"`` or ``"gcs"``.
        operation: the store operation, for the message.
        path: the object path, or ``None``.
        mode: the put mode of a write: a failed create is always AlreadyExistsError and a
            failed update always PreconditionError, whatever status the provider used.
        version: the request named a version (``bad_version`` codes then mean NotFoundError).
    """
    where = f"{operation} {path!r}" if path else operation
    detail = f" ({code})" if code else ""

    def err(cls: type[ObjectStoreError], message: str, retryable: bool = False) -> ObjectStoreError:
        return cls(f"{where}: {message}", path=path, provider=provider, status=status, retryable=retryable)

    if status in (429, 503) or code in codes.retry or code in codes.conflict:
        return err(ObjectStoreError, f"the service asked to retry ({code or f'HTTP {status}'})", retryable=True)
    if code in codes.container_missing:
        return err(NotFoundError, f"the bucket/container does not exist{detail}")
    if mode == "create" and (status == 412 or (status == 409 and (not code or code in codes.exists))):
        return err(AlreadyExistsError, "the object already exists")
    if isinstance(mode, UpdateVersion) and status in (404, 409, 412):
        # S3 answers 404 to If-Match on a missing key: for a CAS that is a lost update too.
        return err(PreconditionError, "the object changed or is gone")
    if status == 304:
        return err(NotModifiedError, "not modified")
    if status == 412:
        return err(PreconditionError, f"precondition failed{detail}")
    if status == 416 or code in codes.invalid_range:
        return err(InvalidRangeError, "range not satisfiable")
    if (
        status == 404
        or code in codes.not_found
        or (version and status == 400 and (not code or code in codes.bad_version))
    ):
        return err(NotFoundError, f"not found{detail}")
    if code in codes.exists:
        return err(AlreadyExistsError, f"the object already exists{detail}")
    if status == 401 or code in codes.unauthenticated:
        return err(UnauthenticatedError, f"credentials refused{detail}")
    if status == 403:
        return err(PermissionDeniedError, f"access denied{detail}")
    if code in codes.misconfigured:
        return err(InvalidConfigError, f"the store is misconfigured for this bucket (region?){detail}")
    if status in (405, 501) or code in codes.not_supported:
        return err(NotSupportedError, f"not supported by this endpoint{detail}")
    retryable = status is None or status >= 500 or status == 408
    return err(ObjectStoreError, f"failed: HTTP {status}{detail}", retryable=retryable)


def transport_error(exc: BaseException, *, provider: str, operation: str, path: str | None) -> TransportError:
    """A failure in transit (never quoting URLs, which may hold a SAS)."""
    return TransportError(
        f"{operation}: network failure talking to {provider} ({type(exc).__name__})",
        path=path,
        provider=provider,
        retryable=True,
    )


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta-seconds or an HTTP date), or ``None``."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
