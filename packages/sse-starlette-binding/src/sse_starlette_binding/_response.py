"""`EventSourceResponse`: an event stream as a Starlette response.

The response holds the configuration and answers HEAD; `_delivery` sends each stream (its module
docstring explains how, and why it is built that way).
"""

from __future__ import annotations

__all__ = ["Content", "EventSourceResponse", "check_seconds"]

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeAlias

import anyio
import anyio.to_thread
from starlette.responses import Response

from sse_core import EventEncoder, JSONDumps, LineTerminator, ServerSentEvent

from ._compat import check_separator
from ._delivery import Delivery
from ._delivery_settings import DeliverySettings, ProducerErrorHandler

if TYPE_CHECKING:
    from starlette.background import BackgroundTask
    from starlette.types import Message, Receive, Scope, Send

Content: TypeAlias = AsyncIterable[Any] | Iterable[Any]
"""What a response streams: an async or sync iterable of items (events, dicts, text, bytes,
pydantic models or JSON-able values), or an anyio memory object receive stream."""


class EventSourceResponse(Response):
    """A streaming response that sends Server-Sent Events, compatible with sse-starlette.

    `content` is an async or sync iterable (or an anyio memory object receive stream); each item
    it yields becomes one event: a `ServerSentEvent` (this package's or sse_core's), a dict of
    event fields, a `str` (the data), `bytes` (already encoded, sent as they are), a pydantic
    model or any JSON-able value (sent as compact JSON data).

    Parameters are sse-starlette's, with the same meaning and defaults:

    - `ping`: seconds of silence after which a keep-alive comment is sent (15; 0 turns pings
      off); `ping_message_factory` builds a custom one. Unlike sse-starlette's fixed clock,
      every write restarts the count, so a stream busier than `ping` never pings and never
      calls the factory.
    - `sep`: the line separator, CRLF by default.
    - `data_sender_callable`: an async callable run next to the stream (the push model: it
      writes into a memory object stream that is the `content`).
    - `send_timeout`: seconds a client may take to accept one write; a client that stops reading
      is dropped and `SendTimeoutError` is raised.
    - `client_close_handler_callable`: awaited once, with the ``http.disconnect`` message, when
      the client goes away (a write the client never took is cancelled then).
    - `shutdown_event` and `shutdown_grace_period`: on server shutdown the event is set and the
      producer gets that many seconds to finish by itself before it is cancelled.
    - `cleanup_timeout`: seconds the producer's cleanup (closing the iterator) may take.

    And this package's own, keyword-only:

    - `on_producer_error`: called with an exception the producer raised; it may return an item
      to send as the stream's last event (the error is logged either way).
    - `json_dumps`: replaces the standard library's JSON serializer for JSON data.
    - `retry`: a reconnection time in milliseconds, sent to the client first thing.
    - `hold_headers`: hold the headers back until the first write (an event, or a keep-alive
      ping when one is due). Until then an exception raised by the producer (or by
      `data_sender_callable`) propagates out of the response, so the framework sends its normal
      error response (an `HTTPException`'s status, say) instead of a 200 with a cut stream.
      Yield a comment first to open a stream that may stay quiet at once.

    >>> async def numbers():
    ...     for n in range(3):
    ...         yield {"event": "number", "data": n}
    >>> response = EventSourceResponse(numbers(), ping=0)
    """

    DEFAULT_PING_INTERVAL: Final = 15
    DEFAULT_SEPARATOR: ClassVar[str] = "\r\n"  # a subclass may choose another
    DEFAULT_CLEANUP_TIMEOUT: Final = 30.0

    def __init__(  # noqa: PLR0917 (sse-starlette's parameters are positional; so are these)
        self,
        content: Content,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str = "text/event-stream",
        background: BackgroundTask | None = None,
        ping: float | None = None,
        sep: str | None = None,
        ping_message_factory: Callable[[], Any] | None = None,
        data_sender_callable: Callable[[], Awaitable[None]] | None = None,
        send_timeout: float | None = None,
        client_close_handler_callable: Callable[[Message], Awaitable[None]] | None = None,
        shutdown_event: anyio.Event | None = None,
        shutdown_grace_period: float = 0,
        cleanup_timeout: float | None = DEFAULT_CLEANUP_TIMEOUT,
        *,
        on_producer_error: ProducerErrorHandler | None = None,
        json_dumps: JSONDumps | None = None,
        retry: int | None = None,
        hold_headers: bool = False,
    ) -> None:
        check_seconds("ping", ping, allow_none=True)
        check_seconds("send_timeout", send_timeout, allow_none=True)
        check_seconds("shutdown_grace_period", shutdown_grace_period)
        check_seconds("cleanup_timeout", cleanup_timeout, allow_none=True)
        if isinstance(content, AsyncIterable):
            self.body_iterator: AsyncIterable[Any] = content
        elif isinstance(content, Iterable) and not isinstance(content, str | bytes | Mapping):
            self.body_iterator = _SyncIterator(content)
        else:
            raise TypeError(
                "content must be an iterable or async iterable of events, "
                f"not {type(content).__name__}"
            )
        self.sep: LineTerminator = check_separator(self.DEFAULT_SEPARATOR if sep is None else sep)
        self.encoder = EventEncoder(line_terminator=self.sep, json_dumps=json_dumps)
        self.status_code = status_code
        self.media_type = media_type
        self.background = background
        self.ping_interval = self.DEFAULT_PING_INTERVAL if ping is None else ping
        self.ping_message_factory = ping_message_factory
        self.data_sender_callable = data_sender_callable
        self.send_timeout = send_timeout
        self.client_close_handler_callable = client_close_handler_callable
        self.shutdown_event = shutdown_event
        self.shutdown_grace_period = shutdown_grace_period
        self.cleanup_timeout = cleanup_timeout
        self.on_producer_error = on_producer_error
        self.hold_headers = hold_headers
        self.preamble = b"" if retry is None else self.encoder.encode(ServerSentEvent(retry=retry))

        # "Cache-Control: no-store" keeps caches and proxies from storing the stream (a user
        # may relax it for a fan-out CDN); "X-Accel-Buffering: no" stops nginx from buffering
        # it. No "Connection" header: it is hop-by-hop, and HTTP/2 and HTTP/3 forbid it.
        stream_headers = dict(headers or {})
        if not any(name.lower() == "cache-control" for name in stream_headers):
            stream_headers["Cache-Control"] = "no-store"
        stream_headers["X-Accel-Buffering"] = "no"
        self.init_headers(stream_headers)
        raw_headers = self.raw_headers
        raw_headers[:] = [_shared_header(header) for header in raw_headers]

    def encode_item(self, item: Any) -> bytes:
        """The bytes this response writes for one item, with its separator.

        A `ServerSentEvent` of this package is written with the stream's separator, not with
        its own `sep`, so that one stream never mixes line separators.
        """
        return self.encoder.encode(item)

    def ping_bytes(self) -> bytes:
        """The bytes of one keep-alive ping (a comment, unless a factory says otherwise)."""
        if self.ping_message_factory is not None:
            return self.encode_item(self.ping_message_factory())
        return self.encoder.encode_comment(f"ping - {datetime.now(UTC)}")

    def start_message(self, prefix: str = "") -> Message:
        """The ``http.response.start`` message, built when the headers go out (with
        `hold_headers`, at the first write), so a subclass may still adjust them until then."""
        start = {"type": prefix + "http.response.start", "status": self.status_code}
        start["headers"] = self.raw_headers
        return start

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A response sent to a websocket scope is a denial response (the ASGI websocket
        # "http.response" extension), whose messages carry this prefix.
        prefix = "websocket." if scope["type"] == "websocket" else ""
        delivery = Delivery(self.delivery_settings(), receive, send, prefix)
        # HTTP methods are case-sensitive, but ASGI servers pass on what the client sent, and
        # Starlette routes a lowercase "head" as HEAD: so does this.
        if str(scope.get("method", "")).upper() == "HEAD":
            await delivery.answer_head()
        else:
            await delivery.run()
        if self.background is not None:
            await self.background()

    def delivery_settings(self) -> DeliverySettings:
        """What the response's attributes say now, frozen for one delivery."""
        return DeliverySettings(
            content=self.body_iterator,
            encoder=self.encoder,
            messages=self,
            preamble=self.preamble,
            ping_interval=self.ping_interval,
            send_timeout=self.send_timeout,
            cleanup_timeout=self.cleanup_timeout,
            shutdown_event=self.shutdown_event,
            shutdown_grace_period=self.shutdown_grace_period,
            hold_headers=self.hold_headers,
            data_sender=self.data_sender_callable,
            on_client_close=self.client_close_handler_callable,
            on_producer_error=self.on_producer_error,
        )


_SHARED_HEADER_NAMES: Final = frozenset((b"cache-control", b"content-type", b"x-accel-buffering"))
_SHARED_HEADERS_MAX: Final = 64
_shared_headers: dict[tuple[bytes, bytes], tuple[bytes, bytes]] = {}


def _shared_header(header: tuple[bytes, bytes]) -> tuple[bytes, bytes]:
    """`header`, or an equal one already held by another response.

    Every stream of an application carries the same three headers; one shared (immutable)
    copy of each spares every open stream its own copies (benchmarks/streaming.py, idle,
    guards the memory per stream; docs/performance.md has the saving). Only those three are
    shared, never a caller's other headers (which may be per request, or secret), and a
    bounded number of values."""
    if header[0] not in _SHARED_HEADER_NAMES:
        return header
    shared = _shared_headers.get(header)
    if shared is None:
        if len(_shared_headers) >= _SHARED_HEADERS_MAX:
            return header
        shared = _shared_headers.setdefault(header, header)
    return shared


def check_seconds(name: str, value: object, *, allow_none: bool = False) -> None:
    """Refuse `value` unless it is a number of seconds >= 0 (or None, if `allow_none`).

    The one check for every duration the bindings take (`EventSourceResponse`'s `ping`,
    `send_timeout`, `shutdown_grace_period` and `cleanup_timeout`, and the FastAPI binding's
    stream settings), public so that code built on the binding refuses a bad duration where it
    is declared, with the same words. `bool` is refused (``True`` is a bug, never a duration);
    so are NaN and negative numbers. Raises `TypeError` for a value that is not a number and
    `ValueError` for one out of range, naming the setting:

    >>> check_seconds("ping", 2.5)
    >>> check_seconds("ping", -1)
    Traceback (most recent call last):
    ...
    ValueError: ping must be >= 0 seconds, got -1
    """
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if not value >= 0:
        raise ValueError(f"{name} must be >= 0 seconds, got {value!r}")


class _SyncIterator:
    """Iterates a sync iterable in worker threads, so that a blocking producer never blocks
    the event loop, and closes it (running a generator's ``finally``) when the stream ends."""

    def __init__(self, iterable: Iterable[Any]) -> None:
        self._iterator = iter(iterable)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        item = await anyio.to_thread.run_sync(next, self._iterator, _EXHAUSTED)
        if item is _EXHAUSTED:
            raise StopAsyncIteration
        return item

    async def aclose(self) -> None:
        close = getattr(self._iterator, "close", None)
        if close is not None:
            await anyio.to_thread.run_sync(close)


_EXHAUSTED: Final = object()
