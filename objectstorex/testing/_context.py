"""The context every conformance check receives, and the known quirk names."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import pytest

from .._store import Store
from .._types import Capabilities

__all__ = ["QUIRKS", "ConformanceContext"]

#: Features an emulator may silently ignore, each mapped to what it affects. An emulator
#: fixture detects them with a probe (a request that must be rejected) and passes their names
#: in; the affected checks then xfail with the reason *before* asserting, so a green run never
#: rests on a condition the server did not evaluate.
QUIRKS: dict[str, str] = {
    "conditional_get": "if_match / if_none_match / if_(un)modified_since on reads are ignored",
    "copy_if_not_exists": "the destination condition of a copy is ignored (copy_if_not_exists overwrites)",
    "delete_if_match": "the condition of a conditional delete is ignored",
    "update_multipart": "compare-and-swap on the completion of a stream (multipart) upload is ignored",
    "create_stream": "create-only mode on stream (multipart/resumable) uploads is ignored",
    "conditional_copy": "conditions on copy requests are ignored (copy/rename_if_not_exists overwrite)",
}

#: Writes in flight at once when a check creates many objects (fast on emulators, gentle on clouds).
_PUT_CONCURRENCY = 8


@dataclass
class ConformanceContext:
    """A store under test, its quirks, and a key prefix unique to one check.

    Checks put every object under :attr:`prefix`, so any number of checks (and concurrent test
    runs) can share one bucket.

    Attributes:
        store: the opened store.
        quirks: names from :data:`QUIRKS` of features the server is known (by probe) to ignore.
        prefix: a key prefix unique to this check.
    """

    store: Store
    quirks: frozenset[str] = frozenset()
    prefix: str = field(default_factory=lambda: f"osx-conformance/{uuid.uuid4().hex[:16]}")

    def __post_init__(self) -> None:
        self.quirks = frozenset(self.quirks)
        unknown = self.quirks - QUIRKS.keys()
        if unknown:
            raise ValueError(f"unknown quirk names: {sorted(unknown)} (known: {sorted(QUIRKS)})")

    @property
    def caps(self) -> Capabilities:
        """The store's capabilities."""
        return self.store.capabilities

    def path(self, name: str) -> str:
        """Return the path of ``name`` under this check's unique prefix."""
        return f"{self.prefix}/{name}"

    def xfail_if_quirk(self, name: str, reason: str) -> None:
        """Stop the check as an expected failure when the server ignores feature ``name``.

        Raises:
            ValueError: ``name`` is not a known quirk (a typo must not silently disable nothing).
        """
        if name not in QUIRKS:
            raise ValueError(f"unknown quirk {name!r}")
        if name in self.quirks:
            pytest.xfail(f"the server ignores this ({name}: {QUIRKS[name]}): {reason}")

    async def names(self, prefix: str | None = None) -> list[str]:
        """Return the locations under ``prefix`` (default: this check's prefix), relative to it."""
        base = self.prefix if prefix is None else prefix
        return [m.location[len(base) + 1 :] async for m in self.store.list(base)]

    async def put_many(self, names: Iterable[str], data: bytes = b"x") -> None:
        """Write ``data`` at each of ``names`` (relative to the prefix), a few at a time."""
        sem = asyncio.Semaphore(_PUT_CONCURRENCY)

        async def one(name: str) -> None:
            async with sem:
                await self.store.put(self.path(name), data)

        await asyncio.gather(*(one(n) for n in names))
