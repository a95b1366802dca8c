"""Test configuration: emulator plugins and the per-backend ``store`` fixtures.

Each module in ``tests/emulators/`` is a pytest plugin that starts one emulator per session
(on a free port, with a readiness check) and provides a ``<provider>_store`` fixture.
"""

from __future__ import annotations

import pkgutil
from pathlib import Path

pytest_plugins = [f"tests.emulators.{m.name}" for m in pkgutil.iter_modules([str(Path(__file__).parent / "emulators")])]
