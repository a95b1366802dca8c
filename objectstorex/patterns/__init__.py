"""Patterns built on the Store protocol: a distributed lock, an optimistic counter, an HTTP cache.

They depend only on the protocol, the errors and the preconditions, so they work on every
backend with create-only and compare-and-swap writes. See docs/distributed_systems.md for their
guarantees and limits.
"""

from __future__ import annotations

from .counter import BelowMinimumError, ConflictRetriesExhaustedError, OptimisticCounter, UpdateFn
from .http_cache import CacheStats, HTTPCache, Validation
from .lock import DistributedLock, LockedError, LockInfo, LockNotHeldError

__all__ = [
    "BelowMinimumError",
    "CacheStats",
    "ConflictRetriesExhaustedError",
    "DistributedLock",
    "HTTPCache",
    "LockInfo",
    "LockNotHeldError",
    "LockedError",
    "OptimisticCounter",
    "UpdateFn",
    "Validation",
]
