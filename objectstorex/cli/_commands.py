"""The click commands. Only click and the light core are imported here: ``--help`` stays fast."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ._sizes import parse_duration, parse_size

__all__ = ["cli"]

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES = """\b
Exit codes:
  0    everything done
  1    some operations failed (the others were done; each failure is on stderr)
  2    usage error (bad option, URL or range)
  3    no match, or the source is missing
  130  interrupted (Ctrl-C): running uploads are aborted, nothing partial is left
"""

LOCATIONS = """\b
Locations: s3://bucket/key, az://container/key, gs://bucket/key, memory://key,
file:///abs/path or a plain local path; '-' is stdin or stdout (cp).
Wildcards: * (one level), ** (any levels), ? (one character), [a-c].
Credentials come from the environment as each provider's SDK resolves them.
"""


class Size(click.ParamType):  # type: ignore[type-arg,unused-ignore]
    """A byte count: ``8MiB``, ``5MB``, ``1048576``."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        """Parse the size (click reports a bad one as a usage error)."""
        if isinstance(value, int):
            return value
        try:
            size = parse_size(str(value))
        except ValueError as e:
            self.fail(str(e), param, ctx)
        if size <= 0:
            self.fail(f"{value!r} must be more than 0 bytes", param, ctx)
        return size


class Duration(click.ParamType):  # type: ignore[type-arg,unused-ignore]
    """Seconds, or ``15m``, ``12h``, ``7d``."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        """Parse the duration (click reports a bad one as a usage error)."""
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return parse_duration(str(value))
        except ValueError as e:
            self.fail(str(e), param, ctx)


def _examples(*lines: str) -> str:
    """A command's epilog: its examples, then the exit codes (the leading BS keeps click from rewrapping)."""
    body = "\n".join(f"  {line}" for line in lines)
    return f"\b\nExamples:\n{body}\n\n{EXIT_CODES}"


def _store_options(f: F) -> F:
    """Store options (each goes to every store of the command that takes it) and ``--quiet``."""
    decorators = [
        click.option("--endpoint", metavar="URL", help="Service endpoint (MinIO, moto, Azurite, fake-gcs-server...)."),
        click.option("--region", help="S3 region."),
        click.option("--profile", help="S3 profile of the AWS config files."),
        click.option("--account", help="Azure storage account (else AZURE_STORAGE_ACCOUNT)."),
        click.option("--anonymous", is_flag=True, default=False, help="GCS: send no credentials."),
        click.option(
            "-o",
            "--option",
            "store_option",
            multiple=True,
            metavar="KEY=VALUE",
            help="Any other store option, e.g. -o allow_http=true, -o checksum=crc32c (repeatable).",
        ),
        click.option("-q", "--quiet", is_flag=True, default=False, help="No progress and no notices on stderr."),
    ]
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


def _transfer_options(f: F) -> F:
    decorators = [
        click.option(
            "-j", "--jobs", type=click.IntRange(min=1), default=32, show_default=True, help="Objects in flight."
        ),
        click.option("--part-size", type=Size(), help="Multipart part size, e.g. 8MiB (default 8 MiB)."),
        click.option("--part-concurrency", type=click.IntRange(min=1), help="Parts in flight per object (default 4)."),
    ]
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


_STORE_FLAGS = ("endpoint", "region", "profile", "account", "anonymous", "store_option", "quiet")


def _flags(kw: dict[str, Any]) -> Any:
    """The store flags of a command, completed by those given before its name (``objectstorex --endpoint X ls``)."""
    from ._run import StoreFlags

    ctx = click.get_current_context()
    before: dict[str, Any] = ctx.find_root().obj or {}
    for name in _STORE_FLAGS:
        if name == "store_option":
            kw[name] = (*before.get(name, ()), *kw[name])
        elif not kw[name] and before.get(name):
            kw[name] = before[name]
    return StoreFlags.of(
        endpoint=kw.pop("endpoint"),
        region=kw.pop("region"),
        profile=kw.pop("profile"),
        account=kw.pop("account"),
        anonymous=kw.pop("anonymous"),
        pairs=kw.pop("store_option"),
    )


def _command(f: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a URL problem found while reading arguments into a usage error (exit 2)."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from ._urls import UsageProblem

        try:
            return f(*args, **kwargs)
        except UsageProblem as e:
            raise click.UsageError(str(e)) from None

    return wrapper


def _parse(urls: tuple[str, ...]) -> list[Any]:
    from ._urls import parse_location

    return [parse_location(u) for u in urls]


def _output(quiet: bool, json: bool = False) -> Any:
    from ._output import Output

    return Output(quiet=quiet, json=json)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=LOCATIONS + "\n" + EXIT_CODES,
)
@click.version_option(package_name="objectstorex", prog_name="objectstorex")
@_store_options
@click.pass_context
def cli(ctx: click.Context, /, **kw: Any) -> None:
    """objectstorex: one command line for S3, Azure Blob, GCS, local files and memory.

    Every option may follow the command name; the store options and --quiet may also come
    before it (`objectstorex --endpoint URL ls ...`). Run `objectstorex COMMAND --help` for a
    command's options.
    """
    ctx.obj = kw


@cli.command(
    epilog=_examples(
        "objectstorex ls s3://bucket/data/",
        "objectstorex ls -lr --human s3://bucket/data",
        "objectstorex ls --json 's3://bucket/logs/**/*.gz'",
    )
)
@click.argument("urls", nargs=-1, required=True)
@click.option("-l", "--long", is_flag=True, help="Show size and time of each object.")
@click.option("-r", "--recursive", is_flag=True, help="Everything under the prefix, not one level.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line: path, size, last_modified, etag.")
@click.option("--human", is_flag=True, help="Sizes as KiB, MiB... (with -l).")
@_store_options
@_command
def ls(urls: tuple[str, ...], long: bool, recursive: bool, as_json: bool, human: bool, **kw: Any) -> None:
    """List objects and prefixes (dir/) under each URL, or the objects a wildcard matches."""
    from . import _read
    from ._run import execute

    flags, locations, out = _flags(kw), _parse(urls), _output(kw["quiet"], as_json)
    execute(flags, out, lambda run: _read.ls(run, locations, long=long, recursive=recursive, human=human))


@cli.command(
    epilog=_examples(
        "objectstorex stat s3://bucket/data/file.parquet",
        "objectstorex stat --json gs://bucket/a gs://bucket/b",
    )
)
@click.argument("urls", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@_store_options
@_command
def stat(urls: tuple[str, ...], as_json: bool, **kw: Any) -> None:
    """Show each object's size, last modification time, ETag and version."""
    from . import _read
    from ._run import execute

    flags, locations, out = _flags(kw), _parse(urls), _output(kw["quiet"], as_json)
    execute(flags, out, lambda run: _read.stat(run, locations))


@cli.command(
    epilog=_examples(
        "objectstorex cat s3://bucket/logs/app.log.gz | gunzip",
        "objectstorex cat --range 0-1023 s3://bucket/big.bin > head.bin",
        "objectstorex cat --range -100 s3://bucket/app.log",
    )
)
@click.argument("urls", nargs=-1, required=True)
@click.option(
    "--range",
    "byte_range",
    metavar="RANGE",
    help="Bytes START-END (inclusive, as in HTTP), START- (to the end) or -N (the last N).",
)
@_store_options
@_command
def cat(urls: tuple[str, ...], byte_range: str | None, **kw: Any) -> None:
    """Write objects (or a byte range) to stdout, as they are."""
    from . import _read
    from ._run import execute

    flags, locations, out = _flags(kw), _parse(urls), _output(kw["quiet"])
    parsed = None if byte_range is None else _read.parse_range(byte_range)
    execute(flags, out, lambda run: _read.cat(run, locations, byte_range=parsed))


def _transfer_flags(kw: dict[str, Any], no_clobber: bool = False) -> Any:
    from ._write import TransferFlags

    return TransferFlags(
        jobs=kw.pop("jobs"),
        part_size=kw.pop("part_size"),
        part_concurrency=kw.pop("part_concurrency"),
        no_clobber=no_clobber,
    )


def _copy_command(move: bool) -> Callable[..., None]:
    def run(urls: tuple[str, ...], recursive: bool, no_clobber: bool, **kw: Any) -> None:
        from . import _write
        from ._run import execute

        if len(urls) < 2:
            raise click.UsageError("give at least one source and a destination")
        flags, transfer = _flags(kw), _transfer_flags(kw, no_clobber)
        locations, out = _parse(urls), _output(kw["quiet"])
        execute(
            flags,
            out,
            lambda r: _write.cp(r, locations[:-1], locations[-1], transfer, recursive=recursive, move=move),
        )

    return run


_COPY_OPTIONS = [
    click.argument("urls", nargs=-1, required=True, metavar="SOURCE... DEST"),
    click.option("-r", "--recursive", is_flag=True, help="Copy what is under each source prefix or directory."),
    click.option(
        "-n",
        "--no-clobber",
        is_flag=True,
        help="Create-only writes: leave existing destinations alone (each named on stderr).",
    ),
]


def _copy_options(f: F) -> F:
    for option in reversed(_COPY_OPTIONS):
        f = option(f)
    return f


@cli.command(
    epilog=_examples(
        "objectstorex cp model.bin s3://bucket/models/",
        "objectstorex cp -r ./site s3://bucket/www",
        "objectstorex cp 's3://bucket/logs/2025-*/*.gz' ./logs/",
        "objectstorex cp -n -r s3://bucket/data gs://other/data",
        "tar c dir | objectstorex cp - s3://bucket/dir.tar",
    )
)
@_copy_options
@_transfer_options
@_store_options
@_command
def cp(**kw: Any) -> None:
    """Copy objects and files: local <-> store, store <-> store, '-' for stdin/stdout.

    With -r, what is under the source prefix goes under the destination prefix (as `aws s3 cp
    --recursive`); a wildcard keeps each match's path relative to the part before the wildcard.
    """
    _copy_command(False)(**kw)


@cli.command(
    epilog=_examples(
        "objectstorex mv s3://bucket/tmp/part-0 s3://bucket/data/part-0",
        "objectstorex mv -r ./outbox s3://bucket/inbox",
    )
)
@_copy_options
@_transfer_options
@_store_options
@_command
def mv(**kw: Any) -> None:
    """Move objects and files (a rename within one store, else copy then delete)."""
    _copy_command(True)(**kw)


@cli.command(
    epilog=_examples(
        "objectstorex rm s3://bucket/tmp/file",
        "objectstorex rm -r s3://bucket/tmp/",
        "objectstorex rm 's3://bucket/logs/**/*.tmp'",
    )
)
@click.argument("urls", nargs=-1, required=True)
@click.option("-r", "--recursive", is_flag=True, help="Delete everything under each prefix or directory.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=8, show_default=True, help="Batches in flight.")
@_store_options
@_command
def rm(urls: tuple[str, ...], recursive: bool, jobs: int, **kw: Any) -> None:
    """Delete objects (in batches of up to 1,000 through delete_many).

    Deleting a missing object is not an error; a wildcard that matches nothing is (exit 3).
    """
    from . import _write
    from ._run import execute

    flags, locations, out = _flags(kw), _parse(urls), _output(kw["quiet"])
    execute(flags, out, lambda run: _write.rm(run, locations, recursive=recursive, jobs=jobs))


@cli.command(
    epilog=_examples(
        "objectstorex sync ./site s3://bucket/www --delete",
        "objectstorex sync s3://bucket/data gs://mirror/data --checksum",
    )
)
@click.argument("source")
@click.argument("dest")
@click.option("--checksum", is_flag=True, help="Compare content (MD5), not size and time.")
@click.option("--delete", is_flag=True, help="Delete destination objects the source does not have.")
@click.option("--dry-run", is_flag=True, help="Print what would be copied and deleted; change nothing.")
@_transfer_options
@_store_options
@_command
def sync(source: str, dest: str, checksum: bool, delete: bool, dry_run: bool, **kw: Any) -> None:
    """Make DEST hold what SOURCE holds (directories or prefixes).

    An object is copied when it is missing at DEST, has another size, or is newer at SOURCE
    (with --checksum: when its content differs).
    """
    from . import _write
    from ._run import execute

    flags, transfer = _flags(kw), _transfer_flags(kw)
    src, dst = _parse((source, dest))
    out = _output(kw["quiet"])
    execute(
        flags, out, lambda run: _write.sync(run, src, dst, transfer, checksum=checksum, delete=delete, dry_run=dry_run)
    )


@cli.command(
    epilog=_examples(
        "objectstorex du -s --human s3://bucket/data",
        "objectstorex du --json az://container/",
    )
)
@click.argument("urls", nargs=-1, required=True)
@click.option("-s", "--summarize", is_flag=True, help="Only the total of each URL.")
@click.option("--human", is_flag=True, help="Sizes as KiB, MiB, GiB...")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line: path, size, objects.")
@_store_options
@_command
def du(urls: tuple[str, ...], summarize: bool, human: bool, as_json: bool, **kw: Any) -> None:
    """Bytes under each URL: per first level below it, then the total (tab-separated)."""
    from . import _read
    from ._run import execute

    flags, locations, out = _flags(kw), _parse(urls), _output(kw["quiet"], as_json)
    execute(flags, out, lambda run: _read.du(run, locations, summarize=summarize, human=human))


@cli.command(
    epilog=_examples(
        "objectstorex sign --expires-in 15m s3://bucket/report.pdf",
        'curl -T file "$(objectstorex sign --method PUT s3://bucket/upload/file)"',
    )
)
@click.argument("url")
@click.option(
    "--expires-in", type=Duration(), default="1h", show_default=True, help="Validity: seconds, or 15m, 12h, 7d."
)
@click.option("--method", default="GET", show_default=True, help="HTTP method the URL allows (GET, PUT...).")
@_store_options
@_command
def sign(url: str, expires_in: float, method: str, **kw: Any) -> None:
    """Print a pre-signed URL of an object (S3, Azure SAS, GCS V4)."""
    from . import _read
    from ._run import execute

    flags, (location,), out = _flags(kw), _parse((url,)), _output(kw["quiet"])
    execute(flags, out, lambda run: _read.sign(run, location, method=method, expires_in=expires_in))
