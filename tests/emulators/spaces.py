"""A fresh bucket/container on a provider's emulator: what each fault-proxy test file starts from."""

from __future__ import annotations

import uuid

from tests.emulators import azure as azure_emulator
from tests.emulators import gcs as gcs_emulator
from tests.emulators import s3 as s3_emulator

#: The session fixture giving each provider's emulator endpoint (see tests/conftest.py).
ENDPOINT_FIXTURES = {"s3": "moto_endpoint", "azure": "azurite_endpoint", "gcs": "fake_gcs_endpoint"}


async def fresh_space(provider: str, endpoint: str, tag: str, *, gcs_versioned: bool = True) -> str:
    """Create a uniquely named bucket (S3, GCS) or container (Azure) and return its name.

    ``gcs_versioned``: whether a GCS bucket keeps object versions (S3 buckets and Azure
    containers are made unversioned).
    """
    name = f"{tag}-{uuid.uuid4().hex[:20]}"
    if provider == "s3":
        await s3_emulator.create_bucket(endpoint, name)
    elif provider == "azure":
        await azure_emulator.create_container(endpoint, name)
    else:
        gcs_emulator.create_bucket(endpoint, name, versioned=gcs_versioned)
    return name
