"""The fsspec bridge: objectstorex stores as an ``fsspec`` filesystem (pandas, pyarrow, DuckDB, dask...).

Three forms::

    from objectstorex.fsspec import ObjectStoreFileSystem

    fs = ObjectStoreFileSystem(protocol="s3", region="us-east-1")   # paths "bucket/key", as s3fs
    fs = ObjectStoreFileSystem(protocol="memory")                     # paths are keys
    fs = ObjectStoreFileSystem(protocol="local")                      # absolute file paths
    fs = ObjectStoreFileSystem(store=store)                           # paths are the store's keys

The package registers only the ``objectstorex`` protocol with fsspec (an entry point), so
``s3://``, ``gs://`` and ``az://`` stay with s3fs, gcsfs and adlfs unless :func:`register`
is called.

This module imports fsspec; ``import objectstorex`` never imports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import operator
import os
import re
import tempfile
import weakref
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Final

import fsspec
import fsspec.asyn
from fsspec.asyn import AbstractAsyncStreamedFile, AsyncFileSystem
from fsspec.callbacks import DEFAULT_CALLBACK
from fsspec.spec import AbstractBufferedFile
from fsspec.utils import stringify_path

from ._factory import new
from ._store import Store
from ._types import ObjectMeta
from .errors import (
    InvalidConfigError,
    InvalidRangeError,
    NotFoundError,
    NotSupportedError,
    ObjectStoreError,
)
from .preconditions import PutMode, UpdateVersion
from .progress import fsspec_callback
from .transfer import download_file, upload_file

__all__ = ["ObjectStoreAsyncFile", "ObjectStoreFile", "ObjectStoreFileSystem", "register"]

#: fsspec protocol names :func:`register` accepts, and the provider each one means.
PROTOCOLS: Final[Mapping[str, str]] = {
    "s3": "s3",
    "s3a": "s3",
    "gs": "gcs",
    "gcs": "gcs",
    "az": "azure",
    "abfs": "azure",
    "abfss": "azure",
    "azure": "azure",
    "memory": "memory",
    "file": "local",
    "local": "local",
}

#: URL schemes stripped from paths (``s3://bucket/key`` is accepted where ``bucket/key`` is).
_SCHEMES = frozenset((*PROTOCOLS, "objectstorex"))
#: The store option naming the bucket (container) of each provider whose paths start with one.
_BUCKET_OPTION: Final[Mapping[str, str]] = {"s3": "bucket", "gcs": "bucket", "azure": "container"}
#: Providers whose stores hold connections, opened on one event loop (one store per loop).
_NETWORK = frozenset(_BUCKET_OPTION)
#: Paths per ``delete_many`` call of ``rm``.
RM_BATCH: Final = 1000
#: Options that configure fsspec itself, never passed on to a store.
_FSSPEC_OPTIONS = frozenset(("use_listings_cache", "listings_expiry_time", "max_paths"))
_MAGIC = re.compile(r"[*?\[]")


def _provider_of(store: Store) -> str:
    provider = getattr(store, "provider", None)
    return provider if isinstance(provider, str) else type(store).__name__


def _bound_loop(store: Store) -> asyncio.AbstractEventLoop | None:
    """The event loop an opened network store's connections live on (``None``: not bound)."""
    for _ in range(8):  # through wrappers such as testing.FaultyStore (``inner``)
        # HttpStore keeps a guard task on the loop that opened it (objectstorex's own internals).
        guard = getattr(store, "_guard", None)
        if isinstance(guard, asyncio.Task):
            return guard.get_loop()
        inner = getattr(store, "inner", None)
        if not isinstance(inner, Store):
            return None
        store = inner
    return None


def _running(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether ``loop`` is the one running in this thread."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _check_loop(store: Store) -> None:
    """Raise a clear error when ``store`` was opened on another event loop than the running one."""
    bound = _bound_loop(store)
    if bound is None or bound is asyncio.get_running_loop():
        return
    state = "now closed" if bound.is_closed() else "still running"
    raise ObjectStoreError(
        f"the {_provider_of(store)} store {store!r} is bound to another event loop ({state}; its connections "
        "were opened there) "
        "and cannot be used from this one: use the filesystem on the store's own loop "
        "(asynchronous=True inside it, or loop=that loop), or give it a store not yet opened",
        provider=_provider_of(store),
    )


def _file_info(name: str, meta: ObjectMeta) -> dict[str, Any]:
    return {
        "name": name,
        "size": meta.size,
        "type": "file",
        "mtime": meta.last_modified,
        "LastModified": meta.last_modified,
        "ETag": meta.etag,
        "etag": meta.etag,
        "version": meta.version,
    }


def _dir_info(name: str) -> dict[str, Any]:
    return {"name": name, "size": 0, "type": "directory"}


async def _first(store: Store, prefix: str) -> ObjectMeta | None:
    """The first object under ``prefix`` (one listing request), or ``None``."""
    listing = store.list(prefix or None)
    try:
        async for meta in listing:
            return meta
        return None
    finally:
        aclose = getattr(listing, "aclose", None)
        if aclose is not None:
            await aclose()


def _span(start: int | None, end: int | None, size: int | None) -> tuple[int, int | None] | None:
    """The store range of the slice ``[start:end]``, ``None`` for an empty slice.

    ``size`` may be ``None`` when both bounds are non-negative (or ``start`` is a suffix with no
    ``end``): the store clamps past the end.
    """
    if start is not None and start < 0:
        if end is None and size is None:
            return (start, None)  # a suffix: the last -start bytes, clamped by the store
        assert size is not None
        start = max(0, size + start)
    start = start or 0
    if end is not None and end < 0:
        assert size is not None
        end = max(0, size + end)
    if size is not None:
        if end is not None:
            end = min(end, size)
        if start >= size:
            return None
    if end is not None and end <= start:
        return None
    return (start, end)


def _bound(value: Any) -> int | None:
    """A slice bound as an ``int`` (numpy integers too), or ``None``."""
    return None if value is None else operator.index(value)


def _needs_size(start: int | None, end: int | None) -> bool:
    return (end is not None and end < 0) or (start is not None and start < 0 and end is not None)


class _StoreAwareCache(type(AsyncFileSystem)):  # type: ignore[misc]
    """fsspec's instance cache, aware that a given store is an identity, not a value.

    fsspec reuses an instance when the text of the arguments matches, and a store's ``repr``
    is not its identity (two memory stores print alike), so a filesystem over a given store is
    never taken from (nor put in) the cache; equality then compares the stores themselves.
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("store") is not None:
            kwargs.setdefault("skip_instance_cache", True)
        return super().__call__(*args, **kwargs)


class ObjectStoreFileSystem(AsyncFileSystem, metaclass=_StoreAwareCache):  # type: ignore[misc]
    """An fsspec filesystem over objectstorex stores.

    Args:
        protocol: the provider, ``"s3"``, ``"gcs"``, ``"azure"``, ``"memory"`` or ``"local"``
            (fsspec names such as ``"gs"`` or ``"az"`` are accepted too). With a cloud provider
            paths are ``bucket/key`` (``container/key`` on Azure; ``s3://bucket/key`` is
            accepted), and one store per bucket is built with
            ``osx.new(protocol, bucket=..., **store_options)`` and kept. With ``"memory"``
            paths are keys (no leading ``/``) of the process's one memory store (shared, as
            fsspec's ``memory://``); with ``"local"`` they are absolute file paths.
        provider: the same as ``protocol``, for fsspec URLs and ``storage_options``, where
            fsspec takes a ``protocol`` option for itself
            (``pandas.read_parquet("objectstorex://b/x.parquet", storage_options={"provider": "s3", ...})``).
        store: serve this one store instead; paths are its keys.
        asynchronous: use the coroutines (``await fs._cat_file(...)``) inside a running loop.
        loop: the event loop of the sync methods (default: fsspec's loop thread, or the loop a
            given store was opened on when that loop runs in another thread).
        batch_size: concurrent operations of bulk calls (fsspec's option).
        **store_options: the provider's options (see ``docs/configuration.md``); with
            ``"local"``, ``path=`` fixes the store's root (default: for each path, the
            highest directory above it that can hold the store's ``.objectstorex`` folder).

    Attributes:
        provider: the provider of the stores served (``"s3"``, ``"memory"``...).

    Raises:
        InvalidConfigError: neither or both of ``protocol`` and ``store``, an unknown
            provider, or an unknown or missing store option (before any I/O).

    Nothing is cached between calls: a write is visible to the next ``ls``. Objects have no
    directories: ``mkdir`` and ``makedirs`` do nothing, and a "directory" is a prefix that
    has objects under it.

    A filesystem built from ``protocol`` and options pickles (it is rebuilt from them, never
    from a live connection); one over a given ``store`` does not. :meth:`close` (or
    ``async with``) releases the connections.

    Example::

        fs = ObjectStoreFileSystem(protocol="memory")
        fs.pipe_file("data/a.txt", b"hello")
        assert fs.cat_file("data/a.txt") == b"hello"
        assert fs.ls("data", detail=False) == ["data/a.txt"]
    """

    protocol: ClassVar[str | tuple[str, ...]] = ("objectstorex",)
    #: fsspec's root marker: none, paths are not given a leading ``/``.
    root_marker = ""
    #: The provider of a class :func:`register` made for one protocol (used when ``protocol`` is not given).
    default_provider: ClassVar[str | None] = None

    def __init__(
        self,
        protocol: str | None = None,
        *,
        provider: str | None = None,
        store: Store | None = None,
        asynchronous: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,
        batch_size: int | None = None,
        **store_options: Any,
    ) -> None:
        for name in _FSSPEC_OPTIONS & store_options.keys():
            store_options.pop(name)  # a listings cache is never used: nothing to configure
        if provider is not None:
            if protocol is not None and protocol != provider:
                raise InvalidConfigError(f"protocol={protocol!r} and provider={provider!r} disagree: pass one")
            protocol = provider
        provider = self._provider(protocol, store, store_options)
        if store is not None and loop is None and not asynchronous:
            bound = _bound_loop(store)
            if bound is not None and bound.is_running() and not _running(bound):
                loop = bound  # the store's connections live there (in another thread): run the sync methods on it
        super().__init__(asynchronous=asynchronous, loop=loop, batch_size=batch_size)
        self.provider = provider
        self._given = store
        self._options = dict(store_options)
        self._roots: list[str] = []  # local: the roots chosen so far
        self._shared: dict[str, Store] = {}  # memory and local stores: not bound to a loop
        # network stores: one set per event loop (a connection pool belongs to the loop that opened it)
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Store]] = (
            weakref.WeakKeyDictionary()
        )
        if store is None:
            weakref.finalize(self, _close_owned, self._by_loop, self._shared)

    @classmethod
    def _provider(cls, protocol: object, store: object, options: dict[str, Any]) -> str:
        """Validate the constructor's arguments (before any I/O) and return the provider."""
        if store is not None:
            if protocol is not None or options:
                raise InvalidConfigError("pass either store= or protocol= with store options, not both")
            if not isinstance(store, Store):
                raise InvalidConfigError(f"store must be an objectstorex store, not {type(store).__name__}")
            return _provider_of(store)
        if protocol is None:
            protocol = cls.default_provider
        if protocol is None:
            raise InvalidConfigError("ObjectStoreFileSystem needs protocol= (e.g. 's3', 'memory') or store=")
        if not isinstance(protocol, str):
            raise InvalidConfigError(f"protocol must be a str, not {type(protocol).__name__}")
        provider = PROTOCOLS.get(protocol, protocol)
        bucket = _BUCKET_OPTION.get(provider)
        if bucket is not None:
            if bucket in options:
                raise InvalidConfigError(
                    f"option {bucket!r} is not taken: paths name the {bucket} ('{bucket}/key')", provider=provider
                )
            # A probe store checks the options' names and values; a store does no I/O until opened.
            new(provider, **{bucket: "objectstorex-probe"}, **options)
        elif provider == "local":
            with tempfile.TemporaryDirectory() as probe:  # a local store makes its folders when built
                new(provider, **{"path": probe, **options})
        else:
            new(provider, **options)  # unknown provider or a missing SDK: InvalidConfigError
        return provider

    # ------------------------------------------------------------------------------ identity

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, ObjectStoreFileSystem) or type(other) is not type(self):
            return False
        if self._given is not None or other._given is not None:
            return self._given is other._given and self.asynchronous == other.asynchronous
        return bool(super().__eq__(other))

    def __hash__(self) -> int:
        return hash((super().__hash__(), id(self._given)))

    def __reduce__(self) -> tuple[Any, ...]:
        if self._given is not None:
            raise TypeError(
                "a filesystem over a given store cannot be pickled (a store holds live connections): "
                "build it with ObjectStoreFileSystem(protocol=..., **store_options) to share it"
            )
        options = {k: v for k, v in self.storage_options.items() if k != "loop"}
        protocols = None if type(self) is ObjectStoreFileSystem else tuple(_names(type(self).protocol))
        return _rebuild, (protocols, self.provider, options)

    # ------------------------------------------------------------------------------ lifecycle

    async def aclose(self) -> None:
        """Close the stores this filesystem uses on the running loop (and a given store).

        Stores it built are built again on next use; a given store stays closed.
        """
        loop = asyncio.get_running_loop()
        stores = list(self._by_loop.pop(loop, {}).values())
        if self._given is not None:
            stores.append(self._given)
        else:
            stores.extend(self._shared.values())
            self._shared.clear()
        for store in stores:
            await store.close()

    def close(self) -> None:
        """Close every store this filesystem uses (and a given store), on the loops they live on.

        Call it from sync code; inside a running loop use ``await fs.aclose()`` (or
        ``async with fs:``).
        """
        if self._given is not None:
            fsspec.asyn.sync(self.loop, self.aclose)
            return
        _close_owned(self._by_loop, self._shared, strict=True)

    async def __aenter__(self) -> ObjectStoreFileSystem:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------------------ paths

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = stringify_path(path)
        scheme, sep, rest = path.partition("://")
        if sep and scheme.lower() in _SCHEMES:
            path = rest
        elif path.startswith("objectstorex::"):
            path = path[len("objectstorex::") :]
        return path.rstrip("/") or cls.root_marker

    def unstrip_protocol(self, name: str) -> str:
        """The full URL of ``name`` (the class's first protocol)."""
        first = _names(self.protocol)[0]
        return name if name.startswith(f"{first}://") else f"{first}://{name}"

    def _split(self, path: str) -> tuple[str, str]:
        """``(space, key)``: the bucket (cloud), root directory (local) or ``""``, and the key in it."""
        path = self._strip_protocol(path)
        provider = self.provider
        if self._given is not None or provider == "memory":
            # Keys; a leading "/" is tolerated, and kept on the way out ("/a" lists as "/a/b").
            return ("/" if path.startswith("/") else ""), path.strip("/")
        if provider == "local":
            full = os.path.abspath(os.path.expanduser(path or "/"))
            root = self._local_root(full)
            return root, full[len(root) :].strip("/")
        bucket, _, key = path.lstrip("/").partition("/")
        if not bucket:
            raise NotSupportedError(f"paths of this filesystem start with a {_BUCKET_OPTION[provider]}: got {path!r}")
        return bucket, key.strip("/")

    def _join(self, space: str, key: str) -> str:
        """The fsspec path of ``key`` in ``space`` (what ``ls``, ``find`` and ``info`` return)."""
        if not space or (space == "/" and (self._given is not None or self.provider == "memory")):
            return space + key
        if self.provider == "local":
            return (space.rstrip("/") + "/" + key) if key else space
        return f"{space}/{key}" if key else space

    def _local_root(self, full: str) -> str:
        """The root of the local store serving ``full``: fixed by ``path=``, else chosen once per tree."""
        fixed = self._options.get("path")
        if fixed is not None:
            root = os.path.abspath(str(os.fspath(fixed)))
            if full != root and not full.startswith(root.rstrip("/") + "/"):
                raise NotSupportedError(f"{full!r} is outside this filesystem's root {root!r}", provider="local")
            return root
        for root in self._roots:
            if full == root or full.startswith(root.rstrip("/") + "/"):
                return root
        # The highest existing directory above the path that can hold the store's .objectstorex
        # folder: one store (one set of locks) for the whole tree below it.
        # Only directories on the path's own filesystem: the store's temp files must be renamed
        # into place atomically, which cannot cross a mount point.
        parts = full.strip("/").split("/")
        nearest = full
        while not os.path.exists(nearest) and nearest != "/":
            nearest = os.path.dirname(nearest)
        device = os.stat(nearest).st_dev
        for depth in range(len(parts) + 1):
            candidate = "/" + "/".join(parts[:depth])
            if not os.path.isdir(candidate):
                break
            if os.stat(candidate).st_dev != device:
                continue
            try:
                store = new("local", **{"create": False, **self._options, "path": candidate})
            except InvalidConfigError:
                continue
            self._shared[candidate] = store
            self._roots.append(candidate)
            return candidate
        raise NotSupportedError(
            f"no directory at or above {full!r} can hold the local store's .objectstorex folder: "
            "pass path= (a writable root)",
            provider="local",
        )

    async def _store(self, space: str) -> Store:
        """The store serving ``space``, for the running loop."""
        given = self._given
        if given is not None:
            _check_loop(given)
            return given
        provider = self.provider
        if provider == "memory":
            return _memory_store()
        if provider not in _NETWORK:
            store = self._shared.get(space)
            if store is None:
                options = dict(self._options)
                if provider == "local":
                    options["path"] = space
                store = self._shared[space] = new(provider, **options)
            return store
        loop = asyncio.get_running_loop()
        stores = self._by_loop.get(loop)
        if stores is None:
            stores = self._by_loop[loop] = {}
        store = stores.get(space)
        if store is None:
            store = stores[space] = new(provider, **{_BUCKET_OPTION[provider]: space}, **self._options)
        return store

    async def _locate(self, path: str) -> tuple[Store, str, str]:
        space, key = self._split(path)
        return await self._store(space), space, key

    # ------------------------------------------------------------------------------ metadata

    async def _info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        store, space, key = await self._locate(path)
        name = self._join(space, key)
        if not key:
            await _first(store, "")  # a missing bucket raises here
            return _dir_info(name)
        try:
            return _file_info(name, await store.head(key))
        except NotFoundError:
            pass
        if await _first(store, key) is not None:
            return _dir_info(name)
        raise FileNotFoundError(2, "no such object or prefix", name)

    async def _isdir(self, path: str) -> bool:
        # One listing request (fsspec asks this often while copying; _info would HEAD first).
        store, _, key = await self._locate(path)
        try:
            first = await _first(store, key)  # at the root: raises for a missing bucket
        except NotFoundError:
            return False
        return not key or first is not None

    async def _isfile(self, path: str) -> bool:
        store, _, key = await self._locate(path)
        if not key:
            return False
        try:
            await store.head(key)
        except NotFoundError:
            return False
        return True

    async def _ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        store, space, key = await self._locate(path)
        result = await store.list_with_delimiter(key or None)
        entries = [_dir_info(self._join(space, p)) for p in result.common_prefixes]
        entries += [_file_info(self._join(space, m.location), m) for m in result.objects]
        if not entries and key:
            try:
                entries = [_file_info(self._join(space, key), await store.head(key))]
            except NotFoundError:
                raise FileNotFoundError(2, "no such object or prefix", self._join(space, key)) from None
        entries.sort(key=lambda e: str(e["name"]))
        return entries if detail else [e["name"] for e in entries]

    async def _find(
        self, path: str, maxdepth: int | None = None, withdirs: bool = False, **kwargs: Any
    ) -> list[str] | dict[str, dict[str, Any]]:
        """Everything under ``path`` from one recursive listing (not one request per level)."""
        if maxdepth is not None and maxdepth < 1:
            raise ValueError("maxdepth must be at least 1")
        detail = kwargs.pop("detail", False)
        stem = kwargs.pop("prefix", "") or ""  # glob's name stem before the first wildcard
        store, space, key = await self._locate(path)
        out: dict[str, dict[str, Any]] = {}
        async for meta in store.list(key or None):
            rel = meta.location[len(key) + 1 :] if key else meta.location
            if stem and not rel.startswith(stem):
                continue
            segments = rel.split("/")
            if withdirs:
                for depth in range(1, len(segments)):
                    if maxdepth is not None and depth > maxdepth:
                        break
                    name = self._join(space, "/".join(filter(None, (key, *segments[:depth]))))
                    if name not in out:
                        out[name] = _dir_info(name)
            if maxdepth is None or len(segments) <= maxdepth:
                name = self._join(space, meta.location)
                out[name] = _file_info(name, meta)
        if out:
            if withdirs and key:
                root = self._join(space, key)
                out[root] = _dir_info(root)
        elif key and not stem:
            try:
                name = self._join(space, key)
                out[name] = _file_info(name, await store.head(key))
            except NotFoundError:
                pass
        names = sorted(out)
        return {n: out[n] for n in names} if detail else names

    async def _du(
        self, path: str, total: bool = True, maxdepth: int | None = None, **kwargs: Any
    ) -> int | dict[str, int]:
        """Sizes from the one listing of :meth:`find` (fsspec's default asks ``info`` per file)."""
        found = await self._find(path, maxdepth=maxdepth, detail=True, **kwargs)
        assert isinstance(found, dict)
        sizes = {name: int(info["size"]) for name, info in found.items() if info["type"] == "file"}
        return sum(sizes.values()) if total else sizes

    async def _modified(self, path: str) -> datetime:
        info = await self._info(path)
        if info["type"] != "file":
            raise IsADirectoryError(21, "a directory has no modification time", info["name"])
        modified: datetime = info["mtime"]
        return modified

    def modified(self, path: str) -> datetime:
        """The last modification time of the object at ``path`` (aware, UTC); DuckDB asks for it."""
        result: datetime = fsspec.asyn.sync(self.loop, self._modified, path)
        return result

    async def _sign(self, path: str, expiration: float = 100, **kwargs: Any) -> str:
        store, _, key = await self._locate(path)
        return await store.sign(str(kwargs.get("method", "GET")), key, expiration)

    def sign(self, path: str, expiration: float = 100, **kwargs: Any) -> str:
        """A pre-signed URL for ``path``, valid ``expiration`` seconds (``method="PUT"`` to upload).

        Raises:
            NotSupportedError: the provider cannot sign (memory, local), a ``NotImplementedError``
                as fsspec expects.
        """
        url: str = fsspec.asyn.sync(self.loop, self._sign, path, expiration, **kwargs)
        return url

    async def _mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        """Do nothing: objects have no directories (a prefix exists once an object is under it)."""

    async def _makedirs(self, path: str, exist_ok: bool = False) -> None:
        """Do nothing: objects have no directories (a prefix exists once an object is under it)."""

    # ------------------------------------------------------------------------------ reads

    async def _cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any) -> bytes:
        """The bytes of ``path``, or of the slice ``[start:end]`` (Python slice semantics)."""
        store, _, key = await self._locate(path)
        start, end = _bound(start), _bound(end)
        if_match = kwargs.get("if_match")
        if not start and end is None:
            return await store.get(key, if_match=if_match)
        size = (await store.head(key)).size if _needs_size(start, end) else None
        span = _span(start, end, size)
        if span is None:
            if size is None:
                await store.head(key)  # an empty slice of a missing object is still an error
            return b""
        try:
            return await store.get(key, range=span, if_match=if_match)
        except InvalidRangeError:
            # The start is at or past the end (or the object is empty): an empty slice.
            return b""

    async def _cat_ranges(
        self,
        paths: list[str],
        starts: int | Sequence[int | None] | None,
        ends: int | Sequence[int | None] | None,
        max_gap: int | None = None,
        batch_size: int | None = None,
        on_error: str = "return",
        **kwargs: Any,
    ) -> list[bytes | BaseException]:
        """Byte ranges of one or more files: one ``get_ranges`` call per file."""
        if not isinstance(paths, list):
            raise TypeError("paths must be a list")
        count = len(paths)
        starts_list = list(starts) if isinstance(starts, Iterable) else [starts] * count
        ends_list = list(ends) if isinstance(ends, Iterable) else [ends] * count
        if len(starts_list) != count or len(ends_list) != count:
            raise ValueError("paths, starts and ends must have the same length")
        by_path: dict[str, list[int]] = {}
        for i, p in enumerate(paths):
            by_path.setdefault(p, []).append(i)
        out: list[bytes | BaseException] = [b""] * count

        async def one(path: str, indexes: list[int]) -> None:
            try:
                slices = [(_bound(starts_list[i]), _bound(ends_list[i])) for i in indexes]
                chunks = await self._ranges_of(path, slices)
            except Exception as e:
                if on_error != "return":
                    raise
                for i in indexes:
                    out[i] = e
                return
            for i, chunk in zip(indexes, chunks, strict=True):
                out[i] = chunk

        await _gather_bounded([one(p, ix) for p, ix in by_path.items()], batch_size or self.batch_size)
        return out

    async def _ranges_of(self, path: str, slices: list[tuple[int | None, int | None]]) -> list[bytes]:
        store, _, key = await self._locate(path)
        size = (await store.head(key)).size if any(_needs_size(s, e) for s, e in slices) else None
        for attempt in range(2):
            spans = [_span(s, e, size) for s, e in slices]
            wanted = [s for s in spans if s is not None]
            try:
                got = iter(await store.get_ranges(key, wanted) if wanted else [])
            except InvalidRangeError:
                if attempt or size is not None:
                    raise
                size = (await store.head(key)).size  # a start past the end: clamp with the size
                continue
            if not wanted and size is None:
                await store.head(key)  # only empty slices: still an error for a missing object
            return [b"" if s is None else next(got) for s in spans]
        raise AssertionError("unreachable")

    async def _get_file(self, rpath: str, lpath: str, callback: Any = DEFAULT_CALLBACK, **kwargs: Any) -> None:
        store, _, key = await self._locate(rpath)
        progress = None if callback is DEFAULT_CALLBACK else fsspec_callback(callback)
        try:
            await download_file(store, key, lpath, progress=progress)
        except IsADirectoryError:
            if key and await _first(store, key) is not None:
                return  # a "directory" of a recursive get, already made for its files
            raise
        except NotFoundError:
            if key and await _first(store, key) is not None:
                os.makedirs(lpath, exist_ok=True)  # a "directory" of a recursive get
                return
            raise

    # ------------------------------------------------------------------------------ writes

    async def _pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        store, _, key = await self._locate(path)
        await store.put(key, value, mode=_put_mode(mode), **_attributes(kwargs))

    async def _put_file(
        self, lpath: str, rpath: str, mode: str = "overwrite", callback: Any = DEFAULT_CALLBACK, **kwargs: Any
    ) -> None:
        if await asyncio.to_thread(os.path.isdir, lpath):
            return  # objects have no directories
        store, _, key = await self._locate(rpath)
        progress = None if callback is DEFAULT_CALLBACK else fsspec_callback(callback)
        await upload_file(store, lpath, key, mode=_put_mode(mode), progress=progress, **_attributes(kwargs))

    async def _cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        src, _, key1 = await self._locate(path1)
        dst, _, key2 = await self._locate(path2)
        if src is dst:
            await src.copy(key1, key2)
            return
        async with src.get_stream(key1) as chunks:
            await dst.put_stream(key2, chunks)

    async def _mv_file(self, path1: str, path2: str) -> None:
        src, _, key1 = await self._locate(path1)
        dst, _, key2 = await self._locate(path2)
        if src is dst:
            await src.rename(key1, key2)
            return
        await self._cp_file(path1, path2)
        await src.delete(key1)

    async def _rm_file(self, path: str, **kwargs: Any) -> None:
        store, _, key = await self._locate(path)
        await store.delete(key)

    async def _rm(
        self,
        path: str | list[str],
        recursive: bool = False,
        batch_size: int | None = None,
        maxdepth: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Delete files (and, with ``recursive``, everything under directories): one ``delete_many`` per batch."""
        paths = [path] if isinstance(path, str) else list(path)
        targets: dict[str, list[str]] = {}
        stores: dict[str, Store] = {}
        for p in paths:
            p = self._strip_protocol(p)
            if _MAGIC.search(p):
                matches = await self._glob(p, maxdepth=maxdepth, detail=True)
                names = [n for n, info in matches.items() if info["type"] == "file"]
                if recursive:
                    for n, info in matches.items():
                        if info["type"] == "directory":
                            names += list(await self._find(n, maxdepth=maxdepth))
                if not names and not matches:
                    raise FileNotFoundError(2, "no match", p)
            elif recursive:
                names = list(await self._find(p, maxdepth=maxdepth))
                if not names:
                    raise FileNotFoundError(2, "no such object or prefix", p)
            else:
                names = [p]
            for name in names:
                space, key = self._split(name)
                if key:
                    targets.setdefault(space, []).append(key)
        for space, keys in targets.items():
            stores[space] = await self._store(space)
            unique = sorted(set(keys))
            for i in range(0, len(unique), RM_BATCH):
                await stores[space].delete_many(unique[i : i + RM_BATCH])

    # ------------------------------------------------------------------------------ files

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> ObjectStoreFile:
        return ObjectStoreFile(
            self,
            path,
            mode=mode,
            block_size=block_size,
            autocommit=autocommit,
            cache_options=cache_options,
            **kwargs,
        )

    async def open_async(self, path: str, mode: str = "rb", **kwargs: Any) -> ObjectStoreAsyncFile:
        """Open a file for ``await f.read()`` / ``await f.write()`` on the running loop (binary modes).

        The same promises as :meth:`open`: writes stream through ``put_stream`` and appear on
        ``await f.close()``; an exception inside ``async with`` aborts the upload.
        """
        if "b" not in mode or kwargs.get("compression"):
            raise ValueError("open_async takes binary modes (rb, wb, xb, ab) and no compression")
        path = self._strip_protocol(path)
        details = None
        if mode == "rb":
            details = await self._info(path)
            if details["type"] != "file":
                raise IsADirectoryError(21, "is a directory (a prefix), not an object", path)
            kwargs["size"] = details["size"]
        elif mode == "xb" and await self._exists_key(path):
            raise FileExistsError(17, "object exists", path)
        elif mode not in ("wb", "xb", "ab"):
            raise ValueError(f"unsupported file mode {mode!r} (rb, wb, xb, ab)")
        # fsspec's async file knows only wb and ab: "xb" writes as "wb" and commits create-only.
        file = ObjectStoreAsyncFile(self, path, "wb" if mode == "xb" else mode, **kwargs)
        file.write_mode = mode
        if details is not None:
            file.details = details
        return file

    async def _begin_write(self, path: str, mode: str) -> _Upload:
        """Start the ``put_stream`` of a file opened for writing (on the filesystem's loop)."""
        store, _, key = await self._locate(path)
        put_mode: PutMode = "overwrite"
        head: ObjectMeta | None = None
        if mode == "xb":
            put_mode = "create"
        elif mode == "ab":
            try:
                head = await store.head(key)
            except NotFoundError:
                put_mode = "create"
            else:
                caps = store.capabilities
                if caps.put_update_etag and head.etag:
                    put_mode = UpdateVersion(etag=head.etag)  # nobody wrote in between, or the append fails
        return _Upload(store, key, put_mode, head)

    async def _exists_key(self, path: str) -> bool:
        store, _, key = await self._locate(path)
        try:
            await store.head(key)
        except NotFoundError:
            return False
        return True


class _Upload:
    """A ``put_stream`` fed from a file's writes: nothing is visible before :meth:`finish`."""

    def __init__(self, store: Store, key: str, mode: PutMode, existing: ObjectMeta | None) -> None:
        self.store = store
        self.key = key
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=1)
        self.existing = existing
        self.task = asyncio.ensure_future(store.put_stream(key, self._chunks(), mode=mode))

    async def _chunks(self) -> AsyncIterator[bytes]:
        if self.existing is not None:  # append: the object's bytes first, pinned to its ETag
            async with self.store.get_stream(self.key, if_match=self.existing.etag) as old:
                async for part in old:
                    yield part
        while True:
            item = await self.queue.get()
            if item is None:
                return
            yield item

    async def send(self, data: bytes | None) -> None:
        """Hand ``data`` (``None``: the end) to the upload; raise the upload's error if it failed."""
        put = asyncio.ensure_future(self.queue.put(data))
        await asyncio.wait([put, self.task], return_when=asyncio.FIRST_COMPLETED)
        if not put.done():
            put.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await put
        if self.task.done() and (data is not None or not put.done()):
            self.task.result()  # the upload's own error
            raise ObjectStoreError(f"the upload of {self.key!r} ended early", path=self.key)

    async def finish(self) -> None:
        """Complete the upload (the object appears whole), or raise its error."""
        await self.send(None)
        await self.task

    async def abort(self) -> None:
        """Cancel the upload: it is aborted, and nothing appears."""
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task


class ObjectStoreFile(AbstractBufferedFile):  # type: ignore[misc]
    """A file of :class:`ObjectStoreFileSystem`: buffered reads, and writes through ``put_stream``.

    Reads fetch byte ranges pinned to the ETag the file was opened with (a change in between
    raises ``PreconditionError`` rather than mixing two versions). Writes stream to the store
    as the buffer fills (``block_size``, default 5 MiB) and appear whole on ``close()``; an
    exception inside ``with`` (or a failed write) aborts the upload, leaving no object and no
    pending upload. Mode ``"xb"`` raises ``FileExistsError`` when the object exists, and still
    commits create-only, so a writer racing in between fails too; ``"ab"`` rewrites the object
    with the new bytes appended (conditional on its ETag where the provider allows).

    Attributes:
        details: the object's ``info()`` (``name``, ``size``, ``type``, ``mtime``, ``ETag``...).
    """

    #: Whether the file is closed (fsspec's property, declared for the type checker).
    closed: bool

    def __init__(
        self,
        fs: ObjectStoreFileSystem,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_type: str = "readahead",
        cache_options: dict[str, Any] | None = None,
        size: int | None = None,
        **kwargs: Any,
    ) -> None:
        self._upload: _Upload | None = None
        if mode not in ("rb", "wb", "xb", "ab"):
            raise ValueError(f"unsupported file mode {mode!r} (rb, wb, xb, ab)")
        if fs.asynchronous:
            raise NotSupportedError(
                "open() of an asynchronous filesystem: use the coroutines (_cat_file, _pipe_file...) "
                "or a filesystem made without asynchronous=True"
            )
        if mode == "xb" and fsspec.asyn.sync(fs.loop, fs._exists_key, path):
            raise FileExistsError(17, "object exists", path)
        details = None
        if mode == "rb" and size is None:
            details = fs.info(path)
            if details["type"] != "file":
                raise IsADirectoryError(21, "is a directory (a prefix), not an object", path)
            size = details["size"]
        super().__init__(
            fs,
            path,
            mode=mode,
            block_size=block_size,
            autocommit=autocommit,
            cache_type=cache_type,
            cache_options=cache_options,
            size=size,
            **kwargs,
        )
        if details is not None:
            self.details = details

    def _fetch_range(self, start: int, end: int) -> bytes:
        etag = self.details.get("etag")
        data: bytes = fsspec.asyn.sync(self.fs.loop, self.fs._cat_file, self.path, start, end, if_match=etag)
        return data

    def _initiate_upload(self) -> None:
        self._upload = fsspec.asyn.sync(self.fs.loop, self.fs._begin_write, self.path, self.mode)

    def _upload_chunk(self, final: bool = False) -> bool:
        upload = self._upload
        assert upload is not None
        data = self.buffer.getvalue()
        try:
            if data:
                fsspec.asyn.sync(self.fs.loop, upload.send, data)
            if final and self.autocommit:
                fsspec.asyn.sync(self.fs.loop, upload.finish)
        except BaseException:
            self._abort()
            raise
        return True

    def commit(self) -> None:
        """Complete the upload of a file written inside a transaction."""
        if self._upload is not None:
            fsspec.asyn.sync(self.fs.loop, self._upload.finish)

    def discard(self) -> None:
        """Abort the upload of a file written inside a transaction."""
        self._abort()

    def _abort(self) -> None:
        upload, self._upload = self._upload, None
        if upload is not None:
            fsspec.asyn.sync(self.fs.loop, upload.abort)

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is not None and self.mode != "rb" and not self.closed:
            # An error inside `with`: abort, so no partial object appears.
            self.buffer = io.BytesIO()
            self.forced = True
            self.closed = True
            self._abort()
            return
        self.close()


class ObjectStoreAsyncFile(AbstractAsyncStreamedFile):  # type: ignore[misc]
    """The file :meth:`ObjectStoreFileSystem.open_async` returns: awaitable reads and writes.

    Writes stream through ``put_stream`` block by block and appear whole on ``await close()``;
    an exception inside ``async with`` aborts the upload (no object, no pending upload).

    Attributes:
        write_mode: the mode the file was opened with (``"xb"`` writes as fsspec's ``"wb"`` and
            commits create-only).
        details: the object's ``info()`` in read mode.
    """

    #: Whether the file is closed (fsspec's property, declared for the type checker).
    closed: bool

    def __init__(self, fs: ObjectStoreFileSystem, path: str, mode: str = "rb", **kwargs: Any) -> None:
        self._upload: _Upload | None = None
        self.write_mode = mode  # "xb" for an exclusive write (fsspec's own mode is then "wb")
        super().__init__(fs, path, mode=mode, **kwargs)

    async def _fetch_range(self, start: int, end: int) -> bytes:
        data: bytes = await self.fs._cat_file(self.path, start, end, if_match=self.details.get("etag"))
        return data

    async def _initiate_upload(self) -> None:
        self._upload = await self.fs._begin_write(self.path, self.write_mode)

    async def _upload_chunk(self, final: bool = False) -> bool:
        upload = self._upload
        assert upload is not None
        data = self.buffer.getvalue()
        try:
            if data:
                await upload.send(data)
            if final:
                await upload.finish()
        except BaseException:
            await self._abort()
            raise
        return True

    async def _abort(self) -> None:
        upload, self._upload = self._upload, None
        if upload is not None:
            await upload.abort()

    async def __aexit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is not None and self.mode != "rb" and not self.closed:
            self.buffer = io.BytesIO()
            self.forced = True
            self.closed = True
            await self._abort()
            return
        await self.close()


def _put_mode(mode: str) -> PutMode:
    if mode == "overwrite":
        return "overwrite"
    if mode == "create":
        return "create"
    raise ValueError(f"mode must be 'overwrite' or 'create', got {mode!r}")


def _attributes(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The object attributes among fsspec's extra keyword arguments (``content_type``...)."""
    keys = ("content_type", "content_disposition", "content_encoding", "content_language", "cache_control", "metadata")
    return {k: kwargs[k] for k in keys if kwargs.get(k) is not None}


async def _gather_bounded(coros: list[Any], batch_size: int | None) -> None:
    """Await ``coros`` with at most ``batch_size`` at once (all at once when ``None`` or <= 0)."""
    if not batch_size or batch_size <= 0:
        await asyncio.gather(*coros)
        return
    gate = asyncio.Semaphore(batch_size)

    async def bounded(coro: Any) -> None:
        async with gate:
            await coro

    await asyncio.gather(*(bounded(c) for c in coros))


def _close_owned(
    by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Store]],
    shared: dict[str, Store],
    *,
    strict: bool = False,
) -> None:
    """Close the stores a filesystem built, each on the loop it lives on (also run at exit).

    ``strict`` (``close()``) refuses to block the stores' own loop; otherwise (a finalizer) their
    closing is scheduled on it.
    """
    if strict:
        for loop, stores in by_loop.items():
            if stores and _running(loop):
                raise ObjectStoreError("close() was called on the stores' own loop: use 'await fs.aclose()'")
    for loop, stores in list(by_loop.items()):
        owned = list(stores.values())
        stores.clear()
        if not owned or loop.is_closed():
            continue  # a closed loop released its connections when it shut down

        async def close_all(owned: list[Store] = owned) -> None:
            for store in owned:
                await store.close()

        if _running(loop):
            task = loop.create_task(close_all())
            _CLOSING.add(task)  # the loop keeps tasks only weakly
            task.add_done_callback(_CLOSING.discard)
        elif loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(close_all(), loop).result(timeout=30)
        else:
            loop.run_until_complete(close_all())
    shared.clear()


#: Closings scheduled by finalizers on the stores' own loop.
_CLOSING: set[asyncio.Task[None]] = set()


_MEMORY: list[Store] = []


def _memory_store() -> Store:
    """The process's one memory store behind ``protocol="memory"`` (as fsspec's ``memory://`` shares one)."""
    if not _MEMORY:
        _MEMORY.append(new("memory"))
    return _MEMORY[0]


def _names(protocol: str | tuple[str, ...]) -> tuple[str, ...]:
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


_CLASSES: dict[tuple[str, str], type[ObjectStoreFileSystem]] = {}


def _protocol_class(name: str, provider: str) -> type[ObjectStoreFileSystem]:
    """The filesystem class serving fsspec protocol ``name`` with ``provider`` (one per pair)."""
    cls = _CLASSES.get((name, provider))
    if cls is None:
        cls = _StoreAwareCache(
            "ObjectStoreFileSystem_" + re.sub(r"\W", "_", name),
            (ObjectStoreFileSystem,),
            {
                "protocol": (name,),
                "default_provider": provider,
                "__module__": __name__,
                "__doc__": f"ObjectStoreFileSystem serving the {name}:// protocol with the {provider} provider.",
            },
        )
        _CLASSES[(name, provider)] = cls
    return cls


def _rebuild(protocols: tuple[str, ...] | None, provider: str, options: dict[str, Any]) -> ObjectStoreFileSystem:
    """Unpickle a filesystem: a new instance from its protocol and options (no live state)."""
    if protocols is None:
        return ObjectStoreFileSystem(**options)
    return _protocol_class(protocols[0], provider)(**options)


def register(protocols: str | Sequence[str]) -> None:
    """Serve fsspec protocols (``"s3"``, ``"gs"``, ``"az"``...) with objectstorex, replacing s3fs & co.

    After ``register("s3")``, ``fsspec.filesystem("s3", **store_options)``,
    ``fsspec.open("s3://bucket/key", ...)`` and ``pandas.read_parquet("s3://...",
    storage_options={...})`` go through objectstorex, with objectstorex's store options.
    Installing objectstorex alone never does this: it registers only the ``objectstorex`` protocol.

    Args:
        protocols: one protocol name or a list of them; each is one of :data:`PROTOCOLS`
            (``s3``, ``s3a``, ``gs``, ``gcs``, ``az``, ``abfs``, ``abfss``, ``azure``,
            ``memory``, ``file``, ``local``).

    Raises:
        InvalidConfigError: an unknown protocol name (nothing is registered).
    """
    names = [protocols] if isinstance(protocols, str) else list(protocols)
    for name in names:
        if not isinstance(name, str) or name not in PROTOCOLS:
            raise InvalidConfigError(f"cannot register {name!r}: known protocols are {', '.join(sorted(PROTOCOLS))}")
    for name in names:
        fsspec.register_implementation(name, _protocol_class(name, PROTOCOLS[name]), clobber=True)
