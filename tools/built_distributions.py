"""The workspace's packages as built in dist/: their files, requirements, pins and changelogs.

What tools/publish_check.py knows before any index exists: the wheel and the sdist of each
package under packages/ (found by name and version), the requirements in the wheel's metadata
(the truth pip sees, not pyproject.toml's), the siblings a package pins, and the third-party
distributions a local index must hold for the packages to install from it alone.
"""

from __future__ import annotations

import hashlib
import re
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass, field
from email.parser import HeaderParser
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
# The extras a user would install too, so their dependencies must be on the index as well.
EXTRAS = {"sse-broadcast": ["redis"]}


class CheckFailed(Exception):
    """A release check did not hold; the message says which and why."""


@dataclass
class Distribution:
    """One workspace package as built: its files in dist/ and what its wheel requires."""

    name: str
    version: str
    wheel: Path
    sdist: Path
    requires: list[Requirement] = field(default_factory=list)
    build_requires: list[str] = field(default_factory=list)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def workspace_distributions(dist: Path) -> dict[str, Distribution]:
    """Every package under packages/, with its built wheel and sdist found in `dist`."""
    found: dict[str, Distribution] = {}
    for pyproject in sorted(ROOT.glob("packages/*/pyproject.toml")):
        with pyproject.open("rb") as file:
            table = tomllib.load(file)
        name, version = table["project"]["name"], table["project"]["version"]
        stem = f"{re.sub(r'[-.]+', '_', name)}-{version}"
        wheel, sdist = dist / f"{stem}-py3-none-any.whl", dist / f"{stem}.tar.gz"
        for path in (wheel, sdist):
            if not path.is_file():
                raise CheckFailed(f"{path} is missing: build the wheels and sdists first")
        with zipfile.ZipFile(wheel) as archive:
            metadata = archive.read(f"{stem}.dist-info/METADATA").decode("utf-8")
        requires = [
            Requirement(line)
            for line in HeaderParser().parsestr(metadata).get_all("Requires-Dist", [])
        ]
        found[name] = Distribution(
            name, version, wheel, sdist, requires, table["build-system"]["requires"]
        )
        check_sdist_has_changelog(found[name], stem)
    return found


def check_sdist_has_changelog(distribution: Distribution, stem: str) -> None:
    """The sdist carries CHANGELOG.md, and it has an entry for the version being released."""
    with tarfile.open(distribution.sdist) as archive:
        try:
            member = archive.extractfile(f"{stem}/CHANGELOG.md")
        except KeyError:
            member = None
        if member is None:
            raise CheckFailed(f"{distribution.sdist.name} has no CHANGELOG.md")
        changelog = member.read().decode("utf-8")
    heading = re.compile(rf"^## \[?{re.escape(distribution.version)}\]?(\s|$)", re.MULTILINE)
    if not heading.search(changelog):
        raise CheckFailed(
            f"{distribution.name}'s CHANGELOG.md has no '## {distribution.version}' entry"
        )


def applies(requirement: Requirement, extras: list[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in ["", *extras])


def third_party_requirements(distributions: dict[str, Distribution]) -> list[str]:
    """What the index must hold besides the packages: their own requirements (with the extras
    installed here) and uv_build, which pip needs to build the sdists."""
    lines: set[str] = set()
    for distribution in distributions.values():
        extras = EXTRAS.get(distribution.name, [])
        for requirement in distribution.requires:
            if requirement.name not in distributions and applies(requirement, extras):
                bare = Requirement(str(requirement))
                bare.marker = None  # the extra's marker; the requirement itself stays
                lines.add(str(bare))
        lines.update(distribution.build_requires)
    return sorted(lines)


def pinned_siblings(name: str, distributions: dict[str, Distribution]) -> dict[str, str]:
    """The siblings installing `name` must bring, each at the version its dependent pins."""
    pins: dict[str, str] = {}
    pending = [name]
    while pending:
        for requirement in distributions[pending.pop()].requires:
            if requirement.name not in distributions or requirement.marker is not None:
                continue
            pinned = [spec.version for spec in requirement.specifier if spec.operator == "=="]
            if len(pinned) != 1:
                raise CheckFailed(f"{name}: {requirement} is not pinned with a single '=='")
            pins[requirement.name] = pinned[0]
            pending.append(requirement.name)
    return pins
