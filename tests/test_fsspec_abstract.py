"""fsspec's own abstract test suite (copy, get, put, pipe, open) on ObjectStoreFileSystem.

The suite is wired the way s3fs and fsspec's memory tests wire it: each backend gives the
fixtures ``fs`` (a filesystem), ``fs_join`` and ``fs_path`` (where a test works); the local side
(``local_fs``, ``local_join``, ``local_path``) is fsspec's own. Objects have no empty
directories, so ``supports_empty_directories`` is false everywhere.

One bucket (container) per test class and a fresh prefix per test keep it fast on the emulators.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator

import fsspec.tests.abstract as abstract
import pytest

import objectstorex as osx
from objectstorex.backends.azure.auth import AZURITE_ACCOUNT, AZURITE_KEY
from objectstorex.fsspec import ObjectStoreFileSystem
from tests.emulators import gcs as gcs_emulator
from tests.emulators import s3 as s3_emulator
from tests.emulators.spaces import fresh_space


def _slash_join(*parts: str) -> str:
    return "/".join(parts)


class _ObjectFixtures(abstract.AbstractFixtures):  # type: ignore[misc]
    """What every backend shares: ``/`` joins, no empty directories, a fresh prefix per test."""

    @pytest.fixture
    def fs_join(self) -> Callable[..., str]:
        return _slash_join

    @pytest.fixture
    def supports_empty_directories(self) -> bool:
        return False


class MemoryFixtures(_ObjectFixtures):
    """``protocol="memory"``: paths are keys."""

    @pytest.fixture(scope="class")
    @staticmethod
    def fs() -> Iterator[ObjectStoreFileSystem]:
        fs = ObjectStoreFileSystem(protocol="memory", skip_instance_cache=True)
        yield fs
        fs.close()

    @pytest.fixture
    def fs_path(self, fs: ObjectStoreFileSystem) -> Iterator[str]:
        path = f"t-{uuid.uuid4().hex[:12]}"
        yield path
        # The process's one memory store outlives the test: leave nothing behind in it.
        if fs.exists(path):
            fs.rm(path, recursive=True)


class GivenStoreFixtures(_ObjectFixtures):
    """``store=``: a fresh memory store per test, paths from its root with a leading ``/`` (as
    fsspec's own memory tests use them); the filesystem keeps the ``/`` on the way out."""

    @pytest.fixture
    def fs(self) -> ObjectStoreFileSystem:
        return ObjectStoreFileSystem(store=osx.MemoryStore())

    @pytest.fixture
    def fs_path(self) -> str:
        return ""


class LocalFixtures(_ObjectFixtures):
    """``protocol="local"``: absolute file paths, joined as the OS joins them."""

    @pytest.fixture(scope="class")
    @staticmethod
    def fs() -> Iterator[ObjectStoreFileSystem]:
        fs = ObjectStoreFileSystem(protocol="local", skip_instance_cache=True)
        yield fs
        fs.close()

    @pytest.fixture
    def fs_join(self) -> Callable[..., str]:
        return os.path.join

    @pytest.fixture
    def fs_path(self, tmp_path_factory: pytest.TempPathFactory) -> str:
        return str(tmp_path_factory.mktemp("fs"))


class _CloudFixtures(_ObjectFixtures):
    """A cloud provider: paths are ``bucket/key``; one bucket per class, a fresh prefix per test."""

    @pytest.fixture
    def fs_path(self, fs: ObjectStoreFileSystem, bucket: str) -> str:
        return f"{bucket}/t-{uuid.uuid4().hex[:12]}"


class S3Fixtures(_CloudFixtures):
    """S3 on moto."""

    @pytest.fixture(scope="class")
    @staticmethod
    def bucket(moto_endpoint: str) -> str:
        return asyncio.run(fresh_space("s3", moto_endpoint, "fsspec"))

    @pytest.fixture(scope="class")
    @staticmethod
    def fs(moto_endpoint: str) -> Iterator[ObjectStoreFileSystem]:
        fs = ObjectStoreFileSystem(
            protocol="s3",
            region="us-east-1",
            endpoint=moto_endpoint,
            access_key_id=s3_emulator.KEYS["access_key_id"],
            secret_access_key=s3_emulator.KEYS["secret_access_key"],
            skip_instance_cache=True,
        )
        yield fs
        fs.close()


class AzureFixtures(_CloudFixtures):
    """Azure Blob on Azurite (paths are ``container/key``)."""

    @pytest.fixture(scope="class")
    @staticmethod
    def bucket(azurite_endpoint: str) -> str:
        return asyncio.run(fresh_space("azure", azurite_endpoint, "fsspec"))

    @pytest.fixture(scope="class")
    @staticmethod
    def fs(azurite_endpoint: str) -> Iterator[ObjectStoreFileSystem]:
        fs = ObjectStoreFileSystem(
            protocol="azure",
            account=AZURITE_ACCOUNT,
            access_key=AZURITE_KEY,
            endpoint=azurite_endpoint,
            skip_instance_cache=True,
        )
        yield fs
        fs.close()


class GCSFixtures(_CloudFixtures):
    """GCS on fake-gcs-server."""

    @pytest.fixture(scope="class")
    @staticmethod
    def bucket(fake_gcs_endpoint: str) -> str:
        return asyncio.run(fresh_space("gcs", fake_gcs_endpoint, "fsspec", gcs_versioned=False))

    @pytest.fixture(scope="class")
    @staticmethod
    def fs(fake_gcs_endpoint: str) -> Iterator[ObjectStoreFileSystem]:
        fs = ObjectStoreFileSystem(
            protocol="gcs",
            endpoint=fake_gcs_endpoint,
            anonymous=True,
            service_account_key=str(gcs_emulator.TEST_KEY_FILE),
            skip_instance_cache=True,
        )
        yield fs
        fs.close()


# ---------------------------------------------------------------------------- the suites, per backend


class TestMemoryCopy(abstract.AbstractCopyTests, MemoryFixtures):  # type: ignore[misc]
    pass


class TestMemoryGet(abstract.AbstractGetTests, MemoryFixtures):  # type: ignore[misc]
    pass


class TestMemoryPut(abstract.AbstractPutTests, MemoryFixtures):  # type: ignore[misc]
    pass


class TestMemoryPipe(abstract.AbstractPipeTests, MemoryFixtures):  # type: ignore[misc]
    pass


class TestMemoryOpen(abstract.AbstractOpenTests, MemoryFixtures):  # type: ignore[misc]
    pass


class TestGivenStoreCopy(abstract.AbstractCopyTests, GivenStoreFixtures):  # type: ignore[misc]
    pass


class TestGivenStoreGet(abstract.AbstractGetTests, GivenStoreFixtures):  # type: ignore[misc]
    pass


class TestGivenStorePut(abstract.AbstractPutTests, GivenStoreFixtures):  # type: ignore[misc]
    pass


class TestGivenStorePipe(abstract.AbstractPipeTests, GivenStoreFixtures):  # type: ignore[misc]
    pass


class TestGivenStoreOpen(abstract.AbstractOpenTests, GivenStoreFixtures):  # type: ignore[misc]
    pass


class TestLocalCopy(abstract.AbstractCopyTests, LocalFixtures):  # type: ignore[misc]
    pass


class TestLocalGet(abstract.AbstractGetTests, LocalFixtures):  # type: ignore[misc]
    pass


class TestLocalPut(abstract.AbstractPutTests, LocalFixtures):  # type: ignore[misc]
    pass


class TestLocalPipe(abstract.AbstractPipeTests, LocalFixtures):  # type: ignore[misc]
    pass


class TestLocalOpen(abstract.AbstractOpenTests, LocalFixtures):  # type: ignore[misc]
    pass


class TestS3Copy(abstract.AbstractCopyTests, S3Fixtures):  # type: ignore[misc]
    pass


class TestS3Get(abstract.AbstractGetTests, S3Fixtures):  # type: ignore[misc]
    pass


class TestS3Put(abstract.AbstractPutTests, S3Fixtures):  # type: ignore[misc]
    pass


class TestS3Pipe(abstract.AbstractPipeTests, S3Fixtures):  # type: ignore[misc]
    pass


class TestS3Open(abstract.AbstractOpenTests, S3Fixtures):  # type: ignore[misc]
    pass


class TestAzureCopy(abstract.AbstractCopyTests, AzureFixtures):  # type: ignore[misc]
    pass


class TestAzureGet(abstract.AbstractGetTests, AzureFixtures):  # type: ignore[misc]
    pass


class TestAzurePut(abstract.AbstractPutTests, AzureFixtures):  # type: ignore[misc]
    pass


class TestAzurePipe(abstract.AbstractPipeTests, AzureFixtures):  # type: ignore[misc]
    pass


class TestAzureOpen(abstract.AbstractOpenTests, AzureFixtures):  # type: ignore[misc]
    pass


class TestGCSCopy(abstract.AbstractCopyTests, GCSFixtures):  # type: ignore[misc]
    pass


class TestGCSGet(abstract.AbstractGetTests, GCSFixtures):  # type: ignore[misc]
    pass


class TestGCSPut(abstract.AbstractPutTests, GCSFixtures):  # type: ignore[misc]
    pass


class TestGCSPipe(abstract.AbstractPipeTests, GCSFixtures):  # type: ignore[misc]
    pass


class TestGCSOpen(abstract.AbstractOpenTests, GCSFixtures):  # type: ignore[misc]
    pass
