"""Shutdown at scale: a signal to a server with many open streams; how it exits, how the
responses end, which cleanups run.
"""

from __future__ import annotations

__all__ = ["SHUTDOWN_CASES", "ShutdownCase", "ShutdownResult", "shutdown"]

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from support.http_client import HTTPResponse, IncompleteResponse
from support.reliability.clients import open_streams
from support.reliability.common import APP, APP_DIR, TRACEBACK, UVICORN_ARGS, Cleanups
from support.servers import ServerKind, raise_fd_limit, run_server, wait_until

if TYPE_CHECKING:
    import signal
    from pathlib import Path


@dataclass(frozen=True)
class ShutdownCase:
    """A server, its worker's event loop, and the arguments that give it a bounded shutdown."""

    kind: ServerKind
    worker: str
    """``asyncio`` or ``trio``: the async library the app runs under."""
    extra_args: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.worker}"


SHUTDOWN_CASES: Final = (
    # uvicorn and granian need no option: the streams end themselves on the signal.
    ShutdownCase("uvicorn", "asyncio", UVICORN_ARGS),
    # hypercorn's worker never receives the signal (its main process tells it through a
    # multiprocessing event); it cancels open connections after --graceful-timeout (3 s by
    # default, 1 s here). Its accept backlog is 100 by default; the clients connect 100 at a
    # time, so raise it to be sure no connection attempt waits on a SYN retransmit.
    ShutdownCase("hypercorn", "asyncio", ("--graceful-timeout", "1", "--backlog", "2048")),
    ShutdownCase(
        "hypercorn",
        "trio",
        ("--graceful-timeout", "1", "--backlog", "2048", "--worker-class", "trio"),
    ),
    # granian's default backpressure is its backlog (1024) per worker: room for 1,000 streams
    # and the health check, but not much more, so both are raised.
    ShutdownCase("granian", "asyncio", ("--backlog", "4096", "--backpressure", "4096")),
)
"""uvicorn and granian run only under asyncio; hypercorn also runs trio workers."""


@dataclass
class ShutdownResult:
    case: ShutdownCase
    signal: str
    streams: int
    exit_seconds: float | None
    """From the signal to the main process's exit; None if it did not exit in time."""
    returncode: int | None
    clients: dict[str, int]
    """How the clients' responses ended: "complete" (the last chunk arrived), "cut" (the
    connection closed without it) or "open" (nothing yet, 2 s after the exit)."""
    cleanups: Cleanups
    app_tracebacks: int
    """Tracebacks in the server's log that go through the binding or the app."""
    log: str


async def _read_to_end(response: HTTPResponse) -> str:
    try:
        while (await response.read_some()) != b"":
            pass
    except (IncompleteResponse, ConnectionError):
        return "cut"
    return "complete"


def shutdown(
    work_dir: Path,
    case: ShutdownCase,
    signum: signal.Signals,
    streams: int = 1000,
    *,
    exit_timeout: float = 30.0,
) -> ShutdownResult:
    """`streams` open idle streams (each delivered its first event, so every producer runs),
    every client reading; then `signum` to the server's main process: how long until it exits,
    how the responses ended, which cleanups ran."""

    raise_fd_limit()
    with run_server(case.kind, APP_DIR, work_dir, app=APP, extra_args=case.extra_args) as server:

        async def scenario() -> ShutdownResult:
            ids = [f"s{n}" for n in range(streams)]
            responses = await open_streams(server.port, [f"/idle?id={i}" for i in ids])
            try:
                readers = [asyncio.create_task(_read_to_end(r)) for r in responses]
                signalled = time.monotonic()
                server.send_signal(signum)
                exited = await wait_until(server.exited, exit_timeout, poll=0.005)
                exit_seconds = None if exited is None else time.monotonic() - signalled
                done, pending = await asyncio.wait(readers, timeout=2)
                for task in pending:
                    task.cancel()
                clients: dict[str, int] = {}
                for task in readers:
                    outcome = task.result() if task in done else "open"
                    clients[outcome] = clients.get(outcome, 0) + 1
                # Read before the clients close their connections, which would end any stream
                # that the shutdown did not.
                records = server.records()
            finally:
                for response in responses:
                    response.close()
            log = server.log()
            tracebacks = log.split(TRACEBACK)[1:]
            return ShutdownResult(
                case=case,
                signal=signum.name,
                streams=streams,
                exit_seconds=exit_seconds,
                returncode=server.process.returncode,
                clients=clients,
                cleanups=Cleanups.of(records, ids),
                app_tracebacks=sum(
                    "sse_starlette_binding" in t or "reliability_app" in t for t in tracebacks
                ),
                log=log,
            )

        return asyncio.run(scenario())
