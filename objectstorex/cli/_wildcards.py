"""Wildcards in object paths: ``*`` within one level, ``**`` across levels, ``?``, ``[a-c]``.

A pattern is matched against whole paths (``/``-separated). Matching needs one listing: of the
literal directory prefix before the first wildcard (``logs/2024/`` in ``logs/2024/*.gz``).

- ``*`` matches any run of characters other than ``/`` (the empty one included);
- ``**`` matches any run of characters, ``/`` included; ``**/`` also matches no directory at
  all, so ``a/**/b`` matches ``a/b``, ``a/x/b`` and ``a/x/y/b``;
- ``?`` matches one character other than ``/``;
- ``[abc]``, ``[a-c]``, ``[!a-c]`` (or ``[^a-c]``) match one character (never ``/``) in, or
  not in, the set; a ``[`` without its ``]`` is a plain character;
- a backslash before ``*``, ``?``, ``[``, ``]`` or a backslash makes it a plain character.
"""

from __future__ import annotations

import re

__all__ = ["Pattern", "has_wildcard", "unescape"]

_SPECIAL = "*?["
_ESCAPABLE = "*?[]\\"


def _closing_bracket(text: str, start: int) -> int:
    """Index of the ``]`` closing the class opened at ``text[start] == "["``, or -1."""
    i = start + 1
    if i < len(text) and text[i] in "!^":
        i += 1
    if i < len(text) and text[i] == "]":  # a leading ']' is a member, as in fnmatch
        i += 1
    while i < len(text):
        if text[i] == "]":
            return i
        if text[i] == "/":
            return -1  # a class never spans levels: this '[' is a plain character
        i += 1
    return -1


def _first_wildcard(text: str) -> int:
    """Index of the first unescaped wildcard character of ``text``, or -1."""
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPABLE:
            i += 2
            continue
        if c in "*?" or (c == "[" and _closing_bracket(text, i) > 0):
            return i
        i += 1
    return -1


def has_wildcard(text: str) -> bool:
    """Whether ``text`` has an unescaped ``*``, ``?`` or ``[...]``."""
    return _first_wildcard(text) >= 0


def unescape(text: str) -> str:
    """``text`` with its backslash escapes resolved (for a path without wildcards)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPABLE:
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _translate(pattern: str) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n and pattern[i + 1] in _ESCAPABLE:
            out.append(re.escape(pattern[i + 1]))
            i += 2
        elif c == "*":
            j = i
            while j < n and pattern[j] == "*":
                j += 1
            if j - i == 1:
                out.append("[^/]*")
            elif j < n and pattern[j] == "/" and (i == 0 or pattern[i - 1] == "/"):
                out.append("(?:.*/)?")  # '**/' : any number of whole levels, none included
                j += 1
            else:
                out.append(".*")
            i = j
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[" and (end := _closing_bracket(pattern, i)) > 0:
            body = pattern[i + 1 : end]
            negate = body[:1] in ("!", "^")
            if negate:
                body = body[1:]
            members = body.replace("\\", "\\\\").replace("[", "\\[")
            out.append(f"(?!/)[{'^' if negate else ''}{members}]")
            i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


class Pattern:
    """A compiled wildcard pattern over whole paths.

    Attributes:
        text: the pattern as given.
        base: the literal directory prefix before the first wildcard, with its trailing ``/``
            (``""`` when the first level already has a wildcard). List it once, then
            :meth:`match` every path found.

    Example::

        p = Pattern("logs/*/app-??.log")
        p.base                          # 'logs/'
        p.match("logs/web/app-01.log")  # True
        p.relative("logs/web/app-01.log")  # 'web/app-01.log'
    """

    __slots__ = ("_regex", "base", "text")

    def __init__(self, text: str) -> None:
        """Compile ``text``.

        Raises:
            ValueError: ``text`` has no wildcard.
        """
        first = _first_wildcard(text)
        if first < 0:
            raise ValueError(f"{text!r} has no wildcard")
        self.text = text
        self.base = unescape(text[: text.rfind("/", 0, first) + 1])
        self._regex = re.compile(_translate(text), re.DOTALL)

    def match(self, path: str) -> bool:
        """Whether the whole of ``path`` matches."""
        return self._regex.fullmatch(path) is not None

    def relative(self, path: str) -> str:
        """``path`` relative to :attr:`base` (what a wildcard copy keeps of it)."""
        return path[len(self.base) :] if path.startswith(self.base) else path

    def __repr__(self) -> str:
        return f"Pattern({self.text!r})"
