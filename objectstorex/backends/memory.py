"""MemoryStore: a process-local store in a dict, for tests and embedding.

Every operation runs without awaiting between its check and its write, so create-only and
compare-and-swap writes are atomic among the tasks of one event loop.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from .._ranges import ByteRange
from .._store import BaseStore, GetOptions, PutOptions
from .._types import Attributes, Capabilities, GetResult, ListResult, ObjectMeta, ProgressCallback, PutResult
from ..errors import AlreadyExistsError, NotFoundError
from ..preconditions import UpdateVersion, check_get, check_put
from ..progress import Reporter, report_whole

__all__ = ["MemoryStore"]

# One counter for every MemoryStore in the process: an ETag is never reused, even after a
# delete and re-create, so a stale CAS can never match a new object (no ABA).
_etags = itertools.count(1)

_CAPABILITIES = Capabilities(
    put_create=True,
    put_update_etag=True,
    put_update_version=False,
    copy_if_not_exists=True,
    delete_if_match=True,
    tags=True,
    versions=False,
    sign=False,
    conditional_get=True,
)


@dataclass(frozen=True, slots=True)
class _Entry:
    data: bytes
    meta: ObjectMeta
    attributes: Attributes
    tags: Mapping[str, str]


class MemoryStore(BaseStore):
    """An in-memory store: every operation of the contract, no persistence.

    Example::

        async with osx.MemoryStore() as store:
            await store.put("hello.txt", b"hi")
            assert await store.get("hello.txt") == b"hi"
    """

    provider = "memory"

    def __init__(self) -> None:
        """Create an empty store."""
        super().__init__()
        self._objects: dict[str, _Entry] = {}
        self._sorted: list[str] | None = None  # cached sorted keys, dropped when keys change
        self._live = True
        self._opened = True

    @property
    def capabilities(self) -> Capabilities:
        """Everything but versions and signing."""
        return _CAPABILITIES

    # ------------------------------------------------------------------------------ helpers

    def _missing(self, path: str) -> NotFoundError:
        return NotFoundError(f"object {path!r} not found", path=path, provider="memory")

    def _store(self, path: str, data: bytes, attributes: Attributes, tags: Mapping[str, str]) -> PutResult:
        etag = str(next(_etags))
        meta = ObjectMeta(path, len(data), datetime.now(UTC), etag, None)
        if path not in self._objects:
            self._sorted = None
        self._objects[path] = _Entry(data, meta, attributes, tags)
        return PutResult(etag, None)

    def _entry(self, path: str) -> _Entry:
        entry = self._objects.get(path)
        if entry is None:
            raise self._missing(path)
        return entry

    def _keys(self) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(self._objects)
        return self._sorted

    # ------------------------------------------------------------------------------ writes

    async def _put(self, path: str, data: bytes, opts: PutOptions) -> PutResult:
        if opts.mode != "overwrite":
            current = self._objects.get(path)
            check_put(opts.mode, None if current is None else current.meta, path=path, provider="memory")
        if opts.progress is None:
            return self._store(path, data, opts.attributes, opts.tags or {})
        reporter = report_whole(opts.progress, path, len(data))
        result = self._store(path, data, opts.attributes, opts.tags or {})
        reporter.finish()
        return result

    async def _put_stream(
        self,
        path: str,
        chunks: AsyncIterator[bytes],
        opts: PutOptions,
        part_size: int | None,
        max_concurrency: int | None,
    ) -> PutResult:
        # The data lives in memory anyway; it becomes visible only when complete, and the
        # mode is checked at completion, like a conditional CompleteMultipartUpload.
        if opts.progress is None:
            parts = [chunk async for chunk in chunks]
            return await self._put(path, b"".join(parts), opts)
        reporter = Reporter(opts.progress, path)
        parts = [chunk async for chunk in reporter.counted(chunks)]
        result = await self._put(path, b"".join(parts), replace(opts, progress=None))
        reporter.finish()
        return result

    async def _delete(self, path: str, cond: UpdateVersion | None) -> None:
        if cond is None:
            if self._objects.pop(path, None) is not None:
                self._sorted = None
            return
        current = self._objects.get(path)
        check_put(cond, None if current is None else current.meta, path=path, provider="memory")
        del self._objects[path]
        self._sorted = None

    async def _copy(self, src: str, dst: str, *, overwrite: bool, progress: ProgressCallback | None = None) -> None:
        entry = self._entry(src)
        if not overwrite and dst in self._objects:
            raise AlreadyExistsError(f"object {dst!r} already exists", path=dst, provider="memory")
        reporter = None if progress is None else report_whole(progress, dst, entry.meta.size)
        self._store(dst, entry.data, entry.attributes, entry.tags)
        if reporter is not None:
            reporter.finish()

    async def _rename(self, src: str, dst: str, *, overwrite: bool) -> None:
        await self._copy(src, dst, overwrite=overwrite)
        if src != dst:
            del self._objects[src]
            self._sorted = None

    # ------------------------------------------------------------------------------ reads

    async def _get(self, path: str, opts: GetOptions) -> GetResult:
        entry = self._entry(path)
        if opts.conditions:
            check_get(opts.conditions, entry.meta, provider="memory")
        if opts.range is None:
            data = entry.data
        else:
            start, end = opts.range.resolve(entry.meta.size, path=path, provider="memory")
            data = entry.data[start:end]
        if opts.progress is not None:
            report_whole(opts.progress, path, len(data)).finish()
        return GetResult(data, entry.meta, entry.attributes)

    async def _open_stream(
        self, path: str, opts: GetOptions, chunk_size: int
    ) -> tuple[ObjectMeta, AsyncIterator[bytes]]:
        result = await self._get(path, replace(opts, progress=None))  # get_stream reports the chunks

        async def chunks() -> AsyncIterator[bytes]:
            view = memoryview(result.data)
            for i in range(0, len(view), chunk_size):
                yield bytes(view[i : i + chunk_size])

        return result.meta, chunks()

    async def _get_ranges(self, path: str, ranges: list[ByteRange]) -> list[bytes]:
        entry = self._entry(path)
        out = []
        for r in ranges:
            start, end = r.resolve(entry.meta.size, path=path, provider="memory")
            out.append(entry.data[start:end])
        return out

    async def _head(self, path: str, version: str | None) -> ObjectMeta:
        return self._entry(path).meta

    async def _get_tags(self, path: str) -> dict[str, str]:
        return dict(self._entry(path).tags)

    async def _list(self, prefix: str, offset: str | None) -> AsyncIterator[ObjectMeta]:
        keys = self._keys()
        lead = f"{prefix}/" if prefix else ""
        start = lead if offset is None or offset < lead else offset
        i = (
            bisect.bisect_right(keys, start)
            if offset is not None and offset >= lead
            else bisect.bisect_left(keys, start)
        )
        while i < len(keys):
            key = keys[i]
            if not key.startswith(lead):
                break
            entry = self._objects.get(key)
            if entry is not None:  # deleted while we were iterating
                yield entry.meta
            i += 1
            # The key list may be replaced by concurrent writes; re-find our place if so.
            if self._sorted is not keys:
                keys = self._keys()
                i = bisect.bisect_right(keys, key)

    async def _list_with_delimiter(self, prefix: str) -> ListResult:
        lead = f"{prefix}/" if prefix else ""
        objects: list[ObjectMeta] = []
        prefixes: dict[str, None] = {}
        async for meta in self._list(prefix, None):
            rest = meta.location[len(lead) :]
            slash = rest.find("/")
            if slash == -1:
                objects.append(meta)
            else:
                prefixes[lead + rest[:slash]] = None
        return ListResult(objects, list(prefixes))
