"""Render docs/support_matrix.md from each store's ``capabilities``.

Run ``python docs/gen_matrix.py`` after changing a backend's capabilities. ``tests/test_docs.py``
fails when the committed file differs from this output, so the matrix cannot drift from the code.

Each store class is instantiated without I/O (stores open lazily): cloud stores with dummy
configuration, which is never sent anywhere. A backend that is not in this build is left out.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import objectstorex as osx
from objectstorex._factory import store_class
from objectstorex.checksums import ALGORITHMS, PROVIDER_ALGORITHMS

#: Provider -> options that construct its store without I/O (dummy values, never used).
DUMMY_CONFIG: dict[str, dict[str, object]] = {
    "s3": {"bucket": "matrix", "region": "us-east-1", "access_key_id": "AKIDMATRIX", "secret_access_key": "dummy"},
    "azure": {"account": "matrix", "container": "matrix", "access_key": "ZHVtbXkta2V5"},
    "gcs": {
        "bucket": "matrix",
        "anonymous": True,
        "service_account_key": {"type": "service_account", "client_email": "m@matrix.invalid", "private_key": "dummy"},
    },
}

ROWS = [
    ("put_create", 'put `mode="create"` (atomic create-only)'),
    ("put_update_etag", "put `UpdateVersion(etag=...)` (CAS)"),
    ("put_update_version", "put `UpdateVersion(version=...)` (CAS)"),
    ("conditional_get", "`if_match` / `if_none_match` / `if_(un)modified_since`"),
    ("copy_if_not_exists", "`copy_if_not_exists` / `rename_if_not_exists` (atomic)"),
    ("delete_if_match", "`delete(path, if_match=...)` (atomic)"),
    ("tags", "tags (`put(tags=)`, `get_tags`)"),
    ("versions", "`version=` reads"),
    ("sign", "`sign()` pre-signed URLs"),
]
ATTRS = ["content_type", "content_disposition", "content_encoding", "content_language", "cache_control", "metadata"]

#: What a cell cannot say: shown under the table for the providers that are present.
NOTES = {
    "local": "local: create, CAS and conditional delete are atomic across the processes of one machine "
    "(`fcntl` locks), not across NFS clients.",
    "s3": "s3: versions and version CAS need bucket versioning, which the class cannot know without I/O; "
    "conditional writes need a server that honours `If-None-Match`/`If-Match` on PUT "
    "(AWS since 2024, MinIO, moto).",
    "azure": "azure: shown for a store with an account key; one built on a SAS token cannot mint SAS URLs "
    "(`sign` false). Blob versions depend on the storage account's settings.",
    "gcs": "gcs: shown for a store with a service-account key; without one `sign` raises `InvalidConfigError`. "
    "`version=` means a generation; older generations exist only in a bucket with versioning. "
    "Conditions on reads are sent to GCS (ETags) and evaluated again on the response (all four).",
}

YES, NO = "✅", "❌"

#: Integrity rows (docs/integrity.md): what ``checksum="auto"`` picks, and what whole downloads check.
AUTO_CHECKSUM = {
    "s3": "CRC32 (CRC32C with `fast-checksums`)",
    "azure": "MD5 (`Content-MD5`)",
    "gcs": "CRC32C with `fast-checksums`, else MD5",
}
DOWNLOAD_CHECK = {
    "s3": "`x-amz-checksum-*` (full-object; composite `-N` skipped)",
    "azure": "`Content-MD5` (blobs written whole)",
    "gcs": "`x-goog-hash` (crc32c, md5)",
}

#: Transfer rows (docs/transfers.md): how ``put_stream``/``upload_file`` cut a large upload, by provider.
UPLOAD_PARTS = {
    "memory": "buffered whole, stored at the end",
    "local": "written to a temp file as it arrives, renamed at the end",
    "s3": "multipart, parts >= 5 MiB, `max_concurrency` at once",
    "azure": "blocks >= 1 MiB, `max_concurrency` at once",
    "gcs": "resumable, chunks of a multiple of 256 KiB, one at a time",
}


#: Suffix reads (zarr ``SuffixByteRequest``, obspec ``{"suffix": n}``, ``range=(-n, None)``), by provider.
SUFFIX_READS = {
    "memory": "in process",
    "local": "one file read",
    "s3": "one request (`bytes=-n`)",
    "azure": "two requests (size, then range): no suffix ranges",
    "gcs": "one request (`bytes=-n`)",
}


def _everywhere(name: str, caps: osx.Capabilities) -> str:
    return YES


def _capability(attr: str) -> Callable[[str, osx.Capabilities], str]:
    return lambda name, caps: YES if getattr(caps, attr) else NO


#: fsspec bridge (``objectstorex.fsspec``): the paths of ``ObjectStoreFileSystem(protocol=...)``, by provider.
FSSPEC_PATHS = {
    "memory": "`key`",
    "local": "`/absolute/path`",
    "s3": "`bucket/key`",
    "azure": "`container/key`",
    "gcs": "`bucket/key`",
}
#: How ``rm`` deletes each batch (``delete_many``), by provider.
FSSPEC_RM = {
    "memory": "in process",
    "local": "in process",
    "s3": "`DeleteObjects`",
    "azure": "Blob Batch",
    "gcs": "JSON batch",
}
#: Where the real consumers are tested (tests/test_dataframes.py); elsewhere they run through the same calls.
CONSUMERS = {"local": f"{YES} tested", "s3": f"{YES} tested"}


#: Ecosystem bridge rows (docs/ecosystem.md): a label and its cell for (provider, capabilities).
#: Each bridge adds its rows here.
BRIDGE_ROWS: list[tuple[str, Callable[[str, osx.Capabilities], str]]] = [
    ("fsspec `ObjectStoreFileSystem` (fsspec's abstract suite passes)", _everywhere),
    ("fsspec paths", lambda name, caps: FSSPEC_PATHS.get(name, "-")),
    ('fsspec `pipe_file(mode="create")` / `open("xb")` (atomic)', _capability("put_create")),
    ('fsspec `open("ab")` (conditional on the ETag)', _capability("put_update_etag")),
    ("fsspec `rm`: one `delete_many` per 1000 paths", lambda name, caps: FSSPEC_RM.get(name, "-")),
    ("pandas / pyarrow / DuckDB through fsspec", lambda name, caps: CONSUMERS.get(name, YES)),
    ("zarr `ObjectStorexStore` (zarr's own `StoreTests` pass)", _everywhere),
    ("zarr `set_if_not_exists` (atomic create)", _capability("put_create")),
    ('zarr `SuffixByteRequest` / obspec `{"suffix": n}`', lambda name, caps: SUFFIX_READS.get(name, "-")),
    ("obspec `ObspecStore` (every async and sync protocol)", _everywhere),
    ("obspec `copy`/`rename` with `overwrite=False` (atomic)", _capability("copy_if_not_exists")),
]


def stores() -> list[tuple[str, osx.Capabilities]]:
    """Each provider whose backend is in this build, with the capabilities its class reports."""
    out = [("memory", osx.MemoryStore().capabilities)]
    with tempfile.TemporaryDirectory() as tmp:
        out.append(("local", osx.LocalStore(tmp).capabilities))
    for provider, config in DUMMY_CONFIG.items():
        try:
            store_class(provider)
        except osx.InvalidConfigError:
            continue  # not in this build (its adapter or SDK is missing)
        out.append((provider, osx.new(provider, **config).capabilities))
    return out


def render() -> str:
    """The Markdown page."""
    columns = stores()
    lines = [
        "# Provider support matrix",
        "",
        "Generated by `docs/gen_matrix.py` from each store class's `capabilities` "
        "(`store.capabilities` at run time); do not edit by hand.",
        "",
        "| feature | " + " | ".join(name for name, _ in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for attr, label in ROWS:
        cells = [YES if getattr(caps, attr) else NO for _, caps in columns]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for attr in ATTRS:
        cells = [YES if attr in caps.attributes else NO for _, caps in columns]
        lines.append(f"| attribute `{attr}` | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"{YES} supported, atomic where the row says so; {NO} the call raises `NotSupportedError` "
        "before any I/O (for an attribute: a put that sets it does).",
        "",
    ]
    present = {name for name, _ in columns}
    notes = [text for provider, text in NOTES.items() if provider in present]
    lines += [f"- {text}" for text in notes]
    missing = [p for p in DUMMY_CONFIG if p not in present]
    if missing:
        lines.append(f"- Not in this build: {', '.join(missing)}.")
    lines.append("")
    lines += _integrity_rows([name for name, _ in columns])
    lines += _transfer_rows([name for name, _ in columns])
    lines += _bridge_rows(columns)
    return "\n".join(lines)


def _transfer_rows(names: list[str]) -> list[str]:
    """The transfer helpers' table (see docs/transfers.md): the same calls, each provider's mechanics."""
    return [
        "## Transfers (`upload_file`, `download_file`, `copy_tree`)",
        "",
        "| transfer | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
        "| large uploads (`put_stream`) | " + " | ".join(UPLOAD_PARTS.get(n, "-") for n in names) + " |",
        "",
        "The same everywhere: `download_file` reads concurrent ranges pinned to one ETag with `if_match`; "
        "`copy_tree` copies server-side (`copy`) within one store and streams between two. "
        "See [transfers.md](transfers.md).",
        "",
    ]


def _bridge_rows(columns: list[tuple[str, osx.Capabilities]]) -> list[str]:
    """The ecosystem bridges' table (see docs/ecosystem.md) from :data:`BRIDGE_ROWS`."""
    lines = [
        "## Ecosystem bridges",
        "",
        "| bridge | " + " | ".join(name for name, _ in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for label, cell in BRIDGE_ROWS:
        lines.append(f"| {label} | " + " | ".join(cell(name, caps) for name, caps in columns) + " |")
    lines += [
        "",
        "The bridges run on every store; a row about an atomic operation follows the store's capability. "
        "See [ecosystem.md](ecosystem.md).",
        "",
    ]
    return lines


def _integrity_rows(names: list[str]) -> list[str]:
    """The integrity table (``checksum=``, see docs/integrity.md) from :data:`PROVIDER_ALGORITHMS`."""
    lines = [
        "## Integrity (`checksum=`)",
        "",
        "| checksum | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    lines.append('| `"auto"` (default) | ' + " | ".join(AUTO_CHECKSUM.get(n, "ignored") for n in names) + " |")
    for algorithm in ALGORITHMS:
        cells = [
            (YES if algorithm in PROVIDER_ALGORITHMS[n] else NO) if n in PROVIDER_ALGORITHMS else "ignored"
            for n in names
        ]
        lines.append(f'| `"{algorithm}"` | ' + " | ".join(cells) + " |")
    lines.append("| whole downloads checked against | " + " | ".join(DOWNLOAD_CHECK.get(n, "-") for n in names) + " |")
    lines += [
        "",
        f"{YES} sent with uploads and checked by the service; {NO} `NotSupportedError` before any I/O; "
        "memory and local have no transit to protect and ignore `checksum=`. "
        'S3 `"md5"` is `Content-MD5`, checked on upload only. `"off"` sends and checks nothing. '
        "See [integrity.md](integrity.md).",
        "",
    ]
    return lines


if __name__ == "__main__":
    text = render()
    Path(__file__).with_name("support_matrix.md").write_text(text, encoding="utf-8")
    sys.stdout.write(text)
