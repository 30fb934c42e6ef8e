"""Driving the end-to-end broadcast test app (tests/broadcast_e2e/broadcast_app.py) over HTTP."""

from __future__ import annotations

__all__ = ["post_publish"]

import asyncio
import json

from support.http_client import open_request


async def post_publish(
    port: int, channel: str, count: int, *, start: int = 0, final: bool = False, pad: int = 0
) -> dict[str, str]:
    """Have the app publish `count` events (data `start` on) at full speed; their ids."""
    path = f"/publish?channel={channel}&count={count}&start={start}&final={int(final)}&pad={pad}"
    response = await open_request(
        port, path, method="POST", headers=[("Content-Length", "0")], timeout=60
    )
    try:
        assert response.status == 200, response.status
        body = await asyncio.wait_for(response.read_to_end(), 60)
    finally:
        await response.aclose()
    answer: dict[str, str] = json.loads(body)
    return answer
