"""The Azure Blob provider: :class:`AzureStore` (options), its dialect over the shared HTTP core, and its auth.

Modules: :mod:`.store` (options, capabilities, credentials, SAS URLs), :mod:`.dialect` (what Azure
does differently: addressing, signing hook, codes, headers, conditions, blocks, listings, batches,
copies), :mod:`.auth` (settings and Shared Key/SAS/bearer authorization) and :mod:`.documents`
(Azure's XML and multipart formats).
"""

from __future__ import annotations

from .store import AzureStore

__all__ = ["AzureStore"]
