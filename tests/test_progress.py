"""``progress=``: the events a user's callable gets, the same on every store, and the adapters.

The promises (issue #11, docs/progress.md): the first event has ``transferred == 0`` (and the
total when known); only the last is ``done``, with ``transferred == total ==`` the size; the
deltas so far sum to ``transferred``; at most ``ceil(size / 1 MiB) + 2`` events whatever the
chunk sizes; a part sent again after a 503 shows one negative delta of the bytes sent again; a
callable that raises aborts the transfer with its exception and leaves nothing behind.
"""

from __future__ import annotations

import io
import math
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import objectstorex as osx
import objectstorex.progress
from tests.test_faults import MIB, PART, PROVIDERS, Env, assert_nothing_left, emulator, env, payload

__all__ = ["emulator", "env"]  # fixtures used by the emulator tests (imported from test_faults)

SIZE = 20 * MIB
DATA = payload(SIZE, seed=11)


class Stop(Exception):
    """What a user's progress callable raises."""


def check(events: list[osx.ProgressEvent], size: int, *, total_known: bool, path: str) -> None:
    """Every promise about one transfer's events."""
    assert events, "no progress reported"
    first, last = events[0], events[-1]
    assert first.transferred == 0
    assert first.delta == 0
    assert first.total == (size if total_known else None)
    assert last.done
    assert last.transferred == last.total == size
    assert [e.done for e in events[:-1]] == [False] * (len(events) - 1), "done before the last event"
    so_far = 0
    for e in events:
        so_far += e.delta
        assert so_far == e.transferred, f"deltas sum to {so_far}, transferred says {e.transferred}"
        assert e.path == path
    assert len(events) <= math.ceil(size / MIB) + 2, f"{len(events)} events for {size} bytes"


def odd_chunks(data: bytes) -> Iterator[bytes]:
    """Chunks of sizes that match no part size: small ones and large ones."""
    i, k = 0, 0
    sizes = (7_000, 3 * MIB + 1, 1, 65_536)
    while i < len(data):
        n = sizes[k % len(sizes)]
        yield data[i : i + n]
        i, k = i + n, k + 1


async def agen(data: bytes) -> AsyncIterator[bytes]:
    for chunk in odd_chunks(data):
        yield chunk


def left_files(root: Path) -> list[str]:
    return [p.name for p in root.rglob("*") if p.is_file()]


async def round_trip(store: osx.BaseStore, key: str) -> None:
    """put_stream, get_stream, get, put and copy of 20 MiB, each checked."""
    events: list[osx.ProgressEvent] = []
    await store.put_stream(key, agen(DATA), part_size=PART, progress=events.append)
    check(events, SIZE, total_known=False, path=key)

    events = []
    received = bytearray()
    async with store.get_stream(key, chunk_size=10_000, progress=events.append) as stream:
        async for chunk in stream:
            received += chunk
    assert bytes(received) == DATA
    check(events, SIZE, total_known=True, path=key)

    events = []
    assert await store.get(key, progress=events.append) == DATA
    check(events, SIZE, total_known=True, path=key)

    events = []
    await store.put(key + "-whole", DATA, progress=events.append)
    check(events, SIZE, total_known=True, path=key + "-whole")

    events = []
    await store.copy(key, key + "-copy", progress=events.append)
    check(events, SIZE, total_known=True, path=key + "-copy")
    assert (await store.head(key + "-copy")).size == SIZE


# ------------------------------------------------------------------------------------------
# Memory and local


@pytest.fixture(params=["memory", "local"])
async def inproc(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[osx.BaseStore]:
    store: osx.BaseStore = osx.MemoryStore() if request.param == "memory" else osx.LocalStore(tmp_path)
    async with store:
        yield store


async def test_events_keep_their_promises_in_process(inproc: osx.BaseStore) -> None:
    await round_trip(inproc, "big")


async def test_a_ranged_stream_reports_the_range(inproc: osx.BaseStore) -> None:
    await inproc.put("r", DATA)
    events: list[osx.ProgressEvent] = []
    async with inproc.get_stream("r", range=(MIB, 4 * MIB), progress=events.append) as stream:
        assert len(await stream.read_all()) == 3 * MIB
    check(events, 3 * MIB, total_known=True, path="r")


async def test_a_raising_callable_aborts_in_process(inproc: osx.BaseStore) -> None:
    def stop(event: osx.ProgressEvent) -> None:
        if event.transferred > 0:
            raise Stop

    with pytest.raises(Stop):
        await inproc.put_stream("stopped", agen(DATA), part_size=PART, progress=stop)
    with pytest.raises(Stop):
        await inproc.put("stopped", DATA, progress=stop)
    with pytest.raises(osx.NotFoundError):
        await inproc.head("stopped")
    if isinstance(inproc, osx.LocalStore):
        assert left_files(Path(inproc.root)) == []  # no temp file left


async def test_an_abandoned_stream_releases_what_it_read(inproc: osx.BaseStore) -> None:
    await inproc.put("a", DATA)
    events: list[osx.ProgressEvent] = []
    async with inproc.get_stream("a", chunk_size=MIB, progress=events.append) as stream:
        async for _ in stream:
            break
    assert not any(e.done for e in events), "an abandoned read is not done"


# ------------------------------------------------------------------------------------------
# Emulators (through the fault proxy)


@pytest.fixture
async def remote(env: Env) -> AsyncIterator[osx.BaseStore]:
    async with env.store() as s:
        yield s


@pytest.mark.parametrize("emulator", PROVIDERS, indirect=True)
async def test_events_keep_their_promises_on_emulators(env: Env, remote: osx.BaseStore) -> None:
    await round_trip(remote, "big")


@pytest.mark.parametrize("emulator", PROVIDERS, indirect=True)
async def test_a_part_sent_again_after_503_shows_a_negative_delta(env: Env, remote: osx.BaseStore) -> None:
    from tests.emulators.faults import Fault

    rule = env.proxy.inject(Fault.answer(503), where=env.part("retried"), nth=2)
    events: list[osx.ProgressEvent] = []
    await remote.put_stream("retried", agen(DATA), part_size=PART, max_concurrency=1, progress=events.append)
    assert rule.injected == 1
    negative = [e.delta for e in events if e.delta < 0]
    assert negative == [-PART], f"negative deltas {negative}"
    assert events[-1].done
    assert events[-1].transferred == events[-1].total == SIZE
    assert sum(e.delta for e in events) == SIZE
    assert await remote.get("retried") == DATA


@pytest.mark.parametrize("emulator", PROVIDERS, indirect=True)
async def test_a_read_cut_and_read_again_takes_its_bytes_back(env: Env, remote: osx.BaseStore) -> None:
    from tests.emulators.faults import Fault

    await remote.put("cut", DATA)
    cut = 3 * MIB + 12_345
    rule = env.proxy.inject(Fault.truncate(after=cut), where=env.media_get("cut"))
    events: list[osx.ProgressEvent] = []
    assert await remote.get("cut", progress=events.append) == DATA
    assert rule.injected == 1
    negative = [e.delta for e in events if e.delta < 0]
    assert len(negative) == 1
    assert 0 < -negative[0] <= cut  # what the cut attempt had counted (what arrived of it)
    so_far = 0
    for e in events:
        so_far += e.delta
        assert so_far == e.transferred
    assert events[-1].done
    assert events[-1].transferred == events[-1].total == SIZE


@pytest.mark.parametrize("emulator", PROVIDERS, indirect=True)
async def test_a_raising_callable_aborts_and_leaves_nothing(env: Env, remote: osx.BaseStore) -> None:
    def stop(event: osx.ProgressEvent) -> None:
        if event.transferred > 0:
            raise Stop

    with pytest.raises(Stop):
        await remote.put_stream("stopped", agen(DATA), part_size=PART, progress=stop)
    await assert_nothing_left(env, remote, "stopped")


# ------------------------------------------------------------------------------------------
# Adapters, with the real libraries


async def test_tqdm_bar_reaches_the_size() -> None:
    out = io.StringIO()
    async with osx.MemoryStore() as store:
        await store.put_stream("t", agen(DATA), progress=objectstorex.progress.tqdm(file=out, mininterval=0))
    text = out.getvalue()
    assert "100%" in text, text[-200:]
    assert "20.0M/20.0M" in text, text[-200:]


async def test_rich_task_completes() -> None:
    from rich.console import Console
    from rich.progress import Progress

    display = Progress(console=Console(file=io.StringIO(), force_terminal=False))
    async with osx.MemoryStore() as store:
        await store.put("r", DATA)
        with display:
            await store.get("r", progress=objectstorex.progress.rich(display, description="download"))
    (task,) = display.tasks
    assert task.description == "download"
    assert task.total == SIZE
    assert task.completed == SIZE
    assert task.finished


async def test_rich_with_its_own_display_stops_at_the_end() -> None:
    async with osx.MemoryStore() as store:
        await store.put("r", b"x" * 1000)
        assert await store.get("r", progress=objectstorex.progress.rich()) == b"x" * 1000


async def test_fsspec_callback_gets_size_and_value() -> None:
    from fsspec.callbacks import Callback

    seen: list[tuple[int | None, int]] = []

    class Recording(Callback):  # type: ignore[misc]
        def call(self, *args: object, **kwargs: object) -> None:
            seen.append((self.size, self.value))

    async with osx.MemoryStore() as store:
        await store.put_stream("f", agen(DATA), progress=objectstorex.progress.fsspec_callback(Recording()))
    assert seen[-1] == (SIZE, SIZE)
    assert [value for _, value in seen] == sorted(value for _, value in seen)


def test_import_objectstorex_imports_no_adapter_library() -> None:
    import subprocess
    import sys

    code = "import sys, objectstorex.progress; print(sorted({'tqdm', 'rich', 'fsspec'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
