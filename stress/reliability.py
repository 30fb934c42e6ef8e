"""Reliability at full size: churn, scale, slow consumers, shutdown, misbehaving producers and
hostile input, against real servers, with a table of figures.

The scenarios are the ones ``tests/reliability`` runs (``tests/support/reliability/``): the
tests run them at CI sizes and assert their bounds; this script runs them at full size (10,000
idle streams, 1,000-stream shutdowns on every server and signal, ...), prints every figure next
to the bound the tests hold it to, and exits 1 if any bound is missed or a scenario could not
run, 0 otherwise.

    uv run python stress/reliability.py                  # full size: about 90 s on 2 cores
    uv run python stress/reliability.py --size ci        # the tests' sizes: about 45 s
    uv run python stress/reliability.py --only scale,shutdown

Linux only (it reads /proc). 10,000 streams need 10,000 open files in this process and as many
in the server: the script raises its soft limit to the hard limit (the server inherits it) and
says so, without running that scenario, if the hard limit is too low (raise it with
``ulimit -Hn`` as root, or in /etc/security/limits.conf).

It imports the scenarios from the tests' ``support`` package, which the development
environment (``uv sync``) puts on the import path, as pytest does (``tools/dev-paths``).
"""

from __future__ import annotations

import argparse
import resource
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from support import provenance
from support.ports import raise_fd_limit
from support.provenance import source_fingerprint
from support.reliability.churn import RSS_GROWTH_AFTER_CHURN_MAX, churn
from support.reliability.common import FD_SLACK, MIB, TRACEBACK, UVICORN_ARGS, UVICORN_H11_ARGS
from support.reliability.hostile_input import (
    BODY_RSS_GROWTH_MAX,
    HOSTILE_LAST_EVENT_IDS,
    hostile_input,
)
from support.reliability.misbehaving import ABANDONED_LOG, STREAM_ERROR_LOG, misbehaving_producers
from support.reliability.parser import (
    parser_long_line_cost,
    parser_peak_bound,
    parser_under_hostile_streams,
)
from support.reliability.scale import RSS_PER_IDLE_STREAM_MAX, TASKS_PER_IDLE_STREAM_MAX, scale
from support.reliability.shutdown import SHUTDOWN_CASES, shutdown
from support.reliability.slow_consumers import (
    RSS_PER_STALLED_CLIENT_MAX,
    latency_bound,
    slow_consumers,
)

from sse_core import last_event_id_from_header

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


@dataclass(frozen=True)
class Sizes:
    churn_cycles: int
    idle_streams: int
    stalled_clients: int
    shutdown_streams: int
    misbehaving_copies: int
    body_bytes: int
    parser_bytes: int


SIZES: Final = {
    # What tests/reliability runs.
    "ci": Sizes(1000, 1000, 50, 200, 3, 512 * MIB, 100 * MIB),
    "full": Sizes(10_000, 10_000, 500, 1000, 100, 4096 * MIB, 100 * MIB),
}


class Report:
    """Rows of (figure, value, bound, verdict) per scenario, printed as they come."""

    def __init__(self) -> None:
        self.missed: list[str] = []
        self.rows: list[tuple[str, str, str, str]] = []

    def figure(self, name: str, value: str) -> None:
        self.rows.append((name, value, "", ""))

    def check(self, name: str, value: str, bound: str, ok: bool) -> None:
        self.rows.append((name, value, bound, "ok" if ok else "MISSED"))
        if not ok:
            self.missed.append(name)

    def flush(self, title: str) -> None:
        print(f"\n## {title}\n")
        for line in table(("figure", "value", "bound", ""), self.rows):
            print(line)
        self.rows = []
        sys.stdout.flush()


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned first and last columns, right-aligned others."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:-1], widths[1:-1], strict=True)]
        cells.append(row[-1].ljust(widths[-1]))
        return "  ".join(cells).rstrip()

    return [line(header), line(["-" * width for width in widths]), *(line(r) for r in rows)]


def kib(n: float) -> str:
    return f"{n / 1024:.1f} KiB"


def mib(n: float) -> str:
    return f"{n / MIB:.1f} MiB"


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def secs(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f} s"


# -- the scenarios --------------------------------------------------------------------------------


def run_churn(work: Path, sizes: Sizes, report: Report) -> None:
    cycles = sizes.churn_cycles
    result = churn(work, cycles)
    report.figure("cycles (FIN, FIN before start, sync producer, RST)", f"{cycles:,}")
    report.figure("wall time of the cycles", secs(result.seconds))
    for done, sample in result.samples:
        report.figure(
            f"  after {done:,} cycles: tasks / fds / RSS",
            f"{sample.tasks} / {sample.fds} / {mib(sample.rss)}",
        )
    report.figure("settled after the last cycle", secs(result.settle_seconds))
    wrong = len(result.cleanups.wrong) + len(result.not_started)
    report.check(
        "producers cleaned up exactly once",
        f"{result.cleanups.cleaned:,}/{cycles:,}",
        "all",
        wrong == 0 and result.cleanups.cleaned == cycles,
    )
    base, after = result.baseline, result.after
    report.check(
        "tasks: baseline -> after",
        f"{base.tasks} -> {after.tasks}",
        "equal",
        after.tasks == base.tasks,
    )
    report.check(
        "fds: baseline -> after",
        f"{base.fds} -> {after.fds}",
        f"+{FD_SLACK} at most",
        after.fds <= base.fds + FD_SLACK,
    )
    leftovers = after.leftovers(base)
    report.check("stream objects left alive", str(leftovers or "none"), "none", not leftovers)
    report.figure(
        "objects tracked by the gc: growth (threads: baseline -> after)",
        f"{result.object_growth:+,} ({base.threads} -> {after.threads})",
    )
    report.check(
        "RSS growth",
        mib(result.rss_growth),
        f"< {mib(RSS_GROWTH_AFTER_CHURN_MAX)}",
        result.rss_growth < RSS_GROWTH_AFTER_CHURN_MAX,
    )
    report.check(
        "tracebacks in the server log",
        str(result.log.count(TRACEBACK)),
        "0",
        TRACEBACK not in result.log,
    )
    report.flush(f"Churn: {cycles:,} connect/disconnect cycles, one uvicorn")


def run_scale(work: Path, sizes: Sizes, report: Report) -> None:
    streams = sizes.idle_streams
    result = scale(work, streams)
    report.figure("open-files limit (soft = hard)", f"{result.fd_limit:,}")
    report.figure("time to open them all (100 at a time)", secs(result.open_seconds))
    report.figure(
        "server RSS: baseline -> loaded", f"{mib(result.baseline.rss)} -> {mib(result.loaded.rss)}"
    )
    report.check(
        "RSS per stream",
        kib(result.rss_per_stream),
        f"< {kib(RSS_PER_IDLE_STREAM_MAX)}",
        result.rss_per_stream < RSS_PER_IDLE_STREAM_MAX,
    )
    report.check(
        "tasks per stream (the server's own included)",
        f"{result.tasks_per_stream:.2f}",
        f"<= {TASKS_PER_IDLE_STREAM_MAX:.0f}",
        result.tasks_per_stream <= TASKS_PER_IDLE_STREAM_MAX,
    )
    report.figure("fds per stream", f"{result.fds_per_stream:.2f}")
    objects = (result.loaded.objects or 0) - (result.baseline.objects or 0)
    report.figure("gc-tracked objects per stream", f"{objects / streams:.0f}")
    report.check(
        "cleanups after the clients left",
        f"{result.cleanups.cleaned:,}/{streams:,}",
        "all",
        result.cleanups.cleaned == streams and not result.cleanups.wrong,
    )
    report.figure("released after the clients left", secs(result.settle_seconds))
    report.check(
        "tasks / fds after: back to baseline",
        f"{result.after.tasks} / {result.after.fds}",
        f"{result.baseline.tasks} / {result.baseline.fds}",
        result.after.tasks == result.baseline.tasks
        and result.after.fds <= result.baseline.fds + FD_SLACK,
    )
    leftovers = result.after.leftovers(result.baseline)
    report.check("stream objects left alive", str(leftovers or "none"), "none", not leftovers)
    report.figure("server RSS after (freed memory stays with the process)", mib(result.after.rss))
    report.flush(f"Scale: {streams:,} concurrent idle streams, one uvicorn process")


def run_slow(work: Path, sizes: Sizes, report: Report) -> None:
    stalled = sizes.stalled_clients
    for send_timeout in (1.0, None):
        sub = work / f"send-timeout-{send_timeout}"
        sub.mkdir()
        result = slow_consumers(sub, stalled, send_timeout=send_timeout)
        report.figure("healthy stream alone: p50 / p90 / max", latency(result.unloaded.values))
        report.figure("next to the stalled: p50 / p90 / max", latency(result.loaded.values))
        bound = latency_bound(result.unloaded.p50)
        report.check(
            "healthy p50 next to the stalled",
            ms(result.loaded.p50),
            f"<= {ms(bound)}",
            result.loaded.p50 <= bound,
        )
        report.check(
            "healthy events missed", str(result.healthy_gaps), "0", result.healthy_gaps == 0
        )
        report.check(
            "server RSS growth (peak)",
            f"{mib(result.rss_growth)} ({kib(result.rss_growth / stalled)} each)",
            f"< {kib(RSS_PER_STALLED_CLIENT_MAX)} each",
            result.rss_growth < stalled * RSS_PER_STALLED_CLIENT_MAX,
        )
        expected_drops = stalled if send_timeout is not None else 0
        report.check(
            "dropped while still connected",
            f"{result.dropped_while_stalled}/{stalled}",
            str(expected_drops),
            result.dropped_while_stalled == expected_drops,
        )
        if send_timeout is not None:
            report.figure("all dropped after connecting", secs(result.drop_seconds))
            report.figure("SendTimeoutError logged", str(result.send_timeout_errors))
        report.figure(
            "server fds while stalled (sockets held until the clients go)",
            str(result.fds_while_stalled),
        )
        report.check(
            "cleanups once the clients left",
            f"{result.cleanups.cleaned}/{stalled}",
            "all",
            result.cleanups.cleaned == stalled and not result.cleanups.wrong,
        )
        report.check(
            "tasks / fds after",
            f"{result.after.tasks} / {result.after.fds}",
            f"{result.baseline.tasks} / {result.baseline.fds}",
            result.after.tasks == result.baseline.tasks
            and result.after.fds <= result.baseline.fds + FD_SLACK,
        )
        report.flush(
            f"Slow consumers: {stalled} clients that stop reading, "
            f"send_timeout={send_timeout}, one uvicorn"
        )


def latency(values: Sequence[float]) -> str:
    ordered = sorted(values)
    p50 = ordered[len(ordered) // 2]
    p90 = ordered[min(len(ordered) - 1, len(ordered) * 9 // 10)]
    return f"{ms(p50)} / {ms(p90)} / {ms(ordered[-1])}"


def run_shutdown(work: Path, sizes: Sizes, report: Report) -> None:
    streams = sizes.shutdown_streams
    rows = []
    for case in SHUTDOWN_CASES:
        for signum in (signal.SIGTERM, signal.SIGINT):
            sub = work / f"{case.name}-{signum.name}"
            sub.mkdir()
            result = shutdown(sub, case, signum, streams)
            expected_clients = {"complete", "cut"} if case.kind == "hypercorn" else {"complete"}
            ok = (
                result.exit_seconds is not None
                and result.cleanups.cleaned == streams
                and not result.cleanups.wrong
                and set(result.clients) <= expected_clients
                and result.app_tracebacks == 0
            )
            clients = ", ".join(f"{n} {outcome}" for outcome, n in sorted(result.clients.items()))
            rows.append(
                (
                    case.name,
                    signum.name,
                    secs(result.exit_seconds),
                    str(result.returncode),
                    f"{result.cleanups.cleaned}/{streams}",
                    clients,
                    "ok" if ok else "MISSED",
                )
            )
            if not ok:
                report.missed.append(f"shutdown {case.name} {signum.name}")
    print(f"\n## Shutdown: {streams:,} open streams, then a signal to the server's main process\n")
    header = ("server", "signal", "exit after", "code", "cleanups", "clients", "")
    for line in table(header, rows):
        print(line)
    print(
        "\nhypercorn runs with --graceful-timeout 1: its worker never receives the signal and "
        "cancels the open connections after that timeout (so its clients see their responses "
        "cut); uvicorn and granian need no option."
    )


def run_misbehaving(work: Path, sizes: Sizes, report: Report) -> None:
    copies = sizes.misbehaving_copies
    result = misbehaving_producers(work, copies, cleanup_timeout=0.5)
    rows = []
    for outcome in result.outcomes:
        errors = outcome.log.count(STREAM_ERROR_LOG)
        abandoned = outcome.log.count(ABANDONED_LOG)
        clients = ", ".join(f"{n} {state}" for state, n in sorted(outcome.clients.items()))
        if outcome.kind == "hang":
            ok = outcome.clients == {"open": copies} and errors == 0
        else:
            ok = outcome.clients == {"complete": copies} and errors == copies
        if outcome.kind in {"slow-cleanup", "swallowing-cleanup"}:
            ok = ok and abandoned == copies
        ok = ok and outcome.cleanups.cleaned == copies and not outcome.cleanups.wrong
        rows.append(
            (
                outcome.kind,
                clients,
                f"{errors} / {abandoned}",
                f"{outcome.cleanups.cleaned}/{copies}",
                f"{outcome.cleanups_done}",
                secs(outcome.seconds),
                "ok" if ok else "MISSED",
            )
        )
        if not ok:
            report.missed.append(f"misbehaving {outcome.kind}")
    print(f"\n## Misbehaving producers: {copies} streams of each kind at once, one uvicorn\n")
    header = (
        "producer",
        "responses",
        "logged errors / abandoned",
        "cleanups",
        "finished",
        "ended after",
        "",
    )
    for line in table(header, rows):
        print(line)
    print(
        "\n'hang' streams stay open (pings every 0.2 s) until their clients leave after 1 s; "
        "'finished' counts cleanups that got to their end (a slow cleanup is cut at "
        "cleanup_timeout=0.5 s)."
    )
    report.check(
        "healthy stream: events missed", str(result.healthy_gaps), "0", result.healthy_gaps == 0
    )
    report.check(
        "a new request afterwards",
        str(result.fresh_request_status),
        "200",
        result.fresh_request_status == 200,
    )
    report.check(
        "tasks after",
        str(result.after.tasks),
        str(result.baseline.tasks),
        result.after.tasks == result.baseline.tasks,
    )
    escaped = result.log.count("Exception in ASGI application")
    report.check("errors that escaped a response", str(escaped), "0", escaped == 0)
    report.flush("Misbehaving producers: everyone else")


def run_hostile(work: Path, sizes: Sizes, report: Report) -> None:
    results = {}
    for http, args in (("httptools", UVICORN_ARGS), ("h11", UVICORN_H11_ARGS)):
        sub = work / http
        sub.mkdir()
        results[http] = hostile_input(sub, body_bytes=sizes.body_bytes, uvicorn_args=args)
    rows = []
    for index, (label, value) in enumerate(HOSTILE_LAST_EVENT_IDS):
        expected = repr(last_event_id_from_header(value))
        row = [label, f"{len(value):,}"]
        for http, result in results.items():
            outcome = result.last_event_ids[index]
            exact = outcome.status == 200 and outcome.complete and outcome.answer == expected
            # A 4xx, or the connection closed without a response: the request never got in.
            refused = outcome.status is None or 400 <= outcome.status < 500
            verdict = "exact" if exact else "refused" if refused else "MISSED"
            if not (exact or refused):
                report.missed.append(f"Last-Event-ID {label} ({http})")
            answer = outcome.answer
            if answer is not None and len(answer) > 24:
                answer = f"{answer[:12]}... ({len(answer):,} chars)"
            status = "closed" if outcome.status is None else str(outcome.status)
            row += [status, str(answer), verdict]
        rows.append(row)
    print("\n## Hostile Last-Event-ID headers, uvicorn with httptools and with h11\n")
    header = ["header", "bytes"]
    for http in results:
        header += [f"{http} status", "last_event_id()", ""]
    for line in table(header, rows):
        print(line)
    print(
        "\n'exact': the app read what last_event_id_from_header makes of the bytes, in a "
        "complete response; 'refused': the server answered 400 or closed the connection."
    )
    for http, result in results.items():
        report.figure(
            f"{http}: server RSS growth over the headers (peak)",
            mib(result.rss_peak - result.baseline.rss),
        )
        body = result.endless_body
        report.figure(f"{http}: endless request body, bytes sent", mib(body.sent))
        report.figure("  in", f"{secs(body.seconds)} ({body.sent / MIB / body.seconds:.0f} MiB/s)")
        report.check(
            "  read by the server (/proc/<pid>/io)",
            mib(body.server_read),
            f">= {mib(body.sent)}",
            body.server_read >= body.sent,
        )
        report.check(
            "  server RSS growth meanwhile",
            mib(body.rss_growth),
            f"< {mib(BODY_RSS_GROWTH_MAX)}",
            body.rss_growth < BODY_RSS_GROWTH_MAX,
        )
        report.figure("  events on the same connection meanwhile", str(body.events_during))
        report.check("  events missed", str(body.event_gaps), "0", body.event_gaps == 0)
        report.check(
            "  cleanup after the client left",
            f"{body.cleanup.cleaned}/1",
            "1/1",
            body.cleanup.cleaned == 1,
        )
        report.check(
            f"{http}: healthy stream, events missed",
            str(result.healthy_gaps),
            "0",
            result.healthy_gaps == 0,
        )
        report.check(
            f"{http}: a new request afterwards",
            str(result.fresh_request_status),
            "200",
            result.fresh_request_status == 200,
        )
    report.flush("Hostile input through uvicorn: memory and everyone else")


def run_parser(work: Path, sizes: Sizes, report: Report) -> None:
    chunk, limit = 64 * 1024, MIB
    for figures in parser_under_hostile_streams(
        sizes.parser_bytes, chunk=chunk, max_buffer_size=limit
    ):
        report.check(
            f"{figures.label}: fed / refused / peak",
            f"{mib(figures.fed)} / {figures.refused} / {mib(figures.peak)}",
            f"peak <= {mib(parser_peak_bound(limit, chunk))}",
            figures.peak <= parser_peak_bound(limit, chunk),
        )
        report.figure(f"  {figures.events} events in", secs(figures.seconds))
    report.flush(
        f"Parser: {mib(sizes.parser_bytes)} of each hostile stream, 64 KiB chunks, "
        f"max_buffer_size=1 MiB (in this process, tracemalloc on)"
    )
    for figures in parser_long_line_cost():
        report.figure(
            f"{figures.label}: CPU until refused, peak memory",
            f"{secs(figures.seconds)}, {mib(figures.peak)}",
        )
    report.flush(
        "Parser: one endless line up to the default limit (16 MiB): the cost grows with the "
        "number of chunks"
    )


SCENARIOS: Final[dict[str, Callable[[Path, Sizes, Report], None]]] = {
    "churn": run_churn,
    "scale": run_scale,
    "slow": run_slow,
    "shutdown": run_shutdown,
    "misbehaving": run_misbehaving,
    "hostile": run_hostile,
    "parser": run_parser,
}


# -- the environment ------------------------------------------------------------------------------


def environment() -> dict[str, str]:
    info = provenance.environment(
        (
            "uvicorn",
            "uvloop",
            "httptools",
            "hypercorn",
            "granian",
            "trio",
            "starlette",
            "anyio",
            "sse-starlette-binding",
            "sse-core",
        )
    )
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    info["open files (soft/hard)"] = f"{soft}/{hard}"
    return info


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--size", choices=sorted(SIZES), default="full", help="full (default) or ci"
    )
    parser.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help=f"comma-separated scenarios (default: all): {', '.join(SCENARIOS)}",
    )
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(names) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)}")
    if not sys.platform.startswith("linux"):
        print("stress/reliability.py needs Linux (/proc)", file=sys.stderr)
        return 1
    sizes = SIZES[args.size]
    fd_limit = raise_fd_limit()
    print(f"# Reliability, size {args.size}: {sizes}")
    for key, value in environment().items():
        print(f"{key}: {value}")
    fingerprint = source_fingerprint()
    failed: list[str] = []
    report = Report()
    started = time.monotonic()
    for name in names:
        if name == "scale" and fd_limit < sizes.idle_streams + 100:
            print(
                f"\n## Scale: NOT RUN: {sizes.idle_streams:,} streams need an open-files limit "
                f"of {sizes.idle_streams + 100:,}; the hard limit here is {fd_limit:,}"
            )
            failed.append(name)
            continue
        with tempfile.TemporaryDirectory(prefix=f"sse-stress-{name}-") as work:
            try:
                SCENARIOS[name](Path(work), sizes, report)
            except Exception:  # report it and go on with the other scenarios
                print(f"\n## {name}: COULD NOT RUN\n")
                traceback.print_exc(file=sys.stdout)
                failed.append(name)
    print(f"\n{time.monotonic() - started:.0f} s in all.")
    if source_fingerprint() != fingerprint:
        print("WARNING: the packages' source files changed during the run: results mix versions.")
    if report.missed:
        print(f"MISSED: {', '.join(report.missed)}")
    if failed:
        print(f"could not run: {', '.join(failed)}")
    return 1 if report.missed or failed else 0


if __name__ == "__main__":
    sys.exit(main())
