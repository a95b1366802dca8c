"""The Store protocol and BaseStore, which validates every call once for all backends.

Backends subclass :class:`BaseStore` and implement the underscore hooks (``_put``, ``_get``,
...). The public methods here check the store's state, validate paths, ranges, modes,
attributes and capabilities *before any I/O*, and then delegate, so bad input gets the same
error on every provider.
"""

from __future__ import annotations

import asyncio
import builtins
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

from ._ranges import ByteRange, coalesce, parse_range, slice_spans
from ._stream import DEFAULT_CHUNK_SIZE, ObjectStream
from ._types import (
    ATTRIBUTE_NAMES,
    Attributes,
    Capabilities,
    ChecksumName,
    GetResult,
    ListResult,
    ObjectMeta,
    ProgressCallback,
    PutResult,
)
from .errors import (
    BulkDeleteError,
    InvalidArgumentError,
    NotSupportedError,
    ObjectStoreError,
)
from .paths import validate_path, validate_prefix
from .preconditions import GetConditions, PutMode, UpdateVersion, validate_put_mode
from .progress import Reporter

__all__ = ["BaseStore", "GetOptions", "PutOptions", "Store"]

#: A byte range: ``(start, end)`` half-open, ``(start, None)`` to the end, ``(-n, None)`` the
#: last ``n`` bytes; ``None`` for the whole object.
RangeArg = tuple[int, int | None] | Sequence[int | None] | None
#: What ``put_stream`` writes: an async or sync iterable of bytes-like chunks.
ByteStream = AsyncIterable[Any] | Iterable[Any]


@dataclass(frozen=True, slots=True)
class GetOptions:
    """A validated read request handed to a backend."""

    conditions: GetConditions
    range: ByteRange | None = None
    version: str | None = None
    progress: ProgressCallback | None = None


_NO_CONDITIONS = GetConditions()
_PLAIN_GET = GetOptions(_NO_CONDITIONS)


@dataclass(frozen=True, slots=True)
class PutOptions:
    """A validated write request handed to a backend."""

    mode: PutMode
    attributes: Attributes
    tags: Mapping[str, str] | None = None
    checksum: ChecksumName | None = None  # a per-call override of the store's ``checksum=``
    progress: ProgressCallback | None = None


_EMPTY_ATTRIBUTES = Attributes()
_PLAIN_PUT = PutOptions("overwrite", _EMPTY_ATTRIBUTES, None)


@runtime_checkable
class Store(Protocol):
    """What every objectstorex store offers; type your code against this."""

    @property
    def capabilities(self) -> Capabilities:
        """What this store can do."""
        ...

    async def put(
        self,
        path: str,
        data: bytes | bytearray | memoryview,
        *,
        mode: PutMode = "overwrite",
        content_type: str | None = None,
        content_disposition: str | None = None,
        content_encoding: str | None = None,
        content_language: str | None = None,
        cache_control: str | None = None,
        metadata: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        checksum: ChecksumName | None = None,
        progress: ProgressCallback | None = None,
    ) -> PutResult:
        """Write a whole object."""
        ...

    async def put_stream(
        self,
        path: str,
        stream: ByteStream,
        *,
        part_size: int | None = None,
        max_concurrency: int | None = None,
        mode: PutMode = "overwrite",
        checksum: ChecksumName | None = None,
        progress: ProgressCallback | None = None,
        **attributes: Any,
    ) -> PutResult:
        """Write an object from an iterable of chunks with bounded memory."""
        ...

    async def get(
        self,
        path: str,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since: datetime | None = None,
        if_unmodified_since: datetime | None = None,
        range: RangeArg = None,
        version: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> bytes:
        """Read an object (or a range of it)."""
        ...

    async def get_object(
        self,
        path: str,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since: datetime | None = None,
        if_unmodified_since: datetime | None = None,
        range: RangeArg = None,
        version: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> GetResult:
        """Read an object with its metadata and attributes."""
        ...

    def get_stream(
        self,
        path: str,
        *,
        chunk_size: int | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since: datetime | None = None,
        if_unmodified_since: datetime | None = None,
        range: RangeArg = None,
        version: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ObjectStream:
        """Stream an object in chunks."""
        ...

    async def get_ranges(self, path: str, ranges: Sequence[RangeArg]) -> builtins.list[bytes]:
        """Read several ranges of one object."""
        ...

    async def head(self, path: str, *, version: str | None = None) -> ObjectMeta:
        """Return an object's metadata."""
        ...

    async def delete(self, path: str, *, if_match: str | UpdateVersion | None = None) -> None:
        """Delete an object (idempotent)."""
        ...

    async def delete_many(self, paths: Iterable[str]) -> None:
        """Delete many objects."""
        ...

    async def get_tags(self, path: str) -> dict[str, str]:
        """Return an object's tags."""
        ...

    def list(self, prefix: str | None = None, *, offset: str | None = None) -> AsyncIterator[ObjectMeta]:
        """List objects under a prefix, recursively, in lexicographic order."""
        ...

    async def list_with_delimiter(self, prefix: str | None = None) -> ListResult:
        """List one level under a prefix."""
        ...

    async def copy(self, src: str, dst: str, *, progress: ProgressCallback | None = None) -> None:
        """Copy an object, overwriting the destination."""
        ...

    async def rename(self, src: str, dst: str) -> None:
        """Move an object, overwriting the destination."""
        ...

    async def copy_if_not_exists(self, src: str, dst: str) -> None:
        """Copy an object unless the destination exists (atomic)."""
        ...

    async def rename_if_not_exists(self, src: str, dst: str) -> None:
        """Move an object unless the destination exists (atomic)."""
        ...

    async def sign(self, method: str, path: str, expires_in: timedelta | float) -> str:
        """Return a pre-signed URL."""
        ...

    async def close(self) -> None:
        """Release connections (idempotent)."""
        ...

    async def __aenter__(self) -> Self:
        """Open the store."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the store."""
        ...


_ATTR_KEYS = frozenset((*ATTRIBUTE_NAMES, "metadata", "tags"))
_SIGN_METHODS = frozenset(("GET", "PUT", "HEAD", "DELETE"))


def _str_map(name: str, value: object, path: str, provider: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(f"{name} must be a mapping of str to str", path=path, provider=provider)
    out: dict[str, str] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not k or not isinstance(v, str):
            raise InvalidArgumentError(
                f"{name} must map non-empty str keys to str values (bad entry {k!r})", path=path, provider=provider
            )
        out[k] = v
    return out


CHECKSUMS: frozenset[str] = frozenset(("auto", "crc32", "crc32c", "md5", "sha256", "off"))


def check_checksum(value: object, *, path: str | None = None, provider: str | None = None) -> ChecksumName:
    """Validate a ``checksum=`` option or argument.

    Raises:
        InvalidArgumentError: not one of ``"auto"``, ``"crc32"``, ``"crc32c"``, ``"md5"``, ``"sha256"``, ``"off"``.
    """
    if not isinstance(value, str) or value not in CHECKSUMS:
        raise InvalidArgumentError(
            f"checksum must be one of {sorted(CHECKSUMS)}, got {value!r}", path=path, provider=provider
        )
    return value  # type: ignore[return-value]


def _progress(value: object, path: str, provider: str) -> ProgressCallback:
    if not callable(value):
        raise InvalidArgumentError("progress must be a callable taking a ProgressEvent", path=path, provider=provider)
    return value


def _call_options(checksum: object, progress: object, path: str, provider: str) -> dict[str, Any]:
    """The per-call ``checksum``/``progress`` of a write, validated (empty when neither is given)."""
    extra: dict[str, Any] = {}
    if checksum is not None:
        extra["checksum"] = check_checksum(checksum, path=path, provider=provider)
    if progress is not None:
        extra["progress"] = _progress(progress, path, provider)
    return extra


class BaseStore(ABC):
    """Lifecycle, validation and shared algorithms for every backend.

    A store opens lazily on first use or in ``async with``; ``close()`` is idempotent and a
    closed store raises ``ObjectStoreError`` on every call.
    """

    #: The provider's name: ``"memory"``, ``"local"``, ``"s3"``, ``"azure"`` or ``"gcs"``.
    provider: ClassVar[str] = "base"

    def __init__(self) -> None:
        """Start in the unopened state."""
        self._live = False  # opened and not closed: the one check on the hot path
        self._closed = False
        self._opened = False
        self._open_lock: asyncio.Lock | None = None

    # ----------------------------------------------------------------------------- lifecycle

    @property
    @abstractmethod
    def capabilities(self) -> Capabilities:
        """What this store can do."""

    async def _open(self) -> None:  # noqa: B027 - optional hook
        """Acquire resources (sessions, credentials); backends override."""

    async def _close(self) -> None:  # noqa: B027 - optional hook
        """Release resources; backends override. Called at most once."""

    async def _ensure_open(self) -> None:
        if self._closed:
            raise ObjectStoreError(f"the {self.provider} store is closed", provider=self.provider)
        if self._opened:
            return
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if not self._opened:
                await self._open()
                self._opened = True
                self._live = not self._closed

    def _check_not_closed(self) -> None:
        if self._closed:
            raise ObjectStoreError(f"the {self.provider} store is closed", provider=self.provider)

    async def close(self) -> None:
        """Release connections and other resources; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._live = False
        if self._opened:
            await self._close()

    async def __aenter__(self) -> Self:
        await self._ensure_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _repr_fields(self) -> dict[str, object]:
        """Fields shown by ``repr``; never include secrets."""
        return {}

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self._repr_fields().items())
        return f"{type(self).__name__}({fields})"

    # ----------------------------------------------------------------------------- validation

    def _path(self, path: object) -> str:
        return validate_path(path, provider=self.provider)

    def _data(self, data: object, path: str) -> bytes:
        if type(data) is bytes:
            return data
        if isinstance(data, bytes):
            return bytes(data)
        if isinstance(data, str):
            raise InvalidArgumentError(
                "data must be bytes-like, not str: encode it first (e.g. text.encode())",
                path=path,
                provider=self.provider,
            )
        try:
            view = memoryview(data)  # type: ignore[arg-type]
        except TypeError:
            raise InvalidArgumentError(
                f"data must be bytes-like (bytes, bytearray, memoryview), not {type(data).__name__}",
                path=path,
                provider=self.provider,
            ) from None
        return view.tobytes()

    def _put_options(
        self,
        path: str,
        mode: object,
        attrs: Mapping[str, object],
    ) -> PutOptions:
        provider = self.provider
        checked_mode = validate_put_mode(mode, path=path, provider=provider)
        caps = self.capabilities
        if isinstance(checked_mode, UpdateVersion):
            if checked_mode.etag is None and not caps.put_update_version:
                raise NotSupportedError(
                    f"the {provider} store cannot update by version (no versions); pass the etag",
                    path=path,
                    provider=provider,
                )
            if checked_mode.etag is not None and not caps.put_update_etag and not caps.put_update_version:
                raise NotSupportedError(
                    f"the {provider} store has no conditional updates", path=path, provider=provider
                )
        elif checked_mode == "create" and not caps.put_create:
            raise NotSupportedError(f"the {provider} store has no create-only writes", path=path, provider=provider)
        if not attrs:
            if checked_mode == "overwrite":
                return _PLAIN_PUT
            return PutOptions(checked_mode, _EMPTY_ATTRIBUTES, None)
        values: dict[str, Any] = {}
        tags: dict[str, str] | None = None
        for name, value in attrs.items():
            if name not in _ATTR_KEYS:
                raise InvalidArgumentError(f"unknown put option {name!r}", path=path, provider=provider)
            if value is None:
                continue
            if name == "tags":
                tags = _str_map("tags", value, path, provider)
                if tags and not caps.tags:
                    raise NotSupportedError(f"the {provider} store has no object tags", path=path, provider=provider)
                continue
            if name == "metadata":
                value = _str_map("metadata", value, path, provider)
                if not value:
                    continue
            elif not isinstance(value, str):
                raise InvalidArgumentError(f"{name} must be a str", path=path, provider=provider)
            if name not in caps.attributes:
                raise NotSupportedError(f"the {provider} store does not keep {name}", path=path, provider=provider)
            values[name] = value
        return PutOptions(checked_mode, Attributes(**values) if values else _EMPTY_ATTRIBUTES, tags or None)

    def _get_options(
        self,
        path: str,
        if_match: object,
        if_none_match: object,
        if_modified_since: object,
        if_unmodified_since: object,
        range: object,
        version: object,
    ) -> GetOptions:
        provider = self.provider
        if (
            if_match is None
            and if_none_match is None
            and if_modified_since is None
            and if_unmodified_since is None
            and range is None
            and version is None
        ):
            return _PLAIN_GET
        conditions = GetConditions.build(
            if_match=if_match,
            if_none_match=if_none_match,
            if_modified_since=if_modified_since,
            if_unmodified_since=if_unmodified_since,
            path=path,
            provider=provider,
        )
        byte_range = None if range is None else parse_range(range, path=path, provider=provider)
        self._version(version, path)
        return GetOptions(conditions, byte_range, version)  # type: ignore[arg-type]

    def _version(self, version: object, path: str) -> str | None:
        if version is None:
            return None
        if not self.capabilities.versions:
            raise NotSupportedError(
                f"the {self.provider} store has no object versions", path=path, provider=self.provider
            )
        if not isinstance(version, str) or not version:
            raise InvalidArgumentError("version must be a non-empty str", path=path, provider=self.provider)
        return version

    # ----------------------------------------------------------------------------- operations

    async def put(
        self,
        path: str,
        data: bytes | bytearray | memoryview,
        *,
        mode: PutMode = "overwrite",
        content_type: str | None = None,
        content_disposition: str | None = None,
        content_encoding: str | None = None,
        content_language: str | None = None,
        cache_control: str | None = None,
        metadata: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        checksum: ChecksumName | None = None,
        progress: ProgressCallback | None = None,
    ) -> PutResult:
        """Write a whole object, atomically replacing any previous one.

        Args:
            path: where to write.
            data: the bytes (``bytes``, ``bytearray`` or ``memoryview``; not ``str``).
            mode: ``"overwrite"``; ``"create"`` (fails if the path exists); or an
                :class:`UpdateVersion` (compare-and-swap: fails if the object changed or is gone).
            content_type: ``Content-Type`` to keep with the object.
            content_disposition: ``Content-Disposition`` to keep.
            content_encoding: ``Content-Encoding`` to keep.
            content_language: ``Content-Language`` to keep.
            cache_control: ``Cache-Control`` to keep.
            metadata: user metadata.
            tags: object tags (where ``capabilities.tags``).
            checksum: end-to-end integrity for this call, overriding the store's ``checksum=``
                (``"auto"``, ``"crc32"``, ``"crc32c"``, ``"md5"``, ``"sha256"`` or ``"off"``);
                memory and local stores have no transit to protect and ignore it.
            progress: a callable receiving :class:`ProgressEvent` as the bytes go out.

        Returns:
            The new ETag and version.

        Raises:
            AlreadyExistsError: ``mode="create"`` and the object exists.
            PreconditionError: ``UpdateVersion`` and the object changed or is missing.
            InvalidPathError: bad path (before any I/O).
            InvalidArgumentError: wrong data type, unknown mode or option (before any I/O).
            NotSupportedError: tags or an attribute the provider does not keep (before any I/O).
        """
        self._check_not_closed()  # the store opens only once the input is known good: bad input costs no I/O
        path = self._path(path)
        body = self._data(data, path)
        extra = _call_options(checksum, progress, path, self.provider)
        if (
            not extra
            and mode == "overwrite"
            and tags is None
            and metadata is None
            and content_type is None
            and (
                content_disposition is None
                and content_encoding is None
                and content_language is None
                and cache_control is None
            )
        ):
            if not self._live:
                await self._ensure_open()
            return await self._put(path, body, _PLAIN_PUT)
        opts = self._put_options(
            path,
            mode,
            {
                "content_type": content_type,
                "content_disposition": content_disposition,
                "content_encoding": content_encoding,
                "content_language": content_language,
                "cache_control": cache_control,
                "metadata": metadata,
                "tags": tags,
            },
        )
        if extra:
            opts = replace(opts, **extra)
        if not self._live:
            await self._ensure_open()
        return await self._put(path, body, opts)

    async def put_stream(
        self,
        path: str,
        stream: ByteStream,
        *,
        part_size: int | None = None,
        max_concurrency: int | None = None,
        mode: PutMode = "overwrite",
        checksum: ChecksumName | None = None,
        progress: ProgressCallback | None = None,
        **attributes: Any,
    ) -> PutResult:
        """Write an object from chunks with bounded memory; nothing is visible until it completes.

        Args:
            path: where to write.
            stream: an async or sync iterable of bytes-like chunks of any size.
            part_size: upload part size in bytes (provider minimums apply).
            max_concurrency: parts uploaded at once; memory is about ``part_size * max_concurrency``.
            mode: as for :meth:`put`.
            checksum: as for :meth:`put`.
            progress: as for :meth:`put` (``total`` is ``None``: a stream's size is not known).
            **attributes: ``content_type``, ``content_disposition``, ``content_encoding``,
                ``content_language``, ``cache_control``, ``metadata``, ``tags``.

        Returns:
            The new ETag and version.

        Raises:
            AlreadyExistsError: ``mode="create"`` and the object exists.
            PreconditionError: ``UpdateVersion`` and the object changed.
            InvalidArgumentError: an unknown option or a chunk that is not bytes-like.

        An exception raised by ``stream`` is re-raised unchanged after the upload is aborted.
        """
        self._check_not_closed()
        path = self._path(path)
        for name, v in (("part_size", part_size), ("max_concurrency", max_concurrency)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v <= 0):
                raise InvalidArgumentError(f"{name} must be a positive int", path=path, provider=self.provider)
        if isinstance(stream, (bytes, bytearray, memoryview, str)):
            raise InvalidArgumentError(
                "stream must be an iterable of bytes chunks (use put() for a single bytes object)",
                path=path,
                provider=self.provider,
            )
        if not isinstance(stream, (AsyncIterable, Iterable)):
            raise InvalidArgumentError(
                f"stream must be an async or sync iterable of bytes, not {type(stream).__name__}",
                path=path,
                provider=self.provider,
            )
        opts = self._put_options(path, mode, attributes)
        extra = _call_options(checksum, progress, path, self.provider)
        if extra:
            opts = replace(opts, **extra)
        if not self._live:
            await self._ensure_open()
        return await self._put_stream(path, self._chunks(stream, path), opts, part_size, max_concurrency)

    async def _chunks(self, stream: ByteStream, path: str) -> AsyncIterator[bytes]:
        """Normalise the caller's iterable into non-empty chunks (see :meth:`_chunk`)."""
        if isinstance(stream, AsyncIterable):
            async for chunk in stream:
                data = self._chunk(chunk, path)
                if data:
                    yield data
                del chunk, data  # not held while the caller makes the next chunk
        else:
            for chunk in stream:
                data = self._chunk(chunk, path)
                if data:
                    yield data
                del chunk, data

    def _chunk(self, chunk: object, path: str) -> bytes:
        """One validated chunk as ``bytes`` (a copy: these stores keep chunks past the next one)."""
        return self._data(chunk, path)

    async def get(
        self,
        path: str,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since: datetime | None = None,
        if_unmodified_since: datetime | None = None,
        range: RangeArg = None,
        version: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> bytes:
        """Read an object, or a range of it.

        Args:
            path: the object.
            if_match: fail with ``PreconditionError`` unless the ETag matches (RFC 9110 13.1.1).
            if_none_match: fail with ``NotModifiedError`` if the ETag matches (RFC 9110 13.1.2).
            if_modified_since: ``NotModifiedError`` unless modified after it (RFC 9110 13.1.3).
            if_unmodified_since: ``PreconditionError`` if modified after it (RFC 9110 13.1.4).
            range: ``(start, end)`` half-open, ``(start, None)`` or ``(-n, None)``.
            version: read this version (where ``capabilities.versions``).
            progress: a callable receiving :class:`ProgressEvent` as the bytes arrive.

        Returns:
            The bytes.

        Raises:
            NotFoundError: no such object.
            NotModifiedError: see ``if_none_match``, ``if_modified_since``.
            PreconditionError: see ``if_match``, ``if_unmodified_since``.
            InvalidRangeError: a malformed range or one starting at or past the end.
        """
        result = await self.get_object(
            path,
            if_match=if_match,
            if_none_match=if_none_match,
            if_modified_since=if_modified_since,
            if_unmodified_since=if_unmodified_since,
            range=range,
            version=version,
            progress=progress,
        )
        return result.data

    async def get_object(
        self,
        path: str,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since: datetime | None = None,
        if_unmodified_since: datetime | None = None,
        range: RangeArg = None,
        version: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> GetResult:
        """Read an object with its metadata and attributes; options as for :meth:`get`.

        Raises:
            NotFoundError: no such object.
            NotModifiedError: a read condition says the cached copy is current.
            PreconditionError: a read condition failed.
            InvalidRangeError: a malformed or unsatisfiable range.
        """
        self._check_not_closed()
        path = self._path(path)
        opts = self._get_options(path, if_match, if_none_match, if_modified_since, if_unmodified_since, range, version)
        if progress is not None:
            opts = replace(opts, progress=_progress(progress, path, self.provider))
        if not self._live:
            await self._ensure_open()
        return await self._get(path, opts)

    def get_stream(
        self,
        path: str,
        *,
        chunk_size: int | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since: datetime | None = None,
        if_unmodified_since: datetime | None = None,
        range: RangeArg = None,
        version: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ObjectStream:
        """Stream an object in chunks (a plain call: the request is sent on first use).

        Args:
            path: the object.
            chunk_size: preferred chunk size in bytes (default 1 MiB).
            if_match: as for :meth:`get`.
            if_none_match: as for :meth:`get`.
            if_modified_since: as for :meth:`get`.
            if_unmodified_since: as for :meth:`get`.
            range: as for :meth:`get`.
            version: as for :meth:`get`.
            progress: as for :meth:`get`.

        Returns:
            An :class:`ObjectStream`.

        Raises:
            InvalidPathError: bad path (raised here, before any I/O).
        """
        self._check_not_closed()
        path = self._path(path)
        if chunk_size is not None and (
            isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size <= 0
        ):
            raise InvalidArgumentError("chunk_size must be a positive int", path=path, provider=self.provider)
        opts = self._get_options(path, if_match, if_none_match, if_modified_since, if_unmodified_since, range, version)
        if progress is not None:
            opts = replace(opts, progress=_progress(progress, path, self.provider))
        size = chunk_size or DEFAULT_CHUNK_SIZE

        async def opener() -> tuple[ObjectMeta, AsyncIterator[bytes]]:
            if not self._live:
                await self._ensure_open()
            meta, chunks = await self._open_stream(path, opts, size)
            if opts.progress is None:
                return meta, chunks
            # One place for every store: the chunks are counted as they are handed out.
            total: int | None = meta.size
            if opts.range is not None:
                try:
                    start, end = opts.range.resolve(meta.size)
                    total = end - start
                except ObjectStoreError:
                    total = None  # not knowable from the metadata: the last event carries it
            return meta, Reporter(opts.progress, path, total).streamed(chunks)

        return ObjectStream(opener)

    async def get_ranges(self, path: str, ranges: Sequence[RangeArg]) -> builtins.list[bytes]:
        """Read several ranges of one object concurrently (nearby ranges are coalesced).

        Args:
            path: the object.
            ranges: ranges as for :meth:`get`.

        Returns:
            One ``bytes`` per range, in the order given.

        Raises:
            NotFoundError: no such object.
            InvalidRangeError: any range malformed or unsatisfiable.
        """
        self._check_not_closed()
        path = self._path(path)
        if isinstance(ranges, (str, bytes)) or not isinstance(ranges, Iterable):
            raise InvalidArgumentError(
                "ranges must be a sequence of (start, end) pairs", path=path, provider=self.provider
            )
        parsed = [parse_range(r, path=path, provider=self.provider) for r in ranges]
        if not parsed:
            return []
        if not self._live:
            await self._ensure_open()
        return await self._get_ranges(path, parsed)

    async def head(self, path: str, *, version: str | None = None) -> ObjectMeta:
        """Return an object's metadata.

        Raises:
            NotFoundError: no such object.
        """
        self._check_not_closed()
        path = self._path(path)
        if not self._live:
            await self._ensure_open()
        return await self._head(path, self._version(version, path))

    async def delete(self, path: str, *, if_match: str | UpdateVersion | None = None) -> None:
        """Delete an object; deleting a missing object is not an error.

        Args:
            path: the object.
            if_match: an ETag or :class:`UpdateVersion`: delete only if the object is in that state.

        Raises:
            PreconditionError: ``if_match`` given and the object changed or is missing.
            NotSupportedError: ``if_match`` where ``capabilities.delete_if_match`` is false.
        """
        self._check_not_closed()
        path = self._path(path)
        cond: UpdateVersion | None = None
        if if_match is not None:
            if isinstance(if_match, str):
                if not if_match.strip():
                    raise InvalidArgumentError("if_match must be a non-empty str", path=path, provider=self.provider)
                cond = UpdateVersion(etag=if_match)
            else:
                cond = validate_put_mode(if_match, path=path, provider=self.provider)  # type: ignore[assignment]
                if not isinstance(cond, UpdateVersion):
                    raise InvalidArgumentError(
                        "if_match must be an ETag str or an UpdateVersion", path=path, provider=self.provider
                    )
            if not self.capabilities.delete_if_match:
                raise NotSupportedError(
                    f"the {self.provider} store has no conditional delete", path=path, provider=self.provider
                )
            if cond.etag is None and not self.capabilities.versions:
                raise NotSupportedError(
                    f"the {self.provider} store has no versions; pass the etag", path=path, provider=self.provider
                )
        if not self._live:
            await self._ensure_open()
        await self._delete(path, cond)

    async def delete_many(self, paths: Iterable[str]) -> None:
        """Delete many objects, with the provider's batch API where it has one.

        Every path is tried; missing paths are not errors.

        Raises:
            InvalidPathError: any path is invalid (before anything is deleted).
            BulkDeleteError: some deletes failed; ``.errors`` maps each path to its error.
        """
        self._check_not_closed()
        if isinstance(paths, (str, bytes)):
            raise InvalidArgumentError(
                "delete_many takes an iterable of paths, not a single str", provider=self.provider
            )
        checked = list(dict.fromkeys(self._path(p) for p in paths))
        if not checked:
            return
        if not self._live:
            await self._ensure_open()
        errors = await self._delete_many(checked)
        if errors:
            raise BulkDeleteError(errors, provider=self.provider)

    async def get_tags(self, path: str) -> dict[str, str]:
        """Return the object's tags as set by ``put(..., tags=)``.

        Raises:
            NotFoundError: no such object.
            NotSupportedError: the provider has no tags.
        """
        self._check_not_closed()
        path = self._path(path)
        if not self.capabilities.tags:
            raise NotSupportedError(f"the {self.provider} store has no object tags", path=path, provider=self.provider)
        if not self._live:
            await self._ensure_open()
        return await self._get_tags(path)

    def list(self, prefix: str | None = None, *, offset: str | None = None) -> AsyncIterator[ObjectMeta]:
        """List every object under ``prefix`` (recursive, whole segments) in lexicographic order.

        A plain call returning an async iterator; pages are fetched lazily.

        Args:
            prefix: ``"a/b"`` lists objects under ``a/b/`` (never ``a/bc`` nor ``a/b`` itself);
                ``None`` or ``""`` lists everything.
            offset: only locations strictly greater than this.

        Raises:
            InvalidPathError: a bad prefix (raised here, before any I/O).
        """
        self._check_not_closed()
        norm = validate_prefix(prefix, provider=self.provider)
        if offset is not None and not isinstance(offset, str):
            raise InvalidArgumentError("offset must be a str", provider=self.provider)
        return self._list_checked(norm, offset or None)

    async def _list_checked(self, prefix: str, offset: str | None) -> AsyncIterator[ObjectMeta]:
        if not self._live:
            await self._ensure_open()
        async for meta in self._list(prefix, offset):
            yield meta

    async def list_with_delimiter(self, prefix: str | None = None) -> ListResult:
        """List one level under ``prefix``: its objects and its sub-"directories".

        Raises:
            InvalidPathError: a bad prefix.
        """
        self._check_not_closed()
        norm = validate_prefix(prefix, provider=self.provider)
        if not self._live:
            await self._ensure_open()
        return await self._list_with_delimiter(norm)

    async def copy(self, src: str, dst: str, *, progress: ProgressCallback | None = None) -> None:
        """Copy ``src`` to ``dst`` with its attributes, overwriting ``dst``.

        Raises:
            NotFoundError: ``src`` does not exist.
        """
        self._check_not_closed()
        src, dst = self._path(src), self._path(dst)
        report = None if progress is None else _progress(progress, dst, self.provider)
        if not self._live:
            await self._ensure_open()
        await self._copy(src, dst, overwrite=True, progress=report)

    async def rename(self, src: str, dst: str) -> None:
        """Move ``src`` to ``dst``, overwriting ``dst``.

        Raises:
            NotFoundError: ``src`` does not exist.
        """
        self._check_not_closed()
        src, dst = self._path(src), self._path(dst)
        if not self._live:
            await self._ensure_open()
        await self._rename(src, dst, overwrite=True)

    async def copy_if_not_exists(self, src: str, dst: str) -> None:
        """Copy ``src`` to ``dst`` atomically, unless ``dst`` exists.

        Raises:
            NotFoundError: ``src`` does not exist.
            AlreadyExistsError: ``dst`` exists.
            NotSupportedError: the provider cannot do it atomically.
        """
        self._check_not_closed()
        src, dst = self._path(src), self._path(dst)
        self._need_copy_if_not_exists(dst)
        if not self._live:
            await self._ensure_open()
        await self._copy(src, dst, overwrite=False)

    async def rename_if_not_exists(self, src: str, dst: str) -> None:
        """Move ``src`` to ``dst`` atomically, unless ``dst`` exists.

        Raises:
            NotFoundError: ``src`` does not exist.
            AlreadyExistsError: ``dst`` exists.
            NotSupportedError: the provider cannot do it atomically.
        """
        self._check_not_closed()
        src, dst = self._path(src), self._path(dst)
        self._need_copy_if_not_exists(dst)
        if not self._live:
            await self._ensure_open()
        await self._rename(src, dst, overwrite=False)

    def _need_copy_if_not_exists(self, dst: str) -> None:
        if not self.capabilities.copy_if_not_exists:
            raise NotSupportedError(
                f"the {self.provider} store cannot copy-if-not-exists atomically", path=dst, provider=self.provider
            )

    async def sign(self, method: str, path: str, expires_in: timedelta | float) -> str:
        """Return a pre-signed URL for ``method`` on ``path``, valid for ``expires_in``.

        Args:
            method: ``"GET"``, ``"PUT"``, ``"HEAD"`` or ``"DELETE"``.
            path: the object.
            expires_in: a ``timedelta`` or seconds.

        Raises:
            NotSupportedError: memory and local stores.
            InvalidConfigError: the store lacks what signing needs (e.g. a GCS key).
        """
        self._check_not_closed()
        path = self._path(path)
        if not isinstance(method, str) or method.upper() not in _SIGN_METHODS:
            raise InvalidArgumentError(
                f"method must be one of {sorted(_SIGN_METHODS)}, got {method!r}", path=path, provider=self.provider
            )
        if isinstance(expires_in, timedelta):
            seconds = expires_in.total_seconds()
        elif isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool):
            seconds = float(expires_in)
        else:
            raise InvalidArgumentError("expires_in must be a timedelta or seconds", path=path, provider=self.provider)
        if seconds <= 0:
            raise InvalidArgumentError("expires_in must be positive", path=path, provider=self.provider)
        if not self.capabilities.sign:
            raise self._sign_unavailable(path)  # before opening: no credentials are needed to say so
        if not self._live:
            await self._ensure_open()
        return await self._sign(method.upper(), path, timedelta(seconds=seconds))

    # ----------------------------------------------------------------------------- hooks

    @abstractmethod
    async def _put(self, path: str, data: bytes, opts: PutOptions) -> PutResult:
        """Write ``data`` at ``path`` honouring ``opts.mode`` atomically."""

    @abstractmethod
    async def _put_stream(
        self,
        path: str,
        chunks: AsyncIterator[bytes],
        opts: PutOptions,
        part_size: int | None,
        max_concurrency: int | None,
    ) -> PutResult:
        """Upload chunks with bounded memory; abort on error, re-raising the caller's error."""

    @abstractmethod
    async def _get(self, path: str, opts: GetOptions) -> GetResult:
        """Read (part of) an object honouring conditions, range and version."""

    @abstractmethod
    async def _open_stream(
        self, path: str, opts: GetOptions, chunk_size: int
    ) -> tuple[ObjectMeta, AsyncIterator[bytes]]:
        """Send the read and return the metadata and an iterator of chunks."""

    @abstractmethod
    async def _head(self, path: str, version: str | None) -> ObjectMeta:
        """Return metadata or raise NotFoundError."""

    @abstractmethod
    async def _delete(self, path: str, cond: UpdateVersion | None) -> None:
        """Delete (idempotent without ``cond``; atomic conditional delete with it)."""

    @abstractmethod
    def _list(self, prefix: str, offset: str | None) -> AsyncIterator[ObjectMeta]:
        """Yield objects under ``prefix + '/'`` (or all for ``""``) in order, after ``offset``."""

    @abstractmethod
    async def _list_with_delimiter(self, prefix: str) -> ListResult:
        """One level under ``prefix``."""

    @abstractmethod
    async def _copy(self, src: str, dst: str, *, overwrite: bool, progress: ProgressCallback | None = None) -> None:
        """Copy with attributes; with ``overwrite=False`` atomically fail if ``dst`` exists."""

    async def _rename(self, src: str, dst: str, *, overwrite: bool) -> None:
        """Copy then delete the source; backends with a native move override."""
        await self._copy(src, dst, overwrite=overwrite)
        await self._delete(src, None)

    async def _get_tags(self, path: str) -> dict[str, str]:
        raise NotSupportedError(f"the {self.provider} store has no object tags", path=path, provider=self.provider)

    def _sign_unavailable(self, path: str) -> ObjectStoreError:
        """The error for ``sign`` on a store that cannot sign (GCS without a key: InvalidConfigError)."""
        return NotSupportedError(f"the {self.provider} store cannot sign URLs", path=path, provider=self.provider)

    async def _sign(self, method: str, path: str, expires_in: timedelta) -> str:
        raise NotSupportedError(f"the {self.provider} store cannot sign URLs", path=path, provider=self.provider)

    async def _get_ranges(self, path: str, ranges: builtins.list[ByteRange]) -> builtins.list[bytes]:
        """Resolve ranges against the size, fetch coalesced spans concurrently, slice them."""
        size = (await self._head(path, None)).size
        resolved = [r.resolve(size, path=path, provider=self.provider) for r in ranges]
        spans = coalesce(resolved)

        async def fetch(span: tuple[int, int]) -> bytes:
            res = await self._get(path, GetOptions(_NO_CONDITIONS, ByteRange(span[0], span[1])))
            return res.data

        blobs = await asyncio.gather(*(fetch(s) for s in spans))
        return slice_spans(resolved, spans, blobs)

    async def _delete_many(self, paths: builtins.list[str]) -> dict[str, ObjectStoreError]:
        """Delete concurrently (16 at a time), collecting per-path errors."""
        errors: dict[str, ObjectStoreError] = {}
        sem = asyncio.Semaphore(16)

        async def one(p: str) -> None:
            async with sem:
                try:
                    await self._delete(p, None)
                except ObjectStoreError as e:
                    errors[p] = e

        await asyncio.gather(*(one(p) for p in paths))
        return errors
