"""Reporting an HTTP store's API calls and requests to its observer (the ``observer=`` option).

Used only by a store that has an observer, so a store without one pays nothing per request:

* :class:`Call` is one API call with its retries (``HttpStore._retrying``). It is the current
  call of the task (a context variable) while it runs; its operation scope opens at its first
  request, when the request names the API (``GetObject``...), and ends with the error the caller
  sees.
* :class:`ObservedTransport` wraps the store's transport: each request it sends is an attempt of
  the current call (or, for a request sent outside any retried call, an operation of its own).
"""

from __future__ import annotations

import weakref
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ...observe import Observer, OperationScope
from .errors import ServiceError
from .transport import Request, Response, Transport

if TYPE_CHECKING:
    from .store import HttpStore

__all__ = ["ApiNames", "Call", "ObservedTransport", "api_name", "url_parts"]

#: ``(method, markers, name)`` rules naming a request, first match wins. A marker is a query
#: parameter's name (``"uploadId"``), an exact parameter (``"comp=block"``), a request header's
#: lower-case name prefixed by ``"h:"`` (``"h:x-amz-copy-source"``) or a piece of the URL path
#: starting with ``"/"`` (``"/rewriteTo/"``); all markers of a rule must be present.
ApiNames = tuple[tuple[str, tuple[str, ...], str], ...]

_CALL: ContextVar[Call | None] = ContextVar("objectstorex_call", default=None)
_PORTS = {"https": 443, "http": 80}


def api_name(rules: ApiNames, request: Request) -> str:
    """The API name of ``request`` by ``rules`` (the HTTP method if none matches)."""
    url = request.url
    base, _, query = url.partition("?")
    params = query.split("&") if query else []
    names = {p.partition("=")[0] for p in params}
    headers = {h.lower() for h in request.headers}

    def present(marker: str) -> bool:
        if marker.startswith("/"):
            return marker in base
        if marker.startswith("h:"):
            return marker[2:] in headers
        return marker in params if "=" in marker else marker in names

    for method, markers, name in rules:
        if method == request.method and all(present(m) for m in markers):
            return name
    return request.method


def url_parts(url: str) -> tuple[str, str, int | None]:
    """The URL without query or fragment (a SAS or signature stays out), its host and port."""
    base = url.partition("?")[0].partition("#")[0]
    split = urlsplit(base)
    return base, split.hostname or "", split.port or _PORTS.get(split.scheme)


class Call:
    """One API call with its retries, observed; the current call of the task until :meth:`end`."""

    __slots__ = ("operation", "path", "scope", "sends", "store", "token")

    def __init__(self, store: HttpStore, operation: str, path: str | None, *, current: bool = True) -> None:
        """Start observing a call (``current``: make it the task's current call until :meth:`end`)."""
        self.store = store
        self.operation = operation
        self.path = path
        self.scope: OperationScope | None = None
        self.sends = 0
        self.token: Token[Call | None] | None = _CALL.set(self) if current else None

    def open(self, observer: Observer, request: Request) -> OperationScope:
        """The operation scope, opened at the first request (which names the API)."""
        scope = self.scope
        if scope is None:
            store = self.store
            name = api_name(store.api_names, request)
            scope = self.scope = observer.operation(
                store.provider, f"{store.api_service}.{name}", self.path, store._api_attributes(self.path, name)
            )
        return scope

    def end(self, error: BaseException | None) -> None:
        """The call ended with ``error`` (``None``: it succeeded); it is no longer current."""
        if self.token is not None:
            _CALL.reset(self.token)
            self.token = None
        if self.scope is not None:
            self.scope.end(error)


class ObservedTransport:
    """A transport that reports each request as an attempt of the current call."""

    def __init__(self, inner: Transport, observer: Observer, store: HttpStore) -> None:
        """Wrap ``inner`` for ``store`` (held weakly: a dropped store must still be collectable)."""
        self._inner = inner
        self._observer = observer
        self._store = weakref.ref(store)

    async def send(self, request: Request) -> Response:
        """Send ``request`` through the wrapped transport, reporting it."""
        store = self._store()
        call = _CALL.get()
        if store is None:  # pragma: no cover - a store sending is alive
            return await self._inner.send(request)
        own = call is not None and call.store is store
        if call is None or not own:
            call = Call(store, "", None, current=False)  # a request outside any retried call (a cleanup)
        scope = call.open(self._observer, request)
        url, server, port = url_parts(request.url)
        attempt = scope.attempt(request.method, url, server, port, call.sends)
        call.sends += 1
        try:
            response = await self._inner.send(request)
        except BaseException as e:
            attempt.end(None, e, None)
            if not own:
                call.end(e)
            raise
        status = response.status
        attempt.end(status, None, response.headers)
        if not own:
            call.end(ServiceError(status, "") if status >= 400 else None)
        return response

    async def close(self) -> None:
        """Close the wrapped transport."""
        await self._inner.close()
