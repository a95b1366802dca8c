"""The documentation that is generated from code must match the code."""

from __future__ import annotations

import importlib.util
from pathlib import Path

DOCS = Path(__file__).parent.parent / "docs"


def test_support_matrix_is_generated_from_capabilities() -> None:
    spec = importlib.util.spec_from_file_location("gen_matrix", DOCS / "gen_matrix.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (DOCS / "support_matrix.md").read_text()
    assert committed == module.render(), "docs/support_matrix.md is stale: run python docs/gen_matrix.py"


def test_readme_commands_and_ci_agree() -> None:
    readme = (DOCS.parent / "README.md").read_text()
    ci = (DOCS.parent / ".ci" / "run").read_text()
    command = "python3 -m pip install --quiet nox uv && python3 -m nox"
    assert command in readme
    assert command in ci
    assert "python3 examples/quickstart.py" in readme
