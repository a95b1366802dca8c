"""GCS settings (endpoint, credentials), OAuth2 access tokens and V4 signed URLs.

Kept apart from the adapter so that what is secret -- the key, tokens -- lives in one small
module whose reprs and errors never show it. Credentials come from google-auth's public API
(the library Google's own clients use): a service-account or authorized-user key, or
application default credentials (``GOOGLE_APPLICATION_CREDENTIALS``, gcloud, the metadata
server).
"""

from __future__ import annotations

import asyncio
import binascii
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from ...errors import InvalidArgumentError, InvalidConfigError, ObjectStoreError, UnauthenticatedError

__all__ = ["GCS_ENDPOINT", "AccessTokens", "GCSSettings", "resolve_settings", "signed_url"]

GCS_ENDPOINT = "https://storage.googleapis.com"
_MAX_SIGNED_EXPIRY = timedelta(days=7)  # the V4 limit
_SCOPE = "https://www.googleapis.com/auth/devstorage.full_control"  # the scope Google's clients ask for
_REFRESH_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class GCSSettings:
    """Where the store talks to and how it authenticates (``key`` never appears in a repr).

    Attributes:
        endpoint: base URL of the JSON API, without a trailing ``/``.
        anonymous: send no credentials (emulators, public buckets).
        key: the service-account key (parsed JSON), used for tokens and for signing.
        key_source: how the key was given (``"option"``, ``"GOOGLE_APPLICATION_CREDENTIALS"``).
        project: project id (from the option or the key).
    """

    endpoint: str
    anonymous: bool
    key: dict[str, Any] | None = field(default=None, repr=False)
    key_source: str | None = None
    project: str | None = None

    @property
    def can_sign(self) -> bool:
        """A service-account key (client email and private key) is at hand."""
        return bool(self.key and self.key.get("client_email") and self.key.get("private_key"))

    @property
    def auth(self) -> str:
        """How requests are authorized, for reprs: ``anonymous``, ``service_account`` or ``default``."""
        if self.anonymous:
            return "anonymous"
        return "service_account" if self.key is not None else "default"


def _json_or_none(text: str) -> Any:
    """Parsed JSON, or ``None`` when it is not JSON.

    The caller raises outside this frame, so its error carries no ``JSONDecodeError`` (whose
    ``.doc`` would be the whole key) as cause or context.
    """
    try:
        return json.loads(text)
    except ValueError:
        return None


def _load_key(value: object, source: str) -> dict[str, Any]:
    """Parse a service-account key given as a dict, JSON text or a file path.

    Error messages name the form that failed, never the content (it holds a private key).
    """
    if isinstance(value, Mapping):
        key = dict(value)
    elif isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if isinstance(text, str) and text.lstrip().startswith("{"):
            key = _json_or_none(text)
            if key is None:
                raise InvalidConfigError(f"{source}: the key is not valid JSON", provider="gcs")
        else:
            path = Path(text).expanduser()
            try:
                raw = path.read_text(encoding="utf-8")
            except OSError as e:
                raise InvalidConfigError(
                    f"{source}: cannot read the key file {str(path)!r} ({type(e).__name__})", provider="gcs"
                ) from e
            key = _json_or_none(raw)
            if key is None:
                raise InvalidConfigError(f"{source}: the key file {str(path)!r} is not valid JSON", provider="gcs")
    else:
        raise InvalidConfigError(
            f"{source} must be a dict, JSON text or a file path, not {type(value).__name__}", provider="gcs"
        )
    if not isinstance(key, dict):
        raise InvalidConfigError(f"{source}: the key must be a JSON object", provider="gcs")
    kind = key.get("type")
    if kind == "service_account":
        missing = [k for k in ("client_email", "private_key") if not isinstance(key.get(k), str) or not key.get(k)]
        if missing:
            raise InvalidConfigError(f"{source}: the service-account key lacks {', '.join(missing)}", provider="gcs")
    elif kind != "authorized_user":
        raise InvalidConfigError(
            f"{source}: expected a 'service_account' (or 'authorized_user') key, got type {kind!r}", provider="gcs"
        )
    return key


def resolve_settings(
    *,
    service_account_key: object,
    endpoint: str | None,
    anonymous: bool,
    project: str | None,
) -> GCSSettings:
    """Resolve options and environment the way Google's SDKs do.

    ``STORAGE_EMULATOR_HOST`` sets the endpoint and implies ``anonymous`` (as in Google's
    client libraries) unless an endpoint is given; ``GOOGLE_APPLICATION_CREDENTIALS`` is the
    key when none is given.

    Raises:
        InvalidConfigError: a bad option, an unreadable or malformed key.
    """
    if not isinstance(anonymous, bool):
        raise InvalidConfigError("option 'anonymous' must be a bool", provider="gcs")
    if project is not None and (not isinstance(project, str) or not project):
        raise InvalidConfigError("option 'project' must be a non-empty str", provider="gcs")
    if endpoint is None:
        emulator = os.environ.get("STORAGE_EMULATOR_HOST", "").strip()
        if emulator and emulator != "default":
            endpoint = emulator if "://" in emulator else f"http://{emulator}"
            anonymous = True
    if endpoint is None:
        endpoint = GCS_ENDPOINT
    if not isinstance(endpoint, str):
        raise InvalidConfigError("option 'endpoint' must be a str URL", provider="gcs")
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidConfigError(f"option 'endpoint' must be an http(s) URL, got {endpoint!r}", provider="gcs")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise InvalidConfigError("option 'endpoint' must not carry credentials, a query or a fragment", provider="gcs")
    key: dict[str, Any] | None = None
    source: str | None = None
    if service_account_key is not None:
        key, source = _load_key(service_account_key, "option 'service_account_key'"), "option"
    elif os.environ.get("GOOGLE_APPLICATION_CREDENTIALS") and not anonymous:
        key = _load_key(os.environ["GOOGLE_APPLICATION_CREDENTIALS"], "GOOGLE_APPLICATION_CREDENTIALS")
        source = "GOOGLE_APPLICATION_CREDENTIALS"
    if project is None and key is not None and isinstance(key.get("project_id"), str):
        project = key["project_id"]
    return GCSSettings(endpoint.rstrip("/"), anonymous, key, source, project)


class AccessTokens:
    """``Authorization`` headers for a store's requests, from google-auth credentials.

    The credentials are built on first use and refreshed five minutes before they expire; both
    may block (a token endpoint, the metadata server), so they run in a thread, one at a time.
    Errors name the kind of failure, never the key or a token.

    Args:
        settings: the store's settings (``key`` or application default credentials).
        timeout: (connect, read) seconds for a token request, as ``requests`` takes them
            (the store's ``Timeouts``; ``None`` is no limit).
    """

    def __init__(self, settings: GCSSettings, timeout: tuple[float | None, float | None] = (10.0, 60.0)) -> None:
        self._settings = settings
        self._timeout = timeout
        self._credentials: Any = None  # google.auth.credentials.Credentials
        self._http: Any = None  # requests.Session the refreshes share
        self._header: dict[str, str] | None = None
        self._expiry: datetime | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    async def headers(self) -> dict[str, str]:
        """A fresh ``{"Authorization": "Bearer ..."}`` (the same dict while the token lasts).

        Raises:
            UnauthenticatedError: no credentials, or the token endpoint refused them.
        """
        header = self._header
        if header is not None and (self._expiry is None or self._expiry - datetime.now(UTC) > _REFRESH_MARGIN):
            return header
        async with self._lock:
            if self._closed:
                raise ObjectStoreError("the gcs store is closed", provider="gcs")
            try:
                token, expiry = await asyncio.to_thread(self._refresh)
            except UnauthenticatedError:
                raise
            except Exception as e:
                raise UnauthenticatedError(
                    f"cannot obtain a Google access token ({type(e).__name__}); pass service_account_key, "
                    "set GOOGLE_APPLICATION_CREDENTIALS, or use anonymous=True",
                    provider="gcs",
                ) from e
            self._header, self._expiry = {"Authorization": f"Bearer {token}"}, expiry
            return self._header

    def _refresh(self) -> tuple[str, datetime | None]:
        """Build the credentials if needed and refresh them (blocking: runs in a thread)."""
        import google.auth
        import requests
        from google.auth.transport.requests import Request

        if self._credentials is None:
            key = self._settings.key
            if key is None:
                self._credentials, _ = google.auth.default(scopes=[_SCOPE])
            elif key.get("type") == "service_account":
                from google.oauth2 import service_account

                self._credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                    key, scopes=[_SCOPE]
                )
            else:  # authorized_user: a user's refresh token carries its own scopes
                from google.oauth2 import credentials

                self._credentials = credentials.Credentials.from_authorized_user_info(key)  # type: ignore[no-untyped-call]
        if self._http is None:
            self._http = requests.Session()
        request = Request(self._http)
        timeout = self._timeout

        def send(url: str, method: str = "GET", body: Any = None, headers: Any = None, **kwargs: Any) -> Any:
            kwargs.setdefault("timeout", timeout)
            return request(url, method=method, body=body, headers=headers, **kwargs)

        self._credentials.refresh(send)
        token = self._credentials.token
        if not token:
            raise UnauthenticatedError("no Google access token available", provider="gcs")
        expiry = self._credentials.expiry
        if expiry is not None and expiry.tzinfo is None:
            expiry = expiry.replace(tzinfo=UTC)  # google-auth keeps naive UTC
        return str(token), expiry

    async def close(self) -> None:
        """Forget the token and close the token requests' connections."""
        async with self._lock:
            self._closed = True
            self._header = self._credentials = None
            http, self._http = self._http, None
        if http is not None:
            http.close()


def _encode(value: str) -> str:
    """RFC 3986 percent-encoding, as V4 signing canonicalizes query values."""
    return quote(value, safe="-_.~")


def signed_url(
    key: Mapping[str, Any],
    *,
    endpoint: str,
    bucket: str,
    name: str,
    method: str,
    expires_in: timedelta,
    now: datetime | None = None,
) -> str:
    """A V4 signed URL (``GOOG4-RSA-SHA256``) for ``method`` on ``bucket/name``.

    Path-style on ``endpoint``; only the ``host`` header is signed and the payload is
    ``UNSIGNED-PAYLOAD``, as Google's client libraries do by default.

    Raises:
        InvalidArgumentError: ``expires_in`` beyond the 7 days V4 allows.
        InvalidConfigError: the private key cannot be loaded.
    """
    if expires_in > _MAX_SIGNED_EXPIRY:
        raise InvalidArgumentError("a V4 signed URL lasts at most 7 days", path=name, provider="gcs")
    when = (now or datetime.now(UTC)).astimezone(UTC)
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    scope = f"{when:%Y%m%d}/auto/storage/goog4_request"
    parts = urlsplit(endpoint)
    host = parts.netloc
    base_path = parts.path.rstrip("/")
    resource = f"{base_path}/{quote(bucket, safe='')}/{quote(name, safe='/~')}"
    query = {
        "X-Goog-Algorithm": "GOOG4-RSA-SHA256",
        "X-Goog-Credential": f"{key['client_email']}/{scope}",
        "X-Goog-Date": stamp,
        "X-Goog-Expires": str(int(expires_in.total_seconds())),
        "X-Goog-SignedHeaders": "host",
    }
    canonical_query = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(query.items()))
    canonical_request = "\n".join((method, resource, canonical_query, f"host:{host}", "", "host", "UNSIGNED-PAYLOAD"))
    to_sign = "\n".join(("GOOG4-RSA-SHA256", stamp, scope, hashlib.sha256(canonical_request.encode()).hexdigest()))
    signer = _signer_or_none(key)
    if signer is None:
        raise InvalidConfigError("the service-account private key cannot be loaded", provider="gcs")
    signature = binascii.hexlify(signer.sign(to_sign.encode())).decode()
    return f"{parts.scheme}://{host}{resource}?{canonical_query}&X-Goog-Signature={signature}"


def _signer_or_none(key: Mapping[str, Any]) -> Any:
    """An RSA signer for the key, or ``None`` (no exception that could hold key material escapes)."""
    from google.auth import crypt

    try:
        return crypt.RSASigner.from_service_account_info(dict(key))  # type: ignore[no-untyped-call]
    except (ValueError, KeyError, TypeError):
        return None
