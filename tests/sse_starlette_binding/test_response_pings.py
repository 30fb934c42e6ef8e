"""EventSourceResponse's keep-alive pings: they fill silences, a factory may replace them, and
a failing factory ends the stream cleanly.

Each test drives the response with `support.scripted_asgi`'s client, under asyncio and
trio, so it sees every ASGI message and decides when the client disconnects.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio
import pytest
from support.scripted_asgi import Client, hello_then_idle, run

from sse_starlette_binding import EventSourceResponse, ServerSentEvent

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.parametrize("backend", ["asyncio", "trio"])


def test_pings_fill_silences_and_events_reset_the_clock(backend: str) -> None:
    client = Client()

    async def slow() -> AsyncIterator[str]:
        yield "one"
        await anyio.sleep(0.25)
        yield "two"
        await anyio.sleep_forever()

    async def scenario() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run, EventSourceResponse(slow(), ping=0.1))
            await anyio.sleep(0.5)
            client.disconnect_now.set()

    run(backend, scenario)
    kinds = ["ping" if body.startswith(b": ping - ") else body for body in client.bodies]
    first, two = kinds.index(b"data: one\r\n\r\n"), kinds.index(b"data: two\r\n\r\n")
    assert kinds[first + 1 : two] == ["ping", "ping"]
    assert kinds[two + 1 : -1] in (["ping", "ping"], ["ping", "ping", "ping"])
    assert client.completed


def test_a_ping_message_factory_replaces_the_comment(backend: str) -> None:
    client = Client()

    async def idle() -> AsyncIterator[str]:
        await anyio.sleep_forever()
        yield "unreachable"

    async def scenario() -> None:
        response = EventSourceResponse(
            idle(), ping=0.05, ping_message_factory=lambda: ServerSentEvent(comment="alive")
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run, response)
            await client.body_arrived.wait()
            client.disconnect_now.set()

    run(backend, scenario)
    assert client.bodies[0] == b": alive\r\n\r\n"


def test_a_failing_ping_factory_ends_the_stream_cleanly(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client()
    cleanups: list[str] = []

    def broken_ping() -> ServerSentEvent:
        raise RuntimeError("no ping today")

    async def scenario() -> None:
        await client.run(
            EventSourceResponse(
                hello_then_idle(cleanups), ping=0.05, ping_message_factory=broken_ping
            )
        )

    with caplog.at_level(logging.ERROR, logger="sse_starlette_binding"):
        run(backend, scenario)
    assert client.raw == b"data: hello\r\n\r\n"
    assert client.completed
    assert cleanups == ["done"]
    assert "no ping today" in str(caplog.records[0].exc_info[1])  # type: ignore[index]
