"""Helpers shared by the patterns: argument checks (before any I/O) and jittered backoff."""

from __future__ import annotations

import random

from ..errors import InvalidArgumentError

__all__ = ["check_int", "check_number", "full_jitter"]


def check_int(name: str, value: object, *, minimum: int | None = None, path: str | None = None) -> int:
    """Return ``value`` if it is an ``int`` (not a ``bool``) at least ``minimum``.

    Raises:
        InvalidArgumentError: otherwise.
    """
    if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
        bound = f" >= {minimum}" if minimum is not None else ""
        raise InvalidArgumentError(f"{name} must be an int{bound}, got {value!r}", path=path)
    return value


def check_number(name: str, value: object, *, positive: bool = False, path: str | None = None) -> float:
    """Return ``value`` as a float if it is a finite non-negative (or positive) number.

    Raises:
        InvalidArgumentError: otherwise.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgumentError(f"{name} must be a number of seconds, got {value!r}", path=path)
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")) or number < 0 or (positive and number == 0):
        kind = "positive" if positive else "non-negative"
        raise InvalidArgumentError(f"{name} must be a finite {kind} number of seconds, got {value!r}", path=path)
    return number


def full_jitter(attempt: int, initial: float, cap: float) -> float:
    """Delay before retry ``attempt`` (0-based): ``uniform(0, min(cap, initial * 2**attempt))``.

    Full jitter (rather than a fixed exponential delay) spreads contenders apart, so they stop
    colliding on the same key in lockstep.
    """
    # min() before the power would overflow: 2**attempt grows without bound for large attempts.
    ceiling = cap if attempt >= 63 else min(cap, initial * (2**attempt))
    return random.uniform(0.0, ceiling)
