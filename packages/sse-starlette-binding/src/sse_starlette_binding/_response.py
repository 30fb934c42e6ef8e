"""`EventSourceResponse`: an event stream as a Starlette response.

How one response is delivered, and why it is built this way:

- Two tasks per connection, the server's own request task included. The request task is the
  *sender*: it owns every ``send`` and ``receive`` call. The *producer* task iterates the
  content, encodes each item with sse_core and appends the bytes to a pending buffer.
- The sender writes whatever is pending as one ``http.response.body`` message. While it is busy
  writing, the producer keeps appending, so events that become ready together leave together
  (write coalescing), and an event that is ready alone leaves at once: the sender is woken the
  moment the first byte is pending.
- While nothing is pending, the sender waits in ``receive()`` for the client to go away, with a
  deadline at which the keep-alive ping is due. The producer wakes it by cancelling that wait.
  So there is no ping task, no disconnect-polling task and no queue between tasks.
- That wait relies on what ASGI servers do (uvicorn, hypercorn and granian alike): a
  ``receive()`` can be cancelled without losing a message, and returns a message that is already
  there without waiting; so the client going away is noticed even while the producer keeps
  waking the sender. A ``send()`` that raises `OSError` (ASGI 2.4) also counts as the client
  going away.
- The pending buffer is bounded: a producer that gets ahead of a slow client waits for it, so
  memory stays bounded, and a producer that never awaits anything still yields to the event
  loop each time the buffer fills, so it cannot starve other connections.
"""

from __future__ import annotations

__all__ = ["Content", "EventSourceResponse"]

import contextlib
import logging
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import anyio
import anyio.lowlevel
import anyio.to_thread
from anyio.streams.memory import MemoryObjectReceiveStream
from starlette.responses import Response

from sse_core import EventEncoder, JSONDumps, LineTerminator

from ._errors import SendTimeoutError
from ._shutdown import ShutdownListener

if TYPE_CHECKING:
    from starlette.background import BackgroundTask
    from starlette.types import Message, Receive, Scope, Send

logger = logging.getLogger("sse_starlette_binding")

Content: TypeAlias = AsyncIterable[Any] | Iterable[Any]
"""What a response streams: an async or sync iterable of items (events, dicts, text, bytes,
pydantic models or JSON-able values), or an anyio memory object receive stream."""

ProducerErrorHandler: TypeAlias = Callable[[Exception], Any]

# The producer waits once this much is pending. Big enough that a burst leaves in few writes,
# small enough that a stream's memory stays small (uvicorn's own write buffer mark is 64 KiB).
_PENDING_LIMIT: Final = 64 * 1024
_SEPARATORS: Final = ("\r\n", "\r", "\n")


class EventSourceResponse(Response):
    """A streaming response that sends Server-Sent Events, compatible with sse-starlette.

    `content` is an async or sync iterable (or an anyio memory object receive stream); each item
    it yields becomes one event: a `ServerSentEvent` (this package's or sse_core's), a dict of
    event fields, a `str` (the data), `bytes` (already encoded, sent as they are), a pydantic
    model or any JSON-able value (sent as compact JSON data).

    Parameters are sse-starlette's, with the same meaning and defaults:

    - `ping`: seconds of silence after which a keep-alive comment is sent (15; 0 turns pings
      off); `ping_message_factory` builds a custom one.
    - `sep`: the line separator, CRLF by default.
    - `data_sender_callable`: an async callable run next to the stream (the push model: it
      writes into a memory object stream that is the `content`).
    - `send_timeout`: seconds a client may take to accept one write; a client that stops reading
      is dropped and `SendTimeoutError` is raised.
    - `client_close_handler_callable`: awaited once, with the ``http.disconnect`` message, when
      the client goes away.
    - `shutdown_event` and `shutdown_grace_period`: on server shutdown the event is set and the
      producer gets that many seconds to finish by itself before it is cancelled.
    - `cleanup_timeout`: seconds the producer's cleanup (closing the iterator) may take.

    And two of this package's own: `on_producer_error`, called with an exception the producer
    raised, may return an item to send as the stream's last event (the error is logged either
    way); `json_dumps` replaces the standard library's JSON serializer for JSON data.

    >>> async def numbers():
    ...     for n in range(3):
    ...         yield {"event": "number", "data": n}
    >>> response = EventSourceResponse(numbers(), ping=0)
    """

    DEFAULT_PING_INTERVAL: Final = 15
    DEFAULT_SEPARATOR: Final = "\r\n"
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
    ) -> None:
        if sep is not None and sep not in _SEPARATORS:
            raise ValueError(f"sep must be one of '\\r\\n', '\\r' or '\\n', got {sep!r}")
        _check_seconds("ping", ping, allow_none=True)
        _check_seconds("send_timeout", send_timeout, allow_none=True)
        _check_seconds("shutdown_grace_period", shutdown_grace_period)
        _check_seconds("cleanup_timeout", cleanup_timeout, allow_none=True)
        if isinstance(content, AsyncIterable):
            self.body_iterator: AsyncIterable[Any] = content
        elif isinstance(content, Iterable) and not isinstance(content, str | bytes | Mapping):
            self.body_iterator = _SyncIterator(content)
        else:
            raise TypeError(
                "content must be an iterable or async iterable of events, "
                f"not {type(content).__name__}"
            )
        self.sep: LineTerminator = sep or self.DEFAULT_SEPARATOR  # type: ignore[assignment]
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

        # "Cache-Control: no-store" keeps caches and proxies from storing the stream (a user
        # may relax it for a fan-out CDN); "X-Accel-Buffering: no" stops nginx from buffering
        # it. No "Connection" header: it is hop-by-hop, and HTTP/2 and HTTP/3 forbid it.
        stream_headers = dict(headers or {})
        if not any(name.lower() == "cache-control" for name in stream_headers):
            stream_headers["Cache-Control"] = "no-store"
        stream_headers["X-Accel-Buffering"] = "no"
        self.init_headers(stream_headers)

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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A response sent to a websocket scope is a denial response (the ASGI websocket
        # "http.response" extension), whose messages carry this prefix.
        prefix = "websocket." if scope["type"] == "websocket" else ""
        start = {"type": prefix + "http.response.start", "status": self.status_code}
        start["headers"] = self.raw_headers
        if scope.get("method") == "HEAD":
            # Headers only: the producer never starts, so an endless stream cannot hold a HEAD
            # request (and its connection) open.
            await send(start)
            await send({"type": prefix + "http.response.body", "body": b"", "more_body": False})
        else:
            await _Delivery(self, receive, send, prefix).run(start)
        if self.background is not None:
            await self.background()


def _check_seconds(name: str, value: object, *, allow_none: bool = False) -> None:
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
        self._started = False

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        self._started = True
        item = await anyio.to_thread.run_sync(next, self._iterator, _EXHAUSTED)
        if item is _EXHAUSTED:
            raise StopAsyncIteration
        return item

    async def aclose(self) -> None:
        close = getattr(self._iterator, "close", None)
        if close is not None and self._started:
            await anyio.to_thread.run_sync(close)


_EXHAUSTED: Final = object()


class _Delivery:
    """The state of one response being sent; see the module docstring for the design."""

    def __init__(self, response: EventSourceResponse, receive: Receive, send: Send, prefix: str):
        self.response = response
        self.receive = receive
        self.send = send
        self.body_type = prefix + "http.response.body"
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.producer_done = False
        self.disconnected = False
        self.shutting_down = False
        self.finished = False
        self.producer_scope = anyio.CancelScope()
        # Set while the sender waits for something to do: cancelling it wakes the sender.
        self.idle_scope: anyio.CancelScope | None = None
        # Set while the producer waits for the sender to take the pending bytes.
        self.room: anyio.Event | None = None
        self.clock: Callable[[], float] = anyio.current_time
        self.last_write = 0.0

    async def run(self, start: Message) -> None:
        try:
            await self.send(start)
        except OSError:
            return  # the client left before the response started: nothing to send or stop
        listener = ShutdownListener(self.on_shutdown)
        self.clock = listener.clock
        self.last_write = self.clock()
        send_timeout_error: SendTimeoutError | None = None
        try:
            async with anyio.create_task_group() as task_group:
                task_group.start_soon(self.produce)
                if self.response.data_sender_callable is not None:
                    task_group.start_soon(self.run_data_sender, self.response.data_sender_callable)
                try:
                    await self.deliver()
                except SendTimeoutError as exc:
                    send_timeout_error = exc
                # Whatever ended the delivery (the producer finished, the client left, shutdown,
                # a timeout), nothing more will be sent: stop the producer and the data sender.
                task_group.cancel_scope.cancel()
        finally:
            listener.close()
            self.finished = True
        if send_timeout_error is not None:
            raise send_timeout_error
        await self.complete()

    # The producer's side.

    async def produce(self) -> None:
        response = self.response
        content = response.body_iterator
        with self.producer_scope:
            try:
                async for item in content:
                    self.push(response.encode_item(item))
                    if isinstance(content, MemoryObjectReceiveStream):
                        self.take_backlog(content)
                    if self.pending_size >= _PENDING_LIMIT:
                        self.room = anyio.Event()
                        await self.room.wait()
            except Exception as exc:
                self.report_producer_error(exc)
            finally:
                await self.close_content(content)
                self.producer_done = True
                self.wake_sender()

    def take_backlog(self, stream: MemoryObjectReceiveStream[Any]) -> None:
        # Every receive() from a memory stream yields to the event loop, even when items are
        # waiting, which would send each one on its own. Items already in the stream's buffer
        # are ready now: take them without waiting, up to the pending limit.
        while self.pending_size < _PENDING_LIMIT:
            try:
                item = stream.receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream):
                return
            self.push(self.response.encode_item(item))

    def push(self, chunk: bytes) -> None:
        self.pending.append(chunk)
        self.pending_size += len(chunk)
        self.wake_sender()

    def wake_sender(self) -> None:
        if self.idle_scope is not None:
            self.idle_scope.cancel()

    def report_producer_error(self, exc: Exception) -> None:
        logger.exception("the event stream's producer raised; ending the stream", exc_info=exc)
        handler = self.response.on_producer_error
        if handler is None:
            return
        try:
            item = handler(exc)
            if item is not None:
                self.push(self.response.encode_item(item))
        except Exception:
            logger.exception("on_producer_error raised; the stream ends without a last event")

    async def close_content(self, content: AsyncIterable[Any]) -> None:
        # The response owns its iterator: close it whichever way the stream ended, so that a
        # generator's `finally` runs now (not whenever the garbage collector gets to it) and a
        # memory stream's senders learn that nobody is listening. Shielded, because this is
        # often reached by cancellation; bounded, because cleanup code may hang.
        aclose = getattr(content, "aclose", None)
        if aclose is None:
            return
        with anyio.move_on_after(self.response.cleanup_timeout, shield=True) as scope:
            try:
                await aclose()
            except Exception:
                logger.exception("closing the event stream's producer raised")
        if scope.cancelled_caught:
            logger.warning(
                "the event stream's producer took over %s seconds to close; abandoned it",
                self.response.cleanup_timeout,
            )

    async def run_data_sender(self, data_sender: Callable[[], Awaitable[None]]) -> None:
        try:
            await data_sender()
        except Exception as exc:
            # The content it feeds will never end now: end the stream as a producer error,
            # once the producer has taken the events that were sent before the failure.
            content = self.response.body_iterator
            if isinstance(content, MemoryObjectReceiveStream):
                while content.statistics().current_buffer_used and not self.producer_done:
                    await anyio.lowlevel.checkpoint()
                await anyio.lowlevel.checkpoint()  # an event handed over is pushed
            self.report_producer_error(exc)
            self.producer_scope.cancel()

    # The sender's side.

    async def deliver(self) -> None:
        while True:
            if self.pending:
                await self.write(self.take_pending())
            elif self.producer_done or self.disconnected:
                return
            else:
                await self.wait_for_work()

    def take_pending(self) -> bytes:
        chunks = self.pending
        self.pending = []
        self.pending_size = 0
        if self.room is not None:
            self.room.set()
            self.room = None
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def write(self, body: bytes) -> None:
        message = {"type": self.body_type, "body": body, "more_body": True}
        timeout = self.response.send_timeout
        try:
            if timeout is None:
                await self.send(message)
            else:
                # A cancel scope costs microseconds per write: only pay for it when asked to.
                with anyio.move_on_after(timeout) as scope:
                    await self.send(message)
        except OSError:
            # ASGI 2.4 servers may raise OSError from send() once the client is gone.
            await self.on_disconnect({"type": "http.disconnect"})
        else:
            if timeout is not None and scope.cancelled_caught:
                raise SendTimeoutError(
                    f"the client did not take {len(body)} bytes within {timeout} seconds"
                )
        self.last_write = self.clock()

    async def wait_for_work(self) -> None:
        ping_interval = self.response.ping_interval
        deadline = self.last_write + ping_interval if ping_interval else float("inf")
        with anyio.CancelScope(deadline=deadline) as scope:
            self.idle_scope = scope
            message = await self.receive()
        self.idle_scope = None
        if not scope.cancelled_caught:
            if message["type"] == "http.disconnect":
                await self.on_disconnect(message)
            # Anything else is a request body chunk: an event stream ignores the body.
            return
        if not self.pending and not self.producer_done and self.clock() >= deadline:
            await self.write(self.response.ping_bytes())

    async def on_disconnect(self, message: Message) -> None:
        if self.disconnected:
            return
        self.disconnected = True
        self.producer_scope.cancel()
        handler = self.response.client_close_handler_callable
        if handler is not None:
            try:
                await handler(message)
            except Exception:
                logger.exception("client_close_handler_callable raised")

    def on_shutdown(self) -> None:
        """Runs on this stream's event loop when the server process is told to stop."""
        if self.shutting_down or self.finished:
            return
        self.shutting_down = True
        if self.response.shutdown_event is not None:
            self.response.shutdown_event.set()
        # The producer may finish by itself within the grace period (a farewell event, say);
        # after it, it is cancelled. Either way the sender then sends what is pending and
        # completes the response. A write to a client that stopped reading is not cut: ASGI
        # cannot abort a connection, and the server would wait for that socket regardless;
        # `send_timeout`, or the server's own graceful-shutdown timeout, bounds it.
        grace_end = self.clock() + self.response.shutdown_grace_period
        self.producer_scope.deadline = min(self.producer_scope.deadline, grace_end)

    async def complete(self) -> None:
        # Events still pending (the last ones before a shutdown, say) ride on the final message.
        body = b"" if self.disconnected else self.take_pending()
        message = {"type": self.body_type, "body": body, "more_body": False}
        if self.disconnected:
            # The client is gone, but the response is still completed, so that the server
            # does not report an unfinished response; a server may refuse the message now.
            with contextlib.suppress(OSError):
                await self.send(message)
            return
        await self.send(message)
