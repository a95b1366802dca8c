"""S3 authentication: where the keys come from, and a minimal SigV4 signer with the key cached.

Credentials: explicit keys, else aiobotocore's chain (environment, shared config/credentials
files, container/instance metadata, assume-role -- never resolved by hand here), which also
gives the region of the config files and presigns URLs (``sign``).

Signing: botocore's ``S3SigV4Auth`` with ``AWSRequest.prepare`` costs ~130 us per request; this
signer derives the signing key once per (secret, day, region, service) and otherwise only hashes
the canonical request. ``tests/test_sigv4.py`` checks it byte-for-byte against botocore, and
``tests/test_s3.py`` against a server that verifies signatures.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from collections.abc import Mapping
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from ...errors import InvalidConfigError, UnauthenticatedError

__all__ = [
    "EMPTY_SHA256",
    "UNSIGNED_PAYLOAD",
    "FrozenCredentials",
    "S3Credentials",
    "encode_key",
    "encode_query",
    "sign_headers",
]

#: ``(access_key, secret_key, session_token)``; ``None`` instead means unsigned (anonymous) requests.
FrozenCredentials = tuple[str, str, str | None]

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_ALGORITHM = "AWS4-HMAC-SHA256"
# Headers botocore never signs (they may be changed by proxies or the HTTP client).
_UNSIGNED = frozenset({"expect", "transfer-encoding", "user-agent", "x-amzn-trace-id", "authorization"})


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.~/-]*").fullmatch  # what quote() leaves as it is


def encode_key(key: str) -> str:
    """URI-encode an object key for the path, once (S3 does not double-encode), keeping ``/``."""
    if _PLAIN_KEY(key):
        return key  # the common case, without quote()'s ~1.5 us
    return quote(key, safe="/~")


def encode_query(params: Mapping[str, str]) -> str:
    """The canonical (sorted, fully encoded) query string; also what is sent on the wire."""
    pairs = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in params.items())
    return "&".join(f"{k}={v}" for k, v in pairs)


_clock: list[object] = [None, ""]  # (whole second, its amz-date): strftime costs µs per request


def _amz_date_now() -> str:
    second = int(time.time())
    if _clock[0] != second:
        _clock[0] = second
        _clock[1] = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second))
    return str(_clock[1])


@lru_cache(maxsize=64)
def _signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    key = hmac.new(f"AWS4{secret}".encode(), day.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


@lru_cache(maxsize=64)
def _keyed(key: bytes) -> tuple[Any, Any]:
    """HMAC-SHA256 with ``key`` pre-applied: the inner and outer hashes after their pad block.

    OpenSSL 3 makes every ``hmac.new`` cost ~3.5 us; copying these two states costs a third.
    """
    block = key.ljust(64, b"\0")  # a SigV4 signing key is 32 bytes: never longer than the block
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
    return inner, outer


def sign_headers(
    *,
    method: str,
    host: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    payload_sha256: str,
    access_key: str,
    secret_key: str,
    session_token: str | None,
    region: str,
    service: str = "s3",
    now: datetime | None = None,
) -> dict[str, str]:
    """Return ``headers`` plus the date, payload hash, token and ``Authorization`` headers.

    Args:
        method: HTTP method.
        host: the Host header (no default port).
        path: the already-encoded path (see :func:`encode_key`).
        query: the already-encoded canonical query (see :func:`encode_query`).
        headers: headers to send and sign.
        payload_sha256: hex SHA-256 of the body, or ``UNSIGNED-PAYLOAD``.
        access_key: the access key id.
        secret_key: the secret key.
        session_token: temporary credentials' token.
        region: signing region.
        service: signing service.
        now: signing time (default: now).
    """
    amz_date = _amz_date_now() if now is None else now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    out = dict(headers)
    out["X-Amz-Date"] = amz_date
    out["X-Amz-Content-SHA256"] = payload_sha256
    if session_token:
        out["X-Amz-Security-Token"] = session_token
    canonical: dict[str, str] = {"host": host}
    for name, value in out.items():
        lower = name.lower()
        if lower not in _UNSIGNED and lower != "host":
            # _trimmed, inlined (one call per header adds up): most values need no collapsing.
            if type(value) is not str or not (
                value.isprintable() and "  " not in value and value[:1] != " " and value[-1:] != " "
            ):
                value = _trimmed(value)
            canonical[lower] = value
    items = sorted(canonical.items())
    signed = ";".join([n for n, _ in items])
    lines = "".join([f"{n}:{v}\n" for n, v in items])
    request = f"{method}\n{path}\n{query}\n{lines}\n{signed}\n{payload_sha256}"
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = f"{_ALGORITHM}\n{amz_date}\n{scope}\n{hashlib.sha256(request.encode()).hexdigest()}"
    # The HMAC from the key's two cached pad states (see _keyed).
    inner, outer = _keyed(_signing_key(secret_key, day, region, service))
    h = inner.copy()
    h.update(to_sign.encode())
    o = outer.copy()
    o.update(h.digest())
    out["Authorization"] = (
        f"{_ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={signed}, Signature={o.hexdigest()}"
    )
    return out


def _trimmed(value: object) -> str:
    """A header value as SigV4 canonicalizes it: whitespace runs collapsed, ends trimmed."""
    text = str(value)
    # isprintable() is False for every whitespace character but the plain space.
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    return " ".join(text.split())


def _environment_keys() -> FrozenCredentials | None:
    """``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (and ``AWS_SESSION_TOKEN``), if both are set.

    The keys botocore's chain would pick first when no profile is named (its environment
    provider), read directly: the store then never imports botocore for them, which is most of
    a short-lived process's start-up time.
    """
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        return None
    return (key, secret, os.environ.get("AWS_SESSION_TOKEN") or None)


class S3Credentials:
    """The store's credentials: explicit keys, else the AWS credential chain, refreshed when near expiry.

    The keys are kept private and never shown: nothing here has a ``repr`` that names them.
    """

    def __init__(self, keys: tuple[str | None, str | None, str | None], profile: str | None) -> None:
        """Keep explicit ``(access_key_id, secret_access_key, session_token)`` and the profile."""
        key, secret, token = keys
        self.__static: FrozenCredentials | None = (
            (key, secret, token) if key is not None and secret is not None else None
        )
        self.__keys = keys
        self._profile = profile
        self._session: Any = None  # aiobotocore session
        self._chain: Any = None  # botocore's refreshable credentials
        self._client: Any = None  # aiobotocore client, created on first presign

    def _botocore(self) -> Any:
        if self._session is None:
            try:
                from aiobotocore.session import get_session
            except ImportError as e:  # pragma: no cover - depends on the install
                raise InvalidConfigError("the s3 provider needs: pip install 'objectstorex[s3]'", provider="s3") from e
            session = get_session()
            if self._profile:
                session.set_config_variable("profile", self._profile)
            self._session = session
        return self._session

    async def resolve(self, region: str | None) -> str:
        """Resolve the credential chain (unless keys were given) and the region; return the region.

        Explicit keys and region skip importing botocore (it costs ~25 MiB of RSS and ~100 ms).

        Raises:
            InvalidConfigError: the AWS configuration cannot be read.
        """
        if self.__static is None and not self._profile:
            self.__static = _environment_keys()
        if self.__static is not None and region is not None and not self._profile:
            return region
        session = self._botocore()
        from botocore.exceptions import BotoCoreError

        try:
            if region is None:
                region = session.get_config_variable("region") or "us-east-1"
            if self.__static is None:
                self._chain = await session.get_credentials()  # None: anonymous, as botocore would send
        except BotoCoreError as e:
            raise InvalidConfigError(f"cannot resolve the AWS configuration: {type(e).__name__}", provider="s3") from e
        assert region is not None
        return region

    @property
    def static(self) -> FrozenCredentials | None:
        """The explicit keys, if the store was given them (never refreshed: no await needed)."""
        return self.__static

    async def frozen(self) -> FrozenCredentials | None:
        """The keys to sign with now (``None``: unsigned requests).

        Raises:
            UnauthenticatedError: refreshing temporary credentials failed.
        """
        if self.__static is not None:
            return self.__static
        if self._chain is None:
            return None
        from botocore.exceptions import BotoCoreError

        try:
            c = await self._chain.get_frozen_credentials()  # refreshes when near expiry
        except BotoCoreError as e:
            raise UnauthenticatedError(f"cannot refresh the AWS credentials ({type(e).__name__})", provider="s3") from e
        return (c.access_key, c.secret_key, c.token)

    async def presigner(self, stack: AsyncExitStack, *, region: str, endpoint: str | None, virtual: bool) -> Any:
        """The aiobotocore client that presigns URLs, created on first use in ``stack``."""
        if self._client is None:
            from aiobotocore.config import AioConfig

            key, secret, token = self.__keys
            config = AioConfig(
                signature_version="s3v4",  # botocore presigns with SigV2 on custom endpoints otherwise
                s3={"addressing_style": "virtual" if virtual else "path"},
                retries={"max_attempts": 1, "mode": "standard"},
            )
            self._client = await stack.enter_async_context(
                self._botocore().create_client(
                    "s3",
                    region_name=region,
                    endpoint_url=endpoint,
                    aws_access_key_id=key,
                    aws_secret_access_key=secret,
                    aws_session_token=token,
                    config=config,
                )
            )
        return self._client
