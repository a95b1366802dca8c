"""Filesystem primitives of the local store: symlink-free directory walks, temp files, exact I/O.

Every object path is reached by opening its directories one segment at a time, each relative to
the previous descriptor with ``O_NOFOLLOW | O_DIRECTORY``, and the object itself relative to its
parent's descriptor. No symlink anywhere below the root is ever followed, and no check-then-use
race can redirect an operation outside the root (which ``realpath`` checks cannot promise).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import itertools
import os
import secrets
import stat
import threading
from collections.abc import Sequence
from typing import Any, Literal

__all__ = [
    "DIR_FLAGS",
    "NOFOLLOW",
    "NONBLOCK",
    "LIST_FLAGS",
    "TempFile",
    "WalkError",
    "close_all",
    "exchange",
    "open_dirs",
    "pread_exact",
    "write_all",
]

# O_PATH (Linux) opens a directory for use as a *at() anchor without read permission checks or
# readdir state; elsewhere a read-only descriptor does the same job.
_O_PATH: int = getattr(os, "O_PATH", 0)
_CLOEXEC: int = getattr(os, "O_CLOEXEC", 0)
# getattr: the module must import everywhere (``import objectstorex`` loads it); the store itself
# refuses to start where these POSIX features are missing.
NOFOLLOW: int = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY: int = getattr(os, "O_DIRECTORY", 0)
NONBLOCK: int = getattr(os, "O_NONBLOCK", 0)
#: Flags of a directory used only as an anchor for *at() calls.
DIR_FLAGS = (_O_PATH or os.O_RDONLY) | _DIRECTORY | NOFOLLOW | _CLOEXEC
#: Flags of a directory that is read (listed) or fsync'ed.
LIST_FLAGS = os.O_RDONLY | _DIRECTORY | NOFOLLOW | _CLOEXEC


class WalkError(Exception):
    """A directory segment of a path could not be opened.

    Attributes:
        kind: ``"missing"``, ``"symlink"`` (never followed) or ``"file"`` (an object stands where
            a directory would have to be).
        prefix: the path up to and including the offending segment.
    """

    def __init__(self, kind: Literal["missing", "symlink", "file"], prefix: str) -> None:
        super().__init__(kind, prefix)
        self.kind = kind
        self.prefix = prefix


def close_all(fds: Sequence[int]) -> None:
    """Close descriptors, ignoring ones already gone."""
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def _kind(name: str, dir_fd: int) -> Literal["missing", "symlink", "file"]:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return "missing"
    return "symlink" if stat.S_ISLNK(st.st_mode) else "file"


def _open_dir(parent: int, seg: str, prefix: Sequence[str], create: bool, flags: int, on_create: Any) -> int:
    for _ in range(8):
        try:
            return os.open(seg, flags, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                raise WalkError("missing", "/".join(prefix)) from None
        except OSError as e:
            if e.errno not in (errno.ENOTDIR, errno.ELOOP):
                raise
            kind = _kind(seg, parent)
            if kind == "missing":
                continue  # replaced meanwhile: look again
            raise WalkError(kind, "/".join(prefix)) from None
        try:
            os.mkdir(seg, 0o777, dir_fd=parent)  # FileNotFoundError: the parent itself was pruned
            if on_create is not None:
                on_create(parent)
        except FileExistsError:
            pass  # a concurrent writer made it; opening it classifies what it is
        # Opening may still find it gone: a concurrent delete prunes empty directories. Retry.
    raise FileNotFoundError(errno.ENOENT, "directory keeps disappearing", "/".join(prefix))


def open_dirs(
    root: str,
    segments: Sequence[str],
    *,
    create: bool = False,
    flags: int = DIR_FLAGS,
    on_create: Any = None,
) -> list[int]:
    """Open ``root`` and each directory of ``segments`` below it, never following a symlink.

    Args:
        root: the store root (already resolved; trusted).
        segments: directory names below the root, outermost first.
        create: create missing directories.
        flags: open flags of each directory (``DIR_FLAGS`` or ``LIST_FLAGS``).
        on_create: called with the parent's descriptor after a directory is created (fsync).

    Returns:
        ``[root_fd, fd_of_segments[0], ...]``; the caller closes them (``close_all``).

    Raises:
        WalkError: a segment is missing (without ``create``), a symlink, or a file.
        OSError: any other failure.
    """
    fds = [os.open(root, flags)]
    try:
        for i, seg in enumerate(segments):
            fds.append(_open_dir(fds[-1], seg, segments[: i + 1], create, flags, on_create))
    except BaseException:
        close_all(fds)
        raise
    return fds


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write every byte (``os.write`` may write fewer than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def pread_exact(fd: int, size: int, offset: int) -> bytes:
    """Read exactly ``size`` bytes at ``offset``.

    Loops over short reads: Linux caps one read at about 2 GiB.

    Raises:
        EOFError: the file ended early (it was truncated in place by another program).
    """
    if size <= 0:
        return b""
    first = os.pread(fd, size, offset)
    if len(first) == size:
        return first
    parts = [first]
    got = len(first)
    while got < size:
        block = os.pread(fd, size - got, offset + got)
        if not block:
            raise EOFError
        parts.append(block)
        got += len(block)
    return b"".join(parts)


_names = itertools.count()
_token = secrets.token_hex(4)


class TempFile:
    """An open temp file in the store's private temp directory.

    Its descriptor is used under ``lock`` by whoever writes or commits it, and ``discard``
    takes the same lock, so a cleanup after a cancelled await never closes a descriptor that a
    worker thread is still writing (it could otherwise be reused by another open meanwhile).
    """

    __slots__ = ("fd", "lock", "path")

    def __init__(self, directory: str) -> None:
        """Create the file (exclusively; names carry the pid, so forks never collide)."""
        while True:
            path = f"{directory}/{os.getpid():x}-{_token}-{next(_names):x}"
            try:
                self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC, 0o644)
                break
            except FileExistsError:
                continue
        self.path = path
        self.lock = threading.Lock()

    def write(self, data: bytes) -> None:
        """Append ``data``."""
        with self.lock:
            if self.fd < 0:
                raise OSError(errno.EBADF, "temp file already discarded")
            write_all(self.fd, data)

    def close_fd(self) -> None:
        """Close the descriptor (idempotent); the caller holds ``lock`` or owns the file."""
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)

    def discard(self) -> None:
        """Close and remove the file if it is still there (idempotent)."""
        with self.lock:
            with contextlib.suppress(OSError):
                self.close_fd()
            if self.path:  # empty once moved into place
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)


_RENAME_EXCHANGE = 2  # renameat2(2) flag, Linux >= 3.15
_AT_FDCWD = -100
_renameat2: Any = None  # resolved on first use; False once known to be unavailable


def exchange(src_dir_fd: int | None, src: str, dst_dir_fd: int, dst_name: str) -> bool:
    """Atomically swap ``src`` (relative to ``src_dir_fd``, or absolute) with ``dst_name`` in ``dst_dir_fd``.

    Returns False (and changes nothing) where ``renameat2(RENAME_EXCHANGE)`` is unavailable.
    """
    global _renameat2
    if _renameat2 is None:
        try:
            fn = ctypes.CDLL(None, use_errno=True).renameat2
            fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            fn.restype = ctypes.c_int
            _renameat2 = fn
        except (OSError, AttributeError):
            _renameat2 = False
    if _renameat2 is False:
        return False
    src_fd = _AT_FDCWD if src_dir_fd is None else src_dir_fd
    if _renameat2(src_fd, os.fsencode(src), dst_dir_fd, os.fsencode(dst_name), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        _renameat2 = False  # this kernel/filesystem cannot exchange: plain renames from now on
        return False
    raise OSError(code, os.strerror(code), dst_name)
