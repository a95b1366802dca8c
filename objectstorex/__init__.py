"""objectstorex: one asyncio-native API over S3, Azure Blob, GCS, the local filesystem and memory.

Example::

    import objectstorex as osx

    async with osx.new("memory") as store:
        await store.put("hello.txt", b"Hello, World!")
        assert await store.get("hello.txt") == b"Hello, World!"
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import patterns
from ._config import RetryConfig, Timeouts
from ._factory import from_url, new
from ._store import BaseStore, Store
from ._stream import ObjectStream
from ._types import Attributes, Capabilities, GetResult, ListResult, ObjectMeta, ProgressEvent, PutResult
from ._version import __version__ as __version__
from .backends.local import LocalStore
from .backends.memory import MemoryStore
from .errors import (
    AlreadyExistsError,
    BulkDeleteError,
    IntegrityError,
    InvalidArgumentError,
    InvalidConfigError,
    InvalidPathError,
    InvalidRangeError,
    NotFoundError,
    NotModifiedError,
    NotSupportedError,
    ObjectStoreError,
    PermissionDeniedError,
    PreconditionError,
    TransportError,
    UnauthenticatedError,
)
from .preconditions import PutMode, UpdateVersion
from .transfer import CopyTreeResult, copy_tree, download_file, upload_file

__all__ = [
    "AlreadyExistsError",
    "Attributes",
    "AzureStore",
    "BaseStore",
    "BulkDeleteError",
    "Capabilities",
    "CopyTreeResult",
    "GCSStore",
    "GetResult",
    "IntegrityError",
    "InvalidArgumentError",
    "InvalidConfigError",
    "InvalidPathError",
    "InvalidRangeError",
    "ListResult",
    "LocalStore",
    "MemoryStore",
    "NotFoundError",
    "NotModifiedError",
    "NotSupportedError",
    "ObjectMeta",
    "ObjectStoreError",
    "ObjectStream",
    "PermissionDeniedError",
    "PreconditionError",
    "ProgressEvent",
    "PutMode",
    "PutResult",
    "RetryConfig",
    "S3Store",
    "Store",
    "Timeouts",
    "TransportError",
    "UnauthenticatedError",
    "UpdateVersion",
    "copy_tree",
    "download_file",
    "from_url",
    "new",
    "patterns",
    "upload_file",
]

# Cloud stores import their SDK on first access, so `import objectstorex` needs none.
if TYPE_CHECKING:
    from .backends.azure import AzureStore
    from .backends.gcs import GCSStore
    from .backends.s3 import S3Store

_LAZY = {"S3Store": "s3", "AzureStore": "azure", "GCSStore": "gcs"}


def __getattr__(name: str) -> Any:
    provider = _LAZY.get(name)
    if provider is None:
        raise AttributeError(f"module 'objectstorex' has no attribute {name!r}")
    from ._factory import store_class

    try:
        return store_class(provider)
    except InvalidConfigError as e:
        raise AttributeError(f"objectstorex.{name} is not available: {e}") from e
