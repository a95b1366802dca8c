"""From a command-line location to the objects it names: a literal path, a prefix (``-r``) or a wildcard.

A wildcard is matched against one listing of its literal directory prefix; each match keeps its
path relative to that prefix (what a copy recreates under its destination). With ``-r`` a match
may also be a "directory": everything under a matching prefix is included.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

from ._sides import Entry, Side, basename
from ._urls import Location, UsageProblem
from ._wildcards import Pattern, has_wildcard, unescape

__all__ = ["Match", "dir_base", "expand", "literal_path", "matching_dir", "walk_pattern"]


@dataclass(frozen=True, slots=True)
class Match:
    """One object named by a location.

    Attributes:
        entry: the object.
        rel: its path relative to the location's directory (kept under a copy's destination).
    """

    entry: Entry
    rel: str


def dir_base(base: str) -> str:
    """A wildcard's literal prefix (``logs/``) as a directory to list (``logs``; ``/`` stays ``/``)."""
    return base[:-1] if base.endswith("/") and len(base) > 1 else base


def literal_path(loc: Location) -> str:
    """The location's path with its escapes resolved (it has no wildcard)."""
    return unescape(loc.path)


def matching_dir(pattern: Pattern, key: str) -> str | None:
    """The shallowest directory of ``key`` (below the pattern's base) that the pattern matches."""
    i = key.find("/", len(pattern.base))
    while i >= 0:
        if pattern.match(key[:i]):
            return key[:i]
        i = key.find("/", i + 1)
    return None


async def walk_pattern(side: Side, pattern: Pattern, *, recursive: bool) -> AsyncIterator[Match]:
    """The objects a wildcard names, from one listing of its literal prefix."""
    async for entry in side.walk(dir_base(pattern.base)):
        if pattern.match(entry.key) or (recursive and matching_dir(pattern, entry.key) is not None):
            yield Match(entry, pattern.relative(entry.key))


async def expand(side: Side, loc: Location, *, recursive: bool) -> list[Match]:
    """The objects ``loc`` names; empty when a wildcard or prefix matches nothing.

    Raises:
        NotFoundError: a literal path (without ``-r``) names no object.
        IsADirectoryError: a literal local directory without ``-r``.
        UsageProblem: a prefix (trailing ``/``) without ``-r``.
    """
    if has_wildcard(loc.path):
        pattern = Pattern(loc.path)
        return [m async for m in walk_pattern(side, pattern, recursive=recursive)]
    path = literal_path(loc)
    if recursive:
        base = path if side.kind == "fs" else path.rstrip("/")
        if side.kind == "fs" and base not in ("/", os.sep):
            base = base.rstrip("/") or base
        found = [Match(e, side.relative(e.key, base)) async for e in side.walk(base)]
        if found or loc.is_dir:
            return found
    elif loc.is_dir and side.kind == "store":
        raise UsageProblem(f"{loc.text} is a prefix: add -r to include what is under it")
    entry = await side.head(path)
    return [Match(entry, basename(path))]
