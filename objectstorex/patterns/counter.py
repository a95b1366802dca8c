"""OptimisticCounter: an integer in one object, updated by compare-and-swap with retries.

Each update reads the value and its ETag/version, computes the new value and writes it with
``UpdateVersion`` (or ``mode="create"`` when the counter is missing). A lost race
(``PreconditionError`` / ``AlreadyExistsError``) is retried after an exponential backoff with full
jitter, up to ``max_attempts`` attempts. N concurrent incrementers -- tasks or separate processes
-- never lose an update, because only a write based on the current state can succeed.

Nor do they count one twice when the answer to a write is lost (a ``TransportError`` after the
write landed, or a store's retry that then fails against the write it already made): every
write carries a random id, and the object's user metadata keeps the ids of its last
:data:`HISTORY` writes. After a lost answer or a lost race the counter re-reads, and an id of its
own in that history means its write landed -- the update is done, with the value it wrote. (On a
store that keeps no user metadata, a transient error is raised as before.)
"""

from __future__ import annotations

import asyncio
import inspect
import json
import secrets
from collections.abc import Awaitable, Callable, Mapping

from .._store import Store
from .._types import ObjectMeta, PutResult
from ..errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    NotFoundError,
    ObjectStoreError,
    PreconditionError,
)
from ..paths import validate_path
from ..preconditions import PutMode, UpdateVersion
from ._util import check_int, check_number, full_jitter

__all__ = ["BelowMinimumError", "ConflictRetriesExhaustedError", "OptimisticCounter", "UpdateFn"]

#: The user-metadata key holding the ids of the last writes (a valid Azure metadata name too).
WRITES_KEY = "osx_counter_writes"
#: How many write ids the object keeps: a lost answer is recognised while fewer than this many
#: writes have followed it (the re-read comes right after the failure, so a handful at most).
HISTORY = 32


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
    """Every attempt of an update lost its compare-and-swap race to other writers.

    Attributes:
        attempts: how many attempts were made.
    """

    def __init__(self, key: str, attempts: int) -> None:
        super().__init__(
            f"counter {key!r}: all {attempts} compare-and-swap attempts lost a race to other writers "
            "(raise max_attempts, or shard a hot counter over several keys)",
            path=key,
        )
        self.attempts = attempts


#: An update function: the current value in, the new value out (a plain or ``async`` function).
UpdateFn = Callable[[int], int] | Callable[[int], Awaitable[int]]


def _decode(key: str, data: bytes) -> int:
    try:
        value = json.loads(data)
    except ValueError as e:
        raise ObjectStoreError(f"counter {key!r} does not hold JSON ({e})", path=key) from e
    if isinstance(value, bool) or not isinstance(value, int):
        raise ObjectStoreError(f"counter {key!r} does not hold a JSON integer", path=key)
    return value


def _encode(value: int) -> bytes:
    return json.dumps(value).encode()


def _history(metadata: Mapping[str, str]) -> tuple[str, ...]:
    """The write ids kept in an object's user metadata, oldest first."""
    return tuple((metadata.get(WRITES_KEY) or "").split())


def _new_id() -> str:
    # 48 random bits: two writers of one counter never draw the same id in practice.
    return secrets.token_hex(6)


class OptimisticCounter:
    """An integer counter stored as JSON (e.g. ``42``) at exactly ``key``.

    Example::

        views = OptimisticCounter(store, "stats/page-views")
        await views.increment()  # -> the new value; a missing counter counts as 0

    Args:
        store: the store (needs create-only and CAS writes).
        key: the counter's object path.
        max_attempts: CAS attempts per update before ``ConflictRetriesExhaustedError``.
        initial_backoff: cap of the first retry delay in seconds (doubles per retry).
        max_backoff: cap of any retry delay in seconds.

    Raises:
        InvalidPathError: ``key`` is not a valid path.
        InvalidArgumentError: a retry setting is out of range.
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
        self.key = validate_path(key)
        self.max_attempts = check_int("max_attempts", max_attempts, minimum=1, path=self.key)
        self.initial_backoff = check_number("initial_backoff", initial_backoff, path=self.key)
        self.max_backoff = check_number("max_backoff", max_backoff, path=self.key)
        self.store = store
        # The last state this instance read or wrote (value, state, write ids): the next update
        # tries CAS on it first and so saves a read when nobody else wrote in between (a stale
        # guess just loses the CAS).
        self._last: tuple[int, UpdateVersion, tuple[str, ...]] | None = None

    def __repr__(self) -> str:
        return f"OptimisticCounter(key={self.key!r})"

    def _remember(self, value: int, state: ObjectMeta | PutResult, history: tuple[str, ...]) -> None:
        if state.etag is None and state.version is None:
            self._last = None
        else:
            self._last = (value, UpdateVersion.of(state), history)

    def _metadata(self, history: tuple[str, ...]) -> dict[str, str] | None:
        """The metadata of a write whose ids are ``history`` (None: the store keeps none)."""
        if "metadata" not in self.store.capabilities.attributes:
            return None
        return {WRITES_KEY: " ".join(history)}

    async def _recognise(self, mine: Mapping[str, int]) -> int | None:
        """After a lost answer: the value of our write if it landed (re-read now), else None."""
        _, _, history = await self._read()
        return _landed(mine, history)

    async def initialize(self, value: int = 0, *, overwrite: bool = False) -> int:
        """Create the counter with ``value``.

        Args:
            value: the initial value.
            overwrite: reset an existing counter instead of failing.

        Returns:
            ``value``.

        Raises:
            AlreadyExistsError: the counter exists and ``overwrite`` is false.
            InvalidArgumentError: ``value`` is not an int.
        """
        check_int("value", value, path=self.key)
        wid = _new_id()
        mine = {wid: value}
        try:
            result = await self.store.put(
                self.key,
                _encode(value),
                mode="overwrite" if overwrite else "create",
                metadata=self._metadata((wid,)),
            )
        except ObjectStoreError as e:
            # A lost answer, or a retry that found our own create: did our write land?
            if not (e.retryable or isinstance(e, AlreadyExistsError)) or await self._recognise(mine) is None:
                raise
            return value
        self._remember(value, result, (wid,))
        return value

    async def value(self) -> int:
        """The current value.

        Raises:
            NotFoundError: the counter does not exist.
            ObjectStoreError: the object at ``key`` is not a JSON integer.
        """
        res = await self.store.get_object(self.key)
        value = _decode(self.key, res.data)
        self._remember(value, res.meta, _history(res.attributes.metadata))
        return value

    async def increment(self, by: int = 1) -> int:
        """Add ``by`` and return the new value (a missing counter counts as 0).

        Raises:
            ConflictRetriesExhaustedError: every attempt lost its race.
        """
        check_int("by", by, path=self.key)
        return await self.update(lambda v: v + by)

    async def decrement(self, by: int = 1, *, min_value: int | None = None) -> int:
        """Subtract ``by`` and return the new value (a missing counter counts as 0).

        Args:
            by: the amount to subtract.
            min_value: the floor the result may not go below.

        Raises:
            BelowMinimumError: the result would be below ``min_value``; nothing was written.
            ConflictRetriesExhaustedError: every attempt lost its race.
        """
        check_int("by", by, path=self.key)
        if min_value is not None:
            check_int("min_value", min_value, path=self.key)

        def step(v: int) -> int:
            new = v - by
            if min_value is not None and new < min_value:
                raise BelowMinimumError(self.key, v, new, min_value)
            return new

        return await self.update(step)

    async def _read(self) -> tuple[int, PutMode, tuple[str, ...]]:
        """The value, the mode of a write based on it, and the ids of the writes that made it."""
        try:
            res = await self.store.get_object(self.key)
        except NotFoundError:
            return 0, "create", ()
        return _decode(self.key, res.data), UpdateVersion.of(res.meta), _history(res.attributes.metadata)

    async def update(self, fn: UpdateFn) -> int:
        """Replace the value with ``fn(value)`` by CAS, retrying lost races.

        ``fn`` may be called several times (once per attempt), so it should have no side
        effects; an exception it raises aborts the update with nothing written.

        Args:
            fn: the new value from the current one (a plain or ``async`` function).

        Returns:
            The value written.

        Raises:
            ConflictRetriesExhaustedError: every attempt lost its race.
            InvalidArgumentError: ``fn`` returned something other than an int.
            TransportError: the store failed and a re-read shows the write did not land
                (nothing was written: the call can be repeated).
        """
        if not callable(fn):
            raise InvalidArgumentError("fn must be callable", path=self.key)
        guess, self._last = self._last, None
        mine: dict[str, int] = {}  # the id -> value of each write this call sent
        attempt = 0  # attempts on a fresh read; a try on the remembered state is extra
        while attempt < self.max_attempts:
            mode: PutMode
            history: tuple[str, ...]
            if guess is not None:
                current, mode, history = guess
            else:
                current, mode, history = await self._read()
                landed = _landed(mine, history)
                if landed is not None:
                    return landed  # a race "lost" to our own earlier write: its retry found it
            try:
                new = fn(current)
                if inspect.isawaitable(new):
                    new = await new
            except Exception:
                if guess is None:
                    raise
                guess = None  # judged a possibly stale value (e.g. a min_value): judge a fresh one
                continue
            if isinstance(new, bool) or not isinstance(new, int):
                raise InvalidArgumentError(
                    f"the update function must return an int, not {type(new).__name__}", path=self.key
                )
            wid = _new_id()
            mine[wid] = new
            history = (*history, wid)[-HISTORY:]
            try:
                result = await self.store.put(self.key, _encode(new), mode=mode, metadata=self._metadata(history))
            except (PreconditionError, AlreadyExistsError):
                if guess is not None:
                    guess = None  # the remembered state was stale: re-read at once, no backoff
                    continue
                attempt += 1
                if attempt < self.max_attempts:
                    await asyncio.sleep(full_jitter(attempt - 1, self.initial_backoff, self.max_backoff))
                continue
            except ObjectStoreError as e:
                # The answer may be lost while the write landed: a re-read tells (never retry
                # blindly, that could count the update twice).
                landed = await self._recognise(mine) if e.retryable else None
                if landed is None:
                    raise
                return landed
            self._remember(new, result, history)
            return new
        landed = await self._recognise(mine)  # the last race may have been lost to our own write
        if landed is not None:
            return landed
        raise ConflictRetriesExhaustedError(self.key, self.max_attempts)


def _landed(mine: Mapping[str, int], history: tuple[str, ...]) -> int | None:
    """The value of our latest write (ids ``mine``) that ``history`` shows landed, or None.

    The value stored now may include later writes by others: ours is the one we wrote.
    """
    for wid in reversed(history):
        if wid in mine:
            return mine[wid]
    return None
