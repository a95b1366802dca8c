"""The objectstorex command line next to s5cmd and ``aws s3``, against one S3 server in one run.

Measures, for each tool: 2,000 x 4 KiB files up and down, one large file up and down (256 MiB by
default: moto keeps every object in memory and writes a multipart upload twice, so 1 GiB per tool
takes minutes; pass ``--large-mib 1024`` for the issue's full size), and reports wall time,
client CPU (user + system of the tool's process tree, from ``wait4``) and the client's peak RSS.
Then ``objectstorex cp -r`` of the 2,000 files to ``memory://`` with ``-j 64`` and ``-j 1``.

Usage::

    python bench/bench_cli.py                    # moto started here; s5cmd and aws from PATH
    python bench/bench_cli.py --aws /path/to/aws --small 2000 --large-mib 256

The tools run with their defaults (objectstorex ``-j 32``, s5cmd 256 workers, aws 10 requests
in flight). moto answers every request with ``Connection: close`` and is single-process Python:
where the server is the bottleneck, client CPU per object is the honest comparison.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent
KEYS = {"AWS_ACCESS_KEY_ID": "bench-key", "AWS_SECRET_ACCESS_KEY": "bench-secret"}


@dataclass
class Measure:
    """One run of one command."""

    wall: float
    cpu: float
    rss_mib: float
    ok: bool


def measure(argv: list[str], env: dict[str, str]) -> Measure:
    """Run ``argv``; wall time, and CPU and peak RSS of its process (and the children it waited for)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        print(f"  ! {' '.join(argv[:4])}... exited {proc.returncode}: {err[-400:]}", file=sys.stderr)
    return Measure(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode == 0)


def copy_in_process(small: Path, jobs: int) -> float:
    """``objectstorex cp -r SMALL memory://bench -j JOBS`` in this process: the copy's wall time."""
    from click.testing import CliRunner

    from objectstorex.cli import cli

    start = time.perf_counter()
    result = CliRunner().invoke(cli, ["cp", "-q", "-r", "-j", str(jobs), str(small), "memory://bench"])
    elapsed = time.perf_counter() - start
    assert result.exit_code == 0, result.output
    return elapsed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    binary = BIN / "moto_server"
    port = free_port()
    proc = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
            return proc, endpoint
        except urllib.error.HTTPError:
            return proc, endpoint
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("moto_server did not start") from None
            time.sleep(0.1)


def create_bucket(endpoint: str, bucket: str) -> None:
    request = urllib.request.Request(f"{endpoint}/{bucket}", method="PUT")
    urllib.request.urlopen(request, timeout=30).close()


def tool_commands(
    tool: str, exe: str, ep: str, bucket: str, small: Path, large: Path, down: Path
) -> dict[str, list[str]]:
    """The four transfers for one tool, each into its own prefix and local directory."""
    remote = f"s3://{bucket}/{tool}"
    if tool == "objectstorex":
        base = [exe, "cp", "-q", "--endpoint", ep]
        return {
            "small up": [*base, "-r", str(small), f"{remote}/small"],
            "small down": [*base, "-r", f"{remote}/small", str(down / tool / "small")],
            "large up": [*base, str(large), f"{remote}/large.bin"],
            "large down": [*base, f"{remote}/large.bin", str(down / tool / "large.bin")],
        }
    if tool == "s5cmd":
        base = [exe, "--endpoint-url", ep, "--log", "error", "cp"]
        return {
            "small up": [*base, f"{small}/*", f"{remote}/small/"],
            "small down": [*base, f"{remote}/small/*", f"{down / tool / 'small'}/"],
            "large up": [*base, str(large), f"{remote}/large.bin"],
            "large down": [*base, f"{remote}/large.bin", str(down / tool / "large.bin")],
        }
    base = [exe, "--endpoint-url", ep, "s3", "cp", "--quiet", "--only-show-errors"]
    return {
        "small up": [*base, "--recursive", str(small), f"{remote}/small/"],
        "small down": [*base, "--recursive", f"{remote}/small/", str(down / tool / "small")],
        "large up": [*base, str(large), f"{remote}/large.bin"],
        "large down": [*base, f"{remote}/large.bin", str(down / tool / "large.bin")],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=2000, help="number of 4 KiB files")
    parser.add_argument("--large-mib", type=int, default=256, help="size of the large file in MiB")
    parser.add_argument("--aws", default=shutil.which("aws"), help="the aws executable (awscli)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each transfer; the fastest is kept")
    parser.add_argument("--s5cmd", default=shutil.which("s5cmd") or str(BIN / "s5cmd"), help="the s5cmd executable")
    args = parser.parse_args()

    tools = {"objectstorex": str(BIN / "objectstorex"), "s5cmd": args.s5cmd, "aws s3": args.aws}
    tools = {name: exe for name, exe in tools.items() if exe and Path(exe).exists()}
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(KEYS, AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")

    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        root = Path(tmp)
        small = root / "small"
        small.mkdir()
        for i in range(args.small):
            (small / f"f{i:05d}.bin").write_bytes(os.urandom(4096))
        large = root / "large.bin"
        with large.open("wb") as f:
            for _ in range(args.large_mib):
                f.write(os.urandom(1024 * 1024))
        down = root / "down"
        moto, ep = start_moto()
        rows: list[tuple[str, str, Measure]] = []
        remote_jobs: dict[int, Measure] = {}
        try:
            create_bucket(ep, "bench")
            for name, exe in tools.items():
                tag = name.replace(" ", "-")
                for case, argv in tool_commands(tag, exe, ep, "bench", small, large, down).items():
                    m = min((measure(argv, env) for _ in range(args.repeat)), key=lambda r: r.wall)
                    rows.append((name, case, m))
                    line = f"{name:12} {case:10} {m.wall:7.2f} s  cpu {m.cpu:6.2f} s  rss {m.rss_mib:6.0f} MiB"
                    print(line, flush=True)
            # Where each request waits on a server, objects in flight are what -j buys.
            for j in (1, 64):
                argv = [str(BIN / "objectstorex"), "cp", "-q", "-r", "-j", str(j), "--endpoint", ep]
                remote_jobs[j] = measure([*argv, str(small), f"s3://bench/jobs-{j}"], env)
        finally:
            moto.terminate()
            moto.wait(30)

        jobs = {}
        in_process = {}
        for j in (64, 1):
            argv = [str(BIN / "objectstorex"), "cp", "-q", "-r", "-j", str(j), str(small), "memory://bench"]
            jobs[j] = min((measure(argv, env) for _ in range(args.repeat)), key=lambda r: r.wall)
            in_process[j] = min(copy_in_process(small, j) for _ in range(max(args.repeat, 3)))
        startup = measure([str(BIN / "objectstorex"), "--help"], env)

    print()
    print(f"S3 server: moto (one process, Connection: close); {args.small} x 4 KiB files; {args.large_mib} MiB file")
    print()
    print("| tool | transfer | wall (s) | objects/s or MiB/s | client CPU (s) | CPU per object (ms) | peak RSS (MiB) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, case, m in rows:
        if case.startswith("small"):
            rate = f"{args.small / m.wall:.0f} obj/s"
            per = f"{1000 * m.cpu / args.small:.2f}"
        else:
            rate = f"{args.large_mib / m.wall:.0f} MiB/s"
            per = ""
        flag = "" if m.ok else " (failed)"
        print(f"| {name}{flag} | {case} | {m.wall:.2f} | {rate} | {m.cpu:.2f} | {per} | {m.rss_mib:.0f} |")
    print()
    print(f"objectstorex cp -r of {args.small} x 4 KiB local files -> memory:// (whole process, startup included):")
    print()
    print("| jobs | wall (s) | client CPU (s) |")
    print("|---:|---:|---:|")
    for j, m in jobs.items():
        print(f"| -j {j} | {m.wall:.2f} | {m.cpu:.2f} |")
    print(f"\nspeed-up -j 64 over -j 1: {jobs[1].wall / jobs[64].wall:.2f}x")
    print()
    print("The copy alone (the command run in this process through click's runner, no interpreter start):")
    print()
    print("| jobs | wall (s) |")
    print("|---:|---:|")
    for j, seconds in in_process.items():
        print(f"| -j {j} | {seconds:.3f} |")
    print(f"\nspeed-up -j 64 over -j 1: {in_process[1] / in_process[64]:.2f}x")
    print()
    print(f"The same {args.small} files local -> S3 (moto):")
    print()
    print("| jobs | wall (s) | client CPU (s) |")
    print("|---:|---:|---:|")
    for j, m in sorted(remote_jobs.items(), reverse=True):
        print(f"| -j {j} | {m.wall:.2f} | {m.cpu:.2f} |")
    if len(remote_jobs) == 2:
        print(f"\nspeed-up -j 64 over -j 1: {remote_jobs[1].wall / remote_jobs[64].wall:.2f}x")
    print(f"`objectstorex --help`: {startup.wall * 1000:.0f} ms wall")


if __name__ == "__main__":
    main()
