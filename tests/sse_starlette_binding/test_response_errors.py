"""EventSourceResponse when the producer fails: logged, the response completed, and
`on_producer_error` (even a failing one) turned into a last event.

Each test drives the response with `support.scripted_asgi`'s client, under asyncio and
trio, so it sees every ASGI message and decides when the client disconnects.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest
from support.scripted_asgi import Client, run

from sse_starlette_binding import EventSourceResponse, ServerSentEvent

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.parametrize("backend", ["asyncio", "trio"])


def test_a_producer_error_is_logged_and_the_response_completed(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client()

    async def failing() -> AsyncIterator[str]:
        yield "before"
        raise RuntimeError("database went away")

    async def scenario() -> None:
        await client.run(EventSourceResponse(failing(), ping=0))

    with caplog.at_level(logging.ERROR, logger="sse_starlette_binding"):
        run(backend, scenario)
    assert client.raw == b"data: before\r\n\r\n"
    assert client.completed
    [record] = caplog.records
    assert record.exc_info is not None
    assert "database went away" in str(record.exc_info[1])


def test_on_producer_error_turns_the_error_into_a_last_event(backend: str) -> None:
    client = Client()

    async def failing() -> AsyncIterator[str]:
        yield "before"
        raise RuntimeError("boom")

    def to_event(exc: Exception) -> ServerSentEvent:
        return ServerSentEvent(str(exc), event="error")

    async def scenario() -> None:
        await client.run(EventSourceResponse(failing(), ping=0, on_producer_error=to_event))

    run(backend, scenario)
    assert [(e.event, e.data) for e in client.events()] == [
        ("message", "before"),
        ("error", "boom"),
    ]
    assert client.completed


def test_an_invalid_item_ends_the_stream_before_any_of_its_bytes(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client()
    cleanups: list[str] = []

    async def producer() -> AsyncIterator[Any]:
        try:
            yield "fine"
            yield {"id": "a\nb", "data": "injected"}
            yield "never sent"
        finally:
            cleanups.append("done")

    async def scenario() -> None:
        await client.run(EventSourceResponse(producer(), ping=0))

    with caplog.at_level(logging.ERROR, logger="sse_starlette_binding"):
        run(backend, scenario)
    assert client.raw == b"data: fine\r\n\r\n"
    assert cleanups == ["done"]
    assert "invalid 'id' field" in str(caplog.records[0].exc_info[1])  # type: ignore[index]


def test_a_failing_error_hook_is_logged_and_the_stream_still_completes(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client()

    async def failing() -> AsyncIterator[str]:
        yield "before"
        raise RuntimeError("first failure")

    def broken_hook(exc: Exception) -> ServerSentEvent:
        raise ValueError("second failure")

    async def scenario() -> None:
        await client.run(EventSourceResponse(failing(), ping=0, on_producer_error=broken_hook))

    with caplog.at_level(logging.ERROR, logger="sse_starlette_binding"):
        run(backend, scenario)
    assert client.raw == b"data: before\r\n\r\n"
    assert client.completed
    assert [str(record.exc_info[1]) for record in caplog.records if record.exc_info] == [
        "first failure",
        "second failure",
    ]
