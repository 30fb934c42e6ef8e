"""Give one workspace package a new version, and every sibling's pin on it, in one step.

Usage::

    uv run python tools/bump.py sse-core 0.2.0

Edits, keeping every other byte of each file:

- ``version`` in the package's own packages/<name>/pyproject.toml;
- the ``__version__ = "..."`` assignment in its sources (``sse_core.__version__``);
- every sibling's exact pin on it (``"sse-core==0.1.0"`` becomes ``"sse-core==0.2.0"``, extras
  and markers kept), in ``dependencies`` and ``optional-dependencies`` alike;

then runs ``uv lock`` (the lock file records each member's version, and CI installs with
``uv sync --locked``); ``--no-lock`` skips that. Refused, with a message and exit status 2,
before anything is written: an unknown package, a version that is not PEP 440 in its normal
form (``0.2.0``, ``1.0.0rc1``; not ``v0.2`` or ``1.0-rc1``), a version not above the current
one, a sibling requirement on the package that is not an exact ``==`` pin, or sources with no
single ``__version__`` to change. If ``uv lock`` fails, every file is put back as it was.

A sibling whose pin changed now describes different metadata under its old version: release it
too (bump it, then publish both); the command names those siblings. See docs/releasing.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parents[1]
# A TOML basic string on one line: where requirements live in a pyproject.toml.
QUOTED = re.compile(r'"([^"\\\n]*)"')


class BumpRefused(Exception):
    """The bump cannot be done as asked; nothing was written."""


@dataclass(frozen=True)
class Package:
    """One member of the workspace: its folder and what its pyproject.toml says."""

    name: str
    version: str
    folder: Path


def workspace_packages(root: Path) -> dict[str, Package]:
    """Every package under `root`/packages, by its canonical name."""
    packages: dict[str, Package] = {}
    for pyproject in sorted((root / "packages").glob("*/pyproject.toml")):
        with pyproject.open("rb") as file:
            project = tomllib.load(file)["project"]
        name = canonicalize_name(project["name"])
        packages[name] = Package(name, project["version"], pyproject.parent)
    return packages


def check_version(text: str, current: str) -> str:
    """`text` as a new version above `current`, or BumpRefused saying why not."""
    try:
        version = Version(text)
    except InvalidVersion:
        raise BumpRefused(f"{text!r} is not a valid version (PEP 440), e.g. 0.2.0") from None
    if str(version) != text:
        raise BumpRefused(f"write the version in its normal form: {version} (not {text!r})")
    if version <= Version(current):
        raise BumpRefused(f"{text} is not above the current version {current}")
    return text


def set_project_version(text: str, old: str, new: str, where: Path) -> str:
    """`text` (a pyproject.toml) with the [project] table's version changed from `old`."""
    start = re.search(r"^\[project\]\s*$", text, re.MULTILINE)
    if start is None:
        raise BumpRefused(f"{where} has no [project] table")
    following = re.search(r"^\[", text[start.end() :], re.MULTILINE)
    end = start.end() + following.start() if following else len(text)
    table, count = re.subn(
        rf'^(version\s*=\s*)"{re.escape(old)}"',
        rf'\g<1>"{new}"',
        text[start.end() : end],
        flags=re.MULTILINE,
    )
    if count != 1:
        raise BumpRefused(f'{where}: expected one `version = "{old}"` in [project]')
    return text[: start.end()] + table + text[end:]


def repin(text: str, name: str, old: str, new: str, where: Path) -> tuple[str, int]:
    """`text` (a pyproject.toml) with each requirement on `name` pinned at `new`, in
    ``dependencies`` and ``optional-dependencies``; how many requirements it changed."""
    project = tomllib.loads(text)["project"]
    extras: dict[str, list[str]] = project.get("optional-dependencies", {})
    requirements = {*project.get("dependencies", []), *(r for rs in extras.values() for r in rs)}
    changed = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal changed
        if match[1] not in requirements:
            return match[0]  # the project's name, a description, a comment's quote...
        requirement = Requirement(match[1])
        if canonicalize_name(requirement.name) != name:
            return match[0]
        if str(requirement.specifier) != f"=={old}":
            raise BumpRefused(
                f"{where} requires {match[1]!r}: siblings pin each other exactly "
                f"({name}=={old}); fix that by hand first"
            )
        # Only the version moves: the requirement's own text keeps its extras, marker and quotes
        # (str(Requirement) would write a marker's values in double quotes, breaking the TOML).
        head, semicolon, marker = match[1].partition(";")
        head, count = re.subn(rf"==\s*{re.escape(old)}(?=\s*$)", f"=={new}", head)
        repinned = Requirement(head + semicolon + marker)
        if count != 1 or str(repinned.specifier) != f"=={new}":
            raise BumpRefused(f"{where}: could not repin {match[1]!r}")
        changed += 1
        return f'"{head}{semicolon}{marker}"'

    return QUOTED.sub(replace, text), changed


def set_dunder_version(package: Package, new: str) -> tuple[Path, str]:
    """The one source file that assigns the package's ``__version__``, with `new` in it."""
    pattern = re.compile(rf'^(__version__\s*=\s*)"{re.escape(package.version)}"', re.MULTILINE)
    found = [
        (path, text)
        for path in sorted((package.folder / "src").rglob("*.py"))
        if pattern.search(text := path.read_text(encoding="utf-8"))
    ]
    if len(found) != 1:
        raise BumpRefused(
            f'{package.name}: expected one `__version__ = "{package.version}"` under '
            f"{package.folder / 'src'}, found {len(found)}"
        )
    path, text = found[0]
    return path, pattern.sub(rf'\g<1>"{new}"', text, count=1)


def plan(root: Path, name: str, version: str) -> tuple[dict[Path, str], list[str]]:
    """Every file's new text, and the siblings whose pins change; BumpRefused if any fails."""
    packages = workspace_packages(root)
    key = canonicalize_name(name)
    if key not in packages:
        known = ", ".join(sorted(packages))
        raise BumpRefused(f"no package {name!r} under {root / 'packages'} (known: {known})")
    package = packages[key]
    new = check_version(version, package.version)
    edits: dict[Path, str] = {}
    repinned: list[str] = []
    for sibling in packages.values():
        pyproject = sibling.folder / "pyproject.toml"
        text = pyproject.read_text(encoding="utf-8")
        if sibling is package:
            text = set_project_version(text, package.version, new, pyproject)
        text, changed = repin(text, key, package.version, new, pyproject)
        if changed:
            repinned.append(sibling.name)
        edits[pyproject] = text
    source, text = set_dunder_version(package, new)
    edits[source] = text
    return edits, repinned


def uv_command() -> list[str]:
    found = os.environ.get("UV") or shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def write(edits: dict[Path, str]) -> None:
    for path, text in edits.items():
        temporary = path.with_name(path.name + ".bump")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)


def bump(root: Path, name: str, version: str, *, lock: bool) -> list[str]:
    """Apply the bump under `root`; return the siblings whose pins changed."""
    edits, repinned = plan(root, name, version)
    lock_file = root / "uv.lock"
    before = {path: path.read_text(encoding="utf-8") for path in edits}
    if lock and lock_file.exists():
        before[lock_file] = lock_file.read_text(encoding="utf-8")
    write({path: text for path, text in edits.items() if text != before[path]})
    if lock:
        result = subprocess.run([*uv_command(), "lock"], cwd=root, check=False)
        if result.returncode != 0:
            write(before)
            raise BumpRefused(f"uv lock failed (exit {result.returncode}); every file put back")
    return repinned


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="tools/bump.py", description="Bump a package's version and its siblings' pins."
    )
    parser.add_argument("package", help="a distribution under packages/, e.g. sse-core")
    parser.add_argument("version", help="the new version, PEP 440 normal form, e.g. 0.2.0")
    parser.add_argument("--no-lock", action="store_true", help="do not run `uv lock` afterwards")
    parser.add_argument("--root", type=Path, default=ROOT, help="the workspace (default: here)")
    args = parser.parse_args(argv)
    try:
        repinned = bump(args.root, args.package, args.version, lock=not args.no_lock)
    except BumpRefused as refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return 2
    print(f"{args.package} is now {args.version}: give it a '## {args.version}' CHANGELOG.md entry")
    for sibling in repinned:
        print(f"{sibling} now pins {args.package}=={args.version}: release it too (bump it)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
