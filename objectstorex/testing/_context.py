"""The context every conformance check receives."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest

from .._store import Store
from .._types import Capabilities

__all__ = ["QUIRKS", "ConformanceContext"]

#: Names of features an emulator may silently ignore. An emulator fixture detects them with a
#: probe (a request that must be rejected) and passes them in; the affected checks then xfail
#: with the reason instead of asserting on a condition the server never evaluated.
QUIRKS = frozenset(
    {
        "conditional_get",
        "copy_if_not_exists",
        "delete_if_match",
        "update_multipart",
        "create_stream",
        "conditional_copy",
    }
)


@dataclass
class ConformanceContext:
    """A store under test, its capabilities and quirks, and a unique key prefix.

    Attributes:
        store: the opened store.
        quirks: features the server is known (by probe) to ignore.
        prefix: a key prefix unique to this check, so checks can share a bucket.
    """

    store: Store
    quirks: frozenset[str] = frozenset()
    prefix: str = field(default_factory=lambda: f"osx-conformance/{uuid.uuid4().hex[:12]}")

    def __post_init__(self) -> None:
        unknown = self.quirks - QUIRKS
        if unknown:
            raise ValueError(f"unknown quirk names: {sorted(unknown)} (known: {sorted(QUIRKS)})")

    @property
    def caps(self) -> Capabilities:
        """The store's capabilities."""
        return self.store.capabilities

    def path(self, name: str) -> str:
        """A path under this check's unique prefix."""
        return f"{self.prefix}/{name}"

    def xfail_if_quirk(self, name: str, reason: str) -> None:
        """Stop the check as an expected failure when the server ignores feature ``name``."""
        if name in self.quirks:
            pytest.xfail(f"the server ignores this ({name}): {reason}")

    async def names(self, prefix: str | None = None) -> list[str]:
        """Locations under ``prefix`` (default: this check's prefix), relative to that prefix."""
        base = self.prefix if prefix is None else prefix
        return [m.location[len(base) + 1 :] async for m in self.store.list(base)]
