"""Fail when a public name of objectstorex has no docstring (run by ``nox -s docs`` before the build).

mkdocstrings leaves an undocumented object out of the API reference without a word, so this
walks what the reference renders, the way it reads it (griffe, with ``#:`` comments as
docstrings): every name in each public module's ``__all__`` and, for a class, its public
methods, properties and attributes. A class attribute counts as documented when the class
docstring describes it (an ``Attributes:`` or ``Args:`` entry); a method without a docstring
of its own counts when it overrides a documented one (a store's ``get`` is ``Store.get``).

Usage: ``python docs/check_docstrings.py`` (needs griffe and griffe-sphinx, installed by the
docs session); prints the undocumented names and exits 1, or exits 0.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import griffe

ROOT = Path(__file__).resolve().parent.parent

#: The public modules; every one has a page under docs/reference/ (tests/test_docs.py checks).
PUBLIC_MODULES = [
    "objectstorex",
    "objectstorex.errors",
    "objectstorex.preconditions",
    "objectstorex.patterns",
    "objectstorex.testing",
    "objectstorex.checksums",
    "objectstorex.progress",
    "objectstorex.observe",
    "objectstorex.otel",
    "objectstorex.paths",
    "objectstorex.transfer",
    "objectstorex.fsspec",
    "objectstorex.zarr",
    "objectstorex.obspec",
]


def _described(cls: griffe.Class) -> set[str]:
    """Names the class docstring describes in its ``Attributes:`` / ``Args:`` sections."""
    import griffe

    if cls.docstring is None:
        return set()
    names: set[str] = set()
    for section in cls.docstring.parse("google"):
        if section.kind in (griffe.DocstringSectionKind.attributes, griffe.DocstringSectionKind.parameters):
            names.update(item.name for item in section.value)
    return names


def _inherits_doc(cls: griffe.Class, name: str) -> bool:
    """Whether a base class documents the member ``name`` (the override takes its docstring)."""
    import griffe

    try:
        bases = cls.mro()
    except (griffe.AliasResolutionError, griffe.CyclicAliasError, ValueError):
        return False
    for base in bases:
        member = base.members.get(name)
        if member is not None and _doc(member):
            return True
    return False


def _doc(obj: griffe.Object | griffe.Alias) -> bool:
    return obj.docstring is not None and bool(obj.docstring.value.strip())


def _class_problems(cls: griffe.Class, where: str) -> list[str]:
    problems = []
    described = _described(cls)
    for name, member in cls.members.items():
        if name.startswith("_") or member.is_alias:
            continue
        if _doc(member) or name in described or _inherits_doc(cls, name):
            continue
        problems.append(f"{where}.{name}")
    return problems


def undocumented(modules: list[str] = PUBLIC_MODULES) -> list[str]:
    """Return the public names (``module.name`` or ``module.Class.member``) without a docstring."""
    import griffe  # here: tests/test_docs.py reads PUBLIC_MODULES where griffe is not installed

    loader = griffe.GriffeLoader(
        extensions=griffe.load_extensions("griffe_sphinx"),
        search_paths=[str(ROOT)],
        docstring_parser=griffe.Parser.google,
    )
    for name in modules:
        loader.load(name)
    loader.resolve_aliases(implicit=False, external=None)
    problems: list[str] = []
    for module_path in modules:
        module = loader.modules_collection[module_path]
        if not _doc(module):
            problems.append(module_path)
        exports = module.exports if module.exports is not None else [n for n in module.members if not n.startswith("_")]
        for name in sorted(str(n) for n in exports):
            where = f"{module_path}.{name}"
            member = module.members.get(name)
            if member is None:
                problems.append(f"{where} (in __all__, not defined)")
                continue
            target = member.final_target if member.is_alias else member
            if target.is_module:
                continue  # a submodule: checked as a public module of its own
            if not _doc(target):
                problems.append(where)
            if target.is_class:
                problems.extend(_class_problems(target, where))  # type: ignore[arg-type]
    return problems


def main() -> int:
    """Print the undocumented public names; 1 if there are any."""
    problems = undocumented()
    for problem in problems:
        print(f"missing docstring: {problem}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} public names without a docstring", file=sys.stderr)
        return 1
    print(f"every public name of {len(PUBLIC_MODULES)} modules has a docstring")
    return 0


if __name__ == "__main__":
    sys.exit(main())
