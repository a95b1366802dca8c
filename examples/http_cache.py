"""An ETag HTTP cache: miss, hit (no body transferred), change, miss; then the statistics.

A hit is a conditional GET (``if_none_match``) that the store answers with "not modified" and
no body. Run: ``python examples/http_cache.py [STORE_URL [option=value ...]]``; exits non-zero
on a wrong result.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import check, store_from_argv

from objectstorex.patterns import HTTPCache


async def main() -> None:
    async with store_from_argv() as store:
        await store.put("data.json", b'{"version": 1}')
        cache = HTTPCache(store)
        sequence = []
        for step in ("first read", "second read", "after a change"):
            if step == "after a change":
                await store.put("data.json", b'{"version": 2}')
            data, status = await cache.get("data.json")
            sequence.append(status)
            print(f"{step}: {status} {data.decode()}")
        stats = cache.stats()
        print(
            f"stats: {stats['hits']} hits, {stats['misses']} misses, {stats['entries']} entries, "
            f"hit rate {stats['hit_rate']:.1f}%"
        )
        check(sequence == ["miss", "hit", "miss"], f"sequence {sequence}")
        check((stats["hits"], stats["misses"], stats["entries"]) == (1, 2, 1), f"stats {stats}")
        check(abs(stats["hit_rate"] - 100 / 3) < 1e-9, f"hit rate {stats['hit_rate']}")
        print("http_cache: miss, hit, change, miss")


if __name__ == "__main__":
    asyncio.run(main())
