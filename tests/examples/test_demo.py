"""The README's first command serves the demo page, and every panel works in a real browser.

The test runs that command exactly as README.md spells it (read from the file, so the two stay
alike), adding only ``--port 0``, in a shell environment without this test's virtualenv, as a
user would. It waits for the URL the demo prints, opens it in two tabs of headless Chromium
(driven through the DevTools protocol), and checks each panel: the clock ticks; an answer
dropped mid-way resumes by ``Last-Event-ID`` with no token lost or repeated; a notification
published in one tab reaches both; the clock's ``EventSource``, its connection dropped,
reconnects by itself and gets the ticks it missed replayed. It saves a screenshot, then sends
Ctrl-C (SIGINT to the process group, as a terminal does): the open streams receive their
goodbye and the process exits 0.

Refresh docs/demo.png from this test's screenshot with:

    SSE_DEMO_SCREENSHOT=docs/demo.png uv run pytest tests/examples/test_demo.py
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest
from support.browser import BrowserUnavailable, browser_unavailable, devtools_chromium
from support.examples import loaded_example

if TYPE_CHECKING:
    from collections.abc import Iterator

    from support.devtools import Page

ROOT: Final = Path(__file__).resolve().parents[2]
SCREENSHOT_ENV: Final = "SSE_DEMO_SCREENSHOT"
# pip's check and uv's environment sync run before the demo starts.
START_TIMEOUT: Final = 180.0
EXIT_TIMEOUT: Final = 10.0
PANEL_TIMEOUT: Final = 60.0
URL_PATTERN: Final = re.compile(rb"http://127\.0\.0\.1:\d+/")
STATE: Final = "JSON.stringify(demo)"
SCREEN_HEIGHT: Final = 720

pytestmark = pytest.mark.slow


def readme_demo_command() -> str:
    """The first command of README.md's quick start, without its trailing comment."""
    quick_start = (ROOT / "README.md").read_text(encoding="utf-8").split("## Quick start", 1)[1]
    block = quick_start.split("```sh\n", 1)[1].split("```", 1)[0]
    command = re.sub(r"\s+#.*$", "", block.splitlines()[0])
    assert command.endswith("examples/demo.py"), command
    return command


def user_environment() -> dict[str, str]:
    """This environment as a fresh shell has it: without the virtualenv pytest runs in, so
    ``python3`` is the machine's, as it is for someone who just cloned the repository."""
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    venv_bin = str(Path(sys.prefix) / "bin")
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != venv_bin)
    return env


@contextlib.contextmanager
def demo_process(command: str, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`command` in a shell, in a session of its own (its process group is what Ctrl-C
    reaches); the group is killed on the way out if it is still there."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["bash", "-c", command],
            cwd=ROOT,
            env=user_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=EXIT_TIMEOUT)
        assert process.stdout is not None
        process.stdout.close()


def read_until(process: subprocess.Popen[bytes], pattern: re.Pattern[bytes], log: Path) -> bytes:
    """The process's output up to the first match of `pattern`, within START_TIMEOUT."""
    assert process.stdout is not None
    output = b""
    deadline = time.monotonic() + START_TIMEOUT
    while (match := pattern.search(output)) is None:
        remaining = deadline - time.monotonic()
        log_text = log.read_text(errors="replace")
        assert remaining > 0, f"no URL within {START_TIMEOUT} s: {output!r}\n{log_text}"
        readable, _, _ = select.select([process.stdout], [], [], min(remaining, 1.0))
        if readable:
            chunk = os.read(process.stdout.fileno(), 4096)
            assert chunk, f"the demo exited ({process.wait()}): {output!r}\n{log_text}"
            output += chunk
    return match.group()


def click(page: Page, element_id: str) -> None:
    page.evaluate(f"document.getElementById({element_id!r}).click()")


def event_number(event_id: str) -> int:
    # Memory-backend ids are "<epoch>-<n>": n counts the channel's events.
    return int(event_id.rsplit("-", 1)[1])


def check_answer_resumes(page: Page, answer: str) -> None:
    click(page, "ask")
    page.wait_for("demo.answer.numbers.length >= 4", timeout=PANEL_TIMEOUT, show=STATE)
    click(page, "answer-drop")
    state: dict[str, Any] = page.wait_for(
        "demo.answer.done && demo.answer", timeout=PANEL_TIMEOUT, show=STATE
    )
    tokens = answer.split(" ")
    # Every token once, in order, across the drop: nothing lost, nothing repeated.
    assert state["numbers"] == list(range(1, len(tokens) + 1))
    assert state["text"] == answer
    [resume] = state["resumes"]
    assert resume["sent"] == resume["received"], "the server got another Last-Event-ID"
    replayed = resume["replayed"]
    assert replayed, "nothing was replayed: the drop came too late to show a resume"
    assert replayed[0] == event_number(resume["sent"]) + 1
    assert replayed == list(range(replayed[0], replayed[-1] + 1))


def publish_note(page: Page, text: str) -> None:
    page.evaluate(f"document.getElementById('note-text').value = {text!r}")
    page.evaluate("document.querySelector('#note-form button').click()")


def check_notifications_fan_out(first: Page, second: Page) -> None:
    for page in (first, second):
        page.wait_for("demo.notes.connected", timeout=PANEL_TIMEOUT, show=STATE)
    notes = [
        {"from": first.evaluate("demo.tab"), "text": "hello from the first tab"},
        {"from": second.evaluate("demo.tab"), "text": "and back from the second"},
    ]
    for page, note in zip((first, second), notes, strict=True):
        publish_note(page, note["text"])
        count = notes.index(note) + 1
        for each in (first, second):
            each.wait_for(f"demo.notes.received.length >= {count}", timeout=PANEL_TIMEOUT)
    for page in (first, second):
        assert page.evaluate("demo.notes.received") == notes


def check_clock_reconnects(page: Page) -> None:
    page.wait_for("demo.clock.numbers.length >= 2", timeout=PANEL_TIMEOUT, show=STATE)
    click(page, "clock-drop")
    clock: dict[str, Any] = page.wait_for(
        "demo.clock.reconnects.length === 1 && demo.clock.reconnects[0].replayed.length"
        " && demo.clock.numbers.at(-1) > demo.clock.reconnects[0].head && demo.clock",
        timeout=PANEL_TIMEOUT,
        show=STATE,
    )
    assert clock["connections"] == 2
    # Every tick once, in order, across the reconnect.
    numbers = clock["numbers"]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    # The browser sent the id of the last tick it had; the server replayed from the next one.
    [reconnect] = clock["reconnects"]
    assert reconnect["sent"] == reconnect["received"] == str(reconnect["replayed"][0] - 1)


def save_screenshot(page: Page, path: Path) -> None:
    page.screenshot(path)
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    target = os.environ.get(SCREENSHOT_ENV)
    if target:
        shutil.copyfile(path, ROOT / target)


def test_readme_first_command_serves_the_demo_and_stops_cleanly_on_ctrl_c(
    tmp_path: Path,
) -> None:
    with loaded_example("demo") as demo:
        answer: str = demo.ANSWER
    log_path = tmp_path / "demo.log"
    with demo_process(f"{readme_demo_command()} --port 0", log_path) as process:
        url = read_until(process, URL_PATTERN, log_path).decode()
        with contextlib.ExitStack() as stack:
            try:
                browser = stack.enter_context(devtools_chromium(tmp_path))
            except BrowserUnavailable as exc:
                browser_unavailable(str(exc))
            first = browser.devtools.open_page(url, height=SCREEN_HEIGHT)
            second = browser.devtools.open_page(url, height=SCREEN_HEIGHT)
            for page in (first, second):
                page.wait_for("window.demo && demo.clock.numbers.length", timeout=PANEL_TIMEOUT)
            check_notifications_fan_out(first, second)
            check_answer_resumes(first, answer)
            check_clock_reconnects(first)
            save_screenshot(first, tmp_path / "demo.png")

            # Ctrl-C in a terminal: SIGINT to the foreground process group.
            os.killpg(process.pid, signal.SIGINT)
            started = time.monotonic()
            code = process.wait(timeout=EXIT_TIMEOUT)
            took = time.monotonic() - started
            for page in (first, second):
                byes = page.wait_for("demo.byes.length === 2 && demo.byes", show=STATE)
                assert sorted(byes) == ["clock", "notifications"]
        log = log_path.read_text(errors="replace")
        assert code == 0, log
        assert took < EXIT_TIMEOUT
        assert process.stdout is not None
        assert b"demo stopped" in process.stdout.read()
        assert "Traceback" not in log, log
