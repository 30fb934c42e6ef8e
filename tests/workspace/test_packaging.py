"""Workspace facts no tool checks for us: sibling pins, and sse_core's stdlib-only import."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import sse_core

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "packages"


def project(name: str) -> dict[str, object]:
    with (PACKAGES / name / "pyproject.toml").open("rb") as file:
        table: dict[str, object] = tomllib.load(file)["project"]
    return table


SIBLINGS = sorted(path.name for path in PACKAGES.iterdir() if (path / "pyproject.toml").exists())


def test_the_three_packages_are_there() -> None:
    assert SIBLINGS == ["sse-core", "sse-fastapi-binding", "sse-starlette-binding"]


@pytest.mark.parametrize("name", SIBLINGS)
def test_sibling_pins_match_the_siblings_versions(name: str) -> None:
    versions = {sibling: project(sibling)["version"] for sibling in SIBLINGS}
    dependencies = project(name).get("dependencies", [])
    assert isinstance(dependencies, list)
    for line in dependencies:
        requirement = Requirement(line)
        if requirement.name in versions:
            assert str(requirement.specifier) == f"=={versions[requirement.name]}", (
                f"{name} pins {requirement} but {requirement.name} is {versions[requirement.name]}"
            )


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
