"""The obspec protocols over any objectstorex store: ``ObspecStore(store)``.

``ObspecStore`` satisfies obspec's async protocols (``GetAsync``, ``GetRangeAsync``,
``GetRangesAsync``, ``HeadAsync``, ``ListAsync``, ``ListWithDelimiterAsync``, ``PutAsync``,
``CopyAsync``, ``RenameAsync``, ``DeleteAsync``) and their sync twins (``Get``, ``GetRange``, ...),
so obspec consumers (obspec-utils readers, VirtualiZarr, async-tiff...) read and write
through objectstorex. Results are obspec's dicts (``ObjectMeta`` with ``path``, ``size``,
``last_modified``, ``e_tag``, ``version``; ``PutResult``; ``ListResult``).

Example::

    from obspec_utils.readers import BufferedStoreReader
    from objectstorex.obspec import ObspecStore

    obs = ObspecStore(osx.from_url("s3://bucket", region="us-east-1"))
    with BufferedStoreReader(obs, "data/file.nc") as f:
        header = f.read(8)
    obs.close()

Where calls run:

- The ``*_async`` methods run on the caller's event loop.
- The sync methods run the async ones to completion on the loop the store belongs to:
  objectstorex's bridge loop thread (one daemon thread shared by the bridges, started on first
  use) for a store not used yet or a memory/local store, or the store's own loop when that loop
  runs in another thread (or, idle, is driven right there). A network store (S3, Azure, GCS)
  belongs to the loop running when the ``ObspecStore`` was made (it was presumably opened there)
  or else to its first user; a call from another loop, a blocking call from that loop's own
  thread (a deadlock), or a call to a store opened on another loop before it was wrapped raises
  an ``ObjectStoreError`` that says so.
- ``close()`` (or ``with``/``async with``) closes the wrapped store on its loop.

Errors: each objectstorex error named like an obspec exception (``NotFoundError``,
``AlreadyExistsError``, ``PreconditionError``, ``NotModifiedError``, ``NotSupportedError``,
``PermissionDeniedError``, ``UnauthenticatedError``, ``InvalidPathError``) is raised as a class
of that name that is both the objectstorex error and the ``obspec.exceptions`` class, so
``except obspec.exceptions.NotFoundError``, ``except osx.NotFoundError``,
``except FileNotFoundError`` and ``obspec.exceptions.map_exception`` all work. Other errors
(``InvalidRangeError``, ``TransportError``...) are raised unchanged.

Ranges: ``(start, end)`` (end exclusive), ``{"offset": n}`` and ``{"suffix": n}`` map onto the
store's ``(start, end)``, ``(n, None)`` and ``(-n, None)``: one request each where the provider
has the range form. ``get`` reads the (ranged) body whole, with its attributes; iterate the
result for chunks. ``copy(..., overwrite=False)`` is ``copy_if_not_exists`` (atomic);
``rename(..., overwrite=False)`` is ``rename_if_not_exists``.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Self, TypeVar, cast

try:
    import obspec
    import obspec.exceptions as obspec_errors
except ImportError as e:  # an optional extra
    raise ImportError(f"objectstorex.obspec needs obspec ({e}): pip install 'objectstorex[obspec]'") from e

from . import _bridge, errors
from ._store import Store
from ._types import Attributes as OsxAttributes
from ._types import ObjectMeta as OsxObjectMeta
from .errors import InvalidArgumentError, InvalidRangeError, ObjectStoreError
from .preconditions import GetConditions, UpdateVersion, check_get

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = [
    "AlreadyExistsError",
    "InvalidPathError",
    "NotFoundError",
    "NotModifiedError",
    "NotSupportedError",
    "ObspecGetResult",
    "ObspecStore",
    "PermissionDeniedError",
    "PreconditionError",
    "UnauthenticatedError",
]

T = TypeVar("T")

_LIST_CHUNK = 1000  # objects per list chunk, as object stores page them
_ITER_CHUNK = 8 * 1024 * 1024  # bytes per chunk when a get result is iterated
_READ_CHUNK = 8 * 1024 * 1024  # bytes read per step from a file or path being put


# ---------------------------------------------------------------------------------- errors


class NotFoundError(errors.NotFoundError, obspec_errors.NotFoundError):
    """``osx.NotFoundError`` that is also ``obspec.exceptions.NotFoundError``."""


class AlreadyExistsError(errors.AlreadyExistsError, obspec_errors.AlreadyExistsError):
    """``osx.AlreadyExistsError`` that is also ``obspec.exceptions.AlreadyExistsError``."""


class PreconditionError(errors.PreconditionError, obspec_errors.PreconditionError):
    """``osx.PreconditionError`` that is also ``obspec.exceptions.PreconditionError``."""


class NotModifiedError(errors.NotModifiedError, obspec_errors.NotModifiedError):
    """``osx.NotModifiedError`` that is also ``obspec.exceptions.NotModifiedError``."""


class NotSupportedError(errors.NotSupportedError, obspec_errors.NotSupportedError):
    """``osx.NotSupportedError`` that is also ``obspec.exceptions.NotSupportedError``."""


class PermissionDeniedError(errors.PermissionDeniedError, obspec_errors.PermissionDeniedError):
    """``osx.PermissionDeniedError`` that is also ``obspec.exceptions.PermissionDeniedError``."""


class UnauthenticatedError(errors.UnauthenticatedError, obspec_errors.UnauthenticatedError):
    """``osx.UnauthenticatedError`` that is also ``obspec.exceptions.UnauthenticatedError``."""


class InvalidPathError(errors.InvalidPathError, obspec_errors.InvalidPathError):
    """``osx.InvalidPathError`` that is also ``obspec.exceptions.InvalidPathError``."""


_OBSPEC_ERRORS: dict[type[ObjectStoreError], type[ObjectStoreError]] = {
    errors.NotFoundError: NotFoundError,
    errors.AlreadyExistsError: AlreadyExistsError,
    errors.PreconditionError: PreconditionError,
    errors.NotModifiedError: NotModifiedError,
    errors.NotSupportedError: NotSupportedError,
    errors.PermissionDeniedError: PermissionDeniedError,
    errors.UnauthenticatedError: UnauthenticatedError,
    errors.InvalidPathError: InvalidPathError,
}


def _as_obspec(error: ObjectStoreError) -> ObjectStoreError:
    """``error`` as the class of the same name that is also obspec's (itself when obspec has none)."""
    cls = _OBSPEC_ERRORS.get(type(error))
    if cls is None:
        return error
    mapped = cls.__new__(cls)
    Exception.__init__(mapped, *error.args)
    mapped.__dict__.update(error.__dict__)
    return mapped.with_traceback(error.__traceback__)


@contextlib.contextmanager
def _obspec_errors() -> Iterator[None]:
    try:
        yield
    except ObjectStoreError as e:
        mismatch = _bridge.loop_mismatch(e, "ObspecStore")  # the store's own "another loop" error
        if mismatch is not None:
            raise _as_obspec(mismatch) from e.__cause__
        mapped = _as_obspec(e)
        if mapped is e:
            raise
        raise mapped from e.__cause__
    except RuntimeError as e:
        mismatch = _bridge.loop_mismatch(e, "ObspecStore")
        if mismatch is None:
            raise
        raise mismatch from e


# ---------------------------------------------------------------------------------- conversions


def _meta(meta: OsxObjectMeta) -> obspec.ObjectMeta:
    return {
        "path": meta.location,
        "last_modified": meta.last_modified,
        "size": meta.size,
        "e_tag": meta.etag,
        "version": meta.version,
    }


_HEADER_NAMES = {
    "content_type": "Content-Type",
    "content_disposition": "Content-Disposition",
    "content_encoding": "Content-Encoding",
    "content_language": "Content-Language",
    "cache_control": "Cache-Control",
}
_ATTRIBUTE_OPTIONS = {header.lower(): option for option, header in _HEADER_NAMES.items()}


def _attributes(attrs: OsxAttributes) -> obspec.Attributes:
    out: obspec.Attributes = {}
    for option, header in _HEADER_NAMES.items():
        value = getattr(attrs, option)
        if value is not None:
            out[header] = value
    out.update(attrs.metadata)
    return out


def _put_attributes(attributes: Mapping[str, str] | None) -> dict[str, Any]:
    """Map obspec attributes to ``put`` keyword arguments: known headers by name, the rest user metadata."""
    if attributes is None:
        return {}
    if not isinstance(attributes, Mapping):
        raise InvalidArgumentError(f"attributes must be a mapping of str to str, not {type(attributes).__name__}")
    kwargs: dict[str, Any] = {}
    metadata: dict[str, str] = {}
    for name, value in attributes.items():
        option = _ATTRIBUTE_OPTIONS.get(name.lower()) if isinstance(name, str) else None
        if option is None:
            metadata[name] = value
        else:
            kwargs[option] = value
    if metadata:
        kwargs["metadata"] = metadata
    return kwargs


def _put_mode(mode: obspec.PutMode | None) -> str | UpdateVersion:
    if mode is None:
        return "overwrite"
    if isinstance(mode, Mapping):
        unknown = set(mode) - {"e_tag", "version"}
        if unknown:
            raise InvalidArgumentError(f"an UpdateVersion mode takes e_tag and version, not {sorted(unknown)}")
        return UpdateVersion(etag=mode.get("e_tag"), version=mode.get("version"))
    return mode  # "create", "overwrite", or something the store rejects by name


def _int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{name} must be an int, not {type(value).__name__}")
    return value


def _store_range(value: object) -> tuple[int, int | None] | None:
    """An obspec ``range`` option as the store's ``range=``."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        if set(value) == {"offset"}:
            offset = _int("offset", value["offset"])
            if offset < 0:
                raise InvalidRangeError(f"an offset range needs offset >= 0, got {offset}")
            return (offset, None)
        if set(value) == {"suffix"}:
            suffix = _int("suffix", value["suffix"])
            if suffix <= 0:
                raise InvalidRangeError(f"a suffix range needs suffix > 0, got {suffix}")
            return (-suffix, None)
        raise InvalidArgumentError(f"a range dict is {{'offset': n}} or {{'suffix': n}}, got {dict(value)!r}")
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)) and len(value) == 2:
        return (_int("range start", value[0]), _int("range end", value[1]))
    raise InvalidArgumentError(f"range must be (start, end), {{'offset': n}} or {{'suffix': n}}, got {value!r}")


def _returned_range(rng: tuple[int, int | None] | None, size: int, received: int) -> tuple[int, int]:
    """The ``(start, stop)`` of the bytes a read returned."""
    if rng is None:
        start = 0
    elif rng[0] < 0:
        start = max(size + rng[0], 0)
    else:
        start = rng[0]
    return (start, start + received)


def _ends(start: int, end: int | None, length: int | None) -> int:
    if (end is None) == (length is None):
        raise InvalidArgumentError("give exactly one of end and length")
    return _int("end", end) if end is not None else _int("start", start) + _int("length", length)


_GET_OPTIONS = frozenset(
    ("if_match", "if_none_match", "if_modified_since", "if_unmodified_since", "range", "version", "head")
)
_CONDITIONS = ("if_match", "if_none_match", "if_modified_since", "if_unmodified_since")


# ---------------------------------------------------------------------------------- results


class ObspecGetResult:
    """What ``get``/``get_async`` return: obspec's ``GetResult`` and ``GetResultAsync``.

    The body is in memory: ``buffer()``/``await buffer_async()`` return it, and iterating
    (``for``/``async for``) yields it in chunks of at most 8 MiB.
    """

    __slots__ = ("_attributes", "_data", "_meta", "_range")

    def __init__(self, data: bytes, meta: obspec.ObjectMeta, attributes: obspec.Attributes, rng: tuple[int, int]):
        """Hold a read's body, metadata, attributes and returned range."""
        self._data = data
        self._meta = meta
        self._attributes = attributes
        self._range = rng

    @property
    def attributes(self) -> obspec.Attributes:
        """The object's attributes (``Content-Type``... and user metadata)."""
        return self._attributes

    @property
    def meta(self) -> obspec.ObjectMeta:
        """The object's metadata (``size`` is the whole object's)."""
        return self._meta

    @property
    def range(self) -> tuple[int, int]:
        """The ``(start, stop)`` byte range returned."""
        return self._range

    def buffer(self) -> bytes:
        """The body."""
        return self._data

    async def buffer_async(self) -> bytes:
        """The body."""
        return self._data

    def _chunks(self) -> Iterator[memoryview]:
        view = memoryview(self._data)
        for start in range(0, len(view), _ITER_CHUNK):
            yield view[start : start + _ITER_CHUNK]

    def __iter__(self) -> Iterator[memoryview]:
        return self._chunks()

    async def __aiter__(self) -> AsyncIterator[memoryview]:
        for chunk in self._chunks():
            yield chunk

    def __repr__(self) -> str:
        return f"ObspecGetResult(path={self._meta['path']!r}, range={self._range})"


async def _read_chunks(source: Path | IO[bytes], size: int) -> AsyncIterator[bytes]:
    """A file's bytes in chunks, read off the event loop."""
    if isinstance(source, Path):
        handle: IO[bytes] = await asyncio.to_thread(source.open, "rb")
        close = True
    else:
        handle, close = source, False
    try:
        while chunk := await asyncio.to_thread(handle.read, size):
            yield chunk
    finally:
        if close:
            await asyncio.to_thread(handle.close)


async def _chunked(data: memoryview, size: int) -> AsyncIterator[memoryview]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


# ---------------------------------------------------------------------------------- the store


class ObspecStore:
    """obspec's async and sync protocols over an objectstorex store (see the module docstring).

    Args:
        store: an objectstorex store (``osx.new(...)``, ``osx.from_url(...)``, or one already open).

    Raises:
        InvalidArgumentError: ``store`` is not an objectstorex store.
    """

    def __init__(self, store: Store) -> None:
        """Wrap ``store`` (no I/O)."""
        if not isinstance(store, Store):
            raise InvalidArgumentError(f"ObspecStore wraps an objectstorex store, not {type(store).__name__}")
        self._store = store
        self._owner = _bridge.LoopOwner(store, "ObspecStore")

    @property
    def store(self) -> Store:
        """The wrapped objectstorex store."""
        return self._store

    def __repr__(self) -> str:
        return f"ObspecStore({self._store!r})"

    def _use(self) -> Store:
        self._owner.check()
        return self._store

    # ------------------------------------------------------------------------------ reads

    async def get_async(self, path: str, *, options: obspec.GetOptions | None = None) -> ObspecGetResult:
        """Read an object (obspec ``GetAsync``); ``options`` as obspec's ``GetOptions``."""
        with _obspec_errors():
            opts: Mapping[str, Any] = {} if options is None else options
            if not isinstance(opts, Mapping):
                raise InvalidArgumentError(f"options must be a dict (obspec GetOptions), not {type(opts).__name__}")
            unknown = set(opts) - _GET_OPTIONS
            if unknown:
                raise InvalidArgumentError(f"unknown get option(s) {sorted(unknown)} (known: {sorted(_GET_OPTIONS)})")
            rng = _store_range(opts.get("range"))
            conditions = {k: opts[k] for k in _CONDITIONS if opts.get(k) is not None}
            version = opts.get("version")
            store = self._use()
            if opts.get("head"):
                head = await store.head(path, version=version)
                if conditions:
                    check_get(GetConditions.build(**conditions, path=path), head)
                return ObspecGetResult(b"", _meta(head), {}, (0, 0))
            result = await store.get_object(path, range=rng, version=version, **conditions)
            return ObspecGetResult(
                result.data,
                _meta(result.meta),
                _attributes(result.attributes),
                _returned_range(rng, result.meta.size, len(result.data)),
            )

    async def get_range_async(
        self, path: str, *, start: int, end: int | None = None, length: int | None = None
    ) -> bytes:
        """Read ``[start, end)`` or ``length`` bytes from ``start`` (obspec ``GetRangeAsync``)."""
        with _obspec_errors():
            stop = _ends(start, end, length)
            return await self._use().get(path, range=(start, stop))

    async def get_ranges_async(
        self,
        path: str,
        *,
        starts: Sequence[int],
        ends: Sequence[int] | None = None,
        lengths: Sequence[int] | None = None,
    ) -> builtins.list[bytes]:
        """Read several ranges of one object concurrently (obspec ``GetRangesAsync``)."""
        with _obspec_errors():
            if (ends is None) == (lengths is None):
                raise InvalidArgumentError("give exactly one of ends and lengths")
            others = ends if ends is not None else lengths
            assert others is not None
            if len(others) != len(starts):
                raise InvalidArgumentError(f"{len(starts)} starts but {len(others)} ends/lengths")
            ranges = [
                (s, _ends(s, e, None) if ends is not None else _ends(s, None, e))
                for s, e in zip(starts, others, strict=True)
            ]
            if not ranges:
                return []
            return await self._use().get_ranges(path, ranges)

    async def head_async(self, path: str) -> obspec.ObjectMeta:
        """An object's metadata (obspec ``HeadAsync``)."""
        with _obspec_errors():
            return _meta(await self._use().head(path))

    # ------------------------------------------------------------------------------ listing

    @staticmethod
    def _prefix(prefix: str | None) -> str | None:
        # obspec users often pass "dir/"; objectstorex prefixes have no trailing "/".
        return None if prefix is None else (prefix.rstrip("/") or None)

    async def list_async(
        self, prefix: str | None = None, *, offset: str | None = None
    ) -> AsyncIterator[builtins.list[obspec.ObjectMeta]]:
        """Every object under ``prefix`` (recursive), in chunks of up to 1000 (obspec ``ListAsync``)."""
        with _obspec_errors():
            chunk: builtins.list[obspec.ObjectMeta] = []
            async for meta in self._use().list(self._prefix(prefix), offset=offset):
                chunk.append(_meta(meta))
                if len(chunk) == _LIST_CHUNK:
                    yield chunk
                    chunk = []
            if chunk:
                yield chunk

    async def list_with_delimiter_async(
        self, prefix: str | None = None
    ) -> obspec.ListResult[Sequence[obspec.ObjectMeta]]:
        """One level under ``prefix``: objects and common prefixes (obspec ``ListWithDelimiterAsync``)."""
        with _obspec_errors():
            result = await self._use().list_with_delimiter(self._prefix(prefix))
            return {"common_prefixes": result.common_prefixes, "objects": [_meta(m) for m in result.objects]}

    # ------------------------------------------------------------------------------ writes

    async def put_async(
        self,
        path: str,
        file: IO[bytes]
        | Path
        | bytes
        | Buffer
        | AsyncIterator[Buffer]
        | AsyncIterable[Buffer]
        | Iterator[Buffer]
        | Iterable[Buffer],
        *,
        attributes: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        mode: obspec.PutMode | None = None,
        use_multipart: bool | None = None,
        chunk_size: int | None = None,
        max_concurrency: int | None = None,
    ) -> obspec.PutResult:
        """Write an object from bytes, a buffer, a file, a path or an (async) iterable of buffers (obspec ``PutAsync``).

        A buffer is one ``put`` (unless ``use_multipart=True``); a file, a path or an iterable
        is streamed with ``put_stream`` (``chunk_size`` is its part size), unless
        ``use_multipart=False``, which reads it whole first.
        """
        with _obspec_errors():
            kwargs = _put_attributes(attributes)
            if tags is not None:
                kwargs["tags"] = tags
            kwargs["mode"] = _put_mode(mode)
            if isinstance(file, str):
                raise InvalidArgumentError(
                    "file must be bytes, a buffer, a file, a Path or an iterable of buffers, not str"
                )
            part = chunk_size if chunk_size is not None else _READ_CHUNK
            stream: AsyncIterable[Any] | Iterable[Any]
            if isinstance(file, Path) or hasattr(file, "read"):
                stream = _read_chunks(file, part)  # type: ignore[arg-type]
            else:
                try:
                    view = memoryview(file)  # type: ignore[arg-type]
                except TypeError:
                    if not isinstance(file, (AsyncIterable, Iterable)):
                        raise InvalidArgumentError(
                            f"file must be bytes, a buffer, a file, a Path or an iterable of buffers, "
                            f"not {type(file).__name__}"
                        ) from None
                    stream = file
                else:
                    if not use_multipart:
                        result = await self._use().put(path, view, **kwargs)
                        return {"e_tag": result.etag, "version": result.version}
                    stream = _chunked(view, part)
            store = self._use()
            if use_multipart is False:
                data = bytearray()
                if isinstance(stream, AsyncIterable):
                    async for chunk in stream:
                        data += chunk
                else:
                    for item in cast(Iterable[Any], stream):
                        data += item
                result = await store.put(path, data, **kwargs)
            else:
                result = await store.put_stream(
                    path, stream, part_size=chunk_size, max_concurrency=max_concurrency, **kwargs
                )
            return {"e_tag": result.etag, "version": result.version}

    async def copy_async(self, from_: str, to: str, *, overwrite: bool = True) -> None:
        """Copy an object; ``overwrite=False`` is an atomic copy-if-not-exists (obspec ``CopyAsync``)."""
        with _obspec_errors():
            store = self._use()
            await (store.copy(from_, to) if overwrite else store.copy_if_not_exists(from_, to))

    async def rename_async(self, from_: str, to: str, *, overwrite: bool = True) -> None:
        """Move an object; ``overwrite=False`` is rename-if-not-exists (obspec ``RenameAsync``)."""
        with _obspec_errors():
            store = self._use()
            await (store.rename(from_, to) if overwrite else store.rename_if_not_exists(from_, to))

    async def delete_async(self, paths: str | Sequence[str]) -> None:
        """Delete one object or many (batched); missing objects are not errors (obspec ``DeleteAsync``)."""
        with _obspec_errors():
            store = self._use()
            if isinstance(paths, str):
                await store.delete(paths)
            else:
                await store.delete_many(builtins.list(paths))

    # ------------------------------------------------------------------------------ sync twins

    def _run(self, make: Callable[[], Awaitable[T]]) -> T:
        return self._owner.run(make)

    def get(self, path: str, *, options: obspec.GetOptions | None = None) -> ObspecGetResult:
        """Blocking :meth:`get_async` (obspec ``Get``)."""
        return self._run(lambda: self.get_async(path, options=options))

    def get_range(self, path: str, *, start: int, end: int | None = None, length: int | None = None) -> bytes:
        """Blocking :meth:`get_range_async` (obspec ``GetRange``)."""
        return self._run(lambda: self.get_range_async(path, start=start, end=end, length=length))

    def get_ranges(
        self,
        path: str,
        *,
        starts: Sequence[int],
        ends: Sequence[int] | None = None,
        lengths: Sequence[int] | None = None,
    ) -> builtins.list[bytes]:
        """Blocking :meth:`get_ranges_async` (obspec ``GetRanges``)."""
        return self._run(lambda: self.get_ranges_async(path, starts=starts, ends=ends, lengths=lengths))

    def head(self, path: str) -> obspec.ObjectMeta:
        """Blocking :meth:`head_async` (obspec ``Head``)."""
        return self._run(lambda: self.head_async(path))

    def list(
        self, prefix: str | None = None, *, offset: str | None = None
    ) -> Iterator[builtins.list[obspec.ObjectMeta]]:
        """Every object under ``prefix`` in chunks, each fetched when asked for (obspec ``List``)."""
        chunks = self.list_async(prefix, offset=offset)

        async def step() -> builtins.list[obspec.ObjectMeta] | None:
            return await anext(chunks, None)

        async def close() -> None:
            await chunks.aclose()  # type: ignore[attr-defined]

        def iterate() -> Iterator[builtins.list[obspec.ObjectMeta]]:
            try:
                while (chunk := self._run(step)) is not None:
                    yield chunk
            finally:
                with contextlib.suppress(ObjectStoreError):
                    self._run(close)

        return iterate()

    def list_with_delimiter(self, prefix: str | None = None) -> obspec.ListResult[Sequence[obspec.ObjectMeta]]:
        """Blocking :meth:`list_with_delimiter_async` (obspec ``ListWithDelimiter``)."""
        return self._run(lambda: self.list_with_delimiter_async(prefix))

    def put(
        self,
        path: str,
        file: IO[bytes] | Path | bytes | Buffer | Iterator[Buffer] | Iterable[Buffer],
        *,
        attributes: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        mode: obspec.PutMode | None = None,
        use_multipart: bool | None = None,
        chunk_size: int | None = None,
        max_concurrency: int | None = None,
    ) -> obspec.PutResult:
        """Blocking :meth:`put_async` (obspec ``Put``)."""
        return self._run(
            lambda: self.put_async(
                path,
                file,
                attributes=attributes,
                tags=tags,
                mode=mode,
                use_multipart=use_multipart,
                chunk_size=chunk_size,
                max_concurrency=max_concurrency,
            )
        )

    def copy(self, from_: str, to: str, *, overwrite: bool = True) -> None:
        """Blocking :meth:`copy_async` (obspec ``Copy``)."""
        self._run(lambda: self.copy_async(from_, to, overwrite=overwrite))

    def rename(self, from_: str, to: str, *, overwrite: bool = True) -> None:
        """Blocking :meth:`rename_async` (obspec ``Rename``)."""
        self._run(lambda: self.rename_async(from_, to, overwrite=overwrite))

    def delete(self, paths: str | Sequence[str]) -> None:
        """Blocking :meth:`delete_async` (obspec ``Delete``)."""
        self._run(lambda: self.delete_async(paths))

    # ------------------------------------------------------------------------------ lifecycle

    async def close_async(self) -> None:
        """Close the wrapped store (on the caller's loop, which must be the store's)."""
        await self._use().close()

    def close(self) -> None:
        """Close the wrapped store, on the loop it belongs to (blocking)."""
        self._run(self.close_async)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close_async()
