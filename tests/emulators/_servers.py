"""Start and stop an emulator process on a free 127.0.0.1 port, with a readiness check."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def missing(what: str) -> None:
    """Skip when an emulator is not installed -- but never under CI, where that is a failure."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not installed (the nox tests session installs it)")
    pytest.skip(f"{what} is not installed: run the suite through `nox -s tests`")


@contextmanager
def serve(
    argv: Sequence[str], ready_url: str, *, timeout: float = 60.0, env: dict[str, str] | None = None
) -> Iterator[None]:
    """Run ``argv`` until the context exits; ready once ``ready_url`` answers any HTTP status."""
    # stderr goes to a file, never a pipe: an emulator logging every request would fill an
    # unread pipe and block forever.
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        list(argv),
        stdout=subprocess.DEVNULL,
        stderr=log,
        env={**os.environ, **(env or {})},
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                log.seek(0)
                err = log.read().decode(errors="replace")
                raise RuntimeError(f"{argv[0]} exited with {proc.returncode}: {err[-2000:]}")
            try:
                urllib.request.urlopen(ready_url, timeout=1).close()
                break
            except urllib.error.HTTPError:
                break  # any HTTP status means the server is up
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{argv[0]} not ready after {timeout} s") from None
                time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
