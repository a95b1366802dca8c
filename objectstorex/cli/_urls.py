"""Command-line locations: a store URL (``s3://bucket/key``), a local path, or ``-`` (stdin/stdout).

A cloud URL names a bucket (or container) and a path in it; the store is opened on the bucket
(``osx.from_url("s3://bucket", ...)``) and the path is used as given, never percent-decoded (a
key may contain ``%``). ``memory://`` has no bucket: everything after it is the path.

Local paths (plain, or ``file:///abs/path``) are plain files and directories: the command line
reads and writes them directly, and leaves no bookkeeping files behind (``osx.LocalStore``
keeps attribute sidecars under ``.objectstorex/``; a copy to a directory is meant to give plain
files).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

from .._factory import URL_SCHEMES

__all__ = ["CLOUD_SCHEMES", "Location", "UsageProblem", "parse_location"]

#: URL scheme -> the provider its stores belong to (as ``osx.from_url`` reads it); ``file://``
#: is a plain local path on the command line.
CLOUD_SCHEMES = {scheme: provider for scheme, provider in URL_SCHEMES.items() if provider != "local"}
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://(.*)", re.DOTALL)


class UsageProblem(ValueError):
    """A malformed command line (exit code 2)."""


@dataclass(frozen=True)
class Location:
    """One location of the command line.

    Attributes:
        text: as typed.
        kind: ``"store"`` (a bucket of a provider, or memory), ``"fs"`` (local files) or
            ``"stdio"`` (``-``).
        provider: ``"s3"``, ``"azure"``, ``"gcs"``, ``"memory"`` for stores; ``"local"`` or
            ``"stdio"`` otherwise.
        scheme: the URL scheme as typed (lower case), ``""`` for a plain path.
        bucket: the bucket or container (``""`` for memory and local).
        path: the path in the bucket (no leading ``/``; a trailing ``/`` kept), or the local
            filesystem path; may hold wildcards.
    """

    text: str
    kind: Literal["store", "fs", "stdio"]
    provider: str
    scheme: str
    bucket: str
    path: str

    @property
    def is_dir(self) -> bool:
        """Whether the location names a directory/prefix explicitly (a trailing ``/``, or none at all)."""
        if self.kind == "store":
            return self.path == "" or self.path.endswith("/")
        return self.path.endswith(os.sep) or self.path in (".", "..") or self.path.endswith(("/.", "/.."))

    @property
    def store_url(self) -> str:
        """The URL the store is opened on (the bucket, without a path)."""
        return f"{self.scheme}://{self.bucket}"

    def display(self, path: str) -> str:
        """How ``path`` (a path of this location's store, or a local path) is shown to the user."""
        if self.kind == "store":
            return f"{self.scheme}://{self.bucket}/{path}" if self.bucket else f"{self.scheme}://{path}"
        if self.scheme == "file":
            return f"file://{path}"
        return path


def parse_location(text: str) -> Location:
    """Read one location of the command line.

    Raises:
        UsageProblem: an unknown scheme, or a cloud URL without a bucket.
    """
    if text == "-":
        return Location(text, "stdio", "stdio", "", "", "")
    match = _URL.fullmatch(text)
    if match is None:
        if not text:
            raise UsageProblem("an empty path")
        return Location(text, "fs", "local", "", "", os.path.expanduser(text))
    scheme, rest = match.group(1).lower(), match.group(2)
    if scheme == "file":
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise UsageProblem(f"file URLs must be file:///absolute/path, got {text!r}")
        return Location(text, "fs", "local", "file", "", unquote(parts.path))
    provider = CLOUD_SCHEMES.get(scheme)
    if provider is None:
        known = ", ".join(f"{s}://" for s in sorted({*CLOUD_SCHEMES, "file"}))
        raise UsageProblem(f"unsupported URL scheme {scheme!r} in {text!r} (known: {known}, or a local path)")
    if provider == "memory":
        return Location(text, "store", provider, scheme, "", rest.lstrip("/"))
    bucket, _, path = rest.partition("/")
    if not bucket:
        raise UsageProblem(f"{text!r} names no bucket or container")
    if any(c in bucket for c in "*?["):
        raise UsageProblem(f"{text!r}: wildcards are not allowed in a bucket or container name")
    return Location(text, "store", provider, scheme, bucket, path.lstrip("/"))
