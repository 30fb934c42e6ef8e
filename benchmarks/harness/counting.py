"""Timed streams counted by bytes: the client of the throughput measures, and its samples.

The client counts bytes and ``data: `` prefixes in whole reads (a C-speed ``bytes.count``) and
never parses events one by one, so that the server, not the client, is the bottleneck.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from harness.client import StreamReader, connect, get_text
from harness.report import median_of
from harness.server import MeasurementError

if TYPE_CHECKING:
    from collections.abc import Sequence

STREAM_TIMEOUT: Final = 300.0  # seconds: a stream that takes longer is a failure


class StreamCounter(StreamReader):
    """Reads one chunked event stream: counts bytes and ``data: `` prefixes, finds the end.

    Work per read, never per event: a ``bytes.count`` over the read (plus the last few bytes of
    the previous one, so that a prefix split across reads is counted once).
    """

    PREFIX: Final = b"data: "
    END: Final = b"\r\n0\r\n\r\n"  # the last chunk's CRLF, then the zero-size chunk
    TAIL: Final = 8

    def __init__(self) -> None:
        super().__init__()
        self.events = 0
        self.bytes = 0
        self.tail = b""

    def head_received(self) -> None:
        # The terminator check below needs the CRLF that precedes it: the head's.
        self.tail = b"\r\n"

    def body_received(self, data: bytes, now: int) -> None:
        self.bytes += len(data)
        joined = self.tail + data
        self.events += joined.count(self.PREFIX) - self.tail.count(self.PREFIX)
        if joined.endswith(self.END):
            self.finish(None)
        self.tail = joined[-self.TAIL :]


@dataclass(frozen=True, slots=True)
class StreamSample:
    """One timed stream."""

    seconds: float
    events: int
    wire_bytes: int
    payload_bytes: int
    """The events' own bytes, chunked framing excluded (what every library must write)."""
    server_cpu: float
    client_cpu: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds

    @property
    def framing_per_event(self) -> float:
        """Chunked-encoding bytes per event: about 5 when every event is its own message."""
        return (self.wire_bytes - self.payload_bytes) / self.events

    @property
    def server_us_per_event(self) -> float:
        return self.server_cpu / self.events * 1e6

    @property
    def client_busy(self) -> float:
        return self.client_cpu / self.seconds


async def time_request(
    port: int, request: bytes, events: int, payload: int, label: str, *, streams: int = 1
) -> StreamSample:
    """Send `request` (a whole HTTP/1.1 request) on `streams` connections at once and time
    their event streams, each of `events` events and `payload` bytes without the chunked
    framing; the sample counts all the streams' events together.

    Wall time runs from writing the requests to reading the last chunked terminator; the
    server's CPU comes from its ``/debug/cpu`` before and after. Each stream's count of
    ``data: `` prefixes must come out exactly `events` (`label` names the stream in the error
    if it does not).
    """
    cpu_before = float(await get_text(port, "/debug/cpu"))
    counters = [StreamCounter() for _ in range(streams)]
    transports: list[asyncio.Transport] = []
    try:
        for counter in counters:
            transports.append(await connect(port, counter))
        client_before = time.process_time()
        start = time.perf_counter()
        for transport in transports:
            transport.write(request)
        await asyncio.wait_for(
            asyncio.gather(*(counter.done for counter in counters)), STREAM_TIMEOUT
        )
        seconds = time.perf_counter() - start
        client_cpu = time.process_time() - client_before
    finally:
        for transport in transports:
            transport.close()
    cpu_after = float(await get_text(port, "/debug/cpu"))
    for counter in counters:
        if counter.events != events:
            raise MeasurementError(f"{label}: expected {events} events, counted {counter.events}")
    return StreamSample(
        seconds,
        events * streams,
        sum(counter.bytes for counter in counters),
        payload * streams,
        cpu_after - cpu_before,
        client_cpu,
    )


SAMPLE_COLUMNS: Final = (
    "library",
    "events/s",
    "server CPU us/event",
    "wall s",
    "client CPU",
    "framing bytes/event",
)


SAMPLE_COLUMNS_NOTE: Final = (
    "server CPU us/event = server process CPU time over the stream / events; "
    "client CPU = this process's CPU time / wall time (the client's core); "
    "framing bytes/event = chunked-encoding bytes on the wire / events: 5 or 6 "
    "when each event is its own body message, near 0 when writes are coalesced"
)
"""What `SAMPLE_COLUMNS` mean: a note for the `report_header` of a report that has them."""


def sample_row(label: str, samples: Sequence[StreamSample]) -> tuple[str, ...]:
    """One library's row of a stream table: the medians of its samples (`SAMPLE_COLUMNS`)."""
    return (
        label,
        f"{median_of([s.events_per_second for s in samples]):,.0f}",
        f"{median_of([s.server_us_per_event for s in samples]):.2f}",
        f"{median_of([s.seconds for s in samples]):.3f}",
        f"{median_of([s.client_busy for s in samples]):.0%}",
        f"{median_of([s.framing_per_event for s in samples]):.2f}",
    )


def sample_json(sample: StreamSample) -> dict[str, float]:
    """One stream sample as the ``--json`` file records it."""
    return {
        "events": sample.events,
        "wire_bytes": sample.wire_bytes,
        "seconds": sample.seconds,
        "events_per_second": sample.events_per_second,
        "server_us_per_event": sample.server_us_per_event,
        "client_busy": sample.client_busy,
    }
