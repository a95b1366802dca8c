"""Observing stores: the ``observer=`` store option (operations and HTTP attempts).

An observer receives a call when an operation starts and ends, and around each HTTP attempt.
:class:`objectstorex.otel.OTelObserver` turns them into OpenTelemetry spans. Nothing is called,
imported or paid when a store has no observer.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["Observer"]


@runtime_checkable
class Observer(Protocol):
    """What a store calls when it has an ``observer=``; see ``docs/observability.md``."""
