"""One resume loop for streaming reads: a dropped connection continues from the last byte received."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from ..._config import RetryConfig
from ...errors import ObjectStoreError
from .errors import TRANSPORT_ERRORS
from .transport import Response

__all__ = ["resuming_body", "to_eof"]


class _EndedEarly(ConnectionError):
    """The body ended before its announced length."""


async def resuming_body(
    response: Response,
    *,
    position: int,
    start: int,
    end: int,
    chunk_size: int,
    reopen: Callable[[int], Awaitable[Response]] | None,
    retry: RetryConfig,
    lost: Callable[[BaseException, int], ObjectStoreError],
) -> AsyncIterator[bytes]:
    """Yield bytes ``[start, end)`` of an object from an open answer, in chunks of at most ``chunk_size``.

    A reset, a truncated body or a stall past ``Timeouts.read`` drops the connection and
    continues with ``reopen(p)`` from ``p``, the first byte not yet received, after the retry
    policy's backoff, at most ``retry.max_retries`` times. ``reopen`` must pin the read to the
    state the stream opened with (an ETag, a generation) so that two versions are never spliced:
    it raises PreconditionError when that state is gone.

    Args:
        response: the open answer.
        position: offset in the object of the answer's first byte (below ``start`` when the
            server ignored the range: the bytes before ``start`` are skipped).
        start: first byte wanted.
        end: offset after the last byte wanted.
        chunk_size: the largest chunk yielded.
        reopen: sends the pinned ranged read from a position; ``None``: no resume.
        retry: the store's retry policy (count and backoff).
        lost: the error raised when the connection cannot be resumed (given the cause and position).
    """
    resumes = 0
    try:
        while position < end:
            want = min(chunk_size, (start if position < start else end) - position)
            block, failure = await _read_up_to(response, want, position, end)
            if position < start:  # the server ignored the range: reads stop at `start`, skip them
                position += len(block)
            elif block:
                position += len(block)
                yield block
            if failure is None:
                continue
            # What arrived was handed out: resume from the first byte not received.
            response.close()
            resumes += 1
            if reopen is None or resumes > retry.max_retries:
                raise lost(failure, position) from failure
            await asyncio.sleep(retry.backoff(resumes - 1))
            position = max(position, start)
            response = await reopen(position)
    finally:
        if position < end:
            response.close()  # abandoned early: drop the connection rather than drain it
        else:
            response.release()


async def _read_up_to(response: Response, want: int, position: int, end: int) -> tuple[bytes, BaseException | None]:
    """Read ``want`` bytes (fewer only at a failure): the bytes received, and the failure if any."""
    blocks: list[bytes] = []
    got = 0
    failure: BaseException | None = None
    while got < want:
        try:
            block = await response.content.read(want - got)
        except TRANSPORT_ERRORS as e:
            failure = e
            break
        if not block:
            failure = _EndedEarly(f"the body ended at byte {position + got} of {end}")
            break
        blocks.append(block)
        got += len(block)
    return (blocks[0] if len(blocks) == 1 else b"".join(blocks)), failure


async def to_eof(
    response: Response, chunk_size: int, lost: Callable[[BaseException, int], ObjectStoreError]
) -> AsyncIterator[bytes]:
    """Yield a body of unknown length (a chunked answer) to its end, in chunks of ``chunk_size``; no resume."""
    position = 0
    try:
        while True:
            blocks: list[bytes] = []
            got = 0
            while got < chunk_size:  # a read returns what has arrived: gather a whole chunk
                try:
                    block = await response.content.read(chunk_size - got)
                except TRANSPORT_ERRORS as e:
                    raise lost(e, position + got) from e
                if not block:
                    break
                blocks.append(block)
                got += len(block)
            if got:
                position += got
                yield blocks[0] if len(blocks) == 1 else b"".join(blocks)
            if got < chunk_size:
                return
    finally:
        response.close()
