"""EventSourceResponse and a client that stops reading: dropped after `send_timeout`.

Each test drives the response with `support.scripted_asgi`'s client, under asyncio and
trio, so it sees every ASGI message and decides when the client disconnects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import pytest
from support.scripted_asgi import LIMIT, run

from sse_starlette_binding import EventSourceResponse, SendTimeoutError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.types import Message

pytestmark = pytest.mark.parametrize("backend", ["asyncio", "trio"])


def test_a_client_that_stops_reading_is_dropped_after_send_timeout(backend: str) -> None:
    cleanups: list[str] = []
    stuck = anyio.Event()

    async def endless() -> AsyncIterator[str]:
        try:
            while True:
                yield "x" * 1000
                await anyio.sleep(0)
        finally:
            cleanups.append("done")

    async def blocking_send(message: Message) -> None:
        if message["type"] == "http.response.body":
            await stuck.wait()  # the client's window is full and stays full

    async def never_disconnects() -> Message:
        await anyio.sleep_forever()
        raise AssertionError

    async def scenario() -> None:
        response = EventSourceResponse(endless(), ping=0, send_timeout=0.1)
        with anyio.fail_after(LIMIT), pytest.raises(SendTimeoutError, match=r"within 0\.1 seconds"):
            await response({"type": "http", "method": "GET"}, never_disconnects, blocking_send)

    run(backend, scenario)
    assert cleanups == ["done"]
