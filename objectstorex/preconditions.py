"""Conditions on reads and writes: the one evaluator, and the per-provider translations.

Memory and local stores evaluate conditions here (``check_get`` / ``check_put``), with the
semantics of RFC 9110 section 13 as the clouds implement them:

* ETags compare after dropping quotes and a weak ``W/`` marker, ``*`` matches any existing object,
  and a comma-separated list matches if any member does.
* ``if_modified_since`` / ``if_unmodified_since`` compare at whole-second granularity, because
  HTTP dates carry seconds only (RFC 9110 section 5.6.7).
* Order of evaluation (RFC 9110 section 13.2.2): If-Match, then If-Unmodified-Since (only without
  If-Match), then If-None-Match, then If-Modified-Since (only without If-None-Match).

Network stores translate the same conditions into headers or query parameters with the
builders below, so a condition means the same thing on every provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING, Literal, TypeAlias

from .errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    NotModifiedError,
    PreconditionError,
)

if TYPE_CHECKING:
    from ._types import ObjectMeta, PutResult

__all__ = [
    "GetConditions",
    "PutMode",
    "UpdateVersion",
    "check_get",
    "check_put",
    "etag_matches",
    "http_date",
    "http_get_headers",
    "http_put_headers",
    "normalize_etag",
    "quote_etag",
    "validate_put_mode",
]


@dataclass(frozen=True, slots=True)
class UpdateVersion:
    """The state a compare-and-swap write expects to replace.

    Attributes:
        etag: the ETag last seen (quoted or not).
        version: the provider version last seen (S3 VersionId, GCS generation).
    """

    etag: str | None = None
    version: str | None = None

    @classmethod
    def of(cls, meta: ObjectMeta | PutResult) -> UpdateVersion:
        """Build the condition from what ``head``/``get_object``/``put`` returned."""
        return cls(etag=meta.etag, version=meta.version)


#: A write mode: ``"overwrite"`` (the default), ``"create"`` (fail if the object exists) or an
#: :class:`UpdateVersion` (compare-and-swap).
PutMode: TypeAlias = Literal["overwrite", "create"] | UpdateVersion


def validate_put_mode(mode: object, *, path: str | None = None, provider: str | None = None) -> PutMode:
    """Check a put mode before any I/O.

    Raises:
        InvalidArgumentError: an unknown mode, or an ``UpdateVersion`` with neither etag nor version.
    """
    if mode == "overwrite" or mode == "create":
        return mode
    if isinstance(mode, UpdateVersion):
        if mode.etag is None and mode.version is None:
            raise InvalidArgumentError(
                "UpdateVersion needs an etag or a version (got neither)", path=path, provider=provider
            )
        for name in ("etag", "version"):
            v = getattr(mode, name)
            if v is not None and (not isinstance(v, str) or not v):
                raise InvalidArgumentError(
                    f"UpdateVersion.{name} must be a non-empty str", path=path, provider=provider
                )
        return mode
    raise InvalidArgumentError(
        f"invalid put mode {mode!r}: expected 'overwrite', 'create' or an UpdateVersion",
        path=path,
        provider=provider,
    )


def normalize_etag(etag: str) -> str:
    """Drop a weak marker and surrounding quotes, so ``"abc"``, ``abc`` and ``W/"abc"`` compare equal."""
    e = etag.strip()
    if e.startswith("W/"):
        e = e[2:]
    if len(e) >= 2 and e[0] == '"' and e[-1] == '"':
        e = e[1:-1]
    return e


def quote_etag(etag: str) -> str:
    """Return the ETag in the quoted form HTTP headers require (``*`` stays bare)."""
    e = etag.strip()
    if e == "*" or (e.startswith('"') and e.endswith('"') and len(e) >= 2) or e.startswith('W/"'):
        return e
    return f'"{e}"'


def etag_matches(condition: str, etag: str | None) -> bool:
    """Whether an If-Match/If-None-Match value matches an existing object's ETag.

    ``*`` matches any existing object; a comma-separated list matches if any member does.
    """
    if etag is None:
        return False
    cond = condition.strip()
    if cond == "*":
        return True
    actual = normalize_etag(etag)
    return any(normalize_etag(c) == actual for c in cond.split(","))


def _seconds(dt: datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)  # naive datetimes are taken as UTC, as HTTP dates are
    return int(dt.timestamp() // 1)


def http_date(dt: datetime) -> str:
    """Format a datetime as an RFC 9110 HTTP-date (IMF-fixdate, GMT)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return format_datetime(dt.astimezone(UTC), usegmt=True)


@dataclass(frozen=True, slots=True)
class GetConditions:
    """The four read conditions, validated.

    Attributes:
        if_match: the ETag the object must have.
        if_none_match: an ETag the object must not have.
        if_modified_since: the object must have changed after this time.
        if_unmodified_since: the object must not have changed after this time.
    """

    if_match: str | None = None
    if_none_match: str | None = None
    if_modified_since: datetime | None = None
    if_unmodified_since: datetime | None = None

    def __bool__(self) -> bool:
        return not (
            self.if_match is None
            and self.if_none_match is None
            and self.if_modified_since is None
            and self.if_unmodified_since is None
        )

    @classmethod
    def build(
        cls,
        *,
        if_match: object = None,
        if_none_match: object = None,
        if_modified_since: object = None,
        if_unmodified_since: object = None,
        path: str | None = None,
        provider: str | None = None,
    ) -> GetConditions:
        """Validate the user's conditions before any I/O, dropping those RFC 9110 ignores.

        Raises:
            InvalidArgumentError: an ETag that is not a non-empty ``str`` or a date that is not
                a ``datetime``.
        """
        for name, v in (("if_match", if_match), ("if_none_match", if_none_match)):
            if v is not None and (not isinstance(v, str) or not v.strip()):
                raise InvalidArgumentError(f"{name} must be a non-empty str", path=path, provider=provider)
        for name, v in (("if_modified_since", if_modified_since), ("if_unmodified_since", if_unmodified_since)):
            if v is not None and not isinstance(v, datetime):
                raise InvalidArgumentError(f"{name} must be a datetime", path=path, provider=provider)
        # RFC 9110 section 13.2.2: a recipient ignores If-Unmodified-Since when If-Match is present
        # and If-Modified-Since when If-None-Match is. Dropping them here makes every provider
        # evaluate the same, including servers that check each header on its own.
        if if_match is not None:
            if_unmodified_since = None
        if if_none_match is not None:
            if_modified_since = None
        return cls(if_match, if_none_match, if_modified_since, if_unmodified_since)  # type: ignore[arg-type]


def check_get(cond: GetConditions, meta: ObjectMeta, *, provider: str | None = None) -> None:
    """Evaluate read conditions against an existing object (RFC 9110 section 13.2.2 order).

    Raises:
        PreconditionError: ``if_match`` differs, or modified after ``if_unmodified_since``.
        NotModifiedError: ``if_none_match`` matches, or not modified after ``if_modified_since``.
    """
    path = meta.location
    if cond.if_match is not None:
        if not etag_matches(cond.if_match, meta.etag):
            raise PreconditionError(
                f"if_match {cond.if_match!r} does not match the current ETag", path=path, provider=provider
            )
    elif cond.if_unmodified_since is not None:
        if _seconds(meta.last_modified) > _seconds(cond.if_unmodified_since):
            raise PreconditionError("object was modified after if_unmodified_since", path=path, provider=provider)
    if cond.if_none_match is not None:
        if etag_matches(cond.if_none_match, meta.etag):
            raise NotModifiedError(
                f"if_none_match {cond.if_none_match!r} matches the current ETag",
                path=path,
                provider=provider,
            )
    elif cond.if_modified_since is not None:
        if _seconds(meta.last_modified) <= _seconds(cond.if_modified_since):
            raise NotModifiedError("object was not modified after if_modified_since", path=path, provider=provider)


def check_put(mode: PutMode, current: ObjectMeta | None, *, path: str, provider: str | None = None) -> None:
    """Evaluate a put mode against the current object (``None`` when missing).

    Memory and local stores call this with the object locked, which is what makes it atomic.
    The version half of an ``UpdateVersion`` is compared only when the store has versions.

    Raises:
        AlreadyExistsError: ``create`` and the object exists.
        PreconditionError: ``UpdateVersion`` and the object is missing or has changed.
    """
    if mode == "overwrite":
        return
    if mode == "create":
        if current is not None:
            raise AlreadyExistsError(f"object {path!r} already exists", path=path, provider=provider)
        return
    assert isinstance(mode, UpdateVersion)
    if current is None:
        raise PreconditionError(f"object {path!r} does not exist (expected to update it)", path=path, provider=provider)
    if mode.etag is not None and not etag_matches(mode.etag, current.etag):
        raise PreconditionError(f"object {path!r} has changed (ETag differs)", path=path, provider=provider)
    if mode.version is not None and current.version is not None and mode.version != current.version:
        raise PreconditionError(f"object {path!r} has changed (version differs)", path=path, provider=provider)


# ---------------------------------------------------------------------------------------------
# Translations for HTTP providers (S3, Azure, GCS media downloads all speak RFC 9110 headers).


def http_get_headers(cond: GetConditions, *, dates: bool = True) -> dict[str, str]:
    """RFC 9110 conditional headers for a read, with lower-case names (as signers canonicalize).

    ``*`` is never sent: ``If-Match: *`` holds for any existing object, and ``If-None-Match: *``
    is for the caller to answer once the object is known to exist -- servers disagree on it
    (moto compares it as a literal ETag, Azure refuses it on reads). ``dates=False`` leaves out
    the date conditions for an API that has none (GCS's JSON API); the caller then evaluates
    them on the answer (:func:`check_get`).
    """
    headers: dict[str, str] = {}
    if cond.if_match is not None and cond.if_match.strip() != "*":
        headers["if-match"] = _quote_list(cond.if_match)
    if cond.if_none_match is not None and cond.if_none_match.strip() != "*":
        headers["if-none-match"] = _quote_list(cond.if_none_match)
    if dates and cond.if_modified_since is not None:
        headers["if-modified-since"] = http_date(cond.if_modified_since)
    if dates and cond.if_unmodified_since is not None:
        headers["if-unmodified-since"] = http_date(cond.if_unmodified_since)
    return headers


def http_put_headers(mode: PutMode) -> dict[str, str]:
    """Headers for a conditional write: ``If-None-Match: *`` (create) or ``If-Match`` (CAS by ETag).

    A version-only ``UpdateVersion`` yields no header: the provider expresses it otherwise
    (S3 has no versioned conditional put, GCS uses ``ifGenerationMatch``).
    """
    if mode == "create":
        return {"If-None-Match": "*"}
    if isinstance(mode, UpdateVersion) and mode.etag is not None:
        return {"If-Match": quote_etag(mode.etag)}
    return {}


def _quote_list(value: str) -> str:
    return ", ".join(quote_etag(v) for v in value.split(",") if v.strip())
