"""A zarr v3 store over any objectstorex store: ``ObjectStorexStore(url_or_store, read_only=False, **options)``.

Example::

    import numpy as np
    import zarr
    from objectstorex.zarr import ObjectStorexStore

    store = ObjectStorexStore("s3://bucket/arrays", region="us-east-1")
    z = zarr.create_array(store, shape=(100, 100), chunks=(10, 10), dtype="f8")
    z[:] = np.arange(10_000).reshape(100, 100)
    assert zarr.open_array(store, mode="r")[0, 1] == 1

Where calls run:

- Built from a URL (``osx.from_url(url, **options)``), the store belongs to the bridge: an
  S3, Azure or GCS store lives on objectstorex's bridge loop thread and every call, from any
  event loop (zarr's sync API runs on zarr's own loop thread, its async API on yours) or any
  thread, goes there; one connection pool serves them all. ``close()`` releases it (it is
  rebuilt on next use). Such a store pickles (it is rebuilt from the URL and options in the
  new process, never from a live session) and equals any store built from the same URL,
  options and ``read_only``. A ``memory://`` store is rebuilt empty when unpickled.
- Built from an opened store, the store stays yours (``close()`` does not close it): a memory
  or local store works from any loop; a network store runs on the loop it belongs to (the
  one running when the ``ObjectStorexStore`` was made, else its first user), and a call from
  another loop raises an ``ObjectStoreError`` that says so. Its pickle refers to the live store:
  it loads only in the same process (a clear ``InvalidConfigError`` elsewhere).

Byte requests map onto the store's ranges: ``RangeByteRequest(s, e)`` -> ``(s, e)``,
``OffsetByteRequest(o)`` -> ``(o, None)`` and ``SuffixByteRequest(n)`` -> ``(-n, None)``, each
one request (a suffix is one request wherever the provider has suffix ranges). Ranges read
like slices: a range past the end of an object gives an empty buffer. ``set_if_not_exists``
is an atomic create-only write.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import os
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from typing import Any, Self, TypeVar

try:
    from zarr.abc.store import ByteRequest, OffsetByteRequest, RangeByteRequest, Store, SuffixByteRequest
    from zarr.core.buffer import Buffer, BufferPrototype, default_buffer_prototype
except ImportError as e:  # an optional extra
    raise ImportError(f"objectstorex.zarr needs zarr >= 3.1 ({e}): pip install 'objectstorex[zarr]'") from e

from . import _bridge
from ._factory import from_url
from ._store import Store as OsxStore
from ._types import ObjectMeta
from .errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    InvalidConfigError,
    InvalidRangeError,
    NotFoundError,
    ObjectStoreError,
)

__all__ = ["ObjectStorexStore"]

T = TypeVar("T")

_LIST_CHUNK = 1000  # objects fetched per hop when a listing runs on the bridge loop
_DELETE_BATCH = 1000
_PENDING: set[concurrent.futures.Future[None]] = set()  # closes scheduled on the bridge loop (keep them alive)


def _close_on_bridge(store: OsxStore) -> None:
    """Close a network store on the bridge loop, where it lives, without waiting."""
    future = asyncio.run_coroutine_threadsafe(store.close(), _bridge.bridge_loop())
    _PENDING.add(future)
    future.add_done_callback(_PENDING.discard)


class _Source:
    """The store a URL-built ObjectStorexStore uses, shared with its ``with_read_only`` copies."""

    __slots__ = ("__weakref__", "_box", "_lock", "options", "url")

    def __init__(self, url: str, options: dict[str, Any]) -> None:
        self.url = url
        self.options = options
        # The current store and the bridge generation it was made in, in a box the finalizer
        # shares: a network store dropped unclosed would warn.
        self._box: list[tuple[OsxStore, int] | None] = [(from_url(url, **options), _bridge.generation())]
        self._lock = threading.Lock()  # zarr's loop thread and the caller's may both use it
        finalizer = weakref.finalize(self, _Source._release, self._box)
        finalizer.atexit = False  # at exit the bridge thread just stops; nothing to schedule

    @staticmethod
    def _release(box: list[tuple[OsxStore, int] | None]) -> None:
        held = box[0]
        if held is None or _bridge.loop_agnostic(held[0]):
            return  # nothing to release (and a memory store's data would go with it)
        box[0] = None
        if held[1] == _bridge.generation():  # a parent process's store has no loop here to close on
            _close_on_bridge(held[0])

    def current(self) -> OsxStore:
        # Rebuilt after close() and in a forked child, where the parent's bridge thread is gone.
        held = self._box[0]
        if held is None or held[1] != _bridge.generation():
            with self._lock:
                held = self._box[0]
                if held is None or held[1] != _bridge.generation():
                    held = self._box[0] = (from_url(self.url, **self.options), _bridge.generation())
        return held[0]

    def release(self) -> None:
        with self._lock:
            self._release(self._box)


def _rebuild(cls: type[ObjectStorexStore], url: str, read_only: bool, options: dict[str, Any]) -> ObjectStorexStore:
    return cls(url, read_only=read_only, **options)


#: Stores built from a live store, by pickle token, for unpickling in the same process.
_LIVE: weakref.WeakValueDictionary[int, ObjectStorexStore] = weakref.WeakValueDictionary()
_TOKENS = itertools.count()


def _rebuild_live(pid: int, key: int, read_only: bool) -> ObjectStorexStore:
    original = _LIVE.get(key) if pid == os.getpid() else None
    if original is None:
        raise InvalidConfigError(
            "an ObjectStorexStore built from a live store can only be unpickled in its own process while it "
            "exists: build it from a URL and options (ObjectStorexStore(url, **options)) to send it elsewhere"
        )
    return original.with_read_only(read_only)


_EMPTY = "empty"  # a byte request that selects no byte (read as an empty buffer)


def _store_range(byte_range: object) -> tuple[int, int | None] | str | None:
    """The store's ``range=`` for a zarr byte request (``_EMPTY`` when it selects nothing)."""
    if byte_range is None:
        return None
    if isinstance(byte_range, RangeByteRequest):
        start, end = byte_range.start, byte_range.end
        if start < 0 or end < 0:
            raise ValueError(f"a RangeByteRequest needs start >= 0 and end >= 0, got {byte_range}")
        return (start, end) if end > start else _EMPTY
    if isinstance(byte_range, OffsetByteRequest):
        if byte_range.offset < 0:
            raise ValueError(f"an OffsetByteRequest needs offset >= 0, got {byte_range}")
        return (byte_range.offset, None)
    if isinstance(byte_range, SuffixByteRequest):
        if byte_range.suffix < 0:
            raise ValueError(f"a SuffixByteRequest needs suffix >= 0, got {byte_range}")
        return (-byte_range.suffix, None) if byte_range.suffix else _EMPTY
    raise ValueError(f"Unexpected byte_range, got {byte_range!r}")


def _name(location: str) -> str:
    return location.rpartition("/")[2]


class ObjectStorexStore(Store):
    """A ``zarr.abc.store.Store`` over an objectstorex store (see the module docstring).

    Args:
        url_or_store: a store URL for ``osx.from_url(url, **options)`` (``s3://bucket/prefix``,
            ``az://container``, ``gs://bucket``, ``file:///abs/dir``, ``memory://``), or an
            objectstorex store.
        read_only: refuse writes (zarr's ``ValueError``).
        **options: the store options (only with a URL).

    Raises:
        InvalidConfigError: a bad URL or option, or options given with a store.
    """

    def __init__(self, url_or_store: str | OsxStore, read_only: bool = False, **options: Any) -> None:
        """Build the store (no I/O: a network store connects on first use)."""
        if not isinstance(read_only, bool):
            raise InvalidArgumentError(f"read_only must be a bool, not {type(read_only).__name__}")
        self._source: _Source | None = None
        self._store: OsxStore | None = None
        self._owner: _bridge.LoopOwner | None = None
        if isinstance(url_or_store, str):
            self._source = _Source(url_or_store, dict(options))
        elif isinstance(url_or_store, OsxStore):
            if options:
                raise InvalidConfigError(
                    f"options ({', '.join(sorted(options))}) only go with a URL; this store is already built"
                )
            self._store = url_or_store
            self._owner = _bridge.LoopOwner(url_or_store, "ObjectStorexStore")
        else:
            raise InvalidArgumentError(
                f"url_or_store must be a store URL (str) or an objectstorex store, not {type(url_or_store).__name__}"
            )
        super().__init__(read_only=read_only)

    @property
    def store(self) -> OsxStore:
        """The objectstorex store underneath (for a URL-built store: the one its calls run on)."""
        if self._source is not None:
            return self._source.current()
        assert self._store is not None
        return self._store

    @property
    def url(self) -> str | None:
        """The URL this store was built from, or ``None`` when built from a store."""
        return None if self._source is None else self._source.url

    # ------------------------------------------------------------------------ identity

    def with_read_only(self, read_only: bool = False) -> ObjectStorexStore:
        """A store over the same objects with another ``read_only`` (not opened; shares the store)."""
        clone = object.__new__(type(self))
        clone._source, clone._store, clone._owner = self._source, self._store, self._owner
        Store.__init__(clone, read_only=read_only)
        return clone

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ObjectStorexStore):
            return NotImplemented
        if self.read_only != other.read_only:
            return False
        if self._source is not None and other._source is not None:
            return self._source.url == other._source.url and self._source.options == other._source.options
        return self._source is None and other._source is None and self._store is other._store

    def __hash__(self) -> int:
        if self._source is not None:
            return hash((self._source.url, self.read_only))
        return hash((id(self._store), self.read_only))

    def __reduce__(self) -> tuple[Any, ...]:
        if self._source is None:
            # A live store (its connections, a memory store's data) cannot travel: the pickle
            # refers to it and loads only in this process.
            token = next(_TOKENS)
            _LIVE[token] = self
            return (_rebuild_live, (os.getpid(), token, self.read_only))
        return (_rebuild, (type(self), self._source.url, self.read_only, self._source.options))

    def __copy__(self) -> Self:
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        return clone

    def __str__(self) -> str:
        return self._source.url if self._source is not None else f"objectstorex:{self._store!r}"

    def __repr__(self) -> str:
        # Options may hold secrets: never shown.
        target = repr(self._source.url) if self._source is not None else repr(self._store)
        return f"{type(self).__name__}({target}, read_only={self.read_only})"

    # ------------------------------------------------------------------------ where calls run

    async def _call(self, make: Callable[[OsxStore], Awaitable[T]]) -> T:
        if self._source is not None:
            store = self._source.current()
            if _bridge.loop_agnostic(store):
                return await make(store)

            async def run() -> T:
                return await make(store)

            return await _bridge.on_loop(_bridge.bridge_loop(), run)
        assert self._owner is not None
        assert self._store is not None
        self._owner.check()
        try:
            return await make(self._store)
        except (RuntimeError, ObjectStoreError) as e:  # opened on another loop before it was given to us
            mismatch = _bridge.loop_mismatch(e, "ObjectStorexStore")
            if mismatch is None:
                raise
            raise mismatch from e

    async def _objects(self, prefix: str | None) -> AsyncIterator[ObjectMeta]:
        """Every object under the (segment) prefix, in order, listed where the store lives."""
        if self._source is not None:
            store = self._source.current()
            if not _bridge.loop_agnostic(store):
                loop = _bridge.bridge_loop()
                it = store.list(prefix)

                async def chunk() -> list[ObjectMeta]:
                    batch: list[ObjectMeta] = []
                    async for meta in it:  # leaving the loop early does not close the iterator
                        batch.append(meta)
                        if len(batch) == _LIST_CHUNK:
                            break
                    return batch

                try:
                    while batch := await _bridge.on_loop(loop, chunk):
                        for meta in batch:
                            yield meta
                finally:
                    aclose = getattr(it, "aclose", None)
                    if aclose is not None:
                        await _bridge.on_loop(loop, aclose)
                return
        else:
            assert self._owner is not None
            self._owner.check()
        try:
            async for meta in self.store.list(prefix):
                yield meta
        except (RuntimeError, ObjectStoreError) as e:  # opened on another loop before it was given to us
            mismatch = _bridge.loop_mismatch(e, "ObjectStorexStore")
            if mismatch is None:
                raise
            raise mismatch from e

    def _run_sync(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        if self._source is not None:
            return _bridge.wait_on(_bridge.bridge_loop(), make)
        assert self._owner is not None
        return self._owner.run(make)

    # ------------------------------------------------------------------------ reads

    async def get(self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None) -> Buffer | None:
        """Read ``key`` (or a range of it) into a buffer of ``prototype``; ``None`` if missing."""
        rng = _store_range(byte_range)
        if isinstance(rng, str):  # _EMPTY
            return prototype.buffer.from_bytes(b"") if await self.exists(key) else None
        try:
            data = await self._call(lambda s: s.get(key, range=rng))
        except NotFoundError:
            return None
        except InvalidRangeError:
            # A range that starts at or past the end (or any range of an empty object) reads
            # as a slice would: empty.
            if not await self.exists(key):
                return None
            data = b""
        return prototype.buffer.from_bytes(data)

    async def get_partial_values(
        self,
        prototype: BufferPrototype,
        key_ranges: Iterable[tuple[str, ByteRequest | None]],
    ) -> list[Buffer | None]:
        """Read several (key, range) pairs concurrently (bounded by zarr's ``async.concurrency``)."""
        from zarr.core.config import config

        limit = asyncio.Semaphore(int(config.get("async.concurrency") or 10))

        async def one(key: str, byte_range: ByteRequest | None) -> Buffer | None:
            async with limit:
                return await self.get(key, prototype, byte_range)

        return list(await asyncio.gather(*(one(k, r) for k, r in key_ranges)))

    async def exists(self, key: str) -> bool:
        """Whether the object ``key`` exists (one HEAD)."""
        try:
            await self._call(lambda s: s.head(key))
        except NotFoundError:
            return False
        return True

    async def getsize(self, key: str) -> int:
        """The size of ``key`` in bytes (one HEAD).

        Raises:
            FileNotFoundError: ``key`` does not exist (an ``osx.NotFoundError``).
        """
        meta = await self._call(lambda s: s.head(key))
        return meta.size

    async def getsize_prefix(self, prefix: str) -> int:
        """The total size of the objects under the "directory" ``prefix`` (one listing).

        ``"c"`` counts ``c/0`` but not ``cc/0``, as zarr (>= 3.2) specifies.
        """
        return sum([m.size async for m in self._objects(prefix.strip("/") or None)])

    # ------------------------------------------------------------------------ writes

    @property
    def supports_writes(self) -> bool:
        """Yes (unless ``read_only``, which refuses each write)."""
        return True

    @property
    def supports_deletes(self) -> bool:
        """Yes."""
        return True

    @property
    def supports_listing(self) -> bool:
        """Yes."""
        return True

    def _data(self, value: Buffer) -> Any:
        self._check_writable()
        if not isinstance(value, Buffer):
            raise TypeError(f"ObjectStorexStore.set(): value must be a zarr Buffer, not {type(value).__name__}")
        return value.as_buffer_like()

    async def set(self, key: str, value: Buffer) -> None:
        """Write ``value`` at ``key`` (the object is replaced whole)."""
        data = self._data(value)
        await self._call(lambda s: s.put(key, data))

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        """Write ``value`` at ``key`` unless it exists: an atomic create (the first writer wins)."""
        data = self._data(value)
        try:
            await self._call(lambda s: s.put(key, data, mode="create"))
        except AlreadyExistsError:
            pass

    async def delete(self, key: str) -> None:
        """Delete ``key`` (a missing key is not an error)."""
        self._check_writable()
        await self._call(lambda s: s.delete(key))

    async def delete_dir(self, prefix: str) -> None:
        """Delete every object under ``prefix`` (a "directory"; ``""`` is everything), in batches."""
        self._check_writable()
        keys = [m.location async for m in self._objects(prefix.strip("/") or None)]
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = keys[start : start + _DELETE_BATCH]
            await self._call(lambda s, batch=batch: s.delete_many(batch))  # type: ignore[misc]

    # ------------------------------------------------------------------------ listing

    async def _prefixed(self, prefix: str) -> AsyncIterator[ObjectMeta]:
        """The objects whose keys start with the string ``prefix`` (zarr's list_prefix semantics)."""
        if prefix == "" or prefix.endswith("/"):
            async for meta in self._objects(prefix.rstrip("/") or None):
                yield meta
            return
        # A partial last segment ("c" matches "c/0" and "cx"): list its parent and keep the
        # matches; locations come in lexicographic order, so stop once past them.
        parent = prefix.rpartition("/")[0]
        async for meta in self._objects(parent or None):
            if meta.location.startswith(prefix):
                yield meta
            elif meta.location > prefix:
                break

    async def list(self) -> AsyncIterator[str]:
        """Every key in the store."""
        async for meta in self._objects(None):
            yield meta.location

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        """Every key that starts with ``prefix`` (keys relative to the store's root)."""
        async for meta in self._prefixed(prefix):
            yield meta.location

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        """The names of the objects and "directories" directly under ``prefix``."""
        result = await self._call(lambda s: s.list_with_delimiter(prefix.strip("/") or None))
        for common in result.common_prefixes:
            yield _name(common)
        for meta in result.objects:
            yield _name(meta.location)

    # ------------------------------------------------------------------------ sync and lifecycle

    def get_sync(
        self,
        key: str,
        *,
        prototype: BufferPrototype | None = None,
        byte_range: ByteRequest | None = None,
    ) -> Buffer | None:
        """Blocking :meth:`get` (zarr's ``SupportsGetSync``)."""
        proto = prototype if prototype is not None else default_buffer_prototype()
        return self._run_sync(lambda: self.get(key, proto, byte_range))

    def set_sync(self, key: str, value: Buffer) -> None:
        """Blocking :meth:`set` (zarr's ``SupportsSetSync``)."""
        self._run_sync(lambda: self.set(key, value))

    def delete_sync(self, key: str) -> None:
        """Blocking :meth:`delete` (zarr's ``SupportsDeleteSync``)."""
        self._run_sync(lambda: self.delete(key))

    def close(self) -> None:
        """Close: a URL-built store releases its connections (rebuilt on next use); a given store stays open."""
        if self._source is not None:
            self._source.release()
        super().close()
