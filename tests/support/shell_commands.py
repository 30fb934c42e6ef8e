"""Checking the commands of the documents' ``sh`` and ``console`` blocks without running them.

Running them would start servers, benchmarks and uploads. What is checked instead is what goes
stale when the code moves on: each file a command names exists (a script, a test path, a
``module:app`` for uvicorn, with the app assigned in it), and each ``--long`` option is one
that the command's own ``--help`` lists. Commands this module does not know fail the check, so
a new kind of command is either taught here or its block marked ``not run`` with a reason.
"""

from __future__ import annotations

__all__ = ["Command", "command_problems", "commands"]

import ast
import functools
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from support.markdown import ROOT

if TYPE_CHECKING:
    from collections.abc import Callable

    from support.markdown import Block

_SEPARATORS: Final = frozenset({"&&", ";", "|", "||"})
# Shell builtins and coreutils whose use in the docs needs no checking.
_PLAIN: Final = frozenset({"rm", "export", "cd", "mkdir"})


@dataclass(frozen=True)
class Command:
    """One command of a block: where it is, and its words with the shell's quoting undone."""

    where: str
    words: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.where}: {shlex.join(self.words)}"


def commands(block: Block) -> list[Command]:
    """The commands of a shell block: every line of an ``sh`` block, the ``$`` lines of a
    ``console`` block; a line with ``&&`` or ``;`` holds several."""
    where = block.document.relative_to(ROOT)
    found: list[Command] = []
    for offset, line in enumerate(block.body.splitlines()):
        if block.language == "console":
            if not line.startswith("$ "):
                continue
            line = line[2:]  # noqa: PLW2901 (the prompt is not part of the command)
        words: list[str] = []
        for word in [*shlex.split(line, comments=True), ";"]:
            if word in _SEPARATORS:
                if words:
                    found.append(Command(f"{where}:{block.line + offset}", tuple(words)))
                words = []
            else:
                words.append(word)
    return found


@functools.cache
def _help(*command: str) -> str:
    run = subprocess.run(
        [*command, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, f"{shlex.join(command)} --help failed: {run.stderr}"
    return run.stdout


def _unknown_options(words: tuple[str, ...], *command: str) -> list[str]:
    listed = _help(*command)
    options = {word.split("=", 1)[0] for word in words if word.startswith("--")}
    return [
        f"{shlex.join(command)} has no option {option}"
        for option in sorted(options)
        if option not in listed
    ]


def _python(words: tuple[str, ...]) -> list[str]:
    if not words or words[0].startswith("-"):
        return ["give python a script of the repository to run"]
    script = ROOT / words[0]
    if not script.is_file():
        return [f"{words[0]} does not exist"]
    return _unknown_options(words[1:], sys.executable, str(script))


def _pytest(words: tuple[str, ...]) -> list[str]:
    paths = [word.split("::")[0] for word in words if not word.startswith("-") and "/" in word]
    missing = [f"{path} does not exist" for path in paths if not (ROOT / path).exists()]
    return missing + _unknown_options(words, sys.executable, "-m", "pytest")


def _uvicorn(words: tuple[str, ...]) -> list[str]:
    app_dir = words[words.index("--app-dir") + 1] if "--app-dir" in words else "."
    targets = [word for word in words if ":" in word and not word.startswith("-")]
    if len(targets) != 1:
        return ["name one app, as module:attribute"]
    module, attribute = targets[0].split(":")
    path = ROOT / app_dir / f"{module}.py"
    if not path.is_file():
        return [f"{path.relative_to(ROOT)} does not exist"]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assigned = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    problems = [] if attribute in assigned else [f"{path.name} assigns no {attribute}"]
    return problems + _unknown_options(words, sys.executable, "-m", "uvicorn")


def _apt_get(words: tuple[str, ...]) -> list[str]:
    # The packages CI installs are the ones the docs may tell a reader to install.
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    packages = [word for word in words[1:] if not word.startswith("-")]
    return [
        f"{package} is not a package .ci/run installs" for package in packages if package not in ci
    ]


def _subcommand(*tool: str) -> Callable[[tuple[str, ...]], list[str]]:
    def check(words: tuple[str, ...]) -> list[str]:
        if not words:
            return [f"{shlex.join(tool)} needs a subcommand"]
        return _unknown_options(words[1:], *tool, words[0])

    return check


# `uv run` names its uv in UV; the README's `python3 -m pip` is the interpreter that installed
# uv, which is the base of the environment's.
_UV: Final = (os.environ.get("UV") or shutil.which("uv") or "uv",)
_BASE_PYTHON: Final = getattr(sys, "_base_executable", sys.executable)
_TOOLS: Final[dict[str, Callable[[tuple[str, ...]], list[str]]]] = {
    "python": _python,
    "python3": _python,
    "pytest": _pytest,
    "uvicorn": _uvicorn,
    "apt-get": _apt_get,
    "pip": _subcommand(_BASE_PYTHON, "-m", "pip"),
    "twine": _subcommand(sys.executable, "-m", "twine"),
    "uv": _subcommand(*_UV),
}


def _strip(words: tuple[str, ...]) -> tuple[str, ...]:
    """The command itself: without environment assignments, ``python3 -m`` before pip and uv,
    and ``uv run`` before a tool of the environment."""
    while words and "=" in words[0] and not words[0].startswith("-"):
        words = words[1:]
    if words[:2] in (("python3", "-m"), ("python", "-m")) and len(words) > 2:
        words = words[2:]
    if words[:2] == ("uv", "run") and len(words) > 2:
        words = words[2:]
    return words


def command_problems(command: Command) -> list[str]:
    """What is stale or unknown in `command`, each naming where it is; empty when none is."""
    words = _strip(command.words)
    if not words:
        return [f"{command}: no command"]
    if words[0] in _PLAIN:
        return []
    check = _TOOLS.get(words[0])
    if check is None:
        return [f"{command}: an unknown command: teach support/shell_commands.py or mark the block"]
    return [f"{command}: {problem}" for problem in check(words[1:])]
