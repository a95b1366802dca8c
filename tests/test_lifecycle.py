"""A store used without ``async with``/``close()``: its connections are released, and one warning names it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import asyncio, gc, sys, warnings
    import objectstorex as osx

    warnings.simplefilter("always")
    kept = []

    async def main():
        store = osx.S3Store(
            bucket="b", region="us-east-1", endpoint="http://127.0.0.1:9",
            access_key_id="k", secret_access_key="s", retry=osx.RetryConfig(max_retries=0),
        )
        try:
            await store.head("x")  # opens the store; nothing listens on port 9
        except osx.TransportError:
            pass
        if sys.argv[1] == "dropped":
            del store
            gc.collect()
            await asyncio.sleep(0.1)
        else:
            kept.append(store)

    asyncio.run(main())
    kept.clear()
    gc.collect()
    """
)


@pytest.mark.parametrize("how", ["dropped", "left_open_at_exit"])
def test_an_unclosed_store_warns_once_and_releases_its_connections(how: str) -> None:
    pytest.importorskip("aiohttp")
    done = subprocess.run([sys.executable, "-c", SCRIPT, how], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("was not closed") == 1, done.stderr
    assert "S3Store(bucket='b'" in done.stderr
    assert "await store.close()" in done.stderr
    assert "Unclosed" not in done.stderr, done.stderr  # aiohttp's own messages: the session was closed
