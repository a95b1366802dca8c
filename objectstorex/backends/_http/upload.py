"""Streaming uploads with bounded memory: parts cut from the caller's chunks, and a bounded uploader.

Memory stays at most ``(max_concurrency + 1) * part_size`` plus one incoming chunk: the parts in
flight, the part being filled, and the rest of the chunk that overflowed it. Each byte of the
caller's chunks is copied once, into the part that carries it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

__all__ = ["PartReader", "PartUploader"]


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
    """Runs part uploads concurrently, at most ``concurrency`` at a time; the first failure surfaces."""

    def __init__(self, concurrency: int) -> None:
        """Allow ``concurrency`` uploads in flight."""
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, upload: Callable[[], Awaitable[None]]) -> None:
        """Start ``upload`` once a slot is free (so a caller never holds more parts than that)."""
        await self._slots.acquire()
        for task in [t for t in self._tasks if t.done()]:
            self._tasks.discard(task)
            task.result()  # surface a failed part now, before reading on
        self._tasks.add(asyncio.create_task(self._run(upload)))

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
