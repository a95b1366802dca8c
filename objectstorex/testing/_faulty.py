"""FaultyStore: wrap any store and inject errors, latency and lost answers, reproducibly.

Made for testing the code *around* a store -- retries, reconciliation after a lost answer,
timeouts -- without a flaky network::

    faulty = FaultyStore(store, [Fault(ops=("put",), paths="locks/*", rate=0.2, lost_write=True)], seed=1)

Each call of a Store method is checked against the faults in order. A fault matches when the
method is one of its ``ops`` and a path of the call matches its ``paths`` glob; a matching fault
fires with probability ``rate`` (one draw of ``random.Random(seed)`` per matching fault per
call, at the moment of the call, so a given sequence of calls sees the same faults on every run).
The latencies of the faults that fire add up; the first firing fault with an ``error`` decides
what happens to the call:

* without ``lost_write``: the error is raised and the call never reaches the inner store;
* with ``lost_write``: the write goes to the inner store, and if it succeeds its answer is
  replaced by the error -- "the write landed, but the answer was lost". A write the inner store
  refuses raises its own error (nothing was written, so there is no answer to lose).
"""

from __future__ import annotations

import asyncio
import builtins
import copy
import math
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

from .._store import ByteStream, RangeArg, Store
from .._stream import ObjectStream
from .._types import Capabilities, ChecksumName, GetResult, ListResult, ObjectMeta, ProgressCallback, PutResult
from ..errors import InvalidArgumentError, InvalidConfigError, ObjectStoreError, TransportError
from ..paths import validate_path, validate_prefix
from ..preconditions import PutMode, UpdateVersion

__all__ = ["READ_OPS", "WRITE_OPS", "Fault", "FaultyStore", "Injection"]

T = TypeVar("T")

#: The Store methods that write (a ``lost_write`` fault may name only these).
WRITE_OPS: frozenset[str] = frozenset(
    ("put", "put_stream", "delete", "delete_many", "copy", "rename", "copy_if_not_exists", "rename_if_not_exists")
)
#: The Store methods that only read.
READ_OPS: frozenset[str] = frozenset(
    ("get", "get_object", "get_stream", "get_ranges", "head", "list", "list_with_delimiter", "get_tags", "sign")
)
_OPS = WRITE_OPS | READ_OPS

ErrorSpec = type[ObjectStoreError] | ObjectStoreError | None


def _bad(message: str) -> InvalidConfigError:
    return InvalidConfigError(f"Fault: {message}")


@dataclass(frozen=True, slots=True)
class Fault:
    """One kind of failure to inject, for some operations on some paths.

    Example::

        Fault(ops=("put",), paths="locks/*", rate=0.2, lost_write=True)  # 1 write answer in 5 lost
        Fault(ops=("get", "get_object"), error=osx.NotFoundError)        # every read: not found
        Fault(ops=("head",), error=None, latency=0.5)                    # slow, never failing

    Args:
        ops: the Store method names this fault applies to (see :data:`WRITE_OPS` and
            :data:`READ_OPS`); a single name may be given as a str. Kept as a tuple.
        paths: a glob (``fnmatch``, case-sensitive; ``*`` also crosses ``/``) matched against
            the call's path: the destination of ``copy``/``rename``/``*_if_not_exists``, each
            path of ``delete_many`` (any match counts), the prefix of ``list`` and
            ``list_with_delimiter`` (``""`` for the root).
        error: an ``ObjectStoreError`` subclass (raised with the call's path and the inner
            store's provider; a ``TransportError`` is ``retryable``), an instance (raised as a
            copy, its ``path``/``provider`` filled in when unset), or ``None`` for a
            latency-only fault.
        rate: the probability that a matching call is hit, from 0.0 to 1.0.
        lost_write: apply the write to the inner store, then raise ``error`` as if the answer had
            been lost on the way back. Only for write operations, and needs an ``error``.
        latency: seconds to wait (``asyncio.sleep``) before the call goes on, when the fault fires.

    Raises:
        InvalidConfigError: an unknown operation, a rate outside [0, 1], a negative latency, an
            ``error`` that is not an ``ObjectStoreError``, a ``lost_write`` on a read or without
            an error, or a fault that would do nothing.
    """

    ops: Iterable[str] = ("put",)
    paths: str = "*"
    error: ErrorSpec = TransportError
    rate: float = 1.0
    lost_write: bool = False
    latency: float = 0.0

    def __post_init__(self) -> None:
        ops: object = self.ops
        if isinstance(ops, str):
            ops = (ops,)
        if not isinstance(ops, Iterable) or not all(isinstance(op, str) for op in ops):
            raise InvalidArgumentError(f"Fault: ops must be Store method names, got {self.ops!r}")
        names = tuple(ops)
        if not names:
            raise _bad("ops is empty: name at least one Store method")
        unknown = sorted(set(names) - _OPS)
        if unknown:
            raise _bad(f"unknown operation(s) {unknown}; known: {sorted(_OPS)}")
        object.__setattr__(self, "ops", names)
        if not isinstance(self.paths, str) or not self.paths:
            raise InvalidArgumentError(f"Fault: paths must be a non-empty glob str, got {self.paths!r}")
        if isinstance(self.rate, bool) or not isinstance(self.rate, (int, float)) or not 0.0 <= self.rate <= 1.0:
            raise _bad(f"rate must be a probability from 0.0 to 1.0, got {self.rate!r}")
        if (
            isinstance(self.latency, bool)
            or not isinstance(self.latency, (int, float))
            or not math.isfinite(self.latency)
            or self.latency < 0
        ):
            raise _bad(f"latency must be a finite number of seconds >= 0, got {self.latency!r}")
        if not isinstance(self.lost_write, bool):
            raise InvalidArgumentError(f"Fault: lost_write must be a bool, got {self.lost_write!r}")
        self._check_error()
        if self.lost_write:
            if self.error is None:
                raise _bad("lost_write=True needs an error to raise once the write has landed")
            reads = sorted(set(names) & READ_OPS)
            if reads:
                raise _bad(f"lost_write applies to writes only; {reads} do not write")
        if self.error is None and self.latency == 0:
            raise _bad("error=None with latency=0 injects nothing: set an error or a latency")

    def _check_error(self) -> None:
        error = self.error
        if error is None or isinstance(error, ObjectStoreError):
            return
        if not isinstance(error, type) or not issubclass(error, ObjectStoreError):
            raise InvalidArgumentError(
                f"Fault: error must be an ObjectStoreError subclass or instance (or None), got {error!r}"
            )
        try:
            error("probe", path=None, provider=None)
        except TypeError as e:
            raise _bad(
                f"error={error.__name__} cannot be built from a message alone ({e}); pass an instance instead"
            ) from e

    def matches(self, op: str, path: str) -> bool:
        """Whether this fault applies to a call of ``op`` on ``path`` (before its rate is drawn)."""
        return op in self.ops and fnmatchcase(path, self.paths)


@dataclass(frozen=True, slots=True)
class Injection:
    """One fault that was injected, as recorded in :attr:`FaultyStore.injected`.

    Attributes:
        op: the Store method called.
        path: the path the fault matched.
        kind: ``"error"`` (raised, nothing sent), ``"lost_write"`` (written, answer replaced by
            the error) or ``"latency"`` (delayed).
        fault: the fault that fired.
    """

    op: str
    path: str
    kind: Literal["error", "lost_write", "latency"]
    fault: Fault = field(repr=False)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What happens to one call: the summed latency and the error fault that fired, if any."""

    op: str
    latency: tuple[tuple[Fault, str], ...] = ()
    fault: Fault | None = None
    path: str = ""


_NOTHING = _Plan("")


class FaultyStore:
    """A Store that wraps ``inner`` and injects the given faults into its calls.

    It is a full Store (type your code against ``osx.Store`` and pass it in): every method is
    delegated to ``inner`` unless a fault fires, ``capabilities`` and ``provider`` are the
    inner store's, and closing it (or leaving ``async with``) closes ``inner``. Calls with an
    invalid path, and calls after ``close()``, go straight to ``inner`` (whose error is raised,
    as a real store raises it before any I/O).

    Example::

        faulty = FaultyStore(store, [Fault(ops=("put",), rate=0.2, lost_write=True)], seed=7)
        counter = OptimisticCounter(faulty, "stats/visits")
        await counter.increment()  # a lost answer is recognised, not counted twice

    Args:
        inner: the store to wrap (any ``osx.Store``).
        faults: one :class:`Fault` or a sequence of them, checked in order.
        seed: seed of the ``random.Random`` that draws the rates; the same seed and the same
            sequence of calls inject the same faults. ``None`` seeds from the OS (a different
            run each time).

    Attributes:
        inner: the wrapped store.
        faults: the faults, in order.
        injected: every fault injected so far, in order (see :class:`Injection`).

    Raises:
        InvalidConfigError: ``inner`` is not a Store, ``faults`` holds something that is not a
            :class:`Fault`, or ``seed`` is not an int or None.
    """

    def __init__(self, inner: Store, faults: Fault | Sequence[Fault], *, seed: int | None = 0) -> None:
        if not isinstance(inner, Store):
            raise InvalidArgumentError(f"FaultyStore: inner must be an objectstorex Store, got {type(inner).__name__}")
        items: object = (faults,) if isinstance(faults, Fault) else faults
        if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
            raise InvalidArgumentError(f"FaultyStore: faults must be a Fault or a sequence of Faults, got {faults!r}")
        checked = tuple(items)
        for f in checked:
            if not isinstance(f, Fault):
                raise InvalidArgumentError(f"FaultyStore: faults must hold Fault objects, got {f!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise InvalidArgumentError(f"FaultyStore: seed must be an int or None, got {seed!r}")
        self.inner = inner
        self.faults: tuple[Fault, ...] = checked
        self.seed = seed
        self.injected: builtins.list[Injection] = []
        self._rng = random.Random(seed)
        self._closed = False
        self._by_op: dict[str, tuple[Fault, ...]] = {
            op: tuple(f for f in checked if op in f.ops) for op in _OPS if any(op in f.ops for f in checked)
        }

    def __repr__(self) -> str:
        return f"FaultyStore({self.inner!r}, faults={len(self.faults)}, seed={self.seed!r})"

    @property
    def provider(self) -> str | None:
        """The inner store's provider name (errors carry it)."""
        provider = getattr(self.inner, "provider", None)
        return provider if isinstance(provider, str) else None

    @property
    def capabilities(self) -> Capabilities:
        """The inner store's capabilities."""
        return self.inner.capabilities

    # ------------------------------------------------------------------------------ faults

    def _plan(self, op: str, paths: Sequence[object], *, prefix: bool = False) -> _Plan:
        """Decide now (one draw per matching fault) what happens to this call."""
        faults = self._by_op.get(op)
        if not faults or self._closed:
            return _NOTHING
        candidates = [p for p in paths if isinstance(p, str) and _valid(p, prefix=prefix)]
        if not candidates:
            return _NOTHING  # an invalid path: the inner store raises it, as before any I/O
        delays: builtins.list[tuple[Fault, str]] = []
        chosen: Fault | None = None
        chosen_path = ""
        for fault in faults:
            hit = next((p for p in candidates if fnmatchcase(p, fault.paths)), None)
            if hit is None or not self._fires(fault):
                continue
            if fault.latency:
                delays.append((fault, hit))
            if fault.error is not None and chosen is None:
                chosen, chosen_path = fault, hit
        if chosen is None and not delays:
            return _NOTHING
        return _Plan(op, tuple(delays), chosen, chosen_path)

    def _fires(self, fault: Fault) -> bool:
        if fault.rate >= 1.0:
            return True
        if fault.rate <= 0.0:
            return False
        return self._rng.random() < fault.rate

    async def _delay(self, plan: _Plan) -> None:
        if plan.latency:
            for fault, path in plan.latency:
                self.injected.append(Injection(plan.op, path, "latency", fault))
            await asyncio.sleep(sum(f.latency for f, _ in plan.latency))

    async def _before(self, plan: _Plan) -> None:
        """Wait the latency, then raise a fault that fires before the call reaches the store."""
        await self._delay(plan)
        if plan.fault is not None and not plan.fault.lost_write:
            self.injected.append(Injection(plan.op, plan.path, "error", plan.fault))
            raise self._error(plan, lost=False)

    async def _run(self, plan: _Plan, call: Callable[[], Awaitable[T]]) -> T:
        await self._before(plan)
        result = await call()
        if plan.fault is not None:  # a lost_write fault: the write landed, its answer is dropped
            self.injected.append(Injection(plan.op, plan.path, "lost_write", plan.fault))
            raise self._error(plan, lost=True)
        return result

    def _error(self, plan: _Plan, *, lost: bool) -> ObjectStoreError:
        fault = plan.fault
        assert fault is not None
        assert fault.error is not None
        spec = fault.error
        if isinstance(spec, ObjectStoreError):
            err = copy.copy(spec)  # a fresh exception per raise: no shared traceback or context
            if err.path is None:
                err.path = plan.path
            if err.provider is None:
                err.provider = self.provider
            return err
        what = "the write was applied, then its answer was lost" if lost else "nothing reached the store"
        return spec(
            f"{spec.__name__} injected by FaultyStore into {plan.op}({plan.path!r}): {what}",
            path=plan.path,
            provider=self.provider,
        )

    # ------------------------------------------------------------------------------ lifecycle

    async def close(self) -> None:
        """Close the inner store (idempotent)."""
        self._closed = True
        await self.inner.close()

    async def __aenter__(self) -> Self:
        """Open the inner store."""
        await self.inner.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the inner store."""
        await self.close()

    # ------------------------------------------------------------------------------ writes

    async def put(
        self,
        path: str,
        data: bytes | bytearray | memoryview,
        *,
        mode: PutMode = "overwrite",
        content_type: str | None = None,
        content_disposition: str | None = None,
        content_encoding: str | None = None,
        content_language: str | None = None,
        cache_control: str | None = None,
        metadata: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        checksum: ChecksumName | None = None,
        progress: ProgressCallback | None = None,
    ) -> PutResult:
        """``Store.put``, through the faults for ``"put"``."""
        return await self._run(
            self._plan("put", (path,)),
            lambda: self.inner.put(
                path,
                data,
                mode=mode,
                content_type=content_type,
                content_disposition=content_disposition,
                content_encoding=content_encoding,
                content_language=content_language,
                cache_control=cache_control,
                metadata=metadata,
                tags=tags,
                checksum=checksum,
                progress=progress,
            ),
        )

    async def put_stream(
        self,
        path: str,
        stream: ByteStream,
        *,
        part_size: int | None = None,
        max_concurrency: int | None = None,
        mode: PutMode = "overwrite",
        checksum: ChecksumName | None = None,
        progress: ProgressCallback | None = None,
        **attributes: Any,
    ) -> PutResult:
        """``Store.put_stream``, through the faults for ``"put_stream"`` (an error fault consumes no chunk)."""
        return await self._run(
            self._plan("put_stream", (path,)),
            lambda: self.inner.put_stream(
                path,
                stream,
                part_size=part_size,
                max_concurrency=max_concurrency,
                mode=mode,
                checksum=checksum,
                progress=progress,
                **attributes,
            ),
        )

    async def delete(self, path: str, *, if_match: str | UpdateVersion | None = None) -> None:
        """``Store.delete``, through the faults for ``"delete"``."""
        await self._run(self._plan("delete", (path,)), lambda: self.inner.delete(path, if_match=if_match))

    async def delete_many(self, paths: Iterable[str]) -> None:
        """``Store.delete_many``, through the faults for ``"delete_many"`` (any path may match)."""
        if isinstance(paths, (str, bytes)) or not isinstance(paths, Iterable):
            await self.inner.delete_many(paths)  # the inner store raises its own argument error
            return
        listed = builtins.list(paths)
        await self._run(self._plan("delete_many", listed), lambda: self.inner.delete_many(listed))

    async def copy(self, src: str, dst: str, *, progress: ProgressCallback | None = None) -> None:
        """``Store.copy``, through the faults for ``"copy"`` (matched against ``dst``)."""
        await self._run(self._plan("copy", (dst,)), lambda: self.inner.copy(src, dst, progress=progress))

    async def rename(self, src: str, dst: str) -> None:
        """``Store.rename``, through the faults for ``"rename"`` (matched against ``dst``)."""
        await self._run(self._plan("rename", (dst,)), lambda: self.inner.rename(src, dst))

    async def copy_if_not_exists(self, src: str, dst: str) -> None:
        """``Store.copy_if_not_exists``, through its faults (matched against ``dst``)."""
        await self._run(self._plan("copy_if_not_exists", (dst,)), lambda: self.inner.copy_if_not_exists(src, dst))

    async def rename_if_not_exists(self, src: str, dst: str) -> None:
        """``Store.rename_if_not_exists``, through its faults (matched against ``dst``)."""
        await self._run(self._plan("rename_if_not_exists", (dst,)), lambda: self.inner.rename_if_not_exists(src, dst))

    # ------------------------------------------------------------------------------ reads

    async def get(
        self,
        path: str,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since: datetime | None = None,
        if_unmodified_since: datetime | None = None,
        range: RangeArg = None,
        version: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> bytes:
        """``Store.get``, through the faults for ``"get"``."""
        return await self._run(
            self._plan("get", (path,)),
            lambda: self.inner.get(
                path,
                if_match=if_match,
                if_none_match=if_none_match,
                if_modified_since=if_modified_since,
                if_unmodified_since=if_unmodified_since,
                range=range,
                version=version,
                progress=progress,
            ),
        )

    async def get_object(
        self,
        path: str,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since: datetime | None = None,
        if_unmodified_since: datetime | None = None,
        range: RangeArg = None,
        version: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> GetResult:
        """``Store.get_object``, through the faults for ``"get_object"``."""
        return await self._run(
            self._plan("get_object", (path,)),
            lambda: self.inner.get_object(
                path,
                if_match=if_match,
                if_none_match=if_none_match,
                if_modified_since=if_modified_since,
                if_unmodified_since=if_unmodified_since,
                range=range,
                version=version,
                progress=progress,
            ),
        )

    def get_stream(
        self,
        path: str,
        *,
        chunk_size: int | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since: datetime | None = None,
        if_unmodified_since: datetime | None = None,
        range: RangeArg = None,
        version: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ObjectStream:
        """``Store.get_stream``, through the faults for ``"get_stream"`` (applied when the stream opens)."""
        inner = self.inner.get_stream(
            path,
            chunk_size=chunk_size,
            if_match=if_match,
            if_none_match=if_none_match,
            if_modified_since=if_modified_since,
            if_unmodified_since=if_unmodified_since,
            range=range,
            version=version,
            progress=progress,
        )
        plan = self._plan("get_stream", (path,))

        async def opener() -> tuple[ObjectMeta, AsyncIterator[bytes]]:
            try:
                await self._before(plan)
                await inner.open()
            except BaseException:
                await inner.aclose()
                raise
            return inner.meta, inner

        return ObjectStream(opener)

    async def get_ranges(self, path: str, ranges: Sequence[RangeArg]) -> builtins.list[bytes]:
        """``Store.get_ranges``, through the faults for ``"get_ranges"``."""
        return await self._run(self._plan("get_ranges", (path,)), lambda: self.inner.get_ranges(path, ranges))

    async def head(self, path: str, *, version: str | None = None) -> ObjectMeta:
        """``Store.head``, through the faults for ``"head"``."""
        return await self._run(self._plan("head", (path,)), lambda: self.inner.head(path, version=version))

    async def get_tags(self, path: str) -> dict[str, str]:
        """``Store.get_tags``, through the faults for ``"get_tags"``."""
        return await self._run(self._plan("get_tags", (path,)), lambda: self.inner.get_tags(path))

    def list(self, prefix: str | None = None, *, offset: str | None = None) -> AsyncIterator[ObjectMeta]:
        """``Store.list``, through the faults for ``"list"`` (applied before the first item)."""
        inner = self.inner.list(prefix, offset=offset)
        return self._listed(self._plan("list", (prefix or "",), prefix=True), inner)

    async def _listed(self, plan: _Plan, inner: AsyncIterator[ObjectMeta]) -> AsyncIterator[ObjectMeta]:
        try:
            await self._before(plan)
            async for meta in inner:
                yield meta
        finally:
            aclose = getattr(inner, "aclose", None)
            if aclose is not None:
                await aclose()

    async def list_with_delimiter(self, prefix: str | None = None) -> ListResult:
        """``Store.list_with_delimiter``, through the faults for ``"list_with_delimiter"``."""
        plan = self._plan("list_with_delimiter", (prefix or "",), prefix=True)
        return await self._run(plan, lambda: self.inner.list_with_delimiter(prefix))

    async def sign(self, method: str, path: str, expires_in: timedelta | float) -> str:
        """``Store.sign``, through the faults for ``"sign"``."""
        return await self._run(self._plan("sign", (path,)), lambda: self.inner.sign(method, path, expires_in))


def _valid(path: str, *, prefix: bool) -> bool:
    """Whether ``path`` is a valid path (or prefix): only valid calls get faults."""
    try:
        validate_prefix(path) if prefix else validate_path(path)
    except ObjectStoreError:
        return False
    return True
