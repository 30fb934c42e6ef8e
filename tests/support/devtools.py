"""Driving headless Chromium through the DevTools protocol, over a pipe.

Started with ``--remote-debugging-pipe``, Chromium reads protocol commands from its file
descriptor 3 and writes replies and events to its descriptor 4: JSON messages, each ended by a
NUL byte. No port, no WebSocket and no third-party client: `support.browser.devtools_chromium`
starts the browser with those pipes and hands over a `DevTools`. Synchronous, and every wait is
bounded by a deadline.

`DevTools.open_page(url)` opens a tab and returns a `Page`, which evaluates JavaScript in the
tab (`evaluate`, and `wait_for` a condition) and saves a screenshot of it (`screenshot`).
"""

from __future__ import annotations

__all__ = ["CALL_TIMEOUT", "DevTools", "DevToolsError", "Page"]

import base64
import json
import os
import select
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

CALL_TIMEOUT: Final = 30.0
POLL_INTERVAL: Final = 0.1
READ_SIZE: Final = 1 << 20


class DevToolsError(RuntimeError):
    """The browser answered a command with an error, or did not answer in time, or a page's
    JavaScript threw."""


class DevTools:
    """One browser's protocol connection: `commands` and `replies` are the parent's ends of the
    two pipes (this object owns them and closes them in `close`)."""

    def __init__(self, commands: int, replies: int) -> None:
        self._commands = commands
        self._replies = replies
        self._buffer = b""
        self._last_id = 0

    def call(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        session: str | None = None,
        timeout: float = CALL_TIMEOUT,
    ) -> dict[str, Any]:
        """Send one command (to the browser, or to a tab's `session`) and return its result.

        Events that arrive meanwhile are dropped: nothing here subscribes to any.
        """
        self._last_id += 1
        message: dict[str, Any] = {"id": self._last_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._commands, data) :]
        deadline = time.monotonic() + timeout
        while True:
            reply = self._next_message(deadline, method)
            if reply.get("id") != self._last_id:
                continue
            if "error" in reply:
                raise DevToolsError(f"{method}: {reply['error']}")
            result: dict[str, Any] = reply.get("result", {})
            return result

    def open_page(self, url: str, *, width: int = 1200, height: int = 900) -> Page:
        """A new tab of `width` x `height` CSS pixels, navigated to `url` (not waited for)."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})
        page = Page(self, attached["sessionId"])
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        self.call("Emulation.setDeviceMetricsOverride", metrics, session=page.session)
        self.call("Page.navigate", {"url": url}, session=page.session)
        return page

    def close(self) -> None:
        """Close both pipes (idempotent); the browser sees end of input and exits."""
        for fd in (self._commands, self._replies):
            if fd >= 0:
                os.close(fd)
        self._commands = self._replies = -1

    def _next_message(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DevToolsError(f"{waiting_for}: no reply from the browser in time")
            readable, _, _ = select.select([self._replies], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(self._replies, READ_SIZE)
            if not chunk:
                raise DevToolsError(f"{waiting_for}: the browser closed its pipe (it exited)")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message


@dataclass
class Page:
    """One tab, reached through its protocol session."""

    devtools: DevTools
    session: str

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the tab (a promise is awaited), as JSON
        brings it back; raises `DevToolsError` if it throws."""
        params = {"expression": expression, "returnByValue": True, "awaitPromise": True}
        reply = self.devtools.call("Runtime.evaluate", params, session=self.session)
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            thrown = details.get("exception", {}).get("description") or details.get("text")
            raise DevToolsError(f"{expression!r} threw: {thrown}")
        return reply["result"].get("value")

    def wait_for(self, condition: str, *, timeout: float = CALL_TIMEOUT, show: str = "") -> Any:
        """Evaluate `condition` until it is truthy and return its value; after `timeout`
        seconds raise `DevToolsError`, with the value of `show` (an expression) if given."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(condition)
            if value:
                return value
            if time.monotonic() >= deadline:
                seen = f"; {show} = {self.evaluate(show)!r}" if show else ""
                raise DevToolsError(f"still false after {timeout} s: {condition}{seen}")
            time.sleep(POLL_INTERVAL)

    def screenshot(self, path: Path) -> None:
        """Save what the tab shows as a PNG file."""
        reply = self.devtools.call(
            "Page.captureScreenshot", {"format": "png"}, session=self.session
        )
        path.write_bytes(base64.b64decode(reply["data"]))
