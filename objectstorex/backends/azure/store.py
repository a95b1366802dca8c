"""AzureStore: the options, capabilities and credentials of an Azure Blob container store.

Requests are the HTTP core's (:class:`~objectstorex.backends._http.HttpStore`) over the Azure
dialect (:mod:`.dialect`), authorized by :mod:`.auth`. azure-storage-blob is used only by
``sign()`` to compute SAS query strings (a pure function, no I/O); azure-identity only for
``DefaultAzureCredential`` when no key, SAS or credential is given.
"""

from __future__ import annotations

import base64
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from ..._config import RetryConfig, Timeouts
from ..._types import Capabilities, ChecksumName
from ...errors import InvalidArgumentError, InvalidConfigError
from ...observe import Observer
from .auth import AzureAuth, AzureSettings, resolve_settings
from .dialect import AzureDialect

__all__ = ["AzureStore"]

_SIGN_PERMISSIONS = {"GET": "r", "HEAD": "r", "PUT": "cw", "DELETE": "d"}


class AzureStore(AzureDialect):
    """A store on an Azure Blob Storage container (optionally under a name prefix).

    Args:
        account: the storage account (default: ``AZURE_STORAGE_ACCOUNT`` or the connection string).
        container: the container.
        access_key: the account key (default: ``AZURE_STORAGE_KEY``).
        sas_token: a SAS token (default: ``AZURE_STORAGE_SAS_TOKEN``).
        credential: an azure-identity async token credential. With no key, SAS or credential,
            ``azure.identity.aio.DefaultAzureCredential`` is used.
        connection_string: a storage connection string (default:
            ``AZURE_STORAGE_CONNECTION_STRING``); explicit options win over it.
        endpoint: the blob service URL (default ``https://<account>.blob.core.windows.net``;
            Azurite: ``http://127.0.0.1:10000/devstoreaccount1``).
        prefix: a name prefix every location is relative to.
        retry: retry policy for transient failures.
        timeouts: connect / read-stall / total timeouts.
        default_headers: extra headers sent with every request (never overriding signed ones).
        checksum: end-to-end integrity: ``"auto"`` (default), ``"crc32"``, ``"crc32c"``, ``"md5"``,
            ``"sha256"`` or ``"off"`` (see ``docs/integrity.md``).
        observer: receives an event per operation and per HTTP attempt (e.g.
            ``objectstorex.otel.OTelObserver()``); nothing is paid when unset.

    Example::

        async with osx.AzureStore(account="acct", container="data", access_key=key) as store:
            await store.put("a.txt", b"hi")
    """

    def __init__(
        self,
        *,
        account: str | None = None,
        container: str,
        access_key: str | None = None,
        sas_token: str | None = None,
        credential: Any = None,
        connection_string: str | None = None,
        endpoint: str | None = None,
        prefix: str | None = None,
        retry: RetryConfig | None = None,
        timeouts: Timeouts | None = None,
        default_headers: dict[str, str] | None = None,
        checksum: ChecksumName = "auto",
        observer: Observer | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(container, str) or not container:
            raise InvalidConfigError("option 'container' must be a non-empty str", provider="azure")
        self._init_http(
            prefix=prefix,
            retry=retry,
            timeouts=timeouts,
            default_headers=default_headers,
            checksum=checksum,
            observer=observer,
        )
        self._settings: AzureSettings = resolve_settings(
            account=account,
            access_key=access_key,
            sas_token=sas_token,
            credential=credential,
            endpoint=endpoint,
            connection_string=connection_string,
        )
        self._container = container
        split = urlsplit(f"{self._settings.endpoint}/{quote(container, safe='')}")
        self._origin = f"{split.scheme}://{split.netloc}"
        self._base_path = split.path  # the encoded path Shared Key signs
        self._capabilities = Capabilities(
            put_create=True,
            put_update_etag=True,
            put_update_version=False,
            copy_if_not_exists=True,
            delete_if_match=True,
            tags=True,
            versions=False,  # no version reads implemented (and Azurite has no versioning)
            sign=self._settings.kind != "sas",  # a SAS cannot mint new SAS URLs
            conditional_get=True,
        )
        self._auth: AzureAuth | None = None
        self._owned_credential: Any = None
        self._delegation: tuple[Any, datetime] | None = None

    @property
    def capabilities(self) -> Capabilities:
        """Create/CAS by ETag, atomic copy-if-not-exists, conditional delete, tags, SAS signing."""
        return self._capabilities

    def _repr_fields(self) -> dict[str, object]:
        fields: dict[str, object] = {"account": self._settings.account, "container": self._container}
        if self._prefix:
            fields["prefix"] = self._prefix
        fields["endpoint"] = self._settings.endpoint
        fields["auth"] = self._settings.kind
        return fields

    # ------------------------------------------------------------------------------ credentials

    async def _open_provider(self) -> None:
        credential = self._settings.credential
        if self._settings.kind == "credential" and credential is None:
            try:
                from azure.identity.aio import DefaultAzureCredential
            except ImportError as e:  # pragma: no cover - depends on the install
                raise InvalidConfigError(
                    "no access_key, sas_token or credential given, and azure-identity is not installed",
                    provider="azure",
                ) from e
            credential = self._owned_credential = DefaultAzureCredential()
        self._auth = AzureAuth(self._settings, credential)

    async def _close_provider(self) -> None:
        self._auth = None
        credential, self._owned_credential = self._owned_credential, None
        if credential is not None:
            with contextlib.suppress(Exception):
                await credential.close()

    # ------------------------------------------------------------------------------ SAS URLs

    async def _sign(self, method: str, path: str, expires_in: timedelta) -> str:
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        now = datetime.now(UTC)
        expiry = now + expires_in
        signing: dict[str, Any]
        if self._settings.kind == "key":
            assert self._settings.key is not None
            signing = {"account_key": base64.b64encode(self._settings.key).decode()}
        else:
            signing = {"user_delegation_key": await self._delegation_key(now, expiry, path)}
        key = self._key(path)
        sas = generate_blob_sas(
            self._settings.account,
            self._container,
            key,
            permission=BlobSasPermissions.from_string(_SIGN_PERMISSIONS[method]),
            expiry=expiry,
            start=now - timedelta(minutes=5),  # tolerate clock skew
            **signing,
        )
        return f"{self._url(key).split('?', 1)[0]}?{sas}"

    async def _delegation_key(self, now: datetime, expiry: datetime, path: str) -> Any:
        """A user-delegation key covering ``expiry`` (cached; the service allows up to 7 days)."""
        cached = self._delegation
        if cached is not None and cached[1] >= expiry:
            return cached[0]
        if expiry - now > timedelta(days=7):
            raise InvalidArgumentError("a user-delegation SAS lasts at most 7 days", path=path, provider="azure")
        until = min(now + timedelta(days=7), max(expiry, now + timedelta(hours=1)))
        key = await self._user_delegation_key(now - timedelta(minutes=5), until, path)
        self._delegation = (key, until)
        return key
