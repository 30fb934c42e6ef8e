"""`ClientConnection`: one event-stream response's side that faces the client.

What goes to the client (the headers, events, pings, the final message) and what comes from it
(its leaving), the keep-alive pings, and the server shutting down. `_delivery.Delivery` adds the
producer on top; the module docstring there describes the whole design.

- The listener task waits in ``receive()`` for the client to leave, with a deadline at which a
  keep-alive ping is due. It also writes the gathered events when the producer starts waiting
  (the request task wakes it by cancelling that wait, once per burst). There is no ping task,
  no polling and no queue between tasks.
- That wait relies on what ASGI servers do (uvicorn, hypercorn and granian alike): a
  ``receive()`` can be cancelled without losing a message. A ``send()`` that raises `OSError`
  (ASGI 2.4) also counts as the client leaving.
- A write that the client never takes (its window is full) must end when the client leaves,
  so some task must be waiting in ``receive()`` while any ``send()`` is in flight. While the
  request task writes, the listener is. A write made when nobody else receives (by the
  listener itself, or before the listener starts or after it ends) is stepped by hand: if it
  completes at once, as nearly every write does, that is all; if it blocks, a watcher task
  waits in ``receive()`` until the write ends, and cancels it if the client leaves first
  (`send_watching`).
"""

from __future__ import annotations

__all__ = ["ClientConnection"]

import contextlib
import logging
from typing import TYPE_CHECKING, Final

import anyio

from ._batch import Batch
from ._errors import SendTimeoutError
from ._stepping import resume

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.types import Message, Receive, Send

    from ._delivery_settings import DeliverySettings

logger = logging.getLogger("sse_starlette_binding")

DISCONNECT: Final[Message] = {"type": "http.disconnect"}
"""What a send that raised `OSError` stands for: the client is gone (ASGI 2.4)."""


class ClientConnection:
    """The state of one response's connection to its client, and what is done with it."""

    # Slots, not a __dict__: every open stream holds one, and an idle stream's memory is the
    # sum of such objects (benchmarks/streaming.py, idle connections).
    __slots__ = (
        "batch",
        "body_type",
        "clock",
        "data_sender_scope",
        "disconnected",
        "error_before_start",
        "finished",
        "flush_requested",
        "last_write",
        "listener_wait",
        "listener_writing",
        "prefix",
        "producer_scope",
        "producer_writing",
        "receive",
        "send",
        "send_timeout_error",
        "settings",
        "shutting_down",
        "started",
    )

    def __init__(self, settings: DeliverySettings, receive: Receive, send: Send, prefix: str):
        self.settings = settings
        self.receive = receive
        self.send = send
        self.prefix = prefix
        self.body_type = prefix + "http.response.body"
        self.batch = Batch()
        self.disconnected = False
        self.shutting_down = False
        self.finished = False
        self.send_timeout_error: SendTimeoutError | None = None
        self.producer_scope = anyio.CancelScope()
        # Cancelled before the content is closed, so that `data_sender_callable` ends by
        # cancellation where it waits, never by a closed stream's BrokenResourceError. Made
        # only for a response that has one: an idle stream's memory is what each holds.
        self.data_sender_scope: anyio.CancelScope | None = None
        # The listener's current wait; cancelling it makes the listener write what is pending.
        self.listener_wait: anyio.CancelScope | None = None
        self.flush_requested = False
        # Set while the listener writes; the request task waits for it before writing itself.
        self.listener_writing: anyio.Event | None = None
        self.producer_writing = False
        self.clock: Callable[[], float] = anyio.current_time
        self.last_write = 0.0
        # Headers go out with the first write when the response holds them back; an exception
        # the producer raised while nothing was sent is kept here and raised from `run`.
        self.started = False
        self.error_before_start: Exception | None = None

    # Writing.

    async def open(self, *, watch: bool) -> bool:
        """Sends the headers, and the stream's preamble (its `retry`) right after them; False
        if the client turned out to be gone."""
        self.started = True
        await self.transmit(self.settings.messages.start_message(self.prefix), watch=watch)
        preamble = self.settings.preamble
        if preamble and not self.disconnected:
            await self.transmit(
                {"type": self.body_type, "body": preamble, "more_body": True}, watch=watch
            )
        return not self.disconnected

    async def write(self, body: bytes, *, watch: bool) -> None:
        """Writes one body message (opening the response first if needed), unless the client
        is gone. `watch`: nobody else waits in ``receive()`` meanwhile (see `send_watching`)."""
        if self.disconnected:
            return
        if self.started and not watch and self.settings.send_timeout is None:
            # The common case, from the request task while the listener receives: the send
            # alone, with nothing around it. A stream that writes each event on its own pays
            # for every step here (benchmarks/streaming.py, a producer that awaits after
            # each event).
            try:
                await self.send({"type": self.body_type, "body": body, "more_body": True})
            except OSError:  # ASGI 2.4: the client is gone
                await self.on_disconnect(DISCONNECT)
            self.last_write = self.clock()
            return
        if not self.started and not await self.open(watch=watch):
            return
        await self.transmit({"type": self.body_type, "body": body, "more_body": True}, watch=watch)
        self.last_write = self.clock()

    async def transmit(self, message: Message, *, watch: bool) -> None:
        """Sends one message within `send_timeout`; a client that is gone is a disconnect."""
        send = self.send_watching if watch else self.send
        timeout = self.settings.send_timeout
        try:
            if timeout is None:
                await send(message)
                return
            # A cancel scope costs microseconds per write: only pay for it when asked to.
            with anyio.move_on_after(timeout) as scope:
                await send(message)
        except OSError:
            # ASGI 2.4 servers may raise OSError from send() once the client is gone.
            await self.on_disconnect(DISCONNECT)
            return
        if scope.cancelled_caught:
            body = message.get("body")
            what = "the response headers" if body is None else f"{len(body)} bytes"
            raise SendTimeoutError(f"the client did not take {what} within {timeout} seconds")

    async def send_watching(self, message: Message) -> None:
        """``send(message)`` while watching for the client to leave, for a write that no other
        task receives during: if the send blocks, it is cancelled when the client leaves."""
        failure: BaseException | None = None
        # The task group is entered before the send starts (not only once it blocks), because
        # the send may enter cancel scopes of its own, which must nest inside the group's.
        async with anyio.create_task_group() as watch:
            try:
                step = self.send(message).__await__()
                try:
                    yielded = step.send(None)
                except StopIteration:
                    return  # taken at once, as nearly every write is: no watcher needed
                watch.start_soon(self.cancel_on_disconnect, watch.cancel_scope)
                await resume(step, yielded)
            except anyio.get_cancelled_exc_class():
                raise
            except BaseException as exc:  # raised below as itself, not in an exception group
                failure = exc
            watch.cancel_scope.cancel()
        if failure is not None:
            raise failure

    async def cancel_on_disconnect(self, write_scope: anyio.CancelScope) -> None:
        """Waits in ``receive()`` for the client to leave, then cancels the blocked write."""
        while (message := await self.receive())["type"] != "http.disconnect":
            pass  # a request body chunk: an event stream ignores the body
        await self.on_disconnect(message)
        write_scope.cancel()

    # The client leaving, the server stopping.

    async def on_disconnect(self, message: Message) -> None:
        if self.disconnected:
            return
        self.disconnected = True
        self.producer_scope.cancel()
        self.stop_data_sender()
        handler = self.settings.on_client_close
        if handler is not None:
            # Shielded: this may run in the request task, whose producer scope was just
            # cancelled, and the handler must run all the same.
            with anyio.CancelScope(shield=True):
                try:
                    await handler(message)
                except Exception:
                    logger.exception("client_close_handler_callable raised")

    def on_shutdown(self) -> None:
        """Runs on this stream's event loop when the server process is told to stop."""
        if self.shutting_down or self.finished:
            return
        self.shutting_down = True
        if self.settings.shutdown_event is not None:
            self.settings.shutdown_event.set()
        # The producer may finish by itself within the grace period (a farewell event, say);
        # after it, it is cancelled. Either way what is pending is then written and the
        # response completed. A write to a client that stopped reading is not cut: ASGI
        # cannot abort a connection, and the server would wait for that socket regardless;
        # `send_timeout`, or the server's own graceful-shutdown timeout, bounds it.
        grace_end = self.clock() + self.settings.shutdown_grace_period
        self.producer_scope.deadline = min(self.producer_scope.deadline, grace_end)

    async def complete(self) -> None:
        # Events still pending (the last ones before a shutdown, say) ride on the final message.
        body = b"" if self.disconnected else self.batch.take()
        # A response whose client is gone is still completed, so that the server does not
        # report an unfinished response; a server may refuse the messages then (OSError, or a
        # send that blocks, which the client's departure cancels). The listener has ended, so
        # these writes watch for the client leaving themselves.
        refused = (OSError,) if self.disconnected else ()
        with contextlib.suppress(*refused):
            if not self.started:
                await self.open(watch=True)
            final = {"type": self.body_type, "body": body, "more_body": False}
            await self.transmit(final, watch=True)

    def stop_data_sender(self) -> None:
        if self.data_sender_scope is not None:
            self.data_sender_scope.cancel()

    # The listener task: the client leaving, keep-alive pings, writing for a waiting producer.

    async def listen(self) -> None:
        ping_interval = self.settings.ping_interval
        while True:
            deadline = self.last_write + ping_interval if ping_interval else float("inf")
            with anyio.CancelScope(deadline=deadline) as wait:
                self.listener_wait = wait
                if self.flush_requested:
                    wait.cancel()
                message = await self.receive()
            self.listener_wait = None
            if not wait.cancelled_caught:
                if message["type"] == "http.disconnect":
                    await self.on_disconnect(message)
                    return
                continue  # a request body chunk: an event stream ignores the body
            if self.flush_requested:
                self.flush_requested = False
                body = self.batch.take()
            elif self.producer_writing or self.clock() < self.last_write + ping_interval:
                continue  # events went out since the wait began: the ping is not due yet
            else:
                try:
                    body = self.settings.messages.ping_bytes()
                except Exception as exc:
                    # A ping_message_factory that fails ends the stream like a producer would.
                    self.producer_failed(exc)
                    self.producer_scope.cancel()
                    return
            if body and not await self.listener_write(body):
                return

    async def listener_write(self, body: bytes) -> bool:
        """Write from the listener task; False once the stream cannot go on."""
        self.listener_writing = anyio.Event()
        try:
            await self.write(body, watch=True)  # nobody receives while the listener writes
        except SendTimeoutError as exc:
            self.send_timeout_error = exc
            self.producer_scope.cancel()
            return False
        finally:
            self.listener_writing.set()
            self.listener_writing = None
        return not self.disconnected

    def request_flush(self) -> None:
        self.flush_requested = True
        if self.listener_wait is not None:
            self.listener_wait.cancel()

    async def wait_for_listener_write(self) -> None:
        while self.listener_writing is not None:
            await self.listener_writing.wait()

    # A producer's failure ends the stream.

    def producer_failed(self, exc: Exception) -> None:
        if self.started or self.batch or not self.settings.hold_headers:
            # Events were yielded before the error: they are sent, and the stream ends.
            self.report_producer_error(exc)
        else:
            self.error_before_start = exc

    def report_producer_error(self, exc: Exception) -> None:
        logger.exception("the event stream's producer raised; ending the stream", exc_info=exc)
        handler = self.settings.on_producer_error
        if handler is None:
            return
        try:
            item = handler(exc)
            if item is not None:
                self.batch.add(self.settings.encoder.encode(item))
        except Exception:
            logger.exception("on_producer_error raised; the stream ends without a last event")
