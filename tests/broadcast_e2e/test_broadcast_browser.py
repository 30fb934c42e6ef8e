"""Headless Chromium's own `EventSource` follows a channel served by two uvicorn workers on
one Redis, reconnecting by itself (to either worker) each time the server ends its response,
while 10,000 events are published at full speed: it gets every event exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support.broadcast_http import post_publish
from support.browser import BrowserUnavailable, browser_unavailable, headless_chromium
from support.servers import run_server

if TYPE_CHECKING:
    from support.redis import RedisServer

APP_DIR = Path(__file__).resolve().parent
UVICORN_ARGS = ("--log-level", "warning", "--timeout-graceful-shutdown", "2", "--workers", "2")
REPORT_TIMEOUT = 180.0

pytestmark = [pytest.mark.slow, pytest.mark.redis]


def test_chromium_reconnecting_across_two_workers_gets_every_event_once(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    count = 10_000
    env = {
        "SSE_TEST_REDIS_URL": redis_server.url,
        "SSE_TEST_REDIS_PREFIX": f"browser-{uuid.uuid4().hex[:8]}:",
    }
    with run_server(
        "uvicorn", APP_DIR, tmp_path, app="broadcast_app:app", extra_args=UVICORN_ARGS, env=env
    ) as server:
        # Each response ends after 1 to 400 events; the page's EventSource reconnects 20 ms
        # later with its Last-Event-ID, to whichever worker the kernel hands it.
        url = f"http://127.0.0.1:{server.port}/page?channel=browser&count={count}&max=400"
        with contextlib.ExitStack() as stack:
            try:
                browser = stack.enter_context(headless_chromium(url, tmp_path))
            except BrowserUnavailable as exc:
                browser_unavailable(str(exc))
            asyncio.run(post_publish(server.port, "browser", count, final=True))
            deadline = time.monotonic() + REPORT_TIMEOUT
            reports: list[str] = []
            while not reports:
                reports = [line for line in server.records() if line.startswith("report ")]
                assert not browser.exited(), browser.log_tail()
                assert time.monotonic() < deadline, (
                    f"no report from the page within {REPORT_TIMEOUT} s\n{browser.log_tail()}"
                )
                time.sleep(0.1)
        report = json.loads(reports[0].removeprefix("report "))
        data = [item[0] for item in report["received"]]
        assert "gap" not in data, "a gap event although the history held everything"
        assert data == [str(n) for n in range(count)]
        ids = [item[1] for item in report["received"]]
        assert len(set(ids)) == count
        assert report["connections"] > 10, report["connections"]
        # Its reconnects were new connections, served by both workers.
        workers = {line for line in server.records() if line.startswith("events served by")}
        assert len(workers) == 2, workers
        assert "Traceback" not in server.log(), server.log_tail()
