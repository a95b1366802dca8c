"""The ``objectstorex`` command line (also ``python -m objectstorex``).

Commands: ``ls``, ``stat``, ``cat``, ``cp``, ``mv``, ``rm``, ``sync``, ``du`` and ``sign``, over
every store ``osx.from_url`` opens and plain local files. See ``docs/cli.md``.

Exit codes: 0 ok; 1 some operations failed; 2 usage error; 3 no match or missing source;
130 interrupted.
"""

from __future__ import annotations

from ._commands import cli

__all__ = ["cli", "main"]


def main() -> None:
    """Run the command line (the ``objectstorex`` console script)."""
    cli.main(prog_name="objectstorex")
