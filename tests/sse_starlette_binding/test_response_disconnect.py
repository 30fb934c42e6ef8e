"""EventSourceResponse when the client disconnects: the producer is cancelled and its
cleanup runs once, also while it is idle.

Each test drives the response with `support.scripted_asgi`'s client, under asyncio and
trio, so it sees every ASGI message and decides when the client disconnects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import pytest
from support.scripted_asgi import Client, hello_then_idle, run

from sse_starlette_binding import EventSourceResponse

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.types import Message

pytestmark = pytest.mark.parametrize("backend", ["asyncio", "trio"])


def test_disconnect_cancels_the_producer_runs_cleanup_and_the_close_handler_once(
    backend: str,
) -> None:
    client = Client()
    cleanups: list[str] = []
    handled: list[Message] = []

    async def endless() -> AsyncIterator[str]:
        try:
            while True:
                yield "tick"
                await anyio.sleep(0.01)
        finally:
            cleanups.append("done")

    async def on_close(message: Message) -> None:
        handled.append(message)

    async def scenario() -> None:
        response = EventSourceResponse(endless(), ping=0, client_close_handler_callable=on_close)
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run, response)
            await client.body_arrived.wait()
            client.disconnect_now.set()

    run(backend, scenario)
    assert cleanups == ["done"]
    assert handled == [{"type": "http.disconnect"}]
    assert client.completed


def test_disconnect_is_noticed_while_the_producer_is_idle(backend: str) -> None:
    client = Client()
    cleanups: list[str] = []

    async def scenario() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.run, EventSourceResponse(hello_then_idle(cleanups), ping=0))
            await client.body_arrived.wait()
            client.disconnect_now.set()

    run(backend, scenario)
    assert cleanups == ["done"]
