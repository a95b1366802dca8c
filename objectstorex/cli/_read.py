"""The commands that read: ``ls``, ``stat``, ``du``, ``cat`` and ``sign``."""

from __future__ import annotations

import asyncio
import json
import os
import re
from datetime import timedelta

from ..errors import InvalidRangeError, NotFoundError, ObjectStoreError
from ._expand import Match, dir_base, expand, literal_path, matching_dir
from ._output import Output, StdoutClosed
from ._run import Run
from ._sides import Entry, Side, StoreSide, join
from ._sizes import format_size
from ._urls import Location, UsageProblem
from ._wildcards import Pattern, has_wildcard

__all__ = ["cat", "du", "ls", "parse_range", "sign", "stat"]

_BLOCK = 1024 * 1024
_RANGE = re.compile(r"\s*(\d*)\s*-\s*(\d*)\s*")


# ------------------------------------------------------------------------------------- ls


def _object_json(side: Side, entry: Entry) -> str:
    return json.dumps(
        {
            "path": entry.key,
            "url": side.display(entry.key),
            "type": "object",
            "size": entry.size,
            "last_modified": entry.last_modified.isoformat(),
            "etag": entry.etag,
            "version": entry.version,
        },
        ensure_ascii=False,
    )


def _print_object(out: Output, side: Side, entry: Entry, *, long: bool, human: bool) -> None:
    if out.json:
        out.line(_object_json(side, entry))
    elif long:
        when = entry.last_modified.strftime("%Y-%m-%dT%H:%M:%SZ")
        out.line(f"{when}  {format_size(entry.size, human=human):>12}  {side.display(entry.key)}")
    else:
        out.line(side.display(entry.key))


def _print_dir(out: Output, side: Side, key: str, *, long: bool) -> None:
    shown = side.display(key.rstrip("/") + "/")
    if out.json:
        out.line(json.dumps({"path": key.rstrip("/") + "/", "url": shown, "type": "prefix"}, ensure_ascii=False))
    elif long:
        out.line(f"{'':20}  {'DIR':>12}  {shown}")
    else:
        out.line(shown)


async def ls(run: Run, locations: list[Location], *, long: bool, recursive: bool, human: bool) -> None:
    """List objects: one level (prefixes shown as ``dir/``), or everything with ``recursive``."""
    sides = await run.open(*locations)
    for loc, side in zip(locations, sides, strict=True):
        try:
            found = await _ls_one(run.out, side, loc, long=long, recursive=recursive, human=human)
        except (ObjectStoreError, OSError) as e:
            if isinstance(e, (NotFoundError, FileNotFoundError)):
                run.no_match(loc.text)
            else:
                run.fail(f"ls {loc.text}", e)
            continue
        if not found:
            run.no_match(loc.text)


async def _ls_one(out: Output, side: Side, loc: Location, *, long: bool, recursive: bool, human: bool) -> bool:
    """Print what ``loc`` names; whether it named anything (an empty bucket or directory does)."""
    if has_wildcard(loc.path):
        pattern = Pattern(loc.path)
        shown = 0
        dirs_seen: set[str] = set()
        async for entry in side.walk(dir_base(pattern.base)):
            if pattern.match(entry.key):
                _print_object(out, side, entry, long=long, human=human)
                shown += 1
                continue
            directory = matching_dir(pattern, entry.key)
            if directory is None:
                continue
            if recursive:
                _print_object(out, side, entry, long=long, human=human)
                shown += 1
            elif directory not in dirs_seen:
                dirs_seen.add(directory)
                _print_dir(out, side, directory, long=long)
                shown += 1
        return shown > 0
    path = literal_path(loc)
    base = path.rstrip("/") if side.kind == "store" else (path.rstrip("/") or path)
    if recursive:
        shown = 0
        async for entry in side.walk(base):
            _print_object(out, side, entry, long=long, human=human)
            shown += 1
    else:
        files, dirs = await side.level(base)
        rows: list[tuple[str, Entry | None]] = [(e.key, e) for e in files] + [(d + "/", None) for d in dirs]
        rows.sort(key=lambda row: row[0])
        for key, maybe in rows:
            if maybe is None:
                _print_dir(out, side, key, long=long)
            else:
                _print_object(out, side, maybe, long=long, human=human)
        shown = len(rows)
    if shown:
        return True
    if side.kind == "store" and not base:
        return True  # an empty bucket: listed, nothing in it
    if side.kind == "fs" and await asyncio.to_thread(os.path.isdir, base or "."):
        return True  # an empty local directory
    if loc.is_dir:
        return False
    try:
        entry = await side.head(path)  # not a prefix: perhaps an object
    except NotFoundError:
        return False
    _print_object(out, side, entry, long=long, human=human)
    return True


# ------------------------------------------------------------------------------------- stat


async def stat(run: Run, locations: list[Location]) -> None:
    """Print each object's metadata (``key: value`` lines, or one JSON object per line)."""
    sides = await run.open(*locations)
    out = run.out
    first = True
    for loc, side in zip(locations, sides, strict=True):
        try:
            matches = await expand(side, loc, recursive=False)
        except IsADirectoryError as e:
            run.fail(f"stat {loc.text}", e)
            continue
        except (ObjectStoreError, OSError) as e:
            run.fail(f"stat {loc.text}", e)
            continue
        if not matches:
            run.no_match(loc.text)
        for match in matches:
            entry = match.entry
            if out.json:
                out.line(_object_json(side, entry))
                continue
            if not first:
                out.line("")
            first = False
            out.line(f"path: {side.display(entry.key)}")
            out.line(f"size: {entry.size}")
            out.line(f"last_modified: {entry.last_modified.isoformat()}")
            out.line(f"etag: {entry.etag if entry.etag is not None else '-'}")
            if entry.version is not None:
                out.line(f"version: {entry.version}")


# ------------------------------------------------------------------------------------- du


async def du(run: Run, locations: list[Location], *, summarize: bool, human: bool) -> None:
    """Sizes under each location: per first level below it, then its total (only the total with ``summarize``)."""
    sides = await run.open(*locations)
    out = run.out
    for loc, side in zip(locations, sides, strict=True):
        try:
            matches = await expand(side, loc, recursive=True)
        except (ObjectStoreError, OSError) as e:
            if isinstance(e, (NotFoundError, FileNotFoundError)) and not has_wildcard(loc.path):
                if loc.kind == "store" and not literal_path(loc).strip("/"):
                    matches = []  # an empty bucket: zero bytes, not missing
                else:
                    run.no_match(loc.text)
                    continue
            else:
                run.fail(f"du {loc.text}", e)
                continue
        if not matches and (
            has_wildcard(loc.path) or (loc.kind == "fs" and not await asyncio.to_thread(os.path.isdir, loc.path))
        ):
            run.no_match(loc.text)
            continue
        if not summarize:
            for name, (size, count) in _groups(matches).items():
                _du_line(out, side.display(_group_key(loc, side, name)), size, count, human=human)
        total = sum(m.entry.size for m in matches)
        _du_line(out, loc.text, total, len(matches), human=human)


def _groups(matches: list[Match]) -> dict[str, tuple[int, int]]:
    groups: dict[str, tuple[int, int]] = {}
    for m in matches:
        head, sep, _ = m.rel.partition("/")
        name = head + sep
        size, count = groups.get(name, (0, 0))
        groups[name] = (size + m.entry.size, count + 1)
    return dict(sorted(groups.items()))


def _group_key(loc: Location, side: Side, name: str) -> str:
    if has_wildcard(loc.path):
        return join(Pattern(loc.path).base, name)
    path = literal_path(loc)
    base = path.rstrip("/") if side.kind == "store" else path
    return join(base, name)


def _du_line(out: Output, shown: str, size: int, count: int, *, human: bool) -> None:
    if out.json:
        out.line(json.dumps({"path": shown, "size": size, "objects": count}, ensure_ascii=False))
    else:
        out.line(f"{format_size(size, human=human)}\t{shown}")


# ------------------------------------------------------------------------------------- cat


def parse_range(text: str) -> tuple[int, int | None]:
    """An HTTP-style inclusive range as the Store API's half-open one.

    ``START-END`` (inclusive) -> ``(START, END + 1)``; ``START-`` -> ``(START, None)``;
    ``-N`` (the last N bytes) -> ``(-N, None)``.

    Raises:
        UsageProblem: anything else.
    """
    match = _RANGE.fullmatch(text)
    if match is None or (not match.group(1) and not match.group(2)):
        raise UsageProblem(f"--range takes START-END, START- or -N, got {text!r}")
    start, end = match.groups()
    if start and end:
        first, last = int(start), int(end)
        if last < first:
            raise UsageProblem(f"--range {text!r}: END is before START")
        return first, last + 1
    if start:
        return int(start), None
    suffix = int(end)
    if suffix == 0:
        raise UsageProblem(f"--range {text!r}: the last 0 bytes is nothing")
    return -suffix, None


async def cat(run: Run, locations: list[Location], *, byte_range: tuple[int, int | None] | None) -> None:
    """Write each object's bytes (or a range of them) to stdout, in order."""
    sides = await run.open(*locations)
    for loc, side in zip(locations, sides, strict=True):
        if has_wildcard(loc.path):
            raise UsageProblem(f"cat takes objects, not wildcards: {loc.text}")
        try:
            await copy_to_stdout(run.out, side, literal_path(loc), byte_range)
        except StdoutClosed:
            raise
        except (ObjectStoreError, OSError) as e:
            run.fail(f"cat {loc.text}", e)


async def copy_to_stdout(out: Output, side: Side, key: str, byte_range: tuple[int, int | None] | None) -> int:
    """Stream one object (or a range of it) to stdout; the bytes written."""
    written = 0
    if isinstance(side, StoreSide):
        async with side.store.get_stream(key, range=byte_range) as stream:
            async for chunk in stream:
                out.data(chunk)
                written += len(chunk)
        return written
    with open(key, "rb") as f:  # noqa: ASYNC230 - a local file, read in 1 MiB blocks on a thread
        size = os.fstat(f.fileno()).st_size
        start, end = _local_range(key, size, byte_range)
        f.seek(start)
        left = end - start
        while left > 0:
            block = await asyncio.to_thread(f.read, min(_BLOCK, left))
            if not block:
                break
            out.data(block)
            written += len(block)
            left -= len(block)
    return written


def _local_range(key: str, size: int, byte_range: tuple[int, int | None] | None) -> tuple[int, int]:
    """The Store API's range rules, for a local file: ``(start, end)`` clamped to ``size``."""
    if byte_range is None:
        return 0, size
    start, end = byte_range
    if start < 0:
        if size == 0:
            raise InvalidRangeError(f"{key}: a range of an empty file", path=key, provider="local")
        return max(size + start, 0), size
    if start >= size:
        raise InvalidRangeError(
            f"{key}: range starts at {start}, the file has {size} bytes", path=key, provider="local"
        )
    return start, size if end is None else min(end, size)


# ------------------------------------------------------------------------------------- sign


async def sign(run: Run, loc: Location, *, method: str, expires_in: float) -> None:
    """Print a pre-signed URL of the object."""
    if loc.kind != "store":
        raise UsageProblem(f"sign needs a store URL (s3://, az://, gs://), got {loc.text!r}")
    if has_wildcard(loc.path) or not loc.path or loc.path.endswith("/"):
        raise UsageProblem(f"sign takes one object, got {loc.text!r}")
    (side,) = await run.open(loc)
    assert isinstance(side, StoreSide)
    try:
        url = await side.store.sign(method.upper(), literal_path(loc), timedelta(seconds=expires_in))
    except ObjectStoreError as e:
        run.fail(f"sign {loc.text}", e)
        return
    run.out.line(url)
