"""ObjectStream: the async iterator returned by ``store.get_stream``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Self

from ._types import ObjectMeta
from .errors import ObjectStoreError

__all__ = ["DEFAULT_CHUNK_SIZE", "ObjectStream", "StreamOpener"]

#: Default read size of streaming reads: large reads are what make streaming fast.
DEFAULT_CHUNK_SIZE = 1024 * 1024

StreamOpener = Callable[[], Awaitable[tuple[ObjectMeta, AsyncIterator[bytes]]]]


class ObjectStream:
    """An async iterator of ``bytes`` chunks that is also an async context manager.

    The request is sent when the stream is first entered or iterated; ``meta`` is available
    from then on. The connection is released on exhaustion, on error, when the ``async with``
    block exits (``break`` included) and on ``aclose()``.

    Example::

        async with store.get_stream("big.bin") as stream:
            print(stream.meta.size)
            async for chunk in stream:
                sink.write(chunk)
    """

    __slots__ = ("_closed", "_it", "_meta", "_opener")

    def __init__(self, opener: StreamOpener) -> None:
        """Wrap ``opener``, which sends the request and returns the metadata and chunk iterator."""
        self._opener: StreamOpener | None = opener
        self._meta: ObjectMeta | None = None
        self._it: AsyncIterator[bytes] | None = None
        self._closed = False

    @property
    def meta(self) -> ObjectMeta:
        """Metadata of the object being read (available once the stream is opened).

        Raises:
            ObjectStoreError: the stream has not been opened yet.
        """
        if self._meta is None:
            raise ObjectStoreError("the stream is not open yet: enter it or start iterating first")
        return self._meta

    async def open(self) -> Self:
        """Send the request now (entering or iterating does it implicitly)."""
        if self._closed:
            raise ObjectStoreError("the stream is closed")
        if self._opener is not None:
            opener, self._opener = self._opener, None
            self._meta, self._it = await opener()
        return self

    async def read_all(self) -> bytes:
        """Read the rest of the stream into one ``bytes`` object."""
        return b"".join([chunk async for chunk in self])

    async def aclose(self) -> None:
        """Release the connection; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._opener = None
        it, self._it = self._it, None
        aclose = getattr(it, "aclose", None)
        if aclose is not None:
            await aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        if self._it is None:
            if self._closed:
                raise StopAsyncIteration
            await self.open()
            assert self._it is not None
        try:
            return await self._it.__anext__()
        except BaseException:
            # StopAsyncIteration included: exhaustion and errors both release the connection.
            await self.aclose()
            raise

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
