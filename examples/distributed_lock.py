"""Several workers contend for one distributed lock; exactly one is in the critical section.

Each worker waits for the lock (exponential backoff with full jitter), enters, works, leaves and
releases. The script checks that no two workers were ever inside at once and that the fencing
tokens went up by one per acquisition, and exits non-zero otherwise.

Run: ``python examples/distributed_lock.py [STORE_URL [option=value ...]]`` (default ``memory://``).
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import check, store_from_argv

from objectstorex.patterns import DistributedLock, LockedError

WORKERS = 5
KEY = "locks/critical-section"


async def main() -> None:
    async with store_from_argv() as store:
        inside: list[str] = []
        tokens: list[int] = []

        async def worker(name: str) -> None:
            lock = DistributedLock(store, KEY, ttl=10, metadata={"worker": name})
            try:
                await lock.acquire()  # one try first, to show what contention looks like
            except LockedError as e:
                print(f"{name}: locked by {e.info.metadata.get('worker')} (token {e.info.token}), waiting")
                await lock.acquire_with_retry(max_retries=100, initial_delay=0.01, max_delay=0.2)
            try:
                inside.append(name)
                print(f"{name}: enters the critical section, fencing token {lock.token}")
                check(len(inside) == 1, f"two workers inside at once: {inside}")
                assert lock.token is not None
                tokens.append(lock.token)
                await asyncio.sleep(0.02)  # the exclusive work
                print(f"{name}: leaves")
                inside.remove(name)
            finally:
                check(await lock.release(), f"{name} could not release its own lock")

        await asyncio.gather(*(worker(f"worker-{i}") for i in range(WORKERS)))
        check(len(tokens) == WORKERS, f"every worker got the lock once: {tokens}")
        # Tokens continue across runs on a persistent store, so check the steps, not the start.
        check(all(b == a + 1 for a, b in itertools.pairwise(tokens)), f"tokens step by one: {tokens}")
        print(f"distributed_lock: {WORKERS} workers, one at a time, fencing tokens {tokens}")


if __name__ == "__main__":
    asyncio.run(main())
