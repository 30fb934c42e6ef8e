"""Property-testing an endpoint with sse_core's strategies: whatever valid events the aiohttp
and asyncio examples stream, a client receives exactly what was sent (docs/core.md shows the
aiohttp test as the pattern for your own endpoint)."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from hypothesis import given, settings
from support.examples import load_example
from support.ports import HOST, free_port

from examples.streams import receive
from sse_core import ParsedEvent, ServerSentEvent, encode_many
from sse_core import strategies as sse_st

pytestmark = pytest.mark.slow

core_aiohttp = load_example("core_aiohttp")
core_asyncio = load_example("core_asyncio")


async def serve_and_read(app: web.Application) -> tuple[bytes, list[ParsedEvent]]:
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    try:
        await web.TCPSite(runner, HOST, port).start()
        got = await receive(port, "/events?interval=0")
    finally:
        await runner.cleanup()
    return got.wire, got.events


@settings(max_examples=40)
@given(events=sse_st.events_lists())
def test_the_aiohttp_endpoint_delivers_any_events(events: list[ServerSentEvent]) -> None:
    wire, received = asyncio.run(serve_and_read(core_aiohttp.make_app(events)))
    assert received == sse_st.dispatched_events(events)
    assert wire == encode_many(events)


async def serve_asyncio_and_read(events: list[ServerSentEvent]) -> tuple[bytes, list[ParsedEvent]]:
    port = free_port()
    server = await core_asyncio.start(HOST, port, events)
    try:
        got = await receive(port, "/events?interval=0")
    finally:
        server.close()
        await server.wait_closed()
    return got.wire, got.events


@settings(max_examples=40)
@given(events=sse_st.events_lists())
def test_the_asyncio_endpoint_delivers_any_events(events: list[ServerSentEvent]) -> None:
    wire, received = asyncio.run(serve_asyncio_and_read(events))
    assert received == sse_st.dispatched_events(events)
    assert wire == encode_many(events)
