"""The benchmarks' HTTP/1.1 client side: requests out, responses in, on asyncio.

h11 does the HTTP, through the Starlette binding's test exchange
(`sse_starlette_binding.testing._http.Exchange`): it writes every request and parses every
response head. A response read whole (`fetch`: the debug paths, the byte-exact checks before
timing) goes through the tests' own client, `support.http_client`, which also removes the
chunked framing. The timed readers (`StreamReader`) hand h11 only the head and take the body
as raw bytes, because what they measure is per read, not per event (a ``bytes.count`` or
``bytes.split`` over a whole read, the chunked bytes on the wire counted too): putting every
body byte through h11 would make the client, not the server, the bottleneck.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from support.http_client import HTTPResponse, open_request
from support.ports import HOST

from harness.server import MeasurementError
from sse_starlette_binding.testing._http import Exchange

if TYPE_CHECKING:
    from collections.abc import Awaitable, Sequence

FETCH_TIMEOUT: Final = 300.0  # seconds for a whole response read by `fetch`
HEAD_END: Final = b"\r\n\r\n"


@dataclass(frozen=True, slots=True)
class Request:
    """A request to the server on 127.0.0.1: ``Host``, then `headers`, then `body` (framed by
    the ``Content-Length`` among `headers`)."""

    path: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def wire(self) -> bytes:
        """The request's bytes, for a timed reader to send on its own connection."""
        exchange = Exchange(self.method, self.path, _fields(self.headers))
        return exchange.request_head + exchange.send_body(self.body) + exchange.end_request()


def request_bytes(path: str) -> bytes:
    """The bytes of a whole ``GET`` of `path`."""
    return Request(path).wire()


def _fields(headers: Sequence[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    fields = [(b"Host", HOST.encode())]
    return fields + [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]


async def fetch(port: int, request: Request) -> tuple[HTTPResponse, bytes]:
    """`request` on a fresh connection, its response read to the end by the tests' HTTP client
    (`support.http_client`): the response (status, headers) and its body, the chunked framing
    removed. A `MeasurementError` when it is not HTTP, is cut, or takes over `FETCH_TIMEOUT`
    seconds."""
    where = f"{request.method} {request.path}"
    try:
        async with asyncio.timeout(FETCH_TIMEOUT):
            response = await open_request(
                port,
                request.path,
                method=request.method,
                headers=request.headers,
                body=request.body,
                timeout=FETCH_TIMEOUT,
            )
            try:
                return response, await response.read_to_end()
            finally:
                await response.aclose()
    except TimeoutError:
        raise MeasurementError(f"{where}: no whole response within {FETCH_TIMEOUT:g} s") from None
    except (ValueError, ConnectionError) as exc:  # not HTTP/1.1; cut (IncompleteResponse), reset
        raise MeasurementError(f"{where}: {exc}") from None


async def get(port: int, path: str) -> tuple[int, bytes]:
    """A plain GET on a fresh connection: (status, payload), the chunked framing removed."""
    response, body = await fetch(port, Request(path))
    return response.status, body


async def get_text(port: int, path: str) -> str:
    """The body of a GET of `path` as text; a `MeasurementError` unless the status is 200."""
    status, body = await get(port, path)
    if status != 200:
        raise MeasurementError(f"GET {path}: status {status}")
    return body.decode()


async def connect(port: int, protocol: asyncio.Protocol) -> asyncio.Transport:
    """A connection to the server on 127.0.0.1 that `protocol` reads."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_connection(lambda: protocol, HOST, port)
    return transport


async def within(seconds: float, awaitable: Awaitable[object], what: str) -> None:
    """Await `awaitable`; a `MeasurementError` if it takes longer than `seconds`."""
    try:
        await asyncio.wait_for(awaitable, seconds)
    except TimeoutError:
        raise MeasurementError(f"{what}: nothing within {seconds:g} s") from None


class StreamReader(asyncio.Protocol):
    """Reads one chunked event-stream response: h11 checks its head (status 200, chunked),
    then every read of the body goes to `body_received` as raw bytes, chunked framing
    included, with the ``time.monotonic_ns()`` at which the read arrived.

    `done` completes when the reader has what it waits for (a subclass says what), or fails
    with a `MeasurementError`.
    """

    def __init__(self) -> None:
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.head = b""
        self.in_body = False

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        if not self.in_body:
            self.head += data
            end = self.head.find(HEAD_END)
            if end < 0:
                return
            end += len(HEAD_END)
            data, head, self.head = self.head[end:], self.head[:end], b""
            problem = check_head(head)
            if problem is not None:
                self.finish(MeasurementError(problem))
                return
            self.in_body = True
            self.head_received()
        try:
            self.body_received(data, now)
        except MeasurementError as exc:
            self.finish(exc)

    def head_received(self) -> None:
        """Called once the head is checked, before the first `body_received`."""

    def body_received(self, data: bytes, now: int) -> None:
        """Called with each piece of the body as it arrives (`now`: its monotonic_ns); each
        reader counts or splits it in its own way."""
        raise NotImplementedError

    def connection_lost(self, exc: BaseException | None) -> None:
        if exc is not None and not isinstance(exc, Exception):
            self.finish(exc)  # SystemExit or KeyboardInterrupt: the benchmark is stopping
        else:
            self.finish(MeasurementError(f"connection closed before the stream ended ({exc!r})"))

    def finish(self, error: BaseException | None) -> None:
        if self.done.done():
            return
        if error is None:
            self.done.set_result(None)
        else:
            self.done.set_exception(error)


def check_head(head: bytes) -> str | None:
    """None when `head` (a response head, up to its blank line) is a 200 with a chunked
    body; else what is wrong with it."""
    response = Exchange("GET", "/", _fields(()))
    try:
        response.receive(head)
    except ValueError as exc:
        return f"not an HTTP/1.1 response head: {exc}"
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in response.headers}
    if response.status != 200 or headers.get("transfer-encoding", "").lower() != "chunked":
        return f"status {response.status}, headers {headers}"
    return None
