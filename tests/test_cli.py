"""The ``objectstorex`` command line, run as users run it: the real entry point in a subprocess.

Local files and moto carry most checks (a memory store does not outlive a process: it is tested
in-process through click's runner); ``cp``/``ls`` also run against Azurite and fake-gcs-server.
Assertions are batched per subprocess: each costs a fresh interpreter.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from objectstorex.cli import cli
from tests.emulators import gcs as gcs_emulator
from tests.emulators.s3 import KEYS, boto_client, create_bucket

#: Modules ``objectstorex --help`` must not import (cloud SDKs, progress bars, ecosystem bridges).
HEAVY = {
    "rich",
    "tqdm",
    "aiohttp",
    "aiobotocore",
    "botocore",
    "azure",
    "google",
    "fsspec",
    "zarr",
    "pyarrow",
    "pandas",
    "duckdb",
}
HEAVY_OURS = {"objectstorex.backends.s3", "objectstorex.backends.azure", "objectstorex.backends.gcs"}


def base_env(**extra: str) -> dict[str, str]:
    """The environment without any cloud settings of the machine running the tests."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "AZURE_", "GOOGLE_")) and k != "STORAGE_EMULATOR_HOST"
    }
    env.update(extra)
    return env


def s3_env(**extra: str) -> dict[str, str]:
    return base_env(
        AWS_ACCESS_KEY_ID=KEYS["access_key_id"],
        AWS_SECRET_ACCESS_KEY=KEYS["secret_access_key"],
        AWS_REGION="us-east-1",
        **extra,
    )


def cli_run(
    *args: object, env: dict[str, str] | None = None, cwd: Path | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """``python -m objectstorex ARGS`` (stdout and stderr captured: neither is a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "objectstorex", *map(str, args)],
        capture_output=True,
        env=base_env() if env is None else env,
        cwd=cwd,
        input=stdin,
        timeout=120,
    )


def invoke(*args: object, env: dict[str, str | None] | None = None, cwd: Path | None = None) -> Result:
    """The same command in this process (click's runner): for the many checks a subprocess each would slow."""
    with contextlib.chdir(cwd) if cwd is not None else contextlib.nullcontext():
        return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)


def lines(result: subprocess.CompletedProcess[bytes] | Result) -> list[str]:
    data = result.stdout if isinstance(result, subprocess.CompletedProcess) else result.stdout_bytes
    return data.decode().splitlines()


def make_tree(root: Path) -> dict[str, bytes]:
    """A small tree of files; returns relative path -> content."""
    files = {
        "a.txt": b"hello\n",
        "c.bin": bytes(range(256)) * 4,
        "sub/b.txt": b"world\n",
        "sub/deeper/d.txt": b"deep",
        "sp ace+emoji-\U0001f600.txt": b"unicode names round-trip",
    }
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def tree_of(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (bookkeeping files included: none may exist)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------------- startup


def test_help_imports_no_sdk_and_documents_every_command_and_exit_code() -> None:
    probe = (
        "import runpy, sys\n"
        "sys.argv = ['objectstorex', '--help']\n"
        "try:\n"
        "    runpy.run_module('objectstorex', run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    assert e.code in (0, None), e.code\n"
        "print('LOADED', sorted(sys.modules), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, env=base_env(), timeout=60)
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stderr.decode().split("LOADED ", 1)[1].replace("'", '"')))
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}, "--help imported a heavy module"
    assert not loaded & HEAVY_OURS
    text = result.stdout.decode()
    for command in ("ls", "stat", "cat", "cp", "mv", "rm", "sync", "du", "sign"):
        assert f"  {command} " in text
    for code in ("0 ", "1 ", "2 ", "3 ", "130 "):
        assert f"\n    {code}" in text

    # The console script next to the interpreter is the same command.
    script = Path(sys.executable).with_name("objectstorex")
    version = subprocess.run([str(script), "--version"], capture_output=True, env=base_env(), timeout=60)
    assert version.returncode == 0
    assert b"objectstorex" in version.stdout
    cp_help = subprocess.run([str(script), "cp", "--help"], capture_output=True, env=base_env(), timeout=60)
    for flag in (b"-j, --jobs", b"--part-size", b"--part-concurrency", b"-n, --no-clobber", b"-r, --recursive"):
        assert flag in cp_help.stdout
    assert b"130" in cp_help.stdout


# ------------------------------------------------------------------------------------- local


def test_local_listing_reading_and_sizes(tmp_path: Path) -> None:
    files = make_tree(tmp_path / "src")

    assert lines(cli_run("ls", "src", cwd=tmp_path)) == [
        "src/a.txt",
        "src/c.bin",
        "src/sp ace+emoji-\U0001f600.txt",
        "src/sub/",
    ]
    listed = cli_run("ls", "-r", "--json", "src", cwd=tmp_path)
    assert listed.returncode == 0
    objects = [json.loads(line) for line in lines(listed)]
    assert [o["path"] for o in objects] == sorted(f"src/{rel}" for rel in files)
    for o in objects:
        assert o["size"] == len(files[o["path"][4:]])
        assert datetime.fromisoformat(o["last_modified"]).tzinfo is not None
        assert isinstance(o["etag"], str)
    long = lines(cli_run("ls", "-l", "--human", "src/sub/", cwd=tmp_path))
    assert long[0].endswith("src/sub/b.txt")
    assert "6 B" in long[0]
    assert long[1].split()[-2:] == ["DIR", "src/sub/deeper/"]

    # Ranges are inclusive as in HTTP: 1-3 is three bytes; -2 the last two; 2- to the end.
    ranged = cli_run("cat", "--range", "1-3", "src/a.txt", "src/sub/b.txt", cwd=tmp_path)
    assert ranged.stdout == b"ell" + b"orl"
    assert cli_run("cat", "--range=-2", "src/a.txt", cwd=tmp_path).stdout == b"o\n"
    assert cli_run("cat", "src/c.bin", "--range", "1020-", cwd=tmp_path).stdout == files["c.bin"][1020:]

    du = lines(cli_run("du", "src", cwd=tmp_path))
    total = sum(len(d) for d in files.values())
    assert du[-1] == f"{total}\tsrc"
    assert f"{len(files['sub/b.txt']) + len(files['sub/deeper/d.txt'])}\tsrc/sub/" in du
    assert lines(cli_run("du", "-s", "--human", "src", cwd=tmp_path)) == ["1.0 KiB\tsrc"]

    stat = json.loads(cli_run("stat", "--json", "src/a.txt", cwd=tmp_path).stdout)
    assert (stat["path"], stat["size"]) == ("src/a.txt", 6)


def test_local_copies_leave_plain_files_only(tmp_path: Path) -> None:
    files = make_tree(tmp_path / "src")

    # -r copies the contents of the source under the destination, as `aws s3 cp --recursive`.
    assert cli_run("cp", "-r", "src", "dst", cwd=tmp_path).returncode == 0
    assert tree_of(tmp_path / "dst") == files  # plain files: no .objectstorex/, no temporary files
    # A wildcard keeps each match's path relative to the part before it.
    assert cli_run("cp", "src/**/*.txt", "txt/", cwd=tmp_path).returncode == 0
    assert set(tree_of(tmp_path / "txt")) == {rel for rel in files if rel.endswith(".txt")}
    assert cli_run("cp", "src/sub/*", "one-level/", cwd=tmp_path).returncode == 0
    assert set(tree_of(tmp_path / "one-level")) == {"b.txt"}
    # Several sources go into the destination directory; one source may be renamed.
    assert cli_run("cp", "src/a.txt", "src/c.bin", "many/", cwd=tmp_path).returncode == 0
    assert tree_of(tmp_path / "many") == {"a.txt": files["a.txt"], "c.bin": files["c.bin"]}
    assert cli_run("cp", "file://" + str(tmp_path / "src/a.txt"), "renamed.txt", cwd=tmp_path).returncode == 0
    assert (tmp_path / "renamed.txt").read_bytes() == files["a.txt"]

    # --no-clobber leaves an existing file alone, names it on stderr, and exits 0.
    (tmp_path / "many/a.txt").write_bytes(b"keep me")
    skipped = cli_run("cp", "-n", "src/a.txt", "src/c.bin", "many/", cwd=tmp_path)
    assert skipped.returncode == 0
    assert "many/a.txt" in skipped.stderr.decode()
    assert (tmp_path / "many/a.txt").read_bytes() == b"keep me"

    moved = cli_run("mv", "many/a.txt", "moved/", cwd=tmp_path)
    assert moved.returncode == 0
    assert not (tmp_path / "many/a.txt").exists()
    assert (tmp_path / "moved/a.txt").read_bytes() == b"keep me"

    assert cli_run("rm", "-r", "dst", cwd=tmp_path).returncode == 0
    assert not (tmp_path / "dst").exists()
    assert cli_run("rm", "many/*.bin", cwd=tmp_path).returncode == 0
    assert not (tmp_path / "many/c.bin").exists()


def test_a_local_store_directory_lists_as_the_store_sees_it(tmp_path: Path) -> None:
    """Its private .objectstorex/ files are never listed, and the ETags are the store's."""
    import objectstorex as osx

    async def fill() -> dict[str, str | None]:
        async with osx.new("local", path=str(tmp_path / "root")) as store:
            await store.put("a.txt", b"a", content_type="text/plain")
            await store.put("d/b.txt", b"bb", metadata={"k": "v"})
            return {m.location: m.etag async for m in store.list()}

    etags = asyncio.run(fill())
    assert (tmp_path / "root" / ".objectstorex").is_dir()
    listed = [json.loads(line) for line in lines(invoke("ls", "-r", "--json", str(tmp_path / "root")))]
    assert {o["path"][len(str(tmp_path / "root")) + 1 :]: o["etag"] for o in listed} == etags
    assert lines(invoke("ls", str(tmp_path / "root"))) == [f"{tmp_path}/root/a.txt", f"{tmp_path}/root/d/"]
    assert invoke("cp", "-r", str(tmp_path / "root"), str(tmp_path / "copy")).exit_code == 0
    assert tree_of(tmp_path / "copy") == {"a.txt": b"a", "d/b.txt": b"bb"}


def test_exit_codes(tmp_path: Path) -> None:
    make_tree(tmp_path / "src")
    # The real process: one of each code.
    assert cli_run("ls", "src/*.nothing", cwd=tmp_path).returncode == 3
    assert cli_run("cat", "--range", "9-3", "src/a.txt", cwd=tmp_path).returncode == 2
    assert cli_run("cat", "--range", "100-", "src/a.txt", cwd=tmp_path).returncode == 1  # unsatisfiable: a failed read

    # 3: no match, or a missing source.
    missing: tuple[tuple[str, ...], ...] = (
        ("ls", "src/nothing"),
        ("cp", "src/*.nothing", "out/"),
        ("cp", "src/missing.txt", "out/"),
        ("rm", "src/*.nothing"),
        ("stat", "src/missing.txt"),
        ("cat", "src/missing.txt"),
        ("sync", "no-such-dir", "out"),
    )
    for args in missing:
        result = invoke(*args, cwd=tmp_path)
        assert result.exit_code == 3, (args, result.stderr)
        assert result.stderr, args
    assert not (tmp_path / "out").exists()
    # 0: removing a missing literal path (delete is idempotent).
    assert invoke("rm", "src/missing.txt", cwd=tmp_path).exit_code == 0
    # 2: usage errors, before anything is done.
    usage: tuple[tuple[str, ...], ...] = (
        ("cp", "--part-size", "5XB", "src/a.txt", "out/"),
        ("ls", "ftp://host/x"),
        ("ls",),
        ("cp", "src/a.txt"),
        ("sign", "--expires-in", "soon", "s3://b/k"),
        ("ls", "--no-such-flag", "src"),
        ("sign", "src/a.txt"),
        ("cp", "src/a.txt", "out/*"),
        ("sync", "src/*", "out"),
    )
    for args in usage:
        result = invoke(*args, cwd=tmp_path)
        assert result.exit_code == 2, (args, result.stderr)
    assert not (tmp_path / "out").exists()
    # 1: some operations failed, the rest done: a directory without -r beside a file.
    partial = invoke("cp", "src/sub", "src/a.txt", "out/", cwd=tmp_path)
    assert partial.exit_code == 1
    assert "src/sub" in partial.stderr
    assert (tmp_path / "out/a.txt").exists()


def test_local_sync(tmp_path: Path) -> None:
    files = make_tree(tmp_path / "src")
    assert cli_run("sync", "src", "dst", cwd=tmp_path).returncode == 0
    assert tree_of(tmp_path / "dst") == files
    # Nothing differs: nothing to copy.
    assert cli_run("sync", "--dry-run", "src", "dst", cwd=tmp_path).stdout == b""

    (tmp_path / "src/a.txt").write_bytes(b"a different size\n")
    (tmp_path / "dst/extra.txt").write_bytes(b"only at the destination")
    # Same size, other content, older at the source: by size and time nothing to do; --checksum sees it.
    (tmp_path / "src/sub/b.txt").write_bytes(b"WORLD\n")
    old = time.time() - 3600
    os.utime(tmp_path / "src/sub/b.txt", (old, old))
    plan = lines(cli_run("sync", "--dry-run", "--delete", "src", "dst", cwd=tmp_path))
    assert plan == ["copy src/a.txt -> dst/a.txt", "delete dst/extra.txt"]
    assert cli_run("sync", "--delete", "src", "dst", cwd=tmp_path).returncode == 0
    assert (tmp_path / "dst/a.txt").read_bytes() == b"a different size\n"
    assert not (tmp_path / "dst/extra.txt").exists()
    assert (tmp_path / "dst/sub/b.txt").read_bytes() == b"world\n"
    assert cli_run("sync", "--checksum", "src", "dst", cwd=tmp_path).returncode == 0
    assert tree_of(tmp_path / "dst") == tree_of(tmp_path / "src")


def test_memory_store_in_process(tmp_path: Path) -> None:
    """A memory store lives as long as one command: a copy into it works, nothing outlives it."""
    make_tree(tmp_path / "src")
    runner = CliRunner()
    copied = runner.invoke(cli, ["cp", "-r", str(tmp_path / "src"), "memory://dst"])
    assert copied.exit_code == 0, copied.output
    assert runner.invoke(cli, ["ls", "memory://"]).exit_code == 0  # the (new, empty) store's root
    assert runner.invoke(cli, ["cat", "memory://dst/a.txt"]).exit_code == 3
    assert runner.invoke(cli, ["sign", "memory://x"]).exit_code == 1  # memory stores cannot sign


# ------------------------------------------------------------------------------------- output


def test_cat_is_binary_safe_and_quiet_on_a_closed_pipe(tmp_path: Path) -> None:
    big = os.urandom(4 * 1024 * 1024)
    (tmp_path / "big.bin").write_bytes(big)
    assert cli_run("cat", "big.bin", cwd=tmp_path).stdout == big
    proc = subprocess.Popen(
        [sys.executable, "-m", "objectstorex", "cat", "big.bin"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=base_env(),
    )
    with proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        assert proc.stdout.read(10) == big[:10]
        proc.stdout.close()  # the reader goes away, as `| head -c 10` does
        assert proc.wait(60) == 0
        assert proc.stderr.read() == b""


def run_on_pty(args: list[str], cwd: Path) -> tuple[int, bytes, bytes]:
    """Run with stderr on a pseudo-terminal (stdout a pipe); returns (code, stdout, terminal output)."""
    leader, follower = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "objectstorex", *args],
        stdout=subprocess.PIPE,
        stderr=follower,
        cwd=cwd,
        env=base_env(COLUMNS="100", TERM="xterm"),
    )
    os.close(follower)
    seen = b""
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 60)
            if not ready:
                break
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the process closed its end
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
    with proc:
        assert proc.stdout is not None
        out = proc.stdout.read()
        return proc.wait(60), out, seen


def test_progress_only_on_a_terminal_and_never_with_quiet(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src/big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    code, out, terminal = run_on_pty(["cp", "-r", "src", "dst"], tmp_path)
    assert code == 0
    assert out == b""  # stdout carries data and listings only
    assert b"1/1 objects" in terminal
    assert b"3.0" in terminal
    assert b"MiB" in terminal

    code, out, terminal = run_on_pty(["cp", "-q", "-r", "src", "quiet"], tmp_path)
    assert (code, out, terminal) == (0, b"", b"")
    code, out, terminal = run_on_pty(["ls", "--json", "-r", "src"], tmp_path)
    assert code == 0
    assert terminal == b""
    assert json.loads(out)["size"] == 3 * 1024 * 1024
    # Not a terminal: nothing on stderr either.
    assert cli_run("cp", "-r", "src", "piped", cwd=tmp_path).stderr == b""


# ------------------------------------------------------------------------------------- S3 (moto)


@pytest.fixture
def bucket(moto_endpoint: str) -> str:
    name = f"cli-{uuid.uuid4().hex[:16]}"
    asyncio.run(create_bucket(moto_endpoint, name))
    return name


def runner_env(**extra: str) -> dict[str, str | None]:
    """``invoke``'s environment: the machine's cloud settings unset, ``extra`` set."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith(("AWS_", "AZURE_", "GOOGLE_"))}
    env["STORAGE_EMULATOR_HOST"] = None
    env.update(extra)
    return env


S3_KEYS = {
    "AWS_ACCESS_KEY_ID": KEYS["access_key_id"],
    "AWS_SECRET_ACCESS_KEY": KEYS["secret_access_key"],
    "AWS_REGION": "us-east-1",
}


def test_s3_commands(moto_endpoint: str, bucket: str, tmp_path: Path) -> None:
    files = make_tree(tmp_path / "src")
    ep = ("--endpoint", moto_endpoint)
    env = runner_env(**S3_KEYS)

    def s3(*args: object) -> Result:
        return invoke(*args, *ep, env=env, cwd=tmp_path)

    # Up, through the real entry point (keys from the environment, the endpoint as a flag).
    assert cli_run("cp", "-r", "src", f"s3://{bucket}/data", "-j", "4", *ep, env=s3_env(), cwd=tmp_path).returncode == 0
    listed = s3("ls", "-r", "--json", f"s3://{bucket}/data")
    objects = {o["path"]: o for o in map(json.loads, lines(listed))}
    assert set(objects) == {f"data/{rel}" for rel in files}
    for rel, data in files.items():
        o = objects[f"data/{rel}"]
        assert o["size"] == len(data)
        assert o["etag"].strip('"') == hashlib.md5(data).hexdigest()  # single-part S3 ETag
        assert datetime.fromisoformat(o["last_modified"]).tzinfo is not None
    assert lines(s3("ls", f"s3://{bucket}/data/")) == [
        f"s3://{bucket}/data/a.txt",
        f"s3://{bucket}/data/c.bin",
        f"s3://{bucket}/data/sp ace+emoji-\U0001f600.txt",
        f"s3://{bucket}/data/sub/",
    ]
    assert lines(s3("du", "-s", f"s3://{bucket}/data")) == [f"{sum(map(len, files.values()))}\ts3://{bucket}/data"]
    # Store options may also come before the command name.
    before = invoke(*ep, "ls", f"s3://{bucket}/data/sub/", env=env)
    assert lines(before) == [f"s3://{bucket}/data/sub/b.txt", f"s3://{bucket}/data/sub/deeper/"]

    # `cat s3://b/x.gz | gunzip` works: the bytes come out as stored.
    text = b"line of a log\n" * 5000
    (tmp_path / "log.gz").write_bytes(gzip.compress(text))
    assert s3("cp", "log.gz", f"s3://{bucket}/logs/").exit_code == 0
    gunzip = "gunzip" if shutil.which("gunzip") else f"{sys.executable} -m gzip -d"
    piped = subprocess.run(
        f"{sys.executable} -m objectstorex cat s3://{bucket}/logs/log.gz --endpoint {moto_endpoint} | {gunzip}",
        shell=True,
        capture_output=True,
        env=s3_env(),
        timeout=60,
    )
    assert piped.returncode == 0
    assert piped.stdout == text
    assert s3("cat", "--range", "-4", f"s3://{bucket}/data/c.bin").stdout_bytes == files["c.bin"][-4:]

    # Down: a wildcard copy keeps paths relative to the literal prefix, as plain files.
    assert s3("cp", f"s3://{bucket}/data/**/*.txt", "down/").exit_code == 0
    assert tree_of(tmp_path / "down") == {rel: d for rel, d in files.items() if rel.endswith(".txt")}
    assert s3("cp", "-r", f"s3://{bucket}/data", "all").exit_code == 0
    assert tree_of(tmp_path / "all") == files

    # --no-clobber: create-only; the skipped name is on stderr and the exit code 0.
    (tmp_path / "all/a.txt").write_bytes(b"local edit")
    kept = s3("cp", "-n", "-r", f"s3://{bucket}/data", "all")
    assert kept.exit_code == 0
    assert "all/a.txt" in kept.stderr
    assert (tmp_path / "all/a.txt").read_bytes() == b"local edit"
    (tmp_path / "new.txt").write_bytes(b"not this")
    skipped = s3("cp", "-n", "new.txt", f"s3://{bucket}/data/a.txt")
    assert skipped.exit_code == 0
    assert f"s3://{bucket}/data/a.txt" in skipped.stderr
    assert s3("cat", f"s3://{bucket}/data/a.txt").stdout_bytes == files["a.txt"]

    # Server-side within the bucket (a whole prefix, then one object); then a pre-signed URL anyone can fetch.
    assert s3("cp", "-r", f"s3://{bucket}/data/sub", f"s3://{bucket}/copy").exit_code == 0
    assert lines(s3("ls", "-r", f"s3://{bucket}/copy")) == [
        f"s3://{bucket}/copy/b.txt",
        f"s3://{bucket}/copy/deeper/d.txt",
    ]
    assert s3("mv", f"s3://{bucket}/logs/log.gz", f"s3://{bucket}/moved/log.gz").exit_code == 0
    assert s3("ls", f"s3://{bucket}/logs/").exit_code == 3
    url = s3("sign", "--expires-in", "5m", f"s3://{bucket}/moved/log.gz").stdout.strip()
    with urllib.request.urlopen(url, timeout=30) as response:
        assert gzip.decompress(response.read()) == text
    stat = s3("stat", f"s3://{bucket}/moved/log.gz", f"s3://{bucket}/nope")
    assert stat.exit_code == 3
    assert f"path: s3://{bucket}/moved/log.gz" in stat.stdout

    # rm: a missing literal key is fine; -r empties the prefix (in delete_many batches).
    assert s3("rm", f"s3://{bucket}/never-there").exit_code == 0
    assert s3("rm", "-r", f"s3://{bucket}/data", "-j", "2").exit_code == 0
    assert s3("ls", "-r", f"s3://{bucket}/data").exit_code == 3
    assert s3("rm", f"s3://{bucket}/data/*.txt").exit_code == 3


def test_s3_sync_and_partial_failures(moto_endpoint: str, bucket: str, tmp_path: Path) -> None:
    files = make_tree(tmp_path / "src")
    env = runner_env(**S3_KEYS, AWS_ENDPOINT_URL=moto_endpoint)  # the endpoint as the AWS SDKs read it

    def run(*args: object) -> Result:
        return invoke(*args, env=env, cwd=tmp_path)

    remote = f"s3://{bucket}/mirror"
    assert run("sync", "src", remote).exit_code == 0
    # Just uploaded: the copies are newer than the files and the sizes agree.
    assert run("sync", "--dry-run", "src", remote).stdout_bytes == b""
    (tmp_path / "src/sub/b.txt").write_bytes(b"WORLD\n")  # same size, other content
    (tmp_path / "src/a.txt").unlink()
    plan = lines(run("sync", "--dry-run", "--checksum", "--delete", "src", remote))
    assert plan == [f"copy src/sub/b.txt -> {remote}/sub/b.txt", f"delete {remote}/a.txt"]
    assert run("sync", "--checksum", "--delete", "src", remote).exit_code == 0
    assert run("sync", "--checksum", remote, "back").exit_code == 0
    expected = {rel: d for rel, d in files.items() if rel != "a.txt"} | {"sub/b.txt": b"WORLD\n"}
    assert tree_of(tmp_path / "back") == expected

    # One name S3 cannot take (a control character): the others are copied, the exit code is 1.
    (tmp_path / "mixed").mkdir()
    (tmp_path / "mixed/good.txt").write_bytes(b"good")
    (tmp_path / "mixed/bad\x01.txt").write_bytes(b"bad")
    partial = run("cp", "-r", "mixed", f"s3://{bucket}/mixed")
    assert partial.exit_code == 1
    assert "bad" in partial.stderr
    assert lines(run("ls", f"s3://{bucket}/mixed/")) == [f"s3://{bucket}/mixed/good.txt"]
    # A store option no store of the command takes is a usage error.
    assert run("ls", "-o", "no_such_option=1", f"s3://{bucket}").exit_code == 2


async def pending_uploads(endpoint: str, bucket: str) -> list[tuple[str, int]]:
    """Open multipart uploads of the bucket, with the number of parts each has."""
    async with boto_client(endpoint) as client:
        uploads = (await client.list_multipart_uploads(Bucket=bucket)).get("Uploads", [])
        found = []
        for upload in uploads:
            parts = await client.list_parts(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
            found.append((upload["Key"], len(parts.get("Parts", []))))
        return found


def test_ctrl_c_aborts_the_multipart_upload(moto_endpoint: str, bucket: str) -> None:
    # stdin is the slow path: the upload cannot finish before the test sends Ctrl-C.
    argv = [sys.executable, "-m", "objectstorex", "cp", "-", f"s3://{bucket}/big.bin", "--part-size", "5MiB"]
    proc = subprocess.Popen(
        [*argv, "--endpoint", moto_endpoint],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=s3_env(),
    )
    assert proc.stdin is not None
    assert proc.stderr is not None
    with proc:
        try:
            proc.stdin.write(os.urandom(12 * 1024 * 1024))
            proc.stdin.flush()
            deadline = time.monotonic() + 60
            while not any(parts >= 2 for _, parts in asyncio.run(pending_uploads(moto_endpoint, bucket))):
                assert time.monotonic() < deadline, "the upload never started"
                time.sleep(0.05)
            proc.send_signal(signal.SIGINT)
            assert proc.wait(60) == 130
            assert b"interrupted" in proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()
    assert asyncio.run(pending_uploads(moto_endpoint, bucket)) == []  # aborted, not left behind
    assert invoke("ls", f"s3://{bucket}/big.bin", "--endpoint", moto_endpoint, env=runner_env(**S3_KEYS)).exit_code == 3


# ------------------------------------------------------------------------------------- Azure, GCS


def test_azure_cp_and_ls(azurite_endpoint: str, tmp_path: Path) -> None:
    from objectstorex.backends.azure.auth import AZURITE_ACCOUNT, AZURITE_KEY
    from tests.emulators.azure import create_container

    container = f"cli-{uuid.uuid4().hex[:16]}"
    asyncio.run(create_container(azurite_endpoint, container))
    files = make_tree(tmp_path / "src")
    flags = ("--account", AZURITE_ACCOUNT, "--endpoint", azurite_endpoint)
    up = cli_run(
        "cp", "-r", "src", f"az://{container}/up", *flags, env=base_env(AZURE_STORAGE_KEY=AZURITE_KEY), cwd=tmp_path
    )
    assert up.returncode == 0, up.stderr
    env = runner_env(AZURE_STORAGE_KEY=AZURITE_KEY)
    listed = [json.loads(line) for line in lines(invoke("ls", "-r", "--json", f"az://{container}", *flags, env=env))]
    assert {o["path"]: o["size"] for o in listed} == {f"up/{rel}": len(d) for rel, d in files.items()}
    assert lines(invoke("ls", f"az://{container}/up/sub", *flags, env=env)) == [
        f"az://{container}/up/sub/b.txt",
        f"az://{container}/up/sub/deeper/",
    ]
    assert invoke("cp", "-r", f"az://{container}/up", "down", *flags, env=env, cwd=tmp_path).exit_code == 0
    assert tree_of(tmp_path / "down") == files


def test_gcs_cp_and_ls_and_a_copy_to_s3(
    fake_gcs_endpoint: str, moto_endpoint: str, bucket: str, tmp_path: Path
) -> None:
    gcs_bucket = f"cli-{uuid.uuid4().hex[:16]}"
    gcs_emulator.create_bucket(fake_gcs_endpoint, gcs_bucket)
    files = make_tree(tmp_path / "src")
    flags = ("--endpoint", fake_gcs_endpoint, "--anonymous")
    up = cli_run("cp", "-r", "src", f"gs://{gcs_bucket}/up", *flags, cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    env = runner_env()
    assert lines(invoke("ls", f"gs://{gcs_bucket}/up/sub/", *flags, env=env)) == [
        f"gs://{gcs_bucket}/up/sub/b.txt",
        f"gs://{gcs_bucket}/up/sub/deeper/",
    ]
    assert invoke("cp", f"gs://{gcs_bucket}/up/**", "down/", *flags, env=env, cwd=tmp_path).exit_code == 0
    assert tree_of(tmp_path / "down") == files

    # Store to store across providers, each endpoint from the environment its SDK reads.
    env = runner_env(**S3_KEYS, AWS_ENDPOINT_URL=moto_endpoint, STORAGE_EMULATOR_HOST=fake_gcs_endpoint)
    assert invoke("cp", "-r", f"gs://{gcs_bucket}/up", f"s3://{bucket}/from-gcs", env=env).exit_code == 0
    copied = [json.loads(line) for line in lines(invoke("ls", "-r", "--json", f"s3://{bucket}/from-gcs", env=env))]
    assert {o["path"]: o["size"] for o in copied} == {f"from-gcs/{rel}": len(d) for rel, d in files.items()}
