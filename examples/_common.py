"""Shared by the examples: the store named on the command line, and the result check.

``python examples/<name>.py [URL [option=value ...]]``, for example::

    python examples/quickstart.py file:///tmp/objects
    python examples/http_cache.py s3://my-bucket/demo endpoint=http://127.0.0.1:9000 region=us-east-1
"""

from __future__ import annotations

import sys

import objectstorex as osx


def store_options(args: list[str]) -> dict[str, object]:
    """``option=value`` arguments as store options (``true``/``false`` become booleans)."""
    options: dict[str, object] = {}
    for arg in args:
        name, sep, value = arg.partition("=")
        if not sep:
            raise SystemExit(f"expected option=value, got {arg!r}")
        options[name] = {"true": True, "false": False}.get(value.lower(), value)
    return options


def store_from_argv(default: str = "memory://") -> osx.BaseStore:
    """The store named by the first argument (``memory://``, ``file:///dir``, ``s3://b``...)."""
    url = sys.argv[1] if len(sys.argv) > 1 else default
    return osx.from_url(url, **store_options(sys.argv[2:]))


def check(condition: bool, message: str) -> None:
    """Exit non-zero with ``message`` when an example sees a wrong result."""
    if not condition:
        print(f"WRONG: {message}", file=sys.stderr)
        raise SystemExit(1)
