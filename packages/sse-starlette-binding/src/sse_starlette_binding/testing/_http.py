"""One HTTP/1.1 exchange without I/O: the request's bytes to send, and the response read from
the bytes that come back. h11 does the HTTP; the caller moves the bytes.

Two clients move them: the URL client (`_url_client`, on anyio sockets) and the repository's
raw-socket test client (``tests/support/servers.py``, on asyncio streams, which needs small
receive buffers and a TCP reset). Keeping the I/O out of this module is what lets both parse
HTTP here, once.

h11 comes with the ``testing`` extra of sse-starlette-binding, not with the binding itself
(whose runtime needs no HTTP parser), so nothing imports this module until a URL client is
made.
"""

from __future__ import annotations

__all__ = ["MAX_HEAD_SIZE", "Exchange", "IncompleteResponse"]

from typing import TYPE_CHECKING, Final

import h11

if TYPE_CHECKING:
    from collections.abc import Iterable

MAX_HEAD_SIZE: Final = 64 * 1024
"""The largest response head (or chunk-size line) accepted, in bytes."""


class IncompleteResponse(ConnectionError):
    """The connection ended before the response did: before its head was complete, or with
    its body cut (no last chunk, fewer bytes than its ``Content-Length``)."""


class Exchange:
    """One request on a fresh connection and its response.

    `request_head` holds the bytes of the request line and headers, to send first; then
    `send_body` and `end_request` frame the body (by the ``Content-Length`` or ``Transfer-Encoding``
    among the headers; neither means no body). Every byte read from the connection goes to
    `receive`, which returns the body bytes they complete, the transfer coding removed, and
    sets `status`, `reason` and `headers` once the head has arrived (interim 1xx responses are
    skipped). `complete` turns true when the response has ended as its framing says.

    A caller may send other request bytes than `request_head` (to send what h11 refuses, on
    purpose); the response is still read as the answer to a request with this `method`.
    """

    status: int | None
    """The response's status code; None until its head has arrived."""
    reason: bytes
    """The reason phrase of the status line."""
    headers: list[tuple[bytes, bytes]]
    """The response's header fields as received, names lowercased."""
    complete: bool
    """Whether the whole response arrived (its last chunk, its ``Content-Length`` bytes, or the
    end of the connection when that delimits the body)."""

    def __init__(self, method: str, target: str, headers: Iterable[tuple[bytes, bytes]]) -> None:
        self.method = method
        self.status = None
        self.reason = b""
        self.headers = []
        self.complete = False
        self._connection_closed = False
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_SIZE)
        try:
            request = h11.Request(method=method, target=target, headers=list(headers))
        except h11.LocalProtocolError as exc:
            raise ValueError(f"not a valid HTTP/1.1 request: {exc}") from None
        self.request_head = self._send(request)

    def send_body(self, data: bytes) -> bytes:
        """The bytes that send `data` as (more of) the request body."""
        return self._send(h11.Data(data=data)) if data else b""

    def end_request(self) -> bytes:
        """The bytes that end the request body (nothing, unless it is chunked)."""
        return self._send(h11.EndOfMessage())

    def receive(self, data: bytes) -> bytes:
        """Read `data`, the next bytes from the connection (b"" when it has closed); return the
        body bytes they complete.

        Raises `IncompleteResponse` when the connection closed before the response ended, and
        `ValueError` when the bytes are not an HTTP/1.1 response.
        """
        if self.complete or self._connection_closed:
            return b""
        self._connection_closed = not data
        self._h11.receive_data(data)
        body = bytearray()
        while not self.complete:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                if self._connection_closed:
                    raise self._cut() from None
                raise ValueError(f"not a valid HTTP/1.1 response: {exc}") from None
            if event is h11.NEED_DATA or event is h11.PAUSED:
                break
            if isinstance(event, h11.ConnectionClosed):
                raise self._cut()
            if isinstance(event, h11.Response):
                self.status = event.status_code
                self.reason = bytes(event.reason)
                self.headers = [(bytes(name), bytes(value)) for name, value in event.headers]
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                self.complete = True
            # Interim responses (100 Continue, 103 Early Hints) are skipped.
        return bytes(body)

    def _cut(self) -> IncompleteResponse:
        where = "its head" if self.status is None else "its body"
        return IncompleteResponse(f"the connection closed before the response ended, in {where}")

    def _send(self, event: h11.Event) -> bytes:
        try:
            data = self._h11.send(event)
        except h11.LocalProtocolError as exc:
            raise ValueError(f"not a valid HTTP/1.1 request: {exc}") from None
        return data or b""
