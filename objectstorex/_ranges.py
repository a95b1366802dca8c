"""Byte ranges: validation before I/O, resolution against a size, coalescing for get_ranges.

A range is ``(start, end)`` half-open like a slice, with ``0 <= start < end``; ``(start, None)``
reads to the end; ``(-n, None)`` reads the last ``n`` bytes. An end past the object is clamped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .errors import InvalidRangeError

__all__ = ["ByteRange", "coalesce", "http_range_header", "parse_range", "slice_spans"]


@dataclass(frozen=True, slots=True)
class ByteRange:
    """A validated range: ``start >= 0`` with optional exclusive ``end``, or a ``suffix``."""

    start: int
    end: int | None
    suffix: int | None = None

    def resolve(self, size: int, *, path: str | None = None, provider: str | None = None) -> tuple[int, int]:
        """Return the concrete ``(start, end)`` for an object of ``size`` bytes.

        Raises:
            InvalidRangeError: the range starts at or past the end (any range on an empty object).
        """
        if size == 0:
            raise InvalidRangeError(f"range {self} is not satisfiable on an empty object", path=path, provider=provider)
        if self.suffix is not None:
            return max(0, size - self.suffix), size
        if self.start >= size:
            raise InvalidRangeError(
                f"range start {self.start} is at or past the object size {size}",
                path=path,
                provider=provider,
            )
        end = size if self.end is None else min(self.end, size)
        return self.start, end

    def __str__(self) -> str:
        if self.suffix is not None:
            return f"(-{self.suffix}, None)"
        return f"({self.start}, {self.end})"


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def parse_range(value: object, *, path: str | None = None, provider: str | None = None) -> ByteRange:
    """Validate a user range before any I/O.

    Raises:
        InvalidRangeError: not a pair of ints, a negative end, ``end <= start``, or a
            negative start with an end.
    """

    def bad(why: str) -> InvalidRangeError:
        return InvalidRangeError(f"invalid range {value!r}: {why}", path=path, provider=provider)

    if isinstance(value, range):
        if value.step != 1:
            raise bad("a range() must have step 1")
        value = (value.start, value.stop)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise bad("expected a (start, end) pair")
    start, end = value
    if not _is_int(start):
        raise bad("start must be an int")
    if end is not None and not _is_int(end):
        raise bad("end must be an int or None")
    if start < 0:
        if end is not None:
            raise bad("a negative start (suffix range) takes end=None")
        return ByteRange(0, None, suffix=-start)
    if end is not None:
        if end < 0:
            raise bad("end is negative")
        if end <= start:
            raise bad("end must be greater than start")
    return ByteRange(start, end)


def http_range_header(r: ByteRange) -> str:
    """Render a validated range as an HTTP ``Range`` header value (``bytes=a-b``, inclusive)."""
    if r.suffix is not None:
        return f"bytes=-{r.suffix}"
    if r.end is None:
        return f"bytes={r.start}-"
    return f"bytes={r.start}-{r.end - 1}"


def coalesce(ranges: Sequence[tuple[int, int]], gap: int = 1024 * 1024) -> list[tuple[int, int]]:
    """Merge resolved ranges that overlap or lie within ``gap`` bytes of each other.

    Returns the merged ranges sorted by start; each input range lies inside exactly one of them,
    so results can be sliced out of the fetched spans.
    """
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1] + gap:
            last_start, last_end = merged[-1]
            merged[-1] = (last_start, max(last_end, end))
        else:
            merged.append((start, end))
    return merged


def slice_spans(
    ranges: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]], blobs: Sequence[bytes]
) -> list[bytes]:
    """Cut each resolved range out of the fetched span (from :func:`coalesce`) that holds it."""
    out: list[bytes] = []
    for start, end in ranges:
        for (s, e), blob in zip(spans, blobs, strict=True):
            if s <= start and end <= e:
                out.append(blob[start - s : end - s])
                break
    return out
