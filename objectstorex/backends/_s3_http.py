"""The S3 read path (GetObject, HeadObject) over one aiohttp session with the minimal signer.

botocore's per-call machinery (parameter validation, event hooks, signing with AWSRequest) costs
milliseconds of client CPU per request; reads are the hot path, so they go straight over aiohttp
and answer in the same dict shape botocore does, letting ``S3Store`` treat both alike. Writes,
listings and control calls stay on aiobotocore.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import aiohttp
from yarl import URL

from ..preconditions import http_date
from ._sigv4 import EMPTY_SHA256, encode_key, encode_query, sign_headers

__all__ = ["S3HttpError", "S3ReadClient"]

Credentials = Callable[[], Awaitable[tuple[str, str, str | None] | None]]

_HEADER_FIELDS = {
    "Content-Type": "ContentType",
    "Content-Disposition": "ContentDisposition",
    "Content-Encoding": "ContentEncoding",
    "Content-Language": "ContentLanguage",
    "Cache-Control": "CacheControl",
    "Content-Range": "ContentRange",
    "ETag": "ETag",
    "x-amz-version-id": "VersionId",
}


class S3HttpError(Exception):
    """An S3 error answer: HTTP status and the ``<Code>`` of its XML body (if any)."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(f"HTTP {status} {code}")
        self.status = status
        self.code = code


class _Body:
    """The part of botocore's StreamingBody that S3Store uses, over an aiohttp response."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def read(self, amount: int | None = None) -> bytes:
        data: bytes = await self._response.content.read(-1 if amount is None else amount)
        return data

    def close(self) -> None:
        self._response.release()

    async def __aenter__(self) -> _Body:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class S3ReadClient:
    """GetObject and HeadObject with botocore's parameter names and response shape."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        endpoint: str | None,
        bucket: str,
        region: str,
        credentials: Credentials,
    ) -> None:
        self._session = session
        self._bucket = bucket
        self._region = region
        self._credentials = credentials
        if endpoint:
            parts = urlsplit(endpoint)
            host = parts.netloc
            default = {"http": ":80", "https": ":443"}.get(parts.scheme, "")
            self._host = host[: -len(default)] if default and host.endswith(default) else host
            self._base = f"{parts.scheme}://{host}"
            self._path_prefix = f"/{encode_key(bucket)}/"  # path-style on custom endpoints
        else:
            self._host = f"{bucket}.s3.{region}.amazonaws.com"
            self._base = f"https://{self._host}"
            self._path_prefix = "/"

    async def _send(self, method: str, key: str, params: dict[str, Any]) -> aiohttp.ClientResponse:
        headers: dict[str, str] = {}
        query: dict[str, str] = {}
        for name, value in params.items():
            if name == "IfMatch":
                headers["If-Match"] = value
            elif name == "IfNoneMatch":
                headers["If-None-Match"] = value
            elif name == "IfModifiedSince":
                headers["If-Modified-Since"] = http_date(value)
            elif name == "IfUnmodifiedSince":
                headers["If-Unmodified-Since"] = http_date(value)
            elif name == "Range":
                headers["Range"] = value
            elif name == "VersionId":
                query["versionId"] = value
            else:  # pragma: no cover - a programming error, not user input
                raise TypeError(f"unsupported parameter {name}")
        path = self._path_prefix + encode_key(key)
        qs = encode_query(query)
        creds = await self._credentials()
        if creds is not None:
            access_key, secret_key, token = creds
            headers = sign_headers(
                method=method,
                host=self._host,
                path=path,
                query=qs,
                headers=headers,
                payload_sha256=EMPTY_SHA256,
                access_key=access_key,
                secret_key=secret_key,
                session_token=token,
                region=self._region,
            )
        url = URL(f"{self._base}{path}" + (f"?{qs}" if qs else ""), encoded=True)
        response = await self._session.request(method, url, headers=headers)
        if response.status >= 300:
            code = ""
            try:
                if method != "HEAD":
                    body = await response.read()
                    if body:
                        node = ElementTree.fromstring(body).find("Code")
                        code = node.text or "" if node is not None else ""
            except (ElementTree.ParseError, aiohttp.ClientError):
                code = ""
            finally:
                response.release()
            raise S3HttpError(response.status, code)
        return response

    @staticmethod
    def _shape(response: aiohttp.ClientResponse) -> dict[str, Any]:
        h = response.headers
        out: dict[str, Any] = {"ContentLength": int(h.get("Content-Length", "0"))}
        for header, field in _HEADER_FIELDS.items():
            value = h.get(header)
            if value is not None:
                out[field] = value
        modified = h.get("Last-Modified")
        if modified:
            parsed: datetime = parsedate_to_datetime(modified)
            out["LastModified"] = parsed
        metadata = {k[11:].lower(): v for k, v in h.items() if k.lower().startswith("x-amz-meta-")}
        out["Metadata"] = metadata
        return out

    async def get_object(self, *, Bucket: str, Key: str, **params: Any) -> dict[str, Any]:
        """GetObject: the response dict with a streaming ``Body``."""
        response = await self._send("GET", Key, params)
        out = self._shape(response)
        out["Body"] = _Body(response)
        return out

    async def head_object(self, *, Bucket: str, Key: str, **params: Any) -> dict[str, Any]:
        """HeadObject: the response dict."""
        response = await self._send("HEAD", Key, params)
        response.release()
        return self._shape(response)
