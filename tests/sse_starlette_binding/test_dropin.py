"""Drop-in: the same application code, served once with sse-starlette 3.7 and once with this
package (only the import differs), puts the same bytes on the wire.

Each endpoint below is written the way sse-starlette's documentation teaches; `app_for` builds
the application around whichever module it is given, as a user's code would after changing its
import. The in-process test client reads both streams to the end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import pytest
import sse_starlette
import sse_starlette.sse
from starlette.applications import Starlette
from starlette.routing import Route

import sse_starlette_binding
from sse_starlette_binding.testing import EventStreamClient

if TYPE_CHECKING:
    import types
    from collections.abc import AsyncIterator, Iterator

    from anyio.streams.memory import MemoryObjectReceiveStream
    from starlette.requests import Request

LIBRARIES = {"sse-starlette": sse_starlette, "binding": sse_starlette_binding}


def app_for(sse: types.ModuleType, receivers: list[MemoryObjectReceiveStream[Any]]) -> Starlette:
    """One application, written against the module `sse` (either library). The memory streams
    it hands to responses are kept in `receivers`, for the test to look at afterwards. The
    endpoints return `Any`: the response class is whichever library `sse` is."""

    async def dict_items(request: Request) -> Any:
        async def numbers() -> AsyncIterator[dict[str, Any]]:
            for n in range(5):
                yield {"event": "number", "id": str(n), "data": str(n), "retry": 2000}

        return sse.EventSourceResponse(numbers(), ping=0)

    async def event_objects(request: Request) -> Any:
        async def events() -> AsyncIterator[Any]:
            yield sse.ServerSentEvent("one\ntwo\r\nthree", event="lines", id="a1")
            yield sse.ServerSentEvent(comment="just a comment")
            yield sse.ServerSentEvent(data="", event="empty")
            yield sse.ServerSentEvent(id="no-data", retry=0)
            yield sse.JSONServerSentEvent({"text": "café ☕", "n": [1, 2.5, None]}, event="json")
            yield "plain text"
            yield b"data: raw bytes\r\n\r\n"

        return sse.EventSourceResponse(events(), ping=0)

    async def assigned(request: Request) -> Any:
        # Events changed after they were built, and one event object sent again and again.
        class Progress(sse.ServerSentEvent):  # type: ignore[misc,name-defined]
            def __init__(self, done: int) -> None:
                super().__init__(f"{done}%", event="progress", retry=1000)
                self.done = done

        async def events() -> AsyncIterator[Any]:
            event = sse.ServerSentEvent("draft", event="status")
            yield event
            event.data = "final"
            event.id = "2"
            yield event
            reused = sse.ServerSentEvent(comment="first")
            for n in range(3):
                reused.data = str(n)
                reused.comment = None
                yield reused
            progress = Progress(50)
            yield progress
            progress.data, progress.retry = "100%", None
            yield progress

        return sse.EventSourceResponse(events(), ping=0)

    async def sync_generator(request: Request) -> Any:
        def lines() -> Iterator[str]:
            yield from ("sync 1", "sync 2")

        return sse.EventSourceResponse(lines(), ping=0)

    async def push(request: Request) -> Any:
        sender, receiver = anyio.create_memory_object_stream[dict[str, str]](10)
        receivers.append(receiver)

        async def feed() -> None:
            async with sender:
                for n in range(3):
                    await sender.send({"data": f"pushed {n}"})

        return sse.EventSourceResponse(receiver, data_sender_callable=feed, ping=0)

    async def options(request: Request) -> Any:
        async def one() -> AsyncIterator[str]:
            yield "x"

        return sse.EventSourceResponse(
            one(), status_code=201, headers={"X-Trace": "t1"}, sep="\n", ping=0
        )

    return Starlette(
        routes=[
            Route("/dicts", dict_items),
            Route("/events", event_objects),
            Route("/assigned", assigned),
            Route("/sync", sync_generator),
            Route("/push", push),
            Route("/options", options),
        ]
    )


async def read(sse: types.ModuleType, path: str) -> tuple[int, dict[str, str], bytes]:
    receivers: list[MemoryObjectReceiveStream[Any]] = []
    async with EventStreamClient(app_for(sse, receivers)) as client, client.stream(path) as stream:
        await stream.collect(timeout=5)
        assert stream.complete
    for receiver in receivers:
        # One of the documented differences: the binding closes a memory stream it was given
        # when the response ends; sse-starlette leaves that to its caller.
        assert (receiver.statistics().open_receive_streams == 0) is (sse is sse_starlette_binding)
        receiver.close()
    return stream.status, dict(stream.headers), stream.raw


@pytest.mark.parametrize("path", ["/dicts", "/events", "/assigned", "/sync", "/push", "/options"])
def test_the_same_app_writes_the_same_stream(backend: str, path: str) -> None:
    async def both() -> list[tuple[int, dict[str, str], bytes]]:
        return [await read(library, path) for library in LIBRARIES.values()]

    (their_status, their_headers, their_raw), (status, headers, raw) = anyio.run(
        both, backend=backend
    )
    assert raw == their_raw
    assert status == their_status
    # The one header that differs on purpose: "Connection" is hop-by-hop (forbidden in HTTP/2).
    assert their_headers.pop("connection") == "keep-alive"
    assert headers == their_headers
