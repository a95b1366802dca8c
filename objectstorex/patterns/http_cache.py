"""HTTPCache: an in-process cache of objects, revalidated with conditional GETs.

A hit sends ``get_object(path, if_none_match=etag)`` (or ``if_modified_since=last_modified``):
the store answers ``NotModifiedError`` without a body when the object is unchanged, so a hit
costs one round trip and no transfer. A changed object comes back whole and replaces the entry.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from .._store import Store
from ..errors import NotFoundError, NotModifiedError

__all__ = ["HTTPCache"]

Validation = Literal["etag", "modified_since"]


@dataclass(frozen=True, slots=True)
class _Entry:
    data: bytes
    etag: str | None
    last_modified: datetime


class HTTPCache:
    """Cache objects of ``store`` in memory, revalidating each read with a conditional GET.

    Example::

        cache = HTTPCache(store, max_entries=1000)
        data, status = await cache.get("config.json")   # "miss", then "hit" while unchanged

    Args:
        store: the store to read from.
        max_entries: evict the least recently used entry beyond this many (``None``: unbounded).
        validate: ``"etag"`` (If-None-Match) or ``"modified_since"`` (If-Modified-Since, one-second
            granularity: a change within the same second as the cached copy goes unseen).
    """

    def __init__(self, store: Store, *, max_entries: int | None = None, validate: Validation = "etag") -> None:
        if validate not in ("etag", "modified_since"):
            raise ValueError("validate must be 'etag' or 'modified_since'")
        if max_entries is not None and max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.store = store
        self.max_entries = max_entries
        self.validate = validate
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._hits = 0
        self._misses = 0

    async def get(self, path: str) -> tuple[bytes, Literal["hit", "miss"]]:
        """Return the object's bytes and whether the cached copy was still valid.

        Raises:
            NotFoundError: the object does not exist (its entry is dropped).
        """
        entry = self._entries.get(path)
        try:
            if entry is None:
                res = await self.store.get_object(path)
            elif self.validate == "etag" and entry.etag is not None:
                res = await self.store.get_object(path, if_none_match=entry.etag)
            else:
                res = await self.store.get_object(path, if_modified_since=entry.last_modified)
        except NotModifiedError:
            assert entry is not None
            self._hits += 1
            self._entries.move_to_end(path)
            return entry.data, "hit"
        except NotFoundError:
            self._entries.pop(path, None)
            raise
        self._misses += 1
        self._entries[path] = _Entry(res.data, res.meta.etag, res.meta.last_modified)
        self._entries.move_to_end(path)
        if self.max_entries is not None:
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return res.data, "miss"

    def stats(self) -> dict[str, float | int]:
        """``{"hits", "misses", "entries", "hit_rate"}``; hit_rate in percent (0.0 before any request)."""
        total = self._hits + self._misses
        return {
            "hits": self._hits,
            "misses": self._misses,
            "entries": len(self._entries),
            "hit_rate": (100.0 * self._hits / total) if total else 0.0,
        }

    def invalidate(self, path: str) -> None:
        """Drop the cached copy of ``path``."""
        self._entries.pop(path, None)

    def clear(self) -> None:
        """Drop every cached copy (the statistics are kept)."""
        self._entries.clear()
