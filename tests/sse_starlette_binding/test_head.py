"""HEAD: the stream's headers and an empty body, and the producer never starts.

An endless stream must not hold a HEAD request (and its connection) open, and a producer with
side effects must not run for a request that wants no body. The method is matched whatever its
case, as Starlette's router matches it, and the writes are held to `send_timeout` as a stream's
are. A real server is exercised by test_servers.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import pytest
from support.scripted_asgi import LIMIT, Client, StallingClient, is_body, is_start, run

from sse_starlette_binding import EventSourceResponse, SendTimeoutError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

    from starlette.types import Message

pytestmark = pytest.mark.parametrize("backend", ["asyncio", "trio"])


class Pulls:
    """An endless producer, async or sync, that records whether anything was asked of it."""

    def __init__(self) -> None:
        self.pulled = False

    async def endless(self) -> AsyncIterator[str]:
        self.pulled = True
        while True:
            yield "x"
            await anyio.sleep(1)

    def endless_sync(self) -> Iterator[str]:
        self.pulled = True
        while True:
            yield "x"


@pytest.mark.parametrize("method", ["HEAD", "head", "Head"])
@pytest.mark.parametrize("producer", ["async", "sync"])
def test_head_sends_headers_only_and_never_starts_the_producer(
    backend: str, method: str, producer: str
) -> None:
    client = Client(method=method)
    pulls = Pulls()
    content = pulls.endless() if producer == "async" else pulls.endless_sync()

    async def scenario() -> None:
        await client.run(EventSourceResponse(content, retry=1000))

    run(backend, scenario)
    assert not pulls.pulled
    assert client.bodies == [b""]  # not even the stream's retry
    assert client.completed
    assert client.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert client.headers["cache-control"] == "no-store"


def test_head_closes_the_content_it_never_read(backend: str) -> None:
    """A memory stream's sender learns at once that nobody will read what it sends."""
    client = Client(method="HEAD")

    async def scenario() -> None:
        sender, receiver = anyio.create_memory_object_stream[str](1)
        await client.run(EventSourceResponse(receiver))
        with sender, pytest.raises(anyio.BrokenResourceError):
            sender.send_nowait("nobody reads this")

    run(backend, scenario)
    assert client.completed


@pytest.mark.parametrize(
    ("stalls_on", "what"), [(is_start, "the response headers"), (is_body, "0 bytes")]
)
def test_send_timeout_bounds_heads_writes(
    backend: str, stalls_on: Callable[[Message], bool], what: str
) -> None:
    client = StallingClient(stalls_on, method="HEAD")  # and it never reports a disconnect
    pulls = Pulls()

    async def scenario() -> None:
        response = EventSourceResponse(pulls.endless(), send_timeout=0.1)
        with anyio.fail_after(LIMIT), pytest.raises(SendTimeoutError) as raised:
            await response(client.scope, client.receive, client.send)
        assert str(raised.value) == f"the client did not take {what} within 0.1 seconds"

    run(backend, scenario)
    assert client.cancelled == 1
    assert not pulls.pulled


def test_a_stuck_head_ends_when_the_client_leaves(backend: str) -> None:
    client = StallingClient(is_start, method="HEAD")

    async def scenario() -> None:
        await client.leave_when_stalled(EventSourceResponse(Pulls().endless()))

    run(backend, scenario)
    assert client.cancelled == 1
    assert client.messages == []
