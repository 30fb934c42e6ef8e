"""A raw-socket HTTP/1.1 client for the real-server tests: one request per connection.

The test sees exactly when body bytes arrive (`read_some`), whether the response was completed
(its last chunk) or cut (`IncompleteResponse`), and keeps the asyncio streams underneath, so it
can shrink the socket's receive buffer before connecting (`rcvbuf`) and the reader's buffer
(`limit`) to play a client that stops reading, send request bytes of its own (`send_body`,
`writer`), or leave with a TCP reset.

HTTP itself is parsed by the binding's test client code (`sse_starlette_binding.testing._http`,
on h11), which `open_event_stream` uses too; only the asyncio I/O lives here.
"""

from __future__ import annotations

__all__ = ["HTTPResponse", "IncompleteResponse", "open_request"]

import asyncio
import contextlib
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from sse_starlette_binding.testing._http import Exchange, IncompleteResponse
from support.servers import HOST

if TYPE_CHECKING:
    from collections.abc import Sequence

READ_SIZE: Final = 1 << 16


@dataclass
class HTTPResponse:
    """One HTTP/1.1 response as it arrives: status and headers, then the body on demand."""

    exchange: Exchange
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    _pending: bytes = b""
    """Body bytes that arrived with the head, or after `read_block`'s last block."""
    _body: bytearray = field(default_factory=bytearray, init=False)

    @property
    def status(self) -> int:
        assert self.exchange.status is not None, "the head has not arrived"
        return self.exchange.status

    @property
    def reason(self) -> str:
        return self.exchange.reason.decode("latin-1")

    @property
    def headers(self) -> list[tuple[str, str]]:
        """(name lowercased, value) in the order received."""
        return [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in self.exchange.headers
        ]

    @property
    def complete(self) -> bool:
        """Whether the whole body arrived: the last chunk, or Content-Length bytes, or EOF."""
        return self.exchange.complete

    def header(self, name: str) -> str | None:
        """The value of header `name` (the values joined with ", " if it is repeated)."""
        values = self.header_values(name)
        return ", ".join(values) if values else None

    def header_values(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.headers if key == name]

    @property
    def chunked(self) -> bool:
        encoding = self.header("transfer-encoding") or ""
        return "chunked" in encoding.lower()

    async def read_some(self) -> bytes:
        """The next piece of the body as it arrives; b"" once the body is complete.

        Raises `IncompleteResponse` when the connection ends before the body does (and
        `ConnectionError` when it is reset).
        """
        while not self._pending:
            if self.complete:
                return b""
            self._pending = self.exchange.receive(await self.reader.read(READ_SIZE))
        data, self._pending = self._pending, b""
        return data

    async def read_block(self, separator: bytes = b"\r\n\r\n") -> bytes | None:
        """The next event-stream block (its lines and the blank line that ends it, as sent),
        or None when the body ends first. Bytes after the last block stay unread."""
        while True:
            end = self._body.find(separator)
            if end >= 0:
                end += len(separator)
                block = bytes(self._body[:end])
                del self._body[:end]
                return block
            data = await self.read_some()
            if not data:
                return None
            self._body += data

    async def read_to_end(self) -> bytes:
        """The rest of the body (whatever `read_block` left buffered included)."""
        while data := await self.read_some():
            self._body += data
        rest = bytes(self._body)
        self._body.clear()
        return rest

    async def send_body(self, data: bytes) -> None:
        """Send `data` as more of the request body (framed as the request's headers say)."""
        self.writer.write(self.exchange.send_body(data))
        await self.writer.drain()

    def close(self) -> None:
        """Close the connection (a FIN, as a client that goes away)."""
        self.writer.close()

    async def aclose(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


async def open_request(
    port: int,
    path: str,
    *,
    method: str = "GET",
    headers: Sequence[tuple[str, str]] = (("Accept", "text/event-stream"),),
    rcvbuf: int | None = None,
    limit: int = 1 << 16,
    timeout: float = 5.0,
    body: bytes = b"",
) -> HTTPResponse:
    """Send one request to 127.0.0.1:`port` and read up to the end of the response's head.

    `headers` go out after ``Host``, as given (repeats included). `rcvbuf` sets SO_RCVBUF
    before connecting (a small receive window for a client that stops reading); `limit` is the
    asyncio reader's buffer limit (it stops reading from the socket at twice that). `body` is
    sent after the head, framed by the ``Content-Length`` or ``Transfer-Encoding`` in
    `headers`; the request ends there unless it is chunked (then `HTTPResponse.send_body` sends
    more). Raises TimeoutError when the head takes over `timeout` seconds.
    """
    fields = [(b"Host", f"{HOST}:{port}".encode())]
    fields += [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    exchange = Exchange(method, path, fields)
    request = exchange.request_head + exchange.send_body(body)
    chunked = any(
        name.lower() == "transfer-encoding" and "chunked" in value.lower()
        for name, value in headers
    )
    if not chunked:
        request += exchange.end_request()
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.wait_for(loop.sock_connect(sock, (HOST, port)), timeout)
        reader, writer = await asyncio.open_connection(sock=sock, limit=limit)
    except BaseException:
        sock.close()
        raise
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(timeout):
            pending = b""
            while exchange.status is None:
                pending = exchange.receive(await reader.read(READ_SIZE))
    except BaseException:
        writer.close()
        raise
    return HTTPResponse(exchange, reader, writer, pending)
