"""``ConformanceSuite``: the contract as a pytest class any store can run.

Subclass it and provide a ``store`` fixture (an opened store; isolation comes from the unique
prefix of each check, so the store may be shared)::

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
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from .._store import Store
from . import checks_basic, checks_conditions, checks_listing, checks_transfer
from ._context import ConformanceContext

__all__ = ["ALL_CHECKS", "ConformanceSuite"]

Check = Callable[[ConformanceContext], Awaitable[None]]

#: Every check, in the order the suite runs them.
ALL_CHECKS: list[Check] = [
    *checks_basic.CHECKS,
    *checks_conditions.CHECKS,
    *checks_listing.CHECKS,
    *checks_transfer.CHECKS,
]


def _make_test(check: Check) -> Callable[..., Awaitable[None]]:
    async def test(self: Any, store: Store, store_quirks: frozenset[str]) -> None:
        await check(ConformanceContext(store, frozenset(store_quirks)))

    test.__name__ = "test_" + check.__name__.removeprefix("check_")
    test.__doc__ = check.__doc__
    return test


class _SuiteBase:
    @pytest.fixture
    def store_quirks(self) -> frozenset[str]:
        """Features the server under test ignores (none by default)."""
        return frozenset()


ConformanceSuite: type = type(
    "ConformanceSuite",
    (_SuiteBase,),
    {
        "__doc__": "The objectstorex contract as pytest tests; subclass it and provide a ``store`` fixture.",
        "pytestmark": [pytest.mark.asyncio],
        **{("test_" + c.__name__.removeprefix("check_")): _make_test(c) for c in ALL_CHECKS},
    },
)
