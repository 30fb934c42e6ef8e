"""Real ASGI servers in subprocesses, and a tiny HTTP/1.1 client to talk to them.

`run_server()` starts uvicorn, hypercorn or granian on a free port of 127.0.0.1 serving an app
from a folder (put on ``PYTHONPATH`` and used as the working directory), in its own session and
process group, with stdout and stderr captured to a log file. It waits, bounded, until the app
answers ``GET /health``, and fails with the server's output if the server dies or never answers.
On the way out, whatever happened, it kills the whole process group (workers included).

`open_request()` is the client: raw asyncio sockets, one request per connection, the status and
headers parsed, and the body read on demand (chunked transfer coding decoded), so a test sees
exactly when bytes arrive and whether the response was completed (the ``0\\r\\n\\r\\n`` last
chunk) or cut.
"""

from __future__ import annotations

__all__ = [
    "STARTUP_TIMEOUT",
    "HTTPResponse",
    "IncompleteBody",
    "ServerKind",
    "ServerProcess",
    "free_port",
    "open_request",
    "run_server",
    "server_command",
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

import pytest

from support.ports import HOST, free_port
from support.recording import RECORD_ENV

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

ServerKind = Literal["uvicorn", "hypercorn", "granian"]

STARTUP_TIMEOUT: Final = 15.0
TESTS_DIR: Final = Path(__file__).resolve().parents[1]


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
    try:
        with socket.create_connection((HOST, port), timeout=1.0) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            reply = b""
            while b"\r\n" not in reply:
                chunk = sock.recv(1024)
                if not chunk:
                    break
                reply += chunk
    except OSError:
        return False
    return reply.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200"))


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


class IncompleteBody(EOFError):
    """The connection ended before the response body did (no last chunk)."""


@dataclass
class HTTPResponse:
    """One HTTP/1.1 response as it arrives: status and headers, then the body on demand."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    """(name lowercased, value) in the order received."""
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    head_only: bool = False
    complete: bool = False
    """Whether the whole body arrived: the last chunk, or Content-Length bytes, or EOF."""
    _chunk_left: int = field(default=0, init=False)
    _content_left: int | None = field(default=None, init=False)
    _body: bytearray = field(default_factory=bytearray, init=False)

    def header(self, name: str) -> str | None:
        """The value of header `name` (the values joined with ", " if it is repeated)."""
        values = self.header_values(name)
        return ", ".join(values) if values else None

    def header_values(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.headers if key == name]

    @property
    def chunked(self) -> bool:
        encoding = self.header("transfer-encoding") or ""
        return "chunked" in encoding.lower()

    def __post_init__(self) -> None:
        length = self.header("content-length")
        if self.head_only or self.status in {204, 304} or 100 <= self.status < 200:
            self.complete = True
        elif not self.chunked and length is not None:
            self._content_left = int(length)
            self.complete = self._content_left == 0

    async def read_some(self) -> bytes:
        """The next piece of the body as it arrives; b"" once the body is complete.

        Raises `IncompleteBody` when the connection ends before the body does.
        """
        if self.complete:
            return b""
        reader = self.reader
        if self.chunked:
            if self._chunk_left == 0:
                try:
                    size_line = await reader.readuntil(b"\r\n")
                except asyncio.IncompleteReadError as exc:
                    raise IncompleteBody("connection closed before the last chunk") from exc
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    # Trailer fields, if any, up to the empty line.
                    while True:
                        try:
                            line = await reader.readuntil(b"\r\n")
                        except asyncio.IncompleteReadError as exc:
                            raise IncompleteBody("connection closed in the trailer") from exc
                        if line == b"\r\n":
                            break
                    self.complete = True
                    return b""
                self._chunk_left = size
            data = await reader.read(min(self._chunk_left, 1 << 16))
            if not data:
                raise IncompleteBody("connection closed inside a chunk")
            self._chunk_left -= len(data)
            if self._chunk_left == 0:
                try:
                    crlf = await reader.readexactly(2)
                except asyncio.IncompleteReadError as exc:
                    raise IncompleteBody("connection closed after a chunk") from exc
                if crlf != b"\r\n":
                    raise AssertionError(f"chunk not followed by CRLF: {crlf!r}")
            return data
        if self._content_left is not None:
            data = await reader.read(min(self._content_left, 1 << 16))
            if not data:
                raise IncompleteBody("connection closed before Content-Length bytes")
            self._content_left -= len(data)
            self.complete = self._content_left == 0
            return data
        data = await reader.read(1 << 16)
        if not data:
            self.complete = True  # delimited by the end of the connection
        return data

    async def read_block(self, separator: bytes = b"\r\n\r\n") -> bytes | None:
        """The next event-stream block (its lines and the blank line that ends it, as sent),
        or None when the body ends first. Bytes after the last block stay unread."""
        while True:
            end = self._body.find(separator)
            if end >= 0:
                end += len(separator)
                block = bytes(self._body[:end])
                del self._body[:end]
                return block
            data = await self.read_some()
            if not data:
                return None
            self._body += data

    async def read_to_end(self) -> bytes:
        """The rest of the body (whatever `read_block` left buffered included)."""
        while data := await self.read_some():
            self._body += data
        rest = bytes(self._body)
        self._body.clear()
        return rest

    def close(self) -> None:
        """Close the connection (a FIN, as a client that goes away)."""
        self.writer.close()

    async def aclose(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


async def open_request(
    port: int,
    path: str,
    *,
    method: str = "GET",
    headers: Sequence[tuple[str, str]] = (("Accept", "text/event-stream"),),
    rcvbuf: int | None = None,
    limit: int = 1 << 16,
    timeout: float = 5.0,
    body: bytes = b"",
) -> HTTPResponse:
    """Send one request to 127.0.0.1:`port` and read up to the end of the response's head.

    `rcvbuf` sets SO_RCVBUF before connecting (a small receive window for a client that stops
    reading); `limit` is the asyncio reader's buffer limit (it stops reading from the socket at
    twice that). `body` is sent as it is after the head (give its Content-Length in `headers`).
    Raises TimeoutError when the head takes over `timeout` seconds.
    """
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.wait_for(loop.sock_connect(sock, (HOST, port)), timeout)
        reader, writer = await asyncio.open_connection(sock=sock, limit=limit)
    except BaseException:
        sock.close()
        raise
    try:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}"]
        lines += [f"{name}: {value}" for name, value in headers]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
    except BaseException:
        writer.close()
        raise
    status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
    _version, status, *reason = status_line.split(" ", 2)
    parsed: list[tuple[str, str]] = []
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed.append((name.strip().lower(), value.strip()))
    return HTTPResponse(
        status=int(status),
        reason=reason[0] if reason else "",
        headers=parsed,
        reader=reader,
        writer=writer,
        head_only=method == "HEAD",
    )
