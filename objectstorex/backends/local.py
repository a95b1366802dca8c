"""LocalStore: objects as files under a root directory, safe to trust with data.

Guarantees and how they are kept:

* **Atomic writes** -- data goes to a temp file in ``<root>/.objectstorex/tmp`` (same filesystem)
  and is moved into place with ``os.replace``; a crash or exception never leaves a partial object,
  and temp files are never visible in an object's directory.
* **Create and CAS atomic across processes** -- every write of a path happens under an ``fcntl``
  lock on one of 64 stripe files (``<root>/.objectstorex/locks``), taken inside the single worker
  thread call that checks the condition and renames, so a holder never waits for another thread.
* **ETags change on every write** -- ``inode-mtime_ns-size``, with the mtime set under the lock
  to ``max(now, previous + 1)`` so two states of one path never share an ETag.
* **Attributes, metadata and tags** persist in a JSON sidecar under ``<root>/.objectstorex/attrs``
  stamped with the ETag of the data it belongs to; a sidecar whose stamp does not match is ignored.
* **Path safety** -- nothing outside the root is read or written, symlinks included.

Each operation is one hop to a worker thread; the event loop never blocks on the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import os
import stat
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import aiofiles

from .._ranges import ByteRange
from .._store import BaseStore, GetOptions, PutOptions
from .._types import Attributes, Capabilities, GetResult, ListResult, ObjectMeta, PutResult
from ..errors import (
    AlreadyExistsError,
    InvalidConfigError,
    InvalidPathError,
    NotFoundError,
    ObjectStoreError,
    PermissionDeniedError,
)
from ..preconditions import GetConditions, PutMode, UpdateVersion, check_get, check_put
from ._local_io import run_blocking

__all__ = ["LocalStore"]

T = TypeVar("T")

_RESERVED = ".objectstorex"
_STRIPES = 64
_STALE_TEMP_SECONDS = 3600
_COPY_BUFFER = 1024 * 1024
_PLAIN_READ = GetOptions(GetConditions())

_CAPABILITIES = Capabilities(
    put_create=True,
    put_update_etag=True,
    put_update_version=False,
    copy_if_not_exists=True,
    delete_if_match=True,
    tags=True,
    versions=False,
    sign=False,
    conditional_get=True,
)


def _etag(st: os.stat_result) -> str:
    return f"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"


def _meta(location: str, st: os.stat_result) -> ObjectMeta:
    modified = datetime.fromtimestamp(st.st_mtime_ns / 1e9, UTC)
    return ObjectMeta(location, st.st_size, modified, _etag(st), None)


def _attrs_to_json(attributes: Attributes, tags: dict[str, str] | None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        name: getattr(attributes, name)
        for name in ("content_type", "content_disposition", "content_encoding", "content_language", "cache_control")
        if getattr(attributes, name) is not None
    }
    if attributes.metadata:
        doc["metadata"] = dict(attributes.metadata)
    if tags:
        doc["tags"] = dict(tags)
    return doc


def _attrs_from_json(doc: dict[str, Any]) -> tuple[Attributes, dict[str, str]]:
    attributes = Attributes(
        content_type=doc.get("content_type"),
        content_disposition=doc.get("content_disposition"),
        content_encoding=doc.get("content_encoding"),
        content_language=doc.get("content_language"),
        cache_control=doc.get("cache_control"),
        metadata=dict(doc.get("metadata") or {}),
    )
    return attributes, dict(doc.get("tags") or {})


class LocalStore(BaseStore):
    """A store of files under ``path`` (created if missing).

    Args:
        path: the root directory.
        fsync: fsync each written file and its directory before a put returns, so a completed put
            survives power loss (off by default, like obstore and fsspec).
        create: create the root directory if it is missing.

    Example::

        async with osx.LocalStore("data/objects") as store:
            await store.put("a/b.txt", b"hi")
    """

    provider = "local"

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False, create: bool = True) -> None:
        super().__init__()
        if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
            raise InvalidConfigError("option 'path' must be a non-empty directory path", provider="local")
        root = os.path.abspath(os.fspath(path))
        try:
            if create:
                os.makedirs(root, exist_ok=True)
            if not os.path.isdir(root):
                raise InvalidConfigError(f"option 'path': {root!r} is not a directory", provider="local")
            self._root = os.path.realpath(root)
            self._root_sep = self._root + os.sep
            self._tmp = os.path.join(self._root, _RESERVED, "tmp")
            self._locks = os.path.join(self._root, _RESERVED, "locks")
            self._attrs = os.path.join(self._root, _RESERVED, "attrs")
            for d in (self._tmp, self._locks, self._attrs):
                os.makedirs(d, exist_ok=True)
        except OSError as e:
            raise InvalidConfigError(f"option 'path': cannot use {root!r} ({e.strerror})", provider="local") from e
        self._fsync = bool(fsync)
        self._live = True
        self._opened = True

    @property
    def capabilities(self) -> Capabilities:
        """Everything but versions and signing."""
        return _CAPABILITIES

    @property
    def root(self) -> str:
        """The absolute, resolved root directory."""
        return self._root

    def _repr_fields(self) -> dict[str, object]:
        return {"path": self._root, "fsync": self._fsync}

    async def __aenter__(self) -> LocalStore:
        await super().__aenter__()
        await self._run(self._remove_stale_temps)
        return self

    # ------------------------------------------------------------------------------ plumbing

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await run_blocking(fn, *args)

    def _remove_stale_temps(self) -> None:
        cutoff = time.time() - _STALE_TEMP_SECONDS
        with os.scandir(self._tmp) as it:
            for entry in it:
                with contextlib.suppress(OSError):
                    if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        os.unlink(entry.path)

    def _resolve(self, path: str) -> str:
        """The file for ``path``, refusing anything that resolves outside the root."""
        if path.split("/", 1)[0] == _RESERVED:
            raise InvalidPathError(
                f"invalid path {path!r}: the top-level segment {_RESERVED!r} is reserved by the local store",
                path=path,
                provider="local",
            )
        full = os.path.join(self._root, *path.split("/"))
        real = os.path.realpath(full)
        if real != full and not real.startswith(self._root_sep):
            raise PermissionDeniedError(
                f"path {path!r} resolves outside the store root (symlink)", path=path, provider="local"
            )
        return real

    def _sidecar(self, path: str) -> str:
        return os.path.join(self._attrs, *path.split("/")) + ".json"

    @contextlib.contextmanager
    def _locked(self, *paths: str) -> Iterator[None]:
        """Hold the stripe locks of ``paths`` (sorted, so two paths never deadlock)."""
        stripes = sorted({zlib.crc32(p.encode("utf-8", "surrogatepass")) % _STRIPES for p in paths})
        fds: list[int] = []
        try:
            for s in stripes:
                fd = os.open(os.path.join(self._locks, f"{s:02d}.lock"), os.O_RDWR | os.O_CREAT, 0o644)
                fds.append(fd)
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            for fd in reversed(fds):
                os.close(fd)  # closing releases the flock

    def _error(self, e: OSError, path: str, operation: str) -> ObjectStoreError:
        """Map an OSError onto the objectstorex tree (the one place that does)."""
        if isinstance(e, ObjectStoreError):
            return e  # ours already (NotFoundError etc. are OSErrors too): keep it as it is
        code = e.errno
        if code == errno.ENOENT:
            return NotFoundError(f"object {path!r} not found", path=path, provider="local")
        if code in (errno.EACCES, errno.EPERM, errno.EROFS):
            return PermissionDeniedError(f"{operation} {path!r}: permission denied", path=path, provider="local")
        if code in (errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENOTEMPTY):
            return InvalidPathError(
                f"{operation} {path!r}: a path cannot be both an object and the parent of other objects",
                path=path,
                provider="local",
            )
        if code == errno.ENAMETOOLONG:
            return InvalidPathError(f"{operation} {path!r}: name too long", path=path, provider="local")
        if code == errno.ELOOP:
            return PermissionDeniedError(f"{operation} {path!r}: symlink refused", path=path, provider="local")
        return ObjectStoreError(f"{operation} {path!r} failed: {e.strerror}", path=path, provider="local")

    def _stat_object(self, full: str, path: str) -> os.stat_result | None:
        """Stat an object's file: None if missing; a directory is not an object."""
        try:
            st = os.stat(full, follow_symlinks=False)
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            return None
        if stat.S_ISDIR(st.st_mode):
            return None
        return st

    def _read_sidecar(self, path: str, etag: str) -> tuple[Attributes, dict[str, str]] | None:
        try:
            with open(self._sidecar(path), "rb") as f:
                doc = json.loads(f.read())
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (OSError, ValueError):
            return None  # unreadable sidecar: treat as absent rather than fail the read
        if not isinstance(doc, dict) or doc.get("etag") != etag:
            return None  # stale: it belongs to an earlier state of the file
        return _attrs_from_json(doc)

    def _write_sidecar(self, path: str, etag: str, doc: dict[str, Any]) -> None:
        target = self._sidecar(path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        tmp = os.path.join(self._tmp, f"attrs-{uuid.uuid4().hex}")
        try:
            with open(tmp, "wb") as f:
                f.write(json.dumps({"etag": etag, **doc}).encode())
                if self._fsync:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def _drop_sidecar(self, path: str) -> None:
        target = self._sidecar(path)
        try:
            os.unlink(target)
        except (FileNotFoundError, NotADirectoryError):
            return
        self._prune_dirs(os.path.dirname(target), self._attrs)

    def _prune_dirs(self, directory: str, stop: str) -> None:
        """Remove empty directories from ``directory`` up to (not including) ``stop``."""
        while directory != stop and directory.startswith(stop + os.sep):
            try:
                os.rmdir(directory)
            except OSError:
                return
            directory = os.path.dirname(directory)

    def _new_temp(self) -> tuple[str, int]:
        tmp = os.path.join(self._tmp, uuid.uuid4().hex)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        return tmp, fd

    def _commit(
        self,
        path: str,
        full: str,
        tmp: str,
        mode: PutMode,
        attrs_doc: dict[str, Any] | None,
        must_not_exist: bool = False,
    ) -> PutResult:
        """Under the path's lock: check the mode, stamp the mtime, move the temp file into place."""
        try:
            return self._commit_locked(path, full, tmp, mode, attrs_doc, must_not_exist)
        except ObjectStoreError:
            raise
        except OSError as e:
            raise self._error(e, path, "write") from e

    def _commit_locked(
        self,
        path: str,
        full: str,
        tmp: str,
        mode: PutMode,
        attrs_doc: dict[str, Any] | None,
        must_not_exist: bool,
    ) -> PutResult:
        with self._locked(path):
            try:
                current: os.stat_result | None = os.stat(full, follow_symlinks=False)
            except (FileNotFoundError, NotADirectoryError):
                current = None  # NotADirectoryError: a parent is an object; the move reports it
            if current is not None and stat.S_ISDIR(current.st_mode):
                raise InvalidPathError(
                    f"cannot write {path!r}: it is a prefix of other objects (a path cannot be both "
                    "an object and the parent of other objects)",
                    path=path,
                    provider="local",
                )
            if must_not_exist and current is not None:
                raise AlreadyExistsError(f"object {path!r} already exists", path=path, provider="local")
            if mode != "overwrite":
                check_put(mode, None if current is None else _meta(path, current), path=path, provider="local")
            previous = current.st_mtime_ns + 1 if current is not None else 0
            mtime = max(time.time_ns(), previous)
            os.utime(tmp, ns=(mtime, mtime))
            etag = _etag(os.stat(tmp))
            if attrs_doc:
                self._write_sidecar(path, etag, attrs_doc)
            elif current is not None:
                self._drop_sidecar(path)
            self._move_into_place(path, tmp, full, current is not None)
            if self._fsync:
                dfd = os.open(os.path.dirname(full), os.O_RDONLY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
            return PutResult(etag, None)

    def _move_into_place(self, path: str, tmp: str, full: str, exists: bool) -> None:
        if exists and _exchange(tmp, full):
            # Atomic swap, then drop the old data (now at the temp name). Renaming over an
            # existing file would make ext4 flush the new file first (auto_da_alloc): 6x slower.
            os.unlink(tmp)
            return
        for attempt in range(3):
            try:
                os.replace(tmp, full)
                return
            except FileNotFoundError:
                # The parent is missing: first write under it, or a concurrent delete pruned it.
                if attempt == 2:
                    raise
                try:
                    os.makedirs(os.path.dirname(full), exist_ok=True)
                except (NotADirectoryError, FileExistsError) as e:
                    raise self._conflict(path) from e
            except (NotADirectoryError, IsADirectoryError) as e:
                raise self._conflict(path) from e

    def _conflict(self, path: str) -> InvalidPathError:
        return InvalidPathError(
            f"cannot write {path!r}: a parent of it is an object (a path cannot be both an object and "
            "the parent of other objects)",
            path=path,
            provider="local",
        )

    # ------------------------------------------------------------------------------ writes

    def _put_sync(self, path: str, data: bytes, opts: PutOptions) -> PutResult:
        full = self._resolve(path)
        tmp, fd = self._new_temp()
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                if self._fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            doc = _attrs_to_json(opts.attributes, dict(opts.tags) if opts.tags else None)
            return self._commit(path, full, tmp, opts.mode, doc)
        except ObjectStoreError:
            raise
        except OSError as e:
            raise self._error(e, path, "put") from e
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    async def _put(self, path: str, data: bytes, opts: PutOptions) -> PutResult:
        return await self._run(self._put_sync, path, data, opts)

    async def _put_stream(
        self,
        path: str,
        chunks: AsyncIterator[bytes],
        opts: PutOptions,
        part_size: int | None,
        max_concurrency: int | None,
    ) -> PutResult:
        full = await self._run(self._resolve, path)
        tmp = os.path.join(self._tmp, uuid.uuid4().hex)
        try:
            try:
                f = await aiofiles.open(tmp, "xb")
            except OSError as e:
                raise self._error(e, path, "put_stream") from e
            try:
                # Chunks go to disk as they arrive, so memory stays at about one chunk. The
                # caller's iterable raises through here unchanged.
                async for chunk in chunks:
                    try:
                        await f.write(chunk)
                    except OSError as e:
                        raise self._error(e, path, "put_stream") from e
                if self._fsync:
                    await f.flush()
                    await self._run(os.fsync, f.fileno())
            finally:
                await f.close()
            doc = _attrs_to_json(opts.attributes, dict(opts.tags) if opts.tags else None)
            return await self._run(self._commit, path, full, tmp, opts.mode, doc)
        finally:
            # Shielded so that a cancelled upload still removes its temp file.
            await asyncio.shield(self._run(partial(_unlink_quietly, tmp)))

    def _delete_sync(self, path: str, cond: UpdateVersion | None) -> None:
        full = self._resolve(path)
        with self._locked(path):
            current = self._stat_object(full, path)
            if cond is not None:
                check_put(cond, None if current is None else _meta(path, current), path=path, provider="local")
            if current is None:
                return
            try:
                os.unlink(full)
            except FileNotFoundError:
                return
            except OSError as e:
                raise self._error(e, path, "delete") from e
            self._drop_sidecar(path)
        self._prune_dirs(os.path.dirname(full), self._root)

    async def _delete(self, path: str, cond: UpdateVersion | None) -> None:
        await self._run(self._delete_sync, path, cond)

    def _copy_sync(self, src: str, dst: str, overwrite: bool) -> None:
        src_full, dst_full = self._resolve(src), self._resolve(dst)
        try:
            fd = os.open(src_full, os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as e:
            raise NotFoundError(f"copy source {src!r} not found", path=src, provider="local") from e
        tmp = ""
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise NotFoundError(f"copy source {src!r} not found", path=src, provider="local")
            sidecar = self._read_sidecar(src, _etag(st))
            tmp, out = self._new_temp()
            try:
                # The open descriptor pins the source: a concurrent replace cannot mix data in.
                while True:
                    block = os.read(fd, _COPY_BUFFER)
                    if not block:
                        break
                    view = memoryview(block)
                    while view:
                        view = view[os.write(out, view) :]
                if self._fsync:
                    os.fsync(out)
            finally:
                os.close(out)
            doc = _attrs_to_json(*sidecar) if sidecar else {}
            self._commit(dst, dst_full, tmp, "overwrite", doc, must_not_exist=not overwrite)
        except ObjectStoreError:
            raise
        except OSError as e:
            raise self._error(e, dst, "copy") from e
        finally:
            os.close(fd)
            if tmp:
                _unlink_quietly(tmp)

    async def _copy(self, src: str, dst: str, *, overwrite: bool) -> None:
        await self._run(self._copy_sync, src, dst, overwrite)

    def _rename_sync(self, src: str, dst: str, overwrite: bool) -> None:
        src_full, dst_full = self._resolve(src), self._resolve(dst)
        if src_full == dst_full:
            if self._stat_object(src_full, src) is None:
                raise NotFoundError(f"rename source {src!r} not found", path=src, provider="local")
            if not overwrite:
                raise AlreadyExistsError(f"object {dst!r} already exists", path=dst, provider="local")
            return
        with self._locked(src, dst):
            st = self._stat_object(src_full, src)
            if st is None:
                raise NotFoundError(f"rename source {src!r} not found", path=src, provider="local")
            if not overwrite and self._stat_object(dst_full, dst) is not None:
                raise AlreadyExistsError(f"object {dst!r} already exists", path=dst, provider="local")
            etag = _etag(st)
            sidecar = self._read_sidecar(src, etag)
            try:
                os.makedirs(os.path.dirname(dst_full), exist_ok=True)
                if sidecar:
                    self._write_sidecar(dst, etag, _attrs_to_json(*sidecar))
                else:
                    self._drop_sidecar(dst)
                if overwrite:
                    os.replace(src_full, dst_full)
                else:
                    os.link(src_full, dst_full)  # fails with EEXIST: never clobbers
                    os.unlink(src_full)
            except FileExistsError as e:
                raise AlreadyExistsError(f"object {dst!r} already exists", path=dst, provider="local") from e
            except OSError as e:
                raise self._error(e, dst, "rename") from e
            self._drop_sidecar(src)
        self._prune_dirs(os.path.dirname(src_full), self._root)

    async def _rename(self, src: str, dst: str, *, overwrite: bool) -> None:
        await self._run(self._rename_sync, src, dst, overwrite)

    # ------------------------------------------------------------------------------ reads

    def _open_checked(self, path: str, opts: GetOptions) -> tuple[int, os.stat_result, ObjectMeta]:
        full = self._resolve(path)
        try:
            fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFoundError(f"object {path!r} not found", path=path, provider="local") from None
        except OSError as e:
            raise self._error(e, path, "get") from e
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise NotFoundError(f"object {path!r} not found", path=path, provider="local")
            meta = _meta(path, st)
            if opts.conditions:
                check_get(opts.conditions, meta, provider="local")
        except BaseException:
            os.close(fd)
            raise
        return fd, st, meta

    def _get_sync(self, path: str, opts: GetOptions) -> GetResult:
        fd, st, meta = self._open_checked(path, opts)
        try:
            if opts.range is None:
                start, end = 0, st.st_size
            else:
                start, end = opts.range.resolve(st.st_size, path=path, provider="local")
            data = os.pread(fd, end - start, start) if end > start else b""
        finally:
            os.close(fd)
        sidecar = self._read_sidecar(path, meta.etag or "")
        return GetResult(data, meta, sidecar[0] if sidecar else Attributes())

    async def _get(self, path: str, opts: GetOptions) -> GetResult:
        return await self._run(self._get_sync, path, opts)

    def _get_ranges_sync(self, path: str, ranges: list[ByteRange]) -> list[bytes]:
        fd, st, _ = self._open_checked(path, _PLAIN_READ)
        try:
            out = []
            for r in ranges:
                start, end = r.resolve(st.st_size, path=path, provider="local")
                out.append(os.pread(fd, end - start, start))
            return out
        finally:
            os.close(fd)

    async def _get_ranges(self, path: str, ranges: list[ByteRange]) -> list[bytes]:
        return await self._run(self._get_ranges_sync, path, ranges)

    async def _open_stream(
        self, path: str, opts: GetOptions, chunk_size: int
    ) -> tuple[ObjectMeta, AsyncIterator[bytes]]:
        fd, st, meta = await self._run(self._open_checked, path, opts)
        try:
            if opts.range is None:
                start, end = 0, st.st_size
            else:
                start, end = opts.range.resolve(st.st_size, path=path, provider="local")
            # aiofiles reads the descriptor we opened, so the stream stays pinned to that file
            # even if the object is replaced meanwhile.
            f = await aiofiles.open(fd, "rb", closefd=True)
        except BaseException:
            os.close(fd)
            raise

        async def chunks() -> AsyncIterator[bytes]:
            try:
                await f.seek(start)
                remaining = end - start
                while remaining > 0:
                    block = await f.read(min(chunk_size, remaining))
                    if not block:
                        raise ObjectStoreError(
                            f"object {path!r} was truncated while being read", path=path, provider="local"
                        )
                    remaining -= len(block)
                    yield block
            finally:
                await f.close()

        return meta, chunks()

    def _head_sync(self, path: str) -> ObjectMeta:
        full = self._resolve(path)
        st = self._stat_object(full, path)
        if st is None:
            raise NotFoundError(f"object {path!r} not found", path=path, provider="local")
        return _meta(path, st)

    async def _head(self, path: str, version: str | None) -> ObjectMeta:
        return await self._run(self._head_sync, path)

    def _get_tags_sync(self, path: str) -> dict[str, str]:
        meta = self._head_sync(path)
        sidecar = self._read_sidecar(path, meta.etag or "")
        return sidecar[1] if sidecar else {}

    async def _get_tags(self, path: str) -> dict[str, str]:
        return await self._run(self._get_tags_sync, path)

    def _scan(self, rel: str) -> list[tuple[str, str, ObjectMeta | None]]:
        """One directory, sorted so that a depth-first walk yields full paths in code-point order.

        Directories sort by ``name + "/"``: every child of ``a`` starts with ``a/``, and a sibling
        compares with ``a/`` exactly as it compares with each child (``a-c`` < ``a/b``).
        Symlinks are skipped: a listing never leads outside the root.
        """
        directory = os.path.join(self._root, *rel.split("/")) if rel else self._root
        out: list[tuple[str, str, ObjectMeta | None]] = []
        try:
            it = os.scandir(directory)
        except (FileNotFoundError, NotADirectoryError):
            return out
        with it:
            for entry in it:
                name = entry.name
                if not rel and name == _RESERVED:
                    continue
                location = f"{rel}/{name}" if rel else name
                try:
                    if entry.is_dir(follow_symlinks=False):
                        out.append((name + "/", location, None))
                    elif entry.is_file(follow_symlinks=False):
                        out.append((name, location, _meta(location, entry.stat(follow_symlinks=False))))
                except FileNotFoundError:
                    continue  # removed while we were scanning
        out.sort(key=lambda e: e[0])
        return out

    async def _walk(self, rel: str, offset: str | None) -> AsyncIterator[ObjectMeta]:
        for _, location, meta in await self._run(self._scan, rel):
            if meta is None:
                lead = location + "/"
                if offset is not None and lead < offset and not offset.startswith(lead):
                    continue  # the whole subtree sorts before the offset
                async for child in self._walk(location, offset):
                    yield child
            elif offset is None or location > offset:
                yield meta

    async def _list(self, prefix: str, offset: str | None) -> AsyncIterator[ObjectMeta]:
        if prefix:
            self._resolve(prefix)  # refuses the reserved segment and symlink escapes
        async for meta in self._walk(prefix, offset):
            yield meta

    async def _list_with_delimiter(self, prefix: str) -> ListResult:
        if prefix:
            self._resolve(prefix)
        objects: list[ObjectMeta] = []
        prefixes: list[str] = []
        for _, location, meta in await self._run(self._scan, prefix):
            if meta is None:
                prefixes.append(location)
            else:
                objects.append(meta)
        return ListResult(objects, prefixes)


_RENAME_EXCHANGE = 2  # renameat2(2) flag, Linux >= 3.15
_AT_FDCWD = -100
_renameat2: Any = None  # resolved on first use; False once known to be unavailable


def _exchange(a: str, b: str) -> bool:
    """Atomically swap two paths with renameat2(RENAME_EXCHANGE); False where unsupported."""
    global _renameat2
    if _renameat2 is None:
        try:
            import ctypes

            fn = ctypes.CDLL(None, use_errno=True).renameat2
            fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            fn.restype = ctypes.c_int
            _renameat2 = fn
        except (OSError, AttributeError):
            _renameat2 = False
    if _renameat2 is False:
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    import ctypes

    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        _renameat2 = False  # this kernel/filesystem cannot exchange: use os.replace from now on
    return False


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
