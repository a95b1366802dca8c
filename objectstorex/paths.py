"""Path and prefix validation, the same rules for every backend.

A path is a ``str`` of ``/``-separated segments: no leading or trailing ``/``, no empty segment,
no ``.`` or ``..`` segment, no ASCII control character. Everything else (spaces, ``+``, ``%``,
``#``, ``?``, emoji) is allowed and must round-trip exactly.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .errors import InvalidPathError

__all__ = ["KeyPrefix", "join_prefix", "validate_path", "validate_prefix"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@lru_cache(maxsize=4096)
def _problem(path: str) -> str | None:
    # Cached: hot loops reuse the same few paths, and validation is pure.
    if not path:
        return "path is empty"
    if path.startswith("/"):
        return "path starts with '/'"
    if path.endswith("/"):
        return "path ends with '/'"
    m = _CONTROL.search(path)
    if m is not None:
        return f"path contains the control character {m.group()!r}"
    for seg in path.split("/"):
        if seg == "":
            return "path has an empty segment ('//')"
        if seg in (".", ".."):
            return f"path has a {seg!r} segment"
    return None


def validate_path(path: object, *, provider: str | None = None) -> str:
    """Return ``path`` if it is a valid object path.

    Args:
        path: the candidate path.
        provider: the store's provider name, recorded on the error.

    Returns:
        The same path.

    Raises:
        InvalidPathError: the path is not a ``str`` or breaks a path rule.
    """
    if type(path) is not str:
        if not isinstance(path, str):
            raise InvalidPathError(f"path must be a str, not {type(path).__name__}", provider=provider)
        path = str(path)
    problem = _problem(path)
    if problem is not None:
        raise InvalidPathError(f"invalid path {path!r}: {problem}", path=path, provider=provider)
    return path


def validate_prefix(prefix: object, *, provider: str | None = None) -> str:
    """Return the listing prefix (``""`` for the root).

    ``None`` and ``""`` mean the root; any other prefix is validated exactly like a path
    (API.md), so ``"a/b/"`` is refused: pass ``"a/b"``, as ``common_prefixes`` are.

    Raises:
        InvalidPathError: the prefix breaks a path rule.
    """
    if prefix is None or prefix == "":
        return ""
    return validate_path(prefix, provider=provider)


def join_prefix(root: str, path: str) -> str:
    """Join a store's key prefix (``""`` or ``"a/b"``) and a relative path."""
    if not root:
        return path
    if not path:
        return root
    return f"{root}/{path}"


class KeyPrefix:
    """Maps a cloud store's paths to provider keys under its optional name prefix (once for all)."""

    _prefix: str  # "" or a validated path, set by the store's constructor

    def _key(self, path: str) -> str:
        """The provider key of ``path``."""
        return join_prefix(self._prefix, path)

    def _location(self, key: str) -> str:
        """The store path of a provider key that lies under the prefix."""
        return key[len(self._prefix) + 1 :] if self._prefix else key

    def _list_prefix(self, prefix: str) -> str:
        """The provider key prefix listing ``prefix`` (``""`` lists everything under the root)."""
        key_prefix = join_prefix(self._prefix, prefix)
        return f"{key_prefix}/" if key_prefix else ""
