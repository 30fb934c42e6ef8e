"""Per-event encoding cost: sse_core against sse-starlette 3.7 and `fastapi.sse`, side by side.

Each case times one intent ("this text as an event", "this dict of fields", "this object as
JSON data"...) the way a user of each library writes it, construction included. All libraries
run in the same process and in the same runs, interleaved, so they share the machine's noise.
The table reports medians and ratios, and each case's own SPEC targets ("Performance targets")
as met or missed. The drop-in rows run sse-starlette's own code twice, once with
sse-starlette's classes and once with sse_starlette_binding's (only the import differs).

It reports, it never asserts: it exits 0 whether or not the targets are met. It exits 1 if the
libraries' outputs for a case do not parse to the same events, because then they would not be
doing the same work.

    uv run python benchmarks/encoding.py            # median of 7 runs, about 1.5 minutes
    uv run python benchmarks/encoding.py --quick    # median of 3 short runs, a few seconds
    uv run python benchmarks/encoding.py --runs 11 --json encoding.json
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import platform
import statistics
import sys
import timeit
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import fastapi.sse
import orjson
import sse_starlette.event
from fastapi.sse import format_sse_event
from support.provenance import source_revision

import sse_core
import sse_starlette_binding

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

OURS: Final = "sse-core"
STARLETTE: Final = "sse-starlette"
FASTAPI: Final = "fastapi"
DROPIN: Final = "drop-in"
LIBRARIES: Final = (OURS, STARLETTE, FASTAPI)
# The table's columns: "ours" is the case's subject, sse-core's or (drop-in rows) the binding's.
PEERS: Final = (STARLETTE, FASTAPI)

# The table's sections, in order.
TARGET: Final = "target"
DROPIN_SECTION: Final = "drop-in"
EXTRA: Final = "extra"

DEFAULT_RUNS: Final = 7
QUICK_RUNS: Final = 3
DEFAULT_SECONDS: Final = 0.2
QUICK_SECONDS: Final = 0.04

BATCH_SIZE: Final = 100
BATCH_MANY: Final = "batch100 encode_many"
BATCH_LOOP: Final = "batch100 100x encode"

# The names each library's statements may use. Every library has its own namespace, so
# `ServerSentEvent` is sse_core's class in an sse-core statement and sse-starlette's class in an
# sse-starlette statement; NAME_ORIGINS says so under the table.
LIBRARY_NAMES: Final[Mapping[str, Mapping[str, object]]] = {
    OURS: {
        "encode": sse_core.encode,
        "encode_many": sse_core.encode_many,
        "ServerSentEvent": sse_core.ServerSentEvent,
        "orjson": orjson,
    },
    STARLETTE: {
        "ensure_bytes": sse_starlette.event.ensure_bytes,
        "ServerSentEvent": sse_starlette.event.ServerSentEvent,
        "JSONServerSentEvent": sse_starlette.event.JSONServerSentEvent,
    },
    FASTAPI: {
        "format_sse_event": format_sse_event,
        "ServerSentEvent": fastapi.sse.ServerSentEvent,
        "json": json,
        "orjson": orjson,
    },
    DROPIN: {
        "ServerSentEvent": sse_starlette_binding.ServerSentEvent,
        "JSONServerSentEvent": sse_starlette_binding.JSONServerSentEvent,
    },
}
NAME_ORIGINS: Final = (
    f"{OURS}: encode, encode_many, ServerSentEvent are sse_core's",
    f"{STARLETTE}: ensure_bytes, ServerSentEvent, JSONServerSentEvent are sse_starlette.event's",
    f"{FASTAPI}: format_sse_event and ServerSentEvent (a pydantic model) are fastapi.sse's",
    f"{DROPIN}: ServerSentEvent, JSONServerSentEvent are sse_starlette_binding's",
    "json is the standard library module, orjson the orjson package",
)


@dataclass(frozen=True, slots=True)
class Target:
    """One SPEC target of a case: `library`'s time over the subject's must reach `ratio`."""

    library: str
    ratio: float
    strict: bool = False
    """Above `ratio`, not just at it: the SPEC's "faster than" (for "at least as fast as",
    "at least Nx")."""

    def met(self, ratio: float | None) -> bool:
        """Whether a measured ratio meets this target."""
        if ratio is None:
            return False
        return ratio > self.ratio if self.strict else ratio >= self.ratio

    def text(self) -> str:
        """The target as the table and the verdicts write it, such as '>= 4x sse-starlette'."""
        return f"{'>' if self.strict else '>='} {self.ratio:g}x {self.library}"

    def to_json(self) -> dict[str, Any]:
        """The target as the ``--json`` file records it."""
        return {"library": self.library, "ratio": self.ratio, "strict": self.strict}


def text_targets() -> tuple[Target, ...]:
    """The SPEC's text targets: at least 4x sse-starlette and faster than format_sse_event."""
    return (Target(STARLETTE, 4.0), Target(FASTAPI, 1.0, strict=True))


@dataclass(frozen=True, slots=True)
class Case:
    """One benchmark case: its data, and the statement each library runs on it.

    A statement is an expression that returns event-stream bytes. It is timed exactly as
    written (by `timeit`, with the library's names and the case's data as globals), and
    evaluated once beforehand to check that every library produces the same events. A library
    without a statement shows "-" in the table. Ratios are each peer's time over the
    `subject`'s ("ours": sse-core, or the binding in a drop-in row).
    """

    name: str
    description: str
    statements: Mapping[str, str]
    data: Mapping[str, object] = field(default_factory=dict)
    library_data: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    targets: tuple[Target, ...] = ()
    section: str = TARGET
    subject: str = OURS
    events_per_call: int = 1
    note: str = ""

    def namespace(self, library: str) -> dict[str, object]:
        """A fresh globals dict for one library's statement (exec adds `__builtins__` to it)."""
        return {**LIBRARY_NAMES[library], **self.data, **self.library_data.get(library, {})}


@dataclass(frozen=True, slots=True)
class CaseResult:
    """The timings of one case: per library, the calibrated loop count and ns/event per run."""

    case: Case
    iterations: Mapping[str, int]
    samples: Mapping[str, Sequence[float]]

    def median(self, library: str) -> float | None:
        """The median ns/event of `library`, or None if it has no statement in this case."""
        runs = self.samples.get(library)
        return statistics.median(runs) if runs else None

    def ratio(self, library: str) -> float | None:
        """`library`'s median time over the subject's (above 1: the subject is faster)."""
        theirs, ours = self.median(library), self.median(self.case.subject)
        if theirs is None or ours is None:
            return None
        return theirs / ours

    def missed(self) -> list[str]:
        """The targets this case misses, each with the ratio that fell short."""
        return [
            f"{target.library} {format_ratio(self.ratio(target.library))}, needs {target.text()}"
            for target in self.case.targets
            if not target.met(self.ratio(target.library))
        ]

    def status(self) -> str:
        """'met', 'MISSED (...)', or 'extra' for a case without targets."""
        if not self.case.targets:
            return "extra"
        missed = self.missed()
        return f"MISSED ({'; '.join(missed)})" if missed else "met"


def compact_json(value: object) -> str:
    """Compact JSON, as all three libraries write it for event data."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def build_cases() -> tuple[Case, ...]:
    """The SPEC target cases, the drop-in rows, then the extras, which are not targets."""
    # A small nested payload, about 200 bytes of compact JSON: ints, a float, strings, a list.
    payload = {
        "id": 1042,
        "type": "progress",
        "job": {"name": "nightly-export", "owner": "ops@example.com", "attempt": 2},
        "done": 5120,
        "total": 16384,
        "ratio": 0.3125,
        "tags": ["csv", "s3"],
        "message": "exporting orders to s3",
    }
    json_text = compact_json(payload)
    # 64 lines of 63 characters joined by LF: 4095 bytes, 4 KiB short of one.
    filler = "GET /api/v1/orders?page=2 200 in 4.2 ms, user agent curl/8.5.0, cache miss"
    lines = [f"{i:02d} {filler}"[:63] for i in range(64)]
    text_4k = "\n".join(lines)
    # The all-fields event; the re-encode case pre-builds the same one in each library's class.
    all_fields = '"all fields set", event="update", id="42", retry=5000, comment="keep-alive"'
    prebuilt: dict[str, Any] = {
        "event": "update",
        "id": "42",
        "retry": 5000,
        "comment": "keep-alive",
    }
    fields = {"data": json_text, "event": "delta", "id": "42"}
    # What FastAPI's router does with a fastapi.sse.ServerSentEvent it is given (raw_data:
    # text sent as it is), through the same public function; `e` is the event just built.
    fastapi_event = (
        "format_sse_event(data_str=(e := ServerSentEvent(raw_data="
        '"all fields set", event="update", id="42", retry=5000, comment="keep-alive"'
        ")).raw_data, event=e.event, id=e.id, retry=e.retry, comment=e.comment)"
    )
    text_cases = (
        ("tiny", 'TEXT = "hi"', "TEXT", "hi"),
        (
            "json200",
            f"JSON_TEXT = pre-serialized JSON, {len(json_text)} bytes",
            "JSON_TEXT",
            json_text,
        ),
        (
            "4k64",
            f"TEXT_4K = {len(text_4k)} bytes: {len(lines)} lines joined by LF",
            "TEXT_4K",
            text_4k,
        ),
    )
    targets = [
        Case(
            name,
            description,
            {
                OURS: f"encode({variable})",
                STARLETTE: f'ensure_bytes({variable}, "\\r\\n")',
                FASTAPI: f"format_sse_event(data_str={variable})",
            },
            data={variable: value},
            targets=text_targets(),
        )
        for name, description, variable, value in text_cases
    ]
    targets += [
        Case(
            "dict",
            'D = {"data": JSON_TEXT, "event": "delta", "id": "42"}',
            {
                OURS: "encode(D)",
                STARLETTE: 'ensure_bytes(D, "\\r\\n")',
                FASTAPI: "format_sse_event(**D)",
            },
            library_data={
                OURS: {"D": fields},
                STARLETTE: {"D": fields},
                # The same fields under format_sse_event's own name for the data.
                FASTAPI: {"D": {"data_str": json_text, "event": "delta", "id": "42"}},
            },
            targets=(Target(STARLETTE, 3.0), Target(FASTAPI, 1.0)),
            note=(
                "sse_core validates every field; format_sse_event validates none. fastapi's "
                'D names the data "data_str", its parameter'
            ),
        ),
        Case(
            "all-fields",
            "an event object with data, event, id, retry and comment, built, then encoded",
            {
                OURS: f"encode(ServerSentEvent({all_fields}))",
                STARLETTE: f"ServerSentEvent({all_fields}).encode()",
                FASTAPI: fastapi_event,
            },
            targets=(Target(STARLETTE, 1.5), Target(FASTAPI, 1.0, strict=True)),
            note=(
                "fastapi: its ServerSentEvent is a pydantic model, formatted as FastAPI's "
                "router formats one (raw_data is text that is not JSON-encoded)"
            ),
        ),
        Case(
            "object-to-JSON",
            f"PAYLOAD = a nested dict, {len(json_text)} bytes as compact JSON (standard library)",
            {
                OURS: 'encode({"data": PAYLOAD})',
                STARLETTE: "JSONServerSentEvent(PAYLOAD).encode()",
                FASTAPI: (
                    "format_sse_event(data_str="
                    'json.dumps(PAYLOAD, separators=(",", ":"), ensure_ascii=False))'
                ),
            },
            data={"PAYLOAD": payload},
            targets=(Target(STARLETTE, 1.5), Target(FASTAPI, 1.3)),
        ),
        Case(
            "object-to-JSON orjson",
            "the same PAYLOAD, serialized by orjson where the library lets the user choose",
            {
                OURS: 'encode({"data": PAYLOAD}, json_dumps=orjson.dumps)',
                STARLETTE: "JSONServerSentEvent(PAYLOAD).encode()",
                FASTAPI: "format_sse_event(data_str=orjson.dumps(PAYLOAD).decode())",
            },
            data={"PAYLOAD": payload},
            targets=(Target(STARLETTE, 4.0),),
            note=(
                "sse-starlette has no serializer option, so it runs its standard-library path; "
                "fastapi with orjson is context, not a target"
            ),
        ),
    ]
    # sse-starlette's code for the same intents, with its classes and, after only the import
    # changed, with sse_starlette_binding's: the binding must cost no more (SPEC, "drop-in").
    dropin_statements = (
        ("tiny", "ServerSentEvent(TEXT).encode()"),
        ("json200", "ServerSentEvent(JSON_TEXT).encode()"),
        ("4k64", "ServerSentEvent(TEXT_4K).encode()"),
        ("all-fields", f"ServerSentEvent({all_fields}).encode()"),
        ("dict", "ServerSentEvent(**D).encode()"),
        ("object-to-JSON", "JSONServerSentEvent(PAYLOAD).encode()"),
    )
    dropin_data = {"TEXT": "hi", "JSON_TEXT": json_text, "TEXT_4K": text_4k, "D": fields}
    dropin = [
        Case(
            f"drop-in {name}",
            f"sse-starlette's code for {name}, each library's classes",
            {DROPIN: statement, STARLETTE: statement},
            data={**dropin_data, "PAYLOAD": payload},
            targets=(Target(STARLETTE, 1.0),),
            section=DROPIN_SECTION,
            subject=DROPIN,
        )
        for name, statement in dropin_statements
    ]
    extras = [
        Case(
            BATCH_MANY,
            f'BATCH = ["hi"] * {BATCH_SIZE}; time per event',
            {
                OURS: "encode_many(BATCH)",
                STARLETTE: 'b"".join([ensure_bytes(item, "\\r\\n") for item in BATCH])',
                FASTAPI: 'b"".join([format_sse_event(data_str=item) for item in BATCH])',
            },
            data={"BATCH": ["hi"] * BATCH_SIZE},
            section=EXTRA,
            events_per_call=BATCH_SIZE,
            note="sse-core encodes the batch in one call; the peers have no batch call",
        ),
        Case(
            "orjson, held encoder",
            "the object-to-JSON orjson case through one EventEncoder, as a response holds it",
            {
                OURS: 'ENCODER.encode({"data": PAYLOAD})',
                STARLETTE: "JSONServerSentEvent(PAYLOAD).encode()",
            },
            data={"PAYLOAD": payload},
            library_data={OURS: {"ENCODER": sse_core.EventEncoder(json_dumps=orjson.dumps)}},
            section=EXTRA,
            note=(
                "a stream's encoder is built once (EventSourceResponse(..., json_dumps=...) "
                "does so); encode(..., json_dumps=...) finds a cached one per call"
            ),
        ),
        Case(
            "dict, fastapi by key",
            "the same D; format_sse_event given each field by key rather than by **",
            {
                OURS: "encode(D)",
                FASTAPI: 'format_sse_event(data_str=D["data"], event=D["event"], id=D["id"])',
            },
            data={"D": fields},
            section=EXTRA,
            note="the cheaper way to call format_sse_event with a dict in hand",
        ),
        Case(
            BATCH_LOOP,
            f"the same BATCH as {BATCH_SIZE} separate encode() calls; time per event",
            {OURS: 'b"".join([encode(item) for item in BATCH])'},
            data={"BATCH": ["hi"] * BATCH_SIZE},
            section=EXTRA,
            events_per_call=BATCH_SIZE,
        ),
        Case(
            "re-encode prebuilt",
            "EVENT = the all-fields event, built once before timing",
            {OURS: "encode(EVENT)", STARLETTE: 'ensure_bytes(EVENT, "\\r\\n")'},
            library_data={
                OURS: {"EVENT": sse_core.ServerSentEvent("all fields set", **prebuilt)},
                STARLETTE: {
                    "EVENT": sse_starlette.event.ServerSentEvent("all fields set", **prebuilt)
                },
            },
            section=EXTRA,
            note=(
                "sse_core's ServerSentEvent caches its wire bytes when it is built, so this "
                "times a cache lookup, not construction (all-fields times that); sse-starlette "
                "encodes the event again on every call"
            ),
        ),
    ]
    return (*targets, *dropin, *extras)


# -- checking that every library does the same work --------------------------------------------


@dataclass(frozen=True, slots=True)
class Decoded:
    """What a client gets from one output: its events, the retry it sets, its comment lines."""

    events: list[sse_core.ParsedEvent]
    retry: int | None
    comments: list[str]


def decode(wire: bytes) -> Decoded:
    """Parse `wire` as a client would (sse-starlette's CRLF and LF are the same to it)."""
    parser = sse_core.EventParser()
    events = parser.feed(wire)
    # The parser drops comments, as clients do; compare them separately, since writing a
    # comment is work too.
    lines = wire.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return Decoded(events, parser.retry, [line for line in lines if line.startswith(":")])


def evaluate(case: Case, library: str) -> bytes:
    """Run one library's statement once, exactly as it is timed, and return its output."""
    # eval of the very string that timeit compiles: what is checked is what is timed.
    output = eval(case.statements[library], case.namespace(library))
    if not isinstance(output, bytes):
        raise TypeError(f"returned {type(output).__name__}, not bytes")
    return output


def shorten(decoded: Decoded, limit: int = 400) -> str:
    """`decoded`'s repr, cut to `limit` characters (a 4 KiB event would flood the terminal)."""
    text = repr(decoded)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_outputs(cases: Sequence[Case]) -> list[str]:
    """Problems found: a statement that fails, or outputs that differ from the subject's."""
    problems = []
    for case in cases:
        decoded: dict[str, Decoded] = {}
        for library in case.statements:
            try:
                decoded[library] = decode(evaluate(case, library))
            except Exception as exc:
                problems.append(f"{case.name}: {library} failed: {exc!r}")
        subject = case.subject
        reference = decoded.get(subject)
        if reference is None:
            continue
        if len(reference.events) != case.events_per_call:
            problems.append(
                f"{case.name}: {subject} wrote {len(reference.events)} events, "
                f"expected {case.events_per_call}"
            )
        for library, other in decoded.items():
            if other != reference:
                problems.append(
                    f"{case.name}: {library} output differs from {subject}'s:\n"
                    f"    {library}: {shorten(other)}\n    {subject}: {shorten(reference)}"
                )
    return problems


# -- timing -------------------------------------------------------------------------------------


def calibrate(timer: timeit.Timer, seconds: float) -> int:
    """The loop count that makes one measurement take about `seconds`."""
    number = 1
    while True:
        elapsed = timer.timeit(number)
        if elapsed >= seconds / 10:
            return max(1, math.ceil(number * seconds / elapsed))
        number *= 10


def measure(cases: Sequence[Case], runs: int, seconds: float) -> list[CaseResult]:
    """Time every statement `runs` times, interleaving libraries and cases within each run.

    `timeit` switches the garbage collector off while it times, as it always does.
    """
    timers = {
        (case.name, library): timeit.Timer(statement, globals=case.namespace(library))
        for case in cases
        for library, statement in case.statements.items()
    }
    print(f"calibrating {len(timers)} statements", file=sys.stderr, flush=True)
    iterations = {key: calibrate(timer, seconds) for key, timer in timers.items()}
    samples: dict[tuple[str, str], list[float]] = {key: [] for key in timers}
    for run in range(runs):
        print(f"run {run + 1}/{runs}", file=sys.stderr, flush=True)
        for case in cases:
            libraries = list(case.statements)
            # Rotate who goes first, so no library always runs right after another.
            shift = run % len(libraries)
            for library in libraries[shift:] + libraries[:shift]:
                key = (case.name, library)
                elapsed = timers[key].timeit(iterations[key])
                ns = elapsed / iterations[key] / case.events_per_call * 1e9
                samples[key].append(ns)
    return [
        CaseResult(
            case,
            {library: iterations[case.name, library] for library in case.statements},
            {library: samples[case.name, library] for library in case.statements},
        )
        for case in cases
    ]


# -- reporting ----------------------------------------------------------------------------------


def format_ratio(ratio: float | None) -> str:
    """A ratio as '4.21x', or '-' when there is none."""
    return "-" if ratio is None else f"{ratio:.2f}x"


def format_ns(ns: float | None) -> str:
    """Nanoseconds, rounded to whole ones, or '-'."""
    return "-" if ns is None else f"{ns:,.0f}"


def environment() -> dict[str, str]:
    """Where the numbers come from: interpreter, library versions, machine."""
    info = {"python": f"{platform.python_implementation()} {platform.python_version()}"}
    for distribution in (*LIBRARIES, "sse-starlette-binding", "orjson"):
        info[distribution] = importlib.metadata.version(distribution)
    info["packages at"] = source_revision()
    info["cpus"] = str(os.cpu_count())
    info["platform"] = platform.platform()
    return info


SECTION_TITLES: Final = {
    DROPIN_SECTION: (
        "-- drop-in: sse-starlette's code, import changed (ours = sse_starlette_binding) --"
    ),
    EXTRA: "-- extra, not targets --",
}


def report(results: Sequence[CaseResult], runs: int, seconds: float) -> str:
    """The table of medians and ratios, the target verdicts, and the legend."""
    header = (
        "case",
        "ours ns",
        *(f"{peer} ns" for peer in PEERS),
        *(f"{peer}/ours" for peer in PEERS),
        "targets",
        "verdict",
    )
    rows: list[tuple[str, ...]] = []
    for result in results:
        rows.append(
            (
                result.case.name,
                format_ns(result.median(result.case.subject)),
                *(format_ns(result.median(peer)) for peer in PEERS),
                *(format_ratio(result.ratio(peer)) for peer in PEERS),
                ", ".join(target.text() for target in result.case.targets) or "-",
                result.status(),
            )
        )
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header) - 1)]

    def line(row: Sequence[str]) -> str:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:-2], widths[1:-1], strict=True)]
        cells.append(row[-2].ljust(widths[-1]))
        return "  ".join([*cells, row[-1]]).rstrip()

    env = environment()
    out = [
        "Encoding cost per event (median ns/event; ratio = peer's median / ours; ours = sse-core, "
        "or sse_starlette_binding's classes in the drop-in rows)",
        " | ".join(f"{key} {value}" for key, value in env.items()),
        f"median of {runs} runs, ~{seconds:g} s per measurement, libraries interleaved in each run",
        "",
        line(header),
        line(["-" * width for width in widths] + ["-" * len(header[-1])]),
    ]
    section = TARGET
    for result, row in zip(results, rows, strict=True):
        if result.case.section != section:
            section = result.case.section
            out.append(SECTION_TITLES[section])
        out.append(line(row))
    out.append("")

    for name, section in (("SPEC targets", TARGET), ("Drop-in targets", DROPIN_SECTION)):
        judged = [result for result in results if result.case.section == section]
        if not judged:
            continue
        missed = [result for result in judged if result.missed()]
        out.append(
            f"{name}: {len(judged) - len(missed)}/{len(judged)} cases met"
            + (f"; missed: {', '.join(result.case.name for result in missed)}" if missed else "")
        )
    by_name = {result.case.name: result for result in results}
    many, loop = by_name.get(BATCH_MANY), by_name.get(BATCH_LOOP)
    if many is not None and loop is not None:
        many_ns, loop_ns = many.median(OURS), loop.median(OURS)
        if many_ns is not None and loop_ns is not None:
            out.append(
                f"encode_many vs {BATCH_SIZE} separate encode() calls: {many_ns:,.0f} vs "
                f"{loop_ns:,.0f} ns/event ({loop_ns / many_ns:.2f}x)"
            )

    out += ["", "Legend: the exact statement timed per library (one call = one event unless noted)"]
    out += [f"  names  {origin}" for origin in NAME_ORIGINS]
    for result in results:
        case = result.case
        out.append(f"{case.name}: {case.description}")
        for library, statement in case.statements.items():
            out.append(f"  {library:<13}  {statement}")
        if case.note:
            out.append(f"  note: {case.note}")
    return "\n".join(out)


def to_json(results: Sequence[CaseResult], runs: int, seconds: float) -> dict[str, Any]:
    """Everything the table shows, plus every run's value, for tools."""
    return {
        "environment": environment(),
        "runs": runs,
        "seconds_per_measurement": seconds,
        "cases": [
            {
                "name": result.case.name,
                "description": result.case.description,
                "section": result.case.section,
                # True for a SPEC target case, as before the drop-in rows existed.
                "target": result.case.section == TARGET,
                "subject": result.case.subject,
                "targets": [target.to_json() for target in result.case.targets],
                "status": result.status(),
                "events_per_call": result.case.events_per_call,
                "ratios": {
                    library: result.ratio(library)
                    for library in result.case.statements
                    if library != result.case.subject
                },
                "libraries": {
                    library: {
                        "statement": result.case.statements[library],
                        "iterations": result.iterations[library],
                        "median_ns_per_event": result.median(library),
                        "ns_per_event_runs": list(result.samples[library]),
                    }
                    for library in result.case.statements
                },
            }
            for result in results
        ],
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description=(
            "Per-event encoding cost of sse_core against sse-starlette and fastapi.sse, and of "
            "sse-starlette's code on sse_starlette_binding against sse-starlette itself, "
            "measured side by side; reports each case's SPEC targets as met or missed."
        )
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"short measurements (~{QUICK_SECONDS:g} s) and {QUICK_RUNS} runs: a smoke test",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=None,
        metavar="N",
        help=f"runs to take the median of (default {DEFAULT_RUNS}, or {QUICK_RUNS} with --quick)",
    )
    parser.add_argument(
        "--json", type=Path, default=None, metavar="PATH", help="also write the results here"
    )
    args = parser.parse_args(argv)
    if args.runs is not None and args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Check the outputs agree, time the cases, print the table; 1 if outputs disagree."""
    args = parse_args(argv)
    runs: int = args.runs or (QUICK_RUNS if args.quick else DEFAULT_RUNS)
    seconds = QUICK_SECONDS if args.quick else DEFAULT_SECONDS
    cases = build_cases()
    problems = check_outputs(cases)
    if problems:
        print("outputs disagree, so the libraries would not do the same work:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    results = measure(cases, runs, seconds)
    print(report(results, runs, seconds))
    if args.json is not None:
        args.json.write_text(json.dumps(to_json(results, runs, seconds), indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
