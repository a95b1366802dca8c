"""One command's run: its stores, its exit code, and the asyncio loop around it.

Exit codes: 0 ok; 1 some operations failed (the rest were done, each failure reported on
stderr); 2 usage error; 3 no match or source missing; 130 interrupted (Ctrl-C: the running
transfers are cancelled, which aborts their multipart uploads, before the process exits).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import sys
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import NoReturn

from .._factory import store_class
from .._store import BaseStore
from ..errors import (
    InvalidConfigError,
    InvalidPathError,
    InvalidRangeError,
    NotFoundError,
    ObjectStoreError,
)
from ._output import Output, StdoutClosed
from ._sides import FsSide, Side, StoreSide, describe_error
from ._urls import Location, UsageProblem

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_MISSING", "EXIT_OK", "EXIT_USAGE", "Run", "StoreFlags", "execute"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_MISSING = 3
EXIT_INTERRUPTED = 130

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class StoreFlags:
    """Store options given on the command line; each goes to every store of the command that takes it.

    Attributes:
        options: option name -> value (``--endpoint``, ``--region``, ... and each ``-o KEY=VALUE``).
    """

    options: dict[str, str | bool] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        *,
        endpoint: str | None = None,
        region: str | None = None,
        profile: str | None = None,
        account: str | None = None,
        anonymous: bool = False,
        pairs: Iterable[str] = (),
    ) -> StoreFlags:
        """Collect the flags.

        Raises:
            UsageProblem: a ``-o`` that is not ``KEY=VALUE``.
        """
        options: dict[str, str | bool] = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                raise UsageProblem(f"--option takes KEY=VALUE, got {pair!r}")
            options[key.strip().replace("-", "_")] = value
        for name, flag in (("endpoint", endpoint), ("region", region), ("profile", profile), ("account", account)):
            if flag is not None:
                options[name] = flag
        if anonymous:
            options["anonymous"] = True
        return cls(options)


def _accepted(cls: type[BaseStore]) -> dict[str, inspect.Parameter]:
    params = inspect.signature(cls.__init__).parameters
    return {n: p for n, p in params.items() if n != "self" and p.kind is not inspect.Parameter.VAR_POSITIONAL}


def _coerce(name: str, value: str | bool, param: inspect.Parameter) -> object:
    """A ``-o`` value as the option wants it: booleans from true/false, the rest as text."""
    if isinstance(value, bool):
        return value
    annotation = str(param.annotation)
    if isinstance(param.default, bool) or "bool" in annotation:
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        if "str" not in annotation:
            raise UsageProblem(f"option {name!r} takes true or false, got {value!r}")
    return value


class Run:
    """The state of one command: opened stores (one per bucket), output, and failures so far."""

    def __init__(self, flags: StoreFlags, out: Output) -> None:
        """Prepare a run; stores open in :meth:`open`."""
        self.flags = flags
        self.out = out
        self.failures = 0
        self.missing = 0
        self._stack = contextlib.AsyncExitStack()
        self._stores: dict[tuple[str, str], BaseStore] = {}
        self._used: set[str] = set()
        self._cloud = False

    async def __aenter__(self) -> Run:
        await self._stack.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.__aexit__(*exc)  # type: ignore[arg-type]

    async def open(self, *locations: Location) -> list[Side]:
        """The side of each location (stores shared per bucket), checking that every flag was used.

        Raises:
            UsageProblem: a store option that no store of this command takes.
            InvalidConfigError: a store refused its options.
        """
        sides = [await self._side(loc) for loc in locations]
        unused = sorted(set(self.flags.options) - self._used)
        if unused and self._cloud:
            raise UsageProblem(f"no store of this command takes the option(s) {', '.join(unused)}")
        return sides

    async def _side(self, loc: Location) -> Side:
        if loc.kind == "fs":
            return FsSide(loc)
        if loc.kind == "stdio":
            raise UsageProblem("'-' (stdin/stdout) is only a source or destination of cp")
        key = (loc.provider, loc.bucket)
        store = self._stores.get(key)
        if store is None:  # one store per bucket: a copy within it is a server-side copy
            store = await self._stack.enter_async_context(self._new_store(loc))
            self._stores[key] = store
        return StoreSide(loc, store)

    def _new_store(self, loc: Location) -> BaseStore:
        import objectstorex as osx

        if loc.provider == "memory":
            return osx.new("memory")
        self._cloud = True
        # Imports the provider's SDK now; without its extra: InvalidConfigError naming the extra.
        cls = store_class(loc.provider)
        accepted = _accepted(cls)
        options: dict[str, object] = {}
        for name, value in self.flags.options.items():
            param = accepted.get(name)
            if param is not None and name not in ("bucket", "container", "prefix"):
                options[name] = _coerce(name, value, param)
                self._used.add(name)
        return osx.from_url(loc.store_url, **options)

    # ------------------------------------------------------------------------- accounting

    def fail(self, what: str, error: BaseException) -> None:
        """Report one failed operation (exit code 1, or 3 when it is a missing source)."""
        if isinstance(error, (NotFoundError, FileNotFoundError)):
            self.missing += 1
        else:
            self.failures += 1
        self.out.error(f"{what}: {describe_error(error)}")

    def no_match(self, what: str) -> None:
        """Report a wildcard or path that matched nothing (exit code 3)."""
        self.missing += 1
        self.out.error(f"{what}: no match")

    @property
    def exit_code(self) -> int:
        """1 if anything failed, else 3 if a source was missing or matched nothing, else 0."""
        if self.failures:
            return EXIT_FAILED
        if self.missing:
            return EXIT_MISSING
        return EXIT_OK


def execute(flags: StoreFlags, out: Output, body: Callable[[Run], Awaitable[None]]) -> NoReturn:
    """Run ``body`` in a fresh event loop and exit with the command's exit code."""

    async def main() -> int:
        async with Run(flags, out) as run:
            try:
                await body(run)
            finally:
                with contextlib.suppress(StdoutClosed):
                    out.flush()
            return run.exit_code

    code: int
    try:
        code = asyncio.run(main())
    except KeyboardInterrupt:
        # asyncio.run cancelled the command's task (aborting its uploads) before raising this.
        out.error("interrupted")
        code = EXIT_INTERRUPTED
    except StdoutClosed:
        code = EXIT_OK  # the reader of our output went away: nothing more to say
    except UsageProblem as e:
        out.error(f"usage: {e}")
        code = EXIT_USAGE
    except (InvalidConfigError, InvalidPathError, InvalidRangeError) as e:
        out.error(str(e))
        code = EXIT_USAGE
    except NotFoundError as e:
        out.error(str(e))
        code = EXIT_MISSING
    except (ObjectStoreError, OSError) as e:
        out.error(describe_error(e))
        code = EXIT_FAILED
    sys.exit(code)
