"""A minimal AWS Signature Version 4 signer for S3 requests, with the signing key cached.

botocore's ``S3SigV4Auth`` with ``AWSRequest.prepare`` costs ~130 us per request here; this
signer derives the signing key once per (secret, day, region, service) and otherwise only hashes
the canonical request. ``tests/test_sigv4.py`` checks it byte-for-byte against botocore.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import quote

__all__ = ["EMPTY_SHA256", "UNSIGNED_PAYLOAD", "encode_key", "encode_query", "sign_headers"]

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_ALGORITHM = "AWS4-HMAC-SHA256"
# Headers botocore never signs (they may be changed by proxies or the HTTP client).
_UNSIGNED = frozenset({"expect", "transfer-encoding", "user-agent", "x-amzn-trace-id", "authorization"})


def encode_key(key: str) -> str:
    """URI-encode an object key for the path, once (S3 does not double-encode), keeping ``/``."""
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
            canonical[lower] = " ".join(str(value).split())
    names = sorted(canonical)
    signed = ";".join(names)
    request = "\n".join(
        (
            method,
            path,
            query,
            "".join(f"{n}:{canonical[n]}\n" for n in names),
            signed,
            payload_sha256,
        )
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = f"{_ALGORITHM}\n{amz_date}\n{scope}\n{hashlib.sha256(request.encode()).hexdigest()}"
    signature = hmac.new(_signing_key(secret_key, day, region, service), to_sign.encode(), hashlib.sha256).hexdigest()
    out["Authorization"] = (
        f"{_ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"
    )
    return out
