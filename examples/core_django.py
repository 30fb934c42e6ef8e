"""Server-Sent Events from Django with sse_core alone: a one-file Django project, served as ASGI.

Serve it with:  uv run uvicorn --app-dir examples core_django:application --port 8082
Then:           curl -N http://127.0.0.1:8082/events
Resume:         curl -N -H 'Last-Event-ID: 3' http://127.0.0.1:8082/events

Django streams an async generator through `StreamingHttpResponse` when it runs under an ASGI
server (uvicorn here): each `bytes` the generator yields goes out as it is yielded. sse_core
writes those bytes (`encode`) and reads the ``Last-Event-ID`` header back into the id it sent
(`last_event_id_from_header`: Django hands header values over decoded as latin-1, and a
non-ASCII id needs undoing that). Under WSGI, Django would have to consume an async generator
in a thread; serve event streams with ASGI.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.asgi import get_asgi_application
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import path

from sse_core import ServerSentEvent, encode, last_event_id_from_header

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

FEED = (
    ServerSentEvent("queued", event="status", id="1", retry=2000),
    ServerSentEvent.from_json({"step": "build", "progress": 0.5}, event="progress", id="2"),
    ServerSentEvent("compiling...\nlinking...\n", event="log", id="3"),
    ServerSentEvent("  café ☕, naïve résumé 🚀", event="log", id="4"),
    ServerSentEvent.from_json({"step": "build", "progress": 1.0}, event="progress", id="5"),
    ServerSentEvent("done", event="status", id="6"),
)
"""What the stream sends: every event has an id, so a client can resume after any of them."""


def events_after(feed: Sequence[ServerSentEvent], last_id: str | None) -> Sequence[ServerSentEvent]:
    """The events after the one whose id is `last_id`; all of them for an unknown id or None."""
    for index, event in enumerate(feed):
        if event.id is not None and event.id == last_id:
            return feed[index + 1 :]
    return feed


async def events(request: HttpRequest) -> StreamingHttpResponse:
    """``GET /events?interval=SECONDS``: the feed after ``Last-Event-ID``, one event at a time."""
    last_id = last_event_id_from_header(request.headers.get("Last-Event-ID"))
    interval = float(request.GET.get("interval", "0.5"))

    async def stream() -> AsyncIterator[bytes]:
        # Django cancels this generator when the client disconnects (Django 5.0 and later).
        for index, event in enumerate(events_after(FEED, last_id)):
            if index:
                await asyncio.sleep(interval)
            yield encode(event)

    response = StreamingHttpResponse(stream(), content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-store"
    # nginx and some other proxies buffer responses unless told not to.
    response["X-Accel-Buffering"] = "no"
    return response


async def health(request: HttpRequest) -> HttpResponse:
    """``GET /health``: 200 once the app serves (for a load balancer, and the tests)."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("events", events), path("health", health)]

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="an example, not a secret: set a real one in a real project",
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
    )

application = get_asgi_application()
"""The ASGI application uvicorn serves."""

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(application, host="127.0.0.1", port=8082)
