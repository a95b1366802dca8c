"""The objectstorex conformance suite, shipped so any backend or endpoint can run the contract.

:class:`ConformanceSuite` is a pytest class: subclass it and provide a ``store`` fixture (see
its module docs). The plain async ``check_*`` functions each take a :class:`ConformanceContext`
and can be driven by any runner; :data:`ALL_CHECKS` lists them in order. Needs
``pip install 'objectstorex[testing]'`` (pytest, pytest-asyncio).

:class:`FaultyStore` wraps any store and injects :class:`Fault` s (errors, latency, writes whose
answer is lost) so code built on a store can be tested against failures (docs/testing.md).
"""

# ruff: noqa: E402 - the checks must be imported after their assert rewriting is registered

from __future__ import annotations

import pytest

# Rewrite the checks' asserts (as pytest does for test modules) so a failure shows the values.
pytest.register_assert_rewrite(
    *(
        f"{__name__}.{m}"
        for m in ("_attributes", "_basic", "_conditions", "_copy", "_errors", "_listing", "_ranges", "_streams")
    )
)

from ._attributes import (
    check_attributes_on_stream_upload,
    check_attributes_round_trip,
    check_tags,
)
from ._basic import (
    check_bytes_like_data,
    check_capabilities,
    check_concurrent_operations,
    check_delete_is_idempotent,
    check_delete_many,
    check_empty_object,
    check_large_object,
    check_missing_object,
    check_overwrite_replaces_whole_object,
    check_percent_sequences_stay_literal,
    check_put_get_head_delete,
    check_unicode_paths_round_trip,
    check_versions_or_not_supported,
)
from ._conditions import (
    check_concurrent_cas_increments,
    check_conditional_delete,
    check_get_condition_precedence,
    check_get_conditions_on_missing_object,
    check_get_conditions_on_object_and_stream,
    check_get_if_match,
    check_get_if_none_match,
    check_get_modified_since,
    check_get_modified_since_after_write,
    check_put_create,
    check_put_create_is_atomic,
    check_put_update_etag,
    check_put_update_version,
    check_update_version_validation,
)
from ._context import QUIRKS, ConformanceContext
from ._copy import (
    check_copy_and_rename,
    check_copy_if_not_exists,
    check_copy_if_not_exists_is_atomic,
    check_copy_missing_source,
)
from ._errors import (
    check_closed_store,
    check_error_attributes,
    check_invalid_paths_before_io,
    check_sign,
)
from ._faulty import READ_OPS, WRITE_OPS, Fault, FaultyStore, Injection
from ._listing import (
    check_list_from_root,
    check_list_many_objects,
    check_list_offset_cases,
    check_list_offset_is_exclusive,
    check_list_order_and_prefix_segments,
    check_list_prefix_excludes_object_itself,
    check_list_reflects_writes_and_deletes,
    check_list_rejects_bad_prefix,
    check_list_with_delimiter,
    check_list_with_delimiter_whole_segments,
)
from ._ranges import (
    check_get_ranges,
    check_invalid_ranges,
    check_ranges,
)
from ._streams import (
    check_get_stream,
    check_get_stream_closes,
    check_get_stream_never_mixes_versions,
    check_put_stream_aborted_on_error,
    check_put_stream_bad_input,
    check_put_stream_cancelled,
    check_put_stream_invisible_until_complete,
    check_put_stream_large_modes,
    check_put_stream_modes,
    check_put_stream_multipart,
    check_put_stream_multipart_aborted,
    check_put_stream_round_trip,
)
from ._suite import ALL_CHECKS, Check, ConformanceSuite

__all__ = [
    "ALL_CHECKS",
    "Check",
    "ConformanceContext",
    "ConformanceSuite",
    "Fault",
    "FaultyStore",
    "Injection",
    "QUIRKS",
    "READ_OPS",
    "WRITE_OPS",
    "check_attributes_on_stream_upload",
    "check_attributes_round_trip",
    "check_bytes_like_data",
    "check_capabilities",
    "check_closed_store",
    "check_concurrent_cas_increments",
    "check_concurrent_operations",
    "check_conditional_delete",
    "check_copy_and_rename",
    "check_copy_if_not_exists",
    "check_copy_if_not_exists_is_atomic",
    "check_copy_missing_source",
    "check_delete_is_idempotent",
    "check_delete_many",
    "check_empty_object",
    "check_error_attributes",
    "check_get_condition_precedence",
    "check_get_conditions_on_missing_object",
    "check_get_conditions_on_object_and_stream",
    "check_get_if_match",
    "check_get_if_none_match",
    "check_get_modified_since",
    "check_get_modified_since_after_write",
    "check_get_ranges",
    "check_get_stream",
    "check_get_stream_closes",
    "check_get_stream_never_mixes_versions",
    "check_invalid_paths_before_io",
    "check_invalid_ranges",
    "check_large_object",
    "check_list_from_root",
    "check_list_many_objects",
    "check_list_offset_cases",
    "check_list_offset_is_exclusive",
    "check_list_order_and_prefix_segments",
    "check_list_prefix_excludes_object_itself",
    "check_list_reflects_writes_and_deletes",
    "check_list_rejects_bad_prefix",
    "check_list_with_delimiter",
    "check_list_with_delimiter_whole_segments",
    "check_missing_object",
    "check_overwrite_replaces_whole_object",
    "check_percent_sequences_stay_literal",
    "check_put_create",
    "check_put_create_is_atomic",
    "check_put_get_head_delete",
    "check_put_stream_aborted_on_error",
    "check_put_stream_bad_input",
    "check_put_stream_cancelled",
    "check_put_stream_invisible_until_complete",
    "check_put_stream_large_modes",
    "check_put_stream_modes",
    "check_put_stream_multipart",
    "check_put_stream_multipart_aborted",
    "check_put_stream_round_trip",
    "check_put_update_etag",
    "check_put_update_version",
    "check_ranges",
    "check_sign",
    "check_tags",
    "check_unicode_paths_round_trip",
    "check_update_version_validation",
    "check_versions_or_not_supported",
]
