"""OptimisticCounter: an integer in one object, updated by compare-and-swap with retries.

Each update reads the value and its ETag/version, computes the new value and writes it with
``UpdateVersion`` (or ``mode="create"`` when the counter is missing). A lost race raises
``PreconditionError``/``AlreadyExistsError`` inside, and the update is retried after an
exponential backoff with full jitter, up to ``max_attempts``. N concurrent incrementers -- tasks
or separate processes -- never lose an update.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import random
from collections.abc import Awaitable, Callable

from .._store import Store
from .._types import GetResult
from ..errors import AlreadyExistsError, NotFoundError, ObjectStoreError, PreconditionError
from ..preconditions import PutMode, UpdateVersion

__all__ = ["BelowMinimumError", "ConflictRetriesExhaustedError", "OptimisticCounter"]


class BelowMinimumError(ObjectStoreError):
    """A decrement would take the counter below ``min_value``; nothing was written.

    Attributes:
        current: the value seen.
        attempted: the value the update would have written.
        min_value: the floor.
    """

    def __init__(self, key: str, current: int, attempted: int, min_value: int) -> None:
        super().__init__(
            f"counter {key!r} would go below its minimum {min_value} ({current} -> {attempted}); nothing written",
            path=key,
        )
        self.current = current
        self.attempted = attempted
        self.min_value = min_value


class ConflictRetriesExhaustedError(PreconditionError):
    """Every attempt of an update lost its compare-and-swap race."""


UpdateFn = Callable[[int], int] | Callable[[int], Awaitable[int]]


class OptimisticCounter:
    """An integer counter stored as JSON at exactly ``key``.

    Example::

        views = OptimisticCounter(store, "stats/page-views")
        await views.increment()

    Args:
        store: the store.
        key: the counter's object path.
        max_attempts: CAS attempts per update before ``ConflictRetriesExhaustedError``.
        initial_backoff: cap of the first retry delay in seconds (doubles per retry).
        max_backoff: cap of any retry delay in seconds.
    """

    def __init__(
        self,
        store: Store,
        key: str,
        *,
        max_attempts: int = 100,
        initial_backoff: float = 0.005,
        max_backoff: float = 0.5,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.store = store
        self.key = key
        self.max_attempts = max_attempts
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff

    @staticmethod
    def _decode(res: GetResult) -> int:
        value = json.loads(res.data)
        if isinstance(value, dict):
            value = value.get("value")
        if isinstance(value, bool) or not isinstance(value, int):
            raise ObjectStoreError(f"counter {res.meta.location!r} does not hold an integer", path=res.meta.location)
        return value

    async def initialize(self, value: int = 0, *, overwrite: bool = False) -> int:
        """Create the counter with ``value``.

        Raises:
            AlreadyExistsError: the counter exists and ``overwrite`` is false.
        """
        await self.store.put(self.key, json.dumps(value).encode(), mode="overwrite" if overwrite else "create")
        return value

    async def value(self) -> int:
        """The current value.

        Raises:
            NotFoundError: the counter does not exist.
        """
        return self._decode(await self.store.get_object(self.key))

    async def increment(self, by: int = 1) -> int:
        """Add ``by`` and return the new value (a missing counter counts as 0)."""
        return await self.update(lambda v: v + by)

    async def decrement(self, by: int = 1, *, min_value: int | None = None) -> int:
        """Subtract ``by`` and return the new value.

        Raises:
            BelowMinimumError: the result would be below ``min_value`` (nothing written).
        """

        def step(v: int) -> int:
            new = v - by
            if min_value is not None and new < min_value:
                raise BelowMinimumError(self.key, v, new, min_value)
            return new

        return await self.update(step)

    async def update(self, fn: UpdateFn) -> int:
        """Apply ``fn`` (sync or async) to the value by CAS, retrying lost races.

        Returns:
            The value written.

        Raises:
            ConflictRetriesExhaustedError: every attempt lost its race.
        """
        for attempt in range(self.max_attempts):
            mode: PutMode
            try:
                res = await self.store.get_object(self.key)
                current, mode = self._decode(res), UpdateVersion.of(res.meta)
            except NotFoundError:
                current, mode = 0, "create"
            new = fn(current)
            if inspect.isawaitable(new):
                new = await new
            if isinstance(new, bool) or not isinstance(new, int):
                raise TypeError(f"the update function must return an int, not {type(new).__name__}")
            try:
                await self.store.put(self.key, json.dumps(new).encode(), mode=mode)
            except (PreconditionError, AlreadyExistsError):
                delay = min(self.max_backoff, self.initial_backoff * (2**attempt))
                await asyncio.sleep(random.uniform(0, delay))
                continue
            return new
        raise ConflictRetriesExhaustedError(
            f"counter {self.key!r}: all {self.max_attempts} compare-and-swap attempts lost a race", path=self.key
        )
