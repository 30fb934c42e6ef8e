"""Latency through a real uvicorn server: our binding against sse-starlette 3.7, FastAPI's
native `fastapi.sse` and raw ASGI.

`streaming.py` measures how many events a server can push; this script measures how long one
event takes to reach the client when the server is not saturated. Two SPEC lines depend on it
("Performance targets", fairness): write coalescing must not add latency to a lone event, and a
producer that never waits must not starve the other streams.

The machinery is the benchmarks' `harness`, as in `streaming.py`: one uvicorn process per
library (``--loop uvloop --http httptools``, 127.0.0.1, its own process group, killed by group
whatever happens), the library order rotating from run to run, medians over runs, the
environment lines.
The apps are in `_latency_apps.py`. The client is this process, on uvloop, with raw asyncio
protocols that take ``time.monotonic_ns()`` as soon as a read arrives and split whole reads
with ``bytes.split``; at 10,000 events/s in all it stays far from being the bottleneck (the
tables show its CPU share).

Measures:

1. Time to first event. A fresh TCP connection per request, connected before the clock starts;
   the time from writing the GET to reading the first complete ``data: <ns>`` LF LF of a
   stream whose producer yields one event at once and then waits forever. The event carries
   the producer's ``time.monotonic_ns()``, so the time splits into the response's start-up
   (request written -> yield) and the delivery (yield -> read). The client then closes the
   connection and waits until the server's task count is back where it was (5 s at most), so
   that every request meets a quiet server. 200 sequential requests (50 with ``--quick``) after
   20 untimed ones; p50 and p99.
2. Latency at 100 events/s per stream. The producer paces its events on an absolute schedule
   (event i is due at start + i * 10 ms; it sleeps with `asyncio.sleep` until then) and puts
   ``time.monotonic_ns()``, taken just before the yield, into the event. CLOCK_MONOTONIC is one
   clock for every process on Linux, so latency = the client's ``time.monotonic_ns()`` when
   the read holding the event arrived - that stamp: the library's path from ``yield`` to the
   client. The client also knows when each event was due (it chose the start), so it reports
   how late each event arrived against its schedule too: that includes uvloop's timer
   granularity (timers are rounded to whole milliseconds, so up to about 1 ms either way) and,
   above all, any time the producer could not run because something else held the event loop.
   Scenarios, 4 s each (400 events per stream, the first 20 of each stream skipped as warm-up;
   2 s with ``--quick``):

   - ``1``: one stream.
   - ``100``: 100 concurrent streams, their schedules spread evenly over the 10 ms interval
     (10,000 events/s in all, one every 100 us), so that the load is steady.
   - ``hog``: one paced stream while another connection to the same server streams from a
     producer that never waits, for the whole time. A library that lets the hog keep the
     event loop delays the paced producer's wake-ups: the events are then stamped late but
     sent at once, so the stamp-based latency hides the starvation and the lateness against
     the schedule shows it. The fairness verdict therefore reads the lateness.

Every paced stream must deliver exactly its N events, each a timestamp, or the script exits 1
without a table; before any timing it checks that every server writes exactly the same bytes
for each path. It reports, it never asserts: it exits 0 whether or not the targets are met.

Verdicts, on the medians over the runs:

- "a lone event is not delayed by coalescing": ours' p50 latency with one stream at most raw
  ASGI's + 100 us; ours' p50 time to first event at most raw ASGI's + 200 us; and the
  delivery part of that first event (yield -> read) at most raw ASGI's + 50 us. Why these
  tolerances: at 100 events/s the server's core idles between events, and waking it
  dominates, so every library's one-stream p50 moves from run to run by more than a tight
  bound would allow; it would flip at random. The time to first event includes starting a
  Starlette response (headers, a task group, a disconnect listener), a fixed cost before the
  producer even runs, not coalescing. The delivery part isolates what coalescing could add,
  so it gets the tight bound. (The figures behind these tolerances: docs/performance.md,
  "Figures behind bounds in the code".)
- "a never-waiting producer does not starve a paced stream": ours' p99 lateness against the
  schedule in the ``hog`` scenario at most 5 ms (uvloop's 1 ms timer granularity included).

    uv run python benchmarks/latency.py            # median of 3 runs: about 3 minutes on 2 cores
    uv run python benchmarks/latency.py --quick    # 1 run, 2 s per scenario: about 35 s
    uv run python benchmarks/latency.py --only first,1 --runs 5 --json latency.json
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from harness.client import StreamReader, connect, get_text, request_bytes, within
from harness.libraries import FACTORIES, LABELS, LIBRARIES, OURS, RAW
from harness.options import add_run_options, chosen_keys
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

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


DEFAULT_RUNS: Final = 3
QUICK_RUNS: Final = 1
DEFAULT_REQUESTS: Final = 200  # time-to-first-event requests per library and run
QUICK_REQUESTS: Final = 50
WARMUP_REQUESTS: Final = 20
DEFAULT_SECONDS: Final = 4  # per latency scenario
QUICK_SECONDS: Final = 2
INTERVAL_NS: Final = 10_000_000  # 100 events/s per stream
WARMUP_EVENTS: Final = 20  # skipped at the start of every paced stream
LEAD_NS: Final = 100_000_000  # the schedule starts this long after the requests are written
HOG_EXTRA_MS: Final = 500  # the hog outlasts the paced stream by this much
SETTLE_SECONDS: Final = 5.0  # at most this long for the server's tasks to come back down
READ_TIMEOUT: Final = 10.0  # seconds, for a response head or a first event

# Verdicts (SPEC, "Performance targets", fairness); the module docstring says why these values.
LONE_LATENCY_SLACK_US: Final = 100.0
LONE_FIRST_SLACK_US: Final = 200.0
FIRST_DELIVERY_SLACK_US: Final = 50.0
HOG_LATE_P99_MAX_US: Final = 5000.0

FIRST: Final = "first"
# The first event, stamped, as the body's first chunk: nothing may come before it on the wire.
FIRST_CHUNK: Final = re.compile(rb"([0-9a-f]+)\r\n(data: ([0-9]+)\n\n)")
CHUNKED_END: Final = b"\r\n0\r\n\r\n"  # the last chunk's CRLF, then the zero-size chunk


@dataclass(frozen=True, slots=True)
class Scenario:
    """Paced streams at 100 events/s, timed together; `hog`: next to a never-waiting stream."""

    key: str
    title: str
    streams: int
    hog: bool = False


SCENARIOS: Final = (
    Scenario("1", "1 stream at 100 events/s", 1),
    Scenario("100", "100 concurrent streams at 100 events/s each, schedules spread evenly", 100),
    Scenario(
        "hog",
        "1 stream at 100 events/s next to a stream whose producer never waits (fairness)",
        1,
        hog=True,
    ),
)
MEASURE_KEYS: Final = (FIRST, *(scenario.key for scenario in SCENARIOS))


# -- the client ---------------------------------------------------------------------------------


class FirstEventReader(StreamReader):
    """Done when the first event has arrived, which must be the first thing in the body: its
    stamp (when the producer yielded it) and when it arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.body = b""
        self.stamp = 0
        self.arrived = 0

    def body_received(self, data: bytes, now: int) -> None:
        self.body += data
        if b"\n\n" not in self.body:
            return  # the event is not complete yet
        match = FIRST_CHUNK.match(self.body)
        if match is None or int(match[1], 16) != len(match[2]):
            raise MeasurementError(f"the body starts {self.body[:60]!r}, not with one event")
        self.stamp, self.arrived = int(match[3]), now
        self.finish(None)


class PacedReader(StreamReader):
    """Reads a paced stream to its end: every event's stamp and the time its read arrived.

    Work per read, not per byte: the read is split at ``data: ``, up to its last complete
    event; the rest is carried over to the next read.
    """

    def __init__(self, events: int, start: int, interval: int) -> None:
        super().__init__()
        self.events = events
        self.start = start
        self.interval = interval
        self.carry = b""
        self.stamps: list[int] = []
        self.arrivals: list[int] = []

    def request(self) -> bytes:
        return request_bytes(f"/paced?n={self.events}&start={self.start}&interval={self.interval}")

    def body_received(self, data: bytes, now: int) -> None:
        buffer = self.carry + data
        end = buffer.rfind(b"\n\n")  # chunked framing never holds LF LF: an event's end
        if end >= 0:
            # The first piece is chunked framing (or nothing); each other one is an event's
            # data, then LF and perhaps framing.
            for piece in buffer[:end].split(b"data: ")[1:]:
                stamp = piece.partition(b"\n")[0]
                if not stamp.isdigit():
                    raise MeasurementError(f"event {len(self.stamps)}: {piece!r}")
                self.stamps.append(int(stamp))
            self.arrivals += [now] * (len(self.stamps) - len(self.arrivals))
            buffer = buffer[end + 2 :]
        self.carry = buffer
        if buffer.endswith(CHUNKED_END):
            self.finish(None)

    def delays(self) -> tuple[list[int], list[int]]:
        """Nanoseconds after the warm-up events: (arrival - stamp, arrival - due) per event."""
        if len(self.stamps) != self.events:
            raise MeasurementError(f"expected {self.events} events, got {len(self.stamps)}")
        measured = range(WARMUP_EVENTS, self.events)
        latency = [self.arrivals[i] - self.stamps[i] for i in measured]
        late = [self.arrivals[i] - (self.start + i * self.interval) for i in measured]
        return latency, late


class HogReader(StreamReader):
    """Drains the never-waiting stream and counts its events; done once the first arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.events = 0
        self.last = b""

    def body_received(self, data: bytes, now: int) -> None:
        # LF LF ends an event and never occurs in chunked framing; one byte of the previous
        # read is kept so that a pair split across reads is counted once.
        self.events += (self.last + data).count(b"\n\n")
        self.last = data[-1:]
        if self.events:
            self.finish(None)


async def tasks(port: int) -> int:
    """The server's asyncio task count (the request asking for it included)."""
    return int(await get_text(port, "/debug/tasks"))


async def settle(port: int, baseline: int) -> bool:
    """Wait until the server is back to `baseline` tasks; False if it is not within
    `SETTLE_SECONDS`."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while await tasks(port) > baseline:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.002)
    return True


# -- the measures -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FirstSample:
    """One run of time-to-first-event requests."""

    p50_us: float
    p99_us: float
    to_yield_p50_us: float
    """The p50 of request written -> the producer's stamp: the response's start-up."""
    delivery_p50_us: float
    """The p50 of the producer's stamp -> the event read: the library's path from ``yield``."""
    requests: int
    cleaned_up: bool
    """Whether the server was back to its task count within 5 s after every request."""


@dataclass(frozen=True, slots=True)
class LatencySample:
    """One run of a scenario: percentiles over every stream's measured events together."""

    p50_us: float
    p90_us: float
    p99_us: float
    max_us: float
    late_p99_us: float
    """The 99th percentile of arrival - due: lateness against the schedule."""
    events: int
    server_us_per_event: float
    client_busy: float
    hog_events_per_second: float | None
    cleaned_up: bool


def percentiles_us(values_ns: Sequence[int], *cuts: int) -> list[float]:
    """The given percentiles of `values_ns`, in microseconds."""
    quantiles = statistics.quantiles(values_ns, n=100, method="inclusive")
    return [quantiles[cut - 1] / 1000 for cut in cuts]


async def preflight(port: int, library: str) -> int:
    """Check that the server writes exactly the expected bytes on every path (this also warms
    it up) and return its task count at rest."""
    paced = await get_text(port, "/paced?n=3&start=0&interval=0")
    stamps = paced.removesuffix("\n\n").split("\n\n")
    if len(stamps) != 3 or not all(s.startswith("data: ") and s[6:].isdigit() for s in stamps):
        raise MeasurementError(f"{library} /paced: {paced!r}, expected 3 `data: <ns>` events")
    hog = await get_text(port, "/hog?ms=5")
    if not hog or hog != "data: h\n\n" * (len(hog) // len("data: h\n\n")):
        raise MeasurementError(f"{library} /hog: {hog[:60]!r}..., expected only `data: h` events")
    await time_first_event(port)  # checks that the event is the first thing in the body
    await asyncio.sleep(0.5)  # let the server clean up after the streams above
    return await tasks(port)


async def time_first_event(port: int) -> tuple[int, int]:
    """On a fresh connection, nanoseconds from writing the request to reading the first event,
    and to the producer's stamp in it."""
    reader = FirstEventReader()
    transport = await connect(port, reader)
    try:
        start = time.monotonic_ns()
        transport.write(request_bytes("/first"))
        await within(READ_TIMEOUT, reader.done, "the first event")
    finally:
        transport.close()
    return reader.arrived - start, reader.stamp - start


async def measure_first(port: int, requests: int, baseline: int) -> FirstSample:
    """`requests` sequential requests, each on a quiet server, after `WARMUP_REQUESTS`."""
    times: list[int] = []
    to_yield: list[int] = []
    cleaned_up = True
    for index in range(WARMUP_REQUESTS + requests):
        elapsed, yielded = await time_first_event(port)
        if index >= WARMUP_REQUESTS:
            times.append(elapsed)
            to_yield.append(yielded)
        # Once the server failed to clean up, waiting again would only slow the run down.
        cleaned_up = cleaned_up and await settle(port, baseline)
    p50, p99 = percentiles_us(times, 50, 99)
    (to_yield_p50,) = percentiles_us(to_yield, 50)
    (delivery_p50,) = percentiles_us([t - y for t, y in zip(times, to_yield, strict=True)], 50)
    return FirstSample(p50, p99, to_yield_p50, delivery_p50, requests, cleaned_up)


async def measure_latency(
    port: int, scenario: Scenario, seconds: int, baseline: int
) -> LatencySample:
    """Run `scenario` once: its paced streams (and its hog) at the same time."""
    events = seconds * 1_000_000_000 // INTERVAL_NS
    # Asked before the hog starts: a server that the hog starves could not answer until the
    # hog ends, and the paced streams would then start too late to meet it.
    cpu_before = float(await get_text(port, "/debug/cpu"))
    hog = HogReader()
    readers = [PacedReader(events, 0, INTERVAL_NS) for _ in range(scenario.streams)]
    transports: list[asyncio.Transport] = []
    try:
        if scenario.hog:
            transports.append(await connect(port, hog))
            hog_ms = (LEAD_NS + events * INTERVAL_NS) // 1_000_000 + HOG_EXTRA_MS
            transports[0].write(request_bytes(f"/hog?ms={hog_ms}"))
            await within(READ_TIMEOUT, hog.done, "the hog's first event")  # the hog is running
        # The kernel completes these connections even while the server's event loop is busy.
        paced = await asyncio.gather(*(connect(port, reader) for reader in readers))
        transports += paced
        client_before, wall_before, hog_before = time.process_time(), time.monotonic(), hog.events
        start = time.monotonic_ns() + LEAD_NS
        for index, (reader, transport) in enumerate(zip(readers, paced, strict=True)):
            reader.start = start + index * INTERVAL_NS // scenario.streams
            transport.write(reader.request())
        timeout = (LEAD_NS + events * INTERVAL_NS) / 1e9 * 2 + 30
        await within(timeout, asyncio.gather(*(reader.done for reader in readers)), "the streams")
        wall = time.monotonic() - wall_before
        client_cpu = time.process_time() - client_before
        hog_events = hog.events - hog_before
    finally:
        for transport in transports:
            transport.close()
    cpu_after = float(await get_text(port, "/debug/cpu"))
    cleaned_up = await settle(port, baseline)
    latency: list[int] = []
    late: list[int] = []
    for reader in readers:
        stream_latency, stream_late = reader.delays()
        latency += stream_latency
        late += stream_late
    p50, p90, p99 = percentiles_us(latency, 50, 90, 99)
    (late_p99,) = percentiles_us(late, 99)
    return LatencySample(
        p50_us=p50,
        p90_us=p90,
        p99_us=p99,
        max_us=max(latency) / 1000,
        late_p99_us=late_p99,
        events=len(latency),
        server_us_per_event=(cpu_after - cpu_before) / (events * scenario.streams) * 1e6,
        client_busy=client_cpu / wall,
        hog_events_per_second=hog_events / wall if scenario.hog else None,
        cleaned_up=cleaned_up,
    )


# -- running ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    runs: int
    quick: bool
    measures: tuple[str, ...]

    @property
    def requests(self) -> int:
        return QUICK_REQUESTS if self.quick else DEFAULT_REQUESTS

    @property
    def seconds(self) -> int:
        return QUICK_SECONDS if self.quick else DEFAULT_SECONDS

    @property
    def scenarios(self) -> tuple[Scenario, ...]:
        return tuple(scenario for scenario in SCENARIOS if scenario.key in self.measures)


@dataclass(slots=True)
class Results:
    first: dict[str, list[FirstSample]] = field(default_factory=dict)
    latency: dict[tuple[str, str], list[LatencySample]] = field(default_factory=dict)
    """By (scenario key, library)."""


def run_all(plan: Plan, runner: asyncio.Runner) -> Results:
    """Take `plan.runs` runs; in each, every library in turn, the order rotating per run."""
    results = Results()
    for index in range(plan.runs):
        shift = index % len(LIBRARIES)
        for library in LIBRARIES[shift:] + LIBRARIES[:shift]:
            try:
                run_library(library, plan, runner, results, f"run {index + 1}/{plan.runs}")
            except MeasurementError as exc:
                raise MeasurementError(f"{library}: {exc}") from exc
    return results


def run_library(
    library: str, plan: Plan, runner: asyncio.Runner, results: Results, where: str
) -> None:
    """Every measure of `plan` on one fresh server of `library`, added to `results`."""
    run = runner.run
    where = f"{where} {library:<13}"
    with Server(library, app=f"_latency_apps:{FACTORIES[library]}") as server:
        baseline = run(preflight(server.port, library))
        if FIRST in plan.measures:
            first = run(measure_first(server.port, plan.requests, baseline))
            results.first.setdefault(library, []).append(first)
            progress(f"{where} first  p50 {first.p50_us:8.0f} us  p99 {first.p99_us:8.0f} us")
        for scenario in plan.scenarios:
            try:
                sample = run(measure_latency(server.port, scenario, plan.seconds, baseline))
            except MeasurementError as exc:
                raise MeasurementError(f"scenario {scenario.key}: {exc}") from exc
            results.latency.setdefault((scenario.key, library), []).append(sample)
            progress(
                f"{where} {scenario.key:<6} p50 {sample.p50_us:8.0f} us  "
                f"p99 {sample.p99_us:8.0f} us  late p99 {sample.late_p99_us:8.0f} us"
            )


# -- reporting ----------------------------------------------------------------------------------


def us(value: float) -> str:
    return f"{value:,.0f}"


def ratios_line(what: str, medians: Mapping[str, tuple[float, ...]]) -> str:
    """Ours against each peer on the medians `what` names: below 1.00x, ours is lower."""
    if OURS not in medians:
        return ""
    ours = medians[OURS]
    parts = [
        f"{library} " + " ".join(ratio_text(o / p) for o, p in zip(ours, peer, strict=True))
        for library, peer in medians.items()
        if library != OURS and all(peer)
    ]
    return f"ours / peer, {what} (below 1.00x: ours is lower): " + " | ".join(parts)


def median_first(samples: Sequence[FirstSample]) -> FirstSample:
    """Every number's median over the runs (each median on its own)."""
    return FirstSample(
        p50_us=median_of([s.p50_us for s in samples]),
        p99_us=median_of([s.p99_us for s in samples]),
        to_yield_p50_us=median_of([s.to_yield_p50_us for s in samples]),
        delivery_p50_us=median_of([s.delivery_p50_us for s in samples]),
        requests=samples[0].requests,
        cleaned_up=all(s.cleaned_up for s in samples),
    )


def first_report(results: Results, plan: Plan) -> tuple[list[str], dict[str, FirstSample]]:
    """The time-to-first-event table, and each library's medians (for the verdict)."""
    out = [
        f"1. Time to first event: fresh connection, {plan.requests} sequential requests per run "
        f"(after {WARMUP_REQUESTS} untimed), median of {plan.runs} run(s)"
    ]
    rows = []
    medians: dict[str, FirstSample] = {}
    for library in LIBRARIES:
        samples = results.first.get(library, [])
        if not samples:
            continue
        sample = medians[library] = median_first(samples)
        rows.append(
            (
                LABELS[library],
                us(sample.p50_us),
                us(sample.p99_us),
                us(sample.to_yield_p50_us),
                us(sample.delivery_p50_us),
                "yes" if sample.cleaned_up else "NO",
            )
        )
    header = ("library", "p50 us", "p99 us", "to yield p50 us", "yield to client p50 us")
    out += table((*header, "cleaned up"), rows)
    out.append(
        ratios_line("p50 and p99", {key: (s.p50_us, s.p99_us) for key, s in medians.items()})
    )
    return out, medians


def median_sample(samples: Sequence[LatencySample]) -> LatencySample:
    """Every number's median over the runs (each median on its own)."""
    hog_rates = [s.hog_events_per_second for s in samples if s.hog_events_per_second is not None]
    return LatencySample(
        p50_us=median_of([s.p50_us for s in samples]),
        p90_us=median_of([s.p90_us for s in samples]),
        p99_us=median_of([s.p99_us for s in samples]),
        max_us=median_of([s.max_us for s in samples]),
        late_p99_us=median_of([s.late_p99_us for s in samples]),
        events=samples[0].events,
        server_us_per_event=median_of([s.server_us_per_event for s in samples]),
        client_busy=median_of([s.client_busy for s in samples]),
        hog_events_per_second=median_of(hog_rates) if hog_rates else None,
        cleaned_up=all(s.cleaned_up for s in samples),
    )


def scenario_report(
    scenario: Scenario, number: str, results: Results, plan: Plan
) -> tuple[list[str], dict[str, LatencySample]]:
    """A scenario's table, and each library's medians as a sample (for the verdicts)."""
    events = plan.seconds * 1_000_000_000 // INTERVAL_NS
    out = [
        f"{number}. {scenario.title}: {plan.seconds} s, {events} events per stream "
        f"(first {WARMUP_EVENTS} skipped), median of {plan.runs} run(s)"
    ]
    last_column = "hog events/s" if scenario.hog else "server CPU us/event"
    rows = []
    medians: dict[str, LatencySample] = {}
    for library in LIBRARIES:
        samples = results.latency.get((scenario.key, library), [])
        if not samples:
            continue

        sample = median_sample(samples)
        hog_rate = sample.hog_events_per_second
        medians[library] = sample
        rows.append(
            (
                LABELS[library],
                us(sample.p50_us),
                us(sample.p90_us),
                us(sample.p99_us),
                us(sample.max_us),
                us(sample.late_p99_us),
                f"{sample.client_busy:.0%}",
                f"{hog_rate:,.0f}" if hog_rate is not None else f"{sample.server_us_per_event:.1f}",
                "yes" if sample.cleaned_up else "NO",
            )
        )
    header = ("library", "p50 us", "p90 us", "p99 us", "max us", "late p99 us", "client CPU")
    out += table((*header, last_column, "cleaned up"), rows)
    if scenario.hog:  # starvation shows in the lateness, not in the stamp-based latency
        out.append(ratios_line("late p99", {key: (s.late_p99_us,) for key, s in medians.items()}))
    else:
        ratios = {key: (s.p50_us, s.p99_us) for key, s in medians.items()}
        out.append(ratios_line("p50 and p99", ratios))
    return out, medians


def near_raw(what: str, ours: float, raw: float, slack: float) -> tuple[bool, str]:
    """Whether ours is at most `slack` us above raw ASGI, and the numbers as text."""
    return (
        ours <= raw + slack,
        f"{what} {ours:.0f} us vs raw ASGI {raw:.0f} us (+{slack:.0f} allowed)",
    )


def verdicts_for(
    first: dict[str, FirstSample], latency: dict[str, dict[str, LatencySample]]
) -> list[Verdict]:
    """The SPEC's fairness lines, from the medians of whatever was measured."""
    verdicts = []
    checks = []
    lone = latency.get("1", {})
    if OURS in lone and RAW in lone:
        ours, raw = lone[OURS], lone[RAW]
        checks.append(near_raw("1 stream p50", ours.p50_us, raw.p50_us, LONE_LATENCY_SLACK_US))
    if OURS in first and RAW in first:
        ours_first, raw_first = first[OURS], first[RAW]
        checks += [
            near_raw("first event p50", ours_first.p50_us, raw_first.p50_us, LONE_FIRST_SLACK_US),
            near_raw(
                "its yield to client p50",
                ours_first.delivery_p50_us,
                raw_first.delivery_p50_us,
                FIRST_DELIVERY_SLACK_US,
            ),
        ]
    if checks:
        verdicts.append(
            Verdict(
                "a lone event is not delayed by coalescing",
                all(met for met, _ in checks),
                "; ".join(detail for _, detail in checks),
            )
        )
    hog = latency.get("hog", {})
    if OURS in hog:
        late = hog[OURS].late_p99_us
        verdicts.append(
            Verdict(
                "a never-waiting producer does not starve a paced stream",
                late <= HOG_LATE_P99_MAX_US,
                f"p99 late {late:,.0f} us, allowed {HOG_LATE_P99_MAX_US:,.0f}",
            )
        )
    return verdicts


def report(results: Results, plan: Plan, *, code_changed: bool = False) -> str:
    out = report_header(
        "Latency through uvicorn (--loop uvloop --http httptools), one server process per "
        "library, client in this process",
        environment(),
        [
            "every event is `data: <text>` LF LF, identical bytes from every server (checked); "
            "ratios are of medians, all libraries measured in the same runs",
            "latency = client's monotonic_ns when the read arrived - the server's monotonic_ns "
            "just before the producer yielded; late = arrival - when the event was due on its "
            "schedule (includes uvloop's 1 ms timer rounding and any starvation of the "
            "producer); cleaned up = the server's tasks were back down within "
            f"{SETTLE_SECONDS:g} s after each stream",
            "server CPU us/event = server process CPU time over the streams / events; "
            "client CPU = this process's CPU time / wall time (the client's core)",
        ],
        code_changed=code_changed,
    )
    first: dict[str, FirstSample] = {}
    if FIRST in plan.measures:
        lines, first = first_report(results, plan)
        out += [*lines, ""]
    latency: dict[str, dict[str, LatencySample]] = {}
    for number, scenario in enumerate(plan.scenarios, start=2):
        lines, latency[scenario.key] = scenario_report(scenario, str(number), results, plan)
        out += [*lines, ""]
    verdicts = verdicts_for(first, latency)
    out.append(f"SPEC targets: {sum(v.met for v in verdicts)}/{len(verdicts)} met")
    out += [f"  {verdict.text()}" for verdict in verdicts]
    return "\n".join(out)


def to_json(results: Results, plan: Plan) -> dict[str, Any]:
    return {
        "environment": environment(),
        "runs": plan.runs,
        "quick": plan.quick,
        "first_event": [
            {
                "library": library,
                "samples": [
                    {
                        "p50_us": s.p50_us,
                        "p99_us": s.p99_us,
                        "requests": s.requests,
                        "to_yield_p50_us": s.to_yield_p50_us,
                        "delivery_p50_us": s.delivery_p50_us,
                    }
                    for s in samples
                ],
            }
            for library, samples in results.first.items()
        ],
        "latency": [
            {
                "scenario": key,
                "streams": next(s.streams for s in SCENARIOS if s.key == key),
                "library": library,
                "samples": [
                    {
                        "p50_us": s.p50_us,
                        "p90_us": s.p90_us,
                        "p99_us": s.p99_us,
                        "max_us": s.max_us,
                        "events": s.events,
                        "late_p99_us": s.late_p99_us,
                    }
                    for s in samples
                ],
            }
            for (key, library), samples in results.latency.items()
        ],
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Time to first event and latency at 100 events/s per stream (1 stream, 100 streams, "
            "next to a never-waiting producer) of our EventSourceResponse against sse-starlette "
            "3.7, fastapi.sse and raw ASGI, through real uvicorn servers; reports the SPEC "
            "fairness targets as met or missed."
        )
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"1 run, {QUICK_SECONDS} s per scenario, {QUICK_REQUESTS} first-event requests",
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
        measures=args.measures,
    )
    return measure_and_report(plan, run_all, report, to_json, args.json)


if __name__ == "__main__":
    sys.exit(main())
