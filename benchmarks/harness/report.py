"""What the benchmarks print: tables, verdicts, the environment lines, and the main loop that
measures, reports and writes the ``--json`` file."""

from __future__ import annotations

import asyncio
import json
import signal
import statistics
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import uvloop
from support import provenance
from support.ports import raise_fd_limit
from support.provenance import source_fingerprint

from harness.server import MeasurementError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path

PlanT = TypeVar("PlanT")
ResultsT = TypeVar("ResultsT")


def progress(text: str) -> None:
    """A progress line, on stderr so that stdout holds only the report."""
    print(text, file=sys.stderr, flush=True)


def environment() -> dict[str, str]:
    """What the figures were measured with: Python, the servers' and libraries' versions, the
    packages' revision, the machine."""
    return provenance.environment(
        (
            "uvicorn",
            "uvloop",
            "httptools",
            "sse-starlette",
            "starlette",
            "anyio",
            "fastapi",
            "pydantic",
            "sse-starlette-binding",
            "sse-core",
        )
    )


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned first column, right-aligned others."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        return "  ".join(cells).rstrip()

    return [line(header), line(["-" * width for width in widths]), *(line(r) for r in rows)]


@dataclass(frozen=True, slots=True)
class Verdict:
    """A SPEC target, met or missed, with the figures that decided it."""

    name: str
    met: bool
    detail: str

    def text(self) -> str:
        return f"{'met' if self.met else 'MISSED'}: {self.name} ({self.detail})"


def ratio_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def median_of(values: Sequence[float]) -> float:
    return statistics.median(values)


def report_header(
    title: str, env: Mapping[str, str], notes: Sequence[str], *, code_changed: bool
) -> list[str]:
    """The lines a report starts with: a warning if the code changed during the run, what was
    measured, the environment, and the `notes` (what was measured, what the columns mean)."""
    warning = [
        "WARNING: the packages' source files changed while this ran, "
        "so these results mix versions: run again on a quiet tree"
    ]
    return [
        *(warning if code_changed else []),
        title,
        " | ".join(f"{key} {value}" for key, value in env.items()),
        *notes,
        "",
    ]


def terminate(signum: int, frame: object) -> None:
    """SIGTERM handler: leave through the normal exits, which stop the servers."""
    raise SystemExit(128 + signum)


def measure_and_report(
    plan: PlanT,
    run_all: Callable[[PlanT, asyncio.Runner], ResultsT],
    report: Callable[..., str],
    to_json: Callable[[ResultsT, PlanT], dict[str, Any]],
    json_path: Path | None,
) -> int:
    """Run `plan` with `run_all` on uvloop, print `report`, and write `to_json` to `json_path`
    if given; the exit status (1 when something could not be measured fairly)."""
    raise_fd_limit()
    # A SIGTERM (a CI timeout, say) must unwind like Ctrl-C does, so that every server's
    # process group is killed on the way out instead of being left behind.
    signal.signal(signal.SIGTERM, terminate)
    fingerprint = source_fingerprint()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        try:
            results = run_all(plan, runner)
        except MeasurementError as exc:
            print(f"could not measure fairly: {exc}", file=sys.stderr)
            return 1
    print(report(results, plan, code_changed=source_fingerprint() != fingerprint))
    if json_path is not None:
        json_path.write_text(json.dumps(to_json(results, plan), indent=2) + "\n")
        print(f"\nwrote {json_path}")
    return 0
