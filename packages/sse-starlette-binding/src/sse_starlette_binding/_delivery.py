"""Delivering one event-stream response: the producer, the writes, the client, the clock.

Two tasks per connection, the server's own request task included:

- The request task runs the producer and writes what it yields. An event that was ready after
  the producer waited for something is written at once, in the same task, with no hand-off:
  a producer that awaits between events (a token stream, a subscription) costs one ASGI
  message per event, like a hand-written ASGI app. Events that are ready one after another
  (a fast producer, a backlog) are gathered and written together, up to
  `PENDING_LIMIT` bytes or `PENDING_EVENTS` events per message (write coalescing). The first
  event of such a run is written at once, alone: until the next one is ready, nothing says
  that more are coming, and a lone event must not wait for a hand-off to the other task.
- To know whether the next event is ready without waiting for it, the producer's ``__anext__``
  is stepped by hand: if it completes without suspending, the event was ready. If it suspends,
  the event loop must take over at once, before anything else runs in this task, because the
  producer may already be registered for a wake-up; so the suspension is handed straight to
  the loop (`_resume`), and the events gathered so far are written by the other task.
  Stepping by hand costs a little on every event, so after the producer waited, the next
  `PLAIN_AWAITS` events are taken with a plain ``await`` (each is written at once anyway).
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
  listener itself, or before the listener starts or after it ends) is stepped by hand like the
  producer: if it completes at once, as nearly every write does, that is all; if it blocks, a
  watcher task waits in ``receive()`` until the write ends, and cancels it if the client leaves
  first (`send_watching`).
- Headers may be held back (`hold_headers`) until the first write, an event or a ping: until
  then nothing is on the wire, so an exception the producer raises propagates out of the
  response and the framework answers with its normal error status instead of a broken 200.
- Memory is bounded: writes are awaited, so a producer ahead of a slow client waits for it, and
  a producer that never awaits anything yields to the event loop after each coalesced write, so
  it cannot starve other connections or hide a disconnect.
"""

from __future__ import annotations

__all__ = ["PENDING_EVENTS", "PENDING_LIMIT", "PLAIN_AWAITS", "Delivery", "HoldsBacklog"]

import contextlib
import logging
import types
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

import anyio
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectReceiveStream

from ._errors import SendTimeoutError
from ._shutdown import ShutdownListener

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Awaitable, Callable, Generator

    from starlette.types import Message, Receive, Send

    from ._delivery_settings import DeliverySettings

logger = logging.getLogger("sse_starlette_binding")


@runtime_checkable
class HoldsBacklog(Protocol):
    """Content that can hand over an item it already holds without waiting, as anyio's memory
    object streams do: `receive_nowait` returns it, or raises `anyio.WouldBlock` when there is
    none and `anyio.EndOfStream` when there will be no more (sse_broadcast's subscriptions
    offer it too). What such content holds is gathered into the write of the item before."""

    def receive_nowait(self) -> Any:
        """The next item if it is ready; `anyio.WouldBlock` or `anyio.EndOfStream` if not."""
        ...


PENDING_LIMIT: Final = 64 * 1024
"""Bytes gathered into one write at most. Big enough that a burst leaves in few writes, small
enough that a stream's memory stays small (uvicorn's own write-buffer mark is 64 KiB)."""

PENDING_EVENTS: Final = 1024
"""Events gathered into one write at most. A producer that never waits lets other tasks run
after each write, and a write's events were taken and encoded with nobody else running: the
byte limit alone would let thousands of tiny events through and hold the event loop for
milliseconds, making a paced stream beside it late (benchmarks/latency.py, fairness; the
figures are in docs/performance.md, "Found and fixed while measuring")."""

PLAIN_AWAITS: Final = 16
"""Events taken with a plain ``await`` after the producer waited, before stepping it by hand
again; a producer that turns fast has at most this many events written one by one."""


@types.coroutine
def _resume(step: Generator[Any, Any, Any], yielded: Any) -> Generator[Any, Any, Any]:
    """Awaits the rest of a step that was started by hand and has suspended.

    The first suspension (`yielded`) was already produced by ``step.send(None)``; this hands it
    to the event loop and relays everything after it in both directions (what the loop sends
    back, and what it throws in, cancellation included), exactly as ``await`` would have.
    """
    while True:
        try:
            sent = yield yielded
        except GeneratorExit:
            step.close()
            raise
        except BaseException as exc:  # relayed to the producer, as await would
            try:
                yielded = step.throw(exc)
            except StopIteration as done:
                return done.value
        else:
            try:
                yielded = step.send(sent)
            except StopIteration as done:
                return done.value


class Delivery:
    """The state of one response being sent; see the module docstring for the design."""

    # Slots, not a __dict__: every open stream holds one, and an idle stream's memory is the
    # sum of such objects (benchmarks/streaming.py, idle connections).
    __slots__ = (
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
        "pending",
        "pending_size",
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
        self.pending: list[bytes] = []
        self.pending_size = 0
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

    async def run(self) -> None:
        settings = self.settings
        if not settings.hold_headers:
            await self.open(watch=True)
            if self.disconnected:
                # The client left before the response started: the producer never starts.
                await self.close_content(settings.content)
                return
        listener = ShutdownListener(self.on_shutdown)
        self.clock = listener.clock
        self.last_write = self.clock()
        try:
            async with anyio.create_task_group() as task_group:
                task_group.start_soon(self.listen)
                if settings.data_sender is not None:
                    self.data_sender_scope = anyio.CancelScope()
                    task_group.start_soon(self.run_data_sender, settings.data_sender)
                with self.producer_scope:
                    try:
                        await self.produce()
                    except SendTimeoutError as exc:
                        self.send_timeout_error = exc
                # The listener may be writing the last gathered events: let it finish.
                await self.wait_for_listener_write()
                task_group.cancel_scope.cancel()
        finally:
            listener.close()
            self.finished = True
        if self.error_before_start is not None:
            if not self.started:
                raise self.error_before_start
            # A ping opened the response while the producer was being closed: too late.
            self.report_producer_error(self.error_before_start)
        if self.send_timeout_error is not None:
            raise self.send_timeout_error
        await self.complete()

    # The request task: the producer, and writing what it yields.

    async def produce(self) -> None:
        settings = self.settings
        content = settings.content
        encode = settings.encode
        pending = self.pending  # one list for the stream's life: emptied in place, never replaced
        # Per-stream constants of the write fast path below, looked up once.
        send, body_type, clock = self.send, self.body_type, self.clock
        backlog = content if isinstance(content, HoldsBacklog) else None
        try:
            next_step = content.__aiter__().__anext__
            plain_awaits = 0
            # Whether the last event was ready without waiting; the first of a run of ready
            # events is written at once, like one that came after a wait, because nothing
            # says yet that more are coming, and a lone event must not wait for the listener.
            after_ready = False
            while True:
                if plain_awaits:
                    # The producer waited for its last event, so it will probably wait for the
                    # next few too: while nothing is pending, a plain await is cheaper than
                    # stepping by hand, and there is nothing to gather. Stepping resumes after
                    # `PLAIN_AWAITS` events, to notice a producer that turned fast.
                    plain_awaits -= 1
                    item, waited = await next_step(), True
                else:
                    step = next_step().__await__()
                    try:
                        yielded = step.send(None)
                    except StopIteration as ready:
                        item, waited = ready.value, False
                    else:
                        # The producer waits: what it yielded before must not wait with it.
                        if pending:
                            self.request_flush()
                        item, waited = await _resume(step, yielded), True
                        plain_awaits = PLAIN_AWAITS
                body = encode(item)
                if pending or backlog is not None or (after_ready and not waited):
                    # Gather it with what is pending and, from a memory stream, what is ready.
                    pending.append(body)
                    self.pending_size += len(body)
                    if backlog is not None:
                        self.take_backlog(backlog)
                    if (
                        not waited
                        and self.pending_size < PENDING_LIMIT
                        and len(pending) < PENDING_EVENTS
                    ):
                        after_ready = True
                        continue
                    body = self.take_pending()
                after_ready = not waited
                # Written now: an event that came after a wait (the next one will probably wait
                # too), the first of a run of ready ones, or ready events that reached a limit.
                if self.listener_writing is not None:
                    await self.wait_for_listener_write()
                if not self.disconnected:
                    self.producer_writing = True
                    try:
                        if self.started and settings.send_timeout is None:
                            # `write`, inlined for its common case: a coroutine fewer per event
                            # shows when each event is written on its own (benchmarks/
                            # streaming.py, a producer that awaits after each event).
                            try:
                                await send({"type": body_type, "body": body, "more_body": True})
                            except OSError:  # as in `write`: the client is gone
                                await self.on_disconnect({"type": "http.disconnect"})
                            self.last_write = clock()
                        else:
                            await self.write(body, watch=False)  # the listener receives
                    finally:
                        self.producer_writing = False
                if not waited:
                    await anyio.lowlevel.checkpoint()  # a fast producer lets others run
        except StopAsyncIteration:
            pass
        except SendTimeoutError:
            raise  # the client's fault, not the producer's
        except Exception as exc:
            self.producer_failed(exc)
        finally:
            self.stop_data_sender()
            await self.close_content(content)

    def take_backlog(self, stream: HoldsBacklog) -> None:
        # Every receive() from a memory stream yields to the event loop, even when items are
        # waiting, which would send each one on its own; and a producer that waited for its
        # last event (a subscription) is taken with plain awaits for a while. Items the content
        # already holds are ready now: take them without waiting, up to the pending limit.
        while self.pending_size < PENDING_LIMIT and len(self.pending) < PENDING_EVENTS:
            try:
                item = stream.receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream):
                return
            chunk = self.settings.encode(item)
            self.pending.append(chunk)
            self.pending_size += len(chunk)

    def take_pending(self) -> bytes:
        pending = self.pending
        body = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()
        self.pending_size = 0
        return body

    async def wait_for_listener_write(self) -> None:
        while self.listener_writing is not None:
            await self.listener_writing.wait()

    def request_flush(self) -> None:
        self.flush_requested = True
        if self.listener_wait is not None:
            self.listener_wait.cancel()

    def producer_failed(self, exc: Exception) -> None:
        if self.started or self.pending or not self.settings.hold_headers:
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
                chunk = self.settings.encode(item)
                self.pending.append(chunk)
                self.pending_size += len(chunk)
        except Exception:
            logger.exception("on_producer_error raised; the stream ends without a last event")

    async def close_content(self, content: AsyncIterable[Any]) -> None:
        # The response owns its iterator: close it whichever way the stream ended, so that a
        # generator's `finally` runs now (not whenever the garbage collector gets to it) and a
        # memory stream's senders learn that nobody is listening. Shielded, because this is
        # often reached by cancellation; bounded, because cleanup code may hang.
        aclose = getattr(content, "aclose", None)
        if aclose is None:
            return
        timeout = self.settings.cleanup_timeout
        with anyio.move_on_after(timeout, shield=True) as scope:
            try:
                await aclose()
            except Exception:
                logger.exception("closing the event stream's producer raised")
        # cancel_called, not cancelled_caught: a cleanup that catches the cancellation and
        # returns was cut short all the same, and its author should hear about it.
        if scope.cancel_called:
            logger.warning(
                "the event stream's producer took over %s seconds to close; abandoned it",
                timeout,
            )

    async def run_data_sender(self, data_sender: Callable[[], Awaitable[None]]) -> None:
        error: Exception | None = None
        assert self.data_sender_scope is not None  # made with the task that runs this
        with self.data_sender_scope:
            try:
                await data_sender()
            except Exception as exc:
                error = exc
            else:
                return
            # The content it feeds will never end now: end the stream as a producer error,
            # once the producer has taken the events that were sent before the failure, that
            # is once it waits on an empty stream (an event handed to a waiting producer takes
            # it off the waiting list until it is taken). A rare error path: a short poll.
            content = self.settings.content
            if isinstance(content, MemoryObjectReceiveStream):
                while not self.finished:
                    stats = content.statistics()
                    if stats.current_buffer_used == 0 and stats.tasks_waiting_receive:
                        break
                    await anyio.sleep(0.005)
        if error is None:
            return  # cancelled: the stream ended (or the client left) while it sent
        # Reported even if the stream ended meanwhile (the wait above was cancelled).
        self.producer_failed(error)
        self.producer_scope.cancel()

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
                body = self.take_pending()
            elif self.producer_writing or self.clock() < self.last_write + ping_interval:
                continue  # events went out since the wait began: the ping is not due yet
            else:
                try:
                    body = self.settings.ping_bytes()
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

    async def open(self, *, watch: bool) -> None:
        """Sends the headers, and the stream's preamble (its `retry`) right after them."""
        self.started = True
        await self.transmit(self.settings.start_message(self.prefix), watch=watch)
        preamble = self.settings.preamble
        if preamble and not self.disconnected:
            await self.transmit(
                {"type": self.body_type, "body": preamble, "more_body": True}, watch=watch
            )

    async def write(self, body: bytes, *, watch: bool) -> None:
        """Writes one body message (opening the response first if needed). `watch`: nobody
        else waits in ``receive()`` meanwhile (see `send_watching`)."""
        # `produce` inlines the common case (started, no send_timeout): keep the two alike.
        if not self.started:
            await self.open(watch=watch)
            if self.disconnected:
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
            await self.on_disconnect({"type": "http.disconnect"})
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
                await _resume(step, yielded)
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
        body = b"" if self.disconnected else self.take_pending()
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

    async def answer_head(self) -> None:
        """HEAD: the headers and an empty final body, each within `send_timeout`. The producer
        never starts, so an endless stream cannot hold a HEAD request (and its connection)
        open; its content is closed unstarted, as a stream's is when it ends."""
        try:
            await self.transmit(self.settings.start_message(self.prefix), watch=True)
            if not self.disconnected:
                final = {"type": self.body_type, "body": b"", "more_body": False}
                await self.transmit(final, watch=True)
        finally:
            await self.close_content(self.settings.content)
