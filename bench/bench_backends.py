"""Benchmark: 1 KiB put+get on MemoryStore and LocalStore against obstore, in one run.

Usage::

    python bench/bench_backends.py [--rounds 5] [--seconds 1.0] [--fsync]

For each backend and concurrency (1 and 64) every client runs ``rounds`` timed rounds; a round
is as many put+get pairs as fit in ``--seconds`` (each worker writes then reads its own keys).
The median ops/s (one op = one put + one get) and the ratio to obstore are printed. Both sides
use their defaults: no fsync (``--fsync`` turns it on for objectstorex only, to show its cost).
Needs ``pip install obstore``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import obstore
import obstore.store

import objectstorex as osx

PAYLOAD = os.urandom(1024)
KEYS_PER_WORKER = 16

PutGet = Callable[[str], Awaitable[None]]


@dataclass
class Client:
    name: str
    backend: str
    make: Callable[[str], tuple[PutGet, Callable[[], Awaitable[None]]]]


def osx_client(store: osx.BaseStore) -> tuple[PutGet, Callable[[], Awaitable[None]]]:
    async def op(key: str) -> None:
        await store.put(key, PAYLOAD)
        data = await store.get(key)
        assert len(data) == len(PAYLOAD)

    return op, store.close


def obstore_client(store: object) -> tuple[PutGet, Callable[[], Awaitable[None]]]:
    async def op(key: str) -> None:
        await obstore.put_async(store, key, PAYLOAD)  # type: ignore[arg-type]
        result = await obstore.get_async(store, key)  # type: ignore[arg-type]
        data = await result.bytes_async()
        assert len(data) == len(PAYLOAD)

    async def close() -> None:
        return None

    return op, close


async def run_round(op: PutGet, concurrency: int, seconds: float) -> float:
    deadline = time.perf_counter() + seconds
    counts = [0] * concurrency

    async def worker(w: int) -> None:
        i = 0
        while time.perf_counter() < deadline:
            await op(f"bench/w{w}/k{i % KEYS_PER_WORKER}")
            i += 1
        counts[w] = i

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return sum(counts) / (time.perf_counter() - started)


async def measure(client: Client, concurrency: int, rounds: int, seconds: float) -> float:
    workdir = tempfile.mkdtemp(prefix="osx-bench-")
    try:
        op, close = client.make(workdir)
        await run_round(op, concurrency, min(0.2, seconds))  # warm-up: create files, caches
        results = [await run_round(op, concurrency, seconds) for _ in range(rounds)]
        await close()
        return statistics.median(results)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def clients(fsync: bool) -> list[Client]:
    return [
        Client("objectstorex", "memory", lambda d: osx_client(osx.MemoryStore())),
        Client("obstore", "memory", lambda d: obstore_client(obstore.store.MemoryStore())),
        Client("objectstorex", "local", lambda d: osx_client(osx.LocalStore(d, fsync=fsync))),
        Client("obstore", "local", lambda d: obstore_client(obstore.store.LocalStore(d))),
    ]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--fsync", action="store_true")
    args = parser.parse_args()

    print(f"1 KiB put+get pairs per second, median of {args.rounds} rounds of {args.seconds:g} s")
    print(f"{'backend':8} {'conc':>4} {'objectstorex':>14} {'obstore':>10} {'ratio':>7}")
    for backend in ("memory", "local"):
        for concurrency in (1, 64):
            medians: dict[str, float] = {}
            for client in clients(args.fsync):
                if client.backend == backend:
                    medians[client.name] = await measure(client, concurrency, args.rounds, args.seconds)
            ratio = medians["objectstorex"] / medians["obstore"]
            ours, theirs = medians["objectstorex"], medians["obstore"]
            print(f"{backend:8} {concurrency:>4} {ours:>14,.0f} {theirs:>10,.0f} {ratio:>6.1f}x")


if __name__ == "__main__":
    asyncio.run(main())
