"""The memory backend's fixtures (no server)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import objectstorex as osx


@pytest.fixture
async def memory_store() -> AsyncIterator[osx.MemoryStore]:
    async with osx.MemoryStore() as store:
        yield store


@pytest.fixture(scope="session")
def memory_quirks() -> frozenset[str]:
    return frozenset()
