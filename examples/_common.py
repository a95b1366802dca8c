"""Shared by the examples: pick the store from argv[1] (a URL) or use the embedded default."""

from __future__ import annotations

import sys

import objectstorex as osx


def store_from_argv(default: str = "memory://") -> osx.BaseStore:
    """The store named by the first argument (``memory://``, ``file:///dir``, ``s3://b``...)."""
    return osx.from_url(sys.argv[1] if len(sys.argv) > 1 else default)


def check(condition: bool, message: str) -> None:
    """Exit non-zero with ``message`` when an example sees a wrong result."""
    if not condition:
        print(f"WRONG: {message}", file=sys.stderr)
        raise SystemExit(1)
