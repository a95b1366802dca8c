"""Benchmark: client CPU per 1 KiB S3 GET for objectstorex, obstore and aiobotocore, in one run.

Usage::

    python bench/bench_s3.py [--rounds 5] [--requests 300]

A moto server on 127.0.0.1 serves the object. moto itself is slow (~5 ms of server CPU per
request), so wall-clock throughput against it says nothing about a client; what this measures
is the *client's own* CPU time per request (``time.process_time`` of this process, which
includes obstore's tokio threads), sequentially, median of ``--rounds`` rounds, and the ratio
to obstore. The nginx-based throughput/streaming benchmark of issue 3 is still to come.
Needs ``pip install obstore 'moto[server]' aiobotocore``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import obstore
import obstore.store
from aiobotocore.session import get_session

import objectstorex as osx
from tests.emulators._servers import free_port, serve
from tests.emulators.s3 import KEYS, create_bucket

BUCKET = "bench"
KEY = "k"


async def cpu_per_request(get: Callable[[], Awaitable[bytes]], n: int, rounds: int) -> float:
    for _ in range(20):  # warm-up: connections, caches
        await get()
    samples = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(n):
            assert len(await get()) == 1024
        samples.append((time.process_time() - started) / n * 1e6)
    return statistics.median(samples)


async def main(endpoint: str, n: int, rounds: int) -> None:
    await create_bucket(endpoint, BUCKET)
    results: dict[str, float] = {}
    async with osx.new("s3", bucket=BUCKET, region="us-east-1", endpoint=endpoint, **KEYS) as store:
        await store.put(KEY, b"x" * 1024)
        results["objectstorex"] = await cpu_per_request(lambda: store.get(KEY), n, rounds)

    ob = obstore.store.S3Store(
        BUCKET,
        endpoint=endpoint,
        region="us-east-1",
        access_key_id=KEYS["access_key_id"],
        secret_access_key=KEYS["secret_access_key"],
        client_options={"allow_http": True},
    )

    async def ob_get() -> bytes:
        res = await obstore.get_async(ob, KEY)
        return bytes(await res.bytes_async())

    results["obstore"] = await cpu_per_request(ob_get, n, rounds)

    async with get_session().create_client(
        "s3",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id=KEYS["access_key_id"],
        aws_secret_access_key=KEYS["secret_access_key"],
    ) as client:

        async def boto_get() -> bytes:
            resp = await client.get_object(Bucket=BUCKET, Key=KEY)
            async with resp["Body"] as body:
                data: bytes = await body.read()
            return data

        results["aiobotocore"] = await cpu_per_request(boto_get, n, rounds)

    print(f"client CPU per 1 KiB GET (median of {rounds} rounds of {n} sequential requests)")
    print(f"{'client':14} {'us/request':>11} {'vs obstore':>11}")
    for name, us in results.items():
        print(f"{name:14} {us:>11.0f} {results['obstore'] / us:>10.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    moto = Path(sys.executable).with_name("moto_server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serve([str(moto), "-H", "127.0.0.1", "-p", str(port)], f"{url}/moto-api/"):
        asyncio.run(main(url, args.requests, args.rounds))
