"""The documentation must match the code: generated parts, documented options, runnable examples."""

from __future__ import annotations

import importlib.util
import inspect
import os
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


def test_configuration_guide_names_every_store_option() -> None:
    guide = (DOCS / "configuration.md").read_text(encoding="utf-8")
    for provider in ("memory", "local", "s3", "azure", "gcs"):
        try:
            cls = store_class(provider)
        except osx.InvalidConfigError:
            continue
        for name in inspect.signature(cls.__init__).parameters:
            if name != "self":
                assert f"`{name}`" in guide, f"docs/configuration.md does not document {provider} option {name!r}"


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
