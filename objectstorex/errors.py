"""The objectstorex error tree.

Every failure that crosses the public API is one of these; provider SDK exceptions never
escape (each backend translates them at one choke point and chains the original)::

    ObjectStoreError                    base: .path, .provider, .status, .retryable
    ├── NotFoundError                   also FileNotFoundError
    ├── AlreadyExistsError              also FileExistsError   (a lost create, always)
    ├── PreconditionError               a lost update / if_match / if_unmodified_since
    ├── NotModifiedError                if_none_match matched / not modified since
    ├── NotSupportedError               also NotImplementedError
    ├── PermissionDeniedError           also PermissionError
    ├── UnauthenticatedError
    ├── InvalidPathError                also ValueError
    ├── InvalidConfigError              also ValueError
    │   └── InvalidArgumentError        also TypeError: a call argument of the wrong type/value
    ├── InvalidRangeError               also ValueError
    ├── BulkDeleteError                 .errors: dict[path, ObjectStoreError]
    ├── IntegrityError                  a checksum mismatch: .algorithm, .expected, .actual
    └── TransportError                  network failure or timeout after retries

Names follow obspec/obstore so code written against those keeps working.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "AlreadyExistsError",
    "BulkDeleteError",
    "IntegrityError",
    "InvalidArgumentError",
    "InvalidConfigError",
    "InvalidPathError",
    "InvalidRangeError",
    "NotFoundError",
    "NotModifiedError",
    "NotSupportedError",
    "ObjectStoreError",
    "PermissionDeniedError",
    "PreconditionError",
    "TransportError",
    "UnauthenticatedError",
]


class ObjectStoreError(Exception):
    """Base class of every objectstorex error.

    Attributes:
        message: the error's message (also ``str(error)``).
        path: the object path the operation was about, or ``None``.
        provider: ``"memory"``, ``"local"``, ``"s3"``, ``"azure"``, ``"gcs"`` or ``None``.
        status: the HTTP status the provider answered, or ``None``.
        retryable: whether retrying the same call may succeed (transient failure).
        retry_after: seconds the service asked to wait before retrying (``Retry-After``), or ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        provider: str | None = None,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.provider = provider
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[object, ...]:
        # Keep keyword attributes across pickling (errors cross process pools).
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(cls: type[ObjectStoreError], message: str, state: dict[str, object]) -> ObjectStoreError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class NotFoundError(ObjectStoreError, FileNotFoundError):
    """The object (or the source of a copy) does not exist."""


class AlreadyExistsError(ObjectStoreError, FileExistsError):
    """A create-only write or an ``*_if_not_exists`` copy found the destination taken."""


class PreconditionError(ObjectStoreError):
    """A condition failed: a CAS put lost, ``if_match`` differed, or modified since."""


class NotModifiedError(ObjectStoreError):
    """``if_none_match`` matched, or the object was not modified since the given date."""


class NotSupportedError(ObjectStoreError, NotImplementedError):
    """The provider cannot do this (see ``store.capabilities``)."""


class PermissionDeniedError(ObjectStoreError, PermissionError):
    """The credentials are valid but not allowed to do this."""


class UnauthenticatedError(ObjectStoreError):
    """The credentials are missing, wrong or expired."""


class InvalidPathError(ObjectStoreError, ValueError):
    """A path or prefix breaks the path rules (see ``objectstorex.paths``)."""


class InvalidConfigError(ObjectStoreError, ValueError):
    """An unknown provider, or an unknown, missing or malformed store option."""


class InvalidArgumentError(InvalidConfigError, TypeError):
    """A call argument of the wrong type or value (e.g. ``str`` data, an empty UpdateVersion)."""


class InvalidRangeError(ObjectStoreError, ValueError):
    """A byte range that is malformed or starts at or past the end of the object."""


class TransportError(ObjectStoreError):
    """A network failure, timeout, or 5xx/429 answer that persisted after the configured retries.

    ``retryable`` is always ``True``: the condition is transient, and a later call may succeed.
    ``status`` is the last HTTP status (``None`` for a failure in transit).
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        provider: str | None = None,
        status: int | None = None,
        retryable: bool = True,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, path=path, provider=provider, status=status, retryable=True, retry_after=retry_after)


class IntegrityError(ObjectStoreError):
    """The bytes failed their checksum: corrupted between the store and the service.

    Attributes:
        algorithm: ``"crc32"``, ``"crc32c"``, ``"md5"`` or ``"sha256"``.
        expected: the checksum the bytes should have, as the provider encodes it.
        actual: the checksum they had.
    """

    def __init__(
        self,
        message: str,
        *,
        algorithm: str,
        expected: str,
        actual: str,
        path: str | None = None,
        provider: str | None = None,
        status: int | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(
            f"{message} ({algorithm} expected {expected}, got {actual})",
            path=path,
            provider=provider,
            status=status,
            retryable=retryable,
        )
        self.algorithm = algorithm
        self.expected = expected
        self.actual = actual


class BulkDeleteError(ObjectStoreError):
    """Some deletes of a ``delete_many`` call failed.

    Attributes:
        errors: the failure of each path that could not be deleted.
    """

    def __init__(
        self,
        errors: Mapping[str, ObjectStoreError],
        *,
        provider: str | None = None,
    ) -> None:
        self.errors: dict[str, ObjectStoreError] = dict(errors)
        sample = ", ".join(f"{p!r}: {type(e).__name__}" for p, e in list(self.errors.items())[:5])
        more = "" if len(self.errors) <= 5 else f" and {len(self.errors) - 5} more"
        super().__init__(
            f"{len(self.errors)} of the deletes failed ({sample}{more})",
            provider=provider,
        )
