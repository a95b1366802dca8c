"""Table-driven tests of the command line's small parsers: wildcards, sizes, durations, ranges, URLs."""

from __future__ import annotations

import pytest

from objectstorex.cli._read import parse_range
from objectstorex.cli._sizes import format_size, parse_duration, parse_size
from objectstorex.cli._urls import UsageProblem, parse_location
from objectstorex.cli._wildcards import Pattern, has_wildcard, unescape

# pattern, path, matches
MATCHES = [
    ("*.txt", "a.txt", True),
    ("*.txt", ".txt", True),
    ("*.txt", "dir/a.txt", False),  # '*' stays within one level
    ("dir/*", "dir/a", True),
    ("dir/*", "dir/sub/a", False),
    ("dir/*/a", "dir/x/a", True),
    ("dir/*/a", "dir/x/y/a", False),
    ("**", "a/b/c", True),
    ("dir/**", "dir/a", True),
    ("dir/**", "dir/a/b/c", True),
    ("dir/**", "other/a", False),
    ("**/*.gz", "x.gz", True),  # '**/' may match no level at all
    ("**/*.gz", "a/b/x.gz", True),
    ("a/**/b", "a/b", True),
    ("a/**/b", "a/x/b", True),
    ("a/**/b", "a/x/y/b", True),
    ("a/**/b", "a/xb", False),
    ("a**b", "a/x/b", True),  # '**' inside a level crosses levels too
    ("file?.txt", "file1.txt", True),
    ("file?.txt", "file10.txt", False),
    ("a?b", "a/b", False),  # '?' never matches '/'
    ("[a-c].txt", "b.txt", True),
    ("[a-c].txt", "d.txt", False),
    ("[!a-c].txt", "d.txt", True),
    ("[^a-c].txt", "a.txt", False),
    ("x[!a]y", "x/y", False),  # a negated class never matches '/'
    ("[]]", "]", True),  # a leading ']' is a member
    (r"\*.txt", "*.txt", True),  # escaped: a plain '*'
    (r"\*.txt", "a.txt", False),
    ("data[1.txt", "data[1.txt", False),  # not a pattern at all (see NOT_PATTERNS)
    ("logs/2024-0[1-3]/*.log", "logs/2024-02/app.log", True),
    ("logs/2024-0[1-3]/*.log", "logs/2024-04/app.log", False),
    ("emoji/😀*", "emoji/😀 party", True),
    ("sp ace/*", "sp ace/x y", True),
    ("plus+/*.csv", "plus+/a.csv", True),  # regex characters are plain
    ("(a)/*", "(a)/b", True),
    ("a.b/*", "aXb/c", False),
]

# pattern, the literal prefix listed once, a match, its path relative to that prefix
BASES = [
    ("logs/2024/*.gz", "logs/2024/", "logs/2024/x.gz", "x.gz"),
    ("logs/app*.log", "logs/", "logs/app1.log", "app1.log"),
    ("*.txt", "", "a.txt", "a.txt"),
    ("a/**/b", "a/", "a/x/y/b", "x/y/b"),
    ("a/b?/c", "a/", "a/b1/c", "b1/c"),
    (r"we\*ird/*", "we*ird/", "we*ird/x", "x"),
    ("/abs/dir/*.txt", "/abs/dir/", "/abs/dir/a.txt", "a.txt"),
]

NOT_PATTERNS = ["plain/path.txt", "data[1.txt", r"esc\*aped", "a]b", "x[/]y"]


@pytest.mark.parametrize(("pattern", "path", "expected"), [m for m in MATCHES if has_wildcard(m[0])])
def test_pattern_matches_whole_paths(pattern: str, path: str, expected: bool) -> None:
    assert Pattern(pattern).match(path) is expected


@pytest.mark.parametrize(("pattern", "base", "path", "relative"), BASES)
def test_pattern_lists_its_literal_prefix_once_and_keeps_relative_paths(
    pattern: str, base: str, path: str, relative: str
) -> None:
    p = Pattern(pattern)
    assert p.base == base
    assert p.match(path)
    assert p.relative(path) == relative


@pytest.mark.parametrize("text", NOT_PATTERNS)
def test_text_without_wildcards_is_literal(text: str) -> None:
    assert not has_wildcard(text)
    with pytest.raises(ValueError, match="no wildcard"):
        Pattern(text)


@pytest.mark.parametrize(
    ("text", "plain"), [(r"a\*b", "a*b"), (r"a\?b", "a?b"), (r"a\[b\]", "a[b]"), (r"a\\b", "a\\b"), (r"a\nb", r"a\nb")]
)
def test_unescape(text: str, plain: str) -> None:
    assert unescape(text) == plain


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 0),
        ("1048576", 1048576),
        ("8MiB", 8 * 1024**2),
        ("8mib", 8 * 1024**2),
        ("5MB", 5_000_000),
        ("5 MB", 5_000_000),
        ("64k", 65536),
        ("64KB", 64000),
        ("1.5GiB", 3 * 1024**3 // 2),
        ("2G", 2 * 1024**3),
        ("1TiB", 1024**4),
        ("10B", 10),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "MiB", "-1", "5XB", "8 MiBs", "1e6", "0x10"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(text)


@pytest.mark.parametrize(
    ("text", "seconds"), [("3600", 3600), ("90s", 90), ("15m", 900), ("12h", 43200), ("7d", 604800), ("1.5h", 5400)]
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-5", "1w", "soon"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("n", "text"), [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"), (5 * 1024**3, "5.0 GiB")]
)
def test_format_size(n: int, text: str) -> None:
    assert format_size(n) == text
    assert format_size(n, human=False) == str(n)


# HTTP's inclusive ranges become the Store API's half-open ones.
@pytest.mark.parametrize(
    ("text", "expected"), [("0-0", (0, 1)), ("0-1023", (0, 1024)), ("10-", (10, None)), ("-5", (-5, None))]
)
def test_parse_range(text: str, expected: tuple[int, int | None]) -> None:
    assert parse_range(text) == expected


@pytest.mark.parametrize("text", ["", "-", "5", "9-3", "a-b", "-0", "1-2-3"])
def test_parse_range_rejects(text: str) -> None:
    with pytest.raises(UsageProblem):
        parse_range(text)


@pytest.mark.parametrize(
    ("text", "kind", "provider", "bucket", "path"),
    [
        ("s3://bucket/a/b.txt", "store", "s3", "bucket", "a/b.txt"),
        ("s3://bucket", "store", "s3", "bucket", ""),
        ("s3://bucket/", "store", "s3", "bucket", ""),
        ("s3://bucket/dir/", "store", "s3", "bucket", "dir/"),
        ("s3://bucket/100%25 real", "store", "s3", "bucket", "100%25 real"),  # never percent-decoded
        ("az://container/x", "store", "azure", "container", "x"),
        ("gs://b/x", "store", "gcs", "b", "x"),
        ("memory://a/b", "store", "memory", "", "a/b"),
        ("file:///tmp/x%20y", "fs", "local", "", "/tmp/x y"),
        ("relative/dir", "fs", "local", "", "relative/dir"),
        ("-", "stdio", "stdio", "", ""),
    ],
)
def test_parse_location(text: str, kind: str, provider: str, bucket: str, path: str) -> None:
    loc = parse_location(text)
    assert (loc.kind, loc.provider, loc.bucket, loc.path) == (kind, provider, bucket, path)


@pytest.mark.parametrize("text", ["http://host/x", "s3://", "s3:///key", "s3://b*/x", "file://host/x", ""])
def test_parse_location_rejects(text: str) -> None:
    with pytest.raises(UsageProblem):
        parse_location(text)


def test_store_locations_display_as_urls() -> None:
    loc = parse_location("s3://bucket/dir/")
    assert loc.is_dir
    assert loc.store_url == "s3://bucket"
    assert loc.display("dir/a") == "s3://bucket/dir/a"
    assert not parse_location("s3://bucket/file").is_dir
