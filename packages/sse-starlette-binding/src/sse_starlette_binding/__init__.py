"""Server-Sent Events for Starlette, built on sse_core: a drop-in for sse-starlette's API.

>>> from starlette.applications import Starlette
>>> from starlette.routing import Route
>>> from sse_starlette_binding import EventSourceResponse
>>> async def ticks(request):
...     async def stream():
...         for n in range(3):
...             yield {"event": "tick", "data": n}
...     return EventSourceResponse(stream())
>>> app = Starlette(routes=[Route("/ticks", ticks)])

Every byte on the wire is written by sse_core. `sse_starlette_binding.testing` holds clients that
read an app's events back, in process or over HTTP, and never hang.
"""

from ._compat import JSONServerSentEvent, ServerSentEvent
from ._errors import EventStreamError, SendTimeoutError
from ._request import last_event_id
from ._response import Content, EventSourceResponse, check_seconds
from ._shutdown import notify_shutdown

__all__ = [
    "Content",
    "EventSourceResponse",
    "EventStreamError",
    "JSONServerSentEvent",
    "SendTimeoutError",
    "ServerSentEvent",
    "check_seconds",
    "last_event_id",
    "notify_shutdown",
]

__version__ = "0.1.0"
