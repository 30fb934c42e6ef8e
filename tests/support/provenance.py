"""Which code a measurement ran: the benchmark and stress scripts print it with their figures.

`source_revision` names the git commit of the workspace and says when ``packages/`` had local
changes; `environment` adds Python, the libraries' versions and the machine;
`source_fingerprint` hashes the packages' source files, so that a script can warn when they
changed while it ran (its figures would then mix versions). Standard library only.
"""

from __future__ import annotations

__all__ = ["REPOSITORY", "environment", "source_fingerprint", "source_revision"]

import hashlib
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterable

REPOSITORY: Final = Path(__file__).resolve().parents[2]


def git(*args: str) -> str:
    """A read-only git command's output in the workspace (no optional locks: others may be
    committing); CalledProcessError or OSError if it fails."""
    return subprocess.run(
        ["git", "--no-optional-locks", "-C", str(REPOSITORY), *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def source_revision() -> str:
    """The git commit the packages were measured at, marked when they have local changes."""
    try:
        commit = git("rev-parse", "--short", "HEAD").strip()
        changed = git("status", "--porcelain", "--", "packages").strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}{' + local changes' if changed else ''}"


def source_fingerprint() -> str:
    """A hash of the packages' source files: compared before and after the runs."""
    digest = hashlib.sha256()
    for path in sorted(REPOSITORY.glob("packages/*/src/**/*.py")):
        digest.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def environment(distributions: Iterable[str]) -> dict[str, str]:
    """What figures were measured with: Python, the `distributions`' versions, the packages'
    revision, the machine."""
    info = {"python": f"{platform.python_implementation()} {platform.python_version()}"}
    for distribution in distributions:
        info[distribution] = importlib.metadata.version(distribution)
    info["packages at"] = source_revision()
    info["cpus"] = str(os.cpu_count())
    info["platform"] = platform.platform()
    return info
