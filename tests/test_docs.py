"""The documentation must match the code: generated parts, documented options, runnable examples."""

from __future__ import annotations

import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import objectstorex as osx
from objectstorex import patterns
from objectstorex._factory import store_class

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_"))


def _gen_matrix() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_matrix", DOCS / "gen_matrix.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_support_matrix_is_generated_from_capabilities() -> None:
    committed = (DOCS / "support_matrix.md").read_text(encoding="utf-8")
    assert committed == _gen_matrix().render(), "docs/support_matrix.md is stale: run python docs/gen_matrix.py"


def test_support_matrix_shows_every_backend_in_the_build() -> None:
    header = _gen_matrix().render().splitlines()[4]
    for provider in ("memory", "local", "s3", "azure", "gcs"):
        try:
            store_class(provider)
        except osx.InvalidConfigError:
            continue
        assert f" {provider} |" in header


def documented_options(guide: str, provider: str) -> set[str]:
    """The option names in the first column of the option tables of ``provider``'s own section.

    A section is headed ``## ... osx.new("<provider>"...`` and ends at the next ``## ``; an
    option table is one whose header's first cell is ``option``.
    """
    sections = [s for s in re.split(r"^## ", guide, flags=re.MULTILINE) if f'osx.new("{provider}"' in s.split("\n")[0]]
    assert len(sections) == 1, f"docs/configuration.md has no single section headed osx.new({provider!r}...)"
    names: set[str] = set()
    in_options = False
    for line in sections[0].splitlines():
        if not line.startswith("|"):
            in_options = False
            continue
        first = line.split("|")[1].strip()
        if first == "option":
            in_options = True
        elif in_options:
            names.update(re.findall(r"`([A-Za-z_]\w*)`", first))
    return names


def store_options(provider: str) -> set[str] | None:
    """The keyword options of ``provider``'s store class, or None where its extra is not installed."""
    try:
        cls = store_class(provider)
    except osx.InvalidConfigError:
        return None
    return {n for n in inspect.signature(cls.__init__).parameters if n != "self"}


def check_configuration_guide(guide: str) -> None:
    """Each provider's section documents exactly the options of that provider's store class."""
    for provider in ("memory", "local", "s3", "azure", "gcs"):
        options = store_options(provider)
        if options is None:
            continue
        documented = documented_options(guide, provider)
        assert options - documented == set(), f"the {provider} section of docs/configuration.md misses options"
        assert documented - options == set(), f"the {provider} section of docs/configuration.md has stale options"


def test_configuration_guide_names_every_store_option() -> None:
    check_configuration_guide((DOCS / "configuration.md").read_text(encoding="utf-8"))


def test_configuration_check_reads_only_the_providers_own_table() -> None:
    guide = (DOCS / "configuration.md").read_text(encoding="utf-8")
    s3_endpoint = next(line for line in guide.splitlines() if line.startswith("| `endpoint` | `AWS_ENDPOINT_URL_S3`"))
    without = guide.replace(s3_endpoint + "\n", "")
    assert "`endpoint`" in without  # Azure's and GCS's tables still name it...
    with pytest.raises(AssertionError, match=r"the s3 section of docs/configuration\.md misses options"):
        check_configuration_guide(without)  # ...yet S3's option is undocumented
    assert "endpoint" in documented_options(without, "gcs")
    assert documented_options(guide, "memory") == set()


def test_distributed_systems_guide_names_every_pattern() -> None:
    guide = (DOCS / "distributed_systems.md").read_text(encoding="utf-8")
    for name in patterns.__all__:
        assert name in guide, f"docs/distributed_systems.md does not mention {name}"


def test_error_guide_shows_the_whole_error_tree() -> None:
    guide = (DOCS / "error_handling.md").read_text(encoding="utf-8")
    for name in osx.errors.__all__:
        assert name in guide, f"docs/error_handling.md does not mention {name}"


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_and_checks_its_result(script: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the tree under test, wherever it is
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WRONG" not in done.stderr
    assert done.stdout.strip(), "an example shows what it does"


def test_readme_commands_and_ci_agree() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = "python3 -m pip install --quiet nox uv && python3 -m nox"
    assert command in readme
    assert command in ci
    assert "python3 examples/quickstart.py" in readme


_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("page", sorted([*DOCS.glob("*.md"), ROOT / "README.md", ROOT / "CONTRIBUTING.md"]), ids=str)
def test_doc_links_stay_inside_the_repository_and_resolve(page: Path) -> None:
    for target in _LINK.findall(page.read_text()):
        if re.match(r"[a-z]+://", target) or target.startswith("mailto:"):
            continue  # an external page, not a file
        resolved = (page.parent / target).resolve()
        assert resolved.is_relative_to(ROOT.resolve()), f"{page.name} links outside the repository: {target}"
        assert resolved.exists(), f"{page.name} links to a missing file: {target}"


# The API reference site (issue #12 section 3): `nox -s docs` builds it strictly; these keep it whole.
# Public modules documented elsewhere than docs/reference/: the store classes' own modules (their
# classes are on the Stores page, as objectstorex.S3Store...) and the command line (docs/cli.md).
NOT_IN_REFERENCE = {"objectstorex.backends", "objectstorex.cli"}


def _check_docstrings() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_docstrings", DOCS / "check_docstrings.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rendered() -> set[str]:
    """Every identifier a ``::: name`` block of docs/reference/ renders."""
    pages = (DOCS / "reference").glob("*.md")
    return {m for page in pages for m in re.findall(r"^::: ([\w.]+)\s*$", page.read_text(), flags=re.MULTILINE)}


def _public_modules() -> set[str]:
    package = ROOT / "objectstorex"
    found = {"objectstorex"}
    for entry in package.iterdir():
        if entry.name.startswith("_"):
            continue
        if (entry.suffix == ".py" and entry.is_file()) or (entry / "__init__.py").is_file():
            found.add(f"objectstorex.{entry.stem}")
    return found - NOT_IN_REFERENCE


def test_every_public_module_has_a_reference_page_and_a_docstring_check() -> None:
    modules = _public_modules()
    assert {"objectstorex", "objectstorex.errors", "objectstorex.testing", "objectstorex.transfer"} <= modules
    assert modules == set(_check_docstrings().PUBLIC_MODULES), "docs/check_docstrings.py PUBLIC_MODULES is stale"
    missing = modules - _rendered()
    assert not missing, f"public modules without a page in docs/reference/: {sorted(missing)}"


def test_every_top_level_name_is_in_the_reference() -> None:
    rendered = _rendered()
    modules = _public_modules()
    exported_by = {name: m for m in modules - {"objectstorex"} for name in importlib.import_module(m).__all__}
    missing = [
        name
        for name in osx.__all__
        if f"objectstorex.{name}" not in rendered and f"objectstorex.{name}" not in modules and name not in exported_by
    ]
    assert not missing, f"in objectstorex.__all__ but on no page of docs/reference/: {missing}"


def test_readme_says_how_to_build_the_docs_site() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python3 -m nox -s docs" in readme
    assert "site/index.html" in readme
    assert (ROOT / "mkdocs.yml").is_file()
    assert "site/" in (ROOT / ".gitignore").read_text().splitlines()
