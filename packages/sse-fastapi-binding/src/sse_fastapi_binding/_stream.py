"""The event stream an endpoint receives through `Depends`: its settings and its state.

`Stream(...)` declares the settings once; ``Annotated[EventStream, Stream(...)]`` is the alias
endpoints and other dependencies take. FastAPI solves it like any dependency, once per request:
every dependency of the request that asks for it gets the same `EventStream`.
"""

from __future__ import annotations

__all__ = ["EventStream", "Stream", "StreamSettings"]

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

import anyio
from fastapi import Depends, Request

from sse_core import ServerSentEvent as CoreEvent
from sse_starlette_binding import EventSourceResponse as StarletteEventSourceResponse
from sse_starlette_binding import check_seconds, last_event_id

from ._errors import EventStreamClosed

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectSendStream
    from starlette.types import Message

    from ._items import ItemEncoder

ItemT = TypeVar("ItemT")

SCOPE_KEY: Final = "sse_fastapi_binding.stream"
"""Where a request's `EventStream` is kept in its ASGI scope."""


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """How the streams of an endpoint behave; declare them with `Stream(...)`.

    - `ping`: seconds of silence after which a keep-alive comment is sent (0: never).
    - `send_timeout`: seconds a client may take to accept one write before it is dropped
      (None: wait as long as it takes).
    - `retry`: the reconnection time, in milliseconds, sent to the client first (None: the
      client's default).
    - `shutdown_grace_period`: seconds the endpoint may take to finish by itself once the
      server shuts down (`EventStream.shutting_down` turns true) before it is cancelled.
    - `cleanup_timeout`: seconds the endpoint's cleanup may take once the stream ends.
    - `hold_headers`: hold the response's headers back until the first event (or ping), so that
      an `HTTPException` raised before it becomes a normal error response.
    - `max_pending`: events `EventStream.send` may queue before it waits for the client.

    These defaults are the only ones: `Stream()` takes its defaults from here, and the ping
    interval and cleanup timeout are the Starlette binding's response's own.
    """

    ping: float = StarletteEventSourceResponse.DEFAULT_PING_INTERVAL
    send_timeout: float | None = None
    retry: int | None = None
    shutdown_grace_period: float = 0.0
    cleanup_timeout: float | None = StarletteEventSourceResponse.DEFAULT_CLEANUP_TIMEOUT
    hold_headers: bool = True
    max_pending: int = 64

    def __post_init__(self) -> None:
        check_seconds("ping", self.ping)
        check_seconds("send_timeout", self.send_timeout, allow_none=True)
        check_seconds("shutdown_grace_period", self.shutdown_grace_period)
        check_seconds("cleanup_timeout", self.cleanup_timeout, allow_none=True)
        if self.retry is not None:
            CoreEvent(retry=self.retry)  # refuses a bool, a negative or a non-int, naming retry
        if not isinstance(self.hold_headers, bool):
            raise TypeError(f"hold_headers must be a bool, not {type(self.hold_headers).__name__}")
        if isinstance(self.max_pending, bool) or not isinstance(self.max_pending, int):
            raise TypeError(f"max_pending must be an int, not {type(self.max_pending).__name__}")
        if self.max_pending < 1:
            raise ValueError(f"max_pending must be >= 1, got {self.max_pending}")

    async def __call__(self, request: Request) -> EventStream[Any]:
        """The request's stream (the dependency FastAPI solves, on the event loop)."""
        stream: EventStream[Any] | None = request.scope.get(SCOPE_KEY)
        if stream is None:
            stream = EventStream(request, self)
            request.scope[SCOPE_KEY] = stream
        elif stream.settings != self:
            raise TypeError(
                "one request asked for its event stream with two different settings: "
                f"{stream.settings} and {self}; declare the settings once (an Annotated alias) "
                "and use that alias everywhere"
            )
        return stream


DEFAULT_SETTINGS: Final = StreamSettings()
"""The settings of an endpoint that takes no stream, and the defaults of `Stream`."""


def Stream(  # a dependency marker, capitalized like FastAPI's own Depends
    *,
    ping: float = DEFAULT_SETTINGS.ping,
    send_timeout: float | None = DEFAULT_SETTINGS.send_timeout,
    retry: int | None = DEFAULT_SETTINGS.retry,
    shutdown_grace_period: float = DEFAULT_SETTINGS.shutdown_grace_period,
    cleanup_timeout: float | None = DEFAULT_SETTINGS.cleanup_timeout,
    hold_headers: bool = DEFAULT_SETTINGS.hold_headers,
    max_pending: int = DEFAULT_SETTINGS.max_pending,
) -> Any:
    """Declares an endpoint's event stream with its settings (see `StreamSettings`).

    Use it in an ``Annotated`` alias, declared once and reused:

    >>> from typing import Annotated
    >>> Ticks = Annotated[EventStream, Stream(ping=5, retry=3000)]

    An endpoint (or any dependency) then takes ``stream: Ticks``. Invalid settings are refused
    here, when the alias is declared, with the setting's name.
    """
    settings = StreamSettings(
        ping=ping,
        send_timeout=send_timeout,
        retry=retry,
        shutdown_grace_period=shutdown_grace_period,
        cleanup_timeout=cleanup_timeout,
        hold_headers=hold_headers,
        max_pending=max_pending,
    )
    return Depends(settings)


class EventStream(Generic[ItemT]):
    """The event stream of one request: settings, what the client said, and a way to send.

    An endpoint receives it through `Stream` (``stream: Annotated[EventStream[Item],
    Stream()]``). Every endpoint can read `last_event_id`, `connected` and `shutting_down`.
    An ``async def`` endpoint that takes the stream and does not yield is a *push* endpoint: it
    (or any task it hands the stream to) sends events with `send`, and the stream ends when
    the endpoint returns. A generator endpoint yields its events instead.
    """

    def __init__(self, request: Request, settings: StreamSettings) -> None:
        self.request = request
        self.settings = settings
        self.last_event_id: str | None = last_event_id(request)
        """The id of the last event the client saw before it reconnected (None: a first visit)."""
        self._connected = True
        self._shutting_down = anyio.Event()
        self._closed = anyio.Event()
        self._sender: MemoryObjectSendStream[bytes] | None = None
        self._encoder: ItemEncoder | None = None

    def __repr__(self) -> str:
        return f"<EventStream {self.request.url.path} last_event_id={self.last_event_id!r}>"

    @property
    def connected(self) -> bool:
        """False once the client has gone away."""
        return self._connected

    @property
    def shutting_down(self) -> bool:
        """True once the server is shutting down: say goodbye and finish within the grace."""
        return self._shutting_down.is_set()

    async def send(self, item: ItemT | Any) -> None:
        """Sends one event from a push endpoint, or from a task it handed the stream to.

        `item` is what a generator endpoint would yield: an item of the stream's type or an
        event object. Waits while `max_pending` events are queued for a slow client.

        Raises:

        - FastAPI's ``fastapi.exceptions.ResponseValidationError`` (with pydantic's errors) for
          an item that does not validate as the stream's type: it is validated now, so a bad
          item fails here, in the sender, and nothing of it is sent;
        - `sse_core.InvalidEventError` for an event object whose fields cannot be written;
        - `EventStreamClosed` once the stream has ended;
        - `RuntimeError` outside a push endpoint (a generator endpoint yields instead).
        """
        if self._sender is None or self._encoder is None:
            raise RuntimeError(
                "send() works in push endpoints (async def endpoints that take the stream and "
                "do not yield); a generator endpoint yields its events instead"
            )
        body = self._encoder.encode(item)
        try:
            await self._sender.send(body)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise EventStreamClosed(
                "the event stream has ended: the client left, the server is shutting down, "
                "or the stream was closed"
            ) from None

    def close(self) -> None:
        """Ends a push stream once the events already sent have gone out."""
        self._closed.set()
        if self._sender is not None:
            self._sender.close()

    async def wait_closed(self) -> None:
        """Waits until the client leaves, the server shuts down, or `close` is called.

        A push endpoint that hands its stream to other tasks waits here, so that the stream
        stays open; when the client leaves, the endpoint is cancelled instead (its ``finally``
        blocks and context managers run).
        """
        async with anyio.create_task_group() as task_group:

            async def until(event: anyio.Event) -> None:
                await event.wait()
                task_group.cancel_scope.cancel()

            task_group.start_soon(until, self._shutting_down)
            task_group.start_soon(until, self._closed)

    # Wiring, done by the route before the endpoint runs.

    def _bind(self, encoder: ItemEncoder, sender: MemoryObjectSendStream[bytes] | None) -> None:
        self._encoder = encoder
        self._sender = sender

    async def _on_disconnect(self, message: Message) -> None:
        del message
        self._connected = False
        self._closed.set()
