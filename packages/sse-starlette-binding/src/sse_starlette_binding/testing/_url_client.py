"""The URL client: one HTTP/1.1 request to a real server over TCP, parsed by h11 (`_http`).

h11 is the ``testing`` extra's: it is imported when a URL client is made, so the in-process
client works without it.
"""

from __future__ import annotations

__all__ = ["HTTPEventStream", "open_event_stream"]

from typing import TYPE_CHECKING, Final
from urllib.parse import quote, urlsplit

import anyio
import anyio.abc
from starlette.datastructures import Headers

from ._reader import DEFAULT_TIMEOUT, EventStreamReader
from ._request import TARGET_SAFE, request_headers

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType
    from typing import Self

    from ._http import Exchange

H11_MISSING: Final = (
    "the URL client (open_event_stream) parses HTTP with h11, which the 'testing' extra "
    "installs: pip install 'sse-starlette-binding[testing]'"
)


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

    It needs h11: install ``sse-starlette-binding[testing]`` (`ModuleNotFoundError` says so
    otherwise). A request h11 finds invalid raises `ValueError` here.

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


class HTTPEventStream(EventStreamReader):
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
        self._timeout = timeout
        authority = parts.netloc.rpartition("@")[2]
        target = quote(
            (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), TARGET_SAFE
        )
        fields = request_headers(authority, method, headers, last_event_id, body)
        self._exchange = _exchange(method, target, fields)
        exchange = self._exchange
        self._request = exchange.request_head + exchange.send_body(body) + exchange.end_request()
        self._socket: anyio.abc.SocketStream | None = None
        self._pending = b""
        self._eof = False

    async def __aenter__(self) -> Self:
        if self._socket is not None or self._eof:
            raise RuntimeError("a stream can be entered once; call open_event_stream() again")
        try:
            with anyio.move_on_after(self._timeout) as scope:
                self._socket = await anyio.connect_tcp(self._host, self._port)
                await self._socket.send(self._request)
                await self._read_head()
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

    async def _receive(self) -> bytes:
        """The next bytes from the connection; b"" once it has ended (closed or reset)."""
        if self._socket is None:
            return b""
        try:
            return await self._socket.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
            return b""

    async def _read_head(self) -> None:
        exchange = self._exchange
        while exchange.status is None:
            data = await self._receive()
            try:
                self._pending = exchange.receive(data)
            except ConnectionError:  # _http.IncompleteResponse: the connection ended early
                raise ConnectionError(
                    f"{self.url} closed the connection before a complete response head"
                ) from None
        self.status = exchange.status
        self.headers = Headers(raw=exchange.headers)
        self._response_complete = exchange.complete

    async def _next_body_chunk(self) -> bytes | None:
        exchange = self._exchange
        while not self._pending:
            if exchange.complete or self._eof:
                return None
            data = await self._receive()
            self._eof = not data
            try:
                self._pending = exchange.receive(data)
            except ConnectionError:  # _http.IncompleteResponse: the connection ended early
                return None  # cut: the events end, `complete` stays false
            self._response_complete = exchange.complete
        chunk, self._pending = self._pending, b""
        return chunk


def _exchange(method: str, target: str, fields: list[tuple[bytes, bytes]]) -> Exchange:
    """The h11 exchange of one request, or a `ModuleNotFoundError` that names the extra."""
    try:
        from ._http import Exchange  # noqa: PLC0415 (h11 is optional: imported when needed)
    except ModuleNotFoundError as exc:
        if exc.name != "h11":
            raise
        raise ModuleNotFoundError(H11_MISSING, name="h11") from exc
    return Exchange(method, target, fields)
