"""Event streams through a real nginx, configured as docs/deployment.md says, in front of uvicorn.

Unbuffered delivery is proved without timing: the app produces event k+1 only after the client,
reading through nginx, acknowledged event k (see ``proxy_app.py``). A proxy that held events
back would deadlock that into a "stalled" event, as the control shows: nginx compressing event
streams while ignoring the app's ``X-Accel-Buffering: no``. (Without gzip, nginx 1.22 passes
small events on promptly even when it buffers; what buffering then changes is how much it reads
ahead of a client that stops reading, which the flood tests measure.)

Each control runs the same client and app with one nginx setting changed, so that every check
here is shown to be able to fail.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pytest
from support.nginx import NginxUnavailable, find_nginx, run_nginx, unavailable
from support.ports import HOST, free_port
from support.servers import run_server

from deployment.clients import flood_until_stalled, post, read_lockstep, watch_idle
from deployment.documented import site
from sse_starlette_binding.testing import open_event_stream

if TYPE_CHECKING:
    from collections.abc import Iterator
    from contextlib import AbstractContextManager

    from support.nginx import NginxServer
    from support.servers import ServerProcess

APP_DIR = Path(__file__).resolve().parent
COUNT = 5
IN_LOCKSTEP = [("message", str(n)) for n in range(COUNT)] + [("done", "done")]
ACCEPT_GZIP = [("Accept-Encoding", "gzip")]
NGINX_GZIP = "gzip on;\ngzip_types text/event-stream;"
MiB = 1 << 20

pytestmark = pytest.mark.slow

_runs = itertools.count()


class Nginx(Protocol):
    """The `nginx` fixture: ``with nginx(settings) as proxy:`` runs the documented site."""

    def __call__(self, settings: str = "") -> AbstractContextManager[NginxServer]: ...


def new_run() -> str:
    return f"{uuid.uuid4().hex[:8]}-{next(_runs)}"


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One uvicorn serving ``proxy_app:app`` for the whole module."""
    with run_server(
        "uvicorn",
        APP_DIR,
        tmp_path_factory.mktemp("uvicorn"),
        app="proxy_app:app",
        extra_args=("--log-level", "warning"),
    ) as server:
        yield server


@pytest.fixture
def nginx(app_server: ServerProcess, tmp_path: Path) -> Nginx:
    """Starts nginx with the documented site in front of `app_server`, with `settings` added at
    the ``http`` level (the site inherits them): ``with nginx(settings) as proxy: ...``."""
    try:
        find_nginx()
    except NginxUnavailable as exc:
        unavailable(str(exc))
    started = itertools.count()

    def start(settings: str = "") -> AbstractContextManager[NginxServer]:
        port = free_port()
        block = f"{settings}\n\n{site(app_server.port, port)}"
        return run_nginx(tmp_path / f"nginx-{next(started)}", block, port)

    return start


def test_events_arrive_one_by_one_through_the_documented_config(nginx: Nginx) -> None:
    with nginx() as proxy:
        result = asyncio.run(read_lockstep(proxy.port, new_run()))
    assert result.events == IN_LOCKSTEP, proxy.log()
    assert result.ack_statuses == [200] * COUNT
    assert result.header("content-type") == "text/event-stream; charset=utf-8"


def test_nginx_gzip_passes_each_event_on_at_once(nginx: Nginx) -> None:
    """nginx compressing event streams too (``gzip_types text/event-stream``) still delivers
    each event at once: ``X-Accel-Buffering: no`` makes it proxy the response unbuffered, and
    it flushes its compressor after every piece read from the app."""
    with nginx(NGINX_GZIP) as proxy:
        result = asyncio.run(read_lockstep(proxy.port, new_run(), headers=ACCEPT_GZIP))
    assert result.header("content-encoding") == "gzip"
    assert result.events == IN_LOCKSTEP, proxy.log()


def test_control_ignoring_x_accel_buffering_stalls_the_lockstep(nginx: Nginx) -> None:
    """The same, with nginx told to ignore the app's ``X-Accel-Buffering: no``: the response is
    proxied buffered, the gzip filter holds event 0 back, its ack never comes, the app gives
    up. (So the lockstep can fail; it is not timing that makes it pass.)"""
    with nginx(f"{NGINX_GZIP}\nproxy_ignore_headers X-Accel-Buffering;") as proxy:
        result = asyncio.run(
            read_lockstep(proxy.port, new_run(), ack_timeout=1.5, headers=ACCEPT_GZIP)
        )
    assert result.events[0] == ("message", "0")
    assert [event for event, _ in result.events[1:]] == ["stalled"], result.events


def test_a_client_that_stops_reading_holds_the_app_back(
    nginx: Nginx, app_server: ServerProcess
) -> None:
    """Unbuffered, nginx reads from the app only as fast as the client reads: a client that
    stops reading stops the producer once the sockets' buffers are full (a few MiB), so the
    binding's ``send_timeout`` and slow-client handling see it."""
    with nginx() as proxy:
        produced = asyncio.run(flood_until_stalled(proxy.port, app_server.port, new_run()))
    assert produced < 32 * MiB, f"{produced / MiB:.1f} MiB"


def test_control_buffering_nginx_reads_ahead_into_temporary_files(
    nginx: Nginx, app_server: ServerProcess
) -> None:
    """Told to ignore ``X-Accel-Buffering: no``, nginx keeps reading from the app into a
    temporary file (up to ``proxy_max_temp_file_size``, 64 MiB here, 1 GiB by default) while
    the client reads nothing."""
    buffering = "proxy_ignore_headers X-Accel-Buffering;\nproxy_max_temp_file_size 64m;"
    with nginx(buffering) as proxy:
        produced = asyncio.run(flood_until_stalled(proxy.port, app_server.port, new_run()))
    assert produced > 64 * MiB, f"{produced / MiB:.1f} MiB"


def test_pings_keep_an_idle_stream_open_past_the_read_timeout(nginx: Nginx) -> None:
    """With ``proxy_read_timeout 2s``, pings every 0.5 s keep a stream that sends no event
    open for three times that timeout; then it still delivers, and ends properly."""
    with nginx("proxy_read_timeout 2s;") as proxy:
        watched = asyncio.run(watch_idle(proxy.port, new_run(), ping=0.5, watch=6.0))
    assert watched.first == [("open", "open")]
    assert watched.ended_after is None, f"cut after {watched.ended_after:.1f} s: {proxy.log()}"
    assert watched.while_idle == []
    assert watched.bytes_while_idle > 0
    assert watched.last == [("poked", "poked")]
    assert watched.complete


def test_control_without_pings_nginx_cuts_an_idle_stream(
    nginx: Nginx, app_server: ServerProcess
) -> None:
    run = new_run()
    with nginx("proxy_read_timeout 2s;") as proxy:
        watched = asyncio.run(watch_idle(proxy.port, run, ping=0, watch=6.0))
        log = proxy.log()
    assert watched.first == [("open", "open")]
    assert watched.ended_after is not None, "the stream outlived nginx's read timeout"
    assert watched.bytes_while_idle == 0
    assert not watched.complete
    assert "upstream timed out" in log, log

    async def poke_until_gone() -> int:
        # The app learns that nginx dropped the connection and ends the producer.
        for _ in range(50):
            if (status := await post(app_server.port, f"/poke?run={run}")) == 404:
                return status
            await asyncio.sleep(0.1)
        return status

    assert asyncio.run(poke_until_gone()) == 404


@pytest.mark.parametrize("sent", ["41", "run-7:41", "café-7"])
def test_last_event_id_reaches_the_app(nginx: Nginx, sent: str) -> None:
    async def echo(port: int) -> str:
        url = f"http://{HOST}:{port}/last-event-id"
        async with open_event_stream(url, last_event_id=sent, timeout=10) as stream:
            events = await stream.collect(timeout=10)
        return events[0].data

    with nginx() as proxy:
        assert asyncio.run(echo(proxy.port)) == sent


def test_gzip_middleware_leaves_event_streams_alone(app_server: ServerProcess) -> None:
    """Starlette's GZipMiddleware, with its defaults, passes an event stream on uncompressed
    and unbuffered (it excludes ``text/event-stream``), to a client that accepts gzip."""
    result = asyncio.run(
        read_lockstep(app_server.port, new_run(), prefix="/gzip", headers=ACCEPT_GZIP)
    )
    assert result.events == IN_LOCKSTEP
    assert result.header("content-encoding") is None


def test_gzip_middleware_compressing_an_event_stream_flushes_each_message(
    app_server: ServerProcess,
) -> None:
    """Told to compress every content type, it still delivers each event at once (it flushes
    the compressor after every body message)."""
    result = asyncio.run(
        read_lockstep(app_server.port, new_run(), prefix="/gzip-all", headers=ACCEPT_GZIP)
    )
    assert result.header("content-encoding") == "gzip"
    assert result.events == IN_LOCKSTEP
