"""LocalStore: objects as plain files under a root directory, safe to trust with data.

Guarantees and how they are kept:

* **Atomic writes** -- data goes to a temp file in ``<root>/.objectstorex/tmp`` (same filesystem)
  and is moved into place by a rename (or a hard link for a new object, which can never clobber);
  a crash or exception never leaves a partial object, and no temp file is ever visible in an
  object's directory. Temp files older than an hour (left by a killed process) are removed when a
  store opens. ``fsync=True`` also flushes each file and its directory before a write returns.
* **Create and CAS atomic across processes** -- every write of a path runs under an ``fcntl.flock``
  on one of 64 stripe files (``<root>/.objectstorex/locks``), taken inside the single worker-thread
  call that checks the condition and moves the file, so a lock holder never waits for a thread.
* **ETags change on every write** -- ``inode-mtime_ns-size`` (hex), with the mtime set under the
  lock to ``max(now, previous + 1)``, so two states of one path never share an ETag.
* **Attributes, metadata and tags** persist in a JSON sidecar under
  ``<root>/.objectstorex/attrs`` (named by a hash of the path), holding one entry per ETag: the
  current state's and the one it replaced, so a reader always gets the attributes of the very
  data it read, and a crash between the two renames never attaches wrong attributes.
* **Path safety** -- every path is opened one directory at a time relative to its parent's
  descriptor with ``O_NOFOLLOW``: no symlink below the root is ever followed (an operation that
  meets one raises ``PermissionDeniedError``; listings skip them), and no race can redirect an
  operation outside the root. The top-level segment ``.objectstorex`` is reserved
  (``InvalidPathError``). A path cannot be both an object and the parent of another
  (``a`` and ``a/b``); such a write raises ``InvalidPathError`` and changes nothing. Empty
  directories are removed on delete, up to the root.

Each operation is one hop to a worker thread; the event loop never blocks on the disk.
POSIX only (``fcntl``, ``*at`` system calls).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import errno
import hashlib
import json
import os
import stat
import sys
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import aiofiles.threadpool

from .._ranges import ByteRange
from .._store import BaseStore, GetOptions, PutOptions
from .._types import (
    ATTRIBUTE_NAMES,
    Attributes,
    Capabilities,
    GetResult,
    ListResult,
    ObjectMeta,
    ProgressCallback,
    PutResult,
)
from ..errors import (
    AlreadyExistsError,
    InvalidConfigError,
    InvalidPathError,
    NotFoundError,
    ObjectStoreError,
    PermissionDeniedError,
)
from ..preconditions import GetConditions, PutMode, UpdateVersion, check_get, check_put
from ..progress import Reporter, report_whole
from ._local_fs import (
    DIR_FLAGS,
    LIST_FLAGS,
    NOFOLLOW,
    NONBLOCK,
    TempFile,
    WalkError,
    close_all,
    exchange,
    open_dirs,
    pread_exact,
    write_all,
)
from ._local_io import run_blocking

__all__ = ["LocalStore"]

_RESERVED = ".objectstorex"
_STRIPES = 64
_STALE_TEMP_SECONDS = 3600
_COPY_BUFFER = 1024 * 1024
_LIST_BATCH = 1000
_DELETE_BATCH = 256
_STREAM_BUFFER = 1024 * 1024
_CLOEXEC: int = getattr(os, "O_CLOEXEC", 0)
_READ_FLAGS = os.O_RDONLY | NOFOLLOW | NONBLOCK | _CLOEXEC  # NONBLOCK: a FIFO never hangs
_NO_ATTRIBUTES = Attributes()
_NO_CONDITIONS = GetConditions()
_TRANSIENT = frozenset((errno.EAGAIN, errno.EINTR, errno.EBUSY, errno.EMFILE, errno.ENFILE, errno.ETIMEDOUT))
_NO_HARDLINKS = frozenset((errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.EXDEV))

if sys.platform == "win32":  # pragma: no cover - the store refuses to start there
    _flock: Any = None
else:
    import fcntl

    def _flock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)


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

Entry = dict[str, Any]  # one state's attributes in a sidecar: attribute names, "metadata", "tags"


def _etag(st: os.stat_result) -> str:
    return f"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"


def _meta(location: str, st: os.stat_result) -> ObjectMeta:
    modified = datetime.fromtimestamp(st.st_mtime_ns / 1e9, UTC)
    return ObjectMeta(location, st.st_size, modified, _etag(st), None)


def _entry(attributes: Attributes, tags: Any) -> Entry | None:
    doc: Entry = {name: getattr(attributes, name) for name in ATTRIBUTE_NAMES if getattr(attributes, name) is not None}
    if attributes.metadata:
        doc["metadata"] = dict(attributes.metadata)
    if tags:
        doc["tags"] = dict(tags)
    return doc or None


def _attributes(entry: Entry | None) -> Attributes:
    if not entry:
        return _NO_ATTRIBUTES
    return Attributes(
        content_type=entry.get("content_type"),
        content_disposition=entry.get("content_disposition"),
        content_encoding=entry.get("content_encoding"),
        content_language=entry.get("content_language"),
        cache_control=entry.get("cache_control"),
        metadata=dict(entry.get("metadata") or {}),
    )


def _stamp(fd: int, *before: os.stat_result | None) -> os.stat_result:
    """Set the file's mtime past every state in ``before`` (the ETag then differs from each).

    ``max(now, previous + 1 ns)``; where the filesystem keeps coarser timestamps (the stored
    mtime did not move past the previous one) the step grows to its granularity.
    """
    floor = max((st.st_mtime_ns for st in before if st is not None), default=-1)
    mtime = max(time.time_ns(), floor + 1)
    for step in (1_000, 1_000_000, 1_000_000_000, 2_000_000_000):
        os.utime(fd, ns=(mtime, mtime))
        st = os.fstat(fd)
        if st.st_mtime_ns > floor:
            return st
        mtime = floor + step
    return st


def _lstat(name: str, dir_fd: int) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _copy_data(src: int, dst: int, size: int) -> None:
    """Copy ``size`` bytes from the start of ``src`` to ``dst`` (in the kernel where it can)."""
    offset = 0
    copy_range = getattr(os, "copy_file_range", None)
    while copy_range is not None and offset < size:
        try:
            n = copy_range(src, dst, size - offset, offset, offset)
        except OSError as e:
            if e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
                raise
            break  # not here: copy through user space from where we are
        if n == 0:
            raise EOFError  # truncated in place meanwhile
        offset += n
    while offset < size:
        block = os.pread(src, min(_COPY_BUFFER, size - offset), offset)
        if not block:
            raise EOFError
        os.lseek(dst, offset, os.SEEK_SET)
        write_all(dst, block)
        offset += len(block)


class _MapErrors:
    """The one place where OSErrors become objectstorex errors (``with _MapErrors(...)``).

    ``write`` tells how a directory segment that is an object reads: for a write it is the
    "a and a/b" conflict (``InvalidPathError``); for a read the object simply does not exist.
    """

    __slots__ = ("operation", "path", "write")

    def __init__(self, path: str, operation: str, *, write: bool = False) -> None:
        self.path = path
        self.operation = operation
        self.write = write

    def __enter__(self) -> None:
        return None

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        if e is None or isinstance(e, ObjectStoreError):
            return
        if isinstance(e, (OSError, WalkError, EOFError)):
            raise _map_error(e, self.path, self.operation, self.write) from e


def _conflict(path: str, detail: str) -> InvalidPathError:
    return InvalidPathError(
        f"cannot write {path!r}: {detail} (a path cannot be both an object and the parent of other objects)",
        path=path,
        provider="local",
    )


def _symlink(path: str, where: str) -> PermissionDeniedError:
    return PermissionDeniedError(
        f"{path!r}: {where!r} is a symlink, and the local store never follows symlinks",
        path=path,
        provider="local",
    )


def _map_error(e: BaseException, path: str, operation: str, write: bool) -> ObjectStoreError:
    if isinstance(e, WalkError):
        if e.kind == "symlink":
            return _symlink(path, e.prefix)
        if e.kind == "file" and write:
            return _conflict(path, f"{e.prefix!r} is an object")
        return NotFoundError(f"object {path!r} not found", path=path, provider="local")
    if isinstance(e, EOFError):
        return ObjectStoreError(f"object {path!r} was truncated while being read", path=path, provider="local")
    assert isinstance(e, OSError)
    code = e.errno
    if code == errno.ENOENT:
        return NotFoundError(f"object {path!r} not found", path=path, provider="local")
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return PermissionDeniedError(f"{operation} {path!r}: {e.strerror}", path=path, provider="local")
    if code == errno.ELOOP:
        return _symlink(path, path)
    if code in (errno.ENOTDIR, errno.EISDIR):
        return (
            _conflict(path, "a segment of it is of the other kind")
            if write
            else NotFoundError(f"object {path!r} not found", path=path, provider="local")
        )
    if code == errno.ENAMETOOLONG:
        return InvalidPathError(
            f"{operation} {path!r}: a segment is too long for this filesystem", path=path, provider="local"
        )
    return ObjectStoreError(
        f"{operation} {path!r} failed: {e.strerror or e}",
        path=path,
        provider="local",
        retryable=code in _TRANSIENT,
    )


class _ChunkReader:
    """The chunks of a streaming read, from the descriptor opened (and checked) at open time.

    Holding that descriptor pins the stream to one file: a concurrent replace swaps the name,
    never the bytes we read. ``aclose`` releases it even if iteration never started.
    """

    def __init__(self, fd: int, start: int, end: int, chunk_size: int, path: str) -> None:
        self._file = aiofiles.threadpool.wrap(open(fd, "rb", buffering=0, closefd=True))
        self._pos = start
        self._end = end
        self._chunk = chunk_size
        self._path = path
        self._seeked = False
        self._closed = False

    def __aiter__(self) -> _ChunkReader:
        return self

    async def __anext__(self) -> bytes:
        if self._pos >= self._end:
            await self.aclose()
            raise StopAsyncIteration
        try:
            if not self._seeked:
                await self._file.seek(self._pos)
                self._seeked = True
            block: bytes = await self._file.read(min(self._chunk, self._end - self._pos))
        except OSError as e:
            await self.aclose()
            raise _map_error(e, self._path, "get_stream", False) from e
        if not block:
            await self.aclose()
            raise _map_error(EOFError(), self._path, "get_stream", False)
        self._pos += len(block)
        return block

    async def aclose(self) -> None:
        """Release the file (idempotent)."""
        self._end = -1
        if not self._closed:
            self._closed = True
            await self._file.close()


class LocalStore(BaseStore):
    """A store of plain files under ``path``.

    Args:
        path: the root directory (created if missing, unless ``create=False``).
        fsync: flush each written file and its directory to disk before a write returns, so a
            completed write survives power loss (off by default, like obstore and fsspec).
        create: create the root directory if it is missing.

    Raises:
        InvalidConfigError: ``path`` is not a usable directory, or an option has the wrong type.

    Example::

        async with osx.LocalStore("data/objects") as store:
            await store.put("a/b.txt", b"hi")
            assert await store.get("a/b.txt") == b"hi"
    """

    provider = "local"

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False, create: bool = True) -> None:
        super().__init__()
        if _flock is None or not NOFOLLOW:  # pragma: no cover - POSIX only
            raise InvalidConfigError("the local store needs a POSIX system (fcntl locks, O_NOFOLLOW)", provider="local")
        if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
            raise InvalidConfigError("option 'path' must be a non-empty directory path", provider="local")
        for name, value in (("fsync", fsync), ("create", create)):
            if not isinstance(value, bool):
                raise InvalidConfigError(f"option {name!r} must be a bool", provider="local")
        root = os.path.abspath(os.fspath(path))
        try:
            if create:
                os.makedirs(root, exist_ok=True)
            if not os.path.isdir(root):
                raise InvalidConfigError(f"option 'path': {root!r} is not a directory", provider="local")
            self._root = os.path.realpath(root)
            base = os.path.join(self._root, _RESERVED)
            self._tmp = os.path.join(base, "tmp")
            self._locks = os.path.join(base, "locks")
            self._attrs = os.path.join(base, "attrs")
            for d in (self._tmp, self._locks, self._attrs):
                os.makedirs(d, exist_ok=True)
        except OSError as e:
            raise InvalidConfigError(f"option 'path': cannot use {root!r} ({e.strerror})", provider="local") from e
        self._fsync = fsync
        self._dir_flags = LIST_FLAGS if fsync else DIR_FLAGS  # fsync needs a readable descriptor

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

    async def _open(self) -> None:
        await run_blocking(self._remove_stale_temps)

    async def get(
        self,
        path: str,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since: datetime | None = None,
        if_unmodified_since: datetime | None = None,
        range: Any = None,
        version: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> bytes:
        """Read an object, or a range of it (see :meth:`BaseStore.get`).

        Same validation and errors as ``get_object``; it only skips reading the attributes.
        """
        if progress is not None:
            return await super().get(
                path,
                if_match=if_match,
                if_none_match=if_none_match,
                if_modified_since=if_modified_since,
                if_unmodified_since=if_unmodified_since,
                range=range,
                version=version,
                progress=progress,
            )
        self._check_not_closed()
        path = self._path(path)
        opts = self._get_options(path, if_match, if_none_match, if_modified_since, if_unmodified_since, range, version)
        if not self._live:
            await self._ensure_open()
        result = await run_blocking(self._get_sync, path, opts, False)
        return result.data

    # ------------------------------------------------------------------------------ plumbing

    def _remove_stale_temps(self) -> None:
        cutoff = time.time() - _STALE_TEMP_SECONDS
        with contextlib.suppress(OSError), os.scandir(self._tmp) as it:
            for entry in it:
                with contextlib.suppress(OSError):
                    if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        os.unlink(entry.path)

    def _segments(self, path: str) -> list[str]:
        segments = path.split("/")
        if segments[0] == _RESERVED:
            raise InvalidPathError(
                f"invalid path {path!r}: the top-level segment {_RESERVED!r} is reserved by the local store",
                path=path,
                provider="local",
            )
        return segments

    def _fsync_fd(self, fd: int) -> None:
        os.fsync(fd)

    def _parents(self, segments: list[str], *, create: bool) -> list[int]:
        return open_dirs(
            self._root,
            segments[:-1],
            create=create,
            flags=self._dir_flags,
            on_create=self._fsync_fd if create and self._fsync else None,
        )

    @contextlib.contextmanager
    def _locked(self, *paths: str) -> Iterator[None]:
        """Hold the stripe locks of ``paths`` (in stripe order, so two holders never deadlock)."""
        stripes = sorted({zlib.crc32(p.encode("utf-8", "surrogatepass")) % _STRIPES for p in paths})
        fds: list[int] = []
        try:
            for s in stripes:
                lock_path = f"{self._locks}/{s:02d}.lock"
                try:
                    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | _CLOEXEC, 0o644)
                except FileNotFoundError:
                    self._restore_private_dirs()
                    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | _CLOEXEC, 0o644)
                fds.append(fd)
                _flock(fd)
            yield
        finally:
            close_all(fds)  # closing the descriptor releases its flock

    # ------------------------------------------------------------------------------ sidecars

    def _doc_path(self, path: str) -> str:
        # Hashed names: never too long, and "x" and "x.json/y" cannot collide as files and dirs.
        digest = hashlib.sha256(path.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{self._attrs}/{digest[:2]}/{digest[2:]}.json"

    def _states(self, path: str) -> dict[str, Entry]:
        try:
            with open(self._doc_path(path), "rb") as f:
                doc = json.loads(f.read())
        except (OSError, ValueError):
            return {}  # missing, or unreadable: no attributes rather than a failed read
        states = doc.get("states") if isinstance(doc, dict) and doc.get("path") == path else None
        return states if isinstance(states, dict) else {}

    def _entry_for(self, path: str, etag: str) -> Entry | None:
        entry = self._states(path).get(etag)
        return entry if isinstance(entry, dict) else None

    def _write_states(self, path: str, states: dict[str, Entry]) -> None:
        target = self._doc_path(path)
        temp = TempFile(self._tmp)
        try:
            temp.write(json.dumps({"path": path, "states": states}).encode())
            if self._fsync:
                os.fsync(temp.fd)
            try:
                os.replace(temp.path, target)
            except FileNotFoundError:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.replace(temp.path, target)
            temp.path = ""
            if self._fsync:
                dir_fd = os.open(os.path.dirname(target), LIST_FLAGS)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
        finally:
            temp.discard()

    def _drop_states(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._doc_path(path))

    # ------------------------------------------------------------------------------ writes

    def _new_temp(self, path: str) -> TempFile:
        with _MapErrors(path, "write", write=True):
            try:
                return TempFile(self._tmp)
            except FileNotFoundError:
                self._restore_private_dirs()  # someone removed .objectstorex: recreate, don't fail
                return TempFile(self._tmp)

    def _restore_private_dirs(self) -> None:
        for d in (self._tmp, self._locks, self._attrs):
            os.makedirs(d, exist_ok=True)

    def _commit(
        self, path: str, temp: TempFile, mode: PutMode, entry: Entry | None, *, must_not_exist: bool = False
    ) -> PutResult:
        """Under the path's lock: check the mode, stamp the mtime, move the temp file into place."""
        segments = self._segments(path)
        with _MapErrors(path, "write", write=True), self._locked(path), temp.lock:
            for attempt in range(3):
                fds = self._parents(segments, create=True)
                try:
                    return self._commit_at(path, fds[-1], segments[-1], temp, mode, entry, must_not_exist)
                except FileNotFoundError as e:
                    # The parent vanished between our walk and the move: a concurrent delete pruned
                    # it while empty. Walk again (recreating it); nothing has landed yet.
                    if isinstance(e, ObjectStoreError) or attempt == 2:
                        raise
                finally:
                    close_all(fds)
        raise AssertionError("unreachable")  # pragma: no cover

    def _commit_at(
        self,
        path: str,
        parent: int,
        name: str,
        temp: TempFile,
        mode: PutMode,
        entry: Entry | None,
        must_not_exist: bool,
    ) -> PutResult:
        current = self._current(path, parent, name)
        if current is not None and (must_not_exist or mode == "create"):
            raise AlreadyExistsError(f"object {path!r} already exists", path=path, provider="local")
        if isinstance(mode, UpdateVersion):
            check_put(mode, None if current is None else _meta(path, current), path=path, provider="local")
        etag = _etag(_stamp(temp.fd, current))
        if self._fsync:
            os.fsync(temp.fd)
        self._stage_states(path, current, etag, entry)
        exclusive = must_not_exist or mode == "create"
        self._move(path, None, temp.path, parent, name, exists=current is not None, create=exclusive)
        temp.path = ""
        if current is not None and entry is None:
            self._drop_states(path)
        if self._fsync:
            os.fsync(parent)
        return PutResult(etag, None)

    def _current(self, path: str, parent: int, name: str) -> os.stat_result | None:
        """The object at ``name`` before a write, refusing what a write must not replace."""
        current = _lstat(name, parent)
        if current is None or stat.S_ISREG(current.st_mode):
            return current
        if stat.S_ISDIR(current.st_mode):
            raise _conflict(path, "it is a prefix of other objects")
        if stat.S_ISLNK(current.st_mode):
            raise _symlink(path, path)
        raise PermissionDeniedError(f"cannot write {path!r}: not a regular file", path=path, provider="local")

    def _stage_states(self, path: str, current: os.stat_result | None, etag: str, entry: Entry | None) -> None:
        """Before the move: record the new state's attributes beside the current state's.

        A reader of either state then finds its own, and a crash before the move changes nothing.
        """
        if entry is None:
            return
        states: dict[str, Entry] = {}
        if current is not None:
            old_etag = _etag(current)
            old = self._states(path).get(old_etag)
            if old is not None:
                states[old_etag] = old
        states[etag] = entry
        self._write_states(path, states)

    def _move(
        self, path: str, src_dir: int | None, src: str, parent: int, name: str, *, exists: bool, create: bool
    ) -> None:
        """Move ``src`` onto ``name`` atomically; an existing file is only replaced if ``exists``."""
        if not exists:
            # A hard link never clobbers: even a writer that ignores our locks cannot be overwritten.
            try:
                os.link(src, name, src_dir_fd=src_dir, dst_dir_fd=parent, follow_symlinks=False)
            except FileExistsError:
                if create:
                    raise AlreadyExistsError(f"object {path!r} already exists", path=path, provider="local") from None
                self._current(path, parent, name)
            except OSError as e:
                if e.errno not in _NO_HARDLINKS:
                    raise
                os.rename(src, name, src_dir_fd=src_dir, dst_dir_fd=parent)  # no hard links here; we hold the lock
                return
            else:
                os.unlink(src, dir_fd=src_dir)
                return
        # Swap, then drop the old data (now at the source name). A rename over an existing file
        # makes ext4 write the new file out first (auto_da_alloc), several times slower; the
        # exchange is just as atomic for readers.
        if exchange(src_dir, src, parent, name):
            os.unlink(src, dir_fd=src_dir)
        else:
            os.replace(src, name, src_dir_fd=src_dir, dst_dir_fd=parent)

    def _put_sync(self, path: str, data: bytes, opts: PutOptions) -> PutResult:
        self._segments(path)
        temp = self._new_temp(path)
        try:
            with _MapErrors(path, "put", write=True):
                write_all(temp.fd, data)
            return self._commit(path, temp, opts.mode, _entry(opts.attributes, opts.tags))
        finally:
            temp.discard()

    async def _put(self, path: str, data: bytes, opts: PutOptions) -> PutResult:
        if opts.progress is None:
            return await run_blocking(self._put_sync, path, data, opts)
        reporter = report_whole(opts.progress, path, len(data))
        result = await run_blocking(self._put_sync, path, data, opts)
        reporter.finish()
        return result

    def _write_chunk(self, path: str, temp: TempFile, chunk: bytes) -> None:
        with _MapErrors(path, "put_stream", write=True):
            temp.write(chunk)

    def _commit_stream(self, path: str, temp: TempFile, opts: PutOptions) -> PutResult:
        try:
            return self._commit(path, temp, opts.mode, _entry(opts.attributes, opts.tags))
        finally:
            temp.discard()

    async def _put_stream(
        self,
        path: str,
        chunks: AsyncIterator[bytes],
        opts: PutOptions,
        part_size: int | None,
        max_concurrency: int | None,
    ) -> PutResult:
        self._segments(path)
        limit = part_size or _STREAM_BUFFER
        reporter = None if opts.progress is None else Reporter(opts.progress, path)
        if reporter is not None:
            chunks = reporter.counted(chunks)
        temp = await run_blocking(self._new_temp, path)
        owned = True
        try:
            # Chunks go to disk as they arrive, gathered up to ``part_size`` (1 MiB by default) so
            # tiny chunks do not cost a worker hop each: memory stays at about one part plus one
            # chunk. The caller's iterable raises through here unchanged.
            pending: list[bytes] = []
            size = 0
            async for chunk in chunks:
                pending.append(chunk)
                size += len(chunk)
                if size >= limit:
                    data, pending, size = b"".join(pending) if len(pending) > 1 else pending[0], [], 0
                    await run_blocking(self._write_chunk, path, temp, data)
            if pending:
                await run_blocking(self._write_chunk, path, temp, b"".join(pending))
            owned = False  # from here the worker call owns the temp file and removes it
            result = await run_blocking(self._commit_stream, path, temp, opts)
            if reporter is not None:
                reporter.finish()
            return result
        finally:
            if owned:
                # Shielded: a cancelled upload still removes its temp file. discard() waits for
                # a write still running in a worker before closing the descriptor.
                await asyncio.shield(run_blocking(temp.discard))

    def _delete_sync(self, path: str, cond: UpdateVersion | None) -> None:
        segments = self._segments(path)
        with _MapErrors(path, "delete", write=True):
            try:
                fds = self._parents(segments, create=False)
            except WalkError as e:
                if e.kind == "symlink":
                    raise
                if cond is not None:
                    check_put(cond, None, path=path, provider="local")
                return
            try:
                with self._locked(path):
                    current = _lstat(segments[-1], fds[-1])
                    if current is not None and stat.S_ISLNK(current.st_mode):
                        raise _symlink(path, path)
                    if current is not None and not stat.S_ISREG(current.st_mode):
                        current = None  # a directory is not an object
                    if cond is not None:
                        check_put(cond, None if current is None else _meta(path, current), path=path, provider="local")
                    if current is None:
                        return
                    try:
                        os.unlink(segments[-1], dir_fd=fds[-1])
                    except FileNotFoundError:
                        return
                    self._drop_states(path)
                self._prune(segments, fds)
            finally:
                close_all(fds)

    def _prune(self, segments: list[str], fds: list[int]) -> None:
        """Remove the now-empty directories of a path, innermost first, up to the root.

        ``fds[k]`` is the directory ``segments[k - 1]``; a concurrent writer that loses its
        directory this way walks again and recreates it.
        """
        for k in range(len(fds) - 1, 0, -1):
            try:
                os.rmdir(segments[k - 1], dir_fd=fds[k - 1])
            except OSError:
                return

    async def _delete(self, path: str, cond: UpdateVersion | None) -> None:
        await run_blocking(self._delete_sync, path, cond)

    def _delete_batch(self, paths: builtins.list[str]) -> dict[str, ObjectStoreError]:
        errors: dict[str, ObjectStoreError] = {}
        for path in paths:
            try:
                self._delete_sync(path, None)
            except ObjectStoreError as e:
                errors[path] = e
        return errors

    async def _delete_many(self, paths: builtins.list[str]) -> dict[str, ObjectStoreError]:
        # Many deletes per worker hop: the hop costs more than an unlink.
        errors: dict[str, ObjectStoreError] = {}
        for i in range(0, len(paths), _DELETE_BATCH):
            errors.update(await run_blocking(self._delete_batch, paths[i : i + _DELETE_BATCH]))
        return errors

    def _copy_sync(self, src: str, dst: str, overwrite: bool) -> None:
        self._segments(dst)
        fd, _, meta = self._open_object(src, _NO_CONDITIONS, "copy")
        try:
            entry = self._entry_for(src, meta.etag or "")
            temp = self._new_temp(dst)
            try:
                with _MapErrors(dst, "copy", write=True):
                    # The open descriptor pins the source: a concurrent replace cannot mix data in.
                    _copy_data(fd, temp.fd, meta.size)
                self._commit(dst, temp, "overwrite", entry, must_not_exist=not overwrite)
            finally:
                temp.discard()
        finally:
            os.close(fd)

    async def _copy(self, src: str, dst: str, *, overwrite: bool, progress: ProgressCallback | None = None) -> None:
        if progress is None:
            await run_blocking(self._copy_sync, src, dst, overwrite)
            return
        reporter = report_whole(progress, dst, (await self._head(src, None)).size)
        await run_blocking(self._copy_sync, src, dst, overwrite)
        reporter.finish()

    def _rename_sync(self, src: str, dst: str, overwrite: bool) -> None:
        src_segments, dst_segments = self._segments(src), self._segments(dst)
        if src == dst:
            self._head_sync(src)
            if not overwrite:
                raise AlreadyExistsError(f"object {dst!r} already exists", path=dst, provider="local")
            return
        with _MapErrors(src, "rename"), self._locked(src, dst):
            src_fds = self._parents(src_segments, create=False)
            try:
                src_parent, src_name = src_fds[-1], src_segments[-1]
                source = _lstat(src_name, src_parent)
                if source is not None and stat.S_ISLNK(source.st_mode):
                    raise _symlink(src, src)
                if source is None or not stat.S_ISREG(source.st_mode):
                    raise NotFoundError(f"rename source {src!r} not found", path=src, provider="local")
                entry = self._entry_for(src, _etag(source))
                with _MapErrors(dst, "rename", write=True):
                    self._rename_into(dst, dst_segments, src_parent, src_name, source, entry, overwrite)
                self._drop_states(src)
                self._prune(src_segments, src_fds)
            finally:
                close_all(src_fds)

    def _rename_into(
        self,
        dst: str,
        segments: list[str],
        src_parent: int,
        src_name: str,
        source: os.stat_result,
        entry: Entry | None,
        overwrite: bool,
    ) -> None:
        fds = self._parents(segments, create=True)
        try:
            parent, name = fds[-1], segments[-1]
            current = self._current(dst, parent, name)
            if current is not None and not overwrite:
                raise AlreadyExistsError(f"object {dst!r} already exists", path=dst, provider="local")
            # A rename is a write at dst: its ETag must differ from every earlier state of dst.
            fd = os.open(src_name, _READ_FLAGS, dir_fd=src_parent)
            try:
                moved = _stamp(fd, current, source)
            finally:
                os.close(fd)
            self._stage_states(dst, current, _etag(moved), entry)
            self._move(dst, src_parent, src_name, parent, name, exists=current is not None, create=not overwrite)
            if current is not None and entry is None:
                self._drop_states(dst)
            if self._fsync:
                os.fsync(parent)
        finally:
            close_all(fds)

    async def _rename(self, src: str, dst: str, *, overwrite: bool) -> None:
        await run_blocking(self._rename_sync, src, dst, overwrite)

    # ------------------------------------------------------------------------------ reads

    def _open_object(
        self, path: str, conditions: GetConditions, operation: str
    ) -> tuple[int, os.stat_result, ObjectMeta]:
        """Open an object's file for reading and check the read conditions on what was opened."""
        segments = self._segments(path)
        with _MapErrors(path, operation):
            fds = self._parents(segments, create=False)
            try:
                fd = os.open(segments[-1], _READ_FLAGS, dir_fd=fds[-1])
            finally:
                close_all(fds)
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    raise NotFoundError(f"object {path!r} not found", path=path, provider="local")
                meta = _meta(path, st)
                if conditions:
                    check_get(conditions, meta, provider="local")
            except BaseException:
                os.close(fd)
                raise
        return fd, st, meta

    def _get_sync(self, path: str, opts: GetOptions, with_attributes: bool = True) -> GetResult:
        fd, st, meta = self._open_object(path, opts.conditions, "get")
        try:
            if opts.range is None:
                start, end = 0, st.st_size
            else:
                start, end = opts.range.resolve(st.st_size, path=path, provider="local")
            with _MapErrors(path, "get"):
                data = pread_exact(fd, end - start, start)
        finally:
            os.close(fd)
        attributes = _attributes(self._entry_for(path, meta.etag or "")) if with_attributes else _NO_ATTRIBUTES
        return GetResult(data, meta, attributes)

    async def _get(self, path: str, opts: GetOptions) -> GetResult:
        result = await run_blocking(self._get_sync, path, opts)
        if opts.progress is not None:
            report_whole(opts.progress, path, len(result.data)).finish()
        return result

    def _get_ranges_sync(self, path: str, ranges: builtins.list[ByteRange]) -> builtins.list[bytes]:
        fd, st, _ = self._open_object(path, _NO_CONDITIONS, "get_ranges")
        try:
            resolved = [r.resolve(st.st_size, path=path, provider="local") for r in ranges]
            with _MapErrors(path, "get_ranges"):
                return [pread_exact(fd, end - start, start) for start, end in resolved]
        finally:
            os.close(fd)

    async def _get_ranges(self, path: str, ranges: builtins.list[ByteRange]) -> builtins.list[bytes]:
        return await run_blocking(self._get_ranges_sync, path, ranges)

    def _open_stream_sync(self, path: str, opts: GetOptions) -> tuple[int, ObjectMeta, int, int]:
        fd, st, meta = self._open_object(path, opts.conditions, "get_stream")
        try:
            if opts.range is None:
                return fd, meta, 0, st.st_size
            start, end = opts.range.resolve(st.st_size, path=path, provider="local")
        except BaseException:
            os.close(fd)
            raise
        return fd, meta, start, end

    async def _open_stream(
        self, path: str, opts: GetOptions, chunk_size: int
    ) -> tuple[ObjectMeta, AsyncIterator[bytes]]:
        fd, meta, start, end = await run_blocking(self._open_stream_sync, path, opts)
        try:
            return meta, _ChunkReader(fd, start, end, chunk_size, path)
        except BaseException:
            os.close(fd)
            raise

    def _head_sync(self, path: str) -> ObjectMeta:
        segments = self._segments(path)
        with _MapErrors(path, "head"):
            fds = self._parents(segments, create=False)
            try:
                st = _lstat(segments[-1], fds[-1])
            finally:
                close_all(fds)
        if st is not None and stat.S_ISLNK(st.st_mode):
            raise _symlink(path, path)
        if st is None or not stat.S_ISREG(st.st_mode):
            raise NotFoundError(f"object {path!r} not found", path=path, provider="local")
        return _meta(path, st)

    async def _head(self, path: str, version: str | None) -> ObjectMeta:
        return await run_blocking(self._head_sync, path)

    def _get_tags_sync(self, path: str) -> dict[str, str]:
        meta = self._head_sync(path)
        entry = self._entry_for(path, meta.etag or "")
        return dict(entry.get("tags") or {}) if entry else {}

    async def _get_tags(self, path: str) -> dict[str, str]:
        return await run_blocking(self._get_tags_sync, path)

    # ------------------------------------------------------------------------------ listing

    def _scan(self, rel: str, offset: str | None) -> deque[tuple[str, str, ObjectMeta | None]]:
        """One directory, sorted so that a depth-first walk yields full paths in code-point order.

        Directories sort by ``name + "/"``: every child of ``a`` starts with ``a/``, and a sibling
        compares with ``a/`` exactly as it compares with each child (``a-c`` < ``a/b``).
        Symlinks and other non-regular files are skipped: a listing never leads outside the root.
        """
        out: list[tuple[str, str, ObjectMeta | None]] = []
        with _MapErrors(rel, "list"):
            try:
                fds = open_dirs(self._root, rel.split("/") if rel else [], flags=LIST_FLAGS)
            except WalkError as e:
                if e.kind == "symlink":
                    raise
                return deque()
            try:
                with os.scandir(fds[-1]) as it:
                    for entry in it:
                        name = entry.name
                        if not rel and name == _RESERVED:
                            continue
                        location = f"{rel}/{name}" if rel else name
                        try:
                            if entry.is_dir(follow_symlinks=False):
                                out.append((name + "/", location, None))
                            elif entry.is_file(follow_symlinks=False):
                                if offset is not None and location <= offset:
                                    continue  # never listed: spare the stat
                                out.append((name, location, _meta(location, entry.stat(follow_symlinks=False))))
                        except FileNotFoundError:
                            continue  # removed while we were scanning
            finally:
                close_all(fds)
        out.sort(key=lambda e: e[0])
        return deque(out)

    def _list_batch(
        self, stack: list[deque[tuple[str, str, ObjectMeta | None]]], offset: str | None
    ) -> list[ObjectMeta]:
        """The next objects of a depth-first walk (several directories per worker hop).

        ``stack`` holds the not-yet-visited entries of each directory on the current branch, so
        memory is bounded by depth x directory width, never by the size of the tree.
        """
        out: list[ObjectMeta] = []
        while stack and len(out) < _LIST_BATCH:
            top = stack[-1]
            if not top:
                stack.pop()
                continue
            _, location, meta = top.popleft()
            if meta is not None:
                out.append(meta)
                continue
            lead = location + "/"
            if offset is not None and lead < offset and not offset.startswith(lead):
                continue  # the whole subtree sorts before the offset
            stack.append(self._scan(location, offset))
        return out

    async def _list(self, prefix: str, offset: str | None) -> AsyncIterator[ObjectMeta]:
        if prefix:
            self._segments(prefix)
        stack = [await run_blocking(self._scan, prefix, offset)]
        while stack:
            for meta in await run_blocking(self._list_batch, stack, offset):
                yield meta

    def _has_object(self, parent: int, name: str) -> bool:
        """Whether the directory ``name`` holds an object at any depth (stops at the first)."""
        try:
            fd = os.open(name, LIST_FLAGS, dir_fd=parent)
        except OSError:
            return False
        try:
            subdirs = []
            with os.scandir(fd) as it:
                for entry in it:
                    if entry.is_file(follow_symlinks=False):
                        return True
                    if entry.is_dir(follow_symlinks=False):
                        subdirs.append(entry.name)
            return any(self._has_object(fd, sub) for sub in subdirs)
        finally:
            os.close(fd)

    def _list_level(self, prefix: str) -> ListResult:
        objects: list[ObjectMeta] = []
        prefixes: list[str] = []
        with _MapErrors(prefix, "list_with_delimiter"):
            try:
                fds = open_dirs(self._root, prefix.split("/") if prefix else [], flags=LIST_FLAGS)
            except WalkError as e:
                if e.kind == "symlink":
                    raise
                return ListResult([], [])
            try:
                for _, location, meta in self._scan(prefix, None):
                    if meta is not None:
                        objects.append(meta)
                    elif self._has_object(fds[-1], location.rpartition("/")[2]):
                        prefixes.append(location)  # an empty directory is no prefix of any object
            finally:
                close_all(fds)
        return ListResult(objects, prefixes)

    async def _list_with_delimiter(self, prefix: str) -> ListResult:
        if prefix:
            self._segments(prefix)
        return await run_blocking(self._list_level, prefix)
