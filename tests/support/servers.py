"""Real ASGI servers in subprocesses: the one server-process manager of the repository.

`start_server()` is the manager: it starts a server's command on a free port of 127.0.0.1 in
its own session and process group, with stdout and stderr captured to a log file, waits
(bounded) until a readiness check passes, and fails with the server's output if the server
dies or never gets ready (trying another port when the one it got was taken in between).
`stop_group()` ends the whole group (workers included), gracefully first when asked.

The tests use `run_server()`: uvicorn, hypercorn or granian serving an app from a folder (put
on ``PYTHONPATH`` and used as the working directory), ready once the app answers
``GET /health``, killed by group on the way out whatever happened. The benchmarks build their
own uvicorn command on `start_server()` (``benchmarks/harness/server.py``), and this module's
`raise_fd_limit()` serves the tests, the stress scripts and the benchmarks' servers alike.

`support.http_client` is the raw-socket client that talks to them.
"""

from __future__ import annotations

__all__ = [
    "HOST",
    "STARTUP_TIMEOUT",
    "Launch",
    "ServerError",
    "ServerKind",
    "ServerProcess",
    "accepts_connections",
    "answers_health",
    "free_port",
    "raise_fd_limit",
    "run_server",
    "server_command",
    "start_server",
    "stop_group",
    "wait_until",
]

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from sse_starlette_binding.testing._http import Exchange
from support import procfs
from support.ports import HOST, free_port, raise_fd_limit
from support.recording import RECORD_ENV

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

ServerKind = Literal["uvicorn", "hypercorn", "granian"]

STARTUP_TIMEOUT: Final = 15.0
TESTS_DIR: Final = Path(__file__).resolve().parents[1]
PORT_ATTEMPTS: Final = 3


class ServerError(RuntimeError):
    """A server process exited before it was ready, or did not get ready in time; the message
    holds its command and its output."""


def server_command(
    kind: ServerKind, app: str, port: int, extra_args: Sequence[str] = ()
) -> list[str]:
    """The command line that serves `app` ("module:attribute") with `kind` on `port`."""
    python = sys.executable
    if kind == "uvicorn":
        base = [python, "-m", "uvicorn", app, "--host", HOST, "--port", str(port)]
    elif kind == "hypercorn":
        base = [python, "-m", "hypercorn", app, "--bind", f"{HOST}:{port}"]
    else:
        base = [python, "-m", "granian", "--interface", "asgi", "--host", HOST]
        base += ["--port", str(port), app]
    return [*base, *extra_args]


@dataclass
class ServerProcess:
    """A running server: its process (the group leader), its port, its log and record files."""

    kind: ServerKind
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    record_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        """Everything the server wrote to stdout and stderr so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        """The last `lines` lines of the log, for a failure message."""
        return "\n".join(self.log().splitlines()[-lines:])

    def records(self) -> list[str]:
        """The lines the app recorded so far (see ``server_app.py``)."""
        try:
            text = self.record_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return text.splitlines()

    def count(self, line: str) -> int:
        """How many times the app recorded exactly `line`."""
        return self.records().count(line)

    def send_signal(self, signum: int) -> None:
        """Signal the server's main process only (as ``kill <pid>`` does), not its workers."""
        os.kill(self.pid, signum)

    def exited(self) -> bool:
        return self.process.poll() is not None

    def rss_bytes(self, pid: int | None = None) -> int:
        """Resident memory of the server process (or of `pid`), from /proc."""
        return procfs.rss_bytes(pid or self.pid)

    def kill_group(self) -> None:
        """SIGKILL the whole process group (server and workers) and reap the leader."""
        stop_group(self.process)


def stop_group(process: subprocess.Popen[bytes], *, grace: float = 0.0) -> None:
    """End `process`'s whole process group and reap it: SIGTERM first and up to `grace`
    seconds to exit when `grace` is given, then SIGKILL for anything left (a server that
    ignores SIGTERM, a stray worker)."""
    if grace > 0:
        _signal_group(process, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    _signal_group(process, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def _signal_group(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def accepts_connections(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:`port`."""
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            return True
    except OSError:
        return False


def answers_health(port: int) -> bool:
    """Whether the app on 127.0.0.1:`port` answers ``GET /health`` with 200."""
    exchange = Exchange("GET", "/health", [(b"Host", HOST.encode()), (b"Connection", b"close")])
    try:
        with socket.create_connection((HOST, port), timeout=1.0) as sock:
            sock.sendall(exchange.request_head)
            while exchange.status is None:
                exchange.receive(sock.recv(4096))
    except (OSError, ValueError):  # refused, reset, cut (IncompleteResponse) or not HTTP
        return False
    return exchange.status == 200


@dataclass(frozen=True)
class Launch:
    """How to start a server on a given port: its command, environment and log file."""

    command: Sequence[str]
    env: Mapping[str, str]
    log_path: Path


def start_server(
    launch_for: Callable[[int], Launch],
    *,
    cwd: Path,
    ready: Callable[[int], bool],
    startup_timeout: float = STARTUP_TIMEOUT,
    name: str = "server",
) -> tuple[int, subprocess.Popen[bytes]]:
    """Start the server ``launch_for(port)`` describes on a free port and wait until
    ``ready(port)``; the port and the process, the leader of its own process group.

    Raises `ServerError` (with the command and the server's output) when the server exits or
    is not ready within `startup_timeout` seconds; the group is gone by then. A port taken by
    another process between `free_port` and the server's bind is tried again with another,
    `PORT_ATTEMPTS` times in all.
    """
    for _attempt in range(PORT_ATTEMPTS):
        port = free_port()
        launch = launch_for(port)
        with launch.log_path.open("wb") as log_file:
            process = subprocess.Popen(
                list(launch.command),
                cwd=cwd,
                env=dict(launch.env),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own session and process group
            )
        try:
            problem = _wait_ready(process, port, ready, startup_timeout)
        except BaseException:
            stop_group(process)
            raise
        if problem is None:
            return port, process
        stop_group(process)
        output = launch.log_path.read_text(encoding="utf-8", errors="replace")
        if "address already in use" not in output.lower():
            raise ServerError(
                f"{name} {problem}; command: {list(launch.command)}\nits output:\n{output}"
            )
    raise ServerError(f"{name}: no free port after {PORT_ATTEMPTS} attempts")


def _wait_ready(
    process: subprocess.Popen[bytes], port: int, ready: Callable[[int], bool], timeout: float
) -> str | None:
    """None once ``ready(port)``; else what went wrong."""
    deadline = time.monotonic() + timeout
    while not ready(port):
        if process.poll() is not None:
            return f"exited with code {process.returncode} before it was ready"
        if time.monotonic() > deadline:
            return f"was not ready within {timeout} s"
        time.sleep(0.05)
    return None


@contextlib.contextmanager
def run_server(
    kind: ServerKind,
    app_dir: Path,
    work_dir: Path,
    *,
    app: str = "server_app:app",
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    startup_timeout: float = STARTUP_TIMEOUT,
) -> Iterator[ServerProcess]:
    """Serve `app` from `app_dir` with `kind`; logs and records go to files in `work_dir`.

    Yields once the app answers ``GET /health`` with 200; raises `ServerError` (with the
    server's output) if the server exits first or does not answer within `startup_timeout`
    seconds.
    """
    child_env = dict(os.environ)
    child_env.update(env or {})
    # The app's folder, then tests/ (as pytest's `pythonpath`), so apps import `support`.
    paths = [str(app_dir), str(TESTS_DIR), *filter(None, [child_env.get("PYTHONPATH")])]
    child_env["PYTHONPATH"] = os.pathsep.join(paths)
    child_env["PYTHONUNBUFFERED"] = "1"

    def launch(port: int) -> Launch:
        record = {RECORD_ENV: str(work_dir / f"{kind}-{port}.record")}
        command = server_command(kind, app, port, extra_args)
        return Launch(command, child_env | record, work_dir / f"{kind}-{port}.log")

    port, process = start_server(
        launch, cwd=app_dir, ready=answers_health, startup_timeout=startup_timeout, name=kind
    )
    log_path = work_dir / f"{kind}-{port}.log"
    server = ServerProcess(kind, port, process, log_path, work_dir / f"{kind}-{port}.record")
    try:
        yield server
    finally:
        server.kill_group()


async def wait_until(
    condition: Callable[[], bool], timeout: float, *, poll: float = 0.01
) -> float | None:
    """Seconds until `condition()` held, polled every `poll` seconds, or None if it did not
    within `timeout`."""
    start = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            return None
        await asyncio.sleep(poll)
