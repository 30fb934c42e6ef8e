"""Fixtures shared across the test folders (one conftest, so module names never collide)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings
from support.node import (
    EventSourceParserWorker,
    NodeUnavailable,
    start_eventsource_parser_worker,
    unavailable,
)
from support.redis import RedisServer, RedisUnavailable, start_redis_server
from support.redis import unavailable as redis_unavailable

if TYPE_CHECKING:
    from collections.abc import Iterator

# The machines that run this suite are shared and often busy (real servers, browsers and Node
# run beside it): hypothesis must not fail a property because drawing or running one example
# was slow. What these tests assert is behaviour, never speed.
settings.register_profile(
    "shared-machines", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("shared-machines")


@pytest.fixture(scope="session")
def eventsource_parser() -> Iterator[EventSourceParserWorker]:
    """One eventsource-parser@3 worker on Node for the whole session.

    Skipped when node/npm are missing or the npm install fails; in CI that is a failure.
    """
    try:
        worker = start_eventsource_parser_worker()
    except NodeUnavailable as exc:
        unavailable(str(exc))
    try:
        yield worker
    finally:
        # Terminate, wait (bounded), kill the process group if it is still alive.
        worker.stop()


@pytest.fixture(params=["asyncio", "trio"])
def backend(request: pytest.FixtureRequest) -> str:
    """The anyio backend to run under: a test that takes it runs once per backend, driving its
    scenario with ``anyio.run(scenario, backend=backend)``."""
    return str(request.param)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the whole session, on a free loopback port, persistence off.

    Skipped when redis-server is missing; in CI that is a failure. Tests keep apart by using
    their own channel names (or prefixes), never by flushing it.
    """
    try:
        server = start_redis_server(tmp_path_factory.mktemp("redis"))
    except RedisUnavailable as exc:
        redis_unavailable(str(exc))
    try:
        yield server
    finally:
        server.stop()
