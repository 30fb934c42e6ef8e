"""Workspace facts no tool checks for us: sibling pins, sse_core's stdlib-only import, and
sse_broadcast's two dependencies (redis-py only with its extra, imported only when used)."""

from __future__ import annotations

import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from support.workspace import pin_mismatches

import sse_core

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "packages"


def project(name: str) -> dict[str, object]:
    with (PACKAGES / name / "pyproject.toml").open("rb") as file:
        table: dict[str, object] = tomllib.load(file)["project"]
    return table


SIBLINGS = sorted(path.name for path in PACKAGES.iterdir() if (path / "pyproject.toml").exists())


def test_the_four_packages_are_there() -> None:
    assert SIBLINGS == [
        "sse-broadcast",
        "sse-core",
        "sse-fastapi-binding",
        "sse-starlette-binding",
    ]


def test_sibling_pins_match_the_siblings_versions() -> None:
    # Extras' requirements too; tools/bump.py keeps them agreeing (tests/workspace/test_release.py).
    assert pin_mismatches(PACKAGES) == []


def test_sse_core_declares_no_runtime_dependency() -> None:
    assert project("sse-core")["dependencies"] == []


def test_sse_core_version_attribute_matches_metadata() -> None:
    assert sse_core.__version__ == project("sse-core")["version"]


def test_importing_sse_core_imports_only_the_standard_library() -> None:
    script = (
        "import sys; before = set(sys.modules); import sse_core; "
        "print('\\n'.join(sorted(set(sys.modules) - before)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = {name.partition(".")[0] for name in result.stdout.split()}
    foreign = loaded - set(sys.stdlib_module_names) - {"sse_core"}
    assert not foreign, f"import sse_core loaded non-stdlib modules: {sorted(foreign)}"
    assert "sse_core" in loaded


def test_sse_broadcast_depends_on_sse_core_and_anyio_only_and_redis_is_an_extra() -> None:
    dependencies = project("sse-broadcast")["dependencies"]
    assert isinstance(dependencies, list)
    assert {Requirement(line).name for line in dependencies} == {"sse-core", "anyio"}
    extras = project("sse-broadcast")["optional-dependencies"]
    assert isinstance(extras, dict)
    assert [Requirement(line).name for line in extras["redis"]] == ["redis"]


@pytest.mark.parametrize("name", ["sse-broadcast", "sse-starlette-binding", "sse-fastapi-binding"])
def test_version_attributes_match_metadata(name: str) -> None:
    module = importlib.import_module(name.replace("-", "_"))
    assert module.__version__ == project(name)["version"]


def test_importing_sse_broadcast_imports_neither_redis_nor_a_binding() -> None:
    script = (
        "import sys; before = set(sys.modules); import sse_broadcast; "
        "print('\\n'.join(sorted(set(sys.modules) - before)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = {name.partition(".")[0] for name in result.stdout.split()}
    foreign = loaded - set(sys.stdlib_module_names) - {"sse_broadcast", "sse_core", "anyio"}
    # anyio brings its own (idna, sniffio...) on some versions: only these may never come.
    assert not foreign & {"redis", "starlette", "sse_starlette_binding", "pydantic"}, foreign
