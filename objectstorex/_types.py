"""Result and option types shared by every store (frozen dataclasses)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

__all__ = [
    "ATTRIBUTE_NAMES",
    "Attributes",
    "Capabilities",
    "ChecksumName",
    "GetResult",
    "ListResult",
    "ObjectMeta",
    "ProgressCallback",
    "ProgressEvent",
    "PutResult",
]

#: The standard attribute names a store may keep (plus ``"metadata"`` for user metadata).
ATTRIBUTE_NAMES: tuple[str, ...] = (
    "content_type",
    "content_disposition",
    "content_encoding",
    "content_language",
    "cache_control",
)

#: The end-to-end integrity choices (store option and per-call ``checksum=``).
ChecksumName = Literal["auto", "crc32", "crc32c", "md5", "sha256", "off"]


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """How far a transfer got: passed to a ``progress=`` callable.

    Attributes:
        path: the object being transferred.
        transferred: bytes transferred so far.
        total: the size, or ``None`` while unknown (a ``put_stream`` from a generator).
        delta: bytes since the previous event (negative when bytes are sent again after a retry).
        done: ``True`` on the last event only.
    """

    path: str
    transferred: int
    total: int | None
    delta: int
    done: bool


#: A ``progress=`` callable; what it returns is ignored, what it raises aborts the transfer.
ProgressCallback = Callable[[ProgressEvent], object]

AttributeName = Literal[
    "content_type",
    "content_disposition",
    "content_encoding",
    "content_language",
    "cache_control",
    "metadata",
]


@dataclass(frozen=True, slots=True)
class ObjectMeta:
    """What a store knows about one object.

    Attributes:
        location: the object's path, relative to the store's root/prefix.
        size: size of the whole object in bytes.
        last_modified: time of the last write (aware, UTC).
        etag: opaque entity tag; pass it back exactly as returned.
        version: provider version id (S3 VersionId, GCS generation) or ``None``.
    """

    location: str
    size: int
    last_modified: datetime
    etag: str | None
    version: str | None = None


@dataclass(frozen=True, slots=True)
class PutResult:
    """What a successful write returns: the new ETag and version, where the provider has them.

    Attributes:
        etag: the new object's ETag, or ``None``.
        version: the new object's version id, or ``None`` where the store keeps no versions.
    """

    etag: str | None
    version: str | None = None


@dataclass(frozen=True, slots=True)
class Attributes:
    """Standard HTTP attributes and user metadata kept with an object.

    Attributes:
        content_type: ``Content-Type``.
        content_disposition: ``Content-Disposition``.
        content_encoding: ``Content-Encoding``.
        content_language: ``Content-Language``.
        cache_control: ``Cache-Control``.
        metadata: user metadata (S3 lower-cases the keys).
    """

    content_type: str | None = None
    content_disposition: str | None = None
    content_encoding: str | None = None
    content_language: str | None = None
    cache_control: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    def is_empty(self) -> bool:
        """Return True when no attribute and no metadata is set."""
        return (
            self.content_type is None
            and self.content_disposition is None
            and self.content_encoding is None
            and self.content_language is None
            and self.cache_control is None
            and not self.metadata
        )


@dataclass(frozen=True, slots=True)
class GetResult:
    """The body of a read together with its metadata and attributes.

    Attributes:
        data: the bytes read (only the requested range for a ranged read).
        meta: metadata of the whole object (``meta.size`` is the full size).
        attributes: the object's attributes and user metadata.
    """

    data: bytes
    meta: ObjectMeta
    attributes: Attributes = field(default_factory=Attributes)


@dataclass(frozen=True, slots=True)
class ListResult:
    """One level of a delimited listing.

    Attributes:
        objects: objects directly under the prefix.
        common_prefixes: sub-"directories", without trailing ``/``, usable as prefixes.
    """

    objects: list[ObjectMeta]
    common_prefixes: list[str]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a store can do, so code can branch instead of trying and catching.

    Attributes:
        put_create: create-only writes (``mode="create"``) are atomic.
        put_update_etag: CAS writes by ETag (``UpdateVersion(etag=...)``).
        put_update_version: CAS writes by version (``UpdateVersion(version=...)``).
        copy_if_not_exists: atomic ``copy_if_not_exists``/``rename_if_not_exists``.
        delete_if_match: conditional ``delete(path, if_match=...)``.
        tags: object tags (``put(tags=...)``, ``get_tags``).
        versions: reads of older versions (``version=``).
        sign: pre-signed URLs (``sign``).
        conditional_get: ``if_match``/``if_none_match``/``if_(un)modified_since`` on reads.
        attributes: the attribute names kept (``"metadata"`` when user metadata is kept).
    """

    put_create: bool = True
    put_update_etag: bool = True
    put_update_version: bool = False
    copy_if_not_exists: bool = True
    delete_if_match: bool = True
    tags: bool = False
    versions: bool = False
    sign: bool = False
    conditional_get: bool = True
    attributes: frozenset[str] = frozenset((*ATTRIBUTE_NAMES, "metadata"))
