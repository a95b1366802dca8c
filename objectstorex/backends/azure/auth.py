"""Azure Blob credentials: resolving options and environment, and authorizing raw requests.

Every request of the store is plain REST (no SDK client), authorized here the three ways
Azure Storage accepts:

* an account key signs each request with Shared Key (HMAC-SHA256 of the canonical request,
  https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key);
* a SAS token is appended to the query string;
* a token credential (azure-identity) yields a bearer token, cached until shortly before expiry.

Secrets live only in private attributes of :class:`AzureAuth`; nothing here formats them into
a message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate
from functools import lru_cache
from typing import Any

from ...errors import InvalidConfigError, UnauthenticatedError

__all__ = ["AZURITE_ACCOUNT", "AZURITE_KEY", "AzureAuth", "AzureSettings", "resolve_settings"]

#: The well-known development account of the Azurite emulator (public, not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

_STORAGE_SCOPE = "https://storage.azure.com/.default"
# The 11 standard headers of the Shared Key string-to-sign, in order (Range is sent as x-ms-range).
_SIGNED_HEADERS = (
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
)


# The service sorts x-ms-* names for Shared Key with a culture collation, not by code point:
# '-' is ignored and '_' sorts before digits, digits before letters. Weights for the characters
# header names here can hold (x-ms-meta-* names are validated as identifiers before I/O).
_WEIGHTS = {"_": 1, **{c: 2 + i for i, c in enumerate("0123456789abcdefghijklmnopqrstuvwxyz")}}


def _collation_key(item: tuple[str, str]) -> tuple[tuple[int, ...], str]:
    return _weights(item[0]), item[0]  # the raw name breaks ties


@lru_cache(maxsize=512)
def _weights(name: str) -> tuple[int, ...]:
    # Any other character keeps its code point, above the table.
    return tuple(_WEIGHTS.get(c, 100 + ord(c)) for c in name if c != "-")


@dataclass(frozen=True)
class AzureSettings:
    """Resolved connection settings (``repr`` shows no secret)."""

    account: str
    endpoint: str  # base URL of the blob service, without trailing slash
    kind: str  # "key", "sas" or "credential"
    key: bytes | None = None
    sas: str | None = None
    credential: Any = None  # an azure-core AsyncTokenCredential, or None for DefaultAzureCredential

    def __repr__(self) -> str:
        return f"AzureSettings(account={self.account!r}, endpoint={self.endpoint!r}, kind={self.kind!r})"


def _parse_connection_string(text: str) -> dict[str, str]:
    if text.strip() == "UseDevelopmentStorage=true":
        return {
            "AccountName": AZURITE_ACCOUNT,
            "AccountKey": AZURITE_KEY,
            "BlobEndpoint": f"http://127.0.0.1:10000/{AZURITE_ACCOUNT}",
        }
    fields: dict[str, str] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep:
            raise InvalidConfigError("option 'connection_string' is malformed (expected Name=value pairs)")
        fields[name.strip()] = value.strip()
    return fields


def _decode_key(key: str) -> bytes:
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if not raw:
        # Never echo the key: say only what is wrong with it.
        raise InvalidConfigError("option 'access_key' is not a base64 account key", provider="azure")
    return raw


def resolve_settings(
    *,
    account: str | None,
    access_key: str | None,
    sas_token: str | None,
    credential: Any,
    endpoint: str | None,
    connection_string: str | None,
    env: Mapping[str, str] | None = None,
) -> AzureSettings:
    """Combine explicit options, a connection string and ``AZURE_STORAGE_*`` variables.

    Explicit options win over the connection string, which wins over the other variables.
    Without a key, SAS or credential, a ``DefaultAzureCredential`` is used (``kind="credential"``,
    ``credential=None``), created when the store opens.

    Raises:
        InvalidConfigError: a missing account, conflicting credentials, or a malformed value
            (never quoting a secret).
    """
    env = os.environ if env is None else env
    for name, value in (
        ("account", account),
        ("access_key", access_key),
        ("sas_token", sas_token),
        ("endpoint", endpoint),
        ("connection_string", connection_string),
    ):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise InvalidConfigError(f"option {name!r} must be a non-empty str", provider="azure")
    given = [n for n, v in (("access_key", access_key), ("sas_token", sas_token), ("credential", credential)) if v]
    if len(given) > 1:
        raise InvalidConfigError(f"give only one of the options {', '.join(given)}", provider="azure")
    if connection_string is None and not given:
        connection_string = env.get("AZURE_STORAGE_CONNECTION_STRING") or None
    conn = _parse_connection_string(connection_string) if connection_string else {}
    account = (
        account or conn.get("AccountName") or env.get("AZURE_STORAGE_ACCOUNT") or env.get("AZURE_STORAGE_ACCOUNT_NAME")
    )
    if not account:
        raise InvalidConfigError(
            "missing option 'account' (the storage account name; or set AZURE_STORAGE_ACCOUNT)", provider="azure"
        )
    if endpoint is None:
        endpoint = conn.get("BlobEndpoint")
    if endpoint is None:
        protocol = conn.get("DefaultEndpointsProtocol", "https")
        suffix = conn.get("EndpointSuffix", "core.windows.net")
        endpoint = f"{protocol}://{account}.blob.{suffix}"
    if not endpoint.startswith(("http://", "https://")):
        raise InvalidConfigError("option 'endpoint' must be an http(s) URL", provider="azure")
    endpoint = endpoint.rstrip("/")
    if credential is not None:
        return AzureSettings(account, endpoint, "credential", credential=credential)
    if not given:
        access_key = conn.get("AccountKey") or None
        sas_token = conn.get("SharedAccessSignature") or None
        if access_key is None and sas_token is None:
            access_key = env.get("AZURE_STORAGE_KEY") or env.get("AZURE_STORAGE_ACCOUNT_KEY") or None
            sas_token = env.get("AZURE_STORAGE_SAS_TOKEN") or None
    if access_key is not None:
        return AzureSettings(account, endpoint, "key", key=_decode_key(access_key))
    if sas_token is not None:
        return AzureSettings(account, endpoint, "sas", sas=sas_token.lstrip("?"))
    return AzureSettings(account, endpoint, "credential")


class AzureAuth:
    """Authorizes raw requests for one store (Shared Key, SAS or bearer token)."""

    def __init__(self, settings: AzureSettings, credential: Any = None) -> None:
        """Keep the secret privately; ``credential`` is the opened token credential, if any."""
        self.kind = settings.kind
        self._account = settings.account
        self.__key = settings.key
        self.__sas = settings.sas
        self._credential = credential
        self.__token: str | None = None
        self._token_expires = 0.0
        self._date_second = -1
        self._date = ""

    def __repr__(self) -> str:
        return f"AzureAuth(kind={self.kind!r})"

    @property
    def sas_query(self) -> str | None:
        """The SAS query string to append (``None`` unless authorized by SAS)."""
        return self.__sas

    def _now(self) -> str:
        # formatdate costs more than the rest of the signing: one string per second is enough.
        second = int(time.time())
        if second != self._date_second:
            self._date_second, self._date = second, formatdate(second, usegmt=True)
        return self._date

    async def headers(
        self,
        method: str,
        resource_path: str,
        query: Mapping[str, str] | None,
        headers: dict[str, str],
        length: int,
    ) -> None:
        """Add ``x-ms-date`` and ``Authorization`` (if any) to ``headers`` in place.

        Args:
            method: the HTTP method.
            resource_path: the percent-encoded URL path, as sent.
            query: the query parameters (decoded values), SAS excluded.
            headers: the request headers (names lower-case), completed in place.
            length: the body length.
        """
        headers["x-ms-date"] = self._now()
        if self.kind == "key":
            headers["authorization"] = self._shared_key(method, resource_path, query, headers, length)
        elif self.kind == "credential":
            headers["authorization"] = f"Bearer {await self._bearer()}"

    def _shared_key(
        self, method: str, resource_path: str, query: Mapping[str, str] | None, headers: dict[str, str], length: int
    ) -> str:
        get = headers.get
        lines = [method]
        for name in _SIGNED_HEADERS:
            if name == "content-length":
                lines.append(str(length) if length else "")
            else:
                lines.append(get(name, ""))
        ms = sorted(((k.lower(), v) for k, v in headers.items() if k[:5].lower() == "x-ms-"), key=_collation_key)
        canonical = "\n".join(lines) + "\n" + "".join(f"{k}:{v}\n" for k, v in ms)
        canonical += f"/{self._account}{resource_path}"
        if query:
            canonical += "".join(f"\n{k.lower()}:{v}" for k, v in sorted(query.items()))
        key = self.__key
        assert key is not None
        digest = hmac.new(key, canonical.encode("utf-8"), hashlib.sha256).digest()
        return f"SharedKey {self._account}:{base64.b64encode(digest).decode()}"

    async def _bearer(self) -> str:
        token = self.__token
        if token is not None and time.time() < self._token_expires:
            return token
        if self._credential is None:
            raise UnauthenticatedError("no Azure credential is available", provider="azure")
        access = await self._credential.get_token(_STORAGE_SCOPE)
        self.__token = token = str(access.token)
        # Refresh five minutes early, as azure-core's bearer policy does.
        self._token_expires = float(access.expires_on) - 300
        return token
