"""The URL client: one HTTP/1.1 request to a real server over TCP."""

from __future__ import annotations

__all__ = ["HTTPEventStream", "open_event_stream"]

from typing import TYPE_CHECKING, Final, Literal
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

_MAX_HEAD_SIZE: Final = 64 * 1024
_MAX_CHUNK_LINE: Final = 4096


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
        self._method = method
        self._timeout = timeout
        authority = parts.netloc.rpartition("@")[2]
        target = quote(
            (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), TARGET_SAFE
        )
        fields = request_headers(authority, method, headers, last_event_id, body)
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
