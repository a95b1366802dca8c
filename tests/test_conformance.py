"""The shipped conformance suite, run on every backend (memory, local, and the emulators)."""

from __future__ import annotations

from pathlib import Path

import pytest

from objectstorex import Store
from objectstorex.testing import ConformanceSuite

# Every backend that has a fixture plugin in tests/emulators/ (memory, local, and each emulator).
BACKENDS = [
    name
    for name in ["memory", "local", "s3", "azure", "gcs"]
    if (Path(__file__).parent / "emulators" / f"{name}.py").exists()
]


class TestConformance(ConformanceSuite):  # type: ignore[misc, valid-type]
    @pytest.fixture(params=BACKENDS)
    def backend(self, request: pytest.FixtureRequest) -> str:
        return str(request.param)

    @pytest.fixture
    def store(self, backend: str, request: pytest.FixtureRequest) -> Store:
        return request.getfixturevalue(f"{backend}_store")  # type: ignore[no-any-return]

    @pytest.fixture
    def store_quirks(self, backend: str, request: pytest.FixtureRequest) -> frozenset[str]:
        return request.getfixturevalue(f"{backend}_quirks")  # type: ignore[no-any-return]
