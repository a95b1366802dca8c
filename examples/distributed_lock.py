"""Several workers contend for one distributed lock; exactly one is in the critical section.

Run: ``python examples/distributed_lock.py [STORE_URL]``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import check, store_from_argv

from objectstorex.patterns import DistributedLock

WORKERS = 5


async def main() -> None:
    async with store_from_argv() as store:
        inside: list[str] = []
        tokens: list[int] = []

        async def worker(name: str) -> None:
            lock = DistributedLock(store, "locks/critical-section", ttl=10, metadata={"worker": name})
            await lock.acquire_with_retry(max_retries=30, initial_delay=0.02)
            try:
                inside.append(name)
                check(len(inside) == 1, f"two workers inside at once: {inside}")
                assert lock.token is not None
                tokens.append(lock.token)
                print(f"{name} holds the lock (fencing token {lock.token})")
                await asyncio.sleep(0.02)
                inside.remove(name)
            finally:
                released = await lock.release()
                print(f"{name} released: {released}")

        await asyncio.gather(*(worker(f"worker-{i}") for i in range(WORKERS)))
        check(len(tokens) == WORKERS, "every worker got the lock once")
        check(tokens == sorted(tokens) and len(set(tokens)) == WORKERS, f"tokens increase: {tokens}")
        print(f"distributed_lock: {WORKERS} workers, one at a time, tokens {tokens}")


if __name__ == "__main__":
    asyncio.run(main())
