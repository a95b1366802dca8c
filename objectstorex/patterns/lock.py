"""DistributedLock: a lease on one object, taken with create-only and compare-and-swap writes.

The lock object at ``key`` is never deleted: it holds a JSON record ``{holder, token,
acquired_at, ttl, metadata}`` and a released lock is a record with ``holder: null``. That keeps
the fencing token: every acquisition writes ``token + 1`` by CAS on the record it read, so tokens
strictly increase even across releases and stale takeovers.

* acquire: create-only on a missing key (token 1), or CAS on a released or stale record.
* release: CAS to a released record, on the exact state this holder wrote -- a holder whose lease
  was taken over as stale fails the CAS and changes nothing.
* stale: ``acquired_at + ttl`` (the holder's own ttl, stored in the record) is in the past.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from .._store import Store
from .._types import PutResult
from ..errors import AlreadyExistsError, NotFoundError, ObjectStoreError, PreconditionError
from ..preconditions import UpdateVersion

__all__ = ["DistributedLock", "LockInfo", "LockedError"]


@dataclass(frozen=True, slots=True)
class LockInfo:
    """A lock record.

    Attributes:
        key: the lock's object path.
        holder: the holder's id (unique per ``DistributedLock`` instance).
        token: fencing token; strictly increases with each acquisition of ``key``.
        acquired_at: when the lease started or was last refreshed (aware UTC).
        ttl: lease length in seconds, after which others may take the lock over.
        metadata: the holder's own metadata.
    """

    key: str
    holder: str
    token: int
    acquired_at: datetime
    ttl: float
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def expires_at(self) -> datetime:
        """When the lease becomes stale."""
        return self.acquired_at + timedelta(seconds=self.ttl)

    def is_stale(self, now: datetime | None = None) -> bool:
        """Whether the lease has expired (by this machine's clock)."""
        return (now or datetime.now(UTC)) >= self.expires_at()


class LockedError(ObjectStoreError):
    """The lock is held by someone else; ``.info`` is the current holder's record."""

    def __init__(self, info: LockInfo) -> None:
        super().__init__(
            f"lock {info.key!r} is held by {info.holder!r} until {info.expires_at().isoformat()}",
            path=info.key,
        )
        self.info = info


@dataclass(frozen=True, slots=True)
class _Record:
    holder: str | None
    token: int
    acquired_at: datetime
    ttl: float
    metadata: Mapping[str, Any]
    version: UpdateVersion

    @classmethod
    def parse(cls, data: bytes, version: UpdateVersion) -> _Record:
        doc = json.loads(data)
        return cls(
            holder=doc.get("holder"),
            token=int(doc.get("token", 0)),
            acquired_at=datetime.fromisoformat(doc["acquired_at"]),
            ttl=float(doc.get("ttl", 0.0)),
            metadata=doc.get("metadata") or {},
            version=version,
        )

    def info(self, key: str) -> LockInfo:
        return LockInfo(key, self.holder or "", self.token, self.acquired_at, self.ttl, dict(self.metadata))


def _encode(holder: str | None, token: int, acquired_at: datetime, ttl: float, metadata: Mapping[str, Any]) -> bytes:
    return json.dumps(
        {
            "holder": holder,
            "token": token,
            "acquired_at": acquired_at.isoformat(),
            "ttl": ttl,
            "metadata": dict(metadata),
        },
        sort_keys=True,
    ).encode()


class DistributedLock:
    """A lease-based lock on ``key`` in any store with create-only and CAS writes.

    Example::

        lock = DistributedLock(store, "locks/reindex", ttl=30)
        async with lock:
            await reindex(fencing_token=lock.token)

    Args:
        store: the store holding the lock object.
        key: the lock object's path.
        ttl: lease length in seconds; a lock older than its ttl may be taken over.
        metadata: JSON-serialisable data stored in the record (who, why).
    """

    def __init__(self, store: Store, key: str, *, ttl: float = 30.0, metadata: Mapping[str, Any] | None = None) -> None:
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
            raise ValueError("ttl must be a positive number of seconds")
        self.store = store
        self.key = key
        self.ttl = float(ttl)
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.holder = uuid.uuid4().hex
        self._held: tuple[int, UpdateVersion, datetime] | None = None

    @property
    def token(self) -> int | None:
        """The fencing token of the current acquisition, or ``None`` when not held."""
        return self._held[0] if self._held else None

    @property
    def held(self) -> bool:
        """Whether this instance believes it holds the lock (its lease may have expired)."""
        return self._held is not None

    async def _read(self) -> _Record | None:
        try:
            res = await self.store.get_object(self.key)
        except NotFoundError:
            return None
        return _Record.parse(res.data, UpdateVersion.of(res.meta))

    def _took(self, token: int, result: PutResult, now: datetime) -> LockInfo:
        self._held = (token, UpdateVersion(etag=result.etag, version=result.version), now)
        return LockInfo(self.key, self.holder, token, now, self.ttl, dict(self.metadata))

    async def acquire(self) -> LockInfo:
        """Take the lock once.

        Returns:
            The new lock record.

        Raises:
            LockedError: another holder's lease is live (``.info`` says whose).
            ObjectStoreError: the store failed.
        """
        now = datetime.now(UTC)
        current = await self._read()
        if current is None:
            try:
                result = await self.store.put(
                    self.key, _encode(self.holder, 1, now, self.ttl, self.metadata), mode="create"
                )
            except AlreadyExistsError:
                current = await self._read()
                if current is None:
                    raise LockedError(LockInfo(self.key, "", 0, now, 0.0)) from None
                raise LockedError(current.info(self.key)) from None
            return self._took(1, result, now)
        if current.holder is not None and not current.info(self.key).is_stale(now):
            raise LockedError(current.info(self.key))
        # Released or stale: take it over by CAS on exactly the record we judged.
        token = current.token + 1
        try:
            result = await self.store.put(
                self.key, _encode(self.holder, token, now, self.ttl, self.metadata), mode=current.version
            )
        except PreconditionError:
            latest = await self._read()
            raise LockedError((latest or current).info(self.key)) from None
        return self._took(token, result, now)

    async def acquire_with_retry(self, max_retries: int = 5, initial_delay: float = 0.1) -> LockInfo:
        """Take the lock, retrying while it is held with exponential backoff and full jitter.

        Args:
            max_retries: retries after the first attempt.
            initial_delay: cap of the first delay in seconds; it doubles each retry.

        Raises:
            LockedError: still held after the last retry.
        """
        for attempt in range(max_retries + 1):
            try:
                return await self.acquire()
            except LockedError:
                if attempt == max_retries:
                    raise
                await asyncio.sleep(random.uniform(0, initial_delay * (2**attempt)))
        raise AssertionError("unreachable")  # pragma: no cover

    async def release(self) -> bool:
        """Release the lock if this instance still holds it.

        Returns:
            True when this holder's lock was released; False (nothing changed) when the lock is
            no longer held by it (never acquired, released already, or taken over as stale).
        """
        if self._held is None:
            return False
        token, version, _ = self._held
        self._held = None
        try:
            await self.store.put(self.key, _encode(None, token, datetime.now(UTC), 0.0, {}), mode=version)
        except (PreconditionError, NotFoundError):
            return False
        return True

    async def refresh(self) -> LockInfo:
        """Extend the lease of a held lock by CAS (the token stays).

        Raises:
            LockedError: the lock is no longer held by this instance.
        """
        if self._held is None:
            current = await self._read()
            if current is None:
                raise NotFoundError(f"lock {self.key!r} does not exist", path=self.key)
            raise LockedError(current.info(self.key))
        token, version, _ = self._held
        now = datetime.now(UTC)
        try:
            result = await self.store.put(
                self.key, _encode(self.holder, token, now, self.ttl, self.metadata), mode=version
            )
        except PreconditionError:
            self._held = None
            latest = await self._read()
            if latest is None:
                raise NotFoundError(f"lock {self.key!r} does not exist", path=self.key) from None
            raise LockedError(latest.info(self.key)) from None
        return self._took(token, result, now)

    async def __aenter__(self) -> Self:
        await self.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.release()
