"""The in-process client: calls an ASGI app with no server and no socket."""

from __future__ import annotations

__all__ = ["AppEventStream", "EventStreamClient"]

from collections import deque
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

import anyio
import anyio.abc
import anyio.lowlevel
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect

from ._reader import DEFAULT_TIMEOUT, EventStreamReader
from ._request import TARGET_SAFE, request_headers

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType
    from typing import Self

    from starlette.types import ASGIApp, Message


class EventStreamClient:
    """Calls an ASGI app in process and reads its event streams.

    The apps run in a task group owned by this client, so use it as an async context manager;
    it works under asyncio and trio and keeps no global state. `timeout` bounds the wait for
    a response to start and the wait for the app to return after the client disconnected.

    >>> async def example(app):
    ...     async with EventStreamClient(app) as client:
    ...         async with client.stream("/events") as stream:
    ...             return await stream.collect(max_events=3)
    """

    def __init__(self, app: ASGIApp, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        self.app = app
        self.timeout = timeout
        self._task_group: anyio.abc.TaskGroup | None = None

    async def __aenter__(self) -> Self:
        if self._task_group is not None:
            raise RuntimeError("this EventStreamClient is already open")
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        task_group, self._task_group = self._task_group, None
        assert task_group is not None
        # Every stream waited for its app on the way out; cancel whatever an app left behind.
        task_group.cancel_scope.cancel()
        return await task_group.__aexit__(exc_type, exc, traceback)

    def stream(
        self,
        path: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        last_event_id: str | None = None,
        body: bytes = b"",
    ) -> AppEventStream:
        """A request to the app, to be used as ``async with client.stream(path) as stream:``.

        `path` may carry a query string. The request has ``Accept: text/event-stream`` and, when
        `last_event_id` is given, a ``Last-Event-ID`` header (sent as UTF-8, as browsers do);
        `headers` adds or replaces headers (values are sent as UTF-8; CR, LF and NUL are
        refused). `body` is the request body, for a POST.

        Entering starts the app and waits (bounded by the client's `timeout`) for the response
        to start; an exception the app raised before that is raised there. Leaving delivers
        ``http.disconnect`` and waits, bounded, for the app to return; an app that does not is
        cancelled and `TimeoutError` is raised. An exception the app raised (other than the
        `OSError` or `ClientDisconnect` of a send after the disconnect) is raised when the body
        ends or when the block is left.
        """
        parts = urlsplit(path)
        if parts.scheme or parts.netloc or not parts.path.startswith("/"):
            raise ValueError(f"path must start with '/', got {path!r}")
        raw_path = quote(parts.path, safe=TARGET_SAFE)
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": unquote(raw_path),
            "raw_path": raw_path.encode("ascii"),
            "query_string": quote(parts.query, safe=TARGET_SAFE).encode("ascii"),
            "root_path": "",
            "headers": request_headers("testserver", method, headers, last_event_id, body),
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        return AppEventStream(self, scope, body)


class _ClientDisconnected(OSError):
    """What `send()` raises once the client is gone, as ASGI 2.4 servers do."""


class AppEventStream(EventStreamReader):
    """A response of an app called in process by `EventStreamClient`.

    Besides what every `EventStreamReader` offers, `messages` holds every ASGI message the app sent
    (``http.response.start`` first), so a test can count the ``http.response.body`` messages
    (write coalescing) or see that the last one had ``more_body`` false.
    """

    messages: list[Message]
    """The ASGI messages the app sent, in order, as it sent them."""

    def __init__(self, client: EventStreamClient, scope: dict[str, Any], body: bytes) -> None:
        super().__init__()
        self.messages = []
        self._client = client
        self._scope = scope
        self._body = body
        self._timeout = client.timeout
        self._queue: deque[bytes] = deque()
        self._request_sent = False
        self._started = False
        self._app_error: Exception | None = None
        self._error_reported = False
        self._entered = False
        # Created on entry: anyio's events belong to the running event loop.
        self._wakeup: anyio.Event | None = None
        self._disconnect: anyio.Event
        self._app_done: anyio.Event
        self._app_scope: anyio.CancelScope

    async def __aenter__(self) -> Self:
        task_group = self._client._task_group
        if task_group is None:
            raise RuntimeError("use the stream inside `async with EventStreamClient(app):`")
        if self._entered:
            raise RuntimeError("a stream can be entered once; call client.stream() again")
        self._entered = True
        self._disconnect = anyio.Event()
        self._app_done = anyio.Event()
        self._app_scope = anyio.CancelScope()
        task_group.start_soon(self._run_app)
        with anyio.move_on_after(self._timeout):
            while not (self._started or self._app_done.is_set()):
                await self._wait_for_news()
        if self._started:
            return self
        timed_out = not self._app_done.is_set()
        await self._finish()
        self._raise_app_error()
        if timed_out:
            raise TimeoutError(f"the app did not start a response within {self._timeout} seconds")
        raise RuntimeError("the app returned without starting a response")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        hung = await self._finish()
        if exc is not None:
            return
        if hung:
            raise TimeoutError(
                f"the app did not return within {self._timeout} seconds of http.disconnect, "
                "so it was cancelled"
            )
        self._raise_app_error()

    async def _finish(self) -> bool:
        """Disconnect and wait for the app; True if it had to be cancelled."""
        self._disconnect.set()
        self._wake()
        # Shielded, so the app's cleanup is waited for even when the test is being cancelled.
        with anyio.move_on_after(self._timeout, shield=True):
            await self._app_done.wait()
        if self._app_done.is_set():
            return False
        self._app_scope.cancel()
        with anyio.move_on_after(self._timeout, shield=True):
            await self._app_done.wait()
        return True

    async def _run_app(self) -> None:
        try:
            with self._app_scope:
                await self._client.app(self._scope, self._receive, self._send)
        except Exception as exc:
            self._app_error = _app_failure(exc) if self._disconnect.is_set() else exc
        finally:
            self._app_done.set()
            self._wake()

    def _raise_app_error(self) -> None:
        if self._app_error is not None and not self._error_reported:
            self._error_reported = True
            raise self._app_error

    async def _receive(self) -> Message:
        if not self._request_sent:
            self._request_sent = True
            return {"type": "http.request", "body": self._body, "more_body": False}
        # Like real servers, a message that is already there is returned without waiting.
        if not self._disconnect.is_set():
            await self._disconnect.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: Message) -> None:
        if self._disconnect.is_set():
            raise _ClientDisconnected("the client has disconnected")
        kind = message["type"]
        if kind == "http.response.start":
            if self._started:
                raise RuntimeError("the app sent http.response.start twice")
            self.messages.append(message)
            self.status = message["status"]
            self.headers = Headers(
                raw=[(bytes(name).lower(), bytes(value)) for name, value in message["headers"]]
            )
            self._started = True
        elif kind == "http.response.body":
            if not self._started:
                raise RuntimeError("the app sent http.response.body before http.response.start")
            if self._response_complete:
                raise RuntimeError("the app sent http.response.body after the response ended")
            self.messages.append(message)
            body = bytes(message.get("body", b""))
            if body:
                self._queue.append(body)
            if not message.get("more_body", False):
                self._response_complete = True
        else:
            raise RuntimeError(f"the test client does not support {kind!r} messages")
        self._wake()
        # Give the reader (and everything else) a turn, as a server's write would.
        await anyio.lowlevel.checkpoint()

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()
            self._wakeup = None

    async def _wait_for_news(self) -> None:
        self._wakeup = wakeup = anyio.Event()
        await wakeup.wait()

    async def _next_body_chunk(self) -> bytes | None:
        while True:
            if self._queue:
                return self._queue.popleft()
            if self._response_complete or self._disconnect.is_set():
                return None
            if self._app_done.is_set():
                self._raise_app_error()
                return None
            await self._wait_for_news()


def _app_failure(exc: Exception) -> Exception | None:
    """What to report of an exception an app raised after the client disconnected: nothing
    when it is just the disconnect (the `OSError` a send raised, or Starlette's
    `ClientDisconnect`), else the app's own error, which a send in its error handling (a 500
    page, say) may have wrapped in an `OSError`."""
    if isinstance(exc, ExceptionGroup):
        return exc if any(_app_failure(inner) for inner in exc.exceptions) else None
    cause: BaseException | None = exc
    while isinstance(cause, OSError | ClientDisconnect):
        cause = cause.__context__
    return cause if isinstance(cause, Exception) else None
