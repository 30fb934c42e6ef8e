"""A Starlette app that streams numbered ticks and resumes where a reconnecting client left off.

Serve it with:  uv run uvicorn --app-dir examples starlette_ticks:app
Then open http://127.0.0.1:8000/ in a browser, or:  curl -N http://127.0.0.1:8000/ticks

Stop the server with Ctrl-C while a stream is open: the stream sends a goodbye event (a
cooperative shutdown, within its grace period) and ends, so uvicorn has no stream to wait for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from sse_starlette_binding import EventSourceResponse, ServerSentEvent, last_event_id

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.requests import Request

PAGE = """<!doctype html>
<title>ticks</title>
<pre id="log"></pre>
<script>
  const log = document.getElementById("log");
  const source = new EventSource("/ticks");
  const show = (line) => { log.textContent += line + "\\n"; };
  source.addEventListener("tick", (e) => show(`tick ${e.data} (id ${e.lastEventId})`));
  source.addEventListener("bye", (e) => show(`server: ${e.data}`));
</script>
"""


async def page(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)


async def ticks(request: Request) -> EventSourceResponse:
    # A browser that reconnects sends the id of the last event it saw: carry on from there.
    start = int(last_event_id(request) or 0) + 1
    shutting_down = anyio.Event()
    interval = float(request.query_params.get("interval", "1"))

    async def stream() -> AsyncIterator[ServerSentEvent]:
        n = start
        # The first event asks browsers to wait 2 s before reconnecting after a drop.
        yield ServerSentEvent(str(n), event="tick", id=str(n), retry=2000)
        while not shutting_down.is_set():
            with anyio.move_on_after(interval):
                await shutting_down.wait()
            if not shutting_down.is_set():
                n += 1
                yield ServerSentEvent(str(n), event="tick", id=str(n))
        yield ServerSentEvent("shutting down, see you soon", event="bye")

    return EventSourceResponse(
        stream(), ping=15, shutdown_event=shutting_down, shutdown_grace_period=2
    )


app = Starlette(routes=[Route("/", page), Route("/ticks", ticks)])
