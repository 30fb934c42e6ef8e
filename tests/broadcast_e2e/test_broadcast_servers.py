"""A broadcast served by a real uvicorn: clients that drop mid-stream and reconnect with their
Last-Event-ID get every event once, while a publisher runs at full speed."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support.broadcast_http import post_publish
from support.http_client import open_request
from support.servers import run_server

from sse_starlette_binding.testing import open_event_stream

if TYPE_CHECKING:
    from support.redis import RedisServer

    from sse_core import ParsedEvent

APP_DIR = Path(__file__).resolve().parent
UVICORN_ARGS = ("--log-level", "warning", "--timeout-graceful-shutdown", "2")

pytestmark = pytest.mark.slow


async def publish_in_batches(port: int, channel: str, count: int, batches: int) -> str:
    """Publish `count` events in `batches` requests, the last event final; its id."""
    size = count // batches
    answer: dict[str, str] = {}
    for batch in range(batches):
        last = batch == batches - 1
        number = count - size * batch if last else size
        answer = await post_publish(port, channel, number, start=size * batch, final=last)
        await asyncio.sleep(0.005)  # the reader reconnects between batches, and during them
    return answer["last"]


async def follow_with_reconnects(
    ports: list[int],
    channel: str,
    *,
    count: int,
    seed: int,
    max_connections: int = 400,
    reconnect: bool = True,
    max_limit: int | None = None,
) -> tuple[list[ParsedEvent], int]:
    """Read `channel` until its final event (data ``count - 1``...), dropping the connection
    after a random number of events and reconnecting, to the next port in turn, with the
    Last-Event-ID a browser would send. Returns the events and the number of connections."""
    rng = random.Random(seed)
    received: list[ParsedEvent] = []
    last_id: str | None = None
    final = str(count - 1)
    for connection in range(max_connections):
        port = ports[connection % len(ports)]
        url = f"http://127.0.0.1:{port}/events?channel={channel}&from_start=1"
        async with open_event_stream(url, last_event_id=last_id, timeout=30) as stream:
            assert stream.status == 200
            most = max_limit or max(2, count // 8)
            limit = rng.randint(1, most) if reconnect else None
            async for event in stream.events(max_events=limit, timeout=60):
                received.append(event)
                # The id a browser would reconnect with after dispatching this event (not the
                # stream's, which may have parsed events beyond the ones taken here).
                last_id = event.id or last_id
                if (event.data or "").partition(" ")[0] == final:
                    return received, connection + 1
    raise AssertionError(f"no final event after {max_connections} connections")


def check_every_event_once(received: list[ParsedEvent], count: int) -> None:
    gaps = [event for event in received if event.event == "gap"]
    assert not gaps, f"gap events although history held everything: {gaps[:3]}"
    data = [(event.data or "").partition(" ")[0] for event in received]
    assert data == [str(n) for n in range(count)], (
        f"{len(data)} events for {count}; first differences: "
        f"{[(i, d) for i, d in enumerate(data) if d != str(i)][:5]}"
    )
    ids = [event.id for event in received]
    assert len(set(ids)) == len(ids)


def test_a_client_that_reconnects_mid_stream_gets_every_event_once(tmp_path: Path) -> None:
    count = 5000

    async def scenario(port: int) -> int:
        reader = asyncio.ensure_future(follow_with_reconnects([port], "e2e", count=count, seed=1))
        await asyncio.sleep(0)  # the reader subscribes first or later: from_start covers both
        publisher = asyncio.ensure_future(publish_in_batches(port, "e2e", count, 20))
        (received, connections), last_id = await asyncio.wait_for(
            asyncio.gather(reader, publisher), 120
        )
        check_every_event_once(received, count)
        assert received[-1].id == last_id
        return connections

    with run_server(
        "uvicorn", APP_DIR, tmp_path, app="broadcast_app:app", extra_args=UVICORN_ARGS
    ) as server:
        connections = asyncio.run(scenario(server.port))
        assert connections > 3, "the client should have reconnected several times"
        assert "Traceback" not in server.log(), server.log_tail()


async def get_stats(port: int) -> dict[str, int]:
    response = await open_request(port, "/stats", headers=[], timeout=30)
    try:
        body = await asyncio.wait_for(response.read_to_end(), 30)
    finally:
        await response.aclose()
    stats: dict[str, int] = json.loads(body)
    return stats


def test_clients_that_stop_reading_are_ended_beside_a_healthy_one(tmp_path: Path) -> None:
    count, slow_clients, pad = 20_000, 100, 200

    async def scenario(port: int) -> None:
        slow = [
            await open_request(port, "/events?channel=flood", rcvbuf=4096, limit=4096)
            for _ in range(slow_clients)
        ]
        try:
            healthy = asyncio.ensure_future(
                follow_with_reconnects([port], "flood", count=count, seed=2, reconnect=False)
            )
            # Every client is subscribed before anything is published.
            for _ in range(500):
                if (await get_stats(port))["listeners"] == slow_clients + 1:
                    break
                await asyncio.sleep(0.01)
            assert (await get_stats(port))["listeners"] == slow_clients + 1
            # About 4 MB per client: far more than the slow clients' sockets and their
            # buffers hold, so each fills up and its policy ("end") detaches it.
            await post_publish(port, "flood", count - 1, pad=pad)
            stats = await get_stats(port)
            # Only the healthy subscriber is still fed; each slow one holds at most its
            # buffer (1,000 events) and the server's bounded write buffer.
            assert stats["listeners"] == 1, stats
            await post_publish(port, "flood", 1, start=count - 1, final=True, pad=pad)
            received, connections = await asyncio.wait_for(healthy, 120)
            assert connections == 1
            check_every_event_once(received, count)
        finally:
            for response in slow:
                await response.aclose()

    with run_server(
        "uvicorn", APP_DIR, tmp_path, app="broadcast_app:app", extra_args=UVICORN_ARGS
    ) as server:
        asyncio.run(scenario(server.port))
        assert "Traceback" not in server.log(), server.log_tail()


@pytest.mark.redis
def test_two_workers_on_one_redis_a_client_switching_workers_gets_every_event_once(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    count = 10_000
    env = {
        "SSE_TEST_REDIS_URL": redis_server.url,
        "SSE_TEST_REDIS_PREFIX": f"e2e-{uuid.uuid4().hex[:8]}:",
    }

    async def scenario(worker_a: int, worker_b: int) -> int:
        # The client starts on worker B and reconnects to the other worker each time; events
        # are published through worker A at full speed meanwhile.
        reader = asyncio.ensure_future(
            follow_with_reconnects(
                [worker_b, worker_a], "two-workers", count=count, seed=3, max_limit=300
            )
        )
        await asyncio.sleep(0.05)
        publisher = asyncio.ensure_future(post_publish(worker_a, "two-workers", count, final=True))
        (received, connections), ids = await asyncio.wait_for(
            asyncio.gather(reader, publisher), 180
        )
        check_every_event_once(received, count)
        assert received[-1].id == ids["last"]
        return connections

    with (
        run_server(
            "uvicorn", APP_DIR, tmp_path, app="broadcast_app:app", extra_args=UVICORN_ARGS, env=env
        ) as worker_a,
        run_server(
            "uvicorn", APP_DIR, tmp_path, app="broadcast_app:app", extra_args=UVICORN_ARGS, env=env
        ) as worker_b,
    ):
        connections = asyncio.run(scenario(worker_a.port, worker_b.port))
        # Dozens of reconnects, so many of them while events were being published.
        assert connections > 20, connections
        for worker in (worker_a, worker_b):
            assert "Traceback" not in worker.log(), worker.log_tail()
