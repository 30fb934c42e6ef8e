"""The benchmark scripts the README and docs/performance.md tell people to run still run.

Each script runs once at its smallest size, as a user would start it, and must measure (exit 0:
every library wrote the same bytes and every stream was complete), print its table, and write
a ``--json`` file that `plots.py` then draws. Nothing here looks at speed: the numbers of such
short runs on a shared machine mean nothing, and speed is the scripts' business, not the
tests'.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

if TYPE_CHECKING:
    from collections.abc import Sequence

pytestmark = pytest.mark.slow

BENCHMARKS: Final = Path(__file__).resolve().parents[2] / "benchmarks"
LIBRARIES: Final = {"ours", "sse-starlette", "fastapi.sse", "raw ASGI"}
# streaming.py's drop-in pair: sse-starlette's code run by our binding, and by sse-starlette.
DROPIN_LIBRARIES: Final = {"drop-in", "sse-starlette (drop-in code)"}
# streaming.py's idle measure adds a reference: Starlette's plain StreamingResponse.
IDLE_LIBRARIES: Final = LIBRARIES | {"StreamingResponse"}
SCRIPT_TIMEOUT: Final = 180.0
PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"


def run_script(name: str, *args: str) -> str:
    """Run ``benchmarks/<name>`` with `args`; its output, or a test failure with that output.

    The script runs in its own process group. On a timeout it gets SIGTERM first, which it
    turns into a normal exit that stops the servers it started (each in its own group), and
    only then is the group killed.
    """
    command: Sequence[str] = [sys.executable, str(BENCHMARKS / name), *args]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=SCRIPT_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=15)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        pytest.fail(f"{name} {' '.join(args)} took over {SCRIPT_TIMEOUT} s:\n{output}")
    if process.returncode != 0:
        pytest.fail(f"{name} {' '.join(args)} exited {process.returncode}:\n{output}")
    return output


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every script's smallest run, its JSON file in one folder under plots.py's names."""
    folder = tmp_path_factory.mktemp("results")
    run_script("encoding.py", "--quick", "--runs", "1", "--json", str(folder / "encoding.json"))
    run_script(
        "streaming.py",
        "--quick",
        "--only",
        "yield,concurrent-fast,dropin-yield,idle",
        "--connections",
        "100",
        "--json",
        str(folder / "streaming.json"),
    )
    run_script(
        "fastapi_streaming.py",
        "--events",
        "2000",
        "--runs",
        "1",
        "--only",
        "fast",
        "--json",
        str(folder / "fastapi_streaming.json"),
    )
    run_script(
        "latency.py",
        "--quick",
        "--runs",
        "1",
        "--only",
        "first,1",
        "--json",
        str(folder / "latency.json"),
    )
    return folder


def test_streaming_measures_every_library(results: Path) -> None:
    streaming = load(results / "streaming.json")
    measured = {(entry["measure"], entry["library"]) for entry in streaming["streams"]}
    assert measured == {
        (measure, library) for measure in ("yield", "concurrent-fast") for library in LIBRARIES
    } | {("dropin-yield", library) for library in DROPIN_LIBRARIES}
    dropin = [e for e in streaming["streams"] if e["measure"] == "dropin-yield"]
    assert {sample["events"] for e in dropin for sample in e["samples"]} == {10_000}
    concurrent = [e for e in streaming["streams"] if e["measure"] == "concurrent-fast"]
    # 50 streams of 1,000 events each (a tenth of 500,000, split 50 ways), all counted.
    assert {sample["events"] for e in concurrent for sample in e["samples"]} == {50_000}
    idle = {entry["library"]: entry["samples"] for entry in streaming["idle"]}
    assert set(idle) == IDLE_LIBRARIES
    assert all(sample["connections"] == 100 for samples in idle.values() for sample in samples)


def test_encoding_measures_every_case_for_every_library(results: Path) -> None:
    cases = load(results / "encoding.json")["cases"]
    by_section: dict[str, list[dict[str, Any]]] = {}
    for case in cases:
        by_section.setdefault(case["section"], []).append(case)
    # The SPEC's seven encoding cases, each against both peers, each with its own targets.
    assert len(by_section["target"]) == 7
    for case in by_section["target"]:
        assert set(case["libraries"]) == {"sse-core", "sse-starlette", "fastapi"}, case["name"]
        assert case["targets"], case["name"]
        assert case["status"] != "extra", case["name"]
    # sse-starlette's code for six of them, run with each library's classes.
    assert len(by_section["drop-in"]) == 6
    for case in by_section["drop-in"]:
        assert set(case["libraries"]) == {"drop-in", "sse-starlette"}, case["name"]
        assert case["targets"] == [{"library": "sse-starlette", "ratio": 1.0, "strict": False}]
    for case in cases:
        for library in case["libraries"].values():
            assert library["median_ns_per_event"] > 0


def test_latency_measures_every_library(results: Path) -> None:
    latency = load(results / "latency.json")
    assert {entry["library"] for entry in latency["first_event"]} == LIBRARIES
    scenarios = {(entry["scenario"], entry["library"]) for entry in latency["latency"]}
    assert scenarios == {("1", library) for library in LIBRARIES}
    for entry in latency["latency"]:
        for sample in entry["samples"]:
            assert 0 < sample["p50_us"] <= sample["p99_us"] <= sample["max_us"]


def test_plots_draws_every_figure(results: Path, tmp_path: Path) -> None:
    output = run_script("plots.py", "--data", str(results), "--out", str(tmp_path))
    figures = {"throughput.png", "latency.png", "memory.png", "encoding.png"}
    assert {path.name for path in tmp_path.iterdir()} == figures, output
    for name in figures:
        assert (tmp_path / name).read_bytes().startswith(PNG_SIGNATURE), name


def test_plots_draws_memory_from_an_idle_run(results: Path, tmp_path: Path) -> None:
    # A `streaming.py --only idle` run, saved as idle.json, is drawn on its own.
    streaming = load(results / "streaming.json")
    idle_only = {**streaming, "streams": []}
    (tmp_path / "idle.json").write_text(json.dumps(idle_only))
    output = run_script("plots.py", "--data", str(tmp_path))
    assert {path.name for path in tmp_path.iterdir()} == {"idle.json", "memory.png"}, output
    assert (tmp_path / "memory.png").read_bytes().startswith(PNG_SIGNATURE)


def test_plots_says_when_there_is_nothing_to_draw(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / "plots.py"), "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 1
    assert "nothing to draw" in completed.stderr


def test_fanout_measures_ours_and_the_peer_with_each_backend(tmp_path: Path) -> None:
    output = run_script(
        "fanout.py",
        *("--subscribers", "20", "--events", "20", "--slow", "3", "--slow-events", "300"),
        *("--json", str(tmp_path / "f.json")),
    )
    results = load(tmp_path / "f.json")
    # Memory always; Redis too where redis-server is installed (CI installs it), with one
    # worker and with two.
    cases = {("memory", 1)}
    if Path("/usr/bin/redis-server").exists():
        cases |= {("redis", 1), ("redis", 2)}
    samples = results["throughput"]
    assert {(s["library"], s["backend"], s["workers"]) for s in samples} == {
        (library, backend, workers) for library in ("ours", "peer") for backend, workers in cases
    }
    for sample in samples:
        assert sample["subscribers"] == 20
        assert sample["delivered_per_s"] > 0
    assert "ours/peer delivered events/s" in output
    # The healthy subscriber's latency alone and beside three that stopped reading.
    beside = results["beside_slow"]
    assert [s["library"] for s in beside] == ["ours", "peer"]
    for sample in beside:
        assert sample["slow_subscribers"] == 3
        assert sample["events"] == 300
        assert 0 < sample["alone_p50_ms"] <= sample["alone_p99_ms"]
        assert 0 < sample["beside_p50_ms"] <= sample["beside_p99_ms"]
