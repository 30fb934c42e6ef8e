"""Draws docs/performance.md's figures from the benchmark scripts' ``--json`` files.

Each figure shows medians over a file's runs, one colour per library, always in the same
order, on a log scale where the libraries differ by orders of magnitude:

- ``throughput.png``: events/s of every `streaming.py` measure (the drop-in pair in a panel of
  its own) and every typed-endpoint case of `fastapi_streaming.py`;
- ``latency.png``: `latency.py`'s time to first event, latency (p50 and p99) and fairness;
- ``memory.png``: `streaming.py`'s RSS growth and tasks per idle connection, with its reference
  (Starlette's plain `StreamingResponse`) when the file has it; from ``idle.json`` (a run of
  ``streaming.py --only idle``) when that file is there, else from ``streaming.json``;
- ``encoding.png``: `encoding.py`'s nanoseconds per event, case by case (the drop-in rows in a
  panel of their own).

A figure whose file is missing is skipped, saying so. The data folder holds the JSON files
under the names `RESULT_FILES` gives; by default it is ``docs/performance/``, where the figures
are written too::

    uv run python benchmarks/plots.py                       # docs/performance/*.json -> *.png
    uv run python benchmarks/plots.py --data /tmp/results   # other results, figures beside them
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import matplotlib as mpl

mpl.use("Agg")  # files only: no display, the same output on every machine
import matplotlib.pyplot as plt

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from matplotlib.axes import Axes

DATA: Final = Path(__file__).resolve().parent.parent / "docs" / "performance"
RESULT_FILES: Final = {
    "streaming": "streaming.json",
    "idle": "idle.json",
    "fastapi": "fastapi_streaming.json",
    "latency": "latency.json",
    "encoding": "encoding.json",
}
# Files whose absence skips nothing: what they hold has a fallback elsewhere.
OPTIONAL_FILES: Final = frozenset({"idle"})

# One colour per library across every figure; the keys are the scripts' library names.
COLOURS: Final = {
    "ours": "#1b6ca8",
    "sse-core": "#1b6ca8",
    "sse-starlette": "#e08a1e",
    "fastapi.sse": "#4a9c5d",
    "fastapi": "#4a9c5d",
    "raw ASGI": "#8c8c8c",
    "drop-in": "#1b6ca8",
    "sse-starlette (drop-in code)": "#e08a1e",
    "StreamingResponse": "#b39ddb",
}
LEGEND: Final = {
    "ours": "ours",
    "sse-core": "ours (sse-core)",
    "sse-starlette": "sse-starlette 3.7",
    "fastapi.sse": "fastapi.sse",
    "fastapi": "fastapi.sse",
    "raw ASGI": "raw ASGI (ceiling)",
    "drop-in": "sse-starlette's code on ours (import changed)",
    "sse-starlette (drop-in code)": "sse-starlette 3.7, the same code",
    "StreamingResponse": "Starlette\nStreamingResponse\n(reference)",
}
# encoding.py's drop-in rows call the binding's classes "drop-in" too, beside "sse-starlette".
STREAM_LIBRARIES: Final = ("ours", "sse-starlette", "fastapi.sse", "raw ASGI")
DROPIN_LIBRARIES: Final = ("drop-in", "sse-starlette (drop-in code)")
# streaming.py's idle measure: the stream libraries, its reference beside ours.
IDLE_LIBRARIES: Final = ("ours", "StreamingResponse", "sse-starlette", "fastapi.sse", "raw ASGI")
IDLE_MEMORY_TARGET: Final = 1.10  # SPEC: ours at most 10% above the reference per connection
ENCODING_LIBRARIES: Final = ("sse-core", "sse-starlette", "fastapi")
ENCODING_DROPIN_LIBRARIES: Final = ("drop-in", "sse-starlette")

STREAM_MEASURES: Final = {  # streaming.py's measure keys, as the figure labels them
    "fast": "1 stream,\nnever waits",
    "yield": "1 stream,\nsleep(0) per event",
    "burst-stream": "burst,\nmemory stream",
    "burst-gen": "burst,\nasync generator",
    "concurrent-fast": "50 streams,\nnever wait",
    "concurrent-yield": "50 streams,\nsleep(0) per event",
}
DROPIN_MEASURES: Final = {  # streaming.py's drop-in measures, run by DROPIN_LIBRARIES
    "dropin-fast": "1 stream,\nnever waits",
    "dropin-yield": "1 stream,\nsleep(0) per event",
}
FASTAPI_CASES: Final = {  # fastapi_streaming.py's case keys
    "fast": "typed GET,\nnever waits",
    "yield": "typed GET,\nsleep(0) per item",
    "post": "typed POST,\nsleep(0) per item",
}
LATENCY_SCENARIOS: Final = {"1": "1 stream", "100": "100 streams"}  # latency.py's keys


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def grouped_bars(
    axes: Axes,
    groups: Sequence[str],
    values: Mapping[str, Sequence[float | None]],
    *,
    log: bool,
    label_format: str,
) -> None:
    """One cluster of bars per group, one bar per library (`values` maps the library to a
    value per group; None leaves a gap), each bar labelled with its value."""
    libraries = list(values)
    width = 0.8 / len(libraries)
    for index, library in enumerate(libraries):
        positions = [
            group + (index - (len(libraries) - 1) / 2) * width for group in range(len(groups))
        ]
        heights = [value or 0.0 for value in values[library]]
        bars = axes.bar(
            positions,
            heights,
            width,
            label=LEGEND.get(library, library),
            color=COLOURS.get(library),
        )
        labels = ["" if value is None else label_format.format(value) for value in values[library]]
        axes.bar_label(bars, labels=labels, fontsize=6, rotation=90, padding=2)
    axes.set_xticks(range(len(groups)), groups, fontsize=8)
    if log:
        axes.set_yscale("log")
    axes.margins(y=0.25)
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)


def stream_medians(
    results: Mapping[str, Any],
    key_name: str,
    keys: Sequence[str],
    value: str,
    libraries: Sequence[str] = STREAM_LIBRARIES,
) -> dict[str, list[float | None]]:
    """Per library, the median of `value` over the samples of each key (a measure or case)."""
    medians: dict[str, list[float | None]] = {library: [] for library in libraries}
    by_key = {(entry[key_name], entry["library"]): entry["samples"] for entry in results["streams"]}
    for library in libraries:
        for key in keys:
            samples = by_key.get((key, library))
            medians[library].append(median([s[value] for s in samples]) if samples else None)
    return medians


def environment_line(results: Mapping[str, Any]) -> str:
    env = results["environment"]
    return (
        f"{env['python']}, {env.get('cpus', '?')} CPUs, packages at {env.get('packages at', '?')}"
    )


def throughput(streaming: Mapping[str, Any] | None, fastapi: Mapping[str, Any] | None) -> Any:
    # A panel for streaming.py's plain measures, one for its drop-in pair, one for the
    # typed endpoints: each only when its file holds results for it.
    measures = dropin = []
    if streaming is not None:
        measures = [key for key in STREAM_MEASURES if any_key(streaming, "measure", key)]
        dropin = [key for key in DROPIN_MEASURES if any_key(streaming, "measure", key)]
    panels = max(1, len([part for part in (measures, dropin, fastapi) if part]))
    figure, axes_list = plt.subplots(panels, 1, figsize=(9, 4.8 * panels), squeeze=False)
    axes_iter = iter(axes_list[:, 0])
    if streaming is not None and measures:
        axes = next(axes_iter)
        grouped_bars(
            axes,
            [STREAM_MEASURES[key] for key in measures],
            stream_medians(streaming, "measure", measures, "events_per_second"),
            log=True,
            label_format="{:,.0f}",
        )
        axes.set_title("streaming.py: plain events through uvicorn", fontsize=10)
        axes.set_ylabel("events/s (log scale; higher is better)")
        axes.set_xlabel(environment_line(streaming), fontsize=7)
        axes.legend(fontsize=7, loc="upper right")
    if streaming is not None and dropin:
        axes = next(axes_iter)
        grouped_bars(
            axes,
            [DROPIN_MEASURES[key] for key in dropin],
            stream_medians(streaming, "measure", dropin, "events_per_second", DROPIN_LIBRARIES),
            log=True,
            label_format="{:,.0f}",
        )
        axes.set_title(
            "streaming.py, drop-in: sse-starlette's code (a ServerSentEvent per event, CRLF)",
            fontsize=10,
        )
        axes.set_ylabel("events/s (log scale)")
        axes.set_xlabel(environment_line(streaming), fontsize=7)
        axes.legend(fontsize=7, loc="upper right")
    if fastapi is not None:
        cases = [key for key in FASTAPI_CASES if any_key(fastapi, "case", key)]
        axes = next(axes_iter)
        grouped_bars(
            axes,
            [FASTAPI_CASES[key] for key in cases],
            stream_medians(fastapi, "case", cases, "events_per_second"),
            log=True,
            label_format="{:,.0f}",
        )
        axes.set_title(
            f"fastapi_streaming.py: typed pydantic items, {fastapi['events']:,} per stream",
            fontsize=10,
        )
        axes.set_ylabel("events/s (log scale)")
        axes.set_xlabel(environment_line(fastapi), fontsize=7)
        axes.legend(fontsize=7, loc="upper right")
    return figure


def any_key(results: Mapping[str, Any], key_name: str, key: str) -> bool:
    return any(entry[key_name] == key for entry in results["streams"])


def latency(results: Mapping[str, Any]) -> Any:
    figure, (first_axes, delivery_axes, hog_axes) = plt.subplots(
        1, 3, figsize=(14, 4.8), width_ratios=(1, 2, 0.8)
    )
    percentiles = ("p50_us", "p99_us")
    first = {entry["library"]: entry["samples"] for entry in results["first_event"]}
    grouped_bars(
        first_axes,
        ["p50", "p99"],
        {
            library: [
                median([s[p] for s in first[library]]) if library in first else None
                for p in percentiles
            ]
            for library in STREAM_LIBRARIES
        },
        log=True,
        label_format="{:,.0f}",
    )
    first_axes.set_title("time to first event\n(request written -> event read)", fontsize=10)
    first_axes.set_ylabel("microseconds (log scale; lower is better)")
    first_axes.legend(fontsize=7, loc="upper left")

    by_key = {(e["scenario"], e["library"]): e["samples"] for e in results["latency"]}

    def medians(scenario: str, value: str) -> dict[str, float | None]:
        return {
            library: median([s[value] for s in samples])
            if (samples := by_key.get((scenario, library)))
            else None
            for library in STREAM_LIBRARIES
        }

    paced = [key for key in ("1", "100") if any(s == key for s, _ in by_key)]
    cells = [(key, p) for key in paced for p in percentiles]
    grouped_bars(
        delivery_axes,
        [f"{LATENCY_SCENARIOS[key]}, {p[:3]}" for key, p in cells],
        {library: [medians(key, p)[library] for key, p in cells] for library in STREAM_LIBRARIES},
        log=True,
        label_format="{:,.0f}",
    )
    delivery_axes.set_title(
        "latency at 100 events/s per stream\n(producer yields -> event read)", fontsize=10
    )
    delivery_axes.set_xlabel(environment_line(results), fontsize=7)

    # Starvation shows in how late the paced events arrive against their schedule: a starved
    # producer stamps its event late and sends it at once, so its latency looks fine.
    late = medians("hog", "late_p99_us")
    grouped_bars(
        hog_axes,
        ["late p99"],
        {library: [late[library]] for library in STREAM_LIBRARIES},
        log=True,
        label_format="{:,.0f}",
    )
    hog_axes.set_title(
        "fairness: a paced stream beside a\nnever-waiting one (arrival - schedule)", fontsize=10
    )
    return figure


def memory(streaming: Mapping[str, Any]) -> Any:
    idle = {entry["library"]: entry["samples"] for entry in streaming["idle"]}
    libraries = [library for library in IDLE_LIBRARIES if library in idle]
    kib = [median([s["bytes_per_connection"] for s in idle[lib]]) / 1024 for lib in libraries]
    tasks = [median([s["tasks_per_connection"] for s in idle[lib]]) for lib in libraries]
    connections = idle[libraries[0]][0]["connections"]
    figure, axes = plt.subplots(figsize=(7.5, 4.4))
    bars = axes.bar(
        [LEGEND[lib] for lib in libraries], kib, color=[COLOURS[lib] for lib in libraries]
    )
    axes.bar_label(
        bars,
        labels=[f"{k:.1f} KiB\n{t:.2f} tasks" for k, t in zip(kib, tasks, strict=True)],
        fontsize=8,
        padding=2,
    )
    if "StreamingResponse" in libraries:
        # The SPEC's idle-memory target: within 10% of the reference.
        limit = kib[libraries.index("StreamingResponse")] * IDLE_MEMORY_TARGET
        axes.axhline(limit, color="#555555", linestyle="--", linewidth=0.8)
        axes.text(
            len(libraries) - 0.5,
            limit,
            "target: StreamingResponse + 10%",
            fontsize=7,
            ha="right",
            va="bottom",
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
        )
    axes.set_title(f"{connections:,} idle streams in one uvicorn: cost per connection", fontsize=10)
    axes.set_ylabel("server RSS growth per connection, KiB (lower is better)")
    axes.tick_params(axis="x", labelsize=8)
    axes.margins(y=0.2)
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)
    axes.set_xlabel(environment_line(streaming), fontsize=7)
    return figure


def encoding(results: Mapping[str, Any]) -> Any:
    def section(case: Mapping[str, Any]) -> str:
        # Files written before the drop-in rows have no "section", only "target".
        return str(case.get("section", "target" if case.get("target") else "extra"))

    panels = [
        (
            "encoding.py: building and encoding one event",
            [case for case in results["cases"] if section(case) == "target"],
            ENCODING_LIBRARIES,
        ),
        (
            "encoding.py, drop-in: sse-starlette's code with each library's classes",
            [case for case in results["cases"] if section(case) == "drop-in"],
            ENCODING_DROPIN_LIBRARIES,
        ),
    ]
    panels = [panel for panel in panels if panel[1]]
    figure, axes_list = plt.subplots(len(panels), 1, figsize=(9, 4.5 * len(panels)), squeeze=False)
    for axes, (title, cases, libraries) in zip(axes_list[:, 0], panels, strict=True):
        grouped_bars(
            axes,
            [case["name"].removeprefix("drop-in ").replace(" ", "\n", 1) for case in cases],
            {
                library: [
                    case["libraries"][library]["median_ns_per_event"]
                    if library in case["libraries"]
                    else None
                    for case in cases
                ]
                for library in libraries
            },
            log=True,
            label_format="{:,.0f}",
        )
        axes.set_title(title, fontsize=10)
        axes.set_ylabel("nanoseconds per event (log scale; lower is better)")
        axes.set_xlabel(environment_line(results), fontsize=7)
        axes.legend(fontsize=7, loc="upper left")
    return figure


def load(data: Path, name: str) -> dict[str, Any] | None:
    path = data / RESULT_FILES[name]
    if not path.exists():
        if name not in OPTIONAL_FILES:
            print(f"skipped what needs {path}: not found", file=sys.stderr)
        return None
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def draw_all(data: Path, out: Path) -> list[Path]:
    """Every figure whose data is present in `data`, written to `out`; the files written."""
    results = {name: load(data, name) for name in RESULT_FILES}
    streaming, fastapi = results["streaming"], results["fastapi"]
    figures: dict[str, Callable[[], Any]] = {}
    if streaming is not None or fastapi is not None:
        figures["throughput.png"] = lambda: throughput(streaming, fastapi)
    # The idle measure's own run when there is one, else the idle part of the whole run.
    idle = next((r for r in (results["idle"], streaming) if r is not None and r.get("idle")), None)
    if idle is not None:
        figures["memory.png"] = lambda: memory(idle)
    if (latency_results := results["latency"]) is not None:
        figures["latency.png"] = lambda: latency(latency_results)
    if (encoding_results := results["encoding"]) is not None:
        figures["encoding.png"] = lambda: encoding(encoding_results)
    written = []
    out.mkdir(parents=True, exist_ok=True)
    for name, draw in figures.items():
        figure = draw()
        figure.tight_layout()
        path = out / name
        # No timestamp or version in the file, so that redrawing the same data changes nothing.
        figure.savefig(path, dpi=110, metadata={"Software": None})
        plt.close(figure)
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=DATA, help=f"the folder with the JSON files (default {DATA})"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="where to write the figures (default: --data)"
    )
    args = parser.parse_args(argv)
    written = draw_all(args.data, args.out or args.data)
    for path in written:
        print(f"wrote {path}")
    if not written:
        print(f"no results in {args.data}: nothing to draw", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
