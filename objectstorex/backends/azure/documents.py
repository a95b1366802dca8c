"""Azure's wire formats: List Blobs pages, Blob Batch bodies and answers, user-delegation keys.

Pure functions over bytes (no I/O), so each format is parsed and built in one place and tested
without a server. A malformed answer is an :class:`~objectstorex.ObjectStoreError`, never a
``KeyError``/``ValueError``/``ParseError`` escaping.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any
from urllib.parse import unquote
from xml.sax.saxutils import escape

from ...errors import ObjectStoreError
from ...preconditions import quote_etag
from .._http.headers import http_date

__all__ = [
    "batch_body",
    "batch_statuses",
    "block_list",
    "committed_blocks",
    "delegation_key",
    "parse_list_page",
    "parse_tags",
]


def _xml_name(element: ET.Element | None) -> str | None:
    """A blob or prefix name from a listing (``Encoded="true"``: percent-encoded UTF-8)."""
    if element is None or element.text is None:
        return None
    if element.get("Encoded") != "true":
        return element.text
    try:
        return unquote(element.text, errors="strict")
    except UnicodeDecodeError:
        return None


def parse_list_page(body: bytes) -> tuple[list[tuple[str, int, datetime, str | None]], list[str], str | None]:
    """A List Blobs answer: ``(name, size, last_modified, etag)`` per blob, prefixes, NextMarker.

    Raises:
        ObjectStoreError: the answer is not a listing, or a blob lacks its name, size or date.
    """
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        raise ObjectStoreError("list: the listing answer is not valid XML", provider="azure") from e
    blobs: list[tuple[str, int, datetime, str | None]] = []
    for blob in root.iterfind("Blobs/Blob"):
        name = _xml_name(blob.find("Name"))
        size = blob.findtext("Properties/Content-Length")
        if name is None or size is None or not size.isdigit():
            raise ObjectStoreError("list: a blob in the listing lacks a valid Name or Content-Length", provider="azure")
        modified = http_date(
            {"Last-Modified": blob.findtext("Properties/Last-Modified") or ""},
            "Last-Modified",
            provider="azure",
            path=name,
        )
        etag = blob.findtext("Properties/Etag")
        blobs.append((name, int(size), modified, quote_etag(etag) if etag else None))  # listings: unquoted
    prefixes = [n for n in (_xml_name(p.find("Name")) for p in root.iterfind("Blobs/BlobPrefix")) if n is not None]
    return blobs, prefixes, root.findtext("NextMarker") or None


def batch_statuses(content_type: str, body: bytes, count: int) -> list[tuple[int | None, str]]:
    """Per sub-request ``(status, x-ms-error-code)`` of a Blob Batch answer, by Content-ID.

    Raises:
        ObjectStoreError: the answer is not multipart or does not answer every sub-request (the
            store then deletes one by one).
    """
    found = re.search(r'boundary="?([^";,\s]+)"?', content_type)
    if found is None:
        raise ObjectStoreError("delete_many: the batch answer is not multipart/mixed", provider="azure")
    delimiter = b"--" + found.group(1).encode()
    results: dict[int, tuple[int | None, str]] = {}
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break  # the closing delimiter
        # A part: MIME headers, a blank line, then the sub-response (status line, headers, body).
        mime, _, http = part.lstrip(b"\r\n").partition(b"\r\n\r\n")
        status_line, _, rest = http.partition(b"\r\n")
        fields = status_line.split()
        content_id = _header_lines(mime).get("content-id", "")
        if len(fields) < 2 or not fields[1].isdigit() or not content_id.isdigit():
            raise ObjectStoreError("delete_many: a malformed part in the batch answer", provider="azure")
        code = _header_lines(rest.partition(b"\r\n\r\n")[0]).get("x-ms-error-code", "")
        results[int(content_id)] = (int(fields[1]), code)
    if sorted(results) != list(range(count)):
        raise ObjectStoreError("delete_many: the batch answer does not match the request", provider="azure")
    return [results[i] for i in range(count)]


def _header_lines(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.split(b"\r\n"):
        name, sep, value = line.partition(b":")
        if sep:
            headers[name.strip().decode("latin-1").lower()] = value.strip().decode("latin-1")
    return headers


def delegation_key(answer: bytes, path: str) -> Any:
    """The ``UserDelegationKey`` that ``generate_blob_sas`` takes, from the service's XML answer."""
    from azure.storage.blob import UserDelegationKey

    try:
        root: ET.Element | None = ET.fromstring(answer)
    except ET.ParseError:
        root = None
    if root is None or not root.findtext("Value"):
        raise ObjectStoreError("sign: the user-delegation key answer is malformed", path=path, provider="azure")
    key = UserDelegationKey()  # type: ignore[no-untyped-call]
    key.signed_oid = root.findtext("SignedOid")
    key.signed_tid = root.findtext("SignedTid")
    key.signed_delegated_user_tid = root.findtext("SignedDelegatedUserTid")
    key.signed_start = root.findtext("SignedStart")
    key.signed_expiry = root.findtext("SignedExpiry")
    key.signed_service = root.findtext("SignedService")
    key.signed_version = root.findtext("SignedVersion")
    key.value = root.findtext("Value")
    return key


def batch_body(subrequests: list[tuple[str, dict[str, str]]], boundary: str) -> bytes:
    """A Blob Batch ``multipart/mixed`` body: one part per ``(request target, headers)`` DELETE.

    Each part carries ``Content-ID`` (its index), which the answer's parts repeat.
    """
    lines: list[str] = []
    for i, (target, headers) in enumerate(subrequests):
        lines += [
            f"--{boundary}",
            "Content-Type: application/http",
            "Content-Transfer-Encoding: binary",
            f"Content-ID: {i}",
            "",
            f"DELETE {target} HTTP/1.1",
            *(f"{k}: {v}" for k, v in headers.items()),
            "Content-Length: 0",
            "",
            "",
        ]
    lines += [f"--{boundary}--", ""]
    return "\r\n".join(lines).encode()


def block_list(block_ids: list[str]) -> bytes:
    """A Put Block List body committing ``block_ids`` in order (each the latest of its id)."""
    blocks = "".join(f"<Latest>{escape(b)}</Latest>" for b in block_ids)
    return f'<?xml version="1.0" encoding="utf-8"?><BlockList>{blocks}</BlockList>'.encode()


def committed_blocks(body: bytes) -> list[str] | None:
    """The committed block ids of a Get Block List answer (``None`` if it cannot be read)."""
    try:
        return [n.text or "" for n in ET.fromstring(body).iterfind("CommittedBlocks/Block/Name")]
    except ET.ParseError:
        return None


def parse_tags(body: bytes, path: str) -> dict[str, str]:
    """The blob index tags of a Get Blob Tags answer.

    Raises:
        ObjectStoreError: the answer is not XML.
    """
    if not body.strip():
        return {}
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        raise ObjectStoreError("get_tags: the tags answer is not valid XML", path=path, provider="azure") from e
    return {t.findtext("Key") or "": t.findtext("Value") or "" for t in root.iter("Tag")}
