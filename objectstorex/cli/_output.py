"""Where output goes: data and listings on stdout, everything else on stderr.

stdout carries only what a pipe wants (object bytes, listings), written binary-safe and flushed;
a reader that goes away (``objectstorex cat ... | head``) ends the command quietly. Messages,
skipped names and failures go to stderr. A progress bar is drawn on stderr only when it is a
terminal, and never with ``--quiet`` or ``--json``; rich (or tqdm) is imported only then.
"""

from __future__ import annotations

import os
import sys
from typing import IO, Any

from .._types import ProgressCallback, ProgressEvent

__all__ = ["Output", "Progress", "StdoutClosed"]


class StdoutClosed(Exception):
    """The reader of stdout went away (a broken pipe): stop writing, quietly."""


class Output:
    """The command's two streams.

    Attributes:
        quiet: no progress and no notices (failures are still reported).
        json: listings are JSON lines (no progress either).
    """

    def __init__(self, *, quiet: bool = False, json: bool = False) -> None:
        """Write to the process's stdout and stderr."""
        self.quiet = quiet
        self.json = json
        self._out: IO[bytes] = sys.stdout.buffer
        self._closed = False

    def data(self, chunk: bytes, *, flush: bool = True) -> None:
        """Write raw bytes to stdout.

        Raises:
            StdoutClosed: the reader went away.
        """
        if self._closed:
            raise StdoutClosed
        try:
            self._out.write(chunk)
            if flush:
                self._out.flush()
        except BrokenPipeError:
            self._stdout_gone()
            raise StdoutClosed from None

    def line(self, text: str) -> None:
        """Write one line of a listing to stdout (flushed by :meth:`flush` or when the buffer fills).

        Raises:
            StdoutClosed: the reader went away.
        """
        self.data(text.encode("utf-8", "surrogateescape") + b"\n", flush=False)

    def flush(self) -> None:
        """Flush stdout.

        Raises:
            StdoutClosed: the reader went away.
        """
        self.data(b"", flush=True)

    def _stdout_gone(self) -> None:
        # Point fd 1 at /dev/null, so the interpreter's last flush at exit cannot fail again
        # with a "BrokenPipeError ignored" message (the recipe of the `signal` module's docs).
        self._closed = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass

    def error(self, message: str) -> None:
        """Report a failure on stderr (always, even with ``--quiet``)."""
        _print_err(f"objectstorex: {message}")

    def notice(self, message: str) -> None:
        """Report something worth knowing (a skipped name) on stderr, unless ``--quiet``."""
        if not self.quiet:
            _print_err(message)

    def progress(self, *, total_bytes: int | None = None, total_objects: int | None = None) -> Progress:
        """A progress display: drawn on stderr when it is a terminal and not quiet/json, else silent."""
        show = not (self.quiet or self.json) and _isatty(sys.stderr)
        return Progress(show, total_bytes=total_bytes, total_objects=total_objects)


def _print_err(message: str) -> None:
    try:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        pass


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """One bar for a whole command: bytes moved (and objects done) across its transfers.

    Transfers report through :meth:`callback` (a ``progress=`` callable per object); a silent
    progress costs nothing and imports nothing.
    """

    def __init__(self, show: bool, *, total_bytes: int | None = None, total_objects: int | None = None) -> None:
        """Draw (when ``show``) towards ``total_bytes`` bytes and ``total_objects`` objects."""
        self.show = show
        self.total_bytes = total_bytes
        self.total_objects = total_objects
        self.objects_done = 0
        self.bytes_done = 0
        self._bar: Any = None
        self._task: Any = None
        self._kind = ""

    def _start(self) -> None:
        if not self.show or self._bar is not None:
            return
        try:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(binary_units=True),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(file=sys.stderr),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(self._describe(), total=self.total_bytes)
            self._kind = "rich"
        except ImportError:
            try:
                from tqdm import tqdm  # type: ignore[import-untyped,unused-ignore]
            except ImportError:
                self.show = False
                return
            self._bar = tqdm(
                total=self.total_bytes, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr, leave=True
            )
            self._kind = "tqdm"

    def _describe(self) -> str:
        if self.total_objects is None:
            return f"{self.objects_done} objects"
        return f"{self.objects_done}/{self.total_objects} objects"

    def callback(self) -> ProgressCallback | None:
        """A ``progress=`` callable for one transfer (``None`` when nothing is drawn)."""
        if not self.show:
            return None
        self._start()

        def report(event: ProgressEvent) -> None:
            self.advance(event.delta)

        return report

    def advance(self, n: int) -> None:
        """``n`` more bytes moved."""
        self.bytes_done += n
        if self._kind == "rich":
            self._bar.update(self._task, advance=n)
        elif self._kind == "tqdm":
            self._bar.update(n)

    def object_done(self) -> None:
        """One more object finished (copied, skipped or failed)."""
        self.objects_done += 1
        if self._kind == "rich":
            self._bar.update(self._task, description=self._describe())
        elif self._kind == "tqdm":
            self._bar.set_description(self._describe(), refresh=False)

    def close(self) -> None:
        """Stop drawing (the last state stays on the terminal)."""
        if self._kind == "rich":
            self._bar.stop()
        elif self._kind == "tqdm":
            self._bar.close()
        self._kind = ""
