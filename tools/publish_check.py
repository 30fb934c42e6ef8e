"""Publish the built wheels and sdists to a local index, then install each package from it alone.

Usage (after ``uv build --all-packages --no-sources --out-dir dist``)::

    uv run --locked python tools/publish_check.py dist

What a user of a real index would do, on loopback. The packages as built, with their changelogs
and pins, are read first (tools/built_distributions.py); pypiserver (tools/local_index.py) serves
a fresh folder holding only their third-party dependencies, downloaded from PyPI first;
twine uploads the four wheels and sdists with a password (an upload with a wrong one must be
refused); then, in fresh virtual environments, pip installs each distribution *by name* with
``--index-url`` pointing at that index and nowhere else, and its ``--report`` must show:

- each sibling the package depends on (sse-fastapi-binding: sse-starlette-binding and, through
  it, sse-core) installed at exactly the version it pins, from that index, with the sha256 of
  the file built here; no other sibling;
- every other distribution from that index too.

One more environment installs all four from their sdists (pip builds them with uv_build, also
fetched from the index). Then tools/installed_smoke.py streams a few events in each
environment and must import the packages from that environment's site-packages.
Exits non-zero, with the reason, on the first mismatch; the server is stopped by pid in any case.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from built_distributions import (
    EXTRAS,
    CheckFailed,
    Distribution,
    pinned_siblings,
    sha256,
    third_party_requirements,
    workspace_distributions,
)
from local_index import PYPISERVER, USER, LocalIndex
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

SMOKE = Path(__file__).resolve().with_name("installed_smoke.py")


def uv() -> list[str]:
    """The uv that runs this script (``uv run`` says where), else the one on PATH."""
    found = os.environ.get("UV") or shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def run(command: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    """Run `command`, return its stdout; a failure raises CheckFailed with its output."""
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=cwd, timeout=600, check=False
    )
    if result.returncode != 0:
        raise CheckFailed(
            f"{' '.join(command)} exited with {result.returncode}:\n{result.stdout}{result.stderr}"
        )
    return result.stdout


def isolated_env(drop: str) -> dict[str, str]:
    """This environment without any variable starting with `drop` (a pip or twine setting
    there, such as PIP_EXTRA_INDEX_URL, would bring another index or credentials in)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(drop)}
    if drop == "PIP_":
        env |= {
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_NO_INPUT": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }
    return env


@dataclass
class Install:
    """One fresh environment: what is installed into it by name, and what the smoke runs."""

    label: str
    requirements: list[str]
    smoke: list[str]
    from_sdists: bool = False


def check_report(
    report: dict[str, object],
    install: Install,
    index: LocalIndex,
    distributions: dict[str, Distribution],
) -> list[str]:
    """Check pip's install report; return 'name==version' for each distribution installed."""
    entries = report["install"]
    assert isinstance(entries, list)
    installed: dict[str, tuple[str, str, str]] = {}
    for entry in entries:
        name = canonicalize_name(entry["metadata"]["name"])
        info = entry["download_info"]
        hashes = info.get("archive_info", {}).get("hashes", {})
        installed[name] = (entry["metadata"]["version"], info["url"], hashes.get("sha256", ""))
        if not info["url"].startswith(index.url):
            raise CheckFailed(f"{install.label}: {name} came from {info['url']}, not {index.url}")
    expected: dict[str, str] = {}
    for line in install.requirements:
        requested = canonicalize_name(Requirement(line).name)
        expected[requested] = distributions[requested].version
        expected |= pinned_siblings(requested, distributions)
    siblings = {name for name in installed if name in distributions}
    if siblings != set(expected):
        raise CheckFailed(f"{install.label}: installed {sorted(siblings)}, expected {expected}")
    for sibling, version in expected.items():
        built = distributions[sibling]
        if version != built.version:
            raise CheckFailed(f"{sibling} is pinned at {version} but built at {built.version}")
        got_version, url, digest = installed[sibling]
        artifact = built.sdist if install.from_sdists else built.wheel
        if got_version != version or not url.endswith(f"/{artifact.name}"):
            raise CheckFailed(
                f"{install.label}: got {sibling} {got_version} from {url}, expected {artifact.name}"
            )
        if digest != sha256(artifact):
            raise CheckFailed(f"{install.label}: {url} is not the {artifact.name} built here")
    return [f"{name}=={installed[name][0]}" for name in sorted(installed)]


def install_and_smoke(
    install: Install,
    index: LocalIndex,
    distributions: dict[str, Distribution],
    tools_python: Path,
    scratch: Path,
) -> None:
    venv = scratch / f"venv-{install.label}"
    run([*uv(), "venv", "--quiet", "--python", sys.executable, str(venv)])
    python, report_path = venv / "bin" / "python", scratch / f"report-{install.label}.json"
    command = [
        str(tools_python),
        "-m",
        "pip",
        "--python",
        str(python),
        "install",
        "--quiet",
        "--no-cache-dir",
        "--index-url",
        index.simple_url,
        "--report",
        str(report_path),
    ]
    if install.from_sdists:
        command += ["--no-binary", ",".join(distributions)]
    run([*command, *install.requirements], env=isolated_env("PIP_"))
    report = json.loads(report_path.read_text())
    installed = check_report(report, install, index, distributions)
    print(
        f"  {install.label}: pip install {' '.join(install.requirements)} -> "
        + ", ".join(installed)
    )
    output = run([str(python), str(SMOKE), *install.smoke], cwd=scratch)
    for line in output.splitlines():
        imported_from = line.rpartition("(")[2].rstrip(")")
        if not Path(imported_from).is_relative_to(venv):
            raise CheckFailed(f"{install.label}: the smoke imported {imported_from}, not {venv}")
        print(f"    {line}")


def publish_check(dist: Path, scratch: Path) -> None:
    distributions = workspace_distributions(dist)
    print(
        "building an index on loopback for:",
        ", ".join(f"{d.name} {d.version}" for d in distributions.values()),
    )

    tools, packages = scratch / "index-venv", scratch / "packages"
    packages.mkdir()
    run([*uv(), "venv", "--quiet", "--python", sys.executable, str(tools)])
    tools_python = tools / "bin" / "python"
    run([*uv(), "pip", "install", "--quiet", "--python", str(tools_python), PYPISERVER, "pip"])

    requirements = scratch / "third-party.txt"
    requirements.write_text("\n".join(third_party_requirements(distributions)) + "\n")
    # Wheels only: an sdist there would need its own build backend on the index too.
    run(
        [
            str(tools_python),
            "-m",
            "pip",
            "download",
            "--quiet",
            "--only-binary",
            ":all:",
            "--dest",
            str(packages),
            "-r",
            str(requirements),
        ]
    )
    print(f"third-party distributions on the index: {len(list(packages.iterdir()))}")

    with LocalIndex(tools_python, packages, scratch) as index:
        print(f"pypiserver serving {index.simple_url} (pid in its own session; log {index.log})")
        upload = [
            sys.executable,
            "-m",
            "twine",
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            "--repository-url",
            index.url,
            "--username",
            USER,
        ]
        files = [str(path) for d in distributions.values() for path in (d.wheel, d.sdist)]
        twine_env = isolated_env("TWINE_")
        refused = subprocess.run(
            [*upload, "--password", "not-the-password", files[0]],
            capture_output=True,
            text=True,
            env=twine_env,
            timeout=120,
            check=False,
        )
        if refused.returncode == 0:
            raise CheckFailed("the index accepted an upload with a wrong password")
        run([*upload, "--password", index.password, *files], env=twine_env)
        for d in distributions.values():
            listed = index.files(d.name)
            if listed != sorted([d.wheel.name, d.sdist.name]):
                raise CheckFailed(f"the index lists {listed} for {d.name}")
        print(f"twine uploaded {len(files)} files (a wrong password was refused)")

        names = list(distributions)
        installs = [
            Install(name, [f"{name}[{','.join(EXTRAS[name])}]" if name in EXTRAS else name], [name])
            for name in names
        ]
        installs.append(Install("from-sdists", names, ["all"], from_sdists=True))
        for install in installs:
            install_and_smoke(install, index, distributions, tools_python, scratch)
    print("publish check passed: every package installs by name from the local index alone")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument(
        "dist", type=Path, help="the folder uv build wrote the wheels and sdists to"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (printed)")
    args = parser.parse_args(argv)

    def terminated(signum: int, frame: object) -> NoReturn:
        # So that a CI timeout's SIGTERM still stops the server on the way out.
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminated)
    scratch = Path(tempfile.mkdtemp(prefix="publish-check-"))
    try:
        publish_check(args.dist.resolve(), scratch)
    except CheckFailed as failure:
        print(f"error: {failure}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"scratch kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
