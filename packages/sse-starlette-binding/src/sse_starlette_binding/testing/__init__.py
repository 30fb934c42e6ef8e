"""Clients for tests: read an event stream back as parsed events, and never hang.

`EventStreamClient` calls an ASGI app in process (no server, no sockets); `open_event_stream`
speaks plain HTTP/1.1 to a real server on a URL. Both hand you an `EventStreamReader`: the
response's status and headers as soon as it starts, then its events, parsed by
`sse_core.EventParser` exactly as a browser's `EventSource` would dispatch them. (The name says
"reader" to keep it apart from the FastAPI binding's `EventStream`, the server side.)

Every wait is bounded. Reading events has a total deadline (`timeout`, 5 seconds unless you say
otherwise) and raises `TimeoutError` when the deadline passes first, unless you asked to stop
there (`stop_at_timeout=True`). Leaving the ``async with`` block of a stream disconnects: the
in-process client delivers ``http.disconnect`` to the app and waits (bounded) for it to return,
so the producer's cleanup has run by the time the block is left; the URL client closes its
socket.

>>> import anyio
>>> from starlette.applications import Starlette
>>> from starlette.routing import Route
>>> from sse_starlette_binding import EventSourceResponse
>>> async def ticks(request):
...     async def stream():
...         for n in range(3):
...             yield {"event": "tick", "id": str(n), "data": n}
...     return EventSourceResponse(stream())
>>> app = Starlette(routes=[Route("/ticks", ticks)])
>>> async def main():
...     async with EventStreamClient(app) as client:
...         async with client.stream("/ticks", last_event_id="0") as stream:
...             assert stream.status == 200
...             return await stream.collect(max_events=2, timeout=1.0)
>>> anyio.run(main)
[ParsedEvent(event='tick', data='0', id='0'), ParsedEvent(event='tick', data='1', id='1')]

Against a running server: ``async with open_event_stream("http://127.0.0.1:8000/ticks") as
stream: events = await stream.collect(timeout=1.0)``.

The modules behind this package, one idea each: ``_reader`` (events out of a response),
``_request`` (the request both clients send), ``_app_client`` (in process) and ``_url_client``
(over TCP).
"""

from ._app_client import AppEventStream, EventStreamClient
from ._reader import DEFAULT_TIMEOUT, EventStreamReader
from ._url_client import HTTPEventStream, open_event_stream

__all__ = [
    "DEFAULT_TIMEOUT",
    "AppEventStream",
    "EventStreamClient",
    "EventStreamReader",
    "HTTPEventStream",
    "open_event_stream",
]
