"""Concurrent increments of an optimistic counter: the final count is exact.

Run: ``python examples/optimistic_counter.py [STORE_URL [option=value ...]]``; exits non-zero
on a wrong result.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import check, store_from_argv

from objectstorex.patterns import BelowMinimumError, OptimisticCounter


async def main() -> None:
    async with store_from_argv() as store:
        views = OptimisticCounter(store, "counters/page-views")
        await views.initialize(0, overwrite=True)

        async def task() -> None:
            for _ in range(10):
                await views.increment()

        await asyncio.gather(*(task() for _ in range(10)))
        total = await views.value()
        print("10 tasks x 10 increments =", total)
        check(total == 100, f"expected 100, got {total}")

        stock = OptimisticCounter(store, "counters/inventory-item-123")
        await stock.initialize(2, overwrite=True)
        await stock.decrement(min_value=0)
        await stock.decrement(min_value=0)
        try:
            await stock.decrement(min_value=0)
            check(False, "stock went below zero")
        except BelowMinimumError:
            print("third decrement refused: stock stays at", await stock.value())
        doubled = await views.update(lambda v: v * 2)
        check(doubled == 200, "update(fn)")
        print("optimistic_counter: exact")


if __name__ == "__main__":
    asyncio.run(main())
