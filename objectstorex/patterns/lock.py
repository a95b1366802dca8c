"""DistributedLock: a lease on one object, taken with create-only and compare-and-swap writes.

The lock object at ``key`` is never deleted: it holds a JSON record ``{holder, token,
acquired_at, ttl, metadata}``, and a released lock is a record with ``holder: null`` that keeps
the last token. So the fencing token survives releases: every acquisition writes ``token + 1``
by CAS on the record it read, and tokens strictly increase across releases and stale takeovers.

* acquire: create-only write on a missing key (token 1), or CAS on a released or stale record.
* release: CAS from exactly the state this holder wrote to a released record; a holder whose
  lease was taken over as stale loses that CAS and changes nothing.
* stale: ``acquired_at + ttl`` (the holder's own ttl, stored in the record) has passed.

A network store may retry a write whose response was lost, and the retry then fails against the
write it already made (``AlreadyExistsError`` / ``PreconditionError``). Every lost race is
therefore followed by a re-read: if the record is the one this instance just wrote, the write
landed and the lock is ours. So is a transient error (``TransportError``: the answer to a write
that landed may have been lost); if the re-read shows the write did not land, it is raised.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

from .._store import Store
from .._types import ObjectMeta, PutResult
from ..errors import AlreadyExistsError, InvalidArgumentError, NotFoundError, ObjectStoreError, PreconditionError
from ..paths import validate_path
from ..preconditions import PutMode, UpdateVersion
from ._util import check_int, check_number, full_jitter

__all__ = ["DistributedLock", "LockInfo", "LockNotHeldError", "LockedError"]

_log = logging.getLogger("objectstorex.patterns")

# How often acquire() re-reads after losing a race to a record that then turned out free (a
# contender that acquired and released in between) before it reports the lock as taken.
_RACE_ROUNDS = 3


@dataclass(frozen=True, slots=True)
class LockInfo:
    """One holder's lock record.

    Attributes:
        key: the lock's object path.
        holder: the holder's id (unique per ``DistributedLock`` instance).
        token: fencing token; strictly increases with each acquisition of ``key``.
        acquired_at: when the lease started or was last refreshed (aware, UTC).
        ttl: lease length in seconds, after which others may take the lock over.
        metadata: the holder's own JSON metadata.
    """

    key: str
    holder: str
    token: int
    acquired_at: datetime
    ttl: float
    metadata: Mapping[str, object] = field(default_factory=dict)

    def expires_at(self) -> datetime:
        """When the lease becomes stale (``acquired_at + ttl``)."""
        return self.acquired_at + timedelta(seconds=self.ttl)

    def is_stale(self, now: datetime | None = None) -> bool:
        """Whether the lease has expired, by this machine's clock (or ``now``)."""
        return (now or datetime.now(UTC)) >= self.expires_at()


class LockedError(ObjectStoreError):
    """The lock is held by another holder whose lease is live.

    Attributes:
        info: the current holder's record.
    """

    def __init__(self, info: LockInfo) -> None:
        super().__init__(
            f"lock {info.key!r} is held by {info.holder!r} (token {info.token}) until {info.expires_at().isoformat()}",
            path=info.key,
        )
        self.info = info


class LockNotHeldError(ObjectStoreError):
    """``refresh()`` on a lock this instance does not hold (never acquired, released, or lost).

    Attributes:
        info: the record of whoever holds the lock now, or ``None`` when nobody does.
    """

    def __init__(self, key: str, info: LockInfo | None) -> None:
        who = f"held by {info.holder!r} (token {info.token})" if info else "not held"
        super().__init__(f"lock {key!r} is not held by this instance: it is {who}", path=key)
        self.info = info


@dataclass(frozen=True, slots=True)
class _Record:
    """A parsed lock object and the state it was read in (for the next CAS)."""

    holder: str | None
    token: int
    acquired_at: datetime
    ttl: float
    metadata: Mapping[str, object]
    released_by: str | None
    state: UpdateVersion

    def info(self, key: str) -> LockInfo:
        return LockInfo(key, self.holder or "", self.token, self.acquired_at, self.ttl, dict(self.metadata))

    def live(self, now: datetime) -> bool:
        """Held by someone whose lease has not expired."""
        return self.holder is not None and not self.info("").is_stale(now)


def _parse(key: str, data: bytes, meta: ObjectMeta) -> _Record:
    try:
        doc = json.loads(data)
        holder = doc["holder"]
        token = doc["token"]
        acquired_at = datetime.fromisoformat(doc["acquired_at"])
        ttl = float(doc["ttl"])
        metadata = doc.get("metadata") or {}
        released_by = doc.get("released_by")
        if (
            (holder is not None and not isinstance(holder, str))
            or isinstance(token, bool)
            or not isinstance(token, int)
            or acquired_at.tzinfo is None
            or not isinstance(metadata, dict)
        ):
            raise ValueError("a field has the wrong type")
    except (ValueError, KeyError, TypeError) as e:
        # Someone else wrote this key: refuse to guess, and never overwrite it.
        raise ObjectStoreError(f"object {key!r} is not a DistributedLock record ({e})", path=key) from e
    return _Record(holder, token, acquired_at, ttl, metadata, released_by, UpdateVersion.of(meta))


def _encode(
    holder: str | None,
    token: int,
    acquired_at: datetime,
    ttl: float,
    metadata: Mapping[str, object],
    released_by: str | None = None,
) -> bytes:
    doc: dict[str, object] = {
        "holder": holder,
        "token": token,
        "acquired_at": acquired_at.isoformat(),
        "ttl": ttl,
        "metadata": dict(metadata),
    }
    if released_by is not None:
        doc["released_by"] = released_by
    return json.dumps(doc, sort_keys=True).encode()


class DistributedLock:
    """A lease-based lock on ``key``, for any store with create-only and CAS writes.

    Example::

        lock = DistributedLock(store, "locks/reindex", ttl=30)
        async with lock:  # acquire_with_retry(), then release() on exit
            await reindex(fencing_token=lock.token)

    One instance is one holder; it is not re-entrant (acquiring a lock it already holds raises
    ``LockedError``). Never delete the lock object: it carries the fencing token.

    Args:
        store: the store holding the lock object.
        key: the lock object's path.
        ttl: lease length in seconds; a lock whose lease is older than its ttl may be taken over.
        metadata: JSON-serialisable data stored in the record (who, why), shown to contenders.

    Attributes:
        holder: this instance's holder id, written in the lock record while it holds the lock.

    Raises:
        InvalidPathError: ``key`` is not a valid path.
        InvalidArgumentError: ``ttl`` is not a positive number, or ``metadata`` is not JSON.
    """

    def __init__(
        self,
        store: Store,
        key: str,
        *,
        ttl: float = 30.0,
        metadata: Mapping[str, object] | None = None,
    ) -> None:
        self.key = validate_path(key)
        self.ttl = check_number("ttl", ttl, positive=True, path=self.key)
        if metadata is not None and not isinstance(metadata, Mapping):
            raise InvalidArgumentError("metadata must be a mapping", path=self.key)
        self.metadata: dict[str, object] = dict(metadata or {})
        try:
            json.dumps(self.metadata)
        except (TypeError, ValueError) as e:
            raise InvalidArgumentError(f"metadata must be JSON-serialisable ({e})", path=self.key) from e
        self.store = store
        self.holder = uuid.uuid4().hex
        self._state: UpdateVersion | None = None  # the state of our record while we hold it
        self._token: int | None = None
        self._lease_end: datetime | None = None  # when our latest acquisition or refresh expires

    def __repr__(self) -> str:
        return f"DistributedLock(key={self.key!r}, holder={self.holder!r}, held={self.held}, token={self._token})"

    @property
    def token(self) -> int | None:
        """The fencing token of this instance's latest acquisition (``None`` before the first).

        Pass it to the resource the lock protects, which should reject a token lower than the
        highest it has seen (see docs/distributed_systems.md).
        """
        return self._token

    @property
    def held(self) -> bool:
        """Whether this instance believes it holds the lock (its lease may have expired since)."""
        return self._state is not None

    # ------------------------------------------------------------------------------ internals

    async def _read(self) -> _Record | None:
        try:
            res = await self.store.get_object(self.key)
        except NotFoundError:
            return None
        return _parse(self.key, res.data, res.meta)

    def _mine(self, record: _Record | None, token: int, at: datetime) -> bool:
        """Whether ``record`` is exactly what this instance just wrote (a landed write)."""
        return (
            record is not None and record.holder == self.holder and record.token == token and record.acquired_at == at
        )

    def _take(self, token: int, state: UpdateVersion | PutResult, at: datetime) -> LockInfo:
        self._state = state if isinstance(state, UpdateVersion) else UpdateVersion.of(state)
        self._token = token
        self._lease_end = at + timedelta(seconds=self.ttl)
        return LockInfo(self.key, self.holder, token, at, self.ttl, dict(self.metadata))

    async def _write(self, token: int, at: datetime, mode: PutMode) -> tuple[LockInfo | None, _Record | None]:
        """Write our record with ``mode``.

        Returns:
            ``(info, None)`` when it was written, else ``(None, the record found instead)``.
        """
        body = _encode(self.holder, token, at, self.ttl, self.metadata)
        try:
            result = await self.store.put(self.key, body, mode=mode)
        except (AlreadyExistsError, PreconditionError):
            latest = await self._read()
            if self._mine(latest, token, at):
                assert latest is not None
                return self._take(token, latest.state, at), None  # our write landed; its retry lost
            return None, latest
        except ObjectStoreError as e:
            # A transient failure may hide a write that landed (its answer was lost): a re-read tells.
            found = await self._read() if e.retryable else None
            if found is None or not self._mine(found, token, at):
                raise
            return self._take(token, found.state, at), None
        return self._take(token, result, at), None

    # ------------------------------------------------------------------------------ public API

    async def acquire(self) -> LockInfo:
        """Take the lock once, without waiting.

        Returns:
            The new lock record (``token`` is the fencing token).

        Raises:
            LockedError: another holder's lease is live (``.info`` says whose), or contenders
                kept winning the race for it.
            ObjectStoreError: the store failed, or ``key`` holds something that is not a lock.
        """
        latest: _Record | None = None
        for _ in range(_RACE_ROUNDS):
            now = datetime.now(UTC)
            current = await self._read()
            if current is not None and current.live(now):
                raise LockedError(current.info(self.key))
            if current is None:
                taken, latest = await self._write(1, now, "create")
            else:
                # Released or stale: take it over by CAS on exactly the record we judged, never
                # delete-then-create (two contenders could both "win" that way).
                taken, latest = await self._write(current.token + 1, now, current.state)
            if taken is not None:
                return taken
            if latest is not None and latest.live(datetime.now(UTC)):
                raise LockedError(latest.info(self.key))
            # The winner already released (or its lease is over): try again.
        # Contenders keep taking and releasing it faster than we can: report the last one seen.
        if latest is None:
            raise LockedError(LockInfo(self.key, "", 0, datetime.now(UTC), 0.0))
        raise LockedError(latest.info(self.key))

    async def acquire_with_retry(
        self,
        max_retries: int = 5,
        initial_delay: float = 0.1,
        *,
        max_delay: float = 5.0,
    ) -> LockInfo:
        """Take the lock, retrying while it is held, with exponential backoff and full jitter.

        Retry ``n`` (0-based) waits ``uniform(0, min(max_delay, initial_delay * 2**n))``.

        Args:
            max_retries: retries after the first attempt.
            initial_delay: cap of the first delay in seconds; it doubles each retry.
            max_delay: cap of any delay in seconds.

        Returns:
            The new lock record.

        Raises:
            LockedError: still held after the last retry.
            InvalidArgumentError: a negative or non-numeric argument.
        """
        check_int("max_retries", max_retries, minimum=0, path=self.key)
        initial = check_number("initial_delay", initial_delay, path=self.key)
        cap = check_number("max_delay", max_delay, path=self.key)
        attempt = 0
        while True:
            try:
                return await self.acquire()
            except LockedError:
                if attempt >= max_retries:
                    raise
            await asyncio.sleep(full_jitter(attempt, initial, cap))
            attempt += 1

    async def release(self) -> bool:
        """Release the lock if this instance still holds it.

        Returns:
            True when this holder's lock was released; False (nothing changed) when the lock is
            no longer held by it (never acquired, released already, or taken over as stale).

        Raises:
            ObjectStoreError: the store failed; the lock is still considered held, so the
                call can be repeated.
        """
        if self._state is None or self._token is None:
            return False
        token, state = self._token, self._state
        body = _encode(None, token, datetime.now(UTC), 0.0, {}, released_by=self.holder)
        try:
            await self.store.put(self.key, body, mode=state)
        except PreconditionError:
            self._state = None
            latest = await self._read()
            # A released record with our token can only be ours: a retried release that landed.
            return (
                latest is not None
                and latest.holder is None
                and latest.token == token
                and latest.released_by == self.holder
            )
        except ObjectStoreError as e:
            # The release may have landed with its answer lost: a re-read tells; else still held.
            found = await self._read() if e.retryable else None
            if found is not None and found.token > token:
                # The lock moved on: our release freed it, unless our lease had expired and
                # someone took it over as stale (then our release could not have landed).
                self._state = None
                return self._lease_end is not None and datetime.now(UTC) < self._lease_end
            if found is None or not (
                found.holder is None and found.token == token and found.released_by == self.holder
            ):
                raise
        self._state = None
        return True

    async def refresh(self) -> LockInfo:
        """Extend the lease of a held lock by CAS; the token stays the same.

        Returns:
            The updated record (``acquired_at`` is now).

        Raises:
            LockNotHeldError: this instance does not hold the lock (``.info``: who does).
            ObjectStoreError: the store failed.
        """
        if self._state is None or self._token is None:
            current = await self._read()
            raise LockNotHeldError(self.key, current.info(self.key) if current and current.holder else None)
        taken, current = await self._write(self._token, datetime.now(UTC), self._state)
        if taken is not None:
            return taken
        self._state = None
        raise LockNotHeldError(self.key, current.info(self.key) if current and current.holder else None)

    async def __aenter__(self) -> Self:
        """Acquire with ``acquire_with_retry()`` and its defaults."""
        await self.acquire_with_retry()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Release; warn (log) when the lease was lost during the block."""
        if not await self.release():
            _log.warning("lock %r was taken over before its holder released it (lease expired)", self.key)
