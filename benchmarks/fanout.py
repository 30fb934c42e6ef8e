"""Fan-out: one channel to many SSE subscribers in one uvicorn, ours against the peer recipe.

    uv run python benchmarks/fanout.py                    # 1,000 subscribers, 200 events each
    uv run python benchmarks/fanout.py --quick            # 100 subscribers, 100 events
    uv run python benchmarks/fanout.py --subscribers 20 --events 50 --json out.json
    uv run python benchmarks/fanout.py --backends redis --slow 0     # Redis throughput only

For each library and backend (`_fanout_apps`: sse-broadcast with its Starlette binding, and
sse-starlette fed by encode/broadcaster; memory, and Redis when ``redis-server`` is installed,
started here on a free loopback port with persistence off), it starts uvicorn (uvloop,
httptools), opens the subscribers (plain HTTP/1.0 connections, so the body comes without
chunked framing), checks that every one of them gets a warm-up event, and then has the app
publish the events at full speed. It measures:

- delivered events/s: subscribers x events / (the last subscriber's last event - the publish
  request sent);
- p50 and p99 publish-to-client latency over every delivery: each event carries the server's
  ``time.time()`` when it was published, the client notes its own when the read holding it
  arrived (one clock: the same machine);
- server CPU per delivered event (user + system time of the uvicorn process, from /proc);
- memory per subscriber: the server's resident memory with the subscribers connected, minus
  before, divided by their number.

With Redis it measures the same with two uvicorn workers (``--workers``; the subscribers spread
over both, the events published through one of them), against one. Then, on the memory backend
with each library's defaults, one healthy subscriber's latency over events published 1 ms apart
(2,000 bytes each), alone and then beside ``--slow`` subscribers that stopped reading, with the
server's memory growth meanwhile: slow subscribers must not delay the healthy one, and memory
must stay bounded.

Every subscriber must get every event once, in order (the events are numbered), or the script
exits 1 without a table: a fast wrong answer is no answer. It reports, it never asserts; the
SPEC's target is ours >= 3x the peer's delivered events/s, with each backend.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from harness.server import MeasurementError, Server
from support.procfs import cpu_seconds, process_group, rss_bytes
from support.redis import RedisUnavailable, find_redis_server, start_redis_server

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

TARGET: Final = 3.0
BACKENDS: Final = ("memory", "redis")
CONNECT_BATCH: Final = 100
MAX_SPREAD_TRIES: Final = 50
SLOW_INTERVAL: Final = 0.001  # seconds between events in the slow-subscriber run
WAIT_TIMEOUT: Final = 120.0


class FanoutServer(Server):
    """`harness.server.Server` for a fan-out app: with its lifespan (the broadcast runs in it), and
    with `workers` uvicorn worker processes (the kernel spreads the connections over them)."""

    def __init__(self, library: str, app: str, workers: int = 1) -> None:
        super().__init__(library, app)
        self.workers = workers

    def __enter__(self) -> FanoutServer:
        super().__enter__()
        return self

    def command(self) -> list[str]:
        command = super().command()
        at = command.index("--lifespan")
        del command[at : at + 2]
        if self.workers > 1:
            command += ["--workers", str(self.workers)]
        return command

    def cpu_seconds(self) -> float:
        """User and system time of every process of the server, from /proc."""
        total = 0.0
        for pid in process_group(self.pid):
            with contextlib.suppress(OSError):  # a process that ended meanwhile
                total += cpu_seconds(pid)
        return total

    def group_rss_bytes(self) -> int:
        """The resident set size of every process of the server, from /proc."""
        total = 0
        for pid in process_group(self.pid):
            with contextlib.suppress(OSError):
                total += rss_bytes(pid)
        return total


class Subscriber(asyncio.Protocol):
    """One ``GET /events`` stream: counts the events, checks their order, notes latencies."""

    def __init__(self) -> None:
        self.buffer = b""
        self.head_done = False
        self.headers: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.warmed = False  # got a warm-up event (numbered -1): attached
        self.expected = 0  # the number of the next event of the run
        self.errors: list[str] = []
        self.latencies: list[float] = []
        self.last_arrival = 0.0
        self.progress: asyncio.Event = asyncio.Event()
        self.transport: asyncio.Transport | None = None

    def itself(self) -> Subscriber:
        """The protocol factory `create_connection` wants, for this very protocol."""
        return self

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        # HTTP/1.0: the body comes as it is, without chunked framing.
        transport.write(b"GET /events HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buffer = self.buffer + data
        if not self.head_done:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buffer
                return
            self.head_done = True
            if not self.headers.done():
                self.headers.set_result(buffer[:end])
            buffer = buffer[end + 4 :]
        *blocks, self.buffer = buffer.split(b"\r\n\r\n")
        for block in blocks:
            at = block.find(b"data: ")
            if at < 0:
                continue  # a comment or a retry line
            line = block[at + 6 :].split(b"\r\n", 1)[0]
            number_text, stamp = line.split(b" ")[:2]  # then the padding, if any
            number = int(number_text)
            if number < 0:
                self.warmed = True
                continue
            if number != self.expected:
                self.errors.append(f"event {number} where {self.expected} was due")
            self.expected = number + 1
            self.latencies.append(now - float(stamp))
        self.last_arrival = now
        self.progress.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.progress.set()


class SlowSubscriber(Subscriber):
    """A subscriber that stops reading once it is attached (it got a warm-up event), with a
    small receive buffer: the server's writes to it soon block."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.warmed and self.transport is not None:
            self.transport.pause_reading()


@dataclass
class Sample:
    library: str
    backend: str
    workers: int
    subscribers: int
    events: int
    delivered_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_delivery: float
    kib_per_subscriber: float


async def post(port: int, path: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n".encode())
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), WAIT_TIMEOUT)
    await reader.read()
    writer.close()
    if b" 200 " not in status:
        raise MeasurementError(f"POST {path}: {status!r}")


async def wait_for_all(subscribers: list[Subscriber], expected: int) -> None:
    deadline = time.monotonic() + WAIT_TIMEOUT
    for subscriber in subscribers:
        while subscriber.expected < expected and not subscriber.errors:
            subscriber.progress.clear()
            if subscriber.transport is None or subscriber.transport.is_closing():
                raise MeasurementError(f"a stream ended after event {subscriber.expected - 1}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise MeasurementError(
                    f"a subscriber has {subscriber.expected} of {expected} events after "
                    f"{WAIT_TIMEOUT} s"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(subscriber.progress.wait(), left)
        if subscriber.errors:
            raise MeasurementError(f"a subscriber's events were wrong: {subscriber.errors[:3]}")


async def warm_up(port: int, subscribers: list[Subscriber]) -> None:
    """Publish warm-up events (numbered -1) until every subscriber got one: attached."""
    for _ in range(int(WAIT_TIMEOUT / 0.1)):
        await post(port, "/publish?count=1&start=-1")
        await asyncio.sleep(0.1)
        if all(s.warmed for s in subscribers):
            return
    raise MeasurementError("some subscribers never got a warm-up event")


def worker_of(head: bytes) -> bytes:
    """The ``X-Worker`` header of a stream's response head (`_fanout_apps` sets it)."""
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"x-worker":
            return value.strip()
    raise MeasurementError(f"no X-Worker header in {head!r}")


async def connect(
    server: FanoutServer,
    count: int,
    subscribers: list[Subscriber],
    kind: type[Subscriber] = Subscriber,
) -> None:
    """Add `count` subscribers of `kind` to `subscribers`, each attached (warmed up)."""
    loop = asyncio.get_running_loop()
    workers: set[bytes] = set()
    added = 0
    while added < count:
        # One subscriber at a time until every worker has one, attached before others come:
        # broadcaster's subscribe awaits its backend before it registers a channel's first
        # subscriber in a process, so others subscribing there meanwhile (with Redis) would
        # overwrite each other and get nothing. Then in batches.
        spread = len(workers) >= server.workers or added >= MAX_SPREAD_TRIES
        batch = [kind() for _ in range(min(CONNECT_BATCH if spread else 1, count - added))]
        for subscriber in batch:
            await loop.create_connection(subscriber.itself, "127.0.0.1", server.port)
        heads = await asyncio.wait_for(asyncio.gather(*(s.headers for s in batch)), WAIT_TIMEOUT)
        workers.update(worker_of(head) for head in heads)
        subscribers += batch
        added += len(batch)
        await warm_up(server.port, subscribers)


def close_all(subscribers: Sequence[Subscriber]) -> None:
    for subscriber in subscribers:
        if subscriber.transport is not None:
            subscriber.transport.close()


async def measure(
    server: FanoutServer, library: str, backend: str, count: int, events: int
) -> Sample:
    rss_before = server.group_rss_bytes()
    subscribers: list[Subscriber] = []
    try:
        await connect(server, count, subscribers)
        rss_connected = server.group_rss_bytes()
        cpu_before = server.cpu_seconds()
        started = time.time()
        await post(server.port, f"/publish?count={events}")
        await wait_for_all(subscribers, events)
        cpu = server.cpu_seconds() - cpu_before
        elapsed = max(s.last_arrival for s in subscribers) - started
    finally:
        close_all(subscribers)
    latencies = [latency for s in subscribers for latency in s.latencies]
    delivered = count * events
    if len(latencies) != delivered:
        raise MeasurementError(f"{len(latencies)} deliveries for {delivered}")
    return Sample(
        library=library,
        backend=backend,
        workers=server.workers,
        subscribers=count,
        events=events,
        delivered_per_s=delivered / elapsed,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        cpu_us_per_delivery=cpu / delivered * 1e6,
        kib_per_subscriber=(rss_connected - rss_before) / count / 1024,
    )


@dataclass
class SlowSample:
    """One healthy subscriber's latency alone, then beside subscribers that stopped reading."""

    library: str
    backend: str
    slow_subscribers: int
    events: int
    pad_bytes: int
    alone_p50_ms: float
    alone_p99_ms: float
    beside_p50_ms: float
    beside_p99_ms: float
    rss_growth_mib: float


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * fraction) - 1)]


async def measure_beside_slow(
    server: FanoutServer, library: str, backend: str, *, slow: int, events: int, pad: int
) -> SlowSample:
    """The healthy subscriber's latency over `events` events published `SLOW_INTERVAL` apart,
    alone; then over as many more with `slow` subscribers that stopped reading, and the
    server's memory growth meanwhile. Each event carries `pad` bytes, so that the slow ones'
    sockets and the server's write buffers fill up long before the run ends. (Published at
    full speed, events of that size would outrun even the healthy client, and its latency
    would be its queue's.)"""
    healthy: list[Subscriber] = []
    slow_ones: list[Subscriber] = []
    try:
        await connect(server, 1, healthy)
        await post(server.port, f"/publish?count={events}&pad={pad}&interval={SLOW_INTERVAL}")
        await wait_for_all(healthy, events)
        alone = list(healthy[0].latencies)
        healthy[0].latencies.clear()
        await connect(server, slow, slow_ones, SlowSubscriber)
        rss_before = server.group_rss_bytes()
        await post(
            server.port,
            f"/publish?count={events}&start={events}&pad={pad}&interval={SLOW_INTERVAL}",
        )
        await wait_for_all(healthy, 2 * events)
        rss_growth = server.group_rss_bytes() - rss_before
        beside = list(healthy[0].latencies)
    finally:
        close_all(healthy + slow_ones)
    if len(alone) != events or len(beside) != events:
        raise MeasurementError(f"the healthy subscriber got {len(alone)} + {len(beside)} events")
    return SlowSample(
        library=library,
        backend=backend,
        slow_subscribers=slow,
        events=events,
        pad_bytes=pad,
        alone_p50_ms=statistics.median(alone) * 1000,
        alone_p99_ms=percentile(alone, 0.99) * 1000,
        beside_p50_ms=statistics.median(beside) * 1000,
        beside_p99_ms=percentile(beside, 0.99) * 1000,
        rss_growth_mib=rss_growth / 2**20,
    )


@contextlib.contextmanager
def redis_server() -> Iterator[str | None]:
    """The URL of a redis-server on a free loopback port, persistence off (the tests' own);
    None when this machine has none."""
    try:
        find_redis_server()
    except RedisUnavailable:
        yield None
        return
    with tempfile.TemporaryDirectory() as work_dir:
        server = start_redis_server(Path(work_dir))
        try:
            yield server.url
        finally:
            server.stop()


@dataclass(frozen=True)
class Plan:
    subscribers: int
    events: int
    backends: Sequence[str]
    workers: int  # also measure Redis with this many uvicorn workers (1: only one)
    slow: int  # slow subscribers beside the healthy one (0: no such measurement)
    slow_events: int
    pad: int


@dataclass
class Results:
    throughput: list[Sample]
    beside_slow: list[SlowSample]


def serve(
    library: str, redis_url: str | None, *, workers: int = 1, defaults: bool = False
) -> FanoutServer:
    """The library's fan-out app on the memory backend (or on Redis at `redis_url`)."""
    # The apps read their settings from the environment (uvicorn builds them in its workers).
    for name, value in (("FANOUT_REDIS_URL", redis_url), ("FANOUT_DEFAULTS", defaults)):
        if value:
            os.environ[name] = str(value)
        else:
            os.environ.pop(name, None)
    return FanoutServer(library, f"_fanout_apps:{library}", workers)


def run(plan: Plan) -> Results:
    results = Results([], [])
    with redis_server() as redis_url:
        urls = {"memory": None, "redis": redis_url}
        for backend in plan.backends:
            if backend == "redis" and redis_url is None:
                print("  no redis-server: Redis not measured", flush=True)
                continue
            # Several workers only make sense on a broker: memory channels stay in one process.
            for workers in sorted({1, plan.workers if backend == "redis" else 1}):
                for library in ("ours", "peer"):
                    print(
                        f"  {library} ({backend}, {workers} worker{'s' * (workers > 1)}): "
                        f"{plan.subscribers} subscribers x {plan.events} events",
                        flush=True,
                    )
                    with serve(library, urls[backend], workers=workers) as server:
                        sample = asyncio.run(
                            measure(server, library, backend, plan.subscribers, plan.events)
                        )
                    results.throughput.append(sample)
        if plan.slow:
            # How slow subscribers are treated does not depend on the backend: memory only.
            for library in ("ours", "peer"):
                print(
                    f"  {library} (memory): 1 subscriber, then beside {plan.slow} that stop "
                    f"reading, {plan.slow_events} events of {plan.pad} bytes",
                    flush=True,
                )
                with serve(library, None, defaults=True) as server:
                    slow_sample = asyncio.run(
                        measure_beside_slow(
                            server,
                            library,
                            "memory",
                            slow=plan.slow,
                            events=plan.slow_events,
                            pad=plan.pad,
                        )
                    )
                results.beside_slow.append(slow_sample)
    return results


def throughput_report(samples: Sequence[Sample]) -> list[str]:
    lines = [
        "| library | backend | workers | delivered events/s | p50 ms | p99 ms | CPU us/delivery "
        "| KiB/subscriber |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in samples:
        lines.append(
            f"| {s.library} | {s.backend} | {s.workers} | {s.delivered_per_s:,.0f} | "
            f"{s.p50_ms:.1f} | {s.p99_ms:.1f} | {s.cpu_us_per_delivery:.2f} | "
            f"{s.kib_per_subscriber:.1f} |"
        )
    lines.append("")
    for backend, workers in dict.fromkeys((s.backend, s.workers) for s in samples):
        ours, peer = (
            next(
                s
                for s in samples
                if (s.backend, s.workers, s.library) == (backend, workers, library)
            )
            for library in ("ours", "peer")
        )
        ratio = ours.delivered_per_s / peer.delivered_per_s
        label = f"{backend}, {workers} worker{'s' * (workers > 1)}"
        if workers == 1:
            verdict = "met" if ratio >= TARGET else f"MISSED (target {TARGET:.0f}x)"
            lines.append(f"{label}: ours/peer delivered events/s = {ratio:.2f}x: {verdict}")
        else:
            one = next(
                s for s in samples if (s.backend, s.workers, s.library) == (backend, 1, "ours")
            )
            lines.append(
                f"{label}: ours/peer delivered events/s = {ratio:.2f}x; ours with {workers} "
                f"workers / 1 = {ours.delivered_per_s / one.delivered_per_s:.2f}x"
            )
    return lines


def slow_report(samples: Sequence[SlowSample]) -> list[str]:
    if not samples:
        return []
    lines = [
        "",
        f"One healthy subscriber, alone and then beside {samples[0].slow_subscribers} that stop "
        f"reading ({samples[0].events} events of {samples[0].pad_bytes} bytes each time):",
        "",
        "| library | alone p50 / p99 ms | beside p50 / p99 ms | server memory growth MiB |",
        "| --- | ---: | ---: | ---: |",
    ]
    for s in samples:
        lines.append(
            f"| {s.library} | {s.alone_p50_ms:.1f} / {s.alone_p99_ms:.1f} | "
            f"{s.beside_p50_ms:.1f} / {s.beside_p99_ms:.1f} | {s.rss_growth_mib:.1f} |"
        )
    return lines


def report(results: Results) -> str:
    return "\n".join(throughput_report(results.throughput) + slow_report(results.beside_slow))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=None)
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="100 subscribers x 100 events")
    parser.add_argument(
        "--backends",
        type=lambda text: text.split(","),
        default=list(BACKENDS),
        help="comma-separated: memory, redis (default: both; redis needs redis-server)",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="also Redis with this many workers (1: not)"
    )
    parser.add_argument(
        "--slow", type=int, default=100, help="slow subscribers beside a healthy one (0: not)"
    )
    parser.add_argument("--slow-events", type=int, default=5000)
    parser.add_argument("--pad", type=int, default=2000, help="bytes per event, slow run")
    parser.add_argument("--json", type=Path, help="also write the samples to this file")
    args = parser.parse_args(argv)
    unknown = set(args.backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backend(s) {sorted(unknown)}: choose from {BACKENDS}")
    plan = Plan(
        subscribers=args.subscribers or (100 if args.quick else 1000),
        events=args.events or (100 if args.quick else 200),
        backends=args.backends,
        workers=args.workers,
        slow=args.slow,
        slow_events=args.slow_events,
        pad=args.pad,
    )
    try:
        results = run(plan)
    except MeasurementError as exc:
        print(f"could not measure fairly: {exc}", file=sys.stderr)
        return 1
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(asdict(results), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
