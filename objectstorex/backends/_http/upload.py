"""Streaming uploads with bounded memory: parts cut from the caller's chunks, and a bounded uploader.

Memory stays at most ``(max_concurrency + 1) * part_size`` plus one incoming chunk: the parts in
flight, the part being filled, and the rest of the chunk that overflowed it. Each byte of the
caller's chunks is copied once, into the part that carries it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

__all__ = ["PartReader", "PartUploader"]


class PartReader:
    """Cuts an async iterator of bytes-like chunks into parts of ``part_size`` (the last may be shorter)."""

    def __init__(self, chunks: AsyncIterator[bytes], part_size: int) -> None:
        """Read ``chunks`` lazily, one part at a time."""
        self._chunks = chunks
        self._size = part_size
        self._queue: deque[memoryview] = deque()  # chunks (or their rest) read but not yet in a part
        self._ended = False
        self.offset = 0  # bytes handed out in parts so far

    async def _read(self) -> memoryview | None:
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
        """Whether no byte is left (peeks at most one chunk)."""
        if not self._queue:
            view = await self._read()
            if view is None:
                return True
            self._queue.append(view)
        return False

    async def whole(self) -> bytes | None:
        """The whole stream as ``bytes`` if it fits in one part, else ``None`` (nothing is lost).

        Chunks are only referenced until the stream is known to be larger than a part, so a
        small stream costs no part-sized buffer.
        """
        total = sum(len(v) for v in self._queue)
        while total <= self._size:
            view = await self._read()
            if view is None:
                data = b"".join(self._queue)
                self._queue.clear()
                self.offset += len(data)
                return data
            self._queue.append(view)
            total += len(view)
        return None

    async def next_part(self) -> memoryview | None:
        """The next part (a view of a buffer of its own), or ``None`` at the end."""
        buffer = bytearray(self._size)
        filled = 0
        while filled < self._size:
            view = self._queue.popleft() if self._queue else await self._read()
            if view is None:
                break
            take = min(len(view), self._size - filled)
            buffer[filled : filled + take] = view[:take]
            filled += take
            if take < len(view):
                self._queue.appendleft(view[take:])
        if filled == 0:
            return None
        self.offset += filled
        return memoryview(buffer)[:filled]


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
        tasks, self._tasks = self._tasks, set()
        await asyncio.gather(*tasks)

    async def cancel(self) -> None:
        """Cancel every upload in flight and wait for them to end."""
        tasks, self._tasks = self._tasks, set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
