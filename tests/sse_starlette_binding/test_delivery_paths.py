"""Paths of `EventSourceResponse` that its performance work touched.

The request task writes an event that came after a wait without going through `write` when no
`send_timeout` is set, and the headers the response sets itself are shared between responses:
each must behave exactly as the general path does. The response itself stays an ordinary
coroutine-function ASGI app.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

import anyio
import pytest

from sse_starlette_binding import EventSourceResponse
from sse_starlette_binding._response import _SHARED_HEADERS_MAX, _shared_headers

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.types import Message

pytestmark = pytest.mark.parametrize("backend", ["asyncio", "trio"])

LIMIT = 5.0


class LeavingClient:
    """An ASGI client whose `send` raises OSError (ASGI 2.4: the client is gone) from the
    `fail_at`-th message on; `receive` never reports the disconnect itself."""

    def __init__(self, fail_at: int) -> None:
        self.fail_at = fail_at
        self.messages: list[Message] = []
        self.refused: list[Message] = []

    async def receive(self) -> Message:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    async def send(self, message: Message) -> None:
        if len(self.messages) + len(self.refused) + 1 >= self.fail_at:
            self.refused.append(message)
            raise OSError("the client is gone")
        self.messages.append(message)


async def waiting_producer(cleanups: list[str]) -> AsyncIterator[str]:
    """Waits before each event, so that each is written on its own, by the request task."""
    try:
        for n in range(100):
            await anyio.sleep(0)
            yield str(n)
    finally:
        cleanups.append("closed")


@pytest.mark.parametrize("send_timeout", [None, 5.0])
def test_a_send_that_raises_oserror_while_the_producer_writes_is_a_disconnect(
    backend: str, send_timeout: float | None
) -> None:
    client = LeavingClient(fail_at=4)  # the start, two events, then OSError
    cleanups: list[str] = []
    closes: list[Message] = []

    async def on_close(message: Message) -> None:
        closes.append(message)

    async def scenario() -> None:
        response = EventSourceResponse(
            waiting_producer(cleanups),
            ping=0,
            send_timeout=send_timeout,
            client_close_handler_callable=on_close,
        )
        with anyio.fail_after(LIMIT):
            await response({"type": "http", "method": "GET"}, client.receive, client.send)

    anyio.run(scenario, backend=backend)
    assert [m["body"] for m in client.messages[1:]] == [b"data: 0\r\n\r\n", b"data: 1\r\n\r\n"]
    assert cleanups == ["closed"]
    assert closes == [{"type": "http.disconnect"}]
    # The response is still completed (the server may refuse that message too).
    assert client.refused[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


def test_a_background_task_runs_after_the_stream(backend: str) -> None:
    from starlette.background import BackgroundTask  # noqa: PLC0415

    order: list[str] = []

    async def receive() -> Message:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body" and not message["more_body"]:
            order.append("completed")

    async def events() -> AsyncIterator[str]:
        yield "x"

    async def scenario() -> None:
        response = EventSourceResponse(
            events(), ping=0, background=BackgroundTask(order.append, "background")
        )
        with anyio.fail_after(LIMIT):
            await response({"type": "http", "method": "GET"}, receive, send)

    anyio.run(scenario, backend=backend)
    assert order == ["completed", "background"]


def test_shared_headers_are_equal_values_that_each_response_may_still_change(
    backend: str,
) -> None:
    del backend
    first = EventSourceResponse(iter(()), headers={"X-Request-Id": "1"})
    second = EventSourceResponse(iter(()), headers={"X-Request-Id": "2"})
    assert first.raw_headers is not second.raw_headers
    assert dict(first.raw_headers)[b"cache-control"] == b"no-store"
    # A header the caller set is never shared.
    assert (b"x-request-id", b"1") not in _shared_headers

    first.headers["Cache-Control"] = "public"
    del first.headers["X-Accel-Buffering"]
    assert dict(first.raw_headers)[b"cache-control"] == b"public"
    assert dict(second.raw_headers) == {
        b"x-request-id": b"2",
        b"cache-control": b"no-store",
        b"x-accel-buffering": b"no",
        b"content-type": b"text/event-stream; charset=utf-8",
    }


def test_shared_headers_are_bounded(backend: str) -> None:
    del backend
    for n in range(_SHARED_HEADERS_MAX + 10):
        response = EventSourceResponse(iter(()), media_type=f"text/x-{n}")
        assert dict(response.raw_headers)[b"content-type"] == (
            f"text/x-{n}; charset=utf-8".encode()
        )
    assert len(_shared_headers) <= _SHARED_HEADERS_MAX


def test_the_response_is_detected_as_an_asgi3_app(backend: str) -> None:
    # uvicorn and hypercorn tell ASGI 3 from ASGI 2 apps by `iscoroutinefunction(app.__call__)`:
    # a response served as an app on its own must stay an `async def` call.
    del backend
    response = EventSourceResponse(iter(()))
    assert inspect.iscoroutinefunction(response.__call__)
