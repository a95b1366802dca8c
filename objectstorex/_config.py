"""Retry and timeout options accepted by every network store, and the one retry loop."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from .errors import IntegrityError, InvalidConfigError, ObjectStoreError, TransportError

__all__ = ["RetryConfig", "Timeouts", "after_retries", "network_options", "retry_call"]

T = TypeVar("T")

#: Retries are logged here: INFO for each retry, WARNING when they are spent (never a secret:
#: only the operation, the path, the attempt, the status, the error class and the delay).
_log = logging.getLogger("objectstorex")


def _check_non_negative(owner: str, **values: float | None) -> None:
    for name, v in values.items():
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise InvalidConfigError(f"{owner}.{name} must be a non-negative number, got {v!r}")


@dataclass(frozen=True, slots=True)
class RetryConfig:
    """How network stores retry transient failures.

    Only transient errors are retried: connection failures, timeouts, 5xx answers and
    429/throttling. Delays follow exponential backoff with full jitter
    (``uniform(0, min(max_backoff, initial_backoff * 2**attempt))``), and no retry starts once
    ``total_timeout`` seconds have passed since the first attempt.

    Attributes:
        max_retries: retries after the first attempt (0 disables retrying).
        initial_backoff: cap of the first delay, in seconds.
        max_backoff: cap of any delay, in seconds.
        total_timeout: time budget for all attempts, in seconds (``None``: unbounded).
    """

    max_retries: int = 3
    initial_backoff: float = 0.1
    max_backoff: float = 15.0
    total_timeout: float | None = 180.0

    def __post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise InvalidConfigError(f"RetryConfig.max_retries must be an int >= 0, got {self.max_retries!r}")
        _check_non_negative(
            "RetryConfig",
            initial_backoff=self.initial_backoff,
            max_backoff=self.max_backoff,
            total_timeout=self.total_timeout,
        )

    def backoff(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (0-based), with full jitter."""
        cap = min(self.max_backoff, self.initial_backoff * (2**attempt))
        return random.uniform(0.0, cap)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Timeouts of one HTTP request, in seconds (``None``: no limit).

    Attributes:
        connect: establishing a connection (TCP + TLS).
        read: a stall between two reads of the response (not a whole large transfer).
        total: a whole request, body included; leave ``None`` for large streaming transfers.
    """

    connect: float | None = 10.0
    read: float | None = 60.0
    total: float | None = None

    def __post_init__(self) -> None:
        _check_non_negative("Timeouts", connect=self.connect, read=self.read, total=self.total)


def network_options(retry: object, timeouts: object, provider: str) -> tuple[RetryConfig, Timeouts]:
    """Check a network store's ``retry`` and ``timeouts`` options; ``None`` means the defaults.

    Raises:
        InvalidConfigError: an option of the wrong type, named.
    """
    if retry is not None and not isinstance(retry, RetryConfig):
        raise InvalidConfigError("option 'retry' must be an objectstorex.RetryConfig", provider=provider)
    if timeouts is not None and not isinstance(timeouts, Timeouts):
        raise InvalidConfigError("option 'timeouts' must be an objectstorex.Timeouts", provider=provider)
    return retry or RetryConfig(), timeouts or Timeouts()


async def retry_call(
    attempt: Callable[[], Awaitable[T]],
    config: RetryConfig,
    *,
    is_retryable: Callable[[BaseException], bool] | None = None,
    operation: str | None = None,
) -> T:
    """Run ``attempt`` until it succeeds, a non-retryable error occurs, or the budget runs out.

    By default an error is retryable when it is an ``ObjectStoreError`` with ``retryable`` set
    (backends map transport failures, 5xx and 429 that way). A ``retry_after`` on the error (the
    service's ``Retry-After``) is waited at least; when that wait would leave the time budget,
    retrying stops there. The last error is re-raised as is.

    Each retry is logged at INFO on the ``objectstorex`` logger, and a retryable error that
    outlives the retries at WARNING; ``operation`` names the call in those lines.
    """
    check = is_retryable or (lambda e: isinstance(e, ObjectStoreError) and e.retryable)
    started = time.monotonic()
    tries = 0
    while True:
        try:
            return await attempt()
        except Exception as exc:
            if not check(exc):
                raise
            if tries >= config.max_retries:
                _gave_up(operation, exc, tries + 1, "retries spent")
                raise
            delay = config.backoff(tries)
            asked = getattr(exc, "retry_after", None)
            if isinstance(asked, (int, float)) and asked > delay:
                delay = float(asked)
            if config.total_timeout is not None and time.monotonic() - started + delay > config.total_timeout:
                _gave_up(operation, exc, tries + 1, "time budget spent")
                raise
            tries += 1
            if _log.isEnabledFor(logging.INFO):
                path, status = _where(exc)
                _log.info(
                    "%s %s: attempt %d failed (%s, status %s); retrying in %.2fs",
                    operation or "call",
                    path,
                    tries,
                    type(exc).__name__,
                    status,
                    delay,
                )
            await asyncio.sleep(delay)


def _where(exc: BaseException) -> tuple[str, object]:
    """The path (quoted) and status of an error, for log lines: fields, never the message."""
    if isinstance(exc, ObjectStoreError):
        return (repr(exc.path) if exc.path is not None else "-"), exc.status
    return "-", None


def _gave_up(operation: str | None, exc: BaseException, attempts: int, why: str) -> None:
    path, status = _where(exc)
    _log.warning(
        "%s %s: failed after %d attempts (%s, status %s): %s",
        operation or "call",
        path,
        attempts,
        type(exc).__name__,
        status,
        why,
    )


def after_retries(e: ObjectStoreError) -> ObjectStoreError:
    """What a caller sees once retries are spent: a transient error becomes a TransportError.

    The TransportError keeps the last status and is ``retryable`` (the condition is transient: a
    later call may succeed), and chains the last error.
    """
    if not e.retryable or isinstance(e, (TransportError, IntegrityError)):
        return e  # an integrity failure stays one: it says what was corrupted
    err = TransportError(f"{e} (after retries)", path=e.path, provider=e.provider, status=e.status, retryable=True)
    err.__cause__ = e
    return err
