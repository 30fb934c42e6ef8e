"""A scripted ASGI client for driving a response directly, under asyncio or trio.

`Client` records every message a response sends and reports ``http.disconnect`` when a test
says so; `StallingClient` also stops taking messages at a chosen one, as a client whose window
is full does. Tests use them to see exactly what went out (how many body messages, whether the
response was completed) and to decide when the client leaves. Real servers are exercised by the
tests that use `support.servers`.
"""

from __future__ import annotations

__all__ = [
    "LIMIT",
    "Client",
    "StallingClient",
    "body_containing",
    "finite",
    "hello_then_idle",
    "is_body",
    "is_final",
    "is_start",
    "run",
]

from typing import TYPE_CHECKING, Any, Final

import anyio

from sse_core import EventParser, ParsedEvent

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from starlette.types import ASGIApp, Message

LIMIT: Final = 5.0
"""Seconds any single scenario may take before it counts as hung."""


async def hello_then_idle(cleanups: list[str]) -> AsyncIterator[str]:
    """Says "hello", then waits forever (ignoring any shutdown event); records its cleanup."""
    try:
        yield "hello"
        await anyio.sleep_forever()
    finally:
        cleanups.append("done")


def run(backend: str, scenario: Callable[[], Awaitable[None]]) -> None:
    """Run `scenario` on a fresh event loop of `backend` ("asyncio" or "trio")."""
    anyio.run(scenario, backend=backend)


async def finite(*items: Any) -> AsyncIterator[Any]:
    """An async generator that yields `items` without waiting."""
    for item in items:
        yield item


def is_start(message: Message) -> bool:
    """Whether `message` is the response's start (its status and headers)."""
    return bool(message["type"] == "http.response.start")


def is_body(message: Message) -> bool:
    """Whether `message` is a body message."""
    return bool(message["type"] == "http.response.body")


def is_final(message: Message) -> bool:
    """Whether `message` is the body message that completes the response."""
    return is_body(message) and not message.get("more_body", False)


def body_containing(text: bytes) -> Callable[[Message], bool]:
    """A test of whether a message is a body message that contains `text`."""

    def matches(message: Message) -> bool:
        return is_body(message) and text in message.get("body", b"")

    return matches


class Client:
    """Records what the response sends; disconnects when `disconnect_now` is set."""

    def __init__(self, *, method: str = "GET", scope_type: str = "http") -> None:
        self.scope: dict[str, Any] = {"type": scope_type, "method": method, "headers": []}
        self.messages: list[Message] = []
        self.disconnect_now = anyio.Event()
        self.body_arrived = anyio.Event()

    async def receive(self) -> Message:
        # Like uvicorn and hypercorn: a message that is already there is returned without
        # waiting, so the response's wake-ups (which cancel this wait) cannot starve it.
        if not self.disconnect_now.is_set():
            await self.disconnect_now.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.messages.append(message)
        if message["type"].endswith("http.response.body") and message["body"]:
            self.body_arrived.set()

    async def run(self, response: ASGIApp) -> None:
        with anyio.fail_after(LIMIT):
            await response(self.scope, self.receive, self.send)

    @property
    def bodies(self) -> list[bytes]:
        return [m["body"] for m in self.messages if m["type"].endswith("http.response.body")]

    @property
    def raw(self) -> bytes:
        return b"".join(self.bodies)

    @property
    def completed(self) -> bool:
        last = self.messages[-1]
        return last["type"].endswith("http.response.body") and not last.get("more_body", False)

    def events(self) -> list[ParsedEvent]:
        return EventParser().feed(self.raw)

    @property
    def headers(self) -> dict[str, str]:
        start = self.messages[0]
        return {name.decode(): value.decode() for name, value in start["headers"]}


class StallingClient(Client):
    """A client that stops taking messages: the first message `stalls_on` accepts is never
    taken, so its ``send()`` blocks until it is cancelled (and so would every later one).

    `stalled` is set once a send is blocked; `cancelled` counts the blocked sends that ended by
    cancellation (a response that returns has none left blocked: it awaits each send). The
    messages that were never taken are not recorded in `messages`.
    """

    def __init__(self, stalls_on: Callable[[Message], bool], *, method: str = "GET") -> None:
        super().__init__(method=method)
        self.stalls_on = stalls_on
        self.stalled = anyio.Event()
        self.cancelled = 0

    async def send(self, message: Message) -> None:
        if self.stalled.is_set() or self.stalls_on(message):
            self.stalled.set()
            try:
                await anyio.sleep_forever()
            except anyio.get_cancelled_exc_class():
                self.cancelled += 1
                raise
        await super().send(message)

    async def leave_when_stalled(self, response: ASGIApp) -> None:
        """Run `response`; once a send is stuck, report the disconnect."""
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(self.run, response)
            await self.stalled.wait()
            self.disconnect_now.set()
