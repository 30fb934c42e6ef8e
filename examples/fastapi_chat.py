"""A FastAPI app with the three shapes of event stream: a typed generator, a POST token stream
and a push endpoint that other requests publish to.

Serve it with:  uv run uvicorn --app-dir examples fastapi_chat:app
Then open http://127.0.0.1:8000/ in two browser tabs and send a message from one, or:

    curl -N http://127.0.0.1:8000/ticks
    curl -N -X POST http://127.0.0.1:8000/chat -H 'Content-Type: application/json' \\
         -d '{"prompt": "tell me about server-sent events"}'
    curl -X POST http://127.0.0.1:8000/messages -H 'Content-Type: application/json' \\
         -d '{"author": "ann", "text": "hello"}'

The OpenAPI document (http://127.0.0.1:8000/docs) describes each stream's items.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator  # noqa: TC003 (FastAPI reads annotations)
from typing import Annotated

import anyio
from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from sse_core import ServerSentEvent
from sse_core.pydantic import EventModel
from sse_fastapi_binding import (
    EventSourceResponse,
    EventStream,
    EventStreamClosed,
    Stream,
    enable_event_streams,
)

app = FastAPI(title="sse-fastapi-binding example")
enable_event_streams(app)


class Tick(BaseModel):
    n: int


class ChatRequest(BaseModel):
    prompt: str = Field(min_length=1, max_length=2000)


class Token(BaseModel):
    text: str


class Message(BaseModel):
    author: str = Field(min_length=1, max_length=40)
    text: str = Field(min_length=1, max_length=500)


# Stream settings, declared once: a browser waits 2 s before reconnecting, and a stream gets
# 2 s to say goodbye when the server shuts down.
Ticks = Annotated[EventStream[Tick], Stream(retry=2000, shutdown_grace_period=2)]
Messages = Annotated[EventStream[Message], Stream(ping=15, shutdown_grace_period=2)]


@app.get("/ticks", response_class=EventSourceResponse)
async def ticks(stream: Ticks, interval: float = 1.0) -> AsyncIterator[EventModel[Tick]]:
    """Numbered ticks; a reconnecting browser carries on from the last id it saw."""
    n = int(stream.last_event_id or 0)
    while not stream.shutting_down:
        n += 1
        yield EventModel[Tick](data=Tick(n=n), event="tick", id=str(n))
        await anyio.sleep(interval)


@app.post("/chat", response_class=EventSourceResponse)
async def chat(request: ChatRequest) -> AsyncIterator[Token]:
    """A token stream, the shape of an LLM answer. A prompt the model refuses is a 422 with a
    body, not a 200 whose stream breaks: nothing has been sent when the error is raised."""
    if "forbidden" in request.prompt:
        raise HTTPException(status_code=422, detail="the model declines this prompt")
    for word in f"You said: {request.prompt}".split():
        await anyio.sleep(0.05)  # the model thinking
        yield Token(text=word + " ")


class Room:
    """The streams of everyone in the room; publishing sends to each of them."""

    def __init__(self) -> None:
        self.members: set[EventStream[Message]] = set()

    @contextlib.contextmanager
    def join(self, stream: EventStream[Message]) -> Iterator[None]:
        self.members.add(stream)
        try:
            yield
        finally:
            self.members.discard(stream)

    async def publish(self, message: Message) -> int:
        delivered = 0
        for member in list(self.members):
            try:
                await member.send(message)
                delivered += 1
            except EventStreamClosed:
                self.members.discard(member)  # left while we were sending
        return delivered


room = Room()


@app.get("/messages", response_class=EventSourceResponse)
async def messages(stream: Messages) -> None:
    """A push endpoint: it joins the room and waits; POST /messages sends into every stream."""
    await stream.send(ServerSentEvent(comment="joined"))  # opens the stream at once
    with room.join(stream):
        await stream.wait_closed()
    if stream.shutting_down:
        await stream.send(ServerSentEvent("the server is restarting", event="bye"))


@app.post("/messages")
async def publish(message: Message) -> dict[str, int]:
    return {"delivered": await room.publish(message)}


PAGE = """<!doctype html>
<title>sse-fastapi-binding</title>
<form id="send"><input id="text" placeholder="say something" autofocus> <button>send</button></form>
<pre id="log"></pre>
<script>
  const log = document.getElementById("log");
  const show = (line) => { log.textContent = line + "\\n" + log.textContent; };
  const messages = new EventSource("/messages");
  messages.onmessage = (e) => { const m = JSON.parse(e.data); show(`${m.author}: ${m.text}`); };
  messages.addEventListener("bye", (e) => show(`server: ${e.data}`));
  const ticks = new EventSource("/ticks?interval=5");
  ticks.addEventListener("tick", (e) => show(`tick ${JSON.parse(e.data).n}`));
  document.getElementById("send").onsubmit = async (event) => {
    event.preventDefault();
    const text = document.getElementById("text");
    await fetch("/messages", {method: "POST", headers: {"Content-Type": "application/json"},
                              body: JSON.stringify({author: "browser", text: text.value})});
    text.value = "";
  };
</script>
"""


@app.get("/", response_class=HTMLResponse, include_in_schema=False)
async def page() -> str:
    return PAGE
