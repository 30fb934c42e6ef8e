"""Delivering one event-stream response: the producer, the writes, the client, the clock.

Two tasks per connection, the server's own request task included:

- The request task runs the producer and writes what it yields. An event that was ready after
  the producer waited for something is written at once, in the same task, with no hand-off:
  a producer that awaits between events (a token stream, a subscription) costs one ASGI
  message per event, like a hand-written ASGI app. Events that are ready one after another
  (a fast producer, a backlog) are gathered (`_batch.Batch`) and written together, up to its
  limits per message (write coalescing). The first event of such a run is written at once,
  alone: until the next one is ready, nothing says that more are coming, and a lone event
  must not wait for a hand-off to the other task.
- To know whether the next event is ready without waiting for it, the producer's ``__anext__``
  is stepped by hand (`_stepping`): if it completes without suspending, the event was ready.
  If it suspends, the suspension goes to the event loop at once, and the events gathered so
  far are written by the other task. Stepping by hand costs a little on every event, so after
  the producer waited, the next `PLAIN_AWAITS` events are taken with a plain ``await`` (each
  is written at once anyway). The stepping stays inline in `Delivery.produce`: an async
  iterator of ``(item, was_ready)`` around it, or a step function, cost 100-130 ns more per
  event, 13-17% of a producer that never waits (docs/performance.md, "Figures behind bounds
  in the code").
- The listener task (`_connection.ClientConnection`, with the writes, pings, the client
  leaving and the server stopping) waits in ``receive()`` for the client to leave and writes
  what the producer gathered once the producer starts waiting.
- Headers may be held back (`hold_headers`) until the first write, an event or a ping: until
  then nothing is on the wire, so an exception the producer raises propagates out of the
  response and the framework answers with its normal error status instead of a broken 200.
- Memory is bounded: writes are awaited, so a producer ahead of a slow client waits for it, and
  a producer that never awaits anything yields to the event loop after each coalesced write, so
  it cannot starve other connections or hide a disconnect.
"""

from __future__ import annotations

__all__ = ["PLAIN_AWAITS", "Delivery", "HoldsBacklog"]

import logging
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

import anyio
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectReceiveStream

from ._connection import ClientConnection
from ._errors import SendTimeoutError
from ._shutdown import ShutdownListener
from ._stepping import resume

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Awaitable, Callable

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


PLAIN_AWAITS: Final = 16
"""Events taken with a plain ``await`` after the producer waited, before stepping it by hand
again; a producer that turns fast has at most this many events written one by one."""


class Delivery(ClientConnection):
    """One response being sent: its producer, on top of its connection to the client; see the
    module docstring for the design."""

    __slots__ = ()

    async def run(self) -> None:
        settings = self.settings
        if not settings.hold_headers and not await self.open(watch=True):
            # The client left before the response started: the producer never starts.
            await self.close_content(settings.content)
            return
        listener = ShutdownListener(self)
        self.clock = listener.clock
        self.last_write = self.clock()
        try:
            async with anyio.create_task_group() as task_group:
                task_group.start_soon(self.listen)
                if settings.data_sender is not None:
                    self.data_sender_scope = anyio.CancelScope()
                    task_group.start_soon(self.run_data_sender, settings.data_sender)
                # The producer's errors are handled here rather than in `produce`: an idle
                # stream holds every coroutine between this one and its producer, and one
                # more costs each open stream a frame (benchmarks/streaming.py, idle).
                with self.producer_scope:
                    try:
                        await self.produce()
                    except StopAsyncIteration:
                        pass
                    except SendTimeoutError as exc:
                        self.send_timeout_error = exc  # the client's fault, not the producer's
                    except Exception as exc:
                        self.producer_failed(exc)
                    finally:
                        self.stop_data_sender()
                        await self.close_content(settings.content)
                # The listener may be writing the last gathered events: let it finish.
                await self.wait_for_listener_write()
                task_group.cancel_scope.cancel()
        finally:
            listener.close()
            self.finished = True
        self.raise_held_error()
        await self.complete()

    def raise_held_error(self) -> None:
        """Raises what ended the stream before anything could be written about it."""
        if self.error_before_start is not None:
            if not self.started:
                raise self.error_before_start
            # A ping opened the response while the producer was being closed: too late.
            self.report_producer_error(self.error_before_start)
        if self.send_timeout_error is not None:
            raise self.send_timeout_error

    # The request task: the producer, and writing what it yields.

    async def produce(self) -> None:
        """Takes the producer's items and writes them, until it ends (`StopAsyncIteration`)."""
        content = self.settings.content
        encoder = self.settings.encoder
        batch = self.batch
        backlog = content if isinstance(content, HoldsBacklog) else None
        next_item = content.__aiter__().__anext__
        plain_awaits = 0
        # Whether the last event was ready without waiting. The first of a run of ready
        # events is written at once, like one that came after a wait, because nothing
        # says yet that more are coming, and a lone event must not wait for the listener.
        in_run = False
        while True:
            if plain_awaits:
                # The producer waited for its last event, so it will probably wait for the
                # next few too: while nothing is gathered, a plain await is cheaper than
                # stepping by hand, and there is nothing to gather. Stepping resumes after
                # `PLAIN_AWAITS` events, to notice a producer that turned fast.
                plain_awaits -= 1
                item, ready = await next_item(), False
            else:
                step = next_item().__await__()
                try:
                    yielded = step.send(None)
                except StopIteration as done:
                    item, ready = done.value, True
                else:
                    # The producer waits: what it yielded before must not wait with it.
                    if batch:
                        self.request_flush()
                    item, ready = await resume(step, yielded), False
                    plain_awaits = PLAIN_AWAITS
            body = encoder.encode(item)
            if batch or backlog is not None or (in_run and ready):
                # Gathered with what is waiting and, from a memory stream, what is ready.
                room = batch.add(body)
                if room and backlog is not None:
                    room = self.take_backlog(backlog)
                if ready and room:
                    in_run = True
                    continue
                body = batch.take()
            # Written now: an event that came after a wait (the next one will probably wait
            # too), the first of a run of ready ones, or ready events that reached a limit.
            in_run = ready
            if self.listener_writing is not None:
                await self.wait_for_listener_write()
            self.producer_writing = True
            try:
                await self.write(body, watch=False)  # the listener receives meanwhile
            finally:
                self.producer_writing = False
            if ready:
                await anyio.lowlevel.checkpoint()  # a fast producer lets others run

    def take_backlog(self, stream: HoldsBacklog) -> bool:
        """Gather what `stream` holds while the batch has room; False once it has none."""
        # Every receive() from a memory stream yields to the event loop, even when items are
        # waiting, which would send each one on its own; and a producer that waited for its
        # last event (a subscription) is taken with plain awaits for a while. Items the content
        # already holds are ready now: take them without waiting.
        add, encoder, receive_nowait = self.batch.add, self.settings.encoder, stream.receive_nowait
        while True:
            try:
                item = receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream):
                return True
            if not add(encoder.encode(item)):
                return False

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

    async def answer_head(self) -> None:
        """HEAD: the headers and an empty final body, each within `send_timeout`. The producer
        never starts, so an endless stream cannot hold a HEAD request (and its connection)
        open; its content is closed unstarted, as a stream's is when it ends."""
        try:
            await self.transmit(self.settings.messages.start_message(self.prefix), watch=True)
            if not self.disconnected:
                final = {"type": self.body_type, "body": b"", "more_body": False}
                await self.transmit(final, watch=True)
        finally:
            await self.close_content(self.settings.content)
