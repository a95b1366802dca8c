"""A store used without ``async with``/``close()``: its connections are released, and one warning names it.

A network store used outside the event loop that opened it says so in an objectstorex error.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import textwrap
import threading

import pytest

import objectstorex as osx

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


def _refused_store() -> osx.S3Store:
    # Nothing listens on port 9: a call fails in transit, after the store has opened.
    return osx.S3Store(
        bucket="b",
        region="us-east-1",
        endpoint="http://127.0.0.1:9",
        access_key_id="k",
        secret_access_key="s",
        retry=osx.RetryConfig(max_retries=0),
    )


async def _head(store: osx.S3Store) -> None:
    with contextlib.suppress(osx.TransportError):
        await store.head("x")


def test_a_store_whose_event_loop_ended_says_so() -> None:
    store = _refused_store()
    with pytest.warns(ResourceWarning, match="was not closed"):  # its loop ended with it open
        asyncio.run(_head(store))
    with pytest.raises(osx.ObjectStoreError, match="the event loop that opened it has ended") as caught:
        asyncio.run(store.head("x"))  # not aiohttp's bare RuntimeError("Session is closed")
    assert type(caught.value) is osx.ObjectStoreError
    assert caught.value.provider == "s3"
    assert "asyncio.run" in str(caught.value)


def test_a_store_used_from_another_running_loop_says_so() -> None:
    store = _refused_store()
    other = asyncio.new_event_loop()
    thread = threading.Thread(target=other.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(_head(store), other).result(30)
        with pytest.raises(osx.ObjectStoreError, match="opened on another event loop") as caught:
            asyncio.run(store.head("x"))  # not asyncio's "attached to a different loop"
        assert isinstance(caught.value.__cause__, RuntimeError)
        asyncio.run_coroutine_threadsafe(store.close(), other).result(30)
    finally:
        other.call_soon_threadsafe(other.stop)
        thread.join(10)
        other.close()
