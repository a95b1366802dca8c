"""HTTPCache: an in-process cache of objects, revalidated with conditional GETs.

A hit sends ``get_object(path, if_none_match=etag)`` (or ``if_modified_since=last_modified``);
the store answers ``NotModifiedError`` without a body when the object is unchanged, so a hit
costs one round trip and no transfer. A changed object comes back whole and replaces the entry.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal, TypedDict

from .._store import Store
from .._types import GetResult
from ..errors import InvalidArgumentError, NotFoundError, NotModifiedError
from ..preconditions import normalize_etag
from ._util import check_int

__all__ = ["CacheStats", "HTTPCache", "Validation"]

#: How a cached copy is revalidated.
Validation = Literal["etag", "modified_since"]

# If-Modified-Since has one-second granularity, so a copy last checked within the second of its
# Last-Modified (plus this allowance for clock skew between us and the store) cannot tell a later
# change in that same second; such a copy is revalidated by ETag when it has one.
_SAME_SECOND_ALLOWANCE = timedelta(seconds=1)


class CacheStats(TypedDict):
    """What ``HTTPCache.stats()`` returns.

    Attributes:
        hits: reads answered from the cached copy (unchanged on the store).
        misses: reads that fetched the object.
        entries: objects held in the cache.
        hit_rate: hits as a percentage of reads (50.0 after one hit and one miss; 0.0 before any).
    """

    hits: int
    misses: int
    entries: int
    hit_rate: float


@dataclass(frozen=True, slots=True)
class _Entry:
    data: bytes
    etag: str | None
    last_modified: datetime
    checked_at: datetime  # when the request that last confirmed this copy was sent

    def ambiguous_by_date(self) -> bool:
        """Whether a change in the same second as ``last_modified`` could still be unseen."""
        second_over = self.last_modified.replace(microsecond=0) + timedelta(seconds=1)
        return self.checked_at < second_over + _SAME_SECOND_ALLOWANCE


class HTTPCache:
    """Cache objects of ``store`` in memory, revalidating every read with a conditional GET.

    Example::

        cache = HTTPCache(store, max_entries=1000)
        data, status = await cache.get("config.json")  # "miss", then "hit" while unchanged
        cache.stats()  # {"hits": 1, "misses": 1, "entries": 1, "hit_rate": 50.0}

    Args:
        store: the store to read from.
        max_entries: evict the least recently used entry beyond this many (``None``: unbounded).
        validate: ``"etag"`` (``if_none_match``, exact) or ``"modified_since"``
            (``if_modified_since``). HTTP dates have one-second granularity, so in that mode a
            copy confirmed within a second (plus one for clock skew) of its ``last_modified``
            is revalidated by ETag instead, and a change within that second is still seen.

    Raises:
        InvalidArgumentError: an unknown ``validate`` or a ``max_entries`` below 1.
    """

    def __init__(self, store: Store, *, max_entries: int | None = None, validate: Validation = "etag") -> None:
        if validate not in ("etag", "modified_since"):
            raise InvalidArgumentError(f"validate must be 'etag' or 'modified_since', got {validate!r}")
        if max_entries is not None:
            check_int("max_entries", max_entries, minimum=1)
        self.store = store
        self.max_entries = max_entries
        self.validate: Validation = validate
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._hits = 0
        self._misses = 0

    def __repr__(self) -> str:
        return f"HTTPCache(validate={self.validate!r}, max_entries={self.max_entries}, entries={len(self._entries)})"

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, path: object) -> bool:
        return path in self._entries

    async def _fetch(self, path: str, entry: _Entry | None) -> GetResult | None:
        """The object, or None when the cached copy is still current (nothing transferred)."""
        try:
            if entry is None:
                return await self.store.get_object(path)
            by_etag = self.validate == "etag" or entry.ambiguous_by_date()
            if by_etag and entry.etag is not None:
                return await self.store.get_object(path, if_none_match=entry.etag)
            return await self.store.get_object(path, if_modified_since=entry.last_modified)
        except NotModifiedError:
            return None

    @staticmethod
    def _unchanged(entry: _Entry, res: GetResult) -> bool:
        # A server that ignores the condition sends the body anyway; the same ETag still means
        # the same object, so the cached copy was valid (a hit, though the bytes were sent).
        meta = res.meta
        if entry.etag is None or meta.etag is None:
            return False
        return normalize_etag(entry.etag) == normalize_etag(meta.etag) and entry.data == res.data

    async def get(self, path: str) -> tuple[bytes, Literal["hit", "miss"]]:
        """Return the object's bytes and whether the cached copy was still valid.

        Args:
            path: the object's path.

        Returns:
            ``(data, "hit")`` when the cached copy was current, else ``(data, "miss")``.

        Raises:
            NotFoundError: the object does not exist (a cached copy of it is dropped).
            ObjectStoreError: the store failed.
        """
        entry = self._entries.get(path)
        sent_at = datetime.now(UTC)
        try:
            res = await self._fetch(path, entry)
        except NotFoundError:
            self._entries.pop(path, None)
            raise
        if entry is not None and (res is None or self._unchanged(entry, res)):
            self._hits += 1
            if self._entries.get(path) is entry:  # invalidate()/clear() may have run meanwhile
                self._entries[path] = replace(entry, checked_at=sent_at)
                self._entries.move_to_end(path)
            return entry.data, "hit"
        assert res is not None
        self._misses += 1
        self._entries[path] = _Entry(res.data, res.meta.etag, res.meta.last_modified, sent_at)
        self._entries.move_to_end(path)
        if self.max_entries is not None:
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return res.data, "miss"

    def stats(self) -> CacheStats:
        """Counts since the cache was created.

        Returns:
            ``{"hits", "misses", "entries", "hit_rate"}``; ``hit_rate`` is a percentage
            (50.0 after one hit and one miss; 0.0 before any request).
        """
        total = self._hits + self._misses
        return {
            "hits": self._hits,
            "misses": self._misses,
            "entries": len(self._entries),
            "hit_rate": (100.0 * self._hits / total) if total else 0.0,
        }

    def invalidate(self, path: str) -> None:
        """Drop the cached copy of ``path`` (the next ``get`` is a miss)."""
        self._entries.pop(path, None)

    def clear(self) -> None:
        """Drop every cached copy; the statistics are kept."""
        self._entries.clear()
