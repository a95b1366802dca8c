"""End-to-end checksums: the algorithms, incremental hashers and the providers' encodings.

CRC32 comes from :mod:`zlib`, MD5 and SHA-256 from :mod:`hashlib`; CRC32C needs the optional
``google-crc32c`` package (``pip install objectstorex[fast-checksums]``), imported only when
CRC32C is first used. Every provider encodes a checksum as the base64 of its big-endian digest
(S3 ``x-amz-checksum-*``, Azure ``Content-MD5``, GCS ``crc32c``/``md5Hash`` and ``x-goog-hash``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import zlib
from collections.abc import Iterable
from typing import Any, Protocol

from .errors import NotSupportedError

__all__ = [
    "ALGORITHMS",
    "Hasher",
    "combine_crc",
    "digest",
    "digest_async",
    "encode",
    "hasher",
    "have_crc32c",
    "resolve",
]

#: The algorithms a store can send and check.
ALGORITHMS = ("crc32", "crc32c", "md5", "sha256")
#: Bodies larger than this are hashed in a worker thread (zlib, hashlib and google-crc32c
#: release the GIL), so the event loop keeps serving other transfers.
OFF_LOOP = 1024 * 1024
#: What each provider stores with an object and can verify, by ``checksum=`` choice.
PROVIDER_ALGORITHMS: dict[str, frozenset[str]] = {
    "s3": frozenset(("crc32", "crc32c", "sha256", "md5")),  # md5: Content-MD5, checked on upload only
    "azure": frozenset(("md5",)),
    "gcs": frozenset(("crc32c", "md5")),
}
_EXTRA = "objectstorex[fast-checksums]"
# Reflected CRC polynomials (zlib's CRC-32 and Castagnoli's CRC-32C).
_POLY = {"crc32": 0xEDB88320, "crc32c": 0x82F63B78}


class Hasher(Protocol):
    """An incremental hash: :meth:`update` with the bytes in order, then :meth:`digest`."""

    def update(self, data: bytes | bytearray | memoryview, /) -> None:
        """Add ``data`` to the hash."""

    def digest(self) -> bytes:
        """The big-endian digest of everything added so far."""


class _Crc32:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes | bytearray | memoryview, /) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


class _Crc32c:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes | bytearray | memoryview, /) -> None:
        if not isinstance(data, bytes):
            data = bytes(data)  # google-crc32c takes only immutable buffers (bytes)
        self.value = _crc32c().extend(self.value, data)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


_found: list[Any] = []  # google_crc32c once it was found usable (a lookup per digest otherwise)


def _crc32c() -> Any:
    if _found:
        return _found[0]
    try:
        import google_crc32c
    except ImportError as e:
        raise NotSupportedError(f"checksum 'crc32c' needs google-crc32c: pip install '{_EXTRA}'") from e
    if google_crc32c.implementation != "c":
        # The pure-Python fallback runs at a few MB/s: a silent slowdown of every transfer.
        raise NotSupportedError(f"checksum 'crc32c' needs google-crc32c's C extension: reinstall '{_EXTRA}'")
    _found.append(google_crc32c)
    return google_crc32c


def have_crc32c() -> bool:
    """Whether CRC32C is available (``google-crc32c`` with its C extension)."""
    try:
        _crc32c()
    except NotSupportedError:
        return False
    return True


def hasher(algorithm: str) -> Hasher:
    """A new incremental hasher for ``algorithm`` (``crc32``, ``crc32c``, ``md5`` or ``sha256``).

    Raises:
        NotSupportedError: CRC32C without ``google-crc32c`` (names the extra to install).
    """
    if algorithm == "crc32":
        return _Crc32()
    if algorithm == "crc32c":
        _crc32c()
        return _Crc32c()
    if algorithm == "md5":
        return hashlib.md5(usedforsecurity=False)
    if algorithm == "sha256":
        return hashlib.sha256()
    raise NotSupportedError(f"unknown checksum algorithm {algorithm!r}")


def digest(algorithm: str, data: bytes | bytearray | memoryview) -> bytes:
    """The big-endian digest of ``data``."""
    if algorithm == "crc32c" and type(data) is bytes:
        return int(_crc32c().value(data)).to_bytes(4, "big")  # one call, no hasher object
    h = hasher(algorithm)
    h.update(data)
    return h.digest()


async def digest_async(algorithm: str, data: bytes | bytearray | memoryview) -> bytes:
    """:func:`digest`, in a worker thread for a body larger than 1 MiB (off the event loop)."""
    if len(data) > OFF_LOOP:
        return await asyncio.to_thread(digest, algorithm, data)
    return digest(algorithm, data)


async def update_async(h: Hasher, data: bytes | bytearray | memoryview) -> None:
    """``h.update(data)``, in a worker thread for a chunk larger than 1 MiB."""
    if len(data) > OFF_LOOP:
        await asyncio.to_thread(h.update, data)
    else:
        h.update(data)


def encode(value: bytes) -> str:
    """A digest as the providers send it: base64 of the big-endian bytes."""
    return base64.b64encode(value).decode()


def resolve(choice: str, provider: str) -> str | None:
    """The algorithm a store uses for ``checksum=choice`` (``None``: ``"off"``, or a store without transit).

    ``"auto"`` is what the provider stores and verifies with no extra install where possible:
    S3 CRC32 (CRC32C with google-crc32c), Azure MD5, GCS CRC32C with google-crc32c else MD5.

    Raises:
        NotSupportedError: before any I/O, for an algorithm the provider cannot store or whose
            library is missing.
    """
    supported = PROVIDER_ALGORITHMS.get(provider)
    if choice == "off" or supported is None:
        return None
    if choice == "auto":
        if provider == "azure":
            return "md5"
        fast = have_crc32c()
        if provider == "s3":
            return "crc32c" if fast else "crc32"
        return "crc32c" if fast else "md5"
    if choice not in supported:
        raise NotSupportedError(
            f"checksum {choice!r} is not stored by {provider}: use one of {sorted(supported)} or 'auto'",
            provider=provider,
        )
    if choice == "crc32c":
        _crc32c()
    return choice


# ------------------------------------------------------------------------------ CRC combination


def _gf2_times(matrix: list[int], vector: int) -> int:
    out = 0
    i = 0
    while vector:
        if vector & 1:
            out ^= matrix[i]
        vector >>= 1
        i += 1
    return out


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, m) for m in matrix]


def _combine(poly: int, crc1: int, crc2: int, len2: int) -> int:
    """CRC(A+B) from CRC(A), CRC(B) and len(B): zlib's crc32_combine, for any reflected 32-bit polynomial."""
    if len2 <= 0:
        return crc1
    odd = [poly] + [1 << i for i in range(31)]  # the operator for one zero bit
    even = _gf2_square(odd)  # two zero bits
    odd = _gf2_square(even)  # four zero bits
    while True:
        even = _gf2_square(odd)  # apply len2 zero bytes to crc1, one bit of len2 at a time
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = _gf2_square(even)
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


def combine_crc(algorithm: str, parts: Iterable[tuple[bytes, int]]) -> bytes:
    """The full-object CRC of parts given as ``(big-endian digest, length)`` in order.

    What S3 computes for a ``FULL_OBJECT`` multipart checksum: parts hashed in parallel, then
    combined without reading the bytes again.
    """
    poly = _POLY[algorithm]
    crc = 0
    for value, length in parts:
        crc = _combine(poly, crc, int.from_bytes(value, "big"), length)
    return crc.to_bytes(4, "big")
