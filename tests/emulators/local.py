"""The local backend's fixtures (a temp directory)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import objectstorex as osx


@pytest.fixture
async def local_store(tmp_path: Path) -> AsyncIterator[osx.LocalStore]:
    async with osx.LocalStore(tmp_path / "store") as store:
        yield store


@pytest.fixture(scope="session")
def local_quirks() -> frozenset[str]:
    return frozenset()
