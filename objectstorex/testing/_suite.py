"""``ConformanceSuite``: the contract as a pytest class any store can run.

Subclass it and provide a ``store`` fixture yielding an opened store, one per test (checks
isolate themselves with a unique key prefix, so every test may use the same bucket; only
``test_closed_store`` closes the store it is given)::

    import pytest
    import objectstorex as osx
    from objectstorex.testing import ConformanceSuite

    class TestMyEndpoint(ConformanceSuite):
        @pytest.fixture
        async def store(self):
            async with osx.from_url("s3://my-test-bucket/conformance") as store:
                yield store

Override ``store_quirks`` to return the names (see ``QUIRKS``) of features your server is
*known by probe* to ignore; those checks then xfail with the reason instead of passing wrongly.
Deselect single checks with ``pytest -k "not test_sign"``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from .._store import Store
from . import _attributes, _basic, _conditions, _copy, _errors, _listing, _ranges, _streams
from ._context import ConformanceContext

__all__ = ["ALL_CHECKS", "Check", "ConformanceSuite"]

#: A conformance check: an async function of a :class:`ConformanceContext`.
Check = Callable[[ConformanceContext], Awaitable[None]]

#: Every check, in the order the suite runs them (the lifecycle check, which closes the store, last).
ALL_CHECKS: list[Check] = [
    *_basic.CHECKS,
    *_conditions.CHECKS,
    *_ranges.CHECKS,
    *_listing.CHECKS,
    *_streams.CHECKS,
    *_copy.CHECKS,
    *_attributes.CHECKS,
    *_errors.CHECKS,
]


def _test_name(check: Check) -> str:
    return "test_" + getattr(check, "__name__", "").removeprefix("check_")


def _make_test(check: Check) -> Callable[[object, Store, frozenset[str]], Awaitable[None]]:
    async def test(self: object, store: Store, store_quirks: frozenset[str]) -> None:
        await check(ConformanceContext(store, frozenset(store_quirks)))

    test.__name__ = test.__qualname__ = _test_name(check)
    test.__doc__ = check.__doc__
    test.__module__ = __name__
    return test


@pytest.mark.asyncio
class ConformanceSuite:
    """The objectstorex contract as pytest tests: subclass it and provide a ``store`` fixture.

    Each ``test_<name>`` method runs the check ``check_<name>`` of :mod:`objectstorex.testing`
    on a fresh :class:`ConformanceContext`.
    """

    @pytest.fixture
    def store_quirks(self) -> frozenset[str]:
        """Features the server under test is known to ignore (none by default)."""
        return frozenset()


for _check in ALL_CHECKS:
    setattr(ConformanceSuite, _test_name(_check), _make_test(_check))
del _check

if len({_test_name(c) for c in ALL_CHECKS}) != len(ALL_CHECKS):  # pragma: no cover - a packaging bug
    raise RuntimeError("two conformance checks share a name")
