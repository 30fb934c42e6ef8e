"""Fan-out: one channel to many SSE subscribers in one uvicorn, ours against the peer recipe.

    uv run python benchmarks/fanout.py                    # 1,000 subscribers, 200 events each
    uv run python benchmarks/fanout.py --quick            # 100 subscribers, 100 events
    uv run python benchmarks/fanout.py --subscribers 20 --events 50 --json out.json

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
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from harness.server import MeasurementError, Server
from support.ports import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

TARGET: Final = 3.0
CONNECT_BATCH: Final = 100
WAIT_TIMEOUT: Final = 120.0


class FanoutServer(Server):
    """`harness.server.Server` for a fan-out app: with its lifespan (the broadcast runs in it)."""

    def command(self) -> list[str]:
        command = super().command()
        at = command.index("--lifespan")
        del command[at : at + 2]
        return command


class Subscriber(asyncio.Protocol):
    """One ``GET /events`` stream: counts the events, checks their order, notes latencies."""

    def __init__(self) -> None:
        self.buffer = b""
        self.head_done = False
        self.headers = asyncio.get_running_loop().create_future()
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
            number_text, stamp = line.split(b" ")
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


@dataclass
class Sample:
    library: str
    backend: str
    subscribers: int
    events: int
    delivered_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_delivery: float
    kib_per_subscriber: float


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


async def measure(server: Server, library: str, backend: str, count: int, events: int) -> Sample:
    loop = asyncio.get_running_loop()
    rss_before = server.rss_bytes()
    subscribers: list[Subscriber] = []
    try:
        # One subscriber first, attached before the others come: broadcaster's subscribe
        # awaits its backend before it registers the channel's first subscriber, so others
        # subscribing meanwhile (with Redis) would overwrite each other and get nothing.
        sizes = [1] + [CONNECT_BATCH] * ((count - 1 + CONNECT_BATCH - 1) // CONNECT_BATCH)
        for size in sizes:
            batch = [Subscriber() for _ in range(min(size, count - len(subscribers)))]
            for subscriber in batch:
                await loop.create_connection(subscriber.itself, "127.0.0.1", server.port)
            await asyncio.wait_for(asyncio.gather(*(s.headers for s in batch)), WAIT_TIMEOUT)
            subscribers += batch
            await warm_up(server.port, subscribers)
        rss_connected = server.rss_bytes()
        cpu_before = cpu_seconds(server.pid)
        started = time.time()
        await post(server.port, f"/publish?count={events}")
        await wait_for_all(subscribers, events)
        cpu = cpu_seconds(server.pid) - cpu_before
        elapsed = max(s.last_arrival for s in subscribers) - started
    finally:
        for subscriber in subscribers:
            if subscriber.transport is not None:
                subscriber.transport.close()
    latencies = sorted(latency for s in subscribers for latency in s.latencies)
    delivered = count * events
    if len(latencies) != delivered:
        raise MeasurementError(f"{len(latencies)} deliveries for {delivered}")
    return Sample(
        library=library,
        backend=backend,
        subscribers=count,
        events=events,
        delivered_per_s=delivered / elapsed,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=latencies[int(len(latencies) * 0.99) - 1] * 1000,
        cpu_us_per_delivery=cpu / delivered * 1e6,
        kib_per_subscriber=(rss_connected - rss_before) / count / 1024,
    )


def answers_ping(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")
    return False


@contextlib.contextmanager
def redis_server() -> Iterator[str | None]:
    """A redis-server on a free loopback port, persistence off; None when there is none."""
    executable = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.access(executable, os.X_OK):
        yield None
        return
    port = free_port()
    command = [executable, "--port", str(port), "--bind", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 15
        while not answers_ping(port):
            if time.monotonic() > deadline or process.poll() is not None:
                raise MeasurementError("redis-server did not answer PING")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run(count: int, events: int) -> list[Sample]:
    samples: list[Sample] = []
    with redis_server() as redis_url:
        backends = [("memory", None)] + ([("redis", redis_url)] if redis_url else [])
        for backend, url in backends:
            for library in ("ours", "peer"):
                if url:
                    os.environ["FANOUT_REDIS_URL"] = url
                else:
                    os.environ.pop("FANOUT_REDIS_URL", None)
                print(f"  {library} ({backend}): {count} subscribers x {events} events", flush=True)
                with FanoutServer(library, f"_fanout_apps:{library}") as server:
                    sample = asyncio.run(measure(server, library, backend, count, events))
                samples.append(sample)
    return samples


def report(samples: Sequence[Sample]) -> str:
    lines = [
        "| library | backend | delivered events/s | p50 ms | p99 ms | CPU us/delivery "
        "| KiB/subscriber |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in samples:
        lines.append(
            f"| {s.library} | {s.backend} | {s.delivered_per_s:,.0f} | {s.p50_ms:.1f} | "
            f"{s.p99_ms:.1f} | {s.cpu_us_per_delivery:.2f} | {s.kib_per_subscriber:.1f} |"
        )
    lines.append("")
    for backend in dict.fromkeys(s.backend for s in samples):
        ours = next(s for s in samples if s.backend == backend and s.library == "ours")
        peer = next(s for s in samples if s.backend == backend and s.library == "peer")
        ratio = ours.delivered_per_s / peer.delivered_per_s
        verdict = "met" if ratio >= TARGET else f"MISSED (target {TARGET:.0f}x)"
        lines.append(f"{backend}: ours/peer delivered events/s = {ratio:.2f}x: {verdict}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=None)
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="100 subscribers x 100 events")
    parser.add_argument("--json", type=Path, help="also write the samples to this file")
    args = parser.parse_args(argv)
    count = args.subscribers or (100 if args.quick else 1000)
    events = args.events or (100 if args.quick else 200)
    try:
        samples = run(count, events)
    except MeasurementError as exc:
        print(f"could not measure fairly: {exc}", file=sys.stderr)
        return 1
    print(report(samples))
    if args.json:
        args.json.write_text(json.dumps([asdict(s) for s in samples], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
