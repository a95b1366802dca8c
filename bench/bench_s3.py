"""Benchmark: S3 GETs and PUTs against nginx for objectstorex, obstore, aiobotocore and s3fs, in one run.

Usage (by hand, not in CI; installs nginx with apt-get if it is missing)::

    python bench/bench_s3.py [--rounds 5] [--seconds 2] [--size-mib 1024] [--markdown out.md]
                             [--tests small,put,stream] [--loops asyncio,uvloop] [--clients a,b]

nginx (one worker, a temporary config, a free 127.0.0.1 port) serves path-style ``/bucket/key``
static files, which answers S3 GETs thousands of times per second -- unlike moto, whose ~5 ms
of server CPU per request would hide every client's cost. Signatures are computed by every
client (dummy keys) and ignored by nginx. Measured, each client in its own subprocess:

* 1 KiB GET ops/s at concurrency 1 and 32 (``--seconds`` per round);
* 1 KiB PUT ops/s at concurrency 1 and 32 (nginx's WebDAV PUT stores the file; each worker
  cycles over 16 keys; objectstorex, obstore and the two bare aiohttp loops only);
* streaming a ``--size-mib`` object: MiB/s, and the process's peak RSS (``ru_maxrss``) and its
  growth over the RSS before the transfer.

Each round runs every client once, in a fresh subprocess, the clients alternating (the order
reversed every other round) so that the machine's drift hits them all alike; every figure is the
median of ``--rounds`` rounds, ratios against obstore and against two bare aiohttp loops:
``aiohttp`` sends unsigned requests (the ceiling of anything built on aiohttp), ``aiohttp-sigv4``
sends the requests objectstorex sends (SigV4-signed; a PUT with the body's SHA-256 and CRC32C),
signed by a minimal signer in this file (the ceiling of any aiohttp-based S3 client).
``--loops asyncio,uvloop`` runs everything under both event loops (uvloop must be installed;
obstore runs its own tokio runtime either way).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BUCKET = "bucket"
SMALL = "small.bin"
BIG = "big.bin"
KEYS = {"access_key_id": "AKIDBENCHMARK", "secret_access_key": "bench-secret-key"}
# aiohttp: a bare loop of unsigned requests. aiohttp-sigv4: a bare loop sending the request an S3
# client must send (SigV4-signed, and for a PUT the body's SHA-256 and CRC32C), signed by the
# minimal signer below: the floor of any aiohttp-based S3 client.
CLIENTS = ["objectstorex", "obstore", "aiobotocore", "s3fs", "aiohttp", "aiohttp-sigv4"]
PUT_CLIENTS = ["objectstorex", "obstore", "aiohttp", "aiohttp-sigv4"]
PUT_KEYS = 16  # keys each PUT worker cycles over
MIB = 1024 * 1024
CHUNK = MIB  # read size asked of every streaming client that takes one


# ------------------------------------------------------------------------------ nginx


class SigV4:
    """The least an S3 client does per request: SigV4 with the signing key cached per day.

    Written for the ``aiohttp-sigv4`` baseline from the AWS specification alone (hashlib and hmac),
    independent of objectstorex's signer.
    """

    def __init__(self, endpoint: str, region: str = "us-east-1") -> None:
        self.host = endpoint.split("://", 1)[1]
        self.scope_tail = f"{region}/s3/aws4_request"
        self.day = ""
        self.key = b""
        self.second = -1
        self.amz_date = ""

    def headers(self, method: str, path: str, payload_sha256: str, extra: dict[str, str]) -> dict[str, str]:
        import hashlib
        import hmac

        now = int(time.time())
        if now != self.second:  # the date string changes once a second
            self.second, self.amz_date = now, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        amz_date = self.amz_date
        if amz_date[:8] != self.day:
            self.day = amz_date[:8]
            key = f"AWS4{KEYS['secret_access_key']}".encode()
            for part in (self.day, *self.scope_tail.split("/")):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self.key = key
        headers = {"x-amz-content-sha256": payload_sha256, "x-amz-date": amz_date, **extra}
        signed = sorted([("host", self.host), *((k.lower(), v) for k, v in headers.items())])
        names = ";".join(k for k, _ in signed)
        canonical = "".join(f"{k}:{v}\n" for k, v in signed)
        request = f"{method}\n{path}\n\n{canonical}\n{names}\n{payload_sha256}"
        scope = f"{self.day}/{self.scope_tail}"
        to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(request.encode()).hexdigest()}"
        signature = hmac.new(self.key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={KEYS['access_key_id']}/{scope}, SignedHeaders={names}, Signature={signature}"
        )
        return headers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if found:
        return found
    print("nginx is missing: apt-get update && apt-get install -y nginx", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "nginx"], check=True, env=env, stdout=subprocess.DEVNULL)
    return shutil.which("nginx") or "/usr/sbin/nginx"


@contextmanager
def nginx(root: Path) -> Iterator[str]:
    """Serve ``root`` (``root/bucket/key`` files) on a free port with one worker."""
    port = _free_port()
    conf = root.parent / "nginx.conf"
    tmp = root.parent / "nginx-tmp"
    tmp.mkdir(exist_ok=True)
    conf.write_text(
        f"""
daemon off;
worker_processes 1;
pid {root.parent}/nginx.pid;
error_log {root.parent}/nginx-error.log warn;
{"user root;" if os.geteuid() == 0 else ""}
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    default_type application/octet-stream;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        client_body_buffer_size 1m;
        client_max_body_size 0;
        location / {{
            dav_methods PUT;
            create_full_put_path on;
            # S3 clients want an ETag in a PUT answer (nginx's WebDAV sends none).
            if ($request_method = PUT) {{ add_header ETag '"put"' always; }}
        }}
    }}
}}
"""
    )
    proc = subprocess.Popen([_nginx(), "-c", str(conf), "-p", str(root.parent)], stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {proc.stderr.read().decode() if proc.stderr else ''}")
            try:
                urllib.request.urlopen(f"{url}/{BUCKET}/{SMALL}", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def make_files(root: Path, size_mib: int) -> None:
    bucket = root / BUCKET
    bucket.mkdir(parents=True, exist_ok=True)
    (bucket / SMALL).write_bytes(os.urandom(1024))
    block = os.urandom(MIB)
    with open(bucket / BIG, "wb") as f:
        for _ in range(size_mib):
            f.write(block)
    for p in (root.parent, root, bucket, bucket / SMALL, bucket / BIG):
        p.chmod(0o755)
    os.sync()  # no writeback of the fresh file competing with the first client measured


# ------------------------------------------------------------------------------ clients (in a worker)

Get = Callable[[str], Awaitable[bytes]]
Stream = Callable[[str], Awaitable[int]]
Put = Callable[[str, bytes], Awaitable[None]]


async def putter(name: str, endpoint: str) -> tuple[Put, Callable[[], Awaitable[None]]]:
    """``put(key, data)`` and ``close()`` of one client."""
    if name == "objectstorex":
        import objectstorex as osx

        store = osx.new("s3", bucket=BUCKET, region="us-east-1", endpoint=endpoint, **KEYS)
        await store.__aenter__()

        async def osx_put(key: str, data: bytes) -> None:
            await store.put(key, data)

        return osx_put, store.close
    if name == "obstore":
        import obstore
        from obstore.store import S3Store

        ob = S3Store(
            BUCKET,
            endpoint=endpoint,
            region="us-east-1",
            access_key_id=KEYS["access_key_id"],
            secret_access_key=KEYS["secret_access_key"],
            client_options={"allow_http": True},
        )

        async def ob_put(key: str, data: bytes) -> None:
            await obstore.put_async(ob, key, data)

        async def nothing() -> None:
            return None

        return ob_put, nothing
    if name == "aiohttp":
        # The ceiling of any aiohttp-based client: unsigned PUTs, nothing but the HTTP library.
        import aiohttp

        http = aiohttp.ClientSession(auto_decompress=False)

        async def raw_put(key: str, data: bytes) -> None:
            async with http.put(f"{endpoint}/{BUCKET}/{key}", data=data) as resp:
                await resp.read()
                assert resp.status < 300, resp.status

        return raw_put, http.close
    if name == "aiohttp-sigv4":
        import base64
        import hashlib

        import aiohttp
        import google_crc32c

        http = aiohttp.ClientSession(auto_decompress=False)
        signer = SigV4(endpoint)

        async def signed_put(key: str, data: bytes) -> None:
            path = f"/{BUCKET}/{key}"
            crc = base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()
            extra = {"x-amz-sdk-checksum-algorithm": "CRC32C", "x-amz-checksum-crc32c": crc}
            headers = signer.headers("PUT", path, hashlib.sha256(data).hexdigest(), extra)
            async with http.put(f"{endpoint}{path}", data=data, headers=headers) as resp:
                await resp.read()
                assert resp.status < 300, resp.status

        return signed_put, http.close
    raise SystemExit(f"no PUT client {name}")


async def client(name: str, endpoint: str) -> tuple[Get, Stream, Callable[[], Awaitable[None]]]:
    """``get(key) -> bytes``, ``stream(key) -> bytes consumed``, ``close()`` of one client."""
    if name == "objectstorex":
        import objectstorex as osx

        store = osx.new("s3", bucket=BUCKET, region="us-east-1", endpoint=endpoint, **KEYS)
        await store.__aenter__()

        async def stream(key: str) -> int:
            n = 0
            async with store.get_stream(key, chunk_size=CHUNK) as s:
                async for chunk in s:
                    n += len(chunk)
            return n

        return store.get, stream, store.close

    if name == "obstore":
        import obstore
        from obstore.store import S3Store

        ob = S3Store(
            BUCKET,
            endpoint=endpoint,
            region="us-east-1",
            access_key_id=KEYS["access_key_id"],
            secret_access_key=KEYS["secret_access_key"],
            client_options={"allow_http": True},
        )

        async def ob_get(key: str) -> bytes:
            res = await obstore.get_async(ob, key)
            return bytes(await res.bytes_async())

        async def ob_stream(key: str) -> int:
            res = await obstore.get_async(ob, key)
            n = 0
            async for chunk in res.stream():  # its default min_chunk_size (10 MB)
                n += len(chunk)
            return n

        async def nothing() -> None:
            return None

        return ob_get, ob_stream, nothing

    if name == "aiobotocore":
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session

        cm = get_session().create_client(
            "s3",
            region_name="us-east-1",
            endpoint_url=endpoint,
            aws_access_key_id=KEYS["access_key_id"],
            aws_secret_access_key=KEYS["secret_access_key"],
            config=AioConfig(max_pool_connections=64, s3={"addressing_style": "path"}),
        )
        c = await cm.__aenter__()

        async def boto_get(key: str) -> bytes:
            resp = await c.get_object(Bucket=BUCKET, Key=key)
            async with resp["Body"] as body:
                data: bytes = await body.read()
            return data

        async def boto_stream(key: str) -> int:
            resp = await c.get_object(Bucket=BUCKET, Key=key)
            n = 0
            async with resp["Body"] as body:
                async for chunk in body.iter_chunks(CHUNK):
                    n += len(chunk)
            return n

        async def boto_close() -> None:
            await cm.__aexit__(None, None, None)

        return boto_get, boto_stream, boto_close

    if name == "s3fs":
        import s3fs

        fs = s3fs.S3FileSystem(
            key=KEYS["access_key_id"],
            secret=KEYS["secret_access_key"],
            client_kwargs={"endpoint_url": endpoint, "region_name": "us-east-1"},
            asynchronous=True,
            skip_instance_cache=True,
            max_concurrency=32,
        )
        session = await fs.set_session()

        async def fs_get(key: str) -> bytes:
            data: bytes = await fs._cat_file(f"{BUCKET}/{key}")
            return data

        async def fs_stream(key: str) -> int:
            n = 0
            f = await fs.open_async(f"{BUCKET}/{key}", "rb")
            try:
                while chunk := await f.read(CHUNK):
                    n += len(chunk)
            finally:
                await f.close()
            return n

        async def fs_close() -> None:
            await session.close()

        return fs_get, fs_stream, fs_close

    if name == "aiohttp":
        # The ceiling of any aiohttp-based client: unsigned GETs, nothing but the HTTP library.
        import aiohttp

        http = aiohttp.ClientSession(auto_decompress=False, read_bufsize=CHUNK)

        async def raw_get(key: str) -> bytes:
            async with http.get(f"{endpoint}/{BUCKET}/{key}") as resp:
                return await resp.read()

        async def raw_stream(key: str) -> int:
            n = 0
            async with http.get(f"{endpoint}/{BUCKET}/{key}") as resp:
                while chunk := await resp.content.read(CHUNK):
                    n += len(chunk)
            return n

        return raw_get, raw_stream, http.close

    if name == "aiohttp-sigv4":
        import hashlib

        import aiohttp

        http = aiohttp.ClientSession(auto_decompress=False, read_bufsize=CHUNK)
        signer = SigV4(endpoint)
        empty = hashlib.sha256(b"").hexdigest()

        async def signed_get(key: str) -> bytes:
            path = f"/{BUCKET}/{key}"
            async with http.get(f"{endpoint}{path}", headers=signer.headers("GET", path, empty, {})) as resp:
                return await resp.read()

        async def signed_stream(key: str) -> int:
            n = 0
            path = f"/{BUCKET}/{key}"
            async with http.get(f"{endpoint}{path}", headers=signer.headers("GET", path, empty, {})) as resp:
                while chunk := await resp.content.read(CHUNK):
                    n += len(chunk)
            return n

        return signed_get, signed_stream, http.close

    raise SystemExit(f"unknown client {name}")


async def small_gets(name: str, endpoint: str, concurrency: int, rounds: int, seconds: float) -> dict[str, Any]:
    get, _, close = await client(name, endpoint)
    try:
        for _ in range(50):  # warm-up: connections, caches, signing keys
            assert len(await get(SMALL)) == 1024
        results = []
        for _ in range(rounds):
            done = 0

            async def worker(stop: float) -> None:
                nonlocal done
                while time.perf_counter() < stop:
                    data = await get(SMALL)
                    assert len(data) == 1024
                    done += 1

            started = time.perf_counter()
            await asyncio.gather(*(worker(started + seconds) for _ in range(concurrency)))
            results.append(done / (time.perf_counter() - started))
        return {"ops": results}
    finally:
        await close()


async def small_puts(name: str, endpoint: str, concurrency: int, rounds: int, seconds: float) -> dict[str, Any]:
    put, close = await putter(name, endpoint)
    data = os.urandom(1024)
    try:
        for i in range(50):  # warm-up: connections, caches, signing keys
            await put(f"put/{i % PUT_KEYS}", data)
        results = []
        for _ in range(rounds):
            done = 0

            async def worker(index: int, stop: float) -> None:
                nonlocal done
                i = 0
                while time.perf_counter() < stop:
                    await put(f"put/w{index}-{i % PUT_KEYS}", data)
                    i += 1
                    done += 1

            started = time.perf_counter()
            await asyncio.gather(*(worker(w, started + seconds) for w in range(concurrency)))
            results.append(done / (time.perf_counter() - started))
        return {"ops": results}
    finally:
        await close()


async def streaming(name: str, endpoint: str, size: int, rounds: int) -> dict[str, Any]:
    _, stream, close = await client(name, endpoint)
    try:
        assert await stream(BIG) == size  # warm-up: connections, page cache
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        results = []
        for _ in range(rounds):
            started = time.perf_counter()
            n = await stream(BIG)
            elapsed = time.perf_counter() - started
            assert n == size, (n, size)
            results.append(size / MIB / elapsed)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return {"mibps": results, "base_rss_mib": base, "peak_rss_mib": peak}
    finally:
        await close()


def run_worker(args: argparse.Namespace) -> None:
    if args.loop == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    if args.test == "small":
        out = asyncio.run(small_gets(args.worker, args.endpoint, args.concurrency, args.rounds, args.seconds))
    elif args.test == "put":
        out = asyncio.run(small_puts(args.worker, args.endpoint, args.concurrency, args.rounds, args.seconds))
    else:
        out = asyncio.run(streaming(args.worker, args.endpoint, args.size_mib * MIB, args.rounds))
    print(json.dumps(out))


# ------------------------------------------------------------------------------ driver


def measure(
    script: str, endpoint: str, name: str, test: str, args: argparse.Namespace, loop: str, **extra: int
) -> dict[str, Any]:
    """One round of one client in a fresh subprocess (warm-up included)."""
    argv = [sys.executable, script, "--worker", name, "--endpoint", endpoint, "--test", test, "--loop", loop]
    argv += ["--rounds", "1", "--seconds", str(args.seconds), "--size-mib", str(args.size_mib)]
    for k, v in extra.items():
        argv += [f"--{k}", str(v)]
    for _ in range(2):  # one retry: a loaded machine can kill a run
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        reported = done.stdout.strip().splitlines()
        if reported and reported[-1].startswith("{"):
            if done.returncode != 0:
                # obstore 0.12 sometimes aborts (SIGABRT) at interpreter exit, after reporting.
                print(f"{name} {test}: exit {done.returncode} after reporting its result", file=sys.stderr)
            result: dict[str, Any] = json.loads(reported[-1])
            return result
        print(f"{name} {test} failed (exit {done.returncode}):\n{done.stderr[-3000:]}", file=sys.stderr)
    return {}


def _alternating(names: list[str], rnd: int) -> list[str]:
    return names if rnd % 2 == 0 else names[::-1]


def main(args: argparse.Namespace) -> None:
    script = str(Path(__file__).resolve())
    loops = [x for x in args.loops.split(",") if x]
    wanted = [x for x in args.clients.split(",") if x] if args.clients else None
    get_clients = [c for c in CLIENTS if wanted is None or c in wanted]
    put_clients = [c for c in PUT_CLIENTS if wanted is None or c in wanted]
    # (test, loop, concurrency, client) -> one result per round
    ops: dict[tuple[str, str, int, str], list[float]] = {}
    big: dict[tuple[str, str], dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="osx-bench-s3-", dir=args.tmp) as tmp:
        root = Path(tmp) / "www"
        make_files(root, args.size_mib)
        with nginx(root) as endpoint:
            for rnd in range(args.rounds):
                for loop in loops:
                    for test, names in (("small", get_clients), ("put", put_clients)):
                        if test not in args.tests:
                            continue
                        for concurrency in (1, 32):
                            for name in _alternating(names, rnd):
                                r = measure(script, endpoint, name, test, args, loop, concurrency=concurrency)
                                if r:
                                    ops.setdefault((test, loop, concurrency, name), []).extend(r["ops"])
                                    print(
                                        f"round {rnd + 1} {loop:7} {test:5} c={concurrency:<2} {name:13}"
                                        f" {r['ops'][0]:8.0f} ops/s",
                                        flush=True,
                                    )
                    if "stream" in args.tests:
                        for name in _alternating(get_clients, rnd):
                            r = measure(script, endpoint, name, "stream", args, loop)
                            if r:
                                b = big.setdefault((loop, name), {"mibps": [], "peak": [], "growth": []})
                                b["mibps"].extend(r["mibps"])
                                b["peak"].append(r["peak_rss_mib"])
                                b["growth"].append(r["peak_rss_mib"] - r["base_rss_mib"])
                                print(
                                    f"round {rnd + 1} {loop:7} stream {name:13} {r['mibps'][0]:8.0f} MiB/s"
                                    f"  peak RSS {r['peak_rss_mib']:.0f} MiB",
                                    flush=True,
                                )

    def med(values: list[float] | None) -> float | None:
        return statistics.median(values) if values else None

    def ratio(value: float | None, ref: float | None) -> str:
        return f"{value / ref:.2f}x" if value and ref else "n/a"

    lines: list[str] = []
    titles = {"small": "1 KiB GET", "put": "1 KiB PUT"}
    for test, names in (("small", get_clients), ("put", put_clients)):
        if test not in args.tests:
            continue
        lines.append(f"{titles[test]}, ops/s (median of {args.rounds} alternating rounds of {args.seconds:g} s):")
        lines.append("")
        lines.append(
            "| loop | client | c=1 | vs obstore | vs aiohttp | vs aiohttp+SigV4"
            " | c=32 | vs obstore | vs aiohttp | vs aiohttp+SigV4 |"
        )
        lines.append("|---|---|---|---|---|---|---|---|---|---|")
        for loop in loops:
            for name in names:
                cells = []
                for c in (1, 32):
                    v = med(ops.get((test, loop, c, name)))
                    cells.append(
                        f"{v or 0:,.0f} | {ratio(v, med(ops.get((test, loop, c, 'obstore'))))}"
                        f" | {ratio(v, med(ops.get((test, loop, c, 'aiohttp'))))}"
                        f" | {ratio(v, med(ops.get((test, loop, c, 'aiohttp-sigv4'))))}"
                    )
                lines.append(f"| {loop} | {name} | {cells[0]} | {cells[1]} |")
        lines.append("")
    if big:
        lines.append(
            f"Streaming a {args.size_mib} MiB object (median of {args.rounds} rounds; RSS of the client process):"
        )
        lines.append("")
        lines.append("| loop | client | MiB/s | vs obstore | vs aiohttp | peak RSS MiB | RSS growth MiB |")
        lines.append("|---|---|---|---|---|---|---|")
        for loop in loops:
            ref = med(big.get((loop, "obstore"), {}).get("mibps"))
            bare = med(big.get((loop, "aiohttp"), {}).get("mibps"))
            for name in get_clients:
                b = big.get((loop, name))
                if b:
                    v = med(b["mibps"])
                    lines.append(
                        f"| {loop} | {name} | {v or 0:,.0f} | {ratio(v, ref)} | {ratio(v, bare)}"
                        f" | {max(b['peak']):.0f} | {max(b['growth']):.0f} |"
                    )
    text = "\n".join(lines)
    print()
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--markdown", help="also write the result tables to this file")
    parser.add_argument("--tests", default="small,put,stream", help="comma-separated: small, put, stream")
    parser.add_argument("--loops", default="asyncio,uvloop", help="comma-separated: asyncio, uvloop")
    parser.add_argument("--clients", help="comma-separated subset of the clients (default: all)")
    parser.add_argument(
        "--tmp",
        default="/dev/shm" if os.path.isdir("/dev/shm") else None,
        help="where nginx's files live (default: /dev/shm, so PUTs measure clients, not the disk)",
    )
    parser.add_argument("--loop", default="asyncio", help=argparse.SUPPRESS)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--test", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=1, help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.worker:
        run_worker(parsed)
    else:
        main(parsed)
