"""The examples that use sse_core outside Starlette stream what they encode, and resume.

Each example is served for real on 127.0.0.1 and a free port: the aiohttp one by aiohttp's own
runner, the Django one by uvicorn in a subprocess, the plain asyncio one by its own server. A
raw HTTP/1.1 client reads the stream and sse_core's parser reads the events; both the bytes and
the events must be exactly what the example's feed encodes to.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import TYPE_CHECKING

import pytest
from aiohttp import web
from support.examples import EXAMPLES, load_example
from support.ports import HOST, free_port
from support.servers import run_server

from examples.streams import receive
from sse_core import ServerSentEvent, encode_many
from sse_core.strategies import dispatched_events

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator, Sequence
    from contextlib import AbstractAsyncContextManager
    from types import ModuleType

    from sse_core import ParsedEvent

    Serve = Callable[[], AbstractAsyncContextManager[int]]

pytestmark = pytest.mark.slow


@contextlib.asynccontextmanager
async def serve_aiohttp(feed: Sequence[ServerSentEvent] | None = None) -> AsyncIterator[int]:
    """The aiohttp example on a free port, in this event loop, by aiohttp's own runner."""
    example = load_example("core_aiohttp")
    runner = web.AppRunner(example.make_app(example.FEED if feed is None else feed))
    await runner.setup()
    port = free_port()
    try:
        await web.TCPSite(runner, HOST, port).start()
        yield port
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def serve_asyncio(feed: Sequence[ServerSentEvent] | None = None) -> AsyncIterator[int]:
    """The plain asyncio example's server on a free port, in this event loop."""
    example = load_example("core_asyncio")
    port = free_port()
    server = await example.start(HOST, port, example.FEED if feed is None else feed)
    try:
        yield port
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture(scope="module")
def django_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The Django example under uvicorn, in a subprocess killed (by its group) at the end."""
    work_dir = tmp_path_factory.mktemp("django")
    with run_server("uvicorn", EXAMPLES, work_dir, app="core_django:application") as server:
        yield server.port


@pytest.fixture(params=["aiohttp", "django", "asyncio"])
def example(request: pytest.FixtureRequest) -> tuple[ModuleType, Serve]:
    """(the example's module, a factory of an async context that serves it and gives its port)."""
    name = request.param
    if name == "aiohttp":
        return load_example("core_aiohttp"), serve_aiohttp
    if name == "asyncio":
        return load_example("core_asyncio"), serve_asyncio
    port: int = request.getfixturevalue("django_port")

    @contextlib.asynccontextmanager
    async def already_served() -> AsyncIterator[int]:
        yield port

    return load_example("core_django"), already_served


def test_the_stream_arrives_exactly_as_encoded(example: tuple[ModuleType, Serve]) -> None:
    module, serve = example

    async def scenario() -> None:
        async with serve() as port:
            got = await receive(port, "/events?interval=0")
        assert got.status == 200
        assert got.content_type == "text/event-stream; charset=utf-8"
        assert got.complete
        assert got.wire == encode_many(module.FEED)
        assert got.events == dispatched_events(module.FEED)
        assert got.last_event_id == module.FEED[-1].id

    asyncio.run(scenario())


def test_a_client_that_drops_resumes_after_its_last_event_id(
    example: tuple[ModuleType, Serve],
) -> None:
    module, serve = example
    feed: Sequence[ServerSentEvent] = module.FEED

    async def scenario() -> None:
        async with serve() as port:
            # Slow enough that the client leaves mid-stream, after two events.
            first = await receive(port, "/events?interval=0.3", stop_after=2)
            assert 2 <= len(first.events) < len(feed)
            assert first.last_event_id == feed[len(first.events) - 1].id
            rest = await receive(port, "/events?interval=0", last_event_id=first.last_event_id)
        assert rest.complete
        assert rest.wire == encode_many(feed[len(first.events) :])
        assert first.events + rest.events == dispatched_events(feed)

    asyncio.run(scenario())


@pytest.mark.parametrize(("last_event_id", "sent_from"), [("3", 3), ("6", 6), ("nope", 0)])
def test_last_event_id_picks_where_the_stream_starts(
    example: tuple[ModuleType, Serve], last_event_id: str, sent_from: int
) -> None:
    module, serve = example
    feed: Sequence[ServerSentEvent] = module.FEED

    async def scenario() -> None:
        async with serve() as port:
            got = await receive(port, "/events?interval=0", last_event_id=last_event_id)
        assert got.complete
        assert got.wire == encode_many(feed[sent_from:])
        assert got.events == dispatched_events(feed[sent_from:], last_event_id=last_event_id)

    asyncio.run(scenario())


def test_the_standard_library_client_reads_and_resumes(example: tuple[ModuleType, Serve]) -> None:
    module, serve = example
    read_events = load_example("core_client").read_events
    feed: Sequence[ServerSentEvent] = module.FEED

    def read(url: str, last_event_id: str = "", count: int | None = None) -> list[ParsedEvent]:
        # Leaving the generator early closes the connection, as a dropped client.
        return list(itertools.islice(read_events(url, last_event_id=last_event_id), count))

    async def scenario() -> None:
        async with serve() as port:
            url = f"http://{HOST}:{port}/events"
            assert await asyncio.to_thread(read, f"{url}?interval=0") == dispatched_events(feed)
            first = await asyncio.to_thread(read, f"{url}?interval=0.3", "", 2)
            rest = await asyncio.to_thread(read, f"{url}?interval=0", first[-1].id)
        assert len(first) == 2
        assert first + rest == dispatched_events(feed)

    asyncio.run(scenario())


# Ids a browser sends back as UTF-8 bytes: each server must hand them to last_event_id_from_header
# in a form it can recover them from (aiohttp decodes header values as UTF-8, not latin-1).
NON_ASCII_FEED = [
    ServerSentEvent(f"event {n}", id=f"{n}-{tag}")
    for n, tag in enumerate(["café", "naïve", "€uro", "日本", "🚀"])
]


@pytest.mark.parametrize("serve", [serve_aiohttp, serve_asyncio], ids=["aiohttp", "asyncio"])
@pytest.mark.parametrize("resume_after", range(len(NON_ASCII_FEED)))
def test_non_ascii_ids_come_back_and_resume(
    serve: Callable[[Sequence[ServerSentEvent]], AbstractAsyncContextManager[int]],
    resume_after: int,
) -> None:
    last_event_id = NON_ASCII_FEED[resume_after].id
    assert last_event_id is not None

    async def scenario() -> None:
        async with serve(NON_ASCII_FEED) as port:
            got = await receive(port, "/events?interval=0", last_event_id=last_event_id)
        assert got.wire == encode_many(NON_ASCII_FEED[resume_after + 1 :])

    asyncio.run(scenario())
