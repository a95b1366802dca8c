"""Every store class is a ``Store``: checked statically (mypy --strict runs over tests/) and at run time."""

from __future__ import annotations

import pytest

import objectstorex as osx
from objectstorex import Store
from objectstorex.backends.memory import MemoryStore


def _store_classes() -> list[type[Store]]:
    # The annotation is the static check: mypy refuses a class whose instances do not
    # satisfy the Store protocol (a missing method, a different signature).
    classes: list[type[Store]] = [MemoryStore, osx.LocalStore]
    try:
        classes += [osx.S3Store, osx.AzureStore, osx.GCSStore]
    except AttributeError:  # a cloud SDK is not installed (the no-SDK session)
        pass
    return classes


@pytest.mark.parametrize("cls", _store_classes(), ids=lambda c: c.__name__)
def test_every_store_class_satisfies_the_protocol(cls: type[Store]) -> None:
    missing = [name for name in dir(Store) if not name.startswith("_") and not hasattr(cls, name)]
    assert missing == []
    assert issubclass(cls, osx.BaseStore)
