"""Benchmark: what one small S3 request costs, stage by stage, in microseconds (issue #14).

Usage (by hand, not in CI; needs nginx, see ``bench_s3.py``)::

    python bench/bench_stages.py [--rounds 7] [--requests 1000] [--loop asyncio|uvloop] [--markdown out.md]

Two views of the same 1 KiB PUT and GET, in one process:

A. **Hot, no I/O**: each stage of objectstorex's own work (validation, the request's headers and
   checksum, SigV4 signing, the answer's metadata and attributes), and a whole ``put``/``get``
   through a transport that answers at once, timed in a tight loop (``timeit``, best of 5). This
   is the floor: the code with warm caches and nothing else running.
B. **In situ, against nginx** (one worker, WebDAV PUT), one request at a time: the CPU time of
   this thread per request (``time.thread_time``) for a bare aiohttp request, for the store's
   transport sending an already signed request (``AiohttpTransport.send`` + read), and for
   ``store.put``/``store.get``. Rounds alternate the three; medians of ``--rounds`` rounds of
   ``--requests`` requests. The differences are what each layer costs where it runs: between
   socket syscalls and the event loop's work, which evict the caches, so the same Python code
   costs several times its hot figure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import timeit
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_s3 import BUCKET, KEYS, make_files, nginx

DATA = os.urandom(1024)
LAST_MODIFIED = "Mon, 30 Nov 2026 19:01:16 GMT"


class _Body:
    async def read(self, n: int = -1) -> bytes:
        return b""


class _Answer:
    """An answer that is already complete: what the store does around a transport, without I/O."""

    def __init__(self, headers: Any, body: bytes) -> None:
        self.status = 200
        self.headers = headers
        self.content = _Body()
        self._body = body

    async def read(self) -> bytes:
        return self._body

    def release(self) -> None:
        return None

    def close(self) -> None:
        return None


class _Instant:
    def __init__(self) -> None:
        from multidict import CIMultiDict, CIMultiDictProxy

        self.put = CIMultiDictProxy(CIMultiDict({"ETag": '"e"', "Content-Length": "0", "Server": "nginx"}))
        self.get = CIMultiDictProxy(
            CIMultiDict(
                {
                    "ETag": '"e"',
                    "Content-Length": "1024",
                    "Last-Modified": LAST_MODIFIED,
                    "Content-Type": "application/octet-stream",
                    "Accept-Ranges": "bytes",
                    "Server": "nginx",
                }
            )
        )

    async def send(self, request: Any) -> _Answer:
        return _Answer(self.put, b"") if request.method == "PUT" else _Answer(self.get, DATA)

    async def close(self) -> None:
        return None


def _best(fn: Callable[[], object], number: int = 5000) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def _best_async(loop: asyncio.AbstractEventLoop, make: Callable[[], Awaitable[object]], number: int = 5000) -> float:
    async def many() -> None:
        for _ in range(number):
            await make()

    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        loop.run_until_complete(many())
        best = min(best, time.perf_counter() - started)
    return best / number * 1e6


def hot(endpoint: str) -> list[tuple[str, float]]:
    """Part A: the stages with warm caches and no I/O."""
    import objectstorex as osx
    from objectstorex._store import _PLAIN_PUT
    from objectstorex.backends.s3.auth import sign_headers

    loop = asyncio.new_event_loop()
    store = osx.new("s3", bucket=BUCKET, region="us-east-1", endpoint=endpoint, **KEYS)
    store._use_transport(_Instant)
    loop.run_until_complete(store.__aenter__())
    answers = _Instant()
    path = store._path("k")
    request = loop.run_until_complete(store._put_request(path, DATA, _PLAIN_PUT))
    signed = {k: v for k, v in request.headers.items()}
    rows = [
        ("put: the whole call, no transport", _best_async(loop, lambda: store.put("k", DATA))),
        ("  path and data validation", _best(lambda: (store._path("k"), store._data(DATA, "k")))),
        (
            "  request: headers, SHA-256 and CRC32C of 1 KiB",
            _best_async(loop, lambda: store._put_request(path, DATA, _PLAIN_PUT)),
        ),
        (
            "  SigV4 signature (sign_headers)",
            _best(
                lambda: sign_headers(
                    method="PUT",
                    host="127.0.0.1",
                    path="/bucket/k",
                    query="",
                    headers=signed,
                    payload_sha256=signed["X-Amz-Content-SHA256"],
                    access_key="a",
                    secret_key="s",
                    session_token=None,
                    region="us-east-1",
                )
            ),
        ),
        ("get: the whole call, no transport", _best_async(loop, lambda: store.get("k"))),
        ("get_object: the whole call, no transport", _best_async(loop, lambda: store.get_object("k"))),
        ("  metadata from the answer (_meta)", _best(lambda: store._meta("k", answers.get))),
        ("  attributes from the answer (get_object only)", _best(lambda: store._attributes(answers.get))),
    ]
    loop.run_until_complete(store.close())
    loop.close()
    return rows


async def in_situ(endpoint: str, rounds: int, requests: int) -> list[tuple[str, float]]:
    """Part B: CPU per request of three layers against nginx, alternating, medians."""
    import aiohttp

    import objectstorex as osx
    from objectstorex._store import _PLAIN_PUT
    from objectstorex.backends._http import Request

    store = osx.new("s3", bucket=BUCKET, region="us-east-1", endpoint=endpoint, **KEYS)
    await store.__aenter__()
    bare = aiohttp.ClientSession(auto_decompress=False)
    url = f"{endpoint}/{BUCKET}/stages"
    put_request = await store._put_request(store._path("stages"), DATA, _PLAIN_PUT)
    await store._authorize(put_request)
    get_request = store._read_request(
        store._key(store._path("small.bin")), store._get_options("small.bin", None, None, None, None, None, None)
    )
    await store._authorize(get_request)
    transport = store._transport
    assert transport is not None

    async def bare_put() -> None:
        async with bare.put(url, data=DATA) as r:
            await r.read()

    async def bare_get() -> None:
        async with bare.get(f"{endpoint}/{BUCKET}/small.bin") as r:
            await r.read()

    async def send(request: Request) -> None:
        response = await transport.send(request.copy())
        await response.read()
        response.release()

    layers: dict[str, Callable[[], Awaitable[object]]] = {
        "PUT: bare aiohttp (no signature, default session)": bare_put,
        "PUT: the store's transport, a signed request": lambda: send(put_request),
        "PUT: store.put": lambda: store.put("stages", DATA),
        "GET: bare aiohttp (no signature, default session)": bare_get,
        "GET: the store's transport, a signed request": lambda: send(get_request),
        "GET: store.get": lambda: store.get("small.bin"),
    }
    for make in layers.values():
        for _ in range(100):
            await make()
    cpu: dict[str, list[float]] = {name: [] for name in layers}
    names = list(layers)
    for rnd in range(rounds):
        for name in names if rnd % 2 == 0 else names[::-1]:
            make = layers[name]
            started = time.thread_time()
            for _ in range(requests):
                await make()
            cpu[name].append((time.thread_time() - started) / requests * 1e6)
    await bare.close()
    await store.close()
    return [(name, statistics.median(values)) for name, values in cpu.items()]


def main(args: argparse.Namespace) -> None:
    if args.loop == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="osx-bench-stages-", dir=shm) as tmp:
        root = Path(tmp) / "www"
        make_files(root, 1)
        with nginx(root) as endpoint:
            a = hot(endpoint)
            b = asyncio.run(in_situ(endpoint, args.rounds, args.requests))
    lines = [
        f"A. Hot, no I/O (best of 5; event loop: {args.loop}):",
        "",
        "| stage | µs |",
        "|---|---|",
        *(f"| {name} | {value:.1f} |" for name, value in a),
        "",
        f"B. In situ against nginx, CPU of this thread per request (median of {args.rounds} rounds of "
        f"{args.requests}; event loop: {args.loop}):",
        "",
        "| layer | µs CPU per request |",
        "|---|---|",
        *(f"| {name} | {value:.0f} |" for name, value in b),
    ]
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--loop", default="asyncio", choices=["asyncio", "uvloop"])
    parser.add_argument("--markdown", help="also write the tables to this file")
    main(parser.parse_args())
