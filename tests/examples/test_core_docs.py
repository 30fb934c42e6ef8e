"""docs/core.md: sse-core on its own, every block run or a verbatim piece of a tested file.

tests/docs/test_code_blocks.py keeps every block of every document true (sessions and code
run in order, excerpts verbatim, outputs what their file prints); this page is the one that
shows every kind of block, so these checks make sure it keeps doing so, and that its
sessions are the page's substance rather than a token.
"""

from __future__ import annotations

from typing import Final

from support.markdown import ROOT, blocks, form, run_document

DOC: Final = ROOT / "docs" / "core.md"
BLOCKS: Final = blocks(DOC)


def test_the_page_has_blocks_of_every_kind() -> None:
    assert {block.marker for block in BLOCKS} == {None, "excerpt", "output"}
    assert {form(block)[0] for block in BLOCKS} >= {"session", "excerpt", "output"}


def test_every_block_is_run_or_names_the_tested_file_it_comes_from() -> None:
    for block in BLOCKS:
        assert block.runs or block.marker in ("excerpt", "output"), f"{block}: neither"


def test_the_sessions_run_in_order_and_are_many() -> None:
    with run_document(DOC) as session:
        assert session.attempted > 20
        assert session.failed == 0, session.report
