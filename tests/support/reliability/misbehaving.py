"""Misbehaving producers: each kind of ``reliability_app.MISBEHAVIOURS`` next to a healthy
stream.
"""

from __future__ import annotations

__all__ = [
    "ABANDONED_LOG",
    "STREAM_ERROR_LOG",
    "MisbehavingResult",
    "MisbehaviourOutcome",
    "misbehaving_producers",
]

import asyncio
import contextlib
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Final

from support.http_client import IncompleteResponse, open_request
from support.reliability.clients import TickReader, id_gaps
from support.reliability.common import (
    APP,
    APP_DIR,
    UVICORN_ARGS,
    Cleanups,
    all_cleaned,
    get_text,
    record_counts,
)
from support.reliability.measure import Snapshot, snapshot, snapshot_when_settled
from support.reliability_app import MISBEHAVIOURS
from support.servers import raise_fd_limit, run_server, wait_until

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

STREAM_ERROR_LOG: Final = "the event stream's producer raised; ending the stream"
ABANDONED_LOG: Final = "took over"  # "... took over N seconds to close; abandoned it"


@dataclass
class MisbehaviourOutcome:
    kind: str
    copies: int
    clients: dict[str, int]
    """How the responses ended: "complete", "cut", or "open" (still open at the deadline)."""
    events: list[str]
    """The event types the first client received (pings excluded)."""
    pings: int
    """Keep-alive pings the first client received."""
    cleanups: Cleanups
    cleanups_done: int
    """Producers whose cleanup got to its end (a slow cleanup cut short does not)."""
    seconds: float
    """From sending the requests until the last response ended (or the deadline)."""
    log: str
    """What the server logged meanwhile."""


@dataclass
class MisbehavingResult:
    outcomes: list[MisbehaviourOutcome]
    healthy_events: int
    healthy_gaps: int
    """Events missing from the healthy stream's id sequence (it must be none)."""
    fresh_request_status: int
    """A new request's status after all of it."""
    baseline: Snapshot
    after: Snapshot
    log: str


async def _misbehaving_stream(
    port: int, path: str, *, deadline: float
) -> tuple[str, list[str], int]:
    """Read one stream until it ends or `deadline` (loop time): its outcome, the event types
    received and the number of pings."""
    response = await open_request(port, path)
    events: list[str] = []
    pings = 0
    outcome = "open"
    try:
        if response.status != 200:
            return f"status {response.status}", events, pings
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(deadline):
                try:
                    while (block := await response.read_block()) is not None:
                        if block.startswith(b":"):
                            pings += 1
                        else:
                            kind = b"message"
                            for line in block.split(b"\r\n"):
                                if line.startswith(b"event: "):
                                    kind = line[len(b"event: ") :]
                            events.append(kind.decode())
                    outcome = "complete"
                except (IncompleteResponse, ConnectionError):
                    outcome = "cut"
    finally:
        response.close()
    return outcome, events, pings


def misbehaving_producers(
    work_dir: Path,
    copies: int = 1,
    *,
    cleanup_timeout: float = 0.5,
    hang_seconds: float = 1.0,
    kinds: Sequence[str] | None = None,
) -> MisbehavingResult:
    """Each kind of misbehaving producer of ``reliability_app.MISBEHAVIOURS`` in turn,
    `copies` streams of it at once, next to a healthy stream that ticks all along; the
    ``hang`` streams are given `hang_seconds` (pings every 0.2 s), then their clients leave."""

    raise_fd_limit()
    with run_server("uvicorn", APP_DIR, work_dir, app=APP, extra_args=UVICORN_ARGS) as server:

        async def scenario() -> MisbehavingResult:
            healthy = TickReader(await open_request(server.port, "/ticks?id=healthy"))
            try:
                await healthy.collect(5, 10)
                baseline = await snapshot(server)
                outcomes = []
                for kind in kinds or list(MISBEHAVIOURS):
                    log_start = len(server.log())
                    ids = [f"{kind}-{n}" for n in range(copies)]
                    query = f"kind={kind}&cleanup_timeout={cleanup_timeout}&ping=0.2"
                    loop = asyncio.get_running_loop()
                    started = loop.time()
                    # A response that should end does so within the cleanup timeout and some;
                    # a hanging one is given `hang_seconds`.
                    limit = hang_seconds if kind == "hang" else cleanup_timeout + 10
                    ends = await asyncio.gather(
                        *(
                            _misbehaving_stream(
                                server.port,
                                f"/misbehave?id={stream_id}&{query}",
                                deadline=started + limit,
                            )
                            for stream_id in ids
                        )
                    )
                    seconds = loop.time() - started
                    # The clients are gone now: every producer's cleanup must run, even the
                    # hanging ones'. A cleanup that is cut short still began.
                    await wait_until(partial(all_cleaned, server, ids), 10)
                    await asyncio.sleep(0.2)  # for the last log lines
                    clients: dict[str, int] = {}
                    for outcome, _, _ in ends:
                        clients[outcome] = clients.get(outcome, 0) + 1
                    records = server.records()
                    done = record_counts(records, "cleanup-done")
                    outcomes.append(
                        MisbehaviourOutcome(
                            kind=kind,
                            copies=copies,
                            clients=clients,
                            events=ends[0][1],
                            pings=ends[0][2],
                            cleanups=Cleanups.of(records, ids),
                            cleanups_done=sum(done.get(stream_id, 0) for stream_id in ids),
                            seconds=seconds,
                            log=server.log()[log_start:],
                        )
                    )
                await healthy.collect(5, 10)
                fresh_status, _ = await get_text(server.port, "/health")
                after = await snapshot_when_settled(server, baseline, 10)
                ids_seen = healthy.ids
            finally:
                healthy.stop()
            return MisbehavingResult(
                outcomes=outcomes,
                healthy_events=len(ids_seen),
                healthy_gaps=id_gaps(ids_seen),
                fresh_request_status=fresh_status,
                baseline=baseline,
                after=after,
                log=server.log(),
            )

        return asyncio.run(scenario())
