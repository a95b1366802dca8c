"""The shipped conformance suite, run on every backend (memory, local, and the emulators).

Each backend's plugin in ``tests/emulators/`` provides ``<name>_store`` (an opened store per
test) and ``<name>_quirks`` (features its emulator was probed to ignore). Select one backend
with ``-k memory``, ``-k s3``...
"""

from __future__ import annotations

import pytest

from objectstorex import Store
from objectstorex.testing import ConformanceSuite

BACKENDS = ["memory", "local", "s3", "azure", "gcs"]


@pytest.fixture(params=BACKENDS, ids=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class TestConformance(ConformanceSuite):
    @pytest.fixture
    def store(self, backend: str, request: pytest.FixtureRequest) -> Store:
        store: Store = request.getfixturevalue(f"{backend}_store")
        return store

    @pytest.fixture
    def store_quirks(self, backend: str, request: pytest.FixtureRequest) -> frozenset[str]:
        return frozenset(request.getfixturevalue(f"{backend}_quirks"))
