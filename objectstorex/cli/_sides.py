"""The two kinds of places a command reads and writes: a store, and plain local files.

Both list in the same shape (:class:`Entry`), so ``ls``, ``cp``, ``rm``, ``du`` and ``sync``
treat ``s3://b/dir`` and ``./dir`` alike. Local files are read and written directly (no
``.objectstorex/`` bookkeeping directory is created); a directory named ``.objectstorex`` (a
``LocalStore``'s private files) is never listed.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import errno
import os
import stat
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from .._store import BaseStore
from ..errors import BulkDeleteError, NotFoundError, ObjectStoreError
from ._urls import Location

__all__ = ["Entry", "FsSide", "Side", "StoreSide", "basename", "join"]

_RESERVED = ".objectstorex"


@dataclass(frozen=True, slots=True)
class Entry:
    """One object (or local file) found by a listing or a ``head``.

    Attributes:
        key: its path in the store, or its local path.
        size: bytes.
        last_modified: aware UTC time of the last write.
        etag: the store's ETag (``None`` for a local file).
        version: the store's version id, if any.
    """

    key: str
    size: int
    last_modified: datetime
    etag: str | None = None
    version: str | None = None


def join(base: str, rel: str) -> str:
    """``rel`` under ``base`` (``""`` is the root)."""
    if not base:
        return rel
    return base + rel if base.endswith("/") else f"{base}/{rel}"


def basename(key: str) -> str:
    """The last level of ``key``."""
    return key.rstrip("/").rsplit("/", 1)[-1]


class Side(abc.ABC):
    """Operations the commands need, over a store or local files.

    Attributes:
        location: the command-line location this side was opened for (its scheme and bucket
            say how to display paths).
    """

    kind = ""

    def __init__(self, location: Location) -> None:
        """A side for ``location``'s store or files."""
        self.location = location

    def display(self, key: str) -> str:
        """``key`` as shown to the user (a URL for a store, the path for a local file)."""
        return self.location.display(key)

    @abc.abstractmethod
    def walk(self, base: str) -> AsyncIterator[Entry]:
        """Every object under the directory ``base`` (``""``: the root), recursively, sorted by key."""

    @abc.abstractmethod
    async def level(self, base: str) -> tuple[list[Entry], list[str]]:
        """The objects directly under ``base`` and its sub-directories (keys without a trailing ``/``)."""

    @abc.abstractmethod
    async def head(self, key: str) -> Entry:
        """The object at ``key``.

        Raises:
            NotFoundError: no object there.
            IsADirectoryError: a local directory is there.
        """

    @abc.abstractmethod
    async def delete_many(self, keys: list[str]) -> dict[str, Exception]:
        """Delete ``keys`` (missing ones are not errors); the failures, by key."""

    def relative(self, key: str, base: str) -> str:
        """``key`` relative to the directory ``base``."""
        if not base:
            return key
        prefix = base if base.endswith("/") else base + "/"
        return key[len(prefix) :] if key.startswith(prefix) else basename(key)


class StoreSide(Side):
    """A bucket (or container, or a memory store), opened once per command."""

    kind = "store"

    def __init__(self, location: Location, store: BaseStore) -> None:
        """Wrap an opened ``store``."""
        super().__init__(location)
        self.store = store

    async def walk(self, base: str) -> AsyncIterator[Entry]:
        """Every object under ``base`` (one paginated listing)."""
        async for meta in self.store.list(base.rstrip("/") or None):
            yield Entry(meta.location, meta.size, meta.last_modified, meta.etag, meta.version)

    async def level(self, base: str) -> tuple[list[Entry], list[str]]:
        """One level under ``base`` (``list_with_delimiter``)."""
        result = await self.store.list_with_delimiter(base.rstrip("/") or None)
        entries = [Entry(m.location, m.size, m.last_modified, m.etag, m.version) for m in result.objects]
        return entries, list(result.common_prefixes)

    async def head(self, key: str) -> Entry:
        """``store.head(key)``."""
        meta = await self.store.head(key)
        return Entry(meta.location, meta.size, meta.last_modified, meta.etag, meta.version)

    async def delete_many(self, keys: list[str]) -> dict[str, Exception]:
        """``store.delete_many`` (the provider's batch API where it has one)."""
        try:
            await self.store.delete_many(keys)
        except BulkDeleteError as e:
            return dict(e.errors)
        return {}


def _entry_of(key: str, st: os.stat_result) -> Entry:
    # The ETag osx.LocalStore gives the same file: a listing of its directory agrees with it.
    etag = f"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"
    return Entry(key, st.st_size, datetime.fromtimestamp(st.st_mtime_ns / 1e9, UTC), etag)


class FsSide(Side):
    """Plain local files and directories (symbolic links to files are followed, to directories not)."""

    kind = "fs"

    async def walk(self, base: str) -> AsyncIterator[Entry]:
        """Every regular file under the directory ``base`` (none if it is missing or not a directory)."""
        for entry in await asyncio.to_thread(self._walk, base):
            yield entry

    def _walk(self, base: str) -> list[Entry]:
        found: list[tuple[str, Entry]] = []

        def scan(directory: str, rel_prefix: str) -> None:
            try:
                with os.scandir(directory) as it:
                    children = list(it)
            except (FileNotFoundError, NotADirectoryError):
                return
            for child in children:
                if child.is_dir(follow_symlinks=False):
                    if child.name != _RESERVED:
                        scan(child.path, f"{rel_prefix}{child.name}/")
                    continue
                try:
                    if not child.is_file():  # a FIFO, socket, dangling or directory link
                        continue
                    st = child.stat()
                except OSError:
                    continue
                rel = rel_prefix + child.name
                found.append((rel, _entry_of(join(base, rel), st)))

        scan(base or ".", "")
        found.sort(key=lambda pair: pair[0])
        return [entry for _, entry in found]

    async def level(self, base: str) -> tuple[list[Entry], list[str]]:
        """The files and directories directly in ``base``."""
        return await asyncio.to_thread(self._level, base)

    def _level(self, base: str) -> tuple[list[Entry], list[str]]:
        files: list[Entry] = []
        dirs: list[str] = []
        try:
            with os.scandir(base or ".") as it:
                children = sorted(it, key=lambda c: c.name)
        except (FileNotFoundError, NotADirectoryError):
            return [], []
        for child in children:
            key = join(base, child.name)
            if child.is_dir(follow_symlinks=False):
                if child.name != _RESERVED:
                    dirs.append(key)
                continue
            with contextlib.suppress(OSError):
                if child.is_file():
                    files.append(_entry_of(key, child.stat()))
        return files, dirs

    async def head(self, key: str) -> Entry:
        """``os.stat`` of a regular file."""
        return await asyncio.to_thread(self._head, key)

    def _head(self, key: str) -> Entry:
        try:
            st = os.stat(key)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFoundError(f"{key}: no such file", path=key, provider="local") from None
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", key)
        return _entry_of(key, st)

    async def delete_many(self, keys: list[str]) -> dict[str, Exception]:
        """Unlink each file (missing ones are not errors)."""
        return await asyncio.to_thread(self._delete_many, keys)

    def _delete_many(self, keys: Iterable[str]) -> dict[str, Exception]:
        errors: dict[str, Exception] = {}
        for key in keys:
            try:
                os.unlink(key)
            except FileNotFoundError:
                pass
            except OSError as e:
                errors[key] = e
        return errors

    async def prune(self, base: str, *, keep_base: bool = False) -> None:
        """Remove the empty directories under ``base``, and ``base`` itself once empty (unless ``keep_base``)."""
        await asyncio.to_thread(self._prune, base or ".", keep_base)

    def _prune(self, base: str, keep_base: bool) -> None:
        for directory, _, _ in sorted(os.walk(base), key=lambda t: -len(t[0])):
            if directory == base and (keep_base or base in (".", "..", os.sep)):
                continue
            with contextlib.suppress(OSError):
                os.rmdir(directory)


def describe_error(error: BaseException) -> str:
    """A one-line reason for ``error`` (an objectstorex error's message, or the OS error)."""
    if isinstance(error, ObjectStoreError):
        return str(error)
    if isinstance(error, OSError) and error.strerror:
        return f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    return f"{type(error).__name__}: {error}"
