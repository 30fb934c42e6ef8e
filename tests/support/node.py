"""Run `eventsource-parser@3` on Node as an independent event-stream client for the tests.

`start_eventsource_parser_worker()` finds ``node`` (and ``npm`` when it has to install), installs
``eventsource-parser@3`` into a cache directory once (``$SSE_TEST_CACHE``, else
``<repo>/.cache/node``; guarded by a file lock so parallel runs do not collide) and starts one
long-lived Node process running ``eventsource_parser_worker.mjs``. `EventSourceParserWorker.parse`
sends it the chunks of one stream and returns the events a browser would dispatch for them.

Every wait is bounded: a hung install, lock, worker or answer raises instead of hanging the test.
`NodeUnavailable` means the machine cannot run the check (no node/npm, install failed); use
`unavailable()` to turn it into a skip, or into a failure in CI. `WorkerError` means the worker
misbehaved, which is always a failure.

`run_undici_harness()` installs ``undici@7`` the same way (in a prefix of its own) and runs the
interop suite's browser harness on Node with undici's `EventSource` (tests/interop).
"""

from __future__ import annotations

__all__ = [
    "HARNESS_TIMEOUT",
    "UNDICI_SPEC",
    "EventSourceParserWorker",
    "NodeParse",
    "NodeUnavailable",
    "WorkerError",
    "cache_dir",
    "ensure_eventsource_parser",
    "ensure_npm_package",
    "ensure_undici",
    "run_undici_harness",
    "start_eventsource_parser_worker",
    "unavailable",
]

import base64
import contextlib
import fcntl
import json
import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, NoReturn

from sse_core import ParsedEvent
from support.ci import missing_tool

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
WORKER_SCRIPT: Final = Path(__file__).resolve().with_name("eventsource_parser_worker.mjs")

PACKAGE_NAME: Final = "eventsource-parser"
PACKAGE_MAJOR: Final = 3

INSTALL_TIMEOUT: Final = 240.0
LOCK_TIMEOUT: Final = 300.0
START_TIMEOUT: Final = 30.0
REQUEST_TIMEOUT: Final = 30.0
STOP_TIMEOUT: Final = 5.0


class NodeUnavailable(RuntimeError):
    """This machine cannot run the Node cross-check; the message says why."""


class WorkerError(RuntimeError):
    """The Node worker failed, hung or answered nonsense (a test failure, never a skip)."""


def unavailable(reason: str) -> NoReturn:
    """Skip the test for `reason`; in CI, fail it instead (`support.ci`)."""
    missing_tool("the Node cross-check", reason)


def cache_dir() -> Path:
    """Where npm packages for the tests go: ``$SSE_TEST_CACHE``, else ``<repo>/.cache/node``."""
    configured = os.environ.get("SSE_TEST_CACHE")
    return Path(configured) if configured else REPO_ROOT / ".cache" / "node"


@contextlib.contextmanager
def _file_lock(path: Path, timeout: float) -> Iterator[None]:
    with path.open("a+b") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise NodeUnavailable(
                        f"could not lock {path} within {timeout:.0f} s "
                        "(another test run is installing; is it stuck?)"
                    ) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def ensure_eventsource_parser(prefix: Path | None = None) -> Path:
    """Install ``eventsource-parser@3`` under `prefix` (the cache directory) unless it is
    there; return its directory. Raises `NodeUnavailable` if npm is missing or the install fails.
    """
    return ensure_npm_package(PACKAGE_NAME, PACKAGE_MAJOR, prefix or cache_dir())


@dataclass(frozen=True, slots=True)
class NodeParse:
    """What eventsource-parser made of one stream.

    `events` are in browser terms (type "message" when unnamed; `id` the lastEventId in effect),
    directly comparable with `sse_core.EventParser`'s. `raw_events` are eventsource-parser's own
    messages (`event` and `id` None when absent; `id` only that block's id field). `retry` is
    the last retry seen, as the JS number eventsource-parser produced (exact only up to 2**53).
    `errors` are the messages of the parser's `onError` calls.
    """

    events: list[ParsedEvent]
    raw_events: list[dict[str, str | None]]
    retry: int | None
    errors: list[str]


def _expect_list(reply: dict[str, Any], key: str) -> list[Any]:
    value = reply.get(key)
    if not isinstance(value, list):
        raise WorkerError(f"the worker's answer has no list {key!r}: {reply!r}")
    return value


def _parse_reply(reply: dict[str, Any]) -> NodeParse:
    events = [
        ParsedEvent(event=item["event"], data=item["data"], id=item["id"])
        for item in _expect_list(reply, "events")
    ]
    for event in events:
        if not all(isinstance(value, str) for value in (event.event, event.data, event.id)):
            raise WorkerError(f"the worker sent a malformed event: {event!r}")
    retry_text = reply.get("retry")
    if retry_text is not None and not (isinstance(retry_text, str) and retry_text.isdigit()):
        raise WorkerError(f"the worker sent a retry that is not an integer: {retry_text!r}")
    return NodeParse(
        events=events,
        raw_events=list(_expect_list(reply, "raw")),
        retry=None if retry_text is None else int(retry_text),
        errors=[str(error) for error in _expect_list(reply, "errors")],
    )


class EventSourceParserWorker:
    """One long-lived Node process that parses streams with eventsource-parser.

    Not thread-safe; one request at a time. Call `stop()` when done (it is idempotent).
    """

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        stderr: IO[bytes],
        *,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        if process.stdin is None or process.stdout is None:
            raise ValueError("the worker process needs pipes for stdin and stdout")
        self._process = process
        self._stdin = process.stdin
        self._stdout = process.stdout
        self._stderr = stderr
        self._buffer = b""
        self._broken: str | None = None
        os.set_blocking(self._stdin.fileno(), False)
        os.set_blocking(self._stdout.fileno(), False)
        hello = self._exchange(b"", start_timeout, "start")
        if hello.get("ready") is not True:
            raise self._fail(f"the worker did not say it was ready: {hello!r}")
        self.version = str(hello.get("version"))

    @classmethod
    def start(cls, package_dir: Path, *, node: str | None = None) -> EventSourceParserWorker:
        """Start the worker on the eventsource-parser installed in `package_dir`."""
        node = node or shutil.which("node")
        if node is None:
            raise NodeUnavailable("node is not on PATH")
        stderr = tempfile.TemporaryFile()  # noqa: SIM115 - owned by the worker, closed by stop()
        try:
            process = subprocess.Popen(
                [node, str(WORKER_SCRIPT), str(package_dir)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                start_new_session=True,
            )
        except OSError as exc:
            stderr.close()
            raise NodeUnavailable(f"cannot run node ({node}): {exc}") from exc
        try:
            return cls(process, stderr)
        except BaseException:
            _stop_process(process)
            _close_pipes(process)
            stderr.close()
            raise

    @property
    def pid(self) -> int:
        """The worker's process id (also its process group id)."""
        return self._process.pid

    def parse(self, chunks: Sequence[bytes], *, timeout: float = REQUEST_TIMEOUT) -> NodeParse:
        """Feed `chunks` (one whole stream, in order) to a fresh parser; return what it saw."""
        request = {"chunks": [base64.b64encode(chunk).decode("ascii") for chunk in chunks]}
        reply = self._exchange(json.dumps(request).encode("ascii") + b"\n", timeout, "parse")
        if "error" in reply:
            raise WorkerError(f"the worker could not parse the stream:\n{reply['error']}")
        return _parse_reply(reply)

    def stop(self) -> None:
        """Stop the worker: terminate it, wait (bounded), then kill its process group."""
        _stop_process(self._process)
        _close_pipes(self._process)
        self._stderr.close()
        self._broken = self._broken or "the worker was stopped"

    def __enter__(self) -> EventSourceParserWorker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _stderr_tail(self) -> str:
        with contextlib.suppress(OSError, ValueError):
            self._stderr.seek(0)
            return _tail(self._stderr.read().decode("utf-8", "replace"))
        return ""

    def _fail(self, reason: str) -> WorkerError:
        # A worker that failed once is not trusted again: stop it, and say why later requests fail.
        stderr = self._stderr_tail()
        _stop_process(self._process)
        self._broken = reason
        detail = f"\nworker stderr:\n{stderr}" if stderr else ""
        return WorkerError(f"eventsource-parser worker (pid {self.pid}): {reason}{detail}")

    def _exchange(self, request: bytes, timeout: float, what: str) -> dict[str, Any]:
        if self._broken is not None:
            raise WorkerError(f"the eventsource-parser worker is not usable: {self._broken}")
        self._pump(memoryview(request), timeout, what)
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            reply = json.loads(line)
        except ValueError:
            raise self._fail(
                f"the worker answered {what!r} with something not JSON: {line!r}"
            ) from None
        if not isinstance(reply, dict):
            raise self._fail(f"the worker answered {what!r} with {reply!r}")
        return reply

    def _pump(self, pending: memoryview, timeout: float, what: str) -> None:
        """Writes `pending` to the worker while reading what it writes, until a whole line of
        it is in, within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        stdin_fd, stdout_fd = self._stdin.fileno(), self._stdout.fileno()
        with selectors.DefaultSelector() as selector:
            if pending:
                selector.register(stdin_fd, selectors.EVENT_WRITE)
            selector.register(stdout_fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._fail(f"no answer to {what!r} within {timeout:.0f} s")
                for key, _ in selector.select(remaining):
                    if key.fd != stdin_fd:
                        self._read_some(stdout_fd, what)
                        continue
                    pending = self._write_some(stdin_fd, pending)
                    if not pending:
                        selector.unregister(stdin_fd)

    def _write_some(self, fd: int, pending: memoryview) -> memoryview:
        """What is left of `pending` after one write."""
        try:
            written = os.write(fd, pending)
        except BlockingIOError:
            return pending
        except OSError as exc:
            raise self._fail(f"cannot write to the worker: {exc}") from exc
        return pending[written:]

    def _read_some(self, fd: int, what: str) -> None:
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return
        if not data:
            status = self._process.poll()
            raise self._fail(f"the worker exited (status {status}) during {what!r}")
        self._buffer += data


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        # Still alive, so its process group (it leads a session of its own) is certainly ours.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)


def _close_pipes(process: subprocess.Popen[bytes]) -> None:
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


def start_eventsource_parser_worker() -> EventSourceParserWorker:
    """Install eventsource-parser@3 if needed and start a worker on it.

    Raises `NodeUnavailable` (node or npm missing, install failed) or `WorkerError`.
    """
    if shutil.which("node") is None:
        raise NodeUnavailable("node is not on PATH")
    return EventSourceParserWorker.start(ensure_eventsource_parser())


# Other npm packages, each in a prefix of its own, and undici's EventSource run on a harness.
#
# Each package gets its own prefix (``<cache>/<name>@<major>``) rather than sharing the one above:
# `npm install --no-save` into a prefix without a package.json removes every package it did not
# just install ("added 1 package, and removed 1 package"), so undici and eventsource-parser in one
# prefix would uninstall each other on every other run.

UNDICI_NAME: Final = "undici"
UNDICI_MAJOR: Final = 7
UNDICI_SPEC: Final = f"{UNDICI_NAME}@{UNDICI_MAJOR}"
UNDICI_HARNESS_RUNNER: Final = Path(__file__).resolve().with_name("undici_harness_runner.mjs")
HARNESS_TIMEOUT: Final = 120.0


def _named_package_dir(prefix: Path, name: str) -> Path:
    return prefix / "node_modules" / name


def _installed_major(prefix: Path, name: str, major: int) -> str | None:
    """The version of `name` installed under `prefix` if its major is `major`, else None."""
    try:
        manifest = json.loads(
            (_named_package_dir(prefix, name) / "package.json").read_text("utf-8")
        )
    except (OSError, ValueError):
        return None
    version = manifest.get("version") if isinstance(manifest, dict) else None
    if isinstance(version, str) and version.split(".")[0] == str(major):
        return version
    return None


def ensure_npm_package(name: str, major: int, prefix: Path | None = None) -> Path:
    """Install ``<name>@<major>`` under `prefix` unless it is there; return its directory.

    `prefix` defaults to ``<cache_dir()>/<name>@<major>``, a prefix of its own (see above). The
    install runs under a file lock in that prefix, bounded in time like the eventsource-parser
    install. Raises `NodeUnavailable` if npm is missing or the install fails.
    """
    spec = f"{name}@{major}"
    prefix = cache_dir() / spec if prefix is None else prefix
    if _installed_major(prefix, name, major) is not None:
        return _named_package_dir(prefix, name)
    try:
        prefix.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NodeUnavailable(f"cannot create the cache directory {prefix}: {exc}") from exc
    with _file_lock(prefix / ".install.lock", LOCK_TIMEOUT):
        # Another run may have installed it while this one waited for the lock.
        if _installed_major(prefix, name, major) is not None:
            return _named_package_dir(prefix, name)
        npm = shutil.which("npm")
        if npm is None:
            raise NodeUnavailable(f"npm is not on PATH (needed to install {spec})")
        command = [
            npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(prefix), spec,
        ]  # fmt: skip
        try:
            result = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise NodeUnavailable(
                f"`{' '.join(command)}` did not finish within {INSTALL_TIMEOUT:.0f} s"
            ) from None
        except OSError as exc:
            raise NodeUnavailable(f"cannot run npm: {exc}") from exc
        if result.returncode != 0:
            raise NodeUnavailable(
                f"`{' '.join(command)}` failed with exit status {result.returncode}:\n"
                + _tail(result.stderr or result.stdout)
            )
        if _installed_major(prefix, name, major) is None:
            raise NodeUnavailable(
                f"npm reported success but {_named_package_dir(prefix, name)} holds no {spec}"
            )
    return _named_package_dir(prefix, name)


def ensure_undici() -> Path:
    """Install ``undici@7`` (whose `EventSource` runs on Node 20) if needed; return its directory.

    Raises `NodeUnavailable` if node or npm is missing or the install fails.
    """
    if shutil.which("node") is None:
        raise NodeUnavailable("node is not on PATH")
    return ensure_npm_package(UNDICI_NAME, UNDICI_MAJOR)


def run_undici_harness(
    harness: Path,
    base_url: str,
    *,
    client: str = "undici",
    undici_dir: Path | None = None,
    timeout: float = HARNESS_TIMEOUT,
) -> None:
    """Run the browser harness module `harness` on Node with undici's `EventSource` and `fetch`.

    The harness (an ES module exporting ``runAll``) fetches its cases from `base_url` and posts
    its results back there under the name `client`, exactly as it does in a browser; this
    returns once Node has exited. Node runs in a session of its own, and its whole process group
    is killed if it outlives `timeout` seconds.

    Raises `NodeUnavailable` (no node, undici not installable) or `WorkerError` (Node failed,
    hung, or the harness said it could not finish).
    """
    node = shutil.which("node")
    if node is None:
        raise NodeUnavailable("node is not on PATH")
    package_dir = ensure_undici() if undici_dir is None else undici_dir
    command = [node, str(UNDICI_HARNESS_RUNNER), str(package_dir), str(harness), base_url, client]
    with tempfile.TemporaryFile() as output:
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise NodeUnavailable(f"cannot run node ({node}): {exc}") from exc
        try:
            returncode = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            returncode = None
        finally:
            # The harness leaves nothing running on success; on a timeout or an error, whatever
            # is left of the group goes (Node leads its own session, so the group is ours).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=STOP_TIMEOUT)
        output.seek(0)
        text = output.read().decode("utf-8", "replace")
    if returncode is None:
        raise WorkerError(
            f"undici harness did not finish within {timeout:.0f} s; its output:\n{_tail(text)}"
        )
    if returncode != 0:
        raise WorkerError(
            f"undici harness exited with status {returncode}; its output:\n{_tail(text, 40)}"
        )
