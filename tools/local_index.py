"""A throwaway package index: pypiserver on loopback, with a password for uploads and no fallback.

`LocalIndex` runs pypiserver from a virtual environment of its own (the index is a tool of the
release check, never a dependency of the packages) over a fresh packages folder. Uploads need
the generated user and password, as on a real index; downloads need none, as on PyPI. A name the
folder does not hold is a 404, never a redirect to PyPI (pypiserver's default), so whatever pip
installs from it was put there by the check.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path
    from types import TracebackType
    from typing import Self

# 2.x is the pypiserver whose `run` command and flags are used here; passlib reads the password
# file. A newer major may change both: bump deliberately.
PYPISERVER = "pypiserver[passlib]>=2.1,<3"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
USER = "release-check"


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class LocalIndex:
    """pypiserver on 127.0.0.1, serving `packages`; stopped by pid when the block is left.

    ``url`` is the upload address (twine's ``--repository-url``), ``simple_url`` the one pip
    takes as ``--index-url``.
    """

    def __init__(self, python: Path, packages: Path, workdir: Path) -> None:
        self.python = python
        self.packages = packages
        self.workdir = workdir
        self.password = secrets.token_urlsafe(24)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.simple_url = f"{self.url}simple/"
        self.log = workdir / "pypiserver.log"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        passwords = self.workdir / "htpasswd"
        # passlib writes the Apache htpasswd file pypiserver reads; pypiserver's own venv has it.
        subprocess.run(
            [
                str(self.python),
                "-c",
                "import sys; from passlib.apache import HtpasswdFile; "
                "f = HtpasswdFile(sys.argv[1], new=True); "
                "f.set_password(sys.argv[2], sys.argv[3]); f.save()",
                str(passwords),
                USER,
                self.password,
            ],
            check=True,
        )
        command = [
            str(self.python),
            "-m",
            "pypiserver",
            "run",
            "--interface",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--authenticate",
            "update",
            "--passwords",
            str(passwords),
            "--disable-fallback",
            str(self.packages),
        ]
        with self.log.open("wb") as log:
            # A session of its own, so stopping it reaches whatever it started.
            self._process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            self._wait_until_serving()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"pypiserver exited with {self._process.returncode} before serving:\n"
                    + self.log.read_text(errors="replace")
                )
            try:
                with urllib.request.urlopen(self.simple_url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"pypiserver did not serve {self.simple_url} within {START_TIMEOUT} s")

    def stop(self) -> None:
        """Terminate the server's process group, then kill it if it is still there (bounded)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            try:
                process.wait(timeout=STOP_TIMEOUT)
                return
            except subprocess.TimeoutExpired:
                continue

    def files(self, project: str) -> list[str]:
        """The file names the index lists for `project` (its simple page's links)."""
        with urllib.request.urlopen(f"{self.simple_url}{project}/", timeout=10) as response:
            page = response.read().decode("utf-8")
        names = []
        for anchor in page.split("<a ")[1:]:
            text = anchor.partition(">")[2].partition("</a>")[0]
            names.append(text.strip())
        return sorted(names)
