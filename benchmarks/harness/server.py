"""One uvicorn process serving one library's app, as every server benchmark runs it."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Final

from support import procfs
from support.ports import HOST
from support.servers import Launch, ServerError, accepts_connections, start_server, stop_group

from harness.libraries import FACTORIES

if TYPE_CHECKING:
    import subprocess

BENCHMARKS: Final = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT: Final = 30.0
STOP_GRACE: Final = 3.0  # seconds between SIGTERM and SIGKILL


class MeasurementError(Exception):
    """The benchmark could not measure fairly (wrong bytes, short stream, dead server)."""


class Server:
    """One uvicorn process serving one library's app, in its own process group.

    Use it as a context manager: leaving the block always ends the whole group (SIGTERM, then
    SIGKILL after `STOP_GRACE` seconds). A server that does not start is a `MeasurementError`
    with its output.
    """

    def __init__(self, library: str, app: str | None = None) -> None:
        self.library = library
        # The ``module:factory`` uvicorn loads from benchmarks/; by default the library's
        # factory in `_stream_apps` (other scripts, fastapi_streaming.py, name their own).
        self.app = app or f"_stream_apps:{FACTORIES[library]}"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._logs: tempfile.TemporaryDirectory[str] | None = None

    def command(self) -> list[str]:
        """The uvicorn command line for `port` (a subclass may change it)."""
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            self.app,
            "--app-dir",
            str(BENCHMARKS),
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--lifespan",
            "off",
            "--log-level",
            "warning",
        ]

    def __enter__(self) -> Server:
        self._logs = tempfile.TemporaryDirectory(prefix="benchmark-server-")
        logs = Path(self._logs.name)

        def launch(port: int) -> Launch:
            self.port = port
            return Launch(self.command(), os.environ, logs / f"{port}.log")

        try:
            self.port, self.process = start_server(
                launch,
                cwd=BENCHMARKS,
                ready=accepts_connections,
                startup_timeout=STARTUP_TIMEOUT,
                name=f"{self.library} server",
            )
        except ServerError as exc:
            self.stop()
            raise MeasurementError(str(exc)) from None
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self) -> str:
        """End the server's process group (politely first) and return its output."""
        process, self.process = self.process, None
        if process is not None:
            stop_group(process, grace=STOP_GRACE)
        output = ""
        if self._logs is not None:
            log = Path(self._logs.name) / f"{self.port}.log"
            if log.exists():
                output = log.read_text(encoding="utf-8", errors="replace")
            self._logs.cleanup()
            self._logs = None
        return output

    def rss_bytes(self) -> int:
        """The server's resident set size, from /proc/PID/status."""
        try:
            return procfs.rss_bytes(self.pid)
        except LookupError as exc:
            raise MeasurementError(str(exc)) from None
