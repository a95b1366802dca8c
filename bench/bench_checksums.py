"""Benchmark: the cost of end-to-end checksums (``checksum="auto"`` vs ``"off"``), in one run.

Usage (by hand, not in CI)::

    python bench/bench_checksums.py [--size-mib 1024] [--rounds 3]

Two parts:

* hash throughput of each library on ``--size-mib`` (zlib CRC32, google-crc32c CRC32C, hashlib
  MD5 and SHA-256), in GiB/s;
* an S3 ``put`` and ``get`` of ``--size-mib`` through objectstorex against a minimal S3 server in
  another process (aiohttp: PutObject reads and drops the body, GetObject serves the bytes from
  memory with their ``x-amz-checksum-*``, as S3 does with ``x-amz-checksum-mode: ENABLED``). moto
  is far too slow for 1 GiB, and nginx cannot answer a stored checksum per object. Each store
  option runs in alternation; medians of ``--rounds``; the ratio is auto / off.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import os
import socket
import statistics
import subprocess
import sys
import time
import zlib
from typing import Any

MIB = 1024 * 1024
KEYS = {"access_key_id": "AKIDBENCHMARK", "secret_access_key": "bench-secret-key"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _payload(size: int) -> bytes:
    return (os.urandom(MIB) * (size // MIB + 1))[:size]


# ------------------------------------------------------------------------------ hash throughput


def hash_rows(data: bytes) -> list[tuple[str, float]]:
    """GiB/s of each library over ``data`` (one pass, the best of three)."""
    rows: list[tuple[str, float]] = []
    cases: list[tuple[str, Any]] = [
        ("zlib.crc32 (CRC32)", lambda: zlib.crc32(data)),
        ("hashlib.md5 (MD5)", lambda: hashlib.md5(data, usedforsecurity=False).digest()),
        ("hashlib.sha256 (SHA-256)", lambda: hashlib.sha256(data).digest()),
    ]
    try:
        import google_crc32c

        cases.insert(1, (f"google-crc32c ({google_crc32c.implementation}) (CRC32C)", lambda: google_crc32c.value(data)))
    except ImportError:
        pass
    for name, run in cases:
        best = min(_timed(run) for _ in range(3))
        rows.append((name, len(data) / best / 1024**3))
    return rows


def _timed(run: Any) -> float:
    t = time.perf_counter()
    run()
    return time.perf_counter() - t


# ------------------------------------------------------------------------------ the S3 server


def serve(port: int, size: int) -> None:
    """A minimal S3: PUT drops the body, GET serves ``size`` bytes with their stored checksums."""
    from aiohttp import web

    data = _payload(size)
    stored = {
        "x-amz-checksum-crc32": base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode(),
        "x-amz-checksum-type": "FULL_OBJECT",
    }
    try:
        import google_crc32c

        stored["x-amz-checksum-crc32c"] = base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()
    except ImportError:
        pass

    async def put(request: web.Request) -> web.Response:
        async for _ in request.content.iter_chunked(4 * MIB):
            pass
        return web.Response(headers={"ETag": '"bench"'})

    async def get(request: web.Request) -> web.Response:
        headers = {"ETag": '"bench"', "Last-Modified": "Mon, 30 Nov 2026 00:00:00 GMT", "Content-Type": "a/b"}
        if request.headers.get("x-amz-checksum-mode") == "ENABLED":
            headers.update(stored)
        return web.Response(body=data, headers=headers)

    app = web.Application(client_max_size=2 * size + MIB)
    app.router.add_put("/bucket/{key}", put)
    app.router.add_get("/bucket/{key}", get)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# ------------------------------------------------------------------------------ the client


async def transfers(endpoint: str, size: int, rounds: int) -> dict[str, dict[str, float]]:
    import objectstorex as osx

    data = _payload(size)
    times: dict[str, dict[str, list[float]]] = {c: {"put": [], "get": []} for c in ("auto", "off")}
    stores = {
        c: osx.new("s3", bucket="bucket", region="us-east-1", endpoint=endpoint, checksum=c, **KEYS) for c in times
    }
    for store in stores.values():
        await store.__aenter__()
    try:
        for _ in range(rounds):
            for choice, store in stores.items():
                t = time.perf_counter()
                await store.put("big", data)
                times[choice]["put"].append(time.perf_counter() - t)
                t = time.perf_counter()
                got = await store.get("big")
                times[choice]["get"].append(time.perf_counter() - t)
                assert len(got) == size
                del got
    finally:
        for store in stores.values():
            await store.close()
    return {c: {op: size / MIB / statistics.median(v) for op, v in ops.items()} for c, ops in times.items()}


def main(args: argparse.Namespace) -> None:
    size = args.size_mib * MIB
    print(f"## Hash throughput, {args.size_mib} MiB\n\n| library | GiB/s |\n|---|---|")
    for name, rate in hash_rows(_payload(size)):
        print(f"| {name} | {rate:.2f} |")
    port = _free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--size-mib", str(args.size_mib)])
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.1)
        rates = asyncio.run(transfers(f"http://127.0.0.1:{port}", size, args.rounds))
    finally:
        server.terminate()
        server.wait()
    print(f"\n## S3 put/get of {args.size_mib} MiB (MiB/s, median of {args.rounds})\n")
    print('| operation | checksum="off" | checksum="auto" | auto / off |\n|---|---|---|---|')
    for op in ("put", "get"):
        off, auto = rates["off"][op], rates["auto"][op]
        print(f"| {op} | {off:.0f} | {auto:.0f} | {auto / off:.0%} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", type=int, default=0, help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.serve:
        serve(ns.serve, ns.size_mib * MIB)
    else:
        main(ns)
