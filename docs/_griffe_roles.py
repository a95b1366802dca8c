"""A griffe extension for the docs build: Sphinx roles in docstrings become checked cross-references.

The package's docstrings are Google style with Sphinx roles (``:class:`Fault```,
``:meth:`~objectstorex.Store.get```), which Markdown would show as literal text. Each role is
resolved the way Python would resolve the name where the docstring is (the object's scope, then
its module, absolute paths, ``.relative`` modules) and rewritten as an optional autorefs link:
a link when the target is rendered in the API reference, code when it is private (an internal
class such as ``HttpStore``). A role naming nothing -- a typo, a renamed method -- is logged as a
warning, which fails the strict build. Roles naming another library (``:mod:`zlib```) stay code.
A reST literal-block marker (``Example::`` before an indented block) loses its second colon:
the block is already a Markdown code block.
"""

from __future__ import annotations

import html
import importlib.util
import re
from typing import Any

import griffe

_ROLE = re.compile(
    r":(?:py:)?(?P<role>class|meth|func|data|attr|exc|mod|obj|const):`(?P<bang>!?)(?P<tilde>~?)(?P<target>[^`]+)`"
)
_LITERAL_MARKER = re.compile(r"^(\s*\S.*?)::[ \t]*$(?=\n[ \t]*\n[ \t]+\S)", re.MULTILINE)
_logger = griffe.get_logger(__name__)


def _member(collection: Any, path: str) -> griffe.Object | griffe.Alias | None:
    """The object at ``path`` in the loaded modules, or ``None``."""
    try:
        return collection.get_member(path)  # type: ignore[no-any-return]
    except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None


def _in_scope(obj: griffe.Object, name: str) -> str | None:
    """The path of ``name`` seen from ``obj``: its members (a class's inherited ones too), then its parents'."""
    scope: griffe.Object | None = obj
    while scope is not None:
        try:
            members = scope.all_members if scope.is_class else scope.members
        except (griffe.AliasResolutionError, griffe.CyclicAliasError):
            members = scope.members
        if name in members:
            member = members[name]
            return member.target_path if member.is_alias else member.path  # type: ignore[union-attr]
        scope = scope.parent
    return None


def _resolve(obj: griffe.Object, target: str, collection: Any) -> str | None:
    """The full path ``target`` names from where ``obj``'s docstring is, or ``None``."""
    if target.startswith("."):
        # Relative to the package holding the module, as an import statement reads it.
        module = obj.module
        base = module.path if module.is_init_module else module.path.rpartition(".")[0]
        dots = len(target) - len(target.lstrip("."))
        for _ in range(dots - 1):
            base = base.rpartition(".")[0]
        path = f"{base}.{target.lstrip('.')}"
        return path if _member(collection, path) is not None else None
    if _member(collection, target) is not None:
        return target
    first, _, rest = target.partition(".")
    path = _in_scope(obj, first)
    if path is None:
        return None
    full = f"{path}.{rest}" if rest else path
    found = _member(collection, full)
    if found is None:
        return None
    # Link to the definition: the reference registers each rendered object's canonical path.
    try:
        return found.canonical_path
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return full


def _external(target: str) -> bool:
    """Whether ``target`` names another importable library (the standard library's included)."""
    top = target.lstrip("~!").split(".")[0]
    return top != "objectstorex" and importlib.util.find_spec(top) is not None


def _external_base(obj: griffe.Object) -> bool:
    """Whether ``obj`` is in a class with a base from another library, which may define the name.

    ``:meth:`open``` in an fsspec filesystem names fsspec's ``open``; other libraries are not
    loaded, so such a name cannot be checked, only left as code.
    """
    scope: griffe.Object | None = obj
    while scope is not None:
        if scope.is_class:
            for base in scope.bases:  # type: ignore[attr-defined]
                path = base.canonical_path if isinstance(base, griffe.Expr) else str(base)
                top = path.split(".")[0]
                # Protocol, ABC, Exception...: no method a docstring would name is theirs.
                if "." in path and top not in ("objectstorex", "typing", "typing_extensions", "abc", "enum"):
                    return True
        scope = scope.parent
    return False


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles in every docstring of a loaded package into optional autorefs."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        """Rewrite the docstrings of ``pkg`` and everything it defines."""
        stack: list[griffe.Object] = [pkg]
        while stack:
            obj = stack.pop()
            stack.extend(m for m in obj.members.values() if not m.is_alias)  # type: ignore[misc]
            if obj.docstring is not None:
                text = _ROLE.sub(lambda m, o=obj: self._rewrite(o, m, loader), obj.docstring.value)
                obj.docstring.value = _LITERAL_MARKER.sub(r"\1:", text)

    @staticmethod
    def _rewrite(obj: griffe.Object, match: re.Match[str], loader: griffe.GriffeLoader) -> str:
        target = match["target"]
        shown = target.rsplit(".", 1)[-1] if match["tilde"] else target
        code = f"<code>{html.escape(shown)}</code>"
        if match["bang"]:
            return code
        path = _resolve(obj, target, loader.modules_collection)
        if path is None:
            bare = "." not in target
            # Another library's module or dotted name; a bare name may be inherited from one.
            other = (_external(target) and (match["role"] == "mod" or not bare)) or (bare and _external_base(obj))
            if not other:
                _logger.warning("%s: docstring role %s names nothing", obj.path, match[0])
            return code
        return f'<autoref identifier="{html.escape(path)}" optional>{code}</autoref>'
