"""Real consumers through the fsspec bridge: pandas, pyarrow datasets and DuckDB, on moto and the local store.

Each reads back what it (or another of them) wrote, and the data must come out equal: the
round trips exercise ranged reads (Parquet footers), globbing, listing, ``info``/``modified``
and streamed writes the way those libraries really call them.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pytest

from objectstorex.fsspec import ObjectStoreFileSystem
from tests.emulators import s3 as s3_emulator

#: Where the consumers are tested: the local store and S3 on moto.
DATAFRAME_BACKENDS = ["local", "s3"]


@pytest.fixture(scope="module", params=DATAFRAME_BACKENDS, ids=DATAFRAME_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend a test runs on."""
    return str(request.param)


@pytest.fixture(scope="module")
def storage_options(backend: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    """What a user passes as ``storage_options`` (``provider``: fsspec keeps ``protocol`` for itself)."""
    if backend == "s3":
        endpoint = request.getfixturevalue("moto_endpoint")
        return {"provider": "s3", "region": "us-east-1", "endpoint": endpoint, **s3_emulator.KEYS}
    return {"provider": "local"}


@pytest.fixture(scope="module")
def root(backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A bucket (S3) or directory (local) for the module."""
    if backend == "s3":
        bucket = f"df-{uuid.uuid4().hex[:16]}"
        asyncio.run(s3_emulator.create_bucket(request.getfixturevalue("moto_endpoint"), bucket))
        return bucket
    return str(tmp_path_factory.mktemp("frames"))


@pytest.fixture(scope="module")
def fs(storage_options: dict[str, Any]) -> Iterator[ObjectStoreFileSystem]:
    """The filesystem the URLs of the tests resolve to (the same options: fsspec's cached instance)."""
    filesystem = ObjectStoreFileSystem(**storage_options)
    yield filesystem
    filesystem.close()


@pytest.fixture
def base(root: str) -> str:
    """A fresh directory for one test (a filesystem path, no scheme)."""
    return f"{root}/t-{uuid.uuid4().hex[:12]}"


def _frame(rows: int = 100, seed: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": range(seed, seed + rows),
            "value": [i * 0.5 for i in range(rows)],
            "name": [f"row {i} ✓" for i in range(rows)],
            "region": ["eu", "us", "ap", "us"] * (rows // 4),
        }
    )


def test_pandas_parquet_round_trip(fs: ObjectStoreFileSystem, storage_options: dict[str, Any], base: str) -> None:
    frame = _frame()
    url = f"objectstorex://{base}/frame.parquet"
    frame.to_parquet(url, engine="pyarrow", storage_options=storage_options)
    assert fs.info(f"{base}/frame.parquet")["size"] > 0
    back = pd.read_parquet(url, engine="pyarrow", storage_options=storage_options)
    pd.testing.assert_frame_equal(back, frame)
    # The filesystem object itself works as well as the URL and options.
    again = pd.read_parquet(f"{base}/frame.parquet", engine="pyarrow", filesystem=fs)
    pd.testing.assert_frame_equal(again, frame)
    # Column projection reads only part of the file: ranged reads through the bridge.
    ids = pd.read_parquet(url, engine="pyarrow", columns=["id"], storage_options=storage_options)
    assert ids["id"].tolist() == list(range(100))


def test_pandas_csv_round_trip(storage_options: dict[str, Any], base: str) -> None:
    frame = _frame(rows=20)
    url = f"objectstorex://{base}/frame.csv"
    frame.to_csv(url, index=False, storage_options=storage_options)
    pd.testing.assert_frame_equal(pd.read_csv(url, storage_options=storage_options), frame)


def test_pyarrow_dataset_reads_a_partitioned_dataset(fs: ObjectStoreFileSystem, base: str) -> None:
    arrow = pafs.PyFileSystem(pafs.FSSpecHandler(fs))
    table = pa.Table.from_pandas(_frame(rows=200), preserve_index=False)
    ds.write_dataset(
        table, f"{base}/ds", filesystem=arrow, format="parquet", partitioning=["region"], partitioning_flavor="hive"
    )
    assert sorted(fs.ls(f"{base}/ds", detail=False)) == [f"{base}/ds/region={r}" for r in ("ap", "eu", "us")]
    dataset = ds.dataset(f"{base}/ds", filesystem=arrow, format="parquet", partitioning="hive")
    assert len(dataset.files) == 3
    read = dataset.to_table().to_pandas().sort_values("id", ignore_index=True)
    want = _frame(rows=200)
    assert read["id"].tolist() == want["id"].tolist()
    assert read["region"].astype(str).tolist() == want["region"].tolist()
    us = dataset.to_table(filter=ds.field("region") == "us")
    assert us.num_rows == 100
    assert set(us.column("region").to_pylist()) == {"us"}


def test_duckdb_reads_a_glob_of_parquet_files(fs: ObjectStoreFileSystem, base: str) -> None:
    for part in range(3):
        fs.pipe_file(f"{base}/glob/part-{part}.parquet", _frame(rows=40, seed=part * 40).to_parquet())
    fs.pipe_file(f"{base}/glob/notes.txt", b"not parquet: the glob must leave it out")
    connection = duckdb.connect()
    try:
        connection.register_filesystem(fs)
        rows = connection.sql(
            f"SELECT count(*), min(id), max(id), count(DISTINCT filename) "
            f"FROM read_parquet('objectstorex://{base}/glob/*.parquet', filename = true)"
        ).fetchall()
        assert rows == [(120, 0, 119, 3)]
        by_region = connection.sql(
            f"SELECT region, count(*) FROM 'objectstorex://{base}/glob/*.parquet' GROUP BY region ORDER BY region"
        ).fetchall()
        assert by_region == [("ap", 30), ("eu", 30), ("us", 60)]
    finally:
        connection.close()


def test_duckdb_writes_and_reads_back(fs: ObjectStoreFileSystem, base: str) -> None:
    connection = duckdb.connect()
    try:
        connection.register_filesystem(fs)
        connection.sql(f"COPY (SELECT range AS n FROM range(1000)) TO 'objectstorex://{base}/out.parquet'")
        assert fs.exists(f"{base}/out.parquet")
        total = connection.sql(f"SELECT sum(n) FROM 'objectstorex://{base}/out.parquet'").fetchall()
        assert total == [(sum(range(1000)),)]
    finally:
        connection.close()


def test_registered_s3_protocol_serves_pandas(moto_endpoint: str, tmp_path: Path) -> None:
    """After ``register("s3")``, ``s3://`` URLs in pandas go through objectstorex (in a fresh process,
    so this process's registry keeps s3fs)."""
    bucket = f"df-{uuid.uuid4().hex[:16]}"
    asyncio.run(s3_emulator.create_bucket(moto_endpoint, bucket))
    script = textwrap.dedent(
        """
        import sys
        import pandas as pd
        import objectstorex.fsspec
        from objectstorex.fsspec import ObjectStoreFileSystem

        endpoint, bucket = sys.argv[1:3]
        objectstorex.fsspec.register("s3")
        options = {"region": "us-east-1", "endpoint": endpoint,
                   "access_key_id": "testing-key-id", "secret_access_key": "testing-secret-key"}
        frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
        frame.to_parquet(f"s3://{bucket}/x.parquet", storage_options=options)
        back = pd.read_parquet(f"s3://{bucket}/x.parquet", storage_options=options)
        pd.testing.assert_frame_equal(back, frame)
        fs = ObjectStoreFileSystem(protocol="s3", **options)
        print(fs.info(f"{bucket}/x.parquet")["type"])
        fs.close()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, moto_endpoint, bucket], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["file"]
