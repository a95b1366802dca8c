"""Google Cloud Storage on the shared HTTP core: the store (options), its dialect and its credentials."""

from __future__ import annotations

from .store import GCSStore

__all__ = ["GCSStore"]
