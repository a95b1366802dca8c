"""Checks: conditional reads, create-only and compare-and-swap writes, conditional delete."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from .. import errors as E
from ..preconditions import UpdateVersion, normalize_etag
from ._context import ConformanceContext

__all__ = [
    "CHECKS",
    "check_concurrent_cas_increments",
    "check_get_condition_precedence",
    "check_conditional_delete",
    "check_get_conditions_on_missing_object",
    "check_get_conditions_on_object_and_stream",
    "check_get_if_match",
    "check_get_if_none_match",
    "check_get_modified_since",
    "check_get_modified_since_after_write",
    "check_put_create",
    "check_put_create_is_atomic",
    "check_put_update_etag",
    "check_put_update_version",
    "check_update_version_validation",
]


def _need_conditional_get(ctx: ConformanceContext, what: str) -> None:
    ctx.xfail_if_quirk("conditional_get", what)


async def check_get_if_match(ctx: ConformanceContext) -> None:
    """if_match: the ETag (quoted or not) or * reads; another ETag raises PreconditionError."""
    _need_conditional_get(ctx, "If-Match on reads")
    p = ctx.path("c")
    etag = (await ctx.store.put(p, b"data")).etag
    assert etag is not None
    bare = normalize_etag(etag)
    assert await ctx.store.get(p, if_match=etag) == b"data"
    assert await ctx.store.get(p, if_match=bare) == b"data"
    assert await ctx.store.get(p, if_match=f'"{bare}"') == b"data"
    assert await ctx.store.get(p, if_match="*") == b"data"
    with pytest.raises(E.PreconditionError) as info:
        await ctx.store.get(p, if_match='"not-the-etag"')
    assert not isinstance(info.value, E.NotModifiedError)
    with pytest.raises(E.PreconditionError):
        await ctx.store.get(p, if_match="not-the-etag")
    await ctx.store.put(p, b"changed")
    with pytest.raises(E.PreconditionError):
        await ctx.store.get(p, if_match=etag)


async def check_get_if_none_match(ctx: ConformanceContext) -> None:
    """if_none_match: the ETag or * raises NotModifiedError (not PreconditionError); another reads."""
    _need_conditional_get(ctx, "If-None-Match on reads")
    p = ctx.path("c")
    etag = (await ctx.store.put(p, b"data")).etag
    assert etag is not None
    with pytest.raises(E.NotModifiedError) as info:
        await ctx.store.get(p, if_none_match=etag)
    assert not isinstance(info.value, E.PreconditionError)
    with pytest.raises(E.NotModifiedError):
        await ctx.store.get(p, if_none_match=normalize_etag(etag))
    with pytest.raises(E.NotModifiedError):
        await ctx.store.get(p, if_none_match=f'"{normalize_etag(etag)}"')
    with pytest.raises(E.NotModifiedError):
        await ctx.store.get_object(p, if_none_match="*")
    assert await ctx.store.get(p, if_none_match='"other"') == b"data"
    await ctx.store.put(p, b"changed")
    assert await ctx.store.get(p, if_none_match=etag) == b"changed"


async def check_get_modified_since(ctx: ConformanceContext) -> None:
    """if_(un)modified_since compare at whole-second granularity, as HTTP dates do."""
    _need_conditional_get(ctx, "If-(Un)Modified-Since on reads")
    p = ctx.path("c")
    await ctx.store.put(p, b"data")
    modified = (await ctx.store.head(p)).last_modified
    second = modified.replace(microsecond=0)
    later, earlier = second + timedelta(hours=1), second - timedelta(hours=1)
    assert await ctx.store.get(p, if_modified_since=earlier) == b"data"
    assert await ctx.store.get(p, if_modified_since=second - timedelta(seconds=1)) == b"data"
    # (No future date here: RFC 7232 let servers ignore an If-Modified-Since later than their clock.)
    for not_after in (second, modified, second + timedelta(microseconds=999_999)):
        with pytest.raises(E.NotModifiedError) as info:
            await ctx.store.get(p, if_modified_since=not_after)
        assert not isinstance(info.value, E.PreconditionError)
    for not_before in (later, second, modified):
        assert await ctx.store.get(p, if_unmodified_since=not_before) == b"data"
    for before in (earlier, second - timedelta(seconds=1)):
        with pytest.raises(E.PreconditionError) as pinfo:
            await ctx.store.get(p, if_unmodified_since=before)
        assert not isinstance(pinfo.value, E.NotModifiedError)


async def check_get_modified_since_after_write(ctx: ConformanceContext) -> None:
    """A write a second later moves last_modified past an if_(un)modified_since date."""
    _need_conditional_get(ctx, "If-(Un)Modified-Since on reads")
    p = ctx.path("c")
    await ctx.store.put(p, b"one")
    first = (await ctx.store.head(p)).last_modified
    await asyncio.sleep(1.1)  # HTTP dates have one-second granularity
    await ctx.store.put(p, b"two")
    second = (await ctx.store.head(p)).last_modified
    assert second > first
    assert await ctx.store.get(p, if_modified_since=first) == b"two"
    with pytest.raises(E.PreconditionError):
        await ctx.store.get(p, if_unmodified_since=first)
    with pytest.raises(E.NotModifiedError):
        await ctx.store.get(p, if_modified_since=second)


async def check_get_conditions_on_object_and_stream(ctx: ConformanceContext) -> None:
    """get_object and get_stream honour the same conditions, also together with a range."""
    _need_conditional_get(ctx, "conditions on reads")
    p = ctx.path("c")
    data = bytes(range(200))
    etag = (await ctx.store.put(p, data)).etag
    assert etag is not None
    got = await ctx.store.get_object(p, if_match=etag, range=(10, 20))
    assert (got.data, got.meta.size, got.meta.etag) == (data[10:20], 200, etag)
    assert await ctx.store.get(p, if_none_match='"other"', range=(-5, None)) == data[-5:]
    with pytest.raises(E.PreconditionError):
        await ctx.store.get_object(p, if_match='"other"', range=(0, 5))
    with pytest.raises(E.NotModifiedError):
        await ctx.store.get(p, if_none_match=etag, range=(0, 5))
    async with ctx.store.get_stream(p, if_match=etag) as stream:
        assert await stream.read_all() == data
    with pytest.raises(E.NotModifiedError):
        async with ctx.store.get_stream(p, if_none_match=etag) as stream:
            await stream.read_all()
    with pytest.raises(E.PreconditionError):
        async with ctx.store.get_stream(p, if_match='"other"') as stream:
            await stream.read_all()


async def check_get_condition_precedence(ctx: ConformanceContext) -> None:
    """RFC 9110 13.2.2 order: if_match beats if_unmodified_since, if_none_match beats if_modified_since."""
    _need_conditional_get(ctx, "conditions on reads")
    p = ctx.path("c")
    etag = (await ctx.store.put(p, b"data")).etag
    assert etag is not None
    modified = (await ctx.store.head(p)).last_modified
    earlier, later = modified - timedelta(hours=1), modified + timedelta(hours=1)
    assert await ctx.store.get(p, if_match=etag, if_unmodified_since=earlier) == b"data"
    assert await ctx.store.get(p, if_none_match='"other"', if_modified_since=later) == b"data"
    with pytest.raises(E.PreconditionError):
        await ctx.store.get(p, if_match='"other"', if_unmodified_since=later)
    with pytest.raises(E.NotModifiedError):
        await ctx.store.get(p, if_none_match=etag, if_modified_since=earlier)
    # If-Match fails first (412) even when If-None-Match would say 304.
    with pytest.raises(E.PreconditionError):
        await ctx.store.get(p, if_match='"other"', if_none_match=etag)
    assert await ctx.store.get(p, if_match=etag, if_none_match='"other"') == b"data"


async def check_get_conditions_on_missing_object(ctx: ConformanceContext) -> None:
    """A conditional read of a missing object raises NotFoundError, not a condition error."""
    missing = ctx.path("missing")
    with pytest.raises(E.NotFoundError):
        await ctx.store.get(missing, if_none_match='"abc"')
    with pytest.raises(E.NotFoundError):
        await ctx.store.get(missing, if_none_match="*")
    with pytest.raises(E.NotFoundError):
        await ctx.store.get(missing, if_modified_since=datetime.now(UTC) - timedelta(days=1))
    _need_conditional_get(ctx, "If-Match on reads")
    # RFC 9110 lets If-Match on a missing resource answer 412; either error is honest here,
    # but never data and never NotModifiedError.
    with pytest.raises((E.NotFoundError, E.PreconditionError)):
        await ctx.store.get(missing, if_match='"abc"')


async def check_put_create(ctx: ConformanceContext) -> None:
    """mode='create' writes a new object and raises AlreadyExistsError on an existing one."""
    p = ctx.path("c")
    if not ctx.caps.put_create:
        with pytest.raises(E.NotSupportedError):
            await ctx.store.put(p, b"first", mode="create")
        return
    created = await ctx.store.put(p, b"first", mode="create")
    assert created.etag is not None
    assert (await ctx.store.head(p)).etag == created.etag
    try:
        await ctx.store.put(p, b"second", mode="create")
    except E.AlreadyExistsError as e:
        error: E.AlreadyExistsError = e
    else:
        pytest.fail("put(mode='create') replaced an existing object instead of raising AlreadyExistsError")
    assert isinstance(error, FileExistsError)
    assert await ctx.store.get(p) == b"first"
    await ctx.store.delete(p)
    await ctx.store.put(p, b"again", mode="create")  # a deleted path can be created anew
    assert await ctx.store.get(p) == b"again"


async def check_put_create_is_atomic(ctx: ConformanceContext) -> None:
    """Of N concurrent creators exactly one wins; the stored data is the winner's."""
    p = ctx.path("race")
    if not ctx.caps.put_create:
        with pytest.raises(E.NotSupportedError):
            await ctx.store.put(p, b"x", mode="create")
        return

    async def attempt(i: int) -> int | None:
        try:
            await ctx.store.put(p, f"writer-{i}".encode(), mode="create")
        except E.AlreadyExistsError:
            return None
        return i

    results = await asyncio.gather(*(attempt(i) for i in range(12)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1, f"{len(winners)} of 12 concurrent creators won (exactly one must)"
    assert await ctx.store.get(p) == f"writer-{winners[0]}".encode()


async def check_put_update_etag(ctx: ConformanceContext) -> None:
    """CAS by ETag: succeeds on the current state; PreconditionError on a stale one or a missing object."""
    p = ctx.path("cas")
    first = await ctx.store.put(p, b"1")
    assert first.etag is not None
    if not ctx.caps.put_update_etag:
        with pytest.raises(E.NotSupportedError):
            await ctx.store.put(p, b"2", mode=UpdateVersion(etag=first.etag))
        return
    second = await ctx.store.put(p, b"2", mode=UpdateVersion(etag=first.etag))
    assert second.etag != first.etag
    assert await ctx.store.get(p) == b"2"
    assert (await ctx.store.head(p)).etag == second.etag
    with pytest.raises(E.PreconditionError) as info:
        await ctx.store.put(p, b"3", mode=UpdateVersion(etag=first.etag))
    assert not isinstance(info.value, E.AlreadyExistsError)
    assert await ctx.store.get(p) == b"2"
    meta = await ctx.store.head(p)
    third = await ctx.store.put(p, b"3", mode=UpdateVersion.of(meta))
    assert await ctx.store.get(p) == b"3"
    # The ETag may be passed back quoted or bare.
    assert third.etag is not None
    bare = normalize_etag(third.etag)
    fourth = await ctx.store.put(p, b"4", mode=UpdateVersion(etag=bare))
    assert fourth.etag is not None
    await ctx.store.put(p, b"5", mode=UpdateVersion(etag=f'"{normalize_etag(fourth.etag)}"'))
    with pytest.raises(E.PreconditionError):
        await ctx.store.put(p, b"6", mode=UpdateVersion(etag=bare))
    assert await ctx.store.get(p) == b"5"
    got = await ctx.store.get_object(p)
    await ctx.store.put(p, b"6", mode=UpdateVersion.of(got.meta))
    # CAS on a missing object fails and creates nothing.
    missing = ctx.path("missing")
    with pytest.raises(E.PreconditionError):
        await ctx.store.put(missing, b"x", mode=UpdateVersion(etag=first.etag))
    with pytest.raises(E.NotFoundError):
        await ctx.store.head(missing)
    # A deleted object cannot be updated with the ETag it had.
    await ctx.store.delete(p)
    with pytest.raises(E.PreconditionError):
        await ctx.store.put(p, b"7", mode=UpdateVersion.of(got.meta))
    with pytest.raises(E.NotFoundError):
        await ctx.store.head(p)


async def check_put_update_version(ctx: ConformanceContext) -> None:
    """CAS by version where the store has it; NotSupportedError for a version-only update otherwise."""
    p = ctx.path("casv")
    first = await ctx.store.put(p, b"1")
    if not ctx.caps.put_update_version:
        with pytest.raises(E.NotSupportedError):
            await ctx.store.put(p, b"2", mode=UpdateVersion(version="1"))
        assert await ctx.store.get(p) == b"1"
        return
    if first.version is None:
        pytest.skip("the bucket under test keeps no versions (put returned version=None)")
    second = await ctx.store.put(p, b"2", mode=UpdateVersion(version=first.version))
    with pytest.raises(E.PreconditionError):
        await ctx.store.put(p, b"3", mode=UpdateVersion(version=first.version))
    assert await ctx.store.get(p) == b"2"
    await ctx.store.put(p, b"3", mode=UpdateVersion.of(second))
    assert await ctx.store.get(p) == b"3"


async def check_concurrent_cas_increments(ctx: ConformanceContext) -> None:
    """5 workers x 10 CAS increments == 50: no update is lost, every conflict is a PreconditionError."""
    p = ctx.path("counter")
    await ctx.store.put(p, b"0")

    async def worker() -> None:
        done = 0
        while done < 10:
            res = await ctx.store.get_object(p)
            value = int(res.data)
            try:
                await ctx.store.put(p, str(value + 1).encode(), mode=UpdateVersion.of(res.meta))
            except E.PreconditionError:
                await asyncio.sleep(0)
                continue
            done += 1

    await asyncio.gather(*(worker() for _ in range(5)))
    total = int(await ctx.store.get(p))
    assert total == 50, f"50 CAS increments stored {total}: a compare-and-swap lost an update"


async def check_update_version_validation(ctx: ConformanceContext) -> None:
    """An UpdateVersion with neither etag nor version, or an unknown mode, fails before I/O."""
    p = ctx.path("never")
    with pytest.raises(E.InvalidArgumentError):
        await ctx.store.put(p, b"x", mode=UpdateVersion())
    with pytest.raises(ValueError):  # also a ValueError (InvalidConfigError)
        await ctx.store.put(p, b"x", mode=UpdateVersion())
    with pytest.raises(E.InvalidArgumentError):
        await ctx.store.put(p, b"x", mode=UpdateVersion(etag=""))
    with pytest.raises(E.InvalidArgumentError):
        await ctx.store.put_stream(p, [b"x"], mode=UpdateVersion())
    with pytest.raises(ValueError, match="mode"):
        await ctx.store.put(p, b"x", mode="upsert")  # type: ignore[arg-type]
    with pytest.raises(E.InvalidArgumentError):
        await ctx.store.put_stream(p, [b"x"], mode="append")  # type: ignore[arg-type]
    with pytest.raises(E.NotFoundError):
        await ctx.store.head(p)


async def check_conditional_delete(ctx: ConformanceContext) -> None:
    """delete(if_match=...) deletes only the expected state, atomically; or NotSupportedError."""
    p = ctx.path("cd")
    first = await ctx.store.put(p, b"1")
    assert first.etag is not None
    if not ctx.caps.delete_if_match:
        with pytest.raises(E.NotSupportedError):
            await ctx.store.delete(p, if_match=first.etag)
        with pytest.raises(E.NotSupportedError):
            await ctx.store.delete(p, if_match=UpdateVersion.of(first))
        assert await ctx.store.get(p) == b"1"
        return
    ctx.xfail_if_quirk("delete_if_match", "If-Match on delete")
    second = await ctx.store.put(p, b"2")
    with pytest.raises(E.PreconditionError):
        await ctx.store.delete(p, if_match=first.etag)
    with pytest.raises(E.PreconditionError):
        await ctx.store.delete(p, if_match=UpdateVersion.of(first))
    assert await ctx.store.get(p) == b"2"
    await ctx.store.delete(p, if_match=UpdateVersion.of(second))
    with pytest.raises(E.NotFoundError):
        await ctx.store.head(p)
    # The object is gone: its old state no longer holds.
    with pytest.raises(E.PreconditionError):
        await ctx.store.delete(p, if_match=second.etag)
    third = await ctx.store.put(p, b"3")
    assert third.etag is not None
    await ctx.store.delete(p, if_match=normalize_etag(third.etag))
    with pytest.raises(E.NotFoundError):
        await ctx.store.head(p)
    fourth = await ctx.store.put(p, b"4")
    assert fourth.etag is not None
    await ctx.store.delete(p, if_match=f'"{normalize_etag(fourth.etag)}"')
    assert await ctx.names() == []
    with pytest.raises(E.InvalidArgumentError):
        await ctx.store.delete(p, if_match=UpdateVersion())


CHECKS = [
    check_get_if_match,
    check_get_if_none_match,
    check_get_modified_since,
    check_get_modified_since_after_write,
    check_get_conditions_on_object_and_stream,
    check_get_condition_precedence,
    check_get_conditions_on_missing_object,
    check_put_create,
    check_put_create_is_atomic,
    check_put_update_etag,
    check_put_update_version,
    check_concurrent_cas_increments,
    check_update_version_validation,
    check_conditional_delete,
]
