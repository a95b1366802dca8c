"""Test configuration: emulator plugins, the per-backend ``store`` fixtures, and server markers.

Each module in ``tests/emulators/`` is a pytest plugin that starts one emulator per session
(on a free port, with a readiness check) and provides ``<provider>_store`` and
``<provider>_quirks`` fixtures. Emulators start lazily: only when a selected test needs one,
so ``pytest -m "not azure"`` never starts Azurite.

A test that takes ``store`` (or ``quirks``) runs once per backend in :data:`BACKENDS`.
"""

from __future__ import annotations

import os
import pkgutil
from collections.abc import Callable
from pathlib import Path

import pytest

import objectstorex as osx

pytest_plugins = [f"tests.emulators.{m.name}" for m in pkgutil.iter_modules([str(Path(__file__).parent / "emulators")])]

#: The backends every ``store`` test runs on (select one with ``-k memory``, ``-m s3``...).
BACKENDS = ["memory", "local", "s3", "azure", "gcs"]

#: The server marker (declared in pyproject.toml) of each backend that needs one.
SERVER_MARKERS = {"s3": "s3", "azure": "azure", "gcs": "gcs"}

#: Fixtures that start (or need) a server, by the marker their tests carry.
SERVER_FIXTURES = {
    "s3": {"moto_endpoint", "s3rver_endpoint", "s3_store", "s3_quirks"},
    "azure": {"azurite_endpoint", "azure_store", "azure_quirks"},
    "gcs": {"fake_gcs_endpoint", "gcs_store", "gcs_quirks"},
}

#: Parameters (of a fixture or a test) whose value names the backend a test runs on.
SERVER_PARAMS = ("backend", "emulator")

#: Test modules about one provider: all their tests carry its marker.
SERVER_MODULES = {"test_s3.py": "s3", "test_azure.py": "azure", "test_gcs.py": "gcs"}

if os.environ.get("OBJECTSTOREX_TEST_LOOP") == "uvloop":  # the nox session tests-uvloop

    def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], object]]:
        """Run every async test and fixture on uvloop's event loop."""
        import uvloop

        return {"uvloop": uvloop.new_event_loop}


@pytest.fixture(params=BACKENDS, ids=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend a ``store`` test runs on."""
    return str(request.param)


@pytest.fixture
def store(backend: str, request: pytest.FixtureRequest) -> osx.Store:
    """An opened store of ``backend``, one per test (its emulator fixture closes it)."""
    opened: osx.Store = request.getfixturevalue(f"{backend}_store")
    return opened


@pytest.fixture
def quirks(backend: str, request: pytest.FixtureRequest) -> frozenset[str]:
    """Features the ``backend``'s server was probed to ignore (see ``objectstorex.testing.QUIRKS``)."""
    return frozenset(request.getfixturevalue(f"{backend}_quirks"))


def server_markers(item: pytest.Item) -> set[str]:
    """The server markers ``item`` needs: by its backend parameter, its fixtures, or its module."""
    needed: set[str] = set()
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        for param in SERVER_PARAMS:
            value = callspec.params.get(param)
            if value in SERVER_MARKERS:
                needed.add(SERVER_MARKERS[value])
    fixtures = set(getattr(item, "fixturenames", ()))
    needed.update(marker for marker, names in SERVER_FIXTURES.items() if fixtures & names)
    module = SERVER_MODULES.get(item.path.name)
    if module is not None:
        needed.add(module)
    return needed


@pytest.hookimpl(tryfirst=True)  # before the -m selection reads the markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that needs an emulator, so ``-m "not azure"`` deselects (and never starts) it."""
    for item in items:
        for marker in sorted(server_markers(item) - {m.name for m in item.iter_markers()}):
            item.add_marker(getattr(pytest.mark, marker))
