"""Clients for tests: read an event stream back as parsed events, and never hang.

`EventStreamClient` calls an ASGI app in process (no server, no sockets); `open_event_stream`
speaks plain HTTP/1.1 to a real server on a URL. Both hand you an `EventStream`: the response's
status and headers as soon as it starts, then its events, parsed by `sse_core.EventParser`
exactly as a browser's `EventSource` would dispatch them.

Every wait is bounded. Reading events has a total deadline (`timeout`, 5 seconds unless you say
otherwise) and raises `TimeoutError` when the deadline passes first, unless you asked to stop
there (`stop_at_timeout=True`). Leaving the ``async with`` block of a stream disconnects: the
in-process client delivers ``http.disconnect`` to the app and waits (bounded) for it to return,
so the producer's cleanup has run by the time the block is left; the URL client closes its
socket.

>>> import anyio
>>> from starlette.applications import Starlette
>>> from starlette.routing import Route
>>> from sse_starlette_binding import EventSourceResponse
>>> async def ticks(request):
...     async def stream():
...         for n in range(3):
...             yield {"event": "tick", "id": str(n), "data": n}
...     return EventSourceResponse(stream())
>>> app = Starlette(routes=[Route("/ticks", ticks)])
>>> async def main():
...     async with EventStreamClient(app) as client:
...         async with client.stream("/ticks", last_event_id="0") as stream:
...             assert stream.status == 200
...             return await stream.collect(max_events=2, timeout=1.0)
>>> anyio.run(main)
[ParsedEvent(event='tick', data='0', id='0'), ParsedEvent(event='tick', data='1', id='1')]

Against a running server: ``async with open_event_stream("http://127.0.0.1:8000/ticks") as
stream: events = await stream.collect(timeout=1.0)``.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_TIMEOUT",
    "AppEventStream",
    "EventStream",
    "EventStreamClient",
    "HTTPEventStream",
    "open_event_stream",
]

import re
from abc import ABC, abstractmethod
from collections import deque
from typing import TYPE_CHECKING, Any, Final, Literal, NoReturn
from urllib.parse import quote, unquote, urlsplit

import anyio
import anyio.abc
import anyio.lowlevel
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect

from sse_core import EventParser, ParsedEvent

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping
    from types import TracebackType
    from typing import Self

    from starlette.types import ASGIApp, Message

DEFAULT_TIMEOUT: Final = 5.0
"""Seconds any one wait of these clients may take, unless told otherwise."""

_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_MAX_HEAD_SIZE: Final = 64 * 1024
_MAX_CHUNK_LINE: Final = 4096
_BODYLESS_METHODS: Final = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "TRACE"})
# Characters a request target keeps as they are; anything else (non-ASCII text) is %-encoded.
_TARGET_SAFE: Final = "/:@!$&'()*+,;=-._~%?"


def _count(n: int) -> str:
    return "1 event" if n == 1 else f"{n} events"


class EventStream(ABC):
    """One event-stream response being read; what `client.stream()` and `open_event_stream`
    give inside their ``async with`` block.

    `status` and `headers` (a case-insensitive `starlette.datastructures.Headers`) are set on
    entry. `events()` and `collect()` read events; `raw` holds the body bytes received so far,
    `complete` tells whether the server finished the response, and `last_event_id` and `retry`
    hold what a browser would reconnect with.
    """

    status: int
    """The response's status code."""
    headers: Headers
    """The response's headers."""

    def __init__(self) -> None:
        self.status = 0
        self.headers = Headers()
        self._parser = EventParser()
        self._chunks: list[bytes] = []
        self._ready: deque[ParsedEvent] = deque()
        self._ended = False
        self._response_complete = False

    @property
    def raw(self) -> bytes:
        """The body bytes received so far, exactly as they came (after any transfer coding
        was removed), whether or not they have been read as events yet."""
        return b"".join(self._chunks)

    @property
    def complete(self) -> bool:
        """Whether the server completed the response (rather than it being cut, or still
        going)."""
        return self._response_complete

    @property
    def last_event_id(self) -> str:
        """The last event ID of the events read so far: what a browser sends in
        ``Last-Event-ID`` when it reconnects."""
        return self._parser.last_event_id

    @property
    def retry(self) -> int | None:
        """The last valid ``retry`` the stream sent (milliseconds), or None."""
        return self._parser.retry

    def events(
        self,
        *,
        max_events: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        stop_at_timeout: bool = False,
    ) -> AsyncIterator[ParsedEvent]:
        """Iterate over the stream's events.

        The iteration ends when `max_events` events were yielded or when the server ends the
        response. `timeout` is a total deadline in seconds, counted from the first step of the
        iteration: if it passes first, `TimeoutError` is raised (its message says how many
        events arrived), unless `stop_at_timeout` is true, in which case the iteration just
        ends there ("whatever arrives within `timeout` seconds").

        Events left over (a body message may complete several) are kept for the next call.
        Stopping the iteration does not disconnect; leaving the stream's ``async with`` does.
        """
        if max_events is not None and (isinstance(max_events, bool) or max_events < 0):
            raise ValueError(f"max_events must be None or an int >= 0, got {max_events!r}")
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        return _EventIterator(self, max_events, timeout, stop_at_timeout)

    async def collect(
        self,
        *,
        max_events: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        stop_at_timeout: bool = False,
    ) -> list[ParsedEvent]:
        """The events `events()` yields with the same arguments, as a list."""
        iterator = self.events(
            max_events=max_events, timeout=timeout, stop_at_timeout=stop_at_timeout
        )
        return [event async for event in iterator]

    @abstractmethod
    async def _next_body_chunk(self) -> bytes | None:
        """The next non-empty piece of the body, or None once the body has ended."""

    async def _read_more(self) -> None:
        """Wait for the next piece of the body and parse it; must be cancel-safe."""
        chunk = await self._next_body_chunk()
        if chunk is None:
            self._ended = True
            self._parser.close()
            return
        self._chunks.append(chunk)
        self._ready.extend(self._parser.feed(chunk))


class _EventIterator:
    """`EventStream.events()`: a plain async iterator (not an async generator), so abandoning
    it early leaves nothing to finalize."""

    def __init__(
        self, stream: EventStream, max_events: int | None, timeout: float, stop_at_timeout: bool
    ) -> None:
        self._stream = stream
        self._max_events = max_events
        self._timeout = timeout
        self._stop_at_timeout = stop_at_timeout
        self._deadline: float | None = None
        self._count = 0

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> ParsedEvent:
        stream = self._stream
        if self._max_events is not None and self._count >= self._max_events:
            raise StopAsyncIteration
        if self._deadline is None:
            self._deadline = anyio.current_time() + self._timeout
        while not stream._ready:
            if stream._ended:
                raise StopAsyncIteration
            with anyio.move_on_after(self._deadline - anyio.current_time()) as scope:
                await stream._read_more()
            if scope.cancelled_caught:
                self._timed_out()
        self._count += 1
        return stream._ready.popleft()

    def _timed_out(self) -> NoReturn:
        # Only while the deadline holds: a later call must time out again, not wait afresh.
        if self._stop_at_timeout:
            raise StopAsyncIteration
        if self._max_events is None:
            message = (
                f"the event stream did not end within {self._timeout} seconds; "
                f"{_count(self._count)} arrived"
            )
        else:
            message = (
                f"{self._count} of {_count(self._max_events)} arrived "
                f"within {self._timeout} seconds"
            )
        raise TimeoutError(message)


# The request side, shared by both clients.


def _request_headers(
    host: str,
    method: str,
    headers: Mapping[str, str] | None,
    last_event_id: str | None,
    body: bytes,
) -> list[tuple[bytes, bytes]]:
    if not _TOKEN.fullmatch(method):
        raise ValueError(f"not an HTTP method: {method!r}")
    fields: dict[bytes, bytes] = {b"host": host.encode("ascii"), b"accept": b"text/event-stream"}
    if body or method not in _BODYLESS_METHODS:
        fields[b"content-length"] = str(len(body)).encode("ascii")
    for name, value in (headers or {}).items():
        key = name.lower()
        if not _TOKEN.fullmatch(key):
            raise ValueError(f"not a header name: {name!r}")
        if key == "last-event-id" and last_event_id is not None:
            raise ValueError("give the Last-Event-ID either as last_event_id or as a header")
        fields[key.encode("ascii")] = _header_value(name, value)
    if last_event_id is not None:
        # Browsers send the id as UTF-8, whatever HTTP says about header bytes.
        fields[b"last-event-id"] = _header_value("Last-Event-ID", last_event_id)
    return list(fields.items())


def _header_value(name: str, value: str) -> bytes:
    if any(char in value for char in "\r\n\0"):
        raise ValueError(f"the value of the {name} header contains CR, LF or NUL: {value!r}")
    return value.encode("utf-8")


# The in-process client.


class EventStreamClient:
    """Calls an ASGI app in process and reads its event streams.

    The apps run in a task group owned by this client, so use it as an async context manager;
    it works under asyncio and trio and keeps no global state. `timeout` bounds the wait for
    a response to start and the wait for the app to return after the client disconnected.

    >>> async def example(app):
    ...     async with EventStreamClient(app) as client:
    ...         async with client.stream("/events") as stream:
    ...             return await stream.collect(max_events=3)
    """

    def __init__(self, app: ASGIApp, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        self.app = app
        self.timeout = timeout
        self._task_group: anyio.abc.TaskGroup | None = None

    async def __aenter__(self) -> Self:
        if self._task_group is not None:
            raise RuntimeError("this EventStreamClient is already open")
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        task_group, self._task_group = self._task_group, None
        assert task_group is not None
        # Every stream waited for its app on the way out; cancel whatever an app left behind.
        task_group.cancel_scope.cancel()
        return await task_group.__aexit__(exc_type, exc, traceback)

    def stream(
        self,
        path: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        last_event_id: str | None = None,
        body: bytes = b"",
    ) -> AppEventStream:
        """A request to the app, to be used as ``async with client.stream(path) as stream:``.

        `path` may carry a query string. The request has ``Accept: text/event-stream`` and, when
        `last_event_id` is given, a ``Last-Event-ID`` header (sent as UTF-8, as browsers do);
        `headers` adds or replaces headers (values are sent as UTF-8; CR, LF and NUL are
        refused). `body` is the request body, for a POST.

        Entering starts the app and waits (bounded by the client's `timeout`) for the response
        to start; an exception the app raised before that is raised there. Leaving delivers
        ``http.disconnect`` and waits, bounded, for the app to return; an app that does not is
        cancelled and `TimeoutError` is raised. An exception the app raised (other than the
        `OSError` or `ClientDisconnect` of a send after the disconnect) is raised when the body
        ends or when the block is left.
        """
        parts = urlsplit(path)
        if parts.scheme or parts.netloc or not parts.path.startswith("/"):
            raise ValueError(f"path must start with '/', got {path!r}")
        raw_path = quote(parts.path, safe=_TARGET_SAFE)
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": unquote(raw_path),
            "raw_path": raw_path.encode("ascii"),
            "query_string": quote(parts.query, safe=_TARGET_SAFE).encode("ascii"),
            "root_path": "",
            "headers": _request_headers("testserver", method, headers, last_event_id, body),
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        return AppEventStream(self, scope, body)


class _ClientDisconnected(OSError):
    """What `send()` raises once the client is gone, as ASGI 2.4 servers do."""


class AppEventStream(EventStream):
    """A response of an app called in process by `EventStreamClient`.

    Besides what every `EventStream` offers, `messages` holds every ASGI message the app sent
    (``http.response.start`` first), so a test can count the ``http.response.body`` messages
    (write coalescing) or see that the last one had ``more_body`` false.
    """

    messages: list[Message]
    """The ASGI messages the app sent, in order, as it sent them."""

    def __init__(self, client: EventStreamClient, scope: dict[str, Any], body: bytes) -> None:
        super().__init__()
        self.messages = []
        self._client = client
        self._scope = scope
        self._body = body
        self._timeout = client.timeout
        self._queue: deque[bytes] = deque()
        self._request_sent = False
        self._started = False
        self._app_error: Exception | None = None
        self._error_reported = False
        self._entered = False
        # Created on entry: anyio's events belong to the running event loop.
        self._wakeup: anyio.Event | None = None
        self._disconnect: anyio.Event
        self._app_done: anyio.Event
        self._app_scope: anyio.CancelScope

    async def __aenter__(self) -> Self:
        task_group = self._client._task_group
        if task_group is None:
            raise RuntimeError("use the stream inside `async with EventStreamClient(app):`")
        if self._entered:
            raise RuntimeError("a stream can be entered once; call client.stream() again")
        self._entered = True
        self._disconnect = anyio.Event()
        self._app_done = anyio.Event()
        self._app_scope = anyio.CancelScope()
        task_group.start_soon(self._run_app)
        with anyio.move_on_after(self._timeout):
            while not (self._started or self._app_done.is_set()):
                await self._wait_for_news()
        if self._started:
            return self
        timed_out = not self._app_done.is_set()
        await self._finish()
        self._raise_app_error()
        if timed_out:
            raise TimeoutError(f"the app did not start a response within {self._timeout} seconds")
        raise RuntimeError("the app returned without starting a response")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        hung = await self._finish()
        if exc is not None:
            return
        if hung:
            raise TimeoutError(
                f"the app did not return within {self._timeout} seconds of http.disconnect, "
                "so it was cancelled"
            )
        self._raise_app_error()

    async def _finish(self) -> bool:
        """Disconnect and wait for the app; True if it had to be cancelled."""
        self._disconnect.set()
        self._wake()
        # Shielded, so the app's cleanup is waited for even when the test is being cancelled.
        with anyio.move_on_after(self._timeout, shield=True):
            await self._app_done.wait()
        if self._app_done.is_set():
            return False
        self._app_scope.cancel()
        with anyio.move_on_after(self._timeout, shield=True):
            await self._app_done.wait()
        return True

    async def _run_app(self) -> None:
        try:
            with self._app_scope:
                await self._client.app(self._scope, self._receive, self._send)
        except Exception as exc:
            self._app_error = _app_failure(exc) if self._disconnect.is_set() else exc
        finally:
            self._app_done.set()
            self._wake()

    def _raise_app_error(self) -> None:
        if self._app_error is not None and not self._error_reported:
            self._error_reported = True
            raise self._app_error

    async def _receive(self) -> Message:
        if not self._request_sent:
            self._request_sent = True
            return {"type": "http.request", "body": self._body, "more_body": False}
        # Like real servers, a message that is already there is returned without waiting.
        if not self._disconnect.is_set():
            await self._disconnect.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: Message) -> None:
        if self._disconnect.is_set():
            raise _ClientDisconnected("the client has disconnected")
        kind = message["type"]
        if kind == "http.response.start":
            if self._started:
                raise RuntimeError("the app sent http.response.start twice")
            self.messages.append(message)
            self.status = message["status"]
            self.headers = Headers(
                raw=[(bytes(name).lower(), bytes(value)) for name, value in message["headers"]]
            )
            self._started = True
        elif kind == "http.response.body":
            if not self._started:
                raise RuntimeError("the app sent http.response.body before http.response.start")
            if self._response_complete:
                raise RuntimeError("the app sent http.response.body after the response ended")
            self.messages.append(message)
            body = bytes(message.get("body", b""))
            if body:
                self._queue.append(body)
            if not message.get("more_body", False):
                self._response_complete = True
        else:
            raise RuntimeError(f"the test client does not support {kind!r} messages")
        self._wake()
        # Give the reader (and everything else) a turn, as a server's write would.
        await anyio.lowlevel.checkpoint()

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()
            self._wakeup = None

    async def _wait_for_news(self) -> None:
        self._wakeup = wakeup = anyio.Event()
        await wakeup.wait()

    async def _next_body_chunk(self) -> bytes | None:
        while True:
            if self._queue:
                return self._queue.popleft()
            if self._response_complete or self._disconnect.is_set():
                return None
            if self._app_done.is_set():
                self._raise_app_error()
                return None
            await self._wait_for_news()


def _app_failure(exc: Exception) -> Exception | None:
    """What to report of an exception an app raised after the client disconnected: nothing
    when it is just the disconnect (the `OSError` a send raised, or Starlette's
    `ClientDisconnect`), else the app's own error, which a send in its error handling (a 500
    page, say) may have wrapped in an `OSError`."""
    if isinstance(exc, ExceptionGroup):
        return exc if any(_app_failure(inner) for inner in exc.exceptions) else None
    cause: BaseException | None = exc
    while isinstance(cause, OSError | ClientDisconnect):
        cause = cause.__context__
    return cause if isinstance(cause, Exception) else None


# The URL client.


def open_event_stream(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    last_event_id: str | None = None,
    body: bytes = b"",
    timeout: float = DEFAULT_TIMEOUT,
) -> HTTPEventStream:
    """Request an event stream over HTTP/1.1: ``async with open_event_stream(url) as stream:``.

    `url` is ``http://host:port/path?query`` (no TLS). The request has ``Accept:
    text/event-stream`` and, when `last_event_id` is given, ``Last-Event-ID`` (as UTF-8);
    `headers` adds or replaces headers; `body` is sent with a ``Content-Length``. Entering
    connects and reads the status line and headers, within `timeout` seconds (else
    `TimeoutError`); leaving closes the connection, which is how the server learns that the
    client went away.

    Chunked, ``Content-Length`` and read-until-close bodies are understood; `raw` holds the
    body with the chunked coding removed. A connection cut before the body was complete just
    ends the events (`complete` stays false).

    >>> async def example():
    ...     async with open_event_stream("http://127.0.0.1:8000/events") as stream:
    ...         return await stream.collect(max_events=3, timeout=2.0)
    """
    return HTTPEventStream(
        url,
        method=method,
        headers=headers,
        last_event_id=last_event_id,
        body=body,
        timeout=timeout,
    )


class HTTPEventStream(EventStream):
    """A response read from a server over a TCP connection; made by `open_event_stream`."""

    def __init__(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        last_event_id: str | None = None,
        body: bytes = b"",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__()
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"only http://host[:port]/path URLs are supported, got {url!r}")
        self.url = url
        self._host = parts.hostname
        self._port = parts.port or 80
        self._method = method
        self._timeout = timeout
        authority = parts.netloc.rpartition("@")[2]
        target = quote(
            (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), _TARGET_SAFE
        )
        fields = _request_headers(authority, method, headers, last_event_id, body)
        head = f"{method} {target} HTTP/1.1\r\n".encode("ascii") + b"".join(
            name + b": " + value + b"\r\n" for name, value in fields
        )
        self._request = head + b"\r\n" + body
        self._socket: anyio.abc.SocketStream | None = None
        self._body_decoder = _BodyDecoder("none")
        self._pending = b""
        self._eof = False

    async def __aenter__(self) -> Self:
        if self._socket is not None or self._eof:
            raise RuntimeError("a stream can be entered once; call open_event_stream() again")
        try:
            with anyio.move_on_after(self._timeout) as scope:
                self._socket = await anyio.connect_tcp(self._host, self._port)
                await self._socket.send(self._request)
                await self._read_head(self._socket)
        except BaseException:
            await self._close()
            raise
        if scope.cancelled_caught:
            await self._close()
            raise TimeoutError(f"no response from {self.url} within {self._timeout} seconds")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._close()

    async def _close(self) -> None:
        socket, self._socket = self._socket, None
        self._eof = True
        if socket is not None:
            with anyio.move_on_after(self._timeout, shield=True):
                await socket.aclose()

    async def _read_head(self, socket: anyio.abc.SocketStream) -> None:
        buffer = bytearray()
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > _MAX_HEAD_SIZE:
                    raise ValueError(f"the response head is over {_MAX_HEAD_SIZE} bytes")
                try:
                    buffer += await socket.receive()
                except anyio.EndOfStream:
                    raise ConnectionError(
                        f"{self.url} closed the connection before a complete response head"
                    ) from None
                continue
            status, raw_headers = _parse_head(bytes(buffer[:end]))
            del buffer[: end + 4]
            if 100 <= status < 200 and status != 101:
                continue  # an interim response (100 Continue, 103 Early Hints)
            break
        self.status = status
        self.headers = Headers(raw=raw_headers)
        self._body_decoder = _BodyDecoder.for_response(self._method, status, self.headers)
        self._pending = self._body_decoder.feed(bytes(buffer))
        self._response_complete = self._body_decoder.done

    async def _next_body_chunk(self) -> bytes | None:
        while True:
            if self._pending:
                chunk, self._pending = self._pending, b""
                return chunk
            if self._body_decoder.done or self._eof or self._socket is None:
                return None
            try:
                data = await self._socket.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                self._eof = True
                if self._body_decoder.framing == "close":
                    self._response_complete = True
                return None
            self._pending = self._body_decoder.feed(data)
            self._response_complete = self._body_decoder.done


def _parse_head(head: bytes) -> tuple[int, list[tuple[bytes, bytes]]]:
    status_line, *lines = head.split(b"\r\n")
    version, _, rest = status_line.partition(b" ")
    code = rest[:3]
    if not version.startswith(b"HTTP/1.") or not (code.isdigit() and len(code) == 3):
        raise ValueError(f"not an HTTP/1.x status line: {status_line!r}")
    raw_headers: list[tuple[bytes, bytes]] = []
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise ValueError(f"not a header line: {line!r}")
        raw_headers.append((name.lower(), value.strip(b" \t")))
    return int(code), raw_headers


class _BodyDecoder:
    """Removes the message framing from a response body, fed the bytes as they arrive."""

    def __init__(self, framing: Literal["none", "length", "chunked", "close"], length: int = 0):
        self.framing = framing
        self.done = framing == "none" or (framing == "length" and length == 0)
        self._remaining = length
        self._buffer = bytearray()
        self._state: Literal["size", "data", "data-end", "trailer"] = "size"

    @classmethod
    def for_response(cls, method: str, status: int, headers: Headers) -> _BodyDecoder:
        if method == "HEAD" or status in {204, 304} or status < 200:
            return cls("none")
        codings = headers.get("transfer-encoding")
        if codings is not None:
            if codings.rsplit(",", 1)[-1].strip().lower() == "chunked":
                return cls("chunked")
            return cls("close")
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise ValueError(f"not a Content-Length: {length!r}")
            return cls("length", int(length))
        return cls("close")

    def feed(self, data: bytes) -> bytes:
        if self.done:
            return b""
        if self.framing == "close":
            return data
        if self.framing == "length":
            body = data[: self._remaining]
            self._remaining -= len(body)
            self.done = self._remaining == 0
            return body
        return self._feed_chunked(data)

    def _feed_chunked(self, data: bytes) -> bytes:
        buffer = self._buffer
        buffer += data
        body = bytearray()
        while not self.done:
            if self._state == "data":
                if not buffer:
                    break
                piece = buffer[: self._remaining]
                body += piece
                del buffer[: len(piece)]
                self._remaining -= len(piece)
                if self._remaining == 0:
                    self._state = "data-end"
            elif self._state == "data-end":
                if len(buffer) < 2:
                    break
                if buffer[:2] != b"\r\n":
                    raise ValueError("a chunk of the chunked body is not followed by CRLF")
                del buffer[:2]
                self._state = "size"
            else:
                end = buffer.find(b"\r\n")
                if end < 0:
                    if len(buffer) > _MAX_CHUNK_LINE:
                        raise ValueError("a line of the chunked body is too long")
                    break
                line = bytes(buffer[:end])
                del buffer[: end + 2]
                if self._state == "trailer":
                    self.done = not line
                    continue
                size = line.partition(b";")[0].strip(b" \t")
                if not size or size.strip(b"0123456789abcdefABCDEF"):
                    raise ValueError(f"not a chunk size line: {line!r}")
                self._remaining = int(size, 16)
                self._state = "data" if self._remaining else "trailer"
        return bytes(body)
