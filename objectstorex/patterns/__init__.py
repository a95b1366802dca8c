"""Patterns built on the Store protocol: a distributed lock, an optimistic counter, an HTTP cache.

They depend only on the protocol and the errors, so they work on every backend.
"""

from __future__ import annotations

from .counter import BelowMinimumError, ConflictRetriesExhaustedError, OptimisticCounter
from .http_cache import HTTPCache
from .lock import DistributedLock, LockedError, LockInfo

__all__ = [
    "BelowMinimumError",
    "ConflictRetriesExhaustedError",
    "DistributedLock",
    "HTTPCache",
    "LockInfo",
    "LockedError",
    "OptimisticCounter",
]
