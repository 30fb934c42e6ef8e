"""The code blocks of the project's Markdown, and the ways each is kept true.

A fenced block is kept true in one of these ways, chosen by its language and by an optional
marker, an HTML comment on the line just above the fence (invisible once rendered):

- ``pycon``: a doctest session; ``python``: code executed. Both run in order in one namespace
  per document, as a reader would type them into one interpreter.
- ``<!-- excerpt: PATH -->``: a verbatim piece of PATH, a file the test suite exercises.
- ``<!-- output: PATH -->``: exactly what running ``python PATH`` prints.
- ``<!-- checked by: PATH -->``: PATH, a test module, reads this block from the document and
  checks it (the nginx configuration, a command's output, an app's endpoints). A ``python``
  block so marked still runs with its document.
- ``<!-- not run: REASON -->``: not checked, for the reason given.
- ``sh``/``console``: commands, checked by `support.shell_commands`; ``json``/``toml``:
  parsed; ``diff``: both sides are Python that runs.

`form` says which applies to a block, or why none does.
"""

from __future__ import annotations

__all__ = [
    "DOCUMENTS",
    "ROOT",
    "Block",
    "Session",
    "blocks",
    "checked_by_problem",
    "documents",
    "excerpt_problem",
    "form",
    "output_problem",
    "run_document",
]

import ast
import contextlib
import doctest
import io
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT: Final = Path(__file__).resolve().parents[2]

_BLOCK: Final = re.compile(
    r"^(?:<!-- (?P<marker>excerpt|output|checked by|not run): (?P<argument>.+?) -->\n)?"
    r"```(?P<language>\w*)\n(?P<body>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)
_MARKER: Final = re.compile(r"^<!-- (?:excerpt|output|checked by|not run): ", re.MULTILINE)
SHELLS: Final = frozenset({"sh", "console"})
CONFIGS: Final = frozenset({"json", "toml"})


def documents() -> list[Path]:
    """Every Markdown file whose blocks must be true: the READMEs and docs/, found afresh, so
    a document added later is covered without a change here."""
    found = [ROOT / "README.md", *ROOT.glob("packages/*/README.md"), *ROOT.glob("docs/*.md")]
    return sorted(found)


DOCUMENTS: Final = documents()


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it is, its language, its text and its marker."""

    document: Path
    line: int  # of the block's first line of text, 1-based
    language: str
    body: str
    marker: str | None
    argument: str | None

    @property
    def where(self) -> str:
        """``path:line``, relative to the repository."""
        return f"{self.document.relative_to(ROOT)}:{self.line}"

    def __str__(self) -> str:
        return f"{self.where} ({self.language or 'no language'})"

    @property
    def runs(self) -> bool:
        """Whether the block runs with its document (a session, or code)."""
        return self.language in ("pycon", "python") and self.marker in (None, "checked by")


def blocks(document: Path) -> list[Block]:
    """The fenced blocks of `document`, in order.

    Fences must start a line; a marker is refused anywhere but just above a fence, so a
    misplaced one cannot go unnoticed.
    """
    text = document.read_text(encoding="utf-8")
    found = [
        Block(
            document,
            text.count("\n", 0, match.start("body")) + 1,
            match["language"],
            match["body"],
            match["marker"],
            match["argument"],
        )
        for match in _BLOCK.finditer(text)
    ]
    fences = len(re.findall(r"^```", text, re.MULTILINE))
    assert fences == 2 * len(found), f"{document}: {fences} fences for {len(found)} blocks"
    markers = len(_MARKER.findall(text))
    placed = sum(block.marker is not None for block in found)
    assert markers == placed, f"{document}: a marker that is not just above a fence"
    return found


def _binds_app(body: str) -> bool:
    tree = ast.parse(body)
    return any(
        isinstance(target, ast.Name) and target.id == "app"
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
    )


def _console_output(body: str) -> list[str]:
    return [line for line in body.splitlines() if line.strip() and not line.startswith("$ ")]


def _marked_form(block: Block) -> tuple[str | None, str]:
    reason = block.argument or ""
    if block.marker == "not run" and len(reason.split()) < 3:
        return None, f"{block}: say why it is not run, in a few words"
    return block.marker, reason


def _language_form(block: Block) -> tuple[str | None, str]:
    if block.language == "python" and _binds_app(block.body) and block.marker != "checked by":
        return None, (
            f"{block}: an app, whose endpoints no test calls: make it an excerpt of a tested "
            "example, or name the test that calls them (<!-- checked by: PATH -->)"
        )
    if block.language == "console" and block.marker is None and _console_output(block.body):
        return None, f"{block}: shows output that no test checks (<!-- checked by: PATH -->)"
    forms = {
        "pycon": "session",
        "python": "code",
        "sh": "commands",
        "console": "commands",
        "json": "config",
        "toml": "config",
        "diff": "diff",
    }
    if block.language in forms:
        return forms[block.language], block.language
    if block.marker == "checked by":
        return "checked", f"checked by {block.argument}"
    return None, (
        f"{block}: nothing keeps it true: give it a runnable form or a marker (excerpt, output, "
        "checked by, not run) just above its fence"
    )


def form(block: Block) -> tuple[str | None, str]:
    """How `block` is kept true (``session``, ``code``, ``excerpt``, ``output``, ``checked``,
    ``commands``, ``config``, ``diff``, ``not run``), or None and what is missing.

    A ``checked by`` block keeps its language's form too (code still runs, commands are
    still checked): the marker adds a check, it does not replace one.
    """
    if block.marker in ("excerpt", "output", "not run"):
        return _marked_form(block)
    return _language_form(block)


@dataclass
class Session:
    """What running a document's sessions and code left: the names, and the doctests' tally."""

    namespace: dict[str, Any]
    attempted: int
    failed: int
    report: str


def _module_name(document: Path) -> str:
    relative = document.relative_to(ROOT).as_posix()
    return "documented_" + re.sub(r"\W", "_", relative).lower()


@contextlib.contextmanager
def run_document(document: Path, *, first: int | None = None) -> Iterator[Session]:
    """Run the ``pycon`` and ``python`` blocks of `document` in order, in one namespace (only
    the `first` of them, when given: a later block may rebind a name).

    A real module holds the names, registered while the block is open and removed after it:
    pydantic and FastAPI look names up in the module of a class or endpoint defined in a
    block, and a module left in ``sys.modules`` would change hypothesis's draws in later tests
    (see `support.examples.loaded_example`). Code raises where it fails, with the document's
    path and line in the traceback; sessions report their failures in `Session.report`.
    """
    module = ModuleType(_module_name(document))
    sys.modules[module.__name__] = module
    namespace: dict[str, Any] = module.__dict__
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report = io.StringIO()
    try:
        for block in [block for block in blocks(document) if block.runs][:first]:
            if block.language == "pycon":
                name = str(block)
                test = parser.get_doctest(
                    block.body, namespace, name, str(document), block.line - 1
                )
                # The session's names stay for the next blocks, as in one interpreter.
                test.globs = namespace
                runner.run(test, out=report.write, clear_globs=False)
            else:
                # Padded so that a traceback gives the line in the document.
                source = "\n" * (block.line - 1) + block.body
                exec(compile(source, str(document), "exec"), namespace)
        results = runner.summarize(verbose=False)
        yield Session(namespace, results.attempted, results.failed, report.getvalue())
    finally:
        sys.modules.pop(module.__name__, None)


def _tested(path: Path) -> bool:
    """Whether the suite exercises `path`: a file of tests/, or an example a test loads or
    names."""
    relative = path.relative_to(ROOT)
    if relative.parts[0] == "tests":
        return True
    if relative.parts[0] != "examples":
        return False
    names = (f'"{path.stem}"', relative.as_posix())
    return any(
        any(name in test.read_text(encoding="utf-8") for name in names)
        for test in (ROOT / "tests").rglob("test_*.py")
    )


def excerpt_problem(block: Block) -> str | None:
    """What is wrong with an excerpt block, or None: it must be a verbatim piece of a file
    the suite exercises."""
    assert block.argument is not None
    path = ROOT / block.argument
    if not path.is_file():
        return f"{block}: {block.argument} does not exist"
    if not _tested(path):
        return f"{block}: no test under tests/ loads or names {block.argument}"
    if block.body.strip("\n") not in path.read_text(encoding="utf-8"):
        return f"{block}: not in {block.argument} as written"
    return None


def output_problem(block: Block) -> str | None:
    """What is wrong with an output block, or None: it must be what its file prints."""
    assert block.argument is not None
    # Under the suite's hypothesis profile (tests/conftest.py): a busy machine must not abort
    # a property example with a health check. The profile changes no example drawn.
    script = (
        "from hypothesis import HealthCheck, settings\n"
        "settings.register_profile(\n"
        "    'docs', deadline=None, suppress_health_check=[HealthCheck.too_slow]\n"
        ")\n"
        "settings.load_profile('docs')\n"
        "import runpy, sys\n"
        "runpy.run_path(sys.argv[1], run_name='__main__')\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(ROOT / block.argument)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if run.returncode != 0:
        return f"{block}: {block.argument} failed: {run.stderr}"
    if run.stdout != block.body:
        return f"{block}: {block.argument} prints instead:\n{run.stdout}"
    return None


def checked_by_problem(block: Block) -> str | None:
    """What is wrong with a ``checked by`` marker, or None: it must name a test module that
    reads the block's document."""
    assert block.argument is not None
    path = ROOT / block.argument
    relative = block.document.relative_to(ROOT)
    if not (path.is_file() and path.relative_to(ROOT).parts[0] == "tests"):
        return f"{block}: {block.argument} is not a file under tests/"
    text = path.read_text(encoding="utf-8")
    names = {relative.as_posix()} if relative.name == "README.md" else {relative.name}
    if not any(name in text for name in names):
        return f"{block}: {block.argument} never reads {relative}"
    return None
