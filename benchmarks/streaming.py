"""Streaming through a real uvicorn server: our binding against sse-starlette 3.7, FastAPI's
native `fastapi.sse` and raw ASGI.

Each library runs in its own uvicorn process (``--loop uvloop --http httptools``, no access log,
127.0.0.1, a free port), started in its own process group and killed by group at the end,
whatever happens (`harness.server`). The apps are in `_stream_apps.py`. The client is this
process: a raw asyncio protocol that counts bytes and ``data: `` prefixes in whole reads
(C-speed ``bytes.count``) and never parses events one by one, so the server is the bottleneck
(`harness.counting`). The table shows how busy the client was.

Measures (every library gets the same events and writes the same bytes):

1. One stream, a producer that never waits: N tiny events ``data: <n>``; events/s.
2. One stream, a producer that awaits ``asyncio.sleep(0)`` after each event (coalescing cannot
   help); events/s.
3. Burst, events already waiting: an anyio memory object stream holding all N events (sender
   closed), and an async generator over N ready events; events/s.
4. 1,000 idle connections: server RSS growth and asyncio tasks per connection, with Starlette's
   plain `StreamingResponse` over the same waiting producer as the reference.
5. 50 concurrent streams, producers as in 1 and in 2: events/s of all the streams together.
6. Drop-in: sse-starlette's own code (defaults, CRLF, a ``ServerSentEvent(data=...)`` built per
   event), served by sse-starlette and by our binding with only the import changed, with the
   producers of 1 and of 2; events/s.

It prints a table per measure (medians over the runs, ratios of ours against each peer
measured in the same run) and the SPEC targets as met or missed. It reports,
it never asserts: it exits 0 whether or not the targets are met, and 1 only when it could not
measure fairly (a server wrote other bytes than the others, or a stream came back short).

    uv run python benchmarks/streaming.py            # median of 3 runs, about 3 minutes
    uv run python benchmarks/streaming.py --quick    # 1 run, a tenth of the events: ~30 s
    uv run python benchmarks/streaming.py --runs 5 --json streaming.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from harness.client import get, get_text, request_bytes
from harness.counting import (
    SAMPLE_COLUMNS,
    SAMPLE_COLUMNS_NOTE,
    StreamSample,
    sample_json,
    sample_row,
    time_request,
)
from harness.libraries import (
    DROPIN,
    DROPIN_LIBRARIES,
    FACTORIES,
    FASTAPI,
    IDLE_LIBRARIES,
    LABELS,
    LIBRARIES,
    OURS,
    RAW,
    STARLETTE,
    STREAMING_RESPONSE,
)
from harness.options import add_run_options, chosen_keys, positive
from harness.report import (
    Verdict,
    environment,
    measure_and_report,
    median_of,
    progress,
    ratio_text,
    report_header,
    table,
)
from harness.server import MeasurementError, Server
from support.http_client import open_request

if TYPE_CHECKING:
    from collections.abc import Sequence

# The line separator each library's events end with: the drop-in code keeps sse-starlette's
# default, CRLF; the other servers are all given (or only know) LF.
SEPARATORS: Final = {
    library: b"\r\n" if library in DROPIN_LIBRARIES else b"\n" for library in FACTORIES
}

# SPEC, "Performance targets".
ONE_STREAM_VS_STARLETTE: Final = 2.0  # at least 2x sse-starlette's events/s
ONE_STREAM_VS_RAW: Final = 0.85  # within 15% of raw ASGI
DROPIN_FAST_VS_STARLETTE: Final = 5.0  # sse-starlette's code, import changed, never waiting
DROPIN_YIELD_VS_STARLETTE: Final = 1.5  # the same, awaiting after each event
BURST_VS_STARLETTE: Final = 10.0  # at least 10x sse-starlette
# Idle memory per connection at most 10% above Starlette's plain StreamingResponse's.
IDLE_MEMORY_VS_STREAMING_RESPONSE: Final = 1.10
IDLE_TASKS_MAX: Final = 2.0  # tasks per connection, the server's request task included

DEFAULT_RUNS: Final = 3
QUICK_RUNS: Final = 1
DEFAULT_CONNECTIONS: Final = 1000
QUICK_CONNECTIONS: Final = 1000
CONCURRENT_STREAMS: Final = 50
CHECK_EVENTS: Final = 5  # events per mode in the same-bytes check before timing


@dataclass(frozen=True, slots=True)
class StreamMeasure:
    """Timed streams: a mode of `_stream_apps`, how many events in all, over how many streams."""

    key: str
    number: str
    title: str
    mode: str
    events: int
    quick_events: int
    # Minimum ours/peer events/s ratios, when this measure is a SPEC target.
    vs_starlette: float | None = None
    vs_raw: float | None = None
    target_name: str = ""
    streams: int = 1
    """Concurrent streams, each of ``events // streams`` events, timed together."""
    libraries: tuple[str, ...] = LIBRARIES
    """The servers that run it: first the one judged, then sse-starlette (the `vs_starlette`
    baseline), then any other peers. The drop-in measures run `DROPIN` and `DROPIN_STARLETTE`."""


STREAM_MEASURES: Final = (
    StreamMeasure(
        "fast",
        "1",
        "One stream, a producer that never waits (async generator)",
        "fast",
        500_000,
        50_000,
        ONE_STREAM_VS_STARLETTE,
        ONE_STREAM_VS_RAW,
        "one stream",
    ),
    StreamMeasure(
        "yield",
        "2",
        "One stream, a producer that awaits asyncio.sleep(0) after each event",
        "yield",
        100_000,
        10_000,
        ONE_STREAM_VS_STARLETTE,
        ONE_STREAM_VS_RAW,
        "one stream, yielding producer",
    ),
    StreamMeasure(
        "burst-stream",
        "3a",
        "Burst: all events already in an anyio memory object stream (sender closed)",
        "burst-stream",
        200_000,
        20_000,
        BURST_VS_STARLETTE,
        None,
        "burst, memory stream",
    ),
    StreamMeasure(
        "burst-gen",
        "3b",
        "Burst: an async generator over events that are all ready",
        "burst-gen",
        200_000,
        20_000,
        BURST_VS_STARLETTE,
        None,
        "burst, async generator",
    ),
    StreamMeasure(
        "concurrent-fast",
        "5a",
        f"{CONCURRENT_STREAMS} concurrent streams, producers that never wait",
        "fast",
        500_000,
        50_000,
        streams=CONCURRENT_STREAMS,
    ),
    StreamMeasure(
        "concurrent-yield",
        "5b",
        f"{CONCURRENT_STREAMS} concurrent streams, producers that await asyncio.sleep(0) "
        "after each event",
        "yield",
        100_000,
        10_000,
        streams=CONCURRENT_STREAMS,
    ),
    StreamMeasure(
        "dropin-fast",
        "6a",
        "Drop-in: sse-starlette's code (ServerSentEvent per event, CRLF), producer never waits",
        "fast",
        500_000,
        50_000,
        DROPIN_FAST_VS_STARLETTE,
        target_name="drop-in, producer that never waits",
        libraries=DROPIN_LIBRARIES,
    ),
    StreamMeasure(
        "dropin-yield",
        "6b",
        "Drop-in: sse-starlette's code (ServerSentEvent per event, CRLF), asyncio.sleep(0) "
        "after each event",
        "yield",
        100_000,
        10_000,
        DROPIN_YIELD_VS_STARLETTE,
        target_name="drop-in, yielding producer",
        libraries=DROPIN_LIBRARIES,
    ),
)
IDLE: Final = "idle"
MEASURE_KEYS: Final = (*(m.key for m in STREAM_MEASURES), IDLE)


# -- the client ---------------------------------------------------------------------------------


def payload_bytes(events: int, sep: bytes = b"\n") -> int:
    """The length of ``data: 0`` ... ``data: <events-1>``, each line and event ended by `sep`,
    framing excluded."""
    total, digits, low = 0, 1, 0
    while low < events:
        high = min(events, 10**digits)
        total += (high - low) * (len(b"data: ") + 2 * len(sep) + digits)
        low, digits = high, digits + 1
    return total


def expected_events(events: int, sep: bytes = b"\n") -> bytes:
    """The exact bytes every library writes for `events` events (chunked framing removed)."""
    return b"".join(b"data: %d%s%s" % (i, sep, sep) for i in range(events))


async def time_stream(
    port: int, mode: str, events: int, streams: int = 1, sep: bytes = b"\n"
) -> StreamSample:
    """Stream `events` events of `mode`, split over `streams` concurrent streams, once; wall
    time from the requests to the last byte of the last stream. `sep` ends the events' lines."""
    each = events // streams
    await get_text(port, f"/debug/prepare?n={each}")
    request = request_bytes(f"/stream?mode={mode}&n={each}")
    return await time_request(port, request, each, payload_bytes(each, sep), mode, streams=streams)


async def check_bytes(port: int, library: str) -> None:
    """Every mode must write exactly the same bytes in every library: the same work (the
    drop-in pair writes sse-starlette's default CRLF, the others LF)."""
    expected = expected_events(CHECK_EVENTS, SEPARATORS[library])
    for measure in STREAM_MEASURES:
        if library not in measure.libraries:
            continue
        status, body = await get(port, f"/stream?mode={measure.mode}&n={CHECK_EVENTS}")
        if status != 200 or body != expected:
            raise MeasurementError(
                f"{library} {measure.mode}: status {status}, body {body!r}, expected {expected!r}"
            )


@dataclass(frozen=True, slots=True)
class IdleSample:
    """One round of idle connections."""

    connections: int
    rss_growth: int
    tasks_before: int
    tasks_after: int
    released: bool

    @property
    def bytes_per_connection(self) -> float:
        return self.rss_growth / self.connections

    @property
    def tasks_per_connection(self) -> float:
        return (self.tasks_after - self.tasks_before) / self.connections


async def open_idle(port: int) -> asyncio.StreamWriter:
    """One idle stream, open once its response head has arrived."""
    response = await open_request(port, "/idle", headers=(), timeout=30)
    if response.status != 200:
        response.close()
        raise MeasurementError(f"/idle: status {response.status}")
    return response.writer


async def open_many(port: int, count: int, batch: int = 100) -> list[asyncio.StreamWriter]:
    writers: list[asyncio.StreamWriter] = []
    for first in range(0, count, batch):
        size = min(batch, count - first)
        writers += await asyncio.gather(*(open_idle(port) for _ in range(size)))
    return writers


async def close_all(port: int, writers: list[asyncio.StreamWriter], tasks: int) -> bool:
    """Close the connections; True once the server is back to `tasks` tasks (10 s at most)."""
    for writer in writers:
        writer.close()
    for writer in writers:
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if int(await get_text(port, "/debug/tasks")) <= tasks:
            return True
        await asyncio.sleep(0.1)
    return False


async def measure_idle(server: Server, connections: int) -> IdleSample:
    """Server RSS growth and asyncio tasks added by `connections` idle streams."""
    port = server.port
    # Warm up: the first streams import and cache things that later ones reuse, and start
    # what a library starts once per event loop (sse-starlette's shutdown watcher task).
    for writer in await open_many(port, 50):
        writer.close()
    await asyncio.sleep(0.5)
    tasks_before = int(await get_text(port, "/debug/tasks"))
    rss_before = server.rss_bytes()
    writers = await open_many(port, connections)
    try:
        await asyncio.sleep(0.5)  # let every stream reach its idle wait
        tasks_after = int(await get_text(port, "/debug/tasks"))
        rss_after = server.rss_bytes()
    finally:
        released = await close_all(port, writers, tasks_before)
    return IdleSample(connections, rss_after - rss_before, tasks_before, tasks_after, released)


# -- running ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Results:
    """Every sample, by measure and library."""

    streams: dict[tuple[str, str], list[StreamSample]] = field(default_factory=dict)
    idle: dict[str, list[IdleSample]] = field(default_factory=dict)

    def median_rate(self, key: str, library: str) -> float | None:
        samples = self.streams.get((key, library))
        return statistics.median(s.events_per_second for s in samples) if samples else None


@dataclass(frozen=True, slots=True)
class Plan:
    runs: int
    quick: bool
    connections: int
    measures: tuple[str, ...]

    def events(self, measure: StreamMeasure) -> int:
        return measure.quick_events if self.quick else measure.events


def run_all(plan: Plan, runner: asyncio.Runner) -> Results:
    """Take `plan.runs` runs; in each, every library in turn, the order rotating per run."""
    run = runner.run
    results = Results()
    chosen = [m for m in STREAM_MEASURES if m.key in plan.measures]
    libraries = [
        library
        for library in (*LIBRARIES, *DROPIN_LIBRARIES, STREAMING_RESPONSE)
        if any(library in m.libraries for m in chosen)
        or (IDLE in plan.measures and library in IDLE_LIBRARIES)
    ]
    for index in range(plan.runs):
        shift = index % len(libraries)
        for library in libraries[shift:] + libraries[:shift]:
            stream_measures = [m for m in chosen if library in m.libraries]
            sep = SEPARATORS[library]
            if stream_measures:
                with Server(library) as server:
                    run(check_bytes(server.port, library))
                    for measure in stream_measures:
                        events = plan.events(measure)
                        # A short warm-up stream of the same mode, then the timed one.
                        run(time_stream(server.port, measure.mode, min(events, 2000), sep=sep))
                        sample = run(
                            time_stream(server.port, measure.mode, events, measure.streams, sep)
                        )
                        results.streams.setdefault((measure.key, library), []).append(sample)
                        progress(
                            f"run {index + 1}/{plan.runs} {library:<13} {measure.key:<13} "
                            f"{sample.events_per_second:>12,.0f} events/s "
                            f"(server {sample.server_us_per_event:.2f} us/event, "
                            f"client CPU {sample.client_busy:.0%})"
                        )
            if IDLE in plan.measures and library in IDLE_LIBRARIES:
                # A fresh server, so that the streams above leave nothing behind in its memory.
                with Server(library) as server:
                    idle = run(measure_idle(server, plan.connections))
                    results.idle.setdefault(library, []).append(idle)
                    progress(
                        f"run {index + 1}/{plan.runs} {library:<13} idle         "
                        f"{idle.bytes_per_connection:>12,.0f} bytes/conn, "
                        f"{idle.tasks_per_connection:.2f} tasks/conn"
                        + ("" if idle.released else ", NOT released after close")
                    )
    return results


# -- reporting ----------------------------------------------------------------------------------


def stream_report(
    measure: StreamMeasure, results: Results, plan: Plan
) -> tuple[list[str], list[Verdict]]:
    events = plan.events(measure)
    split = f" ({events // measure.streams:,} per stream)" if measure.streams > 1 else ""
    out = [
        f"{measure.number}. {measure.title}: {events:,} events{split}, median of {plan.runs} run(s)"
    ]
    rows = []
    rates: dict[str, float] = {}
    for library in measure.libraries:
        samples = results.streams.get((measure.key, library), [])
        if not samples:
            continue
        rates[library] = median_of([s.events_per_second for s in samples])
        rows.append(sample_row(LABELS[library], samples))
    out += table(SAMPLE_COLUMNS, rows)
    subject, *peers = measure.libraries
    ours = rates.get(subject)
    ratios = {peer: ours / rates[peer] if ours and peer in rates else None for peer in peers}
    out.append("   ".join(f"{subject} / {peer}: {ratio_text(ratios[peer])}" for peer in peers))
    vs_starlette, vs_raw = ratios[peers[0]], ratios.get(RAW)
    verdicts = []
    if measure.vs_starlette is not None and vs_starlette is not None:
        same_code = " (the same code)" if subject == DROPIN else ""
        verdicts.append(
            Verdict(
                f"{measure.target_name}: >= {measure.vs_starlette:g}x sse-starlette{same_code}",
                vs_starlette >= measure.vs_starlette,
                f"{vs_starlette:.2f}x",
            )
        )
    if measure.vs_raw is not None and vs_raw is not None:
        verdicts.append(
            Verdict(
                f"{measure.target_name}: within 15% of raw ASGI (>= {measure.vs_raw:g}x)",
                vs_raw >= measure.vs_raw,
                f"{vs_raw:.2f}x",
            )
        )
    out += [f"  {verdict.text()}" for verdict in verdicts]
    return out, verdicts


def idle_report(results: Results, plan: Plan) -> tuple[list[str], list[Verdict]]:
    out = [
        f"4. {plan.connections:,} idle connections (producer waits on an anyio.Event; ping 15 s), "
        f"median of {plan.runs} run(s)"
    ]
    per_conn: dict[str, float] = {}
    tasks: dict[str, float] = {}
    released: dict[str, bool] = {}
    for library in IDLE_LIBRARIES:
        samples = results.idle.get(library, [])
        if samples:
            per_conn[library] = median_of([s.bytes_per_connection for s in samples])
            tasks[library] = median_of([s.tasks_per_connection for s in samples])
            released[library] = all(s.released for s in samples)
    # Every row's memory against the reference's, when the reference was measured.
    reference = (
        per_conn.get(STREAMING_RESPONSE) if per_conn.get(STREAMING_RESPONSE, 0) > 0 else None
    )
    header = ["library", "RSS growth bytes/conn", "KiB/conn", "tasks/conn", "tasks released"]
    if reference is not None:
        header.append("/ StreamingResponse")
    rows = [
        (
            LABELS[library],
            f"{per_conn[library]:,.0f}",
            f"{per_conn[library] / 1024:.1f}",
            f"{tasks[library]:.2f}",
            "yes" if released[library] else "NO",
            *([f"{per_conn[library] / reference:.2f}x"] if reference is not None else []),
        )
        for library in per_conn
    ]
    out += table(header, rows)
    out.append(
        "  tasks/conn = (tasks with the streams open - tasks before) / connections; it counts "
        "uvicorn's own per-request task (the one running the app). The raw ASGI app runs no "
        "producer. The reference, Starlette's plain StreamingResponse, streams the same "
        "waiting producer without SSE. 'tasks released': back to the count before, within "
        "10 s of closing."
    )
    verdicts = []
    if reference is not None and OURS in per_conn:
        ratio = per_conn[OURS] / reference
        peers = "; ".join(
            f"{library} {per_conn[library] / reference:.2f}x"
            for library in (STARLETTE, FASTAPI)
            if library in per_conn
        )
        out.append(
            f"memory per connection / StreamingResponse's: ours {ratio:.2f}x"
            + (f"; {peers}" if peers else "")
        )
        verdicts.append(
            Verdict(
                "idle memory per connection within 10% of Starlette's StreamingResponse "
                f"(<= {IDLE_MEMORY_VS_STREAMING_RESPONSE:.2f}x)",
                ratio <= IDLE_MEMORY_VS_STREAMING_RESPONSE,
                f"{per_conn[OURS]:,.0f} vs {reference:,.0f} bytes/conn, {ratio:.2f}x",
            )
        )
    if OURS in tasks:
        verdicts.append(
            Verdict(
                f"<= {IDLE_TASKS_MAX:g} tasks per idle connection",
                tasks[OURS] <= IDLE_TASKS_MAX,
                f"{tasks[OURS]:.2f}; sse-starlette {tasks.get(STARLETTE, float('nan')):.2f}",
            )
        )
    out += [f"  {verdict.text()}" for verdict in verdicts]
    return out, verdicts


def report(results: Results, plan: Plan, *, code_changed: bool = False) -> str:
    out = report_header(
        "Streaming through uvicorn (--loop uvloop --http httptools), one server process per "
        "library, client in this process",
        environment(),
        [
            "events are `data: <n>` LF-separated (identical bytes from all four, checked; the "
            "drop-in pair writes sse-starlette's default CRLF, identical between the two); "
            "ratios are of medians, all libraries measured in the same runs",
            SAMPLE_COLUMNS_NOTE,
        ],
        code_changed=code_changed,
    )
    verdicts: list[Verdict] = []
    for measure in STREAM_MEASURES:
        if measure.key in plan.measures:
            lines, found = stream_report(measure, results, plan)
            out += [*lines, ""]
            verdicts += found
    if IDLE in plan.measures:
        lines, found = idle_report(results, plan)
        out += [*lines, ""]
        verdicts += found
    met = sum(verdict.met for verdict in verdicts)
    out.append(f"SPEC targets: {met}/{len(verdicts)} met")
    out += [f"  {verdict.text()}" for verdict in verdicts]
    return "\n".join(out)


def to_json(results: Results, plan: Plan) -> dict[str, Any]:
    return {
        "environment": environment(),
        "runs": plan.runs,
        "quick": plan.quick,
        "streams": [
            {
                "measure": key,
                "library": library,
                "samples": [sample_json(s) for s in samples],
            }
            for (key, library), samples in results.streams.items()
        ],
        "idle": [
            {
                "library": library,
                "samples": [
                    {
                        "connections": s.connections,
                        "rss_growth": s.rss_growth,
                        "bytes_per_connection": s.bytes_per_connection,
                        "tasks_per_connection": s.tasks_per_connection,
                        "released": s.released,
                    }
                    for s in samples
                ],
            }
            for library, samples in results.idle.items()
        ],
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Events/s and per-connection cost of our EventSourceResponse against "
            "sse-starlette 3.7, fastapi.sse and a raw ASGI app, through real uvicorn servers; "
            "reports the SPEC streaming targets as met or missed."
        )
    )
    parser.add_argument(
        "--quick", action="store_true", help="1 run with a tenth of the events: a smoke test"
    )
    parser.add_argument(
        "--connections",
        type=positive,
        default=None,
        metavar="N",
        help=f"idle connections to open (default {DEFAULT_CONNECTIONS})",
    )
    add_run_options(parser, MEASURE_KEYS, what="measures", runs=DEFAULT_RUNS, quick_runs=QUICK_RUNS)
    args = parser.parse_args(argv)
    args.measures = chosen_keys(parser, args, MEASURE_KEYS, "measures")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = Plan(
        runs=args.runs or (QUICK_RUNS if args.quick else DEFAULT_RUNS),
        quick=args.quick,
        connections=args.connections or (QUICK_CONNECTIONS if args.quick else DEFAULT_CONNECTIONS),
        measures=args.measures,
    )
    return measure_and_report(plan, run_all, report, to_json, args.json)


if __name__ == "__main__":
    sys.exit(main())
