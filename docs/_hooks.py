"""MkDocs hook: links from a guide to repository files outside docs/ (``../examples/x.py``).

On GitHub such a link opens the file; the site has no copy of it, and MkDocs would reject it.
So a link whose target exists in the repository becomes its text followed by the repository
path in code (``the quick start (`examples/quickstart.py`)``); a link to a file that does
not exist is a warning, which fails the strict build. Links inside docs/ are left to MkDocs'
own checks; code blocks are left alone.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

_log = logging.getLogger("mkdocs.hooks.repository_links")
_LINK = re.compile(r"(?<!!)\[(?P<text>[^\]\n]+)\]\((?P<target>[^)\s#]+)(?P<anchor>#[^)\s]*)?\)")
_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)


def _rewrite(markdown: str, page_dir: Path, docs_dir: Path, root: Path, page: str) -> str:
    def link(match: re.Match[str]) -> str:
        target = match["target"]
        if re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", target):
            return match[0]  # a URL (https:, mailto:...)
        path = (page_dir / target).resolve()
        if path.is_relative_to(docs_dir):
            return match[0]
        if not path.is_relative_to(root) or not path.exists():
            _log.warning("%s links to %s, which is not a file of the repository", page, target)
            return match[0]
        where = path.relative_to(root).as_posix() + ("/" if path.is_dir() else "")
        text = match["text"]
        if text.strip("`").rstrip("/") == where.rstrip("/"):
            return f"`{where}`"
        return f"{text} (`{where}`)"

    out, last = [], 0
    for fence in _FENCE.finditer(markdown):
        out.append(_LINK.sub(link, markdown[last : fence.start()]))
        out.append(fence[0])
        last = fence.end()
    out.append(_LINK.sub(link, markdown[last:]))
    return "".join(out)


def on_page_markdown(markdown: str, *, page: Any, config: Any, files: Any) -> str:
    """Rewrite the page's links to repository files outside docs/."""
    docs_dir = Path(config["docs_dir"]).resolve()
    root = docs_dir.parent
    page_dir = Path(page.file.abs_src_path).resolve().parent
    return _rewrite(markdown, page_dir, docs_dir, root, page.file.src_uri)
