"""EventSourceResponse with `hold_headers`: an error before the first event escapes as a
normal error response; and `retry`, which is sent first.

Each test drives the response with `support.scripted_asgi`'s client, under asyncio and
trio, so it sees every ASGI message and decides when the client disconnects.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio
import pytest
from support.scripted_asgi import Client, finite, run

from sse_core import EventParser
from sse_starlette_binding import EventSourceResponse

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.parametrize("backend", ["asyncio", "trio"])


class Refused(Exception):
    """What a producer raises before its first event in these tests (an HTTP 404, say)."""


NOTHING: tuple[str, ...] = ()  # iterated by producers that must be generators yet yield nothing


def test_held_headers_let_an_error_before_the_first_event_escape(backend: str) -> None:
    client = Client()
    cleanups: list[str] = []

    async def refuses() -> AsyncIterator[str]:
        try:
            await anyio.sleep(0.01)  # a lookup that fails
            for never in NOTHING:
                yield never
            raise Refused("no such conversation")
        finally:
            cleanups.append("closed")

    async def scenario() -> None:
        with pytest.raises(Refused, match="no such conversation"):
            await client.run(EventSourceResponse(refuses(), ping=0, hold_headers=True))

    run(backend, scenario)
    assert client.messages == []  # nothing was sent, so the framework can send an error status
    assert cleanups == ["closed"]


def test_held_headers_go_out_with_the_first_event_and_later_errors_end_the_stream(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client()

    async def fails_later() -> AsyncIterator[str]:
        await anyio.sleep(0.01)
        yield "first"
        await anyio.sleep(0.01)
        raise Refused("too late for a status")

    async def scenario() -> None:
        await client.run(EventSourceResponse(fails_later(), ping=0, hold_headers=True))

    with caplog.at_level(logging.ERROR, logger="sse_starlette_binding"):
        run(backend, scenario)
    assert client.messages[0]["type"] == "http.response.start"
    assert client.raw == b"data: first\r\n\r\n"
    assert client.completed
    assert "too late for a status" in str(caplog.records[0].exc_info[1])  # type: ignore[index]


def test_held_headers_go_out_with_the_first_ping_of_a_quiet_stream(backend: str) -> None:
    client = Client()

    async def quiet() -> AsyncIterator[str]:
        await anyio.sleep(0.15)
        for never in NOTHING:
            yield never
        raise Refused("after the ping: logged, not raised")

    async def scenario() -> None:
        await client.run(EventSourceResponse(quiet(), ping=0.05, hold_headers=True))

    run(backend, scenario)
    assert client.messages[0]["type"] == "http.response.start"
    assert client.bodies[0].startswith(b": ping - ")
    assert client.completed


def test_held_headers_of_an_empty_stream_go_out_with_its_end(backend: str) -> None:
    client = Client()

    async def scenario() -> None:
        await client.run(EventSourceResponse(finite(), ping=0, hold_headers=True))

    run(backend, scenario)
    assert [m["type"] for m in client.messages] == ["http.response.start", "http.response.body"]
    assert client.completed


def test_held_headers_and_a_failing_data_sender_escape_before_the_first_event(
    backend: str,
) -> None:
    client = Client()

    async def scenario() -> None:
        sender, receiver = anyio.create_memory_object_stream[str](10)

        async def push() -> None:
            raise Refused("the sender refused")

        response = EventSourceResponse(
            receiver, data_sender_callable=push, ping=0, hold_headers=True
        )
        with sender, pytest.raises(Refused, match="the sender refused"):
            await client.run(response)

    run(backend, scenario)
    assert client.messages == []


@pytest.mark.parametrize("hold_headers", [False, True])
def test_retry_is_sent_first(backend: str, hold_headers: bool) -> None:
    client = Client()

    async def late() -> AsyncIterator[str]:
        await anyio.sleep(0.02)
        yield "event"

    async def scenario() -> None:
        response = EventSourceResponse(late(), ping=0, retry=2500, hold_headers=hold_headers)
        await client.run(response)

    run(backend, scenario)
    assert client.raw == b"retry: 2500\r\n\r\ndata: event\r\n\r\n"
    parser = EventParser()
    assert [e.data for e in parser.feed(client.raw)] == ["event"]
    assert parser.retry == 2500
