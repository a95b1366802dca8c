"""The commands that write: ``cp``, ``mv``, ``rm`` and ``sync``.

Every copy goes through :func:`transfer`, which picks the way for each pair of places:

- within one store: a server-side ``copy`` (``copy_if_not_exists`` with ``--no-clobber``);
- local file -> store: :func:`objectstorex.upload_file` (one ``put`` for a file up to one part,
  else a multipart upload that is aborted on failure or Ctrl-C);
- store -> local file: :func:`objectstorex.download_file` (concurrent ranges pinned to one
  ETag, into a hidden temporary file renamed into place);
- store -> another store: one ``get_object`` + ``put`` up to one part (attributes kept where the
  destination keeps them), else a stream pinned to the ETag through ``put_stream``;
- local -> local: a copy into a temporary file renamed into place;
- ``-`` (stdin) -> anywhere, anywhere -> ``-`` (stdout).

``--no-clobber`` writes create-only (``mode="create"``; locally a hard link that cannot replace
an existing file): a destination that exists is left alone and named on stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import mimetypes
import os
import re
import secrets
import shutil
import stat
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from .._store import BaseStore
from .._types import ProgressCallback
from ..errors import AlreadyExistsError, NotFoundError, NotSupportedError, ObjectStoreError
from ..transfer import DEFAULT_PART_SIZE, download_file, upload_file
from ._expand import expand, literal_path
from ._output import Output, Progress
from ._read import copy_to_stdout
from ._run import Run
from ._sides import Entry, FsSide, Side, StoreSide, join
from ._urls import Location, UsageProblem
from ._wildcards import has_wildcard

__all__ = ["Job", "TransferFlags", "cp", "pool", "rm", "sync"]

T = TypeVar("T")
_BLOCK = 1024 * 1024
_DELETE_BATCH = 1000
#: Ranged reads of a download, unless ``--part-size``: a range's size costs no memory (it is
#: read in 1 MiB chunks) but requests; larger ones made aiohttp buffer more (64 MiB: ~240 MiB RSS).
_DOWNLOAD_PART = 32 * 1024 * 1024
#: Files and objects up to this size are read and written inline (no worker thread).
_INLINE = 256 * 1024
_MD5 = re.compile(r"[0-9a-f]{32}")
_ATTRIBUTE_NAMES = ("content_type", "content_disposition", "content_encoding", "content_language", "cache_control")


@dataclass(frozen=True)
class TransferFlags:
    """How a command moves bytes.

    Attributes:
        jobs: objects in flight at once (``-j``).
        part_size: part size of multipart transfers, and the largest object moved in one request.
        part_concurrency: parts in flight per object.
        no_clobber: create-only writes: existing destinations are skipped.
    """

    jobs: int = 32
    part_size: int | None = None
    part_concurrency: int | None = None
    no_clobber: bool = False

    @property
    def single_request_limit(self) -> int:
        """Objects up to this size move in one request."""
        return self.part_size or DEFAULT_PART_SIZE


@dataclass(frozen=True)
class Job:
    """One object to copy (or move).

    Attributes:
        src: where it is.
        entry: the object (``None`` for stdin).
        dst: where it goes.
        dst_key: its path (or local path) there.
    """

    src: Side | None
    entry: Entry | None
    dst: Side | None
    dst_key: str

    def describe(self) -> str:
        """``src -> dst`` for messages."""
        src = "-" if self.src is None or self.entry is None else self.src.display(self.entry.key)
        dst = "-" if self.dst is None else self.dst.display(self.dst_key)
        return f"{src} -> {dst}"


async def pool(items: Sequence[T], jobs: int, work: Callable[[T], Awaitable[None]]) -> None:
    """Run ``work`` on every item, ``jobs`` at a time (``work`` reports its own failures).

    Cancelling the caller cancels every running ``work`` (their uploads are aborted) and waits
    for them.
    """
    it = iter(items)

    async def worker() -> None:
        for item in it:  # one shared iterator: each item is taken once
            await work(item)

    count = max(1, min(jobs, len(items)))
    await asyncio.gather(*(worker() for _ in range(count)))


# ------------------------------------------------------------------------------------- one object


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def _temp_beside(target: str) -> str:
    directory, name = os.path.split(target)
    return os.path.join(directory, f".{name[:200]}.{secrets.token_hex(6)}.osx-part")


def _place(temp: str, target: str, *, no_clobber: bool) -> bool:
    """Move a finished temporary file to ``target``; ``False`` if ``no_clobber`` and it exists."""
    try:
        if no_clobber:
            try:
                os.link(temp, target)  # never replaces an existing file
            except FileExistsError:
                return False
        else:
            os.replace(temp, target)
            return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    return True


def _set_mtime(path: str, when: datetime) -> None:
    ts = when.timestamp()
    with contextlib.suppress(OSError):
        os.utime(path, (ts, ts))


def _copy_local(src: str, target: str, *, no_clobber: bool) -> bool:
    directory = os.path.dirname(target)
    if directory:
        os.makedirs(directory, exist_ok=True)
    temp = _temp_beside(target)
    try:
        shutil.copyfile(src, temp)
        os.chmod(temp, 0o666 & ~_UMASK)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return _place(temp, target, no_clobber=no_clobber)


def _content_type(local_path: str) -> dict[str, Any]:
    guessed, encoding = mimetypes.guess_type(local_path, strict=False)
    if guessed is None or encoding is not None:
        return {}  # .gz and friends: don't claim a type the bytes don't have
    return {"content_type": guessed}


async def _stdin_chunks() -> AsyncIterator[bytes]:
    """Stdin in chunks; a pipe is read without a thread, so Ctrl-C is never stuck behind a read."""
    fd = sys.stdin.fileno()
    if stat.S_ISREG(os.fstat(fd).st_mode):  # a file: a thread's read never blocks for long
        while block := await asyncio.to_thread(os.read, fd, _BLOCK):
            yield block
        return
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2 * _BLOCK, loop=loop)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader, loop=loop), os.fdopen(os.dup(fd), "rb", buffering=0)
    )
    try:
        while block := await reader.read(_BLOCK):
            yield block
    finally:
        transport.close()


async def _write_local_stream(chunks: AsyncIterator[bytes], target: str, *, no_clobber: bool) -> bool:
    directory = os.path.dirname(target)
    if directory:
        await asyncio.to_thread(os.makedirs, directory, exist_ok=True)
    temp = _temp_beside(target)
    fd = await asyncio.to_thread(os.open, temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        try:
            async for chunk in chunks:
                view = memoryview(chunk)
                while view:
                    view = view[await asyncio.to_thread(os.write, fd, view) :]
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return await asyncio.to_thread(_place, temp, target, no_clobber=no_clobber)


async def _between_stores(
    src: BaseStore,
    entry: Entry,
    dst: BaseStore,
    key: str,
    flags: TransferFlags,
    mode: Literal["overwrite", "create"],
    progress: ProgressCallback | None,
) -> None:
    if entry.size <= flags.single_request_limit:
        got = await src.get_object(entry.key)
        kept = dst.capabilities.attributes
        attributes: dict[str, Any] = {
            n: getattr(got.attributes, n) for n in _ATTRIBUTE_NAMES if n in kept and getattr(got.attributes, n)
        }
        if "metadata" in kept and got.attributes.metadata:
            attributes["metadata"] = dict(got.attributes.metadata)
        await dst.put(key, got.data, mode=mode, progress=progress, **attributes)
        return
    pin: dict[str, Any] = {"if_match": entry.etag} if entry.etag else {}
    async with src.get_stream(entry.key, chunk_size=_BLOCK, **pin) as stream:
        await dst.put_stream(
            key,
            stream,
            part_size=flags.part_size,
            max_concurrency=flags.part_concurrency,
            mode=mode,
            progress=progress,
        )


async def transfer(job: Job, flags: TransferFlags, progress: Progress, out: Output, *, move: bool = False) -> bool:
    """Copy (or move) one object; ``False`` when ``--no-clobber`` found the destination in place.

    Raises:
        ObjectStoreError, OSError: the copy failed (nothing partial is left at the destination).
    """
    src, entry, dst, key = job.src, job.entry, job.dst, job.dst_key
    mode: Literal["overwrite", "create"] = "create" if flags.no_clobber else "overwrite"
    callback = progress.callback()
    if src is None:  # stdin
        if isinstance(dst, StoreSide):
            try:
                await dst.store.put_stream(
                    key,
                    _stdin_chunks(),
                    part_size=flags.part_size,
                    max_concurrency=flags.part_concurrency,
                    mode=mode,
                    progress=callback,
                )
            except AlreadyExistsError:
                return False
            return True
        return await _write_local_stream(_stdin_chunks(), key, no_clobber=flags.no_clobber)
    assert entry is not None
    if dst is None:  # stdout
        progress.advance(await copy_to_stdout(out, src, entry.key, None))
        if move:
            await _delete_source(src, entry.key)
        return True
    try:
        if isinstance(src, StoreSide) and isinstance(dst, StoreSide):
            if src.store is dst.store:
                if entry.key == key:
                    raise ValueError(f"{src.display(key)} is both the source and the destination")
                await _within_store(src.store, entry.key, key, flags.no_clobber, move, callback, flags, entry)
                return True
            await _between_stores(src.store, entry, dst.store, key, flags, mode, callback)
        elif isinstance(dst, StoreSide) and entry.size <= _INLINE:  # a small local file -> store
            data = _read_small(entry.key)
            await dst.store.put(key, data, mode=mode, progress=callback, **_content_type(entry.key))
        elif isinstance(dst, StoreSide):  # local file -> store
            await upload_file(
                dst.store,
                entry.key,
                key,
                part_size=flags.part_size,
                max_concurrency=flags.part_concurrency,
                mode=mode,
                progress=callback,
                **_content_type(entry.key),
            )
        elif isinstance(src, StoreSide):  # store -> local file
            if not await _download(src.store, entry, key, flags, callback):
                return False
        else:  # local -> local
            if await asyncio.to_thread(_same_file, entry.key, key):
                raise ValueError(f"{key} is both the source and the destination")
            if move and not flags.no_clobber:
                with contextlib.suppress(OSError):
                    await asyncio.to_thread(_rename_local, entry.key, key)
                    return True
            if not await asyncio.to_thread(_copy_local, entry.key, key, no_clobber=flags.no_clobber):
                return False
            progress.advance(entry.size)
    except AlreadyExistsError:
        return False
    if move:
        await _delete_source(src, entry.key)
    return True


def _read_small(path: str) -> bytes:
    # Inline, not on a thread: for a few KiB from the page cache, a thread hop costs more than
    # the read (and the GIL hand-offs add up over thousands of files).
    with open(path, "rb") as f:
        return f.read()


def _write_small(target: str, data: bytes, when: datetime, *, no_clobber: bool) -> bool:
    """Write a small download beside ``target`` and move it into place (inline, as :func:`_read_small`)."""
    directory = os.path.dirname(target)
    if directory:
        os.makedirs(directory, exist_ok=True)
    if os.path.isdir(target):
        raise IsADirectoryError(21, "is a directory: name the file to write", target)
    temp = _temp_beside(target)
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        _set_mtime(temp, when)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return _place(temp, target, no_clobber=no_clobber)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False  # the destination does not exist yet


def _rename_local(src: str, target: str) -> None:
    directory = os.path.dirname(target)
    if directory:
        os.makedirs(directory, exist_ok=True)
    os.replace(src, target)


async def _within_store(
    store: BaseStore,
    src: str,
    dst: str,
    no_clobber: bool,
    move: bool,
    progress: ProgressCallback | None,
    flags: TransferFlags,
    entry: Entry,
) -> None:
    if not no_clobber:
        if move:
            await store.rename(src, dst)
        else:
            await store.copy(src, dst, progress=progress)
        return
    try:
        if move:
            await store.rename_if_not_exists(src, dst)
        else:
            await store.copy_if_not_exists(src, dst)
    except NotSupportedError:
        # No atomic server-side create here: a create-only write of the bytes instead.
        await _between_stores(store, entry, store, dst, flags, "create", progress)
        if move:
            await store.delete(src)


async def _download(
    store: BaseStore, entry: Entry, target: str, flags: TransferFlags, progress: ProgressCallback | None
) -> bool:
    if flags.no_clobber and await asyncio.to_thread(os.path.lexists, target):
        return False
    if entry.size <= _INLINE:
        data = await store.get(entry.key, progress=progress)
        return _write_small(target, data, entry.last_modified, no_clobber=flags.no_clobber)
    into = _temp_beside(target) if flags.no_clobber else target
    try:
        meta = await download_file(
            store,
            entry.key,
            into,
            part_size=flags.part_size or _DOWNLOAD_PART,
            max_concurrency=flags.part_concurrency,
            progress=progress,
        )
        # The object's time, as `aws s3 cp` does: a later sync compares equal, not "newer".
        await asyncio.to_thread(_set_mtime, into, meta.last_modified)
    except BaseException:
        if into != target:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(into)
        raise
    if into != target:
        return await asyncio.to_thread(_place, into, target, no_clobber=True)
    return True


async def _delete_source(side: Side, key: str) -> None:
    if isinstance(side, StoreSide):
        await side.store.delete(key)
    else:
        await asyncio.to_thread(os.unlink, key)


# ------------------------------------------------------------------------------------- cp / mv


def _dst_dir(loc: Location) -> str:
    """A destination location as a directory to put names under."""
    path = literal_path(loc)
    return path.rstrip("/") if loc.kind == "store" else path


async def _plan_copies(
    run: Run, sources: list[Location], dst_loc: Location, *, recursive: bool
) -> tuple[list[Job], int]:
    """The copies ``cp SOURCES... DEST`` makes, and how many sources named nothing."""
    if dst_loc.kind != "stdio" and has_wildcard(dst_loc.path):
        raise UsageProblem(f"the destination cannot have wildcards: {dst_loc.text}")
    for loc in sources:
        if loc.kind == "stdio" and len(sources) > 1:
            raise UsageProblem("'-' (stdin) must be the only source")
    if sources[0].kind == "stdio":
        if dst_loc.kind == "stdio":
            raise UsageProblem("copying stdin to stdout: use cat")
        if dst_loc.is_dir or (dst_loc.kind == "fs" and await asyncio.to_thread(os.path.isdir, dst_loc.path)):
            raise UsageProblem(f"name the object to write from stdin, not a directory: {dst_loc.text}")
        (stdin_dst,) = await run.open(dst_loc)
        return [Job(None, None, stdin_dst, literal_path(dst_loc))], 0
    dst_side: Side | None = None if dst_loc.kind == "stdio" else (await run.open(dst_loc))[0]
    src_sides = await run.open(*sources)
    jobs: list[Job] = []
    missing = 0
    dst_is_dir = dst_loc.kind != "stdio" and (
        dst_loc.is_dir or (dst_loc.kind == "fs" and await asyncio.to_thread(os.path.isdir, dst_loc.path))
    )
    for loc, side in zip(sources, src_sides, strict=True):
        tree = recursive or has_wildcard(loc.path)
        try:
            matches = await expand(side, loc, recursive=recursive)
        except IsADirectoryError:
            run.fail(f"cp {loc.text}", UsageProblem("is a directory (add -r to copy what is in it)"))
            continue
        except (ObjectStoreError, OSError) as e:
            run.fail(f"cp {loc.text}", e)
            continue
        if not matches:
            run.no_match(loc.text)
            missing += 1
            continue
        for m in matches:
            if dst_side is None:
                if len(matches) > 1 or len(sources) > 1:
                    raise UsageProblem("only one object can be copied to stdout ('-')")
                jobs.append(Job(side, m.entry, None, "-"))
            elif tree or len(sources) > 1 or dst_is_dir:
                jobs.append(Job(side, m.entry, dst_side, join(_dst_dir(dst_loc), m.rel)))
            else:
                jobs.append(Job(side, m.entry, dst_side, literal_path(dst_loc)))
    return jobs, missing


async def run_transfers(run: Run, jobs: list[Job], flags: TransferFlags, *, move: bool, verb: str) -> list[Job]:
    """Run the copies ``jobs`` at a time; the ones that completed (skips and failures reported)."""
    sizes = [j.entry.size for j in jobs if j.entry is not None]
    progress = run.out.progress(total_bytes=sum(sizes) if len(sizes) == len(jobs) else None, total_objects=len(jobs))
    done: list[Job] = []

    async def one(job: Job) -> None:
        try:
            if await transfer(job, flags, progress, run.out, move=move):
                done.append(job)
            else:
                run.out.notice(f"skipped (exists): {job.dst.display(job.dst_key) if job.dst else '-'}")
        except (ObjectStoreError, OSError, ValueError) as e:
            run.fail(f"{verb} {job.describe()}", e)
        finally:
            progress.object_done()

    try:
        await pool(jobs, flags.jobs, one)
    finally:
        progress.close()
    return done


async def cp(
    run: Run, sources: list[Location], dst_loc: Location, flags: TransferFlags, *, recursive: bool, move: bool
) -> None:
    """Copy (or move) objects between any two places."""
    jobs, _ = await _plan_copies(run, sources, dst_loc, recursive=recursive)
    if len({j.dst_key for j in jobs if j.dst is not None}) < sum(1 for j in jobs if j.dst is not None):
        raise UsageProblem("several sources would be copied to the same destination name")
    await run_transfers(run, jobs, flags, move=move, verb="mv" if move else "cp")
    if move:
        # A moved local directory leaves empty directories behind: remove them.
        for loc in sources:
            if recursive and loc.kind == "fs" and not has_wildcard(loc.path):
                await FsSide(loc).prune(literal_path(loc))


# ------------------------------------------------------------------------------------- rm


def _batches(keys: list[str], size: int) -> list[list[str]]:
    return [keys[i : i + size] for i in range(0, len(keys), size)]


async def _delete(run: Run, side: Side, keys: list[str], jobs: int, *, whole: str, each: str) -> None:
    """Delete ``keys`` in batches through ``delete_many``, ``jobs`` batches at a time.

    A batch that fails as a whole is reported as ``whole``; each path that failed on its own as
    ``each`` followed by the path.
    """

    async def batch_of(batch: list[str]) -> None:
        try:
            errors = await side.delete_many(batch)
        except (ObjectStoreError, OSError) as e:
            run.fail(whole, e)
            return
        for key, error in errors.items():
            run.fail(f"{each} {side.display(key)}", error)

    await pool(_batches(keys, _DELETE_BATCH), jobs, batch_of)


async def rm(run: Run, locations: list[Location], *, recursive: bool, jobs: int) -> None:
    """Delete objects: literal paths (a missing one is fine), prefixes (``-r``), wildcards (no match: exit 3)."""
    sides = await run.open(*locations)
    for loc, side in zip(locations, sides, strict=True):
        keys: list[str]
        if has_wildcard(loc.path) or recursive:
            try:
                matches = await expand(side, loc, recursive=recursive)
            except NotFoundError:
                matches = []  # a missing literal path: deleting it is a no-op
            except (ObjectStoreError, OSError) as e:
                run.fail(f"rm {loc.text}", e)
                continue
            if not matches and has_wildcard(loc.path):
                run.no_match(loc.text)
                continue
            keys = [m.entry.key for m in matches]
        else:
            if loc.is_dir and loc.kind == "store":
                raise UsageProblem(f"{loc.text} is a prefix: add -r to delete what is under it")
            path = literal_path(loc)
            if side.kind == "fs" and await asyncio.to_thread(os.path.isdir, path):
                run.fail(f"rm {loc.text}", IsADirectoryError(21, "is a directory (add -r)", path))
                continue
            keys = [path]

        await _delete(run, side, keys, jobs, whole=f"rm {loc.text}", each="rm")
        if recursive and isinstance(side, FsSide) and not has_wildcard(loc.path):
            await side.prune(literal_path(loc))


# ------------------------------------------------------------------------------------- sync


async def _md5_of(side: Side, entry: Entry) -> str:
    """The MD5 of an object's bytes: an S3 single-part ETag is one; otherwise the bytes are read."""
    if isinstance(side, StoreSide):
        etag = (entry.etag or "").strip('"').lower()
        if side.location.provider == "s3" and _MD5.fullmatch(etag):
            return etag
        digest = hashlib.md5(usedforsecurity=False)
        async with side.store.get_stream(entry.key, chunk_size=_BLOCK) as stream:
            async for chunk in stream:
                digest.update(chunk)
        return digest.hexdigest()
    return await asyncio.to_thread(_md5_file, entry.key)


def _md5_file(path: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _newer(a: datetime, b: datetime) -> bool:
    """Whether ``a`` is later than ``b`` in whole seconds.

    S3 and HTTP dates drop the fraction of a second a local file's time has: a file is not
    "newer" than its own copy made in the same second.
    """
    return math.floor(a.timestamp()) > math.floor(b.timestamp())


async def _listing(side: Side, base: str) -> dict[str, Entry]:
    return {side.relative(e.key, base): e async for e in side.walk(base)}


async def sync(
    run: Run,
    src_loc: Location,
    dst_loc: Location,
    flags: TransferFlags,
    *,
    checksum: bool,
    delete: bool,
    dry_run: bool,
) -> None:
    """Make ``dst`` hold what ``src`` holds.

    Copies what is missing, of another size, or newer (``--checksum``: of other content); with
    ``--delete``, deletes what ``src`` does not have.
    """
    for loc in (src_loc, dst_loc):
        if loc.kind == "stdio":
            raise UsageProblem("sync works on directories and prefixes, not '-'")
        if has_wildcard(loc.path):
            raise UsageProblem(f"sync takes no wildcards: {loc.text}")
    src, dst = await run.open(src_loc, dst_loc)
    src_base, dst_base = _dst_dir(src_loc), _dst_dir(dst_loc)
    if src_loc.kind == "fs" and await asyncio.to_thread(os.path.isfile, src_base):
        raise UsageProblem(f"sync copies directories and prefixes; {src_loc.text} is a file (use cp)")
    src_entries, dst_entries = await asyncio.gather(_listing(src, src_base), _listing(dst, dst_base))
    if not src_entries and not (src_loc.kind == "fs" and await asyncio.to_thread(os.path.isdir, src_base or ".")):
        run.no_match(src_loc.text)  # a mistyped source never empties the destination
        return
    candidates: list[tuple[str, Entry, Entry | None]] = []
    for rel, entry in src_entries.items():
        other = dst_entries.get(rel)
        if other is None or other.size != entry.size:
            candidates.append((rel, entry, other))
        elif not checksum and _newer(entry.last_modified, other.last_modified):
            candidates.append((rel, entry, other))
        elif checksum:
            candidates.append((rel, entry, other))
    if checksum:
        candidates = await _differing(run, src, dst, candidates, flags.jobs)
    jobs = [Job(src, entry, dst, join(dst_base, rel)) for rel, entry, _ in candidates]
    stale = sorted(e.key for rel, e in dst_entries.items() if rel not in src_entries) if delete else []
    if dry_run:
        for job in jobs:
            run.out.line(f"copy {job.describe()}")
        for key in stale:
            run.out.line(f"delete {dst.display(key)}")
        return
    failures_before = run.failures
    await run_transfers(run, jobs, flags, move=False, verb="sync")
    if not stale:
        return
    if run.failures > failures_before:
        run.out.error("not deleting anything at the destination: some copies failed")
        return

    await _delete(run, dst, stale, flags.jobs, whole=f"sync: delete under {dst_loc.text}", each="sync: delete")
    if isinstance(dst, FsSide):
        await dst.prune(dst_base, keep_base=True)


async def _differing(
    run: Run, src: Side, dst: Side, candidates: list[tuple[str, Entry, Entry | None]], jobs: int
) -> list[tuple[str, Entry, Entry | None]]:
    """The candidates whose content differs (or whose comparison failed, reported and left out)."""
    keep: list[tuple[str, Entry, Entry | None]] = []

    async def compare(item: tuple[str, Entry, Entry | None]) -> None:
        _, entry, other = item
        if other is None or other.size != entry.size:
            keep.append(item)
            return
        try:
            a, b = await asyncio.gather(_md5_of(src, entry), _md5_of(dst, other))
        except (ObjectStoreError, OSError) as e:
            run.fail(f"sync --checksum {src.display(entry.key)}", e)
            return
        if a != b:
            keep.append(item)

    await pool(candidates, jobs, compare)
    keep.sort(key=lambda item: item[0])
    return keep
