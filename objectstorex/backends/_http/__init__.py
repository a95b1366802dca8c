"""The client layer every HTTP provider (S3, Azure, GCS) shares; a provider is a small dialect over it.

Modules: :mod:`.transport` (the aiohttp session and the seam tests replace), :mod:`.errors` (the
one status table), :mod:`.headers` (strict header parsing), :mod:`.resume` (streaming reads that
continue from the last byte), :mod:`.upload` (bounded part uploads) and :mod:`.store`
(:class:`HttpStore`: every operation over the dialect hooks). See ``docs/architecture.md``.
"""

from __future__ import annotations

from .errors import TRANSPORT_ERRORS, ErrorCodes, error_for
from .store import Answer, HttpStore, ListPage, Upload, gather_or_cancel
from .transport import AiohttpTransport, Request, Response, Transport

__all__ = [
    "TRANSPORT_ERRORS",
    "AiohttpTransport",
    "Answer",
    "ErrorCodes",
    "HttpStore",
    "ListPage",
    "Request",
    "Response",
    "Transport",
    "Upload",
    "error_for",
    "gather_or_cancel",
]
