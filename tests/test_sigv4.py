"""The minimal SigV4 signer agrees byte-for-byte with botocore's S3SigV4Auth."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from unittest.mock import patch

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from objectstorex.backends.s3.auth import EMPTY_SHA256, UNSIGNED_PAYLOAD, encode_key, encode_query, sign_headers

NOW = datetime(2026, 11, 24, 12, 34, 56, tzinfo=UTC)

CASES = [
    ("GET", "bucket", "plain/key.txt", {}, {}, b""),
    ("GET", "bucket", "with space/and+plus/100%/é/😀", {}, {"Range": "bytes=0-99"}, b""),
    ("HEAD", "bucket", "tilde~star*quote'paren()", {}, {"If-None-Match": '"abc"'}, b""),
    ("PUT", "bucket", "a/b", {}, {"Content-Type": "text/plain", "X-Amz-Meta-Owner": "  ana   b  "}, b"hello world"),
    ("PUT", "bucket", "a/b", {"partNumber": "3", "uploadId": "up/load+id=="}, {}, b"x" * 1000),
    ("GET", "bucket", "", {"list-type": "2", "prefix": "dir/sub dir/", "continuation-token": "tok+/=="}, {}, b""),
    ("POST", "bucket", "", {"delete": ""}, {"Content-MD5": "abc=="}, b"<Delete/>"),
    ("DELETE", "bucket", "k", {}, {"If-Match": '"etag"'}, b""),
    ("PUT", "bucket", "streamed", {}, {}, None),  # unsigned payload
    ("POST", "bucket", "big file.bin", {"uploads": ""}, {"x-amz-tagging": "a=1&b=c%20d"}, b""),
    ("POST", "bucket", "big file.bin", {"uploadId": "abc~def"}, {"If-None-Match": "*"}, b"<Complete/>"),
    (
        "PUT",
        "bucket",
        "dst",
        {"partNumber": "10", "uploadId": "u"},
        {"x-amz-copy-source": "/bucket/src%20key", "x-amz-copy-source-range": "bytes=0-5242879"},
        b"",
    ),
    ("GET", "bucket", "", {"list-type": "2", "encoding-type": "url", "start-after": "a/é", "delimiter": "/"}, {}, b""),
    ("GET", "bucket", "k", {"versionId": "3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo"}, {}, b""),
    ("GET", "bucket", "k", {"tagging": ""}, {}, b""),
    ("PUT", "bucket", "m", {}, {"x-amz-meta-name": "=?UTF-8?B?w6k=?=", "Cache-Control": "no-cache"}, b"\x00\xff"),
]


@pytest.mark.parametrize(("method", "bucket", "key", "query", "headers", "body"), CASES)
@pytest.mark.parametrize("token", [None, "session/token+=="])
def test_signature_matches_botocore(
    method: str,
    bucket: str,
    key: str,
    query: dict[str, str],
    headers: dict[str, str],
    body: bytes | None,
    token: str | None,
) -> None:
    host = "127.0.0.1:9000"
    path = f"/{bucket}/{encode_key(key)}" if key else f"/{bucket}"
    qs = encode_query(query)
    # botocore signs every payload over http; an unsigned payload is an https-only choice.
    scheme = "https" if body is None else "http"
    url = f"{scheme}://{host}{path}" + (f"?{qs}" if qs else "")
    payload = UNSIGNED_PAYLOAD if body is None else (hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256)

    ours = sign_headers(
        method=method,
        host=host,
        path=path,
        query=qs,
        headers=headers,
        payload_sha256=payload,
        access_key="AKIDEXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        session_token=token,
        region="us-east-1",
        now=NOW,
    )

    request = AWSRequest(method=method, url=url, data=body or b"", headers=dict(headers))
    request.headers["X-Amz-Content-SHA256"] = payload
    if body is None:
        request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    # Pin botocore's clock (its signing time comes from botocore.compat.get_current_datetime).
    with patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        S3SigV4Auth(creds, "s3", "us-east-1").add_auth(request)

    assert ours["X-Amz-Date"] == request.headers["X-Amz-Date"]
    assert ours["Authorization"] == request.headers["Authorization"]


def test_signing_key_is_cached() -> None:
    from objectstorex.backends.s3 import auth as _sigv4

    _sigv4._signing_key.cache_clear()
    for _ in range(3):
        sign_headers(
            method="GET",
            host="h",
            path="/b/k",
            query="",
            headers={},
            payload_sha256=EMPTY_SHA256,
            access_key="a",
            secret_key="s",
            session_token=None,
            region="r",
            now=NOW,
        )
    info = _sigv4._signing_key.cache_info()
    assert (info.misses, info.hits) == (1, 2)
