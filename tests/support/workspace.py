"""What must agree across the workspace's packages, read from files (so it can be checked on a
copy of the tree as well as on the real one): sibling pins, ``__version__`` and changelogs."""

from __future__ import annotations

__all__ = ["changelog_mismatches", "pin_mismatches", "project", "version_mismatches"]

import re
import tomllib
from typing import TYPE_CHECKING, Any

from packaging.requirements import Requirement

if TYPE_CHECKING:
    from pathlib import Path


def project(folder: Path) -> dict[str, Any]:
    """The [project] table of the package in `folder`."""
    with (folder / "pyproject.toml").open("rb") as file:
        table: dict[str, Any] = tomllib.load(file)["project"]
    return table


def _packages(packages: Path) -> dict[str, Path]:
    folders = sorted(path.parent for path in packages.glob("*/pyproject.toml"))
    return {project(folder)["name"]: folder for folder in folders}


def pin_mismatches(packages: Path) -> list[str]:
    """Each requirement of a package on a sibling (extras' included) that is not ``==`` the
    sibling's version, as a sentence; empty when every pin agrees."""
    folders = _packages(packages)
    versions = {name: project(folder)["version"] for name, folder in folders.items()}
    found = []
    for name, folder in folders.items():
        table = project(folder)
        lines = [*table.get("dependencies", [])]
        for extra in table.get("optional-dependencies", {}).values():
            lines += extra
        for line in lines:
            requirement = Requirement(line)
            if requirement.name in versions:
                pinned = versions[requirement.name]
                if str(requirement.specifier) != f"=={pinned}":
                    found.append(f"{name} requires {line!r} but {requirement.name} is {pinned}")
    return found


def version_mismatches(packages: Path) -> list[str]:
    """Each package whose sources do not assign ``__version__`` its pyproject version once."""
    found = []
    for name, folder in _packages(packages).items():
        version = project(folder)["version"]
        init = folder / "src" / name.replace("-", "_") / "__init__.py"
        assigned = re.findall(r'^__version__ = "([^"]*)"', init.read_text(), re.MULTILINE)
        if assigned != [version]:
            found.append(f"{name} is {version} but {init} assigns __version__ {assigned}")
    return found


def changelog_mismatches(packages: Path) -> list[str]:
    """Each package without a CHANGELOG.md entry (``## <version>``) for its version."""
    found = []
    for folder in _packages(packages).values():
        version = project(folder)["version"]
        changelog = folder / "CHANGELOG.md"
        text = changelog.read_text() if changelog.exists() else ""
        if not re.search(rf"^## \[?{re.escape(version)}\]?(\s|$)", text, re.MULTILINE):
            found.append(f"{changelog} has no '## {version}' entry")
    return found
