"""Progress of transfers: the reporter every store shares, and adapters for tqdm, rich and fsspec.

A ``progress=`` callable receives :class:`~objectstorex.ProgressEvent` values. Every transfer
keeps the same promises, whatever the store and the chunk sizes underneath:

- the first event has ``transferred == 0`` (and ``total`` when it is known, else ``None``);
- only the last event has ``done``, with ``transferred == total ==`` the size;
- the deltas so far always sum to ``transferred`` (a part sent again after a retry shows a
  negative delta equal to the bytes sent again);
- an event comes at most about once per MiB (at most ``ceil(size / 1 MiB) + 2`` calls);
- what the callable raises aborts the transfer with that exception.

The adapters import tqdm, rich or nothing at all only when called (``import objectstorex``
stays light); install them with ``pip install "objectstorex[progress]"``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol

from ._types import ProgressCallback, ProgressEvent

if TYPE_CHECKING:
    from rich.progress import Progress

__all__ = ["STEP", "PartSent", "Reporter", "fsspec_callback", "read_counted", "report_whole", "rich", "tqdm"]

#: Bytes between two events (at most): progress is reported about once per MiB.
STEP = 1024 * 1024


class Reporter:
    """Turns byte counts of one transfer into :class:`ProgressEvent` values, throttled to ~1 MiB.

    Backends call :meth:`start` once, :meth:`add` (and :meth:`rewind` after a retry) as bytes
    move, and :meth:`finish` once the transfer is complete.

    Attributes:
        path: the object path being transferred.
        total: the transfer's size in bytes, ``None`` while unknown.
        transferred: the bytes counted so far.
    """

    __slots__ = ("_callback", "_reported", "_started", "path", "total", "transferred")

    def __init__(self, callback: ProgressCallback, path: str, total: int | None = None) -> None:
        """Report the transfer of ``path`` (``total`` bytes, ``None`` while unknown) to ``callback``."""
        self._callback = callback
        self.path = path
        self.total = total
        self.transferred = 0
        self._reported = 0  # ``transferred`` as of the last event: deltas always sum to it
        self._started = False

    def _emit(self, done: bool) -> None:
        delta = self.transferred - self._reported
        self._reported = self.transferred
        self._callback(ProgressEvent(self.path, self.transferred, self.total, delta, done))

    def start(self, total: int | None = None) -> None:
        """The first event (``transferred == 0``); later calls only fill in a total still unknown."""
        if total is not None and self.total is None:
            self.total = total
        if not self._started:
            self._started = True
            self._emit(False)

    def add(self, n: int) -> None:
        """``n`` more bytes moved; an event once a MiB or more is unreported."""
        self.transferred += n
        if self.transferred - self._reported >= STEP:
            self._emit(False)

    def rewind(self, n: int) -> None:
        """``n`` bytes already reported are sent again: one event with a delta of exactly ``-n``."""
        if n <= 0:
            return
        if self.transferred != self._reported:
            self._emit(False)  # the pending bytes first, so the negative delta is exactly the bytes sent again
        self.transferred -= n
        self._emit(False)

    def finish(self) -> None:
        """The last event: ``done``, with ``total`` set to the bytes transferred."""
        self.start()
        self.total = self.transferred
        self._emit(True)

    async def counted(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """``chunks`` passed through, each counted as it passes; the last event once they end."""
        self.start()
        async for chunk in chunks:
            self.add(len(chunk))
            yield chunk
            del chunk  # not held while the caller makes the next chunk

    async def streamed(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """A read's ``chunks`` passed through and counted; the last event when they end.

        Closing this iterator closes ``chunks`` (which releases the connection).
        """
        self.start()
        try:
            async for chunk in chunks:
                self.add(len(chunk))
                yield chunk
                del chunk
            self.finish()
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()


def report_whole(callback: ProgressCallback, path: str, size: int) -> Reporter:
    """A reporter for a transfer of ``size`` known bytes moved at once (memory, local): started, bytes added.

    The caller calls :meth:`Reporter.finish` once the transfer is complete.
    """
    reporter = Reporter(callback, path, size)
    reporter.start()
    reporter.add(size)
    return reporter


class _Content(Protocol):
    async def read(self, n: int = -1) -> bytes: ...


async def read_counted(content: _Content, reporter: Reporter) -> bytes:
    """A response body read to its end in blocks of about :data:`STEP`, each counted as it arrives."""
    blocks: list[bytes] = []
    while True:
        block = await content.read(STEP)
        if not block:
            break
        blocks.append(block)
        reporter.add(len(block))
    return blocks[0] if len(blocks) == 1 else b"".join(blocks)


class PartSent:
    """The bytes of one part (or one whole upload) as its requests go out, retries included.

    The HTTP core sets it in :data:`SENDING` around a part's upload; each request carrying a
    body counts that body as sent once its answer arrives. A request that sends bytes already
    counted (a retry) first takes them back: the reporter shows a negative delta equal to the
    bytes sent again, at most the part.

    Attributes:
        reporter: the transfer's reporter.
        size: the part's size in bytes.
        counted: the bytes of this part counted as sent so far.
    """

    __slots__ = ("counted", "reporter", "size")

    def __init__(self, reporter: Reporter, size: int) -> None:
        """Track a part of ``size`` bytes reported to ``reporter``."""
        self.reporter = reporter
        self.size = size
        self.counted = 0

    def sending(self, n: int) -> None:
        """A request with ``n`` body bytes is about to go out."""
        again = self.counted + n - self.size
        if again > 0:
            again = min(again, self.counted)
            self.counted -= again
            self.reporter.rewind(again)

    def sent(self, n: int) -> None:
        """The request's answer arrived: its ``n`` body bytes were sent."""
        n = min(n, self.size - self.counted)
        if n > 0:
            self.counted += n
            self.reporter.add(n)

    def complete(self) -> None:
        """The part is stored: every byte of it counts (a provider may have sent it in pieces)."""
        self.sent(self.size - self.counted)


#: The part whose requests are being sent in this task (set by the HTTP core, read in ``_send``).
SENDING: ContextVar[PartSent | None] = ContextVar("objectstorex_sending", default=None)


# ---------------------------------------------------------------------------------- adapters


def tqdm(**kwargs: Any) -> ProgressCallback:
    """A ``progress=`` callable drawing a tqdm bar (``pip install tqdm``).

    Args:
        **kwargs: passed to ``tqdm.tqdm`` (defaults: ``unit="B"``, ``unit_scale=True``,
            ``unit_divisor=1024``, ``desc`` = the path).

    Returns:
        A callable for one transfer; the bar opens at the first event and closes at the last.

    Raises:
        ImportError: tqdm is not installed.

    Example::

        await store.put_stream("big.bin", chunks, progress=objectstorex.progress.tqdm())
    """
    from tqdm.auto import tqdm as bar_class  # type: ignore[import-untyped,unused-ignore]  # lazy: optional

    bar: Any = None

    def report(event: ProgressEvent) -> None:
        nonlocal bar
        if bar is None:
            options = {"unit": "B", "unit_scale": True, "unit_divisor": 1024, "desc": event.path, **kwargs}
            bar = bar_class(total=event.total, **options)
        if event.total is not None and bar.total != event.total:
            bar.total = event.total
        bar.update(event.delta)
        if event.done:
            bar.close()

    return report


def rich(progress: Progress | None = None, *, description: str | None = None) -> ProgressCallback:
    """A ``progress=`` callable showing a task in a ``rich.progress.Progress`` (``pip install rich``).

    Args:
        progress: a running ``Progress`` to add the task to (several transfers share one display);
            by default a ``Progress`` of its own, started at the first event and stopped at the last.
        description: the task's description (default: the path).

    Returns:
        A callable for one transfer.

    Raises:
        ImportError: rich is not installed.
    """
    from rich.progress import Progress as progress_class  # lazy: an optional dependency

    own = progress is None
    display = progress_class() if progress is None else progress
    task: Any = None

    def report(event: ProgressEvent) -> None:
        nonlocal task
        if task is None:
            if own:
                display.start()
            task = display.add_task(description or event.path, total=event.total)
        display.update(task, completed=event.transferred, total=event.total)
        if event.done and own:
            display.stop()

    return report


def fsspec_callback(callback: Any) -> ProgressCallback:
    """A ``progress=`` callable feeding an ``fsspec.callbacks.Callback`` (size and absolute value).

    Args:
        callback: an fsspec ``Callback`` (``TqdmCallback``, ``DotPrinterCallback``, your own ...).

    Returns:
        A callable for one transfer.

    Example::

        from fsspec.callbacks import TqdmCallback

        await store.get(path, progress=objectstorex.progress.fsspec_callback(TqdmCallback()))
    """

    def report(event: ProgressEvent) -> None:
        if event.total is not None and callback.size != event.total:
            callback.set_size(event.total)
        callback.absolute_update(event.transferred)

    return report
