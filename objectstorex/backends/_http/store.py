"""HttpStore: every operation of an HTTP object store, written once over a provider dialect.

A provider (S3, Azure, GCS) subclasses :class:`HttpStore` and supplies only what differs -- its
addressing, signing, error codes, header <-> metadata mapping, write conditions, multipart
primitives, list page and batch delete (the hooks below, grouped by topic). Everything else is
here, once: the request choke point (default headers, signing, the status table, transit
errors), the retry loop (``Retry-After`` included), reads with local checks of conditions and
ranges, streaming reads that resume from the last byte received, ``get_ranges`` pinned to one
state, listing with paging and an exclusive offset, ``delete_many`` with a fallback, the bounded
part uploader, and reconciliation of lost answers to conditional writes.
"""

from __future__ import annotations

import asyncio
import builtins
import time
import warnings
import weakref
from abc import abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from ..._config import after_retries, network_options, retry_call
from ..._ranges import ByteRange, coalesce, http_range_header, slice_spans
from ..._store import _PLAIN_GET, BaseStore, GetOptions, PutOptions, RangeArg, check_checksum
from ..._types import Attributes, ChecksumName, GetResult, ListResult, ObjectMeta, ProgressCallback, PutResult
from ...checksums import OFF_LOOP, digest, digest_async, encode, hasher, have_crc32c, resolve, update_async
from ...errors import (
    AlreadyExistsError,
    IntegrityError,
    InvalidConfigError,
    InvalidRangeError,
    NotFoundError,
    ObjectStoreError,
    PreconditionError,
    TransportError,
)
from ...observe import Observer
from ...paths import KeyPrefix, validate_prefix
from ...preconditions import GetConditions, PutMode, UpdateVersion, check_get, http_get_headers, quote_etag
from ...progress import SENDING, PartSent, Reporter, read_counted
from .errors import TRANSPORT_ERRORS, ErrorCodes, ServiceError, error_for, retry_after, transport_error
from .headers import content_length, content_range
from .observed import ApiNames, Call, ObservedTransport
from .resume import resuming_body, to_eof
from .transport import AiohttpTransport, Request, Response, Transport
from .upload import PartReader, PartUploader

__all__ = [
    "MIB",
    "Answer",
    "HttpStore",
    "ListPage",
    "Upload",
    "check_default_headers",
    "gather_or_cancel",
    "service_code",
]

T = TypeVar("T")

MIB = 1024 * 1024
_STREAM_BUFFER = 4 * MIB  # read buffer of streaming reads: small reads cost throughput
_RESERVED_HEADERS = frozenset(
    (
        "authorization",
        "host",
        "content-length",
        "transfer-encoding",
        "x-amz-date",
        "x-amz-content-sha256",
        "x-amz-security-token",
        "x-ms-date",
        "x-ms-version",
    )
)
_NO_CONDITIONS = GetConditions()


@dataclass(frozen=True, slots=True)
class Answer:
    """A complete answer: status, headers and body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class ListPage:
    """One page of a listing, in provider keys.

    Attributes:
        objects: the objects, with ``location`` already mapped to store paths.
        prefixes: the sub-"directory" keys (with or without the trailing ``/``).
        token: the continuation token, ``None`` on the last page.
    """

    objects: builtins.list[ObjectMeta]
    prefixes: builtins.list[str]
    token: str | None


@dataclass(slots=True)
class Upload:
    """A multipart/block/resumable upload in progress (``state`` is the dialect's)."""

    path: str
    key: str
    opts: PutOptions
    state: Any
    parts: dict[int, Any]


async def gather_or_cancel(aws: Iterable[Coroutine[Any, Any, T]]) -> builtins.list[T]:
    """``asyncio.gather`` that cancels (and awaits) the others as soon as one fails."""
    tasks = [asyncio.ensure_future(aw) for aw in aws]
    try:
        return builtins.list(await asyncio.gather(*tasks))
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def check_default_headers(value: object, provider: str) -> dict[str, str]:
    """Validate the ``default_headers`` store option.

    Raises:
        InvalidConfigError: not a mapping of header names to single-line values, or a header
            the store signs or frames itself (Authorization, Host, Content-Length, ...).
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidConfigError("option 'default_headers' must be a mapping of str to str", provider=provider)
    out: dict[str, str] = {}
    for name, v in value.items():
        if not isinstance(name, str) or not name or not name.isascii() or not isinstance(v, str):
            raise InvalidConfigError(
                f"option 'default_headers' must map header names to str values (bad entry {name!r})", provider=provider
            )
        if any(c in name for c in " :\r\n\t") or any(c in v for c in "\r\n"):
            raise InvalidConfigError(f"option 'default_headers': malformed header {name!r}", provider=provider)
        if name.lower() in _RESERVED_HEADERS:
            raise InvalidConfigError(
                f"option 'default_headers' cannot set {name!r}: the store signs or frames it itself", provider=provider
            )
        out[name] = v
    return out


class HttpStore(KeyPrefix, BaseStore):
    """The shared implementation of the HTTP stores (S3, Azure, GCS); providers subclass it.

    Subclasses call :meth:`_init_http` from their constructor and implement the abstract hooks.
    """

    #: The provider's error codes (data for the shared status table).
    codes: ClassVar[ErrorCodes] = ErrorCodes()
    #: The request header carrying a read range (Azure: ``x-ms-range``).
    range_header: ClassVar[str] = "Range"
    #: Whether the service understands suffix ranges (``bytes=-n``); if not, the size is read first.
    suffix_ranges: ClassVar[bool] = True
    #: Whether the service takes If-(Un)Modified-Since on reads (GCS's JSON API does not).
    date_conditions: ClassVar[bool] = True
    #: Headers sent with every request unless a request sets them.
    session_headers: ClassVar[Mapping[str, str]] = {"Accept-Encoding": "identity"}
    #: Paths per batch delete request (0: no batch API).
    batch_size: ClassVar[int] = 0
    #: Objects per listing page.
    page_size: ClassVar[int] = 1000
    #: For observers (``observer=``): the service prefix of API names (``S3`` in ``S3.GetObject``),
    #: the rules naming each request's API call (see :data:`.observed.ApiNames`), and the
    #: attributes of every call (OpenTelemetry semantic conventions).
    api_service: ClassVar[str] = "HTTP"
    api_names: ClassVar[ApiNames] = ()
    api_attributes: ClassVar[Mapping[str, str]] = {}
    #: Headers a whole read sends to get the stored checksum back (S3: ``x-amz-checksum-mode``).
    checksum_read_headers: ClassVar[Mapping[str, str]] = {}

    def _init_http(
        self,
        *,
        prefix: object,
        retry: object,
        timeouts: object,
        default_headers: object = None,
        checksum: object = "auto",
        observer: object = None,
    ) -> None:
        """Validate and keep the options every HTTP store has."""
        provider = self.provider
        self._checksum: ChecksumName = check_checksum(checksum, provider=provider)
        self._resolved_checksum: tuple[str | None] | None = None
        # The headers of a read without conditions or range (the stored checksum asked back), once.
        self._plain_read_headers: Mapping[str, str] = self.checksum_read_headers if self._checksum != "off" else {}
        if observer is not None and not isinstance(observer, Observer):
            raise InvalidConfigError("option 'observer' must be an objectstorex.observe.Observer", provider=provider)
        self._observer: Observer | None = observer
        self._retry, self._timeouts = network_options(retry, timeouts, provider)
        self._prefix = validate_prefix(prefix, provider=provider)
        self._extra_headers = check_default_headers(default_headers, provider)
        self._transport: Transport | None = None
        self._transport_factory: Callable[[], Transport] | None = None
        self._guard: asyncio.Task[None] | None = None  # releases the connections of a store never closed
        self._label = ""

    # ------------------------------------------------------------------------------ lifecycle

    def _use_transport(self, factory: Callable[[], Transport]) -> None:
        """Send through ``factory()`` instead of aiohttp (the seam of the table-driven tests)."""
        self._transport_factory = factory

    async def _open(self) -> None:
        factory = self._transport_factory
        transport = (
            factory() if factory is not None else AiohttpTransport(self._timeouts, session_headers=self.session_headers)
        )
        if self._observer is not None:
            transport = ObservedTransport(transport, self._observer, self)  # observed: no cost to other stores
        self._transport = transport
        try:
            await self._open_provider()
        except BaseException:
            self._transport = None
            await transport.close()
            raise
        self._label = repr(self)
        self._guard = guard = asyncio.get_running_loop().create_task(
            _guard(transport, self._label), name=f"objectstorex {self._label} guard"
        )
        _GUARDS.add(guard)  # the loop keeps tasks only weakly; the store may be dropped
        guard.add_done_callback(_GUARDS.discard)
        await asyncio.sleep(0)  # let the guard reach its wait: a task cancelled before it starts runs nothing

    async def _close(self) -> None:
        guard, self._guard = self._guard, None
        if guard is not None:
            _CLOSED.add(guard)
            guard.cancel()
            await asyncio.wait([guard])
        try:
            await self._close_provider()
        finally:
            transport, self._transport = self._transport, None
            if transport is not None:
                await transport.close()

    def __del__(self) -> None:
        guard = getattr(self, "_guard", None)
        if guard is None or getattr(self, "_closed", True):
            return
        # Dropped while open: the guard releases the connections on the store's loop and
        # warns once. If that loop is gone, the connections went with it; warn here.
        try:
            guard.cancel()
        except RuntimeError:
            warnings.warn(_unclosed(self._label), ResourceWarning, stacklevel=2)

    async def _open_provider(self) -> None:
        """Acquire the provider's resources (credentials); the transport is ready."""

    async def _close_provider(self) -> None:
        """Release the provider's resources (before the transport closes)."""

    # ------------------------------------------------------------------------------ dialect hooks

    @abstractmethod
    def _url(self, key: str | None, query: Mapping[str, str] | None = None) -> str:
        """The encoded URL of ``key`` (``None``: the bucket/container) with ``query``."""

    @abstractmethod
    async def _authorize(self, request: Request) -> None:
        """Sign ``request`` in place (after default headers were merged into it)."""

    @abstractmethod
    def _error_code(self, answer: Answer) -> str:
        """The provider's error code of an error answer (``""`` if none); never the raw body."""

    @abstractmethod
    def _meta(self, path: str, headers: Mapping[str, str]) -> ObjectMeta:
        """The object's metadata from the headers of a read or HEAD answer."""

    @abstractmethod
    def _attributes(self, headers: Mapping[str, str]) -> Attributes:
        """The object's attributes and user metadata from the headers of a read answer."""

    def _version_query(self, version: str | None) -> dict[str, str] | None:
        """The query naming ``version`` (S3 ``versionId``, GCS ``generation``)."""
        return None

    def _read_query(self, version: str | None) -> dict[str, str] | None:
        """The query of a media read of one version (GCS adds ``alt=media``)."""
        return self._version_query(version)

    def _pin(self, meta: ObjectMeta) -> tuple[dict[str, str], dict[str, str] | None]:
        """Headers and query that make a read fail unless the object is still in ``meta``'s state."""
        headers = {"If-Match": quote_etag(meta.etag)} if meta.etag else {}
        return headers, self._read_query(meta.version)

    def _decode(self, headers: Mapping[str, str], data: bytes, path: str) -> bytes:
        """The stored bytes of a whole read's body (GCS undoes a transit-only gzip)."""
        return data

    def _stored_checksums(self, headers: Mapping[str, str]) -> dict[str, str]:
        """The whole object's stored checksums in a read answer, by algorithm, as the provider encodes them.

        Composite checksums (S3 ``-N`` values: a checksum of the parts' checksums) are left out.
        """
        return {}

    def _algorithm(self, opts: PutOptions) -> str | None:
        """The checksum a write sends (``None``: none), from the call's ``checksum=`` or the store's.

        Raises:
            NotSupportedError: the provider cannot store it or its library is missing (before any I/O).
        """
        if opts.checksum is not None:
            return resolve(opts.checksum, self.provider)
        resolved = self._resolved_checksum
        if resolved is None:  # resolved once (every write asks), and only once it succeeds
            resolved = self._resolved_checksum = (resolve(self._checksum, self.provider),)
        return resolved[0]

    async def _head_answer(self, path: str, version: str | None) -> ObjectMeta:
        """``head``: a HEAD request by default (GCS reads its JSON resource)."""
        answer = await self._call(
            "head",
            path,
            lambda: Request("HEAD", self._url(self._key(path), self._version_query(version))),
            version=version is not None,
        )
        return self._meta(path, answer.headers)

    # writes

    @abstractmethod
    async def _put_request(self, path: str, data: bytes | memoryview, opts: PutOptions) -> Request:
        """The request writing ``data`` whole with ``opts``' attributes and the mode's condition."""

    @abstractmethod
    def _put_result(self, answer: Answer) -> PutResult:
        """The result of a successful write answer."""

    async def _landed(self, path: str, data: bytes | memoryview, request: Request) -> PutResult | None:
        """Whether the object now at ``path`` is what ``request`` wrote (a lost answer's proof)."""
        return None

    def _part_size(self, requested: int | None) -> int:
        """The part size of a streaming upload (providers clamp to their limits)."""
        return requested or 8 * MIB

    def _concurrency(self, requested: int | None) -> int:
        """Parts in flight at once."""
        return max(1, requested or 4)

    @abstractmethod
    async def _begin_upload(self, path: str, key: str, opts: PutOptions) -> Any:
        """Start a multipart/block/resumable upload; the state goes to the other upload hooks."""

    @abstractmethod
    async def _upload_part(self, upload: Upload, number: int, offset: int, data: memoryview, last: bool) -> Any:
        """Upload part ``number`` (1-based) at ``offset``; return what completion needs of it."""

    @abstractmethod
    async def _complete_upload(self, upload: Upload) -> PutResult:
        """Commit the parts with the put mode's condition (lost answers are reconciled by the dialect)."""

    async def _abort_upload(self, upload: Upload) -> None:
        """Discard an upload that failed or was cancelled (best effort)."""

    def _failed_inside(self, request: Request, answer: Answer) -> tuple[int, str] | None:
        """``(status, code)`` of a failure reported inside a success answer (S3's 200 with ``<Error>``)."""
        return None

    # listing and bulk

    @abstractmethod
    async def _list_page(self, key_prefix: str, *, delimiter: bool, start: str | None, token: str | None) -> ListPage:
        """One listing page under ``key_prefix``; ``start``: list keys after this one (may be inclusive)."""

    async def _delete_batch(self, paths: builtins.list[str]) -> builtins.list[tuple[int | None, str]] | None:
        """Delete through the batch API; ``(status, code)`` per path, or ``None`` if there is none.

        Called once per batch: the dialect retries inside (with :meth:`_call`, re-signing each attempt);
        a batch that still fails is tried path by path.
        """
        return None

    # ------------------------------------------------------------------------------ requests

    async def _send(
        self,
        operation: str,
        path: str | None,
        request: Request,
        *,
        mode: PutMode | None = None,
        version: bool = False,
        ok: tuple[int, ...] = (),
    ) -> Response:
        """Send one request and return the open response (2xx or ``ok``): the one choke point.

        Default headers go under the request's own, the dialect signs, an error answer becomes
        the objectstorex error of the status table, a failure in transit a TransportError.
        """
        transport = self._transport
        if transport is None:
            raise ObjectStoreError(f"the {self.provider} store is closed", provider=self.provider)
        defaults = self._extra_headers
        if defaults:
            own = {name.lower() for name in request.headers}  # header names are case-insensitive
            request.headers = {**{k: v for k, v in defaults.items() if k.lower() not in own}, **request.headers}
        try:
            await self._authorize(request)
            sending = None if request.body is None else SENDING.get()
            if sending is not None:
                sending.sending(len(request.body))  # type: ignore[arg-type]
            response = await transport.send(request)
        except ObjectStoreError:
            raise
        except TRANSPORT_ERRORS as e:
            raise transport_error(e, provider=self.provider, operation=operation, path=path) from e
        except RuntimeError as e:
            # Diagnosed only when it happens: the hot path pays nothing for this check.
            foreign = self._foreign_loop(operation)
            if foreign is None:
                raise
            raise foreign from e
        if sending is not None:
            try:
                sending.sent(len(request.body))  # type: ignore[arg-type]
            except BaseException:
                response.close()  # the progress callable raised: the transfer stops here
                raise
        status = response.status
        if status < 300 or status in ok:
            return response
        try:
            body = b"" if request.method == "HEAD" else await response.read()
        except TRANSPORT_ERRORS:
            body = b""
        finally:
            response.release()
        answer = Answer(status, response.headers, body)
        code = self._error_code(answer)
        error = self._refused_checksum(operation, path, request, answer, code) or self._error(
            operation, path, status, code, mode=mode, version=version
        )
        error.retry_after = retry_after(response.headers.get("Retry-After"))
        raise error

    def _foreign_loop(self, operation: str) -> ObjectStoreError | None:
        """The clear error for a store used outside the event loop that opened it, else ``None``.

        aiohttp's connections belong to that loop: from another one, asyncio says "attached to
        a different loop"; once that loop has ended (the store's guard released the
        connections), aiohttp says "Session is closed".
        """
        guard = self._guard
        if guard is None:
            return None
        if guard.done():
            why = "the event loop that opened it has ended, and its connections with it"
        else:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                return None
            if guard.get_loop() is running:
                return None
            why = "it was opened on another event loop, where its connections live"
        return ObjectStoreError(
            f"{operation}: the {self.provider} store cannot be used here: {why}. A network store "
            "belongs to the loop that opened it: open (and close) one per event loop, e.g. inside "
            "each asyncio.run()",
            provider=self.provider,
        )

    def _refused_checksum(
        self, operation: str, path: str | None, request: Request, answer: Answer, code: str
    ) -> IntegrityError | None:
        """The IntegrityError for an upload the service refused because its checksum did not match."""
        return None

    def _error(
        self,
        operation: str,
        path: str | None,
        status: int | None,
        code: str,
        *,
        mode: PutMode | None = None,
        version: bool = False,
    ) -> ObjectStoreError:
        """The objectstorex error for an answer (the shared status table), chaining the service's."""
        error = error_for(
            status,
            code,
            codes=self.codes,
            provider=self.provider,
            operation=operation,
            path=path,
            mode=mode,
            version=version,
        )
        error.__cause__ = ServiceError(status, code)
        return error

    async def _retrying(
        self, operation: str, path: str | None, attempt: Callable[[], Awaitable[T]], mode: PutMode | None = None
    ) -> T:
        """Run ``attempt`` under the retry policy; what outlives it is reported as the contract says.

        One call of the provider's API: with an observer, one operation (its attempts are the requests sent).
        Without one, the first attempt runs directly (most succeed); a retryable failure hands over
        to the policy's loop (:meth:`_retry_rest`).
        """
        if self._observer is None:
            started = time.monotonic()
            try:
                return await attempt()
            except ObjectStoreError as e:
                first = e
            return await self._retry_rest(operation, path, attempt, mode, first, started)
        call = Call(self, operation, path)
        try:
            result = await retry_call(attempt, self._retry, operation=operation)
        except ObjectStoreError as e:
            final = self._after_retries(e, mode)
            call.end(final)
            if final is e:
                raise
            raise final from e
        except BaseException as e:
            call.end(e)
            raise
        call.end(None)
        return result

    async def _retry_rest(
        self,
        operation: str,
        path: str | None,
        attempt: Callable[[], Awaitable[T]],
        mode: PutMode | None,
        first: ObjectStoreError,
        started: float,
    ) -> T:
        """After a first attempt (run directly, unobserved) failed with ``first``: the policy's loop.

        The loop takes ``first`` as its own first attempt's failure: the same count, backoff and
        logging, and the time budget less what that attempt took.
        """
        config = self._retry
        if first.retryable:
            if config.total_timeout is not None:
                config = replace(config, total_timeout=max(0.0, config.total_timeout - (time.monotonic() - started)))
            pending = [first]

            async def replay() -> T:
                if pending:
                    raise pending.pop()
                return await attempt()

            try:
                return await retry_call(replay, config, operation=operation)
            except ObjectStoreError as e:
                first = e
        final = self._after_retries(first, mode)
        if final is first:
            raise first
        raise final from first

    def _api_attributes(self, path: str | None, name: str) -> dict[str, str]:
        """The attributes observers get for API call ``name`` on ``path`` (the dialect adds per-call ones)."""
        return dict(self.api_attributes)

    def _after_retries(self, e: ObjectStoreError, mode: PutMode | None) -> ObjectStoreError:
        if e.retryable and service_code(e) in self.codes.conflict:
            # Another conditional write kept winning: ours lost, as the mode says.
            if mode == "create":
                return AlreadyExistsError(str(e), path=e.path, provider=self.provider, status=e.status)
            if isinstance(mode, UpdateVersion):
                return PreconditionError(str(e), path=e.path, provider=self.provider, status=e.status)
        return after_retries(e)

    async def _once(
        self,
        operation: str,
        path: str | None,
        request: Request,
        *,
        mode: PutMode | None = None,
        version: bool = False,
        ok: tuple[int, ...] = (),
    ) -> Answer:
        """One attempt, read whole (no retry: for hooks that the core already retries, like ``_list_page``)."""
        response = await self._send(operation, path, request, mode=mode, version=version, ok=ok)
        try:
            body = await response.read()
        except TRANSPORT_ERRORS as e:
            response.close()
            raise transport_error(e, provider=self.provider, operation=operation, path=path) from e
        response.release()
        answer = Answer(response.status, response.headers, body)
        failed = self._failed_inside(request, answer)
        if failed is not None:
            # Inside the attempt: a transient failure reported this way is retried like a 5xx.
            raise self._error(operation, path, failed[0], failed[1], mode=mode, version=version)
        return answer

    async def _call(
        self,
        operation: str,
        path: str | None,
        make: Callable[[], Request],
        *,
        mode: PutMode | None = None,
        version: bool = False,
        ok: tuple[int, ...] = (),
    ) -> Answer:
        """One request with retries, read whole (``make`` builds a fresh request per attempt)."""

        async def attempt() -> Answer:
            return await self._once(operation, path, make(), mode=mode, version=version, ok=ok)

        if self._observer is not None:
            return await self._retrying(operation, path, attempt, mode)
        # Unobserved: the first attempt inline (one coroutine less per request; most succeed).
        started = time.monotonic()
        try:
            return await self._once(operation, path, make(), mode=mode, version=version, ok=ok)
        except ObjectStoreError as e:
            first = e
        return await self._retry_rest(operation, path, attempt, mode, first, started)

    async def _reconciled(
        self,
        operation: str,
        path: str,
        mode: PutMode,
        make: Callable[[], Request],
        proves: Callable[[], Awaitable[PutResult | None]],
        *,
        gone: frozenset[str] = frozenset(),
        ok: tuple[int, ...] = (),
    ) -> Answer | PutResult:
        """A conditional write whose lost answer is told apart from a real conflict.

        The request is never resent by the HTTP library. If an attempt may have landed (a
        failure in transit, a 5xx) and a retry then fails its condition (or finds the upload
        already completed: ``gone`` codes), ``proves()`` checks whether what is stored is what
        we sent; if so the write was ours and succeeded.
        """
        maybe_landed = False

        async def attempt() -> Answer:
            nonlocal maybe_landed
            request = make()
            request.resend = False
            try:
                return await self._once(operation, path, request, mode=mode, ok=ok)
            except ObjectStoreError as e:
                if e.retryable and (e.status is None or e.status >= 500):
                    maybe_landed = True
                raise

        try:
            return await self._retrying(operation, path, attempt, mode)
        except ObjectStoreError as e:
            code = service_code(e)
            if maybe_landed and (isinstance(e, (AlreadyExistsError, PreconditionError)) or code in gone):
                proven = await proves()
                if proven is not None:
                    return proven
                if code in gone:
                    cls = AlreadyExistsError if mode == "create" else PreconditionError
                    raise cls(
                        f"{operation} {path!r}: the upload was completed by another attempt, not with our data",
                        path=path,
                        provider=self.provider,
                        status=e.status,
                    ) from e
            raise

    # ------------------------------------------------------------------------------ reads

    def _read_request(self, key: str, opts: GetOptions, extra: Mapping[str, str] | None = None) -> Request:
        if opts is _PLAIN_GET and not extra:  # a plain read: its headers are the same every time
            return Request("GET", self._url(key, self._read_query(None)), dict(self._plain_read_headers))
        headers: dict[str, str] = (
            http_get_headers(opts.conditions, dates=self.date_conditions) if opts.conditions else {}
        )
        if opts.range is not None:
            headers[self.range_header] = http_range_header(opts.range)
        else:
            headers.update(self._plain_read_headers)
        if extra:
            headers.update(extra)
        return Request("GET", self._url(key, self._read_query(opts.version)), headers)

    def _check_read(self, path: str, opts: GetOptions, meta: ObjectMeta, operation: str) -> None:
        """The checks every provider makes on a read's answer, before its body is read.

        The conditions are evaluated again on the answer's own ETag and Last-Modified (they
        describe exactly the bytes that follow): that is how ``*`` and the date conditions of
        APIs without them are honoured, and a server that ignores conditions cannot hand out
        the wrong answer.
        """
        if opts.conditions:
            check_get(opts.conditions, meta, provider=self.provider)
        r = opts.range
        if r is not None and (meta.size == 0 or (r.suffix is None and r.start >= meta.size)):
            raise InvalidRangeError(
                f"{operation} {path!r}: range {r} is not satisfiable on {meta.size} bytes",
                path=path,
                provider=self.provider,
            )

    async def _planned(self, path: str, opts: GetOptions, operation: str) -> tuple[GetOptions, dict[str, str]]:
        """For a suffix range on a service without them: the concrete range, pinned to the size's state."""
        r = opts.range
        if r is None or r.suffix is None or self.suffix_ranges:
            return opts, {}
        meta = await self._head(path, opts.version)
        if opts.conditions:
            check_get(opts.conditions, meta, provider=self.provider)
        start, end = r.resolve(meta.size, path=path, provider=self.provider)
        pin, _ = self._pin(meta)
        return GetOptions(opts.conditions, ByteRange(start, end), opts.version), pin

    async def _open_read(
        self, path: str, opts: GetOptions, operation: str, read_bufsize: int | None = None
    ) -> tuple[Response, ObjectMeta, GetOptions]:
        """Send the read (retried) and check its answer; the open response, its metadata and the plan."""
        key = self._key(path)
        for _ in range(3):
            planned, pin = await self._planned(path, opts, operation)

            async def attempt(planned: GetOptions = planned, pin: dict[str, str] = pin) -> tuple[Response, ObjectMeta]:
                request = self._read_request(key, planned, pin)
                request.read_bufsize = read_bufsize
                response = await self._send(operation, path, request, version=opts.version is not None)
                try:
                    meta = self._meta(path, response.headers)
                    self._check_read(path, planned, meta, operation)
                except BaseException:
                    response.close()  # drop the connection rather than download a body nobody reads
                    raise
                return response, meta

            try:
                response, meta = await self._retrying(operation, path, attempt)
            except PreconditionError:
                if not pin or opts.conditions.if_match is not None:
                    raise
                continue  # the object changed between the size lookup and the read: plan again
            return response, meta, planned
        raise PreconditionError(f"{operation} {path!r}: the object keeps changing", path=path, provider=self.provider)

    def _span(self, response: Response, path: str) -> tuple[int, int, int | None] | None:
        """The ``[start, end)`` a 206 answer holds (and the total), ``None`` for a whole-object answer."""
        if response.status != 206:
            return None
        return content_range(response.headers, provider=self.provider, path=path)

    async def get(
        self,
        path: str,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since: datetime | None = None,
        if_unmodified_since: datetime | None = None,
        range: RangeArg = None,
        version: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> bytes:
        # No docstring: Store.get's. A plain read skips building the attributes it does not return.
        if (
            range is None
            and version is None
            and progress is None
            and if_match is None
            and if_none_match is None
            and if_modified_since is None
            and if_unmodified_since is None
        ):
            self._check_not_closed()
            path = self._path(path)
            if not self._live:
                await self._ensure_open()
            return (await self._read_whole(path, _PLAIN_GET, described=False))[2]
        return await super().get(
            path,
            if_match=if_match,
            if_none_match=if_none_match,
            if_modified_since=if_modified_since,
            if_unmodified_since=if_unmodified_since,
            range=range,
            version=version,
            progress=progress,
        )

    async def _get(self, path: str, opts: GetOptions) -> GetResult:
        headers, meta, data = await self._read_whole(path, opts)
        assert meta is not None  # described: always built
        return GetResult(data, meta, self._attributes(headers))

    async def _read_whole(
        self, path: str, opts: GetOptions, *, described: bool = True
    ) -> tuple[Mapping[str, str], ObjectMeta | None, bytes]:
        """A whole read, checked: the answer's headers, the object's metadata and the bytes.

        ``described=False`` (a plain ``get``, which returns the bytes alone, with ``_PLAIN_GET``
        options: nothing to check against the answer's metadata) skips building the metadata.
        """
        key = self._key(path)
        reporter = None if opts.progress is None else Reporter(opts.progress, path)

        async def attempt() -> tuple[Response, ObjectMeta | None, bytes, GetOptions]:
            # The body is read inside the attempt: a reset, truncation or stall mid-body is retried.
            r = opts.range
            if r is None or r.suffix is None or self.suffix_ranges:
                planned, pin = opts, None  # no size lookup to plan (and no coroutine for it)
            else:
                planned, pin = await self._planned(path, opts, "get")
            request = self._read_request(key, planned, pin)
            response = await self._send("get", path, request, version=opts.version is not None)
            try:
                meta = self._meta(path, response.headers) if described else None
                if planned is not _PLAIN_GET:
                    assert meta is not None  # options with conditions or a range are described
                    self._check_read(path, planned, meta, "get")
                if reporter is None:
                    data = await response.read()
                else:
                    reporter.start(content_length(response.headers, provider=self.provider, path=path))
                    reporter.rewind(reporter.transferred)  # a read again from the start
                    data = await read_counted(response.content, reporter)
            except TRANSPORT_ERRORS as e:
                response.close()
                raise transport_error(e, provider=self.provider, operation="get", path=path) from e
            except BaseException:
                response.close()
                raise
            response.release()
            return response, meta, data, planned

        for tries in (1, 2):
            response, meta, data, planned = await self._retrying("get", path, attempt)
            data = self._decode(response.headers, data, path)
            if response.status != 200 or planned.range is not None:
                break  # a range read: the stored checksum covers the whole object only
            expected = self._expected_checksum(response.headers)
            if expected is None:
                break  # nothing to check against
            algorithm, value = expected
            # A small body is hashed right here (digest_async would only add a coroutine).
            actual = encode(digest(algorithm, data) if len(data) <= OFF_LOOP else await digest_async(algorithm, data))
            if actual == value:
                break
            if tries == 2:
                raise self._integrity_error("get", path, algorithm, value, actual)
            # corrupted on the way: read it again, once
        if (
            meta is not None
            and response.status == 200
            and content_length(response.headers, provider=self.provider, path=path) is None
        ):
            meta = replace(meta, size=len(data))  # a chunked answer: its size is what arrived
        if planned.range is not None and self._span(response, path) is None:
            # A server that ignored the range: apply it here.
            start, end = planned.range.resolve(len(data), path=path, provider=self.provider)
            data = data[start:end]
        if reporter is not None:
            reporter.finish()
        return response.headers, meta, data

    async def _open_stream(
        self, path: str, opts: GetOptions, chunk_size: int
    ) -> tuple[ObjectMeta, AsyncIterator[bytes]]:
        bufsize = max(MIB, min(chunk_size, _STREAM_BUFFER))  # bounded: aiohttp buffers <= 2x this
        response, meta, planned = await self._open_read(path, opts, "get_stream", bufsize)
        try:
            span = self._span(response, path)
            if span is not None:
                start, end, _ = span
                position = start
            elif planned.range is not None:
                start, end = planned.range.resolve(meta.size, path=path, provider=self.provider)
                position = 0  # the server ignored the range: skip to the start
            elif content_length(response.headers, provider=self.provider, path=path) is None:
                # A chunked answer (some gateways): read to its end, no resume.
                body = to_eof(response, chunk_size, self._lost_stream(path))
                return meta, self._verified_stream(path, response.headers, body)
            else:
                start, end, position = 0, meta.size, 0
        except BaseException:
            response.close()
            raise
        pin_headers, pin_query = self._pin(meta)
        pinned = bool(pin_headers) or meta.version is not None
        key = self._key(path)

        async def reopen(at: int) -> Response:
            headers = {**pin_headers, self.range_header: f"bytes={at}-{end - 1}"}
            request_url = self._url(key, pin_query if pin_query is not None else self._read_query(opts.version))

            async def attempt() -> Response:
                response = await self._send(
                    "get_stream", path, Request("GET", request_url, dict(headers), read_bufsize=bufsize)
                )
                span = self._span(response, path)
                if span is None or span[0] != at:
                    response.close()
                    raise TransportError(
                        f"get_stream {path!r}: the server ignored the resume range", path=path, provider=self.provider
                    )
                return response

            try:
                return await self._retrying("get_stream", path, attempt)
            except (PreconditionError, NotFoundError) as e:
                # The pin failed: resuming would mix two states of the object.
                raise PreconditionError(
                    f"get_stream {path!r}: the connection dropped and the object changed since; cannot resume",
                    path=path,
                    provider=self.provider,
                    status=e.status,
                ) from e

        body = resuming_body(
            response,
            position=position,
            start=start,
            end=end,
            chunk_size=chunk_size,
            reopen=reopen if pinned else None,
            retry=self._retry,
            lost=self._lost_stream(path),
        )
        if span is None and planned.range is None:
            body = self._verified_stream(path, response.headers, body)
        return meta, body

    def _expected_checksum(self, headers: Mapping[str, str]) -> tuple[str, str] | None:
        """The stored checksum a whole read is checked against: ``(algorithm, encoded)``, or ``None``."""
        if self._checksum == "off":
            return None
        stored = self._stored_checksums(headers)
        for algorithm in ("crc32c", "crc32", "sha256", "md5"):  # the cheapest first
            value = stored.get(algorithm)
            if value and (algorithm != "crc32c" or have_crc32c()):  # have_crc32c: cached once found
                return algorithm, value
        return None

    def _integrity_error(self, operation: str, path: str, algorithm: str, expected: str, actual: str) -> IntegrityError:
        return IntegrityError(
            f"{operation} {path!r}: the bytes received do not match the stored checksum",
            algorithm=algorithm,
            expected=expected,
            actual=actual,
            path=path,
            provider=self.provider,
        )

    def _verified_stream(
        self, path: str, headers: Mapping[str, str], body: AsyncIterator[bytes]
    ) -> AsyncIterator[bytes]:
        """``body`` checked as it streams: the last chunk is held back until the whole checksum matches."""
        expected = self._expected_checksum(headers)
        if expected is None:
            return body
        algorithm, value = expected

        async def verified() -> AsyncIterator[bytes]:
            h = hasher(algorithm)
            held: bytes | None = None
            try:
                async for chunk in body:
                    await update_async(h, chunk)
                    if held is not None:
                        yield held
                    held = chunk
                actual = encode(h.digest())
                if actual != value:
                    raise self._integrity_error("get_stream", path, algorithm, value, actual)
                if held is not None:
                    yield held
            finally:
                close = getattr(body, "aclose", None)
                if close is not None:
                    await close()

        return verified()

    def _lost_stream(self, path: str) -> Callable[[BaseException, int], ObjectStoreError]:
        def lost(exc: BaseException, position: int) -> ObjectStoreError:
            return TransportError(
                f"get_stream {path!r}: connection lost at byte {position} ({type(exc).__name__})",
                path=path,
                provider=self.provider,
            )

        return lost

    async def _get_ranges(self, path: str, ranges: builtins.list[ByteRange]) -> builtins.list[bytes]:
        """One size lookup, then the coalesced spans fetched concurrently, all pinned to its state."""
        if len(ranges) == 1 and (ranges[0].suffix is None or self.suffix_ranges):
            return [(await self._get(path, GetOptions(_NO_CONDITIONS, ranges[0]))).data]
        meta = await self._head(path, None)
        resolved = [r.resolve(meta.size, path=path, provider=self.provider) for r in ranges]
        spans = coalesce(resolved)
        pin_headers, pin_query = self._pin(meta)
        url = self._url(self._key(path), pin_query)

        async def fetch(span: tuple[int, int]) -> bytes:
            headers = {**pin_headers, self.range_header: f"bytes={span[0]}-{span[1] - 1}"}
            try:
                answer = await self._call("get_ranges", path, lambda: Request("GET", url, dict(headers)))
            except NotFoundError as e:
                raise PreconditionError(
                    f"get_ranges {path!r}: the object changed while it was read", path=path, provider=self.provider
                ) from e
            if answer.status != 206:
                return answer.body[span[0] : span[1]]  # a server that ignored the range
            return answer.body

        blobs = await gather_or_cancel(fetch(s) for s in spans)
        return slice_spans(resolved, spans, blobs)

    async def _head(self, path: str, version: str | None) -> ObjectMeta:
        return await self._head_answer(path, version)

    async def _copy_reported(self, src: str, dst: str, overwrite: bool, progress: ProgressCallback) -> None:
        """A dialect's ``_copy`` reporting progress: the source's size first, all of it once the copy is stored."""
        size = (await self._head(src, None)).size  # a missing source fails here, before any event
        reporter = Reporter(progress, dst, size)
        reporter.start()
        await self._copy(src, dst, overwrite=overwrite)
        reporter.add(size)
        reporter.finish()

    # ------------------------------------------------------------------------------ writes

    async def _put(self, path: str, data: bytes | memoryview, opts: PutOptions) -> PutResult:
        if opts.progress is not None:
            return await self._put_reported(path, data, opts)
        self._algorithm(opts)  # an unusable checksum fails before any I/O
        request = await self._put_request(path, data, opts)
        if opts.mode == "overwrite":
            answer = await self._call("put", path, request.copy)
            return self._put_result(answer)
        result = await self._reconciled("put", path, opts.mode, request.copy, lambda: self._landed(path, data, request))
        return result if isinstance(result, PutResult) else self._put_result(result)

    async def _put_reported(self, path: str, data: bytes | memoryview, opts: PutOptions) -> PutResult:
        """``_put`` reporting progress: the body counts once its answer arrives (a resend takes it back)."""
        reporter = Reporter(opts.progress, path, len(data))  # type: ignore[arg-type]
        reporter.start()
        sent = PartSent(reporter, len(data))
        token = SENDING.set(sent)
        try:
            result = await self._put(path, data, replace(opts, progress=None))
        finally:
            SENDING.reset(token)
        sent.complete()
        reporter.finish()
        return result

    async def _put_stream(
        self,
        path: str,
        chunks: AsyncIterator[bytes],
        opts: PutOptions,
        part_size: int | None,
        max_concurrency: int | None,
    ) -> PutResult:
        self._algorithm(opts)  # an unusable checksum fails before any I/O
        size = self._part_size(part_size)
        reader = PartReader(chunks, size)
        whole = await reader.whole()
        if whole is not None:
            # Everything fits one request: a single put is atomic and cheaper.
            return await self._put(path, whole, opts)
        key = self._key(path)
        reporter = None if opts.progress is None else Reporter(opts.progress, path)
        if reporter is not None:
            reporter.start()  # before any request: a callable that raises costs no upload
        upload = Upload(path, key, opts, await self._begin_upload(path, key, opts), {})
        uploader = PartUploader(self._concurrency(max_concurrency))
        try:
            number = 0
            while True:
                offset = reader.offset
                await uploader.reserve()  # the next part is filled only once it can be sent
                part = await reader.next_part()
                if part is None:
                    uploader.unreserve()
                    break
                number += 1
                last = await reader.at_end()
                if last and reporter is not None:
                    reporter.total = reader.offset  # the size is known from here

                async def send(
                    number: int = number, offset: int = offset, part: memoryview = part, last: bool = last
                ) -> None:
                    if reporter is None:
                        upload.parts[number] = await self._upload_part(upload, number, offset, part, last)
                        return
                    sent = PartSent(reporter, len(part))
                    token = SENDING.set(sent)  # this task's requests report the part's bytes
                    try:
                        upload.parts[number] = await self._upload_part(upload, number, offset, part, last)
                    finally:
                        SENDING.reset(token)
                    sent.complete()

                uploader.start(send)
                del part, send  # the task holds them; here they would outlive its upload
            await uploader.wait()
            result = await self._complete_upload(upload)
        except BaseException:
            await uploader.cancel()
            # Shielded: a cancelled upload must still be aborted, so no part is left behind.
            await asyncio.shield(self._abort_upload(upload))
            raise
        if reporter is not None:
            reporter.finish()  # after the object is stored: only a complete upload is done
        return result

    def _chunk(self, chunk: object, path: str) -> bytes:
        """A validated chunk, not copied: the part reader copies it once, into its part."""
        if isinstance(chunk, (bytes, memoryview)):
            return chunk  # type: ignore[return-value]
        if isinstance(chunk, bytearray):
            return memoryview(chunk)  # type: ignore[return-value]
        return self._data(chunk, path)

    # ------------------------------------------------------------------------------ listing

    async def _pages(self, prefix: str, *, delimiter: bool, start: str | None) -> AsyncIterator[ListPage]:
        key_prefix = self._list_prefix(prefix)
        token: str | None = None
        while True:

            async def attempt(token: str | None = token) -> ListPage:
                return await self._list_page(key_prefix, delimiter=delimiter, start=start, token=token)

            page = await self._retrying("list", prefix or None, attempt)
            yield page
            if not page.token:
                return
            token = page.token

    async def _list(self, prefix: str, offset: str | None) -> AsyncIterator[ObjectMeta]:
        start = self._key(offset) if offset is not None else None
        async for page in self._pages(prefix, delimiter=False, start=start):
            for meta in page.objects:
                if offset is None or meta.location > offset:  # services start inclusively
                    yield meta

    async def _list_with_delimiter(self, prefix: str) -> ListResult:
        objects: builtins.list[ObjectMeta] = []
        prefixes: dict[str, None] = {}
        async for page in self._pages(prefix, delimiter=True, start=None):
            objects.extend(page.objects)
            # A prefix may come back on several pages (GCS): report it once.
            prefixes.update((self._location(p).rstrip("/"), None) for p in page.prefixes)
        return ListResult(objects, sorted(prefixes))

    # ------------------------------------------------------------------------------ deletes

    async def _delete_many(self, paths: builtins.list[str]) -> dict[str, ObjectStoreError]:
        errors: dict[str, ObjectStoreError] = {}
        size = self.batch_size
        if not size:
            return await super()._delete_many(paths)
        for i in range(0, len(paths), size):
            batch = paths[i : i + size]
            try:
                statuses = await self._delete_batch(batch)
            except ObjectStoreError:
                statuses = None  # the batch as a whole failed: every path is still tried alone
            if statuses is None:
                errors.update(await super()._delete_many(batch))
                continue
            for p, (status, code) in zip(batch, statuses, strict=True):
                if (status is not None and status < 300) or status == 404 or code in self.codes.not_found:
                    continue  # missing objects are not errors
                errors[p] = self._error("delete", p, status, code)
        return errors

    async def _delete_idempotent(self, path: str, make: Callable[[], Request]) -> None:
        """An unconditional delete: a missing object is not an error."""
        try:
            await self._call("delete", path, make)
        except NotFoundError:
            pass


#: Guards of stores closed by their owner: cancelled quietly.
_CLOSED: weakref.WeakSet[asyncio.Task[None]] = weakref.WeakSet()
#: Every live guard (strong references: a dropped store's guard must still run).
_GUARDS: set[asyncio.Task[None]] = set()


def _unclosed(label: str) -> str:
    return f"{label} was not closed: use 'async with store:' or 'await store.close()'"


async def _guard(transport: Transport, label: str) -> None:
    """Wait until cancelled: by close() (quietly) or by the loop shutting down / the store being dropped.

    In the second case the store was never closed: its connections are released here, on
    its own loop, and one ResourceWarning names the store (instead of aiohttp's anonymous
    "Unclosed client session" messages).
    """
    try:
        await asyncio.Future()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task in _CLOSED:
            raise
        try:
            await transport.close()
        finally:
            warnings.warn(_unclosed(label), ResourceWarning, stacklevel=1)
        raise


def service_code(error: BaseException) -> str:
    """The service's error code behind an objectstorex error (``""`` if none)."""
    cause = error.__cause__
    return cause.code if isinstance(cause, ServiceError) else ""
