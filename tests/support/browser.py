"""Headless Chromium for the tests: a real browser's `EventSource`, without Playwright.

`headless_chromium(url, work_dir)` starts Debian's ``chromium-headless-shell`` on `url` in a
session (and process group) of its own, with a fresh profile in `work_dir` and its output in a
log file there, and on the way out, whatever happened, kills the whole group: Chromium's
renderer, GPU and utility processes included. (The ``/usr/bin`` wrapper would leave orphans, so
the binary under ``/usr/lib/chromium`` is started directly.) The page does the rest: it talks to
the test's server, which is how the test learns what the browser saw.

`devtools_chromium(work_dir)` starts the same browser with no page of its own, driven by the test
through the DevTools protocol (`support.devtools`): the test opens tabs, evaluates JavaScript in
them, reads their state and takes screenshots.

`find_chromium()` raises `BrowserUnavailable` when the browser is not installed;
`browser_unavailable()` turns that into a skip, or into a failure in CI (``$CI`` set), where the
browser must be installed and a silent skip would hide that the suite did not run.
"""

from __future__ import annotations

__all__ = [
    "CHROMIUM_ENV",
    "INSTALL_HINT",
    "Browser",
    "BrowserUnavailable",
    "DevToolsBrowser",
    "browser_unavailable",
    "devtools_chromium",
    "find_chromium",
    "headless_chromium",
]

import contextlib
import fcntl
import os
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, NoReturn

from support.ci import missing_tool
from support.devtools import DevTools

if TYPE_CHECKING:
    from collections.abc import Iterator

CHROMIUM_ENV: Final = "SSE_TEST_CHROMIUM"
DEFAULT_CHROMIUM: Final = Path("/usr/lib/chromium/chromium-headless-shell")
INSTALL_HINT: Final = (
    "chromium-headless-shell not installed; run: apt-get install -y chromium-headless-shell"
)
STOP_TIMEOUT: Final = 5.0

# Headless, no sandbox (tests run as root in containers, where Chromium refuses its sandbox), no
# GPU, and nothing that talks to the network on its own: without the background-networking,
# component-update and sync switches Chromium dials Google's servers at start-up, and on a
# machine without outside access it logs refused connections.
FLAGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--mute-audio",
)


class BrowserUnavailable(RuntimeError):
    """This machine cannot run the browser; the message says why and how to fix it."""


def find_chromium() -> Path:
    """The headless Chromium binary: ``$SSE_TEST_CHROMIUM`` if set, else Debian's.

    Raises `BrowserUnavailable` (with the install command) when it is not an executable file.
    """
    configured = os.environ.get(CHROMIUM_ENV)
    path = Path(configured) if configured else DEFAULT_CHROMIUM
    if not (path.is_file() and os.access(path, os.X_OK)):
        where = f" (${CHROMIUM_ENV}={configured})" if configured else f" ({path} is missing)"
        raise BrowserUnavailable(INSTALL_HINT + where)
    return path


def browser_unavailable(reason: str) -> NoReturn:
    """Skip the test for `reason`; in CI, fail it instead (`support.ci`)."""
    missing_tool("headless Chromium", reason)


@dataclass
class Browser:
    """A running headless Chromium: its main process (the group leader) and its log file."""

    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        """The main process's id, which is also the process group's."""
        return self.process.pid

    def exited(self) -> bool:
        """Whether the main process has exited (a crash, or a bad command line)."""
        return self.process.poll() is not None

    def log_tail(self, lines: int = 30) -> str:
        """The last lines Chromium wrote to stdout and stderr."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def kill_group(self) -> None:
        """SIGKILL the whole process group and reap the main process (idempotent)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=STOP_TIMEOUT)


@contextlib.contextmanager
def headless_chromium(url: str, work_dir: Path) -> Iterator[Browser]:
    """Open `url` in a fresh headless Chromium; kill its whole process group on the way out.

    Raises `BrowserUnavailable` when Chromium is not installed or cannot be started.
    """
    binary = find_chromium()
    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-", dir=work_dir))
    log_path = work_dir / "chromium.log"
    command = [str(binary), *FLAGS, f"--user-data-dir={profile}", url]
    with log_path.open("wb") as log_file:
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise BrowserUnavailable(f"cannot start {binary}: {exc}") from exc
    browser = Browser(process, log_path)
    try:
        yield browser
    finally:
        browser.kill_group()


@dataclass
class DevToolsBrowser(Browser):
    """A running headless Chromium that the test drives through `devtools`."""

    devtools: DevTools


# Chromium takes the protocol pipes as its descriptors 3 (commands) and 4 (replies and events).
# subprocess cannot place a descriptor at a given number, so bash does, and then becomes the
# browser (`exec`: same pid, same process group). The inherited descriptors are first moved to
# 10 or above, so that they never collide with 3 and 4 in the redirections.
_PIPE_LAUNCHER: Final = 'exec "$0" "$@" 3<&{commands} 4>&{replies} {commands}<&- {replies}>&-'
_HIGH_FD: Final = 10


@contextlib.contextmanager
def devtools_chromium(work_dir: Path) -> Iterator[DevToolsBrowser]:
    """A fresh headless Chromium driven through the DevTools protocol over pipes (no port);
    open tabs with ``browser.devtools.open_page(url)``. Kills its whole process group on the
    way out. Raises `BrowserUnavailable` when Chromium is not installed or cannot be started.
    """
    binary = find_chromium()
    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-", dir=work_dir))
    log_path = work_dir / "chromium.log"
    to_browser, commands = os.pipe()
    replies, from_browser = os.pipe()
    child_ends = [
        fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, _HIGH_FD) for fd in (to_browser, from_browser)
    ]
    for fd in (to_browser, from_browser):
        os.close(fd)
    launcher = _PIPE_LAUNCHER.format(commands=child_ends[0], replies=child_ends[1])
    args = [*FLAGS, "--remote-debugging-pipe", f"--user-data-dir={profile}"]
    devtools = DevTools(commands, replies)
    try:
        with log_path.open("wb") as log_file:
            try:
                process = subprocess.Popen(
                    ["bash", "-c", launcher, str(binary), *args],
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    pass_fds=child_ends,
                    start_new_session=True,
                )
            except OSError as exc:
                raise BrowserUnavailable(f"cannot start {binary}: {exc}") from exc
            finally:
                for fd in child_ends:
                    os.close(fd)
        browser = DevToolsBrowser(process, log_path, devtools)
        try:
            yield browser
        finally:
            browser.kill_group()
    finally:
        devtools.close()
