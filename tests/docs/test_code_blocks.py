"""Every code block of README.md, packages/*/README.md and docs/*.md is kept true.

Each block is run, a verbatim piece of a tested file, checked by a named test, a command
checked against the repository, parsed configuration, or marked as not run with a reason
(tests/support/markdown.py says which applies). A block with none of these fails, naming its
file and line; a document added later is walked too.
"""

from __future__ import annotations

import inspect
import json
import tomllib
from typing import TYPE_CHECKING, Final

import anyio
import pytest
from support.markdown import (
    DOCUMENTS,
    ROOT,
    Block,
    blocks,
    checked_by_problem,
    excerpt_problem,
    form,
    output_problem,
    run_document,
)
from support.shell_commands import command_problems, commands

if TYPE_CHECKING:
    from pathlib import Path

BLOCKS: Final = [block for document in DOCUMENTS for block in blocks(document)]


def of_form(*names: str) -> list[Block]:
    return [block for block in BLOCKS if form(block)[0] in names]


def test_every_readme_and_doc_is_walked() -> None:
    names = {document.relative_to(ROOT).as_posix() for document in DOCUMENTS}
    assert {"README.md", "docs/core.md", "docs/fastapi.md"} <= names
    assert {f"packages/{package.name}/README.md" for package in ROOT.glob("packages/*")} <= names
    # The pattern must not silently find nothing (a renamed fence, a moved file).
    assert len(BLOCKS) > 50


@pytest.mark.parametrize("block", BLOCKS, ids=str)
def test_every_block_is_kept_true_in_some_way(block: Block) -> None:
    kind, why = form(block)
    assert kind is not None, why


RUN: Final = sorted({block.document for block in BLOCKS if block.runs})


@pytest.mark.parametrize("document", RUN, ids=lambda path: str(path.relative_to(ROOT)))
def test_the_sessions_and_code_of_each_document_run_in_order(document: Path) -> None:
    with run_document(document) as session:
        assert session.failed == 0, session.report
        # A test a document shows (how to test an endpoint, say) must pass as shown.
        tests = [
            value
            for name, value in session.namespace.items()
            if name.startswith("test_") and inspect.isfunction(value)
        ]
        for test in tests:
            if inspect.iscoroutinefunction(test):
                anyio.run(test)
            else:
                test()


@pytest.mark.parametrize("block", of_form("excerpt"), ids=str)
def test_each_excerpt_is_a_verbatim_piece_of_a_tested_file(block: Block) -> None:
    problem = excerpt_problem(block)
    assert problem is None, problem


@pytest.mark.parametrize("block", of_form("output"), ids=str)
def test_each_output_is_what_its_file_prints(block: Block) -> None:
    problem = output_problem(block)
    assert problem is None, problem


@pytest.mark.parametrize(
    "block", [block for block in BLOCKS if block.marker == "checked by"], ids=str
)
def test_each_checked_block_names_a_test_that_reads_its_document(block: Block) -> None:
    problem = checked_by_problem(block)
    assert problem is None, problem


SHELL: Final = [
    block for block in BLOCKS if block.language in ("sh", "console") and block.marker != "not run"
]


@pytest.mark.parametrize("block", SHELL, ids=str)
def test_each_command_names_files_and_options_that_exist(block: Block) -> None:
    found = commands(block)
    assert found, f"{block}: no command in it"
    problems = [problem for command in found for problem in command_problems(command)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("block", of_form("config"), ids=str)
def test_each_configuration_block_parses(block: Block) -> None:
    if block.language == "toml":
        tomllib.loads(block.body)
        return
    body = block.body.strip()
    # A member shown alone ("key": value) is parsed as the one member of an object.
    json.loads("{" + body + "}" if body.startswith('"') else body)


@pytest.mark.parametrize("block", of_form("diff"), ids=str)
def test_each_diff_is_python_that_runs_on_both_sides(block: Block) -> None:
    lines = block.body.splitlines()
    for sign in "-+":
        side = "\n".join(line[1:] for line in lines if line.startswith(sign))
        assert side, f"{block}: no {sign} side"
        exec(compile(side, f"{block} ({sign})", "exec"), {})
