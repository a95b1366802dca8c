"""The S3 provider: :class:`S3Store` (options), its dialect over the shared HTTP core, and its auth.

Modules: :mod:`.store` (options, capabilities, lifecycle, presigning), :mod:`.dialect` (what S3
does differently: addressing, codes, headers, conditions, multipart, copies), :mod:`.auth`
(credentials and SigV4) and :mod:`.documents` (S3's XML).
"""

from __future__ import annotations

from .store import S3Store

__all__ = ["S3Store"]
