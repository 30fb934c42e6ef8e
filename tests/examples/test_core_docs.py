"""Every code block in docs/core.md is true: run, or a verbatim piece of a tested file.

A ``pycon`` block is a doctest session and a plain ``python`` block is executed; both run in
order in one namespace, as a reader would type them. A block after an
``<!-- excerpt: PATH -->`` line must be a verbatim piece of that file (tested elsewhere), and a
block after ``<!-- output: PATH -->`` must be exactly what running that file prints.
"""

from __future__ import annotations

import doctest
import io
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import pytest

ROOT: Final = Path(__file__).resolve().parents[2]
DOC: Final = ROOT / "docs" / "core.md"

_BLOCK: Final = re.compile(
    r"^(?:<!-- (?P<marker>excerpt|output): (?P<path>\S+) -->\n)?"
    r"```(?P<language>\w*)\n(?P<body>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)


@dataclass(frozen=True)
class Block:
    """One fenced code block of the page."""

    line: int
    language: str
    body: str
    marker: str | None
    path: str | None

    def __str__(self) -> str:
        return f"docs/core.md:{self.line} ({self.language})"


def blocks() -> list[Block]:
    text = DOC.read_text(encoding="utf-8")
    return [
        Block(
            text.count("\n", 0, match.start("body")) + 1,
            match["language"],
            match["body"],
            match["marker"],
            match["path"],
        )
        for match in _BLOCK.finditer(text)
    ]


BLOCKS: Final = blocks()


def test_the_page_has_blocks_of_every_kind() -> None:
    # The pattern must not silently find nothing (a renamed fence, a moved file).
    assert len(BLOCKS) == DOC.read_text(encoding="utf-8").count("\n```") // 2
    assert {block.marker for block in BLOCKS} == {None, "excerpt", "output"}


@pytest.mark.parametrize("block", BLOCKS, ids=str)
def test_every_block_is_run_or_names_the_tested_file_it_comes_from(block: Block) -> None:
    runnable = block.marker is None and block.language in ("pycon", "python")
    assert runnable or block.marker is not None, f"{block}: neither run nor an excerpt"


def test_the_sessions_and_code_run_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    # A real module holds the names, as an interpreter's __main__ would: pydantic looks up the
    # module of a class defined in a session.
    module = ModuleType("core_md")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    namespace: dict[str, Any] = module.__dict__
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report = io.StringIO()
    for block in BLOCKS:
        if block.marker is not None:
            continue
        if block.language == "pycon":
            test = parser.get_doctest(block.body, namespace, str(block), str(DOC), block.line - 1)
            # The session's names stay for the next blocks, as in one interpreter.
            test.globs = namespace
            runner.run(test, out=report.write, clear_globs=False)
        elif block.language == "python":
            exec(compile(block.body, str(block), "exec"), namespace)
    results = runner.summarize(verbose=False)
    assert results.attempted > 20
    assert results.failed == 0, report.getvalue()


EXCERPTS: Final = [block for block in BLOCKS if block.marker == "excerpt"]


@pytest.mark.parametrize("block", EXCERPTS, ids=str)
def test_each_excerpt_is_a_verbatim_piece_of_its_file(block: Block) -> None:
    assert block.path is not None
    source = (ROOT / block.path).read_text(encoding="utf-8")
    assert block.body.strip("\n") in source, f"{block} is not in {block.path} as written"


OUTPUTS: Final = [block for block in BLOCKS if block.marker == "output"]


@pytest.mark.parametrize("block", OUTPUTS, ids=str)
def test_each_output_is_what_the_file_prints(block: Block) -> None:
    assert block.path is not None
    run = subprocess.run(
        [sys.executable, str(ROOT / block.path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == block.body, run.stdout
