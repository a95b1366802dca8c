"""The objectstorex conformance suite, shipped so any backend or endpoint can run the contract.

``ConformanceSuite`` is a pytest class (subclass it, provide a ``store`` fixture); the plain
async ``check_*`` functions take a :class:`ConformanceContext` and can be driven by any runner.
Needs ``pip install 'objectstorex[testing]'`` (pytest, pytest-asyncio).
"""

from __future__ import annotations

from ._context import QUIRKS, ConformanceContext
from .suite import ALL_CHECKS, ConformanceSuite

__all__ = ["ALL_CHECKS", "QUIRKS", "ConformanceContext", "ConformanceSuite"]
