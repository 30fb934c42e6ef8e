"""Real ASGI servers in subprocesses.

`run_server()` starts uvicorn, hypercorn or granian on a free port of 127.0.0.1 serving an app
from a folder (put on ``PYTHONPATH`` and used as the working directory), in its own session and
process group, with stdout and stderr captured to a log file. It waits, bounded, until the app
answers ``GET /health``, and fails with the server's output if the server dies or never answers.
On the way out, whatever happened, it kills the whole process group (workers included).

`support.http_client` is the raw-socket client that talks to them.
"""

from __future__ import annotations

__all__ = [
    "HOST",
    "STARTUP_TIMEOUT",
    "ServerKind",
    "ServerProcess",
    "free_port",
    "raise_fd_limit",
    "run_server",
    "server_command",
    "wait_until",
]

import asyncio
import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

import pytest

from sse_starlette_binding.testing._http import Exchange
from support.ports import HOST, free_port
from support.recording import RECORD_ENV

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

ServerKind = Literal["uvicorn", "hypercorn", "granian"]

STARTUP_TIMEOUT: Final = 15.0
TESTS_DIR: Final = Path(__file__).resolve().parents[1]


def raise_fd_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit; returns the new soft
    limit. A server started afterwards inherits it, so call this before starting one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # An unlimited hard limit still stops at the kernel's nr_open (a million, usually).
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft != target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


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
        status = Path(f"/proc/{pid or self.pid}/status").read_text(encoding="ascii")
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no VmRSS in /proc/{pid or self.pid}/status")

    def kill_group(self) -> None:
        """SIGKILL the whole process group (server and workers) and reap the leader."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


def _answers_health(port: int) -> bool:
    exchange = Exchange("GET", "/health", [(b"Host", HOST.encode()), (b"Connection", b"close")])
    try:
        with socket.create_connection((HOST, port), timeout=1.0) as sock:
            sock.sendall(exchange.request_head)
            while exchange.status is None:
                exchange.receive(sock.recv(4096))
    except (OSError, ValueError):  # refused, reset, cut (IncompleteResponse) or not HTTP
        return False
    return exchange.status == 200


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

    Yields once the app answers ``GET /health`` with 200; fails the test (with the server's
    output) if the server exits first or does not answer within `startup_timeout` seconds.
    """
    port = free_port()
    log_path = work_dir / f"{kind}-{port}.log"
    record_path = work_dir / f"{kind}-{port}.record"
    child_env = dict(os.environ)
    child_env.update(env or {})
    # The app's folder, then tests/ (as pytest's `pythonpath`), so apps import `support`.
    paths = [str(app_dir), str(TESTS_DIR), *filter(None, [child_env.get("PYTHONPATH")])]
    child_env["PYTHONPATH"] = os.pathsep.join(paths)
    child_env["PYTHONUNBUFFERED"] = "1"
    child_env[RECORD_ENV] = str(record_path)
    command = server_command(kind, app, port, extra_args)
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=app_dir,
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = ServerProcess(kind, port, process, log_path, record_path)
    try:
        deadline = time.monotonic() + startup_timeout
        while not _answers_health(port):
            if server.exited():
                pytest.fail(
                    f"{kind} exited with code {process.returncode} before serving; "
                    f"command: {command}\nits output:\n{server.log()}"
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{kind} did not answer GET /health within {startup_timeout} s; "
                    f"command: {command}\nits output:\n{server.log()}"
                )
            time.sleep(0.05)
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
