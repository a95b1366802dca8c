"""The shared modules: paths, ranges, preconditions, errors, retry, factory, packaging."""

from __future__ import annotations

import asyncio
import pickle
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from importlib.util import find_spec

import pytest

import objectstorex as osx
from objectstorex import errors
from objectstorex._config import retry_call
from objectstorex._factory import store_class
from objectstorex._ranges import coalesce, http_range_header, parse_range
from objectstorex.paths import validate_path, validate_prefix
from objectstorex.preconditions import (
    GetConditions,
    check_get,
    check_put,
    etag_matches,
    http_get_headers,
    http_put_headers,
    normalize_etag,
    quote_etag,
)

# ------------------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    "path",
    ["a", "a/b/c", "with space", "plus+sign", "100%", "hash#tag", "q?x=1", "emoji/😀", "ünï/cødé", "a.b", "..a", "a.."],
)
def test_valid_paths_round_trip(path: str) -> None:
    assert validate_path(path) == path


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("", "empty"),
        ("/a", "starts with '/'"),
        ("a/", "ends with '/'"),
        ("a//b", "empty segment"),
        ("a/./b", "'.' segment"),
        ("../a", "'..' segment"),
        ("a\x00b", "control character"),
        ("a\nb", "control character"),
        ("a\x7fb", "control character"),
    ],
)
def test_invalid_paths_name_the_problem(path: str, why: str) -> None:
    with pytest.raises(osx.InvalidPathError, match="invalid path") as info:
        validate_path(path, provider="memory")
    assert why in str(info.value)
    assert info.value.provider == "memory"
    assert isinstance(info.value, ValueError)


def test_non_str_path_rejected() -> None:
    with pytest.raises(osx.InvalidPathError, match="must be a str"):
        validate_path(b"a")


def test_prefix_normalisation() -> None:
    assert validate_prefix(None) == ""
    assert validate_prefix("") == ""
    assert validate_prefix("a/b") == "a/b"
    with pytest.raises(osx.InvalidPathError, match="ends with"):
        validate_prefix("a/b/")
    with pytest.raises(osx.InvalidPathError):
        validate_prefix("a//")
    with pytest.raises(osx.InvalidPathError):
        validate_prefix("/a")


# ------------------------------------------------------------------------------------- ranges


def test_range_resolution() -> None:
    assert parse_range((0, 5)).resolve(10) == (0, 5)
    assert parse_range((3, 100)).resolve(10) == (3, 10)  # end clamped
    assert parse_range((3, None)).resolve(10) == (3, 10)
    assert parse_range((-4, None)).resolve(10) == (6, 10)
    assert parse_range((-40, None)).resolve(10) == (0, 10)  # suffix clamped
    assert parse_range(range(2, 4)).resolve(10) == (2, 4)


@pytest.mark.parametrize("bad", [(5, 5), (5, 2), (0, -1), (-3, 5), ("a", 2), (1.0, 2), (True, 2), (1,), None, "0-5"])
def test_malformed_ranges_rejected_before_io(bad: object) -> None:
    with pytest.raises(osx.InvalidRangeError):
        parse_range(bad)


def test_unsatisfiable_ranges() -> None:
    with pytest.raises(osx.InvalidRangeError, match="at or past"):
        parse_range((10, 20)).resolve(10)
    with pytest.raises(osx.InvalidRangeError, match="empty object"):
        parse_range((0, 1)).resolve(0)
    with pytest.raises(osx.InvalidRangeError, match="empty object"):
        parse_range((-1, None)).resolve(0)


def test_http_range_header() -> None:
    assert http_range_header(parse_range((0, 10))) == "bytes=0-9"
    assert http_range_header(parse_range((5, None))) == "bytes=5-"
    assert http_range_header(parse_range((-7, None))) == "bytes=-7"


def test_coalesce_merges_nearby_ranges() -> None:
    assert coalesce([(0, 10), (5, 20), (100, 110)], gap=10) == [(0, 20), (100, 110)]
    assert coalesce([(100, 110), (0, 10)], gap=200) == [(0, 110)]
    assert coalesce([(0, 10), (50, 60)], gap=0) == [(0, 10), (50, 60)]


# ------------------------------------------------------------------------------------- preconditions

NOW = datetime(2026, 1, 2, 3, 4, 5, 600_000, tzinfo=UTC)
META = osx.ObjectMeta("k", 3, NOW, '"abc"', None)


def test_etag_comparison_quoted_unquoted_weak_star_list() -> None:
    assert normalize_etag('"abc"') == normalize_etag("abc") == normalize_etag('W/"abc"') == "abc"
    assert quote_etag("abc") == '"abc"'
    assert quote_etag('"abc"') == '"abc"'
    assert quote_etag("*") == "*"
    assert etag_matches("abc", '"abc"')
    assert etag_matches('"abc"', "abc")
    assert etag_matches("*", "anything")
    assert etag_matches('"x", "abc"', '"abc"')
    assert not etag_matches("abd", '"abc"')
    assert not etag_matches("*", None)


def test_get_conditions_distinct_errors() -> None:
    check_get(GetConditions(if_match="abc"), META)
    with pytest.raises(osx.PreconditionError):
        check_get(GetConditions(if_match="zzz"), META)
    with pytest.raises(osx.NotModifiedError):
        check_get(GetConditions(if_none_match='"abc"'), META)
    check_get(GetConditions(if_none_match="zzz"), META)
    # If-Match wins over If-Unmodified-Since (RFC 9110 13.2.2).
    check_get(GetConditions(if_match="abc", if_unmodified_since=NOW - timedelta(days=1)), META)


def test_modified_since_has_one_second_granularity() -> None:
    same_second = NOW.replace(microsecond=0)
    with pytest.raises(osx.NotModifiedError):
        check_get(GetConditions(if_modified_since=same_second), META)
    check_get(GetConditions(if_modified_since=same_second - timedelta(seconds=1)), META)
    check_get(GetConditions(if_unmodified_since=same_second), META)
    with pytest.raises(osx.PreconditionError):
        check_get(GetConditions(if_unmodified_since=same_second - timedelta(seconds=1)), META)
    # If-None-Match present: If-Modified-Since is ignored.
    check_get(GetConditions(if_none_match="zzz", if_modified_since=NOW + timedelta(days=1)), META)


def test_put_modes() -> None:
    check_put("overwrite", META, path="k")
    check_put("create", None, path="k")
    with pytest.raises(osx.AlreadyExistsError):
        check_put("create", META, path="k")
    check_put(osx.UpdateVersion(etag="abc"), META, path="k")
    with pytest.raises(osx.PreconditionError):
        check_put(osx.UpdateVersion(etag="old"), META, path="k")
    with pytest.raises(osx.PreconditionError, match="does not exist"):
        check_put(osx.UpdateVersion(etag="abc"), None, path="k")


def test_update_version_of_meta() -> None:
    assert osx.UpdateVersion.of(META) == osx.UpdateVersion(etag='"abc"', version=None)
    assert osx.UpdateVersion.of(osx.PutResult("e", "v")) == osx.UpdateVersion("e", "v")


def test_http_header_builders() -> None:
    assert http_put_headers("create") == {"If-None-Match": "*"}
    assert http_put_headers(osx.UpdateVersion(etag="abc")) == {"If-Match": '"abc"'}
    assert http_put_headers("overwrite") == {}
    headers = http_get_headers(GetConditions(if_match="a", if_none_match='"b"', if_modified_since=NOW))
    assert headers == {"if-match": '"a"', "if-none-match": '"b"', "if-modified-since": "Fri, 02 Jan 2026 03:04:05 GMT"}
    assert http_get_headers(GetConditions(if_match="*", if_none_match="*")) == {}  # answered by the caller
    assert http_get_headers(GetConditions(if_none_match="a, b", if_unmodified_since=NOW), dates=False) == {
        "if-none-match": '"a", "b"'
    }


async def test_empty_update_version_rejected_before_io() -> None:
    store = osx.MemoryStore()
    with pytest.raises(osx.InvalidArgumentError, match="etag or a version"):
        await store.put("k", b"x", mode=osx.UpdateVersion())
    with pytest.raises(ValueError, match="invalid put mode"):
        await store.put("k", b"x", mode="upsert")  # type: ignore[arg-type]
    assert [m async for m in store.list()] == []


# ------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (osx.NotFoundError, FileNotFoundError),
        (osx.AlreadyExistsError, FileExistsError),
        (osx.NotSupportedError, NotImplementedError),
        (osx.PermissionDeniedError, PermissionError),
        (osx.InvalidPathError, ValueError),
        (osx.InvalidConfigError, ValueError),
        (osx.InvalidRangeError, ValueError),
        (osx.InvalidArgumentError, TypeError),
    ],
)
def test_error_builtin_mixins(cls: type[osx.ObjectStoreError], builtin: type[BaseException]) -> None:
    err = cls("boom", path="p", provider="memory", status=404)
    assert isinstance(err, builtin)
    assert isinstance(err, osx.ObjectStoreError)
    assert str(err) == "boom"
    assert (err.path, err.provider, err.status, err.retryable) == ("p", "memory", 404, False)


def test_errors_pickle_with_attributes() -> None:
    err = osx.NotFoundError("gone", path="p", provider="s3", status=404, retryable=True)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is osx.NotFoundError
    assert (str(back), back.path, back.provider, back.status, back.retryable) == ("gone", "p", "s3", 404, True)
    bulk = osx.BulkDeleteError({"a": err})
    assert pickle.loads(pickle.dumps(bulk)).errors["a"].path == "p"


def test_error_module_exports_every_error() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), osx.ObjectStoreError)
        assert getattr(osx, name) is getattr(errors, name)


# ------------------------------------------------------------------------------------- retry


async def test_retry_retries_transient_errors_only() -> None:
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise osx.TransportError("reset", retryable=True)
        return "ok"

    cfg = osx.RetryConfig(max_retries=5, initial_backoff=0.001, max_backoff=0.002)
    assert await retry_call(flaky, cfg) == "ok"
    assert calls == 3

    calls = 0

    async def fatal() -> str:
        nonlocal calls
        calls += 1
        raise osx.PreconditionError("lost")

    with pytest.raises(osx.PreconditionError):
        await retry_call(fatal, cfg)
    assert calls == 1


async def test_retry_is_bounded_by_count_and_budget() -> None:
    calls = 0

    async def down() -> None:
        nonlocal calls
        calls += 1
        raise osx.TransportError("down", retryable=True)

    with pytest.raises(osx.TransportError):
        await retry_call(down, osx.RetryConfig(max_retries=2, initial_backoff=0.001))
    assert calls == 3
    calls = 0
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(osx.TransportError):
        await retry_call(
            down, osx.RetryConfig(max_retries=1000, initial_backoff=0.01, max_backoff=0.02, total_timeout=0.2)
        )
    assert loop.time() - started < 1.0


def test_retry_and_timeout_validation() -> None:
    with pytest.raises(osx.InvalidConfigError, match="max_retries"):
        osx.RetryConfig(max_retries=-1)
    with pytest.raises(osx.InvalidConfigError, match="connect"):
        osx.Timeouts(connect=-1)
    cfg = osx.RetryConfig(initial_backoff=1, max_backoff=4)
    assert all(0 <= cfg.backoff(10) <= 4 for _ in range(100))


# ------------------------------------------------------------------------------------- factory


def test_new_rejects_unknown_provider_and_option() -> None:
    with pytest.raises(osx.InvalidConfigError, match="unknown provider 'ftp'"):
        osx.new("ftp")
    with pytest.raises(osx.InvalidConfigError, match="unknown option 'colour'"):
        osx.new("memory", colour="red")
    with pytest.raises(osx.InvalidConfigError, match="path"):
        osx.new("local")


def test_from_url_memory_and_file(tmp_path: object) -> None:
    assert isinstance(osx.from_url("memory://"), osx.MemoryStore)
    store = osx.from_url(f"file://{tmp_path}")
    assert isinstance(store, osx.LocalStore)
    with pytest.raises(osx.InvalidConfigError, match="unsupported URL scheme"):
        osx.from_url("ftp://x/y")
    with pytest.raises(osx.InvalidConfigError):
        osx.from_url("file://host/abs")


async def test_closed_store_raises_and_close_is_idempotent() -> None:
    store = osx.new("memory")
    async with store as s:
        assert s is store
        await s.put("a", b"1")
    await store.close()
    with pytest.raises(osx.ObjectStoreError, match="closed"):
        await store.get("a")
    with pytest.raises(osx.ObjectStoreError, match="closed"):
        store.list()


async def test_wrong_data_types_rejected_before_io() -> None:
    store = osx.MemoryStore()
    with pytest.raises(osx.InvalidArgumentError, match="not str"):
        await store.put("a", "text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await store.put("a", 42)  # type: ignore[arg-type]
    with pytest.raises(osx.InvalidArgumentError, match="metadata"):
        await store.put("a", b"x", metadata={"k": 1})  # type: ignore[dict-item]
    with pytest.raises(osx.InvalidArgumentError, match="unknown put option"):
        await store.put_stream("a", [b"x"], colour="red")
    assert [m async for m in store.list()] == []
    await store.put("a", bytearray(b"xy"))
    await store.put("b", memoryview(b"xyz")[1:])
    assert await store.get("a") == b"xy"
    assert await store.get("b") == b"yz"


#: The top-level names the API contract (API.md) promises from ``import objectstorex as osx``.
API_NAMES = {
    # constructing a store
    *("new", "from_url", "MemoryStore", "LocalStore", "S3Store", "AzureStore", "GCSStore", "RetryConfig", "Timeouts"),
    # objects and results
    *("ObjectMeta", "PutResult", "GetResult", "ListResult", "Attributes", "UpdateVersion", "Capabilities"),
    "ObjectStream",
    # errors (objectstorex.errors, re-exported: checked below as a whole too)
    *("ObjectStoreError", "NotFoundError", "AlreadyExistsError", "PreconditionError", "NotModifiedError"),
    *("NotSupportedError", "PermissionDeniedError", "UnauthenticatedError", "InvalidPathError"),
    *("InvalidConfigError", "InvalidRangeError", "BulkDeleteError", "TransportError"),
    "patterns",
}

#: Names API.md promises that are still being built: each is exported as soon as it exists.
API_PENDING = {"IntegrityError", "ProgressEvent", "upload_file", "download_file", "copy_tree"}

#: The cloud stores, loaded on first access; one may be missing only where its SDK extra is.
LAZY_STORES = {"S3Store": "s3", "AzureStore": "azure", "GCSStore": "gcs"}


def _unavailable_extra(name: str) -> bool:
    """Whether ``osx.<name>`` is a cloud store whose missing dependency is really not installed."""
    if name not in LAZY_STORES:
        return False
    try:
        store_class(LAZY_STORES[name])
    except osx.InvalidConfigError as e:
        cause = e.__cause__
        return isinstance(cause, ImportError) and cause.name is not None and find_spec(cause.name) is None
    return False


def test_public_api_is_complete_and_sorted() -> None:
    exported = set(osx.__all__)
    assert API_NAMES - exported == set(), "names API.md promises are missing from objectstorex.__all__"
    assert set(errors.__all__) - exported == set(), "objectstorex re-exports every error"
    built = {n for n in API_PENDING if hasattr(osx, n) or hasattr(errors, n)}
    assert built - exported == set(), "a promised name that now exists is not exported"
    assert len(osx.__all__) == len(exported), "a name is listed twice"
    assert osx.__all__ == sorted(osx.__all__), "objectstorex.__all__ is not sorted"
    for name in osx.__all__:
        try:
            value = getattr(osx, name)
        except AttributeError:
            assert _unavailable_extra(name), f"objectstorex.__all__ names {name!r}, which does not exist"
            continue
        assert value is not None
        if name != "PutMode":  # a type alias has no docstring of its own
            assert value.__doc__, f"{name} has no docstring"
    namespace: dict[str, object] = {}
    if not any(_unavailable_extra(n) for n in LAZY_STORES):
        exec("from objectstorex import *", namespace)  # what a user's star import gets
        assert exported <= set(namespace)


def test_public_api_check_sees_a_missing_name(monkeypatch: pytest.MonkeyPatch) -> None:
    for broken, symptom in (
        ([n for n in osx.__all__ if n != "Timeouts"], "API.md promises are missing"),
        ([n for n in osx.__all__ if n != "InvalidArgumentError"], "re-exports every error"),
        (sorted([*osx.__all__, "NoSuchThing"]), "'NoSuchThing', which does not exist"),
        (sorted(osx.__all__, reverse=True), "not sorted"),
    ):
        monkeypatch.setattr(osx, "__all__", broken)
        with pytest.raises(AssertionError, match=symptom):
            test_public_api_is_complete_and_sorted()
    monkeypatch.undo()
    monkeypatch.setattr(osx, "__all__", [n for n in osx.__all__ if n != "copy_tree"])  # built, but not exported
    with pytest.raises(AssertionError, match="now exists is not exported"):
        test_public_api_is_complete_and_sorted()


def test_import_needs_no_cloud_sdk() -> None:
    code = (
        "import sys, objectstorex\n"
        "bad = [m for m in ('aiobotocore', 'botocore', 'azure', 'gcsfs', 'aiohttp') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
