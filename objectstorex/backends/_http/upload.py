"""Streaming uploads with bounded memory: parts cut from the caller's chunks, and a bounded uploader.

Memory stays at most ``max_concurrency * part_size`` plus one incoming chunk: the parts in
flight (the next part is filled only once a slot is free for it), and the rest of the chunk
that overflowed the last one. Each byte of the caller's chunks is copied once, into the part
that carries it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from ...checksums import OFF_LOOP, digest_async, hasher

__all__ = ["PartReader", "PartUploader", "digest_part"]

#: google-crc32c hashes only ``bytes``: a part is handed to it in copies of this size
#: (one per part being hashed, in worker threads).
_HASH_SLICE = 256 * 1024


def _sliced(algorithm: str, data: memoryview) -> bytes:
    h = hasher(algorithm)
    for i in range(0, len(data), _HASH_SLICE):
        h.update(bytes(data[i : i + _HASH_SLICE]))
    return h.digest()


async def digest_part(algorithm: str, data: bytes | bytearray | memoryview) -> bytes:
    """The ``algorithm`` digest of a body, off the event loop when large, never copying it whole.

    CRC32C (google-crc32c) accepts only ``bytes``; a part is a view of a ``bytearray``, which it
    would copy whole (another part's worth of memory per part in flight). It gets 256 KiB copies.
    """
    if algorithm != "crc32c" or isinstance(data, bytes) or len(data) <= _HASH_SLICE:
        return await digest_async(algorithm, data)
    view = memoryview(data).cast("B")
    if len(view) > OFF_LOOP:
        return await asyncio.to_thread(_sliced, algorithm, view)
    return _sliced(algorithm, view)


class PartReader:
    """Cuts an async iterator of bytes-like chunks into parts of ``part_size`` (the last may be shorter).

    A chunk is copied once, into the part that carries it. No view of a chunk is kept across
    the next read from the caller's iterator, so a caller may reuse its buffer between chunks.
    """

    def __init__(self, chunks: AsyncIterator[bytes], part_size: int) -> None:
        """Read ``chunks`` lazily, one part at a time."""
        self._chunks = chunks
        self._size = part_size
        self._pending: memoryview | None = None  # the unread rest of the latest chunk
        self._first: bytearray | None = None  # a first part filled by whole()
        self._ended = False
        self.offset = 0  # bytes handed out in parts so far

    async def _next(self) -> memoryview | None:
        if self._pending is not None:
            view, self._pending = self._pending, None
            return view
        while not self._ended:
            try:
                chunk = await anext(self._chunks)
            except StopAsyncIteration:
                self._ended = True
                break
            view = memoryview(chunk).cast("B")
            if len(view):
                return view
        return None

    async def at_end(self) -> bool:
        """Whether no byte is left (peeks at most one chunk, kept as a view until the next part)."""
        if self._pending is None:
            self._pending = await self._next()
        return self._pending is None

    async def whole(self) -> memoryview | None:
        """The whole stream if it fits in one part, else ``None`` (nothing is lost).

        The buffer grows with the stream, so a small stream costs no part-sized buffer.
        """
        buffer = bytearray()
        while True:
            view = await self._next()
            if view is None:
                self.offset = len(buffer)
                return memoryview(buffer)
            room = self._size - len(buffer)
            if len(view) <= room:
                buffer += view
                continue
            buffer += view[:room]
            self._pending = view[room:]
            self._first = buffer
            return None

    async def next_part(self) -> memoryview | None:
        """The next part (a view of a buffer of its own), or ``None`` at the end."""
        if self._first is not None:
            buffer, self._first = self._first, None
            self.offset += len(buffer)
            return memoryview(buffer)
        buffer = bytearray(self._size)
        target = memoryview(buffer)  # slice assignment through a view copies once (bytearray's makes a temporary)
        filled = 0
        while filled < self._size:
            view = await self._next()
            if view is None:
                break
            take = min(len(view), self._size - filled)
            target[filled : filled + take] = view[:take]
            filled += take
            if take < len(view):
                self._pending = view[take:]
            del view  # not held across the next read: the caller's next chunk would coexist with it
        if filled == 0:
            return None
        self.offset += filled
        return target[:filled]


class PartUploader:
    """Runs part uploads concurrently, at most ``concurrency`` at a time; the first failure surfaces.

    A caller reserves a slot (:meth:`reserve`) before it fills the next part, then starts the
    upload in it (:meth:`start`): at most ``concurrency`` parts exist at once, the one being
    filled included.
    """

    def __init__(self, concurrency: int) -> None:
        """Allow ``concurrency`` uploads in flight."""
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._tasks: set[asyncio.Task[None]] = set()

    async def reserve(self) -> None:
        """Wait for a free slot (and surface a failed part now, before reading on)."""
        await self._slots.acquire()
        for task in [t for t in self._tasks if t.done()]:
            self._tasks.discard(task)
            try:
                task.result()
            except BaseException:
                self._slots.release()  # the slot goes unused: the upload stops here
                raise

    def unreserve(self) -> None:
        """Give back a reserved slot that no part needed."""
        self._slots.release()

    def start(self, upload: Callable[[], Awaitable[None]]) -> None:
        """Run ``upload`` in the slot reserved for it."""
        self._tasks.add(asyncio.create_task(self._run(upload)))

    async def submit(self, upload: Callable[[], Awaitable[None]]) -> None:
        """Start ``upload`` once a slot is free (:meth:`reserve`, then :meth:`start`)."""
        await self.reserve()
        self.start(upload)

    async def _run(self, upload: Callable[[], Awaitable[None]]) -> None:
        try:
            await upload()
        finally:
            self._slots.release()

    async def wait(self) -> None:
        """Wait for every upload; the first failure is raised."""
        # The tasks stay registered until all succeeded: after a failure, cancel() stops the rest.
        await asyncio.gather(*self._tasks)
        self._tasks.clear()

    async def cancel(self) -> None:
        """Cancel every upload in flight and wait for them to end."""
        tasks, self._tasks = self._tasks, set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
