"""Event loops for the ecosystem bridges (zarr, obspec): who runs a store's coroutines, and where.

An HTTP store (S3, Azure, GCS) keeps its connections on the event loop that opened it; a
memory or local store keeps nothing loop-bound. The bridges are called from loops they do not
own (zarr's sync API runs on zarr's own loop thread) and from code with no loop at all (the
obspec sync protocols), so they route each call here:

- :func:`bridge_loop` is one daemon thread running an event loop, started on first use and
  shared by every bridge in the process (restarted in a forked child). Stores the bridges build
  themselves (from a URL) live on it, so any caller, on any loop or none, shares one pool.
- :class:`LoopOwner` remembers the loop a store given by the user belongs to, and turns a call
  from another loop into an :class:`~objectstorex.ObjectStoreError` that says so, instead of
  aiohttp's "attached to a different loop" (or a hang).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from .backends.local import LocalStore
from .backends.memory import MemoryStore
from .errors import ObjectStoreError

__all__ = ["LoopOwner", "bridge_loop", "generation", "loop_agnostic", "loop_mismatch", "on_loop", "wait_on"]

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_generation = 0  # bumped in a forked child: stores bound to the parent's bridge loop are unusable there
_stale: list[asyncio.AbstractEventLoop] = []  # bridge loops of a parent process: their thread is gone


def _after_fork() -> None:
    # The child has no bridge thread; the parent's loop object must never be waited on.
    global _loop, _generation
    if _loop is not None:
        _stale.append(_loop)
    _loop = None
    _generation += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def generation() -> int:
    """A number that changes in a forked child, when the parent's bridge loop is gone."""
    return _generation


def bridge_loop() -> asyncio.AbstractEventLoop:
    """The bridges' event loop, running in a daemon thread (started on first call)."""
    global _loop
    loop = _loop
    if loop is not None and not loop.is_closed():
        return loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            ready = threading.Event()
            loop.call_soon(ready.set)
            threading.Thread(target=loop.run_forever, name="objectstorex-bridge", daemon=True).start()
            ready.wait()
            _loop = loop
        return _loop


def loop_agnostic(store: object) -> bool:
    """Whether ``store`` keeps nothing bound to an event loop (memory, local): any loop may use it."""
    return isinstance(store, (MemoryStore, LocalStore))


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


async def on_loop(loop: asyncio.AbstractEventLoop, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Await ``make()`` on ``loop``: directly when it is the running loop, else across threads.

    Cancelling the caller cancels the call on ``loop``.
    """
    if _running_loop() is loop:
        return await make()
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(make(), loop))


def wait_on(loop: asyncio.AbstractEventLoop, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``make()`` on ``loop`` (running in another thread) and block until it is done.

    Raises:
        ObjectStoreError: ``loop`` is the loop running in this thread (waiting would deadlock).
    """
    if _running_loop() is loop:
        raise ObjectStoreError(
            "a blocking (sync) call was made on the event loop thread that runs it, which would "
            "deadlock: await the async method instead"
        )
    future = asyncio.run_coroutine_threadsafe(make(), loop)
    try:
        return future.result()
    except BaseException:
        future.cancel()  # KeyboardInterrupt while waiting: stop the work too
        raise


def _describe(loop: asyncio.AbstractEventLoop) -> str:
    if loop is _loop:
        return "objectstorex's bridge loop thread (sync calls)"
    return f"event loop {type(loop).__name__} at {id(loop):#x}"


#: What asyncio says when a loop-bound object (an aiohttp connection, a future, a lock) is used
#: from another loop, or after its loop was closed.
_LOOP_MISMATCH = ("attached to a different loop", "bound to a different event loop", "Event loop is closed")


def loop_mismatch(error: BaseException, what: str) -> ObjectStoreError | None:
    """The clear error for asyncio's "attached to a different loop" (and kin), else ``None``.

    Raised when a store already opened on one event loop is used from another: its connections
    belong to the first. A network store reports that itself, as an ObjectStoreError caused by
    asyncio's RuntimeError: that is recognised too, and told in this bridge's terms.
    """
    if isinstance(error, ObjectStoreError) and isinstance(error.__cause__, RuntimeError):
        error = error.__cause__
    if not isinstance(error, RuntimeError) or not any(m in str(error) for m in _LOOP_MISMATCH):
        return None
    here = _running_loop()
    where = _describe(here) if here is not None else "no event loop"
    return ObjectStoreError(
        f"the store behind this {what} belongs to another event loop (it was opened there and its "
        f"connections live there), but this call ran on {where}: use it from that loop, or give the "
        f"{what} a store made for this one (e.g. osx.from_url(...), not opened elsewhere)"
    )


class LoopOwner:
    """The event loop a user's store belongs to, for calls that may come from elsewhere.

    A memory or local store belongs to no loop: every call runs where it is made. Any other
    store belongs to the loop running when the bridge was made (it was presumably opened
    there) or, made in sync code, to the first loop that uses it: the bridge loop for sync calls.
    """

    __slots__ = ("_agnostic", "_loop", "_what")

    def __init__(self, store: object, what: str) -> None:
        """Bind ``store`` (used by ``what``, named in errors) to the running loop, if any."""
        self._agnostic = loop_agnostic(store)
        self._what = what
        self._loop: asyncio.AbstractEventLoop | None = None if self._agnostic else _running_loop()

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The owning loop, or ``None`` (not used yet, or loop-agnostic)."""
        return self._loop

    def _foreign(self, owner: asyncio.AbstractEventLoop, why: str) -> ObjectStoreError:
        return ObjectStoreError(
            f"the store behind this {self._what} belongs to {_describe(owner)} (its connections live "
            f"there) and {why}: use it from that loop, or give the {self._what} a store made "
            "for this one (e.g. osx.from_url(...) created here)"
        )

    def check(self) -> None:
        """Bind to the running loop on first use; refuse calls from any other loop.

        Raises:
            ObjectStoreError: the store belongs to another event loop.
        """
        if self._agnostic:
            return
        running = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = running
        elif self._loop is not running:
            raise self._foreign(self._loop, "this call runs on another event loop")

    def run(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run ``make()`` (which checks the owner itself) to completion from sync code.

        Where: the bridge loop for a loop-agnostic or unbound store (binding the latter to it);
        the owner loop when it runs in another thread; the owner loop driven right here when it
        is idle (created and left open, e.g. by ``loop.run_until_complete``) and this thread runs
        no loop.

        Raises:
            ObjectStoreError: the owner loop is closed, gone with a parent process, or is the
                loop running in this thread (a blocking call would deadlock).
        """

        async def call() -> T:
            return await make()

        if self._agnostic:
            return wait_on(bridge_loop(), call)
        owner = self._loop
        if owner is None:
            self._loop = owner = bridge_loop()
        if owner is _loop:
            return wait_on(owner, call)
        if owner.is_closed() or owner in _stale:
            raise self._foreign(owner, "that loop is closed (or belongs to a parent process)")
        here = _running_loop()
        if owner is here:
            raise self._foreign(owner, "a blocking call from that loop's own thread would deadlock (await instead)")
        if owner.is_running():
            return wait_on(owner, call)
        if here is not None:
            raise self._foreign(owner, "that loop is idle and this thread already runs another one")
        return owner.run_until_complete(call())
