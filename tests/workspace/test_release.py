"""Releasing: each package's changelog has its version and ships in the sdist, and tools/bump.py
moves a version and every sibling's pin on it together, or writes nothing and says why.

The bump runs as a maintainer runs it (the script, in a subprocess) on a copy of packages/ in
tmp_path, never on the real tree; ``--no-lock`` there, since uv would resolve the copy against
the index (the lock step is checked by making it fail)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from support.workspace import changelog_mismatches, pin_mismatches, version_mismatches

ROOT = Path(__file__).resolve().parents[2]
BUMP = ROOT / "tools" / "bump.py"


def test_every_changelog_has_an_entry_for_its_package_version() -> None:
    assert changelog_mismatches(ROOT / "packages") == []


@pytest.mark.parametrize("folder", sorted((ROOT / "packages").glob("*/pyproject.toml")))
def test_the_changelog_is_in_the_sdist(folder: Path) -> None:
    # tools/publish_check.py opens the built sdists; this says which setting puts it there.
    with folder.open("rb") as file:
        backend = tomllib.load(file)["tool"]["uv"]["build-backend"]
    assert "CHANGELOG.md" in backend["source-include"]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the workspace's packages (and lock file) to bump."""
    shutil.copytree(
        ROOT / "packages", tmp_path / "packages", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "uv.lock", tmp_path / "uv.lock")
    return tmp_path


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def bump(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BUMP), "--root", str(root), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


@pytest.mark.parametrize(
    ("package", "module", "dependents"),
    [
        ("sse-core", "sse_core", ["sse-broadcast", "sse-starlette-binding"]),
        ("sse-starlette-binding", "sse_starlette_binding", ["sse-fastapi-binding"]),
        ("sse-fastapi-binding", "sse_fastapi_binding", []),
    ],
)
def test_bump_moves_the_version_and_every_pin_on_it(
    tree: Path, package: str, module: str, dependents: list[str]
) -> None:
    before = snapshot(tree)
    result = bump(tree, "--no-lock", package, "0.2.0")
    assert result.returncode == 0, result.stderr
    packages = tree / "packages"
    assert (
        tomllib.loads((packages / package / "pyproject.toml").read_text())["project"]["version"]
        == "0.2.0"
    )
    assert (
        '__version__ = "0.2.0"' in (packages / package / "src" / module / "__init__.py").read_text()
    )
    for dependent in dependents:
        assert f'"{package}==0.2.0"' in (packages / dependent / "pyproject.toml").read_text()
        assert f"{dependent} now pins {package}==0.2.0: release it too" in result.stdout
    # Pins and versions agree again, and the only files touched are those named.
    assert pin_mismatches(packages) == []
    assert version_mismatches(packages) == []
    changed = {name for name, data in snapshot(tree).items() if before[name] != data}
    assert changed == {
        f"packages/{package}/pyproject.toml",
        f"packages/{package}/src/{module}/__init__.py",
        *(f"packages/{dependent}/pyproject.toml" for dependent in dependents),
    }
    # The changelog is the maintainer's to write; CI says so until it is.
    assert changelog_mismatches(packages) == [
        f"{packages / package / 'CHANGELOG.md'} has no '## 0.2.0' entry"
    ]


def test_bump_keeps_a_pins_extras_marker_and_the_rest_of_the_line(tree: Path) -> None:
    pyproject = tree / "packages" / "sse-broadcast" / "pyproject.toml"
    pin = "\"sse-core[pydantic]==0.1.0; python_version >= '3.11'\""
    text = pyproject.read_text().replace('redis = ["redis>=5.0.1"]', f"redis = [{pin}]  # why")
    pyproject.write_text(text)
    assert bump(tree, "--no-lock", "sse-core", "0.1.1").returncode == 0
    assert pyproject.read_text() == text.replace("==0.1.0", "==0.1.1")
    assert pin_mismatches(tree / "packages") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sse-django", "1.0.0"], "no package 'sse-django'"),
        (["sse-core", "banana"], "'banana' is not a valid version"),
        (["sse-core", "v0.2.0"], "normal form: 0.2.0 (not 'v0.2.0')"),
        (["sse-core", "1.0-rc1"], "normal form: 1.0rc1"),
        (["sse-core", "0.1.0"], "0.1.0 is not above the current version 0.1.0"),
        (["sse-core", "0.0.9"], "0.0.9 is not above the current version 0.1.0"),
    ],
)
def test_bump_refuses_and_writes_nothing(tree: Path, args: list[str], message: str) -> None:
    before = snapshot(tree)
    result = bump(tree, "--no-lock", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert snapshot(tree) == before


def test_bump_refuses_a_sibling_requirement_that_is_not_an_exact_pin(tree: Path) -> None:
    pyproject = tree / "packages" / "sse-broadcast" / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"sse-core==0.1.0"', '"sse-core>=0.1"'))
    before = snapshot(tree)
    result = bump(tree, "--no-lock", "sse-core", "0.2.0")
    assert result.returncode == 2
    assert "requires 'sse-core>=0.1': siblings pin each other exactly" in result.stderr
    assert snapshot(tree) == before


def test_a_failed_uv_lock_puts_every_file_back(tree: Path, tmp_path: Path) -> None:
    # The uv the bump runs is the one `uv run` names in UV: here, one that fails.
    failing = tmp_path / "failing-uv"
    failing.write_text("#!/bin/sh\nexit 3\n")
    failing.chmod(0o755)
    before = snapshot(tree)
    result = bump(tree, "sse-core", "0.2.0", env={"PATH": "/usr/bin:/bin", "UV": str(failing)})
    assert result.returncode == 2
    assert "uv lock failed (exit 3); every file put back" in result.stderr
    assert snapshot(tree) == before


def test_the_bump_shown_in_docs_releasing_is_what_the_command_prints(tree: Path) -> None:
    docs = (ROOT / "docs" / "releasing.md").read_text()
    block = docs.split("```console\n", 1)[1].split("```", 1)[0].splitlines()
    command, shown = block[0], block[1:]
    assert command == "$ uv run python tools/bump.py sse-core 0.2.0"
    result = bump(tree, "--no-lock", *command.split()[-2:])
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == shown
