"""Transfer helpers: local files up and down with bounded memory, and whole prefixes between stores.

The helpers boto3 users reach for first, on every objectstorex store::

    import objectstorex as osx

    async with osx.new("s3", bucket="b") as store:
        await osx.upload_file(store, "model.bin", "models/v1/model.bin")
        meta = await osx.download_file(store, "models/v1/model.bin", "copy.bin")
        result = await osx.copy_tree(store, "models/v1", other_store, "backup/models/v1", jobs=32)

- :func:`upload_file` streams a file through ``put_stream`` (multipart/block/resumable upload),
  reading it part by part on a worker thread; a file no larger than one part goes in one ``put``.
- :func:`download_file` fetches a large object as concurrent ranged reads pinned to the ETag it
  started with, into a hidden temporary file beside the target that is renamed into place only
  when complete.
- :func:`copy_tree` copies every object under a prefix to another prefix, in the same store
  (server-side ``copy``) or between any two stores (streamed), a bounded number at a time.

Memory stays bounded whatever the size: about ``part_size * (max_concurrency + 1)`` for an upload,
about ``part_size * max_concurrency`` for a download (``copy_tree``: up to ``jobs`` of those).
Defaults match ``put_stream``'s: 8 MiB parts, 4 in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import secrets
import stat
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

from ._store import Store
from ._types import ObjectMeta, ProgressCallback, ProgressEvent, PutResult
from .errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    InvalidRangeError,
    NotFoundError,
    ObjectStoreError,
    PreconditionError,
)
from .paths import validate_path, validate_prefix
from .preconditions import PutMode, validate_put_mode
from .progress import Reporter

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_JOBS",
    "DEFAULT_PART_SIZE",
    "CopyTreeResult",
    "copy_tree",
    "download_file",
    "upload_file",
]

MIB = 1024 * 1024
#: Default part size of uploads and ranged downloads (``put_stream``'s default).
DEFAULT_PART_SIZE = 8 * MIB
#: Default parts (or ranges) in flight for one transfer (``put_stream``'s default).
DEFAULT_CONCURRENCY = 4
#: Default objects in flight for :func:`copy_tree`.
DEFAULT_JOBS = 16
#: Reads and writes of local files go to a worker thread in blocks of at most this size.
_BLOCK = MIB

#: Keyword arguments of ``put``/``put_stream`` that :func:`upload_file` passes on.
_UPLOAD_OPTIONS = frozenset(
    (
        "content_type",
        "content_disposition",
        "content_encoding",
        "content_language",
        "cache_control",
        "metadata",
        "tags",
        "checksum",
    )
)
#: Attribute names a copy between two stores carries over (where the destination keeps them).
_ATTRIBUTES = ("content_type", "content_disposition", "content_encoding", "content_language", "cache_control")


# ----------------------------------------------------------------------------------- validation


def _positive(name: str, value: object, default: int, path: str | None) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidArgumentError(f"{name} must be a positive int, got {value!r}", path=path)
    return value


def _callback(value: object, path: str | None) -> ProgressCallback | None:
    if value is not None and not callable(value):
        raise InvalidArgumentError("progress must be a callable taking a ProgressEvent", path=path)
    return value


def _local(value: object, path: str | None) -> str:
    try:
        local = os.fspath(value)  # type: ignore[call-overload]
    except TypeError:
        raise InvalidArgumentError(
            f"local_path must be a str or os.PathLike, not {type(value).__name__}", path=path
        ) from None
    if isinstance(local, bytes):
        local = os.fsdecode(local)
    if not local:
        raise InvalidArgumentError("local_path is empty", path=path)
    return str(local)


def _with_total(progress: ProgressCallback, size: int) -> ProgressCallback:
    """``progress`` with ``total`` filled in from the file's size where a stream cannot know it."""

    def report(event: ProgressEvent) -> None:
        if event.total is None:
            event = ProgressEvent(event.path, event.transferred, max(size, event.transferred), event.delta, event.done)
        progress(event)

    return report


# ----------------------------------------------------------------------------------- local files


class _IsADirectory(InvalidArgumentError, IsADirectoryError):
    """A local path that names a directory where a file is needed.

    Both an :class:`~objectstorex.InvalidArgumentError` (bad input, found before any I/O) and
    the ``IsADirectoryError`` the standard library would raise, so either ``except`` works.
    """

    def __reduce__(self) -> tuple[object, ...]:
        # OSError's layout: rebuilt through the constructor (errors cross process pools).
        return (_rebuild_is_a_directory, (self.message, self.filename, self.path))


def _rebuild_is_a_directory(message: str, filename: str | None, path: str | None) -> _IsADirectory:
    return _is_a_directory(message, filename, path)


def _is_a_directory(message: str, filename: str | None, path: str | None) -> _IsADirectory:
    err = _IsADirectory(message, path=path)
    err.errno, err.filename = errno.EISDIR, filename
    return err


def _missing_file(e: FileNotFoundError, local: str) -> NotFoundError:
    """The local file to upload is missing: a NotFoundError, which is also a FileNotFoundError."""
    err = NotFoundError(f"no such local file: {local!r}")
    err.errno, err.filename = errno.ENOENT, e.filename if e.filename is not None else local
    return err


class _LocalFile:
    """A file descriptor read or written at offsets on worker threads, and closed safely.

    A cancelled ``asyncio.to_thread`` call keeps running in its thread: every access holds
    the lock and checks that the descriptor is still open, so a late write can never land in
    a descriptor number the process has reused since.
    """

    __slots__ = ("_fd", "_lock")

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd
        self._lock = threading.Lock()

    def _live(self) -> int:
        if self._fd is None:
            raise OSError(9, "the file was closed (the transfer was cancelled)")
        return self._fd

    def pread(self, size: int, offset: int) -> bytes:
        with self._lock:
            return os.pread(self._live(), size, offset)

    def pwrite(self, data: bytes | memoryview, offset: int) -> None:
        with self._lock:
            fd = self._live()
            view = memoryview(data)
            while view:
                written = os.pwrite(fd, view, offset)
                view = view[written:]
                offset += written

    def fsync(self) -> None:
        with self._lock:
            os.fsync(self._live())

    def close(self) -> None:
        """Close the descriptor (idempotent); waits for an access still running in a thread."""
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def _check_regular(st: os.stat_result, local: str) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise _is_a_directory(f"{local!r} is a directory: name a file to upload", local, None)
    if not stat.S_ISREG(st.st_mode):
        raise InvalidArgumentError(f"{local!r} is not a regular file (a FIFO, device or socket)")


def _open_source(local: str, small: int) -> tuple[_LocalFile, tuple[int, bytes | None]]:
    """The file opened, its size, and its contents when no larger than ``small`` (one worker hop)."""
    # Checked before opening too: opening a FIFO would wait for a writer.
    _check_regular(os.stat(local), local)
    fd = os.open(local, os.O_RDONLY | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        _check_regular(st, local)
    except BaseException:
        os.close(fd)
        raise
    source = _LocalFile(fd)
    if st.st_size > small:
        return source, (st.st_size, None)
    try:
        return source, (st.st_size, _read_all(source, st.st_size))
    finally:
        source.close()


def _temp_name(target: str) -> str:
    directory, name = os.path.split(target)
    # Hidden, unique, and short enough for NAME_MAX whatever the target's name.
    return os.path.join(directory, f".{name[:200]}.{secrets.token_hex(6)}.osx-part")


def _fsync_directory(target: str) -> None:
    fd = os.open(os.path.dirname(target) or ".", os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _open_temp(target: str) -> tuple[_LocalFile, str]:
    directory = os.path.dirname(target)
    if directory:
        os.makedirs(directory, exist_ok=True)
    temp = _temp_name(target)
    # 0o666 less the umask: the finished file gets the permissions of any new file.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    return _LocalFile(fd), temp


async def _opened(opener: Callable[[], tuple[_LocalFile, Any]]) -> tuple[_LocalFile, Any]:
    """``opener()`` on a worker thread; if this task is cancelled meanwhile, the file is still closed.

    (A thread cannot be interrupted: the file it opens after a cancellation is closed, and a
    temporary file removed, when it finishes.)
    """
    opening = asyncio.ensure_future(asyncio.to_thread(opener))
    try:
        return await asyncio.shield(opening)
    except BaseException:
        opening.add_done_callback(_discard_opened)
        raise


def _discard_opened(opening: asyncio.Future[tuple[_LocalFile, Any]]) -> None:
    if opening.cancelled() or opening.exception() is not None:
        return
    file, extra = opening.result()
    if isinstance(extra, str):
        _discard(file, extra)
    else:
        file.close()


def _write_temp(target: str, data: bytes, fsync: bool) -> tuple[_LocalFile, str]:
    """A complete temporary file beside ``target`` holding ``data`` (closed; removed on error)."""
    file, temp = _open_temp(target)
    try:
        file.pwrite(data, 0)
        if fsync:
            file.fsync()
        file.close()
    except BaseException:
        _discard(file, temp)
        raise
    return file, temp


def _place(temp: str, target: str) -> None:
    """Rename the finished temporary file over ``target``; on failure it is removed.

    Called on the event loop, not a worker: a cancellation cannot land between the rename and
    the cleanup (a rename in one directory is a single quick metadata operation).
    """
    try:
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def _discard(file: _LocalFile, temp: str) -> None:
    file.close()
    try:
        os.unlink(temp)
    except FileNotFoundError:
        pass


def _forward(reporter: Reporter) -> ProgressCallback:
    """A ``progress=`` callable for one ranged read that adds its bytes to the whole download's."""

    def report(event: ProgressEvent) -> None:
        if event.delta > 0:
            reporter.add(event.delta)
        elif event.delta < 0:
            reporter.rewind(-event.delta)  # a read cut and read again takes its bytes back

    return report


# ----------------------------------------------------------------------------------- workers


async def _run_workers(count: int, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``count`` copies of ``work`` at once; the first failure cancels the others and is raised.

    On cancellation every worker is cancelled and awaited before this returns.
    """
    tasks: list[asyncio.Task[None]] = [asyncio.create_task(work()) for _ in range(count)]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            task.cancel()
        # Not cancellable: the workers must be gone before the caller cleans up after them.
        await asyncio.shield(asyncio.gather(*tasks, return_exceptions=True))
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


# ----------------------------------------------------------------------------------- upload


async def upload_file(
    store: Store,
    local_path: str | os.PathLike[str],
    path: str,
    *,
    part_size: int | None = None,
    max_concurrency: int | None = None,
    mode: PutMode = "overwrite",
    progress: ProgressCallback | None = None,
    **attributes: Any,
) -> PutResult:
    """Upload a local file to ``path`` with bounded memory.

    A file no larger than ``part_size`` is read whole and written with one ``put``; a larger one
    is read part by part on a worker thread and streamed through ``put_stream`` (multipart,
    block or resumable upload), so memory stays at about ``part_size * (max_concurrency + 1)``.
    Nothing is visible at ``path`` until the upload completes; on any error or cancellation the
    partial upload is aborted (no object, no pending multipart upload).

    Args:
        store: the destination store.
        local_path: the file to read.
        path: the object to write.
        part_size: upload part size in bytes (default 8 MiB; provider minimums apply, e.g. 5 MiB
            on S3).
        max_concurrency: parts uploaded at once (default 4).
        mode: ``"overwrite"``, ``"create"`` or an :class:`~objectstorex.UpdateVersion`, as for ``put``.
        progress: a callable receiving :class:`~objectstorex.ProgressEvent` (``total`` is the
            file's size).
        **attributes: ``content_type``, ``content_disposition``, ``content_encoding``,
            ``content_language``, ``cache_control``, ``metadata``, ``tags`` and ``checksum``,
            as for ``put``.

    Returns:
        The new object's ETag and version.

    Raises:
        NotFoundError: ``local_path`` does not exist (also a ``FileNotFoundError``).
        InvalidArgumentError: ``local_path`` is a directory (also an ``IsADirectoryError``) or
            not a regular file; a bad ``part_size``, ``max_concurrency``, ``mode``, ``progress``
            or attribute name (all before any I/O).
        InvalidPathError: a bad ``path`` (before any I/O).
        AlreadyExistsError: ``mode="create"`` and the object exists.
        PreconditionError: ``mode`` is an ``UpdateVersion`` and the object changed.

    Example::

        result = await osx.upload_file(store, "report.pdf", "reports/2025.pdf",
                                       content_type="application/pdf")
    """
    path = validate_path(path)
    part = _positive("part_size", part_size, DEFAULT_PART_SIZE, path)
    concurrency = _positive("max_concurrency", max_concurrency, DEFAULT_CONCURRENCY, path)
    callback = _callback(progress, path)
    mode = validate_put_mode(mode, path=path)
    unknown = sorted(set(attributes) - _UPLOAD_OPTIONS)
    if unknown:
        raise InvalidArgumentError(f"unknown upload option(s) {unknown}; known: {sorted(_UPLOAD_OPTIONS)}", path=path)
    local = _local(local_path, path)
    try:
        source, (size, whole) = await _opened(lambda: _open_source(local, part))
    except FileNotFoundError as e:
        if isinstance(e, ObjectStoreError):
            raise
        raise _missing_file(e, local) from e
    try:
        if whole is not None:
            return await store.put(path, whole, mode=mode, progress=callback, **attributes)
        chunks = _read_chunks(source, min(part, _BLOCK))
        try:
            return await store.put_stream(
                path,
                chunks,
                part_size=part,
                max_concurrency=concurrency,
                mode=mode,
                progress=None if callback is None else _with_total(callback, size),
                **attributes,
            )
        finally:
            await chunks.aclose()
    finally:
        source.close()


def _read_all(source: _LocalFile, size: int) -> bytes:
    blocks: list[bytes] = []
    offset = 0
    while True:
        # The size seen at open, then small reads to the current end (a file that grew since);
        # never a large buffer for a small file.
        block = source.pread(size - offset if offset < size else 64 * 1024, offset)
        if not block:
            break
        blocks.append(block)
        offset += len(block)
    return blocks[0] if len(blocks) == 1 else b"".join(blocks)


async def _read_chunks(source: _LocalFile, block: int) -> AsyncGenerator[bytes, None]:
    offset = 0
    while True:
        chunk = await asyncio.to_thread(source.pread, block, offset)
        if not chunk:
            return
        offset += len(chunk)
        yield chunk
        del chunk  # not held while the next one is read


# ----------------------------------------------------------------------------------- download


@dataclass(slots=True)
class _Pin:
    """What keeps every ranged read of one download on the same state of the object."""

    meta: ObjectMeta
    options: dict[str, Any]

    @classmethod
    def of(cls, store: Store, meta: ObjectMeta) -> _Pin:
        if meta.etag is not None:
            return cls(meta, {"if_match": meta.etag})
        if meta.version is not None and store.capabilities.versions:
            return cls(meta, {"version": meta.version})
        # No ETag and no version: the best a store offers is "not modified since", checked
        # again below against each answer's modification time and size.
        return cls(meta, {"if_unmodified_since": meta.last_modified})

    def check(self, seen: ObjectMeta, path: str) -> None:
        """Raise if an answer describes another state of the object than the one pinned."""
        first = self.meta
        if first.etag is not None:
            same = seen.etag == first.etag
        elif first.version is not None:
            same = seen.version == first.version
        else:
            same = seen.last_modified == first.last_modified
        if seen.size != first.size:
            same = False
        if not same:
            raise PreconditionError(
                f"object {path!r} changed during the download (it was {_state(first)}, now {_state(seen)})",
                path=path,
            )


def _state(meta: ObjectMeta) -> str:
    if meta.etag is not None:
        return f"etag {meta.etag}"
    if meta.version is not None:
        return f"version {meta.version}"
    return f"{meta.size} bytes modified {meta.last_modified.isoformat()}"


async def download_file(
    store: Store,
    path: str,
    local_path: str | os.PathLike[str],
    *,
    part_size: int | None = None,
    max_concurrency: int | None = None,
    progress: ProgressCallback | None = None,
    fsync: bool = False,
) -> ObjectMeta:
    """Download the object at ``path`` to a local file, atomically.

    The first read streams the object's first part and learns its size and ETag; an object
    larger than ``part_size`` is then fetched as concurrent ranged GETs (``store.get(path,
    range=..., if_match=etag)``, ``max_concurrency`` at a time) pinned to that ETag, so an
    overwrite during the download raises :class:`~objectstorex.PreconditionError` and versions
    never mix. (Where a store reports no ETag, the reads are pinned to the version, or else to
    ``if_unmodified_since`` the first read's modification time, and each answer's time and size
    are compared with the first read's.)

    The bytes go to a hidden temporary file beside the target (same directory, so the rename
    is atomic), which is renamed over ``local_path`` only once complete. A failed or cancelled
    download leaves ``local_path`` untouched and no temporary file. Missing parent directories
    of ``local_path`` are created. Nothing else is preserved (the file's mtime is the time of
    the download). Memory stays at about ``part_size * max_concurrency`` (each range in flight is
    held whole until it is written).

    Args:
        store: the source store.
        path: the object to read.
        local_path: the file to write (replaced if it exists).
        part_size: the size of each ranged read in bytes (default 8 MiB).
        max_concurrency: ranged reads in flight at once (default 4).
        progress: a callable receiving :class:`~objectstorex.ProgressEvent`; the last one
            (``done``) comes after the file is in place.
        fsync: flush the file to stable storage before the rename, and its directory after it.

    Returns:
        The metadata of the object that was downloaded.

    Raises:
        NotFoundError: no object at ``path`` (nothing is written locally).
        PreconditionError: the object was overwritten during the download.
        InvalidArgumentError: ``local_path`` is a directory (also an ``IsADirectoryError``); a bad
            ``part_size``, ``max_concurrency`` or ``progress`` (all before any I/O).
        InvalidPathError: a bad ``path`` (before any I/O).

    Example::

        meta = await osx.download_file(store, "datasets/big.parquet", "/tmp/big.parquet")
    """
    path = validate_path(path)
    part = _positive("part_size", part_size, DEFAULT_PART_SIZE, path)
    concurrency = _positive("max_concurrency", max_concurrency, DEFAULT_CONCURRENCY, path)
    callback = _callback(progress, path)
    target = _local(local_path, path)
    if await asyncio.to_thread(os.path.isdir, target):
        raise _is_a_directory(f"{target!r} is a directory: name the file to write", target, path)
    first = store.get_stream(path, chunk_size=min(part, _BLOCK))
    try:
        await first.open()  # NotFoundError here: nothing local has been touched yet
        pin = _Pin.of(store, first.meta)
        size = pin.meta.size
        reporter = None if callback is None else Reporter(callback, path, size)
        if reporter is not None:
            reporter.start()
        if size <= part:
            # One read, one worker hop to write it: many small files go fast.
            blocks: list[bytes] = []
            async for chunk in first:
                blocks.append(chunk)
                if reporter is not None:
                    reporter.add(len(chunk))
            data = blocks[0] if len(blocks) == 1 else b"".join(blocks)
            if len(data) != size:
                raise PreconditionError(f"object {path!r} changed during the download", path=path)
            del blocks
            _, temp = await _opened(lambda: _write_temp(target, data, fsync))
            _place(temp, target)
            if fsync:
                await asyncio.to_thread(_fsync_directory, target)
            if reporter is not None:
                reporter.finish()
            return pin.meta
        file, temp = await _opened(lambda: _open_temp(target))
    except BaseException:
        await first.aclose()
        raise
    try:
        ranges = iter(range(part, size, part))

        async def head_part() -> None:
            # The first part comes from the read that learnt the size; the connection is then
            # released (the rest of the object comes as ranged reads).
            offset = 0
            try:
                async for chunk in first:
                    take = chunk if offset + len(chunk) <= part else chunk[: part - offset]
                    await asyncio.to_thread(file.pwrite, take, offset)
                    offset += len(take)
                    if reporter is not None:
                        reporter.add(len(take))
                    if offset >= min(part, size):
                        break
            finally:
                await first.aclose()
            if offset < min(part, size):
                raise PreconditionError(f"object {path!r} changed during the download (it ended early)", path=path)

        forward = None if reporter is None else _forward(reporter)

        async def ranged() -> None:
            for start in ranges:
                end = min(start + part, size)
                # A ranged GET with the pin's condition: an overwrite since the first read fails here.
                if pin.meta.etag is not None:
                    data = await store.get(path, range=(start, end), progress=forward, **pin.options)
                else:
                    # No ETag: the time condition may be coarser than the store's clock, so each
                    # answer's metadata is compared with the first read's too.
                    got = await store.get_object(path, range=(start, end), progress=forward, **pin.options)
                    pin.check(got.meta, path)
                    data = got.data
                    del got
                if len(data) != end - start:
                    raise PreconditionError(
                        f"object {path!r} changed during the download (a range was short)", path=path
                    )
                await asyncio.to_thread(file.pwrite, data, start)
                del data  # not held while the next range is read

        started = False

        async def worker() -> None:
            nonlocal started
            if not started:
                started = True
                await head_part()
            await ranged()

        workers = 1 if size <= part else min(concurrency, 1 + (size - part + part - 1) // part)
        await _run_workers(workers, worker)
        if fsync:
            await asyncio.to_thread(file.fsync)
        file.close()
        _place(temp, target)
    except BaseException:
        # Synchronous on purpose: cleanup must run even when this task is being cancelled.
        _discard(file, temp)
        raise
    finally:
        # A worker cancelled before it ran never closed the first read (idempotent otherwise).
        await first.aclose()
    if fsync:
        await asyncio.to_thread(_fsync_directory, target)  # the rename itself, made durable
    if reporter is not None:
        reporter.finish()
    return pin.meta


# ----------------------------------------------------------------------------------- copy_tree


@dataclass(slots=True)
class CopyTreeResult:
    """What :func:`copy_tree` did, object by object (destination paths, sorted).

    Attributes:
        copied: the destination paths written.
        skipped: destination paths that existed already (``mode="create"``), left as they were.
        failed: destination path -> the error that stopped its copy (after every object was tried).
        bytes: the bytes copied (sum of the sizes of the objects in ``copied``).
    """

    copied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, ObjectStoreError] = field(default_factory=dict)
    bytes: int = 0

    @property
    def ok(self) -> bool:
        """True when no object failed."""
        return not self.failed


def _overlap(a: str, b: str) -> bool:
    """Whether one prefix is within the other (whole segments; ``""`` is the root)."""
    return not a or not b or a == b or a.startswith(b + "/") or b.startswith(a + "/")


async def copy_tree(
    src_store: Store,
    src_prefix: str | None,
    dst_store: Store,
    dst_prefix: str | None,
    *,
    jobs: int = DEFAULT_JOBS,
    mode: Literal["overwrite", "create"] = "overwrite",
    part_size: int | None = None,
    max_concurrency: int | None = None,
    progress: ProgressCallback | None = None,
    include: Callable[[ObjectMeta], bool] | None = None,
) -> CopyTreeResult:
    """Copy every object under ``src_prefix`` to ``dst_prefix``, keeping each relative key.

    ``src_prefix`` follows the listing rules: whole segments (``"a/b"`` copies ``a/b/x`` to
    ``<dst_prefix>/x`` but never ``a/bc`` nor the object ``a/b`` itself); ``None`` or ``""`` is
    the root. At most ``jobs`` objects are copied at once.

    - Same store object (``src_store is dst_store``): each object is copied server-side with
      ``copy`` (attributes, metadata and tags as the provider copies them).
    - Two stores: an object no larger than ``part_size`` is read with one ``get_object`` and
      written with one ``put``; a larger one is streamed (its first part read with its
      attributes, the rest as a stream pinned to the same ETag) through ``put_stream``. Content
      attributes and user metadata are kept where the destination keeps them; tags are not copied.

    Failures of single objects are collected in the result (never raised) after every object
    was tried; a failure to list the source, or an exception from ``progress`` or ``include``,
    aborts the whole copy.

    Args:
        src_store: the store to read.
        src_prefix: the prefix to copy (``None``/``""``: the whole store).
        dst_store: the store to write (may be ``src_store``).
        dst_prefix: where the relative keys go (``None``/``""``: the root).
        jobs: objects in flight at once (default 16).
        mode: ``"overwrite"`` (default) or ``"create"``: an existing destination is left as it is
            and reported in ``skipped`` (checked with ``head`` first, then written create-only
            where the store can, so a concurrent writer is not clobbered either).
        part_size: part size of streamed copies and the largest object copied in one request
            (default 8 MiB).
        max_concurrency: parts in flight per streamed copy (default 4).
        progress: a callable receiving the :class:`~objectstorex.ProgressEvent` of each object's
            copy (``event.path`` is the destination path; each object has its own first and
            ``done`` events).
        include: a predicate on each source object's metadata; objects for which it returns
            false are not copied (nor reported).

    Returns:
        A :class:`CopyTreeResult`.

    Raises:
        InvalidArgumentError: a bad option, or the same store and prefix as source and
            destination (before any I/O).
        InvalidPathError: a bad prefix (before any I/O).

    Example::

        result = await osx.copy_tree(s3, "logs/2025", gcs, "archive/logs/2025", jobs=32)
        for path, error in result.failed.items():
            print(path, error)
    """
    src_root = validate_prefix(src_prefix)
    dst_root = validate_prefix(dst_prefix)
    n_jobs = _positive("jobs", jobs, DEFAULT_JOBS, None)
    part = _positive("part_size", part_size, DEFAULT_PART_SIZE, None)
    concurrency = _positive("max_concurrency", max_concurrency, DEFAULT_CONCURRENCY, None)
    callback = _callback(progress, None)
    if mode not in ("overwrite", "create"):
        raise InvalidArgumentError(f"mode must be 'overwrite' or 'create', got {mode!r}")
    if include is not None and not callable(include):
        raise InvalidArgumentError("include must be a callable taking an ObjectMeta")
    same = src_store is dst_store
    if same and src_root == dst_root:
        raise InvalidArgumentError(
            f"copy_tree from {src_root!r} onto itself in the same store would copy every object onto itself"
        )
    result = CopyTreeResult()
    cut = len(src_root) + 1 if src_root else 0

    def destination(location: str) -> str:
        relative = location[cut:]
        return f"{dst_root}/{relative}" if dst_root else relative

    async def copy_one(meta: ObjectMeta) -> None:
        dst = destination(meta.location)
        try:
            if mode == "create" and await _exists(dst_store, dst):
                result.skipped.append(dst)
                return
            if same:
                await _copy_server_side(src_store, meta.location, dst, meta.size, mode, callback)
                size = meta.size
            else:
                size = await _copy_across(src_store, meta, dst_store, dst, mode, part, concurrency, callback)
        except AlreadyExistsError:
            result.skipped.append(dst)
            return
        except ObjectStoreError as e:
            result.failed[dst] = e
            return
        result.copied.append(dst)
        result.bytes += size

    # Two store objects with the same repr (provider, bucket, endpoint, prefix; never a secret)
    # are taken for the same place too.
    alike = same or repr(src_store) == repr(dst_store)
    if alike and _overlap(src_root, dst_root):
        # Copies land under the prefix being listed: list it all first, so none is copied twice.
        listed: list[ObjectMeta] = [meta async for meta in src_store.list(src_root or None)]
        source: AsyncIterator[ObjectMeta] = _aiter(listed)
    else:
        source = src_store.list(src_root or None)
    lock = asyncio.Lock()
    exhausted = False

    async def next_object() -> ObjectMeta | None:
        nonlocal exhausted
        async with lock:  # one listing, shared by every worker
            while not exhausted:
                try:
                    meta = await anext(source)
                except StopAsyncIteration:
                    exhausted = True
                    break
                if include is None or include(meta):
                    return meta
            return None

    async def worker() -> None:
        while (meta := await next_object()) is not None:
            await copy_one(meta)

    try:
        await _run_workers(n_jobs, worker)
    finally:
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()
    result.copied.sort()
    result.skipped.sort()
    result.failed = dict(sorted(result.failed.items()))
    return result


async def _aiter(items: list[ObjectMeta]) -> AsyncIterator[ObjectMeta]:
    for item in items:
        yield item


async def _exists(store: Store, path: str) -> bool:
    try:
        await store.head(path)
    except NotFoundError:
        return False
    return True


async def _copy_server_side(
    store: Store, src: str, dst: str, size: int, mode: str, progress: ProgressCallback | None
) -> None:
    if mode == "create" and store.capabilities.copy_if_not_exists:
        # Atomic: a concurrent writer is never clobbered. It reports no progress of its own:
        # the object's events (first and done) come from here.
        reporter = None if progress is None else Reporter(progress, dst, size)
        if reporter is not None:
            reporter.start()
        await store.copy_if_not_exists(src, dst)
        if reporter is not None:
            reporter.add(size)
            reporter.finish()
    else:
        await store.copy(src, dst, progress=progress)


def _kept_attributes(dst_store: Store, attributes: Any) -> dict[str, Any]:
    kept = dst_store.capabilities.attributes
    out: dict[str, Any] = {name: getattr(attributes, name) for name in _ATTRIBUTES if name in kept}
    if "metadata" in kept and attributes.metadata:
        out["metadata"] = dict(attributes.metadata)
    return {k: v for k, v in out.items() if v is not None}


async def _copy_across(
    src_store: Store,
    meta: ObjectMeta,
    dst_store: Store,
    dst: str,
    mode: str,
    part: int,
    concurrency: int,
    progress: ProgressCallback | None,
) -> int:
    """Copy one object between two stores; returns its size."""
    src = meta.location
    put_mode: PutMode = "create" if mode == "create" else "overwrite"
    if meta.size == 0:
        got = await src_store.get_object(src)
    else:
        try:
            got = await src_store.get_object(src, range=(0, part))
        except InvalidRangeError:
            got = await src_store.get_object(src)  # emptied since it was listed
    attrs = _kept_attributes(dst_store, got.attributes)
    size = got.meta.size
    if len(got.data) >= size:
        await dst_store.put(dst, got.data, mode=put_mode, progress=progress, **attrs)
        return size
    pin = _Pin.of(src_store, got.meta)
    head = got.data
    del got

    async def chunks() -> AsyncGenerator[bytes, None]:
        yield head
        async with src_store.get_stream(src, range=(len(head), None), chunk_size=_BLOCK, **pin.options) as rest:
            pin.check(rest.meta, src)
            async for chunk in rest:
                yield chunk

    stream = chunks()
    try:
        await dst_store.put_stream(
            dst,
            stream,
            part_size=part,
            max_concurrency=concurrency,
            mode=put_mode,
            progress=None if progress is None else _with_total(progress, size),
            **attrs,
        )
    finally:
        await stream.aclose()
    return size
