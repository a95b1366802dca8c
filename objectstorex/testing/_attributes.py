"""Checks: standard attributes, user metadata and tags."""

from __future__ import annotations

from typing import Any

import pytest

from .. import errors as E
from .._types import ATTRIBUTE_NAMES, Attributes
from ._context import ConformanceContext

__all__ = ["CHECKS", "check_attributes_on_stream_upload", "check_attributes_round_trip", "check_tags"]

WANTED: dict[str, str] = {
    "content_type": "application/json",
    "content_disposition": 'attachment; filename="r.json"',
    "content_encoding": "identity",
    "content_language": "en-GB",
    "cache_control": "max-age=3600",
}
# S3 lower-cases metadata keys; values stay plain ASCII, which every provider keeps verbatim.
METADATA = {"owner": "ana", "purpose": "conformance test", "n": "42"}


def _kept(ctx: ConformanceContext) -> tuple[dict[str, Any], dict[str, str] | None]:
    kept = {k: v for k, v in WANTED.items() if k in ctx.caps.attributes}
    return kept, (dict(METADATA) if "metadata" in ctx.caps.attributes else None)


def _assert_attributes(attrs: Attributes, kept: dict[str, Any], metadata: dict[str, str] | None) -> None:
    assert isinstance(attrs, Attributes)
    for name, value in kept.items():
        assert getattr(attrs, name) == value, name
    if metadata is not None:
        assert dict(attrs.metadata) == metadata


async def check_attributes_round_trip(ctx: ConformanceContext) -> None:
    """Attributes and metadata the store keeps come back from get_object; others are refused."""
    kept, metadata = _kept(ctx)
    p = ctx.path("attrs.json")
    put = await ctx.store.put(p, b"{}", metadata=metadata, **kept)
    got = await ctx.store.get_object(p)
    _assert_attributes(got.attributes, kept, metadata)
    assert got.meta.etag == put.etag
    _assert_attributes((await ctx.store.get_object(p, range=(0, 1))).attributes, kept, metadata)
    # Attribute names the store does not keep are refused before anything is written.
    for name in sorted(set(WANTED) - set(ctx.caps.attributes)):
        with pytest.raises(E.NotSupportedError):
            await ctx.store.put(ctx.path("refused"), b"", **{name: WANTED[name]})  # type: ignore[arg-type]
    if "metadata" not in ctx.caps.attributes:
        with pytest.raises(E.NotSupportedError):
            await ctx.store.put(ctx.path("refused"), b"", metadata={"a": "b"})
    with pytest.raises(E.NotFoundError):
        await ctx.store.head(ctx.path("refused"))
    # Overwriting without attributes replaces them too: the object is replaced whole.
    await ctx.store.put(p, b"[]")
    plain = (await ctx.store.get_object(p)).attributes
    for name in ATTRIBUTE_NAMES:
        if name != "content_type":  # some providers default a content type
            assert getattr(plain, name) is None, name
    assert not plain.metadata
    # Bad attribute values fail before I/O.
    with pytest.raises(E.InvalidArgumentError):
        await ctx.store.put(ctx.path("bad"), b"", metadata={"k": 1})  # type: ignore[dict-item]
    with pytest.raises(E.InvalidArgumentError):
        await ctx.store.put(ctx.path("bad"), b"", metadata="k=v")  # type: ignore[arg-type]
    if "content_type" in ctx.caps.attributes:
        with pytest.raises(E.InvalidArgumentError):
            await ctx.store.put(ctx.path("bad"), b"", content_type=5)  # type: ignore[arg-type]
    with pytest.raises(E.NotFoundError):
        await ctx.store.head(ctx.path("bad"))


async def check_attributes_on_stream_upload(ctx: ConformanceContext) -> None:
    """put_stream keeps the same attributes and metadata as put."""
    kept, metadata = _kept(ctx)
    p = ctx.path("streamed")
    await ctx.store.put_stream(p, [b"a", b"b"], metadata=metadata, **kept)
    got = await ctx.store.get_object(p)
    assert got.data == b"ab"
    _assert_attributes(got.attributes, kept, metadata)


async def check_tags(ctx: ConformanceContext) -> None:
    """Tags set by put come back from get_tags, or NotSupportedError before anything is written."""
    p = ctx.path("tagged")
    tags = {"team": "storage", "tier": "hot"}
    if not ctx.caps.tags:
        with pytest.raises(E.NotSupportedError):
            await ctx.store.put(p, b"x", tags=tags)
        with pytest.raises(E.NotSupportedError):
            await ctx.store.put_stream(p, [b"x"], tags=tags)
        with pytest.raises(E.NotFoundError):
            await ctx.store.head(p)
        await ctx.store.put(p, b"x")
        with pytest.raises(E.NotSupportedError):
            await ctx.store.get_tags(p)
        return
    await ctx.store.put(p, b"x", tags=tags)
    assert await ctx.store.get_tags(p) == tags
    streamed = ctx.path("streamed")
    await ctx.store.put_stream(streamed, [b"y"], tags={"via": "stream"})
    assert await ctx.store.get_tags(streamed) == {"via": "stream"}
    await ctx.store.put(ctx.path("untagged"), b"x")
    assert await ctx.store.get_tags(ctx.path("untagged")) == {}
    await ctx.store.put(p, b"replaced")  # a put replaces the whole object, tags included
    assert await ctx.store.get_tags(p) == {}
    with pytest.raises(E.NotFoundError):
        await ctx.store.get_tags(ctx.path("missing"))
    with pytest.raises(E.InvalidArgumentError):
        await ctx.store.put(p, b"x", tags={"k": 1})  # type: ignore[dict-item]


CHECKS = [check_attributes_round_trip, check_attributes_on_stream_upload, check_tags]
