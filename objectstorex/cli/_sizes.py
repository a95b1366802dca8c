"""Sizes (``8MiB``, ``5MB``, ``1048576``), durations (``15m``, ``3600``) and human-readable sizes."""

from __future__ import annotations

import re

__all__ = ["format_size", "parse_duration", "parse_size"]

# Decimal units are powers of 1000 and binary units powers of 1024, as in IEC 80000-13; a bare
# letter (``8M``) is binary, as dd, s5cmd and rclone read it.
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "m": 1024**2,
    "g": 1024**3,
    "t": 1024**4,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-zA-Z]*)\s*")

_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Parse a byte count: ``1048576``, ``8MiB``, ``5MB``, ``1.5GiB``, ``64k``.

    Args:
        text: a number followed by an optional unit (``B``, ``KB``/``MB``/``GB``/``TB`` in powers of
            1000, ``KiB``/``MiB``/``GiB``/``TiB`` or ``K``/``M``/``G``/``T`` in powers of 1024),
            case-insensitive.

    Returns:
        The size in bytes (fractions rounded down).

    Raises:
        ValueError: not a size.
    """
    match = _SIZE.fullmatch(text)
    if match is None or match.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"{text!r} is not a size (examples: 1048576, 8MiB, 5MB)")
    number, unit = match.groups()
    factor = _SIZE_UNITS[unit.lower()]
    if "." in number:
        return int(float(number) * factor)
    return int(number) * factor


def parse_duration(text: str) -> float:
    """Parse a duration in seconds: ``3600``, ``90s``, ``15m``, ``12h``, ``7d``.

    Raises:
        ValueError: not a duration, or not positive.
    """
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration (examples: 3600, 15m, 12h, 7d)")
    seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2).lower()]
    if seconds <= 0:
        raise ValueError(f"{text!r}: a duration must be positive")
    return seconds


def format_size(n: int, *, human: bool = True) -> str:
    """``n`` bytes for people (``1.5 MiB``, ``512 B``), or the plain count when ``human`` is false."""
    if not human:
        return str(n)
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        value /= 1024
        if value < 1024 or unit == "PiB":
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover
