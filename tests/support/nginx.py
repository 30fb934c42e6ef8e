"""A real nginx for the tests: on a free loopback port, everything in a temporary folder, stopped
by pid.

`run_nginx()` writes an ``nginx.conf`` into a folder of the test's own: the pid file, both logs
and every temporary path live there, so nothing under ``/etc/nginx`` or ``/var`` is read or
written. The test hands it what goes inside ``http { }`` (a site, usually the one
docs/deployment.md documents, with its ``listen`` rewritten to the port given). nginx runs in
the foreground as one process (``daemon off; master_process off;``): with a master running as
root, nginx would start its workers as ``nobody``, who cannot write into the test's folder.
The process gets its own process group and is killed by pid when the test is done.

A missing nginx raises `NginxUnavailable`; `unavailable()` turns that into a skip with the
reason, or, in CI, a failure (CI must run every check). Standard library and pytest only.
"""

from __future__ import annotations

__all__ = [
    "NginxServer",
    "NginxUnavailable",
    "find_nginx",
    "nginx_config",
    "run_nginx",
    "unavailable",
]

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, NoReturn

import pytest

from support.ci import missing_tool
from support.ports import HOST

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

START_TIMEOUT: Final = 15.0
STOP_TIMEOUT: Final = 5.0


class NginxUnavailable(RuntimeError):
    """This machine has no nginx; the message says what was looked for."""


def unavailable(reason: str) -> NoReturn:
    """Skip the test for `reason`; in CI, fail it instead (`support.ci`)."""
    missing_tool("nginx", reason)


def find_nginx() -> str:
    """The nginx executable: Debian's ``/usr/sbin/nginx``, or the one on ``PATH``."""
    for candidate in ("/usr/sbin/nginx", shutil.which("nginx")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise NginxUnavailable("no nginx (/usr/sbin/nginx or on PATH); install Debian's nginx")


def nginx_config(work_dir: Path, http_block: str) -> str:
    """A whole ``nginx.conf`` whose files all live in `work_dir`, with `http_block` inside
    ``http { }`` after the paths (so it may override nothing they set, and add anything)."""
    temp_paths = "\n".join(
        f"    {kind}_temp_path {work_dir / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""\
daemon off;
master_process off;
pid {work_dir / "nginx.pid"};
error_log {work_dir / "error.log"} info;

events {{
    worker_connections 256;
}}

http {{
    access_log {work_dir / "access.log"};
{temp_paths}

{http_block}
}}
"""


@dataclass
class NginxServer:
    """An nginx process the test owns, listening on `port` of 127.0.0.1."""

    port: int
    work_dir: Path
    process: subprocess.Popen[bytes]

    def log(self) -> str:
        """nginx's error log (and what it printed) so far, for a failure message."""
        parts = []
        for name in ("error.log", "stderr.log"):
            with contextlib.suppress(FileNotFoundError):
                parts.append((self.work_dir / name).read_text(encoding="utf-8", errors="replace"))
        return "\n".join(parts)

    def stop(self) -> None:
        """Kill it by pid (its process group) and reap it."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=STOP_TIMEOUT)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def run_nginx(work_dir: Path, http_block: str, port: int) -> Iterator[NginxServer]:
    """Run nginx with `http_block` (which must listen on 127.0.0.1:`port`) from `work_dir`.

    Yields once the port accepts connections; fails the test with nginx's log if nginx exits
    first (a bad config, say) or does not listen within a bounded time. Raises
    `NginxUnavailable` when there is no nginx to run.
    """
    executable = find_nginx()
    work_dir.mkdir(parents=True, exist_ok=True)
    config_path = work_dir / "nginx.conf"
    config_path.write_text(nginx_config(work_dir, http_block), encoding="utf-8")
    command = [
        executable,
        "-p", str(work_dir),
        "-c", str(config_path),
        "-e", str(work_dir / "error.log"),
    ]  # fmt: skip
    with (work_dir / "stderr.log").open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=work_dir,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = NginxServer(port, work_dir, process)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _accepts(port):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"nginx did not listen on {HOST}:{port} within {START_TIMEOUT} s "
                    f"(exit code {process.poll()}); config:\n{config_path.read_text()}\n"
                    f"its log:\n{server.log()}"
                )
            time.sleep(0.02)
        yield server
    finally:
        server.stop()
