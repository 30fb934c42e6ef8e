"""Telling open streams that the server process is shutting down.

No ASGI server tells a streaming response about shutdown: uvicorn waits for open streams to end
by themselves (forever, by default), granian likewise, and hypercorn cancels them after its
graceful timeout. What the servers do share is the signal: SIGTERM or SIGINT arrives, and the
handler the server installed starts its shutdown.

So when a stream starts on the main thread, this module chains its own handler in front of the
server's Python-level handler (installed at that moment, not at import time, and never over
`SIG_DFL` or `SIG_IGN`, which no server uses). The handler notifies the streams that are open at
that moment, each on its own event loop, and then calls the server's handler unchanged. There is
no state that outlives the signal: a stream opened after a shutdown is not affected by it, and
several loops, threads and servers in one process each hear only about their own streams.

Streams running in a process that never receives the signal (hypercorn's workers are told
through a multiprocessing event) are stopped by the server's own graceful timeout instead, by
cancellation, which runs the same cleanup.
"""

from __future__ import annotations

__all__ = ["ShutdownAware", "ShutdownListener", "notify_shutdown"]

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Final, Protocol, TypeAlias

_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)

_SignalHandler: TypeAlias = Callable[[int, FrameType | None], object]
_Schedule: TypeAlias = Callable[[Callable[[], object]], object]
_Clock: TypeAlias = Callable[[], float]

_listeners_lock = threading.Lock()
_listeners: set[ShutdownListener] = set()
# The last asyncio loop a stream started on, with its two entries: made once per loop rather
# than once per stream, since each bound method is one more object that every open stream
# holds (benchmarks/streaming.py, idle connections). It keeps that one loop object alive until
# a stream starts on another; it is a cache, not a binding: any loop looks its entries up here.
_last_loop_entries: tuple[asyncio.AbstractEventLoop, _Schedule, _Clock] | None = None


class ShutdownAware(Protocol):
    """What a `ShutdownListener` tells: an open stream."""

    def on_shutdown(self) -> None:
        """Runs on the stream's own event loop when the server process is told to stop."""
        ...


class ShutdownListener:
    """One open stream's registration: `stream.on_shutdown()` runs on its own event loop.

    Create it inside the stream's task; `clock` is that loop's clock, for the callback's use.
    The stream itself is held, not its bound method: that would be one more object per open
    stream (benchmarks/streaming.py, idle connections).
    """

    __slots__ = ("_schedule", "_stream", "clock")

    def __init__(self, stream: ShutdownAware) -> None:
        self._stream = stream
        self._schedule, self.clock = _running_loop_entries()
        _chain_signal_handlers()
        with _listeners_lock:
            _listeners.add(self)

    def close(self) -> None:
        """Stop listening; idempotent."""
        with _listeners_lock:
            _listeners.discard(self)

    def _notify(self) -> None:
        # A RuntimeError means that stream's event loop has closed: nothing left to tell.
        with contextlib.suppress(RuntimeError):
            self._schedule(self._stream.on_shutdown)


def notify_shutdown() -> None:
    """Tell every open stream in this process that the server is shutting down.

    The signal handler calls this; call it yourself when your process stops serving by some
    other route (an embedded server, a test). Each stream then sets its `shutdown_event`, gives
    its producer `shutdown_grace_period` seconds, stops it, and completes its response.
    """
    with _listeners_lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener._notify()


def _running_loop_entries() -> tuple[_Schedule, _Clock]:
    # A signal handler runs between two bytecodes of the main thread, perhaps in the middle of
    # the event loop's own code, and other loops may live in other threads: the only safe way
    # to reach a loop from there is its thread-safe "call soon" entry. The callback then runs
    # outside any task, where anyio cannot tell which loop is running, so it gets the loop's
    # clock (the one anyio's deadlines use) too.
    global _last_loop_entries  # noqa: PLW0603 (a cache of the last loop's entries)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        # anyio runs on asyncio or trio: not asyncio, so trio is installed and running.
        import trio  # noqa: PLC0415 (trio is optional: imported only by those who run it)

        return trio.lowlevel.current_trio_token().run_sync_soon, trio.current_time
    entries = _last_loop_entries  # read once: another thread may replace it meanwhile
    if entries is None or entries[0] is not loop:
        entries = _last_loop_entries = (loop, loop.call_soon_threadsafe, loop.time)
    return entries[1], entries[2]


class _ChainedHandler:
    """Notifies the open streams, then runs the handler that was installed before it."""

    __slots__ = ("previous",)

    def __init__(self, previous: _SignalHandler) -> None:
        self.previous = previous

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        notify_shutdown()
        self.previous(signum, frame)


def _chain_signal_handlers() -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread may set handlers, and only it receives signals
    for signum in _SIGNALS:
        current = signal.getsignal(signum)
        # SIG_DFL, SIG_IGN and None (a handler set outside Python) are not ours to wrap.
        if callable(current) and not isinstance(current, _ChainedHandler):
            signal.signal(signum, _ChainedHandler(current))
