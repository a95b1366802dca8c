"""Azure Blob Storage: :class:`AzureStore` (options) over the HTTP core's Azure dialect."""

from __future__ import annotations

from .store import AzureStore

__all__ = ["AzureStore"]
