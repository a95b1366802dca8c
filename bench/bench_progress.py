"""Benchmark: what ``progress=`` costs when not given (and when given), in one run.

Usage::

    git archive <commit-before> objectstorex | tar -x -C /tmp/osx-base   # code without progress
    python bench/bench_progress.py --baseline /tmp/osx-base [--tree DIR] [--rounds 7] [--ops 3000]

Two workloads: a 1 KiB put+get loop on the memory store, and a 1 KiB GET loop of an S3 store
against a local aiohttp server answering like S3 (in its own process, so the numbers are the
client's cost, not moto's). Each variant runs in its own process, rounds interleaved so that all
variants see the same machine: ``baseline`` (the tree given by ``--baseline``, imported first on
``PYTHONPATH``), ``progress=None`` (this tree, or ``--tree``), and ``progress=callable`` (the same
tree, a callable that does nothing: the cost of the events). The median ops/s of each and the
ratio to the baseline are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

PAYLOAD = os.urandom(1024)
HERE = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------------------------- server


def serve(port: int) -> None:
    """An S3-like server: every GET answers the same 1 KiB object."""
    from aiohttp import web

    headers = {
        "ETag": '"0123456789abcdef0123456789abcdef"',
        "Last-Modified": "Mon, 30 Nov 2026 12:00:00 GMT",
        "Content-Type": "application/octet-stream",
        "x-amz-request-id": "BENCH0000000000",
    }

    async def get(request: web.Request) -> web.Response:
        return web.Response(body=PAYLOAD, headers=headers)

    app = web.Application()
    app.router.add_get("/{tail:.*}", get)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------------------- worker


def ignore(event: object) -> None:
    """A progress callable that does nothing."""


async def memory_loop(ops: int, reported: bool) -> float:
    import objectstorex as osx

    options: dict[str, object] = {"progress": ignore} if reported else {}
    async with osx.new("memory") as store:
        for _ in range(200):
            await store.put("k", PAYLOAD, **options)
            await store.get("k", **options)
        started = time.perf_counter()
        for _ in range(ops):
            await store.put("k", PAYLOAD, **options)
            await store.get("k", **options)
        return ops / (time.perf_counter() - started)


async def s3_get_loop(ops: int, port: int, reported: bool) -> float:
    import objectstorex as osx

    options: dict[str, object] = {"progress": ignore} if reported else {}
    store = osx.new(
        "s3",
        bucket="bench",
        region="us-east-1",
        endpoint=f"http://127.0.0.1:{port}",
        access_key_id="bench",
        secret_access_key="bench",
    )
    async with store:
        for _ in range(200):
            await store.get("k", **options)
        started = time.perf_counter()
        for _ in range(ops):
            await store.get("k", **options)
        return ops / (time.perf_counter() - started)


def worker(workload: str, ops: int, port: int, reported: bool) -> None:
    if workload == "memory":
        rate = asyncio.run(memory_loop(ops, reported))
    else:
        rate = asyncio.run(s3_get_loop(ops, port, reported))
    import objectstorex

    print(json.dumps({"rate": rate, "module": objectstorex.__file__}))


# ---------------------------------------------------------------------------------------------- driver


def run(variant: tuple[str, str | None, bool], workload: str, ops: int, port: int) -> float:
    name, tree, reported = variant
    env = dict(os.environ, PYTHONPATH=tree or str(HERE))
    args = [sys.executable, __file__, "--worker", workload, "--ops", str(ops), "--port", str(port)]
    if reported:
        args.append("--reported")
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    expected = Path(tree or HERE).resolve()
    if not Path(result["module"]).resolve().is_relative_to(expected):
        raise SystemExit(f"{name}: imported {result['module']}, not from {expected}")
    return float(result["rate"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", help="a tree holding the objectstorex package before the change")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--ops", type=int, default=3000)
    parser.add_argument("--worker", choices=("memory", "s3"))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tree", help="the tree measured (default: this checkout)")
    parser.add_argument("--reported", action="store_true")
    parser.add_argument("--serve", action="store_true", help="run the S3-like server on --port")
    args = parser.parse_args()
    if args.serve:
        serve(args.port)
        return
    if args.worker:
        worker(args.worker, args.ops, args.port, args.reported)
        return

    variants: list[tuple[str, str | None, bool]] = []
    if args.baseline:
        variants.append(("baseline", str(Path(args.baseline).resolve()), False))
    tree = str(Path(args.tree).resolve()) if args.tree else None
    variants += [("progress=None", tree, False), ("progress=f", tree, True)]
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", "--port", str(port)])
    try:
        time.sleep(1.5)
        for workload in ("memory", "s3"):
            rates: dict[str, list[float]] = {v[0]: [] for v in variants}
            for _ in range(args.rounds):
                for v in variants:
                    rates[v[0]].append(run(v, workload, args.ops, port))
            label = "memory put+get 1 KiB" if workload == "memory" else "S3 GET 1 KiB (local server)"
            base = statistics.median(rates["baseline"]) if args.baseline else None
            for name, values in rates.items():
                if not values:
                    continue
                median = statistics.median(values)
                spread = (max(values) - min(values)) / median * 100
                ratio = f"{median / base:6.3f}" if base else "     -"
                print(f"{label:30} {name:14} {median:10.0f} ops/s  ratio {ratio}  (spread {spread:4.1f} %)")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
