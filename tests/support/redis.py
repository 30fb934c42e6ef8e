"""A real ``redis-server`` for the tests: on a free loopback port, persistence off, stopped by pid.

`start_redis_server()` starts Debian's ``redis-server`` (``/usr/bin/redis-server``, or the one
on ``PATH``) in its own process group, with ``--save ""`` and ``--appendonly no`` (nothing is
written to disk, so a restart loses every stream: what the tests of a lost history want), and
waits, bounded, until it answers ``PING``. `RedisServer.stop()` kills it by pid and reaps it;
`RedisServer.restart()` starts a new one on the same port (an empty one).

A missing ``redis-server`` raises `RedisUnavailable`; `unavailable()` turns that into a skip
with the reason, or, in CI, a failure (CI must run every check). Standard library only.
"""

from __future__ import annotations

__all__ = ["RedisServer", "RedisUnavailable", "start_redis_server", "unavailable"]

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Final, NoReturn

from support.ci import missing_tool
from support.ports import HOST, free_port

if TYPE_CHECKING:
    from pathlib import Path

START_TIMEOUT: Final = 15.0
STOP_TIMEOUT: Final = 5.0


class RedisUnavailable(RuntimeError):
    """This machine has no redis-server; the message says what was looked for."""


def unavailable(reason: str) -> NoReturn:
    """Skip the test for `reason`; in CI, fail it instead (`support.ci`)."""
    missing_tool("Redis", reason)


def find_redis_server() -> str:
    for candidate in ("/usr/bin/redis-server", shutil.which("redis-server")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RedisUnavailable(
        "no redis-server (/usr/bin/redis-server or on PATH); install Debian's redis-server"
    )


def answers_ping(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer:
    """A redis-server process the tests own."""

    executable: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> None:
        """Start it on its port and wait until it answers PING (bounded)."""
        command = [
            self.executable,
            "--port", str(self.port),
            "--bind", HOST,
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", str(self.log_path.parent),
        ]  # fmt: skip
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not answers_ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(
                    f"redis-server did not answer PING on port {self.port} within "
                    f"{START_TIMEOUT} s; its log:\n{self.log_path.read_text(errors='replace')}"
                )
            time.sleep(0.02)

    def stop(self) -> None:
        """Kill it by pid (its process group) and reap it."""
        process, self.process = self.process, None
        if process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        """A new, empty server on the same port (no persistence: every stream is gone)."""
        self.stop()
        self.start()


def start_redis_server(work_dir: Path) -> RedisServer:
    """A running redis-server on a free port of 127.0.0.1, logging into `work_dir`.

    Raises `RedisUnavailable` when there is no redis-server to run.
    """
    port = free_port()
    server = RedisServer(find_redis_server(), port, work_dir / f"redis-{port}.log")
    server.start()
    return server
